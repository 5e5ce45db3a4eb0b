#!/usr/bin/env bash
# Fuzz every libFuzzer target for a bounded time each, from its seed corpus
# (copied: the seeds in the repository stay as they are):
#   fuzz_hs_parser   handshake message parsers (tests/handshake/fuzz)
#   fuzz_hs_input    the handshake server fed whole datagrams
#   fuzz_rec_input   L2-L4 parse, PROXY v2 decode, record framing and open (tests/record/fuzz)
#
#   tests/fuzz.sh [seconds per target, default 60]
#
# Builds in build-fuzz (or $SG_FUZZ_BUILD) with clang, ASan+UBSan and
# -fsanitize=fuzzer-no-link on the libraries so coverage guides the search.
# Exits non-zero on the first crash, leak or sanitizer report; the input that
# caused it is left in the current directory (crash-*, leak-*, timeout-*).
# Prints one TAP line per target, so CI counts each.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
build=${SG_FUZZ_BUILD:-$root/build-fuzz}

command -v clang >/dev/null || { echo "fuzz.sh: clang is not installed (deploy/bootstrap.sh)" >&2; exit 2; }
if [ ! -f "$build/build.ninja" ]; then
	CC=clang CXX=clang++ meson setup "$build" "$root" -Dc_args=-fsanitize=fuzzer-no-link \
		-Db_sanitize=address,undefined -Dbench=disabled >/dev/null
fi
# target:seed corpus:largest input (-max_len; 0: libFuzzer's choice from the
# seeds). The handshake targets go past 18 KB: a datagram larger than the
# engine takes (SG_HS_DGRAM_MAX, 16,397 B) must be refused, not overrun it.
targets=(handshake/fuzz_hs_parser:handshake/fuzz/corpus/parser:20000
	handshake/fuzz_hs_input:handshake/fuzz/corpus/input:40000
	record/fuzz_rec_input:record/fuzz/corpus:0)
exes=()
for t in "${targets[@]}"; do exes+=("tests/${t%%:*}"); done
ninja -C "$build" "${exes[@]}" >&2

echo "1..${#targets[@]}"
i=0
status=0
for t in "${targets[@]}"; do
	i=$((i + 1))
	IFS=: read -r tgt corpus max_len <<<"$t"
	exe=$build/tests/$tgt
	name=$(basename "$exe")
	work=$(mktemp -d)
	cp "$root/tests/$corpus/"* "$work/"
	lim=()
	[ "$max_len" != 0 ] && lim=(-max_len="$max_len")
	if "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		"${lim[@]}" "$work" >"$work.log" 2>&1; then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | grep -o '[0-9]*$' || echo '?')
		echo "ok $i - $name: ${secs}s, $runs inputs, no crash"
	else
		echo "not ok $i - $name"
		tail -40 "$work.log" | sed 's/^/# /'
		status=1
	fi
	rm -rf "$work" "$work.log"
done
exit $status
