// SPDX-License-Identifier: Apache-2.0
// Handshake server benchmarks (docs/performance.md, "Handshake"):
//
//   handshake/<kind>                   complete handshakes of the Stormgate engine
//   handshake_batch/psk/<n>            n handshakes/psk in lockstep: every round, what the
//                                      n clients sent reaches the engine as one
//                                      sg_hs_input_burst(), so their second flights
//                                      arrive together (batched key derivation); Time is
//                                      per burst round trip of n, server_us per handshake
//   handshake_store/psk                handshake/psk with the session store on, as the
//                                      gateway runs it: each installed session's record
//                                      made, sealed and queued (server time: the gateway
//                                      thread does it), the queue handed to the store's
//                                      writer thread every commit interval (100 ms, the
//                                      default store.commit_interval) of server time; the
//                                      writer puts into LMDB and commits (one fsync) on
//                                      its own thread: its CPU time per handshake is the
//                                      writer_cpu_us counter, not server time
//   handshake_store_sync/psk           the same without the writer thread: the LMDB puts
//                                      and the commits' fsyncs on the gateway thread, timed
//                                      (the store before the writer, for the comparison)
//   baseline_openssl_handshake/<kind>  the same with OpenSSL 3's DTLS server
//
//   hmac_mb/<mgr>/<jobs>               raw IPsec-MB HMAC-SHA256 (a PRF step's 109-byte
//                                      message, a prepared key): <jobs> jobs submitted,
//                                      then one flush, on the sse / avx2 / avx512
//                                      manager (_noshani: SHA-NI off, as on a CPU
//                                      without it; _burst: IPsec-MB's hash burst API
//                                      instead of submit and flush); ns_per_hmac
//                                      (docs/handshake.md, "Batched key derivation")
//
// kind: psk (PSK-AES128-CCM8), psk_cookie (the same after a HelloVerifyRequest
// round), ecdhe_psk_x25519 / ecdhe_psk_p256 (ECDHE-PSK-CHACHA20-POLY1305),
// resume_ticket (abbreviated handshake from a session ticket, RFC 5077);
// ecdhe_ecdsa_p256 (ECDHE-ECDSA-AES128-CCM8, issue 17: a P-256 certificate chain of one
// CA, ECDHE on P-256, the client verifies our chain; server authentication only, no
// CertificateRequest), ecdhe_ecdsa_p256_mutual (the same with a client certificate
// verified against the CA on every handshake: the engine's verified-chain cache holds one
// entry and two devices alternate, so it never hits; OpenSSL has no such cache) and
// ecdhe_ecdsa_p256_mutual_cached (the engine only: one device again, its chain a cache
// hit); the engine's rows with a HelloVerifyRequest round (its amplification limit; OpenSSL
// has none). The engine signs each ServerKeyExchange with a nonce from its pool; the pool is
// refilled (sg_hs_certs_refill(), one nonce per handshake, as the gateway's tick does off
// the engines) inside the timing: server_us is all the server's CPU, engine_us the
// handshake without the refill, refill_us the refill; ecdhe_ecdsa_p256_nopool: the pool
// never refilled, every nonce computed while signing. The certificate rows (both servers)
// also count server_cpu_us: the same calls timed by the thread's CPU clock, which a loaded
// machine's preemption does not inflate (the clock reads cost about the same in both);
// ecdhe_psk_<group>_reuse: the engine with ecdhe_reuse_ms = 1000 (one ephemeral
// key per group per second; the benchmark's clock moves 1 ms a handshake, so a
// key serves 1,000 handshakes: docs/handshake.md, "X25519: measured choice").
// All with extended master secret. The client is OpenSSL's DTLS client in the
// same thread; datagrams travel through in-memory queues. Only the server's
// calls are timed (manual time): sg_hs_input() for the engine; SSL_new(),
// SSL_do_handshake() and SSL_free() of the server connection for OpenSSL. So
// items_per_second is server handshakes per second of one core's time, and
// server_us the server time per handshake.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <arpa/inet.h>

// IPsec-MB's pre-0.53 names (SHA1, SHA_256, ...) collide with OpenSSL's.
#define NO_COMPAT_IMB_API_053
#include <intel-ipsec-mb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <stormgate/handshake.h>

#include "dgram_bio.h"
#include "sg_store_sess.h"

namespace
{

using Clock = std::chrono::steady_clock;

const uint8_t kKey[16] = { 0x4a, 0x10, 0x2f, 0xe1, 0x7c, 0x33, 0x09, 0xb8,
	                   0x5d, 0x61, 0x92, 0xa4, 0x0e, 0xc7, 0x38, 0xf5 };
const char kIdentity[] = "urn:dev:imei:490154203237518";

enum class Kind {
	psk,
	psk_cookie,
	ecdhe_x25519,
	ecdhe_p256,
	resume_ticket,
	psk_store,
	psk_store_sync,
	ecdsa,
	ecdsa_mutual,
	ecdsa_mutual_cached
};

bool is_cert(Kind k)
{
	return k == Kind::ecdsa || k == Kind::ecdsa_mutual || k == Kind::ecdsa_mutual_cached;
}

bool is_mutual(Kind k)
{
	return k == Kind::ecdsa_mutual || k == Kind::ecdsa_mutual_cached;
}

// handshake_store: a group commit once this much server time passed since the last one
// (store.commit_interval's default: the gateway thread, busy with handshakes, commits
// every 100 ms of its time), or at the store's own bound of 16,384 writes.
constexpr double kStoreCommitS = 0.1;

// One side of an in-memory datagram link: a fixed ring of what it has to
// read (no allocation while the server is timed, for either server).
struct Endpoint {
	static constexpr unsigned kSlots = 16, kMax = 2048;
	uint8_t d[kSlots][kMax];
	size_t len[kSlots];
	unsigned head = 0, count = 0;
	Endpoint *peer = nullptr;

