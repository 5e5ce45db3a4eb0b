"""The storm scenarios (issue 14, "Scenarios"; docs/storms.md): cold, steady,
overload, expiry and restart, each one or more fleet runs against a server
started for it, and what SCENARIO.json and SCENARIO.png get from them.

Run by bench/storm/storm.py's one thread inside a StormLab, which removes
everything these start.
"""
import os
import time

import cputime
import report
from fleetrun import FleetRun
from sgtest import ctl, proc
from sgtest import restart as inplace  # the scenario restart() below takes the name
from stormlab import baseline_backend_mode, fleet_options

# The policy of every run unless a scenario says otherwise: cookies always (the
# daemon's default: every new handshake proves its address first), no admission.
BASE_POLICY = {'cookie_mode': 'always', 'handshake_rate': 0}


class Storm:
    """One scenario's lab, server and fleet runs."""

    def __init__(self, lab, args, feats):
        self.lab, self.args, self.feats = lab, args, feats
        self.server = args.server
        self.gw_devargs, self.fleet_devargs = lab.links(args.ipv6)
        self.csv = os.path.join(lab.work, 'devices.csv')
        self.imported = False
        self.d = None           # the daemon now running (stormgate)
        self.cfg = None         # its config, to start it again (restart)
        self.baseline = None    # the baseline server now running (openssl)
        self.stats_at_stop = None  # the daemon's stats when it stopped before the fleet
        # CPU seconds by thread name (cputime.py) once it was up, and when it stopped
        self.cpu_start = self.cpu_end = None
        self.write_creds()

    def write_creds(self):
        a = self.args
        r = proc.run([self.lab.bins['fleet'], '--write-creds', self.csv, '--devices',
                      str(a.devices), '--seed', a.seed], timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f'stormgate-fleet --write-creds: exit {r.returncode}: '
                               f'{r.stdout[-500:]}{r.stderr[-1000:]}')

    # ---- the server ------------------------------------------------------------

    def up(self, name, policy=None):
        """The server for one run: stormgate on policy (BASE_POLICY, or --admission's
        admission_policy(), and these keys), the fleet's credentials imported once
        (the store outlives a daemon), or the OpenSSL baseline on the same CSV."""
        if self.server == 'openssl':
            self.baseline, _ = self.lab.start_baseline(self.csv, self.args.devices,
                                                       self.args.baseline_threads, self.args.ipv6,
                                                       name)
            return
        base = admission_policy(self.args.admission) if self.args.admission else BASE_POLICY
        hs = {'threads': self.args.hs_threads} if self.args.hs_threads else None
        self.cfg = self.lab.gateway(name, self.gw_devargs, self.args.devices,
                                    {**base, **(policy or {})}, self.feats, self.args.ipv6, hs)
        self.d = self.lab.start_gateway(self.cfg)
        if not self.imported:
            n = self.lab.import_credentials(self.d, self.csv)
            self.lab.check(f'the fleet\'s {self.args.devices} credentials imported '
                           '(stormctl credentials import)', n >= self.args.devices, n)
            self.imported = True
        self.cpu_start, self.cpu_end = cputime.sample(self.d.proc.pid), None

    def stop_before_fleet(self):
        """The server stops while the fleet holds its ports (FleetRun.run()); down()
        then returns the stats taken here."""
        self.stats_at_stop = self.down()

    def down(self):
        """Stop the server; the daemon's `stats` at the end (None for the baseline)."""
        stats, self.stats_at_stop = self.stats_at_stop, None
        if self.d is not None:
            stats = self.d.ctl_json('stats') if self.d.alive() else None
            self.cpu_end = cputime.sample(self.d.proc.pid)
            rc = self.d.stop()
            self.lab.check(f'{self.d.cfg.name}: the daemon stops cleanly', rc == 0,
                           self.d.log()[-1500:])
            self.d = None
        if self.baseline is not None:
            self.lab.kill(self.baseline)
            self.baseline = None
        return stats

    def restart_server(self, how):
        """Stop the server by how (sgtest.restart.KINDS: kill9, sigterm, shutdown) and
        start it again on the same config, credentials and session store; what the
        restart showed: `sessions_after` (live once it answers), `restored` (its log's
        "restored N sessions"), `saved` (what a clean stop saved: shutdown's answer, else
        the old daemon's log; None after kill9), `restart_s` (from the stop
        to the new daemon answering). The baseline is killed and started again (it
        keeps no sessions whatever the kind)."""
        t0 = time.monotonic()
        if self.baseline is not None:
            self.lab.kill(self.baseline)
            self.baseline, _ = self.lab.start_baseline(self.csv, self.args.devices,
                                                       self.args.baseline_threads, self.args.ipv6,
                                                       'restarted')
            return {'sessions_after': None, 'restored': None, 'saved': None,
                    'restart_s': round(time.monotonic() - t0, 2)}
        rc, answer = inplace.stop(self.d, how, timeout=60)
        self.lab.check(f'restart: the daemon stopped ({how}, exit {rc})',
                       rc == (-9 if how == 'kill9' else 0), f'{answer}\n{self.d.log()[-1500:]}')
        for sock in ('dev.sock', 'app.sock'):  # a memif server makes its socket anew
            try:
                os.unlink(os.path.join(self.lab.sockdir, sock))
            except OSError:
                pass
        saved = inplace.saved(answer) if answer else inplace.saved(self.d.log())
        self.d = self.lab.start_gateway(self.cfg)
        return {'sessions_after': inplace.live_sessions(self.d),
                'restored': inplace.restored(self.d, timeout=1),
                'saved': saved,
                'restart_s': round(time.monotonic() - t0, 2)}

    # ---- the fleet -------------------------------------------------------------

    def fleet(self, name, duration, hook=None, **opts):
        """One fleet run of the scenario's devices with opts (fleet option names);
        its report, the daemon's samples on its series."""
        a = self.args
        base = {'devices': a.devices, 'kx': a.kx, 'rtt': a.rtt, 'ipv6': a.ipv6,
                'seed': a.seed, 'duration': duration, 'req_timeout': a.req_timeout,
                # A daemon without ports[].gateway has the devices on-link: each device
                # makes itself known by ARP/NS first (stormlab.gateway_config()).
                'announce': self.server == 'stormgate' and not self.feats.get('gateway'),
                'backend_mode': (baseline_backend_mode(a.devices)
                                 if self.server == 'openssl' else None)}
        eal = self.lab.fleet_eal(self.fleet_devargs, a.fleet_lcores, a.devices)
        run = FleetRun(self.lab, name, eal, fleet_options({**base, **opts}), a.devices, duration)
        label = f'{a.scenario} {self.server}' + (f' {name}' if name != a.scenario else '')
        rep = run.run(lambda: self.d, label, hook, before_exit=self.stop_before_fleet)
        report.attach_samples(rep.get('series', []), run.samples)
        for key in ('misdelivered', 'nonce_reuse'):
            self.lab.check(f'{name}: {key} == 0', rep.get(key) == 0, rep.get(key))
        return rep


