/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Nonce reuse check of one direction of one session key: the highest
 * sequence number seen and a 64-bit bitmap below it. For the AEAD suites
 * the per-record nonce is the key's salt with epoch ‖ sequence (RFC 5288 §3,
 * RFC 6655 §3, RFC 7905 §2), and all records of a key share its epoch, so a
 * repeated sequence under the same key is a repeated nonce. A sequence at or
 * below one seen beyond the bitmap cannot be told fresh and counts as a
 * reuse too (docs/fleet.md, "Checks"). Any thread, on its own state.
 */
#ifndef STORMGATE_FL_NONCE_H
#define STORMGATE_FL_NONCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sg_fl_nonce {
	uint64_t top; /* highest sequence seen + 1; 0: none yet */
	uint64_t map; /* bit k: top - 1 - k seen */
};

/* Whether seq was not seen under this key (read only). */
static inline bool sg_fl_nonce_fresh(const struct sg_fl_nonce *n, uint64_t seq)
{
	if (seq >= n->top)
		return true;
	if (n->top - 1 - seq >= 64)
		return false;
	return !(n->map >> (n->top - 1 - seq) & 1);
}

/* Mark seq seen (after sg_fl_nonce_fresh() said it was fresh). */
static inline void sg_fl_nonce_mark(struct sg_fl_nonce *n, uint64_t seq)
{
	if (seq >= n->top) {
		uint64_t shift = seq + 1 - n->top;

		n->map = n->top == 0 ? 1 : (shift >= 64 ? 0 : n->map << shift) | 1;
		n->top = seq + 1;
		return;
	}
	n->map |= UINT64_C(1) << (n->top - 1 - seq);
}

/* Check and mark: true when fresh. */
static inline bool sg_fl_nonce_use(struct sg_fl_nonce *n, uint64_t seq)
{
	if (!sg_fl_nonce_fresh(n, seq))
		return false;
	sg_fl_nonce_mark(n, seq);
	return true;
}

/*
 * A 32-bit fingerprint (FNV-1a) of a record's bytes: tells a byte-identical
 * copy of a record (the same encryption sent again: no second use of its
 * nonce) from another record under the same sequence (a second use).
 */
static inline uint32_t sg_fl_fingerprint(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t k = 0; k < n; k++)
		h = (h ^ p[k]) * 16777619u;
	return h;
}

#endif /* STORMGATE_FL_NONCE_H */
