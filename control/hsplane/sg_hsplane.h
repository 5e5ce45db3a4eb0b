/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake plane (issue 16, docs/hsplane.md): N handshake threads
 * `sg-hs-<i>` (DPDK control threads, pinned when asked), each owning one
 * DTLS handshake engine (control/handshake) with everything it touches: its
 * slots and timers, its scratch, IPsec-MB manager and OpenSSL contexts, its
 * storm admission buckets, its control-TX handle. Thread i serves the data
 * plane's handshake queue i (sg_dp_hs_queue_of(): a client's datagrams
 * always reach the same engine).
 *
 * What the engines share, and how:
 *  - cookie secrets and ticket keys: one struct sg_hs_secrets (handshake.h),
 *    rotated by the owner (the gateway thread), read by the engines;
 *  - the credential store: each lookup is its own LMDB read transaction
 *    (readers never wait); the lookup records the credential generation it
 *    read before (sg_hsplane_cred_revoked()) in struct sg_hs_cred.user;
 *  - the session table: never. A completed handshake's session is a
 *    message on the engine's FIFO to the owner thread (struct
 *    sg_hsplane_sink.install), with the datagrams the engine sent the peer
 *    after it (our final flight), which go out only once the install
 *    succeeded: the session is published before the client can see our
 *    Finished (RFC 6347 §4.2.8);
 *  - CIDs (RFC 9146): the owner reserves them in the table ahead, a small
 *    cache per engine, and takes back those a failed handshake released.
 *
 * Threads: sg_hsplane_create/_start/_stop/_destroy and every other function
 * here run on one owner thread (the gateway thread; the main lcore at start
 * and stop), never on a handshake thread; the handshake threads run only
 * hsplane's own loop and the engine's callbacks. The owner never waits for
 * an engine but in sg_hsplane_stop().
 */
#ifndef STORMGATE_CONTROL_SG_HSPLANE_H
#define STORMGATE_CONTROL_SG_HSPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stormgate/dataplane.h>
#include <stormgate/handshake.h>

#include "sg_cred.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SG_HSPLANE_ENGINES_MAX SG_DP_HS_QUEUES_MAX

struct sg_hsplane;

/* Storm admission of one engine (sg_admit.h): its part of policy.handshake_rate. */
struct sg_hsplane_admission {
	uint32_t rate;            /* the whole plane's, per second; 0: unlimited */
	uint32_t source_share;    /* percent of an engine's rate one source prefix may take */
	uint8_t prefix4, prefix6; /* a source prefix */
};

struct sg_hsplane_conf {
	unsigned engines;     /* 1..SG_HSPLANE_ENGINES_MAX; the data plane has as many queues */
	const uint32_t *cpus; /* CPU of thread i (n_cpus of them); none: EAL's control CPUs */
	unsigned n_cpus;
	unsigned burst;     /* datagrams an engine takes per round, 1..SG_HS_BURST_MAX; 0: 32 */
	uint32_t in_flight; /* handshakes in flight across the engines, split evenly (>= 1 each) */
	/*
	 * Every engine's configuration; max_handshakes (from in_flight) and ops
	 * are set by hsplane; secrets should be shared (NULL: each engine makes
	 * its own, and a client that moves to another engine's queue, a new
	 * source port, loses its cookie and ticket). certs (the owner's struct
	 * sg_hs_certs) is shared by every engine as is; ops.cert_lookup reads
	 * the raw public keys and certificate policies of cred.
	 */
	struct sg_hs_config hs;
	struct sg_dp *dp;        /* the handshake queues and the control TX */
	unsigned tx_port;        /* data-plane port index the engines send from */
	struct sg_cred *cred;    /* PSK lookups; NULL: every lookup fails (-EIO) */
	unsigned fifo;           /* install messages per engine (its pool); 0: 1024 */
	unsigned cid_cache;      /* CIDs kept ready per engine (hs.cid_len > 0); 0: 256 */
	uint32_t ecdhe_reuse_ms; /* handshake.ecdhe_reuse (0: a fresh key each) */
	uint32_t
	        ecdhe_reuse_storm_ms; /* ... while admission refused in the last second; 0: never */
	struct sg_hsplane_admission admission;
};

/*
 * What the owner thread does with what the engines hand it
 * (sg_hsplane_poll()), all called on the owner thread.
 */
struct sg_hsplane_sink {
	void *ctx;
	/*
	 * A completed handshake: install its session; worker is the data-plane
	 * worker that punted the datagram completing it (its flow's). The
	 * result holds keys: copy what is kept. 0 (the final flight is sent
	 * now) or -errno (it is not: the device's handshake fails; counted).
	 */
	int (*install)(void *ctx, const struct sg_hs_result *res, unsigned worker);
	/*
	 * A record of no session (application data or tls12_cid) the engine
	 * did not take, in order behind the installs before it: return true
	 * when it was handed back to the data plane (its session exists now),
	 * false to have it freed (counted unknown_dropped).
	 */
	bool (*record)(void *ctx, struct rte_mbuf *m, const struct sg_hs_peer *peer,
	               const uint8_t *payload, uint16_t len);
	/* Reserve one CID in the session table (cid_len bytes into cid): 0 or -errno. */
	int (*cid_reserve)(void *ctx, uint8_t *cid);
	/* Give back a CID reserved and not used. */
	void (*cid_release)(void *ctx, const uint8_t *cid);
};

