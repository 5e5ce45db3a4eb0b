/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cookie secrets and ticket keys shared by several engines (struct
 * sg_hs_secrets): a cookie one engine made is good at another, a ticket one
 * issued resumes at another, both survive one rotation by the owner and not
 * two, export / import round trips, bad arguments are refused, OpenSSL's
 * client gets past a cookie retired under its feet; and, in
 * threads (suite 'threads', run under ThreadSanitizer too), engines on
 * threads of their own complete OpenSSL clients' handshakes while the test
 * thread, the owner, rotates and imports every millisecond or so.
 *
 * Threads: the cmocka tests run on the test thread; test_threads starts
 * worker threads, each owning one harness (engine, socketpair, OpenSSL
 * client); they share only the secrets object and two atomics with the
 * test thread, which owns the secrets.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <stormgate/common.h>
#include <stormgate/handshake.h>

#include "hs_client.h"
#include "hs_harness.h"
#include "hs_ossl.h"

#define COOKIE_ROTATE_MS 1000
#define TICKET_ROTATE_S  3600 /* under the tickets' lifetime (86400 s): keys, not age, decide */

/* A capture-mode harness whose engine uses the shared secrets s. */
static void start_on(struct harness *h, struct sg_hs_secrets *s)
{
	h_prepare(h, SG_HS_COOKIE_ALWAYS);
	h->conf.secrets = s;
	h_start(h);
	h->capture = true;
}

/* The owner's clock: the harness's start (h_start), plus ms and s on its two clocks. */
static struct sg_hs_time at(uint64_t ms, uint64_t s)
{
	return (struct sg_hs_time){ .mono_ms = 1000000 + ms, .unix_s = 1700000000 + s };
}

/* After r rotation periods of both the cookie secrets and the ticket keys. */
static struct sg_hs_time owner_time(unsigned r)
{
	return at((uint64_t)r * COOKIE_ROTATE_MS, (uint64_t)r * TICKET_ROTATE_S);
}

/* A ClientHello from c (with the cookie it holds) into h: what came back ('V', 'H', ...). */
static int hello_answer(struct hc *c, struct harness *h)
{
	uint8_t d[2048];

	h_input(h, d, hc_client_hello(c, d, sizeof(d)));
	return hc_drain(c, h);
}

/* The client's flight 5 into h; true when the engine finished and installed. */
static bool finish_at(struct hc *c, struct harness *h)
{
	uint8_t d[2048];
	unsigned before = h->n_installed;

	h_input(h, d, hc_flight5(c, d, sizeof(d), false));
	return hc_drain(c, h) == 'F' && c->server_finished_ok && h->n_installed == before + 1;
}

/* A full handshake at h with a ticket asked for: the ticket and master secret into t. */
struct ticket {
	uint8_t bytes[512];
	uint16_t len;
	uint8_t master[48];
};

static void full_with_ticket(struct harness *h, struct ticket *t)
{
	struct hc c;
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);

	o.ticket_ext = true;
	hc_init(&c, &o);
	assert_int_equal(hc_handshake(&c, h), 0);
	assert_true(c.ticket_len > 0);
	memcpy(t->bytes, c.ticket, c.ticket_len);
	t->len = c.ticket_len;
	memcpy(t->master, c.master, sizeof(t->master));
	hc_free(&c);
}

/* Offer ticket t at h: 1 resumed, 0 a full handshake instead (completed), -1 failed. */
static int resume_at(struct harness *h, const struct ticket *t)
{
	struct hc c;
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	int rc;

	o.ticket_ext = true;
	o.ticket = t->bytes;
	o.ticket_len = t->len;
	o.resume_master = t->master;
	hc_init(&c, &o);
	rc = hc_handshake(&c, h);
	if (rc == 0)
		rc = c.resumed && h->sess.res.resumed ? 1 : 0;
	hc_free(&c);
	return rc;
}

/* ---- two engines, one secrets object --------------------------------------------------------- */

