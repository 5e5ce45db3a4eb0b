/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Captures of a real client replayed through the data plane. Each capture
 * in tests/data (made by tests/data/make_capture.sh: OpenSSL s_client, DTLS
 * 1.2 with a PSK, through the daemon to an echo server, recorded on the
 * device's veth) is the RX side of a net_pcap port; the backend is a
 * net_ring port. The test plays the control plane: it reads the randoms and
 * the suite from the capture's ClientHello and ServerHello, the master
 * secret from the client's key log, derives the key block with OpenSSL's
 * TLS1-PRF and installs the session as the handshake server would (epoch 1,
 * receive sequence after the client's Finished). Then, per the JSON beside
 * the capture: each application record's plaintext reaches the backend once,
 * in order; the handshake datagrams (ChangeCipherSpec included) are punted
 * unchanged; the close_notify is punted as an authenticated alert; the
 * gateway's own frames in the file are l2_not_for_us; the gateway's replies
 * open with the client's side of the keys. A second replay of the file
 * (port stopped and started: net_pcap reopens it) finds every record of the
 * session a replay. The counter invariant holds after each pass and every
 * mbuf returns to the pool.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <limits.h>
#include <arpa/inet.h>

#include <cmocka.h>
#include <jansson.h>
#include <pcap/pcap.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stormgate/bytes.h>
#include <stormgate/dataplane.h>
#include <stormgate/dtls.h>
#include <stormgate/record.h>
#include <stormgate/session.h>
#include <stormgate/suite.h>

#include "dp_frames.h"
#include "dp_net.h"
#include "eal_test.h"
#include "tc_csum.h"
#include "tc_hex.h"
#include "tc_sa.h"

#define POOL_SIZE   1023
#define RING_SIZE   256
#define MAX_FRAMES  64
#define FRAME_MAX   2048
#define MAX_LINES   8
#define TEXT_MAX    256
#define MS_LEN      48 /* RFC 5246 §8.1: master_secret[48] */
#define MAX_POLLS   1000
#define CAPTURE_DIR "tests/data"

/* The captures make_capture.sh writes, each replayed through its own net_pcap port. */
static const struct capture {
	const char *name; /* tests/data/NAME.pcap, .json, .keylog */
	const char *vdev; /* its net_pcap port */
} CAPTURES[] = {
	{ "dtls-psk-ccm8", "net_pcap0" },
	{ "dtls-psk-gcm", "net_pcap1" },
};

/* The backend side is the test's own choice, not the capture's (dp_net.h, and a MAC of its own). */
static const uint8_t GWB_MAC[6] = { 0x02, 0x53, 0x47, 0, 0, 0x04 };

/* What the JSON beside the capture says. */
struct meta {
	char identity[TEXT_MAX];
	uint16_t suite;
	char prf_hash[32];
	uint8_t gw_mac[6], gw_ip[4], cl_ip[4];
	uint16_t gw_port, cl_port;
	unsigned n_lines;
	char records[MAX_LINES][TEXT_MAX]; /* what the client sent, in order */
	char replies[MAX_LINES][TEXT_MAX]; /* what the echo server sent back */
	bool close_notify;
	unsigned dg_total, dg_gateway, dg_handshake, dg_app, dg_alert;
};

/* Class of a frame in the capture, from the test's own reading of it. */
enum cls {
	CLS_HANDSHAKE = 0, /* client datagram whose first record is epoch 0 */
	CLS_APP,           /* client datagram of application records */
	CLS_ALERT,         /* client's encrypted alert */
	CLS_GATEWAY,       /* sent by the gateway to the client */
};

struct frame {
	uint8_t data[FRAME_MAX];
	uint32_t len;
	uint32_t pl_off; /* UDP payload */
	uint16_t pl_len;
	uint8_t cls;
};

/* A DTLS record found in a frame. */
struct rec {
	uint32_t off; /* in the frame */
	uint32_t len; /* header + fragment */
	uint8_t type;
	uint16_t epoch;
	uint64_t seq;
};

/* What the capture holds, parsed without the data plane. */
struct cap {
	struct frame f[MAX_FRAMES];
	unsigned n;
	unsigned n_cls[4];
	uint8_t client_random[SG_TLS_RANDOM_LEN], server_random[SG_TLS_RANDOM_LEN];
	bool have_cr, have_sr;
	uint16_t suite;
	int64_t client_fin_seq, server_fin_seq; /* epoch-1 handshake records (Finished) */
	unsigned n_down;                        /* the gateway's application records */
	struct {
		unsigned frame;
		struct rec r;
	} down[MAX_LINES];
};

static struct env {
	const struct capture *capture;
	struct meta meta;
	struct cap cap;
	struct rte_mempool *pool;
	struct rte_ring *be_rx, *be_tx;
	uint16_t dev_port, be_port;
	bool dev_started, be_started;
	struct sg_sess_table *tab;
	struct sg_dp *dp;
	uint64_t id;
	uint16_t bport;
	enum sg_aead aead;
	uint8_t key_block[2 * 32 + 2 * 12];
	/* mbufs a check is looking at: teardown frees them when an assertion stopped it */
	struct rte_mbuf *held[RING_SIZE];
	unsigned n_held;
} E;

static char root[PATH_MAX];
static bool eal_ok;

/* ---- helpers ---- */

static void path_of(char *buf, size_t cap, const char *ext)
{
	int n = snprintf(buf, cap, "%s/%s/%s.%s", root, CAPTURE_DIR, E.capture->name, ext);

	assert_true(n > 0 && (size_t)n < cap);
}

/* ---- the JSON ---- */

static const char *json_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("%s.json: no string \"%s\"", E.capture->name, key);
	return json_string_value(v);
}

static unsigned json_uint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		fail_msg("%s.json: no count \"%s\"", E.capture->name, key);
	return (unsigned)json_integer_value(v);
}

