/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session table types shared by the session table, the data plane, the
 * control plane and the benchmarks. See session.h for the functions and
 * docs/session-table.md for the design (CID format, index, memory, RCU).
 */
#ifndef STORMGATE_SESSION_TYPES_H
#define STORMGATE_SESSION_TYPES_H

#include <assert.h> /* static_assert: C11 and C++ alike */
#include <stdint.h>

#include <stormgate/common.h>
#include <stormgate/record_types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rte_rcu_qsbr;

/*
 * Length of the connection IDs we issue (RFC 9146 §3: "cid<0..2^8-1>"; the
 * receiver must know the length because a tls12_cid record header does not
 * carry it, §4, so ours are fixed per table). 8 bytes hold a 32-bit nonce and
 * a 32-bit sealed slot word; up to 12 the nonce grows to 64 bits; beyond 12
 * the extra bytes are a keyed check (docs/session-table.md, "CID format").
 */
#define SG_SESS_CID_LEN_MIN     8
#define SG_SESS_CID_LEN_MAX     16
#define SG_SESS_CID_LEN_DEFAULT 8

/* The peer's CID (the one we put in records we send) may be 0..255 bytes (RFC 9146 §3). */
#define SG_SESS_PEER_CID_MAX 255
/* Peer CIDs up to this length are stored inline in the session's cold state. */
#define SG_SESS_PEER_CID_INLINE 16

/* Largest table: slot indexes must fit the CID slot word next to the node id. */
#define SG_SESS_CAPACITY_MAX (1u << 30)
/* Bits of the 32-bit CID slot word that may carry a cluster node id. */
#define SG_SESS_NODE_BITS_MAX 8

/* "No SA" in an SA index (struct sg_sess.sa_pair halves). */
#define SG_SESS_SA_NONE UINT32_MAX

/* struct sg_sess_new.flags and struct sg_sess.flags (low bits) */
#define SG_SESS_F_TUPLE 0x01 /* found by its UDP 4-tuple (no CID from the peer) */
#define SG_SESS_F_CID   0x02 /* found by the CID we issued (RFC 9146 tls12_cid records) */
/*
 * In struct sg_sess_new.flags only: restore the session at exactly
 * sg_sess_new.id (gen << 32 | slot), as a checkpoint recorded it; never
 * stored in the session.
 */
#define SG_SESS_F_ID 0x04

/*
 * A UDP 4-tuple as seen on a received datagram. IPv4 addresses are stored as
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) so both
 * families share one 36-byte key. Ports and addresses in network byte order,
 * as in the packet. Build it with sg_sess_tuple_v4() / sg_sess_tuple_v6().
 */
struct sg_sess_tuple {
	uint8_t laddr[16]; /* local (gateway) address: the datagram's destination */
	uint8_t paddr[16]; /* peer (device) address: the datagram's source */
	uint16_t lport;
	uint16_t pport;
};

static_assert(sizeof(struct sg_sess_tuple) == 36, "sg_sess_tuple is a packed 36-byte key");

/*
 * The hot line of one session: everything a worker reads on every record,
 * in one cache line. The SAs (struct sg_rec_sa, two lines each; three with
 * a CBC SA's MAC line) live in two separate pools and are reached through
 * sa_pair. Ownership of the fields:
 *   check, sa_pair, gen, flags, peer_cid_len, tuple: written by the control
 *       plane (the single writer thread), read by workers under RCU; the tuple
 *       of a CID session (not in the 4-tuple index) is also rewritten by its
 *       owning worker when the device moved and proved its new address
 *       (RFC 9146 §6, RFC 9853);
 *   owner: written by the control plane, read by workers;
 *   last_rx: Unix seconds of the last authenticated record (the session's start
 *            until then); written only by the owning worker, coarsely.
 * Workers must read check and sa_pair with acquire loads (the lookup
 * functions do); the other fields are stable while check is non-zero and
 * the reader has not reported a quiescent state.
 */
struct sg_sess {
	uint64_t check;       /* 0: no live session; else the CID nonce (docs: "CID format") */
	uint64_t sa_pair;     /* current SA index (low 32) | previous SA index (high 32) */
	uint32_t gen;         /* generation of this slot: session id = gen << 32 | slot */
	uint16_t owner;       /* worker that owns the replay window and write sequence */
	uint8_t flags;        /* SG_SESS_F_* and the slot state (private bits) */
	uint8_t peer_cid_len; /* length of the peer's CID, 0..255 */
	struct sg_sess_tuple tuple;
	uint32_t last_rx; /* owner worker: Unix s of the last authenticated record */
} __attribute__((aligned(SG_CACHE_LINE)));

static_assert(sizeof(struct sg_sess) == SG_CACHE_LINE, "sg_sess is one cache line");

