/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The restore driver (control/store/store_sess.c) with a real session table
 * and a real LMDB store: every field of every shape of session goes table ->
 * store -> a new table and comes back the same (sg_sess_get and
 * sg_sess_get_sa), at exactly its old id and CID; crash and strict floors;
 * a damaged store (flipped byte, torn value, wrong key, unknown version, a
 * moved record, a truncated file) restores every record that verifies and
 * counts the rest; expired, revoked (check), refused by restored(), a slot
 * taken, CIDs of another length; what did not come back deleted from the
 * store. One thread, as the gateway thread does it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "sg_store_sess.h"
#include "tc_tmp.h"

#define WINDOW 128
#define CAP    4096

static const uint8_t cid_key[16] = { 0x53, 0x47, 0x2d, 0x73, 0x74, 0x6f, 0x72, 0x65,
	                             0x2d, 0x73, 0x65, 0x73, 0x73, 0x2d, 0x6b, 0x31 };

struct fixture {
	char dir[256];
	char db[300];
	struct sg_store_key key;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tc_tmpdir(f->dir, sizeof(f->dir), "store_sess") != 0)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/sessions", f->dir);
	memset(f->key.key, 0x3c, sizeof(f->key.key));
	if (sg_store_key_set_id(&f->key) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(tc_rmtree(f->dir), 0);
	sg_store_key_wipe(&f->key);
	free(f);
	return 0;
}

static struct sg_sess_table *mk_table(uint8_t cid_len)
{
	struct sg_sess_params p = {
		.capacity = CAP,
		.cid_len = cid_len,
		.cid_key = cid_key,
		.replay_window = WINDOW,
		.flags = SG_SESS_P_LAZY,
	};
	struct sg_sess_table *t = sg_sess_table_create(&p);

	assert_non_null(t);
	return t;
}

static struct sg_store *open_store(struct fixture *f)
{
	struct sg_store_params p = { .path = f->db, .map_size = 64u << 20 };
	struct sg_store *st = sg_store_open(NULL, &p, &f->key);

	assert_non_null(st);
	return st;
}

/* Shapes of sessions: every AEAD, tuple and CID, v4 and v6, peer CIDs inline and not. */
static const struct shape {
	enum sg_aead aead;
	uint16_t suite;
	uint8_t flags;    /* SG_SESS_F_TUPLE / SG_SESS_F_CID */
	uint8_t sa_flags; /* SG_SA_F_* */
	int v6;
	uint8_t peer_cid_len;
	uint64_t tx, rx;
	uint16_t max_pt;
} shapes[] = {
	{ SG_AEAD_AES_128_CCM_8, 0xC0A8, SG_SESS_F_CID, SG_SA_F_RX_CID, 0, 0, 5, 3, 0 },
	{ SG_AEAD_AES_128_GCM, 0x00A8, SG_SESS_F_TUPLE, 0, 0, 0, 1, 1, 1024 },
	{ SG_AEAD_AES_256_GCM, 0x00A9, SG_SESS_F_TUPLE, SG_SA_F_RRC, 1, 0, 100000, 99990, 512 },
	{ SG_AEAD_CHACHA20_POLY1305, 0xCCAB, SG_SESS_F_CID,
	  SG_SA_F_RX_CID | SG_SA_F_TX_CID | SG_SA_F_RRC, 1, 255, (UINT64_C(1) << 40) + 7,
	  (UINT64_C(1) << 39) + 1, 0 },
	{ SG_AEAD_AES_128_CCM, 0xC0A4, SG_SESS_F_CID | SG_SESS_F_TUPLE,
	  SG_SA_F_RX_CID | SG_SA_F_TX_CID, 0, 12, 65536, 70000, 2048 },
	/* CBC-SHA256 (issue 17): wide SAs, version 2 records; by 4-tuple only (no CIDs) */
	{ SG_AEAD_AES_128_CBC_SHA256, 0x00AE, SG_SESS_F_TUPLE, 0, 0, 0, 7, 6, 0 },
	{ SG_AEAD_AES_128_CBC_SHA256, 0xC023, SG_SESS_F_TUPLE, SG_SA_F_ETM, 1, 0, 90000, 89999,
	  1024 },
};
#define N_SHAPES SG_ARRAY_SIZE(shapes)

