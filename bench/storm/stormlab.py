"""The lab of a storm: the links between stormgate-fleet and the server under test,
the daemon's config, the servers (stormgate or the OpenSSL baseline) and the
fleet's command line (docs/storms.md, "Topology"). Built on sgtest.lab.Lab, so
every process, namespace, veth, DPDK runtime directory and the work directory is
removed on every exit (and on SIGTERM, SIGINT, SIGHUP); the memif sockets'
directory too.

Run by bench/storm/storm.py's one thread; it makes and removes namespaces,
veths, /run/stormgate-storm-TAG and DPDK's files of its own file prefixes only.

Links (addresses as in the fleet's plan; IPv6 in brackets):
  memif      the fleet's ports net_memif0/1 (role client) to the daemon's dev0/app0
             (role server), sockets in /run/stormgate-storm-TAG/, no kernel
  af_packet  veth pairs TAG-gd -- TAG-fd (devices) and TAG-gb -- TAG-fb (backend):
             the daemon on the g ends in the root namespace, the fleet on the f ends
             in namespace TAG-fl (no kernel addresses: both sides are DPDK)
  openssl    the baseline server in namespace TAG-srv: TAG-sd 198.18.0.1/24 and
             TAG-sb 198.18.2.1/24 there, a route to the devices' 198.19.0.0/16 via
             the fleet's router 198.18.0.2; the fleet on TAG-fd / TAG-fb (af_packet)
             in TAG-fl
"""
import os
import resource
import shutil
import subprocess

from sgtest import daemon, proc
from sgtest.lab import Lab
from sgtest.tap import Tap

GW_DEV4, GW_DEV6 = '198.18.0.1/24', 'fd00:5347::1/112'
ROUTER4, ROUTER6 = '198.18.0.2', 'fd00:5347::2'
GW_APP4, GW_APP6 = '198.18.2.1/24', 'fd00:5347::2:1/112'
APP4, APP6 = '198.18.2.2', 'fd00:5347::2:2'
APP_PORT, DTLS_PORT = 5683, 5684
DEVICES4, DEVICES6 = '198.19.0.0/16', 'fd00:5347::1:0:0/96'
# udp mode's source pool on app0 (part pool): a prefix per family.
POOL4, POOL6 = '198.18.64.0/18', 'fd00:5347::3:0:0/96'
# Without a pool: source ports per backend address, and the addresses udp mode may use.
SOURCE_PORTS, SOURCE_PORT_FIRST = 64512, 1024


