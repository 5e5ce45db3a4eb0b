/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake engine against a sender that can spoof a device's address
 * but not read its traffic (issue 12, items 4 and 7):
 *
 *  - amplification, measured as bytes through ops.send over bytes fed to
 *    sg_hs_input(): a spoofed ClientHello run to its timeout, the same hello
 *    replayed, an epoch-0 "ClientKeyExchange" after completion, the
 *    stateless replies; a genuine retransmitted final flight still gets our
 *    flight once, a replay of it nothing;
 *  - off-path abort: forged records (epoch-0 alerts, malformed CCS, messages
 *    out of order, bad key exchanges, conflicting fragments, garbage epoch-1
 *    records before and after the key exchange, a spoofed hello) interleaved
 *    with OpenSSL's DTLS client and with the scripted client: the handshake
 *    completes and data flows both ways;
 *  - what must still end a handshake: a wrong key or an unknown identity
 *    (decrypt_error, the same way for both), an authenticated alert;
 *  - a 64-byte PSK; every datagram in exactly one outcome counter; the
 *    memory of a linger entry.
 *
 * RFC 6347 §4.1.2.7 (invalid records are discarded), §4.2.4 (retransmission),
 * RFC 9147 §5.1 (no amplification before the address is proven).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/dtls.h>

#include "hs_client.h"
#include "hs_codec.h"
#include "hs_harness.h"
#include "hs_linger.h"
#include "hs_ossl.h"

/* ---- measuring (the harness counts datagrams and bytes in and out) ----------------------- */

/* A counter by the name the control socket reports it under. */
static uint64_t cnt_of(const struct sg_hs_stats *st, const char *name)
{
	for (int i = 0; i < SG_HS_C_MAX; i++)
		if (strcmp(sg_hs_counter_name((enum sg_hs_counter)i), name) == 0)
			return st->c[i];
	fail_msg("no counter named %s", name);
	return 0;
}

static uint64_t cnt(struct harness *h, const char *name)
{
	struct sg_hs_stats st;

	sg_hs_stats_get(h->e, &st);
	return cnt_of(&st, name);
}

static uint32_t in_flight(struct harness *h)
{
	struct sg_hs_stats st;

	sg_hs_stats_get(h->e, &st);
	return st.in_flight;
}

/*
 * Every timer run in turn until no handshake holds state (at most 100
 * rounds); h->out keeps what the last one sent.
 */
static void run_timers(struct harness *h)
{
	for (int t = 0; t < 100 && in_flight(h); t++) {
		h->n_out = 0;
		h->now.mono_ms = sg_hs_next_deadline(h->e);
		sg_hs_tick(h->e, h->now);
	}
}

/* Every datagram fed ends in exactly one outcome counter. */
static void assert_outcomes(struct harness *h)
{
	assert_int_equal(h_dgram_outcomes(h), h->in_dgrams);
}

/* No failure counter moved: nothing ended a handshake with an alert. */
static void assert_no_failure(struct harness *h)
{
	for (int k = SG_HS_C_FAIL_PROTOCOL_VERSION; k < SG_HS_C_MAX; k++)
		if (h_count(h, (enum sg_hs_counter)k) != 0)
			fail_msg("%s = %lu", sg_hs_counter_name((enum sg_hs_counter)k),
			         (unsigned long)h_count(h, (enum sg_hs_counter)k));
	assert_int_equal(h_count(h, SG_HS_C_PEER_ALERT), 0);
}

/* The end of a test: every datagram fed ended in one outcome counter; c and h freed. */
static void finish(struct harness *h, struct hc *c)
{
	assert_outcomes(h);
	hc_free(c);
	h_stop(h);
}

/*
 * The end of a handshake that completed as if nothing had been forged: data
 * flows both ways, no failure was counted; finish().
 */
static void finish_clean(struct harness *h, struct hc *c)
{
	hc_data_both_ways(c, h);
	assert_no_failure(h);
	finish(h, c);
}

/* ---- forging -----------------------------------------------------------------------------------
 */

/* One DTLS 1.2 record (RFC 6347 §4.1); with cid, a tls12_cid one (RFC 9146 §4). */
static size_t rec(uint8_t *out, uint8_t type, uint16_t epoch, uint64_t seq, const uint8_t *cid,
                  size_t cid_len, const uint8_t *frag, size_t len)
{
	size_t h = SG_DTLS_HDR_LEN + cid_len;

	out[0] = cid_len ? SG_DTLS_CT_TLS12_CID : type;
	sg_store_be16(out + 1, SG_DTLS_VERSION_1_2);
	sg_store_be16(out + 3, epoch);
	sg_store_be48(out + 5, seq);
	if (cid_len)
		memcpy(out + SG_DTLS_HDR_OFF_CID, cid, cid_len);
	sg_store_be16(out + h - 2, (uint16_t)len);
	memcpy(out + h, frag, len);
	return h + len;
}

/* A handshake message fragment: 12-byte header (RFC 6347 §4.2.2) and its bytes. */
static size_t hs_frag(uint8_t *out, uint8_t type, uint32_t length, uint16_t seq, uint32_t off,
                      const uint8_t *bytes, uint32_t n)
{
	struct sg_hs_msg_hdr mh = {
		.type = type, .length = length, .seq = seq, .frag_off = off, .frag_len = n
	};

	sg_hs_frag_hdr_write(out, &mh);
	if (n)
		memcpy(out + SG_DTLS_HS_HDR_LEN, bytes, n);
	return SG_DTLS_HS_HDR_LEN + n;
}

/* An engine with cookie_policy, in capture mode, and client c (options o) at flight 4. */
static void begin(struct harness *h, struct hc *c, const struct hc_opts *o, uint8_t cookie_policy)
{
	h_start_capture(h, cookie_policy);
	hc_init(c, o);
	assert_int_equal(hc_to_flight4(c, h), 'H');
}

/* What an off-path sender sends, one datagram each, in the client's name. */
enum {
	FG_ALERT = 1 << 0,       /* an epoch-0 fatal alert (handshake_failure) */
	FG_BAD_CCS = 1 << 1,     /* a ChangeCipherSpec of two bytes */
	FG_CERTIFICATE = 1 << 2, /* a Certificate where the ClientKeyExchange belongs */
	FG_FUTURE = 1 << 3,      /* an epoch-0 Finished, one message ahead */
	FG_GARBAGE = 1 << 4,     /* an epoch-1 handshake record of random bytes */
	FG_BAD_KX = 1 << 5,      /* a ClientKeyExchange whose identity runs past its end */
	FG_BAD_SHARE = 1 << 6,   /* ECDHE: a share off the curve (P-256) or of low order */
	FG_FRAGMENT = 1 << 7,    /* a ClientKeyExchange fragment that disagrees with the real one */
	FG_HELLO = 1 << 8,       /* a ClientHello with another random: a "restart" */
	FG_ALL = (1 << 9) - 1,
};

struct forger {
	uint16_t kx_seq;    /* message_seq of the client's ClientKeyExchange */
	uint16_t group;     /* the slot's NamedGroup; 0: plain PSK */
	const uint8_t *cid; /* our CID, in the client's epoch-1 records; NULL: none */
	uint8_t cid_len;
	uint64_t seq; /* record sequence numbers the forger uses */
};

