/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the gateway, shared by the files of control/gateway/ only
 * (management reaches the gateway through sg_gateway.h). Everything here
 * runs on the gateway thread (the main lcore's loop, control/daemon/loop.c).
 *
 * struct sg_gateway is made of one part per file, each written by that file
 * only (the others read it): the data plane and its ports (ports.c), the
 * handshake glue (hs_glue.c), how sessions end and what is retired after
 * them (sess_end.c), the punt service (punt.c), the sweeps and revoked
 * identities (sweep.c), the status line (status.c), the session store
 * (store.c; restore.c writes its restore and saved-secrets fields), the
 * certificates and raw public key of the ECDHE-ECDSA suites (tls.c).
 * gateway.c owns the configuration, the live policy and the order of
 * creation.
 */
#ifndef STORMGATE_CONTROL_GW_PRIV_H
#define STORMGATE_CONTROL_GW_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include <stormgate/dataplane.h>
#include <stormgate/handshake.h>
#include <stormgate/record.h>
#include <stormgate/session.h>
#include <stormgate/time.h> /* sg_mono_ns(): every timestamp of the gateway */

#include "sg_admit.h"
#include "sg_gateway.h"
#include "sg_hsplane.h"
#include "sg_sessreg.h"
#include "sg_store.h"
#include "sg_store_sess.h"

/* ---- ports.c: ports, workers, session table, data plane ---- */

struct gw_port {
	const struct sg_cfg_port *cfg; /* in gw->cfg */
	uint16_t port_id;
	char dev_name[RTE_ETH_NAME_MAX_LEN];
	const char *driver;
	uint16_t nb_rxq, nb_txq, nb_rxd, nb_txd;
	uint16_t mtu;
	struct rte_ether_addr mac;
	int started;
	int dp_index; /* index in the data plane's ports, -1: not used by it */
};

/* Written at creation (gw_ports_create()) and by gw_ports_poll(); read by every file. */
struct gw_ports {
	struct rte_mempool *pool;
	unsigned n_ports;
	struct gw_port port[SG_CFG_PORTS_MAX];
	unsigned n_workers; /* worker i of the data plane polls RX queue i of every port */
	unsigned lcore[RTE_MAX_LCORE];
	struct sg_sess_table *sessions; /* the gateway thread is its single writer */
	uint32_t sa_reserve;            /* its SAs beyond one per session */
	struct sg_dp *dp;
	uint64_t resolve_ns; /* last neighbour resolution round */
	/* restored sessions' peers still to resolve (gw_ports_resolve_peers()) */
	uint64_t peers_cursor;
	bool peers_pending;
};

/* After EAL: workers, mbuf pool, ports, session table, data plane. 0 or -errno (logged). */
int gw_ports_create(struct sg_gateway *gw);
/* Free what gw_ports_create() made (partly made is fine); the workers have stopped. */
void gw_ports_destroy(struct sg_gateway *gw);
/* Solicit unknown next hops once a second; and restored sessions' peers, a slice a poll. */
void gw_ports_poll(struct sg_gateway *gw, uint64_t now_ns);

/*
 * Sessions were restored: their devices' link-layer addresses died with the
 * last process, and a device whose own cache is fresh does not ask again,
 * so the gateway asks, a slice of the table per poll (replies to a device
 * are dropped as no_neighbour until its answer comes).
 */
void gw_ports_resolve_peers(struct sg_gateway *gw);

/* ---- hs_glue.c: the handshake plane (control/hsplane) on the data plane ---- */

/* Seconds of per-second latency snapshots kept for the 10 s quantiles. */
#define GW_LAT_WINDOW 10

struct gw_hs {
	struct sg_hs_secrets *secrets; /* cookie secrets and ticket keys, shared; rotated here */
	struct sg_hsplane *plane;      /* the engines, their threads and FIFOs */
	uint32_t slots;                /* handshakes in flight at most, all engines */
	uint64_t installed;            /* sessions installed by a completed handshake */
	uint64_t replaced_in_place;    /* ... that took an earlier session's place */
	uint64_t install_failed;       /* refused by the session table or the data plane */
	uint64_t install_revoked;      /* refused: the credential changed after the lookup */
	/* each engine's latency histogram once a second, the last GW_LAT_WINDOW + 1 of
	 * them: lat[snapshot * engines + engine] */
	uint64_t (*lat)[SG_HS_LAT_BUCKETS];
	unsigned lat_head, lat_n;
	uint64_t lat_next_ns;
};

int gw_hs_create(struct sg_gateway *gw);
/* The clean stop: the engines stop, what they handed over is installed. Idempotent. */
void gw_hs_stop(struct sg_gateway *gw);
void gw_hs_destroy(struct sg_gateway *gw);

/* Now in the engines' clocks. */
struct sg_hs_time gw_hs_now(void);

/*
 * Install the session of a completed handshake, owned by worker owner
 * (RFC 6347 §4.2.8: it replaces the device's session at the same address).
 * Publishes it before our Finished leaves. Counts installed, replaced or
 * install_failed. Returns 0 or -errno.
 */
int gw_hs_install(struct sg_gateway *gw, const struct sg_hs_result *res, unsigned owner);

struct sg_cred_reader;

/*
 * Does the credential a session authenticated with still hold? The one rule
 * for the install guard (a handshake that raced a credential change) and
 * the restore (a change while the daemon was down), by auth (enum
 * sg_hs_auth): a PSK's current key has the same tag (sg_store_cred_tag())
 * and is not disabled; a raw public key is still in the store, enabled,
 * under this identity (sg_cred_rpk_holds() on the tag: the first 8 bytes
 * of its SPKI hash); a certificate identity's policy is not disabled, nor
 * absent when tls.require_policy wants one; an anonymous client's session
 * holds while tls.client_auth is not require. tag: NULL when the session
 * has none (a PSK or raw public key without one never holds). rd: PSK
 * lookups through this reader's transaction (NULL: one sg_cred_get()).
 * 0 when it holds, else why not: -ENOENT (gone, or no credential store),
 * -EACCES (disabled, or anonymous clients no longer allowed),
 * -EKEYREJECTED (another key), -EINVAL (an unknown kind), -EIO.
 * Gateway thread.
 */
int gw_cred_holds(struct sg_gateway *gw, struct sg_cred_reader *rd, uint8_t auth,
                  const uint8_t *identity, size_t len, const uint8_t *tag);

/*
 * Each poll: the engines' FIFOs (installs, their flights, records of no
 * session), CID caches, the shared secrets' rotation, the latency windows.
 */
void gw_hs_poll(struct sg_gateway *gw);

/* A device's authenticated Finished again: its engine resends our final flight. */
void gw_hs_finished_again(struct sg_gateway *gw, const struct sg_hs_peer *peer);

/* Give the engines and their admission the live policy (cookies, suites, lifetime, rate). */
int gw_hs_policy(struct sg_gateway *gw, const struct sg_cfg_policy *p);

/* Admission and cookie state, for management (sg_gateway_counters()). */
void gw_hs_admission(struct sg_gateway *gw, struct sg_gw_admission *a);

/* Add the datagrams the engines took from their queues to taken[] (by enum sg_dp_punt). */
void gw_hs_taken(struct sg_gateway *gw, uint64_t taken[SG_DP_PUNT_MAX]);

/* Every engine's counters summed, and the plane's view (sg_gateway_counters()). */
void gw_hs_counters(struct sg_gateway *gw, struct sg_hs_stats *hs, struct sg_gw_hsplane *v);

/* ---- sess_end.c: the one way a session ends, and the retire path ---- */

/* Why a session ended; each reason has its counter (struct sg_gw_counters). */
enum gw_end_why {
	GW_END_KILLED = 0,  /* sessions.kill, and credential revocation: close_notify */
	GW_END_EXPIRED,     /* its key lifetime is over (CM13): close_notify */
	GW_END_IDLE,        /* no authenticated record for policy.idle_timeout: close_notify */
	GW_END_FORGED,      /* its receive key reached its forgery limit: close_notify */
	GW_END_DEVICE,      /* the device's close_notify or fatal alert */
	GW_END_REPLACED,    /* a new handshake of the device at its address (CID sessions) */
	GW_END_UNINSTALLED, /* its install failed half way (never reached the device) */
	GW_END_MAX
};

/* An ended session whose close_notify waits for the workers to let go of its SA. */
struct gw_closing {
	uint64_t id;
	struct sg_sess_held held;
	struct sg_sess_tuple tuple;
	uint8_t peer_cid_len;
	uint8_t peer_cid[SG_SESS_PEER_CID_MAX];
};

/* A replaced session's previous SA, accepted until policy.rekey_grace ends. */
struct gw_retire {
	uint64_t id;
	uint64_t at_ns;
};

struct gw_end {
	struct sg_sessreg *reg;     /* sessions by PSK identity (gw_sess_track(), gw_sess_end()) */
	struct sg_rec_ctx *rec;     /* the gateway thread's own: seals the close_notify */
	struct sg_rec_sa *last_sa;  /* an ended session's last SA while its alert is sealed */
	struct gw_closing *closing; /* FIFO, in the order of the holds' grace periods */
	uint32_t closing_head, closing_len, closing_cap;
	struct gw_retire *retire; /* FIFO, in the order of their ends */
	uint32_t retire_head, retire_len, retire_cap;
	uint64_t retired_early;     /* retired before their grace ended: the FIFO was full */
	uint64_t ended[GW_END_MAX]; /* sessions ended, by reason */
	uint64_t alerts_sent;       /* close_notify records sent to ended sessions' devices */
};

int gw_end_create(struct sg_gateway *gw);
/* After the workers stopped: every held SA is released (wiped), no alert sent. */
void gw_end_destroy(struct sg_gateway *gw);

/*
 * A session was installed (or re-keyed) under identity (len 0: an anonymous
 * client): index it, with the credential tag of the key it was made with
 * (NULL: none, as a certificate's; the store keeps it)
 * and the store record's flags the table does not keep (SG_STORE_F_EMS).
 */
void gw_sess_track(struct sg_gateway *gw, uint64_t id, const uint8_t *identity, size_t len,
                   const uint8_t *tag, uint8_t store_flags);

/*
 * End session id for why, in the one order: out of the table (lookups stop
 * at once), its backend side detached, out of the identity index, counted,
 * logged; for the reasons that tell the device, its close_notify queued for
 * the retire path (sealed under its last SA once no worker holds it;
 * *alert, when not NULL, says it was). Never waits for the workers. Returns
 * 0, -ENOENT (no such session) or -errno from the table.
 */
int gw_sess_end(struct sg_gateway *gw, uint64_t id, enum gw_end_why why, bool *alert);

/*
 * End up to max sessions of identity for why; out (NULL: none) gets each
 * ended one, *alerts (NULL: not counted) adds the close_notify queued,
 * *left how many the identity still has. Returns how many ended.
 */
size_t gw_sess_end_identity(struct sg_gateway *gw, const uint8_t *identity, size_t len, size_t max,
                            enum gw_end_why why, struct sg_gw_ended *out, unsigned *alerts,
                            size_t *left);

/* Forget session id in the identity index (it ended without the index knowing). */
void gw_sess_forget(struct sg_gateway *gw, uint64_t id);

/* Stop accepting a replaced session's previous SA once policy.rekey_grace has passed. */
void gw_retire_later(struct sg_gateway *gw, uint64_t id);

/*
 * The retire path, each poll: seal and send the close_notify of ended
 * sessions whose grace period has passed (checked without waiting, up to
 * a bounded number), retire previous SAs whose rekey_grace is over, and
 * let the session table and the data plane free what the workers no
 * longer see.
 */
void gw_retire_poll(struct sg_gateway *gw, uint64_t now_ns);

/* ---- punt.c: the punt service ---- */

struct gw_punt {
	uint64_t taken[SG_DP_PUNT_MAX]; /* punted packets taken, by enum sg_dp_punt */
	uint64_t unserved;              /* punted datagrams nobody could take (not UDP any more) */
	uint64_t reinjected;            /* records handed back: their session was installed since */
};

/* Take what the workers punted: a bounded number of bursts per call. */
void gw_punt_poll(struct sg_gateway *gw);

/* ---- sweep.c: sessions that end without being asked ---- */

/* An identity, as the credential store keeps it. */
struct gw_ident {
	uint8_t len;
	uint8_t bytes[SG_SESSREG_IDENTITY_MAX];
};

struct gw_sweep {
	uint64_t cursor; /* where the lifetime sweep goes on */
	/*
	 * Identities whose key was replaced or removed, their sessions still
	 * to end, a bounded number per poll: revoked[revoked_head..revoked_n).
	 */
	struct gw_ident *revoked;
	uint32_t revoked_head, revoked_n, revoked_cap;
	uint64_t revoked_ended; /* sessions ended because their credential changed */
};

/* The lifetime and idle sweep over a slice of the table, then revoked identities. */
void gw_sweep_poll(struct sg_gateway *gw, uint64_t now_unix);

/* A worker found the session's receive key at its forgery limit: end it. */
void gw_sweep_forgery_limit(struct sg_gateway *gw, uint64_t id);

/* The lifetime a new session gets: the credential's or policy.key_lifetime, less jitter. */
uint32_t gw_key_lifetime(const struct sg_gateway *gw, uint32_t cred_lifetime);

void gw_sweep_destroy(struct sg_gateway *gw);

/* ---- status.c ---- */

struct gw_status {
	uint64_t start_ns; /* CLOCK_MONOTONIC when the ports came up */
	uint64_t last_ns;  /* previous status line, for rates */
	uint64_t last_rx[SG_CFG_PORTS_MAX];
	/* the restore at start (restore.c): the status line tells it while it runs */
	enum { GW_RESTORE_NONE = 0, GW_RESTORE_RUNNING, GW_RESTORE_DONE } restore;
	uint64_t restore_seen, restore_back, restore_ns;
	void (*on_progress)(void *arg, bool done); /* sg_gateway_on_progress() */
	void *progress_arg;
};

/* The restore's progress (records seen, sessions back, ns since it began) for the status
 * line, and the daemon told (at most once a second while it runs, and at its end: done). */
void gw_status_restore(struct sg_gateway *gw, uint64_t seen, uint64_t back, uint64_t ns, bool done);

/* The ports came up: uptime and rates count from now. */
void gw_status_start(struct sg_gateway *gw);

/* ---- store.c, restore.c: the session store (docs/restart.md) ---- */

#define GW_STORE_CID_KEY_LEN 16 /* the session table's CID key (sg_sess_cid_key()) */

struct gw_store {
	struct sg_store *st; /* NULL: the store is off */
	char path[SG_CFG_STR_MAX];
	uint64_t commit_ns;    /* store.commit_interval */
	uint64_t group_ns;     /* sg_mono_ns() of the open group's first write; 0: none open */
	uint32_t group_writes; /* writes in the open group */
	/* meta read at open, for the table (ports.c) and the restore */
	bool have_cid_key;
	uint8_t cid_key[GW_STORE_CID_KEY_LEN]; /* wiped once the table has it */
	bool clean;                            /* the last run stopped cleanly: exact floors */
	uint32_t prev_step, prev_margin;       /* meta `floors` of the run that wrote them */
	char *policy;                          /* stored live overrides applied at start, or NULL */
	size_t policy_len;
	/* the gateway's writes */
	uint64_t puts, dels, floors;
	uint64_t errors;            /* failed puts, deletes, commits */
	uint64_t log_ns, log_quiet; /* errors are logged once per interval, the rest counted */
	uint64_t secrets_gen;       /* the shared secrets' generation last stored */
	struct sg_rec_sa *sa;       /* a session's SA while its record is made (wiped) */
	unsigned window;            /* its replay window bits */
	struct sg_store_restore_result restore;
	uint64_t saved, save_ms;
	bool save_done;
};

/*
 * Before the ports: open the store (its key from the systemd credential
 * stormgate-store or store.key_file) and read its meta: the CID key for the
 * table, the floors and clean marker for the restore, the live policy
 * overrides (applied over gw->cfg.policy here, each logged); then delete
 * the clean marker and write this run's floors, committed. Off: nothing.
 * 0 or -errno (logged): a store that cannot be opened, or cannot record
 * the start (the marker would make a later start reuse nonces), stops it.
 */
int gw_store_open(struct sg_gateway *gw);

/*
 * After the table, the data plane, the handshake engine and the credential
 * store are there, before the workers start (restore.c): every stored
 * session back (sg_store_restore()), exact when the last stop was clean;
 * the CID key if new, the ticket keys and cookie secrets into the engine
 * (new ones stored when absent), committed. Store errors leave sessions
 * out and are logged, never stop the start. Returns 0.
 */
int gw_store_restore(struct sg_gateway *gw);

/*
 * Hand the store's backend to its writer thread (a DPDK control thread):
 * after the restore and the start-up meta reads, before the workers start.
 * Off: nothing. 0 or -errno (logged; the gateway thread then writes itself).
 */
int gw_store_writer_start(struct sg_gateway *gw);

/* Commit what is written and close (an exact save stays; an unsaved crash-like group too). */
void gw_store_close(struct sg_gateway *gw);

/* Session id was installed or re-keyed: put its record (keys, floors, identity, backend). */
void gw_store_put(struct sg_gateway *gw, uint64_t id);

/* Session id ended: delete its record. */
void gw_store_del(struct sg_gateway *gw, uint64_t id);

/* A worker's SG_DP_PUNT_FLOORS: put each named session with its current floors. */
void gw_store_floors(struct sg_gateway *gw, const struct sg_dp_floor *f, unsigned n);

/* Each poll: commit a group whose window has passed; store the rotated shared secrets. */
void gw_store_poll(struct sg_gateway *gw, uint64_t now_ns);

/* A store error: counted, logged at most once per interval (what). Store and restore. */
void gw_store_error(struct sg_gateway *gw, const char *what, uint64_t id, int rc);

/* Put the shared ticket keys and cookie secrets in the open group. */
void gw_store_secrets(struct sg_gateway *gw);

/* ---- tls.c: our certificate or raw public key, the client CAs (tls: in the config) ---- */

struct gw_tls {
	struct sg_hs_certs *certs; /* NULL: no tls section, no ECDHE-ECDSA */
	uint64_t refill_next_ns;   /* the next refill of the signing pool */
	uint64_t refilled;         /* nonces precomputed here */
	uint64_t reloads, reload_failed;
	int64_t reloaded_at; /* Unix s of the last reload that took; 0: none */
};

/* Load tls.* (none: no ECDHE-ECDSA). 0, or -errno with the file and reason logged. */
int gw_tls_create(struct sg_gateway *gw);
/* After the engines were freed (they hold the object). */
void gw_tls_destroy(struct sg_gateway *gw);
/* Each poll: the signing pool's refill, a bounded batch every few milliseconds. */
void gw_tls_poll(struct sg_gateway *gw, uint64_t now_ns);

/* ---- gateway.c ---- */

struct sg_gateway {
	struct sg_config cfg; /* cfg.policy is the live policy (sg_gateway_policy_set()) */
	struct sg_gateway_info info;
	int running;
	struct sg_cred *cred;      /* attached: PSK lookups, status */
	struct sg_ctl_server *ctl; /* attached: the status line's client count */
	struct gw_ports ports;     /* ports.c */
	struct gw_hs hs;           /* hs_glue.c */
	struct gw_end end;         /* sess_end.c */
	struct gw_punt punt;       /* punt.c */
	struct gw_sweep sweep;     /* sweep.c */
	struct gw_status status;   /* status.c */
	struct gw_store store;     /* store.c, restore.c */
	struct gw_tls tls;         /* tls.c */
};

#endif /* STORMGATE_CONTROL_GW_PRIV_H */
