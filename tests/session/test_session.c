/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session table unit tests: parameters, lookups by IPv4/IPv6 4-tuple and
 * by CID, capacity and refusals, CID forgery/staleness/collisions and
 * restore, replace with previous keys, deferred reclamation, iteration,
 * and concurrency (control thread churning while readers look up; replace
 * during traffic with real AES-GCM records loses none).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include <stormgate/time.h>

#include "sess_test.h"

static const uint8_t test_cid_key[16] = { 0x53, 0x47, 0x2d, 0x63, 0x69, 0x64, 0x2d, 0x6b,
	                                  0x65, 0x79, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x31 };

static struct sg_sess_table *mk(uint32_t cap, uint8_t cid_len)
{
	struct sg_sess_params p = { .capacity = cap, .cid_len = cid_len, .cid_key = test_cid_key };
	struct sg_sess_table *t = sg_sess_table_create(&p);

	assert_non_null(t);
	return t;
}

static uint64_t refused(const struct sg_sess_table *t, enum sg_sess_refusal r)
{
	struct sg_sess_stats st;

	sg_sess_stats_get(t, &st);
	return st.refused[r];
}

static int ins(struct sg_sess_table *t, uint32_t k, int v6, uint8_t flags, uint64_t *id,
               uint8_t *cid)
{
	struct sg_rec_sa sa;
	struct sg_sess_new n;
	int rc;

	st_sa(&sa, k, 1);
	n = st_new(&sa, k, v6, flags);
	rc = sg_sess_insert(t, &n, id, cid);
	sg_wipe(&sa, sizeof(sa));
	return rc;
}

static unsigned cid_lookup(struct sg_sess_worker *w, const uint8_t *cid, struct sg_sess_ref *r)
{
	const uint8_t *cp[1] = { cid };

	return sg_sess_lookup_cid_bulk(w, cp, 1, r);
}

/* ---- parameters ---- */

static void test_params(void **state)
{
	static const struct {
		const char *name;
		struct sg_sess_params p;
		int ok;
	} rows[] = {
		{ "zero capacity", { .capacity = 0 }, 0 },
		{ "one session", { .capacity = 1 }, 1 },
		{ "over max", { .capacity = SG_SESS_CAPACITY_MAX + 1u }, 0 },
		{ "tuple > capacity", { .capacity = 10, .tuple_capacity = 11 }, 0 },
		{ "window 64", { .capacity = 10, .replay_window = 64 }, 1 },
		{ "window 4096", { .capacity = 10, .replay_window = 4096 }, 1 },
		{ "window 32", { .capacity = 10, .replay_window = 32 }, 0 },
		{ "window 192", { .capacity = 10, .replay_window = 192 }, 0 },
		{ "window 8192", { .capacity = 10, .replay_window = 8192 }, 0 },
		{ "cid 7", { .capacity = 10, .cid_len = 7 }, 0 },
		{ "cid 12", { .capacity = 10, .cid_len = 12 }, 1 },
		{ "cid 16", { .capacity = 10, .cid_len = 16 }, 1 },
		{ "cid 17", { .capacity = 10, .cid_len = 17 }, 0 },
		{ "node bits 9", { .capacity = 10, .node_bits = 9 }, 0 },
		{ "node id too big", { .capacity = 10, .node_bits = 4, .node_id = 16 }, 0 },
		{ "node id without bits", { .capacity = 10, .node_id = 1 }, 0 },
		{ "node 255 of 8 bits", { .capacity = 10, .node_bits = 8, .node_id = 255 }, 1 },
		{ "capacity over slot bits", { .capacity = (1u << 24) + 1, .node_bits = 8 }, 0 },
	};

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct sg_sess_table *t;

		errno = 0;
		t = sg_sess_table_create(&rows[i].p);
		if ((t != NULL) != rows[i].ok)
			fail_msg("row '%s': create %s", rows[i].name, t ? "succeeded" : "failed");
		if (t == NULL)
			assert_int_equal(errno, EINVAL);
		sg_sess_table_destroy(t);
	}
	errno = 0;
	assert_null(sg_sess_table_create(NULL));
	assert_int_equal(errno, EINVAL);
}

/* ---- lookups ---- */

static void test_insert_lookup(void **state)
{
	enum { N = 300 };
	struct sg_sess_table *t = mk(N, 0);
	struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
	static uint8_t cids[N][SG_SESS_CID_LEN_MAX];
	static uint64_t ids[N];
	struct sg_sess_tuple keys[N];
	const uint8_t *cp[N];
	struct sg_sess_ref refs[N];
	struct sg_sess_stats st;

	(void)state;
	assert_non_null(w);
	for (uint32_t k = 0; k < N; k++) {
		assert_int_equal(
		        ins(t, k, k & 1, SG_SESS_F_TUPLE | SG_SESS_F_CID, &ids[k], cids[k]), 0);
		st_tuple(&keys[k], k, k & 1);
		cp[k] = cids[k];
	}
	sg_sess_worker_online(w);
	/* N > SG_BURST_MAX: the bulk functions split the burst. */
	assert_int_equal(sg_sess_lookup_tuple_bulk(w, keys, N, refs), N);
	for (uint32_t k = 0; k < N; k++) {
		assert_int_equal(refs[k].miss, SG_SESS_HIT);
		assert_true(st_sa_ok(refs[k].sa, k));
		assert_int_equal(st_sa_owner(refs[k].sa), k);
		assert_null(refs[k].prev);
		assert_int_equal(sg_sess_ref_id(&refs[k]), ids[k]);
		assert_int_equal(refs[k].sess->owner, k % 3);
		assert_memory_equal(&refs[k].sess->tuple, &keys[k], sizeof(keys[k]));
	}
	assert_int_equal(sg_sess_lookup_cid_bulk(w, cp, N, refs), N);
	for (uint32_t k = 0; k < N; k++) {
		assert_int_equal(refs[k].miss, SG_SESS_HIT);
		assert_int_equal(st_sa_owner(refs[k].sa), k);
		assert_int_equal(sg_sess_ref_id(&refs[k]), ids[k]);
	}
	/* Control-plane views agree. */
	for (uint32_t k = 0; k < N; k += 37) {
		struct sg_sess_info info;
		uint64_t id;

		assert_int_equal(sg_sess_find_tuple(t, &keys[k], &id), 0);
		assert_int_equal(id, ids[k]);
		assert_int_equal(sg_sess_find_cid(t, cids[k], &id), 0);
		assert_int_equal(id, ids[k]);
		assert_int_equal(sg_sess_get(t, ids[k], &info), 0);
		assert_int_equal(info.id, ids[k]);
		assert_int_equal(info.cid_len, 8);
		assert_memory_equal(info.cid, cids[k], 8);
		assert_int_equal(info.identity, k);
		assert_int_equal(info.backend, k % 7);
		assert_int_equal(info.suite, 0xC0A8);
		assert_int_equal(info.expires, 2000000000u);
		assert_int_equal(info.epoch, 1);
		assert_int_equal(info.aead, SG_AEAD_AES_128_GCM);
		assert_int_equal(info.flags, SG_SESS_F_TUPLE | SG_SESS_F_CID);
	}
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.live, N);
	assert_int_equal(st.tuple_entries, N);
	assert_int_equal(st.sa_in_use, N);
	assert_int_equal(st.inserts, N);
	sg_sess_worker_offline(w);
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);
}

