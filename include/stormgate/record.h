/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DTLS 1.2 record layer: parse datagrams into records, then open
 * (verify + decrypt) and seal (encrypt + tag) records in bursts whose records
 * belong to many sessions and suites, with Intel IPsec-MB multi-buffer crypto.
 *
 * No DPDK dependency: records are pointer + length. A data-plane worker owns
 * one struct sg_rec_ctx (one IMB_MGR, per-burst scratch) and calls
 *
 *   sg_rec_parse()       split a datagram into records (RFC 6347 §4.1, RFC 9146 §4)
 *   (look the sessions up by CID or 4-tuple)
 *   sg_rec_open_burst()  up to SG_BURST_MAX records of any sessions and suites
 *   sg_rec_seal_burst()  same, outbound
 *
 * Burst functions return how many records succeeded and leave a named reason
 * (enum sg_rec_status) in every op. They allocate nothing, make no system
 * call and log nothing. See docs/record-layer.md for the design and numbers.
 */
#ifndef STORMGATE_RECORD_H
#define STORMGATE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/record_types.h>
#include <stormgate/suite.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Why a record was refused; SG_REC_OK when it was opened or sealed. */
enum sg_rec_status {
	SG_REC_OK = 0,
	SG_REC_RUNT,                /* shorter than its header, or than nonce + tag */
	SG_REC_TRUNCATED,           /* length field runs past the bytes given */
	SG_REC_BAD_TYPE,            /* outer content type not valid for the SA (CID or not) */
	SG_REC_BAD_VERSION,         /* not DTLS 1.2 (RFC 6347 §4.1) */
	SG_REC_BAD_EPOCH,           /* not the SA's epoch (RFC 6347 §4.1) */
	SG_REC_OVERSIZED,           /* over 2^14 + 2048 ciphertext or 2^14 plaintext */
	SG_REC_BAD_SA,              /* no SA, SA not live (zeroed, wiped) or unknown AEAD */
	SG_REC_KEY_EXHAUSTED,       /* the key reached its forgery limit (RFC 9147 §4.5.3) */
	SG_REC_TOO_OLD,             /* left of the replay window (RFC 6347 §4.1.2.6) */
	SG_REC_REPLAYED,            /* already received (RFC 6347 §4.1.2.6) */
	SG_REC_AUTH_FAILED,         /* tag mismatch: forged or corrupted */
	SG_REC_BAD_INNER_PLAINTEXT, /* RFC 9146 §4: no content type, or not one we accept */
	SG_REC_SEQ_EXHAUSTED,       /* seal: 2^48 sequence numbers used, re-key (RFC 6347 §4.1) */
	SG_REC_NO_ROOM,             /* seal: not enough headroom or tailroom in the buffer */
	SG_REC_INVALID_OP,          /* sg_aead_burst: unknown AEAD or impossible lengths */
	SG_REC_CRYPTO_ERROR,        /* IPsec-MB refused a job: a bug, never the peer's fault */
	SG_REC_AUTH_LIMIT,          /* auth_failed, and it brought the key to its forgery limit:
	                             * reported once per key, the session must end (re-key) */
	SG_REC_RECORD_LIMIT,        /* seal: plaintext over what the peer takes in one record
	                             * (RFC 8449 §4, RFC 6066 §4; sg_rec_sa_max_plaintext()) */
	SG_REC_STATUS_MAX
};

/* Stable label of a status ("auth_failed"), or "unknown". Any thread. */
const char *sg_rec_status_name(enum sg_rec_status status);

/* ---- AEADs ---------------------------------------------------------------- */

/*
 * Cipher suites, their AEADs and the AEADs' forgery limits
 * (sg_aead_integrity_limit()): the suite registry, suite.h.
 */

/* Stable label ("aes_128_ccm_8"), or "unknown". Any thread. */
const char *sg_aead_name(enum sg_aead aead);

/* Key bytes: 16 for AES-128, 32 for AES-256 and ChaCha20. */
static inline unsigned sg_aead_key_len(enum sg_aead aead)
{
	return aead == SG_AEAD_AES_256_GCM || aead == SG_AEAD_CHACHA20_POLY1305 ? 32 : 16;
}

