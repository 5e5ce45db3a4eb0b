/* SPDX-License-Identifier: Apache-2.0 */
/*
 * L2-L4 validation of received frames and the ARP / neighbour discovery
 * answers for the gateway's own addresses. See include/stormgate/net.h.
 *
 * Every read is bounds-checked against the frame length before it happens;
 * headers are read with memcpy-free byte access, so unaligned frames are fine.
 */
#include <stdbool.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include <stormgate/bytes.h>
#include <stormgate/net.h>

/* EtherTypes (IEEE 802.3 registry). */
#define ETH_P_IPV4 0x0800
#define ETH_P_ARP  0x0806
#define ETH_P_VLAN 0x8100 /* IEEE 802.1Q */
#define ETH_P_QINQ 0x88a8 /* IEEE 802.1ad */
#define ETH_P_IPV6 0x86dd
#define ETH_HLEN   14
#define VLAN_HLEN  4

/* IP protocol numbers (IANA). */
#define IPPROTO_HOPOPTS_  0
#define IPPROTO_UDP_      17
#define IPPROTO_ROUTING_  43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_ICMPV6_   58
#define IPPROTO_DSTOPTS_  60

#define IPV4_HLEN_MIN 20
#define IPV6_HLEN     40
#define UDP_HLEN      8
#define ARP_LEN       28 /* Ethernet/IPv4 ARP, RFC 826 */

/* Extension headers walked before giving up (RFC 8200 §4.1 lists at most 8 kinds). */
#define IPV6_EXT_MAX 8

/* RFC 4861 §4.3-4.4 */
#define ND_NS          135
#define ND_NA          136
#define ND_MSG_LEN     24 /* type, code, cksum, reserved/flags, target */
#define ND_OPT_SLLA    1
#define ND_OPT_TLLA    2
#define ND_HOP_LIMIT   255 /* §7.1.1: anything else did not come from this link */
#define ND_NA_FLAG_SOL 0x40
#define ND_NA_FLAG_OVR 0x20

/* One of ifc's listed addresses, or one of its pool (the pool is checked last: one compare). */
static bool is_our_ip4(const struct sg_net_if *ifc, const uint8_t *a)
{
	for (unsigned i = 0; i < ifc->n_ip4; i++)
		if (memcmp(ifc->ip4[i], a, 4) == 0)
			return true;
	return ifc->pool4_len != 0 && sg_net_in_prefix(a, ifc->pool4, ifc->pool4_len);
}

static bool is_our_ip6(const struct sg_net_if *ifc, const uint8_t *a)
{
	for (unsigned i = 0; i < ifc->n_ip6; i++)
		if (memcmp(ifc->ip6[i], a, 16) == 0)
			return true;
	return ifc->pool6_len != 0 && sg_net_in_prefix(a, ifc->pool6, ifc->pool6_len);
}

/*
 * ff02::1:ffXX:XXXX for one of our addresses (RFC 4291 §2.7.1). For the pool:
 * the pool's prefix with the group's low 24 bits is in the pool exactly when
 * some pool address has those low bits.
 */
static bool is_our_solicited_node(const struct sg_net_if *ifc, const uint8_t *a)
{
	static const uint8_t prefix[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff };
	uint8_t cand[16];

	if (memcmp(a, prefix, sizeof(prefix)) != 0)
		return false;
	for (unsigned i = 0; i < ifc->n_ip6; i++)
		if (memcmp(ifc->ip6[i] + 13, a + 13, 3) == 0)
			return true;
	if (ifc->pool6_len == 0)
		return false;
	memcpy(cand, ifc->pool6, 13);
	memcpy(cand + 13, a + 13, 3);
	return sg_net_in_prefix(cand, ifc->pool6, ifc->pool6_len);
}

