#!/usr/bin/env python3
"""A resent final flight through the real daemon, seen by stormgate-fleet (suite
'integration', root): the two joined by memif (tests/tools/sgtest/fleet.py, tag sgrs).

    test_resend_storm.py STORMGATE STORMCTL STORMGATE_FLEET

  - timeouts shorter than the round trip (--rto 40 over 100 ms): every device repeats
    its final flight before ours arrives, and the gateway answers from its linger table
    (linger_resent) in new records: the fleet sees no copy of the gateway's Finished
    (detail.record_copies == 0) and no nonce twice; every device connects;
  - 10 % loss each way, timeouts from 300 ms capped at 1 s: final flights lost,
    devices ask again after their timeout and get new records too; every device
    connects, nothing sent twice under one nonce;
  - and in both, the control plane dropped nothing it sent (its TX backlog,
    docs/dataplane.md) and no send failed.
Bounded: each fleet run at most 45 s; about 30 s in all.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest.fleet import FleetLab  # noqa: E402

DEVICES = 150


def resend_run(lab, what, fleet_opts, duration):
    """The daemon up, the fleet run with fleet_opts; its report and the daemon's
    handshake and control-plane counters checked."""
    check = lab.check
    d = lab.start(lab.gateway_config(what))
    if not check(f'{what}: the daemon is up', d.wait_ready(), d.log()[-2000:]):
        return
    r, rep = lab.run_fleet('--devices', str(DEVICES), '--duration', str(duration),
                           '--backend-mode', 'udp', '--req-rate', '1', *fleet_opts, timeout=45)
    if not check(f'{what}: the fleet ran and wrote its report', r.returncode == 0 and rep,
                 f'exit {r.returncode}\n{r.stderr[-1500:]}\n{d.log()[-1500:]}'):
        d.kill()
        return
    stats = d.ctl_json('stats')
    hs = stats['handshakes']['counters']
    cp = stats['control_plane']
    short = json.dumps({k: v for k, v in rep.items() if k != 'series'})
    gw = json.dumps({'handshakes': hs, 'control_plane': cp})
    check(f'{what}: all {DEVICES} connected, none failed',
          rep['connected'] == DEVICES and rep['handshakes_failed'] == 0
          and rep['detail']['states']['up'] == DEVICES, short)
    check(f'{what}: final flights resent from the linger table',
          rep['retransmissions'] > 0 and hs['linger_resent'] > 0, short + gw)
    check(f'{what}: in new records: no copy of a record, no nonce reused',
          rep['detail']['record_copies'] == 0 and rep['nonce_reuse'] == 0, short)
    check(f'{what}: nothing the control plane sent was dropped',
          hs['send_failed'] == 0 and cp['frames_dropped'] == 0, gw)
    check(f'{what}: the daemon stops cleanly', d.stop() == 0, d.log()[-1500:])


def main():
    stormgate, stormctl, fleet = sys.argv[1:4]
    if os.geteuid() != 0:
        print('1..0 # SKIP needs root (memif sockets in /run, DPDK)')
        return 0
    with FleetLab('sgrs', stormgate, stormctl, fleet) as lab:
        lab.creds(DEVICES)
        resend_run(lab, 'early', ['--rtt', '100', '--rto', '40', '--ramp', '1'], 4)
        # Timeouts capped at 1 s: a device gets 12 tries or more at each step in 15 s
        # (10 s left one device of 150 short, once, under ASan: 10 % loss each way
        # takes a flight of two datagrams ~27 % of the time).
        resend_run(lab, 'lossy', ['--loss', '10', '--rto', '300', '--rto-max', '1000',
                                  '--ramp', '1'], 15)
    return 0


if __name__ == '__main__':
    sys.exit(main())
