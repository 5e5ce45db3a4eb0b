/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record-layer types shared by the record layer, the session table, the data
 * plane and the control plane (which fills a struct sg_rec_sa after a
 * handshake). See record.h for the functions.
 */
#ifndef STORMGATE_RECORD_TYPES_H
#define STORMGATE_RECORD_TYPES_H

#include <stdint.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The AEAD of a record protection suite; every suite of the record layer maps to one. */
enum sg_aead {
	SG_AEAD_AES_128_CCM_8 = 0, /* RFC 6655 0xC0A8, RFC 7251 0xC0AE, RFC 8442 0xD003 */
	SG_AEAD_AES_128_CCM,       /* RFC 6655: PSK 0xC0A4, RFC 8442: ECDHE_PSK 0xD005 */
	SG_AEAD_AES_128_GCM,       /* RFC 5487: PSK 0x00A8, RFC 5289: 0xC02B, RFC 8442: 0xD001 */
	SG_AEAD_AES_256_GCM,       /* RFC 5487: PSK 0x00A9 */
	SG_AEAD_CHACHA20_POLY1305, /* RFC 7905: PSK 0xCCAB, ECDHE_PSK 0xCCAC */
	/*
	 * Not an AEAD: AES-128-CBC with HMAC-SHA256 (RFC 5487 PSK 0x00AE, RFC
	 * 5289 ECDHE_ECDSA 0xC023), MAC-then-encrypt or, negotiated, RFC 7366
	 * encrypt-then-MAC (SG_SA_F_ETM). Its SA is wide: the two MAC keys
	 * follow it (struct sg_rec_sa_mac, sg_rec_sa_size_for()).
	 */
	SG_AEAD_AES_128_CBC_SHA256,
	SG_AEAD_MAX
};

/*
 * Replay window sizes (bits) a table may be created with (RFC 6347 §4.1.2.6):
 * a power of two in [MIN, MAX]. The window is exact: a record is fresh when
 * its sequence number is above the highest authenticated one, or at most
 * window - 1 below it and not seen yet. As in RFC 6479 each sequence number
 * has a fixed bit (seq mod window) so the bitmap never shifts; advancing
 * clears only the bits of the numbers skipped over, which is why no
 * redundant block is needed and the default window fits the two lines.
 */
#define SG_REPLAY_WINDOW_MIN     64
#define SG_REPLAY_WINDOW_MAX     4096
#define SG_REPLAY_WINDOW_DEFAULT 128

/* sg_rec_sa.flags */
#define SG_SA_F_RX_CID 0x01 /* records to us carry our CID (RFC 9146 tls12_cid) */
#define SG_SA_F_TX_CID 0x02 /* records we send carry the peer's CID */
/*
 * Return routability checks negotiated (RFC 9853 §3, rrc extension): records
 * of the return_routability_check content type (§4) are opened and sealed;
 * without it they are refused like any unknown type.
 */
#define SG_SA_F_RRC 0x04
/* encrypt_then_mac negotiated (RFC 7366): CBC only; an AEAD SA never has it. */
#define SG_SA_F_ETM  0x08
#define SG_SA_F_LIVE 0x80 /* set by sg_rec_sa_init(): a zeroed or wiped SA is refused */

/*
 * Runtime state of one DTLS 1.2 security association: what a worker needs to
 * open and seal the records of one session, in two cache lines. Plain old
 * data without pointers, so sessions can be checkpointed and shipped between
 * nodes as bytes (the key material is secret: seal it when serialised).
 *
 * Keys are raw (16 or 32 bytes): key schedules are expanded per record inside
 * the burst, which costs less than the cache misses 176 B (AES-128 schedule)
 * or ~1 KB (IPsec-MB GCM key data) per direction per session would at 10M
 * sessions. See docs/record-layer.md for the measurements.
 *
 * Line 0 holds everything opening a record with a 16-byte key reads or writes
 * (header, replay state, rx IV and key), so the uplink of the AES-128 suites
 * misses one line per record, not two; a 32-byte rx key runs 12 bytes into
 * line 1, which holds the sealing state. The replay bitmap's first 128 bits
 * are in line 0; a larger window's remaining bits follow the struct
 * (allocate sg_rec_sa_size(window)).
 *
 * Fill it with sg_rec_sa_init() and clear it with sg_rec_sa_wipe() (record.h).
 * One writer: only the worker that owns the session opens or seals with it.
 */
struct sg_rec_sa {
	/* line 0: opening */
	uint8_t aead;           /* enum sg_aead */
	uint8_t flags;          /* SG_SA_F_* */
	uint16_t epoch;         /* epoch of both directions (no renegotiation) */
	uint32_t auth_failures; /* records that failed authentication under this key */
	uint64_t rx_top;        /* highest authenticated sequence number + 1 (0: none yet) */
	uint64_t replay[2];     /* bit (seq mod window) per number: 0..127 here */
	uint8_t rx_iv[12];      /* client_write_IV: 4 B salt (GCM/CCM) or 12 B (ChaCha) */
	uint8_t rx_key[32];     /* client_write_key (16 B used for AES-128: ends in line 0) */
	/* line 1: sealing */
	uint8_t tx_iv[12]; /* server_write_IV */
	/*
	 * The sealing state in one word, as the two lines have no byte to spare:
	 * bits 0..48 the next 48-bit write sequence number (2^48: exhausted),
	 * bits 49..63 the largest plaintext the peer takes in one record
	 * (RFC 8449 §4 record_size_limit, RFC 6066 §4 max_fragment_length;
	 * 2^14 when it asked for nothing). Read them with sg_rec_sa_tx_seq()
	 * and sg_rec_sa_max_plaintext(); sg_rec_sa_init() writes both, a seal
	 * adds 1 (the sequence never carries into the limit: 2^48 is refused).
	 */
	uint64_t tx_word;
	uint8_t tx_key[32]; /* server_write_key */
} __attribute__((aligned(SG_CACHE_LINE)));