static bool is_unspecified6(const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

/*
 * IPv6 sources no packet from the wire has (RFC 4291): multicast (§2.7),
 * loopback ::1 (§2.5.3: never sent outside a node), the deprecated
 * IPv4-compatible ::/96 (§2.5.5.1) and the IPv4-mapped ::ffff:0:0/96
 * (§2.5.5.2: how a node's own stack writes IPv4 peers; the session table
 * keeps IPv4 so, so a reply to such a source would leave as IPv4 to the
 * embedded address). The unspecified address :: is not among them: it is the
 * source of duplicate address detection (RFC 4862 §5.4), refused for UDP only.
 */
static bool is_martian6(const uint8_t *a)
{
	static const uint8_t zero[12];

	if (a[0] == 0xff || sg_ip6_is_v4_mapped(a))
		return true;
	return memcmp(a, zero, sizeof(zero)) == 0 && !is_unspecified6(a);
}

/*
 * RFC 1071 sum of len bytes onto sum, not folded: what DPDK 22.11's
 * __rte_raw_cksum() returns (16-bit words in memory order; an odd last byte
 * as the low-address byte of a word), eight bytes at a time. Its 16-bit loop
 * was the largest single cost of the uplink after the crypto (a UDP checksum
 * checked on receive and one written towards the backend). The sum of native
 * 32-bit halves folds to the same 16-bit sum (RFC 1071 §2(B)); 64 bits hold
 * 2^31 of them without loss.
 */
static inline uint32_t cksum_add(const uint8_t *p, size_t len, uint32_t sum)
{
	uint64_t s = sum;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		s += (w & 0xffffffffu) + (w >> 32);
	}
	if (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		s += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		s += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;

		memcpy(&w, p, 1);
		s += w;
	}
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

/* Sum of the UDP/ICMPv6 pseudo-header (RFC 768; RFC 8200 §8.1), not folded. */
static uint32_t pseudo_sum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                           uint32_t l4_len)
{
	uint8_t tail[8] = { 0 };
	size_t alen = family == 4 ? 4 : 16;
	uint32_t sum = 0;

	sum = cksum_add(src, alen, sum);
	sum = cksum_add(dst, alen, sum);
	if (family == 4) {
		tail[1] = proto;
		sg_store_be16(tail + 2, (uint16_t)l4_len);
		return cksum_add(tail, 4, sum);
	}
	sg_store_be32(tail, l4_len);
	tail[7] = proto;
	return cksum_add(tail, 8, sum);
}

/* True when the L4 message including its checksum field sums to all ones. */
static bool l4_cksum_ok(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                        const uint8_t *l4, uint32_t l4_len)
{
	uint32_t sum = pseudo_sum(family, src, dst, proto, l4_len);

	return __rte_raw_cksum_reduce(cksum_add(l4, l4_len, sum)) == 0xffff;
}

static uint16_t l4_cksum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                         const uint8_t *l4, uint32_t l4_len)
{
	uint32_t sum = pseudo_sum(family, src, dst, proto, l4_len);

	return (uint16_t)~__rte_raw_cksum_reduce(cksum_add(l4, l4_len, sum));
}

void sg_net_udp_set_cksum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t *udp,
                          uint16_t udp_len)
{
	uint16_t c;

	udp[6] = udp[7] = 0;
	c = l4_cksum(family, src, dst, IPPROTO_UDP_, udp, udp_len);
	/* RFC 768: a computed zero is sent as all ones; zero means "none". */
	if (c == 0)
		c = 0xffff;
	memcpy(udp + 6, &c, 2); /* summed in memory order, stored the same way */
}

static enum sg_net_kind drop(struct sg_pkt *pkt, enum sg_drop reason)
{
	pkt->drop = reason;
	return SG_NET_DROP;
}

static enum sg_net_kind parse_udp(const uint8_t *frame, uint32_t end, struct sg_pkt *pkt)
{
	const uint8_t *udp = frame + pkt->l4_off;
	uint32_t avail = end - pkt->l4_off;
	uint16_t ulen, csum;

