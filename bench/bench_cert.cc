// SPDX-License-Identifier: Apache-2.0
// Certificate benchmarks (issue 17): what the ECDHE-ECDSA handshake costs the
// server in control/handshake/hs_cert.c, beside OpenSSL's own calls in the
// same binary. One thread (the benchmark's); a P-256 PKI made at start with
// OpenSSL's API in a temporary directory (removed at exit), loaded through
// sg_hs_certs_create() as the gateway loads it.
//
//   cert_sign/p256/precomputed   SHA-256 of a ServerKeyExchange's signed bytes
//                                (client_random ‖ server_random ‖ ServerECDHParams,
//                                RFC 8422 §5.4: 133 bytes) + hs_cert_sign() with a
//                                nonce from the pool (refilled outside the timing)
//   cert_sign/p256/inline        the same with the pool empty: the nonce computed then
//   cert_refill/p256             sg_hs_certs_refill(): per nonce (items), the server CPU
//                                the gateway's tick spends to make the row above cheap
//   baseline_openssl_sign/p256/digestsign   EVP_DigestSignInit() + EVP_DigestSign()
//                                on the 133 bytes, a fresh EVP_MD_CTX each time (libssl)
//   baseline_openssl_sign/p256/pkey_sign    SHA-256 + EVP_PKEY_sign() on a reused context
//   cert_verify/p256             hs_cert_verify_sig(): a CertificateVerify from the
//                                client's point (the key rebuilt per call, as the engine has it)
//   baseline_openssl_verify/p256 EVP_PKEY_verify() with a key object made beforehand
//   cert_chain/p256/miss         hs_cert_verify_x509() of a client certificate (root CA,
//                                CRL) that is never in the cache: parse + X509_verify_cert
//   cert_chain/p256/hit          the same certificates again: the verified-chain cache
//   baseline_openssl_chain/p256  d2i_X509() + X509_verify_cert() as libssl does it, on a store
//                                with the same CA, CRL and flags (CRL_CHECK_ALL)
//   cert_rpk/p256                hs_cert_parse_rpk(): a raw public key and its SHA-256
//   baseline_openssl_rpk/p256    d2i_PUBKEY() of the same SubjectPublicKeyInfo + SHA-256
//
// items_per_second is operations per second of one core. Quote medians of
// --benchmark_repetitions=5 (docs/performance.md).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <ftw.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

extern "C" {
#include <stormgate/handshake.h>

#include "hs_cert.h"
}

namespace
{

constexpr unsigned kClients = 64;  // distinct client certificates the chain rows cycle
constexpr size_t kSignedLen = 133; // 32 + 32 + 4 + 65: RFC 8422 §5.4, P-256 share

EVP_PKEY *keygen()
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");

	if (k == nullptr)
		abort();
	return k;
}

X509 *make_cert(const char *cn, long serial, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key,
                bool ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	time_t now = time(nullptr);

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	ASN1_TIME_set(X509_getm_notBefore(x), now - 86400);
	ASN1_TIME_set(X509_getm_notAfter(x), now + 30 * 86400);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_set_pubkey(x, pub);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints,
	                                        ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		abort();
	X509_NAME_free(n);
	return x;
}

int remove_one(const char *p, const struct stat *, int, struct FTW *)
{
	return remove(p);
}

// The PKI and the loaded object, made once for every row.
struct Pki {
	char dir[64] = "/tmp/sg-bench-cert-XXXXXX";
	EVP_PKEY *ca_key, *srv_key;
	X509 *ca, *srv;
	// Each client's certificate_list after its 3-byte length: one ASN.1Cert (length, DER).
	std::vector<std::vector<uint8_t>> lists;
	std::vector<EVP_PKEY *> client_keys;
	std::string cert, key, ca_file, crl;
	X509_STORE *store; // the baseline's: the same CA and CRL

	std::string path(const char *name) const
	{
		return std::string(dir) + "/" + name;
	}

