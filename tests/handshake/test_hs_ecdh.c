/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ECDHE of the handshake engine (control/handshake/hs_ecdh.c): the engine's
 * derive path against the Wycheproof X25519 and secp256r1 vectors (valid,
 * acceptable and invalid rows: low-order and non-canonical shares, twist
 * points, all-zero results refused, off-curve points refused), a table of
 * edge shares, keys and secrets against OpenSSL's EVP for a table of random
 * keys, and the reuse window: in hs_ecdh (same pair within the window, a
 * fresh one after, wiped at its end) and through the engine with the
 * scripted client (same server share within a window, a different one after
 * it and always with 0; every handshake completes, data both ways).
 * One thread; vectors from ../shared/testvectors/wycheproof (tc_vectors).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/handshake.h>

#include "hs_client.h"
#include "hs_crypto.h"
#include "hs_ecdh.h"
#include "hs_harness.h"
#include "tc_hex.h"
#include "tc_vectors.h"

static struct sg_hs_crypto crypto;
static struct sg_hs_ecdh ecdh;

static int setup(void **state)
{
	(void)state;
	if (sg_hs_crypto_init(&crypto) < 0)
		return -1;
	return sg_hs_ecdh_init(&ecdh, 0);
}

static int teardown(void **state)
{
	(void)state;
	sg_hs_ecdh_fini(&ecdh);
	sg_hs_crypto_fini(&crypto);
	return 0;
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool has_flag(json_t *t, const char *flag)
{
	size_t i;
	json_t *f;

	json_array_foreach(json_object_get(t, "flags"), i, f)
	{
		if (strcmp(json_string_value(f), flag) == 0)
			return true;
	}
	return false;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= p[i];
	return d == 0;
}

/* ---- Wycheproof ------------------------------------------------------------------ */

/* X25519: RFC 7748 §6.1, a result of zero (a low-order share) is refused; all else computed. */
static bool x25519_refused(json_t *t)
{
	uint8_t shared[32];

	return tc_unhex(str(t, "shared"), shared, sizeof(shared)) == 32 && all_zero(shared, 32);
}

/* Anything but a valid point, compressed ones too: RFC 8422 §5.1.2 uncompressed only. */
static bool p256_refused(json_t *t)
{
	return strcmp(str(t, "result"), "valid") != 0;
}

/* The rows of one Wycheproof flag: how many must be computed and refused. */
struct flag_row {
	const char *flag;
	unsigned computed, refused; /* expected */
	unsigned n_computed, n_refused;
};

struct ecdh_file {
	const char *name;
	enum sg_hs_group group;
	bool (*refused)(json_t *t);
	unsigned min_ok, min_refused;
	struct flag_row *flags; /* NULL-flag terminated */
};

/*
 * Every test of the file through sg_hs_ecdh_derive(): our key from its
 * private scalar, and the derived secret from its public share is the
 * file's, or the share is refused (-EINVAL) with the secret wiped.
 */
static void ecdh_wycheproof(struct ecdh_file *file)
{
	json_t *root = tc_wycheproof_load(file->name), *g, *t;
	size_t gi, ti;
	unsigned ok = 0, refused = 0;

	assert_non_null(root);
	json_array_foreach(json_object_get(root, "testGroups"), gi, g)
	{
		json_array_foreach(json_object_get(g, "tests"), ti, t)
		{
			uint8_t priv[40], pub[80], shared[40], out[32];
			struct sg_hs_ecdh_key k;
			size_t plen = tc_unhex(str(t, "private"), priv, sizeof(priv));
			size_t qlen = tc_unhex(str(t, "public"), pub, sizeof(pub));
			long long id = json_integer_value(json_object_get(t, "tcId"));
			bool refuse = file->refused(t);
			int rc;

			tc_unhex(str(t, "shared"), shared, sizeof(shared));
			assert_int_equal(
			        sg_hs_ecdh_key_from_private(&ecdh, file->group, priv, plen, &k), 0);
			memset(out, 0xa5, sizeof(out));
			rc = sg_hs_ecdh_derive(&ecdh, &k, pub, qlen, out);
			if (refuse) {
				if (rc != -EINVAL)
					fail_msg("tcId %lld (%s): accepted", id, str(t, "result"));
				if (!all_zero(out, sizeof(out)))
					fail_msg("tcId %lld: secret not wiped", id);
				refused++;
			} else {
				if (rc != 0 || memcmp(out, shared, 32) != 0)
					fail_msg("tcId %lld: rc %d or wrong secret", id, rc);
				ok++;
			}
			for (struct flag_row *f = file->flags; f && f->flag; f++) {
				if (has_flag(t, f->flag)) {
					f->n_refused += refuse;
					f->n_computed += !refuse;
				}
			}
			sg_hs_ecdh_clear(&k);
		}
	}
	print_message("# %s: %u computed, %u refused\n", file->name, ok, refused);
	assert_true(ok >= file->min_ok);
	assert_true(refused >= file->min_refused);
	for (struct flag_row *f = file->flags; f && f->flag; f++)
		if (f->n_computed != f->computed || f->n_refused != f->refused)
			fail_msg("%s: %s computed %u refused %u, expected %u and %u", file->name,
			         f->flag, f->n_computed, f->n_refused, f->computed, f->refused);
	json_decref(root);
}

static void test_x25519_wycheproof(void **state)
{
	/*
	 * What each kind of edge case gives. A result of zero is refused (RFC
	 * 7748 §6.1), so every low-order share is; twist points are computed as
	 * RFC 7748 §5 computes them (5 of them are low order); a u of 2^255 - 19
	 * or more is taken mod p (13 computed, 6 low order once reduced); the
	 * private key is clamped.
	 */
	struct flag_row flags[] = {
		{ "ZeroSharedSecret", 0, 31, 0, 0 },
		{ "LowOrderPublic", 0, 31, 0, 0 },
		{ "SmallPublicKey", 0, 8, 0, 0 },
		{ "Twist", 216, 5, 0, 0 },
		{ "NonCanonicalPublic", 13, 6, 0, 0 },
		{ "EdgeCasePrivateKey", 7, 0, 0, 0 },
		{ "Ktv", 3, 0, 0, 0 },
		{ "Normal", 1, 0, 0, 0 },
		{ NULL, 0, 0, 0, 0 },
	};
	struct ecdh_file file = {
		"x25519_test.json", SG_HS_GROUP_X25519, x25519_refused, 487, 31, flags
	};

	(void)state;
	ecdh_wycheproof(&file);
}

static void test_p256_wycheproof(void **state)
{
	/* 330 valid; 24 invalid and 1 acceptable (a compressed point) refused. */
	struct ecdh_file file = {
		"ecdh_secp256r1_ecpoint_test.json", SG_HS_GROUP_P256, p256_refused, 330, 25, NULL
	};

	(void)state;
	ecdh_wycheproof(&file);
}

/* ---- edge shares -------------------------------------------------------------------- */

/* u = v, 32 bytes little-endian. */
static void u_small(uint8_t u[32], uint8_t v)
{
	memset(u, 0, 32);
	u[0] = v;
}

/* u = p + d with p = 2^255 - 19 and -1 <= d <= 18, little-endian. */
static void u_p_plus(uint8_t u[32], int d)
{
	memset(u, 0xff, 32);
	u[31] = 0x7f;
	u[0] = (uint8_t)(0xed + d);
}

static void test_x25519_edge_shares(void **state)
{
	enum kind { SMALL, P_PLUS, NINE_TOP_BIT, SHORT, LONG, EMPTY };
	static const struct {
		const char *what;
		enum kind kind;
		int v;
		int rc;
	} rows[] = {
		{ "u = 0 (RFC 7748 §6.1: zero result)", SMALL, 0, -EINVAL },
		{ "u = 1 (order 4)", SMALL, 1, -EINVAL },
		{ "u = p - 1 (order 2)", P_PLUS, -1, -EINVAL },
		{ "u = p (non-canonical 0)", P_PLUS, 0, -EINVAL },
		{ "u = p + 1 (non-canonical 1)", P_PLUS, 1, -EINVAL },
		{ "u = p + 9 (non-canonical base point)", P_PLUS, 9, 0 },
		{ "u = 9 with bit 255 set (masked)", NINE_TOP_BIT, 9, 0 },
		{ "u = 9", SMALL, 9, 0 },
		{ "31 bytes", SHORT, 9, -EINVAL },
		{ "33 bytes", LONG, 9, -EINVAL },
		{ "0 bytes", EMPTY, 0, -EINVAL },
	};
	uint8_t priv[32], base[32], ref[32];
	struct sg_hs_ecdh_key k;

	(void)state;
	assert_int_equal(RAND_bytes(priv, sizeof(priv)), 1);
	assert_int_equal(sg_hs_ecdh_key_from_private(&ecdh, SG_HS_GROUP_X25519, priv, 32, &k), 0);
	/* priv * 9 is our public share. */
	u_small(base, 9);
	assert_int_equal(sg_hs_ecdh_derive(&ecdh, &k, base, 32, ref), 0);
	assert_memory_equal(ref, k.pub, 32);
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		uint8_t u[33], out[32];
		size_t len = 32;

		switch (rows[i].kind) {
		case SMALL:
			u_small(u, (uint8_t)rows[i].v);
			break;
		case P_PLUS:
			u_p_plus(u, rows[i].v);
			break;
		case NINE_TOP_BIT:
			u_small(u, 9);
			u[31] |= 0x80;
			break;
		case SHORT:
			u_small(u, 9);
			len = 31;
			break;
		case LONG:
			u_small(u, 9);
			u[32] = 0;
			len = 33;
			break;
		case EMPTY:
			len = 0;
			break;
		}
		memset(out, 0xa5, sizeof(out));
		if (sg_hs_ecdh_derive(&ecdh, &k, u, len, out) != rows[i].rc)
			fail_msg("%s: rc", rows[i].what);
		if (rows[i].rc == 0 && memcmp(out, ref, 32) != 0)
			fail_msg("%s: not priv * 9", rows[i].what);
		if (rows[i].rc < 0 && len == 32 && !all_zero(out, 32))
			fail_msg("%s: secret not wiped", rows[i].what);
	}
	/* A cleared key (the slot after its derive) derives nothing. */
	sg_hs_ecdh_clear(&k);
	assert_true(all_zero((const uint8_t *)&k, sizeof(k)));
	assert_int_equal(sg_hs_ecdh_derive(&ecdh, &k, base, 32, ref), -EINVAL);
}

