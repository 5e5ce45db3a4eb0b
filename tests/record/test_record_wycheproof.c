/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every Wycheproof AES-CCM, AES-GCM and ChaCha20-Poly1305 vector a record
 * suite can express (AES-128 CCM with 8- or 16-byte tags, AES-128/256 GCM
 * and ChaCha20-Poly1305, all with 12-byte nonces) goes through the burst
 * API: sg_aead_burst(), the record bursts' crypto stage, with the vectors of
 * all three files shuffled into mixed bursts of up to SG_BURST_MAX. Valid
 * vectors must open to their message and seal to their ciphertext and tag;
 * invalid ones must fail authentication and leave no plaintext.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/record.h>

#include "tc_hex.h"
#include "tc_vectors.h"

struct vec {
	enum sg_aead aead;
	int tc_id;
	const char *file;
	int valid; /* 1 valid, 0 invalid, -1 acceptable */
	uint8_t *key, *iv, *aad, *msg, *ct, *tag;
	size_t aad_len, msg_len;
};

static struct vec *vecs;
static size_t n_vecs;
static size_t per_aead[SG_AEAD_MAX];
static size_t n_ccm_long_aad;

/* The suite AEAD that expresses a Wycheproof group, or -1. */
static int group_aead(const char *file, long key_bits, long iv_bits, long tag_bits)
{
	if (iv_bits != 96)
		return -1;
	if (strstr(file, "ccm") && key_bits == 128 && tag_bits == 64)
		return SG_AEAD_AES_128_CCM_8;
	if (strstr(file, "ccm") && key_bits == 128 && tag_bits == 128)
		return SG_AEAD_AES_128_CCM;
	if (strstr(file, "gcm") && key_bits == 128 && tag_bits == 128)
		return SG_AEAD_AES_128_GCM;
	if (strstr(file, "gcm") && key_bits == 256 && tag_bits == 128)
		return SG_AEAD_AES_256_GCM;
	if (strstr(file, "chacha") && key_bits == 256 && tag_bits == 128)
		return SG_AEAD_CHACHA20_POLY1305;
	return -1;
}

static size_t load_file(const char *file)
{
	json_t *root = tc_wycheproof_load(file), *groups, *g;
	size_t gi, loaded = 0;

	groups = json_object_get(root, "testGroups");
	assert_true(json_is_array(groups));
	json_array_foreach(groups, gi, g)
	{
		long kb = (long)json_integer_value(json_object_get(g, "keySize"));
		long ib = (long)json_integer_value(json_object_get(g, "ivSize"));
		long tb = (long)json_integer_value(json_object_get(g, "tagSize"));
		int aead = group_aead(file, kb, ib, tb);
		json_t *tests = json_object_get(g, "tests"), *t;
		size_t ti;

		if (aead < 0)
			continue;
		json_array_foreach(tests, ti, t)
		{
			struct vec *v;
			const char *result = json_string_value(json_object_get(t, "result"));
			size_t klen, ivlen, ctlen, taglen;

			vecs = realloc(vecs, (n_vecs + 1) * sizeof(*vecs));
			assert_non_null(vecs);
			v = &vecs[n_vecs++];
			memset(v, 0, sizeof(*v));
			v->aead = (enum sg_aead)aead;
			v->file = file;
			v->tc_id = (int)json_integer_value(json_object_get(t, "tcId"));
			v->valid = !strcmp(result, "valid")     ? 1
			           : !strcmp(result, "invalid") ? 0
			                                        : -1;
			v->key =
			        tc_unhex_alloc(json_string_value(json_object_get(t, "key")), &klen);
			v->iv = tc_unhex_alloc(json_string_value(json_object_get(t, "iv")), &ivlen);
			v->aad = tc_unhex_alloc(json_string_value(json_object_get(t, "aad")),
			                        &v->aad_len);
			v->msg = tc_unhex_alloc(json_string_value(json_object_get(t, "msg")),
			                        &v->msg_len);
			v->ct = tc_unhex_alloc(json_string_value(json_object_get(t, "ct")), &ctlen);
			v->tag = tc_unhex_alloc(json_string_value(json_object_get(t, "tag")),
			                        &taglen);
			assert_int_equal(klen, sg_aead_key_len(v->aead));
			assert_int_equal(ivlen, 12);
			assert_int_equal(taglen, sg_aead_tag_len(v->aead));
			assert_int_equal(ctlen, v->msg_len);
			per_aead[aead]++;
			if ((aead == SG_AEAD_AES_128_CCM_8 || aead == SG_AEAD_AES_128_CCM) &&
			    v->aad_len > 46)
				n_ccm_long_aad++;
			loaded++;
		}
	}
	json_decref(root);
	return loaded;
}