/*
 * Make the engines (each with its slots, its admission buckets and its
 * control-TX handle), their FIFOs and command rings, served through sink
 * (copied); no thread yet. NULL with errno EINVAL (a bad conf: engines,
 * burst, no dp, fewer handshake queues than engines, a sink without
 * install or record, an engine the handshake library refused) or ENOMEM.
 */
struct sg_hsplane *sg_hsplane_create(const struct sg_hsplane_conf *conf,
                                     const struct sg_hsplane_sink *sink);

/* Start the threads `sg-hs-<i>`. 0 or -errno (the ones started are stopped). */
int sg_hsplane_start(struct sg_hsplane *p);

/*
 * The clean stop: the threads stop and are joined (their datagrams still
 * queued stay in the data plane's queues), the engines are freed (their
 * secrets wiped), then what they handed over is served through the sink
 * (installs done, their flights sent) and every CID cached or released
 * goes back through sink->cid_release. Idempotent.
 */
void sg_hsplane_stop(struct sg_hsplane *p);

/* Stop if needed and free everything. NULL: no-op. */
void sg_hsplane_destroy(struct sg_hsplane *p);

/* The credential store for the lookups from now on (NULL: lookups fail). */
void sg_hsplane_cred_set(struct sg_hsplane *p, struct sg_cred *cred);

/*
 * One round of the owner's share: every engine's FIFO drained in order
 * (installs, then their final flights, records), CID caches refilled and
 * released CIDs taken back, commands the engines could not take yet posted
 * again. Returns the messages handled.
 */
unsigned sg_hsplane_poll(struct sg_hsplane *p);

/*
 * A credential changed: the generation every lookup records moves on
 * (returned), and every engine fails its handshakes in flight whose
 * identity's credential is gone or disabled now (sg_hs_revoke() on its
 * thread, soon). A handshake that looked up the old key is refused at
 * install when sg_hsplane_lookup_stale() says so.
 */
uint64_t sg_hsplane_cred_revoked(struct sg_hsplane *p);

/*
 * Did the install res (its struct sg_hs_result.user: the generation read
 * before its lookup) look its PSK up before a credential change
 * (sg_hsplane_cred_revoked())? Then its key may be the old one.
 */
bool sg_hsplane_lookup_stale(const struct sg_hsplane *p, const struct sg_hs_result *res);

/* The engines' policy now (each applies it on its thread, soon). */
void sg_hsplane_policy(struct sg_hsplane *p, const struct sg_hs_policy *hp,
                       const struct sg_hsplane_admission *adm);

/*
 * A device's Finished came again under its session's keys: the engine of
 * its queue resends our final flight (sg_hs_finished_again()).
 */
void sg_hsplane_finished_again(struct sg_hsplane *p, const struct sg_hs_peer *peer);

/* handshake.ecdhe_reuse and its storm window, for every engine. */
void sg_hsplane_ecdhe_reuse(struct sg_hsplane *p, uint32_t ms, uint32_t storm_ms);

unsigned sg_hsplane_engines(const struct sg_hsplane *p);

/* One engine's snapshot (published by its thread at least every 100 ms). */
struct sg_hsplane_engine_stats {
	struct sg_hs_stats hs;
	uint64_t admitted, refused, refused_rate, refused_source;
	uint64_t available;    /* admission tokens now (0: unlimited) */
	uint64_t taken[2];     /* datagrams taken from its queue: handshake, unknown_session */
	uint64_t installs;     /* install messages handed over */
	uint64_t fifo_full;    /* installs refused (and records dropped): the FIFO was full */
	uint64_t held_back;    /* rounds that took fewer datagrams than a burst: pool short */
	uint64_t records;      /* records of no session handed over */
	uint64_t cid_empty;    /* handshakes that went on without a CID: the cache was empty */
	uint64_t cid_lost;     /* CIDs released that the release ring had no room for */
	uint64_t cmd_dropped;  /* commands lost: the ring was full */
	uint64_t rounds, idle; /* loop rounds, those that found nothing */
	bool ecdhe_reusing;    /* an ephemeral key reused now */
	uint64_t published_ms; /* when (monotonic ms) */
};

/* Copy engine i's last snapshot. 0 or -EINVAL. */
int sg_hsplane_engine_stats(const struct sg_hsplane *p, unsigned i,
                            struct sg_hsplane_engine_stats *st);

/* What the owner counted: installs refused as stale, records dropped. */
struct sg_hsplane_totals {
	uint64_t installed;       /* sink->install said 0 */
	uint64_t install_failed;  /* ... refused */
	uint64_t records_back;    /* records the sink handed back to the data plane */
	uint64_t unknown_dropped; /* records of no session freed */
	uint64_t cids_reserved, cids_returned;
};
void sg_hsplane_totals(const struct sg_hsplane *p, struct sg_hsplane_totals *t);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_HSPLANE_H */
