"""Calls to the daemon's control socket (docs/protocol.md): the stormctl CLI,
the JSON-lines protocol by hand (for what stormctl never sends: bad JSON, wrong
versions, half-written or oversized requests), and the counters of a
`stormctl --json status` reply, before and after."""
import json
import socket

from . import proc


def stormctl(exe, sock, *args, timeout=15, **kw):
    """exe --socket sock args, run to completion (kw to subprocess.run, e.g. input)."""
    return proc.run([exe, '--socket', sock] + list(args), timeout=timeout, **kw)


class Raw:
    """A control client speaking the protocol by hand: one request a line, one
    JSON answer a line."""

    def __init__(self, sock, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(sock)
        self.buf = b''

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.s.sendall(data)

    def line(self, timeout=10):
        """The next answer, parsed; None when the daemon closed first."""
        self.s.settimeout(timeout)
        while b'\n' not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def call(self, cmd, args=None, **extra):
        """Request {"v": 1, "cmd": cmd, "args": args, **extra}; its answer."""
        req = {'v': 1, 'cmd': cmd}
        if args is not None:
            req['args'] = args
        req.update(extra)
        self.send(json.dumps(req).encode() + b'\n')
        return self.line()

    def closed(self, timeout=10):
        """True once the daemon closed the connection (EOF or reset)."""
        self.s.settimeout(timeout)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def exchange(sock, data, timeout=5):
    """data written on a new connection; the one answer, parsed (None: closed first)."""
    with Raw(sock, timeout) as r:
        r.send(data)
        return r.line(timeout)


def err_code(resp):
    """The error code of an answer (None for a result, or no answer)."""
    return (resp or {}).get('error', {}).get('code')


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


def engines(stats):
    """The handshake engines of one `stormctl --json stats`: how many the daemon
    runs (0 when its stats have no handshake_plane: before the handshake plane) and
    each one's row (engine, in_flight, limit, completed, queue_full, fifo_full,
    p50_us, p99_us)."""
    hp = stats.get('handshake_plane') or {}
    return hp.get('engines', 0), list(hp.get('engine', []))


def completed_by_engine(after, before):
    """Handshakes each engine completed between two `stats`: a list by engine index."""
    b = {e['engine']: e['completed'] for e in engines(before)[1]}
    return [e['completed'] - b.get(e['engine'], 0) for e in engines(after)[1]]
