/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the session table shared by its source files (not installed).
 * Layout and rules: docs/session-table.md.
 */
#ifndef SG_SESSION_PRIV_H
#define SG_SESSION_PRIV_H

#include <stdint.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <rte_hash_crc.h>

#include <stormgate/session.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define SESS_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define SESS_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SESS_POISON(p, n)   ((void)(p), (void)(n))
#define SESS_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Slot state, in the top bits of struct sg_sess.flags (writer-owned). */
#define SESS_ST_MASK     0xC0
#define SESS_ST_FREE     0x00 /* on the free list, or never used */
#define SESS_ST_LIVE     0x40 /* findable */
#define SESS_ST_DEAD     0x80 /* deleted, waiting for a grace period */
#define SESS_ST_RESERVED 0xC0 /* held for a CID sg_sess_cid_reserve() gave out; not findable */

#define SESS_NONE UINT32_MAX

/*
 * SA pools. An SA index names its pool in its top bit: the AEAD pool
 * (two lines an SA, capacity + sa_reserve of them) or the CBC pool (the SA
 * and its MAC line, cbc_capacity + a reserve: docs/session-table.md). So
 * sa_pair needs no other field and a lookup resolves either kind without a
 * branch. SESS_NONE has the bit set too, but is never resolved.
 */
#define SESS_POOL_AEAD 0
#define SESS_POOL_CBC  1
#define SESS_POOLS     2
#define SESS_SA_CBC    0x80000000u
#define SESS_SA_IDX    0x7fffffffu

/* 4-tuple index: 8-way buckets of (tag, slot) entries, one cache line each. */
#define SESS_BUCKET_WAYS 8
/* Index entries per session at full tuple_capacity: 8/7, load factor 0.875. */
#define SESS_BUCKET_DIV 7
/* Tag bit saying the entry sits in its key's secondary bucket. */
#define SESS_TAG_ALT 0x80000000u
/* Bound of the breadth-first search for a cuckoo path (buckets visited). */
#define SESS_BFS_MAX 512
/* Odd multiplier of the 4-tuple hash (2^64 / golden ratio). */
#define SESS_HASH_MUL 0x9e3779b97f4a7c15ull
/* Retries of a reader racing cuckoo moves before it reports a miss. */
#define SESS_READ_RETRIES 16

struct sess_bucket {
	uint64_t e[SESS_BUCKET_WAYS]; /* tag << 32 | slot; 0: empty (tags are never 0) */
} __attribute__((aligned(SG_CACHE_LINE)));

/*
 * Cold state of a session: read by the control plane, and by the owning
 * worker only to seal (peer CID). Half a cache line.
 */
struct sess_cold {
	uint32_t identity;
	uint32_t backend;
	uint32_t expires;
	uint16_t suite;
	uint16_t rekeys;
	union {
		uint8_t inl[SG_SESS_PEER_CID_INLINE];
		uint8_t *ext; /* malloc'd when peer_cid_len > SG_SESS_PEER_CID_INLINE */
	} peer_cid;
};

_Static_assert(sizeof(struct sess_cold) == 32, "sess_cold is half a cache line");

/* What a free slot keeps in its tuple bytes (never read by workers then). */
struct sess_free {
	uint32_t next;
	uint32_t prev;
	uint64_t last_check; /* nonce of the previous session, never reissued next */
};

/* Where a pool's SAs are: read by workers, written only at create. */
struct sess_pool {
	uint8_t *base; /* NULL: the pool is empty (no CBC sessions) */
	uint32_t size; /* bytes an SA: sg_rec_sa_size_for(window, the pool's kind) */
	uint32_t pad;
};

/* A pool's allocation state: the writer's. */
struct sess_pool_alloc {
	uint32_t count; /* SAs in the pool */
	uint32_t free;  /* head of the free list (the link is an SA's last word) */
	uint32_t hwm;   /* SAs [hwm, count) were never used */
	uint32_t limit; /* CBC: sessions whose current SA may be in the pool (cbc_capacity) */
};