	if (avail < UDP_HLEN)
		return drop(pkt, SG_DROP_UDP_HEADER);
	ulen = sg_load_be16(udp + 4);
	if (ulen != avail)
		return drop(pkt, SG_DROP_UDP_HEADER);
	csum = sg_load_be16(udp + 6);
	if (csum == 0) {
		/* RFC 768 allows "no checksum" over IPv4; RFC 8200 §8.1 forbids it over IPv6. */
		if (pkt->family == 6)
			return drop(pkt, SG_DROP_UDP_CHECKSUM);
	} else if (!l4_cksum_ok(pkt->family, pkt->src, pkt->dst, IPPROTO_UDP_, udp, ulen)) {
		return drop(pkt, SG_DROP_UDP_CHECKSUM);
	}
	pkt->sport = sg_load_be16(udp);
	pkt->dport = sg_load_be16(udp + 2);
	pkt->payload_off = (uint16_t)(pkt->l4_off + UDP_HLEN);
	pkt->payload_len = (uint16_t)(ulen - UDP_HLEN);
	return SG_NET_UDP;
}

static enum sg_net_kind parse_ipv4(const struct sg_net_if *ifc, const uint8_t *frame, uint32_t len,
                                   struct sg_pkt *pkt)
{
	const uint8_t *ip = frame + pkt->l3_off;
	uint32_t avail = len - pkt->l3_off;
	uint32_t hlen, tlen;

	if (avail < IPV4_HLEN_MIN || (ip[0] >> 4) != 4)
		return drop(pkt, SG_DROP_IP_HEADER);
	hlen = (uint32_t)(ip[0] & 0x0f) * 4;
	tlen = sg_load_be16(ip + 2);
	/* RFC 791: IHL >= 5; the total length covers the header and fits the frame (which may be
	 * padded). */
	if (hlen < IPV4_HLEN_MIN || tlen < hlen || tlen > avail)
		return drop(pkt, SG_DROP_IP_HEADER);
	if (__rte_raw_cksum_reduce(cksum_add(ip, hlen, 0)) != 0xffff)
		return drop(pkt, SG_DROP_IP_CHECKSUM);
	/* More-fragments flag or a fragment offset: DTLS records fit datagrams, never reassembled.
	 */
	if ((sg_load_be16(ip + 6) & 0x3fff) != 0)
		return drop(pkt, SG_DROP_IP_FRAGMENT);
	pkt->family = 4;
	pkt->src = ip + 12;
	pkt->dst = ip + 16;
	/*
	 * Martian sources (RFC 1122 §3.2.1.3, RFC 1812 §5.3.7): "this network" 0/8,
	 * loopback 127/8, multicast 224/4 and the reserved 240/4 with the limited
	 * broadcast. No device sends from them, and a reply would go nowhere good.
	 */
	if (pkt->src[0] >= 224 || pkt->src[0] == 0 || pkt->src[0] == 127)
		return drop(pkt, SG_DROP_BAD_SOURCE);
	if (!is_our_ip4(ifc, pkt->dst))
		return drop(pkt, SG_DROP_L3_NOT_FOR_US);
	if (ip[9] != IPPROTO_UDP_)
		return drop(pkt, SG_DROP_IP_PROTO);
	/* Nor from one of our own addresses: a reply would be sent to ourselves. */
	if (is_our_ip4(ifc, pkt->src))
		return drop(pkt, SG_DROP_BAD_SOURCE);
	pkt->l4_off = (uint16_t)(pkt->l3_off + hlen);
	return parse_udp(frame, pkt->l3_off + tlen, pkt);
}

