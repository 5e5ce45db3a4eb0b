/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-fleet's sans-I/O core (bench/fleet/fl_*.h) in memory, without
 * DPDK: the timer wheel (every timer fires once, not early, in tick order,
 * across the overflow list; cancel and re-arm), the delay line (release
 * order, loss counted), the CoAP codec (round trip, every truncation and
 * malformed rows refused), the nonce check (rows: a repeated or too old
 * sequence counts, a fresh one does not), the RTT histogram's percentiles,
 * the link layer (frames checked against an independent checksum, every
 * truncation and bit flip parsed without a crash), the credentials (an
 * HMAC-SHA256 value computed elsewhere), the command line (rows of good and
 * bad options), and a whole core: it resolves the gateway, its devices send
 * their hellos, the application server answers (udp and proxy mode), and
 * garbage is counted; a connected device (keys set by the test, which plays
 * the gateway's record layer) asks, gets its answer timed, counts a replayed
 * record as a nonce reuse and another device's answer as misdelivered,
 * handshakes again after a close_notify or 4 unanswered retransmissions.
 * One thread.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <stormgate/bytes.h>
#include <stormgate/dtls.h>

#include "fl_coap.h"
#include "fl_core.h"
#include "fl_creds.h"
#include "fl_delay.h"
#include "fl_frame.h"
#include "fl_hist.h"
#include "fl_nonce.h"
#include "fl_opts.h"
#include "fl_priv.h"
#include "fl_rand.h"
#include "fl_report.h"
#include "fl_wheel.h"
#include "tc_csum.h"

/* ---- timer wheel ------------------------------------------------------------ */

struct tdev {
	uint64_t pad;
	struct sg_fl_tlink tl;
	uint32_t want; /* tick armed for */
	uint32_t fired;
};

#define TN 5000

static void test_wheel(void **state)
{
	struct tdev *d = calloc(TN, sizeof(*d));
	struct sg_fl_wheel w;
	uint64_t rng = 7;
	uint32_t out[37], last = 0, fired = 0;

	(void)state;
	assert_non_null(d);
	assert_int_equal(sg_fl_wheel_init(&w, d, sizeof(*d), offsetof(struct tdev, tl), 100), 0);
	for (uint32_t i = 0; i < TN; i++) {
		/* near, far (past the 16.4 s wheel: overflow), and in the past */
		uint32_t due = i % 10 == 0 ? 50 : 100 + sg_fl_rand_range(&rng, 0, 60000);

		d[i].want = due < 100 ? 100 : due;
		sg_fl_wheel_set(&w, i, due);
	}
	/* a re-arm moves a timer; a cancelled one never fires */
	d[1].want = 70000;
	sg_fl_wheel_set(&w, 1, 70000);
	sg_fl_wheel_cancel(&w, 2);
	d[2].want = UINT32_MAX;
	assert_int_equal(w.armed, TN - 1);
	for (uint32_t now = 100; now <= 71000; now += 7) {
		unsigned n;

		while ((n = sg_fl_wheel_expire(&w, now, out, SG_ARRAY_SIZE(out))) != 0) {
			for (unsigned k = 0; k < n; k++) {
				struct tdev *t = &d[out[k]];

				assert_true(t->want <= now);    /* never early */
				assert_true(now - t->want < 7); /* nor late past the step */
				assert_true(t->want >= last);   /* in tick order */
				last = t->want;
				t->fired++;
				fired++;
			}
		}
	}
	assert_int_equal(fired, TN - 1);
	assert_int_equal(w.armed, 0);
	for (uint32_t i = 0; i < TN; i++)
		assert_int_equal(d[i].fired, i == 2 ? 0 : 1);
	sg_fl_wheel_fini(&w);
	free(d);
}

/* ---- delay line ----------------------------------------------------------- */

static void test_delay_order(void **state)
{
	static struct sg_fl_buf b[300];
	struct sg_fl_delay d;
	struct sg_fl_buf *x;
	uint32_t last_due = 0, got = 0;
	uint32_t seen_per_dev[3] = { 0 };

	(void)state;
	assert_int_equal(sg_fl_delay_init(&d, 2000, 0, 1, 0), 0);
	for (uint32_t k = 0; k < 300; k++) {
		/* three devices with delays 5, 1000 and 2000 ms, sending every ms */
		uint32_t dev = k % 3, delay = dev == 0 ? 5 : dev == 1 ? 1000 : 2000;

		b[k].dev = dev;
		b[k].len = (uint16_t)(k / 3); /* its order within the device */
		assert_true(sg_fl_delay_push(&d, &b[k], k / 3, delay));
	}
	assert_int_equal(d.held, 300);
	assert_null(sg_fl_delay_pop(&d, 4)); /* nothing due before 5 ms */
	for (uint32_t now = 0; now <= 2200; now++) {
		while ((x = sg_fl_delay_pop(&d, now)) != NULL) {
			assert_true(x->due <= now);
			assert_true(x->due >= last_due);
			assert_int_equal(x->len,
			                 seen_per_dev[x->dev]++); /* a device's order kept */
			last_due = x->due;
			got++;
		}
	}
	assert_int_equal(got, 300);
	assert_int_equal(d.held, 0);
	assert_int_equal(d.lost, 0);
	sg_fl_delay_fini(&d);
}

static void test_delay_loss(void **state)
{
	static const struct {
		uint32_t ppm, lo, hi; /* lost of 20000 */
	} rows[] = { { 0, 0, 0 },
		     { 1000000, 20000, 20000 },
		     { 100000, 1700, 2300 },
		     { 500000, 9500, 10500 } };
	static struct sg_fl_buf b;

	(void)state;
	for (unsigned r = 0; r < SG_ARRAY_SIZE(rows); r++) {
		struct sg_fl_delay d;
		uint32_t kept = 0;

		assert_int_equal(sg_fl_delay_init(&d, 10, rows[r].ppm, 42 + r, 0), 0);
		for (unsigned k = 0; k < 20000; k++) {
			if (sg_fl_delay_push(&d, &b, 0, 0)) {
				kept++;
				assert_ptr_equal(sg_fl_delay_pop(&d, 0), &b);
			}
		}
		assert_int_equal(d.passed, 20000);
		assert_int_equal(d.lost + kept, 20000); /* every drop counted */
		assert_in_range(d.lost, rows[r].lo, rows[r].hi);
		sg_fl_delay_fini(&d);
	}
	assert_int_equal(
	        sg_fl_delay_init(&(struct sg_fl_delay){ 0 }, SG_FL_DELAY_MAX_MS + 1, 0, 1, 0),
	        -EINVAL);
}

/* ---- CoAP ----------------------------------------------------------------- */

static void test_coap(void **state)
{
	uint8_t req[SG_FL_COAP_REQ_MAX], ans[64], bad[64];
	struct sg_fl_coap m;
	int n, a;

	(void)state;
	n = sg_fl_coap_request(req, sizeof(req), 0x1234, 777, 42);
	assert_in_range(n, 20, SG_FL_COAP_REQ_MAX);
	/* RFC 7252 §3: version 1, CON, TKL 8; POST; the message id */
	assert_int_equal(req[0], 0x48);
	assert_int_equal(req[1], SG_COAP_CODE_POST);
	assert_int_equal(sg_load_be16(req + 2), 0x1234);
	assert_int_equal(sg_fl_coap_parse(req, (size_t)n, &m), 0);
	assert_int_equal(m.type, SG_COAP_TYPE_CON);
	assert_int_equal(m.dev, 777);
	assert_int_equal(m.req, 42);
	assert_int_equal(m.pl_dev, 777);
	assert_int_equal(m.pl_req, 42);
	a = sg_fl_coap_answer(req, (size_t)n, ans, sizeof(ans));
	assert_true(a > 0);
	assert_int_equal(sg_fl_coap_parse(ans, (size_t)a, &m), 0);
	assert_int_equal(m.type, SG_COAP_TYPE_ACK);
	assert_int_equal(m.code, SG_COAP_CODE_CONTENT);
	assert_int_equal(m.mid, 0x1234);
	assert_int_equal(m.dev, 777);
	assert_int_equal(m.pl_req, 42);
	/* an answer is not a request; an answer in place works */
	assert_int_equal(sg_fl_coap_answer(ans, (size_t)a, bad, sizeof(bad)), -EINVAL);
	memcpy(bad, req, (size_t)n);
	assert_int_equal(sg_fl_coap_answer(bad, (size_t)n, bad, sizeof(bad)), a);
	assert_memory_equal(bad, ans, (size_t)a);
	assert_int_equal(sg_fl_coap_request(req, 10, 1, 1, 1), -EMSGSIZE);
	assert_int_equal(sg_fl_coap_answer(req, (size_t)n, ans, 5), -EMSGSIZE);
	/* every truncation is refused */
	for (int len = 0; len < n; len++)
		assert_int_equal(sg_fl_coap_parse(req, (size_t)len, &m), -EINVAL);
	/* malformed rows: version, token length, option nibble 15, an option past the end */
	memcpy(bad, req, (size_t)n);
	bad[0] = 0x88;
	assert_int_equal(sg_fl_coap_parse(bad, (size_t)n, &m), -EINVAL);
	bad[0] = 0x44;
	assert_int_equal(sg_fl_coap_parse(bad, (size_t)n, &m), -EINVAL);
	memcpy(bad, req, (size_t)n);
	bad[12] = 0xf5;
	assert_int_equal(sg_fl_coap_parse(bad, (size_t)n, &m), -EINVAL);
	bad[12] = 0xbe; /* length nibble 14: two more bytes of length, far past the end */
	assert_int_equal(sg_fl_coap_parse(bad, (size_t)n, &m), -EINVAL);
	/* a payload marker with a longer payload */
	memcpy(bad, req, (size_t)n);
	bad[n] = 0;
	assert_int_equal(sg_fl_coap_parse(bad, (size_t)n + 1, &m), -EINVAL);
}

/* ---- nonce check ---------------------------------------------------------- */

static void test_nonce(void **state)
{
	static const struct {
		uint64_t seq;
		bool fresh;
	} rows[] = {
		{ 1, true },
		{ 1, false }, /* a repeat */
		{ 0, true },
		{ 5, true },
		{ 3, true },
		{ 3, false },
		{ 2, true },
		{ 100, true },
		{ 37, true },  /* within 64 below the top */
		{ 36, false }, /* 64 below the top: too old to tell, counted */
		{ 5, false },
		{ 99, true },
		{ 100, false },
		{ 1000000, true },
		{ 999999, true },
		{ 999999, false },
		{ 1000000 - 63, true },
		{ 1000000 - 64, false },
	};
	struct sg_fl_nonce n = { 0 };

	(void)state;
	for (unsigned r = 0; r < SG_ARRAY_SIZE(rows); r++) {
		print_message("# row %u: seq %llu\n", r, (unsigned long long)rows[r].seq);
		assert_int_equal(sg_fl_nonce_use(&n, rows[r].seq), rows[r].fresh);
	}
	/* a new key (a re-handshake) starts again */
	n = (struct sg_fl_nonce){ 0 };
	assert_true(sg_fl_nonce_use(&n, 1));
}

/* ---- histogram ------------------------------------------------------------ */

static void test_hist(void **state)
{
	static struct sg_fl_hist h, g;

	(void)state;
	assert_true(sg_fl_hist_pct(&h, 50) == 0);
	for (uint64_t v = 1; v <= 100000; v++)
		sg_fl_hist_add(&h, v);
	/* each bucket is within 12.5 % of its values */
	assert_true(sg_fl_hist_pct(&h, 50) > 50000 * 0.88 && sg_fl_hist_pct(&h, 50) < 50000 * 1.13);
	assert_true(sg_fl_hist_pct(&h, 99) > 99000 * 0.88 && sg_fl_hist_pct(&h, 99) < 99000 * 1.13);
	assert_true(sg_fl_hist_pct(&h, 1) < sg_fl_hist_pct(&h, 50));
	/* small values are exact; huge ones land in the last bucket */
	sg_fl_hist_add(&g, 3);
	assert_true(sg_fl_hist_pct(&g, 50) == 3);
	sg_fl_hist_add(&g, UINT64_MAX);
	assert_true(sg_fl_hist_pct(&g, 100) > 1e12);
	sg_fl_hist_merge(&g, &h);
	assert_int_equal(g.n, 100002);
}

/* ---- link layer ----------------------------------------------------------- */

static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 0xa }, mac_b[6] = { 2, 0, 0, 0, 0, 0xb };
static const uint8_t ip4_a[4] = { 198, 19, 0, 7 }, ip4_b[4] = { 198, 18, 0, 1 };
static const uint8_t ip6_a[16] = { 0xfd, 0, 0x53, 0x47, [11] = 1, [15] = 7 };
static const uint8_t ip6_b[16] = { 0xfd, 0, 0x53, 0x47, [15] = 1 };

