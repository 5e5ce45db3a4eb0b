/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RX queue a port's RSS gives a device's datagrams, computed in
 * software (Toeplitz, rte_softrss(), over the fields the port hashes, then
 * its redirection table), so a restored session's owner is the worker that
 * polls that queue from its first record (docs/restart.md, "Restore
 * follow-ups"). Gateway thread, at start (sg_gw_rss_load() reads the port);
 * sg_gw_rss_queue() is a pure function of what was loaded.
 */
#ifndef STORMGATE_CONTROL_SG_RSS_H
#define STORMGATE_CONTROL_SG_RSS_H

#include <stdbool.h>
#include <stdint.h>

#include <stormgate/session_types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_GW_RSS_KEY_MAX  64  /* bytes; 40 (most NICs) and 52 (i40e) fit */
#define SG_GW_RSS_RETA_MAX 512 /* entries; a larger table: not computed */

struct sg_gw_rss {
	uint64_t hf; /* RTE_ETH_RSS_* the port hashes on */
	uint8_t key[SG_GW_RSS_KEY_MAX];
	uint16_t reta_size;
	uint16_t reta[SG_GW_RSS_RETA_MAX]; /* hash % reta_size -> RX queue */
};

/*
 * Read port_id's RSS key, hash types and redirection table into r. 0, or
 * -ENOTSUP (no RSS, or a key or table this cannot hold or the driver does
 * not report: the caller keeps its own choice), -errno of the query.
 */
int sg_gw_rss_load(uint16_t port_id, struct sg_gw_rss *r);

/*
 * The Toeplitz hash r's port computes for a datagram from the device of tu
 * to the gateway (source: paddr:pport, destination: laddr:lport): over the
 * addresses and, when the port hashes UDP of that family, the ports. 0 when
 * the port hashes neither for that family.
 */
uint32_t sg_gw_rss_hash(const struct sg_gw_rss *r, const struct sg_sess_tuple *tu);

/*
 * The RX queue r's port gives a datagram from the device of tu to the
 * gateway (source: paddr:pport, destination: laddr:lport): Toeplitz over
 * the addresses and, when the port hashes UDP of that family, the ports;
 * then the redirection table. Queue 0 when the port hashes neither.
 */
uint16_t sg_gw_rss_queue(const struct sg_gw_rss *r, const struct sg_sess_tuple *tu);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_RSS_H */
