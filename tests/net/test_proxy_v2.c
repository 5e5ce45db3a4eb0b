/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PROXY v2 codec: a header written out byte by byte from the specification,
 * round trips for both families, the identity's kind (TLV 0xE1 and the SSL
 * TLV's certificate bits), and a table of malformed headers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/proxy_v2.h>

/*
 * IPv4 device 198.18.1.2:40000 -> 198.18.1.1:5684, session 0x0102030405060708
 * with token f0..f7, identity "dev1".
 */
static const uint8_t spec_v4[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, /* signature */
	0x21,       /* version 2, PROXY */
	0x12,       /* AF_INET, DGRAM */
	0x00, 0x39, /* 57 bytes follow */
	198,  18,   1,    2,    198,  18,   1,    1,    0x9c, 0x40, 0x16, 0x34,
	0x20, 0x00, 0x10, 0x01, 0,    0,    0,    0, /* PP2_TYPE_SSL: client SSL, verified */
	0x21, 0x00, 0x08, 'D',  'T',  'L',  'S',  'v',  '1',  '.',  '2',  0x05,
	0x00, 0x10, 1,    2,    3,    4,    5,    6,    7,    8, /* UNIQUE_ID: session, */
	0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,          /* then its token */
	0xe0, 0x00, 0x04, 'd',  'e',  'v',  '1',                 /* PSK identity */
};

static const uint8_t spec_token[SG_PP2_TOKEN_LEN] = {
	0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7
};

static void fill_v4(struct sg_pp2_info *in)
{
	static const uint8_t id[] = "dev1";

	memset(in, 0, sizeof(*in));
	in->family = 4;
	memcpy(in->src, (uint8_t[]){ 198, 18, 1, 2 }, 4);
	memcpy(in->dst, (uint8_t[]){ 198, 18, 1, 1 }, 4);
	in->sport = 40000;
	in->dport = 5684;
	in->has_session = true;
	in->session = 0x0102030405060708ull;
	memcpy(in->token, spec_token, sizeof(in->token));
	in->identity = id;
	in->identity_len = 4;
}

static void test_spec_bytes(void **state)
{
	uint8_t buf[SG_PP2_MAX_LEN];
	struct sg_pp2_info in, out;

	(void)state;
	fill_v4(&in);
	assert_int_equal(sg_pp2_encode(buf, sizeof(buf), &in), sizeof(spec_v4));
	assert_memory_equal(buf, spec_v4, sizeof(spec_v4));
	assert_int_equal(sg_pp2_decode(spec_v4, sizeof(spec_v4), &out), sizeof(spec_v4));
	assert_int_equal(out.family, 4);
	assert_memory_equal(out.src, in.src, 4);
	assert_memory_equal(out.dst, in.dst, 4);
	assert_int_equal(out.sport, 40000);
	assert_int_equal(out.dport, 5684);
	assert_true(out.has_session);
	assert_true(out.session == in.session);
	assert_memory_equal(out.token, spec_token, SG_PP2_TOKEN_LEN);
	assert_int_equal(out.identity_len, 4);
	assert_memory_equal(out.identity, "dev1", 4);
}

