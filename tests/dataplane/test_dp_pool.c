/* SPDX-License-Identifier: Apache-2.0 */
/*
 * udp mode with a backend source pool (backend.source_pool, issue 14) and a
 * next hop per port (ports[].gateway), the data plane in process over two
 * net_ring ports, one worker polled from this thread. Once with an IPv4
 * pool and once with an IPv6 one. Checks: a session in a slot far past
 * 8 x ports_per_addr goes out from the pool address and port its slot maps
 * to, and the server's reply there comes back sealed to its device; a reply
 * to a pool port with no session, to a slot's port of an earlier session, to
 * a port past the range and to an address outside the pool are each counted
 * drops; ARP requests (IPv4) or neighbour solicitations (IPv6) for a pool
 * address are answered, for an address outside it not; a device off the
 * device port's subnet is reached through the gateway's MAC, and the gateway
 * is solicited while unknown; a pool smaller than the table hands its ports
 * out from the FIFO and refuses the session past them (-ENOSPC). Every mbuf
 * returns to the pool.
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
#include <stormgate/record.h>
#include <stormgate/session.h>

#include "dp_frames.h"
#include "dp_net.h"
#include "eal_test.h"
#include "tc_csum.h"
#include "tc_sa.h"

#define POOL_SIZE 1023
#define RING_SIZE 256
#define CAPACITY  16384 /* session slots */
#define PPA       4     /* ports per pool address: the IPv4 /18 has 16384 x 4, 4 per slot */
#define FAR_SLOT  9000  /* far past 8 addresses x PPA ports */
#define WINDOW    SG_REPLAY_WINDOW_DEFAULT

/* The pools: 198.18.64.0/18 (16384 addresses), fd00:5347::3:0:0/96; servers of the family. */
static const uint8_t POOL4[16] = { 198, 18, 64, 0 };
static const uint8_t POOL6[16] = { 0xfd, 0x00, 0x53, 0x47, [11] = 3 };
static const uint8_t GWB6[16] = { 0xfd, 0x00, 0x53, 0x47, [13] = 2, [15] = 1 };
static const uint8_t BE6[16] = { 0xfd, 0x00, 0x53, 0x47, [13] = 2, [15] = 2 };
/* The device port's next hop for addresses off 198.18.1.0/24, and its MAC. */
static const uint8_t ROUTER4[4] = { 198, 18, 1, 254 };
static const uint8_t ROUTER_MAC[6] = { 0x02, 0x53, 0x47, 0, 0, 0xfe };

struct pool_opts {
	uint8_t family; /* of the server and the pool */
	uint8_t len;    /* the pool's prefix length */
};

static const struct pool_opts V4 = { .family = 4, .len = 18 };
static const struct pool_opts V6 = { .family = 6, .len = 96 };
/* 4 addresses x PPA ports: fewer than the slots, so the FIFO map over the pool */
static const struct pool_opts SMALL = { .family = 4, .len = 30 };

static struct env {
	const struct pool_opts *o;
	struct rte_mempool *pool;
	struct rte_ring *dev_rx[1], *dev_tx[1], *be_rx[1], *be_tx[1];
	uint16_t dev_port, be_port;
	struct sg_sess_table *tab;
	struct sg_dp *dp;
	struct sg_rec_ctx *dev_rec;
	struct sg_rec_sa *dev_sa; /* the device's side of the session */
	uint64_t id;
	uint8_t dev_addr[4];
	uint16_t dev_sport;
} E;

static int eal_up(void)
{
	static int done;

	if (!done && eal_test_init("sgpool", 128, 0, NULL) < 0)
		return -1;
	done = 1;
	return 0;
}

static uint16_t ring_port(const char *name, struct rte_ring **rx, struct rte_ring **tx)
{
	int port = eal_test_ring_port(name, 1, RING_SIZE, rx, tx, E.pool);

	assert_true(port >= 0);
	assert_int_equal(rte_eth_dev_start((uint16_t)port), 0);
	return (uint16_t)port;
}

/*
 * log2 of the ports per slot the data plane takes: 4 of the IPv4 pool's (2^14
 * x 4 / 2^14); the IPv6 /96 has 2^32 x 4, but an index stays within 32 bits
 * and the cycle within 2^8 (backend.c).
 */
