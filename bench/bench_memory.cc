// SPDX-License-Identifier: Apache-2.0
// The gateway's memory per session (docs/performance.md, "Memory per
// session"), one cold run each:
//
//   gateway_memory/<backend>/<sessions>              phased: table, data plane,
//                                                    registry, all-in
//   gateway_memory_interleaved/<backend>/<sessions>  all-in, each session
//                                                    installed in all three in turn
//
// Each runs stormgate-memory (gateway_memory.c, next to this binary) in a
// fresh process: nothing this process allocated before (the other
// benchmarks' SA arrays, tables, a heap grown and freed by earlier
// iterations) can hide in or inflate the figure, and the one iteration is
// the cold one. The counters are bytes per session measured from the OS
// (RssAnon + RssShmem) by the tool; the time is the tool's run, not a figure.
#include <benchmark/benchmark.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>

extern char **environ;

namespace
{

// The tool beside this binary.
std::string tool_path()
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return "stormgate-memory";
	self[n] = '\0';
	std::string dir(self);
	return dir.substr(0, dir.rfind('/') + 1) + "stormgate-memory";
}

// Run the tool; its key=value line into kv. "" or why not.
std::string run_tool(const std::string &backend, const std::string &order, size_t sessions,
                     std::map<std::string, std::string> &kv)
{
	std::string path = tool_path(), n = std::to_string(sessions);
	const char *argv[] = { path.c_str(),    "--sessions", n.c_str(),     "--backend",
		               backend.c_str(), "--order",    order.c_str(), nullptr };
	posix_spawn_file_actions_t fa;
	int fd[2], status = 0;
	pid_t pid;
	std::string out;
	char buf[4096];
	ssize_t got;

	if (pipe(fd) != 0)
		return std::string("pipe: ") + strerror(errno);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fd[0]);
	posix_spawn_file_actions_addclose(&fa, fd[1]);
	int rc = posix_spawn(&pid, path.c_str(), &fa, nullptr, const_cast<char **>(argv), environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fd[1]);
	if (rc != 0) {
		close(fd[0]);
		return path + ": " + strerror(rc);
	}
	while ((got = read(fd[0], buf, sizeof(buf))) > 0 || (got < 0 && errno == EINTR))
		if (got > 0)
			out.append(buf, size_t(got));
	close(fd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return "stormgate-memory failed (its message is on stderr)";
	std::istringstream in(out);
	std::string item;
	while (in >> item) {
		size_t eq = item.find('=');

		if (eq != std::string::npos)
			kv[item.substr(0, eq)] = item.substr(eq + 1);
	}
	if (kv.count("total_per_session") == 0)
		return "stormgate-memory printed no total";
	return "";
}

void bm_memory(benchmark::State &state, std::string backend, std::string order, size_t sessions)
{
	static std::string err; // SkipWithError keeps the pointer
	std::map<std::string, std::string> kv;

	for (auto _ : state) {
		err = run_tool(backend, order, sessions, kv);
		if (!err.empty()) {
			state.SkipWithError(err.c_str());
			return;
		}
	}
	for (const char *part : { "table", "dataplane", "registry", "total" }) {
		auto it = kv.find(std::string(part) + "_per_session");

		if (it != kv.end())
			state.counters[std::strcmp(part, "total") == 0
			                       ? std::string("bytes_per_session")
			                       : std::string(part) + "_bytes_per_session"] =
			        std::strtod(it->second.c_str(), nullptr);
	}
	state.counters["sessions"] = double(sessions);
	state.SetLabel("bytes per session, one cold run (" + order + ")");
}

int register_all()
{
	struct Row {
		const char *backend;
		size_t sessions;
		bool interleaved;
	};
	// udp mode: 8 backend addresses x 64512 source ports = 516,096 sessions at most.
	const Row rows[] = {
		{ "proxy", 1000, false },     { "proxy", 1000000, false },
		{ "proxy", 10000000, false }, { "udp", 1000, false },
		{ "udp", 516096, false },     { "proxy", 1000000, true },
		{ "proxy", 10000000, true },
	};

	for (const Row &r : rows)
		benchmark::RegisterBenchmark(
		        (std::string(r.interleaved ? "gateway_memory_interleaved/"
		                                   : "gateway_memory/") +
		         r.backend + "/" + std::to_string(r.sessions))
		                .c_str(),
		        bm_memory, std::string(r.backend),
		        std::string(r.interleaved ? "interleaved" : "phased"), r.sessions)
		        ->Iterations(1)
		        ->Unit(benchmark::kMillisecond);
	return 0;
}

const int registered = register_all();

} // namespace
