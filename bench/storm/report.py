"""The storm's figures from the fleet's reports, and SCENARIO.json: pure functions
over the report and per-second series that stormgate-fleet writes (docs/fleet.md,
"Report"), so tests/storm checks them on recorded reports without a fleet.

Run by bench/storm/storm.py's one thread; touches nothing but its arguments.

A series point is one second of the fleet: `t` (seconds since the fleet started,
the end of that second), `connected`, `handshakes_per_s`, `handshakes_completed`,
`handshakes_failed`, `retransmissions`, `requests_per_s`, `answers_per_s`,
`rtt_p50_ms`, `rtt_p99_ms`, `inflight`; the storm adds `daemon` (the daemon's
counters sampled in that second, or absent).
"""
import statistics

# The keys of DIR/SCENARIO.json (issue 14, "Output"), all present, null
# when the fleet did not say.
REQUIRED_KEYS = ('scenario', 'server', 'devices', 'connected', 'handshakes_completed',
                 'handshakes_failed', 'retransmissions', 'seconds_to_all_connected',
                 'peak_handshakes_per_s', 'requests_sent', 'requests_answered',
                 'misdelivered', 'rtt_p50_ms', 'rtt_p99_ms', 'nonce_reuse', 'rehandshakes')

# A second counts as back to full goodput at this share of the goodput before an event.
FULL_GOODPUT = 0.95


# The busy window ends when this share of the devices is connected: a few devices
# stuck in retransmission back-off (seconds each) would otherwise stretch it.
BUSY_SHARE = 0.99


def busy_window(series, devices):
    """(first, last) series indexes of the storm's busy part: from the first second
    with a completed handshake to the first second BUSY_SHARE of the devices were
    connected (or the end); None without a completed handshake."""
    first = next((i for i, p in enumerate(series) if p.get('handshakes_per_s', 0) > 0), None)
    if first is None:
        return None
    last = next((i for i in range(first, len(series))
                 if series[i].get('connected', 0) >= BUSY_SHARE * devices), len(series) - 1)
    return first, last


def busy_rate(series, devices, t_all=None):
    """Completed handshakes per second over the busy window (busy_window()): the
    rate at which the server brought the fleet up. With t_all (the fleet's
    `seconds_to_all_connected`, finer than the series' seconds) the window ends
    there instead of at the end of that second, and the rate is the devices over
    the window from the start of its first second. 0.0 without a handshake."""
    w = busy_window(series, devices)
    if w is None:
        return 0.0
    first, last = w
    if t_all is not None and series[last].get('connected', 0) >= devices:
        start = series[first].get('t', first + 1) - 1  # the start of the first busy second
        done = devices - (series[first - 1].get('connected', 0) if first > 0 else 0)
        if t_all > start:
            return done / (t_all - start)
    done = sum(p.get('handshakes_per_s', 0) for p in series[first:last + 1])
    return done / (last - first + 1)


# A capacity run shorter than this, or with retransmissions, measured the fleet's
# retransmission timer (1 s at first) more than the server: say so.
CAPACITY_MIN_S = 3.0


def capacity_caveat(rep, capacity):
    """Why a capacity run's figure is not the server's, or None: it was over in
    less than CAPACITY_MIN_S (too few devices for the rate: every datagram lost
    cost a device a whole retransmission timeout), or handshakes were resent."""
    why = []
    if capacity and rep.get('devices', 0) / capacity < CAPACITY_MIN_S:
        why.append(f'{rep.get("devices")} devices last {rep.get("devices", 0) / capacity:.2f} s '
                   f'at that rate (< {CAPACITY_MIN_S:g} s: use at least '
                   f'{int(capacity * CAPACITY_MIN_S):,} devices)')
    if rep.get('retransmissions'):
        why.append(f'{rep["retransmissions"]} retransmissions in the capacity run')
    return '; '.join(why) or None