/* ---- against OpenSSL's EVP ------------------------------------------------------ */

static EVP_PKEY *ossl_x25519(const uint8_t priv[32])
{
	return EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv, 32);
}

static int ossl_derive(EVP_PKEY *mine, EVP_PKEY *theirs, uint8_t out[32])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
	size_t len = 32;
	int ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
	         EVP_PKEY_derive_set_peer_ex(ctx, theirs, 0) == 1 &&
	         EVP_PKEY_derive(ctx, out, &len) == 1 && len == 32;

	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

/*
 * A table of random keys (unclamped, as a DRBG gives them): our public
 * share of each private key is OpenSSL's, and a secret between one of our
 * generated pairs and one of OpenSSL's is the same computed on either side.
 */
static void test_x25519_against_openssl(void **state)
{
	enum { N = 48 };

	(void)state;
	for (unsigned i = 0; i < N; i++) {
		uint8_t priv[32], pub[32], ours[32], theirs[32];
		size_t len = 32;
		struct sg_hs_ecdh_key k, mine;
		EVP_PKEY *o, *peer;

		assert_int_equal(RAND_bytes(priv, sizeof(priv)), 1);
		o = ossl_x25519(priv);
		assert_non_null(o);
		assert_int_equal(EVP_PKEY_get_raw_public_key(o, pub, &len), 1);
		assert_int_equal(
		        sg_hs_ecdh_key_from_private(&ecdh, SG_HS_GROUP_X25519, priv, 32, &k), 0);
		assert_int_equal(k.pub_len, 32);
		assert_memory_equal(k.pub, pub, 32);
		/* One of our pairs against OpenSSL's key. */
		assert_int_equal(sg_hs_ecdh_keygen(&ecdh, &crypto, SG_HS_GROUP_X25519, 0, &mine),
		                 0);
		assert_int_equal(mine.pub_len, 32);
		assert_int_equal(sg_hs_ecdh_derive(&ecdh, &mine, pub, 32, ours), 0);
		peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, mine.pub, 32);
		assert_non_null(peer);
		assert_int_equal(ossl_derive(o, peer, theirs), 0);
		assert_memory_equal(ours, theirs, 32);
		EVP_PKEY_free(peer);
		EVP_PKEY_free(o);
		sg_hs_ecdh_clear(&k);
		sg_hs_ecdh_clear(&mine);
	}
}

