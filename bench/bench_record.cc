// SPDX-License-Identifier: Apache-2.0
// Record layer benchmarks (docs/performance.md, "Record layer"):
//
//   record_open/<suite>/<payload>/<sessions>            sg_rec_open_burst, bursts of 128
//                                                       (suites: the AEADs, cbc_sha256
//                                                       MAC-then-encrypt, cbc_sha256_etm
//                                                       encrypt-then-MAC)
//   record_seal/<suite>/<payload>/<sessions>            sg_rec_seal_burst, bursts of 128
//   baseline_openssl_open/<suite>/<payload>/<sessions>  OpenSSL EVP, one context with its
//                                                       cipher fixed once, re-keyed (key
//                                                       and nonce) per record, one at a time
//                                                       (CBC: AES-128-CBC and an HMAC EVP_MAC,
//                                                       both re-keyed per record)
//   imb_raw_open/<suite>/<payload>                      bare IPsec-MB job loop, one hot key
//   keystore/<variant>/<suite>/<sessions>               key storage study (64-byte records)
//
// Every record belongs to a session drawn at random from <sessions>; the SAs
// live in one big array (transparent huge pages, as the data plane's
// hugepage memory). Opened records come from a pool sealed outside the timed
// region with fresh sequence numbers and fresh random sessions for every
// pass, so no pass finds its SAs warm from the previous one; the seal and
// keystore loops likewise draw a fresh random order over all <sessions> for
// every pass of kOrder records. Both opens count the records that opened and
// check the last burst's plaintext after the timed loop: a run where one
// record failed is an error, not a figure. Counters: items_per_second
// (records/s) and rec_time (time per record).
#include <benchmark/benchmark.h>

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <intel-ipsec-mb.h>

#include <stormgate/record.h>

#include "baseline_openssl.h"
#include "bench_util.h"