static void forge(struct harness *h, unsigned what, struct forger *f)
{
	static const char id[] = H_PSK_IDENTITY;
	uint8_t d[1024], m[512], b[256];
	size_t n;

	if (what & FG_ALERT)
		h_input(h, d,
		        rec(d, SG_DTLS_CT_ALERT, 0, f->seq++, NULL, 0,
		            (const uint8_t[]){ SG_TLS_ALERT_FATAL, SG_TLS_ALERT_HANDSHAKE_FAILURE },
		            2));
	if (what & FG_BAD_CCS)
		h_input(h, d,
		        rec(d, SG_DTLS_CT_CHANGE_CIPHER_SPEC, 0, f->seq++, NULL, 0,
		            (const uint8_t[]){ 1, 1 }, 2));
	if (what & FG_CERTIFICATE) {
		n = hs_frag(m, SG_TLS_HT_CERTIFICATE, 3, f->kx_seq, 0, (const uint8_t[]){ 0, 0, 0 },
		            3);
		h_input(h, d, rec(d, SG_DTLS_CT_HANDSHAKE, 0, f->seq++, NULL, 0, m, n));
	}
	if (what & FG_FUTURE) {
		memset(b, 0x5a, SG_TLS_VERIFY_DATA_LEN);
		n = hs_frag(m, SG_TLS_HT_FINISHED, SG_TLS_VERIFY_DATA_LEN,
		            (uint16_t)(f->kx_seq + 1), 0, b, SG_TLS_VERIFY_DATA_LEN);
		h_input(h, d, rec(d, SG_DTLS_CT_HANDSHAKE, 0, f->seq++, NULL, 0, m, n));
	}
	if (what & FG_GARBAGE) {
		assert_int_equal(sg_hs_random(b, 48), 0);
		h_input(h, d, rec(d, SG_DTLS_CT_HANDSHAKE, 1, f->seq++, f->cid, f->cid_len, b, 48));
	}
	if (what & FG_BAD_KX) {
		/* identity length 80, one byte of it */
		n = hs_frag(m, SG_TLS_HT_CLIENT_KEY_EXCHANGE, 3, f->kx_seq, 0,
		            (const uint8_t[]){ 0, 80, 'x' }, 3);
		h_input(h, d, rec(d, SG_DTLS_CT_HANDSHAKE, 0, f->seq++, NULL, 0, m, n));
	}
	if ((what & FG_BAD_SHARE) && f->group) {
		/* The real identity, then u = 0 (X25519, RFC 7748 §6.1) or (0, 1) (P-256). */
		size_t pl = f->group == SG_TLS_GROUP_X25519 ? 32 : 65, bl = 0;

		sg_store_be16(b, (uint16_t)(sizeof(id) - 1));
		memcpy(b + 2, id, sizeof(id) - 1);
		bl = 2 + sizeof(id) - 1;
		b[bl++] = (uint8_t)pl;
		memset(b + bl, 0, pl);
		if (pl == 65) {
			b[bl] = 4;
			b[bl + 64] = 1;
		}
		bl += pl;
		n = hs_frag(m, SG_TLS_HT_CLIENT_KEY_EXCHANGE, (uint32_t)bl, f->kx_seq, 0, b,
		            (uint32_t)bl);
		h_input(h, d, rec(d, SG_DTLS_CT_HANDSHAKE, 0, f->seq++, NULL, 0, m, n));
	}
	if (what & FG_FRAGMENT) {
		assert_int_equal(sg_hs_random(b, 8), 0);
		n = hs_frag(m, SG_TLS_HT_CLIENT_KEY_EXCHANGE, 40, f->kx_seq, 0, b, 8);
		h_input(h, d, rec(d, SG_DTLS_CT_HANDSHAKE, 0, f->seq++, NULL, 0, m, n));
	}
	if (what & FG_HELLO) {
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
		struct hc spoof;

		hc_init(&spoof, &o);
		h_input(h, d, hc_client_hello(&spoof, d, sizeof(d)));
		hc_free(&spoof);
	}
}

/* ---- amplification ------------------------------------------------------------------------------
 */

struct amp_row {
	const char *name;
	uint16_t suite;
	uint16_t group;
	uint8_t hint_len; /* a PSK identity hint this long makes the flight bigger */
};

static const struct amp_row amp_rows[] = {
	{ "PSK", SG_TLS_PSK_WITH_AES_128_CCM_8, 0, 0 },
	{ "PSK, 128-byte identity hint", SG_TLS_PSK_WITH_AES_128_CCM_8, 0, 128 },
	{ "ECDHE-PSK X25519", SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256, SG_TLS_GROUP_X25519, 0 },
	{ "ECDHE-PSK P-256, 128-byte hint", SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256,
	  SG_TLS_GROUP_SECP256R1, 128 },
};

static void start_amp(struct harness *h, const struct amp_row *r, uint8_t cookies)
{
	h_prepare(h, cookies);
	h->conf.psk_hint_len = r->hint_len;
	memset(h->conf.psk_hint, 'h', r->hint_len);
	h_start(h);
	h->capture = true;
}

static struct hc_opts amp_opts(const struct amp_row *r)
{
	struct hc_opts o = hc_psk_opts(r->suite);

	o.group = r->group;
	return o;
}

/*
 * A spoofed ClientHello under cookie_mode under_load (below the threshold:
 * no cookie asked), never followed up, every timer run to the timeout: what
 * goes to the victim stays within 3x the hello.
 */
static void test_amp_spoofed_hello_to_timeout(void **state)
{
	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(amp_rows); i++) {
		struct hc_opts o = amp_opts(&amp_rows[i]);
		struct harness h;
		struct hc c;
		uint8_t d[2048];

		start_amp(&h, &amp_rows[i], SG_HS_COOKIE_UNDER_LOAD);
		hc_init(&c, &o);
		h_input(&h, d, hc_client_hello(&c, d, sizeof(d)));
		h.n_out = 0;
		assert_int_equal(in_flight(&h), 1);
		run_timers(&h);
		print_message("# %s: hello %lu B, sent %lu B in %lu datagrams (%.2fx)\n",
		              amp_rows[i].name, (unsigned long)h.in_bytes,
		              (unsigned long)h.out_bytes, (unsigned long)h.out_dgrams,
		              (double)h.out_bytes / (double)h.in_bytes);
		if (h.out_bytes > 3 * h.in_bytes)
			fail_msg("%s: %lu B out for %lu B in", amp_rows[i].name,
			         (unsigned long)h.out_bytes, (unsigned long)h.in_bytes);
		assert_int_equal(in_flight(&h), 0);
		assert_int_equal(h_count(&h, SG_HS_C_TIMEOUT), 1);
		assert_true(cnt(&h, "amplification_held") >= 1);
		finish(&h, &c);
	}
}

/*
 * A real client whose hello is too small for our flight (P-256 and a long
 * hint, under_load): the flight waits until the client repeats its hello
 * (as its timer makes it do), then the handshake completes; the Finished
 * proves the address, the final flight is not held.
 */
static void test_amp_flight_waits_for_repeated_hello(void **state)
{
	const struct amp_row *r = &amp_rows[3];
	struct hc_opts o = amp_opts(r);
	struct harness h;
	struct hc c;
	uint8_t ch[2048], d[2048];
	size_t nch;

	(void)state;
	start_amp(&h, r, SG_HS_COOKIE_UNDER_LOAD);
	hc_init(&c, &o);
	nch = hc_client_hello(&c, ch, sizeof(ch));
	h_input(&h, ch, nch);
	assert_int_equal(h.n_out, 0);
	assert_int_equal(cnt(&h, "amplification_held"), 1);
	h_input(&h, ch, nch);
	assert_int_equal(hc_drain(&c, &h), 'H');
	assert_true(h.out_bytes <= 3 * h.in_bytes);
	h_input(&h, d, hc_flight5(&c, d, sizeof(d), false));
	assert_int_equal(hc_drain(&c, &h), 'F');
	assert_true(c.server_finished_ok);
	assert_int_equal(h.n_installed, 1);
	assert_int_equal(cnt(&h, "amplification_held"), 1);
	hc_data_both_ways(&c, &h);
	finish(&h, &c);
}

/*
 * The same hello replayed every 100 ms for 20 s: one resend per
 * retransmission period (the first one on the client's word, then our
 * timer's at 1, 3, 7 and 15 s), the rest dropped and counted; with the
 * address unproven, within 3x overall. Then with a cookie (proven): fifty
 * replays inside one period earn one resend.
 */