/* Two generated pairs agree, for both groups; fresh pairs differ. */
static void test_generated_pairs(void **state)
{
	(void)state;
	for (int g = 0; g < SG_HS_GROUP_COUNT; g++) {
		struct sg_hs_ecdh_key a, b;
		uint8_t s1[32], s2[32];

		assert_int_equal(sg_hs_ecdh_keygen(&ecdh, &crypto, (enum sg_hs_group)g, 0, &a), 0);
		assert_int_equal(sg_hs_ecdh_keygen(&ecdh, &crypto, (enum sg_hs_group)g, 0, &b), 0);
		assert_int_equal(a.pub_len, g == SG_HS_GROUP_X25519 ? 32 : 65);
		assert_int_equal(a.group, g);
		assert_memory_not_equal(a.pub, b.pub, a.pub_len);
		assert_int_equal(sg_hs_ecdh_derive(&ecdh, &a, b.pub, b.pub_len, s1), 0);
		assert_int_equal(sg_hs_ecdh_derive(&ecdh, &b, a.pub, a.pub_len, s2), 0);
		assert_memory_equal(s1, s2, 32);
		/* A share of the wrong length is refused before any library sees it. */
		assert_int_equal(sg_hs_ecdh_derive(&ecdh, &a, b.pub, (size_t)b.pub_len - 1, s1),
		                 -EINVAL);
		sg_hs_ecdh_clear(&a);
		sg_hs_ecdh_clear(&b);
	}
}