static unsigned shift(void)
{
	return E.o->family == 4 ? 2 : 8;
}

static const uint8_t *be_addr(void)
{
	return E.o->family == 4 ? BE4 : BE6;
}

static const uint8_t *pool_base(void)
{
	return E.o->family == 4 ? POOL4 : POOL6;
}

/* Pool address i (16 bytes, IPv4 in the first 4) into a. */
static void pool_addr(uint32_t i, uint8_t a[16])
{
	unsigned low = E.o->family == 4 ? 0 : 12;

	memcpy(a, pool_base(), 16);
	sg_store_be32(a + low, sg_load_be32(a + low) + i);
}

static int setup(void **state)
{
	static unsigned gen;
	char name[32];
	struct sg_sess_params sp = { .capacity = CAPACITY, .max_threads = 1 };
	struct sg_rec_ctx_conf rc = { .cid_len = 0 };
	struct sg_dp_conf c = { 0 };

	if (eal_up() != 0)
		return -1;
	memset(&E, 0, sizeof(E));
	E.o = *state;
	snprintf(name, sizeof(name), "sgpl%u", gen);
	E.pool = rte_pktmbuf_pool_create(name, POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (E.pool == NULL)
		return -1;
	snprintf(name, sizeof(name), "pdev%u", gen);
	E.dev_port = ring_port(name, E.dev_rx, E.dev_tx);
	snprintf(name, sizeof(name), "pbe%u", gen++);
	E.be_port = ring_port(name, E.be_rx, E.be_tx);
	E.tab = sg_sess_table_create(&sp);
	if (E.tab == NULL)
		return -1;

	c.n_workers = 1;
	c.n_ports = 2;
	dp_test_port(&c.ports[0], E.dev_port, SG_DP_ROLE_DEVICE, GW_MAC, GW4, NULL, 24);
	memcpy(c.ports[0].gw4, ROUTER4, 4);
	dp_test_port(&c.ports[1], E.be_port, SG_DP_ROLE_BACKEND, GW_MAC, GWB4, GWB6, 24);
	c.dtls_port = DTLS_PORT;
	dp_test_backend(&c, SG_DP_BACKEND_UDP, BE4, GWB4, PPA);
	if (E.o->family == 6) {
		c.backend_family = 6;
		memcpy(c.backend_addr, BE6, 16);
		memcpy(c.local_addr[0], GWB6, 16);
	}
	c.pool_len = E.o->len;
	memcpy(c.pool_addr, pool_base(), 16);
	c.sessions = E.tab;
	c.pool = E.pool;
	E.dp = sg_dp_create(&c);
	E.dev_rec = sg_rec_ctx_create(&rc);
	if (E.dp == NULL || E.dev_rec == NULL)
		return -1;
	assert_int_equal(sg_dp_neigh_set(E.dp, 1, E.o->family, be_addr(), BE_MAC), 0);
	sg_dp_worker_online(E.dp, 0);
	return 0;
}

static int teardown(void **state)
{
	struct rte_mbuf *m[RING_SIZE];
	unsigned n;

	(void)state;
	sg_dp_worker_offline(E.dp, 0);
	eal_test_ring_port_drain(E.dev_tx, 1);
	eal_test_ring_port_drain(E.be_tx, 1);
	while ((n = sg_dp_punt_dequeue(E.dp, m, RING_SIZE)) != 0)
		for (unsigned i = 0; i < n; i++)
			rte_pktmbuf_free(m[i]);
	sg_dp_destroy(E.dp);
	assert_int_equal(rte_mempool_avail_count(E.pool), POOL_SIZE);
	tc_sa_free(E.dev_sa, WINDOW);
	sg_rec_ctx_free(E.dev_rec);
	sg_sess_table_destroy(E.tab);
	eal_test_ring_port_close(E.dev_port, 1, E.dev_rx, E.dev_tx);
	eal_test_ring_port_close(E.be_port, 1, E.be_rx, E.be_tx);
	rte_mempool_free(E.pool);
	return 0;
}

/* A session for the device at addr:sport, in slot `slot` (the slots below are held by CID
 * reservations, as handshakes in flight hold them), attached; its id in E.id. */
static void add_session(const uint8_t addr[4], uint16_t sport, uint32_t slot)
{
	struct sg_rec_sa *srv = tc_sa_alloc(WINDOW);
	struct sg_rec_sa_params p = {
		.aead = SG_AEAD_AES_128_GCM, .epoch = 1, .tx_seq = 1, .rx_seq = 1
	};
	struct sg_sess_new s = { 0 };
	uint8_t cid[SG_SESS_CID_LEN_MAX];
	struct tc_keys k;
	uint32_t l, a;

	for (uint32_t i = 0; i < slot; i++)
		assert_int_equal(sg_sess_cid_reserve(E.tab, cid), 0);
	E.dev_sa = tc_sa_alloc(WINDOW);
	tc_keys_make(&k, 14);
	tc_sa_pair(srv, E.dev_sa, WINDOW, &p, &k);
	memcpy(E.dev_addr, addr, 4);
	E.dev_sport = sport;
	memcpy(&l, GW4, 4);
	memcpy(&a, addr, 4);
	sg_sess_tuple_v4(&s.tuple, l, htons(DTLS_PORT), a, htons(sport));
	s.sa = srv;
	s.flags = SG_SESS_F_TUPLE;
	assert_int_equal(sg_sess_insert(E.tab, &s, &E.id, NULL), 0);
	tc_sa_free(srv, WINDOW);
	assert_int_equal((uint32_t)E.id, slot);
	assert_int_equal(sg_dp_session_attach(E.dp, E.id, NULL, 0, NULL), 0);
}

static void poll_n(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		sg_dp_worker_poll(E.dp, 0);
}

/* The one frame on ring r after a poll; fails unless there is exactly one. */
static struct rte_mbuf *take_one(struct rte_ring *r)
{
	struct rte_mbuf *m[4];
	unsigned n = rte_ring_dequeue_burst(r, (void **)m, 4, NULL);

	assert_int_equal(n, 1);
	return m[0];
}

/* The device sends msg; returns the backend datagram it became (checked against *f). */
static struct rte_mbuf *uplink(const char *msg, struct dp_frame *f)
{
	uint8_t dgram[512];
	const char *const pt[1] = { msg };
	uint16_t len = dp_frame_records(E.dev_rec, E.dev_sa, NULL, 0, pt, 1,
	                                SG_DTLS_CT_APPLICATION_DATA, dgram, sizeof(dgram));
	struct rte_mbuf *m = dp_frame_udp(E.pool, DEV_MAC, GW_MAC, 4, E.dev_addr, E.dev_sport, GW4,
	                                  DTLS_PORT, dgram, len);

	assert_non_null(m);
	assert_int_equal(rte_ring_enqueue(E.dev_rx[0], m), 0);
	poll_n(2);
	m = take_one(E.be_tx[0]);
	assert_int_equal(dp_frame_read(m, f), 0);
	assert_int_equal(f->len, strlen(msg));
	assert_memory_equal(f->payload, msg, f->len);
	return m;
}

/* The server's reply from be_addr():COAP_PORT to dst:dport, into the backend port. */
static void reply_to(const uint8_t *dst, uint16_t dport, const char *msg)
{
	struct rte_mbuf *m = dp_frame_udp(E.pool, BE_MAC, GW_MAC, E.o->family, be_addr(), COAP_PORT,
	                                  dst, dport, (const uint8_t *)msg, (uint16_t)strlen(msg));

	assert_non_null(m);
	assert_int_equal(rte_ring_enqueue(E.be_rx[0], m), 0);
	poll_n(2);
}

static uint64_t drops(enum sg_drop why)
{
	struct sg_dp_counters c;

	sg_dp_counters_sum(E.dp, &c);
	return c.drop[why];
}

/* The device's sealed reply on the device port: to its address, opened, equal to msg. */
static void expect_sealed(const char *msg, const uint8_t dmac[6])
{
	struct rte_mbuf *m = take_one(E.dev_tx[0]);
	struct sg_rec_open_op op = { 0 };
	struct sg_rec_hdr h;
	struct dp_frame f;

	assert_int_equal(dp_frame_read(m, &f), 0);
	assert_memory_equal(f.dmac, dmac, 6);
	assert_memory_equal(f.dst, E.dev_addr, 4);
	assert_int_equal(f.dport, E.dev_sport);
	assert_int_equal(sg_rec_parse(f.payload, f.len, 0, &h, 1), 1);
	op.rec = (uint8_t *)f.payload;
	op.rec_len = h.len;
	op.sa = E.dev_sa;
	assert_int_equal(sg_rec_open_burst(E.dev_rec, &op, 1), 1);
	assert_int_equal(op.status, SG_REC_OK);
	assert_int_equal(op.pt_len, strlen(msg));
	assert_memory_equal(op.rec + op.pt_off, msg, op.pt_len);
	rte_pktmbuf_free(m);
}

/*
 * Slot FAR_SLOT: its first attach takes index FAR_SLOT << shift() | 1, that
 * is address index / PPA, port BPORT0 + index % PPA. Out, and the reply back
 * to the device; re-attached (another identity) it takes the next index, and
 * a reply to the old one is refused.
 */
static void test_far_slot(void **state)
{
	static const uint8_t dev[4] = { 198, 18, 1, 20 };
	uint32_t bpi = FAR_SLOT << shift() | 1;
	uint8_t want[16], got[16], fam;
	uint16_t bport;
	struct dp_frame f;
	struct rte_mbuf *m;
	uint64_t unknown;

	(void)state;
	add_session(dev, 41000, FAR_SLOT);
	assert_int_equal(sg_dp_neigh_set(E.dp, 0, 4, dev, DEV_MAC), 0);
	pool_addr(bpi / PPA, want);
	assert_int_equal(sg_dp_session_bport(E.dp, E.id, &fam, got, &bport), 0);
	assert_int_equal(fam, E.o->family);
	assert_memory_equal(got, want, 16);
	assert_int_equal(bport, BPORT0 + bpi % PPA);

	m = uplink("GET /far", &f);
	assert_int_equal(f.family, E.o->family);
	assert_memory_equal(f.src, want, E.o->family == 4 ? 4 : 16);
	assert_int_equal(f.sport, BPORT0 + bpi % PPA);
	assert_memory_equal(f.dst, be_addr(), E.o->family == 4 ? 4 : 16);
	assert_int_equal(f.dport, COAP_PORT);
	assert_memory_equal(f.dmac, BE_MAC, 6);
	rte_pktmbuf_free(m);
	reply_to(want, bport, "2.05 far");
	expect_sealed("2.05 far", DEV_MAC);

	/* Detached and attached again: the slot's next port; the old one is refused. */
	assert_int_equal(sg_dp_session_detach(E.dp, E.id), 0);
	assert_int_equal(sg_dp_session_attach(E.dp, E.id, NULL, 0, NULL), 0);
	assert_int_equal(sg_dp_session_bport(E.dp, E.id, &fam, got, &bport), 0);
	assert_int_equal(bport, BPORT0 + (bpi + 1) % PPA);
	unknown = drops(SG_DROP_BACKEND_UNKNOWN);
	reply_to(want, BPORT0 + bpi % PPA, "late");
	assert_int_equal(drops(SG_DROP_BACKEND_UNKNOWN), unknown + 1);
	assert_int_equal(rte_ring_count(E.dev_tx[0]), 0);
	reply_to(got, bport, "2.05 again");
	expect_sealed("2.05 again", DEV_MAC);
}

/* Replies that map to no session are counted, each by its reason, and never sealed. */
static void test_reply_drops(void **state)
{
	static const uint8_t dev[4] = { 198, 18, 1, 21 };
	uint8_t a[16], outside[16];
	uint64_t unknown, port, l3;

	(void)state;
	add_session(dev, 41001, 100);
	unknown = drops(SG_DROP_BACKEND_UNKNOWN);
	port = drops(SG_DROP_UDP_PORT);
	l3 = drops(SG_DROP_L3_NOT_FOR_US);
	/* pool address 7, a port in range: its slot (7 or 0) has no session */
	pool_addr(7, a);
	reply_to(a, BPORT0 + 1, "nobody");
	assert_int_equal(drops(SG_DROP_BACKEND_UNKNOWN), unknown + 1);
	/* the session's slot, but not the port its attach got (index 100 << shift | 2) */
	pool_addr((100u << shift() | 2) / PPA, a);
	reply_to(a, BPORT0 + (100u << shift() | 2) % PPA, "other port");
	assert_int_equal(drops(SG_DROP_BACKEND_UNKNOWN), unknown + 2);
	/* the last pool address: slot 16383 (IPv4) has none; past every slot (IPv6) */
	pool_addr(E.o->family == 4 ? (1u << 14) - 1 : UINT32_MAX, a);
	reply_to(a, BPORT0 + 3, "last");
	assert_int_equal(drops(SG_DROP_BACKEND_UNKNOWN), unknown + 3);
	/* a port past source_port_first + ports_per_addr, and one below it */
	reply_to(a, BPORT0 + PPA, "past");
	reply_to(a, BPORT0 - 1, "below");
	assert_int_equal(drops(SG_DROP_UDP_PORT), port + 2);
	/* the first address past the pool, and one just below it */
	pool_addr(E.o->family == 4 ? 1u << 14 : 0, outside);
	if (E.o->family == 6)
		outside[11] = 4; /* fd00:5347::4:0:0, the next /96 */
	reply_to(outside, BPORT0, "outside");
	/* 198.18.63.255, fd00:5347::2:ffff:ffff */
	pool_addr(0, outside);
	if (E.o->family == 4) {
		sg_store_be32(outside, sg_load_be32(outside) - 1);
	} else {
		outside[11] = 2;
		memset(outside + 12, 0xff, 4);
	}
	reply_to(outside, BPORT0, "below the pool");
	assert_int_equal(drops(SG_DROP_L3_NOT_FOR_US), l3 + 2);
	assert_int_equal(rte_ring_count(E.dev_tx[0]), 0);
}

/* An ARP request from the server for ip (4 bytes) into the backend port. */
static void arp_request(const uint8_t ip[4])
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(E.pool);
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, BE_MAC, 6);
	sg_store_be16(f + 12, 0x0806);
	sg_store_be16(f + 14, 1);
	sg_store_be16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	sg_store_be16(f + 20, 1);
	memcpy(f + 22, BE_MAC, 6);
	memcpy(f + 28, BE4, 4);
	memcpy(f + 38, ip, 4);
	m->data_len = m->pkt_len = 60;
	assert_int_equal(rte_ring_enqueue(E.be_rx[0], m), 0);
}

