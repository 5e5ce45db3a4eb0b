/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Anti-replay window (RFC 6347 §4.1.2.6) in the style of WireGuard's counter
 * selftest: a table of sequence numbers fed in order, each with the verdict
 * it must get, for every window size, both on the window functions and
 * through sg_rec_open_burst(); then a differential run against a plain
 * "set of seen numbers" model with random reordering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/record.h>

#include "rec_test.h"

static const unsigned windows[] = { 64, 128, 256, 1024, 4096 };

/* seq = a * W + b (W the window); want the verdict. */
struct row {
	int64_t a, b;
	enum sg_rec_status want;
};

#define W(a, b, want)                                                                              \
	{                                                                                          \
		a, b, SG_REC_##want                                                                \
	}
#define MAXSEQ INT64_C(-1) /* marker: the last 48-bit number + b */

static const struct row rows[] = {
	W(0, 0, OK), /* first record */
	W(0, 1, OK),
	W(0, 1, REPLAYED),
	W(0, 9, OK), /* gap */
	W(0, 8, OK), /* reordered inside the window */
	W(0, 7, OK),
	W(0, 7, REPLAYED),
	W(1, 0, OK), /* top = W: window holds 1..W */
	W(1, -1, OK),
	W(1, -1, REPLAYED),
	W(1, -2, OK),
	W(0, 2, OK), /* W - 2 below the top */
	W(0, 2, REPLAYED),
	W(0, 1, REPLAYED), /* W - 1 below: still remembered */
	W(0, 0, TOO_OLD),  /* W below: left of the window */
	W(1, 16, OK),
	W(0, 3, TOO_OLD),
	W(1, 16, REPLAYED),
	W(4, 0, OK), /* jump past a whole window */
	W(3, 1, OK), /* left edge */
	W(0, 10, TOO_OLD),
	W(3, 0, TOO_OLD),
	W(3, -1, TOO_OLD),
	W(3, 2, OK),
	W(3, 1, REPLAYED),
	W(0, 0, TOO_OLD),
	/* Bits of skipped numbers are cleared: 5W + 4 shares 4W + 4's bit. */
	W(4, 4, OK),
	W(5, 10, OK),
	W(5, 4, OK),
	W(5, 4, REPLAYED),
	W(4, 4, TOO_OLD),
	/* Advances that clear a range across word boundaries. */
	W(5, 70, OK),
	W(5, 69, OK),
	W(5, 11, OK),
	W(5, 12, OK),
	W(5, 12, REPLAYED),
	W(7, 63, OK),
	W(7, 64, OK),
	W(7, 65, OK),
	W(7, 62, OK),
	W(7, 3, OK),
	W(6, 66, OK),
	W(6, 65, TOO_OLD),
	/* The end of the 48-bit space. */
	W(MAXSEQ, 0, OK),
	W(MAXSEQ, 0, REPLAYED),
	W(MAXSEQ, -1, OK),
	W(MAXSEQ, -64, OK),
	W(MAXSEQ, -65, OK),
	W(MAXSEQ, -65, REPLAYED),
};

static uint64_t row_seq(const struct row *r, unsigned w)
{
	if (r->a == MAXSEQ)
		return (uint64_t)((int64_t)SG_DTLS_SEQ_MAX + r->b);
	return (uint64_t)(r->a * (int64_t)w + r->b);
}

/* Near the top of the space the "W below" rows differ with W: recompute. */
static enum sg_rec_status row_want(const struct row *r, unsigned w)
{
	if (r->a == MAXSEQ && -r->b >= (int64_t)w)
		return SG_REC_TOO_OLD;
	return r->want;
}

/* The server's SA (epoch 1, window w) of a session of aead whose keys tc_keys_make(k, seed) makes.
 */
static struct sg_rec_sa *server_sa(unsigned w, enum sg_aead aead, uint64_t seed, struct tc_keys *k)
{
	struct sg_rec_sa *sa = tc_sa_alloc(w);

	tc_keys_make(k, seed);
	assert_int_equal(rt_sa_init(sa, w, aead, k, 0, 1, 0, 0), 0);
	return sa;
}

