#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The test PKI of the e2e certificate tests (pki.py) on its own, without root
(suite 'unit'): every client certificate verifies, or fails, against the CA
bundle and CRL the gateway loads exactly as test_certs.py expects (openssl
verify: expired, revoked, unknown issuer); the gateway's chain verifies from
the root the clients trust, for the gateway's addresses; a raw key's SPKI is
its key's; both gateways' `tls:` sections of test_certs.py pass the daemon's
--check-config with these files; and close() removes the directory, keys
included. Run by the script's one thread; it owns the PKI it makes.

    test_pki.py STORMGATE
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tools'))
sys.path.insert(0, HERE)
from sgtest import daemon  # noqa: E402
from sgtest.tap import Tap  # noqa: E402
import pki  # noqa: E402
import test_certs  # noqa: E402

# client certificate, what `openssl verify -crl_check` says against the gateway's CA and CRL
CLIENT_ROWS = [
    ('good', 0, 'OK'),
    ('second', 0, 'OK'),
    ('expired', 2, 'certificate has expired'),
    ('revoked', 2, 'certificate revoked'),
    ('other-ca', 2, 'unable to get local issuer certificate'),
]


def verify(*args):
    return subprocess.run(['openssl', 'verify', *args], capture_output=True, text=True,
                          timeout=30)


def check_clients(t, p):
    for name, rc, says in CLIENT_ROWS:
        c = p.clients[name]
        r = verify('-crl_check', '-CAfile', p.ca_bundle, '-CRLfile', p.crl, c.cert)
        t.check(f'client {name}: openssl verify against tls.ca and tls.crl says "{says}"',
                r.returncode == rc and says in r.stdout + r.stderr,
                f'exit {r.returncode}\n{r.stdout}{r.stderr}\n{p.describe(c.cert)}')
        r = subprocess.run(['openssl', 'x509', '-in', c.cert, '-noout', '-subject', '-ext',
                            'subjectAltName'], capture_output=True, text=True, timeout=30)
        t.check(f'client {name}: CN and SAN URI are its identity {c.identity}',
                f'CN = {c.identity}' in r.stdout and f'URI:{c.identity}' in r.stdout, r.stdout)


def check_server(t, p):
    for addr in ('198.18.1.1', 'fd00:5347:1::1'):
        r = verify('-CAfile', p.client_root, '-untrusted', p.intermediate, '-verify_ip', addr,
                   '-purpose', 'sslserver', p.server_cert)
        t.check(f'the gateway\'s certificate verifies from the root for {addr}',
                r.returncode == 0, r.stdout + r.stderr)
    r = verify('-CAfile', p.client_root, '-verify_ip', '198.18.9.9', '-untrusted',
               p.intermediate, p.server_cert)
    t.check('... and not for another address', r.returncode != 0, r.stdout + r.stderr)
    with open(p.server_chain) as f:
        blocks = f.read().count('-----BEGIN CERTIFICATE-----')
    t.check('tls.cert holds the leaf then the intermediate', blocks == 2, blocks)


def check_rpk(t, p):
    a, b = p.rpk('rpk-good'), p.rpk('rpk-unknown')
    t.check('raw keys: each SPKI is its key\'s, two keys differ, the import CSV names one',
            a.spki_b64 == p.spki_b64(a.key) == pki.pem_body(a.pub) and a.spki_b64 != b.spki_b64
            and open(p.rpk_csv(['rpk-good'])).read()
            == f'identity,spki_base64\n{a.identity},{a.spki_b64}\n', (a, b))
    with open(a.both) as f:
        both = f.read()
    t.check('libcoap -M file: the public key then the private key',
            both.index('PUBLIC KEY') < both.index('PRIVATE KEY'), both[:80])


def check_configs(t, p, stormgate, work):
    ports = [daemon.port('dev0', 'device', 'net_null0', ['198.18.1.1/24']),
             daemon.port('app0', 'backend', 'net_null1')]
    for name, tls in (('x509', test_certs.tls_section(p)), ('rpk', test_certs.rpk_section(p))):
        cfg = daemon.config(f'sgpki{name}', os.path.join(work, f'{name}.sock'),
                            os.path.join(work, 'creds'), ports, tls=tls,
                            backend={'mode': 'udp', 'port': 'app0',
                                     'servers': ['198.18.2.2:5683']})
        c = daemon.write_config(os.path.join(work, f'{name}.yaml'), name, cfg)
        r = subprocess.run([stormgate, '--check-config', c.path],
                           capture_output=True, text=True, timeout=30)
        t.check(f'test_certs.py\'s {name} gateway config passes --check-config',
                r.returncode == 0, r.stdout[-800:] + r.stderr[-800:])


def main():
    t = Tap()
    with tempfile.TemporaryDirectory(prefix='sg-pki-test-') as work:
        p = pki.PKI()
        try:
            p.make()
            check_clients(t, p)
            check_server(t, p)
            check_rpk(t, p)
            check_configs(t, p, sys.argv[1], work)
        finally:
            d = p.dir
            p.close()
        t.check('close() removes the PKI\'s directory, keys included',
                d is not None and not os.path.exists(d), d)
    sys.exit(t.finish())


if __name__ == '__main__':
    main()
