#!/usr/bin/env python3
"""Integration tests of stormgate and stormctl, as TAP (suite 'integration').

  test_daemon.py STORMGATE STORMCTL VERSION [B_SANITIZE]

Checks, in order: the CLIs' usage and exit codes; --check-config on the
sample (exit 0) and on every tests/control/configs/broken-*.yaml (exit 2, the
exact `file:line:column: message` lines each file lists in its `# expect:`
comments); --import-credentials (good file, atomic failure on a bad one);
stormctl without a daemon (exit 1). As root, then: a daemon on a DPDK
net_af_packet port bound to a veth whose peer sits in a network namespace the
test creates, plus a net_ring port; stormctl version/ports/status --json;
exactly N datagrams sent from the namespace end in exactly N handshake punts
drops; raw protocol errors; a second daemon on the same socket is refused;
`stormctl shutdown`, SIGINT, SIGTERM and --duration all stop with exit 0;
in the ASan+UBSan build, no daemon's output holds a sanitizer report.

Every daemon is started with a unique --file-prefix and killed on any
failure; the namespace, veth and temporary files are removed in all cases.
"""
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import ROOT, clients, ctl, daemon, proc, sanitizer  # noqa: E402
from sgtest.dtls import DTLS_PORT  # noqa: E402
from sgtest.lab import Lab  # noqa: E402

STORMGATE, STORMCTL, VERSION = sys.argv[1:4]
SANITIZE = sys.argv[4] if len(sys.argv) > 4 else 'none'  # meson's b_sanitize
TAG = f'sgt{os.getpid() % 100000}'
NS = TAG
VETH_GW = TAG + 'g'  # our end, where DPDK's af_packet socket binds
VETH_DEV = TAG + 'd'  # the device end, inside the namespace
GW_IP, DEV_IP = '198.18.1.1', '198.18.1.2'

run = proc.run


MBUFS_BACK = r'mbuf pool: all \d+ mbufs back'


def test_cli(lab):
    check, work = lab.check, lab.work
    r = run([STORMGATE, '--help'])
    check('stormgate --help exits 0 with usage', r.returncode == 0 and 'Usage: stormgate' in r.stdout)
    r = run([STORMGATE, '--version'])
    check('stormgate --version prints the version', r.returncode == 0 and VERSION in r.stdout, r.stdout)
    r = run([STORMGATE, '--bogus'])
    check('stormgate with a bad option exits 2', r.returncode == 2, r.returncode)
    r = run([STORMGATE, '--duration', 'soon', '--config', '/dev/null'])
    check('stormgate --duration with a non-number exits 2', r.returncode == 2
          and 'duration' in r.stderr, r.stderr)
    r = run([STORMCTL, '--help'])
    check('stormctl --help exits 0 with usage', r.returncode == 0 and 'Usage: stormctl' in r.stdout)
    r = run([STORMCTL])
    check('stormctl without a command exits 2', r.returncode == 2, r.returncode)
    r = run([STORMCTL, '--bogus', 'status'])
    check('stormctl with a bad option exits 2', r.returncode == 2, r.returncode)
    r = ctl.stormctl(STORMCTL, os.path.join(work, 'nobody.sock'), 'status')
    check('stormctl with no daemon: exit 1 and a clear error',
          r.returncode == 1 and 'cannot connect' in r.stderr and 'is stormgate running' in r.stderr,
          f'{r.returncode} {r.stderr!r}')
    # A socket file nobody listens on (a crashed daemon) is the same error.
    dead = os.path.join(work, 'dead.sock')
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(dead)
    s.close()
    r = ctl.stormctl(STORMCTL, dead, '--json', 'status')
    check('stormctl on a stale socket: exit 1, connection refused',
          r.returncode == 1 and 'Connection refused' in r.stderr, r.stderr)


