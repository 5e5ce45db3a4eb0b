/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state of the handshake engine, which every part of it reads (internal
 * to sg_handshake): struct sg_hs_engine, the context of the datagram being
 * handled (struct hs_rx), the engine's limits, and helpers over them (the
 * counters, a datagram's drop reason, the suites the engine negotiates).
 * The bottom of the engine's stack of parts: it includes only the leaves
 * (codec, crypto, ecdh, cookie, ticket, secrets) and knows the parts above it by name only.
 *
 * The parts, lowest first; each calls only parts below it, never one above
 * (docs/handshake.md, "Files"; tests/meta/test_layers.py keeps it so):
 *
 *   hs_codec.c hs_crypto.c hs_ecdh.c hs_cookie.c hs_ticket.c   leaves, no engine
 *   hs_secrets.c  cookie and ticket keys shared by engines (a leaf too)
 *   hs_batch.c    batched HMAC / PRF lanes (a leaf too)
 *   hs_cert.c hs_cert_set.c hs_cert_sign.c hs_cert_verify.c hs_certcodec.c
 *   hs_bigmsg.c   certificates and raw public keys, the ECDHE-ECDSA messages,
 *                 the large reassembly buffers (leaves too)
 *   hs_slots.c    slot pool, peer index, timer heap; the slot helpers
 *   hs_linger.c   finished flights kept after completion
 *   hs_output.c   records into datagrams, fragments, amplification, alerts, failure
 *   hs_keys.c     the key schedule: premaster, master secret, key block, verify_data
 *   hs_certflight.c  ECDHE-ECDSA: the choice a hello allows, our certificate messages
 *   hs_flights.c  our flights, built from the slot and the key schedule
 *   hs_certpeer.c ECDHE-ECDSA: the client's Certificate, key exchange, CertificateVerify
 *   hs_hello.c    a ClientHello: cookie, resumption, suite and group, new handshake
 *   hs_kx.c       the client's ClientKeyExchange: share, credential, keys
 *   hs_finish.c   epoch-1 records: the client's Finished or alert, install
 *   hs_engine.c   the dispatcher and life cycle: sg_hs_input(), sg_hs_tick(), create
 *
 * Each part above the leaves has its header (hs_slots.h ... hs_finish.h).
 * The engine's thread only; see include/stormgate/handshake.h.
 */
#ifndef STORMGATE_CONTROL_HS_PRIV_H
#define STORMGATE_CONTROL_HS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/handshake.h>
#include <stormgate/record.h>
#include <stormgate/suite.h>

#include "hs_codec.h"
#include "hs_cookie.h"
#include "hs_crypto.h"
#include "hs_ecdh.h"
#include "hs_secrets.h"
#include "hs_ticket.h"

struct hs_slot;   /* hs_slots.h */
struct hs_linger; /* hs_linger.h */

struct hs_kx_pre;      /* hs_kx.h */
struct sg_hs_batch;    /* hs_batch.h */
struct hs_bigmsg_pool; /* hs_bigmsg.h */

/* ---- limits ---------------------------------------------------------------------- */

#define MTU_MIN        128
#define MTU_MAX        16384
#define RECS_PER_DGRAM 32
#define MSG_MAX        (SG_DTLS_HS_HDR_LEN + 6 + SG_HS_TICKET_MAX)
#define SCRATCH_LEN    (MTU_MAX + 512) /* cookie MAC input, sealing, opening */

/* The cookie MAC input is the 4-tuple and the ClientHello (hs_cookie.c); an
 * epoch-1 record is opened in place: each fits for any accepted datagram. */
_Static_assert(SCRATCH_LEN >= sizeof(struct sg_hs_peer) + SG_HS_DGRAM_MAX,
               "the scratch holds the cookie MAC input of the largest datagram");
/* The suites and their default order: the registry (suite.h), its ranked rows. */
/* Room for the 0 after every suite: a caller that keeps one (the gateway) loses none. */
_Static_assert(SG_SUITES_RANKED < SG_HS_SUITES_MAX, "every suite fits a preference list");

/* ---- the engine ------------------------------------------------------------------ */

struct sg_hs_engine {
	struct sg_hs_config conf;
	struct sg_hs_crypto crypto;
	struct sg_hs_ecdh ecdh; /* ECDHE key pairs, the reuse window */
	struct sg_rec_ctx *rec;
	/* The keys in use: the engine's own, or its copy of conf.secrets (hs_secrets.h). */
	struct sg_hs_cookie_keys cookies;
	struct sg_hs_ticket_keys tickets;
	uint64_t secrets_gen; /* own: sg_hs_secrets_generation(); shared: that of the copy */
	const struct sg_suite *prefs[SG_HS_SUITES_MAX];
	unsigned n_prefs;
	uint64_t seed;

	struct hs_slot *slots;
	struct hs_slot *cur; /* the slot of the peer whose datagram is being handled */
	uint32_t n_slots;
	uint32_t free_head;
	uint32_t in_flight;
	uint32_t *buckets;
	uint32_t bucket_mask;
	uint32_t *heap;
	uint32_t heap_len;

	struct hs_linger *linger;
	uint32_t n_linger;
	uint32_t linger_oldest; /* ring: entries are made and expire in order */
	uint32_t linger_count;
	uint32_t *lbuckets;
	uint32_t lbucket_mask;

