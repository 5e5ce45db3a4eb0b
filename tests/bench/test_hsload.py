#!/usr/bin/env python3
"""Integration smoke test of stormgate-hsload (suite 'integration', root), the load
tool of bench/import_storm.py, so it cannot rot between measurements.

    test_hsload.py STORMGATE STORMCTL HSLOAD      (tag sge2e7; the e2e lab, tests/tools/sgtest/e2e.py)

Against a daemon on its default policy (cookie_mode: always) in the e2e lab, with
the UDP echo as the backend:
  - 20 handshakes from 4 clients over IPv4, each with one record echoed through the
    data plane: all 20 complete, none fail or time out, the series and the latency
    samples count 20, the daemon counts 20 full handshakes, each after a
    HelloVerifyRequest, and every session ends with the client's close_notify;
  - 4 over IPv6 (fd00:5347:1::/64) complete the same way;
  - 4 as known devices with wrong keys all fail (decrypt_error), none completes,
    and the daemon counts them failed;
  - bad command lines exit 2, a CSV without an enabled device exits 1.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import e2e  # noqa: E402
from sgtest.dtls import DTLS_PORT  # noqa: E402


def stats(d):
    r = d.ctl('--json', 'stats')
    if r.returncode != 0:
        raise RuntimeError(f'stormctl stats: {r.stderr.strip()}')
    return json.loads(r.stdout)


def hsload(lab, tool, csv, connect, source, *extra, timeout=90):
    """(CompletedProcess, summary dict or None, series lines) of one run in the devices' namespace."""
    r = lab.run(lab.ns_dev, [tool, '--connect', connect, '--source', source,
                             '--credentials', csv, '--duration', '60', '--timeout-ms', '10000',
                             *extra], timeout=timeout)
    lines = r.stdout.splitlines()
    summary = None
    if lines and lines[-1].startswith('{'):
        try:
            summary = json.loads(lines[-1])
        except json.JSONDecodeError:
            pass
    series = [l.split('\t') for l in lines[:-1] if l and l[0].isdigit()]
    return r, summary, series


def check_all_completed(check, what, r, s, series, n):
    detail = f'exit {r.returncode}\n{r.stderr[-800:]}\n{r.stdout[-800:]}'
    if not check(f'{what}: ran, summary printed', r.returncode == 0 and s is not None, detail):
        return
    check(f'{what}: {n} completed, none failed, timed out or abandoned',
          (s['completed'], s['failed'], s['timeouts'], s['abandoned']) == (n, 0, 0, 0),
          json.dumps({k: s[k] for k in ('completed', 'failed', 'timeouts', 'abandoned',
                                        'first_error')}))
    check(f'{what}: the series counts {n} (JSON and printed lines)',
          sum(s['series']['ok']) == n and sum(int(x[1]) for x in series) == n
          and not any(int(x[2]) or int(x[3]) for x in series), json.dumps(s['series']))
    lat = s['latency_us']
    check(f'{what}: {n} latencies, 0 < p50 <= p99 <= max',
          lat['samples'] == n and 0 < lat['p50'] <= lat['p99'] <= lat['max'], json.dumps(lat))


def wait_sessions_gone(d, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if stats(d)['sessions']['live'] == 0:
            return True
        time.sleep(0.1)
    return False


def run(stormgate, stormctl, tool):
    with e2e.E2ELab('sge2e7', stormgate, stormctl) as lab:
        check = lab.check
        d = lab.start_daemon()
        lab.udp_echo(lab.ns_be, e2e.BE4, e2e.BACKEND_PORT)
        csv = os.path.join(lab.work, 'devices.csv')  # the CSV the daemon imported
        gw4 = f'{e2e.GW4}:{DTLS_PORT}'

        s0 = stats(d)
        r, s, series = hsload(lab, tool, csv, gw4, e2e.DEV4, '--clients', '4', '--max', '20',
                              '--echo')
        check_all_completed(check, 'IPv4, 4 clients, --echo', r, s, series, 20)
        s1 = stats(d)
        hs0, hs1 = s0['handshakes'], s1['handshakes']
        check('the daemon: 20 full handshakes, each after a HelloVerifyRequest, none failed',
              hs1['completed_full'] - hs0['completed_full'] == 20
              and hs1['hello_verify_sent'] - hs0['hello_verify_sent'] >= 20
              and hs1['failed'] == hs0['failed'], json.dumps({'before': hs0, 'after': hs1})[:1500])
        check('the daemon: 20 records forwarded up, 20 echoes down',
              s1['global']['forwarded_up'] - s0['global']['forwarded_up'] == 20
              and s1['global']['forwarded_down'] - s0['global']['forwarded_down'] == 20,
              json.dumps(s1['global'])[:800])
        check('every session ended with its close_notify', wait_sessions_gone(d),
              json.dumps(stats(d)['sessions']))

        r, s, series = hsload(lab, tool, csv, f'[{e2e.GW6}]:{DTLS_PORT}', e2e.DEV6,
                              '--clients', '2', '--max', '4', '--echo')
        check_all_completed(check, 'IPv6', r, s, series, 4)

        wrong = os.path.join(lab.work, 'wrong-keys.csv')
        with open(wrong, 'w', encoding='utf-8') as f:
            f.write('identity,psk_hex\n')
            for i in range(4):
                f.write(f'{e2e.device_identity(i)},{"ee" * 16}\n')
        s2 = stats(d)
        r, s, _ = hsload(lab, tool, wrong, gw4, e2e.DEV4, '--clients', '2', '--max', '4')
        check('wrong keys: 4 failed, none completed or timed out',
              r.returncode == 0 and s is not None
              and (s['completed'], s['failed'], s['timeouts']) == (0, 4, 0),
              f'{r.stdout[-800:]}\n{r.stderr[-400:]}')
        check('wrong keys: the daemon counts 4 failed handshakes',
              stats(d)['handshakes']['failed'] - s2['handshakes']['failed'] == 4,
              json.dumps(stats(d)['handshakes'])[:800])

        bad = {
            'no --source, no --credentials': ['--connect', gw4],
            '--connect without a port': ['--connect', '198.18.1.1', '--source', e2e.DEV4,
                                         '--credentials', csv],
            '--source of another family': ['--connect', gw4, '--source', e2e.DEV6,
                                           '--credentials', csv],
            '--clients 0': ['--connect', gw4, '--source', e2e.DEV4, '--credentials', csv,
                            '--clients', '0'],
        }
        for name, args in bad.items():
            r = subprocess.run([tool] + args, capture_output=True, text=True, timeout=10)
            check(f'usage error exits 2: {name}', r.returncode == 2,
                  f'exit {r.returncode}: {r.stderr[-300:]}')
        empty = os.path.join(lab.work, 'disabled.csv')
        with open(empty, 'w', encoding='utf-8') as f:
            f.write('identity,psk_hex,key_lifetime,state\nurn:x,00112233,0,disabled\n')
        r = subprocess.run([tool, '--connect', gw4, '--source', e2e.DEV4, '--credentials', empty],
                           capture_output=True, text=True, timeout=10)
        check('a CSV without an enabled device exits 1', r.returncode == 1 and
              'no enabled device' in r.stderr, r.stderr[-300:])


if __name__ == '__main__':
    e2e.main_guard(run, ('STORMGATE', 'STORMCTL', 'HSLOAD'))
