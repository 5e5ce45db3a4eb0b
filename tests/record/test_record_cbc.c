/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CBC-SHA256 records (TLS_PSK_WITH_AES_128_CBC_SHA256 and
 * TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256), MAC-then-encrypt and RFC 7366
 * encrypt-then-MAC: SA rules, round trips both ways against records OpenSSL
 * EVP builds from the RFC text (every payload length 0..2048, every legal
 * padding length), every refused variant with its status, mixed bursts with
 * AEAD sessions, and the wipe of the MAC line. Single-threaded.
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

#define CBC      SG_AEAD_AES_128_CBC_SHA256
#define BUF_LEN  2600 /* 2048 payload + header, IV, MAC and 256 bytes of padding */
#define HEADROOM 64
#define MAX_LEN  2048

static uint8_t (*bufs)[BUF_LEN]; /* [SG_BURST_MAX] */
static uint8_t (*outs)[BUF_LEN];

static int group_setup(void **state)
{
	(void)state;
	bufs = malloc(SG_BURST_MAX * sizeof(*bufs));
	outs = malloc(SG_BURST_MAX * sizeof(*outs));
	return bufs && outs ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(bufs);
	free(outs);
	return 0;
}

/* ---- SAs -------------------------------------------------------------------------- */

static void test_cbc_sa_init(void **state)
{
	static const struct {
		const char *what;
		int aead;
		uint8_t flags;
		int no_mac, no_iv;
		int expect;
	} rows[] = {
		{ "mac-then-encrypt", CBC, 0, 0, 1, 0 },
		{ "encrypt-then-mac", CBC, SG_SA_F_ETM, 0, 1, 0 },
		{ "no MAC keys", CBC, 0, 1, 1, -EINVAL },
		{ "rx cid", CBC, SG_SA_F_RX_CID, 0, 1, -EINVAL },
		{ "tx cid", CBC, SG_SA_F_TX_CID, 0, 1, -EINVAL },
		{ "rrc", CBC, SG_SA_F_RRC, 0, 1, -EINVAL },
		{ "etm on an AEAD", SG_AEAD_AES_128_GCM, SG_SA_F_ETM, 0, 0, -EINVAL },
		{ "AEAD without IVs", SG_AEAD_AES_128_GCM, 0, 0, 1, -EINVAL },
		{ "AEAD, MAC keys ignored", SG_AEAD_AES_128_CCM, 0, 0, 0, 0 },
	};
	struct tc_keys k;

	(void)state;
	tc_keys_make(&k, 3);
	for (unsigned w = 64; w <= 4096; w *= 4) {
		for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
			struct sg_rec_sa *sa = tc_sa_alloc(w);
			size_t full = sg_rec_sa_size_max(w);
			struct sg_rec_sa_params p = {
				.aead = (enum sg_aead)rows[i].aead,
				.epoch = 1,
				.flags = rows[i].flags,
				.rx_key = k.client_key,
				.tx_key = k.server_key,
				.rx_iv = rows[i].no_iv ? NULL : k.client_iv,
				.tx_iv = rows[i].no_iv ? NULL : k.server_iv,
				.rx_mac = rows[i].no_mac ? NULL : k.client_mac,
				.tx_mac = rows[i].no_mac ? NULL : k.server_mac,
			};

			print_message("# window %u: %s\n", w, rows[i].what);
			assert_int_equal(sg_rec_sa_init(sa, w, &p), rows[i].expect);
			if (rows[i].expect == 0 && rows[i].aead == CBC) {
				const struct sg_rec_sa_mac *m = sg_rec_sa_mac(sa, w);

				assert_memory_equal(sa->rx_key, k.client_key, 16);
				assert_memory_equal(sa->tx_key, k.server_key, 16);
				assert_memory_equal(m->rx_mac, k.client_mac, 32);
				assert_memory_equal(m->tx_mac, k.server_mac, 32);
				assert_int_equal(sa->flags & SG_SA_F_ETM,
				                 rows[i].flags & SG_SA_F_ETM);
			}
			/* The wipe covers the MAC line of a CBC SA, and a narrow SA's size only. */
			memset((uint8_t *)sa + sg_rec_sa_size(w), 0xa5, full - sg_rec_sa_size(w));
			if (rows[i].expect == 0 && rows[i].aead == CBC) {
				struct sg_rec_sa_mac *m = sg_rec_sa_mac(sa, w);

				memcpy(m->rx_mac, k.client_mac, 32);
			}
			sg_rec_sa_wipe(sa, w);
			for (size_t b = 0; b < sg_rec_sa_size(w); b++)
				assert_int_equal(((uint8_t *)sa)[b], 0);
			for (size_t b = sg_rec_sa_size(w); b < full; b++)
				assert_int_equal(((uint8_t *)sa)[b],
				                 rows[i].expect == 0 && rows[i].aead == CBC ? 0
				                                                            : 0xa5);
			free(sa);
		}
	}
	assert_string_equal(sg_aead_name(CBC), "aes_128_cbc_sha256");
	assert_int_equal(sg_rec_seal_headroom(CBC, 0, 0), 13 + 16);
	assert_int_equal(sg_rec_seal_tailroom(CBC, 0, 0), 32 + 16);
}

