/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Meta records of the session store (sg_store.h): small named values
 * sealed like the sessions, the AAD bound to "meta:" and the name, so a
 * value moved to another name does not open. The gateway thread (with a
 * writer running, writes go to its queue: store_writer.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/common.h>

#include "store_priv.h"
#include "store_seal.h"

#define META_PREFIX     "meta:"
#define META_PREFIX_LEN (sizeof(META_PREFIX) - 1)
#define META_SEALED_MAX SG_STORE_SEALED_LEN(SG_STORE_META_MAX)
/* Meta values are bytes the caller lays out: their envelope stays at version 1. */
#define SG_STORE_META_VERSION 1

/* "meta:" and name into bind; returns its length, or -EINVAL for a bad name. */
static int meta_bind(const char *name, uint8_t bind[META_PREFIX_LEN + SG_STORE_META_NAME_MAX])
{
	size_t n = name != NULL ? strnlen(name, SG_STORE_META_NAME_MAX + 1) : 0;

	if (n == 0 || n > SG_STORE_META_NAME_MAX)
		return -EINVAL;
	memcpy(bind, META_PREFIX, META_PREFIX_LEN);
	memcpy(bind + META_PREFIX_LEN, name, n);
	return (int)(META_PREFIX_LEN + n);
}

int sg_store_meta_put(struct sg_store *st, const char *name, const uint8_t *val, size_t len)
{
	uint8_t bind[META_PREFIX_LEN + SG_STORE_META_NAME_MAX];
	uint8_t *buf;
	int bind_len = meta_bind(name, bind);
	int rc;

	if (bind_len < 0 || len > SG_STORE_META_MAX || (val == NULL && len != 0))
		return -EINVAL;
	buf = malloc(META_SEALED_MAX);
	if (buf == NULL)
		return -ENOMEM;
	rc = sg_store_seal(&st->sealer, SG_STORE_META_VERSION, bind, (size_t)bind_len, val, len,
	                   buf, META_SEALED_MAX);
	if (rc >= 0)
		rc = st->w != NULL ? sg_store_wq_add(st->w, SG_STORE_WOP_META_PUT, 0, name, buf,
		                                     (size_t)rc)
		                   : st->ops->meta_put(st->be, name, buf, (size_t)rc);
	sg_wipe(buf, META_SEALED_MAX);
	free(buf);
	return rc;
}

int sg_store_meta_get(struct sg_store *st, const char *name, uint8_t *buf, size_t cap)
{
	uint8_t bind[META_PREFIX_LEN + SG_STORE_META_NAME_MAX];
	uint8_t *raw;
	int bind_len = meta_bind(name, bind);
	int rc;

	if (bind_len < 0 || (buf == NULL && cap != 0))
		return -EINVAL;
	if (st->w != NULL)
		return -EBUSY; /* the writer owns the backend: meta is read before it starts */
	raw = malloc(META_SEALED_MAX);
	if (raw == NULL)
		return -ENOMEM;
	rc = st->ops->meta_get(st->be, name, raw, META_SEALED_MAX);
	if (rc == -ENOBUFS)
		rc = -EMSGSIZE; /* longer than any value we seal: damage (trailing) */
	if (rc >= 0)
		rc = sg_store_unseal(&st->sealer, SG_STORE_META_VERSION, bind, (size_t)bind_len,
		                     raw, (size_t)rc, buf, cap, NULL);
	sg_wipe(raw, META_SEALED_MAX);
	free(raw);
	return rc;
}

int sg_store_meta_del(struct sg_store *st, const char *name)
{
	uint8_t bind[META_PREFIX_LEN + SG_STORE_META_NAME_MAX];

	if (meta_bind(name, bind) < 0)
		return -EINVAL;
	return st->w != NULL ? sg_store_wq_add(st->w, SG_STORE_WOP_META_DEL, 0, name, NULL, 0)
	                     : st->ops->meta_del(st->be, name);
}