def test_check_config(lab):
    check = lab.check
    sample = os.path.join(ROOT, 'deploy', 'stormgate.yaml')
    r = run([STORMGATE, '--check-config', sample])
    check('--check-config deploy/stormgate.yaml exits 0 with a summary',
          r.returncode == 0 and f'{sample}: OK' in r.stdout and 'dev0' in r.stdout,
          r.stdout + r.stderr)
    check('the summary says the udp-mode backend capacity and warns below sessions.capacity',
          'carries 40000 sessions (1 source address(es) x 40000 ports)' in r.stdout
          and 'fewer than sessions.capacity 1000000' in r.stderr, r.stdout + r.stderr)
    pool = os.path.join(lab.work, 'pool.yaml')
    with open(pool, 'w') as fh:
        fh.write('ports:\n'
                 '  - {name: dev0, role: device, devargs: net_null0,'
                 ' addresses: [198.18.0.1/24], gateway: [198.18.0.2]}\n'
                 '  - {name: app0, role: backend, devargs: net_null1,'
                 ' addresses: [198.18.2.1/24, "fd00:5347::2:1/112"]}\n'
                 'sessions: {capacity: 10000000}\n'
                 'backend:\n  servers: ["[fd00:5347::2:2]:5683"]\n  source_port_count: 16\n'
                 '  source_pool: [198.18.64.0/18, "fd00:5347::3:0:0/96"]\n')
    r = run([STORMGATE, '--check-config', pool])
    check('--check-config with an IPv6 /96 source pool: 2^32 addresses x 16 ports, no warning',
          r.returncode == 0 and 'carries 68719476736 sessions (4294967296 source address(es)'
          ' x 16 ports)' in r.stdout and 'warning' not in r.stderr, r.stdout + r.stderr)
    cdir = os.path.join(ROOT, 'tests', 'control', 'configs')
    broken = sorted(f for f in os.listdir(cdir) if f.startswith('broken-'))
    check('there are broken configs to test', len(broken) >= 3, broken)
    for f in broken:
        path = os.path.join(cdir, f)
        with open(path) as fh:
            want = [f'{path}:{m}' for m in re.findall(r'^# expect: (.*)$', fh.read(), re.M)]
        r = run([STORMGATE, '--check-config', path])
        got = r.stderr.splitlines()
        ok = (r.returncode == 2 and got[:-1] == want
              and got[-1] == f'{path}: {len(want)} error(s)')
        check(f'--check-config {f}: exit 2 and {len(want)} file:line:column error(s)', ok,
              f'exit {r.returncode}\n  got:  ' + '\n  got:  '.join(got)
              + '\n  want: ' + '\n  want: '.join(want))
        r = run([STORMGATE, '--config', path, '--duration', '1'])
        check(f'the daemon refuses to start on {f} (exit 2)', r.returncode == 2
              and want[0] in r.stderr, r.stderr)


def test_import(lab):
    check = lab.check
    cfg = lab.config('imp', [daemon.port('dev0', 'device', 'net_null0')])
    csv = os.path.join(ROOT, 'deploy', 'sample-devices.csv')
    with open(csv) as f:
        n = sum(1 for l in f if l.strip() and not l.startswith('#') and not l.startswith('identity,'))
    r = run([STORMGATE, '--config', cfg.path, '--import-credentials', csv])
    check(f'--import-credentials sample-devices.csv imports {n}',
          r.returncode == 0 and f'imported {n} credential(s)' in r.stdout
          and f'({n} stored)' in r.stdout, r.stdout + r.stderr)
    bad = os.path.join(lab.work, 'bad.csv')
    with open(bad, 'w', encoding='utf-8') as f:
        f.write('new-device-1,00112233445566778899aabbccddeeff\n'
                'new-device-2,0011223344556677\n'
                'new-device-3,not-hex\n')
    r = run([STORMGATE, '--config', cfg.path, '--import-credentials', bad])
    check('--import-credentials with a bad line 3: exit 1, file:line, nothing imported',
          r.returncode == 1 and f'{bad}:3: psk_hex' in r.stderr and 'nothing imported' in r.stderr,
          r.stderr)
    r = run([STORMGATE, '--config', cfg.path, '--import-credentials', csv])
    check('re-importing replaces, the count stays', r.returncode == 0 and f'({n} stored)' in r.stdout,
          r.stdout)
    return n


def dev0():
    """The device port on our end of the veth, with the gateway's address."""
    return daemon.port('dev0', 'device', f'net_af_packet0,iface={VETH_GW}', [f'{GW_IP}/24'])


def send_datagrams(n, size):
    code = ('import socket\n'
            's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n'
            f'for i in range({n}): s.sendto(bytes({size}), ("{GW_IP}", {DTLS_PORT}))\n')
    proc.sh('ip', 'netns', 'exec', NS, sys.executable, '-c', code)


def port(status, name):
    return next(p for p in status['ports'] if p['name'] == name)