static void json_peer(json_t *o, const char *key, uint8_t *mac, uint8_t ip[4], uint16_t *port)
{
	json_t *p = json_object_get(o, key);

	if (!json_is_object(p))
		fail_msg("%s.json: no object \"%s\"", E.capture->name, key);
	if (mac != NULL)
		assert_int_equal(sscanf(json_str(p, "mac"), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx",
		                        &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]),
		                 6);
	assert_int_equal(inet_pton(AF_INET, json_str(p, "ip"), ip), 1);
	*port = (uint16_t)json_uint(p, "port");
}

static void json_lines(json_t *o, const char *key, char out[][TEXT_MAX], unsigned *n)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > MAX_LINES)
		fail_msg("%s.json: \"%s\" is not a list of 1..%d strings", E.capture->name, key,
		         MAX_LINES);
	json_array_foreach(a, i, v)
	{
		assert_true(json_is_string(v));
		assert_true(strlen(json_string_value(v)) < TEXT_MAX);
		strcpy(out[i], json_string_value(v));
	}
	*n = (unsigned)json_array_size(a);
}

static void load_meta(struct meta *m)
{
	char path[PATH_MAX];
	json_error_t err;
	json_t *j, *dg;
	unsigned n_replies;

	path_of(path, sizeof(path), "json");
	j = json_load_file(path, 0, &err);
	if (j == NULL)
		fail_msg("%s:%d: %s", path, err.line, err.text);
	memset(m, 0, sizeof(*m));
	assert_true(strlen(json_str(j, "psk_identity")) < sizeof(m->identity));
	strcpy(m->identity, json_str(j, "psk_identity"));
	m->suite = (uint16_t)json_uint(j, "cipher_suite");
	assert_true(strlen(json_str(j, "prf_hash")) < sizeof(m->prf_hash));
	strcpy(m->prf_hash, json_str(j, "prf_hash"));
	json_peer(j, "gateway", m->gw_mac, m->gw_ip, &m->gw_port);
	json_peer(j, "client", NULL, m->cl_ip, &m->cl_port);
	json_lines(j, "records", m->records, &m->n_lines);
	json_lines(j, "replies", m->replies, &n_replies);
	assert_int_equal(n_replies, m->n_lines);
	m->close_notify = json_is_true(json_object_get(j, "close_notify"));
	dg = json_object_get(j, "datagrams");
	assert_true(json_is_object(dg));
	m->dg_total = json_uint(dg, "total");
	m->dg_gateway = json_uint(dg, "from_gateway");
	m->dg_handshake = json_uint(dg, "handshake");
	m->dg_app = json_uint(dg, "application");
	m->dg_alert = json_uint(dg, "alert");
	json_decref(j);
}

/* ---- the capture, read with libpcap ---- */

/* The records of a UDP payload (RFC 6347 §4.1 header); fails on a cut record. */
static unsigned split_records(const struct frame *f, struct rec *r, unsigned max)
{
	uint32_t off = f->pl_off, end = f->pl_off + f->pl_len;
	unsigned n = 0;

	while (off < end) {
		const uint8_t *h = f->data + off;

		assert_true(end - off >= SG_DTLS_HDR_LEN);
		assert_true(n < max);
		r[n].off = off;
		r[n].type = h[SG_DTLS_HDR_OFF_TYPE];
		r[n].epoch = sg_load_be16(h + SG_DTLS_HDR_OFF_EPOCH);
		r[n].seq = sg_load_be48(h + SG_DTLS_HDR_OFF_SEQ);
		r[n].len = SG_DTLS_HDR_LEN + sg_load_be16(h + SG_DTLS_HDR_LEN - 2);
		assert_true(r[n].len <= end - off);
		off += r[n].len;
		n++;
	}
	return n;
}