/* What the caller adds to a record: identity, cred tag, token, backend, by session number. */
static void caller_fields(struct sg_store_rec *rec, unsigned k)
{
	rec->identity_len = (uint8_t)(8 + k % 100);
	for (unsigned i = 0; i < rec->identity_len; i++)
		rec->identity[i] = (uint8_t)('a' + (i * 7 + k) % 26);
	for (unsigned i = 0; i < SG_STORE_CRED_TAG_LEN; i++)
		rec->cred_tag[i] = (uint8_t)(k * 31 + i);
	for (unsigned i = 0; i < SG_PP2_TOKEN_LEN; i++)
		rec->token[i] = (uint8_t)(k % 2 ? 0x70 + i + k : 0);
	rec->backend = 0x10000u + k;
}

/* Install session k of shape s into t; its id into *id. */
static void install(struct sg_sess_table *t, unsigned k, const struct shape *s, uint64_t *id)
{
	struct sg_rec_sa *sa = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size_max(WINDOW));
	uint8_t keys[2][32], ivs[2][12], macs[2][SG_DTLS_CBC_MAC_KEY_LEN], peer_cid[255];
	struct sg_rec_sa_params sp = {
		.aead = s->aead,
		.epoch = (uint16_t)(1 + k % 3),
		.flags = s->sa_flags,
		.rx_key = keys[0],
		.tx_key = keys[1],
		.rx_iv = ivs[0],
		.tx_iv = ivs[1],
		.rx_mac = macs[0],
		.tx_mac = macs[1],
		.tx_seq = s->tx + k,
		.rx_seq = s->rx + k,
		.max_plaintext = s->max_pt,
	};
	struct sg_sess_new n = {
		.flags = s->flags,
		.suite = s->suite,
		.backend = 0x10000u + k,
		.expires = 2000000000u + k,
		.last_rx = 1700000000u + k,
		.peer_cid = peer_cid,
		.peer_cid_len = s->peer_cid_len,
	};
	uint8_t laddr[16] = { 0xfd, 0, 0x53, 0x47, [15] = 1 };
	uint8_t paddr[16] = { 0xfd, 0, 0x53, 0x47, [13] = 2 };

	assert_non_null(sa);
	for (unsigned i = 0; i < 32; i++) {
		keys[0][i] = (uint8_t)(k * 3 + i);
		keys[1][i] = (uint8_t)(k * 5 + 0x80 + i);
	}
	for (unsigned i = 0; i < 12; i++) {
		ivs[0][i] = (uint8_t)(k + 0x40 + i);
		ivs[1][i] = (uint8_t)(k + 0x60 + i);
	}
	for (unsigned i = 0; i < SG_DTLS_CBC_MAC_KEY_LEN; i++) {
		macs[0][i] = (uint8_t)(k * 7 + 0x11 + i);
		macs[1][i] = (uint8_t)(k * 11 + 0x99 - i);
	}
	for (unsigned i = 0; i < sizeof(peer_cid); i++)
		peer_cid[i] = (uint8_t)(i ^ k);
	assert_int_equal(sg_rec_sa_init(sa, WINDOW, &sp), 0);
	n.sa = sa;
	paddr[14] = (uint8_t)(k >> 8);
	paddr[15] = (uint8_t)k;
	if (s->v6)
		sg_sess_tuple_v6(&n.tuple, laddr, htons(5684), paddr, htons((uint16_t)(40000 + k)));
	else
		sg_sess_tuple_v4(&n.tuple, 0xc6120001u, htons(5684), 0xc6130000u + k,
		                 htons((uint16_t)(40000 + k)));
	assert_int_equal(sg_sess_insert(t, &n, id, NULL), 0);
	sg_rec_sa_wipe(sa, WINDOW);
	free(sa);
}

/* Put session id of t into st as the gateway does (sg_sess_get + sg_sess_get_sa). */
static void save(struct sg_store *st, struct sg_sess_table *t, uint64_t id, unsigned k)
{
	struct sg_sess_info info;
	struct sg_rec_sa *sa = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size_max(WINDOW));
	struct sg_store_rec rec;

	assert_non_null(sa);
	assert_int_equal(sg_sess_get(t, id, &info), 0);
	assert_int_equal(sg_sess_get_sa(t, id, sa), 0);
	sg_store_rec_from_session(&rec, &info, sa);
	caller_fields(&rec, k);
	assert_int_equal(sg_store_put(st, (uint32_t)id, &rec), 0);
	sg_store_rec_wipe(&rec);
	sg_rec_sa_wipe(sa, WINDOW);
	free(sa);
}

