/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a record context keeps of the keys it used, and the two wipes
 * (sg_rec_ctx_wipe_used(), sg_rec_ctx_wipe_keys()): a table of context kinds
 * (one record at a time as the handshake server and the control plane use
 * it; the data plane's widest manager with its GCM key cache; CCM composed
 * for a long CID AAD) by AEAD (CBC-SHA256 too: its AES schedules and HMAC
 * states) by direction. Each row first shows that the
 * scan finds the key's schedule in the context after a burst (so "not
 * found" after the wipe means something), then that no round key is left
 * after the wipe, and that the context still works.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/record.h>

#include "rec_test.h"

#define PAYLOAD 48
#define REC_MAX 512
#define WINDOW  64

enum ctx_kind {
	CTX_ONE_AT_A_TIME = 0, /* SG_REC_CTX_F_LATENCY | SG_REC_CTX_F_NO_GCM_CACHE */
	CTX_DATA_PLANE,        /* defaults: widest manager, GCM key cache */
};

struct wipe_row {
	const char *name;
	enum ctx_kind kind;
	enum sg_aead aead;
	unsigned cid_len; /* > 23: CCM's AAD is too long for IPsec-MB's job (composed CCM) */
	int open;         /* open a client record (rx key) rather than seal (tx key) */
	int rounds;       /* bursts on one SA before looking (the GCM cache admits on a 2nd miss) */
	int kept;         /* the context holds the key's schedule after the bursts */
};

static const struct wipe_row rows[] = {
	{ "one-at-a-time CCM_8 seal", CTX_ONE_AT_A_TIME, SG_AEAD_AES_128_CCM_8, 0, 0, 1, 1 },
	{ "one-at-a-time CCM_8 open", CTX_ONE_AT_A_TIME, SG_AEAD_AES_128_CCM_8, 0, 1, 1, 1 },
	{ "one-at-a-time CCM seal", CTX_ONE_AT_A_TIME, SG_AEAD_AES_128_CCM, 0, 0, 1, 1 },
	{ "one-at-a-time GCM-128 seal", CTX_ONE_AT_A_TIME, SG_AEAD_AES_128_GCM, 0, 0, 1, 1 },
	{ "one-at-a-time GCM-128 open", CTX_ONE_AT_A_TIME, SG_AEAD_AES_128_GCM, 0, 1, 1, 1 },
	{ "one-at-a-time GCM-256 seal", CTX_ONE_AT_A_TIME, SG_AEAD_AES_256_GCM, 0, 0, 1, 1 },
	/* ChaCha20 takes the SA's raw key: nothing of it is copied into the context. */
	{ "one-at-a-time ChaCha20 seal", CTX_ONE_AT_A_TIME, SG_AEAD_CHACHA20_POLY1305, 0, 0, 1, 0 },
	{ "one-at-a-time CCM composed (CID 32) seal", CTX_ONE_AT_A_TIME, SG_AEAD_AES_128_CCM_8, 32,
	  0, 1, 1 },
	{ "one-at-a-time CCM composed (CID 32) open", CTX_ONE_AT_A_TIME, SG_AEAD_AES_128_CCM, 32, 1,
	  1, 1 },
	{ "data-plane CCM_8 open", CTX_DATA_PLANE, SG_AEAD_AES_128_CCM_8, 0, 1, 1, 1 },
	{ "data-plane GCM-128 open, cached", CTX_DATA_PLANE, SG_AEAD_AES_128_GCM, 0, 1, 3, 1 },
	{ "data-plane GCM-256 seal, cached", CTX_DATA_PLANE, SG_AEAD_AES_256_GCM, 0, 0, 3, 1 },
	{ "data-plane ChaCha20 open", CTX_DATA_PLANE, SG_AEAD_CHACHA20_POLY1305, 0, 1, 1, 0 },
	/* CBC-SHA256: the AES schedule and the HMAC states derived from the MAC key. */
	{ "one-at-a-time CBC-SHA256 seal", CTX_ONE_AT_A_TIME, SG_AEAD_AES_128_CBC_SHA256, 0, 0, 1,
	  1 },
	{ "one-at-a-time CBC-SHA256 open", CTX_ONE_AT_A_TIME, SG_AEAD_AES_128_CBC_SHA256, 0, 1, 1,
	  1 },
	{ "data-plane CBC-SHA256 open", CTX_DATA_PLANE, SG_AEAD_AES_128_CBC_SHA256, 0, 1, 2, 1 },
	{ "data-plane CBC-SHA256 seal", CTX_DATA_PLANE, SG_AEAD_AES_128_CBC_SHA256, 0, 0, 2, 1 },
};

