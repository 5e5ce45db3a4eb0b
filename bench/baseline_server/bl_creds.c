/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The credential CSV stormgate imports (docs/config.md, "Credential CSV"),
 * read by the baseline into one arena and an open-addressing table, so the
 * PSK callback finds a device's key in one or two probes and 1M rows load in
 * about a second. Loaded by the main thread before the workers start; read
 * by every worker afterwards (never written again). See baseline.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "baseline.h"
#include "cred_csv.h"

#define ROWS_MAX (UINT64_C(1) << 28)

/* FNV-1a under a random seed, then a 64-bit finaliser (murmur3's fmix64). */
static uint64_t id_hash(uint64_t seed, const char *s, size_t n)
{
	uint64_t h = seed ^ UINT64_C(0xcbf29ce484222325);
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * UINT64_C(0x100000001b3);
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	return h;
}

static const uint8_t *entry(const struct sg_bl_creds *c, uint64_t slot)
{
	return c->arena + (slot - 1);
}

/* Doubles the table once it is half full; 0 or -ENOMEM. */
static int grow_table(struct sg_bl_creds *c)
{
	size_t n = c->n_slots ? c->n_slots * 2 : 1024, i, j;
	uint64_t *s;

	if (c->n_slots && (c->n + 1) * 2 <= c->n_slots)
		return 0;
	s = calloc(n, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	for (i = 0; i < c->n_slots; i++) {
		const uint8_t *e;

		if (c->slots[i] == 0)
			continue;
		e = entry(c, c->slots[i]);
		for (j = id_hash(c->seed, (const char *)e + 2, e[0]) & (n - 1); s[j];
		     j = (j + 1) & (n - 1))
			;
		s[j] = c->slots[i];
	}
	free(c->slots);
	c->slots = s;
	c->n_slots = n;
	return 0;
}

/* Room for need more arena bytes; the keys in the old arena are wiped. */
static int grow_arena(struct sg_bl_creds *c, size_t need)
{
	size_t cap = c->arena_cap ? c->arena_cap : 1 << 16;
	uint8_t *a;

	if (c->arena_len + need <= c->arena_cap)
		return 0;
	while (c->arena_len + need > cap)
		cap *= 2;
	a = malloc(cap);
	if (a == NULL)
		return -ENOMEM;
	if (c->arena_len) {
		memcpy(a, c->arena, c->arena_len);
		OPENSSL_cleanse(c->arena, c->arena_len);
	}
	free(c->arena);
	c->arena = a;
	c->arena_cap = cap;
	return 0;
}

/* Adds (or replaces) one device; 0 or -ENOMEM / -E2BIG. */
static int add(struct sg_bl_creds *c, const char *id, size_t id_len, const uint8_t *key,
               unsigned key_len)
{
	size_t j, need = 2 + id_len + key_len;
	uint8_t *e;
	int rc;

	if (c->n >= ROWS_MAX)
		return -E2BIG;
	rc = grow_table(c);
	if (rc == 0)
		rc = grow_arena(c, need);
	if (rc != 0)
		return rc;
	for (j = id_hash(c->seed, id, id_len) & (c->n_slots - 1); c->slots[j];
	     j = (j + 1) & (c->n_slots - 1)) {
		const uint8_t *o = entry(c, c->slots[j]);

		if (o[0] == id_len && memcmp(o + 2, id, id_len) == 0)
			break; /* a later row replaces it (its old bytes stay in the arena) */
	}
	e = c->arena + c->arena_len;
	e[0] = (uint8_t)id_len;
	e[1] = (uint8_t)key_len;
	memcpy(e + 2, id, id_len);
	memcpy(e + 2 + id_len, key, key_len);
	c->n += c->slots[j] == 0;
	c->slots[j] = c->arena_len + 1;
	c->arena_len += need;
	return 0;
}

/* One enabled device from the CSV (sg_cred_csv_read()), added. */
static int keep(const char *identity, size_t id_len, const uint8_t *key, unsigned key_len,
                void *ctx)
{
	return add(ctx, identity, id_len, key, key_len);
}

int sg_bl_creds_load(const char *path, struct sg_bl_creds *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if (RAND_bytes((unsigned char *)&c->seed, sizeof(c->seed)) != 1)
		return -EIO;
	rc = sg_cred_csv_read(path, "stormgate-dtls-baseline", keep, c);
	if (rc != 0)
		sg_bl_creds_free(c);
	return rc;
}

int sg_bl_creds_find(const struct sg_bl_creds *c, const char *identity, size_t id_len,
                     const uint8_t **key, unsigned *key_len, const char **stored)
{
	size_t j;

	if (c->n_slots == 0 || id_len == 0 || id_len > SG_BL_IDENTITY_MAX)
		return -ENOENT;
	for (j = id_hash(c->seed, identity, id_len) & (c->n_slots - 1); c->slots[j];
	     j = (j + 1) & (c->n_slots - 1)) {
		const uint8_t *e = entry(c, c->slots[j]);

		if (e[0] == id_len && memcmp(e + 2, identity, id_len) == 0) {
			*stored = (const char *)e + 2;
			*key = e + 2 + id_len;
			*key_len = e[1];
			return 0;
		}
	}
	return -ENOENT;
}

void sg_bl_creds_free(struct sg_bl_creds *c)
{
	if (c->arena != NULL)
		OPENSSL_cleanse(c->arena, c->arena_cap);
	free(c->arena);
	free(c->slots);
	memset(c, 0, sizeof(*c));
}
