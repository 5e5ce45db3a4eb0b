/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the parts of the handshake engine share (internal to sg_handshake):
 * the engine itself, the context of the datagram being handled, small
 * helpers, and the entry points of the protocol steps:
 *
 *   hs_engine.c   dispatcher and life cycle: sg_hs_input(), sg_hs_tick(), create, free
 *   hs_hello.c    ClientHello: cookie, resumption, suite and group choice, new handshake
 *   hs_keys.c     ClientKeyExchange, key schedule, the client's Finished, install
 *   hs_flights.c  our flights: ServerHello .. ServerHelloDone, the abbreviated and
 *                 final flights, retransmission
 *   hs_output.c   (hs_output.h) records into datagrams, fragments, alerts, failure
 *   hs_slots.c    (hs_slots.h) slot pool, peer index, timer heap
 *   hs_linger.c   (hs_linger.h) finished flights kept after completion
 *
 * The engine's thread only; see include/stormgate/handshake.h.
 */
#ifndef STORMGATE_CONTROL_HS_ENGINE_PRIV_H
#define STORMGATE_CONTROL_HS_ENGINE_PRIV_H

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
#include "hs_linger.h"
#include "hs_output.h"
#include "hs_slots.h"
#include "hs_ticket.h"

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
_Static_assert(SG_SUITES_RANKED <= SG_HS_SUITES_MAX, "every suite fits a preference list");

/* ---- the engine ------------------------------------------------------------------ */

struct sg_hs_engine {
	struct sg_hs_config conf;
	struct sg_hs_crypto crypto;
	struct sg_rec_ctx *rec;
	struct sg_hs_cookie_keys cookies;
	struct sg_hs_ticket_keys tickets;
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

	struct sg_rec_sa *result_sa;
	size_t result_sa_size;
	uint64_t counters[SG_HS_C_MAX];

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
};

/* ---- small helpers ----------------------------------------------------------------- */

static inline void hs_count(struct sg_hs_engine *e, enum sg_hs_counter c)
{
	e->counters[c]++;
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

/* Saturating: no number of datagrams wraps the amplification totals. */
static inline uint32_t hs_add_sat32(uint32_t a, size_t b)
{
	return b >= UINT32_MAX - a ? UINT32_MAX : a + (uint32_t)b;
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

static inline uint32_t hs_slot_idx(const struct sg_hs_engine *e, const struct hs_slot *s)
{
	return (uint32_t)(s - e->slots);
}

static inline const struct sg_suite *hs_slot_suite(const struct hs_slot *s)
{
	return &sg_suites[s->suite];
}

static inline enum sg_hs_hash hs_suite_hash(const struct sg_suite *su)
{
	return su->prf == SG_PRF_SHA384 ? SG_HS_SHA384 : SG_HS_SHA256;
}

static inline bool hs_suite_ecdhe(const struct sg_suite *su)
{
	return su->kx == SG_KX_ECDHE_PSK;
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

/* ---- hs_hello.c ------------------------------------------------------------------- */

/*
 * A ClientHello (mh, body) in record rh: version checks, the cookie exchange
 * (stateless), a repeated hello (our flight again), or a new handshake.
 */
void sg_hs_on_client_hello(struct sg_hs_engine *e, struct hs_rx *x, const struct sg_rec_hdr *rh,
                           const struct sg_hs_msg_hdr *mh, const uint8_t *body);

/* ---- hs_flights.c ----------------------------------------------------------------- */

/* The ServerHello of slot s (resumed: an abbreviated handshake's). */
void sg_hs_server_hello_of(const struct hs_slot *s, bool resumed, struct sg_hs_server_hello *sh);

/*
 * Flight 4 of a full handshake: ServerHello, ServerKeyExchange (ECDHE-PSK,
 * or PSK with a configured hint, RFC 4279 §2), ServerHelloDone. The same
 * bytes each time; the transcript takes them on the first send only.
 */
int sg_hs_flight_full(struct sg_hs_engine *e, struct hs_slot *s, bool first);

/* Abbreviated handshake flight: ServerHello, ChangeCipherSpec, Finished (epoch 1). */
int sg_hs_flight_resumed(struct sg_hs_engine *e, struct hs_slot *s);

/*
 * Our last flight again (RFC 6347 §4.2.4). Returns true if any of it went
 * out (the amplification limit may hold it back), which uses the
 * retransmission period's one resend (SF_RESENT).
 */
bool sg_hs_retransmit(struct sg_hs_engine *e, struct hs_slot *s);

/*
 * Build the final flight of slot s (its client's Finished verified): into
 * nst the NewSessionTicket when one was promised, sealed under the ticket
 * key (empty when policy or sealing says no; nst stays empty when none was
 * promised), into fin our Finished (RFC 5246 §7.4.9); both go into the
 * transcript. nst holds MSG_MAX bytes. 0 or -errno.
 */
int sg_hs_final_build(struct sg_hs_engine *e, struct hs_slot *s, uint64_t now_unix,
                      struct sg_hs_wbuf *nst, struct sg_hs_wbuf *fin);

/* Put the final flight into t: [NewSessionTicket] ChangeCipherSpec Finished (epoch 1). */
void sg_hs_final_send(struct hs_tx *t, const struct sg_hs_wbuf *nst, const struct sg_hs_wbuf *fin);

/* ---- hs_keys.c -------------------------------------------------------------------- */

/* Key block (RFC 5246 §6.3) → the slot's epoch-1 SA. */
int sg_hs_derive_keys(struct sg_hs_engine *e, struct hs_slot *s);

/* verify_data = PRF(master_secret, label, Hash(handshake_messages))[0..11] (RFC 5246 §7.4.9). */
int sg_hs_finished_of(struct sg_hs_engine *e, struct hs_slot *s, const char *label,
                      uint8_t out[SG_TLS_VERIFY_DATA_LEN]);

/* A ClientKeyExchange (body, len) for slot s in state HS_WAIT_CKE. */
void sg_hs_on_client_kx(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                        const uint8_t *body, size_t len);

/*
 * An epoch-1 record (raw: header and fragment) for slot s: the client's
 * Finished, or its alert. kx_here: it came in the datagram whose
 * ClientKeyExchange derived the keys.
 */
void sg_hs_on_epoch1(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s, const uint8_t *raw,
                     size_t rec_len, bool kx_here);

/* What a failed Finished is counted as (the same alert for all, no oracle). */
enum sg_hs_counter sg_hs_finished_failure(const struct hs_slot *s);

#endif /* STORMGATE_CONTROL_HS_ENGINE_PRIV_H */
