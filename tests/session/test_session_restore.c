/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Restore at a recorded session id (issue 15): SG_SESS_F_ID in
 * sg_sess_insert() and sg_sess_insert_bulk(), with and without a restored
 * CID, the refusals (slot held, pending free, reserved; bad generation or
 * slot; CID and id naming different slots), the generation a later session
 * in the slot gets, and sg_sess_get_sa()'s copy of the current SA.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sess_test.h"

static const uint8_t test_cid_key[16] = { 0x53, 0x47, 0x2d, 0x72, 0x65, 0x73, 0x74, 0x6f,
	                                  0x72, 0x65, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x31 };

static struct sg_sess_table *mk(uint32_t cap)
{
	struct sg_sess_params p = { .capacity = cap, .cid_len = 8, .cid_key = test_cid_key };
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

/* Insert test session k at id (flags: SG_SESS_F_ID is added), restored CID or NULL. */
static int ins_at(struct sg_sess_table *t, uint32_t k, uint8_t flags, uint64_t at,
                  const uint8_t *cid, uint64_t *id, uint8_t *out)
{
	struct sg_rec_sa sa;
	struct sg_sess_new n;
	int rc;

	st_sa(&sa, k, 1);
	n = st_new(&sa, k, 0, flags | SG_SESS_F_ID);
	n.id = at;
	n.cid = cid;
	rc = sg_sess_insert(t, &n, id, out);
	sg_wipe(&sa, sizeof(sa));
	return rc;
}

static uint64_t mkid(uint32_t gen, uint32_t slot)
{
	return (uint64_t)gen << 32 | slot;
}

/* A restored 4-tuple session has exactly its id; the slot's next session the next gen. */
static void test_restore_at_id(void **state)
{
	struct sg_sess_table *t = mk(8);
	struct sg_sess_tuple k5;
	struct sg_sess_info info;
	uint64_t id, ids[8];
	unsigned seen5 = 0;

	(void)state;
	assert_int_equal(ins_at(t, 5, SG_SESS_F_TUPLE, mkid(7, 5), NULL, &id, NULL), 0);
	assert_true(id == mkid(7, 5));
	assert_int_equal(sg_sess_get(t, id, &info), 0);
	assert_int_equal(info.identity, 5);
	/* The id flag is the request's, not the session's. */
	assert_int_equal(info.flags, SG_SESS_F_TUPLE);
	st_tuple(&k5, 5, 0);
	assert_int_equal(sg_sess_find_tuple(t, &k5, &id), 0);
	assert_true(id == mkid(7, 5));

	/* The slot is held: the same id, or another generation of it, is refused. */
	assert_int_equal(ins_at(t, 6, SG_SESS_F_TUPLE, mkid(7, 5), NULL, &id, NULL), -EEXIST);
	assert_int_equal(ins_at(t, 6, SG_SESS_F_TUPLE, mkid(9, 5), NULL, &id, NULL), -EEXIST);
	assert_int_equal(refused(t, SG_SESS_REFUSE_CID_TAKEN), 2);
	/* Generation 0 is no id; a slot beyond the table is not one of ours. */
	assert_int_equal(ins_at(t, 6, SG_SESS_F_TUPLE, mkid(0, 2), NULL, &id, NULL), -EINVAL);
	assert_int_equal(ins_at(t, 6, SG_SESS_F_TUPLE, mkid(1, 8), NULL, &id, NULL), -EINVAL);
	assert_int_equal(refused(t, SG_SESS_REFUSE_INVALID), 2);

	/* Slots 0..4 below the restored one are free: plain inserts take them and the rest. */
	for (uint32_t k = 0; k < 7; k++) {
		struct sg_rec_sa sa;
		struct sg_sess_new n;

		st_sa(&sa, 100 + k, 1);
		n = st_new(&sa, 100 + k, 0, SG_SESS_F_TUPLE);
		assert_int_equal(sg_sess_insert(t, &n, &ids[k], NULL), 0);
		assert_int_not_equal((uint32_t)ids[k], 5);
		sg_wipe(&sa, sizeof(sa));
	}
	/* Full: a held slot (a 4-tuple session would hear first that the index is full). */
	assert_int_equal(ins_at(t, 6, SG_SESS_F_CID, mkid(1, 3), NULL, &id, NULL), -EEXIST);
	assert_int_equal(ins_at(t, 6, SG_SESS_F_TUPLE, mkid(1, 3), NULL, &id, NULL), -ENOSPC);

	/* Free slot 5 again: its next session has generation 8, not 1. */
	assert_int_equal(sg_sess_delete(t, mkid(7, 5)), 0);
	sg_sess_reclaim(t, 1);
	assert_int_equal(ins_at(t, 200, SG_SESS_F_TUPLE, mkid(1, 1), NULL, &id, NULL), -EEXIST);
	{
		struct sg_rec_sa sa;
		struct sg_sess_new n;

		st_sa(&sa, 300, 1);
		n = st_new(&sa, 300, 0, SG_SESS_F_TUPLE);
		assert_int_equal(sg_sess_insert(t, &n, &ids[7], NULL), 0);
		sg_wipe(&sa, sizeof(sa));
	}
	for (unsigned i = 0; i < 8; i++)
		if ((uint32_t)ids[i] == 5) {
			assert_int_equal(ids[i] >> 32, 8);
			seen5++;
		}
	assert_int_equal(seen5, 1);
	sg_sess_table_destroy(t);
}

/* A slot whose free waits for a grace period, or one a handshake reserved, is not free. */
static void test_restore_pending_reserved(void **state)
{
	struct sg_sess_table *t = mk(16);
	struct sg_sess_worker *w = sg_sess_worker_create(t, 0);
	uint8_t cid[8];
	uint64_t id, victim;

	(void)state;
	assert_non_null(w);
	sg_sess_worker_online(w);
	assert_int_equal(ins_at(t, 1, SG_SESS_F_TUPLE, mkid(3, 2), NULL, &victim, NULL), 0);
	assert_int_equal(sg_sess_delete(t, victim), 0);
	/* The worker has not reported: slot 2 is still dead. */
	assert_int_equal(ins_at(t, 2, SG_SESS_F_TUPLE, mkid(4, 2), NULL, &id, NULL), -EEXIST);
	sg_sess_quiescent(w);
	assert_int_equal(ins_at(t, 2, SG_SESS_F_TUPLE, mkid(4, 2), NULL, &id, NULL), 0);
	assert_true(id == mkid(4, 2));

	sg_sess_worker_offline(w);
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(t);

	/* A slot a handshake reserved (an empty table's first: slot 0) is not free either. */
	t = mk(2);
	assert_int_equal(sg_sess_cid_reserve(t, cid), 0);
	assert_int_equal(ins_at(t, 3, SG_SESS_F_TUPLE, mkid(1, 0), NULL, &id, NULL), -EEXIST);
	assert_int_equal(ins_at(t, 4, SG_SESS_F_TUPLE, mkid(1, 1), NULL, &id, NULL), 0);
	/* The handshake still installs into its reservation. */
	{
		struct sg_rec_sa sa;
		struct sg_sess_new n;

		st_sa(&sa, 5, 1);
		n = st_new(&sa, 5, 0, SG_SESS_F_CID);
		n.cid = cid;
		assert_int_equal(sg_sess_insert(t, &n, &id, NULL), 0);
		assert_int_equal((uint32_t)id, 0);
		sg_wipe(&sa, sizeof(sa));
	}
	sg_sess_table_destroy(t);
}

/* With a CID: the CID must name the id's slot; without one a fresh CID for that slot. */
static void test_restore_cid(void **state)
{
	enum { N = 6 };
	struct sg_sess_table *a = mk(64), *b;
	struct sg_sess_worker *w;
	struct sg_sess_ref r;
	uint8_t cids[N][8], out[8];
	const uint8_t *cp[1];
	uint64_t ids[N], id;

	(void)state;
	for (uint32_t k = 0; k < N; k++) {
		struct sg_rec_sa sa;
		struct sg_sess_new n;

		st_sa(&sa, k, 1);
		n = st_new(&sa, k, 0, SG_SESS_F_CID);
		assert_int_equal(sg_sess_insert(a, &n, &ids[k], cids[k]), 0);
		sg_wipe(&sa, sizeof(sa));
	}
	sg_sess_table_destroy(a);
	b = mk(64);

	/* The CID of session 1 with the id of session 2: refused, counted, nothing taken. */
	assert_int_equal(ins_at(b, 1, SG_SESS_F_CID, ids[2], cids[1], &id, out), -EINVAL);
	assert_int_equal(refused(b, SG_SESS_REFUSE_INVALID), 1);
	for (uint32_t k = 0; k < N; k++) {
		id = 0;
		/* Another generation than the first table gave: the id's, not the CID's. */
		assert_int_equal(
		        ins_at(b, k, SG_SESS_F_CID, ids[k] + (5ull << 32), cids[k], &id, out), 0);
		assert_true(id == ids[k] + (5ull << 32));
		assert_memory_equal(out, cids[k], 8);
	}
	w = sg_sess_worker_create(b, 0);
	assert_non_null(w);
	sg_sess_worker_online(w);
	for (uint32_t k = 0; k < N; k++) {
		cp[0] = cids[k];
		assert_int_equal(sg_sess_lookup_cid_bulk(w, cp, 1, &r), 1);
		assert_int_equal(st_sa_owner(r.sa), k);
		assert_true(sg_sess_ref_id(&r) == ids[k] + (5ull << 32));
	}
	/* No CID given: a fresh one is issued for the id's slot. */
	assert_int_equal(ins_at(b, 40, SG_SESS_F_CID, mkid(2, 40), NULL, &id, out), 0);
	assert_true(id == mkid(2, 40));
	assert_int_equal(sg_sess_find_cid(b, out, &id), 0);
	assert_true(id == mkid(2, 40));
	cp[0] = out;
	assert_int_equal(sg_sess_lookup_cid_bulk(w, cp, 1, &r), 1);
	assert_int_equal(r.slot, 40);
	sg_sess_worker_offline(w);
	sg_sess_worker_destroy(w);
	sg_sess_table_destroy(b);
}

/* A table's sessions into a new one in bulk: every id, CID and field back as it was. */
static void test_restore_bulk(void **state)
{
	enum { N = 200 };
	struct sg_sess_table *a = mk(512), *b;
	static struct sg_sess_info before[N], after;
	static struct sg_sess_new n[N + 1];
	static struct sg_rec_sa sas[N + 1];
	static uint8_t cids[(N + 1) * 8];
	uint64_t ids[N + 1], cursor = 0, id;
	int rcs[N + 1];
	unsigned m = 0;

	(void)state;
	/* Churn first so the ids carry generations above 1 and slots with holes. */
	for (uint32_t k = 0; k < 3 * N; k++) {
		uint8_t fl = (uint8_t)(k % 3 == 0 ? SG_SESS_F_TUPLE
		                       : k & 1    ? SG_SESS_F_CID | SG_SESS_F_TUPLE
		                                  : SG_SESS_F_CID);

		st_sa(&sas[0], k, 1);
		n[0] = st_new(&sas[0], k, 0, fl);
		assert_int_equal(sg_sess_insert(a, &n[0], &id, NULL), 0);
		if (k % 3 != 2)
			assert_int_equal(sg_sess_delete(a, id), 0);
		sg_sess_reclaim(a, 1);
	}
	while (m < N && sg_sess_next(a, &cursor, &before[m]) == 0) {
		assert_int_equal(sg_sess_get_sa(a, before[m].id, &sas[m]), 0);
		n[m] = st_new(&sas[m], before[m].identity, 0, before[m].flags | SG_SESS_F_ID);
		n[m].tuple = before[m].tuple;
		n[m].id = before[m].id;
		n[m].cid = before[m].cid_len ? before[m].cid : NULL;
		m++;
	}
	assert_int_equal(m, N);
	/* One more row repeats the first id: refused in the batch, the others go in. */
	n[m] = n[0];
	n[m].flags = SG_SESS_F_ID | SG_SESS_F_CID;
	n[m].cid = NULL;
	b = mk(512);
	assert_int_equal(sg_sess_insert_bulk(b, n, N + 1, ids, cids, rcs), N);
	assert_int_equal(rcs[N], -EEXIST);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(rcs[i], 0);
		assert_true(ids[i] == before[i].id);
		assert_int_equal(sg_sess_get(b, ids[i], &after), 0);
		assert_int_equal(after.identity, before[i].identity);
		assert_int_equal(after.flags, before[i].flags);
		assert_memory_equal(&after.tuple, &before[i].tuple, sizeof(after.tuple));
		assert_int_equal(after.cid_len, before[i].cid_len);
		assert_memory_equal(after.cid, before[i].cid, before[i].cid_len);
		if (before[i].cid_len)
			assert_memory_equal(cids + i * 8, before[i].cid, 8);
		sg_wipe(&sas[i], sizeof(sas[i]));
	}
	sg_sess_table_destroy(a);
	sg_sess_table_destroy(b);
}

