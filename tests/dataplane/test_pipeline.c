/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data plane in process: two net_ring ports (devices, backend), the
 * session table, two workers polled from this thread. Devices are played by
 * the test with the mirror image of each session's keys; their datagrams go
 * into the device port's RX rings and what the gateway sends is read from
 * the TX rings. Checks: each good record's plaintext reaches the backend
 * exactly once, replies come back sealed and open with the device's keys,
 * every bad input is counted by reason, records of another worker's
 * sessions are handed off, and every mbuf returns to the pool.
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
#include <unistd.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/random.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stormgate/bytes.h>
#include <stormgate/dataplane.h>
#include <stormgate/dtls.h>
#include <stormgate/proxy_v2.h>
#include <stormgate/record.h>
#include <stormgate/session.h>
#include <stormgate/time.h>

#include "dp_frames.h"
#include "dp_net.h"
#include "eal_test.h"
#include "tc_csum.h"
#include "tc_sa.h"

#define N_WORKERS 2
#define N_SESS    48
#define POOL_SIZE 4095
#define RING_SIZE 1024

/* The test network (dp_net.h), and the gateway's IPv6 address on it. */
static const uint8_t GW6[16] = { 0xfd, 0x00, 0x53, 0x47, 0, 1, [15] = 1 };

/* One simulated device: its address, and its side of the session's keys. */
struct device {
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
	uint64_t id;
	uint8_t cid[16];
	int use_cid;
	uint16_t bport;                  /* the backend source port the gateway chose (udp mode) */
	struct sg_rec_sa *sa;            /* device side: tx = client_write, rx = server_write */
	uint8_t token[SG_PP2_TOKEN_LEN]; /* proxy mode: the session's token, as attached */
};

/*
 * What a test's gateway is (the cmocka state its set-up gets): the backend
 * mode; the backend on a port of its own, or (one_port) on the device port,
 * which then has both roles: the device network trusted not to spoof the
 * server (backend.trust_device_network); the workers' key scrub interval (0:
 * the default) and what CID sessions do when their device moves; what the
 * sessions negotiated: rrc for the CID ones (RFC 9853 §3), a record limit
 * (RFC 8449 record_size_limit; 0: none).
 */
struct gw_opts {
	enum sg_dp_backend_mode mode;
	bool one_port;
	uint32_t key_scrub_ms;
	enum sg_dp_peer_move peer_move;
	bool rrc;
	uint16_t max_pt;
};

static const struct gw_opts UDP = { .mode = SG_DP_BACKEND_UDP };
static const struct gw_opts PROXY = { .mode = SG_DP_BACKEND_PROXY };
static const struct gw_opts UDP_ONE_PORT = { .mode = SG_DP_BACKEND_UDP, .one_port = true };
static const struct gw_opts PROXY_ONE_PORT = { .mode = SG_DP_BACKEND_PROXY, .one_port = true };
static const struct gw_opts RRC = { .mode = SG_DP_BACKEND_UDP, .rrc = true };
/* CID sessions without rrc follow their device at once (sessions.peer_move: unverified). */
static const struct gw_opts UNVERIFIED = { .mode = SG_DP_BACKEND_UDP,
	                                   .peer_move = SG_DP_PEER_MOVE_UNVERIFIED };
static const struct gw_opts LIMIT = { .mode = SG_DP_BACKEND_UDP, .max_pt = 512 };
/* Workers that wipe their key scratch every millisecond. */
static const struct gw_opts SCRUB = { .mode = SG_DP_BACKEND_UDP, .key_scrub_ms = 1 };

static struct env {
	const struct gw_opts *o;
	struct rte_mempool *pool;
	struct rte_ring *dev_rx[N_WORKERS], *dev_tx[N_WORKERS];
	struct rte_ring *be_rx[N_WORKERS], *be_tx[N_WORKERS];
	uint16_t dev_port, be_port;
	struct sg_sess_table *tab;
	struct sg_dp *dp;
	struct sg_rec_ctx *dev_rec; /* the devices' record layer */
	struct device dev[N_SESS];
	enum sg_dp_backend_mode mode;
	/*
	 * Where the backend is: its own port (be_rx/be_tx, our address GWB4), or,
	 * with one_port (the device network trusted), the device port and GW4.
	 */
	bool one_port;
	struct rte_ring **brx, **btx;
	const uint8_t *gwb;
} E;

/* ---- frames ---- */

/* A UDP frame to the gateway (dp_frames.c: checksums computed independently); an mbuf. */
static struct rte_mbuf *udp_frame(const uint8_t *smac, const uint8_t *dmac, uint8_t fam,
                                  const uint8_t *src, uint16_t sport, const uint8_t *dst,
                                  uint16_t dport, const uint8_t *payload, uint16_t len)
{
	struct rte_mbuf *m =
	        dp_frame_udp(E.pool, smac, dmac, fam, src, sport, dst, dport, payload, len);

	assert_non_null(m);
	return m;
}

/* Parsed view of a frame the gateway sent. */
struct out {
	uint8_t fam;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	const uint8_t *payload;
	uint16_t len;
};

/* A frame the gateway sent, read and its checksums checked (dp_frames.c). */
static void parse_out(struct rte_mbuf *m, struct out *o)
{
	struct dp_frame f;

	assert_int_equal(dp_frame_read(m, &f), 0);
	memset(o, 0, sizeof(*o));
	o->fam = f.family;
	memcpy(o->src, f.src, sizeof(o->src));
	memcpy(o->dst, f.dst, sizeof(o->dst));
	o->sport = f.sport;
	o->dport = f.dport;
	o->payload = f.payload;
	o->len = f.len;
}

/* Open the first record of the reply o with the device's sa into op (in place). */
static void open_reply(const struct out *o, struct sg_rec_sa *sa, struct sg_rec_open_op *op)
{
	struct sg_rec_hdr h;

	assert_int_equal(sg_rec_parse(o->payload, o->len, sg_rec_ctx_cid_len(E.dev_rec), &h, 1), 1);
	memset(op, 0, sizeof(*op));
	op->rec = (uint8_t *)o->payload;
	op->rec_len = h.len;
	op->sa = sa;
	assert_int_equal(sg_rec_open_burst(E.dev_rec, op, 1), 1);
}

/* ---- sessions ---- */

static void make_keys(unsigned i, struct tc_keys *k)
{
	for (unsigned j = 0; j < 32; j++) {
		k->client_key[j] = (uint8_t)(i * 7 + j);
		k->server_key[j] = (uint8_t)(i * 13 + j + 100);
	}
	for (unsigned j = 0; j < 12; j++) {
		k->client_iv[j] = (uint8_t)(i + j);
		k->server_iv[j] = (uint8_t)(i + j + 50);
	}
}

/*
 * Install session i: suite rotates over the five AEADs (enum order, up to
 * CBC: a CBC session takes no CID and lives in the table's CBC pool, which
 * tests/session covers); every third uses a CID.
 */
static void add_session(unsigned i)
{
	struct device *d = &E.dev[i];
	unsigned window = SG_REPLAY_WINDOW_DEFAULT;
	enum sg_aead aead = (enum sg_aead)(i % SG_AEAD_AES_128_CBC_SHA256);
	struct tc_keys k;
	struct sg_rec_sa *srv = tc_sa_alloc(window);
	struct sg_sess_new s = { 0 };
	uint8_t peer_cid[4] = { 0xc1, 0xd0, (uint8_t)i, 0x99 };
	struct sg_rec_sa_params p = { .aead = aead, .epoch = 1, .tx_seq = 1, .rx_seq = 1 };

	d->sa = tc_sa_alloc(window);
	make_keys(i, &k);
	d->use_cid = i % 3 == 2;
	d->family = i % 2 ? 6 : 4;
	d->port = (uint16_t)(40000 + i);
	memset(d->addr, 0, sizeof(d->addr));
	if (d->family == 4) {
		memcpy(d->addr, (uint8_t[]){ 198, 18, 1, (uint8_t)(10 + i) }, 4);
	} else {
		memcpy(d->addr, GW6, 16);
		d->addr[15] = (uint8_t)(10 + i);
	}

	/* Gateway side: rx = client_write, tx = server_write; the device mirrors it. */
	p.flags = d->use_cid ? SG_SA_F_RX_CID | SG_SA_F_TX_CID : 0;
	if (d->use_cid && E.o->rrc)
		p.flags |= SG_SA_F_RRC;
	p.max_plaintext = E.o->max_pt;
	tc_sa_pair(srv, d->sa, window, &p, &k);

	s.sa = srv;
	if (d->family == 4) {
		uint32_t l, a;

		memcpy(&l, GW4, 4);
		memcpy(&a, d->addr, 4);
		sg_sess_tuple_v4(&s.tuple, l, htons(DTLS_PORT), a, htons(d->port));
	} else {
		sg_sess_tuple_v6(&s.tuple, GW6, htons(DTLS_PORT), d->addr, htons(d->port));
	}
	s.flags = d->use_cid ? SG_SESS_F_CID : SG_SESS_F_TUPLE;
	if (d->use_cid) {
		s.peer_cid = peer_cid;
		s.peer_cid_len = sizeof(peer_cid);
	}
	s.owner = (uint16_t)(i % N_WORKERS);
	s.suite = 0;
	assert_int_equal(sg_sess_insert(E.tab, &s, &d->id, d->cid), 0);
	/* As the gateway does: 64 bits from a CSPRNG (here the kernel's). */
	assert_int_equal(getrandom(d->token, sizeof(d->token), 0), sizeof(d->token));
	dp_test_attach(E.dp, E.mode, d->id, i, d->token, E.gwb, &d->bport);
	tc_sa_free(srv, window);
}

/* A datagram from device i holding the given records' plaintexts, sealed by the device. */
static struct rte_mbuf *dev_datagram(unsigned i, const char *const *msgs, unsigned n, uint8_t type)
{
	struct device *d = &E.dev[i];
	uint8_t dgram[8192];
	/* The device writes the CID we issued. */
	uint16_t len = dp_frame_records(E.dev_rec, d->sa, d->cid,
	                                d->use_cid ? (uint8_t)sg_sess_cid_len(E.tab) : 0, msgs, n,
	                                type, dgram, sizeof(dgram));

	return udp_frame(DEV_MAC, GW_MAC, d->family, d->addr, d->port, d->family == 4 ? GW4 : GW6,
	                 DTLS_PORT, dgram, len);
}

static void inject(struct rte_ring *r, struct rte_mbuf *m)
{
	assert_int_equal(rte_ring_enqueue(r, m), 0);
}

static void poll_all(void)
{
	/* Enough rounds for hand-offs to travel and settle. */
	for (int round = 0; round < 4; round++)
		for (unsigned w = 0; w < N_WORKERS; w++)
			sg_dp_worker_poll(E.dp, w);
}

static unsigned drain(struct rte_ring **rings, unsigned n_rings, struct rte_mbuf **out,
                      unsigned max)
{
	unsigned n = 0;

	for (unsigned r = 0; r < n_rings; r++)
		n += rte_ring_dequeue_burst(rings[r], (void **)out + n, max - n, NULL);
	return n;
}

static void free_all(struct rte_mbuf **m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(m[i]);
}

static void check_invariant(void)
{
	struct sg_dp_counters c;
	uint64_t dropped = 0;

	sg_dp_counters_sum(E.dp, &c);
	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		dropped += c.drop[r];
	assert_int_equal(c.rx, c.forwarded_up + c.forwarded_down + c.punted + c.consumed + dropped);
}

static void print_drops(void)
{
	struct sg_dp_counters c;

	sg_dp_counters_sum(E.dp, &c);
	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		if (c.drop[r])
			print_message("drop %s: %llu\n", sg_drop_name((enum sg_drop)r),
			              (unsigned long long)c.drop[r]);
}

/* Which device sent this backend datagram (udp mode: by our source port). */
static int device_of_bport(uint16_t sport)
{
	for (unsigned i = 0; i < N_SESS; i++)
		if (E.dev[i].bport == sport)
			return (int)i;
	return -1;
}