def sizes(devices):
    """The daemon's table, memory (-m, MiB, --no-huge), credential store and session
    store for devices (a stored session takes about 200 bytes with LMDB's pages: 512
    a slot leaves room for re-keys and CID sessions)."""
    capacity = max(4096, devices * 5 // 4)
    return {'capacity': capacity, 'eal_mb': 256 + capacity // 1000 * 2,
            'map_size': f'{max(64, 64 + devices // 8000)}M',
            'store_map_size': f'{max(64, capacity * 512 >> 20)}M'}


def gateway_config(prefix, sock, creds, devargs, devices, policy, features, ipv6=False,
                   handshake=None):
    """The daemon's config sections: dev0 and app0 on devargs (a pair), udp mode to the
    fleet's application server, the table and memory for devices, policy, the
    handshake section when given ({'threads': 2}: --hs-threads). features
    (features()) says whether the daemon takes ports[].gateway and backend.source_pool:
    without a gateway key the devices' prefix is put on dev0 (they are on-link then,
    each device resolved by ARP/NDP); without a pool app0 carries enough addresses."""
    s = sizes(devices)
    dev_addrs = [GW_DEV6 if ipv6 else GW_DEV4]
    if not features.get('gateway'):
        dev_addrs.append('fd00:5347::1:ffff:fffe/96' if ipv6 else '198.19.255.254/16')
    dev0 = daemon.port('dev0', 'device', devargs[0], dev_addrs)
    if features.get('gateway'):
        dev0['gateway'] = [ROUTER6 if ipv6 else ROUTER4]
    app_addrs = [GW_APP6 if ipv6 else GW_APP4]
    backend = {'mode': 'udp', 'port': 'app0',
               'servers': [f'[{APP6}]:{APP_PORT}' if ipv6 else f'{APP4}:{APP_PORT}'],
               'source_port_first': SOURCE_PORT_FIRST, 'source_port_count': SOURCE_PORTS}
    if features.get('pool'):
        backend[features['pool']] = [POOL6 if ipv6 else POOL4]
    else:
        base = '198.18.2.' if not ipv6 else 'fd00:5347::2:'
        extra = min(7, (s['capacity'] - 1) // SOURCE_PORTS)
        app_addrs += [f'{base}{10 + i}/{112 if ipv6 else 24}' for i in range(extra)]
    app0 = daemon.port('app0', 'backend', devargs[1], app_addrs)
    return daemon.config(
        prefix, sock, creds, [dev0, app0],
        # --no-huge always: the same memory for every size, whatever hugepages the
        # machine has reserved (the daemon would take them, and fail past them)
        eal=['-l', '0-1', '--no-pci', '--no-huge', '--file-prefix', prefix, '-m', str(s['eal_mb'])],
        log={'level': 'notice'},
        workers={'idle_sleep_us': 50},
        mbufs={'count': 16383, 'cache': 128},
        sessions={'capacity': s['capacity']},
        credentials={'map_size': s['map_size']},
        store={'map_size': s['store_map_size']},
        backend=backend,
        policy=policy, **({'handshake': handshake} if handshake else {}))


# udp mode's source pool key under backend (part pool; docs/config.md).
POOL_KEY = 'source_pool'


def features(stormgate, work):
    """What the daemon's config takes, asked of `stormgate --check-config` with a
    probe file: {'gateway': bool, 'pool': key name or None}."""
    def accepted(**kw):
        cfg = gateway_config('sgprobe', os.path.join(work, 'probe.sock'),
                             os.path.join(work, 'probe-creds'),
                             ('net_null0', 'net_null1'), 1000, {}, kw)
        path = daemon.write_config(os.path.join(work, 'probe.yaml'), 'probe', cfg).path
        return proc.run([stormgate, '--check-config', path]).returncode == 0
    found = {'gateway': accepted(gateway=True), 'pool': None}
    if accepted(gateway=found['gateway'], pool=POOL_KEY):
        found['pool'] = POOL_KEY
    return found


def baseline_backend_mode(devices):
    """udp (a connected socket per client, as stormgate's udp mode) when the
    descriptor limit holds one per device, else proxy (one socket, a PROXY v2
    header naming the client): a container without CAP_SYS_RESOURCE may cap the
    hard limit (20,000 on the machine this was written on) below the fleet."""
    return 'udp' if devices + 1024 <= resource.getrlimit(resource.RLIMIT_NOFILE)[1] else 'proxy'


def baseline_sources(devices, ipv6=False):
    """The baseline's backend-side source addresses: its own on the backend link,
    then one more per SOURCE_PORTS clients (up to 64, the baseline's limit)."""
    first = GW_APP6.split('/')[0] if ipv6 else GW_APP4.split('/')[0]
    extra = min(63, (max(1, devices) - 1) // SOURCE_PORTS)
    base = 'fd00:5347::2:' if ipv6 else '198.18.2.'
    return [first] + [f'{base}{10 + i}' for i in range(extra)]


def memif_devargs(n, role, sockdir, name):
    return (f'net_memif{n},role={role},id=0,socket={os.path.join(sockdir, name)},'
            'socket-abstract=no,rsize=14')


class StormLab(Lab):
    """A Lab with the storm's links; tag names everything (at most 9 characters)."""

    def __init__(self, tag, bins, link, server):
        if len(tag) > 9:
            raise ValueError(f'tag {tag!r}: at most 9 characters (veth names)')
        super().__init__(tag, bins['stormgate'], bins['stormctl'], tap=Tap(detail_lines=60),
                         work_prefix=f'stormgate-storm-{tag}-')
        self.bins, self.link_kind, self.server = bins, link, server
        self.sockdir = f'/run/stormgate-storm-{tag}'
        self.ns_srv = f'{tag}-srv'
        # af_packet: the fleet's veth ends and the fleet in a namespace of their own.
        # DPDK 22.11's net_af_packet numbers its PACKET_FANOUT group pid ^ ifindex;
        # two processes on one veth pair in one namespace can draw the same number,
        # and the kernel then refuses the second port (docs/fleet.md).
        self.ns_fleet = f'{tag}-fl'
        self._baseline_addrs = set()

    def cleanup(self):
        super().cleanup()
        shutil.rmtree(self.sockdir, ignore_errors=True)

    # ---- links ---------------------------------------------------------------

    def links(self, ipv6=False):
        """The links; (the daemon's devargs pair or None, the fleet's devargs pair)."""
        if self.server == 'openssl':
            return None, self._baseline_links(ipv6)
        if self.link_kind == 'memif':
            shutil.rmtree(self.sockdir, ignore_errors=True)
            os.makedirs(self.sockdir, mode=0o700)
            gw = (memif_devargs(0, 'server', self.sockdir, 'dev.sock'),
                  memif_devargs(1, 'server', self.sockdir, 'app.sock'))
            fleet = (memif_devargs(0, 'client', self.sockdir, 'dev.sock'),
                     memif_devargs(1, 'client', self.sockdir, 'app.sock'))
            return gw, fleet
        self._netns(self.ns_fleet)
        for g, f in ((f'{self.tag}-gd', f'{self.tag}-fd'), (f'{self.tag}-gb', f'{self.tag}-fb')):
            self._veth(g, None, f, self.ns_fleet)
        return ((f'net_af_packet0,iface={self.tag}-gd', f'net_af_packet1,iface={self.tag}-gb'),
                (f'net_af_packet0,iface={self.tag}-fd', f'net_af_packet1,iface={self.tag}-fb'))

    def _netns(self, ns):
        self.namespaces.append(ns)
        subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
        proc.sh('ip', 'netns', 'add', ns)
        proc.sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')

    def _veth(self, a, a_ns, b, b_ns):
        """veth a (in namespace a_ns, None: the root) -- b (in b_ns), both up, no IPv6."""
        if a_ns is None:
            self.veths.append(a)
            subprocess.run(['ip', 'link', 'del', a], capture_output=True)
        proc.sh('ip', 'link', 'add', a, *(['netns', a_ns] if a_ns else []), 'type', 'veth',
                'peer', 'name', b, *(['netns', b_ns] if b_ns else []))
        for end, where in ((a, a_ns), (b, b_ns)):
            pre = ['ip', 'netns', 'exec', where] if where else []
            proc.sh(*pre, 'sysctl', '-q', '-w', f'net.ipv6.conf.{end}.disable_ipv6=1')
            proc.sh(*pre, 'ip', 'link', 'set', end, 'up')

    def _baseline_links(self, ipv6):
        ns = self.ns_srv
        self._netns(ns)
        self._netns(self.ns_fleet)
        for f, s, addr in ((f'{self.tag}-fd', f'{self.tag}-sd', GW_DEV6 if ipv6 else GW_DEV4),
                           (f'{self.tag}-fb', f'{self.tag}-sb', GW_APP6 if ipv6 else GW_APP4)):
            self._veth(f, self.ns_fleet, s, ns)
            if ipv6:
                proc.sh('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w',
                        f'net.ipv6.conf.{s}.disable_ipv6=0')
            proc.sh('ip', '-n', ns, 'addr', 'add', addr, 'dev', s, *(['nodad'] if ipv6 else []))
            # veth leaves the kernel's UDP checksums to an offload that never happens.
            proc.sh('ip', 'netns', 'exec', ns, 'ethtool', '-K', s, 'tx', 'off')
        proc.sh('ip', '-n', ns, 'route', 'add', DEVICES6 if ipv6 else DEVICES4,
                'via', ROUTER6 if ipv6 else ROUTER4)
        return (f'net_af_packet0,iface={self.tag}-fd', f'net_af_packet1,iface={self.tag}-fb')

    # ---- servers ---------------------------------------------------------------

    def gateway(self, name, devargs, devices, policy, feats, ipv6=False, handshake=None):
        """A written daemon config (sgtest.daemon.Config) for this run."""
        prefix = f'{self.tag}{name}'
        self.prefixes.append(prefix)
        cfg = gateway_config(prefix, os.path.join(self.work, f'{name}.sock'),
                             os.path.join(self.work, 'creds'), devargs, devices, policy,
                             feats, ipv6, handshake)
        return daemon.write_config(os.path.join(self.work, f'{name}.yaml'), name, cfg,
                                   f'Written by bench/storm ({self.tag}); keys: docs/config.md.')

    def start_gateway(self, cfg, timeout=60):
        """The daemon on cfg, answering on its socket; RuntimeError otherwise."""
        d = self.start(cfg)
        if not d.wait_ready(timeout):
            raise RuntimeError(f'stormgate did not come up:\n{d.log()[-2000:]}')
        return d

    def import_credentials(self, d, csv, timeout=600):
        """The fleet's CSV through the daemon's own import (stormctl credentials import)."""
        r = d.ctl('credentials', 'import', csv, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f'stormctl credentials import: exit {r.returncode}: '
                               f'{r.stdout[-500:]}{r.stderr[-1000:]}')
        return d.ctl_json('credentials', 'count')['count']

    def start_baseline(self, csv, devices, threads, ipv6=False, log_name='baseline'):
        """stormgate-dtls-baseline (docs/fleet.md, "Baseline server") in the server's
        namespace on the DTLS port, forwarding to the fleet's application server in
        udp mode as stormgate does here: one socket per client, so the backend side
        gets a source address per SOURCE_PORTS clients; (process, log path)."""
        log = os.path.join(self.work, f'{log_name}.log')
        sources = baseline_sources(devices, ipv6)
        # A connected socket per client draws its port from the namespace's ephemeral
        # range (28,232 ports by default): open it to the SOURCE_PORTS the sources are
        # counted with, or clients past it have their sessions ended (and re-handshake).
        proc.sh('ip', 'netns', 'exec', self.ns_srv, 'sysctl', '-q', '-w',
                f'net.ipv4.ip_local_port_range={SOURCE_PORT_FIRST} '
                f'{SOURCE_PORT_FIRST + SOURCE_PORTS - 1}')
        for a in sources[1:]:
            if a not in self._baseline_addrs:
                proc.sh('ip', '-n', self.ns_srv, 'addr', 'add',
                        f'{a}/{112 if ipv6 else 24}', 'dev', f'{self.tag}-sb',
                        *(['nodad'] if ipv6 else []))
                self._baseline_addrs.add(a)
        srv = f'[{GW_DEV6.split("/")[0]}]' if ipv6 else GW_DEV4.split('/')[0]
        app = f'[{APP6}]' if ipv6 else APP4
        with open(log, 'w') as f:
            p = self.spawn(self.ns_srv, [self.bins['baseline'], '--credentials', csv,
                                         '--listen', f'{srv}:{DTLS_PORT}',
                                         '--backend', f'{app}:{APP_PORT}',
                                         '--backend-mode', baseline_backend_mode(devices),
                                         '--source', ','.join(sources),
                                         '--threads', str(threads),
                                         '--max-clients', str(max(1024, devices * 5 // 4))],
                           stdout=f, stderr=subprocess.STDOUT)
        self.wait_udp_bound(self.ns_srv, DTLS_PORT, timeout=60)
        return p, log

    # ---- the fleet -------------------------------------------------------------

    def fleet_netns(self):
        """Where the fleet runs: TAG-fl on af_packet, the root namespace on memif."""
        return self.ns_fleet if self.server == 'openssl' or self.link_kind != 'memif' else None

    def fleet_eal(self, devargs, lcores, devices):
        prefix = f'{self.tag}fleet'
        self.prefixes.append(prefix)
        mem = 256 + devices // 1000  # ≤ 256 B a device outside a handshake (docs/fleet.md)
        return ['-l', lcores, '--no-pci', '--no-huge', '-m', str(mem), '--file-prefix', prefix,
                '--vdev', devargs[0], '--vdev', devargs[1]]


def fleet_options(opts):
    """stormgate-fleet's options from a dict (docs/fleet.md): `--key value`, a True value
    a bare flag, None and False left out, a list repeated (`--suite A --suite B`)."""
    out = []
    for k, v in opts.items():
        flag = '--' + k.replace('_', '-')
        if v is None or v is False:
            continue
        if v is True:
            out.append(flag)
        elif isinstance(v, (list, tuple)):
            for x in v:
                out += [flag, str(x)]
        else:
            out += [flag, str(v)]
    return out
