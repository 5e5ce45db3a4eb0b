/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handshake codec: ClientHellos written out byte by byte from RFC 5246
 * §7.4.1.2 / RFC 6347 §4.2.1, a table of malformed and forbidden variants,
 * every truncation, the server messages against hand-written bytes, and
 * fragment reassembly in every order.
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
#include <stormgate/dtls.h>

#include "hs_codec.h"

/* ---- a ClientHello builder: fields in, body bytes out -------------------- */

struct ch_spec {
	uint16_t version;
	uint8_t sid_len;
	uint8_t cookie_len;
	const uint16_t *suites;
	unsigned n_suites;
	const uint8_t *comp;
	unsigned n_comp;
	const uint8_t *ext; /* raw extensions block contents, NULL: no block */
	unsigned ext_len;
};

static const uint16_t default_suites[] = { 0xc0a8, 0x00a8, 0x00ff };
static const uint8_t null_comp[] = { 0 };

static size_t build_ch(uint8_t *out, const struct ch_spec *s)
{
	size_t n = 0;

	sg_store_be16(out, s->version);
	n += 2;
	for (int i = 0; i < 32; i++)
		out[n++] = (uint8_t)(0xa0 + i);
	out[n++] = s->sid_len;
	for (int i = 0; i < s->sid_len; i++)
		out[n++] = 0x51;
	out[n++] = s->cookie_len;
	for (int i = 0; i < s->cookie_len; i++)
		out[n++] = 0xc0;
	sg_store_be16(out + n, (uint16_t)(s->n_suites * 2));
	n += 2;
	for (unsigned i = 0; i < s->n_suites; i++, n += 2)
		sg_store_be16(out + n, s->suites[i]);
	out[n++] = (uint8_t)s->n_comp;
	memcpy(out + n, s->comp, s->n_comp);
	n += s->n_comp;
	if (s->ext) {
		sg_store_be16(out + n, (uint16_t)s->ext_len);
		n += 2;
		memcpy(out + n, s->ext, s->ext_len);
		n += s->ext_len;
	}
	return n;
}

static struct ch_spec spec_with_ext(const uint8_t *ext, unsigned ext_len)
{
	return (struct ch_spec){ .version = SG_DTLS_VERSION_1_2,
		                 .suites = default_suites,
		                 .n_suites = 3,
		                 .comp = null_comp,
		                 .n_comp = 1,
		                 .ext = ext,
		                 .ext_len = ext_len };
}

/* Every extension we interpret, as a client would send it. */
static const uint8_t full_ext[] = {
	0x00, 0x00, 0x00, 0x0e, 0x00, 0x0c, 0x00, 0x00, 0x09, 'g',
	'w',  '.',  'e',  'x',  'a',  'm',  '.',  'p',              /* SNI */
	0x00, 0x01, 0x00, 0x01, 0x02,                               /* max_fragment_length 2^10 */
	0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17, /* groups x25519, p256 */
	0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,       /* point formats: uncompressed */
	0x00, 0x17, 0x00, 0x00,                   /* extended_master_secret */
	0x00, 0x1c, 0x00, 0x02, 0x01, 0x00,       /* record_size_limit 256 */
	0x00, 0x23, 0x00, 0x03, 0x01, 0x02, 0x03, /* session_ticket */
	0xff, 0x01, 0x00, 0x01, 0x00,             /* renegotiation_info, empty */
	0x00, 0x36, 0x00, 0x03, 0x02, 0xca, 0xfe, /* connection_id */
	0x00, 0x3d, 0x00, 0x00,                   /* rrc (RFC 9853 §3: 61, empty) */
	0x12, 0x34, 0x00, 0x02, 0xaa, 0xbb,       /* unknown: ignored */
};

