/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Batched key derivation (control/handshake/hs_batch.c, sg_hs_input_burst):
 * batches of 1..40 mixed SHA-256/SHA-384 PRFs against sg_hs_prf() byte for
 * byte (and PRFs queued by another's continuation, seeded with its output),
 * the Wycheproof HMAC-SHA256/384 vectors through the batch, on
 * every IPsec-MB manager this CPU runs; the burst's limits; and a burst of
 * OpenSSL clients' flights against the same flights one sg_hs_input() call
 * each: the same datagrams sent (peer, length, order), the same installs,
 * lookups and counters, and every client's handshake ending the same way.
 * Test thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/handshake.h>

#include "dgram_bio.h"
#include "hs_batch.h"
#include "hs_crypto.h"
#include "tc_hex.h"
#include "tc_vectors.h"

static struct sg_hs_crypto crypto;

static const enum sg_hs_batch_arch archs[] = { SG_HS_BATCH_BEST, SG_HS_BATCH_SSE, SG_HS_BATCH_AVX2,
	                                       SG_HS_BATCH_AVX512 };

/* The batch on arch, or NULL when this CPU lacks it (the test then skips that manager). */
static struct sg_hs_batch *batch_on(enum sg_hs_batch_arch arch)
{
	struct sg_hs_batch *b = sg_hs_batch_create(arch);

	if (b == NULL)
		assert_int_equal(errno, ENOTSUP);
	return b;
}

/* ---- PRFs against sg_hs_prf() ------------------------------------------------------- */

static const char *const labels[] = {
	SG_TLS_LABEL_MASTER_SECRET,   SG_TLS_LABEL_EXTENDED_MASTER_SECRET,
	SG_TLS_LABEL_KEY_EXPANSION,   SG_TLS_LABEL_CLIENT_FINISHED,
	SG_TLS_LABEL_SERVER_FINISHED, "x",
};

/* Output lengths around the hash lengths: part of a block, whole blocks, the maximum. */
static const size_t out_lens[] = { 1, 12, 31, 32, 33, 40, 47, 48, 49, 72, 88, 96, 127, 128 };

struct prf_row {
	enum sg_hs_hash hash;
	size_t secret_len, len_a, len_b, out_len;
	const char *label;
	uint8_t secret[140], seed[120];
	struct sg_hs_hmac_key k;
	uint8_t want[128], got[128 + 16];
};

/* Row i of a batch of n: the hash, lengths and label vary with i and n. */
static void prf_row_make(struct prf_row *r, unsigned i, unsigned n)
{
	r->hash = (i + n) % 3 == 0 ? SG_HS_SHA384 : SG_HS_SHA256;
	r->secret_len = 1 + (i * 37 + n * 11) % 139; /* across the 64- and 128-byte blocks */
	r->label = labels[(i + 2 * n) % SG_ARRAY_SIZE(labels)];
	r->len_a = (i * 7 + n) % 65;
	r->len_b = (i * 5 + n) % (128 - strlen(r->label) - r->len_a + 1);
	r->out_len = out_lens[(i * 3 + n) % SG_ARRAY_SIZE(out_lens)];
	for (size_t j = 0; j < sizeof(r->secret); j++)
		r->secret[j] = (uint8_t)(j * 13 + i * 3 + n);
	for (size_t j = 0; j < sizeof(r->seed); j++)
		r->seed[j] = (uint8_t)(j * 7 + i + 100);
	assert_int_equal(sg_hs_hmac_key_set(&crypto, r->hash, r->secret, r->secret_len, &r->k), 0);
	assert_int_equal(sg_hs_prf(&crypto, r->hash, NULL, r->secret, r->secret_len, r->label,
	                           r->seed, r->len_a, r->seed + r->len_a, r->len_b, r->want,
	                           r->out_len),
	                 0);
	memset(r->got, 0xa5, sizeof(r->got));
}

static void test_prf_batches_match_serial(void **state)
{
	static struct prf_row rows[40];
	unsigned managers = 0;

	(void)state;
	for (unsigned a = 0; a < SG_ARRAY_SIZE(archs); a++) {
		struct sg_hs_batch *b = batch_on(archs[a]);

		if (b == NULL)
			continue;
		managers++;
		for (unsigned n = 1; n <= SG_ARRAY_SIZE(rows); n++) {
			for (unsigned i = 0; i < n; i++) {
				struct prf_row *r = &rows[i];

				prf_row_make(r, i, n);
				assert_int_equal(sg_hs_batch_prf(b, &r->k, r->label, r->seed,
				                                 r->len_a, r->seed + r->len_a,
				                                 r->len_b, r->got, r->out_len),
				                 0);
			}
			assert_int_equal(sg_hs_batch_count(b), n);
			assert_int_equal(sg_hs_batch_run(b), 0);
			assert_int_equal(sg_hs_batch_count(b), 0);
			for (unsigned i = 0; i < n; i++) {
				if (memcmp(rows[i].got, rows[i].want, rows[i].out_len) != 0)
					fail_msg("%s: batch of %u, PRF %u differs from sg_hs_prf()",
					         sg_hs_batch_arch_name(b), n, i);
				/* Not a byte past the output. */
				assert_int_equal(rows[i].got[rows[i].out_len], 0xa5);
			}
		}
		sg_hs_batch_free(b);
	}
	/* The best manager and SSE exist on every x86-64 CPU IPsec-MB runs on. */
	assert_true(managers >= 2);
}

/* A PRF whose seed is another's output, queued by the first's continuation. */
struct chain {
	struct prf_row *r;
	uint8_t second[48], want2[48];
	size_t len2;
	int rc;
};

static void chain_then(struct sg_hs_batch *b, void *arg)
{
	struct chain *c = arg;

	/* Seeded with (up to 64 bytes of) the output just completed. */
	c->rc = sg_hs_batch_prf(b, &c->r->k, SG_TLS_LABEL_SERVER_FINISHED, c->r->got,
	                        c->r->out_len < 64 ? c->r->out_len : 64, NULL, 0, c->second,
	                        c->len2);
}

static void test_prf_continuations(void **state)
{
	static struct prf_row rows[24];
	static struct chain chains[24];

	(void)state;
	for (unsigned a = 0; a < SG_ARRAY_SIZE(archs); a++) {
		struct sg_hs_batch *b = batch_on(archs[a]);

		if (b == NULL)
			continue;
		for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
			struct prf_row *r = &rows[i];
			struct chain *c = &chains[i];

			prf_row_make(r, i, 7);
			c->r = r;
			c->len2 = 1 + (i * 5) % 48;
			c->rc = -1;
			assert_int_equal(sg_hs_prf(&crypto, r->hash, &r->k, NULL, 0,
			                           SG_TLS_LABEL_SERVER_FINISHED, r->want,
			                           r->out_len < 64 ? r->out_len : 64, NULL, 0,
			                           c->want2, c->len2),
			                 0);
			/* Every third one without a continuation: mixed in the same rounds. */
			assert_int_equal(sg_hs_batch_prf_then(b, &r->k, r->label, r->seed, r->len_a,
			                                      r->seed + r->len_a, r->len_b, r->got,
			                                      r->out_len, i % 3 ? chain_then : NULL,
			                                      c),
			                 0);
		}
		assert_int_equal(sg_hs_batch_run(b), 0);
		for (unsigned i = 0; i < SG_ARRAY_SIZE(rows); i++) {
			assert_memory_equal(rows[i].got, rows[i].want, rows[i].out_len);
			if (i % 3 == 0)
				continue;
			assert_int_equal(chains[i].rc, 0);
			assert_memory_equal(chains[i].second, chains[i].want2, chains[i].len2);
		}
		sg_hs_batch_free(b);
	}
}

