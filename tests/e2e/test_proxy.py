#!/usr/bin/env python3
"""End to end (suite 'e2e'): the backend `proxy` mode. s_client and gnutls-cli
devices over IPv4 and IPv6 talk through stormgate to proxy_backend.py, which
parses the PROXY protocol v2 header of every datagram (written from HAProxy's
specification, not from Stormgate's codec) and answers with the same header:

  - every datagram comes from the gateway's one proxy source port and names
    the device (address and port as the client used them), the address and
    port it reached, PP2_TYPE_SSL (client SSL, verified, "DTLSv1.2"), the
    session (PP2_TYPE_UNIQUE_ID: 8 bytes of session handle and 8 of the
    session's random token, distinct per session) and the PSK identity the
    device authenticated with (TLV 0xE0);
  - the answer, routed back by that header (the backend echoes the token),
    reaches the right device;
  - a datagram to the proxy port without a header is dropped as proxy_header,
    one naming no live session as backend_unknown; one naming a live session
    with a wrong token, or naming the device only by its addresses, as
    backend_forged;
  - from the devices' side, a frame forged with the server's address and
    port, carrying a live session's right header, is backend_forged: the
    device port takes no replies (issue 12 item 1).

    test_proxy.py STORMGATE STORMCTL      (root; tag sge2e4)
"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import clients, ctl, e2e, proc  # noqa: E402
from sgtest.dtls import DTLS_PORT  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

PROXY_PORT = 20000  # backend.source_port_first: the proxy mode's one port
LIVE_PORT = 41020   # the device kept alive for the refusals
SIG = b'\r\n\r\n\x00\r\nQUIT\n'


def pp2(uid, src=e2e.DEV4, sport=LIVE_PORT):
    """A PROXY v2 header over UDP/IPv4 (HAProxy's proxy-protocol.txt §2.2) naming the
    device src:sport that reached the gateway's DTLS port, with uid as
    PP2_TYPE_UNIQUE_ID (None: no such TLV)."""
    body = (socket.inet_aton(src) + socket.inet_aton(e2e.GW4) + sport.to_bytes(2, 'big')
            + DTLS_PORT.to_bytes(2, 'big'))
    if uid is not None:
        body += bytes([0x05]) + len(uid).to_bytes(2, 'big') + uid
    return SIG + bytes([0x21, 0x12]) + len(body).to_bytes(2, 'big') + body


def backend_lines(pb, n, timeout=5):
    """The next n JSON lines proxy_backend.py printed."""
    out = []
    end = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        if pb.expect('\n', 0.2):
            out += [json.loads(x) for x in pb.take_lines() if x.strip()]
    return out


def run(stormgate, stormctl):
    with e2e.E2ELab('sge2e4', stormgate, stormctl) as lab:
        check = lab.check
        d = lab.start_daemon(backend_mode='proxy')
        pb = clients.Interactive(lab, lab.ns_be, [sys.executable,
                                              os.path.join(HERE, 'proxy_backend.py'),
                                              e2e.BE4, str(e2e.BACKEND_PORT)])
        if not check('proxy_backend.py runs', pb.expect('ready\n', 10), pb.err()):
            return
        pb.out = b''
        s0 = ctl.counters(d.status())
        sessions = []
        rows = [
            ('s_client', 'IPv4', e2e.GW4, e2e.DEV4, 41001, 'PSK-AES128-CCM8'),
            ('s_client', 'IPv6', e2e.GW6, e2e.DEV6, 41002, 'ECDHE-PSK-CHACHA20-POLY1305'),
            ('gnutls-cli', 'IPv4', e2e.GW4, e2e.DEV4, None, 'AES-128-GCM'),
            ('gnutls-cli', 'IPv6', e2e.GW6, e2e.DEV6, None, 'AES-256-GCM'),
        ]
        for k, (prog, fam, gw, dev, port, suite) in enumerate(rows):
            ident, key = e2e.device_identity(10 + k), e2e.device_key(10 + k)
            if prog == 's_client':
                h = f'[{dev}]' if ':' in dev else dev
                c = clients.s_client(lab, gw, ident, key, suite, extra=('-bind', f'{h}:{port}'))
            else:
                c = clients.gnutls_cli(lab, gw, ident, key,
                                   'NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:'
                                   f'+{suite}')
            lines = [f'{prog} {fam} proxied {i}' for i in range(2)]
            ok = all(clients.echo_roundtrip(c, l) for l in lines)
            rc = c.close()
            check(f'{prog} {fam} ({suite}): handshake, two lines echoed back through the '
                  'PROXY-v2 backend', ok and rc == 0,
                  f'exit {rc}\nstdout {c.out[-400:]!r}\nstderr {c.err()[-500:]}')
            seen = backend_lines(pb, 2)
            check('... the backend got both lines, each with a valid v2 header',
                  len(seen) == 2 and all('error' not in x for x in seen)
                  and [x.get('payload') for x in seen] == [l + '\n' for l in lines], seen)
            if len(seen) != 2 or any('error' in x for x in seen):
                continue
            h = seen[0]
            ssl = h['tlvs'].get('ssl', {})
            check(f'... header: {fam} device {dev}' + (f' port {port}' if port else '')
                  + f', reached {gw} port {DTLS_PORT}',
                  h['family'] == (6 if fam == 'IPv6' else 4) and h['src'] == dev
                  and (port is None or h['sport'] == port) and h['dst'] == gw
                  and h['dport'] == DTLS_PORT, h)
            check('... PP2_TYPE_SSL: client SSL, verified (0), version DTLSv1.2',
                  ssl.get('client', 0) & 1 == 1 and ssl.get('verify') == 0
                  and ssl.get('version') == 'DTLSv1.2', ssl)
            check(f'... TLV 0xE0 holds the PSK identity {ident}',
                  h['tlvs'].get('psk_identity') == ident, h['tlvs'])
            check('... PP2_TYPE_UNIQUE_ID names the session (8 bytes) and its token (8 bytes), '
                  'the same on both datagrams', len(h['tlvs'].get('unique_id', '')) == 32
                  and seen[1]['tlvs'].get('unique_id') == h['tlvs'].get('unique_id'), h['tlvs'])
            check(f'... sent from the gateway\'s proxy port {e2e.GWB4}:{PROXY_PORT}',
                  all(x['from'] == f'{e2e.GWB4}:{PROXY_PORT}' for x in seen), seen)
            sessions.append(h['tlvs'].get('unique_id'))
        check('every session has its own unique id, and its own token',
              len(set(sessions)) == len(sessions) == 4
              and len({u[16:] for u in sessions if u}) == 4, sessions)
        dd = ctl.delta(ctl.counters(d.status()), s0)
        check('4 sessions installed; 8 records up, 8 answers down; nothing dropped',
              dd['installed'] == 4 and dd['up'] == 8 and dd['down'] == 8
              and not {k: v for k, v in dd['drops'].items() if k != 'l3_not_for_us'}, dd)

        # ---- a live session, for the refusals below ----------------------------
        ident, key = e2e.device_identity(20), e2e.device_key(20)
        s_live = ctl.counters(d.status())
        live = clients.s_client(lab, e2e.GW4, ident, key, 'PSK-AES128-CCM8',
                            extra=('-bind', f'{e2e.DEV4}:{LIVE_PORT}'))
        ok = clients.echo_roundtrip(live, 'live line')
        seen = backend_lines(pb, 1)
        if not check('a live session for the refusals: handshake, one line echoed',
                     ok and len(seen) == 1 and 'unique_id' in seen[0].get('tlvs', {}),
                     f'{seen}\n{live.err()[-500:]}'):
            return
        uid = bytes.fromhex(seen[0]['tlvs']['unique_id'])
        dead = bytes.fromhex(sessions[0])  # its client left: the session ended
        wrong = uid[:-1] + bytes([uid[-1] ^ 1])

        # ---- what the gateway refuses from the backend side --------------------
        pb.kill()  # its port is the server's: the datagrams below come from there
        # The worker counts the echo it sent down just after sending it: on a loaded
        # machine the device may have it first. Wait (bounded) until it is counted.
        proc.wait_for(lambda: ctl.counters(d.status())['down'] > s_live['down'], timeout=5,
                      step=0.1)
        s1 = ctl.counters(d.status())
        # argv: source port, then datagrams (hex) to the proxy port
        sender = ('import socket, sys\n'
                  's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n'
                  f's.bind(("{e2e.BE4}", int(sys.argv[1])))\n'
                  'for d in sys.argv[2:]:\n'
                  f'    s.sendto(bytes.fromhex(d), ("{e2e.GWB4}", {PROXY_PORT}))\n')
        no_header = b'plain CoAP without a PROXY header'.hex()
        refused = [no_header, no_header,
                   (pp2(dead) + b'late').hex(),                 # backend_unknown
                   (pp2(wrong) + b'forged: wrong token').hex(),  # backend_forged ...
                   (pp2(None) + b'forged: addresses only').hex(),
                   (pp2(uid[:8]) + b'forged: handle alone').hex()]
        r1 = lab.run(lab.ns_be, [sys.executable, '-c', sender, str(e2e.BACKEND_PORT)] + refused,
                     timeout=10)
        r2 = lab.run(lab.ns_be, [sys.executable, '-c', sender, '40123',
                                 (pp2(uid) + b'from another port').hex()], timeout=10)
        # From the devices' link: the server's source written by hand, the live
        # session's right header (as an eavesdropper of the backend link could).
        spoof = ('import sys\n'
                 'from scapy.all import IP, UDP, Ether, Raw, sendp\n'
                 'sendp(Ether(dst=sys.argv[2]) / IP(src=sys.argv[3], dst=sys.argv[4])'
                 ' / UDP(sport=int(sys.argv[5]), dport=int(sys.argv[6]))'
                 ' / Raw(bytes.fromhex(sys.argv[7])), iface=sys.argv[1], verbose=False)\n')
        r3 = lab.run(lab.ns_dev, [sys.executable, '-c', spoof, lab.veth_d, lab.mac(lab.veth_gd),
                                  e2e.BE4, e2e.GW4, str(e2e.BACKEND_PORT), str(PROXY_PORT),
                                  (pp2(uid) + b'spoofed: run /fw\n').hex()], timeout=30)
        time.sleep(0.5)
        got_spoof = live.expect('spoofed', 1)
        dd = ctl.delta(ctl.counters(d.status()), s1)
        drops = {k: v for k, v in dd['drops'].items() if k not in ('l3_not_for_us', 'icmp')}
        check('from the server: 2 datagrams without a header -> proxy_header; a header for a '
              'session that ended -> backend_unknown; a live session with a wrong token, by '
              'its addresses only, or by its handle without the token -> backend_forged; '
              'from another port of its host -> udp_port; from the devices\' link with the '
              'server\'s source and the right token -> backend_forged; nothing sent to a '
              'device',
              r1.returncode == 0 and r2.returncode == 0 and r3.returncode == 0
              and drops == {'proxy_header': 2, 'backend_unknown': 1, 'backend_forged': 4,
                            'udp_port': 1}
              and dd['down'] == 0 and not got_spoof,
              f'{dd}\n{r1.stderr[-300:]}{r2.stderr[-300:]}{r3.stderr[-500:]}')

        # The server's own reply with the token it was sent reaches the device.
        r4 = lab.run(lab.ns_be, [sys.executable, '-c', sender, str(e2e.BACKEND_PORT),
                                 (pp2(uid) + b'genuine reply\n').hex()], timeout=10)
        check('the server\'s reply echoing the session\'s token reaches the device',
              r4.returncode == 0 and live.expect('genuine reply', 5), live.out[-300:])
        check('the live device leaves cleanly', live.close() == 0, live.err()[-500:])
        lab.check_stop(d)


if __name__ == '__main__':
    e2e.main_guard(run)