/* Bulk insert (the restore path): per-item results, in order, same semantics as one by one. */
static void test_insert_bulk(void **state)
{
	enum { N = 70 };
	struct sg_sess_table *t = mk(64, 0);
	struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
	static struct sg_rec_sa sa[N];
	static struct sg_sess_new n[N];
	static uint8_t cids[N][8];
	uint64_t ids[N];
	int rcs[N];
	struct sg_sess_stats st;

	(void)state;
	for (uint32_t k = 0; k < N; k++) {
		st_sa(&sa[k], k, 1);
		n[k] = st_new(&sa[k], k, k & 1, SG_SESS_F_TUPLE | SG_SESS_F_CID);
	}
	n[5].tuple = n[4].tuple; /* duplicate of an earlier item of the same group */
	n[20].flags = 0;         /* invalid */
	/* 70 requests, 2 refused, 64 fit: the last 4 find the table full. */
	assert_int_equal(sg_sess_insert_bulk(t, n, N, ids, &cids[0][0], rcs), 64);
	for (uint32_t k = 0; k < N; k++) {
		int want = k == 5 ? -EEXIST : k == 20 ? -EINVAL : k >= 66 ? -ENOSPC : 0;

		if (rcs[k] != want)
			fail_msg("item %u: rc %d, want %d", k, rcs[k], want);
	}
	sg_sess_worker_online(w);
	for (uint32_t k = 0; k < 66; k++) {
		struct sg_sess_ref r;

		if (rcs[k] != 0)
			continue;
		assert_int_equal(sg_sess_lookup_tuple_bulk(w, &n[k].tuple, 1, &r), 1);
		assert_int_equal(st_sa_owner(r.sa), k);
		assert_int_equal(sg_sess_ref_id(&r), ids[k]);
		assert_int_equal(cid_lookup(w, cids[k], &r), 1);
		assert_int_equal(st_sa_owner(r.sa), k);
	}
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.live, 64);
	assert_int_equal(st.refused[SG_SESS_REFUSE_DUP_TUPLE], 1);
	assert_int_equal(st.refused[SG_SESS_REFUSE_INVALID], 1);
	assert_int_equal(st.refused[SG_SESS_REFUSE_FULL], 4);
	sg_wipe(sa, sizeof(sa));
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);
}

/* Only the key kinds a session was inserted with find it. */
static void test_key_kinds(void **state)
{
	struct sg_sess_table *t = mk(16, 0);
	struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
	uint8_t cid_t[8], cid_c[8];
	uint64_t id_t, id_c;
	struct sg_sess_tuple k[2];
	const uint8_t *cp[1];
	struct sg_sess_ref r[2];

	(void)state;
	assert_int_equal(ins(t, 1, 0, SG_SESS_F_TUPLE, &id_t, cid_t), 0);
	assert_int_equal(ins(t, 2, 0, SG_SESS_F_CID, &id_c, cid_c), 0);
	st_tuple(&k[0], 1, 0);
	st_tuple(&k[1], 2, 0);
	sg_sess_worker_online(w);
	assert_int_equal(sg_sess_lookup_tuple_bulk(w, k, 2, r), 1);
	assert_int_equal(r[0].miss, SG_SESS_HIT);
	assert_int_equal(r[1].miss, SG_SESS_MISS_TUPLE);
	cp[0] = cid_c;
	assert_int_equal(sg_sess_lookup_cid_bulk(w, cp, 1, r), 1);
	assert_int_equal(sg_sess_ref_id(&r[0]), id_c);
	/* A CID-less session must not be reachable by a CID naming its slot. */
	{
		struct sg_sess_info info;

		assert_int_equal(sg_sess_get(t, id_t, &info), 0);
		assert_int_equal(info.cid_len, 0);
	}
	/* Invalid requests are refused and counted. */
	{
		struct sg_rec_sa sa;
		struct sg_sess_new n;
		uint64_t id;

		st_sa(&sa, 3, 1);
		n = st_new(&sa, 3, 0, 0);
		assert_int_equal(sg_sess_insert(t, &n, &id, NULL), -EINVAL);
		n.flags = 0x80;
		assert_int_equal(sg_sess_insert(t, &n, &id, NULL), -EINVAL);
		n.flags = SG_SESS_F_TUPLE;
		sa.aead = SG_AEAD_MAX;
		assert_int_equal(sg_sess_insert(t, &n, &id, NULL), -EINVAL);
		sa.aead = SG_AEAD_AES_128_CCM_8;
		n.peer_cid_len = 4;
		assert_int_equal(sg_sess_insert(t, &n, &id, NULL), -EINVAL);
		assert_int_equal(refused(t, SG_SESS_REFUSE_INVALID), 4);
	}
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);
}

/* IPv6 and IPv4 keys that differ in one field each are different sessions. */
static void test_ipv6_keys(void **state)
{
	static const uint8_t l6[16] = { 0xfd, 0x00, 0x53, 0x47, [15] = 1 };
	static const uint8_t l6b[16] = { 0xfd, 0x00, 0x53, 0x47, [15] = 2 };
	static const uint8_t p6[16] = { 0xfd, 0x00, 0x53, 0x47, [8] = 2, [15] = 9 };
	static const uint8_t p6b[16] = { 0xfd, 0x00, 0x53, 0x47, [8] = 2, [15] = 10 };
	static const uint8_t p6hi[16] = { 0xfd, 0x00, 0x53, 0x48, [8] = 2, [15] = 9 };
	static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 198, 18, 0, 9 };
	static const uint8_t mapped_l[16] = { [10] = 0xff, [11] = 0xff, 198, 18, 0, 1 };
	struct sg_sess_tuple rows[9];
	const uint32_t v4l = htonl(0xC6120001u), v4p = htonl(0xC6120009u);
	struct sg_sess_table *t = mk(64, 0);
	struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
	struct sg_sess_ref r[16];
	struct sg_sess_tuple near[6];
	uint64_t ids[9];

	(void)state;
	sg_sess_tuple_v6(&rows[0], l6, htons(5684), p6, htons(40000));
	sg_sess_tuple_v6(&rows[1], l6b, htons(5684), p6, htons(40000));  /* other local address */
	sg_sess_tuple_v6(&rows[2], l6, htons(5684), p6b, htons(40000));  /* peer last byte */
	sg_sess_tuple_v6(&rows[3], l6, htons(5684), p6hi, htons(40000)); /* peer high bytes */
	sg_sess_tuple_v6(&rows[4], l6, htons(5685), p6, htons(40000));   /* local port */
	sg_sess_tuple_v6(&rows[5], l6, htons(5684), p6, htons(40001));   /* peer port */
	sg_sess_tuple_v4(&rows[6], v4l, htons(5684), v4p, htons(40000)); /* IPv4 */
	sg_sess_tuple_v4(&rows[7], v4p, htons(40000), v4l, htons(5684)); /* IPv4 swapped */
	sg_sess_tuple_v6(&rows[8], p6, htons(40000), l6, htons(5684));   /* IPv6 swapped */

	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct sg_rec_sa sa;
		struct sg_sess_new n;

		st_sa(&sa, i, 1);
		n = st_new(&sa, i, 1, SG_SESS_F_TUPLE);
		n.tuple = rows[i];
		assert_int_equal(sg_sess_insert(t, &n, &ids[i], NULL), 0);
	}
	sg_sess_worker_online(w);
	assert_int_equal(sg_sess_lookup_tuple_bulk(w, rows, SG_ARRAY_SIZE(rows), r),
	                 SG_ARRAY_SIZE(rows));
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++)
		assert_int_equal(st_sa_owner(r[i].sa), i);

	/* The IPv4-mapped form of an IPv4 tuple is the same key (RFC 4291 §2.5.5.2). */
	sg_sess_tuple_v6(&near[0], mapped_l, htons(5684), mapped, htons(40000));
	assert_int_equal(sg_sess_lookup_tuple_bulk(w, near, 1, r), 1);
	assert_int_equal(st_sa_owner(r[0].sa), 6);
	{
		struct sg_rec_sa sa;
		struct sg_sess_new n;
		uint64_t id;

		st_sa(&sa, 99, 1);
		n = st_new(&sa, 99, 1, SG_SESS_F_TUPLE);
		n.tuple = near[0];
		assert_int_equal(sg_sess_insert(t, &n, &id, NULL), -EEXIST);
		assert_int_equal(refused(t, SG_SESS_REFUSE_DUP_TUPLE), 1);
	}
	/* Near misses find nothing. */
	sg_sess_tuple_v6(&near[0], l6, htons(5684), p6, htons(40002));
	sg_sess_tuple_v6(&near[1], l6, htons(5686), p6, htons(40000));
	sg_sess_tuple_v4(&near[2], v4l, htons(5684), htonl(0xC612000Au), htons(40000));
	sg_sess_tuple_v4(&near[3], htonl(0xC6120002u), htons(5684), v4p, htons(40000));
	memcpy(&near[4], &rows[0], sizeof(near[4]));
	near[4].paddr[7] ^= 0x80;
	memcpy(&near[5], &rows[6], sizeof(near[5]));
	near[5].paddr[10] = 0; /* not IPv4-mapped any more */
	assert_int_equal(sg_sess_lookup_tuple_bulk(w, near, 6, r), 0);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(r[i].miss, SG_SESS_MISS_TUPLE);
	/* Deleting one leaves its neighbours. */
	assert_int_equal(sg_sess_delete(t, ids[0]), 0);
	assert_int_equal(sg_sess_lookup_tuple_bulk(w, rows, SG_ARRAY_SIZE(rows), r),
	                 SG_ARRAY_SIZE(rows) - 1);
	assert_int_equal(r[0].miss, SG_SESS_MISS_TUPLE);
	sg_sess_quiescent(w);
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);
}

