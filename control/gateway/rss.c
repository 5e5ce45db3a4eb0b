/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RX queue RSS gives a device's datagrams (sg_rss.h). Gateway thread,
 * at start; reads the port's RSS configuration through ethdev.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_thash.h>

#include "sg_rss.h"

/* The IPv4-mapped prefix (::ffff:0:0/96) of an IPv4 tuple (session_types.h). */
static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int sg_gw_rss_load(uint16_t port_id, struct sg_gw_rss *r)
{
	struct rte_eth_rss_reta_entry64 reta[SG_GW_RSS_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
	struct rte_eth_rss_conf conf;
	struct rte_eth_dev_info info;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc != 0)
		return rc;
	if (info.hash_key_size < 40 || info.hash_key_size > SG_GW_RSS_KEY_MAX ||
	    info.reta_size == 0 || info.reta_size > SG_GW_RSS_RETA_MAX ||
	    info.reta_size % RTE_ETH_RETA_GROUP_SIZE != 0)
		return -ENOTSUP;
	memset(&conf, 0, sizeof(conf));
	conf.rss_key = r->key;
	conf.rss_key_len = info.hash_key_size;
	rc = rte_eth_dev_rss_hash_conf_get(port_id, &conf);
	if (rc != 0)
		return rc;
	if (conf.rss_hf == 0)
		return -ENOTSUP;
	memset(reta, 0, sizeof(reta));
	for (unsigned g = 0; g < info.reta_size / RTE_ETH_RETA_GROUP_SIZE; g++)
		reta[g].mask = UINT64_MAX;
	rc = rte_eth_dev_rss_reta_query(port_id, reta, info.reta_size);
	if (rc != 0)
		return rc;
	for (unsigned i = 0; i < info.reta_size; i++)
		r->reta[i] = reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
	r->reta_size = info.reta_size;
	r->hf = conf.rss_hf;
	return 0;
}

/* Words of a 16-byte address (or its last 4 for IPv4) as Toeplitz reads them: big endian. */
static unsigned addr_words(const uint8_t *a, bool v4, uint32_t *w)
{
	unsigned n = v4 ? 1 : 4;
	const uint8_t *p = v4 ? a + 12 : a;

	for (unsigned i = 0; i < n; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	return n;
}

uint32_t sg_gw_rss_hash(const struct sg_gw_rss *r, const struct sg_sess_tuple *tu)
{
	bool v4 = memcmp(tu->paddr, v4_mapped, sizeof(v4_mapped)) == 0;
	uint64_t l3 = v4 ? RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_OTHER
	                 : RTE_ETH_RSS_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_OTHER;
	uint64_t l4 = v4 ? RTE_ETH_RSS_NONFRAG_IPV4_UDP : RTE_ETH_RSS_NONFRAG_IPV6_UDP;
	uint32_t in[9];
	unsigned n;

	if (!(r->hf & (l3 | l4)))
		return 0;
	/* RSS input order: source address, destination address, source port, destination port */
	n = addr_words(tu->paddr, v4, in);
	n += addr_words(tu->laddr, v4, in + n);
	if (r->hf & l4)
		in[n++] = (uint32_t)rte_be_to_cpu_16(tu->pport) << 16 | rte_be_to_cpu_16(tu->lport);
	return rte_softrss(in, n, r->key);
}

uint16_t sg_gw_rss_queue(const struct sg_gw_rss *r, const struct sg_sess_tuple *tu)
{
	return r->reta_size ? r->reta[sg_gw_rss_hash(r, tu) % r->reta_size] : 0;
}