static void test_frame_udp(void **state)
{
	(void)state;
	for (uint8_t family = 4; family <= 6; family += 2) {
		const uint8_t *src = family == 4 ? ip4_a : ip6_a,
		              *dst = family == 4 ? ip4_b : ip6_b;
		unsigned alen = family == 4 ? 4 : 16, iplen = family == 4 ? 20 : 40;
		uint8_t data[256], copy[256];
		struct sg_fl_rx rx;
		uint16_t off, len;
		uint8_t *f, *udp;

		memset(data, 0, sizeof(data));
		memcpy(data + SG_FL_HDR_ROOM, "hello, gateway", 14);
		len = sg_fl_udp_build(data, 14, mac_b, mac_a, family, src, 10007, dst, 5684, &off);
		f = data + off;
		udp = f + SG_FL_ETH_LEN + iplen;
		assert_int_equal(len, SG_FL_ETH_LEN + iplen + 8 + 14);
		assert_int_equal(off + len, SG_FL_HDR_ROOM + 14);
		/* independent checksums (tests/common/tc_csum.c) */
		if (family == 4)
			assert_int_equal(tc_csum(f + SG_FL_ETH_LEN, 20, 0), 0xffff);
		assert_int_equal(tc_csum_l4(family, src, dst, 17, udp, 8 + 14), 0);
		assert_int_equal(sg_fl_parse(f, len, &rx), SG_FL_K_UDP);
		assert_int_equal(rx.family, family);
		assert_memory_equal(rx.src, src, alen);
		assert_memory_equal(rx.dst, dst, alen);
		assert_memory_equal(rx.src_mac, mac_a, 6);
		assert_int_equal(rx.sport, 10007);
		assert_int_equal(rx.dport, 5684);
		assert_int_equal(rx.l4_len, 14);
		assert_memory_equal(f + rx.l4_off, "hello, gateway", 14);
		/* every truncation and every bit flip: parsed without a crash (ASan build) */
		for (uint16_t l = 0; l < len; l++)
			assert_int_not_equal(sg_fl_parse(f, l, &rx), SG_FL_K_UDP);
		for (unsigned bit = 0; bit < len * 8u; bit++) {
			memcpy(copy, f, len);
			copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			enum sg_fl_kind k = sg_fl_parse(copy, len, &rx);

			/* a flip in the IP/UDP header or payload breaks a checksum (or the
			 * frame), except in the MACs and the IPv6 fields outside the
			 * pseudo-header (traffic class, flow label, hop limit) */
			unsigned byte = bit / 8;
			bool covered = byte >= 12 && (family == 4 || byte < 14 || byte >= 22);

			if (covered && k == SG_FL_K_UDP)
				fail_msg("bit %u flipped still parses as UDP", bit);
		}
	}
}