/* A neighbour solicitation from the server for target, to its solicited-node group. */
static void ns_request(const uint8_t target[16])
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(E.pool);
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *), *ip = f + 14, *icmp = f + 54;
	uint8_t grp[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff };

	memset(f, 0, 86);
	memcpy(grp + 13, target + 13, 3);
	f[0] = f[1] = 0x33;
	memcpy(f + 2, grp + 12, 4);
	memcpy(f + 6, BE_MAC, 6);
	sg_store_be16(f + 12, 0x86dd);
	ip[0] = 0x60;
	sg_store_be16(ip + 4, 32);
	ip[6] = 58;
	ip[7] = 255;
	memcpy(ip + 8, BE6, 16);
	memcpy(ip + 24, grp, 16);
	icmp[0] = 135;
	memcpy(icmp + 8, target, 16);
	icmp[24] = 1; /* source link-layer address */
	icmp[25] = 1;
	memcpy(icmp + 26, BE_MAC, 6);
	sg_store_be16(icmp + 2, tc_csum_l4(6, ip + 8, ip + 24, 58, icmp, 32));
	m->data_len = m->pkt_len = 86;
	assert_int_equal(rte_ring_enqueue(E.be_rx[0], m), 0);
}

/* Solicit addr; true when the gateway answered it for addr with its own MAC. */
static bool solicit_answered(const uint8_t addr[16])
{
	struct rte_mbuf *m[4];
	const uint8_t *f;
	unsigned n;
	bool ok;

	if (E.o->family == 4)
		arp_request(addr);
	else
		ns_request(addr);
	poll_n(1);
	n = sg_dp_punt_dequeue(E.dp, m, 4);
	if (n == 0)
		return false;
	assert_int_equal(n, 1);
	assert_int_equal(sg_dp_ctl_neighbour(E.dp, m[0]), 0); /* the server is learned */
	poll_n(1);
	m[0] = take_one(E.be_tx[0]);
	f = rte_pktmbuf_mtod(m[0], const uint8_t *);
	ok = memcmp(f, BE_MAC, 6) == 0 && memcmp(f + 6, GW_MAC, 6) == 0;
	if (E.o->family == 4) /* ARP reply: op 2, sender = the pool address at our MAC */
		ok = ok && sg_load_be16(f + 20) == 2 && memcmp(f + 22, GW_MAC, 6) == 0 &&
		     memcmp(f + 28, addr, 4) == 0;
	else /* neighbour advertisement for the target, from it, with our MAC */
		ok = ok && f[54] == 136 && memcmp(f + 62, addr, 16) == 0 &&
		     memcmp(f + 22, addr, 16) == 0 && memcmp(f + 80, GW_MAC, 6) == 0;
	rte_pktmbuf_free(m[0]);
	return ok;
}

