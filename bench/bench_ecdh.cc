// SPDX-License-Identifier: Apache-2.0
// ECDH benchmarks: which packaged library computes the handshake engine's
// X25519 (RFC 7748) fastest on this machine (docs/handshake.md, "X25519:
// measured choice"; docs/performance.md). One thread (the benchmark's); no
// engine involved: each row is one library's calls, as the engine would make
// them, over a table of 64 random keys so no row profits from a warm single key.
//
//   x25519_keygen/<impl>   a fresh key pair: random scalar in, public share out
//   x25519_derive/<impl>   the shared secret of a private key and a peer's share
//   p256_keygen/openssl_evp, p256_derive/openssl_evp   secp256r1, for the record
//
// impl:
//   openssl_evp      OpenSSL 3.0 EVP as control/handshake did it before issue 16:
//                    EVP_PKEY_keygen() on a reused context, then the raw public key;
//                    derive with a fresh EVP_PKEY_CTX on our key and a reused peer
//                    key object refilled by EVP_PKEY_set1_encoded_public_key()
//   openssl_raw      OpenSSL's lowest public path: EVP_PKEY_new_raw_private_key()
//                    from 32 random bytes (it computes the public key), then as above;
//                    the derive rebuilds our key from its 32 bytes (what a slot that
//                    keeps only the private key would pay with OpenSSL)
//   openssl_fromdata derive only: our key rebuilt by EVP_PKEY_fromdata() from the
//                    private and the public key (no second scalar multiplication)
//   sodium           libsodium 1.0.18: crypto_scalarmult_curve25519_base() (keygen),
//                    crypto_scalarmult_curve25519() (derive)
//   sodium_ed25519   libsodium's fixed-base table on Edwards25519
//                    (crypto_scalarmult_ed25519_base_noclamp) mapped to the
//                    Montgomery u by crypto_sign_ed25519_pk_to_curve25519()
//   nettle           Nettle 3.8 (GnuTLS's): curve25519_mul_g(), curve25519_mul()
//
// The random scalars are drawn before the timed loop (the engine draws them from
// its DRBG buffer, the same for every implementation). items_per_second is
// operations per second of one core.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <nettle/curve25519.h>

namespace
{

constexpr unsigned kKeys = 64;

struct Keys {
	uint8_t priv[kKeys][32];
	uint8_t pub[kKeys][32]; // the matching public shares (libsodium)
	uint8_t peer[kKeys][32];
};

const Keys &keys()
{
	static Keys k = [] {
		Keys t;
		if (sodium_init() < 0)
			abort();
		RAND_bytes(&t.priv[0][0], sizeof(t.priv));
		for (unsigned i = 0; i < kKeys; i++) {
			uint8_t other[32];

			// RFC 7748 §5 clamping, so every implementation sees the same scalar.
			t.priv[i][0] &= 248;
			t.priv[i][31] &= 127;
			t.priv[i][31] |= 64;
			crypto_scalarmult_curve25519_base(t.pub[i], t.priv[i]);
			RAND_bytes(other, sizeof(other));
			crypto_scalarmult_curve25519_base(t.peer[i], other);
		}
		return t;
	}();
	return k;
}

void BM_keygen_openssl_evp(benchmark::State &state)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(nullptr, "X25519", nullptr);
	uint8_t pub[32];

	if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) != 1) {
		state.SkipWithError("EVP X25519 keygen context");
		return;
	}
	for (auto _ : state) {
		EVP_PKEY *k = nullptr;
		size_t len = sizeof(pub);

		if (EVP_PKEY_keygen(ctx, &k) != 1 || EVP_PKEY_get_raw_public_key(k, pub, &len) != 1)
			state.SkipWithError("keygen");
		benchmark::DoNotOptimize(pub);
		EVP_PKEY_free(k);
	}
	state.SetItemsProcessed(state.iterations());
	EVP_PKEY_CTX_free(ctx);
}

