/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `sessions kill` below the daemon: sg_sess_delete_take() waits out a worker
 * still holding the session (a thread in a real RCU read-side section that
 * seals records meanwhile), hands over the SA with the write sequence that
 * worker left, and the closing alert sealed from it (sg_alert_seal) opens
 * with the device's keys as an authenticated close_notify with the next
 * sequence number, for every AEAD, with and without the peer's CID
 * (RFC 9146), and leaves no key in the control thread's context; the table
 * then knows the session no more.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <stormgate/dtls.h>
#include <stormgate/record.h>
#include <stormgate/session.h>
#include <stormgate/time.h>

#include "sg_alert.h"
#include "tc_sa.h"

#define WINDOW 128

/*
 * The two ends of one session: server (ours, under the device's RFC 8449
 * limit, the least) and device (the peer).
 */
static void sa_pair(enum sg_aead aead, uint8_t flags_srv, uint8_t flags_dev, struct sg_rec_sa *srv,
                    struct sg_rec_sa *dev, uint64_t tx_seq)
{
	struct tc_keys k;
	struct sg_rec_sa_params p = { .aead = aead,
		                      .epoch = 1,
		                      .flags = flags_srv,
		                      .tx_seq = tx_seq,
		                      .rx_seq = 1,
		                      .max_plaintext = SG_TLS_RECORD_SIZE_LIMIT_MIN };

	tc_keys_make(&k, aead);
	tc_sa_pair(srv, NULL, WINDOW, &p, &k);
	p.max_plaintext = 0;
	p.flags = flags_dev;
	p.tx_seq = 1;
	p.rx_seq = 0;
	tc_sa_pair(NULL, dev, WINDOW, &p, &k);
}

struct reader {
	struct sg_sess_table *t;
	struct sg_sess_tuple key;
	struct sg_rec_ctx *ctx;
	const uint8_t *cid; /* the peer's CID when the SA sends it */
	uint8_t cid_len;
	/*
	 * Hand-over between the two threads: found (release, by the reader, after
	 * sealed is written; acquire, by the test, before it reads sealed) and go.
	 * quiescent_ns is read after pthread_join(), which orders it.
	 */
	atomic_int found, go;
	uint64_t quiescent_ns; /* when it let go of the session */
	unsigned sealed;
};

/*
 * A worker: finds the session, seals a few records with its SA (the owner
 * advancing tx_seq), holds the reference 100 ms, then reports quiescent.
 */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct sg_sess_worker *w = sg_sess_worker_create(r->t, 0);
	struct sg_sess_ref ref;
	uint8_t buf[256];

	assert_non_null(w);
	sg_sess_worker_online(w);
	assert_int_equal(sg_sess_lookup_tuple_bulk(w, &r->key, 1, &ref), 1);
	for (unsigned i = 0; i < 3; i++) {
		struct sg_rec_seal_op op = { .buf = buf,
			                     .buf_len = sizeof(buf),
			                     .pt_off = 64,
			                     .pt_len = 4,
			                     .sa = ref.sa,
			                     .cid = r->cid,
			                     .cid_len = r->cid_len,
			                     .type = SG_DTLS_CT_APPLICATION_DATA };

		memcpy(buf + 64, "ping", 4);
		r->sealed += sg_rec_seal_burst(r->ctx, &op, 1);
	}
	atomic_store_explicit(&r->found, 1, memory_order_release);
	/* Bounded (10 s): the test thread says go right after it saw found. */
	for (unsigned i = 0; i < 10000 && !atomic_load_explicit(&r->go, memory_order_acquire); i++)
		usleep(1000);
	usleep(100000);
	r->quiescent_ns = sg_mono_ns();
	sg_sess_quiescent(w);
	sg_sess_worker_offline(w);
	sg_sess_worker_destroy(w);
	return NULL;
}

