/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ECDHE-ECDSA handshakes through the engine (issue 17): in-process OpenSSL
 * DTLS 1.2 clients with X.509 certificates (every ECDHE-ECDSA suite, client
 * auth none / optional / require, resumption by ticket) and in-process
 * GnuTLS clients with X.509 and raw public keys (RFC 7250), over the
 * harness's socketpair; the negatives, each with the alert the client
 * received and the engine's counter (expired, revoked, wrong CA, wrong key,
 * a CertificateVerify over the wrong transcript, an RPK not in the store,
 * policy refused, a downgrade from ECDHE-ECDSA, no certificate when one is
 * required); the memory an in-flight certificate handshake holds.
 *
 * The PKI (a CA, another CA, the gateway's P-256 certificate, client
 * certificates good, expired, revoked by a CRL, from the other CA) is made
 * at test time with OpenSSL's API in a temporary directory, removed at the
 * end. The test thread only.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stormgate/dtls.h>
#include <stormgate/handshake.h>

#include "hs_bigmsg.h"
#include "hs_harness.h"
#include "hs_ossl.h"
#include "hs_pki.h"
#include "hs_slots.h"

#define RPK_NAME "urn:dev:ops:rpk-client-1"

/* ---- the engine: certificates and the policy store ----------------------------------- */

/* What ops.cert_lookup answers, and what it was asked. */
static struct {
	unsigned calls;
	int x509_rc; /* X.509 identities: 0 (an entry), -ENOENT, -EACCES */
	bool rpk_known;
	uint8_t rpk_hash[SG_HS_SPKI_HASH_LEN];
	uint8_t last_kind;
} lk;

static int cb_cert_lookup(void *ctx, enum sg_hs_auth kind, const uint8_t *key, size_t key_len,
                          const uint8_t *sni, size_t sni_len, struct sg_hs_cred *cred,
                          uint8_t *identity, uint16_t *identity_len)
{
	(void)ctx;
	(void)sni;
	(void)sni_len;
	lk.calls++;
	lk.last_kind = (uint8_t)kind;
	if (kind == SG_HS_AUTH_X509) {
		assert_int_equal(key_len, strlen(CLIENT_CN));
		assert_memory_equal(key, CLIENT_CN, key_len);
		cred->user = 77; /* the caller's word: kept even without an entry */
		if (lk.x509_rc != 0)
			return lk.x509_rc;
		cred->cred_ref = 2000;
		cred->backend = 7;
		return 0;
	}
	if (!lk.rpk_known || key_len != SG_HS_SPKI_HASH_LEN || memcmp(key, lk.rpk_hash, key_len))
		return -ENOENT;
	memcpy(identity, RPK_NAME, strlen(RPK_NAME));
	*identity_len = (uint16_t)strlen(RPK_NAME);
	cred->cred_ref = 3000;
	return 0;
}

static uint8_t start_require_policy; /* tls.require_policy of the next start() */

/*
 * A harness whose engine has the test PKI: client_auth as given, the CRL,
 * raw public keys offered and accepted or not (start(): they are); prefs: a preference list
 * (0-terminated), or NULL for the default.
 */
static struct sg_hs_certs *start_rpk(struct harness *h, uint8_t client_auth, const uint16_t *prefs,
                                     bool rpk)
{
	struct sg_hs_certs_conf cc = {
		.cert_file = P.file[F_SRV],
		.key_file = P.file[F_KEY],
		.ca_file = P.file[F_CA],
		.crl_file = P.file[F_CRL],
		.client_auth = client_auth,
		.identity_from = SG_HS_CERT_ID_CN,
		.rpk = rpk,
		.require_policy = start_require_policy,
		.sign_pool = 16,
	};
	char err[256] = "";
	struct sg_hs_certs *c = sg_hs_certs_create(&cc, err, sizeof(err));

	if (c == NULL)
		fail_msg("sg_hs_certs_create: %s", err);
	memset(h, 0, sizeof(*h));
	memset(&lk, 0, sizeof(lk));
	hs_pki_spki_hash(P.cli_key, lk.rpk_hash);
	h_config(h, &h->conf);
	h->conf.certs = c;
	h->conf.ops.cert_lookup = cb_cert_lookup;
	for (unsigned i = 0; prefs != NULL && prefs[i]; i++)
		h->conf.suites[i] = prefs[i];
	h_start(h);
	/* Certificates are checked against the wall clock: the PKI was made now. */
	h->now.unix_s = (uint64_t)time(NULL);
	return c;
}

static struct sg_hs_certs *start(struct harness *h, uint8_t client_auth, const uint16_t *prefs)
{
	return start_rpk(h, client_auth, prefs, true);
}

static void stop(struct harness *h, struct sg_hs_certs *c)
{
	h_stop(h);
	sg_hs_certs_free(c);
}

/* ---- OpenSSL's client ----------------------------------------------------------------- */

static int alert_seen; /* the last alert OpenSSL's client read, -1: none */

static void info_cb(const SSL *ssl, int where, int ret)
{
	(void)ssl;
	if (where & SSL_CB_READ_ALERT)
		alert_seen = ret & 0xff;
}

static struct ho_psk psk_cc;

/*
 * OpenSSL's client offering cipher, trusting the test CA (the gateway's
 * chain is verified), with cert and key when not NULL.
 */
static SSL *ossl_client_etm(struct harness *h, const char *cipher, X509 *cert, EVP_PKEY *key,
                            SSL_SESSION *sess, bool no_etm)
{
	struct ho_opts o = { .cipher = cipher, .sess = sess, .no_etm = no_etm };
	SSL *ssl;

	psk_cc = ho_psk_of(&h_psks[0]);
	ssl = ho_client_new(h, &o, &psk_cc);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), P.ca),
	                 1);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	if (cert != NULL) {
		assert_int_equal(SSL_use_certificate(ssl, cert), 1);
		assert_int_equal(SSL_use_PrivateKey(ssl, key), 1);
	}
	SSL_set_info_callback(ssl, info_cb);
	alert_seen = -1;
	return ssl;
}

static SSL *ossl_client(struct harness *h, const char *cipher, X509 *cert, EVP_PKEY *key,
                        SSL_SESSION *sess)
{
	return ossl_client_etm(h, cipher, cert, key, sess, false);
}

/* What the client sends on its way to the engine: a man in the middle's hook, or NULL. */
typedef void (*mitm_fn)(uint8_t *d, size_t len);