/*
 * An unencrypted hello (RFC 6347 §4.2.2 handshake header): its random, and
 * for a ServerHello the chosen suite (RFC 5246 §7.4.1.3).
 */
static void read_hello(const struct frame *f, const struct rec *r, uint8_t random[32],
                       uint16_t *suite)
{
	const uint8_t *body = f->data + r->off + SG_DTLS_HDR_LEN;
	uint32_t blen = r->len - SG_DTLS_HDR_LEN, mlen;

	assert_true(blen >= SG_DTLS_HS_HDR_LEN + 2 + SG_TLS_RANDOM_LEN + 1);
	mlen = sg_load_be24(body + 1);
	/* unfragmented: fragment_offset 0, fragment_length = length */
	assert_int_equal(sg_load_be24(body + 6), 0);
	assert_int_equal(sg_load_be24(body + 9), mlen);
	assert_true(mlen <= blen - SG_DTLS_HS_HDR_LEN);
	body += SG_DTLS_HS_HDR_LEN;
	memcpy(random, body + 2, SG_TLS_RANDOM_LEN);
	if (suite != NULL) {
		uint32_t sid = body[2 + SG_TLS_RANDOM_LEN];

		assert_true(2 + SG_TLS_RANDOM_LEN + 1 + sid + 2 <= mlen);
		*suite = sg_load_be16(body + 2 + SG_TLS_RANDOM_LEN + 1 + sid);
	}
}

static void classify(struct cap *c, struct frame *f, const struct meta *m)
{
	const uint8_t *ip = f->data + 14, *udp;
	struct rec r[16];
	unsigned ihl, n;
	bool up;

	assert_true(f->len >= 14 + 20 + 8);
	assert_int_equal(sg_load_be16(f->data + 12), 0x0800); /* the captures are IPv4 */
	ihl = (ip[0] & 15u) * 4;
	assert_int_equal(ip[0] >> 4, 4);
	assert_int_equal(ip[9], 17);
	assert_true(f->len >= 14 + ihl + 8 && sg_load_be16(ip + 2) <= f->len - 14);
	udp = ip + ihl;
	assert_true(sg_load_be16(udp + 4) >= 8);
	f->pl_off = 14 + ihl + 8;
	f->pl_len = (uint16_t)(sg_load_be16(udp + 4) - 8);
	assert_true(f->pl_off + f->pl_len <= f->len);
	up = memcmp(ip + 12, m->cl_ip, 4) == 0 && sg_load_be16(udp) == m->cl_port &&
	     memcmp(ip + 16, m->gw_ip, 4) == 0 && sg_load_be16(udp + 2) == m->gw_port;
	if (!up)
		assert_true(memcmp(ip + 12, m->gw_ip, 4) == 0 && sg_load_be16(udp) == m->gw_port &&
		            memcmp(ip + 16, m->cl_ip, 4) == 0 &&
		            sg_load_be16(udp + 2) == m->cl_port);
	n = split_records(f, r, SG_ARRAY_SIZE(r));
	assert_true(n > 0);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *body = f->data + r[i].off + SG_DTLS_HDR_LEN;
		bool hs0 = r[i].type == SG_DTLS_CT_HANDSHAKE && r[i].epoch == 0 &&
		           r[i].len > SG_DTLS_HDR_LEN;

		if (up && hs0 && body[0] == SG_TLS_HT_CLIENT_HELLO) {
			read_hello(f, &r[i], c->client_random, NULL);
			c->have_cr = true;
		}
		if (!up && hs0 && body[0] == SG_TLS_HT_SERVER_HELLO) {
			read_hello(f, &r[i], c->server_random, &c->suite);
			c->have_sr = true;
		}
		if (r[i].type == SG_DTLS_CT_HANDSHAKE && r[i].epoch == 1) {
			if (up)
				c->client_fin_seq = (int64_t)r[i].seq;
			else
				c->server_fin_seq = (int64_t)r[i].seq;
		}
		if (!up && r[i].type == SG_DTLS_CT_APPLICATION_DATA) {
			assert_true(c->n_down < MAX_LINES);
			c->down[c->n_down].frame = c->n;
			c->down[c->n_down].r = r[i];
			c->n_down++;
		}
	}
	if (!up)
		f->cls = CLS_GATEWAY;
	else if (r[0].epoch == 0)
		f->cls = CLS_HANDSHAKE;
	else if (r[0].type == SG_DTLS_CT_APPLICATION_DATA)
		f->cls = CLS_APP;
	else if (r[0].type == SG_DTLS_CT_ALERT)
		f->cls = CLS_ALERT;
	else
		fail_msg("%s: frame %u: a client datagram of type %u, epoch %u", E.capture->name,
		         c->n + 1, r[0].type, r[0].epoch);
	c->n_cls[f->cls]++;
}

