#!/usr/bin/env python3
"""End to end (suite 'e2e'): the handshake plane with two engines
(handshake.threads: 2, issue 16) answering every real client: libcoap's
coap-client on OpenSSL and on GnuTLS (GET /time from coap-server-notls), then
OpenSSL's s_client and GnuTLS's gnutls-cli (a line echoed by a UDP echo server),
over IPv4 and IPv6, PSK and ECDHE-PSK. Each client handshakes ROUNDS times from
a new source port, so its handshakes hash across the engines; the checks:

  - every run of every client completes its handshake and its exchange;
  - `stormctl --json stats` counts them per engine (handshake_plane.engine[]):
    the engines' completions add up to the handshakes done, and more than one
    engine completed some (with 2 engines and N handshakes on random ports, all on
    one engine has odds 2^(1-N): N = 24 here);
  - the handshake plane's view: two engines, nothing in flight at the end against
    a limit of at least one slot per engine, latency quantiles once handshakes
    completed, and `stormctl stats`, `stormctl status` and `stormctl metrics` show
    them (HANDSHAKE PLANE block, "hs N/LIMIT", per-engine families).

A daemon whose stats report fewer than 2 engines (no handshake plane yet) makes
the script SKIP with that reason.

    test_hsplane.py STORMGATE STORMCTL      (root; tag sge2e16)
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import clients, ctl, e2e  # noqa: E402

ENGINES = 2
ROUNDS = 3  # handshakes per client kind and address family
COAP_CLIENTS = ('coap-client-openssl', 'coap-client-gnutls')
CLOCK = re.compile(r'[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}')
GNUTLS_PSK = 'NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:-CIPHER-ALL:+PSK:+AES-128-CCM'


class Run:
    def __init__(self, lab, d):
        self.lab, self.d, self.check = lab, d, lab.check
        self.done = 0  # handshakes the clients completed
        self.dev = 0

    def ident(self):
        self.dev += 1
        return e2e.device_identity(self.dev), e2e.device_key(self.dev)

    def coap(self):
        """libcoap's clients, each run a new handshake from a new port."""
        srv = self.lab.coap_server()
        for k, client in enumerate(COAP_CLIENTS):
            for fam, host in (('IPv4', e2e.GW4), ('IPv6', e2e.GW6)):
                good = 0
                for i in range(ROUNDS):
                    ident = e2e.coap_identity(1 + (k * 2 + (fam == 'IPv6')) * ROUNDS + i)
                    r = self.lab.run(self.lab.ns_dev, clients.coap_client(
                        client, host, 'time', ident, e2e.COAP_KEY_TEXT), timeout=20)
                    ok = r.returncode == 0 and CLOCK.fullmatch(r.stdout.strip())
                    good += bool(ok)
                    if not ok:
                        self.lab.check(f'{client} {fam} run {i}: GET /time', False,
                                       f'exit {r.returncode}\n{r.stderr[-800:]}')
                self.check(f'{client} {fam}: {ROUNDS} handshakes, each GET /time answered',
                           good == ROUNDS, f'{good} of {ROUNDS}')
                self.done += good
        self.lab.kill(srv)

    def interactive(self, name, make):
        """ROUNDS runs of one interactive client (make(ident, key)): a line echoed each."""
        good = 0
        for i in range(ROUNDS):
            ident, key = self.ident()
            c = make(ident, key)
            ok = clients.echo_roundtrip(c, f'{name} {i}')
            rc = c.close()
            good += bool(ok and rc == 0)
            if not (ok and rc == 0):
                self.lab.check(f'{name} run {i}: echo', False,
                               f'exit {rc}\nstdout {c.out[-300:]!r}\n{c.err()[-600:]}')
        self.check(f'{name}: {ROUNDS} handshakes, each a line echoed and a clean close',
                   good == ROUNDS, f'{good} of {ROUNDS}')
        self.done += good

    def dtls_clients(self):
        self.lab.udp_echo(self.lab.ns_be, e2e.BE4, e2e.BACKEND_PORT)
        self.interactive('s_client PSK-AES128-CCM8 IPv4', lambda i, k: clients.s_client(
            self.lab, e2e.GW4, i, k, 'PSK-AES128-CCM8'))
        self.interactive('s_client PSK-AES128-GCM-SHA256 IPv6', lambda i, k: clients.s_client(
            self.lab, e2e.GW6, i, k, 'PSK-AES128-GCM-SHA256'))
        self.interactive('s_client ECDHE-PSK-CHACHA20-POLY1305 X25519',
                         lambda i, k: clients.s_client(self.lab, e2e.GW4, i, k,
                                                       'ECDHE-PSK-CHACHA20-POLY1305',
                                                       extra=('-groups', 'X25519')))
        self.interactive('gnutls-cli PSK AES-128-CCM', lambda i, k: clients.gnutls_cli(
            self.lab, e2e.GW4, i, k, GNUTLS_PSK))

    def spread(self, st0, st1):
        n, rows = ctl.engines(st1)
        per = ctl.completed_by_engine(st1, st0)
        self.check(f'{self.done} handshakes completed by the clients, counted by the engines '
                   f'({per})', sum(per) == self.done and self.done > 0, per)
        self.check('handshakes completed on more than one engine',
                   sum(1 for x in per if x > 0) >= 2, per)
        hp = st1['handshake_plane']
        self.check(f'{n} engines, each with slots; none in flight once the clients are gone',
                   n == ENGINES and len(rows) == ENGINES
                   and all(r['limit'] >= 1 for r in rows) and hp['limit'] >= ENGINES
                   and hp['in_flight'] == 0, hp)
        self.check('latency quantiles since start (µs): 0 < p50 <= p99',
                   0 < hp['p50_us_all'] <= hp['p99_us_all'], hp)
        self.check('the histogram counts the completed handshakes',
                   sum(hp['latency']['count']) >= self.done, hp['latency'])

    def views(self, st):
        hp = st['handshake_plane']
        r = self.d.ctl('stats')
        self.check('stormctl stats: the HANDSHAKE PLANE block and a row per engine',
                   r.returncode == 0 and f'HANDSHAKE PLANE  {ENGINES} engine(s)' in r.stdout
                   and re.search(r'^  1 +\d+ +\d+ +\d+', r.stdout, re.M), r.stdout[-2000:])
        r = self.d.ctl('status')
        self.check('stormctl status: hs IN_FLIGHT/LIMIT',
                   r.returncode == 0 and re.search(rf'hs \d+/{hp["limit"]} in flight on '
                                                   rf'{ENGINES} engine', r.stdout),
                   r.stdout[-1500:])
        r = self.d.ctl('metrics')
        self.check('stormctl metrics: per-engine in-flight gauges and the latency histogram',
                   r.returncode == 0
                   and 'stormgate_handshake_in_flight_limit{engine="1"}' in r.stdout
                   and 'stormgate_handshake_latency_seconds_bucket{le="+Inf"}' in r.stdout,
                   r.stdout[-1500:])


def run(stormgate, stormctl):
    with e2e.E2ELab('sge2e16', stormgate, stormctl) as lab:
        d = lab.start_daemon(handshake={'threads': ENGINES})
        st0 = d.ctl_json('stats')
        n, _ = ctl.engines(st0)
        if n < ENGINES:
            lab.skip(f'handshakes spread over {ENGINES} engines with every real client',
                     f'the daemon reports {n} handshake engine(s) with handshake.threads: '
                     f'{ENGINES} (no handshake plane in this build)')
            lab.check_stop(d)
            return
        r = Run(lab, d)
        r.coap()
        r.dtls_clients()
        time.sleep(0.2)  # the engines publish their snapshot at least every 100 ms
        st1 = d.ctl_json('stats')
        r.spread(st0, st1)
        r.views(st1)
        lab.check_stop(d)


if __name__ == '__main__':
    e2e.main_guard(run)