/* A batch's limits: empty messages and outputs, long seeds, a full batch. */
static void test_batch_limits(void **state)
{
	struct sg_hs_batch *b = batch_on(SG_HS_BATCH_BEST);
	uint8_t seed[130] = { 0 }, out[130];
	struct sg_hs_hmac_key k;

	(void)state;
	assert_non_null(b);
	assert_int_equal(sg_hs_hmac_key_set(&crypto, SG_HS_SHA256, seed, 16, &k), 0);
	assert_int_equal(sg_hs_batch_hmac(b, &k, seed, 0, out), -EINVAL);
	assert_int_equal(sg_hs_batch_prf(b, &k, "l", seed, 127, NULL, 0, out, 12), 0);
	assert_int_equal(sg_hs_batch_prf(b, &k, "l", seed, 128, NULL, 0, out, 12), -EINVAL);
	assert_int_equal(sg_hs_batch_prf(b, &k, "l", seed, 1, NULL, 0, out, 129), -EINVAL);
	assert_int_equal(sg_hs_batch_prf(b, &k, "l", seed, 1, NULL, 0, out, 0), -EINVAL);
	for (unsigned i = 1; i < SG_HS_BATCH_MAX; i++)
		assert_int_equal(sg_hs_batch_hmac(b, &k, seed, 1 + i % 100, out), 0);
	assert_int_equal(sg_hs_batch_hmac(b, &k, seed, 1, out), -ENOSPC);
	assert_int_equal(sg_hs_batch_prf(b, &k, "l", seed, 1, NULL, 0, out, 12), -ENOSPC);
	/* Many more jobs than the manager's queue (128): each is checked as it comes back. */
	assert_int_equal(sg_hs_batch_run(b), 0);
	assert_int_equal(sg_hs_batch_run(b), 0); /* empty */
	sg_hs_batch_free(b);
	sg_hs_batch_free(NULL);
}