static void load_capture(struct cap *c, const struct meta *m)
{
	char path[PATH_MAX], err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p;
	int rc;

	memset(c, 0, sizeof(*c));
	c->client_fin_seq = c->server_fin_seq = -1;
	path_of(path, sizeof(path), "pcap");
	p = pcap_open_offline(path, err);
	if (p == NULL)
		fail_msg("%s: %s", path, err);
	assert_int_equal(pcap_datalink(p), DLT_EN10MB);
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		struct frame *f = &c->f[c->n];

		if (c->n == MAX_FRAMES || h->caplen != h->len || h->caplen > FRAME_MAX) {
			pcap_close(p);
			fail_msg("%s: more than %d frames, or a frame cut or over %d bytes", path,
			         MAX_FRAMES, FRAME_MAX);
		}
		memcpy(f->data, data, h->caplen);
		f->len = h->caplen;
		classify(c, f, m);
		c->n++;
	}
	pcap_close(p);
	assert_int_equal(rc, PCAP_ERROR_BREAK); /* end of file, not a read error */
}

/* The master secret the client logged for this client random (NSS key log format). */
static void load_master_secret(const uint8_t client_random[32], uint8_t ms[MS_LEN])
{
	char path[PATH_MAX], line[512], cr_hex[65];
	bool found = false;
	FILE *f;

	path_of(path, sizeof(path), "keylog");
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	for (unsigned i = 0; i < 32; i++)
		snprintf(cr_hex + 2 * i, 3, "%02x", client_random[i]);
	while (fgets(line, sizeof(line), f) != NULL) {
		char label[32], cr[80], secret[128];

		if (sscanf(line, "%31s %79s %127s", label, cr, secret) != 3 ||
		    strcmp(label, "CLIENT_RANDOM") != 0 || strcasecmp(cr, cr_hex) != 0)
			continue;
		assert_int_equal(tc_unhex(secret, ms, MS_LEN), MS_LEN);
		found = true;
	}
	fclose(f);
	if (!found)
		fail_msg("%s: no CLIENT_RANDOM line for the capture's ClientHello (%s)", path,
		         cr_hex);
}

/*
 * RFC 5246 §6.3: key_block = PRF(master_secret, "key expansion",
 * server_random + client_random), with the suite's PRF hash; an AEAD suite
 * has no MAC keys, so it is client_write_key, server_write_key,
 * client_write_IV, server_write_IV.
 */
static void derive_key_block(const char *hash, const uint8_t ms[MS_LEN], const uint8_t *sr,
                             const uint8_t *cr, uint8_t *out, size_t len)
{
	static const char label[] = "key expansion";
	uint8_t seed[sizeof(label) - 1 + 2 * SG_TLS_RANDOM_LEN];
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[4];

	assert_non_null(kdf);
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	assert_non_null(kctx);
	memcpy(seed, label, sizeof(label) - 1);
	memcpy(seed + sizeof(label) - 1, sr, SG_TLS_RANDOM_LEN);
	memcpy(seed + sizeof(label) - 1 + SG_TLS_RANDOM_LEN, cr, SG_TLS_RANDOM_LEN);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)hash, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)ms, MS_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof(seed));
	params[3] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_KDF_derive(kctx, out, len, params), 1);
	EVP_KDF_CTX_free(kctx);
}

/* The key block's parts for E.aead. */
static void keys(const uint8_t **ck, const uint8_t **sk, const uint8_t **civ, const uint8_t **siv)
{
	unsigned kl = sg_aead_key_len(E.aead), il = sg_aead_iv_len(E.aead);

	*ck = E.key_block;
	*sk = E.key_block + kl;
	*civ = E.key_block + 2 * kl;
	*siv = E.key_block + 2 * kl + il;
}

/* ---- the data plane ---- */

static void eal_up(void)
{
	static char vdev[SG_ARRAY_SIZE(CAPTURES)][PATH_MAX + 64];
	const char *extra[SG_ARRAY_SIZE(CAPTURES)];

	for (unsigned i = 0; i < SG_ARRAY_SIZE(CAPTURES); i++) {
		snprintf(vdev[i], sizeof(vdev[i]), "--vdev=%s,rx_pcap=%s/%s/%s.pcap",
		         CAPTURES[i].vdev, root, CAPTURE_DIR, CAPTURES[i].name);
		extra[i] = vdev[i];
	}
	if (eal_test_init("sgpcap", 128, (int)SG_ARRAY_SIZE(CAPTURES), extra) < 0)
		fail_msg("rte_eal_init: %s", rte_strerror(rte_errno));
	eal_ok = true;
}

