#!/usr/bin/env python3
"""The devices' side attacker of test_abuse.py: builds frames with scapy and
writes them to a raw AF_PACKET socket on the devices' veth, inside the
devices' namespace. It serves one JSON command per stdin line and answers
one JSON line each, so scapy is loaded once:

  {"cmd": "random", "n": N, "seed": S, "cid_len": L}   N datagrams of random bytes (1..200);
                                              L: the gateway's CID length
  {"cmd": "truncated", "n": N, "sport": P}    application records whose length runs past the
                                              datagram, from port P (a live device's)
  {"cmd": "oversized", "n": N, "sport": P}    records whose length field is over 2^14 + 2048
  {"cmd": "forge", "n": N, "sport": P}        well-formed epoch-1 records with random
                                              ciphertext, sequence numbers ahead of the window
  {"cmd": "sniff_start", "sport": P}          keep the device's next uplink records ...
  {"cmd": "sniff_stop"}                       ... and stop: {"frames": [hex, ...]}
  {"cmd": "replay", "frames": [hex], "rounds": R}   send captured frames again, R times
  {"cmd": "fragments", "n": N}                N IPv4 and N IPv6 datagrams of 2000 bytes, each
                                              in two fragments
  {"cmd": "flood", "n": N, "seconds": T}      N ClientHellos from a spoofed on-link address,
                                              a new source port each, within T seconds at most
  {"cmd": "bogus_cookie", "pps": P, "seconds": T}   ClientHellos carrying a made-up cookie
                                              from this host's own address, P a second for T
                                              seconds (issue 12 item 3: never charged to
                                              admission; each costs the gateway one HMAC)

Every answer holds "sent" (frames written) and, for random bytes, "expect":
what RFC 6347 §4.1 framing makes of them (the drop reason when framing alone
decides). Limits: N <= 100000, T <= 30.

    abuse.py IFACE GATEWAY_MAC            (run inside the devices' namespace)
"""
import json
import os
import random
import socket
import sys
import time

from scapy.all import IP, UDP, Ether, IPv6, IPv6ExtHdrFragment, Raw, fragment  # noqa: E402
from scapy.layers.inet6 import fragment6  # noqa: E402
from scapy.sendrecv import AsyncSniffer  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import dtls  # noqa: E402
from sgtest.dtls import DTLS_PORT as PORT  # noqa: E402
from sgtest.e2e import DEV4, DEV6, GW4, GW6  # noqa: E402

SPOOF4 = '198.18.1.77'  # on the devices' link, owned by nobody
MAX_CIPHERTEXT = (1 << 14) + 2048
N_MAX, T_MAX = 100000, 30.0

iface, gw_mac = sys.argv[1], sys.argv[2]
with open(f'/sys/class/net/{iface}/address') as f:
    my_mac = f.read().strip()
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind((iface, 0))
sniffer = None
sniffed = []


def udp4(payload, sport, src=DEV4):
    return bytes(Ether(src=my_mac, dst=gw_mac) / IP(src=src, dst=GW4)
                 / UDP(sport=sport, dport=PORT) / Raw(payload))


def framing(d, cid_len):
    """What the gateway's framing of the first record alone decides (None: it goes on).
    A tls12_cid record (type 25) carries cid_len bytes of CID before its length (RFC 9146)."""
    hdr = 13 + cid_len if d[:1] == b'\x19' else 13
    if len(d) < hdr:
        return 'dtls_malformed'
    n = int.from_bytes(d[hdr - 2:hdr], 'big')
    if n > MAX_CIPHERTEXT:
        return 'dtls_oversized'
    if n > len(d) - hdr:
        return 'dtls_malformed'
    return None


def client_hello(rng, cookie=b''):
    """A well-formed DTLS 1.2 ClientHello, without a cookie unless given (RFC 6347 §4.2.1)."""
    return dtls.client_hello(rng.randbytes(32), [0xC0A8, 0xC0A4, 0x00A8, 0xCCAB], cookie)


def send_all(frames, seconds=None, batch=256, pause=0.002):
    """Write the frames in batches with a pause between them: a veth hands each frame to
    the receiving side's backlog queue (net.core.netdev_max_backlog), which an unpaced
    burst overflows before the gateway could even see it."""
    end = time.monotonic() + seconds if seconds else None
    sent = 0
    for f in frames:
        if end and time.monotonic() > end:
            break
        raw.send(f)
        sent += 1
        if sent % batch == 0:
            time.sleep(pause)
    return sent


