/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data plane on real threads: two workers launched on lcores of their
 * own with rte_eal_remote_launch(sg_dp_worker_main), as the daemon launches
 * them, while this thread plays the devices, the backend server and the
 * control plane. Two net_ring ports (devices, backend) with a queue pair per
 * worker; 16 sessions over every AEAD, IPv4 and IPv6, half with our CID.
 *
 * Half of every session's datagrams, and half of the backend's replies,
 * arrive on the queue of the worker that does not own the session, so they
 * are handed off between the running workers. Under that traffic the
 * control plane, session after session:
 *   - re-keys it (sg_sess_replace, RFC 6347 §4.2.8): records the device
 *     sealed under the old keys are still in flight and more follow, and all
 *     must open with the kept previous SA;
 *   - one cycle later retires those keys (sg_sess_retire_prev) while records
 *     under them are still in flight, waits for the grace period
 *     (sg_sess_reclaim), checks the old SA is wiped, and sends records under
 *     them that must not open any more;
 *   - ends CID sessions while their records are in flight (sg_sess_delete, or
 *     sg_sess_delete_take, which waits for the owning worker and hands over
 *     the write sequence it left) and installs the device again with new keys
 *     and a new CID; later records of the ended session are punted as
 *     unknown; its keys and (proxy mode) its PSK identity are freed after the
 *     grace period (sg_sess_reclaim, sg_dp_ctl_reclaim).
 * A record in flight while its keys go is either opened (a worker still held
 * them) or refused, never both and never lost from the counters; a worker
 * that used keys after their grace period would read wiped memory (ASan
 * poisons it: reported) or race with the wipe (TSan: reported).
 * Checked at the end: every packet in exactly one counter, and each counter
 * equal to what the test sent (rx, forwarded, opened, sealed, handed off,
 * punted, dropped by reason); every record sealed under live or kept keys
 * reached the backend exactly once, every reply the device exactly once;
 * nothing sealed under retired or ended keys after their end was opened;
 * every mbuf back in the pool. Bounded: 64 cycles, 60 s.
 *
 * Under ThreadSanitizer (meson setup build-tsan -Db_sanitize=thread) the
 * same run is checked for data races (docs/dataplane.md, "Tests").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include <stormgate/dataplane.h>
#include <stormgate/dtls.h>
#include <stormgate/proxy_v2.h>
#include <stormgate/record.h>
#include <stormgate/session.h>
#include <stormgate/time.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "dp_frames.h"
#include "dp_net.h"
#include "eal_test.h"
#include "tc_sa.h"
#include "tsan_dpdk.h"

#define N_WORKERS 2
#define N_SESS    16
#define POOL_SIZE 4095
#define RING_SIZE 1024
#define WINDOW    SG_REPLAY_WINDOW_DEFAULT
#define CYCLES    (4 * N_SESS) /* rounds: re-key, end (take), re-key, end (delete) */
#define PER_BATCH 3            /* datagrams per session per batch; the last has two records */
#define LATE_N    2            /* records sent under keys that must no longer open */
#define RACE_N    4            /* records in flight while their keys are retired or end */
#define MAX_RACE  64           /* such records per device */
/*
 * 1: records racing their session's end include its newest record, so the
 * worker's peer-move check (peer_moved(), dataplane/pipeline/worker.c) reads
 * the session's flags while sg_sess_delete() stores them; both sides are
 * atomic (TSan checks it). 0 would send only records older than the newest.
 */
#define RACE_END_NEWEST 1
#define MAX_SEQ         2048 /* records per device */
#define MAX_REPLY       1024 /* replies per device */
#define MAX_GEN         8    /* key generations per device */
#define INFLIGHT_MAX    256  /* packets sent and not yet counted by the workers */
#define HAND_MAX        64   /* mbufs taken from a ring at once */
#define RUN_S           60
/* How long the last packets may take to settle: a liveness bound, not a speed. Under
 * ThreadSanitizer on a loaded 2-core machine 10 s proved too short once in CI (nothing
 * was missing when it was rerun); a lost packet still fails, after this long. */
#define WAIT_S 30

/* The test network (dp_net.h), and the gateway's IPv6 address on it. */
static const uint8_t GW6[16] = { 0xfd, 0x00, 0x53, 0x47, [15] = 1 }; /* fd00:5347::1 */

/* One device, its side of the keys, and what it sent and got back. */
struct device {
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
	uint8_t use_cid;
	uint8_t owner;
	/* the session the gateway has for it now */
	uint64_t id;
	uint8_t cid[SG_SESS_CID_LEN_MAX];
	uint16_t bport;
	uint8_t token[SG_PP2_TOKEN_LEN]; /* proxy mode: the session's token, echoed in replies */
	unsigned gen;                    /* key generation of sa */
	struct sg_rec_sa *sa;            /* device side of the current keys */
	struct sg_rec_sa *prev;          /* of the keys before the last re-key, until retired */
	unsigned prev_gen;               /* prev's generation */
	uint64_t id_of[MAX_GEN];         /* session id while generation g was current */
	uint16_t bport_of[MAX_GEN];      /* udp mode: its backend source port */
	/* uplink records: key generation they were sealed under, times forwarded */
	uint32_t n_seq;
	uint8_t gen_of[MAX_SEQ];
	uint8_t seen[MAX_SEQ];
	/* replies from the backend: times they reached the device */
	uint32_t n_reply;
	uint8_t reply_seen[MAX_REPLY];
	/* records in flight while their keys went: which change (enum race), times forwarded */
	uint32_t n_race;
	uint8_t race_of[MAX_RACE];
	uint8_t race_seen[MAX_RACE];
};

/* The control-plane change a record raced with. */
enum race {
	RACE_RETIRE = 0, /* its keys (the previous ones) were retired: opened or refused */
	RACE_END,        /* its session ended: opened, or punted as unknown (or opened and
	                    dropped as backend_unknown: docs/dataplane.md) */
	RACE_MAX
};

