/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Slots and timers of the handshake engine (internal to sg_handshake): one
 * fixed-size slot per in-flight handshake in a pool allocated at creation,
 * found by a keyed hash of the peer's 4-tuple, with one timer each in a
 * min-heap on its deadline (retransmission or expiry); and the small
 * helpers every part uses on a slot.
 *
 * The lowest part of the engine over the leaves: it calls the codec and
 * crypto only, and on free the certificate leaf and the large reassembly
 * buffers (hs_priv.h lists the stack). The engine's thread only. These
 * functions touch the pool, the peer index and the heap of struct
 * sg_hs_engine (hs_priv.h), and on free the cached master-secret key,
 * ops.cid_release, the slot's certificate set reference and its large
 * buffer; nothing else.
 */
#ifndef STORMGATE_CONTROL_HS_SLOTS_H
#define STORMGATE_CONTROL_HS_SLOTS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/handshake.h>
#include <stormgate/record_types.h>

#include "hs_cert.h"
#include "hs_codec.h"
#include "hs_crypto.h"
#include "hs_ecdh.h"
#include "hs_priv.h"
#include "hs_ticket.h"

#define HS_NONE      UINT32_MAX           /* no slot, no heap position, end of chain */
#define HS_SA_WINDOW SG_REPLAY_WINDOW_MIN /* handshake-time SA: Finished only */
#define REASM_CAP    256                  /* ClientKeyExchange: 2+128 identity, 1+65 point */
#define PENDING_MAX  96                   /* one early epoch-1 record (client Finished) */
/* Longest handshake_timeout_ms: a slot's 32-bit µs start time never wraps in its life. */
#define HS_TIMEOUT_MAX_MS 3600000u

_Static_assert(REASM_CAP <= SG_HS_REASM_MAX, "reassembly buffer within the codec's bitmap");
_Static_assert(HS_SA_WINDOW <= 128, "a handshake SA's window fits in struct sg_rec_sa");

enum hs_state {
	HS_FREE = 0,
	HS_WAIT_CKE,      /* full: flight 4 sent, client's CKE, CCS, Finished expected */
	HS_WAIT_FINISHED, /* full: keys derived, client Finished expected */
	HS_WAIT_RESUMED,  /* abbreviated: our Finished sent, client's CCS, Finished expected */
};

/* struct hs_slot.flags */
#define SF_EMS          0x0001 /* extended master secret (RFC 7627) */
#define SF_SECURE_RENEG 0x0002 /* echo renegotiation_info (RFC 5746 §3.6) */
#define SF_TICKET       0x0004 /* NewSessionTicket promised in ServerHello */
#define SF_CID          0x0008 /* CIDs negotiated (RFC 9146) */
#define SF_CID_HELD     0x0010 /* our CID reserved through ops.cid_alloc */
#define SF_SNI          0x0020
#define SF_UNKNOWN_ID   0x0040 /* identity unknown: dummy PSK, fail at Finished */
#define SF_POLICY       0x0080 /* identity refused by policy: dummy PSK, fail at Finished */
#define SF_POINTS       0x0200 /* echo ec_point_formats */
#define SF_NO_TICKET    0x0400 /* policy: the promised ticket is empty (RFC 5077 §3.3) */
#define SF_RRC          0x8000 /* return routability checks negotiated (RFC 9853 §3) */
#define SF_PROVEN       0x0800 /* the address receives what we send: no amplification limit */
#define SF_RESENT       0x1000 /* our flight went again in this retransmission period */
#define SF_AUTH_FAILED  0x2000 /* a record failed under keys the client's key exchange made */
#define SF_SERVER_FIN   0x0100 /* full: server_verify derived with the keys (hs_keys.h) */
#define SF_ETM          0x4000 /* encrypt_then_mac (RFC 7366): a CBC suite, the client offered it */

/* struct hs_slot.cflags: an ECDHE-ECDSA handshake (hs_certflight.c, hs_certpeer.c) */
#define CF_RPK_OURS 0x01 /* we present our raw public key (RFC 7250 server_certificate_type) */
#define CF_RPK_PEER 0x02 /* the client presents one (client_certificate_type) */
#define CF_REQUEST  0x04 /* CertificateRequest sent (client_auth require or optional) */
#define CF_CT_ECHO  0x08 /* echo client_certificate_type in the ServerHello */
#define CF_SCT_ECHO 0x10 /* echo server_certificate_type */
#define CF_GOT_CERT 0x20 /* the client's Certificate taken (peer_key set when not empty) */
#define CF_PEER_KEY 0x40 /* a client key to check: its CertificateVerify is expected */
#define CF_GOT_KX   0x80 /* ClientKeyExchange taken, keys derived, CertificateVerify next */

