/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wycheproof vectors through the primitives the CBC-SHA256 records are
 * made of:
 *  - aes_cbc_pkcs5_test.json, AES-128 groups: sg_cbc_crypt() (the record
 *    layer's IPsec-MB key expansion and CBC job) encrypts msg ‖ PKCS#5
 *    padding to ct and decrypts ct back; invalid vectors (bad padding)
 *    decrypt to a padding the PKCS#5 check below refuses (the padding check
 *    is the test's: TLS padding is not PKCS#5's);
 *  - hmac_sha256_test.json: HMAC states from sg_cbc_hmac_key() through an
 *    IPsec-MB HMAC-SHA256 job (what the chained record jobs run), and
 *    through sg_cbc_hmac_ct(), the constant-time MAC of MAC-then-encrypt
 *    opens, with the message split into a prefix and data as a record's
 *    pseudo-header and content are, for several public length ranges;
 *  - hmac_sha384_test.json: the IPsec-MB HMAC-SHA384 job of the shared
 *    sg_imb_hmac_job() (the handshake PRF of the SHA-384 suites), states
 *    from OpenSSL's SHA-384 compression as control/handshake makes them.
 * Valid vectors must match (tags truncated to tagSize), invalid ones not.
 */
/* SHA384_Init: the one-block state the IPsec-MB job wants, as hs_crypto.c makes it. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* Before IPsec-MB's header, which defines SHA1 and friends as its own names. */
#include <openssl/sha.h>

#include <intel-ipsec-mb.h>

#include <stormgate/imb_job.h>
#include <stormgate/record.h>

#include "tc_hex.h"
#include "tc_vectors.h"

/* Field name of test t, unhexed (freed by the caller). */
static uint8_t *field(json_t *t, const char *name, size_t *len)
{
	const char *hex = json_string_value(json_object_get(t, name));

	assert_non_null(hex);
	return tc_unhex_alloc(hex, len);
}

static int result_valid(json_t *t)
{
	const char *r = json_string_value(json_object_get(t, "result"));

	assert_non_null(r);
	assert_true(!strcmp(r, "valid") || !strcmp(r, "invalid"));
	return !strcmp(r, "valid");
}

/* PKCS#5: k bytes of value k, 1 <= k <= 16. The plaintext length, or -1. */
static long pkcs5_unpad(const uint8_t *p, size_t len)
{
	unsigned k;

	if (len == 0 || len % 16)
		return -1;
	k = p[len - 1];
	if (k == 0 || k > 16)
		return -1;
	for (unsigned i = 1; i <= k; i++)
		if (p[len - i] != k)
			return -1;
	return (long)(len - k);
}

static void test_aes_cbc_pkcs5(void **state)
{
	json_t *root = tc_wycheproof_load("aes_cbc_pkcs5_test.json"), *g;
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);
	size_t gi, n_valid = 0, n_invalid = 0;

	(void)state;
	assert_non_null(ctx);
	json_array_foreach(json_object_get(root, "testGroups"), gi, g)
	{
		json_t *t;
		size_t ti;

		if (json_integer_value(json_object_get(g, "keySize")) != 128)
			continue; /* AES-128 is the suites' cipher */
		json_array_foreach(json_object_get(g, "tests"), ti, t)
		{
			size_t kl, ivl, ml, cl;
			uint8_t *key = field(t, "key", &kl), *iv = field(t, "iv", &ivl);
			uint8_t *msg = field(t, "msg", &ml), *ct = field(t, "ct", &cl);
			uint8_t *buf = malloc(ml + 16 + cl + 1);
			int valid = result_valid(t);
			long got;

			assert_non_null(buf);
			assert_int_equal(kl, 16);
			assert_int_equal(ivl, 16);
			if (valid) {
				size_t padded = ml / 16 * 16 + 16;

				memcpy(buf, msg, ml);
				memset(buf + ml, (int)(padded - ml), padded - ml);
				assert_int_equal(padded, cl);
				assert_int_equal(sg_cbc_crypt(ctx, SG_AEAD_DIR_SEAL, key, iv, buf,
				                              buf, padded),
				                 0);
				assert_memory_equal(buf, ct, cl);
				n_valid++;
			} else {
				n_invalid++;
			}
			/* Decrypt, in place: the message back, or a padding PKCS#5 refuses. */
			memcpy(buf, ct, cl);
			if (cl % 16 || cl == 0) {
				assert_false(valid);
				assert_int_equal(
				        sg_cbc_crypt(ctx, SG_AEAD_DIR_OPEN, key, iv, buf, buf, cl),
				        cl == 0 ? 0 : -EINVAL);
				got = -1;
			} else {
				assert_int_equal(
				        sg_cbc_crypt(ctx, SG_AEAD_DIR_OPEN, key, iv, buf, buf, cl),
				        0);
				got = pkcs5_unpad(buf, cl);
			}
			if (valid) {
				assert_int_equal(got, (long)ml);
				assert_memory_equal(buf, msg, ml);
			} else {
				assert_int_equal(got, -1);
			}
			free(key);
			free(iv);
			free(msg);
			free(ct);
			free(buf);
		}
	}
	print_message("# aes_cbc_pkcs5 AES-128: %zu valid, %zu invalid\n", n_valid, n_invalid);
	assert_true(n_valid >= 20 && n_invalid >= 40); /* 24 and 48 in the file used */
	/* Bad arguments. */
	{
		uint8_t k[16] = { 0 }, b[32] = { 0 };

		assert_int_equal(sg_cbc_crypt(ctx, SG_AEAD_DIR_SEAL, k, k, b, b, 17), -EINVAL);
		assert_int_equal(sg_cbc_crypt(ctx, 7, k, k, b, b, 16), -EINVAL);
		assert_int_equal(sg_cbc_crypt(NULL, SG_AEAD_DIR_SEAL, k, k, b, b, 16), -EINVAL);
	}
	sg_rec_ctx_free(ctx);
	json_decref(root);
}

