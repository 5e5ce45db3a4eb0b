/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session store (control/store/): sealed records round-trip every
 * field; damage of each kind is refused with its error and counted by the
 * iterator while the other records come back; group commits are durable
 * (reopen, and a child killed mid-group); the key file and the systemd
 * credential. One thread, as the control plane uses it.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <openssl/evp.h>

#include <stormgate/handshake.h>
#include <stormgate/record.h>

#include "sg_store.h"
#include "store_seal.h"
#include "tc_tmp.h"

struct fixture {
	char dir[256];
	char db[300];
	struct sg_store_key key;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tc_tmpdir(f->dir, sizeof(f->dir), "store") != 0)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/sessions", f->dir);
	memset(f->key.key, 0x5a, sizeof(f->key.key));
	if (sg_store_key_set_id(&f->key) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(tc_rmtree(f->dir), 0);
	sg_store_key_wipe(&f->key);
	free(f);
	return 0;
}

static const uint8_t v4[2][16] = {
	{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1 },
	{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 19, 7, 9 },
};
static const uint8_t v6[2][16] = {
	{ 0xfd, 0, 0x53, 0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	{ 0xfd, 0, 0x53, 0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34 },
};

/* Shapes of records: each row fills every field its AEAD uses. */
static const struct shape {
	uint8_t aead;
	uint8_t flags;
	uint8_t cid_len;
	uint8_t peer_cid_len;
	int v6;
	uint8_t identity_len;
	int token; /* proxy mode */
	uint64_t tx_seq, rx_top;
	int sealed_len;  /* the record's sealed size in bytes (docs/restart.md) */
	uint8_t version; /* sealed at: 1 (AEAD), 2 (CBC: the MAC keys), 3 (not a PSK) */
	uint8_t auth;    /* enum sg_hs_auth; X.509 and none: no tag, none: no identity */
} shapes[] = {
	/* the common device: IPv4, a 16-byte identity, our 8-byte CID, no peer CID, AES-128-CCM-8
	 */
	{ SG_AEAD_AES_128_CCM_8, SG_STORE_F_CID | SG_STORE_F_RX_CID | SG_STORE_F_EMS, 8, 0, 0, 16,
	  0, 5, 3, 166, 1 },
	{ SG_AEAD_AES_128_GCM, SG_STORE_F_TUPLE, 0, 0, 0, 16, 1, 1, 0, 158, 1 },
	{ SG_AEAD_AES_256_GCM, SG_STORE_F_TUPLE | SG_STORE_F_RRC, 0, 0, 1, 0, 0, 1000, 999, 198,
	  1 },
	/* the largest AEAD one: a 128-byte identity, IPv6, 16-byte CID both ways and a 255-byte
	 * peer CID, ChaCha20 (everything but EtM, a CBC flag) */
	{ SG_AEAD_CHACHA20_POLY1305, SG_STORE_F_ALL & ~SG_STORE_F_ETM, 16, 255, 1,
	  SG_STORE_IDENTITY_MAX, 1, (UINT64_C(1) << 48) - 1, (UINT64_C(1) << 48) - 1,
	  SG_STORE_REC_MAX - 2 * SG_DTLS_CBC_MAC_KEY_LEN - 1, 1 },
	/* CBC-SHA256 (issue 17): as the GCM row, no IVs, the two 32-byte MAC keys: +56 */
	{ SG_AEAD_AES_128_CBC_SHA256, SG_STORE_F_TUPLE, 0, 0, 0, 16, 1, 1, 0, 214, 2 },
	{ SG_AEAD_AES_128_CBC_SHA256, SG_STORE_F_TUPLE | SG_STORE_F_ETM | SG_STORE_F_EMS, 0, 0, 1,
	  16, 0, 77, 76, 238, 2 },
	/* the largest CBC one: everything at its longest, EtM */
	{ SG_AEAD_AES_128_CBC_SHA256, SG_STORE_F_ALL, 16, 255, 1, SG_STORE_IDENTITY_MAX, 1,
	  (UINT64_C(1) << 48) - 1, (UINT64_C(1) << 48) - 1,
	  SG_STORE_REC_MAX - 2 * (32 + 12) + 2 * 16 - 1, 2 },
	/* not a PSK (issue 17): version 3, one byte more (the auth kind); rows 7.. */
	/* the common device with a client certificate: as row 0, +1 */
	{ SG_AEAD_AES_128_CCM_8, SG_STORE_F_CID | SG_STORE_F_RX_CID | SG_STORE_F_EMS, 8, 0, 0, 16,
	  0, 5, 3, 167, 3, SG_HS_AUTH_X509 },
	/* a raw public key over AES-128-GCM: as row 1, +1 */
	{ SG_AEAD_AES_128_GCM, SG_STORE_F_TUPLE, 0, 0, 0, 16, 1, 1, 0, 159, 3, SG_HS_AUTH_RPK },
	/* an anonymous client: as row 1 without its identity, +1 */
	{ SG_AEAD_AES_128_GCM, SG_STORE_F_TUPLE, 0, 0, 0, 0, 1, 1, 0, 143, 3, SG_HS_AUTH_NONE },
	/* ECDHE-ECDSA CBC-SHA256 with a certificate: as row 4, +1 */
	{ SG_AEAD_AES_128_CBC_SHA256, SG_STORE_F_TUPLE, 0, 0, 0, 16, 1, 1, 0, 215, 3,
	  SG_HS_AUTH_X509 },
	/* the largest of all: row 6 with a raw public key */
	{ SG_AEAD_AES_128_CBC_SHA256, SG_STORE_F_ALL, 16, 255, 1, SG_STORE_IDENTITY_MAX, 1,
	  (UINT64_C(1) << 48) - 1, (UINT64_C(1) << 48) - 1,
	  SG_STORE_REC_MAX - 2 * (32 + 12) + 2 * 16, 3, SG_HS_AUTH_RPK },
};

static void make_rec(struct sg_store_rec *r, const struct shape *s, uint32_t n)
{
	unsigned klen =
	        s->aead == SG_AEAD_AES_256_GCM || s->aead == SG_AEAD_CHACHA20_POLY1305 ? 32 : 16;
	unsigned ivlen = s->aead == SG_AEAD_CHACHA20_POLY1305    ? 12
	                 : s->aead == SG_AEAD_AES_128_CBC_SHA256 ? 0
	                                                         : 4;
	unsigned maclen = s->aead == SG_AEAD_AES_128_CBC_SHA256 ? 32 : 0;

	memset(r, 0, sizeof(*r));
	r->gen = 0x01020304u + n;
	r->backend = 7 + n;
	r->identity_len = s->identity_len;
	for (unsigned i = 0; i < s->identity_len; i++)
		r->identity[i] = (uint8_t)('a' + (i + n) % 26);
	r->auth = s->auth;
	/* a certificate's and an anonymous client's sessions have no tag: no key to change */
	for (unsigned i = 0; i < SG_STORE_CRED_TAG_LEN; i++)
		r->cred_tag[i] = s->auth == SG_HS_AUTH_X509 || s->auth == SG_HS_AUTH_NONE
		                         ? 0
		                         : (uint8_t)(0xa0 + i + n);
	for (unsigned i = 0; i < SG_PP2_TOKEN_LEN; i++)
		r->token[i] = s->token ? (uint8_t)(0x30 + i + n) : 0;
	r->expires = 2000000000u + n;
	r->last_rx = 1800000000u + n;
	r->tx_seq = s->tx_seq;
	r->rx_top = s->rx_top;
	r->suite = (uint16_t)(0xC0A8 + n);
	r->epoch = 1;
	r->max_plaintext = 1024;
	r->aead = s->aead;
	r->flags = s->flags;
	r->cid_len = s->cid_len;
	r->peer_cid_len = s->peer_cid_len;
	for (unsigned i = 0; i < s->cid_len; i++)
		r->cid[i] = (uint8_t)(0xc0 + i + n);
	for (unsigned i = 0; i < s->peer_cid_len; i++)
		r->peer_cid[i] = (uint8_t)(i * 7 + n);
	memcpy(r->tuple.laddr, s->v6 ? v6[0] : v4[0], 16);
	memcpy(r->tuple.paddr, s->v6 ? v6[1] : v4[1], 16);
	r->tuple.lport = htons(5684);
	r->tuple.pport = htons((uint16_t)(40000 + n));
	for (unsigned i = 0; i < klen; i++) {
		r->rx_key[i] = (uint8_t)(0x10 + i + n);
		r->tx_key[i] = (uint8_t)(0x80 + i + n);
	}
	for (unsigned i = 0; i < ivlen; i++) {
		r->rx_iv[i] = (uint8_t)(0x40 + i);
		r->tx_iv[i] = (uint8_t)(0x60 + i);
	}
	for (unsigned i = 0; i < maclen; i++) {
		r->rx_mac[i] = (uint8_t)(0x90 + i + n);
		r->tx_mac[i] = (uint8_t)(0xd0 - i + n);
	}
}

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* Seal and open every shape: every field comes back, the size is the documented one. */
static void test_rec_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct sg_store_sealer s;
	struct sg_store_rec in, out;
	uint8_t buf[SG_STORE_REC_MAX], prev_nonce[SG_STORE_REC_NONCE] = { 0 };
	int len;

	assert_int_equal(sg_store_sealer_init(&s, &f->key), 0);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		make_rec(&in, &shapes[i], (uint32_t)i);
		len = sg_store_rec_seal(&s, 42, &in, buf, sizeof(buf));
		assert_int_equal(len, shapes[i].sealed_len);
		/* the lowest version that holds it: AEAD sessions stay readable by older builds */
		assert_int_equal(buf[0], shapes[i].version);
		/* a fresh nonce per write */
		assert_memory_not_equal(buf + SG_STORE_REC_HDR, prev_nonce, SG_STORE_REC_NONCE);
		memcpy(prev_nonce, buf + SG_STORE_REC_HDR, SG_STORE_REC_NONCE);
		assert_int_equal(sg_store_rec_open(&f->key, 42, buf, (size_t)len, &out), 0);
		assert_memory_equal(&in, &out, sizeof(in));
		/* the keys are not in the sealed bytes in the clear */
		for (int j = 0; j + 16 <= len; j++) {
			assert_memory_not_equal(buf + j, in.tx_key, 16);
			if (shapes[i].aead == SG_AEAD_AES_128_CBC_SHA256)
				assert_memory_not_equal(buf + j, in.rx_mac, 16);
		}
	}
	/* too small a buffer, fields out of range */
	make_rec(&in, &shapes[0], 0);
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, (size_t)shapes[0].sealed_len - 1),
	                 -ENOBUFS);
	in.aead = SG_AEAD_MAX;
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, sizeof(buf)), -EINVAL);
	make_rec(&in, &shapes[0], 0);
	in.cid_len = 3;
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, sizeof(buf)), -EINVAL);
	make_rec(&in, &shapes[0], 0);
	in.tx_seq = UINT64_C(1) << 48;
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, sizeof(buf)), -EINVAL);
	make_rec(&in, &shapes[0], 0);
	in.flags = SG_STORE_F_V4;
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, sizeof(buf)), -EINVAL);
	make_rec(&in, &shapes[0], 0);
	in.identity_len = SG_STORE_IDENTITY_MAX + 1;
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, sizeof(buf)), -EINVAL);
	/* encrypt_then_mac on an AEAD session (RFC 7366 §2: CBC only) */
	make_rec(&in, &shapes[1], 0);
	in.flags |= SG_STORE_F_ETM;
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, sizeof(buf)), -EINVAL);
	/* auth kinds with what they cannot have (sg_store_rec.auth) */
	make_rec(&in, &shapes[7], 0);
	in.auth = SG_HS_AUTH_NONE + 1; /* unknown */
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, sizeof(buf)), -EINVAL);
	make_rec(&in, &shapes[7], 0);
	in.cred_tag[3] = 1; /* a certificate with a tag */
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, sizeof(buf)), -EINVAL);
	make_rec(&in, &shapes[7], 0);
	in.identity_len = 0; /* a certificate without an identity */
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, sizeof(buf)), -EINVAL);
	make_rec(&in, &shapes[8], 0);
	memset(in.cred_tag, 0, sizeof(in.cred_tag)); /* a raw public key without its tag */
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, sizeof(buf)), -EINVAL);
	make_rec(&in, &shapes[9], 0);
	in.identity_len = 1; /* an anonymous client with an identity */
	assert_int_equal(sg_store_rec_seal(&s, 1, &in, buf, sizeof(buf)), -EINVAL);
	sg_store_sealer_wipe(&s);
	assert_true(all_zero(&s, sizeof(s)));
}

