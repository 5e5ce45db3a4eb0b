#!/usr/bin/env python3
"""The CI's small storm (suite 'storm', root; issue 14, "CI"): bench/storm.sh
runs `cold`, `steady` and `overload` with 2,000 PSK devices of stormgate-fleet
against the daemon over memif, and every run of them must have brought every
device up (connected == devices) with misdelivered == 0 and nonce_reuse == 0;
overload's goodput must not collapse (goodput_ratio >= GOODPUT_MIN, below).
Then nothing of the storms is left: no namespace, veth, memif socket directory
or DPDK runtime directory of the tag.

Bounded: each scenario is one bench/storm.sh with its own timeout, about 2
minutes in all on two cores (the test's own timeout is 300 s).

  test_storm_fleet.py BUILD_DIR
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tools'))
from sgtest import ROOT, proc  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

DEVICES = 2000
# (scenario, extra options, timeout s): durations sized so all three fit 300 s.
RUNS = (('cold', ['--duration', '15'], 90),
        ('steady', ['--duration', '15', '--ramp', '3', '--rate', '400'], 90),
        ('overload', ['--duration', '12'], 150))
# Overload at 10x capacity with admission on: the target is 0.9, a
# benchmark on a quiet machine with a fleet large enough to keep the server busy
# for many seconds. Here the capacity is measured seconds before the overload on
# a 2-core machine that other builds and tests share, and 2,000 PSK devices are
# brought up in a fraction of a second (about 10,000 handshakes/s here), so one
# datagram lost in either run costs its device a whole 1 s retransmission timeout
# and moves the ratio by several times. Not collapsed is therefore: a ratio of at
# least GOODPUT_MIN, or the overload run reaching 99 % connected within
# RETRY_SLACK_S of the capacity run (three first retransmission timeouts, 1 s
# +-25 % each); a collapse (retransmissions piling up, admission starving the
# fleet) fails both (docs/storms.md, "CI").
GOODPUT_MIN = 0.5
RETRY_SLACK_S = 3


def t99(run):
    """The first second in which 99 % of the run's devices were connected (None: never)."""
    n = run.get('devices') or 0
    return next((p['t'] for p in run.get('series', []) if p.get('connected', 0) >= 0.99 * n),
                None)


def leftovers(tag):
    """What a storm of tag left behind: namespaces, links, socket and runtime dirs."""
    ns = proc.run(['ip', 'netns', 'list']).stdout.split()
    links = proc.run(['ip', '-o', 'link', 'show']).stdout
    left = [n for n in ns if n.startswith(tag)]
    left += [w for w in links.replace('@', ' ').replace(':', ' ').split() if w.startswith(tag)]
    left += glob.glob(f'/run/stormgate-storm-{tag}*') + glob.glob(f'/var/run/dpdk/{tag}*')
    return left


def check_run(t, scenario, doc):
    runs = doc.get('runs') or {scenario: doc}
    for name, r in runs.items():
        t.check(f'{scenario}/{name}: connected == devices ({DEVICES})',
                r.get('connected') == DEVICES == r.get('devices'),
                {k: r.get(k) for k in ('connected', 'devices', 'handshakes_failed',
                                       'retransmissions', 'seconds_to_all_connected')})
        for key in ('misdelivered', 'nonce_reuse'):
            t.check(f'{scenario}/{name}: {key} == 0', r.get(key) == 0, r.get(key))
    if scenario == 'overload':
        cap, on = t99(runs.get('capacity', {})), t99(runs.get('admission_on', {}))
        ratio = doc.get('goodput_ratio') or 0
        t.check(f'overload: goodput did not collapse (ratio {ratio} >= {GOODPUT_MIN} of '
                f'{doc.get("capacity_handshakes_per_s")}/s, or 99 % connected in second {on} '
                f'<= {cap} + {RETRY_SLACK_S})',
                ratio >= GOODPUT_MIN or (on is not None and cap is not None
                                         and on <= cap + RETRY_SLACK_S),
                {k: doc.get(k) for k in ('capacity_handshakes_per_s', 'goodput_ratio',
                                         'goodput_ratio_admission_off', 'capacity_caveat',
                                         'admission_policy')})
    if scenario == 'steady':
        t.check('steady: requests answered, RTT p99 reported',
                doc.get('requests_answered', 0) > 0 and doc.get('rtt_p99_ms') is not None,
                {k: doc.get(k) for k in ('requests_sent', 'requests_answered', 'rtt_p99_ms')})


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
    tag = 'sgstci' + os.environ.get('SG_E2E_TAG_SUFFIX', '')
    env = {**os.environ, 'SG_BUILD_DIR': build}
    with tempfile.TemporaryDirectory(prefix='sgstorm-ci-') as out:
        for scenario, extra, timeout in RUNS:
            args = [os.path.join(ROOT, 'bench', 'storm.sh'), scenario, '--devices', str(DEVICES),
                    '--out', out, '--tag', tag] + extra
            try:
                r = proc.run(args, timeout=timeout, env=env)
                ok, detail = r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
            except subprocess.TimeoutExpired as e:
                ok, detail = False, f'timeout {timeout} s: {e}'
            t.check(f'bench/storm.sh {scenario} --devices {DEVICES}: exit 0', ok, detail)
            js = os.path.join(out, f'{scenario}.json')
            if not os.path.exists(js):
                t.check(f'{scenario}.json written', False, detail)
                continue
            with open(js, encoding='utf-8') as f:
                doc = json.load(f)
            t.check(f'{scenario}.png written', os.path.getsize(os.path.join(out, f'{scenario}.png'))
                    > 1000 if os.path.exists(os.path.join(out, f'{scenario}.png')) else False)
            check_run(t, scenario, doc)
            left = leftovers(tag)
            t.check(f'{scenario}: nothing of the storm left behind', not left, left)
    return t.finish()


if __name__ == '__main__':
    sys.exit(main())