/* An IPsec-MB manager of this CPU's best architecture, as the record layer makes one. */
static IMB_MGR *mgr_new(void)
{
	IMB_MGR *m = alloc_mb_mgr(0);

	assert_non_null(m);
	init_mb_mgr_auto(m, NULL);
	assert_int_equal(imb_get_errno(m), 0);
	return m;
}

/* HMAC of msg through the IPsec-MB job with the states pads: the full tag (tag_len bytes). */
static void imb_hmac(IMB_MGR *m, IMB_HASH_ALG alg, const uint8_t *pads, unsigned half,
                     const uint8_t *msg, size_t len, uint8_t *tag, unsigned tag_len)
{
	sg_imb_hmac_job(m, alg, pads, pads + half, msg, len, tag, tag_len);
	assert_int_equal(sg_imb_job_done(m, IMB_SUBMIT_JOB(m)), 0);
}

static void test_hmac_sha256(void **state)
{
	json_t *root = tc_wycheproof_load("hmac_sha256_test.json"), *g;
	IMB_MGR *m = mgr_new();
	size_t gi, n = 0, n_ct = 0;

	(void)state;
	json_array_foreach(json_object_get(root, "testGroups"), gi, g)
	{
		size_t tag_bytes = (size_t)json_integer_value(json_object_get(g, "tagSize")) / 8;
		json_t *t;
		size_t ti;

		json_array_foreach(json_object_get(g, "tests"), ti, t)
		{
			size_t kl, ml, tl;
			uint8_t *key = field(t, "key", &kl), *msg = field(t, "msg", &ml);
			uint8_t *tag = field(t, "tag", &tl);
			uint8_t pads[64], mac[32], *data;
			int valid = result_valid(t);
			size_t pre = ml < 13 ? ml : 13, dl = ml - pre;

			assert_int_equal(tl, tag_bytes);
			sg_cbc_hmac_key(key, kl, pads);
			/* IPsec-MB refuses an empty message; the records never hash one. */
			if (ml) {
				imb_hmac(m, IMB_AUTH_HMAC_SHA_256, pads, 32, msg, ml, mac, 32);
				assert_int_equal(memcmp(mac, tag, tl) == 0, valid);
			}
			/*
			 * Constant time: prefix (the pseudo-header's place) and data of
			 * secret length dl, readable up to dl + 70 (junk after), with the
			 * public range [min, dl + 70] for several min.
			 */
			data = malloc(dl + 70);
			assert_non_null(data);
			memcpy(data, msg + pre, dl);
			memset(data + dl, 0xee, 70);
			for (size_t min = 0; min <= dl; min += dl / 3 + 1) {
				assert_int_equal(sg_cbc_hmac_ct(pads, msg, (unsigned)pre, data,
				                                (uint32_t)dl + 70, (uint32_t)dl,
				                                (uint32_t)min, mac),
				                 0);
				assert_int_equal(memcmp(mac, tag, tl) == 0, valid);
				n_ct++;
			}
			/* The exact length as the only one: nothing variable. */
			assert_int_equal(sg_cbc_hmac_ct(pads, msg, (unsigned)pre, data,
			                                (uint32_t)dl, (uint32_t)dl, (uint32_t)dl,
			                                mac),
			                 0);
			assert_int_equal(memcmp(mac, tag, tl) == 0, valid);
			n++;
			free(data);
			free(key);
			free(msg);
			free(tag);
		}
	}
	print_message("# hmac_sha256: %zu vectors, %zu constant-time runs\n", n, n_ct);
	assert_true(n >= 170);
	free_mb_mgr(m);
	json_decref(root);
}