/* ---- round trips -------------------------------------------------------------------- */

struct cbc_session {
	struct tc_keys k;
	struct sg_rec_sa *srv;
	int etm;
	uint64_t cli_seq;
};

static void session_init(struct cbc_session *s, int etm, uint64_t seed)
{
	tc_keys_make(&s->k, seed);
	s->srv = tc_sa_alloc(128);
	s->etm = etm;
	s->cli_seq = 0;
	assert_int_equal(rt_sa_init(s->srv, 128, CBC, &s->k, 0, 1, etm ? SG_SA_F_ETM : 0, 0), 0);
}

/* The peer's record parameters for a record the client sends (dir 0) or we send (dir 1). */
static struct rt_rec peer_rec(const struct cbc_session *s, int we_send, const uint8_t *iv)
{
	struct rt_rec r = {
		.aead = CBC,
		.key = we_send ? s->k.server_key : s->k.client_key,
		.mac_key = we_send ? s->k.server_mac : s->k.client_mac,
		.iv = iv,
		.etm = s->etm,
		.epoch = 1,
		.type = SG_DTLS_CT_APPLICATION_DATA,
	};

	return r;
}

/* A legal padding_length for len bytes of content: minimal plus extra blocks (<= 255). */
static unsigned legal_pad(size_t len, int etm, unsigned extra_blocks)
{
	unsigned used = (unsigned)(len + (etm ? 0 : 32) + 1) % 16;
	unsigned pad = used ? 16 - used : 0;

	while (extra_blocks-- && pad + 16 <= 255)
		pad += 16;
	return pad;
}

/*
 * Both directions for every length 0..MAX_LEN, a burst of SG_BURST_MAX
 * records at a time: OpenSSL seals (padding minimal or longer, explicit IVs
 * of its own), we open; we seal, OpenSSL opens.
 */
