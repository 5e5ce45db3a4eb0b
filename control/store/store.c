/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session store's front (sg_store.h): seals and opens records and
 * counts them; the backend behind struct sg_store_ops only keeps bytes.
 * With a writer thread (store_writer.c) the sealed bytes go to its queue
 * instead of the backend. The gateway thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/common.h>

#include "sg_store.h"
#include "store_priv.h"

struct sg_store *sg_store_open(const struct sg_store_ops *ops, const struct sg_store_params *params,
                               const struct sg_store_key *key)
{
	struct sg_store *st;
	int rc;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->ops = ops != NULL ? ops : &sg_store_lmdb_ops;
	rc = sg_store_sealer_init(&st->sealer, key);
	if (rc != 0)
		goto fail;
	rc = st->ops->open(params, &st->be);
	if (rc != 0)
		goto fail_sealer;
	return st;

fail_sealer:
	sg_store_sealer_wipe(&st->sealer);
fail:
	free(st);
	errno = -rc;
	return NULL;
}

void sg_store_close(struct sg_store *st)
{
	if (st == NULL)
		return;
	if (st->w != NULL)
		sg_store_wq_close(st->w); /* everything queued is applied and committed first */
	st->ops->close(st->be);
	sg_store_sealer_wipe(&st->sealer);
	free(st);
}

int sg_store_put(struct sg_store *st, uint32_t slot, const struct sg_store_rec *rec)
{
	uint8_t buf[SG_STORE_REC_MAX];
	int len, rc;

	len = sg_store_rec_seal(&st->sealer, slot, rec, buf, sizeof(buf));
	if (len < 0)
		return len;
	rc = st->w != NULL ? sg_store_wq_add(st->w, SG_STORE_WOP_PUT, slot, NULL, buf, (size_t)len)
	                   : st->ops->put(st->be, slot, buf, (size_t)len);
	if (rc == 0)
		st->stats.puts++;
	sg_wipe(buf, sizeof(buf)); /* sealed, but the caller's buffers never keep records */
	return rc;
}

int sg_store_del(struct sg_store *st, uint32_t slot)
{
	int rc = st->w != NULL ? sg_store_wq_add(st->w, SG_STORE_WOP_DEL, slot, NULL, NULL, 0)
	                       : st->ops->del(st->be, slot);

	if (rc == 0)
		st->stats.dels++;
	return rc;
}

int sg_store_commit(struct sg_store *st)
{
	return st->w != NULL ? sg_store_wq_commit(st->w) : st->ops->commit(st->be);
}

struct iter_ctx {
	struct sg_store *st;
	uint64_t now;
	sg_store_rec_fn fn;
	void *arg;
};

static int iter_one(uint32_t slot, const uint8_t *raw, size_t len, void *arg)
{
	struct iter_ctx *c = arg;
	struct sg_store_rec rec;
	enum sg_store_bad bad;
	int rc;

	rc = sg_store_rec_unseal(&c->st->sealer, slot, raw, len, &rec);
	if (rc != 0) {
		bad = sg_store_bad_of(rc);
		c->st->stats.refused[bad < SG_STORE_BAD_MAX ? bad : SG_STORE_BAD_BODY]++;
		return 0;
	}
	if (c->now != 0 && rec.expires != 0 && rec.expires <= c->now) {
		c->st->stats.expired++;
		rc = 0;
	} else {
		c->st->stats.restored++;
		rc = c->fn(slot, &rec, c->arg);
	}
	sg_store_rec_wipe(&rec);
	return rc;
}

int sg_store_iterate(struct sg_store *st, uint64_t now, sg_store_rec_fn fn, void *arg)
{
	struct iter_ctx c = { .st = st, .now = now, .fn = fn, .arg = arg };

	if (st->w != NULL)
		return -EBUSY;
	st->stats.restored = 0;
	st->stats.expired = 0;
	memset(st->stats.refused, 0, sizeof(st->stats.refused));
	return st->ops->iterate(st->be, iter_one, &c);
}

void sg_store_stats(struct sg_store *st, struct sg_store_stats *out)
{
	*out = st->stats;
	if (st->w != NULL)
		sg_store_wq_stats(st->w, out);
	else
		st->ops->stats(st->be, &out->be);
}

const char *sg_store_backend(const struct sg_store *st)
{
	return st->ops->name;
}