/*
 * The envelope is standard AES-256-GCM (NIST SP 800-38D): a record sealed by
 * the store opens with OpenSSL's EVP, an independent implementation, under
 * the documented nonce and AAD (header || slot), and its body starts with
 * the documented fields.
 */
static void test_rec_openssl(void **state)
{
	struct fixture *f = *state;
	struct sg_store_sealer s;
	struct sg_store_rec in;
	uint8_t buf[SG_STORE_REC_MAX], body[SG_STORE_REC_BODY_MAX], aad[SG_STORE_REC_HDR + 4];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len, n, body_len;

	assert_non_null(ctx);
	assert_int_equal(sg_store_sealer_init(&s, &f->key), 0);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		make_rec(&in, &shapes[i], (uint32_t)i);
		len = sg_store_rec_seal(&s, 0x01020304u + (uint32_t)i, &in, buf, sizeof(buf));
		body_len = len - SG_STORE_REC_HDR - SG_STORE_REC_NONCE - SG_STORE_REC_TAG;
		memcpy(aad, buf, SG_STORE_REC_HDR);
		aad[7] = 1;
		aad[8] = 2;
		aad[9] = 3;
		aad[10] = (uint8_t)(4 + i);
		assert_int_equal(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, f->key.key,
		                                    buf + SG_STORE_REC_HDR),
		                 1);
		assert_int_equal(EVP_DecryptUpdate(ctx, NULL, &n, aad, sizeof(aad)), 1);
		assert_int_equal(EVP_DecryptUpdate(ctx, body, &n,
		                                   buf + SG_STORE_REC_HDR + SG_STORE_REC_NONCE,
		                                   body_len),
		                 1);
		assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SG_STORE_REC_TAG,
		                                     buf + len - SG_STORE_REC_TAG),
		                 1);
		assert_int_equal(EVP_DecryptFinal_ex(ctx, body + n, &n), 1);
		/* backend, gen: the first two fields, big endian */
		assert_int_equal(body[3], (uint8_t)in.backend);
		assert_int_equal(((uint32_t)body[4] << 24 | (uint32_t)body[5] << 16 |
		                  (uint32_t)body[6] << 8 | body[7]),
		                 in.gen);
		assert_int_equal(body[SG_STORE_REC_BODY_FIXED], in.identity_len);
	}
	EVP_CIPHER_CTX_free(ctx);
	sg_store_sealer_wipe(&s);
	sg_store_rec_wipe(&in);
}