/* Engine A's HelloVerifyRequest cookie is accepted by engine B, which completes the handshake. */
static void test_cookie_across_engines(void **state)
{
	struct sg_hs_secrets *s = sg_hs_secrets_create(COOKIE_ROTATE_MS, TICKET_ROTATE_S);
	struct harness a, b;
	struct hc c;
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);

	(void)state;
	assert_non_null(s);
	assert_int_equal(sg_hs_secrets_tick(s, owner_time(0)), 2); /* created at time 0 */
	start_on(&a, s);
	start_on(&b, s);
	hc_init(&c, &o);
	assert_int_equal(hello_answer(&c, &a), 'V');
	assert_int_equal(hello_answer(&c, &b), 'H');
	assert_int_equal(h_count(&b, SG_HS_C_STARTED), 1);
	assert_int_equal(h_count(&b, SG_HS_C_DROP_COOKIE_BAD), 0);
	assert_int_equal(h_count(&b, SG_HS_C_HVR_SENT), 0);
	assert_true(finish_at(&c, &b));
	hc_data_both_ways(&c, &b);
	hc_free(&c);
	/* The engines never rotate shared secrets themselves. */
	h_advance(&a, 10 * COOKIE_ROTATE_MS);
	assert_int_equal(sg_hs_secrets_generation(a.e), sg_hs_secrets_gen(s));
	assert_int_equal(sg_hs_next_deadline(a.e), UINT64_MAX);
	h_stop(&a);
	h_stop(&b);
	sg_hs_secrets_free(s);
}

/* A ticket engine A issued resumes at engine B. */
static void test_ticket_across_engines(void **state)
{
	struct sg_hs_secrets *s = sg_hs_secrets_create(COOKIE_ROTATE_MS, TICKET_ROTATE_S);
	struct harness a, b;
	struct ticket t;

	(void)state;
	assert_non_null(s);
	sg_hs_secrets_tick(s, owner_time(0));
	start_on(&a, s);
	start_on(&b, s);
	full_with_ticket(&a, &t);
	assert_int_equal(h_count(&a, SG_HS_C_TICKET_ISSUED), 1);
	assert_int_equal(resume_at(&b, &t), 1);
	assert_int_equal(h_count(&b, SG_HS_C_COMPLETED_RESUMED), 1);
	assert_int_equal(h_count(&b, SG_HS_C_TICKET_REJECTED), 0);
	h_stop(&a);
	h_stop(&b);
	sg_hs_secrets_free(s);
}

/*
 * At h, client c (holding a cookie another engine made) and ticket t (that
 * engine's): accepted, or refused as retired (a new HelloVerifyRequest, a
 * full handshake), each counted once.
 */
static void use_at(struct harness *h, struct hc *c, const struct ticket *t, bool accepted)
{
	uint64_t expired = h_count(h, SG_HS_C_DROP_COOKIE_EXPIRED);
	uint64_t rejected = h_count(h, SG_HS_C_TICKET_REJECTED);

	if (!accepted) {
		/* A fresh cookie, under the current secret, then the handshake. */
		assert_int_equal(hello_answer(c, h), 'V');
		assert_int_equal(h_count(h, SG_HS_C_DROP_COOKIE_EXPIRED), expired + 1);
	}
	assert_int_equal(hello_answer(c, h), 'H');
	assert_true(finish_at(c, h));
	assert_int_equal(resume_at(h, t), accepted ? 1 : 0);
	assert_int_equal(h_count(h, SG_HS_C_TICKET_REJECTED), rejected + !accepted);
	if (accepted)
		assert_int_equal(h_count(h, SG_HS_C_DROP_COOKIE_EXPIRED), expired);
}

/*
 * The owner's rotations reach every engine before its next datagram: after
 * one, a cookie and a ticket each engine made under the keys before are
 * still accepted at the other (the previous secret and key); after two, the
 * cookie is expired (a new HelloVerifyRequest) and the ticket unknown (a
 * full handshake).
 */