/* A free waiting for a grace period. */
struct sess_defer {
	uint64_t token;      /* rte_rcu_qsbr_start() after the unpublish */
	uint64_t last_check; /* nonce of the deleted session */
	uint32_t slot;       /* deleted slot, or SESS_NONE */
	uint32_t sa[2];      /* SAs to wipe, or SESS_NONE */
	uint32_t pad;
};

struct sg_sess_table {
	/* read by workers, written only at create */
	struct sg_sess *hot;
	struct sess_pool pool[SESS_POOLS]; /* by an SA index's top bit */
	struct sess_bucket *bkt;
	struct rte_rcu_qsbr *qsbr;
	uint32_t nbkt;
	uint32_t capacity;
	uint16_t replay_window; /* bits: every SA's window */
	uint32_t seed;          /* CRC start value of the 4-tuple hash (secret) */
	uint64_t hkey[5];       /* secret words of the 4-tuple hash */
	uint32_t slot_mask;
	uint8_t slot_bits;
	uint8_t cid_len;
	uint8_t nonce_len; /* CID bytes of nonce: min(cid_len - 4, 8) */
	uint8_t tag_len;   /* CID bytes of keyed check: cid_len - 4 - nonce_len */
	uint16_t node_id;
	uint8_t cid_ek[16 * 11] __attribute__((aligned(16))); /* AES-128 schedule: secret */

	/* bumped by the writer around cuckoo moves; read by workers per burst */
	uint32_t chg __attribute__((aligned(SG_CACHE_LINE)));

	/* writer only */
	uint32_t busy __attribute__((aligned(SG_CACHE_LINE)));
	struct sess_cold *cold;
	struct sess_pool_alloc pa[SESS_POOLS];
	uint32_t tuple_capacity;
	uint32_t slot_free;    /* head of the free slot list (doubly linked) */
	uint32_t slot_hwm;     /* slots [hwm, capacity) were never used */
	struct sess_defer *dq; /* ring of dq_cap entries */
	uint32_t dq_cap;
	uint32_t dq_nominal; /* params.defer_capacity: frees beyond it are counted */
	uint32_t dq_max;     /* dq_cap may grow up to this (SG_SESS_P_DEFER_GROW), else dq_cap */
	uint32_t dq_head;
	uint32_t dq_len;
	int own_qsbr;
	IMB_MGR *mgr;
	uint8_t cid_key[16];
	uint8_t rnd[256];
	unsigned rnd_pos;
	/* mappings, for munmap */
	void *map[5];
	size_t map_len[5];
	struct sg_sess_stats st; /* updated with relaxed atomics */
};

struct sg_sess_worker {
	struct sg_sess_table *t;
	IMB_MGR *mgr;
	unsigned thread_id;
	uint8_t blk[SG_BURST_MAX][16] __attribute__((aligned(SG_CACHE_LINE)));
};

/* The SA of index i (either pool; not SESS_NONE): no branch on the hot path. */
static inline struct sg_rec_sa *sess_sa(const struct sg_sess_table *t, uint32_t i)
{
	const struct sess_pool *p = &t->pool[i >> 31];

	return (struct sg_rec_sa *)(p->base + (size_t)(i & SESS_SA_IDX) * p->size);
}

/* Bytes of the SA of index i: what a copy of it takes. */
static inline uint32_t sess_sa_size(const struct sg_sess_table *t, uint32_t i)
{
	return t->pool[i >> 31].size;
}

static inline struct sess_cold *sess_cold(const struct sg_sess_table *t, uint32_t slot)
{
	return &t->cold[slot];
}

static inline uint32_t sess_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void sess_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The check value of a CID: its nonce bytes as a little-endian integer. */
static inline uint64_t sess_nonce(const uint8_t *cid, unsigned nonce_len)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < nonce_len; i++)
		v |= (uint64_t)cid[i] << (8 * i);
	return v;
}

