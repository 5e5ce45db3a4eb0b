/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data plane's part of a restart (issue 15, docs/restart.md): the data
 * plane in process over two net_ring ports, one worker polled from this
 * thread. A "run" is a session table and a data plane; a restart is a second
 * run the first one's sessions are restored into (sg_sess_insert() at their
 * ids with the SAs sg_sess_get_sa() copied), with the backend bindings
 * sg_dp_session_backend() gave back through sg_dp_session_restore().
 *
 * Checks: udp mode with listed addresses (the FIFO map) restores each
 * session's source port, refuses a port or a slot already bound and a port
 * the configuration lacks, and hands new sessions only the ports left, in
 * ascending order after sg_dp_restore_done() (and without it: an attach
 * rebuilds the order itself); udp mode with a pool (the direct map)
 * restores the slot's port and attach cycle, so the slot's next session
 * takes the next port; proxy mode restores token and identity. After each
 * restore a record from the device goes out from the same source port (udp)
 * or with the same token and identity in its PROXY v2 header, and the
 * server's reply there comes back sealed to the device. Every mbuf returns
 * to the pool.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stormgate/bytes.h>
#include <stormgate/dataplane.h>
#include <stormgate/dtls.h>
#include <stormgate/proxy_v2.h>
#include <stormgate/record.h>
#include <stormgate/session.h>

#include "dp_frames.h"
#include "dp_net.h"
#include "eal_test.h"
#include "tc_sa.h"

#define POOL_SIZE 1023
#define RING_SIZE 256
#define WINDOW    SG_REPLAY_WINDOW_DEFAULT
#define DEVS      9
#define FIFO_PPA  8 /* udp mode, listed address: 8 backend ports */
#define POOL_PPA  4 /* udp mode, pool 198.18.64.0/18: 16384 x 4 ports, 4 per slot */
#define POOL_CAP  16384

static const uint8_t POOL4[16] = { 198, 18, 64, 0 };

/* The test's devices: device k at 198.18.1.(10 + k), port 40000 + k. */
struct dev {
	uint8_t addr[4];
	uint16_t sport;
	struct sg_rec_sa *sa; /* the device's side */
	uint64_t id;          /* its session in the current run */
};

/* One run of the gateway: a session table and a data plane over the two ports. */
struct run {
	struct sg_sess_table *tab;
	struct sg_dp *dp;
	enum sg_dp_backend_mode mode;
};

static struct env {
	struct rte_mempool *pool;
	struct rte_ring *dev_rx[1], *dev_tx[1], *be_rx[1], *be_tx[1];
	uint16_t dev_port, be_port;
	struct sg_rec_ctx *dev_rec;
	struct dev d[DEVS];
} E;

static uint16_t ring_port(const char *name, struct rte_ring **rx, struct rte_ring **tx)
{
	int port = eal_test_ring_port(name, 1, RING_SIZE, rx, tx, E.pool);

	assert_true(port >= 0);
	assert_int_equal(rte_eth_dev_start((uint16_t)port), 0);
	return (uint16_t)port;
}

