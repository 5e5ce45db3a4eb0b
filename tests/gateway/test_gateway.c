/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway glue in process: EAL with --no-huge, two net_ring ports
 * (devices, backend), the real gateway (control/gateway) with its two
 * workers polled from this thread, which also plays the devices. Checks:
 *  - a real handshake (the scripted client of tests/handshake) punted by
 *    worker w installs a session owned by w: the owner travels as an
 *    argument from the punt, through the handshake engine's thread
 *    (control/hsplane) and its FIFO, to the install, and nothing of it is
 *    left after;
 *  - install and replace: the same identity at the same address re-keys in
 *    place and keeps its previous keys for rekey_grace only; another
 *    identity retires them at once; a CID session ends the device's older
 *    session at its address;
 *  - every way a session ends, each counted under its own reason and each
 *    leaving the table, the identity index and the backend: sessions.kill,
 *    key lifetime, idle timeout, forgery limit (forged records sent to a
 *    worker), the device's authenticated close_notify, revoked credentials
 *    (some now, the rest in the background), replacement;
 *  - the retire path: a hundred sessions end in one call while both workers
 *    hold a read-side section (a wait for a grace period would never return);
 *    no close_notify is sealed until every worker reported quiescent, then
 *    all go out in one poll, each opening with its device's keys as an
 *    authenticated close_notify with the next sequence number.
 *  - the revocation guard: a credential replaced between a handshake's
 *    lookup and its install refuses the install; one removed fails the
 *    handshake in flight on its engine; for certificate and raw public
 *    key sessions, the store's entry (removed, disabled, moved, a policy
 *    disabled) checked the same way, and the kind kept for `sessions`;
 *  - the session store: a real handshake's session put, committed within
 *    the window, saved exactly, restored by a new gateway over the same
 *    store at its old id with its backend port, its keys working and its
 *    old records refused, its device's address asked for again; a
 *    credential changed meanwhile is not restored; stored live policy
 *    overrides win over the file at the next start, until reset.
 * The gateway's internals are read through gw_priv.h (white box).
 */
#include <errno.h>
#include <inttypes.h>
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
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stormgate/bytes.h>
#include <stormgate/dtls.h>
#include <stormgate/record.h>
#include <stormgate/session.h>
#include <stormgate/time.h>

#include "dp_frames.h"
#include "eal_test.h"
#include "gw_priv.h"
#include "hs_client.h"
#include "tc_sa.h"

#define N_WORKERS  2
#define RING_SIZE  1024
#define DTLS_PORT  5684
#define AUTH_LIMIT 2

static const uint8_t DEV_MAC[6] = { 0x02, 0x53, 0x47, 0, 0, 0x02 };
static const uint8_t GW4[4] = { 198, 18, 1, 1 };
static const uint8_t SERVER4[4] = { 198, 18, 2, 2 }; /* backend.servers */
static const uint8_t HS_PSK[16] = { 0x53, 0x47, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };

/* The ports' devargs: the names rte_eth_from_rings() gave them. */
static const char CONFIG[] = "workers: {count: 2}\n"
                             "mbufs: {count: 4095, cache: 0}\n"
                             "ports:\n"
                             "  - {name: dev0, role: device, devargs: %s,\n"
                             "     addresses: [198.18.1.1/24]}\n"
                             "  - {name: app0, role: backend, devargs: %s,\n"
                             "     addresses: [198.18.2.1/24]}\n"
                             "sessions: {capacity: 1024, cid_length: 8}\n"
                             "policy: {cookie_mode: always, auth_failure_limit: 2,\n"
                             "         key_lifetime_jitter: 0}\n"
                             "backend: {mode: udp, servers: ['198.18.2.2:5683']}\n"
                             "credentials: {db: '%s'}\n"; /* the session store beside it */

static struct env {
	struct rte_mempool *pool; /* the devices' frames */
	struct rte_ring *dev_rx[N_WORKERS], *dev_tx[N_WORKERS];
	struct rte_ring *be_rx[N_WORKERS], *be_tx[N_WORKERS];
	uint8_t gw_mac[6];
	char dir[64], db[96];
	struct sg_cred *cred;
	struct sg_gateway *gw;
	unsigned window;
	unsigned next_dev; /* devices get 198.18.1.(10 + n) */
} E;

/* One device: its address, its session, and the session's keys from its side. */
struct dev {
	uint8_t ip[4];
	uint16_t port;
	uint64_t id;
	struct sg_rec_sa *sa; /* device side: tx = client write, rx = server write */
	struct sg_rec_ctx *rec;
};

static struct sg_dp *dp(void)
{
	return E.gw->ports.dp;
}

static struct sg_sess_table *table(void)
{
	return E.gw->ports.sessions;
}

/*
 * Wait until every handshake engine (control/hsplane, a thread each) has
 * run a whole round since the call, and published its counters after it:
 * what the test sent them is handled, its output on the engine's FIFO or
 * in the control-TX ring, its counters in the snapshot. 2 s at most. The
 * gateway's own poll (the installs) is the caller's.
 */
static void hs_wait(void)
{
	struct sg_hsplane *p = E.gw->hs.plane;
	uint64_t t0 = sg_mono_ms(), until = t0 + 2000;

	for (unsigned i = 0; i < sg_hsplane_engines(p); i++) {
		struct sg_hsplane_engine_stats st;
		uint64_t r1 = UINT64_MAX;

		while (sg_mono_ms() < until) {
			assert_int_equal(sg_hsplane_engine_stats(p, i, &st), 0);
			if (r1 == UINT64_MAX && st.published_ms > t0)
				r1 = st.rounds; /* a round that ended after t0 */
			else if (r1 != UINT64_MAX && st.rounds > r1)
				break; /* ... and one that began after it, published */
			usleep(200);
		}
	}
}

static struct sg_gw_counters counters(void)
{
	struct sg_gw_counters c;

	hs_wait();

	sg_gateway_counters(E.gw, &c);
	return c;
}

/* ---- set-up ---- */

