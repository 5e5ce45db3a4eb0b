/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulated link of one direction: datagrams held until their release
 * tick (a device's fixed one-way delay after they were sent), on a wheel
 * of 1 ms slots of FIFO buffer lists, and dropped with the configured loss
 * as they enter. A device's datagrams keep their order (one delay per
 * device); all of them are released in tick order. The buffers (mbufs) stay
 * in the shell's pool while held: the pool is sized from rate x round trip
 * (docs/fleet.md, "Link emulation").
 *
 * Thread: the lcore that owns the fleet core. No allocation after init.
 */
#ifndef STORMGATE_FL_DELAY_H
#define STORMGATE_FL_DELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_buf.h"

#define SG_FL_DELAY_MAX_MS 16383 /* longest one-way delay: a 32.7 s round trip */

struct sg_fl_delay {
	struct sg_fl_buf **head; /* per slot */
	struct sg_fl_buf **tail;
	uint32_t mask;   /* slots - 1 */
	uint32_t cur;    /* next tick to release */
	uint32_t loss;   /* drop when a 32-bit draw is below this */
	uint64_t rng;    /* loss draws */
	uint64_t held;   /* buffers held now */
	uint64_t passed; /* buffers taken in */
	uint64_t lost;   /* buffers dropped by the emulated loss */
};

/*
 * Set up d for delays up to max_ms (<= SG_FL_DELAY_MAX_MS) from tick now,
 * dropping loss_ppm per million datagrams (0..1000000), draws seeded by
 * seed. Returns 0, -EINVAL or -ENOMEM.
 */
int sg_fl_delay_init(struct sg_fl_delay *d, uint32_t max_ms, uint32_t loss_ppm, uint64_t seed,
                     uint32_t now);

/* Free the slots (the buffers still held are the caller's: drain first). */
void sg_fl_delay_fini(struct sg_fl_delay *d);

/*
 * Take b for release at tick now + delay_ms (capped at the init max; pop at
 * least every max ms, or a buffer may leave early). Returns false when the
 * emulated loss drops it (counted in d->lost; the caller frees b), true
 * when held.
 */
bool sg_fl_delay_push(struct sg_fl_delay *d, struct sg_fl_buf *b, uint32_t now, uint32_t delay_ms);

/* The next buffer due at or before now, or NULL. */
struct sg_fl_buf *sg_fl_delay_pop(struct sg_fl_delay *d, uint32_t now);

#endif /* STORMGATE_FL_DELAY_H */