static void roundtrip(int etm)
{
	struct cbc_session s;
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);
	struct sg_rec_open_op *ops = calloc(SG_BURST_MAX, sizeof(*ops));
	struct sg_rec_seal_op *sops = calloc(SG_BURST_MAX, sizeof(*sops));
	uint8_t pt[MAX_LEN], got[BUF_LEN], iv[16];
	unsigned lens[SG_BURST_MAX];
	unsigned total = 0;

	assert_non_null(ctx);
	assert_non_null(ops);
	assert_non_null(sops);
	session_init(&s, etm, 40 + (uint64_t)etm);
	for (unsigned from = 0; from <= MAX_LEN; from += SG_BURST_MAX) {
		unsigned n = MAX_LEN + 1 - from < SG_BURST_MAX ? MAX_LEN + 1 - from : SG_BURST_MAX;

		/* in: OpenSSL -> us */
		for (unsigned i = 0; i < n; i++) {
			struct rt_rec r = peer_rec(&s, 0, iv);
			size_t len = from + i;

			lens[i] = (unsigned)len;
			tc_fill(pt, len, len * 3 + 1);
			tc_fill(iv, sizeof(iv), len * 5 + 2);
			r.seq = s.cli_seq++;
			r.pad_len = legal_pad(len, etm, (unsigned)(len % 17));
			memset(&ops[i], 0, sizeof(ops[i]));
			ops[i].rec = bufs[i];
			ops[i].rec_len = (uint32_t)rt_evp_seal_record(&r, pt, len, bufs[i]);
			assert_true(ops[i].rec_len > 0);
			ops[i].sa = s.srv;
			ops[i].dst = (i & 1) ? outs[i] : NULL; /* in place and out of place */
		}
		assert_int_equal(sg_rec_open_burst(ctx, ops, n), n);
		for (unsigned i = 0; i < n; i++) {
			const uint8_t *p = (ops[i].dst ? ops[i].dst : ops[i].rec) + ops[i].pt_off;

			tc_fill(pt, lens[i], lens[i] * 3 + 1);
			assert_int_equal(ops[i].status, SG_REC_OK);
			assert_int_equal(ops[i].pt_len, lens[i]);
			assert_int_equal(ops[i].type, SG_DTLS_CT_APPLICATION_DATA);
			assert_memory_equal(p, pt, lens[i]);
			/* An EtM open hashes over the header and puts it back. */
			assert_int_equal(ops[i].rec[0], SG_DTLS_CT_APPLICATION_DATA);
			assert_int_equal(sg_load_be16(ops[i].rec + 11), ops[i].rec_len - 13);
		}

		/* out: us -> OpenSSL */
		for (unsigned i = 0; i < n; i++) {
			memset(&sops[i], 0, sizeof(sops[i]));
			tc_fill(bufs[i] + HEADROOM, lens[i], lens[i] * 7 + 3);
			sops[i].buf = bufs[i];
			sops[i].buf_len = HEADROOM + lens[i] + sg_rec_seal_tailroom(CBC, 0, 0);
			sops[i].pt_off = HEADROOM;
			sops[i].pt_len = lens[i];
			sops[i].sa = s.srv;
			sops[i].type = SG_DTLS_CT_APPLICATION_DATA;
		}
		assert_int_equal(sg_rec_seal_burst(ctx, sops, n), n);
		for (unsigned i = 0; i < n; i++) {
			struct rt_rec r = peer_rec(&s, 1, NULL);
			const uint8_t *rec = sops[i].buf + sops[i].rec_off;
			uint8_t type = 0;
			unsigned flen = sops[i].rec_len - 13 - 16 - (etm ? 32 : 0);

			assert_int_equal(sops[i].status, SG_REC_OK);
			assert_int_equal(sops[i].rec_off, HEADROOM - 29);
			/* Minimal padding: the next block multiple. */
			assert_int_equal(flen, (lens[i] + (etm ? 0 : 32)) / 16 * 16 + 16);
			assert_int_equal(rt_evp_open_record(&r, rec, sops[i].rec_len, got, &type),
			                 (long)lens[i]);
			assert_int_equal(type, SG_DTLS_CT_APPLICATION_DATA);
			tc_fill(pt, lens[i], lens[i] * 7 + 3);
			assert_memory_equal(got, pt, lens[i]);
			assert_true(sops[i].seq == total + i);
		}
		total += n;
	}
	tc_sa_free(s.srv, 128);
	sg_rec_ctx_free(ctx);
	free(ops);
	free(sops);
}

static void test_cbc_roundtrip_mte(void **state)
{
	(void)state;
	roundtrip(0);
}

static void test_cbc_roundtrip_etm(void **state)
{
	(void)state;
	roundtrip(1);
}

/* ---- refused records ---------------------------------------------------------------- */

enum tamper {
	T_NONE = 0,
	T_IV,        /* a bit of the explicit IV */
	T_FIRST,     /* a bit of the first ciphertext block */
	T_LAST,      /* a bit of the last byte (MtE: padding_length; EtM: the MAC) */
	T_TYPE,      /* content type alert instead of application data: in the MAC */
	T_SEQ,       /* another (fresh) sequence number: in the MAC */
	T_TRUNC,     /* the last block dropped, the length fixed */
	T_RUNT,      /* 48 bytes: below IV + MAC + a block */
	T_MISALIGN,  /* one byte dropped: no block multiple */
	T_EPOCH,     /* epoch 2 */
	T_VERSION,   /* DTLS 1.0 */
	T_OTHER_KEY, /* opened by another session */
	T_REPLAY,    /* opened twice: the second */
};