/* The sessions of a test: ids and shape of each. */
struct fleet {
	unsigned n;
	uint64_t id[64];
	const struct shape *shape[64];
	struct sg_sess_table *t;
};

/* n sessions of every shape in turn, installed in a fresh table and saved. */
static void make_fleet(struct fixture *f, struct fleet *fl, unsigned n)
{
	struct sg_store *st = open_store(f);

	assert_true(n <= SG_ARRAY_SIZE(fl->id));
	fl->n = n;
	fl->t = mk_table(8);
	for (unsigned k = 0; k < n; k++) {
		fl->shape[k] = &shapes[k % N_SHAPES];
		install(fl->t, k, fl->shape[k], &fl->id[k]);
		/* a few ended before: the slot's next session has another gen */
		if (k % 7 == 3) {
			assert_int_equal(sg_sess_delete(fl->t, fl->id[k]), 0);
			install(fl->t, k, fl->shape[k], &fl->id[k]);
		}
		save(st, fl->t, fl->id[k], k);
	}
	assert_int_equal(sg_store_commit(st), 0);
	sg_store_close(st);
}

/* What restored() saw, by session number. */
struct seen {
	const struct fleet *fl;
	unsigned calls;
	uint64_t fail_id;   /* restored() refuses this id */
	uint64_t progress;  /* calls of progress() */
	uint64_t last_seen; /* its last seen */
	uint8_t got[64];
	unsigned damaged; /* calls of damaged(), with their slot and error */
	uint32_t damaged_slot[8];
	int damaged_err[8];
};

static int on_restored(void *arg, uint64_t id, const struct sg_store_rec *rec)
{
	struct seen *s = arg;
	struct sg_store_rec want;
	unsigned k;

	s->calls++;
	for (k = 0; k < s->fl->n && s->fl->id[k] != id; k++)
		;
	assert_true(k < s->fl->n);
	memset(&want, 0, sizeof(want));
	caller_fields(&want, k);
	assert_int_equal(rec->identity_len, want.identity_len);
	assert_memory_equal(rec->identity, want.identity, want.identity_len);
	assert_memory_equal(rec->cred_tag, want.cred_tag, SG_STORE_CRED_TAG_LEN);
	assert_memory_equal(rec->token, want.token, SG_PP2_TOKEN_LEN);
	assert_int_equal(rec->backend, want.backend);
	assert_int_equal(rec->gen, (uint32_t)(id >> 32));
	s->got[k]++;
	return id == s->fail_id ? -1 : 0;
}

static void on_progress(void *arg, uint64_t seen, uint64_t restored)
{
	struct seen *s = arg;

	assert_true(restored <= seen);
	s->progress++;
	s->last_seen = seen;
}

