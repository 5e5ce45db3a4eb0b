/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CBC SA pool of the session table (issue 17): a CBC-SHA256 session's SA
 * is wide (struct sg_rec_sa and its MAC line, sg_rec_sa_size_for()), so it
 * lives in a pool of its own (sg_sess_params.cbc_capacity) and the AEAD
 * sessions keep their two lines. Checked, per replay window: insert, lookup
 * (by 4-tuple, CID and id), sg_sess_get_sa(), replace between the pools (both
 * ways), delete_take / take_held and bulk restore at an id carry the keys and
 * the MAC line intact; freed SAs are wiped, the MAC line included; the pool's
 * limit and exhaustion are refused and counted (cbc_full) while AEAD
 * sessions still go in; SG_SESS_P_NO_CBC refuses every CBC session; the
 * parameters are checked. One thread (the writer) with one worker context.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include <stormgate/record.h>

#include "sess_test.h"

static const uint8_t test_cid_key[16] = { 0x53, 0x47, 0x2d, 0x63, 0x62, 0x63, 0x2d, 0x70,
	                                  0x6f, 0x6f, 0x6c, 0x2d, 0x74, 0x65, 0x73, 0x74 };

/* A test SA buffer that holds any SA of the window (sg_rec_sa_size_max()). */
static struct sg_rec_sa *sa_alloc(unsigned window)
{
	struct sg_rec_sa *sa = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size_max(window));

	assert_non_null(sa);
	memset(sa, 0, sg_rec_sa_size_max(window));
	return sa;
}

static void sa_free(struct sg_rec_sa *sa, unsigned window)
{
	if (sa == NULL)
		return;
	sg_wipe(sa, sg_rec_sa_size_max(window));
	free(sa);
}

/* The MAC keys of test session k at version v: a function of (k, v). */
static void st_mac(struct sg_rec_sa_mac *m, uint32_t k, uint16_t v)
{
	for (unsigned i = 0; i < sizeof(*m); i += 8) {
		uint64_t r = st_mix((uint64_t)k << 24 | (uint64_t)v << 8 | 0x80 | i);

		memcpy((uint8_t *)m + i, &r, 8);
	}
}

/*
 * Test session k's SA at version v, made by the record layer
 * (sg_rec_sa_init()): CBC-SHA256 keys (AES-128 in rx_key / tx_key, the MAC
 * keys in the line after the SA and its replay tail) when cbc, else
 * AES-128-GCM. The keys are st_sa()'s, the MAC keys st_mac()'s.
 */
static void mk_sa(struct sg_rec_sa *sa, unsigned window, uint32_t k, uint16_t v, int cbc)
{
	struct sg_rec_sa ref;
	struct sg_rec_sa_mac mac;
	struct sg_rec_sa_params p = {
		.aead = cbc ? SG_AEAD_AES_128_CBC_SHA256 : SG_AEAD_AES_128_GCM,
		.epoch = v,
		.flags = cbc ? SG_SA_F_ETM : 0,
		.rx_key = ref.rx_key,
		.tx_key = ref.tx_key,
		.rx_iv = ref.rx_iv,
		.tx_iv = ref.tx_iv,
		.rx_mac = mac.rx_mac,
		.tx_mac = mac.tx_mac,
		.tx_seq = 1,
		.rx_seq = 1,
	};

	memset(sa, 0, sg_rec_sa_size_max(window));
	st_sa(&ref, k, v);
	st_mac(&mac, k, v);
	assert_int_equal(sg_rec_sa_init(sa, window, &p), 0);
	sg_wipe(&ref, sizeof(ref));
	sg_wipe(&mac, sizeof(mac));
}

/* Does sa hold test session k's keys at version v, the MAC line too for CBC? */
static int sa_ok(struct sg_rec_sa *sa, unsigned window, uint32_t k, uint16_t v, int cbc)
{
	enum sg_aead aead = cbc ? SG_AEAD_AES_128_CBC_SHA256 : SG_AEAD_AES_128_GCM;
	unsigned klen = sg_aead_key_len(aead);
	struct sg_rec_sa_mac want;
	struct sg_rec_sa ref;
	int same;

	if (sa->epoch != v || sa->aead != aead || !(sa->flags & SG_SA_F_LIVE))
		return 0;
	st_sa(&ref, k, v);
	same = memcmp(sa->rx_key, ref.rx_key, klen) == 0 &&
	       memcmp(sa->tx_key, ref.tx_key, klen) == 0;
	sg_wipe(&ref, sizeof(ref));
	if (!same)
		return 0;
	if (!cbc)
		return 1;
	st_mac(&want, k, v);
	same = memcmp(sg_rec_sa_mac(sa, window), &want, sizeof(want)) == 0;
	sg_wipe(&want, sizeof(want));
	return same;
}