/*
 * The client's datagrams, kept when SG_FUZZ_CORPUS names a directory: the
 * seeds of the fuzz targets (length-prefixed, as fuzz_hs_input reads them).
 */
static struct {
	uint8_t buf[32768];
	size_t len;
} rec;

static void record(const uint8_t *d, size_t n)
{
	if (getenv("SG_FUZZ_CORPUS") == NULL || rec.len + 2 + n > sizeof(rec.buf))
		return;
	rec.buf[rec.len] = (uint8_t)(n >> 8);
	rec.buf[rec.len + 1] = (uint8_t)n;
	memcpy(rec.buf + rec.len + 2, d, n);
	rec.len += 2 + n;
}

/* Write what was recorded as the seed name of fuzz_hs_input, and start again. */
static void record_save(const char *name)
{
	const char *dir = getenv("SG_FUZZ_CORPUS");
	char path[512];
	FILE *f;

	if (dir != NULL && rec.len > 0) {
		snprintf(path, sizeof(path), "%s/input/%s", dir, name);
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(rec.buf, 1, rec.len, f), rec.len);
		fclose(f);
	}
	rec.len = 0;
}

static bool cert_fragment_seen; /* the client sent its Certificate in fragments */

/* Epoch-0 handshake records of a datagram: a fragment of a Certificate? */
static void look_for_fragments(const uint8_t *d, size_t len)
{
	for (size_t off = 0; off + 13 + 12 <= len;) {
		size_t rl = ((size_t)d[off + 11] << 8) | d[off + 12];
		const uint8_t *m = d + off + 13;

		if (d[off] == SG_DTLS_CT_HANDSHAKE && d[off + 3] == 0 && d[off + 4] == 0 &&
		    m[0] == SG_TLS_HT_CERTIFICATE &&
		    memcmp(m + 1, m + 9, 3) != 0) /* length != fragment_length */
			cert_fragment_seen = true;
		off += 13 + rl;
	}
}

/* Every datagram the client sent, through mitm, to the engine. */
static void pump(struct harness *h, mitm_fn mitm)
{
	uint8_t d[4096];
	size_t n;

	while ((n = h_recv(h, d, sizeof(d))) > 0) {
		look_for_fragments(d, n);
		if (mitm != NULL)
			mitm(d, n);
		record(d, n);
		h_input(h, d, n);
	}
}

/*
 * Drive the client and the engine until the client finished with
 * want_installed sessions installed (1), or the client failed (-1).
 */
static int ossl_run(struct harness *h, SSL *ssl, unsigned want_installed, mitm_fn mitm)
{
	for (int i = 0; i < 200; i++) {
		int rc = SSL_do_handshake(ssl);

		pump(h, mitm);
		if (rc == 1 && h->n_installed == want_installed)
			return 1;
		if (rc <= 0 && SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ) {
			if (getenv("SG_DEBUG")) {
				ERR_print_errors_fp(stderr);
				for (int c = 0; c < SG_HS_C_MAX; c++)
					if (h_count(h, c))
						fprintf(stderr, "%s=%lu\n", sg_hs_counter_name(c),
						        (unsigned long)h_count(h, c));
				fprintf(stderr, "alert %d\n", alert_seen);
			}
			ERR_clear_error();
			return -1;
		}
	}
	fail_msg("handshake did not end (installed %u)", h->n_installed);
	return 0;
}

static void ossl_free(SSL *ssl)
{
	SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(ssl);
}

/* ---- positive cases: OpenSSL, X.509 ------------------------------------------------- */

struct ossl_case {
	const char *cipher;
	uint16_t suite;
	uint8_t client_auth;
	bool client_cert;
	uint8_t auth; /* enum sg_hs_auth the session gets */
	bool resume;
	uint16_t mtu; /* the client's link MTU; 0: 1400 */
	bool no_etm;  /* CBC without encrypt_then_mac (RFC 7366): MAC-then-encrypt */
};

static const struct ossl_case ossl_cases[] = {
	{ "ECDHE-ECDSA-AES128-CCM8", SG_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
	  SG_HS_CLIENT_AUTH_REQUIRE, true, SG_HS_AUTH_X509, true },
	{ "ECDHE-ECDSA-AES128-CCM", SG_TLS_ECDHE_ECDSA_WITH_AES_128_CCM, SG_HS_CLIENT_AUTH_REQUIRE,
	  true, SG_HS_AUTH_X509, false },
	{ "ECDHE-ECDSA-AES128-GCM-SHA256", SG_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	  SG_HS_CLIENT_AUTH_REQUIRE, true, SG_HS_AUTH_X509, false },
	{ "ECDHE-ECDSA-AES256-GCM-SHA384", SG_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	  SG_HS_CLIENT_AUTH_REQUIRE, true, SG_HS_AUTH_X509, true },
	{ "ECDHE-ECDSA-CHACHA20-POLY1305", SG_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	  SG_HS_CLIENT_AUTH_REQUIRE, true, SG_HS_AUTH_X509, false },
	/* Server authentication only: no CertificateRequest. */
	{ "ECDHE-ECDSA-AES128-CCM8", SG_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, SG_HS_CLIENT_AUTH_NONE,
	  true, SG_HS_AUTH_NONE, true },
	/* Optional: a client with a certificate uses it, one without is anonymous. */
	{ "ECDHE-ECDSA-AES128-GCM-SHA256", SG_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	  SG_HS_CLIENT_AUTH_OPTIONAL, true, SG_HS_AUTH_X509, false },
	{ "ECDHE-ECDSA-AES128-GCM-SHA256", SG_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	  SG_HS_CLIENT_AUTH_OPTIONAL, false, SG_HS_AUTH_NONE, false },
	/* A small link MTU: the client's Certificate comes in fragments, reassembled in the
	 * engine's large buffers, not in the slot. */
	{ "ECDHE-ECDSA-AES128-CCM8", SG_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
	  SG_HS_CLIENT_AUTH_REQUIRE, true, SG_HS_AUTH_X509, false, 300 },
	/* The CBC-SHA256 suite LwM2M servers offer (part of issue 17 too), EtM and not. */
	{ "ECDHE-ECDSA-AES128-SHA256", SG_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	  SG_HS_CLIENT_AUTH_REQUIRE, true, SG_HS_AUTH_X509, true },
	{ "ECDHE-ECDSA-AES128-SHA256", SG_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	  SG_HS_CLIENT_AUTH_REQUIRE, true, SG_HS_AUTH_X509, false, 0, true },
};

