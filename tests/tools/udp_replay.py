#!/usr/bin/env python3
"""Send captured UDP payloads again, as their device sent them (the replay checks of
tests/e2e/test_restart.py): an IPv4/UDP datagram per payload from SRC:SPORT to
DST:DPORT through a raw socket, so the port may be held by the client that sent
them first. The UDP checksum is computed (RFC 768), not left at zero.

    udp_replay.py SRC SPORT DST DPORT HEX [HEX ...]

Run inside the devices' namespace; prints "sent N" and exits 0.
"""
import socket
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def udp(src, sport, dst, dport, payload):
    """The UDP header and payload, checksummed over the IPv4 pseudo-header."""
    length = 8 + len(payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 17, length)
    head = struct.pack('!HHHH', sport, dport, length, 0)
    c = checksum(pseudo + head + payload) or 0xffff
    return struct.pack('!HHHH', sport, dport, length, c) + payload


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    src, sport, dst, dport = argv[0], int(argv[1]), argv[2], int(argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    s.bind((src, 0))
    for h in argv[4:]:
        s.sendto(udp(src, sport, dst, dport, bytes.fromhex(h)), (dst, 0))
    print(f'sent {len(argv) - 4}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