static int group_setup(void **state)
{
	const char *r = getenv("SG_SOURCE_ROOT");

	(void)state;
	if (r == NULL || snprintf(root, sizeof(root), "%s", r) >= (int)sizeof(root)) {
		print_error("SG_SOURCE_ROOT must name the source tree (meson test sets it)\n");
		return -1;
	}
	eal_up();
	return 0;
}

static void port_up(uint16_t port, bool *started)
{
	struct rte_eth_conf conf = { 0 };

	assert_int_equal(rte_eth_dev_configure(port, 1, 1, &conf), 0);
	assert_int_equal(rte_eth_rx_queue_setup(port, 0, 128, 0, NULL, E.pool), 0);
	assert_int_equal(rte_eth_tx_queue_setup(port, 0, 128, 0, NULL), 0);
	assert_int_equal(rte_eth_dev_start(port), 0);
	*started = true;
}

/* Install the session the capture's handshake made, as the handshake server would. */
static void install_session(void)
{
	const unsigned window = sg_sess_replay_window(E.tab);
	struct sg_rec_sa *sa = tc_sa_alloc(window);
	struct sg_rec_sa_params p = { .aead = E.aead, .epoch = 1 };
	struct sg_sess_new s = { 0 };
	uint32_t l, a;
	uint8_t fam, addr[16];

	/* Gateway side: rx = client_write, tx = server_write (RFC 5246 §6.3). */
	keys(&p.rx_key, &p.tx_key, &p.rx_iv, &p.tx_iv);
	/* Sequence numbers the Finished messages used are spent (RFC 6347 §4.1). */
	p.rx_seq = (uint64_t)E.cap.client_fin_seq + 1;
	p.tx_seq = (uint64_t)E.cap.server_fin_seq + 1;
	assert_int_equal(sg_rec_sa_init(sa, window, &p), 0);
	memcpy(&l, E.meta.gw_ip, 4);
	memcpy(&a, E.meta.cl_ip, 4);
	sg_sess_tuple_v4(&s.tuple, l, htons(E.meta.gw_port), a, htons(E.meta.cl_port));
	s.sa = sa;
	s.flags = SG_SESS_F_TUPLE;
	s.owner = 0;
	s.suite = E.cap.suite;
	assert_int_equal(sg_sess_insert(E.tab, &s, &E.id, NULL), 0);
	tc_sa_free(sa, window);
	/* udp mode: no token */
	assert_int_equal(sg_dp_session_attach(E.dp, E.id, (const uint8_t *)E.meta.identity,
	                                      (uint8_t)strlen(E.meta.identity), NULL),
	                 0);
	assert_int_equal(sg_dp_session_bport(E.dp, E.id, &fam, addr, &E.bport), 0);
	assert_int_equal(fam, 4);
	assert_memory_equal(addr, GWB4, 4);
}