/* The configuration of the gateway over the ring ports dev and be. */
static int config(int dev, int be, struct sg_config *cfg)
{
	char dn[RTE_ETH_NAME_MAX_LEN], bn[RTE_ETH_NAME_MAX_LEN], text[1024];
	struct sg_cfg_errors errs = { 0 };
	int rc, n;

	if (dev < 0 || be < 0 || rte_eth_dev_get_name_by_port((uint16_t)dev, dn) != 0 ||
	    rte_eth_dev_get_name_by_port((uint16_t)be, bn) != 0)
		return -1;
	n = snprintf(text, sizeof(text), CONFIG, dn, bn, E.db);
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
	struct rte_ether_addr mac;
	struct sg_cred_entry e = { .psk_len = sizeof(HS_PSK) };
	int dev, be;

	(void)state;
	if (eal_test_init_lcores("gwtest", 1 + N_WORKERS, 256, 0, NULL) < 0)
		return -1;
	E.pool = rte_pktmbuf_pool_create("gwtest_dev", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
	                                 (int)rte_socket_id());
	if (E.pool == NULL)
		return -1;
	dev = eal_test_ring_port("gwdev", N_WORKERS, RING_SIZE, E.dev_rx, E.dev_tx, E.pool);
	be = eal_test_ring_port("gwbe", N_WORKERS, RING_SIZE, E.be_rx, E.be_tx, E.pool);
	snprintf(E.dir, sizeof(E.dir), "/tmp/sg-gwtest-XXXXXX");
	if (mkdtemp(E.dir) == NULL)
		return -1;
	snprintf(E.db, sizeof(E.db), "%s/db", E.dir);
	E.cred = sg_cred_open(E.db, 16u << 20, SG_CRED_CREATE);
	memcpy(e.psk, HS_PSK, sizeof(HS_PSK));
	if (E.cred == NULL || sg_cred_put(E.cred, "hs-dev", 6, &e) != 0 ||
	    config(dev, be, &cfg) != 0)
		return -1;
	E.gw = sg_gateway_create(&cfg, &info);
	if (E.gw == NULL || rte_eth_macaddr_get((uint16_t)dev, &mac) != 0)
		return -1;
	sg_gateway_attach(E.gw, E.cred, NULL);
	E.window = sg_sess_replay_window(table());
	memcpy(E.gw_mac, mac.addr_bytes, 6);
	/* Both workers hold read-side sections until they next poll. */
	for (unsigned w = 0; w < N_WORKERS; w++)
		sg_dp_worker_online(dp(), w);
	/* As the daemon's loop does before any datagram: the engine's timers start. */
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
	char p[160];

	(void)state;
	for (unsigned w = 0; E.gw != NULL && w < N_WORKERS; w++)
		sg_dp_worker_offline(dp(), w);
	for (unsigned q = 0; q < N_WORKERS; q++) {
		drain_ring(E.dev_tx[q]);
		drain_ring(E.be_tx[q]);
		drain_ring(E.dev_rx[q]);
		drain_ring(E.be_rx[q]);
	}
	sg_gateway_destroy(E.gw);
	sg_cred_close(E.cred);
	snprintf(p, sizeof(p), "%s/data.mdb", E.db);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", E.db);
	unlink(p);
	rmdir(E.db);
	/* The session store beside the credentials (config.md, store.path and key_file). */
	for (unsigned i = 0; i < 3; i++) {
		static const char *const f[] = { "sessions/data.mdb", "sessions/lock.mdb",
			                         "store.key" };

		snprintf(p, sizeof(p), "%s/%s", E.dir, f[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/sessions", E.dir);
	rmdir(p);
	rmdir(E.dir);
	rte_mempool_free(E.pool);
	eal_test_fini();
	return 0;
}

/* ---- devices ---- */

static void dev_init(struct dev *d)
{
	struct sg_rec_ctx_conf rc = { .window_bits = E.window };

	memset(d, 0, sizeof(*d));
	d->ip[0] = 198;
	d->ip[1] = 18;
	d->ip[2] = 1;
	d->ip[3] = (uint8_t)(10 + E.next_dev++);
	d->port = (uint16_t)(40000 + E.next_dev);
	/* The gateway's replies to it need its link-layer address. */
	assert_int_equal(sg_dp_neigh_set(dp(), 0, 4, d->ip, DEV_MAC), 0);
	d->sa = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size(E.window));
	d->rec = sg_rec_ctx_create(&rc);
	assert_non_null(d->sa);
	assert_non_null(d->rec);
}

static void dev_free(struct dev *d)
{
	sg_rec_sa_wipe(d->sa, E.window);
	free(d->sa);
	sg_rec_ctx_free(d->rec);
}

static void dev_peer(const struct dev *d, struct sg_hs_peer *p)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	memcpy(p->laddr, mapped, 12);
	memcpy(p->laddr + 12, GW4, 4);
	memcpy(p->paddr, mapped, 12);
	memcpy(p->paddr + 12, d->ip, 4);
	p->lport = htons(DTLS_PORT);
	p->pport = htons(d->port);
}

/* A datagram from d to the gateway, into the RX queue worker w polls, which takes it. */
static void dev_send(const struct dev *d, unsigned w, const uint8_t *payload, size_t len)
{
	struct rte_mbuf *m = dp_frame_udp(E.pool, DEV_MAC, E.gw_mac, 4, d->ip, d->port, GW4,
	                                  DTLS_PORT, payload, (uint16_t)len);

	assert_non_null(m);
	assert_int_equal(rte_ring_enqueue(E.dev_rx[w], m), 0);
	sg_dp_worker_poll(dp(), w);
}

/* A record of type sealed with the device's keys (a forgery when corrupt). */
static size_t dev_seal(struct dev *d, uint8_t type, const uint8_t *pt, uint32_t len, bool corrupt,
                       uint8_t *buf, size_t cap)
{
	struct sg_rec_seal_op op = { .buf = buf,
		                     .buf_len = (uint32_t)cap,
		                     .pt_off = 64,
		                     .pt_len = len,
		                     .sa = d->sa,
		                     .type = type };

	memcpy(buf + 64, pt, len);
	assert_int_equal(sg_rec_seal_burst(d->rec, &op, 1), 1);
	if (corrupt)
		buf[op.rec_off + op.rec_len - 1] ^= 0x5a; /* the tag */
	memmove(buf, buf + op.rec_off, op.rec_len);
	return op.rec_len;
}

/* Keys of test session k at version v, both sides. */
static void sa_pair(unsigned k, unsigned v, struct sg_rec_sa *srv, struct sg_rec_sa *devsa)
{
	struct tc_keys keys;
	struct sg_rec_sa_params p = {
		.aead = SG_AEAD_AES_128_GCM, .epoch = 1, .tx_seq = 1, .rx_seq = 1
	};

	tc_keys_make(&keys, (uint64_t)k << 16 | v);
	tc_sa_pair(srv, NULL, E.window, &p, &keys);
	p.rx_seq = 0;
	tc_sa_pair(NULL, devsa, E.window, &p, &keys);
}

/*
 * Install d's session as a completed handshake would (the glue function, with
 * the owner as its argument): identity and how it authenticated, keys of
 * version v, lifetime end, and the CID the table reserved (cid: true).
 * Returns gw_hs_install()'s result.
 */
static int install_as(struct dev *d, const char *identity, uint8_t auth, unsigned v, unsigned owner,
                      uint64_t expires, bool cid)
{
	struct sg_rec_sa *srv = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size(E.window));
	struct sg_hs_result res;
	struct sg_sess_tuple t;
	int rc;

	assert_non_null(srv);
	memset(&res, 0, sizeof(res));
	sa_pair(E.next_dev * 16 + d->ip[3], v, srv, d->sa);
	res.sa = srv;
	dev_peer(d, &res.peer);
	res.suite = SG_TLS_PSK_WITH_AES_128_GCM_SHA256;
	res.identity_len = (uint16_t)strlen(identity);
	memcpy(res.identity, identity, res.identity_len);
	res.auth = auth;
	res.expires = expires;
	res.user = UINT64_MAX; /* its lookup came after every credential change */
	if (cid) {
		res.cid_len = (uint8_t)sg_sess_cid_len(table());
		assert_int_equal(sg_sess_cid_reserve(table(), res.cid), 0);
	}
	rc = gw_hs_install(E.gw, &res, owner);
	sg_rec_sa_wipe(srv, E.window);
	free(srv);
	if (rc == 0 && cid) {
		assert_int_equal(sg_sess_find_cid(table(), res.cid, &d->id), 0);
	} else if (rc == 0) {
		memcpy(&t, &res.peer, sizeof(t)); /* the same fields, the same order */
		assert_int_equal(sg_sess_find_tuple(table(), &t, &d->id), 0);
	}
	return rc;
}

/* install_as() of a PSK identity. */
static int install(struct dev *d, const char *identity, unsigned v, unsigned owner,
                   uint64_t expires, bool cid)
{
	return install_as(d, identity, SG_HS_AUTH_PSK, v, owner, expires, cid);
}

static uint64_t later(void)
{
	return (uint64_t)time(NULL) + 3600;
}

/* ---- what the gateway sent ---- */

/* Poll worker 0 (it sends the gateway's frames) until its TX ring holds what it queued. */
static void flush_ctl(void)
{
	for (unsigned i = 0; i < 64; i++)
		sg_dp_worker_poll(dp(), 0);
}