/* Write IV bytes from the key block: 4-byte salt (GCM, CCM), 12 (ChaCha20, RFC 7905 §2),
 * none for CBC (RFC 5246 §6.3: explicit IVs only). */
static inline unsigned sg_aead_iv_len(enum sg_aead aead)
{
	if (aead == SG_AEAD_AES_128_CBC_SHA256)
		return 0;
	return aead == SG_AEAD_CHACHA20_POLY1305 ? SG_DTLS_AEAD_NONCE_LEN : SG_DTLS_AEAD_SALT_LEN;
}

/* Explicit nonce bytes carried in each record: 8 (GCM, CCM), 0 (ChaCha20), the 16-byte IV
 * (CBC). */
static inline unsigned sg_aead_explicit_len(enum sg_aead aead)
{
	if (aead == SG_AEAD_AES_128_CBC_SHA256)
		return SG_DTLS_CBC_IV_LEN;
	return aead == SG_AEAD_CHACHA20_POLY1305 ? 0 : SG_DTLS_AEAD_EXPLICIT_LEN;
}

/* Tag bytes: 8 for CCM_8, 16 for the other AEADs, the 32-byte MAC for CBC-SHA256 (which
 * adds 1..256 bytes of padding besides: a CBC record is not fragment + constant). */
static inline unsigned sg_aead_tag_len(enum sg_aead aead)
{
	if (aead == SG_AEAD_AES_128_CBC_SHA256)
		return SG_DTLS_CBC_MAC_LEN;
	return aead == SG_AEAD_AES_128_CCM_8 ? SG_DTLS_AEAD_CCM8_TAG_LEN : SG_DTLS_AEAD_TAG_LEN;
}

/* Key block bytes per direction besides the write key and IV: the CBC MAC key. */
static inline unsigned sg_aead_mac_key_len(enum sg_aead aead)
{
	return aead == SG_AEAD_AES_128_CBC_SHA256 ? SG_DTLS_CBC_MAC_KEY_LEN : 0;
}

/* ---- security associations ------------------------------------------------ */

/* Handshake output for one session, as the server sees it (rx = client_write). */
struct sg_rec_sa_params {
	enum sg_aead aead;
	uint16_t epoch;        /* epoch the keys belong to (1 after the first handshake) */
	uint8_t flags;         /* SG_SA_F_RX_CID, SG_SA_F_TX_CID, SG_SA_F_RRC, SG_SA_F_ETM (CBC) */
	const uint8_t *rx_key; /* sg_aead_key_len() bytes */
	const uint8_t *tx_key;
	const uint8_t *rx_iv; /* sg_aead_iv_len() bytes (none for CBC: may be NULL) */
	const uint8_t *tx_iv;
	/* CBC-SHA256 only: the MAC keys (SG_DTLS_CBC_MAC_KEY_LEN bytes each), written
	 * to the SA's MAC line (sg_rec_sa_mac()): the SA must be sg_rec_sa_size_for() bytes */
	const uint8_t *rx_mac;
	const uint8_t *tx_mac;
	uint64_t tx_seq; /* first write sequence number (after our Finished) */
	uint64_t rx_seq; /* lowest read sequence number still acceptable: the
	                    handshake consumed the ones below (client Finished) */
	/*
	 * Largest plaintext the peer takes in one record (RFC 8449 §4
	 * record_size_limit, or RFC 6066 §4 max_fragment_length: 2^9..2^12):
	 * SG_TLS_RECORD_SIZE_LIMIT_MIN..SG_DTLS_MAX_PLAINTEXT; 0: SG_DTLS_MAX_PLAINTEXT.
	 */
	uint16_t max_plaintext;
};

/*
 * Fill sa (sg_rec_sa_size_for(window_bits, p->aead) bytes: a CBC SA's MAC
 * keys go to the line after it, sg_rec_sa_mac()) from handshake output and
 * mark it live. Copies the keys; the caller wipes its own copies. Returns 0,
 * or -EINVAL for an unknown AEAD, a window that is not a power of two in
 * [SG_REPLAY_WINDOW_MIN, SG_REPLAY_WINDOW_MAX], a sequence number over
 * 2^48 - 1, a max_plaintext outside its range, a missing key (IVs for an
 * AEAD, MAC keys for CBC), or flags the suite does not take: CID and RRC
 * flags with CBC (RFC 9146's block-cipher MAC is not implemented),
 * SG_SA_F_ETM without it. Control thread, before the SA is published to a
 * worker.
 */
