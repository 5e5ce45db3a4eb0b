#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End to end (suite 'e2e', issue 17): clients that offer only
TLS_PSK_WITH_AES_128_CBC_SHA256 (an LwM2M 1.0/1.1 client's suite) through the
stormgate daemon on its default policy (the CBC suites are offered, last) to a
UDP echo server in the backend namespace, each doing request/response:

  - openssl s_client -dtls1_2 -cipher PSK-AES128-CBC-SHA256, with
    encrypt_then_mac (RFC 7366; OpenSSL offers it by default) and without
    (-no_etm: MAC-then-encrypt, the constant-time check), over IPv4 and IPv6;
  - gnutls-cli with a CBC-only priority (AES-128-CBC, SHA256), with and without
    encrypt_then_mac (%NO_ETM);
  - lines of every padding length around a block (the plaintext 1 .. 34 bytes
    and one of 300) echoed whole;
  - policy.suites without the CBC suites (`stormctl policy set`): a CBC-only
    client is refused with handshake_failure (fail_no_shared_suite), an AEAD one still
    served; `stormctl policy reset suites` serves CBC again;
  - the capture: each CBC ServerHello names 0x00ae, carries encrypt_then_mac
    exactly when the client offered it, and no connection_id.

The script runs as the test's only process on the devices' side; the daemon is
ours (started and stopped here).

    test_cbc.py STORMGATE STORMCTL      (root; tag sge2e21)
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import capture, clients, ctl, e2e  # noqa: E402

CBC_IANA = '0x00ae'
ETM_EXT = '22'  # encrypt_then_mac (RFC 7366 §2)
CID_EXT = '54'  # connection_id (RFC 9146 §3)
GNUTLS_CBC = ('NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CBC:'
              '-MAC-ALL:+SHA256')
AEAD_ONLY = ('[TLS_PSK_WITH_AES_128_CCM, TLS_PSK_WITH_AES_128_GCM_SHA256, '
             'TLS_PSK_WITH_AES_128_CCM_8]')
# Lines whose plaintext (the line and its newline, 2..34 bytes and 300) takes every
# padding length (RFC 5246 §6.2.3.2: 1..16 bytes to the block after the 32-byte MAC).
LENGTHS = list(range(1, 34)) + [299]


class Run:
    def __init__(self, lab, d):
        self.lab, self.d = lab, d
        self.check = lab.check
        self.dev = 0
        self.etm_offered = []  # per CBC handshake, in order: did the client offer EtM

    def ident(self):
        self.dev += 1
        return e2e.device_identity(self.dev), e2e.device_key(self.dev)

    def snap(self):
        return ctl.counters(self.d.status())

    def exchange(self, c):
        """A line of each of LENGTHS sent and its echo back; the lengths that failed."""
        bad = []
        for n in LENGTHS:
            # Digits, unique per length (so is its echo): s_client takes a line that
            # starts with Q, R, k or K as a command (quit, renegotiate, key update).
            line = str(n % 10) * n
            if not clients.echo_roundtrip(c, line):
                bad.append(n)
        return bad

    def one(self, name, make, etm, want_text):
        """A client made by make(ident, key): handshake, the lines echoed, a clean close."""
        ident, key = self.ident()
        s0 = self.snap()
        c = make(ident, key)
        bad = self.exchange(c)
        rc = c.close()
        out = c.out.decode(errors='replace')
        err = c.err()
        dd = ctl.delta(self.snap(), s0)
        n = len(LENGTHS)
        self.etm_offered.append(etm)
        self.check(f'{name}: CBC-SHA256 handshake, {n} lines of every padding length echoed, '
                   'clean close',
                   not bad and rc == 0 and all(t in out + err for t in want_text),
                   f'exit {rc} failed lengths {bad}\nstdout {out[-600:]!r}\nstderr {err[-800:]}')
        self.check(f'... one session installed, {n} records each way, nothing dropped as '
                   'unauthenticated',
                   dd['installed'] == 1 and dd['up'] == n and dd['down'] == n
                   and dd['drops'].get('auth_failed', 0) == 0, dd)
        return out

    def openssl(self):
        for fam, host in (('IPv4', e2e.GW4), ('IPv6', e2e.GW6)):
            for etm in (True, False):
                if fam == 'IPv6' and not etm:
                    continue
                extra = () if etm else ('-no_etm',)
                self.one(f's_client {fam} {"EtM" if etm else "-no_etm (MAC-then-encrypt)"}',
                         lambda i, k, h=host, x=extra: clients.s_client(
                             self.lab, h, i, k, 'PSK-AES128-CBC-SHA256', extra=x),
                         etm, ('Ciphersuite: PSK-AES128-CBC-SHA256',
                               'Protocol version: DTLSv1.2'))

    def gnutls(self):
        for etm in (True, False):
            prio = GNUTLS_CBC + ('' if etm else ':%NO_ETM')
            # gnutls-cli lists the session's options: "EtM" when negotiated.
            want = ['(DTLS1.2-X.509)-(PSK)-(AES-128-CBC)-(SHA256)']
            out = self.one(f'gnutls-cli {"EtM" if etm else "%NO_ETM (MAC-then-encrypt)"}',
                           lambda i, k, p=prio: clients.gnutls_cli(self.lab, e2e.GW4, i, k, p),
                           etm, want)
            opts = [l for l in out.splitlines() if l.startswith('- Options:')]
            self.check(f'... gnutls-cli says EtM was {"" if etm else "not "}negotiated',
                       len(opts) == 1 and (' EtM' in opts[0]) == etm, opts)

    def refused_without_cbc(self):
        r = self.d.ctl('policy', 'set', f'suites={AEAD_ONLY}')
        self.check('stormctl policy set suites without the CBC suites', r.returncode == 0,
                   r.stdout + r.stderr)
        ident, key = self.ident()
        s0 = self.snap()
        c = clients.s_client(self.lab, e2e.GW4, ident, key, 'PSK-AES128-CBC-SHA256')
        c.exited(15)
        rc = c.close()
        err = c.err()
        dd = ctl.delta(self.snap(), s0)
        self.check('a CBC-only client is refused: handshake_failure, fail_no_shared_suite '
                   'counted, nothing installed',
                   rc != 0 and 'handshake failure' in err and dd['installed'] == 0
                   and dd['hs'].get('fail_no_shared_suite', 0) == 1,
                   f'exit {rc}\n{dd}\n{err[-600:]}')
        ident, key = self.ident()
        c = clients.s_client(self.lab, e2e.GW4, ident, key,
                             'PSK-AES128-CBC-SHA256:PSK-AES128-CCM8')
        ok = clients.echo_roundtrip(c, 'aead still served')
        rc = c.close()
        self.check('... a client offering CBC and CCM_8 gets CCM_8',
                   ok and rc == 0 and 'Ciphersuite: PSK-AES128-CCM8' in c.err(), c.err()[-600:])
        r = self.d.ctl('policy', 'reset', 'suites')
        self.check('stormctl policy reset suites', r.returncode == 0, r.stdout + r.stderr)
        ident, key = self.ident()
        c = clients.s_client(self.lab, e2e.GW4, ident, key, 'PSK-AES128-CBC-SHA256')
        ok = clients.echo_roundtrip(c, 'cbc again')
        rc = c.close()
        self.etm_offered.append(True)
        self.check('... the default order again: the CBC-only client is served',
                   ok and rc == 0 and 'Ciphersuite: PSK-AES128-CBC-SHA256' in c.err(),
                   c.err()[-600:])

    def capture(self, pcap):
        r, rows = capture.tshark_fields(pcap, 'dtls.handshake.type == 2',
                                        ['frame.number', 'dtls.handshake.ciphersuite',
                                         'dtls.handshake.extension.type'])
        cbc = [x for x in rows if x[1] == CBC_IANA]
        etm = [ETM_EXT in x[2].split(',') for x in cbc]
        cid = [x for x in cbc if CID_EXT in x[2].split(',')]
        self.check(f'the capture: {len(self.etm_offered)} CBC ServerHellos, encrypt_then_mac '
                   'in each exactly when its client offered it, no connection_id',
                   r.returncode == 0 and etm == self.etm_offered and not cid,
                   f'{rows[:12]}\nwant EtM {self.etm_offered}\n{r.stderr[-300:]}')


def run(stormgate, stormctl):
    with e2e.E2ELab('sge2e21', stormgate, stormctl) as lab:
        # The default policy: no suites in the file, so the CBC suites are offered, last.
        d = lab.start_daemon(policy={})
        lab.udp_echo(lab.ns_be, e2e.BE4, e2e.BACKEND_PORT)
        cap = capture.Capture(lab, lab.ns_dev, lab.veth_d, 'devices')
        r = Run(lab, d)
        r.openssl()
        r.gnutls()
        r.refused_without_cbc()
        time.sleep(0.3)
        r.capture(cap.stop())
        st = d.status()
        lab.check('no handshake left in flight, the daemon still answers',
                  st['handshakes']['in_flight'] == 0, st['handshakes'])
        lab.check_stop(d)


if __name__ == '__main__':
    e2e.main_guard(run)