def cpu_figures(s, stats, handshakes):
    """What the daemon's threads spent on the run (stormgate only): CPU seconds by
    thread name (cputime.py), µs of CPU per handshake of the whole process and of the
    handshake engines (threads sg-hs-<i>; None before the handshake plane), and the
    handshakes each engine completed (stats' handshake_plane)."""
    if s.cpu_start is None or s.cpu_end is None:
        return {}
    spent = cputime.delta(s.cpu_end, s.cpu_start)
    return {'hs_threads': s.args.hs_threads or 1, 'cpu_s_by_thread': spent,
            'cpu_us_per_handshake': cputime.per_handshake_us(spent, handshakes),
            'hs_cpu_us_per_handshake': (cputime.per_handshake_us(spent, handshakes, 'sg-hs-')
                                        if any(n.startswith('sg-hs-') for n in spent)
                                        else None),
            'handshakes_by_engine': [e.get('completed') for e in
                                     ctl.engines(stats or {})[1]]}


def cold(s):
    """N devices come up within --ramp seconds, as after a system-wide restart; with
    stormgate, the CPU time its threads spent (cpu_figures())."""
    a = s.args
    s.up('cold')
    rep = s.fleet('cold', a.duration, ramp=a.ramp, req_rate=a.req_rate)
    stats = s.down()
    busy = report.busy_rate(rep['series'], a.devices, rep.get('seconds_to_all_connected'))
    doc = report.compose('cold', s.server, rep, daemon_stats=stats,
                         handshakes_per_s_busy=round(busy, 1),
                         **cpu_figures(s, stats, rep.get('handshakes_completed')))
    return doc, [('cold: all devices at once' if not a.ramp else f'cold: ramp {a.ramp} s',
                  rep['series'], [])]


