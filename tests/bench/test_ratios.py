#!/usr/bin/env python3
"""bench/ratios.py on Google Benchmark JSON written here, as TAP: medians
taken from the `_median` aggregates (or from plain runs), each ratio the
docs quote from the right pair, a benchmark that stopped with an error listed
and the exit status 1, a noisy median named."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import ROOT, proc  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

RATIOS = os.path.join(ROOT, 'bench', 'ratios.py')


def agg(run, median, cv=0.01):
    return [{'name': f'{run}_median', 'run_name': run, 'run_type': 'aggregate',
             'aggregate_name': 'median', 'items_per_second': median * 1e6},
            {'name': f'{run}_cv', 'run_name': run, 'run_type': 'aggregate',
             'aggregate_name': 'cv', 'items_per_second': cv}]


def plain(run, *values):
    return [{'name': run, 'run_name': run, 'run_type': 'iteration', 'items_per_second': v * 1e6}
            for v in values]


def run(benchmarks):
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
        json.dump({'context': {}, 'benchmarks': benchmarks}, f)
    try:
        return proc.run([sys.executable, RATIOS, f.name], timeout=30)
    finally:
        os.unlink(f.name)


def row(text, title, cells):
    """The line of table title starting with cells (e.g. '| ccm8 | 64 |')."""
    part = text.split(f'**{title}**', 1)
    if len(part) < 2:
        return None
    for line in part[1].split('**', 1)[0].splitlines():
        if line.startswith(cells):
            return line
    return None


def main():
    t = Tap()
    good = (agg('record_open/ccm8/64/1', 10.0) + agg('record_open/ccm8/64/10000000', 7.0)
            + agg('baseline_openssl_open/ccm8/64/1', 2.5)
            + agg('baseline_openssl_open/ccm8/64/10000000', 1.75, cv=0.2)
            + agg('imb_raw_open/ccm8/64', 14.0) + plain('pipeline/ccm8/64/10000000', 2.0, 3.0, 2.8))
    r = run(good)
    out = r.stdout
    t.check('exit 0 without errors', r.returncode == 0, r.stdout + r.stderr)
    t.check('record_open table: medians in M/s by session count',
            row(out, 'record_open, M/s (medians)', '| ccm8 | 64 |') == '| ccm8 | 64 | 10.00 | 7.00 |',
            out)
    t.check('record_open ÷ baseline_openssl_open per session count',
            row(out, 'record_open ÷ baseline_openssl_open', '| ccm8 | 64 |')
            == '| ccm8 | 64 | 4.00× | 4.00× |', out)
    t.check('plain runs: their median (2.8), against the baseline at the same count',
            row(out, 'pipeline ÷ baseline_openssl_open', '| ccm8 | 64 |') == '| ccm8 | 64 | 1.60× |',
            out)
    t.check('pipeline ÷ imb_raw_open (no session count on the ceiling)',
            row(out, 'pipeline ÷ imb_raw_open', '| ccm8 | 64 |') == '| ccm8 | 64 | 0.20× |', out)
    t.check('record_open/<n> ÷ record_open/1',
            row(out, 'record_open/<n> ÷ record_open/1', '| ccm8 | 64 |')
            == '| ccm8 | 64 | 1.00× | 0.70× |', out)
    t.check('record_open/1 ÷ imb_raw_open',
            row(out, 'record_open/1 ÷ imb_raw_open', '| ccm8 | 64 |') == '| ccm8 | 64 | 0.71× |', out)
    t.check('a median with a CV over 10 % is named',
            '`baseline_openssl_open/ccm8/64/10000000` (20%)' in out, out)
    bad = good + [{'name': 'baseline_openssl_open/ccm/64/1', 'run_name':
                   'baseline_openssl_open/ccm/64/1', 'error_occurred': True,
                   'error_message': 'a record did not open to its plaintext'}]
    r = run(bad)
    t.check('a benchmark that stopped with an error is listed, exit 1',
            r.returncode == 1 and 'baseline_openssl_open/ccm/64/1: a record did not open' in r.stdout,
            r.stdout + r.stderr)
    return t.finish()


if __name__ == '__main__':
    sys.exit(main())