/* ---- set-up ---- */

static int eal_up(void)
{
	static int done;

	if (done)
		return 0;
	if (eal_test_init("sgdp", 256, 0, NULL) < 0)
		return -1;
	done = 1;
	return 0;
}

static uint16_t ring_port(const char *name, struct rte_ring **rx, struct rte_ring **tx)
{
	int port = eal_test_ring_port(name, N_WORKERS, RING_SIZE, rx, tx, E.pool);

	assert_true(port >= 0);
	assert_int_equal(rte_eth_dev_start((uint16_t)port), 0);
	return (uint16_t)port;
}

#define RRC_TIMEOUT_MS 400 /* the tests' RFC 9853 T: long enough for a loaded machine */

/* The data plane o describes, on its ports, with no session yet. */
static int setup_mode(const struct gw_opts *o)
{
	const bool one_port = o->one_port;
	static unsigned gen;
	char name[32];
	struct sg_sess_params sp = { .capacity = 1024 };
	struct sg_dp_conf c = { 0 };
	struct sg_rec_ctx_conf rc = { .cid_len = 4 }; /* the devices' own CIDs are 4 bytes */

	if (eal_up() != 0)
		return -1;
	memset(&E, 0, sizeof(E));
	E.o = o;
	E.mode = o->mode;
	E.one_port = one_port;
	E.brx = one_port ? E.dev_rx : E.be_rx;
	E.btx = one_port ? E.dev_tx : E.be_tx;
	E.gwb = one_port ? GW4 : GWB4;
	snprintf(name, sizeof(name), "sgpool%u", gen);
	E.pool = rte_pktmbuf_pool_create(name, POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (E.pool == NULL)
		return -1;
	snprintf(name, sizeof(name), "dev%u", gen);
	E.dev_port = ring_port(name, E.dev_rx, E.dev_tx);
	snprintf(name, sizeof(name), "be%u", gen);
	E.be_port = ring_port(name, E.be_rx, E.be_tx);
	gen++;

	sp.max_threads = N_WORKERS;
	E.tab = sg_sess_table_create(&sp);
	if (E.tab == NULL)
		return -1;

	c.n_workers = N_WORKERS;
	c.n_ports = one_port ? 1 : 2;
	dp_test_port(&c.ports[0], E.dev_port,
	             one_port ? SG_DP_ROLE_DEVICE | SG_DP_ROLE_BACKEND : SG_DP_ROLE_DEVICE, GW_MAC,
	             GW4, GW6, 0);
	dp_test_port(&c.ports[1], E.be_port, SG_DP_ROLE_BACKEND, GW_MAC, GWB4, NULL, 0);
	c.dtls_port = DTLS_PORT;
	c.key_scrub_ms = o->key_scrub_ms;
	c.peer_move = o->peer_move;
	c.rrc_timeout_ms = RRC_TIMEOUT_MS;
	dp_test_backend(&c, o->mode, BE4, E.gwb, 1000);
	c.sessions = E.tab;
	c.pool = E.pool;
	E.dp = sg_dp_create(&c);
	if (E.dp == NULL)
		return -1;
	E.dev_rec = sg_rec_ctx_create(&rc);
	if (E.dev_rec == NULL)
		return -1;

	/* The backend server is a static neighbour; devices are learned from their ARP/NS. */
	assert_int_equal(sg_dp_neigh_set(E.dp, one_port ? 0 : 1, 4, BE4, BE_MAC), 0);
	for (unsigned w = 0; w < N_WORKERS; w++)
		sg_dp_worker_online(E.dp, w);
	return 0;
}

static void teardown_env(void)
{
	struct rte_mbuf *m[RING_SIZE];
	unsigned n;

	for (unsigned w = 0; w < N_WORKERS; w++)
		sg_dp_worker_offline(E.dp, w);
	n = drain(E.dev_tx, N_WORKERS, m, RING_SIZE);
	free_all(m, n);
	n = drain(E.be_tx, N_WORKERS, m, RING_SIZE);
	free_all(m, n);
	while ((n = sg_dp_punt_dequeue(E.dp, m, RING_SIZE)) != 0)
		free_all(m, n);
	sg_dp_destroy(E.dp);
	/* No mbuf leaked: every one is back in the pool. */
	assert_int_equal(rte_mempool_avail_count(E.pool), POOL_SIZE);
	for (unsigned i = 0; i < N_SESS; i++) {
		tc_sa_free(E.dev[i].sa, SG_REPLAY_WINDOW_DEFAULT);
	}
	sg_rec_ctx_free(E.dev_rec);
	sg_sess_table_destroy(E.tab);
	rte_eth_dev_stop(E.dev_port);
	rte_eth_dev_close(E.dev_port);
	rte_eth_dev_stop(E.be_port);
	rte_eth_dev_close(E.be_port);
	for (unsigned q = 0; q < N_WORKERS; q++) {
		rte_ring_free(E.dev_rx[q]);
		rte_ring_free(E.be_rx[q]);
	}
	for (unsigned q = 0; q < N_WORKERS; q++) {
		rte_ring_free(E.dev_tx[q]);
		rte_ring_free(E.be_tx[q]);
	}
	rte_mempool_free(E.pool);
}

/* Device d's announcement in m: an ARP request (IPv4) or neighbour solicitation (IPv6). */
static void announce_fill(struct rte_mbuf *m, const struct device *d)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

	memset(f, 0, 90);
	memcpy(f + 6, DEV_MAC, 6);
	if (d->family == 4) {
		memset(f, 0xff, 6);
		sg_store_be16(f + 12, 0x0806);
		sg_store_be16(f + 14, 1);
		sg_store_be16(f + 16, 0x0800);
		f[18] = 6;
		f[19] = 4;
		sg_store_be16(f + 20, 1);
		memcpy(f + 22, DEV_MAC, 6);
		memcpy(f + 28, d->addr, 4);
		memcpy(f + 38, GW4, 4);
		m->data_len = m->pkt_len = 60;
	} else {
		uint8_t *ip = f + 14, *icmp = f + 54;
		uint8_t grp[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff };

		memcpy(grp + 13, GW6 + 13, 3);
		f[0] = f[1] = 0x33;
		memcpy(f + 2, grp + 12, 4);
		sg_store_be16(f + 12, 0x86dd);
		ip[0] = 0x60;
		sg_store_be16(ip + 4, 32);
		ip[6] = 58;
		ip[7] = 255;
		memcpy(ip + 8, d->addr, 16);
		memcpy(ip + 24, grp, 16);
		icmp[0] = 135;
		memcpy(icmp + 8, GW6, 16);
		icmp[24] = 1;
		icmp[25] = 1;
		memcpy(icmp + 26, DEV_MAC, 6);
		sg_store_be16(icmp + 2, tc_csum_l4(6, ip + 8, ip + 24, 58, icmp, 32));
		m->data_len = m->pkt_len = 86;
	}
}

static struct rte_mbuf *announce_frame(const struct device *d)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(E.pool);

	assert_non_null(m);
	announce_fill(m, d);
	return m;
}

/* Each device announces itself: ARP (IPv4) or neighbour solicitation (IPv6). */
static void announce_devices(void)
{
	struct rte_mbuf *out[RING_SIZE];
	unsigned n, punted;

	for (unsigned i = 0; i < N_SESS; i++)
		inject(E.dev_rx[0], announce_frame(&E.dev[i]));
	poll_all();
	punted = 0;
	while ((n = sg_dp_punt_dequeue(E.dp, out, RING_SIZE)) != 0) {
		for (unsigned k = 0; k < n; k++) {
			uint8_t why = sg_dp_meta(E.dp, out[k])->punt;

			assert_true(why == SG_DP_PUNT_ARP || why == SG_DP_PUNT_NDISC);
			assert_int_equal(sg_dp_ctl_neighbour(E.dp, out[k]), 0);
			punted++;
		}
	}
	assert_int_equal(punted, N_SESS);
	/* Every announcement was answered, sent by worker 0 on its TX queue. */
	poll_all();
	n = rte_ring_dequeue_burst(E.dev_tx[0], (void **)out, RING_SIZE, NULL);
	assert_int_equal(n, N_SESS);
	for (unsigned k = 0; k < n; k++) {
		const uint8_t *f = rte_pktmbuf_mtod(out[k], const uint8_t *);

		assert_memory_equal(f, DEV_MAC, 6);
		assert_memory_equal(f + 6, GW_MAC, 6);
	}
	free_all(out, n);
}

/* ---- tests ---- */

/* The gateway *state (a struct gw_opts) describes, with every test session installed and announced.
 */
static int setup(void **state)
{
	if (setup_mode(*state) != 0)
		return -1;
	for (unsigned i = 0; i < N_SESS; i++)
		add_session(i);
	announce_devices();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	teardown_env();
	return 0;
}

/* Read one backend datagram: which device, and the plaintext. */
static int backend_msg(struct rte_mbuf *m, char *msg, size_t cap, struct sg_pp2_info *pp)
{
	struct out o;
	int dev;

	parse_out(m, &o);
	assert_int_equal(o.fam, 4);
	assert_memory_equal(o.dst, BE4, 4);
	assert_memory_equal(o.src, E.gwb, 4);
	assert_int_equal(o.dport, COAP_PORT);
	assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), BE_MAC, 6);
	if (E.mode == SG_DP_BACKEND_UDP) {
		dev = device_of_bport(o.sport);
		assert_true(o.len < cap);
		memcpy(msg, o.payload, o.len);
		msg[o.len] = 0;
		return dev;
	}
	{
		int hl = sg_pp2_decode(o.payload, o.len, pp);

		assert_true(hl > 0);
		assert_int_equal(o.sport, BPORT0);
		assert_true(pp->has_session);
		dev = -1;
		for (unsigned i = 0; i < N_SESS; i++)
			if (E.dev[i].id == pp->session)
				dev = (int)i;
		assert_true(dev >= 0);
		assert_int_equal(pp->family, E.dev[dev].family);
		assert_memory_equal(pp->src, E.dev[dev].addr, pp->family == 4 ? 4 : 16);
		assert_int_equal(pp->sport, E.dev[dev].port);
		assert_int_equal(pp->dport, DTLS_PORT);
		/* The session's token, for the server to echo. */
		assert_memory_equal(pp->token, E.dev[dev].token, SG_PP2_TOKEN_LEN);
		memcpy(msg, o.payload + hl, o.len - (unsigned)hl);
		msg[o.len - (unsigned)hl] = 0;
		return dev;
	}
}

/*
 * Every device sends two datagrams (one with two records) to worker 0's
 * queue: sessions of worker 1 are handed off. Each record reaches the
 * backend once, from the device's own backend port (udp) or with a PROXY
 * header naming it (proxy).
 */
static void uplink_round(void)
{
	static const char *const one[] = { "GET /temp" };
	static const char *const two[] = { "PUT /a", "PUT /b" };
	struct rte_mbuf *out[RING_SIZE];
	unsigned seen[N_SESS][3] = { { 0 } };
	struct sg_dp_counters c;
	unsigned n;

	for (unsigned i = 0; i < N_SESS; i++) {
		inject(E.dev_rx[0], dev_datagram(i, one, 1, SG_DTLS_CT_APPLICATION_DATA));
		inject(E.dev_rx[0], dev_datagram(i, two, 2, SG_DTLS_CT_APPLICATION_DATA));
	}
	poll_all();
	n = drain(E.btx, N_WORKERS, out, RING_SIZE);
	assert_int_equal(n, N_SESS * 3);
	for (unsigned k = 0; k < n; k++) {
		char msg[256];
		struct sg_pp2_info pp;
		int d;

		d = backend_msg(out[k], msg, sizeof(msg), &pp);
		assert_true(d >= 0);
		if (strcmp(msg, "GET /temp") == 0)
			seen[d][0]++;
		else if (strcmp(msg, "PUT /a") == 0)
			seen[d][1]++;
		else if (strcmp(msg, "PUT /b") == 0)
			seen[d][2]++;
		else
			fail_msg("unexpected plaintext '%s'", msg);
	}
	free_all(out, n);
	for (unsigned i = 0; i < N_SESS; i++)
		for (unsigned r = 0; r < 3; r++)
			assert_int_equal(seen[i][r], 1);
	sg_dp_counters_sum(E.dp, &c);
	assert_true(c.handed_off >= N_SESS); /* half the sessions, two datagrams each */
	check_invariant();
}

