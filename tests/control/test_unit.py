#!/usr/bin/env python3
"""deploy/stormgate.service and deploy/stormgate.sysusers, as TAP (suite 'unit'):
`systemd-analyze verify` finds nothing wrong with the unit (its /usr/bin/stormgate
pointed at the build's binary, which is not installed here), `systemd-analyze
security --offline=true` rates it at most 2.5 (issue 12 item 11: it was 9.6 as
root without a sandbox), the unit runs as user stormgate with only CAP_NET_RAW
and CAP_NET_ADMIN, and the sysusers file declares that user. SKIP without
systemd-analyze.

  test_unit.py SOURCE_ROOT STORMGATE
"""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import proc  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

ROOT, STORMGATE = sys.argv[1:3]
UNIT = os.path.join(ROOT, 'deploy', 'stormgate.service')
SYSUSERS = os.path.join(ROOT, 'deploy', 'stormgate.sysusers')
MAX_EXPOSURE = 2.5


def directives(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r'^([A-Za-z]+)=(.*)$', line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def main():
    tap = Tap()
    check = tap.check
    with open(UNIT) as f:
        text = f.read()
    d = directives(text)
    check('the unit runs as user and group stormgate',
          d.get('User') == ['stormgate'] and d.get('Group') == ['stormgate'], d.get('User'))
    check('... with CAP_NET_RAW and CAP_NET_ADMIN only (bounding and ambient sets)',
          [set(v.split()) for v in d.get('CapabilityBoundingSet', [])]
          == [{'CAP_NET_RAW', 'CAP_NET_ADMIN'}]
          and [set(v.split()) for v in d.get('AmbientCapabilities', [])]
          == [{'CAP_NET_RAW', 'CAP_NET_ADMIN'}], (d.get('CapabilityBoundingSet'),
                                                    d.get('AmbientCapabilities')))
    check('... sandboxed: ProtectSystem=strict, ProtectHome, PrivateTmp, NoNewPrivileges',
          d.get('ProtectSystem') == ['strict'] and d.get('ProtectHome') == ['yes']
          and d.get('PrivateTmp') == ['yes'] and d.get('NoNewPrivileges') == ['yes'], d)
    with open(SYSUSERS) as f:
        users = [l.split() for l in f if l.strip() and not l.startswith('#')]
    check('the sysusers file declares the system user stormgate',
          any(u[:2] == ['u', 'stormgate'] for u in users), users)

    sa = shutil.which('systemd-analyze')
    if sa is None:
        tap.skip('systemd-analyze verify and security', 'systemd-analyze not installed')
        return tap.finish()
    work = tempfile.mkdtemp(prefix='sg-unit-')
    try:
        unit = os.path.join(work, 'stormgate.service')
        with open(unit, 'w') as f:
            f.write(text.replace('/usr/bin/stormgate', os.path.abspath(STORMGATE)))
        r = proc.run([sa, 'verify', unit], timeout=60)
        check('systemd-analyze verify: exit 0, nothing reported',
              r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr)
        r = proc.run([sa, 'security', '--offline=true', unit], timeout=60)
        m = re.search(r'Overall exposure level for \S+: ([0-9.]+)', r.stdout)
        score = float(m.group(1)) if m else None
        check(f'systemd-analyze security --offline=true: exposure {score} <= {MAX_EXPOSURE}',
              score is not None and score <= MAX_EXPOSURE, r.stdout[-1500:] + r.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