/* ---- capacity and refusals ---- */

static void test_capacity(void **state)
{
	enum { CAP = 1000 };
	struct sg_sess_params p = {
		.capacity = CAP, .tuple_capacity = 600, .sa_reserve = 64, .cid_key = test_cid_key
	};
	struct sg_sess_table *t = sg_sess_table_create(&p);
	static uint64_t ids[CAP];
	struct sg_sess_stats st;
	struct sg_rec_sa sa;
	uint64_t id;
	uint32_t k;

	(void)state;
	assert_non_null(t);
	/* tuple_capacity bounds the indexed sessions; CID sessions may fill the rest. */
	for (k = 0; k < 600; k++)
		assert_int_equal(ins(t, k, 0, SG_SESS_F_TUPLE, &ids[k], NULL), 0);
	assert_int_equal(ins(t, k, 0, SG_SESS_F_TUPLE, &id, NULL), -ENOSPC);
	assert_int_equal(refused(t, SG_SESS_REFUSE_TUPLE_FULL), 1);
	for (; k < CAP; k++)
		assert_int_equal(ins(t, k, 0, SG_SESS_F_CID, &ids[k], NULL), 0);
	/* Full: a counted refusal, repeatedly, and the table still works. */
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(ins(t, CAP + i, 0, SG_SESS_F_CID, &id, NULL), -ENOSPC);
	assert_int_equal(refused(t, SG_SESS_REFUSE_FULL), 5);
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.live, CAP);

	/* The SA reserve bounds keys kept after replaces. */
	for (k = 0; k < 64; k++) {
		st_sa(&sa, k, 2);
		assert_int_equal(sg_sess_replace(t, ids[k], &sa), 0);
	}
	st_sa(&sa, k, 2);
	assert_int_equal(sg_sess_replace(t, ids[k], &sa), -ENOSPC);
	assert_int_equal(refused(t, SG_SESS_REFUSE_SA_RESERVE), 1);
	/* Retiring previous keys gives the reserve back after the grace period. */
	assert_int_equal(sg_sess_retire_prev(t, ids[0]), 0);
	assert_int_equal(sg_sess_reclaim(t, 0), 1);
	assert_int_equal(sg_sess_replace(t, ids[k], &sa), 0);

	/* Delete frees a slot only after reclamation; the stale id is refused. */
	assert_int_equal(sg_sess_delete(t, ids[700]), 0);
	assert_int_equal(sg_sess_delete(t, ids[700]), -ENOENT);
	assert_int_equal(sg_sess_replace(t, ids[700], &sa), -ENOENT);
	assert_int_equal(sg_sess_retire_prev(t, ids[700]), -ENOENT);
	assert_int_equal(sg_sess_set_owner(t, ids[700], 1), -ENOENT);
	assert_int_equal(refused(t, SG_SESS_REFUSE_UNKNOWN_ID), 4);
	/* No worker is registered, so the insert's own reclaim pass frees it. */
	assert_int_equal(ins(t, 5000, 0, SG_SESS_F_CID, &id, NULL), 0);
	assert_int_equal((uint32_t)id, (uint32_t)ids[700]); /* same slot ... */
	assert_int_not_equal(id, ids[700]);                 /* ... new generation */
	assert_int_equal(sg_sess_get(t, ids[700], &(struct sg_sess_info){ 0 }), -ENOENT);
	sg_wipe(&sa, sizeof(sa));
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.live, CAP);
	assert_int_equal(st.deletes, 1);
	sg_sess_table_destroy(t);
}

/*
 * Sessions 0..n-1 of t inserted by 4-tuple (ids[]), and a reader (thread
 * thread, online) that holds session k's lookup in *r, reporting nothing yet.
 */
static struct sg_sess_worker *holding_reader(struct sg_sess_table *t, unsigned thread, uint32_t n,
                                             uint64_t *ids, uint32_t k, struct sg_sess_ref *r)
{
	struct sg_sess_worker *w;
	struct sg_sess_tuple key;

	assert_non_null(t);
	w = sg_sess_worker_create(t, thread);
	assert_non_null(w);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(ins(t, i, 0, SG_SESS_F_TUPLE, &ids[i], NULL), 0);
	sg_sess_worker_online(w);
	st_tuple(&key, k, 0);
	assert_int_equal(sg_sess_lookup_tuple_bulk(w, &key, 1, r), 1);
	return w;
}

/* A reader that does not report holds frees back: the queue fills, counted, never blocks. */
static void test_defer_full(void **state)
{
	struct sg_sess_params p = { .capacity = 64, .defer_capacity = 8, .cid_key = test_cid_key };
	struct sg_sess_table *t = sg_sess_table_create(&p);
	struct sg_sess_worker *w;
	uint64_t ids[16];
	struct sg_sess_ref r;
	struct sg_sess_stats st;

	(void)state;
	w = holding_reader(t, 3, 16, ids, 0, &r);
	/* The reader holds r across the deletes: its SA must stay intact. */
	for (unsigned k = 0; k < 8; k++)
		assert_int_equal(sg_sess_delete(t, ids[k]), 0);
	assert_int_equal(sg_sess_delete(t, ids[8]), -EAGAIN);
	assert_int_equal(refused(t, SG_SESS_REFUSE_DEFER_FULL), 1);
	assert_int_equal(sg_sess_reclaim(t, 0), 0);
	assert_true(st_sa_ok(r.sa, 0));
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.deferred, 8);
	assert_int_equal(st.live, 8);
	/* The reader reports: everything is reclaimed and wiped. */
	sg_sess_quiescent(w);
	assert_int_equal(sg_sess_reclaim(t, 0), 8);
	assert_int_equal(sg_sess_delete(t, ids[8]), 0);
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.reclaimed, 8);
	assert_int_equal(st.sa_in_use, 7 + 1); /* 7 live + the one just deleted, pending */
	sg_sess_worker_offline(w);
	/* Offline readers do not hold grace periods. */
	assert_int_equal(sg_sess_reclaim(t, 1), 1);
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);
}

/*
 * Ending many sessions without waiting: each hold keeps its SA intact while a
 * reader may still use it, none is taken before that reader reports, taking
 * never waits, and once it reports every hold is taken in one pass, the
 * copies hold the keys the sessions had and the table's copies are wiped.
 */
static void test_delete_hold(void **state)
{
	struct sg_sess_params p = { .capacity = 64, .cid_key = test_cid_key };
	struct sg_sess_table *t = sg_sess_table_create(&p);
	struct sg_sess_worker *w;
	struct sg_sess_held held[8];
	struct sg_sess_tuple key;
	struct sg_sess_ref r;
	struct sg_sess_stats st;
	struct sg_rec_sa sa;
	uint64_t ids[8], id;

	(void)state;
	w = holding_reader(t, 0, 8, ids, 3, &r);
	st_tuple(&key, 3, 0);
	for (unsigned k = 0; k < 8; k++)
		assert_int_equal(sg_sess_delete_hold(t, ids[k], &held[k]), 0);
	assert_int_equal(sg_sess_delete_hold(t, ids[0], &held[0]), -ENOENT);
	assert_int_equal(sg_sess_find_tuple(t, &key, &id), -ENOENT);
	/* The reader has not reported: nothing is due, and asking does not wait. */
	for (unsigned k = 0; k < 8; k++)
		assert_int_equal(sg_sess_take_held(t, &held[k], &sa), -EAGAIN);
	assert_int_equal(sg_sess_reclaim(t, 0), 0);
	assert_true(st_sa_ok(r.sa, 3));
	sg_sess_quiescent(w);
	for (unsigned k = 0; k < 8; k++) {
		memset(&sa, 0, sizeof(sa));
		assert_int_equal(sg_sess_take_held(t, &held[k], k == 7 ? NULL : &sa), 0);
		if (k != 7)
			assert_true(st_sa_ok(&sa, k));
	}
	assert_true(sg_sess_reclaim(t, 0) == 8);
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.deletes, 8);
	assert_int_equal(st.sa_in_use, 0);
	/* The slots and SAs are free again: the table fills up anew. */
	for (uint32_t k = 0; k < 8; k++)
		assert_int_equal(ins(t, 100 + k, 0, SG_SESS_F_TUPLE, &ids[k], NULL), 0);
	assert_int_equal(sg_sess_take_held(t, &(struct sg_sess_held){ .sa = UINT32_MAX }, NULL),
	                 -EINVAL);
	sg_wipe(&sa, sizeof(sa));
	sg_sess_worker_offline(w);
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);
}

