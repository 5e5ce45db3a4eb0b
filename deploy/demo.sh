#!/usr/bin/env bash
# The README's main command: set up, build and run Stormgate on its embedded
# default, with no NIC needed.
#
#   deploy/demo.sh [--duration N] [--no-traffic]
#
# As root it
#   1. runs deploy/bootstrap.sh (Debian packages; hugepages when the kernel
#      grants them, else the daemon runs with --no-huge and says so),
#   2. builds build/control/stormgate and stormctl (meson, ninja),
#   3. creates network namespace sg-demo-dev holding one end of a veth pair
#      (198.18.1.2/24, fd00:5347:1::2/64): the devices' side. The other end,
#      sg-demo-gw, is the gateway's DPDK port dev0 (net_af_packet),
#      198.18.1.1/24 and fd00:5347:1::1/64,
#   4. creates a credential store in a work directory from
#      deploy/sample-devices.csv (stormgate --import-credentials),
#   5. runs stormgate with a live status line, coap-server-notls in the
#      namespace as the application server, and every 2 s a CoAP GET over
#      DTLS from a libcoap client in the namespace;
#      `stormctl status` shows the control socket at work,
#   6. stops on Ctrl-C or after --duration N seconds; the namespace, veth,
#      work directory and DPDK runtime files are removed on every exit.
#
# In the namespace, libcoap's coap-client (OpenSSL and GnuTLS builds) is a
# device: it handshakes DTLS 1.2 with PSK to the gateway, whose data plane
# opens its records and forwards the CoAP request to coap-server-notls (also
# in the namespace), and seals the answer back.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${SG_BUILD_DIR:-$root/build}
NS="sg-demo-dev"
VETH_GW="sg-demo-gw"
VETH_DEV="sg-demo-dev"
PREFIX="sg-demo"
TRAFFIC_MAX=120 # seconds of traffic when running until Ctrl-C
# The demo device (deploy/sample-devices.csv): libcoap's -k takes the PSK as text.
DEMO_ID="urn:dev:ops:32473-demo-coap"
DEMO_KEY="stormgate-demo-psk"

duration=0
traffic=1
while [ $# -gt 0 ]; do
	case "$1" in
	--duration)
		[ $# -ge 2 ] || { echo "demo: --duration needs seconds" >&2; exit 2; }
		duration=$2
		shift
		;;
	--duration=*) duration=${1#--duration=} ;;
	--no-traffic) traffic=0 ;;
	-h | --help)
		sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "demo: unknown option $1 (try --help)" >&2
		exit 2
		;;
	esac
	shift
done
if ! [[ $duration =~ ^[0-9]+$ ]]; then
	echo "demo: --duration wants whole seconds, got '$duration'" >&2
	exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it creates a network namespace and opens AF_PACKET sockets)" >&2
	exit 1
fi

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }

work=
sg_pid=
bg_pids=()
interrupted=0