static void kill_one(enum sg_aead aead, int cid)
{
	struct sg_sess_params tp = { .capacity = 1024, .max_threads = 1, .flags = SG_SESS_P_LAZY };
	struct sg_rec_ctx_conf cc = { .window_bits = WINDOW };
	struct sg_rec_ctx_conf dc = { .window_bits = WINDOW, .cid_len = cid ? 4 : 0 };
	static const uint8_t peer_cid[4] = { 0xde, 0xad, 0xbe, 0xef };
	size_t sz = sg_rec_sa_size_max(WINDOW); /* any suite's SA, CBC's MAC line included */
	struct sg_rec_sa *srv = aligned_alloc(64, sz), *dev = aligned_alloc(64, sz);
	struct sg_rec_sa *last = aligned_alloc(64, sz);
	struct sg_sess_table *t = sg_sess_table_create(&tp);
	struct sg_rec_ctx *ctl = sg_rec_ctx_create(&cc), *dctx = sg_rec_ctx_create(&dc);
	struct reader rd = { 0 };
	struct sg_sess_new n;
	struct sg_sess_info info;
	uint8_t buf[SG_ALERT_BUF_LEN];
	uint32_t off, len;
	uint64_t id, done_ns;
	pthread_t th;

	assert_non_null(srv);
	assert_non_null(dev);
	assert_non_null(last);
	assert_non_null(t);
	assert_non_null(ctl);
	assert_non_null(dctx);
	sa_pair(aead, cid ? SG_SA_F_TX_CID : 0, cid ? SG_SA_F_RX_CID : 0, srv, dev, 5);
	memset(&n, 0, sizeof(n));
	n.sa = srv;
	sg_sess_tuple_v4(&n.tuple, 0x01011218u, 0x3416, 0x02011218u, 0x8813);
	n.flags = SG_SESS_F_TUPLE;
	n.peer_cid = cid ? peer_cid : NULL;
	n.peer_cid_len = cid ? 4 : 0;
	assert_int_equal(sg_sess_insert(t, &n, &id, NULL), 0);
	sg_rec_sa_wipe(srv, WINDOW);

	rd.t = t;
	rd.key = n.tuple;
	rd.ctx = sg_rec_ctx_create(&cc);
	rd.cid = cid ? peer_cid : NULL;
	rd.cid_len = cid ? 4 : 0;
	assert_non_null(rd.ctx);
	assert_int_equal(pthread_create(&th, NULL, reader_main, &rd), 0);
	for (unsigned i = 0; i < 10000 && !atomic_load_explicit(&rd.found, memory_order_acquire);
	     i++)
		usleep(1000);
	assert_true(atomic_load_explicit(&rd.found, memory_order_acquire));
	assert_int_equal(rd.sealed, 3); /* records 5, 6, 7 */
	atomic_store_explicit(&rd.go, 1, memory_order_release);
	assert_int_equal(sg_sess_delete_take(t, id, last), 0);
	done_ns = sg_mono_ns();
	pthread_join(th, NULL);
	/* It waited for the worker to let go of the SA, and took its state. */
	assert_true(rd.quiescent_ns != 0 && done_ns >= rd.quiescent_ns);
	assert_int_equal(sg_rec_sa_tx_seq(last), 8);
	/* The device's record limit came along: the close_notify below is sealed under it. */
	assert_int_equal(sg_rec_sa_max_plaintext(last), SG_TLS_RECORD_SIZE_LIMIT_MIN);
	assert_int_equal(sg_sess_get(t, id, &info), -ENOENT);
	assert_int_equal(sg_sess_delete_take(t, id, last), -ENOENT);

	assert_int_equal(sg_alert_seal(ctl, last, cid ? peer_cid : NULL, cid ? 4 : 0,
	                               SG_TLS_ALERT_WARNING, SG_TLS_ALERT_CLOSE_NOTIFY, buf,
	                               sizeof(buf), &off, &len),
	                 0);
	assert_int_equal(buf[off], cid ? SG_DTLS_CT_TLS12_CID : SG_DTLS_CT_ALERT);
	if (cid)
		assert_memory_equal(buf + off + SG_DTLS_HDR_OFF_CID, peer_cid, 4);
	/* The device opens it: an authenticated close_notify, sequence 8. */
	struct sg_rec_open_op op = { .rec = buf + off, .rec_len = len, .sa = dev };
	assert_int_equal(sg_rec_open_burst(dctx, &op, 1), 1);
	assert_int_equal(op.type, SG_DTLS_CT_ALERT);
	assert_int_equal(op.seq, 8);
	assert_int_equal(op.pt_len, 2);
	assert_int_equal(op.rec[op.pt_off], SG_TLS_ALERT_WARNING);
	assert_int_equal(op.rec[op.pt_off + 1], SG_TLS_ALERT_CLOSE_NOTIFY);
	/*
	 * The control thread's context that sealed it keeps no trace of the
	 * session's write key (alert.c wipes it), where the worker's context
	 * that sealed records under the same key still holds its schedule (AES:
	 * the key is its first round key; ChaCha20 reads the key in place).
	 */
	assert_false(sg_rec_ctx_holds(ctl, last->tx_key, sg_aead_key_len(aead)));
	assert_int_equal(sg_rec_ctx_holds(rd.ctx, last->tx_key, sg_aead_key_len(aead)),
	                 aead != SG_AEAD_CHACHA20_POLY1305);
	/* Each seal takes a fresh sequence number: no nonce is ever used twice. */
	assert_int_equal(sg_rec_sa_tx_seq(last), 9);
	assert_int_equal(sg_alert_seal(ctl, last, cid ? peer_cid : NULL, cid ? 4 : 0, 1, 0, buf,
	                               sizeof(buf), &off, &len),
	                 0);
	assert_int_equal(sg_rec_sa_tx_seq(last), 10);

	/* Bad arguments. */
	assert_int_equal(sg_alert_seal(ctl, last, NULL, 4, 1, 0, buf, sizeof(buf), &off, &len),
	                 -EINVAL);
	assert_int_equal(sg_alert_seal(ctl, last, NULL, 0, 1, 0, buf, 100, &off, &len), -EINVAL);
	sg_rec_sa_wipe(last, WINDOW);
	assert_int_equal(sg_alert_seal(ctl, last, NULL, 0, 1, 0, buf, sizeof(buf), &off, &len),
	                 -EIO); /* a wiped SA seals nothing */

	sg_rec_ctx_free(rd.ctx);
	sg_rec_ctx_free(ctl);
	sg_rec_ctx_free(dctx);
	sg_sess_table_destroy(t);
	sg_rec_sa_wipe(dev, WINDOW);
	free(srv);
	free(dev);
	free(last);
}

/*
 * Every suite's record protection: the five AEADs with and without CIDs, and
 * CBC-SHA256 (whose SAs carry the MAC line and live in the table's CBC pool,
 * docs/session-table.md) without, as CBC is never combined with CIDs.
 */
static void test_kill_every_aead(void **state)
{
	(void)state;
	for (int a = 0; a < SG_AEAD_MAX; a++)
		for (int cid = 0; cid < (sg_aead_wide((unsigned)a) ? 1 : 2); cid++)
			kill_one((enum sg_aead)a, cid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_every_aead),
	};

	return cmocka_run_group_tests_name("kill", tests, NULL, NULL);
}
