/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The set of identities a credential import hands to the gateway thread
 * (control/mgmt/idset.h): rows of adds and lookups (lengths at the limits,
 * identities that differ in one byte or only in length, repeats), then a
 * hundred thousand identities through several growths of the table and the
 * arena, every one found again and walked in the order it was added.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "idset.h"
#include "sg_cred.h"

#define MANY 100000

static void test_rows(void **state)
{
	static uint8_t max[SG_CRED_IDENTITY_MAX + 1];
	static const struct {
		const char *what;
		const uint8_t *id;
		size_t len;
		int add;  /* mgmt_idset_add()'s answer */
		bool has; /* mgmt_idset_has() right after */
	} rows[] = {
		{ "empty identity", (const uint8_t *)"", 0, -EINVAL, false },
		{ "one byte", (const uint8_t *)"a", 1, 0, true },
		{ "the same again", (const uint8_t *)"a", 1, 1, true },
		{ "longer, same first byte", (const uint8_t *)"ab", 2, 0, true },
		{ "one byte different", (const uint8_t *)"ac", 2, 0, true },
		{ "a NUL inside", (const uint8_t *)"a\0c", 3, 0, true },
		{ "the longest", max, SG_CRED_IDENTITY_MAX, 0, true },
		{ "one byte too long", max, SG_CRED_IDENTITY_MAX + 1, -EINVAL, false },
	};
	struct mgmt_idset s = { 0 };
	uint32_t n = 0;

	(void)state;
	memset(max, 'x', sizeof(max));
	assert_false(mgmt_idset_has(&s, (const uint8_t *)"a", 1)); /* a zeroed set is empty */
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = mgmt_idset_add(&s, rows[i].id, rows[i].len);

		if (rc != rows[i].add || mgmt_idset_has(&s, rows[i].id, rows[i].len) != rows[i].has)
			fail_msg("%s: add %d (want %d)", rows[i].what, rc, rows[i].add);
		n += rc == 0;
	}
	assert_int_equal(s.n, n);
	assert_false(mgmt_idset_has(&s, (const uint8_t *)"b", 1));
	assert_false(mgmt_idset_has(&s, (const uint8_t *)"a\0", 2));
	assert_false(mgmt_idset_has(&s, max, SG_CRED_IDENTITY_MAX - 1));
	mgmt_idset_clear(&s);
	assert_int_equal(s.n, 0);
	assert_false(mgmt_idset_has(&s, (const uint8_t *)"a", 1));
	mgmt_idset_clear(&s); /* twice is fine */
}

static size_t name(unsigned i, char *buf, size_t cap)
{
	return (size_t)snprintf(buf, cap, "urn:dev:ops:idset-%07u", i);
}

static void test_many(void **state)
{
	struct mgmt_idset s = { 0 };
	const uint8_t *id;
	size_t cursor = 0, len;
	char buf[64];
	unsigned i = 0;

	(void)state;
	for (unsigned k = 0; k < MANY; k++) {
		size_t n = name(k, buf, sizeof(buf));

		assert_int_equal(mgmt_idset_add(&s, (const uint8_t *)buf, n), 0);
		if (k % 1000 == 0) /* a repeat now and then changes nothing */
			assert_int_equal(mgmt_idset_add(&s, (const uint8_t *)buf, n), 1);
	}
	assert_int_equal(s.n, MANY);
	assert_true(s.n_slots >= 2 * MANY);
	for (unsigned k = 0; k < MANY; k++) {
		size_t n = name(k, buf, sizeof(buf));

		assert_true(mgmt_idset_has(&s, (const uint8_t *)buf, n));
	}
	assert_false(mgmt_idset_has(&s, (const uint8_t *)"urn:dev:ops:idset-9999999", 25));
	while ((id = mgmt_idset_next(&s, &cursor, &len)) != NULL) {
		size_t n = name(i++, buf, sizeof(buf));

		assert_int_equal(len, n);
		assert_memory_equal(id, buf, n);
	}
	assert_int_equal(i, MANY);
	mgmt_idset_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
