/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the engine keeps per handshake for its caller (issue 16): the
 * latency histogram (struct sg_hs_stats.latency: its bucket edges, its
 * quantiles, and an engine whose clock moves a known amount between the
 * hello that takes a slot and the datagram that completes it) and the
 * lookup's opaque word (struct sg_hs_cred.user), carried to the install.
 * Test thread only.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/common.h>
#include <stormgate/handshake.h>

#include "hs_client.h"
#include "hs_harness.h"
#include "hs_latency.h"

/* ---- buckets and quantiles ---------------------------------------------------------------- */

/* Edges: two per power of two of µs (handshake.h), the last bucket open. */
static void test_bucket_edges(void **state)
{
	static const struct {
		unsigned i;
		uint64_t le;
	} rows[] = {
		{ 0, 1 },
		{ 1, 2 },
		{ 2, 3 },
		{ 3, 4 },
		{ 4, 6 },
		{ 5, 8 },
		{ 6, 12 },
		{ 7, 16 },
		{ 8, 24 },
		{ 9, 32 },
		{ 20, 1536 },
		{ 21, 2048 },
		{ 39, 1u << 20 },          /* ~1 s */
		{ 52, UINT64_C(3) << 25 }, /* ~100 s */
		{ 61, UINT64_C(1) << 31 },
		{ 62, UINT64_C(3) << 30 }, /* ~54 min: the last edge */
		{ 63, UINT64_MAX },
		{ 64, UINT64_MAX }, /* out of range: open */
	};

	(void)state;
	for (unsigned r = 0; r < SG_ARRAY_SIZE(rows); r++)
		if (sg_hs_latency_bucket_le(rows[r].i) != rows[r].le)
			fail_msg("bucket %u: edge %llu, want %llu", rows[r].i,
			         (unsigned long long)sg_hs_latency_bucket_le(rows[r].i),
			         (unsigned long long)rows[r].le);
	/* Increasing, each at most 1.5 times the one before (from bucket 2). */
	for (unsigned i = 1; i < SG_HS_LAT_BUCKETS; i++) {
		uint64_t a = sg_hs_latency_bucket_le(i - 1), b = sg_hs_latency_bucket_le(i);

		assert_true(b > a);
		if (i >= 2 && i < SG_HS_LAT_BUCKETS - 1)
			assert_true(2 * b <= 3 * a);
	}
	/* A value's bucket is the first whose edge holds it: every value up to 5000, every edge. */
	for (uint64_t v = 0; v <= 5000; v++) {
		unsigned want = 0;

		while (v > sg_hs_latency_bucket_le(want))
			want++;
		if (sg_hs_latency_bucket_of(v) != want)
			fail_msg("%llu µs: bucket %u, want %u", (unsigned long long)v,
			         sg_hs_latency_bucket_of(v), want);
	}
	for (unsigned i = 0; i < SG_HS_LAT_BUCKETS - 1; i++) {
		uint64_t le = sg_hs_latency_bucket_le(i);

		assert_int_equal(sg_hs_latency_bucket_of(le), i);
		assert_int_equal(sg_hs_latency_bucket_of(le + 1), i + 1);
	}
	assert_int_equal(sg_hs_latency_bucket_of(UINT64_MAX), SG_HS_LAT_BUCKETS - 1);
	assert_int_equal(sg_hs_latency_bucket_of(UINT32_MAX), SG_HS_LAT_BUCKETS - 1);
}

/* A histogram given as (bucket, count) pairs. */
struct hist_row {
	const char *name;
	struct {
		unsigned bucket;
		uint64_t n;
	} fill[12];
	struct {
		double q;
		uint64_t want; /* µs */
	} q[6];
};