/* ---- the reuse window, in hs_ecdh ----------------------------------------------- */

static void test_reuse_window(void **state)
{
	/* A pair taken at t1, another at t2 (ms): the same pair or not. */
	static const struct {
		uint32_t reuse_ms;
		uint64_t t1, t2;
		bool same;
	} rows[] = {
		{ 0, 1000, 1000, false },     { 0, 1000, 1001, false },
		{ 100, 1000, 1000, true },    { 100, 1000, 1099, true },
		{ 100, 1000, 1100, false },   { 100, 1000, 5000, false },
		{ 10000, 1000, 10999, true }, { 60000, 0, 59999, true },
	};

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		for (int g = 0; g < SG_HS_GROUP_COUNT; g++) {
			struct sg_hs_ecdh x;
			struct sg_hs_ecdh_key a, b;
			uint8_t s1[32], s2[32];

			assert_int_equal(sg_hs_ecdh_init(&x, rows[i].reuse_ms), 0);
			assert_int_equal(
			        sg_hs_ecdh_keygen(&x, &crypto, (enum sg_hs_group)g, rows[i].t1, &a),
			        0);
			assert_int_equal(
			        sg_hs_ecdh_keygen(&x, &crypto, (enum sg_hs_group)g, rows[i].t2, &b),
			        0);
			if (rows[i].same != (memcmp(a.pub, b.pub, a.pub_len) == 0 &&
			                     memcmp(a.priv, b.priv, 32) == 0))
				fail_msg("row %u group %d: same %d", i, g, rows[i].same);
			/* The old pair still derives after the next one took over. */
			assert_int_equal(sg_hs_ecdh_derive(&x, &a, b.pub, b.pub_len, s1), 0);
			assert_int_equal(sg_hs_ecdh_derive(&x, &b, a.pub, a.pub_len, s2), 0);
			assert_memory_equal(s1, s2, 32);
			sg_hs_ecdh_clear(&a);
			sg_hs_ecdh_clear(&b);
			sg_hs_ecdh_fini(&x);
			assert_true(all_zero((const uint8_t *)&x, sizeof(x)));
		}
	}
}