static struct sg_sess_table *mk_table(uint32_t cap, unsigned window, uint32_t cbc, uint32_t flags)
{
	struct sg_sess_params p = { .capacity = cap,
		                    .replay_window = (uint16_t)window,
		                    .cid_len = 8,
		                    .cid_key = test_cid_key,
		                    .cbc_capacity = cbc,
		                    .flags = flags };
	struct sg_sess_table *t = sg_sess_table_create(&p);

	assert_non_null(t);
	return t;
}

static struct sg_sess_stats stats(const struct sg_sess_table *t)
{
	struct sg_sess_stats st;

	sg_sess_stats_get(t, &st);
	return st;
}

/* Insert test session k (CBC or not) by 4-tuple and CID; its CID in cid. */
static int ins(struct sg_sess_table *t, unsigned window, uint32_t k, int cbc, uint64_t *id,
               uint8_t *cid)
{
	struct sg_rec_sa *sa = sa_alloc(window);
	struct sg_sess_new n;
	int rc;

	mk_sa(sa, window, k, 1, cbc);
	n = st_new(sa, k, 0, SG_SESS_F_TUPLE | SG_SESS_F_CID);
	rc = sg_sess_insert(t, &n, id, cid);
	sa_free(sa, window);
	return rc;
}

/*
 * Is the SA at p (size bytes, taken by a lookup before its session ended)
 * wiped? The table keeps its free-list link in the last word; under ASan
 * the freed SA is poisoned, which a test may lift to look.
 */