/* Datagrams the gateway sent to the devices, read off worker 0's TX ring. */
#define SENT_MAX 512
static struct sent {
	uint8_t ip[4];
	uint16_t port;
	uint16_t len;
	bool taken;
	uint8_t data[600];
} sent[SENT_MAX];
static unsigned n_sent;

static void collect(void)
{
	struct rte_mbuf *m;
	struct dp_frame f;

	while (rte_ring_dequeue(E.dev_tx[0], (void **)&m) == 0) {
		assert_int_equal(dp_frame_read(m, &f), 0);
		assert_int_equal(f.family, 4);
		assert_true(f.len <= sizeof(sent[0].data));
		if (n_sent == SENT_MAX) { /* every one before was taken: start over */
			for (unsigned i = 0; i < n_sent; i++)
				assert_true(sent[i].taken);
			n_sent = 0;
		}
		memcpy(sent[n_sent].ip, f.dst, 4);
		sent[n_sent].port = f.dport;
		sent[n_sent].len = f.len;
		sent[n_sent].taken = false;
		memcpy(sent[n_sent].data, f.payload, f.len);
		n_sent++;
		rte_pktmbuf_free(m);
	}
}

/* The oldest datagram sent to d not read yet, into buf. Returns its length, 0: none. */
static size_t dev_recv(const struct dev *d, uint8_t *buf, size_t cap)
{
	collect();
	for (unsigned i = 0; i < n_sent; i++) {
		struct sent *x = &sent[i];

		if (x->taken || memcmp(x->ip, d->ip, 4) != 0 || x->port != d->port)
			continue;
		assert_true(x->len <= cap);
		memcpy(buf, x->data, x->len);
		x->taken = true;
		return x->len;
	}
	return 0;
}

/* d received one record more from the gateway: a close_notify under its session's keys. */
static void expect_close_notify(struct dev *d)
{
	uint8_t buf[512];
	size_t n = dev_recv(d, buf, sizeof(buf));
	struct sg_rec_open_op op = { .rec = buf, .rec_len = (uint32_t)n, .sa = d->sa };

	assert_true(n > 0);
	assert_int_equal(buf[0], SG_DTLS_CT_ALERT);
	assert_int_equal(sg_rec_open_burst(d->rec, &op, 1), 1);
	assert_int_equal(op.type, SG_DTLS_CT_ALERT);
	/* Sealed under the session's last SA: its next write sequence (nothing sent before). */
	assert_int_equal(op.seq, 1);
	assert_int_equal(op.pt_len, 2);
	assert_int_equal(buf[op.pt_off], SG_TLS_ALERT_WARNING);
	assert_int_equal(buf[op.pt_off + 1], SG_TLS_ALERT_CLOSE_NOTIFY);
	assert_int_equal(dev_recv(d, buf, sizeof(buf)), 0);
}

/* Every worker polls, the gateway polls, worker 0 sends what the gateway queued. */
static void pump(void)
{
	for (unsigned w = 0; w < N_WORKERS; w++)
		sg_dp_worker_poll(dp(), w);
	hs_wait();
	sg_gateway_poll(E.gw);
	flush_ctl();
}

/* Session d->id is gone from the table, the identity index and the backend. */
static void assert_gone(const struct dev *d)
{
	struct sg_gw_session s;
	uint8_t fam, addr[16];
	uint16_t port;

	assert_int_equal(sg_gateway_session_get(E.gw, d->id, &s), -ENOENT);
	assert_int_equal(sg_dp_session_bport(dp(), d->id, &fam, addr, &port), -ENOENT);
}

static size_t sessions_of(const char *identity)
{
	return sg_gateway_sessions_of(E.gw, (const uint8_t *)identity, strlen(identity), NULL, 0);
}

/* ---- tests ---- */

/* The scripted client's datagram from d through worker w; the server's answer read. */
/*
 * The scripted client's datagram from d through worker w; the server's
 * answer read. The handshake engine runs on a thread of its own
 * (control/hsplane): the gateway and worker 0 are polled until the answer
 * is there, for 5 s at most.
 */
static int hs_step(struct hc *c, struct dev *d, unsigned w, const uint8_t *dgram, size_t len)
{
	uint64_t until = sg_mono_ms() + 5000;
	uint8_t buf[2048];
	size_t n;
	int what = 0, r;

	dev_send(d, w, dgram, len);
	while (what == 0 && sg_mono_ms() < until) {
		sg_gateway_poll(E.gw);
		flush_ctl();
		while ((n = dev_recv(d, buf, sizeof(buf))) > 0)
			if ((r = hc_on_datagram(c, buf, n)) != 0)
				what = r;
		if (what == 0)
			usleep(200);
	}
	return what;
}

/* A whole PSK handshake of a device whose datagrams reach worker w. */
static void handshake(struct hc *c, struct dev *d, unsigned w)
{
	struct hc_opts o = { .suites = { SG_TLS_PSK_WITH_AES_128_GCM_SHA256 },
		             .reneg_len = -1,
		             .identity = "hs-dev",
		             .psk = HS_PSK,
		             .psk_len = sizeof(HS_PSK) };
	uint8_t buf[2048];
	size_t n;

	hc_init(c, &o);
	n = hc_client_hello(c, buf, sizeof(buf));
	assert_int_equal(hs_step(c, d, w, buf, n), 'V'); /* cookie_mode: always */
	n = hc_client_hello(c, buf, sizeof(buf));
	assert_int_equal(hs_step(c, d, w, buf, n), 'H');
	n = hc_rec_cke(c, buf, sizeof(buf));
	n += hc_rec_ccs(c, buf + n, sizeof(buf) - n);
	n += hc_rec_finished(c, buf + n, sizeof(buf) - n, false);
	assert_int_equal(hs_step(c, d, w, buf, n), 'F');
	assert_true(c->server_finished_ok);
}

/*
 * The revocation guard (docs/hsplane.md): a device's handshake looks its
 * PSK up at its ClientKeyExchange; the operator then changes the
 * credential (the credential store first, then the gateway told, as
 * management does). Rows: the key replaced (the engine's handshake goes on:
 * the identity still has a credential, but the install carries the older
 * lookup generation, and the gateway, reading the credential again, finds
 * another key: refused, install_revoked, no session, no Finished); the
 * credential removed (the engine's revoke command fails the handshake in
 * flight: fail_credential_revoked). The credential is put back after each.
 */