	void write(const char *name, int (*fn)(BIO *, void *), void *obj)
	{
		BIO *b = BIO_new_file(path(name).c_str(), "w");

		if (b == nullptr || fn(b, obj) != 1)
			abort();
		BIO_free(b);
	}

	Pki()
	{
		if (mkdtemp(dir) == nullptr)
			abort();
		ca_key = keygen();
		srv_key = keygen();
		ca = make_cert("Bench CA", 1, ca_key, nullptr, ca_key, true);
		srv = make_cert("gateway.bench", 2, srv_key, ca, ca_key, false);
		cert = path("srv.pem");
		key = path("srv.key");
		ca_file = path("ca.pem");
		crl = path("ca.crl");
		write(
		        "srv.pem", [](BIO *b, void *x) { return PEM_write_bio_X509(b, (X509 *)x); },
		        srv);
		write(
		        "srv.key",
		        [](BIO *b, void *k) {
			        return PEM_write_bio_PrivateKey(b, (EVP_PKEY *)k, nullptr, nullptr,
			                                        0, nullptr, nullptr);
		        },
		        srv_key);
		write(
		        "ca.pem", [](BIO *b, void *x) { return PEM_write_bio_X509(b, (X509 *)x); },
		        ca);
		// A CRL with 100 revoked serials none of the clients has.
		X509_CRL *c = X509_CRL_new();
		ASN1_TIME *t = ASN1_TIME_new();
		X509_CRL_set_version(c, 1);
		X509_CRL_set_issuer_name(c, X509_get_subject_name(ca));
		ASN1_TIME_set(t, time(nullptr) - 3600);
		X509_CRL_set1_lastUpdate(c, t);
		ASN1_TIME_set(t, time(nullptr) + 7 * 86400);
		X509_CRL_set1_nextUpdate(c, t);
		for (long s = 5000; s < 5100; s++) {
			X509_REVOKED *r = X509_REVOKED_new();
			ASN1_INTEGER *i = ASN1_INTEGER_new();
			ASN1_INTEGER_set(i, s);
			X509_REVOKED_set_serialNumber(r, i);
			X509_REVOKED_set_revocationDate(r, t);
			X509_CRL_add0_revoked(c, r);
			ASN1_INTEGER_free(i);
		}
		X509_CRL_sort(c);
		X509_CRL_sign(c, ca_key, EVP_sha256());
		write(
		        "ca.crl",
		        [](BIO *b, void *x) { return PEM_write_bio_X509_CRL(b, (X509_CRL *)x); },
		        c);
		store = X509_STORE_new();
		X509_STORE_add_cert(store, ca);
		X509_STORE_add_crl(store, c);
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
		X509_CRL_free(c);
		ASN1_TIME_free(t);
		for (unsigned i = 0; i < kClients; i++) {
			EVP_PKEY *k = keygen();
			std::string cn = "device-" + std::to_string(i);
			X509 *x = make_cert(cn.c_str(), 100 + i, k, ca, ca_key, false);
			int l = i2d_X509(x, nullptr);
			std::vector<uint8_t> list(3 + (size_t)l);
			uint8_t *p = list.data() + 3;

			list[0] = (uint8_t)(l >> 16);
			list[1] = (uint8_t)(l >> 8);
			list[2] = (uint8_t)l;
			i2d_X509(x, &p);
			lists.push_back(list);
			client_keys.push_back(k);
			X509_free(x);
		}
	}

	~Pki()
	{
		nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
		X509_STORE_free(store);
		for (EVP_PKEY *k : client_keys)
			EVP_PKEY_free(k);
		X509_free(ca);
		X509_free(srv);
		EVP_PKEY_free(ca_key);
		EVP_PKEY_free(srv_key);
	}

	struct sg_hs_certs *load(uint32_t sign_pool, uint32_t verify_cache) const
	{
		struct sg_hs_certs_conf conf = {};
		char err[256];