def steady(s):
    """N sessions and --rate requests/s in aggregate for --duration seconds."""
    a = s.args
    s.up('steady')
    rep = s.fleet('steady', a.duration, ramp=a.ramp, req_total=a.rate)
    stats = s.down()
    t_all = rep.get('seconds_to_all_connected')
    after = [p for p in rep['series'] if t_all is not None and p.get('t', 0) > t_all + 1][:-1]
    answered = sum(p.get('answers_per_s', 0) for p in after)
    doc = report.compose(
        'steady', s.server, rep, daemon_stats=stats, requests_per_s_target=a.rate,
        answers_per_s_steady=round(answered / len(after), 1) if after else None,
        loss=round(rep['requests_lost'] / rep['requests_sent'], 6)
        if rep.get('requests_sent') else None)
    return doc, [(f'steady: {a.rate} requests/s', rep['series'], [])]


def admission_policy(capacity):
    """Admission as an operator sets it under a storm (docs/storms.md, "overload"):
    the measured capacity as the rate, cookies always, and every device address
    its own source (/32, /128: a private APN where each device has its own)."""
    return {'cookie_mode': 'always', 'handshake_rate': max(1, round(capacity)),
            'handshake_source_prefix4': 32, 'handshake_source_prefix6': 128}


def overload(s):
    """Capacity first (all devices at once: the server always has work; its
    figure is the server's while that run shows no retransmissions, which its
    report in `runs` keeps), then arrivals at --factor x capacity with admission
    on and off."""
    a = s.args
    s.up('capacity')
    cap_rep = s.fleet('capacity', a.duration, ramp=0, max_inflight=a.cap_inflight)
    s.down()
    capacity = report.busy_rate(cap_rep['series'], a.devices,
                                cap_rep.get('seconds_to_all_connected'))
    s.lab.check('overload: a capacity was measured', capacity > 0, cap_rep)
    caveat = report.capacity_caveat(cap_rep, capacity)
    runs, panels = {'capacity': cap_rep}, [(f'capacity: {capacity:.0f} handshakes/s',
                                            cap_rep['series'], [])]
    modes = ('on', 'off') if s.server == 'stormgate' else ('off',)
    ratios, stats = {}, None
    for mode in modes:
        s.up(f'admission_{mode}', admission_policy(capacity) if mode == 'on' else None)
        rep = s.fleet(f'admission_{mode}', a.duration, arrival_rate=round(a.factor * capacity),
                      req_rate=a.req_rate)
        st = s.down()
        stats = stats or st
        runs[f'admission_{mode}'] = rep
        rate = report.busy_rate(rep['series'], a.devices, rep.get('seconds_to_all_connected'))
        ratios[mode] = report.goodput_ratio(rate, capacity)
        panels.append((f'{a.factor:g}x capacity, admission {mode}: {rate:.0f} handshakes/s '
                       f'(ratio {ratios[mode]})', rep['series'], []))
    head = runs['admission_on' if 'on' in ratios else 'admission_off']
    doc = report.compose(
        'overload', s.server, head, daemon_stats=stats,
        capacity_handshakes_per_s=round(capacity, 1), arrival_rate_per_s=round(a.factor * capacity),
        goodput_ratio=ratios.get('on', ratios['off']),
        goodput_ratio_admission_off=ratios['off'],
        admission_policy=admission_policy(capacity) if 'on' in ratios else None,
        capacity_caveat=caveat,
        runs={k: v for k, v in runs.items()})
    return doc, panels