static void test_amp_replayed_hello(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	struct harness h;
	struct hc c;
	uint8_t ch[2048];
	size_t nch;

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_UNDER_LOAD);
	hc_init(&c, &o);
	nch = hc_client_hello(&c, ch, sizeof(ch));
	h_input(&h, ch, nch);
	h.n_out = 0;
	for (int i = 0; i < 200; i++) {
		h_advance(&h, 100);
		h_input(&h, ch, nch);
		h.n_out = 0;
	}
	print_message("# 201 hellos, %lu B: %lu datagrams, %lu B back (%.2fx)\n",
	              (unsigned long)h.in_bytes, (unsigned long)h.out_dgrams,
	              (unsigned long)h.out_bytes, (double)h.out_bytes / (double)h.in_bytes);
	assert_int_equal(h.out_dgrams, 6);
	assert_true(h.out_bytes <= 3 * h.in_bytes);
	assert_int_equal(h_count(&h, SG_HS_C_RETRANSMIT_PEER), 1);
	assert_int_equal(h_count(&h, SG_HS_C_RETRANSMIT_TIMER), 4);
	assert_int_equal(cnt(&h, "drop_duplicate"), 199);
	finish(&h, &c);

	h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
	hc_init(&c, &o);
	h_input(&h, ch, hc_client_hello(&c, ch, sizeof(ch)));
	assert_int_equal(hc_drain(&c, &h), 'V');
	nch = hc_client_hello(&c, ch, sizeof(ch));
	h_input(&h, ch, nch);
	assert_int_equal(hc_drain(&c, &h), 'H');
	h.out_dgrams = 0;
	for (int i = 0; i < 50; i++) {
		h_advance(&h, 10);
		h_input(&h, ch, nch);
		h.n_out = 0;
	}
	assert_int_equal(h.out_dgrams, 1);
	assert_int_equal(h_count(&h, SG_HS_C_RETRANSMIT_PEER), 1);
	assert_int_equal(cnt(&h, "drop_duplicate"), 49);
	finish(&h, &c);
}

/*
 * A full handshake with the scripted client; cke (512 bytes) gets its
 * ClientKeyExchange record, f5 (2048 bytes) its final flight (CKE, CCS,
 * Finished).
 */
static void complete(struct harness *h, struct hc *c, uint8_t *cke, size_t *ncke, uint8_t *f5,
                     size_t *nf5)
{
	size_t n;

	assert_int_equal(hc_to_flight4(c, h), 'H');
	*ncke = hc_rec_cke(c, cke, 512);
	memcpy(f5, cke, *ncke);
	n = *ncke;
	n += hc_rec_ccs(c, f5 + n, 2048 - n);
	n += hc_rec_finished(c, f5 + n, 2048 - n, false);
	*nf5 = n;
	h_input(h, f5, n);
	assert_int_equal(hc_drain(c, h), 'F');
	assert_int_equal(h->n_installed, 1);
}

/*
 * After a handshake completed: a 25-byte epoch-0 record typed
 * ClientKeyExchange, which anyone can send, gets nothing (it used to earn
 * the 255-byte final flight for 30 s), nor does the client's own final
 * flight replayed.
 */
static void test_amp_kx_after_completion(void **state)
{
	static const uint8_t body[1];
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	uint8_t cke[512], f5[2048], d[64], m[32];
	size_t ncke, nf5, n;
	struct harness h;
	struct hc c;
	uint64_t in0, out0;

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_UNDER_LOAD);
	o.ticket_ext = true; /* a NewSessionTicket in the final flight, as OpenSSL gets */
	hc_init(&c, &o);
	complete(&h, &c, cke, &ncke, f5, &nf5);
	print_message("# final flight %zu B\n", h.out_len[0]);
	in0 = h.in_bytes;
	out0 = h.out_bytes;
	n = rec(d, SG_DTLS_CT_HANDSHAKE, 0, 7, NULL, 0, m,
	        hs_frag(m, SG_TLS_HT_CLIENT_KEY_EXCHANGE, 0, 1, 0, body, 0));
	assert_int_equal(n, 25);
	for (int i = 0; i < 100; i++) {
		h_input(&h, d, n);
		h.n_out = 0;
	}
	h_input(&h, f5, nf5);
	h.n_out = 0;
	print_message("# after completion: %lu B in, %lu B out\n",
	              (unsigned long)(h.in_bytes - in0), (unsigned long)(h.out_bytes - out0));
	assert_int_equal(h.out_bytes, out0);
	assert_int_equal(h_count(&h, SG_HS_C_LINGER_RESENT), 0);
	assert_int_equal(cnt(&h, "drop_unauthenticated"), 100);
	assert_int_equal(cnt(&h, "drop_duplicate"), 1);
	finish(&h, &c);
}

/*
 * Stateless replies stay within 3x of the datagram they answer (the engine
 * checks it before sending; the build asserts the worst case).
 */
static void test_amp_stateless_replies(void **state)
{
	enum { HELLO, GARBLED, DTLS10, BAD_COOKIE, N };

	(void)state;
	for (int k = 0; k < N; k++) {
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
		struct harness h;
		struct hc c;
		uint8_t d[2048], m[16];
		size_t n;

		o.no_groups = true;
		if (k == DTLS10)
			o.version = SG_DTLS_VERSION_1_0;
		h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
		hc_init(&c, &o);
		if (k == BAD_COOKIE) {
			h_input(&h, d, hc_client_hello(&c, d, sizeof(d)));
			assert_int_equal(hc_drain(&c, &h), 'V');
			c.cookie[3] ^= 1;
			h.out_dgrams = h.out_bytes = 0;
		}
		if (k == GARBLED) /* a hello of no bytes: decode_error */
			n = rec(d, SG_DTLS_CT_HANDSHAKE, 0, 0, NULL, 0, m,
			        hs_frag(m, SG_TLS_HT_CLIENT_HELLO, 0, 0, 0, NULL, 0));
		else
			n = hc_client_hello(&c, d, sizeof(d));
		h_input(&h, d, n);
		print_message("# stateless reply %d: %zu B for %zu B\n", k, (size_t)h.out_bytes, n);
		assert_int_equal(h.out_dgrams, 1);
		assert_true(h.out_bytes <= 3 * n);
		assert_int_equal(in_flight(&h), 0);
		hc_free(&c);
		h_stop(&h);
	}
}

/* ---- the lingering final flight (RFC 6347 §4.2.4) ----------------------------------------------
 */

/*
 * The highest record number of each epoch in datagram d as client c parses
 * it (top[epoch]), and the plaintext of its epoch-1 record opened with c's
 * keys into pt (24 bytes: our Finished); -1 when it does not open (a
 * replay or a forgery in c's window).
 */
static int flight_seen(struct hc *c, const uint8_t *d, size_t n, uint64_t top[2], uint8_t *pt)
{
	struct sg_rec_hdr r[8];
	unsigned k = sg_rec_parse(d, n, c->o.cid ? c->o.cid_len : 0, r, 8);
	int m = -1;

	top[0] = top[1] = 0;
	for (unsigned i = 0; i < k; i++) {
		assert_int_equal(r[i].status, SG_REC_OK);
		assert_true(r[i].epoch <= 1);
		if (r[i].seq > top[r[i].epoch])
			top[r[i].epoch] = r[i].seq;
		if (r[i].epoch == 1)
			m = hc_open(c, d + r[i].off, r[i].len, pt, 64);
	}
	return m;
}

/*
 * A resent final flight (d, n) as client c sees it (RFC 6347 §4.1, §4.2.4):
 * as long as the first, every record under a number above those of the
 * flights before (top, updated), our Finished fresh in c's window and the
 * same message as the first one (fin_pt).
 */
static void assert_resent(struct hc *c, const uint8_t *d, size_t n, size_t nfirst, uint64_t top[2],
                          const uint8_t *fin_pt)
{
	uint64_t now[2];
	uint8_t pt[64];

	assert_int_equal(n, nfirst);
	assert_int_equal(flight_seen(c, d, n, now, pt),
	                 SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN);
	assert_memory_equal(pt, fin_pt, SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN);
	assert_true(now[0] > top[0]);
	assert_true(now[1] > top[1]);
	top[0] = now[0];
	top[1] = now[1];
}

/*
 * Our final flight lost: the client repeats its flight, the Finished under a
 * new record number; our flight goes again once, in new records (our
 * Finished sealed anew: no (key, nonce) twice on the wire), which the client
 * opens. The same datagram replayed, the original flight replayed, or a new
 * retransmission within rto_initial_ms get nothing; after it, the flight
 * goes again, in newer records still. With CIDs the Finished is a tls12_cid
 * record; with CBC-SHA256 (issue 17, encrypt-then-MAC or MAC-then-encrypt)
 * the linger entry reseals it with the MAC keys it kept.
 */