# shellcheck disable=SC2317 # trap handlers
cleanup() {
	set +e
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	if [ -n "$sg_pid" ] && kill -0 "$sg_pid" 2>/dev/null; then
		kill -TERM "$sg_pid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$sg_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$sg_pid" 2>/dev/null
	fi
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip link del "$VETH_GW" 2>/dev/null
	rm -rf "/var/run/dpdk/$PREFIX"
	[ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT
# Ctrl-C reaches the daemon too; either way the daemon stops cleanly and the
# script goes on to its summary. A TERM sent to the script alone is passed on.
# shellcheck disable=SC2317 # trap handler
on_signal() {
	interrupted=1
	[ -n "$sg_pid" ] && kill -INT "$sg_pid" 2>/dev/null
	return 0
}
trap on_signal INT TERM

# 1. packages, hugepages
say "bootstrap: packages and hugepages"
"$root/deploy/bootstrap.sh"

# 2. build only what the demo runs
say "build: $builddir"
if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" "$root" >/dev/null
fi
ninja -C "$builddir" control/stormgate control/stormctl | tail -n 1
sg=$builddir/control/stormgate
sgctl=$builddir/control/stormctl

# 3. the devices' namespace and the veth the gateway's port binds to
ip netns del "$NS" 2>/dev/null || true # left over from an interrupted run
ip link del "$VETH_GW" 2>/dev/null || true
ip netns add "$NS"
ip link add "$VETH_GW" type veth peer name "$VETH_DEV" netns "$NS"
# The gateway owns the addresses on this link, not the host's kernel.
sysctl -q -w "net.ipv6.conf.$VETH_GW.disable_ipv6=1"
ip link set "$VETH_GW" up
ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.18.1.2/24 dev "$VETH_DEV"
ip -n "$NS" addr add fd00:5347:1::2/64 dev "$VETH_DEV" nodad
ip -n "$NS" link set "$VETH_DEV" up
# veth leaves UDP checksums to an offload that never happens; a NIC would fill them.
ip netns exec "$NS" ethtool -K "$VETH_DEV" tx off >/dev/null
# No static neighbours: the gateway answers ARP and neighbour solicitations itself.
say "network: namespace $NS ($VETH_DEV 198.18.1.2/24, fd00:5347:1::2/64) <-> veth <-> $VETH_GW = DPDK port dev0 (net_af_packet, 198.18.1.1/24, fd00:5347:1::1/64)"

# 4. work directory, config, credential store
work=$(mktemp -d /tmp/stormgate-demo.XXXXXX)
cfg=$work/stormgate.yaml
sock=$work/control.sock
cat >"$cfg" <<EOF
# Written by deploy/demo.sh; keys: docs/config.md.
eal: [-l, 0-1, --no-pci, --file-prefix, $PREFIX]
log:
  level: info
control:
  socket: $sock
credentials:
  db: $work/credentials
  map_size: 256M
ports:
  - name: dev0
    role: device
    devargs: net_af_packet0,iface=$VETH_GW
    addresses: [198.18.1.1/24, "fd00:5347:1::1/64"]
backend:
  mode: udp
  servers: [198.18.1.2:5683]   # coap-server-notls in the namespace
policy:
  cookie_mode: always
EOF
"$sg" --check-config "$cfg"
"$sg" --config "$cfg" --import-credentials "$root/deploy/sample-devices.csv"

# The M2M application server: libcoap's plaintext CoAP server, in the namespace.
ip netns exec "$NS" coap-server-notls -A 198.18.1.2 -p 5683 >/dev/null 2>&1 &
bg_pids+=($!)

# 5. run: the daemon in the background so this script stays in charge of signals
say "starting stormgate$([ "$duration" -gt 0 ] && echo " for $duration s" || echo "; Ctrl-C stops")"
dur_args=()
[ "$duration" -gt 0 ] && dur_args=(--duration "$duration")
"$sg" --config "$cfg" --status "${dur_args[@]}" &
sg_pid=$!

up=0
for _ in $(seq 150); do
	kill -0 "$sg_pid" 2>/dev/null || break
	if [ -S "$sock" ] && "$sgctl" --socket "$sock" version >/dev/null 2>&1; then
		up=1
		break
	fi
	sleep 0.2
done
if [ "$up" -eq 1 ] && [ "$traffic" -eq 1 ]; then
	rounds=$([ "$duration" -gt 0 ] && echo "$duration" || echo "$TRAFFIC_MAX")
	# Every 2 s a device GETs /time from the CoAP server over DTLS through the
	# gateway, alternately with libcoap's OpenSSL and GnuTLS builds.
	(
		for ((r = 0; r < rounds; r += 2)); do
			kill -0 "$sg_pid" 2>/dev/null || exit 0
			client=coap-client-openssl
			[ $(((r / 2) % 2)) -eq 1 ] && client=coap-client-gnutls
			reply=$(ip netns exec "$NS" timeout 5 "$client" -u "$DEMO_ID" -k "$DEMO_KEY" \
				-B 4 coaps://198.18.1.1/time 2>/dev/null | tr -d '\r')
			printf '    device> %s GET coaps://198.18.1.1/time -> %s\n' "$client" \
				"${reply:-(no answer)}"
			sleep 2
		done
	) &
	bg_pids+=($!)
	# One look through the control socket while it runs.
	snap=$([ "$duration" -gt 0 ] && echo $((duration / 2 > 3 ? duration / 2 : 3)) || echo 5)
	(
		sleep "$snap"
		kill -0 "$sg_pid" 2>/dev/null || exit 0
		printf '\n'
		"$sgctl" --socket "$sock" status 2>&1 | sed 's/^/    stormctl> /'
	) &
	bg_pids+=($!)
fi

rc=0
while :; do
	wait "$sg_pid" && rc=0 || rc=$?
	kill -0 "$sg_pid" 2>/dev/null || break
done
sg_pid=

# 6. summary; the EXIT trap removes everything
if [ "$rc" -eq 0 ]; then
	say "stormgate stopped cleanly$([ "$interrupted" -eq 1 ] && echo " (interrupted)")."
else
	say "stormgate exited with status $rc"
fi
exit "$rc"
