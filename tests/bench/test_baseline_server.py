#!/usr/bin/env python3
"""stormgate-dtls-baseline, the OpenSSL DTLS 1.2 server of the storms' baseline
(bench/baseline_server/, docs/fleet.md "Baseline server"), with real clients
(suite 'integration', root; tag sgbl). About 25 s.

    test_baseline_server.py BASELINE HSLOAD

Three namespaces, as in a storm's af_packet topology (docs/fleet.md): the
devices (198.18.0.2, fd00:5347::2), the server (198.18.0.1 / fd00:5347::1 on
the devices' veth, 198.18.2.1 on the backend's), the backend (198.18.2.2:5683).

  - proxy mode (2 workers): openssl s_client devices over a PSK and an
    ECDHE-PSK suite get their lines echoed by proxy_backend.py, whose parse
    of each header (written from HAProxy's spec) names the device, the
    server's address, DTLS 1.2, a 16-byte unique id and the PSK identity;
  - an unknown identity fails its handshake (unknown_psk_identity), counted;
  - answers from the backend without a header, with a wrong token or naming
    no client are counted and dropped, the right one delivered;
  - junk from the devices' side (runts, random bytes, records from unknown
    addresses, a hello with a forged cookie, a flood of 500 hellos: cookies
    only, no state kept) is counted and the server keeps serving; stormgate-hsload makes 1000 handshakes, each with an echoed
    record, all complete and the server counts them;
  - SIGTERM: exit 0 and the final JSON summary; --stats printed a line a
    second;
  - udp mode over IPv6: libcoap's coap-client-openssl GETs /time from
    coap-server-notls behind it; --max-clients refuses a third client while
    two hold sessions, and takes one again when one leaves; with two source
    ports, a third device's session is ended (no_source_port);
  - devices that vanish: after their handshake, --idle-timeout ends their
    sessions; in it (after the server's first flight), --hs-timeout fails it;
  - a credential CSV of 1,000,000 devices loads in seconds and its last
    device handshakes; bad command lines exit 2, a bad CSV exits 1 with its
    line.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import clients, e2e, proc  # noqa: E402
from sgtest.dtls import DTLS_PORT  # noqa: E402
from sgtest.lab import Lab  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY_BACKEND = os.path.join(HERE, '..', 'e2e', 'proxy_backend.py')
SRV4, DEV4, SRV6, DEV6 = '198.18.0.1', '198.18.0.2', 'fd00:5347::1', 'fd00:5347::2'
SRVB4, BE4, BE_PORT = '198.18.2.1', '198.18.2.2', 5683
CLOCK = re.compile(r'[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}')
COAP_ID = e2e.coap_identity(0)
BIG_DEVICES = 1000000


class BaselineLab(Lab):
    def __init__(self, baseline, hsload):
        tag = 'sgbl' + os.environ.get('SG_E2E_TAG_SUFFIX', '')
        super().__init__(tag, None, None, ns_dev=f'{tag}-dev', timed=True)
        self.baseline, self.hsload = baseline, hsload
        self.ns_srv, self.ns_be = f'{tag}-srv', f'{tag}-be'
        self.csv = os.path.join(self.work, 'devices.csv')

    def __enter__(self):
        super().__enter__()
        try:
            self.pair(self.ns_srv, f'{self.tag}-sd', [f'{SRV4}/24', f'{SRV6}/112'],
                      self.ns_dev, f'{self.tag}-d', [f'{DEV4}/24', f'{DEV6}/112'])
            self.pair(self.ns_srv, f'{self.tag}-sb', [f'{SRVB4}/24'],
                      self.ns_be, f'{self.tag}-b', [f'{BE4}/24'])
            with open(self.csv, 'w', encoding='utf-8') as f:
                f.write(e2e.credentials_csv())
        except BaseException:
            self.__exit__(*sys.exc_info())  # exits
        return self

    def pair(self, ns_a, if_a, addrs_a, ns_b, if_b, addrs_b):
        """A veth between namespaces ns_a and ns_b (made if new, removed at clean-up)."""
        for ns in (ns_a, ns_b):
            if ns not in self.namespaces:
                self.namespaces.append(ns)
                subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
                proc.sh('ip', 'netns', 'add', ns)
                proc.sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        proc.sh('ip', '-n', ns_a, 'link', 'add', if_a, 'type', 'veth', 'peer', 'name', if_b,
                'netns', ns_b)
        for ns, ifname, addrs in ((ns_a, if_a, addrs_a), (ns_b, if_b, addrs_b)):
            for a in addrs:
                proc.sh('ip', '-n', ns, 'addr', 'add', a, 'dev', ifname,
                        *(['nodad'] if ':' in a else []))
            proc.sh('ip', '-n', ns, 'link', 'set', ifname, 'up')

    def server(self, name, *args, csv=None):
        """The baseline in the server's namespace with --stats, once ready: (Popen,
        stats file, stderr file); RuntimeError when it does not get ready."""
        out = os.path.join(self.work, f'{name}.jsonl')
        err = os.path.join(self.work, f'{name}.err')
        with open(out, 'w') as fo, open(err, 'w') as fe:
            p = self.spawn(self.ns_srv, [self.baseline, '--credentials', csv or self.csv,
                                         '--stats', *args], stdout=fo, stderr=fe)
        if not proc.wait_for(lambda: 'ready' in read(err) or p.poll() is not None, 30, 0.05) \
                or p.poll() is not None:
            raise RuntimeError(f'{name} did not get ready:\n{read(err)[-1500:]}')
        return p, out, err

    def backend(self, argv, out):
        """A server in the backend namespace, its stdout to the file out, once bound."""
        with open(out, 'w') as f:
            p = self.spawn(self.ns_be, argv, stdout=f)
        self.wait_udp_bound(self.ns_be, BE_PORT)
        return p


def read(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        return f.read()


def stats(path):
    """The last JSON line the server printed, or {}."""
    lines = [x for x in read(path).splitlines() if x.startswith('{')]
    return json.loads(lines[-1]) if lines else {}


def wait_stats(path, pred, timeout=5):
    """The server's counters once pred(counters) holds (they come a second apart)."""
    return proc.wait_for(lambda: (lambda s: s if s and pred(s) else None)(stats(path)),
                         timeout, 0.1) or stats(path)


