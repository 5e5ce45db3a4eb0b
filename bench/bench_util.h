// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the benchmark files (bench_<part>.cc): deterministic
// session keys both sides of a session can derive, and the EAL of the bench
// process. Header-only: every function is inline, the EAL state is one
// function-local static shared by all files.
#ifndef STORMGATE_BENCH_UTIL_H
#define STORMGATE_BENCH_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstdint>

#include <rte_eal.h>
#include <rte_errno.h>

#include <stormgate/record.h>

namespace sgbench
{

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
};

inline void session_keys(size_t i, sg_aead aead, Keys &k)
{
	uint64_t x = i * UINT64_C(0x2545f4914f6cdd1d) + unsigned(aead);
	uint64_t w[12];

	for (auto &v : w)
		v = splitmix(x);
	memcpy(k.ckey, w, 32);
	memcpy(k.skey, w + 4, 32);
	memcpy(k.civ, w + 8, 16);
	memcpy(k.siv, w + 10, 16);
}

// SA parameters of one side (client: the device; else the gateway) at epoch 1.
inline sg_rec_sa_params sa_params(sg_aead aead, const Keys &k, bool client)
{
	sg_rec_sa_params p{};

	p.aead = aead;
	p.epoch = 1;
	p.rx_key = client ? k.skey : k.ckey;
	p.tx_key = client ? k.ckey : k.skey;
	p.rx_iv = client ? k.siv : k.civ;
	p.tx_iv = client ? k.civ : k.siv;
	return p;
}

// Remove the runtime directory EAL leaves behind (--no-shconf still makes it).
inline void remove_runtime_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (d == nullptr)
		return;
	while ((e = readdir(d)) != nullptr) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	rmdir(path);
}

inline char *eal_runtime_dir()
{
	static char dir[PATH_MAX];

	return dir;
}

inline void eal_down()
{
	rte_eal_cleanup();
	remove_runtime_dir(eal_runtime_dir());
}

// Start EAL once for the whole bench process, on first use: no hugepages, no
// devices, no shared config, no telemetry; 4 GB of plain anonymous memory
// (the rte_hash baselines of 10M keys need ~1 GB of it; the data plane's
// session table is its own mmap). The runtime directory is removed at exit,
// after the callers' own atexit handlers (registered later, run first).
inline bool eal_up()
{
	static int state = 0; // 0: not tried, 1: up, -1: failed

	if (state != 0)
		return state == 1;
	char prefix[48];
	cpu_set_t cpus;
	bool have_cpus = pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) == 0;

	snprintf(prefix, sizeof(prefix), "--file-prefix=sgbench%d", (int)getpid());
	const char *argv[] = { "stormgate-bench",
		               "--no-huge",
		               "--no-pci",
		               "--no-shconf",
		               "--no-telemetry",
		               prefix,
		               "-l",
		               "0",
		               "-m",
		               "4096",
		               "--log-level=error" };
	int rc = rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])), (char **)argv);

	state = rc >= 0 || rte_errno == EALREADY ? 1 : -1;
	if (rc >= 0) {
		snprintf(eal_runtime_dir(), PATH_MAX, "%s", rte_eal_get_runtime_dir());
		atexit(eal_down);
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