/* A worker lcore's run: armed (release) by this thread, done (release) by the lcore. */
struct launch {
	unsigned lcore;
	unsigned worker;
	int armed;
	int done;
};

/* What the test sent, so what the counters must say. */
struct want {
	uint64_t rx;
	uint64_t up_dgrams;    /* good datagrams: forwarded_up */
	uint64_t records;      /* good records: records_opened */
	uint64_t replies;      /* forwarded_down, records_sealed */
	uint64_t handoffs;     /* packets on the queue of a worker not owning their live session */
	uint64_t late_retired; /* sealed under retired keys: replayed, too_old or auth_failed */
	uint64_t late_ended;   /* sealed under an ended session's keys: punted as unknown */
	uint64_t old_in_grace; /* sealed under kept keys after a re-key: records_opened_prev >= */
	uint64_t race[RACE_MAX];   /* records sent racing each kind of change */
	uint64_t race_handoff_max; /* of those for ending sessions, sent to the non-owner */
};

static struct env {
	enum sg_dp_backend_mode mode;
	struct rte_mempool *pool;
	struct rte_ring *dev_rx[N_WORKERS], *dev_tx[N_WORKERS];
	struct rte_ring *be_rx[N_WORKERS], *be_tx[N_WORKERS];
	uint16_t dev_port, be_port;
	struct sg_sess_table *tab;
	struct sg_sess_worker *insp; /* this thread's reader: SA addresses for the wipe checks */
	struct sg_dp *dp;
	struct sg_rec_ctx *dev_rec; /* the devices' record layer */
	struct device dev[N_SESS];
	struct launch run[N_WORKERS];
	int running;
	unsigned cycle;
	int retire_pending; /* device whose previous keys are retired next cycle, or -1 */
	struct want want;
	struct rte_mbuf *hand[HAND_MAX]; /* taken from a ring, being checked */
	unsigned n_hand;
	uint64_t late_forwarded;     /* must stay 0 */
	uint64_t race_fwd[RACE_MAX]; /* racing records that were opened and forwarded */
	uint64_t taken;              /* ended sessions whose SA sg_sess_delete_take() handed over */
	uint64_t t0;                 /* sg_mono_ns() at the start of the run */
} E;

/* ---- time bounds ---- */

/* Seconds since t0 (sg_mono_ns()). */
static double since(uint64_t t0)
{
	return (double)(sg_mono_ns() - t0) / 1e9;
}

/* ---- keys ---- */

static void make_keys(unsigned i, unsigned gen, struct tc_keys *k)
{
	for (unsigned j = 0; j < 32; j++) {
		k->client_key[j] = (uint8_t)(i * 7 + gen * 31 + j + 1);
		k->server_key[j] = (uint8_t)(i * 13 + gen * 17 + j + 101);
	}
	for (unsigned j = 0; j < 12; j++) {
		k->client_iv[j] = (uint8_t)(i + gen * 3 + j);
		k->server_iv[j] = (uint8_t)(i + gen * 5 + j + 50);
	}
}

/* Both ends of device i's keys of generation gen: srv for the gateway, dev for the device. */
static void make_sas(unsigned i, unsigned gen, struct sg_rec_sa *srv, struct sg_rec_sa *dev)
{
	const struct device *d = &E.dev[i];
	struct tc_keys k;
	/* The five AEADs (enum order, up to CBC, which takes no CID). */
	struct sg_rec_sa_params p = { .aead = (enum sg_aead)(i % SG_AEAD_AES_128_CBC_SHA256),
		                      .epoch = 1,
		                      .tx_seq = 1,
		                      .rx_seq = 1,
		                      .flags = d->use_cid ? SG_SA_F_RX_CID | SG_SA_F_TX_CID : 0 };

	make_keys(i, gen, &k);
	/* Gateway: rx = client_write, tx = server_write; the device mirrors it. */
	tc_sa_pair(srv, dev, WINDOW, &p, &k);
	sg_wipe(&k, sizeof(k));
}

/* ---- sessions (this thread is the control plane) ---- */

static void dev_tuple(const struct device *d, struct sg_sess_tuple *k)
{
	if (d->family == 4) {
		uint32_t l, a;

		memcpy(&l, GW4, 4);
		memcpy(&a, d->addr, 4);
		sg_sess_tuple_v4(k, l, htons(DTLS_PORT), a, htons(d->port));
	} else {
		sg_sess_tuple_v6(k, GW6, htons(DTLS_PORT), d->addr, htons(d->port));
	}
}

/* Install device i's session with keys of generation d->gen, and its backend side. */
static void install(unsigned i)
{
	struct device *d = &E.dev[i];
	struct sg_rec_sa *srv = tc_sa_alloc(WINDOW);
	uint8_t peer_cid[4] = { 0xc1, 0xd0, (uint8_t)i, 0x99 };
	struct sg_sess_new s = { 0 };

	assert_true(d->gen < MAX_GEN);
	if (d->sa == NULL)
		d->sa = tc_sa_alloc(WINDOW);
	make_sas(i, d->gen, srv, d->sa);
	s.sa = srv;
	dev_tuple(d, &s.tuple);
	s.flags = d->use_cid ? SG_SESS_F_CID : SG_SESS_F_TUPLE;
	if (d->use_cid) {
		s.peer_cid = peer_cid;
		s.peer_cid_len = sizeof(peer_cid);
	}
	s.owner = d->owner;
	assert_int_equal(sg_sess_insert(E.tab, &s, &d->id, d->cid), 0);
	tc_sa_free(srv, WINDOW);
	/* The control plane draws tokens from a CSPRNG; any distinct value serves the test. */
	for (unsigned k = 0; k < SG_PP2_TOKEN_LEN; k++)
		d->token[k] = (uint8_t)rte_rand();
	dp_test_attach(E.dp, E.mode, d->id, i, d->token, GWB4, &d->bport);
	d->id_of[d->gen] = d->id;
	d->bport_of[d->gen] = d->bport;
}

