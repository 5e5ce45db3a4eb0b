/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's link layer on pointer + length frames: Ethernet + IPv4/IPv6 +
 * UDP built in front of a payload and parsed with every length and checksum
 * checked (RFC 791, RFC 8200, RFC 768, RFC 1071), ARP requests and replies
 * (RFC 826), neighbour solicitations and advertisements (RFC 4861 §4.3,
 * §4.4). No state, no allocation; any thread.
 */
#ifndef STORMGATE_FL_FRAME_H
#define STORMGATE_FL_FRAME_H

#include <stdint.h>

#define SG_FL_ETH_LEN   14
#define SG_FL_HDR_ROOM  (SG_FL_ETH_LEN + 40 + 8) /* Ethernet + IPv6 + UDP: payloads start here */
#define SG_FL_ARP_LEN   (SG_FL_ETH_LEN + 28)
#define SG_FL_NDISC_LEN (SG_FL_ETH_LEN + 40 + 32) /* NS/NA with one link-layer address option */

/* What a received frame is. */
enum sg_fl_kind {
	SG_FL_K_UDP = 0,
	SG_FL_K_ARP,
	SG_FL_K_NDISC,
	SG_FL_K_BAD,   /* malformed: a length, checksum or header that does not hold */
	SG_FL_K_OTHER, /* well-formed but nothing for us (another protocol, ICMP, fragments) */
};

struct sg_fl_rx {
	uint8_t family; /* 4 or 6 */
	const uint8_t *src_mac;
	const uint8_t *src; /* IP addresses (4 or 16 bytes), in the frame */
	const uint8_t *dst;
	uint16_t sport, dport;
	uint16_t l4_off, l4_len; /* UDP payload */
	/* ARP: op, sender MAC and IP, target IP; NDISC: type (135, 136), the
	 * target address and the link-layer address option (NULL if none) */
	uint16_t op;
	const uint8_t *sha, *spa, *tpa;
};

/* Classify frame (len bytes). */
enum sg_fl_kind sg_fl_parse(const uint8_t *frame, uint32_t len, struct sg_fl_rx *rx);

/*
 * Write Ethernet, IP and UDP headers in front of the plen payload bytes at
 * data + SG_FL_HDR_ROOM (IPv4 starts 20 bytes later). *off is set to the
 * frame's first byte; returns the frame's length.
 */
uint16_t sg_fl_udp_build(uint8_t *data, uint16_t plen, const uint8_t dmac[6], const uint8_t smac[6],
                         uint8_t family, const uint8_t *src, uint16_t sport, const uint8_t *dst,
                         uint16_t dport, uint16_t *off);

/* An ARP request (op 1, broadcast) or reply (op 2, to tha) at frame: SG_FL_ARP_LEN bytes. */
uint16_t sg_fl_arp_build(uint8_t *frame, uint16_t op, const uint8_t sha[6], const uint8_t spa[4],
                         const uint8_t tha[6], const uint8_t tpa[4]);

/*
 * A neighbour solicitation (type 135, to target's solicited-node multicast
 * address, with our link-layer address) or a solicited advertisement (136,
 * to dst_ip/dmac, router flag clear, solicited and override set) for target,
 * from src_ip/smac: SG_FL_NDISC_LEN bytes.
 */
uint16_t sg_fl_ndisc_build(uint8_t *frame, uint8_t type, const uint8_t smac[6],
                           const uint8_t src_ip[16], const uint8_t dmac[6],
                           const uint8_t dst_ip[16], const uint8_t target[16]);

#endif /* STORMGATE_FL_FRAME_H */
