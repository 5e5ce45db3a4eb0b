/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /metrics over HTTP (docs/control.md, "Metrics over HTTP"): the statistics
 * in the Prometheus text format, the text `stormctl metrics` prints, for a
 * Prometheus server to scrape. libmicrohttpd in external polling mode: its
 * epoll fd sits in the management thread's poll set and that thread runs
 * it, so it has no thread of its own and never runs on a worker lcore or
 * the gateway thread. A scrape renders the statistics the gateway thread
 * publishes every 250 ms (telemetry.c) and never touches the gateway.
 *
 * Opened by the gateway thread before the management thread starts (so a
 * bind failure stops the start-up), run and closed by the management
 * thread; the counters are read by the gateway thread's `stats` (atomic).
 */
#ifndef STORMGATE_CONTROL_MGMT_HTTP_H
#define STORMGATE_CONTROL_MGMT_HTTP_H

#include <stdint.h>
#include <stdio.h>

#include "sg_config.h"

struct MHD_Daemon;

/*
 * Write the metrics text to out: 0, -ENODATA when there are no statistics
 * to render (the daemon starting or stopping), or another -errno. Runs on
 * the management thread.
 */
typedef int mgmt_http_render_fn(FILE *out);

/* What a request got, each counted (stats' http.requests). */
enum mgmt_http_result {
	MGMT_HTTP_OK = 0,             /* 200: the metrics */
	MGMT_HTTP_NOT_FOUND,          /* 404: another path */
	MGMT_HTTP_METHOD_NOT_ALLOWED, /* 405: /metrics with a method other than GET or HEAD */
	MGMT_HTTP_UNAVAILABLE,        /* 503: no statistics published (yet, or any more) */
	MGMT_HTTP_FAILED,             /* 500: out of memory while answering */
	MGMT_HTTP_RESULT_MAX
};

struct mgmt_http {
	struct MHD_Daemon *d; /* NULL: not served */
	mgmt_http_render_fn *render;
	char addr[64]; /* "127.0.0.1:9464", "" when not served; fixed once open */
	/* written by the management thread, read by the gateway thread (atomic) */
	uint64_t requests[MGMT_HTTP_RESULT_MAX];
};

/* The label of a result in stats and the metrics ("ok", "not_found"...). */
const char *mgmt_http_result_name(enum mgmt_http_result r);

/*
 * Listen on l's address (nothing when off) and set the server up; render
 * writes each answer to GET /metrics. A
 * non-loopback address is logged as a warning. Returns 0, or -errno when
 * the address cannot be listened on (logged, naming the address) or
 * libmicrohttpd fails; the default address (not in the config file) taken
 * by another process is a warning, and 0, with nothing served. Gateway
 * thread, before the management thread starts.
 */
int mgmt_http_open(struct mgmt_http *h, const struct sg_cfg_listen *l, mgmt_http_render_fn *render);

/* The fd to poll for input (an epoll set), or -1 when nothing is served. */
int mgmt_http_fd(const struct mgmt_http *h);

/* How long the caller may sleep in poll(): max_ms, or less when a timer is due. */
int mgmt_http_timeout_ms(struct mgmt_http *h, int max_ms);

/* Accept, read, answer, time out: whatever is ready; never blocks. Management thread. */
void mgmt_http_run(struct mgmt_http *h);

/* Close every connection and the listening socket. Idempotent. The thread that runs it. */
void mgmt_http_close(struct mgmt_http *h);

#endif /* STORMGATE_CONTROL_MGMT_HTTP_H */