static int group_setup(void **state)
{
	struct sg_rec_ctx_conf rc = { .cid_len = 0 };

	(void)state;
	if (eal_test_init("sgrestart", 128, 0, NULL) < 0)
		return -1;
	E.pool = rte_pktmbuf_pool_create("sgrs", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (E.pool == NULL)
		return -1;
	E.dev_port = ring_port("rsdev", E.dev_rx, E.dev_tx);
	E.be_port = ring_port("rsbe", E.be_rx, E.be_tx);
	E.dev_rec = sg_rec_ctx_create(&rc);
	return E.dev_rec != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	sg_rec_ctx_free(E.dev_rec);
	eal_test_ring_port_close(E.dev_port, 1, E.dev_rx, E.dev_tx);
	eal_test_ring_port_close(E.be_port, 1, E.be_rx, E.be_tx);
	rte_mempool_free(E.pool);
	eal_test_fini();
	return 0;
}

/* What the floor tests vary in a run's data plane (zero: the defaults). */
struct run_opts {
	uint32_t seq_step, seq_interval_s;
	unsigned punt_ring_size, burst, max_records;
};

/* A run in mode: udp with the listed address (pool_len 0) or a pool, or proxy. */
static void run_up_opts(struct run *r, enum sg_dp_backend_mode mode, uint8_t pool_len,
                        const struct run_opts *o)
{
	struct sg_sess_params sp = { .capacity = pool_len ? POOL_CAP : 64,
		                     .max_threads = 1,
		                     .flags = SG_SESS_P_LAZY };
	struct sg_dp_conf c = { 0 };

	r->mode = mode;
	r->tab = sg_sess_table_create(&sp);
	assert_non_null(r->tab);
	c.n_workers = 1;
	c.n_ports = 2;
	dp_test_port(&c.ports[0], E.dev_port, SG_DP_ROLE_DEVICE, GW_MAC, GW4, NULL, 24);
	dp_test_port(&c.ports[1], E.be_port, SG_DP_ROLE_BACKEND, GW_MAC, GWB4, NULL, 24);
	c.dtls_port = DTLS_PORT;
	dp_test_backend(&c, mode, BE4, GWB4, pool_len ? POOL_PPA : FIFO_PPA);
	c.pool_len = pool_len;
	memcpy(c.pool_addr, POOL4, 16);
	c.sessions = r->tab;
	c.pool = E.pool;
	if (o != NULL) {
		c.seq_step = o->seq_step;
		c.seq_interval_s = o->seq_interval_s;
		c.punt_ring_size = o->punt_ring_size;
		c.burst = o->burst;
		c.max_records_per_dgram = o->max_records;
	}
	r->dp = sg_dp_create(&c);
	assert_non_null(r->dp);
	assert_int_equal(sg_dp_neigh_set(r->dp, 1, 4, BE4, BE_MAC), 0);
	for (unsigned k = 0; k < DEVS; k++)
		assert_int_equal(sg_dp_neigh_set(r->dp, 0, 4, E.d[k].addr, DEV_MAC), 0);
	sg_dp_worker_online(r->dp, 0);
}

static void run_up(struct run *r, enum sg_dp_backend_mode mode, uint8_t pool_len)
{
	run_up_opts(r, mode, pool_len, NULL);
}

static void run_down(struct run *r)
{
	struct rte_mbuf *m[RING_SIZE];
	unsigned n;

	sg_dp_worker_offline(r->dp, 0);
	while ((n = sg_dp_punt_dequeue(r->dp, m, RING_SIZE)) != 0)
		rte_pktmbuf_free_bulk(m, n);
	sg_dp_destroy(r->dp);
	sg_sess_table_destroy(r->tab);
	assert_int_equal(rte_ring_count(E.dev_tx[0]) + rte_ring_count(E.be_tx[0]), 0);
	assert_int_equal(rte_mempool_avail_count(E.pool), POOL_SIZE);
}

static int test_setup(void **state)
{
	(void)state;
	for (unsigned k = 0; k < DEVS; k++) {
		struct dev *d = &E.d[k];

		memcpy(d->addr, (const uint8_t[4]){ 198, 18, 1, (uint8_t)(10 + k) }, 4);
		d->sport = (uint16_t)(40000 + k);
		d->sa = tc_sa_alloc(WINDOW);
		d->id = 0;
	}
	return 0;
}

static int test_teardown(void **state)
{
	(void)state;
	for (unsigned k = 0; k < DEVS; k++)
		tc_sa_free(E.d[k].sa, WINDOW);
	return 0;
}

/*
 * Device k's session into run r (first run: new keys; at: 0, or its id to
 * restore at, with gw the SA to restore), its id in E.d[k].id.
 */
static void sess_add(struct run *r, unsigned k, uint64_t at, const struct sg_rec_sa *gw)
{
	struct sg_rec_sa_params p = {
		.aead = SG_AEAD_AES_128_GCM, .epoch = 1, .tx_seq = 1, .rx_seq = 1
	};
	struct sg_rec_sa *srv = tc_sa_alloc(WINDOW);
	struct sg_sess_new s = { 0 };
	struct dev *d = &E.d[k];
	struct tc_keys keys;
	uint32_t l, a;

	if (gw == NULL) {
		tc_keys_make(&keys, 100 + k);
		tc_sa_pair(srv, d->sa, WINDOW, &p, &keys);
		sg_wipe(&keys, sizeof(keys));
	} else {
		memcpy(srv, gw, sizeof(*srv));
	}
	memcpy(&l, GW4, 4);
	memcpy(&a, d->addr, 4);
	sg_sess_tuple_v4(&s.tuple, l, htons(DTLS_PORT), a, htons(d->sport));
	s.sa = srv;
	s.flags = SG_SESS_F_TUPLE | (at ? SG_SESS_F_ID : 0);
	s.id = at;
	assert_int_equal(sg_sess_insert(r->tab, &s, &d->id, NULL), 0);
	if (at)
		assert_true(d->id == at);
	tc_sa_free(srv, WINDOW);
}

/* Device k's checkpoint in run r: its SA (the caller frees it) and backend binding. */
static struct sg_rec_sa *checkpoint(struct run *r, unsigned k, uint32_t *backend,
                                    uint8_t token[SG_PP2_TOKEN_LEN])
{
	struct sg_rec_sa *sa = tc_sa_alloc(WINDOW);

	assert_int_equal(sg_sess_get_sa(r->tab, E.d[k].id, sa), 0);
	assert_int_equal(sg_dp_session_backend(r->dp, E.d[k].id, backend, token), 0);
	return sa;
}

static void poll_n(struct run *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		sg_dp_worker_poll(r->dp, 0);
}

/* The one frame on ring q after a poll; fails unless there is exactly one. */
static struct rte_mbuf *take_one(struct rte_ring *q)
{
	struct rte_mbuf *m[4];
	unsigned n = rte_ring_dequeue_burst(q, (void **)m, 4, NULL);

	assert_int_equal(n, 1);
	return m[0];
}

/* Device k sends msg through run r; returns the backend datagram (read into *f). */
static struct rte_mbuf *uplink(struct run *r, unsigned k, const char *msg, struct dp_frame *f)
{
	const char *const pt[1] = { msg };
	struct dev *d = &E.d[k];
	uint8_t dgram[512];
	uint16_t len = dp_frame_records(E.dev_rec, d->sa, NULL, 0, pt, 1,
	                                SG_DTLS_CT_APPLICATION_DATA, dgram, sizeof(dgram));
	struct rte_mbuf *m = dp_frame_udp(E.pool, DEV_MAC, GW_MAC, 4, d->addr, d->sport, GW4,
	                                  DTLS_PORT, dgram, len);

	assert_non_null(m);
	assert_int_equal(rte_ring_enqueue(E.dev_rx[0], m), 0);
	poll_n(r, 2);
	m = take_one(E.be_tx[0]);
	assert_int_equal(dp_frame_read(m, f), 0);
	assert_memory_equal(f->dst, BE4, 4);
	assert_int_equal(f->dport, COAP_PORT);
	return m;
}

/* The server's reply of len bytes to dst:dport (payload: a PROXY v2 header first in proxy mode). */
static void reply(struct run *r, const uint8_t dst[4], uint16_t dport, const uint8_t *payload,
                  uint16_t len)
{
	struct rte_mbuf *m =
	        dp_frame_udp(E.pool, BE_MAC, GW_MAC, 4, BE4, COAP_PORT, dst, dport, payload, len);

	assert_non_null(m);
	assert_int_equal(rte_ring_enqueue(E.be_rx[0], m), 0);
	poll_n(r, 2);
}

/* Device k's sealed reply on the device port, opened with its SA: msg. */
static void expect_sealed(unsigned k, const char *msg)
{
	struct rte_mbuf *m = take_one(E.dev_tx[0]);
	struct sg_rec_open_op op = { 0 };
	struct sg_rec_hdr h;
	struct dp_frame f;

	assert_int_equal(dp_frame_read(m, &f), 0);
	assert_memory_equal(f.dst, E.d[k].addr, 4);
	assert_int_equal(f.dport, E.d[k].sport);
	assert_int_equal(sg_rec_parse(f.payload, f.len, 0, &h, 1), 1);
	op.rec = (uint8_t *)f.payload;
	op.rec_len = h.len;
	op.sa = E.d[k].sa;
	assert_int_equal(sg_rec_open_burst(E.dev_rec, &op, 1), 1);
	assert_int_equal(op.status, SG_REC_OK);
	assert_int_equal(op.pt_len, strlen(msg));
	assert_memory_equal(op.rec + op.pt_off, msg, op.pt_len);
	rte_pktmbuf_free(m);
}

/* udp mode: device k's backend source address (into a) and port. */
static uint16_t bport_of_addr(struct run *r, unsigned k, uint8_t a[16])
{
	uint8_t fam;
	uint16_t port;

	assert_int_equal(sg_dp_session_bport(r->dp, E.d[k].id, &fam, a, &port), 0);
	assert_int_equal(fam, 4);
	return port;
}

static uint16_t bport_of(struct run *r, unsigned k)
{
	uint8_t a[16];

	return bport_of_addr(r, k, a);
}

/* udp mode: device k's datagram leaves from its address and bport, and the reply there
 * reaches it. */
static void udp_roundtrip(struct run *r, unsigned k, uint16_t bport)
{
	struct dp_frame f;
	uint8_t a[16];
	struct rte_mbuf *m = uplink(r, k, "GET /restart", &f);

	assert_int_equal(bport_of_addr(r, k, a), bport);
	assert_memory_equal(f.src, a, 4);
	assert_int_equal(f.sport, bport);
	assert_int_equal(f.len, strlen("GET /restart"));
	rte_pktmbuf_free(m);
	reply(r, a, bport, (const uint8_t *)"2.05 back", 9);
	expect_sealed(k, "2.05 back");
}

/* Restore device k (checkpointed as sa, backend) into run r at its id. */
static int restore(struct run *r, unsigned k, uint64_t id, const struct sg_rec_sa *sa,
                   uint32_t backend, const uint8_t *ident, uint8_t ident_len, const uint8_t *token)
{
	sess_add(r, k, id, sa);
	return sg_dp_session_restore(r->dp, id, ident, ident_len, token, backend);
}

/*
 * udp mode, listed address (FIFO map): six sessions, one of them a second
 * attach after a detach, restored to the same ports; the ports left go to
 * new sessions, none of the restored ones.
 */
static void test_udp_fifo(void **state)
{
	enum { N = 6 };
	struct run a, b;
	struct sg_rec_sa *sa[N];
	uint32_t be[N], bad;
	uint16_t port[N], seen = 0;
	uint64_t id[N];

	(void)state;
	run_up(&a, SG_DP_BACKEND_UDP, 0);
	for (unsigned k = 0; k < N + 1; k++) {
		sess_add(&a, k, 0, NULL);
		assert_int_equal(sg_dp_session_attach(a.dp, E.d[k].id, NULL, 0, NULL), 0);
	}
	/* Device N leaves: its port goes to the FIFO's tail, device 2 re-attaches after it. */
	assert_int_equal(sg_dp_session_detach(a.dp, E.d[N].id), 0);
	assert_int_equal(sg_dp_session_backend(a.dp, E.d[N].id, &bad, NULL), -ENOENT);
	assert_int_equal(sg_dp_session_detach(a.dp, E.d[2].id), 0);
	assert_int_equal(sg_dp_session_attach(a.dp, E.d[2].id, NULL, 0, NULL), 0);
	for (unsigned k = 0; k < N; k++) {
		port[k] = bport_of(&a, k);
		udp_roundtrip(&a, k, port[k]);
		/* After the traffic: the restored SA goes on from the sequence numbers used. */
		sa[k] = checkpoint(&a, k, &be[k], NULL);
		id[k] = E.d[k].id;
		assert_int_equal(port[k], BPORT0 + be[k]);
	}
	run_down(&a);

	run_up(&b, SG_DP_BACKEND_UDP, 0);
	for (int k = N - 1; k >= 0; k--)
		assert_int_equal(restore(&b, (unsigned)k, id[k], sa[k], be[k], NULL, 0, NULL), 0);
	/* Bound already: the session again, another session on a held port; no such port. */
	assert_int_equal(sg_dp_session_restore(b.dp, id[0], NULL, 0, NULL, be[1]), -EEXIST);
	sess_add(&b, N, 0, NULL);
	assert_int_equal(sg_dp_session_restore(b.dp, E.d[N].id, NULL, 0, NULL, be[3]), -EEXIST);
	assert_int_equal(sg_dp_session_restore(b.dp, E.d[N].id, NULL, 0, NULL, FIFO_PPA), -EINVAL);
	assert_int_equal(sg_dp_session_restore(b.dp, (uint32_t)E.d[N].id, NULL, 0, NULL, 7),
	                 -EINVAL);
	/* No sg_dp_restore_done() yet: the attach rebuilds the free ports itself. */
	assert_int_equal(sg_dp_session_attach(b.dp, E.d[N].id, NULL, 0, NULL), 0);
	for (unsigned k = 0; k < N; k++) {
		assert_int_not_equal(bport_of(&b, N), port[k]);
		assert_int_equal(bport_of(&b, k), port[k]);
		udp_roundtrip(&b, k, port[k]);
		seen |= (uint16_t)(1u << be[k]);
	}
	seen |= (uint16_t)(1u << (bport_of(&b, N) - BPORT0));
	sess_add(&b, N + 1, 0, NULL);
	assert_int_equal(sg_dp_session_attach(b.dp, E.d[N + 1].id, NULL, 0, NULL), 0);
	seen |= (uint16_t)(1u << (bport_of(&b, N + 1) - BPORT0));
	assert_int_equal(seen, (1u << FIFO_PPA) - 1); /* every port once */
	run_down(&b);
	for (unsigned k = 0; k < N; k++)
		tc_sa_free(sa[k], WINDOW);
}

/* After sg_dp_restore_done() the free ports are handed out in ascending order. */
static void test_udp_restore_done(void **state)
{
	struct run r;
	unsigned k;

	(void)state;
	run_up(&r, SG_DP_BACKEND_UDP, 0);
	sess_add(&r, 0, 9ull << 32 | 20, NULL);
	assert_int_equal(sg_dp_session_restore(r.dp, E.d[0].id, NULL, 0, NULL, 5), 0);
	sess_add(&r, 1, 3ull << 32 | 7, NULL);
	assert_int_equal(sg_dp_session_restore(r.dp, E.d[1].id, NULL, 0, NULL, 0), 0);
	sg_dp_restore_done(r.dp);
	assert_int_equal(bport_of(&r, 0), BPORT0 + 5);
	assert_int_equal(bport_of(&r, 1), BPORT0);
	for (k = 2; k < FIFO_PPA; k++) {
		sess_add(&r, k, 0, NULL);
		assert_int_equal(sg_dp_session_attach(r.dp, E.d[k].id, NULL, 0, NULL), 0);
		assert_int_equal(bport_of(&r, k), BPORT0 + (k - 1 < 5 ? k - 1 : k));
	}
	sess_add(&r, k, 0, NULL);
	assert_int_equal(sg_dp_session_attach(r.dp, E.d[k].id, NULL, 0, NULL), -ENOSPC);
	udp_roundtrip(&r, 0, BPORT0 + 5);
	run_down(&r);
}

/*
 * udp mode with a pool (direct map): slot 100's second session (its attach
 * cycle 2) restored to the same address and port; the slot's next session
 * takes cycle 3; a port of another slot is refused.
 */
static void test_udp_pool(void **state)
{
	const uint32_t slot = 100, shift = 2; /* 16384 slots x 4 ports of 16384 x 4 */
	struct sg_rec_sa *sa;
	struct run a, b;
	uint32_t be;
	uint16_t port;
	uint64_t id;

	(void)state;
	run_up(&a, SG_DP_BACKEND_UDP, 18);
	sess_add(&a, 0, 3ull << 32 | slot, NULL);
	assert_int_equal(sg_dp_session_attach(a.dp, E.d[0].id, NULL, 0, NULL), 0);
	assert_int_equal(sg_dp_session_detach(a.dp, E.d[0].id), 0);
	assert_int_equal(sg_sess_delete(a.tab, E.d[0].id), 0);
	sg_dp_worker_poll(a.dp, 0);
	sg_sess_reclaim(a.tab, 0);
	sess_add(&a, 0, 4ull << 32 | slot, NULL);
	assert_int_equal(sg_dp_session_attach(a.dp, E.d[0].id, NULL, 0, NULL), 0);
	port = bport_of(&a, 0);
	udp_roundtrip(&a, 0, port);
	sa = checkpoint(&a, 0, &be, NULL);
	assert_int_equal(be, slot << shift | 2);
	id = E.d[0].id;
	run_down(&a);

	run_up(&b, SG_DP_BACKEND_UDP, 18);
	sess_add(&b, 1, 5ull << 32 | (slot + 1), NULL);
	assert_int_equal(sg_dp_session_restore(b.dp, E.d[1].id, NULL, 0, NULL, be), -EINVAL);
	assert_int_equal(restore(&b, 0, id, sa, be, NULL, 0, NULL), 0);
	assert_int_equal(sg_dp_session_restore(b.dp, id, NULL, 0, NULL, be), -EEXIST);
	sg_dp_restore_done(b.dp);
	assert_int_equal(bport_of(&b, 0), port);
	udp_roundtrip(&b, 0, port);
	/* The slot's next session: the next port of its cycle. */
	assert_int_equal(sg_dp_session_detach(b.dp, id), 0);
	assert_int_equal(sg_dp_session_attach(b.dp, id + (1ull << 32), NULL, 0, NULL), 0);
	assert_int_equal(sg_dp_session_backend(b.dp, id + (1ull << 32), &be, NULL), 0);
	assert_int_equal(be, slot << shift | 3);
	run_down(&b);
	tc_sa_free(sa, WINDOW);
}

/* The PROXY v2 header of a datagram to the server: its token and identity. */
static void expect_pp2(const struct dp_frame *f, uint64_t id, const uint8_t *token,
                       const char *ident)
{
	struct sg_pp2_info pi;
	int hl = sg_pp2_decode(f->payload, f->len, &pi);

	assert_true(hl > 0);
	assert_true(pi.has_session);
	assert_true(pi.session == id);
	assert_memory_equal(pi.token, token, SG_PP2_TOKEN_LEN);
	assert_int_equal(pi.identity_len, strlen(ident));
	assert_memory_equal(pi.identity, ident, pi.identity_len);
}

/* proxy mode: the same token and identity after the restart; the reply with it is taken. */
static void test_proxy(void **state)
{
	static const uint8_t token[SG_PP2_TOKEN_LEN] = { 0x5e, 0x55, 1, 2, 3, 4, 5, 6 };
	static const char ident[] = "device-3";
	uint8_t got[SG_PP2_TOKEN_LEN], hdr[SG_PP2_MAX_LEN + 16];
	struct sg_pp2_info pi = { .family = 4, .has_session = true };
	struct sg_rec_sa *sa;
	struct run a, b;
	struct dp_frame f;
	struct rte_mbuf *m;
	uint32_t be = 77;
	uint64_t id;
	int hl;

	(void)state;
	run_up(&a, SG_DP_BACKEND_PROXY, 0);
	sess_add(&a, 3, 0, NULL);
	assert_int_equal(sg_dp_session_attach(a.dp, E.d[3].id, (const uint8_t *)ident, 8, token),
	                 0);
	sa = checkpoint(&a, 3, &be, got);
	assert_int_equal(be, 0);
	assert_memory_equal(got, token, sizeof(token));
	id = E.d[3].id;
	run_down(&a);

	run_up(&b, SG_DP_BACKEND_PROXY, 0);
	sess_add(&b, 4, 2ull << 32 | 9, NULL); /* not the slot device 3 gets back */
	assert_int_equal(sg_dp_session_backend(b.dp, E.d[4].id, &be, got), -ENOENT);
	assert_int_equal(sg_dp_session_restore(b.dp, E.d[4].id, NULL, 0, NULL, 0), -EINVAL);
	assert_int_equal(restore(&b, 3, id, sa, 0, (const uint8_t *)ident, 8, token), 0);
	assert_int_equal(sg_dp_session_restore(b.dp, id, (const uint8_t *)ident, 8, token, 0),
	                 -EEXIST);
	assert_int_equal(sg_dp_session_backend(b.dp, id, &be, got), 0);
	assert_memory_equal(got, token, sizeof(token));
	m = uplink(&b, 3, "GET /proxy", &f);
	expect_pp2(&f, id, token, ident);
	rte_pktmbuf_free(m);

	/* The server answers with the session's handle and token: sealed to the device. */
	memcpy(pi.src, E.d[3].addr, 4);
	memcpy(pi.dst, GW4, 4);
	pi.sport = E.d[3].sport;
	pi.dport = DTLS_PORT;
	pi.session = id;
	memcpy(pi.token, token, sizeof(token));
	hl = sg_pp2_encode(hdr, sizeof(hdr), &pi);
	assert_true(hl > 0);
	memcpy(hdr + hl, "2.05 proxy", 10);
	reply(&b, GWB4, BPORT0, hdr, (uint16_t)(hl + 10));
	expect_sealed(3, "2.05 proxy");
	run_down(&b);
	tc_sa_free(sa, WINDOW);
}

/*
 * proxy mode, issue 17: a certificate, raw public key or anonymous session
 * restored with its kind (sg_dp_session_restore_as()) names it in the PROXY
 * v2 header again (SG_PP2_TYPE_AUTH), with its identity (none: anonymous);
 * an unknown kind is refused.
 */
static void test_proxy_auth(void **state)
{
	static const uint8_t token[SG_PP2_TOKEN_LEN] = { 0xa7, 0x17, 9, 8, 7, 6, 5, 4 };
	static const struct {
		uint8_t auth;
		const char *ident;
	} rows[] = {
		{ SG_PP2_AUTH_X509, "urn:dev:cert" },
		{ SG_PP2_AUTH_RPK, "rpk-device" },
		{ SG_PP2_AUTH_NONE, "" },
		{ SG_PP2_AUTH_PSK, "psk-device" },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t len = (uint8_t)strlen(rows[i].ident);
		uint8_t got[SG_PP2_TOKEN_LEN];
		struct sg_rec_sa *sa;
		struct sg_pp2_info pi;
		struct dp_frame f;
		struct rte_mbuf *m;
		struct run a, b;
		uint32_t be;
		uint64_t id;

		run_up(&a, SG_DP_BACKEND_PROXY, 0);
		sess_add(&a, 3, 0, NULL);
		assert_int_equal(sg_dp_session_attach_as(a.dp, E.d[3].id, rows[i].auth,
		                                         (const uint8_t *)rows[i].ident, len,
		                                         token),
		                 0);
		sa = checkpoint(&a, 3, &be, got);
		id = E.d[3].id;
		run_down(&a);

		run_up(&b, SG_DP_BACKEND_PROXY, 0);
		sess_add(&b, 3, id, sa);
		assert_int_equal(sg_dp_session_restore_as(b.dp, id, SG_PP2_AUTH_MAX,
		                                          (const uint8_t *)rows[i].ident, len,
		                                          token, 0),
		                 -EINVAL);
		assert_int_equal(sg_dp_session_restore_as(b.dp, id, rows[i].auth,
		                                          (const uint8_t *)rows[i].ident, len,
		                                          token, 0),
		                 0);
		m = uplink(&b, 3, "GET /auth", &f);
		assert_true(sg_pp2_decode(f.payload, f.len, &pi) > 0);
		assert_int_equal(pi.auth, rows[i].auth);
		assert_int_equal(pi.identity_len, len);
		if (len != 0)
			assert_memory_equal(pi.identity, rows[i].ident, len);
		assert_memory_equal(pi.token, token, SG_PP2_TOKEN_LEN);
		rte_pktmbuf_free(m);
		run_down(&b);
		tc_sa_free(sa, WINDOW);
	}
}

/* ---- sequence floors (SG_DP_PUNT_FLOORS) ---- */

/* Free every frame on ring q; returns how many there were. */
static unsigned drain(struct rte_ring *q)
{
	struct rte_mbuf *m[64];
	unsigned n, total = 0;

	while ((n = rte_ring_dequeue_burst(q, (void **)m, 64, NULL)) != 0) {
		rte_pktmbuf_free_bulk(m, n);
		total += n;
	}
	return total;
}

/*
 * Take every punt of run r: each must be a floors mbuf; their floors go to f
 * (at most max), the number of mbufs to *n_mbufs. Returns the floors taken.
 */
static unsigned take_floors(struct run *r, struct sg_dp_floor *f, unsigned max, unsigned *n_mbufs)
{
	struct rte_mbuf *m[64];
	unsigned n, got = 0, mb = 0;

	while ((n = sg_dp_punt_dequeue(r->dp, m, 64)) != 0) {
		for (unsigned i = 0; i < n; i++) {
			const struct sg_dp_meta *meta = sg_dp_meta(r->dp, m[i]);
			unsigned len = rte_pktmbuf_data_len(m[i]), k = len / sizeof(*f);

			assert_int_equal(meta->punt, SG_DP_PUNT_FLOORS);
			assert_int_equal(meta->session, 0);
			assert_int_equal(len % sizeof(*f), 0);
			assert_true(k > 0 && got + k <= max);
			memcpy(f + got, rte_pktmbuf_mtod(m[i], const void *), len);
			got += k;
			mb++;
			rte_pktmbuf_free(m[i]);
		}
	}
	if (n_mbufs != NULL)
		*n_mbufs = mb;
	return got;
}

/* No floor was posted in run r since the last take. */
static void expect_no_floor(struct run *r)
{
	struct sg_dp_floor f[4];

	assert_int_equal(take_floors(r, f, 4, NULL), 0);
}

/* Exactly one floor since the last take, in one mbuf: session id, tx_seq, rx_top. */
static void expect_floor(struct run *r, uint64_t id, uint64_t tx_seq, uint64_t rx_top)
{
	struct sg_dp_floor f[4];
	unsigned mb;

	assert_int_equal(take_floors(r, f, 4, &mb), 1);
	assert_int_equal(mb, 1);
	assert_true(f[0].session == id);
	assert_int_equal(f[0].tx_seq, tx_seq);
	assert_int_equal(f[0].rx_top, rx_top);
}

/* The server sends n replies to device k at once: one poll seals them all (n <= burst). */
static void down(struct run *r, unsigned k, unsigned n)
{
	uint8_t a[16];
	uint16_t port = bport_of_addr(r, k, a);

	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = dp_frame_udp(E.pool, BE_MAC, GW_MAC, 4, BE4, COAP_PORT, a,
		                                  port, (const uint8_t *)"2.05", 4);

		assert_non_null(m);
		assert_int_equal(rte_ring_enqueue(E.be_rx[0], m), 0);
	}
	poll_n(r, 1);
	assert_int_equal(drain(E.dev_tx[0]), n);
}

