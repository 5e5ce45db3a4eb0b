/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Timing independence of the MAC-then-encrypt CBC open (Lucky Thirteen),
 * dudect-style (Reparaz, Balasch, Verbauwhede, "Dude, is my code constant
 * time?", 2017): records of one length (320 bytes of ciphertext) in five
 * classes (valid with padding_length 0 and 255, bad padding, bad MAC with
 * padding_length 0 and 255) are opened one at a time through
 * sg_rec_open_burst() in a random interleaved order, each timed with the
 * TSC; the samples of two classes are cropped at a percentile of their
 * pooled distribution (preemption and interrupts make a long upper tail)
 * and compared with Welch's t-test. Pairs of records the attacker must not
 * tell apart (two valid paddings; bad padding against bad MAC) must stay
 * under |t| = T_MAX. The same harness must see the leak of the textbook
 * check (HMAC over the content length the padding gives: the same
 * sg_cbc_hmac_ct() told that length is public, so it compresses only the
 * blocks that length needs, as any plain HMAC does): |t| over T_MAX for
 * padding 0 against 255, else the test has no power and fails. Every t is printed. Single thread;
 * run alone by meson (is_parallel: false) on a machine that others share, hence the generous
 * threshold (dudect calls 4.5 suspect, 10 certain).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include <cmocka.h>

#include <stormgate/bytes.h>
#include <stormgate/record.h>

#include "rec_test.h"

#define CT_LEN    320 /* ciphertext after the IV: content + MAC + padding */
#define REC_LEN   (13 + 16 + CT_LEN)
#define N_PER     20000 /* samples per class */
#define T_MAX     10.0
#define CROP_PCT  0.90
#define N_CLASSES 5

enum cls { V0 = 0, V255, BAD_PAD, BAD_MAC0, BAD_MAC255 };

static const struct {
	const char *name;
	unsigned len, pad, bad;
} classes[N_CLASSES] = {
	[V0] = { "valid, padding_length 0", CT_LEN - 33, 0, 0 },
	[V255] = { "valid, padding_length 255", CT_LEN - 33 - 255, 255, 0 },
	[BAD_PAD] = { "bad padding", CT_LEN - 33, 0, RT_CBC_BAD_PAD_LEN },
	[BAD_MAC0] = { "bad MAC, padding_length 0", CT_LEN - 33, 0, RT_CBC_BAD_MAC },
	[BAD_MAC255] = { "bad MAC, padding_length 255", CT_LEN - 33 - 255, 255, RT_CBC_BAD_MAC },
};

struct samples {
	double *v[N_CLASSES];
	size_t n[N_CLASSES];
};

static inline uint64_t tsc(void)
{
	uint64_t t;

	_mm_lfence();
	t = __rdtsc();
	_mm_lfence();
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Welch's t of classes a and b, both cropped at the CROP_PCT point of their pooled samples. */
static double welch_t(const struct samples *s, enum cls a, enum cls b)
{
	size_t na = s->n[a], nb = s->n[b], n = na + nb, k;
	double *pool = malloc(n * sizeof(double)), crop;
	double m[2] = { 0 }, v[2] = { 0 }, cnt[2] = { 0 };
	const enum cls c[2] = { a, b };

	assert_non_null(pool);
	memcpy(pool, s->v[a], na * sizeof(double));
	memcpy(pool + na, s->v[b], nb * sizeof(double));
	qsort(pool, n, sizeof(double), cmp_double);
	crop = pool[(size_t)(CROP_PCT * (double)(n - 1))];
	free(pool);
	for (int i = 0; i < 2; i++) {
		for (k = 0; k < s->n[c[i]]; k++) {
			double x = s->v[c[i]][k];

			if (x > crop)
				continue;
			cnt[i]++;
			m[i] += x;
		}
		m[i] /= cnt[i];
		for (k = 0; k < s->n[c[i]]; k++) {
			double x = s->v[c[i]][k];

			if (x <= crop)
				v[i] += (x - m[i]) * (x - m[i]);
		}
		v[i] /= cnt[i] - 1;
	}
	return (m[0] - m[1]) / sqrt(v[0] / cnt[0] + v[1] / cnt[1]);
}

static void samples_init(struct samples *s)
{
	for (int c = 0; c < N_CLASSES; c++) {
		s->v[c] = malloc(N_PER * sizeof(double));
		assert_non_null(s->v[c]);
		s->n[c] = 0;
	}
}

static void samples_free(struct samples *s)
{
	for (int c = 0; c < N_CLASSES; c++)
		free(s->v[c]);
}

/* The records of each class, sealed by the OpenSSL peer under k. */
static void make_templates(const struct tc_keys *k, uint8_t tpl[N_CLASSES][REC_LEN])
{
	uint8_t pt[CT_LEN], iv[16];

	for (int c = 0; c < N_CLASSES; c++) {
		struct rt_rec r = {
			.aead = SG_AEAD_AES_128_CBC_SHA256,
			.key = k->client_key,
			.mac_key = k->client_mac,
			.iv = iv,
			.epoch = 1,
			.seq = 5,
			.type = SG_DTLS_CT_APPLICATION_DATA,
			.pad_len = classes[c].pad,
			.cbc_bad = classes[c].bad,
		};

		tc_fill(iv, sizeof(iv), 10 + (uint64_t)c);
		tc_fill(pt, classes[c].len, 20 + (uint64_t)c);
		assert_int_equal(rt_evp_seal_record(&r, pt, classes[c].len, tpl[c]), REC_LEN);
	}
}

/* A random class among those in want (bit mask), from a xorshift state. */
static enum cls pick(uint64_t *x, unsigned want, const struct samples *s)
{
	for (;;) {
		unsigned c;

		*x ^= *x << 13;
		*x ^= *x >> 7;
		*x ^= *x << 17;
		c = (unsigned)(*x % N_CLASSES);
		if ((want >> c & 1) && s->n[c] < N_PER)
			return (enum cls)c;
	}
}

static size_t total(const struct samples *s, unsigned want)
{
	size_t t = 0;

	for (int c = 0; c < N_CLASSES; c++)
		if (want >> c & 1)
			t += s->n[c];
	return t;
}

static void test_mte_open_constant_time(void **state)
{
	static const struct {
		enum cls a, b;
	} pairs[] = {
		{ V0, V255 },
		{ BAD_PAD, BAD_MAC0 },
		{ BAD_PAD, BAD_MAC255 },
		{ BAD_MAC0, BAD_MAC255 },
	};
	static uint8_t tpl[N_CLASSES][REC_LEN], buf[REC_LEN];
	const unsigned all = (1u << N_CLASSES) - 1;
	struct tc_keys k;
	struct sg_rec_sa *sa = tc_sa_alloc(128);
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);
	struct samples s;
	uint64_t x = 0x9e3779b97f4a7c15u;

	(void)state;
	assert_non_null(ctx);
	tc_keys_make(&k, 11);
	assert_int_equal(rt_sa_init(sa, 128, SG_AEAD_AES_128_CBC_SHA256, &k, 0, 1, 0, 0), 0);
	make_templates(&k, tpl);
	samples_init(&s);

	/* Each class opens as it should, before timing anything. */
	for (int c = 0; c < N_CLASSES; c++) {
		struct sg_rec_open_op op = { .rec = buf, .rec_len = REC_LEN, .sa = sa };

		memcpy(buf, tpl[c], REC_LEN);
		sg_rec_sa_restore_floors(sa, 128, 0, 0);
		sg_rec_open_burst(ctx, &op, 1);
		assert_int_equal(op.status, classes[c].bad ? SG_REC_AUTH_FAILED : SG_REC_OK);
	}
	while (total(&s, all) < (size_t)N_CLASSES * N_PER) {
		enum cls c = pick(&x, all, &s);
		struct sg_rec_open_op op = { .rec = buf, .rec_len = REC_LEN, .sa = sa };
		uint64_t t0, t1;

		memcpy(buf, tpl[c], REC_LEN);
		sg_rec_sa_restore_floors(sa, 128, 0,
		                         0); /* the same sequence number is fresh again */
		t0 = tsc();
		sg_rec_open_burst(ctx, &op, 1);
		t1 = tsc();
		s.v[c][s.n[c]++] = (double)(t1 - t0);
	}
	for (size_t i = 0; i < SG_ARRAY_SIZE(pairs); i++) {
		double t = welch_t(&s, pairs[i].a, pairs[i].b);

		print_message("# sg_rec_open_burst, %s vs %s: t = %.2f (|t| < %.0f wanted)\n",
		              classes[pairs[i].a].name, classes[pairs[i].b].name, t, T_MAX);
		assert_true(fabs(t) < T_MAX);
	}
	samples_free(&s);
	tc_sa_free(sa, 128);
	sg_rec_ctx_free(ctx);
}

/*
 * The positive control: the textbook MAC check, HMAC over the content length
 * the (decrypted) padding gives, on the plaintexts of V0 and V255. The
 * harness must see its leak.
 */
static void test_harness_sees_a_leak(void **state)
{
	static uint8_t pt[N_CLASSES][CT_LEN];
	const unsigned want = 1u << V0 | 1u << V255;
	uint8_t key[32], pads[64], hdr[13] = { 0 }, mac[32];
	struct samples s;
	uint64_t x = 0x2545f4914f6cdd1du;
	double t;

	(void)state;
	tc_fill(key, sizeof(key), 1);
	sg_cbc_hmac_key(key, sizeof(key), pads);
	for (int c = V0; c <= V255; c++) {
		tc_fill(pt[c], classes[c].len, 20 + (uint64_t)c);
		memset(pt[c] + CT_LEN - 1 - classes[c].pad, (int)classes[c].pad,
		       classes[c].pad + 1);
	}
	samples_init(&s);
	while (total(&s, want) < 2 * (size_t)N_PER) {
		enum cls c = pick(&x, want, &s);
		uint64_t t0, t1;
		uint32_t len;

		t0 = tsc();
		len = CT_LEN - 1 - pt[c][CT_LEN - 1] - 32;
		sg_cbc_hmac_ct(pads, hdr, sizeof(hdr), pt[c], len, len, len, mac);
		t1 = tsc();
		s.v[c][s.n[c]++] = (double)(t1 - t0);
	}
	t = welch_t(&s, V0, V255);
	print_message("# textbook HMAC over the padded length, padding 0 vs 255: t = %.2f "
	              "(|t| > %.0f wanted)\n",
	              t, T_MAX);
	assert_true(fabs(t) > T_MAX);
	samples_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_harness_sees_a_leak),
		cmocka_unit_test(test_mte_open_constant_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