def fresh(path, timeout=5):
    """The counters of the first line printed from now on (they lag up to a second)."""
    t0 = stats(path).get('t', -1)
    return wait_stats(path, lambda s: s['t'] > t0, timeout)


def stop(lab, p, name, out):
    """SIGTERM: exit 0 and the final summary line."""
    p.send_signal(signal.SIGTERM)
    rc = proc.wait_exit(p, 20)
    s = stats(out)
    lab.check(f'{name}: SIGTERM: exit 0, final summary printed', rc == 0 and s.get('final'),
              f'exit {rc}\n{read(out)[-600:]}')
    return s


def handshook(c, timeout=10):
    """True once s_client -brief said its suite (on stderr): the handshake completed."""
    return proc.wait_for(lambda: 'Ciphersuite' in c.err(), timeout, 0.05)


def s_client_echo(lab, identity, key, cipher, line):
    c = clients.s_client(lab, SRV4, identity, key, cipher)
    ok = clients.echo_roundtrip(c, line)
    c.close()
    return ok, c


def proxy_mode(lab):
    check = lab.check
    pb_out = os.path.join(lab.work, 'proxy_backend.out')
    pb = lab.backend([sys.executable, PROXY_BACKEND, BE4, str(BE_PORT), '120'], pb_out)
    p, out, err = lab.server('proxy', '--listen', f'{SRV4}:{DTLS_PORT}', '--backend',
                             f'{BE4}:{BE_PORT}', '--threads', '2')
    for k, cipher in enumerate(('PSK-AES128-CCM8', 'ECDHE-PSK-CHACHA20-POLY1305')):
        ident = e2e.device_identity(k)
        ok, c = s_client_echo(lab, ident, e2e.device_key(k), cipher, f'hello {k}')
        check(f'proxy mode: s_client {cipher} gets its line echoed', ok,
              f'{c.err()[-600:]}\n{c.out[-300:]!r}')
        hdr = [json.loads(x) for x in read(pb_out).splitlines() if x.startswith('{')]
        h = next((x for x in hdr if x.get('payload') == f'hello {k}\n'), {})
        t = h.get('tlvs', {})
        check(f'proxy mode: the PROXY v2 header names device, server, DTLS 1.2, a 16-byte '
              f'unique id and the identity ({cipher})',
              h.get('src') == DEV4 and h.get('dst') == SRV4 and h.get('dport') == DTLS_PORT
              and t.get('ssl', {}).get('version') == 'DTLSv1.2'
              and len(t.get('unique_id', '')) == 32 and t.get('psk_identity') == ident,
              json.dumps(hdr)[:1200])

    c = clients.s_client(lab, SRV4, 'urn:dev:ops:nobody', 'aa' * 16, 'PSK-AES128-CCM8')
    got = c.exited(10)
    s = wait_stats(out, lambda s: s['unknown_identity'] >= 1)
    check('an unknown identity: the handshake fails (unknown_psk_identity), counted',
          got and 'unknown psk identity' in c.err() and s['unknown_identity'] == 1
          and s['handshakes_failed'] == 1 and s['handshakes_completed'] == 2,
          f'{c.err()[-400:]}\n{json.dumps(s)}')
    c.kill()

    junk(lab, out)
    hsload_1000(lab, out)
    lab.kill(pb)
    forged_answers(lab, out)

    s = stop(lab, p, 'proxy mode', out)
    lines = [x for x in read(out).splitlines() if x.startswith('{')]
    check('--stats: a JSON line a second, then the summary; no client left',
          len(lines) >= 3 and s.get('clients') == 0 and all('"t"' in x for x in lines),
          read(out)[-800:])