/* The body of a record sealed for slot, opened with OpenSSL's EVP; returns its length. */
static int evp_body(const struct fixture *f, const uint8_t *buf, int len, uint32_t slot,
                    uint8_t *body)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int body_len = len - SG_STORE_REC_HDR - SG_STORE_REC_NONCE - SG_STORE_REC_TAG, n;
	uint8_t aad[SG_STORE_REC_HDR + 4];

	assert_non_null(ctx);
	memcpy(aad, buf, SG_STORE_REC_HDR);
	aad[7] = (uint8_t)(slot >> 24);
	aad[8] = (uint8_t)(slot >> 16);
	aad[9] = (uint8_t)(slot >> 8);
	aad[10] = (uint8_t)slot;
	assert_int_equal(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, f->key.key,
	                                    buf + SG_STORE_REC_HDR),
	                 1);
	assert_int_equal(EVP_DecryptUpdate(ctx, NULL, &n, aad, sizeof(aad)), 1);
	assert_int_equal(EVP_DecryptUpdate(ctx, body, &n,
	                                   buf + SG_STORE_REC_HDR + SG_STORE_REC_NONCE, body_len),
	                 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SG_STORE_REC_TAG,
	                                     (void *)(uintptr_t)(buf + len - SG_STORE_REC_TAG)),
	                 1);
	assert_int_equal(EVP_DecryptFinal_ex(ctx, body + n, &n), 1);
	EVP_CIPHER_CTX_free(ctx);
	return body_len;
}

/*
 * The versions (issue 17): a body is read by the version its envelope
 * names. A CBC session's body under a version 1 envelope (which has no room
 * for the MAC keys) is refused as damage (body); an AEAD session's body
 * under version 2 reads as it does under 1 (version 2 adds only the MAC
 * keys, none for an AEAD). The bodies are re-sealed authentically, so only
 * the version rule can refuse them.
 */
static void test_rec_versions(void **state)
{
	static const struct {
		size_t shape;
		unsigned version;
		int rc;
	} rows[] = {
		{ 4, 1, -EUCLEAN },              /* CBC body, version 1 */
		{ 5, 1, -EUCLEAN },              /* CBC + EtM body, version 1 */
		{ 4, 2, 0 },        { 1, 2, 0 }, /* GCM body, version 2 */
		{ 3, 2, 0 },                     /* the largest ChaCha body, version 2 */
		{ 1, 1, 0 },
	};
	struct fixture *f = *state;
	struct sg_store_sealer s;
	struct sg_store_rec in, out;
	uint8_t buf[SG_STORE_REC_MAX], body[SG_STORE_REC_BODY_MAX];
	const uint8_t bind[4] = { 0, 0, 0, 9 };

	assert_int_equal(sg_store_sealer_init(&s, &f->key), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int len, body_len;

		make_rec(&in, &shapes[rows[i].shape], (uint32_t)i);
		len = sg_store_rec_seal(&s, 9, &in, buf, sizeof(buf));
		assert_true(len > 0);
		body_len = evp_body(f, buf, len, 9, body);
		len = sg_store_seal(&s, rows[i].version, bind, sizeof(bind), body, (size_t)body_len,
		                    buf, sizeof(buf));
		assert_true(len > 0);
		assert_int_equal(buf[0], rows[i].version);
		memset(&out, 0xee, sizeof(out));
		assert_int_equal(sg_store_rec_open(&f->key, 9, buf, (size_t)len, &out), rows[i].rc);
		if (rows[i].rc == 0)
			assert_memory_equal(&in, &out, sizeof(in));
		else
			assert_true(all_zero(&out, sizeof(out)));
	}
	/* versions the envelope does not seal */
	assert_int_equal(sg_store_seal(&s, 0, bind, sizeof(bind), body, 8, buf, sizeof(buf)),
	                 -EINVAL);
	assert_int_equal(sg_store_seal(&s, SG_STORE_REC_VERSION + 1, bind, sizeof(bind), body, 8,
	                               buf, sizeof(buf)),
	                 -EINVAL);
	sg_wipe(body, sizeof(body));
	sg_store_rec_wipe(&in);
	sg_store_sealer_wipe(&s);
}

/*
 * Version 3 (issue 17): the auth kind is the body's last byte, so a body
 * never reads as another version's: a version 3 body under version 1 or 2
 * has a byte too many, a version 1 or 2 body under version 3 one too few.
 * Each row re-seals a body authentically after a change, so only the
 * body's rules can refuse it (-EUCLEAN, the damage `body`): a PSK session
 * at version 3 (never written: the lowest version that fits), an unknown
 * kind, each kind with an identity or a tag it cannot have.
 */
