/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the data plane shared by its source files (not installed). */
#ifndef SG_DP_PRIV_H
#define SG_DP_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_hash_crc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include <stormgate/bytes.h>
#include <stormgate/dataplane.h>
#include <stormgate/dtls.h>
#include <stormgate/proxy_v2.h>
#include <stormgate/record.h>
#include <stormgate/session.h>

/* Record operations of one burst: burst * max_records_per_dgram never exceeds it. */
#define DP_OPS_MAX 256
/* Packets a worker sends per port per burst: forwarded ones plus copies for extra records. */
#define DP_TX_MAX (DP_OPS_MAX + SG_BURST_MAX)
/* Frames of the control plane waiting for worker 0 to send them. */
#define DP_CTL_TX_RING 1024
/*
 * Frames the control plane keeps, in order, while that ring is full (a
 * storm's flights come faster than worker 0 drains them), retried each poll
 * (sg_dp_ctl_tx_retry()) instead of dropped: a lost final flight costs the
 * device a retransmission timeout, a second one its handshake.
 */
#define DP_CTL_BACKLOG 4096
/*
 * The rings several unpinned threads produce into (the control-TX ring, the
 * handshake queues): producers in RTS mode, which no preempted producer
 * stalls (dp.c), and one consumer. The RTS consumer's acquire of the
 * producers' tail is a 4-byte load of the 8-byte word their CAS releases,
 * which ThreadSanitizer does not pair (it keys the hand-over by address):
 * the ThreadSanitizer build keeps the classic mode, whose hand-over it sees
 * (tests/tsan/dpdk_wait.h). Both through the generic enqueue and dequeue.
 */
#if defined(__SANITIZE_THREAD__)
#define DP_MP_RING_FLAGS RING_F_SC_DEQ
#else
#define DP_MP_RING_FLAGS (RING_F_MP_RTS_ENQ | RING_F_SC_DEQ)
#endif

/* Bursts of control-plane frames worker 0 sends per poll. */
#define DP_CTL_TX_ROUNDS 4

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

/*
 * proxy mode: a session's PSK identity for the PROXY v2 TLV and its token,
 * which every reply must echo in its UNIQUE_ID TLV; immutable once
 * published, wiped when freed.
 */
struct dp_ident {
	uint8_t token[SG_PP2_TOKEN_LEN];
	uint8_t auth; /* enum sg_pp2_auth: how the identity authenticated */
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
	/*
	 * Sequence floors (floors.c): seq_step - 1 (a power of two; UINT64_MAX:
	 * off, so no sequence number matches); the first second of the current
	 * seq_interval_s window (0: off); the sessions marked in this burst.
	 */
	uint64_t floor_mask;
	uint32_t win_start;
	unsigned n_floor;
	uint64_t floor_id[SG_BURST_MAX];
	const struct sg_rec_sa *floor_sa[SG_BURST_MAX];
	struct sg_dp_counters c;
	/* datagrams dropped per handshake queue, it being full (sg_dp_hs_queue_full()) */
	uint64_t hsq_full[SG_DP_HS_QUEUES_MAX];
	struct dp_rrc rrc;
} __rte_cache_aligned;

#define DP_SOLICITED_SLOTS 256 /* power of two */

/*
 * A sending thread's control TX (the control thread's own, or a handle of
 * sg_dp_ctl_tx_create()): its backlog, its solicitations and its counters,
 * written by its thread only (relaxed stores), summed by the control thread.
 */
