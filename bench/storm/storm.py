#!/usr/bin/env python3
"""The storm orchestrator behind bench/storm.sh (docs/storms.md): one scenario of
stormgate-fleet against stormgate (or the OpenSSL baseline), from the links to
DIR/SCENARIO.json and DIR/SCENARIO.png, everything it made removed on every
exit.

    storm.py SCENARIO --build DIR [--devices N] [--server stormgate|openssl]
             [--out DIR] [--kx psk|x25519|p256] [--rtt MS|MIN-MAX] [--duration S]
             [--link memif|af_packet] [--hs-threads N] [--keep] ...
             (--help lists them all)

One thread; as root (namespaces, veths, AF_PACKET, DPDK). TAP on stdout (the
lab's checks: servers up, credentials imported, misdelivered and nonce_reuse 0
in every run), the live progress line on stderr; exit 0 when every check held,
1 otherwise, 2 on a usage error.
"""
import argparse
import datetime
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'tools'))
sys.path.insert(0, HERE)
import plot  # noqa: E402
import scenarios  # noqa: E402
import stormlab  # noqa: E402

# The defaults, sized for a shared 2-core machine (docs/storms.md, "Defaults").
DEFAULTS = {
    'cold': {'duration': 30, 'ramp': 0, 'req_rate': 0.2},
    'steady': {'duration': 30, 'ramp': 5},
    'overload': {'duration': 20, 'ramp': 0, 'req_rate': 0.2},
    'expiry': {'duration': 60, 'ramp': 0, 'req_rate': 0.2},
    'restart': {'duration': 40, 'ramp': 0, 'req_rate': 1.0, 'req_timeout': 500},
}
BINARIES = {'stormgate': 'control/stormgate', 'stormctl': 'control/stormctl',
            'fleet': 'bench/fleet/stormgate-fleet',
            'baseline': 'bench/baseline_server/stormgate-dtls-baseline'}


def parse(argv):
    p = argparse.ArgumentParser(prog='bench/storm.sh', description='One storm scenario '
                                'against stormgate or the OpenSSL baseline (docs/storms.md).')
    p.add_argument('scenario', choices=sorted(scenarios.SCENARIOS))
    p.add_argument('--build', required=True, help='the meson build directory')
    p.add_argument('--devices', type=int, default=2000)
    p.add_argument('--server', choices=('stormgate', 'openssl'), default='stormgate')
    p.add_argument('--out', default='storm-results', help='where SCENARIO.json/.png go')
    p.add_argument('--kx', choices=('psk', 'x25519', 'p256'), default='psk')
    p.add_argument('--rtt', default=None, help='per-device round trip: MS or MIN-MAX')
    p.add_argument('--duration', type=int, default=None, help='seconds of each fleet run')
    p.add_argument('--ramp', type=int, default=None, help='seconds over which devices start')
    p.add_argument('--link', choices=('memif', 'af_packet'), default=None,
                   help='memif (default) or af_packet (the kernel on the path)')
    p.add_argument('--ipv6', action='store_true')
    p.add_argument('--rate', type=int, default=500, help='steady: requests/s in aggregate')
    p.add_argument('--req-rate', type=float, default=None,
                   help='requests per device per second (cold, overload, expiry: 0.2; '
                   'restart: 1, so every device has a request on its way when the daemon stops)')
    p.add_argument('--hs-threads', type=int, default=None,
                   help='handshake.threads of the daemon: handshake engines, one thread each '
                   '(default: the daemon\'s, 1); cold reports the CPU time they spent per '
                   'handshake')
    p.add_argument('--admission', type=int, default=0,
                   help='policy.handshake_rate of the daemon (cold, steady, expiry, restart; '
                   '0: none; overload sets its own)')
    p.add_argument('--req-timeout', type=int, default=None,
                   help='the fleet\'s CoAP ACK timeout, ms (restart: 500: a request is given up '
                   'after its 4 retransmissions, 15.5-23 s, so a restart that loses the sessions '
                   'shows within the run, while one that keeps them loses no request; the '
                   'fleet\'s default 2000 takes 62-93 s, RFC 7252 section 4.2)')
    p.add_argument('--factor', type=float, default=10.0, help='overload: arrivals x capacity')
    p.add_argument('--cap-inflight', type=int, default=None,
                   help='overload: handshakes in flight while capacity is measured '
                   '(default: the fleet\'s, 4096)')
    p.add_argument('--lifetime', type=int, default=20, help='expiry: key lifetime, s (>= 10)')
    p.add_argument('--jitter', type=int, default=50, help='expiry: the jittered run\'s %%')
    p.add_argument('--restart-at', type=int, default=15, help='restart: stop the daemon at second')
    p.add_argument('--restart-kind', choices=('kill9', 'sigterm', 'shutdown'), default='kill9',
                   help='restart: how the daemon stops (kill9: a crash; sigterm, shutdown: '
                   'clean stops that save exact state)')
    p.add_argument('--baseline-threads', type=int, default=2,
                   help='openssl: the baseline\'s threads (2: the cores stormgate has here)')
    p.add_argument('--seed', default='stormgate-fleet')
    p.add_argument('--fleet-lcores', default='1', help='EAL -l of the fleet')
    p.add_argument('--tag', default='sgstorm' + os.environ.get('SG_E2E_TAG_SUFFIX', ''))
    p.add_argument('--keep', action='store_true', help='keep the work directory (logs, '
                   'configs, the fleet\'s raw reports)')
    a = p.parse_args(argv)
    for k, v in {'link': 'memif', **DEFAULTS[a.scenario]}.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.devices < 1 or a.duration < 1 or not 10 <= a.lifetime or not 0 <= a.jitter <= 50:
        p.error('--devices and --duration at least 1, --lifetime at least 10, '
                '--jitter 0..50')
    if a.hs_threads is not None and not 1 <= a.hs_threads <= 64:
        p.error('--hs-threads 1..64 (handshake.threads)')
    if a.hs_threads is not None and a.server == 'openssl':
        p.error('--hs-threads: the OpenSSL baseline has --baseline-threads')
    if a.scenario == 'expiry' and a.server == 'openssl':
        p.error('expiry: the OpenSSL baseline has no key lifetime (use --server stormgate)')
    if a.server == 'openssl' and a.link == 'memif':
        a.link = 'af_packet'  # the baseline is on a kernel socket
    return a