/* How a reply of the server names its session (proxy mode). */
enum naming {
	NAME_OK = 0,      /* UNIQUE_ID: the session's handle and token */
	NAME_BAD_TOKEN,   /* ... with one bit of the token flipped */
	NAME_OTHER_TOKEN, /* ... with the token of another session */
	NAME_NO_TOKEN,    /* UNIQUE_ID of the 8-byte handle alone (the form before tokens) */
	NAME_TUPLE,       /* no UNIQUE_ID: the device's addresses and ports only */
};

/*
 * A datagram from the server's address and port (BE4:COAP_PORT) answering
 * device i with msg, sent from smac to our address `to`: in udp mode to the
 * device's backend port; in proxy mode to our proxy port behind a PROXY v2
 * header naming the session `how`.
 */
static struct rte_mbuf *reply_frame_from(const uint8_t *smac, const uint8_t *to, unsigned i,
                                         const char *msg, enum naming how)
{
	const struct device *d = &E.dev[i];
	uint8_t buf[SG_PP2_MAX_LEN + 128];
	unsigned len = 0;
	uint16_t dport = d->bport;

	if (E.mode == SG_DP_BACKEND_PROXY) {
		struct sg_pp2_info pp = { .family = d->family,
			                  .sport = d->port,
			                  .dport = DTLS_PORT,
			                  .has_session = how != NAME_NO_TOKEN && how != NAME_TUPLE,
			                  .session = d->id };
		int hl;

		memcpy(pp.src, d->addr, 16);
		memcpy(pp.dst, d->family == 4 ? GW4 : GW6, d->family == 4 ? 4 : 16);
		memcpy(pp.token, how == NAME_OTHER_TOKEN ? E.dev[(i + 1) % N_SESS].token : d->token,
		       SG_PP2_TOKEN_LEN);
		if (how == NAME_BAD_TOKEN)
			pp.token[SG_PP2_TOKEN_LEN - 1] ^= 0x01;
		hl = sg_pp2_encode(buf, sizeof(buf), &pp);
		assert_true(hl > 0);
		len = (unsigned)hl;
		if (how == NAME_NO_TOKEN) {
			/* HAProxy's 8-byte unique id TLV, written by hand, and the new length. */
			uint16_t body = (uint16_t)(sg_load_be16(buf + 14) + 3 + 8);

			buf[len++] = SG_PP2_TYPE_UNIQUE_ID;
			buf[len++] = 0;
			buf[len++] = 8;
			for (int k = 0; k < 8; k++)
				buf[len++] = (uint8_t)(d->id >> (56 - 8 * k));
			sg_store_be16(buf + 14, body);
		}
		dport = BPORT0;
	}
	memcpy(buf + len, msg, strlen(msg));
	len += (unsigned)strlen(msg);
	return udp_frame(smac, GW_MAC, 4, BE4, COAP_PORT, to, dport, buf, (uint16_t)len);
}

/* The server's reply to device i, as it reaches our backend address. */
static struct rte_mbuf *reply_frame(unsigned i, const char *msg, enum naming how)
{
	return reply_frame_from(BE_MAC, E.gwb, i, msg, how);
}

/* The backend answers every device; the gateway seals each reply to its device. */
static void downlink_round(void)
{
	struct rte_mbuf *out[RING_SIZE];
	unsigned got[N_SESS] = { 0 };
	unsigned n;

	for (unsigned i = 0; i < N_SESS; i++) {
		char msg[64];

		snprintf(msg, sizeof(msg), "2.05 Content %u", i);
		inject(E.brx[i % N_WORKERS], reply_frame(i, msg, NAME_OK));
	}
	poll_all();
	n = drain(E.dev_tx, N_WORKERS, out, RING_SIZE);
	if (n != N_SESS)
		print_drops();
	assert_int_equal(n, N_SESS);
	for (unsigned k = 0; k < n; k++) {
		struct sg_rec_hdr h[2];
		struct sg_rec_open_op op = { 0 };
		struct out o;
		int d = -1;
		char want[64];

		parse_out(out[k], &o);
		for (unsigned i = 0; i < N_SESS; i++)
			if (o.dport == E.dev[i].port)
				d = (int)i;
		assert_true(d >= 0);
		assert_int_equal(o.fam, E.dev[d].family);
		assert_memory_equal(o.dst, E.dev[d].addr, o.fam == 4 ? 4 : 16);
		assert_memory_equal(o.src, o.fam == 4 ? GW4 : GW6, o.fam == 4 ? 4 : 16);
		assert_int_equal(o.sport, DTLS_PORT);
		assert_memory_equal(rte_pktmbuf_mtod(out[k], uint8_t *), DEV_MAC, 6);
		assert_int_equal(
		        sg_rec_parse(o.payload, o.len, sg_rec_ctx_cid_len(E.dev_rec), h, 2), 1);
		op.rec = (uint8_t *)o.payload;
		op.rec_len = h[0].len;
		op.sa = E.dev[d].sa;
		assert_int_equal(sg_rec_open_burst(E.dev_rec, &op, 1), 1);
		assert_int_equal(op.type, SG_DTLS_CT_APPLICATION_DATA);
		snprintf(want, sizeof(want), "2.05 Content %d", d);
		assert_int_equal(op.pt_len, strlen(want));
		assert_memory_equal(op.rec + op.pt_off, want, op.pt_len);
		got[d]++;
	}
	free_all(out, n);
	for (unsigned i = 0; i < N_SESS; i++)
		assert_int_equal(got[i], 1);
	check_invariant();
}

static void test_uplink_downlink(void **state)
{
	(void)state;
	uplink_round();
	downlink_round();
	uplink_round(); /* sequence numbers move on, nothing is mistaken for a replay */
	downlink_round();
}

/* Inject m into worker 0's queue; the drop reason (or punt) it must end in. */
static void expect(struct rte_mbuf *m, int drop_reason, int punt_kind)
{
	struct sg_dp_counters before, after;
	struct rte_mbuf *out[RING_SIZE];
	unsigned n;

	sg_dp_counters_sum(E.dp, &before);
	inject(E.dev_rx[0], m);
	poll_all();
	sg_dp_counters_sum(E.dp, &after);
	if (drop_reason >= 0 && after.drop[drop_reason] != before.drop[drop_reason] + 1)
		fail_msg("expected one drop '%s'", sg_drop_name((enum sg_drop)drop_reason));
	if (punt_kind >= 0) {
		assert_int_equal(after.punt_by[punt_kind], before.punt_by[punt_kind] + 1);
		n = sg_dp_punt_dequeue(E.dp, out, RING_SIZE);
		assert_int_equal(n, 1);
		assert_int_equal(sg_dp_meta(E.dp, out[0])->punt, punt_kind);
		free_all(out, n);
	}
	assert_int_equal(after.forwarded_up, before.forwarded_up);
	n = drain(E.btx, N_WORKERS, out, RING_SIZE);
	assert_int_equal(n, 0);
	check_invariant();
}

static struct rte_mbuf *clone_frame(struct rte_mbuf *m)
{
	struct rte_mbuf *c = rte_pktmbuf_alloc(E.pool);

	assert_non_null(c);
	memcpy(rte_pktmbuf_mtod(c, uint8_t *), rte_pktmbuf_mtod(m, uint8_t *), m->data_len);
	c->data_len = c->pkt_len = m->data_len;
	return c;
}

/* Offset of the first DTLS record in a frame built by udp_frame(). */
static unsigned rec_off(const struct device *d)
{
	return 14 + (d->family == 4 ? 20 : 40) + 8;
}

/* Fix the UDP checksum after the test changed the payload. */
static void refix(struct rte_mbuf *m, const struct device *d)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	unsigned off = rec_off(d);
	struct rte_mbuf *n =
	        udp_frame(DEV_MAC, GW_MAC, d->family, d->addr, d->port, d->family == 4 ? GW4 : GW6,
	                  DTLS_PORT, f + off, (uint16_t)(m->data_len - off));

	memcpy(f, rte_pktmbuf_mtod(n, uint8_t *), n->data_len);
	rte_pktmbuf_free(n);
}