static void test_rec_auth(void **state)
{
	enum change { KEEP = 0, AUTH, APPEND, TAG, TRIM };
	static const struct {
		const char *what;
		size_t shape;
		unsigned version;
		enum change change;
		uint8_t arg; /* AUTH: the new last byte; APPEND: the byte added */
		int rc;
	} rows[] = {
		{ "certificate, version 3", 7, 3, KEEP, 0, 0 },
		{ "raw public key, version 3", 8, 3, KEEP, 0, 0 },
		{ "anonymous, version 3", 9, 3, KEEP, 0, 0 },
		{ "certificate CBC, version 3", 10, 3, KEEP, 0, 0 },
		{ "the largest, version 3", 11, 3, KEEP, 0, 0 },
		{ "certificate body under version 1", 7, 1, KEEP, 0, -EUCLEAN },
		{ "certificate body under version 2", 7, 2, KEEP, 0, -EUCLEAN },
		{ "certificate CBC body under version 2", 10, 2, KEEP, 0, -EUCLEAN },
		{ "PSK body under version 3", 1, 3, KEEP, 0, -EUCLEAN },
		{ "PSK CBC body under version 3", 4, 3, KEEP, 0, -EUCLEAN },
		{ "PSK body with a PSK kind, version 3", 1, 3, APPEND, SG_HS_AUTH_PSK, -EUCLEAN },
		{ "PSK body with an X.509 kind, version 3", 1, 3, APPEND, SG_HS_AUTH_X509,
		  -EUCLEAN }, /* it has a tag */
		{ "PSK body with a raw public key kind", 1, 3, APPEND, SG_HS_AUTH_RPK, 0 },
		{ "unknown kind", 7, 3, AUTH, SG_HS_AUTH_NONE + 1, -EUCLEAN },
		{ "kind 255", 7, 3, AUTH, 255, -EUCLEAN },
		{ "certificate relabelled PSK", 7, 3, AUTH, SG_HS_AUTH_PSK, -EUCLEAN },
		{ "certificate relabelled anonymous (has an identity)", 7, 3, AUTH, SG_HS_AUTH_NONE,
		  -EUCLEAN },
		{ "certificate relabelled raw public key (no tag)", 7, 3, AUTH, SG_HS_AUTH_RPK,
		  -EUCLEAN },
		{ "raw public key relabelled certificate (has a tag)", 8, 3, AUTH, SG_HS_AUTH_X509,
		  -EUCLEAN },
		{ "anonymous relabelled certificate (no identity)", 9, 3, AUTH, SG_HS_AUTH_X509,
		  -EUCLEAN },
		{ "certificate with a tag", 7, 3, TAG, 0, -EUCLEAN },
		{ "anonymous with a tag", 9, 3, TAG, 0, -EUCLEAN },
		{ "certificate without its kind", 7, 3, TRIM, 0, -EUCLEAN },
		{ "certificate with a byte after its kind", 7, 3, APPEND, SG_HS_AUTH_X509,
		  -EUCLEAN },
	};
	struct fixture *f = *state;
	struct sg_store_sealer s;
	struct sg_store_rec in, out;
	uint8_t buf[SG_STORE_REC_MAX + 1], body[SG_STORE_REC_BODY_MAX + 1];
	const uint8_t bind[4] = { 0, 0, 0, 9 };

	assert_int_equal(sg_store_sealer_init(&s, &f->key), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int len, body_len;

		print_message("# %s\n", rows[i].what);
		make_rec(&in, &shapes[rows[i].shape], (uint32_t)i);
		len = sg_store_rec_seal(&s, 9, &in, buf, sizeof(buf));
		assert_true(len > 0);
		body_len = evp_body(f, buf, len, 9, body);
		switch (rows[i].change) {
		case KEEP:
			break;
		case AUTH:
			body[body_len - 1] = rows[i].arg;
			break;
		case APPEND:
			body[body_len++] = rows[i].arg;
			in.auth = rows[i].arg; /* what a row that opens must give back */
			break;
		case TAG:
			body[36 + 5] = 0x42; /* cred_tag: 8 bytes at 36 */
			break;
		case TRIM:
			body_len--;
			break;
		}
		len = sg_store_seal(&s, rows[i].version, bind, sizeof(bind), body, (size_t)body_len,
		                    buf, sizeof(buf));
		assert_true(len > 0);
		memset(&out, 0xee, sizeof(out));
		assert_int_equal(sg_store_rec_open(&f->key, 9, buf, (size_t)len, &out), rows[i].rc);
		if (rows[i].rc == 0)
			assert_memory_equal(&in, &out, sizeof(in));
		else
			assert_true(all_zero(&out, sizeof(out)));
	}
	sg_wipe(body, sizeof(body));
	sg_store_rec_wipe(&in);
	sg_store_rec_wipe(&out);
	sg_store_sealer_wipe(&s);
}

/* The credential tag: SHA-256("stormgate cred tag" || psk), first 8 bytes (vectors: Python's
 * hashlib); another PSK, another tag. */
static void test_cred_tag(void **state)
{
	static const struct {
		uint8_t psk[64];
		size_t len;
		uint8_t tag[SG_STORE_CRED_TAG_LEN];
	} rows[] = {
		{ { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
		  16,
		  { 0x78, 0x6b, 0xc4, 0x3e, 0x73, 0x2e, 0x65, 0x6b } },
		{ "secret-psk-0001", 15, { 0x2b, 0x4a, 0x0b, 0x64, 0x8d, 0xc8, 0xb9, 0x4e } },
		{ { 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
		    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
		    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
		    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
		    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab },
		  64,
		  { 0x6f, 0x99, 0xe9, 0xc1, 0x0c, 0xaf, 0xa5, 0x59 } },
	};
	uint8_t tag[SG_STORE_CRED_TAG_LEN], other[SG_STORE_CRED_TAG_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sg_store_cred_tag(rows[i].psk, rows[i].len, tag);
		assert_memory_equal(tag, rows[i].tag, sizeof(tag));
		/* a byte less of the PSK: another tag */
		sg_store_cred_tag(rows[i].psk, rows[i].len - 1, other);
		assert_memory_not_equal(tag, other, sizeof(tag));
	}
}

/* Each kind of damage to one sealed record, and the error it gets. */
static void test_rec_refusals(void **state)
{
	struct fixture *f = *state;
	struct sg_store_sealer s;
	struct sg_store_key other = f->key, same_id = f->key;
	struct sg_store_rec in, out;
	uint8_t buf[SG_STORE_REC_MAX + 1], bad[SG_STORE_REC_MAX + 1];
	int len;

	assert_int_equal(sg_store_sealer_init(&s, &f->key), 0);
	make_rec(&in, &shapes[0], 0);
	len = sg_store_rec_seal(&s, 9, &in, buf, sizeof(buf));
	assert_true(len > 0);
	/* a flipped bit in any byte: refused, never opened, rec wiped */
	for (int i = 0; i < len; i++) {
		memcpy(bad, buf, (size_t)len);
		bad[i] ^= 0x01;
		memset(&out, 0xee, sizeof(out));
		assert_int_not_equal(sg_store_rec_open(&f->key, 9, bad, (size_t)len, &out), 0);
		assert_true(all_zero(&out, sizeof(out)));
	}
	/* the named errors */
	memcpy(bad, buf, (size_t)len);
	bad[0] = SG_STORE_REC_VERSION + 1;
	assert_int_equal(sg_store_rec_open(&f->key, 9, bad, (size_t)len, &out), -EPROTONOSUPPORT);
	/* a version 1 record relabelled 2: the header is in the AAD */
	bad[0] = 2;
	assert_int_equal(sg_store_rec_open(&f->key, 9, bad, (size_t)len, &out), -EBADMSG);
	bad[0] = 0;
	assert_int_equal(sg_store_rec_open(&f->key, 9, bad, (size_t)len, &out), -EPROTONOSUPPORT);
	memcpy(bad, buf, (size_t)len);
	bad[SG_STORE_REC_HDR + SG_STORE_REC_NONCE + 3] ^= 0x80;
	assert_int_equal(sg_store_rec_open(&f->key, 9, bad, (size_t)len, &out), -EBADMSG);
	assert_int_equal(sg_store_rec_open(&f->key, 9, buf, (size_t)len - 1, &out), -ENODATA);
	assert_int_equal(sg_store_rec_open(&f->key, 9, buf, 3, &out), -ENODATA);
	assert_int_equal(sg_store_rec_open(&f->key, 9, buf, 0, &out), -ENODATA);
	memcpy(bad, buf, (size_t)len);
	bad[len] = 0;
	assert_int_equal(sg_store_rec_open(&f->key, 9, bad, (size_t)len + 1, &out), -EMSGSIZE);
	/* another slot (the record moved): the AAD binds it */
	assert_int_equal(sg_store_rec_open(&f->key, 10, buf, (size_t)len, &out), -EBADMSG);
	/* another key: named by its id */
	other.key[0] ^= 1;
	assert_int_equal(sg_store_key_set_id(&other), 0);
	assert_int_not_equal(other.id, f->key.id);
	assert_int_equal(sg_store_rec_open(&other, 9, buf, (size_t)len, &out), -EKEYREJECTED);
	/* another key claiming the same id: the seal still fails */
	same_id.key[5] ^= 1;
	assert_int_equal(sg_store_rec_open(&same_id, 9, buf, (size_t)len, &out), -EBADMSG);
	assert_int_equal(sg_store_rec_open(&f->key, 9, buf, (size_t)len, &out), 0);
	/* the reasons' names and errors are one table */
	assert_string_equal(sg_store_bad_name(sg_store_bad_of(-EKEYREJECTED)), "key_id");
	assert_string_equal(sg_store_bad_name(sg_store_bad_of(-ENODATA)), "truncated");
	assert_int_equal(sg_store_bad_of(-ENOENT), SG_STORE_BAD_MAX);
	assert_string_equal(sg_store_bad_name(SG_STORE_BAD_MAX), "unknown");
	sg_store_rec_wipe(&out);
	sg_store_key_wipe(&other);
	sg_store_key_wipe(&same_id);
	sg_store_sealer_wipe(&s);
}

/* What an iteration saw: the slots and their records, in order. */
struct seen {
	unsigned n;
	uint32_t slot[16];
	struct sg_store_rec rec[16];
	unsigned stop_after; /* 0: never stop */
};

static int collect(uint32_t slot, const struct sg_store_rec *rec, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 16);
	s->slot[s->n] = slot;
	s->rec[s->n] = *rec;
	s->n++;
	return s->stop_after != 0 && s->n == s->stop_after ? 77 : 0;
}

