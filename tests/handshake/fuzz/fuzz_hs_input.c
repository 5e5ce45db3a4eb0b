/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the engine's datagram input (record framing by the
 * record layer's parser, then the handshake state machine). The input is a
 * sequence of datagrams, each prefixed by a 2-byte length (so up to 64 KB,
 * past SG_HS_DGRAM_MAX: tests/fuzz.sh raises -max_len), all from one peer,
 * with a clock that moves between them so timers fire too. Two engines get
 * every datagram: one without cookies, so a hello reaches the full state
 * machine, and one that requires them, so every hello goes through the
 * cookie MAC. A third, without cookies, gets the same datagrams in bursts
 * of up to SG_HS_BURST_MAX through sg_hs_input_burst(), whose key exchanges
 * are prepared and derived together before the burst runs. Nothing any of
 * them is fed may crash it, leak, or leave a sanitizer report, and an
 * install carries the tag of the datagram that completed its handshake
 * (each datagram's tag: its offset in the input; in a burst, one of its
 * datagrams'). A fourth, without cookies, has certificates (a P-256 key and
 * a self-signed certificate made at its first input, which is also the CA
 * it accepts clients from; client auth required, raw public keys taken), so
 * the ECDHE-ECDSA suites, the certificate-type extensions and the client's
 * Certificate, ClientKeyExchange and CertificateVerify are reachable.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stormgate/bytes.h>
#include <stormgate/handshake.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[16] = { 0x4a, 0x10, 0x2f, 0xe1, 0x7c, 0x33, 0x09, 0xb8,
	                         0x5d, 0x61, 0x92, 0xa4, 0x0e, 0xc7, 0x38, 0xf5 };

static int lookup(void *ctx, const uint8_t *identity, size_t identity_len, const uint8_t *sni,
                  size_t sni_len, struct sg_hs_cred *cred)
{
	(void)ctx;
	(void)sni;
	(void)sni_len;
	if (identity_len == 0 || identity[0] != 'd')
		return -ENOENT;
	memcpy(cred->psk, key, sizeof(key));
	cred->psk_len = sizeof(key);
	return 0;
}

static int sink(void *ctx, const struct sg_hs_peer *peer, const uint8_t *d, size_t len)
{
	(void)ctx;
	(void)peer;
	(void)d;
	(void)len;
	return 0;
}

/* ctx: the tag of the datagram being fed, which is the one completing a handshake. */
static int install(void *ctx, const struct sg_hs_result *res)
{
	if (res->tag != *(const uint64_t *)ctx)
		abort();
	return 0;
}

/* ctx: the burst's tags, [first, end): the completing datagram is one of them. */
static int install_burst(void *ctx, const struct sg_hs_result *res)
{
	const uint64_t *span = ctx;

	if (res->tag < span[0] || res->tag >= span[1])
		abort();
	return 0;
}

static int cid_alloc(void *ctx, const struct sg_hs_peer *peer, uint8_t *cid)
{
	(void)ctx;
	(void)peer;
	memset(cid, 0x5a, 8);
	return 0;
}

static void cid_release(void *ctx, const uint8_t *cid)
{
	(void)ctx;
	(void)cid;
}

/* Any client key or certificate identity is known (the fuzzer cannot make a store's key). */
static int cert_lookup(void *ctx, enum sg_hs_auth kind, const uint8_t *k, size_t k_len,
                       const uint8_t *sni, size_t sni_len, struct sg_hs_cred *cred,
                       uint8_t *identity, uint16_t *identity_len)
{
	(void)ctx;
	(void)k;
	(void)k_len;
	(void)sni;
	(void)sni_len;
	(void)cred;
	if (kind == SG_HS_AUTH_RPK) {
		memcpy(identity, "d-rpk", 5);
		*identity_len = 5;
	}
	return 0;
}

static char cert_dir[64], cert_pem[96], key_pem[96];

static void cert_files_remove(void)
{
	unlink(cert_pem);
	unlink(key_pem);
	rmdir(cert_dir);
}