/* A second writer thread is refused (-EBUSY, counted), never let in. */
static void *busy_reclaimer(void *arg)
{
	unsigned n = 0;

	/*
	 * Refused (0) while the main thread is inside; once in, blocks inside
	 * the writer API until the main thread's reader reports, then frees 1.
	 */
	for (unsigned i = 0; i < 1000000 && n == 0; i++) {
		n = sg_sess_reclaim(arg, 1);
		sched_yield();
	}
	return (void *)(uintptr_t)n;
}

static void test_single_writer(void **state)
{
	struct sg_sess_table *t = mk(4096, 0);
	struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
	uint64_t t0;
	pthread_t th;
	uint64_t id;
	void *ret;
	int rc = 0;

	(void)state;
	assert_int_equal(ins(t, 0, 0, SG_SESS_F_TUPLE, &id, NULL), 0);
	sg_sess_worker_online(w); /* a reader that has not reported yet */
	assert_int_equal(sg_sess_delete(t, id), 0);
	assert_int_equal(pthread_create(&th, NULL, busy_reclaimer, t), 0);
	t0 = sg_mono_ns();
	/* Until the other thread is inside, our calls go through (a read: the loop
	 * must not depend on how soon a loaded machine schedules that thread). */
	for (;;) {
		struct sg_sess_info info;

		assert_true(sg_mono_ns() - t0 < 30 * SG_NS_PER_SEC);
		rc = sg_sess_get(t, id, &info);
		assert_true(rc == -ENOENT || rc == -EBUSY); /* deleted above */
		if (rc == -EBUSY)
			break;
		sched_yield();
	}
	/* While it is inside, a write is refused too. */
	assert_int_equal(ins(t, 1, 0, SG_SESS_F_TUPLE, &id, NULL), -EBUSY);
	assert_true(refused(t, SG_SESS_REFUSE_BUSY) >= 1);
	sg_sess_quiescent(w); /* the blocked reclaim completes */
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_int_equal((uintptr_t)ret, 1);
	assert_int_equal(ins(t, 5000, 0, SG_SESS_F_TUPLE, &id, NULL), 0);
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);
}

/* ---- CIDs ---- */

