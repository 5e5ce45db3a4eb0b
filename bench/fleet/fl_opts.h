/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-fleet's options (docs/fleet.md, "Command line"): parsed and
 * checked into struct sg_fl_conf without EAL, so usage errors end the
 * program (exit 2) before DPDK starts, and unit tests drive the parser.
 * Main thread, before the fleet runs.
 */
#ifndef STORMGATE_FL_OPTS_H
#define STORMGATE_FL_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fleet_client.h"

enum sg_fl_kx {
	SG_FL_KX_PSK = 0, /* RFC 4279 */
	SG_FL_KX_X25519,  /* RFC 5489 ECDHE-PSK over X25519 only */
	SG_FL_KX_P256,    /* RFC 5489 ECDHE-PSK over secp256r1 only */
};

enum sg_fl_backend {
	SG_FL_BACKEND_UDP = 0, /* plaintext datagrams, one source port per session */
	SG_FL_BACKEND_PROXY,   /* each datagram starts with a PROXY v2 header */
};

#define SG_FL_DEVICES_MAX  10000000u
#define SG_FL_DURATION_MAX 86400u
#define SG_FL_RTT_MAX_MS   30000u /* one way 15 s: within the delay line's reach */

struct sg_fl_conf {
	uint32_t devices;
	uint32_t ramp_s;       /* device starts spread over this */
	double arrival_rate;   /* devices starting per second; 0: by ramp_s */
	uint32_t max_inflight; /* handshakes at once */
	uint8_t kx;            /* enum sg_fl_kx */
	unsigned n_suites;
	uint16_t suites[SG_FC_SUITES_MAX]; /* IANA ids offered, in order */
	uint8_t family;                    /* 4, or 6 with --ipv6 */
	uint8_t server[16];                /* the gateway's DTLS address and port */
	uint16_t server_port;
	uint8_t app[16]; /* our application server's */
	uint16_t app_port;
	uint8_t backend; /* enum sg_fl_backend */
	uint32_t ports_per_addr;
	uint32_t rtt_min_ms, rtt_max_ms;
	uint32_t loss_ppm; /* each direction, per million */
	uint32_t rto_ms, rto_max_ms, rto_jitter_pct;
	uint32_t hs_timeout_s;
	double req_rate;  /* requests per device per second */
	double req_total; /* aggregate requests per second (alternative) */
	uint32_t req_timeout_ms;
	uint32_t duration_s;
	const char *write_creds;
	const char *seed;
	const char *report;
	const char *series;
	bool progress;
	bool announce; /* ARP/NS from each device before each handshake */
	bool resume;   /* session tickets (RFC 5077) */
	bool cid;      /* connection IDs (RFC 9146): 4 bytes, the device index */
	uint32_t idle_sleep_us;
	uint32_t mbufs;  /* 0: sized from rate x round trip */
	uint32_t hold_s; /* after the report: ports kept, unpolled, until a signal or this */
};

/*
 * Parse argv[0..argc) (argv[0] the program) into conf, defaults first.
 * Returns 0, 1 when --help printed the options to out (the caller exits 0),
 * or -EINVAL with one line in err (errlen bytes) saying what is wrong.
 */
int sg_fl_opts_parse(int argc, char **argv, struct sg_fl_conf *conf, char *err, size_t errlen,
                     FILE *out);

/* Per-device request interval in ms (0: no requests). */
double sg_fl_req_interval_ms(const struct sg_fl_conf *conf);

#endif /* STORMGATE_FL_OPTS_H */