void BM_keygen_openssl_raw(benchmark::State &state)
{
	const Keys &ks = keys();
	uint8_t pub[32];
	unsigned i = 0;

	for (auto _ : state) {
		EVP_PKEY *k = EVP_PKEY_new_raw_private_key_ex(nullptr, "X25519", nullptr,
		                                              ks.priv[i++ % kKeys], 32);
		size_t len = sizeof(pub);

		if (k == nullptr || EVP_PKEY_get_raw_public_key(k, pub, &len) != 1)
			state.SkipWithError("raw key");
		benchmark::DoNotOptimize(pub);
		EVP_PKEY_free(k);
	}
	state.SetItemsProcessed(state.iterations());
}

void BM_keygen_sodium(benchmark::State &state)
{
	const Keys &ks = keys();
	uint8_t pub[32];
	unsigned i = 0;

	for (auto _ : state) {
		if (crypto_scalarmult_curve25519_base(pub, ks.priv[i++ % kKeys]) != 0)
			state.SkipWithError("scalarmult_base");
		benchmark::DoNotOptimize(pub);
	}
	state.SetItemsProcessed(state.iterations());
}

void BM_keygen_sodium_ed25519(benchmark::State &state)
{
	const Keys &ks = keys();
	uint8_t ed[32], pub[32];
	unsigned i = 0;

	// The Edwards point of a clamped scalar maps to the same X25519 share.
	crypto_scalarmult_ed25519_base_noclamp(ed, ks.priv[0]);
	if (crypto_sign_ed25519_pk_to_curve25519(pub, ed) != 0 || memcmp(pub, ks.pub[0], 32) != 0) {
		state.SkipWithError("ed25519 map disagrees with scalarmult_base");
		return;
	}
	for (auto _ : state) {
		if (crypto_scalarmult_ed25519_base_noclamp(ed, ks.priv[i++ % kKeys]) != 0 ||
		    crypto_sign_ed25519_pk_to_curve25519(pub, ed) != 0)
			state.SkipWithError("ed25519 base");
		benchmark::DoNotOptimize(pub);
	}
	state.SetItemsProcessed(state.iterations());
}

void BM_keygen_nettle(benchmark::State &state)
{
	const Keys &ks = keys();
	uint8_t pub[32];
	unsigned i = 0;

	curve25519_mul_g(pub, ks.priv[0]);
	if (memcmp(pub, ks.pub[0], 32) != 0) {
		state.SkipWithError("nettle disagrees with libsodium");
		return;
	}
	for (auto _ : state) {
		curve25519_mul_g(pub, ks.priv[i++ % kKeys]);
		benchmark::DoNotOptimize(pub);
	}
	state.SetItemsProcessed(state.iterations());
}

// Our key objects for the OpenSSL derive rows, made before the timed loop.
std::vector<EVP_PKEY *> openssl_keys()
{
	const Keys &ks = keys();
	std::vector<EVP_PKEY *> v;

	for (unsigned i = 0; i < kKeys; i++)
		v.push_back(EVP_PKEY_new_raw_private_key_ex(nullptr, "X25519", nullptr, ks.priv[i],
		                                            32));
	return v;
}

// One derive as control/handshake did it (hs_crypto.c before issue 16).
bool openssl_derive(EVP_PKEY *mine, EVP_PKEY *theirs, const uint8_t *peer, uint8_t out[32])
{
	EVP_PKEY_CTX *ctx;
	size_t len = 32;
	bool ok;

	if (EVP_PKEY_set1_encoded_public_key(theirs, peer, 32) != 1)
		return false;
	ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, mine, nullptr);
	ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1 &&
	     EVP_PKEY_derive_set_peer_ex(ctx, theirs, 0) == 1 &&
	     EVP_PKEY_derive(ctx, out, &len) == 1 && len == 32;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

void BM_derive_openssl_evp(benchmark::State &state)
{
	const Keys &ks = keys();
	std::vector<EVP_PKEY *> mine = openssl_keys();
	EVP_PKEY *theirs =
	        EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, ks.peer[0], 32);
	uint8_t out[32];
	unsigned i = 0;

	for (auto _ : state) {
		unsigned j = i++ % kKeys;

		if (!openssl_derive(mine[j], theirs, ks.peer[j], out))
			state.SkipWithError("derive");
		benchmark::DoNotOptimize(out);
	}
	state.SetItemsProcessed(state.iterations());
	for (EVP_PKEY *k : mine)
		EVP_PKEY_free(k);
	EVP_PKEY_free(theirs);
}

