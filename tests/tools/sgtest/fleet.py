"""The storm topology of issue 14 for the tests: a stormgate and a stormgate-fleet
joined by two memif links (docs/fleet.md, "Topology"), no namespaces or veths.

    with FleetLab('sgfl1', stormgate, stormctl, fleet) as lab:
        lab.creds(300)                                    # the fleet writes them, the daemon imports
        d = lab.start(lab.gateway_config('gw'))
        r, rep = lab.run_fleet('--devices', '300', '--duration', '5')
    # here the daemon, the fleet, the memif sockets, DPDK's runtime directories
    # and the work directory are gone, and the script has exited with the TAP status

stormgate is the memif server of both links (it can start first), the fleet the
client. The sockets live in /run/stormgate-storm-<tag>/; every DPDK process has its
own file prefix with the tag in it; SG_E2E_TAG_SUFFIX is appended to the tag, as
the e2e lab does, so two checkouts never share a name.

The gateway's device port has 198.18.0.1/24. Devices are 198.19.0.0/16, off that
subnet: with the pool part's `ports[].gateway` (next hop 198.18.0.2, the fleet's
router address) the gateway sends to them through one neighbour; a daemon without
that key sends to them on the link and learns each device from the ARP request the
fleet sends from the device's own address (--announce), so run_fleet() adds
--announce when the key is missing. In udp mode the gateway's side towards the
application server takes its source addresses from 198.18.64.0/18 when it can.
"""
import json
import os
import shutil
import subprocess

from . import daemon, proc
from .lab import Lab
from .tap import Tap

GW_DEV4, GW_APP4, ROUTER4, APP4 = '198.18.0.1', '198.18.2.1', '198.18.0.2', '198.18.2.2'
GW_DEV6, GW_APP6, ROUTER6, APP6 = 'fd00:5347::1', 'fd00:5347::2:1', 'fd00:5347::2', 'fd00:5347::2:2'
SOURCE_POOL4, SOURCE_POOL6 = '198.18.64.0/18', 'fd00:5347::3:0:0/96'
DTLS_PORT, APP_PORT = 5684, 5683
HOLD_S = 120  # the longest a fleet holds its ports after its report
HELD_MARK = 'report written; holding the ports'  # what it says then (fleet_main.c)


