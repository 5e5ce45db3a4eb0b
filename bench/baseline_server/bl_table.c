/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A worker's clients: found by their address and port in an open-addressing
 * table (linear probing, backward-shift deletion, a per-worker random hash
 * seed: the addresses are the network's choice), and ordered by their next
 * timer in a binary min-heap (retransmission, handshake and idle timeouts of
 * a million clients without scanning them). The worker thread that owns
 * them runs all of it. See baseline.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "baseline.h"

#define SLOTS_MIN 1024

void bl_addr_from_sa(struct bl_addr *a, const struct sockaddr_storage *ss)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)ss->ss_family;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;

		memcpy(a->addr, &v6->sin6_addr, 16);
		a->port = v6->sin6_port;
	} else {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;

		memcpy(a->addr, &v4->sin_addr, 4);
		a->port = v4->sin_port;
	}
}

socklen_t bl_addr_to_sa(const struct bl_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

		v6->sin6_family = AF_INET6;
		memcpy(&v6->sin6_addr, a->addr, 16);
		v6->sin6_port = a->port;
		return sizeof(*v6);
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;

	v4->sin_family = AF_INET;
	memcpy(&v4->sin_addr, a->addr, 4);
	v4->sin_port = a->port;
	return sizeof(*v4);
}

static uint64_t fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

static size_t addr_slot(const struct bl_table *t, const struct bl_addr *a)
{
	uint64_t w0, w1;

	memcpy(&w0, a->addr, 8);
	memcpy(&w1, a->addr + 8, 8);
	return (size_t)(fmix64(fmix64(fmix64(t->seed ^ w0) ^ w1) ^
	                       ((uint64_t)a->port << 8 | a->family)) &
	                (t->n_slots - 1));
}

static bool addr_eq(const struct bl_addr *x, const struct bl_addr *y)
{
	return x->family == y->family && x->port == y->port && memcmp(x->addr, y->addr, 16) == 0;
}

int bl_table_init(struct bl_table *t)
{
	memset(t, 0, sizeof(*t));
	if (RAND_bytes((unsigned char *)&t->seed, sizeof(t->seed)) != 1)
		return -EIO;
	t->slots = calloc(SLOTS_MIN, sizeof(*t->slots));
	if (t->slots == NULL)
		return -ENOMEM;
	t->n_slots = SLOTS_MIN;
	return 0;
}

void bl_table_free(struct bl_table *t)
{
	free(t->slots);
	free(t->heap);
	memset(t, 0, sizeof(*t));
}

struct bl_client *bl_table_find(const struct bl_table *t, const struct bl_addr *a)
{
	size_t j;

	for (j = addr_slot(t, a); t->slots[j] != NULL; j = (j + 1) & (t->n_slots - 1))
		if (addr_eq(&t->slots[j]->addr, a))
			return t->slots[j];
	return NULL;
}

static void put(struct bl_table *t, struct bl_client *c)
{
	size_t j;

	for (j = addr_slot(t, &c->addr); t->slots[j] != NULL; j = (j + 1) & (t->n_slots - 1))
		;
	t->slots[j] = c;
}

/* Doubles the slots once half are taken; 0 or -ENOMEM. */
static int grow(struct bl_table *t)
{
	struct bl_client **old = t->slots;
	size_t n = t->n_slots, i;

	if ((t->n + 1) * 2 <= t->n_slots)
		return 0;
	t->slots = calloc(n * 2, sizeof(*t->slots));
	if (t->slots == NULL) {
		t->slots = old;
		return -ENOMEM;
	}
	t->n_slots = n * 2;
	for (i = 0; i < n; i++)
		if (old[i] != NULL)
			put(t, old[i]);
	free(old);
	return 0;
}

/* ---- the timer heap ---- */

static void heap_set(struct bl_table *t, size_t i, struct bl_client *c)
{
	t->heap[i] = c;
	c->heap_idx = (uint32_t)i;
}

static void sift_up(struct bl_table *t, size_t i)
{
	struct bl_client *c = t->heap[i];

	while (i > 0 && t->heap[(i - 1) / 2]->deadline > c->deadline) {
		heap_set(t, i, t->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(t, i, c);
}

static void sift_down(struct bl_table *t, size_t i)
{
	struct bl_client *c = t->heap[i];
	size_t k;

	for (;;) {
		k = 2 * i + 1;
		if (k >= t->heap_n)
			break;
		if (k + 1 < t->heap_n && t->heap[k + 1]->deadline < t->heap[k]->deadline)
			k++;
		if (t->heap[k]->deadline >= c->deadline)
			break;
		heap_set(t, i, t->heap[k]);
		i = k;
	}
	heap_set(t, i, c);
}

static int heap_push(struct bl_table *t, struct bl_client *c)
{
	if (t->heap_n == t->heap_cap) {
		size_t cap = t->heap_cap ? t->heap_cap * 2 : SLOTS_MIN;
		struct bl_client **h = realloc(t->heap, cap * sizeof(*h));

		if (h == NULL)
			return -ENOMEM;
		t->heap = h;
		t->heap_cap = cap;
	}
	heap_set(t, t->heap_n++, c);
	sift_up(t, t->heap_n - 1);
	return 0;
}

void bl_table_set_deadline(struct bl_table *t, struct bl_client *c, uint64_t deadline)
{
	uint64_t old = c->deadline;

	c->deadline = deadline;
	if (deadline < old)
		sift_up(t, c->heap_idx);
	else if (deadline > old)
		sift_down(t, c->heap_idx);
}

struct bl_client *bl_table_due(const struct bl_table *t, uint64_t now)
{
	return t->heap_n && t->heap[0]->deadline <= now ? t->heap[0] : NULL;
}

uint64_t bl_table_next(const struct bl_table *t)
{
	return t->heap_n ? t->heap[0]->deadline : UINT64_MAX;
}

int bl_table_add(struct bl_table *t, struct bl_client *c)
{
	int rc = grow(t);

	if (rc == 0)
		rc = heap_push(t, c);
	if (rc != 0)
		return rc;
	put(t, c);
	t->n++;
	return 0;
}

/* Out of the slots (backward shift: no tombstones) and out of the heap. */
void bl_table_del(struct bl_table *t, struct bl_client *c)
{
	size_t i, j, k, last;

	for (i = addr_slot(t, &c->addr); t->slots[i] != c; i = (i + 1) & (t->n_slots - 1))
		;
	t->slots[i] = NULL;
	for (j = (i + 1) & (t->n_slots - 1); t->slots[j] != NULL; j = (j + 1) & (t->n_slots - 1)) {
		k = addr_slot(t, &t->slots[j]->addr);
		/* the entry at j may move to the hole at i unless its home is in (i, j] */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
	t->n--;
	i = c->heap_idx;
	last = --t->heap_n;
	if (i != last) {
		struct bl_client *m = t->heap[last];

		heap_set(t, i, m);
		sift_up(t, i);
		sift_down(t, m->heap_idx);
	}
}
