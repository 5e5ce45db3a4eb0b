#!/usr/bin/env bash
# Make the DTLS captures that tests/dataplane/test_pcap_replay.c replays: a
# real client (OpenSSL s_client, DTLS 1.2, PSK) talks through the stormgate
# daemon to a UDP echo server, and dumpcap records the device side.
#
#   sudo tests/data/make_capture.sh [--out DIR] [BUILD_DIR]
#
# BUILD_DIR (default: build) holds control/stormgate and control/stormctl;
# DIR (default: tests/data) receives, for each suite NAME (ccm8, gcm):
#   dtls-psk-NAME.pcap    classic pcap, Ethernet, only UDP port 5684 on the
#                         device veth: cookie exchange, handshake, the
#                         application records, replies, close_notify
#   dtls-psk-NAME.keylog  the client's NSS key log (CLIENT_RANDOM <cr> <ms>)
#   dtls-psk-NAME.json    PSK identity and key, cipher suite, addresses, the
#                         expected plaintexts and replies, datagram counts
#
# Set-up (as tests/control/test_daemon.py test_dtls_echo): a namespace
# sgcapPID with veth sgcapPIDd (client side, 198.18.1.2/24, TX checksum
# offload off so the frames carry real checksums) and sgcapPIDg (the
# daemon's net_af_packet port, 198.18.1.1); a credential store with one PSK;
# backend mode udp to an echo server at 198.18.1.2:5683 in the namespace;
# cookies always. Per suite, s_client sends three lines one at a time, gets
# each echoed back, and leaves with close_notify at end of input.
#
# Checks before anything is written: s_client printed every echo, the echo
# server received exactly the lines in order, and tshark (an independent
# DTLS implementation) decrypts the pcap with the key log into the same
# lines and replies. Randoms, the client's port and the veth MACs change
# from run to run; the JSON records them. Everything it creates (namespace,
# veth, processes, temporary files) is removed on exit, also on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/tests/data
BUILD=$ROOT/build
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=$2; shift ;;
	-h | --help) sed -n '2,30p' "$0"; exit 0 ;;
	-*) echo "make_capture: unknown option $1" >&2; exit 2 ;;
	*) BUILD=$1 ;;
	esac
	shift
done
case "$BUILD" in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
STORMGATE=$BUILD/control/stormgate
STORMCTL=$BUILD/control/stormctl

