#!/usr/bin/env python3
"""Sum test results over meson test logs (JSON lines) and print one line
`N passed, N failed`. A test that speaks TAP (cmocka with
CMOCKA_MESSAGE_OUTPUT=TAP) counts each of its `ok`/`not ok` lines; any other
test counts once, by its meson result. A test that crashed or timed out after
some TAP lines also counts one failure, so a crash is never hidden."""
import json
import re
import sys

TAP_OK = re.compile(r'^ok \d+')
TAP_NOT_OK = re.compile(r'^not ok \d+')

passed = failed = skipped = 0
for path in sys.argv[1:]:
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
            ok = nok = 0
            for out in (t.get('stdout') or '').splitlines():
                if TAP_OK.match(out):
                    ok += 1
                elif TAP_NOT_OK.match(out):
                    nok += 1
            good = result in ('OK', 'EXPECTEDFAIL')
            if ok + nok == 0:
                if good:
                    passed += 1
                else:
                    failed += 1
                continue
            passed += ok
            failed += nok
            if not good and nok == 0:
                failed += 1

line = f'{passed} passed, {failed} failed'
if skipped:
    line += f', {skipped} skipped'
print(line)
sys.exit(1 if failed else 0)