#define MTE 1
#define ETM 2

static const struct tamper_row {
	const char *what;
	unsigned modes; /* MTE, ETM or both */
	unsigned len;   /* content bytes */
	unsigned extra; /* padding blocks beyond the minimum (up to padding_length 255) */
	unsigned bad;   /* RT_CBC_BAD_* */
	enum tamper t;
	enum sg_rec_status want;
} tamper_rows[] = {
	{ "good", MTE | ETM, 100, 0, 0, T_NONE, SG_REC_OK },
	{ "good, empty", MTE | ETM, 0, 0, 0, T_NONE, SG_REC_OK },
	{ "good, padding_length 255", MTE | ETM, 64, 99, 0, T_NONE, SG_REC_OK },
	{ "good, padding_length 0", MTE, 15, 0, 0, T_NONE, SG_REC_OK },
	{ "good, padding_length 0", ETM, 15, 0, 0, T_NONE, SG_REC_OK },
	{ "bad padding byte", MTE | ETM, 100, 0, RT_CBC_BAD_PAD_BYTE, T_NONE, SG_REC_AUTH_FAILED },
	{ "bad padding byte, 255", MTE | ETM, 64, 99, RT_CBC_BAD_PAD_BYTE, T_NONE,
	  SG_REC_AUTH_FAILED },
	{ "bad padding byte, no padding", MTE | ETM, 15, 0, RT_CBC_BAD_PAD_BYTE, T_NONE,
	  SG_REC_AUTH_FAILED },
	{ "padding_length past the record", MTE | ETM, 20, 0, RT_CBC_BAD_PAD_LEN, T_NONE,
	  SG_REC_AUTH_FAILED },
	{ "bad MAC", MTE | ETM, 100, 0, RT_CBC_BAD_MAC, T_NONE, SG_REC_AUTH_FAILED },
	{ "bad MAC, padding 255", MTE | ETM, 64, 99, RT_CBC_BAD_MAC, T_NONE, SG_REC_AUTH_FAILED },
	{ "IV bit", MTE | ETM, 100, 0, 0, T_IV, SG_REC_AUTH_FAILED },
	{ "first block bit", MTE | ETM, 100, 1, 0, T_FIRST, SG_REC_AUTH_FAILED },
	{ "last byte bit", MTE | ETM, 100, 0, 0, T_LAST, SG_REC_AUTH_FAILED },
	{ "content type", MTE | ETM, 100, 0, 0, T_TYPE, SG_REC_AUTH_FAILED },
	{ "sequence number", MTE | ETM, 100, 0, 0, T_SEQ, SG_REC_AUTH_FAILED },
	{ "last block dropped", MTE | ETM, 100, 2, 0, T_TRUNC, SG_REC_AUTH_FAILED },
	{ "runt", MTE | ETM, 100, 0, 0, T_RUNT, SG_REC_RUNT },
	{ "no block multiple", MTE | ETM, 100, 0, 0, T_MISALIGN, SG_REC_AUTH_FAILED },
	{ "epoch", MTE | ETM, 100, 0, 0, T_EPOCH, SG_REC_BAD_EPOCH },
	{ "version", MTE | ETM, 100, 0, 0, T_VERSION, SG_REC_BAD_VERSION },
	{ "other session's keys", MTE | ETM, 100, 0, 0, T_OTHER_KEY, SG_REC_AUTH_FAILED },
	{ "replayed", MTE | ETM, 100, 0, 0, T_REPLAY, SG_REC_REPLAYED },
};

/* Apply t to the record at rec (*len bytes). */
static void tamper(uint8_t *rec, uint32_t *len, enum tamper t)
{
	switch (t) {
	case T_IV:
		rec[13] ^= 0x01;
		break;
	case T_FIRST:
		rec[29] ^= 0x80;
		break;
	case T_LAST:
		rec[*len - 1] ^= 0x01;
		break;
	case T_TYPE:
		rec[0] = SG_DTLS_CT_ALERT;
		break;
	case T_SEQ:
		rec[10] ^= 0x40;
		break;
	case T_TRUNC:
		*len -= 16;
		sg_store_be16(rec + 11, (uint16_t)(*len - 13));
		break;
	case T_RUNT:
		*len = 13 + 48;
		sg_store_be16(rec + 11, 48);
		break;
	case T_MISALIGN:
		*len -= 1;
		sg_store_be16(rec + 11, (uint16_t)(*len - 13));
		break;
	case T_EPOCH:
		rec[4] = 2;
		break;
	case T_VERSION:
		sg_store_be16(rec + 1, 0xfeff);
		break;
	default:
		break;
	}
}