def handle(c):
    global sniffer, sniffed
    n = min(int(c.get('n', 0)), N_MAX)
    rng = random.Random(c.get('seed', 1))
    cmd = c['cmd']
    if cmd == 'random':
        frames, expect = [], {}
        for _ in range(n):
            d = rng.randbytes(rng.randint(1, 200))
            why = framing(d, int(c['cid_len'])) or 'other'
            expect[why] = expect.get(why, 0) + 1
            frames.append(udp4(d, rng.randint(1024, 65535), src=SPOOF4))
        return {'sent': send_all(frames), 'expect': expect}
    if cmd == 'truncated':
        frames = [udp4(dtls.record(23, 1, 1000 + i, rng.randbytes(30), length=200),
                       c['sport']) for i in range(n)]
        return {'sent': send_all(frames)}
    if cmd == 'oversized':
        frames = [udp4(dtls.record(23, 1, 2000 + i, rng.randbytes(100), length=0xffff),
                       c['sport']) for i in range(n)]
        return {'sent': send_all(frames)}
    if cmd == 'forge':
        # explicit nonce (8) + ciphertext + tag (16): the shape of a GCM/CCM record
        frames = [udp4(dtls.record(23, 1, (1 << 40) + i, rng.randbytes(8 + 32 + 16)),
                       c['sport']) for i in range(n)]
        return {'sent': send_all(frames)}
    if cmd == 'sniff_start':
        sport = int(c['sport'])
        sniffed = []

        def keep(p):
            if UDP in p and p[UDP].sport == sport and p[UDP].dport == PORT \
                    and bytes(p[UDP].payload)[:1] == b'\x17':
                sniffed.append(bytes(p).hex())

        sniffer = AsyncSniffer(iface=iface, prn=keep, store=False)
        sniffer.start()
        time.sleep(0.5)  # the socket is open once started; let it settle
        return {'sent': 0}
    if cmd == 'sniff_stop':
        if sniffer is not None:
            sniffer.stop()
            sniffer = None
        return {'sent': 0, 'frames': sniffed}
    if cmd == 'replay':
        frames = [bytes.fromhex(h) for h in c['frames']] * int(c.get('rounds', 1))
        return {'sent': send_all(frames)}
    if cmd == 'fragments':
        frames = []
        for i in range(n):
            p4 = (Ether(src=my_mac, dst=gw_mac) / IP(src=DEV4, dst=GW4, id=0x5347 + i)
                  / UDP(sport=43000 + i, dport=PORT) / Raw(rng.randbytes(2000)))
            frames += [bytes(f) for f in fragment(p4, fragsize=1400)]
            p6 = (IPv6(src=DEV6, dst=GW6) / IPv6ExtHdrFragment(id=0x5347 + i)
                  / UDP(sport=44000 + i, dport=PORT) / Raw(rng.randbytes(2000)))
            frames += [bytes(Ether(src=my_mac, dst=gw_mac) / x) for x in fragment6(p6, 1400)]
        return {'sent': send_all(frames)}
    if cmd == 'flood':
        seconds = min(float(c.get('seconds', 10)), T_MAX)
        hello = client_hello(rng)
        base = bytes(Ether(src=my_mac, dst=gw_mac) / IP(src=SPOOF4, dst=GW4)
                     / UDP(sport=1, dport=PORT, chksum=0) / Raw(hello))
        # Only the source port changes: patch it (UDP checksum 0 = none, RFC 768).
        off = 14 + 20
        frames = (base[:off] + (10000 + i % 50000).to_bytes(2, 'big') + base[off + 2:]
                  for i in range(n))
        t0 = time.monotonic()
        sent = send_all(frames, seconds)
        return {'sent': sent, 'seconds': round(time.monotonic() - t0, 3)}
    if cmd == 'bogus_cookie':
        pps = max(1, min(int(c.get('pps', 100)), 10000))
        seconds = min(float(c.get('seconds', 10)), T_MAX)
        # 17 bytes: the shape of our cookies (generation + 16 bytes of MAC), made up.
        frames = [udp4(client_hello(rng, rng.randbytes(17)), 20000 + i % 40000)
                  for i in range(int(pps * seconds))]
        t0 = time.monotonic()
        sent = 0
        for i, f in enumerate(frames):
            delay = t0 + i / pps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if time.monotonic() - t0 > seconds + 1:
                break
            raw.send(f)
            sent += 1
        return {'sent': sent, 'seconds': round(time.monotonic() - t0, 3)}
    return {'error': f'unknown command {cmd}'}


print(json.dumps({'ready': True, 'mac': my_mac}), flush=True)
for line in sys.stdin:
    if not line.strip():
        continue
    try:
        out = handle(json.loads(line))
    except Exception as e:  # report it to the test, which fails the step
        out = {'error': repr(e)}
    print(json.dumps(out), flush=True)
