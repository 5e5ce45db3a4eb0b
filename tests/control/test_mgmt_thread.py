#!/usr/bin/env python3
"""Integration test of the management thread (issue 13), as TAP (suite
'integration', root).

  test_mgmt_thread.py STORMGATE STORMCTL [B_SANITIZE]

One daemon on a DPDK net_af_packet port bound to a veth whose peer sits in a
network namespace (sgmt<pid>) with real DTLS clients (OpenSSL s_client) and a
UDP echo server. The control socket and the credential store's writes run on
the management thread (sg-mgmt), the handshakes on the gateway thread
(docs/control.md, "Threads"). Checked, in order:

  - the daemon has a thread named sg-mgmt beside its lcores;
  - the gateway does not wait for management: another process holds LMDB's
    one write transaction (`stormgate --import-credentials` reading a FIFO
    the test keeps open), a `credentials.import` begin blocks the management
    thread on it, and meanwhile a device handshakes and its datagrams are
    echoed; once the other writer commits, the import begins;
  - `credentials add` during the import answers `conflict` at once;
  - devices handshake while the import streams identities in (50,000 or more);
  - the commit ends the sessions of the identities whose key it replaced:
    one made before the import, one made while it ran (with the old key,
    which handshakes read until the commit), not the one whose key it left
    as it was; the answer counts them (revoked_identities), the devices get
    their close_notify, the new key handshakes and the old one no longer;
  - SIGTERM while an import is open: the daemon stops cleanly (exit 0),
    the import aborted; in the ASan+UBSan build, no sanitizer report.

Cleanup (namespace, veth, daemon, clients, files) runs whatever happens.
"""
import base64
import fcntl
import os
import signal
import struct
import sys
import termios
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import clients, daemon, proc, sanitizer  # noqa: E402
from sgtest.ctl import Raw  # noqa: E402
from sgtest.lab import Lab  # noqa: E402

STORMGATE, STORMCTL = sys.argv[1:3]
SANITIZE = sys.argv[3] if len(sys.argv) > 3 else 'none'  # meson's b_sanitize
TAG = f'sgmt{os.getpid() % 100000}'
NS = TAG
VETH_GW, VETH_DEV = TAG + 'g', TAG + 'd'
GW_IP, DEV_IP = '198.18.74.1', '198.18.74.2'
KEY_A = '7bdebcfab2aae258c6a80f9881a91e1c'
KEY_B = '00112233445566778899aabbccddeeff'
KEY_C = 'c0ffee00c0ffee00c0ffee00c0ffee00'
KEY_NEW = '0f1e2d3c4b5a69788796a5b4c3d2e1f0'
BULK = 50000
CHUNK = 32 << 10  # bytes of CSV per data request: in base64 under control.max_request

LAB = None
D = None
wait_for = proc.wait_for


def check(name, ok, detail=''):
    return LAB.check(name, ok, detail)


def ctl(*args, **kw):
    return D.ctl(*args, **kw)


def dtls(ident, key):
    return clients.s_client(LAB, GW_IP, ident, key, 'PSK-AES128-CCM8')


def echo(c, text, timeout=10):
    return clients.echo_roundtrip(c, text, timeout)


def one_echo(ident, key, text):
    c = dtls(ident, key)
    ok = echo(c, text, timeout=8)
    c.close()
    return ok


def daemon_log():
    return D.log()[-3000:] if D is not None else ''


def start_daemon():
    global D
    LAB.link(NS, VETH_GW, VETH_DEV, [f'{DEV_IP}/24'], gw_neigh=GW_IP)
    LAB.udp_echo(NS, DEV_IP, 5683, lifetime=300)
    cfg = LAB.config(
        'gw', [daemon.port('dev0', 'device', f'net_af_packet0,iface={VETH_GW}', [f'{GW_IP}/24'])],
        sessions={'capacity': 4096},
        credentials={'map_size': '256M'},
        backend={'mode': 'udp', 'trust_device_network': True, 'servers': [f'{DEV_IP}:5683']})
    D = LAB.start(cfg)
    D.ctl_timeout = 30
    if not check('daemon starts and answers', D.wait_ready(), daemon_log()):
        return None
    for ident, key in (('dev-a', KEY_A), ('dev-b', KEY_B), ('dev-c', KEY_C)):
        r = ctl('credentials', 'add', ident, input=key + '\n')
        if not check(f'credentials add {ident}', r.returncode == 0, r.stderr):
            return None
    return cfg


