/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the data plane shared by its source files (not installed). */
#ifndef SG_DP_PRIV_H
#define SG_DP_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include <stormgate/dataplane.h>
#include <stormgate/dtls.h>
#include <stormgate/record.h>
#include <stormgate/session.h>

/* Record operations of one burst: burst * max_records_per_dgram never exceeds it. */
#define DP_OPS_MAX 256
/* Packets a worker sends per port per burst: forwarded ones plus copies for extra records. */
#define DP_TX_MAX (DP_OPS_MAX + SG_BURST_MAX)
/* Frames of the control plane waiting for worker 0 to send them. */
#define DP_CTL_TX_RING 1024

/* ---- neighbour table (neigh.c) ---- */

#define DP_NEIGH_SIZE  4096 /* entries per port, power of two */
#define DP_NEIGH_PROBE 8

/*
 * One entry, written by the control thread under a sequence count (odd while
 * it writes), read by workers without locks: a reader retries when the
 * count moved or was odd.
 */
struct dp_neigh {
	uint32_t seq;
	uint8_t family; /* 0: empty */
	uint8_t is_static;
	uint8_t mac[6];
	uint8_t ip[16];
	uint64_t updated_ns;
};

struct dp_neigh_table {
	struct dp_neigh e[DP_NEIGH_SIZE];
};

int dp_neigh_lookup(const struct dp_neigh_table *t, uint8_t family, const uint8_t *ip,
                    uint8_t mac[6]);
int dp_neigh_update(struct dp_neigh_table *t, uint8_t family, const uint8_t *ip,
                    const uint8_t mac[6], bool is_static, uint64_t now_ns);

/* ---- per-slot backend state (control writes before publishing a session) ---- */

/* PSK identity of a session, for the PROXY v2 TLV; immutable once published. */
struct dp_ident {
	uint8_t len;
	uint8_t bytes[];
};

/* ---- return routability checks (rrc.c, RFC 9853) ---- */

#define DP_RRC_CHECKS 128 /* pending checks per worker; when all are taken the oldest goes */
#define DP_RRC_POOL   256 /* cookie keystream bytes made at a time (32 cookies) */

/* One check: a path_challenge went to cand, and the session moves there on its answer. */
struct dp_rrc_check {
	uint64_t deadline;         /* TSC after which the answer is too late; 0: free */
	uint64_t sess;             /* session id (gen << 32 | slot) */
	struct sg_sess_tuple cand; /* the new address and port being checked */
	uint8_t cookie[SG_RRC_COOKIE_LEN];
};

/*
 * A worker's return routability state: a fixed table of pending checks (no
 * allocation) and its cookie generator. Cookies are an AES-128-CTR
 * keystream (the ciphertext of zeros under AES-128-GCM, made by IPsec-MB
 * through sg_aead_burst()) under a key the control plane draws from the
 * kernel's CSPRNG (getrandom) when it creates the worker, with a counter as
 * nonce: unpredictable to anyone without the key, and no system call on the
 * worker (RFC 9853 §4, §8: 64 bits of fresh entropy per cookie).
 */
struct dp_rrc {
	struct dp_rrc_check chk[DP_RRC_CHECKS];
	unsigned next;     /* the oldest entry: the next one taken */
	unsigned pending;  /* entries in use */
	uint64_t sweep_at; /* TSC of the next sweep for timed-out checks */
	uint64_t nonce;    /* keystream counter */
	unsigned pool_used;
	uint8_t key[16]; /* secret; wiped when the worker is freed */
	uint8_t pool[DP_RRC_POOL];
};

/* ---- workers ---- */

struct dp_tx {
	uint16_t n;
	struct rte_mbuf *m[DP_TX_MAX];
	uint8_t outcome[DP_TX_MAX]; /* DP_OUT_*: counted when the packet leaves */
};

enum dp_outcome {
	DP_OUT_NONE = 0, /* an extra packet (record copy): its datagram is counted already */
	DP_OUT_UP,
	DP_OUT_DOWN,
};

struct dp_worker {
	struct sg_dp *dp;
	unsigned idx;
	struct sg_rec_ctx *rec;
	struct sg_sess_worker *sw;
	struct rte_ring *handoff; /* packets other workers found for our sessions */
	struct dp_tx tx[SG_DP_PORTS_MAX];
	struct sg_rec_open_op open[DP_OPS_MAX];
	struct sg_rec_seal_op seal[SG_BURST_MAX];
	/* second tries with a session's previous SA (worker.c, retry_prev()) */
	struct sg_rec_open_op retry[DP_OPS_MAX];
	uint16_t retry_op[DP_OPS_MAX];
	uint8_t *keep;       /* copies of those records: burst x mbuf data room bytes */
	uint64_t now_tsc;    /* TSC of this poll */
	uint64_t scrub_at;   /* TSC of the next sg_rec_ctx_wipe_keys() */
	uint64_t next_s_tsc; /* TSC at which now_s moves on */
	uint32_t now_s;      /* Unix seconds of this poll (sessions' last_rx) */
	uint32_t keep_cap;
	struct sg_dp_counters c;
	struct dp_rrc rrc;
} __rte_cache_aligned;