		conf.cert_file = cert.c_str();
		conf.key_file = key.c_str();
		conf.ca_file = ca_file.c_str();
		conf.crl_file = crl.c_str();
		conf.rpk = 1;
		conf.sign_pool = sign_pool;
		conf.verify_cache = verify_cache;
		struct sg_hs_certs *c = sg_hs_certs_create(&conf, err, sizeof(err));
		if (c == nullptr) {
			fprintf(stderr, "bench_cert: %s\n", err);
			abort();
		}
		return c;
	}
};

const Pki &pki()
{
	static Pki p;
	return p;
}

struct Signed {
	uint8_t bytes[kSignedLen];
	Signed()
	{
		RAND_bytes(bytes, sizeof(bytes));
	}
};

void BM_sign(benchmark::State &state, bool precomputed)
{
	constexpr uint32_t kPool = 4096;
	struct sg_hs_certs *c = pki().load(precomputed ? kPool : 1, 0);
	const struct hs_cert_set *s = sg_hs_certs_acquire(c);
	Signed m;
	uint8_t d[32], sig[HS_CERT_SIG_MAX];
	size_t sl;
	bool pre;
	uint64_t wrong = 0;
	struct sg_hs_certs_info info;

	if (precomputed)
		sg_hs_certs_refill(c, kPool);
	for (auto _ : state) {
		if (precomputed) {
			sg_hs_certs_info_get(c, &info);
			if (info.pool_ready == 0) {
				state.PauseTiming();
				sg_hs_certs_refill(c, kPool);
				state.ResumeTiming();
			}
		}
		m.bytes[0]++;
		SHA256(m.bytes, sizeof(m.bytes), d);
		if (hs_cert_sign(c, s, d, sizeof(d), sig, &sl, &pre) != 0)
			abort();
		wrong += pre != precomputed;
		benchmark::DoNotOptimize(sig);
	}
	if (wrong)
		state.SkipWithError("a signature did not take the path its row names");
	state.SetItemsProcessed((int64_t)state.iterations());
	sg_hs_certs_release(s);
	sg_hs_certs_free(c);
}

void BM_refill(benchmark::State &state)
{
	constexpr unsigned kBatch = 64, kPool = 16384;
	struct sg_hs_certs *c = pki().load(kPool, 0);
	unsigned ready = 0;

	for (auto _ : state) {
		if (ready + kBatch > kPool) {
			state.PauseTiming();
			sg_hs_certs_free(c);
			c = pki().load(kPool, 0);
			ready = 0;
			state.ResumeTiming();
		}
		if (sg_hs_certs_refill(c, kBatch) != kBatch)
			abort();
		ready += kBatch;
	}
	state.SetItemsProcessed((int64_t)state.iterations() * kBatch);
	sg_hs_certs_free(c);
}

void BM_openssl_digestsign(benchmark::State &state)
{
	Signed m;
	uint8_t sig[HS_CERT_SIG_MAX];

	for (auto _ : state) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		size_t sl = sizeof(sig);

		m.bytes[0]++;
		if (EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, pki().srv_key) != 1 ||
		    EVP_DigestSign(md, sig, &sl, m.bytes, sizeof(m.bytes)) != 1)
			abort();
		EVP_MD_CTX_free(md);
		benchmark::DoNotOptimize(sig);
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

void BM_openssl_pkey_sign(benchmark::State &state)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pki().srv_key, nullptr);
	Signed m;
	uint8_t d[32], sig[HS_CERT_SIG_MAX];

	if (ctx == nullptr || EVP_PKEY_sign_init(ctx) != 1)
		abort();
	for (auto _ : state) {
		size_t sl = sizeof(sig);

		m.bytes[0]++;
		SHA256(m.bytes, sizeof(m.bytes), d);
		if (EVP_PKEY_sign(ctx, sig, &sl, d, sizeof(d)) != 1)
			abort();
		benchmark::DoNotOptimize(sig);
	}
	state.SetItemsProcessed((int64_t)state.iterations());
	EVP_PKEY_CTX_free(ctx);
}