/*
 * The addresses of the session's current and previous SA, looked up as a
 * worker would (online only around the lookup, so grace periods never wait
 * for this thread); not dereferenced until their keys must be wiped.
 */
static void session_sas(const struct device *d, const struct sg_rec_sa **cur,
                        const struct sg_rec_sa **prev)
{
	struct sg_sess_ref ref;
	unsigned hits;

	sg_sess_worker_online(E.insp);
	if (d->use_cid) {
		const uint8_t *cid = d->cid;

		hits = sg_sess_lookup_cid_bulk(E.insp, &cid, 1, &ref);
	} else {
		struct sg_sess_tuple k;

		dev_tuple(d, &k);
		hits = sg_sess_lookup_tuple_bulk(E.insp, &k, 1, &ref);
	}
	sg_sess_worker_offline(E.insp);
	assert_int_equal(hits, 1);
	*cur = ref.sa;
	*prev = ref.prev;
}

/*
 * After its grace period an SA holds no key: every byte zero but its last
 * word, where the table links free SAs (and, under ASan, poisoned too).
 */
static void assert_wiped(const struct sg_rec_sa *sa)
{
#if defined(__SANITIZE_ADDRESS__)
	assert_true(__asan_address_is_poisoned(sa->rx_key));
	assert_true(__asan_address_is_poisoned(sa->tx_key));
#else
	const uint8_t *b = (const uint8_t *)sa;

	for (size_t k = 0; k < sg_rec_sa_size(WINDOW) - 4; k++)
		if (b[k] != 0)
			fail_msg("SA %p byte %zu is %#x after its grace period", (const void *)sa,
			         k, b[k]);
#endif
}

/* ---- traffic (this thread is the devices and the backend) ---- */

static void inject(struct rte_ring *r, struct rte_mbuf *m)
{
	tsan_dpdk_handed(&m, 1);
	assert_int_equal(rte_ring_enqueue(r, m), 0);
	E.want.rx++;
}

/* What a record is to the test (its plaintext says so, checked at the backend). */
enum rec_kind {
	REC_GOOD = 0, /* sealed under live or kept keys: must reach the backend once */
	REC_LATE,     /* sealed under keys retired or ended before it was sent: never */
	REC_RACE,     /* sent as its keys go (enum race): at most once */
};

/* A datagram of n records of device i sealed with sa (key generation gen). */
static struct rte_mbuf *dev_datagram(unsigned i, struct sg_rec_sa *sa, unsigned gen, unsigned n,
                                     enum rec_kind kind, enum race race)
{
	struct device *d = &E.dev[i];
	uint8_t dgram[512];
	char pt[2][64];
	const char *pts[2] = { pt[0], pt[1] };
	uint16_t len;
	struct rte_mbuf *m;

	assert_true(n >= 1 && n <= 2);
	for (unsigned r = 0; r < n; r++) {
		switch (kind) {
		case REC_GOOD:
			assert_true(d->n_seq < MAX_SEQ);
			d->gen_of[d->n_seq] = (uint8_t)gen;
			snprintf(pt[r], sizeof(pt[r]), "up %u %u %u", i, gen, d->n_seq++);
			E.want.records++;
			break;
		case REC_RACE:
			assert_true(d->n_race < MAX_RACE && race < RACE_MAX);
			d->race_of[d->n_race] = (uint8_t)race;
			snprintf(pt[r], sizeof(pt[r]), "race %u %u %u", i, gen, d->n_race++);
			E.want.race[race]++;
			break;
		default:
			snprintf(pt[r], sizeof(pt[r]), "late %u %u 0", i, gen);
			break;
		}
	}
	/* The device writes the CID we issued. */
	len = dp_frame_records(E.dev_rec, sa, d->cid,
	                       d->use_cid ? (uint8_t)sg_sess_cid_len(E.tab) : 0, pts, n,
	                       SG_DTLS_CT_APPLICATION_DATA, dgram, sizeof(dgram));
	m = dp_frame_udp(E.pool, DEV_MAC, GW_MAC, d->family, d->addr, d->port,
	                 d->family == 4 ? GW4 : GW6, DTLS_PORT, dgram, len);
	assert_non_null(m);
	return m;
}

/* Send a good datagram of device i on device queue q, under its current or previous keys. */
static void send_up(unsigned i, unsigned q, unsigned n_rec, int old)
{
	struct device *d = &E.dev[i];

	inject(E.dev_rx[q], dev_datagram(i, old ? d->prev : d->sa, old ? d->prev_gen : d->gen,
	                                 n_rec, REC_GOOD, RACE_MAX));
	E.want.up_dgrams++;
	if (q != d->owner)
		E.want.handoffs++;
	if (old)
		E.want.old_in_grace += n_rec;
}

/* The backend answers device i on backend queue q: the gateway seals it to the device. */
static void send_reply(unsigned i, unsigned q)
{
	struct device *d = &E.dev[i];
	uint8_t buf[SG_PP2_MAX_LEN + 64];
	unsigned len = 0;
	uint16_t dport = d->bport;
	char msg[64];
	struct rte_mbuf *m;

	assert_true(d->n_reply < MAX_REPLY);
	snprintf(msg, sizeof(msg), "reply %u %u", i, d->n_reply++);
	if (E.mode == SG_DP_BACKEND_PROXY) {
		struct sg_pp2_info pp = { .family = 4, .has_session = true, .session = d->id };
		int hl;

		memcpy(pp.token, d->token, sizeof(pp.token));
		hl = sg_pp2_encode(buf, sizeof(buf), &pp);

		assert_true(hl > 0);
		len = (unsigned)hl;
		dport = BPORT0;
	}
	memcpy(buf + len, msg, strlen(msg));
	len += (unsigned)strlen(msg);
	m = dp_frame_udp(E.pool, BE_MAC, GW_MAC, 4, BE4, COAP_PORT, GWB4, dport, buf,
	                 (uint16_t)len);
	assert_non_null(m);
	inject(E.be_rx[q], m);
	E.want.replies++;
	if (q != d->owner)
		E.want.handoffs++;
}

