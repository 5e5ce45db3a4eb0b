/* SPDX-License-Identifier: Apache-2.0 */
/*
 * include/stormgate/bytes.h and time.h: every load and store width against
 * bytes written out by hand (network order, RFC 1700), at every alignment,
 * with guard bytes that a store must not touch; the monotonic clock never
 * goes back and its milliseconds are its nanoseconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/time.h>

struct row {
	unsigned width; /* bytes */
	uint64_t value;
	uint8_t wire[8];
};

static const struct row rows[] = {
	{ 2, 0x0102, { 0x01, 0x02 } },
	{ 2, 0xfefd, { 0xfe, 0xfd } },
	{ 3, 0x010203, { 0x01, 0x02, 0x03 } },
	{ 3, 0xffffff, { 0xff, 0xff, 0xff } },
	{ 4, 0x01020304, { 0x01, 0x02, 0x03, 0x04 } },
	{ 4, 0x80000001, { 0x80, 0x00, 0x00, 0x01 } },
	{ 6, 0x010203040506, { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06 } },
	{ 6, 0xffffffffffff, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
	{ 8, 0x0102030405060708, { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 } },
	{ 8, 0x8000000000000001, { 0x80, 0, 0, 0, 0, 0, 0, 0x01 } },
};

static uint64_t load(unsigned width, const uint8_t *p)
{
	switch (width) {
	case 2:
		return sg_load_be16(p);
	case 3:
		return sg_load_be24(p);
	case 4:
		return sg_load_be32(p);
	case 6:
		return sg_load_be48(p);
	default:
		return sg_load_be64(p);
	}
}

static void store(unsigned width, uint8_t *p, uint64_t v)
{
	switch (width) {
	case 2:
		sg_store_be16(p, (uint16_t)v);
		break;
	case 3:
		sg_store_be24(p, (uint32_t)v);
		break;
	case 4:
		sg_store_be32(p, (uint32_t)v);
		break;
	case 6:
		sg_store_be48(p, v);
		break;
	default:
		sg_store_be64(p, v);
		break;
	}
}

static void test_loads_and_stores(void **state)
{
	(void)state;
	for (size_t r = 0; r < SG_ARRAY_SIZE(rows); r++) {
		const struct row *w = &rows[r];

		for (unsigned off = 0; off < 8; off++) {
			uint8_t buf[24], want[24];

			memset(buf, 0xa5, sizeof(buf));
			memcpy(buf + off, w->wire, w->width);
			assert_int_equal(load(w->width, buf + off), w->value);

			memset(buf, 0xa5, sizeof(buf));
			memcpy(want, buf, sizeof(want));
			memcpy(want + off, w->wire, w->width);
			store(w->width, buf + off, w->value);
			assert_memory_equal(buf, want, sizeof(buf));
		}
	}
}

/* Stores of 24 and 48 bits take the low bits of a wider value and drop the rest. */
static void test_stores_truncate(void **state)
{
	uint8_t b[8];

	(void)state;
	sg_store_be24(b, 0xaa010203u);
	assert_memory_equal(b, ((const uint8_t[]){ 0x01, 0x02, 0x03 }), 3);
	sg_store_be48(b, UINT64_C(0xaabb010203040506));
	assert_memory_equal(b, ((const uint8_t[]){ 0x01, 0x02, 0x03, 0x04, 0x05, 0x06 }), 6);
}

static void test_monotonic(void **state)
{
	uint64_t prev = sg_mono_ns(), ms = sg_mono_ms();

	(void)state;
	assert_true(prev > 0);
	for (unsigned i = 0; i < 100000; i++) {
		uint64_t now = sg_mono_ns();

		assert_true(now >= prev);
		prev = now;
	}
	/* The same clock in milliseconds: never ahead of the nanoseconds read after it. */
	assert_true(ms <= sg_mono_ns() / SG_NS_PER_MS);
	assert_true(sg_mono_ms() >= ms);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loads_and_stores),
		cmocka_unit_test(test_stores_truncate),
		cmocka_unit_test(test_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