/* Session id of table a and b are the same session, bar the floors moved by dtx and drx. */
static void same_session(struct sg_sess_table *a, struct sg_sess_table *b, uint64_t id,
                         uint64_t dtx, uint64_t drx)
{
	struct sg_sess_info ia, ib;
	struct sg_rec_sa *pa = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size_max(WINDOW));
	struct sg_rec_sa *pb = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size_max(WINDOW));
	unsigned klen, ivlen;
	uint64_t found;

	assert_int_equal(sg_sess_get(a, id, &ia), 0);
	assert_int_equal(sg_sess_get(b, id, &ib), 0);
	assert_true(ib.id == id);
	assert_memory_equal(&ia.tuple, &ib.tuple, sizeof(ia.tuple));
	assert_int_equal(ia.flags, ib.flags);
	assert_int_equal(ia.cid_len, ib.cid_len);
	assert_memory_equal(ia.cid, ib.cid, ia.cid_len);
	assert_int_equal(ia.peer_cid_len, ib.peer_cid_len);
	assert_memory_equal(ia.peer_cid, ib.peer_cid, ia.peer_cid_len);
	assert_int_equal(ia.suite, ib.suite);
	assert_int_equal(ia.backend, ib.backend);
	assert_int_equal(ia.expires, ib.expires);
	assert_int_equal(ia.last_rx, ib.last_rx);
	assert_int_equal(ia.aead, ib.aead);
	assert_int_equal(ia.epoch, ib.epoch);
	assert_int_equal(ia.max_plaintext, ib.max_plaintext);
	assert_int_equal(ia.rrc, ib.rrc);
	assert_true(ib.tx_seq == ia.tx_seq + dtx);
	assert_true(ib.rx_top == ia.rx_top + drx);
	assert_non_null(pa);
	assert_non_null(pb);
	assert_int_equal(sg_sess_get_sa(a, id, pa), 0);
	assert_int_equal(sg_sess_get_sa(b, id, pb), 0);
	klen = sg_aead_key_len((enum sg_aead)pa->aead);
	ivlen = sg_aead_iv_len((enum sg_aead)pa->aead);
	assert_int_equal(pa->aead, pb->aead);
	assert_int_equal(pa->flags, pb->flags);
	assert_int_equal(pa->epoch, pb->epoch);
	assert_memory_equal(pa->rx_key, pb->rx_key, klen);
	assert_memory_equal(pa->tx_key, pb->tx_key, klen);
	assert_memory_equal(pa->rx_iv, pb->rx_iv, ivlen);
	assert_memory_equal(pa->tx_iv, pb->tx_iv, ivlen);
	/* a CBC session's MAC keys came through the version 2 record */
	if (sg_aead_wide(pa->aead))
		assert_memory_equal(sg_rec_sa_mac(pa, WINDOW), sg_rec_sa_mac(pb, WINDOW),
		                    sizeof(struct sg_rec_sa_mac));
	assert_int_equal(sg_rec_sa_max_plaintext(pa), sg_rec_sa_max_plaintext(pb));
	assert_true(sg_rec_sa_tx_seq(pb) == sg_rec_sa_tx_seq(pa) + dtx);
	assert_true(pb->rx_top == pa->rx_top + drx);
	/* nothing below the floor is accepted, the floor itself is */
	assert_int_equal(sg_rec_replay_check(pb, WINDOW, pb->rx_top), SG_REC_OK);
	if (pb->rx_top > 0)
		assert_int_not_equal(sg_rec_replay_check(pb, WINDOW, pb->rx_top - 1), SG_REC_OK);
	/* found the way devices find it */
	if (ib.flags & SG_SESS_F_CID) {
		assert_int_equal(sg_sess_find_cid(b, ib.cid, &found), 0);
		assert_true(found == id);
	}
	if (ib.flags & SG_SESS_F_TUPLE) {
		assert_int_equal(sg_sess_find_tuple(b, &ib.tuple, &found), 0);
		assert_true(found == id);
	}
	sg_rec_sa_wipe(pa, WINDOW);
	sg_rec_sa_wipe(pb, WINDOW);
	free(pa);
	free(pb);
}

static void restore_into(struct fixture *f, struct sg_sess_table *t,
                         const struct sg_store_restore_params *p, struct sg_store_restore_result *r)
{
	struct sg_store *st = open_store(f);

	assert_int_equal(sg_store_restore(st, t, p, r), 0);
	sg_store_close(st);
}

/* Every field round-trips: clean (exact), crash, crash and strict. */
static void test_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct fleet fl;
	static const struct {
		bool exact, strict;
		uint32_t step, margin;
		uint64_t dtx, drx;
	} modes[] = {
		{ true, false, 1024, 65536, 0, 0 },
		{ true, true, 1024, 65536, 0, 0 }, /* strict changes nothing after a clean stop */
		{ false, false, 1024, 65536, 1024 + 65536, 0 },
		{ false, true, 1024, 65536, 1024 + 65536, 1024 },
		{ false, false, 16, 0, 16, 0 },
	};

	make_fleet(f, &fl, 40);
	for (size_t m = 0; m < SG_ARRAY_SIZE(modes); m++) {
		struct sg_sess_table *t = mk_table(8);
		struct seen seen = { .fl = &fl, .fail_id = UINT64_MAX };
		struct sg_store_restore_params p = {
			.now = 1800000000,
			.seq_step = modes[m].step,
			.seq_margin = modes[m].margin,
			.exact = modes[m].exact,
			.strict = modes[m].strict,
			.n_workers = 3,
			.restored = on_restored,
			.progress = on_progress,
			.arg = &seen,
		};
		struct sg_store_restore_result r;
		struct sg_sess_info info;

		restore_into(f, t, &p, &r);
		assert_int_equal(r.seen, fl.n);
		assert_int_equal(r.restored, fl.n);
		assert_int_equal(r.expired + r.revoked + r.failed + r.refused, 0);
		assert_true(r.ns >= r.insert_ns && r.open_ns == r.ns - r.insert_ns);
		assert_int_equal(seen.calls, fl.n);
		assert_true(seen.progress >= 1);
		assert_int_equal(seen.last_seen, fl.n);
		for (unsigned k = 0; k < fl.n; k++) {
			assert_int_equal(seen.got[k], 1);
			same_session(fl.t, t, fl.id[k], modes[m].dtx, modes[m].drx);
			/* the owner is a worker of the three */
			assert_int_equal(sg_sess_get(t, fl.id[k], &info), 0);
			assert_true(info.owner < 3);
		}
		sg_sess_table_destroy(t);
	}
	sg_sess_table_destroy(fl.t);
}