static enum sg_net_kind parse_ndisc(const struct sg_net_if *ifc, const uint8_t *frame, uint32_t end,
                                    uint8_t hop_limit, struct sg_pkt *pkt)
{
	const uint8_t *icmp = frame + pkt->l4_off;
	uint32_t ilen = end - pkt->l4_off;

	if (ilen < 4)
		return drop(pkt, SG_DROP_ICMP);
	if (!l4_cksum_ok(6, pkt->src, pkt->dst, IPPROTO_ICMPV6_, icmp, ilen))
		return drop(pkt, SG_DROP_ICMP);
	if (icmp[0] != ND_NS && icmp[0] != ND_NA)
		return drop(pkt, SG_DROP_ICMP);
	/* RFC 4861 §7.1.1 (NS) and §7.1.2 (NA): hop limit 255, code 0, length >= 24, target not
	 * multicast. */
	if (hop_limit != ND_HOP_LIMIT || icmp[1] != 0 || ilen < ND_MSG_LEN || icmp[8] == 0xff)
		return drop(pkt, SG_DROP_NDISC);
	/* Options: each at least 8 bytes, none of length 0. */
	for (uint32_t o = ND_MSG_LEN; o < ilen;) {
		if (ilen - o < 8 || icmp[o + 1] == 0 || (uint32_t)icmp[o + 1] * 8 > ilen - o)
			return drop(pkt, SG_DROP_NDISC);
		o += (uint32_t)icmp[o + 1] * 8;
	}
	if (icmp[0] == ND_NS && !is_our_ip6(ifc, icmp + 8))
		return drop(pkt, SG_DROP_NDISC);
	pkt->ndisc_type = icmp[0];
	pkt->payload_off = pkt->l4_off;
	pkt->payload_len = (uint16_t)ilen;
	return SG_NET_NDISC;
}

static enum sg_net_kind parse_ipv6(const struct sg_net_if *ifc, const uint8_t *frame, uint32_t len,
                                   struct sg_pkt *pkt)
{
	const uint8_t *ip = frame + pkt->l3_off;
	uint32_t avail = len - pkt->l3_off;
	uint32_t end, off;
	uint8_t next;

	if (avail < IPV6_HLEN || (ip[0] >> 4) != 6)
		return drop(pkt, SG_DROP_IP_HEADER);
	if ((uint32_t)sg_load_be16(ip + 4) > avail - IPV6_HLEN)
		return drop(pkt, SG_DROP_IP_HEADER);
	end = pkt->l3_off + IPV6_HLEN + sg_load_be16(ip + 4);
	pkt->family = 6;
	pkt->src = ip + 8;
	pkt->dst = ip + 24;
	if (is_martian6(pkt->src))
		return drop(pkt, SG_DROP_BAD_SOURCE);

	/* RFC 8200 §4: walk the chain, bounded in count and by the payload length. */
	next = ip[6];
	off = pkt->l3_off + IPV6_HLEN;
	for (unsigned n = 0;; n++) {
		uint32_t elen;

		if (next == IPPROTO_UDP_ || next == IPPROTO_ICMPV6_)
			break;
		if (next == IPPROTO_FRAGMENT_)
			return drop(pkt, SG_DROP_IP_FRAGMENT);
		if (next != IPPROTO_HOPOPTS_ && next != IPPROTO_ROUTING_ &&
		    next != IPPROTO_DSTOPTS_)
			return drop(pkt, SG_DROP_IP_PROTO);
		/* §4.3: hop-by-hop options only right after the IPv6 header. */
		if (n >= IPV6_EXT_MAX || (next == IPPROTO_HOPOPTS_ && n != 0) || end - off < 8)
			return drop(pkt, SG_DROP_IPV6_EXT);
		elen = ((uint32_t)frame[off + 1] + 1) * 8;
		if (elen > end - off)
			return drop(pkt, SG_DROP_IPV6_EXT);
		/* §4.4: a routing header with segments left names a next hop; we are not a router.
		 */
		if (next == IPPROTO_ROUTING_ && frame[off + 3] != 0)
			return drop(pkt, SG_DROP_IPV6_EXT);
		next = frame[off];
		off += elen;
	}
	pkt->l4_off = (uint16_t)off;

	if (next == IPPROTO_ICMPV6_) {
		if (!is_our_ip6(ifc, pkt->dst) && !is_our_solicited_node(ifc, pkt->dst))
			return drop(pkt, SG_DROP_L3_NOT_FOR_US);
		return parse_ndisc(ifc, frame, end, ip[7], pkt);
	}
	if (!is_our_ip6(ifc, pkt->dst))
		return drop(pkt, SG_DROP_L3_NOT_FOR_US);
	/*
	 * RFC 4291 §2.5.2: the unspecified address is no source of a datagram to a
	 * server (only of duplicate address detection, above); nor is one of our own.
	 */
	if (is_unspecified6(pkt->src) || is_our_ip6(ifc, pkt->src))
		return drop(pkt, SG_DROP_BAD_SOURCE);
	return parse_udp(frame, end, pkt);
}

