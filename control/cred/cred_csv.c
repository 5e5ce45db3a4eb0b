/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rules every kind of credential entry shares (sg_cred.h, cred_priv.h):
 * what an identity may be, and the CSV fields of the imports (a field, a
 * key_lifetime, a state). The bottom of control/cred/: cred.c (PSKs) and
 * cred_rpk.c (raw public keys, certificate policies) both read it. Any
 * thread; no state.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cred_priv.h"
#include "sg_cred.h"

/* A key of the main database that names one of the other kinds' databases. */
static bool names_a_kind(const void *identity, size_t id_len)
{
	return (id_len == sizeof(CRED_DB_RPK) - 1 && memcmp(identity, CRED_DB_RPK, id_len) == 0) ||
	       (id_len == sizeof(CRED_DB_CERTPOLICY) - 1 &&
	        memcmp(identity, CRED_DB_CERTPOLICY, id_len) == 0);
}

bool sg_cred_identity_valid(const void *identity, size_t id_len)
{
	return identity != NULL && id_len >= 1 && id_len <= SG_CRED_IDENTITY_MAX &&
	       !names_a_kind(identity, id_len);
}

/* Split off the next comma-separated field; returns its length, *s moves past the comma. */
size_t sg_cred_csv_field(const char **s, const char *end, const char **field)
{
	const char *p = *s;
	const char *comma = memchr(p, ',', (size_t)(end - p));
	const char *fe = comma ? comma : end;

	*field = p;
	*s = comma ? comma + 1 : NULL;
	return (size_t)(fe - p);
}

int sg_cred_identity_check(const void *identity, size_t len, char *msg, size_t msg_len)
{
	const unsigned char *p = identity;

	if (len == 0) {
		snprintf(msg, msg_len, "empty identity");
		return -EINVAL;
	}
	if (len > SG_CRED_IDENTITY_MAX) {
		snprintf(msg, msg_len, "identity is %zu bytes, at most %d", len,
		         SG_CRED_IDENTITY_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '"' || p[i] == ',') {
			snprintf(msg, msg_len,
			         "identity has a control character, '\"' or ',' at byte %zu",
			         i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

int sg_cred_csv_lifetime(const char *f, size_t n, uint32_t *out, char *msg, size_t msg_len)
{
	char num[16];
	char *ne;
	unsigned long v;

	if (n == 0) {
		*out = 0;
		return 0;
	}
	if (n >= sizeof(num) || f[0] < '0' || f[0] > '9')
		goto bad;
	memcpy(num, f, n);
	num[n] = '\0';
	v = strtoul(num, &ne, 10);
	if (*ne != '\0' || (v != 0 && (v < SG_CRED_LIFETIME_MIN || v > SG_CRED_LIFETIME_MAX)))
		goto bad;
	*out = (uint32_t)v;
	return 0;
bad:
	snprintf(msg, msg_len, "key_lifetime must be 0 or %d..%d seconds", SG_CRED_LIFETIME_MIN,
	         SG_CRED_LIFETIME_MAX);
	return -EINVAL;
}

int sg_cred_csv_state(const char *f, size_t n, uint32_t *flags, char *msg, size_t msg_len)
{
	if (n == 8 && memcmp(f, "disabled", 8) == 0) {
		*flags |= SG_CRED_F_DISABLED;
		return 0;
	}
	if (n == 0 || (n == 7 && memcmp(f, "enabled", 7) == 0))
		return 0;
	snprintf(msg, msg_len, "state must be 'enabled' or 'disabled'");
	return -EINVAL;
}