static int setup(void **state)
{
	const struct capture *cp = *state;
	struct sg_sess_params sp = { .capacity = 64, .max_threads = 1, .flags = SG_SESS_P_LAZY };
	struct sg_dp_conf c = { 0 };
	uint8_t ms[MS_LEN];
	const struct sg_suite *su;
	char name[32];
	int port;

	memset(&E, 0, sizeof(E));
	E.capture = cp;
	load_meta(&E.meta);
	load_capture(&E.cap, &E.meta);

	/* The capture is what the JSON says it is. */
	assert_int_equal(E.cap.n, E.meta.dg_total);
	assert_int_equal(E.cap.n_cls[CLS_GATEWAY], E.meta.dg_gateway);
	assert_int_equal(E.cap.n_cls[CLS_HANDSHAKE], E.meta.dg_handshake);
	assert_int_equal(E.cap.n_cls[CLS_APP], E.meta.dg_app);
	assert_int_equal(E.cap.n_cls[CLS_ALERT], E.meta.dg_alert);
	assert_int_equal(E.cap.n_cls[CLS_APP], E.meta.n_lines);
	assert_int_equal(E.cap.n_down, E.meta.n_lines);
	assert_int_equal(E.cap.n_cls[CLS_ALERT], E.meta.close_notify ? 1 : 0);
	assert_true(E.cap.have_cr && E.cap.have_sr);
	assert_true(E.cap.client_fin_seq >= 0 && E.cap.server_fin_seq >= 0);
	assert_int_equal(E.cap.suite, E.meta.suite);
	su = sg_suite_find(E.cap.suite);
	assert_non_null(su);
	E.aead = (enum sg_aead)su->aead;

	load_master_secret(E.cap.client_random, ms);
	derive_key_block(E.meta.prf_hash, ms, E.cap.server_random, E.cap.client_random, E.key_block,
	                 2 * (sg_aead_key_len(E.aead) + sg_aead_iv_len(E.aead)));
	OPENSSL_cleanse(ms, sizeof(ms));

	snprintf(name, sizeof(name), "sgpcap_%s", cp->vdev);
	E.pool = rte_pktmbuf_pool_create(name, POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	assert_non_null(E.pool);
	assert_int_equal(rte_eth_dev_get_port_by_name(cp->vdev, &E.dev_port), 0);
	port_up(E.dev_port, &E.dev_started);
	snprintf(name, sizeof(name), "be_%s_rx", cp->vdev);
	E.be_rx = rte_ring_create(name, RING_SIZE, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "be_%s_tx", cp->vdev);
	E.be_tx = rte_ring_create(name, RING_SIZE, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	assert_non_null(E.be_rx);
	assert_non_null(E.be_tx);
	snprintf(name, sizeof(name), "be_%s", cp->vdev);
	port = rte_eth_from_rings(name, &E.be_rx, 1, &E.be_tx, 1, 0);
	assert_true(port >= 0);
	E.be_port = (uint16_t)port;
	port_up(E.be_port, &E.be_started);

	E.tab = sg_sess_table_create(&sp);
	assert_non_null(E.tab);
	c.n_workers = 1;
	c.n_ports = 2;
	dp_test_port(&c.ports[0], E.dev_port, SG_DP_ROLE_DEVICE, E.meta.gw_mac, E.meta.gw_ip, NULL,
	             24);
	dp_test_port(&c.ports[1], E.be_port, SG_DP_ROLE_BACKEND, GWB_MAC, GWB4, NULL, 24);
	c.dtls_port = E.meta.gw_port;
	dp_test_backend(&c, SG_DP_BACKEND_UDP, BE4, GWB4, 16);
	c.sessions = E.tab;
	c.pool = E.pool;
	E.dp = sg_dp_create(&c);
	assert_non_null(E.dp);
	assert_int_equal(sg_dp_neigh_set(E.dp, 1, 4, BE4, BE_MAC), 0);
	install_session();
	sg_dp_worker_online(E.dp, 0);
	return 0;
}

static void free_all(struct rte_mbuf **m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(m[i]);
}

static void release_held(void)
{
	free_all(E.held, E.n_held);
	E.n_held = 0;
}

static int teardown(void **state)
{
	struct rte_mbuf *m[RING_SIZE];
	unsigned n;

	(void)state;
	release_held();
	if (E.dp != NULL) {
		sg_dp_worker_offline(E.dp, 0);
		while ((n = sg_dp_punt_dequeue(E.dp, m, RING_SIZE)) != 0)
			free_all(m, n);
	}
	if (E.be_tx != NULL)
		while ((n = rte_ring_dequeue_burst(E.be_tx, (void **)m, RING_SIZE, NULL)) != 0)
			free_all(m, n);
	sg_dp_destroy(E.dp);
	sg_sess_table_destroy(E.tab);
	if (E.dev_started) {
		rte_eth_dev_stop(E.dev_port);
		rte_eth_dev_close(E.dev_port);
	}
	if (E.be_started) {
		rte_eth_dev_stop(E.be_port);
		rte_eth_dev_close(E.be_port);
	}
	rte_ring_free(E.be_rx);
	rte_ring_free(E.be_tx);
	/* No mbuf leaked: every one is back in the pool. */
	if (E.pool != NULL && rte_mempool_avail_count(E.pool) != POOL_SIZE) {
		print_error("%s: %u of %d mbufs back in the pool\n", E.capture->name,
		            rte_mempool_avail_count(E.pool), POOL_SIZE);
		return -1;
	}
	rte_mempool_free(E.pool);
	OPENSSL_cleanse(E.key_block, sizeof(E.key_block));
	return 0;
}

/* Poll until the file's frames are all in (net_pcap then returns nothing), bounded. */
static void replay(uint64_t rx_before)
{
	struct sg_dp_counters c;
	unsigned polls = 0;

	do {
		sg_dp_worker_poll(E.dp, 0);
		sg_dp_counters_sum(E.dp, &c);
	} while (c.rx < rx_before + E.cap.n && ++polls < MAX_POLLS);
	/* Nothing more comes: the file is at its end. */
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(sg_dp_worker_poll(E.dp, 0), 0);
	sg_dp_counters_sum(E.dp, &c);
	assert_int_equal(c.rx, rx_before + E.cap.n);
}

static uint64_t drops(const struct sg_dp_counters *c)
{
	uint64_t d = 0;

	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		d += c->drop[r];
	return d;
}

/* On a mismatch, the counters say where the packets went. */
static void print_drops(const struct sg_dp_counters *c)
{
	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		if (c->drop[r])
			print_message("%s: drop %s: %llu\n", E.capture->name,
			              sg_drop_name((enum sg_drop)r),
			              (unsigned long long)c->drop[r]);
}

static void check_invariant(const struct sg_dp_counters *c)
{
	assert_int_equal(c->rx,
	                 c->forwarded_up + c->forwarded_down + c->punted + c->consumed + drops(c));
}

/* A backend datagram: checksums, addresses, and the plaintext it carries. */
static void check_backend(struct rte_mbuf *m, const char *want)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *), *ip = f + 14, *udp = ip + 20;
	uint16_t ulen;

	assert_int_equal(m->nb_segs, 1);
	assert_true(m->data_len >= 14 + 20 + 8);
	assert_memory_equal(f, BE_MAC, 6);
	assert_memory_equal(f + 6, GWB_MAC, 6);
	assert_int_equal(sg_load_be16(f + 12), 0x0800);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(tc_csum(ip, 20, 0), 0xffff);
	assert_int_equal(ip[9], 17);
	assert_memory_equal(ip + 12, GWB4, 4);
	assert_memory_equal(ip + 16, BE4, 4);
	ulen = sg_load_be16(udp + 4);
	assert_int_equal(m->data_len, 14 + 20 + ulen);
	assert_int_equal(tc_csum_l4(4, ip + 12, ip + 16, 17, udp, ulen), 0);
	assert_int_equal(sg_load_be16(udp), E.bport); /* the session's own backend port */
	assert_int_equal(sg_load_be16(udp + 2), COAP_PORT);
	assert_int_equal(ulen - 8, strlen(want));
	assert_memory_equal(udp + 8, want, strlen(want));
}