static void test_cid_forged_stale(void **state)
{
	static const uint8_t lens[] = { 8, 10, 12, 13, 16 };

	(void)state;
	for (size_t li = 0; li < SG_ARRAY_SIZE(lens); li++) {
		enum { N = 200 };
		const unsigned L = lens[li];
		struct sg_sess_table *t = mk(N, (uint8_t)L);
		struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
		static uint8_t cids[N][SG_SESS_CID_LEN_MAX];
		static uint64_t ids[N];
		uint8_t cid[SG_SESS_CID_LEN_MAX], cid2[SG_SESS_CID_LEN_MAX];
		unsigned reasons[SG_SESS_MISS_MAX] = { 0 };
		struct sg_sess_ref r;
		uint64_t x = 0x1234 + L, id;

		assert_int_equal(sg_sess_cid_len(t), L);
		for (uint32_t k = 0; k < N; k++)
			assert_int_equal(ins(t, k, 0, SG_SESS_F_CID, &ids[k], cids[k]), 0);
		/* Distinct sessions never share a CID. */
		for (uint32_t a = 0; a < N; a++)
			for (uint32_t b = a + 1; b < N; b++)
				assert_memory_not_equal(cids[a], cids[b], L);
		sg_sess_worker_online(w);

		/* Random CIDs: all refused, mostly for naming a slot outside the table. */
		for (unsigned i = 0; i < 4000; i++) {
			for (unsigned j = 0; j < L; j++)
				cid[j] = (uint8_t)(x = st_mix(x));
			assert_int_equal(cid_lookup(w, cid, &r), 0);
			assert_null(r.sa);
			reasons[r.miss]++;
		}
		assert_int_equal(reasons[SG_SESS_HIT], 0);
		if (L > 12)
			assert_true(reasons[SG_SESS_MISS_CID_TAG] > 3000);
		else
			assert_true(reasons[SG_SESS_MISS_CID_RANGE] > 3900);

		/* Every single-bit change of a valid CID is refused. */
		for (unsigned bit = 0; bit < 8 * L; bit++) {
			memcpy(cid, cids[7], L);
			cid[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(cid_lookup(w, cid, &r), 0);
		}
		/* All-zero nonce never matches a slot (free slots have check 0). */
		memset(cid, 0, L);
		assert_int_equal(cid_lookup(w, cid, &r), 0);

		/* Stale: refused as soon as deleted, and after its slot is reused. */
		assert_int_equal(cid_lookup(w, cids[7], &r), 1);
		assert_int_equal(st_sa_owner(r.sa), 7);
		assert_int_equal(sg_sess_delete(t, ids[7]), 0);
		assert_int_equal(cid_lookup(w, cids[7], &r), 0);
		assert_int_equal(r.miss, SG_SESS_MISS_CID_CHECK);
		sg_sess_quiescent(w);
		assert_int_equal(sg_sess_reclaim(t, 0), 1);
		assert_int_equal(ins(t, 1000, 0, SG_SESS_F_CID, &id, cid2), 0);
		assert_int_equal((uint32_t)id, (uint32_t)ids[7]); /* the slot was reused */
		assert_memory_not_equal(cid2, cids[7], L);        /* unlinkable new CID */
		assert_int_equal(cid_lookup(w, cids[7], &r), 0);
		assert_int_equal(r.miss, SG_SESS_MISS_CID_CHECK);
		assert_int_equal(cid_lookup(w, cid2, &r), 1);
		assert_int_equal(st_sa_owner(r.sa), 1000);
		assert_int_equal(sg_sess_find_cid(t, cids[7], &id), -ENOENT);

		sg_sess_worker_destroy(w);
		sg_sess_table_destroy(t);
	}
}

/* CIDs carry the node id sealed: another node's CIDs are recognised, not looked up. */
static void test_cid_node(void **state)
{
	struct sg_sess_params pa = {
		.capacity = 100, .node_bits = 4, .node_id = 3, .cid_key = test_cid_key
	};
	struct sg_sess_params pb = pa;
	struct sg_sess_table *a, *b;
	struct sg_sess_worker *wa;
	uint8_t cid[8];
	uint64_t id;
	struct sg_sess_ref r;

	(void)state;
	pb.node_id = 5;
	a = sg_sess_table_create(&pa);
	b = sg_sess_table_create(&pb);
	assert_non_null(a);
	assert_non_null(b);
	wa = sg_sess_worker_create(a, 0);
	assert_int_equal(ins(a, 1, 0, SG_SESS_F_CID, &id, cid), 0);
	assert_int_equal(ins(b, 1, 0, SG_SESS_F_CID, &id, cid), 0);
	sg_sess_worker_online(wa);
	assert_int_equal(cid_lookup(wa, cid, &r), 0);
	assert_int_equal(r.miss, SG_SESS_MISS_CID_NODE);
	/* Restoring another node's CID here is refused. */
	{
		struct sg_rec_sa sa;
		struct sg_sess_new n;

		st_sa(&sa, 2, 1);
		n = st_new(&sa, 2, 0, SG_SESS_F_CID);
		n.cid = cid;
		assert_int_equal(sg_sess_insert(a, &n, &id, NULL), -EINVAL);
		assert_int_equal(refused(a, SG_SESS_REFUSE_BAD_CID), 1);
	}
	sg_sess_worker_destroy(wa);
	sg_sess_table_destroy(a);
	sg_sess_table_destroy(b);
}

/* Restart: a table with the saved CID key takes the same CIDs back. */
static void test_cid_restore(void **state)
{
	enum { N = 50 };
	struct sg_sess_params p = { .capacity = 1000, .cid_len = 12 };
	struct sg_sess_table *a = sg_sess_table_create(&p), *b;
	struct sg_sess_worker *w;
	static uint8_t cids[N + 1][12];
	uint8_t key[16], out[12];
	struct sg_sess_ref r;
	struct sg_rec_sa sa;
	struct sg_sess_new n;
	uint64_t id;

	(void)state;
	assert_non_null(a);
	/* Sessions 0..N-1 are checkpointed; session N (slot N) is not. */
	for (uint32_t k = 0; k <= N; k++)
		assert_int_equal(ins(a, k, 0, SG_SESS_F_CID | SG_SESS_F_TUPLE, &id, cids[k]), 0);
	sg_sess_cid_key(a, key);
	sg_sess_table_destroy(a);

	p.cid_key = key;
	b = sg_sess_table_create(&p);
	assert_non_null(b);
	sg_wipe(key, sizeof(key));
	/* Restore in reverse order: slots above the high-water mark first. */
	for (int k = N - 1; k >= 0; k--) {
		st_sa(&sa, (uint32_t)k, 1);
		n = st_new(&sa, (uint32_t)k, 0, SG_SESS_F_CID | SG_SESS_F_TUPLE);
		n.cid = cids[k];
		assert_int_equal(sg_sess_insert(b, &n, &id, out), 0);
		assert_memory_equal(out, cids[k], 12);
		/* The same CID again (another 4-tuple): its slot is taken. */
		n.flags = SG_SESS_F_CID;
		assert_int_equal(sg_sess_insert(b, &n, &id, out), -EEXIST);
	}
	assert_int_equal(refused(b, SG_SESS_REFUSE_CID_TAKEN), N);
	w = sg_sess_worker_create(b, 0);
	sg_sess_worker_online(w);
	for (uint32_t k = 0; k < N; k++) {
		assert_int_equal(cid_lookup(w, cids[k], &r), 1);
		assert_int_equal(st_sa_owner(r.sa), k);
	}
	/* New sessions fill other slots without disturbing the restored ones. */
	for (uint32_t k = N; k < 2 * N; k++)
		assert_int_equal(ins(b, 100 + k, 0, SG_SESS_F_CID, &id, out), 0);
	for (uint32_t k = 0; k < N; k++)
		assert_int_equal(cid_lookup(w, cids[k], &r), 1);
	/* Session N's old CID names a slot a new session now holds: refused, not merged. */
	assert_int_equal(cid_lookup(w, cids[N], &r), 0);
	assert_int_equal(r.miss, SG_SESS_MISS_CID_CHECK);
	st_sa(&sa, N, 1);
	n = st_new(&sa, N, 0, SG_SESS_F_CID);
	n.cid = cids[N];
	assert_int_equal(sg_sess_insert(b, &n, &id, NULL), -EEXIST);
	assert_int_equal(refused(b, SG_SESS_REFUSE_CID_TAKEN), N + 1);
	/* A tampered CID (slot word's top bit: beyond the table) is not ours. */
	memcpy(out, cids[0], 12);
	out[11] ^= 0x80;
	n.cid = out;
	assert_int_equal(sg_sess_insert(b, &n, &id, NULL), -EINVAL);
	assert_int_equal(refused(b, SG_SESS_REFUSE_BAD_CID), 1);
	sg_wipe(&sa, sizeof(sa));
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(b);
}

/*
 * A handshake reserves its CID before the session exists (ServerHello tells
 * the client), then installs into the reserved slot, or gives it back.
 */
static void test_cid_reserve(void **state)
{
	enum { CAP = 8 };
	struct sg_sess_table *t = mk(CAP, 8);
	struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
	uint8_t cid[8], cid2[8], out[8], held[CAP][8];
	struct sg_sess_stats st;
	struct sg_sess_ref r;
	struct sg_rec_sa sa;
	struct sg_sess_new n;
	uint64_t id, id2;

	(void)state;
	assert_non_null(w);
	sg_sess_worker_online(w);
	assert_int_equal(sg_sess_cid_reserve(t, cid), 0);
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.cids_reserved, 1);
	assert_int_equal(st.live, 0);
	/* Reserved is not findable: a record with that CID before Finished is no session's. */
	assert_int_equal(cid_lookup(w, cid, &r), 0);
	assert_int_equal(r.miss, SG_SESS_MISS_CID_CHECK);
	assert_int_equal(sg_sess_find_cid(t, cid, &id), -ENOENT);

	/* The install takes exactly that slot and CID. */
	st_sa(&sa, 1, 1);
	n = st_new(&sa, 1, 0, SG_SESS_F_CID | SG_SESS_F_TUPLE);
	n.cid = cid;
	assert_int_equal(sg_sess_insert(t, &n, &id, out), 0);
	assert_memory_equal(out, cid, 8);
	assert_int_equal(cid_lookup(w, cid, &r), 1);
	assert_int_equal(st_sa_owner(r.sa), 1);
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.cids_reserved, 0);
	assert_int_equal(st.live, 1);
	/* Taken: not releasable, not installable twice. */
	assert_int_equal(sg_sess_cid_release(t, cid), -ENOENT);
	n.flags = SG_SESS_F_CID;
	assert_int_equal(sg_sess_insert(t, &n, &id2, NULL), -EEXIST);

	/* A failed handshake gives its CID back; the slot's next CID differs. */
	assert_int_equal(sg_sess_cid_reserve(t, cid2), 0);
	assert_int_equal(sg_sess_cid_release(t, cid2), 0);
	assert_int_equal(sg_sess_cid_release(t, cid2), -ENOENT);
	assert_int_equal(sg_sess_cid_reserve(t, out), 0);
	assert_memory_not_equal(out, cid2, 8);
	assert_int_equal(sg_sess_cid_release(t, out), 0);

	/* Only the holder's CID takes a reserved slot: same slot, other nonce, refused. */
	assert_int_equal(sg_sess_cid_reserve(t, cid2), 0);
	assert_int_equal(sg_sess_cid_release(t, cid2), 0);
	assert_int_equal(sg_sess_cid_reserve(t, out), 0); /* the same slot, reserved anew */
	n.cid = cid2;
	assert_int_equal(sg_sess_insert(t, &n, &id2, NULL), -EEXIST);
	assert_int_equal(sg_sess_cid_release(t, out), 0);

	/* Reservations count against capacity, and come back. */
	for (unsigned i = 0; i < CAP - 1; i++)
		assert_int_equal(sg_sess_cid_reserve(t, held[i]), 0);
	assert_int_equal(sg_sess_cid_reserve(t, held[CAP - 1]), -ENOSPC);
	assert_int_equal(ins(t, 2, 0, SG_SESS_F_TUPLE, &id2, NULL), -ENOSPC);
	for (unsigned i = 0; i < CAP - 1; i++)
		assert_int_equal(sg_sess_cid_release(t, held[i]), 0);
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.cids_reserved, 0);
	assert_int_equal(ins(t, 2, 0, SG_SESS_F_TUPLE, &id2, NULL), 0);
	assert_int_equal(cid_lookup(w, cid, &r), 1);

	sg_wipe(&sa, sizeof(sa));
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);
}

/* Key lifetimes: a bounded sweep finds exactly the live sessions past their deadline. */
static void test_expired_sweep(void **state)
{
	enum { N = 100, SLOTS = 7 };
	struct sg_sess_table *t = mk(256, 8);
	uint64_t ids[N], found[N], cursor = 0, got = 0;
	unsigned seen[N] = { 0 }, passes = 0;
	struct sg_rec_sa sa;
	struct sg_sess_new n;

	(void)state;
	/* Session k expires at 1000 + k; every tenth never (0). */
	for (uint32_t k = 0; k < N; k++) {
		st_sa(&sa, k, 1);
		n = st_new(&sa, k, 0, SG_SESS_F_TUPLE);
		n.expires = k % 10 == 0 ? 0 : 1000 + k;
		assert_int_equal(sg_sess_insert(t, &n, &ids[k], NULL), 0);
	}
	/* A deleted session past its deadline is not reported. */
	assert_int_equal(sg_sess_delete(t, ids[55]), 0);
	/* now = 1050: sessions 1..50 but 10, 20, 30, 40, 50 (never), in calls of 7 slots. */
	do {
		unsigned k = sg_sess_expired(t, &cursor, SLOTS, 1050, 0, found, N);

		assert_true(k <= SLOTS);
		for (unsigned i = 0; i < k; i++) {
			uint32_t slot = (uint32_t)found[i];

			assert_true(slot < N);
			assert_int_equal(found[i], ids[slot]);
			seen[slot]++;
			got++;
		}
		passes += cursor == 0;
	} while (passes == 0);
	for (uint32_t k = 0; k < N; k++)
		assert_int_equal(seen[k], k >= 1 && k <= 50 && k % 10 != 0);
	assert_int_equal(got, 45);
	/* At most max_ids per call, and the sweep goes on where it stopped. */
	cursor = 0;
	assert_int_equal(sg_sess_expired(t, &cursor, 256, 2000, 0, found, 3), 3);
	assert_int_equal(found[0], ids[1]);
	assert_int_equal(found[2], ids[3]);
	assert_int_equal(sg_sess_expired(t, &cursor, 256, 2000, 0, found, 1), 1);
	assert_int_equal(found[0], ids[4]);
	/* Nothing due: nothing found, the cursor still wraps. */
	cursor = 0;
	assert_int_equal(sg_sess_expired(t, &cursor, 1000, 999, 0, found, N), 0);
	assert_int_equal(cursor, 0);
	/*
	 * Idle: every session started at 900 (st_new), none has had a record
	 * since. At 999 with a 100 s idle timeout none is idle; at 1000 all
	 * are (the deleted one aside), lifetime or not.
	 */
	cursor = 0;
	assert_int_equal(sg_sess_expired(t, &cursor, 1000, 999, 100, found, N), 0);
	cursor = 0;
	assert_int_equal(sg_sess_expired(t, &cursor, 1000, 1000, 100, found, N), N - 1);
	sg_wipe(&sa, sizeof(sa));
	sg_sess_table_destroy(t);
}

