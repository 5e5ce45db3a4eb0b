/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 1071 checksums for the tests (tc_csum.h). */
#include <string.h>

#include <stormgate/bytes.h>

#include "tc_csum.h"

uint16_t tc_csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += sg_load_be16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t tc_csum_pseudo(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                        uint32_t len)
{
	uint8_t ph[40] = { 0 };

	if (family == 4) {
		/* source, destination, zero, protocol, UDP length */
		memcpy(ph, src, 4);
		memcpy(ph + 4, dst, 4);
		ph[9] = proto;
		sg_store_be16(ph + 10, (uint16_t)len);
		return tc_csum(ph, 12, 0);
	}
	/* source, destination, upper-layer packet length (32 bits), zero, next header */
	memcpy(ph, src, 16);
	memcpy(ph + 16, dst, 16);
	sg_store_be32(ph + 32, len);
	ph[39] = proto;
	return tc_csum(ph, 40, 0);
}

uint16_t tc_csum_l4(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                    const uint8_t *l4, size_t n)
{
	return (uint16_t)~tc_csum(l4, n, tc_csum_pseudo(family, src, dst, proto, (uint32_t)n));
}