static struct sg_store *open_store(struct fixture *f)
{
	struct sg_store_params p = { .path = f->db, .map_size = 16u << 20 };
	struct sg_store *st = sg_store_open(NULL, &p, &f->key);

	assert_non_null(st);
	assert_string_equal(sg_store_backend(st), "lmdb");
	return st;
}

/* Store and restore every shape through LMDB across a reopen. */
static void test_store_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct sg_store *st = open_store(f);
	struct sg_store_stats stats;
	struct sg_store_rec rec;
	struct seen seen = { 0 };
	size_t n = sizeof(shapes) / sizeof(shapes[0]);

	for (size_t i = 0; i < n; i++) {
		make_rec(&rec, &shapes[i], (uint32_t)i);
		/* slots out of order: the store gives them back in slot order */
		assert_int_equal(sg_store_put(st, (uint32_t)(1000 - i), &rec), 0);
	}
	assert_int_equal(sg_store_commit(st), 0);
	sg_store_stats(st, &stats);
	assert_int_equal(stats.be.records, n);
	assert_int_equal(stats.be.pending, 0);
	assert_int_equal(stats.be.commits, 1);
	assert_true(stats.be.last_commit > 0);
	assert_true(stats.be.size > 0);
	sg_store_close(st);

	st = open_store(f);
	assert_int_equal(sg_store_iterate(st, 0, collect, &seen), 0);
	assert_int_equal(seen.n, n);
	for (size_t i = 0; i < n; i++) {
		make_rec(&rec, &shapes[n - 1 - i], (uint32_t)(n - 1 - i));
		assert_int_equal(seen.slot[i], 1000 - (n - 1 - i));
		assert_memory_equal(&seen.rec[i], &rec, sizeof(rec));
	}
	sg_store_stats(st, &stats);
	assert_int_equal(stats.restored, n);
	/* the callback stops the walk with its own value */
	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 2;
	assert_int_equal(sg_store_iterate(st, 0, collect, &seen), 77);
	assert_int_equal(seen.n, 2);
	sg_store_close(st);
	sg_store_rec_wipe(&rec);
}

/* Raw bytes written straight through the backend, as damage would leave them. */
static void raw_put(struct fixture *f, uint32_t slot, const uint8_t *rec, size_t len)
{
	struct sg_store_params p = { .path = f->db, .map_size = 16u << 20 };
	void *be;

	assert_int_equal(sg_store_lmdb_ops.open(&p, &be), 0);
	assert_int_equal(sg_store_lmdb_ops.put(be, slot, rec, len), 0);
	assert_int_equal(sg_store_lmdb_ops.commit(be), 0);
	sg_store_lmdb_ops.close(be);
}

/* Damaged records beside good ones: each refused and counted, the good ones come back. */
static void test_store_damage(void **state)
{
	struct fixture *f = *state;
	struct sg_store_key other = f->key;
	struct sg_store_sealer s, s_other;
	struct sg_store_stats stats;
	struct sg_store_rec rec;
	struct seen seen = { 0 };
	struct sg_store *st;
	uint8_t buf[SG_STORE_REC_MAX + 1];
	int len;

	other.key[31] ^= 0xff;
	assert_int_equal(sg_store_key_set_id(&other), 0);
	assert_int_equal(sg_store_sealer_init(&s, &f->key), 0);
	assert_int_equal(sg_store_sealer_init(&s_other, &other), 0);
	st = open_store(f);
	make_rec(&rec, &shapes[0], 0);
	for (uint32_t slot = 1; slot <= 9; slot += 2) /* good: 1 3 5 7 9 */
		assert_int_equal(sg_store_put(st, slot, &rec), 0);
	assert_int_equal(sg_store_commit(st), 0);
	sg_store_close(st);

	len = sg_store_rec_seal(&s, 2, &rec, buf, sizeof(buf));
	buf[len / 2] ^= 0x10; /* a flipped byte */
	raw_put(f, 2, buf, (size_t)len);
	len = sg_store_rec_seal(&s, 4, &rec, buf, sizeof(buf));
	raw_put(f, 4, buf, (size_t)len - 5); /* torn: truncated */
	buf[len] = 0xaa;
	raw_put(f, 6, buf, (size_t)len + 1); /* trailing bytes (and sealed for slot 4) */
	len = sg_store_rec_seal(&s, 8, &rec, buf, sizeof(buf));
	buf[0] = 9;
	raw_put(f, 8, buf, (size_t)len); /* unknown version */
	len = sg_store_rec_seal(&s_other, 10, &rec, buf, sizeof(buf));
	raw_put(f, 10, buf, (size_t)len); /* another store key */
	len = sg_store_rec_seal(&s, 11, &rec, buf, sizeof(buf));
	raw_put(f, 12, buf, (size_t)len); /* moved to another slot */

	st = open_store(f);
	assert_int_equal(sg_store_iterate(st, 0, collect, &seen), 0);
	assert_int_equal(seen.n, 5);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(seen.slot[i], 1 + 2 * i);
		assert_memory_equal(&seen.rec[i], &rec, sizeof(rec));
	}
	sg_store_stats(st, &stats);
	assert_int_equal(stats.restored, 5);
	assert_int_equal(stats.refused[SG_STORE_BAD_SEAL], 2); /* the flip, the move */
	assert_int_equal(stats.refused[SG_STORE_BAD_TRUNCATED], 1);
	assert_int_equal(stats.refused[SG_STORE_BAD_TRAILING], 1);
	assert_int_equal(stats.refused[SG_STORE_BAD_VERSION], 1);
	assert_int_equal(stats.refused[SG_STORE_BAD_KEY_ID], 1);
	assert_int_equal(stats.refused[SG_STORE_BAD_BODY], 0);
	sg_store_close(st);
	sg_store_rec_wipe(&rec);
	sg_store_key_wipe(&other);
	sg_store_sealer_wipe(&s);
	sg_store_sealer_wipe(&s_other);
}