def binaries(build, server):
    bins = {k: os.path.join(build, v) for k, v in BINARIES.items()}
    need = ['stormgate', 'stormctl', 'fleet'] + (['baseline'] if server == 'openssl' else [])
    missing = [bins[k] for k in need if not os.access(bins[k], os.X_OK)]
    return bins, missing


def write_outputs(a, doc, panels):
    """DIR/SCENARIO.json and DIR/SCENARIO.png; their paths."""
    os.makedirs(a.out, exist_ok=True)
    js = os.path.join(a.out, f'{a.scenario}.json')
    with open(js, 'w', encoding='utf-8') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    png = os.path.join(a.out, f'{a.scenario}.png')
    title = (f'{a.scenario}: {a.devices} devices, {a.server}, {a.kx}, {a.link}'
             + (f', rtt {a.rtt} ms' if a.rtt else ''))
    if plot.draw(title, panels, png) != 0:
        png = None
    return js, png


def summary(doc):
    keys = ('devices', 'connected', 'handshakes_completed', 'handshakes_failed',
            'seconds_to_all_connected', 'peak_handshakes_per_s', 'requests_answered',
            'rtt_p99_ms', 'misdelivered', 'nonce_reuse', 'rehandshakes', 'requests_lost',
            'capacity_handshakes_per_s', 'goodput_ratio')
    return ', '.join(f'{k} {doc[k]}' for k in keys if doc.get(k) is not None)


def main(argv):
    a = parse(argv)
    if os.geteuid() != 0:
        sys.stderr.write('storm: run as root (namespaces, veths, AF_PACKET, DPDK)\n')
        return 1
    bins, missing = binaries(a.build, a.server)
    if missing:
        sys.stderr.write(f'storm: not built: {", ".join(missing)} (ninja -C {a.build})\n')
        return 2
    if a.keep:
        os.environ['SG_E2E_KEEP'] = '1'
    with stormlab.StormLab(a.tag, bins, a.link, a.server) as lab:
        feats = stormlab.features(bins['stormgate'], lab.work) if a.server == 'stormgate' else {}
        s = scenarios.Storm(lab, a, feats)
        doc, panels = scenarios.SCENARIOS[a.scenario](s)
        doc['options'] = {k: getattr(a, k) for k in (
            'devices', 'kx', 'rtt', 'link', 'ipv6', 'duration', 'ramp', 'seed', 'admission',
            'req_rate', 'req_timeout', 'rate', 'restart_at', 'restart_kind', 'hs_threads')}
        doc['daemon_features'] = feats
        doc['backend_mode'] = ('udp' if a.server == 'stormgate'
                               else stormlab.baseline_backend_mode(a.devices))
        doc['date'] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
        doc['cpus'] = os.cpu_count()
        js, png = write_outputs(a, doc, panels)
        missing = scenarios.report.missing_keys(doc)
        lab.check(f'{a.scenario}.json has the issue\'s keys', not missing, missing)
        sys.stderr.write(f'storm: {a.scenario} ({a.server}): {summary(doc)}\n'
                         f'storm: wrote {js}' + (f' and {png}' if png else
                                                 ' (no gnuplot: no plot)') + '\n')
    return 0  # not reached: the lab exits with its TAP status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
