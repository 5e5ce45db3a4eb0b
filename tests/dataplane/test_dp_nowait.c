/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy mode's backend identities never make the control thread wait for
 * the workers (issue 14's "nowait"): the data plane in process over two
 * net_ring ports, its one worker online but never polled (a stalled worker:
 * a read-side section without a quiescent report). Sessions of a 20,000-slot
 * table are attached and detached, each slot many times over, past the
 * nominal 65536 identities waiting for a grace period. Checks: every detach
 * returns promptly (a wait would never return while the worker stalls), the
 * ones past 65536 are counted, the queue stops at its bound (four per slot)
 * where a detach is refused before anything changed: the identity stays
 * attached (a new attach of the slot is refused too) and nothing is freed
 * early; once the worker polls, every identity is freed in one pass and the
 * refused detach goes through. Under ASan nothing leaks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stormgate/dataplane.h>
#include <stormgate/proxy_v2.h>
#include <stormgate/session.h>
#include <stormgate/time.h>

#include "dp_net.h"
#include "eal_test.h"

#define POOL_SIZE   255
#define RING_SIZE   64
#define CAPACITY    20000u                 /* slots: the identity queue's bound is 4 per slot */
#define NOMINAL     65536u                 /* identities waiting before the queue grows */
#define BOUND       (4u * CAPACITY)        /* 80,000 */
#define CALL_MAX_NS (200ull * 1000 * 1000) /* generous on a loaded machine; a wait is forever */

static struct env {
	struct rte_mempool *pool;
	struct rte_ring *dev_rx[1], *dev_tx[1], *be_rx[1], *be_tx[1];
	uint16_t dev_port, be_port;
	struct sg_sess_table *tab;
	struct sg_dp *dp;
} E;

static uint16_t ring_port(const char *name, struct rte_ring **rx, struct rte_ring **tx)
{
	int port = eal_test_ring_port(name, 1, RING_SIZE, rx, tx, E.pool);

	assert_true(port >= 0);
	assert_int_equal(rte_eth_dev_start((uint16_t)port), 0);
	return (uint16_t)port;
}

static int setup(void **state)
{
	struct sg_sess_params sp = { .capacity = CAPACITY,
		                     .max_threads = 1,
		                     .flags = SG_SESS_P_LAZY };
	struct sg_dp_conf c = { 0 };

	(void)state;
	if (eal_test_init("sgnowait", 64, 0, NULL) < 0)
		return -1;
	E.pool = rte_pktmbuf_pool_create("sgnw", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (E.pool == NULL)
		return -1;
	E.dev_port = ring_port("nwdev", E.dev_rx, E.dev_tx);
	E.be_port = ring_port("nwbe", E.be_rx, E.be_tx);
	E.tab = sg_sess_table_create(&sp);
	if (E.tab == NULL)
		return -1;
	c.n_workers = 1;
	c.n_ports = 2;
	dp_test_port(&c.ports[0], E.dev_port, SG_DP_ROLE_DEVICE, GW_MAC, GW4, NULL, 24);
	dp_test_port(&c.ports[1], E.be_port, SG_DP_ROLE_BACKEND, GW_MAC, GWB4, NULL, 24);
	c.dtls_port = DTLS_PORT;
	dp_test_backend(&c, SG_DP_BACKEND_PROXY, BE4, GWB4, 1);
	c.sessions = E.tab;
	c.pool = E.pool;
	E.dp = sg_dp_create(&c);
	return E.dp != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	eal_test_ring_port_drain(E.dev_tx, 1);
	eal_test_ring_port_drain(E.be_tx, 1);
	sg_dp_destroy(E.dp);
	assert_int_equal(rte_mempool_avail_count(E.pool), POOL_SIZE);
	sg_sess_table_destroy(E.tab);
	eal_test_ring_port_close(E.dev_port, 1, E.dev_rx, E.dev_tx);
	eal_test_ring_port_close(E.be_port, 1, E.be_rx, E.be_tx);
	rte_mempool_free(E.pool);
	eal_test_fini();
	return 0;
}

/* Session n: slot n % CAPACITY, a generation of its own (never 0). */
static uint64_t session(uint32_t n)
{
	return (uint64_t)(1 + n / CAPACITY) << 32 | n % CAPACITY;
}

static int attach(uint32_t n)
{
	uint8_t token[SG_PP2_TOKEN_LEN] = { 0x53, 0x47 };
	char ident[32];

	memcpy(token + 2, &n, sizeof(n));
	snprintf(ident, sizeof(ident), "device-%u", n);
	return sg_dp_session_attach(E.dp, session(n), (const uint8_t *)ident,
	                            (uint8_t)strlen(ident), token);
}

static void test_detach_stalled_worker(void **state)
{
	uint64_t slowest = 0;

	(void)state;
	/* The worker enters a read-side section and stalls there. */
	sg_dp_worker_online(E.dp, 0);
	for (uint32_t n = 0; n < BOUND; n++) {
		uint64_t t0;
		int rc;

		assert_int_equal(attach(n), 0);
		t0 = sg_mono_ns();
		rc = sg_dp_session_detach(E.dp, session(n));
		if (sg_mono_ns() - t0 > slowest)
			slowest = sg_mono_ns() - t0;
		assert_int_equal(rc, 0);
	}
	assert_true(slowest < CALL_MAX_NS);
	assert_int_equal(sg_dp_ctl_detach_deferred(E.dp), BOUND - NOMINAL);
	/* Nothing is due while the worker stalls. */
	assert_int_equal(sg_dp_ctl_reclaim(E.dp), 0);

	/* At the bound: refused before anything changed, the identity still attached. */
	assert_int_equal(attach(BOUND), 0);
	assert_int_equal(sg_dp_session_detach(E.dp, session(BOUND)), -ENOSPC);
	assert_int_equal(attach(BOUND + CAPACITY), -ENOSPC);
	assert_int_equal(sg_dp_ctl_detach_deferred(E.dp), BOUND - NOMINAL);

	/* The worker reports: every identity goes in one pass; the refused detach now passes. */
	sg_dp_worker_poll(E.dp, 0);
	assert_int_equal(sg_dp_ctl_reclaim(E.dp), BOUND);
	assert_int_equal(sg_dp_session_detach(E.dp, session(BOUND)), 0);
	assert_int_equal(sg_dp_session_detach(E.dp, session(BOUND)), -ENOENT);
	sg_dp_worker_poll(E.dp, 0);
	assert_int_equal(sg_dp_ctl_reclaim(E.dp), 1);
	/* Below the nominal queue again: not counted. */
	assert_int_equal(attach(BOUND + 1), 0);
	assert_int_equal(sg_dp_session_detach(E.dp, session(BOUND + 1)), 0);
	assert_int_equal(sg_dp_ctl_detach_deferred(E.dp), BOUND - NOMINAL);
	sg_dp_worker_offline(E.dp, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detach_stalled_worker),
	};

	return cmocka_run_group_tests_name("dp_nowait", tests, setup, teardown);
}