static void check_session(struct harness *h, SSL *ssl, const struct ossl_case *c, bool resumed)
{
	const struct sg_hs_result *r = &h->sess.res;

	assert_int_equal(r->suite, c->suite);
	assert_int_equal(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(ssl)), c->suite);
	assert_int_equal(r->resumed, resumed);
	assert_int_equal(r->auth, c->auth);
	if (c->auth == SG_HS_AUTH_X509) {
		assert_int_equal(r->identity_len, strlen(CLIENT_CN));
		assert_memory_equal(r->identity, CLIENT_CN, strlen(CLIENT_CN));
		assert_int_equal(r->cred_ref, 2000);
		assert_int_equal(r->backend, 7);
	} else {
		assert_int_equal(r->identity_len, 0);
	}
	assert_int_equal(!!(r->sa->flags & SG_SA_F_ETM),
	                 c->suite == SG_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 && !c->no_etm);
	/* The client checked our chain against the CA (SSL_VERIFY_PEER). */
	assert_int_equal(SSL_get_verify_result(ssl), X509_V_OK);
	ho_exchange_data(h, ssl);
}

static void run_ossl_case(const struct ossl_case *c)
{
	struct harness h;
	struct sg_hs_certs *certs = start(&h, c->client_auth, NULL);
	X509 *cert = c->client_cert ? P.cli : NULL;
	SSL_SESSION *sess = NULL;
	SSL *ssl = ossl_client_etm(&h, c->cipher, cert, P.cli_key, NULL, c->no_etm);

	/* Cases that resume also sign with a nonce the pool precomputed (the gateway's tick). */
	if (c->resume)
		assert_int_equal(sg_hs_certs_refill(certs, 4), 4);
	if (c->mtu)
		assert_int_equal(DTLS_set_link_mtu(ssl, c->mtu), 1);
	cert_fragment_seen = false;
	assert_int_equal(ossl_run(&h, ssl, 1, NULL), 1);
	assert_int_equal(cert_fragment_seen, c->mtu != 0);
	check_session(&h, ssl, c, false);
	assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_CERT), 1);
	assert_int_equal(h_count(&h, c->resume ? SG_HS_C_SIGN_PRECOMPUTED : SG_HS_C_SIGN_INLINE),
	                 1);
	assert_int_equal(h_count(&h, SG_HS_C_DROP_POOL_FULL), 0);
	assert_int_equal(lk.calls, c->auth == SG_HS_AUTH_X509 ? 1 : 0);
	if (c->resume) {
		sess = SSL_get1_session(ssl);
		assert_true(SSL_SESSION_has_ticket(sess));
	}
	ossl_free(ssl);
	if (c->resume) {
		/* Resumed by ticket: the policy is looked up again, no signature made. */
		ssl = ossl_client_etm(&h, c->cipher, cert, P.cli_key, sess, c->no_etm);
		assert_int_equal(ossl_run(&h, ssl, 2, NULL), 1);
		assert_int_equal(SSL_session_reused(ssl), 1);
		check_session(&h, ssl, c, true);
		assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_RESUMED), 1);
		assert_int_equal(lk.calls, c->auth == SG_HS_AUTH_X509 ? 2 : 0);
		assert_int_equal(h_count(&h, SG_HS_C_SIGN_PRECOMPUTED) +
		                         h_count(&h, SG_HS_C_SIGN_INLINE),
		                 1);
		ossl_free(ssl);
		SSL_SESSION_free(sess);
	}
	assert_int_equal(h_count(&h, SG_HS_C_FAIL_CERT_VERIFY), 0);
	stop(&h, certs);
}

static void test_openssl_x509(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ossl_cases) / sizeof(ossl_cases[0]); i++) {
		print_message("# %s client_auth %u cert %d%s\n", ossl_cases[i].cipher,
		              ossl_cases[i].client_auth, ossl_cases[i].client_cert,
		              ossl_cases[i].no_etm ? " no EtM" : "");
		run_ossl_case(&ossl_cases[i]);
		if (i == 0)
			record_save("ecdsa-x509-mutual-ticket");
		if (ossl_cases[i].mtu)
			record_save("ecdsa-x509-fragmented");
		rec.len = 0;
	}
}

/* ---- negative cases: OpenSSL -------------------------------------------------------- */

/*
 * A man in the middle takes ECDHE_ECDSA_WITH_AES_128_CCM_8 out of the
 * client's hellos (the value overwritten with one nobody knows): the
 * server then picks the PSK suite the client also offered. The transcript
 * the Finished messages cover differs, so the handshake fails.
 */
static void strip_ecdsa(uint8_t *d, size_t len)
{
	size_t off, sid, ck, n;

	if (len < 13 + 12 + 38 || d[0] != SG_DTLS_CT_HANDSHAKE || d[13] != SG_TLS_HT_CLIENT_HELLO)
		return;
	off = 13 + 12 + 2 + 32;
	sid = d[off];
	off += 1 + sid;
	ck = d[off];
	off += 1 + ck;
	n = ((size_t)d[off] << 8) | d[off + 1];
	for (size_t i = off + 2; i + 1 < off + 2 + n && i + 1 < len; i += 2)
		if (d[i] == 0xc0 && d[i + 1] == 0xae) {
			d[i] = 0x0a;
			d[i + 1] = 0x0a;
		}
}

/*
 * Replace the signature of the client's CertificateVerify with one by the
 * client's own key over another transcript (the same length, so nothing
 * else moves): a valid signature, of the wrong handshake.
 */
static void wrong_transcript(uint8_t *d, size_t len)
{
	static const char other[] = "the transcript of another handshake";
	uint8_t digest[32];

	assert_int_equal(EVP_Digest(other, sizeof(other), digest, NULL, EVP_sha256(), NULL), 1);
	for (size_t off = 0; off + 13 <= len;) {
		size_t rl = ((size_t)d[off + 11] << 8) | d[off + 12];
		uint8_t *m = d + off + 13;

		if (d[off] == SG_DTLS_CT_HANDSHAKE && d[off + 3] == 0 && d[off + 4] == 0 &&
		    rl > 12 + 4 && m[0] == SG_TLS_HT_CERTIFICATE_VERIFY) {
			size_t sl = ((size_t)m[14] << 8) | m[15];
			int tries = 0;

			for (;;) {
				EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(P.cli_key, NULL);
				uint8_t sig[80];
				size_t n = sizeof(sig);

				assert_int_equal(EVP_PKEY_sign_init(pc), 1);
				assert_int_equal(EVP_PKEY_sign(pc, sig, &n, digest, sizeof(digest)),
				                 1);
				EVP_PKEY_CTX_free(pc);
				if (n == sl) {
					memcpy(m + 16, sig, n);
					return;
				}
				assert_true(++tries < 256);
			}
		}
		off += 13 + rl;
	}
}