/* ARP (IPv4) or neighbour solicitations (IPv6) for pool addresses are answered; others not. */
static void test_neighbour(void **state)
{
	uint8_t a[16];
	struct sg_dp_counters before, after;

	(void)state;
	pool_addr(0, a);
	assert_true(solicit_answered(a));
	pool_addr(12345, a);
	assert_true(solicit_answered(a));
	pool_addr(E.o->family == 4 ? (1u << 14) - 1 : UINT32_MAX, a);
	assert_true(solicit_answered(a));
	/* The first address past the pool: dropped by the parser, never punted. */
	sg_dp_counters_sum(E.dp, &before);
	pool_addr(E.o->family == 4 ? 1u << 14 : 0, a);
	if (E.o->family == 6)
		a[11] = 4;
	assert_false(solicit_answered(a));
	sg_dp_counters_sum(E.dp, &after);
	assert_int_equal(after.drop[E.o->family == 4 ? SG_DROP_ARP : SG_DROP_NDISC] -
	                         before.drop[E.o->family == 4 ? SG_DROP_ARP : SG_DROP_NDISC],
	                 1);
	assert_int_equal(rte_ring_count(E.be_tx[0]), 0);
}

/*
 * A device off the device port's 198.18.1.0/24 (198.19.0.0/16, behind the
 * fleet's router): its replies go to the gateway's MAC, which is solicited
 * while unknown; one on the subnet goes to its own.
 */
