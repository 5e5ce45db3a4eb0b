/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared test helpers against published values: RFC 1071 §3's worked
 * sum, a well-known IPv4 header checksum, a UDP checksum that verifies over
 * both families, hex decoding, test keys from a seed, temporary directories,
 * and a session's two SAs that mirror each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <stormgate/bytes.h>

#include "tc_csum.h"
#include "tc_hex.h"
#include "tc_sa.h"
#include "tc_tmp.h"

static void test_csum(void **state)
{
	/* RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2 (with end-around carries). */
	static const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	/* An IPv4 header whose checksum field (b861) is right. */
	static const uint8_t ip[] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		                      0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	uint8_t hdr[sizeof(ip)];

	(void)state;
	assert_int_equal(tc_csum(rfc, sizeof(rfc), 0), 0xddf2);
	/* An odd last byte is the high half of a word: f6 counts as f600, 00f7 less. */
	assert_int_equal(tc_csum(rfc, 7, 0), 0xdcfb);
	assert_int_equal(tc_csum(ip, sizeof(ip), 0), 0xffff);
	memcpy(hdr, ip, sizeof(hdr));
	sg_store_be16(hdr + 10, 0);
	assert_int_equal((uint16_t)~tc_csum(hdr, sizeof(hdr), 0), 0xb861);
}

static void test_csum_l4(void **state)
{
	static const uint8_t src4[4] = { 198, 18, 1, 10 }, dst4[4] = { 198, 18, 1, 1 };
	static const uint8_t src6[16] = { 0xfd, 0, [15] = 2 }, dst6[16] = { 0xfd, 0, [15] = 1 };
	uint8_t udp[8 + 5] = { 0 };

	(void)state;
	sg_store_be16(udp, 50000);
	sg_store_be16(udp + 2, 5684);
	sg_store_be16(udp + 4, sizeof(udp));
	memcpy(udp + 8, "hello", 5);
	for (int fam = 4; fam <= 6; fam += 2) {
		const uint8_t *s = fam == 4 ? src4 : src6, *d = fam == 4 ? dst4 : dst6;

		sg_store_be16(udp + 6, 0);
		sg_store_be16(udp + 6, tc_csum_l4((uint8_t)fam, s, d, 17, udp, sizeof(udp)));
		/* The field written, the message sums right; any flipped bit does not. */
		assert_int_equal(tc_csum_l4((uint8_t)fam, s, d, 17, udp, sizeof(udp)), 0);
		udp[9] ^= 0x10;
		assert_int_not_equal(tc_csum_l4((uint8_t)fam, s, d, 17, udp, sizeof(udp)), 0);
		udp[9] ^= 0x10;
		/* The pseudo-header counts: another protocol number gives another sum. */
		assert_int_not_equal(tc_csum_l4((uint8_t)fam, s, d, 58, udp, sizeof(udp)), 0);
	}
}

static void test_unhex(void **state)
{
	uint8_t out[4];
	size_t len = 99;
	uint8_t *p;

	(void)state;
	assert_int_equal(tc_unhex("00ff10A5", out, sizeof(out)), 4);
	assert_memory_equal(out, ((const uint8_t[]){ 0x00, 0xff, 0x10, 0xa5 }), 4);
	assert_int_equal(tc_unhex("", out, sizeof(out)), 0);
	p = tc_unhex_alloc("c0ffee", &len);
	assert_int_equal(len, 3);
	assert_memory_equal(p, ((const uint8_t[]){ 0xc0, 0xff, 0xee }), 3);
	free(p);
	p = tc_unhex_alloc("", &len);
	assert_non_null(p);
	assert_int_equal(len, 0);
	free(p);
}

/*
 * tc_fill() is splitmix64's top byte (its published first outputs from seed
 * 0: 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f); test
 * sessions' keys are the same for a seed and differ, field by field, from
 * the next seed's.
 */