/* The CertificateVerify's scheme changed to one the CertificateRequest did not offer. */
static void cv_scheme(uint8_t *d, size_t len)
{
	for (size_t off = 0; off + 13 <= len;) {
		size_t rl = ((size_t)d[off + 11] << 8) | d[off + 12];
		uint8_t *m = d + off + 13;

		if (d[off] == SG_DTLS_CT_HANDSHAKE && d[off + 3] == 0 && d[off + 4] == 0 &&
		    rl > 12 + 4 && m[0] == SG_TLS_HT_CERTIFICATE_VERIFY)
			m[12] = 0x05; /* ecdsa_secp384r1_sha384 */
		off += 13 + rl;
	}
}

struct neg_case {
	const char *name;
	X509 **cert;         /* the client's certificate, NULL: none */
	EVP_PKEY **key;      /* ... and key */
	int x509_rc;         /* what ops.cert_lookup answers */
	uint8_t client_auth; /* enum sg_hs_client_auth */
	const char *cipher;
	mitm_fn mitm;
	bool prefer_ecdsa; /* prefs: ECDHE_ECDSA CCM_8, then PSK CCM_8 */
	enum sg_hs_counter counter;
	int alert;
};

static const struct neg_case neg_cases[] = {
	{ "expired", &P.cli_expired, &P.cli_key, 0, SG_HS_CLIENT_AUTH_REQUIRE,
	  "ECDHE-ECDSA-AES128-CCM8", NULL, false, SG_HS_C_FAIL_CERT_EXPIRED,
	  SG_TLS_ALERT_CERTIFICATE_EXPIRED },
	{ "revoked", &P.cli_revoked, &P.cli_key, 0, SG_HS_CLIENT_AUTH_REQUIRE,
	  "ECDHE-ECDSA-AES128-CCM8", NULL, false, SG_HS_C_FAIL_CERT_REVOKED,
	  SG_TLS_ALERT_CERTIFICATE_REVOKED },
	{ "wrong CA", &P.cli_other, &P.cli_key, 0, SG_HS_CLIENT_AUTH_REQUIRE,
	  "ECDHE-ECDSA-AES128-CCM8", NULL, false, SG_HS_C_FAIL_UNKNOWN_CA,
	  SG_TLS_ALERT_UNKNOWN_CA },
	{ "policy refuses", &P.cli, &P.cli_key, -EACCES, SG_HS_CLIENT_AUTH_REQUIRE,
	  "ECDHE-ECDSA-AES128-CCM8", NULL, false, SG_HS_C_FAIL_CERT_POLICY,
	  SG_TLS_ALERT_ACCESS_DENIED },
	{ "no certificate, required", NULL, NULL, 0, SG_HS_CLIENT_AUTH_REQUIRE,
	  "ECDHE-ECDSA-AES128-CCM8", NULL, false, SG_HS_C_FAIL_NO_CERT,
	  SG_TLS_ALERT_HANDSHAKE_FAILURE },
	{ "signature over the wrong transcript", &P.cli, &P.cli_key, 0, SG_HS_CLIENT_AUTH_REQUIRE,
	  "ECDHE-ECDSA-AES128-CCM8", wrong_transcript, false, SG_HS_C_FAIL_CERT_VERIFY,
	  SG_TLS_ALERT_DECRYPT_ERROR },
	{ "CertificateVerify with a scheme not requested", &P.cli, &P.cli_key, 0,
	  SG_HS_CLIENT_AUTH_REQUIRE, "ECDHE-ECDSA-AES128-CCM8", cv_scheme, false,
	  SG_HS_C_FAIL_ILLEGAL_PARAMETER, SG_TLS_ALERT_ILLEGAL_PARAMETER },
	{ "downgrade from ECDHE-ECDSA", &P.cli, &P.cli_key, 0, SG_HS_CLIENT_AUTH_REQUIRE,
	  "ECDHE-ECDSA-AES128-CCM8:PSK-AES128-CCM8", strip_ecdsa, true, SG_HS_C_FAIL_BAD_FINISHED,
	  SG_TLS_ALERT_DECRYPT_ERROR },
};

static void run_neg_case(const struct neg_case *c)
{
	static const uint16_t prefs[] = { SG_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
		                          SG_TLS_PSK_WITH_AES_128_CCM_8, 0 };
	struct harness h;
	struct sg_hs_certs *certs = start(&h, c->client_auth, c->prefer_ecdsa ? prefs : NULL);
	SSL *ssl;

	lk.x509_rc = c->x509_rc;
	ssl = ossl_client(&h, c->cipher, c->cert ? *c->cert : NULL, c->key ? *c->key : NULL, NULL);
	assert_int_equal(ossl_run(&h, ssl, 0, c->mitm), -1);
	assert_int_equal(h.n_installed, 0);
	assert_int_equal(h_count(&h, c->counter), 1);
	assert_int_equal(alert_seen, c->alert);
	assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_CERT), 0);
	ossl_free(ssl);
	/* Every datagram ended in exactly one outcome; no slot, no large buffer left. */
	assert_int_equal(h_dgram_outcomes(&h), h.in_dgrams);
	{
		struct sg_hs_stats st;

		sg_hs_stats_get(h.e, &st);
		assert_int_equal(st.in_flight, 0);
	}
	stop(&h, certs);
}

static void test_openssl_negative(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(neg_cases) / sizeof(neg_cases[0]); i++) {
		print_message("# %s\n", neg_cases[i].name);
		run_neg_case(&neg_cases[i]);
	}
}

/*
 * An X.509 identity the store has no policy for: the engine's defaults
 * (its session lifetime, no credential reference), the callback's word
 * kept; refused (access_denied) when tls.require_policy says so.
 */