int sg_rec_sa_init(struct sg_rec_sa *sa, unsigned window_bits, const struct sg_rec_sa_params *p);

/*
 * Wipe every byte of sa, keys and replay bitmap included (explicit_bzero),
 * and a CBC SA's MAC line (sa->aead says which: sg_rec_sa_size_for() bytes):
 * the SA is no longer live and opening or sealing with it fails with
 * SG_REC_BAD_SA. Call it on every free path, after the RCU grace period when
 * the SA was published. Any thread that owns sa.
 */
void sg_rec_sa_wipe(struct sg_rec_sa *sa, unsigned window_bits);

/*
 * Replay window (RFC 6347 §4.1.2.6) of sa for a 48-bit sequence number:
 * SG_REC_OK when fresh, SG_REC_TOO_OLD when left of the window,
 * SG_REC_REPLAYED when already marked. Read only. The owning worker.
 */
enum sg_rec_status sg_rec_replay_check(const struct sg_rec_sa *sa, unsigned window_bits,
                                       uint64_t seq);

/*
 * Mark seq received, sliding the window when seq is the new highest. Only
 * for a record that authenticated and for which sg_rec_replay_check()
 * returned SG_REC_OK. The owning worker.
 */
void sg_rec_replay_update(struct sg_rec_sa *sa, unsigned window_bits, uint64_t seq);

/*
 * Restore sa's floors after a restart (docs/restart.md): the next write
 * sequence becomes tx_seq, and every receive sequence below rx_top counts as
 * seen (the whole window below the top is marked), so nothing at or below
 * rx_top - 1 is accepted again while anything from rx_top on is. Keys,
 * epoch, record limit and the forgery count stay. A value over 2^48 is
 * taken as 2^48: tx exhausted (a seal is refused, SG_REC_SEQ_EXHAUSTED),
 * rx accepting nothing. Control thread, before the SA is published.
 */
void sg_rec_sa_restore_floors(struct sg_rec_sa *sa, unsigned window, uint64_t tx_seq,
                              uint64_t rx_top);

/* ---- per-worker context --------------------------------------------------- */

#define SG_REC_CTX_F_NO_GCM_CACHE                                                                  \
	0x01 /* no key caches: GCM keys and CBC HMAC states                                        \
	      * computed for every record */
/*
 * One record at a time (the handshake server, alerts): IPsec-MB's SSE manager,
 * which finishes a lone job at once, instead of the widest multi-buffer one,
 * whose lanes cost more than they save when nothing else is in flight.
 */
#define SG_REC_CTX_F_LATENCY 0x02

struct sg_rec_ctx_conf {
	unsigned window_bits; /* replay window of every SA used with this ctx; 0: default */
	unsigned cid_len;     /* length of our CIDs in received tls12_cid records (0..255) */
	/* forgeries tolerated per key before SG_REC_KEY_EXHAUSTED; 0: RFC 9147
	 * §4.5.3 value (dtls.h SG_DTLS_INTEGRITY_LIMIT_*); UINT32_MAX: no limit */
	uint32_t auth_fail_limit[SG_AEAD_MAX];
	unsigned gcm_cache_entries; /* hot GCM keys kept (power of two, >= 4); 0: 1024 */
	unsigned flags;             /* SG_REC_CTX_F_* */
};

struct sg_rec_ctx;

/*
 * Create the context of one worker thread: an IMB_MGR for the best
 * architecture of this CPU, scratch for one burst, a cache of hot GCM key
 * data, and the policy of conf (NULL: defaults). Returns NULL with errno
 * EINVAL (bad conf) or ENOMEM. Control thread at init; afterwards only the
 * worker that owns it uses it.
 */
struct sg_rec_ctx *sg_rec_ctx_create(const struct sg_rec_ctx_conf *conf);

/* Wipe every key, schedule and tag the context holds, and free it. NULL is a no-op. */
void sg_rec_ctx_free(struct sg_rec_ctx *ctx);