/* Expired, revoked by check(), refused by restored(), a slot taken, CIDs of another length. */
static int revoke_odd(void *arg, const struct sg_store_rec *rec)
{
	(void)arg;
	return rec->backend % 2; /* sessions with an odd number */
}

static void test_refusals(void **state)
{
	struct fixture *f = *state;
	struct fleet fl;
	struct sg_sess_table *t;
	struct seen seen = { .fl = &fl };
	struct sg_store_restore_params p = { .exact = true, .restored = on_restored, .arg = &seen };
	struct sg_store_restore_result r;
	struct sg_sess_info info;
	unsigned cid_sessions = 0;
	uint64_t id;

	make_fleet(f, &fl, 20);
	/* expired: deadlines are 2000000000 + k */
	t = mk_table(8);
	p.now = 2000000000u + 5; /* k = 0..5 are at or past their deadline */
	restore_into(f, t, &p, &r);
	assert_int_equal(r.expired, 6);
	assert_int_equal(r.restored, 14);
	for (unsigned k = 0; k < fl.n; k++)
		assert_int_equal(sg_sess_get(t, fl.id[k], &info), k <= 5 ? -ENOENT : 0);
	sg_sess_table_destroy(t);

	/* check(): the odd ones revoked; restored() refuses one: deleted again */
	memset(seen.got, 0, sizeof(seen.got));
	t = mk_table(8);
	p.now = 0;
	p.check = revoke_odd;
	seen.fail_id = fl.id[4];
	restore_into(f, t, &p, &r);
	assert_int_equal(r.revoked, 10);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.restored, 9);
	assert_int_equal(r.seen, 20);
	for (unsigned k = 0; k < fl.n; k++)
		assert_int_equal(sg_sess_get(t, fl.id[k], &info), k % 2 || k == 4 ? -ENOENT : 0);
	sg_sess_table_destroy(t);

	/* a slot already held: that one fails, the others come back */
	t = mk_table(8);
	p.check = NULL;
	seen.fail_id = UINT64_MAX;
	install(t, 1000, &shapes[1], &id);
	assert_true((uint32_t)id == (uint32_t)fl.id[0]); /* the first free slot, as before */
	restore_into(f, t, &p, &r);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.restored, 19);
	sg_sess_table_destroy(t);

	/* a table whose CIDs have another length: CID sessions fail, tuple ones come back */
	t = mk_table(12);
	restore_into(f, t, &p, &r);
	for (unsigned k = 0; k < fl.n; k++)
		cid_sessions += (fl.shape[k]->flags & SG_SESS_F_CID) != 0;
	assert_int_equal(r.failed, cid_sessions);
	assert_int_equal(r.restored, fl.n - cid_sessions);
	sg_sess_table_destroy(t);
	sg_sess_table_destroy(fl.t);
}

/* The raw bytes of one slot, taken through the backend. */
struct grab {
	uint32_t slot;
	size_t len;
	uint8_t buf[SG_STORE_REC_MAX + 16];
};

static int grab_fn(uint32_t slot, const uint8_t *rec, size_t len, void *arg)
{
	struct grab *g = arg;

	if (slot == g->slot) {
		assert_true(len <= sizeof(g->buf));
		memcpy(g->buf, rec, len);
		g->len = len;
	}
	return 0;
}

enum harm { FLIP = 0, TORN, VERSION, OTHER_KEY, MOVED, TRAILING };