/* ---- what comes out ---- */

/*
 * A datagram the gateway sent the backend: from the session the record's keys
 * belonged to (its backend port, or a PROXY header naming it and its
 * identity); a good record once, a racing one at most once, a late one never.
 */
static void got_backend(struct rte_mbuf *m)
{
	struct dp_frame o;
	struct sg_pp2_info pp;
	const uint8_t *pl;
	unsigned pl_len, i, gen, n;
	char pt[128], kind[8];
	struct device *d;

	assert_int_equal(dp_frame_read(m, &o), 0);
	assert_memory_equal(o.dmac, BE_MAC, 6);
	assert_int_equal(o.family, 4);
	assert_memory_equal(o.dst, BE4, 4);
	assert_memory_equal(o.src, GWB4, 4);
	assert_int_equal(o.dport, COAP_PORT);
	pl = o.payload;
	pl_len = o.len;
	if (E.mode == SG_DP_BACKEND_PROXY) {
		int hl = sg_pp2_decode(o.payload, o.len, &pp);

		assert_true(hl > 0);
		assert_true(pp.has_session);
		assert_int_equal(o.sport, BPORT0);
		pl += hl;
		pl_len -= (unsigned)hl;
	}
	assert_true(pl_len < sizeof(pt));
	memcpy(pt, pl, pl_len);
	pt[pl_len] = 0;
	assert_int_equal(sscanf(pt, "%7s %u %u %u", kind, &i, &gen, &n), 4);
	assert_true(i < N_SESS && gen < MAX_GEN);
	d = &E.dev[i];
	if (E.mode == SG_DP_BACKEND_PROXY) {
		char ident[32];

		assert_true(pp.session == d->id_of[gen]);
		snprintf(ident, sizeof(ident), "device-%u", i);
		/* Never without the identity the device authenticated with (CM9). */
		assert_int_equal(pp.identity_len, strlen(ident));
		assert_memory_equal(pp.identity, ident, pp.identity_len);
	} else {
		assert_int_equal(o.sport, d->bport_of[gen]);
	}
	if (strcmp(kind, "up") == 0) {
		assert_true(n < d->n_seq);
		assert_int_equal(d->gen_of[n], gen);
		assert_int_equal(++d->seen[n], 1);
	} else if (strcmp(kind, "race") == 0) {
		assert_true(n < d->n_race);
		assert_int_equal(++d->race_seen[n], 1);
		E.race_fwd[d->race_of[n]]++;
	} else {
		assert_string_equal(kind, "late");
		E.late_forwarded++;
	}
}

/*
 * A datagram the gateway sent a device: a reply sealed under the device's
 * current keys (or the previous ones: sealed before a re-key took over).
 */
static void got_device(struct rte_mbuf *m)
{
	struct dp_frame o;
	struct sg_rec_hdr h[2];
	uint8_t rec[512];
	struct device *d = NULL;
	unsigned i, k;
	char pt[64];
	int opened = 0;

	assert_int_equal(dp_frame_read(m, &o), 0);
	assert_memory_equal(o.dmac, DEV_MAC, 6);
	assert_int_equal(o.sport, DTLS_PORT);
	for (unsigned j = 0; j < N_SESS; j++)
		if (E.dev[j].port == o.dport)
			d = &E.dev[j];
	assert_non_null(d);
	assert_int_equal(o.family, d->family);
	assert_memory_equal(o.dst, d->addr, d->family == 4 ? 4 : 16);
	assert_int_equal(sg_rec_parse(o.payload, o.len, sg_rec_ctx_cid_len(E.dev_rec), h, 2), 1);
	assert_true(h[0].len <= sizeof(rec));
	for (unsigned t = 0; t < 2 && !opened; t++) {
		struct sg_rec_sa *sa = t == 0 ? d->sa : d->prev;
		struct sg_rec_open_op op = { .rec = rec, .rec_len = h[0].len, .sa = sa };

		if (sa == NULL)
			continue;
		memcpy(rec, o.payload + h[0].off, h[0].len); /* the open is in place */
		if (sg_rec_open_burst(E.dev_rec, &op, 1) != 1)
			continue;
		assert_int_equal(op.type, SG_DTLS_CT_APPLICATION_DATA);
		assert_true(op.pt_len < sizeof(pt));
		memcpy(pt, op.rec + op.pt_off, op.pt_len);
		pt[op.pt_len] = 0;
		opened = 1;
	}
	assert_true(opened);
	assert_int_equal(sscanf(pt, "reply %u %u", &i, &k), 2);
	assert_true(&E.dev[i] == d && k < d->n_reply);
	d->reply_seen[k]++;
	assert_int_equal(d->reply_seen[k], 1);
}

/* A punted datagram: only records of ended (CID) sessions are expected, as unknown. */
static void got_punt(struct rte_mbuf *m)
{
	uint8_t la[16], pa[16];
	uint16_t lp, pp, len;
	const uint8_t *pl;
	int found = 0;

	assert_int_equal(sg_dp_meta(E.dp, m)->punt, SG_DP_PUNT_UNKNOWN);
	assert_int_equal(sg_dp_punt_udp(E.dp, m, la, pa, &lp, &pp, &pl, &len), 0);
	for (unsigned j = 0; j < N_SESS; j++) {
		struct sg_sess_tuple k;

		dev_tuple(&E.dev[j], &k);
		if (memcmp(k.paddr, pa, 16) == 0 && k.pport == pp) {
			assert_true(E.dev[j].use_cid);
			found = 1;
		}
	}
	assert_true(found);
}

/* Check and free the n mbufs in hand (teardown frees them if a check fails). */
static void check_hand(unsigned n, void (*got)(struct rte_mbuf *))
{
	E.n_hand = n;
	for (unsigned k = 0; k < n; k++) {
		got(E.hand[k]);
		rte_pktmbuf_free(E.hand[k]);
		E.hand[k] = NULL;
	}
	E.n_hand = 0;
}

