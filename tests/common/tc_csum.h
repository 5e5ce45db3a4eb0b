/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internet checksums for the tests that build or read frames (tests/net,
 * tests/dataplane, the record fuzzer's seeds), written from RFC 1071 and
 * independent of the gateway's own code (DPDK's raw checksum), so a wrong
 * one on either side shows. Any thread; no state.
 */
#ifndef SG_TESTS_TC_CSUM_H
#define SG_TESTS_TC_CSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * RFC 1071: the one's-complement sum of n bytes (big-endian words, an odd
 * last byte padded with zero) added to sum, folded to 16 bits. A message
 * whose checksum field is right sums to 0xffff; the field to write is the
 * complement of the sum taken with the field zero.
 */
uint16_t tc_csum(const uint8_t *p, size_t n, uint32_t sum);

/*
 * The sum of the pseudo-header of an L4 message of len bytes to protocol
 * proto, from src to dst (4- or 16-byte addresses by family 4 or 6):
 * RFC 768 for IPv4, RFC 8200 §8.1 for IPv6.
 */
uint16_t tc_csum_pseudo(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                        uint32_t len);

/*
 * The checksum field of the L4 message l4 of n bytes (its field zero, or
 * anything: a message whose field is right gives 0), pseudo-header included.
 * A UDP sender writes a computed 0 as 0xffff (RFC 768); that is the caller's.
 */
uint16_t tc_csum_l4(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                    const uint8_t *l4, size_t n);

#endif /* SG_TESTS_TC_CSUM_H */
