"""The stormgate daemon under test: its config file, start, readiness, log and
stop, and DPDK's files it leaves behind.

The config is a dict of sections (docs/config.md), written one top-level key a
line with each value in JSON, which is YAML's flow style:

    cfg = config('sgt1main', '/tmp/x/main.sock', '/tmp/x/creds',
                 [port('dev0', 'device', 'net_ring0')], policy={'cookie_mode': 'always'})
    d = Daemon(stormgate, stormctl, write_config('/tmp/x/main.yaml', 'main', cfg), log_path)
    d.wait_ready() and d.status()['state'] == 'running'
    d.stop() == 0
"""
import collections
import glob
import json
import os
import shutil
import subprocess

from . import ctl, proc

# A written config: its name (for logs), file, control socket and DPDK file prefix.
Config = collections.namedtuple('Config', 'name path sock prefix')


def port(name, role, devargs, addresses=None):
    """One entry of `ports:`."""
    p = {'name': name, 'role': role, 'devargs': devargs}
    if addresses is not None:
        p['addresses'] = list(addresses)
    return p


def config(prefix, sock, creds, ports, **sections):
    """A config's sections: EAL on lcores 0-1 without PCI under DPDK file prefix
    prefix, info logging, the control socket sock, the credential store at creds
    (map_size 64M), the ports, and the integration tests' worker sleep (200 us) and
    mbuf pool (4095, cache 64); the session store (issue 15) beside the socket, one per
    config name (SOCK without .sock, then .sessions and .store.key): a daemon started
    again on the same config restores its sessions, another config starts empty. A
    section given is merged into its default key by key (control={'group': 'daemon'}
    keeps the socket), or added.

    The handshake plane (issue 16): handshake={'threads': 2, 'in_flight': 4096} sets
    that section for one test; $SG_TEST_HS_THREADS (1..64) gives every config that does
    not set handshake.threads that many engines, so any integration or e2e suite can be
    run against several (SG_TEST_HS_THREADS=2 meson test --suite e2e)."""
    base = sock[:-len('.sock')] if sock.endswith('.sock') else sock
    cfg = {
        'eal': ['-l', '0-1', '--no-pci', '--file-prefix', prefix],
        'log': {'level': 'info'},
        'control': {'socket': sock},
        'workers': {'idle_sleep_us': 200},
        'mbufs': {'count': 4095, 'cache': 64},
        'credentials': {'db': creds, 'map_size': '64M'},
        'store': {'path': base + '.sessions', 'key_file': base + '.store.key',
                  'map_size': '64M'},
        'ports': list(ports),
    }
    hs_threads = os.environ.get('SG_TEST_HS_THREADS')
    if hs_threads:
        cfg['handshake'] = {'threads': int(hs_threads)}
    for key, value in sections.items():
        cfg[key] = {**cfg[key], **value} if isinstance(cfg.get(key), dict) else value
    return cfg


def write_config(path, name, cfg, comment=None):
    """cfg written to path as YAML (one section a line, ports one a line); a Config."""
    lines = [f'# {comment}'] if comment else []
    for key, value in cfg.items():
        if key == 'ports':
            lines.append('ports:')
            lines += [f'  - {json.dumps(p)}' for p in value]
        else:
            lines.append(f'{key}: {json.dumps(value)}')
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    eal = cfg['eal']
    prefix = eal[eal.index('--file-prefix') + 1] if '--file-prefix' in eal else None
    return Config(name, path, cfg['control']['socket'], prefix)


def remove_runtime(prefixes):
    """DPDK's runtime directories of these file prefixes, and the hugepage files EAL
    leaves behind (it unlinks them only with --huge-unlink, which --no-huge refuses)."""
    with open('/proc/mounts') as f:
        mounts = [l.split()[1] for l in f if len(l.split()) > 2 and l.split()[2] == 'hugetlbfs']
    for prefix in set(prefixes):
        shutil.rmtree(f'/var/run/dpdk/{prefix}', ignore_errors=True)
        for m in mounts:
            for fn in glob.glob(os.path.join(m, f'{prefix}map_*')):
                try:
                    os.unlink(fn)
                except OSError:
                    pass


def hugepages_available():
    """True when free hugepages and a hugetlbfs mount are there (the daemon then uses them)."""
    free = 0
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('HugePages_Free:'):
                free = int(line.split()[1])
    with open('/proc/mounts') as f:
        mounted = any(l.split()[2] == 'hugetlbfs' for l in f if len(l.split()) > 2)
    return free > 0 and mounted


class Daemon:
    """One stormgate process on a written Config, its output in log_path."""

    def __init__(self, stormgate, stormctl, cfg, log_path, args=(), ctl_timeout=15):
        self.stormctl, self.cfg, self.sock, self.log_path = stormctl, cfg, cfg.sock, log_path
        self.ctl_timeout = ctl_timeout  # stormctl's default timeout, in seconds
        with open(log_path, 'w') as log:
            self.proc = subprocess.Popen([stormgate, '--config', cfg.path, '--no-status',
                                          *args], stdout=log, stderr=subprocess.STDOUT)

    def ctl(self, *args, timeout=None, **kw):
        """stormctl --socket SOCK args (a CompletedProcess; kw to subprocess.run, e.g. input)."""
        return ctl.stormctl(self.stormctl, self.sock, *args,
                            timeout=timeout or self.ctl_timeout, **kw)

    def ctl_json(self, *args):
        """stormctl --json args, parsed; RuntimeError when it fails."""
        r = self.ctl('--json', *args)
        if r.returncode != 0:
            raise RuntimeError(f'stormctl {args}: exit {r.returncode}: {r.stderr.strip()}')
        return json.loads(r.stdout)

    def status(self):
        return self.ctl_json('status')

    def log(self):
        """Everything the daemon wrote so far (stdout and stderr)."""
        with open(self.log_path, encoding='utf-8', errors='replace') as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def wait_ready(self, timeout=60):
        """True once it answers `version` on its socket; False once it exited, or after
        timeout seconds."""
        return bool(proc.wait_for(lambda: not self.alive() or (
            os.path.exists(self.sock) and self.ctl('version').returncode == 0),
            timeout=timeout, step=0.1)) and self.alive()

    def wait(self, timeout=30):
        """Its exit status; None when it had to be killed after timeout seconds."""
        return proc.wait_exit(self.proc, timeout)

    def stop(self, timeout=30):
        """stormctl shutdown, then its exit status (None if it had to be killed)."""
        if self.alive():
            self.ctl('shutdown')
        return self.wait(timeout)

    def kill(self):
        """Kill it if it still runs, and reap it. Never raises: clean-up calls it."""
        if self.alive():
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