def goodput_ratio(overload_rate, capacity):
    """Completed handshakes/s under overload / capacity (issue 14); None without a
    capacity."""
    if not capacity:
        return None
    return round(overload_rate / capacity, 3)


def rekey_profile(series, start_t):
    """How even the re-key load is from second start_t (when the first keys may
    run out) to the end: peak, mean and coefficient of variation of handshakes/s
    (the last second, cut by the fleet's stop, left out). A flat load has a peak
    near the mean and a small cv; a fleet re-keying together has spikes."""
    rates = [p.get('handshakes_per_s', 0) for p in series if p.get('t', 0) >= start_t][:-1]
    if len(rates) < 2:
        return {'window_s': len(rates), 'peak_per_s': None, 'mean_per_s': None,
                'peak_to_mean': None, 'cv': None}
    mean = statistics.fmean(rates)
    return {'window_s': len(rates), 'peak_per_s': max(rates), 'mean_per_s': round(mean, 1),
            'peak_to_mean': round(max(rates) / mean, 2) if mean else None,
            'cv': round(statistics.pstdev(rates) / mean, 2) if mean else None}


def recovery(series, t_event, devices, before_s=5):
    """After an event at t_event (the daemon killed): the goodput before it (mean
    answers/s over the before_s seconds up to it), the seconds until a second
    reached FULL_GOODPUT of it again with every device connected (None: never in
    the run), and the lowest goodput in between."""
    before = [p.get('answers_per_s', 0) for p in series
              if t_event - before_s <= p.get('t', 0) < t_event]
    base = statistics.fmean(before) if before else 0.0
    after = [p for p in series if p.get('t', 0) > t_event]
    back = next((p['t'] for p in after if p.get('answers_per_s', 0) >= FULL_GOODPUT * base
                 and p.get('connected', 0) >= devices), None)
    return {'goodput_before_per_s': round(base, 1),
            'seconds_to_full_goodput': None if back is None or not base
            else round(back - t_event, 1),
            'lowest_goodput_per_s': min((p.get('answers_per_s', 0) for p in after), default=None)}


def restart_figures(series, t_event, rep, stats_after):
    """What a restart at t_event cost (issue 15's targets: 0 handshakes, no request
    lost beyond CoAP retransmission, nonce_reuse 0): the handshakes the new daemon
    counted (`handshakes.installed` of its `stats`, stats_after: full and resumed;
    None without it), the
    handshakes the fleet completed after the event (its series' running total, the
    last second before the event against the end), and the fleet's requests_lost,
    rehandshakes and nonce_reuse of the run (rep)."""
    hs = (stats_after or {}).get('handshakes')
    before = [p.get('handshakes_completed', 0) for p in series if p.get('t', 0) <= t_event]
    end = series[-1].get('handshakes_completed', 0) if series else 0
    return {
        'handshakes_after_restart': None if hs is None else hs.get('installed', 0),
        'fleet_handshakes_after_restart': end - before[-1] if before else None,
        'requests_lost': rep.get('requests_lost'),
        'rehandshakes': rep.get('rehandshakes'),
        'nonce_reuse': rep.get('nonce_reuse'),
    }


def attach_samples(series, samples):
    """The daemon's samples ({t: counters}) put on the series point of the same
    second (the latest sample taken in it); points without one keep none."""
    for p in series:
        s = samples.get(int(p.get('t', -1)))
        if s is not None:
            p['daemon'] = s
    return series


def compose(scenario, server, report, **extra):
    """SCENARIO.json: the fleet's report (the headline run) with the scenario, the
    server and the extra keys (options, runs, the daemon's stats, the scenario's
    own figures); every key the issue asks for present (null if missing)."""
    out = {'scenario': scenario, 'server': server}
    out.update({k: v for k, v in report.items()})
    for k in REQUIRED_KEYS:
        out.setdefault(k, None)
    out.update(extra)
    return out


def missing_keys(doc):
    """The issue's keys that doc lacks (empty when it has them all)."""
    return [k for k in REQUIRED_KEYS if k not in doc]
