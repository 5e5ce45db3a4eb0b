#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End to end (suite 'e2e', issue 17): devices that authenticate with X.509
certificates and raw public keys (RFC 7250), through stormgate's ECDHE-ECDSA
suites, against a test PKI made for the run (pki.py: root, intermediate,
the gateway's P-256 certificate, client certificates good / expired / revoked
with a CRL / of another CA, raw key pairs). The script's own thread runs
everything; it owns the lab (namespaces, daemon, clients) and the PKI's
temporary directory, both removed on every exit.

The X.509 gateway: `tls:` with our chain and key, the CA bundle, the CRL,
client_auth require (every client shows a certificate or a raw public key),
identities from the subject CN; one raw public key imported into the store
(`stormctl import rpk`), one not.

  - libcoap (coap-client-openssl, coap-client-gnutls) with PKI (-c/-j/-C): GET
    /time and PUT /example_data on coap-server-notls, the PUT read back by the
    other stack, IPv4 and IPv6;
  - then a UDP echo server behind the gateway: openssl s_client with a client
    certificate, ECDHE-ECDSA-AES128-CCM8 (IPv4 and IPv6) and
    ECDHE-ECDSA-AES128-GCM-SHA256, verifying our chain and address; gnutls-cli
    with X.509 (AES-128-CCM-8, AES-128-GCM) and with --rawpkkeyfile against our
    certificate: lines echoed, the session listed under the certificate's
    identity (or the key's store name) while it is up; s_client resuming a
    certificate session from its ticket (-sess_out / -sess_in);
  - refusals: an expired certificate (certificate_expired), a revoked one
    (certificate_revoked), one of another CA (unknown_ca), no certificate
    (handshake_failure), a raw public key not in the store (bad_certificate):
    the client gets the alert, nothing is installed, and `stormctl stats`
    counts it under its reason and in handshakes.failed.

The raw-key gateway (LwM2M's RPK mode: tls.key and tls.rpk_key, no
certificate; the same credential store): gnutls-cli with raw keys both ways
(the key it got, --save-cert, is ours), a raw key not in the store refused;
coap-client-gnutls -M GET and PUT read back (coap-client-openssl 4.3.1 has no
RPK support: SKIP, from its usage). Both libcoap and gnutls-cli list X.509
first among the server's types; against a gateway with a certificate too they
would get it (docs/e2e.md, "What the tools cannot do").

The X.509 gateway again in backend mode proxy: the PROXY v2 header the backend
(proxy_backend.py) gets names the certificate's CN or the raw key's name (0xE0)
and the kind (0xE1), with PP2_TYPE_SSL's certificate flags. A daemon built with
sanitizers (given by hand: test_certs.py build-asan/control/stormgate ...) must
leave no report in its log.

    test_certs.py STORMGATE STORMCTL      (root; tag sge2e17)
"""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import clients, e2e, proc, sanitizer  # noqa: E402
from sgtest.dtls import DTLS_PORT  # noqa: E402
import pki  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

COAP_CLIENTS = ('coap-client-openssl', 'coap-client-gnutls')
CLOCK = re.compile(r'[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}')
GNUTLS_BASE = ('NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL'
               ':-GROUP-ALL:+GROUP-SECP256R1:+GROUP-X25519')

# s_client with a client certificate: OpenSSL name, family, the suite's IANA value
OPENSSL_ROWS = [
    ('ECDHE-ECDSA-AES128-CCM8', 'IPv4'),
    ('ECDHE-ECDSA-AES128-CCM8', 'IPv6'),
    ('ECDHE-ECDSA-AES128-GCM-SHA256', 'IPv4'),
]
# gnutls-cli: what it authenticates with, its cipher, the priority's certificate types
# (RFC 7250: only those listed, so the gateway cannot pick another), what its Description
# names (the group is ours to choose: X25519 or P-256)
CT_RPK_X509 = ':-CTYPE-ALL:+CTYPE-CLI-RAWPK:+CTYPE-SRV-X509'
CT_RPK_RPK = ':-CTYPE-ALL:+CTYPE-CLI-RAWPK:+CTYPE-SRV-RAWPK'
GNUTLS_ROWS = [
    ('x509', 'AES-128-CCM-8', '', r'\(DTLS1\.2-X\.509\)-\(ECDHE-[A-Z0-9]+\)-\(ECDSA-SHA256\)'
     r'-\(AES-128-CCM-8\)'),
    ('x509', 'AES-128-GCM', '', r'\(DTLS1\.2-X\.509\)-\(ECDHE-[A-Z0-9]+\)-\(ECDSA-SHA256\)'
     r'-\(AES-128-GCM\)'),
    ('rpk', 'AES-128-CCM-8', CT_RPK_X509, r'\(ECDSA-SHA256\)-\(AES-128-CCM-8\)'),
]
# refusals: name, client, credential, alert (RFC 5246 §7.2), the counter that says why
REFUSALS = [
    ('an expired certificate', 'openssl', 'expired', 45, 'fail_cert_expired'),
    ('a revoked certificate (on the CRL)', 'openssl', 'revoked', 44, 'fail_cert_revoked'),
    ('a certificate of another CA', 'openssl', 'other-ca', 48, 'fail_unknown_ca'),
    ('no certificate (client_auth require)', 'openssl', None, 40, 'fail_no_cert'),
    ('a raw public key not in the store', 'gnutls-rpk', 'rpk-unknown', 42, 'fail_bad_cert'),
    ('an expired certificate', 'gnutls', 'expired', 45, 'fail_cert_expired'),
]
# ... against the raw-key gateway (raw keys both ways)
REFUSALS_RPK = [
    ('a raw public key not in the store', 'gnutls-rpk', 'rpk-unknown', 42, 'fail_bad_cert'),
]


def host_of(fam):
    return e2e.GW4 if fam == 'IPv4' else e2e.GW6


class Run:
    def __init__(self, lab, d, p):
        self.lab, self.d, self.p = lab, d, p
        self.check = lab.check

    # ---- what the daemon says ----------------------------------------------------

    def stats(self):
        """The handshake counters of `stormctl --json stats` (by their names) with its
        installed and failed totals."""
        hs = self.d.ctl_json('stats')['handshakes']
        out = dict(hs['counters'])
        out['installed'] = hs['installed']
        out['failed'] = hs['failed']
        return out

    def dstats(self, before):
        after = self.stats()
        return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}

    def sessions_of(self, ident):
        r = self.d.ctl('--json', 'sessions', 'list', '--identity', ident)
        try:
            return json.loads(r.stdout)['sessions']
        except (ValueError, KeyError):
            return None

    # ---- clients ---------------------------------------------------------------

    def s_client(self, host, cipher, cert=None, extra=()):
        """s_client -dtls1_2 with a client certificate (a pki.Cert; None: none), checking our
        chain against the test root and our address against the certificate's SAN."""
        args = ['openssl', 's_client', '-dtls1_2', '-brief', '-connect',
                f'[{host}]:{DTLS_PORT}' if ':' in host else f'{host}:{DTLS_PORT}',
                '-cipher', cipher, '-CAfile', self.p.client_root, '-verify_return_error',
                '-verify_ip', host]
        if cert is not None:
            args += ['-cert', cert.cert, '-key', cert.key, '-cert_chain', self.p.intermediate]
        return clients.Interactive(self.lab, self.lab.ns_dev, [*args, *extra])

    def gnutls_cli(self, kind, cipher, ctypes, cred, host=e2e.GW4, extra=()):
        """gnutls-cli --udp: kind x509 (cred a pki.Cert, its chain sent), rpk (cred a
        pki.RawKey; our certificate verified), rpk-both (raw keys both ways: gnutls-cli
        cannot be told whose raw key to trust, --insecure; the caller checks our key's
        key: --save-cert)."""
        args = ['gnutls-cli', '--udp', '--priority', f'{GNUTLS_BASE}:+{cipher}{ctypes}',
                '-p', str(DTLS_PORT)]
        if kind == 'x509':
            args += ['--x509certfile', cred.chain, '--x509keyfile', cred.key]
        else:
            args += ['--rawpkkeyfile', cred.key, '--rawpkfile', cred.pub]
        if kind == 'rpk-both':
            args += ['--insecure']
        else:
            args += ['--x509cafile', self.p.client_root]
        return clients.Interactive(self.lab, self.lab.ns_dev, [*args, *extra, host])

    def coap(self, client, path, cred_args, *args, host=e2e.GW4, timeout=20):
        """libcoap's client run to its end (killed after timeout s); its output decoded
        leniently (libcoap may print a peer's bytes)."""
        h = f'[{host}]' if ':' in host else host
        p = self.lab.spawn(self.lab.ns_dev, [client, '-B', '8', *cred_args, *args,
                                             f'coaps://{h}/{path}'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=False)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.lab.kill(p)
            out, err = p.communicate()
            err += f'\n[killed after {timeout} s]'.encode()
        return subprocess.CompletedProcess(p.args, p.returncode, out.decode(errors='replace'),
                                           err.decode(errors='replace'))

    def coap_pki(self, cert):
        return ['-c', cert.cert, '-j', cert.key, '-C', self.p.client_root]

    # ---- libcoap -----------------------------------------------------------------

    def libcoap_pki(self):
        good = self.p.clients['good']
        s0 = self.stats()
        n = 0
        for i, client in enumerate(COAP_CLIENTS):
            for fam in ('IPv4', 'IPv6'):
                host = host_of(fam)
                r = self.coap(client, 'time', self.coap_pki(good), host=host)
                self.check(f'{client} PKI {fam}: GET coaps://{host}/time answers the clock',
                           r.returncode == 0 and CLOCK.fullmatch(r.stdout.strip()),
                           f'exit {r.returncode}\nstdout {r.stdout!r}\n'
                           f'stderr {r.stderr[-800:]}')
                value = f'pki-{client}-{fam}-{os.getpid()}'
                r = self.coap(client, 'example_data', self.coap_pki(good), '-m', 'put', '-e',
                              value, host=host)
                ok_put = r.returncode == 0
                other = COAP_CLIENTS[1 - i]
                r2 = self.coap(other, 'example_data', self.coap_pki(good), host=host)
                self.check(f'{client} PKI {fam}: PUT /example_data, read back by {other} PKI',
                           ok_put and r2.returncode == 0 and r2.stdout.strip() == value,
                           f'put exit {r.returncode} {r.stderr[-500:]}\nget exit '
                           f'{r2.returncode} {r2.stdout!r}\n{r2.stderr[-500:]}')
                n += 3
        dd = self.dstats(s0)
        self.check(f'libcoap PKI: {n} ECDHE-ECDSA handshakes with a client certificate '
                   'completed and installed, none failed',
                   dd.get('completed_cert', 0) == n and dd.get('installed', 0) == n
                   and not any(k.startswith('fail_') for k in dd), dd)

    def libcoap_rpk(self):
        usage = subprocess.run(['coap-client-openssl'], capture_output=True, text=True)
        if 'no RPK support' in usage.stdout + usage.stderr:
            self.lab.skip('coap-client-openssl -M (raw public key)',
                          'libcoap 4.3.1 on OpenSSL has no RPK support (its usage says so; '
                          'OpenSSL 3.0 has no RFC 7250)')
        key = self.p.rpk('rpk-good')
        s0 = self.stats()
        n = 0
        for fam in ('IPv4', 'IPv6'):
            host = host_of(fam)
            r = self.coap('coap-client-gnutls', 'time', ['-M', key.both], host=host)
            self.check(f'coap-client-gnutls RPK {fam}: GET /time answers the clock',
                       r.returncode == 0 and CLOCK.fullmatch(r.stdout.strip()),
                       f'exit {r.returncode}\nstdout {r.stdout!r}\nstderr {r.stderr[-800:]}')
            value = f'rpk-{fam}-{os.getpid()}'
            r = self.coap('coap-client-gnutls', 'example_data', ['-M', key.both], '-m', 'put',
                          '-e', value, host=host)
            r2 = self.coap('coap-client-gnutls', 'example_data', ['-M', key.both], host=host)
            self.check(f'coap-client-gnutls RPK {fam}: PUT /example_data, read back',
                       r.returncode == 0 and r2.returncode == 0 and r2.stdout.strip() == value,
                       f'put exit {r.returncode} {r.stderr[-500:]}\nget exit {r2.returncode} '
                       f'{r2.stdout!r}\n{r2.stderr[-500:]}')
            n += 3
        dd = self.dstats(s0)
        self.check(f'libcoap RPK: {n} handshakes with a raw public key found in the store',
                   dd.get('completed_cert', 0) == n and dd.get('installed', 0) == n
                   and not any(k.startswith('fail_') for k in dd), dd)

    # ---- s_client and gnutls-cli through the echo server --------------------------

    def exchange(self, c, tag, ident):
        """Two lines echoed; the session listed under ident meanwhile. (ok, rows)"""
        ok = clients.echo_roundtrip(c, f'{tag} line 0')
        rows = self.sessions_of(ident) if ok else None
        ok = clients.echo_roundtrip(c, f'{tag} line 1') and ok
        return ok, rows

    def openssl_x509(self):
        good = self.p.clients['good']
        s0 = self.stats()
        for cipher, fam in OPENSSL_ROWS:
            c = self.s_client(host_of(fam), cipher, good)
            ok, rows = self.exchange(c, f's_client {cipher} {fam}', good.identity)
            rc = c.close()
            err = c.err()
            self.check(f's_client {cipher} {fam} with a client certificate: our chain and '
                       'address verify, two lines echoed, clean close',
                       ok and rc == 0 and f'Ciphersuite: {cipher}' in err
                       and 'Verification: OK' in err and 'CN = sg-e2e-gateway' in err,
                       f'exit {rc} echo {ok}\nstdout {c.out[-400:]!r}\nstderr {err[-900:]}')
            self.check(f'... the session is listed under the certificate\'s CN '
                       f'({good.identity})',
                       rows is not None and len(rows) == 1
                       and rows[0].get('identity') == good.identity, rows)
        n = len(OPENSSL_ROWS)
        dd = self.dstats(s0)
        self.check(f's_client: {n} certificate handshakes completed, installed, none failed',
                   dd.get('completed_cert', 0) == n and dd.get('installed', 0) == n
                   and not any(k.startswith('fail_') for k in dd), dd)

    def openssl_resumption(self):
        """A certificate session resumed from its ticket (RFC 5077): the abbreviated
        handshake carries records and the session keeps the certificate's identity."""
        good = self.p.clients['good']
        sess = os.path.join(self.lab.work, 'cert.session')
        s0 = self.stats()
        for step, extra in (('full', ('-sess_out', sess)), ('resumed', ('-sess_in', sess))):
            c = self.s_client(e2e.GW4, 'ECDHE-ECDSA-AES128-CCM8', good, extra=extra)
            ok, rows = self.exchange(c, f's_client cert {step}', good.identity)
            rc = c.close()
            err = c.err()
            self.check(f's_client {extra[0]}: {step} certificate handshake, two lines echoed, '
                       f'listed under {good.identity}',
                       ok and rc == 0 and rows is not None and len(rows) == 1
                       and rows[0].get('identity') == good.identity,
                       f'exit {rc} rows {rows}\nstdout {c.out[-300:]!r}\n{err[-700:]}')
        dd = self.dstats(s0)
        self.check('certificate resumption: one full handshake with a ticket, one abbreviated',
                   dd.get('completed_cert', 0) == 1 and dd.get('completed_resumed', 0) == 1
                   and dd.get('ticket_issued', 0) >= 1 and dd.get('installed', 0) == 2
                   and dd.get('failed', 0) == 0, dd)

    def gnutls(self):
        good = self.p.clients['second']
        key = self.p.rpk('rpk-good')
        s0 = self.stats()
        for kind, cipher, ctypes, desc in GNUTLS_ROWS:
            cred, ident = (good, good.identity) if kind == 'x509' else (key, key.identity)
            c = self.gnutls_cli(kind, cipher, ctypes, cred)
            ok, rows = self.exchange(c, f'gnutls {kind} {cipher}', ident)
            rc = c.close()
            out = c.out.decode(errors='replace')
            self.check(f'gnutls-cli {kind} {cipher}: our chain verifies, two lines echoed',
                       ok and rc == 0 and re.search(desc, out) is not None
                       and 'The certificate is trusted' in out,
                       f'exit {rc} echo {ok} want {desc}\nstdout {out[-1500:]}\n'
                       f'stderr {c.err()[-500:]}')
            self.check(f'... the session is listed under {ident}',
                       rows is not None and len(rows) == 1 and rows[0].get('identity') == ident,
                       rows)
        n = len(GNUTLS_ROWS)
        dd = self.dstats(s0)
        self.check(f'gnutls-cli: {n} certificate / raw key handshakes completed, none failed',
                   dd.get('completed_cert', 0) == n and dd.get('installed', 0) == n
                   and not any(k.startswith('fail_') for k in dd), dd)

    def gnutls_rpk_only(self):
        """Against the raw-key gateway: raw keys both ways; the raw key gnutls-cli got
        (--save-cert writes the peer's SubjectPublicKeyInfo) must be ours, since gnutls-cli
        cannot be told to trust one."""
        key = self.p.rpk('rpk-good')
        ours = self.p.spki_b64(self.p.server_key)
        s0 = self.stats()
        for fam in ('IPv4', 'IPv6'):
            saved = os.path.join(self.lab.work, f'peer-rpk-{fam}.pem')
            c = self.gnutls_cli('rpk-both', 'AES-128-CCM-8', CT_RPK_RPK, key, host=host_of(fam),
                                extra=('--save-cert', saved))
            ok, rows = self.exchange(c, f'gnutls rpk-both {fam}', key.identity)
            rc = c.close()
            out = c.out.decode(errors='replace')
            got = pki.pem_body(saved)
            self.check(f'gnutls-cli raw keys both ways {fam}: our raw key, two lines echoed, '
                       'the session listed under the client key\'s identity',
                       ok and rc == 0 and '(DTLS1.2-Raw Public Key)' in out and got == ours
                       and rows is not None and len(rows) == 1
                       and rows[0].get('identity') == key.identity,
                       f'exit {rc} echo {ok} peer key {got} ours {ours} rows {rows}\n'
                       f'stdout {out[-1500:]}\nstderr {c.err()[-500:]}')
        dd = self.dstats(s0)
        self.check('gnutls-cli raw keys: 2 handshakes completed, none failed',
                   dd.get('completed_cert', 0) == 2 and dd.get('installed', 0) == 2
                   and not any(k.startswith('fail_') for k in dd), dd)

    # ---- refusals ----------------------------------------------------------------

    def refusals(self, rows, ctypes=CT_RPK_X509):
        s0 = self.stats()
        want = {}
        for name, stack, cred_name, alert, counter in rows:
            before = self.stats()
            if stack == 'openssl':
                cred = self.p.clients[cred_name] if cred_name else None
                c = self.s_client(e2e.GW4, 'ECDHE-ECDSA-AES128-CCM8', cred)
            elif stack == 'gnutls':
                c = self.gnutls_cli('x509', 'AES-128-CCM-8', '', self.p.clients[cred_name])
            else:
                c = self.gnutls_cli('rpk-both' if ctypes == CT_RPK_RPK else 'rpk',
                                    'AES-128-CCM-8', ctypes, self.p.rpk(cred_name))
            ok = c.send('never') and c.expect('echo:never', 3)
            rc = c.close()
            text = c.out.decode(errors='replace') + c.err()
            got_alert = (f'alert number {alert}' in text if stack == 'openssl'
                         else f'Received alert [{alert}]' in text)
            dd = self.dstats(before)
            self.check(f'{stack}, {name}: alert {alert}, nothing installed, `stats` counts '
                       f'{counter}',
                       not ok and rc != 0 and got_alert and dd.get(counter, 0) == 1
                       and dd.get('installed', 0) == 0,
                       f'exit {rc}\n{text[-900:]}\n{dd}')
            want[counter] = want.get(counter, 0) + 1
        dd = self.dstats(s0)
        fails = {k: v for k, v in dd.items() if k.startswith('fail_')}
        self.check(f'refusals: failures by reason {want} and nothing else',
                   fails == want and dd.get('installed', 0) == 0, dd)
        self.check('... and `stats` handshakes.failed grew by their sum (completions and '
                   'signatures are not failures)',
                   dd.get('failed', 0) == sum(want.values()), dd)


def tls_section(p):
    """The X.509 gateway: our chain and key (also offered as a raw key, RFC 7250), the CA
    bundle and CRL, every client authenticated, identities from the CN."""
    return {'cert': p.server_chain, 'key': p.server_key, 'ca': p.ca_bundle, 'crl': p.crl,
            'client_auth': 'require', 'cert_identity': 'cn', 'rpk': True}


def rpk_section(p):
    """The raw-key gateway (LwM2M's RPK mode): our key as a bare public key, no
    certificate, clients by their raw keys in the store only."""
    return {'key': p.server_key, 'rpk_key': p.server_pub, 'client_auth': 'require',
            'rpk': True}


def import_rpk(lab, d, p):
    csv = p.rpk_csv(['rpk-good'])
    r = d.ctl('import', 'rpk', csv)
    listed = d.ctl('--json', 'rpk', 'list')
    try:
        rows = json.loads(listed.stdout)
        rows = rows['keys']
    except (ValueError, KeyError, TypeError):
        rows = []
    names = {x.get('identity') for x in rows if isinstance(x, dict)}
    return lab.check('stormctl import rpk: one raw public key in the store, listed under its '
                     'identity', r.returncode == 0 and listed.returncode == 0
                     and names == {p.rpk('rpk-good').identity},
                     f'import exit {r.returncode} {r.stdout[-300:]}{r.stderr[-300:]}\n'
                     f'list exit {listed.returncode} {listed.stdout[-500:]}{listed.stderr[-300:]}')


def backend_lines(pb, n, timeout=5):
    """The next n JSON lines proxy_backend.py printed."""
    out = []
    end = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        if pb.expect('\n', 0.2):
            out += [json.loads(x) for x in pb.take_lines() if x.strip()]
    return out


def proxy_identities(lab, d, p):
    """backend mode proxy: the PROXY v2 header names how the device authenticated
    (include/stormgate/proxy_v2.h): 0xE0 its identity (the certificate's CN, the raw
    key's store name), 0xE1 the kind (1 X.509, 2 raw key), PP2_TYPE_SSL's client field
    with PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS (0x02 | 0x04)."""
    pb = clients.Interactive(lab, lab.ns_be, [sys.executable, os.path.join(HERE,
                                              'proxy_backend.py'), e2e.BE4,
                                              str(e2e.BACKEND_PORT)])
    if not lab.check('proxy_backend.py runs', pb.expect('ready\n', 10), pb.err()):
        return
    pb.out = b''
    r = Run(lab, d, p)
    good, key = p.clients['good'], p.rpk('rpk-good')
    for name, c, ident, kind in (
            ('s_client, X.509', r.s_client(e2e.GW4, 'ECDHE-ECDSA-AES128-CCM8', good),
             good.identity, '01'),
            ('gnutls-cli, raw key', r.gnutls_cli('rpk', 'AES-128-CCM-8', CT_RPK_X509, key),
             key.identity, '02')):
        ok = clients.echo_roundtrip(c, f'proxy {name}')
        rc = c.close()
        lines = backend_lines(pb, 1)
        t = lines[0].get('tlvs', {}) if len(lines) == 1 else {}
        ssl = t.get('ssl') or {}
        hdr_ok = (t.get('psk_identity') == ident and t.get('0xe1') == kind
                   and ssl.get('client', 0) & 0x07 == 0x07 and ssl.get('verify') == 0)
        lab.check(f'proxy mode, {name}: echoed; the PROXY v2 header names {ident}, auth kind '
                  f'0x{kind}, PP2_CLIENT_SSL|CERT_CONN|CERT_SESS, verify 0',
                  ok and rc == 0 and hdr_ok,
                  f'exit {rc} echo {ok}\nbackend {lines}\n{c.err()[-500:]}')


def in_flight_none(lab, d, what):
    proc.wait_for(lambda: d.status()['handshakes']['in_flight'] == 0, timeout=5)
    st = d.status()
    lab.check(f'{what}: no handshake left in flight, the daemon still answers',
              st['handshakes']['in_flight'] == 0, st['handshakes'])


def stop(lab, d):
    """The daemon stopped cleanly; in a sanitizer build, nothing reported in its log (the
    certificate paths: loads, chains, raw keys, refusals, reloads of the set)."""
    lab.check_stop(d)
    if sanitizer.instrumented(lab.stormgate):
        found = sanitizer.reports(d.log())
        lab.check(f'{d.cfg.name}: no sanitizer report in the daemon\'s log', not found,
                  '\n'.join(found[:20]))


def run(stormgate, stormctl):
    with e2e.E2ELab('sge2e17', stormgate, stormctl) as lab, pki.PKI() as p:
        # The X.509 gateway: libcoap PKI, then s_client and gnutls-cli through an echo.
        d = lab.start_daemon(tls=tls_section(p))
        import_rpk(lab, d, p)
        r = Run(lab, d, p)
        srv = lab.coap_server()
        r.libcoap_pki()
        lab.kill(srv)
        echo = lab.udp_echo(lab.ns_be, e2e.BE4, e2e.BACKEND_PORT)
        r.openssl_x509()
        r.openssl_resumption()
        r.gnutls()
        r.refusals(REFUSALS)
        in_flight_none(lab, d, 'X.509 gateway')
        stop(lab, d)
        # The raw-key gateway, on the same credential store: gnutls-cli, then libcoap -M.
        d = lab.start_daemon(name='rpk', tls=rpk_section(p))
        r = Run(lab, d, p)
        r.gnutls_rpk_only()
        r.refusals(REFUSALS_RPK, CT_RPK_RPK)
        lab.kill(echo)
        srv = lab.coap_server()
        r.libcoap_rpk()
        in_flight_none(lab, d, 'raw-key gateway')
        stop(lab, d)
        lab.kill(srv)
        # The X.509 gateway in proxy mode: what the backend is told about the device.
        d = lab.start_daemon(name='proxy', backend_mode='proxy', tls=tls_section(p))
        proxy_identities(lab, d, p)
        stop(lab, d)


if __name__ == '__main__':
    e2e.main_guard(run)