static void test_table_functions(void **state)
{
	(void)state;
	for (size_t wi = 0; wi < SG_ARRAY_SIZE(windows); wi++) {
		unsigned w = windows[wi];
		struct tc_keys k;
		struct sg_rec_sa *sa = server_sa(w, SG_AEAD_AES_128_CCM_8, 1, &k);

		for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
			uint64_t seq = row_seq(&rows[i], w);
			enum sg_rec_status want = row_want(&rows[i], w);
			enum sg_rec_status got = sg_rec_replay_check(sa, w, seq);

			if (got != want)
				fail_msg("window %u row %zu (seq %llu): %s, want %s", w, i,
				         (unsigned long long)seq, sg_rec_status_name(got),
				         sg_rec_status_name(want));
			if (got == SG_REC_OK)
				sg_rec_replay_update(sa, w, seq);
		}
		free(sa);
	}
}

/*
 * The client's application record of sequence number seq (the payload pt,
 * sealed by OpenSSL into rec; its last tag byte flipped when forge), opened
 * through op by ctx with the server's sa. Returns what sg_rec_open_burst() did.
 */
static unsigned open_one(struct sg_rec_ctx *ctx, struct sg_rec_sa *sa, enum sg_aead aead,
                         const struct tc_keys *k, uint64_t seq, int forge, const uint8_t pt[16],
                         uint8_t rec[128], struct sg_rec_open_op *op)
{
	struct rt_rec r = {
		.aead = aead,
		.key = k->client_key,
		.iv = k->client_iv,
		.epoch = 1,
		.seq = seq,
		.type = SG_DTLS_CT_APPLICATION_DATA,
	};

	memset(op, 0, sizeof(*op));
	op->rec = rec;
	op->rec_len = (uint32_t)rt_evp_seal_record(&r, pt, 16, rec);
	if (forge)
		rec[op->rec_len - 1] ^= 1;
	op->sa = sa;
	return sg_rec_open_burst(ctx, op, 1);
}

/* The same table through the whole open path, one record per row. */
static void test_table_records(void **state)
{
	uint8_t rec[128], pt[16];

	(void)state;
	tc_fill(pt, sizeof(pt), 5);
	for (size_t wi = 0; wi < SG_ARRAY_SIZE(windows); wi++) {
		unsigned w = windows[wi];
		struct sg_rec_ctx_conf conf = { .window_bits = w };
		struct sg_rec_ctx *ctx = sg_rec_ctx_create(&conf);
		struct tc_keys k;
		struct sg_rec_sa *sa = server_sa(w, SG_AEAD_AES_128_GCM, 2, &k);

		assert_non_null(ctx);
		for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
			uint64_t seq = row_seq(&rows[i], w);
			enum sg_rec_status want = row_want(&rows[i], w);
			struct sg_rec_open_op op;

			assert_int_equal(
			        open_one(ctx, sa, SG_AEAD_AES_128_GCM, &k, seq, 0, pt, rec, &op),
			        want == SG_REC_OK);
			if (op.status != want)
				fail_msg("window %u row %zu: %s, want %s", w, i,
				         sg_rec_status_name(op.status), sg_rec_status_name(want));
			assert_true(op.seq == seq);
		}
		free(sa);
		sg_rec_ctx_free(ctx);
	}
}

/*
 * A forged record must not move the window: authenticate 10, send a forged
 * 10 + W (refused), then 11 must still be fresh and 10 - W + 1 in the window.
 */
static void test_forged_does_not_slide(void **state)
{
	unsigned w = 128;
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);
	struct tc_keys k;
	struct sg_rec_sa *sa = server_sa(w, SG_AEAD_CHACHA20_POLY1305, 3, &k);
	uint8_t rec[128], pt[16];
	static const struct {
		uint64_t seq;
		int forge;
		enum sg_rec_status want;
	} steps[] = {
		{ 200, 0, SG_REC_OK },           { 200 + 128 * 5, 1, SG_REC_AUTH_FAILED },
		{ 201, 0, SG_REC_OK },           { 200 - 127 + 1, 0, SG_REC_OK },
		{ 200 + 128 * 5, 0, SG_REC_OK }, { 201, 0, SG_REC_TOO_OLD },
	};

	(void)state;
	assert_non_null(ctx);
	tc_fill(pt, sizeof(pt), 6);
	for (size_t i = 0; i < SG_ARRAY_SIZE(steps); i++) {
		struct sg_rec_open_op op;

		open_one(ctx, sa, SG_AEAD_CHACHA20_POLY1305, &k, steps[i].seq, steps[i].forge, pt,
		         rec, &op);
		if (op.status != steps[i].want)
			fail_msg("step %zu: %s, want %s", i, sg_rec_status_name(op.status),
			         sg_rec_status_name(steps[i].want));
	}
	free(sa);
	sg_rec_ctx_free(ctx);
}

