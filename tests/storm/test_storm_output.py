#!/usr/bin/env python3
"""bench/storm's own parts without a fleet (suite 'unit', no root), as TAP:
the figures of report.py on fleet reports (one stormgate-fleet wrote, one
written in its shape with round numbers) and on series written as rows here (busy rate, goodput ratio, re-key profile, recovery after a restart);
SCENARIO.json has the issue's keys; the plot is a PNG of the promised size;
the daemon's config for every link and family is one `stormgate --check-config`
accepts, with the values asked for; the fleet's options; the series file read
while it grows; the progress line; the CPU time by thread (cputime.py); and
bench/storm.sh's usage errors.

  test_storm_output.py STORMGATE
"""
import json
import os
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tools'))
from sgtest import ROOT, daemon, proc  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, 'bench', 'storm'))
import cputime  # noqa: E402
import fleetrun  # noqa: E402
import plot  # noqa: E402
import report  # noqa: E402
import stormlab  # noqa: E402
import table  # noqa: E402

STORMGATE = sys.argv[1]
T = Tap()


def pts(*rows, key='handshakes_per_s'):
    """A series from rows of (connected, value of key), t from 1."""
    return [{'t': i, 'connected': c, key: v} for i, (c, v) in enumerate(rows, 1)]


def check_figures(rec):
    T.check('busy rate of the recorded cold storm: 2000 handshakes in seconds 2..6 = 400/s',
            report.busy_rate(rec['series'], 2000) == 400.0, report.busy_window(rec['series'], 2000))
    rows = [
        # name, series, devices, expected busy rate
        ('never all connected: to the end', pts((0, 0), (5, 5), (9, 4), (9, 0)), 10, 9 / 3),
        ('no handshake at all', pts((0, 0), (0, 0)), 10, 0.0),
        ('all in the first second', pts((10, 10), (10, 0)), 10, 10.0),
        ('the last 1 % in back-off left out', pts((50, 50), (99, 49), (99, 0), (100, 1)), 100,
         99 / 2),
    ]
    for name, series, devices, want in rows:
        got = report.busy_rate(series, devices)
        T.check(f'busy rate, {name}: {want:.2f}', abs(got - want) < 1e-9, got)
    got = report.busy_rate(rec['series'], 2000, rec['seconds_to_all_connected'])
    T.check('... with the fleet\'s seconds_to_all_connected (5.4): 2000 from the start of '
            'second 2 (1.0) = 454.5/s', abs(got - 2000 / 4.4) < 1e-9, got)
    got = report.busy_rate(pts((0, 0), (5, 5), (9, 4), (9, 0)), 10, 2.5)
    T.check('... a seconds_to_all_connected is not used while devices are missing',
            abs(got - 3.0) < 1e-9, got)
    for rate, cap, want in ((900, 1000, 0.9), (1234, 1000, 1.234), (5, 0, None), (5, None, None)):
        T.check(f'goodput_ratio({rate}, {cap}) == {want}', report.goodput_ratio(rate, cap) == want,
                report.goodput_ratio(rate, cap))
    for rep, cap, want in (({'devices': 2000, 'retransmissions': 0}, 10000.0,
                             'use at least 30,000'),
                           ({'devices': 50000, 'retransmissions': 12}, 10000.0,
                            '12 retransmissions'),
                           ({'devices': 50000, 'retransmissions': 0}, 10000.0, None)):
        got = report.capacity_caveat(rep, cap)
        T.check(f'capacity caveat for {rep}: {want}',
                got is None if want is None else want in (got or ''), got)
    flat = pts(*[(100, 10)] * 20)
    spiky = pts(*[(100, 100 if i % 10 == 0 else 0) for i in range(20)])
    pf, ps = report.rekey_profile(flat, 1), report.rekey_profile(spiky, 1)
    T.check('re-key profile: a flat load has peak/mean 1 and cv 0, over all but the last second',
            pf['peak_to_mean'] == 1.0 and pf['cv'] == 0.0 and pf['window_s'] == 19, pf)
    T.check('re-key profile: a fleet re-keying together has peak/mean 9.5 (2 of 19 s)',
            ps['peak_to_mean'] == 9.5 and ps['cv'] > 2, ps)
    T.check('re-key profile: too short a window says null, not 0',
            report.rekey_profile(flat, 19)['peak_to_mean'] is None, report.rekey_profile(flat, 19))
    dip = pts(*[(10, 50)] * 5 + [(0, 0), (4, 10), (10, 40), (10, 48), (10, 50)],
              key='answers_per_s')
    r = report.recovery(dip, 5, 10)
    T.check('recovery: goodput 50/s before the kill at 5 s, back to >= 95 % with all '
            'connected at second 9: 4 s, lowest 0', r == {'goodput_before_per_s': 50.0,
                                                          'seconds_to_full_goodput': 4,
                                                          'lowest_goodput_per_s': 0}, r)
    never = report.recovery(dip[:8], 5, 10)
    T.check('recovery: never back in the run is null', never['seconds_to_full_goodput'] is None,
            never)
    hs = pts(*[(10, 10)] * 8, key='handshakes_completed')
    hs[-2]['handshakes_completed'] = hs[-1]['handshakes_completed'] = 13
    fig = report.restart_figures(hs, 5, {'requests_lost': 0, 'rehandshakes': 3, 'nonce_reuse': 0},
                                 {'handshakes': {'installed': 3, 'completed_resumed': 1}})
    T.check('restart figures: the new daemon\'s installed (3), the fleet\'s handshakes after '
            'second 5 (13 - 10), the fleet\'s lost requests, rehandshakes and nonce reuse',
            fig == {'handshakes_after_restart': 3, 'fleet_handshakes_after_restart': 3,
                    'requests_lost': 0, 'rehandshakes': 3, 'nonce_reuse': 0}, fig)
    fig = report.restart_figures(hs, 5, {}, None)
    T.check('restart figures: no daemon stats (the baseline), no fleet keys: null',
            fig['handshakes_after_restart'] is None and fig['requests_lost'] is None
            and fig['fleet_handshakes_after_restart'] == 3, fig)


