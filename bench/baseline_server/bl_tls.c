/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The baseline's DTLS 1.2 server context and its callbacks: the suites and
 * groups, the PSK lookup in the credential table, and the cookies of the
 * stateless HelloVerifyRequest exchange (RFC 6347 §4.2.1) OpenSSL's
 * DTLSv1_listen() runs. The context is made by the main thread; the
 * callbacks run on the worker whose SSL is in a handshake, with that
 * worker's cookie secrets (a client stays on one worker). See baseline.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "baseline.h"

/*
 * Stormgate's nine suites (docs/config.md, its order) less the RFC 8442
 * ECDHE-PSK AES suites (0xD001, 0xD003, 0xD005), which OpenSSL 3.0 lacks.
 */
static const char default_ciphers[] = "ECDHE-PSK-CHACHA20-POLY1305:PSK-AES128-CCM:"
                                      "PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:"
                                      "PSK-CHACHA20-POLY1305:PSK-AES128-CCM8";

#define COOKIE_MAC_LEN   16
#define COOKIE_LEN       (1 + COOKIE_MAC_LEN) /* generation, MAC */
#define COOKIE_ROTATE_NS (UINT64_C(30) * 1000000000)

static struct bl_worker *worker_of(SSL *ssl)
{
	const struct bl_shared *s = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	return SSL_get_ex_data(ssl, s->ex_worker);
}

/* The device's key for the identity of its ClientKeyExchange (RFC 4279 §2). */
static unsigned int psk_cb(SSL *ssl, const char *identity, unsigned char *psk, unsigned int max_psk)
{
	struct bl_worker *w = worker_of(ssl);
	struct bl_client *c = SSL_get_app_data(ssl);
	const uint8_t *key;
	const char *stored;
	unsigned key_len;

	if (bl_creds_find(&w->s->creds, identity, strlen(identity), &key, &key_len, &stored) != 0 ||
	    key_len > max_psk) {
		bl_count(&w->ctr, BL_UNKNOWN_ID);
		return 0; /* OpenSSL answers unknown_psk_identity */
	}
	if (c != NULL) {
		c->identity = stored;
		c->id_len = (uint8_t)strlen(identity);
	}
	memcpy(psk, key, key_len);
	return key_len;
}

/* HMAC-SHA256(secret of generation gen, family ‖ address ‖ port), cut to 16 bytes. */
static int cookie_mac(const struct bl_worker *w, uint8_t gen, const struct bl_addr *a,
                      uint8_t mac[COOKIE_MAC_LEN])
{
	uint8_t msg[1 + 16 + 2], out[EVP_MAX_MD_SIZE];
	unsigned out_len = 0;

	msg[0] = a->family;
	memcpy(msg + 1, a->addr, 16);
	memcpy(msg + 17, &a->port, 2);
	if (HMAC(EVP_sha256(), w->cookie_secret[gen & 1], sizeof(w->cookie_secret[0]), msg,
	         sizeof(msg), out, &out_len) == NULL ||
	    out_len < COOKIE_MAC_LEN)
		return -EIO;
	memcpy(mac, out, COOKIE_MAC_LEN);
	OPENSSL_cleanse(out, sizeof(out));
	return 0;
}

static int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
	struct bl_worker *w = worker_of(ssl);

	cookie[0] = w->cookie_gen;
	if (cookie_mac(w, w->cookie_gen, bl_bio_peer(SSL_get_rbio(ssl)), cookie + 1) != 0)
		return 0;
	*len = COOKIE_LEN;
	return 1;
}

/* The current and the previous generation verify: a cookie lives 30 to 60 s. */
static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
	struct bl_worker *w = worker_of(ssl);
	uint8_t mac[COOKIE_MAC_LEN];
	int ok;

	if (len != COOKIE_LEN ||
	    (cookie[0] != w->cookie_gen && cookie[0] != (uint8_t)(w->cookie_gen - 1)))
		return 0;
	if (cookie_mac(w, cookie[0], bl_bio_peer(SSL_get_rbio(ssl)), mac) != 0)
		return 0;
	ok = CRYPTO_memcmp(mac, cookie + 1, COOKIE_MAC_LEN) == 0;
	return ok;
}

void bl_cookie_rotate(struct bl_worker *w, uint64_t now)
{
	uint8_t next = (uint8_t)(w->cookie_gen + 1);

	if (now - w->cookie_rotated < COOKIE_ROTATE_NS)
		return;
	RAND_bytes(w->cookie_secret[next & 1], sizeof(w->cookie_secret[0]));
	w->cookie_gen = next;
	w->cookie_rotated = now;
}

static int fail(const char *what)
{
	unsigned long e = ERR_get_error();

	fprintf(stderr, "stormgate-dtls-baseline: %s%s%s\n", what, e ? ": " : "",
	        e ? ERR_reason_error_string(e) : "");
	return -EINVAL;
}

int bl_tls_init(struct bl_shared *s)
{
	const char *ciphers = s->o->ciphers ? s->o->ciphers : default_ciphers;
	SSL_CTX *ctx = SSL_CTX_new(DTLS_server_method());

	s->ctx = ctx;
	if (ctx == NULL)
		return -ENOMEM;
	s->ex_worker = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (s->ex_worker < 0)
		return -ENOMEM;
	SSL_CTX_set_app_data(ctx, s);
	if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) != 1)
		return fail("DTLS 1.2");
	if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1)
		return fail("--ciphers: not an OpenSSL cipher list");
	if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1)
		return fail("groups X25519:P-256");
	/*
	 * Server order (ours is forward secrecy first, CCM_8 last); tickets for
	 * stateless resumption, no server-side session cache (a locked table
	 * shared by the workers, 20k sessions by default: useless at 1M
	 * devices); read and write buffers released while a client is idle.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_psk_server_callback(ctx, psk_cb);
	SSL_CTX_set_cookie_generate_cb(ctx, cookie_generate);
	SSL_CTX_set_cookie_verify_cb(ctx, cookie_verify);
	return 0;
}