/* Whether ctx holds the HMAC states (key ^ ipad, key ^ opad) of a CBC MAC key. */
static int holds_hmac_states(const struct sg_rec_ctx *ctx, const uint8_t *mac_key)
{
	uint8_t pads[64];
	int held;

	sg_cbc_hmac_key(mac_key, 32, pads);
	held = sg_rec_ctx_holds(ctx, pads, 32) || sg_rec_ctx_holds(ctx, pads + 32, 32);
	sg_wipe(pads, sizeof(pads));
	return held;
}

static struct sg_rec_ctx *ctx_of(enum ctx_kind kind, unsigned cid_len)
{
	struct sg_rec_ctx_conf c = { .window_bits = WINDOW, .cid_len = cid_len };
	struct sg_rec_ctx *ctx;

	if (kind == CTX_ONE_AT_A_TIME) {
		c.gcm_cache_entries = 4;
		c.flags = SG_REC_CTX_F_LATENCY | SG_REC_CTX_F_NO_GCM_CACHE;
	}
	ctx = sg_rec_ctx_create(&c);
	assert_non_null(ctx);
	return ctx;
}

/*
 * One record through ctx on sa (server side): a client record opened, or
 * one of ours sealed and checked by OpenSSL. seq: the record's number.
 */
static void one_record(struct sg_rec_ctx *ctx, const struct wipe_row *r, struct sg_rec_sa *sa,
                       const struct tc_keys *k, const uint8_t *cid, uint64_t seq)
{
	uint8_t buf[REC_MAX], pt[PAYLOAD], got[REC_MAX], type, iv[16];
	struct rt_rec rr = {
		.aead = r->aead,
		.epoch = 1,
		.seq = seq,
		.type = SG_DTLS_CT_APPLICATION_DATA,
		.cid = r->cid_len != 0,
		.cid_bytes = cid,
		.cid_len = r->cid_len,
	};

	tc_fill(pt, sizeof(pt), seq);
	tc_fill(iv, sizeof(iv), seq + 100);
	/* CBC: MAC-then-encrypt, 48 + 32 bytes and 16 of padding (padding_length 15). */
	rr.pad_len = r->aead == SG_AEAD_AES_128_CBC_SHA256 ? 15 : 0;
	if (r->open) {
		struct sg_rec_open_op op = { 0 };

		rr.key = k->client_key;
		rr.iv = r->aead == SG_AEAD_AES_128_CBC_SHA256 ? iv : k->client_iv;
		rr.mac_key = k->client_mac;
		op.rec = buf;
		op.rec_len = (uint32_t)rt_evp_seal_record(&rr, pt, sizeof(pt), buf);
		op.sa = sa;
		assert_int_equal(sg_rec_open_burst(ctx, &op, 1), 1);
		assert_int_equal(op.pt_len, sizeof(pt));
		assert_memory_equal(buf + op.pt_off, pt, sizeof(pt));
	} else {
		int tx_cid = r->cid_len != 0;
		unsigned head = sg_rec_seal_headroom(r->aead, tx_cid, r->cid_len);
		struct sg_rec_seal_op op = {
			.buf = buf,
			.buf_len = sizeof(buf),
			.pt_off = head,
			.pt_len = sizeof(pt),
			.sa = sa,
			.cid = cid,
			.cid_len = (uint8_t)r->cid_len,
			.type = SG_DTLS_CT_APPLICATION_DATA,
		};

		memcpy(buf + head, pt, sizeof(pt));
		assert_int_equal(sg_rec_seal_burst(ctx, &op, 1), 1);
		rr.key = k->server_key;
		rr.iv = k->server_iv;
		rr.mac_key = k->server_mac;
		assert_int_equal(rt_evp_open_record(&rr, buf + op.rec_off, op.rec_len, got, &type),
		                 (long)sizeof(pt));
		assert_memory_equal(got, pt, sizeof(pt));
	}
}