/* Take and check everything the workers sent or punted so far. */
static unsigned drain(void)
{
	unsigned n, total = 0;

	for (unsigned q = 0; q < N_WORKERS; q++) {
		n = rte_ring_dequeue_burst(E.be_tx[q], (void **)E.hand, HAND_MAX, NULL);
		tsan_dpdk_taken(E.hand, n);
		check_hand(n, got_backend);
		total += n;
		n = rte_ring_dequeue_burst(E.dev_tx[q], (void **)E.hand, HAND_MAX, NULL);
		tsan_dpdk_taken(E.hand, n);
		check_hand(n, got_device);
		total += n;
	}
	n = sg_dp_punt_dequeue(E.dp, E.hand, HAND_MAX);
	check_hand(n, got_punt);
	return total + n;
}

/* Packets received and not yet counted in an outcome (some may be in hand-off rings). */
static uint64_t pending(void)
{
	struct sg_dp_counters c;
	uint64_t out;

	sg_dp_counters_sum(E.dp, &c);
	out = c.forwarded_up + c.forwarded_down + c.punted;
	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		out += c.drop[r];
	return E.want.rx - out;
}

/* What a wait still missed when it timed out. */
static void report_missing(void)
{
	struct sg_dp_counters c;

	sg_dp_counters_sum(E.dp, &c);
	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		if (c.drop[r] != 0)
			print_message("# drop %s: %llu\n", sg_drop_name((enum sg_drop)r),
			              (unsigned long long)c.drop[r]);
	print_message("# %llu packets without an outcome, %llu forwarded\n",
	              (unsigned long long)pending(), (unsigned long long)c.forwarded_up);
	for (unsigned i = 0; i < N_SESS; i++) {
		const struct device *d = &E.dev[i];

		for (uint32_t s = 0; s < d->n_seq; s++)
			if (d->seen[s] == 0)
				print_message("# device %u record %u (keys %u) not forwarded\n", i,
				              s, d->gen_of[s]);
		for (uint32_t k = 0; k < d->n_reply; k++)
			if (d->reply_seen[k] == 0)
				print_message("# device %u reply %u not delivered\n", i, k);
	}
}

/* Drain until cond() holds (bounded by WAIT_S); leave the CPU to the workers meanwhile. */
static void wait_for(int (*cond)(unsigned), unsigned arg, const char *what)
{
	const uint64_t t0 = sg_mono_ns();

	for (unsigned round = 0;; round++) {
		if (drain() == 0) {
			if (cond(arg))
				return;
			usleep(100);
		}
		if (round % 64 == 0 && since(t0) > WAIT_S) {
			report_missing();
			fail_msg("timed out waiting for %s (%u)", what, arg);
		}
	}
}

static int room(unsigned unused)
{
	(void)unused;
	return pending() < INFLIGHT_MAX;
}

/* Every good record and reply of device i sent so far came back. */
static int device_settled(unsigned i)
{
	const struct device *d = &E.dev[i];

	for (uint32_t s = 0; s < d->n_seq; s++)
		if (d->seen[s] == 0)
			return 0;
	for (uint32_t k = 0; k < d->n_reply; k++)
		if (d->reply_seen[k] == 0)
			return 0;
	return 1;
}

static int all_settled(unsigned unused)
{
	(void)unused;
	for (unsigned i = 0; i < N_SESS; i++)
		if (!device_settled(i))
			return 0;
	return pending() == 0;
}

/* Every reply to device i sent so far reached it. */
static int replies_settled(unsigned i)
{
	const struct device *d = &E.dev[i];

	for (uint32_t k = 0; k < d->n_reply; k++)
		if (d->reply_seen[k] == 0)
			return 0;
	return 1;
}

/*
 * Traffic from every device but skip (-1: none): PER_BATCH datagrams each,
 * spread over both device queues, and one reply on a backend queue; which
 * queue moves on with the cycle, so each session is handed off both ways.
 */
static void batch(int skip)
{
	wait_for(room, 0, "room in flight");
	for (unsigned i = 0; i < N_SESS; i++) {
		if ((int)i == skip)
			continue;
		for (unsigned k = 0; k < PER_BATCH; k++)
			send_up(i, (i + k + E.cycle) % N_WORKERS, k == PER_BATCH - 1 ? 2 : 1, 0);
		send_reply(i, (i + E.cycle + 1) % N_WORKERS);
	}
}

/* ---- the control plane's changes under traffic ---- */

/* RFC 6347 §4.2.8: device i handshakes again; its session gets the new keys. */
static void rekey(unsigned i)
{
	struct device *d = &E.dev[i];
	struct sg_rec_sa *srv = tc_sa_alloc(WINDOW), *next = tc_sa_alloc(WINDOW);

	assert_null(d->prev);
	batch(-1); /* old-key records of i are on their way while the keys change */
	make_sas(i, d->gen + 1, srv, next);
	assert_int_equal(sg_sess_replace(E.tab, d->id, srv), 0);
	tc_sa_free(srv, WINDOW);
	d->prev = d->sa;
	d->prev_gen = d->gen;
	d->sa = next;
	d->gen++;
	assert_true(d->gen < MAX_GEN);
	d->id_of[d->gen] = d->id;
	d->bport_of[d->gen] = d->bport;
	/* New-key records, and old-key ones sealed before the device switched, reordered. */
	for (unsigned q = 0; q < N_WORKERS; q++) {
		send_up(i, q, 1, 0);
		send_up(i, q, 1, 1);
	}
	E.retire_pending = (int)i;
}

/* Every good record device i sealed under its previous keys reached the backend. */
static int old_keys_settled(unsigned i)
{
	const struct device *d = &E.dev[i];

	for (uint32_t s = 0; s < d->n_seq; s++)
		if (d->gen_of[s] == d->prev_gen && d->seen[s] == 0)
			return 0;
	return 1;
}

/* The workers took in all but the last RACE_N / 2 packets sent. */
static int received_half_race(unsigned unused)
{
	struct sg_dp_counters c;

	(void)unused;
	sg_dp_counters_sum(E.dp, &c);
	return c.rx + RACE_N / 2 >= E.want.rx;
}