def check_compose(rec):
    doc = report.compose('overload', 'stormgate', rec, capacity_handshakes_per_s=400.0,
                         goodput_ratio=0.93)
    T.check('SCENARIO.json: the fleet report with scenario, server and the overload keys',
            not report.missing_keys(doc) and doc['scenario'] == 'overload'
            and doc['goodput_ratio'] == 0.93 and doc['series'] == rec['series']
            and doc['connected'] == 2000, report.missing_keys(doc))
    partial = {k: v for k, v in rec.items() if k not in ('rehandshakes', 'rtt_p99_ms')}
    doc = report.compose('cold', 'openssl', partial)
    T.check('a key the fleet did not report is there as null', doc['rehandshakes'] is None
            and doc['rtt_p99_ms'] is None and not report.missing_keys(doc), doc.keys())
    series = [dict(p) for p in rec['series'][:3]]
    report.attach_samples(series, {2: {'admission_refused': 7}})
    T.check('daemon samples land on the second they were taken in',
            'daemon' not in series[0] and series[1]['daemon'] == {'admission_refused': 7}, series)


def check_table(rec):
    doc = report.compose('expiry', 'stormgate', rec, options={'kx': 'psk', 'link': 'memif'},
                         date='2026-12-07T01:00:00+00:00',
                         rekey={'jitter_0': {'peak_to_mean': 8.79},
                                'jitter_50': {'peak_to_mean': 1.46}},
                         runs={'jitter_0': {**rec, 'nonce_reuse': 1}, 'jitter_50': rec})
    r = table.row(doc, 'alone')
    cells = [c.strip() for c in r.strip('|').split('|')]
    T.check('table row: as many cells as the header, the figures in their columns',
            len(cells) == table.HEADER.count('|') - 1 and cells[:7] == [
                'expiry', '2,000', 'psk', 'stormgate', '2,000', '5.40', '430']
            and cells[8] == 'peak/mean 8.79 (jitter_0) / 1.46 (jitter_50)'
            and cells[12] == '2026-12-07, alone', cells)
    T.check('table row: nonce reuse is the worst of every run, not the headline run\'s',
            cells[11] == '1' and cells[10] == '0', cells)
    for restart, want in (
            ({'seconds_to_full_goodput': 14, 'sessions_survived': False},
             'full goodput after 14 s; sessions survived: no'),
            ({'kind': 'kill9', 'seconds_to_full_goodput': 3, 'sessions_survived': True,
              'handshakes_after_restart': 0, 'requests_lost': 0},
             'kill9: full goodput after 3 s; sessions survived: yes; 0 handshakes after, '
             '0 requests lost')):
        doc = report.compose('restart', 'stormgate', rec, restart=restart)
        T.check(f'table row of a restart: {want}', table.figure(doc) == want, table.figure(doc))