/* Reference: every number ever accepted, and the highest. */
struct model {
	uint8_t *seen; /* one byte per number below limit */
	uint64_t top;  /* highest + 1 */
};

static enum sg_rec_status model_check(const struct model *m, unsigned w, uint64_t seq)
{
	if (seq >= m->top)
		return SG_REC_OK;
	if (m->top - 1 - seq >= w)
		return SG_REC_TOO_OLD;
	return m->seen[seq] ? SG_REC_REPLAYED : SG_REC_OK;
}

static void test_differential(void **state)
{
	enum { LIMIT = 1 << 24, STEPS = 200000 };

	(void)state;
	for (size_t wi = 0; wi < SG_ARRAY_SIZE(windows); wi++) {
		unsigned w = windows[wi];
		struct tc_keys k;
		struct sg_rec_sa *sa = server_sa(w, SG_AEAD_AES_128_CCM, 4, &k);
		struct model m = { calloc(LIMIT, 1), 0 };
		uint64_t x = 0x1234 + w;
		unsigned counts[SG_REC_STATUS_MAX] = { 0 };

		assert_non_null(m.seen);
		for (unsigned i = 0; i < STEPS; i++) {
			int64_t d;
			uint64_t seq;
			enum sg_rec_status want, got;

			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			/* mostly reordering around the top, some jumps, some far past */
			switch ((x >> 60) & 7) {
			case 0:
				d = (int64_t)((x >> 20) % (3 * w)) - (int64_t)(2 * w);
				break;
			case 1:
				d = (int64_t)((x >> 20) % 4);
				break;
			default:
				d = (int64_t)((x >> 20) % (w / 4 + 8)) - (int64_t)(w / 4);
				break;
			}
			if ((int64_t)m.top + d < 0)
				d = -(int64_t)m.top;
			seq = (uint64_t)((int64_t)m.top + d);
			if (seq >= LIMIT)
				break;
			want = model_check(&m, w, seq);
			got = sg_rec_replay_check(sa, w, seq);
			if (got != want)
				fail_msg("window %u step %u seq %llu top %llu: %s, want %s", w, i,
				         (unsigned long long)seq, (unsigned long long)m.top,
				         sg_rec_status_name(got), sg_rec_status_name(want));
			counts[got]++;
			if (got == SG_REC_OK) {
				sg_rec_replay_update(sa, w, seq);
				m.seen[seq] = 1;
				if (seq >= m.top)
					m.top = seq + 1;
			}
			assert_true(sa->rx_top == m.top);
		}
		print_message("# window %u: ok %u replayed %u too_old %u\n", w, counts[SG_REC_OK],
		              counts[SG_REC_REPLAYED], counts[SG_REC_TOO_OLD]);
		/* All three verdicts were exercised in volume. */
		assert_true(counts[SG_REC_OK] > 10000);
		assert_true(counts[SG_REC_REPLAYED] > 1000);
		assert_true(counts[SG_REC_TOO_OLD] > 1000);
		free(m.seen);
		free(sa);
	}
}

/*
 * Restored floors (sg_rec_sa_restore_floors): for every window, a session that
 * received a scattered set of numbers is restored at a floor; every number
 * below the floor is refused (too old or replayed), every one from the floor
 * on is fresh, the write sequence resumes at the given value, and records
 * really open and seal with the restored SA.
 */
