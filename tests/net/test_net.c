/* SPDX-License-Identifier: Apache-2.0 */
/*
 * L2-L4 parser, ARP and neighbour discovery: a table of crafted frames with
 * the kind or drop reason each must get, the ARP/NA answers checked field by
 * field (with the RFC 1071 checksum of tests/common, independent of DPDK's), and
 * every truncation and single-bit flip of good frames run under ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/bytes.h>
#include <stormgate/net.h>

#include "tc_csum.h"

#define FRAME_MAX 256
#define EXT_HBH   0x100 /* hop-by-hop options (type 0) as spec.ext0 */

static const uint8_t OUR_MAC[6] = { 0x02, 0x53, 0x47, 0x00, 0x00, 0x01 };
static const uint8_t PEER_MAC[6] = { 0x02, 0x53, 0x47, 0x00, 0x00, 0x02 };
static const uint8_t OUR_IP4[4] = { 198, 18, 1, 1 };
static const uint8_t PEER_IP4[4] = { 198, 18, 1, 2 };
static const uint8_t OTHER_IP4[4] = { 198, 18, 1, 3 };
static const uint8_t OUR_IP6[16] = { 0xfd, 0x00, 0x53, 0x47, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t PEER_IP6[16] = { 0xfd, 0x00, 0x53, 0x47, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
static const uint8_t OTHER_IP6[16] = { 0xfd, 0x00, 0x53, 0x47, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3 };

static struct sg_net_if ifc;

/* ---- an independent frame builder (checksums: tc_csum.h) ---- */

struct spec {
	int fam;         /* 4 or 6 */
	int vlan;        /* tag to add, 0 none, -1 QinQ outer */
	int ihl;         /* IPv4 header words (5 default) */
	int frag;        /* IPv4 flags+offset field */
	uint8_t proto;   /* 17 default */
	int no_csum;     /* UDP checksum 0 */
	int bad_csum;    /* UDP checksum off by one */
	int bad_ipcsum;  /* IPv4 header checksum off by one */
	int udp_len_adj; /* added to the UDP length field */
	int ip_len_adj;  /* added to the IP length field */
	int pad;         /* Ethernet padding bytes after the IP packet */
	int n_ext;       /* IPv6: number of destination-options headers */
	int ext0; /* IPv6: first extension header type when n_ext > 0 (60 default; EXT_HBH) */
	const uint8_t *dst;
	const uint8_t *src;
	const uint8_t *dmac;
	uint16_t payload;
};

/* Build an Ethernet/IP/UDP frame per spec; returns its length. */
static uint32_t build_udp(uint8_t *f, const struct spec *s)
{
	uint32_t o = 0, l3, l4, iplen, plen = s->payload;
	uint8_t *ip, *udp;
	int ihl = s->ihl ? s->ihl : 5;
	uint8_t proto = s->proto ? s->proto : 17;

	memset(f, 0, FRAME_MAX);
	memcpy(f, s->dmac ? s->dmac : OUR_MAC, 6);
	memcpy(f + 6, PEER_MAC, 6);
	o = 12;
	if (s->vlan == -1) {
		sg_store_be16(f + o, 0x88a8);
		sg_store_be16(f + o + 2, 5);
		o += 4;
	}
	if (s->vlan) {
		sg_store_be16(f + o, 0x8100);
		sg_store_be16(f + o + 2, (uint16_t)(s->vlan > 0 ? s->vlan : 7));
		o += 4;
	}
	sg_store_be16(f + o, s->fam == 4 ? 0x0800 : 0x86dd);
	l3 = o + 2;
	ip = f + l3;
	if (s->fam == 4) {
		l4 = l3 + (uint32_t)ihl * 4;
		iplen = (uint32_t)ihl * 4 + 8 + plen;
		ip[0] = (uint8_t)(0x40 | ihl);
		sg_store_be16(ip + 2, (uint16_t)(iplen + s->ip_len_adj));
		sg_store_be16(ip + 6, (uint16_t)s->frag);
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, s->src ? s->src : PEER_IP4, 4);
		memcpy(ip + 16, s->dst ? s->dst : OUR_IP4, 4);
		for (int i = 5; i < ihl; i++)
			ip[i * 4] = 1; /* NOP options */
		sg_store_be16(ip + 10, (uint16_t)(~tc_csum(ip, (size_t)ihl * 4, 0) +
		                                  (s->bad_ipcsum ? 1 : 0)));
	} else {
		uint8_t next = proto;

		l4 = l3 + 40 + (uint32_t)s->n_ext * 8;
		iplen = (uint32_t)s->n_ext * 8 + 8 + plen;
		ip[0] = 0x60;
		sg_store_be16(ip + 4, (uint16_t)(iplen + s->ip_len_adj));
		ip[7] = 64;
		memcpy(ip + 8, s->src ? s->src : PEER_IP6, 16);
		memcpy(ip + 24, s->dst ? s->dst : OUR_IP6, 16);
		for (int i = s->n_ext - 1; i >= 0; i--) {
			uint8_t *e = ip + 40 + i * 8;

			e[0] = next;
			e[1] = 0;
			e[2] = 1; /* PadN */
			e[3] = 4;
			next = (uint8_t)((i == 0 && s->ext0) ? s->ext0 : 60);
		}
		ip[6] = next;
		iplen += 40;
	}
	udp = f + l4;
	sg_store_be16(udp, 40000);
	sg_store_be16(udp + 2, 5684);
	sg_store_be16(udp + 4, (uint16_t)(8 + plen + s->udp_len_adj));
	for (uint32_t i = 0; i < plen; i++)
		udp[8 + i] = (uint8_t)(0xa0 + i);
	if (!s->no_csum) {
		uint16_t c = tc_csum_l4(
		        (uint8_t)s->fam, s->src ? s->src : (s->fam == 4 ? PEER_IP4 : PEER_IP6),
		        s->dst ? s->dst : (s->fam == 4 ? OUR_IP4 : OUR_IP6), proto, udp, 8 + plen);
		sg_store_be16(udp + 6, (uint16_t)((c ? c : 0xffff) + (s->bad_csum ? 1 : 0)));
	}
	return l3 + (s->fam == 4 ? iplen : iplen) + (uint32_t)s->pad;
}

/* ---- the table ---- */

struct udp_case {
	const char *name;
	struct spec s;
	uint16_t if_vlan;
	enum sg_net_kind kind;
	enum sg_drop drop;
	uint32_t trim; /* bytes cut off the end of the frame */
};

static const struct udp_case udp_cases[] = {
	{ "ipv4 udp", { .fam = 4, .payload = 30 }, 0, SG_NET_UDP, 0, 0 },
	{ "ipv4 udp, empty payload", { .fam = 4, .payload = 0 }, 0, SG_NET_UDP, 0, 0 },
	{ "ipv4 udp, no checksum (RFC 768)",
	  { .fam = 4, .payload = 30, .no_csum = 1 },
	  0,
	  SG_NET_UDP,
	  0,
	  0 },
	{ "ipv4 udp, options", { .fam = 4, .ihl = 7, .payload = 30 }, 0, SG_NET_UDP, 0, 0 },
	{ "ipv4 udp, ethernet padding",
	  { .fam = 4, .payload = 2, .pad = 16 },
	  0,
	  SG_NET_UDP,
	  0,
	  0 },
	{ "ipv4 vlan on vlan port",
	  { .fam = 4, .vlan = 100, .payload = 30 },
	  100,
	  SG_NET_UDP,
	  0,
	  0 },
	{ "ipv6 udp", { .fam = 6, .payload = 30 }, 0, SG_NET_UDP, 0, 0 },
	{ "ipv6 udp, two dest-opt headers",
	  { .fam = 6, .n_ext = 2, .payload = 30 },
	  0,
	  SG_NET_UDP,
	  0,
	  0 },
	{ "ipv6 udp, hop-by-hop first",
	  { .fam = 6, .n_ext = 2, .ext0 = EXT_HBH, .payload = 30 },
	  0,
	  SG_NET_UDP,
	  0,
	  0 },
	{ "runt", { .fam = 4, .payload = 30 }, 0, SG_NET_DROP, SG_DROP_RUNT, 1000 },
	{ "other MAC",
	  { .fam = 4, .payload = 30, .dmac = PEER_MAC },
	  0,
	  SG_NET_DROP,
	  SG_DROP_L2_NOT_FOR_US,
	  0 },
	{ "broadcast ipv4",
	  { .fam = 4,
	    .payload = 30,
	    .dmac = (const uint8_t[]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
	  0,
	  SG_NET_DROP,
	  SG_DROP_L2_NOT_FOR_US,
	  0 },
	{ "vlan on untagged port",
	  { .fam = 4, .vlan = 100, .payload = 30 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_VLAN,
	  0 },
	{ "untagged on vlan port", { .fam = 4, .payload = 30 }, 100, SG_NET_DROP, SG_DROP_VLAN, 0 },
	{ "wrong vlan",
	  { .fam = 4, .vlan = 101, .payload = 30 },
	  100,
	  SG_NET_DROP,
	  SG_DROP_VLAN,
	  0 },
	{ "QinQ", { .fam = 4, .vlan = -1, .payload = 30 }, 0, SG_NET_DROP, SG_DROP_VLAN, 0 },
	{ "ipv4 ihl 4",
	  { .fam = 4, .ihl = 4, .payload = 30 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IP_HEADER,
	  0 },
	{ "ipv4 total length past frame",
	  { .fam = 4, .payload = 30, .ip_len_adj = 1 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IP_HEADER,
	  0 },
	{ "ipv4 truncated frame",
	  { .fam = 4, .payload = 30 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IP_HEADER,
	  5 },
	{ "ipv4 header checksum",
	  { .fam = 4, .payload = 30, .bad_ipcsum = 1 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IP_CHECKSUM,
	  0 },
	{ "ipv4 more fragments",
	  { .fam = 4, .payload = 30, .frag = 0x2000 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IP_FRAGMENT,
	  0 },
	{ "ipv4 fragment offset",
	  { .fam = 4, .payload = 30, .frag = 0x0010 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IP_FRAGMENT,
	  0 },
	{ "ipv4 don't-fragment is fine",
	  { .fam = 4, .payload = 30, .frag = 0x4000 },
	  0,
	  SG_NET_UDP,
	  0,
	  0 },
	{ "ipv4 not our address",
	  { .fam = 4, .payload = 30, .dst = OTHER_IP4 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_L3_NOT_FOR_US,
	  0 },
	{ "ipv4 multicast source",
	  { .fam = 4, .payload = 30, .src = (const uint8_t[]){ 224, 0, 0, 1 } },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv4 limited broadcast source",
	  { .fam = 4, .payload = 30, .src = (const uint8_t[]){ 255, 255, 255, 255 } },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv4 \"this network\" source 0/8",
	  { .fam = 4, .payload = 30, .src = (const uint8_t[]){ 0, 18, 1, 2 } },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv4 loopback source 127/8",
	  { .fam = 4, .payload = 30, .src = (const uint8_t[]){ 127, 0, 0, 1 } },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv4 our own address as source",
	  { .fam = 4, .payload = 30, .src = OUR_IP4 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv4 source 126.255.255.255 is fine",
	  { .fam = 4, .payload = 30, .src = (const uint8_t[]){ 126, 255, 255, 255 } },
	  0,
	  SG_NET_UDP,
	  0,
	  0 },
	{ "ipv4 tcp",
	  { .fam = 4, .payload = 30, .proto = 6 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IP_PROTO,
	  0 },
	{ "udp length too long",
	  { .fam = 4, .payload = 30, .udp_len_adj = 1 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_UDP_HEADER,
	  0 },
	{ "udp length too short",
	  { .fam = 4, .payload = 30, .udp_len_adj = -1 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_UDP_HEADER,
	  0 },
	{ "udp length below header",
	  { .fam = 4, .payload = 30, .udp_len_adj = -31 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_UDP_HEADER,
	  0 },
	{ "udp header cut by ip length",
	  { .fam = 4, .payload = 0, .ip_len_adj = -4 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_UDP_HEADER,
	  4 },
	{ "ipv4 udp checksum",
	  { .fam = 4, .payload = 30, .bad_csum = 1 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_UDP_CHECKSUM,
	  0 },
	{ "ipv6 udp checksum",
	  { .fam = 6, .payload = 30, .bad_csum = 1 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_UDP_CHECKSUM,
	  0 },
	{ "ipv6 zero udp checksum (RFC 8200 8.1)",
	  { .fam = 6, .payload = 30, .no_csum = 1 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_UDP_CHECKSUM,
	  0 },
	{ "ipv6 payload length past frame",
	  { .fam = 6, .payload = 30, .ip_len_adj = 1 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IP_HEADER,
	  0 },
	{ "ipv6 not our address",
	  { .fam = 6, .payload = 30, .dst = OTHER_IP6 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_L3_NOT_FOR_US,
	  0 },
	{ "ipv6 multicast source",
	  { .fam = 6, .payload = 30, .src = (const uint8_t[16]){ 0xff, 0x02, [15] = 1 } },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv6 IPv4-mapped source ::ffff:198.18.1.2 (RFC 4291 2.5.5.2)",
	  { .fam = 6,
	    .payload = 30,
	    .src = (const uint8_t[16]){ [10] = 0xff, 0xff, 198, 18, 1, 2 } },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv6 IPv4-mapped source ::ffff:0.0.0.0",
	  { .fam = 6, .payload = 30, .src = (const uint8_t[16]){ [10] = 0xff, 0xff } },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv6 IPv4-compatible source ::198.18.1.2 (deprecated)",
	  { .fam = 6, .payload = 30, .src = (const uint8_t[16]){ [12] = 198, 18, 1, 2 } },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv6 loopback source ::1",
	  { .fam = 6, .payload = 30, .src = (const uint8_t[16]){ [15] = 1 } },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv6 unspecified source :: (udp)",
	  { .fam = 6, .payload = 30, .src = (const uint8_t[16]){ 0 } },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv6 our own address as source",
	  { .fam = 6, .payload = 30, .src = OUR_IP6 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_BAD_SOURCE,
	  0 },
	{ "ipv6 source ::fffe:c612:102 (next to the mapped block) is fine",
	  { .fam = 6,
	    .payload = 30,
	    .src = (const uint8_t[16]){ [10] = 0xff, 0xfe, 198, 18, 1, 2 } },
	  0,
	  SG_NET_UDP,
	  0,
	  0 },
	{ "ipv6 link-local source is fine",
	  { .fam = 6, .payload = 30, .src = (const uint8_t[16]){ 0xfe, 0x80, [15] = 2 } },
	  0,
	  SG_NET_UDP,
	  0,
	  0 },
	{ "ipv6 fragment header",
	  { .fam = 6, .n_ext = 1, .ext0 = 44, .payload = 30 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IP_FRAGMENT,
	  0 },
	{ "ipv6 nine extension headers",
	  { .fam = 6, .n_ext = 9, .payload = 30 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IPV6_EXT,
	  0 },
	{ "ipv6 no next header",
	  { .fam = 6, .n_ext = 1, .ext0 = 59, .payload = 30 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IP_PROTO,
	  0 },
	{ "ipv6 tcp",
	  { .fam = 6, .payload = 30, .proto = 6 },
	  0,
	  SG_NET_DROP,
	  SG_DROP_IP_PROTO,
	  0 },
};

static void test_udp_table(void **state)
{
	unsigned failed = 0;

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(udp_cases); i++) {
		const struct udp_case *c = &udp_cases[i];
		uint8_t f[FRAME_MAX];
		struct sg_pkt pkt;
		uint32_t len = build_udp(f, &c->s);
		enum sg_net_kind k;

		len = c->trim >= len ? 10 : len - c->trim;
		ifc.vlan = c->if_vlan;
		k = sg_net_parse(&ifc, f, len, &pkt);
		ifc.vlan = 0;
		if (k != c->kind || (k == SG_NET_DROP && pkt.drop != c->drop)) {
			print_message("case '%s': kind %d drop %s, want kind %d drop %s\n", c->name,
			              k, sg_drop_name(pkt.drop), c->kind, sg_drop_name(c->drop));
			failed++;
			continue;
		}
		if (k == SG_NET_UDP) {
			assert_int_equal(pkt.family, c->s.fam);
			assert_int_equal(pkt.sport, 40000);
			assert_int_equal(pkt.dport, 5684);
			assert_int_equal(pkt.payload_len, c->s.payload);
			for (unsigned j = 0; j < pkt.payload_len; j++)
				assert_int_equal(f[pkt.payload_off + j], (uint8_t)(0xa0 + j));
			assert_memory_equal(pkt.dst, c->s.fam == 4 ? OUR_IP4 : OUR_IP6,
			                    c->s.fam == 4 ? 4 : 16);
		}
	}
	assert_int_equal(failed, 0);
}

/* Non-IP EtherType and IPv6 routing header with segments left. */
static void test_odd_frames(void **state)
{
	uint8_t f[FRAME_MAX];
	struct sg_pkt pkt;
	struct spec s = { .fam = 6, .n_ext = 1, .ext0 = 43, .payload = 8 };
	uint32_t len;

	(void)state;
	len = build_udp(f, &(struct spec){ .fam = 4, .payload = 8 });
	sg_store_be16(f + 12, 0x88cc); /* LLDP */
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_ETHERTYPE);

	len = build_udp(f, &s);
	f[14 + 40 + 3] = 1; /* segments left */
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_IPV6_EXT);
	f[14 + 40 + 3] = 0; /* segments left 0: processed, skip it */
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_UDP);

	/* Hop-by-hop options anywhere but first (RFC 8200 §4.3). */
	len = build_udp(f, &(struct spec){ .fam = 6, .n_ext = 2, .payload = 8 });
	f[14 + 40] = 0;
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_IPV6_EXT);

	/* Extension header length running past the payload. */
	len = build_udp(f, &(struct spec){ .fam = 6, .n_ext = 1, .payload = 8 });
	f[14 + 40 + 1] = 10;
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_IPV6_EXT);
}

/* ---- ARP ---- */

static uint32_t build_arp(uint8_t *f, uint16_t op, const uint8_t *tip)
{
	memset(f, 0, FRAME_MAX);
	memset(f, 0xff, 6);
	memcpy(f + 6, PEER_MAC, 6);
	sg_store_be16(f + 12, 0x0806);
	sg_store_be16(f + 14, 1);
	sg_store_be16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	sg_store_be16(f + 20, op);
	memcpy(f + 22, PEER_MAC, 6);
	memcpy(f + 28, PEER_IP4, 4);
	memcpy(f + 38, tip, 4);
	return 60; /* minimum Ethernet frame */
}

static void test_arp(void **state)
{
	uint8_t f[FRAME_MAX], ip[16], mac[6];
	struct sg_pkt pkt;
	uint32_t len = build_arp(f, 1, OUR_IP4);

	(void)state;
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_ARP);
	assert_true(sg_net_neighbour(SG_NET_ARP, f, len, &pkt, ip, mac));
	assert_memory_equal(ip, PEER_IP4, 4);
	assert_memory_equal(mac, PEER_MAC, 6);
	assert_int_equal(sg_net_arp_reply(&ifc, f, len, &pkt), len);
	assert_memory_equal(f, PEER_MAC, 6);
	assert_memory_equal(f + 6, OUR_MAC, 6);
	assert_int_equal(sg_load_be16(f + 20), 2);
	assert_memory_equal(f + 22, OUR_MAC, 6);
	assert_memory_equal(f + 28, OUR_IP4, 4);
	assert_memory_equal(f + 32, PEER_MAC, 6);
	assert_memory_equal(f + 38, PEER_IP4, 4);

	/* A reply to us is learned but not answered. */
	len = build_arp(f, 2, OUR_IP4);
	memcpy(f, OUR_MAC, 6);
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_ARP);
	assert_int_equal(sg_net_arp_reply(&ifc, f, len, &pkt), 0);

	len = build_arp(f, 1, OTHER_IP4);
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_ARP);

	len = build_arp(f, 1, OUR_IP4);
	f[18] = 8; /* hardware address length */
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_ARP);

	len = build_arp(f, 3, OUR_IP4); /* RARP opcode */
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_ARP);

	build_arp(f, 1, OUR_IP4);
	assert_int_equal(sg_net_parse(&ifc, f, 14 + 27, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_ARP);
}

/* ---- neighbour discovery ---- */

static uint32_t build_ns(uint8_t *f, const uint8_t *target, uint8_t hop_limit, int slla,
                         uint8_t type)
{
	uint8_t *ip = f + 14, *icmp = f + 54;
	uint16_t ilen = (uint16_t)(24 + (slla ? 8 : 0));
	uint8_t dst[16] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };

	memset(f, 0, FRAME_MAX);
	memcpy(dst + 13, target + 13, 3);
	f[0] = 0x33;
	f[1] = 0x33;
	memcpy(f + 2, dst + 12, 4);
	memcpy(f + 6, PEER_MAC, 6);
	sg_store_be16(f + 12, 0x86dd);
	ip[0] = 0x60;
	sg_store_be16(ip + 4, ilen);
	ip[6] = 58;
	ip[7] = hop_limit;
	memcpy(ip + 8, PEER_IP6, 16);
	memcpy(ip + 24, dst, 16);
	icmp[0] = type;
	memcpy(icmp + 8, target, 16);
	if (slla) {
		icmp[24] = 1;
		icmp[25] = 1;
		memcpy(icmp + 26, PEER_MAC, 6);
	}
	sg_store_be16(icmp + 2, tc_csum_l4(6, ip + 8, ip + 24, 58, icmp, ilen));
	return 54 + ilen;
}

static void test_ndisc(void **state)
{
	uint8_t f[FRAME_MAX], ip[16], mac[6];
	struct sg_pkt pkt;
	uint32_t len = build_ns(f, OUR_IP6, 255, 1, 135), out;

	(void)state;
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_NDISC);
	assert_int_equal(pkt.ndisc_type, 135);
	assert_true(sg_net_neighbour(SG_NET_NDISC, f, len, &pkt, ip, mac));
	assert_memory_equal(ip, PEER_IP6, 16);
	assert_memory_equal(mac, PEER_MAC, 6);
	assert_int_equal(sg_net_ndisc_reply(&ifc, f, len, 60, &pkt), 0); /* buffer too small */
	out = sg_net_ndisc_reply(&ifc, f, len, FRAME_MAX, &pkt);
	assert_int_equal(out, 14 + 40 + 32);
	assert_memory_equal(f, PEER_MAC, 6);
	assert_memory_equal(f + 6, OUR_MAC, 6);
	assert_memory_equal(f + 14 + 8, OUR_IP6, 16);
	assert_memory_equal(f + 14 + 24, PEER_IP6, 16);
	assert_int_equal(f[14 + 7], 255);
	assert_int_equal(f[54], 136);
	assert_int_equal(f[54 + 4], 0x60); /* solicited, override */
	assert_memory_equal(f + 54 + 8, OUR_IP6, 16);
	assert_int_equal(f[54 + 24], 2);
	assert_memory_equal(f + 54 + 26, OUR_MAC, 6);
	assert_int_equal(tc_csum_l4(6, f + 22, f + 38, 58, f + 54, 32), 0); /* checksum verifies */

	/* The answer, seen by the peer, is a valid NA for our address. */
	{
		struct sg_net_if peer = { .n_ip6 = 1 };

		memcpy(peer.mac, PEER_MAC, 6);
		memcpy(peer.ip6[0], PEER_IP6, 16);
		assert_int_equal(sg_net_parse(&peer, f, out, &pkt), SG_NET_NDISC);
		assert_int_equal(pkt.ndisc_type, 136);
		assert_true(sg_net_neighbour(SG_NET_NDISC, f, out, &pkt, ip, mac));
		assert_memory_equal(ip, OUR_IP6, 16);
		assert_memory_equal(mac, OUR_MAC, 6);
	}

	len = build_ns(f, OUR_IP6, 64, 1, 135); /* routed: not from this link */
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_NDISC);

	len = build_ns(f, OTHER_IP6, 255, 1, 135);
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_L3_NOT_FOR_US); /* solicited-node group not ours */

	len = build_ns(f, OUR_IP6, 255, 1, 128); /* echo request */
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_ICMP);

	len = build_ns(f, OUR_IP6, 255, 1, 135);
	f[54 + 2] ^= 1;
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_ICMP);

	/* An option of length zero would loop forever (RFC 4861 §4.6). */
	len = build_ns(f, OUR_IP6, 255, 1, 135);
	f[54 + 25] = 0;
	sg_store_be16(f + 54 + 2, 0);
	sg_store_be16(f + 54 + 2, tc_csum_l4(6, f + 22, f + 38, 58, f + 54, 32));
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_NDISC);

	/* Duplicate address detection (unspecified source) is not answered. */
	len = build_ns(f, OUR_IP6, 255, 0, 135);
	memset(f + 22, 0, 16);
	sg_store_be16(f + 54 + 2, 0);
	sg_store_be16(f + 54 + 2, tc_csum_l4(6, f + 22, f + 38, 58, f + 54, 24));
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_NDISC);
	assert_int_equal(sg_net_ndisc_reply(&ifc, f, len, FRAME_MAX, &pkt), 0);
	assert_false(sg_net_neighbour(SG_NET_NDISC, f, len, &pkt, ip, mac));

	/* A solicitation from an IPv4-mapped or the loopback address is no neighbour's. */
	for (int k = 0; k < 2; k++) {
		static const uint8_t mapped[16] = { [10] = 0xff, 0xff, 198, 18, 1, 2 };
		static const uint8_t loop[16] = { [15] = 1 };

		len = build_ns(f, OUR_IP6, 255, 1, 135);
		memcpy(f + 22, k == 0 ? mapped : loop, 16);
		sg_store_be16(f + 54 + 2, 0);
		sg_store_be16(f + 54 + 2, tc_csum_l4(6, f + 22, f + 38, 58, f + 54, 32));
		assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
		assert_int_equal(pkt.drop, SG_DROP_BAD_SOURCE);
	}
}

/*
 * Every truncation and every single-bit flip of a set of good frames: the
 * parser must return a defined kind and reason and never read out of bounds
 * (ASan checks the reads: each frame is copied to an exact-size buffer).
 */
static void check_mutants(const uint8_t *good, uint32_t len)
{
	uint8_t *f = test_malloc(len);
	struct sg_pkt pkt;

	for (uint32_t cut = 0; cut <= len; cut++) {
		uint8_t *t = test_malloc(cut ? cut : 1);
		enum sg_net_kind k;

		memcpy(t, good, cut);
		k = sg_net_parse(&ifc, t, cut, &pkt);
		assert_true(k <= SG_NET_DROP);
		if (k == SG_NET_DROP)
			assert_true(pkt.drop < SG_DROP_MAX);
		test_free(t);
	}
	for (uint32_t bit = 0; bit < len * 8; bit++) {
		enum sg_net_kind k;

		memcpy(f, good, len);
		f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		k = sg_net_parse(&ifc, f, len, &pkt);
		assert_true(k <= SG_NET_DROP);
		if (k == SG_NET_DROP)
			assert_true(pkt.drop < SG_DROP_MAX);
		if (k == SG_NET_UDP)
			assert_true((uint32_t)pkt.payload_off + pkt.payload_len <= len);
	}
	test_free(f);
}

/*
 * A source pool on the interface (udp mode's backend.source_pool): every
 * address in it is ours for UDP, ARP and ND (the solicited-node group too,
 * where the prefix fixes some of its 24 bits), none outside it, and none is a
 * valid source.
 */
static void test_pool(void **state)
{
	static const uint8_t in4a[4] = { 198, 18, 64, 0 }, in4b[4] = { 198, 18, 127, 255 };
	static const uint8_t out4a[4] = { 198, 18, 128, 0 }, out4b[4] = { 198, 18, 63, 255 };
	static const uint8_t in6[16] = { 0xfd, 0x00, 0x53, 0x47, [11] = 3, [14] = 0x12, 0x34 };
	static const uint8_t out6[16] = { 0xfd, 0x00, 0x53, 0x47, [11] = 3, [13] = 1, 0x12, 0x34 };
	static const struct {
		int fam;
		const uint8_t *src, *dst;
		enum sg_drop want; /* SG_DROP_MAX: SG_NET_UDP */
	} rows[] = {
		{ 4, NULL, in4a, SG_DROP_MAX },
		{ 4, NULL, in4b, SG_DROP_MAX },
		{ 4, NULL, out4a, SG_DROP_L3_NOT_FOR_US },
		{ 4, NULL, out4b, SG_DROP_L3_NOT_FOR_US },
		{ 4, in4b, OUR_IP4, SG_DROP_BAD_SOURCE },
		{ 6, NULL, in6, SG_DROP_MAX },
		{ 6, NULL, out6, SG_DROP_L3_NOT_FOR_US },
		{ 6, in6, OUR_IP6, SG_DROP_BAD_SOURCE },
	};
	struct sg_net_if saved = ifc;
	uint8_t f[FRAME_MAX];
	struct sg_pkt pkt;
	uint32_t len;

	(void)state;
	/* 198.18.64.0/18 and fd00:5347::3:0:0/112 (the group's first byte is fixed: 0x00) */
	ifc.pool4_len = 18;
	memcpy(ifc.pool4, in4a, 4);
	ifc.pool6_len = 112;
	memcpy(ifc.pool6, in6, 14);
	memset(ifc.pool6 + 14, 0, 2);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct spec s = {
			.fam = rows[i].fam, .src = rows[i].src, .dst = rows[i].dst, .payload = 8
		};
		enum sg_net_kind k;

		len = build_udp(f, &s);
		k = sg_net_parse(&ifc, f, len, &pkt);
		if (rows[i].want == SG_DROP_MAX ? k != SG_NET_UDP
		                                : k != SG_NET_DROP || pkt.drop != rows[i].want)
			fail_msg("row %zu: kind %d drop %s", i, k, sg_drop_name(pkt.drop));
	}
	/* ARP for a pool address: answered as that address; outside the pool: dropped. */
	len = build_arp(f, 1, in4b);
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_ARP);
	assert_int_equal(sg_net_arp_reply(&ifc, f, len, &pkt), len);
	assert_memory_equal(f + 22, OUR_MAC, 6);
	assert_memory_equal(f + 28, in4b, 4);
	len = build_arp(f, 1, out4a);
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_ARP);
	/* A solicitation for a pool address: an advertisement for it with our MAC. */
	len = build_ns(f, in6, 255, 1, 135);
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_NDISC);
	assert_int_equal(sg_net_ndisc_reply(&ifc, f, len, FRAME_MAX, &pkt), 14 + 40 + 32);
	assert_memory_equal(f + 14 + 8, in6, 16);
	assert_memory_equal(f + 54 + 8, in6, 16);
	assert_memory_equal(f + 54 + 26, OUR_MAC, 6);
	/* outside: its solicited-node group (ff02::1:ff01:1234) is none of ours */
	len = build_ns(f, out6, 255, 1, 135);
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_DROP);
	assert_int_equal(pkt.drop, SG_DROP_L3_NOT_FOR_US);
	ifc = saved;
}

static void test_mutants(void **state)
{
	uint8_t f[FRAME_MAX];
	uint32_t len;

	(void)state;
	len = build_udp(f, &(struct spec){ .fam = 4, .ihl = 6, .payload = 20 });
	check_mutants(f, len);
	len = build_udp(f, &(struct spec){ .fam = 6, .n_ext = 2, .payload = 20 });
	check_mutants(f, len);
	len = build_arp(f, 1, OUR_IP4);
	check_mutants(f, len);
	len = build_ns(f, OUR_IP6, 255, 1, 135);
	check_mutants(f, len);
}

static void test_udp_cksum_builder(void **state)
{
	uint8_t f[FRAME_MAX];
	uint32_t len = build_udp(f, &(struct spec){ .fam = 6, .payload = 33 });
	uint8_t *udp = f + 14 + 40;
	uint16_t want = sg_load_be16(udp + 6);
	struct sg_pkt pkt;

	(void)state;
	udp[6] = 0x12;
	udp[7] = 0x34;
	sg_net_udp_set_cksum(6, PEER_IP6, OUR_IP6, udp, 8 + 33);
	assert_int_equal(sg_load_be16(udp + 6), want);
	assert_int_equal(sg_net_parse(&ifc, f, len, &pkt), SG_NET_UDP);
}

/* RFC 1071 the slow, obvious way: big-endian 16-bit words, an odd byte padded with zero. */
static uint16_t ref_udp_cksum(int fam, const uint8_t *src, const uint8_t *dst, const uint8_t *udp,
                              uint32_t len)
{
	uint64_t sum = 0;
	unsigned alen = fam == 4 ? 4 : 16;

	for (unsigned i = 0; i < alen; i += 2)
		sum += (uint32_t)(src[i] << 8 | src[i + 1]) + (uint32_t)(dst[i] << 8 | dst[i + 1]);
	sum += 17 + (len & 0xffff) + (len >> 16);
	for (uint32_t i = 0; i < len; i += 2) {
		uint32_t hi = i == 6 ? 0 : udp[i]; /* the checksum field counts as zero */
		uint32_t lo = i + 1 < len && i != 6 ? udp[i + 1] : 0;

		sum += hi << 8 | lo;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	return sum == 0 ? 0xffff : (uint16_t)sum;
}

/* The UDP checksum against the reference for every length and alignment a datagram has. */
static void test_udp_cksum_lengths(void **state)
{
	static uint8_t buf[1600 + 8];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (unsigned i = 0; i < sizeof(buf); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	for (uint32_t len = 8; len <= 1500; len += len < 300 ? 1 : 37) {
		for (unsigned off = 0; off < 8; off++) {
			for (int fam = 4; fam <= 6; fam += 2) {
				uint8_t *udp = buf + off;
				const uint8_t *src = fam == 4 ? PEER_IP4 : PEER_IP6;
				const uint8_t *dst = fam == 4 ? OUR_IP4 : OUR_IP6;
				uint16_t want = ref_udp_cksum(fam, src, dst, udp, len);

				sg_net_udp_set_cksum((uint8_t)fam, src, dst, udp, (uint16_t)len);
				if (sg_load_be16(udp + 6) != want)
					fail_msg("len %u off %u IPv%d: %04x, want %04x", len, off,
					         fam, sg_load_be16(udp + 6), want);
			}
		}
	}
}

static void test_drop_names(void **state)
{
	(void)state;
	for (int i = 0; i < SG_DROP_MAX; i++) {
		assert_string_not_equal(sg_drop_name((enum sg_drop)i), "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(sg_drop_name((enum sg_drop)i),
			                        sg_drop_name((enum sg_drop)j));
	}
	assert_string_equal(sg_drop_name(SG_DROP_MAX), "unknown");
}

static int setup(void **state)
{
	(void)state;
	memset(&ifc, 0, sizeof(ifc));
	memcpy(ifc.mac, OUR_MAC, 6);
	ifc.n_ip4 = 1;
	memcpy(ifc.ip4[0], OUR_IP4, 4);
	ifc.n_ip6 = 1;
	memcpy(ifc.ip6[0], OUR_IP6, 16);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_table),
		cmocka_unit_test(test_odd_frames),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_ndisc),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_mutants),
		cmocka_unit_test(test_udp_cksum_builder),
		cmocka_unit_test(test_udp_cksum_lengths),
		cmocka_unit_test(test_drop_names),
	};

	return cmocka_run_group_tests_name("net", tests, setup, NULL);
}