static void tamper_one(struct sg_rec_ctx *ctx, const struct tamper_row *row, int etm, int in_place)
{
	struct cbc_session s, other;
	uint8_t pt[512], iv[16], *rec = bufs[0], copy[BUF_LEN];
	struct sg_rec_open_op op = { 0 };
	struct rt_rec r;
	uint32_t len;

	print_message("# %s: %s, %s\n", etm ? "etm" : "mte", row->what,
	              in_place ? "in place" : "out of place");
	session_init(&s, etm, 70);
	session_init(&other, etm, 71);
	tc_fill(pt, row->len, row->len + 5);
	tc_fill(iv, sizeof(iv), 77);
	r = peer_rec(&s, 0, iv);
	r.seq = 9;
	r.pad_len = legal_pad(row->len, etm, row->extra);
	r.cbc_bad = row->bad;
	len = (uint32_t)rt_evp_seal_record(&r, pt, row->len, rec);
	assert_true(len > 0);
	if (row->extra == 99)
		assert_int_equal(r.pad_len, 255);
	tamper(rec, &len, row->t);
	memcpy(copy, rec, len);
	op.rec = rec;
	op.rec_len = len;
	op.sa = row->t == T_OTHER_KEY ? other.srv : s.srv;
	op.dst = in_place ? NULL : outs[0];
	if (!in_place)
		memset(outs[0], 0x77, BUF_LEN);
	if (row->t == T_REPLAY) {
		assert_int_equal(sg_rec_open_burst(ctx, &op, 1), 1);
		memcpy(rec, copy, len);
		memset(outs[0], 0x77, BUF_LEN);
	}
	assert_int_equal(sg_rec_open_burst(ctx, &op, 1), row->want == SG_REC_OK);
	assert_int_equal(op.status, row->want);
	if (row->want == SG_REC_OK) {
		assert_int_equal(op.pt_len, row->len);
		assert_memory_equal((in_place ? rec : outs[0]) + op.pt_off, pt, row->len);
	} else {
		const uint8_t *out = in_place ? rec + 29 : outs[0];
		uint32_t region = len > 29 ? len - 29 : 0;

		assert_int_equal(op.pt_len, 0);
		/* Nothing decrypted survives: zeroed, or never written (refused before crypto). */
		for (uint32_t b = 0; b < region; b++)
			assert_true(out[b] == 0 || out[b] == (in_place ? copy[29 + b] : 0x77));
		/* The header (an EtM open hashes a pseudo-header in its place) is back. */
		assert_memory_equal(rec, copy, 13);
	}
	tc_sa_free(s.srv, 128);
	tc_sa_free(other.srv, 128);
}

static void test_cbc_tamper(void **state)
{
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);

	(void)state;
	assert_non_null(ctx);
	for (size_t i = 0; i < SG_ARRAY_SIZE(tamper_rows); i++)
		for (int etm = 0; etm < 2; etm++)
			if (tamper_rows[i].modes & (etm ? ETM : MTE))
				for (int in_place = 0; in_place < 2; in_place++)
					tamper_one(ctx, &tamper_rows[i], etm, in_place);
	sg_rec_ctx_free(ctx);
}

/*
 * The largest content, 2^14, with padding_length 255 opens (the ciphertext
 * is over 2^14 + 256 bytes); 2^14 + 16 authenticates and is still refused
 * (RFC 5246 §6.2.1).
 */
