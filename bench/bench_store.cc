// SPDX-License-Identifier: Apache-2.0
// Session store benchmarks (issue 15), public API only:
//   restore/<n>  a daemon's restore of n stored sessions: sg_store_open() and
//                sg_store_restore() into an empty table (crash semantics),
//                wall clock; sessions_per_s, and the split: walk_open_s (the
//                LMDB walk, opening each sealed record, building its SA) and
//                insert_s (sg_sess_insert_bulk). The store is built first,
//                untimed, the way the gateway writes it (a table of n CID
//                sessions of the common device, each sg_sess_get +
//                sg_sess_get_sa + sg_store_rec_from_session + sg_store_put,
//                group commits), under $SG_BENCH_DIR (default /tmp) and
//                removed afterwards. The page cache holds the store, as after
//                a process crash (not a reboot).
//   restore_cred/<n>  the same with the gateway's check(): each record's
//                identity looked up in an LMDB credential store of n
//                identities and its PSK's credential tag compared, as the
//                daemon's restore does: one sg_cred_reader for the whole
//                restore (the credential store built untimed from a CSV
//                import)
//   restore_cred_get/<n>  the baseline of that: one sg_cred_get() (its own
//                read transaction) per record, as the restore did before
//   restore_expired/<n>  the worst case of the restore's deletes: all n
//                sessions expired; open, restore (every record deleted) and
//                the commit, timed; the store rebuilt untimed each iteration
// n = 100k and 1M run with the others; 10M (about 2 GB of store, 2.3 GB of
// table; restore_cred: 10M credentials too) only with SG_BENCH_RESTORE_10M=1
// (docs/restart.md, "Restore driver and benchmarks"). The store's cost on
// handshake throughput is handshake_store/psk (bench_handshake.cc).
#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <openssl/crypto.h>

#include "bench_util.h"
#include "sg_cred.h"
#include "sg_store_sess.h"

