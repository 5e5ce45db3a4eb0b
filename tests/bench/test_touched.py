#!/usr/bin/env python3
"""The benchmarks touch the session count their name claims (issue 12 item
19), as TAP: stormgate-bench runs a few of them at 1M sessions, briefly, and
their sessions_touched counter (distinct sessions used, counted outside the
timed region) must be beyond what the old loops could reach: record_seal and
keystore cycled through 65,536 sessions drawn once, the lookups through one
stream of 2^20 keys (at 1M sessions about 65 % of them). At one session, one.

  test_touched.py STORMGATE_BENCH
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import proc  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

BENCH = sys.argv[1]
M = 1000000

# (benchmark, least sessions_touched, the old loop's most)
ROWS = [
    ('record_seal/ccm8/64/1000000', 2 * 65536, '65,536 (one order, cycled)'),
    ('keystore/raw_expand/ccm8/1000000', 2 * 65536, '65,536 (one order, cycled)'),
    ('record_open/ccm8/64/1000000', 2 * 65536, 'a fresh pool every pass already'),
    ('baseline_openssl_open/ccm8/64/1000000', 2 * 65536, 'a fresh pool every pass already'),
    ('session_lookup/1000000', int(0.75 * M), 'about 650,000 (2^20 keys drawn once)'),
    ('session_lookup_cid/1000000', int(0.75 * M), 'about 650,000 (2^20 keys drawn once)'),
    ('record_seal/ccm8/64/1', 1, None),
]


def main():
    t = Tap()
    with tempfile.TemporaryDirectory(prefix='sg-touched-') as tmp:
        out = os.path.join(tmp, 'touched.json')
        names = '|'.join(r[0] for r in ROWS)
        # Minimum time in CPU seconds: the lookups then make ~3 passes of 2^20
        # keys even on a loaded machine, enough to look up > 90 % of 1M sessions.
        r = proc.run([BENCH, f'--benchmark_filter=^({names})$', '--benchmark_min_time=0.3',
                      f'--benchmark_out={out}', '--benchmark_out_format=json'], timeout=600)
        got = {}
        if os.path.exists(out):
            with open(out, encoding='utf-8') as f:
                for b in json.load(f).get('benchmarks', []):
                    got[b['name']] = b
    t.check('the benchmarks ran', r.returncode == 0 and len(got) == len(ROWS),
            f'exit {r.returncode}\n{r.stderr[-2000:]}')
    for name, least, old in ROWS:
        b = got.get(name, {})
        touched = b.get('sessions_touched')
        n = int(name.rsplit('/', 1)[1])
        if least == 1:
            ok = touched == 1
        else:
            ok = touched is not None and least <= touched <= n
        t.check(f'{name}: sessions_touched {touched}' +
                (f' >= {least} (old loop: {old})' if old else ''),
                ok and not b.get('error_occurred'), json.dumps(b)[:1500])
    return t.finish()


if __name__ == '__main__':
    sys.exit(main())