/* ---- replace ---- */

static void test_replace(void **state)
{
	struct sg_sess_table *t = mk(16, 0);
	struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
	struct sg_sess_tuple key;
	struct sg_sess_ref r;
	struct sg_rec_sa sa;
	struct sg_sess_stats st;
	struct sg_sess_info info;
	uint64_t id;

	(void)state;
	assert_int_equal(ins(t, 4, 1, SG_SESS_F_TUPLE, &id, NULL), 0);
	st_tuple(&key, 4, 1);
	sg_sess_worker_online(w);
	for (uint16_t v = 2; v <= 5; v++) {
		struct sg_sess_ref old;

		assert_int_equal(sg_sess_lookup_tuple_bulk(w, &key, 1, &old), 1);
		st_sa(&sa, 4, v);
		assert_int_equal(sg_sess_replace(t, id, &sa), 0);
		/* A record looked up before the replace keeps intact keys until we report. */
		assert_int_equal(old.sa->epoch, v - 1);
		assert_true(st_sa_ok(old.sa, 4));
		assert_int_equal(sg_sess_lookup_tuple_bulk(w, &key, 1, &r), 1);
		assert_int_equal(r.sa->epoch, v);
		assert_non_null(r.prev);
		assert_int_equal(r.prev->epoch, v - 1);
		assert_true(st_sa_ok(r.sa, 4));
		assert_true(st_sa_ok(r.prev, 4));
		assert_int_equal(sg_sess_ref_id(&r), id); /* same session */
		sg_sess_quiescent(w);
		sg_sess_reclaim(t, 0);
	}
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.replaces, 4);
	assert_int_equal(st.sa_in_use, 2); /* current + previous; older ones reclaimed */
	assert_int_equal(sg_sess_get(t, id, &info), 0);
	assert_int_equal(info.rekeys, 4);
	assert_int_equal(info.epoch, 5);
	assert_true(info.has_prev);

	assert_int_equal(sg_sess_retire_prev(t, id), 0);
	assert_int_equal(sg_sess_retire_prev(t, id), 0); /* none left: no-op */
	assert_int_equal(sg_sess_lookup_tuple_bulk(w, &key, 1, &r), 1);
	assert_null(r.prev);
	sg_sess_quiescent(w);
	assert_int_equal(sg_sess_reclaim(t, 0), 1);
	sg_sess_stats_get(t, &st);
	assert_int_equal(st.sa_in_use, 1);

	/* Owner moves. */
	assert_int_equal(sg_sess_set_owner(t, id, 7), 0);
	assert_int_equal(sg_sess_lookup_tuple_bulk(w, &key, 1, &r), 1);
	assert_int_equal(r.sess->owner, 7);
	sa.aead = SG_AEAD_MAX;
	assert_int_equal(sg_sess_replace(t, id, &sa), -EINVAL);
	sg_wipe(&sa, sizeof(sa));
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);
}

/* ---- peer CID, iteration, windows ---- */

static void test_peer_cid_iterate(void **state)
{
	static const uint8_t lens[] = { 0, 1, 8, 16, 17, 64, 255 };
	struct sg_sess_params p = { .capacity = 32,
		                    .replay_window = 1024,
		                    .cid_key = test_cid_key };
	struct sg_sess_table *t = sg_sess_table_create(&p);
	struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
	uint8_t peer[255 + 8];
	uint64_t ids[SG_ARRAY_SIZE(lens)], cursor = 0;
	unsigned seen = 0, mask = 0;
	struct sg_sess_info info;
	uint8_t *sa_buf;

	(void)state;
	assert_non_null(t);
	/* A 1024-bit window: the SA is bigger than struct sg_rec_sa and copied whole. */
	sa_buf = aligned_alloc(64, sg_rec_sa_size(1024));
	assert_non_null(sa_buf);
	for (unsigned i = 0; i < sizeof(peer); i++)
		peer[i] = (uint8_t)(i * 7 + 1);
	for (unsigned i = 0; i < SG_ARRAY_SIZE(lens); i++) {
		struct sg_sess_new n;

		memset(sa_buf, 0xA5, sg_rec_sa_size(1024));
		st_sa((struct sg_rec_sa *)sa_buf, i, 1);
		n = st_new((struct sg_rec_sa *)sa_buf, i, 0, SG_SESS_F_TUPLE);
		n.peer_cid = lens[i] ? peer + i : NULL;
		n.peer_cid_len = lens[i];
		assert_int_equal(sg_sess_insert(t, &n, &ids[i], NULL), 0);
	}
	sg_sess_worker_online(w);
	for (unsigned i = 0; i < SG_ARRAY_SIZE(lens); i++) {
		struct sg_sess_tuple key;
		struct sg_sess_ref r;

		st_tuple(&key, i, 0);
		assert_int_equal(sg_sess_lookup_tuple_bulk(w, &key, 1, &r), 1);
		assert_int_equal(r.sess->peer_cid_len, lens[i]);
		if (lens[i])
			assert_memory_equal(sg_sess_peer_cid(t, r.sess), peer + i, lens[i]);
		/* The bitmap tail past the struct came along. */
		assert_int_equal(((uint8_t *)r.sa)[sg_rec_sa_size(1024) - 1], 0xA5);
	}
	sg_sess_quiescent(w);
	/* Delete two (one with an out-of-line peer CID) and iterate the rest. */
	assert_int_equal(sg_sess_delete(t, ids[1]), 0);
	assert_int_equal(sg_sess_delete(t, ids[6]), 0);
	while (sg_sess_next(t, &cursor, &info) == 0) {
		unsigned i = info.identity;

		assert_true(i < SG_ARRAY_SIZE(lens));
		assert_int_equal(info.id, ids[i]);
		assert_int_equal(info.peer_cid_len, lens[i]);
		assert_memory_equal(info.peer_cid, peer + i, lens[i]);
		mask |= 1u << i;
		seen++;
	}
	assert_int_equal(seen, SG_ARRAY_SIZE(lens) - 2);
	assert_int_equal(mask, 0x7fu & ~(1u << 1) & ~(1u << 6));
	sg_wipe(sa_buf, sg_rec_sa_size(1024));
	free(sa_buf);
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t); /* frees the pending ones too (ASan checks leaks) */
}

/* The index at full tuple_capacity: every insert fits (cuckoo moves), every key found. */
static void test_index_full_load(void **state)
{
	enum { N = 20000 };
	struct sg_sess_params p = { .capacity = N, .cid_key = test_cid_key };
	struct sg_sess_table *t = sg_sess_table_create(&p);
	struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
	static struct sg_sess_tuple keys[N];
	static struct sg_sess_ref refs[N];
	struct sg_sess_stats st;
	uint64_t id;

	(void)state;
	for (uint32_t k = 0; k < N; k++) {
		assert_int_equal(ins(t, k, k % 3 == 0, SG_SESS_F_TUPLE, &id, NULL), 0);
		st_tuple(&keys[k], k, k % 3 == 0);
	}
	sg_sess_stats_get(t, &st);
	assert_true(st.index_moves > 0);
	assert_int_equal(st.refused[SG_SESS_REFUSE_INDEX_FULL], 0);
	sg_sess_worker_online(w);
	assert_int_equal(sg_sess_lookup_tuple_bulk(w, keys, N, refs), N);
	for (uint32_t k = 0; k < N; k++)
		assert_int_equal(st_sa_owner(refs[k].sa), k);
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);
}