die() { echo "make_capture: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespace, AF_PACKET, capture)"
if [ ! -x "$STORMGATE" ] || [ ! -x "$STORMCTL" ]; then
	die "no stormgate/stormctl in $BUILD/control (build first)"
fi
for t in ip ethtool openssl dumpcap tshark python3; do
	command -v "$t" >/dev/null || die "$t not found (deploy/bootstrap.sh installs it)"
done
mkdir -p "$OUT"

TAG=sgcap$$
NS=$TAG
VETH_GW=${TAG}g
VETH_DEV=${TAG}d
GW_IP=198.18.1.1
DEV_IP=198.18.1.2
DTLS_PORT=5684
ECHO_PORT=5683
IDENTITY=urn:dev:ops:stormgate-pcap-0001
PSK=5a7c0b1e4f9d2c3a6b8e0f1d2c3b4a59
WORK=$(mktemp -d /tmp/sgcap.XXXXXX)
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	ip netns del "$NS" 2>/dev/null || true
	ip link del "$VETH_GW" 2>/dev/null || true
	rm -rf "/var/run/dpdk/$TAG" "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- namespace: the device side ----
ip netns add "$NS"
ip link add "$VETH_GW" type veth peer name "$VETH_DEV" netns "$NS"
# No IPv6: no router solicitations or MLD reports on the wire.
sysctl -q -w "net.ipv6.conf.$VETH_GW.disable_ipv6=1"
ip netns exec "$NS" sysctl -q -w "net.ipv6.conf.$VETH_DEV.disable_ipv6=1"
ip link set "$VETH_GW" up
ip -n "$NS" addr add "$DEV_IP/24" dev "$VETH_DEV"
ip -n "$NS" link set "$VETH_DEV" up
ip -n "$NS" link set lo up
# veth would leave UDP checksums partial (offload): a real NIC fills them in.
ip netns exec "$NS" ethtool -K "$VETH_DEV" tx off >/dev/null
GW_MAC=$(cat "/sys/class/net/$VETH_GW/address")
DEV_MAC=$(ip netns exec "$NS" cat "/sys/class/net/$VETH_DEV/address")
ip -n "$NS" neigh add "$GW_IP" lladdr "$GW_MAC" dev "$VETH_DEV" nud permanent

# ---- the daemon ----
printf 'identity,psk_hex\n%s,%s\n' "$IDENTITY" "$PSK" >"$WORK/devices.csv"
cat >"$WORK/stormgate.yaml" <<EOF
eal: [-l, 0-1, --no-pci, --file-prefix, $TAG]
log: {level: info}
control:
  socket: $WORK/ctl.sock
workers: {idle_sleep_us: 200}
mbufs: {count: 4095, cache: 64}
credentials: {db: $WORK/creds, map_size: 64M}
ports:
  - {name: dev0, role: device, devargs: "net_af_packet0,iface=$VETH_GW", addresses: [$GW_IP/24]}
# The echo server is on the client's link: that network is trusted (docs/architecture.md).
backend: {mode: udp, trust_device_network: true, servers: [$DEV_IP:$ECHO_PORT]}
policy: {cookie_mode: always}
EOF
"$STORMGATE" --config "$WORK/stormgate.yaml" --import-credentials "$WORK/devices.csv" \
	>"$WORK/import.log" 2>&1 || die "importing the credential failed: $(cat "$WORK/import.log")"
"$STORMGATE" --config "$WORK/stormgate.yaml" --no-status >"$WORK/stormgate.log" 2>&1 &
DAEMON=$!
PIDS+=("$DAEMON")
up=0
for _ in $(seq 1 300); do
	kill -0 "$DAEMON" 2>/dev/null || break
	if "$STORMCTL" --socket "$WORK/ctl.sock" version >/dev/null 2>&1; then
		up=1
		break
	fi
	sleep 0.2
done
[ "$up" -eq 1 ] || die "the daemon did not come up: $(tail -20 "$WORK/stormgate.log")"

# ---- the echo server (logs every datagram it gets, hex, one per line) ----
cat >"$WORK/echo.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(0.2)
end = time.monotonic() + float(sys.argv[4])
with open(sys.argv[3], 'w') as log:
    while time.monotonic() < end:
        try:
            data, peer = s.recvfrom(4096)
        except socket.timeout:
            continue
        log.write(data.hex() + '\n')
        log.flush()
        s.sendto(b'echo:' + data, peer)
EOF

# One client run: capture NAME with CIPHER, check it, write the outputs.
capture() {
	local name=$1 cipher=$2 base i
	local lines=("GET /sensors/temperature ($cipher)" "PUT /actuators/valve open"
		"stormgate pcap replay: line 3 of 3")
	base=dtls-psk-$name
	: >"$WORK/$base.echo"

	ip netns exec "$NS" python3 "$WORK/echo.py" "$DEV_IP" "$ECHO_PORT" "$WORK/$base.echo" 40 &
	local echo=$!
	PIDS+=("$echo")
	ip netns exec "$NS" dumpcap -i "$VETH_DEV" -f "udp port $DTLS_PORT" -P -s 2048 \
		-w "$WORK/$base.pcap" 2>"$WORK/$base.dumpcap" &
	local cap=$!
	PIDS+=("$cap")
	for _ in $(seq 1 100); do
		grep -q 'Capturing on' "$WORK/$base.dumpcap" && break
		sleep 0.1
	done
	grep -q 'Capturing on' "$WORK/$base.dumpcap" || die "dumpcap: $(cat "$WORK/$base.dumpcap")"
	sleep 0.5

	# One line per read (s_client sends what one read returns as one record),
	# after the handshake; end of input sends close_notify (no -quiet: it
	# implies -ign_eof).
	{
		sleep 1.5
		for i in "${lines[@]}"; do
			printf '%s\n' "$i"
			sleep 0.7
		done
		sleep 1
	} | ip netns exec "$NS" timeout 20 openssl s_client -dtls1_2 -brief \
		-connect "$GW_IP:$DTLS_PORT" -psk_identity "$IDENTITY" -psk "$PSK" \
		-cipher "$cipher" -keylogfile "$WORK/$base.keylog" \
		>"$WORK/$base.client" 2>&1 || true
	sleep 0.5
	kill -INT "$cap"
	wait "$cap" || true
	kill "$echo"
	wait "$echo" || true

	python3 - "$WORK" "$OUT" "$base" "$cipher" "$IDENTITY" "$PSK" "$GW_MAC" "$GW_IP" \
		"$DTLS_PORT" "$DEV_MAC" "$DEV_IP" "${lines[@]}" <<'EOF'
import json, os, shutil, subprocess, sys

work, out, base, cipher, ident, psk, gw_mac, gw_ip, dport, dev_mac, dev_ip = sys.argv[1:12]
lines = [l + '\n' for l in sys.argv[12:]]
replies = ['echo:' + l for l in lines]
pcap, keylog = f'{work}/{base}.pcap', f'{work}/{base}.keylog'
SUITES = {'PSK-AES128-CCM8': (0xC0A8, 'SHA256', 'AES-128-CCM-8'),
          'PSK-AES128-GCM-SHA256': (0x00A8, 'SHA256', 'AES-128-GCM')}


def fail(msg):
    sys.exit(f'make_capture: {base}: {msg}')


client = open(f'{work}/{base}.client').read()
for r in replies:
    if r not in client:
        fail(f'the client did not print {r!r}:\n{client[-1500:]}')
got = [bytes.fromhex(h).decode() for h in open(f'{work}/{base}.echo').read().split()]
if got != lines:
    fail(f'the echo server received {got!r}, not {lines!r}')
kl = [l.split() for l in open(keylog) if l.startswith('CLIENT_RANDOM ')]
if len(kl) != 1:
    fail(f'{len(kl)} CLIENT_RANDOM lines in the key log')

# tshark: who sent each frame, its records (type/epoch), and what the key log
# decrypts (CoAP off: the records hold text lines, not CoAP).
def tshark(*args):
    r = subprocess.run(['tshark', '-r', pcap, '-o', f'tls.keylog_file:{keylog}',
                        '--disable-protocol', 'coap', '-T', 'fields', '-E', 'separator=|']
                       + list(args), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f'tshark: {r.stderr}')
    return [l.split('|') for l in r.stdout.splitlines()]

frames = tshark('-e', 'ip.src', '-e', 'udp.srcport', '-e', 'dtls.record.content_type',
                '-e', 'dtls.record.epoch', '-e', 'data.data')
count = {'total': len(frames), 'from_gateway': 0, 'handshake': 0, 'application': 0, 'alert': 0}
client_port, up, down = None, [], []
for src, sport, types, epochs, data in frames:
    first_type, first_epoch = int(types.split(',')[0]), int(epochs.split(',')[0])
    plain = bytes.fromhex(data.replace(',', '')).decode(errors='replace') if data else None
    if src == gw_ip:
        count['from_gateway'] += 1
        if first_epoch == 1 and first_type == 23:
            down.append(plain)
        continue
    client_port = int(sport)
    if first_epoch == 0:
        count['handshake'] += 1
    elif first_type == 23 and len(types.split(',')) == 1:
        count['application'] += 1
        up.append(plain)
    elif first_type == 21 and first_epoch == 1:
        count['alert'] += 1
    else:
        fail(f'unexpected client datagram: types {types} epochs {epochs}')
if up != lines or down != replies:
    fail(f'tshark decrypts {up!r} / {down!r}, expected {lines!r} / {replies!r}')
if count['alert'] != 1:
    fail(f'{count["alert"]} encrypted alerts from the client, expected one close_notify')

suite, prf, aead = SUITES[cipher]
meta = {
    'description': 'OpenSSL s_client (DTLS 1.2, PSK) through stormgate to a UDP echo server, '
                   'captured on the device side by tests/data/make_capture.sh',
    'client_software': subprocess.run(['openssl', 'version'], capture_output=True,
                                      text=True).stdout.strip(),
    'pcap': f'{base}.pcap', 'keylog': f'{base}.keylog',
    'psk_identity': ident, 'psk': psk,
    'cipher': cipher, 'cipher_suite': suite, 'prf_hash': prf, 'aead': aead,
    'gateway': {'mac': gw_mac, 'ip': gw_ip, 'port': int(dport)},
    'client': {'mac': dev_mac, 'ip': dev_ip, 'port': client_port},
    'records': lines, 'replies': replies, 'close_notify': True,
    'datagrams': count,
}
for f in (f'{base}.pcap', f'{base}.keylog'):
    shutil.copyfile(f'{work}/{f}', f'{out}/{f}')
    os.chmod(f'{out}/{f}', 0o644)
with open(f'{out}/{base}.json', 'w') as f:
    json.dump(meta, f, indent=2)
    f.write('\n')
print(f'make_capture: {out}/{base}.pcap: {count["total"]} frames {count}, client port {client_port}')
EOF
}

capture ccm8 PSK-AES128-CCM8
capture gcm PSK-AES128-GCM-SHA256
"$STORMCTL" --socket "$WORK/ctl.sock" shutdown >/dev/null 2>&1 || true