static void test_bad_input(void **state)
{
	static const char *const one[] = { "hello" };
	static const char *const nine[] = { "1", "2", "3", "4", "5", "6", "7", "8", "9" };
	struct device *d = &E.dev[0];  /* worker 0, IPv4, no CID */
	struct device *dc = &E.dev[2]; /* CID session */
	struct rte_mbuf *m, *c, *out[RING_SIZE];
	uint8_t *f;
	unsigned n;

	(void)state;
	/* Replayed: the same datagram twice; the first is forwarded. */
	m = dev_datagram(0, one, 1, SG_DTLS_CT_APPLICATION_DATA);
	c = clone_frame(m);
	inject(E.dev_rx[0], m);
	poll_all();
	n = drain(E.btx, N_WORKERS, out, RING_SIZE);
	assert_int_equal(n, 1);
	free_all(out, n);
	expect(c, SG_DROP_REPLAYED, -1);

	/* Forged: one ciphertext bit flipped. */
	m = dev_datagram(0, one, 1, SG_DTLS_CT_APPLICATION_DATA);
	rte_pktmbuf_mtod(m, uint8_t *)[rec_off(d) + 13 + 8 + 1] ^= 0x10;
	refix(m, d);
	expect(m, SG_DROP_AUTH_FAILED, -1);

	/* Wrong epoch. */
	m = dev_datagram(0, one, 1, SG_DTLS_CT_APPLICATION_DATA);
	rte_pktmbuf_mtod(m, uint8_t *)[rec_off(d) + 4] = 2;
	refix(m, d);
	expect(m, SG_DROP_DTLS_EPOCH, -1);

	/* Truncated record: the length runs past the datagram. */
	m = dev_datagram(0, one, 1, SG_DTLS_CT_APPLICATION_DATA);
	f = rte_pktmbuf_mtod(m, uint8_t *);
	{
		struct rte_mbuf *t =
		        udp_frame(DEV_MAC, GW_MAC, 4, d->addr, d->port, GW4, DTLS_PORT,
		                  f + rec_off(d), (uint16_t)(m->data_len - rec_off(d) - 5));

		rte_pktmbuf_free(m);
		expect(t, SG_DROP_DTLS_MALFORMED, -1);
	}

	/* More records in one datagram than policy allows. */
	expect(dev_datagram(0, nine, 9, SG_DTLS_CT_APPLICATION_DATA), SG_DROP_TOO_MANY_RECORDS, -1);

	/*
	 * A handshake message inside a CID record (its type is sealed): renegotiation,
	 * refused. A record whose plaintext type is handshake goes to the handshake
	 * server instead (test_handshake_epoch1).
	 */
	expect(dev_datagram(2, one, 1, SG_DTLS_CT_HANDSHAKE), SG_DROP_RENEGOTIATION, -1);

	/*
	 * But the device's Finished again, sealed under the session's keys in a CID
	 * record (our final flight was lost, RFC 6347 §4.2.4): punted with its
	 * session and plaintext, for the handshake server to send that flight
	 * again. Its replay is only a replay.
	 */
	{
		const struct device *cd = &E.dev[2];
		uint8_t fin[SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN] = {
			SG_TLS_HT_FINISHED,    0, 0, SG_TLS_VERIFY_DATA_LEN, 0, 1, 0, 0, 0, 0, 0,
			SG_TLS_VERIFY_DATA_LEN
		};
		uint8_t buf[600];
		struct sg_rec_seal_op op = {
			.buf = buf,
			.buf_len = sizeof(buf),
			.pt_off = 64,
			.pt_len = sizeof(fin),
			.sa = cd->sa,
			.cid = cd->cid,
			.cid_len = (uint8_t)sg_sess_cid_len(E.tab),
			.type = SG_DTLS_CT_HANDSHAKE,
		};
		struct sg_dp_counters before, after;
		struct rte_mbuf *f1, *f2;

		assert_true(cd->use_cid);
		memset(fin + SG_DTLS_HS_HDR_LEN, 0xa5, SG_TLS_VERIFY_DATA_LEN);
		memcpy(buf + 64, fin, sizeof(fin));
		assert_int_equal(sg_rec_seal_burst(E.dev_rec, &op, 1), 1);
		f1 = udp_frame(DEV_MAC, GW_MAC, cd->family, cd->addr, cd->port,
		               cd->family == 4 ? GW4 : GW6, DTLS_PORT, buf + op.rec_off,
		               (uint16_t)op.rec_len);
		f2 = clone_frame(f1);
		sg_dp_counters_sum(E.dp, &before);
		inject(E.dev_rx[0], f1);
		poll_all();
		sg_dp_counters_sum(E.dp, &after);
		assert_int_equal(after.punted, before.punted + 1);
		assert_int_equal(after.punt_by[SG_DP_PUNT_FINISHED],
		                 before.punt_by[SG_DP_PUNT_FINISHED] + 1);
		n = sg_dp_punt_dequeue(E.dp, out, RING_SIZE);
		assert_int_equal(n, 1);
		assert_int_equal(sg_dp_meta(E.dp, out[0])->punt, SG_DP_PUNT_FINISHED);
		assert_true(sg_dp_meta(E.dp, out[0])->session == cd->id);
		assert_int_equal(out[0]->data_len, sizeof(fin));
		assert_memory_equal(rte_pktmbuf_mtod(out[0], uint8_t *), fin, sizeof(fin));
		free_all(out, n);
		check_invariant();
		expect(f2, SG_DROP_REPLAYED, -1);
	}

	/* An authenticated alert goes to the control plane with its session. */
	{
		static const char alert[] = { 1, 0 }; /* warning close_notify */
		const char *const al[] = { alert };
		struct sg_dp_counters before, after;

		/* strlen() of the alert is 1 ("\1"): a one-byte record is enough to test the path.
		 */
		m = dev_datagram(0, al, 1, SG_DTLS_CT_ALERT);
		sg_dp_counters_sum(E.dp, &before);
		inject(E.dev_rx[0], m);
		poll_all();
		sg_dp_counters_sum(E.dp, &after);
		assert_int_equal(after.punted, before.punted + 1);
		n = sg_dp_punt_dequeue(E.dp, out, RING_SIZE);
		assert_int_equal(n, 1);
		assert_int_equal(sg_dp_meta(E.dp, out[0])->punt, SG_DP_PUNT_ALERT);
		assert_true(sg_dp_meta(E.dp, out[0])->session == d->id);
		assert_int_equal(out[0]->data_len, 1);
		assert_int_equal(rte_pktmbuf_mtod(out[0], uint8_t *)[0], 1);
		free_all(out, n);
	}

	/* Handshake records (epoch 0) and records of unknown peers are punted. */
	{
		uint8_t ch[40] = {
			SG_DTLS_CT_HANDSHAKE, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 27
		};
		uint8_t other[4] = { 198, 18, 1, 200 };

		expect(udp_frame(DEV_MAC, GW_MAC, 4, d->addr, d->port, GW4, DTLS_PORT, ch,
		                 sizeof(ch)),
		       -1, SG_DP_PUNT_HANDSHAKE);
		m = dev_datagram(0, one, 1, SG_DTLS_CT_APPLICATION_DATA);
		f = rte_pktmbuf_mtod(m, uint8_t *);
		c = udp_frame(DEV_MAC, GW_MAC, 4, other, 1234, GW4, DTLS_PORT, f + rec_off(d),
		              (uint16_t)(m->data_len - rec_off(d)));
		rte_pktmbuf_free(m);
		expect(c, -1, SG_DP_PUNT_UNKNOWN);

		/*
		 * The same ClientHello from an IPv4-mapped IPv6 source: no device has
		 * one, and the session table would take it for the IPv4 address it
		 * embeds. Dropped, never punted to the handshake server.
		 */
		{
			static const uint8_t mapped[16] = { [10] = 0xff, 0xff, 198, 18, 1, 10 };

			expect(udp_frame(DEV_MAC, GW_MAC, 6, mapped, d->port, GW6, DTLS_PORT, ch,
			                 sizeof(ch)),
			       SG_DROP_BAD_SOURCE, -1);
		}
	}

	/* A CID record whose CID we never issued. */
	m = dev_datagram(2, one, 1, SG_DTLS_CT_APPLICATION_DATA);
	f = rte_pktmbuf_mtod(m, uint8_t *);
	for (unsigned k = 0; k < sg_sess_cid_len(E.tab); k++)
		f[rec_off(dc) + SG_DTLS_HDR_OFF_CID + k] ^= 0x5a;
	refix(m, dc);
	{
		struct sg_dp_counters before, after;

		sg_dp_counters_sum(E.dp, &before);
		inject(E.dev_rx[0], m);
		poll_all();
		sg_dp_counters_sum(E.dp, &after);
		/* Forged (fails the keyed check or the range), never authenticated or forwarded. */
		assert_int_equal(after.drop[SG_DROP_CID_FORGED] + after.punt_by[SG_DP_PUNT_UNKNOWN],
		                 before.drop[SG_DROP_CID_FORGED] +
		                         before.punt_by[SG_DP_PUNT_UNKNOWN] + 1);
		assert_int_equal(after.forwarded_up, before.forwarded_up);
		n = sg_dp_punt_dequeue(E.dp, out, RING_SIZE);
		free_all(out, n);
		check_invariant();
	}

	/* L3/L4: another UDP port, a bad IPv4 header checksum, a fragment. */
	m = dev_datagram(0, one, 1, SG_DTLS_CT_APPLICATION_DATA);
	f = rte_pktmbuf_mtod(m, uint8_t *);
	c = udp_frame(DEV_MAC, GW_MAC, 4, d->addr, d->port, GW4, 9999, f + rec_off(d),
	              (uint16_t)(m->data_len - rec_off(d)));
	expect(c, SG_DROP_UDP_PORT, -1);
	c = clone_frame(m);
	rte_pktmbuf_mtod(c, uint8_t *)[14 + 10] ^= 1;
	expect(c, SG_DROP_IP_CHECKSUM, -1);
	f[14 + 6] = 0x20; /* more fragments */
	sg_store_be16(f + 14 + 10, 0);
	sg_store_be16(f + 14 + 10, (uint16_t)~tc_csum(f + 14, 20, 0));
	expect(m, SG_DROP_IP_FRAGMENT, -1);

	/* A reply from the backend for a port no session holds. */
	{
		uint8_t msg[] = "late";
		struct rte_mbuf *r = udp_frame(BE_MAC, GW_MAC, 4, BE4, COAP_PORT, E.gwb,
		                               (uint16_t)(BPORT0 + 999), msg, 4);
		struct sg_dp_counters before, after;

		sg_dp_counters_sum(E.dp, &before);
		inject(E.brx[0], r);
		poll_all();
		sg_dp_counters_sum(E.dp, &after);
		assert_int_equal(after.drop[SG_DROP_BACKEND_UNKNOWN],
		                 before.drop[SG_DROP_BACKEND_UNKNOWN] + 1);
	}

	/* Good traffic of every session was not disturbed. */
	uplink_round();
	downlink_round();
}

static void test_proxy_mode(void **state)
{
	uint8_t junk[] = "no proxy header";
	struct sg_dp_counters before, after;

	(void)state;
	uplink_round();
	downlink_round();
	/* A backend datagram without a PROXY header cannot name its device. */
	sg_dp_counters_sum(E.dp, &before);
	inject(E.brx[0],
	       udp_frame(BE_MAC, GW_MAC, 4, BE4, COAP_PORT, E.gwb, BPORT0, junk, sizeof(junk)));
	poll_all();
	sg_dp_counters_sum(E.dp, &after);
	assert_int_equal(after.drop[SG_DROP_PROXY_HEADER], before.drop[SG_DROP_PROXY_HEADER] + 1);
	check_invariant();
}

/*
 * RFC 6347 §4.2.8: a device handshakes again and its session is replaced.
 * A record it sealed under the old keys and a record of the new keys arrive
 * in the wrong order: both are forwarded, the late one opened with the kept
 * previous SA, and it does not count against the new key's forgery limit.
 * Once the previous SA is retired, old-key records fail authentication.
 */
static void test_rekey_in_flight(void **state)
{
	static const char *const old_msg[] = { "sealed under the old keys" };
	static const char *const new_msg[] = { "sealed under the new keys" };
	static const char *const late_msg[] = { "too late" };
	const unsigned i = 0, window = SG_REPLAY_WINDOW_DEFAULT;
	struct device *d = &E.dev[i];
	struct sg_rec_sa *old_dev = d->sa, *srv = tc_sa_alloc(window);
	struct sg_rec_sa *new_dev = tc_sa_alloc(window);
	struct sg_rec_sa_params p = { .aead = (enum sg_aead)d->sa->aead,
		                      .epoch = 1,
		                      .tx_seq = 1,
		                      .rx_seq = 1,
		                      .flags = d->use_cid ? SG_SA_F_RX_CID | SG_SA_F_TX_CID : 0 };
	struct tc_keys keys;
	struct rte_mbuf *m_old, *m_new, *out[RING_SIZE];
	struct sg_dp_counters before, after;
	struct sg_sess_info info;
	int got_old = 0, got_new = 0;
	unsigned n;

	(void)state;
	m_old = dev_datagram(i, old_msg, 1, SG_DTLS_CT_APPLICATION_DATA);

	/* The new handshake's keys, gateway and device side. */
	make_keys(i + 1000, &keys);
	tc_sa_pair(srv, new_dev, window, &p, &keys);
	assert_int_equal(sg_sess_replace(E.tab, d->id, srv), 0);
	d->sa = new_dev;
	m_new = dev_datagram(i, new_msg, 1, SG_DTLS_CT_APPLICATION_DATA);

	sg_dp_counters_sum(E.dp, &before);
	inject(E.dev_rx[0], m_new);
	inject(E.dev_rx[0], m_old);
	poll_all();
	sg_dp_counters_sum(E.dp, &after);
	n = drain(E.btx, N_WORKERS, out, RING_SIZE);
	assert_int_equal(n, 2);
	for (unsigned k = 0; k < n; k++) {
		char msg[256];
		struct sg_pp2_info pp;

		assert_int_equal(backend_msg(out[k], msg, sizeof(msg), &pp), (int)i);
		got_old += strcmp(msg, old_msg[0]) == 0;
		got_new += strcmp(msg, new_msg[0]) == 0;
	}
	free_all(out, n);
	assert_int_equal(got_old, 1);
	assert_int_equal(got_new, 1);
	assert_int_equal(after.records_opened_prev, before.records_opened_prev + 1);
	assert_int_equal(after.drop[SG_DROP_AUTH_FAILED], before.drop[SG_DROP_AUTH_FAILED]);
	assert_int_equal(sg_sess_get(E.tab, d->id, &info), 0);
	assert_int_equal(info.auth_failures, 0);
	check_invariant();

	/* The grace ends: the previous keys open nothing any more. */
	assert_int_equal(sg_sess_retire_prev(E.tab, d->id), 0);
	d->sa = old_dev;
	m_old = dev_datagram(i, late_msg, 1, SG_DTLS_CT_APPLICATION_DATA);
	d->sa = new_dev;
	expect(m_old, SG_DROP_AUTH_FAILED, -1);

	tc_sa_free(old_dev, window);
	tc_sa_free(srv, window);
}

