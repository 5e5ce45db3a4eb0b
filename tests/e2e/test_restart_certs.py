#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End to end (suite 'e2e', issue 17): certificate, raw public key and
anonymous DTLS sessions survive restarts of the daemon exactly as PSK ones do
(test_restart.py; docs/restart.md). The script's own thread runs everything;
it owns the lab (namespaces, daemon, clients) and the PKI's temporary
directory (pki.py), both removed on every exit.

One X.509 gateway (tls: our chain and key, the CA bundle and CRL, client_auth
optional, identities from the CN; one raw public key imported with `stormctl
import rpk`) and a UDP echo server behind it. Three clients, each one process
holding one session open, its stdin a pipe:

  x509   openssl s_client -dtls1_2 with a client certificate (ECDHE-ECDSA-AES128-CCM8)
  rpk    gnutls-cli --rawpkkeyfile (a raw public key found in the store, RFC 7250)
  none   openssl s_client without a certificate: an anonymous client

The daemon is stopped by `kill -9`, then by SIGTERM (a clean stop), each
followed by a start on the same config, credentials and session store. After
each start the same client processes, never told anything, keep working: their
next lines come back from the echo server; the new daemon counted no handshake
at all (`stormctl stats`), its log says it restored the three sessions, and
`stormctl sessions list` lists them with their kind (x509, rpk, none) and
identity as before the stop.

    test_restart_certs.py STORMGATE STORMCTL      (root; tag sge2e18)
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import clients, ctl, e2e, proc, restart  # noqa: E402
from sgtest.dtls import DTLS_PORT  # noqa: E402
import pki  # noqa: E402

SEQ_STEP = 4      # store.seq_step of this test's daemon
LINES = 3         # lines per client per phase
SETTLE_S = 1.0    # before a stop: past store.commit_interval (100 ms) with room
HOWS = ('kill9', 'sigterm')
GNUTLS_RPK = ('NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL'
              ':-GROUP-ALL:+GROUP-SECP256R1:+GROUP-X25519:+AES-128-CCM-8'
              ':-CTYPE-ALL:+CTYPE-CLI-RAWPK:+CTYPE-SRV-X509')


def tls_section(p):
    """The X.509 gateway with client_auth optional: certificates, raw keys and
    anonymous clients all welcome."""
    return {'cert': p.server_chain, 'key': p.server_key, 'ca': p.ca_bundle, 'crl': p.crl,
            'client_auth': 'optional', 'cert_identity': 'cn', 'rpk': True}


def s_client(lab, p, cert):
    """s_client with a client certificate (a pki.Cert; None: anonymous), verifying our
    chain against the test root."""
    args = ['openssl', 's_client', '-dtls1_2', '-brief', '-connect', f'{e2e.GW4}:{DTLS_PORT}',
            '-cipher', 'ECDHE-ECDSA-AES128-CCM8', '-CAfile', p.client_root,
            '-verify_return_error']
    if cert is not None:
        args += ['-cert', cert.cert, '-key', cert.key, '-cert_chain', p.intermediate]
    return clients.Interactive(lab, lab.ns_dev, args)


def gnutls_rpk(lab, p, key):
    return clients.Interactive(lab, lab.ns_dev, [
        'gnutls-cli', '--udp', '--priority', GNUTLS_RPK, '-p', str(DTLS_PORT),
        '--rawpkkeyfile', key.key, '--rawpkfile', key.pub, '--x509cafile', p.client_root,
        e2e.GW4])


def import_rpk(lab, d, p):
    r = d.ctl('import', 'rpk', p.rpk_csv(['rpk-good']))
    return lab.check('stormctl import rpk: the raw public key is in the store',
                     r.returncode == 0, f'{r.stdout[-300:]}{r.stderr[-300:]}')


def sessions(d):
    """`stormctl --json sessions list`: {auth kind: identity or None}."""
    r = d.ctl('--json', 'sessions', 'list')
    try:
        rows = json.loads(r.stdout)['sessions']
    except (ValueError, KeyError, TypeError):
        return {'error': r.stdout[-300:] + r.stderr[-300:]}
    return {s.get('auth'): s.get('identity') for s in rows}


def exchange(c, tag):
    """LINES lines echoed (stops at the first that is not); how many were."""
    for k in range(LINES):
        if not clients.echo_roundtrip(c, f'{tag} line {k}', timeout=5):
            return k
    return LINES


def run(stormgate, stormctl):
    with e2e.E2ELab('sge2e18', stormgate, stormctl) as lab, pki.PKI() as p:
        kw = {'tls': tls_section(p), 'store': {'seq_step': SEQ_STEP}}
        d = lab.start_daemon(**kw)
        if not import_rpk(lab, d, p):
            return
        lab.udp_echo(lab.ns_be, e2e.BE4, e2e.BACKEND_PORT)
        good, key = p.clients['good'], p.rpk('rpk-good')
        want = {'x509': good.identity, 'rpk': key.identity, 'none': None}
        cs = {'x509': s_client(lab, p, good), 'rpk': gnutls_rpk(lab, p, key),
              'none': s_client(lab, p, None)}
        for kind, c in cs.items():
            n = exchange(c, f'{kind} before')
            lab.check(f'{kind}: a session through the gateway, {n}/{LINES} lines echoed',
                      n == LINES, f'{c.out[-300:]!r}\n{c.err()[-600:]}')
        hs = restart.handshakes(d)
        listed = sessions(d)
        lab.check('3 handshakes installed; `sessions list` names each kind with its identity',
                  hs['installed'] == 3 and listed == want, f'{hs}\n{listed}\nwant {want}')
        for how in HOWS:
            time.sleep(SETTLE_S)
            rc, _ = restart.stop(d, how)
            want_rc = -9 if how == 'kill9' else 0
            lab.check(f'{how}: the daemon stops (exit {want_rc})', rc == want_rc,
                      f'exit {rc}\n{d.log()[-1500:]}')
            d = lab.start_daemon(**kw)
            n = restart.restored(d)
            lab.check(f'{how}: the new daemon logs "restored 3 sessions" (0 revoked)',
                      n == 3 and ' 0 revoked' in d.log(), d.log()[-1500:])
            for kind, c in cs.items():
                n = exchange(c, f'{kind} after {how}')
                lab.check(f'{how}: {kind}: the same client process keeps working, '
                          f'{n}/{LINES} lines echoed', n == LINES and c.p.poll() is None,
                          f'{c.out[-300:]!r}\n{c.err()[-600:]}\n'
                          f'{ctl.counters(d.status())}\n{d.log()[-1000:]}')
            hs = restart.handshakes(d)
            live = restart.live_sessions(d)
            listed = sessions(d)
            lab.check(f'{how}: 0 handshakes counted by the new daemon, 3 sessions live, '
                      'listed with their kinds and identities',
                      restart.fresh(hs) and live == 3 and listed == want,
                      f'{hs} live {live}\n{listed}\nwant {want}')
        for kind, c in cs.items():
            rc = c.close()
            lab.check(f'{kind}: the client ends its session and exits 0', rc == 0,
                      f'exit {rc}\n{c.err()[-500:]}')
        proc.wait_for(lambda: restart.live_sessions(d) == 0, timeout=5, step=0.1)
        lab.check_stop(d)


if __name__ == '__main__':
    e2e.main_guard(run)
