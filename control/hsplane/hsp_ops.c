/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One engine's callbacks (struct sg_hs_ops), on its handshake thread: the
 * PSK lookup in the credential store (an LMDB read transaction of its own,
 * the credential generation read first) and the certificate or raw public
 * key's policy from it, datagrams out through the
 * engine's control-TX handle, storm admission from the engine's own
 * buckets, CIDs from its cache; and the install, which copies the result
 * into a message of the engine's pool: the datagrams the engine then sends
 * the same peer in this burst (our final flight) ride in it, for the owner
 * to send only after the session is published. The messages of a burst go
 * on the FIFO in order when it ends (hsp_out_flush()). Writes struct
 * hsp_engine's engine fields; the owner serves and wipes the messages.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/record.h>
#include <stormgate/time.h>

#include "hsp_priv.h"
#include "sg_cred.h"
#include "sg_store_rec.h"

/*
 * The credential tag (sg_store_cred_tag() of the PSK) rides through the
 * engine to the install in the two opaque words the result hands back
 * (cred_ref, backend): the session store keeps it, and the owner compares
 * it with the credential's current one when the lookup may be stale
 * (sg_hsplane_lookup_stale()).
 */
static void cred_tag_carry(const uint8_t *psk, size_t len, struct sg_hs_cred *cred)
{
	uint8_t tag[SG_STORE_CRED_TAG_LEN];

	sg_store_cred_tag(psk, len, tag);
	cred->cred_ref = sg_load_be32(tag);
	cred->backend = sg_load_be32(tag + 4);
	sg_wipe(tag, sizeof(tag));
}

/*
 * RFC 4279 §2: the PSK of an identity from the LMDB store (a disabled one is
 * refused). The generation is read before the store: a change committed
 * after it moves the generation, so the install knows to check again.
 */
static int hsp_psk_lookup(void *ctx, const uint8_t *identity, size_t identity_len,
                          const uint8_t *sni, size_t sni_len, struct sg_hs_cred *cred)
{
	struct hsp_engine *e = ctx;
	uint64_t gen = __atomic_load_n(&e->p->cred_gen, __ATOMIC_ACQUIRE);
	struct sg_cred *cs = __atomic_load_n(&e->p->cred, __ATOMIC_ACQUIRE);
	struct sg_cred_entry ce;
	int rc;

	(void)sni;
	(void)sni_len;
	if (cs == NULL)
		return -EIO;
	rc = sg_cred_get(cs, identity, identity_len, &ce);
	if (rc == -EINVAL)
		return -ENOENT; /* not an identity we could store: unknown, no oracle */
	if (rc != 0)
		return rc == -ENOENT ? -ENOENT : -EIO;
	if ((ce.flags & SG_CRED_F_DISABLED) || ce.psk_len > sizeof(cred->psk)) {
		sg_wipe(&ce, sizeof(ce));
		return -EACCES;
	}
	memset(cred, 0, sizeof(*cred));
	memcpy(cred->psk, ce.psk, ce.psk_len);
	cred->psk_len = (uint16_t)ce.psk_len;
	/* 0: the engine's policy lifetime; the owner takes the jitter off at install */
	cred->lifetime_s = ce.key_lifetime;
	cred->user = gen;
	cred_tag_carry(ce.psk, ce.psk_len, cred);
	sg_wipe(&ce, sizeof(ce));
	return 0;
}

/*
 * The policy of a client that authenticated with a certificate or a raw
 * public key (ECDHE-ECDSA suites; ops.cert_lookup in handshake.h): a raw
 * public key's entry by the SHA-256 of its SPKI gives its identity, a
 * certificate identity's policy entry its lifetime. Their credential tag is
 * the first 8 bytes of the key's hash (raw public keys: the owner's
 * revocation guard finds the entry by it, sg_cred_rpk_holds()) or none
 * (certificates: their policy has no key to change). The generation is read
 * first, as for a PSK.
 */
