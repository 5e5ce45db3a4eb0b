/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Batched HMAC and TLS 1.2 PRF (RFC 2104, RFC 5246 §5) on one IPsec-MB
 * manager (internal to sg_handshake): a leaf beside hs_crypto, used by the
 * key schedule (hs_keys.c) for one handshake and for a burst of them
 * (sg_hs_input_burst).
 *
 * A PRF is a chain of dependent HMACs: A(1) = HMAC(secret, seed), then for
 * each output block P(i) = HMAC(secret, A(i) ‖ seed) and A(i+1) =
 * HMAC(secret, A(i)), which depend on A(i) only. So a batch advances every
 * PRF it holds one step per round: round 0 submits each A(1), round i
 * submits each P(i) and A(i+1) side by side, then one flush ends the round.
 * The lanes of a round are independent HMACs, which the manager interleaves.
 *
 * The manager, measured (docs/handshake.md, "Batched key derivation";
 * bench hmac_mb/<mgr>/<jobs>): with SHA-NI the SSE manager runs two lanes
 * at once (about 122 ns for one HMAC alone, 82 ns each from two up) and
 * beats the AVX-512 manager's 16 lanes at every width (88 ns each when all
 * 16 are full, 557 ns for one); without SHA-NI the AVX-512 manager wins at
 * every width, then AVX2. The ranking does not change with the width, so a
 * batch takes the best manager of the CPU once, at creation.
 *
 * Owns its manager and the copies of seeds and A(i) values (wiped after
 * each run and on free); borrows the prepared keys and the outputs of what
 * is queued until sg_hs_batch_run() returns. One batch per engine; the
 * engine's thread only.
 */
#ifndef STORMGATE_CONTROL_HS_BATCH_H
#define STORMGATE_CONTROL_HS_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/handshake.h>

#include "hs_crypto.h"

/* What one batch holds: three PRFs (key block, both Finished) per handshake of a burst. */
#define SG_HS_BATCH_MAX (3 * SG_HS_BURST_MAX)

/* The IPsec-MB manager of a batch. */
enum sg_hs_batch_arch {
	SG_HS_BATCH_BEST = 0, /* the CPU's best, as measured (above) */
	SG_HS_BATCH_SSE = 1,
	SG_HS_BATCH_AVX2 = 2,
	SG_HS_BATCH_AVX512 = 3,
};

struct sg_hs_batch;

/* A batch on the given manager. NULL and errno: ENOMEM, ENOTSUP (the CPU lacks it). */
struct sg_hs_batch *sg_hs_batch_create(enum sg_hs_batch_arch arch);

/* Wipe (queued seeds, chain values, the manager's lanes) and free; NULL allowed. */
void sg_hs_batch_free(struct sg_hs_batch *b);

/* The manager it runs on ("sse", "avx2", "avx512"). */
const char *sg_hs_batch_arch_name(const struct sg_hs_batch *b);

/*
 * Queue HMAC(k, msg) into out (sg_hs_hash_len bytes). k, msg and out are
 * borrowed until sg_hs_batch_run(). 0, -EINVAL (empty message, which
 * IPsec-MB refuses; the PRF never makes one) or -ENOSPC (batch full).
 */
int sg_hs_batch_hmac(struct sg_hs_batch *b, const struct sg_hs_hmac_key *k, const uint8_t *msg,
                     size_t len, uint8_t *out);

/*
 * Queue PRF(secret, label, seed_a ‖ seed_b) into out (out_len bytes, at
 * most 128), as sg_hs_prf() with a prepared key k of the secret (borrowed,
 * as out, until the run). Label and seeds are copied (at most 128 bytes).
 * 0, -EINVAL or -ENOSPC.
 */
int sg_hs_batch_prf(struct sg_hs_batch *b, const struct sg_hs_hmac_key *k, const char *label,
                    const uint8_t *seed_a, size_t len_a, const uint8_t *seed_b, size_t len_b,
                    uint8_t *out, size_t out_len);

/*
 * As sg_hs_batch_prf(), and then(b, arg) is called inside sg_hs_batch_run()
 * as soon as out is complete: it may queue more (a PRF whose seed needs this
 * output), which joins the rounds still running rather than a run of its
 * own. A failure it meets is its own to keep (in arg).
 */
int sg_hs_batch_prf_then(struct sg_hs_batch *b, const struct sg_hs_hmac_key *k, const char *label,
                         const uint8_t *seed_a, size_t len_a, const uint8_t *seed_b, size_t len_b,
                         uint8_t *out, size_t out_len,
                         void (*then)(struct sg_hs_batch *b, void *arg), void *arg);

/* What is queued. */
unsigned sg_hs_batch_count(const struct sg_hs_batch *b);

/*
 * Compute everything queued, in lockstep rounds, and empty the batch (its
 * copies wiped). 0, or -EIO if the manager failed a job (the outputs are
 * then wiped: no partial secret is left to use).
 */
int sg_hs_batch_run(struct sg_hs_batch *b);

#endif /* STORMGATE_CONTROL_HS_BATCH_H */