static void test_revoked_mid_handshake(void **state)
{
	static const struct {
		const char *what;
		bool remove;
	} rows[] = {
		{ "key replaced between lookup and install", false },
		{ "credential removed while the handshake runs", true },
	};
	struct hc_opts o = { .suites = { SG_TLS_PSK_WITH_AES_128_GCM_SHA256 },
		             .reneg_len = -1,
		             .identity = "hs-dev",
		             .psk = HS_PSK,
		             .psk_len = sizeof(HS_PSK) };
	struct sg_cred_entry e = { .psk_len = sizeof(HS_PSK) };

	(void)state;
	for (unsigned r = 0; r < RTE_DIM(rows); r++) {
		struct sg_gw_counters c0 = counters(), c1;
		struct sg_cred_entry other = { .psk_len = 16 };
		uint8_t buf[2048];
		struct dev d;
		struct hc c;
		size_t n;

		dev_init(&d);
		hc_init(&c, &o);
		n = hc_client_hello(&c, buf, sizeof(buf));
		assert_int_equal(hs_step(&c, &d, 0, buf, n), 'V');
		n = hc_client_hello(&c, buf, sizeof(buf));
		assert_int_equal(hs_step(&c, &d, 0, buf, n), 'H');
		/* The key exchange alone: the engine looks the PSK up now. */
		n = hc_rec_cke(&c, buf, sizeof(buf));
		dev_send(&d, 0, buf, n);
		pump();
		if (rows[r].remove) {
			assert_int_equal(sg_cred_delete(E.cred, "hs-dev", 6), 0);
		} else {
			memset(other.psk, 0x77, 16);
			assert_int_equal(sg_cred_put(E.cred, "hs-dev", 6, &other), 0);
		}
		sg_gateway_revoke_handshakes(E.gw);
		pump();
		n = hc_rec_ccs(&c, buf, sizeof(buf));
		n += hc_rec_finished(&c, buf + n, sizeof(buf) - n, false);
		dev_send(&d, 0, buf, n);
		pump();
		pump();
		c1 = counters();
		print_message("# %s: install_revoked +%" PRIu64
		              ", fail_credential_revoked +%" PRIu64 "\n",
		              rows[r].what, c1.hsplane.install_revoked - c0.hsplane.install_revoked,
		              c1.hs.c[SG_HS_C_FAIL_REVOKED] - c0.hs.c[SG_HS_C_FAIL_REVOKED]);
		assert_false(c.server_finished_ok);
		assert_int_equal(c1.installed, c0.installed);
		assert_int_equal(sessions_of("hs-dev"), 0);
		if (rows[r].remove) {
			assert_int_equal(c1.hs.c[SG_HS_C_FAIL_REVOKED],
			                 c0.hs.c[SG_HS_C_FAIL_REVOKED] + 1);
		} else {
			assert_int_equal(c1.hsplane.install_revoked,
			                 c0.hsplane.install_revoked + 1);
			assert_int_equal(c1.install_failed, c0.install_failed + 1);
		}
		memcpy(e.psk, HS_PSK, sizeof(HS_PSK));
		assert_int_equal(sg_cred_put(E.cred, "hs-dev", 6, &e), 0);
		hc_free(&c);
		dev_free(&d);
	}
}

/*
 * The install guard of certificate and raw public key sessions (issue 17):
 * a handshake whose lookup came before a credential change (its generation
 * older) is installed only if what it authenticated with still holds: a
 * raw public key still in the store, enabled, under the same identity
 * (found by the first 8 bytes of its hash, the tag the lookup carried); a
 * certificate identity's policy not disabled; an anonymous client always.
 * The session registry keeps the kind, which `sessions list` shows.
 */
static void test_cert_install_guard(void **state)
{
	enum step { KEEP = 0, REMOVE, DISABLE, MOVE };
	static const struct {
		const char *what;
		uint8_t auth;
		enum step step;
		bool installed;
	} rows[] = {
		{ "raw public key still in the store", SG_HS_AUTH_RPK, KEEP, true },
		{ "raw public key removed", SG_HS_AUTH_RPK, REMOVE, false },
		{ "raw public key disabled", SG_HS_AUTH_RPK, DISABLE, false },
		{ "raw public key moved to another identity", SG_HS_AUTH_RPK, MOVE, false },
		{ "certificate without a policy entry", SG_HS_AUTH_X509, KEEP, true },
		{ "certificate whose policy was disabled", SG_HS_AUTH_X509, DISABLE, false },
		{ "anonymous client (client_auth optional)", SG_HS_AUTH_NONE, KEEP, true },
	};
	const char *ident = "urn:dev:cert-1";
	EVP_PKEY *k = EVP_EC_gen("P-256");
	struct sg_cred_rpk rpk;
	char msg[160];
	unsigned char *p = rpk.spki;
	int n;

	(void)state;
	assert_non_null(k);
	memset(&rpk, 0, sizeof(rpk));
	n = i2d_PUBKEY(k, &p);
	EVP_PKEY_free(k);
	assert_true(n > 0);
	rpk.spki_len = (uint32_t)n;
	assert_int_equal(
	        sg_cred_spki_check(rpk.spki, rpk.spki_len, rpk.spki_hash, msg, sizeof(msg)), 0);
	for (unsigned r = 0; r < RTE_DIM(rows); r++) {
		struct sg_rec_sa *srv = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size(E.window));
		struct sg_gw_counters c0 = counters(), c1;
		struct sg_cred_policy pol = { 0 };
		struct sg_hs_result res;
		struct sg_gw_session gs;
		struct sg_sess_tuple t;
		struct dev d;
		unsigned removed;
		int rc;

		print_message("# %s\n", rows[r].what);
		dev_init(&d);
		assert_non_null(srv);
		rpk.identity_len = (uint32_t)strlen(ident);
		memcpy(rpk.identity, ident, rpk.identity_len);
		rpk.flags = 0;
		assert_int_equal(sg_cred_rpk_put(E.cred, &rpk), 0);
		/* The lookup happened here (generation 0 below), then the store changed. */
		switch (rows[r].step) {
		case REMOVE:
			assert_int_equal(sg_cred_rpk_delete(E.cred, rpk.spki_hash), 0);
			break;
		case DISABLE:
			rpk.flags = SG_CRED_F_DISABLED;
			pol.flags = SG_CRED_F_DISABLED;
			assert_int_equal(sg_cred_rpk_put(E.cred, &rpk), 0);
			assert_int_equal(sg_cred_policy_put(E.cred, ident, strlen(ident), &pol), 0);
			break;
		case MOVE:
			rpk.identity_len = 5;
			memcpy(rpk.identity, "other", 5);
			assert_int_equal(sg_cred_rpk_put(E.cred, &rpk), 0);
			break;
		case KEEP:
			break;
		}
		sg_gateway_revoke_handshakes(E.gw);
		pump();
		memset(&res, 0, sizeof(res));
		sa_pair(E.next_dev * 16 + d.ip[3], 1, srv, d.sa);
		res.sa = srv;
		dev_peer(&d, &res.peer);
		res.suite = SG_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8;
		res.auth = rows[r].auth;
		res.identity_len = (uint16_t)strlen(ident);
		memcpy(res.identity, ident, res.identity_len);
		res.expires = later();
		res.user = 0; /* looked up before the change */
		if (rows[r].auth == SG_HS_AUTH_RPK) {
			res.cred_ref = sg_load_be32(rpk.spki_hash);
			res.backend = sg_load_be32(rpk.spki_hash + 4);
		}
		rc = gw_hs_install(E.gw, &res, 0);
		sg_rec_sa_wipe(srv, E.window);
		free(srv);
		c1 = counters();
		if (rows[r].installed) {
			assert_int_equal(rc, 0);
			assert_int_equal(c1.installed, c0.installed + 1);
			memcpy(&t, &res.peer, sizeof(t));
			assert_int_equal(sg_sess_find_tuple(table(), &t, &d.id), 0);
			assert_int_equal(sg_gateway_session_get(E.gw, d.id, &gs), 0);
			assert_int_equal(gs.auth, rows[r].auth);
			assert_int_equal(gs.identity_len, strlen(ident));
			assert_int_equal(sg_gateway_end_session(E.gw, d.id, NULL), 0);
			pump();
		} else {
			assert_int_equal(rc, -EKEYREVOKED);
			assert_int_equal(c1.hsplane.install_revoked,
			                 c0.hsplane.install_revoked + 1);
			assert_int_equal(sessions_of(ident), 0);
		}
		assert_int_equal(
		        sg_cred_rpk_delete_identity(E.cred, ident, strlen(ident), &removed), 0);
		assert_int_equal(sg_cred_rpk_delete_identity(E.cred, "other", 5, &removed), 0);
		sg_cred_policy_delete(E.cred, ident, strlen(ident));
		dev_free(&d);
	}
}