/*
 * Wipe the key material lingering in the context's scratch from past bursts
 * (expanded schedules, cached GCM key data, IPsec-MB lane state) without
 * freeing it: a worker calls it when idle, or after sessions were removed,
 * so that no closed session's key outlives its SA for long. Owning worker.
 */
void sg_rec_ctx_wipe_keys(struct sg_rec_ctx *ctx);

/*
 * Wipe the key material the bursts since the last wipe left in the
 * context's own scratch (key schedules, GCM key data, nonces, tags, the
 * composed-CCM buffer), and only the scratch they touched: a context that
 * handles a record at a time (the handshake server) pays for one slot, not
 * for the whole context. IPsec-MB clears its own lanes, stack and registers
 * when built with SAFE_DATA (IMB_FEATURE_SAFE_DATA, Debian's build); without
 * it the manager is wiped and re-initialised too, as sg_rec_ctx_wipe_keys()
 * does. Nothing to do (no burst since the last wipe) costs a few loads.
 * Owning thread.
 */
void sg_rec_ctx_wipe_used(struct sg_rec_ctx *ctx);

/*
 * Whether any memory the context owns (its scratch, caches and IPsec-MB
 * manager) holds the len bytes at needle, e.g. a key or one of its round
 * keys: for tests that check the wipes. Scans everything (about 1 MB for a
 * data-plane context); never on a hot path. Owning thread.
 */
int sg_rec_ctx_holds(const struct sg_rec_ctx *ctx, const void *needle, size_t len);

/* Replay window and CID length the context was created with. Any thread. */
unsigned sg_rec_ctx_window_bits(const struct sg_rec_ctx *ctx);
unsigned sg_rec_ctx_cid_len(const struct sg_rec_ctx *ctx);

/* IPsec-MB architecture in use ("avx512", "avx2", "avx", "sse"). Any thread. */
const char *sg_rec_ctx_arch(const struct sg_rec_ctx *ctx);

/* ---- parsing -------------------------------------------------------------- */

/* One record found in a datagram by sg_rec_parse(). */
struct sg_rec_hdr {
	uint32_t off;      /* first byte of the record in the datagram */
	uint32_t len;      /* header + fragment bytes (what sg_rec_open_op.rec_len wants) */
	uint64_t seq;      /* 48-bit sequence number */
	uint16_t version;  /* as on the wire (0xfefd for DTLS 1.2) */
	uint16_t epoch;    /* epoch */
	uint16_t hdr_len;  /* 13, or 13 + cid_len for tls12_cid */
	uint16_t frag_len; /* DTLSCiphertext.length */
	uint8_t type;      /* outer content type; SG_DTLS_CT_TLS12_CID carries a CID */
	uint8_t status;    /* SG_REC_OK, SG_REC_RUNT, SG_REC_TRUNCATED or SG_REC_OVERSIZED */
};

/*
 * Split a datagram into its records (RFC 6347 §4.1: several records may share
 * one datagram; RFC 9146 §4: a tls12_cid record carries cid_len bytes of CID,
 * at dgram + off + SG_DTLS_HDR_OFF_CID). Writes up to max entries and returns
 * how many it wrote. A malformed record (too short for its header, a length
 * over 2^14 + 2048, or a length past the end) ends the datagram: it is the
 * last entry, with its status set, since nothing after it can be framed.
 * Returns 0 for a NULL argument or cid_len over 255. Reads only. Any thread.
 */
unsigned sg_rec_parse(const uint8_t *dgram, size_t len, unsigned cid_len, struct sg_rec_hdr *recs,
                      unsigned max);

/* ---- open ----------------------------------------------------------------- */

/* One record to verify and decrypt. */
struct sg_rec_open_op {
	/* in */
	uint8_t *rec;         /* record: header + fragment (decrypted in place when dst is NULL) */
	uint32_t rec_len;     /* its length (sg_rec_hdr.len) */
	struct sg_rec_sa *sa; /* its session (found by CID or 4-tuple) */
	uint8_t *dst;         /* NULL: in place; else room for the fragment length */
	/* out */
	uint32_t pt_off; /* plaintext at (dst ? dst : rec) + pt_off */
	uint32_t pt_len; /* plaintext bytes (content only, without CID padding) */
	uint64_t seq;    /* the record's 48-bit sequence number */
	uint8_t type;    /* content type (the inner one for tls12_cid) */
	uint8_t status;  /* enum sg_rec_status */
};

