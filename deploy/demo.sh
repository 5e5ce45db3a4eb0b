#!/usr/bin/env bash
# The README's main command: set up, build and run Stormgate on its embedded
# default, with no NIC needed.
#
#   deploy/demo.sh [--duration N] [--no-traffic] [--storm-devices N] [--no-storm]
#
# As root it
#   1. runs deploy/bootstrap.sh (Debian packages; hugepages when the kernel
#      grants them, else the daemon runs with --no-huge and says so),
#   2. builds build/control/stormgate and stormctl (meson, ninja),
#   3. creates two network namespaces, each holding one end of a veth pair
#      whose other end is a DPDK port of the gateway (net_af_packet):
#        sg-demo-dev (198.18.1.2/24, fd00:5347:1::2/64), the devices' side,
#          <-> sg-demo-gd = port dev0 (role device), 198.18.1.1/24,
#          fd00:5347:1::1/64;
#        sg-demo-app (198.18.2.2/24), the application server's side,
#          <-> sg-demo-gb = port app0 (role backend), 198.18.2.1/24,
#   4. creates a credential store in a work directory from
#      deploy/sample-devices.csv (stormgate --import-credentials),
#   5. runs stormgate with a live status line, coap-server-notls in
#      sg-demo-app as the application server, and every 2 s a CoAP GET over
#      DTLS from a libcoap client in sg-demo-dev;
#      `stormctl status` shows the control socket at work,
#   6. stops on Ctrl-C or after --duration N seconds; the namespaces, veths,
#      work directory and DPDK runtime files are removed on every exit;
#   7. then a short storm (docs/storms.md): --storm-devices (default 10,000)
#      devices of stormgate-fleet come up at once against a second daemon,
#      with admission at STORM_ADMISSION handshakes/s, through
#      bench/storm.sh cold, whose live line shows the devices connected,
#      handshakes/s, goodput and the daemon's admitted and refused counts.
#      Skipped after Ctrl-C, with --no-storm, or when the build has no
#      stormgate-fleet.
#
# Why a second daemon for the storm: the devices above reach the gateway
# through the kernel (veths) at one address each, and the fleet plays 10,000
# devices and their application server from one DPDK process; joined to this
# daemon it would need a bridge in sg-demo-dev and would take the backend
# address coap-server-notls has. bench/storm.sh's own lab (memif between
# the fleet and its daemon, no kernel on the path) is what a user runs next
# to measure, so the demo shows that very command, and the first part stays
# as it was.
#
# In sg-demo-dev, libcoap's coap-client (OpenSSL and GnuTLS builds) is a
# device: it handshakes DTLS 1.2 with PSK to the gateway, whose data plane
# opens its records and forwards the CoAP request through the backend port
# to coap-server-notls, and seals the answer back. The server's replies are
# taken on the backend port only: the devices' network is not trusted to
# leave the server's address alone (docs/architecture.md, "Trust model").
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${SG_BUILD_DIR:-$root/build}
NS="sg-demo-dev"     # the devices
NS_APP="sg-demo-app" # the application server
VETH_GD="sg-demo-gd" # gateway end of the devices' link: port dev0
VETH_DEV="sg-demo-d"
VETH_GB="sg-demo-gb" # gateway end of the server's link: port app0
VETH_APP="sg-demo-b"
PREFIX="sg-demo"
TRAFFIC_MAX=120 # seconds of traffic when running until Ctrl-C
STORM_SECONDS=15   # the storm's fleet run
STORM_ADMISSION=2000 # policy.handshake_rate of the storm's daemon (new handshakes/s)
# The demo device (deploy/sample-devices.csv): libcoap's -k takes the PSK as text.
DEMO_ID="urn:dev:ops:32473-demo-coap"
DEMO_KEY="stormgate-demo-psk"

duration=0
traffic=1
storm=1
storm_devices=10000
while [ $# -gt 0 ]; do
	case "$1" in
	--duration)
		[ $# -ge 2 ] || { echo "demo: --duration needs seconds" >&2; exit 2; }
		duration=$2
		shift
		;;
	--duration=*) duration=${1#--duration=} ;;
	--no-traffic) traffic=0 ;;
	--no-storm) storm=0 ;;
	--storm-devices)
		[ $# -ge 2 ] || { echo "demo: --storm-devices needs a number" >&2; exit 2; }
		storm_devices=$2
		shift
		;;
	-h | --help)
		sed -n '2,50p' "$0" | sed 's/^# \{0,1\}//'
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
if ! [[ $storm_devices =~ ^[1-9][0-9]*$ ]]; then
	echo "demo: --storm-devices wants a number of devices, got '$storm_devices'" >&2
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
	ip netns del "$NS_APP" 2>/dev/null
	ip link del "$VETH_GD" 2>/dev/null
	ip link del "$VETH_GB" 2>/dev/null
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
# a build directory from an older tree lists the targets of then: regenerate it first
ninja -C "$builddir" build.ninja >/dev/null
fleet_target=bench/fleet/stormgate-fleet
targets=(control/stormgate control/stormctl)
if [ "$storm" -eq 1 ]; then
	# grep reads to the end (no -q): ninja must not die of SIGPIPE under pipefail
	if ninja -C "$builddir" -t targets all 2>/dev/null | grep "^$fleet_target:" >/dev/null; then
		targets+=("$fleet_target")
	else
		say "no $fleet_target in this build: the storm is skipped"
		storm=0
	fi
