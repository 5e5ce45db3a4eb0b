/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's link layer (fl_frame.h). Checksums are RFC 1071 sums computed
 * here over bytes, so the sans-I/O core needs no DPDK. Any thread.
 */
#include <string.h>

#include <stormgate/bytes.h>

#include "fl_frame.h"

#define ETH_IP4  0x0800
#define ETH_ARP  0x0806
#define ETH_IP6  0x86dd
#define IP_UDP   17
#define IP6_ICMP 58

/* One's complement sum of n bytes, added to sum (RFC 1071 §4.1), not folded. */
static uint32_t csum_add(const uint8_t *p, uint32_t n, uint32_t sum)
{
	uint32_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += sg_load_be16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The L4 sum over the pseudo-header (RFC 768, RFC 8200 §8.1) and l4 (len bytes). */
static uint16_t l4_sum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                       const uint8_t *l4, uint32_t len)
{
	unsigned alen = family == 4 ? 4 : 16;
	uint32_t sum = csum_add(src, alen, 0);

	sum = csum_add(dst, alen, sum);
	sum += proto + len;
	return csum_fold(csum_add(l4, len, sum));
}

static enum sg_fl_kind parse_udp(const uint8_t *frame, const uint8_t *l4, uint32_t avail,
                                 struct sg_fl_rx *rx)
{
	uint16_t ulen, ck;

	if (avail < 8)
		return SG_FL_K_BAD;
	ulen = sg_load_be16(l4 + 4);
	ck = sg_load_be16(l4 + 6);
	if (ulen < 8 || ulen > avail)
		return SG_FL_K_BAD;
	/* IPv4 may send no checksum (0); IPv6 must (RFC 8200 §8.1) */
	if ((ck != 0 || rx->family == 6) &&
	    l4_sum(rx->family, rx->src, rx->dst, IP_UDP, l4, ulen) != 0xffff)
		return SG_FL_K_BAD;
	rx->sport = sg_load_be16(l4);
	rx->dport = sg_load_be16(l4 + 2);
	rx->l4_off = (uint16_t)(l4 + 8 - frame);
	rx->l4_len = (uint16_t)(ulen - 8);
	return SG_FL_K_UDP;
}

static enum sg_fl_kind parse_ip4(const uint8_t *frame, const uint8_t *ip, uint32_t avail,
                                 struct sg_fl_rx *rx)
{
	unsigned ihl;
	uint16_t tot;

	if (avail < 20 || ip[0] >> 4 != 4)
		return SG_FL_K_BAD;
	ihl = (ip[0] & 0x0f) * 4u;
	tot = sg_load_be16(ip + 2);
	if (ihl < 20 || tot < ihl || tot > avail || csum_fold(csum_add(ip, ihl, 0)) != 0xffff)
		return SG_FL_K_BAD;
	rx->family = 4;
	rx->src = ip + 12;
	rx->dst = ip + 16;
	if ((sg_load_be16(ip + 6) & 0x3fff) != 0 || ip[9] != IP_UDP)
		return SG_FL_K_OTHER; /* a fragment, or not UDP */
	return parse_udp(frame, ip + ihl, tot - ihl, rx);
}

/* A neighbour solicitation or advertisement: its target and link-layer address option. */
static enum sg_fl_kind parse_ndisc(const uint8_t *l4, uint32_t len, struct sg_fl_rx *rx)
{
	if (len < 24 || (l4[0] != 135 && l4[0] != 136) || l4[1] != 0 ||
	    l4_sum(6, rx->src, rx->dst, IP6_ICMP, l4, len) != 0xffff)
		return len < 24 ? SG_FL_K_OTHER : SG_FL_K_BAD;
	rx->op = l4[0];
	rx->tpa = l4 + 8;
	rx->sha = NULL;
	for (uint32_t o = 24; o + 8 <= len;) {
		uint32_t olen = l4[o + 1] * 8u;

		if (olen == 0 || o + olen > len)
			return SG_FL_K_BAD;
		if ((l4[o] == 1 || l4[o] == 2) && olen == 8)
			rx->sha = l4 + o + 2;
		o += olen;
	}
	return SG_FL_K_NDISC;
}

static enum sg_fl_kind parse_ip6(const uint8_t *frame, const uint8_t *ip, uint32_t avail,
                                 struct sg_fl_rx *rx)
{
	uint16_t plen;

	if (avail < 40 || ip[0] >> 4 != 6)
		return SG_FL_K_BAD;
	plen = sg_load_be16(ip + 4);
	if (plen > avail - 40)
		return SG_FL_K_BAD;
	rx->family = 6;
	rx->src = ip + 8;
	rx->dst = ip + 24;
	if (ip[6] == IP_UDP)
		return parse_udp(frame, ip + 40, plen, rx);
	if (ip[6] == IP6_ICMP && ip[7] == 255) /* RFC 4861 §7.1.1: hop limit 255 */
		return parse_ndisc(ip + 40, plen, rx);
	return SG_FL_K_OTHER; /* extension headers: nothing of ours uses them */
}

enum sg_fl_kind sg_fl_parse(const uint8_t *frame, uint32_t len, struct sg_fl_rx *rx)
{
	uint16_t type;

