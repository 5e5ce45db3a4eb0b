#!/usr/bin/env python3
"""The daemon tests' sanitizer check (sgtest.sanitizer) can fail, as
TAP: a program built with ASan+UBSan (sanitizer_trigger.c) commits one error
per row, and reports() must find each (and nothing in a clean run);
instrumented() tells an instrumented binary from one that is not, so the
daemon tests know their check is live.

  test_sanitizer_check.py SANITIZER_TRIGGER
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import proc, sanitizer  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

TRIGGER = sys.argv[1]

# (argument, a report expected, text the report must hold)
ROWS = [
    ('clean', False, None),
    ('use-after-free', True, 'AddressSanitizer: heap-use-after-free'),
    ('leak', True, 'LeakSanitizer: detected memory leaks'),
    ('overflow', True, 'runtime error: signed integer overflow'),
    ('shift', True, 'runtime error: shift exponent'),
]


def main():
    t = Tap()
    env = dict(os.environ)
    # As meson's test_env sets them for the daemon tests.
    env.setdefault('ASAN_OPTIONS', 'detect_leaks=1:abort_on_error=1')
    env.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')
    for arg, want, text in ROWS:
        r = proc.run([TRIGGER, arg], timeout=60, env=env)
        out = r.stdout + r.stderr
        found = sanitizer.reports(out)
        if want:
            t.check(f'{arg}: the check finds the report, the run fails',
                    found and any(text in line for line in found) and r.returncode != 0,
                    f'exit {r.returncode}\n{out[-2000:]}')
        else:
            t.check(f'{arg}: no report, exit 0', not found and r.returncode == 0,
                    f'exit {r.returncode}\n{out[-2000:]}')
    t.check('an ASan+UBSan binary is seen as instrumented',
            sanitizer.instrumented(TRIGGER) == {'address', 'undefined'},
            sanitizer.instrumented(TRIGGER))
    t.check('an uninstrumented one is not',
            sanitizer.instrumented(os.path.realpath(sys.executable)) == set(),
            sanitizer.instrumented(os.path.realpath(sys.executable)))
    t.check("meson's b_sanitize read as the daemon tests read it",
            sanitizer.wanted('address,undefined') == {'address', 'undefined'}
            and sanitizer.wanted('none') == set(), '')
    return t.finish()


if __name__ == '__main__':
    sys.exit(main())
