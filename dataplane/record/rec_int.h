/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the record layer shared by its files: the per-worker context,
 * the burst's slots (one crypto operation each), and the CBC-SHA256 paths
 * (cbc.c) the engine in record.c calls. Not installed, not included outside
 * dataplane/record and its tests. The worker that owns the context runs all
 * of it.
 */
#ifndef SG_REC_INT_H
#define SG_REC_INT_H

#include <stdint.h>

#include <intel-ipsec-mb.h>

#include <stormgate/record.h>

#define KS_LEN          240 /* AES-256 encryption schedule: 15 round keys */
#define SLOT_AAD_INLINE 48  /* AAD kept in the slot: RFC 9146 AAD with a CID up to 25 B */
#define REC_AAD_MAX     (SG_DTLS_AAD_CID_FIXED_LEN + SG_DTLS_CID_MAX)
#define AEAD_AAD_MAX    1024 /* sg_aead_burst() AAD limit (composed CCM scratch) */
#define LONG_AAD_LEN    1040 /* AEAD_AAD_MAX rounded to 16 (a slot's out-of-line AAD) */
_Static_assert(REC_AAD_MAX <= LONG_AAD_LEN, "a record's AAD fits the out-of-line buffer");
#define IMB_CCM_AAD_MAX   46 /* IPsec-MB 1.3 CCM job: 3 blocks minus the 2-byte length */
#define GROUP             8  /* records fronted, keyed and submitted together */
#define GCM_CACHE_DEFAULT 1024
#define GCM_WAYS          4
#define CBC_PADS_OFF      176  /* HMAC states after the AES-128 schedule in ks[i] */
#define CBC_CACHE_SETS    2048 /* HMAC states of hot CBC keys: 256 KB */
_Static_assert(CBC_PADS_OFF + 2 * SG_DTLS_CBC_MAC_LEN <= KS_LEN, "CBC keys fit a schedule slot");

/*
 * One crypto operation of the burst being processed: an AEAD record, or a
 * CBC-SHA256 record (cbc.c), whose job runs the cipher over
 * src + cipher_off and the HMAC over src + hash_off.
 */
struct slot {
	/* set by the front end */
	const uint8_t *key; /* raw key */
	uintptr_t owner;    /* GCM cache identity: SA address | direction; 0: don't cache */
	const uint8_t *aad;
	const uint8_t *src;
	uint8_t *dst;
	uint8_t *tag; /* seal: written here; open: the received tag */
	uint32_t len;
	uint16_t aad_len;
	uint8_t aead;
	uint8_t open;
	uint8_t result; /* SG_REC_OK when it goes to (or passed) the engine */
	uint8_t nonce[SG_DTLS_AEAD_NONCE_LEN];
	uint32_t pt_len; /* open: plaintext bytes once authenticated (AEAD: len) */
	/* CBC-SHA256 only */
	uint32_t hash_len;   /* HMAC input bytes at src + hash_off (0: no HMAC in the job) */
	uint16_t hash_off;   /* HMAC input offset from src */
	uint16_t cipher_off; /* cipher input offset from src (len bytes) */
	uint8_t etm;         /* RFC 7366 encrypt-then-MAC */
	/* engine */
	const void *keys; /* schedule, GCM key data or raw ChaCha20 key for the job */
	uint8_t tag_out[16];
	uint8_t aad_buf[SLOT_AAD_INLINE];
} __attribute__((aligned(SG_CACHE_LINE)));

/*
 * One set of the GCM key cache: four ways and a doorkeeper. An owner is
 * SA address | direction (bit 0) | AES-256 (bit 1).
 */
struct gcm_set {
	uintptr_t owner[GCM_WAYS]; /* 0: empty */
	uintptr_t ghost;           /* last owner that missed without being admitted */
	uint32_t stamp[GCM_WAYS];  /* burst that last used the way */
	uint8_t key[GCM_WAYS][32]; /* the raw key the way was computed from */
} __attribute__((aligned(SG_CACHE_LINE)));

/*
 * One set of the CBC HMAC-state cache (direct mapped, CBC_CACHE_SETS of
 * them): the states of one MAC key, tagged by SA address | direction and
 * confirmed by the whole key, with a doorkeeper as the GCM cache's.
 */
struct cbc_set {
	uintptr_t owner; /* 0: empty */
	uintptr_t ghost; /* last owner that missed without being admitted */
	uint8_t key[SG_DTLS_CBC_MAC_KEY_LEN];
	uint8_t pads[2 * SG_DTLS_CBC_MAC_LEN]; /* key ^ ipad, key ^ opad states */
} __attribute__((aligned(SG_CACHE_LINE)));