static void test_frame_neigh(void **state)
{
	uint8_t f[128];
	struct sg_fl_rx rx;
	uint16_t len;

	(void)state;
	len = sg_fl_arp_build(f, 1, mac_a, ip4_a, mac_b, ip4_b);
	assert_int_equal(len, SG_FL_ARP_LEN);
	assert_memory_equal(f, "\xff\xff\xff\xff\xff\xff", 6);
	assert_int_equal(sg_fl_parse(f, len, &rx), SG_FL_K_ARP);
	assert_int_equal(rx.op, 1);
	assert_memory_equal(rx.sha, mac_a, 6);
	assert_memory_equal(rx.spa, ip4_a, 4);
	assert_memory_equal(rx.tpa, ip4_b, 4);
	len = sg_fl_arp_build(f, 2, mac_b, ip4_b, mac_a, ip4_a);
	assert_int_equal(sg_fl_parse(f, len, &rx), SG_FL_K_ARP);
	assert_int_equal(rx.op, 2);
	assert_memory_equal(f, mac_a, 6);
	assert_int_equal(sg_fl_parse(f, SG_FL_ARP_LEN - 1, &rx), SG_FL_K_BAD);
	/* a solicitation to the solicited-node group (RFC 4291 §2.7.1), then the advertisement */
	len = sg_fl_ndisc_build(f, 135, mac_a, ip6_a, NULL, NULL, ip6_b);
	assert_int_equal(len, SG_FL_NDISC_LEN);
	assert_memory_equal(f, "\x33\x33\xff\x00\x00\x01", 6);
	assert_int_equal(tc_csum_l4(6, f + 22, f + 38, 58, f + 54, 32), 0);
	assert_int_equal(sg_fl_parse(f, len, &rx), SG_FL_K_NDISC);
	assert_int_equal(rx.op, 135);
	assert_memory_equal(rx.tpa, ip6_b, 16);
	assert_memory_equal(rx.sha, mac_a, 6);
	len = sg_fl_ndisc_build(f, 136, mac_b, ip6_b, mac_a, ip6_a, ip6_b);
	assert_int_equal(sg_fl_parse(f, len, &rx), SG_FL_K_NDISC);
	assert_int_equal(rx.op, 136);
	assert_memory_equal(rx.sha, mac_b, 6);
	f[60] ^= 1; /* the target: the ICMPv6 checksum no longer holds */
	assert_int_equal(sg_fl_parse(f, len, &rx), SG_FL_K_BAD);
}

/* ---- credentials ---------------------------------------------------------- */