static void run_row(const struct wipe_row *r, int full_wipe)
{
	struct sg_rec_ctx *ctx = ctx_of(r->kind, r->open ? r->cid_len : 0);
	struct sg_rec_sa *sa = tc_sa_alloc(WINDOW);
	uint8_t cid[32];
	uint64_t seq = 1;
	struct tc_keys k;
	uint8_t flags = 0;

	assert_non_null(sa);
	memset(cid, 0xc1, sizeof(cid));
	if (r->cid_len)
		flags = r->open ? SG_SA_F_RX_CID : SG_SA_F_TX_CID;
	tc_keys_make(&k, 77 + (uint64_t)r->aead);
	assert_int_equal(rt_sa_init(sa, WINDOW, r->aead, &k, 0, 1, flags, 1), 0);
	for (int i = 0; i < r->rounds; i++, seq++)
		one_record(ctx, r, sa, &k, cid, seq);

	/* The scan sees what a burst leaves (the positive control). */
	assert_int_equal(rt_ctx_holds_key(ctx, r->aead, r->open ? k.client_key : k.server_key),
	                 r->kept);
	if (r->aead == SG_AEAD_AES_128_CBC_SHA256)
		assert_true(holds_hmac_states(ctx, r->open ? k.client_mac : k.server_mac));
	if (full_wipe)
		sg_rec_ctx_wipe_keys(ctx);
	else
		sg_rec_ctx_wipe_used(ctx);
	assert_false(rt_ctx_holds_key(ctx, r->aead, k.client_key));
	assert_false(rt_ctx_holds_key(ctx, r->aead, k.server_key));
	assert_false(holds_hmac_states(ctx, k.client_mac));
	assert_false(holds_hmac_states(ctx, k.server_mac));
	/* Nothing new to wipe: a no-op, and the context still works after it. */
	sg_rec_ctx_wipe_used(ctx);
	one_record(ctx, r, sa, &k, cid, seq++);
	sg_rec_ctx_wipe_used(ctx);
	assert_false(rt_ctx_holds_key(ctx, r->aead, r->open ? k.client_key : k.server_key));

	tc_sa_free(sa, WINDOW);
	sg_rec_ctx_free(ctx);
	sg_wipe(&k, sizeof(k));
}

static void test_wipe_used(void **state)
{
	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		print_message("# %s\n", rows[i].name);
		run_row(&rows[i], 0);
	}
}

static void test_wipe_keys(void **state)
{
	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		print_message("# %s\n", rows[i].name);
		run_row(&rows[i], 1);
	}
}

/* The scan itself: finds bytes the context holds, not bytes it never saw. */
static void test_holds(void **state)
{
	struct sg_rec_ctx *ctx = ctx_of(CTX_ONE_AT_A_TIME, 0);
	uint8_t never[16];

	(void)state;
	tc_fill(never, sizeof(never), 4242);
	assert_false(sg_rec_ctx_holds(ctx, never, sizeof(never)));
	assert_false(sg_rec_ctx_holds(ctx, never, 0));
	sg_rec_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_holds),
		cmocka_unit_test(test_wipe_used),
		cmocka_unit_test(test_wipe_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