static void test_handshake_owner(void **state)
{
	struct sg_gw_counters c0 = counters(), c1;
	struct dev d[N_WORKERS];
	struct hc hc[N_WORKERS];
	uint64_t ids[4];
	uint8_t buf[512], pt[16];
	size_t n;

	(void)state;
	/* Worker 1 punts the first device's datagrams, worker 0 the second's. */
	for (unsigned i = 0; i < N_WORKERS; i++) {
		unsigned w = N_WORKERS - 1 - i;
		struct sg_gw_session s;

		dev_init(&d[i]);
		handshake(&hc[i], &d[i], w);
		assert_int_equal(sg_gateway_sessions_of(E.gw, (const uint8_t *)"hs-dev", 6, ids, 4),
		                 i + 1);
		d[i].id = ids[0]; /* most recent first */
		assert_int_equal(sg_gateway_session_get(E.gw, d[i].id, &s), 0);
		assert_int_equal(s.info.owner, w);
		assert_int_equal(s.identity_len, 6);
		assert_memory_equal(s.identity, "hs-dev", 6);
		assert_true(s.has_bsource);
	}
	c1 = counters();
	assert_int_equal(c1.installed, c0.installed + N_WORKERS);
	assert_int_equal(c1.hs.c[SG_HS_C_COMPLETED_FULL], c0.hs.c[SG_HS_C_COMPLETED_FULL] + 2);
	/* Killed: the client opens the close_notify with the keys it negotiated. */
	for (unsigned i = 0; i < N_WORKERS; i++) {
		bool alert = false;

		assert_int_equal(sg_gateway_end_session(E.gw, d[i].id, &alert), 0);
		assert_true(alert);
		pump();
		n = dev_recv(&d[i], buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(hc_open(&hc[i], buf, n, pt, sizeof(pt)), 2);
		assert_int_equal(hc[i].last_alert, SG_TLS_ALERT_CLOSE_NOTIFY);
		assert_gone(&d[i]);
		hc_free(&hc[i]);
		dev_free(&d[i]);
	}
	assert_int_equal(sessions_of("hs-dev"), 0);
}

/*
 * The epoch-1 records of the datagrams the gateway sent d since: each opens
 * with the device's keys (hc: fresh in its window) and holds our Finished,
 * numbered above *top (updated). Returns how many there were.
 */
static unsigned finished_records(struct hc *c, struct dev *d, uint64_t *top)
{
	uint8_t buf[2048], pt[64];
	unsigned found = 0;
	size_t n;

	while ((n = dev_recv(d, buf, sizeof(buf))) > 0) {
		struct sg_rec_hdr r[8];
		unsigned nr = sg_rec_parse(buf, n, 0, r, 8);

		for (unsigned i = 0; i < nr; i++) {
			if (r[i].epoch != 1)
				continue;
			assert_true(r[i].seq > *top);
			*top = r[i].seq;
			assert_int_equal(hc_open(c, buf + r[i].off, r[i].len, pt, sizeof(pt)),
			                 SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN);
			assert_int_equal(pt[0], SG_TLS_HT_FINISHED);
			found++;
		}
	}
	return found;
}

/*
 * Our final flight lost (issue 14, "resend"): the device sends its Finished
 * again, alone, under a new record number; its worker punts it to the
 * handshake server (a datagram that starts with a handshake record), which
 * opens it with the key kept in the linger table and resends the flight in
 * new records: our Finished under a new sequence
 * number each time, fresh in the device's window, twice, a retransmission
 * period apart. The session's own first record, a close_notify its worker
 * seals, is numbered past them: one sealer per (key, nonce).
 */
static void test_finished_again(void **state)
{
	struct sg_gw_counters c0, c1;
	const struct timespec period = { 1, 50 * 1000 * 1000 }; /* rto_initial_ms and more */
	uint8_t buf[512], pt[16];
	uint64_t top = 0;
	struct dev d;
	struct hc hc;
	bool alert = false;
	size_t n;

	(void)state;
	dev_init(&d);
	handshake(&hc, &d, 0);
	assert_int_equal(sg_gateway_sessions_of(E.gw, (const uint8_t *)"hs-dev", 6, &d.id, 1), 1);
	c0 = counters();
	for (int k = 0; k < 2; k++) {
		if (k)
			nanosleep(&period, NULL);
		n = hc_rec_finished_again(&hc, buf, sizeof(buf));
		dev_send(&d, 0, buf, n);
		pump();
		assert_int_equal(finished_records(&hc, &d, &top), 1);
	}
	c1 = counters();
	/* A datagram that starts with a handshake record goes to the handshake server (its
	 * queue). */
	assert_int_equal(c1.hs.c[SG_HS_C_DGRAM_HANDLED], c0.hs.c[SG_HS_C_DGRAM_HANDLED] + 2);
	assert_int_equal(c1.hs.c[SG_HS_C_LINGER_RESENT], c0.hs.c[SG_HS_C_LINGER_RESENT] + 2);
	assert_int_equal(c1.hs.c[SG_HS_C_SEND_FAILED], c0.hs.c[SG_HS_C_SEND_FAILED]);
	assert_int_equal(c1.frames_dropped, c0.frames_dropped);
	/* Once more at once: too soon, nothing sent. */
	n = hc_rec_finished_again(&hc, buf, sizeof(buf));
	dev_send(&d, 0, buf, n);
	pump();
	assert_int_equal(finished_records(&hc, &d, &top), 0);

	assert_int_equal(sg_gateway_end_session(E.gw, d.id, &alert), 0);
	assert_true(alert);
	pump();
	n = dev_recv(&d, buf, sizeof(buf));
	assert_true(n > SG_DTLS_HDR_LEN);
	assert_true(sg_load_be48(buf + 5) > top);
	assert_int_equal(hc_open(&hc, buf, n, pt, sizeof(pt)), 2);
	assert_int_equal(hc.last_alert, SG_TLS_ALERT_CLOSE_NOTIFY);
	assert_gone(&d);
	hc_free(&hc);
	dev_free(&d);
}

static void test_replace(void **state)
{
	struct sg_gw_counters c0 = counters(), c1;
	struct sg_cfg_policy p = sg_gateway_config(E.gw)->policy;
	struct sg_gw_session s;
	struct dev a, cid;
	uint64_t first;

	(void)state;
	dev_init(&a);
	assert_int_equal(install(&a, "dev-r", 1, 1, later(), false), 0);
	first = a.id;
	/* The same identity again from the same address: new keys in place, the old kept. */
	p.rekey_grace = 1;
	assert_int_equal(sg_gateway_policy_set(E.gw, &p), 0);
	assert_int_equal(install(&a, "dev-r", 2, 1, later(), false), 0);
	assert_int_equal(a.id, first);
	assert_int_equal(sg_gateway_session_get(E.gw, a.id, &s), 0);
	assert_int_equal(s.info.rekeys, 1);
	assert_true(s.info.has_prev);
	c1 = counters();
	assert_int_equal(c1.installed, c0.installed + 2);
	assert_int_equal(c1.replaced, c0.replaced + 1);
	/* ... for rekey_grace only. */
	for (unsigned i = 0; i < 300 && s.info.has_prev; i++) {
		usleep(10000);
		pump();
		assert_int_equal(sg_gateway_session_get(E.gw, a.id, &s), 0);
	}
	assert_false(s.info.has_prev);
	/* Another identity at that address: its records never open under the old keys. */
	assert_int_equal(install(&a, "dev-r2", 3, 1, later(), false), 0);
	assert_int_equal(sg_gateway_session_get(E.gw, a.id, &s), 0);
	assert_false(s.info.has_prev);
	assert_memory_equal(s.identity, "dev-r2", 6);
	assert_int_equal(sessions_of("dev-r"), 0);
	assert_int_equal(sessions_of("dev-r2"), 1);
	/* The same name authenticated another way (a certificate now) is another peer too. */
	assert_int_equal(install_as(&a, "dev-r2", SG_HS_AUTH_X509, 5, 1, later(), false), 0);
	assert_int_equal(sg_gateway_session_get(E.gw, a.id, &s), 0);
	assert_false(s.info.has_prev);
	assert_int_equal(s.auth, SG_HS_AUTH_X509);
	/* ... and the same kind again is a re-key in place, old keys kept. */
	assert_int_equal(install_as(&a, "dev-r2", SG_HS_AUTH_X509, 6, 1, later(), false), 0);
	assert_int_equal(sg_gateway_session_get(E.gw, a.id, &s), 0);
	assert_true(s.info.has_prev);
	assert_int_equal(s.auth, SG_HS_AUTH_X509);
	/* A CID session of the same identity at that address takes over: the old one ends. */
	cid = a;
	assert_int_equal(install(&cid, "dev-r2", 4, 0, later(), true), 0);
	assert_true(cid.id != first);
	assert_gone(&a);
	assert_int_equal(sg_gateway_session_get(E.gw, cid.id, &s), 0);
	assert_true(s.info.flags & SG_SESS_F_CID);
	assert_int_equal(s.info.owner, 0);
	c1 = counters();
	assert_int_equal(c1.replaced, c0.replaced + 5);
	assert_int_equal(c1.killed, c0.killed);
	pump();
	assert_int_equal(dev_recv(&a, (uint8_t[64]){ 0 }, 64), 0); /* replaced: no alert */
	assert_int_equal(sg_gateway_end_session(E.gw, cid.id, NULL), 0);
	pump();
	expect_close_notify(&cid);
	p.rekey_grace = 30;
	assert_int_equal(sg_gateway_policy_set(E.gw, &p), 0);
	dev_free(&a);
}

/* kill, key lifetime, idle timeout: each its counter, each told with a close_notify. */
static void test_end_asked_and_swept(void **state)
{
	struct sg_gw_counters c0 = counters(), c1;
	struct sg_cfg_policy p = sg_gateway_config(E.gw)->policy;
	struct dev k, x, idle;
	bool alert = false;

	(void)state;
	dev_init(&k);
	dev_init(&x);
	dev_init(&idle);
	assert_int_equal(install(&k, "dev-k", 1, 0, later(), false), 0);
	assert_int_equal(sg_gateway_end_session(E.gw, k.id, &alert), 0);
	assert_true(alert);
	assert_int_equal(sg_gateway_end_session(E.gw, k.id, &alert), -ENOENT);
	assert_gone(&k);
	/* Its key lifetime ran out: the next sweep of its slot ends it. */
	assert_int_equal(install(&x, "dev-x", 1, 1, (uint64_t)time(NULL) - 1, false), 0);
	for (unsigned i = 0; i < 8; i++)
		pump();
	assert_gone(&x);
	/* Idle for policy.idle_timeout. */
	p.idle_timeout = 1;
	assert_int_equal(sg_gateway_policy_set(E.gw, &p), 0);
	assert_int_equal(install(&idle, "dev-i", 1, 0, later(), false), 0);
	for (unsigned i = 0;
	     i < 400 && sg_gateway_session_get(E.gw, idle.id, &(struct sg_gw_session){ 0 }) == 0;
	     i++) {
		usleep(10000);
		pump();
	}
	assert_gone(&idle);
	p.idle_timeout = 0;
	assert_int_equal(sg_gateway_policy_set(E.gw, &p), 0);
	pump();
	c1 = counters();
	assert_int_equal(c1.killed, c0.killed + 1);
	assert_int_equal(c1.expired, c0.expired + 1);
	assert_int_equal(c1.idle, c0.idle + 1);
	assert_int_equal(c1.kill_alerts_sent, c0.kill_alerts_sent + 3);
	assert_int_equal(c1.closing, 0);
	expect_close_notify(&k);
	expect_close_notify(&x);
	expect_close_notify(&idle);
	dev_free(&k);
	dev_free(&x);
	dev_free(&idle);
}

/* What the device makes happen: forged records up to the limit, its own close_notify. */
static void test_end_by_device(void **state)
{
	static const uint8_t close_notify[2] = { SG_TLS_ALERT_WARNING, SG_TLS_ALERT_CLOSE_NOTIFY };
	struct sg_gw_counters c0 = counters(), c1;
	struct dev f, a;
	uint8_t buf[512];
	unsigned forged = 0;
	size_t n;

	(void)state;
	dev_init(&f);
	dev_init(&a);
	assert_int_equal(install(&f, "dev-f", 1, 1, later(), false), 0);
	assert_int_equal(install(&a, "dev-a", 1, 0, later(), false), 0);
	/* RFC 9147 §4.5.3: forgeries up to the key's limit end the session. */
	while (forged <= AUTH_LIMIT &&
	       sg_gateway_session_get(E.gw, f.id, &(struct sg_gw_session){ 0 }) == 0) {
		n = dev_seal(&f, SG_DTLS_CT_APPLICATION_DATA, (const uint8_t *)"forged", 6, true,
		             buf, sizeof(buf));
		dev_send(&f, 1, buf, n);
		forged++;
		pump();
	}
	assert_gone(&f);
	assert_int_equal(forged, AUTH_LIMIT);
	/* The device's authenticated close_notify ends its session; it is not answered. */
	n = dev_seal(&a, SG_DTLS_CT_ALERT, close_notify, 2, false, buf, sizeof(buf));
	dev_send(&a, 0, buf, n);
	pump();
	assert_gone(&a);
	c1 = counters();
	assert_int_equal(c1.forged, c0.forged + 1);
	assert_int_equal(c1.ended_by_device, c0.ended_by_device + 1);
	assert_int_equal(c1.kill_alerts_sent, c0.kill_alerts_sent + 1);
	assert_int_equal(c1.punts_taken[SG_DP_PUNT_KEY_EXHAUSTED],
	                 c0.punts_taken[SG_DP_PUNT_KEY_EXHAUSTED] + 1);
	assert_int_equal(c1.punts_taken[SG_DP_PUNT_ALERT], c0.punts_taken[SG_DP_PUNT_ALERT] + 1);
	expect_close_notify(&f);
	assert_int_equal(dev_recv(&a, buf, sizeof(buf)), 0);
	dev_free(&f);
	dev_free(&a);
}

/* A revoked credential: some sessions end at once, the rest in the background. */
static void test_end_revoked(void **state)
{
	struct sg_gw_counters c0 = counters(), c1;
	struct dev d[3];
	unsigned alerts = 0;
	size_t left = 0;

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		dev_init(&d[i]);
		assert_int_equal(install(&d[i], "dev-v", 1, i % N_WORKERS, later(), false), 0);
	}
	assert_int_equal(
	        sg_gateway_revoke_sessions(E.gw, (const uint8_t *)"dev-v", 5, 2, &alerts, &left),
	        2);
	assert_int_equal(alerts, 2);
	assert_int_equal(left, 1);
	c1 = counters();
	assert_int_equal(c1.revoked_ended, c0.revoked_ended + 2);
	assert_int_equal(c1.revocations_pending, 1);
	pump();
	c1 = counters();
	assert_int_equal(c1.revoked_ended, c0.revoked_ended + 3);
	assert_int_equal(c1.killed, c0.killed + 3);
	assert_int_equal(c1.revocations_pending, 0);
	/* The last one ended in that poll, after the workers reported: its alert comes next. */
	assert_int_equal(c1.kill_alerts_sent, c0.kill_alerts_sent + 2);
	pump();
	c1 = counters();
	assert_int_equal(c1.kill_alerts_sent, c0.kill_alerts_sent + 3);
	assert_int_equal(sessions_of("dev-v"), 0);
	for (unsigned i = 0; i < 3; i++) {
		assert_gone(&d[i]);
		expect_close_notify(&d[i]);
		dev_free(&d[i]);
	}
}

