#!/usr/bin/env python3
"""End to end (suite 'e2e'): a session of the backend `proxy` mode survives
restarts of the daemon (issue 15). One openssl s_client -dtls1_2 PSK session
from a fixed port, held open, talks through stormgate to proxy_backend.py, which
parses each PROXY v2 header and answers with it (the session's handle and token
in PP2_TYPE_UNIQUE_ID, which the gateway requires back). The daemon is killed
(-9), started again on the same config, credentials and session store, later
stopped by `stormctl shutdown` and started again. Each time the same s_client
process keeps getting its lines echoed, the backend sees the very same unique
id (the restored session keeps its handle and its token, so the application
server's replies still find it) and the same PSK identity (TLV 0xE0), and the
new daemon counted no handshake.

    test_restart_proxy.py STORMGATE STORMCTL      (root; tag sge2e11)
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import clients, e2e, restart  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = 41590  # the device's fixed source port
LINES = 3
SETTLE_S = 1.0  # before a stop: past store.commit_interval (100 ms) with room


def backend_lines(pb, n, timeout=5):
    """The next n JSON lines proxy_backend.py printed."""
    out = []
    end = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        if pb.expect('\n', 0.2):
            out += [json.loads(x) for x in pb.take_lines() if x.strip()]
    return out


def exchange(c, pb, tag):
    """(lines echoed, the headers the backend saw): stops at the first line not echoed."""
    n = 0
    for k in range(LINES):
        if not clients.echo_roundtrip(c, f'{tag} line {k}', timeout=5):
            break
        n += 1
    return n, backend_lines(pb, n, timeout=2)


def ids(seen):
    """The (unique id, PSK identity) pairs of the headers seen."""
    return {(x.get('tlvs', {}).get('unique_id'), x.get('tlvs', {}).get('psk_identity'))
            for x in seen}


def run(stormgate, stormctl):
    with e2e.E2ELab('sge2e11', stormgate, stormctl) as lab:
        check = lab.check
        d = lab.start_daemon(backend_mode='proxy')
        pb = clients.Interactive(lab, lab.ns_be, [sys.executable,
                                                  os.path.join(HERE, 'proxy_backend.py'),
                                                  e2e.BE4, str(e2e.BACKEND_PORT)])
        if not check('proxy_backend.py runs', pb.expect('ready\n', 10), pb.err()):
            return
        pb.take_lines()
        ident, key = e2e.device_identity(41), e2e.device_key(41)
        c = clients.s_client(lab, e2e.GW4, ident, key, 'PSK-AES128-CCM8',
                             extra=('-bind', f'{e2e.DEV4}:{PORT}'))
        n, seen = exchange(c, pb, 'before')
        first = ids(seen)
        check(f's_client from port {PORT}: {n}/{LINES} lines echoed through the PROXY v2 '
              'backend, one unique id (handle and token) naming the identity',
              n == LINES and len(first) == 1 and next(iter(first))[1] == ident
              and len(next(iter(first))[0] or '') == 32, f'{seen}\n{c.err()[-500:]}')
        for how in ('kill9', 'shutdown'):
            time.sleep(SETTLE_S)
            rc, answer = restart.stop(d, how)
            check(f'{how}: the daemon stops (exit {-9 if how == "kill9" else 0})',
                  rc == (-9 if how == 'kill9' else 0), f'exit {rc} {answer}\n{d.log()[-1000:]}')
            d = lab.start_daemon(backend_mode='proxy')
            r = restart.restored(d)
            check(f'{how}: the new daemon logs "restored N sessions" (N >= 1)',
                  r is not None and r >= 1, d.log()[-1500:])
            pb.take_lines()
            n, seen = exchange(c, pb, f'after {how}')
            check(f'{how}: the same s_client process keeps working: {n}/{LINES} lines echoed',
                  n == LINES, f'stdout {c.out[-300:]!r}\n{c.err()[-500:]}\n{d.log()[-800:]}')
            check(f'{how}: the backend sees the same unique id (handle and token) and identity',
                  ids(seen) == first, f'before {first}\nafter {ids(seen)}')
            hs = restart.handshakes(d)
            check(f'{how}: 0 handshakes counted by the new daemon', restart.fresh(hs), hs)
        check('s_client ends its session with close_notify and exits 0', c.close() == 0,
              c.err()[-500:])
        lab.check_stop(d)


if __name__ == '__main__':
    e2e.main_guard(run)