static void test_next_hop(void **state)
{
	static const uint8_t far_dev[4] = { 198, 19, 7, 9 };
	struct rte_mbuf *m;
	struct dp_frame f;
	const uint8_t *fr;
	uint8_t a[16], fam;
	uint16_t bport;

	(void)state;
	add_session(far_dev, 10007, 3);
	assert_int_equal(sg_dp_session_bport(E.dp, E.id, &fam, a, &bport), 0);
	/* The router is unknown: sg_dp_ctl_resolve() asks for it by ARP on the device port. */
	assert_true(sg_dp_ctl_resolve(E.dp) >= 1);
	poll_n(1);
	m = take_one(E.dev_tx[0]);
	fr = rte_pktmbuf_mtod(m, const uint8_t *);
	assert_int_equal(sg_load_be16(fr + 12), 0x0806);
	assert_int_equal(sg_load_be16(fr + 20), 1);
	assert_memory_equal(fr + 38, ROUTER4, 4);
	rte_pktmbuf_free(m);
	/* Without the router's MAC the reply cannot leave: a counted drop. */
	reply_to(a, bport, "no route yet");
	assert_int_equal(drops(SG_DROP_NO_NEIGHBOUR), 1);
	assert_int_equal(sg_dp_neigh_set(E.dp, 0, 4, ROUTER4, ROUTER_MAC), 0);
	m = uplink("POST /rd", &f);
	rte_pktmbuf_free(m);
	reply_to(a, bport, "2.01 created");
	expect_sealed("2.01 created", ROUTER_MAC);
}

