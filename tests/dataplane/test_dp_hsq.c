/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake queues and per-thread control TX of the data plane (issue 16,
 * docs/hsplane.md): the data plane in process over two net_ring ports, its
 * one worker polled by the test thread, four handshake queues. Checks, as a
 * table of clients: every datagram of one client (a ClientHello, its
 * retransmissions, an application record of no session, IPv4 and IPv6)
 * lands on the queue sg_dp_hs_queue_of() names for its address and port,
 * always the same; 256 clients spread over every queue; other punts (ARP)
 * stay on the punt ring; a full queue is a counted drop (hs_queue_full, per
 * queue and in the worker's drops), never a wait, and the outcome invariant
 * holds. A control-TX handle sends through worker 0 like the control
 * thread's own sending, with its own counters summed into
 * sg_dp_ctl_counters(), and its backlog freed with it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stormgate/dataplane.h>
#include <stormgate/dtls.h>
#include <stormgate/session.h>

#include "dp_frames.h"
#include "dp_net.h"
#include "eal_test.h"

#define POOL_SIZE 2047
#define RING_SIZE 1024
#define N_QUEUES  4
#define Q_SIZE    64 /* punt_ring_size: each handshake queue holds this many (less one) */

static const uint8_t GW6[16] = { 0xfd, 0x00, 0x53, 0x47, [15] = 1 };

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
	struct sg_sess_params sp = { .capacity = 1024, .max_threads = 1 };
	struct sg_dp_conf c = { 0 };

	(void)state;
	if (eal_test_init("sghsq", 128, 0, NULL) < 0)
		return -1;
	E.pool = rte_pktmbuf_pool_create("sghsq", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (E.pool == NULL)
		return -1;
	E.dev_port = ring_port("hsqdev", E.dev_rx, E.dev_tx);
	E.be_port = ring_port("hsqbe", E.be_rx, E.be_tx);
	E.tab = sg_sess_table_create(&sp);
	if (E.tab == NULL)
		return -1;
	c.n_workers = 1;
	c.n_ports = 2;
	dp_test_port(&c.ports[0], E.dev_port, SG_DP_ROLE_DEVICE, GW_MAC, GW4, GW6, 24);
	dp_test_port(&c.ports[1], E.be_port, SG_DP_ROLE_BACKEND, GW_MAC, GWB4, NULL, 24);
	c.dtls_port = DTLS_PORT;
	dp_test_backend(&c, SG_DP_BACKEND_UDP, BE4, GWB4, 1024);
	c.sessions = E.tab;
	c.pool = E.pool;
	c.punt_ring_size = Q_SIZE;
	c.n_hs_queues = N_QUEUES;
	E.dp = sg_dp_create(&c);
	if (E.dp == NULL)
		return -1;
	sg_dp_worker_online(E.dp, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sg_dp_worker_offline(E.dp, 0);
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

/* A client: its address (family 4 or 6) and port. */
struct client {
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
};

static void client_v4(struct client *c, unsigned i)
{
	uint8_t a[4] = { 198, 18, (uint8_t)(1 + i / 250), (uint8_t)(2 + i % 250) };

	memset(c, 0, sizeof(*c));
	c->family = 4;
	memcpy(c->addr, a, 4);
	c->port = (uint16_t)(40000 + i);
}

/* The client as sg_dp_hs_queue_of() takes it: IPv4-mapped, port in network order. */
static unsigned queue_of(const struct client *c)
{
	uint8_t a[16] = { [10] = 0xff, [11] = 0xff };

	if (c->family == 4)
		memcpy(a + 12, c->addr, 4);
	else
		memcpy(a, c->addr, 16);
	return sg_dp_hs_queue_of(E.dp, a, htons(c->port));
}

/* A record header of type ct, epoch epoch, with len bytes of body (zeros). */
static uint16_t record(uint8_t *buf, uint8_t ct, uint16_t epoch, uint16_t len)
{
	memset(buf, 0, SG_DTLS_HDR_LEN + len);
	buf[0] = ct;
	buf[1] = 0xfe;
	buf[2] = 0xfd;
	buf[3] = (uint8_t)(epoch >> 8);
	buf[4] = (uint8_t)epoch;
	buf[11] = (uint8_t)(len >> 8);
	buf[12] = (uint8_t)len;
	if (ct == SG_DTLS_CT_HANDSHAKE)
		buf[13] = 1; /* client_hello */
	return (uint16_t)(SG_DTLS_HDR_LEN + len);
}

/* One datagram of c through the worker. */
static void send_from(const struct client *c, const uint8_t *pl, uint16_t len)
{
	const uint8_t *gw = c->family == 4 ? GW4 : GW6;
	struct rte_mbuf *m = dp_frame_udp(E.pool, DEV_MAC, GW_MAC, c->family, c->addr, c->port, gw,
	                                  DTLS_PORT, pl, len);

	assert_non_null(m);
	assert_int_equal(rte_ring_enqueue(E.dev_rx[0], m), 0);
	sg_dp_worker_poll(E.dp, 0);
}

/* Take everything on queue q: how many, each checked to come from a client of queue q. */
static unsigned drain_queue(unsigned q, const struct client *want)
{
	struct rte_mbuf *m[32];
	unsigned n, total = 0;

	while ((n = sg_dp_hs_dequeue(E.dp, q, m, RTE_DIM(m))) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct dp_frame f;

			assert_int_equal(dp_frame_read(m[i], &f), 0);
			if (want != NULL) {
				assert_int_equal(f.family, want->family);
				assert_memory_equal(f.src, want->addr, want->family == 4 ? 4 : 16);
				assert_int_equal(f.sport, want->port);
			}
			rte_pktmbuf_free(m[i]);
		}
		total += n;
	}
	return total;
}

static unsigned punt_ring_count(void)
{
	struct rte_mbuf *m[32];
	unsigned n, total = 0;

	while ((n = sg_dp_punt_dequeue(E.dp, m, RTE_DIM(m))) > 0) {
		for (unsigned i = 0; i < n; i++)
			rte_pktmbuf_free(m[i]);
		total += n;
	}
	return total;
}

/* Every datagram of a client reaches its one queue: hello, retransmissions, a record. */
static void test_same_client_same_queue(void **state)
{
	static const struct {
		const char *what;
		uint8_t family;
		uint8_t ct;
		uint16_t epoch;
		unsigned repeats;
	} rows[] = {
		{ "IPv4 ClientHello and its retransmissions", 4, SG_DTLS_CT_HANDSHAKE, 0, 5 },
		{ "IPv4 application record of no session", 4, SG_DTLS_CT_APPLICATION_DATA, 1, 3 },
		{ "IPv6 ClientHello and its retransmissions", 6, SG_DTLS_CT_HANDSHAKE, 0, 5 },
		{ "IPv6 epoch-1 Finished (a handshake record)", 6, SG_DTLS_CT_HANDSHAKE, 1, 2 },
	};
	uint8_t buf[128];

	(void)state;
	assert_int_equal(sg_dp_hs_queues(E.dp), N_QUEUES);
	for (unsigned r = 0; r < RTE_DIM(rows); r++) {
		for (unsigned k = 0; k < 16; k++) {
			struct client c;
			unsigned q, len;

			client_v4(&c, r * 16 + k);
			if (rows[r].family == 6) {
				c.family = 6;
				memcpy(c.addr, GW6, 16);
				c.addr[14] = (uint8_t)r;
				c.addr[15] = (uint8_t)(2 + k);
			}
			q = queue_of(&c);
			assert_true(q < N_QUEUES);
			len = record(buf, rows[r].ct, rows[r].epoch, 40);
			for (unsigned i = 0; i < rows[r].repeats; i++) {
				send_from(&c, buf, (uint16_t)len);
				assert_int_equal(queue_of(&c), q); /* a pure function */
			}
			for (unsigned o = 0; o < N_QUEUES; o++)
				assert_int_equal(drain_queue(o, &c), o == q ? rows[r].repeats : 0);
			assert_int_equal(punt_ring_count(), 0);
		}
		print_message("# %s: each client's datagrams on its one queue\n", rows[r].what);
	}
}

/* 256 clients spread over every queue, none taking much more than its share. */
static void test_spread(void **state)
{
	unsigned per[N_QUEUES] = { 0 };

	(void)state;
	for (unsigned i = 0; i < 256; i++) {
		struct client c;

		client_v4(&c, i);
		per[queue_of(&c)]++;
	}
	for (unsigned q = 0; q < N_QUEUES; q++) {
		print_message("# queue %u: %u of 256 clients\n", q, per[q]);
		assert_true(per[q] >= 256 / N_QUEUES / 2);
		assert_true(per[q] <= 256 / N_QUEUES * 2);
	}
}

/* A full queue drops, counted per queue and as the worker's drop; other queues go on. */
static void test_queue_full(void **state)
{
	struct sg_dp_counters c0, c1;
	struct client a, b;
	uint8_t buf[128];
	uint16_t len = record(buf, SG_DTLS_CT_HANDSHAKE, 0, 40);
	unsigned qa, qb, i = 0, took;
	uint64_t full0;

	(void)state;
	client_v4(&a, 300);
	qa = queue_of(&a);
	do
		client_v4(&b, 301 + i++);
	while (queue_of(&b) == qa);
	qb = queue_of(&b);
	full0 = sg_dp_hs_queue_full(E.dp, qa);
	sg_dp_counters_sum(E.dp, &c0);
	for (i = 0; i < Q_SIZE + 10; i++)
		send_from(&a, buf, len);
	send_from(&b, buf, len);
	sg_dp_counters_sum(E.dp, &c1);
	took = Q_SIZE - 1; /* an rte_ring of size n holds n - 1 */
	assert_int_equal(sg_dp_hs_queue_full(E.dp, qa) - full0, Q_SIZE + 10 - took);
	assert_int_equal(sg_dp_hs_queue_full(E.dp, qb), 0);
	assert_int_equal(c1.drop[SG_DROP_HS_QUEUE_FULL] - c0.drop[SG_DROP_HS_QUEUE_FULL],
	                 Q_SIZE + 10 - took);
	assert_int_equal(c1.punted - c0.punted, took + 1);
	assert_int_equal(c1.punt_by[SG_DP_PUNT_HANDSHAKE] - c0.punt_by[SG_DP_PUNT_HANDSHAKE],
	                 took + 1);
	/* rx = punted + dropped for these: nothing else happened to them */
	assert_int_equal(c1.rx - c0.rx, Q_SIZE + 10 + 1);
	assert_string_equal(sg_drop_name(SG_DROP_HS_QUEUE_FULL), "hs_queue_full");
	assert_int_equal(drain_queue(qa, &a), took);
	assert_int_equal(drain_queue(qb, &b), 1);
	/* a queue that does not exist is empty */
	assert_int_equal(sg_dp_hs_dequeue(E.dp, N_QUEUES, NULL, 1), 0);
}

/* A control-TX handle: sends through worker 0, its counters summed, its backlog freed. */
static void test_ctl_tx_handle(void **state)
{
	struct sg_dp_ctl_tx *tx = sg_dp_ctl_tx_create(E.dp);
	const uint8_t dev[4] = { 198, 18, 1, 77 };
	uint64_t sent0, drop0, sent, dropped;
	uint8_t pl[32] = "hello from a handshake thread";
	struct rte_mbuf *m;
	struct dp_frame f;
	unsigned frames = 0;

	(void)state;
	assert_non_null(tx);
	assert_int_equal(sg_dp_neigh_set(E.dp, 0, 4, dev, DEV_MAC), 0);
	sg_dp_ctl_counters(E.dp, &sent0, &drop0);
	assert_int_equal(sg_dp_ctl_tx_send_udp(tx, 0, 4, GW4, DTLS_PORT, dev, 41000, pl, 32), 0);
	/* an unresolved next hop: dropped (and solicited), counted on the handle */
	assert_int_equal(sg_dp_ctl_tx_send_udp(tx, 0, 4, GW4, DTLS_PORT,
	                                       (const uint8_t[4]){ 198, 18, 1, 99 }, 41000, pl, 32),
	                 -EHOSTUNREACH);
	assert_int_equal(sg_dp_ctl_tx_send_udp(tx, 9, 4, GW4, DTLS_PORT, dev, 41000, pl, 32),
	                 -EINVAL);
	assert_int_equal(sg_dp_ctl_tx_retry_on(tx), 0);
	sg_dp_ctl_counters(E.dp, &sent, &dropped);
	assert_int_equal(sent - sent0, 2); /* the datagram and the ARP request */
	assert_int_equal(dropped - drop0, 1);
	sg_dp_worker_poll(E.dp, 0);
	while (rte_ring_dequeue(E.dev_tx[0], (void **)&m) == 0) {
		if (dp_frame_read(m, &f) == 0) {
			assert_memory_equal(f.dst, dev, 4);
			assert_int_equal(f.dport, 41000);
			assert_memory_equal(f.payload, pl, 32);
			frames++;
		}
		rte_pktmbuf_free(m);
	}
	assert_int_equal(frames, 1);
	/* freed: its counts stay in the sums */
	sg_dp_ctl_tx_free(tx);
	sg_dp_ctl_counters(E.dp, &sent, &dropped);
	assert_int_equal(sent - sent0, 2);
	assert_int_equal(dropped - drop0, 1);
	/* handles run out at SG_DP_CTL_TX_MAX */
	{
		struct sg_dp_ctl_tx *h[SG_DP_CTL_TX_MAX];

		for (unsigned i = 0; i < SG_DP_CTL_TX_MAX; i++)
			assert_non_null(h[i] = sg_dp_ctl_tx_create(E.dp));
		errno = 0;
		assert_null(sg_dp_ctl_tx_create(E.dp));
		assert_int_equal(errno, ENOSPC);
		for (unsigned i = 0; i < SG_DP_CTL_TX_MAX; i++)
			sg_dp_ctl_tx_free(h[i]);
	}
}

/* ARP stays on the punt ring. */
static void test_other_punts_on_ring(void **state)
{
	(void)state;
	/* A gratuitous ARP request for our address from a device. */
	uint8_t f[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct rte_mbuf *m = rte_pktmbuf_alloc(E.pool);

	memcpy(f + 6, DEV_MAC, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	f[15] = 1;
	f[16] = 0x08;
	f[18] = 6;
	f[19] = 4;
	f[21] = 1;
	memcpy(f + 22, DEV_MAC, 6);
	memcpy(f + 28, (const uint8_t[4]){ 198, 18, 1, 50 }, 4);
	memcpy(f + 38, GW4, 4);
	assert_non_null(m);
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), f, sizeof(f));
	m->data_len = m->pkt_len = sizeof(f);
	assert_int_equal(rte_ring_enqueue(E.dev_rx[0], m), 0);
	sg_dp_worker_poll(E.dp, 0);
	assert_int_equal(punt_ring_count(), 1);
	for (unsigned q = 0; q < N_QUEUES; q++)
		assert_int_equal(drain_queue(q, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_client_same_queue),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_ctl_tx_handle),
		cmocka_unit_test(test_other_punts_on_ring),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
