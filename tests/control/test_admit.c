/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storm admission: the classification of punted datagrams (a table of
 * crafted records: ClientHello with and without cookie, other messages,
 * other epochs, fragments, truncations) and the rate limit driven by a
 * synthetic clock (burst, steady rate, rate changes, unlimited).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sg_admit.h"

#define MS 1000000ull
#define S  1000000000ull

/*
 * A DTLS 1.2 ClientHello datagram: record header (RFC 6347 §4.1), handshake
 * header (§4.2.2), client_version, random, session_id, cookie, and a short
 * tail (suites, compression). Returns its length.
 */
static size_t hello(uint8_t *b, uint8_t type, uint16_t epoch, uint8_t msg, uint32_t frag_off,
                    uint8_t sid_len, uint8_t cookie_len)
{
	size_t body = 2 + 32 + 1 + sid_len + 1 + cookie_len + 6, n = 13 + 12 + body;

	memset(b, 0, n);
	b[0] = type;
	b[1] = 0xfe;
	b[2] = 0xfd;
	b[3] = (uint8_t)(epoch >> 8);
	b[4] = (uint8_t)epoch;
	b[11] = (uint8_t)((12 + body) >> 8);
	b[12] = (uint8_t)(12 + body);
	b[13] = msg;
	b[14 + 2] = (uint8_t)body; /* length (24 bits) */
	b[13 + 6] = (uint8_t)(frag_off >> 16);
	b[13 + 7] = (uint8_t)(frag_off >> 8);
	b[13 + 8] = (uint8_t)frag_off;
	b[13 + 11] = (uint8_t)body; /* fragment_length */
	b[25] = 0xfe;
	b[26] = 0xfd;
	b[25 + 34] = sid_len;
	b[25 + 35 + sid_len] = cookie_len;
	for (unsigned i = 0; i < cookie_len; i++)
		b[25 + 36 + sid_len + i] = (uint8_t)(0xa0 + i);
	return n;
}

static void test_classify(void **state)
{
	static const struct {
		const char *name;
		uint8_t type;
		uint16_t epoch;
		uint8_t msg;
		uint32_t frag_off;
		uint8_t sid, cookie;
		int cut; /* bytes removed from the end (< 0: keep) */
		enum sg_admit_kind want;
	} rows[] = {
		{ "first ClientHello", 22, 0, 1, 0, 0, 0, -1, SG_ADMIT_HELLO },
		{ "with a cookie", 22, 0, 1, 0, 0, 32, -1, SG_ADMIT_HELLO_COOKIE },
		{ "session id and cookie", 22, 0, 1, 0, 32, 16, -1, SG_ADMIT_HELLO_COOKIE },
		{ "session id, no cookie", 22, 0, 1, 0, 32, 0, -1, SG_ADMIT_HELLO },
		{ "ClientKeyExchange", 22, 0, 16, 0, 0, 0, -1, SG_ADMIT_OTHER },
		{ "epoch 1 (a session's record)", 22, 1, 1, 0, 0, 32, -1, SG_ADMIT_OTHER },
		{ "application data", 23, 0, 1, 0, 0, 0, -1, SG_ADMIT_OTHER },
		{ "alert", 21, 0, 1, 0, 0, 0, -1, SG_ADMIT_OTHER },
		{ "later fragment", 22, 0, 1, 100, 0, 32, -1, SG_ADMIT_OTHER },
		/* Cut inside the cookie: its length byte is there. */
		{ "truncated in the cookie", 22, 0, 1, 0, 0, 32, 20, SG_ADMIT_HELLO_COOKIE },
		/* Cut before the cookie length: nothing to tell, a plain hello. */
		{ "truncated in the session id", 22, 0, 1, 0, 32, 16, 40, SG_ADMIT_HELLO },
		{ "shorter than a hello", 22, 0, 1, 0, 0, 0, 30, SG_ADMIT_OTHER },
	};
	uint8_t b[512];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = hello(b, rows[i].type, rows[i].epoch, rows[i].msg, rows[i].frag_off,
		                 rows[i].sid, rows[i].cookie);
		enum sg_admit_kind k;

		if (rows[i].cut >= 0)
			n -= (size_t)rows[i].cut;
		k = sg_admit_classify(b, n);
		if (k != rows[i].want) {
			print_message("%s: got %d want %d\n", rows[i].name, k, rows[i].want);
			fail();
		}
	}
	/* A fragment_length smaller than the body ends the parse there. */
	size_t n = hello(b, 22, 0, 1, 0, 0, 32);
	b[13 + 11] = 20;
	assert_int_equal(sg_admit_classify(b, n), SG_ADMIT_HELLO);
	/* A record length past the datagram is bounded by the datagram. */
	b[13 + 11] = 200;
	b[11] = 0xff;
	b[12] = 0xff;
	assert_int_equal(sg_admit_classify(b, n), SG_ADMIT_HELLO_COOKIE);
	/* Record length under a handshake header. */
	b[11] = 0;
	b[12] = 5;
	assert_int_equal(sg_admit_classify(b, n), SG_ADMIT_OTHER);
	assert_int_equal(sg_admit_classify(NULL, 100), SG_ADMIT_OTHER);
	assert_int_equal(sg_admit_classify(b, 0), SG_ADMIT_OTHER);
}

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_rate),
	};

	return cmocka_run_group_tests_name("admit", tests, NULL, NULL);
}
