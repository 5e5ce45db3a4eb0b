/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The owner queue (sg_ctl.h; docs/control.md, "Threads"): the control
 * server's thread hands requests of SG_CTL_ON_OWNER commands to the thread
 * that owns what they touch and takes their answers back.
 *
 * Two threads meet here and only here, under one mutex: the server's
 * (submit, reap, forget, bind, unbind) and the owner's (sg_ctl_owner_poll).
 * A request moves as a whole (its parsed JSON, its answer) from one thread
 * to the other through the mutex: only one thread holds it at a time. An
 * eventfd per direction is readable exactly while its list is not empty
 * (written on the empty -> one transition, read back when it empties, both
 * under the mutex), so either side may sleep in poll(2) and the owner's
 * empty check costs one atomic load. depth entries are allocated up front;
 * an entry stays taken from submit to reap, which bounds both lists.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "ctl_owner.h"

struct entry {
	struct entry *next;
	struct sg_ctl_req req;
	void *ctx;
	void *client; /* the server's; NULL once forgotten. Written under the lock only */
	uint64_t client_id;
	json_t *resp;
};

struct fifo {
	struct entry *head, *tail;
	unsigned n;
};

struct sg_ctl_owner {
	pthread_mutex_t lock;
	struct entry *slots;
	unsigned depth;
	struct entry *free;
	struct fifo requests; /* server -> owner */
	struct fifo answers;  /* owner -> server */
	unsigned waiting;     /* requests.n, also read without the lock */
	int request_fd;       /* readable while requests wait */
	int answer_fd;        /* readable while answers wait */
	int bound;            /* a server uses the queue (one, for the queue's life) */
	int closed;           /* that server is gone: answers are freed, not queued */
};

_Thread_local uint64_t ctl_current_client;

static void fifo_push(struct fifo *f, struct entry *e)
{
	e->next = NULL;
	if (f->tail != NULL)
		f->tail->next = e;
	else
		f->head = e;
	f->tail = e;
	f->n++;
}

static struct entry *fifo_pop(struct fifo *f)
{
	struct entry *e = f->head;

	if (e == NULL)
		return NULL;
	f->head = e->next;
	if (f->head == NULL)
		f->tail = NULL;
	f->n--;
	return e;
}

static void efd_raise(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));

	(void)n; /* cannot fail below 2^64 - 1 pending */
}

static void efd_clear(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));

	(void)n; /* EAGAIN: already clear */
}

/* Back to the free list, its JSON released. Under the lock. */
static void entry_release(struct sg_ctl_owner *ow, struct entry *e)
{
	sg_ctl_req_free(&e->req);
	json_decref(e->resp);
	memset(e, 0, sizeof(*e));
	e->next = ow->free;
	ow->free = e;
}

/* Release everything ow holds; lock_ready: its mutex was initialised. */
static void owner_free(struct sg_ctl_owner *ow, int lock_ready)
{
	for (unsigned i = 0; ow->slots != NULL && i < ow->depth; i++) {
		sg_ctl_req_free(&ow->slots[i].req);
		json_decref(ow->slots[i].resp);
	}
	if (lock_ready)
		pthread_mutex_destroy(&ow->lock);
	if (ow->request_fd >= 0)
		close(ow->request_fd);
	if (ow->answer_fd >= 0)
		close(ow->answer_fd);
	free(ow->slots);
	free(ow);
}

struct sg_ctl_owner *sg_ctl_owner_create(unsigned depth)
{
	struct sg_ctl_owner *ow = depth > 0 ? calloc(1, sizeof(*ow)) : NULL;
	int e, locked;

	if (ow == NULL) {
		errno = depth > 0 ? ENOMEM : EINVAL;
		return NULL;
	}
	ow->answer_fd = -1;
	ow->request_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ow->request_fd >= 0)
		ow->answer_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	e = ow->answer_fd < 0 ? errno : pthread_mutex_init(&ow->lock, NULL);
	locked = e == 0;
	if (locked) {
		ow->slots = calloc(depth, sizeof(*ow->slots));
		ow->depth = ow->slots != NULL ? depth : 0;
		e = ow->slots != NULL ? 0 : ENOMEM;
	}
	if (e != 0) {
		owner_free(ow, locked);
		errno = e;
		return NULL;
	}
	for (unsigned i = depth; i-- > 0;) {
		ow->slots[i].next = ow->free;
		ow->free = &ow->slots[i];
	}
	return ow;
}

void sg_ctl_owner_destroy(struct sg_ctl_owner *ow)
{
	if (ow != NULL)
		owner_free(ow, 1);
}

