// SPDX-License-Identifier: Apache-2.0
// Session table benchmarks (issue 4), public API only:
//   session_lookup/<n>      bulk lookups by UDP 4-tuple, bursts of 32, one core
//   session_lookup_cid/<n>  bulk lookups by our CID (decode + check), same
//   session_insert/<n>      inserts/s building a table of n sessions in groups of 32
//                           (sg_sess_insert_bulk: the restore path); the memory
//                           a table of n sessions takes is gateway_memory's
//                           (bench_memory.cc: one cold run in a fresh process)
//   session_insert_single/<n>  the same, one sg_sess_insert() per session
// and, in the same binary, the baselines the design was chosen against:
//   session_baseline_rte_hash/<n>     rte_hash (lock-free RW) bulk lookup, same keys
//   session_baseline_rte_hash_mem/<n> rte_hash inserts, bytes_per_session of the index alone
//                                     (rte_malloc heap bytes allocated / n)
//   session_baseline_ecb/32           raw IPsec-MB AES-128-ECB over 32 blocks (CID decode cost)
// Keys are drawn uniformly at random from the n live sessions into a
// pre-built stream of kStream keys (the packets of a burst are already
// parsed), walked in order; each time a pass is used up the stream is drawn
// afresh (timer paused), so a run at 10M touches keys of all sessions, not
// the same 2^20. See docs/performance.md for the command and
// docs/session-table.md.
#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <vector>

#include <intel-ipsec-mb.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <stormgate/imb_job.h>
#include <stormgate/session.h>
#include <stormgate/time.h>

#include "bench_util.h"