def junk(lab, out):
    """Junk from the devices' side is counted; the server keeps serving."""
    check = lab.check
    s0 = fresh(out)
    code = f'''
import os, socket, sys
sys.path.insert(0, {os.path.join(HERE, '..', 'tools')!r})
from sgtest.dtls import client_hello, record
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(({DEV4!r}, 0))
dst = ({SRV4!r}, {DTLS_PORT})
for i in range(20):
    s.sendto(os.urandom(i % 12 + 1), dst)                 # runts: shorter than a record header
for i in range(20):
    s.sendto(os.urandom(200), dst)                        # random bytes
    s.sendto(record(23, 1, i, os.urandom(40)), dst)       # application data, no session
    s.sendto(record(22, 0, i, b'\\x01' + os.urandom(30)), dst)  # a broken hello
s.sendto(client_hello(os.urandom(32), [0xC0A8], cookie=os.urandom(17)), dst)  # forged cookie
flood = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(50)]
for i in range(500):                                      # a flood of hellos, 50 ports
    flood[i % 50].sendto(client_hello(os.urandom(32), [0xC0A8]), dst)
'''
    r = lab.run(lab.ns_dev, [sys.executable, '-c', code])
    s = wait_stats(out, lambda s: s['drop']['size'] - s0['drop']['size'] >= 20
                   and s['drop']['junk'] - s0['drop']['junk'] >= 60
                   and s['hello_verify_sent'] - s0['hello_verify_sent'] >= 501)
    check('junk: 20 runts counted as size, 60 datagrams from an unknown address as junk, '
          'the forged cookie and a flood of 500 hellos answered with HelloVerifyRequests '
          'alone: no client, no memory kept',
          r.returncode == 0 and s['drop']['size'] - s0['drop']['size'] == 20
          and s['drop']['junk'] - s0['drop']['junk'] == 60
          and s['hello_verify_sent'] - s0['hello_verify_sent'] == 501
          and s['handshakes_completed'] == s0['handshakes_completed'] and s['clients'] == 0
          and s['heap_kib'] - s0['heap_kib'] < 256,
          f'{r.stderr[-400:]}\n{json.dumps(s0)}\n{json.dumps(s)}')
    ok, c = s_client_echo(lab, e2e.device_identity(5), e2e.device_key(5), 'PSK-AES128-GCM-SHA256',
                          'after the junk')
    check('after the junk: a device still gets its line echoed', ok, c.err()[-500:])


