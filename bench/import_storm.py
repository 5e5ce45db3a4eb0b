#!/usr/bin/env python3
"""Handshakes per second during a 1M-identity credential import (issue 13):
does a large `stormctl credentials import` stall the handshakes the daemon is
serving? docs/performance.md, "Handshakes during a credential import", has the
method and the figures.

    bench/import_storm.py STORMGATE STORMCTL HSLOAD [--identities N] [--clients K]
        [--before S] [--after S] [--runs R] [--json FILE]

    e.g. (root)  bench/import_storm.py build/control/stormgate build/control/stormctl \\
                     build/bench/hs_load/stormgate-hsload --runs 5

One run, in the e2e lab (tests/tools/sgtest/e2e.py) (namespaces sge2e9<SG_E2E_TAG_SUFFIX>-dev/-be, veths
to the daemon's net_af_packet ports, 198.18.0.0/15 and fd00:5347:1::/64 only; all of
it, processes, DPDK runtime files and the work directory removed on every exit):
  1. the daemon on the lab's configuration (cookie_mode: always, one worker lcore,
     the control thread on lcore 0), a store of 16M raised to 512M for the import,
     the lab's 129 test devices imported at start;
  2. N identities (default 1,000,000; urn:dev:ops:32473-imp-NNNNNNN, random 16-byte
     keys, in random order: a provisioning export is not sorted by the store's key)
     written to a CSV before any load starts;
  3. stormgate-hsload in the devices' namespace: K clients (default 128: on two
     cores the daemon's rate grows little past them, so this is a storm the control
     thread cannot keep up with) handshaking as the lab's devices (full PSK
     handshakes, HelloVerifyRequest answered, close_notify), counted per 100 ms;
  4. after --before seconds of load (default 5), `stormctl credentials import`
     of the CSV, timed; then --after seconds more (default 5) and the load stops.
It reports the handshake rate before (from 1 s after the load started: the first
second is the clients' first cookie round trips), during and after the import (and
during / before, which a change of the machine's load between runs moves less); the
longest time without a completed handshake in each window (exact, from the tool's
list of gaps of 20 ms or more: 0 means none that long), the one around the moment
the commit was answered (stall_at_commit_ms), the longest run of whole 100 ms
intervals without one during the import, and the share of each window's time spent in
gaps of 20 ms or more (stalled_*_pct); failures and timeouts during the import;
the import's own time (stormctl's wall time, and the daemon's `seconds`).

With --runs R it runs R times (each a fresh lab, daemon and store) and prints the
medians; --json FILE keeps every run's figures. TAP on stdout (a run whose import
failed or whose load did not run is not a measurement); the report on stderr.
Bounded: every wait has a timeout, the load tool stops itself after
before + after + 600 s.
"""
import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'tools'))
from sgtest import e2e  # noqa: E402
from sgtest.dtls import DTLS_PORT  # noqa: E402

TAG = 'sge2e9'
MAP_SIZE = '512M'  # 1M identities take about 90 MB (docs/control.md)
WARMUP_S = 1.0     # the clients' first cookie round trips
METRICS = ('rate_before', 'rate_during', 'rate_after', 'during_vs_before', 'stall_before_ms',
           'stall_during_ms', 'stall_at_commit_ms', 'stall_after_ms', 'zero_during_ms',
           'stalled_before_pct', 'stalled_during_pct', 'failed_during',
           'timeouts_during', 'import_s', 'import_daemon_s', 'p99_ms')


class ImportLab(e2e.E2ELab):
    """The e2e lab with a credential store large enough for the import."""

    def config(self, name, ports, **sections):
        sections['credentials'] = dict(sections.get('credentials') or {}, map_size=MAP_SIZE)
        return super().config(name, ports, **sections)


def write_bulk(path, n, seed=13):
    """n identities with random 16-byte keys, in random order."""
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    with open(path, 'w', encoding='ascii') as f:
        f.write('identity,psk_hex\n')
        for i in order:
            f.write(f'urn:dev:ops:32473-imp-{i:07d},{rng.getrandbits(128):032x}\n')


