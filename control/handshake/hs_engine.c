/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DTLS 1.2 handshake server engine: the state machine, the slot pool with
 * its peer index and timer heap, flights and their retransmission, and the
 * linger table of finished flights. See include/stormgate/handshake.h for
 * the contract and docs/handshake.md for the design.
 *
 * Flow of a full handshake (RFC 6347 §4.2.4, figure 1; RFC 4279 §2):
 *
 *   ClientHello            ->                           (stateless cookie check)
 *                          <- HelloVerifyRequest        (only when cookies apply)
 *   ClientHello + cookie   ->                           (slot taken here)
 *                          <- ServerHello [ServerKeyExchange] ServerHelloDone
 *   ClientKeyExchange ChangeCipherSpec Finished ->      (PSK lookup, keys, verify)
 *                          <- [NewSessionTicket] ChangeCipherSpec Finished
 *                                                       (installed; slot freed;
 *                                                        flight kept in linger)
 * and of an abbreviated one (RFC 5077 §3.1):
 *
 *   ClientHello + ticket   ->
 *                          <- ServerHello ChangeCipherSpec Finished
 *   ChangeCipherSpec Finished ->                        (installed; slot freed)
 *
 * Everything runs on the engine's one thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/handshake.h>
#include <stormgate/record.h>
#include <stormgate/suite.h>

#include "hs_codec.h"
#include "hs_cookie.h"
#include "hs_crypto.h"
#include "hs_ticket.h"

/* ---- limits and defaults ----------------------------------------------------------- */

#define MTU_MIN           128
#define MTU_MAX           16384
#define RECS_PER_DGRAM    32
#define HS_SA_WINDOW      SG_REPLAY_WINDOW_MIN /* handshake-time SA: Finished only */
#define REASM_CAP         256                  /* ClientKeyExchange: 2+128 identity, 1+65 point */
#define PENDING_MAX       96                   /* one early epoch-1 record (client Finished) */
#define LINGER_FLIGHT_MAX 512                  /* NewSessionTicket + ChangeCipherSpec + Finished */
#define LINGER_DGRAMS     4
#define MSG_MAX           (SG_DTLS_HS_HDR_LEN + 6 + SG_HS_TICKET_MAX)
#define SCRATCH_LEN       (MTU_MAX + 512) /* cookie MAC input, sealing, opening */
#define NONE              UINT32_MAX

/* Flight 4: a ServerHello (within MSG_MAX), a ServerKeyExchange with the
 * longest identity hint and a P-256 point (RFC 4279 §2, RFC 5489 §2), the
 * ServerHelloDone. */
#define FLIGHT4_MAX                                                                                \
	(MSG_MAX + SG_DTLS_HS_HDR_LEN + 2 + SG_HS_HINT_MAX + 4 + SG_HS_ECDH_PUB_MAX +              \
	 SG_DTLS_HS_HDR_LEN)

/*
 * Until an address has proven it receives what we send it (a valid cookie,
 * or a record under the new keys, which only the holder of our flight can
 * make), we send it at most AMP_FACTOR times the bytes it sent us, so a
 * spoofed source cannot turn us into an amplifier (RFC 9147 §5.1; the factor
 * is QUIC's, RFC 9000 §8). Stateless replies obey it per datagram answered.
 */
#define AMP_FACTOR 3

_Static_assert(REASM_CAP <= SG_HS_REASM_MAX, "reassembly buffer within the codec's bitmap");
/* The cookie MAC input is the 4-tuple and the ClientHello (hs_cookie.c); an
 * epoch-1 record is opened in place: each fits for any accepted datagram. */
_Static_assert(SCRATCH_LEN >= sizeof(struct sg_hs_peer) + SG_HS_DGRAM_MAX,
               "the scratch holds the cookie MAC input of the largest datagram");
_Static_assert(HS_SA_WINDOW <= 128, "a handshake SA's window fits in struct sg_rec_sa");
/* The stateless replies fit the limit for the smallest datagram that earns them: a
 * HelloVerifyRequest answers a ClientHello that parsed (version, random, two empty
 * vectors at least), an alert any handshake record (RFC 6347 §4.2.1). */
_Static_assert(SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN + 3 + SG_HS_COOKIE_LEN <=
                       AMP_FACTOR * (SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN + 2 + 32 + 1 + 1),
               "a HelloVerifyRequest within the amplification limit");
_Static_assert(SG_DTLS_HDR_LEN + 2 <= AMP_FACTOR * (SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN),
               "a stateless alert within the amplification limit");

/* ---- suites ------------------------------------------------------------------------ */

/* The suites and their default order: the registry (suite.h), its ranked rows. */
_Static_assert(SG_SUITES_RANKED <= SG_HS_SUITES_MAX, "every suite fits a preference list");

static enum sg_hs_hash suite_hash(const struct sg_suite *su)
{
	return su->prf == SG_PRF_SHA384 ? SG_HS_SHA384 : SG_HS_SHA256;
}

static bool suite_ecdhe(const struct sg_suite *su)
{
	return su->kx == SG_KX_ECDHE_PSK;
}

/* The suite of IANA value id if the engine negotiates it (ranked), else NULL. */
static const struct sg_suite *suite_negotiable(uint16_t id)
{
	const struct sg_suite *su = sg_suite_find(id);

	return su != NULL && su->rank != 0 ? su : NULL;
}

/* ---- state ---------------------------------------------------------------------------- */

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
	uint32_t rto;        /* current retransmission timeout */
	uint16_t flags;      /* SF_* */
	uint8_t state;       /* enum hs_state */
	uint8_t suite;       /* index into sg_suites */
	uint8_t group;       /* ECDHE: enum sg_hs_group + 1; 0: none */
	uint16_t ch_seq;     /* ClientHello message_seq: ServerHello reuses it (RFC 6347 §4.2.2) */
	uint16_t rx_seq;     /* next message_seq expected from the client */
	uint64_t ep0_seq;    /* next epoch-0 record sequence number */
	uint16_t rsl;        /* our record_size_limit echoed, 0: none */
	uint16_t max_pt;     /* largest plaintext the client accepts */
	uint8_t mfl;         /* echoed max_fragment_length code, 0: none */
	uint8_t cid_len;
	uint8_t peer_cid_len;
	uint8_t session_id_len;
	uint8_t identity_len;
	uint8_t pending_len;
	uint16_t sni_len;
	uint32_t cred_ref;
	uint32_t backend;
	uint32_t lifetime;
	uint32_t bytes_in;  /* datagram bytes from the peer (amplification limit) */
	uint32_t bytes_out; /* datagram bytes sent to it */
	uint8_t client_random[SG_TLS_RANDOM_LEN];
	uint8_t server_random[SG_TLS_RANDOM_LEN];
	uint8_t session_id[SG_TLS_SESSION_ID_MAX];
	/* Full handshake with a ticket promised: the digest of the PSK it will name. */
	uint8_t psk_digest[SG_HS_TICKET_PSK_DIGEST_LEN];
	uint8_t master[SG_TLS_MASTER_SECRET_LEN];
	uint8_t server_verify[SG_TLS_VERIFY_DATA_LEN]; /* abbreviated: our Finished */
	uint8_t cid[SG_HS_CID_MAX];
	uint8_t peer_cid[SG_HS_PEER_CID_MAX];
	uint8_t sni[SG_HS_SNI_MAX];
	uint8_t pending[PENDING_MAX];
	struct sg_hs_transcript transcript;
	struct sg_hs_ecdh_key eph;
	struct sg_hs_reasm reasm;
	/* A fragmented ClientKeyExchange is reassembled before the identity is
	 * known, and the identity is kept only after: they share the bytes. */
	union {
		uint8_t reasm_buf[REASM_CAP];
		uint8_t identity[SG_TLS_PSK_IDENTITY_MAX];
	} u;
} __attribute__((aligned(SG_CACHE_LINE)));

/*
 * A finished flight kept to answer a retransmitted client Finished (RFC 6347
 * §4.2.4), with the client's write key and replay window so that only a
 * fresh Finished that authenticates earns it. Holds a secret: wiped when it
 * expires, is overwritten or gives up (linger_kill).
 */
struct hs_linger {
	struct sg_rec_sa sa; /* client_write key, IV, window (HS_SA_WINDOW); tx half zero */
	struct sg_hs_peer peer;
	uint32_t hnext;
	uint32_t bucket;
	uint8_t live;
	uint8_t n_dgrams;
	uint16_t dgram_len[LINGER_DGRAMS];
	uint64_t expires;
	uint64_t next_resend; /* monotonic ms before which a Finished earns nothing */
	uint8_t flight[LINGER_FLIGHT_MAX];
};

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
	uint32_t mkey_slot; /* slot it belongs to, NONE: empty */

	struct sg_rec_sa *result_sa;
	size_t result_sa_size;
	uint64_t counters[SG_HS_C_MAX];

	uint8_t *tx; /* datagram being built (mtu bytes) */
	size_t tx_len;
	uint8_t *scratch; /* cookie MAC input, sealing, opening: SCRATCH_LEN */
	size_t scratch_len;
};

/* ---- small helpers ------------------------------------------------------------------- */

static void count(struct sg_hs_engine *e, enum sg_hs_counter c)
{
	e->counters[c]++;
}

