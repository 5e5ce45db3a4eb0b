/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Calls from the management thread into the gateway thread (gw_calls.h).
 *
 * Two threads meet here, under one mutex: callers (the management thread)
 * in mgmt_call(), the poller (the gateway thread) in mgmt_calls_poll() and
 * mgmt_calls_close(). A caller's arg passes whole from one to the other:
 * written by the caller before it publishes fn under the lock, used by the
 * poller's function only between taking fn and setting done, both under the
 * lock, read again by the caller after it sees done under the lock. The
 * eventfd is readable from the moment a call is published until it is over,
 * so the poller may sleep in poll(2); its empty check is one atomic load.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "gw_calls.h"

int mgmt_calls_init(struct mgmt_calls *c)
{
	int rc;

	c->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	rc = pthread_mutex_init(&c->lock, NULL);
	if (rc == 0) {
		rc = pthread_cond_init(&c->cv, NULL);
		if (rc != 0)
			pthread_mutex_destroy(&c->lock);
	}
	if (rc != 0) {
		close(c->fd);
		return -rc;
	}
	c->poller = pthread_self();
	c->fn = NULL;
	c->arg = NULL;
	c->done = c->closed = 0;
	c->busy = 0;
	return 0;
}

void mgmt_calls_fini(struct mgmt_calls *c)
{
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->lock);
	close(c->fd);
}

static void fd_raise(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));

	(void)n; /* cannot fail below 2^64 - 1 */
}

static void fd_clear(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));

	(void)n; /* EAGAIN: already clear */
}

int mgmt_call(struct mgmt_calls *c, mgmt_call_fn *fn, void *arg)
{
	int rc;

	if (pthread_equal(pthread_self(), c->poller)) {
		while (fn(arg) == MGMT_CALL_AGAIN)
			;
		return 0;
	}
	pthread_mutex_lock(&c->lock);
	while (c->fn != NULL && !c->closed)
		pthread_cond_wait(&c->cv, &c->lock); /* another caller's turn */
	if (c->closed) {
		pthread_mutex_unlock(&c->lock);
		return -ESHUTDOWN;
	}
	c->fn = fn;
	c->arg = arg;
	c->done = 0;
	__atomic_store_n(&c->busy, 1, __ATOMIC_RELEASE);
	fd_raise(c->fd);
	while (!c->done && !c->closed)
		pthread_cond_wait(&c->cv, &c->lock);
	rc = c->done ? 0 : -ESHUTDOWN;
	c->fn = NULL;
	c->arg = NULL;
	__atomic_store_n(&c->busy, 0, __ATOMIC_RELAXED);
	fd_clear(c->fd);
	pthread_cond_broadcast(&c->cv); /* the next caller */
	pthread_mutex_unlock(&c->lock);
	return rc;
}

unsigned mgmt_calls_poll(struct mgmt_calls *c)
{
	mgmt_call_fn *fn;
	void *arg;

	if (__atomic_load_n(&c->busy, __ATOMIC_ACQUIRE) == 0)
		return 0;
	pthread_mutex_lock(&c->lock);
	fn = c->done || c->closed ? NULL : c->fn;
	arg = c->arg;
	pthread_mutex_unlock(&c->lock);
	if (fn == NULL)
		return 0;
	if (fn(arg) == MGMT_CALL_AGAIN)
		return 1;
	pthread_mutex_lock(&c->lock);
	c->done = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock);
	return 1;
}

void mgmt_calls_close(struct mgmt_calls *c)
{
	pthread_mutex_lock(&c->lock);
	c->closed = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock);
}
