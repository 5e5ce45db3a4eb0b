/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-fleet: a fleet of DTLS 1.2 devices and their application server
 * against a running stormgate (issue 14; docs/fleet.md). This file is the
 * thin DPDK shell: options (before EAL, so usage errors exit 2 at once),
 * --write-creds, EAL, the ports, then one loop on the main lcore that
 * feeds the sans-I/O core (fl_core.h) with RX bursts and the time, sleeps
 * when idle (--idle-sleep-us), writes a second of the series and the live
 * line, and ends after --duration (or SIGINT/SIGTERM) with the report.
 *
 * Exit: 0 when it ran, 2 on usage or configuration errors, 1 when it could
 * not run (EAL, ports, the gateway never answered, files).
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include "fl_core.h"
#include "fl_creds.h"
#include "fl_opts.h"
#include "fl_port.h"
#include "fl_report.h"

#define GATEWAY_WAIT_S 30 /* the gateway must answer ARP/NS within this */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_us(void)
{
	return rte_get_tsc_cycles() / (rte_get_tsc_hz() / 1000000);
}

/* Where the fleet's options start: after "--", or all of argv when there is none. */
static int split_args(int argc, char **argv)
{
	for (int k = 1; k < argc; k++)
		if (strcmp(argv[k], "--") == 0)
			return k;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* EAL's runtime directory, which it leaves behind even with --no-shconf. */
static void eal_fini(void)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	if (dir[0] != '\0')
		nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The devices by state at the end: where the ones not connected are. */
static json_t *states(const struct sg_fl *fl)
{
	uint32_t counts[SG_FL_STATES];
	json_t *o = json_object();

	sg_fl_states(fl, counts);
	for (unsigned k = 0; k < SG_FL_STATES && o != NULL; k++)
		json_object_set_new(o, sg_fl_state_name(k), json_integer(counts[k]));
	return o;
}

static int write_report(const struct sg_fl_conf *conf, struct sg_fl_report *r,
                        const struct sg_fl_snap *s, double secs, const struct sg_fl_ports *p,
                        const struct sg_fl *fl)
{
	json_t *o = sg_fl_report_final(r, s, secs);
	json_t *d = o != NULL ? json_object_get(o, "detail") : NULL;
	int rc = 0;

	if (o == NULL)
		return -ENOMEM;
	if (d != NULL) {
		json_object_set_new(d, "tx_dropped", json_integer((json_int_t)p->tx_dropped));
		json_object_set_new(d, "rx_segmented", json_integer((json_int_t)p->rx_segmented));
		json_object_set_new(d, "port_restarts", json_integer((json_int_t)p->restarts));
		json_object_set_new(d, "states", states(fl));
		json_object_set_new(d, "device_bytes", json_integer((json_int_t)sg_fl_dev_bytes()));
		json_object_set_new(d, "handshake_bytes",
		                    json_integer((json_int_t)sg_fl_hs_bytes()));
	}
	if (conf->report != NULL && json_dump_file(o, conf->report, JSON_INDENT(1)) != 0)
		rc = -EIO;
	json_decref(o);
	return rc;
}

/* One second ended: the series, the live line. */
static void second(const struct sg_fl_conf *conf, struct sg_fl *fl, struct sg_fl_report *r,
                   unsigned t)
{
	struct sg_fl_snap s;

	sg_fl_snapshot(fl, &s);
	sg_fl_report_second(r, &s, t);
	if (conf->progress)
		sg_fl_report_progress(stderr, &s, t);
}

/* The loop: until --duration after the devices began (or a signal). Returns seconds run. */
static double run(const struct sg_fl_conf *conf, struct sg_fl_ports *p, struct sg_fl *fl,
                  struct sg_fl_report *r)
{
	struct sg_fl_buf *bufs[SG_FL_BURST];
	uint64_t t0 = now_us(), ready = 0, t = t0, watch = t0 + 1000000;
	unsigned sec = 0;

	while (!stop) {
		unsigned work = 0;

		t = now_us();
		for (unsigned port = 0; port < SG_FL_PORT_MAX; port++) {
			unsigned n = sg_fl_ports_rx(p, port, bufs);

			if (n != 0)
				sg_fl_input(fl, port, bufs, n, t);
			work += n;
		}
		work += sg_fl_poll(fl, t);
		sg_fl_ports_flush(p);
		if (t >= watch) {
			sg_fl_ports_watch(p);
			watch += 1000000;
		}
		if (ready == 0 && sg_fl_ready(fl)) {
			ready = t;
		} else if (ready == 0 && t - t0 > GATEWAY_WAIT_S * UINT64_C(1000000)) {
			fprintf(stderr,
			        "stormgate-fleet: the gateway did not answer ARP/NS in %u s\n",
			        GATEWAY_WAIT_S);
			return -1;
		}
		if (ready != 0 && t - ready >= (sec + 1) * UINT64_C(1000000))
			second(conf, fl, r, ++sec);
		if (ready != 0 && t - ready >= conf->duration_s * UINT64_C(1000000))
			break;
		if (work == 0 && conf->idle_sleep_us != 0)
			rte_delay_us_sleep(conf->idle_sleep_us);
	}
	if (conf->progress)
		fputc('\n', stderr);
	return ready == 0 ? -1 : (double)(t - ready) / 1e6;
}

/*
 * --hold: the report is written; keep the ports, unpolled, until a signal or
 * hold_s. DPDK 22.11's memif frees a link's shared regions in its interrupt
 * thread as soon as the peer disconnects, while the peer's lcores may still
 * be inside an RX burst on them (no grace period), so whichever side leaves
 * first can crash the other's busy worker. Holding lets the orchestrator stop
 * the gateway first: our lcore is idle here when the disconnect arrives.
 */
static void hold(const struct sg_fl_conf *conf)
{
	uint64_t end = now_us() + (uint64_t)conf->hold_s * 1000000;

	if (conf->hold_s == 0)
		return;
	fprintf(stderr, "stormgate-fleet: report written; holding the ports (SIGTERM ends it)\n");
	while (!stop && now_us() < end)
		rte_delay_us_sleep(10000);
}

/* EAL, ports, core, the run and the report. Returns the exit status. */
static int fleet(int eal_argc, char **eal_argv, const struct sg_fl_conf *conf)
{
	struct sg_fl_ports ports;
	struct sg_fl_report rep;
	struct sg_fl_snap snap;
	struct sg_fl_io io;
	struct sg_fl *fl = NULL;
	double secs;
	int status = 1;

	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "stormgate-fleet: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (sg_fl_ports_init(&ports, conf) != 0)
		goto out_ports;
	if (sg_fl_report_open(&rep, conf) != 0) {
		fprintf(stderr, "stormgate-fleet: %s: %s\n", conf->series, strerror(errno));
		goto out_ports;
	}
	io = sg_fl_ports_io(&ports);
	fl = sg_fl_create(conf, &io, (const uint8_t(*)[6])ports.mac, 0, conf->devices,
	                  rte_rdtsc() ^ (uint64_t)getpid() << 32, now_us());
	if (fl == NULL) {
		fprintf(stderr, "stormgate-fleet: %u devices: %s\n", conf->devices,
		        strerror(errno));
		goto out_report;
	}
	secs = run(conf, &ports, fl, &rep);
	if (secs >= 0) {
		sg_fl_snapshot(fl, &snap);
		status = write_report(conf, &rep, &snap, secs, &ports, fl) == 0 ? 0 : 1;
		if (status != 0)
			fprintf(stderr, "stormgate-fleet: %s: cannot write\n", conf->report);
	}
	sg_fl_free(fl);
	if (secs >= 0)
		hold(conf);
out_report:
	sg_fl_report_close(&rep);
out_ports:
	sg_fl_ports_fini(&ports);
	eal_fini();
	return status;
}

int main(int argc, char **argv)
{
	int split = split_args(argc, argv), rc;
	char **opt_argv = calloc((size_t)argc + 1, sizeof(*opt_argv));
	struct sg_fl_conf conf;
	char err[256];

	if (opt_argv == NULL)
		return 1;
	/* the options: argv[0] then what follows "--" (or everything); conf keeps
	 * pointers to argv's strings, not to this array */
	opt_argv[0] = argv[0];
	for (int k = split + 1; k <= argc; k++)
		opt_argv[k - split] = argv[k];
	rc = sg_fl_opts_parse(argc - split, opt_argv, &conf, err, sizeof(err), stdout);
	free(opt_argv);
	if (rc == 1)
		return 0;
	if (rc != 0) {
		fprintf(stderr, "stormgate-fleet: %s\n", err);
		return 2;
	}
	if (conf.write_creds != NULL) {
		rc = sg_fl_write_creds(conf.write_creds, conf.seed, conf.devices);
		if (rc != 0)
			fprintf(stderr, "stormgate-fleet: %s: %s\n", conf.write_creds,
			        strerror(-rc));
		return rc == 0 ? 0 : 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	return fleet(split == 0 ? 1 : split, argv, &conf);
}
