"""The lab of the integration and end-to-end tests: network namespaces joined
to the gateway's DPDK ports by veth pairs, the processes started in them, the
daemons, a work directory and the TAP results; all of it removed when the
script ends, fails, or is killed (SIGTERM from meson's timeout, SIGINT, SIGHUP).

    with Lab('sgt123', stormgate, stormctl, ns_dev='sgt123') as lab:
        lab.link('sgt123', 'sgt123g', 'sgt123d', ['198.18.1.2/24'], gw_neigh='198.18.1.1')
        d = lab.start(lab.config('main', [daemon.port('dev0', 'device', ...)]))
        lab.check('the daemon answers', d.wait_ready(), d.log())
    # here the namespaces, veths, processes, DPDK files and work directory are
    # gone, and the script has exited with the TAP status

Every name (namespace, veth, DPDK file prefix) carries the script's tag, so two
scripts never share one. Addresses come from 198.18.0.0/15 (RFC 2544's
benchmarking range) and fd00:5347::/48 (unique local).

The gateway's end of each veth stays in the root namespace, where the daemon's
net_af_packet (or net_pcap) port binds it; it has no IPv6 (no router
solicitations or MLD reports: the gateway sees only the frames the test sends)
and the gateway, not the host's kernel, owns its addresses. The namespace's
end carries the test's addresses and has TX checksum offload off: veth leaves
UDP checksums to an offload that never happens, so the frames the port reads
through AF_PACKET would carry partial checksums and be dropped as udp_checksum.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from . import daemon, proc, tool
from .tap import Tap

_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Lab:
    def __init__(self, tag, stormgate, stormctl, tap=None, work_prefix=None, ns_dev=None,
                 timed=False):
        """tag names everything the lab makes; ns_dev is the devices' namespace, where
        clients run unless told otherwise; timed: the TAP output ends with the run time."""
        self.tag = tag
        self.stormgate, self.stormctl = stormgate, stormctl
        self.ns_dev = ns_dev
        self.work = tempfile.mkdtemp(prefix=work_prefix or f'{tag}-')
        self.tap = tap or Tap()
        self.check, self.skip = self.tap.check, self.tap.skip
        self.namespaces, self.veths = [], []  # to remove: registered before they are made
        self.procs, self.daemons, self.prefixes = [], [], []
        self._t0 = time.monotonic() if timed else None
        self._old = {}

    # ---- life cycle ---------------------------------------------------------

    def __enter__(self):
        for s in _SIGNALS:
            self._old[s] = signal.signal(s, self._on_signal)
        return self

    def __exit__(self, et, ev, tb):
        if et is not None and not issubclass(et, SystemExit) or (
                et is SystemExit and str(ev).startswith('killed')):
            detail = ''.join(traceback.format_exception(et, ev, tb))[-3000:]
            if self.daemons:
                detail += f'\nlast daemon\'s log:\n{self.daemons[-1].log()[-1500:]}'
            self.check('no unexpected exception', False, detail)
        self.cleanup()
        for s, h in self._old.items():
            signal.signal(s, h)
        footer = f'{time.monotonic() - self._t0:.1f} s' if self._t0 is not None else None
        sys.exit(self.tap.finish(footer))

    @staticmethod
    def _on_signal(signo, frame):
        raise SystemExit(f'killed by signal {signo}')

    def cleanup(self):
        """Kill what is left, remove the namespaces, veths, DPDK's runtime and hugepage
        files and the work directory (kept with SG_E2E_KEEP=1). Never raises."""
        for s in _SIGNALS:  # a second SIGTERM must not stop the clean-up
            signal.signal(s, signal.SIG_IGN)
        for p in self.procs:
            proc.kill(p)
        for d in self.daemons:
            d.kill()
        # Anything still running inside our namespaces was started by this test.
        for ns in self.namespaces:
            r = subprocess.run(['ip', 'netns', 'pids', ns], capture_output=True, text=True)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        self._remove_links()
        daemon.remove_runtime(self.prefixes)
        if os.environ.get('SG_E2E_KEEP'):
            sys.stderr.write(f'{self.tag}: work directory kept: {self.work}\n')
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def _remove_links(self):
        for ns in self.namespaces:
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
        for v in self.veths:
            subprocess.run(['ip', 'link', 'del', v], capture_output=True)

    # ---- network ----------------------------------------------------------

    def link(self, ns, gw_end, ns_end, addrs, gw_neigh=None):
        """A veth pair gw_end (root namespace, for the gateway's port) -- ns_end (in
        namespace ns, made here, with addrs, e.g. ['198.18.1.2/24']); no leftover of
        an earlier run in the way. IPv6 is off on ns_end unless addrs hold an IPv6
        address. gw_neigh: the gateway's address, as a static neighbour at gw_end's MAC
        (else the namespace's kernel asks by ARP or neighbour solicitation)."""
        self.namespaces.append(ns)
        self.veths.append(gw_end)
        subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
        subprocess.run(['ip', 'link', 'del', gw_end], capture_output=True)
        proc.sh('ip', 'netns', 'add', ns)
        proc.sh('ip', 'link', 'add', gw_end, 'type', 'veth', 'peer', 'name', ns_end, 'netns', ns)
        proc.sh('sysctl', '-q', '-w', f'net.ipv6.conf.{gw_end}.disable_ipv6=1')
        proc.sh('ip', 'link', 'set', gw_end, 'up')
        proc.sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        if not any(':' in a for a in addrs):
            proc.sh('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w',
                    f'net.ipv6.conf.{ns_end}.disable_ipv6=1')
        for a in addrs:
            proc.sh('ip', '-n', ns, 'addr', 'add', a, 'dev', ns_end,
                    *(['nodad'] if ':' in a else []))
        proc.sh('ip', '-n', ns, 'link', 'set', ns_end, 'up')
        proc.sh('ip', 'netns', 'exec', ns, 'ethtool', '-K', ns_end, 'tx', 'off')
        if gw_neigh:
            proc.sh('ip', '-n', ns, 'neigh', 'add', gw_neigh, 'lladdr', self.mac(gw_end),
                    'dev', ns_end, 'nud', 'permanent')

    def mac(self, ifname, ns=None):
        """The MAC address of ifname (in namespace ns, else the root namespace)."""
        r = proc.sh(*(['ip', '-n', ns] if ns else ['ip']), '-j', 'link', 'show', ifname)
        return json.loads(r.stdout)[0]['address']

    # ---- processes --------------------------------------------------------

    def spawn(self, ns, args, stdout=None, stderr=None, stdin=None, text=True, **kw):
        """Start args inside namespace ns (None: the root namespace), in a session of its
        own; killed with its children at clean-up. Standard streams: /dev/null unless given."""
        cmd = (['ip', 'netns', 'exec', ns] if ns else []) + list(args)
        p = subprocess.Popen(cmd, stdout=stdout if stdout is not None else subprocess.DEVNULL,
                             stderr=stderr if stderr is not None else subprocess.DEVNULL,
                             stdin=stdin if stdin is not None else subprocess.DEVNULL,
                             text=text, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def run(self, ns, args, timeout=30, input=None):
        """Run args in ns to completion (killed, with its children, after timeout s)."""
        p = self.spawn(ns, args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.PIPE if input is not None else None)
        try:
            out, err = p.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill(p)
            out, err = p.communicate()
            err = (err or '') + f'\n[killed after {timeout} s]'
        return subprocess.CompletedProcess(p.args, p.returncode, out or '', err or '')

    def python(self, ns, script_args, **kw):
        """This python running script_args in ns (spawn())."""
        return self.spawn(ns, [sys.executable] + list(script_args), **kw)

    def kill(self, p):
        """Kill one process this lab spawned, with its children."""
        proc.kill(p)

    # ---- servers ------------------------------------------------------------

    def udp_echo(self, ns, addr, port, lifetime=None):
        """tests/tools/udp_echo.py in ns on addr:port ("echo:" + each datagram), once bound."""
        p = self.python(ns, [tool('udp_echo.py'), addr, str(port)]
                        + ([str(lifetime)] if lifetime else []), stdout=subprocess.PIPE)
        if 'ready' not in p.stdout.readline():  # it says "ready" once bound
            raise RuntimeError('udp_echo.py did not start')
        return p

    def wait_udp_bound(self, ns, port, timeout=10):
        """Until something in ns listens on UDP port; RuntimeError after timeout s."""
        if not proc.wait_for(lambda: proc.run(['ip', 'netns', 'exec', ns, 'ss', '-Hlun',
                                               f'sport = :{port}']).stdout.strip(),
                             timeout=timeout, step=0.05):
            raise RuntimeError(f'nothing bound UDP port {port} in {ns}')

    # ---- daemons ------------------------------------------------------------

    def config(self, name, ports, **sections):
        """Write WORK/NAME.yaml (daemon.config(): DPDK file prefix TAG+NAME, control socket
        WORK/NAME.sock, credentials in WORK/creds, the ports; sections replace the
        defaults) and return its daemon.Config."""
        prefix = f'{self.tag}{name}'
        self.prefixes.append(prefix)
        cfg = daemon.config(prefix, os.path.join(self.work, f'{name}.sock'),
                            os.path.join(self.work, 'creds'), ports, **sections)
        return daemon.write_config(os.path.join(self.work, f'{name}.yaml'), name, cfg,
                                   f'Written by the tests ({self.tag}); keys: docs/config.md.')

    def start(self, cfg, *args):
        """A daemon on cfg (a daemon.Config) with extra command-line args; not yet ready
        (Daemon.wait_ready()); killed at clean-up if it still runs."""
        d = daemon.Daemon(self.stormgate, self.stormctl, cfg,
                          os.path.join(self.work, f'{cfg.name}.{len(self.daemons)}.log'), args)
        self.daemons.append(d)
        return d
