/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ethernet / IPv4 / IPv6 / UDP frames for the in-process data-plane tests:
 * build a datagram to the gateway, read one the gateway sent. Checksums come
 * from tests/common (tc_csum.h: RFC 768, RFC 1071), independent of the
 * gateway's own code, so a wrong one on either side shows. Any thread; no state.
 */
#ifndef SG_TESTS_DP_FRAMES_H
#define SG_TESTS_DP_FRAMES_H

#include <stddef.h>
#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;
struct sg_rec_ctx;
struct sg_rec_sa;

/*
 * A UDP datagram from src:sport to dst:dport (4 or 16-byte addresses by
 * family, ports in host order) in an untagged Ethernet frame, in a new mbuf
 * from pool. Returns NULL when the pool is empty or the payload does not fit.
 */
struct rte_mbuf *dp_frame_udp(struct rte_mempool *pool, const uint8_t smac[6],
                              const uint8_t dmac[6], uint8_t family, const uint8_t *src,
                              uint16_t sport, const uint8_t *dst, uint16_t dport,
                              const uint8_t *payload, uint16_t len);

/* What dp_frame_read() found; payload points into the mbuf. */
struct dp_frame {
	uint8_t dmac[6];
	uint8_t family;
	uint8_t src[16], dst[16];
	uint16_t sport, dport; /* host order */
	const uint8_t *payload;
	uint16_t len;
};

/*
 * Read a frame the gateway sent: IPv4 or IPv6, UDP, lengths consistent with
 * the mbuf, IPv4 header and UDP checksums right. Returns 0 or -EINVAL.
 */
int dp_frame_read(const struct rte_mbuf *m, struct dp_frame *f);

#define DP_FRAME_RECORDS_MAX 16

/*
 * What a device puts in one datagram: the strings pt[0..n) (n <=
 * DP_FRAME_RECORDS_MAX, each under 512 bytes) as records of content type
 * type, sealed by ctx under the device's sa (tls12_cid records carrying cid
 * when cid_len > 0), back to back at dgram (cap bytes). Returns the
 * datagram's length; a record that does not seal or fit fails the test.
 */
uint16_t dp_frame_records(struct sg_rec_ctx *ctx, struct sg_rec_sa *sa, const uint8_t *cid,
                          uint8_t cid_len, const char *const *pt, unsigned n, uint8_t type,
                          uint8_t *dgram, size_t cap);

#endif /* SG_TESTS_DP_FRAMES_H */