static void test_linger_retransmitted_finished(void **state)
{
	static const struct {
		uint16_t suite;
		bool cid, etm;
	} rows[] = {
		{ SG_TLS_PSK_WITH_AES_128_CCM_8, false, false },
		{ SG_TLS_PSK_WITH_AES_128_CCM_8, true, false },
		{ SG_TLS_PSK_WITH_AES_128_CBC_SHA256, false, true },
		{ SG_TLS_PSK_WITH_AES_128_CBC_SHA256, false, false },
	};

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct hc_opts o = hc_psk_opts(rows[i].suite);
		uint8_t cke[512], f5[2048], fin[2048], again[2048], d[2048], fin_pt[64];
		size_t ncke, nf5, nfin, nagain, n;
		uint64_t top[2];
		struct harness h;
		struct hc c, c0;
		int cid = rows[i].cid;

		o.etm = rows[i].etm;
		o.cid = cid;
		o.cid_len = 4;
		begin(&h, &c, &o, SG_HS_COOKIE_ALWAYS);
		ncke = hc_rec_cke(&c, cke, sizeof(cke));
		memcpy(f5, cke, ncke);
		nf5 = ncke + hc_rec_ccs(&c, f5 + ncke, sizeof(f5) - ncke);
		nf5 += hc_rec_finished(&c, f5 + nf5, sizeof(f5) - nf5, false);
		h_input(&h, f5, nf5);
		assert_int_equal(h.n_out, 1);
		nfin = h.out_len[0];
		memcpy(fin, h.out[0], nfin);
		memcpy(&c0, &c, sizeof(c0)); /* the client's keys, before it saw our flight */
		assert_int_equal(hc_drain(&c, &h), 'F');
		assert_int_equal(flight_seen(&c0, fin, nfin, top, fin_pt),
		                 SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN);
		assert_int_equal(fin_pt[0], SG_TLS_HT_FINISHED);
		assert_int_equal(c.etm_ok, rows[i].etm);
		/* The client's window holds our Finished now: the same bytes again would not open.
		 */
		{
			uint64_t t2[2];
			uint8_t pt2[64];

			assert_int_equal(flight_seen(&c, fin, nfin, t2, pt2), -1);
		}

		memcpy(again, cke, ncke);
		nagain = ncke + hc_rec_ccs(&c, again + ncke, sizeof(again) - ncke);
		n = hc_rec_finished_again(&c, again + nagain, sizeof(again) - nagain);
		assert_int_equal(again[nagain], cid ? SG_DTLS_CT_TLS12_CID : SG_DTLS_CT_HANDSHAKE);
		nagain += n;
		h_input(&h, again, nagain);
		assert_int_equal(h.n_out, 1);
		assert_resent(&c, h.out[0], h.out_len[0], nfin, top, fin_pt);
		h.n_out = 0;

		h_input(&h, again, nagain); /* replayed */
		h_input(&h, f5, nf5);       /* the first one, replayed */
		memcpy(d, cke, ncke);
		n = ncke + hc_rec_finished_again(&c, d + ncke, sizeof(d) - ncke);
		h_input(&h, d, n); /* genuine, but within rto_initial_ms */
		assert_int_equal(h.n_out, 0);
		assert_int_equal(cnt(&h, "drop_duplicate"), 3);

		h_advance(&h, 1000);
		n = ncke + hc_rec_finished_again(&c, d + ncke, sizeof(d) - ncke);
		h_input(&h, d, n);
		assert_int_equal(h.n_out, 1);
		assert_resent(&c, h.out[0], h.out_len[0], nfin, top, fin_pt);
		assert_int_equal(h_count(&h, SG_HS_C_LINGER_RESENT), 2);
		assert_int_equal(h.n_installed, 1);
		/* The session's own records come after every number the engine used. */
		assert_true(sg_rec_sa_tx_seq(h.sess.res.sa) > top[1]);
		finish(&h, &c);
	}
}

/*
 * The resend path a CID session takes in the daemon (its worker opens the
 * device's Finished and reports it, sg_hs_finished_again()), as often as
 * the engine will: each resend in newer records, our Finished fresh for the
 * client every time; then LINGER_RESENDS are spent (linger_spent, nothing
 * sent, -ENOSPC). The installed session's first record (what its worker
 * seals) is numbered past them all and opens at the client too: the engine
 * and the worker never sealed under the same number.
 */
static void test_linger_resends_spent(void **state)
{
	(void)state;
	for (int cid = 0; cid < 2; cid++) {
		struct hc_opts o = hc_psk_opts(cid ? SG_TLS_PSK_WITH_AES_128_GCM_SHA256
		                                   : SG_TLS_PSK_WITH_AES_128_CCM_8);
		uint8_t cke[512], f5[2048], fin[2048], rec[256], fin_pt[64], pt[64];
		size_t nf5, nfin, n;
		uint64_t top[2];
		struct sg_rec_hdr r[2];
		struct harness h;
		struct hc c, c0;

		o.cid = cid;
		o.cid_len = 4;
		begin(&h, &c, &o, SG_HS_COOKIE_ALWAYS);
		nf5 = hc_rec_cke(&c, cke, sizeof(cke));
		memcpy(f5, cke, nf5);
		nf5 += hc_rec_ccs(&c, f5 + nf5, sizeof(f5) - nf5);
		nf5 += hc_rec_finished(&c, f5 + nf5, sizeof(f5) - nf5, false);
		h_input(&h, f5, nf5);
		assert_int_equal(h.n_out, 1);
		nfin = h.out_len[0];
		memcpy(fin, h.out[0], nfin);
		memcpy(&c0, &c, sizeof(c0));
		assert_int_equal(hc_drain(&c, &h), 'F');
		assert_int_equal(flight_seen(&c0, fin, nfin, top, fin_pt),
		                 SG_DTLS_HS_HDR_LEN + SG_TLS_VERIFY_DATA_LEN);

		for (unsigned k = 0; k < LINGER_RESENDS; k++) {
			assert_int_equal(sg_hs_finished_again(h.e, h.now, &h.peer), 0);
			assert_int_equal(h.n_out, 1);
			assert_resent(&c, h.out[0], h.out_len[0], nfin, top, fin_pt);
			h.n_out = 0;
			h_advance(&h, SG_DTLS_RTO_INITIAL_MS);
		}
		assert_int_equal(h_count(&h, SG_HS_C_LINGER_RESENT), LINGER_RESENDS);
		assert_int_equal(sg_hs_finished_again(h.e, h.now, &h.peer), -ENOSPC);
		assert_int_equal(h.n_out, 0);
		assert_int_equal(cnt(&h, "linger_spent"), 1);

		/* The session's worker seals its first record: past every number used. */
		assert_int_equal(sg_rec_sa_tx_seq(h.sess.res.sa), top[1] + 1);
		n = h_seal_record(h.rec, (struct sg_rec_sa *)h.sess.sa_buf, h.sess.res.peer_cid,
		                  h.sess.res.peer_cid_len, SG_DTLS_CT_APPLICATION_DATA,
		                  (const uint8_t *)"down", 4, rec, sizeof(rec));
		assert_int_equal(sg_rec_parse(rec, n, cid ? o.cid_len : 0, r, 2), 1);
		assert_true(r[0].seq > top[1]);
		assert_int_equal(hc_open(&c, rec, n, pt, sizeof(pt)), 4);
		assert_memory_equal(pt, "down", 4);
		finish(&h, &c);
	}
}

/* OpenSSL's flight-5 retransmission timer, short, so the test need not wait a second. */
static unsigned int short_timer(SSL *ssl, unsigned int timer_us)
{
	(void)ssl;
	return timer_us ? 2 * timer_us : 20000;
}

/* OpenSSL's client offering cipher (and groups), PSK from cc. */
static SSL *ossl_client(struct harness *h, const char *cipher, const char *groups,
                        struct ho_psk *cc)
{
	const struct ho_opts o = { .cipher = cipher, .groups = groups };

	return ho_client_new(h, &o, cc);
}

/*
 * OpenSSL's client, our final flight lost on the way: its timer resends
 * flight 5, each record in a datagram of its own (a new record number for
 * the Finished); the engine resends its final flight once, the handshake
 * completes and data flows. Twice: with every datagram reaching the engine
 * (the daemon's data plane punts a datagram that starts with a handshake
 * record in any epoch), and as for a CID session in the daemon, whose worker
 * opens the Finished itself and reports it (sg_hs_finished_again); the key
 * exchange and CCS alone earn nothing. Replays get nothing.
 */
