/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake plane in process, with threads (issue 16; suite 'threads',
 * also run under ThreadSanitizer): EAL with --no-huge, the data plane over
 * two net_ring ports with one worker polled by this thread, three handshake
 * engines on their threads sg-hs-<i> (control/hsplane) sharing one struct
 * sg_hs_secrets and one LMDB credential store, and 24 real OpenSSL DTLS 1.2
 * PSK clients, each on a socketpair whose datagrams this thread turns into
 * frames from the client's own address and port (and the gateway's frames
 * back). This thread is also the owner: it drains the engines' FIFOs,
 * installing each session into a real session table (and its backend side
 * into the data plane) before its final flight goes out.
 *
 * Every third client loses the server's flight after the HelloVerifyRequest,
 * so its ClientHello (with the cookie) and the server's flight are
 * retransmitted, and must reach the engine that holds its handshake. Checks, for 1, 2 and 3
 * engines: every handshake completes, exactly once (one install per client, at its address and
 * port); every datagram of a client reached the engine of its queue (per engine, the datagrams it
 * counted equal those the clients of its queue sent, retransmissions included, and no engine saw a
 * datagram of a handshake it did not have: drop_no_state 0); the engines shared the work; each
 * client's first application record opens on the worker with the installed keys and reaches the
 * backend; nothing is left in flight; every CID reserved went back or into a session; no TSan
 * report.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <openssl/ssl.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stormgate/dataplane.h>
#include <stormgate/handshake.h>
#include <stormgate/record.h>
#include <stormgate/session.h>
#include <stormgate/time.h>

#include "dp_frames.h"
#include "dp_net.h"
#include "eal_test.h"
#include "hs_ossl.h"
#include "sg_cred.h"
#include "sg_hsplane.h"
#include "tc_tmp.h"
#include "tsan_dpdk.h"

#define POOL_SIZE  4095
#define RING_SIZE  1024
#define N_CLIENTS  24
#define DEADLINE   30000 /* ms: OpenSSL retransmits after 1 s, then 2 s */
#define STRAY_PORT 45000

static struct env {
	struct rte_mempool *pool;
	struct rte_ring *dev_rx[1], *dev_tx[1], *be_rx[1], *be_tx[1];
	uint16_t dev_port, be_port;
	struct sg_sess_table *tab;
	struct sg_dp *dp;
	struct sg_cred *cred;
	struct sg_hs_secrets *secrets;
	char dir[64], db[96];
	struct harness h; /* only its fd[0]: the client end for ho_client_new() */
} E;

/* One client: its socketpair, its address and port, what happened to it. */
struct client {
	int fd[2]; /* [0]: OpenSSL's end, [1]: ours */
	SSL *ssl;
	struct ho_psk psk;
	char identity[32];
	uint8_t key[16];
	uint8_t ip[4];
	uint16_t port;
	unsigned queue;
	unsigned sent;     /* handshake datagrams it sent into the data plane */
	unsigned installs; /* sessions installed at its address and port */
	unsigned from_srv; /* datagrams from the server it got */
	bool lose_flight;  /* the server's second datagram (ServerHello...) is lost */
	bool done, data_ok;
};

static struct client C[N_CLIENTS];

/* What the owner (this thread) did. */
static struct {
	unsigned installs, refused, cid_reserved, cid_released;
	unsigned records; /* records of no session the engines handed over */
} O;

/* Client i's identity and key. */
static void identity_of(struct client *c, unsigned i)
{
	snprintf(c->identity, sizeof(c->identity), "hsp-dev-%u", i);
	for (unsigned k = 0; k < 16; k++)
		c->key[k] = (uint8_t)(i * 31 + k * 7 + 1);
}

static void put_creds(void)
{
	for (unsigned i = 0; i < N_CLIENTS; i++) {
		struct sg_cred_entry e = { .psk_len = 16 };

		identity_of(&C[i], i);
		memcpy(e.psk, C[i].key, 16);
		assert_int_equal(sg_cred_put(E.cred, C[i].identity, strlen(C[i].identity), &e), 0);
	}
}

static uint16_t ring_port(const char *name, struct rte_ring **rx, struct rte_ring **tx)
{
	int port = eal_test_ring_port(name, 1, RING_SIZE, rx, tx, E.pool);

	assert_true(port >= 0);
	assert_int_equal(tsan_dpdk_watch_port((uint16_t)port, 1), 0);
	assert_int_equal(rte_eth_dev_start((uint16_t)port), 0);
	return (uint16_t)port;
}

