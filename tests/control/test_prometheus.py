#!/usr/bin/env python3
"""Debian's Prometheus scrapes the daemon during a run (suite 'integration', root;
tag sge2e15): docs/control.md, "Metrics over HTTP".

    test_prometheus.py STORMGATE STORMCTL FLEET B_SANITIZE

A daemon in the fleet's lab (memif links to stormgate-fleet) serves /metrics on a free
loopback port; `prometheus` runs with deploy/prometheus.yml (its target moved to that
port; storage in the lab's work directory, its web API on another free loopback port).
During a fleet run of 300 devices (one CoAP request a second each), checked through
Prometheus's HTTP API (/api/v1/query):
  - the target is up and stormgate_up is 1;
  - the completed-handshake counter rises by at least 300 and its rate is above zero;
    the sessions gauge reaches 300; the rate of records opened moves;
  - every PromQL expression of deploy/grafana-storm-dashboard.json evaluates, names
    only families a real scrape of the daemon has, and the handshake panels have data.
Bounded: the whole script stays under 60 s; Prometheus, its storage and config go
with the lab's clean-up, also on failure. SKIP only without the prometheus binary
(deploy/bootstrap.sh installs it).
"""
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import ROOT, e2e, proc, sanitizer  # noqa: E402
from sgtest.fleet import FleetLab  # noqa: E402

BUDGET_S = 60
DEVICES = 300
RATE_WINDOW = '10s'  # what Grafana's $__rate_interval becomes here (4 scrapes at 1 s)
KEYWORDS = {'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and',
            'or', 'unless', 'offset'}


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    """(status, body text); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors='replace')
    except (OSError, urllib.error.URLError):
        return 0, ''


class Prom:
    """Prometheus's HTTP API on port."""

    def __init__(self, port):
        self.base = f'http://127.0.0.1:{port}'

    def query(self, expr):
        """(status, result list) of an instant query; status 'error' with the message."""
        st, body = http_get(f'{self.base}/api/v1/query?'
                            + urllib.parse.urlencode({'query': expr}))
        try:
            j = json.loads(body)
        except ValueError:
            return 'error', body[:300]
        if j.get('status') != 'success':
            return 'error', j.get('error', body[:300])
        return 'success', j['data']['result']

    def value(self, expr):
        """The one value of expr now, or None (no data, an error)."""
        st, res = self.query(expr)
        if st != 'success' or not res:
            return None
        return float(res[0]['value'][1])


def families(text):
    """The series names a scrape's families give: a family's name, and for a histogram
    its _bucket, _count and _sum series."""
    out = set()
    for l in text.splitlines():
        if l.startswith('# TYPE '):
            name, kind = l.split()[2:4]
            out |= {name} | ({name + s for s in ('_bucket', '_count', '_sum')}
                             if kind == 'histogram' else set())
    return out


def metric_names(expr):
    """The metric names a PromQL expression selects: what is left once strings, label
    matchers, groupings, ranges, functions and keywords are taken out."""
    e = re.sub(r'"(\\.|[^"\\])*"', '', expr)
    e = re.sub(r'\{[^}]*\}', '', e)
    e = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', '', e)
    e = re.sub(r'\[[^\]]*\]', '', e)
    names = set()
    for m in re.finditer(r'[a-zA-Z_:][a-zA-Z0-9_:]*', e):
        if e[m.end():].lstrip().startswith('('):
            continue  # a function or aggregation
        if m.group(0) not in KEYWORDS:
            names.add(m.group(0))
    return names


def start_prometheus(lab, prom_bin, metrics_port):
    """Prometheus on deploy/prometheus.yml with its target moved to metrics_port; (its
    API, the config text it got)."""
    with open(os.path.join(ROOT, 'deploy', 'prometheus.yml'), encoding='utf-8') as f:
        shipped = f.read()
    lab.check("deploy/prometheus.yml scrapes the daemon's default address every second",
              "targets: ['127.0.0.1:9464']" in shipped and 'scrape_interval: 1s' in shipped
              and 'metrics_path: /metrics' in shipped, shipped)
    path = os.path.join(lab.work, 'prometheus.yml')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(shipped.replace('127.0.0.1:9464', f'127.0.0.1:{metrics_port}'))
    port = free_port()
    log = open(os.path.join(lab.work, 'prometheus.log'), 'w')
    lab.spawn(None, [prom_bin, f'--config.file={path}',
                     f'--storage.tsdb.path={os.path.join(lab.work, "tsdb")}',
                     f'--web.listen-address=127.0.0.1:{port}', '--log.level=warn'],
              stdout=log, stderr=log)
    log.close()
    return Prom(port)


def prometheus_log(lab):
    with open(os.path.join(lab.work, 'prometheus.log'), encoding='utf-8',
              errors='replace') as f:
        return f.read()[-1500:]


