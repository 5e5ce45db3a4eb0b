/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <rte_mbuf.h>

#include <stormgate/bytes.h>
#include <stormgate/record.h>

#include "dp_frames.h"
#include "tc_csum.h"

struct rte_mbuf *dp_frame_udp(struct rte_mempool *pool, const uint8_t smac[6],
                              const uint8_t dmac[6], uint8_t family, const uint8_t *src,
                              uint16_t sport, const uint8_t *dst, uint16_t dport,
                              const uint8_t *payload, uint16_t len)
{
	unsigned iph = family == 4 ? 20 : 40;
	struct rte_mbuf *m;
	uint8_t *f, *ip, *udp;
	uint16_t c;

	m = rte_pktmbuf_alloc(pool);
	if (m == NULL)
		return NULL;
	if (rte_pktmbuf_tailroom(m) < 14 + iph + 8 + len) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	f = rte_pktmbuf_mtod(m, uint8_t *);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	sg_store_be16(f + 12, family == 4 ? 0x0800 : 0x86dd);
	ip = f + 14;
	memset(ip, 0, iph);
	if (family == 4) {
		ip[0] = 0x45;
		sg_store_be16(ip + 2, (uint16_t)(20 + 8 + len));
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		sg_store_be16(ip + 10, (uint16_t)~tc_csum(ip, 20, 0));
	} else {
		ip[0] = 0x60;
		sg_store_be16(ip + 4, (uint16_t)(8 + len));
		ip[6] = 17;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
	}
	udp = ip + iph;
	sg_store_be16(udp, sport);
	sg_store_be16(udp + 2, dport);
	sg_store_be16(udp + 4, (uint16_t)(8 + len));
	sg_store_be16(udp + 6, 0);
	memcpy(udp + 8, payload, len);
	c = tc_csum_l4(family, src, dst, 17, udp, 8u + len);
	sg_store_be16(udp + 6, c ? c : 0xffff); /* RFC 768: a computed zero is sent as all ones */
	m->data_len = m->pkt_len = (uint16_t)(14 + iph + 8 + len);
	return m;
}

int dp_frame_read(const struct rte_mbuf *m, struct dp_frame *o)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *), *ip = f + 14, *udp;
	unsigned iph;
	uint16_t ulen;

	memset(o, 0, sizeof(*o));
	if (m->data_len < 14 + 20 + 8)
		return -EINVAL;
	memcpy(o->dmac, f, 6);
	if (sg_load_be16(f + 12) == 0x0800) {
		o->family = 4;
		iph = 20;
		if (ip[0] != 0x45 || ip[9] != 17 || tc_csum(ip, 20, 0) != 0xffff)
			return -EINVAL;
		memcpy(o->src, ip + 12, 4);
		memcpy(o->dst, ip + 16, 4);
	} else if (sg_load_be16(f + 12) == 0x86dd) {
		o->family = 6;
		iph = 40;
		if (m->data_len < 14 + 40 + 8 || (ip[0] >> 4) != 6 || ip[6] != 17)
			return -EINVAL;
		memcpy(o->src, ip + 8, 16);
		memcpy(o->dst, ip + 24, 16);
	} else {
		return -EINVAL;
	}
	udp = ip + iph;
	ulen = sg_load_be16(udp + 4);
	if (ulen < 8 || m->data_len != 14 + iph + ulen ||
	    tc_csum_l4(o->family, o->src, o->dst, 17, udp, ulen) != 0)
		return -EINVAL;
	o->sport = sg_load_be16(udp);
	o->dport = sg_load_be16(udp + 2);
	o->payload = udp + 8;
	o->len = (uint16_t)(ulen - 8);
	return 0;
}

uint16_t dp_frame_records(struct sg_rec_ctx *ctx, struct sg_rec_sa *sa, const uint8_t *cid,
                          uint8_t cid_len, const char *const *pt, unsigned n, uint8_t type,
                          uint8_t *dgram, size_t cap)
{
	uint8_t bufs[DP_FRAME_RECORDS_MAX][600];
	struct sg_rec_seal_op ops[DP_FRAME_RECORDS_MAX];
	size_t len = 0;

	assert_true(n <= DP_FRAME_RECORDS_MAX);
	memset(ops, 0, sizeof(ops));
	for (unsigned r = 0; r < n; r++) {
		ops[r].buf = bufs[r];
		ops[r].buf_len = sizeof(bufs[r]);
		ops[r].pt_off = 64;
		ops[r].pt_len = (uint32_t)strlen(pt[r]);
		assert_true(ops[r].pt_len < 512);
		memcpy(bufs[r] + 64, pt[r], ops[r].pt_len);
		ops[r].sa = sa;
		ops[r].cid = cid;
		ops[r].cid_len = cid_len;
		ops[r].type = type;
	}
	assert_int_equal(sg_rec_seal_burst(ctx, ops, n), n);
	for (unsigned r = 0; r < n; r++) {
		assert_true(len + ops[r].rec_len <= cap);
		memcpy(dgram + len, bufs[r] + ops[r].rec_off, ops[r].rec_len);
		len += ops[r].rec_len;
	}
	return (uint16_t)len;
}
