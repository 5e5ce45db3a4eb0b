/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scripted DTLS 1.2 PSK / ECDHE-PSK client for tests. See hs_client.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/suite.h>

#include "hs_client.h"
#include "hs_codec.h"

static uint8_t last_ch[1024];
static size_t last_ch_len;

void hc_init(struct hc *c, const struct hc_opts *o)
{
	struct sg_rec_ctx_conf rc = { .window_bits = 64, .cid_len = o->cid ? o->cid_len : 0 };

	memset(c, 0, sizeof(*c));
	c->o = *o;
	assert_int_equal(sg_hs_crypto_init(&c->crypto), 0);
	assert_int_equal(sg_hs_ecdh_init(&c->ecdh, 0), 0);
	c->rec = sg_rec_ctx_create(&rc);
	assert_non_null(c->rec);
	assert_int_equal(sg_hs_random(c->random, sizeof(c->random)), 0);
	if (o->ticket_ext && o->ticket_len) {
		/* RFC 5077 §3.4: a session ID with the ticket, echoed if it is accepted. */
		c->session_id_len = 32;
		assert_int_equal(sg_hs_random(c->session_id, 32), 0);
	}
	c->rec_seq = 0;
}

void hc_free(struct hc *c)
{
	sg_rec_ctx_free(c->rec);
	sg_hs_ecdh_fini(&c->ecdh);
	sg_hs_crypto_fini(&c->crypto);
	sg_wipe(c, sizeof(*c));
}

static size_t record(struct hc *c, uint8_t type, const uint8_t *frag, size_t len, uint8_t *out)
{
	out[0] = type;
	sg_store_be16(out + 1, SG_DTLS_VERSION_1_2);
	sg_store_be16(out + 3, 0);
	sg_store_be48(out + 5, c->rec_seq++);
	sg_store_be16(out + 11, (uint16_t)len);
	memcpy(out + 13, frag, len);
	return 13 + len;
}

static size_t ext(uint8_t *p, uint16_t type, const uint8_t *data, size_t len)
{
	sg_store_be16(p, type);
	sg_store_be16(p + 2, (uint16_t)len);
	if (len)
		memcpy(p + 4, data, len);
	return 4 + len;
}

