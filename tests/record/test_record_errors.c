/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record layer refusals: every bit of a record flipped, truncation, sizes,
 * epochs, versions, replays, forgery limits, sealing limits, mixed bursts of
 * good and bad records, and the datagram parser. Every refused record must
 * carry the right reason and release no plaintext.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/bytes.h>
#include <stormgate/record.h>

#include "rec_test.h"

#define REC_MAX (SG_DTLS_HDR_LEN + SG_DTLS_CID_MAX + SG_DTLS_MAX_CIPHERTEXT + 64)
#define CID_LEN 4
#define PAYLOAD 40

static const enum sg_aead all_aeads[] = {
	SG_AEAD_AES_128_CCM_8, SG_AEAD_AES_128_CCM,       SG_AEAD_AES_128_GCM,
	SG_AEAD_AES_256_GCM,   SG_AEAD_CHACHA20_POLY1305,
};
#define N_AEAD SG_ARRAY_SIZE(all_aeads)

static const uint8_t our_cid[CID_LEN] = { 0xc1, 0xd0, 0x00, 0x2a };

/* A session seen from both ends: server SA (ours) and the OpenSSL client's keys. */
struct peer {
	enum sg_aead aead;
	int cid;
	struct tc_keys k;
	struct sg_rec_sa *sa;
};

static void peer_init(struct peer *p, enum sg_aead aead, int cid, uint64_t seed)
{
	p->aead = aead;
	p->cid = cid;
	tc_keys_make(&p->k, seed);
	p->sa = tc_sa_alloc(128);
	assert_non_null(p->sa);
	assert_int_equal(rt_sa_init(p->sa, 128, aead, &p->k, 0, 1,
	                            cid ? SG_SA_F_RX_CID | SG_SA_F_TX_CID : 0, 0),
	                 0);
}

static void peer_free(struct peer *p)
{
	tc_sa_free(p->sa, 128);
}

/* A client record to p's server, sealed by OpenSSL; returns its length. */
static size_t client_record(const struct peer *p, uint64_t seq, uint8_t type, const uint8_t *pt,
                            size_t len, uint8_t *out)
{
	struct rt_rec r = {
		.aead = p->aead,
		.key = p->k.client_key,
		.iv = p->k.client_iv,
		.epoch = 1,
		.seq = seq,
		.type = type,
		.cid = p->cid,
		.cid_bytes = our_cid,
		.cid_len = CID_LEN,
	};
	size_t n = rt_evp_seal_record(&r, pt, len, out);

	assert_true(n > 0);
	return n;
}

static struct sg_rec_ctx *ctx_new(uint32_t gcm_limit)
{
	struct sg_rec_ctx_conf conf = { .cid_len = CID_LEN };
	struct sg_rec_ctx *ctx;

