/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sealed session record: what one installed session needs to survive a
 * restart or a crash, as bytes sealed with AES-256-GCM under the store key
 * (sg_store_key.h). Control plane only; a struct sg_store_sealer belongs to
 * one thread. docs/restart.md, "The sealed record", has the layout and sizes.
 *
 * Sealed record, version 1, 2 or 3:
 *   u8 version | u32 key_id | u16 body_len | nonce[12] | body[body_len] | tag[16]
 * Version 2 (issue 17) is version 1's body with the MAC keys of a CBC-SHA256
 * session after the IVs (sg_aead_mac_key_len() bytes each, rx then tx) and
 * the SG_STORE_F_ETM flag. Version 3 is version 2's body and one byte more
 * at its end: how the client authenticated (enum sg_hs_auth) when it was not
 * with a PSK (an X.509 certificate, a raw public key, or anonymous). A
 * record is sealed at the lowest version that can say it: PSK AEAD sessions
 * stay version 1 (an older build still restores them), PSK CBC sessions are
 * version 2, certificate, raw public key and anonymous sessions version 3
 * (an older build keeps those, refused as `version`, rather than deleting
 * them as damage). All three are read.
 * AAD: the 7 header bytes and the record's store key (u32 slot, big endian),
 * so a record moved to another slot, re-labelled with another version or key
 * id, or cut or grown, fails to open. The nonce is unique per write: a
 * random 96-bit start drawn when the sealer is made, then counted up.
 */
#ifndef STORMGATE_CONTROL_SG_STORE_REC_H
#define STORMGATE_CONTROL_SG_STORE_REC_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/proxy_v2.h>
#include <stormgate/session_types.h>

#include "sg_store_key.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SG_STORE_REC_VERSION 3  /* the newest version this build reads and writes */
#define SG_STORE_REC_V1      1  /* PSK AEAD sessions */
#define SG_STORE_REC_V2      2  /* PSK CBC-SHA256 sessions: their MAC keys */
#define SG_STORE_REC_V3      3  /* sessions not made with a PSK: their auth kind */
#define SG_STORE_REC_HDR     7  /* version, key id, body length */
#define SG_STORE_REC_NONCE   12 /* AES-GCM IV (NIST SP 800-38D §8.2.1, deterministic) */
#define SG_STORE_REC_TAG     16
/* The identity's bytes kept per session: SG_CRED_IDENTITY_MAX (control/cred). */
#define SG_STORE_IDENTITY_MAX 128
#define SG_STORE_CRED_TAG_LEN 8
/* Fixed part of the body: integers, aead, flags, cred_tag, token. */
#define SG_STORE_REC_BODY_FIXED (52)
/* Largest body: fixed fields, the whole identity, both CIDs whole, v6 tuple,
 * 32-byte keys, 12-byte IVs, the MAC keys (version 2; a CBC session has no IVs, so this
 * bounds both), the auth kind (version 3). */
#define SG_STORE_REC_BODY_MAX                                                                      \
	(SG_STORE_REC_BODY_FIXED + 1 + SG_STORE_IDENTITY_MAX + 1 + SG_SESS_CID_LEN_MAX + 1 +       \
	 SG_SESS_PEER_CID_MAX + 36 + 2 * (32 + 12) + 2 * SG_DTLS_CBC_MAC_KEY_LEN + 1)
#define SG_STORE_REC_MAX                                                                           \
	(SG_STORE_REC_HDR + SG_STORE_REC_NONCE + SG_STORE_REC_BODY_MAX + SG_STORE_REC_TAG)

