/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway thread's loop (main lcore; docs/architecture.md, "Threads").
 * Each round: the gateway's share of the data plane's work (punted
 * handshakes, timers, ending sessions, sweeps), the control commands that
 * touch the gateway's state (the owner queue the management thread fills),
 * a step of what a management command waits for (sg_mgmt_gateway_poll()),
 * then a sleep of at most a millisecond in poll(2) on the signalfd and both
 * queues' eventfds. Every few hundred ms the telemetry snapshot; every
 * second the status line. SIGINT and SIGTERM are read from the signalfd
 * (blocked in every thread), so a signal never interrupts a worker.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>

#include <stormgate/time.h>

#include "daemon_priv.h"
#include "sg_log.h"

/* Punted datagrams are not an fd: the loop comes back at least this often. */
#define ROUND_MS 1

/* The telemetry snapshot is refreshed this often. */
#define TICK_MS 250

/*
 * Control commands run per round, at most. Each is a bounded piece of work
 * (a page of sessions.list, `stats`, a policy change: well under a
 * millisecond), so a burst of them delays the punted handshakes by a few at
 * most, while one client's commands still run a thousand a second.
 */
#define OWNER_PER_ROUND 4

/* After asking the management thread to stop: how long before saying we still wait. */
#define STOP_WARN_MS 5000

void daemon_show_status(struct daemon *d, int final)
{
	char line[1024];

	sg_gateway_status_line(d->gw, line, sizeof(line));
	if (d->tty)
		printf("\r\033[K%s%s", line, final ? "\n" : "");
	else
		printf("%s\n", line);
	fflush(stdout);
}

/*
 * One round, sleeping at most timeout_ms once the work is done. Returns 0,
 * the number of a signal read from the signalfd, or -errno (poll failed).
 */
static int round_once(struct daemon *d, int timeout_ms)
{
	struct pollfd pfd[3] = {
		{ .fd = d->sfd, .events = POLLIN },
		{ .fd = sg_ctl_owner_fd(d->owner), .events = POLLIN },
		{ .fd = sg_mgmt_gateway_fd(d->mgmt), .events = POLLIN },
	};
	struct signalfd_siginfo si;
	int n;

	sg_gateway_poll(d->gw);
	sg_ctl_owner_poll(d->owner, OWNER_PER_ROUND);
	sg_mgmt_gateway_poll(d->mgmt);
	n = poll(pfd, 3, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n > 0 && (pfd[0].revents & POLLIN) &&
	    read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		return (int)si.ssi_signo;
	return 0;
}

/*
 * The management thread ends: it flushes its answers, some of which the
 * owner queue still has to run (`shutdown` answers with what the save
 * wrote), and may wait for a revocation here. Serve both (and the gateway's
 * poll, the workers stopped) until it is gone.
 */
void daemon_stop_mgmt(struct daemon *d)
{
	uint64_t warn = sg_mono_ms() + STOP_WARN_MS;

	sg_mgmt_thread_stop(d->mgmt);
	while (sg_mgmt_thread_running(d->mgmt)) {
		if (round_once(d, ROUND_MS) < 0)
			break;
		if (warn != 0 && sg_mono_ms() >= warn) {
			SG_LOG(MAIN, WARNING,
			       "the management thread has not stopped after %d s (an LMDB write "
			       "of another process?): waiting for it",
			       STOP_WARN_MS / 1000);
			warn = 0;
		}
	}
	sg_mgmt_thread_join(d->mgmt);
}

const char *daemon_loop(struct daemon *d)
{
	uint64_t start = sg_mono_ms();
	uint64_t deadline = d->o->duration_s ? start + (uint64_t)d->o->duration_s * 1000 : 0;
	uint64_t next_status = start + 1000, next_tick = start + TICK_MS;
	const char *why = NULL;

	while (why == NULL) {
		uint64_t now = sg_mono_ms(), wake = now + ROUND_MS;
		int rc;

		if (deadline && now >= deadline) {
			why = "--duration elapsed";
			break;
		}
		if (sg_mgmt_shutdown_requested(d->mgmt)) {
			why = "stormctl shutdown";
			break;
		}
		if (!sg_mgmt_thread_running(d->mgmt)) {
			why = "the management thread failed";
			break;
		}
		if (d->show && now >= next_status) {
			daemon_show_status(d, 0);
			next_status = next_status + 1000 > now ? next_status + 1000 : now + 1000;
		}
		if (deadline && deadline < wake)
			wake = deadline;
		rc = round_once(d, wake > now ? (int)(wake - now) : 0);
		if (rc < 0) {
			SG_LOG(MAIN, ERR, "poll: %s", strerror(-rc));
			why = "poll failure";
		} else if (rc > 0) {
			why = rc == SIGINT ? "SIGINT" : "SIGTERM";
		}
		if (now >= next_tick) {
			sg_mgmt_telemetry_update(d->mgmt);
			next_tick = now + TICK_MS;
		}
	}
	return why;
}