static void test_creds(void **state)
{
	/* python3: hmac.new(b'stormgate-fleet', b'fleet-00000000', 'sha256').hexdigest()[:32] */
	static const uint8_t want[16] = { 0x37, 0x62, 0xcd, 0x88, 0x9d, 0x76, 0xd6, 0xa1,
		                          0x46, 0x4c, 0xe8, 0x73, 0x06, 0xe3, 0x64, 0xdd };
	char id[SG_FL_IDENTITY_MAX], path[] = "/tmp/sg-fleet-creds-XXXXXX", line[128];
	uint8_t psk[SG_FL_PSK_LEN];
	FILE *f;
	int fd, lines = 0;

	(void)state;
	assert_int_equal(sg_fl_identity(0, id), 14);
	assert_string_equal(id, "fleet-00000000");
	assert_int_equal(sg_fl_identity(9999999, id), 14);
	assert_string_equal(id, "fleet-09999999");
	assert_int_equal(sg_fl_psk("stormgate-fleet", "fleet-00000000", psk), 0);
	assert_memory_equal(psk, want, 16);
	assert_int_equal(sg_fl_psk("another-seed", "fleet-00000000", psk), 0);
	assert_memory_not_equal(psk, want, 16);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sg_fl_write_creds(path, "stormgate-fleet", 3), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		lines++;
	rewind(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "identity,psk_hex\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "fleet-00000000,3762cd889d76d6a1464ce87306e364dd\n");
	fclose(f);
	assert_int_equal(lines, 4);
	unlink(path);
	assert_int_equal(sg_fl_write_creds("/nonexistent/dir/x.csv", "s", 1), -ENOENT);
}

/* ---- command line --------------------------------------------------------- */

static int parse(struct sg_fl_conf *c, char *err, const char *line)
{
	char buf[512], *argv[32];
	int argc = 0;
	FILE *out = fopen("/dev/null", "w");
	int rc;

	snprintf(buf, sizeof(buf), "stormgate-fleet %s", line);
	for (char *t = strtok(buf, " "); t != NULL && argc < 31; t = strtok(NULL, " "))
		argv[argc++] = t;
	argv[argc] = NULL;
	rc = sg_fl_opts_parse(argc, argv, c, err, 256, out);
	fclose(out);
	return rc;
}

static void test_opts(void **state)
{
	static const struct {
		const char *line;
		int rc;
		const char *err; /* a part of the message */
	} rows[] = {
		{ "", 0, NULL },
		{ "--help", 1, NULL },
		{ "--devices 0", -EINVAL, "--devices 0" },
		{ "--devices 10000001", -EINVAL, "--devices" },
		{ "--devices 1048577", -EINVAL, "do not fit 198.19.0.0/16" },
		{ "--devices 1048577 --ipv6", 0, NULL },
		{ "--devices 1048577 --ports-per-addr 17", 0, NULL },
		{ "--ramp 5 --arrival-rate 100", 0, NULL }, /* the rate overrides the ramp */
		{ "--arrival-rate 0", -EINVAL, "--arrival-rate" },
		{ "--req-rate 1 --req-total 10", -EINVAL, "give one" },
		{ "--req-rate 0.05", 0, NULL },
		{ "--req-rate -1", -EINVAL, "--req-rate" },
		{ "--req-rate 1e3x", -EINVAL, "--req-rate" },
		{ "--rtt 50-10", -EINVAL, "--rtt" },
		{ "--rtt 10-", -EINVAL, "--rtt" },
		{ "--rtt 30001", -EINVAL, "--rtt" },
		{ "--rtt 100-2000", 0, NULL },
		{ "--loss 100.5", -EINVAL, "--loss" },
		{ "--loss 2.5", 0, NULL },
		{ "--rto 2000 --rto-max 1000", -EINVAL, "--rto-max" },
		{ "--kx ecdhe", -EINVAL, "--kx" },
		{ "--kx p256", 0, NULL },
		{ "--resume", 0, NULL },
		{ "--cid --resume", 0, NULL },
		{ "--suite TLS_PSK_WITH_AES_128_CCM_8", 0, NULL },
		{ "--suite TLS_PSK_WITH_NOTHING", -EINVAL, "--suite" },
		/* ranked, but not the fleet's: CBC-SHA256, certificates */
		{ "--suite TLS_PSK_WITH_AES_128_CBC_SHA256", -EINVAL, "--suite" },
		{ "--suite TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", -EINVAL, "--suite" },
		{ "--suite TLS_PSK_WITH_AES_128_CCM_8 --suite TLS_PSK_WITH_AES_128_CCM_8", -EINVAL,
		  "--suite" },
		{ "--kx x25519 --suite TLS_PSK_WITH_AES_128_CCM_8", -EINVAL, "not a ECDHE-PSK" },
		{ "--server 198.18.0.9:5684 --ipv6", -EINVAL, "IPv6" },
		{ "--server [fd00:5347::9]:5684 --ipv6", 0, NULL },
		{ "--server 198.18.0.9", -EINVAL, "--server" },
		{ "--backend-mode tcp", -EINVAL, "--backend-mode" },
		{ "--duration 86401", -EINVAL, "--duration" },
		{ "--bogus", -EINVAL, "--bogus" },
		{ "--devices", -EINVAL, "missing value" },
		{ "extra", -EINVAL, "unexpected argument: extra" },
		{ "--seed  --devices 5", -EINVAL, NULL },
	};
	struct sg_fl_conf c;
	char err[256];

	(void)state;
	for (unsigned r = 0; r < SG_ARRAY_SIZE(rows); r++) {
		int rc;

		err[0] = '\0';
		rc = parse(&c, err, rows[r].line);
		print_message("# '%s' -> %d %s\n", rows[r].line, rc, err);
		assert_int_equal(rc, rows[r].rc);
		if (rows[r].err != NULL)
			assert_non_null(strstr(err, rows[r].err));
	}
	/* defaults, and what options set */
	assert_int_equal(parse(&c, err, ""), 0);
	assert_int_equal(c.devices, 1000);
	assert_int_equal(c.max_inflight, 4096);
	assert_int_equal(c.rto_ms, 1000);
	assert_int_equal(c.rto_max_ms, 60000);
	assert_int_equal(c.rto_jitter_pct, 25);
	assert_int_equal(c.duration_s, 60);
	assert_int_equal(c.server_port, 5684);
	assert_memory_equal(c.server, "\xc6\x12\x00\x01", 4);
	assert_memory_equal(c.app, "\xc6\x12\x02\x02", 4);
	/* The registry's ranked PSK AEAD suites: not CBC, which the fleet does not speak. */
	assert_int_equal(c.n_suites, 5);
	for (unsigned i = 0; i < c.n_suites; i++)
		assert_true(sg_fc_suite_spoken(sg_suite_find(c.suites[i])));
	assert_int_equal(parse(&c, err,
	                       "--kx x25519 --rtt 100-2000 --loss 2.5 --req-total 500 "
	                       "--devices 1000 --ipv6 --backend-mode proxy --progress"),
	                 0);
	assert_int_equal(c.n_suites, 4);
	assert_int_equal(c.rtt_min_ms, 100);
	assert_int_equal(c.rtt_max_ms, 2000);
	assert_int_equal(c.loss_ppm, 25000);
	assert_true(sg_fl_req_interval_ms(&c) == 2000.0);
	assert_int_equal(c.family, 6);
	assert_int_equal(c.backend, SG_FL_BACKEND_PROXY);
	assert_true(c.progress);
	assert_int_equal(c.server[15], 1);
}

/* ---- report ---------------------------------------------------------------- */

static void test_report(void **state)
{
	static const char *const keys[] = {
		"devices",
		"connected",
		"handshakes_started",
		"handshakes_completed",
		"handshakes_failed",
		"retransmissions",
		"seconds_to_all_connected",
		"peak_handshakes_per_s",
		"requests_sent",
		"requests_answered",
		"requests_lost",
		"misdelivered",
		"rtt_p50_ms",
		"rtt_p99_ms",
		"nonce_reuse",
		"rehandshakes",
		"alerts_received",
		"duration_s",
		"series",
	};
	static const char *const series_keys[] = {
		"t",
		"connected",
		"handshakes_per_s",
		"handshakes_completed",
		"handshakes_failed",
		"retransmissions",
		"requests_per_s",
		"answers_per_s",
		"rtt_p50_ms",
		"rtt_p99_ms",
		"inflight",
	};
	char path[] = "/tmp/sg-fleet-series-XXXXXX", line[1024];
	struct sg_fl_conf conf = { .series = path };
	static struct sg_fl_snap sn;
	static struct sg_fl_report r;
	json_t *o, *sr;
	FILE *f;
	int fd, lines = 0;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sg_fl_report_open(&r, &conf), 0);
	sn.devices = 10;
	sn.ready_ms = 1000;
	sn.all_connected_ms = -1;
	/* second 1: 4 handshakes, 3 answers of 2 ms; second 2: 6 more, all connected at 2.5 s */
	sn.c.handshakes_completed = sn.connected = 4;
	sn.c.requests_sent = sn.c.requests_answered = 3;
	for (int k = 0; k < 3; k++)
		sg_fl_hist_add(&sn.rtt, 2000);
	sg_fl_report_second(&r, &sn, 1);
	sn.c.handshakes_completed = sn.connected = 10;
	sn.all_connected_ms = 3500;
	sn.c.requests_sent = sn.c.requests_answered = 5;
	sg_fl_hist_add(&sn.rtt, 40000);
	sg_fl_hist_add(&sn.rtt, 40000);
	sg_fl_report_second(&r, &sn, 2);
	o = sg_fl_report_final(&r, &sn, 2.0);
	assert_non_null(o);
	for (unsigned k = 0; k < SG_ARRAY_SIZE(keys); k++)
		assert_non_null(json_object_get(o, keys[k]));
	assert_int_equal(json_integer_value(json_object_get(o, "peak_handshakes_per_s")), 6);
	assert_true(json_real_value(json_object_get(o, "seconds_to_all_connected")) == 2.5);
	assert_true(json_real_value(json_object_get(o, "rtt_p99_ms")) > 35);
	sr = json_object_get(o, "series");
	assert_int_equal(json_array_size(sr), 2);
	for (unsigned k = 0; k < SG_ARRAY_SIZE(series_keys); k++)
		assert_non_null(json_object_get(json_array_get(sr, 1), series_keys[k]));
	/* per second: the second's own handshakes and round trips */
	assert_int_equal(
	        json_integer_value(json_object_get(json_array_get(sr, 1), "handshakes_per_s")), 6);
	assert_int_equal(
	        json_integer_value(json_object_get(json_array_get(sr, 1), "answers_per_s")), 2);
	assert_true(json_real_value(json_object_get(json_array_get(sr, 0), "rtt_p99_ms")) < 3);
	assert_true(json_real_value(json_object_get(json_array_get(sr, 1), "rtt_p50_ms")) > 35);
	json_decref(o);
	sg_fl_report_close(&r);
	/* the series file: the same objects, one a line */
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *x = json_loads(line, 0, NULL);

		assert_non_null(x);
		assert_int_equal(json_integer_value(json_object_get(x, "t")), ++lines);
		json_decref(x);
	}
	fclose(f);
	assert_int_equal(lines, 2);
	unlink(path);
	/* never all connected: null */
	assert_int_equal(sg_fl_report_open(&r, &(struct sg_fl_conf){ 0 }), 0);
	sn.all_connected_ms = -1;
	o = sg_fl_report_final(&r, &sn, 1.0);
	assert_true(json_is_null(json_object_get(o, "seconds_to_all_connected")));
	json_decref(o);
	sg_fl_report_close(&r);
}

/* ---- a whole core, in memory ---------------------------------------------- */

#define NBUF 512

