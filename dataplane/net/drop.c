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
		[SG_DROP_IP_PROTO] = "ip_proto",
		[SG_DROP_IPV6_EXT] = "ipv6_ext",
		[SG_DROP_UDP_HEADER] = "udp_header",
		[SG_DROP_UDP_CHECKSUM] = "udp_checksum",
		[SG_DROP_ICMP] = "icmp",
		[SG_DROP_ARP] = "arp",
		[SG_DROP_NDISC] = "ndisc",
	};

	if ((unsigned)reason >= SG_DROP_MAX || names[reason] == NULL)
		return "unknown";
	return names[reason];
}