namespace
{

constexpr unsigned kBurst = SG_BURST_MAX;
constexpr unsigned kWindow = SG_REPLAY_WINDOW_DEFAULT;
constexpr size_t kPool = 32768;    // records opened per pass
constexpr size_t kOrder = 1 << 16; // records sealed (keystore: keyed) per pass, each of a
                                   // session drawn at random among all, redrawn every pass

using sgbench::kSuites;
using sgbench::SuiteInfo;
const unsigned kPayloads[] = { 64, 256, 1024 };
const size_t kSessions[] = { 1, 1000, 1000000, 10000000 };

// A record suite as these benchmarks run it: the AEAD and the SA flags.
struct RecSuite {
	const char *name;
	sg_aead aead;
	uint8_t flags;
};

// The CBC-SHA256 suites (TLS_PSK_WITH_AES_128_CBC_SHA256 and the ECDHE_ECDSA one):
// MAC-then-encrypt, and RFC 7366 encrypt-then-MAC. Up to 1M sessions: their SAs
// are three lines, and 10M of each would add ~4 GB to the arrays kept below.
const RecSuite kCbcSuites[] = {
	{ "cbc_sha256", SG_AEAD_AES_128_CBC_SHA256, 0 },
	{ "cbc_sha256_etm", SG_AEAD_AES_128_CBC_SHA256, SG_SA_F_ETM },
};
constexpr size_t kCbcSessionsMax = 1000000;

// As in the record layer: GCC deletes loops made only of __builtin_prefetch.
inline void prefetch_line(const void *p)
{
	__asm__ volatile("prefetcht0 %0" : : "m"(*static_cast<const char *>(p)));
}

using sgbench::Keys;
using sgbench::session_keys;
using sgbench::splitmix;

// Plaintext byte b of a pool record of session sess sealed in pass gen: the
// opens' output is checked against it, and a stale byte of an earlier pass
// does not match.
uint8_t plain_byte(uint32_t sess, unsigned b, uint32_t gen)
{
	return uint8_t(sess * 131u + b * 7u + gen);
}

// A fresh random order of kOrder sessions among all `sessions` (outside the
// timed region): every pass touches new sessions, not the same 65,536.
void draw_order(std::vector<uint32_t> &order, size_t sessions, uint64_t &rng)
{
	for (auto &o : order)
		o = sessions == 1 ? 0 : uint32_t(splitmix(rng) % sessions);
}

// The next kBurst entries of order, redrawn with the timer paused when a pass
// is used up (its sessions counted in touched then; the last pass's used part
// after the run).
const uint32_t *next_order(benchmark::State &state, std::vector<uint32_t> &order, size_t sessions,
                           uint64_t &rng, size_t &pos, sgbench::Touched &touched)
{
	if (pos + kBurst > order.size()) {
		state.PauseTiming();
		touched.add(order.data(), pos);
		draw_order(order, sessions, rng);
		state.ResumeTiming();
		pos = 0;
	}
	const uint32_t *o = &order[pos];
	pos += kBurst;
	return o;
}

// Per-slot buffer stride for payload bytes: whole lines, and not a power of
// two, so that 128 slots do not all map to the same few cache sets.
size_t slot_stride(unsigned payload)
{
	size_t s = (payload + 64 + 63) & ~size_t(63);

	return (s & (s - 1)) == 0 ? s + 64 : s;
}

void *huge_alloc(size_t bytes)
{
	void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return nullptr;
	madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

// `count` server SAs of one suite, sg_rec_sa_size_for() bytes apart (CBC SAs carry
// their MAC line).
struct SaArray {
	uint8_t *base = nullptr;
	size_t stride = 0;

	explicit operator bool() const
	{
		return base != nullptr;
	}

	sg_rec_sa *operator[](size_t i) const
	{
		return reinterpret_cast<sg_rec_sa *>(base + i * stride);
	}
};

// The server SAs of every session count of every suite, built once and kept
// (all of them: ~7 GB, and ~0.4 GB for CBC), so that benchmarks may run in any
// order (--benchmark_enable_random_interleaving) without rebuilding 10M SAs.
struct SaArrays {
	std::map<std::pair<int, size_t>, SaArray> arrays;

	SaArray get(sg_aead a, size_t count, uint8_t flags = 0)
	{
		auto key = std::make_pair(int(a) | flags << 8, count);
		auto it = arrays.find(key);

		if (it != arrays.end())
			return it->second;
		SaArray sa;
		sa.stride = sg_rec_sa_size_for(kWindow, a);
		sa.base = static_cast<uint8_t *>(huge_alloc(count * sa.stride));
		if (!sa)
			return sa;
		for (size_t i = 0; i < count; i++) {
			Keys k;
			sg_rec_sa_params p;

			session_keys(i, a, k);
			p = sgbench::sa_params(a, k, false, flags);
			sg_rec_sa_init(sa[i], kWindow, &p);
		}
		arrays[key] = sa;
		return sa;
	}
} g_sas;

uint64_t g_seq = 1; // every sealed test record gets a new number: never a replay

// Where an open benchmark's records of one burst go: a slot of `stride` bytes
// per record (slot_stride()), and where in its slot each one's plaintext is.
struct OpenedBurst {
	size_t stride;
	std::vector<uint8_t> out;
	uint32_t pt_off[kBurst] = {}, pt_len[kBurst] = {};

	explicit OpenedBurst(unsigned payload) : stride(slot_stride(payload)), out(kBurst * stride)
	{
	}

	uint8_t *slot(unsigned j)
	{
		return out.data() + j * stride;
	}
};

// Fresh random sessions for every pass over the pool.
struct Pool {
	unsigned payload = 0;
	size_t stride = 0;
	std::vector<uint8_t> buf;
	std::vector<uint32_t> len;
	std::vector<uint32_t> sess;
	uint64_t rng = 1;
	uint32_t gen = 0; // pass number, in the plaintext pattern
	sgbench::Touched touched;

	explicit Pool(size_t sessions) : touched(sessions)
	{
	}

	void init(unsigned p, sg_aead aead)
	{
		payload = p;
		stride = (sg_rec_seal_headroom(aead, 0, 0) + p + sg_rec_seal_tailroom(aead, 0, 0) +
		          63) &
		         ~size_t(63);
		buf.assign(kPool * stride + 64, 0);
		len.assign(kPool, 0);
		sess.assign(kPool, 0);
	}

	uint8_t *rec(size_t i)
	{
		return buf.data() + i * stride;
	}

	// Seal kPool client records (outside the timed region) with the library,
	// on a context of its own so the measured one sees only the measured work.
	bool refill(sg_aead aead, size_t sessions, uint8_t flags)
	{
		static sg_rec_sa *cli;
		static sg_rec_ctx *ctx;
		sg_rec_seal_op ops[kBurst];

		if (!cli) {
			cli = static_cast<sg_rec_sa *>(
			        aligned_alloc(SG_CACHE_LINE, kBurst * sg_rec_sa_size_max(kWindow)));
			ctx = sg_rec_ctx_create(nullptr);
			if (!cli || !ctx)
				return false;
		}
		unsigned head = sg_rec_seal_headroom(aead, 0, 0);
		gen++;
		for (size_t base = 0; base < kPool; base += kBurst) {
			for (unsigned j = 0; j < kBurst; j++) {
				size_t i = base + j;

				sess[i] = sessions == 1 ? 0 : uint32_t(splitmix(rng) % sessions);
				for (unsigned b = 0; b < payload; b++)
					rec(i)[head + b] = plain_byte(sess[i], b, gen);
				ops[j].buf = rec(i); // exact headroom: the record starts the slot
				ops[j].buf_len = uint32_t(stride);
				ops[j].pt_off = head;
				ops[j].pt_len = payload;
			}
			if (!sgbench::seal_as_devices(ctx, cli, aead, &sess[base], ops, kBurst,
			                              g_seq, flags))
				return false;
			for (unsigned j = 0; j < kBurst; j++)
				len[base + j] = ops[j].rec_len;
		}
		return true;
	}

	// Where the next burst starts: a pass used up refills the pool with the
	// timer paused. False (and the benchmark skipped) when sealing failed.
	bool next(benchmark::State &state, const RecSuite &su, size_t sessions, size_t &pos)
	{
		if (pos < kPool)
			return true;
		state.PauseTiming();
		if (gen > 0)
			touched.add(sess.data(), pos); // the pass used up
		bool ok = refill(su.aead, sessions, su.flags);
		state.ResumeTiming();
		if (!ok) {
			state.SkipWithError("refill failed");
			return false;
		}
		pos = 0;
		return true;
	}

	// True when the opened plaintext of records [at, at + kBurst) (in b) is
	// what was sealed.
	bool plaintext_ok(size_t at, const OpenedBurst &b) const
	{
		for (unsigned j = 0; j < kBurst; j++) {
			const uint8_t *pt = b.out.data() + j * b.stride + b.pt_off[j];

			if (b.pt_len[j] != payload)
				return false;
			for (unsigned i = 0; i < payload; i++)
				if (pt[i] != plain_byte(sess[at + j], i, gen))
					return false;
		}
		return true;
	}

	// After an open benchmark's timed loop, which used the pool up to pos:
	// every record must have opened (opened of records) and the last burst
	// (b) to what was sealed, so an open that "succeeds" without decrypting
	// cannot give a figure; then the sessions of the pass count as touched.
	void finish_opens(benchmark::State &state, size_t pos, uint64_t records, uint64_t opened,
	                  const OpenedBurst &b)
	{
		if (!state.error_occurred() && records > 0 &&
		    (opened != records || !plaintext_ok(pos - kBurst, b)))
			state.SkipWithError("a record did not open to its plaintext");
		if (gen > 0)
			touched.add(sess.data(), pos);
	}
};

const char *arch_label(sg_rec_ctx *ctx)
{
	return sg_rec_ctx_arch(ctx);
}

// touched: the sessions the run used (nullptr: a benchmark without sessions).
void finish(benchmark::State &state, uint64_t records, sg_rec_ctx *ctx,
            const sgbench::Touched *touched)
{
	state.SetItemsProcessed(int64_t(records));
	if (touched != nullptr)
		state.counters["sessions_touched"] = double(touched->count);
	state.counters["rec_time"] = benchmark::Counter(
	        double(records), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
	if (ctx)
		state.SetLabel(arch_label(ctx));
}

// ---- record_open ---------------------------------------------------------------------

void bm_record_open(benchmark::State &state, RecSuite su, unsigned payload, size_t sessions)
{
	sg_rec_ctx *ctx = sg_rec_ctx_create(nullptr);
	SaArray sas = g_sas.get(su.aead, sessions, su.flags);
	Pool pool(sessions);
	OpenedBurst b(payload);
	sg_rec_open_op ops[kBurst];
	size_t pos = kPool;
	uint64_t records = 0, opened = 0;

	if (!ctx || !sas) {
		state.SkipWithError("setup failed");
		sg_rec_ctx_free(ctx);
		return;
	}
	pool.init(payload, su.aead);
	for (auto _ : state) {
		if (!pool.next(state, su, sessions, pos))
			break;
		for (unsigned j = 0; j < kBurst; j++) {
			ops[j].rec = pool.rec(pos + j);
			ops[j].rec_len = pool.len[pos + j];
			ops[j].sa = sas[pool.sess[pos + j]];
			ops[j].dst = b.slot(j);
		}
		unsigned ok = sg_rec_open_burst(ctx, ops, kBurst);
		opened += ok;
		if (ok != kBurst) {
			state.SkipWithError(sg_rec_status_name(sg_rec_status(ops[0].status)));
			break;
		}
		benchmark::DoNotOptimize(ops[kBurst - 1].pt_len);
		pos += kBurst;
		records += kBurst;
	}
	for (unsigned j = 0; j < kBurst; j++) {
		b.pt_off[j] = ops[j].pt_off;
		b.pt_len[j] = ops[j].pt_len;
	}
	pool.finish_opens(state, pos, records, opened, b);
	finish(state, records, ctx, &pool.touched);
	sg_rec_ctx_free(ctx);
}

// ---- record_seal ---------------------------------------------------------------------

void bm_record_seal(benchmark::State &state, RecSuite su, unsigned payload, size_t sessions)
{
	sg_rec_ctx *ctx = sg_rec_ctx_create(nullptr);
	SaArray sas = g_sas.get(su.aead, sessions, su.flags);
	const unsigned head = sg_rec_seal_headroom(su.aead, 0, 0);
	const size_t stride =
	        (head + payload + sg_rec_seal_tailroom(su.aead, 0, 0) + 63) & ~size_t(63);
	std::vector<uint8_t> bufs(kBurst * stride);
	std::vector<uint32_t> order(kOrder);
	sgbench::Touched touched(sessions);
	sg_rec_seal_op ops[kBurst];
	uint64_t rng = 7, records = 0;
	size_t pos = 0;

	if (!ctx || !sas) {
		state.SkipWithError("setup failed");
		sg_rec_ctx_free(ctx);
		return;
	}
	draw_order(order, sessions, rng);
	for (auto _ : state) {
		const uint32_t *sess = next_order(state, order, sessions, rng, pos, touched);

		for (unsigned j = 0; j < kBurst; j++) {
			sg_rec_seal_op &op = ops[j];

			op.buf = bufs.data() + j * stride;
			op.buf_len = uint32_t(stride);
			op.pt_off = head;
			op.pt_len = payload;
			op.sa = sas[sess[j]];
			op.cid = nullptr;
			op.cid_len = 0;
			op.type = SG_DTLS_CT_APPLICATION_DATA;
			op.pad_len = 0;
		}
		if (sg_rec_seal_burst(ctx, ops, kBurst) != kBurst) {
			state.SkipWithError(sg_rec_status_name(sg_rec_status(ops[0].status)));
			break;
		}
		benchmark::DoNotOptimize(ops[kBurst - 1].rec_len);
		records += kBurst;
	}
	touched.add(order.data(), pos);
	finish(state, records, ctx, &touched);
	sg_rec_ctx_free(ctx);
}

// ---- baseline_openssl_open ----------------------------------------------------------

void bm_baseline_open(benchmark::State &state, RecSuite su, unsigned payload, size_t sessions)
{
	SaArray sas = g_sas.get(su.aead, sessions, su.flags);
	sg_bench_ossl *o = sg_bench_ossl_create(su.aead);
	Pool pool(sessions);
	OpenedBurst b(payload);
	size_t pos = kPool;
	uint64_t records = 0, opened = 0;

	if (!sas || !o) {
		state.SkipWithError("setup failed");
		sg_bench_ossl_free(o);
		return;
	}
	pool.init(payload, su.aead);
	// Outside timing: the re-keyed context still verifies tags. A copy of
	// the first record with one tag bit flipped must be refused (the
	// session's window is untouched then, so the record itself opens later).
	if (!pool.refill(su.aead, sessions, su.flags)) {
		state.SkipWithError("refill failed");
		sg_bench_ossl_free(o);
		return;
	}
	pos = 0;
	{
		std::vector<uint8_t> forged(pool.rec(0), pool.rec(0) + pool.len[0]);

		forged.back() ^= 1;
		if (sg_bench_ossl_open(o, sas[pool.sess[0]], forged.data(), forged.size(),
		                       b.slot(0), &b.pt_len[0]) != -EBADMSG) {
			state.SkipWithError("the baseline did not refuse a forged record");
			sg_bench_ossl_free(o);
			return;
		}
	}
	for (auto _ : state) {
		if (!pool.next(state, su, sessions, pos))
			break;
		unsigned ok = 0;
		for (unsigned j = 0; j < kBurst; j++)
			ok += sg_bench_ossl_open(o, sas[pool.sess[pos + j]], pool.rec(pos + j),
			                         pool.len[pos + j], b.slot(j), &b.pt_len[j]) == 0;
		opened += ok;
		if (ok != kBurst) {
			state.SkipWithError("openssl open failed");
			break;
		}
		pos += kBurst;
		records += kBurst;
	}
	pool.finish_opens(state, pos, records, opened, b);
	finish(state, records, nullptr, &pool.touched);
	state.SetLabel("openssl");
	sg_bench_ossl_free(o);
}

// ---- imb_raw_open --------------------------------------------------------------------

IMB_MGR *new_mgr()
{
	IMB_MGR *m = alloc_mb_mgr(0);

	if (m)
		init_mb_mgr_auto(m, nullptr);
	return m;
}

// The encryption-only AES-128 key expansion the record layer uses.
void keyexp128(const IMB_MGR *m, const void *key, void *ks)
{
	if (m->used_arch == IMB_ARCH_SSE)
		aes_keyexp_128_enc_sse(key, ks);
	else
		aes_keyexp_128_enc_avx(key, ks);
}

struct alignas(64) RawKey {
	uint8_t ks[240];
	gcm_key_data gcm;
	uint8_t raw[32];
};

void fill_raw_job(IMB_JOB *job, sg_aead aead, const void *keys, const uint8_t *nonce,
                  const uint8_t *aad, unsigned aad_len, uint8_t *buf, unsigned len, uint8_t *tag)
{
	job->src = buf;
	job->dst = buf;
	job->cipher_start_src_offset_in_bytes = 0;
	job->msg_len_to_cipher_in_bytes = len;
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes = len;
	job->iv = nonce;
	job->iv_len_in_bytes = 12;
	job->auth_tag_output = tag;
	job->auth_tag_output_len_in_bytes = sg_aead_tag_len(aead);
	job->cipher_direction = IMB_DIR_DECRYPT;
	job->enc_keys = keys;
	job->dec_keys = keys;
	switch (aead) {
	case SG_AEAD_AES_128_CCM_8:
	case SG_AEAD_AES_128_CCM:
		job->cipher_mode = IMB_CIPHER_CCM;
		job->hash_alg = IMB_AUTH_AES_CCM;
		job->chain_order = IMB_ORDER_CIPHER_HASH;
		job->key_len_in_bytes = 16;
		job->u.CCM.aad = aad;
		job->u.CCM.aad_len_in_bytes = aad_len;
		break;
	case SG_AEAD_AES_128_GCM:
	case SG_AEAD_AES_256_GCM:
		job->cipher_mode = IMB_CIPHER_GCM;
		job->hash_alg = IMB_AUTH_AES_GMAC;
		job->chain_order = IMB_ORDER_HASH_CIPHER;
		job->key_len_in_bytes = aead == SG_AEAD_AES_128_GCM ? 16 : 32;
		job->u.GCM.aad = aad;
		job->u.GCM.aad_len_in_bytes = aad_len;
		break;
	default:
		job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
		job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
		job->chain_order = IMB_ORDER_HASH_CIPHER;
		job->key_len_in_bytes = 32;
		job->u.CHACHA20_POLY1305.aad = aad;
		job->u.CHACHA20_POLY1305.aad_len_in_bytes = aad_len;
		break;
	}
}

void expand_key(IMB_MGR *m, sg_aead aead, const uint8_t *raw, RawKey &k)
{
	memcpy(k.raw, raw, 32);
	if (aead == SG_AEAD_AES_128_CCM_8 || aead == SG_AEAD_AES_128_CCM)
		keyexp128(m, raw, k.ks);
	else if (aead == SG_AEAD_AES_128_GCM)
		IMB_AES128_GCM_PRE(m, raw, &k.gcm);
	else if (aead == SG_AEAD_AES_256_GCM)
		IMB_AES256_GCM_PRE(m, raw, &k.gcm);
}

const void *key_ptr(sg_aead aead, const RawKey &k)
{
	if (aead == SG_AEAD_AES_128_CCM_8 || aead == SG_AEAD_AES_128_CCM)
		return k.ks;
	if (aead == SG_AEAD_CHACHA20_POLY1305)
		return k.raw;
	return &k.gcm;
}

// The in-run ceiling: decrypt jobs on one hot pre-expanded key, no record
// handling, no tag check; one flush per burst of 128 and unchecked submits,
// like the record layer.
void bm_imb_raw_open(benchmark::State &state, sg_aead aead, unsigned payload)
{
	IMB_MGR *m = new_mgr();
	RawKey *key = static_cast<RawKey *>(aligned_alloc(64, sizeof(RawKey)));
	const size_t stride = slot_stride(payload);
	std::vector<uint8_t> bufs(kBurst * stride, 0x5a);
	uint8_t nonce[kBurst][12], aad[kBurst][16], tags[kBurst][16];
	uint64_t records = 0;
	Keys k;

	if (!m || !key) {
		state.SkipWithError("setup failed");
		free(key);
		free_mb_mgr(m);
		return;
	}
	session_keys(0, aead, k);
	expand_key(m, aead, k.ckey, *key);
	for (unsigned j = 0; j < kBurst; j++) {
		memset(nonce[j], int(j), 12);
		memset(aad[j], int(j), 13);
	}
	for (auto _ : state) {
		for (unsigned j = 0; j < kBurst; j++) {
			IMB_JOB *job = IMB_GET_NEXT_JOB(m);

			fill_raw_job(job, aead, key_ptr(aead, *key), nonce[j], aad[j], 13,
			             bufs.data() + j * stride, payload, tags[j]);
			job = IMB_SUBMIT_JOB_NOCHECK(m);
			while (job)
				job = IMB_GET_COMPLETED_JOB(m);
		}
		while (IMB_FLUSH_JOB(m))
			;
		records += kBurst;
	}
	benchmark::DoNotOptimize(tags[0][0]);
	finish(state, records, nullptr, nullptr);
	free(key);
	free_mb_mgr(m);
}

// ---- keystore study ------------------------------------------------------------------
//
// The same IPsec-MB job loop as imb_raw_open, 64-byte records, each with the
// key of a random session, to compare key storage for millions of sessions:
//   raw_expand        raw keys in the SA array (prefetched a burst ahead),
//                     expanded into per-slot scratch per record (our choice
//                     for CCM; for GCM this is GCM_PRE per record)
//   preexpanded       one expanded schedule per session in a big array
//                     (176 B for AES-128, IPsec-MB GCM key data ~1 KB)
//   preexpanded_pf    the same, prefetched a burst ahead

enum class Store { raw_expand, preexpanded, preexpanded_pf };

// Store::raw_expand: sa's receive key expanded now into scratch; returns the schedule.
inline const void *expand_now(IMB_MGR *m, const sg_rec_sa &sa, bool ccm, RawKey &scratch)
{
	if (ccm) {
		keyexp128(m, sa.rx_key, scratch.ks);
		return scratch.ks;
	}
	IMB_AES128_GCM_PRE(m, sa.rx_key, &scratch.gcm);
	return &scratch.gcm;
}

// The receive keys of sessions sas[0..sessions) expanded once, kstride bytes each (CCM: the
// AES-128 schedule; GCM: IPsec-MB's gcm_key_data), in huge pages; nullptr without memory.
uint8_t *expanded_table(IMB_MGR *m, const SaArray &sas, size_t sessions, bool ccm, size_t kstride)
{
	uint8_t *table = static_cast<uint8_t *>(huge_alloc(sessions * kstride));

	for (size_t i = 0; table && i < sessions; i++) {
		if (ccm)
			keyexp128(m, sas[i]->rx_key, table + i * kstride);
		else
			IMB_AES128_GCM_PRE(m, sas[i]->rx_key,
			                   reinterpret_cast<gcm_key_data *>(table + i * kstride));
	}
	return table;
}

void bm_keystore(benchmark::State &state, Store store, sg_aead aead, size_t sessions)
{
	const bool ccm = aead == SG_AEAD_AES_128_CCM_8;
	const size_t kstride = ccm ? 176 : sizeof(gcm_key_data);
	IMB_MGR *m = new_mgr();
	SaArray sas = g_sas.get(aead, sessions);
	uint8_t *table = nullptr;
	RawKey *scratch = static_cast<RawKey *>(aligned_alloc(64, kBurst * sizeof(RawKey)));
	const size_t stride = slot_stride(64);
	std::vector<uint8_t> bufs(kBurst * stride, 0x5a);
	std::vector<uint32_t> order(kOrder);
	sgbench::Touched touched(sessions);
	uint8_t nonce[kBurst][12], aad[kBurst][16], tags[kBurst][16];
	uint64_t rng = 11, records = 0;
	size_t pos = 0;

	if (!m || !sas || !scratch) {
		state.SkipWithError("setup failed");
		free(scratch);
		free_mb_mgr(m);
		return;
	}
	if (store != Store::raw_expand) {
		table = expanded_table(m, sas, sessions, ccm, kstride);
		if (!table) {
			state.SkipWithError("no memory for the expanded table");
			free(scratch);
			free_mb_mgr(m);
			return;
		}
	}
	draw_order(order, sessions, rng);
	for (unsigned j = 0; j < kBurst; j++) {
		memset(nonce[j], int(j), 12);
		memset(aad[j], int(j), 13);
	}
	for (auto _ : state) {
		const uint32_t *sess = next_order(state, order, sessions, rng, pos, touched);

		if (store == Store::raw_expand) {
			for (unsigned j = 0; j < kBurst; j++)
				prefetch_line(sas[sess[j]]);
		} else if (store == Store::preexpanded_pf) {
			for (unsigned j = 0; j < kBurst; j++)
				for (size_t l = 0; l < kstride; l += 64)
					prefetch_line(table + sess[j] * kstride + l);
		}
		for (unsigned j = 0; j < kBurst; j++) {
			const void *keys = table ? table + sess[j] * kstride
			                         : expand_now(m, *sas[sess[j]], ccm, scratch[j]);
			IMB_JOB *job = IMB_GET_NEXT_JOB(m);

			fill_raw_job(job, aead, keys, nonce[j], aad[j], 13,
			             bufs.data() + j * stride, 64, tags[j]);
			job = IMB_SUBMIT_JOB_NOCHECK(m);
			while (job)
				job = IMB_GET_COMPLETED_JOB(m);
		}
		while (IMB_FLUSH_JOB(m))
			;
		records += kBurst;
	}
	benchmark::DoNotOptimize(tags[0][0]);
	touched.add(order.data(), pos);
	finish(state, records, nullptr, &touched);
	if (table)
		munmap(table, sessions * kstride);
	free(scratch);
	free_mb_mgr(m);
}

std::string name(const char *family, const char *suite, unsigned payload, size_t sessions)
{
	return std::string(family) + "/" + suite + "/" + std::to_string(payload) + "/" +
	       std::to_string(sessions);
}

// record_open, record_seal and baseline_openssl_open of one suite, payload and session count.
void register_record(const RecSuite &su, unsigned p, size_t n)
{
	benchmark::RegisterBenchmark(name("record_open", su.name, p, n).c_str(), bm_record_open, su,
	                             p, n)
	        ->Unit(benchmark::kMicrosecond);
	benchmark::RegisterBenchmark(name("record_seal", su.name, p, n).c_str(), bm_record_seal, su,
	                             p, n)
	        ->Unit(benchmark::kMicrosecond);
	benchmark::RegisterBenchmark(name("baseline_openssl_open", su.name, p, n).c_str(),
	                             bm_baseline_open, su, p, n)
	        ->Unit(benchmark::kMicrosecond);
}

int register_all()
{
	static const char *store_names[] = { "raw_expand", "preexpanded", "preexpanded_pf" };

	// Suite by suite, then session count, so each SA array is built once.
	for (const SuiteInfo &s : kSuites) {
		for (unsigned p : kPayloads)
			benchmark::RegisterBenchmark(
			        (std::string("imb_raw_open/") + s.name + "/" + std::to_string(p))
			                .c_str(),
			        bm_imb_raw_open, s.aead, p)
			        ->Unit(benchmark::kMicrosecond);
		for (size_t n : kSessions) {
			for (unsigned p : kPayloads)
				register_record(RecSuite{ s.name, s.aead, 0 }, p, n);
			// Key storage study: CCM-8 and GCM-128; 1 KB GCM key data per
			// session for 10M sessions would need 10 GB, so not there.
			if (s.aead == SG_AEAD_AES_128_CCM_8 || s.aead == SG_AEAD_AES_128_GCM) {
				for (int v = 0; v < 3; v++) {
					if (v && s.aead == SG_AEAD_AES_128_GCM && n > 1000000)
						continue;
					benchmark::RegisterBenchmark(
					        (std::string("keystore/") + store_names[v] + "/" +
					         s.name + "/" + std::to_string(n))
					                .c_str(),
					        bm_keystore, Store(v), s.aead, n)
					        ->Unit(benchmark::kMicrosecond);
				}
			}
		}
	}
	for (const RecSuite &su : kCbcSuites)
		for (size_t n : kSessions)
			for (unsigned p : kPayloads)
				if (n <= kCbcSessionsMax)
					register_record(su, p, n);
	return 0;
}

const int registered = register_all();

} // namespace
