"""Shared set-up of the end-to-end tests (suite 'e2e'): two network namespaces
wired to a stormgate daemon's DPDK ports, real clients and servers inside them,
TAP output, and clean-up on every exit path.

    devices' namespace TAG-dev                          backend namespace TAG-be
    TAG-d  198.18.1.2/24, fd00:5347:1::2/64             TAG-b  198.18.2.2/24
      |  veth                                             |  veth
    TAG-gd = port dev0 (net_af_packet, role device)     TAG-gb = port app0 (net_af_packet,
             198.18.1.1/24, fd00:5347:1::1/64                     role backend) 198.18.2.1/24
                       \\__________ stormgate (root namespace) _________/

Every test script makes one Lab with its own tag (sge2eN: namespaces, veths and
the DPDK file prefix carry it, so two tests may run at once), and the Lab
removes the daemon, every process it started (and any left in its
namespaces), the namespaces, the veths and its work directory when the script
ends, fails, or is killed by SIGTERM/SIGINT (meson's timeout).

Usage: test_x.py STORMGATE STORMCTL (meson passes both).
"""
import glob
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest.tap import Tap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

GW4, DEV4 = '198.18.1.1', '198.18.1.2'
GW6, DEV6 = 'fd00:5347:1::1', 'fd00:5347:1::2'
GWB4, BE4 = '198.18.2.1', '198.18.2.2'
DTLS_PORT = 5684
BACKEND_PORT = 5683

# Test devices: identity -> PSK (hex). libcoap's -k takes the key as text, so
# its devices' keys are the hex of printable strings.
COAP_KEY_TEXT = 'stormgate-e2e-coap-psk'


def coap_identity(i):
    return f'urn:dev:ops:32473-e2e-coap-{i:03d}'


def device_identity(i):
    return f'urn:dev:ops:32473-e2e-{i:03d}'


def device_key(i):
    """A distinct 16-byte PSK per device (hex), derived from its number."""
    return f'{0x5347e2e0 + i:08x}' * 4


def credentials_csv(n=64):
    lines = ['identity,psk_hex']
    for i in range(n):
        lines.append(f'{device_identity(i)},{device_key(i)}')
        lines.append(f'{coap_identity(i)},{COAP_KEY_TEXT.encode().hex()}')
    lines.append('urn:dev:ops:32473-e2e-disabled,00112233445566778899aabbccddeeff,0,disabled')
    return '\n'.join(lines) + '\n'


def _sh(*args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f'{" ".join(args)}: exit {r.returncode}: {r.stderr.strip()}')
    return r


class FanoutClash(Exception):
    pass