static void test_x509_without_policy(void **state)
{
	for (int require = 0; require < 2; require++) {
		struct harness h;
		struct sg_hs_certs *certs;
		SSL *ssl;

		start_require_policy = (uint8_t)require;
		certs = start(&h, SG_HS_CLIENT_AUTH_REQUIRE, NULL);
		start_require_policy = 0;
		lk.x509_rc = -ENOENT;
		ssl = ossl_client(&h, "ECDHE-ECDSA-AES128-CCM8", P.cli, P.cli_key, NULL);
		assert_int_equal(ossl_run(&h, ssl, require ? 0 : 1, NULL), require ? -1 : 1);
		if (require) {
			assert_int_equal(h_count(&h, SG_HS_C_FAIL_CERT_POLICY), 1);
			assert_int_equal(alert_seen, SG_TLS_ALERT_ACCESS_DENIED);
		} else {
			assert_int_equal(h.sess.res.auth, SG_HS_AUTH_X509);
			assert_int_equal(h.sess.res.cred_ref, 0);
			assert_int_equal(h.sess.res.user, 77);
			assert_int_equal(h.sess.res.expires, h.now.unix_s + 86400);
			assert_memory_equal(h.sess.res.identity, CLIENT_CN, strlen(CLIENT_CN));
		}
		ossl_free(ssl);
		stop(&h, certs);
	}
	(void)state;
}

/* No certificates configured: a client offering only ECDHE-ECDSA finds no suite. */
static void test_no_certs_no_ecdsa(void **state)
{
	struct harness h;
	SSL *ssl;

	(void)state;
	memset(&h, 0, sizeof(h));
	h_config(&h, &h.conf);
	h_start(&h);
	ssl = ossl_client(&h, "ECDHE-ECDSA-AES128-CCM8", P.cli, P.cli_key, NULL);
	assert_int_equal(ossl_run(&h, ssl, 0, NULL), -1);
	assert_int_equal(h_count(&h, SG_HS_C_FAIL_NO_SUITE), 1);
	assert_int_equal(alert_seen, SG_TLS_ALERT_HANDSHAKE_FAILURE);
	ossl_free(ssl);
	h_stop(&h);
}

/* The subject CN of the certificate the gateway presented to ssl. */
static void check_server_cn(SSL *ssl, const char *cn)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);
	char buf[64] = "";

	assert_non_null(peer);
	X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof(buf));
	assert_string_equal(buf, cn);
	X509_free(peer);
}

/*
 * sg_hs_certs_reload() while a handshake is in flight: that handshake ends
 * with the set it started with (the chain its flight 4 carried), the next
 * one gets the new chain; a reload that fails changes nothing.
 */
static void test_reload_in_flight(void **state)
{
	struct harness h;
	struct sg_hs_certs *certs = start(&h, SG_HS_CLIENT_AUTH_REQUIRE, NULL);
	struct sg_hs_certs_conf cc = {
		.cert_file = P.file[F_SRV2],
		.key_file = P.file[F_KEY],
		.ca_file = P.file[F_CA],
		.crl_file = P.file[F_CRL],
		.rpk = 1,
	};
	struct sg_hs_certs_info info;
	char err[256];
	SSL *ssl;

	(void)state;
	ssl = ossl_client(&h, "ECDHE-ECDSA-AES128-CCM8", P.cli, P.cli_key, NULL);
	for (int i = 0; i < 10 && h_count(&h, SG_HS_C_SIGN_INLINE) == 0; i++) {
		assert_int_equal(SSL_do_handshake(ssl), -1);
		pump(&h, NULL);
	}
	assert_int_equal(h_count(&h, SG_HS_C_SIGN_INLINE), 1); /* flight 4 went, old chain */
	cc.cert_file = P.dir;                                  /* a directory: not a PEM file */
	assert_true(sg_hs_certs_reload(certs, &cc, err, sizeof(err)) < 0);
	print_message("# refused reload: %s\n", err);
	cc.cert_file = P.file[F_SRV2];
	assert_int_equal(sg_hs_certs_reload(certs, &cc, err, sizeof(err)), 0);
	sg_hs_certs_info_get(certs, &info);
	assert_int_equal(info.generation, 2);
	assert_int_equal(ossl_run(&h, ssl, 1, NULL), 1);
	check_server_cn(ssl, "gateway.test");
	ossl_free(ssl);
	ssl = ossl_client(&h, "ECDHE-ECDSA-AES128-CCM8", P.cli, P.cli_key, NULL);
	assert_int_equal(ossl_run(&h, ssl, 2, NULL), 1);
	check_server_cn(ssl, "gateway2.test");
	assert_int_equal(h.sess.res.auth, SG_HS_AUTH_X509);
	ossl_free(ssl);
	stop(&h, certs);
}

/*
 * Flight 4 lost on its way: the engine's timer sends it again, rebuilt from
 * the slot byte for byte (the signature kept, not made again: the client's
 * transcript is then the engine's, and the Finished messages agree).
 */
static void test_flight4_lost(void **state)
{
	struct harness h;
	struct sg_hs_certs *certs = start(&h, SG_HS_CLIENT_AUTH_REQUIRE, NULL);
	uint8_t d[4096];
	unsigned lost = 0;
	SSL *ssl;

	(void)state;
	ssl = ossl_client(&h, "ECDHE-ECDSA-AES128-GCM-SHA256", P.cli, P.cli_key, NULL);
	for (int i = 0; i < 10 && h_count(&h, SG_HS_C_SIGN_INLINE) == 0; i++) {
		assert_int_equal(SSL_do_handshake(ssl), -1);
		pump(&h, NULL);
	}
	assert_int_equal(h_count(&h, SG_HS_C_SIGN_INLINE), 1);
	while (recv(h.fd[0], d, sizeof(d), MSG_DONTWAIT) > 0)
		lost++; /* flight 4 never reaches the client */
	assert_true(lost >= 1);
	h_advance(&h, 1500);
	assert_int_equal(h_count(&h, SG_HS_C_RETRANSMIT_TIMER), 1);
	assert_int_equal(ossl_run(&h, ssl, 1, NULL), 1);
	assert_int_equal(h_count(&h, SG_HS_C_SIGN_INLINE) + h_count(&h, SG_HS_C_SIGN_PRECOMPUTED),
	                 1);
	assert_int_equal(h.sess.res.auth, SG_HS_AUTH_X509);
	ossl_free(ssl);
	stop(&h, certs);
}

/*
 * A flight with our chain goes only to an address a cookie proved, even
 * when the cookie policy would not ask for one yet (under load, below its
 * threshold): nothing is held back by the amplification limit. A PSK hello
 * to the same engine needs none.
 */