	if (len < SG_FL_ETH_LEN)
		return SG_FL_K_BAD;
	rx->src_mac = frame + 6;
	type = sg_load_be16(frame + 12);
	if (type == ETH_IP4)
		return parse_ip4(frame, frame + SG_FL_ETH_LEN, len - SG_FL_ETH_LEN, rx);
	if (type == ETH_IP6)
		return parse_ip6(frame, frame + SG_FL_ETH_LEN, len - SG_FL_ETH_LEN, rx);
	if (type != ETH_ARP)
		return SG_FL_K_OTHER;
	if (len < SG_FL_ARP_LEN)
		return SG_FL_K_BAD;
	const uint8_t *a = frame + SG_FL_ETH_LEN;

	if (sg_load_be16(a) != 1 || sg_load_be16(a + 2) != ETH_IP4 || a[4] != 6 || a[5] != 4)
		return SG_FL_K_OTHER;
	rx->op = sg_load_be16(a + 6);
	rx->sha = a + 8;
	rx->spa = a + 14;
	rx->tpa = a + 24;
	return SG_FL_K_ARP;
}

static void eth_build(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint16_t type)
{
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	sg_store_be16(f + 12, type);
}

uint16_t sg_fl_udp_build(uint8_t *data, uint16_t plen, const uint8_t dmac[6], const uint8_t smac[6],
                         uint8_t family, const uint8_t *src, uint16_t sport, const uint8_t *dst,
                         uint16_t dport, uint16_t *off)
{
	unsigned iplen = family == 4 ? 20 : 40;
	uint8_t *udp = data + SG_FL_HDR_ROOM - 8, *ip = udp - iplen, *f = ip - SG_FL_ETH_LEN;
	uint16_t ck;

	sg_store_be16(udp, sport);
	sg_store_be16(udp + 2, dport);
	sg_store_be16(udp + 4, (uint16_t)(8 + plen));
	sg_store_be16(udp + 6, 0);
	if (family == 4) {
		ip[0] = 0x45;
		ip[1] = 0;
		sg_store_be16(ip + 2, (uint16_t)(20 + 8 + plen));
		sg_store_be32(ip + 4, 0x4000); /* id 0, don't fragment */
		ip[8] = 64;
		ip[9] = IP_UDP;
		sg_store_be16(ip + 10, 0);
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		sg_store_be16(ip + 10, (uint16_t)~csum_fold(csum_add(ip, 20, 0)));
	} else {
		sg_store_be32(ip, 0x60000000);
		sg_store_be16(ip + 4, (uint16_t)(8 + plen));
		ip[6] = IP_UDP;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
	}
	ck = (uint16_t)~l4_sum(family, src, dst, IP_UDP, udp, 8u + plen);
	sg_store_be16(udp + 6, ck == 0 ? 0xffff : ck);
	eth_build(f, dmac, smac, family == 4 ? ETH_IP4 : ETH_IP6);
	*off = (uint16_t)(f - data);
	return (uint16_t)(SG_FL_ETH_LEN + iplen + 8 + plen);
}

uint16_t sg_fl_arp_build(uint8_t *frame, uint16_t op, const uint8_t sha[6], const uint8_t spa[4],
                         const uint8_t tha[6], const uint8_t tpa[4])
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[6];
	uint8_t *a = frame + SG_FL_ETH_LEN;

	eth_build(frame, op == 1 ? bcast : tha, sha, ETH_ARP);
	sg_store_be16(a, 1);
	sg_store_be16(a + 2, ETH_IP4);
	a[4] = 6;
	a[5] = 4;
	sg_store_be16(a + 6, op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, spa, 4);
	memcpy(a + 18, op == 1 ? zero : tha, 6);
	memcpy(a + 24, tpa, 4);
	return SG_FL_ARP_LEN;
}

uint16_t sg_fl_ndisc_build(uint8_t *frame, uint8_t type, const uint8_t smac[6],
                           const uint8_t src_ip[16], const uint8_t dmac[6],
                           const uint8_t dst_ip[16], const uint8_t target[16])
{
	uint8_t *ip = frame + SG_FL_ETH_LEN, *icmp = ip + 40, mdst[16], mmac[6];
	uint16_t ck;

	if (type == 135) { /* solicited-node multicast ff02::1:ffXX:XXXX (RFC 4291 §2.7.1) */
		static const uint8_t snm[13] = { 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff };

		memcpy(mdst, snm, 13);
		memcpy(mdst + 13, target + 13, 3);
		mmac[0] = mmac[1] = 0x33; /* RFC 2464 §7 */
		memcpy(mmac + 2, mdst + 12, 4);
		dst_ip = mdst;
		dmac = mmac;
	}
	eth_build(frame, dmac, smac, ETH_IP6);
	sg_store_be32(ip, 0x60000000);
	sg_store_be16(ip + 4, 32);
	ip[6] = IP6_ICMP;
	ip[7] = 255;
	memcpy(ip + 8, src_ip, 16);
	memcpy(ip + 24, dst_ip, 16);
	memset(icmp, 0, 32);
	icmp[0] = type;
	if (type == 136)
		icmp[4] = 0x60; /* solicited, override */
	memcpy(icmp + 8, target, 16);
	icmp[24] = type == 135 ? 1 : 2; /* source / target link-layer address */
	icmp[25] = 1;
	memcpy(icmp + 26, smac, 6);
	ck = (uint16_t)~l4_sum(6, src_ip, dst_ip, IP6_ICMP, icmp, 32);
	sg_store_be16(icmp + 2, ck);
	return SG_FL_NDISC_LEN;
}
