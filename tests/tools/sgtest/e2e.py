"""The end-to-end topology (suite 'e2e'): two network namespaces wired to a
stormgate daemon's DPDK ports, the test devices' credentials, and the standard
argv of every e2e script.

    devices' namespace TAG-dev                          backend namespace TAG-be
    TAG-d  198.18.1.2/24, fd00:5347:1::2/64             TAG-b  198.18.2.2/24
      |  veth                                             |  veth
    TAG-gd = port dev0 (net_af_packet, role device)     TAG-gb = port app0 (net_af_packet,
             198.18.1.1/24, fd00:5347:1::1/64                     role backend) 198.18.2.1/24
                       \\__________ stormgate (root namespace) _________/

Every test script makes one E2ELab with its own tag (sge2eN: namespaces, veths
and the DPDK file prefix carry it, so two tests may run at once); entering it
makes the namespaces, and it removes everything when the script ends, fails, or
is killed.

Usage of a script: test_x.py STORMGATE STORMCTL (meson passes both).
"""
import os
import sys

from . import daemon, proc
from .lab import Lab
from .tap import Tap

GW4, DEV4 = '198.18.1.1', '198.18.1.2'
GW6, DEV6 = 'fd00:5347:1::1', 'fd00:5347:1::2'
GWB4, BE4 = '198.18.2.1', '198.18.2.2'
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


class FanoutClash(Exception):
    pass


class E2ELab(Lab):
    def __init__(self, tag, stormgate, stormctl):
        # SG_E2E_TAG_SUFFIX (one or two letters) lets two checkouts run the suite
        # at once on one machine without sharing namespace or veth names.
        tag += os.environ.get('SG_E2E_TAG_SUFFIX', '')
        if not tag.startswith('sge2e') or len(tag) > 10:
            raise ValueError(f'tag {tag!r}: sge2e<N>[suffix], at most 10 characters (veths)')
        super().__init__(tag, stormgate, stormctl, tap=Tap(detail_lines=60, progress=True),
                         ns_dev=f'{tag}-dev')
        self.ns_be = f'{tag}-be'
        self.veth_gd, self.veth_d = f'{tag}-gd', f'{tag}-d'
        self.veth_gb, self.veth_b = f'{tag}-gb', f'{tag}-b'

    def __enter__(self):
        """The lab, its namespaces up; a failure to make them is reported (TAP) and
        cleaned up like one in the script."""
        super().__enter__()
        try:
            self.netns_up()
        except BaseException:
            self.__exit__(*sys.exc_info())  # exits
        return self

    def netns_up(self):
        """Both namespaces, veths to the gateway's ports, addresses. No static
        neighbours: the gateway answers ARP and neighbour solicitations."""
        self.link(self.ns_dev, self.veth_gd, self.veth_d, [f'{DEV4}/24', f'{DEV6}/64'])
        self.link(self.ns_be, self.veth_gb, self.veth_b, [f'{BE4}/24'])

    def e2e_config(self, name, backend_mode='udp', backend_server=f'{BE4}:{BACKEND_PORT}',
                   policy=None, sessions=None, dev_devargs=None, backend=None, **sections):
        """The daemon's config: dev0 on the devices' veth, app0 on the backend's, the
        backend server; policy (default: cookie_mode always) and sessions (default:
        capacity 4096) as dicts; backend: more keys of that section (source_pool); more
        sections as keywords (metrics={...})."""
        ports = [
            daemon.port('dev0', 'device', dev_devargs or f'net_af_packet0,iface={self.veth_gd}',
                        [f'{GW4}/24', f'{GW6}/64']),
            daemon.port('app0', 'backend', f'net_af_packet1,iface={self.veth_gb}',
                        [f'{GWB4}/24']),
        ]
        return self.config(
            name, ports,
            workers={'idle_sleep_us': 50},
            mbufs={'count': 8191, 'cache': 64},
            sessions={'capacity': 4096} if sessions is None else sessions,
            credentials={'map_size': '16M'},
            backend={'mode': backend_mode, 'port': 'app0', 'servers': [backend_server],
                     **(backend or {})},
            policy={'cookie_mode': 'always'} if policy is None else policy, **sections)

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
        cfg = self.e2e_config(name, **cfg_kw)
        csv = os.path.join(self.work, 'devices.csv')
        if not os.path.exists(csv):
            with open(csv, 'w', encoding='utf-8') as f:
                f.write(credentials_csv())
            r = proc.run([self.stormgate, '--config', cfg.path, '--import-credentials', csv],
                         timeout=60)
            if r.returncode != 0:
                raise RuntimeError(f'--import-credentials: {r.stdout}{r.stderr}')
        d = self.start(cfg)
        if not d.wait_ready(60):
            if d.alive():
                raise RuntimeError(f'stormgate did not answer in 60 s:\n{d.log()[-2000:]}')
            if 'could not set PACKET_FANOUT' in d.log():
                self.daemons.remove(d)
                raise FanoutClash()
            raise RuntimeError(f'stormgate exited {d.proc.returncode}:\n{d.log()[-2000:]}')
        # The gateway asks for the backend server's MAC once a second; wait for the
        # answer, so the first request of a test is not dropped as no_neighbour.
        if not proc.wait_for(lambda: d.status()['punts_taken']['arp'] >= 1, timeout=10,
                             step=0.05):
            raise RuntimeError('the backend server never answered the gateway\'s ARP')
        return d

    def check_stop(self, d):
        """The check every e2e script ends with: the daemon stops on stormctl shutdown."""
        rc = d.stop()
        return self.check('daemon stops cleanly (exit 0)', rc == 0, d.log()[-1500:])

    def coap_server(self):
        """libcoap's coap-server-notls in the backend namespace, once bound."""
        p = self.spawn(self.ns_be, ['coap-server-notls', '-A', BE4, '-p', str(BACKEND_PORT)])
        self.wait_udp_bound(self.ns_be, BACKEND_PORT)
        return p


def main_guard(fn, args=('STORMGATE', 'STORMCTL')):
    """Root check and the argv of every e2e script: fn(*argv[1:]) with one value per name in
    args (the standard two: the daemon and stormctl)."""
    if len(sys.argv) < 1 + len(args):
        sys.stderr.write(f'usage: {sys.argv[0]} {" ".join(args)}\n')
        sys.exit(2)
    if os.geteuid() != 0:
        print('1..0 # SKIP needs root (network namespaces, AF_PACKET)')
        sys.exit(0)
    fn(*sys.argv[1:1 + len(args)])