static int setup(void **state)
{
	(void)state;
	if (eal_test_init("sghsp", 256, 0, NULL) < 0)
		return -1;
	E.pool = tsan_dpdk_pool("sghsp", POOL_SIZE, RTE_MBUF_DEFAULT_BUF_SIZE);
	if (E.pool == NULL)
		return -1;
	E.dev_port = ring_port("hspdev", E.dev_rx, E.dev_tx);
	E.be_port = ring_port("hspbe", E.be_rx, E.be_tx);
	if (tc_tmpdir(E.dir, sizeof(E.dir), "sg-hsp") != 0)
		return -1;
	snprintf(E.db, sizeof(E.db), "%s/db", E.dir);
	E.cred = sg_cred_open(E.db, 16u << 20, SG_CRED_CREATE);
	E.secrets = sg_hs_secrets_create(0, 0);
	return E.cred != NULL && E.secrets != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	sg_hs_secrets_free(E.secrets);
	sg_cred_close(E.cred);
	tc_rmtree(E.dir);
	eal_test_ring_port_close(E.dev_port, 1, E.dev_rx, E.dev_tx);
	eal_test_ring_port_close(E.be_port, 1, E.be_rx, E.be_tx);
	rte_mempool_free(E.pool);
	eal_test_fini();
	return 0;
}

/* ---- the owner's sink: the install into the table, CIDs ---- */

static struct client *client_of(const struct sg_hs_peer *p)
{
	for (unsigned i = 0; i < N_CLIENTS; i++)
		if (memcmp(p->paddr + 12, C[i].ip, 4) == 0 && ntohs(p->pport) == C[i].port)
			return &C[i];
	return NULL;
}

static int sink_install(void *ctx, const struct sg_hs_result *res, unsigned worker)
{
	struct client *c = client_of(&res->peer);
	struct sg_sess_new s = { .sa = res->sa, .flags = SG_SESS_F_TUPLE, .owner = 0 };
	uint64_t id;
	uint16_t bport;
	int rc;

	(void)ctx;
	assert_non_null(c);
	assert_int_equal(worker, 0);
	assert_int_equal(res->identity_len, strlen(c->identity));
	assert_memory_equal(res->identity, c->identity, res->identity_len);
	memcpy(s.tuple.laddr, res->peer.laddr, 16);
	memcpy(s.tuple.paddr, res->peer.paddr, 16);
	s.tuple.lport = res->peer.lport;
	s.tuple.pport = res->peer.pport;
	s.suite = res->suite;
	s.expires = (uint32_t)res->expires;
	if (res->cid_len) {
		s.cid = res->cid;
		s.flags = SG_SESS_F_CID;
	}
	rc = sg_sess_insert(E.tab, &s, &id, NULL);
	if (rc != 0) {
		O.refused++;
		return rc;
	}
	/* Its backend side before our Finished can reach the device. */
	dp_test_attach(E.dp, SG_DP_BACKEND_UDP, id, (unsigned)(c - C), NULL, GWB4, &bport);
	c->installs++;
	O.installs++;
	return 0;
}

static bool sink_record(void *ctx, struct rte_mbuf *m, const struct sg_hs_peer *peer,
                        const uint8_t *payload, uint16_t len)
{
	(void)ctx;
	(void)m;
	/* Only the stray record of stray_record(): the clients send data after our Finished. */
	assert_int_equal(peer->pport, htons(STRAY_PORT));
	assert_int_equal(payload[0], 23);
	assert_int_equal(len, SG_DTLS_HDR_LEN + 32);
	O.records++;
	return false; /* no session: freed, counted */
}

static int sink_cid_reserve(void *ctx, uint8_t *cid)
{
	(void)ctx;
	O.cid_reserved++;
	return sg_sess_cid_reserve(E.tab, cid);
}

static void sink_cid_release(void *ctx, const uint8_t *cid)
{
	(void)ctx;
	O.cid_released++;
	assert_int_equal(sg_sess_cid_release(E.tab, cid), 0);
}

/* ---- the network between the clients and the data plane ---- */