static void test_client_hello_all_extensions(void **state)
{
	uint8_t body[512];
	struct ch_spec s = spec_with_ext(full_ext, sizeof(full_ext));
	struct sg_hs_client_hello ch;
	size_t n;

	(void)state;
	s.sid_len = 32;
	s.cookie_len = 17;
	n = build_ch(body, &s);
	assert_int_equal(sg_hs_client_hello_parse(body, n, &ch), 0);
	assert_int_equal(ch.version, SG_DTLS_VERSION_1_2);
	assert_ptr_equal(ch.random, body + 2);
	assert_int_equal(ch.session_id_len, 32);
	assert_int_equal(ch.cookie_off, 2 + 32 + 1 + 32);
	assert_int_equal(ch.cookie_len, 17);
	assert_int_equal(ch.cookie[0], 0xc0);
	assert_int_equal(ch.suites_len, 6);
	assert_true(sg_hs_client_hello_has_suite(&ch, 0x00a8));
	assert_false(sg_hs_client_hello_has_suite(&ch, 0x00a9));
	assert_int_equal(ch.flags, SG_HS_CH_F_EXTENSIONS | SG_HS_CH_F_EMS | SG_HS_CH_F_RENEG_INFO |
	                                   SG_HS_CH_F_RENEG_SCSV | SG_HS_CH_F_TICKET |
	                                   SG_HS_CH_F_CID | SG_HS_CH_F_SNI | SG_HS_CH_F_GROUPS |
	                                   SG_HS_CH_F_POINT_FORMATS | SG_HS_CH_F_MFL |
	                                   SG_HS_CH_F_RSL | SG_HS_CH_F_RRC);
	assert_int_equal(ch.groups, SG_HS_GROUP_BIT_X25519 | SG_HS_GROUP_BIT_P256);
	assert_int_equal(ch.sni_len, 9);
	assert_memory_equal(ch.sni, "gw.exam.p", 9);
	assert_int_equal(ch.mfl, 2);
	assert_int_equal(ch.rsl, 256);
	assert_int_equal(ch.ticket_len, 3);
	assert_int_equal(ch.ticket[2], 3);
	assert_int_equal(ch.reneg_len, 0);
	assert_int_equal(ch.cid_len, 2);
	assert_int_equal(ch.cid[1], 0xfe);
}

static void test_client_hello_no_extensions(void **state)
{
	uint8_t body[128];
	struct ch_spec s = spec_with_ext(NULL, 0);
	struct sg_hs_client_hello ch;
	size_t n;

	(void)state;
	s.version = SG_DTLS_VERSION_1_0;
	n = build_ch(body, &s);
	assert_int_equal(sg_hs_client_hello_parse(body, n, &ch), 0);
	assert_int_equal(ch.version, SG_DTLS_VERSION_1_0);
	assert_int_equal(ch.flags, SG_HS_CH_F_RENEG_SCSV);
	assert_int_equal(ch.cookie_len, 0);
}

/* Every truncation of a valid ClientHello is malformed, except the one
 * that drops exactly the whole extensions block (extensions are optional). */
static void test_client_hello_truncations(void **state)
{
	uint8_t body[512];
	struct ch_spec s = spec_with_ext(full_ext, sizeof(full_ext));
	struct sg_hs_client_hello ch;
	size_t n, no_ext_len;

	(void)state;
	s.sid_len = 4;
	s.cookie_len = 8;
	n = build_ch(body, &s);
	no_ext_len = n - 2 - sizeof(full_ext);
	for (size_t cut = 0; cut < n; cut++) {
		int rc = sg_hs_client_hello_parse(body, cut, &ch);

		if (cut == no_ext_len)
			assert_int_equal(rc, 0);
		else
			assert_int_equal(rc, -EBADMSG);
	}
	/* Trailing bytes after the extensions block are malformed too. */
	body[n] = 0;
	assert_int_equal(sg_hs_client_hello_parse(body, n + 1, &ch), -EBADMSG);
}

struct ch_case {
	const char *name;
	uint8_t ext[64];
	unsigned ext_len;
	int rc;
};