#define MANY 100

/* Ending many sessions never waits for the workers; their alerts follow their grace period. */
static void test_retire_after_quiescent(void **state)
{
	struct sg_gw_counters c0, c1;
	struct sg_gw_ended *out = calloc(MANY, sizeof(*out));
	struct dev *d = calloc(MANY, sizeof(*d));
	size_t left = 1;

	(void)state;
	assert_non_null(out);
	assert_non_null(d);
	for (unsigned i = 0; i < MANY; i++) {
		dev_init(&d[i]);
		assert_int_equal(install(&d[i], "dev-many", 1, i % N_WORKERS, later(), false), 0);
	}
	pump();
	c0 = counters();
	/* Both workers are inside a read-side section now and stay there. */
	assert_int_equal(
	        sg_gateway_end_identity(E.gw, (const uint8_t *)"dev-many", 8, 4096, out, &left),
	        MANY);
	assert_int_equal(left, 0);
	for (unsigned i = 0; i < MANY; i++)
		assert_true(out[i].alert);
	c1 = counters();
	assert_int_equal(c1.killed, c0.killed + MANY);
	assert_int_equal(c1.sessions.live, c0.sessions.live - MANY);
	assert_int_equal(c1.closing, MANY);
	/* No worker has let go: nothing is sealed however often the gateway polls. */
	for (unsigned i = 0; i < 3; i++)
		sg_gateway_poll(E.gw);
	sg_dp_worker_poll(dp(), 0);
	sg_gateway_poll(E.gw);
	c1 = counters();
	assert_int_equal(c1.closing, MANY);
	assert_int_equal(c1.kill_alerts_sent, c0.kill_alerts_sent);
	/* The last worker reports: one poll seals them all. */
	sg_dp_worker_poll(dp(), 1);
	sg_gateway_poll(E.gw);
	c1 = counters();
	assert_int_equal(c1.closing, 0);
	assert_int_equal(c1.kill_alerts_sent, c0.kill_alerts_sent + MANY);
	flush_ctl();
	for (unsigned i = 0; i < MANY; i++) {
		assert_gone(&d[i]);
		expect_close_notify(&d[i]);
		dev_free(&d[i]);
	}
	free(out);
	free(d);
}

