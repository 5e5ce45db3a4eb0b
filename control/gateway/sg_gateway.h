/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway: the control plane's share of the data plane's work, on one
 * thread (the gateway thread: the main lcore's loop). It owns the mbuf
 * pool, the ports (configured and started from the config), the session
 * table (its single writer), the data plane (dataplane.h) with one worker
 * per worker lcore, the DTLS handshake server on the punt ring, and every
 * way a session begins and ends.
 *
 * Two audiences:
 *  - the daemon (control/daemon/): create, start, poll, stop, destroy, and
 *    the status line;
 *  - management (control/mgmt/): the functions under "management's seam"
 *    below, and only those, always on the gateway thread: in the commands
 *    the control server's owner queue brings there, and in the calls the
 *    management thread makes into it (control/mgmt/gw_calls.h). Each is a
 *    copy out (a snapshot) or one request, and none hands out a pointer that
 *    management keeps, apart from sg_gateway_config().
 */
#ifndef STORMGATE_CONTROL_SG_GATEWAY_H
#define STORMGATE_CONTROL_SG_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stormgate/dataplane.h>
#include <stormgate/handshake.h>
#include <stormgate/session.h>

#include "sg_admit.h"
#include "sg_config.h"
#include "sg_cred.h"
#include "sg_ctl.h"
#include "sg_sessreg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How EAL was started, for `status`. */
struct sg_gateway_info {
	int no_huge;       /* running on ordinary memory */
	int no_huge_added; /* ... chosen by us because no hugepages were available */
};

/* Received traffic of one port, as its driver counts it. */
struct sg_gw_port_totals {
	uint64_t rx_packets;
	uint64_t rx_bytes;
};

struct sg_gateway;

/* ---- the daemon ---- */

/*
 * After rte_eal_init(): create the mbuf pool, find, configure and start
 * every port of cfg (copied), assign their RX queues to the worker lcores,
 * and make the session table, the data plane and the handshake server.
 * Returns the gateway or NULL with errno (the reason is logged). Main lcore.
 */
struct sg_gateway *sg_gateway_create(const struct sg_config *cfg,
                                     const struct sg_gateway_info *info);

/* Launch the polling loop on every worker lcore. Returns 0 or -errno. Main lcore. */
int sg_gateway_start(struct sg_gateway *gw);

/* Ask the workers to stop and wait for them. Idempotent. Main lcore. */
void sg_gateway_stop(struct sg_gateway *gw);

/* Stop (if needed), stop and close the ports, free the pool. NULL is fine. Main lcore. */
void sg_gateway_destroy(struct sg_gateway *gw);

/*
 * The credential store (PSK lookups, `status`) and the control socket (the
 * status line's client count); the gateway does not own them. NULL detaches.
 * Gateway thread.
 */
void sg_gateway_attach(struct sg_gateway *gw, struct sg_cred *cred, struct sg_ctl_server *ctl);

/* What a port's driver received (rte_eth_stats). Gateway thread. */
void sg_gateway_port_totals(const struct sg_gateway *gw, unsigned port,
                            struct sg_gw_port_totals *t);

/* Number of ports and workers; fixed once created. Any thread. */
unsigned sg_gateway_n_ports(const struct sg_gateway *gw);
unsigned sg_gateway_n_workers(const struct sg_gateway *gw);

/*
 * One-line live status (no newline) with per-second rates since the last
 * call, e.g. "[   5s] dev0 up 10 Gbps rx 12 (+4/s) | fwd 0/0 punted 12 | dropped 3
 * (udp_port 3) | store 2 (+0 pending)" (the session store's part when it is
 * on: sessions stored, writes not yet committed). Gateway thread.
 */
void sg_gateway_status_line(struct sg_gateway *gw, char *buf, size_t len);

/*
 * Start-up progress: fn(arg, done) runs on the gateway thread while
 * sg_gateway_start() restores the stored sessions, at most once a second
 * and once at the end (done), and sg_gateway_status_line() then tells the
 * restore ("[    0s] store: restoring, N records read, M sessions back";
 * at the end "store: restored M sessions of N records in X s"). The daemon
 * prints its status line from fn: its loop, which prints it every second,
 * starts after the restore. NULL: none. Before sg_gateway_start().
 */
void sg_gateway_on_progress(struct sg_gateway *gw, void (*fn)(void *arg, bool done), void *arg);

/*
 * The gateway's share of the data plane's work, called from the daemon's loop
 * every millisecond or so: take punted packets (handshakes, ARP and
 * neighbour discovery, sessions' alerts and repeated Finished, forgery-limit
 * notices), run the handshake timers, finish what ending sessions started
 * (their close_notify once the workers let go of their keys), sweep expired
 * and idle sessions and those of revoked credentials, solicit unknown next
 * hops once a second, reclaim what the workers no longer see. Gateway thread.
 */
void sg_gateway_poll(struct sg_gateway *gw);

/* Data-plane counters summed over the workers. Gateway thread. */
void sg_gateway_dp_totals(const struct sg_gateway *gw, struct sg_dp_counters *c);

/* ---- management's seam: every function management calls (gateway thread) ---- */

/* Data-plane counters of worker w, or summed over the workers (w < 0). */
void sg_gateway_dp_counters(const struct sg_gateway *gw, int w, struct sg_dp_counters *c);

/* "10 Gbps", "100 Mbps", "unknown" (rte_eth_link_speed_to_str() is experimental in 22.11).
 * Any thread. */
const char *sg_gw_speed_str(uint32_t mbps, char *buf, size_t len);

/*
 * The configuration the gateway runs, policy included (the live one). Valid
 * until the gateway is destroyed; its policy changes only through
 * sg_gateway_policy_set().
 */
const struct sg_config *sg_gateway_config(const struct sg_gateway *gw);

/* One port as the gateway set it up. */
struct sg_gw_port {
	const struct sg_cfg_port *cfg; /* name, role, devargs, addresses (in the config) */
	uint16_t port_id;
	char dev_name[64];
	const char *driver;
	uint16_t nb_rxq, nb_txq, nb_rxd, nb_txd;
	uint16_t mtu;
	uint8_t mac[6];
};

/* What the gateway is made of. */
struct sg_gw_desc {
	struct sg_gateway_info info;
	int running;
	uint64_t uptime_ns;
	unsigned n_ports;
	struct sg_gw_port ports[SG_CFG_PORTS_MAX];
	unsigned n_workers;
	unsigned lcore[SG_DP_WORKERS_MAX]; /* of each worker */
	uint32_t max_handshakes;           /* the handshake server's slots */
};

void sg_gateway_describe(const struct sg_gateway *gw, struct sg_gw_desc *d);

/* Storm admission and cookies, as `stats` shows them. */
struct sg_gw_admission {
	struct sg_admit admit;     /* rate, counters, per-source policy (a copy) */
	uint64_t available;        /* handshakes admitted right now */
	uint32_t cookie_threshold; /* in-flight handshakes from which cookies are needed */
	bool cookies_required;     /* a ClientHello without a cookie gets a HelloVerifyRequest */
	uint32_t in_flight;
	uint32_t max_handshakes;
};

/* One handshake engine (control/hsplane/), as management sees it. */
#define SG_GW_ENGINES_MAX 64
struct sg_gw_engine {
	uint32_t in_flight, limit; /* handshakes in flight, and its slots */
	uint64_t completed;        /* full + resumed */
	uint64_t queue_full;       /* datagrams dropped: its handshake queue was full */
	uint64_t fifo_full;        /* installs refused: its queue to the gateway was full */
	uint64_t p50_us, p99_us;   /* handshake latency over the last 10 s (0: none) */
};

/* The handshake plane: every engine, and their sums. */
struct sg_gw_hsplane {
	unsigned engines;
	struct sg_gw_engine engine[SG_GW_ENGINES_MAX];
	uint32_t in_flight, limit;           /* summed */
	uint64_t p50_us, p99_us;             /* all engines, last 10 s (0: none) */
	uint64_t p50_us_all, p99_us_all;     /* since start */
	uint64_t latency[SG_HS_LAT_BUCKETS]; /* since start, summed (sg_hs_latency_bucket_le()) */
	uint64_t install_revoked; /* installs refused: the credential changed after the lookup */
	uint64_t unknown_dropped; /* records of no session that no install claimed */
	uint64_t ecdhe_reuse_on;  /* engines reusing an ephemeral key now */
};

/* The gateway's counters, one snapshot. */
struct sg_gw_counters {
	struct sg_sess_stats sessions; /* the session table's */
	uint32_t capacity;             /* session slots */
	uint64_t identities;           /* distinct PSK identities with a session */
	/* sessions ended, by reason */
	uint64_t killed;              /* sessions.kill and credential revocation */
	uint64_t expired;             /* key lifetime over (CM13) */
	uint64_t idle;                /* policy.idle_timeout */
	uint64_t forged;              /* receive key at its forgery limit */
	uint64_t ended_by_device;     /* the device's close_notify or fatal alert */
	uint64_t kill_alerts_sent;    /* close_notify sent to ended sessions' devices */
	uint64_t closing;             /* ... waiting for the workers' grace period */
	uint64_t revoked_ended;       /* of the killed: their credential changed */
	uint64_t revocations_pending; /* identities whose sessions are still to end */
	/* proxy mode: backend identities queued beyond the nominal 65536 (workers lagged) */
	uint64_t detach_deferred;
	/* handshakes: hs sums every engine */
	struct sg_hs_stats hs;
	struct sg_gw_hsplane hsplane;
	uint64_t installed, replaced, install_failed;
	struct sg_gw_admission admission;
	/* punted packets */
	uint64_t punts_taken[SG_DP_PUNT_MAX];
	uint64_t punts_unserved, punts_reinjected;
	uint64_t frames_sent, frames_dropped; /* the gateway's own frames through the data plane */
};

void sg_gateway_counters(struct sg_gateway *gw, struct sg_gw_counters *c);

/* One session as management shows it: the table's copy (no keys), its identity, backend. */
struct sg_gw_session {
	struct sg_sess_info info;
	uint16_t identity_len; /* 0: not known */
	uint8_t identity[SG_SESSREG_IDENTITY_MAX];
	uint8_t auth;     /* enum sg_hs_auth: how the identity authenticated */
	bool has_bsource; /* udp backend mode: the address and port its plaintext comes from */
	uint8_t bfamily;  /* 4 or 6 */
	uint8_t baddr[16];
	uint16_t bport;
};

/* Session id. Returns 0 or -ENOENT (an identity index entry left by it is forgotten). */
int sg_gateway_session_get(struct sg_gateway *gw, uint64_t id, struct sg_gw_session *s);

/* Walk the table: *cursor 0 first; returns 0, or -ENOENT at the end (sg_sess_next()). */
int sg_gateway_session_next(struct sg_gateway *gw, uint64_t *cursor, struct sg_gw_session *s);

/* Up to max ids of identity's sessions (most recent first); returns how many it has. */
size_t sg_gateway_sessions_of(struct sg_gateway *gw, const uint8_t *identity, size_t len,
                              uint64_t *ids, size_t max);

/* A session ended on request, and whether a close_notify is on its way to its device. */
struct sg_gw_ended {
	uint64_t id;
	bool alert;
};

/*
 * End session id on the operator's request (`sessions kill`): the one way a
 * session ends. Its close_notify goes out once the workers let go of its
 * keys (a poll or two later), never waited for; *alert says it is queued.
 * Returns 0, -ENOENT or -errno.
 */
int sg_gateway_end_session(struct sg_gateway *gw, uint64_t id, bool *alert);

/*
 * The same for up to max sessions of identity; out (NULL: none) gets each
 * ended one, *left how many the identity still has. Returns how many ended.
 */
size_t sg_gateway_end_identity(struct sg_gateway *gw, const uint8_t *identity, size_t len,
                               size_t max, struct sg_gw_ended *out, size_t *left);

/*
 * A credential changed: end the identity's sessions (counted as killed and
 * revoked), up to now_max of them before returning (*alerts: close_notify
 * queued; NULL: not counted), the rest in the background a bounded number
 * per poll (*left: how many were left for it). now_max 0 only queues the
 * identity when it has sessions. Returns how many ended now.
 */
size_t sg_gateway_revoke_sessions(struct sg_gateway *gw, const uint8_t *identity, size_t len,
                                  size_t now_max, unsigned *alerts, size_t *left);

/*
 * Credentials changed (replaced, removed, disabled) in the store: no
 * handshake in flight may install a session made with a key taken away. The
 * credential generation moves on, so an install whose lookup came before it
 * is checked against the credential again (refused when its key changed:
 * install_revoked), and every engine fails, on its own thread soon after,
 * its handshakes in flight whose credential is gone or disabled
 * (docs/hsplane.md, "Credentials and the revocation guard"). Never waits.
 */
void sg_gateway_revoke_handshakes(struct sg_gateway *gw);

/*
 * Make p the live policy: the handshake engine and admission get it now,
 * key lifetimes, rekey_grace and idle_timeout are read from it as they are
 * used. Nothing changes on error. Returns 0 or -errno (the engine refused).
 */
int sg_gateway_policy_set(struct sg_gateway *gw, const struct sg_cfg_policy *p);

/* ---- certificates and raw public keys (tls: in the config; docs/control.md "tls") ---- */

/* What `stormctl tls` and `stats` show of them. */
struct sg_gw_tls {
	bool enabled;                 /* a tls section: the ECDHE-ECDSA suites may be chosen */
	struct sg_hs_certs_info info; /* the loaded set (all zero when not enabled) */
	uint64_t refilled;            /* signing nonces precomputed by the gateway thread */
	uint64_t reloads, reload_failed;
	int64_t reloaded_at; /* Unix s of the last reload that took; 0: none since start */
};

void sg_gateway_tls(struct sg_gateway *gw, struct sg_gw_tls *t);

/*
 * Load tls.cert, key, rpk_key, ca and crl again from the paths the daemon
 * started with and switch the engines to them, handshake by handshake (a
 * handshake in flight ends with what it began with). All or nothing: on
 * error nothing changes and msg names the file and the problem. Returns 0,
 * -ENOENT (no tls section) or the loader's -errno.
 */
int sg_gateway_tls_reload(struct sg_gateway *gw, char *msg, size_t msg_len);

/* ---- the session store (docs/restart.md) ---- */

/* The session store as `stormctl store` shows it: all zero, enabled 0, when the store is off. */
struct sg_gw_store_info {
	int enabled;
	char backend[16]; /* "lmdb" */
	char path[256];
	/* the store's own (sg_store_stats()) */
	uint64_t records, pending, dropped, commits, last_commit_ms, size_bytes;
	uint64_t lag_ms; /* age of the oldest write not yet durable (the writer's lag); 0: none */
	uint64_t
	        failed; /* writes lost: refused (queue bound, store errors) or lost with a commit */
	/* the gateway's writes since start: sessions put, deleted, floor updates put */
	uint64_t puts, dels, floors;
	/* the restore at start; restore_refused: damaged records (every refusal reason) */
	uint64_t restored, restore_expired, restore_revoked, restore_refused;
	uint64_t restore_ms;
	/* the clean stop: sessions written with their exact state, and how long it took */
	uint64_t saved;
	uint64_t save_ms;
	int save_done; /* the clean stop's save is over: saved and save_ms are final */
	uint32_t commit_interval_ms;
};

/* A snapshot of the store. Gateway thread. */
void sg_gateway_store_info(struct sg_gateway *gw, struct sg_gw_store_info *out);

/*
 * Persist the live policy overrides text (`key=value` lines, each a live
 * key without "policy.", sg_config_apply_overrides()) replacing what was
 * stored, committed at once (with the store's writer running: queued for
 * its next commit, durable within its lag). Empty text: none stored. Returns 0,
 * -ENOTSUP (the store is off) or -errno. Gateway thread.
 */
int sg_gateway_store_policy(struct sg_gateway *gw, const char *text, size_t len);

/*
 * The stored overrides text (applied over the file at start, or as
 * sg_gateway_store_policy() last stored it), NUL-terminated into buf.
 * Returns its length (0: none, or the store is off), or -ENOBUFS when cap
 * is too small. Gateway thread.
 */
int sg_gateway_policy_overrides(struct sg_gateway *gw, char *buf, size_t cap);

/*
 * The clean stop's save (the daemon, after sg_gateway_stop()): every
 * session put with its exact sequence state, the clean marker, one commit,
 * logged "saved N sessions in X s"; sg_gateway_store_info() says save_done
 * after it. A no-op when the store is off. Returns 0 or -errno (logged; the
 * next start then takes the crash path). Main lcore.
 */
int sg_gateway_save(struct sg_gateway *gw);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_GATEWAY_H */