static const struct ch_case ch_cases[] = {
	{ "ems twice", { 0x00, 0x17, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00 }, 8, -EBADMSG },
	{ "ems with data", { 0x00, 0x17, 0x00, 0x01, 0x00 }, 5, -EBADMSG },
	{ "mfl 5 (RFC 6066 §4)", { 0x00, 0x01, 0x00, 0x01, 0x05 }, 5, -EINVAL },
	{ "mfl 0", { 0x00, 0x01, 0x00, 0x01, 0x00 }, 5, -EINVAL },
	{ "mfl two bytes", { 0x00, 0x01, 0x00, 0x02, 0x01, 0x01 }, 6, -EBADMSG },
	{ "rsl 63 (RFC 8449 §4)", { 0x00, 0x1c, 0x00, 0x02, 0x00, 0x3f }, 6, -EINVAL },
	{ "rsl 64", { 0x00, 0x1c, 0x00, 0x02, 0x00, 0x40 }, 6, 0 },
	{ "rsl one byte", { 0x00, 0x1c, 0x00, 0x01, 0x40 }, 5, -EBADMSG },
	{ "points without uncompressed", { 0x00, 0x0b, 0x00, 0x02, 0x01, 0x01 }, 6, -EINVAL },
	{ "points empty list", { 0x00, 0x0b, 0x00, 0x01, 0x00 }, 5, -EBADMSG },
	{ "groups odd length",
	  { 0x00, 0x0a, 0x00, 0x05, 0x00, 0x03, 0x00, 0x1d, 0x00 },
	  9,
	  -EBADMSG },
	{ "groups empty", { 0x00, 0x0a, 0x00, 0x02, 0x00, 0x00 }, 6, -EBADMSG },
	{ "groups inner length short",
	  { 0x00, 0x0a, 0x00, 0x04, 0x00, 0x04, 0x00, 0x1d },
	  8,
	  -EBADMSG },
	{ "reneg inner length wrong", { 0xff, 0x01, 0x00, 0x01, 0x01 }, 5, -EBADMSG },
	{ "reneg trailing byte", { 0xff, 0x01, 0x00, 0x02, 0x00, 0x00 }, 6, -EBADMSG },
	{ "cid length past end", { 0x00, 0x36, 0x00, 0x02, 0x05, 0x01 }, 6, -EBADMSG },
	{ "cid empty vector", { 0x00, 0x36, 0x00, 0x01, 0x00 }, 5, 0 },
	{ "rrc empty (RFC 9853 §3)", { 0x00, 0x3d, 0x00, 0x00 }, 4, 0 },
	{ "rrc with data", { 0x00, 0x3d, 0x00, 0x01, 0x00 }, 5, -EBADMSG },
	{ "rrc twice", { 0x00, 0x3d, 0x00, 0x00, 0x00, 0x3d, 0x00, 0x00 }, 8, -EBADMSG },
	{ "sni two host names",
	  { 0x00, 0x00, 0x00, 0x0a, 0x00, 0x08, 0x00, 0x00, 0x01, 'a', 0x00, 0x00, 0x01, 'b' },
	  14,
	  -EINVAL },
	{ "sni empty name", { 0x00, 0x00, 0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00 }, 9, -EBADMSG },
	{ "sni empty list", { 0x00, 0x00, 0x00, 0x02, 0x00, 0x00 }, 6, -EBADMSG },
	{ "sni other name type skipped",
	  { 0x00, 0x00, 0x00, 0x06, 0x00, 0x04, 0x07, 0x00, 0x01, 'x' },
	  10,
	  0 },
	{ "extension length past block", { 0x00, 0x17, 0x00, 0x04 }, 4, -EBADMSG },
	{ "three stray bytes", { 0x00, 0x17, 0x00 }, 3, -EBADMSG },
	{ "unknown extension repeated", { 0x12, 0x34, 0x00, 0x00, 0x12, 0x34, 0x00, 0x00 }, 8, 0 },
};

static void test_client_hello_extension_table(void **state)
{
	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(ch_cases); i++) {
		const struct ch_case *c = &ch_cases[i];
		struct ch_spec s = spec_with_ext(c->ext, c->ext_len);
		struct sg_hs_client_hello ch;
		uint8_t body[256];
		size_t n = build_ch(body, &s);
		int rc = sg_hs_client_hello_parse(body, n, &ch);

		if (rc != c->rc)
			fail_msg("case '%s': rc %d, want %d", c->name, rc, c->rc);
	}
}