/* A client's datagram (read from its socketpair) into the worker's RX ring. */
static unsigned clients_to_dp(void)
{
	uint8_t buf[2048];
	unsigned n = 0;

	for (unsigned i = 0; i < N_CLIENTS; i++) {
		ssize_t len;

		while ((len = recv(C[i].fd[1], buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			struct rte_mbuf *m =
			        dp_frame_udp(E.pool, DEV_MAC, GW_MAC, 4, C[i].ip, C[i].port, GW4,
			                     DTLS_PORT, buf, (uint16_t)len);

			assert_non_null(m);
			tsan_dpdk_handed(&m, 1);
			assert_int_equal(rte_ring_enqueue(E.dev_rx[0], m), 0);
			/* the handshake's datagrams; its application record goes to the backend */
			C[i].sent += buf[0] != 23;
			n++;
		}
	}
	return n;
}

/* The gateway's frames (worker 0's TX) to their client's socketpair; the losses. */
static void dp_to_clients(void)
{
	struct rte_mbuf *m;

	while (rte_ring_dequeue(E.dev_tx[0], (void **)&m) == 0) {
		struct dp_frame f;

		tsan_dpdk_taken(&m, 1);
		if (dp_frame_read(m, &f) == 0 && f.family == 4) {
			for (unsigned i = 0; i < N_CLIENTS; i++) {
				struct client *c = &C[i];

				if (memcmp(f.dst, c->ip, 4) != 0 || f.dport != c->port)
					continue;
				if (!(c->lose_flight && c->from_srv++ == 1))
					assert_true(send(c->fd[1], f.payload, f.len, 0) == f.len);
			}
		}
		rte_pktmbuf_free(m);
	}
}

/* Plaintext the worker forwarded to the backend: each client's "hello <i>". */
static void backend_in(void)
{
	struct rte_mbuf *m;

	while (rte_ring_dequeue(E.be_tx[0], (void **)&m) == 0) {
		struct dp_frame f;
		char text[32] = { 0 };
		unsigned i;

		tsan_dpdk_taken(&m, 1);
		if (dp_frame_read(m, &f) == 0 && f.len < sizeof(text)) {
			memcpy(text, f.payload, f.len);
			if (sscanf(text, "hello %u", &i) == 1 && i < N_CLIENTS)
				C[i].data_ok = true;
		}
		rte_pktmbuf_free(m);
	}
}

/*
 * An application record from an address with no session: punted as a
 * record of no session onto its handshake queue, not fed to the engine but
 * handed to the owner in order (the sink frees it: unknown_dropped).
 */
static void stray_record(void)
{
	const uint8_t ip[4] = { 198, 18, 1, 200 };
	uint8_t rec[SG_DTLS_HDR_LEN + 32] = { 23, 0xfe, 0xfd, 0, 1, [12] = 32 };
	struct rte_mbuf *m = dp_frame_udp(E.pool, DEV_MAC, GW_MAC, 4, ip, STRAY_PORT, GW4,
	                                  DTLS_PORT, rec, sizeof(rec));

	assert_non_null(m);
	tsan_dpdk_handed(&m, 1);
	assert_int_equal(rte_ring_enqueue(E.dev_rx[0], m), 0);
}

/* ---- the test ---- */

static void clients_start(unsigned engines)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	for (unsigned i = 0; i < N_CLIENTS; i++) {
		struct client *c = &C[i];
		struct ho_opts o = { .cipher = "PSK-AES128-GCM-SHA256" };
		uint8_t a[16];

		memset(c, 0, sizeof(*c));
		identity_of(c, i);
		c->ip[0] = 198;
		c->ip[1] = 18;
		c->ip[2] = 1;
		c->ip[3] = (uint8_t)(20 + i);
		c->port = (uint16_t)(30000 + engines * 100 + i); /* new clients each run */
		memcpy(a, mapped, 12);
		memcpy(a + 12, c->ip, 4);
		c->queue = sg_dp_hs_queue_of(E.dp, a, htons(c->port));
		c->lose_flight = i % 3 == 0;
		assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, c->fd), 0);
		assert_int_equal(fcntl(c->fd[0], F_SETFL, O_NONBLOCK), 0);
		c->psk.identity = c->identity;
		c->psk.key = c->key;
		c->psk.key_len = 16;
		E.h.fd[0] = c->fd[0];
		c->ssl = ho_client_new(&E.h, &o, &c->psk);
		assert_int_equal(sg_dp_neigh_set(E.dp, 0, 4, c->ip, DEV_MAC), 0);
	}
}