static void test_cbc_sizes(void **state)
{
	static const struct {
		unsigned len, extra;
		enum sg_rec_status want;
	} rows[] = {
		{ 16384, 99, SG_REC_OK },
		{ 16384, 0, SG_REC_OK },
		{ 16400, 0, SG_REC_OVERSIZED },
	};
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);
	uint8_t *pt = malloc(17000), *rec = malloc(17500), iv[16] = { 1 };

	(void)state;
	assert_non_null(ctx);
	assert_non_null(pt);
	assert_non_null(rec);
	for (int etm = 0; etm < 2; etm++) {
		for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
			struct cbc_session s;
			struct sg_rec_open_op op = { 0 };
			struct rt_rec r;

			session_init(&s, etm, 90);
			r = peer_rec(&s, 0, iv);
			r.pad_len = legal_pad(rows[i].len, etm, rows[i].extra);
			tc_fill(pt, rows[i].len, 3);
			op.rec = rec;
			op.rec_len = (uint32_t)rt_evp_seal_record(&r, pt, rows[i].len, rec);
			op.sa = s.srv;
			assert_int_equal(sg_rec_open_burst(ctx, &op, 1), rows[i].want == SG_REC_OK);
			assert_int_equal(op.status, rows[i].want);
			if (rows[i].want == SG_REC_OK)
				assert_memory_equal(rec + op.pt_off, pt, rows[i].len);
			tc_sa_free(s.srv, 128);
		}
	}
	free(pt);
	free(rec);
	sg_rec_ctx_free(ctx);
}

/* Sealing: room, the peer's record limit, sequence exhaustion. */
static void test_cbc_seal_limits(void **state)
{
	static const struct {
		const char *what;
		unsigned pt_off, len, tail; /* tail: tailroom given */
		uint16_t max_pt;
		uint64_t tx_seq;
		enum sg_rec_status want;
	} rows[] = {
		{ "fits", 29, 100, 48, 0, 0, SG_REC_OK },
		{ "fits exactly (100 + 32 + 12)", 29, 100, 44, 0, 0, SG_REC_OK },
		{ "no tailroom for the padding", 29, 100, 43, 0, 0, SG_REC_NO_ROOM },
		{ "no headroom for the IV", 28, 100, 48, 0, 0, SG_REC_NO_ROOM },
		{ "over the peer's limit", 29, 513, 48, 512, 0, SG_REC_RECORD_LIMIT },
		{ "at the peer's limit", 29, 512, 48, 512, 0, SG_REC_OK },
		{ "last sequence number", 29, 1, 48, 0, (UINT64_C(1) << 48) - 1, SG_REC_OK },
	};
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);

	(void)state;
	assert_non_null(ctx);
	for (int etm = 0; etm < 2; etm++) {
		for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
			struct tc_keys k;
			struct sg_rec_sa *sa = tc_sa_alloc(128);
			struct sg_rec_sa_params p = {
				.aead = CBC,
				.epoch = 1,
				.flags = etm ? SG_SA_F_ETM : 0,
				.tx_seq = rows[i].tx_seq,
				.max_plaintext = rows[i].max_pt,
			};
			struct sg_rec_seal_op op = { 0 };
			unsigned tail = rows[i].tail;

			print_message("# %s: %s\n", etm ? "etm" : "mte", rows[i].what);
			tc_keys_make(&k, 5);
			tc_sa_pair(sa, NULL, 128, &p, &k);
			op.buf = bufs[0];
			op.pt_off = rows[i].pt_off;
			op.pt_len = rows[i].len;
			op.buf_len = rows[i].pt_off + rows[i].len + tail;
			op.sa = sa;
			op.type = SG_DTLS_CT_APPLICATION_DATA;
			assert_int_equal(sg_rec_seal_burst(ctx, &op, 1), rows[i].want == SG_REC_OK);
			assert_int_equal(op.status, rows[i].want);
			/* A refused seal spends no sequence number; the last one exhausts. */
			assert_true(sg_rec_sa_tx_seq(sa) ==
			            rows[i].tx_seq + (rows[i].want == SG_REC_OK));
			if (rows[i].tx_seq) {
				assert_int_equal(sg_rec_seal_burst(ctx, &op, 1), 0);
				assert_int_equal(op.status, SG_REC_SEQ_EXHAUSTED);
			}
			tc_sa_free(sa, 128);
		}
	}
	sg_rec_ctx_free(ctx);
}