/* SHA-384 state after one 128-byte block, as control/handshake/hs_crypto.c takes it. */
static void sha384_one(const uint8_t block[128], uint8_t state[64])
{
	SHA512_CTX x;

	SHA384_Init(&x);
	SHA384_Update(&x, block, 128);
	memcpy(state, x.h, 64);
}

static void test_hmac_sha384(void **state)
{
	json_t *root = tc_wycheproof_load("hmac_sha384_test.json"), *g;
	IMB_MGR *m = mgr_new();
	size_t gi, n = 0;

	(void)state;
	json_array_foreach(json_object_get(root, "testGroups"), gi, g)
	{
		size_t tag_bytes = (size_t)json_integer_value(json_object_get(g, "tagSize")) / 8;
		json_t *t;
		size_t ti;

		json_array_foreach(json_object_get(g, "tests"), ti, t)
		{
			size_t kl, ml, tl;
			uint8_t *key = field(t, "key", &kl), *msg = field(t, "msg", &ml);
			uint8_t *tag = field(t, "tag", &tl);
			uint8_t pads[128], mac[48], k[128] = { 0 }, block[128];
			int valid = result_valid(t);

			assert_int_equal(tl, tag_bytes);
			assert_true(kl <= 128); /* Wycheproof's longest is 65 bytes */
			memcpy(k, key, kl);
			for (int i = 0; i < 128; i++)
				block[i] = k[i] ^ 0x36;
			sha384_one(block, pads);
			for (int i = 0; i < 128; i++)
				block[i] = k[i] ^ 0x5c;
			sha384_one(block, pads + 64);
			if (ml) {
				imb_hmac(m, IMB_AUTH_HMAC_SHA_384, pads, 64, msg, ml, mac, 48);
				assert_int_equal(memcmp(mac, tag, tl) == 0, valid);
				n++;
			}
			free(key);
			free(msg);
			free(tag);
		}
	}
	print_message("# hmac_sha384: %zu vectors with a message\n", n);
	assert_true(n >= 100); /* 114: the others have empty messages */
	free_mb_mgr(m);
	json_decref(root);
}

/* sg_cbc_hmac_ct() refuses what it cannot do in constant time. */
static void test_hmac_ct_args(void **state)
{
	uint8_t pads[64] = { 0 }, mac[32], d[100] = { 0 };
	static const struct {
		unsigned prefix_len;
		uint32_t data_max, len, min_len;
		int null_data;
		int expect;
	} rows[] = {
		{ 13, 100, 50, 0, 0, 0 },         { 64, 100, 50, 0, 0, 0 },
		{ 65, 100, 50, 0, 0, -EINVAL },                          /* prefix over a block */
		{ 13, 100, 50, 101, 0, -EINVAL },                        /* min over max */
		{ 13, 100, 50, 0, 1, -EINVAL },   { 13, 0, 0, 0, 1, 0 }, /* nothing to read */
	};

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++)
		assert_int_equal(sg_cbc_hmac_ct(pads, d, rows[i].prefix_len,
		                                rows[i].null_data ? NULL : d, rows[i].data_max,
		                                rows[i].len, rows[i].min_len, mac),
		                 rows[i].expect);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aes_cbc_pkcs5),
		cmocka_unit_test(test_hmac_sha256),
		cmocka_unit_test(test_hmac_sha384),
		cmocka_unit_test(test_hmac_ct_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
