/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session store's writer thread (sg_store_writer_start(),
 * docs/restart.md "The writer thread"): the backend's puts, deletes and
 * commits (LMDB's B-tree work and the fsync) off the gateway thread.
 *
 * Two threads, one queue. The gateway thread (the producer) appends the
 * already sealed bytes of each write to an open batch; sg_store_commit()
 * closes the batch and pushes it onto a single-producer single-consumer
 * ring of batch pointers (C11 atomics, no lock: the gateway never waits).
 * The writer thread (the consumer, "sg-store") takes every batch queued,
 * applies them with the backend's ops in queue order and commits once for
 * all of them (one fsync), then releases their ring slots. Only the writer
 * touches the backend while it runs; its counters reach the gateway thread
 * as atomics published after each commit.
 *
 * Bound: queued plus open bytes stay under queue_max. Beyond it a put is
 * not queued: its slot's delete is queued instead (counted in dropped and
 * refused -ENOBUFS), so a crash never restores a record older than the
 * floors the workers went on from; deletes and meta writes (small, and the
 * ones a restore must see) are kept up to an eighth more, then dropped too.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/time.h>

#include "store_priv.h"

#define RING_N        1024        /* batches queued at most (a power of two) */
#define APPLY_MAX     64          /* batches applied under one commit at most */
#define BATCH_MIN     (64u << 10) /* first size of a batch buffer */
#define ENTRY_HDR     12          /* op, name length, 2 unused, slot BE32, length BE32 */
#define QUEUE_MAX     (UINT64_C(256) << 20)
#define THREAD_NAME   "sg-store"
#define FLUSH_POLL_NS 1000000L

enum wop {
	WOP_PUT = 1,
	WOP_DEL = 2,
	WOP_META_PUT = 3,
	WOP_META_DEL = 4,
};

/* The writes of one group, in order: entries of ENTRY_HDR + name + value bytes. */
struct wbatch {
	size_t len, cap;
	uint64_t nops;
	uint8_t data[];
};

struct sg_store_writer {
	struct sg_store *st;
	pthread_t thread;
	sem_t wake;
	atomic_bool stop;
	uint64_t queue_max;
	/* the ring: slots [done, head) hold queued batches */
	struct wbatch *ring[RING_N];
	_Atomic uint64_t head;     /* producer: batches pushed */
	_Atomic uint64_t done;     /* consumer: batches committed (their slots free) */
	_Atomic uint64_t bytes;    /* bytes in queued batches */
	_Atomic uint64_t ops_done; /* writes applied and committed (or lost with a commit) */
	/* a committed batch's buffer, wiped, kept for the next (no fresh pages per batch) */
	struct wbatch *_Atomic spare;
	/* the backend's counters, published by the writer after each commit */
	_Atomic uint64_t records, commits, last_commit, size, be_dropped, commit_errors;
	/* producer only */
	struct wbatch *open;
	uint64_t open_ns;       /* sg_mono_ns() of the open batch's first write */
	uint64_t t0[RING_N];    /* first-write time of each queued batch */
	uint64_t ops_queued;    /* writes pushed */
	uint64_t queue_dropped; /* writes refused at the bound */
};

/* Room for need more bytes in the open batch (made when none). 0 or -ENOMEM. */
static int batch_room(struct sg_store_writer *w, size_t need)
{
	struct wbatch *b = w->open, *nb;
	size_t cap = b != NULL ? b->cap : 0;

	if (b != NULL && b->len + need <= b->cap)
		return 0;
	if (b == NULL) {
		b = atomic_exchange_explicit(&w->spare, NULL, memory_order_acquire);
		cap = b != NULL ? b->cap : 0;
		if (b != NULL && need <= cap) {
			b->len = 0;
			b->nops = 0;
			w->open = b;
			w->open_ns = sg_mono_ns();
			return 0;
		}
		free(b);
		b = NULL;
		cap = 0;
	}
	while (cap < (b != NULL ? b->len : 0) + need)
		cap = cap != 0 ? cap * 2 : BATCH_MIN;
	nb = realloc(b, sizeof(*nb) + cap);
	if (nb == NULL)
		return -ENOMEM;
	if (b == NULL) {
		nb->len = 0;
		nb->nops = 0;
		w->open_ns = sg_mono_ns();
	}
	nb->cap = cap;
	w->open = nb;
	return 0;
}

static int append(struct sg_store_writer *w, enum wop op, uint32_t slot, const char *name,
                  const uint8_t *val, size_t len)
{
	size_t nlen = name != NULL ? strlen(name) : 0;
	uint8_t *p;
	int rc = batch_room(w, ENTRY_HDR + nlen + len);

	if (rc != 0)
		return rc;
	p = w->open->data + w->open->len;
	p[0] = (uint8_t)op;
	p[1] = (uint8_t)nlen;
	p[2] = p[3] = 0;
	sg_store_be32(p + 4, slot);
	sg_store_be32(p + 8, (uint32_t)len);
	if (nlen > 0)
		memcpy(p + ENTRY_HDR, name, nlen);
	if (len > 0)
		memcpy(p + ENTRY_HDR + nlen, val, len);
	w->open->len += ENTRY_HDR + nlen + len;
	w->open->nops++;
	return 0;
}