/* RACE_N records of device i under sa, racing with the change why, over both queues. */
static void send_racing(unsigned i, struct sg_rec_sa *sa, unsigned gen, enum race why)
{
	const struct device *d = &E.dev[i];
	struct rte_mbuf *m[RACE_N];

	for (unsigned k = 0; k < RACE_N; k++)
		m[k] = dev_datagram(i, sa, gen, 1, REC_RACE, why);
	if (why == RACE_END && !RACE_END_NEWEST) {
		/* A newer record overtakes them and is in before they arrive. */
		send_up(i, d->owner, 1, 0);
		wait_for(device_settled, i, "the newest record before the racing ones");
	}
	for (unsigned k = 0; k < RACE_N; k++) {
		unsigned q = (i + k) % N_WORKERS;

		inject(E.dev_rx[q], m[k]);
		if (q == d->owner)
			continue;
		if (why == RACE_RETIRE)
			E.want.handoffs++; /* the session lives on: always handed to its owner */
		else
			E.want.race_handoff_max++; /* handed off only if found before it ended */
	}
	/* The change comes as the workers take them in: some before, some after it. */
	wait_for(received_half_race, 0, "racing records received");
}

/* LATE_N records of device i under sa, keys that are gone (with their session, or not). */
static void send_late(unsigned i, struct sg_rec_sa *sa, unsigned gen, int session_lives)
{
	const struct device *d = &E.dev[i];

	for (unsigned k = 0; k < LATE_N; k++) {
		unsigned q = (i + k) % N_WORKERS;

		inject(E.dev_rx[q], dev_datagram(i, sa, gen, 1, REC_LATE, RACE_MAX));
		if (session_lives) {
			E.want.late_retired++;
			if (q != d->owner)
				E.want.handoffs++; /* its owner refuses them */
		} else {
			E.want.late_ended++; /* no session: punted where received */
		}
	}
}

/*
 * The grace for the previous keys of the device re-keyed last cycle ends
 * while records under them are still arriving: retired, and after the
 * workers' grace period wiped; records sent after that must not open
 * (replayed, too old or unauthenticated, never forwarded).
 */
static void retire(unsigned i)
{
	struct device *d = &E.dev[i];
	const struct sg_rec_sa *cur, *prev;

	batch((int)i);
	/* Records sent while the keys were kept are in; those sent now race the retirement. */
	wait_for(old_keys_settled, i, "records under the previous keys");
	session_sas(d, &cur, &prev);
	assert_non_null(prev);
	send_racing(i, d->prev, d->prev_gen, RACE_RETIRE);
	assert_int_equal(sg_sess_retire_prev(E.tab, d->id), 0);
	assert_true(sg_sess_reclaim(E.tab, 1) >= 1);
	assert_wiped(prev);
	send_late(i, d->prev, d->prev_gen, 1);
	/* The device keeps the old keys until replies sealed under them are in. */
	wait_for(replies_settled, i, "replies under the previous keys");
	tc_sa_free(d->prev, WINDOW);
	d->prev = NULL;
	E.retire_pending = -1;
}

/*
 * Device i's session ends (close_notify, `sessions kill`) while its records
 * are in flight, and the device handshakes again with a new CID; take: the
 * kill path, which waits for the owning worker and takes the SA with the
 * write sequence it left.
 */
static void end_and_return(unsigned i, int take)
{
	struct device *d = &E.dev[i];
	const struct sg_rec_sa *cur, *prev;

	assert_true(d->use_cid);
	assert_null(d->prev);
	batch((int)i);
	/*
	 * Everything it sent before is in: its records (the batch skipped it, but
	 * retire() of the device re-keyed last cycle ran a batch with it just
	 * before; a non-owner may still hold one of those, received and counted
	 * in rx, in its hand-off ring), so only the racing records below race the
	 * end; and its replies, so the write sequence the worker leaves is known.
	 */
	wait_for(device_settled, i, "the session's records and replies");
	session_sas(d, &cur, &prev);
	assert_null(prev);
	send_racing(i, d->sa, d->gen, RACE_END);
	assert_int_equal(sg_dp_session_detach(E.dp, d->id), 0);
	if (take) {
		struct sg_rec_sa *last = tc_sa_alloc(WINDOW);

		assert_int_equal(sg_sess_delete_take(E.tab, d->id, last), 0);
		/* The owner's last write sequence: one past the last reply the device opened. */
		assert_true(sg_rec_sa_tx_seq(last) == d->sa->rx_top);
		tc_sa_free(last, WINDOW);
		E.taken++;
	} else {
		assert_int_equal(sg_sess_delete(E.tab, d->id), 0);
	}
	/* Records sealed before the device heard of it: no session, punted as unknown. */
	send_late(i, d->sa, d->gen, 0);
	sg_sess_reclaim(E.tab, 1);
	assert_int_equal(sg_dp_ctl_reclaim(E.dp), E.mode == SG_DP_BACKEND_PROXY ? 1 : 0);
	assert_wiped(cur);
	d->gen++;
	install(i);
}

/* ---- workers on their lcores ---- */

static int worker_lcore(void *arg)
{
	struct launch *l = arg;
	int rc;

	/* Pairs with the release in start_workers(): everything set up is visible here. */
	while (!__atomic_load_n(&l->armed, __ATOMIC_ACQUIRE))
		rte_pause();
	rc = sg_dp_worker_main(sg_dp_worker_arg(E.dp, l->worker));
	/* Pairs with the acquire in stop_workers(): rte_eal_wait_lcore() is not seen by TSan. */
	__atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
	return rc;
}

static void start_workers(void)
{
	unsigned lc, w = 0;

	RTE_LCORE_FOREACH_WORKER(lc)
	{
		if (w == N_WORKERS)
			break;
		E.run[w] = (struct launch){ .lcore = lc, .worker = w };
		__atomic_store_n(&E.run[w].armed, 1, __ATOMIC_RELEASE);
		assert_int_equal(rte_eal_remote_launch(worker_lcore, &E.run[w], lc), 0);
		w++;
	}
	assert_int_equal(w, N_WORKERS);
	E.running = 1;
}

