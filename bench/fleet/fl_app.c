/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The application server behind the gateway, played by the fleet: every
 * CoAP request the gateway forwards gets a piggybacked ACK (2.05, RFC 7252
 * §5.2.1) echoing token and payload, sent back to the address and port it
 * came from, towards the MAC it came from. In proxy mode the request starts
 * with the gateway's PROXY v2 header, which the answer carries unchanged:
 * it names the session (its UNIQUE_ID TLV holds the session's token the
 * gateway requires back, include/stormgate/proxy_v2.h). Thread: the lcore
 * that owns the core.
 */
#include <string.h>

#include <stormgate/bytes.h>

#include "fl_coap.h"
#include "fl_priv.h"

/* PROXY v2: the signature (HAProxy proxy-protocol.txt §2.2) and the header's length. */
static int proxy_len(const uint8_t *p, uint32_t len)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
		                         0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	uint32_t h;

	if (len < 16 || memcmp(p, sig, sizeof(sig)) != 0 || p[12] != 0x21)
		return -1;
	h = 16u + sg_load_be16(p + 14);
	return h <= len ? (int)h : -1;
}

void sg_fl_app_input(struct sg_fl *fl, struct sg_fl_buf *b, const struct sg_fl_rx *rx)
{
	uint8_t dmac[6], src[16], dst[16], *pl = b->data + b->off + rx->l4_off, *out;
	uint16_t sport = rx->dport, dport = rx->sport, plen = rx->l4_len;
	unsigned alen = rx->family == 4 ? 4 : 16;
	int hdr = 0, ans;

	if (fl->conf->backend == SG_FL_BACKEND_PROXY && (hdr = proxy_len(pl, plen)) < 0)
		goto bad;
	memcpy(dmac, rx->src_mac, 6);
	memcpy(src, rx->dst, alen);
	memcpy(dst, rx->src, alen);
	/* the payload moves to where the headers in front of it are built */
	if ((uint32_t)SG_FL_HDR_ROOM + plen > b->cap)
		goto bad;
	out = b->data + SG_FL_HDR_ROOM;
	memmove(out, pl, plen);
	ans = sg_fl_coap_answer(out + hdr, plen - (uint32_t)hdr, out + hdr,
	                        b->cap - SG_FL_HDR_ROOM - (uint32_t)hdr);
	if (ans < 0)
		goto bad;
	b->len = sg_fl_udp_build(b->data, (uint16_t)(hdr + ans), dmac, fl->mac[SG_FL_PORT_APP],
	                         rx->family, src, sport, dst, dport, &b->off);
	fl->c.app_answers++;
	fl->io.send(fl->io.ctx, SG_FL_PORT_APP, b);
	return;
bad:
	fl->c.drops[SG_FL_DROP_APP_BAD]++;
	sg_fl_buf_put(fl, b);
}