/*
 * A datagram of device i holding one handshake record in epoch 1, sealed under
 * the session's own keys or, for a new handshake of the device, under other
 * keys starting at write sequence seq (its client Finished). Copied into
 * rec (its bytes as sent), *rec_len set.
 */
static struct rte_mbuf *dev_finished(unsigned i, bool other_keys, uint64_t seq, uint8_t *rec,
                                     uint16_t *rec_len)
{
	static const char *const fin[] = {
		"client Finished"
	}; /* the data plane reads no plaintext */
	struct device *d = &E.dev[i];
	struct sg_rec_sa *own = d->sa, *sa = NULL;
	struct rte_mbuf *m;

	if (other_keys) {
		struct tc_keys k;
		struct sg_rec_sa_params p = {
			.aead = (enum sg_aead)own->aead, .epoch = 1, .tx_seq = seq, .rx_seq = 0
		};

		make_keys(i + 100, &k);
		sa = tc_sa_alloc(SG_REPLAY_WINDOW_DEFAULT);
		tc_sa_pair(NULL, sa, SG_REPLAY_WINDOW_DEFAULT, &p, &k);
		d->sa = sa;
	}
	m = dev_datagram(i, fin, 1, SG_DTLS_CT_HANDSHAKE);
	d->sa = own;
	tc_sa_free(sa, SG_REPLAY_WINDOW_DEFAULT);
	*rec_len = (uint16_t)(m->data_len - rec_off(d));
	memcpy(rec, rte_pktmbuf_mtod(m, uint8_t *) + rec_off(d), *rec_len);
	return m;
}

/*
 * A handshake record in epoch 1 that starts a datagram is the handshake
 * server's, whatever keys sealed it: the client Finished of a device's new
 * handshake from its live session's address and port (RFC 6347 §4.2.8; GnuTLS
 * sends it alone), or a Finished repeated because our last flight was lost
 * (§4.2.4). It is punted byte for byte and never opened with the live
 * session's keys: nothing counts as a replay or a forgery against them, and the
 * session goes on. Before, such a Finished was dropped (replayed, auth_failed)
 * and the device's new handshake could never complete.
 */
static void test_handshake_epoch1(void **state)
{
	static const char *const one[] = { "after" };
	static const struct {
		const char *what;
		unsigned dev; /* 0: IPv4, 1: IPv6; both 4-tuple sessions */
		bool other_keys;
		uint64_t seq;
	} rows[] = {
		{ "new handshake's Finished, sequence 0 (was: replayed)", 0, true, 0 },
		{ "new handshake's Finished over IPv6 (was: replayed)", 1, true, 0 },
		{ "new handshake's Finished, sequence ahead (was: auth_failed)", 0, true, 9 },
		{ "Finished repeated under the session's keys (was: renegotiation)", 0, false, 0 },
	};
	struct rte_mbuf *out[RING_SIZE];
	struct sg_dp_counters before, after;
	uint8_t rec[256];
	uint16_t rec_len;
	unsigned n;

	(void)state;
	sg_dp_counters_sum(E.dp, &before);
	for (size_t r = 0; r < SG_ARRAY_SIZE(rows); r++) {
		struct device *d = &E.dev[rows[r].dev];
		struct sg_dp_counters c0, c1;
		uint8_t laddr[16], paddr[16];
		uint16_t lport, pport, len;
		const uint8_t *payload;

		assert_false(d->use_cid);
		print_message("#   %s\n", rows[r].what);
		sg_dp_counters_sum(E.dp, &c0);
		inject(E.dev_rx[rows[r].dev % N_WORKERS],
		       dev_finished(rows[r].dev, rows[r].other_keys, rows[r].seq, rec, &rec_len));
		poll_all();
		sg_dp_counters_sum(E.dp, &c1);
		for (unsigned k = 0; k < SG_DROP_MAX; k++)
			if (c1.drop[k] != c0.drop[k])
				fail_msg("%s: dropped as '%s'", rows[r].what,
				         sg_drop_name((enum sg_drop)k));
		assert_int_equal(c1.punt_by[SG_DP_PUNT_HANDSHAKE],
		                 c0.punt_by[SG_DP_PUNT_HANDSHAKE] + 1);
		assert_int_equal(c1.punted, c0.punted + 1);
		assert_int_equal(c1.records_opened, c0.records_opened);
		n = sg_dp_punt_dequeue(E.dp, out, RING_SIZE);
		assert_int_equal(n, 1);
		assert_int_equal(sg_dp_meta(E.dp, out[0])->punt, SG_DP_PUNT_HANDSHAKE);
		assert_int_equal(
		        sg_dp_punt_udp(E.dp, out[0], laddr, paddr, &lport, &pport, &payload, &len),
		        0);
		assert_int_equal(ntohs(pport), d->port);
		assert_int_equal(len, rec_len);
		assert_memory_equal(payload, rec, rec_len);
		free_all(out, n);
		check_invariant();
	}
	/* Each session goes on: its device's next record is forwarded. */
	for (unsigned i = 0; i < 2; i++) {
		inject(E.dev_rx[i % N_WORKERS],
		       dev_datagram(i, one, 1, SG_DTLS_CT_APPLICATION_DATA));
		poll_all();
		n = drain(E.be_tx, N_WORKERS, out, RING_SIZE);
		assert_int_equal(n, 1);
		free_all(out, n);
	}
	sg_dp_counters_sum(E.dp, &after);
	assert_int_equal(after.forwarded_up, before.forwarded_up + 2);
	for (unsigned k = 0; k < SG_DROP_MAX; k++)
		assert_int_equal(after.drop[k], before.drop[k]);
	check_invariant();
}

/*
 * RFC 9147 §4.5.3: the forgery that brings a session's receive key to its
 * limit (CCM_8: 128) is dropped like the others and a notice naming the
 * session goes to the control plane; the key then opens nothing more, and
 * each later datagram for it repeats the notice until the session is gone.
 */
static void test_forgery_limit(void **state)
{
	static const char *const one[] = { "forged" };
	const unsigned i = 0; /* AES-128-CCM_8, no CID */
	struct device *d = &E.dev[i];
	struct rte_mbuf *out[RING_SIZE];
	struct sg_dp_counters before, after;
	unsigned n, notices = 0;

	(void)state;
	assert_int_equal(d->sa->aead, SG_AEAD_AES_128_CCM_8);
	assert_false(d->use_cid);
	sg_dp_counters_sum(E.dp, &before);
	for (unsigned k = 0; k < SG_DTLS_INTEGRITY_LIMIT_CCM_8; k++) {
		struct rte_mbuf *m = dev_datagram(i, one, 1, SG_DTLS_CT_APPLICATION_DATA);

		rte_pktmbuf_mtod(m, uint8_t *)[m->data_len - 1] ^= 1; /* the tag */
		refix(m, d);
		inject(E.dev_rx[0], m);
		if (k % 64 == 63)
			poll_all();
	}
	poll_all();
	sg_dp_counters_sum(E.dp, &after);
	assert_int_equal(after.drop[SG_DROP_AUTH_FAILED],
	                 before.drop[SG_DROP_AUTH_FAILED] + SG_DTLS_INTEGRITY_LIMIT_CCM_8);
	assert_int_equal(after.punt_by[SG_DP_PUNT_KEY_EXHAUSTED],
	                 before.punt_by[SG_DP_PUNT_KEY_EXHAUSTED] + 1);
	assert_int_equal(after.punted, before.punted); /* a notice, not an outcome */
	/* A good record now: refused before any crypto, and the notice again. */
	inject(E.dev_rx[0], dev_datagram(i, one, 1, SG_DTLS_CT_APPLICATION_DATA));
	poll_all();
	sg_dp_counters_sum(E.dp, &after);
	assert_int_equal(after.drop[SG_DROP_KEY_EXHAUSTED], before.drop[SG_DROP_KEY_EXHAUSTED] + 1);
	assert_int_equal(after.forwarded_up, before.forwarded_up);
	n = sg_dp_punt_dequeue(E.dp, out, RING_SIZE);
	for (unsigned k = 0; k < n; k++) {
		const struct sg_dp_meta *meta = sg_dp_meta(E.dp, out[k]);

		if (meta->punt == SG_DP_PUNT_KEY_EXHAUSTED) {
			assert_int_equal(meta->session, d->id);
			assert_int_equal(out[k]->pkt_len, 0);
			notices++;
		}
	}
	free_all(out, n);
	assert_int_equal(notices, 2);
	assert_int_equal(drain(E.btx, N_WORKERS, out, RING_SIZE), 0);
	check_invariant();
}

/*
 * RFC 8449 §4 / RFC 6066 §4: a device that takes at most 512 bytes per
 * record gets none larger. A backend datagram is one CoAP message, which
 * is one record over DTLS, so one that does not fit is
 * dropped and counted as record_limit, never split or sent oversized. For
 * a CID session the limit covers the inner plaintext (content + type).
 */
static void test_record_limit(void **state)
{
	static const struct {
		unsigned dev; /* 0: no CID; 2: CID */
		unsigned len;
		bool sent;
	} rows[] = {
		{ 0, 511, true },   { 0, 512, true }, { 0, 513, false },
		{ 0, 1200, false }, { 2, 511, true }, { 2, 512, false },
	};
	static uint8_t payload[1400];

	(void)state;
	assert_false(E.dev[0].use_cid);
	assert_true(E.dev[2].use_cid);
	for (unsigned r = 0; r < SG_ARRAY_SIZE(rows); r++) {
		struct device *d = &E.dev[rows[r].dev];
		struct rte_mbuf *out[RING_SIZE];
		struct sg_dp_counters before, after;
		unsigned n;

		memset(payload, 'a' + (int)r, rows[r].len);
		sg_dp_counters_sum(E.dp, &before);
		inject(E.be_rx[0], udp_frame(BE_MAC, GW_MAC, 4, BE4, COAP_PORT, GWB4, d->bport,
		                             payload, (uint16_t)rows[r].len));
		poll_all();
		sg_dp_counters_sum(E.dp, &after);
		n = drain(E.dev_tx, N_WORKERS, out, RING_SIZE);
		if (rows[r].sent) {
			struct sg_rec_open_op op;
			struct out o;

			assert_int_equal(n, 1);
			assert_int_equal(after.forwarded_down, before.forwarded_down + 1);
			assert_int_equal(after.drop[SG_DROP_RECORD_LIMIT],
			                 before.drop[SG_DROP_RECORD_LIMIT]);
			parse_out(out[0], &o);
			open_reply(&o, d->sa, &op);
			assert_int_equal(op.pt_len, rows[r].len);
			assert_memory_equal(op.rec + op.pt_off, payload, rows[r].len);
		} else {
			assert_int_equal(n, 0);
			assert_int_equal(after.forwarded_down, before.forwarded_down);
			assert_int_equal(after.drop[SG_DROP_RECORD_LIMIT],
			                 before.drop[SG_DROP_RECORD_LIMIT] + 1);
		}
		free_all(out, n);
		check_invariant();
	}
	/* The sessions go on as before, both ways. */
	uplink_round();
	downlink_round();
}

/* The device port's sealed reply to device i: its destination address and port. */
static void reply_dest(unsigned i, uint8_t addr[16], uint16_t *port)
{
	struct device *d = &E.dev[i];
	struct rte_mbuf *out[RING_SIZE];
	const char *msg = "2.05";
	struct out o;

	inject(E.brx[0], udp_frame(BE_MAC, GW_MAC, 4, BE4, COAP_PORT, E.gwb, d->bport,
	                           (const uint8_t *)msg, (uint16_t)strlen(msg)));
	poll_all();
	assert_int_equal(drain(E.dev_tx, N_WORKERS, out, RING_SIZE), 1);
	parse_out(out[0], &o);
	assert_int_equal(o.fam, d->family);
	memset(addr, 0, 16);
	memcpy(addr, o.dst, d->family == 4 ? 4 : 16);
	*port = o.dport;
	free_all(out, 1);
}