/*
 * One in-flight handshake. Fixed size, in a pool allocated at creation; the
 * budget (with the heap objects it points to) is 2 KB, checked by a test.
 */
struct hs_slot {
	/* line 0: what a lookup and the timers read */
	struct sg_hs_peer peer;
	uint32_t hnext;      /* peer index chain, or free list */
	uint32_t heap_pos;   /* timer heap position */
	uint32_t bucket;     /* peer index bucket */
	uint64_t deadline;   /* next timer: retransmission or expiry */
	uint64_t expires;    /* handshake_timeout_ms after the start */
	struct sg_rec_sa sa; /* epoch-1 keys once derived (window HS_SA_WINDOW) */
	/* Its MAC line, right after it (sg_rec_sa_mac()): the MAC keys of a CBC suite. */
	struct sg_rec_sa_mac sa_mac;
	/* Widest first, the bytes next to the byte arrays: no padding (1,536 B). */
	uint32_t rto;    /* current retransmission timeout */
	uint16_t flags;  /* SF_* */
	uint16_t ch_seq; /* ClientHello message_seq: ServerHello reuses it (RFC 6347 §4.2.2) */
	uint16_t rx_seq; /* next message_seq expected from the client */
	uint16_t rsl;    /* our record_size_limit echoed, 0: none */
	uint16_t max_pt; /* largest plaintext the client accepts */
	uint16_t sni_len;
	uint64_t ep0_seq; /* next epoch-0 record sequence number */
	uint64_t tag;     /* the caller's, of the last datagram that advanced it (hs_advanced) */
	uint64_t user;    /* struct sg_hs_cred.user of the last lookup, for the result */
	uint32_t cred_ref;
	uint32_t backend;
	uint32_t lifetime;
	uint32_t bytes_in;  /* datagram bytes from the peer (amplification limit) */
	uint32_t bytes_out; /* datagram bytes sent to it */
	uint32_t start_us;  /* monotonic µs when taken, low 32 bits (sg_hs_slot_done) */
	uint8_t state;      /* enum hs_state */
	uint8_t suite;      /* index into sg_suites (suite.h) */
	uint8_t group;      /* ECDHE: enum sg_hs_group + 1; 0: none */
	uint8_t mfl;        /* echoed max_fragment_length code, 0: none */
	uint8_t cid_len;
	uint8_t peer_cid_len;
	uint8_t session_id_len;
	uint8_t identity_len;
	uint8_t pending_len;
	uint8_t client_random[SG_TLS_RANDOM_LEN];
	uint8_t server_random[SG_TLS_RANDOM_LEN];
	uint8_t session_id[SG_TLS_SESSION_ID_MAX];
	/*
	 * Never both at once: the PSK digest exists only in a full handshake
	 * with a ticket promised, and is read once, when the NewSessionTicket is
	 * sealed, before our Finished of that handshake is computed; an
	 * abbreviated handshake promises no ticket.
	 */
	union {
		/* Full handshake with a ticket promised: the digest of the PSK it will name. */
		uint8_t psk_digest[SG_HS_TICKET_PSK_DIGEST_LEN];
		uint8_t server_verify[SG_TLS_VERIFY_DATA_LEN]; /* our Finished (abbreviated) */
	};
	uint8_t master[SG_TLS_MASTER_SECRET_LEN];
	uint8_t cid[SG_HS_CID_MAX];
	uint8_t peer_cid[SG_HS_PEER_CID_MAX];
	uint8_t sni[SG_HS_SNI_MAX];
	uint8_t pending[PENDING_MAX];
	/*
	 * ECDHE-ECDSA (docs/certificates.md, "Memory"): the certificate set the
	 * handshake started with (a reference, released on free; NULL for the
	 * other suites), our ServerKeyExchange signature (flights are rebuilt
	 * from the slot, and ECDSA is randomised), the client's public key
	 * until its CertificateVerify, and the SHA-256 of its raw public key
	 * (a ticket names it). The chain is the set's, never copied here.
	 */
	const struct hs_cert_set *cset;
	uint8_t cflags;  /* CF_* */
	uint8_t auth;    /* enum sg_hs_auth of the client (PSK: 0) */
	uint8_t sig_len; /* 0: not signed yet */
	uint8_t sig[HS_CERT_SIG_MAX];
	struct hs_peer_key peer_key;
	uint8_t key_hash[SG_HS_SPKI_HASH_LEN];
	struct sg_hs_transcript transcript;
	struct sg_hs_ecdh_key eph; /* ECDHE: our key pair (a copy when reused) */
	struct sg_hs_reasm reasm;
	/* A fragmented ClientKeyExchange is reassembled before the identity is
	 * known, and the identity is kept only after: they share the bytes. */
	union {
		uint8_t reasm_buf[REASM_CAP];
		uint8_t identity[SG_TLS_PSK_IDENTITY_MAX];
	} u;
} __attribute__((aligned(SG_CACHE_LINE)));