static int wiped(const void *p, size_t size)
{
	const uint8_t *b = p;

#if defined(__SANITIZE_ADDRESS__)
	ASAN_UNPOISON_MEMORY_REGION(p, size);
#endif
	for (size_t i = 0; i < size - 4; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static const unsigned windows[] = { 64, 128, 256, 1024 };

/*
 * Per window: CBC and AEAD sessions side by side; lookups by 4-tuple, CID
 * and id find the keys and MAC line; sg_sess_get_sa() copies the MAC line
 * to its place; replace to AEAD keys and back moves the session between
 * the pools (counted); a deleted session's SAs are wiped once reclaimed,
 * MAC line included.
 */
static void test_cbc_roundtrip(void **state)
{
	(void)state;
	for (size_t wi = 0; wi < SG_ARRAY_SIZE(windows); wi++) {
		unsigned window = windows[wi];
		struct sg_sess_table *t = mk_table(64, window, 8, 0);
		struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
		struct sg_rec_sa *got = sa_alloc(window), *sa = sa_alloc(window);
		uint8_t cids[4][8];
		uint64_t ids[4];
		struct sg_sess_stats st;
		struct sg_sess_info info;
		struct sg_sess_ref r;
		struct sg_rec_sa *old_cbc;

		assert_non_null(w);
		for (uint32_t k = 0; k < 4; k++)
			assert_int_equal(ins(t, window, k, k % 2 == 0, &ids[k], cids[k]), 0);
		st = stats(t);
		assert_int_equal(st.live, 4);
		assert_int_equal(st.cbc_live, 2);
		assert_int_equal(st.cbc_in_use, 2);
		assert_int_equal(st.sa_in_use, 2);

		sg_sess_worker_online(w);
		for (uint32_t k = 0; k < 4; k++) {
			struct sg_sess_tuple key;
			const uint8_t *c = cids[k];

			st_tuple(&key, k, 0);
			assert_int_equal(sg_sess_lookup_tuple_bulk(w, &key, 1, &r), 1);
			assert_true(sa_ok(r.sa, window, k, 1, k % 2 == 0));
			assert_int_equal(sg_sess_lookup_cid_bulk(w, &c, 1, &r), 1);
			assert_true(sa_ok(r.sa, window, k, 1, k % 2 == 0));
			assert_int_equal(sg_sess_lookup_id_bulk(w, &ids[k], 1, &r), 1);
			assert_true(sa_ok(r.sa, window, k, 1, k % 2 == 0));
			/* An AEAD SA is two lines apart from the next; a CBC one three and more. */
			memset(got, 0, sg_rec_sa_size_max(window));
			assert_int_equal(sg_sess_get_sa(t, ids[k], got), 0);
			assert_true(sa_ok(got, window, k, 1, k % 2 == 0));
			assert_int_equal(sg_sess_get(t, ids[k], &info), 0);
			assert_int_equal(info.aead, k % 2 == 0 ? SG_AEAD_AES_128_CBC_SHA256
			                                       : SG_AEAD_AES_128_GCM);
		}

		/* The pools' strides: an AEAD SA keeps its bytes, a CBC one has its MAC line more.
		 */
		{
			struct sg_sess_ref r4[4];

			assert_int_equal(sg_sess_lookup_id_bulk(w, ids, 4, r4), 4);
			assert_int_equal((uint8_t *)r4[3].sa - (uint8_t *)r4[1].sa,
			                 sg_rec_sa_size(window));
			assert_int_equal((uint8_t *)r4[2].sa - (uint8_t *)r4[0].sa,
			                 sg_rec_sa_size_for(window, SG_AEAD_AES_128_CBC_SHA256));
		}
		/* Session 0: CBC -> AEAD (the CBC keys stay as the previous SA). */
		assert_int_equal(sg_sess_lookup_id_bulk(w, &ids[0], 1, &r), 1);
		old_cbc = r.sa;
		mk_sa(sa, window, 0, 2, 0);
		assert_int_equal(sg_sess_replace(t, ids[0], sa), 0);
		assert_int_equal(sg_sess_lookup_id_bulk(w, &ids[0], 1, &r), 1);
		assert_true(sa_ok(r.sa, window, 0, 2, 0));
		assert_ptr_equal(r.prev, old_cbc);
		assert_true(sa_ok(r.prev, window, 0, 1, 1));
		st = stats(t);
		assert_int_equal(st.cbc_live, 1);
		assert_int_equal(st.cbc_in_use, 2);
		assert_int_equal(st.sa_in_use, 3);
		/* Session 1: AEAD -> CBC. */
		mk_sa(sa, window, 1, 2, 1);
		assert_int_equal(sg_sess_replace(t, ids[1], sa), 0);
		assert_int_equal(sg_sess_lookup_id_bulk(w, &ids[1], 1, &r), 1);
		assert_true(sa_ok(r.sa, window, 1, 2, 1));
		assert_true(sa_ok(r.prev, window, 1, 1, 0));
		assert_int_equal(sg_sess_get_sa(t, ids[1], got), 0);
		assert_true(sa_ok(got, window, 1, 2, 1));
		assert_int_equal(stats(t).cbc_live, 2);

		/* Session 2 (CBC) ends: its SA is wiped, MAC line and all, once reclaimed. */
		assert_int_equal(sg_sess_lookup_id_bulk(w, &ids[2], 1, &r), 1);
		old_cbc = r.sa;
		sg_sess_worker_offline(w); /* holds nothing now: the frees are due at once */
		assert_int_equal(sg_sess_retire_prev(t, ids[0]), 0);
		assert_int_equal(sg_sess_delete(t, ids[2]), 0);
		assert_int_equal(sg_sess_reclaim(t, 1), 2);
		assert_true(wiped(old_cbc, sg_rec_sa_size_for(window, SG_AEAD_AES_128_CBC_SHA256)));
		st = stats(t);
		assert_int_equal(st.cbc_live, 1);
		assert_int_equal(st.cbc_in_use, 1); /* session 1's current */
		/* sessions 0's and 3's current, session 1's previous */
		assert_int_equal(st.sa_in_use, 3);

		sg_sess_worker_destroy(w);
		sa_free(got, window);
		sa_free(sa, window);
		sg_sess_table_destroy(t); /* wipes the rest (ASan: nothing leaks) */
	}
}

/*
 * sg_sess_delete_take() and sg_sess_delete_hold() + take_held() hand a CBC
 * session's SA over whole: keys, sequence, MAC line.
 */
static void test_cbc_take(void **state)
{
	const unsigned window = 256;
	struct sg_sess_table *t = mk_table(16, window, 4, 0);
	struct sg_rec_sa *got = sa_alloc(window);
	struct sg_sess_held held;
	uint64_t id;

	(void)state;
	assert_int_equal(ins(t, window, 5, 1, &id, NULL), 0);
	assert_int_equal(sg_sess_delete_take(t, id, got), 0);
	assert_true(sa_ok(got, window, 5, 1, 1));
	assert_int_equal(stats(t).cbc_in_use, 0);
	assert_int_equal(stats(t).cbc_live, 0);

	memset(got, 0, sg_rec_sa_size_max(window));
	assert_int_equal(ins(t, window, 6, 1, &id, NULL), 0);
	assert_int_equal(sg_sess_delete_hold(t, id, &held), 0);
	assert_int_equal(stats(t).cbc_live, 0);
	assert_int_equal(stats(t).cbc_in_use, 1); /* held */
	assert_int_equal(sg_sess_take_held(t, &held, got), 0);
	assert_true(sa_ok(got, window, 6, 1, 1));
	assert_int_equal(sg_sess_reclaim(t, 1), 1);
	assert_int_equal(stats(t).cbc_in_use, 0);
	sa_free(got, window);
	sg_sess_table_destroy(t);
}

/*
 * The limit: cbc_capacity CBC sessions, then cbc_full (-ENOSPC, counted)
 * for a CBC insert and for re-keying an AEAD session to CBC keys, while
 * AEAD sessions still go in and a CBC session re-keys within its pool;
 * one CBC session out, one in. Rows: the limit given, the default
 * (capacity / 16), and SG_SESS_P_NO_CBC.
 */
static void test_cbc_limit(void **state)
{
	static const struct {
		uint32_t capacity, cbc, flags, limit;
	} rows[] = {
		{ 64, 3, 0, 3 },
		{ 64, 0, 0, 4 }, /* default: 64 / 16 */
		{ 8, 0, 0, 1 },  /* default, at least 1 */
		{ 64, 0, SG_SESS_P_NO_CBC, 0 },
		{ 32, 32, 0, 32 }, /* every session may be CBC */
	};
	const unsigned window = 128;

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct sg_sess_table *t = mk_table(rows[i].capacity, window, rows[i].cbc,
		                                   rows[i].flags | SG_SESS_P_LAZY);
		struct sg_rec_sa *sa = sa_alloc(window);
		uint64_t cbc_ids[64], aead_id, id;
		uint32_t k = 0;
		struct sg_sess_stats st;

		for (; k < rows[i].limit; k++)
			assert_int_equal(ins(t, window, k, 1, &cbc_ids[k], NULL), 0);
		assert_int_equal(ins(t, window, k, 1, &id, NULL), -ENOSPC);
		st = stats(t);
		assert_int_equal(st.cbc_live, rows[i].limit);
		assert_int_equal(st.live, rows[i].limit);
		if (rows[i].limit == rows[i].capacity) {
			/* The table is full: that is told first. */
			assert_int_equal(st.refused[SG_SESS_REFUSE_FULL], 1);
			assert_int_equal(st.refused[SG_SESS_REFUSE_CBC_FULL], 0);
			sg_sess_table_destroy(t);
			sa_free(sa, window);
			continue;
		}
		assert_int_equal(st.refused[SG_SESS_REFUSE_CBC_FULL], 1);
		assert_int_equal(st.refused[SG_SESS_REFUSE_FULL], 0);
		/* AEAD sessions are not in the CBC pool's way. */
		assert_int_equal(ins(t, window, 100, 0, &aead_id, NULL), 0);
		/* Re-keying an AEAD session to CBC keys: the same limit. */
		mk_sa(sa, window, 100, 2, 1);
		assert_int_equal(sg_sess_replace(t, aead_id, sa), -ENOSPC);
		assert_int_equal(stats(t).refused[SG_SESS_REFUSE_CBC_FULL], 2);
		if (rows[i].limit > 0) {
			/* A CBC session re-keys within the pool (its reserve holds the old keys).
			 */
			mk_sa(sa, window, 0, 2, 1);
			assert_int_equal(sg_sess_replace(t, cbc_ids[0], sa), 0);
			assert_int_equal(stats(t).cbc_live, rows[i].limit);
			assert_int_equal(stats(t).cbc_in_use, rows[i].limit + 1);
			/* One out, one in. */
			assert_int_equal(sg_sess_delete(t, cbc_ids[0]), 0);
			assert_int_equal(sg_sess_reclaim(t, 1), 1);
			assert_int_equal(stats(t).cbc_in_use, rows[i].limit - 1);
			assert_int_equal(ins(t, window, 200, 1, &id, NULL), 0);
		}
		assert_int_equal(stats(t).refused[SG_SESS_REFUSE_CBC_FULL], 2);
		sa_free(sa, window);
		sg_sess_table_destroy(t);
	}
}

/*
 * The pool's reserve, exhausted by re-keys that keep previous CBC keys:
 * refused as cbc_full too, and retiring the previous keys gives it back.
 */
static void test_cbc_reserve(void **state)
{
	const unsigned window = 128;
	/* 2 CBC sessions, a reserve of 64 (the minimum): 66 SAs. */
	struct sg_sess_table *t = mk_table(256, window, 2, SG_SESS_P_LAZY);
	struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
	struct sg_rec_sa *sa = sa_alloc(window);
	uint64_t ids[80];
	unsigned n = 0;

	(void)state;
	assert_non_null(w);
	/* A worker online and never quiescent: nothing replaced is reclaimed. */
	sg_sess_worker_online(w);
	assert_int_equal(ins(t, window, 0, 1, &ids[0], NULL), 0);
	assert_int_equal(ins(t, window, 1, 1, &ids[1], NULL), 0);
	for (uint16_t v = 2;; v++) {
		int rc;

		mk_sa(sa, window, v % 2, v, 1);
		rc = sg_sess_replace(t, ids[v % 2], sa);
		if (rc != 0) {
			assert_int_equal(rc, -ENOSPC);
			break;
		}
		n++;
		assert_true(n <= 64);
	}
	/* Every replace parks a previous SA until reclaimed: 64 fit. */
	assert_int_equal(n, 64);
	assert_int_equal(stats(t).cbc_in_use, 66);
	assert_int_equal(stats(t).refused[SG_SESS_REFUSE_CBC_FULL], 1);
	assert_int_equal(stats(t).refused[SG_SESS_REFUSE_SA_RESERVE], 0);
	sg_sess_quiescent(w);
	sg_sess_reclaim(t, 1);
	/* The two sessions' previous keys are kept until retired; the rest came back. */
	assert_int_equal(stats(t).cbc_in_use, 4);
	mk_sa(sa, window, 0, 1000, 1);
	assert_int_equal(sg_sess_replace(t, ids[0], sa), 0);
	sg_sess_worker_offline(w);
	sg_sess_worker_destroy(w);
	sa_free(sa, window);
	sg_sess_table_destroy(t);
}

/*
 * Restore (issue 15) of mixed sessions in one bulk at their ids: the CBC
 * ones' MAC lines come back; one past the CBC limit is refused alone.
 */
static void test_cbc_restore_bulk(void **state)
{
	enum { N = 12 };
	const unsigned window = 512;
	struct sg_sess_table *t = mk_table(64, window, 5, 0);
	size_t sz = sg_rec_sa_size_max(window);
	uint8_t *bufs = aligned_alloc(SG_CACHE_LINE, N * sz);
	struct sg_rec_sa *got = sa_alloc(window);
	struct sg_sess_new news[N];
	uint64_t ids[N];
	int rcs[N];
	unsigned cbc = 0;

	(void)state;
	assert_non_null(bufs);
	for (uint32_t k = 0; k < N; k++) {
		struct sg_rec_sa *sa = (struct sg_rec_sa *)(void *)(bufs + k * sz);

		mk_sa(sa, window, k, 3, k % 2 == 1);
		news[k] = st_new(sa, k, k % 3 == 0, SG_SESS_F_TUPLE | SG_SESS_F_ID);
		news[k].id = (uint64_t)(7 + k) << 32 | (2 * k + 1);
	}
	/* 6 CBC rows (k odd), limit 5: the last CBC row (k = 11) is refused. */
	assert_int_equal(sg_sess_insert_bulk(t, news, N, ids, NULL, rcs), N - 1);
	for (uint32_t k = 0; k < N; k++) {
		int cbc_row = k % 2 == 1;

		if (cbc_row && ++cbc > 5) {
			assert_int_equal(rcs[k], -ENOSPC);
			continue;
		}
		assert_int_equal(rcs[k], 0);
		assert_int_equal(ids[k], news[k].id);
		memset(got, 0, sz);
		assert_int_equal(sg_sess_get_sa(t, ids[k], got), 0);
		assert_true(sa_ok(got, window, k, 3, cbc_row));
	}
	assert_int_equal(stats(t).refused[SG_SESS_REFUSE_CBC_FULL], 1);
	assert_int_equal(stats(t).cbc_live, 5);
	sg_wipe(bufs, N * sz);
	free(bufs);
	sa_free(got, window);
	sg_sess_table_destroy(t);
}

/* Parameters: cbc_capacity above capacity, or given with NO_CBC, is EINVAL. */
static void test_cbc_params(void **state)
{
	static const struct sg_sess_params bad[] = {
		{ .capacity = 16, .cbc_capacity = 17 },
		{ .capacity = 16, .cbc_capacity = 1, .flags = SG_SESS_P_NO_CBC },
	};

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(bad); i++) {
		errno = 0;
		assert_null(sg_sess_table_create(&bad[i]));
		assert_int_equal(errno, EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cbc_roundtrip),    cmocka_unit_test(test_cbc_take),
		cmocka_unit_test(test_cbc_limit),        cmocka_unit_test(test_cbc_reserve),
		cmocka_unit_test(test_cbc_restore_bulk), cmocka_unit_test(test_cbc_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
