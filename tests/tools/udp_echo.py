#!/usr/bin/env python3
"""UDP echo server for the daemon and end-to-end tests: answers every datagram with
b'echo:' + the datagram, to its sender. Prints "ready" once bound.

    udp_echo.py ADDRESS PORT [LIFETIME_S]

Stops by itself after LIFETIME_S (default 600) so a lost test cannot leave it
running forever; the tests kill it before that.
"""
import socket
import sys
import time

addr, port = sys.argv[1], int(sys.argv[2])
lifetime = float(sys.argv[3]) if len(sys.argv) > 3 else 600.0
s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
s.settimeout(0.5)
print('ready', flush=True)
end = time.monotonic() + lifetime
while time.monotonic() < end:
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        continue
    s.sendto(b'echo:' + data, peer)