namespace
{

using Clock = std::chrono::steady_clock;

const uint8_t kCidKey[16] = { 0x62, 0x65, 0x6e, 0x63, 0x68, 0x2d, 0x72, 0x65,
	                      0x73, 0x74, 0x6f, 0x72, 0x65, 0x2d, 0x6b, 0x31 };
const uint8_t kPsk[16] = { 0x4a, 0x10, 0x2f, 0xe1, 0x7c, 0x33, 0x09, 0xb8,
	                   0x5d, 0x61, 0x92, 0xa4, 0x0e, 0xc7, 0x38, 0xf5 };

sg_sess_table *make_table(uint32_t n)
{
	sg_sess_params p{};

	p.capacity = n;
	p.cid_len = 8;
	p.cid_key = kCidKey;
	return sg_sess_table_create(&p);
}

// Device k: an IPv4 CID session of AES-128-CCM-8, as most devices are.
int install(sg_sess_table *t, uint32_t k, uint64_t *id)
{
	sgbench::Keys keys;
	sg_rec_sa_params sp;
	alignas(64) sg_rec_sa sa;
	sg_sess_new n{};
	int rc;

	sgbench::session_keys(k, SG_AEAD_AES_128_CCM_8, keys);
	sp = sgbench::sa_params(SG_AEAD_AES_128_CCM_8, keys, false);
	sp.flags = SG_SA_F_RX_CID;
	sp.tx_seq = 1 + k % 5000;
	sp.rx_seq = 1 + k % 7000;
	if (sg_rec_sa_init(&sa, SG_REPLAY_WINDOW_DEFAULT, &sp) != 0)
		return -EINVAL;
	n.sa = &sa;
	sg_sess_tuple_v4(&n.tuple, 0xc6120001u, htons(5684), 0xc6130000u + (k & 0xffff),
	                 htons(static_cast<uint16_t>(1024 + (k >> 16))));
	n.flags = SG_SESS_F_CID;
	n.suite = 0xC0A8;
	n.expires = 2000000000u;
	n.last_rx = 1700000000u;
	rc = sg_sess_insert(t, &n, id, nullptr);
	sg_rec_sa_wipe(&sa, SG_REPLAY_WINDOW_DEFAULT);
	return rc;
}

// The gateway's put of session id (device k).
int put(sg_store *st, sg_sess_table *t, uint64_t id, uint32_t k, const uint8_t tag[8])
{
	sg_sess_info info;
	alignas(64) sg_rec_sa sa;
	sg_store_rec rec;
	int rc = sg_sess_get(t, id, &info);

	if (rc == 0)
		rc = sg_sess_get_sa(t, id, &sa);
	if (rc != 0)
		return rc;
	sg_store_rec_from_session(&rec, &info, &sa);
	rec.identity_len = static_cast<uint8_t>(snprintf(reinterpret_cast<char *>(rec.identity),
	                                                 sizeof(rec.identity), "dev-%011u", k));
	memcpy(rec.cred_tag, tag, 8);
	rec.backend = k;
	rc = sg_store_put(st, static_cast<uint32_t>(id), &rec);
	sg_store_rec_wipe(&rec);
	sg_rec_sa_wipe(&sa, SG_REPLAY_WINDOW_DEFAULT);
	return rc;
}

void remove_store(const std::string &dir)
{
	unlink((dir + "/sessions/data.mdb").c_str());
	unlink((dir + "/sessions/lock.mdb").c_str());
	rmdir((dir + "/sessions").c_str());
	rmdir(dir.c_str());
}

// Build a store of n sessions under a fresh directory; "" on failure (reason in err).
std::string build_store(uint32_t n, const sg_store_key &key, uint64_t *bytes, std::string &err)
{
	const char *base = getenv("SG_BENCH_DIR");
	std::string dir = std::string(base != nullptr ? base : "/tmp") + "/sg-bench-restore-XXXXXX";
	sg_sess_table *t = make_table(n);
	sg_store_params sp{};
	struct sg_store_stats stats;
	sg_store *st;
	uint8_t tag[8];
	int rc = 0;

	if (t == nullptr || mkdtemp(dir.data()) == nullptr) {
		err = "table or directory";
		sg_sess_table_destroy(t);
		return "";
	}
	std::string path = dir + "/sessions";
	sp.path = path.c_str();
	sp.map_size = static_cast<uint64_t>(n) * 400 + (64u << 20);
	st = sg_store_open(nullptr, &sp, &key);
	sg_store_cred_tag(kPsk, sizeof(kPsk), tag);
	for (uint32_t k = 0; st != nullptr && rc == 0 && k < n; k++) {
		uint64_t id;

		rc = install(t, k, &id);
		if (rc == 0)
			rc = put(st, t, id, k, tag);
	}
	if (st != nullptr && rc == 0)
		rc = sg_store_commit(st);
	if (st != nullptr) {
		sg_store_stats(st, &stats);
		*bytes = stats.be.size;
	}
	sg_store_close(st);
	sg_sess_table_destroy(t);
	if (st == nullptr || rc != 0) {
		err = "building the store: " + std::string(strerror(st == nullptr ? errno : -rc));
		remove_store(dir);
		return "";
	}
	return dir;
}

// A credential store of devices 0..n-1 (identity dev-%011u, the bench PSK), imported from a CSV.
sg_cred *build_creds(uint32_t n, const std::string &dir)
{
	std::string csv = dir + "/creds.csv", path = dir + "/creds";
	FILE *f = fopen(csv.c_str(), "w");
	sg_cred_import_report rep;
	char hex[2 * sizeof(kPsk) + 1];
	sg_cred *cs;
	int rc;

	if (f == nullptr)
		return nullptr;
	for (size_t i = 0; i < sizeof(kPsk); i++)
		snprintf(hex + 2 * i, 3, "%02x", kPsk[i]);
	for (uint32_t k = 0; k < n; k++)
		fprintf(f, "dev-%011u,%s\n", k, hex);
	fclose(f);
	cs = sg_cred_open(path.c_str(), static_cast<uint64_t>(n) * 256 + (64u << 20),
	                  SG_CRED_CREATE);
	rc = cs != nullptr ? sg_cred_import_file(cs, csv.c_str(), &rep) : -EIO;
	unlink(csv.c_str());
	if (rc != 0) {
		sg_cred_close(cs);
		return nullptr;
	}
	return cs;
}

void remove_creds(sg_cred *cs, const std::string &dir)
{
	sg_cred_close(cs);
	unlink((dir + "/creds/data.mdb").c_str());
	unlink((dir + "/creds/lock.mdb").c_str());
	rmdir((dir + "/creds").c_str());
}

// How the restore looks credentials up: not at all, one sg_cred_get() each, or through one
// reader (a read transaction renewed every SG_CRED_READER_RENEW gets), as the gateway does.
enum class Creds { none, get, reader };

struct CredCheck {
	sg_cred *cs;
	sg_cred_reader *reader; // nullptr: sg_cred_get()
};

// The gateway's check(): the identity's credential now, and the tag of its PSK.
int check_cred(void *arg, const sg_store_rec *rec)
{
	auto *c = static_cast<CredCheck *>(arg);
	sg_cred_entry e;
	uint8_t tag[8];
	int rc = c->reader != nullptr
	                 ? sg_cred_reader_get(c->reader, rec->identity, rec->identity_len, &e)
	                 : sg_cred_get(c->cs, rec->identity, rec->identity_len, &e);

	if (rc != 0)
		return rc;
	sg_store_cred_tag(e.psk, e.psk_len, tag);
	rc = CRYPTO_memcmp(tag, rec->cred_tag, sizeof(tag)) == 0 ? 0 : -EKEYREJECTED;
	sg_cred_entry_wipe(&e);
	return rc;
}

void BM_restore(benchmark::State &state, Creds creds)
{
	const uint32_t n = static_cast<uint32_t>(state.range(0));
	sg_cred *cs = nullptr;
	sg_store_key key{};
	sg_store_restore_result r{};
	uint64_t bytes = 0;
	double total = 0, open_s = 0, insert_s = 0;
	std::string err;

	memset(key.key, 0x5c, sizeof(key.key));
	sg_store_key_set_id(&key);
	std::string dir = build_store(n, key, &bytes, err);
	if (dir.empty()) {
		state.SkipWithError(err.c_str());
		return;
	}
	std::string path = dir + "/sessions";
	if (creds != Creds::none && (cs = build_creds(n, dir)) == nullptr) {
		remove_store(dir);
		state.SkipWithError("building the credential store");
		return;
	}
	for (auto _ : state) {
		sg_sess_table *t = make_table(n); // the daemon creates it before the restore
		sg_store_params sp{};
		sg_store_restore_params p{};

		sp.path = path.c_str();
		sp.map_size = static_cast<uint64_t>(n) * 400 + (64u << 20);
		p.now = 1800000000;
		p.seq_step = 1024;
		p.seq_margin = 65536;
		p.n_workers = 2;
		CredCheck cc{ cs, nullptr };
		p.check = cs != nullptr ? check_cred : nullptr;
		p.arg = &cc;
		auto t0 = Clock::now();
		if (creds == Creds::reader)
			cc.reader = sg_cred_reader_begin(cs, 0);
		sg_store *st = sg_store_open(nullptr, &sp, &key);
		int rc = st != nullptr ? sg_store_restore(st, t, &p, &r) : -errno;
		sg_store_close(st);
		sg_cred_reader_end(cc.reader);
		double s = std::chrono::duration<double>(Clock::now() - t0).count();
		sg_sess_table_destroy(t);
		if (rc != 0 || r.restored != n) {
			state.SkipWithError("restore failed or incomplete");
			break;
		}
		state.SetIterationTime(s);
		total += s;
		open_s += static_cast<double>(r.open_ns) * 1e-9;
		insert_s += static_cast<double>(r.insert_ns) * 1e-9;
	}
	if (cs != nullptr)
		remove_creds(cs, dir);
	remove_store(dir);
	sg_store_key_wipe(&key);
	const double it = static_cast<double>(state.iterations());
	state.SetItemsProcessed(state.iterations() * n);
	state.counters["sessions_per_s"] = benchmark::Counter(n * it / total);
	state.counters["total_s"] = benchmark::Counter(total / it);
	state.counters["walk_open_s"] = benchmark::Counter(open_s / it);
	state.counters["insert_s"] = benchmark::Counter(insert_s / it);
	state.counters["store_bytes"] = benchmark::Counter(static_cast<double>(bytes));
}

// The worst case of the restore's deletes: every one of n sessions expired while the daemon
// was down. Timed: open, the restore (nothing comes back, all n deleted), the commit the
// gateway makes at start. The store is built again, untimed, for each iteration.
void BM_restore_expired(benchmark::State &state)
{
	const uint32_t n = static_cast<uint32_t>(state.range(0));
	sg_store_key key{};
	sg_store_restore_result r{};
	uint64_t bytes = 0;
	double total = 0;
	std::string err;

	memset(key.key, 0x5c, sizeof(key.key));
	sg_store_key_set_id(&key);
	for (auto _ : state) {
		std::string dir = build_store(n, key, &bytes, err);
		if (dir.empty()) {
			state.SkipWithError(err.c_str());
			break;
		}
		std::string path = dir + "/sessions";
		sg_sess_table *t = make_table(n);
		sg_store_params sp{};
		sg_store_restore_params p{};

		sp.path = path.c_str();
		sp.map_size = static_cast<uint64_t>(n) * 400 + (64u << 20);
		p.now = 2000000001; // past every deadline
		auto t0 = Clock::now();
		sg_store *st = sg_store_open(nullptr, &sp, &key);
		int rc = st != nullptr ? sg_store_restore(st, t, &p, &r) : -errno;
		if (rc == 0)
			rc = sg_store_commit(st);
		sg_store_close(st);
		double sec = std::chrono::duration<double>(Clock::now() - t0).count();
		sg_sess_table_destroy(t);
		remove_store(dir);
		if (rc != 0 || r.deleted != n || r.restored != 0) {
			state.SkipWithError("restore failed or not every record deleted");
			break;
		}
		state.SetIterationTime(sec);
		total += sec;
	}
	sg_store_key_wipe(&key);
	const double it = static_cast<double>(state.iterations());
	state.SetItemsProcessed(state.iterations() * n);
	state.counters["total_s"] = benchmark::Counter(total / it);
	state.counters["deleted_per_s"] = benchmark::Counter(n * it / total);
}

int register_all()
{
	benchmark::RegisterBenchmark("restore_expired", BM_restore_expired)
	        ->Arg(100000)
	        ->Arg(1000000)
	        ->Iterations(1)
	        ->UseManualTime()
	        ->Unit(benchmark::kMillisecond);
	static const struct {
		const char *name;
		Creds creds;
	} rows[] = {
		{ "restore", Creds::none },
		{ "restore_cred", Creds::reader },
		{ "restore_cred_get", Creds::get },
	};
	for (const auto &row : rows)
		benchmark::RegisterBenchmark(row.name, BM_restore, row.creds)
		        ->Arg(100000)
		        ->Arg(1000000)
		        ->Iterations(3)
		        ->UseManualTime()
		        ->Unit(benchmark::kMillisecond);
	// one restore: the store takes a minute to build, the restore itself ~10 s
	if (getenv("SG_BENCH_RESTORE_10M") == nullptr)
		return 0;
	for (const auto &row : rows)
		benchmark::RegisterBenchmark(row.name, BM_restore, row.creds)
		        ->Arg(10000000)
		        ->Iterations(1)
		        ->UseManualTime()
		        ->Unit(benchmark::kMillisecond);
	return 0;
}

const int registered = register_all();

} // namespace