/* Device k sends one datagram of n records (<= 8), its first with sequence number seq. */
static void up(struct run *r, unsigned k, unsigned n, uint64_t seq)
{
	static const char *const pt[8] = { "a", "b", "c", "d", "e", "f", "g", "h" };
	struct dev *d = &E.d[k];
	uint8_t dgram[1024];
	uint16_t len;
	struct rte_mbuf *m;

	d->sa->tx_word = (d->sa->tx_word & ~SG_SA_TX_SEQ_MASK) | seq;
	len = dp_frame_records(E.dev_rec, d->sa, NULL, 0, pt, n, SG_DTLS_CT_APPLICATION_DATA, dgram,
	                       sizeof(dgram));
	m = dp_frame_udp(E.pool, DEV_MAC, GW_MAC, 4, d->addr, d->sport, GW4, DTLS_PORT, dgram, len);
	assert_non_null(m);
	assert_int_equal(rte_ring_enqueue(E.dev_rx[0], m), 0);
	poll_n(r, 1);
	assert_int_equal(drain(E.be_tx[0]), n);
}

static uint64_t rx_top_of(struct run *r, unsigned k)
{
	struct sg_sess_info info;

	assert_int_equal(sg_sess_get(r->tab, E.d[k].id, &info), 0);
	return info.rx_top;
}