static void test_linger_openssl_retransmission(void **state)
{
	(void)state;
	for (int daemon = 0; daemon < 2; daemon++) {
		struct ho_psk cc = ho_psk_of(&h_psks[0]);
		uint8_t f5[2048], again[2048], d[2048];
		size_t nf5 = 0, nagain = 0, n;
		struct sg_hs_stats before;
		struct harness h;
		SSL *ssl;
		int done = 0;

		h_prepare(&h, SG_HS_COOKIE_ALWAYS);
		h_start(&h);
		ssl = ossl_client(&h, "PSK-AES128-CCM8", NULL, &cc);
		for (int i = 0; i < 20 && h.n_installed == 0; i++) {
			ho_step(ssl);
			while ((n = h_recv(&h, f5, sizeof(f5))) > 0) {
				nf5 = n;
				h_input(&h, f5, n);
				if (h_count(&h, SG_HS_C_STARTED) == 1)
					DTLS_set_timer_cb(ssl, short_timer);
			}
		}
		assert_int_equal(h.n_installed, 1);
		/* Lose our final flight. */
		while (recv(h.fd[0], d, sizeof(d), MSG_DONTWAIT) > 0)
			;
		/* Its timer: flight 5 again, each message in a datagram of its own. */
		for (int i = 0; i < 50 && nagain == 0; i++) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			nanosleep(&ts, NULL);
			DTLSv1_handle_timeout(ssl);
			while ((n = h_recv(&h, d, sizeof(d))) > 0) {
				if (daemon && (d[3] | d[4]) != 0) {
					/* epoch 1: a worker opens it and reports the Finished */
					if (sg_hs_finished_again(h.e, h.now, &h.peer) == 0 &&
					    nagain == 0) {
						memcpy(again, d, n);
						nagain = n;
					}
					continue;
				}
				h_input(&h, d, n);
				if (nagain == 0 && h_count(&h, SG_HS_C_LINGER_RESENT) == 1) {
					memcpy(again, d, n);
					nagain = n;
				}
			}
		}
		assert_true(nagain > 0);
		for (int i = 0; i < 20 && !done; i++)
			done = ho_step(ssl);
		assert_true(done);
		sg_hs_stats_get(h.e, &before);
		if (daemon) /* its worker's replay window refuses the record; a fresh one, too soon
		             */
			assert_int_equal(sg_hs_finished_again(h.e, h.now, &h.peer), -EAGAIN);
		else
			h_input(&h, again, nagain);
		h_input(&h, f5, nf5);
		assert_int_equal(h_count(&h, SG_HS_C_LINGER_RESENT), 1);
		assert_int_equal(cnt(&h, "drop_duplicate"),
		                 cnt_of(&before, "drop_duplicate") + (daemon ? 1 : 2));
		ho_exchange_data(&h, ssl);
		assert_int_equal(h.n_installed, 1);
		assert_outcomes(&h);
		SSL_free(ssl);
		h_stop(&h);
	}
}

/*
 * The client's key exchange alone earns nothing, not even the client's own
 * (whoever saw it can repeat it, or guess a PSK identity's): the final
 * flight goes again only for a Finished that authenticates, in a datagram
 * the engine opens, or one a worker opened under the installed session's
 * keys and reported (sg_hs_finished_again: a tls12_cid record the engine
 * cannot open), at most once per rto_initial_ms. The key exchange repeated
 * every second draws no byte.
 */
static void test_linger_kx_alone(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	uint8_t cke[512], f5[2048], d[2048];
	size_t ncke, nf5, nfin;
	struct sg_hs_peer other;
	struct harness h;
	struct hc c;
	uint64_t out0;

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
	o.ticket_ext = true; /* the largest final flight: NewSessionTicket, CCS, Finished */
	hc_init(&c, &o);
	complete(&h, &c, cke, &ncke, f5, &nf5);
	nfin = h.out_len[0];

	out0 = h.out_bytes;
	h_input(&h, cke, ncke);
	h_input(&h, d, hc_rec_ccs(&c, d, sizeof(d)));
	for (int i = 0; i < 9; i++) {
		h_advance(&h, 1000);
		h_input(&h, cke, ncke);
	}
	assert_int_equal(h.n_out, 0);
	assert_int_equal(h.out_bytes, out0);
	assert_int_equal(cnt(&h, "drop_unauthenticated"), 11);
	assert_int_equal(h_count(&h, SG_HS_C_LINGER_RESENT), 0);

	/* A worker authenticated the device's Finished again: our flight, once a period. */
	assert_int_equal(sg_hs_finished_again(h.e, h.now, &h.peer), 0);
	assert_int_equal(h.n_out, 1);
	assert_int_equal(h.out_len[0], nfin);
	h.n_out = 0;
	assert_int_equal(sg_hs_finished_again(h.e, h.now, &h.peer), -EAGAIN);
	h_advance(&h, SG_DTLS_RTO_INITIAL_MS);
	assert_int_equal(sg_hs_finished_again(h.e, h.now, &h.peer), 0);
	assert_int_equal(h.n_out, 1);
	h.n_out = 0;
	other = h.peer;
	other.pport ^= 1;
	assert_int_equal(sg_hs_finished_again(h.e, h.now, &other), -ENOENT);
	assert_int_equal(h_count(&h, SG_HS_C_LINGER_RESENT), 2);
	/* Gone with the linger time: nothing kept, nothing sent. */
	h_advance(&h, 30000);
	assert_int_equal(sg_hs_finished_again(h.e, h.now, &h.peer), -ENOENT);
	assert_int_equal(h.n_out, 0);
	finish(&h, &c);
}

/*
 * The owner refused the install after ops.install took it (the handshake
 * plane installs on another thread): sg_hs_finished_forget() drops the kept
 * flight, so the client's Finished again, whether reported by a worker or
 * in a datagram the engine opens, draws nothing: no Finished of ours for a
 * session that does not exist.
 */
static void test_linger_forget(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	uint8_t cke[512], f5[2048], fin[512];
	size_t ncke, nf5;
	struct sg_hs_peer other;
	struct harness h;
	struct hc c;

	(void)state;
	h_start_capture(&h, SG_HS_COOKIE_ALWAYS);
	hc_init(&c, &o);
	complete(&h, &c, cke, &ncke, f5, &nf5);
	/* Kept: the client's Finished again, in a fresh record, draws our flight. */
	h.n_out = 0;
	h_advance(&h, SG_DTLS_RTO_INITIAL_MS);
	h_input(&h, fin, hc_rec_finished(&c, fin, sizeof(fin), false));
	assert_int_equal(h.n_out, 1);
	assert_int_equal(h_count(&h, SG_HS_C_LINGER_RESENT), 1);
	/* Forgotten: nothing more, however it comes. */
	other = h.peer;
	other.pport ^= 1;
	assert_int_equal(sg_hs_finished_forget(h.e, &other), -ENOENT);
	assert_int_equal(sg_hs_finished_forget(NULL, &h.peer), -EINVAL);
	assert_int_equal(sg_hs_finished_forget(h.e, &h.peer), 0);
	assert_int_equal(sg_hs_finished_forget(h.e, &h.peer), -ENOENT);
	h.n_out = 0;
	h_advance(&h, SG_DTLS_RTO_INITIAL_MS);
	h_input(&h, fin, hc_rec_finished(&c, fin, sizeof(fin), false));
	assert_int_equal(sg_hs_finished_again(h.e, h.now, &h.peer), -ENOENT);
	assert_int_equal(h.n_out, 0);
	assert_int_equal(h_count(&h, SG_HS_C_LINGER_RESENT), 1);
	finish(&h, &c);
}

/* ---- forged records interleaved with a real client ------------------------------------------- */

struct ossl_row {
	const char *name;
	const char *cipher;
	const char *groups;
	uint16_t group; /* the NamedGroup the engine picks */
	uint8_t cookies;
	unsigned before; /* forged while the engine waits for the ClientKeyExchange */
	unsigned after;  /* forged between the client's ClientKeyExchange and its Finished */
};

#define PSK_CCM8 "PSK-AES128-CCM8"
#define ECDHE    "ECDHE-PSK-CHACHA20-POLY1305"