static int hsp_cert_lookup(void *ctx, enum sg_hs_auth kind, const uint8_t *key, size_t key_len,
                           const uint8_t *sni, size_t sni_len, struct sg_hs_cred *cred,
                           uint8_t *identity, uint16_t *identity_len)
{
	struct hsp_engine *e = ctx;
	uint64_t gen = __atomic_load_n(&e->p->cred_gen, __ATOMIC_ACQUIRE);
	struct sg_cred *cs = __atomic_load_n(&e->p->cred, __ATOMIC_ACQUIRE);
	uint32_t flags, lifetime;
	int rc;

	(void)sni;
	(void)sni_len;
	if (cs == NULL)
		return -EIO;
	memset(cred, 0, sizeof(*cred));
	cred->user = gen; /* also for -ENOENT: an identity without a policy entry */
	if (kind == SG_HS_AUTH_RPK) {
		struct sg_cred_rpk r;

		if (key_len != SG_CRED_SPKI_HASH_LEN)
			return -ENOENT;
		rc = sg_cred_rpk_get(cs, key, &r);
		if (rc == 0 && r.identity_len > SG_TLS_PSK_IDENTITY_MAX)
			rc = -EBADMSG;
		if (rc == 0) {
			memcpy(identity, r.identity, r.identity_len);
			*identity_len = (uint16_t)r.identity_len;
			cred->cred_ref = sg_load_be32(key);
			cred->backend = sg_load_be32(key + 4);
		}
		flags = r.flags;
		lifetime = r.key_lifetime;
	} else if (kind == SG_HS_AUTH_X509) {
		struct sg_cred_policy p;

		rc = sg_cred_policy_get(cs, key, key_len, &p);
		if (rc == -EINVAL)
			rc = -ENOENT; /* not an identity we could store: no entry */
		flags = p.flags;
		lifetime = p.key_lifetime;
	} else {
		return -EINVAL;
	}
	if (rc != 0)
		return rc == -ENOENT ? -ENOENT : -EIO;
	if (flags & SG_CRED_F_DISABLED)
		return -EACCES;
	/* 0: the engine's policy lifetime; the owner takes the jitter off at install */
	cred->lifetime_s = lifetime;
	return 0;
}

static bool same_peer(const struct sg_hs_peer *a, const struct sg_hs_peer *b)
{
	return a->pport == b->pport && a->lport == b->lport &&
	       memcmp(a->paddr, b->paddr, 16) == 0 && memcmp(a->laddr, b->laddr, 16) == 0;
}

/* The install message of this burst for peer, if there is one. */
static struct hsp_msg *pending_install(struct hsp_engine *e, const struct sg_hs_peer *peer)
{
	for (unsigned i = e->n_outq; i-- > 0;)
		if (e->out[i]->kind == HSP_MSG_INSTALL && same_peer(&e->out[i]->res.peer, peer))
			return e->out[i];
	return NULL;
}

/*
 * A datagram to peer: behind its install when this burst installed it (sent
 * by the owner after the publish), else out now through the engine's
 * control-TX handle.
 */
static int hsp_send(void *ctx, const struct sg_hs_peer *p, const uint8_t *data, size_t len)
{
	struct hsp_engine *e = ctx;
	struct hsp_msg *m = pending_install(e, p);

	if (len > UINT16_MAX)
		return -EMSGSIZE;
	if (m != NULL) {
		if (m->n_out == HSP_FLIGHT_MAX || m->out_used + len > sizeof(m->out))
			return -ENOBUFS; /* counted send_failed; the client retransmits */
		memcpy(m->out + m->out_used, data, len);
		m->out_len[m->n_out++] = (uint16_t)len;
		m->out_used = (uint16_t)(m->out_used + len);
		return 0;
	}
	return sg_dp_ctl_send_mapped(e->p->conf.dp, e->tx, e->p->conf.tx_port, p->laddr, p->lport,
	                             p->paddr, p->pport, data, (uint16_t)len);
}

unsigned hsp_stash(struct hsp_engine *e, unsigned n)
{
	if (e->n_stash < n)
		e->n_stash += rte_ring_sc_dequeue_burst(e->free, (void **)e->stash + e->n_stash,
		                                        n - e->n_stash, NULL);
	return e->n_stash;
}

/* A message from the pool for this burst (NULL: none free, or the burst's list is full). */
static struct hsp_msg *msg_take(struct hsp_engine *e)
{
	struct hsp_msg *m;

	if (e->n_outq == RTE_DIM(e->out) || hsp_stash(e, 1) == 0)
		return NULL;
	m = e->stash[--e->n_stash];
	e->out[e->n_outq++] = m;
	return m;
}

