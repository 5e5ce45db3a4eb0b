#!/usr/bin/env python3
"""Sum test results over meson test logs (JSON lines) and print one line
`N passed, N failed, N skipped` (CI reads the `N passed, N failed` prefix).

A test that speaks TAP (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP, the Python
tests' tests/tools/sgtest/tap.py) counts each of its result lines, read as meson's
own TAP parser reads them: `ok N ... # SKIP why` is skipped, not passed, so a
check that never runs stays visible; `not ok N ... # SKIP` is a failure;
`not ok N ... # TODO` is an expected failure (passed, as meson counts it) and
`ok N ... # TODO` an unexpected pass (failed). Any other test counts once, by
its meson result. A test that crashed or timed out after some TAP lines also
counts one failure, so a crash is never hidden.

    summary.py LOG.json...     exit 1 when anything failed, else 0
"""
import json
import re
import sys

# TAP 12/13 result line with its optional directive (meson's _RE_TEST).
TAP_RESULT = re.compile(r'^(not )?ok\b\s*(?:\d+\s*)?[^#]*(?:#\s*(skip\S*|todo)\b)?', re.I)

GOOD = ('OK', 'EXPECTEDFAIL')


def tap_counts(stdout):
    """(passed, failed, skipped, lines) over the TAP result lines of one test."""
    passed = failed = skipped = lines = 0
    for out in stdout.splitlines():
        m = TAP_RESULT.match(out.rstrip())
        if not m:
            continue
        lines += 1
        ok = m.group(1) is None
        directive = (m.group(2) or '').upper()
        if directive.startswith('SKIP'):
            if ok:
                skipped += 1
            else:
                failed += 1
        elif directive == 'TODO':
            if ok:
                failed += 1  # unexpected pass: the TODO is stale
            else:
                passed += 1  # expected failure
        elif ok:
            passed += 1
        else:
            failed += 1
    return passed, failed, skipped, lines


def summarize(paths):
    """(passed, failed, skipped) over the meson test logs at paths."""
    passed = failed = skipped = 0
    for path in paths:
        try:
            fh = open(path, encoding='utf-8', errors='replace')
        except OSError as e:
            print(f'summary: {path}: {e}', file=sys.stderr)
            failed += 1
            continue
        with fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                t = json.loads(line)
                result = t.get('result', '')
                if result == 'SKIP':
                    skipped += 1
                    continue
                p, f, s, n = tap_counts(t.get('stdout') or '')
                good = result in GOOD
                if n == 0:
                    if good:
                        passed += 1
                    else:
                        failed += 1
                    continue
                passed += p
                failed += f
                skipped += s
                if not good and f == 0:
                    failed += 1
    return passed, failed, skipped


def main(argv):
    passed, failed, skipped = summarize(argv[1:])
    print(f'{passed} passed, {failed} failed, {skipped} skipped')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