def check_dashboard(lab, prom, scrape):
    """Every panel's PromQL: evaluates, names only families of the scrape."""
    check = lab.check
    with open(os.path.join(ROOT, 'deploy', 'grafana-storm-dashboard.json'),
              encoding='utf-8') as f:
        dash = json.load(f)
    exported = families(scrape)
    bad, errors, empty = [], [], []
    for panel in dash['panels']:
        for t in panel['targets']:
            names = metric_names(t['expr'])
            if not names or not names <= exported:
                bad.append(f'{panel["title"]}: {sorted(names - exported) or "no metric"}')
            st, res = prom.query(t['expr'].replace('$__rate_interval', RATE_WINDOW))
            if st != 'success':
                errors.append(f'{panel["title"]}: {t["expr"]}: {res}')
            elif panel['title'].startswith('Handshakes per second') and not res:
                empty.append(f'{panel["title"]}: {t["expr"]}')
    n = sum(len(p['targets']) for p in dash['panels'])
    check(f'dashboard: its {n} expressions name only families the daemon exports',
          n >= 8 and not bad, '\n'.join(bad))
    check('dashboard: Prometheus evaluates every expression', not errors, '\n'.join(errors))
    check('dashboard: the handshake panel has data', not empty, '\n'.join(empty))


def run(stormgate, stormctl, fleet, b_sanitize):
    prom_bin = shutil.which('prometheus')
    if prom_bin is None:
        print('1..0 # SKIP prometheus is not installed (deploy/bootstrap.sh installs it)')
        sys.exit(0)
    t0 = time.monotonic()
    with FleetLab('sge2e15', stormgate, stormctl, fleet) as lab:
        check = lab.check
        lab.creds(DEVICES)
        mport = free_port()
        d = lab.start(lab.gateway_config('prom', metrics={'listen': f'127.0.0.1:{mport}'}))
        prom = start_prometheus(lab, prom_bin, mport)
        ready = proc.wait_for(lambda: http_get(f'{prom.base}/-/ready')[0] == 200, timeout=20,
                              step=0.2)
        check('prometheus is ready', ready, prometheus_log(lab))
        if not ready:
            return
        up = proc.wait_for(lambda: prom.value('stormgate_up') == 1, timeout=10, step=0.2)
        st, targets = http_get(f'{prom.base}/api/v1/targets')
        health = [t.get('health') for t in json.loads(targets)['data']['activeTargets']] \
            if st == 200 else []
        check('the target is up, stormgate_up is 1', up and health == ['up'],
              f'{targets[:800]}\n{prometheus_log(lab)}')

        # The fleet storms the daemon while Prometheus scrapes it; it holds its memif
        # ports after its report (--hold) so the daemon stops first (docs/fleet.md).
        done = 'sum(stormgate_handshake_events_total{event="completed_full"})'
        base = prom.value(done) or 0
        p = lab.spawn_fleet('--devices', str(DEVICES), '--duration', '12', '--req-rate', '1',
                            '--hold', '30')
        moved = proc.wait_for(lambda: (prom.value(done) or 0) >= base + DEVICES, timeout=20,
                              step=0.3)
        check(f'during the fleet run: completed handshakes rose by at least {DEVICES}', moved,
              f'{base} -> {prom.value(done)}')
        rate = prom.value('sum(rate(stormgate_handshake_events_total{event="completed_full"}'
                          f'[{RATE_WINDOW}]))')
        check('Prometheus: their rate is above 0', rate is not None and rate > 0, rate)
        peak = proc.wait_for(
            lambda: (prom.value('max_over_time(stormgate_sessions[1m])') or 0) >= DEVICES,
            timeout=10, step=0.3)
        check(f'Prometheus: the sessions gauge reached {DEVICES}', peak,
              prom.value('max_over_time(stormgate_sessions[1m])'))
        fwd = proc.wait_for(lambda: (prom.value(
            'sum(rate(stormgate_records_opened_total[10s]))') or 0) > 0, timeout=10, step=0.3)
        check("Prometheus: the records-opened rate moved with the fleet's requests", fwd,
              prom.value('sum(rate(stormgate_records_opened_total[10s]))'))

        st, scrape = http_get(f'http://127.0.0.1:{mport}/metrics')
        check('a scrape of the daemon', st == 200 and 'stormgate_up 1' in scrape, scrape[:300])
        check_dashboard(lab, prom, scrape)
        held = proc.wait_for(lambda: p.poll() is not None or os.path.exists(p.report_path),
                             timeout=30, step=0.3)
        check('the fleet wrote its report', held)
        check('the daemon stops cleanly (exit 0), before the fleet leaves', d.stop() == 0,
              d.log()[-1500:])
        p.terminate()
        r, rep = lab.wait_fleet(p, timeout=30)
        check('the fleet: every device connected, nothing misdelivered, no nonce reused',
              r.returncode == 0 and rep is not None and rep['connected'] == DEVICES
              and rep['misdelivered'] == 0 and rep['nonce_reuse'] == 0,
              f'exit {r.returncode}\n{r.stderr[-1500:]}\n{json.dumps(rep)[:800] if rep else ""}')
        sanitizer.check_logs(lab.tap, b_sanitize, stormgate, d.log(), "the daemon's log")
        took = time.monotonic() - t0
        check(f'within {BUDGET_S} s', took < BUDGET_S, f'{took:.1f} s')


if __name__ == '__main__':
    e2e.main_guard(run, ('STORMGATE', 'STORMCTL', 'FLEET', 'B_SANITIZE'))