static void test_keys_make(void **state)
{
	static const uint8_t want[3] = { 0xe2, 0x6e, 0x06 };
	struct tc_keys a, b, c;
	uint8_t got[3];

	(void)state;
	tc_fill(got, sizeof(got), 0);
	assert_memory_equal(got, want, sizeof(want));
	tc_keys_make(&a, 7);
	tc_keys_make(&b, 7);
	tc_keys_make(&c, 8);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_memory_not_equal(a.client_key, c.client_key, sizeof(a.client_key));
	assert_memory_not_equal(a.server_key, c.server_key, sizeof(a.server_key));
	assert_memory_not_equal(a.client_iv, c.client_iv, sizeof(a.client_iv));
	assert_memory_not_equal(a.server_iv, c.server_iv, sizeof(a.server_iv));
	assert_memory_not_equal(a.client_key, a.server_key, sizeof(a.client_key));
}

/* A temporary directory is made empty under /tmp, removed whole with what it holds; a path
 * tc_tmpdir() did not make is refused. */
static void test_tmpdir(void **state)
{
	char dir[64], p[128];
	struct stat st;
	FILE *f;

	(void)state;
	assert_int_equal(tc_tmpdir(dir, sizeof(dir), "common"), 0);
	assert_int_equal(strncmp(dir, "/tmp/sg-common-", 15), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/sub/file", dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink("/", p), 0);
	assert_int_equal(tc_rmtree(dir), 0);
	assert_int_equal(stat(dir, &st), -1);
	assert_int_equal(stat("/", &st), 0);
	assert_int_equal(tc_rmtree("/var/tmp"), -EINVAL);
	assert_int_equal(tc_rmtree("/tmp/sg-x/.."), -EINVAL);
	assert_int_equal(tc_tmpdir(dir, 16, "a-name-too-long"), -ENAMETOOLONG);
}

/* What the gateway's SA seals, the device's opens, and the other way round. */
static void test_sa_pair(void **state)
{
	const unsigned window = SG_REPLAY_WINDOW_DEFAULT;
	struct sg_rec_sa *gw = tc_sa_alloc(window), *dev = tc_sa_alloc(window);
	struct sg_rec_sa_params p = { .aead = SG_AEAD_AES_128_GCM, .epoch = 1, .tx_seq = 1 };
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);
	struct tc_keys k;

	(void)state;
	assert_non_null(ctx);
	memset(k.client_key, 0x11, sizeof(k.client_key));
	memset(k.server_key, 0x22, sizeof(k.server_key));
	memset(k.client_iv, 0x33, sizeof(k.client_iv));
	memset(k.server_iv, 0x44, sizeof(k.server_iv));
	tc_sa_pair(gw, dev, window, &p, &k);
	assert_memory_equal(gw->rx_key, k.client_key, 16);
	assert_memory_equal(gw->tx_key, k.server_key, 16);
	assert_memory_equal(dev->rx_key, k.server_key, 16);
	assert_memory_equal(dev->tx_key, k.client_key, 16);
	for (int dir = 0; dir < 2; dir++) {
		struct sg_rec_sa *from = dir ? gw : dev, *to = dir ? dev : gw;
		uint8_t buf[128] = { 0 };
		struct sg_rec_seal_op so = { .buf = buf,
			                     .buf_len = sizeof(buf),
			                     .pt_off = 40,
			                     .pt_len = 5,
			                     .sa = from,
			                     .type = SG_DTLS_CT_APPLICATION_DATA };
		struct sg_rec_open_op op = { 0 };

		memcpy(buf + 40, "hello", 5);
		assert_int_equal(sg_rec_seal_burst(ctx, &so, 1), 1);
		op.rec = buf + so.rec_off;
		op.rec_len = so.rec_len;
		op.sa = to;
		assert_int_equal(sg_rec_open_burst(ctx, &op, 1), 1);
		assert_memory_equal(op.rec + op.pt_off, "hello", 5);
	}
	sg_rec_ctx_free(ctx);
	tc_sa_free(gw, window);
	tc_sa_free(dev, window);
	tc_sa_free(NULL, window);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum),   cmocka_unit_test(test_csum_l4),
		cmocka_unit_test(test_unhex),  cmocka_unit_test(test_keys_make),
		cmocka_unit_test(test_tmpdir), cmocka_unit_test(test_sa_pair),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
