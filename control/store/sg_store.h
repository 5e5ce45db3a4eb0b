/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session store: installed sessions kept as sealed records
 * (sg_store_rec.h) by slot, written in group commits and read back at
 * start. Nothing outside control/store/ knows the backend: the embedded
 * default is LMDB (store_lmdb.c); a Redis backend comes next (issue 18)
 * behind the same struct sg_store_ops.
 *
 * Thread: the control plane (the gateway thread) alone opens, writes,
 * commits, iterates and closes a store; sg_store_stats() too. After
 * sg_store_writer_start() the backend's writes and commits run on the
 * store's own writer thread, "sg-store" (store_writer.c): the gateway
 * thread only seals and queues. docs/restart.md has the design.
 */
#ifndef STORMGATE_CONTROL_SG_STORE_H
#define STORMGATE_CONTROL_SG_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sg_store_key.h"
#include "sg_store_rec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where and how to open a store; zero fields take the documented default. */
struct sg_store_params {
	const char *path;  /* backend location (LMDB: a directory, made 0700 when missing) */
	uint64_t map_size; /* LMDB: largest size of the file in bytes; 0: 4 GiB */
};

/* Counters of the backend: what `stormctl store` will show. */
struct sg_store_backend_stats {
	uint64_t records;     /* sessions stored, as of the last commit */
	uint64_t pending;     /* puts and deletes written since, not yet durable (the lag) */
	uint64_t dropped;     /* puts and deletes lost with a group that failed */
	uint64_t commits;     /* group commits done */
	uint64_t last_commit; /* Unix ms of the last commit; 0: none yet */
	uint64_t size;        /* bytes the store's file uses */
};

/*
 * With a writer running, be.pending counts the writes not yet durable
 * (the open batch, the queued ones, the one being committed) and
 * be.dropped adds the writes refused at the queue bound (queue_dropped).
 */
struct sg_store_stats {
	struct sg_store_backend_stats be;
	int writer;             /* a writer thread runs (sg_store_writer_start()) */
	uint64_t queue_dropped; /* writes refused at the queue bound (in be.dropped too) */
	uint64_t queued_bytes;  /* bytes of the open and the queued batches */
	uint64_t lag_ms;        /* age of the oldest write not yet durable; 0: none */
	uint64_t puts;          /* records sealed and written */
	uint64_t dels;          /* deletes written */
	uint64_t restored;      /* records the last iteration handed back */
	uint64_t expired;       /* records the last iteration skipped as past their deadline */
	uint64_t refused[SG_STORE_BAD_MAX]; /* records the last iteration refused, by reason */
};

/*
 * Receives one raw record in a backend's iteration (store key slot, len
 * bytes at rec, valid during the call). Return 0 to go on, anything else
 * stops the iteration and is returned by it.
 */
typedef int (*sg_store_raw_fn)(uint32_t slot, const uint8_t *rec, size_t len, void *arg);

/*
 * A backend. Every op runs on the control plane. put and del take effect in
 * the open group and are durable only after commit returns 0; a put over an
 * existing slot replaces it. A backend may commit a large group on its own
 * before a put (LMDB: every GROUP_MAX writes). A put, a del other than
 * -ENOENT or a commit that fails loses the whole open group (counted in
 * dropped): what was committed before stays. iterate walks what is durable
 * plus the open group, in slot order; fn must not write to the store.
 * Errors are -errno (-ENOSPC: the store is full).
 */
struct sg_store_ops {
	const char *name; /* "lmdb" */
	int (*open)(const struct sg_store_params *params, void **be);
	int (*put)(void *be, uint32_t slot, const uint8_t *rec, size_t len);
	int (*del)(void *be, uint32_t slot); /* -ENOENT: nothing stored there */
	int (*commit)(void *be);
	int (*iterate)(void *be, sg_store_raw_fn fn, void *arg);
	void (*stats)(void *be, struct sg_store_backend_stats *st);
	void (*close)(void *be); /* drops an uncommitted group */
	/*
	 * Meta records: small named values beside the sessions (sealed by the
	 * front), written in the same group as the sessions' puts and deletes
	 * (LMDB: a second named database "meta" in the same environment and
	 * write transaction). name: 1..SG_STORE_META_NAME_MAX bytes, NUL-ended.
	 * meta_get reads the open group too; it returns the stored length,
	 * -ENOENT, or -ENOBUFS when it is over cap (nothing copied).
	 */
	int (*meta_put)(void *be, const char *name, const uint8_t *val, size_t len);
	int (*meta_get)(void *be, const char *name, uint8_t *buf, size_t cap);
	int (*meta_del)(void *be, const char *name); /* -ENOENT: nothing stored */
};

/* The embedded LMDB backend (store_lmdb.c). */
extern const struct sg_store_ops sg_store_lmdb_ops;

struct sg_store;

/*
 * Open a store with backend ops (NULL: LMDB) at params, sealing under key
 * (copied; the caller wipes its own). Returns the store, or NULL with errno
 * set (the backend's error; EIO: the CSPRNG failed).
 */
struct sg_store *sg_store_open(const struct sg_store_ops *ops, const struct sg_store_params *params,
                               const struct sg_store_key *key);