def expiry(s):
    """Key lifetimes of --lifetime seconds running out, without jitter and with
    --jitter %; the re-key load over time (report.rekey_profile())."""
    a = s.args
    runs, panels, profiles, stats = {}, [], {}, None
    for jitter in (0, a.jitter):
        name = f'jitter_{jitter}'
        s.up(name, {'key_lifetime': a.lifetime, 'key_lifetime_jitter': jitter})
        rep = s.fleet(name, a.duration, ramp=0, req_rate=a.req_rate)
        stats = s.down()
        t_all = rep.get('seconds_to_all_connected') or 0
        start = t_all + a.lifetime * (1 - jitter / 100) - 1
        profiles[name] = report.rekey_profile(rep['series'], start)
        runs[name] = rep
        panels.append((f'key lifetime {a.lifetime} s, jitter {jitter} %: re-key peak/mean '
                       f'{profiles[name]["peak_to_mean"]}', rep['series'],
                       [(start, 'first keys may expire')]))
    doc = report.compose('expiry', s.server, runs[f'jitter_{a.jitter}'], daemon_stats=stats,
                         key_lifetime_s=a.lifetime, rekey=profiles, runs=runs)
    return doc, panels


def restart(s):
    """Stop the server at --restart-at seconds of traffic by --restart-kind (kill9: a
    crash; sigterm, shutdown: clean stops) and start it again on the same config and
    session store (issue 15); whether the sessions survived, the handshakes after the
    restart, the requests lost, nonce_reuse, and the time back to full goodput."""
    a = s.args
    s.up('restart')
    ev = {}

    def hook(t):
        if not ev and t >= a.restart_at:
            ev['t'] = t
            ev['sessions_before'] = (inplace.live_sessions(s.d) if s.d is not None else None)
            ev.update(s.restart_server(a.restart_kind))
    rep = s.fleet('restart', a.duration, hook=hook, ramp=0, req_rate=a.req_rate)
    stats = s.down()
    s.lab.check('restart: the server was stopped and started again in the run', 't' in ev, rep)
    rec = report.recovery(rep['series'], ev.get('t', 0), a.devices)
    cost = report.restart_figures(rep['series'], ev.get('t', 0), rep, stats)
    survived = (ev.get('sessions_after') or 0) >= 0.99 * (ev.get('sessions_before') or 1)
    outcome = ('sessions survived the restart' if survived else
               'sessions did not survive the restart: every device had to handshake again'
               if s.server == 'stormgate' else 'the baseline keeps no sessions across restarts')
    what = {'kill9': 'kill -9', 'sigterm': 'SIGTERM', 'shutdown': 'stormctl shutdown'}
    doc = report.compose('restart', s.server, rep, daemon_stats=stats,
                         restart={'kind': a.restart_kind, 'killed_at_s': ev.get('t'),
                                  'sessions_before': ev.get('sessions_before'),
                                  'sessions_after_restart': ev.get('sessions_after'),
                                  'sessions_restored': ev.get('restored'),
                                  'sessions_saved': ev.get('saved'),
                                  'restart_s': ev.get('restart_s'),
                                  'sessions_survived': survived, 'outcome': outcome,
                                  **cost, **rec})
    return doc, [(f'restart: {what[a.restart_kind]} at {ev.get("t")} s; {outcome}',
                  rep['series'], [(ev.get('t', 0), what[a.restart_kind])])]


SCENARIOS = {'cold': cold, 'steady': steady, 'overload': overload, 'expiry': expiry,
             'restart': restart}