/* Damage the record of slot from (written back at slot to) as harm says. */
static void damage(struct fixture *f, uint32_t from, uint32_t to, enum harm harm)
{
	struct sg_store_params p = { .path = f->db, .map_size = 64u << 20 };
	struct grab g = { .slot = from };
	struct sg_store_key other = f->key;
	struct sg_store_sealer s;
	struct sg_store_rec rec;
	void *be;
	int len;

	assert_int_equal(sg_store_lmdb_ops.open(&p, &be), 0);
	assert_int_equal(sg_store_lmdb_ops.iterate(be, grab_fn, &g), 0);
	assert_true(g.len > 0);
	switch (harm) {
	case FLIP:
		g.buf[g.len / 2] ^= 0x20;
		break;
	case TORN:
		g.len -= 9;
		break;
	case VERSION:
		g.buf[0] = 7;
		break;
	case OTHER_KEY:
		other.key[0] ^= 0xff;
		assert_int_equal(sg_store_key_set_id(&other), 0);
		assert_int_equal(sg_store_rec_open(&f->key, from, g.buf, g.len, &rec), 0);
		assert_int_equal(sg_store_sealer_init(&s, &other), 0);
		len = sg_store_rec_seal(&s, to, &rec, g.buf, sizeof(g.buf));
		assert_true(len > 0);
		g.len = (size_t)len;
		sg_store_sealer_wipe(&s);
		sg_store_rec_wipe(&rec);
		break;
	case MOVED:
		break;
	case TRAILING:
		g.buf[g.len++] = 0;
		break;
	}
	assert_int_equal(sg_store_lmdb_ops.put(be, to, g.buf, g.len), 0);
	assert_int_equal(sg_store_lmdb_ops.commit(be), 0);
	sg_store_lmdb_ops.close(be);
	sg_store_key_wipe(&other);
}

/* A damaged store gives back every session that verifies; the rest counted by reason. */
static void test_damage(void **state)
{
	struct fixture *f = *state;
	struct fleet fl;
	struct sg_sess_table *t;
	struct sg_store_restore_params p = { .exact = true };
	struct sg_store_restore_result r;
	struct sg_store_stats stats;
	struct sg_sess_info info;
	struct sg_store *st;
	static const struct {
		unsigned k;
		enum harm harm;
	} rows[] = {
		{ 3, FLIP }, { 5, TORN }, { 7, VERSION }, { 9, OTHER_KEY }, { 11, TRAILING },
	};
	bool harmed[64] = { false };
	uint32_t free_slot = CAP - 1;

	make_fleet(f, &fl, 30);
	for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		uint32_t slot = (uint32_t)fl.id[rows[i].k];

		damage(f, slot, slot, rows[i].harm);
		harmed[rows[i].k] = true;
	}
	/* a good record moved to a free slot: its seal binds the old one */
	damage(f, (uint32_t)fl.id[13], free_slot, MOVED);

	t = mk_table(8);
	st = open_store(f);
	assert_int_equal(sg_store_restore(st, t, &p, &r), 0);
	sg_store_stats(st, &stats);
	sg_store_close(st);
	assert_int_equal(r.seen, 31);
	assert_int_equal(r.restored, 25);
	assert_int_equal(r.refused, 6);
	assert_int_equal(stats.refused[SG_STORE_BAD_SEAL], 2); /* the flip and the move */
	assert_int_equal(stats.refused[SG_STORE_BAD_TRUNCATED], 1);
	assert_int_equal(stats.refused[SG_STORE_BAD_VERSION], 1);
	assert_int_equal(stats.refused[SG_STORE_BAD_KEY_ID], 1);
	assert_int_equal(stats.refused[SG_STORE_BAD_TRAILING], 1);
	for (unsigned k = 0; k < fl.n; k++) {
		if (harmed[k]) {
			assert_int_equal(sg_sess_get(t, fl.id[k], &info), -ENOENT);
			continue;
		}
		same_session(fl.t, t, fl.id[k], 0, 0);
	}
	assert_int_equal(sg_sess_get(t, (uint64_t)1 << 32 | free_slot, &info), -ENOENT);
	sg_sess_table_destroy(t);

	/* the whole store under another key (the key file was replaced): nothing comes back */
	{
		struct sg_store_params sp = { .path = f->db, .map_size = 64u << 20 };
		struct sg_store_key other = f->key;

		other.key[17] ^= 1;
		assert_int_equal(sg_store_key_set_id(&other), 0);
		t = mk_table(8);
		st = sg_store_open(NULL, &sp, &other);
		assert_non_null(st);
		assert_int_equal(sg_store_restore(st, t, &p, &r), 0);
		sg_store_stats(st, &stats);
		sg_store_close(st);
		assert_int_equal(r.restored, 0);
		assert_int_equal(r.refused, 31);
		assert_int_equal(stats.refused[SG_STORE_BAD_KEY_ID], 30); /* and one of version 7 */
		sg_store_key_wipe(&other);
		sg_sess_table_destroy(t);
	}
	sg_sess_table_destroy(fl.t);
}