static void test_cookie_before_chain(void **state)
{
	struct harness h;
	struct sg_hs_certs *certs;
	SSL *ssl;

	(void)state;
	certs = start(&h, SG_HS_CLIENT_AUTH_REQUIRE, NULL);
	sg_hs_engine_free(h.e);
	h.conf.cookie_policy = SG_HS_COOKIE_UNDER_LOAD;
	h.conf.cookie_threshold = 64;
	h.e = sg_hs_engine_create(&h.conf);
	assert_non_null(h.e);
	ssl = ossl_client(&h, "ECDHE-ECDSA-AES128-CCM8:PSK-AES128-CCM8", P.cli, P.cli_key, NULL);
	assert_int_equal(ossl_run(&h, ssl, 1, NULL), 1);
	assert_int_equal(h.sess.res.suite, SG_TLS_PSK_WITH_AES_128_CCM_8); /* server preference */
	assert_int_equal(h_count(&h, SG_HS_C_HVR_SENT), 1); /* it could have had ECDHE-ECDSA */
	ossl_free(ssl);
	ssl = ossl_client(&h, "PSK-AES128-CCM8", NULL, NULL, NULL);
	assert_int_equal(ossl_run(&h, ssl, 2, NULL), 1);
	assert_int_equal(h_count(&h, SG_HS_C_HVR_SENT), 1);
	ossl_free(ssl);
	ssl = ossl_client(&h, "ECDHE-ECDSA-AES128-CCM8", P.cli, P.cli_key, NULL);
	assert_int_equal(ossl_run(&h, ssl, 3, NULL), 1);
	assert_int_equal(h_count(&h, SG_HS_C_HVR_SENT), 2);
	assert_int_equal(h.sess.res.auth, SG_HS_AUTH_X509);
	assert_int_equal(h_count(&h, SG_HS_C_AMPLIFICATION_HELD), 0);
	ossl_free(ssl);
	stop(&h, certs);
}

/* ---- GnuTLS: X.509 and raw public keys ---------------------------------------------- */

static gnutls_datum_t pem_of(X509 *cert, EVP_PKEY *pub, EVP_PKEY *priv)
{
	BIO *b = BIO_new(BIO_s_mem());
	gnutls_datum_t d;
	char *p;
	long n;

	if (cert)
		PEM_write_bio_X509(b, cert);
	if (pub)
		PEM_write_bio_PUBKEY(b, pub);
	if (priv)
		PEM_write_bio_PrivateKey(b, priv, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(b, &p);
	d.data = gnutls_malloc((size_t)n);
	memcpy(d.data, p, (size_t)n);
	d.size = (unsigned)n;
	BIO_free(b);
	return d;
}

struct gt_case {
	const char *name;
	bool rpk;                   /* raw public keys both ways (RFC 7250) */
	bool rpk_known;             /* the client's key is in the store */
	bool wrong_key;             /* a CertificateVerify by another key than the certificate's */
	uint16_t suite;             /* expected on success */
	const char *extra;          /* priority string additions */
	enum sg_hs_counter counter; /* failure: its counter; SG_HS_C_MAX: success */
	int alert;
	bool no_rpk; /* the gateway has raw public keys off */
};

static const struct gt_case gt_cases[] = {
	{ "X.509 mutual", false, false, false, SG_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
	  ":-CIPHER-ALL:+AES-128-CCM-8", SG_HS_C_MAX, 0 },
	{ "RPK mutual", true, true, false, SG_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	  ":-CIPHER-ALL:+AES-128-GCM", SG_HS_C_MAX, 0 },
	{ "RPK not in the store", true, false, false, 0, "", SG_HS_C_FAIL_BAD_CERT,
	  GNUTLS_A_BAD_CERTIFICATE },
	{ "wrong key", false, false, true, 0, "", SG_HS_C_FAIL_CERT_VERIFY,
	  GNUTLS_A_DECRYPT_ERROR },
	/* RFC 7250 §4.2: no server certificate type in common, and no other suite offered. */
	{ "RPK only, the gateway has none", true, true, false, 0, "", SG_HS_C_FAIL_UNSUPPORTED_CERT,
	  GNUTLS_A_HANDSHAKE_FAILURE, true },
};

static gnutls_certificate_credentials_t gt_creds(const struct gt_case *c)
{
	gnutls_certificate_credentials_t x;
	gnutls_datum_t ca = pem_of(P.ca, NULL, NULL);
	gnutls_datum_t key = pem_of(NULL, NULL, c->wrong_key ? P.wrong_key : P.cli_key);
	gnutls_datum_t crt = c->rpk ? pem_of(NULL, P.cli_key, NULL) : pem_of(P.cli, NULL, NULL);

	assert_int_equal(gnutls_certificate_allocate_credentials(&x), 0);
	assert_true(gnutls_certificate_set_x509_trust_mem(x, &ca, GNUTLS_X509_FMT_PEM) > 0);
	if (c->wrong_key)
		gnutls_certificate_set_flags(x, GNUTLS_CERTIFICATE_SKIP_KEY_CERT_MATCH);
	if (c->rpk)
		assert_int_equal(gnutls_certificate_set_rawpk_key_mem(
		                         x, &crt, &key, GNUTLS_X509_FMT_PEM, NULL, 0, NULL, 0, 0),
		                 0);
	else
		assert_true(gnutls_certificate_set_x509_key_mem(x, &crt, &key,
		                                                GNUTLS_X509_FMT_PEM) >= 0);
	gnutls_free(ca.data);
	gnutls_free(key.data);
	gnutls_free(crt.data);
	return x;
}

/* The handshake of c's GnuTLS client: 0, or GnuTLS's error. */
static int gt_run(struct harness *h, gnutls_session_t s, unsigned want_installed)
{
	for (int i = 0; i < 200; i++) {
		int rc = gnutls_handshake(s);

		pump(h, NULL);
		if (rc == 0 && h->n_installed == want_installed)
			return 0;
		if (rc < 0 && gnutls_error_is_fatal(rc))
			return rc;
	}
	fail_msg("GnuTLS handshake did not end (installed %u)", h->n_installed);
	return 0;
}

static long gt_send(void *s, const void *pt, size_t len)
{
	return gnutls_record_send(s, pt, len);
}

static long gt_recv(void *s, void *buf, size_t cap)
{
	return gnutls_record_recv(s, buf, cap);
}

/* The server's raw public key is ours: the SPKI of the gateway's key. */
static void check_server_rpk(gnutls_session_t s)
{
	unsigned n = 0;
	const gnutls_datum_t *peer = gnutls_certificate_get_peers(s, &n);
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(P.srv_key, &der);

	assert_int_equal(gnutls_certificate_type_get2(s, GNUTLS_CTYPE_SERVER), GNUTLS_CRT_RAWPK);
	assert_int_equal(n, 1);
	assert_int_equal(peer[0].size, len);
	assert_memory_equal(peer[0].data, der, (size_t)len);
	OPENSSL_free(der);
}

/* c's GnuTLS client on h's socketpair with credentials x, resuming from data when not NULL. */
static gnutls_session_t gt_session(struct harness *h, const struct gt_case *c,
                                   gnutls_certificate_credentials_t x, const gnutls_datum_t *data)
{
	char prio[256];
	gnutls_session_t s;

	snprintf(prio, sizeof(prio), "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+ECDHE-ECDSA%s%s",
	         c->rpk ? ":-CTYPE-ALL:+CTYPE-CLI-RAWPK:+CTYPE-SRV-RAWPK" : "", c->extra);
	assert_int_equal(gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_DATAGRAM | GNUTLS_NONBLOCK |
	                                         (c->rpk ? GNUTLS_ENABLE_RAWPK : 0)),
	                 0);
	assert_int_equal(gnutls_priority_set_direct(s, prio, NULL), 0);
	assert_int_equal(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, x), 0);
	if (!c->rpk)
		gnutls_session_set_verify_cert(s, NULL, 0); /* our chain, against the test CA */
	gnutls_transport_set_int(s, h->fd[0]);
	gnutls_dtls_set_mtu(s, 1400);
	if (data != NULL)
		assert_int_equal(gnutls_session_set_data(s, data->data, data->size), 0);
	return s;
}

