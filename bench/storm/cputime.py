"""CPU time of a running daemon's threads, by thread name, from /proc (the
storm orchestrator's own thread; docs/storms.md, "CPU time per handshake"):
the handshake engines are the threads named sg-hs-<i>, the workers DPDK's
rte-worker-<n>, the gateway thread the process's main thread.

    t0 = sample(pid); ...; t1 = sample(pid)
    spent = delta(t1, t0)            # {'sg-hs-0': 1.92, 'rte-worker-1': 3.1, ...}
    per_handshake_us(spent, 20000, prefix='sg-hs-')
"""
import os

TICK = os.sysconf('SC_CLK_TCK')


def parse_stat(text):
    """(comm, utime + stime in seconds) of one /proc/PID/task/TID/stat line: the
    name is between the first '(' and the last ')' (it may hold spaces and
    parentheses), utime and stime are fields 14 and 15."""
    open_, close = text.index('('), text.rindex(')')
    rest = text[close + 2:].split()
    # rest[0] is field 3 (state): utime is field 14, stime 15
    return text[open_ + 1:close], (int(rest[11]) + int(rest[12])) / TICK


def sample(pid, root='/proc'):
    """CPU seconds each thread name of process pid used so far (threads of one name
    added up); {} when the process is gone."""
    out = {}
    task = os.path.join(root, str(pid), 'task')
    try:
        tids = os.listdir(task)
    except OSError:
        return out
    for tid in tids:
        try:
            with open(os.path.join(task, tid, 'stat'), encoding='utf-8',
                      errors='replace') as f:
                name, secs = parse_stat(f.read())
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
        out[name] = out.get(name, 0.0) + secs
    return out


def delta(after, before):
    """Seconds each thread name used between two samples (names of either), rounded to
    the clock tick's precision."""
    names = set(after) | set(before)
    return {n: round(after.get(n, 0.0) - before.get(n, 0.0), 3) for n in sorted(names)}


def per_handshake_us(spent, handshakes, prefix=None):
    """µs of CPU per handshake: of the threads whose name starts with prefix (None:
    all of them); None without handshakes."""
    if not handshakes:
        return None
    secs = sum(v for n, v in spent.items() if prefix is None or n.startswith(prefix))
    return round(secs * 1e6 / handshakes, 1)