	void push(const uint8_t *p, size_t n)
	{
		if (count == kSlots || n > kMax)
			abort();
		unsigned i = (head + count++) % kSlots;
		memcpy(d[i], p, n);
		len[i] = n;
	}
	bool empty() const
	{
		return count == 0;
	}
	const uint8_t *front(size_t *n) const
	{
		*n = len[head];
		return d[head];
	}
	void pop()
	{
		head = (head + 1) % kSlots;
		count--;
	}
	void clear()
	{
		head = count = 0;
	}
};

int q_write(BIO *b, const char *buf, int len)
{
	auto *ep = static_cast<Endpoint *>(BIO_get_data(b));

	ep->peer->push(reinterpret_cast<const uint8_t *>(buf), static_cast<size_t>(len));
	return len;
}

int q_read(BIO *b, char *buf, int len)
{
	auto *ep = static_cast<Endpoint *>(BIO_get_data(b));
	size_t n;

	BIO_clear_retry_flags(b);
	if (ep->empty()) {
		BIO_set_retry_read(b);
		return -1;
	}
	const uint8_t *d = ep->front(&n);
	if (n > static_cast<size_t>(len))
		n = static_cast<size_t>(len);
	memcpy(buf, d, n);
	ep->pop();
	return static_cast<int>(n);
}

BIO *q_bio(Endpoint *ep)
{
	static BIO_METHOD *m;
	BIO *b = sg_bench_dgram_bio_new(&m, "bench-dgram-queue", q_write, q_read, ep);

	if (b == nullptr)
		abort();
	return b;
}

unsigned int client_psk(SSL *, const char *, char *identity, unsigned int max_id,
                        unsigned char *psk, unsigned int max_psk)
{
	if (sizeof(kIdentity) > max_id || sizeof(kKey) > max_psk)
		return 0;
	memcpy(identity, kIdentity, sizeof(kIdentity));
	memcpy(psk, kKey, sizeof(kKey));
	return sizeof(kKey);
}

unsigned int server_psk(SSL *, const char *identity, unsigned char *psk, unsigned int max_psk)
{
	if (strcmp(identity, kIdentity) != 0 || sizeof(kKey) > max_psk)
		return 0;
	memcpy(psk, kKey, sizeof(kKey));
	return sizeof(kKey);
}

const char *cipher_of(Kind k)
{
	if (is_cert(k))
		return "ECDHE-ECDSA-AES128-CCM8";
	return k == Kind::ecdhe_x25519 || k == Kind::ecdhe_p256 ? "ECDHE-PSK-CHACHA20-POLY1305"
	                                                        : "PSK-AES128-CCM8";
}

// ---- a PKI for the certificate kinds, made once with OpenSSL's API ----------------------

// One CA, the server's certificate and two devices' (P-256, ECDSA-SHA256), as PEM files
// in a temporary directory (sg_hs_certs_create() reads files), removed at exit. Valid
// from five years ago for five years, so the engine's clock (now_of(): 2023) and the
// client's (the wall clock) both see them valid.
struct Pki {
	std::string dir, ca, server_cert, server_key, client_cert[2], client_key[2];
	bool ok = false;

	Pki();
	~Pki();
};

EVP_PKEY *p256_key()
{
	return EVP_EC_gen("P-256");
}

bool add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v3, issuer, x, nullptr, nullptr, 0);
	e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
	if (e == nullptr)
		return false;
	bool ok = X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	return ok;
}

// A certificate for key named cn, issued by issuer (nullptr: self-signed CA).
X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long serial)
{
	const long year = 365L * 86400;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	bool ok = x != nullptr && name != nullptr && X509_set_version(x, 2) == 1 &&
	          ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1 &&
	          X509_gmtime_adj(X509_getm_notBefore(x), -5 * year) != nullptr &&
	          X509_gmtime_adj(X509_getm_notAfter(x), 5 * year) != nullptr &&
	          X509_set_pubkey(x, key) == 1 &&
	          X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                     reinterpret_cast<const unsigned char *>(cn), -1, -1,
	                                     0) == 1 &&
	          X509_set_subject_name(x, name) == 1 &&
	          X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1;

	if (ok && issuer == nullptr)
		ok = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") &&
		     add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	else if (ok)
		ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
		     add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
	ok = ok && X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0;
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return nullptr;
	}
	return x;
}

bool write_pem(const std::string &path, X509 *x, EVP_PKEY *k)
{
	FILE *f = fopen(path.c_str(), "w");
	bool ok = f != nullptr && (x == nullptr || PEM_write_X509(f, x) == 1) &&
	          (k == nullptr ||
	           PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr) == 1);

	if (f != nullptr && fclose(f) != 0)
		ok = false;
	return ok;
}

Pki::Pki()
{
	const char *base = getenv("SG_BENCH_DIR");
	std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/sg-bench-pki-XXXXXX";
	EVP_PKEY *ca_k = p256_key(), *srv_k = p256_key(), *cli_k[2] = { p256_key(), p256_key() };
	X509 *ca_x = nullptr, *srv_x = nullptr, *cli_x[2] = { nullptr, nullptr };

	if (mkdtemp(tmpl.data()) != nullptr) {
		dir = tmpl;
		ca = dir + "/ca.pem";
		server_cert = dir + "/server.pem";
		server_key = dir + "/server.key";
		ca_x = make_cert(ca_k, "sg-bench-ca", nullptr, nullptr, 1);
		srv_x = make_cert(srv_k, "sg-bench-gateway", ca_x, ca_k, 2);
		ok = ca_x != nullptr && srv_x != nullptr && write_pem(ca, ca_x, nullptr) &&
		     write_pem(server_cert, srv_x, nullptr) &&
		     write_pem(server_key, nullptr, srv_k);
	}
	for (int i = 0; ok && i < 2; i++) {
		std::string cn = "urn:dev:ops:32473-bench-" + std::to_string(i);

		client_cert[i] = dir + "/client" + std::to_string(i) + ".pem";
		client_key[i] = dir + "/client" + std::to_string(i) + ".key";
		cli_x[i] = make_cert(cli_k[i], cn.c_str(), ca_x, ca_k, 3 + i);
		ok = cli_x[i] != nullptr && write_pem(client_cert[i], cli_x[i], nullptr) &&
		     write_pem(client_key[i], nullptr, cli_k[i]);
	}
	X509_free(ca_x);
	X509_free(srv_x);
	EVP_PKEY_free(ca_k);
	EVP_PKEY_free(srv_k);
	for (int i = 0; i < 2; i++) {
		X509_free(cli_x[i]);
		EVP_PKEY_free(cli_k[i]);
	}
}

