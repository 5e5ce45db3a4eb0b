/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storm admission driven by a synthetic clock: the global rate (burst,
 * steady rate, rate changes, unlimited) and the per-source buckets (a
 * flooding source held to its share while others get the rest, prefixes
 * grouping addresses, a share below one a second, charged to both or
 * neither, the keyed bucket hash).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/bytes.h>

#include "sg_admit.h"

#define MS 1000000ull
#define S  1000000000ull

static void test_rate(void **state)
{
	struct sg_admit a;
	uint64_t t = 1000 * S, ok = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	/* Unlimited: everything passes and is counted. */
	sg_admit_set_rate(&a, 0, t);
	for (int i = 0; i < 100000; i++)
		assert_true(sg_admit_take(&a, t));
	assert_int_equal(a.admitted, 100000);
	assert_int_equal(sg_admit_available(&a, t), 0);

	/* 100/s: a burst of one second's worth at once, then nothing. */
	sg_admit_set_rate(&a, 100, t);
	assert_int_equal(sg_admit_available(&a, t), 100);
	for (int i = 0; i < 150; i++)
		ok += sg_admit_take(&a, t);
	assert_int_equal(ok, 100);
	assert_int_equal(a.refused, 50);
	assert_int_equal(sg_admit_available(&a, t), 0);
	/* 10 ms later, one more (one every 10 ms). */
	assert_false(sg_admit_take(&a, t + 9 * MS));
	assert_true(sg_admit_take(&a, t + 10 * MS));
	assert_false(sg_admit_take(&a, t + 10 * MS));

	/* Steady offered load of 1000/s for 10 s admits ~100/s. */
	t += 10 * S; /* bucket full again */
	ok = 0;
	for (int i = 0; i < 10000; i++)
		ok += sg_admit_take(&a, t + (uint64_t)i * MS);
	assert_true(ok >= 100 * 10 + 99 && ok <= 100 * 10 + 101); /* 10 s of rate + the burst */

	/* A new rate applies at once, with a full burst. */
	t += 100 * S;
	sg_admit_set_rate(&a, 5, t);
	ok = 0;
	for (int i = 0; i < 10; i++)
		ok += sg_admit_take(&a, t);
	assert_int_equal(ok, 5);
	/* A huge rate: the interval never rounds to 0. */
	sg_admit_set_rate(&a, 4000000000u, t);
	assert_true(a.interval >= 1);
	assert_true(sg_admit_take(&a, t));
}

