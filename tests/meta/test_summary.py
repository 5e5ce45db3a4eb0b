#!/usr/bin/env python3
"""Tests of .ci/summary.py, as TAP: each row is a set of meson test logs
(result and TAP stdout per test) and the one line and exit status summary.py
must give for them. Skipped TAP subtests (`ok N # SKIP`) are counted as
skipped, never as passed; the line keeps the `N passed, N failed` prefix CI
reads, and .ci/run's filter of summary lines still matches it. One row's TAP
comes from sgtest.tap itself (tests/tools/sgtest/tap.py), the writer every
Python test uses."""
import contextlib
import io
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import ROOT, proc  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

SUMMARY = os.path.join(ROOT, '.ci', 'summary.py')


def tap_of_tools():
    """TAP as sgtest.tap prints it: two checks passed, one skipped."""
    t = Tap()
    t.check('daemon starts', True)
    t.skip('IPv6 clients', 'no IPv6 in this namespace')
    t.check('echo', True)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        t.finish()
    return buf.getvalue()


CMOCKA_SKIP = '1..3\nok 1 - parse\nok 2 # SKIP avx512_only\nok 3 - seal\n'

# (name, [log files: [(meson result, stdout), ...]], expected line, expected exit)
ROWS = [
    ('plain passes', [[('OK', '1..2\nok 1 - a\nok 2 - b\n')]],
     '2 passed, 0 failed, 0 skipped', 0),
    ('ok with a SKIP directive is skipped, not passed', [[('OK', CMOCKA_SKIP)]],
     '2 passed, 0 failed, 1 skipped', 0),
    ('skip directive in lower case and as SKIPPED',
     [[('OK', '1..3\nok 1 - a # skip no root\nok 2 - b #SKIPPED later\nok 3 - c\n')]],
     '1 passed, 0 failed, 2 skipped', 0),
    ('a hash sign in a test name is no directive', [[('OK', '1..1\nok 1 - port #2 answers\n')]],
     '1 passed, 0 failed, 0 skipped', 0),
    ('not ok with a SKIP directive is a failure', [[('FAIL', '1..2\nok 1 - a\nnot ok 2 - b # SKIP x\n')]],
     '1 passed, 1 failed, 0 skipped', 1),
    ('TODO: expected failure passes, unexpected pass fails',
     [[('OK', '1..2\nnot ok 1 - a # TODO later\nok 2 - b\n')],
      [('FAIL', '1..1\nok 1 - c # TODO stale\n')]],
     '2 passed, 1 failed, 0 skipped', 1),
    ('whole test skipped by meson (exit 77, or a plan of 1..0 with SKIP)',
     [[('SKIP', '1..0 # SKIP need root\n'), ('OK', '')]],
     '1 passed, 0 failed, 1 skipped', 0),
    ('tests/tools/tap.py skip, as the daemon tests print it', [[('OK', tap_of_tools())]],
     '2 passed, 0 failed, 1 skipped', 0),
    ('a crash after passing TAP lines still fails',
     [[('ERROR', '1..3\nok 1 - a\nok 2 # SKIP b\n')]],
     '1 passed, 1 failed, 1 skipped', 1),
    ('non-TAP tests count once; logs add up',
     [[('OK', 'hello\n'), ('TIMEOUT', '')], [('OK', '1..1\nok 1 # SKIP x\n')]],
     '1 passed, 1 failed, 1 skipped', 1),
    ('a missing log is a failure', [None],
     '0 passed, 1 failed, 0 skipped', 1),
]


def run_row(logs, tmp):
    """summary.py over logs written to a fresh directory under tmp."""
    d = tempfile.mkdtemp(dir=tmp)
    paths = []
    for i, tests in enumerate(logs):
        path = os.path.join(d, f'testlog{i}.json')
        if tests is not None:
            with open(path, 'w', encoding='utf-8') as f:
                for j, (result, stdout) in enumerate(tests):
                    f.write(json.dumps({'name': f't{j}', 'result': result,
                                        'stdout': stdout}) + '\n')
        paths.append(path)
    return proc.run([sys.executable, SUMMARY] + paths, timeout=30)


def ci_filter():
    """The summary-line pattern .ci/run filters out of the log (grep -v -E '...')."""
    with open(os.path.join(ROOT, '.ci', 'run'), encoding='utf-8') as f:
        m = re.search(r"grep -v -E '([^']*)'", f.read())
    return m.group(1) if m else None


def main():
    tap = Tap()
    with tempfile.TemporaryDirectory(prefix='sg-summary-') as tmp:
        for name, logs, want, code in ROWS:
            r = run_row(logs, tmp)
            got = r.stdout.strip()
            tap.check(name, got == want and r.returncode == code,
                      f'got {got!r} exit {r.returncode}, want {want!r} exit {code}\n{r.stderr}')
        r = run_row([[('OK', CMOCKA_SKIP)]], tmp)
    line = r.stdout.strip()
    pat = ci_filter()
    tap.check('.ci/run filters the summary line out of the log (it prints it last)',
              pat is not None and re.search(pat, line) is not None, f'{pat!r} {line!r}')
    tap.check('the line starts with the exact `N passed, N failed` CI reads',
              re.fullmatch(r'\d+ passed, \d+ failed, \d+ skipped', line) is not None, line)
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