static void stop_workers(void)
{
	if (!E.running)
		return;
	sg_dp_stop(E.dp);
	for (unsigned w = 0; w < N_WORKERS; w++) {
		assert_int_equal(rte_eal_wait_lcore(E.run[w].lcore), 0);
		assert_true(__atomic_load_n(&E.run[w].done, __ATOMIC_ACQUIRE));
	}
	E.running = 0;
}

/* ---- set-up ---- */

static uint16_t ring_port(const char *name, struct rte_ring **rx, struct rte_ring **tx)
{
	int port = eal_test_ring_port(name, N_WORKERS, RING_SIZE, rx, tx, E.pool);

	assert_true(port >= 0);
	assert_int_equal(tsan_dpdk_watch_port((uint16_t)port, N_WORKERS), 0);
	assert_int_equal(rte_eth_dev_start((uint16_t)port), 0);
	return (uint16_t)port;
}

static int setup_mode(enum sg_dp_backend_mode mode)
{
	static unsigned gen;
	static int eal_done;
	char name[32];
	struct sg_sess_params sp = { .capacity = 64,
		                     .max_threads = N_WORKERS + 1, /* the workers and this thread */
		                     .flags = SG_SESS_P_LAZY };
	struct sg_rec_ctx_conf rc = { .cid_len = 4 }; /* the devices' own CIDs are 4 bytes */
	struct sg_dp_conf c = { 0 };

	if (!eal_done) {
		if (eal_test_init_lcores("sgthr", 1 + N_WORKERS, 256, 0, NULL) < 0)
			return -1;
		eal_done = 1;
	}
	memset(&E, 0, sizeof(E));
	E.mode = mode;
	E.retire_pending = -1;
	snprintf(name, sizeof(name), "thrpool%u", gen);
	E.pool = tsan_dpdk_pool(name, POOL_SIZE, RTE_MBUF_DEFAULT_BUF_SIZE);
	if (E.pool == NULL)
		return -1;
	snprintf(name, sizeof(name), "thrdev%u", gen);
	E.dev_port = ring_port(name, E.dev_rx, E.dev_tx);
	snprintf(name, sizeof(name), "thrbe%u", gen);
	E.be_port = ring_port(name, E.be_rx, E.be_tx);
	gen++;

	E.tab = sg_sess_table_create(&sp);
	if (E.tab == NULL)
		return -1;
	c.n_workers = N_WORKERS;
	c.n_ports = 2;
	dp_test_port(&c.ports[0], E.dev_port, SG_DP_ROLE_DEVICE, GW_MAC, GW4, GW6, 0);
	dp_test_port(&c.ports[1], E.be_port, SG_DP_ROLE_BACKEND, GW_MAC, GWB4, NULL, 0);
	c.dtls_port = DTLS_PORT;
	dp_test_backend(&c, mode, BE4, GWB4, 1000);
	c.sessions = E.tab;
	c.pool = E.pool;
	E.dp = sg_dp_create(&c);
	if (E.dp == NULL)
		return -1;
	E.insp = sg_sess_worker_create(E.tab, N_WORKERS);
	E.dev_rec = sg_rec_ctx_create(&rc);
	if (E.insp == NULL || E.dev_rec == NULL)
		return -1;

	/*
	 * Neighbours are static here: learning them while workers read the table
	 * is another test's subject. The backend server, then every device.
	 */
	assert_int_equal(sg_dp_neigh_set(E.dp, 1, 4, BE4, BE_MAC), 0);
	for (unsigned i = 0; i < N_SESS; i++) {
		struct device *d = &E.dev[i];

		d->use_cid = (i % 4) >= 2;
		d->family = i % 2 ? 6 : 4;
		d->owner = (uint8_t)(i % N_WORKERS);
		d->port = (uint16_t)(40000 + i);
		if (d->family == 4) {
			memcpy(d->addr, (uint8_t[]){ 198, 18, 1, (uint8_t)(10 + i) }, 4);
		} else {
			memcpy(d->addr, GW6, 16);
			d->addr[15] = (uint8_t)(10 + i);
		}
		assert_int_equal(sg_dp_neigh_set(E.dp, 0, d->family, d->addr, DEV_MAC), 0);
		install(i);
	}
	return 0;
}

static int setup_udp(void **state)
{
	(void)state;
	return setup_mode(SG_DP_BACKEND_UDP);
}

static int setup_proxy(void **state)
{
	(void)state;
	return setup_mode(SG_DP_BACKEND_PROXY);
}

static void free_ring(struct rte_ring *r)
{
	struct rte_mbuf *m;

	while (r != NULL && rte_ring_dequeue(r, (void **)&m) == 0) {
		tsan_dpdk_taken(&m, 1);
		rte_pktmbuf_free(m);
	}
	rte_ring_free(r);
}

/* Also after a failed test: the workers stop first, then everything is freed. */
static int teardown(void **state)
{
	struct rte_mbuf *m[64];
	unsigned n;
	int leaked;

	(void)state;
	stop_workers();
	for (unsigned k = 0; k < E.n_hand; k++)
		rte_pktmbuf_free(E.hand[k]); /* NULL (checked and freed already) is fine */
	while ((n = sg_dp_punt_dequeue(E.dp, m, SG_ARRAY_SIZE(m))) != 0)
		for (unsigned k = 0; k < n; k++)
			rte_pktmbuf_free(m[k]);
	sg_dp_destroy(E.dp);
	rte_eth_dev_stop(E.dev_port);
	rte_eth_dev_close(E.dev_port);
	rte_eth_dev_stop(E.be_port);
	rte_eth_dev_close(E.be_port);
	for (unsigned q = 0; q < N_WORKERS; q++) {
		free_ring(E.dev_rx[q]);
		free_ring(E.dev_tx[q]);
		free_ring(E.be_rx[q]);
		free_ring(E.be_tx[q]);
	}
	/* No mbuf leaked: every one is back in the pool. */
	leaked = POOL_SIZE - (int)rte_mempool_avail_count(E.pool);
	sg_sess_worker_destroy(E.insp);
	for (unsigned i = 0; i < N_SESS; i++) {
		tc_sa_free(E.dev[i].sa, WINDOW);
		tc_sa_free(E.dev[i].prev, WINDOW);
	}
	sg_rec_ctx_free(E.dev_rec);
	sg_sess_table_destroy(E.tab);
	rte_mempool_free(E.pool);
	if (leaked != 0) {
		print_error("%d mbufs leaked\n", leaked);
		return -1;
	}
	return 0;
}