struct sg_dp_ctl_tx {
	struct sg_dp *dp;
	uint64_t sent, dropped;
	uint64_t deferred; /* frames that waited in the backlog */
	/* frames waiting for room in ctl_txr (a FIFO, DP_CTL_BACKLOG) */
	uint32_t bl_head, bl_len;
	struct rte_mbuf *backlog[DP_CTL_BACKLOG];
	/* next hops solicited in the last second (solicit_due()) */
	struct dp_solicited {
		uint32_t key;
		uint64_t at_ns;
	} solicited[DP_SOLICITED_SLOTS];
};

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
	/* per session slot: udp mode, FIFO map: backend port index + 1 (0: none); proxy mode:
	 * identity */
	uint32_t *slot_bport;
	struct dp_ident **slot_ident;
	/* udp mode: our source addresses on the backend side (conf.local_addr[] or the pool) */
	uint64_t n_baddr;
	/*
	 * udp mode, direct map (a pool with a port for every slot, backend.c): per
	 * slot, the attached session's generation << 32 (0: none) | the slot's
	 * attach count. The index of slot s is s << btag_shift | count mod
	 * 2^btag_shift, so a slot's next session takes another port.
	 */
	uint64_t *slot_btag;
	bool direct;
	uint8_t btag_shift;
	/* udp mode, FIFO map: backend port index -> session id + 1 (0: free) */
	uint64_t *bport_session;
	uint32_t n_bports;
	/* udp mode: FIFO of free backend port indexes (oldest freed first: longest quarantine) */
	uint32_t *bport_fifo;
	uint32_t fifo_head;
	uint32_t fifo_len;
	/* restores bound ports the FIFO still lists: rebuilt before the next attach */
	bool fifo_stale;
	/* identities waiting for a grace period before they are freed */
	struct dp_ident_defer {
		uint64_t grace; /* rte_rcu_qsbr_start() token */
		struct dp_ident *id;
	} * ident_dq;
	uint32_t dq_head, dq_len, dq_cap;
	uint32_t dq_max;          /* dq_cap grows up to this, never waiting (backend.c) */
	uint64_t detach_deferred; /* identities queued beyond the nominal 65536 */
	/* the control thread's own control TX (sg_dp_ctl_send_udp()) and the other
	 * sending threads' handles (sg_dp_ctl_tx_create(); created, freed and summed
	 * on the control thread) */
	struct sg_dp_ctl_tx *ctl;
	struct sg_dp_ctl_tx *ctl_h[SG_DP_CTL_TX_MAX];
	/* handshake queues (multi-producer: the workers; single consumer: an engine) */
	unsigned n_hsq;
	uint32_t hs_key; /* sg_dp_hs_queue_of()'s key, random per data plane */
	struct rte_ring *hsq[SG_DP_HS_QUEUES_MAX];
	volatile int stop;
	struct dp_worker *w[SG_DP_WORKERS_MAX];
};

/* ---- the sessions' backend side (backend.c; the inlines below are the hot path's) ---- */

/* Make the maps of the backend mode (sg_dp_create); free them (sg_dp_destroy). 0 or -ENOMEM. */
int dp_backend_maps(struct sg_dp *dp);
void dp_backend_free(struct sg_dp *dp);

/* udp mode: our backend-side source address idx (< n_baddr), 16 bytes into out. */
static inline void dp_baddr(const struct sg_dp *dp, uint32_t idx, uint8_t out[16])
{
	const struct sg_dp_conf *cf = &dp->conf;
	unsigned low = cf->backend_family == 4 ? 0 : 12; /* the pool's host bits are here */

	if (cf->pool_len == 0) {
		memcpy(out, cf->local_addr[idx], 16);
		return;
	}
	memcpy(out, cf->pool_addr, 16);
	sg_store_be32(out + low, sg_load_be32(cf->pool_addr + low) + idx);
}

/* udp mode: the index of a (of the backend family) among our source addresses, or false. */
static inline bool dp_baddr_index(const struct sg_dp *dp, const uint8_t *a, uint32_t *idx)
{
	const struct sg_dp_conf *cf = &dp->conf;
	unsigned low = cf->backend_family == 4 ? 0 : 12;
	uint32_t d;

	if (cf->pool_len == 0) {
		for (unsigned i = 0; i < cf->n_local; i++)
			if (memcmp(a, cf->local_addr[i], low ? 16 : 4) == 0) {
				*idx = i;
				return true;
			}
		return false;
	}
	/* address - base: anything below the base wraps to past the pool's size */
	d = sg_load_be32(a + low) - sg_load_be32(cf->pool_addr + low);
	if ((low && memcmp(a, cf->pool_addr, low) != 0) || d >= dp->n_baddr)
		return false;
	*idx = d;
	return true;
}

/* udp mode: the backend port index slot's session uses, or false when it has none. */
static inline bool dp_slot_bport(const struct sg_dp *dp, uint32_t slot, uint32_t *bpi)
{
	uint64_t t;
	uint32_t v;

	if (dp->direct) {
		t = __atomic_load_n(&dp->slot_btag[slot], __ATOMIC_RELAXED);
		*bpi = slot << dp->btag_shift | ((uint32_t)t & ((1u << dp->btag_shift) - 1));
		return (t >> 32) != 0;
	}
	v = __atomic_load_n(&dp->slot_bport[slot], __ATOMIC_RELAXED);
	*bpi = v - 1;
	return v != 0;
}

