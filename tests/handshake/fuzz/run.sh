#!/usr/bin/env bash
# Fuzz the handshake targets with libFuzzer (clang), each for a bounded time,
# from the seed corpus (copied: the seeds in the repository stay as they are).
#   tests/handshake/fuzz/run.sh [seconds per target, default 60]
# Builds in build-hs-fuzz (or $SG_FUZZ_BUILD) with clang, ASan+UBSan and
# -fsanitize=fuzzer-no-link on the libraries so coverage guides the search.
# Exits non-zero on the first crash, leak or sanitizer report; the input that
# caused it is left in the current directory (crash-*, leak-*, timeout-*).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
secs=${1:-60}
build=${SG_FUZZ_BUILD:-$root/build-hs-fuzz}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang CXX=clang++ meson setup "$build" "$root" -Dc_args=-fsanitize=fuzzer-no-link \
		-Db_sanitize=address,undefined -Dbench=disabled >/dev/null
fi
ninja -C "$build" tests/handshake/fuzz_hs_parser tests/handshake/fuzz_hs_input

for t in parser input; do
	work=$(mktemp -d)
	cp "$root/tests/handshake/fuzz/corpus/$t/"* "$work/"
	echo "fuzz_hs_$t: ${secs}s"
	"$build/tests/handshake/fuzz_hs_$t" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 "$work"
	rm -rf "$work"
done