	conf.auth_fail_limit[SG_AEAD_AES_128_GCM] = gcm_limit;
	ctx = sg_rec_ctx_create(&conf);
	assert_non_null(ctx);
	return ctx;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* op opens the record at rec (rec_len bytes) with sa; all else zero. */
static void open_op(struct sg_rec_open_op *op, uint8_t *rec, size_t rec_len, struct sg_rec_sa *sa)
{
	memset(op, 0, sizeof(*op));
	op->rec = rec;
	op->rec_len = (uint32_t)rec_len;
	op->sa = sa;
}

/* The record of op (header of hdr bytes) says its fragment is f bytes, and is that long. */
static void set_frag_len(struct sg_rec_open_op *op, unsigned hdr, unsigned f)
{
	sg_store_be16(op->rec + hdr - 2, (uint16_t)f);
	op->rec_len = hdr + f;
}

/* ---- every bit of a record --------------------------------------------------------- */

/* The reason a record with bit `bit` of byte `pos` flipped must be refused for. */
static enum sg_rec_status flip_expect(const struct peer *p, const uint8_t *rec, size_t rec_len,
                                      size_t pos)
{
	unsigned hdr = SG_DTLS_HDR_LEN + (p->cid ? CID_LEN : 0);
	unsigned min = sg_aead_explicit_len(p->aead) + sg_aead_tag_len(p->aead) + (p->cid ? 1 : 0);

	if (pos == 0) {
		if (p->cid)
			return SG_REC_BAD_TYPE; /* anything but tls12_cid */
		return rec[0] >= 21 && rec[0] <= 23 ? SG_REC_AUTH_FAILED : SG_REC_BAD_TYPE;
	}
	if (pos <= 2)
		return SG_REC_BAD_VERSION;
	if (pos <= 4)
		return SG_REC_BAD_EPOCH;
	if (pos >= hdr - 2 && pos < hdr) {
		unsigned flen = sg_load_be16(rec + hdr - 2);

		if (flen > rec_len - hdr)
			return SG_REC_TRUNCATED;
		if (flen < min)
			return SG_REC_RUNT;
	}
	/* sequence number, CID, length, explicit nonce, ciphertext, tag */
	return SG_REC_AUTH_FAILED;
}

static void test_every_bit_flipped(void **state)
{
	struct sg_rec_ctx *ctx = ctx_new(0);
	struct sg_rec_open_op ops[SG_BURST_MAX];
	struct sg_rec_sa *sas[SG_BURST_MAX];
	uint8_t(*recs)[128] = malloc(SG_BURST_MAX * sizeof(*recs));
	uint8_t orig[128], pt[PAYLOAD];
	size_t pos_of[SG_BURST_MAX];
	unsigned checked = 0;

	(void)state;
	assert_non_null(recs);
	for (unsigned i = 0; i < SG_BURST_MAX; i++)
		assert_non_null(sas[i] = tc_sa_alloc(128));
	tc_fill(pt, sizeof(pt), 7);

	for (size_t a = 0; a < N_AEAD; a++) {
		for (int cid = 0; cid <= 1; cid++) {
			struct peer p;
			size_t len, total;
			unsigned n = 0;

			peer_init(&p, all_aeads[a], cid, 50 + a * 2 + (unsigned)cid);
			len = client_record(&p, 1000, SG_DTLS_CT_APPLICATION_DATA, pt, sizeof(pt),
			                    orig);
			total = len * 8;
			for (size_t bit = 0; bit <= total; bit++) {
				/* bit == total: the untouched record, which must open. */
				memcpy(recs[n], orig, len);
				if (bit < total)
					recs[n][bit / 8] ^= (uint8_t)(1u << (bit % 8));
				memcpy(sas[n], p.sa, sg_rec_sa_size(128));
				memset(&ops[n], 0, sizeof(ops[n]));
				ops[n].rec = recs[n];
				ops[n].rec_len = (uint32_t)len;
				ops[n].sa = sas[n];
				pos_of[n] = bit;
				n++;
				if (n < SG_BURST_MAX && bit < total)
					continue;
				sg_rec_open_burst(ctx, ops, n);
				for (unsigned i = 0; i < n; i++) {
					size_t pos = pos_of[i] / 8;
					enum sg_rec_status want =
					        pos_of[i] == total
					                ? SG_REC_OK
					                : flip_expect(&p, recs[i], len, pos);
					unsigned hdr = 13 + (cid ? CID_LEN : 0);
					unsigned xl = sg_aead_explicit_len(p.aead);

					if (ops[i].status != want)
						fail_msg(
						        "%s cid=%d bit %zu (byte %zu): %s, want %s",
						        sg_aead_name(p.aead), cid, pos_of[i], pos,
						        sg_rec_status_name(ops[i].status),
						        sg_rec_status_name(want));
					if (want == SG_REC_OK) {
						assert_int_equal(ops[i].pt_len, PAYLOAD);
						assert_memory_equal(recs[i] + ops[i].pt_off, pt,
						                    PAYLOAD);
						assert_true(sas[i]->rx_top == 1001);
					} else if (want == SG_REC_AUTH_FAILED) {
						unsigned flen = sg_load_be16(recs[i] + hdr - 2);
						unsigned body = flen - xl - sg_aead_tag_len(p.aead);

						/* No plaintext released; the forgery counted;
						 * window untouched. */
						assert_true(all_zero(recs[i] + hdr + xl, body));
						assert_int_equal(sas[i]->auth_failures, 1);
						assert_true(sas[i]->rx_top == 0);
						assert_int_equal(ops[i].pt_len, 0);
					} else {
						assert_int_equal(sas[i]->auth_failures, 0);
					}
					checked++;
				}
				n = 0;
			}
			peer_free(&p);
		}
	}
	/* Every bit of ten records (two formats, five suites) was tried. */
	assert_true(checked > 10 * 8 * (13 + PAYLOAD));
	for (unsigned i = 0; i < SG_BURST_MAX; i++)
		free(sas[i]);
	free(recs);
	sg_rec_ctx_free(ctx);
}

/* ---- header, size, window and SA refusals ----------------------------------------- */

enum mutation {
	M_NONE = 0,
	M_SHORT_BY_ONE,   /* rec_len one byte short of the length field */
	M_HEADER_ONLY,    /* 12 bytes */
	M_FRAG_TOO_SHORT, /* length field below nonce + tag */
	M_OVERSIZED,      /* length field 2^14 + 2049 */
	M_PT_OVERSIZED,   /* plaintext 2^14 + 1 (non-CID: refused before crypto) */
	M_EPOCH_2,
	M_EPOCH_0,
	M_VERSION_1_0,
	M_VERSION_TLS,
	M_NO_SA,
	M_WIPED_SA,
	M_PLAIN_TO_CID_SA, /* tls12_cid record for an SA without CID and vice versa */
	M_REPLAY,          /* same record opened twice (separate bursts) */
	M_TOO_OLD,         /* 128 below the highest */
	M_EDGE_OLD,        /* 127 below the highest: still in the window */
	M_INNER_ZEROS,     /* CID inner plaintext all zeros */
	M_INNER_TYPE,      /* CID inner type 99 */
	M_INNER_OVERSIZED, /* CID content 2^14 + 1 */
	M_COUNT
};

struct refusal_row {
	const char *name;
	enum mutation m;
	int cid;
	enum sg_rec_status want;
};

static const struct refusal_row refusal_rows[] = {
	{ "untouched", M_NONE, 0, SG_REC_OK },
	{ "untouched cid", M_NONE, 1, SG_REC_OK },
	{ "one byte short", M_SHORT_BY_ONE, 0, SG_REC_TRUNCATED },
	{ "one byte short cid", M_SHORT_BY_ONE, 1, SG_REC_TRUNCATED },
	{ "header only", M_HEADER_ONLY, 0, SG_REC_RUNT },
	{ "cid header cut", M_HEADER_ONLY, 1, SG_REC_RUNT },
	{ "fragment < nonce + tag", M_FRAG_TOO_SHORT, 0, SG_REC_RUNT },
	{ "fragment < nonce + tag + type", M_FRAG_TOO_SHORT, 1, SG_REC_RUNT },
	{ "ciphertext over 2^14 + 2048", M_OVERSIZED, 0, SG_REC_OVERSIZED },
	{ "ciphertext over 2^14 + 2048 cid", M_OVERSIZED, 1, SG_REC_OVERSIZED },
	{ "plaintext over 2^14", M_PT_OVERSIZED, 0, SG_REC_OVERSIZED },
	{ "epoch 2", M_EPOCH_2, 0, SG_REC_BAD_EPOCH },
	{ "epoch 0", M_EPOCH_0, 1, SG_REC_BAD_EPOCH },
	{ "DTLS 1.0", M_VERSION_1_0, 0, SG_REC_BAD_VERSION },
	{ "TLS 1.2", M_VERSION_TLS, 1, SG_REC_BAD_VERSION },
	{ "no SA", M_NO_SA, 0, SG_REC_BAD_SA },
	{ "wiped SA", M_WIPED_SA, 0, SG_REC_BAD_SA },
	{ "cid record, plain SA", M_PLAIN_TO_CID_SA, 1, SG_REC_BAD_TYPE },
	{ "plain record, cid SA", M_PLAIN_TO_CID_SA, 0, SG_REC_BAD_TYPE },
	{ "replayed", M_REPLAY, 0, SG_REC_REPLAYED },
	{ "replayed cid", M_REPLAY, 1, SG_REC_REPLAYED },
	{ "older than the window", M_TOO_OLD, 0, SG_REC_TOO_OLD },
	{ "window edge", M_EDGE_OLD, 1, SG_REC_OK },
	{ "inner plaintext all zeros", M_INNER_ZEROS, 1, SG_REC_BAD_INNER_PLAINTEXT },
	{ "inner type 99", M_INNER_TYPE, 1, SG_REC_BAD_INNER_PLAINTEXT },
	{ "inner content over 2^14", M_INNER_OVERSIZED, 1, SG_REC_OVERSIZED },
};

static void run_refusal(struct sg_rec_ctx *ctx, enum sg_aead aead, const struct refusal_row *row,
                        uint8_t *rec, uint8_t *pt)
{
	struct peer p, other;
	struct sg_rec_open_op op = { 0 };
	uint64_t seq = 500;
	size_t len = PAYLOAD, rl;
	uint8_t type = SG_DTLS_CT_APPLICATION_DATA;
	unsigned hdr = 13 + (row->cid ? CID_LEN : 0);
	unsigned xl = sg_aead_explicit_len(aead), tl = sg_aead_tag_len(aead);
	int decrypts = 0;

	peer_init(&p, aead, row->cid, 900);
	tc_fill(pt, SG_DTLS_MAX_PLAINTEXT + 1, 3);
	if (row->m == M_PT_OVERSIZED || row->m == M_INNER_OVERSIZED)
		len = SG_DTLS_MAX_PLAINTEXT + 1;
	if (row->m == M_INNER_ZEROS) {
		type = 0;
		len = 0;
	}
	if (row->m == M_INNER_TYPE)
		type = 99;
	if (row->m == M_TOO_OLD || row->m == M_EDGE_OLD) {
		/* First authenticate 627, then come back to 500 or 499. */
		open_op(&op, rec, client_record(&p, 627, type, pt, PAYLOAD, rec), p.sa);
		assert_int_equal(sg_rec_open_burst(ctx, &op, 1), 1);
		seq = row->m == M_TOO_OLD ? 499 : 500;
	}
	rl = client_record(&p, seq, type, pt, len, rec);
	open_op(&op, rec, rl, p.sa);

	switch (row->m) {
	case M_SHORT_BY_ONE:
		op.rec_len--;
		break;
	case M_HEADER_ONLY:
		op.rec_len = row->cid ? 13 + CID_LEN - 1 : 12;
		break;
	case M_FRAG_TOO_SHORT:
		set_frag_len(&op, hdr, xl + tl + (row->cid ? 1 : 0) - 1);
		break;
	case M_OVERSIZED:
		set_frag_len(&op, hdr, SG_DTLS_MAX_CIPHERTEXT + 1);
		break;
	case M_EPOCH_2:
		rec[4] = 2;
		break;
	case M_EPOCH_0:
		rec[4] = 0;
		break;
	case M_VERSION_1_0:
		rec[2] = 0xff;
		break;
	case M_VERSION_TLS:
		rec[1] = 3;
		rec[2] = 3;
		break;
	case M_NO_SA:
		op.sa = NULL;
		break;
	case M_WIPED_SA:
		sg_rec_sa_wipe(p.sa, 128);
		break;
	case M_PLAIN_TO_CID_SA:
		peer_init(&other, aead, !row->cid, 900);
		op.sa = other.sa;
		break;
	case M_REPLAY: {
		uint8_t *copy = malloc(rl);

		assert_non_null(copy);
		memcpy(copy, rec, rl);
		assert_int_equal(sg_rec_open_burst(ctx, &op, 1), 1);
		memcpy(rec, copy, rl);
		free(copy);
		open_op(&op, rec, rl, p.sa);
		break;
	}
	default:
		break;
	}
	decrypts = row->m == M_INNER_ZEROS || row->m == M_INNER_TYPE || row->m == M_INNER_OVERSIZED;

	assert_int_equal(sg_rec_open_burst(ctx, &op, 1), row->want == SG_REC_OK);
	if (op.status != row->want)
		fail_msg("%s / %s: %s, want %s", sg_aead_name(aead), row->name,
		         sg_rec_status_name(op.status), sg_rec_status_name(row->want));
	if (row->want == SG_REC_OK) {
		assert_int_equal(op.pt_len, PAYLOAD);
		assert_memory_equal(rec + op.pt_off, pt, PAYLOAD);
		assert_int_equal(op.type, SG_DTLS_CT_APPLICATION_DATA);
	} else {
		assert_int_equal(op.pt_len, 0);
	}
	if (decrypts) /* authenticated, then refused: the plaintext is gone */
		assert_true(all_zero(rec + hdr + xl, rl - hdr - xl - tl));
	if (row->m == M_PLAIN_TO_CID_SA)
		peer_free(&other);
	if (row->m != M_WIPED_SA)
		peer_free(&p);
	else
		free(p.sa);
}

static void test_refusals(void **state)
{
	struct sg_rec_ctx *ctx = ctx_new(0);
	uint8_t *rec = malloc(REC_MAX), *pt = malloc(REC_MAX);

	(void)state;
	assert_non_null(rec);
	assert_non_null(pt);
	for (size_t a = 0; a < N_AEAD; a++)
		for (size_t r = 0; r < SG_ARRAY_SIZE(refusal_rows); r++)
			run_refusal(ctx, all_aeads[a], &refusal_rows[r], rec, pt);
	free(rec);
	free(pt);
	sg_rec_ctx_free(ctx);
}

/* ---- forgery limits ----------------------------------------------------------------- */

static void test_forgery_limit(void **state)
{
	static const struct {
		enum sg_aead aead;
		uint32_t limit; /* expected limit in force */
	} rows[] = {
		{ SG_AEAD_AES_128_CCM_8, 128 }, /* RFC 9147 §4.5.3 default */
		{ SG_AEAD_AES_128_GCM, 3 },     /* configured */
	};
	struct sg_rec_ctx *ctx = ctx_new(3);
	uint8_t pt[PAYLOAD], *rec = malloc(256), *good = malloc(256);

	(void)state;
	assert_non_null(rec);
	assert_non_null(good);
	tc_fill(pt, sizeof(pt), 1);
	for (size_t r = 0; r < SG_ARRAY_SIZE(rows); r++) {
		struct sg_rec_open_op ops[3];
		struct peer p;
		size_t len;

		peer_init(&p, rows[r].aead, 0, 77);
		for (uint32_t i = 0; i < rows[r].limit; i++) {
			struct sg_rec_open_op op = { 0 };

			len = client_record(&p, i, SG_DTLS_CT_APPLICATION_DATA, pt, sizeof(pt),
			                    rec);
			rec[len - 1] ^= 1;
			open_op(&op, rec, len, p.sa);
			/* one good record in the middle does not reset the count; its
			 * number keeps every forged one (0..127) inside the window */
			if (i == 1) {
				size_t gl = client_record(&p, 128, SG_DTLS_CT_APPLICATION_DATA, pt,
				                          sizeof(pt), good);
				struct sg_rec_open_op g = { .rec = good,
					                    .rec_len = (uint32_t)gl,
					                    .sa = p.sa };

				assert_int_equal(sg_rec_open_burst(ctx, &g, 1), 1);
			}
			assert_int_equal(sg_rec_open_burst(ctx, &op, 1), 0);
			/* The forgery that reaches the limit says so: the session must end. */
			assert_int_equal(op.status, i + 1 == rows[r].limit ? SG_REC_AUTH_LIMIT
			                                                   : SG_REC_AUTH_FAILED);
		}
		assert_int_equal(p.sa->auth_failures, rows[r].limit);
		/* Past the limit even a valid record is refused, before any crypto. */
		len = client_record(&p, 200000, SG_DTLS_CT_APPLICATION_DATA, pt, sizeof(pt), rec);
		memset(ops, 0, sizeof(ops));
		ops[0].rec = rec;
		ops[0].rec_len = (uint32_t)len;
		ops[0].sa = p.sa;
		assert_int_equal(sg_rec_open_burst(ctx, ops, 1), 0);
		assert_int_equal(ops[0].status, SG_REC_KEY_EXHAUSTED);
		assert_int_equal(p.sa->auth_failures, rows[r].limit);
		peer_free(&p);
	}

	/* Within one burst: good, forged (reaching a limit of 1), good -> ok, auth, exhausted. */
	{
		struct sg_rec_ctx_conf conf = { 0 };
		struct sg_rec_ctx *c1;
		struct sg_rec_open_op ops[3];
		uint8_t(*r3)[256] = malloc(3 * sizeof(*r3));
		struct peer p;

		assert_non_null(r3);
		conf.auth_fail_limit[SG_AEAD_CHACHA20_POLY1305] = 1;
		c1 = sg_rec_ctx_create(&conf);
		assert_non_null(c1);
		peer_init(&p, SG_AEAD_CHACHA20_POLY1305, 0, 78);
		memset(ops, 0, sizeof(ops));
		for (int i = 0; i < 3; i++) {
			ops[i].rec_len = (uint32_t)client_record(&p, (uint64_t)i,
			                                         SG_DTLS_CT_APPLICATION_DATA, pt,
			                                         sizeof(pt), r3[i]);
			ops[i].rec = r3[i];
			ops[i].sa = p.sa;
		}
		r3[1][ops[1].rec_len - 1] ^= 0x80;
		assert_int_equal(sg_rec_open_burst(c1, ops, 3), 1);
		assert_int_equal(ops[0].status, SG_REC_OK);
		assert_int_equal(ops[1].status, SG_REC_AUTH_LIMIT);
		assert_int_equal(ops[2].status, SG_REC_KEY_EXHAUSTED);
		assert_true(all_zero(r3[2] + 13, PAYLOAD)); /* decrypted, then withheld */
		peer_free(&p);
		free(r3);
		sg_rec_ctx_free(c1);
	}
	free(rec);
	free(good);
	sg_rec_ctx_free(ctx);
}

/* ---- mixed bursts ------------------------------------------------------------------- */

/*
 * 128 records over ten sessions of five suites, in a shuffled order: good
 * ones, forged ones, replays of good ones within the same burst, stale
 * epochs, truncations. Every good record must come out, each bad one with
 * its reason, and the return value must count the good ones.
 */
static void test_mixed_burst(void **state)
{
	enum kind { K_GOOD = 0, K_FORGED, K_DUP, K_EPOCH, K_TRUNC, K_NKIND };
	static const enum sg_rec_status want_of[K_NKIND] = {
		SG_REC_OK, SG_REC_AUTH_FAILED, SG_REC_REPLAYED, SG_REC_BAD_EPOCH, SG_REC_TRUNCATED,
	};
	struct sg_rec_ctx *ctx = ctx_new(0);
	struct sg_rec_open_op ops[SG_BURST_MAX];
	uint8_t(*recs)[128] = malloc(SG_BURST_MAX * sizeof(*recs));
	uint8_t(*outs)[128] = malloc(SG_BURST_MAX * sizeof(*outs));
	struct peer peers[2 * N_AEAD];
	enum kind kinds[SG_BURST_MAX];
	unsigned who[SG_BURST_MAX], order[SG_BURST_MAX];
	uint64_t seqs[2 * N_AEAD] = { 0 };
	uint8_t pt[SG_BURST_MAX][PAYLOAD];
	unsigned good = 0, n = 0;
	uint64_t x = 12345;

	(void)state;
	assert_non_null(recs);
	assert_non_null(outs);
	for (unsigned i = 0; i < 2 * N_AEAD; i++)
		peer_init(&peers[i], all_aeads[i % N_AEAD], i >= N_AEAD, 300 + i);

	while (n < SG_BURST_MAX) {
		unsigned s = n % (2 * N_AEAD);
		enum kind k = (enum kind)((n / 3) % K_NKIND);
		size_t len;

		if (k == K_DUP) {
			if (n + 2 > SG_BURST_MAX)
				k = K_GOOD;
		}
		tc_fill(pt[n], PAYLOAD, 1000 + n);
		len = client_record(&peers[s], seqs[s]++, SG_DTLS_CT_APPLICATION_DATA, pt[n],
		                    PAYLOAD, recs[n]);
		memset(&ops[n], 0, sizeof(ops[n]));
		ops[n].rec = recs[n];
		ops[n].rec_len = (uint32_t)len;
		ops[n].sa = peers[s].sa;
		ops[n].dst = (n & 1) ? outs[n] : NULL;
		who[n] = s;
		kinds[n] = k == K_DUP ? K_GOOD : k;
		switch (k) {
		case K_FORGED:
			recs[n][len - 3] ^= 0x10;
			break;
		case K_EPOCH:
			recs[n][4] = 7;
			break;
		case K_TRUNC:
			ops[n].rec_len -= 5;
			break;
		case K_DUP:
			/* the same record again: the second copy is a replay */
			memcpy(recs[n + 1], recs[n], len);
			memcpy(pt[n + 1], pt[n], PAYLOAD);
			ops[n + 1] = ops[n];
			ops[n + 1].rec = recs[n + 1];
			ops[n + 1].dst = NULL;
			who[n + 1] = s;
			kinds[n + 1] = K_DUP;
			n++;
			break;
		default:
			break;
		}
		n++;
	}
	/* Shuffle, keeping each duplicate after its original (the first one wins). */
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		j = (unsigned)(x >> 33) % (i + 1);
		unsigned t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	{
		struct sg_rec_open_op shuffled[SG_BURST_MAX];
		unsigned pos[SG_BURST_MAX];

		for (unsigned i = 0; i < n; i++)
			pos[order[i]] = i;
		for (unsigned i = 0; i + 1 < n; i++) {
			/* keep the pair order: original before duplicate */
			if (kinds[i + 1] == K_DUP && pos[i] > pos[i + 1]) {
				unsigned t = pos[i];
				pos[i] = pos[i + 1];
				pos[i + 1] = t;
			}
		}
		for (unsigned i = 0; i < n; i++)
			shuffled[pos[i]] = ops[i];
		good = sg_rec_open_burst(ctx, shuffled, n);
		for (unsigned i = 0; i < n; i++) {
			const struct sg_rec_open_op *op = &shuffled[pos[i]];
			enum sg_rec_status want = want_of[kinds[i]];

			if (op->status != want)
				fail_msg("record %u (%s, kind %d): %s, want %s", i,
				         sg_aead_name(peers[who[i]].aead), kinds[i],
				         sg_rec_status_name(op->status), sg_rec_status_name(want));
			if (want == SG_REC_OK) {
				assert_int_equal(op->pt_len, PAYLOAD);
				assert_memory_equal((op->dst ? op->dst : op->rec) + op->pt_off,
				                    pt[i], PAYLOAD);
			}
		}
	}
	{
		unsigned expect_good = 0;

		for (unsigned i = 0; i < n; i++)
			expect_good += kinds[i] == K_GOOD;
		assert_int_equal(good, expect_good);
		assert_true(expect_good > 20 && expect_good < n);
	}
	for (unsigned i = 0; i < 2 * N_AEAD; i++)
		peer_free(&peers[i]);
	free(recs);
	free(outs);
	sg_rec_ctx_free(ctx);
}

/* ---- sealing limits ----------------------------------------------------------------- */

static void test_seal_limits(void **state)
{
	struct sg_rec_ctx *ctx = ctx_new(0);
	uint8_t *buf = malloc(REC_MAX);
	static const struct {
		const char *name;
		int cid;
		unsigned headroom_delta; /* 0: exact; 1: one byte short */
		unsigned tailroom_delta;
		uint32_t pt_len;
		uint8_t type;
		uint16_t pad;
		int null_cid;
		enum sg_rec_status want;
	} rows[] = {
		{ "exact room", 0, 0, 0, 100, 23, 0, 0, SG_REC_OK },
		{ "exact room cid + pad", 1, 0, 0, 100, 23, 7, 0, SG_REC_OK },
		{ "headroom short", 0, 1, 0, 100, 23, 0, 0, SG_REC_NO_ROOM },
		{ "headroom short cid", 1, 1, 0, 100, 23, 0, 0, SG_REC_NO_ROOM },
		{ "tailroom short", 0, 0, 1, 100, 23, 0, 0, SG_REC_NO_ROOM },
		{ "tailroom short cid", 1, 0, 1, 100, 23, 0, 0, SG_REC_NO_ROOM },
		{ "2^14 plaintext", 0, 0, 0, SG_DTLS_MAX_PLAINTEXT, 23, 0, 0, SG_REC_OK },
		{ "2^14 + 1 plaintext", 0, 0, 0, SG_DTLS_MAX_PLAINTEXT + 1, 23, 0, 0,
		  SG_REC_OVERSIZED },
		{ "padding past 2^14 + 2048", 1, 0, 0, SG_DTLS_MAX_PLAINTEXT, 23, 2048, 0,
		  SG_REC_OVERSIZED },
		{ "empty plaintext", 0, 0, 0, 0, 23, 0, 0, SG_REC_OK },
		{ "change_cipher_spec", 0, 0, 0, 1, 20, 0, 0, SG_REC_BAD_TYPE },
		{ "tls12_cid as content", 1, 0, 0, 1, 25, 0, 0, SG_REC_BAD_TYPE },
		{ "alert", 1, 0, 0, 2, 21, 0, 0, SG_REC_OK },
		{ "padding without cid", 0, 0, 0, 10, 23, 1, 0, SG_REC_INVALID_OP },
		{ "cid length, no cid", 1, 0, 0, 10, 23, 0, 1, SG_REC_INVALID_OP },
	};
	uint8_t peer_cid[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

	(void)state;
	assert_non_null(buf);
	for (size_t a = 0; a < N_AEAD; a++) {
		for (size_t r = 0; r < SG_ARRAY_SIZE(rows); r++) {
			struct peer p;
			struct sg_rec_seal_op op = { 0 };
			unsigned head, tail;

			peer_init(&p, all_aeads[a], rows[r].cid, 500 + a);
			head = sg_rec_seal_headroom(p.aead, rows[r].cid, sizeof(peer_cid));
			tail = sg_rec_seal_tailroom(p.aead, rows[r].cid, rows[r].pad);
			op.buf = buf;
			op.pt_off = head - rows[r].headroom_delta;
			op.pt_len = rows[r].pt_len;
			op.buf_len = op.pt_off + rows[r].pt_len + tail - rows[r].tailroom_delta;
			if (op.buf_len > REC_MAX)
				op.buf_len = REC_MAX;
			op.sa = p.sa;
			op.cid = rows[r].null_cid ? NULL : peer_cid;
			op.cid_len = sizeof(peer_cid);
			op.type = rows[r].type;
			op.pad_len = rows[r].pad;
			tc_fill(buf + op.pt_off,
			        rows[r].pt_len > REC_MAX - op.pt_off ? 0 : rows[r].pt_len, 9);
			assert_int_equal(sg_rec_seal_burst(ctx, &op, 1), rows[r].want == SG_REC_OK);
			if (op.status != rows[r].want)
				fail_msg("%s / %s: %s, want %s", sg_aead_name(p.aead), rows[r].name,
				         sg_rec_status_name(op.status),
				         sg_rec_status_name(rows[r].want));
			if (rows[r].want == SG_REC_OK) {
				assert_int_equal(op.rec_off, 0);
				assert_int_equal(op.rec_len, op.buf_len);
				assert_true(sg_rec_sa_tx_seq(p.sa) == 1);
			} else {
				assert_int_equal(op.rec_len, 0);
				assert_true(sg_rec_sa_tx_seq(p.sa) ==
				            0); /* no sequence number spent */
			}
			peer_free(&p);
		}
	}
	free(buf);
	sg_rec_ctx_free(ctx);
}

/* Server SA of p re-made with a record limit (0: none) and extra flags. */
static void peer_limit(struct peer *p, uint16_t max_pt, uint8_t flags)
{
	struct sg_rec_sa_params sp = {
		.aead = p->aead,
		.epoch = 1,
		.flags = (uint8_t)((p->cid ? SG_SA_F_RX_CID | SG_SA_F_TX_CID : 0) | flags),
		.rx_key = p->k.client_key,
		.tx_key = p->k.server_key,
		.rx_iv = p->k.client_iv,
		.tx_iv = p->k.server_iv,
		.max_plaintext = max_pt,
	};

	assert_int_equal(sg_rec_sa_init(p->sa, 128, &sp), 0);
}

/*
 * RFC 8449 §4 / RFC 6066 §4: the peer's record limit bounds what a seal
 * encrypts: the plaintext, or for a tls12_cid record the DTLSInnerPlaintext
 * (content, type, padding). At the limit the record is sealed and opens at
 * the peer (OpenSSL); one byte over it is SG_REC_RECORD_LIMIT and spends no
 * sequence number.
 */
static void test_seal_record_limit(void **state)
{
	struct sg_rec_ctx *ctx = ctx_new(0);
	static const struct {
		const char *name;
		int cid;
		uint16_t limit; /* 0: none (2^14) */
		uint32_t pt_len;
		uint16_t pad;
		enum sg_rec_status want;
	} rows[] = {
		{ "below", 0, 512, 511, 0, SG_REC_OK },
		{ "at", 0, 512, 512, 0, SG_REC_OK },
		{ "above", 0, 512, 513, 0, SG_REC_RECORD_LIMIT },
		{ "far above", 0, 512, 1400, 0, SG_REC_RECORD_LIMIT },
		{ "empty", 0, 64, 0, 0, SG_REC_OK },
		{ "at the least limit", 0, 64, 64, 0, SG_REC_OK },
		{ "above the least limit", 0, 64, 65, 0, SG_REC_RECORD_LIMIT },
		{ "no limit: 2^14", 0, 0, SG_DTLS_MAX_PLAINTEXT, 0, SG_REC_OK },
		{ "mfl 2^12 at", 0, 4096, 4096, 0, SG_REC_OK },
		{ "mfl 2^12 above", 0, 4096, 4097, 0, SG_REC_RECORD_LIMIT },
		/* tls12_cid: content + 1 type byte + padding count. */
		{ "cid below", 1, 512, 510, 0, SG_REC_OK },
		{ "cid at (inner 512)", 1, 512, 511, 0, SG_REC_OK },
		{ "cid above (inner 513)", 1, 512, 512, 0, SG_REC_RECORD_LIMIT },
		{ "cid padding at", 1, 512, 500, 11, SG_REC_OK },
		{ "cid padding above", 1, 512, 500, 12, SG_REC_RECORD_LIMIT },
	};
	uint8_t *buf = malloc(REC_MAX), *pt = malloc(REC_MAX);

	(void)state;
	assert_non_null(buf);
	assert_non_null(pt);
	for (size_t a = 0; a < N_AEAD; a++) {
		for (size_t r = 0; r < SG_ARRAY_SIZE(rows); r++) {
			struct peer p;
			struct sg_rec_seal_op op = { 0 };
			unsigned head = sg_rec_seal_headroom(all_aeads[a], rows[r].cid, CID_LEN);
			struct rt_rec rr;
			uint8_t type;

			peer_init(&p, all_aeads[a], rows[r].cid, 900 + a);
			peer_limit(&p, rows[r].limit, 0);
			op.buf = buf;
			op.pt_off = head;
			op.pt_len = rows[r].pt_len;
			op.buf_len = REC_MAX;
			op.sa = p.sa;
			op.cid = our_cid;
			op.cid_len = rows[r].cid ? CID_LEN : 0;
			op.type = SG_DTLS_CT_APPLICATION_DATA;
			op.pad_len = rows[r].pad;
			tc_fill(buf + head, rows[r].pt_len, 77);
			sg_rec_seal_burst(ctx, &op, 1);
			if (op.status != rows[r].want)
				fail_msg("%s / %s: %s, want %s", sg_aead_name(p.aead), rows[r].name,
				         sg_rec_status_name(op.status),
				         sg_rec_status_name(rows[r].want));
			if (op.status != SG_REC_OK) {
				assert_int_equal(op.rec_len, 0);
				assert_true(sg_rec_sa_tx_seq(p.sa) == 0); /* no number spent */
				peer_free(&p);
				continue;
			}
			assert_true(sg_rec_sa_tx_seq(p.sa) == 1);
			rr = (struct rt_rec){ .aead = p.aead,
				              .key = p.k.server_key,
				              .iv = p.k.server_iv,
				              .cid = rows[r].cid,
				              .cid_len = CID_LEN };
			assert_int_equal(
			        rt_evp_open_record(&rr, buf + op.rec_off, op.rec_len, pt, &type),
			        (long)rows[r].pt_len);
			assert_int_equal(type, SG_DTLS_CT_APPLICATION_DATA);
			tc_fill(buf, rows[r].pt_len, 77);
			assert_memory_equal(pt, buf, rows[r].pt_len);
			peer_free(&p);
		}
	}
	free(pt);
	free(buf);
	sg_rec_ctx_free(ctx);
}

/*
 * RFC 9853 §3, §4: return_routability_check records (content type 27) are
 * sealed and opened only for an SA that negotiated RRC; for any other they
 * are refused like an unknown type, and in a tls12_cid record the window
 * does not move for them.
 */
static void test_rrc_content_type(void **state)
{
	struct sg_rec_ctx *ctx = ctx_new(0);
	static const uint8_t msg[SG_RRC_MSG_LEN] = {
		SG_RRC_PATH_CHALLENGE, 1, 2, 3, 4, 5, 6, 7, 8
	};

	(void)state;
	for (size_t a = 0; a < N_AEAD; a++) {
		for (int cid = 0; cid <= 1; cid++) {
			for (int rrc = 0; rrc <= 1; rrc++) {
				struct peer p;
				uint8_t buf[256], rec[256], pt[64], type;
				struct sg_rec_seal_op so = { 0 };
				struct sg_rec_open_op oo = { 0 };
				unsigned head = sg_rec_seal_headroom(all_aeads[a], cid, CID_LEN);
				struct rt_rec rr;
				size_t n;

				peer_init(&p, all_aeads[a], cid, 950 + a);
				peer_limit(&p, 0, rrc ? SG_SA_F_RRC : 0);
				/* Seal. */
				memcpy(buf + head, msg, sizeof(msg));
				so.buf = buf;
				so.buf_len = sizeof(buf);
				so.pt_off = head;
				so.pt_len = sizeof(msg);
				so.sa = p.sa;
				so.cid = our_cid;
				so.cid_len = cid ? CID_LEN : 0;
				so.type = SG_DTLS_CT_RRC;
				sg_rec_seal_burst(ctx, &so, 1);
				assert_int_equal(so.status, rrc ? SG_REC_OK : SG_REC_BAD_TYPE);
				if (rrc) {
					rr = (struct rt_rec){ .aead = p.aead,
						              .key = p.k.server_key,
						              .iv = p.k.server_iv,
						              .cid = cid,
						              .cid_len = CID_LEN };
					assert_int_equal(rt_evp_open_record(&rr, buf + so.rec_off,
					                                    so.rec_len, pt, &type),
					                 (long)sizeof(msg));
					assert_int_equal(type, SG_DTLS_CT_RRC);
					assert_memory_equal(pt, msg, sizeof(msg));
				}
				/* Open what the client sealed as type 27. */
				n = client_record(&p, 7, SG_DTLS_CT_RRC, msg, sizeof(msg), rec);
				oo.rec = rec;
				oo.rec_len = (uint32_t)n;
				oo.sa = p.sa;
				sg_rec_open_burst(ctx, &oo, 1);
				if (rrc) {
					assert_int_equal(oo.status, SG_REC_OK);
					assert_int_equal(oo.type, SG_DTLS_CT_RRC);
					assert_int_equal(oo.pt_len, sizeof(msg));
					assert_memory_equal(rec + oo.pt_off, msg, sizeof(msg));
					assert_true(p.sa->rx_top == 8);
				} else {
					assert_int_equal(oo.status, cid ? SG_REC_BAD_INNER_PLAINTEXT
					                                : SG_REC_BAD_TYPE);
					assert_true(p.sa->rx_top ==
					            0); /* the window did not move */
				}
				peer_free(&p);
			}
		}
	}
	sg_rec_ctx_free(ctx);
}

static void test_seal_sequence(void **state)
{
	struct sg_rec_ctx *ctx = ctx_new(0);
	struct sg_rec_seal_op ops[4];
	uint8_t bufs[4][128];
	struct peer p;

	(void)state;
	peer_init(&p, SG_AEAD_AES_128_CCM_8, 0, 1);
	/* The last sequence numbers of the epoch, then refusal (RFC 6347 §4.1: no wrap). */
	p.sa->tx_word = (p.sa->tx_word & ~SG_SA_TX_SEQ_MASK) | (SG_DTLS_SEQ_MAX - 1);
	memset(ops, 0, sizeof(ops));
	for (int i = 0; i < 4; i++) {
		ops[i].buf = bufs[i];
		ops[i].buf_len = sizeof(bufs[i]);
		ops[i].pt_off = 21;
		ops[i].pt_len = 10;
		ops[i].sa = p.sa;
		ops[i].type = SG_DTLS_CT_APPLICATION_DATA;
	}
	assert_int_equal(sg_rec_seal_burst(ctx, ops, 4), 2);
	assert_int_equal(ops[0].status, SG_REC_OK);
	assert_true(ops[0].seq == SG_DTLS_SEQ_MAX - 1);
	assert_int_equal(ops[1].status, SG_REC_OK);
	assert_true(ops[1].seq == SG_DTLS_SEQ_MAX);
	assert_memory_equal(bufs[1] + 5, "\xff\xff\xff\xff\xff\xff", 6);
	assert_int_equal(ops[2].status, SG_REC_SEQ_EXHAUSTED);
	assert_int_equal(ops[3].status, SG_REC_SEQ_EXHAUSTED);
	/* The record with the last number opens on the other side. */
	{
		struct rt_rec r = { .aead = p.aead, .key = p.k.server_key, .iv = p.k.server_iv };
		uint8_t pt[16], type;

		assert_int_equal(
		        rt_evp_open_record(&r, bufs[1] + ops[1].rec_off, ops[1].rec_len, pt, &type),
		        10);
	}
	/* Explicit nonce = epoch ‖ sequence number (unique per key). */
	assert_memory_equal(bufs[0] + 13, bufs[0] + 3, 8);
	peer_free(&p);

	/* A wiped SA seals nothing. */
	peer_init(&p, SG_AEAD_AES_128_GCM, 0, 2);
	sg_rec_sa_wipe(p.sa, 128);
	ops[0].sa = p.sa;
	assert_int_equal(sg_rec_seal_burst(ctx, ops, 1), 0);
	assert_int_equal(ops[0].status, SG_REC_BAD_SA);
	ops[0].sa = NULL;
	assert_int_equal(sg_rec_seal_burst(ctx, ops, 1), 0);
	assert_int_equal(ops[0].status, SG_REC_BAD_SA);
	free(p.sa);
	sg_rec_ctx_free(ctx);
}

/* More than SG_BURST_MAX ops in one call, and wiping the context's keys between bursts. */
static void test_large_call_and_wipe_keys(void **state)
{
	enum { N = 3 * SG_BURST_MAX + 5 };
	struct sg_rec_ctx *ctx = ctx_new(0);
	struct sg_rec_seal_op *sops = calloc(N, sizeof(*sops));
	struct sg_rec_open_op *oops = calloc(N, sizeof(*oops));
	uint8_t(*b)[96] = malloc(N * sizeof(*b));
	struct peer srv, cli;

	(void)state;
	assert_non_null(sops);
	assert_non_null(oops);
	assert_non_null(b);
	/* Two ends of one GCM session: the client seals, the server opens. */
	peer_init(&srv, SG_AEAD_AES_256_GCM, 0, 9);
	cli = srv;
	cli.sa = tc_sa_alloc(128);
	assert_non_null(cli.sa);
	assert_int_equal(rt_sa_init(cli.sa, 128, cli.aead, &cli.k, 1, 1, 0, 0), 0);
	for (int round = 0; round < 2; round++) {
		for (unsigned i = 0; i < N; i++) {
			memset(&sops[i], 0, sizeof(sops[i]));
			sops[i].buf = b[i];
			sops[i].buf_len = sizeof(b[i]);
			sops[i].pt_off = 21;
			sops[i].pt_len = 32;
			tc_fill(b[i] + 21, 32, i);
			sops[i].sa = cli.sa;
			sops[i].type = SG_DTLS_CT_APPLICATION_DATA;
		}
		assert_int_equal(sg_rec_seal_burst(ctx, sops, N), N);
		for (unsigned i = 0; i < N; i++) {
			memset(&oops[i], 0, sizeof(oops[i]));
			oops[i].rec = b[i] + sops[i].rec_off;
			oops[i].rec_len = sops[i].rec_len;
			oops[i].sa = srv.sa;
		}
		assert_int_equal(sg_rec_open_burst(ctx, oops, N), N);
		for (unsigned i = 0; i < N; i++) {
			uint8_t want[32];

			tc_fill(want, 32, i);
			assert_memory_equal(oops[i].rec + oops[i].pt_off, want, 32);
		}
		sg_rec_ctx_wipe_keys(ctx);
	}
	assert_true(srv.sa->rx_top == 2 * N);
	peer_free(&srv);
	peer_free(&cli);
	free(b);
	free(sops);
	free(oops);
	sg_rec_ctx_free(ctx);
}

/* ---- GCM key cache ------------------------------------------------------------------ */

/* Open one client record and seal one reply on sa with keys k; both must work. */
static void gcm_exchange(struct sg_rec_ctx *ctx, struct sg_rec_sa *sa, enum sg_aead aead,
                         const struct tc_keys *k, uint64_t seq)
{
	struct peer p = { .aead = aead, .cid = 0, .k = *k, .sa = sa };
	struct sg_rec_open_op op = { 0 };
	struct sg_rec_seal_op so = { 0 };
	struct rt_rec r = { .aead = aead, .key = k->server_key, .iv = k->server_iv };
	uint8_t rec[128], pt[PAYLOAD], got[PAYLOAD], type;

	tc_fill(pt, sizeof(pt), seq);
	open_op(&op, rec, client_record(&p, seq, SG_DTLS_CT_APPLICATION_DATA, pt, sizeof(pt), rec),
	        sa);
	assert_int_equal(sg_rec_open_burst(ctx, &op, 1), 1);
	assert_memory_equal(rec + op.pt_off, pt, PAYLOAD);

	so.buf = rec;
	so.buf_len = sizeof(rec);
	so.pt_off = 21;
	so.pt_len = PAYLOAD;
	so.sa = sa;
	so.type = SG_DTLS_CT_APPLICATION_DATA;
	memcpy(rec + 21, pt, PAYLOAD);
	assert_int_equal(sg_rec_seal_burst(ctx, &so, 1), 1);
	assert_int_equal(rt_evp_open_record(&r, rec + so.rec_off, so.rec_len, got, &type), PAYLOAD);
	assert_memory_equal(got, pt, PAYLOAD);
}

/*
 * Expanded GCM keys are cached per worker by SA address: an SA wiped and
 * reused for a new session (same memory, new keys, even keys sharing their
 * first half) must never be served the old expansion, whatever the cache
 * size, and eviction under pressure must not break anything.
 */
static void test_gcm_key_cache(void **state)
{
	static const struct sg_rec_ctx_conf confs[] = {
		{ .cid_len = CID_LEN },
		{ .cid_len = CID_LEN, .gcm_cache_entries = 4 }, /* one set */
		{ .cid_len = CID_LEN, .flags = SG_REC_CTX_F_NO_GCM_CACHE },
	};
	static const enum sg_aead gcms[] = { SG_AEAD_AES_128_GCM, SG_AEAD_AES_256_GCM };

	(void)state;
	for (size_t c = 0; c < SG_ARRAY_SIZE(confs); c++) {
		struct sg_rec_ctx *ctx = sg_rec_ctx_create(&confs[c]);

		assert_non_null(ctx);
		for (size_t g = 0; g < SG_ARRAY_SIZE(gcms); g++) {
			struct sg_rec_sa *sa = tc_sa_alloc(128);
			struct tc_keys a, b;

			assert_non_null(sa);
			tc_keys_make(&a, 40 + g);
			b = a; /* same first 16 bytes: only the AES-256 half differs */
			b.client_key[g ? 20 : 3] ^= 1;
			b.server_key[g ? 20 : 3] ^= 1;
			assert_int_equal(rt_sa_init(sa, 128, gcms[g], &a, 0, 1, 0, 0), 0);
			for (uint64_t q = 0; q < 4; q++) /* miss, admit, hit, hit */
				gcm_exchange(ctx, sa, gcms[g], &a, q);
			sg_rec_sa_wipe(sa, 128);
			assert_int_equal(rt_sa_init(sa, 128, gcms[g], &b, 0, 1, 0, 0), 0);
			for (uint64_t q = 0; q < 4; q++)
				gcm_exchange(ctx, sa, gcms[g], &b, q);
			tc_sa_free(sa, 128);
		}

		/* Many sessions through a small cache, each twice per burst. */
		{
			enum { NS = 40 };
			struct peer ps[NS];
			struct sg_rec_open_op ops[2 * NS];
			uint8_t(*recs)[128] = malloc(2 * NS * sizeof(*recs));
			uint8_t pt[PAYLOAD];

			assert_non_null(recs);
			tc_fill(pt, sizeof(pt), 8);
			for (unsigned i = 0; i < NS; i++)
				peer_init(&ps[i], i & 1 ? SG_AEAD_AES_256_GCM : SG_AEAD_AES_128_GCM,
				          0, 700 + i);
			for (int round = 0; round < 3; round++) {
				for (unsigned i = 0; i < 2 * NS; i++) {
					struct peer *p = &ps[(i * 7) % NS];

					memset(&ops[i], 0, sizeof(ops[i]));
					ops[i].rec = recs[i];
					ops[i].rec_len = (uint32_t)client_record(
					        p, (uint64_t)round * 4 + i / NS,
					        SG_DTLS_CT_APPLICATION_DATA, pt, sizeof(pt),
					        recs[i]);
					ops[i].sa = p->sa;
				}
				assert_int_equal(sg_rec_open_burst(ctx, ops, 2 * NS), 2 * NS);
			}
			for (unsigned i = 0; i < NS; i++)
				peer_free(&ps[i]);
			free(recs);
		}
		sg_rec_ctx_free(ctx);
	}
}

/* ---- parser ------------------------------------------------------------------------- */

static void test_parse(void **state)
{
	struct peer plain, cid;
	uint8_t dgram[1024], pt[64];
	struct sg_rec_hdr h[8];
	size_t l1, l2, l3, off;
	unsigned n;

	(void)state;
	peer_init(&plain, SG_AEAD_AES_128_CCM_8, 0, 1);
	peer_init(&cid, SG_AEAD_CHACHA20_POLY1305, 1, 2);
	tc_fill(pt, sizeof(pt), 4);
	/* RFC 6347 §4.1: several records in one datagram. */
	l1 = client_record(&plain, 0x010203040506, 23, pt, 10, dgram);
	l2 = client_record(&cid, 7, 23, pt, 20, dgram + l1);
	l3 = client_record(&plain, 0x010203040507, 21, pt, 2, dgram + l1 + l2);
	off = l1 + l2 + l3;

	n = sg_rec_parse(dgram, off, CID_LEN, h, 8);
	assert_int_equal(n, 3);
	assert_int_equal(h[0].off, 0);
	assert_int_equal(h[0].len, l1);
	assert_int_equal(h[0].hdr_len, 13);
	assert_int_equal(h[0].type, 23);
	assert_int_equal(h[0].version, 0xfefd);
	assert_int_equal(h[0].epoch, 1);
	assert_true(h[0].seq == 0x010203040506);
	assert_int_equal(h[0].frag_len, l1 - 13);
	assert_int_equal(h[1].off, l1);
	assert_int_equal(h[1].len, l2);
	assert_int_equal(h[1].type, SG_DTLS_CT_TLS12_CID);
	assert_int_equal(h[1].hdr_len, 13 + CID_LEN);
	assert_memory_equal(dgram + h[1].off + SG_DTLS_HDR_OFF_CID, our_cid, CID_LEN);
	assert_int_equal(h[2].off, l1 + l2);
	assert_int_equal(h[2].type, 21);
	assert_true(h[2].seq == 0x010203040507);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(h[i].status, SG_REC_OK);

	/* What each parsed record opens to. */
	{
		struct sg_rec_ctx *ctx = ctx_new(0);
		struct sg_rec_open_op ops[3] = { 0 };

		for (unsigned i = 0; i < 3; i++) {
			ops[i].rec = dgram + h[i].off;
			ops[i].rec_len = h[i].len;
			ops[i].sa = i == 1 ? cid.sa : plain.sa;
		}
		assert_int_equal(sg_rec_open_burst(ctx, ops, 3), 3);
		assert_int_equal(ops[0].pt_len, 10);
		assert_int_equal(ops[1].pt_len, 20);
		assert_int_equal(ops[2].pt_len, 2);
		assert_int_equal(ops[2].type, 21);
		sg_rec_ctx_free(ctx);
	}

	/* Rebuild (opening decrypted in place), then the malformed tails. */
	l1 = client_record(&plain, 1, 23, pt, 10, dgram);
	l2 = client_record(&cid, 8, 23, pt, 20, dgram + l1);
	enum cut { NOTHING = 0, FIRST, BOTH_BUT_ONE, FIRST_AND_5, BOTH };
	static const struct {
		const char *name;
		enum cut cut; /* how much of the two records the datagram holds */
		unsigned max;
		unsigned cid_len;
		unsigned n;
		uint8_t last_status;
	} rows[] = {
		{ "empty", NOTHING, 8, CID_LEN, 0, 0 },
		{ "one record", FIRST, 8, CID_LEN, 1, SG_REC_OK },
		{ "second truncated by one", BOTH_BUT_ONE, 8, CID_LEN, 2, SG_REC_TRUNCATED },
		{ "second header cut", FIRST_AND_5, 8, CID_LEN, 2, SG_REC_RUNT },
		{ "max 1", BOTH, 1, CID_LEN, 1, SG_REC_OK },
		{ "cid length over 255", BOTH, 8, 256, 0, 0 },
	};
	for (size_t r = 0; r < SG_ARRAY_SIZE(rows); r++) {
		const size_t lens[] = { [NOTHING] = 0,
			                [FIRST] = l1,
			                [BOTH_BUT_ONE] = l1 + l2 - 1,
			                [FIRST_AND_5] = l1 + 5,
			                [BOTH] = l1 + l2 };
		size_t len = lens[rows[r].cut];

		n = sg_rec_parse(dgram, len, rows[r].cid_len, h, rows[r].max);
		if (n != rows[r].n)
			fail_msg("%s: %u records, want %u", rows[r].name, n, rows[r].n);
		if (n)
			assert_int_equal(h[n - 1].status, rows[r].last_status);
		if (rows[r].last_status != SG_REC_OK && n)
			assert_int_equal(h[n - 1].off + h[n - 1].len, len);
	}
	/* The second record's length field: over RFC 6347's limit is oversized, not truncated. */
	static const struct {
		unsigned flen;
		uint8_t status;
	} lrows[] = {
		{ SG_DTLS_MAX_CIPHERTEXT, SG_REC_TRUNCATED },
		{ SG_DTLS_MAX_CIPHERTEXT + 1, SG_REC_OVERSIZED },
		{ 0xffff, SG_REC_OVERSIZED },
	};
	for (size_t r = 0; r < SG_ARRAY_SIZE(lrows); r++) {
		uint8_t *f = dgram + l1 + SG_DTLS_HDR_LEN_CID(CID_LEN) - 2;

		sg_store_be16(f, (uint16_t)lrows[r].flen);
		n = sg_rec_parse(dgram, l1 + l2, CID_LEN, h, 8);
		assert_int_equal(n, 2);
		assert_int_equal(h[1].status, lrows[r].status);
		assert_int_equal(h[1].off + h[1].len, l1 + l2);
	}
	peer_free(&plain);
	peer_free(&cid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_bit_flipped),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_forgery_limit),
		cmocka_unit_test(test_mixed_burst),
		cmocka_unit_test(test_seal_limits),
		cmocka_unit_test(test_seal_record_limit),
		cmocka_unit_test(test_rrc_content_type),
		cmocka_unit_test(test_seal_sequence),
		cmocka_unit_test(test_large_call_and_wipe_keys),
		cmocka_unit_test(test_gcm_key_cache),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests_name("record_errors", tests, NULL, NULL);
}
