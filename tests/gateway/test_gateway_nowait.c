/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway thread never waits for the workers (issue 14's "nowait"): the
 * real gateway (control/gateway) in process, proxy mode, a table of 70,000
 * sessions, EAL with --no-huge over net_ring ports; its two workers go
 * online and then stall (never polled: a long burst without a quiescent
 * report). 70,000 sessions are installed as completed handshakes would
 * install them, then all but one end, past the nominal 65,536 deferred frees
 * of the session table and of proxy mode's identities; the last one
 * re-handshakes under another identity (a replace: its old keys and its old
 * identity wait too). Checks: no call takes long (a wait for a grace period
 * would never return here), nothing is refused for the workers, the frees
 * past the nominal queues are counted (sessions.reclaim_deferred,
 * detach_deferred), a new device is refused as a full table (the slots
 * wait), cleanly counted; once the workers poll, one gateway poll frees
 * everything and a new device installs again.
 * The gateway's internals are read through gw_priv.h (white box).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stormgate/dtls.h>
#include <stormgate/record.h>
#include <stormgate/session.h>
#include <stormgate/time.h>

#include "eal_test.h"
#include "gw_priv.h"

#define N_WORKERS   2
#define RING_SIZE   256
#define N_SESS      70000u /* past the nominal 65536 deferred frees */
#define NOMINAL     65536u
#define CALL_MAX_NS (200ull * 1000 * 1000) /* generous on a loaded machine; a wait is forever */

static const uint8_t GW4[4] = { 198, 18, 1, 1 };

static const char CONFIG[] = "workers: {count: 2}\n"
                             "mbufs: {count: 1023, cache: 0}\n"
                             "ports:\n"
                             "  - {name: dev0, role: device, devargs: %s,\n"
                             "     addresses: [198.18.1.1/24]}\n"
                             "  - {name: app0, role: backend, devargs: %s,\n"
                             "     addresses: [198.18.2.1/24]}\n"
                             "sessions: {capacity: 70000}\n"
                             "backend: {mode: proxy, servers: ['198.18.2.2:5683']}\n"
                             /* sessions inserted straight into the table: no store */
                             "store: {enabled: false}\n";

static struct env {
	struct rte_mempool *pool;
	struct rte_ring *dev_rx[N_WORKERS], *dev_tx[N_WORKERS];
	struct rte_ring *be_rx[N_WORKERS], *be_tx[N_WORKERS];
	struct sg_gateway *gw;
	struct sg_rec_sa *sa; /* the keys every test session gets (their values do not matter) */
	unsigned window;
} E;

static struct sg_gw_counters counters(void)
{
	struct sg_gw_counters c;

	sg_gateway_counters(E.gw, &c);
	return c;
}

static int config(int dev, int be, struct sg_config *cfg)
{
	char dn[RTE_ETH_NAME_MAX_LEN], bn[RTE_ETH_NAME_MAX_LEN], text[1024];
	struct sg_cfg_errors errs = { 0 };
	int rc, n;

	if (dev < 0 || be < 0 || rte_eth_dev_get_name_by_port((uint16_t)dev, dn) != 0 ||
	    rte_eth_dev_get_name_by_port((uint16_t)be, bn) != 0)
		return -1;
	n = snprintf(text, sizeof(text), CONFIG, dn, bn);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -1;
	rc = sg_config_parse(cfg, "test", text, (size_t)n, &errs);
	for (unsigned i = 0; rc != 0 && i < errs.n_lines; i++)
		fprintf(stderr, "# %s\n", errs.lines[i]);
	sg_cfg_errors_free(&errs);
	return rc;
}

static int setup(void **state)
{
	struct sg_config cfg;
	struct sg_gateway_info info = { 0 };
	struct sg_rec_sa_params p = { .aead = SG_AEAD_AES_128_GCM, .epoch = 1 };
	static const uint8_t key[16] = { 0x53, 0x47 }, iv[4] = { 1, 2, 3, 4 };
	int dev, be;

	(void)state;
	if (eal_test_init_lcores("gwnowait", 1 + N_WORKERS, 256, 0, NULL) < 0)
		return -1;
	E.pool = rte_pktmbuf_pool_create("gwnw_dev", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
	                                 (int)rte_socket_id());
	if (E.pool == NULL)
		return -1;
	dev = eal_test_ring_port("gwnwdev", N_WORKERS, RING_SIZE, E.dev_rx, E.dev_tx, E.pool);
	be = eal_test_ring_port("gwnwbe", N_WORKERS, RING_SIZE, E.be_rx, E.be_tx, E.pool);
	if (config(dev, be, &cfg) != 0)
		return -1;
	E.gw = sg_gateway_create(&cfg, &info);
	if (E.gw == NULL)
		return -1;
	E.window = sg_sess_replay_window(E.gw->ports.sessions);
	E.sa = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size(E.window));
	if (E.sa == NULL)
		return -1;
	p.rx_key = key;
	p.tx_key = key;
	p.rx_iv = iv;
	p.tx_iv = iv;
	sg_rec_sa_init(E.sa, E.window, &p);
	sg_gateway_poll(E.gw);
	return 0;
}

static void drain_ring(struct rte_ring *r)
{
	struct rte_mbuf *m;

	while (r != NULL && rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned q = 0; q < N_WORKERS; q++) {
		drain_ring(E.dev_tx[q]);
		drain_ring(E.be_tx[q]);
	}
	sg_gateway_destroy(E.gw);
	if (E.sa != NULL)
		sg_rec_sa_wipe(E.sa, E.window);
	free(E.sa);
	rte_mempool_free(E.pool);
	eal_test_fini();
	return 0;
}