/* Bytes the queue holds now: queued batches and the open one. Producer. */
static uint64_t held(struct sg_store_writer *w)
{
	return atomic_load_explicit(&w->bytes, memory_order_relaxed) +
	       (w->open != NULL ? w->open->len : 0);
}

int sg_store_wq_add(struct sg_store_writer *w, unsigned op, uint32_t slot, const char *name,
                    const uint8_t *val, size_t len)
{
	size_t need = ENTRY_HDR + (name != NULL ? strlen(name) : 0) + len;
	uint64_t h = held(w);

	if (h + need <= w->queue_max)
		return append(w, (enum wop)op, slot, name, val, len);
	if (op == WOP_PUT) {
		/* Not queued: the slot's stored copy goes too, so no stale floor outlives it. */
		w->queue_dropped++;
		if (h + ENTRY_HDR <= w->queue_max + w->queue_max / 8)
			append(w, WOP_DEL, slot, NULL, NULL, 0);
		return -ENOBUFS;
	}
	if (h + need <= w->queue_max + w->queue_max / 8 &&
	    append(w, (enum wop)op, slot, name, val, len) == 0)
		return 0;
	w->queue_dropped++;
	return -ENOBUFS;
}

int sg_store_wq_commit(struct sg_store_writer *w)
{
	uint64_t head = atomic_load_explicit(&w->head, memory_order_relaxed);
	uint64_t done = atomic_load_explicit(&w->done, memory_order_acquire);

	if (w->open == NULL)
		return 0;
	if (head - done == RING_N)
		return 0; /* the ring is full: the batch stays open and grows (bounded) */
	w->ring[head % RING_N] = w->open;
	w->t0[head % RING_N] = w->open_ns;
	w->ops_queued += w->open->nops;
	atomic_fetch_add_explicit(&w->bytes, w->open->len, memory_order_relaxed);
	w->open = NULL;
	atomic_store_explicit(&w->head, head + 1, memory_order_release);
	sem_post(&w->wake);
	return 0;
}

/* One batch's writes through the backend, in order. Writer thread. */
static void apply(struct sg_store *st, const struct wbatch *b)
{
	char name[SG_STORE_META_NAME_MAX + 1];
	size_t off = 0;

	while (off + ENTRY_HDR <= b->len) {
		const uint8_t *p = b->data + off;
		size_t nlen = p[1];
		uint32_t slot = sg_load_be32(p + 4), len = sg_load_be32(p + 8);
		const uint8_t *val = p + ENTRY_HDR + nlen;

		memcpy(name, p + ENTRY_HDR, nlen);
		name[nlen] = '\0';
		/* A failed write loses the backend's open group; it counts that (dropped). */
		switch ((enum wop)p[0]) {
		case WOP_PUT:
			st->ops->put(st->be, slot, val, len);
			break;
		case WOP_DEL:
			st->ops->del(st->be, slot); /* -ENOENT: nothing was stored there */
			break;
		case WOP_META_PUT:
			st->ops->meta_put(st->be, name, val, len);
			break;
		case WOP_META_DEL:
			st->ops->meta_del(st->be, name);
			break;
		}
		off += ENTRY_HDR + nlen + len;
	}
}

/* The backend's counters for the gateway thread, after a commit. Writer thread. */
static void publish(struct sg_store_writer *w, int commit_rc)
{
	struct sg_store_backend_stats s;

	w->st->ops->stats(w->st->be, &s);
	atomic_store_explicit(&w->records, s.records, memory_order_relaxed);
	atomic_store_explicit(&w->commits, s.commits, memory_order_relaxed);
	atomic_store_explicit(&w->last_commit, s.last_commit, memory_order_relaxed);
	atomic_store_explicit(&w->size, s.size, memory_order_relaxed);
	atomic_store_explicit(&w->be_dropped, s.dropped, memory_order_relaxed);
	if (commit_rc != 0)
		atomic_fetch_add_explicit(&w->commit_errors, 1, memory_order_relaxed);
}

/* Apply the batches queued in [tail, head) (at most APPLY_MAX), commit once, release them. */
static void drain(struct sg_store_writer *w, uint64_t tail, uint64_t head)
{
	uint64_t n = head - tail < APPLY_MAX ? head - tail : APPLY_MAX, bytes = 0, ops = 0;

	for (uint64_t i = 0; i < n; i++)
		apply(w->st, w->ring[(tail + i) % RING_N]);
	publish(w, w->st->ops->commit(w->st->be));
	for (uint64_t i = 0; i < n; i++) {
		struct wbatch *b = w->ring[(tail + i) % RING_N];

		bytes += b->len;
		ops += b->nops;
		sg_wipe(b->data, b->len); /* sealed, but no buffer keeps records */
		free(atomic_exchange_explicit(&w->spare, b, memory_order_release));
	}
	atomic_fetch_sub_explicit(&w->bytes, bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->ops_done, ops, memory_order_relaxed);
	atomic_store_explicit(&w->done, tail + n, memory_order_release);
}