# A backend that answers each datagram four times: without a header, with the
# client's token changed, naming another port of the device, and rightly.
FORGER = f'''
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(({BE4!r}, {BE_PORT}))
s.settimeout(30)
while True:
    d, peer = s.recvfrom(4096)
    hl = 16 + int.from_bytes(d[14:16], 'big')
    hdr, payload = bytearray(d[:hl]), d[hl:]
    off = 16 + 12                           # IPv4: addresses and ports, then TLVs
    while hdr[off] != 0x05:                 # PP2_TYPE_UNIQUE_ID: handle, token
        off += 3 + int.from_bytes(hdr[off + 1:off + 3], 'big')
    forged = bytearray(hdr)
    forged[off + 3 + 15] ^= 1               # the token's last byte
    other = bytearray(hdr)
    other[24:26] = (int.from_bytes(hdr[24:26], 'big') ^ 1).to_bytes(2, 'big')  # sport
    for a in (b'echo:no header', bytes(forged) + b'echo:forged', bytes(other) + b'echo:other',
              bytes(hdr) + b'echo:' + payload):
        s.sendto(a, peer)
'''


def forged_answers(lab, out):
    """Answers without a header, with a wrong token, for no client: counted, not delivered."""
    check = lab.check
    f = lab.spawn(lab.ns_be, [sys.executable, '-c', FORGER])
    lab.wait_udp_bound(lab.ns_be, BE_PORT)
    s0 = fresh(out)
    c = clients.s_client(lab, SRV4, e2e.device_identity(7), e2e.device_key(7), 'PSK-AES128-CCM')
    ok = clients.echo_roundtrip(c, 'right')
    time.sleep(0.3)
    c.close()
    got = c.out.decode(errors='replace')
    s = wait_stats(out, lambda s: s['backend_in'] - s0['backend_in'] >= 4)
    d = {k: s['drop'][k] - s0['drop'][k] for k in ('backend_malformed', 'backend_forged',
                                                     'backend_unknown')}
    check('proxy mode: answers without a header, with a wrong token or for no client are '
          'counted and dropped; the right one reaches the device, alone',
          ok and d == {'backend_malformed': 1, 'backend_forged': 1, 'backend_unknown': 1}
          and 'no header' not in got and 'forged' not in got and 'other' not in got,
          f'{got!r}\n{json.dumps(s)}')
    lab.kill(f)


def hsload_1000(lab, out):
    """stormgate-hsload: 1000 handshakes, each with an echoed record, all complete."""
    s0 = fresh(out)
    r = lab.run(lab.ns_dev, [lab.hsload, '--connect', f'{SRV4}:{DTLS_PORT}', '--source', DEV4,
                             '--credentials', lab.csv, '--clients', '16', '--max', '1000',
                             '--echo', '--no-series', '--duration', '45'], timeout=60)
    try:
        h = json.loads(r.stdout.splitlines()[-1])
    except (IndexError, ValueError):
        h = {}
    s = wait_stats(out, lambda s: s['handshakes_completed'] - s0['handshakes_completed'] >= 1000
                   and s['clients'] == 0)
    lab.check('stormgate-hsload: 1000 handshakes, each with an echoed record, all complete; '
              'the server counts 1000 more, all closed by close_notify',
              (h.get('completed'), h.get('failed'), h.get('timeouts')) == (1000, 0, 0)
              and s['handshakes_completed'] - s0['handshakes_completed'] == 1000
              and s['closed_notify'] - s0['closed_notify'] == 1000
              and s['backend_in'] - s0['backend_in'] == 1000,
              f'{r.stdout[-600:]}\n{r.stderr[-300:]}\n{json.dumps(s)}')