/* sg_sess_get_sa(): the keys and sequence words of the current SA; a stale id is -ENOENT. */
static void test_get_sa(void **state)
{
	struct sg_sess_table *t = mk(8);
	struct sg_rec_sa sa, got, next;
	struct sg_sess_new n;
	uint64_t id;

	(void)state;
	st_sa(&sa, 42, 1);
	sa.tx_word = (uint64_t)1200 << SG_SA_TX_SEQ_BITS | 77777;
	sa.rx_top = 4242;
	sa.auth_failures = 3;
	n = st_new(&sa, 42, 0, SG_SESS_F_TUPLE);
	assert_int_equal(sg_sess_insert(t, &n, &id, NULL), 0);
	assert_int_equal(sg_sess_get_sa(t, id, &got), 0);
	assert_memory_equal(&got, &sa, sizeof(sa));
	assert_int_equal(sg_rec_sa_tx_seq(&got), 77777);
	assert_int_equal(sg_rec_sa_max_plaintext(&got), 1200);
	/* After a replace the copy is the new current SA. */
	st_sa(&next, 42, 2);
	assert_int_equal(sg_sess_replace(t, id, &next), 0);
	assert_int_equal(sg_sess_get_sa(t, id, &got), 0);
	assert_true(st_sa_ok(&got, 42));
	assert_int_equal(got.epoch, 2);
	assert_int_equal(sg_sess_get_sa(t, id + (1ull << 32), &got), -ENOENT);
	assert_int_equal(sg_sess_get_sa(t, id, NULL), -EINVAL);
	assert_int_equal(sg_sess_delete(t, id), 0);
	assert_int_equal(sg_sess_get_sa(t, id, &got), -ENOENT);
	sg_wipe(&sa, sizeof(sa));
	sg_wipe(&next, sizeof(next));
	sg_wipe(&got, sizeof(got));
	sg_sess_table_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_at_id),
		cmocka_unit_test(test_restore_pending_reserved),
		cmocka_unit_test(test_restore_cid),
		cmocka_unit_test(test_restore_bulk),
		cmocka_unit_test(test_get_sa),
	};

	return cmocka_run_group_tests_name("session_restore", tests, NULL, NULL);
}