/* Device i's datagram of one record of type (any bytes) as if it came from addr:port. */
static struct rte_mbuf *dev_record_from(unsigned i, const uint8_t *addr, uint16_t port,
                                        uint8_t type, const uint8_t *pt, uint16_t len)
{
	struct device *d = &E.dev[i];
	uint8_t buf[700];
	struct sg_rec_seal_op op = { 0 };

	assert_true(len <= 512);
	op.buf = buf;
	op.buf_len = sizeof(buf);
	op.pt_off = 64;
	op.pt_len = len;
	memcpy(buf + 64, pt, len);
	op.sa = d->sa;
	op.cid = d->cid;
	op.cid_len = d->use_cid ? (uint8_t)sg_sess_cid_len(E.tab) : 0;
	op.type = type;
	assert_int_equal(sg_rec_seal_burst(E.dev_rec, &op, 1), 1);
	return udp_frame(DEV_MAC, GW_MAC, d->family, addr, port, d->family == 4 ? GW4 : GW6,
	                 DTLS_PORT, buf + op.rec_off, (uint16_t)op.rec_len);
}

/* Device i's application record msg from addr:port. */
static struct rte_mbuf *dev_datagram_from(unsigned i, const uint8_t *addr, uint16_t port,
                                          const char *msg)
{
	return dev_record_from(i, addr, port, SG_DTLS_CT_APPLICATION_DATA, (const uint8_t *)msg,
	                       (uint16_t)strlen(msg));
}

/* An RFC 9853 message of device i (msg_type ‖ cookie) from addr:port. */
static struct rte_mbuf *dev_rrc_from(unsigned i, const uint8_t *addr, uint16_t port, uint8_t type,
                                     const uint8_t cookie[SG_RRC_COOKIE_LEN])
{
	uint8_t msg[SG_RRC_MSG_LEN];

	msg[0] = type;
	memcpy(msg + 1, cookie, SG_RRC_COOKIE_LEN);
	return dev_record_from(i, addr, port, SG_DTLS_CT_RRC, msg, sizeof(msg));
}

/*
 * The one frame the gateway sent to device i, opened with its keys: where
 * it went (o), its content type and plaintext. Frees it.
 */
static size_t dev_receive(unsigned i, struct out *o, uint8_t *type, uint8_t *pt, size_t cap)
{
	struct rte_mbuf *out[RING_SIZE];
	struct sg_rec_open_op op;
	size_t n;

	assert_int_equal(drain(E.dev_tx, N_WORKERS, out, RING_SIZE), 1);
	parse_out(out[0], o);
	open_reply(o, E.dev[i].sa, &op);
	*type = op.type;
	n = op.pt_len;
	assert_true(n <= cap);
	memcpy(pt, op.rec + op.pt_off, n);
	free_all(out, 1);
	o->payload = NULL; /* freed */
	return n;
}

/* Inject m into worker 0's queue (sessions of worker 1 are handed off) and poll. */
static void deliver(struct rte_mbuf *m, unsigned to_backend)
{
	struct rte_mbuf *out[RING_SIZE];

	inject(E.dev_rx[0], m);
	poll_all();
	assert_int_equal(drain(E.be_tx, N_WORKERS, out, RING_SIZE), to_backend);
	free_all(out, to_backend);
}

/* Nothing was sent to the devices. */
static void no_device_frames(void)
{
	struct rte_mbuf *out[RING_SIZE];
	unsigned n = drain(E.dev_tx, N_WORKERS, out, RING_SIZE);

	free_all(out, n);
	assert_int_equal(n, 0);
}

/*
 * Device i's record relayed from a new address new_addr: forwarded to the
 * backend, the session held where it was, and `challenges` path_challenges
 * (RFC 9853) sent for it.
 */
static void relayed(unsigned i, const uint8_t *new_addr, unsigned challenges)
{
	struct sg_dp_counters c0, c1;

	sg_dp_counters_sum(E.dp, &c0);
	deliver(dev_datagram_from(i, new_addr, 42000, "relayed"), 1);
	sg_dp_counters_sum(E.dp, &c1);
	assert_int_equal(c1.peer_moves, c0.peer_moves);
	assert_int_equal(c1.peer_moves_held, c0.peer_moves_held + 1);
	assert_int_equal(c1.rrc_challenges, c0.rrc_challenges + challenges);
}

/* The session of device i still sends its replies to addr:port. */
static void replies_go_to(unsigned i, const uint8_t *addr, uint16_t port)
{
	uint8_t got[16];
	uint16_t gport;

	reply_dest(i, got, &gport);
	assert_memory_equal(got, addr, E.dev[i].family == 4 ? 4 : 16);
	assert_int_equal(gport, port);
}

/* A new address of device i's family: 198.18.1.x or fd00:5347:0:1::x. */
static void addr_of(unsigned i, uint8_t last, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (E.dev[i].family == 4) {
		memcpy(addr, (uint8_t[]){ 198, 18, 1, last }, 4);
	} else {
		memcpy(addr, GW6, 16);
		addr[15] = last;
	}
	assert_int_equal(sg_dp_neigh_set(E.dp, 0, E.dev[i].family, addr, DEV_MAC), 0);
}

/*
 * RFC 9146 §6: without a way to check the new address, the receiver must not
 * follow a CID device to it. The default (peer_move: verified) keeps a
 * session without rrc where it is: the record from the new address is
 * forwarded (it authenticated) but replies still go to the old one, the
 * held move is counted, and no challenge goes anywhere. Such a session
 * cannot use RRC messages either (RFC 9853 §3): one is refused unopened.
 */