class FleetLab(Lab):
    def __init__(self, tag, stormgate, stormctl, fleet):
        tag += os.environ.get('SG_E2E_TAG_SUFFIX', '')
        super().__init__(tag, stormgate, stormctl, tap=Tap(detail_lines=60, progress=True),
                         timed=True)
        self.fleet_exe = fleet
        self.sock_dir = f'/run/stormgate-storm-{tag}'
        self.n_fleet = 0
        self.csv = os.path.join(self.work, 'devices.csv')
        self._next_hop = None
        self.held = []  # fleets holding their ports after their report (run_fleet())

    def __enter__(self):
        super().__enter__()
        shutil.rmtree(self.sock_dir, ignore_errors=True)
        os.makedirs(self.sock_dir, mode=0o700)
        return self

    def cleanup(self):
        for d in self.daemons:  # the daemons first, then the fleets holding their ports
            d.kill()
        super().cleanup()
        shutil.rmtree(self.sock_dir, ignore_errors=True)

    def memif(self, n, role):
        """Devargs of memif link n (0: devices, 1: application server) for role."""
        return f'net_memif{n},role={role},socket={self.sock_dir}/{"dev" if n == 0 else "app"}.sock'

    def fleet_netns(self, ns, pairs):
        """Namespace ns and veth pairs (a, b) with a in the root namespace (the gateway's
        af_packet ports) and b in ns (the fleet's: run_fleet(ns=ns)); no addresses, no
        IPv6, so neither kernel answers anything on them. The fleet's ends are in their
        own namespace because DPDK 22.11's af_packet PMD names its PACKET_FANOUT group
        pid ^ ifindex, and the kernel refuses (EINVAL) a group of that name on another
        device in the same namespace: two processes on the two ends of veth pairs in one
        namespace draw the same name often, their pids being close. Removed at clean-up."""
        self.namespaces.append(ns)
        subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
        proc.sh('ip', 'netns', 'add', ns)
        for a, b in pairs:
            self.veths.append(a)
            subprocess.run(['ip', 'link', 'del', a], capture_output=True)
            proc.sh('ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', ns)
            proc.sh('sysctl', '-q', '-w', f'net.ipv6.conf.{a}.disable_ipv6=1')
            proc.sh('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w',
                    f'net.ipv6.conf.{b}.disable_ipv6=1')
            proc.sh('ip', 'link', 'set', a, 'up')
            proc.sh('ip', '-n', ns, 'link', 'set', b, 'up')

    def gateway_config(self, name, backend_mode='udp', policy=None, capacity=4096, ipv6=False,
                       devargs=None, sessions=None, **sections):
        """The daemon's config: dev0 and app0 as memif servers (devargs: other devargs of
        both), our application server as its backend, cookies always (policy overrides),
        and when this daemon has them (part pool of issue 14) the next hop to the devices
        (`ports[].gateway`) and, in udp mode, a source pool towards the application
        server (`backend.source_pool`: more sessions than one address's ports); IPv6
        addresses instead of IPv4 with ipv6; sessions: more keys of `sessions:`; more
        sections as keywords (metrics={...})."""
        devargs = devargs or (self.memif(0, 'server'), self.memif(1, 'server'))
        gw_dev, gw_app = (f'{GW_DEV6}/112', f'{GW_APP6}/112') if ipv6 else (f'{GW_DEV4}/24',
                                                                         f'{GW_APP4}/24')
        app = f'[{APP6}]:{APP_PORT}' if ipv6 else f'{APP4}:{APP_PORT}'
        dev = daemon.port('dev0', 'device', devargs[0], [gw_dev])
        if self.next_hop():
            dev['gateway'] = [ROUTER6 if ipv6 else ROUTER4]
        ports = [dev, daemon.port('app0', 'backend', devargs[1], [gw_app])]
        backend = {'mode': backend_mode, 'port': 'app0', 'servers': [app]}
        if backend_mode == 'udp' and self.next_hop():  # the pool part's source addresses
            backend['source_pool'] = [SOURCE_POOL6 if ipv6 else SOURCE_POOL4]
        return self.config(
            name, ports,
            mbufs={'count': 8191, 'cache': 64},
            sessions={'capacity': capacity, **(sessions or {})},
            backend=backend,
            policy={'cookie_mode': 'always', **(policy or {})}, **sections)

    def next_hop(self):
        """Whether this daemon takes `ports[].gateway` (part pool of issue 14): asked once,
        of `stormgate --check-config` on a config that has it."""
        if self._next_hop is None:
            cfg = daemon.config('sgflcheck', '/run/x.sock', '/run/x', [
                {**daemon.port('dev0', 'device', 'net_null0', [f'{GW_DEV4}/24']),
                 'gateway': [ROUTER4]}])
            path = os.path.join(self.work, 'check.yaml')
            daemon.write_config(path, 'check', cfg)
            r = proc.run([self.stormgate, '--check-config', path])
            self._next_hop = r.returncode == 0
        return self._next_hop

    def creds(self, devices, seed=None):
        """The fleet's credentials for devices written (--write-creds) and imported into
        the store every config of this lab uses, before a daemon starts."""
        r = proc.run([self.fleet_exe, '--write-creds', self.csv, '--devices', str(devices),
                      *(['--seed', seed] if seed else [])])
        if r.returncode != 0:
            raise RuntimeError(f'--write-creds: exit {r.returncode}: {r.stderr.strip()}')
        cfg = self.gateway_config('import')
        r = proc.run([self.stormgate, '--config', cfg.path, '--import-credentials', self.csv],
                     timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f'import: exit {r.returncode}: {r.stdout.strip()} {r.stderr.strip()}')

    def fleet_args(self, opts, devargs=None):
        """stormgate-fleet's command line (on lcore 0, without hugepages, its own file
        prefix, both memif clients unless devargs names its two ports) and its report."""
        self.n_fleet += 1
        prefix = f'{self.tag}fleet{self.n_fleet}'
        self.prefixes.append(prefix)
        report = os.path.join(self.work, f'fleet{self.n_fleet}.json')
        devargs = devargs or (self.memif(0, 'client'), self.memif(1, 'client'))
        args = [self.fleet_exe, '-l', '0', '--no-pci', '--no-huge', '-m', '256',
                '--file-prefix', prefix, '--log-level', 'lib.eal:warning',
                '--vdev', devargs[0], '--vdev', devargs[1], '--', '--report', report, *opts]
        if not self.next_hop():
            args.append('--announce')
        return args, report

    @staticmethod
    def report(path):
        """The fleet's --report JSON, or None."""
        if not os.path.exists(path):
            return None
        with open(path, encoding='utf-8') as f:
            return json.load(f)

    def run_fleet(self, *opts, timeout=60, devargs=None, ns=None):
        """stormgate-fleet with opts (fleet_args()) run in namespace ns (None: this one)
        until it wrote its report; (CompletedProcess, the --report JSON or None).
        It then holds its ports (--hold: DPDK 22.11's memif frees a link's regions under
        the peer's busy worker when one side leaves, docs/fleet.md "Ending a run"), so
        the daemon can be checked and stopped first; release_fleets() ends it (the next
        run_fleet() and the clean-up call it). A fleet that ends without holding (an
        error) is reaped here with its exit status."""
        self.release_fleets()
        args, report = self.fleet_args(opts, devargs)
        args[args.index('--') + 1:1 + args.index('--')] = ['--hold', str(HOLD_S)]
        log_path = os.path.join(self.work, f'fleet{self.n_fleet}.log')
        with open(log_path, 'w') as log:
            p = self.spawn(ns, args, stdout=log, stderr=subprocess.STDOUT)

        def log_text():
            with open(log_path, encoding='utf-8', errors='replace') as f:
                return f.read()
        held = proc.wait_for(lambda: p.poll() is not None or HELD_MARK in log_text(),
                             timeout=timeout, step=0.1)
        if p.poll() is None and held:
            self.held.append(p)
            rc = 0
        else:
            if p.poll() is None:
                proc.kill(p)
            rc = p.wait()
        text = log_text() + ('' if held else f'\n[killed after {timeout} s]')
        return subprocess.CompletedProcess(args, rc, '', text), self.report(report)

    def release_fleets(self):
        """End the fleets holding their ports (run_fleet()), once their gateway stopped."""
        for p in self.held:
            if p.poll() is None:
                p.terminate()
            proc.wait_exit(p, timeout=10)
        self.held = []

    def spawn_fleet(self, *opts):
        """stormgate-fleet with opts started (fleet_args()); wait_fleet() ends it."""
        args, report = self.fleet_args(opts)
        p = self.spawn(None, args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.report_path = report
        return p

    def wait_fleet(self, p, timeout=60):
        """(CompletedProcess, report or None) of a spawn_fleet() once it exits (killed
        after timeout s)."""
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill(p)
            out, err = p.communicate()
        return (subprocess.CompletedProcess(p.args, p.returncode, out or '', err or ''),
                self.report(p.report_path))