static void clients_free(void)
{
	for (unsigned i = 0; i < N_CLIENTS; i++) {
		SSL_free(C[i].ssl);
		close(C[i].fd[0]);
		close(C[i].fd[1]);
	}
}

/* Each client's handshake one step on; its first record once done. True when all are done. */
static bool clients_step(void)
{
	bool all = true;

	for (unsigned i = 0; i < N_CLIENTS; i++) {
		struct client *c = &C[i];

		if (!c->done && ho_step(c->ssl) == 1) {
			char msg[16];
			int n = snprintf(msg, sizeof(msg), "hello %u", i);

			c->done = true;
			assert_int_equal(SSL_write(c->ssl, msg, n), n);
		}
		all = all && c->done && c->data_ok;
	}
	return all;
}

/* Engine i's snapshot once it says ecdhe_reusing == want (5 s at most). */
static bool reusing_becomes(struct sg_hsplane *p, unsigned i, bool want)
{
	uint64_t until = sg_mono_ms() + 5000;
	struct sg_hsplane_engine_stats st;

	do {
		assert_int_equal(sg_hsplane_engine_stats(p, i, &st), 0);
		if (st.ecdhe_reusing == want)
			return true;
		usleep(500);
	} while (sg_mono_ms() < until);
	return false;
}

/* handshake.ecdhe_reuse as a command: every engine takes the window, and drops it again. */
static void ecdhe_reuse_command(struct sg_hsplane *p, unsigned engines)
{
	sg_hsplane_ecdhe_reuse(p, 200, 0);
	for (unsigned i = 0; i < engines; i++)
		assert_true(reusing_becomes(p, i, true));
	sg_hsplane_ecdhe_reuse(p, 0, 0);
	for (unsigned i = 0; i < engines; i++)
		assert_true(reusing_becomes(p, i, false));
}