class Daemon:
    def __init__(self, lab, name, proc, sock, log_path):
        self.lab, self.name, self.proc, self.sock, self.log_path = lab, name, proc, sock, log_path

    def ctl(self, *args, timeout=15):
        return subprocess.run([self.lab.stormctl, '--socket', self.sock] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def status(self):
        r = self.ctl('--json', 'status')
        if r.returncode != 0:
            raise RuntimeError(f'stormctl status: exit {r.returncode}: {r.stderr.strip()}')
        return json.loads(r.stdout)

    def log(self):
        with open(self.log_path, encoding='utf-8', errors='replace') as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=30):
        """stormctl shutdown; the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.ctl('shutdown')
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return None


class Lab:
    def __init__(self, tag, stormgate, stormctl):
        # SG_E2E_TAG_SUFFIX (one or two letters) lets two checkouts run the suite
        # at once on one machine without sharing namespace or veth names.
        tag += os.environ.get('SG_E2E_TAG_SUFFIX', '')
        if not tag.startswith('sge2e') or len(tag) > 10:
            raise ValueError(f'tag {tag!r}: sge2e<N>[suffix], at most 10 characters (veths)')
        self.tag = tag
        self.stormgate, self.stormctl = stormgate, stormctl
        self.ns_dev, self.ns_be = f'{tag}-dev', f'{tag}-be'
        self.veth_gd, self.veth_d = f'{tag}-gd', f'{tag}-d'
        self.veth_gb, self.veth_b = f'{tag}-gb', f'{tag}-b'
        self.work = tempfile.mkdtemp(prefix=f'{tag}-')
        self.procs = []
        self.daemons = []
        self.prefixes = []
        self.tap = Tap(detail_lines=60, progress=True)
        self.check = self.tap.check
        self._old = {}

    # ---- life cycle -----------------------------------------------------

    def __enter__(self):
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self._old[s] = signal.signal(s, self._on_signal)
        return self

    def __exit__(self, et, ev, tb):
        if et is not None and not issubclass(et, SystemExit) or (
                et is SystemExit and str(ev).startswith('killed')):
            import traceback
            self.check('no unexpected exception', False,
                       ''.join(traceback.format_exception(et, ev, tb))[-3000:])
        self.cleanup()
        for s, h in self._old.items():
            signal.signal(s, h)
        sys.exit(self.tap.finish())

    @staticmethod
    def _on_signal(signo, frame):
        raise SystemExit(f'killed by signal {signo}')

    def cleanup(self):
        # Ignore a second SIGTERM while cleaning up: the clean-up must finish.
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        for p in self.procs:
            self._kill(p)
        for d in self.daemons:
            if d.proc.poll() is None:
                d.proc.kill()
            try:
                d.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # Anything still running inside our namespaces was started by this test.
        for ns in (self.ns_dev, self.ns_be):
            r = subprocess.run(['ip', 'netns', 'pids', ns], capture_output=True, text=True)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for ns in (self.ns_dev, self.ns_be):
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
        for v in (self.veth_gd, self.veth_gb):
            subprocess.run(['ip', 'link', 'del', v], capture_output=True)
        # DPDK's runtime directory, and the hugepage files EAL leaves behind (it unlinks
        # them only with --huge-unlink, which --no-huge machines refuse).
        mounts = []
        with open('/proc/mounts') as f:
            mounts = [l.split()[1] for l in f if len(l.split()) > 2 and l.split()[2] == 'hugetlbfs']
        for prefix in set(self.prefixes):
            shutil.rmtree(f'/var/run/dpdk/{prefix}', ignore_errors=True)
            for m in mounts:
                for fn in glob.glob(os.path.join(m, f'{prefix}map_*')):
                    try:
                        os.unlink(fn)
                    except OSError:
                        pass
        if os.environ.get('SG_E2E_KEEP'):
            sys.stderr.write(f'e2e: work directory kept: {self.work}\n')
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    @staticmethod
    def _kill(p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # its own session: the whole pipeline
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    # ---- network ----------------------------------------------------------

    def netns_up(self):
        """Both namespaces, veths to the gateway's ports, addresses; no leftovers."""
        for ns in (self.ns_dev, self.ns_be):
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
        for v in (self.veth_gd, self.veth_gb):
            subprocess.run(['ip', 'link', 'del', v], capture_output=True)
        for ns, gw_end, ns_end, addrs in (
                (self.ns_dev, self.veth_gd, self.veth_d, [f'{DEV4}/24', f'{DEV6}/64']),
                (self.ns_be, self.veth_gb, self.veth_b, [f'{BE4}/24'])):
            _sh('ip', 'netns', 'add', ns)
            _sh('ip', 'link', 'add', gw_end, 'type', 'veth', 'peer', 'name', ns_end, 'netns', ns)
            # The gateway owns the addresses on its end, not the host's kernel.
            _sh('sysctl', '-q', '-w', f'net.ipv6.conf.{gw_end}.disable_ipv6=1')
            _sh('ip', 'link', 'set', gw_end, 'up')
            _sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
            if not any(':' in a for a in addrs):
                _sh('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w',
                    f'net.ipv6.conf.{ns_end}.disable_ipv6=1')
            for a in addrs:
                _sh('ip', '-n', ns, 'addr', 'add', a, 'dev', ns_end,
                    *(['nodad'] if ':' in a else []))
            _sh('ip', '-n', ns, 'link', 'set', ns_end, 'up')
            # veth leaves UDP checksums to an offload that never happens; the
            # frames DPDK reads through AF_PACKET would carry partial sums.
            _sh('ip', 'netns', 'exec', ns, 'ethtool', '-K', ns_end, 'tx', 'off')
        # No static neighbours: the gateway answers ARP and neighbour solicitations.

    def mac(self, ifname, ns=None):
        r = _sh(*(['ip', '-n', ns] if ns else ['ip']), '-j', 'link', 'show', ifname)
        return json.loads(r.stdout)[0]['address']

    # ---- processes --------------------------------------------------------

    def spawn(self, ns, args, stdout=None, stderr=None, stdin=None, text=True, **kw):
        """Start args inside namespace ns (None: the root namespace); tracked for clean-up."""
        cmd = (['ip', 'netns', 'exec', ns] if ns else []) + list(args)
        p = subprocess.Popen(cmd, stdout=stdout if stdout is not None else subprocess.DEVNULL,
                             stderr=stderr if stderr is not None else subprocess.DEVNULL,
                             stdin=stdin if stdin is not None else subprocess.DEVNULL,
                             text=text, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def run(self, ns, args, timeout=30, input=None):
        """Run args in ns to completion (killed, with its children, after timeout)."""
        p = self.spawn(ns, args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.PIPE if input is not None else None)
        try:
            out, err = p.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(p)
            out, err = p.communicate()
            err = (err or '') + f'\n[killed after {timeout} s]'
        return subprocess.CompletedProcess(p.args, p.returncode, out or '', err or '')

    def python(self, ns, script_args, **kw):
        return self.spawn(ns, [sys.executable] + list(script_args), **kw)

    # ---- the daemon ---------------------------------------------------------

    def config(self, name, backend_mode='udp', backend_server=f'{BE4}:{BACKEND_PORT}',
               policy='cookie_mode: always', sessions='capacity: 4096', dev_devargs=None,
               extra=''):
        prefix = f'{self.tag}{name}'
        self.prefixes.append(prefix)
        path = os.path.join(self.work, f'{name}.yaml')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(f"""\
# Written by tests/e2e ({self.tag}); keys: docs/config.md.
eal: [-l, 0-1, --no-pci, --file-prefix, {prefix}]
log: {{level: info}}
control: {{socket: {self.work}/{name}.sock}}
workers: {{idle_sleep_us: 50}}
mbufs: {{count: 8191, cache: 64}}
sessions: {{{sessions}}}
credentials: {{db: {self.work}/creds, map_size: 16M}}
ports:
  - name: dev0
    role: device
    devargs: {dev_devargs or f'net_af_packet0,iface={self.veth_gd}'}
    addresses: [{GW4}/24, "{GW6}/64"]
  - name: app0
    role: backend
    devargs: net_af_packet1,iface={self.veth_gb}
    addresses: [{GWB4}/24]
backend:
  mode: {backend_mode}
  port: app0
  servers: ["{backend_server}"]
policy: {{{policy}}}
{extra}""")
        return path

    def start_daemon(self, name='gw', **cfg_kw):
        """A configured daemon with the test devices' credentials, answering on its socket.

        DPDK 22.11's net_af_packet joins a PACKET_FANOUT group numbered (pid ^ ifindex)
        & 0xffff; another process's group of the same number on another interface makes
        the kernel refuse it (EINVAL) and the port does not come up. Daemons of tests
        running side by side can meet that, so a start that failed for this reason is
        tried again (a new process, a new number)."""
        for _ in range(3):
            try:
                return self._start_daemon(name, **cfg_kw)
            except FanoutClash:
                sys.stderr.write(f'e2e: {name}: PACKET_FANOUT group taken, starting again\n')
        return self._start_daemon(name, **cfg_kw)

    def _start_daemon(self, name, **cfg_kw):
        cfg = self.config(name, **cfg_kw)
        csv = os.path.join(self.work, 'devices.csv')
        if not os.path.exists(csv):
            with open(csv, 'w', encoding='utf-8') as f:
                f.write(credentials_csv())
            r = subprocess.run([self.stormgate, '--config', cfg, '--import-credentials', csv],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise RuntimeError(f'--import-credentials: {r.stdout}{r.stderr}')
        log_path = os.path.join(self.work, f'{name}.log')
        log = open(log_path, 'w')
        p = subprocess.Popen([self.stormgate, '--config', cfg, '--no-status'], stdout=log,
                             stderr=subprocess.STDOUT, text=True)
        log.close()
        d = Daemon(self, name, p, os.path.join(self.work, f'{name}.sock'), log_path)
        self.daemons.append(d)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if p.poll() is not None:
                if 'could not set PACKET_FANOUT' in d.log():
                    self.daemons.remove(d)
                    raise FanoutClash()
                raise RuntimeError(f'stormgate exited {p.returncode}:\n{d.log()[-2000:]}')
            if os.path.exists(d.sock) and d.ctl('version').returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f'stormgate did not answer in 60 s:\n{d.log()[-2000:]}')
        # The gateway asks for the backend server's MAC once a second; wait for the
        # answer, so the first request of a test is not dropped as no_neighbour.
        end = time.monotonic() + 10
        while d.status()['punts_taken']['arp'] < 1:
            if time.monotonic() > end:
                raise RuntimeError('the backend server never answered the gateway\'s ARP')
            time.sleep(0.05)
        return d

    # ---- backends -----------------------------------------------------------

    def udp_echo(self, port=BACKEND_PORT, addr=BE4, ns=None):
        """The UDP echo server in the backend namespace ("echo:" + the datagram)."""
        p = self.python(ns or self.ns_be, [os.path.join(HERE, '..', 'tools', 'udp_echo.py'), addr, str(port)],
                        stdout=subprocess.PIPE)
        line = p.stdout.readline()  # "ready" once bound
        if 'ready' not in line:
            raise RuntimeError('udp_echo.py did not start')
        return p

    def coap_server(self):
        p = self.spawn(self.ns_be, ['coap-server-notls', '-A', BE4, '-p', str(BACKEND_PORT)])
        wait_udp_bound(self, self.ns_be, BACKEND_PORT)
        return p


class Interactive:
    """A client driven line by line: send() writes to its stdin, expect() waits
    for text on its stdout; stderr goes to a file (read by err() after exit)."""

    def __init__(self, lab, ns, args, env=None):
        self.err_path = os.path.join(lab.work, f'client-{len(lab.procs)}.err')
        self._err = open(self.err_path, 'wb')
        self.lab = lab
        self.p = lab.spawn(ns, args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=self._err, text=False, env=env)
        self._err.close()
        self.out = b''

    def send(self, line):
        try:
            self.p.stdin.write(line.encode() + b'\n')
            self.p.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            return False

    def expect(self, text, timeout=10):
        """True once text (a string, or a compiled bytes pattern) appeared on stdout
        (since the start), False on timeout or exit."""
        def found():
            if hasattr(text, 'search'):
                return text.search(self.out) is not None
            return text.encode() in self.out

        end = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while not found():
            left = end - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([fd], [], [], min(left, 0.2))
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return found()
                self.out += chunk
        return True

    def close(self, timeout=10):
        """End of input (the client says goodbye), then its exit status."""
        try:
            self.p.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.lab._kill(self.p)
        self.out += self.p.stdout.read() or b''
        return self.p.returncode

    def kill(self):
        self.lab._kill(self.p)

    def err(self):
        with open(self.err_path, 'rb') as f:
            return f.read().decode(errors='replace')


def s_client(lab, host, identity, key, cipher, extra=(), ns=None):
    """OpenSSL s_client over DTLS 1.2 with a PSK, to the gateway. -brief, not -quiet:
    -quiet implies -ign_eof, and this client must leave (close_notify) at end of input."""
    h = f'[{host}]' if ':' in host else host
    return Interactive(lab, ns or lab.ns_dev,
                       ['openssl', 's_client', '-dtls1_2', '-brief', '-connect', f'{h}:{DTLS_PORT}',
                        '-psk_identity', identity, '-psk', key, '-cipher', cipher, *extra])


def gnutls_cli(lab, host, identity, key, priority, extra=(), ns=None, env=None):
    """GnuTLS gnutls-cli over DTLS 1.2 with a PSK, to the gateway."""
    return Interactive(lab, ns or lab.ns_dev,
                       ['gnutls-cli', '--udp', '--pskusername', identity, '--pskkey', key,
                        '--priority', priority, '-p', str(DTLS_PORT), *extra, host], env=env)


def echo_roundtrip(client, line, timeout=10):
    return client.send(line) and client.expect(f'echo:{line}\n', timeout)


class Capture:
    """dumpcap on an interface inside a namespace, into a pcapng file."""

    def __init__(self, lab, ns, iface, name):
        self.path = os.path.join(lab.work, f'{name}.pcapng')
        self.lab = lab
        self.p = lab.spawn(ns, ['dumpcap', '-q', '-i', iface, '-w', self.path],
                           stderr=subprocess.PIPE)
        # dumpcap says "Capturing on ..." once it listens.
        end = time.monotonic() + 10
        buf = b''
        fd = self.p.stderr.fileno()
        while b'Capturing on' not in buf and time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
        if b'Capturing on' not in buf:
            raise RuntimeError(f'dumpcap did not start: {buf.decode(errors="replace")}')

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)  # dumpcap finishes the file on SIGINT
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.lab._kill(self.p)
        return self.path