/*
 * Step 8: a seal whose next write sequence reaches a multiple posts, a burst
 * of seals across two multiples posts once with its last value; records
 * that move the receive top across a multiple post (a jump across two: once),
 * a late record below the top does not. Floors are events, not datagrams:
 * `punted` stays 0.
 */
static void test_floors_step(void **state)
{
	const struct run_opts o = { .seq_step = 8 };
	struct sg_dp_counters c;
	struct run r;
	uint64_t id, top;

	(void)state;
	run_up_opts(&r, SG_DP_BACKEND_UDP, 0, &o);
	sess_add(&r, 0, 0, NULL);
	id = E.d[0].id;
	assert_int_equal(sg_dp_session_attach(r.dp, id, NULL, 0, NULL), 0);
	top = rx_top_of(&r, 0);

	down(&r, 0, 6); /* seals 1..6: next 7 */
	expect_no_floor(&r);
	down(&r, 0, 1); /* seal 7: next 8 */
	expect_floor(&r, id, 8, top);
	down(&r, 0, 20); /* seals 8..27 in one burst: across 16 and 24, once */
	expect_floor(&r, id, 28, top);

	up(&r, 0, 6, 1); /* tops 2..7 */
	assert_int_equal(rx_top_of(&r, 0), 7);
	expect_no_floor(&r);
	up(&r, 0, 2, 7); /* top 9: across 8 */
	expect_floor(&r, id, 28, 9);
	up(&r, 0, 1, 30); /* top 31: across 16 and 24, once */
	expect_floor(&r, id, 28, 31);
	up(&r, 0, 1, 20); /* late, in the window: accepted, the top stays */
	assert_int_equal(rx_top_of(&r, 0), 31);
	expect_no_floor(&r);

	sg_dp_counters_sum(r.dp, &c);
	assert_int_equal(c.floors_posted, 4);
	assert_int_equal(c.floors_dropped, 0);
	assert_int_equal(c.punt_by[SG_DP_PUNT_FLOORS], 4);
	assert_int_equal(c.punted, 0);
	run_down(&r);
}