static void test_client_hello_fixed_fields(void **state)
{
	static const uint16_t odd[] = { 0xc0a8 };
	static const uint8_t no_null[] = { 1, 64 };
	static const uint8_t with_null[] = { 1, 0 };
	uint8_t body[256];
	struct sg_hs_client_hello ch;
	struct ch_spec s;
	size_t n;

	(void)state;
	/* RFC 5246 §7.4.1.2: the compression list MUST contain null. */
	s = spec_with_ext(NULL, 0);
	s.comp = no_null;
	s.n_comp = 2;
	n = build_ch(body, &s);
	assert_int_equal(sg_hs_client_hello_parse(body, n, &ch), -EINVAL);
	s.comp = with_null;
	n = build_ch(body, &s);
	assert_int_equal(sg_hs_client_hello_parse(body, n, &ch), 0);
	/* Empty compression list. */
	s.n_comp = 0;
	n = build_ch(body, &s);
	assert_int_equal(sg_hs_client_hello_parse(body, n, &ch), -EBADMSG);
	/* Empty cipher suite list. */
	s = spec_with_ext(NULL, 0);
	s.n_suites = 0;
	n = build_ch(body, &s);
	assert_int_equal(sg_hs_client_hello_parse(body, n, &ch), -EBADMSG);
	/* An odd cipher_suites length. */
	s = spec_with_ext(NULL, 0);
	s.suites = odd;
	s.n_suites = 1;
	n = build_ch(body, &s);
	body[2 + 32 + 1 + 1 + 1] = 3; /* length 0x0003 */
	assert_int_equal(sg_hs_client_hello_parse(body, n, &ch), -EBADMSG);
	/* session_id longer than 32 (RFC 5246 §7.4.1.2: SessionID<0..32>). */
	s = spec_with_ext(NULL, 0);
	s.sid_len = 33;
	n = build_ch(body, &s);
	assert_int_equal(sg_hs_client_hello_parse(body, n, &ch), -EBADMSG);
	/* The fallback SCSV is noticed (RFC 7507). */
	{
		static const uint16_t fb[] = { 0xc0a8, 0x5600 };

		s = spec_with_ext(NULL, 0);
		s.suites = fb;
		s.n_suites = 2;
		n = build_ch(body, &s);
		assert_int_equal(sg_hs_client_hello_parse(body, n, &ch), 0);
		assert_int_equal(ch.flags, SG_HS_CH_F_FALLBACK_SCSV);
	}
}

/* ---- handshake header --------------------------------------------------- */

struct hdr_case {
	const char *name;
	uint8_t bytes[16];
	unsigned len;
	int rc;
};

static const struct hdr_case hdr_cases[] = {
	{ "whole 4-byte message",
	  { 1, 0, 0, 4, 0, 7, 0, 0, 0, 0, 0, 4, 0xa, 0xb, 0xc, 0xd },
	  16,
	  16 },
	{ "middle fragment", { 1, 0, 1, 0, 0, 0, 0, 0, 0x80, 0, 0, 2, 1, 2 }, 14, 14 },
	{ "empty message", { 14, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 }, 12, 12 },
	{ "short header", { 1, 0, 0, 4, 0, 7, 0, 0, 0, 0, 0 }, 11, -EBADMSG },
	{ "fragment past message", { 1, 0, 0, 4, 0, 0, 0, 0, 3, 0, 0, 2, 1, 2 }, 14, -EBADMSG },
	{ "offset past message", { 1, 0, 0, 4, 0, 0, 0, 0, 5, 0, 0, 0 }, 12, -EBADMSG },
	{ "fragment past buffer", { 1, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3 }, 15, -EBADMSG },
	{ "24-bit overflow",
	  { 1, 0xff, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	  12,
	  -EBADMSG },
};

static void test_msg_hdr_table(void **state)
{
	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(hdr_cases); i++) {
		const struct hdr_case *c = &hdr_cases[i];
		struct sg_hs_msg_hdr h;
		int rc = sg_hs_msg_hdr_parse(c->bytes, c->len, &h);

		if (rc != c->rc)
			fail_msg("case '%s': rc %d, want %d", c->name, rc, c->rc);
	}
	{
		struct sg_hs_msg_hdr h;
		uint8_t out[SG_DTLS_HS_HDR_LEN];

		assert_int_equal(sg_hs_msg_hdr_parse(hdr_cases[1].bytes, 14, &h), 14);
		assert_int_equal(h.type, 1);
		assert_int_equal(h.length, 256);
		assert_int_equal(h.seq, 0);
		assert_int_equal(h.frag_off, 128);
		assert_int_equal(h.frag_len, 2);
		sg_hs_frag_hdr_write(out, &h);
		assert_memory_equal(out, hdr_cases[1].bytes, SG_DTLS_HS_HDR_LEN);
	}
}

/* ---- ClientKeyExchange, Finished -------------------------------------------- */