/* ---- Wycheproof HMAC through the batch ---------------------------------------------- */

struct mac_row {
	struct sg_hs_hmac_key k;
	uint8_t tag[64], out[SG_HS_HASH_MAX_LEN];
	size_t tag_len;
	bool valid;
	int tc_id;
	uint8_t msg[256];
};

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Run the rows queued in b and check each tag (a prefix for truncated tags). */
static void mac_rows_check(struct sg_hs_batch *b, struct mac_row *rows, unsigned n)
{
	assert_int_equal(sg_hs_batch_run(b), 0);
	for (unsigned i = 0; i < n; i++) {
		bool same = memcmp(rows[i].out, rows[i].tag, rows[i].tag_len) == 0;

		if (same != rows[i].valid)
			fail_msg("%s: Wycheproof tcId %d", sg_hs_batch_arch_name(b), rows[i].tc_id);
	}
}

/* Every test of file with a message through batches of up to SG_HS_BATCH_MAX. */
static unsigned hmac_wycheproof(const char *file, enum sg_hs_hash hash, struct sg_hs_batch *b)
{
	static struct mac_row rows[SG_HS_BATCH_MAX];
	json_t *root = tc_wycheproof_load(file), *g, *t;
	unsigned n = 0, checked = 0;
	size_t gi, ti;

	assert_non_null(root);
	json_array_foreach(json_object_get(root, "testGroups"), gi, g)
	{
		json_array_foreach(json_object_get(g, "tests"), ti, t)
		{
			struct mac_row *r = &rows[n];
			uint8_t key[256];
			size_t klen = tc_unhex(str(t, "key"), key, sizeof(key));
			size_t mlen = tc_unhex(str(t, "msg"), r->msg, sizeof(r->msg));

			r->tag_len = tc_unhex(str(t, "tag"), r->tag, sizeof(r->tag));
			r->valid = strcmp(str(t, "result"), "valid") == 0;
			r->tc_id = (int)json_integer_value(json_object_get(t, "tcId"));
			assert_int_equal(sg_hs_hmac_key_set(&crypto, hash, key, klen, &r->k), 0);
			if (mlen == 0) {
				/* IPsec-MB refuses an empty message; the PRF never makes one. */
				assert_int_equal(sg_hs_batch_hmac(b, &r->k, r->msg, 0, r->out),
				                 -EINVAL);
				continue;
			}
			assert_int_equal(sg_hs_batch_hmac(b, &r->k, r->msg, mlen, r->out), 0);
			checked++;
			if (++n == SG_ARRAY_SIZE(rows)) {
				mac_rows_check(b, rows, n);
				n = 0;
			}
		}
	}
	mac_rows_check(b, rows, n);
	json_decref(root);
	return checked;
}

