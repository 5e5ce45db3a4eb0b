/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The embedded LMDB backend of the session store (sg_store_ops). Its own
 * environment, a directory beside the credential store's, not a
 * sub-database of it (docs/restart.md, "Why its own environment"): LMDB has
 * one writer per environment, and the credential store's writer is the
 * management thread (imports) while this one is the gateway thread, which
 * must never wait behind an import; the two also differ in size and in how
 * often they sync, and damage to one never touches the other.
 *
 * Two named databases: "sessions" (key: the slot, u32 big endian, so the
 * walk is in slot order; value: the sealed record) and "meta" (key: the
 * name; value: the sealed meta record). A group is one write transaction kept open from the first
 * put or delete to the commit: one fsync per group (mdb_txn_commit), and
 * at most GROUP_MAX writes per group. Control
 * plane only (MDB_NOTLS, so the thread may change between groups).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lmdb.h>

#include <stormgate/bytes.h>
#include <stormgate/lmdb_err.h>

#include "sg_store.h"

#define MAP_SIZE_DEFAULT (UINT64_C(4) << 30)
/*
 * Writes in one group before a put commits it on its own: one write
 * transaction holds at most about 128K dirty pages (MDB_TXN_FULL), and a
 * write to a random slot of a large store dirties a leaf and its branches.
 */
#define GROUP_MAX 16384

struct lmdb_be {
	MDB_env *env;
	MDB_dbi dbi;    /* "sessions" */
	MDB_dbi meta;   /* "meta" */
	MDB_txn *group; /* the open write transaction, or NULL */
	uint64_t pending;
	uint64_t dropped;
	uint64_t commits;
	uint64_t last_commit;
};

/*
 * A data file shorter than the pages its meta page names (a disk that lost
 * the file's tail): LMDB maps the file and would die of SIGBUS reading a
 * page past its end, so such a store is refused before any page is read.
 */
static int check_file(MDB_env *env)
{
	MDB_envinfo info;
	MDB_stat ms;
	struct stat sb;
	mdb_filehandle_t fd;
	int rc;

	rc = sg_mdb_errno(mdb_env_info(env, &info));
	if (rc == 0)
		rc = sg_mdb_errno(mdb_env_stat(env, &ms));
	if (rc == 0)
		rc = sg_mdb_errno(mdb_env_get_fd(env, &fd));
	if (rc != 0)
		return rc;
	if (fstat(fd, &sb) != 0)
		return -errno;
	if ((uint64_t)sb.st_size < ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize)
		return -EUCLEAN;
	return 0;
}

/* Open (flags 0) or create (MDB_CREATE) both databases in txn. */
static int dbs_in(struct lmdb_be *b, MDB_txn *txn, unsigned flags)
{
	int rc = sg_mdb_errno(mdb_dbi_open(txn, "sessions", flags, &b->dbi));

	if (rc == 0)
		rc = sg_mdb_errno(mdb_dbi_open(txn, "meta", flags, &b->meta));
	if (rc == 0)
		rc = sg_mdb_errno(mdb_txn_commit(txn)); /* the handles stay for the environment */
	else
		mdb_txn_abort(txn);
	return rc;
}

/*
 * The two databases' handles: from a read transaction when they exist, so
 * opening never waits for the writer lock (a daemon restarting beside a
 * tool that holds it, or the test's crashed writer); created in a write
 * transaction the first time.
 */
static int open_dbs(struct lmdb_be *b)
{
	MDB_txn *txn;
	int rc;

	rc = sg_mdb_errno(mdb_txn_begin(b->env, NULL, MDB_RDONLY, &txn));
	if (rc == 0)
		rc = dbs_in(b, txn, 0);
	if (rc != -ENOENT)
		return rc;
	rc = sg_mdb_errno(mdb_txn_begin(b->env, NULL, 0, &txn));
	return rc == 0 ? dbs_in(b, txn, MDB_CREATE) : rc;
}