static void test_quantiles(void **state)
{
	static const struct hist_row rows[] = {
		{ "empty", { { 0, 0 } }, { { 0.5, 0 }, { 0.99, 0 }, { 1.0, 0 } } },
		{ "one handshake in bucket 20",
		  { { 20, 1 } },
		  { { 0.01, 1536 }, { 0.5, 1536 }, { 0.99, 1536 }, { 1.0, 1536 } } },
		/* 10 in each of buckets 0..9: rank ceil(q * 100). */
		{ "uniform over buckets 0..9",
		  { { 0, 10 },
		    { 1, 10 },
		    { 2, 10 },
		    { 3, 10 },
		    { 4, 10 },
		    { 5, 10 },
		    { 6, 10 },
		    { 7, 10 },
		    { 8, 10 },
		    { 9, 10 } },
		  { { 0.1, 1 }, { 0.11, 2 }, { 0.5, 6 }, { 0.51, 8 }, { 0.99, 32 }, { 1.0, 32 } } },
		{ "50 fast, 49 slower, 1 outlier",
		  { { 4, 50 }, { 20, 49 }, { 40, 1 } },
		  { { 0.5, 6 },
		    { 0.51, 1536 },
		    { 0.99, 1536 },
		    { 0.995, 3u << 19 },
		    { 1.0, 3u << 19 } } },
		{ "one past the last edge",
		  { { 63, 1 } },
		  { { 0.5, UINT64_MAX }, { 1.0, UINT64_MAX } } },
	};
	uint64_t hist[SG_HS_LAT_BUCKETS];

	(void)state;
	for (unsigned r = 0; r < SG_ARRAY_SIZE(rows); r++) {
		memset(hist, 0, sizeof(hist));
		for (unsigned f = 0; f < SG_ARRAY_SIZE(rows[r].fill); f++)
			hist[rows[r].fill[f].bucket] += rows[r].fill[f].n;
		for (unsigned k = 0; k < SG_ARRAY_SIZE(rows[r].q) && rows[r].q[k].q > 0; k++) {
			uint64_t got = sg_hs_latency_quantile(hist, rows[r].q[k].q);

			if (got != rows[r].q[k].want)
				fail_msg("%s: q %.3f is %llu, want %llu", rows[r].name,
				         rows[r].q[k].q, (unsigned long long)got,
				         (unsigned long long)rows[r].q[k].want);
		}
	}
	/* Out of range: 0. */
	memset(hist, 0, sizeof(hist));
	hist[5] = 3;
	assert_int_equal(sg_hs_latency_quantile(hist, 0.0), 0);
	assert_int_equal(sg_hs_latency_quantile(hist, -0.5), 0);
	assert_int_equal(sg_hs_latency_quantile(hist, 1.5), 0);
	assert_int_equal(sg_hs_latency_quantile(hist, NAN), 0);
	assert_int_equal(sg_hs_latency_quantile(NULL, 0.5), 0);
	assert_int_equal(sg_hs_latency_quantile(hist, 1.0), 8);
}

/* ---- the engine's histogram ------------------------------------------------------------------ */

static struct sg_hs_stats stats(struct harness *h)
{
	struct sg_hs_stats st;

	sg_hs_stats_get(h->e, &st);
	return st;
}

static uint64_t hist_total(const struct sg_hs_stats *st)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < SG_HS_LAT_BUCKETS; i++)
		n += st->latency[i];
	return n;
}

/* Move the engine's clock: mono_us when the row uses it, else mono_ms (mono_us stays 0). */
static void clock_add(struct harness *h, bool us_clock, uint64_t us)
{
	if (us_clock)
		h->now.mono_us += us;
	else
		h->now.mono_ms += us / 1000;
}

/* A ClientHello from c (with the cookie it holds) into h: what came back ('V', 'H', ...). */
static int hello_answer(struct hc *c, struct harness *h)
{
	uint8_t d[2048];

	h_input(h, d, hc_client_hello(c, d, sizeof(d)));
	return hc_drain(c, h);
}

/*
 * Latency runs from the hello that takes the slot (the one with a valid
 * cookie; the first, stateless one does not count) to the datagram that
 * completes the handshake; the bucket is counted once, on completion.
 */
static void test_engine_latency(void **state)
{
	static const struct {
		const char *name;
		bool us_clock;     /* struct sg_hs_time.mono_us given; else mono_ms x 1000 */
		uint64_t start_us; /* mono_us at the first hello */
		uint64_t delay_us; /* between the hello with the cookie and flight 5 */
		uint64_t want_le;  /* the bucket's edge */
	} rows[] = {
		{ "µs clock, 1500 µs", true, 5000000000ull, 1500, 1536 },
		/* The slot is taken 700 µs before 2^32 (after the 250 ms below). */
		{ "µs clock, its low 32 bits wrap", true, (1ull << 32) - 250700, 1500, 1536 },
		{ "µs clock, 3 µs", true, 123456789, 3, 3 },
		{ "µs clock, 40 s", true, 123456789, 40000000, 3ull << 24 },
		{ "no µs clock: mono_ms x 1000, 7 ms", false, 0, 7000, 8192 },
	};

	(void)state;
	for (unsigned r = 0; r < SG_ARRAY_SIZE(rows); r++) {
		struct harness h;
		struct hc c;
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
		struct sg_hs_stats st;
		uint8_t d[2048];
		unsigned b = sg_hs_latency_bucket_of(rows[r].delay_us);

		print_message("# %s\n", rows[r].name);
		assert_int_equal(sg_hs_latency_bucket_le(b), rows[r].want_le);
		h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
		h.now.mono_us = rows[r].start_us;
		hc_init(&c, &o);
		assert_int_equal(hello_answer(&c, &h), 'V');
		clock_add(&h, rows[r].us_clock, 250000); /* before the slot: not counted */
		assert_int_equal(hello_answer(&c, &h), 'H');
		clock_add(&h, rows[r].us_clock, rows[r].delay_us);
		h_input(&h, d, hc_flight5(&c, d, sizeof(d), false));
		assert_int_equal(hc_drain(&c, &h), 'F');
		st = stats(&h);
		assert_int_equal(st.c[SG_HS_C_COMPLETED_FULL], 1);
		assert_int_equal(hist_total(&st), 1);
		assert_int_equal(st.latency[b], 1);
		assert_int_equal(sg_hs_latency_quantile(st.latency, 0.5), rows[r].want_le);
		assert_int_equal(st.max_handshakes, h.conf.max_handshakes);
		hc_free(&c);
		h_stop(&h);
	}
}