static void test_cid_peer_held(void **state)
{
	const unsigned i = 2; /* CID, IPv4, no rrc */
	struct device *d = &E.dev[i];
	uint8_t new_addr[16], cookie[SG_RRC_COOKIE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct sg_dp_counters c0, c1;

	(void)state;
	assert_true(d->use_cid);
	assert_false(d->sa->flags & SG_SA_F_RRC);
	addr_of(i, 200, new_addr);
	replies_go_to(i, d->addr, d->port);

	relayed(i, new_addr, 0);
	no_device_frames();
	replies_go_to(i, d->addr, d->port);

	/* A path_challenge on a session without rrc: refused by the record layer. */
	d->sa->flags |= SG_SA_F_RRC; /* only the device's side claims it */
	sg_dp_counters_sum(E.dp, &c0);
	deliver(dev_rrc_from(i, d->addr, d->port, SG_RRC_PATH_CHALLENGE, cookie), 0);
	d->sa->flags &= (uint8_t)~SG_SA_F_RRC;
	sg_dp_counters_sum(E.dp, &c1);
	assert_int_equal(c1.drop[SG_DROP_INNER_PLAINTEXT], c0.drop[SG_DROP_INNER_PLAINTEXT] + 1);
	assert_int_equal(c1.consumed, c0.consumed);
	no_device_frames();
	check_invariant();
}

/*
 * peer_move: unverified (trusted paths): a session without rrc follows the
 * newest authenticated record to its new address at once, as RFC 9146 §6
 * describes, and an older record or a forgery from elsewhere moves nothing.
 */
static void test_cid_peer_unverified(void **state)
{
	const unsigned i = 2; /* CID, IPv4 */
	struct device *d = &E.dev[i];
	struct rte_mbuf *late, *forged;
	struct sg_dp_counters c0, c1;
	uint8_t new_addr[16], old_rec[16];

	(void)state;
	assert_true(d->use_cid);
	addr_of(i, 200, new_addr);
	addr_of(i, 201, old_rec);
	replies_go_to(i, d->addr, d->port);

	/* A record sealed now but delivered late, from a third address. */
	late = dev_datagram_from(i, old_rec, 43000, "late");
	sg_dp_counters_sum(E.dp, &c0);
	deliver(dev_datagram_from(i, new_addr, 42000, "moved"), 1);
	sg_dp_counters_sum(E.dp, &c1);
	assert_int_equal(c1.peer_moves, c0.peer_moves + 1);
	assert_int_equal(c1.peer_moves_held, c0.peer_moves_held);
	replies_go_to(i, new_addr, 42000);

	/* The late record is still good (inside the window) but not the newest. */
	deliver(late, 1);
	/* A forgery from elsewhere is dropped and moves nothing either. */
	forged = dev_datagram_from(i, old_rec, 43000, "forged");
	rte_pktmbuf_mtod(forged, uint8_t *)[forged->data_len - 1] ^= 1;
	expect(forged, SG_DROP_UDP_CHECKSUM, -1);
	forged = dev_datagram_from(i, old_rec, 43000, "forged");
	rte_pktmbuf_mtod(forged, uint8_t *)[forged->data_len - 1] ^= 1;
	{
		struct device saved = *d;

		memcpy(d->addr, old_rec, 4);
		d->port = 43000;
		refix(forged, d);
		*d = saved;
	}
	expect(forged, SG_DROP_AUTH_FAILED, -1);
	sg_dp_counters_sum(E.dp, &c0);
	assert_int_equal(c0.peer_moves, c1.peer_moves);
	replies_go_to(i, new_addr, 42000);
	check_invariant();
}

/* A datagram that must end in exactly one counter: the drop reason given, or consumed. */
static void rrc_expect(struct rte_mbuf *m, int drop_reason)
{
	struct sg_dp_counters before, after;

	sg_dp_counters_sum(E.dp, &before);
	deliver(m, 0);
	sg_dp_counters_sum(E.dp, &after);
	if (drop_reason < 0) {
		assert_int_equal(after.consumed, before.consumed + 1);
	} else {
		assert_int_equal(after.consumed, before.consumed);
		if (after.drop[drop_reason] != before.drop[drop_reason] + 1)
			fail_msg("expected one drop '%s'", sg_drop_name((enum sg_drop)drop_reason));
	}
	check_invariant();
}

/*
 * RFC 9853 on a CID session that negotiated rrc (device 2: IPv4, worker 0;
 * device 5: IPv6, worker 1, so everything is handed off first):
 *   - an authenticated newest record relayed from a new address is
 *     forwarded but moves nothing: a path_challenge with a fresh cookie goes
 *     to the new address (§5.1), replies keep going to the old one;
 *   - while that check is pending, more records from there send no more
 *     challenges;
 *   - a path_response with a wrong cookie, or the right cookie from another
 *     address, is refused (§5.4), a forged one fails authentication: no move;
 *   - the right path_response from the new address moves the session; a
 *     replay of it is only a replay;
 *   - the device's own path_challenge is answered to where it came from,
 *     with its cookie (§5.4); path_drop, unknown and malformed messages are
 *     refused and counted;
 *   - a check nobody answers times out (§5.5): the answer after that is
 *     refused and the session stays.
 */
static void test_rrc_peer_move(void **state)
{
	static const unsigned devs[] = { 2, 5 };

	(void)state;
	for (unsigned t = 0; t < SG_ARRAY_SIZE(devs); t++) {
		const unsigned i = devs[t];
		struct device *d = &E.dev[i];
		uint8_t new_addr[16], other[16], third[16], pt[64], type;
		uint8_t cookie[SG_RRC_COOKIE_LEN], wrong[SG_RRC_COOKIE_LEN];
		uint8_t mine[SG_RRC_COOKIE_LEN] = { 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, (uint8_t)i };
		struct sg_dp_counters c0, c1;
		struct rte_mbuf *good, *copy;
		struct out o;
		size_t n;

		assert_true(d->use_cid);
		assert_true(d->sa->flags & SG_SA_F_RRC);
		addr_of(i, 200, new_addr);
		addr_of(i, 201, other);
		addr_of(i, 202, third);
		replies_go_to(i, d->addr, d->port);

		/* Relayed from a new address: forwarded, held, challenged. */
		relayed(i, new_addr, 1);
		n = dev_receive(i, &o, &type, pt, sizeof(pt));
		assert_int_equal(o.fam, d->family);
		assert_memory_equal(o.dst, new_addr, d->family == 4 ? 4 : 16);
		assert_int_equal(o.dport, 42000);
		assert_memory_equal(o.src, d->family == 4 ? GW4 : GW6, d->family == 4 ? 4 : 16);
		assert_int_equal(o.sport, DTLS_PORT);
		assert_int_equal(type, SG_DTLS_CT_RRC);
		assert_int_equal(n, SG_RRC_MSG_LEN);
		assert_int_equal(pt[0], SG_RRC_PATH_CHALLENGE);
		memcpy(cookie, pt + 1, sizeof(cookie));
		replies_go_to(i, d->addr, d->port);

		/* More from there while the check is pending: no second challenge. */
		sg_dp_counters_sum(E.dp, &c0);
		deliver(dev_datagram_from(i, new_addr, 42000, "again"), 1);
		sg_dp_counters_sum(E.dp, &c1);
		assert_int_equal(c1.peer_moves_held, c0.peer_moves_held + 1);
		assert_int_equal(c1.rrc_challenges, c0.rrc_challenges);
		no_device_frames();

		/* Wrong cookie; right cookie from elsewhere; forged: no move. */
		memcpy(wrong, cookie, sizeof(wrong));
		wrong[7] ^= 1;
		sg_dp_counters_sum(E.dp, &c0);
		rrc_expect(dev_rrc_from(i, new_addr, 42000, SG_RRC_PATH_RESPONSE, wrong),
		           SG_DROP_RRC_REFUSED);
		rrc_expect(dev_rrc_from(i, other, 42000, SG_RRC_PATH_RESPONSE, cookie),
		           SG_DROP_RRC_REFUSED);
		rrc_expect(dev_rrc_from(i, new_addr, 42001, SG_RRC_PATH_RESPONSE, cookie),
		           SG_DROP_RRC_REFUSED);
		{
			struct rte_mbuf *f =
			        dev_rrc_from(i, new_addr, 42000, SG_RRC_PATH_RESPONSE, cookie);
			struct device saved = *d;

			rte_pktmbuf_mtod(f, uint8_t *)[f->data_len - 1] ^= 1;
			memcpy(d->addr, new_addr, 16);
			d->port = 42000;
			refix(f, d);
			*d = saved;
			rrc_expect(f, SG_DROP_AUTH_FAILED);
		}
		sg_dp_counters_sum(E.dp, &c1);
		assert_int_equal(c1.rrc_responses_refused, c0.rrc_responses_refused + 3);
		assert_int_equal(c1.rrc_responses_ok, c0.rrc_responses_ok);
		assert_int_equal(c1.peer_moves, c0.peer_moves);
		no_device_frames();
		replies_go_to(i, d->addr, d->port);

		/* The right answer from the new address: the session moves there. */
		good = dev_rrc_from(i, new_addr, 42000, SG_RRC_PATH_RESPONSE, cookie);
		copy = clone_frame(good);
		sg_dp_counters_sum(E.dp, &c0);
		rrc_expect(good, -1);
		sg_dp_counters_sum(E.dp, &c1);
		assert_int_equal(c1.rrc_responses_ok, c0.rrc_responses_ok + 1);
		assert_int_equal(c1.peer_moves, c0.peer_moves + 1);
		no_device_frames();
		replies_go_to(i, new_addr, 42000);
		rrc_expect(copy, SG_DROP_REPLAYED);
		replies_go_to(i, new_addr, 42000);

		/* The device's own path_challenge: answered to where it came from. */
		sg_dp_counters_sum(E.dp, &c0);
		rrc_expect(dev_rrc_from(i, third, 44000, SG_RRC_PATH_CHALLENGE, mine), -1);
		sg_dp_counters_sum(E.dp, &c1);
		assert_int_equal(c1.rrc_answered, c0.rrc_answered + 1);
		/* (a newest record from a third address: it starts a check of ours too) */
		assert_int_equal(c1.rrc_challenges, c0.rrc_challenges + 1);
		{
			struct rte_mbuf *out[RING_SIZE];
			unsigned got_response = 0, got_challenge = 0;
			unsigned k, m = drain(E.dev_tx, N_WORKERS, out, RING_SIZE);

			assert_int_equal(m, 2);
			for (k = 0; k < m; k++) {
				struct sg_rec_open_op op;

				parse_out(out[k], &o);
				assert_memory_equal(o.dst, third, d->family == 4 ? 4 : 16);
				assert_int_equal(o.dport, 44000);
				open_reply(&o, d->sa, &op);
				assert_int_equal(op.type, SG_DTLS_CT_RRC);
				assert_int_equal(op.pt_len, SG_RRC_MSG_LEN);
				if (op.rec[op.pt_off] == SG_RRC_PATH_RESPONSE) {
					assert_memory_equal(op.rec + op.pt_off + 1, mine,
					                    sizeof(mine));
					got_response++;
				} else {
					assert_int_equal(op.rec[op.pt_off], SG_RRC_PATH_CHALLENGE);
					/* fresh: not the last check's cookie */
					assert_memory_not_equal(op.rec + op.pt_off + 1, cookie,
					                        sizeof(cookie));
					memcpy(cookie, op.rec + op.pt_off + 1, sizeof(cookie));
					got_challenge++;
				}
			}
			free_all(out, m);
			assert_int_equal(got_response, 1);
			assert_int_equal(got_challenge, 1);
		}
		replies_go_to(i, new_addr, 42000);

		/* path_drop (we never run the enhanced check), unknown, malformed. */
		sg_dp_counters_sum(E.dp, &c0);
		rrc_expect(dev_rrc_from(i, new_addr, 42000, SG_RRC_PATH_DROP, cookie),
		           SG_DROP_RRC_REFUSED);
		rrc_expect(dev_rrc_from(i, new_addr, 42000, 200, cookie), SG_DROP_RRC_REFUSED);
		rrc_expect(dev_record_from(i, new_addr, 42000, SG_DTLS_CT_RRC,
		                           (const uint8_t[]){ SG_RRC_PATH_CHALLENGE, 1, 2 }, 3),
		           SG_DROP_RRC_REFUSED);
		sg_dp_counters_sum(E.dp, &c1);
		assert_int_equal(c1.rrc_ignored, c0.rrc_ignored + 3);
		no_device_frames();

		/* The check towards the third address gets no answer in time. */
		sg_dp_counters_sum(E.dp, &c0);
		usleep(2 * RRC_TIMEOUT_MS * 1000);
		poll_all();
		sg_dp_counters_sum(E.dp, &c1);
		assert_int_equal(c1.rrc_timeouts, c0.rrc_timeouts + 1);
		rrc_expect(dev_rrc_from(i, third, 44000, SG_RRC_PATH_RESPONSE, cookie),
		           SG_DROP_RRC_REFUSED);
		/* (itself a newest record from the third address: a new check goes there) */
		n = dev_receive(i, &o, &type, pt, sizeof(pt));
		assert_int_equal(pt[0], SG_RRC_PATH_CHALLENGE);
		assert_memory_equal(o.dst, third, d->family == 4 ? 4 : 16);
		replies_go_to(i, new_addr, 42000);
		usleep(2 * RRC_TIMEOUT_MS * 1000);
		poll_all();
		/* Back home, the way it left: a check and its answer. */
		deliver(dev_datagram_from(i, d->addr, d->port, "home"), 1);
		n = dev_receive(i, &o, &type, pt, sizeof(pt));
		assert_int_equal(pt[0], SG_RRC_PATH_CHALLENGE);
		rrc_expect(dev_rrc_from(i, d->addr, d->port, SG_RRC_PATH_RESPONSE, pt + 1), -1);
		replies_go_to(i, d->addr, d->port);
		check_invariant();
	}
}

/*
 * The workers wipe the keys their record layer keeps from past bursts (here
 * every millisecond); sessions of every suite go on working, their keys
 * derived again from the SAs.
 */
static void test_key_scrub(void **state)
{
	struct sg_dp_counters c0, c1;

	(void)state;
	uplink_round();
	downlink_round();
	sg_dp_counters_sum(E.dp, &c0);
	usleep(5000);
	poll_all();
	sg_dp_counters_sum(E.dp, &c1);
	assert_true(c1.key_scrubs >= c0.key_scrubs + N_WORKERS);
	uplink_round();
	downlink_round();
}

/* The proxy header carries the authenticated identity of the device. */
static void test_proxy_identity(void **state)
{
	static const char *const one[] = { "GET /id" };
	struct rte_mbuf *out[RING_SIZE];
	struct sg_pp2_info pp;
	char msg[64];
	unsigned n;
	int d;

	(void)state;
	inject(E.dev_rx[1], dev_datagram(5, one, 1, SG_DTLS_CT_APPLICATION_DATA));
	poll_all();
	n = drain(E.btx, N_WORKERS, out, RING_SIZE);
	assert_int_equal(n, 1);
	d = backend_msg(out[0], msg, sizeof(msg), &pp);
	assert_int_equal(d, 5);
	assert_string_equal(msg, "GET /id");
	assert_int_equal(pp.identity_len, strlen("device-5"));
	assert_memory_equal(pp.identity, "device-5", pp.identity_len);
	free_all(out, n);
}

/*
 * m, injected into ring r, is refused as reason: counted there once, nothing
 * goes out on either port (no reply sealed to a device, nothing forwarded),
 * nothing is handed to another worker.
 */
static void expect_refused(struct rte_ring *r, struct rte_mbuf *m, enum sg_drop reason)
{
	struct sg_dp_counters before, after;
	struct rte_mbuf *out[RING_SIZE];

	sg_dp_counters_sum(E.dp, &before);
	inject(r, m);
	poll_all();
	sg_dp_counters_sum(E.dp, &after);
	if (after.drop[reason] != before.drop[reason] + 1) {
		print_drops();
		fail_msg("expected one drop '%s'", sg_drop_name(reason));
	}
	assert_int_equal(after.forwarded_down, before.forwarded_down);
	assert_int_equal(after.forwarded_up, before.forwarded_up);
	assert_int_equal(after.records_sealed, before.records_sealed);
	assert_int_equal(after.handed_off, before.handed_off);
	assert_int_equal(drain(E.dev_tx, N_WORKERS, out, RING_SIZE), 0);
	assert_int_equal(drain(E.be_tx, N_WORKERS, out, RING_SIZE), 0);
	check_invariant();
}

/*
 * Issue 12 item 1: whoever can send to the device port can write the
 * server's source address and port (no BCP 38 upstream). Such a datagram,
 * aimed at a session's backend port (udp mode) or at the proxy port with a
 * header naming the session, even with its right token (proxy mode), is no
 * reply: the device port has no backend role. Dropped as backend_forged,
 * never sealed to a device; the real replies still reach every device.
 */
static void test_spoofed_backend(void **state)
{
	(void)state;
	uplink_round();
	for (unsigned i = 0; i < 6; i++) /* IPv4 and IPv6, both workers, with and without CID */
		expect_refused(E.dev_rx[i % N_WORKERS],
		               reply_frame_from(DEV_MAC, GW4, i, "2.04 Changed: run /fw", NAME_OK),
		               SG_DROP_BACKEND_FORGED);
	downlink_round();
}

/*
 * proxy mode: a reply must carry the session's token, which the server got
 * in the session's own datagrams. A wrong token (one bit), another session's
 * token, the 8-byte handle alone, a header naming the device only by its
 * addresses: backend_forged, refused before any hand-off to the session's
 * worker; the right one is delivered. With one port (the device network
 * trusted) the token is all that stands between a spoofer and the devices.
 */
static void test_proxy_token(void **state)
{
	static const enum naming bad[] = { NAME_BAD_TOKEN, NAME_OTHER_TOKEN, NAME_NO_TOKEN,
		                           NAME_TUPLE };
	struct device *gone = &E.dev[7];

	(void)state;
	uplink_round();
	for (unsigned i = 0; i < 4; i++)
		for (size_t k = 0; k < SG_ARRAY_SIZE(bad); k++)
			/* queue 0: the sessions of worker 1 would be handed off if they passed */
			expect_refused(E.brx[0], reply_frame(i, "2.04 Changed", bad[k]),
			               SG_DROP_BACKEND_FORGED);
	downlink_round();

	/* A session that ended: its handle names no live session. */
	assert_int_equal(sg_dp_session_detach(E.dp, gone->id), 0);
	assert_int_equal(sg_sess_delete(E.tab, gone->id), 0);
	expect_refused(E.brx[0], reply_frame(7, "late", NAME_OK), SG_DROP_BACKEND_UNKNOWN);
}

/*
 * backend.trust_device_network: one port carries both roles, so in udp mode
 * the server's replies are taken on the device port, as configured; records
 * and replies of every session go through it.
 */
static void test_trusted_one_port(void **state)
{
	(void)state;
	uplink_round();
	downlink_round();
	uplink_round();
	downlink_round();
}

/*
 * The control thread owns a punted mbuf from the moment the ring takes it:
 * it may free it, and the pool may give it out again, at once. Here a
 * second thread plays it at its most eager: it takes punts as they come,
 * writes another reason into each one's metadata and frees it, while worker
 * 0 punts bursts of ARP and neighbour solicitations. It runs real-time (where
 * allowed) on the worker's CPU and sleeps 20 us between looks, so its
 * wake-ups preempt the worker at all points of its loop, now and then right
 * between the punt ring's enqueue and the counting. The worker's counts must
 * still say what it punted (it keeps the reasons itself), nothing else.
 *
 * A threaded test: whether a run meets the window (a few dozen nanoseconds
 * per burst) depends on the scheduler. On the code before the fix it failed
 * in 11 of 12 runs on a loaded 2-core machine and in none of 18 on a quiet
 * one; with that code's window widened by 1 us per count, in every run (most
 * punts counted under the consumer's reason). The fixed code reads no mbuf
 * after the enqueue, so it cannot fail it.
 */
struct punt_eater {
	atomic_int stop;
	atomic_uint taken;
	atomic_int done; /* it has returned (or never started) */
};

static void *eat_punts(void *arg)
{
	struct punt_eater *pe = arg;
	uint64_t end = sg_mono_ms() + 60000; /* bounded even if told to stop never comes */
	struct sched_param sp = { .sched_priority = 1 };

	/* Real-time where allowed: each wake-up preempts the worker at once. */
	(void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	while (sg_mono_ms() < end) {
		/* Read before the dequeue: once stop is seen, an empty ring stays empty. */
		int stopping = atomic_load_explicit(&pe->stop, memory_order_acquire);
		struct rte_mbuf *m[64];
		unsigned n = sg_dp_punt_dequeue(E.dp, m, 64);

		for (unsigned k = 0; k < n; k++) {
			sg_dp_meta(E.dp, m[k])->punt = SG_DP_PUNT_KEY_EXHAUSTED;
			rte_pktmbuf_free(m[k]);
		}
		atomic_fetch_add_explicit(&pe->taken, n, memory_order_release);
		if (n == 0 && stopping)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
	}
	atomic_store_explicit(&pe->done, 1, memory_order_release);
	return NULL;
}

static void test_punt_reason_kept(void **state)
{
	enum { ROUNDS = 10000, PER_BURST = 32 };
	static struct punt_eater pe; /* outlives the test body whatever happens in it */
	struct sg_dp_counters before, after;
	uint64_t arp = 0, nd = 0, full, deadline = sg_mono_ms() + 20000;
	unsigned r;
	pthread_t th;

	(void)state;
	memset(&pe, 0, sizeof(pe));
	sg_dp_counters_sum(E.dp, &before);
	assert_int_equal(pthread_create(&th, NULL, eat_punts, &pe), 0);
	/*
	 * Nothing here may fail while the eater runs: it must be joined before the
	 * data plane goes away. A stall (the eater gone, the pool dry) or the time
	 * bound ends the loop early; the counts hold for what was sent.
	 */
	for (r = 0; r < ROUNDS && sg_mono_ms() < deadline; r++) {
		uint64_t wait_end = sg_mono_ms() + 5000;
		bool dry = false;

		/* The pool holds fewer mbufs than the punt ring: let the eater catch up. */
		while (arp + nd - atomic_load_explicit(&pe.taken, memory_order_acquire) > 1024 &&
		       sg_mono_ms() < wait_end &&
		       !atomic_load_explicit(&pe.done, memory_order_acquire))
			usleep(100);
		if (arp + nd - atomic_load_explicit(&pe.taken, memory_order_acquire) > 1024)
			break;
		for (unsigned k = 0; k < PER_BURST && !dry; k++) {
			const struct device *d = &E.dev[(r * PER_BURST + k) % N_SESS];
			struct rte_mbuf *m = rte_pktmbuf_alloc(E.pool);

			if (m != NULL)
				announce_fill(m, d);
			if (m == NULL || rte_ring_enqueue(E.dev_rx[0], m) != 0) {
				rte_pktmbuf_free(m);
				dry = true;
				continue;
			}
			arp += d->family == 4;
			nd += d->family == 6;
		}
		sg_dp_worker_poll(E.dp, 0);
		if (dry)
			break;
	}
	atomic_store_explicit(&pe.stop, 1, memory_order_release);
	pthread_join(th, NULL);
	print_message("# %u bursts of %u announcements\n", r, PER_BURST);
	assert_true(r >= ROUNDS / 10);
	sg_dp_counters_sum(E.dp, &after);
	full = after.drop[SG_DROP_PUNT_RING_FULL] - before.drop[SG_DROP_PUNT_RING_FULL];
	/* Not one counted under the reason the consumer wrote into the mbufs. */
	assert_int_equal(after.punt_by[SG_DP_PUNT_KEY_EXHAUSTED],
	                 before.punt_by[SG_DP_PUNT_KEY_EXHAUSTED]);
	assert_int_equal(after.punt_by[SG_DP_PUNT_ARP] - before.punt_by[SG_DP_PUNT_ARP] +
	                         after.punt_by[SG_DP_PUNT_NDISC] -
	                         before.punt_by[SG_DP_PUNT_NDISC] + full,
	                 arp + nd);
	assert_true(after.punt_by[SG_DP_PUNT_ARP] - before.punt_by[SG_DP_PUNT_ARP] <= arp);
	assert_true(after.punt_by[SG_DP_PUNT_NDISC] - before.punt_by[SG_DP_PUNT_NDISC] <= nd);
	assert_int_equal(atomic_load_explicit(&pe.taken, memory_order_acquire), arp + nd - full);
	check_invariant();
}

/*
 * The control plane's frames (handshake flights) when worker 0's ring is
 * full, as in a storm, where its flights outrun the worker: N datagrams
 * queued while no worker polls are all accepted (the ring takes what it
 * holds, the rest wait in the backlog), none dropped; then the control
 * thread's retry and worker 0's polls send every one on the device port,
 * in the order they were queued.
 */
static void test_ctl_tx_backlog(void **state)
{
	enum { N = 3000 };
	static const uint8_t PEER4[4] = { 198, 18, 1, 77 };
	uint64_t sent0, drop0, sent, dropped, def0 = sg_dp_ctl_deferred(E.dp);
	struct rte_mbuf *m[RING_SIZE];
	unsigned got = 0;

	(void)state;
	sg_dp_ctl_counters(E.dp, &sent0, &drop0);
	assert_int_equal(sg_dp_neigh_set(E.dp, 0, 4, PEER4, DEV_MAC), 0);
	for (unsigned i = 0; i < N; i++) {
		uint8_t p[4];

		sg_store_be32(p, i);
		assert_int_equal(
		        sg_dp_ctl_send_udp(E.dp, 0, 4, GW4, DTLS_PORT, PEER4, 40000, p, sizeof(p)),
		        0);
	}
	sg_dp_ctl_counters(E.dp, &sent, &dropped);
	assert_int_equal(dropped, drop0);
	assert_true(sent - sent0 < N); /* the ring was full ... */
	assert_int_equal(sent - sent0 + sg_dp_ctl_deferred(E.dp) - def0, N); /* ... the rest wait */
	assert_int_equal(sg_dp_ctl_tx_retry(E.dp), sg_dp_ctl_deferred(E.dp) - def0);

	for (unsigned round = 0; round < 1000 && got < N; round++) {
		unsigned n;

		sg_dp_ctl_tx_retry(E.dp);
		sg_dp_worker_poll(E.dp, 0);
		n = drain(E.dev_tx, N_WORKERS, m, RING_SIZE);
		for (unsigned k = 0; k < n; k++) {
			struct out o;

			parse_out(m[k], &o);
			assert_int_equal(o.len, 4);
			assert_int_equal(o.dport, 40000);
			assert_int_equal(sg_load_be32(o.payload), got);
			got++;
		}
		free_all(m, n);
	}
	assert_int_equal(got, N);
	assert_int_equal(sg_dp_ctl_tx_retry(E.dp), 0);
	sg_dp_ctl_counters(E.dp, &sent, &dropped);
	assert_int_equal(sent - sent0, N);
	assert_int_equal(dropped, drop0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(test_uplink_downlink, setup, teardown,
		                                         (void *)&UDP),
		cmocka_unit_test_prestate_setup_teardown(test_bad_input, setup, teardown,
		                                         (void *)&UDP),
		cmocka_unit_test_prestate_setup_teardown(test_handshake_epoch1, setup, teardown,
		                                         (void *)&UDP),
		cmocka_unit_test_prestate_setup_teardown(test_rekey_in_flight, setup, teardown,
		                                         (void *)&UDP),
		cmocka_unit_test_prestate_setup_teardown(test_forgery_limit, setup, teardown,
		                                         (void *)&UDP),
		cmocka_unit_test_prestate_setup_teardown(test_cid_peer_held, setup, teardown,
		                                         (void *)&UDP),
		cmocka_unit_test_prestate_setup_teardown(test_cid_peer_unverified, setup, teardown,
		                                         (void *)&UNVERIFIED),
		cmocka_unit_test_prestate_setup_teardown(test_rrc_peer_move, setup, teardown,
		                                         (void *)&RRC),
		cmocka_unit_test_prestate_setup_teardown(test_record_limit, setup, teardown,
		                                         (void *)&LIMIT),
		cmocka_unit_test_prestate_setup_teardown(test_key_scrub, setup, teardown,
		                                         (void *)&SCRUB),
		cmocka_unit_test_prestate_setup_teardown(test_proxy_mode, setup, teardown,
		                                         (void *)&PROXY),
		cmocka_unit_test_prestate_setup_teardown(test_proxy_identity, setup, teardown,
		                                         (void *)&PROXY),
		cmocka_unit_test_prestate_setup_teardown(test_spoofed_backend, setup, teardown,
		                                         (void *)&UDP),
		cmocka_unit_test_prestate_setup_teardown(test_spoofed_backend, setup, teardown,
		                                         (void *)&PROXY),
		cmocka_unit_test_prestate_setup_teardown(test_proxy_token, setup, teardown,
		                                         (void *)&PROXY),
		cmocka_unit_test_prestate_setup_teardown(test_proxy_token, setup, teardown,
		                                         (void *)&PROXY_ONE_PORT),
		cmocka_unit_test_prestate_setup_teardown(test_trusted_one_port, setup, teardown,
		                                         (void *)&UDP_ONE_PORT),
		cmocka_unit_test_prestate_setup_teardown(test_punt_reason_kept, setup, teardown,
		                                         (void *)&UDP),
		cmocka_unit_test_prestate_setup_teardown(test_ctl_tx_backlog, setup, teardown,
		                                         (void *)&UDP),
	};
	int fails = cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);

	eal_test_fini();
	return fails;
}
