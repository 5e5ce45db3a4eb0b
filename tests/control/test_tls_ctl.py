#!/usr/bin/env python3
"""Certificates and raw public keys through stormctl, as TAP (suite 'integration', root).

  test_tls_ctl.py STORMGATE STORMCTL [B_SANITIZE]

Daemons on a net_null port (no traffic: the handshakes themselves are the e2e
suite's) with a PKI made here by the openssl CLI in the work directory: a CA,
a server P-256 certificate, a second one to reload, a key of another curve
and one that matches no certificate. Checked, in order: --check-config takes
a tls section and refuses a broken one with file:line:column; a start with a
key that does not match its certificate fails and names the file; `stormctl
tls` (subject, expiry, curve, the signing pool filled by the gateway thread,
the settings and the store's counts), in JSON too; `tls reload` of new files
(new subject, generation 2) and of a broken set (refused, exit 1, the file
named, the loaded set stays) and of one 5 days from its end (loaded, the log
warns to renew it); `rpk add` from a PEM file and by --spki, a
duplicate refused, --replace to another identity, `rpk list` (table, JSON,
--all pages), `rpk del` by identity and by hash; `import rpk` of a CSV and of
a PEM file streamed with progress, a bad file (exit 1, its line, nothing
stored), `import certpolicy`, `import psk`; `stats` (tls object, the store's
counts), `stormctl metrics` (stormgate_tls_* families), DPDK telemetry
/stormgate/tls; a daemon without a tls section (`tls` says off, `tls reload`
is a conflict); in the ASan+UBSan build, no sanitizer report in the logs.

Cleanup (daemons, files) runs whatever happens.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import daemon, proc, sanitizer  # noqa: E402
from sgtest.lab import Lab  # noqa: E402

STORMGATE, STORMCTL = sys.argv[1:3]
SANITIZE = sys.argv[3] if len(sys.argv) > 3 else 'none'
TAG = f'sgtls{os.getpid() % 100000}{os.environ.get("SG_E2E_TAG_SUFFIX", "")}'
run = proc.run
LAB = None


def check(name, ok, detail=''):
    return LAB.check(name, ok, detail)


def openssl(*args):
    r = run(['openssl', *args], timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f'openssl {args}: {r.stderr}')
    return r


def pki():
    """CA, two server certificates (P-256), an extra P-384 key, client RPK key pairs."""
    w = os.path.join(LAB.work, 'pki')
    os.makedirs(w)
    p = {k: os.path.join(w, k) for k in (
        'ca.key', 'ca.pem', 's1.key', 's1.pem', 's2.key', 's2.pem', 's3.key', 's3.pem',
        'other.key',
        'c1.key', 'c1.pub', 'c2.key', 'c2.pub', 'c3.key', 'c3.pub', 'crl.pem')}
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
            '-keyout', p['ca.key'], '-out', p['ca.pem'], '-days', '30', '-subj', '/CN=test CA')
    for n, cn, days in (('s1', 'gw-one', 20), ('s2', 'gw-two', 20), ('s3', 'gw-soon', 5)):
        csr = os.path.join(w, n + '.csr')
        openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                '-keyout', p[n + '.key'], '-out', csr, '-subj', f'/CN={cn}')
        openssl('x509', '-req', '-in', csr, '-CA', p['ca.pem'], '-CAkey', p['ca.key'],
                '-CAcreateserial', '-out', p[n + '.pem'], '-days', str(days))
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384',
            '-out', p['other.key'])
    for n in ('c1', 'c2', 'c3'):
        openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
                '-out', p[n + '.key'])
        openssl('pkey', '-in', p[n + '.key'], '-pubout', '-out', p[n + '.pub'])
    # An empty CRL of the CA (openssl ca wants its database files).
    cadir = os.path.join(w, 'ca')
    os.makedirs(cadir)
    open(os.path.join(cadir, 'index.txt'), 'w').close()
    conf = os.path.join(cadir, 'ca.cnf')
    with open(conf, 'w') as f:
        f.write(f'[ca]\ndefault_ca=d\n[d]\ndatabase={cadir}/index.txt\ncrlnumber={cadir}/n\n'
                'default_md=sha256\ndefault_crl_days=30\n')
    with open(os.path.join(cadir, 'n'), 'w') as f:
        f.write('01\n')
    openssl('ca', '-gencrl', '-config', conf, '-keyfile', p['ca.key'], '-cert', p['ca.pem'],
            '-out', p['crl.pem'])
    return p


def spki_b64(pub):
    """The base64 body of a PEM public key (the SPKI DER)."""
    with open(pub) as f:
        return ''.join(l.strip() for l in f if l.strip() and not l.startswith('-----'))


def spki_sha256(pub):
    import hashlib
    return hashlib.sha256(base64.b64decode(spki_b64(pub))).hexdigest()


def tls_section(p, **more):
    """The tls section of the live files: tls.cert and tls.key are copies the test may
    replace (what an operator does before `tls reload`)."""
    live = {k: os.path.join(LAB.work, 'live-' + k) for k in ('cert.pem', 'key.pem')}
    shutil.copy(p['s1.pem'], live['cert.pem'])
    shutil.copy(p['s1.key'], live['key.pem'])
    t = {'cert': live['cert.pem'], 'key': live['key.pem'], 'ca': p['ca.pem'],
         'crl': p['crl.pem'], 'sign_pool': 64}
    t.update(more)
    return t, live


def test_check_config(p):
    t, _ = tls_section(p)
    cfg = LAB.config('chk', [daemon.port('dev0', 'device', 'net_null0')], tls=t)
    r = run([STORMGATE, '--check-config', cfg.path])
    check('--check-config takes a tls section', r.returncode == 0, r.stdout + r.stderr)
    bad = LAB.config('bad', [daemon.port('dev0', 'device', 'net_null0')],
                     tls={'cert': p['s1.pem'], 'crl': p['crl.pem']})
    r = run([STORMGATE, '--check-config', bad.path])
    check('--check-config refuses tls.cert without tls.key and tls.crl without tls.ca '
          '(exit 2, file:line:column)',
          r.returncode == 2 and "'tls.key': missing" in r.stderr
          and "'tls.crl': has no use without 'tls.ca'" in r.stderr
          and f'{bad.path}:' in r.stderr, r.stderr)


def test_bad_key_start(p):
    t, _ = tls_section(p)
    t['key'] = p['s2.key']  # s2's key with s1's certificate
    cfg = LAB.config('mis', [daemon.port('dev0', 'device', 'net_null0')], tls=t)
    d = LAB.start(cfg)
    rc = d.wait(60)
    log = d.log()
    check('a key that does not match tls.cert stops the start (exit non-zero, a log line '
          'with the file)', rc not in (0, None) and 'tls:' in log
          and (t['key'] in log or t['cert'] in log), f'exit {rc}\n{log[-1500:]}')


def test_status_and_reload(d, p, live):
    ok = proc.wait_for(lambda: d.ctl_json('tls')['pool_ready'] >= 64, timeout=10, step=0.1)
    t = d.ctl_json('tls')
    check('tls: subject, expiry, curve, generation 1, the settings and the store',
          t['enabled'] and 'gw-one' in t['subject'] and t['curve'] == 'P-256'
          and t['generation'] == 1 and t['not_after'] > time.time() + 19 * 86400
          and t['config']['client_auth'] == 'require' and t['config']['ca'] == p['ca.pem']
          and t['config']['cert_identity'] == 'cn' and t['store']['raw_public_keys'] == 0,
          json.dumps(t))
    check('the gateway thread fills the signing pool (64 of 64 ready)',
          ok and t['pool_size'] == 64 and t['pool_refilled'] >= 64, json.dumps(t))
    r = d.ctl('tls')
    check('stormctl tls prints subject, expiry in days, curve and the pool',
          r.returncode == 0 and 'gw-one' in r.stdout and 'days)' in r.stdout
          and 'P-256' in r.stdout and '64/64 nonces ready' in r.stdout, r.stdout + r.stderr)

    shutil.copy(p['s2.pem'], live['cert.pem'])
    shutil.copy(p['s2.key'], live['key.pem'])
    r = d.ctl('tls', 'reload')
    t = d.ctl_json('tls')
    check('tls reload of new files: what loaded is printed, generation 2, the new subject',
          r.returncode == 0 and 'gw-two' in r.stdout and t['generation'] == 2
          and 'gw-two' in t['subject'] and t['reloads'] == 1, r.stdout + r.stderr)

    shutil.copy(p['s1.pem'], live['cert.pem'])  # s1's certificate with s2's key
    r = d.ctl('tls', 'reload')
    t = d.ctl_json('tls')
    check('tls reload of a broken set: exit 1, the reason, the loaded set stays',
          r.returncode == 1 and 'the loaded certificates stay' in r.stderr
          and t['generation'] == 2 and 'gw-two' in t['subject'] and t['reload_failed'] == 1,
          r.stdout + r.stderr)
    with open(live['cert.pem'], 'w') as f:
        f.write('-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n')
    r = d.ctl('tls', 'reload')
    check('tls reload of garbage PEM: exit 1, nothing changes',
          r.returncode == 1 and d.ctl_json('tls')['generation'] == 2, r.stderr)
    check('a certificate 20 days from its end: no expiry warning',
          'tls: the certificate expires' not in d.log(), d.log()[-1000:])
    shutil.copy(p['s3.pem'], live['cert.pem'])
    shutil.copy(p['s3.key'], live['key.pem'])
    r = d.ctl('tls', 'reload')
    check('one 5 days from its end: loaded (generation 3), and the log warns to renew it',
          r.returncode == 0 and d.ctl_json('tls')['generation'] == 3
          and proc.wait_for(lambda: 'tls: the certificate expires at' in d.log()
                            and 'CN=gw-soon); renew it' in d.log(), timeout=5),
          r.stdout + d.log()[-1000:])


def test_rpk(d, p):
    r = d.ctl('rpk', 'add', 'urn:dev:c1', p['c1.pub'])
    h1 = spki_sha256(p['c1.pub'])
    check('rpk add ID KEY.pem', r.returncode == 0 and h1 in r.stdout, r.stdout + r.stderr)
    r = d.ctl('--json', 'rpk', 'add', 'urn:dev:c2', '--spki', spki_b64(p['c2.pub']),
              '--lifetime', '2h', '--backend', '3', '--disabled')
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    check('rpk add --spki with lifetime, backend, disabled',
          j.get('key_lifetime') == 7200 and j.get('backend') == 3 and j.get('state') == 'disabled'
          and j.get('spki_sha256') == spki_sha256(p['c2.pub']), r.stdout + r.stderr)
    r = d.ctl('rpk', 'add', 'urn:dev:other', p['c1.pub'])
    check('the same key again: a conflict naming its identity (exit 1)',
          r.returncode == 1 and 'urn:dev:c1' in r.stderr, r.stderr)
    r = d.ctl('rpk', 'add', 'urn:dev:moved', p['c1.pub'], '--replace')
    check('--replace moves it, and says what became of the old identity\'s sessions',
          r.returncode == 0 and 'replaced' in r.stdout and 'sessions of its former identity'
          in r.stdout, r.stdout + r.stderr)
    r = d.ctl('rpk', 'add', 'urn:dev:x', p['other.key'])
    check('a private key file is not a public key: exit 1, nothing sent',
          r.returncode == 1 and 'BEGIN PUBLIC KEY' in r.stderr, r.stderr)
    with open(os.path.join(LAB.work, 'rsa.pub'), 'w') as f:
        k = run(['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'])
        f.write(run(['openssl', 'pkey', '-pubout'], input=k.stdout).stdout)
    r = d.ctl('rpk', 'add', 'urn:dev:rsa', os.path.join(LAB.work, 'rsa.pub'))
    check('an RSA key is refused with the reason', r.returncode == 1
          and 'not EC P-256 or P-384' in r.stderr, r.stderr)
    r = d.ctl('rpk', 'list')
    check('rpk list: a table of both keys', r.returncode == 0 and 'urn:dev:moved' in r.stdout
          and 'urn:dev:c2' in r.stdout and 'disabled' in r.stdout and h1 in r.stdout,
          r.stdout + r.stderr)
    keys = d.ctl_json('rpk', 'list', '--limit', '1', '--all')['keys']
    check('rpk list --limit 1 --all pages through both, in hash order',
          len(keys) == 2 and keys[0]['spki_sha256'] < keys[1]['spki_sha256'], json.dumps(keys))
    r = d.ctl('rpk', 'del', '--spki-sha256', spki_sha256(p['c2.pub']))
    check('rpk del --spki-sha256', r.returncode == 0 and 'urn:dev:c2' in r.stdout, r.stdout)
    r = d.ctl('rpk', 'del', 'urn:dev:moved')
    r2 = d.ctl('rpk', 'del', 'urn:dev:moved')
    check('rpk del ID, then again: not found (exit 1)',
          r.returncode == 0 and 'removed 1' in r.stdout and r2.returncode == 1
          and 'no such raw public key' in r2.stderr, r.stdout + r2.stderr)
    check('the store is empty again', d.ctl_json('tls')['store']['raw_public_keys'] == 0)


def write(name, text):
    path = os.path.join(LAB.work, name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def test_imports(d, p):
    csv = write('rpk.csv', 'identity,spki_base64,backend,key_lifetime,state\n'
                f'urn:dev:c1,{spki_b64(p["c1.pub"])}\n'
                f'urn:dev:c2,{spki_b64(p["c2.pub"])},1,3600,disabled\n')
    r = d.ctl('import', 'rpk', csv)
    check('import rpk FILE.csv: progress on stderr, what was stored',
          r.returncode == 0 and 'importing:' in r.stderr
          and 'imported 2 raw public keys from 3 lines' in r.stdout, r.stdout + r.stderr)
    with open(p['c3.pub']) as f:
        pem = write('rpk.pem', '# identity: urn:dev:c3\n' + f.read())
    r = d.ctl('import', 'rpk', pem, '--no-progress')
    check('import rpk of PEM keys with # identity: lines (no progress asked: none)',
          r.returncode == 0 and 'imported 1 raw public keys' in r.stdout
          and '(3 stored)' in r.stdout and 'importing:' not in r.stderr, r.stdout + r.stderr)
    bad = write('bad.csv', f'urn:dev:c4,{spki_b64(p["c1.pub"])}\nurn:dev:c5,AAAA\n')
    r = d.ctl('import', 'rpk', bad)
    check('a bad line 2: exit 1, FILE:2 and why, nothing imported, the store unchanged',
          r.returncode == 1 and f'{bad}:2: not a SubjectPublicKeyInfo' in r.stderr
          and 'nothing imported' in r.stderr
          and d.ctl_json('rpk', 'list')['count'] == 3
          and all(k['identity'] != 'urn:dev:c4' for k in d.ctl_json('rpk', 'list')['keys']),
          r.stderr)
    pol = write('pol.csv', 'identity,backend,key_lifetime,state\ngw-dev-1\ngw-dev-2,0,600\n')
    r = d.ctl('import', 'certpolicy', pol)
    check('import certpolicy', r.returncode == 0 and 'imported 2 certificate policies'
          in r.stdout, r.stdout + r.stderr)
    psk = write('psk.csv', 'dev-1,00112233445566778899aabbccddeeff\n')
    r = d.ctl('import', 'psk', psk)
    check('import psk (as credentials import)', r.returncode == 0
          and 'imported 1 identities' in r.stdout, r.stdout + r.stderr)
    r = d.ctl('import', 'keys', psk)
    check('import of an unknown kind: a usage error (exit 2)', r.returncode == 2, r.stderr)
    t = d.ctl_json('tls')['store']
    check('tls shows the store: 3 raw public keys, 2 certificate policies',
          t == {'raw_public_keys': 3, 'cert_policies': 2}, json.dumps(t))


def test_stats(d):
    s = d.ctl_json('stats')
    check('stats: the tls object and the store\'s counts per kind',
          s['tls']['enabled'] and s['tls']['generation'] == 3
          and s['credentials']['count'] == 1 and s['credentials']['raw_public_keys'] == 3
          and s['credentials']['cert_policies'] == 2
          and 'fail_bad_cert' in s['handshakes']['counters']
          and 'sign_precomputed' in s['handshakes']['counters'],
          json.dumps({k: s.get(k) for k in ('tls', 'credentials')}))
    r = d.ctl('stats')
    check('stormctl stats has its TLS line', r.returncode == 0
          and 'TLS          generation 3' in r.stdout, r.stdout[-1500:])
    r = d.ctl('metrics')
    lines = r.stdout.splitlines()
    check('stormctl metrics: the tls families and the certificate handshake events',
          'stormgate_tls_enabled 1' in lines and 'stormgate_tls_generation 3' in lines
          and 'stormgate_tls_sign_pool_size 64' in lines
          and 'stormgate_credential_raw_public_keys 3' in lines
          and 'stormgate_tls_reloads_total{result="failed"} 2' in lines
          and any(l.startswith('stormgate_handshake_events_total{event="fail_unknown_ca"}')
                  for l in lines),
          '\n'.join(l for l in lines if 'tls' in l or 'raw' in l))
    tel = shutil.which('dpdk-telemetry.py')
    if tel is None:
        LAB.skip('DPDK telemetry /stormgate/tls', 'dpdk-telemetry.py not installed')
        return
    time.sleep(0.6)  # the snapshot is refreshed every 250 ms
    r = run([tel, '-f', d.cfg.prefix], input='/stormgate/tls\n', timeout=20)
    got = {}
    for l in r.stdout.splitlines():
        try:
            got.update(json.loads(l))
        except ValueError:
            pass
    check('DPDK telemetry /stormgate/tls', got.get('/stormgate/tls', {}).get('generation') == 3
          and got['/stormgate/tls'].get('pool_size') == 64, r.stdout[-800:] + r.stderr[-300:])


def test_without_tls():
    cfg = LAB.config('plain', [daemon.port('dev0', 'device', 'net_null0')])
    d = LAB.start(cfg)
    if not check('a daemon without a tls section starts', d.wait_ready(), d.log()[-1500:]):
        return d
    r = d.ctl('tls')
    r2 = d.ctl('tls', 'reload')
    check('tls says it is off; tls reload is a conflict (exit 1)',
          r.returncode == 0 and 'tls: off' in r.stdout and r2.returncode == 1
          and 'no tls section' in r2.stderr, r.stdout + r2.stderr)
    check('stats: tls not enabled', d.ctl_json('stats')['tls']['enabled'] is False)
    d.stop()
    return d


def main():
    global LAB
    with Lab(TAG, STORMGATE, STORMCTL) as lab:
        LAB = lab
        if shutil.which('openssl') is None:
            lab.skip('certificates through stormctl', 'no openssl CLI')
            return
        p = pki()
        test_check_config(p)
        test_bad_key_start(p)
        t, live = tls_section(p)
        cfg = lab.config('tls', [daemon.port('dev0', 'device', 'net_null0')], tls=t)
        d = lab.start(cfg)
        d.ctl_timeout = 30
        if not check('the daemon with a tls section starts and answers', d.wait_ready(),
                     d.log()[-2000:]):
            return
        test_status_and_reload(d, p, live)
        test_rpk(d, p)
        test_imports(d, p)
        test_stats(d)
        rc = d.stop()
        check('it stops cleanly', rc == 0, f'exit {rc}\n{d.log()[-1500:]}')
        plain = test_without_tls()
        logs = d.log() + plain.log()
        sanitizer.check_logs(lab.tap, SANITIZE, STORMGATE, logs, 'the daemons\' logs')


if __name__ == '__main__':
    main()