static void test_hmac_wycheproof_batched(void **state)
{
	(void)state;
	for (unsigned a = 0; a < SG_ARRAY_SIZE(archs); a++) {
		struct sg_hs_batch *b = batch_on(archs[a]);

		if (b == NULL)
			continue;
		/* 174 tests each, 60 of them with an empty message (refused above). */
		assert_true(hmac_wycheproof("hmac_sha256_test.json", SG_HS_SHA256, b) >= 110);
		assert_true(hmac_wycheproof("hmac_sha384_test.json", SG_HS_SHA384, b) >= 110);
		sg_hs_batch_free(b);
	}
}

/* ---- a burst against one call a datagram ---------------------------------------------- */

#define CLIENTS    40
#define LOG_MAX    1024
#define QUEUE_MAX  16
#define DGRAM_MAX  2048
#define ROUNDS_MAX 40

/* What a client offers; its PSK may be wrong or its identity unknown. */
struct client_kind {
	const char *cipher;
	const char *groups;
	bool no_ems, ticket, wrong_key, unknown;
};

static const struct client_kind kinds[] = {
	{ "PSK-AES128-CCM8", NULL, false, false, false, false },
	{ "PSK-AES128-GCM-SHA256", NULL, false, false, false, false },
	{ "PSK-AES256-GCM-SHA384", NULL, false, false, false, false }, /* the SHA-384 PRF */
	{ "PSK-AES128-CCM8", NULL, true, false, false, false },        /* RFC 5246 §8.1 */
	{ "PSK-AES128-CCM8", NULL, false, true, false, false },        /* NewSessionTicket */
	{ "ECDHE-PSK-CHACHA20-POLY1305", "X25519", false, false, false, false },
	{ "ECDHE-PSK-CHACHA20-POLY1305", "P-256", false, false, false, false },
	{ "PSK-AES128-CCM8", NULL, false, false, true, false }, /* bad_finished */
	{ "PSK-AES128-CCM8", NULL, false, false, false, true }, /* unknown identity */
	{ "PSK-CHACHA20-POLY1305", NULL, false, false, false, false },
};

struct queue {
	uint8_t d[QUEUE_MAX][DGRAM_MAX];
	size_t len[QUEUE_MAX];
	unsigned head, count;
};

struct client {
	SSL *ssl;
	struct queue in;  /* from the engine */
	struct queue out; /* to the engine */
	const struct client_kind *kind;
	char identity[32];
	uint8_t key[16];
	int done; /* 1: handshake complete, -1: failed */
};

/* What the engine did, in order. */
struct rig {
	struct sg_hs_engine *e;
	struct client c[CLIENTS];
	uint32_t sent[LOG_MAX]; /* client << 16 | length */
	unsigned n_sent;
	uint64_t installs[LOG_MAX]; /* client << 32 | suite << 16 | ems << 1 | resumed */
	unsigned n_installs;
	unsigned lookups[CLIENTS];
};

static void q_push(struct queue *q, const uint8_t *p, size_t n)
{
	unsigned i = (q->head + q->count) % QUEUE_MAX;

	assert_true(q->count < QUEUE_MAX && n <= DGRAM_MAX);
	memcpy(q->d[i], p, n);
	q->len[i] = n;
	q->count++;
}

static int bio_write(BIO *b, const char *buf, int len)
{
	struct client *c = BIO_get_data(b);

	q_push(&c->out, (const uint8_t *)buf, (size_t)len);
	return len;
}

static int bio_read(BIO *b, char *buf, int len)
{
	struct client *c = BIO_get_data(b);
	struct queue *q = &c->in;
	size_t n;

	BIO_clear_retry_flags(b);
	if (q->count == 0) {
		BIO_set_retry_read(b);
		return -1;
	}
	n = q->len[q->head] < (size_t)len ? q->len[q->head] : (size_t)len;
	memcpy(buf, q->d[q->head], n);
	q->head = (q->head + 1) % QUEUE_MAX;
	q->count--;
	return (int)n;
}