void BM_derive_openssl_raw(benchmark::State &state)
{
	const Keys &ks = keys();
	EVP_PKEY *theirs =
	        EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, ks.peer[0], 32);
	uint8_t out[32];
	unsigned i = 0;

	for (auto _ : state) {
		unsigned j = i++ % kKeys;
		EVP_PKEY *mine =
		        EVP_PKEY_new_raw_private_key_ex(nullptr, "X25519", nullptr, ks.priv[j], 32);

		if (mine == nullptr || !openssl_derive(mine, theirs, ks.peer[j], out))
			state.SkipWithError("derive");
		benchmark::DoNotOptimize(out);
		EVP_PKEY_free(mine);
	}
	state.SetItemsProcessed(state.iterations());
	EVP_PKEY_free(theirs);
}

void BM_derive_openssl_fromdata(benchmark::State &state)
{
	const Keys &ks = keys();
	EVP_PKEY_CTX *imp = EVP_PKEY_CTX_new_from_name(nullptr, "X25519", nullptr);
	EVP_PKEY *theirs =
	        EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, ks.peer[0], 32);
	uint8_t out[32], priv[32], pub[32];
	unsigned i = 0;

	if (imp == nullptr || EVP_PKEY_fromdata_init(imp) != 1) {
		state.SkipWithError("EVP X25519 import context");
		return;
	}
	for (auto _ : state) {
		unsigned j = i++ % kKeys;
		EVP_PKEY *mine = nullptr;
		OSSL_PARAM params[3];

		memcpy(priv, ks.priv[j], 32);
		memcpy(pub, ks.pub[j], 32);
		params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, priv, 32);
		params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 32);
		params[2] = OSSL_PARAM_construct_end();
		if (EVP_PKEY_fromdata(imp, &mine, EVP_PKEY_KEYPAIR, params) != 1 ||
		    !openssl_derive(mine, theirs, ks.peer[j], out))
			state.SkipWithError("derive");
		benchmark::DoNotOptimize(out);
		EVP_PKEY_free(mine);
	}
	state.SetItemsProcessed(state.iterations());
	EVP_PKEY_free(theirs);
	EVP_PKEY_CTX_free(imp);
}

void BM_derive_sodium(benchmark::State &state)
{
	const Keys &ks = keys();
	uint8_t out[32];
	unsigned i = 0;

	for (auto _ : state) {
		unsigned j = i++ % kKeys;

		if (crypto_scalarmult_curve25519(out, ks.priv[j], ks.peer[j]) != 0)
			state.SkipWithError("scalarmult");
		benchmark::DoNotOptimize(out);
	}
	state.SetItemsProcessed(state.iterations());
}

void BM_derive_nettle(benchmark::State &state)
{
	const Keys &ks = keys();
	uint8_t out[32], ref[32];
	unsigned i = 0;

	curve25519_mul(out, ks.priv[0], ks.peer[0]);
	if (crypto_scalarmult_curve25519(ref, ks.priv[0], ks.peer[0]) != 0 ||
	    memcmp(out, ref, 32) != 0) {
		state.SkipWithError("nettle disagrees with libsodium");
		return;
	}
	for (auto _ : state) {
		unsigned j = i++ % kKeys;

		curve25519_mul(out, ks.priv[j], ks.peer[j]);
		benchmark::DoNotOptimize(out);
	}
	state.SetItemsProcessed(state.iterations());
}

// P-256 as the engine does it: keygen keeps the point and the scalar; derive
// rebuilds our key from them, then the EVP derive (hs_ecdh.c).
struct P256Key {
	uint8_t scalar[32];
	uint8_t pub[65];
};

bool p256_keygen(EVP_PKEY_CTX *ctx, P256Key *out)
{
	EVP_PKEY *k = nullptr;
	BIGNUM *priv = nullptr;
	size_t len = 0;
	bool ok = EVP_PKEY_keygen(ctx, &k) == 1 &&
	          EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out->pub,
	                                          sizeof(out->pub), &len) == 1 &&
	          len == 65 && EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1 &&
	          BN_bn2nativepad(priv, out->scalar, 32) == 32;

	BN_clear_free(priv);
	EVP_PKEY_free(k);
	return ok;
}