/* Every frame the devices sent and the gateway made came back to its pool. */
static void test_mbufs_back(void **state)
{
	(void)state;
	pump();
	collect();
	for (unsigned q = 0; q < N_WORKERS; q++) {
		drain_ring(E.dev_tx[q]);
		drain_ring(E.be_tx[q]);
	}
	assert_int_equal(rte_mempool_avail_count(E.pool), E.pool->size);
	assert_int_equal(rte_mempool_avail_count(E.gw->ports.pool), E.gw->ports.pool->size);
}

/* ---- the session store ---- */

static struct sg_dp_counters dp_totals(void)
{
	struct sg_dp_counters c;

	sg_gateway_dp_totals(E.gw, &c);
	return c;
}

/*
 * A restart in process: the gateway saved and destroyed, a new one made on
 * new ring ports over the same store and credentials, its restore and the
 * store's writer thread started as sg_gateway_start() does before the
 * workers launch.
 */
/* What the restore's progress hook saw: calls, the last one's done and status line. */
static struct {
	unsigned calls;
	bool done;
	char line[512];
} progress;

static void on_progress(void *arg, bool done)
{
	(void)arg;
	progress.calls++;
	progress.done = done;
	sg_gateway_status_line(E.gw, progress.line, sizeof(progress.line));
}

static void gateway_again(const char *tag)
{
	char dn[16], bn[16];
	struct sg_config cfg;
	struct sg_gateway_info info = { 0 };
	struct rte_ether_addr mac;
	int dev, be;

	for (unsigned w = 0; w < N_WORKERS; w++)
		sg_dp_worker_offline(dp(), w);
	sg_gateway_destroy(E.gw);
	for (unsigned q = 0; q < N_WORKERS; q++) {
		drain_ring(E.dev_tx[q]);
		drain_ring(E.be_tx[q]);
	}
	snprintf(dn, sizeof(dn), "gwdev%s", tag);
	snprintf(bn, sizeof(bn), "gwbe%s", tag);
	dev = eal_test_ring_port(dn, N_WORKERS, RING_SIZE, E.dev_rx, E.dev_tx, E.pool);
	be = eal_test_ring_port(bn, N_WORKERS, RING_SIZE, E.be_rx, E.be_tx, E.pool);
	assert_int_equal(config(dev, be, &cfg), 0);
	E.gw = sg_gateway_create(&cfg, &info);
	assert_non_null(E.gw);
	assert_int_equal(rte_eth_macaddr_get((uint16_t)dev, &mac), 0);
	memcpy(E.gw_mac, mac.addr_bytes, 6);
	sg_gateway_attach(E.gw, E.cred, NULL);
	memset(&progress, 0, sizeof(progress));
	sg_gateway_on_progress(E.gw, on_progress, NULL);
	assert_int_equal(gw_store_restore(E.gw), 0);
	/* from here on the store's writer thread puts and commits, as in a daemon */
	assert_int_equal(gw_store_writer_start(E.gw), 0);
	for (unsigned w = 0; w < N_WORKERS; w++)
		sg_dp_worker_online(dp(), w);
	sg_gateway_poll(E.gw);
}

/* An ARP request for ip among the frames the gateway sent on the device port (freed). */
static bool arp_asked(const uint8_t ip[4])
{
	struct rte_mbuf *m;
	bool found = false;

	sg_gateway_poll(E.gw);
	flush_ctl();
	while (rte_ring_dequeue(E.dev_tx[0], (void **)&m) == 0) {
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);

		/* RFC 826: Ethernet type 0x0806, opcode 1 (request), target address at 38. */
		if (m->data_len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 1 &&
		    memcmp(f + 38, ip, 4) == 0)
			found = true;
		rte_pktmbuf_free(m);
	}
	return found;
}

/* The device's application record through worker w: forwarded to the backend or not. */
static bool dev_app(struct dev *d, unsigned w, const uint8_t *rec, size_t len)
{
	uint64_t up = dp_totals().forwarded_up;

	/* The server's link-layer address, on the backend port (data plane port 1). */
	assert_int_equal(sg_dp_neigh_set(dp(), 1, 4, SERVER4, DEV_MAC), 0);
	dev_send(d, w, rec, len);
	return dp_totals().forwarded_up == up + 1;
}

/*
 * A real handshake's session is put with its identity and credential tag,
 * committed within the window, saved with its exact state at the clean
 * stop; a new gateway restores it at the same id, with its identity and
 * backend source port (its owner is the restore's choice); the device's next record under the keys
 * it negotiated before goes to the backend, its earlier one is refused as a replay. Then the
 * credential's key changes while the gateway is down: the next restore refuses the session
 * (revoked), never brings it back.
 */