static enum sg_net_kind parse_arp(const struct sg_net_if *ifc, const uint8_t *frame, uint32_t len,
                                  struct sg_pkt *pkt)
{
	const uint8_t *arp = frame + pkt->l3_off;
	uint16_t op;

	if (len - pkt->l3_off < ARP_LEN)
		return drop(pkt, SG_DROP_ARP);
	op = sg_load_be16(arp + 6);
	/* RFC 826: Ethernet hardware, IPv4 protocol, 6- and 4-byte addresses. */
	if (sg_load_be16(arp) != 1 || sg_load_be16(arp + 2) != ETH_P_IPV4 || arp[4] != 6 ||
	    arp[5] != 4 || (op != 1 && op != 2))
		return drop(pkt, SG_DROP_ARP);
	if (!is_our_ip4(ifc, arp + 24))
		return drop(pkt, SG_DROP_ARP);
	pkt->family = 4;
	pkt->src = arp + 14;
	pkt->dst = arp + 24;
	return SG_NET_ARP;
}

enum sg_net_kind sg_net_parse(const struct sg_net_if *ifc, const uint8_t *frame, uint32_t len,
                              struct sg_pkt *pkt)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint16_t type;
	bool multicast;

	memset(pkt, 0, sizeof(*pkt));
	if (len < ETH_HLEN)
		return drop(pkt, SG_DROP_RUNT);
	multicast = memcmp(frame, bcast, 6) == 0 || (frame[0] == 0x33 && frame[1] == 0x33);
	if (!multicast && memcmp(frame, ifc->mac, 6) != 0)
		return drop(pkt, SG_DROP_L2_NOT_FOR_US);

	type = sg_load_be16(frame + 12);
	pkt->l3_off = ETH_HLEN;
	if (type == ETH_P_VLAN) {
		if (len < ETH_HLEN + VLAN_HLEN)
			return drop(pkt, SG_DROP_RUNT);
		pkt->vlan = sg_load_be16(frame + 14) & 0x0fff;
		type = sg_load_be16(frame + 16);
		pkt->l3_off += VLAN_HLEN;
		if (type == ETH_P_VLAN || type == ETH_P_QINQ)
			return drop(pkt, SG_DROP_VLAN);
	} else if (type == ETH_P_QINQ) {
		return drop(pkt, SG_DROP_VLAN);
	}
	if (pkt->vlan != ifc->vlan)
		return drop(pkt, SG_DROP_VLAN);

	switch (type) {
	case ETH_P_IPV4:
		/* Broadcast or multicast IPv4 is never for a DTLS session. */
		if (multicast)
			return drop(pkt, SG_DROP_L2_NOT_FOR_US);
		return parse_ipv4(ifc, frame, len, pkt);
	case ETH_P_IPV6:
		return parse_ipv6(ifc, frame, len, pkt);
	case ETH_P_ARP:
		return parse_arp(ifc, frame, len, pkt);
	default:
		return drop(pkt, SG_DROP_ETHERTYPE);
	}
}

uint32_t sg_net_arp_reply(const struct sg_net_if *ifc, uint8_t *frame, uint32_t len,
                          const struct sg_pkt *pkt)
{
	uint8_t *arp = frame + pkt->l3_off;
	uint8_t ip[4];

	if (len < (uint32_t)pkt->l3_off + ARP_LEN || sg_load_be16(arp + 6) != 1 ||
	    !is_our_ip4(ifc, arp + 24))
		return 0;
	/* RFC 826 "Packet Reception": swap sender and target, fill in our hardware address. */
	memcpy(frame, frame + 6, 6);
	memcpy(frame + 6, ifc->mac, 6);
	sg_store_be16(arp + 6, 2);
	memcpy(ip, arp + 24, 4);
	memcpy(arp + 18, arp + 8, 6);
	memcpy(arp + 24, arp + 14, 4);
	memcpy(arp + 8, ifc->mac, 6);
	memcpy(arp + 14, ip, 4);
	return len;
}