static unsigned client_of_port(uint16_t pport)
{
	return ntohs(pport) - 20000;
}

static int rig_lookup(void *ctx, const uint8_t *identity, size_t len, const uint8_t *sni,
                      size_t sni_len, struct sg_hs_cred *cred)
{
	struct rig *r = ctx;
	unsigned i;

	(void)sni;
	(void)sni_len;
	if (len < 5 || memcmp(identity, "dev-", 4) != 0)
		return -ENOENT;
	i = (unsigned)atoi((const char *)identity + 4);
	if (i >= CLIENTS || r->c[i].kind->unknown)
		return -ENOENT;
	r->lookups[i]++;
	/* The engine's key is the right one; a wrong_key client holds another. */
	for (unsigned j = 0; j < 16; j++)
		cred->psk[j] = (uint8_t)(i * 31 + j);
	cred->psk_len = 16;
	return 0;
}

static int rig_send(void *ctx, const struct sg_hs_peer *peer, const uint8_t *d, size_t len)
{
	struct rig *r = ctx;
	unsigned i = client_of_port(peer->pport);

	assert_true(i < CLIENTS && r->n_sent < LOG_MAX);
	r->sent[r->n_sent++] = i << 16 | (uint32_t)len;
	q_push(&r->c[i].in, d, len);
	return 0;
}

static int rig_install(void *ctx, const struct sg_hs_result *res)
{
	struct rig *r = ctx;
	unsigned i = client_of_port(res->peer.pport);

	assert_true(i < CLIENTS && r->n_installs < LOG_MAX);
	assert_int_equal(res->tag, i);
	r->installs[r->n_installs++] = (uint64_t)i << 32 | (uint64_t)res->suite << 16 |
	                               (uint64_t)res->ems << 1 | res->resumed;
	return 0;
}

static unsigned client_psk(SSL *ssl, const char *hint, char *identity, unsigned max_id,
                           unsigned char *psk, unsigned max_psk)
{
	struct client *c = SSL_get_app_data(ssl);

	(void)hint;
	if (strlen(c->identity) + 1 > max_id || sizeof(c->key) > max_psk)
		return 0;
	strcpy(identity, c->identity);
	memcpy(psk, c->key, sizeof(c->key));
	return sizeof(c->key);
}

static void client_start(struct client *c, unsigned i)
{
	static BIO_METHOD *m;
	SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
	BIO *b;

	assert_non_null(ctx);
	memset(c, 0, sizeof(*c));
	c->kind = &kinds[i % SG_ARRAY_SIZE(kinds)];
	snprintf(c->identity, sizeof(c->identity), c->kind->unknown ? "nobody-%u" : "dev-%u", i);
	for (unsigned j = 0; j < 16; j++)
		c->key[j] = (uint8_t)(i * 31 + j + (c->kind->wrong_key ? 1 : 0));
	SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
	assert_int_equal(SSL_CTX_set_cipher_list(ctx, c->kind->cipher), 1);
	if (c->kind->groups)
		assert_int_equal(SSL_CTX_set1_groups_list(ctx, c->kind->groups), 1);
	SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | (c->kind->ticket ? 0 : SSL_OP_NO_TICKET) |
	                                 (c->kind->no_ems ? SSL_OP_NO_EXTENDED_MASTER_SECRET : 0));
	SSL_CTX_set_psk_client_callback(ctx, client_psk);
	c->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL keeps its reference */
	assert_non_null(c->ssl);
	SSL_set_app_data(c->ssl, c);
	b = sg_bench_dgram_bio_new(&m, "hs-batch-queue", bio_write, bio_read, c);
	assert_non_null(b);
	SSL_set_bio(c->ssl, b, b);
	DTLS_set_link_mtu(c->ssl, 1400);
	SSL_set_connect_state(c->ssl);
}