static void test_round_trip_v6_longest(void **state)
{
	uint8_t buf[SG_PP2_MAX_LEN + 100], id[SG_PP2_IDENTITY_MAX];
	struct sg_pp2_info in = { .family = 6, .sport = 1, .dport = 65535 }, out;
	int n;

	(void)state;
	for (unsigned i = 0; i < sizeof(id); i++)
		id[i] = (uint8_t)i;
	for (int i = 0; i < 16; i++) {
		in.src[i] = (uint8_t)(0xfd + i);
		in.dst[i] = (uint8_t)(0x10 + i);
	}
	in.identity = id;
	in.identity_len = sizeof(id);
	in.has_session = true;
	in.session = UINT64_MAX;
	in.auth = SG_PP2_AUTH_RPK; /* the auth TLV too: the longest header */
	memset(in.token, 0xa5, sizeof(in.token));
	n = sg_pp2_encode(buf, sizeof(buf), &in);
	assert_int_equal(n, SG_PP2_MAX_LEN);
	assert_int_equal(sg_pp2_encode(buf, (uint32_t)n - 1, &in), -ENOSPC);
	memcpy(buf + n, "payload", 7);
	assert_int_equal(sg_pp2_decode(buf, (uint32_t)n + 7, &out), n);
	assert_int_equal(out.family, 6);
	assert_memory_equal(out.src, in.src, 16);
	assert_memory_equal(out.dst, in.dst, 16);
	assert_int_equal(out.identity_len, sizeof(id));
	assert_memory_equal(out.identity, id, sizeof(id));
	assert_true(out.session == UINT64_MAX);
	assert_memory_equal(out.token, in.token, SG_PP2_TOKEN_LEN);
	assert_int_equal(out.auth, SG_PP2_AUTH_RPK);

	/* Without session or identity. */
	in.has_session = false;
	in.identity_len = 0;
	n = sg_pp2_encode(buf, sizeof(buf), &in);
	assert_int_equal(sg_pp2_decode(buf, (uint32_t)n, &out), n);
	assert_false(out.has_session);
	assert_int_equal(out.identity_len, 0);
}

static void test_encode_errors(void **state)
{
	uint8_t buf[SG_PP2_MAX_LEN];
	struct sg_pp2_info in;

	(void)state;
	fill_v4(&in);
	in.family = 5;
	assert_int_equal(sg_pp2_encode(buf, sizeof(buf), &in), -EINVAL);
	fill_v4(&in);
	in.identity_len = SG_PP2_IDENTITY_MAX + 1;
	assert_int_equal(sg_pp2_encode(buf, sizeof(buf), &in), -EINVAL);
	fill_v4(&in);
	in.auth = SG_PP2_AUTH_MAX;
	assert_int_equal(sg_pp2_encode(buf, sizeof(buf), &in), -EINVAL);
}

/*
 * The identity's kind: nothing more for a PSK (the header as it always was,
 * test_spec_bytes), TLV 0xE1 of one byte otherwise, and for a certificate or
 * a raw public key PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS in the SSL
 * TLV's client field (byte 31 of the IPv4 header).
 */
static void test_auth_kinds(void **state)
{
	static const struct {
		uint8_t auth;
		uint8_t client; /* PP2_TYPE_SSL's client field */
	} rows[] = {
		{ SG_PP2_AUTH_PSK, 0x01 },
		{ SG_PP2_AUTH_X509, 0x07 },
		{ SG_PP2_AUTH_RPK, 0x07 },
		{ SG_PP2_AUTH_NONE, 0x01 },
	};
	uint8_t buf[SG_PP2_MAX_LEN];
	struct sg_pp2_info in, out;

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		int n;

		fill_v4(&in);
		in.auth = rows[i].auth;
		n = sg_pp2_encode(buf, sizeof(buf), &in);
		assert_int_equal(n, (int)sizeof(spec_v4) + (rows[i].auth ? 4 : 0));
		assert_int_equal(buf[31], rows[i].client);
		if (rows[i].auth != SG_PP2_AUTH_PSK) {
			assert_int_equal(buf[n - 4], SG_PP2_TYPE_AUTH);
			assert_int_equal(sg_load_be16(buf + n - 3), 1);
			assert_int_equal(buf[n - 1], rows[i].auth);
		}
		assert_int_equal(sg_pp2_decode(buf, (uint32_t)n, &out), n);
		assert_int_equal(out.auth, rows[i].auth);
		assert_int_equal(out.identity_len, 4);
		assert_memory_equal(out.identity, "dev1", 4);
	}
	/* A bad auth TLV: another length, or a kind we do not know. */
	fill_v4(&in);
	in.auth = SG_PP2_AUTH_X509;
	{
		int n = sg_pp2_encode(buf, sizeof(buf), &in);

		buf[n - 1] = SG_PP2_AUTH_MAX;
		assert_int_equal(sg_pp2_decode(buf, (uint32_t)n, &out), -EINVAL);
		buf[n - 1] = SG_PP2_AUTH_X509;
		buf[n - 2] = 2; /* length 2, past the header's end */
		assert_int_equal(sg_pp2_decode(buf, (uint32_t)n, &out), -EINVAL);
		buf[n - 2] = 0; /* length 0 */
		sg_store_be16(buf + 14, (uint16_t)(sg_load_be16(buf + 14) - 1));
		assert_int_equal(sg_pp2_decode(buf, (uint32_t)n - 1, &out), -EINVAL);
	}
}

