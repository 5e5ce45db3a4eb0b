/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's device timers: one timer per device (its next event: arrival,
 * handshake retransmission or give-up, CoAP retransmission, next request),
 * on a wheel of 1 ms ticks with an overflow list for what is further away
 * than the wheel's span. The links are 32-bit indexes inside the caller's
 * device array (struct sg_fl_tlink at a fixed offset of each element), so a
 * million timers cost no memory beyond the devices and the slot heads.
 *
 *   sg_fl_wheel_set()     (re)arm device i for tick due
 *   sg_fl_wheel_cancel()  disarm it
 *   sg_fl_wheel_expire()  the devices due up to now, in tick order
 *
 * Ticks are 32-bit milliseconds from the fleet's start (49 days; the fleet
 * runs 86,400 s at most). No allocation after init, no system call. Thread:
 * the lcore that owns the devices.
 */
#ifndef STORMGATE_FL_WHEEL_H
#define STORMGATE_FL_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#define SG_FL_NONE        UINT32_MAX
#define SG_FL_WHEEL_SLOTS 16384 /* ticks on the wheel: 16.4 s; further ones wait in overflow */

/* Where a timer is. */
enum sg_fl_tw_where {
	SG_FL_TW_OFF = 0, /* not armed */
	SG_FL_TW_SLOT,    /* on the wheel, in slot due % SLOTS */
	SG_FL_TW_FAR,     /* in the overflow list */
};

/* One device's timer links (in the device). */
struct sg_fl_tlink {
	uint32_t next;
	uint32_t prev;
	uint32_t due;
	uint8_t where; /* enum sg_fl_tw_where */
};

struct sg_fl_wheel {
	uint32_t *slot; /* SG_FL_WHEEL_SLOTS list heads */
	uint32_t far;   /* overflow list head */
	uint32_t cur;   /* next tick to expire */
	char *base;     /* element 0 of the device array */
	size_t stride;  /* bytes per element */
	size_t off;     /* offset of struct sg_fl_tlink in an element */
	uint32_t armed; /* timers set */
};

/*
 * Set up w over n elements of stride bytes from base, links at off, ticks
 * starting at now. Every element's link must be zero (SG_FL_TW_OFF). Returns
 * 0 or -ENOMEM. Owner thread.
 */
int sg_fl_wheel_init(struct sg_fl_wheel *w, void *base, size_t stride, size_t off, uint32_t now);

/* Free the slot heads. */
void sg_fl_wheel_fini(struct sg_fl_wheel *w);

/* Arm element i for tick due (a past tick expires at the next sg_fl_wheel_expire()). */
void sg_fl_wheel_set(struct sg_fl_wheel *w, uint32_t i, uint32_t due);

/* Disarm element i (nothing when it is not armed). */
void sg_fl_wheel_cancel(struct sg_fl_wheel *w, uint32_t i);

/*
 * Write up to max elements due at or before now into out, disarmed, in
 * order of their ticks (first armed first within a tick), and return how
 * many. Call again while it returns max. Owner thread.
 */
unsigned sg_fl_wheel_expire(struct sg_fl_wheel *w, uint32_t now, uint32_t *out, unsigned max);

#endif /* STORMGATE_FL_WHEEL_H */