static const struct ossl_row ossl_rows[] = {
	{ "epoch-0 alerts", PSK_CCM8, NULL, 0, SG_HS_COOKIE_ALWAYS, FG_ALERT, FG_ALERT },
	{ "malformed ChangeCipherSpec", PSK_CCM8, NULL, 0, SG_HS_COOKIE_ALWAYS, FG_BAD_CCS,
	  FG_BAD_CCS },
	{ "messages out of order", PSK_CCM8, NULL, 0, SG_HS_COOKIE_ALWAYS,
	  FG_CERTIFICATE | FG_FUTURE, FG_CERTIFICATE | FG_FUTURE },
	{ "garbage epoch-1 record before and after the key exchange", PSK_CCM8, NULL, 0,
	  SG_HS_COOKIE_ALWAYS, FG_GARBAGE, FG_GARBAGE },
	{ "malformed key exchange, conflicting fragment", PSK_CCM8, NULL, 0, SG_HS_COOKIE_ALWAYS,
	  FG_BAD_KX | FG_FRAGMENT, FG_BAD_KX },
	{ "X25519: low-order share", ECDHE, "X25519", SG_TLS_GROUP_X25519, SG_HS_COOKIE_ALWAYS,
	  FG_BAD_SHARE, FG_GARBAGE },
	{ "P-256: share off the curve", ECDHE, "P-256", SG_TLS_GROUP_SECP256R1, SG_HS_COOKIE_ALWAYS,
	  FG_BAD_SHARE, FG_GARBAGE },
	{ "all of it, cookies under load (address not proven)", PSK_CCM8, NULL, 0,
	  SG_HS_COOKIE_UNDER_LOAD, FG_ALL, FG_ALL & ~FG_HELLO },
	{ "all of it, X25519", ECDHE, "X25519", SG_TLS_GROUP_X25519, SG_HS_COOKIE_ALWAYS, FG_ALL,
	  FG_ALL & ~FG_HELLO },
};

/*
 * Feed a datagram of the client's; when it holds the ClientKeyExchange and
 * there is something to forge after it, split it there (records may travel
 * in separate datagrams, RFC 6347 §4.1.1) and forge in between.
 */
static void feed_client(struct harness *h, const struct ossl_row *r, struct forger *f,
                        const uint8_t *d, size_t len)
{
	struct sg_rec_hdr recs[16];
	unsigned n = sg_rec_parse(d, len, 0, recs, 16);

	for (unsigned i = 0; i < n && r->after; i++) {
		const struct sg_rec_hdr *rh = &recs[i];
		size_t end = rh->off + rh->len;

		if (rh->status != SG_REC_OK || rh->type != SG_DTLS_CT_HANDSHAKE || rh->epoch != 0 ||
		    d[rh->off + rh->hdr_len] != SG_TLS_HT_CLIENT_KEY_EXCHANGE)
			continue;
		h_input(h, d, end);
		forge(h, r->after, f);
		if (end < len)
			h_input(h, d + end, len - end);
		return;
	}
	h_input(h, d, len);
}

static void run_ossl_row(const struct ossl_row *r)
{
	struct ho_psk cc = ho_psk_of(&h_psks[0]);
	struct forger f = { .group = r->group, .seq = 100 };
	uint8_t d[4096];
	struct harness h;
	bool forged = false;
	int done = 0;
	size_t n;
	SSL *ssl;

	h_prepare(&h, r->cookies);
	h_start(&h);
	ssl = ossl_client(&h, r->cipher, r->groups, &cc);
	for (int i = 0; i < 50 && !(done && h.n_installed); i++) {
		done = ho_step(ssl);
		while ((n = h_recv(&h, d, sizeof(d))) > 0) {
			feed_client(&h, r, &f, d, n);
			if (!forged && h_count(&h, SG_HS_C_STARTED) == 1) {
				/* Our flight 4 is on its way: the slot waits for the CKE. */
				f.kx_seq = h_count(&h, SG_HS_C_HVR_SENT) ? 2 : 1;
				forge(&h, r->before, &f);
				forged = true;
			}
		}
	}
	if (!done || h.n_installed != 1)
		fail_msg("%s: handshake not completed (client %d, installed %u)", r->name, done,
		         h.n_installed);
	assert_true(forged);
	ho_exchange_data(&h, ssl);
	assert_no_failure(&h);
	assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_FULL), 1);
	assert_int_equal(h_count(&h, SG_HS_C_REPLACED), 0);
	assert_int_equal(in_flight(&h), 0);
	assert_outcomes(&h);
	SSL_free(ssl);
	h_stop(&h);
}

/* One row of ossl_rows per test case (the prestate), so each is reported on its own. */
static void test_offpath_openssl(void **state)
{
	run_ossl_row(*state);
}

/*
 * The scripted client with connection IDs (no packaged client speaks RFC
 * 9146): garbage tls12_cid records under our CID before the key exchange
 * (held as the early Finished) and after it (in a datagram of its own), an
 * epoch-0 alert; the handshake completes.
 */
static void test_offpath_cid_records(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	struct forger f = { .kx_seq = 2, .seq = 50 };
	uint8_t d[2048];
	struct harness h;
	struct hc c;
	size_t n;

	(void)state;
	o.cid = true;
	o.cid_len = 4;
	begin(&h, &c, &o, SG_HS_COOKIE_ALWAYS);
	assert_true(c.cid_ok);
	f.cid = c.server_cid;
	f.cid_len = c.server_cid_len;
	forge(&h, FG_GARBAGE | FG_ALERT, &f);
	h_input(&h, d, hc_rec_cke(&c, d, sizeof(d)));
	forge(&h, FG_GARBAGE, &f);
	assert_int_equal(h.n_out, 0);
	n = hc_rec_ccs(&c, d, sizeof(d));
	n += hc_rec_finished(&c, d + n, sizeof(d) - n, false);
	h_input(&h, d, n);
	assert_int_equal(hc_drain(&c, &h), 'F');
	assert_int_equal(h.n_installed, 1);
	assert_int_equal(h.sess.res.cid_len, 8);
	assert_int_equal(cnt(&h, "drop_unauthenticated"), 2); /* the alert, the late garbage */
	finish_clean(&h, &c);
}

/* Body bytes [off, off + len) of the ClientKeyExchange record cke, as a fragment record. */
static size_t kx_fragment(const uint8_t *cke, size_t ncke, unsigned off, unsigned len, uint8_t *out)
{
	struct sg_hs_msg_hdr mh;
	uint8_t m[512];

	assert_true(sg_hs_msg_hdr_parse(cke + 13, ncke - 13, &mh) > 0);
	if (off + len > mh.length)
		len = mh.length - off;
	return rec(out, SG_DTLS_CT_HANDSHAKE, 0, 200 + off, NULL, 0, m,
	           hs_frag(m, mh.type, mh.length, mh.seq, off, cke + 25 + off, len));
}

/*
 * Fragments that disagree: a forged fragment before the client's, and one
 * in the middle of them. The newest wins, so the client's own
 * retransmission of the whole message always completes it.
 */
static void test_offpath_fragments(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256);
	struct forger f = { .kx_seq = 2, .group = SG_TLS_GROUP_SECP256R1, .seq = 50 };
	uint8_t cke[512], d[2048];
	size_t ncke, n;
	struct harness h;
	struct hc c;

	(void)state;
	o.group = SG_TLS_GROUP_SECP256R1;
	begin(&h, &c, &o, SG_HS_COOKIE_ALWAYS);
	ncke = hc_rec_cke(&c, cke, sizeof(cke));
	forge(&h, FG_FRAGMENT, &f);
	h_input(&h, d, kx_fragment(cke, ncke, 40, 200, d));
	forge(&h, FG_FRAGMENT, &f);
	h_input(&h, d, kx_fragment(cke, ncke, 0, 25, d));
	h_input(&h, d, kx_fragment(cke, ncke, 20, 30, d));
	assert_int_equal(h.n_out, 0);
	assert_int_equal(in_flight(&h), 1);
	/* The client's timer: its flight again, the key exchange whole this time. */
	memcpy(d, cke, ncke);
	n = ncke + hc_rec_ccs(&c, d + ncke, sizeof(d) - ncke);
	n += hc_rec_finished(&c, d + n, sizeof(d) - n, false);
	h_input(&h, d, n);
	assert_int_equal(hc_drain(&c, &h), 'F');
	assert_int_equal(h.n_installed, 1);
	finish_clean(&h, &c);
}