/*
 * udp mode: the session a reply to our address dst, port dport, belongs to:
 * arithmetic from the address's index and the port to the backend port
 * index, then its slot (direct map) or its entry (FIFO map). Returns
 * SG_DROP_MAX with *sid, SG_DROP_UDP_PORT (not one of our backend addresses
 * and ports) or SG_DROP_BACKEND_UNKNOWN (no session has it now).
 */
static inline enum sg_drop dp_bport_session(const struct sg_dp *dp, const uint8_t *dst,
                                            uint16_t dport, uint64_t *sid)
{
	const struct sg_dp_conf *cf = &dp->conf;
	uint32_t off = (uint32_t)dport - cf->port_base, a, slot, mask;
	uint64_t bpi, v;

	if (off >= cf->ports_per_addr || !dp_baddr_index(dp, dst, &a))
		return SG_DROP_UDP_PORT;
	bpi = (uint64_t)a * cf->ports_per_addr + off;
	if (!dp->direct) {
		if (bpi >= dp->n_bports)
			return SG_DROP_UDP_PORT;
		v = __atomic_load_n(&dp->bport_session[bpi], __ATOMIC_ACQUIRE);
		if (v == 0)
			return SG_DROP_BACKEND_UNKNOWN;
		*sid = v - 1;
		return SG_DROP_MAX;
	}
	if ((bpi >> dp->btag_shift) >= dp->capacity)
		return SG_DROP_BACKEND_UNKNOWN; /* a pool port no slot maps to */
	slot = (uint32_t)(bpi >> dp->btag_shift);
	mask = (1u << dp->btag_shift) - 1;
	v = __atomic_load_n(&dp->slot_btag[slot], __ATOMIC_ACQUIRE);
	/* The slot has a session, and this port is the one its attach got. */
	if ((v >> 32) == 0 || ((uint32_t)v & mask) != ((uint32_t)bpi & mask))
		return SG_DROP_BACKEND_UNKNOWN;
	*sid = (v & ~(uint64_t)UINT32_MAX) | slot;
	return SG_DROP_MAX;
}

/*
 * The handshake queue of a client (sg_dp_hs_queue_of()): CRC32-C of its
 * address and port under the data plane's random key, scaled to the queues
 * (multiply-shift, no division). Any thread.
 */
static inline unsigned dp_hs_queue(const struct sg_dp *dp, const uint8_t paddr[16], uint16_t pport)
{
	uint32_t h;

	if (dp->n_hsq <= 1)
		return 0;
	h = rte_hash_crc(paddr, 16, dp->hs_key);
	h = rte_hash_crc_4byte((uint32_t)pport << 16 | pport, h);
	return (unsigned)(((uint64_t)h * dp->n_hsq) >> 32);
}

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

/* ---- sequence floors (floors.c, issue 15) ---- */

/* The worker's floor rules from conf (dp_worker_create). */
void dp_floor_init(struct dp_worker *w, const struct sg_dp_conf *conf);

/*
 * The session of ref gets a floor at the end of this burst, once however
 * often it is marked (a short search: marks are rare, one per seq_step
 * records or per window). Worker.
 */
static inline void dp_floor_mark(struct dp_worker *w, const struct sg_sess_ref *ref)
{
	uint64_t id = sg_sess_ref_id(ref);

	for (unsigned i = 0; i < w->n_floor; i++)
		if (w->floor_id[i] == id)
			return;
	if (w->n_floor == SG_BURST_MAX) { /* more sessions than a burst has packets: never */
		dp_count(&w->c.floors_dropped, 1);
		return;
	}
	w->floor_id[w->n_floor] = id;
	w->floor_sa[w->n_floor++] = ref->sa;
}

/*
 * Post the burst's floors (the SAs' values now) in as few mbufs as they fit,
 * onto the punt ring, never waiting: no mbuf or a full ring drops them,
 * counted. Worker, before its quiescent report (the SAs are still held).
 */
void dp_floor_flush(struct dp_worker *w);

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
