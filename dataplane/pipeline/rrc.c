/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Return routability checks of one worker (RFC 9853): the table of pending
 * checks and the cookie generator. worker.c decides when a check starts
 * (an authenticated, newest CID record from a new address, RFC 9146 §6) and
 * seals and sends the messages; this file only keeps the state. Everything
 * but dp_rrc_init() runs on the owning worker: no system call, lock,
 * allocation or logging.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <rte_branch_prediction.h>

#include "dp_priv.h"

int dp_rrc_init(struct dp_rrc *r)
{
	memset(r, 0, sizeof(*r));
	r->pool_used = DP_RRC_POOL; /* empty: the first cookie fills it */
	/* Control thread at create: the kernel CSPRNG keys the worker's keystream. */
	if (getrandom(r->key, sizeof(r->key), 0) != (ssize_t)sizeof(r->key))
		return -EIO;
	return 0;
}

void dp_rrc_wipe(struct dp_rrc *r)
{
	sg_wipe(r, sizeof(*r));
}

/*
 * 8 bytes of keystream: the pool is the AES-128-GCM ciphertext of zeros
 * (AES-CTR from the counter block after J0, RFC 5288 §3 / NIST SP 800-38D),
 * nonce = 0^32 ‖ a 64-bit counter that never repeats under the key. Each
 * cookie is taken once and its bytes wiped from the pool.
 */
static int rrc_cookie(struct dp_worker *w, uint8_t cookie[SG_RRC_COOKIE_LEN])
{
	struct dp_rrc *r = &w->rrc;
	int rc;

	if (r->pool_used + SG_RRC_COOKIE_LEN > DP_RRC_POOL) {
		uint8_t nonce[SG_DTLS_AEAD_NONCE_LEN] = { 0 }, tag[16];
		struct sg_aead_op op = {
			.aead = SG_AEAD_AES_128_GCM,
			.dir = SG_AEAD_DIR_SEAL,
			.key = r->key,
			.nonce = nonce,
			.in = r->pool,
			.out = r->pool,
			.len = DP_RRC_POOL,
			.tag = tag,
		};

		memcpy(nonce + 4, &r->nonce, sizeof(r->nonce));
		r->nonce++;
		memset(r->pool, 0, sizeof(r->pool));
		rc = sg_aead_burst(w->rec, &op, 1) == 1 ? 0 : -EIO;
		sg_wipe(tag, sizeof(tag));
		if (rc != 0) {
			sg_wipe(r->pool, sizeof(r->pool));
			return rc;
		}
		r->pool_used = 0;
	}
	memcpy(cookie, r->pool + r->pool_used, SG_RRC_COOKIE_LEN);
	sg_wipe(r->pool + r->pool_used, SG_RRC_COOKIE_LEN);
	r->pool_used += SG_RRC_COOKIE_LEN;
	return 0;
}

static void rrc_free(struct dp_worker *w, struct dp_rrc_check *c)
{
	sg_wipe(c, sizeof(*c));
	w->rrc.pending--;
}

int dp_rrc_start(struct dp_worker *w, uint64_t sess, const struct sg_sess_tuple *cand,
                 uint8_t cookie[SG_RRC_COOKIE_LEN])
{
	struct dp_rrc *r = &w->rrc;
	struct dp_rrc_check *c;

	for (unsigned i = 0; r->pending != 0 && i < DP_RRC_CHECKS; i++) {
		c = &r->chk[i];
		if (c->deadline == 0 || c->sess != sess)
			continue;
		/*
		 * RFC 9853 §5: nested rebindings are not handled; a check in
		 * progress runs to its answer or its timeout, and a new one may
		 * start after that.
		 */
		if (w->now_tsc < c->deadline)
			return -EALREADY;
		dp_count(&w->c.rrc_timeouts, 1);
		rrc_free(w, c);
	}
	c = &r->chk[r->next];
	if (c->deadline != 0) {
		/* Every entry taken: the oldest check gives way. */
		dp_count(w->now_tsc < c->deadline ? &w->c.rrc_evicted : &w->c.rrc_timeouts, 1);
		rrc_free(w, c);
	}
	if (rrc_cookie(w, cookie) != 0)
		return -EIO;
	r->next = (r->next + 1) % DP_RRC_CHECKS;
	c->sess = sess;
	c->cand = *cand;
	memcpy(c->cookie, cookie, SG_RRC_COOKIE_LEN);
	/* RFC 9853 §5.5: T (1 s without RTT information, or as configured). */
	c->deadline = w->now_tsc + w->dp->rrc_tsc;
	if (r->pending++ == 0)
		r->sweep_at = c->deadline;
	return 0;
}

bool dp_rrc_answer(struct dp_worker *w, uint64_t sess, const uint8_t *cookie,
                   const struct sg_sess_tuple *from)
{
	struct dp_rrc *r = &w->rrc;

	for (unsigned i = 0; r->pending != 0 && i < DP_RRC_CHECKS; i++) {
		struct dp_rrc_check *c = &r->chk[i];

		if (c->deadline == 0 || c->sess != sess)
			continue;
		/*
		 * RFC 9853 §5.1 step 4: the cookie we sent, in time (step 5), and
		 * from the address we sent it to: an answer from elsewhere proves
		 * nothing about the candidate address.
		 */
		if (w->now_tsc >= c->deadline ||
		    sg_ct_memcmp(c->cookie, cookie, SG_RRC_COOKIE_LEN) != 0 ||
		    memcmp(&c->cand, from, sizeof(*from)) != 0)
			return false;
		rrc_free(w, c);
		return true;
	}
	return false;
}

void dp_rrc_sweep(struct dp_worker *w, uint64_t tsc)
{
	struct dp_rrc *r = &w->rrc;
	uint64_t next = UINT64_MAX;

	for (unsigned i = 0; r->pending != 0 && i < DP_RRC_CHECKS; i++) {
		struct dp_rrc_check *c = &r->chk[i];

		if (c->deadline == 0)
			continue;
		if (tsc >= c->deadline) {
			/* RFC 9853 §5.1 step 5: no answer, the binding stays. */
			dp_count(&w->c.rrc_timeouts, 1);
			rrc_free(w, c);
		} else if (c->deadline < next) {
			next = c->deadline;
		}
	}
	r->sweep_at = next;
}
