/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One certificate object (struct sg_hs_certs) shared by engines on threads
 * of their own (issue 17), as the gateway shares it: each worker runs
 * mutual X.509 ECDHE-ECDSA handshakes with OpenSSL's client against its
 * engine, while the test thread, the owner, reloads the object between two
 * gateway chains and refills its nonce pool. Every handshake completes,
 * with one of the two chains (verified by the client against the CA), the
 * sets in flight are released (nothing leaks under ASan), and
 * ThreadSanitizer (suite 'threads') sees no race.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <stormgate/handshake.h>

#include "hs_harness.h"
#include "hs_ossl.h"
#include "hs_pki.h"

#define WORKERS        2
#define RELOADS_WANTED 16  /* the owner reloads this often while workers run ... */
#define HANDSHAKES_MIN 6   /* ... and each worker does at least this many */
#define HANDSHAKES_MAX 400 /* bound: a worker stops here whatever happened */
#define STEPS_MAX      400 /* client steps and engine pumps per handshake */

static atomic_uint lookups;

/* Thread-safe: every X.509 identity has a policy entry. */
static int cb_cert_lookup(void *ctx, enum sg_hs_auth kind, const uint8_t *key, size_t key_len,
                          const uint8_t *sni, size_t sni_len, struct sg_hs_cred *cred,
                          uint8_t *identity, uint16_t *identity_len)
{
	(void)ctx;
	(void)sni;
	(void)sni_len;
	(void)identity;
	(void)identity_len;
	atomic_fetch_add(&lookups, 1);
	if (kind != SG_HS_AUTH_X509 || key_len != strlen(CLIENT_CN) ||
	    memcmp(key, CLIENT_CN, key_len) != 0)
		return -ENOENT;
	cred->cred_ref = 2000;
	return 0;
}

struct worker {
	pthread_t thread;
	struct sg_hs_certs *certs;
	_Atomic bool *enough;
	/* written by the worker, read by the test thread after the join */
	unsigned tried, installed, chain[2];
	struct sg_hs_stats st;
	char error[128];
};

/* Which of the two gateway chains the client got: 0, 1, or -1. */
static int chain_of(SSL *ssl)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);
	char cn[64] = "";

	if (peer == NULL)
		return -1;
	X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
	X509_free(peer);
	return strcmp(cn, "gateway.test") == 0 ? 0 : strcmp(cn, "gateway2.test") == 0 ? 1 : -1;
}

/* One client handshake: 1 installed (and verified), 0 not (error says why). No cmocka here. */
static int thread_handshake(struct worker *w, struct harness *h)
{
	struct ho_psk cc = ho_psk_of(&h_psks[0]);
	const struct ho_opts o = { .cipher = "ECDHE-ECDSA-AES128-CCM8" };
	unsigned want = h->n_installed + 1;
	SSL *ssl = ho_client_new(h, &o, &cc);
	int ok = 0, which;

	X509_STORE_add_cert(SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), P.ca);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	SSL_use_certificate(ssl, P.cli);
	SSL_use_PrivateKey(ssl, P.cli_key);
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
	which = chain_of(ssl);
	if (ok && (which < 0 || SSL_get_verify_result(ssl) != X509_V_OK ||
	           h->sess.res.auth != SG_HS_AUTH_X509)) {
		snprintf(w->error, sizeof(w->error), "chain %d, verify %ld, auth %u", which,
		         SSL_get_verify_result(ssl), h->sess.res.auth);
		ok = 0;
	}
	if (ok)
		w->chain[which]++;
	else if (w->error[0] == 0)
		snprintf(w->error, sizeof(w->error), "not done after %u steps", STEPS_MAX);
	SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(ssl);
	return ok;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct harness h;

	memset(&h, 0, sizeof(h));
	h_config(&h, &h.conf);
	h.conf.max_handshakes = 8;
	h.conf.certs = w->certs;
	h.conf.ops.cert_lookup = cb_cert_lookup;
	h_start(&h);
	h.now.unix_s = (uint64_t)time(NULL); /* the PKI was made now */
	while (w->tried < HANDSHAKES_MAX &&
	       (w->tried < HANDSHAKES_MIN || !atomic_load(w->enough))) {
		w->tried++;
		if (!thread_handshake(w, &h))
			break;
		w->installed++;
	}
	sg_hs_stats_get(h.e, &w->st);
	h_stop(&h);
	return NULL;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = us * 1000 };

	nanosleep(&ts, NULL);
}

