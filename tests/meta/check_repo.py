#!/usr/bin/env python3
"""Repository checks, as TAP: the README opens with exactly the two commands
(main job, tests) and both exist; .ci/run calls the README's test command;
every repository file the CI and deploy scripts name exists; the ASan+UBSan
build runs the integration suite too; the deploy scripts parse (bash -n) and pass shellcheck when it is installed."""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import ROOT, proc  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

TAP = Tap()
check = TAP.check


def readme_commands():
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    m = re.search(r'```(?:sh|bash)?\n(.*?)```', text, re.S)
    if not m:
        return text, []
    cmds = [re.sub(r'\s+#.*$', '', l).strip() for l in m.group(1).splitlines()]
    return text, [c for c in cmds if c]


text, cmds = readme_commands()
first_block = text.find('```')
check('README opens with a command block before any other section',
      first_block != -1 and '\n## ' not in text[:first_block], f'block at {first_block}')
check('README first block holds exactly two commands', len(cmds) == 2, repr(cmds))
for c in cmds:
    script = c.split()[0]
    path = os.path.join(ROOT, script)
    check(f'command {script} exists and is executable',
          os.path.isfile(path) and os.access(path, os.X_OK), path)

with open(os.path.join(ROOT, '.ci', 'run'), encoding='utf-8') as f:
    ci = f.read()
test_cmd = cmds[1] if len(cmds) == 2 else None
check('.ci/run calls the README test command',
      test_cmd is not None and re.search(r'^\s*' + re.escape(test_cmd) + r'\b', ci, re.M) is not None,
      repr(test_cmd))

scripts = sorted(os.path.join(ROOT, 'deploy', f) for f in os.listdir(os.path.join(ROOT, 'deploy'))
                 if f.endswith('.sh')) + [os.path.join(ROOT, '.ci', 'run')]

# The ASan+UBSan build runs the daemon's integration tests too (issue 12 item
# 17): their "no sanitizer report" checks are live only there.
with open(os.path.join(ROOT, 'deploy', 'test.sh'), encoding='utf-8') as f:
    test_sh = f.read().replace('\\\n', ' ')
asan_runs = [l for l in test_sh.splitlines() if re.match(r'\s*meson test -C build-asan\b', l)]
check('deploy/test.sh runs the unit and integration suites in the ASan+UBSan build',
      any('--suite unit' in l for l in asan_runs) and any('--suite integration' in l
                                                          for l in asan_runs), asan_runs)

# Every file of the repository a CI or deploy script names (in a command or a
# comment) exists: a comment pointing at a script that is gone misleads.
NAMED_FILE = re.compile(r'(?<![\w/$.-])(?:\./)?((?:deploy|tests|\.ci|bench|docs)/[\w./-]*\w'
                        r'\.(?:sh|py|md|csv|yaml|json|cc|c|h))\b')
for s in scripts:
    with open(s, encoding='utf-8') as f:
        named = sorted(set(NAMED_FILE.findall(f.read())))
    missing = [n for n in named if not os.path.exists(os.path.join(ROOT, n))]
    check(f'{os.path.relpath(s, ROOT)} names only files that exist', not missing,
          ', '.join(missing))
for s in scripts:
    r = proc.run(['bash', '-n', s])
    check(f'bash -n {os.path.relpath(s, ROOT)}', r.returncode == 0, r.stderr.strip())
if shutil.which('shellcheck'):
    r = proc.run(['shellcheck', '-S', 'warning'] + scripts, timeout=120)
    check('shellcheck -S warning deploy/*.sh .ci/run', r.returncode == 0, r.stdout.strip()[:2000])

sys.exit(TAP.finish())
