/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The 4-tuple index's bucket match (dataplane/session/bucket.h), step by
 * step: a table of buckets against a plain scan, then the writer's moves
 * between the tag compare and the taking of the slot played one at a time.
 * A way emptied in between must give "no match", never the empty entry's
 * slot half (0, a real slot); a way given to another key must not give that
 * key's slot; a second way with the same tag is still found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bucket.h"

#define TAG_A 0x1234abcdu
#define TAG_B 0x0badf00du

/* An index entry: tag << 32 | slot. */
#define ENTRY(tag, slot) ((uint64_t)(tag) << 32 | (uint32_t)(slot))

/* The obvious answer: the first way with the tag, read as the writer left it. */
static uint32_t ref_match(const struct sess_bucket *bk, uint32_t tw)
{
	for (unsigned j = 0; j < SESS_BUCKET_WAYS; j++)
		if ((uint32_t)(bk->e[j] >> 32) == tw)
			return (uint32_t)bk->e[j];
	return SESS_NONE;
}

static const struct {
	const char *name;
	uint64_t e[SESS_BUCKET_WAYS];
	uint32_t tw;
} rows[] = {
	{ "empty bucket", { 0 }, TAG_A },
	{ "first way", { ENTRY(TAG_A, 7) }, TAG_A },
	{ "last way", { [7] = ENTRY(TAG_A, 9) }, TAG_A },
	{ "slot 0 is a slot", { [3] = ENTRY(TAG_A, 0) }, TAG_A },
	{ "other tags only", { ENTRY(TAG_B, 1), ENTRY(TAG_B, 2), [6] = ENTRY(TAG_B, 3) }, TAG_A },
	{ "two ways, same tag: the first",
	  { [2] = ENTRY(TAG_A, 11), [5] = ENTRY(TAG_A, 12) },
	  TAG_A },
	{ "secondary-bucket tag differs from the primary one",
	  { [1] = ENTRY(TAG_A, 4), [4] = ENTRY(TAG_A | SESS_TAG_ALT, 5) },
	  TAG_A | SESS_TAG_ALT },
	{ "slot half equal to the tag", { [1] = ENTRY(TAG_B, TAG_A) }, TAG_A },
	{ "full bucket",
	  { ENTRY(1, 1), ENTRY(2, 2), ENTRY(3, 3), ENTRY(4, 4), ENTRY(5, 5), ENTRY(6, 6),
	    ENTRY(7, 7), ENTRY(8, 8) },
	  6 },
};

static void test_match_table(void **state)
{
	struct sess_bucket bk;

	(void)state;
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		uint32_t want, got;

		memcpy(bk.e, rows[r].e, sizeof(bk.e));
		want = ref_match(&bk, rows[r].tw);
		got = sess_bucket_match(&bk, rows[r].tw);
		if (got != want)
			fail_msg("row '%s': slot %u, want %u", rows[r].name, got, want);
	}
}

/* The writer moves right after the compare found way 3. */
static void test_writer_between(void **state)
{
	struct sess_bucket bk;
	unsigned j;

	(void)state;
	memset(&bk, 0, sizeof(bk));
	bk.e[1] = ENTRY(TAG_B, 21);
	bk.e[3] = ENTRY(TAG_A, 42);
	j = sess_bucket_first(&bk, TAG_A);
	assert_int_equal(j, 3);

	/* Deleted: the way is empty now. Its slot half reads 0; that is no match. */
	__atomic_store_n(&bk.e[3], 0, __ATOMIC_RELEASE);
	assert_int_equal(sess_bucket_take(&bk, j, TAG_A), SESS_NONE);

	/* The way went to another key at once: its slot is not ours either. */
	__atomic_store_n(&bk.e[3], ENTRY(TAG_B, 43), __ATOMIC_RELEASE);
	assert_int_equal(sess_bucket_take(&bk, j, TAG_A), SESS_NONE);

	/* A second key with the same tag lives in way 6: found on the second look. */
	bk.e[3] = ENTRY(TAG_A, 42);
	bk.e[6] = ENTRY(TAG_A, 44);
	j = sess_bucket_first(&bk, TAG_A);
	assert_int_equal(j, 3);
	__atomic_store_n(&bk.e[3], 0, __ATOMIC_RELEASE);
	assert_int_equal(sess_bucket_take(&bk, j, TAG_A), 44);

	/* Unchanged in between: the slot the compare found. */
	bk.e[3] = ENTRY(TAG_A, 42);
	assert_int_equal(sess_bucket_take(&bk, sess_bucket_first(&bk, TAG_A), TAG_A), 42);
	assert_int_equal(sess_bucket_first(&bk, 0x77777777u), SESS_BUCKET_WAYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_writer_between),
	};

	return cmocka_run_group_tests_name("bucket", tests, NULL, NULL);
}