/* A resumed handshake counts too, from its resuming hello; failed ones never do. */
static void test_engine_latency_resumed(void **state)
{
	struct harness h;
	struct hc c, r;
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	struct sg_hs_stats st;
	uint8_t ticket[512], master[48], d[2048];
	size_t n;

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_NEVER);
	h.now.mono_us = 77000000;
	o.ticket_ext = true;
	hc_init(&c, &o);
	assert_int_equal(hc_handshake(&c, &h), 0); /* no time passes: bucket 0 */
	memcpy(ticket, c.ticket, c.ticket_len);
	memcpy(master, c.master, sizeof(master));
	o.ticket = ticket;
	o.ticket_len = c.ticket_len;
	o.resume_master = master;
	hc_free(&c);

	hc_init(&r, &o);
	assert_int_equal(hello_answer(&r, &h), 'R');
	h.now.mono_us += 40;
	n = hc_rec_ccs(&r, d, sizeof(d));
	n += hc_rec_finished(&r, d + n, sizeof(d) - n, false);
	h_input(&h, d, n);
	hc_free(&r);

	/* A handshake that fails at its Finished: nothing counted. */
	hc_init(&c, &(struct hc_opts){ .suites = { SG_TLS_PSK_WITH_AES_128_CCM_8 },
	                               .reneg_len = -1,
	                               .identity = H_PSK_IDENTITY,
	                               .psk = (const uint8_t *)"wrong key 16 byt",
	                               .psk_len = 16 });
	assert_int_equal(hc_handshake(&c, &h), -1);
	hc_free(&c);

	st = stats(&h);
	assert_int_equal(st.c[SG_HS_C_COMPLETED_FULL], 1);
	assert_int_equal(st.c[SG_HS_C_COMPLETED_RESUMED], 1);
	assert_int_equal(st.c[SG_HS_C_FAIL_BAD_FINISHED], 1);
	assert_int_equal(hist_total(&st), 2);
	assert_int_equal(st.latency[0], 1);
	assert_int_equal(st.latency[sg_hs_latency_bucket_of(40)], 1);
	assert_int_equal(sg_hs_latency_quantile(st.latency, 1.0), 48);
	h_stop(&h);
}

/* ---- the lookup's word ------------------------------------------------------------------------
 */

#define USER_BASE UINT64_C(0xfeed000000000000) /* all 64 bits are the caller's */

/* The harness's PSK table, with a word of its own for each lookup (USER_BASE + n). */
static int lookup_with_user(void *ctx, const uint8_t *identity, size_t identity_len,
                            const uint8_t *sni, size_t sni_len, struct sg_hs_cred *cred)
{
	struct harness *h = ctx;

	(void)sni;
	(void)sni_len;
	h->n_lookups++;
	for (unsigned i = 0; i < h_n_psks; i++) {
		if (strlen(h_psks[i].identity) == identity_len &&
		    memcmp(h_psks[i].identity, identity, identity_len) == 0) {
			memcpy(cred->psk, h_psks[i].key, h_psks[i].key_len);
			cred->psk_len = h_psks[i].key_len;
			cred->flags = h_psks[i].flags;
			cred->cred_ref = 1000 + i;
			cred->user = USER_BASE + h->n_lookups;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * struct sg_hs_result.user is what psk_lookup put in struct sg_hs_cred.user
 * for the handshake's PSK: the key exchange's lookup for a full handshake,
 * the lookup run again for a resumed one (its word, not the first's).
 */
static void test_user_word(void **state)
{
	static const uint16_t suites[] = { SG_TLS_PSK_WITH_AES_128_CCM_8,
		                           SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256 };

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(suites); i++) {
		struct harness h;
		struct hc c;
		struct hc_opts o = hc_psk_opts(suites[i]);
		uint8_t ticket[512], master[48];

		h_prepare(&h, SG_HS_COOKIE_ALWAYS);
		h.conf.ops.psk_lookup = lookup_with_user;
		h_start(&h);
		h.capture = true;
		o.ticket_ext = true;
		hc_init(&c, &o);
		assert_int_equal(hc_handshake(&c, &h), 0);
		assert_int_equal(h.n_lookups, 1);
		assert_int_equal(h.sess.res.resumed, 0);
		assert_int_equal(h.sess.res.user, USER_BASE + 1);
		memcpy(ticket, c.ticket, c.ticket_len);
		memcpy(master, c.master, sizeof(master));
		o.ticket = ticket;
		o.ticket_len = c.ticket_len;
		o.resume_master = master;
		hc_free(&c);

		hc_init(&c, &o);
		assert_int_equal(hc_handshake(&c, &h), 0);
		assert_int_equal(h.sess.res.resumed, 1);
		assert_int_equal(h.n_lookups, 2);
		assert_int_equal(h.sess.res.user, USER_BASE + 2);
		hc_free(&c);
		h_stop(&h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_edges),
		cmocka_unit_test(test_quantiles),
		cmocka_unit_test(test_engine_latency),
		cmocka_unit_test(test_engine_latency_resumed),
		cmocka_unit_test(test_user_word),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