Pki::~Pki()
{
	if (dir.empty())
		return;
	for (const std::string *f : { &ca, &server_cert, &server_key, &client_cert[0],
	                              &client_cert[1], &client_key[0], &client_key[1] })
		if (!f->empty())
			unlink(f->c_str());
	rmdir(dir.c_str());
}

const Pki &pki()
{
	static Pki p;
	return p;
}

// The client's side of a certificate kind: it verifies our chain against the CA, and
// shows device `device`'s certificate when the kind is mutual. Same for both servers.
bool client_cert_setup(SSL_CTX *ctx, Kind k, int device)
{
	const Pki &p = pki();

	if (!p.ok || SSL_CTX_load_verify_locations(ctx, p.ca.c_str(), nullptr) != 1)
		return false;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
	if (!is_mutual(k))
		return true;
	return SSL_CTX_use_certificate_file(ctx, p.client_cert[device].c_str(), SSL_FILETYPE_PEM) ==
	               1 &&
	       SSL_CTX_use_PrivateKey_file(ctx, p.client_key[device].c_str(), SSL_FILETYPE_PEM) ==
	               1;
}

SSL_CTX *client_ctx(Kind k, int device = 0)
{
	SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());

	SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
	SSL_CTX_set_cipher_list(ctx, cipher_of(k));
	SSL_CTX_set1_groups_list(ctx, k == Kind::ecdhe_p256 || is_cert(k) ? "P-256" : "X25519");
	SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
	// Tickets only where they are the point; elsewhere neither server issues one.
	if (k != Kind::resume_ticket)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (is_cert(k) && !client_cert_setup(ctx, k, device)) {
		SSL_CTX_free(ctx);
		return nullptr;
	}
	if (!is_cert(k))
		SSL_CTX_set_psk_client_callback(ctx, client_psk);
	return ctx;
}

SSL *client_new(SSL_CTX *ctx, Endpoint *ep, SSL_SESSION *sess)
{
	SSL *ssl = SSL_new(ctx);
	BIO *b = q_bio(ep);

	SSL_set_bio(ssl, b, b);
	DTLS_set_link_mtu(ssl, 1400);
	if (sess)
		SSL_set_session(ssl, sess);
	SSL_set_connect_state(ssl);
	return ssl;
}

// ---- the Stormgate engine ------------------------------------------------------------

struct EngineRig {
	sg_hs_engine *e = nullptr;
	Endpoint client, server;
	sg_hs_peer peer{};
	unsigned installed = 0;
	alignas(64) uint8_t sa_copy[1024];
	sg_store *st = nullptr;  // handshake_store: the session store
	int store_rc = 0;        // its first failure
	double since_commit = 0; // server time since the last commit
	double put_s = 0;        // of the server time: making, sealing and putting records
	double commit_s = 0;     // and the commits
	bool cpu_clock = false;  // certificate rows: the server's thread CPU time kept too
	double server_cpu = 0;   // ... in seconds
};