/* struct sg_store_rec.flags */
#define SG_STORE_F_TUPLE  0x01 /* SG_SESS_F_TUPLE: indexed by its 4-tuple */
#define SG_STORE_F_CID    0x02 /* SG_SESS_F_CID: found by the CID we issued */
#define SG_STORE_F_RX_CID 0x04 /* SG_SA_F_RX_CID */
#define SG_STORE_F_TX_CID 0x08 /* SG_SA_F_TX_CID */
#define SG_STORE_F_RRC    0x10 /* SG_SA_F_RRC: return routability checks (RFC 9853) */
#define SG_STORE_F_EMS    0x20 /* extended master secret negotiated (RFC 7627) */
#define SG_STORE_F_ETM    0x40 /* SG_SA_F_ETM: encrypt_then_mac (RFC 7366); version 2 only */
#define SG_STORE_F_ALL    0x7f
/* In the body only: the tuple is IPv4-mapped and stored as 4-byte addresses. */
#define SG_STORE_F_V4 0x80

/*
 * One session as the store keeps it. The slot is not a field: it is the
 * record's store key, passed beside it. Secret: rx_key, tx_key, rx_iv, tx_iv,
 * rx_mac, tx_mac (wipe with sg_store_rec_wipe()).
 */
struct sg_store_rec {
	uint32_t gen;     /* the slot's generation: the session id is gen << 32 | slot */
	uint32_t backend; /* udp mode: the binding sg_dp_session_backend() gave (port, cycle) */
	uint32_t expires; /* key-lifetime deadline, absolute Unix seconds; 0: none */
	uint32_t last_rx; /* Unix seconds of the last authenticated record */
	uint64_t tx_seq;  /* write sequence floor (< 2^48) */
	uint64_t rx_top;  /* receive floor: highest authenticated sequence + 1 (< 2^48) */
	uint16_t suite;   /* IANA cipher suite */
	uint16_t epoch;
	uint16_t max_plaintext; /* the peer's record limit (RFC 8449 §4) */
	uint8_t aead;           /* enum sg_aead: key and IV lengths follow from it */
	uint8_t flags;          /* SG_STORE_F_* */
	uint8_t cid_len;        /* our CID: 0 or SG_SESS_CID_LEN_MIN..MAX */
	uint8_t peer_cid_len;
	/*
	 * enum sg_hs_auth: how the client authenticated. PSK (0): versions 1
	 * and 2. X.509, raw public key, none (anonymous, tls.client_auth
	 * optional): version 3, with these rules (anything else is refused
	 * as body): X.509 and RPK have an identity, none has none; RPK has a
	 * tag, X.509 and none have an all-zero one (no key to change).
	 */
	uint8_t auth;
	uint8_t identity_len; /* 0..SG_STORE_IDENTITY_MAX */
	/* the PSK identity (RFC 4279 §2), or the certificate's or raw public key's */
	uint8_t identity[SG_STORE_IDENTITY_MAX];
	/*
	 * PSK: sg_store_cred_tag() of the identity's PSK when the session was
	 * made; RPK: the first 8 bytes of the SHA-256 of its SPKI
	 * (sg_cred_rpk_holds()). Restore drops the session when the
	 * credential changed or left meanwhile.
	 */
	uint8_t cred_tag[SG_STORE_CRED_TAG_LEN];
	uint8_t token[SG_PP2_TOKEN_LEN]; /* proxy mode: the session's token; udp: zero */
	uint8_t cid[SG_SESS_CID_LEN_MAX];
	uint8_t peer_cid[SG_SESS_PEER_CID_MAX];
	struct sg_sess_tuple tuple;
	uint8_t rx_key[32];
	uint8_t tx_key[32];
	uint8_t rx_iv[12];
	uint8_t tx_iv[12];
	/* CBC-SHA256 (aead SG_AEAD_AES_128_CBC_SHA256): the MAC keys (RFC 5246 §6.3) */
	uint8_t rx_mac[SG_DTLS_CBC_MAC_KEY_LEN];
	uint8_t tx_mac[SG_DTLS_CBC_MAC_KEY_LEN];
};

/*
 * Why a stored record was refused: one table (names, errno) in
 * store_rec.c, counted per reason by the store's iterator.
 */