/* The shell's part, in memory: a pool of buffers and what was sent, per port. */
struct mem_io {
	unsigned limit; /* buffers that may be out at once; 0: NBUF */
	struct sg_fl_buf buf[NBUF];
	uint8_t data[NBUF][2048];
	bool used[NBUF];
	unsigned live;
	struct sg_fl_buf *sent[SG_FL_PORT_MAX][NBUF];
	unsigned n_sent[SG_FL_PORT_MAX];
};

static struct sg_fl_buf *mem_alloc(void *ctx)
{
	struct mem_io *m = ctx;

	if (m->limit != 0 && m->live >= m->limit)
		return NULL;
	for (unsigned k = 0; k < NBUF; k++) {
		if (!m->used[k]) {
			m->used[k] = true;
			m->live++;
			m->buf[k] = (struct sg_fl_buf){ .handle = &m->used[k],
				                        .data = m->data[k],
				                        .cap = sizeof(m->data[k]) };
			return &m->buf[k];
		}
	}
	return NULL;
}

static void mem_free(void *ctx, struct sg_fl_buf *b)
{
	struct mem_io *m = ctx;

	assert_true(*(bool *)b->handle);
	*(bool *)b->handle = false;
	m->live--;
}

static void mem_send(void *ctx, enum sg_fl_port port, struct sg_fl_buf *b)
{
	struct mem_io *m = ctx;

	assert_true(m->n_sent[port] < NBUF);
	m->sent[port][m->n_sent[port]++] = b;
}

/* Free what was sent on port; returns how many frames parsed as kind (any: -1). */
static unsigned drain(struct mem_io *m, enum sg_fl_port port, int kind)
{
	unsigned n = 0;

	for (unsigned k = 0; k < m->n_sent[port]; k++) {
		struct sg_fl_buf *b = m->sent[port][k];
		struct sg_fl_rx rx;

		n += kind < 0 || (int)sg_fl_parse(b->data + b->off, b->len, &rx) == kind;
		mem_free(m, b);
	}
	m->n_sent[port] = 0;
	return n;
}

/* A received frame (len bytes of f) in a pool buffer. */
static struct sg_fl_buf *rx_frame(struct mem_io *m, const uint8_t *f, uint16_t len)
{
	struct sg_fl_buf *b = mem_alloc(m);

	assert_non_null(b);
	memcpy(b->data, f, len);
	b->len = len;
	return b;
}

static void feed(struct sg_fl *fl, struct mem_io *m, enum sg_fl_port port, const uint8_t *f,
                 uint16_t len, uint64_t now_us)
{
	struct sg_fl_buf *b = rx_frame(m, f, len);

	sg_fl_input(fl, port, &b, 1, now_us);
}

static const uint8_t gw_mac[6] = { 2, 0x53, 0x47, 0, 0, 1 };
static const uint8_t router4[4] = { 198, 18, 0, 2 };
static const uint8_t app4[4] = { 198, 18, 2, 2 }, gw_app4[4] = { 198, 18, 2, 1 };

/* The application server: a request from the gateway's backend side comes back answered. */
static void core_app(struct sg_fl *fl, struct mem_io *m, uint64_t t)
{
	uint8_t d[256], req[SG_FL_COAP_REQ_MAX];
	int n = sg_fl_coap_request(req, sizeof(req), 9, 5, 77);
	struct sg_fl_rx rx;
	struct sg_fl_coap c;
	struct sg_fl_buf *b;
	uint16_t off, len;

	memcpy(d + SG_FL_HDR_ROOM, req, (size_t)n);
	len = sg_fl_udp_build(d, (uint16_t)n, mac_a, gw_mac, 4, gw_app4, 20001, app4, 5683, &off);
	feed(fl, m, SG_FL_PORT_APP, d + off, len, t);
	assert_int_equal(m->n_sent[SG_FL_PORT_APP], 1);
	b = m->sent[SG_FL_PORT_APP][0];
	assert_int_equal(sg_fl_parse(b->data + b->off, b->len, &rx), SG_FL_K_UDP);
	assert_memory_equal(b->data + b->off, gw_mac, 6); /* back to the MAC it came from */
	assert_memory_equal(rx.src, app4, 4);
	assert_memory_equal(rx.dst, gw_app4, 4);
	assert_int_equal(rx.sport, 5683);
	assert_int_equal(rx.dport, 20001);
	assert_int_equal(sg_fl_coap_parse(b->data + b->off + rx.l4_off, rx.l4_len, &c), 0);
	assert_int_equal(c.type, SG_COAP_TYPE_ACK);
	assert_int_equal(c.mid, 9);
	assert_int_equal(c.dev, 5);
	assert_int_equal(c.req, 77);
	drain(m, SG_FL_PORT_APP, -1);
	/* not a request of ours: counted, not answered */
	memcpy(d + SG_FL_HDR_ROOM, "garbage", 7);
	len = sg_fl_udp_build(d, 7, mac_a, gw_mac, 4, gw_app4, 20001, app4, 5683, &off);
	feed(fl, m, SG_FL_PORT_APP, d + off, len, t);
	assert_int_equal(m->n_sent[SG_FL_PORT_APP], 0);
}

/* Bad input on both ports: counted drops, never a crash or a reply. */
static void core_garbage(struct sg_fl *fl, struct mem_io *m, uint64_t t)
{
	static const uint8_t dev_out[4] = { 198, 19, 250, 0 }, gw4[4] = { 198, 18, 0, 1 };
	uint8_t d[256], junk[200];
	uint64_t rng = 99;
	struct sg_fl_snap s0, s1;
	uint16_t off, len;

	sg_fl_snapshot(fl, &s0);
	for (unsigned k = 0; k < 200; k++) {
		for (unsigned j = 0; j < sizeof(junk); j++)
			junk[j] = (uint8_t)sg_fl_rand32(&rng);
		feed(fl, m, k % 2 ? SG_FL_PORT_APP : SG_FL_PORT_DEV, junk, (uint16_t)(k % 199), t);
	}
	/* to a device outside the fleet */
	memcpy(d + SG_FL_HDR_ROOM, "x", 1);
	len = sg_fl_udp_build(d, 1, mac_a, gw_mac, 4, gw4, 5684, dev_out, 10000, &off);
	feed(fl, m, SG_FL_PORT_DEV, d + off, len, t);
	sg_fl_snapshot(fl, &s1);
	assert_int_equal(s1.c.drops[SG_FL_DROP_NO_DEVICE], s0.c.drops[SG_FL_DROP_NO_DEVICE] + 1);
	assert_true(s1.c.drops[SG_FL_DROP_BAD_FRAME] + s1.c.drops[SG_FL_DROP_NOT_OURS] >=
	            s0.c.drops[SG_FL_DROP_BAD_FRAME] + s0.c.drops[SG_FL_DROP_NOT_OURS] + 190);
	assert_int_equal(m->n_sent[SG_FL_PORT_APP], 0);
	assert_int_equal(m->n_sent[SG_FL_PORT_DEV], 0);
}

/* Every frame the devices sent: hellos to the gateway from their own addresses, or ARP;
 * how many hellos came from UDP port sport (0: any); *arps: the devices' ARP requests. */