static void test_restore_floors(void **state)
{
	static const struct {
		uint64_t tx, rx;
	} floors[] = {
		{ 0, 0 },
		{ 1, 1 },
		{ 1000, 5 },
		{ 70000, 65536 + 3 },
		{ 1 << 20, 12345 },
		{ 7, 1 << 30 },
		{ SG_DTLS_SEQ_MAX, SG_DTLS_SEQ_MAX },
	};
	uint8_t rec[128], pt[16];

	(void)state;
	tc_fill(pt, sizeof(pt), 7);
	for (size_t wi = 0; wi < SG_ARRAY_SIZE(windows); wi++) {
		unsigned w = windows[wi];
		struct sg_rec_ctx_conf conf = { .window_bits = w };
		struct sg_rec_ctx *ctx = sg_rec_ctx_create(&conf);

		assert_non_null(ctx);
		for (size_t fi = 0; fi < SG_ARRAY_SIZE(floors); fi++) {
			uint64_t rx = floors[fi].rx, lo = rx > 2 * w ? rx - 2 * w : 0;
			struct tc_keys k;
			struct sg_rec_sa *sa = server_sa(w, SG_AEAD_AES_128_GCM, 8, &k);
			unsigned limit = sg_rec_sa_max_plaintext(sa);
			struct sg_rec_open_op op;

			/* a history: every third number near the floor seen before the crash */
			for (uint64_t s = lo; s < rx; s += 3)
				sg_rec_replay_update(sa, w, s);
			sg_rec_sa_restore_floors(sa, w, floors[fi].tx, rx);
			assert_int_equal(sg_rec_sa_tx_seq(sa), floors[fi].tx);
			assert_int_equal(sg_rec_sa_max_plaintext(sa), limit);
			assert_int_equal(sa->rx_top, rx);
			for (uint64_t s = lo; s < rx + 2 * w && s <= SG_DTLS_SEQ_MAX; s++) {
				enum sg_rec_status got = sg_rec_replay_check(sa, w, s);

				if (s < rx && got == SG_REC_OK)
					fail_msg("window %u floor %llu: %llu accepted", w,
					         (unsigned long long)rx, (unsigned long long)s);
				if (s >= rx && got != SG_REC_OK)
					fail_msg("window %u floor %llu: %llu refused (%s)", w,
					         (unsigned long long)rx, (unsigned long long)s,
					         sg_rec_status_name(got));
			}
			/* the whole path: the record at the floor opens, one below does not */
			if (rx > 0) {
				open_one(ctx, sa, SG_AEAD_AES_128_GCM, &k, rx - 1, 0, pt, rec, &op);
				assert_true(op.status == SG_REC_REPLAYED ||
				            op.status == SG_REC_TOO_OLD);
			}
			if (rx <= SG_DTLS_SEQ_MAX) {
				assert_int_equal(open_one(ctx, sa, SG_AEAD_AES_128_GCM, &k, rx, 0,
				                          pt, rec, &op),
				                 1);
				assert_int_equal(sa->rx_top, rx + 1);
			}
			free(sa);
		}
		sg_rec_ctx_free(ctx);
	}
}

/* Sealing with a restored SA uses exactly the restored write sequence; past 2^48: exhausted. */
static void test_restore_floors_seal(void **state)
{
	unsigned w = 256;
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(&(struct sg_rec_ctx_conf){ .window_bits = w });
	struct tc_keys k;
	struct sg_rec_sa *sa = server_sa(w, SG_AEAD_AES_128_CCM_8, 9, &k);
	uint8_t buf[256], pt[16];
	struct sg_rec_seal_op op;

	(void)state;
	assert_non_null(ctx);
	tc_fill(pt, sizeof(pt), 9);
	sg_rec_sa_restore_floors(sa, w, 123456789, 0);
	memset(&op, 0, sizeof(op));
	op.sa = sa;
	op.type = SG_DTLS_CT_APPLICATION_DATA;
	op.buf = buf;
	op.buf_len = sizeof(buf);
	op.pt_off = 64;
	op.pt_len = sizeof(pt);
	memcpy(buf + 64, pt, sizeof(pt));
	assert_int_equal(sg_rec_seal_burst(ctx, &op, 1), 1);
	assert_true(op.seq == 123456789);
	assert_true(sg_rec_sa_tx_seq(sa) == 123456790);
	/* over the 48-bit space: taken as exhausted, never wrapped */
	sg_rec_sa_restore_floors(sa, w, UINT64_C(1) << 50, UINT64_C(1) << 50);
	assert_true(sg_rec_sa_tx_seq(sa) == SG_DTLS_SEQ_MAX + 1);
	assert_int_equal(sg_rec_replay_check(sa, w, SG_DTLS_SEQ_MAX), SG_REC_REPLAYED);
	memcpy(buf + 64, pt, sizeof(pt));
	assert_int_equal(sg_rec_seal_burst(ctx, &op, 1), 0);
	assert_int_equal(op.status, SG_REC_SEQ_EXHAUSTED);
	free(sa);
	sg_rec_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_functions),
		cmocka_unit_test(test_table_records),
		cmocka_unit_test(test_forged_does_not_slide),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_restore_floors),
		cmocka_unit_test(test_restore_floors_seal),
	};

	return cmocka_run_group_tests_name("record_replay", tests, NULL, NULL);
}