/*
 * The time rule (seq_interval_s, with a step too large to cross): a
 * session's first authenticated record in a new window posts, the next ones
 * in the window do not, seals do not. Without a step nothing posts at all.
 */
static void test_floors_interval(void **state)
{
	const struct run_opts on = { .seq_step = 1u << 30, .seq_interval_s = 3600 };
	const struct run_opts off = { .seq_step = 0, .seq_interval_s = 1 };
	struct sg_dp_counters c;
	struct run r;

	(void)state;
	run_up_opts(&r, SG_DP_BACKEND_UDP, 0, &on);
	sess_add(&r, 0, 0, NULL); /* last_rx 0: the session starts in a window long past */
	assert_int_equal(sg_dp_session_attach(r.dp, E.d[0].id, NULL, 0, NULL), 0);
	up(&r, 0, 1, 1);
	expect_floor(&r, E.d[0].id, 1, 2);
	up(&r, 0, 2, 2);
	down(&r, 0, 3);
	expect_no_floor(&r);
	run_down(&r);

	run_up_opts(&r, SG_DP_BACKEND_UDP, 0, &off);
	sess_add(&r, 1, 0, NULL);
	assert_int_equal(sg_dp_session_attach(r.dp, E.d[1].id, NULL, 0, NULL), 0);
	up(&r, 1, 8, 1);
	down(&r, 1, 20);
	expect_no_floor(&r);
	sg_dp_counters_sum(r.dp, &c);
	assert_int_equal(c.floors_posted + c.floors_dropped, 0);
	run_down(&r);
}