/* The budget of an in-flight handshake, certificate handshakes included (docs/certificates.md). */
_Static_assert(sizeof(struct hs_slot) <= 2048, "a slot stays within 2 KB");
/* A window <= 128 has no replay tail: the MAC line follows the SA's two lines. */
_Static_assert(__builtin_offsetof(struct hs_slot, sa_mac) ==
                       __builtin_offsetof(struct hs_slot, sa) + sizeof(struct sg_rec_sa),
               "the slot's SA is followed by its MAC line (sg_rec_sa_mac)");

static inline bool hs_peer_eq(const struct sg_hs_peer *a, const struct sg_hs_peer *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static inline uint32_t hs_slot_idx(const struct sg_hs_engine *e, const struct hs_slot *s)
{
	return (uint32_t)(s - e->slots);
}

static inline const struct sg_suite *hs_slot_suite(const struct hs_slot *s)
{
	return &sg_suites[s->suite];
}

/*
 * The datagram being handled advanced slot s (took it, added to its key
 * exchange, kept its early Finished, verified the client's Finished): its
 * tag is the one the install hands over (struct sg_hs_result.tag).
 */
static inline void hs_advanced(const struct hs_rx *x, struct hs_slot *s)
{
	s->tag = x->tag;
}

/*
 * Allocate the pool of conf.max_handshakes slots (all free), its peer index
 * and its timer heap, and touch them now rather than page by page in the
 * middle of a storm. 0 or -ENOMEM (nothing left allocated). At creation.
 */
int sg_hs_slots_alloc(struct sg_hs_engine *e);

/* Free every slot in use (sg_hs_slot_free), wipe the pool and free it all. */
void sg_hs_slots_free(struct sg_hs_engine *e);

/* Keyed hash of a peer's 4-tuple (seed from the DRBG), so chains cannot be aimed at. */
uint32_t sg_hs_peer_hash(uint64_t seed, const struct sg_hs_peer *p);

/* The slot of peer (hash: sg_hs_peer_hash() of it), or NULL. */
struct hs_slot *sg_hs_slot_find(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                uint32_t hash);

/*
 * A free slot for peer, indexed, its expiry set and its start time (for
 * the latency histogram) taken from now (counted as started); NULL: none.
 */
struct hs_slot *sg_hs_slot_alloc(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                 uint32_t hash, struct sg_hs_time now);

/*
 * Slot s completes at now (installed, before it is freed): its latency
 * from the datagram that took it goes into the engine's histogram
 * (struct sg_hs_stats.latency). The start time is kept in 32 bits of µs,
 * exact for any handshake younger than 71 minutes, which every one is:
 * handshake_timeout_ms is at most HS_TIMEOUT_MAX_MS.
 */
void sg_hs_slot_done(struct sg_hs_engine *e, const struct hs_slot *s, struct sg_hs_time now);

/* Wipe the secrets of a slot, release its CID and timer, and return it to the pool. */
void sg_hs_slot_free(struct sg_hs_engine *e, struct hs_slot *s);

/* Arm slot idx's timer at when (never past its expiry). */
void sg_hs_timer_set(struct sg_hs_engine *e, uint32_t idx, uint64_t when);

/* The slot whose timer is due first, or NULL when no timer runs. */
struct hs_slot *sg_hs_timer_first(const struct sg_hs_engine *e);

#endif /* STORMGATE_CONTROL_HS_SLOTS_H */