/*
 * The punts of one pass: every handshake datagram of the client as it was
 * captured (ChangeCipherSpec and the encrypted Finished inside the flight),
 * and, when alerts is set, the close_notify as an authenticated alert.
 */
static void check_punts(bool alerts)
{
	struct rte_mbuf **m = E.held;
	unsigned n, next = 0, n_hs = 0, n_alert = 0;

	n = E.n_held = sg_dp_punt_dequeue(E.dp, m, RING_SIZE);

	for (unsigned k = 0; k < n; k++) {
		const struct sg_dp_meta *meta = sg_dp_meta(E.dp, m[k]);

		if (meta->punt == SG_DP_PUNT_HANDSHAKE) {
			uint8_t laddr[16], paddr[16];
			uint16_t lport, pport, len;
			const uint8_t *pl;
			const struct frame *f;

			while (next < E.cap.n && E.cap.f[next].cls != CLS_HANDSHAKE)
				next++;
			assert_true(next < E.cap.n);
			f = &E.cap.f[next++];
			assert_int_equal(
			        sg_dp_punt_udp(E.dp, m[k], laddr, paddr, &lport, &pport, &pl, &len),
			        0);
			assert_memory_equal(laddr + 12, E.meta.gw_ip, 4);
			assert_memory_equal(paddr + 12, E.meta.cl_ip, 4);
			assert_int_equal(ntohs(lport), E.meta.gw_port);
			assert_int_equal(ntohs(pport), E.meta.cl_port);
			assert_int_equal(len, f->pl_len);
			assert_memory_equal(pl, f->data + f->pl_off, len);
			n_hs++;
		} else {
			/* RFC 5246 §7.2: close_notify is alert level warning (1), description 0. */
			assert_int_equal(meta->punt, SG_DP_PUNT_ALERT);
			assert_true(alerts);
			assert_int_equal(meta->session, E.id);
			assert_int_equal(rte_pktmbuf_pkt_len(m[k]), 2);
			assert_int_equal(rte_pktmbuf_mtod(m[k], const uint8_t *)[0], 1);
			assert_int_equal(rte_pktmbuf_mtod(m[k], const uint8_t *)[1], 0);
			n_alert++;
		}
	}
	release_held();
	assert_int_equal(n_hs, E.cap.n_cls[CLS_HANDSHAKE]);
	assert_int_equal(n_alert, alerts ? E.cap.n_cls[CLS_ALERT] : 0);
}

/*
 * The gateway's replies in the file open with the client's side of the key
 * block (rx = server_write) and carry the echo server's answers: the keys
 * are right in both directions.
 */