/*
 * A full punt ring (4 slots: 3 entries): every seal posts (step 1), the
 * posts past the ring's room are counted dropped, the worker goes on and
 * every reply still reaches the device; once the control plane took the
 * ring's floors, posts go through again with the newest value.
 */
static void test_floors_ring_full(void **state)
{
	const struct run_opts o = { .seq_step = 1, .punt_ring_size = 4 };
	struct sg_dp_floor f[4];
	struct sg_dp_counters c;
	struct run r;

	(void)state;
	run_up_opts(&r, SG_DP_BACKEND_UDP, 0, &o);
	sess_add(&r, 0, 0, NULL);
	assert_int_equal(sg_dp_session_attach(r.dp, E.d[0].id, NULL, 0, NULL), 0);
	for (unsigned i = 0; i < 10; i++)
		down(&r, 0, 1); /* each a burst of its own */
	sg_dp_counters_sum(r.dp, &c);
	assert_int_equal(c.floors_posted, 3);
	assert_int_equal(c.floors_dropped, 7);
	assert_int_equal(c.records_sealed, 10);
	assert_int_equal(take_floors(&r, f, 4, NULL), 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(f[i].tx_seq, 2 + i);
	down(&r, 0, 1);
	expect_floor(&r, E.d[0].id, 12, rx_top_of(&r, 0));
	run_down(&r);
}

/*
 * A burst of 100 sessions' seals (burst 128, step 1): 100 floors, each
 * session once, in two mbufs (a 2 KB mbuf holds 85).
 */
static void test_floors_many(void **state)
{
	enum { N = 100 };
	const struct run_opts o = { .seq_step = 1, .burst = SG_BURST_MAX, .max_records = 2 };
	struct sg_rec_sa_params p = {
		.aead = SG_AEAD_AES_128_GCM, .epoch = 1, .tx_seq = 1, .rx_seq = 1
	};
	static struct sg_dp_floor f[N + 1];
	struct sg_rec_sa *srv = tc_sa_alloc(WINDOW);
	uint64_t ids[N];
	unsigned mb, seen = 0;
	struct run r;

	(void)state;
	run_up_opts(&r, SG_DP_BACKEND_UDP, 18, &o);
	for (unsigned i = 0; i < N; i++) {
		struct sg_sess_new s = { 0 };
		struct tc_keys keys;
		uint8_t dev[4] = { 198, 18, 1, (uint8_t)(100 + i) }, a[16], fam;
		uint32_t l, pa;
		uint16_t port;
		struct rte_mbuf *m;

		tc_keys_make(&keys, 1000 + i);
		tc_sa_pair(srv, NULL, WINDOW, &p, &keys);
		memcpy(&l, GW4, 4);
		memcpy(&pa, dev, 4);
		sg_sess_tuple_v4(&s.tuple, l, htons(DTLS_PORT), pa, htons(40000));
		s.sa = srv;
		s.flags = SG_SESS_F_TUPLE;
		assert_int_equal(sg_sess_insert(r.tab, &s, &ids[i], NULL), 0);
		assert_int_equal(sg_dp_session_attach(r.dp, ids[i], NULL, 0, NULL), 0);
		assert_int_equal(sg_dp_neigh_set(r.dp, 0, 4, dev, DEV_MAC), 0);
		assert_int_equal(sg_dp_session_bport(r.dp, ids[i], &fam, a, &port), 0);
		m = dp_frame_udp(E.pool, BE_MAC, GW_MAC, 4, BE4, COAP_PORT, a, port,
		                 (const uint8_t *)"2.05", 4);
		assert_non_null(m);
		assert_int_equal(rte_ring_enqueue(E.be_rx[0], m), 0);
	}
	tc_sa_free(srv, WINDOW);
	poll_n(&r, 1);
	assert_int_equal(drain(E.dev_tx[0]), N);
	assert_int_equal(take_floors(&r, f, N + 1, &mb), N);
	assert_int_equal(mb, 2);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(f[i].tx_seq, 2);
		for (unsigned j = 0; j < N; j++)
			seen += f[i].session == ids[j];
	}
	assert_int_equal(seen, N);
	run_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_udp_fifo, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_udp_restore_done, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_udp_pool, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_proxy, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_auth, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_floors_step, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_floors_interval, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_floors_ring_full, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_floors_many, test_setup, test_teardown),
	};

	return cmocka_run_group_tests_name("dp_restart", tests, group_setup, group_teardown);
}
