/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The restore driver and the record of a live session (sg_store_sess.h).
 * The walk opens each record (store.c), this file turns it into an SA and
 * a struct sg_sess_new at the restart's floors, and inserts them in bulks
 * of BULK at their old ids; then it deletes what did not come back (a
 * second, raw walk, only when something did not). Control plane (the
 * gateway thread), before the workers start; it is the table's single
 * writer meanwhile.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stormgate/common.h>

#include "sg_store_sess.h"
#include "store_priv.h"

/* Sessions per sg_sess_insert_bulk(): the table prefetches their buckets together. */
#define BULK 256
/* Records between two progress reports (a power of two). */
#define PROGRESS_EVERY 65536

/* SG_STORE_F_* of the SA's flags and back: one table. */
static const struct {
	uint8_t store, sa;
} sa_flags[] = {
	{ SG_STORE_F_RX_CID, SG_SA_F_RX_CID },
	{ SG_STORE_F_TX_CID, SG_SA_F_TX_CID },
	{ SG_STORE_F_RRC, SG_SA_F_RRC },
	{ SG_STORE_F_ETM, SG_SA_F_ETM },
};

struct restore_ctx {
	struct sg_sess_table *t;
	const struct sg_store_restore_params *p;
	struct sg_store_restore_result *r;
	const struct sg_store_stats *stats; /* the walk's counters so far */
	unsigned window;
	size_t sa_size;
	unsigned n;      /* prepared in the bulk */
	uint8_t *sas;    /* BULK SAs of sa_size (any suite's: sg_rec_sa_size_max()) bytes */
	uint64_t handed; /* records the walk handed on */
	uint64_t *back;  /* a bit per table slot: restored (the rest are deleted after) */
	uint32_t cap;    /* the table's slots */
	struct sg_store_rec recs[BULK];
	struct sg_sess_new news[BULK];
	uint64_t ids[BULK];
	int rcs[BULK];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* FNV-1a over the tuple: spreads the sessions over the workers, stable across restarts. */
static uint16_t owner_of(const struct sg_sess_tuple *tu, unsigned n_workers)
{
	const uint8_t *b = (const uint8_t *)tu;
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < sizeof(*tu); i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	return (uint16_t)(h % (n_workers ? n_workers : 1));
}

/* The next write sequence and the receive floor this restart allows. */
static void floors_of(const struct sg_store_restore_params *p, const struct sg_store_rec *rec,
                      uint64_t *tx, uint64_t *rx)
{
	*tx = rec->tx_seq;
	*rx = rec->rx_top;
	if (p->exact)
		return;
	/* A crash: the workers may have sealed up to a step past the last floor posted
	 * (and up to the documented number of posts may have been dropped: the margin). */
	*tx += (uint64_t)p->seq_step + p->seq_margin;
	if (p->strict)
		*rx += p->seq_step;
}

/* Build the SA of rec at sa (sg_rec_sa_size_max(window) bytes: a CBC SA's MAC line too).
 * 0 or -EINVAL (fields the record layer refuses). */
static int sa_of(const struct restore_ctx *c, const struct sg_store_rec *rec, struct sg_rec_sa *sa)
{
	struct sg_rec_sa_params sp = {
		.aead = (enum sg_aead)rec->aead,
		.epoch = rec->epoch,
		.rx_key = rec->rx_key,
		.tx_key = rec->tx_key,
		.rx_iv = rec->rx_iv,
		.tx_iv = rec->tx_iv,
		.rx_mac = sg_aead_wide(rec->aead) ? rec->rx_mac : NULL,
		.tx_mac = sg_aead_wide(rec->aead) ? rec->tx_mac : NULL,
		.max_plaintext = rec->max_plaintext,
	};
	uint64_t tx, rx;

	for (size_t i = 0; i < SG_ARRAY_SIZE(sa_flags); i++)
		if (rec->flags & sa_flags[i].store)
			sp.flags |= sa_flags[i].sa;
	if (sg_rec_sa_init(sa, c->window, &sp) != 0)
		return -EINVAL;
	floors_of(c->p, rec, &tx, &rx);
	sg_rec_sa_restore_floors(sa, c->window, tx, rx);
	return 0;
}

/* Turn the walk's record into entry c->n of the bulk. 0 or -EINVAL. */
static int prepare(struct restore_ctx *c, uint32_t slot, const struct sg_store_rec *rec)
{
	struct sg_store_rec *keep = &c->recs[c->n];
	struct sg_rec_sa *sa = (struct sg_rec_sa *)(void *)(c->sas + c->n * c->sa_size);
	struct sg_sess_new *s = &c->news[c->n];
	bool by_cid = rec->flags & SG_STORE_F_CID;

	/* The table's CIDs have one length: a record of another cannot keep its CID. */
	if (by_cid && rec->cid_len != sg_sess_cid_len(c->t))
		return -EINVAL;
	*keep = *rec;
	if (sa_of(c, keep, sa) != 0) {
		sg_store_rec_wipe(keep);
		return -EINVAL;
	}
	memset(s, 0, sizeof(*s));
	s->sa = sa;
	s->tuple = keep->tuple;
	s->cid = by_cid ? keep->cid : NULL;
	s->peer_cid = keep->peer_cid;
	s->peer_cid_len = keep->peer_cid_len;
	s->flags = (uint8_t)((keep->flags & SG_STORE_F_TUPLE ? SG_SESS_F_TUPLE : 0) |
	                     (by_cid ? SG_SESS_F_CID : 0) | SG_SESS_F_ID);
	s->owner = c->p->owner != NULL ? c->p->owner(c->p->arg, &keep->tuple)
	                               : owner_of(&keep->tuple, c->p->n_workers);
	s->suite = keep->suite;
	s->backend = keep->backend;
	s->expires = keep->expires;
	s->last_rx = keep->last_rx;
	s->id = (uint64_t)keep->gen << 32 | slot;
	c->n++;
	return 0;
}

/* Insert the prepared bulk, run restored() on each, wipe every copy. */
static void flush(struct restore_ctx *c)
{
	const struct sg_store_restore_params *p = c->p;
	uint64_t t0 = mono_ns();

	if (c->n == 0)
		return;
	sg_sess_insert_bulk(c->t, c->news, c->n, c->ids, NULL, c->rcs);
	for (unsigned i = 0; i < c->n; i++) {
		if (c->rcs[i] != 0) {
			c->r->failed++;
		} else if (p->restored != NULL &&
		           p->restored(p->arg, c->ids[i], &c->recs[i]) != 0) {
			sg_sess_delete(c->t, c->ids[i]);
			c->r->failed++;
		} else {
			uint32_t slot = (uint32_t)c->ids[i];

			c->r->restored++;
			if (slot < c->cap)
				c->back[slot / 64] |= UINT64_C(1) << (slot % 64);
		}
	}
	sg_wipe(c->sas, c->n * c->sa_size);
	sg_wipe(c->recs, c->n * sizeof(c->recs[0]));
	c->n = 0;
	c->r->insert_ns += mono_ns() - t0;
}

/* Records walked so far: handed on, expired or refused. */
static uint64_t walked(const struct restore_ctx *c)
{
	uint64_t n = c->handed + c->stats->expired;

	for (unsigned i = 0; i < SG_STORE_BAD_MAX; i++)
		n += c->stats->refused[i];
	return n;
}

static int on_rec(uint32_t slot, const struct sg_store_rec *rec, void *arg)
{
	struct restore_ctx *c = arg;
	const struct sg_store_restore_params *p = c->p;

	c->handed++;
	if (p->check != NULL && p->check(p->arg, rec) != 0)
		c->r->revoked++;
	else if (prepare(c, slot, rec) != 0)
		c->r->failed++;
	if (c->n == BULK)
		flush(c);
	if (p->progress != NULL && (c->handed & (PROGRESS_EVERY - 1)) == 0)
		p->progress(p->arg, walked(c), c->r->restored);
	return 0;
}

/* The slots to delete after the walk (the walk must not write to the store). */
struct sweep {
	struct sg_store *st;
	const struct restore_ctx *c;
	uint32_t *slots;
	size_t n, cap;
};

static bool restored_slot(const struct restore_ctx *c, uint32_t slot)
{
	return slot < c->cap && (c->back[slot / 64] >> (slot % 64) & 1);
}

/*
 * A raw record of the store: restored, kept (another key, a newer version:
 * not damage), or to delete; a damaged one is told to damaged() first.
 */
static int sweep_one(uint32_t slot, const uint8_t *raw, size_t len, void *arg)
{
	struct sweep *w = arg;
	const struct sg_store_restore_params *p = w->c->p;
	struct sg_store_rec rec;
	enum sg_store_bad bad;
	uint32_t *grown;
	int rc;

	if (restored_slot(w->c, slot))
		return 0;
	rc = sg_store_rec_unseal(&w->st->sealer, slot, raw, len, &rec);
	sg_store_rec_wipe(&rec);
	bad = rc != 0 ? sg_store_bad_of(rc) : SG_STORE_BAD_MAX;
	if (bad == SG_STORE_BAD_KEY_ID || bad == SG_STORE_BAD_VERSION) {
		w->c->r->kept++;
		return 0;
	}
	if (rc != 0 && p->damaged != NULL)
		p->damaged(p->arg, slot, rc);
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 1024;
		grown = realloc(w->slots, w->cap * sizeof(*w->slots));
		if (grown == NULL)
			return -ENOMEM;
		w->slots = grown;
	}
	w->slots[w->n++] = slot;
	return 0;
}