/*
 * Open n records (any n; processed SG_BURST_MAX at a time) of any sessions
 * and suites. Per record: header checks (version, epoch, type, lengths,
 * forgery limit), replay pre-check, then one IPsec-MB job per record for the
 * whole burst with a single flush, constant-time tag comparison, the replay
 * window updated for authenticated records only (in op order, so duplicates
 * within one burst are caught), and RFC 9146 inner plaintext parsing. A
 * failed record never exposes plaintext: what was decrypted is zeroed.
 * CBC-SHA256 records: encrypt-then-MAC ones are authenticated before
 * decryption; MAC-then-encrypt ones have padding and MAC checked in constant
 * time (Lucky Thirteen), both failing as SG_REC_AUTH_FAILED, as does a
 * ciphertext that is no block multiple; one too short for IV, MAC and
 * padding is SG_REC_RUNT.
 * Returns the number of SG_REC_OK ops. Allocation- and syscall-free. Only
 * the worker that owns ctx and every SA in ops.
 */
unsigned sg_rec_open_burst(struct sg_rec_ctx *ctx, struct sg_rec_open_op *ops, unsigned n);

/* ---- seal ----------------------------------------------------------------- */

/* One plaintext to protect into a record, in place. */
struct sg_rec_seal_op {
	/* in */
	uint8_t *buf;         /* buffer holding the plaintext */
	uint32_t buf_len;     /* its size: tailroom = buf_len - pt_off - pt_len */
	uint32_t pt_off;      /* plaintext offset in buf: the headroom */
	uint32_t pt_len;      /* plaintext bytes, at most 2^14 */
	struct sg_rec_sa *sa; /* its session */
	const uint8_t *cid;   /* the peer's CID when sa has SG_SA_F_TX_CID */
	uint8_t cid_len;      /* its length (0..255) */
	uint8_t type;         /* content type (SG_DTLS_CT_APPLICATION_DATA, ALERT...) */
	uint16_t pad_len;     /* RFC 9146 §4 zero padding (CID records only) */
	/* out */
	uint32_t rec_off; /* the record starts at buf + rec_off */
	uint32_t rec_len; /* and is rec_len bytes long */
	uint64_t seq;     /* write sequence number it was given */
	uint8_t status;   /* enum sg_rec_status */
};

/* Headroom a seal needs in front of the plaintext: header (+ CID) + explicit nonce. */
static inline unsigned sg_rec_seal_headroom(enum sg_aead aead, int tx_cid, unsigned cid_len)
{
	return SG_DTLS_HDR_LEN + (tx_cid ? cid_len : 0) + sg_aead_explicit_len(aead);
}

/*
 * Tailroom a seal needs after the plaintext: (inner type + padding) + tag;
 * for CBC the MAC and up to a block of padding (minimal padding, 1..16 B).
 */
static inline unsigned sg_rec_seal_tailroom(enum sg_aead aead, int tx_cid, unsigned pad_len)
{
	if (aead == SG_AEAD_AES_128_CBC_SHA256)
		return SG_DTLS_CBC_MAC_LEN + SG_DTLS_CBC_BLOCK;
	return (tx_cid ? 1 + pad_len : 0) + sg_aead_tag_len(aead);
}

/*
 * Seal n plaintexts (any n; SG_BURST_MAX at a time) of any sessions and
 * suites into records, in place around the plaintext: each gets the SA's
 * next write sequence number (refused once 2^48 - 1 was used: the session
 * must re-key), a header (tls12_cid with the peer's CID when the SA says
 * so), an explicit nonce equal to epoch ‖ sequence number, and the tag.
 * CBC-SHA256 SAs get minimal padding, MAC-then-encrypt or (SG_SA_F_ETM)
 * encrypt-then-MAC, and an explicit IV that is the encryption of a block
 * unique per record (NIST SP 800-38A App. C; docs/record-layer.md, "CBC").
 * A plaintext the peer would refuse as too long is SG_REC_RECORD_LIMIT:
 * what is encrypted (RFC 8449 §4: for a tls12_cid record the whole
 * DTLSInnerPlaintext, content + type + padding) must not exceed
 * sg_rec_sa_max_plaintext(). A refused op spends no sequence number.
 * Returns the number of SG_REC_OK ops. Only the worker that owns ctx and
 * every SA in ops.
 */
