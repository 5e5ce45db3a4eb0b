#!/usr/bin/env python3
"""A PROXY-protocol-v2 application server for the end-to-end tests of the
backend `proxy` mode, written from HAProxy's proxy-protocol.txt §2.2 (not from
Stormgate's codec).

    proxy_backend.py ADDRESS PORT [LIFETIME_S]

Every datagram must start with a v2 header (signature, version 2, command
PROXY, AF_INET or AF_INET6 over DGRAM, addresses and ports, TLVs). For each
one it prints a JSON line on stdout: the device's address and port, the
gateway address and port it reached, the TLVs it found (PP2_TYPE_SSL with its
client flags, verify field and SSL version sub-TLV; PP2_TYPE_UNIQUE_ID; the
PSK identity in TLV 0xE0) and the payload; then it answers with the very same
header followed by b'echo:' + the payload, so the gateway can find the
session: the header's PP2_TYPE_UNIQUE_ID holds the session's handle and its
token, which the gateway wants back in every reply. A datagram without a valid header gets a JSON line with "error" and
no answer. Prints "ready" first; stops after LIFETIME_S (default 600): the
loop is sgtest.udpserver's.
"""
import ipaddress
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import udpserver  # noqa: E402

SIG = b'\r\n\r\n\x00\r\nQUIT\n'
TLV_NAMES = {0x01: 'alpn', 0x02: 'authority', 0x03: 'crc32c', 0x04: 'noop',
             0x05: 'unique_id', 0x20: 'ssl', 0x30: 'netns', 0xE0: 'psk_identity'}
SSL_SUB = {0x21: 'version', 0x22: 'cn', 0x23: 'cipher', 0x24: 'sig_alg', 0x25: 'key_alg'}


def tlvs(buf):
    """(type, value) pairs; ValueError when one runs past the end."""
    out, off = [], 0
    while off < len(buf):
        if len(buf) - off < 3:
            raise ValueError(f'TLV header cut short at {off}')
        t, n = buf[off], int.from_bytes(buf[off + 1:off + 3], 'big')
        if off + 3 + n > len(buf):
            raise ValueError(f'TLV 0x{t:02x} of {n} bytes runs past the header')
        out.append((t, buf[off + 3:off + 3 + n]))
        off += 3 + n
    return out


def parse(d):
    """(header length, description) of the v2 header at the start of d."""
    if len(d) < 16 or d[:12] != SIG:
        raise ValueError('no PROXY v2 signature')
    if d[12] != 0x21:
        raise ValueError(f'version/command 0x{d[12]:02x}, want 0x21 (v2, PROXY)')
    fam = {0x12: 4, 0x22: 6}.get(d[13])
    if fam is None:
        raise ValueError(f'family/transport 0x{d[13]:02x}, want 0x12 or 0x22 (DGRAM)')
    total = 16 + int.from_bytes(d[14:16], 'big')
    alen = 4 if fam == 4 else 16
    if total > len(d) or total < 16 + 2 * alen + 4:
        raise ValueError(f'header length {total} for a datagram of {len(d)}')
    a = d[16:16 + 2 * alen]
    ports = d[16 + 2 * alen:16 + 2 * alen + 4]
    info = {
        'family': fam,
        'src': str(ipaddress.ip_address(a[:alen])),
        'dst': str(ipaddress.ip_address(a[alen:])),
        'sport': int.from_bytes(ports[:2], 'big'),
        'dport': int.from_bytes(ports[2:], 'big'),
        'tlvs': {},
    }
    for t, v in tlvs(d[16 + 2 * alen + 4:total]):
        name = TLV_NAMES.get(t, f'0x{t:02x}')
        if t == 0x20:
            if len(v) < 5:
                raise ValueError('PP2_TYPE_SSL shorter than client + verify')
            info['tlvs'][name] = {
                'client': v[0], 'verify': int.from_bytes(v[1:5], 'big'),
                **{SSL_SUB.get(st, f'0x{st:02x}'): sv.decode(errors='replace')
                   for st, sv in tlvs(v[5:])}}
        elif t == 0xE0:
            info['tlvs'][name] = v.decode(errors='replace')
        else:
            info['tlvs'][name] = v.hex()
    return total, info


def answer(d, peer):
    """The JSON line for d; the same header and b'echo:' + the payload back (None: none)."""
    try:
        hl, info = parse(d)
    except ValueError as e:
        print(json.dumps({'error': str(e), 'from': peer[0], 'len': len(d)}), flush=True)
        return None
    payload = d[hl:]
    info['from'] = f'{peer[0]}:{peer[1]}'
    info['payload'] = payload.decode(errors='replace')
    print(json.dumps(info), flush=True)
    return d[:hl] + b'echo:' + payload


if __name__ == '__main__':
    udpserver.serve(answer)
