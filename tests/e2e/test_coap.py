#!/usr/bin/env python3
"""End to end (suite 'e2e'): libcoap's clients, built on OpenSSL and on GnuTLS,
GET, PUT and Observe over DTLS 1.2 with a PSK, over IPv4 and IPv6, through
stormgate (backend mode udp) to libcoap's plaintext coap-server-notls in the
backend namespace. A capture of the run on both sides is decoded by tshark:
every datagram on the devices' side is DTLS 1.2 (handshakes with cookies,
AEAD suites, no malformed record), and the backend side carries the CoAP
requests and answers in plaintext.

    test_coap.py STORMGATE STORMCTL      (root; tag sge2e1)
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import capture, clients, ctl, e2e, proc  # noqa: E402
from sgtest.dtls import DTLS_PORT  # noqa: E402

CLIENTS = ('coap-client-openssl', 'coap-client-gnutls')
# coap-server's /time: "Dec 06 07:07:38" (strftime "%b %d %H:%M:%S")
CLOCK = re.compile(r'[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}')
CLOCK_B = re.compile(CLOCK.pattern.encode())
# Fixed source ports of the rebooting devices (outside the kernel's ephemeral range).
REBOOT_PORT = 15700


def coap(lab, client, host, path, *args, identity=None, key=e2e.COAP_KEY_TEXT, timeout=20):
    cmd = clients.coap_client(client, host, path, identity or e2e.coap_identity(0), key, *args)
    return lab.run(lab.ns_dev, cmd, timeout=timeout)


def rebooted_device(lab, d):
    """A device that reboots mid-session (no goodbye) and handshakes again from the same
    address and port, on each stack and family. RFC 6347 §4.2.8: its old session stays
    until the new handshake's Finished verifies. libcoap on GnuTLS sends that Finished in
    an epoch-1 datagram of its own, which the data plane used to open with the live
    session's keys and drop as replayed: the device never got a session again (issue 12,
    item 20)."""
    check = lab.check
    for k, (client, (fam, host)) in enumerate(
            (c, f) for c in CLIENTS for f in (('IPv4', e2e.GW4), ('IPv6', e2e.GW6))):
        ident = e2e.coap_identity(20 + k)
        port = str(REBOOT_PORT + k)
        s0 = ctl.counters(d.status())
        first = clients.Interactive(lab, lab.ns_dev, clients.coap_client(
            client, host, 'time', ident, e2e.COAP_KEY_TEXT, '-p', port, '-s', '30', wait=30))
        ok1 = first.expect(CLOCK_B, timeout=15)
        first.kill()  # a device that reboots says no goodbye: its session stays
        mid = ctl.counters(d.status())
        r = coap(lab, client, host, 'time', '-p', port, identity=ident)
        time.sleep(0.2)
        after = ctl.counters(d.status())
        dd1, dd2 = ctl.delta(mid, s0), ctl.delta(after, mid)
        check(f'{client} {fam}: a device observing /time from port {port} is killed; its '
              f'session stays', ok1 and dd1['installed'] == 1
              and dd1['punts'].get('alert', 0) == 0, f'{dd1}\n{first.err()[-500:]}')
        bad = {x: v for x, v in dd2['drops'].items()
               if x in ('replayed', 'auth_failed', 'renegotiation')}
        check(f'... it handshakes again from the same address and port: its session is '
              f'replaced and GET answers the clock', r.returncode == 0
              and CLOCK.fullmatch(r.stdout.strip()) and dd2['installed'] == 1
              and dd2['replaced'] == 1 and dd2['failed'] == 0 and after['in_flight'] == 0
              and not bad,
              f'exit {r.returncode}\nstdout {r.stdout!r}\nstderr {r.stderr[-800:]}\n{dd2}')


def identity_switch(lab, d):
    """A device at one address and port that handshakes again under another identity
    (RFC 6347 §4.2.8 replaces its session): the previous identity's keys are retired at
    once, since a record sealed under them would now reach the backend under the new
    identity's name; the same identity keeps them for policy.rekey_grace."""
    check = lab.check
    client, host = CLIENTS[0], e2e.GW4
    port = REBOOT_PORT + 8
    seen = {}
    for step, ident in (('first', e2e.coap_identity(30)), ('same', e2e.coap_identity(30)),
                        ('other', e2e.coap_identity(31))):
        c = clients.Interactive(lab, lab.ns_dev, clients.coap_client(
            client, host, 'time', ident, e2e.COAP_KEY_TEXT, '-p', str(port), '-s', '30', wait=30))
        ok = c.expect(CLOCK_B, timeout=15)
        r = d.ctl('--json', 'sessions', 'list', '--addr', f'{e2e.DEV4}:{port}')
        rows = json.loads(r.stdout)['sessions'] if r.returncode == 0 else []
        seen[step] = (ok, [(x['identity'], x['previous_keys']) for x in rows])
        c.kill()  # no goodbye: the session stays for the next step to replace
    check('a device re-handshakes from its address and port: under the same identity the '
          'previous keys stay for the grace period, under another they are retired at once',
          seen['first'] == (True, [(e2e.coap_identity(30), False)])
          and seen['same'] == (True, [(e2e.coap_identity(30), True)])
          and seen['other'] == (True, [(e2e.coap_identity(31), False)]), seen)