size_t hc_client_hello(struct hc *c, uint8_t *out, size_t cap)
{
	uint8_t body[900], e[700], tmp[300];
	size_t n = 0, en = 0;
	unsigned ns = 0;

	/* client_version random session_id cookie (RFC 6347 §4.2.1) */
	sg_store_be16(body, c->o.version ? c->o.version : SG_DTLS_VERSION_1_2);
	n = 2;
	memcpy(body + n, c->random, 32);
	n += 32;
	body[n++] = c->session_id_len;
	memcpy(body + n, c->session_id, c->session_id_len);
	n += c->session_id_len;
	body[n++] = c->cookie_len;
	memcpy(body + n, c->cookie, c->cookie_len);
	n += c->cookie_len;
	while (ns < 8 && c->o.suites[ns])
		ns++;
	sg_store_be16(body + n, (uint16_t)(2 * (ns + (c->o.reneg_len < 0) + c->o.fallback_scsv)));
	n += 2;
	for (unsigned i = 0; i < ns; i++, n += 2)
		sg_store_be16(body + n, c->o.suites[i]);
	if (c->o.reneg_len < 0) {
		sg_store_be16(body + n, SG_TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
		n += 2;
	}
	if (c->o.fallback_scsv) {
		sg_store_be16(body + n, SG_TLS_FALLBACK_SCSV);
		n += 2;
	}
	body[n++] = 1;
	body[n++] = 0; /* null compression */

	if (!c->o.no_groups) {
		uint8_t g[6] = { 0, 4, 0, 29, 0, 23 };
		size_t gl = 6;

		if (c->o.group) {
			g[1] = 2;
			sg_store_be16(g + 2, c->o.group);
			gl = 4;
		}
		en += ext(e + en, SG_TLS_EXT_SUPPORTED_GROUPS, g, gl);
	}
	en += ext(e + en, SG_TLS_EXT_EC_POINT_FORMATS, (const uint8_t[]){ 1, 0 }, 2);
	if (!c->o.no_ems)
		en += ext(e + en, SG_TLS_EXT_EXTENDED_MASTER_SECRET, NULL, 0);
	if (c->o.reneg_len >= 0) {
		memset(tmp, 0xab, sizeof(tmp));
		tmp[0] = (uint8_t)c->o.reneg_len;
		en += ext(e + en, SG_TLS_EXT_RENEGOTIATION_INFO, tmp, 1 + (size_t)c->o.reneg_len);
	}
	if (c->o.sni) {
		size_t sl = strlen(c->o.sni);

		sg_store_be16(tmp, (uint16_t)(sl + 3));
		tmp[2] = 0;
		sg_store_be16(tmp + 3, (uint16_t)sl);
		memcpy(tmp + 5, c->o.sni, sl);
		en += ext(e + en, SG_TLS_EXT_SERVER_NAME, tmp, sl + 5);
	}
	if (c->o.cid) {
		tmp[0] = c->o.cid_len;
		memset(tmp + 1, 0xd0, c->o.cid_len);
		en += ext(e + en, SG_TLS_EXT_CONNECTION_ID, tmp, 1 + (size_t)c->o.cid_len);
	}
	if (c->o.rrc)
		en += ext(e + en, SG_TLS_EXT_RRC, NULL, 0);
	if (c->o.etm)
		en += ext(e + en, SG_TLS_EXT_ENCRYPT_THEN_MAC, NULL, 0);
	if (c->o.mfl)
		en += ext(e + en, SG_TLS_EXT_MAX_FRAGMENT_LENGTH, &c->o.mfl, 1);
	if (c->o.rsl) {
		sg_store_be16(tmp, c->o.rsl);
		en += ext(e + en, SG_TLS_EXT_RECORD_SIZE_LIMIT, tmp, 2);
	}
	if (c->o.ticket_ext)
		en += ext(e + en, SG_TLS_EXT_SESSION_TICKET, c->o.ticket, c->o.ticket_len);
	sg_store_be16(body + n, (uint16_t)en);
	n += 2;
	memcpy(body + n, e, en);
	n += en;

	/* One unfragmented handshake message in one record. */
	assert_true(n + 12 <= sizeof(last_ch));
	sg_hs_msg_hdr_write(last_ch, SG_TLS_HT_CLIENT_HELLO, (uint32_t)n, c->msg_seq);
	memcpy(last_ch + 12, body, n);
	last_ch_len = n + 12;
	c->msg_seq++;
	assert_true(cap >= last_ch_len + 13);
	return record(c, SG_DTLS_CT_HANDSHAKE, last_ch, last_ch_len, out);
}

/* Key block (RFC 5246 §6.3): [MAC keys (CBC)], write keys, [IVs (AEAD)]; rx = server write. */
static void derive(struct hc *c)
{
	struct sg_rec_sa_params p;
	enum sg_aead aead = (enum sg_aead)sg_suite_find(c->suite)->aead;
	unsigned ml = sg_aead_mac_key_len(aead), kl = sg_aead_key_len(aead),
	         il = sg_aead_iv_len(aead);
	uint8_t kb[96];
	const uint8_t *k = kb + 2 * ml;

	assert_true(2 * ml + 2 * kl + 2 * il <= sizeof(kb));
	assert_int_equal(sg_hs_prf(&c->crypto, (enum sg_hs_hash)c->hash, NULL, c->master, 48,
	                           SG_TLS_LABEL_KEY_EXPANSION, c->server_random, 32, c->random, 32,
	                           kb, 2 * ml + 2 * kl + 2 * il),
	                 0);
	p = (struct sg_rec_sa_params){
		.aead = aead,
		.epoch = 1,
		.flags = (uint8_t)((c->cid_ok && c->o.cid_len ? SG_SA_F_RX_CID : 0) |
		                   (c->cid_ok && c->server_cid_len ? SG_SA_F_TX_CID : 0) |
		                   (c->rrc_ok ? SG_SA_F_RRC : 0) | (c->etm_ok ? SG_SA_F_ETM : 0)),
		.rx_key = k + kl,
		.tx_key = k,
		.rx_iv = il ? k + 2 * kl + il : NULL,
		.tx_iv = il ? k + 2 * kl : NULL,
		.rx_mac = ml ? kb + ml : NULL,
		.tx_mac = ml ? kb : NULL,
	};
	assert_true(sg_rec_sa_size_for(64, aead) <= sizeof(c->sa_buf));
	assert_int_equal(sg_rec_sa_init((struct sg_rec_sa *)c->sa_buf, 64, &p), 0);
	sg_wipe(kb, sizeof(kb));
}

static void verify_data(struct hc *c, const char *label, uint8_t out[12])
{
	uint8_t h[48];

	sg_hs_transcript_peek(&c->transcript, h);
	assert_int_equal(sg_hs_prf(&c->crypto, (enum sg_hs_hash)c->hash, NULL, c->master, 48, label,
	                           h, sg_hs_hash_len((enum sg_hs_hash)c->hash), NULL, 0, out, 12),
	                 0);
}

static void on_server_hello(struct hc *c, const uint8_t *b, size_t len)
{
	const struct sg_suite *su;
	size_t off = 2;
	uint8_t sid_len;

	assert_true(len >= 38);
	memcpy(c->server_random, b + off, 32);
	off += 32;
	sid_len = b[off++];
	c->resumed = sid_len && sid_len == c->session_id_len &&
	             memcmp(b + off, c->session_id, sid_len) == 0;
	off += sid_len;
	c->suite = sg_load_be16(b + off);
	off += 3;
	su = sg_suite_find(c->suite);
	assert_non_null(su);
	c->hash = su->prf == SG_PRF_SHA384 ? SG_HS_SHA384 : SG_HS_SHA256;
	c->ecdhe = su->kx == SG_KX_ECDHE_PSK;
	if (off + 2 <= len) {
		size_t end = off + 2 + sg_load_be16(b + off);

		off += 2;
		while (off + 4 <= end) {
			uint16_t t = sg_load_be16(b + off);
			uint16_t l = sg_load_be16(b + off + 2);

			if (t == SG_TLS_EXT_EXTENDED_MASTER_SECRET)
				c->ems = true;
			if (t == SG_TLS_EXT_RRC) {
				assert_int_equal(l, 0); /* RFC 9853 §3: empty */
				c->rrc_ok = true;
			}
			if (t == SG_TLS_EXT_ENCRYPT_THEN_MAC) {
				assert_int_equal(l, 0); /* RFC 7366 §2: empty */
				c->etm_ok = true;
			}
			if (t == SG_TLS_EXT_CONNECTION_ID) {
				c->cid_ok = true;
				c->server_cid_len = b[off + 4];
				memcpy(c->server_cid, b + off + 5, c->server_cid_len);
			}
			off += 4 + l;
		}
	}
	/* The transcript starts at the ClientHello the server answered. */
	sg_hs_transcript_start(&c->transcript, (enum sg_hs_hash)c->hash);
	sg_hs_transcript_add(&c->transcript, last_ch, last_ch_len);
}

/* Server Finished inside an opened epoch-1 record. */
static void on_server_finished(struct hc *c, const uint8_t *msg, size_t len)
{
	uint8_t expect[12];

	assert_int_equal(len, 24);
	assert_int_equal(msg[0], SG_TLS_HT_FINISHED);
	verify_data(c, SG_TLS_LABEL_SERVER_FINISHED, expect);
	c->server_finished_ok = memcmp(expect, msg + 12, 12) == 0;
	sg_hs_transcript_add(&c->transcript, msg, len);
}

int hc_open(struct hc *c, const uint8_t *rec, size_t len, uint8_t *pt, size_t cap)
{
	uint8_t buf[HC_REC_MAX];
	struct sg_rec_open_op op;

	assert_true(len <= sizeof(buf));
	memcpy(buf, rec, len);
	op = (struct sg_rec_open_op){ .rec = buf,
		                      .rec_len = (uint32_t)len,
		                      .sa = (struct sg_rec_sa *)c->sa_buf };
	if (sg_rec_open_burst(c->rec, &op, 1) != 1 || op.pt_len > cap)
		return -1;
	memcpy(pt, buf + op.pt_off, op.pt_len);
	if (op.type == SG_DTLS_CT_ALERT && op.pt_len == 2)
		c->last_alert = pt[1];
	return (int)op.pt_len;
}

int hc_on_datagram(struct hc *c, const uint8_t *d, size_t len)
{
	struct sg_rec_hdr recs[16];
	unsigned n = sg_rec_parse(d, len, c->o.cid ? c->o.cid_len : 0, recs, 16);
	int what = 0;
	bool shd = false;

	for (unsigned i = 0; i < n; i++) {
		const struct sg_rec_hdr *r = &recs[i];
		const uint8_t *f = d + r->off + r->hdr_len;

		assert_int_equal(r->status, SG_REC_OK);
		if (r->epoch == 1) {
			uint8_t pt[1024];
			int m = hc_open(c, d + r->off, r->len, pt, sizeof(pt));

			if (m < 0)
				return 0;
			if (c->last_alert && m == 2)
				return 'A';
			on_server_finished(c, pt, (size_t)m);
			if (c->resumed) {
				what = 'R';
			} else {
				what = 'F';
			}
			continue;
		}
		if (r->type == SG_DTLS_CT_ALERT) {
			c->last_alert = f[1];
			return 'A';
		}
		if (r->type == SG_DTLS_CT_CHANGE_CIPHER_SPEC)
			continue;
		if (r->type != SG_DTLS_CT_HANDSHAKE)
			continue;
		for (size_t off = 0; off < r->frag_len;) {
			struct sg_hs_msg_hdr h;
			int m = sg_hs_msg_hdr_parse(f + off, r->frag_len - off, &h);
			const uint8_t *msg = f + off, *b = msg + 12;

			assert_true(m > 0);
			assert_int_equal(h.frag_len, h.length); /* tests use unfragmented flights */
			off += (size_t)m;
			switch (h.type) {
			case SG_TLS_HT_HELLO_VERIFY_REQUEST:
				c->cookie_len = b[2];
				memcpy(c->cookie, b + 3, c->cookie_len);
				return 'V';
			case SG_TLS_HT_SERVER_HELLO:
				on_server_hello(c, b, h.length);
				sg_hs_transcript_add(&c->transcript, msg, (size_t)m);
				if (c->resumed) {
					memcpy(c->master, c->o.resume_master, 48);
					derive(c);
				}
				break;
			case SG_TLS_HT_SERVER_KEY_EXCHANGE: {
				size_t hint = sg_load_be16(b);

				if (c->ecdhe) {
					c->ske_group = sg_load_be16(b + 2 + hint + 1);
					c->ske_point_len = b[2 + hint + 3];
					memcpy(c->ske_point, b + 2 + hint + 4, c->ske_point_len);
				}
				sg_hs_transcript_add(&c->transcript, msg, (size_t)m);
				break;
			}
			case SG_TLS_HT_SERVER_HELLO_DONE:
				sg_hs_transcript_add(&c->transcript, msg, (size_t)m);
				shd = true;
				break;
			case SG_TLS_HT_NEW_SESSION_TICKET:
				c->ticket_len = sg_load_be16(b + 4);
				memcpy(c->ticket, b + 6, c->ticket_len);
				sg_hs_transcript_add(&c->transcript, msg, (size_t)m);
				break;
			default:
				break;
			}
		}
	}
	if (shd)
		return 'H';
	return what;
}

size_t hc_rec_cke(struct hc *c, uint8_t *out, size_t cap)
{
	const char *id = c->o.identity;
	size_t il = strlen(id), n = 0;
	uint8_t msg[400], pms[2 + 64 + 2 + 64], other[32]; /* plain PSK: other = psk_len */
	struct sg_hs_ecdh_key k;
	size_t ol, pn = 0;

	assert_true(cap > 300);
	sg_store_be16(msg + 12, (uint16_t)il);
	memcpy(msg + 14, id, il);
	n = 2 + il;
	if (c->ecdhe) {
		enum sg_hs_group g =
		        c->ske_group == SG_TLS_GROUP_X25519 ? SG_HS_GROUP_X25519 : SG_HS_GROUP_P256;

		assert_int_equal(sg_hs_ecdh_keygen(&c->ecdh, &c->crypto, g, 0, &k), 0);
		msg[12 + n++] = k.pub_len;
		memcpy(msg + 12 + n, k.pub, k.pub_len);
		n += k.pub_len;
		assert_int_equal(
		        sg_hs_ecdh_derive(&c->ecdh, &k, c->ske_point, c->ske_point_len, other), 0);
		sg_hs_ecdh_clear(&k);
		ol = 32;
	} else {
		ol = c->o.psk_len;
		memset(other, 0, sizeof(other));
	}
	sg_hs_msg_hdr_write(msg, SG_TLS_HT_CLIENT_KEY_EXCHANGE, (uint32_t)n, c->msg_seq++);
	sg_hs_transcript_add(&c->transcript, msg, 12 + n);
	/* RFC 4279 §2 / RFC 5489 §2 premaster */
	sg_store_be16(pms, (uint16_t)ol);
	pn = 2;
	if (c->ecdhe)
		memcpy(pms + pn, other, ol);
	else
		memset(pms + pn, 0, ol);
	pn += ol;
	sg_store_be16(pms + pn, c->o.psk_len);
	pn += 2;
	memcpy(pms + pn, c->o.psk, c->o.psk_len);
	pn += c->o.psk_len;
	if (c->ems) {
		uint8_t h[48];

		sg_hs_transcript_peek(&c->transcript, h);
		assert_int_equal(sg_hs_prf(&c->crypto, (enum sg_hs_hash)c->hash, NULL, pms, pn,
		                           SG_TLS_LABEL_EXTENDED_MASTER_SECRET, h,
		                           sg_hs_hash_len((enum sg_hs_hash)c->hash), NULL, 0,
		                           c->master, 48),
		                 0);
	} else {
		assert_int_equal(sg_hs_prf(&c->crypto, (enum sg_hs_hash)c->hash, NULL, pms, pn,
		                           SG_TLS_LABEL_MASTER_SECRET, c->random, 32,
		                           c->server_random, 32, c->master, 48),
		                 0);
	}
	derive(c);
	return record(c, SG_DTLS_CT_HANDSHAKE, msg, 12 + n, out);
}

size_t hc_rec_ccs(struct hc *c, uint8_t *out, size_t cap)
{
	assert_true(cap >= 14);
	return record(c, SG_DTLS_CT_CHANGE_CIPHER_SPEC, (const uint8_t[]){ 1 }, 1, out);
}

static size_t seal(struct hc *c, uint8_t type, const uint8_t *pt, size_t len, uint8_t *out,
                   size_t cap)
{
	return h_seal_record(c->rec, (struct sg_rec_sa *)c->sa_buf, c->server_cid,
	                     c->server_cid_len, type, pt, len, out, cap);
}

size_t hc_rec_finished(struct hc *c, uint8_t *out, size_t cap, bool bad_finished)
{
	uint8_t msg[24];

	sg_hs_msg_hdr_write(msg, SG_TLS_HT_FINISHED, 12, c->msg_seq++);
	verify_data(c, SG_TLS_LABEL_CLIENT_FINISHED, msg + 12);
	sg_hs_transcript_add(&c->transcript, msg, 24);
	if (bad_finished)
		msg[12] ^= 0x01;
	memcpy(c->finished, msg, sizeof(c->finished));
	return seal(c, SG_DTLS_CT_HANDSHAKE, msg, 24, out, cap);
}

size_t hc_rec_finished_again(struct hc *c, uint8_t *out, size_t cap)
{
	return seal(c, SG_DTLS_CT_HANDSHAKE, c->finished, sizeof(c->finished), out, cap);
}

size_t hc_rec_app(struct hc *c, const uint8_t *pt, size_t len, uint8_t *out, size_t cap)
{
	return seal(c, SG_DTLS_CT_APPLICATION_DATA, pt, len, out, cap);
}

size_t hc_rec_sealed(struct hc *c, uint8_t type, const uint8_t *pt, size_t len, uint8_t *out,
                     size_t cap)
{
	return seal(c, type, pt, len, out, cap);
}

int hc_drain(struct hc *c, struct harness *h)
{
	int what = 0;

	for (unsigned i = 0; i < h->n_out; i++) {
		int w = hc_on_datagram(c, h->out[i], h->out_len[i]);

		if (w)
			what = w;
	}
	h->n_out = 0;
	return what;
}

int hc_handshake(struct hc *c, struct harness *h)
{
	uint8_t d[2048];
	size_t n;
	int w = hc_to_flight4(c, h);

	if (w == 'R') {
		if (!c->server_finished_ok)
			return -1;
		n = hc_rec_ccs(c, d, sizeof(d));
		n += hc_rec_finished(c, d + n, sizeof(d) - n, false);
		h_input(h, d, n);
		return hc_drain(c, h) == 'A' ? -1 : 0;
	}
	if (w != 'H')
		return -1;
	h_input(h, d, hc_flight5(c, d, sizeof(d), false));
	w = hc_drain(c, h);
	return w == 'F' && c->server_finished_ok ? 0 : -1;
}

struct hc_opts hc_psk_opts(uint16_t suite)
{
	struct hc_opts o = {
		.suites = { suite },
		.reneg_len = -1,
		.identity = H_PSK_IDENTITY,
		.psk = h_psks[0].key,
		.psk_len = h_psks[0].key_len,
	};

	return o;
}

int hc_to_flight4(struct hc *c, struct harness *h)
{
	uint8_t d[2048];
	size_t n = hc_client_hello(c, d, sizeof(d));
	int w;

	h->capture = true;
	h_input(h, d, n);
	w = hc_drain(c, h);
	if (w == 'V') {
		n = hc_client_hello(c, d, sizeof(d));
		h_input(h, d, n);
		w = hc_drain(c, h);
	}
	return w;
}

size_t hc_flight5(struct hc *c, uint8_t *d, size_t cap, bool bad_finished)
{
	size_t n = hc_rec_cke(c, d, cap);

	n += hc_rec_ccs(c, d + n, cap - n);
	n += hc_rec_finished(c, d + n, cap - n, bad_finished);
	return n;
}

/* RFC 7685: an extension the engine does not know, ignored (RFC 5246 §7.4.1.4). */
#define EXT_PADDING 21

size_t hc_padded_hello(uint8_t *out, size_t len)
{
	/* body: version random session_id(0) cookie(0) suites(2) compression(1) extensions */
	static const uint8_t fixed[] = { 0xfe, 0xfd };
	const size_t body_fixed = 2 + 32 + 1 + 1 + 2 + 4 + 2 + 2 + 4;
	size_t body, pad, n = 0;
	uint8_t *b;

	assert_true(len >= SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN + body_fixed);
	body = len - SG_DTLS_HDR_LEN - SG_DTLS_HS_HDR_LEN;
	pad = body - body_fixed;
	assert_true(pad <= 0xffff - 4);
	memset(out, 0, len);
	out[0] = SG_DTLS_CT_HANDSHAKE;
	sg_store_be16(out + 1, SG_DTLS_VERSION_1_2);
	sg_store_be16(out + 11, (uint16_t)(len - SG_DTLS_HDR_LEN));
	sg_hs_msg_hdr_write(out + SG_DTLS_HDR_LEN, SG_TLS_HT_CLIENT_HELLO, (uint32_t)body, 0);
	b = out + SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN;
	memcpy(b, fixed, 2);
	n = 2;
	memset(b + n, 0x5a, 32); /* random */
	n += 32;
	b[n++] = 0; /* session_id */
	b[n++] = 0; /* cookie */
	sg_store_be16(b + n, 4);
	sg_store_be16(b + n + 2, SG_TLS_PSK_WITH_AES_128_CCM_8);
	sg_store_be16(b + n + 4, SG_TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
	n += 6;
	b[n++] = 1;
	b[n++] = 0; /* null compression */
	sg_store_be16(b + n, (uint16_t)(4 + pad));
	sg_store_be16(b + n + 2, EXT_PADDING);
	sg_store_be16(b + n + 4, (uint16_t)pad); /* zeros (RFC 7685 §3) */
	return len;
}

/* The scripted client's end of the socketpair, for h_data_both_ways(). */
struct hc_end {
	struct hc *c;
	int fd;
};

static long hc_end_send(void *ctx, const void *pt, size_t len)
{
	struct hc_end *e = ctx;
	uint8_t rec[HC_REC_MAX];
	size_t n = hc_rec_app(e->c, pt, len, rec, sizeof(rec));

	return send(e->fd, rec, n, 0) == (ssize_t)n ? (long)len : -1;
}

static long hc_end_recv(void *ctx, void *buf, size_t cap)
{
	struct hc_end *e = ctx;
	uint8_t rec[HC_REC_MAX];
	ssize_t n = recv(e->fd, rec, sizeof(rec), MSG_DONTWAIT);

	return n > 0 ? hc_open(e->c, rec, (size_t)n, buf, cap) : -1;
}

void hc_data_both_ways(struct hc *c, struct harness *h)
{
	struct hc_end e = { c, h->fd[0] };
	const struct h_client client = { &e, hc_end_send, hc_end_recv };

	h_data_both_ways(h, &client, "uplink", "downlink");
}