/* Saturating: no number of datagrams wraps the amplification totals. */
static uint32_t add_sat32(uint32_t a, size_t b)
{
	return b >= UINT32_MAX - a ? UINT32_MAX : a + (uint32_t)b;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put48(uint8_t *p, uint64_t v)
{
	for (int i = 5; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t peer_hash(uint64_t seed, const struct sg_hs_peer *p)
{
	const uint8_t *b = (const uint8_t *)p;
	uint64_t h = seed;

	/* A keyed mix (seed from the DRBG) so chains cannot be aimed at. */
	for (size_t i = 0; i < sizeof(*p); i += 4) {
		uint32_t w;

		memcpy(&w, b + i, 4);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static bool peer_eq(const struct sg_hs_peer *a, const struct sg_hs_peer *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

_Static_assert(sizeof(struct sg_hs_peer) == 36, "sg_hs_peer has no padding");

/* ---- timer heap (min-heap on slot deadline) ------------------------------------------- */

static bool heap_less(const struct sg_hs_engine *e, uint32_t a, uint32_t b)
{
	return e->slots[e->heap[a]].deadline < e->slots[e->heap[b]].deadline;
}

static void heap_swap(struct sg_hs_engine *e, uint32_t a, uint32_t b)
{
	uint32_t t = e->heap[a];

	e->heap[a] = e->heap[b];
	e->heap[b] = t;
	e->slots[e->heap[a]].heap_pos = a;
	e->slots[e->heap[b]].heap_pos = b;
}

static void heap_up(struct sg_hs_engine *e, uint32_t i)
{
	while (i > 0 && heap_less(e, i, (i - 1) / 2)) {
		heap_swap(e, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct sg_hs_engine *e, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < e->heap_len && heap_less(e, l, m))
			m = l;
		if (r < e->heap_len && heap_less(e, r, m))
			m = r;
		if (m == i)
			return;
		heap_swap(e, i, m);
		i = m;
	}
}

static void heap_push(struct sg_hs_engine *e, uint32_t idx)
{
	e->heap[e->heap_len] = idx;
	e->slots[idx].heap_pos = e->heap_len;
	heap_up(e, e->heap_len++);
}

static void heap_remove(struct sg_hs_engine *e, uint32_t idx)
{
	uint32_t i = e->slots[idx].heap_pos;

	if (i == NONE)
		return;
	e->heap_len--;
	if (i != e->heap_len) {
		heap_swap(e, i, e->heap_len);
		heap_down(e, i);
		heap_up(e, i);
	}
	e->slots[idx].heap_pos = NONE;
}

static void set_deadline(struct sg_hs_engine *e, uint32_t idx, uint64_t when)
{
	struct hs_slot *s = &e->slots[idx];

	if (when > s->expires)
		when = s->expires;
	s->deadline = when;
	if (s->heap_pos == NONE) {
		heap_push(e, idx);
	} else {
		heap_down(e, s->heap_pos);
		heap_up(e, s->heap_pos);
	}
}

/* ---- slot pool and peer index ---------------------------------------------------------- */

static uint32_t slot_idx(const struct sg_hs_engine *e, const struct hs_slot *s)
{
	return (uint32_t)(s - e->slots);
}

/* The peer of the datagram being handled is hashed once (sg_hs_input()). */
static uint32_t lbucket_of(const struct sg_hs_engine *e, uint32_t hash)
{
	return (hash ^ hash >> 16) & e->lbucket_mask;
}

static struct hs_slot *slot_find(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                 uint32_t hash)
{
	uint32_t i = e->buckets[hash & e->bucket_mask];

	for (; i != NONE; i = e->slots[i].hnext)
		if (peer_eq(&e->slots[i].peer, peer))
			return &e->slots[i];
	return NULL;
}

static struct hs_slot *slot_alloc(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                  uint32_t hash, uint64_t now_ms)
{
	uint32_t idx = e->free_head;
	struct hs_slot *s;

	if (idx == NONE)
		return NULL;
	s = &e->slots[idx];
	e->free_head = s->hnext;
	s->peer = *peer;
	s->bucket = hash & e->bucket_mask;
	s->hnext = e->buckets[s->bucket];
	e->buckets[s->bucket] = idx;
	s->heap_pos = NONE;
	s->expires = now_ms + e->conf.handshake_timeout_ms;
	s->rto = e->conf.rto_initial_ms;
	e->in_flight++;
	count(e, SG_HS_C_STARTED);
	return s;
}

/* Wipe the secrets of a slot and return it to the pool. */
static void slot_free(struct sg_hs_engine *e, struct hs_slot *s)
{
	uint32_t idx = slot_idx(e, s), *pp = &e->buckets[s->bucket];

	while (*pp != idx)
		pp = &e->slots[*pp].hnext;
	*pp = s->hnext;
	heap_remove(e, idx);
	if ((s->flags & SF_CID_HELD) && e->conf.ops.cid_release)
		e->conf.ops.cid_release(e->conf.ops.ctx, s->cid);
	sg_hs_ecdh_clear(&s->eph);
	if (e->mkey_slot == idx) {
		sg_wipe(&e->mkey, sizeof(e->mkey));
		e->mkey_slot = NONE;
	}
	if (e->cur == s)
		e->cur = NULL;
	sg_wipe(s, sizeof(*s));
	sg_hs_reasm_init(&s->reasm, s->u.reasm_buf, REASM_CAP);
	s->heap_pos = NONE;
	s->hnext = e->free_head;
	e->free_head = idx;
	e->in_flight--;
}

/* ---- linger table ------------------------------------------------------------------------ */

static struct hs_linger *linger_find(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                     uint32_t hash)
{
	uint32_t i;

	if (e->n_linger == 0)
		return NULL;
	for (i = e->lbuckets[lbucket_of(e, hash)]; i != NONE; i = e->linger[i].hnext)
		if (e->linger[i].live && peer_eq(&e->linger[i].peer, peer))
			return &e->linger[i];
	return NULL;
}

/*
 * An entry that will answer nothing more: its key is wiped now (the sealed
 * flight is ciphertext and stays until the ring reuses the entry).
 */
static void linger_kill(struct hs_linger *l)
{
	l->live = 0;
	l->n_dgrams = 0;
	sg_rec_sa_wipe(&l->sa, HS_SA_WINDOW);
}

static void linger_drop_oldest(struct sg_hs_engine *e)
{
	uint32_t idx = e->linger_oldest;
	struct hs_linger *l = &e->linger[idx];
	uint32_t *pp = &e->lbuckets[l->bucket];

	while (*pp != idx)
		pp = &e->linger[*pp].hnext;
	*pp = l->hnext;
	linger_kill(l);
	e->linger_oldest = (e->linger_oldest + 1) % e->n_linger;
	e->linger_count--;
}

/*
 * A new entry for peer (the oldest is overwritten when the ring is full).
 * It goes to the head of its chain, so it shadows an older entry of the
 * same peer, which expires first anyway (the ring is in time order).
 */
static struct hs_linger *linger_new(struct sg_hs_engine *e, const struct sg_hs_peer *peer,
                                    uint32_t hash, uint64_t expires)
{
	struct hs_linger *l;
	uint32_t idx;

	if (e->n_linger == 0)
		return NULL;
	if (e->linger_count == e->n_linger)
		linger_drop_oldest(e);
	idx = (e->linger_oldest + e->linger_count) % e->n_linger;
	l = &e->linger[idx];
	l->peer = *peer;
	l->live = 1;
	l->n_dgrams = 0;
	l->expires = expires;
	l->next_resend = 0;
	l->bucket = lbucket_of(e, hash);
	l->hnext = e->lbuckets[l->bucket];
	e->lbuckets[l->bucket] = idx;
	e->linger_count++;
	return l;
}

/*
 * The lines linger_new() will touch, fetched while the key schedule and the
 * Finished checks run: under a storm the ring is cold and full.
 */
static void linger_prefetch(const struct sg_hs_engine *e, uint32_t hash)
{
	if (e->n_linger == 0)
		return;
	__builtin_prefetch(&e->linger[e->linger_oldest], 1);
	__builtin_prefetch(&e->linger[(e->linger_oldest + e->linger_count) % e->n_linger], 1);
	__builtin_prefetch(&e->lbuckets[lbucket_of(e, hash)], 1);
}

static size_t linger_used(const struct hs_linger *l)
{
	size_t n = 0;

	for (unsigned i = 0; i < l->n_dgrams; i++)
		n += l->dgram_len[i];
	return n;
}

/* ---- output: records into datagrams ------------------------------------------------------- */

struct hs_tx {
	struct sg_hs_engine *e;
	const struct sg_hs_peer *peer;
	struct hs_slot *s;    /* NULL: a stateless reply */
	uint64_t *ep0_seq;    /* epoch-0 record sequence numbers */
	uint16_t version;     /* record version (0xfeff for HelloVerifyRequest) */
	size_t max_frag;      /* handshake fragment bytes per record */
	struct hs_linger *ln; /* also keep the datagrams here */
	size_t answers;       /* stateless reply: bytes of the datagram it answers */
	int err;
};

/*
 * May a datagram of len bytes go to t's peer (AMP_FACTOR)? A slot whose
 * address is not proven keeps the running totals; a stateless reply is
 * held to the datagram it answers.
 */
static bool tx_allowed(const struct hs_tx *t, size_t len)
{
	const struct hs_slot *s = t->s;

	if (s == NULL)
		return len <= AMP_FACTOR * t->answers;
	return (s->flags & SF_PROVEN) || s->bytes_out + len <= (uint64_t)AMP_FACTOR * s->bytes_in;
}

static void tx_flush(struct hs_tx *t)
{
	struct sg_hs_engine *e = t->e;

	if (e->tx_len == 0)
		return;
	if (!tx_allowed(t, e->tx_len)) {
		count(e, SG_HS_C_AMPLIFICATION_HELD);
		e->tx_len = 0;
		return;
	}
	if (t->ln) {
		if (t->ln->n_dgrams < LINGER_DGRAMS &&
		    linger_used(t->ln) + e->tx_len <= LINGER_FLIGHT_MAX) {
			memcpy(t->ln->flight + linger_used(t->ln), e->tx, e->tx_len);
			t->ln->dgram_len[t->ln->n_dgrams++] = (uint16_t)e->tx_len;
		} else {
			linger_kill(t->ln); /* cannot keep it whole: keep none */
			t->ln = NULL;
		}
	}
	if (t->s)
		t->s->bytes_out = add_sat32(t->s->bytes_out, e->tx_len);
	if (e->conf.ops.send(e->conf.ops.ctx, t->peer, e->tx, e->tx_len) < 0)
		count(e, SG_HS_C_SEND_FAILED);
	e->tx_len = 0;
}

/* Make room for need bytes in the current datagram. */
static void tx_room(struct hs_tx *t, size_t need)
{
	if (t->e->tx_len + need > t->e->conf.mtu)
		tx_flush(t);
}

static void tx_record_hdr(uint8_t *p, uint8_t type, uint16_t version, uint16_t epoch, uint64_t seq,
                          size_t len)
{
	p[0] = type;
	put16(p + 1, version);
	put16(p + 3, epoch);
	put48(p + 5, seq);
	put16(p + 11, (uint16_t)len);
}

/* One epoch-0 record holding parts a (and b) as its fragment. */
static void tx_plain(struct hs_tx *t, uint8_t type, const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen)
{
	struct sg_hs_engine *e = t->e;
	uint8_t *p;

	tx_room(t, SG_DTLS_HDR_LEN + alen + blen);
	p = e->tx + e->tx_len;
	tx_record_hdr(p, type, t->version, 0, (*t->ep0_seq)++, alen + blen);
	memcpy(p + SG_DTLS_HDR_LEN, a, alen);
	if (blen)
		memcpy(p + SG_DTLS_HDR_LEN + alen, b, blen);
	e->tx_len += SG_DTLS_HDR_LEN + alen + blen;
}

/* One epoch-1 record sealed with the slot's SA (RFC 5246 §6.2.3.3, RFC 9146 §5). */
static void tx_sealed(struct hs_tx *t, uint8_t type, const uint8_t *a, size_t alen,
                      const uint8_t *b, size_t blen)
{
	struct sg_hs_engine *e = t->e;
	struct hs_slot *s = t->s;
	bool cid = s->sa.flags & SG_SA_F_TX_CID;
	unsigned head = sg_rec_seal_headroom((enum sg_aead)s->sa.aead, cid, s->peer_cid_len);
	unsigned tail = sg_rec_seal_tailroom((enum sg_aead)s->sa.aead, cid, 0);
	struct sg_rec_seal_op op = {
		.buf = e->scratch,
		.buf_len = (uint32_t)(head + alen + blen + tail),
		.pt_off = head,
		.pt_len = (uint32_t)(alen + blen),
		.sa = &s->sa,
		.cid = s->peer_cid,
		.cid_len = s->peer_cid_len,
		.type = type,
	};

	memcpy(e->scratch + head, a, alen);
	if (blen)
		memcpy(e->scratch + head + alen, b, blen);
	if (sg_rec_seal_burst(e->rec, &op, 1) != 1) {
		t->err = -EIO;
		return;
	}
	tx_room(t, op.rec_len);
	memcpy(e->tx + e->tx_len, e->scratch + op.rec_off, op.rec_len);
	e->tx_len += op.rec_len;
}

/* Largest handshake fragment that fits one record in one datagram. */
static size_t frag_room(const struct hs_tx *t, int epoch)
{
	size_t over = SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN, room;

	if (epoch && t->s)
		over += t->s->peer_cid_len + 1 + SG_DTLS_AEAD_EXPLICIT_LEN + SG_DTLS_AEAD_TAG_LEN;
	room = t->e->conf.mtu - over;
	return room < t->max_frag ? room : t->max_frag;
}

/*
 * Send a handshake message (msg: 12-byte header + body, as the writers make
 * it) in as many fragments as the MTU and the client's limits require
 * (RFC 6347 §4.2.3).
 */
static void tx_handshake(struct hs_tx *t, const uint8_t *msg, size_t msg_len, int epoch)
{
	struct sg_hs_msg_hdr h;
	size_t body = msg_len - SG_DTLS_HS_HDR_LEN, off = 0;
	uint8_t hdr[SG_DTLS_HS_HDR_LEN];

	sg_hs_msg_hdr_parse(msg, msg_len, &h);
	do {
		size_t n = body - off, room = frag_room(t, epoch);

		if (n > room)
			n = room;
		h.frag_off = (uint32_t)off;
		h.frag_len = (uint32_t)n;
		sg_hs_frag_hdr_write(hdr, &h);
		if (epoch)
			tx_sealed(t, SG_DTLS_CT_HANDSHAKE, hdr, sizeof(hdr),
			          msg + SG_DTLS_HS_HDR_LEN + off, n);
		else
			tx_plain(t, SG_DTLS_CT_HANDSHAKE, hdr, sizeof(hdr),
			         msg + SG_DTLS_HS_HDR_LEN + off, n);
		off += n;
	} while (off < body);
}

static void tx_ccs(struct hs_tx *t)
{
	static const uint8_t ccs = SG_TLS_CCS_VALUE;

	tx_plain(t, SG_DTLS_CT_CHANGE_CIPHER_SPEC, &ccs, 1, NULL, 0);
}

static struct hs_tx tx_for_slot(struct sg_hs_engine *e, struct hs_slot *s)
{
	struct hs_tx t = {
		.e = e,
		.peer = &s->peer,
		.s = s,
		.ep0_seq = &s->ep0_seq,
		.version = SG_DTLS_VERSION_1_2,
		.max_frag = s->mfl ? (1u << (8 + s->mfl)) : SG_DTLS_MAX_PLAINTEXT,
	};

	e->tx_len = 0;
	return t;
}

/* ---- alerts and failure ------------------------------------------------------------------ */

/*
 * Fatal alert to a peer we hold no state for, in the record sequence of its
 * hello; answers: the length of the datagram it answers (AMP_FACTOR).
 */
static void alert_stateless(struct sg_hs_engine *e, const struct sg_hs_peer *peer, size_t answers,
                            uint64_t seq, uint16_t version, uint8_t desc)
{
	uint8_t a[2] = { SG_TLS_ALERT_FATAL, desc };
	struct hs_tx t = {
		.e = e, .peer = peer, .ep0_seq = &seq, .version = version, .answers = answers
	};

	e->tx_len = 0;
	tx_plain(&t, SG_DTLS_CT_ALERT, a, 2, NULL, 0);
	tx_flush(&t);
}

/*
 * Fail a handshake: count why, send the fatal alert (in epoch 1 once we have
 * sent our ChangeCipherSpec, RFC 5246 §7.2), free the slot.
 */
static void fail(struct sg_hs_engine *e, struct hs_slot *s, enum sg_hs_counter why, uint8_t desc)
{
	uint8_t a[2] = { SG_TLS_ALERT_FATAL, desc };
	struct hs_tx t = tx_for_slot(e, s);

	count(e, why);
	if (s->state == HS_WAIT_RESUMED)
		tx_sealed(&t, SG_DTLS_CT_ALERT, a, 2, NULL, 0);
	else
		tx_plain(&t, SG_DTLS_CT_ALERT, a, 2, NULL, 0);
	tx_flush(&t);
	slot_free(e, s);
}

/* ---- flights ------------------------------------------------------------------------------ */

static const struct sg_suite *slot_suite(const struct hs_slot *s)
{
	return &sg_suites[s->suite];
}

static void server_hello_of(const struct hs_slot *s, bool resumed, struct sg_hs_server_hello *sh)
{
	memset(sh, 0, sizeof(*sh));
	sh->version = SG_DTLS_VERSION_1_2;
	sh->random = s->server_random;
	sh->session_id = s->session_id;
	sh->session_id_len = s->session_id_len;
	sh->suite = slot_suite(s)->id;
	if (s->flags & SF_SECURE_RENEG)
		sh->flags |= SG_HS_CH_F_RENEG_INFO;
	if (s->flags & SF_EMS)
		sh->flags |= SG_HS_CH_F_EMS;
	if (s->flags & SF_POINTS)
		sh->flags |= SG_HS_CH_F_POINT_FORMATS;
	if (s->flags & SF_TICKET)
		sh->flags |= SG_HS_CH_F_TICKET;
	if (s->flags & SF_CID) {
		sh->flags |= SG_HS_CH_F_CID;
		sh->cid = s->cid;
		sh->cid_len = s->cid_len;
	}
	/* RFC 6066 §3: an empty server_name in a full handshake only. */
	if ((s->flags & SF_SNI) && !resumed)
		sh->flags |= SG_HS_CH_F_SNI;
	if (s->mfl) {
		sh->flags |= SG_HS_CH_F_MFL;
		sh->mfl = s->mfl;
	}
	if (s->rsl) {
		sh->flags |= SG_HS_CH_F_RSL;
		sh->rsl = s->rsl;
	}
	if (s->flags & SF_RRC)
		sh->flags |= SG_HS_CH_F_RRC;
}

/*
 * Flight 4 of a full handshake: ServerHello, ServerKeyExchange (ECDHE-PSK,
 * or PSK with a configured hint, RFC 4279 §2), ServerHelloDone. The same
 * bytes each time; the transcript takes them on the first send only.
 */
static int send_flight_full(struct sg_hs_engine *e, struct hs_slot *s, bool first)
{
	uint8_t buf[FLIGHT4_MAX];
	struct sg_hs_wbuf w = { .p = buf, .cap = sizeof(buf) };
	struct sg_hs_server_hello sh;
	struct hs_tx t = tx_for_slot(e, s);
	uint16_t seq = s->ch_seq;
	int rc;

	server_hello_of(s, false, &sh);
	rc = sg_hs_write_server_hello(&w, seq++, &sh);
	if (rc == 0 && (suite_ecdhe(slot_suite(s)) || e->conf.psk_hint_len)) {
		const bool ec = suite_ecdhe(slot_suite(s));
		uint16_t group = s->eph.group == SG_HS_GROUP_X25519 ? SG_TLS_GROUP_X25519
		                                                    : SG_TLS_GROUP_SECP256R1;

		rc = sg_hs_write_server_kx(&w, seq++, e->conf.psk_hint, e->conf.psk_hint_len, group,
		                           ec ? s->eph.pub : NULL, s->eph.pub_len);
	}
	if (rc == 0)
		rc = sg_hs_write_server_hello_done(&w, seq);
	if (rc < 0)
		return rc;
	if (first)
		sg_hs_transcript_add(&s->transcript, buf, w.len);
	/* Each message is sent as its own handshake record(s). */
	for (size_t off = 0; off < w.len;) {
		struct sg_hs_msg_hdr h;
		int n = sg_hs_msg_hdr_parse(buf + off, w.len - off, &h);

		tx_handshake(&t, buf + off, (size_t)n, 0);
		off += (size_t)n;
	}
	tx_flush(&t);
	return t.err;
}

/* Abbreviated handshake flight: ServerHello, ChangeCipherSpec, Finished (epoch 1). */
static int send_flight_resumed(struct sg_hs_engine *e, struct hs_slot *s)
{
	uint8_t sh_buf[MSG_MAX], fin[SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN];
	struct sg_hs_wbuf w = { .p = sh_buf, .cap = sizeof(sh_buf) };
	struct sg_hs_wbuf wf = { .p = fin, .cap = sizeof(fin) };
	struct sg_hs_server_hello sh;
	struct hs_tx t = tx_for_slot(e, s);
	int rc;

	server_hello_of(s, true, &sh);
	rc = sg_hs_write_server_hello(&w, s->ch_seq, &sh);
	if (rc == 0)
		rc = sg_hs_write_finished(&wf, (uint16_t)(s->ch_seq + 1), s->server_verify);
	if (rc < 0)
		return rc;
	tx_handshake(&t, sh_buf, w.len, 0);
	tx_ccs(&t);
	tx_handshake(&t, fin, wf.len, 1);
	tx_flush(&t);
	return t.err;
}

/*
 * Our last flight again (RFC 6347 §4.2.4). Returns true if any of it went
 * out (the amplification limit may hold it back), which uses the
 * retransmission period's one resend (SF_RESENT).
 */
static bool retransmit(struct sg_hs_engine *e, struct hs_slot *s)
{
	uint32_t before = s->bytes_out;

	switch (s->state) {
	case HS_WAIT_CKE:
	case HS_WAIT_FINISHED:
		send_flight_full(e, s, false);
		break;
	case HS_WAIT_RESUMED:
		send_flight_resumed(e, s);
		break;
	default:
		break;
	}
	if (s->bytes_out == before)
		return false;
	s->flags |= SF_RESENT;
	return true;
}

/* ---- key schedule ------------------------------------------------------------------------ */

/* The slot's master secret as a prepared HMAC key (cached for the slot). */
static const struct sg_hs_hmac_key *master_key(struct sg_hs_engine *e, struct hs_slot *s)
{
	uint32_t idx = slot_idx(e, s);

	if (e->mkey_slot != idx) {
		if (sg_hs_hmac_key_set(&e->crypto, suite_hash(slot_suite(s)), s->master,
		                       sizeof(s->master), &e->mkey) < 0)
			return NULL;
		e->mkey_slot = idx;
	}
	return &e->mkey;
}

/*
 * Key block (RFC 5246 §6.3) → the slot's epoch-1 SA. AEAD suites have no
 * MAC keys: client_write_key, server_write_key, client_write_IV,
 * server_write_IV (4-byte salts for GCM/CCM, 12 bytes for ChaCha20-Poly1305,
 * RFC 7905 §2).
 */
static int derive_keys(struct sg_hs_engine *e, struct hs_slot *s)
{
	const struct sg_suite *su = slot_suite(s);
	enum sg_aead aead = (enum sg_aead)su->aead;
	unsigned kl = sg_aead_key_len(aead), il = sg_aead_iv_len(aead);
	uint8_t kb[2 * 32 + 2 * 12];
	struct sg_rec_sa_params p;
	int rc;

	const struct sg_hs_hmac_key *mk = master_key(e, s);

	if (mk == NULL)
		return -EIO;
	rc = sg_hs_prf(&e->crypto, suite_hash(su), mk, NULL, 0, SG_TLS_LABEL_KEY_EXPANSION,
	               s->server_random, SG_TLS_RANDOM_LEN, s->client_random, SG_TLS_RANDOM_LEN, kb,
	               2 * kl + 2 * il);
	if (rc < 0)
		goto out;
	p = (struct sg_rec_sa_params){
		.aead = aead,
		.epoch = 1,
		.flags = (uint8_t)(((s->flags & SF_CID) && s->cid_len ? SG_SA_F_RX_CID : 0) |
		                   ((s->flags & SF_CID) && s->peer_cid_len ? SG_SA_F_TX_CID : 0)),
		.rx_key = kb,
		.tx_key = kb + kl,
		.rx_iv = kb + 2 * kl,
		.tx_iv = kb + 2 * kl + il,
		.tx_seq = 0,
		.rx_seq = 0,
	};
	rc = sg_rec_sa_init(&s->sa, HS_SA_WINDOW, &p);
out:
	sg_wipe(kb, sizeof(kb));
	return rc;
}

/* verify_data = PRF(master_secret, label, Hash(handshake_messages))[0..11] (RFC 5246 §7.4.9). */
static int finished_of(struct sg_hs_engine *e, struct hs_slot *s, const char *label,
                       uint8_t out[SG_TLS_VERIFY_DATA_LEN])
{
	enum sg_hs_hash h = suite_hash(slot_suite(s));
	const struct sg_hs_hmac_key *mk = master_key(e, s);
	uint8_t hash[SG_HS_HASH_MAX_LEN];
	int rc = mk ? 0 : -EIO;

	sg_hs_transcript_peek(&s->transcript, hash);
	if (rc == 0)
		rc = sg_hs_prf(&e->crypto, h, mk, NULL, 0, label, hash, sg_hs_hash_len(h), NULL, 0,
		               out, SG_TLS_VERIFY_DATA_LEN);
	return rc;
}

/* ---- ClientHello --------------------------------------------------------------------------- */

/* What one received record is, for the handlers. */
struct rx_rec {
	const struct sg_rec_hdr *h;
	const uint8_t *frag; /* fragment (ciphertext for epoch 1) */
	const uint8_t *raw;  /* the whole record */
};

struct rx_ctx {
	struct sg_hs_time now;
	const struct sg_hs_peer *peer;
	size_t len;    /* datagram bytes */
	uint32_t hash; /* peer_hash() of peer */
	int handled;
	int drop;          /* first drop reason, -1: none */
	bool kx_here;      /* a ClientKeyExchange in this datagram derived the keys */
	bool pending_here; /* the early epoch-1 record was kept from this datagram */
};

static void rx_drop(struct rx_ctx *x, enum sg_hs_counter why)
{
	if (x->drop < 0)
		x->drop = (int)why;
}

static int pick_group(const struct sg_hs_client_hello *ch)
{
	/* RFC 8422 §5.1.1: without the extension any group may be used; take
	 * the one every ECC implementation has (secp256r1). */
	if (!(ch->flags & SG_HS_CH_F_GROUPS))
		return SG_HS_GROUP_P256;
	if (ch->groups & SG_HS_GROUP_BIT_X25519)
		return SG_HS_GROUP_X25519;
	if (ch->groups & SG_HS_GROUP_BIT_P256)
		return SG_HS_GROUP_P256;
	return -1;
}

/* Server preference order over what the client offers; -1 and why if none. */
static int pick_suite(const struct sg_hs_engine *e, const struct sg_hs_client_hello *ch,
                      enum sg_hs_counter *why)
{
	bool ec_offered = false;

	for (unsigned i = 0; i < e->n_prefs; i++) {
		const struct sg_suite *su = e->prefs[i];

		if (!sg_hs_client_hello_has_suite(ch, su->id))
			continue;
		if (suite_ecdhe(su) && pick_group(ch) < 0) {
			ec_offered = true;
			continue;
		}
		return (int)(su - sg_suites);
	}
	*why = ec_offered ? SG_HS_C_FAIL_NO_GROUP : SG_HS_C_FAIL_NO_SUITE;
	return -1;
}

static void sni_hash(struct sg_hs_crypto *c, const uint8_t *sni, size_t len, uint8_t out[16])
{
	uint8_t h[32];
	unsigned n;

	memset(out, 0, 16);
	if (len == 0)
		return;
	(void)c;
	if (EVP_Digest(sni, len, h, &n, EVP_sha256(), NULL) == 1)
		memcpy(out, h, 16);
}

/*
 * A ticket names an identity and the PSK it had when the ticket was issued;
 * ask the credential store again so a revoked or re-keyed device, or one
 * whose policy changed, cannot resume (it falls back to a full handshake,
 * where it fails the usual way). RFC 5077 §4 leaves what the state holds
 * and when it is still good to the server: a session made under a key the
 * store no longer has for the identity (credentials add --replace) must
 * not outlive that key. Fills the slot's credential fields; 0 or -1.
 */
static int ticket_policy(struct sg_hs_engine *e, struct hs_slot *s,
                         const struct sg_hs_client_hello *ch, const struct sg_hs_ticket_state *st)
{
	uint8_t digest[SG_HS_TICKET_PSK_DIGEST_LEN];
	struct sg_hs_cred cred;
	int rc;

	memset(&cred, 0, sizeof(cred));
	rc = e->conf.ops.psk_lookup(e->conf.ops.ctx, st->identity, st->identity_len,
	                            (ch->flags & SG_HS_CH_F_SNI) ? ch->sni : NULL,
	                            (ch->flags & SG_HS_CH_F_SNI) ? ch->sni_len : 0, &cred);
	if (rc == 0 && (cred.psk_len == 0 || cred.psk_len > SG_TLS_PSK_MAX))
		rc = -EIO;
	if (rc == 0)
		rc = sg_hs_ticket_psk_digest(&e->crypto, cred.psk, cred.psk_len, digest);
	if (rc == 0 && sg_ct_memcmp(digest, st->psk_digest, sizeof(digest)) != 0)
		rc = -EKEYREJECTED;
	if (rc == 0 &&
	    ((cred.flags & SG_HS_CRED_F_NO_TICKET) ||
	     ((cred.flags & SG_HS_CRED_F_REQUIRE_EMS) && !st->ems) ||
	     ((cred.flags & SG_HS_CRED_F_REQUIRE_ECDHE) && !suite_ecdhe(sg_suite_find(st->suite)))))
		rc = -EACCES;
	if (rc == 0) {
		s->cred_ref = cred.cred_ref;
		s->backend = cred.backend;
		s->lifetime = cred.lifetime_s ? cred.lifetime_s : e->conf.session_lifetime_s;
	}
	sg_wipe(&cred, sizeof(cred));
	sg_wipe(digest, sizeof(digest));
	return rc == 0 ? 0 : -1;
}

/*
 * Try the client's ticket (RFC 5077 §3.1). Returns 1 when the handshake is
 * resumed (master secret in the slot), 0 for a full handshake, or a
 * negative counter id to fail with (RFC 7627 §5.3).
 */
static int try_ticket(struct sg_hs_engine *e, struct hs_slot *s,
                      const struct sg_hs_client_hello *ch, uint64_t now_unix)
{
	struct sg_hs_ticket_state st;
	uint8_t sh[16];
	const struct sg_suite *su;
	int rc;

	rc = sg_hs_ticket_open(&e->crypto, e->rec, &e->tickets, ch->ticket, ch->ticket_len,
	                       now_unix, &st);
	if (rc < 0) {
		count(e, SG_HS_C_TICKET_REJECTED);
		return 0;
	}
	su = suite_negotiable(st.suite);
	sni_hash(&e->crypto, ch->sni, (ch->flags & SG_HS_CH_F_SNI) ? ch->sni_len : 0, sh);
	rc = 0;
	/* RFC 7627 §5.3: an EMS session resumed without EMS must be aborted. */
	if (st.ems && !(ch->flags & SG_HS_CH_F_EMS)) {
		rc = -(int)SG_HS_C_FAIL_EMS_REQUIRED;
	} else if (su == NULL || !sg_hs_client_hello_has_suite(ch, su->id) ||
	           (!st.ems && (ch->flags & SG_HS_CH_F_EMS)) ||
	           memcmp(sh, st.sni_hash, sizeof(sh)) != 0) {
		/* RFC 7627 §5.3 (non-EMS session, EMS hello), RFC 5246 §7.4.1.3
		 * (same suite), RFC 6066 §3 (same name): a full handshake instead. */
		count(e, SG_HS_C_TICKET_REJECTED);
	} else if (ticket_policy(e, s, ch, &st) == 0) {
		s->suite = (uint8_t)(su - sg_suites);
		memcpy(s->master, st.master, sizeof(s->master));
		s->identity_len = st.identity_len;
		memcpy(s->u.identity, st.identity, st.identity_len);
		if (st.ems)
			s->flags |= SF_EMS;
		rc = 1;
	} else {
		count(e, SG_HS_C_TICKET_REJECTED);
	}
	sg_wipe(&st, sizeof(st));
	return rc;
}

/*
 * A new handshake from a ClientHello that passed the cookie check (or needed
 * none); proven: it carried a valid cookie, so its address receives what we
 * send (no amplification limit).
 */
static void start_handshake(struct sg_hs_engine *e, struct rx_ctx *x, const struct sg_rec_hdr *rh,
                            const struct sg_hs_msg_hdr *mh, const uint8_t *body,
                            const struct sg_hs_client_hello *ch, bool proven)
{
	struct hs_slot *s = e->cur;
	enum sg_hs_counter why = SG_HS_C_FAIL_NO_SUITE;
	bool resumed = false;
	int suite, rc;

	if (s) {
		/* A new hello from an address mid-handshake: the client restarted. */
		count(e, SG_HS_C_REPLACED);
		slot_free(e, s);
	}
	s = slot_alloc(e, x->peer, x->hash, x->now.mono_ms);
	e->cur = s;
	if (s == NULL) {
		rx_drop(x, SG_HS_C_DROP_POOL_FULL);
		return;
	}
	x->handled = 1;
	s->bytes_in = (uint32_t)x->len;
	if (proven)
		s->flags |= SF_PROVEN;
	s->ch_seq = mh->seq;
	s->rx_seq = (uint16_t)(mh->seq + 1);
	s->ep0_seq = rh->seq; /* RFC 6347 §4.2.1: reply in the hello's record sequence */
	memcpy(s->client_random, ch->random, SG_TLS_RANDOM_LEN);

	/* RFC 5746 §3.6: an initial hello carries an empty renegotiation_info. */
	if ((ch->flags & SG_HS_CH_F_RENEG_INFO) && ch->reneg_len != 0) {
		fail(e, s, SG_HS_C_FAIL_RENEGOTIATION, SG_TLS_ALERT_HANDSHAKE_FAILURE);
		return;
	}
	if (ch->flags & (SG_HS_CH_F_RENEG_INFO | SG_HS_CH_F_RENEG_SCSV))
		s->flags |= SF_SECURE_RENEG;
	if (ch->flags & SG_HS_CH_F_EMS)
		s->flags |= SF_EMS;
	else if (e->conf.require_ems) {
		fail(e, s, SG_HS_C_FAIL_EMS_REQUIRED, SG_TLS_ALERT_HANDSHAKE_FAILURE);
		return;
	}
	if (ch->flags & SG_HS_CH_F_SNI) {
		s->flags |= SF_SNI;
		s->sni_len = ch->sni_len;
		memcpy(s->sni, ch->sni, ch->sni_len);
	}
	/* RFC 8449 §5: record_size_limit wins over max_fragment_length. */
	s->max_pt = SG_DTLS_MAX_PLAINTEXT;
	if (ch->flags & SG_HS_CH_F_RSL) {
		s->rsl = e->conf.record_size_limit;
		if (ch->rsl < s->max_pt)
			s->max_pt = ch->rsl;
	} else if (ch->flags & SG_HS_CH_F_MFL) {
		s->mfl = ch->mfl;
		s->max_pt = (uint16_t)(1u << (8 + ch->mfl));
	}
	/* RFC 9146 §3: our CID goes in the ServerHello; theirs we use when sending. */
	if ((ch->flags & SG_HS_CH_F_CID) && e->conf.cid_len && e->conf.ops.cid_alloc &&
	    ch->cid_len <= SG_HS_PEER_CID_MAX &&
	    e->conf.ops.cid_alloc(e->conf.ops.ctx, x->peer, s->cid) == 0) {
		s->flags |= SF_CID | SF_CID_HELD;
		s->cid_len = e->conf.cid_len;
		s->peer_cid_len = ch->cid_len;
		memcpy(s->peer_cid, ch->cid, ch->cid_len);
	}
	/*
	 * RFC 9853 §3: rrc is echoed only with a connection_id; it is of use to
	 * us only when the client's records carry our CID, so only when we
	 * give it one (the data plane then checks a moved peer before following it).
	 */
	if ((ch->flags & SG_HS_CH_F_RRC) && (s->flags & SF_CID))
		s->flags |= SF_RRC;

	if (e->conf.tickets && (ch->flags & SG_HS_CH_F_TICKET) && ch->ticket_len) {
		rc = try_ticket(e, s, ch, x->now.unix_s);
		if (rc < 0) {
			fail(e, s, (enum sg_hs_counter) - rc, SG_TLS_ALERT_HANDSHAKE_FAILURE);
			return;
		}
		resumed = rc == 1;
	}
	if (!resumed) {
		s->flags &= (uint16_t)~SF_EMS;
		if (ch->flags & SG_HS_CH_F_EMS)
			s->flags |= SF_EMS;
		suite = pick_suite(e, ch, &why);
		if (suite < 0) {
			fail(e, s, why, SG_TLS_ALERT_HANDSHAKE_FAILURE);
			return;
		}
		s->suite = (uint8_t)suite;
		if (e->conf.tickets && (ch->flags & SG_HS_CH_F_TICKET))
			s->flags |= SF_TICKET;
	} else {
		/* RFC 5077 §3.4: echo the client's session ID to signal resumption. */
		s->session_id_len = ch->session_id_len;
		memcpy(s->session_id, ch->session_id, ch->session_id_len);
	}
	if (suite_ecdhe(slot_suite(s)) && (ch->flags & SG_HS_CH_F_POINT_FORMATS))
		s->flags |= SF_POINTS;

	if (sg_hs_crypto_random(&e->crypto, s->server_random, SG_TLS_RANDOM_LEN) < 0) {
		fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	sg_hs_transcript_start(&s->transcript, suite_hash(slot_suite(s)));
	sg_hs_transcript_add_msg(&s->transcript, SG_TLS_HT_CLIENT_HELLO, mh->seq, body, mh->length);

	if (resumed) {
		/* RFC 5246 §7.4.9 with the abbreviated order: our Finished covers CH, SH. */
		uint8_t sh_buf[MSG_MAX], fin[SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN];
		struct sg_hs_wbuf w = { .p = sh_buf, .cap = sizeof(sh_buf) };
		struct sg_hs_wbuf wf = { .p = fin, .cap = sizeof(fin) };
		struct sg_hs_server_hello sh;

		server_hello_of(s, true, &sh);
		rc = sg_hs_write_server_hello(&w, s->ch_seq, &sh);
		if (rc == 0)
			sg_hs_transcript_add(&s->transcript, sh_buf, w.len);
		if (rc == 0)
			rc = derive_keys(e, s);
		if (rc == 0)
			rc = finished_of(e, s, SG_TLS_LABEL_SERVER_FINISHED, s->server_verify);
		if (rc == 0)
			rc = sg_hs_write_finished(&wf, (uint16_t)(s->ch_seq + 1), s->server_verify);
		if (rc == 0)
			sg_hs_transcript_add(&s->transcript, fin, wf.len);
		if (rc < 0) {
			fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
			return;
		}
		s->state = HS_WAIT_RESUMED;
		rc = send_flight_resumed(e, s);
	} else {
		if (suite_ecdhe(slot_suite(s))) {
			int g = pick_group(ch);

			if (sg_hs_ecdh_keygen(&e->crypto, (enum sg_hs_group)g, &s->eph) < 0) {
				fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
				return;
			}
			s->group = (uint8_t)(g + 1);
		}
		s->state = HS_WAIT_CKE;
		rc = send_flight_full(e, s, true);
	}
	if (rc < 0) {
		fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	set_deadline(e, slot_idx(e, s), x->now.mono_ms + s->rto);
}

static bool cookies_needed(const struct sg_hs_engine *e)
{
	switch (e->conf.cookie_policy) {
	case SG_HS_COOKIE_ALWAYS:
		return true;
	case SG_HS_COOKIE_UNDER_LOAD:
		return e->in_flight >= e->conf.cookie_threshold;
	default:
		return false;
	}
}

static void send_hvr(struct sg_hs_engine *e, struct rx_ctx *x, const struct sg_rec_hdr *rh,
                     const uint8_t *body, size_t len, const struct sg_hs_client_hello *ch)
{
	uint8_t cookie[SG_HS_COOKIE_LEN], msg[SG_DTLS_HS_HDR_LEN + 3 + SG_HS_COOKIE_LEN];
	struct sg_hs_wbuf w = { .p = msg, .cap = sizeof(msg) };
	uint64_t seq = rh->seq;
	struct hs_tx t = {
		.e = e,
		.peer = x->peer,
		.ep0_seq = &seq,
		.version = SG_DTLS_VERSION_1_0,
		.max_frag = SG_DTLS_MAX_PLAINTEXT,
		.answers = x->len,
	};

	if (sg_hs_cookie_make(&e->crypto, &e->cookies, (const uint8_t *)x->peer, body, len,
	                      ch->cookie_off, e->scratch, cookie) < 0)
		return;
	/* RFC 6347 §4.2.1: version 1.0 in the HelloVerifyRequest, message_seq 0. */
	sg_hs_write_hello_verify_request(&w, 0, SG_DTLS_VERSION_1_0, cookie, sizeof(cookie));
	e->tx_len = 0;
	tx_handshake(&t, msg, w.len, 0);
	tx_flush(&t);
	x->handled = 1;
	count(e, SG_HS_C_HVR_SENT);
}

/*
 * A ClientHello: version checks, the cookie exchange (stateless), a
 * repeated hello (retransmit our flight), or a new handshake.
 */
static void on_client_hello(struct sg_hs_engine *e, struct rx_ctx *x, const struct sg_rec_hdr *rh,
                            const struct sg_hs_msg_hdr *mh, const uint8_t *body)
{
	struct sg_hs_client_hello ch;
	struct hs_slot *s = e->cur;
	bool need, proven = false;
	int rc;

	/* Without state a fragmented hello cannot be checked; as OpenSSL's
	 * DTLSv1_listen, we require it whole. */
	if (mh->frag_off != 0 || mh->frag_len != mh->length) {
		rx_drop(x, SG_HS_C_DROP_FRAGMENTED_CH);
		return;
	}
	rc = sg_hs_client_hello_parse(body, mh->length, &ch);
	if (rc < 0) {
		x->handled = 1;
		count(e, rc == -EINVAL ? SG_HS_C_FAIL_ILLEGAL_PARAMETER : SG_HS_C_FAIL_DECODE);
		alert_stateless(e, x->peer, x->len, rh->seq, rh->version,
		                rc == -EINVAL ? SG_TLS_ALERT_ILLEGAL_PARAMETER
		                              : SG_TLS_ALERT_DECODE_ERROR);
		return;
	}
	/*
	 * The same hello again: our flight was lost (RFC 6347 §4.2.4). One
	 * resend per retransmission period, whoever asks: a replayed hello must
	 * not make us send more often than our own timer does.
	 */
	if (s && s->ch_seq == mh->seq &&
	    memcmp(s->client_random, ch.random, SG_TLS_RANDOM_LEN) == 0) {
		if ((s->state != HS_WAIT_CKE && s->state != HS_WAIT_RESUMED) ||
		    (s->flags & SF_RESENT)) {
			rx_drop(x, SG_HS_C_DROP_DUPLICATE);
			return;
		}
		x->handled = 1;
		count(e, SG_HS_C_RETRANSMIT_PEER);
		retransmit(e, s);
		return;
	}
	/* RFC 6347 §4.1: DTLS versions count down; 0xfeff is 1.0. RFC 7507 §3 first. */
	if ((ch.version >> 8) != 0xfe || ch.version > SG_DTLS_VERSION_1_2) {
		bool fallback = (ch.flags & SG_HS_CH_F_FALLBACK_SCSV) && (ch.version >> 8) == 0xfe;

		x->handled = 1;
		count(e, fallback ? SG_HS_C_FAIL_FALLBACK : SG_HS_C_FAIL_PROTOCOL_VERSION);
		alert_stateless(e, x->peer, x->len, rh->seq, SG_DTLS_VERSION_1_0,
		                fallback ? SG_TLS_ALERT_INAPPROPRIATE_FALLBACK
		                         : SG_TLS_ALERT_PROTOCOL_VERSION);
		return;
	}
	/*
	 * A valid cookie proves the address under any policy. UNDER_LOAD also
	 * wants one before a hello may replace a handshake in progress: without
	 * it, anyone who knows a device's address and port could end its
	 * handshake with one spoofed hello (RFC 6347 §4.2.1; the client
	 * restarting pays one round trip).
	 */
	need = cookies_needed(e) || (s != NULL && e->conf.cookie_policy == SG_HS_COOKIE_UNDER_LOAD);
	if (ch.cookie_len == 0 && need) {
		send_hvr(e, x, rh, body, mh->length, &ch);
		return;
	}
	if (ch.cookie_len != 0) {
		rc = sg_hs_cookie_check(&e->crypto, &e->cookies, (const uint8_t *)x->peer, body,
		                        mh->length, ch.cookie_off, e->scratch);
		if (rc < 0 && need) {
			/* RFC 6347 §4.2.1: treat as a hello without a cookie. */
			rx_drop(x, rc == -EKEYEXPIRED ? SG_HS_C_DROP_COOKIE_EXPIRED
			                              : SG_HS_C_DROP_COOKIE_BAD);
			send_hvr(e, x, rh, body, mh->length, &ch);
			x->handled = 0;
			return;
		}
		proven = rc == 0;
	}
	/*
	 * Storm admission is charged here, once the cookie proved the address
	 * (a forged cookie never reaches this point) and right before a slot
	 * would be taken.
	 */
	if (e->conf.ops.admit != NULL && e->conf.ops.admit(e->conf.ops.ctx, x->peer) != 0) {
		rx_drop(x, SG_HS_C_DROP_ADMISSION);
		return;
	}
	start_handshake(e, x, rh, mh, body, &ch, proven);
}

/* ---- ClientKeyExchange ------------------------------------------------------------------- */

/*
 * RFC 4279 §2 (PSK) and RFC 5489 §2 (ECDHE-PSK): look the identity up,
 * make the premaster secret, the master secret (RFC 7627 §4 with EMS) and
 * the keys. An unknown or refused identity continues with a random PSK and
 * fails at Finished, like a wrong key (RFC 4279 §2 allows it; no oracle).
 *
 * The message is not authenticated: anyone who knows the client's address
 * and port can send one. One that does not parse, or whose ECDHE share is
 * off the curve or of low order (RFC 8422 §5.11, RFC 7748 §6.1), is
 * discarded before anything in the slot changes, our ephemeral key
 * included, and the slot keeps waiting for the client's own (RFC 6347
 * §4.1.2.7); the share is checked before the credential store is asked.
 */
static void on_client_kx(struct sg_hs_engine *e, struct rx_ctx *x, struct hs_slot *s,
                         const uint8_t *body, size_t len)
{
	const struct sg_suite *su = slot_suite(s);
	enum sg_hs_hash h = suite_hash(su);
	struct sg_hs_client_kx kx;
	struct sg_hs_cred cred;
	/* other_secret is the ECDH output or, for plain PSK, as long as the PSK. */
	uint8_t pms[2 + SG_TLS_PSK_MAX + 2 + SG_TLS_PSK_MAX], hash[SG_HS_HASH_MAX_LEN];
	uint8_t other[SG_HS_ECDH_SECRET_LEN];
	size_t other_len = 0, n = 0;
	int rc;

	_Static_assert(SG_HS_ECDH_SECRET_LEN <= SG_TLS_PSK_MAX, "premaster buffer");

	if (sg_hs_client_kx_parse(body, len, suite_ecdhe(su), &kx) < 0) {
		rx_drop(x, SG_HS_C_DROP_MALFORMED);
		return;
	}
	if (suite_ecdhe(su)) {
		rc = sg_hs_ecdh_derive(&e->crypto, &s->eph, kx.point, kx.point_len, other);
		if (rc == -EINVAL) {
			rx_drop(x, SG_HS_C_DROP_MALFORMED);
			return;
		}
		if (rc < 0) {
			x->handled = 1;
			fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
			return;
		}
		sg_hs_ecdh_clear(&s->eph);
		other_len = SG_HS_ECDH_SECRET_LEN;
	}
	x->handled = 1;
	memset(&cred, 0, sizeof(cred));
	if (kx.identity_len > SG_TLS_PSK_IDENTITY_MAX)
		rc = -ENOENT;
	else
		rc = e->conf.ops.psk_lookup(e->conf.ops.ctx, kx.identity, kx.identity_len,
		                            (s->flags & SF_SNI) ? s->sni : NULL, s->sni_len, &cred);
	if (rc == 0 && (cred.psk_len == 0 || cred.psk_len > SG_TLS_PSK_MAX))
		rc = -EIO;
	if (rc == 0 && (((cred.flags & SG_HS_CRED_F_REQUIRE_EMS) && !(s->flags & SF_EMS)) ||
	                ((cred.flags & SG_HS_CRED_F_REQUIRE_ECDHE) && !suite_ecdhe(su))))
		rc = -EACCES;
	if (rc == -ENOENT || rc == -EACCES) {
		/* Same work, same step, same alert as a wrong key. */
		s->flags |= rc == -ENOENT ? SF_UNKNOWN_ID : SF_POLICY;
		memset(&cred, 0, sizeof(cred));
		cred.psk_len = e->conf.dummy_psk_len;
		rc = sg_hs_crypto_random(&e->crypto, cred.psk, cred.psk_len);
	}
	if (rc < 0) {
		sg_wipe(&cred, sizeof(cred));
		sg_wipe(other, sizeof(other));
		fail(e, s, SG_HS_C_FAIL_CRED_STORE, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	s->cred_ref = cred.cred_ref;
	s->backend = cred.backend;
	s->lifetime = cred.lifetime_s ? cred.lifetime_s : e->conf.session_lifetime_s;
	if (cred.flags & SG_HS_CRED_F_NO_TICKET)
		s->flags |= SF_NO_TICKET; /* RFC 5077 §3.3: an empty ticket then */
	/*
	 * The ticket will name the PSK (ticket_policy() checks it on resumption);
	 * the dummy PSK of an unknown identity gets the same work. Without a
	 * digest, no ticket: an empty one (RFC 5077 §3.3).
	 */
	if ((s->flags & (SF_TICKET | SF_NO_TICKET)) == SF_TICKET &&
	    sg_hs_ticket_psk_digest(&e->crypto, cred.psk, cred.psk_len, s->psk_digest) < 0)
		s->flags |= SF_NO_TICKET;

	if (!suite_ecdhe(su))
		other_len = cred.psk_len;
	/* Last use of the message bytes: the identity may overwrite the
	 * reassembly buffer they sit in (hence memmove, after the hash). */
	sg_hs_transcript_add_msg(&s->transcript, SG_TLS_HT_CLIENT_KEY_EXCHANGE, s->rx_seq, body,
	                         len);
	s->identity_len =
	        (uint8_t)(kx.identity_len > SG_TLS_PSK_IDENTITY_MAX ? 0 : kx.identity_len);
	memmove(s->u.identity, kx.identity, s->identity_len);
	pms[n++] = (uint8_t)(other_len >> 8);
	pms[n++] = (uint8_t)other_len;
	if (suite_ecdhe(su))
		memcpy(pms + n, other, other_len);
	else
		memset(pms + n, 0, other_len); /* RFC 4279 §2: psk_len zero bytes */
	n += other_len;
	pms[n++] = (uint8_t)(cred.psk_len >> 8);
	pms[n++] = (uint8_t)cred.psk_len;
	memcpy(pms + n, cred.psk, cred.psk_len);
	n += cred.psk_len;
	sg_wipe(&cred, sizeof(cred));
	sg_wipe(other, sizeof(other));

	if (rc == 0 && (s->flags & SF_EMS)) {
		/* RFC 7627 §4: session_hash = Hash(ClientHello .. ClientKeyExchange). */
		sg_hs_transcript_peek(&s->transcript, hash);
		rc = sg_hs_prf(&e->crypto, h, NULL, pms, n, SG_TLS_LABEL_EXTENDED_MASTER_SECRET,
		               hash, sg_hs_hash_len(h), NULL, 0, s->master, sizeof(s->master));
	} else if (rc == 0) {
		rc = sg_hs_prf(&e->crypto, h, NULL, pms, n, SG_TLS_LABEL_MASTER_SECRET,
		               s->client_random, SG_TLS_RANDOM_LEN, s->server_random,
		               SG_TLS_RANDOM_LEN, s->master, sizeof(s->master));
	}
	sg_wipe(pms, sizeof(pms));
	if (rc == 0)
		rc = derive_keys(e, s);
	if (rc < 0) {
		fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	s->rx_seq++;
	s->state = HS_WAIT_FINISHED;
	x->kx_here = true;
	linger_prefetch(e, x->hash);
}

/* ---- completion ---------------------------------------------------------------------------- */

static void fill_result(struct sg_hs_engine *e, struct hs_slot *s, uint64_t fin_seq,
                        uint64_t now_unix, struct sg_hs_result *r)
{
	const struct sg_suite *su = slot_suite(s);
	struct sg_rec_sa_params p = {
		.aead = (enum sg_aead)s->sa.aead,
		.epoch = 1,
		.flags = (uint8_t)((s->sa.flags & (SG_SA_F_RX_CID | SG_SA_F_TX_CID)) |
		                   ((s->flags & SF_RRC) ? SG_SA_F_RRC : 0)),
		.rx_key = s->sa.rx_key,
		.tx_key = s->sa.tx_key,
		.rx_iv = s->sa.rx_iv,
		.tx_iv = s->sa.tx_iv,
		.tx_seq = sg_rec_sa_tx_seq(&s->sa),
		.rx_seq = fin_seq + 1, /* the client's Finished used the numbers up to it */
		/* RFC 8449 §4 / RFC 6066 §4: every record sealed for the session obeys it. */
		.max_plaintext = s->max_pt,
	};

	memset(r, 0, sizeof(*r));
	sg_rec_sa_init(e->result_sa, e->conf.replay_window, &p);
	r->sa = e->result_sa;
	r->peer = s->peer;
	r->suite = su->id;
	r->resumed = s->state == HS_WAIT_RESUMED;
	if (s->group)
		r->group = s->group - 1 == SG_HS_GROUP_X25519 ? SG_TLS_GROUP_X25519
		                                              : SG_TLS_GROUP_SECP256R1;
	r->ems = !!(s->flags & SF_EMS);
	if (s->flags & SF_CID) {
		r->cid_len = s->cid_len;
		memcpy(r->cid, s->cid, s->cid_len);
		r->peer_cid_len = s->peer_cid_len;
		memcpy(r->peer_cid, s->peer_cid, s->peer_cid_len);
	}
	r->max_plaintext = s->max_pt;
	r->rrc = !!(s->flags & SF_RRC);
	r->identity_len = s->identity_len;
	memcpy(r->identity, s->u.identity, s->identity_len);
	if (s->flags & SF_SNI) {
		r->sni_len = s->sni_len;
		memcpy(r->sni, s->sni, s->sni_len);
	}
	r->cred_ref = s->cred_ref;
	r->backend = s->backend;
	r->expires = now_unix + s->lifetime;
}

/* Hand the session over; on refusal, fail the handshake. Returns 0 if installed. */
static int install(struct sg_hs_engine *e, struct hs_slot *s, uint64_t fin_seq, uint64_t now_unix)
{
	struct sg_hs_result r;
	int rc;

	fill_result(e, s, fin_seq, now_unix, &r);
	rc = e->conf.ops.install(e->conf.ops.ctx, &r);
	sg_rec_sa_wipe(e->result_sa, e->conf.replay_window);
	sg_wipe(&r, sizeof(r));
	return rc;
}

/* The NewSessionTicket of a full handshake (RFC 5077 §3.3), into w. */
static int write_ticket(struct sg_hs_engine *e, struct hs_slot *s, uint64_t now_unix,
                        struct sg_hs_wbuf *w, uint16_t seq)
{
	struct sg_hs_ticket_state st = {
		.suite = slot_suite(s)->id,
		.ems = !!(s->flags & SF_EMS),
		.issued = now_unix,
		.lifetime = e->conf.ticket_lifetime_s,
		.identity_len = s->identity_len,
	};
	uint8_t ticket[SG_HS_TICKET_MAX];
	int len = 0, rc;

	memcpy(st.master, s->master, sizeof(st.master));
	memcpy(st.psk_digest, s->psk_digest, sizeof(st.psk_digest));
	memcpy(st.identity, s->u.identity, s->identity_len);
	sni_hash(&e->crypto, s->sni, (s->flags & SF_SNI) ? s->sni_len : 0, st.sni_hash);
	/* An unknown identity never gets this far (its Finished fails). */
	if (!(s->flags & SF_NO_TICKET)) {
		len = sg_hs_ticket_seal(&e->crypto, e->rec, &e->tickets, &st, ticket,
		                        sizeof(ticket));
		if (len < 0)
			len = 0; /* RFC 5077 §3.3: an empty ticket is allowed */
		else
			count(e, SG_HS_C_TICKET_ISSUED);
	}
	sg_wipe(&st, sizeof(st));
	rc = sg_hs_write_new_session_ticket(w, seq, len ? e->conf.ticket_lifetime_s : 0, ticket,
	                                    (uint16_t)len);
	return rc;
}

/* Full handshake: the client's Finished verified. Send ours, install, linger. */
static void complete_full(struct sg_hs_engine *e, struct rx_ctx *x, struct hs_slot *s,
                          uint64_t fin_seq)
{
	uint8_t nst[MSG_MAX], fin[SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN];
	uint8_t verify[SG_TLS_VERIFY_DATA_LEN];
	struct sg_hs_wbuf wn = { .p = nst, .cap = sizeof(nst) };
	struct sg_hs_wbuf wf = { .p = fin, .cap = sizeof(fin) };
	/* Our next message_seq: ServerHello (= CH seq), [ServerKeyExchange], ServerHelloDone. */
	uint16_t seq = (uint16_t)(s->ch_seq + 2 +
	                          ((suite_ecdhe(slot_suite(s)) || e->conf.psk_hint_len) ? 1 : 0));
	struct hs_tx t;
	int rc = 0;

	if (s->flags & SF_TICKET) {
		rc = write_ticket(e, s, x->now.unix_s, &wn, seq++);
		if (rc == 0)
			sg_hs_transcript_add(&s->transcript, nst, wn.len);
	}
	if (rc == 0)
		rc = finished_of(e, s, SG_TLS_LABEL_SERVER_FINISHED, verify);
	if (rc == 0)
		rc = sg_hs_write_finished(&wf, seq, verify);
	if (rc < 0) {
		fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	/* Seal our Finished before installing, so tx_seq is past it. */
	t = tx_for_slot(e, s);
	t.ln = linger_new(e, &s->peer, x->hash, x->now.mono_ms + e->conf.linger_ms);
	if (s->flags & SF_TICKET)
		tx_handshake(&t, nst, wn.len, 0);
	tx_ccs(&t);
	tx_handshake(&t, fin, wf.len, 1);
	if (t.err < 0) {
		e->tx_len = 0;
		if (t.ln)
			linger_kill(t.ln);
		fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	if (install(e, s, fin_seq, x->now.unix_s) < 0) {
		e->tx_len = 0;
		if (t.ln)
			linger_kill(t.ln);
		fail(e, s, SG_HS_C_FAIL_INSTALL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	if (t.ln) {
		/* The client's write key and window, its Finished marked: only a
		 * fresh Finished under that key earns the flight again. */
		memcpy(&t.ln->sa, &s->sa, sizeof(t.ln->sa));
		sg_wipe(t.ln->sa.tx_key, sizeof(t.ln->sa.tx_key));
		sg_wipe(t.ln->sa.tx_iv, sizeof(t.ln->sa.tx_iv));
	}
	tx_flush(&t);
	s->flags &= (uint16_t)~SF_CID_HELD; /* the session owns the CID now */
	count(e, SG_HS_C_COMPLETED_FULL);
	slot_free(e, s);
}

/* ---- epoch-1 records (the client's Finished) ----------------------------------------------- */

static enum sg_hs_counter finished_failure(const struct hs_slot *s)
{
	if (s->flags & SF_UNKNOWN_ID)
		return SG_HS_C_FAIL_UNKNOWN_IDENTITY;
	if (s->flags & SF_POLICY)
		return SG_HS_C_FAIL_POLICY;
	return SG_HS_C_FAIL_BAD_FINISHED;
}

/* Why an epoch-1 record that did not open is dropped. */
static enum sg_hs_counter open_drop(uint8_t status)
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

/*
 * An epoch-1 record (raw: header and fragment) for slot s. kx_here: it came
 * in the datagram whose ClientKeyExchange derived the keys.
 *
 * RFC 6347 §4.1.2.7: a record that does not authenticate is discarded and
 * the handshake goes on, since anyone who knows the client's address can
 * send one. Except in the key exchange's own datagram: a client with the
 * wrong PSK (or an unknown identity, which gets a random one) sends its
 * Finished there, and must learn at that step that the keys differ
 * (decrypt_error, RFC 5246 §7.4.9), the same way in both cases (RFC 4279
 * §2: no identity oracle). What authenticates came from the client: an
 * alert or a wrong message then ends the handshake.
 */
static void on_epoch1(struct sg_hs_engine *e, struct rx_ctx *x, struct hs_slot *s,
                      const uint8_t *raw, size_t rec_len, bool kx_here)
{
	uint8_t expect[SG_TLS_VERIFY_DATA_LEN];
	struct sg_rec_open_op op;
	struct sg_hs_msg_hdr mh;
	const uint8_t *pt;
	int n;

	if (s->state == HS_WAIT_CKE) {
		/*
		 * Arrived before the key exchange (reordered): keep one
		 * (RFC 6347 §4.1.2.6), the newest, so that a forger must slip in
		 * between the client's Finished and its ClientKeyExchange to
		 * displace it; what is kept is tried once when the keys exist.
		 */
		if (rec_len > PENDING_MAX) {
			rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
			return;
		}
		memcpy(s->pending, raw, rec_len);
		s->pending_len = (uint8_t)rec_len;
		x->pending_here = true;
		x->handled = 1;
		return;
	}
	if (s->state != HS_WAIT_FINISHED && s->state != HS_WAIT_RESUMED) {
		rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
		return;
	}
	if (rec_len > e->scratch_len) {
		rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
		return;
	}
	memcpy(e->scratch, raw, rec_len);
	op = (struct sg_rec_open_op){ .rec = e->scratch,
		                      .rec_len = (uint32_t)rec_len,
		                      .sa = &s->sa };
	if (sg_rec_open_burst(e->rec, &op, 1) != 1) {
		if (op.status == SG_REC_AUTH_FAILED && kx_here) {
			x->handled = 1;
			fail(e, s, finished_failure(s), SG_TLS_ALERT_DECRYPT_ERROR);
			return;
		}
		if (op.status == SG_REC_AUTH_FAILED && s->state == HS_WAIT_FINISHED)
			s->flags |= SF_AUTH_FAILED; /* said at the timeout (sg_hs_tick) */
		rx_drop(x, open_drop(op.status));
		return;
	}
	/* Only the holder of our flight can make these keys: the address is proven. */
	s->flags |= SF_PROVEN;
	x->handled = 1;
	pt = e->scratch + op.pt_off;
	if (op.type == SG_DTLS_CT_ALERT) {
		count(e, SG_HS_C_PEER_ALERT);
		slot_free(e, s);
		return;
	}
	n = op.type == SG_DTLS_CT_HANDSHAKE ? sg_hs_msg_hdr_parse(pt, op.pt_len, &mh) : -EBADMSG;
	if (n < 0 || (size_t)n != op.pt_len || mh.type != SG_TLS_HT_FINISHED ||
	    mh.seq != s->rx_seq || mh.frag_off != 0 || mh.frag_len != mh.length ||
	    mh.length != SG_TLS_VERIFY_DATA_LEN) {
		fail(e, s, SG_HS_C_FAIL_UNEXPECTED_MESSAGE, SG_TLS_ALERT_UNEXPECTED_MESSAGE);
		return;
	}
	if (finished_of(e, s, SG_TLS_LABEL_CLIENT_FINISHED, expect) < 0) {
		fail(e, s, SG_HS_C_FAIL_INTERNAL, SG_TLS_ALERT_INTERNAL_ERROR);
		return;
	}
	if (sg_ct_memcmp(expect, pt + SG_DTLS_HS_HDR_LEN, SG_TLS_VERIFY_DATA_LEN) != 0 ||
	    (s->flags & (SF_UNKNOWN_ID | SF_POLICY))) {
		fail(e, s, finished_failure(s), SG_TLS_ALERT_DECRYPT_ERROR);
		return;
	}
	if (s->state == HS_WAIT_RESUMED) {
		if (install(e, s, op.seq, x->now.unix_s) < 0) {
			fail(e, s, SG_HS_C_FAIL_INSTALL, SG_TLS_ALERT_INTERNAL_ERROR);
			return;
		}
		s->flags &= (uint16_t)~SF_CID_HELD;
		count(e, SG_HS_C_COMPLETED_RESUMED);
		slot_free(e, s);
		return;
	}
	sg_hs_transcript_add_msg(&s->transcript, SG_TLS_HT_FINISHED, mh.seq,
	                         pt + SG_DTLS_HS_HDR_LEN, SG_TLS_VERIFY_DATA_LEN);
	complete_full(e, x, s, op.seq);
}

/* ---- epoch-0 records ------------------------------------------------------------------------- */

/*
 * One complete handshake message from the client while a slot exists. Only
 * a ClientKeyExchange is expected (RFC 5246 §7.4); anything else is
 * unauthenticated noise, dropped without ending the handshake (RFC 6347
 * §4.1.2.7).
 */
static void on_message(struct sg_hs_engine *e, struct rx_ctx *x, struct hs_slot *s,
                       const struct sg_hs_msg_hdr *mh, const uint8_t *body)
{
	if (s->state == HS_WAIT_CKE && mh->type == SG_TLS_HT_CLIENT_KEY_EXCHANGE) {
		on_client_kx(e, x, s, body, mh->length);
		return;
	}
	rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
}

/*
 * Handshake messages in one epoch-0 record (RFC 6347 §4.2.2: a record may
 * hold several, and a message may span records). Returns false when the
 * slot was freed.
 */
static bool on_handshake_record(struct sg_hs_engine *e, struct rx_ctx *x,
                                const struct sg_rec_hdr *rh, const uint8_t *frag)
{
	size_t off = 0;

	while (off < rh->frag_len) {
		struct hs_slot *s = e->cur;
		struct sg_hs_msg_hdr mh;
		const uint8_t *p = frag + off;
		int n = sg_hs_msg_hdr_parse(p, rh->frag_len - off, &mh), rc;

		if (n < 0) {
			rx_drop(x, SG_HS_C_DROP_MALFORMED);
			return s != NULL;
		}
		off += (size_t)n;
		if (mh.type == SG_TLS_HT_CLIENT_HELLO) {
			on_client_hello(e, x, rh, &mh, p + SG_DTLS_HS_HDR_LEN);
			continue;
		}
		if (s == NULL) {
			rx_drop(x, SG_HS_C_DROP_NO_STATE);
			return false;
		}
		if (mh.seq < s->rx_seq) {
			/* Already had it: the client is retransmitting its flight. */
			rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
			continue;
		}
		if (mh.seq > s->rx_seq || s->state != HS_WAIT_CKE) {
			/* A later message (or a fragment of one): only the next is kept. */
			rx_drop(x, SG_HS_C_DROP_UNEXPECTED);
			continue;
		}
		if (mh.frag_off == 0 && mh.frag_len == mh.length && !s->reasm.active) {
			on_message(e, x, s, &mh, p + SG_DTLS_HS_HDR_LEN);
			if (e->cur != s)
				return false;
			continue;
		}
		rc = sg_hs_reasm_add(&s->reasm, &mh, p + SG_DTLS_HS_HDR_LEN);
		if (rc == -EBADMSG) {
			/*
			 * It disagrees with the fragments gathered so far (their
			 * bytes, type or length, RFC 6347 §4.2.3): one side is
			 * forged and nothing says which. Start over from the
			 * newest: a whole message then always stands, and a forger
			 * costs the client at most a retransmission.
			 */
			sg_hs_reasm_reset(&s->reasm);
			rc = sg_hs_reasm_add(&s->reasm, &mh, p + SG_DTLS_HS_HDR_LEN);
		}
		if (rc < 0) {
			/* Longer than any ClientKeyExchange (REASM_CAP): not the client's. */
			rx_drop(x, SG_HS_C_DROP_MALFORMED);
			continue;
		}
		x->handled = 1;
		if (rc == 1) {
			struct sg_hs_msg_hdr whole = mh;

			whole.frag_off = 0;
			whole.frag_len = mh.length;
			/* Done with the bookkeeping; the bytes are read (and then
			 * reused for the identity) by the handler. */
			sg_hs_reasm_forget(&s->reasm);
			on_message(e, x, s, &whole, s->reasm.buf);
			if (e->cur != s)
				return false;
		}
	}
	return e->cur != NULL;
}

/*
 * RFC 5246 §7.1: ChangeCipherSpec is one byte, 1. Another is dropped, not
 * fatal: it is not authenticated (RFC 6347 §4.1.2.7).
 */
static void on_ccs(struct rx_ctx *x, const struct sg_rec_hdr *rh, const uint8_t *frag)
{
	if (rh->frag_len != 1 || frag[0] != SG_TLS_CCS_VALUE) {
		rx_drop(x, SG_HS_C_DROP_MALFORMED);
		return;
	}
	/* Its order against the Finished is not checked: the epoch in each
	 * record says which keys apply, and a reordered or lost CCS then costs
	 * no retransmission. */
	x->handled = 1;
}

/*
 * Resend a finished flight (RFC 6347 §4.2.4). The address is proven: the
 * Finished that asked for it authenticated.
 */
static void linger_resend(struct sg_hs_engine *e, struct rx_ctx *x, struct hs_linger *l)
{
	size_t off = 0;

	for (unsigned i = 0; i < l->n_dgrams; i++) {
		if (e->conf.ops.send(e->conf.ops.ctx, x->peer, l->flight + off, l->dgram_len[i]) <
		    0)
			count(e, SG_HS_C_SEND_FAILED);
		off += l->dgram_len[i];
	}
	count(e, SG_HS_C_LINGER_RESENT);
	x->handled = 1;
}

/*
 * A datagram from the peer of a finished full handshake: when our last
 * flight was lost, the client repeats its own (ClientKeyExchange, CCS,
 * Finished; RFC 6347 §4.2.4). If the datagram holds an epoch-1 record, it
 * alone decides: the first one (a tls12_cid one with CIDs) must open under
 * the client's write key, be fresh in the replay window and hold a
 * Finished; then the flight goes again, at most once per rto_initial_ms.
 * Epoch-0 records alone get nothing, the client's own ClientKeyExchange
 * included: anyone can send one (a made-up one, or a copy of the client's),
 * and answering it would amplify a spoofed one tenfold. A client that sends
 * its Finished in a datagram of its own still gets here: the data plane
 * punts a datagram that starts with a handshake record in any epoch, and a
 * Finished under a session's CID reaches sg_hs_finished_again().
 */
static void linger_input(struct sg_hs_engine *e, struct rx_ctx *x, struct hs_linger *l,
                         const uint8_t *dgram, const struct sg_rec_hdr *recs, unsigned n)
{
	const struct sg_rec_hdr *rh = NULL;
	struct sg_rec_open_op op;
	struct sg_hs_msg_hdr mh;
	int m;

	/* One open per datagram, whatever else it holds. */
	for (unsigned i = 0; i < n && rh == NULL; i++)
		if (recs[i].epoch == 1 &&
		    (recs[i].type == SG_DTLS_CT_HANDSHAKE || recs[i].type == SG_DTLS_CT_TLS12_CID))
			rh = &recs[i];
	if (rh == NULL) {
		rx_drop(x, SG_HS_C_DROP_UNAUTHENTICATED);
		return;
	}
	if (rh->len > e->scratch_len) {
		rx_drop(x, SG_HS_C_DROP_UNAUTHENTICATED);
		return;
	}
	memcpy(e->scratch, dgram + rh->off, rh->len);
	op = (struct sg_rec_open_op){ .rec = e->scratch, .rec_len = rh->len, .sa = &l->sa };
	if (sg_rec_open_burst(e->rec, &op, 1) != 1) {
		rx_drop(x, open_drop(op.status));
		return;
	}
	m = op.type == SG_DTLS_CT_HANDSHAKE
	            ? sg_hs_msg_hdr_parse(e->scratch + op.pt_off, op.pt_len, &mh)
	            : -EBADMSG;
	if (m < 0 || (size_t)m != op.pt_len || mh.type != SG_TLS_HT_FINISHED ||
	    mh.length != SG_TLS_VERIFY_DATA_LEN || mh.frag_off != 0 || mh.frag_len != mh.length) {
		/* The client's, but no Finished: a renegotiating ClientHello (refused). */
		rx_drop(x, SG_HS_C_DROP_NO_STATE);
		return;
	}
	if (x->now.mono_ms < l->next_resend) {
		rx_drop(x, SG_HS_C_DROP_DUPLICATE);
		return;
	}
	l->next_resend = x->now.mono_ms + e->conf.rto_initial_ms;
	linger_resend(e, x, l);
}

/* A datagram from a peer without a slot: a hello, a late retransmission, or noise. */
static void input_stateless(struct sg_hs_engine *e, struct rx_ctx *x, const uint8_t *dgram,
                            const struct sg_rec_hdr *recs, unsigned n)
{
	const struct sg_rec_hdr *rh = &recs[0];
	struct hs_linger *l;

	if (rh->type == SG_DTLS_CT_HANDSHAKE && rh->epoch == 0 &&
	    rh->frag_len >= SG_DTLS_HS_HDR_LEN &&
	    dgram[rh->off + SG_DTLS_HDR_LEN] == SG_TLS_HT_CLIENT_HELLO) {
		/* Only the first record: a hello travels alone. */
		on_handshake_record(e, x, rh, dgram + rh->off + rh->hdr_len);
		return;
	}
	l = linger_find(e, x->peer, x->hash);
	if (l == NULL) {
		rx_drop(x, SG_HS_C_DROP_NO_STATE);
		return;
	}
	linger_input(e, x, l, dgram, recs, n);
}

int sg_hs_input(struct sg_hs_engine *e, struct sg_hs_time now, const struct sg_hs_peer *peer,
                const uint8_t *dgram, size_t len)
{
	struct sg_rec_hdr recs[RECS_PER_DGRAM];
	struct rx_ctx x = { .now = now, .peer = peer, .len = len, .drop = -1 };
	unsigned n;

	if (e == NULL || peer == NULL || (dgram == NULL && len > 0))
		return -EINVAL;
	/*
	 * No handshake datagram is longer (handshake.h), and the cookie MAC
	 * input and the records being opened are copied into the fixed scratch.
	 */
	if (len > SG_HS_DGRAM_MAX) {
		count(e, SG_HS_C_DROP_MALFORMED);
		return -EMSGSIZE;
	}
	n = sg_rec_parse(dgram, len, e->conf.cid_len, recs, RECS_PER_DGRAM);
	if (n == 0 || recs[0].status != SG_REC_OK) {
		count(e, SG_HS_C_DROP_MALFORMED);
		return 0;
	}
	if (recs[n - 1].status != SG_REC_OK)
		n--; /* process what framed before the break; it is counted if nothing else */
	x.hash = peer_hash(e->seed, peer);
	e->cur = slot_find(e, peer, x.hash);
	if (e->cur == NULL) {
		input_stateless(e, &x, dgram, recs, n);
	} else {
		/* Whatever it holds, it came from (or in the name of) this address. */
		e->cur->bytes_in = add_sat32(e->cur->bytes_in, len);
		for (unsigned i = 0; i < n; i++) {
			const struct sg_rec_hdr *rh = &recs[i];
			const uint8_t *frag = dgram + rh->off + rh->hdr_len;
			struct hs_slot *s = e->cur;

			if (s == NULL) {
				/* Freed by an earlier record (failure or completion). */
				if (rh->type == SG_DTLS_CT_HANDSHAKE && rh->epoch == 0 &&
				    rh->frag_len >= SG_DTLS_HS_HDR_LEN &&
				    frag[0] == SG_TLS_HT_CLIENT_HELLO)
					on_handshake_record(e, &x, rh, frag);
				continue;
			}
			if ((rh->version >> 8) != 0xfe) {
				rx_drop(&x, SG_HS_C_DROP_MALFORMED);
				continue;
			}
			if (rh->epoch == 1 &&
			    (rh->type == SG_DTLS_CT_HANDSHAKE || rh->type == SG_DTLS_CT_TLS12_CID ||
			     rh->type == SG_DTLS_CT_ALERT)) {
				on_epoch1(e, &x, s, dgram + rh->off, rh->len, x.kx_here);
				continue;
			}
			if (rh->epoch != 0) {
				rx_drop(&x, SG_HS_C_DROP_UNEXPECTED);
				continue;
			}
			switch (rh->type) {
			case SG_DTLS_CT_HANDSHAKE:
				on_handshake_record(e, &x, rh, frag);
				break;
			case SG_DTLS_CT_CHANGE_CIPHER_SPEC:
				on_ccs(&x, rh, frag);
				break;
			case SG_DTLS_CT_ALERT:
				/*
				 * Not authenticated: anyone who knows the client's
				 * address could send it, so it ends nothing (RFC 6347
				 * §4.1.2.7). A client that really gave up stops
				 * answering (the slot times out) or says hello again.
				 */
				rx_drop(&x, SG_HS_C_DROP_UNAUTHENTICATED);
				break;
			default:
				/* Application data before the handshake ends; heartbeat. */
				rx_drop(&x, SG_HS_C_DROP_UNEXPECTED);
				break;
			}
			/* A Finished kept while the key exchange was missing: tried once. */
			s = e->cur;
			if (s && s->pending_len && s->state == HS_WAIT_FINISHED) {
				uint8_t rec[PENDING_MAX];
				size_t rl = s->pending_len;

				memcpy(rec, s->pending, rl);
				s->pending_len = 0;
				on_epoch1(e, &x, s, rec, rl, x.kx_here && x.pending_here);
			}
		}
	}
	if (x.handled)
		count(e, SG_HS_C_DGRAM_HANDLED);
	else
		count(e, x.drop >= 0 ? (enum sg_hs_counter)x.drop : SG_HS_C_DROP_UNEXPECTED);
	/* Finished records, alerts and tickets leave schedules of their keys behind. */
	sg_rec_ctx_wipe_used(e->rec);
	return 0;
}

/* ---- time --------------------------------------------------------------------------------- */

unsigned sg_hs_tick(struct sg_hs_engine *e, struct sg_hs_time now)
{
	unsigned done = 0;

	if (sg_hs_cookie_rotate(&e->crypto, &e->cookies, now.mono_ms, e->conf.cookie_rotate_ms) > 0)
		done++;
	if (e->conf.tickets &&
	    sg_hs_ticket_rotate(&e->crypto, &e->tickets, now.unix_s, e->conf.ticket_rotate_s) > 0)
		done++;
	while (e->heap_len > 0 && e->slots[e->heap[0]].deadline <= now.mono_ms) {
		uint32_t idx = e->heap[0];
		struct hs_slot *s = &e->slots[idx];

		done++;
		if (now.mono_ms >= s->expires && s->state == HS_WAIT_FINISHED &&
		    (s->flags & SF_AUTH_FAILED)) {
			/*
			 * Keys from the client's key exchange, and records that
			 * did not open under them: most likely a wrong PSK or an
			 * unknown identity whose Finished came in a datagram of
			 * its own (on_epoch1 stays silent then). Say it now, the
			 * same way for both, and count it as what it likely was.
			 */
			fail(e, s, finished_failure(s), SG_TLS_ALERT_DECRYPT_ERROR);
			continue;
		}
		if (now.mono_ms >= s->expires) {
			count(e, SG_HS_C_TIMEOUT);
			slot_free(e, s);
			continue;
		}
		/*
		 * RFC 6347 §4.2.4.1: resend, double the timer up to the cap. A
		 * new period starts, and this is its one resend: a hello the
		 * client repeats before the next expiry gets nothing more.
		 */
		count(e, SG_HS_C_RETRANSMIT_TIMER);
		s->flags &= (uint16_t)~SF_RESENT;
		retransmit(e, s);
		s->rto = s->rto * 2 > e->conf.rto_max_ms ? e->conf.rto_max_ms : s->rto * 2;
		set_deadline(e, idx, now.mono_ms + s->rto);
	}
	while (e->linger_count > 0 && e->linger[e->linger_oldest].expires <= now.mono_ms) {
		linger_drop_oldest(e);
		done++;
	}
	/* A retransmitted abbreviated flight sealed its Finished again. */
	sg_rec_ctx_wipe_used(e->rec);
	return done;
}

uint64_t sg_hs_next_deadline(const struct sg_hs_engine *e)
{
	uint64_t t = e->cookies.rotated_ms + e->conf.cookie_rotate_ms;

	if (e->heap_len > 0 && e->slots[e->heap[0]].deadline < t)
		t = e->slots[e->heap[0]].deadline;
	if (e->linger_count > 0 && e->linger[e->linger_oldest].expires < t)
		t = e->linger[e->linger_oldest].expires;
	return t;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n && p < (1u << 31))
		p <<= 1;
	return p;
}

static int apply_defaults(struct sg_hs_config *c)
{
	if (c->max_handshakes == 0 || c->max_handshakes > (1u << 24) || c->ops.psk_lookup == NULL ||
	    c->ops.send == NULL || c->ops.install == NULL || c->cid_len > SG_HS_CID_MAX ||
	    c->cookie_policy > SG_HS_COOKIE_NEVER || c->psk_hint_len > SG_HS_HINT_MAX ||
	    c->dummy_psk_len > SG_TLS_PSK_MAX || (c->cid_len && c->ops.cid_alloc == NULL))
		return -EINVAL;
	if (c->linger_entries == 0)
		c->linger_entries = c->max_handshakes;
	if (c->cookie_threshold == 0)
		c->cookie_threshold = c->max_handshakes / 4 ? c->max_handshakes / 4 : 1;
	if (c->cookie_rotate_ms == 0)
		c->cookie_rotate_ms = 30000;
	if (c->ticket_lifetime_s == 0)
		c->ticket_lifetime_s = 86400;
	if (c->ticket_rotate_s == 0)
		c->ticket_rotate_s = 43200;
	if (c->session_lifetime_s == 0)
		c->session_lifetime_s = 86400;
	if (c->mtu == 0)
		c->mtu = 1280;
	if (c->mtu < MTU_MIN || c->mtu > MTU_MAX)
		return -EINVAL;
	if (c->record_size_limit == 0 || c->record_size_limit > SG_DTLS_MAX_PLAINTEXT)
		c->record_size_limit = SG_DTLS_MAX_PLAINTEXT;
	if (c->record_size_limit < SG_TLS_RECORD_SIZE_LIMIT_MIN)
		return -EINVAL;
	if (c->replay_window == 0)
		c->replay_window = SG_REPLAY_WINDOW_DEFAULT;
	if (c->replay_window < SG_REPLAY_WINDOW_MIN || c->replay_window > SG_REPLAY_WINDOW_MAX ||
	    (c->replay_window & (c->replay_window - 1)))
		return -EINVAL;
	if (c->dummy_psk_len == 0)
		c->dummy_psk_len = 16;
	if (c->rto_initial_ms == 0)
		c->rto_initial_ms = SG_DTLS_RTO_INITIAL_MS;
	if (c->rto_max_ms == 0)
		c->rto_max_ms = SG_DTLS_RTO_MAX_MS;
	if (c->handshake_timeout_ms == 0)
		c->handshake_timeout_ms = 60000;
	if (c->linger_ms == 0)
		c->linger_ms = 30000;
	return 0;
}

struct sg_hs_engine *sg_hs_engine_create(const struct sg_hs_config *conf)
{
	/* Handshake keys are used for one or two records, one at a time: no GCM key
	 * cache, and the single-buffer manager. */
	struct sg_rec_ctx_conf rconf = { .window_bits = HS_SA_WINDOW,
		                         .gcm_cache_entries = 4,
		                         .flags =
		                                 SG_REC_CTX_F_NO_GCM_CACHE | SG_REC_CTX_F_LATENCY };
	struct sg_hs_engine *e;
	int err = ENOMEM;

	/*
	 * No forgery limit on handshake keys: a record that does not
	 * authenticate is dropped and the handshake goes on (RFC 6347
	 * §4.1.2.7), so CCM_8's RFC 9147 §4.5.3 limit of 2^7 would let 128
	 * forged records lock the client's Finished out. These keys open two
	 * records or so and live one handshake plus linger_ms; the installed
	 * session's SA counts from zero under the data plane's limit.
	 */
	for (unsigned i = 0; i < SG_AEAD_MAX; i++)
		rconf.auth_fail_limit[i] = UINT32_MAX;

	if (conf == NULL) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		goto fail;
	e->conf = *conf;
	if (apply_defaults(&e->conf) < 0) {
		err = EINVAL;
		goto fail_engine;
	}
	for (unsigned i = 0; i < SG_HS_SUITES_MAX && e->conf.suites[i]; i++) {
		const struct sg_suite *su = suite_negotiable(e->conf.suites[i]);

		if (su == NULL) {
			err = EINVAL;
			goto fail_engine;
		}
		e->prefs[e->n_prefs++] = su;
	}
	for (unsigned i = 0; e->n_prefs == 0 && i < SG_SUITES_RANKED; i++)
		e->prefs[i] = &sg_suites[i];
	if (e->n_prefs == 0)
		e->n_prefs = SG_SUITES_RANKED;

	if (sg_hs_crypto_init(&e->crypto) < 0)
		goto fail_engine;
	rconf.cid_len = e->conf.cid_len;
	e->rec = sg_rec_ctx_create(&rconf);
	if (e->rec == NULL)
		goto fail_crypto;
	if (sg_hs_random((uint8_t *)&e->seed, sizeof(e->seed)) < 0 ||
	    sg_hs_cookie_init(&e->crypto, &e->cookies, 0) < 0 ||
	    sg_hs_ticket_keys_init(&e->crypto, &e->tickets, 0) < 0)
		goto fail_rec;

	e->n_slots = e->conf.max_handshakes;
	e->slots = aligned_alloc(SG_CACHE_LINE, sizeof(*e->slots) * e->n_slots);
	e->bucket_mask = pow2_at_least(2 * e->n_slots) - 1;
	e->buckets = malloc(sizeof(uint32_t) * (e->bucket_mask + 1));
	e->heap = malloc(sizeof(uint32_t) * e->n_slots);
	e->n_linger = e->conf.linger_entries;
	e->linger = aligned_alloc(SG_CACHE_LINE, sizeof(*e->linger) * e->n_linger);
	e->lbucket_mask = pow2_at_least(2 * e->n_linger) - 1;
	e->lbuckets = malloc(sizeof(uint32_t) * (e->lbucket_mask + 1));
	e->result_sa_size = sg_rec_sa_size(e->conf.replay_window);
	e->result_sa = aligned_alloc(SG_CACHE_LINE, e->result_sa_size);
	e->tx = malloc(e->conf.mtu);
	e->scratch_len = SCRATCH_LEN;
	e->scratch = malloc(e->scratch_len);
	if (e->slots == NULL || e->buckets == NULL || e->heap == NULL || e->linger == NULL ||
	    e->lbuckets == NULL || e->result_sa == NULL || e->tx == NULL || e->scratch == NULL)
		goto fail_mem;
	/* Touched now, not page by page in the middle of a storm. */
	memset(e->slots, 0, sizeof(*e->slots) * e->n_slots);
	memset(e->linger, 0, sizeof(*e->linger) * e->n_linger);
	memset(e->buckets, 0xff, sizeof(uint32_t) * (e->bucket_mask + 1));
	memset(e->lbuckets, 0xff, sizeof(uint32_t) * (e->lbucket_mask + 1));
	e->free_head = NONE;
	e->mkey_slot = NONE;
	for (uint32_t i = e->n_slots; i-- > 0;) {
		struct hs_slot *s = &e->slots[i];

		sg_hs_reasm_init(&s->reasm, s->u.reasm_buf, REASM_CAP);
		s->heap_pos = NONE;
		s->hnext = e->free_head;
		e->free_head = i;
	}
	return e;

fail_mem:
	sg_hs_engine_free(e);
	errno = ENOMEM;
	return NULL;
fail_rec:
	sg_rec_ctx_free(e->rec);
fail_crypto:
	sg_hs_crypto_fini(&e->crypto);
fail_engine:
	sg_wipe(e, sizeof(*e));
	free(e);
fail:
	errno = err;
	return NULL;
}

void sg_hs_engine_free(struct sg_hs_engine *e)
{
	if (e == NULL)
		return;
	for (uint32_t i = 0; e->slots && i < e->n_slots; i++) {
		struct hs_slot *s = &e->slots[i];

		if (s->state != HS_FREE)
			slot_free(e, s);
		sg_wipe(s, sizeof(*s));
	}
	free(e->slots);
	free(e->buckets);
	free(e->heap);
	if (e->linger)
		sg_wipe(e->linger, sizeof(*e->linger) * e->n_linger);
	free(e->linger);
	free(e->lbuckets);
	if (e->result_sa)
		sg_wipe(e->result_sa, e->result_sa_size);
	free(e->result_sa);
	free(e->tx);
	if (e->scratch)
		sg_wipe(e->scratch, e->scratch_len);
	free(e->scratch);
	sg_hs_cookie_wipe(&e->cookies);
	sg_hs_ticket_keys_wipe(&e->tickets);
	sg_rec_ctx_free(e->rec);
	sg_hs_crypto_fini(&e->crypto);
	sg_wipe(e, sizeof(*e));
	free(e);
}

int sg_hs_ticket_keys_export(const struct sg_hs_engine *e, uint8_t *buf, size_t cap)
{
	return sg_hs_ticket_keys_export_raw(&e->tickets, buf, cap);
}

int sg_hs_ticket_keys_import(struct sg_hs_engine *e, const uint8_t *buf, size_t len)
{
	return sg_hs_ticket_keys_import_raw(&e->crypto, &e->tickets, buf, len);
}

const struct sg_rec_ctx *sg_hs_engine_rec_ctx(const struct sg_hs_engine *e)
{
	return e->rec;
}

void sg_hs_stats_get(const struct sg_hs_engine *e, struct sg_hs_stats *st)
{
	memcpy(st->c, e->counters, sizeof(st->c));
	st->in_flight = e->in_flight;
	st->lingering = e->linger_count;
}

static const char *const counter_names[SG_HS_C_MAX] = {
	[SG_HS_C_DGRAM_HANDLED] = "dgram_handled",
	[SG_HS_C_DROP_MALFORMED] = "drop_malformed",
	[SG_HS_C_DROP_NO_STATE] = "drop_no_state",
	[SG_HS_C_DROP_UNEXPECTED] = "drop_unexpected",
	[SG_HS_C_DROP_FRAGMENTED_CH] = "drop_fragmented_client_hello",
	[SG_HS_C_DROP_POOL_FULL] = "drop_pool_full",
	[SG_HS_C_DROP_COOKIE_BAD] = "drop_cookie_bad",
	[SG_HS_C_DROP_COOKIE_EXPIRED] = "drop_cookie_expired",
	[SG_HS_C_DROP_ADMISSION] = "drop_admission",
	[SG_HS_C_DROP_UNAUTHENTICATED] = "drop_unauthenticated",
	[SG_HS_C_DROP_DUPLICATE] = "drop_duplicate",
	[SG_HS_C_HVR_SENT] = "hello_verify_sent",
	[SG_HS_C_STARTED] = "started",
	[SG_HS_C_COMPLETED_FULL] = "completed_full",
	[SG_HS_C_COMPLETED_RESUMED] = "completed_resumed",
	[SG_HS_C_TICKET_ISSUED] = "ticket_issued",
	[SG_HS_C_TICKET_REJECTED] = "ticket_rejected",
	[SG_HS_C_RETRANSMIT_TIMER] = "retransmit_timer",
	[SG_HS_C_RETRANSMIT_PEER] = "retransmit_peer",
	[SG_HS_C_LINGER_RESENT] = "linger_resent",
	[SG_HS_C_TIMEOUT] = "timeout",
	[SG_HS_C_REPLACED] = "replaced",
	[SG_HS_C_PEER_ALERT] = "peer_alert",
	[SG_HS_C_SEND_FAILED] = "send_failed",
	[SG_HS_C_AMPLIFICATION_HELD] = "amplification_held",
	[SG_HS_C_FAIL_PROTOCOL_VERSION] = "fail_protocol_version",
	[SG_HS_C_FAIL_FALLBACK] = "fail_inappropriate_fallback",
	[SG_HS_C_FAIL_NO_SUITE] = "fail_no_shared_suite",
	[SG_HS_C_FAIL_NO_GROUP] = "fail_no_shared_group",
	[SG_HS_C_FAIL_EMS_REQUIRED] = "fail_ems_required",
	[SG_HS_C_FAIL_RENEGOTIATION] = "fail_renegotiation",
	[SG_HS_C_FAIL_DECODE] = "fail_decode_error",
	[SG_HS_C_FAIL_ILLEGAL_PARAMETER] = "fail_illegal_parameter",
	[SG_HS_C_FAIL_UNEXPECTED_MESSAGE] = "fail_unexpected_message",
	[SG_HS_C_FAIL_UNKNOWN_IDENTITY] = "fail_unknown_identity",
	[SG_HS_C_FAIL_POLICY] = "fail_policy",
	[SG_HS_C_FAIL_BAD_FINISHED] = "fail_bad_finished",
	[SG_HS_C_FAIL_CRED_STORE] = "fail_credential_store",
	[SG_HS_C_FAIL_INSTALL] = "fail_install",
	[SG_HS_C_FAIL_REVOKED] = "fail_credential_revoked",
	[SG_HS_C_FAIL_INTERNAL] = "fail_internal",
};

const char *sg_hs_counter_name(enum sg_hs_counter c)
{
	if ((unsigned)c >= SG_HS_C_MAX || counter_names[c] == NULL)
		return "unknown";
	return counter_names[c];
}

int sg_hs_finished_again(struct sg_hs_engine *e, struct sg_hs_time now,
                         const struct sg_hs_peer *peer)
{
	struct rx_ctx x = { .now = now, .peer = peer, .drop = -1 };
	struct hs_linger *l;

	if (e == NULL || peer == NULL)
		return -EINVAL;
	x.hash = peer_hash(e->seed, peer);
	l = linger_find(e, peer, x.hash);
	if (l == NULL)
		return -ENOENT;
	if (now.mono_ms < l->next_resend)
		return -EAGAIN;
	l->next_resend = now.mono_ms + e->conf.rto_initial_ms;
	linger_resend(e, &x, l);
	return 0;
}

unsigned sg_hs_revoke(struct sg_hs_engine *e,
                      bool (*match)(void *ctx, const uint8_t *identity, size_t len), void *ctx)
{
	unsigned n = 0;

	if (e == NULL || match == NULL)
		return 0;
	for (uint32_t i = 0; i < e->n_slots; i++) {
		struct hs_slot *s = &e->slots[i];

		/*
		 * The identity is in the slot once the key exchange (full) or the
		 * ticket (abbreviated) named it; before, the union holds reassembly
		 * bytes and the lookup is still to come.
		 */
		if (s->state != HS_WAIT_FINISHED && s->state != HS_WAIT_RESUMED)
			continue;
		if (!match(ctx, s->u.identity, s->identity_len))
			continue;
		fail(e, s, SG_HS_C_FAIL_REVOKED, SG_TLS_ALERT_DECRYPT_ERROR);
		n++;
	}
	sg_rec_ctx_wipe_used(e->rec); /* a resumed handshake's alert was sealed */
	return n;
}

int sg_hs_policy_set(struct sg_hs_engine *e, const struct sg_hs_policy *p)
{
	const struct sg_suite *prefs[SG_HS_SUITES_MAX];
	unsigned n = 0;

	if (e == NULL || p == NULL || p->cookie_policy > SG_HS_COOKIE_NEVER)
		return -EINVAL;
	for (unsigned i = 0; i < SG_HS_SUITES_MAX && p->suites[i]; i++) {
		prefs[n] = suite_negotiable(p->suites[i]);
		if (prefs[n] == NULL)
			return -EINVAL;
		n++;
	}
	for (unsigned i = 0; n == 0 && i < SG_SUITES_RANKED; i++)
		prefs[i] = &sg_suites[i];
	if (n == 0)
		n = SG_SUITES_RANKED;
	memcpy(e->prefs, prefs, n * sizeof(prefs[0]));
	e->n_prefs = n;
	memcpy(e->conf.suites, p->suites, sizeof(e->conf.suites));
	e->conf.cookie_policy = p->cookie_policy;
	e->conf.cookie_threshold = p->cookie_threshold;
	if (e->conf.cookie_threshold == 0) /* as apply_defaults() */
		e->conf.cookie_threshold = e->conf.max_handshakes / 4;
	if (e->conf.cookie_threshold == 0)
		e->conf.cookie_threshold = 1;
	e->conf.session_lifetime_s = p->session_lifetime_s ? p->session_lifetime_s : 86400;
	return 0;
}