static void test_client_kx(void **state)
{
	static const uint8_t psk[] = { 0x00, 0x03, 'd', 'e', 'v' };
	static const uint8_t ecdhe[] = { 0x00, 0x02, 'i', 'd', 0x03, 0x04, 0x05, 0x06 };
	static const uint8_t empty_identity[] = { 0x00, 0x00 };
	static const uint8_t ecdhe_empty_point[] = { 0x00, 0x00, 0x00 };
	struct sg_hs_client_kx kx;
	const uint8_t *vd;

	(void)state;
	assert_int_equal(sg_hs_client_kx_parse(psk, sizeof(psk), false, &kx), 0);
	assert_int_equal(kx.identity_len, 3);
	assert_memory_equal(kx.identity, "dev", 3);
	assert_null(kx.point);
	assert_int_equal(sg_hs_client_kx_parse(psk, sizeof(psk) - 1, false, &kx), -EBADMSG);
	assert_int_equal(sg_hs_client_kx_parse(psk, sizeof(psk), true, &kx), -EBADMSG);
	assert_int_equal(sg_hs_client_kx_parse(ecdhe, sizeof(ecdhe), true, &kx), 0);
	assert_int_equal(kx.identity_len, 2);
	assert_int_equal(kx.point_len, 3);
	assert_int_equal(kx.point[2], 6);
	assert_int_equal(sg_hs_client_kx_parse(ecdhe, sizeof(ecdhe), false, &kx), -EBADMSG);
	assert_int_equal(sg_hs_client_kx_parse(empty_identity, 2, false, &kx), 0);
	assert_int_equal(kx.identity_len, 0);
	assert_int_equal(sg_hs_client_kx_parse(ecdhe_empty_point, 3, true, &kx), -EBADMSG);

	{
		uint8_t fin[13] = { 0 };

		assert_int_equal(sg_hs_finished_parse(fin, 12, &vd), 0);
		assert_ptr_equal(vd, fin);
		assert_int_equal(sg_hs_finished_parse(fin, 11, &vd), -EBADMSG);
		assert_int_equal(sg_hs_finished_parse(fin, 13, &vd), -EBADMSG);
	}
}

/* ---- writers ---------------------------------------------------------------- */

static void test_write_server_hello_bytes(void **state)
{
	static const uint8_t
	        expect[] = {
		        2,    0,    0,    0x55, 0,    1,    0,    0,    0,
		        0,    0,    0x55, /* header: 85 bytes, message_seq 1 */
		        0xfe, 0xfd,       /* DTLS 1.2 */
		        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
		        0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21,
		        0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a,
		        0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0,          /* no session id */
		        0xc0, 0xa8,                               /* PSK-AES128-CCM8 */
		        0,                                        /* null compression */
		        0,    0x2d,                               /* extensions: 45 bytes */
		        0xff, 0x01, 0,    1,    0,                /* renegotiation_info */
		        0,    0x17, 0,    0,                      /* extended_master_secret */
		        0,    0x0b, 0,    2,    1,    0,          /* ec_point_formats */
		        0,    0x23, 0,    0,                      /* session_ticket */
		        0,    0x36, 0,    3,    2,    0xab, 0xcd, /* connection_id */
		        0,    0,    0,    0,                      /* server_name */
		        0,    1,    0,    1,    3,                /* max_fragment_length */
		        0,    0x1c, 0,    2,    0x05, 0x00,       /* record_size_limit 1280 */
		        0,    0x3d, 0,    0,                      /* rrc (RFC 9853 §3) */
	        };
	uint8_t random[32], buf[sizeof(expect)];
	static const uint8_t cid[] = { 0xab, 0xcd };
	struct sg_hs_wbuf w = { .p = buf, .cap = sizeof(buf) };
	struct sg_hs_server_hello sh = {
		.version = SG_DTLS_VERSION_1_2,
		.random = random,
		.suite = 0xc0a8,
		.flags = SG_HS_CH_F_RENEG_INFO | SG_HS_CH_F_EMS | SG_HS_CH_F_POINT_FORMATS |
		         SG_HS_CH_F_TICKET | SG_HS_CH_F_CID | SG_HS_CH_F_SNI | SG_HS_CH_F_MFL |
		         SG_HS_CH_F_RSL | SG_HS_CH_F_RRC,
		.mfl = 3,
		.rsl = 1280,
		.cid = cid,
		.cid_len = 2,
	};

	(void)state;
	for (int i = 0; i < 32; i++)
		random[i] = (uint8_t)(0x10 + i);
	assert_int_equal(sg_hs_write_server_hello(&w, 1, &sh), 0);
	assert_int_equal(w.len, sizeof(expect));
	assert_memory_equal(buf, expect, sizeof(expect));
	/* One byte short: refused, buffer length unchanged. */
	w = (struct sg_hs_wbuf){ .p = buf, .cap = sizeof(buf) - 1 };
	assert_int_equal(sg_hs_write_server_hello(&w, 1, &sh), -ENOSPC);
	assert_int_equal(w.len, 0);
	/* No extensions at all: no extensions block either. */
	sh.flags = 0;
	w = (struct sg_hs_wbuf){ .p = buf, .cap = sizeof(buf) };
	assert_int_equal(sg_hs_write_server_hello(&w, 0, &sh), 0);
	assert_int_equal(w.len, SG_DTLS_HS_HDR_LEN + 2 + 32 + 1 + 2 + 1);
}