def run(stormgate, stormctl):
    with e2e.E2ELab('sge2e1', stormgate, stormctl) as lab:
        check = lab.check
        d = lab.start_daemon()
        lab.coap_server()
        cap_dev = capture.Capture(lab, lab.ns_dev, lab.veth_d, 'devices')
        cap_be = capture.Capture(lab, lab.ns_be, lab.veth_b, 'backend')
        s0 = ctl.counters(d.status())
        n_exchanges = 0  # request/response pairs every client makes

        for i, client in enumerate(CLIENTS):
            for fam, host in (('IPv4', e2e.GW4), ('IPv6', e2e.GW6)):
                ident = e2e.coap_identity(1 + 2 * i + (fam == 'IPv6'))
                r = coap(lab, client, host, 'time', identity=ident)
                check(f'{client} {fam}: GET coaps://{host}/time answers the server\'s clock',
                      r.returncode == 0 and CLOCK.fullmatch(r.stdout.strip()),
                      f'exit {r.returncode}\nstdout {r.stdout!r}\nstderr {r.stderr[-800:]}')
                n_exchanges += 1

                value = f'put-{client}-{fam}-{os.getpid()}'
                r = coap(lab, client, host, 'example_data', '-m', 'put', '-e', value,
                         identity=ident)
                check(f'{client} {fam}: PUT /example_data succeeds', r.returncode == 0,
                      f'exit {r.returncode}\nstderr {r.stderr[-800:]}')
                n_exchanges += 1
                # Read back by the other stack, so the value went through the server.
                other = CLIENTS[1 - i]
                r = coap(lab, other, host, 'example_data', identity=ident)
                check(f'{other} {fam}: GET /example_data returns what {client} PUT',
                      r.returncode == 0 and r.stdout.strip() == value,
                      f'exit {r.returncode}\nstdout {r.stdout!r}\nstderr {r.stderr[-800:]}')
                n_exchanges += 1

                # Observe /time for 3 s: the registration and one notification a second.
                t0 = time.monotonic()
                r = coap(lab, client, host, 'time', '-s', '3', identity=ident)
                # The clock prints without a newline: count its timestamps.
                stamps = len(CLOCK.findall(r.stdout))
                check(f'{client} {fam}: Observe /time for 3 s gets the first answer and '
                      f'at least 2 notifications',
                      r.returncode == 0 and stamps >= 3 and time.monotonic() - t0 >= 2.5,
                      f'exit {r.returncode} stamps {stamps} stdout {r.stdout!r}\n'
                      f'stderr {r.stderr[-800:]}')

        n_sessions = len(CLIENTS) * 2 * 4  # GET, PUT, GET back, Observe per client and family
        # The last client's close_notify may still be on its way to the worker when its
        # process exits: wait (bounded) until every session's alert is counted.
        proc.wait_for(lambda: ctl.counters(d.status())['punts'].get('alert', 0)
                      - s0['punts'].get('alert', 0) >= n_sessions, timeout=5, step=0.1)
        s1 = ctl.counters(d.status())
        dd = ctl.delta(s1, s0)
        check(f'{n_sessions} handshakes completed and installed, none failed',
              dd['installed'] == n_sessions and dd['failed'] == 0
              and dd['hs'].get('completed_full', 0) == n_sessions, dd)
        check('each session ended by its client with close_notify (authenticated alert)',
              dd['punts'].get('alert', 0) == n_sessions, dd)
        # Every session's request went up; its answers (3+ for an Observe) came down.
        check(f'requests went up (>= {n_sessions}) and answers came down '
              f'(>= {n_exchanges + 4 * 3})',
              dd['up'] >= n_sessions and dd['down'] >= n_exchanges + 4 * 3, dd)
        # Allowed: the devices' kernel's own chatter (IPv6 multicast, ICMP port unreachable
        # for an answer that came after its client left), and a notification the server
        # sent for an Observe session its client had just closed (backend_unknown).
        bad = {k: v for k, v in dd['drops'].items()
               if k not in ('l3_not_for_us', 'ip_proto', 'icmp', 'backend_unknown')}
        check('no drop of the clients\' or the server\'s datagrams (but notifications for '
              'sessions just closed)', not bad and dd['drops'].get('backend_unknown', 0) <= 4,
              dd['drops'])
        check('no handshake left in flight', s1['in_flight'] == 0, s1)

        time.sleep(0.5)
        pdev, pbe = cap_dev.stop(), cap_be.stop()
        # ---- the capture ------------------------------------------------------
        r = capture.tshark(pdev, '-q', '-z', 'expert,error')
        check('tshark reads the devices\' capture; no malformed packet or expert error',
              r.returncode == 0 and 'Malformed' not in r.stdout
              and 'Errors (' not in r.stdout, r.stdout[-2000:] + r.stderr[-500:])
        r, rows = capture.tshark_fields(pdev, f'udp.port == {DTLS_PORT}',
                         ['frame.number', 'dtls.record.version', 'dtls.record.content_type'])
        not_dtls = [x[0] for x in rows if not x[1]]
        check('every datagram to or from the DTLS port decodes as DTLS records',
              rows and not not_dtls, f'{len(rows)} datagrams, not DTLS: {not_dtls[:20]}')
        versions = {v for x in rows for v in x[1].split(',') if v}
        check('record versions are DTLS 1.2 (0xfefd), and DTLS 1.0 (0xfeff) only where '
              'RFC 6347 §4.2.1 allows it (ClientHello, HelloVerifyRequest)',
              versions <= {'0xfefd', '0xfeff'} and '0xfefd' in versions, versions)
        # Counted per device (address and port it was sent to): a flight the
        # gateway resent because a loaded machine delayed the client is one
        # handshake, not two.
        r, rows = capture.tshark_fields(pdev, 'dtls.handshake.type == 2',
                         ['dtls.handshake.version', 'dtls.handshake.ciphersuite', 'ip.dst',
                          'ipv6.dst', 'udp.dstport'])
        devices = {tuple(x[2:5]) for x in rows}
        check(f'{n_sessions} ServerHellos, each DTLS 1.2 with an AEAD PSK suite',
              len(devices) == n_sessions and all(x[0] == '0xfefd' for x in rows),
              f'{len(rows)} ServerHellos to {len(devices)} devices: {rows[:10]}')
        suites = sorted({x[1] for x in rows})
        # Our default preference puts ECDHE-PSK first; of those, OpenSSL and GnuTLS both
        # implement only TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 (0xccac).
        check('both libcoap stacks negotiated ECDHE-PSK (0xccac), the first of our default '
              'suites they implement', suites == ['0xccac'], suites)
        r, rows = capture.tshark_fields(pdev, 'dtls.handshake.type == 3',
                         ['dtls.record.version', 'dtls.handshake.cookie_length', 'ip.dst',
                          'ipv6.dst', 'udp.dstport'])
        hvr_devices = {tuple(x[2:5]) for x in rows}
        check('each handshake started with a HelloVerifyRequest cookie (cookie_mode always)',
              hvr_devices == devices,
              f'{len(rows)} HelloVerifyRequests to {len(hvr_devices)} devices: {rows[:5]}')
        r, rows = capture.tshark_fields(pbe, 'coap', ['ip.src', 'coap.code', 'coap.opt.uri_path'])
        reqs = [x for x in rows if x[0] == e2e.GWB4 and x[1] in ('1', '3')]
        check('the backend side carries the requests as plaintext CoAP from the gateway\'s '
              f'address: GET /time and PUT /example_data, one per session ({n_sessions})',
              len(reqs) >= n_sessions and {x[2] for x in reqs} == {'time', 'example_data'},
              rows[:20])
        answers = [x for x in rows if x[0] == e2e.BE4 and x[1] in ('68', '69')]
        check('... and the server\'s 2.04/2.05 answers in plaintext to the gateway',
              len(answers) >= n_exchanges + 4 * 3, rows[:20])

        rebooted_device(lab, d)
        identity_switch(lab, d)

        lab.check_stop(d)


if __name__ == '__main__':
    e2e.main_guard(run)
