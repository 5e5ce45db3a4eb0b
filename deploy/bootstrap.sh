#!/usr/bin/env bash
# Idempotent set-up of a Debian 12 machine for Stormgate: installs the Debian
# packages that are missing (one apt-get update, only when something is
# missing) and, as root, reserves 2 MiB hugepages and mounts hugetlbfs.
#
#   deploy/bootstrap.sh [--no-hugepages] [--hugepages N]
#
# Without hugepages the gateway runs with EAL --no-huge; it says so.
set -euo pipefail

HUGEPAGES=${SG_HUGEPAGES:-256}
want_huge=1
while [ $# -gt 0 ]; do
	case "$1" in
	--no-hugepages) want_huge=0 ;;
	--hugepages) HUGEPAGES=$2; shift ;;
	-h|--help) sed -n '2,9p' "$0"; exit 0 ;;
	*) echo "bootstrap: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

PACKAGES=(
	# build
	gcc g++ meson ninja-build pkg-config python3
	# libraries
	dpdk-dev libdpdk-dev libipsec-mb-dev libjemalloc-dev libbenchmark-dev
	libssl-dev libjansson-dev liblmdb-dev libfyaml-dev libcmocka-dev
	libgnutls28-dev libmicrohttpd-dev
	# X25519 of the handshake engine: libsodium (derive), Nettle (fixed-base keygen)
	libsodium-dev nettle-dev
	# tools the tests and the demo use
	iproute2 ethtool procps openssl gnutls-bin libcoap3-bin lmdb-utils python3-scapy
	# tests/data/make_capture.sh and tests/e2e captures (dumpcap, tshark), the pcap
	# replay test (libpcap)
	tshark libpcap-dev
	# the Prometheus test scrapes /metrics with Debian's prometheus (promtool checks
	# deploy/prometheus.yml and the dashboard's PromQL)
	prometheus
	# bench/storm.sh's plots (SCENARIO.png)
	gnuplot-nox
	# lint
	clang-format cppcheck shellcheck
	# libFuzzer (tests/fuzz.sh): clang and its compiler-rt
	clang libclang-rt-14-dev
)

log() { printf 'bootstrap: %s\n' "$*"; }

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		log "missing packages: ${missing[*]}"
		log "run as root (or: sudo apt-get install ${missing[*]})"
		exit 1
	fi
	log "installing ${#missing[@]} package(s): ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
	log "all ${#PACKAGES[@]} packages present"
fi

# node-dtls-client (npm) for tests/e2e/test_dtls_clients.py: an independent DTLS client
# that needs a HelloVerifyRequest. Optional: without npm (or as non-root) that check SKIPs.
NODE_TEST_DIR=/usr/local/lib/stormgate-test
if [ "$(id -u)" -eq 0 ] && command -v npm >/dev/null &&
	[ ! -d "$NODE_TEST_DIR/node_modules/node-dtls-client" ]; then
	if npm install --prefix "$NODE_TEST_DIR" --no-audit --no-fund --silent \
		node-dtls-client@2.0.3 >/dev/null 2>&1; then
		log "node-dtls-client installed in $NODE_TEST_DIR"
	else
		log "npm could not install node-dtls-client; its e2e check will SKIP"
	fi
fi

if [ "$want_huge" -eq 0 ]; then
	exit 0
fi

# Hugepages: reserve when we can, say plainly when we cannot.
nr=/proc/sys/vm/nr_hugepages
if [ "$(id -u)" -ne 0 ]; then
	log "not root: no hugepages reserved; stormgate will run with --no-huge"
	exit 0
fi
have=$(cat "$nr" 2>/dev/null || echo 0)
if [ "$have" -lt "$HUGEPAGES" ]; then
	if ! echo "$HUGEPAGES" > "$nr" 2>/dev/null; then
		log "cannot reserve hugepages here; stormgate will run with --no-huge"
		exit 0
	fi
	have=$(cat "$nr")
fi
if [ "$have" -eq 0 ]; then
	log "kernel granted no hugepages; stormgate will run with --no-huge"
	exit 0
fi
if ! grep -qs ' hugetlbfs ' /proc/mounts; then
	mkdir -p /dev/hugepages
	if ! mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null; then
		log "cannot mount hugetlbfs; stormgate will run with --no-huge"
		exit 0
	fi
fi
log "$have hugepages of 2 MiB reserved, hugetlbfs mounted"