def test_daemon(lab, n_creds):
    check = lab.check
    lab.link(NS, VETH_GW, VETH_DEV, [f'{DEV_IP}/24'], gw_neigh=GW_IP)
    p = lab.start(lab.config('main', [dev0(), daemon.port('app0', 'backend', 'net_ring0')]))
    sock = p.sock
    if not check('daemon starts and answers on its control socket', p.wait_ready(), p.log()):
        return
    st = os.stat(sock)
    check('control socket has mode 0660', st.st_mode & 0o777 == 0o660, oct(st.st_mode))

    v = p.ctl_json('version')
    check('stormctl --json version: daemon version and protocol 1',
          v['version'] == VERSION and v['protocol'] == 1 and v['dpdk'].startswith('DPDK'), v)
    check('version lists the commands', {c['name'] for c in v['commands']}
          >= {'version', 'status', 'ports', 'shutdown'}, v['commands'])

    ports = p.ctl_json('ports')['ports']
    check('stormctl --json ports: two ports in config order',
          [(x['name'], x['role']) for x in ports] == [('dev0', 'device'), ('app0', 'backend')],
          ports)
    check('dev0 is net_af_packet with its address and a link',
          ports[0]['driver'] == 'net_af_packet' and ports[0]['addresses'] == ['198.18.1.1/24']
          and ports[0]['link']['up'] is True and ports[0]['rx_queues'] == 1, ports[0])
    check('app0 is net_ring', ports[1]['driver'] == 'net_ring', ports[1])

    s0 = p.status()
    check('status: running, main lcore 0, one worker on lcore 1',
          s0['state'] == 'running' and s0['lcores']['main'] == 0
          and [w['lcore'] for w in s0['lcores']['workers']] == [1], s0['lcores'])
    check('status: memory mode matches the machine',
          s0['memory']['hugepages'] == daemon.hugepages_available(), s0['memory'])
    check('status: the data plane runs, handshakes go to the control plane',
          'running' in s0['dataplane'] and 'handshakes' in s0, s0)
    check(f'status: credential store holds the {n_creds} imported devices',
          s0['credentials']['count'] == n_creds, s0['credentials'])
    check('status: nothing received before traffic', s0['rx_packets'] == 0, s0['rx_packets'])

    n, size = 25, 100
    send_datagrams(n, size)
    frame = 14 + 20 + 8 + size
    proc.wait_for(lambda: port(p.status(), 'dev0')['rx_packets'] >= n, timeout=10)
    time.sleep(0.5)  # anything extra would show up now
    s1 = p.status()
    d = port(s1, 'dev0')
    check(f'{n} datagrams from the namespace: dev0 received exactly {n} ({n * frame} bytes)',
          d['rx_packets'] == n and d['rx_bytes'] == n * frame, d)
    c = s1['counters']
    check(f'every one of them (epoch 0: a handshake record) is punted, none dropped',
          c['punted'] == n and c['punts']['handshake'] == n and c['drops'] == {}
          and d['device']['ipackets'] == n, c)
    hc = s1['handshakes']['counters']
    check('the handshake server took them all and dropped them as malformed, no state kept',
          s1['punts_taken']['handshake'] == n and hc.get('drop_malformed', 0)
          + hc.get('drop_no_state', 0) == n and s1['handshakes']['in_flight'] == 0, s1)
    check('totals: data plane received == punted, app0 saw nothing',
          s1['rx_packets'] == n and port(s1, 'app0')['rx_packets'] == 0, s1)
    check('worker lcore counted them', s1['lcores']['workers'][0]['rx_packets'] == n,
          s1['lcores'])

    r = p.ctl('status')
    check('stormctl status prints a table', r.returncode == 0 and 'PORT' in r.stdout
          and 'dev0' in r.stdout and 'handshake' in r.stdout, r.stdout)
    r = p.ctl('frobnicate')
    check('unknown command: exit 1 with the daemon\'s error',
          r.returncode == 1 and 'unknown_command' in r.stderr, r.stderr)

    resp = ctl.exchange(sock, b'{"v":1,"cmd":"status"\n')
    check('raw: bad JSON gets parse_error', resp['error']['code'] == 'parse_error', resp)
    resp = ctl.exchange(sock, b'{"v":7,"cmd":"status","id":"a"}\n')
    check('raw: wrong version gets unsupported_version with the id',
          resp['error']['code'] == 'unsupported_version' and resp['id'] == 'a', resp)
    resp = ctl.exchange(sock, b'x' * 70000)
    check('raw: a request over control.max_request gets request_too_large',
          resp['error']['code'] == 'request_too_large', resp)

    # A second daemon must not steal the socket of a live one.
    dup = lab.config('dup', [daemon.port('dev0', 'device', 'net_ring1')],
                     control={'socket': sock})
    p2 = lab.start(dup, '--duration', '30')
    rc2 = p2.wait(60)
    check('a second daemon on the same socket exits 1 and says why',
          rc2 == 1 and 'another stormgate is running' in p2.log(), p2.log()[-500:])
    check('... and the first one still answers', p.ctl('version').returncode == 0)

    r = p.ctl('shutdown')
    check('stormctl shutdown: exit 0', r.returncode == 0 and 'stopping' in r.stdout, r.stdout + r.stderr)
    rc = p.wait(30)
    out = p.log()
    check('daemon exits 0 after shutdown', rc == 0, f'exit {rc}\n{out[-800:]}')
    check('its log says why and that it stopped cleanly',
          'stopping (stormctl shutdown)' in out and 'stopped cleanly' in out, out[-800:])
    check('the control socket file is gone', not os.path.exists(sock))
    r = p.ctl('status')
    check('stormctl after shutdown: exit 1', r.returncode == 1, r.stderr)


