#!/usr/bin/env python3
"""UDP echo server for the daemon and end-to-end tests: answers every datagram with
b'echo:' + the datagram, to its sender. Prints "ready" once bound.

    udp_echo.py ADDRESS PORT [LIFETIME_S]

Stops by itself after LIFETIME_S (default 600); sgtest.udpserver has the loop.
"""
from sgtest import udpserver

udpserver.serve(lambda data, peer: b'echo:' + data)