struct sg_dp {
	struct sg_dp_conf conf;
	int meta_off; /* mbuf dynfield offset of struct sg_dp_meta */
	/* the wall clock for the workers without a syscall: Unix seconds at tsc0 */
	uint64_t unix0, tsc0, tsc_hz;
	uint64_t scrub_tsc; /* conf.key_scrub_ms in TSC cycles */
	uint64_t rrc_tsc;   /* conf.rrc_timeout_ms in TSC cycles */
	unsigned cid_len;
	unsigned window_bits;
	uint32_t capacity;
	int8_t dev_port;     /* index of the device-role port */
	int8_t backend_port; /* index of the backend-role port */
	struct rte_ring *punt;
	struct rte_ring *ctl_txr;         /* control-plane frames; worker 0 sends them */
	uint16_t nb_rxq[SG_DP_PORTS_MAX]; /* RX queues each port was configured with */
	struct dp_neigh_table *neigh[SG_DP_PORTS_MAX];
	/* per session slot: udp mode: backend port index + 1 (0: none); proxy mode: identity */
	uint32_t *slot_bport;
	struct dp_ident **slot_ident;
	/* udp mode: backend port index -> session id + 1 (0: free) */
	uint64_t *bport_session;
	uint32_t n_bports;
	/* udp mode: FIFO of free backend port indexes (oldest freed first: longest quarantine) */
	uint32_t *bport_fifo;
	uint32_t fifo_head;
	uint32_t fifo_len;
	/* identities waiting for a grace period before they are freed */
	struct dp_ident_defer {
		uint64_t token;
		struct dp_ident *id;
	} * ident_dq;
	uint32_t dq_head, dq_len, dq_cap;
	uint64_t ctl_sent, ctl_dropped;
	volatile int stop;
	struct dp_worker *w[SG_DP_WORKERS_MAX];
};

static inline struct sg_dp_meta *dp_meta(const struct sg_dp *dp, struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, dp->meta_off, struct sg_dp_meta *);
}

/* Single writer per counter: a relaxed load and store is an atomic add nobody races. */
static inline void dp_count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

/*
 * Return routability checks of worker w (rrc.c); w's own thread only.
 *
 * dp_rrc_init: draw the cookie key (control thread, at create); 0 or -EIO.
 * dp_rrc_start: check cand for session sess: take an entry (the oldest when
 *   none is free), draw its cookie into cookie; 0, -EALREADY when a check of
 *   the session is pending (RFC 9853 §5: one at a time), -EIO when no cookie
 *   could be made.
 * dp_rrc_answer: a path_response of session sess with cookie came from
 *   from: true when it answers a pending, timely check of that address
 *   (the entry is freed), false otherwise (RFC 9853 §5.4: discarded).
 * dp_rrc_sweep: free the checks that timed out by tsc, counting them.
 * dp_rrc_wipe: wipe the key, the cookies and the table.
 */
int dp_rrc_init(struct dp_rrc *r);
int dp_rrc_start(struct dp_worker *w, uint64_t sess, const struct sg_sess_tuple *cand,
                 uint8_t cookie[SG_RRC_COOKIE_LEN]);
bool dp_rrc_answer(struct dp_worker *w, uint64_t sess, const uint8_t *cookie,
                   const struct sg_sess_tuple *from);
void dp_rrc_sweep(struct dp_worker *w, uint64_t tsc);
void dp_rrc_wipe(struct dp_rrc *r);

/* The next hop for dst on port p: dst itself when on-link, else the port's gateway. */
const uint8_t *dp_next_hop(const struct sg_dp_port_conf *p, uint8_t family, const uint8_t *dst);

/*
 * Write Ethernet, IPv4/IPv6 and UDP headers in front of a payload of len
 * bytes that starts hdr_len bytes into frame; fills the UDP checksum.
 * Returns the header length the family needs (use dp_hdr_len() to size).
 */
unsigned dp_hdr_len(const struct sg_dp_port_conf *p, uint8_t family);
void dp_build_udp(const struct sg_dp_port_conf *p, uint8_t *frame, const uint8_t dmac[6],
                  uint8_t family, const uint8_t *src, uint16_t sport, const uint8_t *dst,
                  uint16_t dport, uint16_t len);

#endif /* SG_DP_PRIV_H */
