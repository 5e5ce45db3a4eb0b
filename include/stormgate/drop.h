/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Named reasons for every packet the data plane drops. Each received packet
 * ends in exactly one counter: forwarded, punted, answered, or one of these.
 * Workers count into per-lcore cache-aligned arrays; the control plane sums
 * them for stats, telemetry and metrics, using sg_drop_name() as the label.
 */
#ifndef STORMGATE_DROP_H
#define STORMGATE_DROP_H

#ifdef __cplusplus
extern "C" {
#endif

enum sg_drop {
	SG_DROP_RUNT = 0,      /* shorter than an Ethernet header */
	SG_DROP_L2_NOT_FOR_US, /* destination MAC neither ours nor broadcast */
	SG_DROP_ETHERTYPE,     /* neither IPv4, IPv6 nor ARP */
	SG_DROP_VLAN,	       /* VLAN tag not the port's, or stacked tags */
	SG_DROP_IP_HEADER,     /* bad version, header length or total length */
	SG_DROP_IP_CHECKSUM,   /* IPv4 header checksum */
	SG_DROP_IP_FRAGMENT,   /* IPv4 or IPv6 fragment: DTLS records never need them */
	SG_DROP_L3_NOT_FOR_US, /* destination address not ours */
	SG_DROP_IP_PROTO,      /* not UDP (nor neighbour discovery) */
	SG_DROP_IPV6_EXT,      /* malformed or too long extension header chain */
	SG_DROP_UDP_HEADER,    /* UDP length inconsistent with the IP length */
	SG_DROP_UDP_CHECKSUM,  /* wrong UDP checksum, or none over IPv6 */
	SG_DROP_ICMP,	       /* ICMPv6 other than neighbour discovery */
	SG_DROP_ARP,	       /* malformed ARP, or not about our addresses */
	SG_DROP_NDISC,	       /* malformed neighbour discovery, or not for us */
	SG_DROP_MAX
};

/* The stable label of a reason ("udp_checksum"), or "unknown". */
const char *sg_drop_name(enum sg_drop reason);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_DROP_H */