def check_recorded_fleet():
    """A report stormgate-fleet wrote (2,000 devices at once, 8 s, recorded
    2026-12-07): the storm reads the fleet's real keys, not only rows written here."""
    with open(os.path.join(HERE, 'data', 'fleet-report-cold-2000.json'), encoding='utf-8') as f:
        rep = json.load(f)
    doc = report.compose('cold', 'stormgate', rep)
    T.check('the fleet\'s own report has every key the issue asks of SCENARIO.json',
            not report.missing_keys(rep | {'scenario': 'cold', 'server': 'stormgate'})
            and not report.missing_keys(doc), report.missing_keys(rep))
    want = rep['devices'] / rep['seconds_to_all_connected']
    got = report.busy_rate(rep['series'], rep['devices'], rep['seconds_to_all_connected'])
    T.check(f'busy rate of the recorded storm: its 2,000 devices over its '
            f'{rep["seconds_to_all_connected"]} s to all connected', abs(got - want) < 1e-6,
            got)
    T.check('its series has the per-second keys the plot and the figures read',
            all(k in p for p in rep['series'] for k in (
                't', 'connected', 'handshakes_per_s', 'answers_per_s', 'requests_per_s',
                'inflight', 'retransmissions')), rep['series'][:2])


def png_size(path):
    with open(path, 'rb') as f:
        head = f.read(24)
    if head[:8] != b'\x89PNG\r\n\x1a\n':
        return None
    return struct.unpack('>II', head[16:24])


def check_plot(rec, work):
    png = os.path.join(work, 'cold.png')
    series = [dict(p) for p in rec['series']]
    report.attach_samples(series, {t: {'admission_refused': t * 3} for t in range(1, 13)})
    panels = [('cold', rec['series'], []), ('with samples', series, [(6, 'kill -9')])]
    rc = plot.draw('cold: 2000 devices', panels, png)
    if rc == -2:
        T.skip('the plot is a PNG', 'no gnuplot (deploy/bootstrap.sh installs gnuplot-nox)')
        return
    T.check('the plot is a PNG, 1000 px wide, one panel of 320 px per run',
            png_size(png) == (1000, 2 * plot.PANEL_HEIGHT + 40), png_size(png))
    s = plot.script('t', panels, png)
    T.check('the script draws handshakes/s, goodput and connected; admission only with samples',
            s.count('title "handshakes/s"') == 2 and s.count('axes x1y2') == 2
            and s.count("admission refused/s") == 1 and 'set arrow from 6' in s, s[-1500:])