/* Why a bulk lookup found no session (struct sg_sess_ref.miss). */
enum sg_sess_miss {
	SG_SESS_HIT = 0,        /* found: sa and sess are set */
	SG_SESS_MISS_TUPLE,     /* no session for this 4-tuple */
	SG_SESS_MISS_CID_NODE,  /* the CID decodes to another cluster node */
	SG_SESS_MISS_CID_RANGE, /* the CID decodes to a slot beyond the table: forged */
	SG_SESS_MISS_CID_TAG,   /* the CID's keyed check bytes are wrong: forged */
	SG_SESS_MISS_CID_CHECK, /* no live session with this CID: stale or forged */
	SG_SESS_MISS_MAX
};

/*
 * Result of a bulk lookup for one key. sa and prev stay valid (not wiped,
 * not reused) until the calling worker reports a quiescent state.
 */
struct sg_sess_ref {
	struct sg_rec_sa *sa;   /* current SA, NULL on a miss */
	struct sg_rec_sa *prev; /* SA before the last replace, if still kept, else NULL */
	struct sg_sess *sess;   /* the session's hot line, NULL on a miss */
	uint32_t slot;          /* slot index (session id = sess->gen << 32 | slot) */
	uint8_t miss;           /* enum sg_sess_miss */
};

/* Why the control plane's request was refused (counted in struct sg_sess_stats). */
enum sg_sess_refusal {
	SG_SESS_REFUSE_FULL = 0,   /* -ENOSPC: every slot holds a session */
	SG_SESS_REFUSE_SA_RESERVE, /* -ENOSPC: no free SA (reserve held by replaced keys) */
	SG_SESS_REFUSE_TUPLE_FULL, /* -ENOSPC: tuple_capacity sessions already indexed */
	SG_SESS_REFUSE_INDEX_FULL, /* -ENOSPC: no cuckoo path to a free index entry */
	SG_SESS_REFUSE_DUP_TUPLE,  /* -EEXIST: a session already has this 4-tuple */
	SG_SESS_REFUSE_CID_TAKEN,  /* -EEXIST: restore of a CID or an id whose slot is in use */
	SG_SESS_REFUSE_BAD_CID,    /* -EINVAL: restore of a CID that is not ours */
	SG_SESS_REFUSE_INVALID,    /* -EINVAL: malformed request */
	SG_SESS_REFUSE_UNKNOWN_ID, /* -ENOENT: no live session with this id (stale id) */
	SG_SESS_REFUSE_DEFER_FULL, /* -EAGAIN: deferred-free queue full, readers lag (with
	                              SG_SESS_P_DEFER_GROW: it could not grow, out of memory) */
	SG_SESS_REFUSE_BUSY,       /* -EBUSY: a second thread entered the single-writer API */
	SG_SESS_REFUSE_CBC_FULL,   /* -ENOSPC: CBC keys (wide SA), and cbc_capacity sessions
	                              already have them, or the CBC pool has no free SA */
	SG_SESS_REFUSE_MAX
};

/* Table configuration; zero fields take the documented default. */
struct sg_sess_params {
	uint32_t capacity;         /* sessions (slots), 1..SG_SESS_CAPACITY_MAX: required */
	uint32_t tuple_capacity;   /* sessions in the 4-tuple index; 0: capacity */
	uint32_t sa_reserve;       /* SAs beyond capacity for keys kept after a replace;
	                              0: capacity / 64, at least 64 */
	uint32_t defer_capacity;   /* deferred frees waiting for a grace period; 0: 65536
	                              (the queue's size, or its start with DEFER_GROW) */
	uint32_t cbc_capacity;     /* sessions with CBC-SHA256 keys, whose SAs are wide (the MAC
	                              line: sg_rec_sa_size_for()) and live in a pool of their
	                              own, <= capacity; 0: capacity / 16 (at least 1), none
	                              with SG_SESS_P_NO_CBC. The pool holds 1/64 more (at least
	                              64) for re-keyed sessions' previous CBC keys */
	uint16_t replay_window;    /* replay window bits, SG_REPLAY_WINDOW_MIN..MAX; 0: default */
	uint8_t cid_len;           /* SG_SESS_CID_LEN_MIN..MAX; 0: SG_SESS_CID_LEN_DEFAULT */
	uint8_t node_bits;         /* 0..SG_SESS_NODE_BITS_MAX bits of node id in each CID */
	uint16_t node_id;          /* this node's id, < 2^node_bits */
	uint16_t max_threads;      /* QSBR reader ids when the table makes its own; 0: 64 */
	struct rte_rcu_qsbr *qsbr; /* shared QSBR variable (caller-owned), or NULL */
	const uint8_t *cid_key;    /* 16-byte CID key (restart: the saved one), NULL: random */
	uint32_t flags;            /* SG_SESS_P_* */
};

/*
 * struct sg_sess_params.flags. By default a table commits (prefaults) all
 * its memory at create, so creation fails with ENOMEM if the memory is not
 * there and a full table is then the only refusal: never an out-of-memory
 * kill in the middle of a restore. LAZY maps pages as sessions first use
 * them (tools, tests, over-provisioned capacity).
 */