/* The held pair is wiped at its window's end, on a change of window and on fini. */
static void test_reuse_wipe(void **state)
{
	struct sg_hs_ecdh x;
	struct sg_hs_ecdh_key a, b;

	(void)state;
	assert_int_equal(sg_hs_ecdh_init(&x, SG_HS_ECDH_REUSE_MAX + 1), -EINVAL);
	assert_int_equal(sg_hs_ecdh_init(&x, 100), 0);
	assert_int_equal(sg_hs_ecdh_keygen(&x, &crypto, SG_HS_GROUP_X25519, 1000, &a), 0);
	assert_int_equal(sg_hs_ecdh_keygen(&x, &crypto, SG_HS_GROUP_P256, 1050, &b), 0);
	assert_memory_equal(x.held[SG_HS_GROUP_X25519].priv, a.priv, 32);
	assert_int_equal(x.held_until[SG_HS_GROUP_X25519], 1100);
	assert_int_equal(sg_hs_ecdh_next_expiry(&x), 1100);
	/* Before the end nothing goes; at it, the X25519 pair; then the P-256 one. */
	assert_int_equal(sg_hs_ecdh_expire(&x, 1099), 0);
	assert_int_equal(sg_hs_ecdh_expire(&x, 1100), 1);
	assert_true(all_zero((const uint8_t *)&x.held[SG_HS_GROUP_X25519],
	                     sizeof(x.held[SG_HS_GROUP_X25519])));
	assert_int_equal(x.held_until[SG_HS_GROUP_X25519], 0);
	assert_int_equal(x.held_until[SG_HS_GROUP_P256], 1150);
	assert_int_equal(sg_hs_ecdh_next_expiry(&x), 1150);
	assert_int_equal(sg_hs_ecdh_expire(&x, 2000), 1);
	assert_true(all_zero((const uint8_t *)x.held, sizeof(x.held)));
	assert_int_equal(sg_hs_ecdh_next_expiry(&x), UINT64_MAX);
	/* The slot's copies are its own: still whole. */
	assert_false(all_zero(a.priv, 32));
	assert_false(all_zero(b.priv, 32));
	/* The same window again keeps the held pair; another one wipes it. */
	sg_hs_ecdh_clear(&a);
	assert_int_equal(sg_hs_ecdh_keygen(&x, &crypto, SG_HS_GROUP_X25519, 3000, &a), 0);
	assert_int_equal(sg_hs_ecdh_reuse_set(&x, 100), 0);
	assert_memory_equal(x.held[SG_HS_GROUP_X25519].priv, a.priv, 32);
	assert_int_equal(sg_hs_ecdh_reuse_set(&x, SG_HS_ECDH_REUSE_MAX + 1), -EINVAL);
	assert_int_equal(x.reuse_ms, 100);
	assert_int_equal(sg_hs_ecdh_reuse_set(&x, 200), 0);
	assert_true(all_zero((const uint8_t *)x.held, sizeof(x.held)));
	assert_int_equal(sg_hs_ecdh_keygen(&x, &crypto, SG_HS_GROUP_X25519, 3001, &b), 0);
	assert_memory_not_equal(a.pub, b.pub, 32);
	assert_int_equal(sg_hs_ecdh_reuse_set(&x, 0), 0);
	assert_true(all_zero((const uint8_t *)x.held, sizeof(x.held)));
	assert_int_equal(sg_hs_ecdh_keygen(&x, &crypto, SG_HS_GROUP_X25519, 3002, &b), 0);
	assert_true(all_zero((const uint8_t *)x.held, sizeof(x.held))); /* 0: nothing held */
	sg_hs_ecdh_clear(&a);
	sg_hs_ecdh_clear(&b);
	assert_int_equal(sg_hs_ecdh_reuse_set(&x, 100), 0);
	assert_int_equal(sg_hs_ecdh_keygen(&x, &crypto, SG_HS_GROUP_X25519, 4000, &a), 0);
	sg_hs_ecdh_fini(&x);
	assert_true(all_zero((const uint8_t *)&x, sizeof(x)));
	sg_hs_ecdh_clear(&a);
}

