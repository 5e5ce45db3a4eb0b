// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the benchmark files (bench_<part>.cc): the AEADs they
// run, deterministic session keys both sides of a session can derive, the count of sessions a
// run touched, and the EAL of the bench process (bench_eal.c, shared with
// stormgate-memory). Every function here is inline; the EAL state is one
// function-local static shared by all files.
#ifndef STORMGATE_BENCH_UTIL_H
#define STORMGATE_BENCH_UTIL_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include <rte_errno.h>

#include <stormgate/record.h>

#include "bench_eal.h"

namespace sgbench
{

// The AEADs every record and pipeline benchmark runs, by the short name in its
// benchmark name (record_open/ccm8/64/1, pipeline/gcm128/...).
struct SuiteInfo {
	const char *name;
	sg_aead aead;
};

inline constexpr SuiteInfo kSuites[] = {
	{ "ccm8", SG_AEAD_AES_128_CCM_8 },       { "ccm", SG_AEAD_AES_128_CCM },
	{ "gcm128", SG_AEAD_AES_128_GCM },       { "gcm256", SG_AEAD_AES_256_GCM },
	{ "chacha", SG_AEAD_CHACHA20_POLY1305 },
};

inline uint64_t splitmix(uint64_t &x)
{
	uint64_t z = (x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

// Key block of session i: a counter through splitmix64, cheap enough for 10M,
// so the device side can re-derive any session's keys without storing them.
struct Keys {
	uint8_t ckey[32], skey[32], civ[16], siv[16];
	uint8_t cmac[32], smac[32]; // CBC-SHA256 MAC keys
};

inline void session_keys(size_t i, sg_aead aead, Keys &k)
{
	uint64_t x = i * UINT64_C(0x2545f4914f6cdd1d) + unsigned(aead);
	uint64_t w[20];

	for (auto &v : w)
		v = splitmix(x);
	memcpy(k.ckey, w, 32);
	memcpy(k.skey, w + 4, 32);
	memcpy(k.civ, w + 8, 16);
	memcpy(k.siv, w + 10, 16);
	memcpy(k.cmac, w + 12, 32);
	memcpy(k.smac, w + 16, 32);
}

// SA parameters of one side (client: the device; else the gateway) at epoch 1, with
// flags (SG_SA_F_ETM for CBC encrypt-then-MAC).
inline sg_rec_sa_params sa_params(sg_aead aead, const Keys &k, bool client, uint8_t flags = 0)
{
	sg_rec_sa_params p{};

	p.aead = aead;
	p.epoch = 1;
	p.flags = flags;
	p.rx_mac = client ? k.smac : k.cmac;
	p.tx_mac = client ? k.cmac : k.smac;
	p.rx_key = client ? k.skey : k.ckey;
	p.tx_key = client ? k.ckey : k.skey;
	p.rx_iv = client ? k.siv : k.civ;
	p.tx_iv = client ? k.civ : k.siv;
	return p;
}

// The device side of sessions sess[0..n) seals one record each (client_write
// keys) with the sequence numbers seq, seq + 1, ...: never a replay for the
// gateway. The caller sets buf, buf_len, pt_off and pt_len of ops[0..n); cli
// has room for n SAs of the default window and this AEAD (sg_rec_sa_size_for():
// CBC SAs are wider). Returns true when all n sealed.
inline bool seal_as_devices(sg_rec_ctx *ctx, sg_rec_sa *cli, sg_aead aead, const uint32_t *sess,
                            sg_rec_seal_op *ops, unsigned n, uint64_t &seq, uint8_t flags = 0)
{
	const size_t stride = sg_rec_sa_size_for(SG_REPLAY_WINDOW_DEFAULT, aead);

	for (unsigned j = 0; j < n; j++) {
		sg_rec_sa *sa = reinterpret_cast<sg_rec_sa *>(reinterpret_cast<uint8_t *>(cli) +
		                                              j * stride);
		Keys k;
		sg_rec_sa_params p;

		session_keys(sess[j], aead, k);
		p = sa_params(aead, k, true, flags);
		p.tx_seq = seq++;
		sg_rec_sa_init(sa, SG_REPLAY_WINDOW_DEFAULT, &p);
		sg_wipe(&k, sizeof(k));
		ops[j].sa = sa;
		ops[j].cid = nullptr;
		ops[j].cid_len = 0;
		ops[j].type = SG_DTLS_CT_APPLICATION_DATA;
		ops[j].pad_len = 0;
	}
	return sg_rec_seal_burst(ctx, ops, n) == n;
}

// Distinct sessions a run used, a bit per session, counted outside the timed
// region: the benchmarks report it as sessions_touched, so what a figure at
// <sessions> really touched is in the output, not only in the docs.
struct Touched {
	std::vector<uint64_t> bits;
	uint64_t count = 0;

	explicit Touched(size_t sessions) : bits((sessions + 63) / 64)
	{
	}

	void add(const uint32_t *sess, size_t n)
	{
		for (size_t i = 0; i < n; i++) {
			uint64_t &w = bits[sess[i] >> 6];
			const uint64_t m = UINT64_C(1) << (sess[i] & 63);

			count += (w & m) == 0;
			w |= m;
		}
	}
};

// Start EAL once for the whole bench process, on first use (bench_eal.h), with
// 4 GB of plain anonymous memory (the rte_hash baselines of 10M keys need
// ~1 GB of it; the data plane's session table is its own mmap). The runtime
// directory is removed at exit, after the callers' own atexit handlers
// (registered later, run first).
inline bool eal_up()
{
	static int state = 0; // 0: not tried, 1: up, -1: failed

	if (state != 0)
		return state == 1;
	cpu_set_t cpus;
	bool have_cpus = pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) == 0;
	int rc = sg_bench_eal_init("stormgate-bench", "sgbench", 4096);

	state = rc >= 0 || rte_errno == EALREADY ? 1 : -1;
	if (rc >= 0) {
		atexit(sg_bench_eal_fini);
		// EAL pinned this thread to CPU 0. The benchmarks drive the worker
		// from this thread on a shared 2-core machine: let the scheduler
		// move it off a core another job is using, as before EAL ran.
		if (have_cpus)
			pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	}
	return state == 1;
}

} // namespace sgbench

#endif // STORMGATE_BENCH_UTIL_H