static unsigned hellos_from(struct mem_io *m, unsigned *arps, uint16_t sport)
{
	unsigned n = 0;

	*arps = 0;
	for (unsigned k = 0; k < m->n_sent[SG_FL_PORT_DEV]; k++) {
		struct sg_fl_buf *b = m->sent[SG_FL_PORT_DEV][k];
		const uint8_t *f = b->data + b->off;
		struct sg_fl_rx rx;
		enum sg_fl_kind kind = sg_fl_parse(f, b->len, &rx);

		if (kind == SG_FL_K_ARP) { /* a device's own (the router's refreshes aside) */
			*arps += memcmp(rx.spa, "\xc6\x13", 2) == 0;
			continue;
		}
		assert_int_equal(kind, SG_FL_K_UDP);
		assert_memory_equal(f, gw_mac, 6);
		assert_memory_equal(rx.dst, "\xc6\x12\x00\x01", 4);
		assert_int_equal(rx.dport, 5684);
		assert_memory_equal(rx.src, "\xc6\x13", 2); /* 198.19.0.0/16 */
		assert_in_range(rx.sport, 10000, 10015);
		assert_int_equal(f[rx.l4_off], SG_DTLS_CT_HANDSHAKE);
		n += sport == 0 || rx.sport == sport;
	}
	drain(m, SG_FL_PORT_DEV, -1);
	return n;
}

static unsigned hellos(struct mem_io *m, unsigned *arps)
{
	return hellos_from(m, arps, 0);
}

static void test_core(void **state)
{
	static struct mem_io m;
	struct sg_fl_io io = { .ctx = &m, .alloc = mem_alloc, .free = mem_free, .send = mem_send };
	uint8_t macs[SG_FL_PORT_MAX][6], f[128];
	struct sg_fl_conf conf;
	struct sg_fl_snap s;
	struct sg_fl *fl;
	char err[256];
	unsigned arps;
	uint16_t len;

	(void)state;
	memcpy(macs[SG_FL_PORT_DEV], mac_a, 6);
	memcpy(macs[SG_FL_PORT_APP], mac_b, 6);
	assert_int_equal(parse(&conf, err, "--devices 20 --announce --hs-timeout 3"), 0);
	fl = sg_fl_create(&conf, &io, (const uint8_t(*)[6])macs, 0, 20, 1, 1000000);
	assert_non_null(fl);
	/* it asks for the gateway (ARP from the router's address) and waits */
	assert_int_equal(sg_fl_poll(fl, 1000000), 0);
	assert_int_equal(m.n_sent[SG_FL_PORT_DEV], 1);
	assert_int_equal(drain(&m, SG_FL_PORT_DEV, SG_FL_K_ARP), 1);
	assert_false(sg_fl_ready(fl));
	/* the gateway answers: the devices start (ramp 0: all at once) */
	len = sg_fl_arp_build(f, 2, gw_mac, (const uint8_t *)"\xc6\x12\x00\x01", mac_a, router4);
	feed(fl, &m, SG_FL_PORT_DEV, f, len, 1001000);
	assert_true(sg_fl_ready(fl));
	sg_fl_poll(fl, 1002000);
	assert_int_equal(hellos(&m, &arps), 20);
	assert_int_equal(arps, 20); /* --announce: each device ARPs first */
	sg_fl_snapshot(fl, &s);
	assert_int_equal(s.c.handshakes_started, 20);
	assert_int_equal(s.inflight, 20);
	{
		uint32_t st[SG_FL_STATES];

		sg_fl_states(fl, st);
		assert_int_equal(st[SG_FL_D_HS], 20);
		assert_int_equal(st[SG_FL_D_UP] + st[SG_FL_D_IDLE] + st[SG_FL_D_QUEUED], 0);
		assert_string_equal(sg_fl_state_name(SG_FL_D_HS), "handshake");
		assert_string_equal(sg_fl_state_name(SG_FL_STATES), "unknown");
	}
	/* it answers ARP for a device's address, not for others */
	len = sg_fl_arp_build(f, 1, gw_mac, (const uint8_t *)"\xc6\x12\x00\x01", NULL,
	                      (const uint8_t *)"\xc6\x13\x00\x01");
	feed(fl, &m, SG_FL_PORT_DEV, f, len, 1003000);
	assert_int_equal(drain(&m, SG_FL_PORT_DEV, SG_FL_K_ARP), 1);
	len = sg_fl_arp_build(f, 1, gw_mac, (const uint8_t *)"\xc6\x12\x00\x01", NULL,
	                      (const uint8_t *)"\xc6\x12\x00\x63");
	feed(fl, &m, SG_FL_PORT_DEV, f, len, 1003000);
	assert_int_equal(m.n_sent[SG_FL_PORT_DEV], 0);
	core_app(fl, &m, 1004000);
	core_garbage(fl, &m, 1005000);
	/* no answer: every hello is sent again within 1 s ± 25 % (RFC 6347 §4.2.4.1) */
	sg_fl_poll(fl, 1002000 + 740000);
	assert_int_equal(hellos(&m, &arps), 0);
	sg_fl_poll(fl, 1002000 + 1260000);
	assert_int_equal(hellos(&m, &arps), 20);
	sg_fl_snapshot(fl, &s);
	assert_int_equal(s.c.retransmissions, 20);
	/* the handshake is given up after --hs-timeout, counted, and retried later */
	sg_fl_poll(fl, 1002000 + 3001000);
	drain(&m, SG_FL_PORT_DEV, -1);
	sg_fl_snapshot(fl, &s);
	assert_int_equal(s.c.handshakes_failed, 20);
	assert_int_equal(s.inflight, 0);
	assert_int_equal(s.connected, 0);
	sg_fl_poll(fl, 1002000 + 5100000);
	assert_int_equal(hellos(&m, &arps), 20); /* back-off rto..2 rto, then a new hello */
	assert_int_equal(arps, 20);              /* announced again */
	sg_fl_free(fl);
	assert_int_equal(m.live, 0); /* every buffer back */
}

static struct sg_fl_snap snap(const struct sg_fl *fl)
{
	struct sg_fl_snap s;

	sg_fl_snapshot(fl, &s);
	return s;
}

/* An empty pool: what could not be sent is counted and tried again, nothing is lost. */
static void test_core_no_buf(void **state)
{
	static struct mem_io m;
	struct sg_fl_io io = { .ctx = &m, .alloc = mem_alloc, .free = mem_free, .send = mem_send };
	uint8_t macs[SG_FL_PORT_MAX][6], f[128];
	struct sg_fl_conf conf;
	struct sg_fl *fl;
	char err[256];
	unsigned arps, sent = 0;
	uint64_t t = 1000000;
	uint16_t len;

	(void)state;
	memcpy(macs[SG_FL_PORT_DEV], mac_a, 6);
	memcpy(macs[SG_FL_PORT_APP], mac_b, 6);
	assert_int_equal(parse(&conf, err, "--devices 20"), 0);
	fl = sg_fl_create(&conf, &io, (const uint8_t(*)[6])macs, 0, 20, 5, t);
	assert_non_null(fl);
	sg_fl_poll(fl, t);
	drain(&m, SG_FL_PORT_DEV, -1);
	len = sg_fl_arp_build(f, 2, gw_mac, (const uint8_t *)"\xc6\x12\x00\x01", mac_a, router4);
	feed(fl, &m, SG_FL_PORT_DEV, f, len, t);
	m.limit = 6; /* six buffers for twenty hellos */
	for (unsigned round = 0; round < 10 && sent < 20; round++) {
		sg_fl_poll(fl, t += 11000);
		sent += hellos(&m, &arps);
	}
	assert_int_equal(sent, 20);
	assert_true(snap(fl).c.drops[SG_FL_DROP_NO_BUF] > 0);
	assert_int_equal(snap(fl).c.handshakes_started, 20);
	assert_int_equal(snap(fl).inflight, 20);
	assert_int_equal(snap(fl).c.handshakes_failed, 0);
	sg_fl_free(fl);
	assert_int_equal(m.live, 0);
}

/* ---- a connected device against the test's record layer ---------------------- */