static int setup(void **state)
{
	(void)state;
	load_file("aes_ccm_test.json");
	load_file("aes_gcm_test.json");
	load_file("chacha20_poly1305_test.json");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_vecs; i++) {
		free(vecs[i].key);
		free(vecs[i].iv);
		free(vecs[i].aad);
		free(vecs[i].msg);
		free(vecs[i].ct);
		free(vecs[i].tag);
	}
	free(vecs);
	return 0;
}

static void test_inventory(void **state)
{
	(void)state;
	/* What the suites can express in this Wycheproof release (SOURCE-COMMIT). */
	assert_int_equal(per_aead[SG_AEAD_AES_128_CCM_8], 8);
	assert_int_equal(per_aead[SG_AEAD_AES_128_CCM], 78);
	assert_int_equal(per_aead[SG_AEAD_AES_128_GCM], 67);
	assert_int_equal(per_aead[SG_AEAD_AES_256_GCM], 66);
	assert_int_equal(per_aead[SG_AEAD_CHACHA20_POLY1305], 316);
	assert_int_equal(n_vecs, 8 + 78 + 67 + 66 + 316);
	/* some CCM vectors exceed IPsec-MB's 46-byte CCM AAD: the composed path */
	assert_true(n_ccm_long_aad > 0);
}

/* Shuffled order so that every burst mixes files, suites, and valid/invalid. */
static size_t *shuffled(void)
{
	size_t *order = malloc(n_vecs * sizeof(*order));
	uint64_t x = 42;

	assert_non_null(order);
	for (size_t i = 0; i < n_vecs; i++)
		order[i] = i;
	for (size_t i = n_vecs - 1; i > 0; i--) {
		size_t j, t;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		j = (size_t)(x >> 33) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	return order;
}

/*
 * Slot n of a burst: vector v in direction dir (SG_AEAD_DIR_*) from in (the
 * ciphertext to open, the message to seal) into a new *out, with tag (the
 * vector's to open, room for it to seal). Odd slots work in place (over a
 * copy of in), even ones out of place.
 */
static void vec_op(struct sg_aead_op *op, const struct vec *v, uint8_t dir, const uint8_t *in,
                   uint8_t *tag, unsigned n, uint8_t **out)
{
	*out = malloc(v->msg_len + 1);
	assert_non_null(*out);
	memset(op, 0, sizeof(*op));
	op->aead = (uint8_t)v->aead;
	op->dir = dir;
	op->key = v->key;
	op->nonce = v->iv;
	op->aad = v->aad;
	op->aad_len = (uint32_t)v->aad_len;
	if (n & 1) {
		memcpy(*out, in, v->msg_len);
		op->in = *out;
	} else {
		op->in = in;
	}
	op->out = *out;
	op->len = (uint32_t)v->msg_len;
	op->tag = tag;
}

static void test_open(void **state)
{
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);
	struct sg_aead_op ops[SG_BURST_MAX];
	uint8_t *outs[SG_BURST_MAX];
	size_t idx[SG_BURST_MAX], *order = shuffled();
	size_t checked = 0, invalid = 0;

	(void)state;
	assert_non_null(ctx);
	for (size_t done = 0; done < n_vecs;) {
		unsigned n = 0, want_ok = 0;

		while (n < SG_BURST_MAX && done < n_vecs) {
			struct vec *v = &vecs[order[done++]];

			vec_op(&ops[n], v, SG_AEAD_DIR_OPEN, v->ct, v->tag, n, &outs[n]);
			idx[n] = (size_t)(v - vecs);
			want_ok += v->valid == 1;
			n++;
		}
		unsigned got_ok = sg_aead_burst(ctx, ops, n);

		for (unsigned i = 0; i < n; i++) {
			const struct vec *v = &vecs[idx[i]];

			if (v->valid == 1 && ops[i].status != SG_REC_OK)
				fail_msg("%s tcId %d (valid): %s", v->file, v->tc_id,
				         sg_rec_status_name(ops[i].status));
			if (v->valid == 0 && ops[i].status != SG_REC_AUTH_FAILED)
				fail_msg("%s tcId %d (invalid): %s", v->file, v->tc_id,
				         sg_rec_status_name(ops[i].status));
			if (ops[i].status == SG_REC_OK) {
				if (v->msg_len)
					assert_memory_equal(outs[i], v->msg, v->msg_len);
			} else {
				for (size_t b = 0; b < v->msg_len; b++)
					assert_int_equal(outs[i][b], 0);
				invalid++;
			}
			checked++;
			free(outs[i]);
		}
		if (got_ok != want_ok)
			fail_msg("burst returned %u, want %u", got_ok, want_ok);
	}
	assert_int_equal(checked, n_vecs);
	assert_true(invalid > 100);
	free(order);
	sg_rec_ctx_free(ctx);
}