static void test_store_restart(void **state)
{
	static const uint8_t psk2[16] = { 0x53, 0x47, 0x99 };
	static const char ovr[] = "handshake_rate=77\nrekey_grace=5s\n";
	char text[64], line[512];
	struct sg_cred_entry e = { .psk_len = sizeof(psk2) };
	struct sg_gw_session s0, s1;
	struct sg_gw_store_info si;
	uint8_t first[256], buf[256];
	size_t n1, n;
	struct hc hc;
	struct dev d;
	uint64_t id;

	(void)state;
	dev_init(&d);
	handshake(&hc, &d, 1);
	assert_int_equal(sg_gateway_sessions_of(E.gw, (const uint8_t *)"hs-dev", 6, &id, 1), 1);
	assert_int_equal(sg_gateway_session_get(E.gw, id, &s0), 0);
	assert_true(s0.has_bsource);
	assert_non_null(sg_sessreg_tag(E.gw->end.reg, id));
	/* the client offered extended master secret (RFC 7627): its record will say so */
	assert_int_equal(sg_sessreg_store_flags(E.gw->end.reg, id), SG_STORE_F_EMS);
	n1 = hc_rec_app(&hc, (const uint8_t *)"before", 6, first, sizeof(first));
	assert_true(dev_app(&d, 1, first, n1));
	sg_gateway_store_info(E.gw, &si);
	assert_int_equal(si.enabled, 1);
	assert_string_equal(si.backend, "lmdb");
	assert_true(si.puts >= 1);
	/* The group commit: a write waits for store.commit_interval (100 ms), then goes. */
	usleep(150 * 1000);
	sg_gateway_poll(E.gw);
	gw_store_put(E.gw, id);
	sg_gateway_poll(E.gw);
	sg_gateway_store_info(E.gw, &si);
	assert_int_equal(si.pending, 1);
	usleep(150 * 1000);
	sg_gateway_poll(E.gw);
	sg_gateway_store_info(E.gw, &si);
	assert_int_equal(si.pending, 0);
	assert_true(si.commits >= 1 && si.records >= 1);
	sg_gateway_status_line(E.gw, line, sizeof(line));
	assert_non_null(strstr(line, " | store 1 (+0 pending)"));
	/* The clean stop: the workers stopped (never launched here), then the save. */
	assert_int_equal(sg_gateway_save(E.gw), 0);
	sg_gateway_store_info(E.gw, &si);
	assert_true(si.save_done);
	assert_int_equal(si.saved, si.records);
	gateway_again("2");
	/* The device's link-layer address died with the old process: the gateway asks. */
	assert_true(arp_asked(d.ip));
	assert_int_equal(sg_dp_neigh_set(dp(), 0, 4, d.ip, DEV_MAC), 0);
	sg_gateway_store_info(E.gw, &si);
	assert_true(si.restored >= 1);
	assert_int_equal(si.restore_revoked + si.restore_refused, 0);
	/* The restore's end on the status line, told to the daemon (it prints it); after it, the
	 * usual line. */
	{
		unsigned long long back = 0, seen = 0;

		assert_true(progress.calls >= 1 && progress.done);
		assert_non_null(strstr(progress.line, "] store: restored "));
		assert_int_equal(sscanf(strstr(progress.line, "] store: restored ") + 2,
		                        "store: restored %llu sessions of %llu records in", &back,
		                        &seen),
		                 2);
		assert_true(back == si.restored && seen >= back);
		sg_gateway_status_line(E.gw, line, sizeof(line));
		assert_null(strstr(line, "restored"));
		assert_non_null(strstr(line, " | store "));
		/* a long restore's progress, as restore.c reports it once a second */
		gw_status_restore(E.gw, 70000, 69000, 500000000, false);
		assert_false(progress.done);
		assert_non_null(
		        strstr(progress.line,
		               "] store: restoring, 70000 records read, 69000 sessions back"));
		gw_status_restore(E.gw, 70001, 69001, 1500000000, true);
		assert_non_null(
		        strstr(progress.line,
		               "] store: restored 69001 sessions of 70001 records in 1.500 s"));
		sg_gateway_status_line(E.gw, line, sizeof(line));
		assert_non_null(strstr(line, " | store "));
	}
	assert_int_equal(sg_gateway_session_get(E.gw, id, &s1), 0);
	assert_int_equal(s1.identity_len, 6);
	assert_memory_equal(s1.identity, "hs-dev", 6);
	assert_int_equal(s1.bport, s0.bport);
	assert_memory_equal(s1.baddr, s0.baddr, sizeof(s1.baddr));
	assert_int_equal(s1.info.tx_seq, s0.info.tx_seq); /* exact: nothing leapt */
	/* EMS came back from the record (and goes into it again at the next put) */
	assert_int_equal(sg_sessreg_store_flags(E.gw->end.reg, id), SG_STORE_F_EMS);
	assert_int_equal(dp_totals().drop[SG_DROP_REPLAYED], 0);
	assert_false(dev_app(&d, s1.info.owner, first, n1));
	assert_int_equal(dp_totals().drop[SG_DROP_REPLAYED], 1);
	n = hc_rec_app(&hc, (const uint8_t *)"after", 5, buf, sizeof(buf));
	assert_true(dev_app(&d, s1.info.owner, buf, n));
	/* The device's key changes while the gateway is down: not restored. */
	memcpy(e.psk, psk2, sizeof(psk2));
	assert_int_equal(sg_cred_put(E.cred, "hs-dev", 6, &e), 0);
	/* A live policy change stored now wins over the file at the next start. */
	assert_int_equal(sg_gateway_config(E.gw)->policy.handshake_rate, 0);
	assert_int_equal(sg_gateway_store_policy(E.gw, ovr, strlen(ovr)), 0);
	assert_int_equal(sg_gateway_save(E.gw), 0);
	/* the save waited for the writer thread's commit: nothing pending, nothing lost */
	sg_gateway_store_info(E.gw, &si);
	assert_int_equal(si.pending, 0);
	assert_int_equal(si.lag_ms, 0);
	assert_int_equal(si.failed, 0);
	assert_true(si.records >= 1 && si.saved == si.records);
	gateway_again("3");
	sg_gateway_store_info(E.gw, &si);
	assert_true(si.restore_revoked >= 1);
	assert_int_equal(sg_gateway_session_get(E.gw, id, &s1), -ENOENT);
	assert_int_equal(sessions_of("hs-dev"), 0);
	assert_int_equal(sg_gateway_config(E.gw)->policy.handshake_rate, 77);
	assert_int_equal(sg_gateway_config(E.gw)->policy.rekey_grace, 5);
	assert_int_equal(sg_gateway_policy_overrides(E.gw, text, sizeof(text)), (int)strlen(ovr));
	assert_string_equal(text, ovr);
	assert_int_equal(sg_gateway_policy_overrides(E.gw, text, 4), -ENOBUFS);
	/* Reset: none stored, the file's policy at the next start. */
	assert_int_equal(sg_gateway_store_policy(E.gw, "", 0), 0);
	assert_int_equal(sg_gateway_policy_overrides(E.gw, text, sizeof(text)), 0);
	gateway_again("4");
	assert_int_equal(sg_gateway_config(E.gw)->policy.handshake_rate, 0);
	assert_int_equal(sg_gateway_policy_overrides(E.gw, text, sizeof(text)), 0);
	hc_free(&hc);
	dev_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_owner),
		cmocka_unit_test(test_finished_again),
		cmocka_unit_test(test_revoked_mid_handshake),
		cmocka_unit_test(test_cert_install_guard),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_end_asked_and_swept),
		cmocka_unit_test(test_end_by_device),
		cmocka_unit_test(test_end_revoked),
		cmocka_unit_test(test_retire_after_quiescent),
		cmocka_unit_test(test_mbufs_back),
		cmocka_unit_test(test_store_restart),
	};

	return cmocka_run_group_tests_name("gateway", tests, setup, teardown);
}
