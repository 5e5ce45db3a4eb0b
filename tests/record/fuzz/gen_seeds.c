/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Write fuzz_rec_input's seed corpus into the directory given: for every
 * suite, with and without CID, datagrams of one and of three records sealed
 * with the session's keys (so they authenticate), as bare payloads and as
 * IPv4 and IPv6 frames; plus a PROXY v2 header. Run once; the seeds are kept
 * in tests/record/fuzz/corpus.
 *   build/tests/record/gen_rec_seeds tests/record/fuzz/corpus
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/bytes.h>
#include <stormgate/proxy_v2.h>

#include "fuzz_rec_input.h"
#include "tc_csum.h"

static void put(const char *dir, const char *name, uint8_t sel, const uint8_t *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fputc(sel, f) == EOF || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Ethernet + IPv4 or IPv6 + UDP (valid checksums) around payload, to the fuzz interface. */
static size_t frame(uint8_t *f, int v6, const uint8_t *pl, size_t n)
{
	struct sg_net_if ifc;
	uint8_t *ip = f + 14, *udp;
	size_t l3 = v6 ? 40 : 20;
	uint16_t ulen = (uint16_t)(8 + n);
	uint16_t c;

	fz_if(&ifc);
	memcpy(f, ifc.mac, 6);
	memcpy(f + 6, (uint8_t[]){ 0x02, 0, 0, 0, 0, 0x10 }, 6);
	sg_store_be16(f + 12, v6 ? 0x86dd : 0x0800);
	memset(ip, 0, l3);
	udp = ip + l3;
	if (v6) {
		ip[0] = 0x60;
		sg_store_be16(ip + 4, ulen);
		ip[6] = 17, ip[7] = 64;
		memcpy(ip + 8, ifc.ip6[0], 16);
		ip[23] = 0x10;
		memcpy(ip + 24, ifc.ip6[0], 16);
	} else {
		uint16_t tl = (uint16_t)(20 + ulen);

		ip[0] = 0x45;
		sg_store_be16(ip + 2, tl);
		ip[8] = 64, ip[9] = 17;
		memcpy(ip + 12, (uint8_t[]){ 198, 18, 1, 10 }, 4);
		memcpy(ip + 16, ifc.ip4[0], 4);
		sg_store_be16(ip + 10, (uint16_t)~tc_csum(ip, 20, 0));
	}
	sg_store_be16(udp, 50000);
	sg_store_be16(udp + 2, 5684);
	sg_store_be16(udp + 4, ulen);
	sg_store_be16(udp + 6, 0);
	memcpy(udp + 8, pl, n);
	c = v6 ? tc_csum_l4(6, ip + 8, ip + 24, 17, udp, ulen)
	       : tc_csum_l4(4, ip + 12, ip + 16, 17, udp, ulen);
	sg_store_be16(udp + 6, c ? c : 0xffff); /* RFC 768: a computed zero is sent as all ones */
	return 14 + l3 + ulen;
}

int main(int argc, char **argv)
{
	static const uint8_t our_cid[FZ_CID_LEN] = { 0xc1, 0xd0, 1, 2, 3, 4, 5, 6 };
	static const char *const names[SG_AEAD_MAX] = { "ccm8",   "ccm",    "gcm128",
		                                        "gcm256", "chacha", "cbc" };
	struct sg_rec_ctx *ctx;
	struct sg_rec_ctx_conf conf = { .cid_len = FZ_CID_LEN };

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	ctx = sg_rec_ctx_create(&conf);
	if (ctx == NULL)
		return 1;
	for (unsigned a = 0; a < SG_AEAD_MAX; a++) {
		/* The second variant: a CID session, or for CBC encrypt-then-MAC (no CIDs). */
		for (unsigned v = 0; v < 2; v++) {
			int wide = sg_aead_wide(a), cid = v && !wide;
			const char *var = !v ? "" : wide ? "-etm" : "-cid";
			uint8_t sel = (uint8_t)(a | (v ? (wide ? FZ_SEL_ETM : FZ_SEL_CID) : 0));
			static struct fz_sa_room dev __attribute__((aligned(64)));
			static const char *const msgs[3] = { "GET /time", "PUT /a", "x" };
			uint8_t bufs[3][256], dgram[1024], fr[1200];
			struct sg_rec_seal_op ops[3];
			size_t len = 0;
			char name[64];

			if (fz_sa(&dev, sel, 1) != 0)
				return 1;
			memset(ops, 0, sizeof(ops));
			for (unsigned r = 0; r < 3; r++) {
				ops[r].buf = bufs[r];
				ops[r].buf_len = sizeof(bufs[r]);
				ops[r].pt_off = 64;
				ops[r].pt_len = (uint32_t)strlen(msgs[r]);
				memcpy(bufs[r] + 64, msgs[r], ops[r].pt_len);
				ops[r].sa = &dev.sa;
				ops[r].cid = our_cid;
				ops[r].cid_len = cid ? FZ_CID_LEN : 0;
				ops[r].type =
				        r == 2 ? SG_DTLS_CT_ALERT : SG_DTLS_CT_APPLICATION_DATA;
			}
			if (sg_rec_seal_burst(ctx, ops, 3) != 3)
				return 1;
			for (unsigned r = 0; r < 3; r++) {
				memcpy(dgram + len, bufs[r] + ops[r].rec_off, ops[r].rec_len);
				len += ops[r].rec_len;
			}
			snprintf(name, sizeof(name), "%s%s-one", names[a], var);
			put(argv[1], name, sel, dgram, ops[0].rec_len);
			snprintf(name, sizeof(name), "%s%s-three", names[a], var);
			put(argv[1], name, sel, dgram, len);
			snprintf(name, sizeof(name), "%s%s-ipv4", names[a], var);
			put(argv[1], name, sel | FZ_SEL_FRAME, fr, frame(fr, 0, dgram, len));
			snprintf(name, sizeof(name), "%s%s-ipv6", names[a], var);
			put(argv[1], name, sel | FZ_SEL_FRAME, fr, frame(fr, 1, dgram, len));
			sg_rec_sa_wipe(&dev.sa, SG_REPLAY_WINDOW_DEFAULT);
		}
	}
	{
		uint8_t hdr[SG_PP2_MAX_LEN + 16];
		struct sg_pp2_info pp = { .family = 4, .has_session = true, .session = 42 };
		int n;

		pp.identity = (const uint8_t *)"urn:dev:ops:32473-fuzz";
		pp.identity_len = (uint8_t)strlen((const char *)pp.identity);
		n = sg_pp2_encode(hdr, sizeof(hdr), &pp);
		if (n < 0)
			return 1;
		memcpy(hdr + n, "2.05", 4);
		put(argv[1], "proxy-v2", 0, hdr, (size_t)n + 4);
	}
	sg_rec_ctx_free(ctx);
	return 0;
}