int sg_ctl_owner_fd(const struct sg_ctl_owner *ow)
{
	return ow->request_fd;
}

unsigned sg_ctl_owner_pending(const struct sg_ctl_owner *ow)
{
	return __atomic_load_n(&ow->waiting, __ATOMIC_RELAXED);
}

int ctl_owner_answer_fd(const struct sg_ctl_owner *ow)
{
	return ow->answer_fd;
}

int ctl_owner_bind(struct sg_ctl_owner *ow)
{
	int rc = 0;

	pthread_mutex_lock(&ow->lock);
	if (ow->bound || ow->closed)
		rc = -EBUSY;
	else
		ow->bound = 1;
	pthread_mutex_unlock(&ow->lock);
	return rc;
}

void ctl_owner_unbind(struct sg_ctl_owner *ow)
{
	struct entry *e;

	pthread_mutex_lock(&ow->lock);
	while ((e = fifo_pop(&ow->requests)) != NULL)
		entry_release(ow, e);
	while ((e = fifo_pop(&ow->answers)) != NULL)
		entry_release(ow, e);
	__atomic_store_n(&ow->waiting, 0, __ATOMIC_RELAXED);
	efd_clear(ow->request_fd);
	efd_clear(ow->answer_fd);
	ow->closed = 1;
	pthread_mutex_unlock(&ow->lock);
}

int ctl_owner_submit(struct sg_ctl_owner *ow, struct sg_ctl_req *req, void *ctx, void *client,
                     uint64_t client_id)
{
	struct entry *e;

	pthread_mutex_lock(&ow->lock);
	e = ow->free;
	if (e == NULL) {
		pthread_mutex_unlock(&ow->lock);
		return -ENOBUFS;
	}
	ow->free = e->next;
	e->req = *req;
	e->ctx = ctx;
	e->client = client;
	e->client_id = client_id;
	e->resp = NULL;
	fifo_push(&ow->requests, e);
	__atomic_store_n(&ow->waiting, ow->requests.n, __ATOMIC_RELEASE);
	if (ow->requests.n == 1)
		efd_raise(ow->request_fd);
	pthread_mutex_unlock(&ow->lock);
	memset(req, 0, sizeof(*req));
	return 0;
}

int ctl_owner_reap(struct sg_ctl_owner *ow, void **client, json_t **resp)
{
	struct entry *e;

	pthread_mutex_lock(&ow->lock);
	e = fifo_pop(&ow->answers);
	if (e != NULL) {
		*client = e->client;
		*resp = e->resp;
		e->resp = NULL;
		entry_release(ow, e);
	}
	if (ow->answers.n == 0)
		efd_clear(ow->answer_fd);
	pthread_mutex_unlock(&ow->lock);
	return e != NULL;
}

void ctl_owner_forget(struct sg_ctl_owner *ow, const void *client)
{
	pthread_mutex_lock(&ow->lock);
	for (unsigned i = 0; i < ow->depth; i++)
		if (ow->slots[i].client == client)
			ow->slots[i].client = NULL;
	pthread_mutex_unlock(&ow->lock);
}

/* Take the oldest request, or NULL. The owner's thread. */
static struct entry *take(struct sg_ctl_owner *ow)
{
	struct entry *e;

	pthread_mutex_lock(&ow->lock);
	e = fifo_pop(&ow->requests);
	__atomic_store_n(&ow->waiting, ow->requests.n, __ATOMIC_RELAXED);
	if (ow->requests.n == 0)
		efd_clear(ow->request_fd);
	pthread_mutex_unlock(&ow->lock);
	return e;
}

/* Hand an answer back, or drop it when the server went away meanwhile. */
static void give_back(struct sg_ctl_owner *ow, struct entry *e)
{
	pthread_mutex_lock(&ow->lock);
	if (ow->closed) {
		entry_release(ow, e);
	} else {
		fifo_push(&ow->answers, e);
		if (ow->answers.n == 1)
			efd_raise(ow->answer_fd);
	}
	pthread_mutex_unlock(&ow->lock);
}

unsigned sg_ctl_owner_poll(struct sg_ctl_owner *ow, unsigned max)
{
	unsigned n = 0;

	while (n < max && __atomic_load_n(&ow->waiting, __ATOMIC_ACQUIRE) > 0) {
		struct entry *e = take(ow);

		if (e == NULL)
			break;
		/* Only this thread touches e until give_back(): req, ctx, resp are ours. */
		ctl_current_client = e->client_id;
		e->resp = sg_ctl_run(&e->req, e->ctx);
		ctl_current_client = 0;
		sg_ctl_req_free(&e->req);
		give_back(ow, e);
		n++;
	}
	return n;
}
