/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handshake crypto: HMAC-SHA256 against Wycheproof, the TLS 1.2 PRF against
 * OpenSSL's independent TLS1-PRF KDF over a table of lengths, the DTLS
 * transcript header rule. ECDH is test_hs_ecdh.c.
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
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>

#include "hs_crypto.h"
#include "tc_hex.h"
#include "tc_vectors.h"

static struct sg_hs_crypto crypto;

static int setup(void **state)
{
	(void)state;
	return sg_hs_crypto_init(&crypto);
}

static int teardown(void **state)
{
	(void)state;
	sg_hs_crypto_fini(&crypto);
	return 0;
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- HMAC ------------------------------------------------------------------ */

static void test_hmac_sha256_wycheproof(void **state)
{
	json_t *root = tc_wycheproof_load("hmac_sha256_test.json"), *g, *t;
	size_t gi, ti;
	unsigned n = 0;

	(void)state;
	json_array_foreach(json_object_get(root, "testGroups"), gi, g)
	{
		size_t tag_bytes = (size_t)json_integer_value(json_object_get(g, "tagSize")) / 8;

		json_array_foreach(json_object_get(g, "tests"), ti, t)
		{
			static uint8_t key[4096], msg[4096];
			uint8_t tag[64], out[32];
			struct sg_hs_hmac_key k;
			size_t klen = tc_unhex(str(t, "key"), key, sizeof(key));
			size_t mlen = tc_unhex(str(t, "msg"), msg, sizeof(msg));
			size_t tlen = tc_unhex(str(t, "tag"), tag, sizeof(tag));
			bool valid = strcmp(str(t, "result"), "valid") == 0;
			bool match;

			assert_int_equal(sg_hs_hmac_key_set(&crypto, SG_HS_SHA256, key, klen, &k),
			                 0);
			if (mlen == 0) {
				/* Refused by contract (IPsec-MB); the PRF never hashes nothing. */
				assert_int_equal(sg_hs_hmac(&crypto, &k, msg, 0, out), -EINVAL);
				n++;
				continue;
			}
			assert_int_equal(sg_hs_hmac(&crypto, &k, msg, mlen, out), 0);
			match = tlen == tag_bytes && memcmp(out, tag, tlen) == 0;
			if (match != valid)
				fail_msg("tcId %lld: match %d, result %s",
				         json_integer_value(json_object_get(t, "tcId")), match,
				         str(t, "result"));
			n++;
		}
	}
	assert_true(n >= 170);
	json_decref(root);
}

/* ---- PRF ---------------------------------------------------------------------- */

/* The same PRF from OpenSSL's TLS1-PRF KDF: an independent implementation. */
static void openssl_prf(const char *md, const uint8_t *secret, size_t slen, const char *label,
                        const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
	EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
	uint8_t full_seed[256];
	size_t ll = strlen(label);
	OSSL_PARAM p[4];

	memcpy(full_seed, label, ll);
	memcpy(full_seed + ll, seed, seed_len);
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, slen);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, full_seed, ll + seed_len);
	p[3] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_KDF_derive(ctx, out, out_len, p), 1);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
}

struct prf_case {
	enum sg_hs_hash hash;
	size_t secret_len; /* around the 64/128-byte HMAC block: hashed-key path */
	const char *label;
	size_t len_a, len_b;
	size_t out_len;
};

static const struct prf_case prf_cases[] = {
	{ SG_HS_SHA256, 48, SG_TLS_LABEL_CLIENT_FINISHED, 32, 0, 12 },
	{ SG_HS_SHA256, 48, SG_TLS_LABEL_KEY_EXPANSION, 32, 32, 40 },
	{ SG_HS_SHA256, 48, SG_TLS_LABEL_KEY_EXPANSION, 32, 32, 88 },
	{ SG_HS_SHA256, 36, SG_TLS_LABEL_MASTER_SECRET, 32, 32, 48 },
	{ SG_HS_SHA256, 64, SG_TLS_LABEL_EXTENDED_MASTER_SECRET, 32, 0, 48 },
	{ SG_HS_SHA256, 65, SG_TLS_LABEL_EXTENDED_MASTER_SECRET, 32, 0, 48 },
	{ SG_HS_SHA256, 132, SG_TLS_LABEL_MASTER_SECRET, 32, 32, 48 },
	{ SG_HS_SHA256, 0, "x", 0, 0, 128 },
	{ SG_HS_SHA384, 48, SG_TLS_LABEL_SERVER_FINISHED, 48, 0, 12 },
	{ SG_HS_SHA384, 48, SG_TLS_LABEL_KEY_EXPANSION, 32, 32, 72 },
	{ SG_HS_SHA384, 128, SG_TLS_LABEL_EXTENDED_MASTER_SECRET, 48, 0, 48 },
	{ SG_HS_SHA384, 129, SG_TLS_LABEL_MASTER_SECRET, 32, 32, 48 },
};