/* ---- the reuse window, through the engine --------------------------------------- */

/* One full ECDHE-PSK handshake of a new scripted client from port pport: our share. */
static void engine_handshake(struct harness *h, uint16_t group, uint16_t pport, uint8_t share[65],
                             uint8_t *share_len)
{
	struct hc c;
	struct hc_opts o = hc_psk_opts(SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256);
	unsigned installed = h->n_installed;

	o.group = group;
	hc_init(&c, &o);
	h->peer.pport = pport;
	assert_int_equal(hc_handshake(&c, h), 0);
	assert_int_equal(h->n_installed, installed + 1);
	assert_int_equal(h->sess.res.group, group);
	hc_data_both_ways(&c, h);
	memcpy(share, c.ske_point, c.ske_point_len);
	*share_len = c.ske_point_len;
	hc_free(&c);
}

static void test_engine_reuse(void **state)
{
	/*
	 * Two handshakes from different ports, advance_ms apart, with the window
	 * set at creation (conf) or at run time (sg_hs_ecdhe_reuse_set()).
	 */
	static const struct {
		uint32_t conf_ms;
		int set_ms; /* -1: not called */
		uint64_t advance_ms;
		bool same;
	} rows[] = {
		{ 0, -1, 0, false },       /* the default: a fresh key per handshake */
		{ 1000, -1, 0, true },     /* within the window */
		{ 1000, -1, 999, true },   /* its last millisecond */
		{ 1000, -1, 1000, false }, /* after it */
		{ 1000, -1, 5000, false }, { 0, 1000, 10, true }, /* turned on while running */
		{ 1000, 0, 0, false },                            /* turned off while running */
	};
	static const uint16_t groups[] = { SG_TLS_GROUP_X25519, SG_TLS_GROUP_SECP256R1 };

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		for (unsigned gi = 0; gi < SG_ARRAY_SIZE(groups); gi++) {
			struct harness h;
			uint8_t s1[65], s2[65], l1, l2;

			h_prepare(&h, SG_HS_COOKIE_ALWAYS);
			h.conf.ecdhe_reuse_ms = rows[i].conf_ms;
			h_start(&h);
			h.capture = true;
			if (rows[i].set_ms >= 0)
				assert_int_equal(
				        sg_hs_ecdhe_reuse_set(h.e, (uint32_t)rows[i].set_ms), 0);
			engine_handshake(&h, groups[gi], 40000, s1, &l1);
			if (rows[i].advance_ms)
				h_advance(&h, rows[i].advance_ms);
			engine_handshake(&h, groups[gi], 40001, s2, &l2);
			assert_int_equal(l1, gi == 0 ? 32 : 65);
			assert_int_equal(l1, l2);
			if (rows[i].same != (memcmp(s1, s2, l1) == 0))
				fail_msg("row %u group %04x: same share %d", i, groups[gi],
				         rows[i].same);
			assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_FULL), 2);
			h_stop(&h);
		}
	}
}