/*
 * A pool smaller than the table (4 addresses x 4 ports): ports are handed out
 * from the FIFO, each a pool address and port of its own; the 17th session
 * is refused (-ENOSPC, which the gateway counts as install_failed); a freed
 * port goes to the back of the FIFO; replies still map back to the session.
 */
static void test_small_pool(void **state)
{
	static const uint8_t dev[4] = { 198, 18, 1, 30 };
	struct sg_rec_sa *srv = tc_sa_alloc(WINDOW);
	struct sg_rec_sa_params p = { .aead = SG_AEAD_AES_128_GCM, .epoch = 1 };
	struct tc_keys k;
	struct sg_rec_sa *peer = tc_sa_alloc(WINDOW);
	uint64_t ids[4 * PPA];
	uint8_t a[16], fam, seen[4 * PPA] = { 0 };
	uint16_t bport;
	struct rte_mbuf *m;
	struct dp_frame f;

	(void)state;
	add_session(dev, 41002, 0);
	ids[0] = E.id;
	tc_keys_make(&k, 15);
	tc_sa_pair(srv, peer, WINDOW, &p, &k);
	for (unsigned i = 1; i <= 4 * PPA; i++) {
		struct sg_sess_new s = { .sa = srv, .flags = SG_SESS_F_TUPLE };
		uint64_t id;
		uint32_t l, r;

		memcpy(&l, GW4, 4);
		memcpy(&r, dev, 4);
		sg_sess_tuple_v4(&s.tuple, l, htons(DTLS_PORT), r, htons((uint16_t)(42000 + i)));
		assert_int_equal(sg_sess_insert(E.tab, &s, &id, NULL), 0);
		if (i < 4 * PPA) {
			assert_int_equal(sg_dp_session_attach(E.dp, id, NULL, 0, NULL), 0);
			ids[i] = id;
		} else {
			assert_int_equal(sg_dp_session_attach(E.dp, id, NULL, 0, NULL), -ENOSPC);
		}
	}
	tc_sa_free(srv, WINDOW);
	tc_sa_free(peer, WINDOW);
	/* Every pool address and port once: index = address index * PPA + port - first. */
	for (unsigned i = 0; i < 4 * PPA; i++) {
		assert_int_equal(sg_dp_session_bport(E.dp, ids[i], &fam, a, &bport), 0);
		assert_memory_equal(a, POOL4, 3);
		assert_true(a[3] < 4 && bport >= BPORT0 && bport < BPORT0 + PPA);
		assert_int_equal(seen[a[3] * PPA + bport - BPORT0]++, 0);
	}
	/* The device's session (the first attached: pool address 0, the first port) */
	assert_int_equal(sg_dp_session_bport(E.dp, ids[0], &fam, a, &bport), 0);
	assert_int_equal(a[3], 0);
	assert_int_equal(bport, BPORT0);
	m = uplink("GET /small", &f);
	assert_memory_equal(f.src, a, 4);
	assert_int_equal(f.sport, bport);
	rte_pktmbuf_free(m);
	assert_int_equal(sg_dp_neigh_set(E.dp, 0, 4, dev, DEV_MAC), 0);
	reply_to(a, bport, "2.05 small");
	expect_sealed("2.05 small", DEV_MAC);
	/* Freed, its port waits at the back; the next attach takes it (the only free one). */
	assert_int_equal(sg_dp_session_detach(E.dp, ids[1]), 0);
	assert_int_equal(sg_dp_session_attach(E.dp, ids[1], NULL, 0, NULL), 0);
	assert_int_equal(sg_dp_session_attach(E.dp, ids[1], NULL, 0, NULL), -EEXIST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(test_far_slot, setup, teardown,
		                                         (void *)&V4),
		cmocka_unit_test_prestate_setup_teardown(test_far_slot, setup, teardown,
		                                         (void *)&V6),
		cmocka_unit_test_prestate_setup_teardown(test_reply_drops, setup, teardown,
		                                         (void *)&V4),
		cmocka_unit_test_prestate_setup_teardown(test_reply_drops, setup, teardown,
		                                         (void *)&V6),
		cmocka_unit_test_prestate_setup_teardown(test_neighbour, setup, teardown,
		                                         (void *)&V4),
		cmocka_unit_test_prestate_setup_teardown(test_neighbour, setup, teardown,
		                                         (void *)&V6),
		cmocka_unit_test_prestate_setup_teardown(test_next_hop, setup, teardown,
		                                         (void *)&V4),
		cmocka_unit_test_prestate_setup_teardown(test_small_pool, setup, teardown,
		                                         (void *)&SMALL),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	eal_test_fini();
	return rc;
}