unsigned sg_rec_seal_burst(struct sg_rec_ctx *ctx, struct sg_rec_seal_op *ops, unsigned n);

/* ---- raw AEAD burst ------------------------------------------------------- */

#define SG_AEAD_DIR_SEAL 0
#define SG_AEAD_DIR_OPEN 1

/*
 * One AEAD operation with caller-supplied key, nonce and AAD: the crypto
 * stage of the record bursts on its own (the same job building, submission,
 * flush, tag check and CCM long-AAD path), for known-answer tests and for
 * protocols that frame their own records.
 */
struct sg_aead_op {
	uint8_t aead;         /* enum sg_aead */
	uint8_t dir;          /* SG_AEAD_DIR_SEAL or SG_AEAD_DIR_OPEN */
	uint8_t status;       /* out: SG_REC_OK, AUTH_FAILED, INVALID_OP, CRYPTO_ERROR */
	const uint8_t *key;   /* sg_aead_key_len() bytes */
	const uint8_t *nonce; /* 12 bytes */
	const uint8_t *aad;
	uint32_t aad_len; /* at most 1024 (CCM over 46 bytes takes the composed path) */
	const uint8_t *in;
	uint8_t *out; /* may equal in */
	uint32_t len; /* at most SG_DTLS_MAX_CIPHERTEXT */
	uint8_t *tag; /* seal: written; open: the expected tag (sg_aead_tag_len() bytes) */
};

/*
 * Run n AEAD operations (any n; SG_BURST_MAX at a time). An open whose tag
 * does not match leaves out zeroed. Returns the number of SG_REC_OK ops.
 * Only the worker that owns ctx.
 */
unsigned sg_aead_burst(struct sg_rec_ctx *ctx, struct sg_aead_op *ops, unsigned n);

/* ---- CBC-SHA256 building blocks ----------------------------------------------- */

/*
 * What the CBC-SHA256 records are made of, on their own, for known-answer
 * tests (Wycheproof AES-CBC and HMAC vectors) and benchmarks. Any thread
 * (sg_cbc_crypt(): the owner of ctx); no allocation.
 */

/*
 * HMAC-SHA256 states of key (RFC 2104 §2: hashed first when over 64 bytes):
 * the SHA-256 state after key ⊕ ipad, then after key ⊕ opad, 32 bytes each,
 * as IPsec-MB's HMAC jobs take them. pads holds key material: wipe it.
 */
void sg_cbc_hmac_key(const uint8_t *key, size_t key_len, uint8_t pads[2 * SG_DTLS_CBC_MAC_LEN]);

/*
 * HMAC-SHA256 (pads from sg_cbc_hmac_key()) of prefix (prefix_len <= 64
 * bytes) ‖ the first len bytes of data, in constant time with respect to
 * len: the same memory reads and SHA-256 compressions for every len in
 * [min_len, data_max], which are public; all data_max bytes of data are
 * read. len outside that range is clamped into it. The MAC-then-encrypt
 * check of a CBC record (Lucky Thirteen). 0, or -EINVAL for bad arguments.
 */
int sg_cbc_hmac_ct(const uint8_t pads[2 * SG_DTLS_CBC_MAC_LEN], const uint8_t *prefix,
                   unsigned prefix_len, const uint8_t *data, uint32_t data_max, uint32_t len,
                   uint32_t min_len, uint8_t mac[SG_DTLS_CBC_MAC_LEN]);

/*
 * AES-128-CBC of len bytes (a multiple of 16, at most 2^14 + 2048) of in to
 * out (may equal in) with key and iv, encrypting (SG_AEAD_DIR_SEAL) or
 * decrypting (SG_AEAD_DIR_OPEN), through the IPsec-MB key expansion and CBC
 * job the record bursts use; no padding. 0, -EINVAL, or -EIO when IPsec-MB
 * refused the job. The worker that owns ctx; wipes the schedule it made.
 */
int sg_cbc_crypt(struct sg_rec_ctx *ctx, int dir, const uint8_t key[16], const uint8_t iv[16],
                 const uint8_t *in, uint8_t *out, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_RECORD_H */