static void test_rotation(void **state)
{
	static const struct {
		const char *what;
		unsigned rotations; /* by the owner between issuing and use */
		bool accepted;
	} rows[] = {
		{ "no rotation", 0, true },
		{ "one rotation: the previous secret and key", 1, true },
		{ "two rotations: retired", 2, false },
	};

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct sg_hs_secrets *s = sg_hs_secrets_create(COOKIE_ROTATE_MS, TICKET_ROTATE_S);
		struct harness a, b;
		struct hc ca, cb;
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
		struct ticket ta, tb;
		uint64_t g;

		print_message("# %s\n", rows[i].what);
		assert_non_null(s);
		sg_hs_secrets_tick(s, owner_time(0));
		start_on(&a, s);
		start_on(&b, s);
		/* A cookie and a ticket from each engine. */
		full_with_ticket(&a, &ta);
		full_with_ticket(&b, &tb);
		hc_init(&ca, &o);
		hc_init(&cb, &o);
		assert_int_equal(hello_answer(&ca, &a), 'V');
		assert_int_equal(hello_answer(&cb, &b), 'V');
		for (unsigned r = 1; r <= rows[i].rotations; r++) {
			g = sg_hs_secrets_gen(s);
			/* Each period, cookie_rotate_ms and ticket_rotate_s, passed once more. */
			assert_int_equal(sg_hs_secrets_tick(s, owner_time(r)), 2);
			assert_true(sg_hs_secrets_gen(s) != g);
			assert_int_equal(sg_hs_secrets_generation(a.e), sg_hs_secrets_gen(s));
			assert_int_equal(sg_hs_secrets_generation(b.e), sg_hs_secrets_gen(s));
		}
		/* Each used at the other engine. */
		use_at(&b, &ca, &ta, rows[i].accepted);
		use_at(&a, &cb, &tb, rows[i].accepted);
		hc_free(&ca);
		hc_free(&cb);
		h_stop(&a);
		h_stop(&b);
		sg_hs_secrets_free(s);
	}
}

/*
 * Export from one secrets object, import into another (a restart): cookies
 * and tickets of the first are good at an engine of the second; the
 * engine-level functions act on the shared object; malformed blobs and
 * NULL arguments are refused and move nothing.
 */
