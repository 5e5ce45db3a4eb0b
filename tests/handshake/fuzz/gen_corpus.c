/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Write the seed corpora of the fuzz targets: real client flights made by
 * the scripted client against the engine (several suites, with CIDs, SNI,
 * tickets, fragments), as
 *   <dir>/parser/<name>  handshake fragments (what fuzz_hs_parser reads)
 *   <dir>/input/<name>   length-prefixed datagram sequences (fuzz_hs_input)
 * and one large input: ClientHellos grown by a padding extension to
 * SG_HS_DGRAM_MAX (taken) and to 18,373 bytes (refused: the size that
 * overran the cookie MAC's scratch before the bound), so the fuzzers start
 * beyond 18 KB.
 * Usage: gen_corpus <dir>. Run by hand when the formats change; the seeds
 * are kept in the repository.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/bytes.h>

#include "hs_client.h"

static char dir[512];

static void put(const char *sub, const char *name, const uint8_t *d, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, n, f), n);
	fclose(f);
}

/* Append one datagram, length-prefixed. */
static size_t seq_add(uint8_t *seq, size_t at, const uint8_t *d, size_t n)
{
	sg_store_be16(seq + at, (uint16_t)n);
	memcpy(seq + at + 2, d, n);
	return at + 2 + n;
}

static void one(const char *name, struct hc_opts o)
{
	struct harness h;
	struct hc c;
	uint8_t d[2048], seq[8192], f5[2048];
	size_t n, at = 0, nf5;
	char pname[128];

	h_start_capture(&h, SG_HS_COOKIE_NEVER);
	hc_init(&c, &o);
	n = hc_client_hello(&c, d, sizeof(d));
	at = seq_add(seq, at, d, n);
	snprintf(pname, sizeof(pname), "%s-client-hello", name);
	put("parser", pname, d + 13, n - 13);
	h_input(&h, d, n);
	if (hc_drain(&c, &h) == 'H') {
		nf5 = hc_flight5(&c, f5, sizeof(f5), false);
		at = seq_add(seq, at, f5, nf5);
		snprintf(pname, sizeof(pname), "%s-client-key-exchange", name);
		put("parser", pname, f5 + 13, sg_load_be16(f5 + 11));
		h_input(&h, f5, nf5);
		/* and the same flight again, as a retransmission */
		at = seq_add(seq, at, f5, nf5);
	}
	put("input", name, seq, at);
	hc_free(&c);
	h_stop(&h);
}

/* Datagrams around the engine's input bound (handshake.h, SG_HS_DGRAM_MAX). */
static void big(void)
{
	static uint8_t d[20000], seq[2 * sizeof(d)];
	size_t n, at = 0;

	n = hc_padded_hello(d, SG_HS_DGRAM_MAX);
	put("parser", "big-client-hello", d + SG_DTLS_HDR_LEN, n - SG_DTLS_HDR_LEN);
	at = seq_add(seq, at, d, n);
	n = hc_padded_hello(d, 18373);
	at = seq_add(seq, at, d, n);
	put("input", "big-client-hello", seq, at);
}

static void test_generate(void **state)
{
	struct hc_opts o;

	(void)state;
	o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	one("psk-ccm8", o);
	o = hc_psk_opts(SG_TLS_PSK_WITH_AES_256_GCM_SHA384);
	o.no_ems = true;
	one("psk-gcm256-noems", o);
	o = hc_psk_opts(SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256);
	o.group = SG_TLS_GROUP_X25519;
	o.cid = true;
	o.cid_len = 4;
	o.sni = "gw.example";
	one("ecdhe-x25519-cid-sni", o);
	o = hc_psk_opts(SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256);
	o.group = SG_TLS_GROUP_SECP256R1;
	o.ticket_ext = true;
	o.mfl = 2;
	o.rsl = 512;
	one("ecdhe-p256-ticket-mfl", o);
	o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	o.version = SG_DTLS_VERSION_1_0;
	o.fallback_scsv = true;
	o.reneg_len = 4;
	one("dtls10-fallback-reneg", o);
	big();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_generate) };

	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
