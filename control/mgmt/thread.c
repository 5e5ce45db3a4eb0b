/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The management thread (docs/control.md, "Threads"): a DPDK control
 * thread, "sg-mgmt", so it never runs on a worker lcore (EAL gives it the
 * CPUs no lcore uses, else the main lcore's). It serves the control socket:
 * socket I/O, the JSON codec, and the commands of the table that touch no
 * gateway state (version, credentials add / remove / import / count: the
 * CSV, the LMDB write transactions and their commits). The others go to the
 * gateway thread through the control server's owner queue, and what a
 * command here needs of the gateway goes through gw_calls.h; so an import
 * of a million lines never holds up a handshake, and the gateway thread
 * never waits for an LMDB writer. It also serves /metrics over HTTP
 * (http.c: libmicrohttpd's epoll fd in the same poll, its connections
 * non-blocking and bounded), rendered from the statistics the gateway
 * thread publishes.
 *
 * Started and stopped by the gateway thread, which polls both queues until
 * this thread has ended (it waits for their answers while flushing).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include <rte_lcore.h>

#include "mgmt_priv.h"
#include "sg_log.h"

#define THREAD_NAME "sg-mgmt"

/* Idle control clients are closed this often at the latest (control.client_timeout). */
#define TICK_MS 250

/* At stop, the answers still unsent (shutdown's among them) get this long. */
#define FLUSH_MS 1000

/*
 * The thread's nice value, above the gateway thread's: where the two share
 * a CPU (a machine with no core left beside the lcores, such as the
 * two-core benchmarks of docs/performance.md), the kernel gives the gateway
 * thread, which answers devices, about three quarters of it while an
 * import runs; with a free core this costs nothing. Raising one's own nice
 * value needs no privilege.
 */
#define THREAD_NICE 5

/* Lower this thread's priority (Linux: per thread); a refusal only costs fairness. */
static void lower_priority(void)
{
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), THREAD_NICE) != 0)
		SG_LOG(CTL, INFO, "management thread: nice %d refused: %s", THREAD_NICE,
		       strerror(errno));
}

static void *thread_main(void *arg)
{
	struct sg_mgmt *m = arg;
	struct pollfd pfd[3] = {
		{ .fd = sg_ctl_server_fd(m->ctl), .events = POLLIN },
		{ .fd = m->thread.stop_fd, .events = POLLIN },
		{ .fd = mgmt_http_fd(&m->http), .events = POLLIN }, /* -1 (ignored): not served */
	};

	lower_priority();
	SG_LOG(CTL, DEBUG, "management thread running");
	while (!(pfd[1].revents & POLLIN)) {
		if (poll(pfd, 3, mgmt_http_timeout_ms(&m->http, TICK_MS)) < 0 && errno != EINTR) {
			SG_LOG(CTL, ERR, "management thread: poll: %s", strerror(errno));
			break;
		}
		sg_ctl_server_run(m->ctl, 0); /* also without events: idle clients time out */
		mgmt_http_run(&m->http);      /* the same: its connections time out */
	}
	/* No scrape is answered once the thread stops. */
	mgmt_http_close(&m->http);
	/* Its LMDB write transaction is this thread's: aborted here, nothing imported. */
	mgmt_import_client_closed(m, 0);
	/* The answer to `shutdown` goes out before the socket closes. */
	sg_ctl_server_flush(m->ctl, FLUSH_MS);
	__atomic_store_n(&m->thread.running, 0, __ATOMIC_RELEASE);
	return NULL;
}

int sg_mgmt_http_open(struct sg_mgmt *m, const struct sg_cfg_listen *listen)
{
	if (m->thread.started || m->http.d != NULL)
		return -EBUSY;
	return mgmt_http_open(&m->http, listen, mgmt_metrics_render);
}

int sg_mgmt_thread_start(struct sg_mgmt *m)
{
	int rc;

	if (m->ctl == NULL)
		return -EINVAL;
	m->thread.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->thread.stop_fd < 0)
		return -errno;
	m->thread.running = 1;
	rc = rte_ctrl_thread_create(&m->thread.tid, THREAD_NAME, NULL, thread_main, m);
	if (rc != 0) {
		m->thread.running = 0;
		close(m->thread.stop_fd);
		m->thread.stop_fd = -1;
		return rc < 0 ? rc : -rc;
	}
	m->thread.started = 1;
	return 0;
}

void sg_mgmt_thread_stop(struct sg_mgmt *m)
{
	uint64_t one = 1;
	ssize_t n;

	if (!m->thread.started)
		return;
	n = write(m->thread.stop_fd, &one, sizeof(one));
	(void)n; /* an eventfd takes it */
}

int sg_mgmt_thread_running(const struct sg_mgmt *m)
{
	return __atomic_load_n(&m->thread.running, __ATOMIC_ACQUIRE);
}

void sg_mgmt_thread_join(struct sg_mgmt *m)
{
	if (!m->thread.started)
		return;
	sg_mgmt_thread_stop(m);
	/* It may still wait for the gateway thread, which no longer answers. */
	mgmt_calls_close(&m->calls);
	pthread_join(m->thread.tid, NULL);
	close(m->thread.stop_fd);
	m->thread.stop_fd = -1;
	m->thread.started = 0;
}