/*
 * A garbage epoch-1 record held as the early Finished neither blocks nor
 * ends the handshake. (1) Garbage, then the client's Finished ahead of its
 * key exchange: the newest is kept, the handshake completes at once.
 * (2) The client's Finished, then garbage displacing it: the garbage fails
 * in silence when the keys come, the slot waits, the client's
 * retransmission completes it.
 */
static void test_offpath_early_finished(void **state)
{
	(void)state;
	for (int garbage_last = 0; garbage_last < 2; garbage_last++) {
		struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_GCM_SHA256);
		struct forger f = { .kx_seq = 2, .seq = 50 };
		uint8_t cke[512], ccs[64], fin[256], d[1024];
		size_t ncke, nccs, nfin, n;
		struct harness h;
		struct hc c;

		begin(&h, &c, &o, SG_HS_COOKIE_ALWAYS);
		ncke = hc_rec_cke(&c, cke, sizeof(cke));
		nccs = hc_rec_ccs(&c, ccs, sizeof(ccs));
		nfin = hc_rec_finished(&c, fin, sizeof(fin), false);
		if (!garbage_last)
			forge(&h, FG_GARBAGE, &f);
		h_input(&h, fin, nfin);
		if (garbage_last)
			forge(&h, FG_GARBAGE, &f);
		h_input(&h, ccs, nccs);
		h_input(&h, cke, ncke);
		if (garbage_last) {
			assert_int_equal(h.n_out, 0);
			assert_int_equal(in_flight(&h), 1);
			n = hc_rec_ccs(&c, d, sizeof(d));
			n += hc_rec_finished_again(&c, d + n, sizeof(d) - n);
			h_input(&h, d, n);
		}
		assert_int_equal(hc_drain(&c, &h), 'F');
		assert_int_equal(h.n_installed, 1);
		finish_clean(&h, &c);
	}
}

/*
 * An abbreviated handshake (RFC 5077 §3.1) waiting for the client's
 * Finished: forged epoch-0 alert, CCS, garbage epoch-1 and a hello change
 * nothing; the client's Finished completes it.
 */
static void test_offpath_resumed(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	struct forger f = { .kx_seq = 2, .seq = 50 };
	uint8_t ticket[512], master[48], d[2048];
	struct harness h;
	struct hc c;
	uint16_t tlen;
	size_t n;

	(void)state;
	o.ticket_ext = true;
	begin(&h, &c, &o, SG_HS_COOKIE_ALWAYS);
	h_input(&h, d, hc_flight5(&c, d, sizeof(d), false));
	assert_int_equal(hc_drain(&c, &h), 'F');
	assert_true(c.ticket_len > 0);
	memcpy(ticket, c.ticket, c.ticket_len);
	tlen = c.ticket_len;
	memcpy(master, c.master, sizeof(master));
	hc_free(&c);

	o.ticket = ticket;
	o.ticket_len = tlen;
	o.resume_master = master;
	hc_init(&c, &o);
	assert_int_equal(hc_to_flight4(&c, &h), 'R');
	assert_true(c.server_finished_ok);
	forge(&h, FG_ALERT | FG_BAD_CCS | FG_GARBAGE | FG_FUTURE | FG_HELLO, &f);
	h.n_out = 0; /* the spoofed hello's HelloVerifyRequest */
	n = hc_rec_ccs(&c, d, sizeof(d));
	n += hc_rec_finished(&c, d + n, sizeof(d) - n, false);
	h_input(&h, d, n);
	assert_int_equal(h.n_out, 0);
	assert_int_equal(h.n_installed, 2);
	assert_int_equal(h.sess.res.resumed, 1);
	assert_int_equal(h_count(&h, SG_HS_C_COMPLETED_RESUMED), 1);
	finish_clean(&h, &c);
}

/*
 * cookie_mode under_load, below the threshold: a spoofed hello from the
 * address of a handshake in progress is asked for a cookie instead of
 * replacing it; the client completes. A client that really restarts does
 * answer the cookie, and replaces its old handshake.
 */
static void test_offpath_spoofed_hello_under_load(void **state)
{
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	struct forger f = { .kx_seq = 1, .seq = 50 };
	uint8_t d[2048];
	struct harness h;
	struct hc c, again;

	(void)state;
	begin(&h, &c, &o, SG_HS_COOKIE_UNDER_LOAD);
	assert_int_equal(h_count(&h, SG_HS_C_HVR_SENT), 0);
	forge(&h, FG_HELLO, &f);
	assert_int_equal(h.n_out, 1);
	assert_int_equal(h.out[0][13], SG_TLS_HT_HELLO_VERIFY_REQUEST);
	h.n_out = 0;
	assert_int_equal(h_count(&h, SG_HS_C_REPLACED), 0);
	assert_int_equal(in_flight(&h), 1);
	h_input(&h, d, hc_flight5(&c, d, sizeof(d), false));
	assert_int_equal(hc_drain(&c, &h), 'F');
	assert_int_equal(h.n_installed, 1);
	hc_data_both_ways(&c, &h);

	/* A real restart: hello, cookie, hello with the cookie replaces the slot. */
	hc_init(&again, &o);
	assert_int_equal(hc_to_flight4(&again, &h), 'H');
	hc_free(&again);
	hc_init(&again, &o);
	h_input(&h, d, hc_client_hello(&again, d, sizeof(d)));
	assert_int_equal(hc_drain(&again, &h), 'V');
	h_input(&h, d, hc_client_hello(&again, d, sizeof(d)));
	assert_int_equal(hc_drain(&again, &h), 'H');
	assert_int_equal(h_count(&h, SG_HS_C_REPLACED), 1);
	h_input(&h, d, hc_flight5(&again, d, sizeof(d), false));
	assert_int_equal(hc_drain(&again, &h), 'F');
	assert_int_equal(h.n_installed, 2);
	assert_no_failure(&h);
	assert_outcomes(&h);
	hc_free(&again);
	hc_free(&c);
	h_stop(&h);
}

/*
 * A client offering CCM_8 with a wrong PSK, or (unknown) an identity of the
 * same length the store does not know.
 */
static struct hc_opts wrong_opts(int unknown)
{
	static const uint8_t wrong_key[16] = { 9, 9, 9 };
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);

	if (unknown)
		o.identity = "urn:dev:imei:490154203237519";
	else
		o.psk = wrong_key;
	return o;
}

/*
 * The engine's one datagram is a decrypt_error alert, the failure counted by
 * its reason, nothing in flight or installed. Returns the alert's length.
 */
static size_t assert_decrypt_error(struct harness *h, int unknown)
{
	assert_int_equal(h->n_out, 1);
	assert_int_equal(h->out[0][0], SG_DTLS_CT_ALERT);
	assert_int_equal(h->out[0][13 + 1], SG_TLS_ALERT_DECRYPT_ERROR);
	assert_int_equal(
	        h_count(h, unknown ? SG_HS_C_FAIL_UNKNOWN_IDENTITY : SG_HS_C_FAIL_BAD_FINISHED), 1);
	assert_int_equal(in_flight(h), 0);
	assert_int_equal(h->n_installed, 0);
	return h->out_len[0];
}

/*
 * What must still fail does: a wrong PSK and an unknown identity, whose
 * Finished comes with the key exchange, get decrypt_error at that step, the
 * same way (RFC 4279 §2: no identity oracle), forged records before it
 * notwithstanding; the forged early record alone triggers nothing.
 */
static void test_offpath_wrong_key_still_fails(void **state)
{
	size_t len[2];

	(void)state;
	for (int unknown = 0; unknown < 2; unknown++) {
		struct hc_opts o = wrong_opts(unknown);
		struct forger f = { .kx_seq = 2, .seq = 50 };
		uint8_t d[2048];
		struct harness h;
		struct hc c;

		begin(&h, &c, &o, SG_HS_COOKIE_ALWAYS);
		forge(&h, FG_GARBAGE | FG_ALERT | FG_BAD_CCS, &f);
		assert_int_equal(h.n_out, 0);
		h_input(&h, d, hc_flight5(&c, d, sizeof(d), false));
		len[unknown] = assert_decrypt_error(&h, unknown);
		finish(&h, &c);
	}
	assert_int_equal(len[0], len[1]);
}

