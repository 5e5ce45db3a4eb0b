#!/usr/bin/env python3
"""deploy/'s Prometheus files, without a daemon (suite 'unit', no root):

    test_deploy_metrics.py STORMGATE

  - deploy/prometheus.yml passes `promtool check config`, scrapes /metrics every second
    and targets exactly the address the daemon listens on by default (its
    --check-config summary says which; also for off and a non-loopback address, which
    it flags);
  - deploy/grafana-storm-dashboard.json is a Grafana dashboard with the storm panels
    (handshakes/s, failures by reason, admission drops, sessions, goodput, drops by
    reason, handshakes in flight), unique ids, panels that do not overlap, a Prometheus
    datasource variable, and PromQL that `promtool check rules` accepts (rates over
    Grafana's $__rate_interval). tests/control/test_prometheus.py evaluates the same
    expressions in a running Prometheus against a real scrape.
SKIP for the promtool checks only when promtool is missing (deploy/bootstrap.sh
installs prometheus, which has it).
"""
import json
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import ROOT, proc  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

TAP = Tap()
check, skip = TAP.check, TAP.skip
PROM_YML = os.path.join(ROOT, 'deploy', 'prometheus.yml')
DASHBOARD = os.path.join(ROOT, 'deploy', 'grafana-storm-dashboard.json')
# The storm panels the issue asks for: a word of each title.
PANELS = ['Handshakes per second', 'Handshake failures by reason', 'Admission drops',
          'Sessions', 'Goodput', 'Drops by reason', 'Handshakes in flight']


def summary_metrics(stormgate, work, metrics):
    """The metrics line of --check-config's summary for a config with metrics (a YAML
    flow mapping, or None for no metrics key)."""
    path = os.path.join(work, 'c.yaml')
    with open(path, 'w', encoding='utf-8') as f:
        f.write('ports:\n  - {name: dev0, role: device, devargs: net_null0}\n')
        if metrics is not None:
            f.write(f'metrics: {metrics}\n')
    r = proc.run([stormgate, '--check-config', path])
    lines = [l.strip() for l in r.stdout.splitlines() if l.strip().startswith('metrics:')]
    return r.returncode, lines[0] if lines else r.stdout + r.stderr


def test_prometheus_yml(stormgate, work):
    with open(PROM_YML, encoding='utf-8') as f:
        text = f.read()
    targets = re.findall(r"^\s*- targets: \[(.*)\]\s*$", text, re.M)
    rc, line = summary_metrics(stormgate, work, None)
    m = re.match(r'metrics:\s+http://(\S+)/metrics$', line)
    check('the daemon listens on 127.0.0.1:9464 by default (--check-config)',
          rc == 0 and m is not None and m.group(1) == '127.0.0.1:9464', line)
    check('deploy/prometheus.yml targets exactly that address',
          m is not None and targets == [f"'{m.group(1)}'"], targets)
    check('... at /metrics, every second',
          re.search(r'^\s+metrics_path: /metrics$', text, re.M) is not None
          and re.search(r'^\s+scrape_interval: 1s$', text, re.M) is not None, text)
    rc, line = summary_metrics(stormgate, work, '{listen: off}')
    check('--check-config: metrics off', rc == 0 and line == 'metrics:     off', line)
    rc, line = summary_metrics(stormgate, work, "{listen: '[::]:9464'}")
    check('--check-config: a non-loopback address is flagged',
          rc == 0 and line.startswith('metrics:     http://[::]:9464/metrics')
          and 'warning: not loopback' in line, line)
    promtool = shutil.which('promtool')
    if promtool is None:
        skip('promtool check config deploy/prometheus.yml', 'promtool not installed')
        return
    r = proc.run([promtool, 'check', 'config', PROM_YML])
    check('promtool check config deploy/prometheus.yml', r.returncode == 0,
          r.stdout + r.stderr)


def overlap(a, b):
    return (a['x'] < b['x'] + b['w'] and b['x'] < a['x'] + a['w']
            and a['y'] < b['y'] + b['h'] and b['y'] < a['y'] + a['h'])


def test_dashboard(work):
    with open(DASHBOARD, encoding='utf-8') as f:
        dash = json.load(f)
    panels = dash.get('panels', [])
    titles = [p.get('title', '') for p in panels]
    check('dashboard: title, uid, a Prometheus datasource variable',
          dash.get('title') and dash.get('uid') and any(
              v.get('type') == 'datasource' and v.get('query') == 'prometheus'
              for v in dash.get('templating', {}).get('list', [])), json.dumps(dash)[:400])
    missing = [w for w in PANELS if not any(t.startswith(w) for t in titles)]
    check('dashboard: the storm panels', not missing, f'missing {missing}; have {titles}')
    ids = [p.get('id') for p in panels]
    check('dashboard: unique panel ids', len(set(ids)) == len(ids), ids)
    clash = [(a['title'], b['title']) for i, a in enumerate(panels) for b in panels[i + 1:]
             if overlap(a['gridPos'], b['gridPos'])]
    check('dashboard: no two panels overlap', not clash, clash)
    targets = [(p['title'], t) for p in panels for t in p.get('targets', [])]
    check('dashboard: every panel has a PromQL target with a description',
          all(p.get('targets') and p.get('description') for p in panels)
          and all(t.get('expr') and t.get('refId') for _, t in targets), titles)
    fixed = [f'{title}: {t["expr"]}' for title, t in targets
             if re.search(r'\b(rate|increase|irate)\(', t['expr'])
             and '[$__rate_interval]' not in t['expr']]
    check('dashboard: every rate is over $__rate_interval', not fixed, '\n'.join(fixed))
    promtool = shutil.which('promtool')
    if promtool is None:
        skip('promtool check rules: the dashboard\'s PromQL', 'promtool not installed')
        return
    rules = os.path.join(work, 'rules.yml')
    with open(rules, 'w', encoding='utf-8') as f:
        f.write('groups:\n  - name: dashboard\n    rules:\n')
        for i, (_, t) in enumerate(targets):
            expr = t['expr'].replace('$__rate_interval', '10s')
            f.write(f'      - record: stormgate:dashboard_{i}\n        expr: {json.dumps(expr)}\n')
    r = proc.run([promtool, 'check', 'rules', rules])
    check(f'promtool check rules: the dashboard\'s {len(targets)} PromQL expressions parse',
          r.returncode == 0 and f'{len(targets)} rules found' in r.stdout, r.stdout + r.stderr)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(f'usage: {sys.argv[0]} STORMGATE\n')
        sys.exit(2)
    work = tempfile.mkdtemp(prefix='sg-deploy-metrics-')
    try:
        test_prometheus_yml(sys.argv[1], work)
        test_dashboard(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(TAP.finish())


if __name__ == '__main__':
    main()