/* The first len bytes of file src as file dst. */
static void copy_cut(const char *src, const char *dst, size_t len)
{
	static uint8_t buf[1 << 16];
	int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while (len > 0 && (n = read(in, buf, len < sizeof(buf) ? len : sizeof(buf))) > 0) {
		assert_int_equal(write(out, buf, (size_t)n), n);
		len -= (size_t)n;
	}
	close(in);
	close(out);
}

/* The restarted daemon of test_truncated_file, in its child: 0 when it did the right thing. */
static int truncated_child(struct fixture *f, long long cut)
{
	struct sg_store_params sp = { .path = f->db, .map_size = 64u << 20 };
	struct sg_store_restore_params p = { .exact = true };
	struct sg_store_restore_result r = { 0 };
	struct sg_sess_table *t = mk_table(8);
	struct sg_store *st = sg_store_open(NULL, &sp, &f->key);
	int rc = st == NULL ? -errno : sg_store_restore(st, t, &p, &r);

	printf("# cut at %lld: %s, restored %llu of 60\n", cut, rc == 0 ? "ok" : strerror(-rc),
	       (unsigned long long)r.restored);
	fflush(stdout);
	sg_store_close(st);
	sg_sess_table_destroy(t);
	/* empty: a new store; cut: refused at open, never a crash */
	return (cut == 0 && rc == 0 && r.restored == 0) || (cut > 0 && rc < 0) ? 0 : 1;
}

/*
 * A truncated store file (a disk that lost its tail): the open refuses it
 * (-EUCLEAN, or LMDB's own error when a meta page is cut) rather than die of
 * SIGBUS on a page past the end; an empty file is a new store. In a child
 * that must exit normally, for cuts at every half page.
 */
static void test_truncated_file(void **state)
{
	struct fixture *f = *state;
	struct fleet fl;
	char data[400], copy[400];
	struct stat sb;
	long page = 4096;

	make_fleet(f, &fl, 60);
	sg_sess_table_destroy(fl.t);
	snprintf(data, sizeof(data), "%s/data.mdb", f->db);
	snprintf(copy, sizeof(copy), "%s/data.mdb.orig", f->dir);
	assert_int_equal(stat(data, &sb), 0);
	assert_int_equal(rename(data, copy), 0);
	for (off_t cut = 0; cut < sb.st_size; cut += page / 2) {
		pid_t pid;
		int status;

		copy_cut(copy, data, (size_t)cut);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			alarm(30); /* a hang ends as a failure */
			_exit(truncated_child(f, (long long)cut));
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("cut at %lld: the child died (status %#x)", (long long)cut,
			         status);
		unlink(data);
	}
	assert_int_equal(rename(copy, data), 0);
}

/* Sessions 12 and 14 revoked (check()). */
static int revoke_12_14(void *arg, const struct sg_store_rec *rec)
{
	(void)arg;
	return rec->backend == 0x10000u + 12 || rec->backend == 0x10000u + 14;
}

static void on_damaged(void *arg, uint32_t slot, int err)
{
	struct seen *s = arg;

	assert_true(s->damaged < SG_ARRAY_SIZE(s->damaged_slot));
	s->damaged_slot[s->damaged] = slot;
	s->damaged_err[s->damaged++] = err;
}

/* owner(): the gateway's RSS choice stands in; here worker 3 of 4 for every session. */
static uint16_t owner_three(void *arg, const struct sg_sess_tuple *tu)
{
	(void)arg;
	(void)tu;
	return 3;
}

/* The store's records as of its last commit. */
static uint64_t records(struct sg_store *st)
{
	struct sg_store_stats stats;

	sg_store_stats(st, &stats);
	return stats.be.records;
}