def tshark(pcap, *args, keylog=None):
    """tshark over a capture, the DTLS port decoded as DTLS (with a key log: decrypted)."""
    cmd = ['tshark', '-n', '-r', pcap, '-d', f'udp.port=={DTLS_PORT},dtls']
    if keylog:
        cmd += ['-o', f'tls.keylog_file:{keylog}']
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)


def tshark_fields(pcap, display_filter, names, *extra, keylog=None):
    """(result, rows): one row per matching packet, the fields' values ('a,b' if repeated)."""
    args = ['-Y', display_filter, '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=a',
            *extra]
    for n in names:
        args += ['-e', n]
    r = tshark(pcap, *args, keylog=keylog)
    return r, [l.split('|') for l in r.stdout.splitlines() if l.strip()]


def wait_udp_bound(lab, ns, port, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = subprocess.run(['ip', 'netns', 'exec', ns, 'ss', '-Hlun', f'sport = :{port}'],
                           capture_output=True, text=True)
        if r.stdout.strip():
            return True
        time.sleep(0.05)
    raise RuntimeError(f'nothing bound UDP port {port} in {ns}')


def counters(status):
    """Data-plane totals, handshake counters and drops of one `stormctl --json status`."""
    c = status['counters']
    return {
        'rx': status['rx_packets'],
        'up': c['forwarded_up'],
        'down': c['forwarded_down'],
        'punted': c['punted'],
        'punts': dict(c['punts']),
        'drops': dict(status['drops']),
        'hs': dict(status['handshakes']['counters']),
        'installed': status['handshakes']['installed'],
        'replaced': status['handshakes']['replaced'],
        'failed': status['handshakes']['failed'],
        'resumed': status['handshakes']['completed_resumed'],
        'in_flight': status['handshakes']['in_flight'],
    }


def delta(after, before):
    """after - before for every numeric counter, nested dicts too; zeros left out."""
    out = {}
    for k, v in after.items():
        if isinstance(v, dict):
            d = {kk: vv - before.get(k, {}).get(kk, 0) for kk, vv in v.items()}
            out[k] = {kk: vv for kk, vv in d.items() if vv}
        else:
            out[k] = v - before.get(k, 0)
    return out


def main_guard(fn):
    """Root check and the standard argv of every e2e script."""
    if len(sys.argv) < 3:
        sys.stderr.write(f'usage: {sys.argv[0]} STORMGATE STORMCTL\n')
        sys.exit(2)
    if os.geteuid() != 0:
        print('1..0 # SKIP needs root (network namespaces, AF_PACKET)')
        sys.exit(0)
    fn(sys.argv[1], sys.argv[2])