def udp_mode(lab):
    check = lab.check
    cs = lab.backend(['coap-server-notls', '-A', BE4, '-p', str(BE_PORT)],
                     os.path.join(lab.work, 'coap-server.out'))
    p, out, err = lab.server('udp', '--listen', f'[{SRV6}]:{DTLS_PORT}', '--backend',
                             f'{BE4}:{BE_PORT}', '--backend-mode', 'udp', '--source', SRVB4,
                             '--max-clients', '2')
    r = lab.run(lab.ns_dev, clients.coap_client('coap-client-openssl', SRV6, 'time', COAP_ID,
                                                e2e.COAP_KEY_TEXT), timeout=20)
    check('udp mode, IPv6: coap-client-openssl GETs /time from coap-server-notls',
          r.returncode == 0 and CLOCK.fullmatch(r.stdout.strip()),
          f'exit {r.returncode}\n{r.stdout!r}\n{r.stderr[-600:]}')

    held = []
    for k in range(2):
        c = clients.s_client(lab, SRV6, e2e.device_identity(10 + k), e2e.device_key(10 + k),
                             'PSK-AES128-CCM')
        held.append(c)
        handshook(c)
    s0 = wait_stats(out, lambda s: s['clients'] == 2)
    third = clients.s_client(lab, SRV6, e2e.device_identity(12), e2e.device_key(12),
                             'PSK-AES128-CCM')
    s = wait_stats(out, lambda s: s['drop']['max_clients'] > s0['drop']['max_clients'])
    check('--max-clients 2: a third device is refused while two hold sessions, counted',
          s0.get('clients') == 2 and s['drop']['max_clients'] > s0['drop']['max_clients']
          and s['clients'] == 2 and 'Ciphersuite' not in third.err(),
          json.dumps(s))
    third.kill()
    held[0].close()
    wait_stats(out, lambda s: s['clients'] == 1)
    c = clients.s_client(lab, SRV6, e2e.device_identity(13), e2e.device_key(13),
                         'PSK-AES128-CCM')
    check('... and takes one again once a device left', handshook(c),
          c.err()[-400:])
    c.close()
    held[1].close()
    s = stop(lab, p, 'udp mode', out)
    check('udp mode: the answers came back on the clients\' own sockets',
          s['backend_in'] >= 1 and s['backend_out'] >= 1 and s['drop']['no_source_port'] == 0,
          json.dumps(s))
    lab.kill(cs)
    out_of_ports(lab)


def out_of_ports(lab):
    """udp mode's limit: a client beyond the source ports has its session ended, counted."""
    check = lab.check
    proc.sh('ip', 'netns', 'exec', lab.ns_srv, 'sysctl', '-q', '-w',
            'net.ipv4.ip_local_port_range=40000 40001')  # two ports (per namespace)
    p, out, err = lab.server('ports', '--listen', f'{SRV4}:{DTLS_PORT}', '--backend',
                             f'{BE4}:{BE_PORT}', '--backend-mode', 'udp', '--source', SRVB4)
    held = [clients.s_client(lab, SRV4, e2e.device_identity(20 + k), e2e.device_key(20 + k),
                             'PSK-AES128-GCM-SHA256') for k in range(3)]
    s = wait_stats(out, lambda s: s['handshakes_completed'] == 3
                   and s['drop']['no_source_port'] == 1)
    proc.wait_for(lambda: any(c.p.poll() is not None for c in held), 5, 0.05)
    gone = sum(c.p.poll() is not None for c in held)
    check('udp mode with two source ports: the third device\'s session is ended at once '
          '(no_source_port), two stay', s['handshakes_completed'] == 3
          and s['drop']['no_source_port'] == 1 and s['clients'] == 2
          and gone == 1, f'{gone} s_client(s) gone\n{json.dumps(s)}')
    for c in held:
        c.close()
    stop(lab, p, 'out of ports', out)


VANISH = f'''
import os, socket, sys
sys.path.insert(0, {os.path.join(HERE, '..', 'tools')!r})
from sgtest.dtls import client_hello
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(({SRV4!r}, {DTLS_PORT}))
rnd = os.urandom(32)
s.send(client_hello(rnd, [0xC0A8]))
hvr = s.recv(2048)              # record (13), handshake header (12), version (2), cookie
assert hvr[0] == 22 and hvr[13] == 3, hvr[:16].hex()
cookie = hvr[28:28 + hvr[27]]
hello = bytearray(client_hello(rnd, [0xC0A8], cookie=cookie))
hello[10] = hello[18] = 1       # record sequence 1, message_seq 1 (RFC 6347 §4.2.2)
s.send(hello)
flight = s.recv(2048)           # the ServerHello: the server keeps a handshake for us
assert flight[0] == 22 and flight[13] == 2, flight[:16].hex()
print('vanished')               # and never answers
'''


