/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: what the data plane does with a received datagram before
 * it reaches an application. The input (fuzz_rec_input.h) is an Ethernet
 * frame for sg_net_parse() or a bare UDP payload; the payload goes to the
 * PROXY v2 decoder (the backend side) and to sg_rec_parse(), and every
 * framed record is opened in one burst with a live SA of the chosen suite.
 * Any crash or sanitizer report is a bug, and so is an inconsistent result:
 * a record or plaintext outside the input, plaintext from a failed record,
 * or the same record accepted twice (replay).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/net.h>
#include <stormgate/proxy_v2.h>
#include <stormgate/record.h>

#include "fuzz_rec_input.h"

#define MAX_RECS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static struct sg_rec_ctx *ctx(void)
{
	static struct sg_rec_ctx *c;

	if (c == NULL) {
		struct sg_rec_ctx_conf conf = { .cid_len = FZ_CID_LEN };

		c = sg_rec_ctx_create(&conf);
		check(c != NULL);
	}
	return c;
}

static void open_records(uint8_t sel, uint8_t *dgram, size_t len)
{
	static struct fz_sa_room room __attribute__((aligned(64)));
	struct sg_rec_hdr recs[MAX_RECS];
	struct sg_rec_open_op ops[MAX_RECS];
	unsigned n, k = 0, ok;

	n = sg_rec_parse(dgram, len, FZ_CID_LEN, recs, MAX_RECS);
	check(n <= MAX_RECS);
	check(fz_sa(&room, sel, 0) == 0);
	memset(ops, 0, sizeof(ops));
	for (unsigned i = 0; i < n; i++) {
		check(recs[i].off + recs[i].len <= len);
		if (recs[i].status != SG_REC_OK)
			continue;
		check(recs[i].len >= recs[i].hdr_len);
		ops[k].rec = dgram + recs[i].off;
		ops[k].rec_len = recs[i].len;
		ops[k].sa = &room.sa;
		k++;
	}
	ok = sg_rec_open_burst(ctx(), ops, k);
	for (unsigned i = 0, good = 0; i < k; i++) {
		const struct sg_rec_open_op *op = &ops[i];

		if (op->status != SG_REC_OK) {
			check(op->pt_len == 0);
			continue;
		}
		good++;
		check(op->pt_off + op->pt_len <= op->rec_len);
		/* Records earlier in the burst with this sequence number must have failed. */
		for (unsigned j = 0; j < i; j++)
			check(ops[j].status != SG_REC_OK || ops[j].seq != op->seq);
		if (i + 1 == k)
			check(good == ok);
	}
	/*
	 * Each accepted record is refused now: a replay, or too old when a later
	 * record of the burst moved the window past it (RFC 6347 §4.1.2.6).
	 */
	for (unsigned i = 0; i < k; i++) {
		enum sg_rec_status st;

		if (ops[i].status != SG_REC_OK)
			continue;
		st = sg_rec_replay_check(&room.sa, SG_REPLAY_WINDOW_DEFAULT, ops[i].seq);
		check(st == SG_REC_REPLAYED ||
		      (st == SG_REC_TOO_OLD && ops[i].seq < room.sa.rx_top));
	}
	sg_rec_sa_wipe(&room.sa, SG_REPLAY_WINDOW_DEFAULT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[65536];
	struct sg_pp2_info pp;
	uint8_t *pl = buf;
	size_t len;
	uint8_t sel;

	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	sel = data[0];
	len = size - 1;
	memcpy(buf, data + 1, len); /* open works in place */
	if (sel & FZ_SEL_FRAME) {
		struct sg_net_if ifc;
		struct sg_pkt pkt;

		fz_if(&ifc);
		if (sg_net_parse(&ifc, buf, (uint32_t)len, &pkt) != SG_NET_UDP)
			return 0;
		check((size_t)pkt.payload_off + pkt.payload_len <= len);
		pl = buf + pkt.payload_off;
		len = pkt.payload_len;
	}
	if (sg_pp2_decode(pl, (uint32_t)len, &pp) > 0 && pp.identity_len > 0)
		check(pp.identity >= pl && pp.identity + pp.identity_len <= pl + len);
	open_records(sel, pl, len);
	return 0;
}