static void check_replies(void)
{
	const unsigned window = SG_REPLAY_WINDOW_DEFAULT;
	struct sg_rec_sa *sa = tc_sa_alloc(window);
	struct sg_rec_sa_params p = { .aead = E.aead, .epoch = 1 };
	struct sg_rec_open_op ops[MAX_LINES];
	static uint8_t recs[MAX_LINES][FRAME_MAX];
	struct sg_rec_ctx *ctx = sg_rec_ctx_create(NULL);

	assert_non_null(ctx);
	keys(&p.tx_key, &p.rx_key, &p.tx_iv, &p.rx_iv);
	p.rx_seq = (uint64_t)E.cap.server_fin_seq + 1;
	p.tx_seq = (uint64_t)E.cap.client_fin_seq + 1;
	assert_int_equal(sg_rec_sa_init(sa, window, &p), 0);
	memset(ops, 0, sizeof(ops));
	for (unsigned k = 0; k < E.cap.n_down; k++) {
		const struct rec *r = &E.cap.down[k].r;

		memcpy(recs[k], E.cap.f[E.cap.down[k].frame].data + r->off, r->len);
		ops[k].rec = recs[k];
		ops[k].rec_len = r->len;
		ops[k].sa = sa;
	}
	assert_int_equal(sg_rec_open_burst(ctx, ops, E.cap.n_down), E.cap.n_down);
	for (unsigned k = 0; k < E.cap.n_down; k++) {
		assert_int_equal(ops[k].type, SG_DTLS_CT_APPLICATION_DATA);
		assert_int_equal(ops[k].pt_len, strlen(E.meta.replies[k]));
		assert_memory_equal(recs[k] + ops[k].pt_off, E.meta.replies[k], ops[k].pt_len);
	}
	sg_rec_ctx_free(ctx);
	tc_sa_free(sa, window);
}

/* ---- the test ---- */

static void test_replay(void **state)
{
	const unsigned n_app = E.cap.n_cls[CLS_APP], n_alert = E.cap.n_cls[CLS_ALERT];
	const unsigned n_hs = E.cap.n_cls[CLS_HANDSHAKE], n_gw = E.cap.n_cls[CLS_GATEWAY];
	struct rte_mbuf **m = E.held;
	struct sg_dp_counters c, c2;
	unsigned n;

	(void)state;
	check_replies();

	/* Pass 1: the capture as the gateway saw it. */
	replay(0);
	sg_dp_counters_sum(E.dp, &c);
	if (c.forwarded_up != n_app)
		print_drops(&c);
	n = E.n_held = rte_ring_dequeue_burst(E.be_tx, (void **)m, RING_SIZE, NULL);
	assert_int_equal(n, E.meta.n_lines);
	for (unsigned k = 0; k < n; k++)
		check_backend(m[k], E.meta.records[k]);
	release_held();
	check_punts(true);
	sg_dp_counters_sum(E.dp, &c);
	check_invariant(&c);
	assert_int_equal(c.forwarded_up, n_app);
	assert_int_equal(c.forwarded_down, 0);
	assert_int_equal(c.records_opened, n_app + n_alert);
	assert_int_equal(c.punted, n_hs + n_alert);
	assert_int_equal(c.punt_by[SG_DP_PUNT_HANDSHAKE], n_hs);
	assert_int_equal(c.punt_by[SG_DP_PUNT_ALERT], n_alert);
	/* The gateway's own frames, addressed to the client's MAC. */
	assert_int_equal(c.drop[SG_DROP_L2_NOT_FOR_US], n_gw);
	assert_int_equal(drops(&c), n_gw);

	/*
	 * Pass 2: the same file again (net_pcap reopens it on start). The session
	 * is still installed (the test, as control plane, did not end it on the
	 * close_notify): every record of it is a replay, nothing reaches the
	 * backend, the handshake datagrams are punted again.
	 */
	assert_int_equal(rte_eth_dev_stop(E.dev_port), 0);
	assert_int_equal(rte_eth_dev_start(E.dev_port), 0);
	replay(c.rx);
	assert_int_equal(rte_ring_count(E.be_tx), 0);
	check_punts(false);
	sg_dp_counters_sum(E.dp, &c2);
	check_invariant(&c2);
	assert_int_equal(c2.forwarded_up, c.forwarded_up);
	assert_int_equal(c2.records_opened, c.records_opened);
	assert_int_equal(c2.punt_by[SG_DP_PUNT_HANDSHAKE], 2 * n_hs);
	assert_int_equal(c2.punt_by[SG_DP_PUNT_ALERT], n_alert);
	assert_int_equal(c2.drop[SG_DROP_REPLAYED], n_app + n_alert);
	assert_int_equal(c2.drop[SG_DROP_L2_NOT_FOR_US], 2 * n_gw);
	assert_int_equal(drops(&c2), 2 * n_gw + n_app + n_alert);
}

int main(void)
{
	struct CMUnitTest tests[SG_ARRAY_SIZE(CAPTURES)];
	int fails;

	for (unsigned i = 0; i < SG_ARRAY_SIZE(CAPTURES); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate_setup_teardown(
		        test_replay, setup, teardown, (void *)&CAPTURES[i]);

		t.name = CAPTURES[i].name;
		tests[i] = t;
	}
	fails = _cmocka_run_group_tests("pcap_replay", tests, SG_ARRAY_SIZE(tests), group_setup,
	                                NULL);
	if (eal_ok)
		eal_test_fini();
	return fails;
}