/* The session c's client has, full or resumed, its data both ways. */
static void gt_check(struct harness *h, const struct gt_case *c, gnutls_session_t s, bool resumed)
{
	const struct h_client hc = { s, gt_send, gt_recv };

	assert_int_equal(h->sess.res.suite, c->suite);
	assert_int_equal(h->sess.res.resumed, resumed);
	assert_int_equal(gnutls_session_is_resumed(s), resumed);
	assert_int_equal(h->sess.res.auth, c->rpk ? SG_HS_AUTH_RPK : SG_HS_AUTH_X509);
	if (c->rpk) {
		if (!resumed)
			check_server_rpk(s);
		assert_int_equal(h->sess.res.identity_len, strlen(RPK_NAME));
		assert_memory_equal(h->sess.res.identity, RPK_NAME, strlen(RPK_NAME));
		assert_int_equal(h->sess.res.cred_ref, 3000);
	} else {
		assert_memory_equal(h->sess.res.identity, CLIENT_CN, strlen(CLIENT_CN));
	}
	h_data_both_ways(h, &hc, "uplink via GnuTLS", "downlink to GnuTLS");
}

static void run_gt_case(const struct gt_case *c)
{
	struct harness h;
	struct sg_hs_certs *certs = start_rpk(&h, SG_HS_CLIENT_AUTH_REQUIRE, NULL, !c->no_rpk);
	gnutls_certificate_credentials_t x = gt_creds(c);
	gnutls_datum_t data = { 0 };
	gnutls_session_t s;
	int rc;

	lk.rpk_known = c->rpk_known;
	s = gt_session(&h, c, x, NULL);
	rc = gt_run(&h, s, c->counter == SG_HS_C_MAX ? 1 : 0);
	if (c->counter != SG_HS_C_MAX) {
		assert_int_equal(rc, GNUTLS_E_FATAL_ALERT_RECEIVED);
		assert_int_equal(gnutls_alert_get(s), c->alert);
		assert_int_equal(h_count(&h, c->counter), 1);
		assert_int_equal(h.n_installed, 0);
		gnutls_deinit(s);
		gnutls_certificate_free_credentials(x);
		stop(&h, certs);
		return;
	}
	assert_int_equal(rc, 0);
	gt_check(&h, c, s, false);
	assert_int_equal(gnutls_session_get_data2(s, &data), 0);
	gnutls_deinit(s);
	/*
	 * Resumed from the ticket (RFC 5077): the policy looked up again by
	 * identity (X.509) or by the key's hash the ticket keeps (RPK).
	 */
	assert_int_equal(lk.calls, 1);
	s = gt_session(&h, c, x, &data);
	assert_int_equal(gt_run(&h, s, 2), 0);
	gt_check(&h, c, s, true);
	assert_int_equal(lk.calls, 2);
	assert_int_equal(lk.last_kind, c->rpk ? SG_HS_AUTH_RPK : SG_HS_AUTH_X509);
	assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_RESUMED), 1);
	gnutls_deinit(s);
	if (c->rpk) {
		/* The key left the store: its ticket resumes nothing, the full handshake fails. */
		lk.rpk_known = false;
		s = gt_session(&h, c, x, &data);
		assert_int_equal(gt_run(&h, s, 2), GNUTLS_E_FATAL_ALERT_RECEIVED);
		assert_int_equal(gnutls_alert_get(s), GNUTLS_A_BAD_CERTIFICATE);
		assert_int_equal(h_count(&h, SG_HS_C_TICKET_REJECTED), 1);
		assert_int_equal(h_count(&h, SG_HS_C_FAIL_BAD_CERT), 1);
		gnutls_deinit(s);
	}
	gnutls_free(data.data);
	gnutls_certificate_free_credentials(x);
	stop(&h, certs);
}

static void test_gnutls(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(gt_cases) / sizeof(gt_cases[0]); i++) {
		print_message("# GnuTLS: %s\n", gt_cases[i].name);
		run_gt_case(&gt_cases[i]);
		if (i == 1)
			record_save("ecdsa-rpk-mutual");
		rec.len = 0;
	}
}

/* ---- the engine's large reassembly buffers (hs_bigmsg.h) ---------------------------------- */

/* One fragment of a 40-byte message (type 11, seq 1) at off, len bytes of pattern fill. */
static int big_add(struct hs_bigmsg_pool *p, uint32_t owner, uint64_t now, uint32_t off,
                   uint32_t len, uint8_t fill, const uint8_t **body)
{
	struct sg_hs_msg_hdr h = { .type = SG_TLS_HT_CERTIFICATE,
		                   .length = 40,
		                   .seq = 1,
		                   .frag_off = off,
		                   .frag_len = len };
	uint8_t frag[64];

	for (uint32_t i = 0; i < len; i++)
		frag[i] = (uint8_t)(fill + off + i);
	return sg_hs_bigmsg_add(p, owner, now, &h, frag, body);
}

