#!/usr/bin/env python3
"""stormgate-fleet against the real daemon (suite 'integration', root): the two joined
by memif (tests/tools/sgtest/fleet.py, tag sgfl1), the fleet's credentials written by
the fleet and imported by the daemon.

    test_fleet_storm.py STORMGATE STORMCTL STORMGATE_FLEET basic|more

  - PSK with cookies: 300 devices come up over 2 s, then ask 2 CoAP requests a second
    each through the gateway to the fleet's application server (udp mode), 20-60 ms
    round trips: every device connected, no handshake failed, nothing misdelivered, no
    nonce reused, requests answered and nearly all of them; the daemon counts the
    sessions; the per-second series covers the run;
  - ECDHE-PSK over X25519, 200 devices, proxy mode (the answers carry the PROXY v2
    header back): the same checks;
  - retransmission timeouts shorter than the round trip: every flight resent, copies
    of the gateway's Finished (its stored flight, resent) counted apart, no nonce reused;
  - the daemon killed (-9) and started again under 100 devices' traffic, its session
    store off: the fleet's memif ports reconnect, every device handshakes again once
    its requests go unanswered, and answers flow again;
  - IPv6 (fd00:5347::/64), 100 devices: the same checks;
  - the af_packet path (two veth pairs, the fleet's ends in a namespace of their own,
    both DPDK processes on net_af_packet), 100 devices: the same checks;
  - bad command lines exit 2 before EAL, a report with the keys of the spec.
Bounded: each fleet run at most 45 s; about 40 s in all.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import proc  # noqa: E402
from sgtest.fleet import FleetLab  # noqa: E402

KEYS = ('devices', 'connected', 'handshakes_started', 'handshakes_completed', 'handshakes_failed',
        'retransmissions', 'seconds_to_all_connected', 'peak_handshakes_per_s', 'requests_sent',
        'requests_answered', 'requests_lost', 'misdelivered', 'rtt_p50_ms', 'rtt_p99_ms',
        'nonce_reuse', 'rehandshakes', 'alerts_received', 'duration_s', 'series')
SERIES_KEYS = ('t', 'connected', 'handshakes_per_s', 'handshakes_completed', 'handshakes_failed',
               'retransmissions', 'requests_per_s', 'answers_per_s', 'rtt_p50_ms', 'rtt_p99_ms',
               'inflight')


def storm(lab, what, devices, backend_mode, fleet_opts, duration=6, ipv6=False, veths=None,
          ns=None, policy=None, sessions=None):
    """One storm: the daemon up, the fleet run, its report and the daemon's sessions
    checked. veths: the af_packet path over these two veth pairs (gateway end, fleet end
    in namespace ns)."""
    check = lab.check
    gw_args = fl_args = None
    if veths:
        gw_args = tuple(f'net_af_packet{k},iface={v[0]}' for k, v in enumerate(veths))
        fl_args = tuple(f'net_af_packet{k},iface={v[1]}' for k, v in enumerate(veths))
    d = lab.start(lab.gateway_config(what, backend_mode=backend_mode, ipv6=ipv6,
                                     devargs=gw_args, policy=policy, sessions=sessions))
    if not check(f'{what}: the daemon is up', d.wait_ready(), d.log()[-2000:]):
        return None
    r, rep = lab.run_fleet('--devices', str(devices), '--duration', str(duration),
                           '--backend-mode', backend_mode, *fleet_opts,
                           *(['--ipv6'] if ipv6 else []), timeout=45, devargs=fl_args,
                           ns=ns)
    detail = f'exit {r.returncode}\n{r.stderr[-1500:]}\n{d.log()[-1500:]}'
    if not check(f'{what}: the fleet ran and wrote its report', r.returncode == 0 and rep,
                 detail):
        d.kill()
        return None
    short = json.dumps({k: v for k, v in rep.items() if k != 'series'})
    check(f'{what}: the report has the keys of the spec',
          all(k in rep for k in KEYS) and rep['series']
          and all(k in rep['series'][0] for k in SERIES_KEYS), short)
    check(f'{what}: all {devices} connected, none failed',
          rep['connected'] == devices <= rep['handshakes_completed']
          and rep['detail']['states']['up'] == devices
          and rep['handshakes_failed'] == 0 and rep['seconds_to_all_connected'] is not None,
          short)
    check(f'{what}: nothing misdelivered, no nonce reused',
          rep['misdelivered'] == 0 and rep['nonce_reuse'] == 0, short)
    check(f'{what}: requests answered, nearly all of them, with round trips',
          rep['requests_answered'] > devices
          and rep['requests_answered'] >= 0.9 * rep['requests_sent']
          and 0 < rep['rtt_p50_ms'] <= rep['rtt_p99_ms'], short)
    check(f'{what}: a second of the series for each second run',
          duration - 1 <= len(rep['series']) <= duration + 1
          and rep['series'][-1]['connected'] == devices, json.dumps(rep['series'][-2:]))
    stats = d.ctl_json('stats')
    live = stats.get('sessions', {}).get('live')
    check(f'{what}: the daemon holds the {devices} sessions', live == devices,
          json.dumps(stats)[:1500])
    check(f'{what}: the daemon stops cleanly', d.stop() == 0, d.log()[-1500:])
    return rep


def retransmit(lab, devices=150):
    """Timeouts shorter than the round trip (--rto 40 over 100 ms): every flight is sent
    again, and the gateway answers our repeated final flight with its own again, its
    Finished sealed anew under a reserved sequence number: no byte-identical copy, no
    nonce used twice."""
    rep = storm(lab, 'retransmit', devices, 'udp',
                ['--rtt', '100', '--rto', '40', '--req-rate', '1', '--ramp', '1'], duration=4)
    if rep:
        lab.check('retransmit: flights resent, the Finished never a copy, no nonce reused',
                  rep['retransmissions'] > devices and rep['detail']['record_copies'] == 0
                  and rep['nonce_reuse'] == 0,
                  json.dumps({k: v for k, v in rep.items() if k != 'series'}))


def resume_cid(lab, devices=100):
    """Tickets and connection IDs: key lifetimes of 10 s end every session (a
    close_notify), and each device resumes with its ticket, its 4-byte CID and the
    gateway's 8-byte one in every record."""
    rep = storm(lab, 'resume_cid', devices, 'udp', ['--resume', '--cid', '--req-rate', '2'],
                duration=13, policy={'key_lifetime': '10s'}, sessions={'cid_length': 8})
    if rep:
        short = json.dumps({k: v for k, v in rep.items() if k != 'series'})
        lab.check('resume_cid: every session ended by the gateway and resumed, all with CIDs',
                  rep['rehandshakes'] == devices and rep['alerts_received'] >= devices
                  and rep['detail']['handshakes_resumed'] >= devices
                  and rep['handshakes_completed'] == 2 * devices
                  and rep['detail']['handshakes_cid'] == 2 * devices, short)
        lab.check('resume_cid: answers flow after the resumption',
                  rep['series'][-1]['answers_per_s'] > 0, json.dumps(rep['series'][-3:]))