/*
 * Handshakes that took the held pair outlive it: two clients take the same
 * pair, the window ends and the engine's tick wipes the held pair, then both
 * complete with their slots' copies; the next handshake gets a new share.
 */
static void test_engine_reuse_in_flight(void **state)
{
	struct harness h;
	struct hc a, b;
	struct hc_opts o = hc_psk_opts(SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256);
	uint8_t d[2048], s3[65], l3;

	(void)state;
	h_prepare(&h, SG_HS_COOKIE_ALWAYS);
	h.conf.ecdhe_reuse_ms = 500;
	h_start(&h);
	h.capture = true;
	hc_init(&a, &o);
	hc_init(&b, &o);
	h.peer.pport = 40000;
	assert_int_equal(hc_to_flight4(&a, &h), 'H');
	h.peer.pport = 40001;
	assert_int_equal(hc_to_flight4(&b, &h), 'H');
	assert_int_equal(a.ske_point_len, 32);
	assert_memory_equal(a.ske_point, b.ske_point, 32);
	h_advance(&h, 600); /* past the window: the held pair is wiped */
	assert_true(sg_hs_next_deadline(h.e) > h.now.mono_ms);
	h.peer.pport = 40000;
	h_input(&h, d, hc_flight5(&a, d, sizeof(d), false));
	assert_int_equal(hc_drain(&a, &h), 'F');
	hc_data_both_ways(&a, &h);
	h.peer.pport = 40001;
	h_input(&h, d, hc_flight5(&b, d, sizeof(d), false));
	assert_int_equal(hc_drain(&b, &h), 'F');
	hc_data_both_ways(&b, &h);
	assert_int_equal(h.n_installed, 2);
	engine_handshake(&h, SG_TLS_GROUP_X25519, 40002, s3, &l3);
	assert_memory_not_equal(a.ske_point, s3, 32);
	hc_free(&a);
	hc_free(&b);
	h_stop(&h);
}

/* Creation and the run-time setter refuse windows over 60 s; the timer knows the window's end. */
static void test_engine_reuse_limits(void **state)
{
	struct harness h;
	struct sg_hs_config conf;
	uint8_t s[65], l;

	(void)state;
	h_prepare(&h, SG_HS_COOKIE_ALWAYS);
	conf = h.conf;
	conf.ecdhe_reuse_ms = SG_HS_ECDH_REUSE_MAX + 1;
	errno = 0;
	assert_null(sg_hs_engine_create(&conf));
	assert_int_equal(errno, EINVAL);
	h.conf.ecdhe_reuse_ms = 2000;
	h_start(&h);
	h.capture = true;
	assert_int_equal(sg_hs_ecdhe_reuse_set(h.e, SG_HS_ECDH_REUSE_MAX + 1), -EINVAL);
	assert_int_equal(sg_hs_ecdhe_reuse_set(NULL, 10), -EINVAL);
	engine_handshake(&h, SG_TLS_GROUP_X25519, 40000, s, &l);
	/* The held key's end is a deadline: the gateway ticks the engine then and it is wiped. */
	assert_true(sg_hs_next_deadline(h.e) <= h.now.mono_ms + 2000);
	h_stop(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x25519_wycheproof),
		cmocka_unit_test(test_p256_wycheproof),
		cmocka_unit_test(test_x25519_edge_shares),
		cmocka_unit_test(test_x25519_against_openssl),
		cmocka_unit_test(test_generated_pairs),
		cmocka_unit_test(test_reuse_window),
		cmocka_unit_test(test_reuse_wipe),
		cmocka_unit_test(test_engine_reuse),
		cmocka_unit_test(test_engine_reuse_in_flight),
		cmocka_unit_test(test_engine_reuse_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
