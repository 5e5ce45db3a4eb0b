#!/usr/bin/env python3
"""A UDP echo server that says who it heard (tests/e2e/test_restart.py): answers
every datagram with b'echo:' + the datagram, like tests/tools/udp_echo.py, and
prints one JSON line per datagram, {"from": "ADDRESS:PORT", "len": N}, so a test
sees the source port the gateway's udp mode uses for a session (the application
server's view of the device), before and after a restart.

    peer_echo.py ADDRESS PORT [LIFETIME_S]

Prints "ready" first; stops after LIFETIME_S (default 600): the loop is
sgtest.udpserver's.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import udpserver  # noqa: E402


def answer(data, peer):
    print(json.dumps({'from': f'{peer[0]}:{peer[1]}', 'len': len(data)}), flush=True)
    return b'echo:' + data


if __name__ == '__main__':
    udpserver.serve(answer)