static void client_step(struct client *c)
{
	int rc;

	if (c->done)
		return;
	rc = SSL_do_handshake(c->ssl);
	if (rc == 1)
		c->done = 1;
	else if (SSL_get_error(c->ssl, rc) != SSL_ERROR_WANT_READ)
		c->done = -1;
}

static struct sg_hs_time rig_now(unsigned round)
{
	return (struct sg_hs_time){ .mono_ms = 1000000 + round, .unix_s = 1700000000 };
}

/*
 * Every client's handshake against the engine, round by round: the clients
 * step, then what they sent goes to the engine, one call a datagram
 * (burst 0) or in bursts of up to burst datagrams. Some datagrams are sent
 * twice, right after themselves (a retransmitted flight); some follow two
 * forgeries of themselves (cut short; a key exchange whose identity length
 * runs past the message), which must be dropped the same way.
 */
static void rig_run(struct rig *r, unsigned burst)
{
	static struct sg_hs_dgram d[CLIENTS * QUEUE_MAX * 4];
	static uint8_t data[CLIENTS * QUEUE_MAX * 4][DGRAM_MAX];
	struct sg_hs_config conf = { 0 };

	memset(r, 0, sizeof(*r));
	conf.max_handshakes = 256;
	conf.cookie_policy = SG_HS_COOKIE_NEVER;
	conf.tickets = true;
	conf.ops.ctx = r;
	conf.ops.psk_lookup = rig_lookup;
	conf.ops.send = rig_send;
	conf.ops.install = rig_install;
	r->e = sg_hs_engine_create(&conf);
	assert_non_null(r->e);
	for (unsigned i = 0; i < CLIENTS; i++)
		client_start(&r->c[i], i);
	for (unsigned round = 0; round < ROUNDS_MAX; round++) {
		unsigned n = 0;

		for (unsigned i = 0; i < CLIENTS; i++) {
			struct client *c = &r->c[i];

			client_step(c);
			for (; c->out.count;
			     c->out.count--, c->out.head = (c->out.head + 1) % QUEUE_MAX) {
				unsigned forged = i % 9 == 4 ? 2 : 0;

				for (unsigned k = 0; k < forged + 1 + (i % 7 == 3); k++) {
					size_t len = c->out.len[c->out.head];

					memcpy(data[n], c->out.d[c->out.head], len);
					if (k == 0 && forged)
						len = len > 20 ? 20 : len; /* the record's length
						                              runs past */
					else if (k == 1 && forged && len > 26 &&
					         data[n][13] == SG_TLS_HT_CLIENT_KEY_EXCHANGE)
						data[n][25] = data[n][26] = 0xff;
					d[n] = (struct sg_hs_dgram){ .data = data[n],
						                     .len = len,
						                     .tag = i };
					d[n].peer.paddr[10] = d[n].peer.paddr[11] = 0xff;
					d[n].peer.paddr[12] = 198;
					d[n].peer.paddr[13] = 18;
					d[n].peer.paddr[15] = (uint8_t)(i + 1);
					d[n].peer.pport = htons((uint16_t)(20000 + i));
					d[n].peer.lport = htons(5684);
					n++;
				}
			}
		}
		for (unsigned off = 0; off < n;) {
			unsigned k = burst ? (n - off < burst ? n - off : burst) : 1;

			if (burst)
				assert_int_equal(
				        sg_hs_input_burst(r->e, rig_now(round), d + off, k), 0);
			else
				assert_int_equal(sg_hs_input(r->e, rig_now(round), &d[off].peer,
				                             d[off].data, d[off].len, d[off].tag),
				                 0);
			off += k;
		}
	}
}

static void rig_free(struct rig *r)
{
	for (unsigned i = 0; i < CLIENTS; i++)
		SSL_free(r->c[i].ssl);
	sg_hs_engine_free(r->e);
}

