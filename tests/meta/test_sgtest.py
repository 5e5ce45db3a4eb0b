#!/usr/bin/env python3
"""The test package's own parts that run without root, as TAP (suite 'unit'):
the configs sgtest.daemon writes for the integration and e2e scripts are ones
the daemon accepts (--check-config) with the values asked for; a section given
is merged into its default; counter deltas; the ClientHello sgtest.dtls builds
parses back field by field (RFC 6347 §4.1, §4.2); a client driven line by line
through a Lab (sgtest.clients.Interactive); TAP TODO rows; and a Lab killed by SIGTERM in the
middle of a script reports the failure and still removes its work directory.

  test_sgtest.py STORMGATE
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import TOOLS, clients, ctl, daemon, dtls, proc  # noqa: E402
from sgtest.lab import Lab  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

STORMGATE = sys.argv[1]


def check_configs(t, work):
    ports = [daemon.port('dev0', 'device', 'net_null0', ['198.18.1.1/24', 'fd00:5347:1::1/64']),
             daemon.port('app0', 'backend', 'net_null1')]
    cfg = daemon.config('sgtestmeta', os.path.join(work, 'a.sock'), os.path.join(work, 'creds'),
                        ports, control={'group': 'daemon'}, credentials={'map_size': '16M'},
                        backend={'mode': 'udp', 'port': 'app0', 'servers': ['198.18.2.2:5683']},
                        policy={'cookie_mode': 'never'})
    t.check('a section given is merged into its default (control keeps its socket)',
            cfg['control'] == {'socket': os.path.join(work, 'a.sock'), 'group': 'daemon'}
            and cfg['credentials']['db'] == os.path.join(work, 'creds'), cfg)
    c = daemon.write_config(os.path.join(work, 'a.yaml'), 'a', cfg, 'a comment')
    t.check('write_config names the file, socket and DPDK file prefix',
            c == daemon.Config('a', os.path.join(work, 'a.yaml'), os.path.join(work, 'a.sock'),
                               'sgtestmeta'), c)
    r = proc.run([STORMGATE, '--check-config', c.path])
    out = r.stdout
    t.check('the daemon accepts the config as written, with the values given',
            r.returncode == 0 and f'{c.path}: OK' in out
            and re.search(r'dev0 +device +net_null0 198\.18\.1\.1/24 fd00:5347:1::1/64', out)
            and f'{c.sock} (mode 0660, group daemon)' in out and '(map 16 MiB)' in out
            and 'cookies never' in out, out + r.stderr)
    bad = daemon.write_config(os.path.join(work, 'b.yaml'), 'b',
                              {**cfg, 'workers': {'idle_sleep_us': 'soon'}})
    r = proc.run([STORMGATE, '--check-config', bad.path])
    t.check('... and refuses a bad value in it, naming the line', r.returncode == 2
            and f'{bad.path}:4:' in r.stderr, r.stderr)


def check_delta(t):
    before = {'rx': 5, 'punts': {'alert': 1, 'handshake': 2}}
    after = {'rx': 9, 'punts': {'alert': 1, 'handshake': 5, 'arp': 1}}
    d = ctl.delta(after, before)
    t.check('ctl.delta: differences of every counter, nested ones without the zeros',
            d == {'rx': 4, 'punts': {'handshake': 3, 'arp': 1}}, d)


def check_client_hello(t):
    rnd, cookie, suites = bytes(range(32)), b'\xaa' * 17, [0xC0A8, 0x00A8]
    rec = dtls.client_hello(rnd, suites, cookie)
    hs = rec[13:]
    body = hs[12:]
    off = 2 + 32 + 1
    ok = (rec[:3] == b'\x16\xfe\xfd' and rec[3:11] == bytes(8)
          and int.from_bytes(rec[11:13], 'big') == len(hs)
          and hs[0] == 1 and hs[1:4] == hs[9:12] and int.from_bytes(hs[1:4], 'big') == len(body)
          and hs[4:9] == bytes(5) and body[:2] == b'\xfe\xfd' and body[2:34] == rnd
          and body[34] == 0 and body[off] == len(cookie)
          and body[off + 1:off + 18] == cookie)
    off += 1 + len(cookie)
    n = int.from_bytes(body[off:off + 2], 'big')
    got = [int.from_bytes(body[off + 2 + i:off + 4 + i], 'big') for i in range(0, n, 2)]
    rest = body[off + 2 + n:]
    t.check('dtls.client_hello: an epoch-0 record holding one unfragmented ClientHello with '
            'the random, cookie and suites given, no compression, extended_master_secret',
            ok and got == suites and rest == b'\x01\x00\x00\x04\x00\x17\x00\x00', rec.hex())


def check_interactive(t):
    lab = Lab('sgtestmeta', STORMGATE, None)
    try:
        c = clients.Interactive(lab, None, ['cat'])
        ok = c.send('one') and c.send('two') and c.expect('two\n', 5)
        first = c.take_lines(1)
        left = c.take_lines()
        rc = c.close()
        t.check('Interactive: lines sent come back, taken one by one; close() ends input',
                ok and first == ['one'] and left == ['two'] and c.out == b'' and rc == 0,
                (ok, first, left, c.out, rc))
    finally:
        lab.cleanup()
    t.check('Lab.cleanup() removes its work directory', not os.path.exists(lab.work), lab.work)


KILLED = '''
import os, sys, time
sys.path.insert(0, {tools!r})
from sgtest.lab import Lab
with Lab('sgtestkill', 'stormgate', 'stormctl') as lab:
    lab.check('before the signal', True)
    lab.spawn(None, ['sleep', '60'])
    print(lab.work, flush=True)
    time.sleep(30)
'''


def check_killed(t):
    p = subprocess.Popen([sys.executable, '-c', KILLED.format(tools=TOOLS)],
                         stdout=subprocess.PIPE, text=True)
    work = p.stdout.readline().strip()
    sleeper = proc.run(['pgrep', '-f', '-P', str(p.pid), 'sleep 60']).stdout.split()
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=30)
    time.sleep(0.1)
    gone = all(not os.path.exists(f'/proc/{x}') for x in sleeper)
    t.check('a Lab killed by SIGTERM: the TAP says so, exit 1, its processes and work '
            'directory gone',
            p.returncode == 1 and 'ok 1 - before the signal' in out
            and re.search(r'not ok 2 - no unexpected exception\n#.*killed by signal 15', out, re.S)
            and work.startswith(tempfile.gettempdir()) and not os.path.exists(work)
            and sleeper and gone, (p.returncode, out, work, sleeper))


def check_todo(t):
    """Tap.todo: an expected failure prints 'not ok ... # TODO' and exits 0; once it passes
    it prints 'ok ... # TODO' (meson's unexpected pass) and exits 1."""
    script = ('import sys; sys.path.insert(0, %r); from sgtest.tap import Tap; t = Tap(); '
              't.check("a", True); t.todo("b", %s, "later"); sys.exit(t.finish())')
    out = {}
    for ok in (False, True):
        p = proc.run([sys.executable, '-c', script % (TOOLS, ok)])
        out[ok] = (p.returncode, p.stdout)
    t.check('Tap.todo: a failing TODO is an expected failure (exit 0), a passing one fails',
            out[False] == (0, '1..2\nok 1 - a\nnot ok 2 - b # TODO later\n')
            and out[True] == (1, '1..2\nok 1 - a\nok 2 - b # TODO later\n'), out)


def main():
    t = Tap()
    check_todo(t)
    with tempfile.TemporaryDirectory(prefix='sg-sgtest-') as work:
        check_configs(t, work)
    check_delta(t)
    check_client_hello(t)
    check_interactive(t)
    check_killed(t)
    return t.finish()


if __name__ == '__main__':
    sys.exit(main())