static void test_prf_against_openssl(void **state)
{
	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(prf_cases); i++) {
		const struct prf_case *c = &prf_cases[i];
		uint8_t secret[160], seed[96], ours[128], theirs[128];
		struct sg_hs_hmac_key k;

		for (size_t j = 0; j < sizeof(secret); j++)
			secret[j] = (uint8_t)(j * 13 + i);
		for (size_t j = 0; j < sizeof(seed); j++)
			seed[j] = (uint8_t)(j * 7 + 100 + i);
		assert_int_equal(sg_hs_prf(&crypto, c->hash, NULL, secret, c->secret_len, c->label,
		                           seed, c->len_a, seed + c->len_a, c->len_b, ours,
		                           c->out_len),
		                 0);
		openssl_prf(c->hash == SG_HS_SHA384 ? "SHA384" : "SHA256", secret, c->secret_len,
		            c->label, seed, c->len_a + c->len_b, theirs, c->out_len);
		if (memcmp(ours, theirs, c->out_len) != 0)
			fail_msg("PRF case %u differs from OpenSSL", i);
		/* A prepared key gives the same output. */
		assert_int_equal(sg_hs_hmac_key_set(&crypto, c->hash, secret, c->secret_len, &k),
		                 0);
		memset(ours, 0, sizeof(ours));
		assert_int_equal(sg_hs_prf(&crypto, c->hash, &k, NULL, 0, c->label, seed, c->len_a,
		                           seed + c->len_a, c->len_b, ours, c->out_len),
		                 0);
		assert_memory_equal(ours, theirs, c->out_len);
	}
}

static void test_prf_limits(void **state)
{
	uint8_t secret[16] = { 0 }, seed[200] = { 0 }, out[200];

	(void)state;
	assert_int_equal(sg_hs_prf(&crypto, SG_HS_SHA256, NULL, secret, 16, "label", seed, 124,
	                           NULL, 0, out, 12),
	                 -EINVAL);
	assert_int_equal(sg_hs_prf(&crypto, SG_HS_SHA256, NULL, secret, 16, "label", seed, 123,
	                           NULL, 0, out, 12),
	                 0);
	assert_int_equal(
	        sg_hs_prf(&crypto, SG_HS_SHA256, NULL, secret, 16, "l", seed, 1, NULL, 0, out, 129),
	        -EINVAL);
}

/* ---- transcript ------------------------------------------------------------------ */

static void test_transcript(void **state)
{
	static const uint8_t body[] = { 1, 2, 3, 4, 5 };
	static const uint8_t expect_input[] = {
		/* RFC 6347 §4.2.6: header as if unfragmented, then the body */
		16, 0, 0,  5, 0, 3, 0, 0, 0, 0, 0, 5, 1, 2, 3,
		4,  5, 20, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0,
	};
	uint8_t ours[48], ref[48], big[300];
	struct sg_hs_transcript t;
	unsigned n;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31);
	for (int h = 0; h < SG_HS_HASH_COUNT; h++) {
		const EVP_MD *md = h == SG_HS_SHA384 ? EVP_sha384() : EVP_sha256();
		EVP_MD_CTX *ref_ctx = EVP_MD_CTX_new();

		sg_hs_transcript_start(&t, (enum sg_hs_hash)h);
		sg_hs_transcript_add_msg(&t, 16, 3, body, sizeof(body));
		sg_hs_transcript_peek(&t, ours);
		assert_int_equal(EVP_Digest(expect_input, 17, ref, &n, md, NULL), 1);
		assert_int_equal(n, sg_hs_hash_len((enum sg_hs_hash)h));
		assert_memory_equal(ours, ref, n);
		/* The transcript goes on after a peek. */
		sg_hs_transcript_add_msg(&t, 20, 4, NULL, 0);
		sg_hs_transcript_peek(&t, ours);
		assert_int_equal(EVP_Digest(expect_input, sizeof(expect_input), ref, &n, md, NULL),
		                 1);
		assert_memory_equal(ours, ref, n);
		/* Pieces of every size across block boundaries, against EVP. */
		sg_hs_transcript_start(&t, (enum sg_hs_hash)h);
		assert_int_equal(EVP_DigestInit_ex(ref_ctx, md, NULL), 1);
		for (size_t off = 0, step = 1; off < sizeof(big);
		     off += step, step = step * 2 + 1) {
			size_t len = off + step > sizeof(big) ? sizeof(big) - off : step;

			sg_hs_transcript_add(&t, big + off, len);
			assert_int_equal(EVP_DigestUpdate(ref_ctx, big + off, len), 1);
		}
		sg_hs_transcript_peek(&t, ours);
		assert_int_equal(EVP_DigestFinal_ex(ref_ctx, ref, &n), 1);
		assert_memory_equal(ours, ref, n);
		EVP_MD_CTX_free(ref_ctx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmac_sha256_wycheproof),
		cmocka_unit_test(test_prf_against_openssl),
		cmocka_unit_test(test_prf_limits),
		cmocka_unit_test(test_transcript),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