struct gw_side {
	struct sg_rec_ctx *rec;
	struct sg_rec_sa *sa; /* the gateway's view of the device's session */
};

static const uint8_t key_c[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t key_s[16] = { 0xc0, 0xff, 0xee, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t iv_c[4] = { 0xa1, 0xa2, 0xa3, 0xa4 }, iv_s[4] = { 0xb1, 0xb2, 0xb3, 0xb4 };

/* Device i of fl gets a session (AES-128-GCM, epoch 1) as if its handshake had completed. */
static void connect_device(struct sg_fl *fl, uint32_t i, struct gw_side *g)
{
	struct sg_rec_sa_params dev = { .aead = SG_AEAD_AES_128_GCM,
		                        .epoch = 1,
		                        .rx_key = key_s,
		                        .tx_key = key_c,
		                        .rx_iv = iv_s,
		                        .tx_iv = iv_c,
		                        .tx_seq = 1,
		                        .rx_seq = 1 };
	struct sg_rec_sa_params gw = { .aead = SG_AEAD_AES_128_GCM,
		                       .epoch = 1,
		                       .rx_key = key_c,
		                       .tx_key = key_s,
		                       .rx_iv = iv_c,
		                       .tx_iv = iv_s,
		                       .tx_seq = 1,
		                       .rx_seq = 1 };
	struct sg_fl_dev *d = &fl->dev[i];

	assert_int_equal(sg_rec_sa_init(&d->sa, SG_FL_WINDOW, &dev), 0);
	assert_int_equal(sg_rec_sa_init(g->sa, SG_FL_WINDOW, &gw), 0);
	d->state = SG_FL_D_UP; /* what the fleet does when a handshake completes */
	d->fc.state = SG_FC_DONE;
	d->tx = d->rx = (struct sg_fl_nonce){ 0 };
	d->req_out = 0;
	d->next_req = fl->now + 500; /* its first request in half a second */
	fl->connected++;
	sg_fl_wheel_set(&fl->wheel, i, d->next_req);
}

/* The one request device 1 sent on the device port (device 0 may resend its hello):
 * opened with the gateway's keys. */
static void take_request(struct mem_io *m, struct gw_side *g, struct sg_fl_coap *c)
{
	struct sg_rec_open_op op = { .sa = g->sa };
	struct sg_fl_buf *b = NULL;
	struct sg_fl_rx rx;

	for (unsigned k = 0; k < m->n_sent[SG_FL_PORT_DEV]; k++) {
		struct sg_fl_buf *x = m->sent[SG_FL_PORT_DEV][k];

		if (sg_fl_parse(x->data + x->off, x->len, &rx) == SG_FL_K_UDP &&
		    rx.sport == 10001) {
			assert_null(b);
			b = x;
		}
	}
	assert_non_null(b);
	assert_int_equal(sg_fl_parse(b->data + b->off, b->len, &rx), SG_FL_K_UDP);
	op.rec = b->data + b->off + rx.l4_off;
	op.rec_len = rx.l4_len;
	assert_int_equal(sg_rec_open_burst(g->rec, &op, 1), 1);
	assert_int_equal(op.type, SG_DTLS_CT_APPLICATION_DATA);
	assert_int_equal(sg_fl_coap_parse(op.rec + op.pt_off, op.pt_len, c), 0);
	assert_int_equal(c->type, SG_COAP_TYPE_CON);
	drain(m, SG_FL_PORT_DEV, -1);
}

/* A record of type (pt, len) sealed by the gateway, in a frame to device 1: its length. */
static uint16_t gw_frame(struct gw_side *g, uint8_t type, const uint8_t *pt, uint32_t len,
                         uint8_t *d, uint16_t *off)
{
	static const uint8_t gw4[4] = { 198, 18, 0, 1 }, dev1[4] = { 198, 19, 0, 0 };
	unsigned head = sg_rec_seal_headroom(SG_AEAD_AES_128_GCM, 0, 0);
	struct sg_rec_seal_op op = { .buf = d + SG_FL_HDR_ROOM - head,
		                     .buf_len = 200 + head,
		                     .pt_off = head,
		                     .pt_len = len,
		                     .sa = g->sa,
		                     .type = type };

	memcpy(d + SG_FL_HDR_ROOM, pt, len);
	assert_int_equal(sg_rec_seal_burst(g->rec, &op, 1), 1);
	assert_int_equal(op.rec_off, 0);
	/* the record now starts head bytes before the payload room: move it there */
	memmove(d + SG_FL_HDR_ROOM, d + SG_FL_HDR_ROOM - head, op.rec_len);
	return sg_fl_udp_build(d, (uint16_t)op.rec_len, mac_a, gw_mac, 4, gw4, 5684, dev1, 10001,
	                       off);
}

/* The device asks, the test answers as (dev, req) says: fed back twice (the second a replay). */
static void ask_and_answer(struct sg_fl *fl, struct mem_io *m, struct gw_side *g, uint64_t *t,
                           uint32_t answer_dev, bool replay)
{
	uint8_t req[SG_FL_COAP_REQ_MAX], ans[64], d[512];
	struct sg_fl_coap c;
	uint16_t off, len;
	int n, a;

	*t += 1000000; /* --req-rate 1: the next request is due */
	sg_fl_poll(fl, *t);
	take_request(m, g, &c);
	assert_int_equal(c.dev, 1);
	n = sg_fl_coap_request(req, sizeof(req), c.mid, answer_dev, c.req);
	a = sg_fl_coap_answer(req, (size_t)n, ans, sizeof(ans));
	len = gw_frame(g, SG_DTLS_CT_APPLICATION_DATA, ans, (uint32_t)a, d, &off);
	*t += 3000;
	feed(fl, m, SG_FL_PORT_DEV, d + off, len, *t);
	if (replay)
		feed(fl, m, SG_FL_PORT_DEV, d + off, len, *t);
	sg_fl_poll(fl, *t);
}

/*
 * Two devices: device 0 starts at once (its hello drained), device 1 only
 * after 5000 s (the test's), connected by hand under g's keys.
 */
static struct sg_fl *two_devices_one_up(struct mem_io *m, const struct sg_fl_io *io,
                                        struct gw_side *g, uint64_t t)
{
	/* the fleet keeps pointers to its configuration and addresses */
	static uint8_t macs[SG_FL_PORT_MAX][6];
	static struct sg_fl_conf conf;
	uint8_t f[128];
	struct sg_fl *fl;
	char err[256];
	uint16_t len;

	assert_non_null(g->rec);
	assert_non_null(g->sa);
	memcpy(macs[SG_FL_PORT_DEV], mac_a, 6);
	memcpy(macs[SG_FL_PORT_APP], mac_b, 6);
	assert_int_equal(
	        parse(&conf, err, "--devices 2 --ramp 10000 --req-rate 1 --req-timeout 100"), 0);
	fl = sg_fl_create(&conf, io, (const uint8_t(*)[6])macs, 0, 2, 3, t);
	assert_non_null(fl);
	len = sg_fl_arp_build(f, 2, gw_mac, (const uint8_t *)"\xc6\x12\x00\x01", mac_a, router4);
	feed(fl, m, SG_FL_PORT_DEV, f, len, t);
	sg_fl_poll(fl, t);
	drain(m, SG_FL_PORT_DEV, -1); /* device 0's hello */
	connect_device(fl, 1, g);
	return fl;
}

static void test_device_session(void **state)
{
	static struct mem_io m;
	struct sg_fl_io io = { .ctx = &m, .alloc = mem_alloc, .free = mem_free, .send = mem_send };
	struct sg_rec_ctx_conf rc = { .window_bits = SG_FL_WINDOW };
	struct gw_side g = { .rec = sg_rec_ctx_create(&rc),
		             .sa = aligned_alloc(64, sg_rec_sa_size(SG_FL_WINDOW)) };
	uint8_t d[512];
	uint64_t t = 1000000;
	struct sg_fl *fl;
	unsigned arps;
	uint16_t len, off;

	(void)state;
	fl = two_devices_one_up(&m, &io, &g, t);
	/* asked and answered: timed */
	ask_and_answer(fl, &m, &g, &t, 1, false);
	assert_int_equal(snap(fl).c.requests_sent, 1);
	assert_int_equal(snap(fl).c.requests_answered, 1);
	assert_int_equal(snap(fl).rtt.n, 1);
	assert_int_equal(snap(fl).c.nonce_reuse, 0);
	/* the same record twice: the gateway's nonce repeated */
	ask_and_answer(fl, &m, &g, &t, 1, true);
	assert_int_equal(snap(fl).c.requests_answered, 2);
	assert_int_equal(snap(fl).c.nonce_reuse, 1);
	/* device 0's answer delivered to device 1 */
	ask_and_answer(fl, &m, &g, &t, 0, false);
	assert_int_equal(snap(fl).c.misdelivered, 1);
	assert_int_equal(snap(fl).c.requests_answered, 2);
	/* that request stays unanswered: 4 retransmissions (100 ms x 1..1.5, doubled), lost */
	for (unsigned k = 0; k < 4; k++) {
		t += 2400000 >> (4 - k);
		sg_fl_poll(fl, t);
		drain(&m, SG_FL_PORT_DEV, -1);
	}
	assert_int_equal(snap(fl).c.request_retransmissions, 4);
	t += 2500000;
	sg_fl_poll(fl, t);
	assert_int_equal(snap(fl).c.requests_lost, 1);
	assert_int_equal(snap(fl).c.rehandshakes, 1);
	assert_int_equal(hellos_from(&m, &arps, 10001), 1); /* a new handshake, a new key */
	assert_int_equal(snap(fl).connected, 0);
	/* connected again (its handshake given up first, so it holds no slot); the gateway
	 * ends the session with a close_notify under its key */
	fl->hs[fl->dev[1].hs].give_up = 0;
	sg_fl_poll(fl, t += 1000);
	drain(&m, SG_FL_PORT_DEV, -1);
	connect_device(fl, 1, &g);
	len = gw_frame(&g, SG_DTLS_CT_ALERT, (const uint8_t *)"\x01\x00", 2, d, &off);
	feed(fl, &m, SG_FL_PORT_DEV, d + off, len, t += 1000);
	sg_fl_poll(fl, t);
	assert_int_equal(snap(fl).c.alerts_received, 1);
	assert_int_equal(snap(fl).c.rehandshakes, 2);
	assert_int_equal(snap(fl).c.nonce_reuse, 1); /* a new key: its sequences start again */
	assert_int_equal(hellos_from(&m, &arps, 10001), 1);
	sg_fl_free(fl);
	assert_int_equal(m.live, 0);
	sg_rec_sa_wipe(g.sa, SG_FL_WINDOW);
	free(g.sa);
	sg_rec_ctx_free(g.rec);
}

/*
 * The gateway's records below the session's first one (the sequences of the
 * handshake; the device accepted our Finished under sequence 3): the same
 * Finished again is a copy, another record under 3 a second use of its
 * nonce, a record under 1 or 2 one the device never saw (a Finished sealed
 * earlier that arrived after a resent one): stale, not a reuse.
 */
static void test_device_below_finished(void **state)
{
	static struct mem_io m;
	struct sg_fl_io io = { .ctx = &m, .alloc = mem_alloc, .free = mem_free, .send = mem_send };
	struct sg_rec_ctx_conf rc = { .window_bits = SG_FL_WINDOW };
	struct gw_side g = { .rec = sg_rec_ctx_create(&rc),
		             .sa = aligned_alloc(64, sg_rec_sa_size(SG_FL_WINDOW)) };
	static const uint8_t fin[16] = { 20, 0, 0, 12 }, other[16] = { 20, 0, 0, 12, 1 };
	uint8_t d[512], d2[512];
	uint64_t t = 1000000;
	uint16_t len, len2, off, off2;
	struct sg_fl *fl;
	struct sg_fl_dev *dv;
	uint64_t stale;

	(void)state;
	fl = two_devices_one_up(&m, &io, &g, t);
	dv = &fl->dev[1];
	/* sequences 1 and 2 sealed and held back; 3 is the Finished the device took */
	len2 = gw_frame(&g, SG_DTLS_CT_HANDSHAKE, fin, sizeof(fin), d2, &off2);
	(void)gw_frame(&g, SG_DTLS_CT_HANDSHAKE, fin, sizeof(fin), d, &off);
	len = gw_frame(&g, SG_DTLS_CT_HANDSHAKE, fin, sizeof(fin), d, &off);
	dv->fin_seq1 = 4;
	/* the record sits at the payload room, after the frame's headers */
	dv->fin_fp = sg_fl_fingerprint(d + SG_FL_HDR_ROOM, len - (SG_FL_HDR_ROOM - off));
	stale = snap(fl).c.drops[SG_FL_DROP_STALE];
	feed(fl, &m, SG_FL_PORT_DEV, d + off, len, t += 1000);
	sg_fl_poll(fl, t);
	assert_int_equal(snap(fl).c.record_copies, 1);
	assert_int_equal(snap(fl).c.nonce_reuse, 0);
	feed(fl, &m, SG_FL_PORT_DEV, d2 + off2, len2, t += 1000);
	sg_fl_poll(fl, t);
	assert_int_equal(snap(fl).c.drops[SG_FL_DROP_STALE], stale + 1);
	assert_int_equal(snap(fl).c.nonce_reuse, 0);
	/* another record under sequence 3: a second use of its nonce */
	assert_int_equal(sg_rec_sa_init(g.sa, SG_FL_WINDOW,
	                                &(struct sg_rec_sa_params){ .aead = SG_AEAD_AES_128_GCM,
	                                                            .epoch = 1,
	                                                            .rx_key = key_c,
	                                                            .tx_key = key_s,
	                                                            .rx_iv = iv_c,
	                                                            .tx_iv = iv_s,
	                                                            .tx_seq = 3,
	                                                            .rx_seq = 1 }),
	                 0);
	len = gw_frame(&g, SG_DTLS_CT_HANDSHAKE, other, sizeof(other), d, &off);
	feed(fl, &m, SG_FL_PORT_DEV, d + off, len, t += 1000);
	sg_fl_poll(fl, t);
	assert_int_equal(snap(fl).c.nonce_reuse, 1);
	sg_fl_free(fl);
	assert_int_equal(m.live, 0);
	sg_rec_sa_wipe(g.sa, SG_FL_WINDOW);
	free(g.sa);
	sg_rec_ctx_free(g.rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wheel),
		cmocka_unit_test(test_delay_order),
		cmocka_unit_test(test_delay_loss),
		cmocka_unit_test(test_coap),
		cmocka_unit_test(test_nonce),
		cmocka_unit_test(test_hist),
		cmocka_unit_test(test_frame_udp),
		cmocka_unit_test(test_frame_neigh),
		cmocka_unit_test(test_creds),
		cmocka_unit_test(test_opts),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_core),
		cmocka_unit_test(test_core_no_buf),
		cmocka_unit_test(test_device_session),
		cmocka_unit_test(test_device_below_finished),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
