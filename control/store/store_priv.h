/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session store's front state, shared by the files of control/store/
 * that implement sg_store.h (store.c: sessions; store_meta.c: meta
 * records; store_writer.c: the writer thread). The gateway thread, and
 * the writer thread for what store_writer.c says.
 */
#ifndef STORMGATE_CONTROL_STORE_PRIV_H
#define STORMGATE_CONTROL_STORE_PRIV_H

#include "sg_store.h"

struct sg_store {
	const struct sg_store_ops *ops;
	void *be;
	struct sg_store_sealer sealer;
	struct sg_store_stats stats; /* be is filled at sg_store_stats() */
	struct sg_store_writer *w;   /* NULL: writes go straight to the backend */
};

/* The writer's ops (store_writer.c); WOP_* values of enum wop there. */
#define SG_STORE_WOP_PUT      1u
#define SG_STORE_WOP_DEL      2u
#define SG_STORE_WOP_META_PUT 3u
#define SG_STORE_WOP_META_DEL 4u

/*
 * Append one write (sealed bytes val, len; name for meta ops) to the open
 * batch. 0, -ENOBUFS (over the queue bound: dropped and counted; a put's
 * slot is deleted instead) or -ENOMEM. Gateway thread.
 */
int sg_store_wq_add(struct sg_store_writer *w, unsigned op, uint32_t slot, const char *name,
                    const uint8_t *val, size_t len);

/* Close the open batch and queue it for the writer (kept open while the ring is full). Returns 0.
 */
int sg_store_wq_commit(struct sg_store_writer *w);

/* The writer's counters into out->be and the queue fields. Gateway thread. */
void sg_store_wq_stats(struct sg_store_writer *w, struct sg_store_stats *out);

/* Queue what is open, let the writer apply everything, join it and free w. Gateway thread. */
void sg_store_wq_close(struct sg_store_writer *w);

#endif /* STORMGATE_CONTROL_STORE_PRIV_H */