static void test_export_import(void **state)
{
	struct sg_hs_secrets *s1 = sg_hs_secrets_create(COOKIE_ROTATE_MS, TICKET_ROTATE_S);
	struct sg_hs_secrets *s2 = sg_hs_secrets_create(COOKIE_ROTATE_MS, TICKET_ROTATE_S);
	uint8_t ck[SG_HS_COOKIE_SECRETS_LEN], tk[SG_HS_TICKET_KEYS_LEN];
	uint8_t ck2[SG_HS_COOKIE_SECRETS_LEN], tk2[SG_HS_TICKET_KEYS_LEN];
	struct harness a, b;
	struct hc c;
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	struct ticket t;
	int nc, nt;
	uint64_t g;

	(void)state;
	assert_non_null(s1);
	assert_non_null(s2);
	sg_hs_secrets_tick(s1, owner_time(0));
	sg_hs_secrets_tick(s2, owner_time(0));
	start_on(&a, s1);
	start_on(&b, s2);
	full_with_ticket(&a, &t);
	hc_init(&c, &o);
	assert_int_equal(hello_answer(&c, &a), 'V');

	nc = sg_hs_secrets_cookie_export(s1, ck, sizeof(ck));
	nt = sg_hs_secrets_ticket_export(s1, tk, sizeof(tk));
	assert_true(nc > 0 && nc <= SG_HS_COOKIE_SECRETS_LEN);
	assert_true(nt > 0 && nt <= SG_HS_TICKET_KEYS_LEN);
	/* The engine-level export is the shared object's. */
	assert_int_equal(sg_hs_cookie_secrets_export(a.e, ck2, sizeof(ck2)), nc);
	assert_int_equal(sg_hs_ticket_keys_export(a.e, tk2, sizeof(tk2)), nt);
	assert_memory_equal(ck, ck2, (size_t)nc);
	assert_memory_equal(tk, tk2, (size_t)nt);
	assert_int_equal(sg_hs_secrets_cookie_export(s1, ck2, 10), -ENOSPC);
	assert_int_equal(sg_hs_secrets_ticket_export(s1, tk2, 10), -ENOSPC);

	/* Refused: nothing moves. */
	g = sg_hs_secrets_gen(s2);
	assert_int_equal(sg_hs_secrets_cookie_import(s2, ck, (size_t)nc - 1), -EINVAL);
	assert_int_equal(sg_hs_secrets_ticket_import(s2, tk, (size_t)nt - 1), -EINVAL);
	memcpy(ck2, ck, (size_t)nc);
	ck2[0] ^= 1; /* magic */
	assert_int_equal(sg_hs_secrets_cookie_import(s2, ck2, (size_t)nc), -EINVAL);
	assert_int_equal(sg_hs_secrets_cookie_import(s2, NULL, (size_t)nc), -EINVAL);
	assert_int_equal(sg_hs_secrets_ticket_import(NULL, tk, (size_t)nt), -EINVAL);
	assert_int_equal(sg_hs_secrets_cookie_export(NULL, ck2, sizeof(ck2)), -EINVAL);
	assert_int_equal(sg_hs_secrets_gen(s2), g);
	/* Before the import, s2's engine knows neither. */
	assert_int_equal(resume_at(&b, &t), 0);

	/* Through the engine-level import (the owner's thread), then directly. */
	assert_int_equal(sg_hs_cookie_secrets_import(b.e, ck, (size_t)nc), 0);
	assert_true(sg_hs_secrets_gen(s2) != g);
	g = sg_hs_secrets_gen(s2);
	assert_int_equal(sg_hs_secrets_ticket_import(s2, tk, (size_t)nt), 0);
	assert_true(sg_hs_secrets_gen(s2) != g);
	assert_int_equal(sg_hs_secrets_cookie_export(s2, ck2, sizeof(ck2)), nc);
	assert_int_equal(sg_hs_secrets_ticket_export(s2, tk2, sizeof(tk2)), nt);
	assert_memory_equal(ck, ck2, (size_t)nc);
	assert_memory_equal(tk, tk2, (size_t)nt);

	assert_int_equal(hello_answer(&c, &b), 'H');
	assert_true(finish_at(&c, &b));
	assert_int_equal(resume_at(&b, &t), 1);
	/* An import restarts the cookie period: the next tick rotates nothing. */
	g = sg_hs_secrets_gen(s2);
	assert_int_equal(sg_hs_secrets_tick(s2, at(COOKIE_ROTATE_MS, 0)), 0);
	assert_int_equal(sg_hs_secrets_gen(s2), g);
	hc_free(&c);
	sg_wipe(ck, sizeof(ck));
	sg_wipe(tk, sizeof(tk));
	sg_wipe(ck2, sizeof(ck2));
	sg_wipe(tk2, sizeof(tk2));
	h_stop(&a);
	h_stop(&b);
	sg_hs_secrets_free(s1);
	sg_hs_secrets_free(s2);
	sg_hs_secrets_free(NULL);
	assert_int_equal(sg_hs_secrets_tick(NULL, owner_time(0)), 0);
	assert_int_equal(sg_hs_secrets_gen(NULL), 0);
}

/*
 * OpenSSL's client whose second hello carries a cookie the owner retired
 * meanwhile (two rotations): the engine answers with a new
 * HelloVerifyRequest numbered as the hello (message_seq 1), which the
 * client takes (one numbered 0 it ignores as a retransmission), and the
 * handshake completes with the new cookie.
 */
static void test_openssl_stale_cookie(void **state)
{
	struct sg_hs_secrets *s = sg_hs_secrets_create(COOKIE_ROTATE_MS, TICKET_ROTATE_S);
	struct ho_psk cc = ho_psk_of(&h_psks[0]);
	const struct ho_opts o = { .cipher = "PSK-AES128-CCM8" };
	struct harness h;
	SSL *ssl;

	(void)state;
	assert_non_null(s);
	sg_hs_secrets_tick(s, owner_time(0));
	h_prepare(&h, SG_HS_COOKIE_ALWAYS);
	h.conf.secrets = s;
	h_start(&h);
	ssl = ho_client_new(&h, &o, &cc);
	assert_int_equal(ho_step(ssl), 0); /* ClientHello */
	assert_int_equal(h_pump(&h), 1);   /* HelloVerifyRequest */
	assert_int_equal(sg_hs_secrets_tick(s, owner_time(1)), 2);
	assert_int_equal(sg_hs_secrets_tick(s, owner_time(2)), 2);
	for (unsigned i = 0; i < 20 && h.n_installed == 0; i++) {
		ho_step(ssl);
		h_pump(&h);
	}
	assert_int_equal(h.n_installed, 1);
	assert_int_equal(ho_step(ssl), 1);
	assert_int_equal(h_count(&h, SG_HS_C_DROP_COOKIE_EXPIRED), 1);
	assert_int_equal(h_count(&h, SG_HS_C_HVR_SENT), 2);
	assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_FULL), 1);
	ho_exchange_data(&h, ssl);
	SSL_free(ssl);
	h_stop(&h);
	sg_hs_secrets_free(s);
}

