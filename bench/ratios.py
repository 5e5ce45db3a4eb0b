#!/usr/bin/env python3
"""Tables and ratios for docs/performance.md from stormgate-bench's Google
Benchmark JSON (--benchmark_out=F.json --benchmark_out_format=json), so that
no ratio is divided by hand:

    python3 bench/ratios.py record.json [more.json ...]

Per benchmark it takes the median of the repetitions (the `_median`
aggregate; a run without repetitions counts as its own median) of
items_per_second, in M items/s, and prints, as Markdown:
  * one table per family (record_open, record_seal, baseline_openssl_open,
    pipeline, pipeline_seal): suite and payload by session count;
  * the ratios the docs quote, each from the same file set:
      record_open / baseline_openssl_open      (same suite, payload, sessions)
      pipeline / baseline_openssl_open         (same suite, payload, sessions)
      pipeline / imb_raw_open                  (same suite, payload)
      record_open/<n> / record_open/1          (same suite, payload)
      record_open/1 / imb_raw_open             (same suite, payload)
  * every benchmark that stopped with an error (a baseline that did not open
    every record is one), and every median whose coefficient of variation
    is over 10 %.
Exit 1 when a benchmark stopped with an error, else 0.
"""
import json
import re
import sys
from collections import defaultdict

FAMILIES = ('record_open', 'record_seal', 'baseline_openssl_open', 'pipeline', 'pipeline_seal')
NAME = re.compile(r'^(?P<fam>[a-z_]+)/(?P<suite>[a-z0-9]+)/(?P<payload>\d+)(?:/(?P<n>\d+))?$')


def load(paths):
    """({run_name: M items/s median}, {run_name: cv}, [errors])."""
    median, cv, plain, errors = {}, {}, defaultdict(list), []
    for path in paths:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        for b in data.get('benchmarks', []):
            run = b.get('run_name', b['name'])
            if b.get('error_occurred'):
                errors.append(f"{run}: {b.get('error_message', '')}")
                continue
            ips = b.get('items_per_second')
            if ips is None:
                continue
            if b.get('run_type') == 'aggregate':
                if b.get('aggregate_name') == 'median':
                    median[run] = ips / 1e6
                elif b.get('aggregate_name') == 'cv':
                    cv[run] = ips
            else:
                plain[run].append(ips / 1e6)
    for run, vals in plain.items():
        if run not in median:
            vals = sorted(vals)
            mid = len(vals) // 2
            median[run] = vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2
    return median, cv, errors


def parse(median):
    """{(fam, suite, payload, n or None): M/s}."""
    out = {}
    for run, v in median.items():
        m = NAME.match(run)
        if m:
            n = int(m['n']) if m['n'] else None
            out[(m['fam'], m['suite'], int(m['payload']), n)] = v
    return out


def sessions_label(n):
    return {1: '1', 1000: '1k', 1000000: '1M', 10000000: '10M'}.get(n, str(n))


def table(title, cells, fmt):
    """cells: {(suite, payload, n): value} -> Markdown, suites in first-seen order."""
    if not cells:
        return ''
    ns = sorted({k[2] for k in cells})
    suites = list(dict.fromkeys(k[0] for k in cells))
    rows = sorted({(k[0], k[1]) for k in cells}, key=lambda r: (suites.index(r[0]), r[1]))
    lines = [f'**{title}**', '',
             '| suite | payload | ' + ' | '.join(sessions_label(n) for n in ns) + ' |',
             '|---|---:|' + '---:|' * len(ns)]
    for suite, payload in rows:
        vals = [fmt(cells[(suite, payload, n)]) if (suite, payload, n) in cells else ''
                for n in ns]
        lines.append(f'| {suite} | {payload} | ' + ' | '.join(vals) + ' |')
    return '\n'.join(lines) + '\n'


def report(paths):
    median, cv, errors = load(paths)
    r = parse(median)
    out = []
    for fam in FAMILIES:
        cells = {(s, p, n): v for (f, s, p, n), v in r.items() if f == fam and n is not None}
        out.append(table(f'{fam}, M/s (medians)', cells, lambda v: f'{v:.2f}'))

    def ratio(num, den, same_n=True, den_n=None):
        cells = {}
        for (f, s, p, n), v in r.items():
            if f != num or n is None:
                continue
            key = (den, s, p, n if same_n else den_n)
            if key in r and r[key] > 0:
                cells[(s, p, n)] = v / r[key]
        return cells

    fmt = lambda v: f'{v:.2f}×'  # noqa: E731
    out.append(table('record_open ÷ baseline_openssl_open', ratio('record_open',
                                                                  'baseline_openssl_open'), fmt))
    out.append(table('pipeline ÷ baseline_openssl_open', ratio('pipeline',
                                                               'baseline_openssl_open'), fmt))
    out.append(table('pipeline ÷ imb_raw_open', ratio('pipeline', 'imb_raw_open', False, None),
                     fmt))
    out.append(table('record_open/<n> ÷ record_open/1', ratio('record_open', 'record_open',
                                                              False, 1), fmt))
    one = {k: v for k, v in ratio('record_open', 'imb_raw_open', False, None).items()
           if k[2] == 1}
    out.append(table('record_open/1 ÷ imb_raw_open', one, fmt))
    noisy = sorted(run for run, c in cv.items() if c > 0.10)
    if noisy:
        out.append('Coefficient of variation over 10 %: ' +
                   ', '.join(f'`{run}` ({cv[run]:.0%})' for run in noisy) + '\n')
    if errors:
        out.append('**Stopped with an error (no figure):**\n\n' +
                   '\n'.join(f'* `{e}`' for e in errors) + '\n')
    return '\n'.join(o for o in out if o), errors


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    text, errors = report(argv[1:])
    print(text)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