/*
 * encrypt_then_mac (RFC 7366 §2, issue 17): an empty extension, parsed into
 * its flag whatever the suites (the engine decides with the suite, RFC 7366
 * §3), refused with data or twice; echoed empty in a ServerHello, last.
 */
static void test_encrypt_then_mac(void **state)
{
	static const struct {
		const char *name;
		uint8_t ext[16];
		unsigned ext_len;
		int rc;
		bool etm;
	} rows[] = {
		{ "etm empty", { 0x00, 0x16, 0x00, 0x00 }, 4, 0, true },
		{ "etm with ems", { 0x00, 0x17, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00 }, 8, 0, true },
		{ "etm with data", { 0x00, 0x16, 0x00, 0x01, 0x00 }, 5, -EBADMSG, false },
		{ "etm twice",
		  { 0x00, 0x16, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00 },
		  8,
		  -EBADMSG,
		  false },
		{ "no etm", { 0x00, 0x17, 0x00, 0x00 }, 4, 0, false },
	};
	static const uint8_t sh_ext[] = {
		0,    0x26,             /* extensions: 38 bytes */
		0xff, 0x01, 0, 1, 0,    /* renegotiation_info */
		0,    0x17, 0, 0,       /* extended_master_secret */
		0,    0x0b, 0, 2, 1, 0, /* ec_point_formats */
		0,    0x23, 0, 0,       /* session_ticket */
		0,    0,    0, 0,       /* server_name */
		0,    1,    0, 1, 3,    /* max_fragment_length */
		0,    0x1c, 0, 2, 5, 0, /* record_size_limit 1280 */
		0,    0x16, 0, 0,       /* encrypt_then_mac (RFC 7366 §2) */
	};
	static const uint16_t cbc_suites[] = { 0x00ae };
	uint8_t random[32] = { 0 }, buf[128];
	struct sg_hs_wbuf w = { .p = buf, .cap = sizeof(buf) };
	struct sg_hs_server_hello sh = {
		.version = SG_DTLS_VERSION_1_2,
		.random = random,
		.suite = 0x00ae,
		.flags = SG_HS_CH_F_RENEG_INFO | SG_HS_CH_F_EMS | SG_HS_CH_F_POINT_FORMATS |
		         SG_HS_CH_F_TICKET | SG_HS_CH_F_SNI | SG_HS_CH_F_MFL | SG_HS_CH_F_RSL |
		         SG_HS_CH_F_ETM,
		.mfl = 3,
		.rsl = 1280,
	};
	size_t ext_off = SG_DTLS_HS_HDR_LEN + 2 + 32 + 1 + 2 + 1;

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct ch_spec sp = spec_with_ext(rows[i].ext, rows[i].ext_len);
		struct sg_hs_client_hello ch;
		uint8_t body[256];
		size_t n;
		int rc;

		sp.suites = cbc_suites;
		sp.n_suites = 1;
		n = build_ch(body, &sp);
		rc = sg_hs_client_hello_parse(body, n, &ch);
		print_message("# %s: %d\n", rows[i].name, rc);
		assert_int_equal(rc, rows[i].rc);
		if (rc == 0)
			assert_int_equal(!!(ch.flags & SG_HS_CH_F_ETM), rows[i].etm);
	}
	assert_int_equal(sg_hs_write_server_hello(&w, 1, &sh), 0);
	assert_int_equal(w.len, ext_off + sizeof(sh_ext));
	assert_int_equal(sg_load_be16(buf + ext_off - 3), 0x00ae);
	assert_memory_equal(buf + ext_off, sh_ext, sizeof(sh_ext));
	/* One byte short: refused, nothing written. */
	w = (struct sg_hs_wbuf){ .p = buf, .cap = ext_off + sizeof(sh_ext) - 1 };
	assert_int_equal(sg_hs_write_server_hello(&w, 1, &sh), -ENOSPC);
	assert_int_equal(w.len, 0);
}