// kClients signatures by the clients' keys over random digests, and their points.
struct Verifies {
	uint8_t digest[kClients][32];
	uint8_t sig[kClients][HS_CERT_SIG_MAX];
	size_t sig_len[kClients];
	struct hs_peer_key key[kClients];

	Verifies()
	{
		for (unsigned i = 0; i < kClients; i++) {
			EVP_PKEY *k = pki().client_keys[i];
			EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, nullptr);
			uint8_t spki[128], hash[32], *p = spki;
			int l = i2d_PUBKEY(k, &p);

			RAND_bytes(digest[i], 32);
			sig_len[i] = sizeof(sig[i]);
			if (EVP_PKEY_sign_init(ctx) != 1 ||
			    EVP_PKEY_sign(ctx, sig[i], &sig_len[i], digest[i], 32) != 1 ||
			    hs_cert_parse_rpk(spki, (size_t)l, &key[i], hash) != 0)
				abort();
			EVP_PKEY_CTX_free(ctx);
		}
	}
};

void BM_verify(benchmark::State &state)
{
	static Verifies v;
	unsigned i = 0;

	for (auto _ : state) {
		if (hs_cert_verify_sig(&v.key[i], SG_TLS_SIGSCHEME_ECDSA_SHA256, v.digest[i], 32,
		                       v.sig[i], v.sig_len[i]) != 0)
			abort();
		i = (i + 1) % kClients;
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

void BM_openssl_verify(benchmark::State &state)
{
	static Verifies v;
	std::vector<EVP_PKEY_CTX *> ctx;
	unsigned i = 0;

	for (unsigned j = 0; j < kClients; j++) {
		ctx.push_back(EVP_PKEY_CTX_new(pki().client_keys[j], nullptr));
		if (EVP_PKEY_verify_init(ctx[j]) != 1)
			abort();
	}
	for (auto _ : state) {
		if (EVP_PKEY_verify(ctx[i], v.sig[i], v.sig_len[i], v.digest[i], 32) != 1)
			abort();
		i = (i + 1) % kClients;
	}
	state.SetItemsProcessed((int64_t)state.iterations());
	for (EVP_PKEY_CTX *x : ctx)
		EVP_PKEY_CTX_free(x);
}

void BM_chain(benchmark::State &state, bool hit)
{
	// miss: a cache of one entry and two certificates taking turns in it.
	struct sg_hs_certs *c = pki().load(0, hit ? 0 : 1);
	const struct hs_cert_set *s = sg_hs_certs_acquire(c);
	struct hs_peer_key key;
	uint8_t id[SG_TLS_PSK_IDENTITY_MAX];
	uint16_t idl;
	unsigned i = 0;
	int64_t now = time(nullptr);
	struct sg_hs_certs_info info;

	for (unsigned j = 0; hit && j < kClients; j++) // warm
		hs_cert_verify_x509(c, s, pki().lists[j].data(), pki().lists[j].size(), now, &key,
		                    id, &idl);
	sg_hs_certs_info_get(c, &info);
	uint64_t hits = info.cache_hits;
	for (auto _ : state) {
		const std::vector<uint8_t> &l = pki().lists[i];

		int rc = hs_cert_verify_x509(c, s, l.data(), l.size(), now, &key, id, &idl);

		if (rc != 0) {
			state.SkipWithError(
			        ("verification failed: counter " + std::to_string(rc)).c_str());
			break;
		}
		i = (i + 1) % kClients;
	}
	sg_hs_certs_info_get(c, &info);
	if ((info.cache_hits - hits == (uint64_t)state.iterations()) != hit)
		state.SkipWithError("the cache did not do what the row names");
	state.SetItemsProcessed((int64_t)state.iterations());
	sg_hs_certs_release(s);
	sg_hs_certs_free(c);
}

void BM_openssl_chain(benchmark::State &state)
{
	unsigned i = 0;
	time_t now = time(nullptr);

	for (auto _ : state) {
		const std::vector<uint8_t> &l = pki().lists[i];
		const uint8_t *p = l.data() + 3;
		X509 *x = d2i_X509(nullptr, &p, (long)l.size() - 3);
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();

		if (x == nullptr || X509_STORE_CTX_init(ctx, pki().store, x, nullptr) != 1 ||
		    X509_STORE_CTX_set_default(ctx, "ssl_client") != 1)
			abort();
		X509_STORE_CTX_set_time(ctx, 0, now);
		if (X509_verify_cert(ctx) != 1)
			abort();
		X509_STORE_CTX_free(ctx);
		X509_free(x);
		i = (i + 1) % kClients;
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

void BM_rpk(benchmark::State &state)
{
	std::vector<std::vector<uint8_t>> spki;
	struct hs_peer_key key;
	uint8_t hash[32];
	unsigned i = 0;

	for (EVP_PKEY *k : pki().client_keys) {
		std::vector<uint8_t> b((size_t)i2d_PUBKEY(k, nullptr));
		uint8_t *p = b.data();
		i2d_PUBKEY(k, &p);
		spki.push_back(b);
	}
	for (auto _ : state) {
		if (hs_cert_parse_rpk(spki[i].data(), spki[i].size(), &key, hash) != 0)
			abort();
		i = (i + 1) % kClients;
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

void BM_openssl_rpk(benchmark::State &state)
{
	std::vector<std::vector<uint8_t>> spki;
	uint8_t hash[32];
	unsigned i = 0;

	for (EVP_PKEY *k : pki().client_keys) {
		std::vector<uint8_t> b((size_t)i2d_PUBKEY(k, nullptr));
		uint8_t *p = b.data();
		i2d_PUBKEY(k, &p);
		spki.push_back(b);
	}
	for (auto _ : state) {
		const uint8_t *p = spki[i].data();
		EVP_PKEY *k = d2i_PUBKEY(nullptr, &p, (long)spki[i].size());

		if (k == nullptr)
			abort();
		SHA256(spki[i].data(), spki[i].size(), hash);
		EVP_PKEY_free(k);
		i = (i + 1) % kClients;
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

void BM_sign_precomputed(benchmark::State &state)
{
	BM_sign(state, true);
}

void BM_sign_inline(benchmark::State &state)
{
	BM_sign(state, false);
}

void BM_chain_miss(benchmark::State &state)
{
	BM_chain(state, false);
}

void BM_chain_hit(benchmark::State &state)
{
	BM_chain(state, true);
}

int register_all()
{
	struct Row {
		const char *name;
		void (*fn)(benchmark::State &);
	};
	const Row rows[] = {
		{ "cert_sign/p256/precomputed", BM_sign_precomputed },
		{ "cert_sign/p256/inline", BM_sign_inline },
		{ "cert_refill/p256", BM_refill },
		{ "baseline_openssl_sign/p256/digestsign", BM_openssl_digestsign },
		{ "baseline_openssl_sign/p256/pkey_sign", BM_openssl_pkey_sign },
		{ "cert_verify/p256", BM_verify },
		{ "baseline_openssl_verify/p256", BM_openssl_verify },
		{ "cert_chain/p256/miss", BM_chain_miss },
		{ "cert_chain/p256/hit", BM_chain_hit },
		{ "baseline_openssl_chain/p256", BM_openssl_chain },
		{ "cert_rpk/p256", BM_rpk },
		{ "baseline_openssl_rpk/p256", BM_openssl_rpk },
	};

	for (const Row &r : rows)
		benchmark::RegisterBenchmark(r.name, r.fn)->Unit(benchmark::kMicrosecond);
	return 0;
}

const int registered = register_all();

} // namespace