/*
 * One burst of records of GCM, CCM_8, CBC MtE and CBC EtM sessions
 * interleaved, both ways against OpenSSL: the engine keeps each slot's
 * suite apart (schedules, HMAC states, jobs, checks).
 */
static void test_cbc_mixed_burst(void **state)
{
	static const struct {
		enum sg_aead aead;
		uint8_t flags;
	} kinds[] = {
		{ SG_AEAD_AES_128_GCM, 0 },       { CBC, 0 },
		{ SG_AEAD_AES_128_CCM_8, 0 },     { CBC, SG_SA_F_ETM },
		{ SG_AEAD_CHACHA20_POLY1305, 0 },
	};
#define N_KINDS SG_ARRAY_SIZE(kinds)
	struct tc_keys k[N_KINDS];
	struct sg_rec_sa *sa[N_KINDS];
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);
	struct sg_rec_open_op *ops = calloc(SG_BURST_MAX, sizeof(*ops));
	struct sg_rec_seal_op *sops = calloc(SG_BURST_MAX, sizeof(*sops));
	uint8_t pt[600], got[BUF_LEN], iv[16];
	uint64_t seq[N_KINDS] = { 0 };

	(void)state;
	assert_non_null(ctx);
	assert_non_null(ops);
	assert_non_null(sops);
	for (size_t j = 0; j < N_KINDS; j++) {
		tc_keys_make(&k[j], 200 + j);
		sa[j] = tc_sa_alloc(128);
		assert_int_equal(
		        rt_sa_init(sa[j], 128, kinds[j].aead, &k[j], 0, 1, kinds[j].flags, 0), 0);
	}
	for (unsigned i = 0; i < SG_BURST_MAX; i++) {
		unsigned j = i % N_KINDS, len = (i * 37) % 600;
		struct rt_rec r = {
			.aead = kinds[j].aead,
			.key = k[j].client_key,
			.iv = kinds[j].aead == CBC ? iv : k[j].client_iv,
			.mac_key = k[j].client_mac,
			.etm = kinds[j].flags & SG_SA_F_ETM,
			.epoch = 1,
			.seq = seq[j]++,
			.type = SG_DTLS_CT_APPLICATION_DATA,
		};

		tc_fill(iv, sizeof(iv), i + 1000);
		if (kinds[j].aead == CBC)
			r.pad_len = legal_pad(len, r.etm, i % 3);
		tc_fill(pt, len, i);
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].rec = bufs[i];
		ops[i].rec_len = (uint32_t)rt_evp_seal_record(&r, pt, len, bufs[i]);
		ops[i].sa = sa[j];
		/* Every seventh forged: its neighbours must not care. */
		if (i % 7 == 3)
			ops[i].rec[ops[i].rec_len - 1] ^= 1;
	}
	assert_int_equal(sg_rec_open_burst(ctx, ops, SG_BURST_MAX),
	                 SG_BURST_MAX - (SG_BURST_MAX + 3) / 7);
	for (unsigned i = 0; i < SG_BURST_MAX; i++) {
		unsigned len = (i * 37) % 600;

		if (i % 7 == 3) {
			assert_int_equal(ops[i].status, SG_REC_AUTH_FAILED);
			continue;
		}
		tc_fill(pt, len, i);
		assert_int_equal(ops[i].status, SG_REC_OK);
		assert_int_equal(ops[i].pt_len, len);
		assert_memory_equal(ops[i].rec + ops[i].pt_off, pt, len);
	}

	for (unsigned i = 0; i < SG_BURST_MAX; i++) {
		unsigned j = i % N_KINDS, len = (i * 53) % 600;

		memset(&sops[i], 0, sizeof(sops[i]));
		tc_fill(bufs[i] + HEADROOM, len, i + 500);
		sops[i].buf = bufs[i];
		sops[i].buf_len = HEADROOM + len + sg_rec_seal_tailroom(kinds[j].aead, 0, 0);
		sops[i].pt_off = HEADROOM;
		sops[i].pt_len = len;
		sops[i].sa = sa[j];
		sops[i].type = SG_DTLS_CT_HANDSHAKE;
	}
	assert_int_equal(sg_rec_seal_burst(ctx, sops, SG_BURST_MAX), SG_BURST_MAX);
	for (unsigned i = 0; i < SG_BURST_MAX; i++) {
		unsigned j = i % N_KINDS, len = (i * 53) % 600;
		struct rt_rec r = {
			.aead = kinds[j].aead,
			.key = k[j].server_key,
			.iv = k[j].server_iv,
			.mac_key = k[j].server_mac,
			.etm = kinds[j].flags & SG_SA_F_ETM,
		};
		uint8_t type = 0;

		assert_int_equal(rt_evp_open_record(&r, sops[i].buf + sops[i].rec_off,
		                                    sops[i].rec_len, got, &type),
		                 (long)len);
		assert_int_equal(type, SG_DTLS_CT_HANDSHAKE);
		tc_fill(pt, len, i + 500);
		assert_memory_equal(got, pt, len);
	}
	for (size_t j = 0; j < N_KINDS; j++)
		tc_sa_free(sa[j], 128);
	free(ops);
	free(sops);
	sg_rec_ctx_free(ctx);
