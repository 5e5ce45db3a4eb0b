/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-hsload's parts (bench/hs_load/): the credential list its clients
 * handshake with (hsload_creds.c), the counts it reports (hsload_stats.c) and
 * one load client (hsload_client.c); hsload.c parses the command line and
 * drives the clients in one poll loop. One thread: the tool's main thread runs
 * all of it. Outside the daemon: nothing here links Stormgate's libraries, so
 * the tool sees the daemon over the network only, as devices do.
 */
#ifndef STORMGATE_BENCH_HSLOAD_H
#define STORMGATE_BENCH_HSLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#define SG_HSL_IDENTITY_MAX 128     /* docs/config.md, "Credential CSV" */
#define SG_HSL_PSK_MAX      64      /* bytes */
#define SG_HSL_CREDS_MAX    1000000 /* rows read from one file */
#define SG_HSL_GAPS_MAX     10000   /* gaps listed (longer than --gap-ms) */
#define SG_HSL_NS_PER_MS    UINT64_C(1000000)

/* One enabled device of the CSV: what the client's PSK callback answers. */
struct sg_hsl_cred {
	char identity[SG_HSL_IDENTITY_MAX + 1];
	uint8_t key[SG_HSL_PSK_MAX];
	unsigned key_len;
};

struct sg_hsl_creds {
	struct sg_hsl_cred *v;
	size_t n;
};

/*
 * Reads the daemon's credential CSV (identity,psk_hex[,key_lifetime[,state]];
 * blank lines, '#' lines and a header line skipped; rows whose state is
 * "disabled" left out) into *out, which the caller frees with
 * sg_hsl_creds_free(). 0, or -errno with the file and line of the first bad
 * row on stderr (-ENOENT when no enabled row is left).
 */
int sg_hsl_creds_load(const char *path, struct sg_hsl_creds *out);

/* Wipes the keys and frees the list; *c is empty afterwards. */
void sg_hsl_creds_free(struct sg_hsl_creds *c);

/* Gap between two completions (or from the last one to the end of the run). */
struct sg_hsl_gap {
	uint64_t start_ns; /* the completion it follows, from t0 */
	uint64_t len_ns;
};

/*
 * The counts of one run: completions, failures and timeouts per interval
 * from t0, every completion's latency (for the percentiles), and every gap
 * between completions of at least gap_min_ns (up to SG_HSL_GAPS_MAX).
 */
struct sg_hsl_stats {
	uint64_t t0_ns;       /* CLOCK_MONOTONIC at the start */
	uint64_t interval_ns; /* width of one interval of the series */
	size_t n_intervals;
	uint32_t *ok, *fail, *timeout; /* per interval */
	uint32_t *lat_us;              /* one per completion, up to lat_cap */
	size_t lat_n, lat_cap;
	uint64_t completed, failed, timeouts;
	uint64_t first_ok_ns, last_ok_ns; /* from t0; 0: none yet */
	uint64_t gap_min_ns, longest_gap_ns;
	struct sg_hsl_gap *gaps; /* in time order */
	size_t n_gaps;
	uint64_t gaps_unlisted; /* past SG_HSL_GAPS_MAX */
	size_t printed;         /* intervals printed so far */
};

/*
 * Sizes the series for duration_ns from t0_ns in intervals of interval_ns,
 * room for max_ok latencies, and lists gaps of gap_min_ns or more. 0 or
 * -ENOMEM; sg_hsl_stats_free() frees.
 */
int sg_hsl_stats_init(struct sg_hsl_stats *s, uint64_t t0_ns, uint64_t interval_ns,
                      uint64_t duration_ns, uint64_t max_ok, uint64_t gap_min_ns);
void sg_hsl_stats_free(struct sg_hsl_stats *s);

/* A handshake completed at now_ns (CLOCK_MONOTONIC) after latency_ns. */
void sg_hsl_stats_ok(struct sg_hsl_stats *s, uint64_t now_ns, uint64_t latency_ns);

/* A handshake failed (timed_out: no answer within the client's timeout). */
void sg_hsl_stats_fail(struct sg_hsl_stats *s, uint64_t now_ns, bool timed_out);

/*
 * Prints a line for every interval that ended by now_ns and was not printed
 * yet; final: the one now_ns falls in too (the run's last, ending at now_ns).
 */
void sg_hsl_stats_print(struct sg_hsl_stats *s, uint64_t now_ns, bool final, FILE *out);

/*
 * The run's summary (members listed in hsload.c's head comment), the run
 * having ended at end_ns; adds the series when with_series. A new reference
 * or NULL on allocation failure.
 */
json_t *sg_hsl_stats_summary(struct sg_hsl_stats *s, uint64_t end_ns, bool with_series);

/* The clients (hsload_client.c), and what a run shares with them. */

#define SG_HSL_SOURCES_MAX 64

enum sg_hsl_phase { SG_HSL_IDLE = 0, SG_HSL_HANDSHAKE, SG_HSL_ECHO };

/* One load client: between two handshakes it is SG_HSL_IDLE (no socket, no SSL). */
struct sg_hsl_client {
	SSL *ssl;
	int fd;
	enum sg_hsl_phase phase;
	uint64_t start_ns; /* its socket was made */
	const struct sg_hsl_cred *cred;
	char sent[32]; /* --echo: the record it sent */
	int sent_len;
};

/* The command line, checked. */
struct sg_hsl_opts {
	struct sockaddr_storage server;
	struct sockaddr_storage src[SG_HSL_SOURCES_MAX];
	unsigned n_src;
	const char *creds_path, *cipher;
	unsigned clients, duration_s, timeout_ms, interval_ms, gap_ms;
	uint64_t max;
	bool echo, series, no_close;
};

/* A run: what every client shares. */
struct sg_hsl_run {
	struct sg_hsl_opts o;
	SSL_CTX *ctx;   /* DTLS 1.2 client, --cipher, no tickets */
	BIO_ADDR *peer; /* o.server, for the connected datagram BIOs */
	struct sg_hsl_creds creds;
	struct sg_hsl_stats st;
	uint64_t started, ended; /* handshakes */
	uint64_t next_cred;      /* the next device, round robin over creds */
	char first_error[160];
};

/*
 * The client's next handshake: a socket bound to the next source address
 * (port 0) and connected to the server, an SSL for the next device. 0 or
 * -errno (no socket: the run cannot go on).
 */
int sg_hsl_client_start(struct sg_hsl_run *r, struct sg_hsl_client *c, uint64_t now);

/* Its socket is readable or has an error: moves the handshake (or echo) on. */
void sg_hsl_client_step(struct sg_hsl_run *r, struct sg_hsl_client *c, uint64_t now);

/*
 * Runs the client's retransmission timer (RFC 6347 §4.2.4.1, OpenSSL's own)
 * and its deadline (--timeout-ms); how long, in ms, until it needs this again.
 */
int sg_hsl_client_timers(struct sg_hsl_run *r, struct sg_hsl_client *c, uint64_t now);

/*
 * Ends the client's handshake at now: outcome 0 completed, -ETIMEDOUT timed
 * out, another -errno failed; counted, close_notify sent when it has a
 * session, socket and SSL freed (the client is SG_HSL_IDLE again).
 */
void sg_hsl_client_end(struct sg_hsl_run *r, struct sg_hsl_client *c, uint64_t now, int outcome);

#endif /* STORMGATE_BENCH_HSLOAD_H */