def window(summary, t_from, t_to):
    """(completions per second, longest gap in ms, longest zero run in ms, % of the
    time in gaps of 20 ms or more) over [t_from, t_to) (time.monotonic() seconds): the
    rate and zero run over the 100 ms intervals that lie wholly in it (the rate is None
    when none does), the gaps that overlap it (their share clipped to it)."""
    t0, iv = summary['t0_ns'] / 1e9, summary['interval_ms'] / 1000.0
    ok = summary['series']['ok']
    first = max(0, int((t_from - t0) / iv + 0.999999))
    last = min(len(ok), int((t_to - t0) / iv))  # exclusive
    rate = sum(ok[first:last]) / ((last - first) * iv) if last > first else None
    run = zero = 0
    for v in ok[first:last]:
        run = 0 if v else run + 1
        zero = max(zero, run)
    # Gaps between completions (the tool lists those of 20 ms or more) overlapping the window.
    gap = stalled = 0.0
    for g in summary['gaps']:
        a = t0 + g['start_ms'] / 1000.0
        b = a + g['ms'] / 1000.0
        if a < t_to and b > t_from:
            gap = max(gap, g['ms'])
            stalled += min(b, t_to) - max(a, t_from)
    return rate, gap, zero * iv * 1000.0, 100.0 * stalled / (t_to - t_from)


def between(series, t0, iv, t_from, t_to):
    first = max(0, int((t_from - t0) / iv))
    last = min(len(series), int((t_to - t0) / iv) + 1)
    return sum(series[first:last])


def one_run(args):
    with ImportLab(TAG, args.stormgate, args.stormctl) as lab:
        check = lab.check
        d = lab.start_daemon(sessions={'capacity': 65536})
        bulk = os.path.join(lab.work, 'bulk.csv')
        write_bulk(bulk, args.identities)
        creds0 = json.loads(d.ctl('--json', 'credentials', 'count').stdout)['count']
        out_path = os.path.join(lab.work, 'hsload.out')
        load1 = os.getloadavg()[0]
        with open(out_path, 'w', encoding='utf-8') as out:
            p = lab.spawn(lab.ns_dev, [
                args.hsload, '--connect', f'{e2e.GW4}:{DTLS_PORT}', '--source', e2e.DEV4,
                '--credentials', os.path.join(lab.work, 'devices.csv'),
                '--clients', str(args.clients), '--max', '10000000', '--timeout-ms', '5000',
                '--duration', str(int(args.before + args.after) + 600)], stdout=out,
                stderr=subprocess.STDOUT)
        time.sleep(args.before)
        t_imp0 = time.monotonic()
        r = d.ctl('--json', 'credentials', 'import', bulk, '--no-progress', timeout=600)
        t_imp1 = time.monotonic()
        time.sleep(args.after)
        t_end = time.monotonic()
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
        st = json.loads(d.ctl('--json', 'stats').stdout or '{}')
        with open(out_path, encoding='utf-8') as f:
            lines = f.read().splitlines()
        s = json.loads(lines[-1]) if lines and lines[-1].startswith('{') else None
        imp = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else {}
        check('the import committed every identity',
              r.returncode == 0 and imp.get('imported') == args.identities
              and imp.get('count') == creds0 + args.identities, f'{r.stdout}\n{r.stderr}')
        if not check('the load ran and reported', s is not None and p.returncode == 0,
                     '\n'.join(lines[-5:])):
            return
        t0 = s['t0_ns'] / 1e9
        res = {'identities': args.identities, 'clients': args.clients,
               'loadavg_start': round(load1, 2), 'loadavg_end': round(os.getloadavg()[0], 2),
               'import_s': round(t_imp1 - t_imp0, 3),
               'import_daemon_s': imp.get('seconds'),
               'p99_ms': s['latency_us']['p99'] / 1000.0,
               'completed': s['completed'], 'failed': s['failed'], 'timeouts': s['timeouts']}
        for name, a, b in (('before', t0 + WARMUP_S, t_imp0), ('during', t_imp0, t_imp1),
                           ('after', t_imp1, t_end)):
            rate, gap, zero, stalled = window(s, a, b)
            res[f'rate_{name}'] = round(rate, 1) if rate is not None else None
            res[f'stall_{name}_ms'] = round(gap, 1)
            res[f'zero_{name}_ms'] = round(zero)
            res[f'stalled_{name}_pct'] = round(stalled, 1)
        # The commit: the gap around the moment stormctl had its answer (within 50 ms).
        commit = window(s, t_imp1 - 0.05, t_imp1 + 0.05)
        res['stall_at_commit_ms'] = round(commit[1], 1)
        res['during_vs_before'] = round(res['rate_during'] / res['rate_before'], 3) \
            if res['rate_before'] and res['rate_during'] is not None else None
        iv = s['interval_ms'] / 1000.0
        # The series itself, to look at: completions per interval, the import's span.
        res['series_ok'] = s['series']['ok']
        res['import_ms'] = [round((t_imp0 - t0) * 1000), round((t_imp1 - t0) * 1000)]
        res['gaps'] = s['gaps']
        # Where datagrams went missing, if they did: the daemon's drops, its control
        # plane's, its handshake engine's counters (retransmissions, timeouts).
        res['daemon'] = {'drops': {k: v for k, v in st.get('drops', {}).items() if v},
                         'control_plane': st.get('control_plane'),
                         'handshakes': {k: v for k, v in
                                        st.get('handshakes', {}).get('counters', {}).items()
                                        if v}}
        res['failed_during'] = between(s['series']['fail'], t0, iv, t_imp0, t_imp1)
        res['timeouts_during'] = between(s['series']['timeout'], t0, iv, t_imp0, t_imp1)
        check('handshakes completed before the import', (res['rate_before'] or 0) > 0,
              json.dumps(res))
        check('no handshake failed before the import (the load is sound)',
              between(s['series']['fail'], t0, iv, t0, t_imp0) == 0, json.dumps(res))
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(res, f)
        sys.stderr.write('import_storm: ' + json.dumps({k: res[k] for k in METRICS}) + '\n')


