/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Named reasons for every packet the data plane drops. Each received packet
 * ends in exactly one counter: forwarded, punted, consumed (a return
 * routability message the worker acted on), or one of these.
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
	SG_DROP_VLAN,          /* VLAN tag not the port's, or stacked tags */
	SG_DROP_IP_HEADER,     /* bad version, header length or total length */
	SG_DROP_IP_CHECKSUM,   /* IPv4 header checksum */
	SG_DROP_IP_FRAGMENT,   /* IPv4 or IPv6 fragment: DTLS records never need them */
	SG_DROP_L3_NOT_FOR_US, /* destination address not ours */
	SG_DROP_BAD_SOURCE,    /* source no device has (127/8, multicast, ::ffff:0:0/96..) */
	SG_DROP_IP_PROTO,      /* not UDP (nor neighbour discovery) */
	SG_DROP_IPV6_EXT,      /* malformed or too long extension header chain */
	SG_DROP_UDP_HEADER,    /* UDP length inconsistent with the IP length */
	SG_DROP_UDP_CHECKSUM,  /* wrong UDP checksum, or none over IPv6 */
	SG_DROP_ICMP,          /* ICMPv6 other than neighbour discovery */
	SG_DROP_ARP,           /* malformed ARP, or not about our addresses */
	SG_DROP_NDISC,         /* malformed neighbour discovery, or not for us */
	/* DTLS framing and sessions */
	SG_DROP_UDP_PORT,         /* UDP to a port we do not serve */
	SG_DROP_DTLS_MALFORMED,   /* record header cut short or length past the datagram */
	SG_DROP_DTLS_VERSION,     /* not DTLS 1.2 on an established session */
	SG_DROP_DTLS_EPOCH,       /* not the session's epoch */
	SG_DROP_DTLS_TYPE,        /* content type not valid on the fast path */
	SG_DROP_DTLS_OVERSIZED,   /* record over the RFC 6347 limits */
	SG_DROP_TOO_MANY_RECORDS, /* more application records in one datagram than policy allows */
	SG_DROP_CID_FORGED,       /* CID that we cannot have issued (range or keyed check) */
	SG_DROP_CID_OTHER_NODE,   /* CID issued by another cluster node */
	/* record protection (RFC 6347 §4.1.2.6, RFC 9147 §4.5.3) */
	SG_DROP_REPLAYED,        /* sequence number already received */
	SG_DROP_TOO_OLD,         /* left of the replay window */
	SG_DROP_AUTH_FAILED,     /* tag mismatch: forged or corrupted */
	SG_DROP_KEY_EXHAUSTED,   /* the key reached its forgery limit: session must re-key */
	SG_DROP_INNER_PLAINTEXT, /* RFC 9146 inner plaintext without a valid content type */
	SG_DROP_BAD_SA,          /* session without usable keys */
	SG_DROP_RENEGOTIATION,   /* handshake message sealed in a CID record: refused */
	/* queues and resources */
	SG_DROP_PUNT_RING_FULL,    /* control plane behind: punt ring full */
	SG_DROP_HANDOFF_RING_FULL, /* owner worker behind: hand-off ring full */
	SG_DROP_HS_QUEUE_FULL,     /* its handshake engine behind: its handshake queue full */
	SG_DROP_TX_FULL,           /* the port's TX queue refused the packet */
	SG_DROP_NO_NEIGHBOUR,      /* next hop not resolved (yet) */
	SG_DROP_NO_MBUF,           /* mbuf pool empty */
	SG_DROP_MULTI_SEG,         /* chained mbuf: the fast path wants contiguous frames */
	/* backend side */
	SG_DROP_BACKEND_UNKNOWN, /* datagram from the backend for no live session */
	SG_DROP_PROXY_HEADER,    /* missing or malformed PROXY v2 header from the backend */
	SG_DROP_BACKEND_FORGED,  /* "reply" off the backend port, or without its proxy token */
	SG_DROP_SEQ_EXHAUSTED,   /* seal refused: 2^48 records sent, session must re-key */
	SG_DROP_TOO_BIG,         /* reply too large for one record in one frame */
	SG_DROP_RECORD_LIMIT,    /* reply larger than the device takes in one record: it
	                            negotiated record_size_limit / max_fragment_length
	                            (RFC 8449, RFC 6066 §4) and CoAP maps one message to one
	                            record, so it is never split nor sent oversized */
	/* return routability (RFC 9853) */
	SG_DROP_RRC_REFUSED, /* authenticated RRC message refused: a path_response that
	                        answers no pending check of ours (cookie, address, late),
	                        a path_drop, an unknown or malformed message */
	SG_DROP_MAX
};

/* The stable label of a reason ("udp_checksum"), or "unknown". */
const char *sg_drop_name(enum sg_drop reason);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_DROP_H */