def restart(lab, devices=100):
    """The daemon killed (-9) mid-traffic and started again without its sessions (the
    session store off: what a lost store or a crash before the group commit looks
    like; tests/gateway/test_restore.py has the store's side): the fleet's memif ports
    connect to the new one, it finds the gateway's new MAC, every device's requests go
    unanswered until the exchange fails, and then it handshakes again."""
    check = lab.check
    cfg = lab.gateway_config('restart', store={'enabled': False})
    d = lab.start(cfg)
    if not check('restart: the daemon is up', d.wait_ready(), d.log()[-2000:]):
        return
    p = lab.spawn_fleet('--devices', str(devices), '--req-rate', '2', '--req-timeout', '100',
                        '--duration', '12')
    time.sleep(4)
    d.kill()
    time.sleep(1)
    d2 = lab.start(cfg)
    check('restart: the daemon is up again', d2.wait_ready(), d2.log()[-2000:])
    r, rep = lab.wait_fleet(p, timeout=40)
    if not check('restart: the fleet ran through it', r.returncode == 0 and rep,
                 f'exit {r.returncode}\n{r.stderr[-1500:]}'):
        return
    short = json.dumps({k: v for k, v in rep.items() if k != 'series'})
    check(f'restart: all {devices} devices handshook again and are connected',
          rep['rehandshakes'] == devices and rep['connected'] == devices
          and rep['handshakes_completed'] == 2 * devices and rep['detail']['port_restarts'] >= 1,
          short)
    check('restart: answers again at the end, nothing misdelivered, no nonce reused',
          rep['series'][-1]['answers_per_s'] > 0 and rep['misdelivered'] == 0
          and rep['nonce_reuse'] == 0, json.dumps(rep['series'][-3:]))
    check('restart: the new daemon holds the sessions',
          d2.ctl_json('stats')['sessions']['live'] == devices)
    check('restart: the daemon stops cleanly', d2.stop() == 0, d2.log()[-1500:])


def bad_command_lines(lab, fleet):
    for args in (['--devices', '0'], ['--kx', 'nope'], ['--kx', 'p384'], ['--rtt', '5-1'],
                 ['--bogus']):
        r = proc.run([fleet, '--', *args])
        lab.check(f'{" ".join(args)}: exit 2 with a message',
                  r.returncode == 2 and 'stormgate-fleet:' in r.stderr, r.stderr)


def main():
    stormgate, stormctl, fleet, part = sys.argv[1:5]
    if os.geteuid() != 0:
        print('1..0 # SKIP needs root (memif sockets in /run, DPDK)')
        return 0
    with FleetLab('sgfl1' if part == 'basic' else 'sgfl2', stormgate, stormctl, fleet) as lab:
        lab.creds(300)
        if part == 'more':
            retransmit(lab)
            resume_cid(lab)
            restart(lab)
            return 0
        bad_command_lines(lab, fleet)
        storm(lab, 'psk', 300, 'udp', ['--ramp', '2', '--req-rate', '2', '--rtt', '20-60'])
        storm(lab, 'x25519', 200, 'proxy', ['--kx', 'x25519', '--req-rate', '1'], duration=5)
        storm(lab, 'p256', 100, 'udp', ['--kx', 'p256', '--req-rate', '1'], duration=4)
        storm(lab, 'ipv6', 100, 'udp', ['--req-rate', '2', '--rtt', '10'], duration=4, ipv6=True)
        tag = lab.tag
        pairs = [(f'{tag}gd', f'{tag}fd'), (f'{tag}ga', f'{tag}fa')]
        lab.fleet_netns(f'{tag}-f', pairs)
        storm(lab, 'af_packet', 100, 'udp', ['--req-rate', '2'], duration=4, veths=pairs,
              ns=f'{tag}-f')


if __name__ == '__main__':
    sys.exit(main())