static unsigned slots_of(struct fixture *f, uint32_t *slots, uint32_t *gen)
{
	struct sg_store *st = open_store(f);
	struct seen seen = { 0 };

	assert_int_equal(sg_store_iterate(st, 0, collect, &seen), 0);
	sg_store_close(st);
	for (unsigned i = 0; i < seen.n; i++) {
		slots[i] = seen.slot[i];
		gen[i] = seen.rec[i].gen;
	}
	return seen.n;
}

/* Puts, replacements and deletes are durable after a commit, not before. */
static void test_group_commit(void **state)
{
	struct fixture *f = *state;
	struct sg_store_stats stats;
	struct sg_store_rec rec;
	struct sg_store *st = open_store(f);
	uint32_t slots[16], ids[16];
	pid_t pid;
	int status;

	for (uint32_t slot = 1; slot <= 3; slot++) {
		make_rec(&rec, &shapes[1], slot);
		assert_int_equal(sg_store_put(st, slot, &rec), 0);
	}
	assert_int_equal(sg_store_commit(st), 0);
	/* a group left open: replace 2, delete 3, add 4; then closed without a commit */
	make_rec(&rec, &shapes[1], 200);
	assert_int_equal(sg_store_put(st, 2, &rec), 0);
	assert_int_equal(sg_store_del(st, 3), 0);
	assert_int_equal(sg_store_del(st, 3), -ENOENT);
	assert_int_equal(sg_store_del(st, 99), -ENOENT);
	make_rec(&rec, &shapes[1], 4);
	assert_int_equal(sg_store_put(st, 4, &rec), 0);
	sg_store_stats(st, &stats);
	assert_int_equal(stats.be.pending, 3);
	assert_int_equal(stats.be.records, 3);
	sg_store_close(st);
	assert_int_equal(slots_of(f, slots, ids), 3);
	assert_int_equal(ids[1], rec.gen - 4 + 2); /* slot 2 still the old one */
	assert_int_equal(slots[2], 3);

	/* the same group committed: durable */
	st = open_store(f);
	make_rec(&rec, &shapes[1], 200);
	assert_int_equal(sg_store_put(st, 2, &rec), 0);
	assert_int_equal(sg_store_del(st, 3), 0);
	make_rec(&rec, &shapes[1], 4);
	assert_int_equal(sg_store_put(st, 4, &rec), 0);
	assert_int_equal(sg_store_commit(st), 0);
	assert_int_equal(sg_store_commit(st), 0); /* an empty group: nothing to do */
	sg_store_close(st);
	assert_int_equal(slots_of(f, slots, ids), 3);
	assert_int_equal(slots[0], 1);
	assert_int_equal(slots[1], 2);
	assert_int_equal(ids[1], rec.gen - 4 + 200);
	assert_int_equal(slots[2], 4);

	/* a crash: a child commits one group, opens another and is killed */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		st = open_store(f);
		make_rec(&rec, &shapes[1], 5);
		if (sg_store_put(st, 5, &rec) != 0 || sg_store_commit(st) != 0)
			_exit(1);
		make_rec(&rec, &shapes[1], 6);
		if (sg_store_put(st, 6, &rec) != 0 || sg_store_del(st, 1) != 0)
			_exit(1);
		raise(SIGKILL);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(slots_of(f, slots, ids), 4);
	assert_int_equal(slots[0], 1);
	assert_int_equal(slots[3], 5);
	sg_store_rec_wipe(&rec);
}