#undef N_KINDS
}

/*
 * The HMAC-state cache: an SA re-keyed in place (same address, same AES key,
 * a new MAC key differing in one byte) never opens with the old key's
 * states, however often the old key was used before; and a context without
 * key caches opens the same.
 */
static void test_cbc_hmac_cache(void **state)
{
	struct sg_rec_ctx_conf nocache = { .flags = SG_REC_CTX_F_NO_GCM_CACHE };
	struct sg_rec_ctx *ctxs[2] = { sg_rec_ctx_create(NULL), sg_rec_ctx_create(&nocache) };
	uint8_t pt[64], iv[16] = { 9 };

	(void)state;
	tc_fill(pt, sizeof(pt), 5);
	for (int c = 0; c < 2; c++) {
		struct sg_rec_ctx *ctx = ctxs[c];
		struct cbc_session s;
		uint64_t seq = 1;

		assert_non_null(ctx);
		for (int etm = 0; etm < 2; etm++) {
			session_init(&s, etm, 300);
			for (int round = 0; round < 2; round++) {
				/* Five records: the key misses, is admitted, then hits. */
				for (int i = 0; i < 5; i++) {
					struct rt_rec r = peer_rec(&s, 0, iv);
					struct sg_rec_open_op op = { .rec = bufs[0], .sa = s.srv };

					r.seq = seq++;
					r.pad_len = legal_pad(sizeof(pt), etm, 0);
					op.rec_len = (uint32_t)rt_evp_seal_record(
					        &r, pt, sizeof(pt), bufs[0]);
					assert_int_equal(sg_rec_open_burst(ctx, &op, 1), 1);
				}
				/* Re-key in place: one byte of the MAC key differs. */
				s.k.client_mac[31] ^= 0x01;
				assert_int_equal(rt_sa_init(s.srv, 128, CBC, &s.k, 0, 1,
				                            etm ? SG_SA_F_ETM : 0, 0),
				                 0);
				seq = 1;
				/* A record under the old key is refused, one under the new opens.
				 */
				{
					struct cbc_session old = s;
					struct rt_rec r;
					struct sg_rec_open_op op = { .rec = bufs[0], .sa = s.srv };

					old.k.client_mac[31] ^= 0x01;
					r = peer_rec(&old, 0, iv);
					r.seq = 100;
					r.pad_len = legal_pad(sizeof(pt), etm, 0);
					op.rec_len = (uint32_t)rt_evp_seal_record(
					        &r, pt, sizeof(pt), bufs[0]);
					assert_int_equal(sg_rec_open_burst(ctx, &op, 1), 0);
					assert_int_equal(op.status, SG_REC_AUTH_FAILED);
				}
			}
			tc_sa_free(s.srv, 128);
		}
		sg_rec_ctx_free(ctx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cbc_sa_init),       cmocka_unit_test(test_cbc_roundtrip_mte),
		cmocka_unit_test(test_cbc_roundtrip_etm), cmocka_unit_test(test_cbc_tamper),
		cmocka_unit_test(test_cbc_sizes),         cmocka_unit_test(test_cbc_seal_limits),
		cmocka_unit_test(test_cbc_mixed_burst),   cmocka_unit_test(test_cbc_hmac_cache),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