def b64(text):
    return base64.b64encode(text.encode()).decode()


def threads_of(pid):
    names = []
    for tid in os.listdir(f'/proc/{pid}/task'):
        with open(f'/proc/{pid}/task/{tid}/comm') as f:
            names.append(f.read().strip())
    return names


def test_thread():
    names = threads_of(D.proc.pid)
    check('the daemon runs a management thread (sg-mgmt) beside its lcores',
          'sg-mgmt' in names and any(n.startswith('rte-worker') for n in names), names)


def pipe_unread(fd):
    """Bytes written to a pipe that its reader has not read yet."""
    return struct.unpack('i', fcntl.ioctl(fd, termios.FIONREAD, b'\0' * 4))[0]


def open_writer(fifo):
    """The FIFO's write end once its reader has opened it; None after 10 s."""
    def try_open():
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return None
    fd = wait_for(try_open, timeout=10, step=0.05)
    if fd is None:
        return None
    os.set_blocking(fd, True)
    return os.fdopen(fd, 'w')


def other_writer(cfg):
    """`stormgate --import-credentials FIFO` on the daemon's store: once it has read the
    first line it holds LMDB's write transaction until the FIFO closes.
    (process, FIFO writer, whether it read the line)"""
    fifo = os.path.join(LAB.work, 'other.csv')
    os.mkfifo(fifo)
    p = LAB.spawn(None, [STORMGATE, '--config', cfg.path, '--import-credentials', fifo],
                  stdout=open(os.path.join(LAB.work, 'other.out'), 'w'))
    w = open_writer(fifo)
    if w is None:
        return p, None, False
    w.write(f'ext-000001,{KEY_NEW}\n')
    w.flush()
    ok = wait_for(lambda: pipe_unread(w.fileno()) == 0, timeout=10, step=0.02)
    return p, w, ok


def test_gateway_never_waits(cfg):
    """LMDB's writer is busy in another process: management waits, the gateway does not."""
    p, w, ok = other_writer(cfg)
    if not check('another process holds the credential store\'s write transaction', ok):
        return None
    a = Raw(D.sock, timeout=60)
    a.send(b'{"v": 1, "cmd": "credentials.import", "args": {"phase": "begin"}}\n')
    time.sleep(0.5)
    t0 = time.monotonic()
    served = one_echo('dev-a', KEY_A, 'while management waits for LMDB')
    took = time.monotonic() - t0
    a.s.setblocking(False)
    try:
        early = a.s.recv(4096)
    except BlockingIOError:
        early = b''
    a.s.setblocking(True)
    check('meanwhile a device handshakes and is served (the gateway thread goes on)',
          served, daemon_log())
    check('... while the import\'s begin still waits for the other writer (the management '
          'thread)', early == b'', (early, took))
    w.close()
    rc = proc.wait_exit(p, 30)
    resp = a.line(timeout=30)
    check('the other writer commits; then the import begins',
          rc == 0 and (resp or {}).get('result', {}).get('phase') == 'begin', (rc, resp))
    return a


def stream(a, stop, out):
    """Feed new identities to the import of client a, CHUNK bytes of CSV a data request:
    BULK of them at full speed, then more, slowly, until stop is set (a thread; at most
    20 * BULK)."""
    out['answers'], out['lines'] = [], 0
    per = CHUNK // len(f'urn:dev:ops:sgmt-{0:07d},{0:032x}\n')
    while out['lines'] < 20 * BULK and (out['lines'] < BULK or not stop.is_set()):
        n = out['lines']
        text = ''.join(f'urn:dev:ops:sgmt-{i:07d},{i:032x}\n' for i in range(n, n + per))
        out['answers'].append(a.call('credentials.import', {'phase': 'data', 'data': b64(text)}))
        out['lines'] += per
        if 'result' not in out['answers'][-1]:
            return
        if out['lines'] >= BULK:
            time.sleep(0.02)  # enough streamed: the rest only keeps it open, gently


