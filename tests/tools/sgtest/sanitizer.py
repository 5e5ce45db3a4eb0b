"""Sanitizer reports in a daemon's output, for the daemon tests that run in
the ASan+UBSan build too (deploy/test.sh runs the integration suite there).

    from sgtest import sanitizer
    sanitizer.instrumented(STORMGATE)   # {'address', 'undefined'} when built so
    sanitizer.reports(log_text)         # the report lines; [] when clean

A report is AddressSanitizer's or LeakSanitizer's `==PID==ERROR: ...` (and
their fatal errors: a leak check that could not run is not a clean one),
TSan's `WARNING: ThreadSanitizer: ...`, UBSan's `file:line:col: runtime
error: ...`, or any sanitizer's `SUMMARY:` line. tests/meta/test_sanitizer_check.py runs programs with real reports
through reports(), so the daemon tests' check is known to fail on one.
"""
import re

REPORT = re.compile(
    r'^.*(?:==\d+==\s*ERROR: (?:Address|Leak|Thread|Memory)Sanitizer'
    r'|(?:Address|Leak|Thread|Memory|UndefinedBehavior)Sanitizer has encountered a fatal error'
    r'|WARNING: ThreadSanitizer'
    r'|\bruntime error: '
    r'|SUMMARY: (?:Address|Leak|Thread|Memory|UndefinedBehavior)Sanitizer).*$',
    re.M)

# Symbols an instrumented binary imports from the sanitizer runtimes.
MARKERS = {'address': b'__asan_init', 'undefined': b'__ubsan_handle_',
           'thread': b'__tsan_init', 'memory': b'__msan_init'}


def reports(text):
    """Every sanitizer report line in text, in order."""
    return REPORT.findall(text or '')


def instrumented(path):
    """The sanitizers path was built with (of MARKERS), from its symbol names."""
    with open(path, 'rb') as f:
        data = f.read()
    return {name for name, marker in MARKERS.items() if marker in data}


def wanted(b_sanitize):
    """The sanitizers meson's b_sanitize value asks for ('none': none)."""
    return set() if b_sanitize in ('', 'none') else set(b_sanitize.split(','))


def check_logs(tap, b_sanitize, binary, logs, what):
    """The daemon tests' check: in a sanitizer build (b_sanitize, meson's
    option), binary is instrumented as asked and the logs (text) hold no
    report; in other builds a visible skip, not a pass that cannot fail."""
    want = wanted(b_sanitize) & set(MARKERS)
    name = f'no sanitizer report in {what}'
    if not want:
        tap.skip(name, f'b_sanitize={b_sanitize or "none"}: the ASan+UBSan build runs this check')
        return True
    have = instrumented(binary)
    ok = tap.check(f'{binary.rsplit("/", 1)[-1]} is built with {"+".join(sorted(want))}',
                   want <= have, f'instrumented with {sorted(have)}')
    found = reports(logs)
    return tap.check(name, not found, '\n'.join(found[:20]) + '\n' + logs[-3000:]) and ok
