/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The credential CSV that stormgate imports (docs/config.md, "Credential
 * CSV"), read back by stormgate-hsload so its clients handshake as the
 * devices the daemon knows. Main thread of the tool. See hsload.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hsload.h"

#define LINE_MAX_BYTES 512 /* identity 128 + key 128 + lifetime + state, with room */

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

/* Hex digits [s, s + len) into key; the key's length, or 0 if they are not a key. */
static unsigned parse_key(const char *s, size_t len, uint8_t *key)
{
	size_t i;

	if (len < 2 || len > 2 * SG_HSL_PSK_MAX || len % 2)
		return 0;
	for (i = 0; i < len; i += 2) {
		int hi = hex_nibble(s[i]), lo = hex_nibble(s[i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		key[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (unsigned)(len / 2);
}

/*
 * One data row, cut at its commas, into *c. 1: an enabled device; 0: a
 * disabled one (left out); -1: not a row (the reason in *why).
 */
static int parse_row(char *line, struct sg_hsl_cred *c, const char **why)
{
	char *f[4] = { line, NULL, NULL, NULL };
	size_t nf = 1, id_len;
	char *p;

	for (p = line; *p && nf < 4; p++) {
		if (*p == ',') {
			*p = '\0';
			f[nf++] = p + 1;
		}
	}
	id_len = strlen(f[0]);
	if (nf < 2 || id_len == 0 || id_len > SG_HSL_IDENTITY_MAX) {
		*why = "expected identity (1..128 bytes),psk_hex";
		return -1;
	}
	memcpy(c->identity, f[0], id_len + 1);
	c->key_len = parse_key(f[1], strlen(f[1]), c->key);
	if (c->key_len == 0) {
		*why = "psk_hex: 2..128 hex digits, an even count";
		return -1;
	}
	return nf == 4 && strcmp(f[3], "disabled") == 0 ? 0 : 1;
}

/* Takes one more row of room in *out; 0 or -ENOMEM / -E2BIG. */
static int grow(struct sg_hsl_creds *out, size_t *cap)
{
	struct sg_hsl_cred *v;
	size_t ncap;

	if (out->n < *cap)
		return 0;
	if (*cap >= SG_HSL_CREDS_MAX)
		return -E2BIG;
	ncap = *cap ? *cap * 2 : 256;
	if (ncap > SG_HSL_CREDS_MAX)
		ncap = SG_HSL_CREDS_MAX;
	v = realloc(out->v, ncap * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	out->v = v;
	*cap = ncap;
	return 0;
}

static void strip_eol(char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
}

int sg_hsl_creds_load(const char *path, struct sg_hsl_creds *out)
{
	char line[LINE_MAX_BYTES];
	const char *why = NULL;
	size_t cap = 0, lineno = 0;
	int rc = 0, kind;
	FILE *f;

	out->v = NULL;
	out->n = 0;
	f = fopen(path, "r");
	if (f == NULL) {
		rc = -errno;
		fprintf(stderr, "stormgate-hsload: %s: %s\n", path, strerror(errno));
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
		    (out->n == 0 && strncmp(line, "identity,", 9) == 0))
			continue;
		rc = grow(out, &cap);
		if (rc != 0)
			break;
		kind = parse_row(line, &out->v[out->n], &why);
		if (kind <= 0) /* a disabled device's key, or half a row: not kept */
			OPENSSL_cleanse(&out->v[out->n], sizeof(out->v[out->n]));
		if (kind < 0)
			rc = -EINVAL;
		else
			out->n += (size_t)kind;
	}
	OPENSSL_cleanse(line, sizeof(line));
	if (rc == 0 && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc == 0 && out->n == 0)
		rc = -ENOENT;
	if (rc != 0) {
		fprintf(stderr, "stormgate-hsload: %s:%zu: %s\n", path, lineno,
		        rc == -EINVAL   ? why
		        : rc == -ENOENT ? "no enabled device"
		                        : strerror(-rc));
		sg_hsl_creds_free(out);
	}
	return rc;
}

void sg_hsl_creds_free(struct sg_hsl_creds *c)
{
	if (c->v != NULL)
		OPENSSL_cleanse(c->v, c->n * sizeof(*c->v));
	free(c->v);
	c->v = NULL;
	c->n = 0;
}