/* Sessions past their key-lifetime deadline are skipped and counted. */
static void test_expired(void **state)
{
	struct fixture *f = *state;
	struct sg_store *st = open_store(f);
	struct sg_store_stats stats;
	struct sg_store_rec rec;
	struct seen seen = { 0 };

	make_rec(&rec, &shapes[0], 0);
	rec.expires = 1000;
	assert_int_equal(sg_store_put(st, 1, &rec), 0);
	rec.expires = 3000;
	assert_int_equal(sg_store_put(st, 2, &rec), 0);
	rec.expires = 0; /* no deadline */
	assert_int_equal(sg_store_put(st, 3, &rec), 0);
	assert_int_equal(sg_store_iterate(st, 2000, collect, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.slot[0], 2);
	assert_int_equal(seen.slot[1], 3);
	sg_store_stats(st, &stats);
	assert_int_equal(stats.expired, 1);
	assert_int_equal(stats.restored, 2);
	sg_store_close(st);
	sg_store_rec_wipe(&rec);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* The key file: made 0600 at first use, read back the same, wider modes and bad sizes refused. */
static void test_key_file(void **state)
{
	struct fixture *f = *state;
	struct sg_store_key k1, k2;
	uint8_t bytes[SG_STORE_KEY_LEN + 1];
	char path[400], link[400];
	struct stat st;

	snprintf(path, sizeof(path), "%s/store.key", f->dir);
	assert_int_equal(sg_store_key_file(path, &k1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, SG_STORE_KEY_LEN);
	assert_false(all_zero(k1.key, sizeof(k1.key)));
	assert_int_equal(sg_store_key_file(path, &k2), 0);
	assert_memory_equal(&k1, &k2, sizeof(k1));
	/* a record sealed under the key opens with the key read back */
	k2 = k1;
	assert_int_equal(sg_store_key_set_id(&k2), 0);
	assert_int_equal(k2.id, k1.id);

	static const struct {
		mode_t mode;
		size_t len;
		int want;
	} rows[] = {
		{ 0640, SG_STORE_KEY_LEN, -EPERM },      { 0604, SG_STORE_KEY_LEN, -EPERM },
		{ 0620, SG_STORE_KEY_LEN, -EPERM },      { 0644, SG_STORE_KEY_LEN, -EPERM },
		{ 0400, SG_STORE_KEY_LEN, 0 },           { 0600, SG_STORE_KEY_LEN - 1, -EINVAL },
		{ 0600, SG_STORE_KEY_LEN + 1, -EINVAL }, { 0600, 0, -EINVAL },
	};
	memset(bytes, 0x33, sizeof(bytes));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unlink(path);
		write_file(path, bytes, rows[i].len, rows[i].mode);
		memset(&k2, 0xee, sizeof(k2));
		assert_int_equal(sg_store_key_file(path, &k2), rows[i].want);
		if (rows[i].want != 0)
			assert_true(all_zero(&k2, sizeof(k2)));
		else
			assert_memory_equal(k2.key, bytes, SG_STORE_KEY_LEN);
	}
	/* not a regular file, a symbolic link, no such directory */
	assert_int_equal(sg_store_key_file(f->dir, &k2), -EINVAL);
	snprintf(link, sizeof(link), "%s/link.key", f->dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(sg_store_key_file(link, &k2), -ELOOP);
	snprintf(path, sizeof(path), "%s/nodir/store.key", f->dir);
	assert_int_equal(sg_store_key_file(path, &k2), -ENOENT);
	sg_store_key_wipe(&k1);
	sg_store_key_wipe(&k2);
}

/* The key from a systemd credential ($CREDENTIALS_DIRECTORY/name). */
static void test_key_credential(void **state)
{
	struct fixture *f = *state;
	struct sg_store_key k, want;
	char path[400];

	assert_int_equal(unsetenv("CREDENTIALS_DIRECTORY"), 0);
	assert_int_equal(sg_store_key_credential("stormgate-store", &k), -ENOENT);
	assert_int_equal(setenv("CREDENTIALS_DIRECTORY", f->dir, 1), 0);
	assert_int_equal(sg_store_key_credential("stormgate-store", &k), -ENOENT);
	assert_int_equal(sg_store_key_credential("../store.key", &k), -EINVAL);
	assert_int_equal(sg_store_key_credential("", &k), -EINVAL);
	memset(want.key, 0x77, sizeof(want.key));
	assert_int_equal(sg_store_key_set_id(&want), 0);
	snprintf(path, sizeof(path), "%s/stormgate-store", f->dir);
	write_file(path, want.key, SG_STORE_KEY_LEN - 1, 0400);
	assert_int_equal(sg_store_key_credential("stormgate-store", &k), -EINVAL);
	unlink(path);
	write_file(path, want.key, SG_STORE_KEY_LEN, 0400);
	assert_int_equal(sg_store_key_credential("stormgate-store", &k), 0);
	assert_memory_equal(&k, &want, sizeof(k));
	assert_int_equal(unsetenv("CREDENTIALS_DIRECTORY"), 0);
	sg_store_key_wipe(&k);
	sg_store_key_wipe(&want);
}

/* A group larger than the backend's bound is committed in parts, on its own. */
static void test_group_bound(void **state)
{
	struct fixture *f = *state;
	struct sg_store *st = open_store(f);
	struct sg_store_stats stats;
	struct sg_store_rec rec;
	uint32_t n = 16384 + 10;

	make_rec(&rec, &shapes[0], 0);
	for (uint32_t slot = 0; slot < n; slot++)
		assert_int_equal(sg_store_put(st, slot, &rec), 0);
	sg_store_stats(st, &stats);
	assert_int_equal(stats.be.commits, 1);
	assert_int_equal(stats.be.pending, 10);
	assert_int_equal(stats.be.records, 16384);
	assert_int_equal(sg_store_commit(st), 0);
	sg_store_stats(st, &stats);
	assert_int_equal(stats.be.records, n);
	assert_int_equal(stats.puts, n);
	sg_store_close(st);
	sg_store_rec_wipe(&rec);
}

/* A full store refuses with -ENOSPC and loses only the open group, counted. */
static void test_store_full(void **state)
{
	struct fixture *f = *state;
	struct sg_store_params p = { .path = f->db, .map_size = 256u << 10 };
	struct sg_store *st = sg_store_open(NULL, &p, &f->key);
	struct sg_store_stats stats;
	struct sg_store_rec rec;
	struct seen seen = { 0 };
	uint32_t slot;
	int rc = 0;

	assert_non_null(st);
	make_rec(&rec, &shapes[3], 0);
	for (slot = 0; slot < 3; slot++)
		assert_int_equal(sg_store_put(st, slot, &rec), 0);
	assert_int_equal(sg_store_commit(st), 0);
	for (slot = 3; slot < 100000 && rc == 0; slot++)
		rc = sg_store_put(st, slot, &rec);
	assert_int_equal(rc, -ENOSPC);
	sg_store_stats(st, &stats);
	assert_int_equal(stats.be.dropped, slot - 1 - 3); /* the group before the failed put */
	assert_int_equal(stats.be.pending, 0);
	assert_int_equal(stats.be.records, 3);
	/* the store still works: a small group commits */
	assert_int_equal(sg_store_del(st, 2), 0);
	assert_int_equal(sg_store_commit(st), 0);
	sg_store_close(st);
	st = open_store(f);
	assert_int_equal(sg_store_iterate(st, 0, collect, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_memory_equal(&seen.rec[1], &rec, sizeof(rec));
	sg_store_close(st);
	sg_store_rec_wipe(&rec);
}

/* Raw meta bytes through the backend, as damage or a moved value would leave them. */
static int raw_meta(struct fixture *f, const char *get, const char *put, uint8_t *buf, size_t len)
{
	struct sg_store_params p = { .path = f->db, .map_size = 16u << 20 };
	void *be;
	int rc = 0;

	assert_int_equal(sg_store_lmdb_ops.open(&p, &be), 0);
	if (get != NULL)
		rc = sg_store_lmdb_ops.meta_get(be, get, buf, len);
	if (put != NULL) {
		assert_int_equal(sg_store_lmdb_ops.meta_put(be, put, buf, len), 0);
		assert_int_equal(sg_store_lmdb_ops.commit(be), 0);
	}
	sg_store_lmdb_ops.close(be);
	return rc;
}

/* Meta values round-trip (empty to the largest), in the open group and after a commit only. */
static void test_meta_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct sg_store *st = open_store(f);
	static uint8_t big[SG_STORE_META_MAX + 1], back[SG_STORE_META_MAX + 1];
	const uint8_t cid_key[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	const char *policy = "admission.rate=100\nrate.per_identity=5\n";
	const char name31[] = "abcdefghijklmnopqrstuvwxyz01234";
	struct sg_store_stats stats;
	struct seen seen = { 0 };

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	assert_int_equal(sg_store_meta_put(st, "cid_key", cid_key, sizeof(cid_key)), 0);
	assert_int_equal(sg_store_meta_put(st, "policy", (const uint8_t *)policy, strlen(policy)),
	                 0);
	assert_int_equal(sg_store_meta_put(st, "clean", NULL, 0), 0);
	assert_int_equal(sg_store_meta_put(st, name31, big, SG_STORE_META_MAX), 0);
	/* bad names and sizes */
	assert_int_equal(sg_store_meta_put(st, "", big, 1), -EINVAL);
	assert_int_equal(sg_store_meta_put(st, NULL, big, 1), -EINVAL);
	assert_int_equal(sg_store_meta_put(st, "abcdefghijklmnopqrstuvwxyz012345", big, 1),
	                 -EINVAL);
	assert_int_equal(sg_store_meta_put(st, "x", big, SG_STORE_META_MAX + 1), -EINVAL);
	assert_int_equal(sg_store_meta_get(st, "", back, sizeof(back)), -EINVAL);
	/* the open group reads back its own writes */
	assert_int_equal(sg_store_meta_get(st, "cid_key", back, sizeof(back)), 16);
	assert_memory_equal(back, cid_key, 16);
	sg_store_close(st); /* no commit: gone, as after a crash */
	st = open_store(f);
	assert_int_equal(sg_store_meta_get(st, "cid_key", back, sizeof(back)), -ENOENT);

	assert_int_equal(sg_store_meta_put(st, "cid_key", cid_key, sizeof(cid_key)), 0);
	assert_int_equal(sg_store_meta_put(st, "policy", (const uint8_t *)policy, strlen(policy)),
	                 0);
	assert_int_equal(sg_store_meta_put(st, "clean", NULL, 0), 0);
	assert_int_equal(sg_store_meta_put(st, name31, big, SG_STORE_META_MAX), 0);
	assert_int_equal(sg_store_commit(st), 0);
	sg_store_close(st);
	st = open_store(f);
	assert_int_equal(sg_store_meta_get(st, "cid_key", back, sizeof(back)), 16);
	assert_memory_equal(back, cid_key, 16);
	assert_int_equal(sg_store_meta_get(st, "policy", back, sizeof(back)), (int)strlen(policy));
	assert_memory_equal(back, policy, strlen(policy));
	assert_int_equal(sg_store_meta_get(st, "clean", back, sizeof(back)), 0);
	assert_int_equal(sg_store_meta_get(st, name31, back, sizeof(back)), SG_STORE_META_MAX);
	assert_memory_equal(back, big, SG_STORE_META_MAX);
	/* too small a buffer; a name never written */
	assert_int_equal(sg_store_meta_get(st, "cid_key", back, 15), -ENOBUFS);
	assert_int_equal(sg_store_meta_get(st, "ticket_keys", back, sizeof(back)), -ENOENT);
	/* replace, delete: in the group, durable at the commit */
	assert_int_equal(sg_store_meta_put(st, "cid_key", big, 16), 0);
	assert_int_equal(sg_store_meta_del(st, "clean"), 0);
	assert_int_equal(sg_store_meta_del(st, "clean"), -ENOENT);
	assert_int_equal(sg_store_meta_del(st, "never"), -ENOENT);
	assert_int_equal(sg_store_meta_get(st, "clean", back, sizeof(back)), -ENOENT);
	assert_int_equal(sg_store_commit(st), 0);
	/* meta records are not sessions: not counted, not walked, not refused */
	sg_store_stats(st, &stats);
	assert_int_equal(stats.be.records, 0);
	assert_int_equal(sg_store_iterate(st, 0, collect, &seen), 0);
	assert_int_equal(seen.n, 0);
	sg_store_stats(st, &stats);
	for (unsigned i = 0; i < SG_STORE_BAD_MAX; i++)
		assert_int_equal(stats.refused[i], 0);
	sg_store_close(st);
	st = open_store(f);
	assert_int_equal(sg_store_meta_get(st, "cid_key", back, sizeof(back)), 16);
	assert_memory_equal(back, big, 16);
	assert_int_equal(sg_store_meta_get(st, "clean", back, sizeof(back)), -ENOENT);
	sg_store_close(st);
}

/* A session and a meta record written in one group are durable together, or not at all. */
static void test_meta_same_group(void **state)
{
	struct fixture *f = *state;
	struct sg_store *st;
	struct sg_store_stats stats;
	struct sg_store_rec rec;
	uint8_t back[8];
	pid_t pid;
	int status;

	make_rec(&rec, &shapes[0], 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		st = open_store(f);
		if (sg_store_put(st, 7, &rec) != 0 ||
		    sg_store_meta_put(st, "clean", (const uint8_t *)"1", 1) != 0)
			_exit(1);
		raise(SIGKILL);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	st = open_store(f);
	assert_int_equal(sg_store_meta_get(st, "clean", back, sizeof(back)), -ENOENT);
	sg_store_stats(st, &stats);
	assert_int_equal(stats.be.records, 0);
	assert_int_equal(sg_store_put(st, 7, &rec), 0);
	assert_int_equal(sg_store_meta_put(st, "clean", (const uint8_t *)"1", 1), 0);
	assert_int_equal(sg_store_commit(st), 0);
	sg_store_close(st);
	st = open_store(f);
	assert_int_equal(sg_store_meta_get(st, "clean", back, sizeof(back)), 1);
	sg_store_stats(st, &stats);
	assert_int_equal(stats.be.records, 1);
	sg_store_close(st);
	sg_store_rec_wipe(&rec);
}

/* Damaged meta values, one moved to another name, and another store key: each refused. */
static void test_meta_damage(void **state)
{
	struct fixture *f = *state;
	struct sg_store_key other = f->key;
	struct sg_store_params p = { .path = f->db, .map_size = 16u << 20 };
	struct sg_store *st = open_store(f);
	const uint8_t secret[32] = { 0x11, 0x22, 0x33 };
	uint8_t raw[256], back[64];
	int len;

	assert_int_equal(sg_store_meta_put(st, "ticket_keys", secret, sizeof(secret)), 0);
	assert_int_equal(sg_store_commit(st), 0);
	sg_store_close(st);
	len = raw_meta(f, "ticket_keys", NULL, raw, sizeof(raw));
	assert_int_equal(len, 7 + 12 + 32 + 16);

	static const struct {
		int at;    /* byte flipped; -1: none */
		int delta; /* bytes cut (< 0) or added */
		int want;
	} rows[] = {
		{ 30, 0, -EBADMSG },  { 0, 0, -EPROTONOSUPPORT }, { 2, 0, -EKEYREJECTED },
		{ 6, 0, -ENODATA },   { -1, -1, -ENODATA },       { -1, -60, -ENODATA },
		{ -1, 1, -EMSGSIZE }, { 10, 0, -EBADMSG },        { 60, 0, -EBADMSG },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t bad[256];

		memcpy(bad, raw, (size_t)len);
		bad[len] = 0;
		if (rows[i].at >= 0)
			bad[rows[i].at] ^= 0x04;
		raw_meta(f, NULL, "ticket_keys", bad, (size_t)(len + rows[i].delta));
		st = open_store(f);
		memset(back, 0xee, sizeof(back));
		assert_int_equal(sg_store_meta_get(st, "ticket_keys", back, sizeof(back)),
		                 rows[i].want);
		for (size_t j = 0; j < sizeof(back); j++)
			assert_true(back[j] == 0 || back[j] == 0xee); /* nothing unauthenticated */
		sg_store_close(st);
	}
	/* moved: the bytes of ticket_keys stored as cookie_secrets do not open */
	raw_meta(f, NULL, "ticket_keys", raw, (size_t)len);
	raw_meta(f, NULL, "cookie_secrets", raw, (size_t)len);
	st = open_store(f);
	assert_int_equal(sg_store_meta_get(st, "cookie_secrets", back, sizeof(back)), -EBADMSG);
	assert_int_equal(sg_store_meta_get(st, "ticket_keys", back, sizeof(back)), 32);
	assert_memory_equal(back, secret, 32);
	sg_store_close(st);
	/* another store key */
	other.key[3] ^= 1;
	assert_int_equal(sg_store_key_set_id(&other), 0);
	st = sg_store_open(NULL, &p, &other);
	assert_non_null(st);
	assert_int_equal(sg_store_meta_get(st, "ticket_keys", back, sizeof(back)), -EKEYREJECTED);
	sg_store_close(st);
	sg_store_key_wipe(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rec_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rec_refusals, setup, teardown),
		cmocka_unit_test(test_cred_tag),
		cmocka_unit_test_setup_teardown(test_rec_openssl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rec_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rec_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_same_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_credential, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