static void *writer_main(void *arg)
{
	struct sg_store_writer *w = arg;
	struct sched_param sp = { .sched_priority = 0 };

	/*
	 * SCHED_BATCH: a wake-up by the gateway's commit never preempts the
	 * thread that woke it when both share a CPU (the gateway would stall for
	 * the writer's whole drain); best effort, the normal policy otherwise.
	 */
	pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);

	for (;;) {
		uint64_t tail = atomic_load_explicit(&w->done, memory_order_relaxed);
		uint64_t head = atomic_load_explicit(&w->head, memory_order_acquire);

		if (tail != head) {
			drain(w, tail, head);
			continue;
		}
		if (atomic_load_explicit(&w->stop, memory_order_acquire))
			break;
		while (sem_wait(&w->wake) != 0 && errno == EINTR)
			;
	}
	return NULL;
}

static int spawn_pthread(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg,
                         void *spawn_arg)
{
	int rc = pthread_create(thread, NULL, fn, arg);

	(void)spawn_arg;
	if (rc != 0)
		return -rc;
	pthread_setname_np(*thread, name);
	return 0;
}

int sg_store_writer_start(struct sg_store *st, const struct sg_store_writer_params *p)
{
	struct sg_store_writer *w;
	int rc;

	if (st->w != NULL)
		return -EALREADY;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->st = st;
	w->queue_max = p != NULL && p->queue_max != 0 ? p->queue_max : QUEUE_MAX;
	if (sem_init(&w->wake, 0, 0) != 0) {
		free(w);
		return -errno;
	}
	/* What the gateway wrote before the start is durable first: the writer owns the backend. */
	rc = st->ops->commit(st->be);
	if (rc == 0)
		publish(w, 0);
	if (rc == 0)
		rc = (p != NULL && p->spawn != NULL ? p->spawn : spawn_pthread)(
		        &w->thread, THREAD_NAME, writer_main, w, p != NULL ? p->spawn_arg : NULL);
	if (rc != 0) {
		sem_destroy(&w->wake);
		free(w);
		return rc;
	}
	st->w = w;
	return 0;
}

int sg_store_flush(struct sg_store *st, unsigned timeout_ms)
{
	struct sg_store_writer *w = st->w;
	uint64_t deadline = sg_mono_ns() + (uint64_t)timeout_ms * 1000000;
	uint64_t errors;
	struct timespec nap = { .tv_nsec = FLUSH_POLL_NS };

	if (w == NULL)
		return st->ops->commit(st->be);
	errors = atomic_load_explicit(&w->commit_errors, memory_order_relaxed);
	for (;;) {
		sg_store_wq_commit(w); /* the open batch, once the ring has room */
		if (w->open == NULL && atomic_load_explicit(&w->done, memory_order_acquire) ==
		                               atomic_load_explicit(&w->head, memory_order_relaxed))
			break;
		if (sg_mono_ns() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&nap, NULL);
	}
	return atomic_load_explicit(&w->commit_errors, memory_order_relaxed) != errors ? -EIO : 0;
}

void sg_store_wq_close(struct sg_store_writer *w)
{
	struct timespec nap = { .tv_nsec = FLUSH_POLL_NS };

	/* Everything written is queued (the ring drains, so room comes), then the writer ends. */
	while (sg_store_wq_commit(w), w->open != NULL)
		nanosleep(&nap, NULL);
	atomic_store_explicit(&w->stop, true, memory_order_release);
	sem_post(&w->wake);
	pthread_join(w->thread, NULL);
	sem_destroy(&w->wake);
	free(atomic_load_explicit(&w->spare, memory_order_relaxed));
	free(w);
}

void sg_store_wq_stats(struct sg_store_writer *w, struct sg_store_stats *out)
{
	uint64_t done = atomic_load_explicit(&w->done, memory_order_acquire);
	uint64_t head = atomic_load_explicit(&w->head, memory_order_relaxed);
	uint64_t oldest = done != head ? w->t0[done % RING_N] : w->open != NULL ? w->open_ns : 0;
	uint64_t be_dropped = atomic_load_explicit(&w->be_dropped, memory_order_relaxed);

	out->be.records = atomic_load_explicit(&w->records, memory_order_relaxed);
	out->be.commits = atomic_load_explicit(&w->commits, memory_order_relaxed);
	out->be.last_commit = atomic_load_explicit(&w->last_commit, memory_order_relaxed);
	out->be.size = atomic_load_explicit(&w->size, memory_order_relaxed);
	out->be.pending = (w->open != NULL ? w->open->nops : 0) + w->ops_queued -
	                  atomic_load_explicit(&w->ops_done, memory_order_relaxed);
	out->be.dropped = be_dropped + w->queue_dropped;
	out->queue_dropped = w->queue_dropped;
	out->queued_bytes = held(w);
	out->lag_ms = oldest != 0 ? (sg_mono_ns() - oldest) / 1000000 : 0;
	out->writer = 1;
}