def test_import(a, b, c):
    t0 = time.monotonic()
    r = ctl('credentials', 'add', 'dev-z', input=KEY_A + '\n')
    took = time.monotonic() - t0
    check('credentials add during the import: conflict, answered at once',
          r.returncode == 1 and 'conflict' in r.stderr and took < 5, (r.stderr, took))

    out, stop = {}, threading.Event()
    feeder = threading.Thread(target=stream, args=(a, stop, out))
    feeder.start()
    # dev-a's session, with the key the import will replace; then more devices.
    new_a = dtls('dev-a', KEY_A)
    during = [echo(new_a, 'dev-a during the import') and feeder.is_alive()]
    while feeder.is_alive() and len(during) < 4:
        during.append(one_echo('dev-c', KEY_C, 'during the import') and feeder.is_alive())
    stop.set()
    feeder.join(120)
    answers = out.get('answers') or [{}]
    check(f'devices handshake and are served while identities stream in '
          f'({out.get("lines")} lines)', len(during) == 4 and all(during), during)
    check('... every data request taken', all('result' in x for x in answers), answers[-1:])

    # dev-a another key, dev-b another key, dev-c the key it had.
    last = a.call('credentials.import', {'phase': 'data', 'data': b64(
        f'dev-a,{KEY_NEW}\ndev-b,{KEY_NEW}\ndev-c,{KEY_C}\n')})
    s0 = D.ctl_json('stats')['credentials']['sessions_revoked']
    resp = a.call('credentials.import', {'phase': 'commit'})
    res = (resp or {}).get('result', {})
    check('commit: every line imported, 2 identities revoked (dev-a, dev-b)',
          res.get('imported') == out['lines'] + 3 and res.get('revoked_identities') == 2,
          (last, resp))
    check('... dev-a\'s session made during the import with the old key ends (close_notify)',
          new_a.exited(10))
    check('... dev-b\'s session made before it ends too', b.exited(10))
    check('... dev-c, whose key stayed, keeps its session', echo(c, 'dev-c after'))
    check('... counted: stats credentials.sessions_revoked + 2',
          wait_for(lambda: D.ctl_json('stats')['credentials']['sessions_revoked'] == s0 + 2,
                   timeout=5))
    check('... the new key handshakes', one_echo('dev-a', KEY_NEW, 'new key'))
    check('... the old one no longer', not one_echo('dev-b', KEY_B, 'old key'))
    c.close()
    a.close()


def test_sigterm_during_import():
    a = Raw(D.sock)
    ok = 'result' in (a.call('credentials.import', {'phase': 'begin'}) or {})
    ok = ok and 'result' in (a.call('credentials.import', {
        'phase': 'data', 'data': b64('urn:dev:ops:sgmt-aborted,00112233\n')}) or {})
    check('an import is open', ok)
    D.proc.send_signal(signal.SIGTERM)
    rc = D.wait(30)
    log = D.log()
    check('SIGTERM during the import: exit 0, stopped cleanly, the import aborted',
          rc == 0 and 'stopped cleanly' in log and 'nothing imported' in log
          and not os.path.exists(D.sock), log[-3000:])
    a.close()
    sanitizer.check_logs(LAB.tap, SANITIZE, STORMGATE, log, "the daemon's log")


def main():
    global LAB
    with Lab(TAG, STORMGATE, STORMCTL, work_prefix='sgmt-itest-', ns_dev=NS, timed=True) as LAB:
        if os.geteuid() != 0:
            LAB.skip('management thread tests', 'need root (namespace, AF_PACKET)')
            return
        cfg = start_daemon()
        if cfg is None:
            return
        test_thread()
        b, c = dtls('dev-b', KEY_B), dtls('dev-c', KEY_C)
        check('dev-b and dev-c have sessions', echo(b, 'dev-b before') and echo(c, 'dev-c'))
        a = test_gateway_never_waits(cfg)
        if a is not None:
            test_import(a, b, c)
        test_sigterm_during_import()


if __name__ == '__main__':
    main()