static void test_shared_certs(void **state)
{
	struct sg_hs_certs_conf cc = {
		.cert_file = P.file[F_SRV],
		.key_file = P.file[F_KEY],
		.ca_file = P.file[F_CA],
		.crl_file = P.file[F_CRL],
		.rpk = 1,
		.sign_pool = 8,
	};
	struct worker w[WORKERS];
	_Atomic bool enough = false;
	bool joined[WORKERS] = { false };
	unsigned reloads = 0, refilled = 0, total = 0;
	struct sg_hs_certs_info info;
	struct sg_hs_certs *certs;
	char err[256] = "";
	BIO *warm;
	int fd[2];

	(void)state;
	certs = sg_hs_certs_create(&cc, err, sizeof(err));
	if (certs == NULL)
		fail_msg("sg_hs_certs_create: %s", err);
	/* The client BIO's method is made once, here, before any thread shares it. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, fd), 0);
	warm = ho_pair_bio(fd[0]);
	BIO_free(warm);
	close(fd[0]);
	close(fd[1]);
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < WORKERS; i++) {
		w[i].certs = certs;
		w[i].enough = &enough;
		assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
	}
	for (unsigned done = 0; done < WORKERS;) {
		sleep_us(2000);
		cc.cert_file = P.file[reloads % 2 ? F_SRV : F_SRV2];
		assert_int_equal(sg_hs_certs_reload(certs, &cc, err, sizeof(err)), 0);
		reloads++;
		refilled += sg_hs_certs_refill(certs, 4);
		if (reloads >= RELOADS_WANTED)
			atomic_store(&enough, true);
		done = 0;
		for (unsigned i = 0; i < WORKERS; i++) {
			if (!joined[i])
				joined[i] = pthread_tryjoin_np(w[i].thread, NULL) == 0;
			done += joined[i];
		}
	}
	for (unsigned i = 0; i < WORKERS; i++) {
		print_message(
		        "# worker %u: %u handshakes (chain 1: %u, chain 2: %u), signed with a "
		        "precomputed nonce %llu, inline %llu%s%s\n",
		        i, w[i].installed, w[i].chain[0], w[i].chain[1],
		        (unsigned long long)w[i].st.c[SG_HS_C_SIGN_PRECOMPUTED],
		        (unsigned long long)w[i].st.c[SG_HS_C_SIGN_INLINE],
		        w[i].error[0] ? ": " : "", w[i].error);
		assert_int_equal(w[i].installed, w[i].tried);
		assert_true(w[i].installed >= HANDSHAKES_MIN);
		assert_int_equal(w[i].st.c[SG_HS_C_COMPLETED_CERT], w[i].installed);
		assert_int_equal(w[i].st.c[SG_HS_C_SIGN_PRECOMPUTED] +
		                         w[i].st.c[SG_HS_C_SIGN_INLINE],
		                 w[i].installed);
		assert_int_equal(w[i].st.in_flight, 0);
		total += w[i].installed;
	}
	sg_hs_certs_info_get(certs, &info);
	assert_int_equal(info.generation, reloads + 1);
	assert_int_equal(atomic_load(&lookups), total);
	print_message("# %u handshakes on %u engines; %u reloads, %u nonces refilled\n", total,
	              WORKERS, reloads, refilled);
	sg_hs_certs_free(certs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_certs),
	};

	return cmocka_run_group_tests(tests, hs_pki_setup, hs_pki_teardown);
}