/*
 * A client that sends its key exchange, CCS and Finished in three datagrams
 * (libcoap's GnuTLS build does) with a wrong PSK or an unknown identity: its
 * Finished alone could be a forger's record, so it is dropped in silence;
 * when the handshake times out, the engine says decrypt_error and counts the
 * failure by its reason, the same way for both (no oracle).
 */
static void test_offpath_wrong_key_finished_alone(void **state)
{
	size_t len[2];

	(void)state;
	for (int unknown = 0; unknown < 2; unknown++) {
		struct hc_opts o = wrong_opts(unknown);
		uint8_t d[2048];
		struct harness h;
		struct hc c;

		begin(&h, &c, &o, SG_HS_COOKIE_ALWAYS);
		h_input(&h, d, hc_rec_cke(&c, d, sizeof(d)));
		h_input(&h, d, hc_rec_ccs(&c, d, sizeof(d)));
		h_input(&h, d, hc_rec_finished(&c, d, sizeof(d), false));
		assert_int_equal(h.n_out, 0);
		assert_int_equal(in_flight(&h), 1);
		assert_int_equal(cnt(&h, "drop_unauthenticated"), 1);
		run_timers(&h);
		len[unknown] = assert_decrypt_error(&h, unknown);
		assert_int_equal(h_count(&h, SG_HS_C_TIMEOUT), 0);
		finish(&h, &c);
	}
	assert_int_equal(len[0], len[1]);
}

/* An alert under the new keys is the client's: it ends the handshake; a forged one does not. */
static void test_offpath_authenticated_alert(void **state)
{
	static const uint8_t alert[2] = { SG_TLS_ALERT_FATAL, SG_TLS_ALERT_HANDSHAKE_FAILURE };
	static const uint8_t noise[24] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct hc_opts o = hc_psk_opts(SG_TLS_PSK_WITH_AES_128_CCM_8);
	struct forger f = { .kx_seq = 2, .seq = 50 };
	uint8_t d[2048];
	struct harness h;
	struct hc c;

	(void)state;
	begin(&h, &c, &o, SG_HS_COOKIE_ALWAYS);
	h_input(&h, d, hc_rec_cke(&c, d, sizeof(d)));
	/* An epoch-1 "alert" that does not authenticate. */
	h_input(&h, d, rec(d, SG_DTLS_CT_ALERT, 1, 9, NULL, 0, noise, sizeof(noise)));
	forge(&h, FG_ALERT, &f);
	assert_int_equal(in_flight(&h), 1);
	h_input(&h, d, hc_rec_sealed(&c, SG_DTLS_CT_ALERT, alert, sizeof(alert), d, sizeof(d)));
	assert_int_equal(h_count(&h, SG_HS_C_PEER_ALERT), 1);
	assert_int_equal(in_flight(&h), 0);
	assert_int_equal(h.n_out, 0);
	assert_int_equal(cnt(&h, "drop_unauthenticated"), 2);
	finish(&h, &c);
}

/* ---- a 64-byte PSK ------------------------------------------------------------------------------
 */

static const uint8_t psk64[64] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
	0xdd, 0xee, 0xff, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9,
	0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f, 0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96,
	0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f, 0x01, 0x02, 0x03, 0x04,
	0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
};

static int lookup_psk64(void *ctx, const uint8_t *identity, size_t identity_len, const uint8_t *sni,
                        size_t sni_len, struct sg_hs_cred *cred)
{
	(void)ctx;
	(void)sni;
	(void)sni_len;
	if (identity_len != 9 || memcmp(identity, "dev-psk64", 9) != 0)
		return -ENOENT;
	memcpy(cred->psk, psk64, sizeof(psk64));
	cred->psk_len = sizeof(psk64);
	cred->cred_ref = 64;
	return 0;
}

/*
 * SG_TLS_PSK_MAX (64) bytes of PSK with plain PSK (other_secret is then 64
 * zero bytes, RFC 4279 §2) and ECDHE-PSK, against OpenSSL: the premaster
 * secret is built right and within its buffer (ASan watches).
 */
static void test_psk_64_bytes(void **state)
{
	static const char *const ciphers[] = { PSK_CCM8, "PSK-AES256-GCM-SHA384", ECDHE };

	(void)state;
	for (unsigned i = 0; i < SG_ARRAY_SIZE(ciphers); i++) {
		struct ho_psk cc = { .identity = "dev-psk64", .key = psk64, .key_len = 64 };
		struct harness h;
		int done = 0;
		SSL *ssl;

		h_prepare(&h, SG_HS_COOKIE_ALWAYS);
		h.conf.ops.psk_lookup = lookup_psk64;
		h_start(&h);
		ssl = ossl_client(&h, ciphers[i], NULL, &cc);
		for (int k = 0; k < 20 && !(done && h.n_installed); k++) {
			done = ho_step(ssl);
			h_pump(&h);
		}
		assert_true(done);
		assert_int_equal(h.n_installed, 1);
		assert_int_equal(h.sess.res.cred_ref, 64);
		ho_exchange_data(&h, ssl);
		SSL_free(ssl);
		h_stop(&h);
	}
}

/* ---- memory -------------------------------------------------------------------------------------
 */

/*
 * A linger entry now holds the client's write key and replay window beside
 * the flight: measured as the heap an engine takes per entry (its share of
 * the index included).
 */
static void test_linger_memory(void **state)
{
	enum { N = 1024 };
	struct harness h;
	size_t per;

	(void)state;
	h_prepare(&h, SG_HS_COOKIE_ALWAYS);
	h.conf.max_handshakes = 1;
	{
		size_t a, b, c0, c1;
		struct sg_hs_engine *e;

		h.conf.linger_entries = 1;
		c0 = h_heap_used();
		e = sg_hs_engine_create(&h.conf);
		c1 = h_heap_used();
		assert_non_null(e);
		sg_hs_engine_free(e);
		h.conf.linger_entries = N + 1;
		a = h_heap_used();
		e = sg_hs_engine_create(&h.conf);
		b = h_heap_used();
		assert_non_null(e);
		sg_hs_engine_free(e);
		per = ((b - a) - (c1 - c0)) / N;
	}
	print_message("# per linger entry: %zu B\n", per);
	assert_true(per <= 1024);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_amp_spoofed_hello_to_timeout),
		cmocka_unit_test(test_amp_flight_waits_for_repeated_hello),
		cmocka_unit_test(test_amp_replayed_hello),
		cmocka_unit_test(test_amp_kx_after_completion),
		cmocka_unit_test(test_amp_stateless_replies),
		cmocka_unit_test(test_linger_retransmitted_finished),
		cmocka_unit_test(test_linger_resends_spent),
		cmocka_unit_test(test_linger_openssl_retransmission),
		cmocka_unit_test(test_linger_kx_alone),
		cmocka_unit_test(test_linger_forget),
		cmocka_unit_test(test_offpath_cid_records),
		cmocka_unit_test(test_offpath_fragments),
		cmocka_unit_test(test_offpath_early_finished),
		cmocka_unit_test(test_offpath_resumed),
		cmocka_unit_test(test_offpath_spoofed_hello_under_load),
		cmocka_unit_test(test_offpath_wrong_key_still_fails),
		cmocka_unit_test(test_offpath_wrong_key_finished_alone),
		cmocka_unit_test(test_offpath_authenticated_alert),
		cmocka_unit_test(test_psk_64_bytes),
		cmocka_unit_test(test_linger_memory),
	};
	struct CMUnitTest tests[SG_ARRAY_SIZE(fixed) + SG_ARRAY_SIZE(ossl_rows)];

	memcpy(tests, fixed, sizeof(fixed));
	for (unsigned i = 0; i < SG_ARRAY_SIZE(ossl_rows); i++)
		tests[SG_ARRAY_SIZE(fixed) + i] =
		        (struct CMUnitTest){ .name = ossl_rows[i].name,
			                     .test_func = test_offpath_openssl,
			                     .initial_state = (void *)&ossl_rows[i] };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