def check_configs(work):
    d = '/run/stormgate-storm-x'
    memif = (stormlab.memif_devargs(0, 'server', d, 'dev.sock'),
             stormlab.memif_devargs(1, 'server', d, 'app.sock'))
    feats = stormlab.features(STORMGATE, work)
    T.check('features(): the daemon is asked, not guessed (gateway a bool, pool a key or None)',
            isinstance(feats['gateway'], bool) and feats['pool'] in (None, stormlab.POOL_KEY),
            feats)
    policy = {'cookie_mode': 'always', 'handshake_rate': 1234, 'handshake_source_prefix4': 32,
              'key_lifetime': 20, 'key_lifetime_jitter': 50}
    # The daemon's own features, and none (a daemon before part pool): both accepted.
    for fs in ([feats, {'gateway': False, 'pool': None}] if any(feats.values()) else [feats]):
        for ipv6 in (False, True):
            for devices in (2000, 300000):
                check_config(work, memif, fs, policy, ipv6, devices)
    cfg = stormlab.gateway_config('sgstt', os.path.join(work, 's.sock'),
                                  os.path.join(work, 'creds'), memif, 2000, policy, feats,
                                  handshake={'threads': 2})
    path = daemon.write_config(os.path.join(work, 'h.yaml'), 'h', cfg).path
    r = proc.run([STORMGATE, '--check-config', path])
    T.check('--hs-threads 2: the daemon accepts handshake.threads 2 in the storm\'s config',
            r.returncode == 0 and cfg['handshake'] == {'threads': 2}, r.stdout + r.stderr)


def check_config(work, memif, feats, policy, ipv6, devices):
    cfg = stormlab.gateway_config('sgstt', os.path.join(work, 's.sock'),
                                  os.path.join(work, 'creds'), memif, devices, policy, feats, ipv6)
    path = daemon.write_config(os.path.join(work, 'g.yaml'), 'g', cfg).path
    r = proc.run([STORMGATE, '--check-config', path])
    out = r.stdout
    gw = '198.18.0.1/24' if not ipv6 else 'fd00:5347::1/112'
    what = (f'{"IPv6" if ipv6 else "IPv4"}, {devices} devices, gateway {feats["gateway"]}, '
            f'pool {feats["pool"]}')
    T.check(f'the daemon accepts the storm\'s config ({what}): memif ports, the policy, '
            'table >= devices', r.returncode == 0 and 'net_memif0,role=server' in out
            and gw in out and 'cookies always' in out and '1234 handshakes/s' in out
            and 'key lifetime 20 s (-50 %)' in out and cfg['sessions']['capacity'] >= devices,
            out + r.stderr)
    if not feats['pool']:
        ports = len(cfg['ports'][1]['addresses']) * stormlab.SOURCE_PORTS
        T.check(f'... without a source pool, app0 has addresses for the table ({what})',
                ports >= min(cfg['sessions']['capacity'], 8 * stormlab.SOURCE_PORTS), ports)