/* 16-byte source addresses: IPv4-mapped a.b.c.d, or fd00:5347:<hi>::<lo>. */
static void v4(uint8_t out[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = a;
	out[13] = b;
	out[14] = c;
	out[15] = d;
}

static void v6(uint8_t out[16], uint16_t hi, uint16_t lo)
{
	memset(out, 0, 16);
	out[0] = 0xfd;
	out[2] = 0x53;
	out[3] = 0x47;
	sg_store_be16(out + 4, hi);
	sg_store_be16(out + 14, lo);
}

static const uint8_t KEY[16] = { 0x53, 0x47, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };

static void setup_limiter(struct sg_admit *a, struct sg_admit_sources **src, uint32_t rate,
                          uint32_t share, uint64_t t)
{
	memset(a, 0, sizeof(*a));
	*src = sg_admit_sources_create(KEY);
	assert_non_null(*src);
	sg_admit_sources_attach(a, *src);
	sg_admit_set_rate(a, rate, t);
	assert_int_equal(sg_admit_set_sources(a, share, 24, 64), 0);
}

/*
 * Issue 12 item 3: one source flooding at 10x the rate while 8 others ask
 * for their handshakes: the flood is held to its share, the others get the
 * rest of the rate. 20/s, share 25 %: the flood gets 5/s.
 */
static void test_source_share(void **state)
{
	struct sg_admit a;
	struct sg_admit_sources *src;
	uint64_t t = 1000 * S, flood_ok = 0, dev_ok = 0, dev_asked = 0;
	uint8_t flood[16], dev[8][16];

	(void)state;
	setup_limiter(&a, &src, 20, 25, t);
	v4(flood, 198, 18, 1, 77);
	for (int d = 0; d < 8; d++)
		v4(dev[d], 198, 18, (uint8_t)(10 + d), 2);
	/* Distinct buckets for this key (a collision would merge two shares). */
	for (int d = 0; d < 8; d++) {
		assert_int_not_equal(sg_admit_source_bucket(&a, dev[d]),
		                     sg_admit_source_bucket(&a, flood));
		for (int e = 0; e < d; e++)
			assert_int_not_equal(sg_admit_source_bucket(&a, dev[d]),
			                     sg_admit_source_bucket(&a, dev[e]));
	}
	/* 10 s: the flood asks every 5 ms (200/s), each device every 250 ms (32/s in all). */
	for (uint64_t ms = 0; ms < 10000; ms += 5) {
		flood_ok += sg_admit_take_from(&a, flood, t + ms * MS) == SG_ADMIT_OK;
		if (ms % 250 == 0) {
			for (int d = 0; d < 8; d++) {
				dev_asked++;
				dev_ok +=
				        sg_admit_take_from(&a, dev[d], t + ms * MS) == SG_ADMIT_OK;
			}
		}
	}
	/* The flood: its burst (5) and 5/s after it. */
	assert_true(flood_ok >= 5 * 10 && flood_ok <= 5 * 10 + 6);
	/* The devices: the rest of 20/s (and the global burst), at least 90 % of 15/s. */
	assert_true(dev_ok >= 15 * 10 * 9 / 10);
	assert_true(flood_ok + dev_ok <= 20 * 10 + 20 + 1);
	assert_int_equal(a.admitted, flood_ok + dev_ok);
	assert_int_equal(a.refused, a.refused_rate + a.refused_source);
	assert_true(a.refused_source >= 2000 - 56);
	assert_int_equal(a.refused, 2000 + dev_asked - flood_ok - dev_ok);
	sg_admit_sources_destroy(src);
}

/* Addresses in one prefix share a bucket; the prefix lengths say what one source is. */
static void test_source_prefix(void **state)
{
	struct sg_admit a;
	struct sg_admit_sources *src;
	uint64_t t = 1000 * S;
	uint8_t x[16], y[16];
	int ok;

	(void)state;
	setup_limiter(&a, &src, 100, 10, t); /* 10/s per source, burst 10 */
	v4(x, 198, 18, 1, 2);
	v4(y, 198, 18, 1, 200); /* the same /24 */
	assert_int_equal(sg_admit_source_bucket(&a, x), sg_admit_source_bucket(&a, y));
	ok = 0;
	for (int i = 0; i < 20; i++)
		ok += sg_admit_take_from(&a, i % 2 ? x : y, t) == SG_ADMIT_OK;
	assert_int_equal(ok, 10);
	assert_int_equal(a.refused_source, 10);
	/* /32: each address is a source (a private APN whose devices own their addresses). */
	assert_int_equal(sg_admit_set_sources(&a, 10, 32, 64), 0);
	assert_int_not_equal(sg_admit_source_bucket(&a, x), sg_admit_source_bucket(&a, y));
	ok = 0;
	for (int i = 0; i < 20; i++)
		ok += sg_admit_take_from(&a, i % 2 ? x : y, t) == SG_ADMIT_OK;
	assert_int_equal(ok, 20); /* buckets refilled by the change; 10 each */
	/* IPv6: one /64 is one source, the next /64 another; IPv4 never meets IPv6. */
	v6(x, 1, 2);
	v6(y, 1, 0xffff);
	assert_int_equal(sg_admit_source_bucket(&a, x), sg_admit_source_bucket(&a, y));
	v6(y, 2, 2);
	assert_int_not_equal(sg_admit_source_bucket(&a, x), sg_admit_source_bucket(&a, y));
	/* Bad settings change nothing. */
	assert_int_equal(sg_admit_set_sources(&a, 0, 24, 64), -EINVAL);
	assert_int_equal(sg_admit_set_sources(&a, 101, 24, 64), -EINVAL);
	assert_int_equal(sg_admit_set_sources(&a, 10, 33, 64), -EINVAL);
	assert_int_equal(sg_admit_set_sources(&a, 10, 24, 129), -EINVAL);
	assert_int_equal(a.prefix4, 32);
	sg_admit_sources_destroy(src);
}

/* Charged to both or to neither; a share under one a second still admits one; 100 % is off. */
static void test_source_edges(void **state)
{
	struct sg_admit a;
	struct sg_admit_sources *src, *other;
	uint64_t t = 1000 * S;
	uint8_t x[16], y[16];
	uint32_t same = 0;

	(void)state;
	/* rate 2, share 25 %: half a handshake a second per source: one, then one per 2 s. */
	setup_limiter(&a, &src, 2, 25, t);
	v4(x, 198, 18, 1, 2);
	assert_int_equal(sg_admit_take_from(&a, x, t), SG_ADMIT_OK);
	assert_int_equal(sg_admit_take_from(&a, x, t + 1 * S), SG_ADMIT_REFUSED_SOURCE);
	assert_int_equal(sg_admit_take_from(&a, x, t + 2 * S), SG_ADMIT_OK);
	/* The global bucket refused: the source's bucket is not charged. */
	v4(y, 198, 18, 2, 2);
	sg_admit_sources_destroy(src);
	setup_limiter(&a, &src, 1, 100, t);
	assert_int_equal(sg_admit_take_from(&a, y, t), SG_ADMIT_OK); /* share 100: global only */
	assert_int_equal(sg_admit_take_from(&a, y, t), SG_ADMIT_REFUSED_RATE);
	assert_int_equal(sg_admit_set_sources(&a, 50, 24, 64), 0); /* 0.5/s per source */
	sg_admit_set_rate(&a, 1, t + 10 * S);                      /* global full again */
	assert_int_equal(sg_admit_take_from(&a, x, t + 10 * S), SG_ADMIT_OK);
	assert_int_equal(sg_admit_take_from(&a, y, t + 10 * S), SG_ADMIT_REFUSED_RATE);
	/* y's own bucket was not charged by that refusal: it passes once the global refills. */
	assert_int_equal(sg_admit_take_from(&a, y, t + 11 * S), SG_ADMIT_OK);
	assert_int_equal(a.refused_rate, 2);
	/* Unlimited rate: no per-source limit either. */
	sg_admit_set_rate(&a, 0, t);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(sg_admit_take_from(&a, x, t), SG_ADMIT_OK);
	/* Another key puts prefixes in other buckets (the hash is keyed). */
	other = sg_admit_sources_create(NULL);
	assert_non_null(other);
	for (uint8_t c = 0; c < 64; c++) {
		uint32_t b1, b2;

		v4(x, 198, 18, c, 1);
		sg_admit_sources_attach(&a, src);
		b1 = sg_admit_source_bucket(&a, x);
		sg_admit_sources_attach(&a, other);
		b2 = sg_admit_source_bucket(&a, x);
		same += b1 == b2;
	}
	assert_true(same < 4);
	sg_admit_sources_destroy(other);
	sg_admit_sources_destroy(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_source_share),
		cmocka_unit_test(test_source_prefix),
		cmocka_unit_test(test_source_edges),
	};

	return cmocka_run_group_tests_name("admit", tests, NULL, NULL);
}
