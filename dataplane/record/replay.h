/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Anti-replay window of one SA (RFC 6347 §4.1.2.6), private to sg_record.
 *
 * The bitmap has exactly `window` bits (a power of two) and sequence number s
 * owns bit s mod window, as in RFC 6479: checking and marking never shift the
 * bitmap. RFC 6479 clears whole blocks when the window advances and so needs
 * a redundant block to keep `window` numbers; here advancing from top to s
 * clears only the bits of the numbers top..s (a bit range, word-wise), so the
 * bits of the window - 1 numbers below s survive and the window is exact with
 * no redundant block. rx_top is the highest authenticated number + 1.
 *
 * Words 0 and 1 of the bitmap sit in the SA's first line; words 2.. of a
 * window larger than 128 bits follow the struct (record_types.h).
 */
#ifndef SG_RECORD_REPLAY_H
#define SG_RECORD_REPLAY_H

#include <stdint.h>

#include <stormgate/record.h>

static inline uint64_t *replay_word(struct sg_rec_sa *sa, uint64_t w)
{
	return w < 2 ? &sa->replay[w] : (uint64_t *)(sa + 1) + (w - 2);
}

static inline uint64_t replay_word_get(const struct sg_rec_sa *sa, uint64_t w)
{
	return w < 2 ? sa->replay[w] : ((const uint64_t *)(sa + 1))[w - 2];
}

static inline enum sg_rec_status replay_check(const struct sg_rec_sa *sa, unsigned window,
                                              uint64_t seq)
{
	uint64_t top = sa->rx_top;
	uint64_t bit;

	if (seq >= top)
		return SG_REC_OK;
	if (top - 1 - seq >= window)
		return SG_REC_TOO_OLD;
	bit = seq & (window - 1);
	if (replay_word_get(sa, bit >> 6) & (UINT64_C(1) << (bit & 63)))
		return SG_REC_REPLAYED;
	return SG_REC_OK;
}

/* Clear count (< window) bits starting at bit pos, wrapping around the ring. */
static inline void replay_clear_bits(struct sg_rec_sa *sa, unsigned window, uint64_t pos,
                                     uint64_t count)
{
	while (count) {
		unsigned b = (unsigned)(pos & 63);
		uint64_t n = 64 - b < count ? 64 - b : count;
		uint64_t mask = n == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << n) - 1) << b;

		*replay_word(sa, pos >> 6) &= ~mask;
		pos = (pos + n) & (window - 1);
		count -= n;
	}
}

/* Mark seq seen; replay_check() must have returned SG_REC_OK for it. */
static inline void replay_update(struct sg_rec_sa *sa, unsigned window, uint64_t seq)
{
	uint64_t top = sa->rx_top;
	uint64_t bit = seq & (window - 1);

	if (seq == top) {
		/* The next in order (the common case): its bit is the only one to renew. */
		*replay_word(sa, bit >> 6) |= UINT64_C(1) << (bit & 63);
		sa->rx_top = seq + 1;
		return;
	}
	if (seq > top) {
		/* Numbers top..seq enter the window: forget what their bits held. */
		uint64_t count = seq - top + 1;

		if (count >= window) {
			for (unsigned w = 0; w < window / 64; w++)
				*replay_word(sa, w) = 0;
		} else {
			replay_clear_bits(sa, window, top & (window - 1), count);
		}
		sa->rx_top = seq + 1;
	}
	*replay_word(sa, bit >> 6) |= UINT64_C(1) << (bit & 63);
}

#endif /* SG_RECORD_REPLAY_H */
