/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulated link's delay line (fl_delay.h): a wheel of 1 ms slots, each a
 * FIFO of buffers released together. A buffer is never further ahead than
 * the wheel holds, so there is no overflow list. Thread: the owning lcore.
 */
#include <errno.h>
#include <stdlib.h>

#include "fl_delay.h"
#include "fl_rand.h"

int sg_fl_delay_init(struct sg_fl_delay *d, uint32_t max_ms, uint32_t loss_ppm, uint64_t seed,
                     uint32_t now)
{
	uint32_t slots = 1;

	if (max_ms > SG_FL_DELAY_MAX_MS || loss_ppm > 1000000)
		return -EINVAL;
	/* twice the longest delay: a caller that pops less often than every
	 * max_ms still finds every buffer in its own slot */
	while (slots <= 2 * (max_ms + 1))
		slots <<= 1;
	d->head = calloc(slots, sizeof(*d->head));
	d->tail = calloc(slots, sizeof(*d->tail));
	if (d->head == NULL || d->tail == NULL) {
		sg_fl_delay_fini(d);
		return -ENOMEM;
	}
	d->mask = slots - 1;
	d->cur = now;
	d->loss = (uint32_t)((uint64_t)loss_ppm * UINT32_MAX / 1000000);
	d->rng = seed | 1;
	d->held = d->passed = d->lost = 0;
	return 0;
}

void sg_fl_delay_fini(struct sg_fl_delay *d)
{
	free(d->head);
	free(d->tail);
	d->head = d->tail = NULL;
}

bool sg_fl_delay_push(struct sg_fl_delay *d, struct sg_fl_buf *b, uint32_t now, uint32_t delay_ms)
{
	uint32_t slot;

	d->passed++;
	if (d->loss != 0 && sg_fl_rand32(&d->rng) < d->loss) {
		d->lost++;
		return false;
	}
	if (delay_ms > d->mask / 2)
		delay_ms = d->mask / 2;
	b->due = now + delay_ms < d->cur ? d->cur : now + delay_ms;
	if (b->due - d->cur > d->mask) /* the caller stalled for more than the wheel: early */
		b->due = d->cur + d->mask;
	b->next = NULL;
	slot = b->due & d->mask;
	if (d->head[slot] == NULL)
		d->head[slot] = b;
	else
		d->tail[slot]->next = b;
	d->tail[slot] = b;
	d->held++;
	return true;
}

struct sg_fl_buf *sg_fl_delay_pop(struct sg_fl_delay *d, uint32_t now)
{
	while (d->held != 0 && d->cur <= now) {
		uint32_t slot = d->cur & d->mask;
		struct sg_fl_buf *b = d->head[slot];

		if (b != NULL) {
			d->head[slot] = b->next;
			d->held--;
			return b;
		}
		d->cur++;
	}
	if (d->held == 0 && d->cur < now)
		d->cur = now; /* nothing held: skip the empty slots at once */
	return NULL;
}