static void test_bigmsg_pool(void **state)
{
	struct hs_bigmsg_pool *p = sg_hs_bigmsg_create(2, 48);
	const uint8_t *body = NULL;

	(void)state;
	assert_non_null(p);
	/* Out of order, overlapping, repeated: whole once every byte is in. */
	assert_int_equal(big_add(p, 7, 0, 20, 20, 0, &body), 0);
	assert_int_equal(big_add(p, 7, 0, 10, 15, 0, &body), 0);
	assert_int_equal(big_add(p, 7, 0, 10, 15, 0, &body), 0);
	assert_int_equal(big_add(p, 7, 0, 0, 10, 0, &body), 1);
	for (uint8_t i = 0; i < 40; i++)
		assert_int_equal(body[i], i);
	assert_true(sg_hs_bigmsg_holds(p, 7));
	/* Bytes that disagree start the message over from the newest fragment. */
	sg_hs_bigmsg_release(p, 7);
	assert_int_equal(big_add(p, 7, 0, 0, 20, 0, &body), 0);
	assert_int_equal(big_add(p, 7, 0, 10, 20, 1, &body), 0);
	assert_int_equal(big_add(p, 7, 0, 30, 10, 1, &body), 0);
	assert_int_equal(big_add(p, 7, 0, 0, 10, 1, &body), 1);
	assert_int_equal(body[0], 1);
	/* Longer than a buffer: refused. */
	{
		struct sg_hs_msg_hdr h = { .type = 11, .length = 49, .seq = 1, .frag_len = 1 };
		uint8_t b = 0;

		assert_int_equal(sg_hs_bigmsg_add(p, 8, 0, &h, &b, &body), -EMSGSIZE);
	}
	/* Two buffers: a third owner waits until one has been idle HS_BIGMSG_IDLE_MS. */
	assert_int_equal(big_add(p, 8, 100, 0, 10, 0, &body), 0);
	assert_int_equal(sg_hs_bigmsg_in_use(p), 2);
	assert_int_equal(big_add(p, 9, 200, 0, 10, 0, &body), -ENOBUFS);
	assert_int_equal(big_add(p, 9, 100 + HS_BIGMSG_IDLE_MS, 0, 10, 0, &body), 0);
	assert_true(sg_hs_bigmsg_holds(p, 9));
	assert_false(sg_hs_bigmsg_holds(p, 7)); /* idle longest: taken back */
	assert_true(sg_hs_bigmsg_holds(p, 8));
	sg_hs_bigmsg_release(p, 8);
	sg_hs_bigmsg_release(p, 9);
	assert_int_equal(sg_hs_bigmsg_in_use(p), 0);
	sg_hs_bigmsg_free(p);
}

/* ---- memory ------------------------------------------------------------------------- */

/*
 * The 2 KB budget of an in-flight certificate handshake, measured as
 * test_hs_negative measures the PSK one: heap taken at creation per slot,
 * plus what a handshake that sent its flight 4 (ECDHE key, signature,
 * certificate set reference) adds, over N handshakes from one captured
 * ClientHello sent from N ports. Our chain is the set's, shared.
 */
static void test_memory_per_handshake(void **state)
{
	enum { N = 128 };
	struct harness h, h2;
	struct sg_hs_certs *certs;
	uint8_t hello[2048];
	size_t hello_len, m1, m2, a, b, c0, c1, create_per, flight_per;
	SSL *ssl;

	(void)state;
	assert_true(sizeof(struct hs_slot) <= 2048);
	certs = start(&h, SG_HS_CLIENT_AUTH_REQUIRE, NULL);
	sg_hs_engine_free(h.e);
	h.conf.max_handshakes = N;
	h.conf.linger_entries = 1;
	h.conf.cookie_policy = SG_HS_COOKIE_NEVER;
	h.e = sg_hs_engine_create(&h.conf);
	assert_non_null(h.e);
	ssl = ossl_client(&h, "ECDHE-ECDSA-AES128-CCM8", P.cli, P.cli_key, NULL);
	assert_int_equal(SSL_do_handshake(ssl), -1);
	hello_len = h_recv(&h, hello, sizeof(hello));
	assert_true(hello_len > 0);
	ossl_free(ssl);
	h.capture = true;
	m1 = h_heap_used();
	for (int i = 0; i < N; i++) {
		h.peer.pport = (uint16_t)(1000 + i);
		h_input(&h, hello, hello_len);
		h.n_out = 0;
	}
	m2 = h_heap_used();
	{
		struct sg_hs_stats st;

		sg_hs_stats_get(h.e, &st);
		assert_int_equal(st.in_flight, N);
	}
	assert_int_equal(h_count(&h, SG_HS_C_SIGN_PRECOMPUTED) + h_count(&h, SG_HS_C_SIGN_INLINE),
	                 N);
	/* The engine alone: N slots against 1 (the fixed part, large buffers included, cancels). */
	h2 = h;
	a = h_heap_used();
	h2.e = sg_hs_engine_create(&h2.conf);
	b = h_heap_used();
	assert_non_null(h2.e);
	sg_hs_engine_free(h2.e);
	h2.conf.max_handshakes = 1;
	c0 = h_heap_used();
	h2.e = sg_hs_engine_create(&h2.conf);
	c1 = h_heap_used();
	assert_non_null(h2.e);
	sg_hs_engine_free(h2.e);
	create_per = ((b - a) - (c1 - c0)) / (N - 1);
	flight_per = m2 > m1 ? (m2 - m1) / N : 0;
	print_message("# per certificate handshake: %zu B at creation + %zu B in flight = %zu B "
	              "(slot %zu B)\n",
	              create_per, flight_per, create_per + flight_per, sizeof(struct hs_slot));
	assert_true(create_per + flight_per <= 2048);
	stop(&h, certs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl_x509),
		cmocka_unit_test(test_openssl_negative),
		cmocka_unit_test(test_x509_without_policy),
		cmocka_unit_test(test_no_certs_no_ecdsa),
		cmocka_unit_test(test_reload_in_flight),
		cmocka_unit_test(test_cookie_before_chain),
		cmocka_unit_test(test_flight4_lost),
		cmocka_unit_test(test_gnutls),
		cmocka_unit_test(test_bigmsg_pool),
		cmocka_unit_test(test_memory_per_handshake),
	};
	int rc;

	gnutls_global_init();
	rc = cmocka_run_group_tests(tests, hs_pki_setup, hs_pki_teardown);
	gnutls_global_deinit();
	return rc;
}
