"""One run of stormgate-fleet in a storm: started with its report and per-second
series files, watched once a second (the live progress line, the daemon's
counters sampled through its control socket, a scenario's hook such as killing
the daemon at second 15), bounded in time, its report read back.

Run by bench/storm/storm.py's one thread; touches the fleet process it starts,
the files it names in the lab's work directory and the daemon's control socket.
"""
import json
import os
import subprocess
import sys
import time

from sgtest import proc

# Seconds past --duration before a fleet that has not stopped is killed.
GRACE_S = 60
HOLD_S = 120  # the longest a fleet waits, holding its ports, for run() to end it
HELD_MARK = 'report written; holding the ports'  # what the fleet says then (fleet_main.c)


def daemon_sample(d):
    """The counters the progress line and the plots show, from `stormctl --json stats`
    (None when the daemon does not answer, e.g. while it restarts)."""
    if d is None or not d.alive():
        return None
    try:
        r = d.ctl('--json', 'stats', timeout=3)
    except subprocess.TimeoutExpired:
        return None
    if r.returncode != 0:
        return None
    s = json.loads(r.stdout)
    hs, adm, sess = s.get('handshakes', {}), s.get('admission', {}), s.get('sessions', {})
    return {'sessions': sess.get('live'), 'in_flight': hs.get('in_flight'),
            'installed': hs.get('installed'), 'failed': hs.get('failed'),
            'admission_admitted': adm.get('admitted'), 'admission_refused': adm.get('refused'),
            'hello_verify_sent': hs.get('hello_verify_sent')}


def progress_line(label, devices, point, sample):
    """The live line: the fleet's last second and the daemon's counters."""
    p = point or {}
    line = (f'[{label}] {p.get("t", 0):>4}s connected {p.get("connected", 0)}/{devices} '
            f'hs/s {p.get("handshakes_per_s", 0)} failed {p.get("handshakes_failed", 0)} '
            f'retx {p.get("retransmissions", 0)} inflight {p.get("inflight", 0)} '
            f'goodput {p.get("answers_per_s", 0)}/{p.get("requests_per_s", 0)} ans/req/s')
    if sample:
        line += (f' | gw sessions {sample["sessions"]} in flight {sample["in_flight"]} '
                 f'admitted {sample["admission_admitted"]} refused {sample["admission_refused"]}')
    elif sample is None and point is not None:
        line += ' | gw -'
    return line


class Series:
    """The fleet's --series file read as it grows (whole lines only)."""

    def __init__(self, path):
        self.path, self.pos, self.points = path, 0, []

    def poll(self):
        if not os.path.exists(self.path):
            return self.points
        with open(self.path, encoding='utf-8') as f:
            f.seek(self.pos)
            chunk = f.read()
        end = chunk.rfind('\n') + 1
        self.pos += len(chunk[:end].encode())
        for line in chunk[:end].splitlines():
            if line.strip():
                self.points.append(json.loads(line))
        return self.points


class FleetRun:
    """stormgate-fleet on eal and options (a list) in the lab; name labels its files."""

    def __init__(self, lab, name, eal, options, devices, duration):
        self.lab, self.name, self.devices, self.duration = lab, name, devices, duration
        w = lab.work
        self.report_path = os.path.join(w, f'{name}.report.json')
        self.series = Series(os.path.join(w, f'{name}.series.jsonl'))
        self.log_path = os.path.join(w, f'{name}.fleet.log')
        # --hold: the fleet keeps its memif ports, unpolled, once its report is written,
        # so the server stops first (docs/fleet.md, "Ending a run"); run() ends it.
        self.cmd = [lab.bins['fleet'], *eal, '--', *options, '--report', self.report_path,
                    '--series', self.series.path, '--hold', str(HOLD_S)]
        self.samples = {}  # second -> daemon sample
        self.t0 = None

    def held(self):
        """The fleet wrote its report and holds its ports (--hold)."""
        return HELD_MARK in self.log()

    def run(self, gateway_fn, label, hook=None, before_exit=None):
        """Start the fleet and watch it until it exits; gateway_fn() is the daemon to
        sample now (None: none); hook(t) runs once a second with the fleet's last
        whole second (its series' `t`: the clock the samples, the series and the
        hooks share).
        before_exit() runs once the fleet holds its ports after its report (the
        server's stop goes there: a memif peer must not leave under a busy worker).
        Returns the fleet's report (dict); RuntimeError when it failed to run."""
        tty = sys.stderr.isatty()
        with open(self.log_path, 'w') as log:
            p = self.lab.spawn(self.lab.fleet_netns(), self.cmd, stdout=log,
                               stderr=subprocess.STDOUT)
        self.t0 = time.monotonic()
        deadline = self.t0 + self.duration + GRACE_S
        last_print = 0.0
        while p.poll() is None and time.monotonic() < deadline and not self.held():
            time.sleep(1.0)
            t = time.monotonic() - self.t0
            points = self.series.poll()
            t_fleet = points[-1].get('t', 0) if points else 0  # the fleet's clock
            sample = daemon_sample(gateway_fn())
            if sample is not None:
                self.samples[int(t_fleet)] = sample
            if hook is not None:
                hook(t_fleet)
            line = progress_line(label, self.devices, points[-1] if points else None, sample)
            if tty:
                sys.stderr.write('\r\033[K' + line)
                sys.stderr.flush()
            elif t - last_print >= 5:
                sys.stderr.write(line + '\n')
                last_print = t
        if tty:
            sys.stderr.write('\n')
        if before_exit is not None:
            before_exit()
        if p.poll() is None and self.held():
            p.terminate()
        rc = proc.wait_exit(p, timeout=5) if p.poll() is None else p.returncode
        if rc != 0:
            raise RuntimeError(f'stormgate-fleet ({self.name}) exit {rc}:\n{self.log()[-3000:]}')
        with open(self.report_path, encoding='utf-8') as f:
            return json.load(f)

    def elapsed(self):
        return time.monotonic() - self.t0

    def log(self):
        try:
            with open(self.log_path, encoding='utf-8', errors='replace') as f:
                return f.read()
        except OSError:
            return ''