def _stop(signo, frame):
    raise SystemExit(f'import_storm: killed by signal {signo}')


def run_child(cmd, timeout):
    """One run in a child process; a SIGTERM or Ctrl-C here passes on to it (its lab
    cleans up on SIGTERM), and so does the timeout."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except BaseException:
        p.terminate()
        try:
            p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def many_runs(args):
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _stop)
    runs, failed = [], 0
    with tempfile.TemporaryDirectory(prefix='import-storm-') as tmp:
        for i in range(args.runs):
            path = os.path.join(tmp, f'run{i}.json')
            cmd = [sys.executable, os.path.abspath(__file__), args.stormgate, args.stormctl,
                   args.hsload, '--identities', str(args.identities), '--clients',
                   str(args.clients), '--before', str(args.before), '--after', str(args.after),
                   '--one', '--json', path]
            r = run_child(cmd, args.before + args.after + 900)
            if r.returncode != 0 or not os.path.exists(path):
                failed += 1
                sys.stderr.write(f'import_storm: run {i + 1} failed:\n{r.stdout[-2000:]}'
                                 f'{r.stderr[-2000:]}\n')
                continue
            with open(path, encoding='utf-8') as f:
                runs.append(json.load(f))
            brief = {k: runs[-1].get(k) for k in ('loadavg_start', 'completed') + METRICS}
            sys.stderr.write(f'import_storm: run {i + 1}/{args.runs}: {json.dumps(brief)}\n')
    med = {k: statistics.median(x[k] for x in runs if x[k] is not None)
           for k in METRICS if any(x[k] is not None for x in runs)}
    report = {'runs': runs, 'median': med, 'failed_runs': failed}
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=1)
    print(f'1..1\n{"ok" if runs and not failed else "not ok"} 1 - {len(runs)} of {args.runs} '
          'runs measured')
    for k in METRICS:
        if k in med:
            print(f'# median {k}: {med[k]}  (runs: {", ".join(str(x[k]) for x in runs)})')
    return 0 if runs and not failed else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('stormgate')
    ap.add_argument('stormctl')
    ap.add_argument('hsload')
    ap.add_argument('--identities', type=int, default=1000000)
    ap.add_argument('--clients', type=int, default=128)
    ap.add_argument('--before', type=float, default=5.0)
    ap.add_argument('--after', type=float, default=5.0)
    ap.add_argument('--runs', type=int, default=1)
    ap.add_argument('--json')
    ap.add_argument('--one', action='store_true', help=argparse.SUPPRESS)  # a child run
    args = ap.parse_args()
    if not (1 <= args.identities <= 10000000 and 1 <= args.runs <= 50
            and 2 <= args.before <= 300 and 1 <= args.after <= 300
            and 1 <= args.clients <= 1024):
        ap.error('--identities 1..10M, --runs 1..50, --before 2..300 s, --after 1..300 s, '
                 '--clients 1..1024')
    if os.geteuid() != 0:
        sys.exit('import_storm: needs root (network namespaces, AF_PACKET)')
    args.stormgate, args.stormctl, args.hsload = (
        os.path.abspath(x) for x in (args.stormgate, args.stormctl, args.hsload))
    if args.one and args.json:
        one_run(args)
    sys.exit(many_runs(args))


if __name__ == '__main__':
    main()
