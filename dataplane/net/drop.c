/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>

#include <stormgate/drop.h>

const char *sg_drop_name(enum sg_drop reason)
{
	static const char *const names[SG_DROP_MAX] = {
		[SG_DROP_RUNT] = "runt",
		[SG_DROP_L2_NOT_FOR_US] = "l2_not_for_us",
		[SG_DROP_ETHERTYPE] = "ethertype",
		[SG_DROP_VLAN] = "vlan",
		[SG_DROP_IP_HEADER] = "ip_header",
		[SG_DROP_IP_CHECKSUM] = "ip_checksum",
		[SG_DROP_IP_FRAGMENT] = "ip_fragment",
		[SG_DROP_L3_NOT_FOR_US] = "l3_not_for_us",
		[SG_DROP_BAD_SOURCE] = "bad_source",
		[SG_DROP_IP_PROTO] = "ip_proto",
		[SG_DROP_IPV6_EXT] = "ipv6_ext",
		[SG_DROP_UDP_HEADER] = "udp_header",
		[SG_DROP_UDP_CHECKSUM] = "udp_checksum",
		[SG_DROP_ICMP] = "icmp",
		[SG_DROP_ARP] = "arp",
		[SG_DROP_NDISC] = "ndisc",
		[SG_DROP_UDP_PORT] = "udp_port",
		[SG_DROP_DTLS_MALFORMED] = "dtls_malformed",
		[SG_DROP_DTLS_VERSION] = "dtls_version",
		[SG_DROP_DTLS_EPOCH] = "dtls_epoch",
		[SG_DROP_DTLS_TYPE] = "dtls_type",
		[SG_DROP_DTLS_OVERSIZED] = "dtls_oversized",
		[SG_DROP_TOO_MANY_RECORDS] = "too_many_records",
		[SG_DROP_CID_FORGED] = "cid_forged",
		[SG_DROP_CID_OTHER_NODE] = "cid_other_node",
		[SG_DROP_REPLAYED] = "replayed",
		[SG_DROP_TOO_OLD] = "too_old",
		[SG_DROP_AUTH_FAILED] = "auth_failed",
		[SG_DROP_KEY_EXHAUSTED] = "key_exhausted",
		[SG_DROP_INNER_PLAINTEXT] = "inner_plaintext",
		[SG_DROP_BAD_SA] = "bad_sa",
		[SG_DROP_RENEGOTIATION] = "renegotiation",
		[SG_DROP_PUNT_RING_FULL] = "punt_ring_full",
		[SG_DROP_HANDOFF_RING_FULL] = "handoff_ring_full",
		[SG_DROP_HS_QUEUE_FULL] = "hs_queue_full",
		[SG_DROP_TX_FULL] = "tx_full",
		[SG_DROP_NO_NEIGHBOUR] = "no_neighbour",
		[SG_DROP_NO_MBUF] = "no_mbuf",
		[SG_DROP_MULTI_SEG] = "multi_seg",
		[SG_DROP_BACKEND_UNKNOWN] = "backend_unknown",
		[SG_DROP_PROXY_HEADER] = "proxy_header",
		[SG_DROP_BACKEND_FORGED] = "backend_forged",
		[SG_DROP_SEQ_EXHAUSTED] = "seq_exhausted",
		[SG_DROP_TOO_BIG] = "too_big",
		[SG_DROP_RECORD_LIMIT] = "record_limit",
		[SG_DROP_RRC_REFUSED] = "rrc_refused",
	};

	if ((unsigned)reason >= SG_DROP_MAX || names[reason] == NULL)
		return "unknown";
	return names[reason];
}