/* ---- the test ---- */

static void check_counters(void)
{
	struct sg_dp_counters c;
	uint64_t dropped = 0, refused;

	sg_dp_counters_sum(E.dp, &c);
	for (unsigned r = 0; r < SG_DROP_MAX; r++) {
		dropped += c.drop[r];
		if (c.drop[r] != 0)
			print_message("# drop %s: %llu\n", sg_drop_name((enum sg_drop)r),
			              (unsigned long long)c.drop[r]);
	}
	print_message("# rx %llu, up %llu, down %llu, punted %llu, handed off %llu, opened with "
	              "previous keys %llu, polls %llu\n",
	              (unsigned long long)c.rx, (unsigned long long)c.forwarded_up,
	              (unsigned long long)c.forwarded_down, (unsigned long long)c.punted,
	              (unsigned long long)c.handed_off, (unsigned long long)c.records_opened_prev,
	              (unsigned long long)c.polls);
	print_message("# racing records opened: %llu of %llu retired, %llu of %llu ended (%llu "
	              "of those dropped as backend_unknown)\n",
	              (unsigned long long)E.race_fwd[RACE_RETIRE],
	              (unsigned long long)E.want.race[RACE_RETIRE],
	              (unsigned long long)E.race_fwd[RACE_END],
	              (unsigned long long)E.want.race[RACE_END],
	              (unsigned long long)c.drop[SG_DROP_BACKEND_UNKNOWN]);
	/* Every packet in exactly one counter (dataplane.h). */
	assert_int_equal(c.rx, c.forwarded_up + c.forwarded_down + c.punted + c.consumed + dropped);
	assert_int_equal(c.consumed, 0); /* no return routability messages here */
	/* And each one what the test sent: a racing record in one outcome or the other. */
	assert_int_equal(c.rx, E.want.rx);
	assert_int_equal(c.forwarded_up,
	                 E.want.up_dgrams + E.race_fwd[RACE_RETIRE] + E.race_fwd[RACE_END]);
	assert_int_equal(c.records_opened, E.want.records + E.race_fwd[RACE_RETIRE] +
	                                           E.race_fwd[RACE_END] +
	                                           c.drop[SG_DROP_BACKEND_UNKNOWN]);
	assert_int_equal(c.forwarded_down, E.want.replies);
	assert_int_equal(c.records_sealed, E.want.replies);
	assert_true(c.handed_off >= E.want.handoffs);
	assert_true(c.handed_off <= E.want.handoffs + E.want.race_handoff_max);
	/*
	 * A record racing its session's end is punted (not found), or, found just
	 * before, forwarded, or dropped as backend_unknown when the worker routes it
	 * after sg_dp_session_detach() (docs/dataplane.md, "Tests"): in proxy mode
	 * never forwarded without its identity.
	 */
	assert_int_equal(c.punted + c.drop[SG_DROP_BACKEND_UNKNOWN],
	                 E.want.late_ended + E.want.race[RACE_END] - E.race_fwd[RACE_END]);
	assert_true(c.punted >= E.want.late_ended);
	assert_int_equal(c.punt_by[SG_DP_PUNT_UNKNOWN], c.punted);
	refused = c.drop[SG_DROP_AUTH_FAILED] + c.drop[SG_DROP_REPLAYED] + c.drop[SG_DROP_TOO_OLD];
	assert_int_equal(refused,
	                 E.want.late_retired + E.want.race[RACE_RETIRE] - E.race_fwd[RACE_RETIRE]);
	assert_int_equal(dropped, refused + c.drop[SG_DROP_BACKEND_UNKNOWN]);
	assert_true(c.records_opened_prev >= E.want.old_in_grace);
	assert_int_equal(E.late_forwarded, 0);
}

static void run(void)
{
	E.t0 = sg_mono_ns();
	start_workers();
	for (E.cycle = 0; E.cycle < CYCLES; E.cycle++) {
		unsigned i = E.cycle % N_SESS, round = E.cycle / N_SESS;

		if (E.retire_pending >= 0)
			retire((unsigned)E.retire_pending);
		if (E.dev[i].use_cid && round % 2 == 1)
			end_and_return(i, round == 1);
		else
			rekey(i);
		assert_true(since(E.t0) < RUN_S);
	}
	if (E.retire_pending >= 0)
		retire((unsigned)E.retire_pending);
	wait_for(all_settled, 0, "every packet counted and every output checked");
	stop_workers();
	drain();
	for (unsigned i = 0; i < N_SESS; i++)
		assert_true(device_settled(i));
	check_counters();
	/* Each CID session (half of them) ended in rounds 1 and 3, taken in round 1. */
	assert_int_equal(E.taken, N_SESS / 2);
	assert_int_equal(E.want.race[RACE_END], (uint64_t)N_SESS * RACE_N);
	print_message("# %u cycles in %.1f s\n", CYCLES, since(E.t0));
}

static void test_threads_udp(void **state)
{
	(void)state;
	run();
}

static void test_threads_proxy(void **state)
{
	(void)state;
	run();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threads_udp, setup_udp, teardown),
		cmocka_unit_test_setup_teardown(test_threads_proxy, setup_proxy, teardown),
	};
	int fails = cmocka_run_group_tests_name("dp_threads", tests, NULL, NULL);

	eal_test_fini();
	return fails;
}