def timeouts(lab):
    """Devices that vanish: after a handshake (--idle-timeout) and in one (--hs-timeout)."""
    check = lab.check
    p, out, err = lab.server('idle', '--listen', f'{SRV4}:{DTLS_PORT}', '--backend',
                             f'{BE4}:{BE_PORT}', '--idle-timeout', '2s', '--hs-timeout', '3s')
    r = lab.run(lab.ns_dev, [lab.hsload, '--connect', f'{SRV4}:{DTLS_PORT}', '--source', DEV4,
                             '--credentials', lab.csv, '--clients', '8', '--max', '100',
                             '--no-close', '--no-series', '--duration', '30'], timeout=40)
    s1 = wait_stats(out, lambda s: s['handshakes_completed'] == 100)
    # a new handshake from a port the kernel gave again replaces that port's session
    check('100 devices handshake and vanish without a close_notify: their sessions stay',
          s1['handshakes_completed'] == 100 and s1['clients'] + s1['replaced'] == 100
          and s1['clients'] >= 90 and s1['closed_notify'] == 0,
          f'{r.stdout[-300:]}\n{json.dumps(s1)}')
    s2 = wait_stats(out, lambda s: s['clients'] == 0, timeout=8)
    check('--idle-timeout 2s ends every one of them, counted',
          s2['clients'] == 0 and s2['closed_idle'] == s1['clients'], json.dumps(s2))
    r = lab.run(lab.ns_dev, [sys.executable, '-c', VANISH])
    s3 = wait_stats(out, lambda s: s['handshakes_timed_out'] == 1 and s['clients'] == 0, 10)
    check('a device that vanishes mid-handshake: our flight is resent, then --hs-timeout 3s '
          'fails the handshake, counted; no client left',
          'vanished' in r.stdout and s3['handshakes_timed_out'] == 1
          and s3['handshakes_failed'] == 1 and s3['clients'] == 0
          and s3['datagrams_out'] - s2['datagrams_out'] >= 3,
          f'{r.stdout}{r.stderr[-500:]}\n{json.dumps(s3)}')
    stop(lab, p, 'timeouts', out)


def big_csv(lab):
    """1M devices: written, loaded in seconds, the last one handshakes."""
    path = os.path.join(lab.work, 'fleet.csv')
    with open(path, 'w', encoding='utf-8') as f:
        f.write('identity,psk_hex\n')
        f.writelines(f'fleet-{i:08d},{i:032x}\n' for i in range(BIG_DEVICES))
    p, out, err = lab.server('big', '--listen', f'{SRV4}:{DTLS_PORT}', '--backend',
                             f'{BE4}:{BE_PORT}', csv=path)
    m = re.search(r'(\d+) credentials loaded in ([0-9.]+) s', read(err))
    lab.check('a CSV of 1,000,000 devices loads in under 10 s',
              m and int(m.group(1)) == BIG_DEVICES and float(m.group(2)) < 10, read(err))
    last = BIG_DEVICES - 1
    c = clients.s_client(lab, SRV4, f'fleet-{last:08d}', f'{last:032x}', 'PSK-AES128-CCM8')
    lab.check('... and its last device handshakes', handshook(c), c.err()[-400:])
    c.close()
    stop(lab, p, '1M credentials', out)
    os.unlink(path)


def bad_usage(lab):
    bad = {
        'no --credentials': [],
        'udp mode without --source': ['--credentials', lab.csv, '--backend-mode', 'udp'],
        '--threads 0': ['--credentials', lab.csv, '--threads', '0'],
        'proxy mode on a wildcard --listen': ['--credentials', lab.csv, '--listen',
                                              f'0.0.0.0:{DTLS_PORT}'],
        '--source of another family': ['--credentials', lab.csv, '--source', SRV6],
        '--backend-mode tcp': ['--credentials', lab.csv, '--backend-mode', 'tcp'],
    }
    for name, args in bad.items():
        r = proc.run([lab.baseline] + args, timeout=10)
        lab.check(f'usage error exits 2: {name}', r.returncode == 2 and 'usage' in r.stderr,
                  f'exit {r.returncode}: {r.stderr[-300:]}')
    path = os.path.join(lab.work, 'bad.csv')
    with open(path, 'w', encoding='utf-8') as f:
        f.write('identity,psk_hex\nurn:a,0011\nurn:b,xyz\n')
    r = proc.run([lab.baseline, '--credentials', path], timeout=10)
    lab.check('a bad CSV row exits 1 and names its line', r.returncode == 1
              and 'bad.csv:3: psk_hex' in r.stderr, r.stderr[-300:])


def run(baseline, hsload):
    with BaselineLab(baseline, hsload) as lab:
        bad_usage(lab)
        proxy_mode(lab)
        udp_mode(lab)
        timeouts(lab)
        big_csv(lab)


if __name__ == '__main__':
    e2e.main_guard(run, ('BASELINE', 'HSLOAD'))
