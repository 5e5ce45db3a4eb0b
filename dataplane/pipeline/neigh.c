/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Neighbour table and frame headers. The table maps next-hop addresses to
 * MAC addresses per port: the control thread writes it (learned from ARP and
 * neighbour discovery, or static from config), workers read it lock-free
 * under a per-entry sequence count.
 */
#include <errno.h>
#include <string.h>

#include <rte_ip.h>

#include <stormgate/bytes.h>

#include "dp_priv.h"

#define NEIGH_READ_RETRIES 8

static uint32_t neigh_hash(uint8_t family, const uint8_t *ip)
{
	uint64_t a = 0, b = 0;

	if (family == 4) {
		memcpy(&a, ip, 4);
	} else {
		memcpy(&a, ip, 8);
		memcpy(&b, ip + 8, 8);
	}
	/* MurmurHash3's 64-bit finaliser: every input bit reaches the low bits we index with. */
	a = a * 0x9e3779b97f4a7c15ull ^ b ^ family;
	a ^= a >> 33;
	a *= 0xff51afd7ed558ccdull;
	a ^= a >> 33;
	a *= 0xc4ceb9fe1a85ec53ull;
	a ^= a >> 33;
	return (uint32_t)a;
}

static size_t alen(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

int dp_neigh_lookup(const struct dp_neigh_table *t, uint8_t family, const uint8_t *ip,
                    uint8_t mac[6])
{
	uint32_t h = neigh_hash(family, ip);

	for (unsigned p = 0; p < DP_NEIGH_PROBE; p++) {
		const struct dp_neigh *e = &t->e[(h + p) & (DP_NEIGH_SIZE - 1)];

		for (unsigned r = 0; r < NEIGH_READ_RETRIES; r++) {
			uint32_t s0 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
			uint8_t fam, m[6];
			int match;

			if (s0 & 1)
				continue; /* being written */
			fam = __atomic_load_n(&e->family, __ATOMIC_RELAXED);
			match = fam == family && memcmp(e->ip, ip, alen(family)) == 0;
			memcpy(m, e->mac, 6);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != s0)
				continue; /* torn: read again */
			if (fam == 0)
				return -ENOENT; /* an empty entry ends the probe sequence */
			if (match) {
				memcpy(mac, m, 6);
				return 0;
			}
			break;
		}
	}
	return -ENOENT;
}

static void neigh_write(struct dp_neigh *e, uint8_t family, const uint8_t *ip, const uint8_t mac[6],
                        bool is_static, uint64_t now_ns)
{
	uint32_t s = e->seq;

	__atomic_store_n(&e->seq, s + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memset(e->ip, 0, sizeof(e->ip));
	memcpy(e->ip, ip, alen(family));
	memcpy(e->mac, mac, 6);
	e->is_static = is_static;
	e->updated_ns = now_ns;
	__atomic_store_n(&e->family, family, __ATOMIC_RELAXED);
	__atomic_store_n(&e->seq, s + 2, __ATOMIC_RELEASE);
}

int dp_neigh_update(struct dp_neigh_table *t, uint8_t family, const uint8_t *ip,
                    const uint8_t mac[6], bool is_static, uint64_t now_ns)
{
	uint32_t h = neigh_hash(family, ip);
	struct dp_neigh *free_e = NULL, *oldest = NULL;

	for (unsigned p = 0; p < DP_NEIGH_PROBE; p++) {
		struct dp_neigh *e = &t->e[(h + p) & (DP_NEIGH_SIZE - 1)];

		if (e->family == family && memcmp(e->ip, ip, alen(family)) == 0) {
			/* A learned address never overrides a configured one. */
			if (e->is_static && !is_static)
				return 0;
			neigh_write(e, family, ip, mac, is_static, now_ns);
			return 0;
		}
		if (e->family == 0) {
			free_e = e;
			break;
		}
		if (!e->is_static && (oldest == NULL || e->updated_ns < oldest->updated_ns))
			oldest = e;
	}
	if (free_e == NULL)
		free_e = oldest; /* full probe window: the least recently learned entry goes */
	if (free_e == NULL)
		return -ENOSPC;
	neigh_write(free_e, family, ip, mac, is_static, now_ns);
	return 0;
}

static bool all_zero(const uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i])
			return false;
	return true;
}

const uint8_t *dp_next_hop(const struct sg_dp_port_conf *p, uint8_t family, const uint8_t *dst)
{
	if (family == 4) {
		if (p->prefix4 == 0 || p->ifc.n_ip4 == 0 || all_zero(p->gw4, 4) ||
		    sg_net_in_prefix(dst, p->ifc.ip4[0], p->prefix4))
			return dst;
		return p->gw4;
	}
	if (p->prefix6 == 0 || p->ifc.n_ip6 == 0 || all_zero(p->gw6, 16) ||
	    sg_net_in_prefix(dst, p->ifc.ip6[0], p->prefix6))
		return dst;
	return p->gw6;
}

unsigned dp_hdr_len(const struct sg_dp_port_conf *p, uint8_t family)
{
	return 14 + (p->ifc.vlan ? 4 : 0) + (family == 4 ? 20 : 40) + 8;
}

void dp_build_udp(const struct sg_dp_port_conf *p, uint8_t *frame, const uint8_t dmac[6],
                  uint8_t family, const uint8_t *src, uint16_t sport, const uint8_t *dst,
                  uint16_t dport, uint16_t len)
{
	uint8_t *ip, *udp;
	uint16_t csum;

	memcpy(frame, dmac, 6);
	memcpy(frame + 6, p->ifc.mac, 6);
	ip = frame + 14;
	if (p->ifc.vlan) {
		sg_store_be16(frame + 12, 0x8100);
		sg_store_be16(frame + 14, p->ifc.vlan);
		ip += 4;
	}
	sg_store_be16(ip - 2, family == 4 ? 0x0800 : 0x86dd);
	if (family == 4) {
		ip[0] = 0x45;
		ip[1] = 0;
		sg_store_be16(ip + 2, (uint16_t)(20 + 8 + len));
		sg_store_be16(ip + 4, 0);
		sg_store_be16(ip + 6, 0x4000); /* don't fragment: records are sized for the path */
		ip[8] = 64;
		ip[9] = 17;
		sg_store_be16(ip + 10, 0);
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		csum = (uint16_t)~rte_raw_cksum(ip, 20);
		memcpy(ip + 10, &csum, 2);
		udp = ip + 20;
	} else {
		ip[0] = 0x60;
		ip[1] = ip[2] = ip[3] = 0;
		sg_store_be16(ip + 4, (uint16_t)(8 + len));
		ip[6] = 17;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		udp = ip + 40;
	}
	sg_store_be16(udp, sport);
	sg_store_be16(udp + 2, dport);
	sg_store_be16(udp + 4, (uint16_t)(8 + len));
	sg_net_udp_set_cksum(family, src, dst, udp, (uint16_t)(8 + len));
}