/* ---- concurrency ---- */

enum { CC_STABLE = 2400, CC_CHURN = 800, CC_N = CC_STABLE + CC_CHURN, CC_READERS = 2 };

struct cc_shared {
	struct sg_sess_table *t;
	uint64_t cid[CC_N]; /* 8-byte CIDs, 0: none; atomically replaced by the writer */
	int done;
	uint64_t reads[CC_READERS];
};

struct cc_reader {
	struct cc_shared *sh;
	unsigned id;
	uint64_t x;
	unsigned lookups, stable_miss, wrong_owner, bad_keys, churn_hits;
};

static void *cc_reader_main(void *arg)
{
	struct cc_reader *rd = arg;
	struct cc_shared *sh = rd->sh;
	struct sg_sess_worker *w = sg_sess_worker_create(sh->t, rd->id);
	struct sg_sess_tuple keys[32];
	uint32_t ks[32];
	uint64_t cidv[32];
	const uint8_t *cp[32];
	struct sg_sess_ref r[32];

	if (w == NULL)
		return NULL;
	sg_sess_worker_online(w);
	while (!__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE)) {
		unsigned nc = 0;

		for (unsigned i = 0; i < 32; i++) {
			rd->x = st_mix(rd->x);
			ks[i] = (uint32_t)(rd->x % (i & 1 ? CC_CHURN : CC_STABLE)) +
			        (i & 1 ? CC_STABLE : 0);
			st_tuple(&keys[i], ks[i], ks[i] & 1);
		}
		sg_sess_lookup_tuple_bulk(w, keys, 32, r);
		for (unsigned i = 0; i < 32; i++) {
			if (r[i].miss != SG_SESS_HIT) {
				if (ks[i] < CC_STABLE)
					rd->stable_miss++;
				continue;
			}
			rd->churn_hits += ks[i] >= CC_STABLE;
			if (st_sa_owner(r[i].sa) != ks[i])
				rd->wrong_owner++;
			if (!st_sa_ok(r[i].sa, ks[i]) || (r[i].prev && !st_sa_ok(r[i].prev, ks[i])))
				rd->bad_keys++;
		}
		for (unsigned i = 0; i < 32; i++) {
			cidv[nc] = __atomic_load_n(&sh->cid[ks[i]], __ATOMIC_RELAXED);
			if (cidv[nc] == 0)
				continue;
			ks[nc] = ks[i];
			cp[nc] = (const uint8_t *)&cidv[nc];
			nc++;
		}
		sg_sess_lookup_cid_bulk(w, cp, nc, r);
		for (unsigned i = 0; i < nc; i++) {
			if (r[i].miss != SG_SESS_HIT) {
				if (ks[i] < CC_STABLE)
					rd->stable_miss++;
				continue;
			}
			/* A stale CID may miss, never find someone else. */
			if (st_sa_owner(r[i].sa) != ks[i])
				rd->wrong_owner++;
			if (!st_sa_ok(r[i].sa, ks[i]))
				rd->bad_keys++;
		}
		rd->lookups += 32 + nc;
		__atomic_store_n(&sh->reads[rd->id], sh->reads[rd->id] + 1, __ATOMIC_RELEASE);
		sg_sess_quiescent(w);
	}
	sg_sess_worker_offline(w);
	sg_sess_worker_destroy(w);
	return NULL;
}

/* -EAGAIN / -ENOSPC while frees wait for readers: wait for a grace period and retry. */
static int cc_retry(struct sg_sess_table *t, int rc, unsigned *tries)
{
	if ((rc == -EAGAIN || rc == -ENOSPC) && ++*tries < 100) {
		sg_sess_reclaim(t, 1);
		return 1;
	}
	return 0;
}

static int cc_readers_done(struct cc_shared *sh, const uint64_t *reads0, uint64_t bursts)
{
	for (unsigned i = 0; i < CC_READERS; i++)
		if (__atomic_load_n(&sh->reads[i], __ATOMIC_ACQUIRE) < reads0[i] + bursts)
			return 0;
	return 1;
}