def check_cputime(work):
    tick = cputime.TICK
    rows = [
        # a /proc/PID/task/TID/stat line, the (name, seconds) it gives
        (f'412 (sg-hs-0) S 1 412 412 0 -1 4194624 50 0 0 0 {3 * tick} {tick} 0 0 20 0 4 0',
         ('sg-hs-0', 4.0)),
        (f'77 (rte-worker-1) R 1 77 77 0 -1 0 0 0 0 0 {tick // 2} 0 0 0 20 0 4 0',
         ('rte-worker-1', (tick // 2) / tick)),
        (f'9 (a (b) c) S 1 9 9 0 -1 0 0 0 0 0 0 {2 * tick} 0 0 20 0 1 0', ('a (b) c', 2.0)),
    ]
    for line, want in rows:
        got = cputime.parse_stat(line)
        T.check(f'cputime: the stat line of thread {want[0]!r} gives {want[1]} s', got == want,
                got)
    spent = cputime.delta({'sg-hs-0': 4.0, 'sg-hs-1': 3.5, 'stormgate': 2.0},
                          {'sg-hs-0': 1.0, 'stormgate': 1.5, 'gone': 0.5})
    T.check('cputime: delta by name, threads that came or went too',
            spent == {'gone': -0.5, 'sg-hs-0': 3.0, 'sg-hs-1': 3.5, 'stormgate': 0.5}, spent)
    T.check('cputime: 6.5 s of sg-hs-* threads for 1000 handshakes = 6500 us each; all: 6500 '
            '(with the -0.5 of a thread gone); none without handshakes',
            cputime.per_handshake_us(spent, 1000, 'sg-hs-') == 6500.0
            and cputime.per_handshake_us(spent, 1000) == 6500.0
            and cputime.per_handshake_us(spent, 0) is None, spent)
    before, t = cputime.sample(os.getpid()), os.times()
    while os.times().user + os.times().system < t.user + t.system + 0.25 \
            and os.times().elapsed < t.elapsed + 20:
        pass
    spent = cputime.delta(cputime.sample(os.getpid()), before)
    T.check('cputime: this process\'s threads, 0.25 s of CPU later, used 0.25 s (to the tick)',
            abs(sum(spent.values()) - 0.25) <= 0.03, spent)
    T.check('cputime: a process that is gone has no threads',
            cputime.sample(os.getpid(), root=work) == {})


def check_fleet_side(work):
    opts = stormlab.fleet_options({'devices': 2000, 'ramp': 0, 'rtt': None, 'ipv6': True,
                                   'cid': False, 'suite': ['A', 'B'], 'req_rate': 0.2})
    T.check('fleet options: --key value, flags bare, None/False left out, lists repeated',
            opts == ['--devices', '2000', '--ramp', '0', '--ipv6', '--suite', 'A', '--suite', 'B',
                     '--req-rate', '0.2'], opts)
    path = os.path.join(work, 'x.series.jsonl')
    s = fleetrun.Series(path)
    T.check('series: no file yet is no points', s.poll() == [])
    with open(path, 'w') as f:
        f.write('{"t": 1, "connected": 3}\n{"t": 2, "conn')
    first = list(s.poll())
    with open(path, 'a') as f:
        f.write('ected": 7}\n')
    T.check('series: a half-written line waits for its end',
            first == [{'t': 1, 'connected': 3}] and s.poll()[-1] == {'t': 2, 'connected': 7},
            s.points)
    line = fleetrun.progress_line('cold stormgate', 2000, {'t': 3, 'connected': 1200,
                                                           'handshakes_per_s': 410},
                                  {'sessions': 1200, 'in_flight': 64, 'admission_admitted': 1264,
                                   'admission_refused': 9})
    T.check('progress line: the fleet\'s second and the daemon\'s admission counters',
            '3s connected 1200/2000 hs/s 410' in line and 'refused 9' in line, line)


def check_cli(work):
    sh = os.path.join(ROOT, 'bench', 'storm.sh')
    for args, why in ((['nosuch'], 'an unknown scenario'),
                      (['expiry', '--jitter', '80'], 'a jitter over 50 %'),
                      (['cold', '--devices', '0'], 'no devices'),
                      (['cold', '--hs-threads', '0'], 'no handshake engine'),
                      (['cold', '--hs-threads', '2', '--server', 'openssl'],
                       'handshake engines for the baseline'),
                      (['expiry', '--server', 'openssl'], 'expiry on the baseline')):
        r = proc.run([sh] + args, timeout=30)
        T.check(f'storm.sh refuses {why}: exit 2 with a message', r.returncode == 2
                and r.stderr.strip(), r.stdout + r.stderr)
    r = proc.run([sh, 'cold'], timeout=30, env={**os.environ,
                                                'SG_BUILD_DIR': os.path.join(work, 'none')})
    want = 2 if os.geteuid() == 0 else 1
    T.check('storm.sh without a build (or without root) stops before making anything',
            r.returncode == want and ('not built' in r.stderr or 'root' in r.stderr), r.stderr)


def main():
    with open(os.path.join(HERE, 'data', 'fleet-report-cold.json'), encoding='utf-8') as f:
        rec = json.load(f)
    with tempfile.TemporaryDirectory(prefix='sgstorm-unit-') as work:
        check_figures(rec)
        check_compose(rec)
        check_table(rec)
        check_recorded_fleet()
        check_plot(rec, work)
        check_configs(work)
        check_fleet_side(work)
        check_cputime(work)
        check_cli(work)
    sys.exit(T.finish())


if __name__ == '__main__':
    main()
