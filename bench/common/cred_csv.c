/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The credential CSV, read for the bench tools: lines, fields, the key's hex.
 * See cred_csv.h. Any thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include <stormgate/dtls.h>

#include "cred_csv.h"

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

/* The hex digits of s into key; the key's length, or 0 if they are not a key. */
static unsigned parse_key(const char *s, uint8_t key[SG_TLS_PSK_MAX])
{
	size_t len = strlen(s), i;

	if (len < 2 || len > 2 * SG_TLS_PSK_MAX || len % 2)
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
 * One data row, cut at its commas: fn for an enabled device. 1: handed to fn;
 * 0: a disabled device; -EINVAL (the reason in *why) or fn's -errno.
 */
static int parse_row(char *line, sg_cred_csv_fn fn, void *ctx, const char **why)
{
	char *f[4] = { line, NULL, NULL, NULL };
	uint8_t key[SG_TLS_PSK_MAX];
	size_t nf = 1, id_len;
	unsigned key_len;
	bool disabled;
	int rc;

	for (char *p = line; *p && nf < 4; p++) {
		if (*p == ',') {
			*p = '\0';
			f[nf++] = p + 1;
		}
	}
	id_len = strlen(f[0]);
	if (nf < 2 || id_len == 0 || id_len > SG_TLS_PSK_IDENTITY_MAX) {
		*why = "expected identity (1..128 bytes),psk_hex";
		return -EINVAL;
	}
	key_len = parse_key(f[1], key);
	if (key_len == 0) {
		*why = "psk_hex: 2..128 hex digits, an even count";
		return -EINVAL;
	}
	disabled = nf == 4 && strcmp(f[3], "disabled") == 0;
	rc = disabled ? 0 : fn(f[0], id_len, key, key_len, ctx);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc < 0)
		return rc;
	return disabled ? 0 : 1;
}

static void strip_eol(char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
}

int sg_cred_csv_read(const char *path, const char *prog, sg_cred_csv_fn fn, void *ctx)
{
	char line[LINE_MAX_BYTES];
	const char *why = NULL;
	size_t lineno = 0, enabled = 0;
	bool data = false;
	int rc = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		rc = -errno;
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
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
		rc = parse_row(line, fn, ctx, &why);
		enabled += rc == 1;
		rc = rc < 0 ? rc : 0;
	}
	OPENSSL_cleanse(line, sizeof(line));
	if (rc == 0 && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc == 0 && enabled == 0)
		rc = -ENOENT;
	if (rc != 0)
		fprintf(stderr, "%s: %s:%zu: %s\n", prog, path, lineno,
		        rc == -EINVAL   ? why
		        : rc == -ENOENT ? "no enabled device"
		                        : strerror(-rc));
	return rc;
}
