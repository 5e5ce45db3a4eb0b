/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session registry: a slot array (session -> identity, and a doubly linked
 * list of the sessions of each identity) and a chained hash of interned
 * identities. Indexes are stored + 1 so that 0 means "none" and calloc'd
 * memory is an empty registry.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sg_sessreg.h"

struct reg_slot {
	uint32_t gen;   /* session id's generation; 0: empty (ids never have 0) */
	uint32_t ident; /* identity index + 1 */
	uint32_t next;  /* slot + 1 of the identity's next session */
	uint32_t prev;  /* slot + 1 of its previous session */
};

struct reg_ident {
	uint32_t hnext; /* identity index + 1 in the same bucket */
	uint32_t head;  /* slot + 1 of its most recent session */
	uint32_t n;     /* its sessions */
	uint32_t hash;
	uint16_t len;
	uint8_t bytes[];
};

struct sg_sessreg {
	uint32_t capacity;
	struct reg_slot *slots;
	struct reg_ident **idents; /* by index; NULL: free */
	uint32_t n_idents, cap_idents;
	uint32_t *free_idx; /* stack of free identity indexes */
	uint32_t n_free;
	uint32_t *buckets; /* identity index + 1 */
	uint32_t bucket_mask;
	uint32_t seed;
	uint64_t sessions;
	/* per slot: the session store's credential tag; all zero: none. Made at the first tag. */
	uint8_t (*tags)[SG_SESSREG_TAG_LEN];
	uint8_t *store_flags; /* per slot, beside its tag (made with the tags) */
	/* per slot: how its identity authenticated (enum sg_hs_auth); made at the first one
	 * that is not a PSK (0), so a PSK-only gateway never pays for it */
	uint8_t *auth;
};