def test_stop_paths(lab):
    check = lab.check
    for how in ('SIGINT', 'SIGTERM', 'duration'):
        cfg = lab.config(f'stop{how.lower()}', [daemon.port('dev0', 'device', 'net_ring0')])
        p = lab.start(cfg, *(['--duration', '2'] if how == 'duration' else []))
        if how != 'duration':
            if not check(f'{how}: daemon comes up', p.wait_ready(), p.log()):
                continue
            p.proc.send_signal(getattr(signal, how))
        rc = p.wait(60)
        out = p.log()
        reason = '--duration elapsed' if how == 'duration' else how
        check(f'{how}: clean stop, exit 0', rc == 0 and f'stopping ({reason})' in out
              and 'stopped cleanly' in out, f'exit {rc}\n{out[-800:]}')
        check(f'{how}: every mbuf back in the pool', re.search(MBUFS_BACK, out), out[-800:])


def test_dtls_echo(lab):
    """A real DTLS client (OpenSSL s_client) in the namespace, through the gateway,
    to a UDP echo server in the namespace, and back."""
    check = lab.check
    ident = 'urn:dev:ops:32473-meter-0002'
    key = '7bdebcfab2aae258c6a80f9881a91e1c'
    # The echo server lives on the devices' link: the device network is trusted here
    # (docs/architecture.md, "Trust model").
    cfg = lab.config('echo', [dev0()],
                     backend={'mode': 'udp', 'trust_device_network': True,
                              'servers': [f'{DEV_IP}:5683']},
                     policy={'cookie_mode': 'always'})
    p = lab.start(cfg)
    if not check('echo: daemon starts', p.wait_ready(), p.log()):
        return
    check('echo: the daemon warns that the device network is trusted',
          'the device network is trusted' in p.log(), p.log()[-800:])
    echo = lab.udp_echo(NS, DEV_IP, 5683, lifetime=60)
    for cipher in ('PSK-AES128-CCM8', 'PSK-AES128-GCM-SHA256', 'PSK-CHACHA20-POLY1305'):
        line = f'hello stormgate {cipher}'
        c = clients.s_client(lab, GW_IP, ident, key, cipher)
        ok = clients.echo_roundtrip(c, line)
        c.close()  # end of input: the client leaves with a close_notify
        check(f'echo: openssl s_client {cipher}: handshake, record out, echo back',
              ok, f'stdout {c.out[-400:]!r}\nstderr {c.err()[-600:]!r}')
    s = p.status()
    c = s['counters']
    check('echo: three sessions installed by the handshake server',
          s['handshakes']['installed'] == 3, s.get('handshakes'))
    check('echo: records went up to the server and replies down to the device',
          c['forwarded_up'] >= 3 and c['forwarded_down'] >= 3, c)
    check('echo: each client closed with an authenticated close_notify, punted',
          c['punts']['alert'] == 3, c)
    # A wrong key: the handshake fails (decrypt_error) and nothing is installed.
    c = clients.s_client(lab, GW_IP, ident, '00112233445566778899aabbccddeeff',
                         'PSK-AES128-CCM8')
    c.send('x')
    c.close()
    s = p.status()
    check('echo: a wrong key installs nothing and is counted',
          s['handshakes']['installed'] == 3 and s['handshakes']['failed'] >= 1, s['handshakes'])
    p.ctl('shutdown')
    check('echo: daemon exits 0', p.wait() == 0, p.log()[-800:])
    check('echo: after the traffic every mbuf is back in the pool',
          re.search(MBUFS_BACK, p.log()), p.log()[-800:])
    lab.kill(echo)


def test_sanitizer_logs(lab):
    """ASan+UBSan build: no report in any daemon's output, LeakSanitizer's
    exit check included (so only daemons that exited by themselves count)."""
    done = [d for d in lab.daemons if not d.alive()]
    lab.check('every daemon started has exited by itself',
              len(done) == len(lab.daemons) and done, f'{len(done)} of {len(lab.daemons)}')
    sanitizer.check_logs(lab.tap, SANITIZE, STORMGATE, ''.join(d.log() for d in done),
                         f"the {len(done)} daemons' logs")


def main():
    with Lab(TAG, STORMGATE, STORMCTL, work_prefix='sg-itest-', ns_dev=NS) as lab:
        test_cli(lab)
        test_check_config(lab)
        n = test_import(lab)
        if os.geteuid() != 0:
            lab.skip('daemon tests', 'need root (network namespace, AF_PACKET)')
        else:
            test_daemon(lab, n)
            test_dtls_echo(lab)
            test_stop_paths(lab)
            test_sanitizer_logs(lab)


if __name__ == '__main__':
    main()
