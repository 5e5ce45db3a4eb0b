/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Calls from the management thread into the gateway thread (docs/control.md,
 * "Threads"). A command that runs on the management thread but needs the
 * gateway's state for a moment (a replaced credential's sessions ended, its
 * handshakes failed, its sessions counted) hands a function to the gateway
 * thread, which polls this queue each loop, and waits for it to have run.
 * The management thread may wait for the gateway thread; never the reverse.
 *
 * One call at a time: further callers wait on the mutex for their turn. A
 * call may take several polls (its function returns MGMT_CALL_AGAIN), so a
 * large job (the revocations of a credential import) costs the gateway
 * thread a bounded piece per poll. A call made on the polling thread itself
 * runs inline. A mutex, a condition variable and an eventfd; no DPDK, so
 * tests/control/test_gw_calls.c runs it with plain threads (and under TSan).
 */
#ifndef STORMGATE_CONTROL_GW_CALLS_H
#define STORMGATE_CONTROL_GW_CALLS_H

#include <pthread.h>

#define MGMT_CALL_DONE  0 /* the call is over: its caller goes on */
#define MGMT_CALL_AGAIN 1 /* run the function again at the next poll */

/*
 * A call's function: runs on the polling thread with the caller's arg,
 * which the caller does not touch until the call is over. Returns
 * MGMT_CALL_DONE or MGMT_CALL_AGAIN.
 */
typedef int mgmt_call_fn(void *arg);

struct mgmt_calls {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	pthread_t poller; /* the thread that polls (the gateway thread) */
	int fd;           /* eventfd: readable while a call waits or runs */
	mgmt_call_fn *fn; /* the call waiting or running; NULL: none. Under the lock */
	void *arg;        /* its argument. Under the lock */
	int done;         /* its function returned MGMT_CALL_DONE. Under the lock */
	int closed;       /* the poller stopped for good. Under the lock */
	unsigned busy;    /* fn != NULL, also read without the lock (atomic) */
};

/* Set up; the calling thread is the poller from now on. 0 or -errno. */
int mgmt_calls_init(struct mgmt_calls *c);

/* Free what init made. No caller may be waiting. */
void mgmt_calls_fini(struct mgmt_calls *c);

/*
 * Have fn(arg) run on the poller's thread until it returns MGMT_CALL_DONE,
 * and wait for that (inline when the caller is the poller). Returns 0, or
 * -ESHUTDOWN when the poller stopped before the call was over (fn may have
 * run some steps: arg is the caller's again). Any thread.
 */
int mgmt_call(struct mgmt_calls *c, mgmt_call_fn *fn, void *arg);

/*
 * The poller, each loop: one step of the call waiting (one atomic load when
 * none does). Never blocks but for the function. Returns 1 when a step ran.
 */
unsigned mgmt_calls_poll(struct mgmt_calls *c);

/* The poller stops for good: callers waiting and later ones get -ESHUTDOWN. The poller. */
void mgmt_calls_close(struct mgmt_calls *c);

#endif /* STORMGATE_CONTROL_GW_CALLS_H */
