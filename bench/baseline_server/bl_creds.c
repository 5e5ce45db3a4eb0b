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

#define LINE_MAX_BYTES 512 /* identity 128 + key 128 + lifetime + state, with room */
#define ROWS_MAX       (UINT64_C(1) << 28)

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

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex digits s into key; the key's length, or 0 if they are not a key. */
static unsigned parse_key(const char *s, uint8_t *key)
{
	size_t len = strlen(s), i;

	if (len < 2 || len > 2 * BL_PSK_MAX || len % 2)
		return 0;
	for (i = 0; i < len; i += 2) {
		int hi = hex_nibble(s[i]), lo = hex_nibble(s[i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		key[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (unsigned)(len / 2);
}

static const uint8_t *entry(const struct bl_creds *c, uint64_t slot)
{
	return c->arena + (slot - 1);
}

/* Doubles the table once it is half full; 0 or -ENOMEM. */
static int grow_table(struct bl_creds *c)
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
static int grow_arena(struct bl_creds *c, size_t need)
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
static int add(struct bl_creds *c, const char *id, size_t id_len, const uint8_t *key,
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

/* One data row, cut at its commas. 1: added; 0: a disabled device; -1: bad (why). */
static int parse_row(struct bl_creds *c, char *line, const char **why)
{
	char *f[4] = { line, NULL, NULL, NULL };
	uint8_t key[BL_PSK_MAX];
	size_t nf = 1, id_len;
	unsigned key_len;
	char *p;
	int rc;

	for (p = line; *p && nf < 4; p++) {
		if (*p == ',') {
			*p = '\0';
			f[nf++] = p + 1;
		}
	}
	id_len = strlen(f[0]);
	if (nf < 2 || id_len == 0 || id_len > BL_IDENTITY_MAX) {
		*why = "expected identity (1..128 bytes),psk_hex";
		return -1;
	}
	key_len = parse_key(f[1], key);
	if (key_len == 0) {
		*why = "psk_hex: 2..128 hex digits, an even count";
		return -1;
	}
	rc = 0;
	if (!(nf == 4 && strcmp(f[3], "disabled") == 0))
		rc = add(c, f[0], id_len, key, key_len) == 0 ? 1 : -1;
	OPENSSL_cleanse(key, sizeof(key));
	if (rc < 0)
		*why = "out of memory";
	return rc;
}

static void strip_eol(char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
}

int bl_creds_load(const char *path, struct bl_creds *c)
{
	char line[LINE_MAX_BYTES];
	const char *why = NULL;
	size_t lineno = 0;
	bool data = false;
	int rc = 0;
	FILE *f;

	memset(c, 0, sizeof(*c));
	if (RAND_bytes((unsigned char *)&c->seed, sizeof(c->seed)) != 1)
		return -EIO;
	f = fopen(path, "r");
	if (f == NULL) {
		rc = -errno;
		fprintf(stderr, "stormgate-dtls-baseline: %s: %s\n", path, strerror(errno));
		return rc;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			why = "line longer than 511 bytes";
			rc = -EINVAL;
			break;
		}
		strip_eol(line);
		if (line[0] == '\0' || line[0] == '#' ||
		    (!data && strncmp(line, "identity,", 9) == 0))
			continue;
		data = true;
		if (parse_row(c, line, &why) < 0)
			rc = -EINVAL;
	}
	OPENSSL_cleanse(line, sizeof(line));
	if (rc == 0 && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc == 0 && c->n == 0)
		rc = -ENOENT;
	if (rc != 0) {
		fprintf(stderr, "stormgate-dtls-baseline: %s:%zu: %s\n", path, lineno,
		        rc == -EINVAL   ? why
		        : rc == -ENOENT ? "no enabled device"
		                        : strerror(-rc));
		bl_creds_free(c);
	}
	return rc;
}

int bl_creds_find(const struct bl_creds *c, const char *identity, size_t id_len,
                  const uint8_t **key, unsigned *key_len, const char **stored)
{
	size_t j;

	if (c->n_slots == 0 || id_len == 0 || id_len > BL_IDENTITY_MAX)
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

void bl_creds_free(struct bl_creds *c)
{
	if (c->arena != NULL)
		OPENSSL_cleanse(c->arena, c->arena_cap);
	free(c->arena);
	free(c->slots);
	memset(c, 0, sizeof(*c));
}
