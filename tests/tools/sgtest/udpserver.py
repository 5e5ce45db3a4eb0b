"""The loop of the UDP servers the tests run in a namespace (tests/tools/udp_echo.py,
tests/e2e/proxy_backend.py): argv ADDRESS PORT [LIFETIME_S]; "ready" on stdout once
bound; each datagram handed to answer(data, peer), whose bytes go back to the peer
(None: nothing). Stops by itself after LIFETIME_S (default 600), so a lost test
cannot leave it running forever; the tests kill it before that."""
import socket
import sys
import time


def serve(answer, argv=None):
    argv = sys.argv[1:] if argv is None else argv
    addr, port = argv[0], int(argv[1])
    lifetime = float(argv[2]) if len(argv) > 2 else 600.0
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
        reply = answer(data, peer)
        if reply is not None:
            s.sendto(reply, peer)