static void test_burst_equals_serial(void **state)
{
	static struct rig one, many;
	const unsigned bursts[] = { 64, 7, 2 };
	struct sg_hs_stats s1, s2;
	unsigned completed = 0;

	(void)state;
	rig_run(&one, 0);
	sg_hs_stats_get(one.e, &s1);
	for (unsigned i = 0; i < CLIENTS; i++) {
		const struct client_kind *k = one.c[i].kind;

		/* The clients with a wrong key or an unknown identity fail; the others complete. */
		assert_int_equal(one.c[i].done, k->wrong_key || k->unknown ? -1 : 1);
		completed += one.c[i].done == 1;
	}
	assert_int_equal(s1.c[SG_HS_C_COMPLETED_FULL], completed);
	assert_true(s1.c[SG_HS_C_FAIL_BAD_FINISHED] > 0 && s1.c[SG_HS_C_FAIL_UNKNOWN_IDENTITY] > 0);
	/* The cut-short forgeries (two flights of four clients) are malformed; a forged key
	 * exchange rides with the CCS and Finished, which count that datagram as handled. */
	assert_true(s1.c[SG_HS_C_DROP_MALFORMED] >= 4 * 2);
	for (unsigned b = 0; b < SG_ARRAY_SIZE(bursts); b++) {
		rig_run(&many, bursts[b]);
		sg_hs_stats_get(many.e, &s2);
		for (unsigned i = 0; i < CLIENTS; i++) {
			assert_int_equal(many.c[i].done, one.c[i].done);
			assert_int_equal(many.lookups[i], one.lookups[i]);
		}
		assert_int_equal(many.n_sent, one.n_sent);
		assert_memory_equal(many.sent, one.sent, one.n_sent * sizeof(one.sent[0]));
		assert_int_equal(many.n_installs, one.n_installs);
		assert_memory_equal(many.installs, one.installs,
		                    one.n_installs * sizeof(one.installs[0]));
		for (unsigned c = 0; c < SG_HS_C_MAX; c++)
			if (s1.c[c] != s2.c[c])
				fail_msg("burst %u: counter %s %llu, one by one %llu", bursts[b],
				         sg_hs_counter_name(c), (unsigned long long)s2.c[c],
				         (unsigned long long)s1.c[c]);
		rig_free(&many);
	}
	rig_free(&one);
}

static void test_burst_limits(void **state)
{
	struct sg_hs_dgram d[SG_HS_BURST_MAX + 1] = { 0 };
	static struct rig r;
	struct sg_hs_config conf = { 0 };
	struct sg_hs_stats st;

	(void)state;
	conf.max_handshakes = 16;
	conf.ops.ctx = &r;
	conf.ops.psk_lookup = rig_lookup;
	conf.ops.send = rig_send;
	conf.ops.install = rig_install;
	r.e = sg_hs_engine_create(&conf);
	assert_non_null(r.e);
	assert_int_equal(sg_hs_input_burst(NULL, rig_now(0), d, 1), -EINVAL);
	assert_int_equal(sg_hs_input_burst(r.e, rig_now(0), NULL, 1), -EINVAL);
	assert_int_equal(sg_hs_input_burst(r.e, rig_now(0), d, SG_HS_BURST_MAX + 1), -EINVAL);
	assert_int_equal(sg_hs_input_burst(r.e, rig_now(0), NULL, 0), 0);
	/* Empty datagrams: each counted once, as sg_hs_input() counts it. */
	assert_int_equal(sg_hs_input_burst(r.e, rig_now(0), d, SG_HS_BURST_MAX), 0);
	sg_hs_stats_get(r.e, &st);
	assert_int_equal(st.c[SG_HS_C_DROP_MALFORMED], SG_HS_BURST_MAX);
	sg_hs_engine_free(r.e);
}

static int setup(void **state)
{
	(void)state;
	return sg_hs_crypto_init(&crypto);
}

static int teardown(void **state)
{
	(void)state;
	sg_hs_crypto_fini(&crypto);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prf_batches_match_serial),
		cmocka_unit_test(test_prf_continuations),
		cmocka_unit_test(test_batch_limits),
		cmocka_unit_test(test_hmac_wycheproof_batched),
		cmocka_unit_test(test_burst_equals_serial),
		cmocka_unit_test(test_burst_limits),
	};

	return cmocka_run_group_tests_name("hs_batch", tests, setup, teardown);
}
