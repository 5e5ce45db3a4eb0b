#!/usr/bin/env python3
"""The CI's restart storm (suite 'storm', root; issue 15, "Tests"): bench/storm.sh
runs the `restart` scenario with 2,000 PSK devices of stormgate-fleet against
the daemon over memif, once with a crash (kill -9) and once with a clean stop
(`stormctl shutdown`), each at second RESTART_AT of traffic, the daemon started
again on the same config and session store. The issue's targets, per run:

  - every session survived: the new daemon holds as many as the old one did
    and its log says it restored them;
  - 0 handshakes after the restart, counted by the new daemon (`stats`) and by
    the fleet (its handshakes after the restart, and `rehandshakes`);
  - no request lost beyond CoAP retransmission (the fleet's `requests_lost`:
    a request unanswered after its 4 retransmissions; ACK timeout REQ_TIMEOUT_MS,
    so a request is given up 15.5-23 s after it was first sent (RFC 7252 §4.2), longer than a
    restart takes on a loaded 2-core machine);
  - nonce_reuse == 0 and misdelivered == 0, every device connected at the end
    and goodput back.

Then nothing of the storms is left. Bounded: each run is one bench/storm.sh with
its own timeout, about a minute each on two cores (the test's own timeout: 300 s).

  test_storm_restart.py BUILD_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tools'))
from sgtest import ROOT, proc  # noqa: E402
from sgtest.tap import Tap  # noqa: E402
from test_storm_fleet import leftovers  # noqa: E402

DEVICES = 2000
DURATION, RESTART_AT, REQ_TIMEOUT_MS = 30, 8, 500
KINDS = (('kill9', 120), ('shutdown', 120))  # (--restart-kind, timeout s)


def check_run(t, kind, doc):
    r = doc.get('restart') or {}
    brief = {k: r.get(k) for k in ('sessions_before', 'sessions_after_restart',
                                   'sessions_restored', 'sessions_saved', 'restart_s',
                                   'outcome')}
    t.check(f'{kind}: every session survived ({DEVICES} before, as many after, restored '
            'by the new daemon)',
            r.get('sessions_before') == DEVICES and r.get('sessions_after_restart') == DEVICES
            and r.get('sessions_restored') == DEVICES and r.get('sessions_survived'), brief)
    if kind == 'shutdown':
        t.check('shutdown: stormctl answered that it saved every session',
                r.get('sessions_saved') == DEVICES, brief)
    t.check(f'{kind}: 0 handshakes after the restart (the daemon\'s count, the fleet\'s, '
            'rehandshakes)',
            r.get('handshakes_after_restart') == 0 and r.get('fleet_handshakes_after_restart')
            == 0 and doc.get('rehandshakes') == 0,
            {k: r.get(k) for k in ('handshakes_after_restart', 'fleet_handshakes_after_restart',
                                   'rehandshakes')})
    t.check(f'{kind}: no request lost beyond CoAP retransmission (requests_lost == 0)',
            doc.get('requests_lost') == 0,
            {k: doc.get(k) for k in ('requests_sent', 'requests_answered', 'requests_lost')})
    for key in ('nonce_reuse', 'misdelivered'):
        t.check(f'{kind}: {key} == 0', doc.get(key) == 0, doc.get(key))
    t.check(f'{kind}: every device connected at the end, goodput back after the restart',
            doc.get('connected') == DEVICES and r.get('seconds_to_full_goodput') is not None,
            {k: r.get(k) for k in ('goodput_before_per_s', 'seconds_to_full_goodput',
                                   'lowest_goodput_per_s')})


def main():
    build = sys.argv[1]
    t = Tap(detail_lines=60, progress=True)
    if os.geteuid() != 0:
        print('1..0 # SKIP needs root (namespaces, memif sockets in /run, DPDK)')
        return 0
    fleet = os.path.join(build, 'bench', 'fleet', 'stormgate-fleet')
    if not os.access(fleet, os.X_OK):
        print('1..0 # SKIP stormgate-fleet is not built (bench/fleet, issue 14 part fleet)')
        return 0
    tag = 'sgstrs' + os.environ.get('SG_E2E_TAG_SUFFIX', '')
    env = {**os.environ, 'SG_BUILD_DIR': build}
    with tempfile.TemporaryDirectory(prefix='sgstorm-restart-') as out:
        for kind, timeout in KINDS:
            args = [os.path.join(ROOT, 'bench', 'storm.sh'), 'restart', '--devices',
                    str(DEVICES), '--duration', str(DURATION), '--restart-at', str(RESTART_AT),
                    '--restart-kind', kind, '--req-timeout', str(REQ_TIMEOUT_MS),
                    '--out', out, '--tag', tag]
            try:
                r = proc.run(args, timeout=timeout, env=env)
                ok, detail = r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
            except subprocess.TimeoutExpired as e:
                ok, detail = False, f'timeout {timeout} s: {e}'
            t.check(f'bench/storm.sh restart --restart-kind {kind} --devices {DEVICES}: exit 0',
                    ok, detail)
            js = os.path.join(out, 'restart.json')
            if not os.path.exists(js):
                t.check(f'{kind}: restart.json written', False, detail)
                continue
            with open(js, encoding='utf-8') as f:
                doc = json.load(f)
            os.unlink(js)  # the next kind writes its own
            check_run(t, kind, doc)
            left = leftovers(tag)
            t.check(f'{kind}: nothing of the storm left behind', not left, left)
    return t.finish()


if __name__ == '__main__':
    sys.exit(main())