namespace
{

constexpr unsigned kBurst = 32;
constexpr size_t kStream = 1u << 20; // keys per pass, redrawn for every pass

uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

// Device k: IPv4 peers in 198.18.0.0/15, every fourth one IPv6 in fd00:5347::/64.
void tuple_of(struct sg_sess_tuple *t, uint32_t k)
{
	if (k % 4 == 3) {
		uint8_t l[16] = { 0xfd, 0x00, 0x53, 0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
		uint8_t p[16] = { 0xfd, 0x00, 0x53, 0x47, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0 };

		memcpy(p + 12, &k, 4);
		sg_sess_tuple_v6(t, l, htons(5684), p, htons((uint16_t)(1024 + k % 50000)));
	} else {
		sg_sess_tuple_v4(t, htonl(0xC6120001u), htons(5684),
		                 htonl(0xC6120000u | (k & 0x1ffff)),
		                 htons((uint16_t)(1024 + (k >> 17) % 60000)));
	}
}

void sa_of(struct sg_rec_sa *sa, uint32_t k)
{
	memset(sa, 0, sizeof(*sa));
	sa->aead = SG_AEAD_AES_128_CCM_8;
	sa->epoch = 1;
	for (unsigned i = 0; i < 32; i += 8) {
		uint64_t r = mix((uint64_t)k << 8 | i);

		memcpy(sa->rx_key + i, &r, 8);
		memcpy(sa->tx_key + i, &r, 8);
	}
}

struct sg_sess_new new_of(const struct sg_rec_sa *sa, uint32_t k, const uint8_t *peer_cid)
{
	struct sg_sess_new n;

	memset(&n, 0, sizeof(n));
	n.sa = sa;
	tuple_of(&n.tuple, k);
	n.flags = SG_SESS_F_TUPLE | SG_SESS_F_CID; // worst case: both keys indexed
	n.peer_cid = peer_cid;
	n.peer_cid_len = 8; // a typical device CID, stored inline
	n.owner = (uint16_t)(k & 1);
	n.suite = 0xC0A8;
	n.identity = k;
	n.backend = k % 16;
	n.expires = 2000000000u;
	return n;
}

sg_sess_table *make_table(uint32_t n)
{
	struct sg_sess_params p;

	memset(&p, 0, sizeof(p));
	p.capacity = n;
	return sg_sess_table_create(&p);
}

const uint8_t peer_cid8[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

// Insert sessions 0..n-1 one by one (sg_sess_insert); -errno of the first failure, or 0.
int fill_single(sg_sess_table *t, uint32_t n, uint8_t (*cids)[8])
{
	struct sg_rec_sa sa;

	for (uint32_t k = 0; k < n; k++) {
		uint64_t id;
		struct sg_sess_new s;
		int rc;

		sa_of(&sa, k);
		s = new_of(&sa, k, peer_cid8);
		rc = sg_sess_insert(t, &s, &id, cids != nullptr ? cids[k] : nullptr);
		if (rc != 0) {
			sg_wipe(&sa, sizeof(sa));
			return rc;
		}
	}
	sg_wipe(&sa, sizeof(sa));
	return 0;
}

// Insert sessions 0..n-1 in groups of 32 (sg_sess_insert_bulk, the restore path).
int fill(sg_sess_table *t, uint32_t n, uint8_t (*cids)[8])
{
	constexpr unsigned G = 32;
	static struct sg_rec_sa sa[G];
	struct sg_sess_new s[G];
	uint64_t ids[G];
	int rcs[G];
	int rc = 0;

	for (uint32_t k = 0; k < n && rc == 0; k += G) {
		unsigned m = n - k < G ? n - k : G;

		for (unsigned i = 0; i < m; i++) {
			sa_of(&sa[i], k + i);
			s[i] = new_of(&sa[i], k + i, peer_cid8);
		}
		if (sg_sess_insert_bulk(t, s, m, ids, cids != nullptr ? cids[k] : nullptr, rcs) !=
		    m)
			for (unsigned i = 0; i < m && rc == 0; i++)
				rc = rcs[i];
	}
	sg_wipe(sa, sizeof(sa));
	return rc;
}

// A table of n sessions plus a random key stream over it, built once per size.
struct Fixture {
	sg_sess_table *t = nullptr;
	sg_sess_worker *w = nullptr;
	uint32_t n;
	uint64_t x;
	std::vector<uint8_t> all; // the CID of every session, n * 8 bytes
	std::vector<struct sg_sess_tuple> tuples;
	std::vector<uint8_t> cids; // kStream * 8 bytes
	std::vector<uint32_t> ks;  // session number of each stream position

	explicit Fixture(uint32_t count) : n(count), x(count), all((size_t)count * 8)
	{
		t = make_table(n);
		if (t == nullptr || fill(t, n, (uint8_t(*)[8])all.data()) != 0)
			abort();
		w = sg_sess_worker_create(t, 0);
		if (w == nullptr)
			abort();
		tuples.resize(kStream);
		cids.resize(kStream * 8);
		ks.resize(kStream);
		redraw();
		sg_sess_worker_online(w);
	}

	// A new stream: kStream sessions drawn uniformly among all n.
	void redraw()
	{
		for (size_t i = 0; i < kStream; i++) {
			ks[i] = (uint32_t)((x = mix(x)) % n);
			tuple_of(&tuples[i], ks[i]);
			memcpy(&cids[i * 8], &all[(size_t)ks[i] * 8], 8);
		}
	}
	~Fixture()
	{
		sg_sess_worker_offline(w);
		sg_sess_worker_destroy(w);
		sg_sess_table_destroy(t);
	}
};

std::map<uint32_t, std::unique_ptr<Fixture>> fixtures;

Fixture &fixture(uint32_t n)
{
	auto &f = fixtures[n];

	if (!f)
		f.reset(new Fixture(n));
	return *f;
}

// Advance pos by a burst; past the end of the stream, count the pass's
// sessions in touched and redraw it (timer paused).
void next_pass(benchmark::State &state, Fixture &f, size_t &pos, sgbench::Touched &touched)
{
	pos += kBurst;
	if (pos + kBurst > kStream) {
		state.PauseTiming();
		touched.add(f.ks.data(), pos);
		f.redraw();
		state.ResumeTiming();
		pos = 0;
	}
}

// The sessions the run looked up: the stream's used part, then the counter.
void report_touched(benchmark::State &state, Fixture &f, size_t pos, sgbench::Touched &touched)
{
	touched.add(f.ks.data(), pos);
	state.counters["sessions_touched"] = double(touched.count);
}

void per_item(benchmark::State &state)
{
	state.SetItemsProcessed((int64_t)state.iterations() * kBurst);
	state.counters["s_per_item"] =
	        benchmark::Counter((double)state.iterations() * kBurst,
	                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// The lookup benchmarks' loop over the fixture of range(0) sessions:
// lookup(f, pos, refs) looks up the kBurst sessions of the stream at pos and
// returns how many it found; a miss ends the run with the error `miss`.
template <typename Lookup>
void lookup_loop(benchmark::State &state, const char *miss, Lookup lookup)
{
	Fixture &f = fixture((uint32_t)state.range(0));
	sgbench::Touched touched(f.n);
	struct sg_sess_ref refs[kBurst];
	size_t pos = 0;

	for (auto _ : state) {
		if (lookup(f, pos, refs) != kBurst) {
			state.SkipWithError(miss);
			break;
		}
		benchmark::DoNotOptimize(refs);
		next_pass(state, f, pos, touched);
		sg_sess_quiescent(f.w);
	}
	report_touched(state, f, pos, touched);
	per_item(state);
}

void session_lookup(benchmark::State &state)
{
	lookup_loop(state, "lookup missed a live session",
	            [](Fixture &f, size_t pos, sg_sess_ref *refs) {
		            return sg_sess_lookup_tuple_bulk(f.w, &f.tuples[pos], kBurst, refs);
	            });
}

void session_lookup_cid(benchmark::State &state)
{
	const uint8_t *cp[kBurst];

	lookup_loop(state, "CID lookup missed a live session",
	            [&cp](Fixture &f, size_t pos, sg_sess_ref *refs) {
		            for (unsigned i = 0; i < kBurst; i++)
			            cp[i] = &f.cids[(pos + i) * 8];
		            return sg_sess_lookup_cid_bulk(f.w, cp, kBurst, refs);
	            });
}

// Inserts/s building a table of n sessions with fill_fn, and its creation
// time (create_s, not timed). Its memory: gateway_memory (bench_memory.cc),
// measured in a fresh process; a figure taken here, after other iterations
// and benchmarks, would count reused heap and code pages instead.
using fill_fn_t = int (*)(sg_sess_table *, uint32_t, uint8_t (*)[8]);

void insert_bench(benchmark::State &state, fill_fn_t fill_fn)
{
	uint32_t n = (uint32_t)state.range(0);
	double create = 0, wall = 0;

	fixtures.clear(); // the lookup benchmarks' tables (10M: 2.4 GB) are not needed here
	for (auto _ : state) {
		sg_sess_table *t;
		uint64_t t0, t1;
		int rc;

		state.PauseTiming();
		// Creation commits (prefaults) the whole table: timed apart, reported as create_s.
		t0 = sg_mono_ns();
		t = make_table(n);
		create = (double)(sg_mono_ns() - t0) * 1e-9;
		if (t == nullptr) {
			state.SkipWithError("sg_sess_table_create failed");
			break;
		}
		state.ResumeTiming();
		t0 = sg_mono_ns();
		rc = fill_fn(t, n, nullptr);
		t1 = sg_mono_ns();
		state.PauseTiming();
		wall += (double)(t1 - t0) * 1e-9;
		sg_sess_table_destroy(t);
		state.ResumeTiming();
		if (rc != 0) {
			state.SkipWithError("insert refused");
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations() * n);
	state.counters["create_s"] = create;
	// items_per_second is per CPU second (exact benchmark names forbid UseRealTime's
	// suffix); this one is per wall-clock second, what a restore waits for.
	state.counters["wall_items_per_s"] = wall > 0 ? (double)state.iterations() * n / wall : 0;
	state.counters["s_per_item"] =
	        benchmark::Counter((double)state.iterations() * n,
	                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Groups of 32 (sg_sess_insert_bulk): the restore path.
void session_insert(benchmark::State &state)
{
	insert_bench(state, fill);
}

// One sg_sess_insert() per session: the control plane installing sessions as
// handshakes complete.
void session_insert_single(benchmark::State &state)
{
	insert_bench(state, fill_single);
}

// ---- baselines ----

// An empty rte_hash (lock-free readers) sized for n session 4-tuples.
struct rte_hash *rte_hash_new(uint32_t n)
{
	static unsigned seq;
	char name[32];
	struct rte_hash_parameters p;

	snprintf(name, sizeof(name), "sess_bl_%u", seq++);
	memset(&p, 0, sizeof(p));
	p.name = name;
	p.entries = n < 64 ? 64 : n;
	p.key_len = sizeof(struct sg_sess_tuple);
	p.hash_func = rte_hash_crc;
	p.socket_id = -1; // SOCKET_ID_ANY
	p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
	return rte_hash_create(&p);
}

// An rte_hash holding the 4-tuples of sessions 0..n-1 (data: the session's number); nullptr
// with *err saying which step failed.
struct rte_hash *rte_hash_of(uint32_t n, const char **err)
{
	struct rte_hash *h = rte_hash_new(n);

	*err = "rte_hash_create failed";
	for (uint32_t k = 0; h != nullptr && k < n; k++) {
		struct sg_sess_tuple t;

		tuple_of(&t, k);
		if (rte_hash_add_key_data(h, &t, (void *)(uintptr_t)k) != 0) {
			*err = "rte_hash_add_key_data failed";
			rte_hash_free(h);
			h = nullptr;
		}
	}
	return h;
}

void session_baseline_rte_hash(benchmark::State &state)
{
	uint32_t n = (uint32_t)state.range(0);
	std::vector<struct sg_sess_tuple> stream(kStream);
	std::vector<uint32_t> ks(kStream);
	sgbench::Touched touched(n);
	struct rte_hash *h;
	const char *err;
	uint64_t x = n;

	if (!sgbench::eal_up()) {
		state.SkipWithError("rte_eal_init failed");
		return;
	}
	h = rte_hash_of(n, &err);
	if (h == nullptr) {
		state.SkipWithError(err);
		return;
	}
	auto redraw = [&]() {
		for (size_t i = 0; i < kStream; i++) {
			ks[i] = (uint32_t)((x = mix(x)) % n);
			tuple_of(&stream[i], ks[i]);
		}
	};
	redraw();
	size_t pos = 0;
	for (auto _ : state) {
		const void *keys[kBurst];
		void *data[kBurst];
		uint64_t hit = 0;

		for (unsigned i = 0; i < kBurst; i++)
			keys[i] = &stream[pos + i];
		if (rte_hash_lookup_bulk_data(h, keys, kBurst, &hit, data) != (int)kBurst) {
			state.SkipWithError("rte_hash missed a key");
			break;
		}
		benchmark::DoNotOptimize(data);
		pos += kBurst;
		if (pos + kBurst > kStream) { // as next_pass(): a new stream every pass
			state.PauseTiming();
			touched.add(ks.data(), pos);
			redraw();
			state.ResumeTiming();
			pos = 0;
		}
	}
	touched.add(ks.data(), pos);
	state.counters["sessions_touched"] = double(touched.count);
	per_item(state);
	rte_hash_free(h);
}

void session_baseline_rte_hash_mem(benchmark::State &state)
{
	uint32_t n = (uint32_t)state.range(0);
	double bytes = 0;

	if (!sgbench::eal_up()) {
		state.SkipWithError("rte_eal_init failed");
		return;
	}
	fixtures.clear();
	for (auto _ : state) {
		// EAL's --no-huge memory is resident from init: count rte_malloc's heap instead.
		struct rte_malloc_socket_stats st0, st1;
		rte_malloc_get_socket_stats(0, &st0);
		const char *err;
		struct rte_hash *h = rte_hash_of(n, &err);

		if (h == nullptr) {
			state.SkipWithError(err);
			break;
		}
		rte_malloc_get_socket_stats(0, &st1);
		bytes = (double)(st1.heap_allocsz_bytes - st0.heap_allocsz_bytes) / n;
		state.PauseTiming();
		rte_hash_free(h);
		state.ResumeTiming();
	}
	state.SetItemsProcessed((int64_t)state.iterations() * n);
	state.counters["bytes_per_session"] = bytes;
}

void session_baseline_ecb(benchmark::State &state)
{
	unsigned n = (unsigned)state.range(0);
	IMB_MGR *m = alloc_mb_mgr(0);
	alignas(16) uint8_t ek[16 * 11], dk[16 * 11];
	alignas(64) uint8_t buf[SG_BURST_MAX * 16];
	const uint8_t key[16] = { 1 };

	init_mb_mgr_auto(m, nullptr);
	IMB_AES_KEYEXP_128(m, key, ek, dk);
	memset(buf, 7, sizeof(buf));
	for (auto _ : state) {
		IMB_JOB *job = sg_imb_aes128_job(m, IMB_CIPHER_ECB, ek, buf, buf, (uint64_t)n * 16,
		                                 nullptr, 0);

		job = IMB_SUBMIT_JOB(m);
		if (job == nullptr)
			job = IMB_FLUSH_JOB(m);
		benchmark::DoNotOptimize(job);
	}
	state.SetItemsProcessed((int64_t)state.iterations() * n);
	free_mb_mgr(m);
}

} // namespace

BENCHMARK(session_lookup)->Arg(1000)->Arg(1000000)->Arg(10000000);
BENCHMARK(session_lookup_cid)->Arg(1000)->Arg(1000000)->Arg(10000000);
BENCHMARK(session_insert)->Arg(1000)->Arg(1000000)->Arg(10000000)->Unit(benchmark::kMillisecond);
BENCHMARK(session_insert_single)
        ->Arg(1000)
        ->Arg(1000000)
        ->Arg(10000000)
        ->Unit(benchmark::kMillisecond);
BENCHMARK(session_baseline_rte_hash)->Arg(1000)->Arg(1000000)->Arg(10000000);
BENCHMARK(session_baseline_rte_hash_mem)
        ->Arg(1000000)
        ->Arg(10000000)
        ->Unit(benchmark::kMillisecond);
BENCHMARK(session_baseline_ecb)->Arg(32);