/*
 * Delete every record the restore did not put in the table (expired,
 * revoked, failed, damaged) in the open group: the store then holds what
 * the table holds. 0 or -errno (the backend's, or -ENOMEM).
 */
static int sweep(struct sg_store *st, const struct restore_ctx *c)
{
	struct sweep w = { .st = st, .c = c };
	int rc = st->ops->iterate(st->be, sweep_one, &w);

	for (size_t i = 0; rc == 0 && i < w.n; i++) {
		rc = sg_store_del(st, w.slots[i]);
		if (rc == 0)
			c->r->deleted++;
		else if (rc == -ENOENT)
			rc = 0;
	}
	free(w.slots);
	return rc;
}

int sg_store_restore(struct sg_store *st, struct sg_sess_table *t,
                     const struct sg_store_restore_params *p, struct sg_store_restore_result *r)
{
	struct restore_ctx *c;
	uint64_t t0 = mono_ns();
	int rc;

	memset(r, 0, sizeof(*r));
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->t = t;
	c->p = p;
	c->r = r;
	c->stats = &st->stats;
	c->window = sg_sess_replay_window(t);
	c->sa_size = sg_rec_sa_size_max(c->window);
	c->cap = sg_sess_capacity(t);
	c->sas = aligned_alloc(SG_CACHE_LINE, BULK * c->sa_size);
	c->back = calloc((size_t)c->cap / 64 + 1, sizeof(*c->back));
	if (c->sas == NULL || c->back == NULL) {
		free(c->sas);
		free(c->back);
		free(c);
		return -ENOMEM;
	}
	rc = sg_store_iterate(st, p->now, on_rec, c);
	flush(c);
	r->seen = walked(c);
	r->expired = st->stats.expired;
	for (unsigned i = 0; i < SG_STORE_BAD_MAX; i++)
		r->refused += st->stats.refused[i];
	if (rc == 0 && r->seen > r->restored)
		rc = sweep(st, c);
	if (p->progress != NULL)
		p->progress(p->arg, r->seen, r->restored);
	free(c->sas);
	free(c->back);
	sg_wipe(c, sizeof(*c));
	free(c);
	r->ns = mono_ns() - t0;
	r->open_ns = r->ns - r->insert_ns;
	return rc;
}

