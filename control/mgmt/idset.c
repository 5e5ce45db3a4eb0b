/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A set of PSK identities (idset.h): an arena of length-prefixed identities
 * and an open-addressing table (linear probing, at most half full) of
 * offsets into it. The thread that holds the set.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash_crc.h>

#include "idset.h"
#include "sg_cred.h"

#define SLOTS_MIN 64
#define ARENA_MIN 4096
#define ARENA_MAX UINT32_MAX /* offsets are 32 bits */
#define HASH_SEED 0x53474944u

/* CRC32-C of the identity; rte_hash_crc() loads words, so from an aligned copy. */
static uint32_t hash(const uint8_t *identity, size_t len)
{
	uint64_t words[(SG_CRED_IDENTITY_MAX + 7) / 8];

	memcpy(words, identity, len);
	return rte_hash_crc(words, (uint32_t)len, HASH_SEED);
}

/* The slot that holds identity, or the free slot where it would go. */
static uint32_t *slot_of(const struct mgmt_idset *s, const uint8_t *identity, size_t len)
{
	uint32_t mask = s->n_slots - 1, i = hash(identity, len) & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t v = s->slots[i];
		const uint8_t *e;

		if (v == 0)
			return &s->slots[i];
		e = s->arena + (v - 1);
		if (e[0] == len && memcmp(e + 1, identity, len) == 0)
			return &s->slots[i];
	}
}

/* Twice the slots (SLOTS_MIN at first), every entry placed again. 0 or -ENOMEM. */
static int grow_slots(struct mgmt_idset *s)
{
	uint32_t n = s->n_slots ? s->n_slots * 2 : SLOTS_MIN, *old = s->slots, old_n = s->n_slots;

	if (n == 0 || (s->slots = calloc(n, sizeof(*s->slots))) == NULL) {
		s->slots = old;
		return -ENOMEM;
	}
	s->n_slots = n;
	for (uint32_t i = 0; i < old_n; i++) {
		if (old[i] != 0) {
			const uint8_t *e = s->arena + (old[i] - 1);

			*slot_of(s, e + 1, e[0]) = old[i];
		}
	}
	free(old);
	return 0;
}

/* Room for more bytes in the arena. 0 or -ENOMEM. */
static int grow_arena(struct mgmt_idset *s, size_t more)
{
	size_t cap = s->cap ? s->cap : ARENA_MIN;
	uint8_t *a;

	while (cap < s->used + more)
		cap *= 2;
	if (cap > ARENA_MAX)
		cap = ARENA_MAX;
	if (cap < s->used + more)
		return -ENOMEM;
	a = realloc(s->arena, cap);
	if (a == NULL)
		return -ENOMEM;
	s->arena = a;
	s->cap = cap;
	return 0;
}

int mgmt_idset_add(struct mgmt_idset *s, const uint8_t *identity, size_t len)
{
	uint32_t *slot;

	if (len == 0 || len > SG_CRED_IDENTITY_MAX)
		return -EINVAL;
	if ((s->n + 1) * 2 > s->n_slots && grow_slots(s) != 0)
		return -ENOMEM;
	slot = slot_of(s, identity, len);
	if (*slot != 0)
		return 1;
	if (s->used + 1 + len > s->cap && grow_arena(s, 1 + len) != 0)
		return -ENOMEM;
	s->arena[s->used] = (uint8_t)len;
	memcpy(s->arena + s->used + 1, identity, len);
	*slot = (uint32_t)s->used + 1;
	s->used += 1 + len;
	s->n++;
	return 0;
}

bool mgmt_idset_has(const struct mgmt_idset *s, const uint8_t *identity, size_t len)
{
	if (s->n == 0 || len == 0 || len > SG_CRED_IDENTITY_MAX)
		return false;
	return *slot_of(s, identity, len) != 0;
}

const uint8_t *mgmt_idset_next(const struct mgmt_idset *s, size_t *cursor, size_t *len)
{
	const uint8_t *e;

	if (*cursor >= s->used)
		return NULL;
	e = s->arena + *cursor;
	*len = e[0];
	*cursor += 1 + (size_t)e[0];
	return e + 1;
}

void mgmt_idset_clear(struct mgmt_idset *s)
{
	free(s->arena);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}