/* FNV-1a, seeded per registry. */
static uint32_t ident_hash(const struct sg_sessreg *r, const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u ^ r->seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

struct sg_sessreg *sg_sessreg_create(uint32_t capacity)
{
	struct sg_sessreg *r;

	if (capacity == 0) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->capacity = capacity;
	r->slots = calloc(capacity, sizeof(*r->slots));
	r->bucket_mask = 1023;
	r->buckets = calloc(r->bucket_mask + 1, sizeof(*r->buckets));
	if (r->slots == NULL || r->buckets == NULL) {
		sg_sessreg_destroy(r);
		errno = ENOMEM;
		return NULL;
	}
	if (getrandom(&r->seed, sizeof(r->seed), 0) != (ssize_t)sizeof(r->seed))
		r->seed = (uint32_t)(uintptr_t)r;
	return r;
}

void sg_sessreg_destroy(struct sg_sessreg *r)
{
	if (r == NULL)
		return;
	for (uint32_t i = 0; r->idents != NULL && i < r->cap_idents; i++)
		free(r->idents[i]);
	free(r->idents);
	free(r->free_idx);
	free(r->buckets);
	free(r->slots);
	free(r->tags);
	free(r->store_flags);
	free(r->auth);
	free(r);
}

static uint32_t *bucket_of(const struct sg_sessreg *r, uint32_t hash)
{
	return &r->buckets[hash & r->bucket_mask];
}

/* Index + 1 of an identity, or 0. */
static uint32_t ident_find(const struct sg_sessreg *r, const uint8_t *p, size_t len, uint32_t hash)
{
	for (uint32_t i = *bucket_of(r, hash); i != 0; i = r->idents[i - 1]->hnext) {
		const struct reg_ident *e = r->idents[i - 1];

		if (e->hash == hash && e->len == len && memcmp(e->bytes, p, len) == 0)
			return i;
	}
	return 0;
}

/* Double the buckets when identities outnumber them (chains stay short). */
static void buckets_grow(struct sg_sessreg *r)
{
	uint32_t mask = r->bucket_mask * 2 + 1;
	uint32_t *b = calloc((size_t)mask + 1, sizeof(*b));

	if (b == NULL)
		return; /* longer chains, still correct */
	free(r->buckets);
	r->buckets = b;
	r->bucket_mask = mask;
	for (uint32_t i = 0; i < r->cap_idents; i++) {
		struct reg_ident *e = r->idents[i];

		if (e == NULL)
			continue;
		e->hnext = *bucket_of(r, e->hash);
		*bucket_of(r, e->hash) = i + 1;
	}
}

/* Index + 1 of a new identity, or 0 when out of memory. */
static uint32_t ident_new(struct sg_sessreg *r, const uint8_t *p, size_t len, uint32_t hash)
{
	struct reg_ident *e = malloc(sizeof(*e) + len);
	uint32_t idx;

	if (e == NULL)
		return 0;
	if (r->n_free > 0) {
		idx = r->free_idx[--r->n_free];
	} else {
		if (r->cap_idents == UINT32_MAX - 1) {
			free(e);
			return 0;
		}
		uint32_t cap = r->cap_idents ? r->cap_idents * 2 : 1024;
		struct reg_ident **ids = realloc(r->idents, (size_t)cap * sizeof(*ids));
		uint32_t *fr = ids ? realloc(r->free_idx, (size_t)cap * sizeof(*fr)) : NULL;

		if (ids != NULL)
			r->idents = ids;
		if (fr == NULL) {
			free(e);
			return 0;
		}
		r->free_idx = fr;
		for (uint32_t i = r->cap_idents; i < cap; i++)
			ids[i] = NULL;
		/* Lowest index first out of the stack. */
		for (uint32_t i = cap; i-- > r->cap_idents + 1;)
			r->free_idx[r->n_free++] = i;
		idx = r->cap_idents;
		r->cap_idents = cap;
	}
	e->hash = hash;
	e->len = (uint16_t)len;
	e->head = 0;
	e->n = 0;
	memcpy(e->bytes, p, len);
	e->hnext = *bucket_of(r, hash);
	*bucket_of(r, hash) = idx + 1;
	r->idents[idx] = e;
	r->n_idents++;
	if (r->n_idents > r->bucket_mask + 1)
		buckets_grow(r);
	return idx + 1;
}

static void ident_free(struct sg_sessreg *r, uint32_t i)
{
	struct reg_ident *e = r->idents[i - 1];
	uint32_t *link = bucket_of(r, e->hash);

	while (*link != i)
		link = &r->idents[*link - 1]->hnext;
	*link = e->hnext;
	free(e);
	r->idents[i - 1] = NULL;
	r->free_idx[r->n_free++] = i - 1;
	r->n_idents--;
}

/* Take slot s out of its identity's list (and free the identity with its last session). */
static void slot_unlink(struct sg_sessreg *r, uint32_t s)
{
	struct reg_slot *sl = &r->slots[s];
	struct reg_ident *e = sl->ident != 0 ? r->idents[sl->ident - 1] : NULL;

	if (e != NULL) {
		if (sl->prev != 0)
			r->slots[sl->prev - 1].next = sl->next;
		else
			e->head = sl->next;
		if (sl->next != 0)
			r->slots[sl->next - 1].prev = sl->prev;
		if (--e->n == 0)
			ident_free(r, sl->ident);
	}
	memset(sl, 0, sizeof(*sl));
	if (r->tags != NULL) {
		memset(r->tags[s], 0, SG_SESSREG_TAG_LEN);
		r->store_flags[s] = 0;
	}
	if (r->auth != NULL)
		r->auth[s] = 0;
	r->sessions--;
}

int sg_sessreg_add(struct sg_sessreg *r, uint64_t id, const void *identity, size_t len)
{
	uint32_t s = (uint32_t)id, gen = (uint32_t)(id >> 32), hash, i;
	struct reg_slot *sl;
	struct reg_ident *e;

	if (s >= r->capacity || gen == 0 || (identity == NULL && len != 0) ||
	    len > SG_SESSREG_IDENTITY_MAX)
		return -EINVAL;
	sl = &r->slots[s];
	if (sl->gen != 0)
		slot_unlink(r, s);
	if (len == 0) {
		/* anonymous: a slot of its own, in no identity's list */
		sl->gen = gen;
		r->sessions++;
		return 0;
	}
	hash = ident_hash(r, identity, len);
	i = ident_find(r, identity, len, hash);
	if (i == 0)
		i = ident_new(r, identity, len, hash);
	if (i == 0)
		return -ENOMEM;
	e = r->idents[i - 1];
	sl->gen = gen;
	sl->ident = i;
	sl->prev = 0;
	sl->next = e->head;
	if (e->head != 0)
		r->slots[e->head - 1].prev = s + 1;
	e->head = s + 1;
	e->n++;
	r->sessions++;
	return 0;
}

int sg_sessreg_del(struct sg_sessreg *r, uint64_t id)
{
	uint32_t s = (uint32_t)id;

	if (s >= r->capacity || r->slots[s].gen == 0 || r->slots[s].gen != (uint32_t)(id >> 32))
		return -ENOENT;
	slot_unlink(r, s);
	return 0;
}

const uint8_t *sg_sessreg_identity(const struct sg_sessreg *r, uint64_t id, size_t *len)
{
	uint32_t s = (uint32_t)id;
	const struct reg_ident *e;

	if (s >= r->capacity || r->slots[s].gen == 0 || r->slots[s].gen != (uint32_t)(id >> 32))
		return NULL;
	if (r->slots[s].ident == 0) {
		static const uint8_t empty[1];

		*len = 0;
		return empty;
	}
	e = r->idents[r->slots[s].ident - 1];
	*len = e->len;
	return e->bytes;
}

size_t sg_sessreg_find(const struct sg_sessreg *r, const void *identity, size_t len, uint64_t *ids,
                       size_t max)
{
	uint32_t i;
	size_t k = 0;

	if (identity == NULL || len == 0 || len > SG_SESSREG_IDENTITY_MAX)
		return 0;
	i = ident_find(r, identity, len, ident_hash(r, identity, len));
	if (i == 0)
		return 0;
	for (uint32_t s = r->idents[i - 1]->head; s != 0 && k < max; s = r->slots[s - 1].next)
		ids[k++] = (uint64_t)r->slots[s - 1].gen << 32 | (s - 1);
	return r->idents[i - 1]->n;
}

/* Does the slot of id hold id? */
static bool holds(const struct sg_sessreg *r, uint64_t id)
{
	uint32_t s = (uint32_t)id;

	return s < r->capacity && r->slots[s].gen != 0 && r->slots[s].gen == (uint32_t)(id >> 32);
}

/* The tags and store flags, made at the first of either. 0 or -ENOMEM. */
static int tags_make(struct sg_sessreg *r)
{
	if (r->tags != NULL)
		return 0;
	r->store_flags = calloc(r->capacity, 1);
	r->tags = r->store_flags ? calloc(r->capacity, SG_SESSREG_TAG_LEN) : NULL;
	if (r->tags == NULL) {
		free(r->store_flags);
		r->store_flags = NULL;
		return -ENOMEM;
	}
	return 0;
}

int sg_sessreg_set_tag(struct sg_sessreg *r, uint64_t id, const uint8_t *tag)
{
	if (!holds(r, id))
		return -ENOENT;
	if (tags_make(r) != 0)
		return -ENOMEM;
	memcpy(r->tags[(uint32_t)id], tag, SG_SESSREG_TAG_LEN);
	return 0;
}

int sg_sessreg_set_store_flags(struct sg_sessreg *r, uint64_t id, uint8_t flags)
{
	if (!holds(r, id))
		return -ENOENT;
	if (flags == 0 && r->tags == NULL)
		return 0;
	if (tags_make(r) != 0)
		return -ENOMEM;
	r->store_flags[(uint32_t)id] = flags;
	return 0;
}

int sg_sessreg_set_auth(struct sg_sessreg *r, uint64_t id, uint8_t auth)
{
	uint32_t s = (uint32_t)id;

	if (s >= r->capacity || r->slots[s].gen == 0 || r->slots[s].gen != (uint32_t)(id >> 32))
		return -ENOENT;
	if (r->auth == NULL && auth == 0)
		return 0;
	if (r->auth == NULL) {
		r->auth = calloc(r->capacity, 1);
		if (r->auth == NULL)
			return -ENOMEM;
	}
	r->auth[s] = auth;
	return 0;
}

uint8_t sg_sessreg_auth(const struct sg_sessreg *r, uint64_t id)
{
	uint32_t s = (uint32_t)id;

	if (r->auth == NULL || s >= r->capacity || r->slots[s].gen == 0 ||
	    r->slots[s].gen != (uint32_t)(id >> 32))
		return 0;
	return r->auth[s];
}

uint8_t sg_sessreg_store_flags(const struct sg_sessreg *r, uint64_t id)
{
	return r->store_flags != NULL && holds(r, id) ? r->store_flags[(uint32_t)id] : 0;
}

const uint8_t *sg_sessreg_tag(const struct sg_sessreg *r, uint64_t id)
{
	static const uint8_t none[SG_SESSREG_TAG_LEN];
	uint32_t s = (uint32_t)id;

	if (r->tags == NULL || s >= r->capacity || r->slots[s].gen == 0 ||
	    r->slots[s].gen != (uint32_t)(id >> 32) ||
	    memcmp(r->tags[s], none, SG_SESSREG_TAG_LEN) == 0)
		return NULL;
	return r->tags[s];
}

uint64_t sg_sessreg_sessions(const struct sg_sessreg *r)
{
	return r->sessions;
}

uint64_t sg_sessreg_identities(const struct sg_sessreg *r)
{
	return r->n_idents;
}