static void test_seal(void **state)
{
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);
	struct sg_aead_op ops[SG_BURST_MAX];
	uint8_t *outs[SG_BURST_MAX], tags[SG_BURST_MAX][16];
	size_t idx[SG_BURST_MAX], *order = shuffled();
	size_t sealed = 0;

	(void)state;
	assert_non_null(ctx);
	for (size_t done = 0; done < n_vecs;) {
		unsigned n = 0;

		while (n < SG_BURST_MAX && done < n_vecs) {
			struct vec *v = &vecs[order[done++]];

			if (v->valid != 1)
				continue; /* an invalid vector's ciphertext and tag do not match */
			vec_op(&ops[n], v, SG_AEAD_DIR_SEAL, v->msg, tags[n], n, &outs[n]);
			idx[n] = (size_t)(v - vecs);
			n++;
		}
		assert_int_equal(sg_aead_burst(ctx, ops, n), n);
		for (unsigned i = 0; i < n; i++) {
			const struct vec *v = &vecs[idx[i]];

			if (v->msg_len && memcmp(outs[i], v->ct, v->msg_len))
				fail_msg("%s tcId %d: ciphertext differs", v->file, v->tc_id);
			if (memcmp(tags[i], v->tag, sg_aead_tag_len(v->aead)))
				fail_msg("%s tcId %d: tag differs", v->file, v->tc_id);
			sealed++;
			free(outs[i]);
		}
	}
	assert_true(sealed > 300);
	free(order);
	sg_rec_ctx_free(ctx);
}

/* Operations the AEAD burst must refuse without touching anything. */
static void test_invalid_ops(void **state)
{
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);
	uint8_t key[32] = { 0 }, nonce[12] = { 0 }, buf[64] = { 0 }, tag[16] = { 0 };
	struct sg_aead_op base = {
		.aead = SG_AEAD_AES_128_GCM,
		.dir = SG_AEAD_DIR_SEAL,
		.key = key,
		.nonce = nonce,
		.in = buf,
		.out = buf,
		.len = sizeof(buf),
		.tag = tag,
	};
	struct sg_aead_op ops[7];

	(void)state;
	assert_non_null(ctx);
	for (int i = 0; i < 7; i++)
		ops[i] = base;
	ops[0].aead = SG_AEAD_MAX;
	ops[1].dir = 2;
	ops[2].key = NULL;
	ops[3].aad_len = 1; /* with no AAD pointer */
	ops[4].aad = buf;
	ops[4].aad_len = 1025;
	ops[5].len = SG_DTLS_MAX_CIPHERTEXT + 1;
	/* ops[6] is valid: it must still be done in the same burst */
	assert_int_equal(sg_aead_burst(ctx, ops, 7), 1);
	for (int i = 0; i < 6; i++)
		assert_int_equal(ops[i].status, SG_REC_INVALID_OP);
	assert_int_equal(ops[6].status, SG_REC_OK);
	sg_rec_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inventory),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_invalid_ops),
	};

	return cmocka_run_group_tests_name("record_wycheproof", tests, setup, teardown);
}