/* ---- engines on threads of their own, the owner rotating ---------------------------------- */

#define WORKERS          3
#define ROTATIONS_WANTED 12   /* each worker goes on until the owner rotated this often */
#define HANDSHAKES_MIN   8    /* ... and did at least this many */
#define HANDSHAKES_MAX   2000 /* bound: a worker stops here whatever happened */
#define STEPS_MAX        400  /* client steps and engine pumps per handshake */

struct worker {
	pthread_t thread;
	struct sg_hs_secrets *secrets;
	unsigned idx;
	_Atomic bool *enough; /* the owner rotated ROTATIONS_WANTED times */
	/* written by the worker, read by the test thread after the join */
	unsigned tried, installed, resumed;
	struct sg_hs_stats st;
	char error[128];
};

/*
 * One OpenSSL client handshake against the worker's engine, resuming sess
 * when given: 1 installed, 0 not (error says why). No cmocka assertion
 * here: this runs on a worker thread.
 */
static int thread_handshake(struct worker *w, struct harness *h, SSL_SESSION *sess,
                            SSL_SESSION **out)
{
	struct ho_psk cc = ho_psk_of(&h_psks[0]);
	const struct ho_opts o = { .cipher = "PSK-AES128-CCM8", .sess = sess };
	unsigned want = h->n_installed + 1;
	SSL *ssl = ho_client_new(h, &o, &cc);
	int ok = 0;

	for (unsigned i = 0; i < STEPS_MAX; i++) {
		int rc = SSL_do_handshake(ssl);

		if (rc != 1 && SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ) {
			snprintf(w->error, sizeof(w->error), "client error %d at step %u",
			         SSL_get_error(ssl, rc), i);
			break;
		}
		h_pump(h);
		if (rc == 1 && h->n_installed == want) {
			ok = 1;
			break;
		}
	}
	if (!ok && w->error[0] == 0)
		snprintf(w->error, sizeof(w->error), "not done after %u steps", STEPS_MAX);
	if (ok && SSL_session_reused(ssl))
		w->resumed++;
	if (ok && out != NULL)
		*out = SSL_get1_session(ssl);
	/* A connection freed without shutdown makes OpenSSL drop its session. */
	SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(ssl);
	return ok;
}

/* A worker: its own engine on the shared secrets, full and resumed handshakes in turn. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct harness h;
	SSL_SESSION *sess = NULL;

	memset(&h, 0, sizeof(h));
	h_config(&h, &h.conf);
	h.conf.max_handshakes = 8;
	h.conf.secrets = w->secrets;
	h_start(&h);
	while (w->tried < HANDSHAKES_MAX &&
	       (w->tried < HANDSHAKES_MIN || !atomic_load(w->enough))) {
		SSL_SESSION *next = NULL;

		w->tried++;
		/* Every second round resumes the session of the round before. */
		if (!thread_handshake(w, &h, w->tried % 2 == 0 ? sess : NULL,
		                      w->tried % 2 == 1 ? &next : NULL))
			break;
		w->installed++;
		if (next != NULL) {
			SSL_SESSION_free(sess);
			sess = next;
		}
	}
	SSL_SESSION_free(sess);
	sg_hs_stats_get(h.e, &w->st);
	h_stop(&h);
	return NULL;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = us * 1000 };

	nanosleep(&ts, NULL);
}