/* A P-256 key and its self-signed certificate, in PEM files of a temporary directory. */
static bool cert_files_make(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *c = X509_new();
	FILE *f1 = NULL, *f2 = NULL;
	bool ok = false;

	strcpy(cert_dir, "/tmp/sg-fuzz-hs-XXXXXX");
	if (k == NULL || c == NULL || mkdtemp(cert_dir) == NULL)
		goto out;
	snprintf(cert_pem, sizeof(cert_pem), "%s/cert.pem", cert_dir);
	snprintf(key_pem, sizeof(key_pem), "%s/key.pem", cert_dir);
	atexit(cert_files_remove);
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
	X509_gmtime_adj(X509_getm_notBefore(c), -86400L * 365 * 10);
	X509_gmtime_adj(X509_getm_notAfter(c), 86400L * 365 * 10);
	X509_set_pubkey(c, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"fuzz", -1, -1, 0);
	X509_set_issuer_name(c, X509_get_subject_name(c));
	f1 = fopen(cert_pem, "w");
	f2 = fopen(key_pem, "w");
	ok = X509_sign(c, k, EVP_sha256()) > 0 && f1 && f2 && PEM_write_X509(f1, c) == 1 &&
	     PEM_write_PrivateKey(f2, k, NULL, NULL, 0, NULL, NULL) == 1;
out:
	if (f1)
		fclose(f1);
	if (f2)
		fclose(f2);
	X509_free(c);
	EVP_PKEY_free(k);
	return ok;
}

static struct sg_hs_certs *certs_of_fuzzer(void)
{
	static struct sg_hs_certs *certs;
	struct sg_hs_certs_conf cc = { .client_auth = SG_HS_CLIENT_AUTH_REQUIRE, .rpk = 1 };
	char err[256];

	if (certs != NULL || !cert_files_make())
		return certs;
	cc.cert_file = cc.ca_file = cert_pem;
	cc.key_file = key_pem;
	cc.sign_pool = 4;
	certs = sg_hs_certs_create(&cc, err, sizeof(err));
	return certs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t cookie_policy[4] = { SG_HS_COOKIE_NEVER, SG_HS_COOKIE_ALWAYS,
		                                  SG_HS_COOKIE_NEVER, SG_HS_COOKIE_NEVER };
	static struct sg_hs_engine *e[4];
	static const uint8_t single[3] = { 0, 1, 3 }; /* one datagram at a time; 2: bursts */
	static uint64_t tag, span[2];
	struct sg_hs_dgram burst[SG_HS_BURST_MAX];
	unsigned n = 0;
	struct sg_hs_peer peer = { .pport = 1, .lport = 2 };
	struct sg_hs_time now = { .mono_ms = 1000, .unix_s = 1700000000 };
	size_t off = 0;

	for (int i = 0; i < 4; i++) {
		struct sg_hs_config conf = {
			.max_handshakes = 4,
			.cookie_policy = cookie_policy[i],
			.tickets = 1,
			.cid_len = 8,
			.mtu = 256,
			.ops = { .ctx = &tag,
			         .psk_lookup = lookup,
			         .send = sink,
			         .install = install,
			         .cid_alloc = cid_alloc,
			         .cid_release = cid_release },
		};

		if (i == 2) {
			conf.ops.ctx = span;
			conf.ops.install = install_burst;
		}
		if (i == 3) {
			conf.certs = certs_of_fuzzer();
			conf.ops.cert_lookup = cert_lookup;
			if (conf.certs == NULL)
				abort(); /* the harness itself is broken: say so, do not fuzz less
				          */
		}
		if (e[i] == NULL)
			e[i] = sg_hs_engine_create(&conf);
		if (e[i] == NULL)
			return 0;
	}
	while (off + 2 <= size) {
		size_t len = sg_load_be16(data + off);

		off += 2;
		if (len > size - off)
			len = size - off;
		tag = off;
		for (unsigned i = 0; i < sizeof(single); i++)
			sg_hs_input(e[single[i]], now, &peer, data + off, len, tag);
		if (n == 0)
			span[0] = off;
		burst[n++] = (struct sg_hs_dgram){
			.peer = peer, .data = data + off, .len = len, .tag = off
		};
		off += len;
		span[1] = off + 1;
		if (n == SG_HS_BURST_MAX) {
			sg_hs_input_burst(e[2], now, burst, n);
			n = 0;
		}
		now.mono_ms += 700;
		for (unsigned i = 0; i < sizeof(single); i++)
			sg_hs_tick(e[single[i]], now);
	}
	if (n > 0)
		sg_hs_input_burst(e[2], now, burst, n);
	/* Let every handshake of this input time out, so inputs do not interfere. */
	now.mono_ms += 3600 * 1000;
	for (int i = 0; i < 4; i++)
		sg_hs_tick(e[i], now);
	return 0;
}