	/* The master secret's HMAC key, prepared once per handshake: the key
	 * block and both Finished messages use it (RFC 5246 §6.3, §7.4.9). */
	struct sg_hs_hmac_key mkey;
	uint32_t mkey_slot; /* slot it belongs to, HS_NONE: empty */

	/* Batched key derivation (hs_batch.h): the batch, and the key exchanges
	 * a burst prepared (SG_HS_BURST_MAX, sg_hs_input_burst). */
	struct sg_hs_batch *batch;
	struct hs_kx_pre *pre;

	/* Certificates (conf.certs; NULL without): the pool large client messages
	 * are reassembled in (hs_bigmsg.h) and the buffer a flight with our
	 * chain is built in (hs_certflight.h). */
	struct hs_bigmsg_pool *bigmsg;
	uint8_t *flight;
	size_t flight_cap;

	struct sg_rec_sa *result_sa;
	size_t result_sa_size;
	uint64_t counters[SG_HS_C_MAX];
	uint64_t latency[SG_HS_LAT_BUCKETS]; /* completed handshakes (sg_hs_slot_done) */

	uint8_t *tx; /* datagram being built (mtu bytes) */
	size_t tx_len;
	uint8_t *scratch; /* cookie MAC input, sealing, opening: SCRATCH_LEN */
	size_t scratch_len;
};

/* What sg_hs_input() knows of the datagram being handled. */
struct hs_rx {
	struct sg_hs_time now;
	const struct sg_hs_peer *peer;
	uint64_t tag;  /* the caller's, for the slot the datagram advances (hs_advanced) */
	size_t len;    /* datagram bytes */
	uint32_t hash; /* sg_hs_peer_hash() of peer */
	int handled;
	int drop;          /* first drop reason, -1: none */
	bool kx_here;      /* a ClientKeyExchange in this datagram derived the keys */
	bool pending_here; /* the early epoch-1 record was kept from this datagram */
	/* Its key exchange as the burst prepared it (sg_hs_input_burst); NULL: none. */
	struct hs_kx_pre *pre;
	/* kx_here: the client's Finished as it must be, derived with the keys (its
	 * own datagram, the usual case, needs no PRF for it; a later one does). */
	uint8_t client_verify[SG_TLS_VERIFY_DATA_LEN];
};

/* ---- small helpers ----------------------------------------------------------------- */

static inline void hs_count(struct sg_hs_engine *e, enum sg_hs_counter c)
{
	e->counters[c]++;
}

/* Saturating: no number of datagrams wraps the amplification totals. */
static inline uint32_t hs_add_sat32(uint32_t a, size_t b)
{
	return b >= UINT32_MAX - a ? UINT32_MAX : a + (uint32_t)b;
}

/*
 * Shared secrets (conf.secrets): copy them again if the owner changed them
 * since the engine's copy. One atomic load when nothing moved. Before
 * anything of a datagram uses a cookie or ticket key.
 */
static inline void hs_secrets_sync(struct sg_hs_engine *e)
{
	if (e->conf.secrets != NULL && sg_hs_secrets_gen(e->conf.secrets) != e->secrets_gen)
		e->secrets_gen = sg_hs_secrets_copy(e->conf.secrets, &e->cookies, &e->tickets);
}

/* The first reason a datagram is dropped is the one counted (if nothing handles it). */
static inline void hs_rx_drop(struct hs_rx *x, enum sg_hs_counter why)
{
	if (x->drop < 0)
		x->drop = (int)why;
}

/* Table sizes: the least power of two >= n (at most 2^31). */
static inline uint32_t hs_pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n && p < (1u << 31))
		p <<= 1;
	return p;
}

/* The suites the engine negotiates: the registry's rows (suite.h), as the engine reads them. */
static inline enum sg_hs_hash hs_suite_hash(const struct sg_suite *su)
{
	return su->prf == SG_PRF_SHA384 ? SG_HS_SHA384 : SG_HS_SHA256;
}

static inline bool hs_suite_ecdhe(const struct sg_suite *su)
{
	return su->kx == SG_KX_ECDHE_PSK;
}

/* ECDHE-ECDSA: certificates or raw public keys (docs/certificates.md). */
static inline bool hs_suite_cert(const struct sg_suite *su)
{
	return su->kx == SG_KX_ECDHE_ECDSA;
}

/* The suite of IANA value id if the engine negotiates it (ranked), else NULL. */
static inline const struct sg_suite *hs_suite_negotiable(uint16_t id)
{
	const struct sg_suite *su = sg_suite_find(id);

	return su != NULL && su->rank != 0 ? su : NULL;
}

/* Why an epoch-1 record that did not open is dropped. */
static inline enum sg_hs_counter hs_open_drop(uint8_t status)
{
	switch (status) {
	case SG_REC_AUTH_FAILED:
	case SG_REC_AUTH_LIMIT:
		return SG_HS_C_DROP_UNAUTHENTICATED;
	case SG_REC_REPLAYED:
	case SG_REC_TOO_OLD:
		return SG_HS_C_DROP_DUPLICATE;
	default:
		return SG_HS_C_DROP_UNEXPECTED; /* wrong epoch or type, malformed */
	}
}

#endif /* STORMGATE_CONTROL_HS_PRIV_H */
