#!/usr/bin/env python3
"""stormgate-memory (bench/gateway_memory.c), the tool behind the
gateway_memory benchmarks, as TAP (suite 'unit'):

  test_memory.py STORMGATE_MEMORY

Checked: the figure is the whole gateway's (table, data plane, registry, each
more than nothing, adding up to the all-in exactly); it holds on a cold run
(two fresh processes agree); installing the sessions interleaved, as
handshakes do, costs what the phased parts say; udp mode is measured too;
and bad arguments, udp mode beyond its source ports among them, get a usage
error (exit 2), not a figure.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import proc  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

TOOL = sys.argv[1]
N = 50000  # big enough that per-session memory dominates, small enough for a unit test
TAP = Tap()
check = TAP.check


def run(*args, timeout=120):
    return proc.run([TOOL] + [str(a) for a in args], timeout=timeout)


def measure(*args):
    """The tool's key=value line as a dict (numbers as int/float), or None."""
    r = run(*args)
    if r.returncode != 0:
        return None, r.stderr
    kv = {}
    for item in r.stdout.split():
        k, _, v = item.partition('=')
        try:
            kv[k] = int(v)
        except ValueError:
            try:
                kv[k] = float(v)
            except ValueError:
                kv[k] = v
    return kv, r.stdout + r.stderr


def close(a, b, rel):
    return abs(a - b) <= rel * max(a, b)


def same_cold(a, b):
    """Two cold runs agree: within 3 %, or 16 pages (the sanitizers' allocator
    moves small parts by a few pages). The old in-process figure moved by 3.7 MB
    at 1000 sessions between the first iteration and the later ones."""
    return abs(a - b) <= max(0.03 * max(a, b), 16 * 4096)


def main():
    parts = ('table', 'dataplane', 'registry')
    for backend in ('proxy', 'udp'):
        m, out = measure('--sessions', N, '--backend', backend)
        ok = m is not None and m.get('sessions') == N and m.get('backend') == backend
        check(f'{backend}: one line with every part', ok and all(
            f'{p}_bytes' in m for p in parts + ('total',)), out)
        if not ok:
            continue
        check(f'{backend}: table, data plane and registry each cost memory',
              all(m[f'{p}_bytes'] > 0 for p in parts), out)
        check(f'{backend}: all-in is the sum of the parts, more than the table alone',
              m['total_bytes'] == sum(m[f'{p}_bytes'] for p in parts)
              and m['total_bytes'] > m['table_bytes'], out)
        check(f'{backend}: per-session figures are bytes / sessions',
              all(close(m[f'{p}_per_session'], m[f'{p}_bytes'] / N, 0.001)
                  for p in parts + ('total',)), out)

    # Cold: a fresh process each time, so two runs see the same heap (none).
    a, out_a = measure('--sessions', 1000)
    b, out_b = measure('--sessions', 1000)
    check('a cold run holds: two fresh runs of 1000 sessions agree (3 %, or 16 pages)',
          a is not None and b is not None
          and all(same_cold(a[f'{p}_bytes'], b[f'{p}_bytes']) for p in parts + ('total',)),
          out_a + out_b)

    ph, out_p = measure('--sessions', N, '--order', 'phased')
    il, out_i = measure('--sessions', N, '--order', 'interleaved')
    check('installed interleaved (as handshakes do), the all-in is the phased one within 5 %',
          ph is not None and il is not None and close(ph['total_bytes'], il['total_bytes'], 0.05),
          out_p + out_i)

    for args, why in ((['--sessions', 0], 'no sessions'),
                      (['--sessions', '12x'], 'not a number'),
                      (['--sessions', 10, '--backend', 'tcp'], 'unknown backend'),
                      (['--sessions', 10, '--order', 'random'], 'unknown order'),
                      ([], 'no --sessions'),
                      (['--sessions', 516097, '--backend', 'udp'],
                       'udp beyond 8 addresses x 64512 source ports')):
        r = run(*args)
        check(f'usage error, no figure: {why}', r.returncode == 2 and r.stdout == ''
              and r.stderr.strip() != '', (r.returncode, r.stdout, r.stderr))
    return TAP.finish()


if __name__ == '__main__':
    sys.exit(main())