struct sg_rec_ctx {
	IMB_MGR *mgr;
	void *mgr_mem;
	size_t mgr_size;
	IMB_ARCH arch;
	void (*keyexp128)(const void *key, void *enc_keys); /* AES-128 encryption schedule */
	unsigned window;
	unsigned cid_len;
	unsigned flags;
	uint64_t fail_limit[SG_AEAD_MAX];
	uint32_t stamp;          /* bursts run: GCM cache recency */
	unsigned nslow;          /* CCM slots of this burst for the composed path */
	const struct slot *prev; /* last slot given a schedule in this burst */
	/* GCM key data: cache of hot keys, and per-slot space for the rest */
	unsigned gcm_nsets;
	struct gcm_set *gcm_sets;          /* [gcm_nsets] */
	struct gcm_key_data *gcm_cache;    /* [gcm_nsets * GCM_WAYS] */
	struct gcm_key_data *gcm_slot;     /* [SG_BURST_MAX] */
	uint8_t (*long_aad)[LONG_AAD_LEN]; /* [SG_BURST_MAX] AAD beyond SLOT_AAD_INLINE */
	uint8_t *ccm_buf;                  /* composed CCM: B0 ‖ AAD ‖ payload */
	size_t ccm_buf_len;
	/* What bursts touched since the last wipe (sg_rec_ctx_wipe_used()). */
	unsigned used_slots;      /* slots 0..used_slots-1: schedules, GCM key data, nonces */
	uint8_t used_ccm_buf;     /* the composed-CCM buffer */
	uint8_t used_gcm_cache;   /* the GCM key cache */
	uint8_t used_cbc_cache;   /* the CBC HMAC-state cache */
	struct cbc_set *cbc_sets; /* [CBC_CACHE_SETS]; NULL with SG_REC_CTX_F_NO_GCM_CACHE */
	/*
	 * Per slot: the AES key schedule; a CBC slot's HMAC-SHA256 states
	 * (key ^ ipad, key ^ opad) follow its 176-byte AES-128 schedule
	 * (CBC_PADS_OFF). cbc_enc is the encryption schedule a CBC open
	 * expands and does not use (IPsec-MB expands both at once).
	 */
	uint8_t ks[SG_BURST_MAX][KS_LEN] __attribute__((aligned(SG_CACHE_LINE)));
	uint8_t cbc_enc[KS_LEN] __attribute__((aligned(SG_CACHE_LINE)));
	struct slot slots[SG_BURST_MAX];
};

/*
 * Start loading the cache line at p. An asm rather than __builtin_prefetch:
 * GCC 12 deletes a loop made only of the builtin as dead code, and such
 * loops are exactly how a burst prefetches its SAs.
 */
static inline void prefetch_line(const void *p)
{
	__asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
}

/* ---- CBC-SHA256 (cbc.c) ---------------------------------------------------- */

/*
 * The CBC-SHA256 record paths, called by the engine of record.c for slots of
 * SG_AEAD_AES_128_CBC_SHA256 SAs. The front ends run after the checks every
 * suite shares (SA live, content type, version, epoch, length bounds, forgery
 * limit, replay pre-check for an open) and fill the slot and the record
 * around it; sg_rec_cbc_keys() gives the slot its schedule and HMAC states;
 * sg_rec_cbc_fill_job() its one (chained) IPsec-MB job; after the burst's
 * flush sg_rec_cbc_open_check() checks MAC and padding (constant time for
 * MAC-then-encrypt) and sg_rec_cbc_seal_back() writes an encrypt-then-MAC
 * record's header over the MAC pseudo-header the job hashed in its place.
 */
enum sg_rec_status sg_rec_cbc_open_front(struct sg_rec_ctx *ctx, struct sg_rec_open_op *op,
                                         struct slot *s, unsigned flen);
enum sg_rec_status sg_rec_cbc_seal_front(struct sg_rec_ctx *ctx, struct sg_rec_seal_op *op,
                                         struct slot *s);
void sg_rec_cbc_keys(struct sg_rec_ctx *ctx, struct slot *s, unsigned i);
void sg_rec_cbc_fill_job(IMB_JOB *job, const struct slot *s);
void sg_rec_cbc_open_check(struct slot *s);
void sg_rec_cbc_seal_back(struct slot *s);

#endif /* SG_REC_INT_H */