void sg_store_rec_from_session(struct sg_store_rec *rec, const struct sg_sess_info *info,
                               const struct sg_rec_sa *sa)
{
	unsigned klen = sg_aead_key_len((enum sg_aead)sa->aead);
	unsigned ivlen = sg_aead_iv_len((enum sg_aead)sa->aead);
	unsigned maclen = sg_aead_mac_key_len((enum sg_aead)sa->aead);

	memset(rec, 0, sizeof(*rec));
	rec->gen = (uint32_t)(info->id >> 32);
	rec->expires = info->expires;
	rec->last_rx = info->last_rx;
	rec->tx_seq = sg_rec_sa_tx_seq(sa);
	rec->rx_top = sa->rx_top;
	rec->suite = info->suite;
	rec->epoch = sa->epoch;
	rec->max_plaintext = (uint16_t)sg_rec_sa_max_plaintext(sa);
	rec->aead = sa->aead;
	rec->flags = (uint8_t)((info->flags & SG_SESS_F_TUPLE ? SG_STORE_F_TUPLE : 0) |
	                       (info->flags & SG_SESS_F_CID ? SG_STORE_F_CID : 0));
	for (size_t i = 0; i < SG_ARRAY_SIZE(sa_flags); i++)
		if (sa->flags & sa_flags[i].sa)
			rec->flags |= sa_flags[i].store;
	rec->cid_len = info->cid_len;
	memcpy(rec->cid, info->cid, sizeof(rec->cid));
	rec->peer_cid_len = info->peer_cid_len;
	memcpy(rec->peer_cid, info->peer_cid, info->peer_cid_len);
	rec->tuple = info->tuple;
	memcpy(rec->rx_key, sa->rx_key, klen);
	memcpy(rec->tx_key, sa->tx_key, klen);
	memcpy(rec->rx_iv, sa->rx_iv, ivlen);
	memcpy(rec->tx_iv, sa->tx_iv, ivlen);
	if (maclen > 0) {
		/* The MAC line follows the SA and its replay tail (sg_rec_sa_mac()). */
		const uint8_t *mac = (const uint8_t *)sa + sg_rec_sa_size(info->replay_window);

		memcpy(rec->rx_mac, mac + offsetof(struct sg_rec_sa_mac, rx_mac), maclen);
		memcpy(rec->tx_mac, mac + offsetof(struct sg_rec_sa_mac, tx_mac), maclen);
	}
}