struct bad {
	const char *name;
	unsigned at; /* byte to change */
	uint8_t value;
};

static const struct bad bad_rows[] = {
	{ "signature", 3, 0x00 },
	{ "version 1", 12, 0x11 },
	{ "LOCAL command", 12, 0x20 },
	{ "command 2", 12, 0x22 },
	{ "TCP over IPv4", 13, 0x11 },
	{ "AF_UNIX", 13, 0x32 },
	{ "unspecified family", 13, 0x02 },
	{ "length past datagram", 15, 0x3a },
	{ "length below addresses", 15, 11 },
	{ "TLV length past header", 30, 0x20 },
	{ "identity TLV empty", 68, 0x00 },
};

static void test_decode_table(void **state)
{
	uint8_t buf[sizeof(spec_v4)];
	struct sg_pp2_info out;

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(bad_rows); i++) {
		memcpy(buf, spec_v4, sizeof(buf));
		buf[bad_rows[i].at] = bad_rows[i].value;
		if (sg_pp2_decode(buf, sizeof(buf), &out) != -EINVAL)
			fail_msg("row '%s' accepted", bad_rows[i].name);
	}
	/* The identity TLV: type at offset 66, length at 67-68. */
	assert_int_equal(spec_v4[66], 0xe0);
}

/*
 * A UNIQUE_ID of another length than session + token (the 8-byte handle
 * alone, as before tokens, or anything else) names no session of ours: the
 * header parses, has_session stays false, so the data plane refuses it.
 */
static void test_unique_id_lengths(void **state)
{
	static const uint16_t lens[] = { 0, 1, 8, 15, 17, 32 };
	uint8_t buf[128];
	struct sg_pp2_info out;

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(lens); i++) {
		uint32_t n = 16 + 12; /* header and IPv4 addresses and ports */
		uint16_t body = (uint16_t)(12 + 3 + lens[i]);

		memcpy(buf, spec_v4, n);
		sg_store_be16(buf + 14, body);
		buf[n] = SG_PP2_TYPE_UNIQUE_ID;
		sg_store_be16(buf + n + 1, lens[i]);
		memset(buf + n + 3, 0x11, lens[i]);
		n += 3 + lens[i];
		assert_int_equal(sg_pp2_decode(buf, n, &out), (int)n);
		assert_false(out.has_session);
	}
	/* Exactly 16: the handle, then the token. */
	assert_int_equal(sg_pp2_decode(spec_v4, sizeof(spec_v4), &out), sizeof(spec_v4));
	assert_true(out.has_session);
}

static void test_truncations(void **state)
{
	struct sg_pp2_info out;

	(void)state;
	for (uint32_t n = 0; n < sizeof(spec_v4); n++) {
		uint8_t *t = test_malloc(n ? n : 1);

		memcpy(t, spec_v4, n);
		assert_int_equal(sg_pp2_decode(t, n, &out), -EINVAL);
		test_free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_bytes),    cmocka_unit_test(test_round_trip_v6_longest),
		cmocka_unit_test(test_encode_errors), cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_truncations),   cmocka_unit_test(test_unique_id_lengths),
		cmocka_unit_test(test_auth_kinds),
	};

	return cmocka_run_group_tests_name("proxy_v2", tests, NULL, NULL);
}
