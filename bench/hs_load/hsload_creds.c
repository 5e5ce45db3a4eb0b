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

#include "cred_csv.h"
#include "hsload.h"

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

struct load {
	struct sg_hsl_creds *out;
	size_t cap;
};

/* One enabled device from the CSV (sg_cred_csv_read()), kept. */
static int keep(const char *identity, size_t id_len, const uint8_t *key, unsigned key_len,
                void *ctx)
{
	struct load *l = ctx;
	struct sg_hsl_cred *c;
	int rc = grow(l->out, &l->cap);

	if (rc != 0)
		return rc;
	c = &l->out->v[l->out->n++];
	memcpy(c->identity, identity, id_len);
	c->identity[id_len] = '\0';
	memcpy(c->key, key, key_len);
	c->key_len = key_len;
	return 0;
}

int sg_hsl_creds_load(const char *path, struct sg_hsl_creds *out)
{
	struct load l = { .out = out };
	int rc;

	out->v = NULL;
	out->n = 0;
	rc = sg_cred_csv_read(path, "stormgate-hsload", keep, &l);
	if (rc != 0)
		sg_hsl_creds_free(out);
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