static void test_write_other_messages(void **state)
{
	static const uint8_t hvr[] = {
		3, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5, 0xfe, 0xff, 2, 0xc1, 0xc2
	};
	static const uint8_t ske_psk[] = { 12, 0, 0, 4, 0, 1, 0, 0, 0, 0, 0, 4, 0, 2, 'h', 'i' };
	static const uint8_t ske_ecdhe[] = { 12, 0, 0, 9, 0, 1,    0, 0, 0, 0, 0,
		                             9,  0, 0, 3, 0, 0x1d, 3, 7, 8, 9 };
	static const uint8_t shd[] = { 14, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0 };
	static const uint8_t fin[] = { 20, 0, 0, 12, 0, 5, 0, 0, 0, 0,  0,  12,
		                       1,  2, 3, 4,  5, 6, 7, 8, 9, 10, 11, 12 };
	static const uint8_t nst[] = { 4, 0, 0, 9,    0,    3, 0, 0,   0,   0,  0,
		                       9, 0, 0, 0x1c, 0x20, 0, 3, 't', 'k', 't' };
	static const uint8_t cookie[] = { 0xc1, 0xc2 };
	static const uint8_t point[] = { 7, 8, 9 };
	uint8_t buf[64];
	struct sg_hs_wbuf w;

	(void)state;
	w = (struct sg_hs_wbuf){ .p = buf, .cap = sizeof(buf) };
	assert_int_equal(sg_hs_write_hello_verify_request(&w, 0, SG_DTLS_VERSION_1_0, cookie, 2),
	                 0);
	assert_int_equal(w.len, sizeof(hvr));
	assert_memory_equal(buf, hvr, sizeof(hvr));

	w = (struct sg_hs_wbuf){ .p = buf, .cap = sizeof(buf) };
	assert_int_equal(sg_hs_write_server_kx(&w, 1, (const uint8_t *)"hi", 2, 0, NULL, 0), 0);
	assert_int_equal(w.len, sizeof(ske_psk));
	assert_memory_equal(buf, ske_psk, sizeof(ske_psk));

	w = (struct sg_hs_wbuf){ .p = buf, .cap = sizeof(buf) };
	assert_int_equal(sg_hs_write_server_kx(&w, 1, NULL, 0, SG_TLS_GROUP_X25519, point, 3), 0);
	assert_int_equal(w.len, sizeof(ske_ecdhe));
	assert_memory_equal(buf, ske_ecdhe, sizeof(ske_ecdhe));

	w = (struct sg_hs_wbuf){ .p = buf, .cap = sizeof(buf) };
	assert_int_equal(sg_hs_write_server_hello_done(&w, 2), 0);
	assert_int_equal(w.len, sizeof(shd));
	assert_memory_equal(buf, shd, sizeof(shd));

	w = (struct sg_hs_wbuf){ .p = buf, .cap = sizeof(buf) };
	assert_int_equal(sg_hs_write_finished(&w, 5, fin + 12), 0);
	assert_memory_equal(buf, fin, sizeof(fin));

	w = (struct sg_hs_wbuf){ .p = buf, .cap = sizeof(buf) };
	assert_int_equal(sg_hs_write_new_session_ticket(&w, 3, 7200, (const uint8_t *)"tkt", 3), 0);
	assert_memory_equal(buf, nst, sizeof(nst));

	/* Out of room: nothing written. */
	w = (struct sg_hs_wbuf){ .p = buf, .cap = 11 };
	assert_int_equal(sg_hs_write_server_hello_done(&w, 2), -ENOSPC);
	assert_int_equal(w.len, 0);
}

/* ---- reassembly ------------------------------------------------------------- */

struct frag {
	uint32_t off, len;
	uint8_t corrupt; /* flip the bytes of this fragment */
	int rc;          /* sg_hs_reasm_add() result expected */
};

struct reasm_case {
	const char *name;
	uint32_t length;
	struct frag frags[6];
	unsigned n;
};

