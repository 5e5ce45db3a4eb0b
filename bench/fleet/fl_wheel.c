/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's timer wheel (fl_wheel.h): each slot and the overflow list are
 * circular doubly linked lists of 32-bit indexes, so a timer is set,
 * cancelled or expired in O(1); the overflow list is walked once per turn
 * of the wheel (every 16.4 s) to bring in what came within its span.
 * Thread: the lcore that owns the devices.
 */
#include <errno.h>
#include <stdlib.h>

#include "fl_wheel.h"

#define SLOT_MASK (SG_FL_WHEEL_SLOTS - 1)

static struct sg_fl_tlink *link_of(const struct sg_fl_wheel *w, uint32_t i)
{
	return (struct sg_fl_tlink *)(w->base + (size_t)i * w->stride + w->off);
}

static uint32_t *head_of(struct sg_fl_wheel *w, const struct sg_fl_tlink *l)
{
	return l->where == SG_FL_TW_FAR ? &w->far : &w->slot[l->due & SLOT_MASK];
}

/* Append i to the list at *head (first armed, first expired). */
static void list_add(struct sg_fl_wheel *w, uint32_t *head, uint32_t i)
{
	struct sg_fl_tlink *l = link_of(w, i);

	if (*head == SG_FL_NONE) {
		l->next = l->prev = i;
		*head = i;
		return;
	}
	struct sg_fl_tlink *h = link_of(w, *head);
	uint32_t tail = h->prev;

	link_of(w, tail)->next = i;
	l->prev = tail;
	l->next = *head;
	h->prev = i;
}

static void list_del(struct sg_fl_wheel *w, uint32_t *head, uint32_t i)
{
	struct sg_fl_tlink *l = link_of(w, i);

	if (l->next == i) {
		*head = SG_FL_NONE;
	} else {
		link_of(w, l->prev)->next = l->next;
		link_of(w, l->next)->prev = l->prev;
		if (*head == i)
			*head = l->next;
	}
	l->where = SG_FL_TW_OFF;
}

int sg_fl_wheel_init(struct sg_fl_wheel *w, void *base, size_t stride, size_t off, uint32_t now)
{
	w->slot = malloc(SG_FL_WHEEL_SLOTS * sizeof(*w->slot));
	if (w->slot == NULL)
		return -ENOMEM;
	for (unsigned s = 0; s < SG_FL_WHEEL_SLOTS; s++)
		w->slot[s] = SG_FL_NONE;
	w->far = SG_FL_NONE;
	w->cur = now;
	w->base = base;
	w->stride = stride;
	w->off = off;
	w->armed = 0;
	return 0;
}

void sg_fl_wheel_fini(struct sg_fl_wheel *w)
{
	free(w->slot);
	w->slot = NULL;
}

/* Put a disarmed i on the wheel or in overflow for tick due (at least cur). */
static void place(struct sg_fl_wheel *w, uint32_t i, uint32_t due)
{
	struct sg_fl_tlink *l = link_of(w, i);

	l->due = due < w->cur ? w->cur : due;
	l->where = l->due - w->cur < SG_FL_WHEEL_SLOTS ? SG_FL_TW_SLOT : SG_FL_TW_FAR;
	list_add(w, head_of(w, l), i);
}

void sg_fl_wheel_set(struct sg_fl_wheel *w, uint32_t i, uint32_t due)
{
	sg_fl_wheel_cancel(w, i);
	place(w, i, due);
	w->armed++;
}

void sg_fl_wheel_cancel(struct sg_fl_wheel *w, uint32_t i)
{
	struct sg_fl_tlink *l = link_of(w, i);

	if (l->where == SG_FL_TW_OFF)
		return;
	list_del(w, head_of(w, l), i);
	w->armed--;
}

/* A new turn of the wheel starts at cur: bring in the overflow timers now within its span. */
static void cascade(struct sg_fl_wheel *w)
{
	uint32_t i = w->far, n = 0, count = 0;

	if (i == SG_FL_NONE)
		return;
	/* count first: moving elements out while walking changes the list */
	do {
		count++;
		i = link_of(w, i)->next;
	} while (i != w->far);
	i = w->far;
	while (n++ < count) {
		struct sg_fl_tlink *l = link_of(w, i);
		uint32_t next = l->next;

		if (l->due - w->cur < SG_FL_WHEEL_SLOTS) {
			list_del(w, &w->far, i);
			place(w, i, l->due);
		}
		i = next;
	}
}

unsigned sg_fl_wheel_expire(struct sg_fl_wheel *w, uint32_t now, uint32_t *out, unsigned max)
{
	unsigned n = 0;

	while (w->cur <= now) {
		uint32_t *head = &w->slot[w->cur & SLOT_MASK];

		while (*head != SG_FL_NONE) {
			if (n == max)
				return n;
			out[n] = *head;
			list_del(w, head, *head);
			w->armed--;
			n++;
		}
		w->cur++;
		if ((w->cur & SLOT_MASK) == 0)
			cascade(w);
	}
	return n;
}