/* The AES input block of a CID: nonce, zeros, the CID length (domain separation). */
static inline void sess_cid_block(const struct sg_sess_table *t, const uint8_t *cid,
                                  uint8_t blk[16])
{
	memset(blk, 0, 16);
	memcpy(blk, cid, t->nonce_len);
	blk[15] = t->cid_len;
}

/*
 * Open a CID given its keystream block ks = AES(sess_cid_block(cid)):
 * returns SG_SESS_HIT with the slot it names, or why it is not one of ours.
 * Whether a live session holds that slot with this nonce is the caller's check.
 */
static inline unsigned sess_cid_open(const struct sg_sess_table *t, const uint8_t *cid,
                                     const uint8_t ks[16], uint32_t *slot)
{
	const uint8_t *p = cid + t->nonce_len;
	uint64_t word = sess_le32(p) ^ sess_le32(ks);
	uint8_t d = 0;

	for (unsigned i = 0; i < t->tag_len; i++)
		d |= (uint8_t)(p[4 + i] ^ ks[4 + i]);
	if (d != 0)
		return SG_SESS_MISS_CID_TAG;
	if ((word >> t->slot_bits) != t->node_id)
		return SG_SESS_MISS_CID_NODE;
	*slot = (uint32_t)word & t->slot_mask;
	if (*slot >= t->capacity)
		return SG_SESS_MISS_CID_RANGE;
	return SG_SESS_HIT;
}

/* Range reduction without division (Lemire): h uniform in 32 bits -> [0, n). */
static inline uint32_t sess_reduce(uint32_t h, uint32_t n)
{
	return (uint32_t)(((uint64_t)h * n) >> 32);
}

/*
 * The other bucket of an entry with tag word tw sitting in bucket b. The
 * secondary bucket is the primary plus an offset in [1, nbkt-1] derived
 * from the tag, so it is computable from (b, tag) alone and the bucket count
 * need not be a power of two (docs: "4-tuple index").
 */
static inline uint32_t sess_alt_bucket(const struct sg_sess_table *t, uint32_t b, uint32_t tw)
{
	uint32_t off = 1 + sess_reduce((tw & ~SESS_TAG_ALT) << 1, t->nbkt - 1);

	if (tw & SESS_TAG_ALT)
		return b >= off ? b - off : b + t->nbkt - off;
	return b + off >= t->nbkt ? b + off - t->nbkt : b + off;
}

static inline __attribute__((always_inline)) uint64_t sess_ld64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

static inline __attribute__((always_inline)) uint32_t sess_ld32(const uint8_t *p)
{
	uint32_t w;

	memcpy(&w, p, 4);
	return w;
}

/*
 * 64x64->128-bit multiply by an odd constant, halves XORed: every input bit
 * reaches every output bit (a plain 64-bit product leaves the low half
 * blind to the high input half, which for IPv4-mapped keys is where the
 * address varies; measured: 12 % instead of 7 % of keys pushed to their
 * secondary bucket).
 */
static inline __attribute__((always_inline)) uint64_t sess_fold(uint64_t w)
{
	__extension__ unsigned __int128 m = (unsigned __int128)w * SESS_HASH_MUL;

	return (uint64_t)m ^ (uint64_t)(m >> 64);
}

/*
 * Hash a 4-tuple to its primary bucket and tag. Each 8-byte word of the key
 * is XORed with a secret word and folded by a multiply (keyed, not linear
 * over GF(2)); the bucket comes from a CRC32-C chain
 * over these products, the tag from the high half of their sum. Two
 * functions of different algebra, so the tag does not follow from the
 * bucket. (Two CRC chains with two seeds do not work: CRC is affine, the
 * two results differ by a constant, the tag then fixes the secondary bucket
 * and the index measured full at 86 % load.) The secret words also mean an
 * outsider cannot compute 4-tuples that collide.
 * The words are loaded straight from the key into registers: copying the
 * 36 bytes into a zeroed local array first made the last load straddle two
 * stores (no store forwarding), which measured 2x slower together with the
 * bucket prefetch that follows.
 */
