#!/usr/bin/env bash
# Storm scenarios: stormgate-fleet against the real daemon (or the OpenSSL
# baseline) over real packets; docs/storms.md has the method and the results.
#
#   bench/storm.sh SCENARIO [--devices N] [--server stormgate|openssl] [--out DIR]
#                  [--kx psk|x25519|p256] [--rtt MS|MIN-MAX] [--duration S]
#                  [--link memif|af_packet] [--keep] [--help for the rest]
#
#   SCENARIO: cold | steady | overload | expiry | restart
#
# As root. Writes DIR/SCENARIO.json and DIR/SCENARIO.png (DIR: storm-results)
# and shows a live progress line. The orchestrator, bench/storm/storm.py, sets
# up the links (memif sockets in /run/stormgate-storm-TAG, or veths and a
# namespace), the daemon's config, the server and the fleet, and removes all
# of it on every exit (it traps SIGINT, SIGTERM and SIGHUP). The build
# directory is $SG_BUILD_DIR, else build/ of this checkout; build it first
# (meson setup build && ninja -C build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${SG_BUILD_DIR:-$root/build}
if [ $# -eq 0 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
	sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
	[ $# -eq 0 ] && exit 2
	exec python3 "$root/bench/storm/storm.py" --help
fi
exec python3 "$root/bench/storm/storm.py" --build "$builddir" "$@"