enum sg_store_bad {
	SG_STORE_BAD_TRUNCATED = 0, /* -ENODATA: shorter than its header says */
	SG_STORE_BAD_TRAILING,      /* -EMSGSIZE: longer than its header says */
	SG_STORE_BAD_VERSION,       /* -EPROTONOSUPPORT: a version this build does not read */
	SG_STORE_BAD_KEY_ID,        /* -EKEYREJECTED: sealed under another store key */
	SG_STORE_BAD_SEAL,          /* -EBADMSG: authentication failed (damaged or forged) */
	SG_STORE_BAD_BODY,          /* -EUCLEAN: authentic but its fields are invalid */
	SG_STORE_BAD_MAX
};

/* Stable label of a refusal ("key_id"), or "unknown". Any thread. */
const char *sg_store_bad_name(enum sg_store_bad bad);
/* The refusal an error of sg_store_rec_open() stands for, or SG_STORE_BAD_MAX. */
enum sg_store_bad sg_store_bad_of(int err);

struct IMB_MGR;      /* IPsec-MB's manager */
struct gcm_key_data; /* IPsec-MB's expanded AES-GCM key */

/*
 * A sealing context: the key, the nonce counter, and the AES-256-GCM key
 * schedule expanded once (IPsec-MB, at the first seal or open): a record
 * costs its nonce and one GCM call. One thread.
 */
struct sg_store_sealer {
	struct sg_store_key key;
	uint8_t nonce[SG_STORE_REC_NONCE]; /* the next nonce */
	struct IMB_MGR *mgr;               /* NULL until the first use */
	struct gcm_key_data *gkey;         /* the expanded key, wiped and freed with s */
};

/* Copy key into s and draw the nonce start. 0 or -EIO (CSPRNG). */
int sg_store_sealer_init(struct sg_store_sealer *s, const struct sg_store_key *key);
/* Wipe the expanded key and s, free what s holds. */
void sg_store_sealer_wipe(struct sg_store_sealer *s);

/*
 * Seal rec, stored under slot, into out (cap bytes; SG_STORE_REC_MAX always
 * fits), at version 1, 2 for a PSK CBC session, 3 for a session not made with a PSK.
 * Returns the sealed length, or -EINVAL (a field out of range: aead, flags, CID lengths,
 * sequence >= 2^48, an auth kind with an identity or tag it cannot have), -ENOBUFS (cap too
 * small), -EIO (libcrypto failed). Every intermediate copy of the keys is wiped.
 */
int sg_store_rec_seal(struct sg_store_sealer *s, uint32_t slot, const struct sg_store_rec *rec,
                      uint8_t *out, size_t cap);

/*
 * Open the len bytes at in, stored under slot, into rec. Returns 0 or the
 * -errno of enum sg_store_bad's reason; rec is wiped on every refusal.
 * Checks run in order: header present, version, key id, exact length,
 * seal, fields.
 */
int sg_store_rec_open(const struct sg_store_key *key, uint32_t slot, const uint8_t *in, size_t len,
                      struct sg_store_rec *rec);

/*
 * sg_store_rec_open() with s's key and its keyed context: no key schedule
 * per record (restore opens millions). Same returns.
 */
int sg_store_rec_unseal(struct sg_store_sealer *s, uint32_t slot, const uint8_t *in, size_t len,
                        struct sg_store_rec *rec);

/* Wipe rec. */
void sg_store_rec_wipe(struct sg_store_rec *rec);

/*
 * The credential tag of a PSK: the first 8 bytes of
 * SHA-256("stormgate cred tag" || psk). The gateway stores it with each
 * session and compares it with the current credential's at restore, so a
 * credential changed or removed while the daemon was down is not undone by
 * a restore. Any thread. Should libcrypto fail, tag is all 0xff bytes, which
 * a working libcrypto does not give in practice: the session is then not
 * restored (the safe side).
 */
void sg_store_cred_tag(const uint8_t *psk, size_t len, uint8_t tag[SG_STORE_CRED_TAG_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_STORE_REC_H */
