/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `shutdown`: stop the daemon cleanly and say what the session store saved
 * (docs/control.md, "shutdown"; docs/restart.md). It runs on the management
 * thread: it counts the sessions (a call into the gateway thread), asks the
 * gateway thread's loop to stop, then waits, bounded, for the clean stop's
 * save, which the daemon reports with sg_mgmt_shutdown_saved() after
 * sg_gateway_save() and before it stops this thread (the gateway thread
 * saves, and an owner command's answer goes out only once it returns, so
 * the wait cannot be there). The answer then says
 * how many sessions were saved and how long it took; when the wait runs out,
 * or the thread is told to stop first, it says how many were being saved.
 * With the store off it answers at once, as before there was one.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include <stormgate/time.h>

#include "mgmt_priv.h"
#include "sg_log.h"

/*
 * How long `shutdown` waits for the save. stormctl waits longer for this
 * answer (cli_cmds.c); a save that takes longer goes on and is logged.
 */
#define SAVE_WAIT_MS 10000

/* The gateway thread's part of the count (mgmt_call()). */
struct count_call {
	struct sg_mgmt *m;
	uint64_t sessions;
};

static int count_sessions(void *arg)
{
	struct count_call *c = arg;
	struct sg_gw_counters gc;

	sg_gateway_counters(c->m->gw, &gc);
	c->sessions = gc.sessions.live;
	return MGMT_CALL_DONE;
}

/*
 * Wait until the save is over (1), the thread is told to stop or the wait
 * runs out (0). Neither eventfd is read: both stay readable for every
 * waiter and for the thread's own loop.
 */
static int wait_saved(struct sg_mgmt *m)
{
	uint64_t end = sg_mono_ms() + SAVE_WAIT_MS, now;
	struct pollfd pfd[2] = {
		{ .fd = m->saved_fd, .events = POLLIN },
		{ .fd = m->thread.stop_fd, .events = POLLIN }, /* -1 without a thread: ignored */
	};

	while ((now = sg_mono_ms()) < end) {
		int n = poll(pfd, 2, (int)(end - now));

		if (n < 0 && errno != EINTR)
			return 0;
		if (n > 0)
			return (pfd[0].revents & POLLIN) != 0;
	}
	return 0;
}

json_t *mgmt_cmd_shutdown(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { NULL };
	struct sg_mgmt *m = ctx;
	struct count_call c = { m, 0 };
	json_t *r;
	int counted;

	if (mgmt_args_known(args, names, err) != 0)
		return NULL;
	counted = m->store_on && mgmt_call(&m->calls, count_sessions, &c) == 0;
	SG_LOG(MAIN, NOTICE, "shutdown requested on the control socket");
	__atomic_store_n(&m->shutdown_requested, 1, __ATOMIC_RELEASE);
	if (!m->store_on)
		return json_pack("{s:b}", "stopping", 1);
	if (wait_saved(m))
		return json_pack("{s:b, s:b, s:I, s:I}", "stopping", 1, "save_done", 1, "saved",
		                 (json_int_t)__atomic_load_n(&m->saved, __ATOMIC_ACQUIRE),
		                 "save_ms",
		                 (json_int_t)__atomic_load_n(&m->saved_ms, __ATOMIC_ACQUIRE));
	r = json_pack("{s:b, s:b}", "stopping", 1, "save_done", 0);
	if (r != NULL && counted)
		json_object_set_new(r, "saving", json_integer((json_int_t)c.sessions));
	return r;
}

void sg_mgmt_shutdown_saved(struct sg_mgmt *m, uint64_t saved, uint64_t ms)
{
	uint64_t one = 1;
	ssize_t n;

	__atomic_store_n(&m->saved, saved, __ATOMIC_RELEASE);
	__atomic_store_n(&m->saved_ms, ms, __ATOMIC_RELEASE);
	n = write(m->saved_fd, &one, sizeof(one));
	(void)n; /* an eventfd takes it */
}