/*
 * A handshake completed: its result and SA copied into a message; the
 * session is the owner's to install. -EBUSY when the pool is empty (the
 * owner is behind): the engine fails the handshake (internal_error).
 */
static int hsp_install(void *ctx, const struct sg_hs_result *res)
{
	struct hsp_engine *e = ctx;
	struct hsp_msg *m = msg_take(e);

	if (m == NULL) {
		e->fifo_full++;
		return -EBUSY;
	}
	m->kind = HSP_MSG_INSTALL;
	m->n_out = 0;
	m->out_used = 0;
	m->worker = (unsigned)res->tag;
	m->res = *res;
	/* the SA as wide as its suite makes it: a CBC SA's MAC line comes along */
	memcpy(m->sa, res->sa, sg_rec_sa_size_for(e->window, res->sa->aead));
	m->res.sa = m->sa;
	e->installs++;
	return 0;
}

bool hsp_record(struct hsp_engine *e, struct rte_mbuf *mb, const uint8_t *payload, uint16_t len,
                unsigned worker)
{
	struct hsp_msg *m = msg_take(e);

	if (m == NULL) {
		e->fifo_full++;
		return false;
	}
	m->kind = HSP_MSG_RECORD;
	m->m = mb;
	m->payload = payload;
	m->payload_len = len;
	m->worker = worker;
	e->records++;
	return true;
}

void hsp_out_flush(struct hsp_engine *e)
{
	unsigned k;

	if (e->n_outq == 0)
		return;
	/* The FIFO holds the whole pool: never full while messages come from it. */
	k = rte_ring_sp_enqueue_burst(e->fifo, (void *const *)e->out, e->n_outq, NULL);
	RTE_VERIFY(k == e->n_outq);
	e->n_outq = 0;
}

void hsp_msg_done(struct hsp_engine *e, struct hsp_msg *m)
{
	if (m->kind == HSP_MSG_INSTALL) {
		sg_wipe(m->sa, e->sa_size);
		sg_wipe(&m->res, sizeof(m->res));
		sg_wipe(m->out, m->out_used);
	}
	m->m = NULL;
	m->payload = NULL;
	m->n_out = 0;
	m->out_used = 0;
	RTE_VERIFY(rte_ring_sp_enqueue(e->free, m) == 0);
}

/* A CID the owner reserved for this engine (RFC 9146): -ENOSPC when the cache ran dry. */
static int hsp_cid_alloc(void *ctx, const struct sg_hs_peer *peer, uint8_t *cid)
{
	struct hsp_engine *e = ctx;
	uint8_t c[SG_HS_CID_MAX];

	(void)peer;
	if (rte_ring_sc_dequeue_elem(e->cids, c, sizeof(c)) != 0) {
		e->cid_empty++;
		return -ENOSPC;
	}
	__atomic_store_n(&e->cids_taken, e->cids_taken + 1, __ATOMIC_RELAXED);
	memcpy(cid, c, e->p->conf.hs.cid_len);
	return 0;
}

static void hsp_cid_release(void *ctx, const uint8_t *cid)
{
	struct hsp_engine *e = ctx;
	uint8_t c[SG_HS_CID_MAX] = { 0 };

	memcpy(c, cid, e->p->conf.hs.cid_len);
	if (rte_ring_sp_enqueue_elem(e->released, c, sizeof(c)) != 0)
		e->cid_lost++;
}

/* Storm admission from the engine's own buckets (its share of the rate). */
static int hsp_admit(void *ctx, const struct sg_hs_peer *peer)
{
	struct hsp_engine *e = ctx;

	return sg_admit_take_from(&e->admit, peer->paddr, sg_mono_ns()) == SG_ADMIT_OK ? 0 : -EBUSY;
}

void hsp_ops(struct hsp_engine *e, struct sg_hs_ops *ops)
{
	*ops = (struct sg_hs_ops){
		.ctx = e,
		.psk_lookup = hsp_psk_lookup,
		.cert_lookup = hsp_cert_lookup,
		.send = hsp_send,
		.install = hsp_install,
		.admit = hsp_admit,
	};
	if (e->p->conf.hs.cid_len > 0) {
		ops->cid_alloc = hsp_cid_alloc;
		ops->cid_release = hsp_cid_release;
	}
}