/*
 * Without a writer: commit nothing, close the backend. With one: queue the
 * open batch, wait until the writer applied and committed everything
 * queued, join it, then close the backend. Then wipe the key and free st.
 * NULL is fine.
 */
void sg_store_close(struct sg_store *st);

/*
 * Starts a thread named name running fn(arg): thread filled, 0 or -errno.
 * The gateway passes one that makes a DPDK control thread.
 */
typedef int (*sg_store_spawn_fn)(pthread_t *thread, const char *name, void *(*fn)(void *),
                                 void *arg, void *spawn_arg);

struct sg_store_writer_params {
	uint64_t queue_max;      /* bytes the open and queued batches may hold; 0: 256 MiB */
	sg_store_spawn_fn spawn; /* NULL: pthread_create() */
	void *spawn_arg;
};

/*
 * Commit what is open, then hand the backend to a writer thread (named
 * "sg-store"): from now on sg_store_put/del/meta_put/meta_del seal on the
 * calling thread and append to a batch, sg_store_commit() queues the batch
 * (it never waits and returns 0; the writer commits, one fsync for every
 * batch it finds queued), and sg_store_iterate()/sg_store_meta_get() return
 * -EBUSY: read meta and restore before the start. A write over the queue
 * bound returns -ENOBUFS and is counted (a put's slot is deleted instead,
 * deletes and meta writes have a reserve of an eighth more); a delete of
 * a slot that holds nothing returns 0. p may be NULL (defaults). 0,
 * -EALREADY, or -errno (the commit, the thread). Gateway thread.
 */
int sg_store_writer_start(struct sg_store *st, const struct sg_store_writer_params *p);

/*
 * Queue the open batch and wait until everything queued is committed, at
 * most timeout_ms: for a clean stop (the caller may wait). Without a writer
 * it is sg_store_commit(). 0, -ETIMEDOUT, or -EIO when a commit of the
 * writer failed meanwhile (those writes are in be.dropped). Gateway thread.
 */
int sg_store_flush(struct sg_store *st, unsigned timeout_ms);

/*
 * Seal rec and write it under slot into the open group (replacing what the
 * slot held). 0, -EINVAL (a field out of range), -ENOBUFS (writer: over the
 * queue bound), or the backend's -errno.
 */
int sg_store_put(struct sg_store *st, uint32_t slot, const struct sg_store_rec *rec);

/* Delete slot's record in the open group. 0, -ENOENT (no writer), or the backend's -errno. */
int sg_store_del(struct sg_store *st, uint32_t slot);

/*
 * Make the open group durable (one fsync for all its puts and deletes).
 * 0 or -errno; a failed commit loses the group (sg_store_ops). With a
 * writer: queue it (durable once the writer committed it) and return 0.
 */
int sg_store_commit(struct sg_store *st);

/*
 * Receives one verified record for restore: valid during the call, wiped
 * after it (copy what is kept). Return 0 to go on, anything else stops.
 */
typedef int (*sg_store_rec_fn)(uint32_t slot, const struct sg_store_rec *rec, void *arg);

/*
 * Open every stored record and hand each that verifies, and whose deadline
 * (expires) is not at or before now (Unix s; 0: keep all), to fn. A record
 * that does not verify is refused and counted by reason
 * (sg_store_stats().refused), never handed on; the others still come back.
 * Resets restored, expired and refused first. fn must not write to st.
 * Returns 0, fn's non-zero value, or the backend's -errno.
 */
int sg_store_iterate(struct sg_store *st, uint64_t now, sg_store_rec_fn fn, void *arg);

/* Longest meta name, in bytes (without the NUL). */
#define SG_STORE_META_NAME_MAX 31
/* Largest meta value, in bytes. */
#define SG_STORE_META_MAX 65535

/*
 * Meta records: named secrets and settings beside the sessions (the CID
 * key, ticket keys, cookie secrets, the live policy overrides, the clean
 * stop marker, the floors' step and margin: docs/restart.md), sealed like
 * the sessions under the store key with the AAD bound to "meta:" and the
 * name, and written in the same group commits (durable after
 * sg_store_commit()). name: 1..SG_STORE_META_NAME_MAX bytes.
 */

/* Seal and write val (len <= SG_STORE_META_MAX) as name. 0, -EINVAL or the backend's -errno. */
int sg_store_meta_put(struct sg_store *st, const char *name, const uint8_t *val, size_t len);

/*
 * Read name into buf (cap bytes). Returns its length, -ENOENT (none),
 * -ENOBUFS (over cap), -EINVAL (a bad name), or the -errno of the refusal
 * (enum sg_store_bad: damaged, another key, a version this build does not
 * read); buf holds nothing unauthenticated after a failure.
 */
int sg_store_meta_get(struct sg_store *st, const char *name, uint8_t *buf, size_t cap);

/* Delete name in the open group. 0, -ENOENT, -EINVAL or the backend's -errno. */
int sg_store_meta_del(struct sg_store *st, const char *name);

/* Fill out with st's counters (with a writer: what it published last). */
void sg_store_stats(struct sg_store *st, struct sg_store_stats *out);

/* The backend's name ("lmdb"). */
const char *sg_store_backend(const struct sg_store *st);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_STORE_H */