/* struct sg_rec_sa.tx_word: the write sequence number's bits, then the limit. */
#define SG_SA_TX_SEQ_BITS 49
#define SG_SA_TX_SEQ_MASK ((UINT64_C(1) << SG_SA_TX_SEQ_BITS) - 1)

#ifdef __cplusplus
static_assert(sizeof(struct sg_rec_sa) == 2 * SG_CACHE_LINE, "sg_rec_sa is two cache lines");
#else
_Static_assert(sizeof(struct sg_rec_sa) == 2 * SG_CACHE_LINE, "sg_rec_sa is two cache lines");
_Static_assert(__builtin_offsetof(struct sg_rec_sa, rx_key) + 16 <= SG_CACHE_LINE,
               "an AES-128 open reads line 0 only");
_Static_assert(SG_DTLS_MAX_PLAINTEXT < (1u << (64 - SG_SA_TX_SEQ_BITS)),
               "a record limit fits above the write sequence number");
_Static_assert(SG_DTLS_SEQ_MAX < SG_SA_TX_SEQ_MASK, "2^48 (exhausted) fits the sequence bits");
#endif

/* Next write sequence number of sa (2^48 once exhausted). The owning worker, or the
 * control plane for a snapshot. */
static inline uint64_t sg_rec_sa_tx_seq(const struct sg_rec_sa *sa)
{
	return sa->tx_word & SG_SA_TX_SEQ_MASK;
}

/* Largest plaintext sa may seal into one record: the peer's limit (RFC 8449 §4). */
static inline unsigned sg_rec_sa_max_plaintext(const struct sg_rec_sa *sa)
{
	return (unsigned)(sa->tx_word >> SG_SA_TX_SEQ_BITS);
}

/* Bytes to allocate for one SA with a replay window of window_bits (64..4096). */
static inline size_t sg_rec_sa_size(unsigned window_bits)
{
	size_t extra = window_bits > 128 ? (window_bits - 128) / 8 : 0;

	return sizeof(struct sg_rec_sa) +
	       ((extra + SG_CACHE_LINE - 1) & ~(size_t)(SG_CACHE_LINE - 1));
}

/*
 * The MAC keys of a CBC-SHA256 SA (SG_AEAD_AES_128_CBC_SHA256): one more
 * line, right after the SA and its replay tail, at sg_rec_sa_size(window)
 * bytes from its start (sg_rec_sa_mac()). The SA's rx_key and tx_key hold
 * the AES-128 keys (16 B each); rx_iv and tx_iv are unused (TLS 1.1+ CBC
 * carries an explicit IV per record). Only CBC SAs have the line: the
 * session table keeps them in a pool of their own (session.cbc_capacity),
 * so the AEAD sessions stay at two lines (docs/session-table.md).
 */
struct sg_rec_sa_mac {
	uint8_t rx_mac[SG_DTLS_CBC_MAC_KEY_LEN]; /* client_write_MAC_key */
	uint8_t tx_mac[SG_DTLS_CBC_MAC_KEY_LEN]; /* server_write_MAC_key */
};

#ifdef __cplusplus
static_assert(sizeof(struct sg_rec_sa_mac) == SG_CACHE_LINE, "the MAC keys fill one line");
#else
_Static_assert(sizeof(struct sg_rec_sa_mac) == SG_CACHE_LINE, "the MAC keys fill one line");
#endif

/* True for an SA that carries the MAC line (CBC). */
static inline int sg_aead_wide(unsigned aead)
{
	return aead == SG_AEAD_AES_128_CBC_SHA256;
}

/* Bytes of one SA of this AEAD with a window of window_bits: sg_rec_sa_size(), plus the
 * MAC line for CBC. */
static inline size_t sg_rec_sa_size_for(unsigned window_bits, unsigned aead)
{
	return sg_rec_sa_size(window_bits) +
	       (sg_aead_wide(aead) ? sizeof(struct sg_rec_sa_mac) : 0);
}

/* The most any SA takes with this window (buffers that may hold any suite's SA). */
static inline size_t sg_rec_sa_size_max(unsigned window_bits)
{
	return sg_rec_sa_size(window_bits) + sizeof(struct sg_rec_sa_mac);
}

/* The MAC line of a CBC SA (sa->aead SG_AEAD_AES_128_CBC_SHA256) of this window. */
static inline struct sg_rec_sa_mac *sg_rec_sa_mac(struct sg_rec_sa *sa, unsigned window_bits)
{
	return (struct sg_rec_sa_mac *)((uint8_t *)sa + sg_rec_sa_size(window_bits));
}

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_RECORD_TYPES_H */
