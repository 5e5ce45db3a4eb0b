#!/usr/bin/env bash
# Build and run every Stormgate test suite on a fresh Debian 12 machine:
#   1. bootstrap (packages; no hugepages needed: tests run with --no-huge),
#   2. the normal build (warnings are errors) and all its suites,
#   3. the ASan+UBSan build: its unit tests, and its integration tests (the
#      daemon under ASan+UBSan; they fail on any sanitizer report in its log),
#   4. the ThreadSanitizer build and its multi-threaded tests (suite 'threads').
# Test logs: build*/meson-logs/testlog.json (build, build-asan, build-tsan).
#   deploy/test.sh [meson test args, e.g. --suite unit]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

"$root/deploy/bootstrap.sh" --no-hugepages || exit 1

status=0
if [ ! -f build/build.ninja ]; then
	meson setup build || exit 1
fi
ninja -C build || exit 1
meson test -C build --print-errorlogs --num-processes 2 "$@" || status=1

if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Db_sanitize=address,undefined -Dbench=disabled || exit 1
fi
ninja -C build-asan || exit 1
# Integration tests need root (they skip without it) and run one at a time;
# instrumented code is slower: timeouts x3.
meson test -C build-asan --suite unit --suite integration --print-errorlogs --num-processes 2 \
	--timeout-multiplier 3 || status=1

# Data races in the workers, the session table and their tests (docs/dataplane.md, "Tests").
if [ ! -f build-tsan/build.ninja ]; then
	meson setup build-tsan -Db_sanitize=thread -Dbench=disabled || exit 1
fi
ninja -C build-tsan || exit 1
meson test -C build-tsan --suite threads --print-errorlogs --num-processes 2 || status=1

python3 "$root/.ci/summary.py" build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
	build-tsan/meson-logs/testlog.json
exit $status