fi
ninja -C "$builddir" "${targets[@]}" | tail -n 1
sg=$builddir/control/stormgate
sgctl=$builddir/control/stormctl

# 3. the two namespaces and the veths the gateway's ports bind to
# namespace, its veth end, the gateway's end, addresses in the namespace
netns_link() {
	local ns=$1 ns_end=$2 gw_end=$3 a
	shift 3
	ip netns add "$ns"
	ip link add "$gw_end" type veth peer name "$ns_end" netns "$ns"
	# The gateway owns the addresses on its end, not the host's kernel.
	sysctl -q -w "net.ipv6.conf.$gw_end.disable_ipv6=1"
	ip link set "$gw_end" up
	ip -n "$ns" link set lo up
	for a in "$@"; do
		case "$a" in
		*:*) ip -n "$ns" addr add "$a" dev "$ns_end" nodad ;;
		*) ip -n "$ns" addr add "$a" dev "$ns_end" ;;
		esac
	done
	ip -n "$ns" link set "$ns_end" up
	# veth leaves UDP checksums to an offload that never happens; a NIC would fill them.
	ip netns exec "$ns" ethtool -K "$ns_end" tx off >/dev/null
}
# left over from an interrupted run
ip netns del "$NS" 2>/dev/null || true
ip netns del "$NS_APP" 2>/dev/null || true
ip link del "$VETH_GD" 2>/dev/null || true
ip link del "$VETH_GB" 2>/dev/null || true
netns_link "$NS" "$VETH_DEV" "$VETH_GD" 198.18.1.2/24 fd00:5347:1::2/64
netns_link "$NS_APP" "$VETH_APP" "$VETH_GB" 198.18.2.2/24
ip netns exec "$NS_APP" sysctl -q -w "net.ipv6.conf.$VETH_APP.disable_ipv6=1"
# No static neighbours: the gateway answers ARP and neighbour solicitations itself.
say "network: namespace $NS ($VETH_DEV 198.18.1.2/24, fd00:5347:1::2/64) <-> veth <-> $VETH_GD = DPDK port dev0 (device, 198.18.1.1/24, fd00:5347:1::1/64)"
say "network: namespace $NS_APP ($VETH_APP 198.18.2.2/24) <-> veth <-> $VETH_GB = DPDK port app0 (backend, 198.18.2.1/24)"

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
    devargs: net_af_packet0,iface=$VETH_GD
    addresses: [198.18.1.1/24, "fd00:5347:1::1/64"]
  - name: app0
    role: backend    # the server's replies are taken here only
    devargs: net_af_packet1,iface=$VETH_GB
    addresses: [198.18.2.1/24]
backend:
  mode: udp
  port: app0
  servers: [198.18.2.2:5683]   # coap-server-notls in $NS_APP
policy:
  cookie_mode: always
EOF
"$sg" --check-config "$cfg"
"$sg" --config "$cfg" --import-credentials "$root/deploy/sample-devices.csv"

# The M2M application server: libcoap's plaintext CoAP server, in its namespace.
ip netns exec "$NS_APP" coap-server-notls -A 198.18.2.2 -p 5683 >/dev/null 2>&1 &
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

# 7. the storm: its own lab, daemon and clean-up (bench/storm.sh)
if [ "$rc" -eq 0 ] && [ "$storm" -eq 1 ] && [ "$interrupted" -eq 0 ]; then
	say "storm: $storm_devices fleet devices at once against a second stormgate over memif," \
		"admission $STORM_ADMISSION handshakes/s (bench/storm.sh cold)"
	SG_BUILD_DIR=$builddir "$root/bench/storm.sh" cold --devices "$storm_devices" \
		--duration "$STORM_SECONDS" --admission "$STORM_ADMISSION" --req-rate 0.5 \
		--tag sgdemo --out "$work/storm" >"$work/storm.tap" || rc=$?
	grep -E '^not ok' "$work/storm.tap" | sed 's/^/    storm> /' || true
	say "storm $([ "$rc" -eq 0 ] && echo "done" || echo "failed (status $rc)");" \
		"bench/storm.sh cold --devices N --out DIR keeps its JSON and plot"
fi
exit "$rc"
