/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network byte order (big-endian, RFC 1700 "Data Notations") loads and stores
 * of 16, 24, 32, 48 and 64 bits at any alignment: the one place Stormgate
 * spells them, for every wire field it reads or writes (Ethernet, IP, UDP,
 * PROXY v2, DTLS record and handshake headers; 24 bits: handshake lengths
 * and offsets, RFC 6347 §4.2.2; 48 bits: DTLS sequence numbers, §4.1).
 *
 * Inline, byte by byte: compilers turn each into one load or store and a
 * byte swap, so the data plane's hot path pays no call and no alignment
 * fault. Any thread; no state.
 */
#ifndef STORMGATE_BYTES_H
#define STORMGATE_BYTES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline uint16_t sg_load_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t sg_load_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t sg_load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t sg_load_be48(const uint8_t *p)
{
	return (uint64_t)p[0] << 40 | (uint64_t)p[1] << 32 | (uint64_t)p[2] << 24 |
	       (uint64_t)p[3] << 16 | (uint64_t)p[4] << 8 | p[5];
}

static inline uint64_t sg_load_be64(const uint8_t *p)
{
	return (uint64_t)sg_load_be32(p) << 32 | sg_load_be32(p + 4);
}

static inline void sg_store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The low 24 bits of v. */
static inline void sg_store_be24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static inline void sg_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The low 48 bits of v. */
static inline void sg_store_be48(uint8_t *p, uint64_t v)
{
	sg_store_be16(p, (uint16_t)(v >> 32));
	sg_store_be32(p + 2, (uint32_t)v);
}

static inline void sg_store_be64(uint8_t *p, uint64_t v)
{
	sg_store_be32(p, (uint32_t)(v >> 32));
	sg_store_be32(p + 4, (uint32_t)v);
}

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_BYTES_H */