static void test_concurrency(void **state)
{
	struct sg_sess_params p = { .capacity = CC_N + 64,
		                    .sa_reserve = CC_N,
		                    .defer_capacity = 256,
		                    .cid_key = test_cid_key };
	static struct cc_shared sh;
	static uint64_t ids[CC_N];
	struct cc_reader rd[CC_READERS];
	pthread_t th[CC_READERS];
	struct sg_sess_stats st;
	uint64_t x = 42, inserts = 0, deletes = 0, replaces = 0;
	uint16_t ver[CC_N];
	uint8_t has_prev[CC_N] = { 0 };
	uint64_t reads0[CC_READERS];
	uint64_t t0;
	uint64_t prevs = 0;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.t = sg_sess_table_create(&p);
	assert_non_null(sh.t);
	for (uint32_t k = 0; k < CC_STABLE; k++) {
		uint64_t cid = 0;

		assert_int_equal(ins(sh.t, k, k & 1, SG_SESS_F_TUPLE | SG_SESS_F_CID, &ids[k],
		                     (uint8_t *)&cid),
		                 0);
		sh.cid[k] = cid;
		ver[k] = 1;
	}
	memset(ids + CC_STABLE, 0, sizeof(ids[0]) * CC_CHURN);
	for (unsigned i = 0; i < CC_READERS; i++) {
		rd[i] = (struct cc_reader){ .sh = &sh, .id = i, .x = 1000 + i };
		assert_int_equal(pthread_create(&th[i], NULL, cc_reader_main, &rd[i]), 0);
	}
	/* Churn only once every reader is looking up. */
	for (unsigned i = 0; i < CC_READERS; i++)
		while (__atomic_load_n(&sh.reads[i], __ATOMIC_ACQUIRE) == 0)
			sched_yield();
	/*
	 * The control thread: churn of insert / replace / delete, at least
	 * 24000 operations and until every reader did 300 bursts meanwhile
	 * (bounded: 20 s).
	 */
	for (unsigned i = 0; i < CC_READERS; i++)
		reads0[i] = __atomic_load_n(&sh.reads[i], __ATOMIC_ACQUIRE);
	t0 = sg_mono_ns();
	for (unsigned op = 0;; op++) {
		unsigned tries = 0;
		uint32_t k;
		int rc;

		x = st_mix(x);
		k = (uint32_t)(x % CC_N);
		if (k >= CC_STABLE && ids[k] == 0) {
			uint64_t cid = 0;
			struct sg_rec_sa sa;
			struct sg_sess_new n;

			ver[k] = 1;
			st_sa(&sa, k, 1);
			n = st_new(&sa, k, k & 1, SG_SESS_F_TUPLE | SG_SESS_F_CID);
			while ((rc = sg_sess_insert(sh.t, &n, &ids[k], (uint8_t *)&cid)) != 0 &&
			       cc_retry(sh.t, rc, &tries))
				;
			assert_int_equal(rc, 0);
			__atomic_store_n(&sh.cid[k], cid, __ATOMIC_RELAXED);
			has_prev[k] = 0;
			inserts++;
		} else if (k < CC_STABLE || (x >> 32) % 3 == 0) {
			struct sg_rec_sa sa;

			st_sa(&sa, k, ++ver[k]);
			while ((rc = sg_sess_replace(sh.t, ids[k], &sa)) != 0 &&
			       cc_retry(sh.t, rc, &tries))
				;
			assert_int_equal(rc, 0);
			has_prev[k] = 1;
			if ((x >> 40) % 2 == 0) {
				while ((rc = sg_sess_retire_prev(sh.t, ids[k])) != 0 &&
				       cc_retry(sh.t, rc, &tries))
					;
				assert_int_equal(rc, 0);
				has_prev[k] = 0;
			}
			replaces++;
		} else {
			/* Leave the stale CID visible to readers: it must just miss. */
			while ((rc = sg_sess_delete(sh.t, ids[k])) != 0 &&
			       cc_retry(sh.t, rc, &tries))
				;
			assert_int_equal(rc, 0);
			ids[k] = 0;
			has_prev[k] = 0;
			deletes++;
		}
		if (op % 64 == 0)
			sg_sess_reclaim(sh.t, 0);
		if (op >= 24000 && cc_readers_done(&sh, reads0, 300))
			break;
		if (op % 1024 == 0) {
			assert_true(sg_mono_ns() - t0 < 20 * SG_NS_PER_SEC);
			sched_yield(); /* two cores: let the readers run */
		}
	}
	__atomic_store_n(&sh.done, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < CC_READERS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	sg_sess_reclaim(sh.t, 1);

	sg_sess_stats_get(sh.t, &st);
	for (unsigned i = 0; i < CC_READERS; i++) {
		print_message("# reader %u: %u lookups, %u churn hits\n", i, rd[i].lookups,
		              rd[i].churn_hits);
		assert_true(rd[i].lookups > 0);
		assert_int_equal(rd[i].stable_miss, 0);
		assert_int_equal(rd[i].wrong_owner, 0);
		assert_int_equal(rd[i].bad_keys, 0);
	}
	print_message("# writer: %lu inserts %lu replaces %lu deletes, %lu index moves\n",
	              (unsigned long)inserts, (unsigned long)replaces, (unsigned long)deletes,
	              (unsigned long)st.index_moves);
	assert_true(inserts > 1000 && deletes > 1000 && replaces > 1000);
	assert_true(st.index_moves > 0); /* readers raced cuckoo moves */
	assert_int_equal(st.deferred, 0);
	assert_int_equal(st.live, CC_STABLE + inserts - deletes);
	for (uint32_t k = 0; k < CC_N; k++)
		prevs += has_prev[k];
	/* Every SA is accounted for: current keys of live sessions plus kept previous ones. */
	assert_int_equal(st.sa_in_use, st.live + prevs);
	sg_sess_table_destroy(sh.t);
}

/* Replace during traffic: records sealed under the old keys still open. */

enum { RF_SESS = 4, RF_VERSIONS = 150, RF_READERS = 2 };

struct rf_shared {
	struct sg_sess_table *t;
	uint32_t version[RF_SESS];
	uint64_t iters[RF_READERS];
	int done;
};

struct rf_reader {
	struct rf_shared *sh;
	unsigned id;
	unsigned ok, lost, bad, records;
};

static void rf_key(uint8_t key[16], uint32_t k, uint32_t v)
{
	struct sg_rec_sa sa;

	st_sa(&sa, k, (uint16_t)v);
	memcpy(key, sa.rx_key, 16);
	sg_wipe(&sa, sizeof(sa));
}

/* AES-128-GCM through OpenSSL (an independent implementation of the record AEAD). */
static int rf_gcm(int enc, const uint8_t key[16], const uint8_t iv[12], uint8_t *buf, int len,
                  uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int out = 0, ok;

	ok = c != NULL && EVP_CipherInit_ex(c, EVP_aes_128_gcm(), NULL, key, iv, enc) == 1 &&
	     (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1) &&
	     EVP_CipherUpdate(c, buf, &out, buf, len) == 1 &&
	     EVP_CipherFinal_ex(c, buf + out, &out) == 1 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	return ok;
}

static void *rf_reader_main(void *arg)
{
	struct rf_reader *rd = arg;
	struct rf_shared *sh = rd->sh;
	struct sg_sess_worker *w = sg_sess_worker_create(sh->t, rd->id);
	uint64_t x = rd->id + 77;

	if (w == NULL)
		return NULL;
	sg_sess_worker_online(w);
	while (!__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE)) {
		uint32_t k = (uint32_t)((x = st_mix(x)) % RF_SESS);
		uint32_t v = __atomic_load_n(&sh->version[k], __ATOMIC_ACQUIRE);
		uint8_t key[16], iv[12] = { 0 }, rec[48], tag[16];
		const struct sg_rec_sa *use;
		struct sg_sess_tuple t;
		struct sg_sess_ref r;

		/* The device seals a record under the keys it has now ... */
		rf_key(key, k, v);
		memcpy(iv, &x, 8);
		memset(rec, (int)k, sizeof(rec));
		if (!rf_gcm(1, key, iv, rec, sizeof(rec), tag))
			rd->bad++;
		/* ... and the gateway opens it with whatever the table gives, by epoch. */
		st_tuple(&t, k, 0);
		if (sg_sess_lookup_tuple_bulk(w, &t, 1, &r) != 1) {
			rd->lost++;
		} else {
			use = r.sa->epoch == v ? r.sa
			                       : (r.prev && r.prev->epoch == v ? r.prev : NULL);
			if (use == NULL) {
				rd->lost++;
			} else {
				sched_yield(); /* let the writer replace while we hold the keys */
				if (rf_gcm(0, use->rx_key, iv, rec, sizeof(rec), tag) &&
				    rec[0] == (uint8_t)k && rec[47] == (uint8_t)k)
					rd->ok++;
				else
					rd->bad++;
			}
		}
		rd->records++;
		sg_sess_quiescent(w);
		__atomic_store_n(&sh->iters[rd->id], sh->iters[rd->id] + 1, __ATOMIC_RELEASE);
	}
	sg_sess_worker_offline(w);
	sg_sess_worker_destroy(w);
	return NULL;
}

static void test_replace_in_flight(void **state)
{
	struct sg_sess_params p = { .capacity = 16, .cid_key = test_cid_key };
	static struct rf_shared sh;
	struct rf_reader rd[RF_READERS];
	pthread_t th[RF_READERS];
	uint64_t ids[RF_SESS];

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.t = sg_sess_table_create(&p);
	assert_non_null(sh.t);
	for (uint32_t k = 0; k < RF_SESS; k++) {
		assert_int_equal(ins(sh.t, k, 0, SG_SESS_F_TUPLE, &ids[k], NULL), 0);
		sh.version[k] = 1;
	}
	for (unsigned i = 0; i < RF_READERS; i++) {
		rd[i] = (struct rf_reader){ .sh = &sh, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, rf_reader_main, &rd[i]), 0);
	}
	for (uint32_t v = 2; v <= RF_VERSIONS; v++) {
		uint64_t seen[RF_READERS];
		uint64_t t0;

		for (unsigned i = 0; i < RF_READERS; i++)
			seen[i] = __atomic_load_n(&sh.iters[i], __ATOMIC_ACQUIRE);
		for (uint32_t k = 0; k < RF_SESS; k++) {
			struct sg_rec_sa sa;

			st_sa(&sa, k, (uint16_t)v);
			assert_int_equal(sg_sess_replace(sh.t, ids[k], &sa), 0);
			__atomic_store_n(&sh.version[k], v, __ATOMIC_RELEASE);
			sg_wipe(&sa, sizeof(sa));
		}
		/*
		 * Policy: keep the previous keys until every record sealed under
		 * them has been looked up (each reader finished the iteration it
		 * was in), then retire them.
		 */
		t0 = sg_mono_ns();
		for (unsigned i = 0; i < RF_READERS; i++) {
			while (__atomic_load_n(&sh.iters[i], __ATOMIC_ACQUIRE) < seen[i] + 2) {
				assert_true(sg_mono_ns() - t0 < 20 * SG_NS_PER_SEC);
				sched_yield();
			}
		}
		for (uint32_t k = 0; k < RF_SESS; k++)
			assert_int_equal(sg_sess_retire_prev(sh.t, ids[k]), 0);
		sg_sess_reclaim(sh.t, 0);
	}
	__atomic_store_n(&sh.done, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < RF_READERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		print_message("# reader %u: %u records, %u opened, %u lost, %u bad\n", i,
		              rd[i].records, rd[i].ok, rd[i].lost, rd[i].bad);
		assert_true(rd[i].ok > RF_VERSIONS);
		assert_int_equal(rd[i].lost, 0);
		assert_int_equal(rd[i].bad, 0);
		assert_int_equal(rd[i].ok, rd[i].records);
	}
	sg_sess_table_destroy(sh.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),           cmocka_unit_test(test_insert_lookup),
		cmocka_unit_test(test_insert_bulk),      cmocka_unit_test(test_key_kinds),
		cmocka_unit_test(test_ipv6_keys),        cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_defer_full),       cmocka_unit_test(test_single_writer),
		cmocka_unit_test(test_cid_forged_stale), cmocka_unit_test(test_cid_node),
		cmocka_unit_test(test_cid_restore),      cmocka_unit_test(test_cid_reserve),
		cmocka_unit_test(test_expired_sweep),    cmocka_unit_test(test_replace),
		cmocka_unit_test(test_peer_cid_iterate), cmocka_unit_test(test_index_full_load),
		cmocka_unit_test(test_concurrency),      cmocka_unit_test(test_replace_in_flight),
		cmocka_unit_test(test_delete_hold),
	};

	return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