uint32_t sg_net_ndisc_reply(const struct sg_net_if *ifc, uint8_t *frame, uint32_t len, uint32_t cap,
                            const struct sg_pkt *pkt)
{
	uint32_t l3 = pkt->l3_off;
	uint32_t out_len = l3 + IPV6_HLEN + ND_MSG_LEN + 8;
	uint8_t *ip = frame + l3;
	uint8_t *icmp = ip + IPV6_HLEN;
	uint8_t target[16], dst[16], dst_mac[6];
	uint16_t csum;

	if (pkt->ndisc_type != ND_NS || len < (uint32_t)pkt->l4_off + ND_MSG_LEN || cap < out_len)
		return 0;
	memcpy(target, frame + pkt->l4_off + 8, 16);
	memcpy(dst, pkt->src, 16);
	/*
	 * RFC 4861 §7.2.4: a solicitation from the unspecified address is duplicate
	 * address detection; we do not take part in it.
	 */
	if (is_unspecified6(dst) || !is_our_ip6(ifc, target))
		return 0;
	memcpy(dst_mac, frame + 6, 6);

	memcpy(frame, dst_mac, 6);
	memcpy(frame + 6, ifc->mac, 6);
	/* Any VLAN tag and the EtherType stay; the IPv6 header is rebuilt without extensions. */
	memset(ip, 0, IPV6_HLEN + ND_MSG_LEN + 8);
	ip[0] = 0x60;
	sg_store_be16(ip + 4, ND_MSG_LEN + 8);
	ip[6] = IPPROTO_ICMPV6_;
	ip[7] = ND_HOP_LIMIT;
	memcpy(ip + 8, target, 16);
	memcpy(ip + 24, dst, 16);
	icmp[0] = ND_NA;
	icmp[4] = ND_NA_FLAG_SOL | ND_NA_FLAG_OVR;
	memcpy(icmp + 8, target, 16);
	icmp[24] = ND_OPT_TLLA;
	icmp[25] = 1;
	memcpy(icmp + 26, ifc->mac, 6);
	csum = l4_cksum(6, ip + 8, ip + 24, IPPROTO_ICMPV6_, icmp, ND_MSG_LEN + 8);
	memcpy(icmp + 2, &csum, 2); /* summed in memory order, stored the same way */
	return out_len;
}

bool sg_net_neighbour(enum sg_net_kind kind, const uint8_t *frame, uint32_t len,
                      const struct sg_pkt *pkt, uint8_t ip[16], uint8_t mac[6])
{
	const uint8_t *icmp;
	uint8_t want;

	if (kind == SG_NET_ARP) {
		/* ARP: sender protocol and hardware addresses. */
		const uint8_t *arp = frame + pkt->l3_off;

		if (len < (uint32_t)pkt->l3_off + ARP_LEN)
			return false;
		memcpy(ip, arp + 14, 4);
		memcpy(mac, arp + 8, 6);
		return true;
	}
	if (kind != SG_NET_NDISC)
		return false;
	icmp = frame + pkt->payload_off;
	if (pkt->ndisc_type == ND_NS) {
		if (is_unspecified6(pkt->src))
			return false;
		memcpy(ip, pkt->src, 16);
		want = ND_OPT_SLLA;
	} else {
		memcpy(ip, icmp + 8, 16);
		want = ND_OPT_TLLA;
	}
	for (uint32_t o = ND_MSG_LEN; o + 8 <= pkt->payload_len; o += (uint32_t)icmp[o + 1] * 8) {
		if (icmp[o + 1] == 0)
			return false;
		if (icmp[o] == want && icmp[o + 1] == 1) {
			memcpy(mac, icmp + o + 2, 6);
			return true;
		}
	}
	return false;
}