/*
 * What a restore does not bring back is deleted from the store (expired,
 * revoked, failed, damaged; damaged() told first with the slot and the
 * reason), in the open group; records of another key or version are kept.
 * A second restore sees only the restored ones and those kept, and the
 * store's `records` counts them.
 */
static void test_sweep(void **state)
{
	struct fixture *f = *state;
	struct fleet fl;
	struct seen seen = { .fl = &fl };
	struct sg_store_restore_params p = {
		.exact = true,
		.now = 2000000000u + 1, /* sessions 0 and 1 expired */
		.check = revoke_12_14,
		.restored = on_restored,
		.arg = &seen,
	};
	struct sg_store_restore_result r;
	struct sg_sess_info info;
	struct sg_sess_table *t;
	struct sg_store *st;

	make_fleet(f, &fl, 20);
	damage(f, (uint32_t)fl.id[3], (uint32_t)fl.id[3], FLIP);
	damage(f, (uint32_t)fl.id[5], (uint32_t)fl.id[5], TORN);
	damage(f, (uint32_t)fl.id[7], (uint32_t)fl.id[7], VERSION);
	damage(f, (uint32_t)fl.id[9], (uint32_t)fl.id[9], OTHER_KEY);
	seen.fail_id = fl.id[16]; /* restored() refuses it */

	/* Without a commit the deletes are dropped (damaged() is optional). */
	t = mk_table(8);
	st = open_store(f);
	assert_int_equal(sg_store_restore(st, t, &p, &r), 0);
	assert_int_equal(r.deleted, 7);
	assert_int_equal(records(st), 20);
	sg_store_close(st);
	sg_sess_table_destroy(t);

	/* 20 = 11 restored + 2 expired + 2 revoked + 1 failed + 2 damaged + 2 kept */
	p.damaged = on_damaged;
	t = mk_table(8);
	st = open_store(f);
	assert_int_equal(sg_store_restore(st, t, &p, &r), 0);
	assert_int_equal(r.seen, 20);
	assert_int_equal(r.restored, 11);
	assert_int_equal(r.expired, 2);
	assert_int_equal(r.revoked, 2);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.refused, 4);
	assert_int_equal(r.deleted, 7);
	assert_int_equal(r.kept, 2);
	/* told in slot order, with the reason, before the delete */
	assert_int_equal(seen.damaged, 2);
	assert_int_equal(seen.damaged_slot[0], (uint32_t)fl.id[3]);
	assert_int_equal(sg_store_bad_of(seen.damaged_err[0]), SG_STORE_BAD_SEAL);
	assert_int_equal(seen.damaged_slot[1], (uint32_t)fl.id[5]);
	assert_int_equal(sg_store_bad_of(seen.damaged_err[1]), SG_STORE_BAD_TRUNCATED);
	assert_int_equal(sg_store_commit(st), 0);
	assert_int_equal(records(st), 13);
	sg_store_close(st);
	sg_sess_table_destroy(t);

	/* The next start: only the restored ones (and the two kept), nothing to delete; the
	 * owner is owner()'s, not the hash's. */
	memset(&p, 0, sizeof(p));
	p.exact = true;
	p.n_workers = 4;
	p.owner = owner_three;
	t = mk_table(8);
	st = open_store(f);
	assert_int_equal(records(st), 13);
	assert_int_equal(sg_store_restore(st, t, &p, &r), 0);
	assert_int_equal(r.seen, 13);
	assert_int_equal(r.restored, 11);
	assert_int_equal(r.refused, 2);
	assert_int_equal(r.kept, 2);
	assert_int_equal(r.deleted, 0);
	assert_int_equal(r.expired + r.revoked + r.failed, 0);
	sg_store_close(st);
	for (unsigned k = 0; k < fl.n; k++) {
		bool back = k >= 2 && k != 3 && k != 5 && k != 7 && k != 9 && k != 12 && k != 14 &&
		            k != 16;

		assert_int_equal(sg_sess_get(t, fl.id[k], &info), back ? 0 : -ENOENT);
		if (back)
			assert_int_equal(info.owner, 3);
		if (back)
			same_session(fl.t, t, fl.id[k], 0, 0);
	}
	sg_sess_table_destroy(t);
	sg_sess_table_destroy(fl.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