static inline __attribute__((always_inline)) void
sess_hash(const struct sg_sess_table *t, const struct sg_sess_tuple *k, uint32_t *b1, uint32_t *tag)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t x0 = sess_fold(sess_ld64(p) ^ t->hkey[0]);
	uint64_t x1 = sess_fold(sess_ld64(p + 8) ^ t->hkey[1]);
	uint64_t x2 = sess_fold(sess_ld64(p + 16) ^ t->hkey[2]);
	uint64_t x3 = sess_fold(sess_ld64(p + 24) ^ t->hkey[3]);
	uint64_t x4 = sess_fold(sess_ld32(p + 32) ^ t->hkey[4]);
	uint32_t h = t->seed;

	h = rte_hash_crc_8byte(x0, h);
	h = rte_hash_crc_8byte(x1, h);
	h = rte_hash_crc_8byte(x2, h);
	h = rte_hash_crc_8byte(x3, h);
	h = rte_hash_crc_8byte(x4, h);
	*b1 = sess_reduce(h, t->nbkt);
	*tag = (uint32_t)((x0 + x1 + x2 + x3 + x4) >> 32) & ~SESS_TAG_ALT;
	if (*tag == 0)
		*tag = 1;
}

/* Equality of two 4-tuples without a call or a copy (four words and a half). */
static inline __attribute__((always_inline)) int sess_tuple_eq(const struct sg_sess_tuple *a,
                                                               const struct sg_sess_tuple *b)
{
	const uint8_t *p = (const uint8_t *)a, *q = (const uint8_t *)b;

	return ((sess_ld64(p) ^ sess_ld64(q)) | (sess_ld64(p + 8) ^ sess_ld64(q + 8)) |
	        (sess_ld64(p + 16) ^ sess_ld64(q + 16)) | (sess_ld64(p + 24) ^ sess_ld64(q + 24)) |
	        (sess_ld32(p + 32) ^ sess_ld32(q + 32))) == 0;
}

/* AES-128-ECB encrypt n 16-byte blocks in place with the CID key. 0 or -EIO. */
int sg_sess_ecb(IMB_MGR *mgr, const uint8_t *ek, uint8_t *buf, unsigned n);

/* Writer: the CID of the session in slot with this nonce, cid_len bytes. 0 or -EIO. */
int sg_sess_cid_make(struct sg_sess_table *t, uint32_t slot, uint64_t nonce, uint8_t *cid);

/* Writer: decode one CID (enum sg_sess_miss, *slot and *nonce on SG_SESS_HIT) or -EIO. */
int sg_sess_cid_decode(struct sg_sess_table *t, const uint8_t *cid, uint32_t *slot,
                       uint64_t *nonce);

/*
 * Writer-side index operations (no reader retry logic needed). prep hashes
 * the key and prefetches its two buckets, so the caller can do other work
 * while they arrive; find returns the slot of a live key or -1; add
 * returns 0 or -ENOSPC (no cuckoo path).
 */
struct sess_hkey {
	uint32_t b[2]; /* primary, secondary bucket */
	uint32_t tag;
};
void sg_sess_idx_prep(const struct sg_sess_table *t, const struct sg_sess_tuple *k,
                      struct sess_hkey *hk);
int64_t sg_sess_idx_find(const struct sg_sess_table *t, const struct sg_sess_tuple *k,
                         const struct sess_hkey *hk);
int sg_sess_idx_add(struct sg_sess_table *t, const struct sess_hkey *hk, uint32_t slot);
void sg_sess_idx_del(struct sg_sess_table *t, const struct sess_hkey *hk, uint32_t slot);

#endif /* SG_SESSION_PRIV_H */