static const struct reasm_case reasm_cases[] = {
	{ "whole", 100, { { 0, 100, 0, 1 } }, 1 },
	{ "in order", 100, { { 0, 40, 0, 0 }, { 40, 40, 0, 0 }, { 80, 20, 0, 1 } }, 3 },
	{ "reversed", 100, { { 80, 20, 0, 0 }, { 40, 40, 0, 0 }, { 0, 40, 0, 1 } }, 3 },
	{ "overlapping, consistent",
	  100,
	  { { 0, 60, 0, 0 }, { 30, 60, 0, 0 }, { 50, 50, 0, 1 } },
	  3 },
	{ "duplicate fragment", 100, { { 0, 50, 0, 0 }, { 0, 50, 0, 0 }, { 50, 50, 0, 1 } }, 3 },
	{ "overlap with other bytes", 100, { { 0, 60, 0, 0 }, { 50, 50, 1, -EBADMSG } }, 2 },
	{ "empty fragments", 10, { { 0, 0, 0, 0 }, { 5, 0, 0, 0 }, { 0, 10, 0, 1 } }, 3 },
	{ "empty message", 0, { { 0, 0, 0, 1 } }, 1 },
	{ "too big", 600, { { 0, 100, 0, -EMSGSIZE } }, 1 },
};

static void test_reasm_table(void **state)
{
	uint8_t msg[600], buf[SG_HS_REASM_MAX];

	(void)state;
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	for (unsigned i = 0; i < SG_ARRAY_SIZE(reasm_cases); i++) {
		const struct reasm_case *c = &reasm_cases[i];
		struct sg_hs_reasm r;

		sg_hs_reasm_init(&r, buf, sizeof(buf));
		for (unsigned j = 0; j < c->n; j++) {
			const struct frag *f = &c->frags[j];
			struct sg_hs_msg_hdr h = { .type = SG_TLS_HT_CLIENT_KEY_EXCHANGE,
				                   .length = c->length,
				                   .seq = 2,
				                   .frag_off = f->off,
				                   .frag_len = f->len };
			uint8_t frag[600];
			int rc;

			for (uint32_t k = 0; k < f->len; k++)
				frag[k] = (uint8_t)(msg[f->off + k] ^ (f->corrupt ? 0xff : 0));
			rc = sg_hs_reasm_add(&r, &h, frag);
			if (rc != f->rc)
				fail_msg("case '%s' fragment %u: rc %d, want %d", c->name, j, rc,
				         f->rc);
			if (rc == 1)
				assert_memory_equal(r.buf, msg, c->length);
		}
	}
}

static void test_reasm_mismatch(void **state)
{
	uint8_t buf[64], frag[8] = { 0 };
	struct sg_hs_reasm r;
	struct sg_hs_msg_hdr h = {
		.type = 16, .length = 16, .seq = 1, .frag_off = 0, .frag_len = 8
	};
	struct sg_hs_msg_hdr other;

	(void)state;
	sg_hs_reasm_init(&r, buf, sizeof(buf));
	assert_int_equal(sg_hs_reasm_add(&r, &h, frag), 0);
	other = h;
	other.length = 17;
	assert_int_equal(sg_hs_reasm_add(&r, &other, frag), -EBADMSG);
	other = h;
	other.type = 20;
	assert_int_equal(sg_hs_reasm_add(&r, &other, frag), -EBADMSG);
	other = h;
	other.seq = 2;
	assert_int_equal(sg_hs_reasm_add(&r, &other, frag), -EBADMSG);
	sg_hs_reasm_reset(&r);
	assert_int_equal(r.active, 0);
	other.frag_off = 8;
	assert_int_equal(sg_hs_reasm_add(&r, &other, frag), 0);
	assert_int_equal(r.have, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_hello_all_extensions),
		cmocka_unit_test(test_client_hello_no_extensions),
		cmocka_unit_test(test_client_hello_truncations),
		cmocka_unit_test(test_client_hello_extension_table),
		cmocka_unit_test(test_client_hello_fixed_fields),
		cmocka_unit_test(test_msg_hdr_table),
		cmocka_unit_test(test_client_kx),
		cmocka_unit_test(test_write_server_hello_bytes),
		cmocka_unit_test(test_write_other_messages),
		cmocka_unit_test(test_encrypt_then_mac),
		cmocka_unit_test(test_reasm_table),
		cmocka_unit_test(test_reasm_mismatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
