// SPDX-License-Identifier: Apache-2.0
// Entry point of stormgate-bench. The benchmarks live in bench_<part>.cc. Run
//   build/bench/stormgate-bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true --benchmark_out=bench.json
// and quote medians (docs/performance.md).
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
