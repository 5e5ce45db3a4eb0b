/* SPDX-License-Identifier: Apache-2.0 */
/*
 * L2-L4 of the data plane: validate a received Ethernet frame down to the UDP
 * payload, and answer ARP and IPv6 neighbour discovery for the gateway's own
 * addresses. Works on pointer+length frames (no mbuf), so tests and fuzzers
 * call it directly; the worker pipeline calls it on each mbuf's data.
 *
 * Thread: any; the functions keep no state. struct sg_net_if is read-only
 * after set-up and may be shared by all workers.
 */
#ifndef STORMGATE_NET_H
#define STORMGATE_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <stormgate/common.h>
#include <stormgate/drop.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_NET_IF_ADDRS_MAX 8

/* The gateway's own identity on one port. */
struct sg_net_if {
	uint8_t mac[6];
	uint16_t vlan; /* 802.1Q VLAN id to accept and send, 0 = untagged */
	uint8_t n_ip4;
	uint8_t n_ip6;
	uint8_t ip4[SG_NET_IF_ADDRS_MAX][4];
	uint8_t ip6[SG_NET_IF_ADDRS_MAX][16];
	/*
	 * A prefix of further addresses that are all ours (the backend side's
	 * source pool, udp mode; docs/dataplane.md "Backend source pool"): taken
	 * as destinations and answered in ARP and neighbour discovery like the
	 * addresses above. Length 0: none. Host bits of the prefix are zero.
	 */
	uint8_t pool4_len;
	uint8_t pool6_len;
	uint8_t pool4[4];
	uint8_t pool6[16];
};

/* Do the first bits bits of a and b agree (addresses of 4 or 16 bytes)? */
static inline bool sg_net_in_prefix(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rem = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rem == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - rem))) == 0;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2): how the session
 * table and the handshake server hold IPv4 addresses. */
static inline bool sg_ip6_is_v4_mapped(const uint8_t a[16])
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

enum sg_net_kind {
	SG_NET_UDP = 0, /* UDP datagram to one of our addresses; see struct sg_pkt */
	SG_NET_ARP,     /* ARP request or reply concerning one of our IPv4 addresses */
	SG_NET_NDISC,   /* ICMPv6 neighbour solicitation/advertisement for one of our IPv6 addresses
	                 */
	SG_NET_DROP,    /* anything else: struct sg_pkt.drop says why */
};

/*
 * What the parser found. Offsets are from the start of the frame; address
 * pointers point into the frame.
 */
struct sg_pkt {
	uint16_t l3_off;
	uint16_t l4_off;
	uint16_t payload_off; /* UDP payload */
	uint16_t payload_len;
	uint8_t family;     /* 4 or 6 */
	uint8_t ndisc_type; /* SG_NET_NDISC: 135 (NS) or 136 (NA) */
	uint16_t vlan;      /* VLAN id the frame carried, 0 = none */
	uint16_t sport;     /* host byte order */
	uint16_t dport;
	const uint8_t *src; /* 4 or 16 bytes */
	const uint8_t *dst;
	enum sg_drop drop; /* SG_NET_DROP: the reason */
};

/*
 * Classify and validate one frame of len bytes received on the interface
 * ifc. Checks Ethernet (our MAC, broadcast, or IPv6 multicast for ND; one
 * 802.1Q tag), IPv4 (version, IHL, lengths, header checksum; fragments
 * dropped), IPv6 (extension headers walked with bounds; fragments dropped)
 * and UDP (length; checksum, which IPv6 requires, RFC 8200 §8.1). Sources
 * no device can have are SG_DROP_BAD_SOURCE: IPv4 0/8, 127/8, 224/3;
 * IPv6 multicast, ::1, ::/96 and the IPv4-mapped ::ffff:0:0/96 (a reply
 * would leave as IPv4 to the embedded address); for UDP also :: and our own
 * addresses (neighbour discovery from :: is duplicate address detection and
 * passes). Frames are never written.
 */
enum sg_net_kind sg_net_parse(const struct sg_net_if *ifc, const uint8_t *frame, uint32_t len,
                              struct sg_pkt *pkt);

/*
 * Turn an ARP request for one of ifc's IPv4 addresses, classified as
 * SG_NET_ARP, into the reply in place (RFC 826). Returns the reply's length,
 * or 0 when the frame is not such a request (a reply, or for another address)
 * and must not be answered.
 */
uint32_t sg_net_arp_reply(const struct sg_net_if *ifc, uint8_t *frame, uint32_t len,
                          const struct sg_pkt *pkt);

/*
 * Turn a neighbour solicitation for one of ifc's IPv6 addresses, classified
 * as SG_NET_NDISC with ndisc_type 135, into a solicited neighbour
 * advertisement in place (RFC 4861 §7.2.4). cap is the buffer size: the
 * advertisement carries a target link-layer address option and may be
 * longer than the solicitation. Returns its length, or 0 when it must not be
 * answered (no source link-layer address to reply to, too small a buffer).
 */
uint32_t sg_net_ndisc_reply(const struct sg_net_if *ifc, uint8_t *frame, uint32_t len, uint32_t cap,
                            const struct sg_pkt *pkt);

/*
 * The sender's link-layer address announced by a frame that sg_net_parse()
 * classified as kind SG_NET_ARP or SG_NET_NDISC (ARP sender addresses; the
 * source/target link-layer address option of RFC 4861 §4.6.1), to learn a
 * next hop. Returns true and fills ip (4 or 16 bytes) and mac when there is one.
 */
bool sg_net_neighbour(enum sg_net_kind kind, const uint8_t *frame, uint32_t len,
                      const struct sg_pkt *pkt, uint8_t ip[16], uint8_t mac[6]);

/*
 * Fill in the checksum field of the UDP datagram udp (udp_len bytes, header
 * included) sent from src to dst: RFC 768 over the pseudo-header, RFC 1071
 * arithmetic, a computed zero sent as all ones.
 */
void sg_net_udp_set_cksum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t *udp,
                          uint16_t udp_len);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_NET_H */