#define SG_SESS_P_LAZY 0x01
/*
 * DEFER_GROW: the writer never waits for the workers and is never refused
 * for them. When defer_capacity frees already wait for a grace period and
 * none is due, the deferred-free queue grows (doubling) instead of refusing
 * with -EAGAIN (defer_full); it never needs more than one entry per SA
 * (capacity + sa_reserve: every waiting free holds an SA that nothing else
 * holds), so its memory stays bounded by the table's. Counted in
 * reclaim_deferred. Without it the queue is a hard bound of defer_capacity.
 */
#define SG_SESS_P_DEFER_GROW 0x02
/*
 * NO_CBC: no CBC SA pool; inserting or re-keying to CBC keys is refused
 * (cbc_full). cbc_capacity must then be 0.
 */
#define SG_SESS_P_NO_CBC 0x04

/* A session to insert (control plane). */
struct sg_sess_new {
	/* sg_rec_sa_size_for(window, sa->aead) bytes (CBC: the MAC line too), copied; the
	 * caller wipes its copy */
	const struct sg_rec_sa *sa;
	struct sg_sess_tuple tuple; /* peer and local address; indexed if SG_SESS_F_TUPLE */
	const uint8_t *cid;         /* restore: the CID issued before (cid_len bytes), else NULL */
	const uint8_t *peer_cid;    /* the peer's CID (RFC 9146), peer_cid_len bytes */
	uint8_t peer_cid_len;
	uint8_t flags;     /* SG_SESS_F_TUPLE and/or SG_SESS_F_CID */
	uint16_t owner;    /* owning worker */
	uint16_t suite;    /* IANA cipher suite (RFC 6347 §4.3.2 CipherSuite) */
	uint32_t identity; /* credential store reference of the peer */
	uint32_t backend;  /* backend mapping */
	uint32_t expires;  /* lifetime deadline, Unix seconds; 0: none */
	uint32_t last_rx;  /* Unix seconds the session starts idle from (its handshake) */
	/*
	 * With SG_SESS_F_ID: the id to restore at (gen << 32 | slot; gen not 0,
	 * slot below the capacity). The slot must be free (-EEXIST if not); the
	 * session takes this generation, and the slot's next session the one
	 * after it. With SG_SESS_F_CID and cid set, that CID must name this
	 * slot (-EINVAL if not); without cid a fresh CID for this slot is issued.
	 */
	uint64_t id;
};

/*
 * A deleted session's current SA kept for one last record (the control plane
 * seals a closing alert with it): sg_sess_delete_hold(), sg_sess_take_held().
 */
struct sg_sess_held {
	uint64_t token; /* the workers' grace period after which nobody holds the SA */
	uint32_t sa;    /* the SA, by its index in the table */
};

/* A copy of one session for the control plane; holds no key material. */
struct sg_sess_info {
	uint64_t id;
	struct sg_sess_tuple tuple;
	uint8_t flags; /* SG_SESS_F_* */
	uint8_t cid_len;
	uint8_t cid[SG_SESS_CID_LEN_MAX];
	uint8_t peer_cid_len;
	uint8_t peer_cid[SG_SESS_PEER_CID_MAX];
	uint16_t owner;
	uint16_t suite;
	uint16_t rekeys; /* replaces so far */
	uint32_t identity;
	uint32_t backend;
	uint32_t expires;
	uint32_t last_rx;
	/* snapshot of the current SA's public fields (workers may be advancing them) */
	uint8_t aead;
	uint16_t epoch;
	uint32_t auth_failures;
	uint64_t tx_seq;
	uint64_t rx_top;
	uint16_t max_plaintext; /* largest plaintext the peer takes per record (RFC 8449 §4) */
	uint8_t rrc;            /* return routability checks negotiated (RFC 9853) */
	uint8_t has_prev;       /* keys of the previous handshake still accepted */
	uint16_t replay_window; /* the table's, bits: a CBC SA's MAC line is at sg_rec_sa_mac() */
};

/* Counters of one table (written by the control plane, readable from any thread). */
struct sg_sess_stats {
	uint64_t live;          /* sessions */
	uint64_t tuple_entries; /* sessions in the 4-tuple index */
	uint64_t sa_in_use;     /* AEAD pool: SAs held by sessions, kept previous keys and
	                           pending frees */
	uint64_t cbc_in_use;    /* the same in the CBC pool (wide SAs) */
	uint64_t cbc_live;      /* sessions whose current keys are CBC (<= cbc_capacity) */
	uint64_t deferred;      /* frees waiting for a grace period */
	uint64_t inserts;
	uint64_t replaces;
	uint64_t deletes;
	uint64_t reclaimed;      /* deferred frees done (keys wiped) */
	uint64_t index_moves;    /* cuckoo displacements */
	uint64_t cids_reserved;  /* slots held by sg_sess_cid_reserve() for handshakes under way */
	uint64_t defer_capacity; /* frees the deferred-free queue has room for now */
	uint64_t reclaim_deferred; /* frees queued beyond defer_capacity (SG_SESS_P_DEFER_GROW)
	                              instead of waiting for the workers */
	uint64_t refused[SG_SESS_REFUSE_MAX];
};

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_SESSION_TYPES_H */