// This thread's CPU time in seconds (the certificate rows' server_cpu_us: what a loaded
// machine's preemption does not inflate, unlike the manual wall time).
double thread_cpu_now()
{
	timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The gateway's write of an installed session: its record (what sg_sess_get and
// sg_sess_get_sa would give, with the identity and the PSK's credential tag) put into the
// open group.
void store_installed(EngineRig *r, const sg_hs_result *res)
{
	sg_sess_info info{};
	sg_store_rec rec;
	auto t0 = Clock::now();
	int rc;

	info.id = UINT64_C(1) << 32 | r->installed;
	info.flags = SG_SESS_F_TUPLE;
	memcpy(info.tuple.laddr, res->peer.laddr, 16);
	memcpy(info.tuple.paddr, res->peer.paddr, 16);
	info.tuple.lport = res->peer.lport;
	info.tuple.pport = res->peer.pport;
	info.suite = res->suite;
	info.expires = static_cast<uint32_t>(res->expires);
	sg_store_rec_from_session(&rec, &info, reinterpret_cast<const sg_rec_sa *>(r->sa_copy));
	rec.identity_len = static_cast<uint8_t>(res->identity_len);
	memcpy(rec.identity, res->identity, res->identity_len);
	sg_store_cred_tag(kKey, sizeof(kKey), rec.cred_tag);
	rc = sg_store_put(r->st, r->installed, &rec);
	if (rc != 0 && r->store_rc == 0)
		r->store_rc = rc;
	sg_store_rec_wipe(&rec);
	r->put_s += std::chrono::duration<double>(Clock::now() - t0).count();
}

int rig_lookup(void *, const uint8_t *identity, size_t len, const uint8_t *, size_t,
               sg_hs_cred *cred)
{
	if (len != strlen(kIdentity) || memcmp(identity, kIdentity, len) != 0)
		return -ENOENT;
	memcpy(cred->psk, kKey, sizeof(kKey));
	cred->psk_len = sizeof(kKey);
	return 0;
}

// The certificate kinds' policy lookup, as the gateway's without an entry for the device:
// its defaults (-ENOENT), the identity the engine took from the certificate.
int rig_cert_lookup(void *, sg_hs_auth kind, const uint8_t *, size_t, const uint8_t *, size_t,
                    sg_hs_cred *, uint8_t *, uint16_t *)
{
	return kind == SG_HS_AUTH_X509 ? -ENOENT : -EACCES;
}

// The engine's certificate set for kind k (server chain and key; for the mutual kinds the
// CA and client_auth require; ecdsa_mutual: a verified-chain cache of one entry).
sg_hs_certs *certs_for(Kind k)
{
	const Pki &p = pki();
	sg_hs_certs_conf cc{};
	char err[256];
	sg_hs_certs *c;

	if (!p.ok)
		return nullptr;
	cc.cert_file = p.server_cert.c_str();
	cc.key_file = p.server_key.c_str();
	cc.client_auth = is_mutual(k) ? SG_HS_CLIENT_AUTH_REQUIRE : SG_HS_CLIENT_AUTH_NONE;
	cc.ca_file = is_mutual(k) ? p.ca.c_str() : nullptr;
	cc.verify_cache = k == Kind::ecdsa_mutual ? 1 : 0;
	c = sg_hs_certs_create(&cc, err, sizeof(err));
	if (c == nullptr)
		fprintf(stderr, "bench: sg_hs_certs_create: %s\n", err);
	return c;
}

int rig_send(void *ctx, const sg_hs_peer *, const uint8_t *d, size_t len)
{
	auto *r = static_cast<EngineRig *>(ctx);

	r->client.push(d, len);
	return 0;
}

int rig_install(void *ctx, const sg_hs_result *res)
{
	auto *r = static_cast<EngineRig *>(ctx);

	// What the daemon does before handing it to the session table: copy.
	memcpy(r->sa_copy, res->sa, sg_rec_sa_size(SG_REPLAY_WINDOW_DEFAULT));
	if (r->st != nullptr)
		store_installed(r, res);
	r->installed++;
	return 0;
}

void rig_init(EngineRig &r, Kind k, uint32_t ecdhe_reuse_ms, sg_hs_certs *certs = nullptr)
{
	sg_hs_config conf{};

	conf.ecdhe_reuse_ms = ecdhe_reuse_ms;

	conf.max_handshakes = 1024;
	conf.linger_entries = 1024;
	// The certificate kinds with a cookie round: the engine sends a flight over 3x the
	// hello only to a proven address (RFC 9147 §5.1; its default policy). OpenSSL's
	// server has none, so those rows carry a HelloVerifyRequest round OpenSSL's do not.
	conf.cookie_policy =
	        k == Kind::psk_cookie || is_cert(k) ? SG_HS_COOKIE_ALWAYS : SG_HS_COOKIE_NEVER;
	conf.tickets = k == Kind::resume_ticket;
	conf.ops.ctx = &r;
	conf.ops.psk_lookup = rig_lookup;
	conf.ops.send = rig_send;
	conf.ops.install = rig_install;
	conf.certs = certs;
	if (certs != nullptr)
		conf.ops.cert_lookup = rig_cert_lookup;
	r.e = sg_hs_engine_create(&conf);
	if (r.e == nullptr)
		abort();
	r.peer.paddr[10] = r.peer.paddr[11] = 0xff;
	r.peer.laddr[10] = r.peer.laddr[11] = 0xff;
	r.peer.paddr[12] = 198;
	r.peer.paddr[13] = 18;
	r.peer.laddr[12] = 198;
	r.peer.laddr[13] = 18;
	r.peer.lport = htons(5684);
	r.client.peer = &r.server;
	r.server.peer = &r.client;
}

sg_hs_time now_of(uint64_t i)
{
	return sg_hs_time{ 1000000 + i, 1700000000 + i / 1000 };
}

// One handshake against the engine; returns the server's time in seconds, or -1 when it
// did not complete (the client's connection dropped all the same).
double engine_try_handshake(EngineRig &r, SSL_CTX *cctx, SSL_SESSION *sess, uint64_t i)
{
	SSL *c = client_new(cctx, &r.client, sess);
	unsigned want = r.installed + 1;
	double server = 0;

	r.peer.pport = static_cast<uint16_t>(i);
	for (int step = 0; step < 50; step++) {
		int rc = SSL_do_handshake(c);

		while (!r.server.empty()) {
			size_t n;
			const uint8_t *d = r.server.front(&n);
			double c0 = r.cpu_clock ? thread_cpu_now() : 0;
			auto t0 = Clock::now();
			sg_hs_input(r.e, now_of(i), &r.peer, d, n, 0);
			server += std::chrono::duration<double>(Clock::now() - t0).count();
			if (r.cpu_clock)
				r.server_cpu += thread_cpu_now() - c0;
			r.server.pop();
		}
		if (rc == 1 && r.installed == want)
			break;
	}
	bool done = r.installed == want;

	// The connection is dropped as a device would after its exchange: keep
	// the session resumable for resume_ticket.
	SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c);
	r.client.clear();
	return done ? server : -1;
}

// The same, for the kinds that cannot fail: aborts when it did not complete.
double engine_handshake(EngineRig &r, SSL_CTX *cctx, SSL_SESSION *sess, uint64_t i)
{
	double t = engine_try_handshake(r, cctx, sess, i);

	if (t < 0)
		abort();
	return t;
}

// handshake_store: a store in a fresh directory under $SG_BENCH_DIR (default /tmp).
sg_store *store_open(std::string &dir)
{
	const char *base = getenv("SG_BENCH_DIR");
	sg_store_params sp{};
	sg_store_key key{};
	sg_store *st;

	dir = std::string(base != nullptr ? base : "/tmp") + "/sg-bench-hs-store-XXXXXX";
	if (mkdtemp(dir.data()) == nullptr)
		return nullptr;
	std::string path = dir + "/sessions";
	memset(key.key, 0x5c, sizeof(key.key));
	sg_store_key_set_id(&key);
	sp.path = path.c_str();
	st = sg_store_open(nullptr, &sp, &key);
	sg_store_key_wipe(&key);
	return st;
}

// sg_store_spawn_fn: a plain thread whose id the benchmark keeps (for its CPU clock).
int spawn_keep(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg, void *spawn_arg)
{
	int rc = pthread_create(thread, nullptr, fn, arg);

	if (rc != 0)
		return -rc;
	pthread_setname_np(*thread, name);
	*static_cast<pthread_t *>(spawn_arg) = *thread;
	return 0;
}