static int lmdb_open(const struct sg_store_params *p, void **out)
{
	struct lmdb_be *b;
	int rc;

	if (p == NULL || p->path == NULL)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	/* sealed records, but the session list itself is private too */
	if (mkdir(p->path, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	rc = sg_mdb_errno(mdb_env_create(&b->env));
	if (rc != 0)
		goto fail;
	rc = sg_mdb_errno(mdb_env_set_mapsize(
	        b->env, (size_t)(p->map_size ? p->map_size : MAP_SIZE_DEFAULT)));
	if (rc == 0)
		rc = sg_mdb_errno(mdb_env_set_maxdbs(b->env, 2));
	if (rc == 0)
		rc = sg_mdb_errno(mdb_env_open(b->env, p->path, MDB_NOTLS, 0600));
	if (rc == 0)
		rc = check_file(b->env);
	if (rc == 0)
		rc = open_dbs(b);
	if (rc != 0)
		goto fail_env;
	*out = b;
	return 0;

fail_env:
	mdb_env_close(b->env);
fail:
	free(b);
	return rc;
}

static void lmdb_close(void *be)
{
	struct lmdb_be *b = be;

	if (b->group != NULL)
		mdb_txn_abort(b->group);
	mdb_env_close(b->env);
	free(b);
}

static int lmdb_commit(void *be);

/* The open group, begun if none; a full one is committed first. */
static int group(struct lmdb_be *b)
{
	int rc;

	if (b->group != NULL && b->pending >= GROUP_MAX) {
		rc = lmdb_commit(b);
		if (rc != 0)
			return rc;
	}
	if (b->group != NULL)
		return 0;
	return sg_mdb_errno(mdb_txn_begin(b->env, NULL, 0, &b->group));
}

/*
 * After a failed write LMDB only allows the transaction to be aborted
 * (MDB_MAP_FULL and the like leave it in error): the group is lost, counted.
 */
static int write_failed(struct lmdb_be *b, int rc)
{
	mdb_txn_abort(b->group);
	b->group = NULL;
	b->dropped += b->pending;
	b->pending = 0;
	return rc;
}

/* Put key = val into dbi in the open group. */
static int group_put(struct lmdb_be *b, MDB_dbi dbi, MDB_val *key, const uint8_t *val, size_t len)
{
	MDB_val v = { .mv_size = len, .mv_data = (void *)(uintptr_t)val };
	int rc = group(b);

	if (rc != 0)
		return rc;
	rc = sg_mdb_errno(mdb_put(b->group, dbi, key, &v, 0));
	if (rc != 0)
		return write_failed(b, rc);
	b->pending++;
	return 0;
}

static int lmdb_put(void *be, uint32_t slot, const uint8_t *rec, size_t len)
{
	uint8_t kb[4];
	MDB_val key = { .mv_size = sizeof(kb), .mv_data = kb };

	sg_store_be32(kb, slot);
	return group_put(be, ((struct lmdb_be *)be)->dbi, &key, rec, len);
}

/* Delete key from dbi in the open group. */
static int group_del(struct lmdb_be *b, MDB_dbi dbi, MDB_val *key)
{
	int rc = group(b);

	if (rc != 0)
		return rc;
	rc = sg_mdb_errno(mdb_del(b->group, dbi, key, NULL));
	if (rc == -ENOENT)
		return rc; /* nothing to delete: the group goes on */
	if (rc != 0)
		return write_failed(b, rc);
	b->pending++;
	return 0;
}

static int lmdb_del(void *be, uint32_t slot)
{
	uint8_t kb[4];
	MDB_val key = { .mv_size = sizeof(kb), .mv_data = kb };

	sg_store_be32(kb, slot);
	return group_del(be, ((struct lmdb_be *)be)->dbi, &key);
}

static int lmdb_meta_put(void *be, const char *name, const uint8_t *val, size_t len)
{
	MDB_val key = { .mv_size = strlen(name), .mv_data = (void *)(uintptr_t)name };

	return group_put(be, ((struct lmdb_be *)be)->meta, &key, val, len);
}

static int lmdb_meta_del(void *be, const char *name)
{
	MDB_val key = { .mv_size = strlen(name), .mv_data = (void *)(uintptr_t)name };

	return group_del(be, ((struct lmdb_be *)be)->meta, &key);
}

/* Read name from the open group, or from what is durable when none is open. */
static int lmdb_meta_get(void *be, const char *name, uint8_t *buf, size_t cap)
{
	struct lmdb_be *b = be;
	MDB_txn *txn = b->group;
	MDB_val key = { .mv_size = strlen(name), .mv_data = (void *)(uintptr_t)name };
	MDB_val val;
	int rc;

	if (txn == NULL) {
		rc = sg_mdb_errno(mdb_txn_begin(b->env, NULL, MDB_RDONLY, &txn));
		if (rc != 0)
			return rc;
	}
	rc = sg_mdb_errno(mdb_get(txn, b->meta, &key, &val));
	if (rc == 0 && val.mv_size > cap)
		rc = -ENOBUFS;
	if (rc == 0) {
		memcpy(buf, val.mv_data, val.mv_size);
		rc = (int)val.mv_size;
	}
	if (txn != b->group)
		mdb_txn_abort(txn);
	return rc;
}

static int lmdb_commit(void *be)
{
	struct lmdb_be *b = be;
	struct timespec ts;
	int rc;

	if (b->group == NULL)
		return 0;
	rc = sg_mdb_errno(mdb_txn_commit(b->group)); /* frees the txn even when it fails */
	b->group = NULL;
	if (rc != 0) {
		b->dropped += b->pending;
		b->pending = 0;
		return rc;
	}
	b->pending = 0;
	b->commits++;
	clock_gettime(CLOCK_REALTIME, &ts);
	b->last_commit = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return 0;
}

static int lmdb_iterate(void *be, sg_store_raw_fn fn, void *arg)
{
	struct lmdb_be *b = be;
	MDB_txn *txn = b->group;
	MDB_cursor *cur;
	MDB_val key, val;
	int rc, mrc;

	if (txn == NULL) {
		rc = sg_mdb_errno(mdb_txn_begin(b->env, NULL, MDB_RDONLY, &txn));
		if (rc != 0)
			return rc;
	}
	rc = sg_mdb_errno(mdb_cursor_open(txn, b->dbi, &cur));
	if (rc != 0)
		goto out;
	for (mrc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); mrc == MDB_SUCCESS && rc == 0;
	     mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		/* a key of another size is not ours: skip it rather than guess a slot */
		if (key.mv_size != 4)
			continue;
		rc = fn(sg_load_be32(key.mv_data), val.mv_data, val.mv_size, arg);
	}
	if (rc == 0 && mrc != MDB_NOTFOUND)
		rc = sg_mdb_errno(mrc);
	mdb_cursor_close(cur);
out:
	if (txn != b->group)
		mdb_txn_abort(txn);
	return rc;
}

static void lmdb_stats(void *be, struct sg_store_backend_stats *st)
{
	struct lmdb_be *b = be;
	MDB_txn *txn;
	MDB_stat ms;
	MDB_envinfo info;

	memset(st, 0, sizeof(*st));
	st->pending = b->pending;
	st->dropped = b->dropped;
	st->commits = b->commits;
	st->last_commit = b->last_commit;
	if (mdb_txn_begin(b->env, NULL, MDB_RDONLY, &txn) == MDB_SUCCESS) {
		if (mdb_stat(txn, b->dbi, &ms) == MDB_SUCCESS)
			st->records = ms.ms_entries;
		mdb_txn_abort(txn);
	}
	if (mdb_env_info(b->env, &info) == MDB_SUCCESS && mdb_env_stat(b->env, &ms) == MDB_SUCCESS)
		st->size = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
}

const struct sg_store_ops sg_store_lmdb_ops = {
	.name = "lmdb",
	.open = lmdb_open,
	.put = lmdb_put,
	.del = lmdb_del,
	.commit = lmdb_commit,
	.iterate = lmdb_iterate,
	.stats = lmdb_stats,
	.close = lmdb_close,
	.meta_put = lmdb_meta_put,
	.meta_get = lmdb_meta_get,
	.meta_del = lmdb_meta_del,
};