/*
 * WORKERS engines, each on its thread, each with OpenSSL clients (cookies
 * always, tickets on; every second round resumes the session before);
 * the test thread owns the secrets and, every ~1 ms,
 * rotates both (a period of its clock passes) and, every third time,
 * exports and imports them again. Every handshake completes (a cookie or
 * ticket retired under a client's feet costs it a new HelloVerifyRequest
 * or a full handshake, never a failure), and ThreadSanitizer (the 'threads'
 * suite's build) sees no race.
 */
static void test_threads(void **state)
{
	struct sg_hs_secrets *s = sg_hs_secrets_create(COOKIE_ROTATE_MS, TICKET_ROTATE_S);
	struct worker w[WORKERS];
	_Atomic bool enough = false;
	unsigned rotations = 0, imports = 0, total = 0, resumed = 0, ticks = 0;
	bool joined[WORKERS] = { false };
	BIO *warm;
	int fd[2];

	(void)state;
	assert_non_null(s);
	sg_hs_secrets_tick(s, owner_time(0));
	/* The client BIO's method is made once, here, before any thread shares it. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, fd), 0);
	warm = ho_pair_bio(fd[0]);
	BIO_free(warm);
	close(fd[0]);
	close(fd[1]);
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < WORKERS; i++) {
		w[i].secrets = s;
		w[i].idx = i;
		w[i].enough = &enough;
		assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
	}
	/* Until every worker is done: bounded by HANDSHAKES_MAX each. */
	for (unsigned done = 0; done < WORKERS;) {
		uint8_t ck[SG_HS_COOKIE_SECRETS_LEN], tk[SG_HS_TICKET_KEYS_LEN];
		int nc, nt;

		sleep_us(1000);
		rotations += sg_hs_secrets_tick(s, owner_time(++ticks)) > 0;
		if (rotations % 3 == 0) {
			nc = sg_hs_secrets_cookie_export(s, ck, sizeof(ck));
			nt = sg_hs_secrets_ticket_export(s, tk, sizeof(tk));
			assert_int_equal(sg_hs_secrets_cookie_import(s, ck, (size_t)nc), 0);
			assert_int_equal(sg_hs_secrets_ticket_import(s, tk, (size_t)nt), 0);
			imports++;
			sg_wipe(ck, sizeof(ck));
			sg_wipe(tk, sizeof(tk));
		}
		if (rotations >= ROTATIONS_WANTED)
			atomic_store(&enough, true);
		done = 0;
		for (unsigned i = 0; i < WORKERS; i++) {
			if (!joined[i])
				joined[i] = pthread_tryjoin_np(w[i].thread, NULL) == 0;
			done += joined[i];
		}
	}
	for (unsigned i = 0; i < WORKERS; i++) {
		uint64_t fails = 0;

		print_message("# worker %u: %u handshakes, %u resumed, cookie expired %llu, ticket "
		              "rejected %llu%s%s\n",
		              i, w[i].installed, w[i].resumed,
		              (unsigned long long)w[i].st.c[SG_HS_C_DROP_COOKIE_EXPIRED],
		              (unsigned long long)w[i].st.c[SG_HS_C_TICKET_REJECTED],
		              w[i].error[0] ? ": " : "", w[i].error);
		assert_int_equal(w[i].installed, w[i].tried);
		assert_true(w[i].installed >= HANDSHAKES_MIN);
		assert_int_equal(w[i].st.c[SG_HS_C_COMPLETED_FULL] +
		                         w[i].st.c[SG_HS_C_COMPLETED_RESUMED],
		                 w[i].installed);
		for (unsigned c = SG_HS_C_FAIL_PROTOCOL_VERSION; c < SG_HS_C_MAX; c++)
			fails += w[i].st.c[c];
		assert_int_equal(fails, 0);
		assert_int_equal(w[i].st.in_flight, 0);
		total += w[i].installed;
		resumed += w[i].resumed;
	}
	print_message("# %u handshakes (%u resumed) on %u engines; %u rotations, %u imports\n",
	              total, resumed, WORKERS, rotations, imports);
	assert_true(rotations >= ROTATIONS_WANTED);
	sg_hs_secrets_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_across_engines),
		cmocka_unit_test(test_ticket_across_engines),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_export_import),
		cmocka_unit_test(test_openssl_stale_cookie),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