// CPU seconds thread t used so far; -1 when its clock cannot be read.
double thread_cpu_s(pthread_t t)
{
	clockid_t cid;
	timespec ts;

	if (pthread_getcpuclockid(t, &cid) != 0 || clock_gettime(cid, &ts) != 0)
		return -1;
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void store_remove(sg_store *st, const std::string &dir)
{
	sg_store_close(st);
	unlink((dir + "/sessions/data.mdb").c_str());
	unlink((dir + "/sessions/lock.mdb").c_str());
	rmdir((dir + "/sessions").c_str());
	rmdir(dir.c_str());
}

// handshake_store: the store, with its writer thread for psk_store (its id in *writer).
// false: skipped (the reason is on state).
bool store_start(benchmark::State &state, EngineRig &r, Kind k, std::string &dir, pthread_t *writer)
{
	sg_store_writer_params wp{};

	if ((r.st = store_open(dir)) == nullptr) {
		state.SkipWithError("the session store did not open");
		return false;
	}
	wp.spawn = spawn_keep;
	wp.spawn_arg = writer;
	if (k == Kind::psk_store && sg_store_writer_start(r.st, &wp) != 0) {
		state.SkipWithError("the store's writer thread did not start");
		store_remove(r.st, dir);
		r.st = nullptr;
		return false;
	}
	return true;
}

// handshake_store, after the timing: the writer catches up (untimed; its CPU for all of
// it counts per handshake), the counters, the store removed. total: the server time.
void store_finish(benchmark::State &state, EngineRig &r, Kind k, const std::string &dir,
                  pthread_t writer, double total)
{
	struct sg_store_stats sst;

	if (sg_store_flush(r.st, 600000) != 0)
		state.SkipWithError("the store's writer did not commit everything");
	if (k == Kind::psk_store) {
		double cpu = thread_cpu_s(writer);

		state.counters["writer_cpu_us"] = benchmark::Counter(cpu * 1e6 / r.installed);
		state.counters["total_cpu_us"] = benchmark::Counter(
		        (total + cpu) * 1e6 / static_cast<double>(state.iterations()));
	}
	sg_store_stats(r.st, &sst);
	if (r.store_rc != 0 || sst.puts != r.installed || sst.be.dropped != 0)
		state.SkipWithError("the session store refused a write");
	state.counters["store_commits"] = benchmark::Counter(static_cast<double>(sst.be.commits));
	state.counters["put_us"] = benchmark::Counter(r.put_s * 1e6 / r.installed);
	state.counters["commit_us"] = benchmark::Counter(r.commit_s * 1e6 / r.installed);
	store_remove(r.st, dir);
}

void BM_engine(benchmark::State &state, Kind k, uint32_t ecdhe_reuse_ms)
{
	EngineRig r;
	SSL_CTX *cctx = client_ctx(k);
	SSL_SESSION *sess = nullptr;
	uint64_t i = 0;
	double total = 0;
	std::string store_dir;
	pthread_t writer{};

	rig_init(r, k, ecdhe_reuse_ms);
	if ((k == Kind::psk_store || k == Kind::psk_store_sync) &&
	    !store_start(state, r, k, store_dir, &writer))
		return;
	if (k == Kind::resume_ticket) {
		// A session with a ticket from one full handshake, outside the timing.
		Endpoint *ep = &r.client;
		SSL *c = client_new(cctx, ep, nullptr);
		for (int step = 0; step < 50 && r.installed == 0; step++) {
			SSL_do_handshake(c);
			while (!r.server.empty()) {
				size_t n;
				const uint8_t *d = r.server.front(&n);
				sg_hs_input(r.e, now_of(0), &r.peer, d, n, 0);
				r.server.pop();
			}
		}
		SSL_do_handshake(c);
		sess = SSL_get1_session(c);
		SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_free(c);
		r.client.clear();
	}
	for (auto _ : state) {
		double t = engine_handshake(r, cctx, sess, ++i);

		if (r.st != nullptr && (r.since_commit += t) >= kStoreCommitS) {
			auto t0 = Clock::now();
			int rc = sg_store_commit(r.st);

			double c = std::chrono::duration<double>(Clock::now() - t0).count();

			t += c;
			r.commit_s += c;
			r.since_commit = 0;
			if (rc != 0 && r.store_rc == 0)
				r.store_rc = rc;
		}
		state.SetIterationTime(t);
		total += t;
	}
	sg_hs_stats st;
	sg_hs_stats_get(r.e, &st);
	if (k == Kind::resume_ticket &&
	    st.c[SG_HS_C_COMPLETED_RESUMED] < static_cast<uint64_t>(state.iterations()))
		state.SkipWithError("handshakes were not resumed");
	if (r.st != nullptr)
		store_finish(state, r, k, store_dir, writer, total);
	state.SetItemsProcessed(state.iterations());
	state.counters["server_us"] =
	        benchmark::Counter(total * 1e6 / static_cast<double>(state.iterations()));
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	sg_hs_engine_free(r.e);
}

// What a certificate row measured (seconds over all its iterations).
struct CertTimes {
	double engine, refill, refill_cpu;
};

// A certificate row's checks and counters, after its timing: every handshake (and the
// untimed first) a certificate one; the never-hit cache row never hit.
void cert_report(benchmark::State &state, Kind k, EngineRig &r, sg_hs_certs *certs,
                 const CertTimes &t)
{
	const double n = static_cast<double>(state.iterations());
	sg_hs_stats st{};
	sg_hs_certs_info info{};

	sg_hs_stats_get(r.e, &st);
	sg_hs_certs_info_get(certs, &info);
	if (st.c[SG_HS_C_COMPLETED_CERT] != static_cast<uint64_t>(state.iterations()) + 1)
		state.SkipWithError("handshakes did not complete as certificate handshakes");
	if (k == Kind::ecdsa_mutual && info.cache_hits != 0)
		state.SkipWithError("the verified-chain cache hit: not a full verify each time");
	state.SetItemsProcessed(state.iterations());
	state.counters["server_us"] = benchmark::Counter((t.engine + t.refill) * 1e6 / n);
	state.counters["engine_us"] = benchmark::Counter(t.engine * 1e6 / n);
	state.counters["refill_us"] = benchmark::Counter(t.refill * 1e6 / n);
	state.counters["server_cpu_us"] =
	        benchmark::Counter((r.server_cpu + t.refill_cpu) * 1e6 / n);
	state.counters["refill_cpu_us"] = benchmark::Counter(t.refill_cpu * 1e6 / n);
	state.counters["signed_precomputed"] =
	        benchmark::Counter(static_cast<double>(st.c[SG_HS_C_SIGN_PRECOMPUTED]) / (n + 1));
	state.counters["cache_hits"] =
	        benchmark::Counter(static_cast<double>(info.cache_hits) / (n + 1));
}

// handshake/ecdhe_ecdsa_p256*: the engine with a certificate set; the nonce pool refilled
// after each handshake inside the timing (one nonce, what the handshake took).
void BM_engine_cert(benchmark::State &state, Kind k, bool refill_pool)
{
	EngineRig r;
	sg_hs_certs *certs = certs_for(k);
	// ecdsa_mutual: two devices in turn, so a one-entry cache never holds the next one.
	SSL_CTX *cctx[2] = { client_ctx(k, 0), client_ctx(k, k == Kind::ecdsa_mutual ? 1 : 0) };
	uint64_t i = 0;
	double engine = 0, refill = 0, refill_cpu = 0;
	sg_hs_stats st{};

	if (certs == nullptr || cctx[0] == nullptr || cctx[1] == nullptr) {
		state.SkipWithError("the test PKI or the certificate set did not load");
		SSL_CTX_free(cctx[0]);
		SSL_CTX_free(cctx[1]);
		sg_hs_certs_free(certs);
		return;
	}
	rig_init(r, k, 0, certs);
	r.cpu_clock = true;
	// One handshake outside the timing: a build whose engine does not negotiate the
	// certificate suites is reported, not aborted.
	bool works = engine_try_handshake(r, cctx[0], nullptr, ++i) >= 0;
	sg_hs_stats_get(r.e, &st);
	if (!works || st.c[SG_HS_C_COMPLETED_CERT] != 1) {
		std::string why = "the engine did not complete an ECDHE-ECDSA handshake:";

		for (unsigned c = 0; c < SG_HS_C_MAX; c++)
			if (st.c[c] != 0)
				why += std::string(" ") +
				       sg_hs_counter_name(static_cast<sg_hs_counter>(c));
		state.SkipWithError(why.c_str());
	}
	if (refill_pool)
		sg_hs_certs_refill(certs, 1);
	r.server_cpu = 0;
	for (auto _ : state) {
		double t = engine_handshake(r, cctx[i & 1], nullptr, i + 1);
		double c0 = thread_cpu_now();
		auto t0 = Clock::now();

		if (refill_pool)
			sg_hs_certs_refill(certs, 1);
		double f = std::chrono::duration<double>(Clock::now() - t0).count();

		refill_cpu += thread_cpu_now() - c0;

		i++;
		engine += t;
		refill += f;
		state.SetIterationTime(t + f);
	}
	if (works && state.iterations() > 0)
		cert_report(state, k, r, certs, CertTimes{ engine, refill, refill_cpu });
	SSL_CTX_free(cctx[0]);
	SSL_CTX_free(cctx[1]);
	sg_hs_engine_free(r.e);
	sg_hs_certs_free(certs);
}

// ---- the engine, n handshakes a burst (sg_hs_input_burst) --------------------------------

// n OpenSSL clients in lockstep, each on its own peer (port) and queues: each
// round every client steps, then what they all sent reaches the engine as one
// burst, so their second flights (ClientKeyExchange, CCS, Finished) arrive
// together and their key schedules run as one batch.
struct BatchRig {
	static constexpr unsigned kMax = 32;
	sg_hs_engine *e = nullptr;
	Endpoint client[kMax], server[kMax];
	unsigned installed = 0;
	alignas(64) uint8_t sa_copy[1024];
};

uint16_t batch_port(unsigned i)
{
	return htons(static_cast<uint16_t>(30000 + i));
}

int batch_send(void *ctx, const sg_hs_peer *peer, const uint8_t *d, size_t len)
{
	auto *r = static_cast<BatchRig *>(ctx);
	unsigned i = ntohs(peer->pport) - 30000u;

	if (i >= BatchRig::kMax)
		abort();
	r->client[i].push(d, len);
	return 0;
}

int batch_install(void *ctx, const sg_hs_result *res)
{
	auto *r = static_cast<BatchRig *>(ctx);

	memcpy(r->sa_copy, res->sa, sg_rec_sa_size(SG_REPLAY_WINDOW_DEFAULT));
	r->installed++;
	return 0;
}

// n handshakes; returns the server's time in seconds (its sg_hs_input_burst() calls).
double engine_batch(BatchRig &r, SSL_CTX *cctx, unsigned n, uint64_t it)
{
	static sg_hs_dgram d[SG_HS_BURST_MAX];
	SSL *c[BatchRig::kMax];
	unsigned want = r.installed + n, done = 0;
	double server = 0;

	for (unsigned i = 0; i < n; i++) {
		r.client[i].peer = &r.server[i];
		r.server[i].peer = &r.client[i];
		c[i] = client_new(cctx, &r.client[i], nullptr);
	}
	for (int step = 0; step < 50 && (done < n || r.installed < want); step++) {
		unsigned m = 0;

		done = 0;
		for (unsigned i = 0; i < n; i++) {
			done += SSL_do_handshake(c[i]) == 1;
			while (!r.server[i].empty() && m < SG_HS_BURST_MAX) {
				d[m].data = r.server[i].front(&d[m].len);
				d[m].peer = sg_hs_peer{};
				d[m].peer.paddr[10] = d[m].peer.paddr[11] = 0xff;
				d[m].peer.paddr[12] = 198;
				d[m].peer.paddr[13] = 18;
				// A new address each handshake, as handshake/psk's new port.
				d[m].peer.paddr[14] = static_cast<uint8_t>(it >> 8);
				d[m].peer.paddr[15] = static_cast<uint8_t>(it);
				d[m].peer.pport = batch_port(i);
				d[m].peer.lport = htons(5684);
				d[m].tag = i;
				m++;
				r.server[i].pop(); // the slot stays readable until the next push
			}
		}
		if (m == 0)
			continue;
		auto t0 = Clock::now();
		sg_hs_input_burst(r.e, now_of(it), d, m);
		server += std::chrono::duration<double>(Clock::now() - t0).count();
	}
	if (r.installed != want)
		abort();
	for (unsigned i = 0; i < n; i++) {
		SSL_set_shutdown(c[i], SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_free(c[i]);
		r.client[i].clear();
		r.server[i].clear();
	}
	return server;
}

void BM_engine_batch(benchmark::State &state, unsigned n)
{
	auto r = std::make_unique<BatchRig>();
	SSL_CTX *cctx = client_ctx(Kind::psk);
	sg_hs_config conf{};
	uint64_t it = 0;
	double total = 0;

	conf.max_handshakes = 1024;
	conf.linger_entries = 1024;
	conf.cookie_policy = SG_HS_COOKIE_NEVER;
	conf.ops.ctx = r.get();
	conf.ops.psk_lookup = rig_lookup;
	conf.ops.send = batch_send;
	conf.ops.install = batch_install;
	r->e = sg_hs_engine_create(&conf);
	if (r->e == nullptr)
		abort();
	for (auto _ : state) {
		double t = engine_batch(*r, cctx, n, ++it);

		state.SetIterationTime(t);
		total += t;
	}
	const double hs = static_cast<double>(state.iterations()) * n;
	state.SetItemsProcessed(static_cast<int64_t>(hs));
	state.counters["server_us"] = benchmark::Counter(total * 1e6 / hs);
	SSL_CTX_free(cctx);
	sg_hs_engine_free(r->e);
}

// ---- OpenSSL's DTLS server ------------------------------------------------------------

SSL_CTX *server_ctx(Kind k)
{
	SSL_CTX *ctx = SSL_CTX_new(DTLS_server_method());

	SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
	SSL_CTX_set_cipher_list(ctx, cipher_of(k));
	SSL_CTX_set1_groups_list(ctx, "X25519:P-256");
	SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (!is_cert(k)) {
		SSL_CTX_set_psk_server_callback(ctx, server_psk);
		return ctx;
	}
	// The engine's certificate set: the same chain (the leaf alone: no chain built up to
	// the CA, as the engine sends what the file holds) and, for the mutual kinds, the
	// client verified against the CA.
	const Pki &p = pki();
	if (!p.ok ||
	    SSL_CTX_use_certificate_file(ctx, p.server_cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, p.server_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
	    (is_mutual(k) && SSL_CTX_load_verify_locations(ctx, p.ca.c_str(), nullptr) != 1)) {
		SSL_CTX_free(ctx);
		return nullptr;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	if (is_mutual(k))
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
	return ctx;
}

// One handshake with OpenSSL's server; returns its wall time in seconds; *cpu (when not
// nullptr) grows by its thread CPU time.
double openssl_handshake(SSL_CTX *sctx, SSL_CTX *cctx, double *cpu = nullptr)
{
	static Endpoint ce, se;
	double server = 0;

	ce.clear();
	se.clear();

	ce.peer = &se;
	se.peer = &ce;
	SSL *c = client_new(cctx, &ce, nullptr);
	double c0 = cpu ? thread_cpu_now() : 0;
	auto t0 = Clock::now();
	SSL *s = SSL_new(sctx);
	BIO *b = q_bio(&se);
	SSL_set_bio(s, b, b);
	DTLS_set_link_mtu(s, 1400);
	SSL_set_accept_state(s);
	server += std::chrono::duration<double>(Clock::now() - t0).count();
	if (cpu)
		*cpu += thread_cpu_now() - c0;
	int cdone = 0, sdone = 0;
	for (int step = 0; step < 50 && !(cdone && sdone); step++) {
		cdone = SSL_do_handshake(c) == 1;
		if (!se.empty() || !sdone) {
			c0 = cpu ? thread_cpu_now() : 0;
			t0 = Clock::now();
			sdone = SSL_do_handshake(s) == 1;
			server += std::chrono::duration<double>(Clock::now() - t0).count();
			if (cpu)
				*cpu += thread_cpu_now() - c0;
		}
	}
	if (!(cdone && sdone))
		abort();
	c0 = cpu ? thread_cpu_now() : 0;
	t0 = Clock::now();
	SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(s);
	server += std::chrono::duration<double>(Clock::now() - t0).count();
	if (cpu)
		*cpu += thread_cpu_now() - c0;
	SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c);
	return server;
}

void BM_openssl(benchmark::State &state, Kind k)
{
	SSL_CTX *sctx = server_ctx(k), *cctx = client_ctx(k);
	double total = 0;

	if (sctx == nullptr || cctx == nullptr) {
		state.SkipWithError("the test PKI did not load");
		SSL_CTX_free(sctx);
		SSL_CTX_free(cctx);
		return;
	}
	double cpu = 0;

	for (auto _ : state) {
		double t = openssl_handshake(sctx, cctx, is_cert(k) ? &cpu : nullptr);
		state.SetIterationTime(t);
		total += t;
	}
	state.SetItemsProcessed(state.iterations());
	state.counters["server_us"] =
	        benchmark::Counter(total * 1e6 / static_cast<double>(state.iterations()));
	if (is_cert(k))
		state.counters["server_cpu_us"] =
		        benchmark::Counter(cpu * 1e6 / static_cast<double>(state.iterations()));
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

// ---- raw IPsec-MB HMAC-SHA256, by manager and jobs per flush ---------------------------

enum class Mgr { sse, avx2, avx512, sse_noshani, avx2_noshani };

void BM_hmac_mb(benchmark::State &state, Mgr which, unsigned jobs, bool burst)
{
	static IMB_JOB own[16];
	alignas(16) uint8_t ipad[32], opad[32];
	uint8_t msg[16][109], tag[16][32];
	bool noni = which == Mgr::sse_noshani || which == Mgr::avx2_noshani;
	IMB_MGR *m = alloc_mb_mgr(noni ? IMB_FLAG_SHANI_OFF : 0);
	uint64_t done = 0;

	if (m == nullptr) {
		state.SkipWithError("no IPsec-MB manager");
		return;
	}
	if (which == Mgr::sse || which == Mgr::sse_noshani)
		init_mb_mgr_sse(m);
	else if (which == Mgr::avx2 || which == Mgr::avx2_noshani)
		init_mb_mgr_avx2(m);
	else
		init_mb_mgr_avx512(m);
	if (imb_get_errno(m) != 0) {
		state.SkipWithError("manager not supported on this CPU");
		free_mb_mgr(m);
		return;
	}
	memset(ipad, 0x36, sizeof(ipad));
	memset(opad, 0x5c, sizeof(opad));
	for (unsigned j = 0; j < 16; j++)
		memset(msg[j], static_cast<int>(j), sizeof(msg[j]));
	for (auto _ : state) {
		if (burst) {
			// The hash burst API: our jobs, done when the call returns.
			for (unsigned j = 0; j < jobs; j++) {
				IMB_JOB *job = &own[j];

				job->src = msg[j];
				job->hash_start_src_offset_in_bytes = 0;
				job->msg_len_to_hash_in_bytes = sizeof(msg[j]);
				job->auth_tag_output = tag[j];
				job->auth_tag_output_len_in_bytes = 32;
				job->u.HMAC._hashed_auth_key_xor_ipad = ipad;
				job->u.HMAC._hashed_auth_key_xor_opad = opad;
				job->hash_alg = IMB_AUTH_HMAC_SHA_256;
			}
			done += IMB_SUBMIT_HASH_BURST_NOCHECK(m, own, jobs, IMB_AUTH_HMAC_SHA_256);
		} else {
			for (unsigned j = 0; j < jobs; j++) {
				IMB_JOB *job = IMB_GET_NEXT_JOB(m);

				job->chain_order = IMB_ORDER_HASH_CIPHER;
				job->cipher_mode = IMB_CIPHER_NULL;
				job->cipher_direction = IMB_DIR_ENCRYPT;
				job->hash_alg = IMB_AUTH_HMAC_SHA_256;
				job->src = msg[j];
				job->hash_start_src_offset_in_bytes = 0;
				job->msg_len_to_hash_in_bytes = sizeof(msg[j]);
				job->auth_tag_output = tag[j];
				job->auth_tag_output_len_in_bytes = 32;
				job->u.HMAC._hashed_auth_key_xor_ipad = ipad;
				job->u.HMAC._hashed_auth_key_xor_opad = opad;
				if (IMB_SUBMIT_JOB_NOCHECK(m) != nullptr)
					done++;
			}
			while (IMB_FLUSH_JOB(m) != nullptr)
				done++;
		}
		// Chain the lanes as a PRF round does: the next input is this output.
		for (unsigned j = 0; j < jobs; j++)
			memcpy(msg[j], tag[j], 32);
	}
	if (done != static_cast<uint64_t>(state.iterations()) * jobs)
		state.SkipWithError("jobs lost");
	state.SetItemsProcessed(static_cast<int64_t>(done));
	state.counters["ns_per_hmac"] =
	        benchmark::Counter(static_cast<double>(done) * 1e-9,
	                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
	free_mb_mgr(m);
}

// Google Benchmark appends "/manual_time" to each name (UseManualTime).
int register_all()
{
	struct Row {
		const char *name;
		Kind k;
		uint32_t ecdhe_reuse_ms;
	};
	const Row engine[] = {
		{ "handshake/psk", Kind::psk },
		{ "handshake/psk_cookie", Kind::psk_cookie },
		{ "handshake/ecdhe_psk_x25519", Kind::ecdhe_x25519 },
		{ "handshake/ecdhe_psk_p256", Kind::ecdhe_p256 },
		{ "handshake/ecdhe_psk_x25519_reuse", Kind::ecdhe_x25519, 1000 },
		{ "handshake/ecdhe_psk_p256_reuse", Kind::ecdhe_p256, 1000 },
		{ "handshake/resume_ticket", Kind::resume_ticket },
		{ "handshake_store/psk", Kind::psk_store },
		{ "handshake_store_sync/psk", Kind::psk_store_sync },
	};
	const Row baseline[] = {
		{ "baseline_openssl_handshake/psk", Kind::psk },
		{ "baseline_openssl_handshake/ecdhe_psk_x25519", Kind::ecdhe_x25519 },
		{ "baseline_openssl_handshake/ecdhe_psk_p256", Kind::ecdhe_p256 },
		{ "baseline_openssl_handshake/ecdhe_ecdsa_p256", Kind::ecdsa },
		{ "baseline_openssl_handshake/ecdhe_ecdsa_p256_mutual", Kind::ecdsa_mutual },
	};
	const struct {
		const char *name;
		Kind k;
		bool refill_pool;
	} cert[] = {
		{ "handshake/ecdhe_ecdsa_p256", Kind::ecdsa, true },
		{ "handshake/ecdhe_ecdsa_p256_nopool", Kind::ecdsa, false },
		{ "handshake/ecdhe_ecdsa_p256_mutual", Kind::ecdsa_mutual, true },
		{ "handshake/ecdhe_ecdsa_p256_mutual_cached", Kind::ecdsa_mutual_cached, true },
	};

	const struct {
		const char *name;
		Mgr m;
	} mgrs[] = { { "sse", Mgr::sse },
		     { "avx2", Mgr::avx2 },
		     { "avx512", Mgr::avx512 },
		     { "sse_noshani", Mgr::sse_noshani },
		     { "avx2_noshani", Mgr::avx2_noshani } };

	for (const auto &mg : mgrs)
		for (bool burst : { false, true })
			for (unsigned jobs : { 1u, 2u, 4u, 8u, 16u })
				benchmark::RegisterBenchmark(("hmac_mb/" + std::string(mg.name) +
				                              (burst ? "_burst/" : "/") +
				                              std::to_string(jobs))
				                                     .c_str(),
				                             BM_hmac_mb, mg.m, jobs, burst);
	for (const Row &r : engine)
		benchmark::RegisterBenchmark(r.name, BM_engine, r.k, r.ecdhe_reuse_ms)
		        ->UseManualTime()
		        ->Unit(benchmark::kMicrosecond);
	for (const auto &r : cert)
		benchmark::RegisterBenchmark(r.name, BM_engine_cert, r.k, r.refill_pool)
		        ->UseManualTime()
		        ->Unit(benchmark::kMicrosecond);
	for (unsigned n : { 1u, 4u, 8u, 16u, 32u })
		benchmark::RegisterBenchmark(("handshake_batch/psk/" + std::to_string(n)).c_str(),
		                             BM_engine_batch, n)
		        ->UseManualTime()
		        ->Unit(benchmark::kMicrosecond);
	for (const Row &r : baseline)
		benchmark::RegisterBenchmark(r.name, BM_openssl, r.k)
		        ->UseManualTime()
		        ->Unit(benchmark::kMicrosecond);
	return 0;
}

const int registered = register_all();

} // namespace
