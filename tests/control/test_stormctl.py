#!/usr/bin/env python3
"""stormctl on its own, as TAP (suite 'unit', no root, no daemon):

  test_stormctl.py STORMCTL

- it links neither DPDK nor libfyaml (`ldd stormctl | grep -c -E 'rte_|fyaml'` is 0);
- it finds the control socket the documented ways (docs/control.md,
  "stormctl"): --socket, $STORMGATE_SOCKET, control.socket of --config
  (the sample config, block and flow style), the default, in that order, and
  a config it cannot read sends the operator to --socket (exit 2). Each
  socket here is a small stand-in daemon that answers `version` with its
  own name, so the answer says which socket stormctl used.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import ROOT  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

STORMCTL = sys.argv[1]
TAP = Tap()
check = TAP.check
work = tempfile.mkdtemp(prefix='sg-stormctl-')


def stand_in(name):
    """A socket answering each request line with a version result naming it."""
    path = os.path.join(work, name + '.sock')
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)

    def serve(conn):
        with conn, conn.makefile('rb') as f:
            for line in f:
                req = json.loads(line)
                res = {'name': name, 'version': '0', 'protocol': 1, 'dpdk': '-',
                       'commands': [], 'cmd': req.get('cmd')}
                conn.sendall(json.dumps({'v': 1, 'result': res}).encode() + b'\n')

    def accept():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return path


def stormctl(args, env=None):
    e = dict(os.environ)
    e.pop('STORMGATE_SOCKET', None)
    e.update(env or {})
    return subprocess.run([STORMCTL] + args, capture_output=True, text=True, timeout=30, env=e)


def served_by(r):
    """The stand-in that answered `--json version`, or the failure."""
    if r.returncode != 0:
        return f'exit {r.returncode}: {r.stderr.strip()}'
    return json.loads(r.stdout)['name']


def config(name, text):
    path = os.path.join(work, name + '.yaml')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def test_links():
    if shutil.which('ldd') is None:
        TAP.skip('stormctl links neither DPDK nor libfyaml', 'no ldd')
        return
    out = subprocess.run(['ldd', STORMCTL], capture_output=True, text=True).stdout
    bad = [l.strip() for l in out.splitlines() if 'rte_' in l or 'fyaml' in l]
    check('stormctl links neither DPDK nor libfyaml (ldd | grep -c -E "rte_|fyaml" is 0)',
          not bad and 'libjansson' in out, out)


def test_socket_discovery():
    a, b, c = stand_in('by-option'), stand_in('by-env'), stand_in('by-config')
    with open(os.path.join(ROOT, 'deploy', 'stormgate.yaml'), encoding='utf-8') as f:
        sample = f.read()
    check('the sample config names the default socket',
          '  socket: /run/stormgate/control.sock\n' in sample)
    block = config('block', sample.replace('/run/stormgate/control.sock', c))
    flow = config('flow', f'log: {{level: info}}\ncontrol: {{mode: 0660, socket: "{c}"}}\n')
    nosock = config('nosock', 'control:\n  mode: 0660\n')
    broken = config('broken', 'control:\n  socket: run/relative.sock\n')
    env_b = {'STORMGATE_SOCKET': b}

    r = stormctl(['--socket', a, '--json', 'version'])
    check('--socket', served_by(r) == 'by-option', served_by(r))
    r = stormctl(['--json', 'version'], env_b)
    check('$STORMGATE_SOCKET', served_by(r) == 'by-env', served_by(r))
    r = stormctl(['--config', block, '--json', 'version'])
    check('control.socket of --config (the sample config)', served_by(r) == 'by-config',
          served_by(r))
    r = stormctl(['--config', flow, '--json', 'version'])
    check('control.socket of --config (a flow mapping)', served_by(r) == 'by-config',
          served_by(r))
    r = stormctl(['--config', block, '--json', 'version'], env_b)
    check('--config wins over $STORMGATE_SOCKET', served_by(r) == 'by-config', served_by(r))
    r = stormctl(['--socket', a, '--config', block, '--json', 'version'], env_b)
    check('--socket wins over both', served_by(r) == 'by-option', served_by(r))
    r = stormctl(['--config', nosock, 'version'], {'STORMGATE_SOCKET': ''})
    check('a config without control.socket: the default socket',
          r.returncode == 1 and 'cannot connect to /run/stormgate/control.sock' in r.stderr,
          r.stderr)
    r = stormctl(['--config', broken, 'version'])
    check('a config whose control.socket is wrong: exit 2, where and why, and --socket',
          r.returncode == 2 and f'{broken}:2:11: \'control.socket\' must be an absolute path'
          in r.stderr and f'cannot read the socket path from {broken} (use --socket)'
          in r.stderr, r.stderr)
    missing = os.path.join(work, 'missing.yaml')
    r = stormctl(['--config', missing, 'version'])
    check('a config that is not there: exit 2',
          r.returncode == 2 and f'{missing}: cannot open: No such file or directory' in r.stderr,
          r.stderr)


test_links()
test_socket_discovery()
shutil.rmtree(work, ignore_errors=True)
sys.exit(TAP.finish())