/* Device i as the fleet numbers them: 198.19.0.0 + i / 16, port 10000 + i % 16, fleet-<i>. */
static void device(uint32_t i, const char *identity, struct sg_hs_result *res)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	struct sg_hs_peer *p = &res->peer;

	memset(res, 0, sizeof(*res));
	memcpy(p->laddr, mapped, 12);
	memcpy(p->laddr + 12, GW4, 4);
	memcpy(p->paddr, mapped, 12);
	p->paddr[12] = 198;
	p->paddr[13] = 19;
	p->paddr[14] = (uint8_t)(i / 16 >> 8);
	p->paddr[15] = (uint8_t)(i / 16);
	p->lport = htons(5684);
	p->pport = htons((uint16_t)(10000 + i % 16));
	res->sa = E.sa;
	res->suite = SG_TLS_PSK_WITH_AES_128_GCM_SHA256;
	res->expires = (uint64_t)time(NULL) + 3600;
	if (identity != NULL)
		res->identity_len = (uint16_t)snprintf((char *)res->identity, sizeof(res->identity),
		                                       "%s", identity);
	else
		res->identity_len = (uint16_t)snprintf((char *)res->identity, sizeof(res->identity),
		                                       "fleet-%08u", i);
}

/* Install device i as a completed handshake would; its session id in *id. */
static int install(uint32_t i, const char *identity, uint64_t *id)
{
	struct sg_hs_result res;
	struct sg_sess_tuple t;
	int rc;

	device(i, identity, &res);
	rc = gw_hs_install(E.gw, &res, i % N_WORKERS);
	memcpy(&t, &res.peer, sizeof(t)); /* the same fields, the same order */
	if (rc == 0)
		assert_int_equal(sg_sess_find_tuple(E.gw->ports.sessions, &t, id), 0);
	return rc;
}

static uint64_t slowest;

static void timed(uint64_t t0)
{
	uint64_t d = sg_mono_ns() - t0;

	if (d > slowest)
		slowest = d;
}

static void test_storm_with_stalled_workers(void **state)
{
	uint64_t *ids = calloc(N_SESS, sizeof(*ids));
	struct sg_gw_counters c0, c;
	uint64_t t0, id;

	(void)state;
	assert_non_null(ids);
	for (uint32_t i = 0; i < N_SESS; i++)
		assert_int_equal(install(i, NULL, &ids[i]), 0);
	/* Both workers enter a read-side section and stall there. */
	for (unsigned w = 0; w < N_WORKERS; w++)
		sg_dp_worker_online(E.gw->ports.dp, w);
	c0 = counters();
	assert_int_equal(c0.sessions.live, N_SESS);
	slowest = 0;
	for (uint32_t i = 1; i < N_SESS; i++) {
		t0 = sg_mono_ns();
		assert_int_equal(gw_sess_end(E.gw, ids[i], GW_END_DEVICE, NULL), 0);
		timed(t0);
	}
	/* Device 0 handshakes again under another identity: its old keys and identity wait. */
	t0 = sg_mono_ns();
	assert_int_equal(install(0, "fleet-renamed", &id), 0);
	timed(t0);
	assert_int_equal(id, ids[0]);
	/* A new device: every other slot waits for the workers, so the table is full. */
	t0 = sg_mono_ns();
	assert_int_equal(install(N_SESS, NULL, &id), -ENOSPC);
	timed(t0);
	for (unsigned k = 0; k < 3; k++) {
		t0 = sg_mono_ns();
		sg_gateway_poll(E.gw);
		timed(t0);
	}
	assert_true(slowest < CALL_MAX_NS);

	c = counters();
	assert_int_equal(c.ended_by_device, c0.ended_by_device + N_SESS - 1);
	assert_int_equal(c.sessions.live, 1);
	assert_int_equal(c.replaced, c0.replaced + 1);
	assert_int_equal(c.install_failed, c0.install_failed + 1);
	assert_int_equal(c.sessions.refused[SG_SESS_REFUSE_DEFER_FULL], 0);
	/* Device 0's insert (then its replace in place) and the new device's. */
	assert_int_equal(c.sessions.refused[SG_SESS_REFUSE_FULL], 2);
	/* N - 1 deletes and the replaced keys; N - 1 ends and the replaced identity. */
	assert_int_equal(c.sessions.deferred, N_SESS);
	assert_int_equal(c.sessions.reclaim_deferred, N_SESS - NOMINAL);
	assert_int_equal(c.detach_deferred, N_SESS - NOMINAL);

	/* The workers report: one gateway poll frees everything. */
	for (unsigned w = 0; w < N_WORKERS; w++)
		sg_dp_worker_poll(E.gw->ports.dp, w);
	sg_gateway_poll(E.gw);
	c = counters();
	assert_int_equal(c.sessions.deferred, 0);
	assert_int_equal(c.sessions.reclaimed, c0.sessions.reclaimed + N_SESS);
	assert_int_equal(c.sessions.sa_in_use, 1);
	assert_int_equal(install(N_SESS, NULL, &id), 0);
	assert_int_equal(counters().sessions.live, 2);
	for (unsigned w = 0; w < N_WORKERS; w++)
		sg_dp_worker_offline(E.gw->ports.dp, w);
	free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storm_with_stalled_workers),
	};

	return cmocka_run_group_tests_name("gateway_nowait", tests, setup, teardown);
}