static void run_engines(unsigned engines)
{
	struct sg_sess_params sp = { .capacity = 1024, .max_threads = 2, .cid_len = 8 };
	struct sg_dp_conf dc = { 0 };
	struct sg_hsplane_sink sink = {
		.install = sink_install,
		.record = sink_record,
		.cid_reserve = sink_cid_reserve,
		.cid_release = sink_cid_release,
	};
	struct sg_hsplane_conf pc = { 0 };
	struct sg_hsplane_totals t;
	struct sg_hsplane *p;
	uint64_t until;
	unsigned per_queue[SG_HSPLANE_ENGINES_MAX] = { 0 }, busy = 0;
	uint64_t retrans = 0;
	bool all = false;

	memset(&O, 0, sizeof(O));
	E.tab = sg_sess_table_create(&sp);
	assert_non_null(E.tab);
	dc.n_workers = 1;
	dc.n_ports = 2;
	dp_test_port(&dc.ports[0], E.dev_port, SG_DP_ROLE_DEVICE, GW_MAC, GW4, NULL, 24);
	dp_test_port(&dc.ports[1], E.be_port, SG_DP_ROLE_BACKEND, GW_MAC, GWB4, NULL, 24);
	dc.dtls_port = DTLS_PORT;
	dp_test_backend(&dc, SG_DP_BACKEND_UDP, BE4, GWB4, 1024);
	dc.sessions = E.tab;
	dc.pool = E.pool;
	dc.n_hs_queues = engines;
	E.dp = sg_dp_create(&dc);
	assert_non_null(E.dp);
	assert_int_equal(sg_dp_neigh_set(E.dp, 1, 4, BE4, BE_MAC), 0);

	pc.engines = engines;
	pc.in_flight = 3 * N_CLIENTS;
	pc.dp = E.dp;
	pc.cred = E.cred;
	pc.cid_cache = 4;
	pc.hs.cookie_policy = SG_HS_COOKIE_ALWAYS;
	pc.hs.tickets = 1;
	pc.hs.cid_len = 8;
	pc.hs.rto_initial_ms = 400;
	pc.hs.replay_window = (uint16_t)sg_sess_replay_window(E.tab);
	pc.hs.secrets = E.secrets;
	p = sg_hsplane_create(&pc, &sink);
	assert_non_null(p);
	assert_int_equal(sg_hsplane_start(p), 0);
	clients_start(engines);

	sg_dp_worker_online(E.dp, 0);
	until = sg_mono_ms() + DEADLINE;
	while (!all && sg_mono_ms() < until) {
		all = clients_step();
		clients_to_dp();
		sg_dp_worker_poll(E.dp, 0); /* datagrams to the handshake queues, frames out */
		sg_hsplane_poll(p);         /* installs, then their flights */
		sg_dp_worker_poll(E.dp, 0);
		dp_to_clients();
		backend_in();
		sg_hs_secrets_tick(E.secrets, (struct sg_hs_time){ .mono_ms = sg_mono_ms() });
		usleep(100);
	}
	ecdhe_reuse_command(p, engines);
	stray_record();
	until = sg_mono_ms() + 5000;
	while (O.records == 0 && sg_mono_ms() < until) {
		sg_dp_worker_poll(E.dp, 0);
		sg_hsplane_poll(p);
		usleep(100);
	}
	sg_dp_worker_offline(E.dp, 0);
	assert_true(all);
	assert_int_equal(O.records, 1);

	/* Stop: the engines' last words served, their CIDs back. */
	sg_hsplane_stop(p);
	for (unsigned i = 0; i < N_CLIENTS; i++) {
		assert_int_equal(C[i].installs, 1);
		per_queue[C[i].queue] += C[i].sent;
	}
	for (unsigned e = 0; e < engines; e++) {
		struct sg_hsplane_engine_stats st;
		uint64_t dgrams = 0;

		assert_int_equal(sg_hsplane_engine_stats(p, e, &st), 0);
		for (unsigned k = 0; k < SG_HS_C_DGRAM_MAX; k++)
			dgrams += st.hs.c[k];
		print_message("# %u engines: engine %u took %" PRIu64 " datagrams (%u sent to its "
		              "queue), %" PRIu64 " handshakes, %" PRIu64 " retransmitted flights\n",
		              engines, e, dgrams, per_queue[e], st.hs.c[SG_HS_C_COMPLETED_FULL],
		              st.hs.c[SG_HS_C_RETRANSMIT_PEER] + st.hs.c[SG_HS_C_RETRANSMIT_TIMER]);
		/* Every datagram of a client, retransmissions too, reached its queue's engine. */
		assert_int_equal(dgrams, per_queue[e]);
		assert_int_equal(st.hs.c[SG_HS_C_DROP_NO_STATE], 0);
		assert_int_equal(st.hs.c[SG_HS_C_FAIL_INSTALL], 0);
		assert_int_equal(st.installs, st.hs.c[SG_HS_C_COMPLETED_FULL]);
		assert_int_equal(st.fifo_full, 0);
		assert_int_equal(st.hs.in_flight, 0); /* published by the stop */
		busy += st.hs.c[SG_HS_C_COMPLETED_FULL] > 0;
		retrans += st.hs.c[SG_HS_C_RETRANSMIT_PEER] + st.hs.c[SG_HS_C_RETRANSMIT_TIMER];
	}
	assert_int_equal(busy, engines); /* 24 clients hash onto every engine */
	/* the lost flights went again (one may have been a second HelloVerifyRequest: a client
	 * that repeated its first hello on a loaded machine) */
	assert_true(retrans > 0);
	sg_hsplane_totals(p, &t);
	assert_int_equal(t.installed, N_CLIENTS);
	assert_int_equal(t.unknown_dropped, 1);
	assert_int_equal(t.records_back, 0);
	assert_int_equal(O.installs, N_CLIENTS);
	assert_int_equal(O.refused, 0);
	/* Each CID reserved for the caches went back (OpenSSL 3.0's client asks for none). */
	{
		struct sg_sess_stats ss;

		sg_sess_stats_get(E.tab, &ss);
		assert_true(O.cid_reserved >= engines);
		assert_int_equal(O.cid_released, O.cid_reserved);
		assert_int_equal(ss.cids_reserved, 0);
	}
	sg_hsplane_destroy(p);
	clients_free();
	sg_dp_destroy(E.dp);
	sg_sess_table_destroy(E.tab);
}

static void test_one_engine(void **state)
{
	(void)state;
	put_creds();
	run_engines(1);
}

static void test_two_engines(void **state)
{
	(void)state;
	run_engines(2);
}

static void test_three_engines(void **state)
{
	(void)state;
	run_engines(3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_engine),
		cmocka_unit_test(test_two_engines),
		cmocka_unit_test(test_three_engines),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