EVP_PKEY_CTX *p256_keygen_ctx()
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);

	if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_group_name(ctx, "P-256") != 1) {
		EVP_PKEY_CTX_free(ctx);
		return nullptr;
	}
	return ctx;
}

void BM_p256_keygen(benchmark::State &state)
{
	EVP_PKEY_CTX *ctx = p256_keygen_ctx();
	P256Key k;

	if (ctx == nullptr) {
		state.SkipWithError("EVP P-256 keygen context");
		return;
	}
	for (auto _ : state) {
		if (!p256_keygen(ctx, &k))
			state.SkipWithError("keygen");
		benchmark::DoNotOptimize(k);
	}
	state.SetItemsProcessed(state.iterations());
	EVP_PKEY_CTX_free(ctx);
}

void BM_p256_derive(benchmark::State &state)
{
	EVP_PKEY_CTX *gen = p256_keygen_ctx(),
	             *imp = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
	std::vector<P256Key> mine(kKeys), peers(kKeys);
	EVP_PKEY *theirs = nullptr;
	uint8_t out[32];
	unsigned i = 0;

	if (gen == nullptr || imp == nullptr || EVP_PKEY_fromdata_init(imp) != 1 ||
	    EVP_PKEY_keygen(gen, &theirs) != 1) {
		state.SkipWithError("EVP P-256 contexts");
		return;
	}
	for (unsigned j = 0; j < kKeys; j++)
		if (!p256_keygen(gen, &mine[j]) || !p256_keygen(gen, &peers[j]))
			state.SkipWithError("keygen");
	for (auto _ : state) {
		unsigned j = i++ % kKeys;
		OSSL_PARAM params[4];
		EVP_PKEY *me = nullptr;
		EVP_PKEY_CTX *ctx = nullptr;
		size_t len = 32;

		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
		                                             const_cast<char *>("P-256"), 0);
		params[1] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, mine[j].scalar, 32);
		params[2] =
		        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, mine[j].pub, 65);
		params[3] = OSSL_PARAM_construct_end();
		if (EVP_PKEY_set1_encoded_public_key(theirs, peers[j].pub, 65) != 1 ||
		    EVP_PKEY_fromdata(imp, &me, EVP_PKEY_KEYPAIR, params) != 1 ||
		    (ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, me, nullptr)) == nullptr ||
		    EVP_PKEY_derive_init(ctx) != 1 ||
		    EVP_PKEY_derive_set_peer_ex(ctx, theirs, 0) != 1 ||
		    EVP_PKEY_derive(ctx, out, &len) != 1)
			state.SkipWithError("derive");
		benchmark::DoNotOptimize(out);
		EVP_PKEY_CTX_free(ctx);
		EVP_PKEY_free(me);
	}
	state.SetItemsProcessed(state.iterations());
	EVP_PKEY_free(theirs);
	EVP_PKEY_CTX_free(imp);
	EVP_PKEY_CTX_free(gen);
}

int register_all()
{
	struct Row {
		const char *name;
		void (*fn)(benchmark::State &);
	};
	const Row rows[] = {
		{ "x25519_keygen/openssl_evp", BM_keygen_openssl_evp },
		{ "x25519_keygen/openssl_raw", BM_keygen_openssl_raw },
		{ "x25519_keygen/sodium", BM_keygen_sodium },
		{ "x25519_keygen/sodium_ed25519", BM_keygen_sodium_ed25519 },
		{ "x25519_keygen/nettle", BM_keygen_nettle },
		{ "x25519_derive/openssl_evp", BM_derive_openssl_evp },
		{ "x25519_derive/openssl_raw", BM_derive_openssl_raw },
		{ "x25519_derive/openssl_fromdata", BM_derive_openssl_fromdata },
		{ "x25519_derive/sodium", BM_derive_sodium },
		{ "x25519_derive/nettle", BM_derive_nettle },
		{ "p256_keygen/openssl_evp", BM_p256_keygen },
		{ "p256_derive/openssl_evp", BM_p256_derive },
	};

	for (const Row &r : rows)
		benchmark::RegisterBenchmark(r.name, r.fn)->Unit(benchmark::kMicrosecond);
	return 0;
}

const int registered = register_all();

} // namespace
