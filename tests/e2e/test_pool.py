#!/usr/bin/env python3
"""End to end (suite 'e2e'): udp mode with a backend source pool (issue 14,
backend.source_pool: 198.18.64.0/18 on app0, 2 ports an address). The backend
namespace routes the pool on-link, so its kernel asks for each pool address
by ARP and the gateway answers; libcoap's clients (OpenSSL and GnuTLS, IPv4
and IPv6) GET /time through stormgate from coap-server-notls. Checks: every
answer arrives; each session's backend source is a pool address and port
(stormctl sessions list), distinct per session; the backend's kernel learned
those pool addresses at the gateway's MAC; the start-up log says the capacity.

    test_pool.py STORMGATE STORMCTL      (root; tag sge2e7)
"""
import ipaddress
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import clients, e2e  # noqa: E402

CLIENTS = ('coap-client-openssl', 'coap-client-gnutls')
CLOCK_B = re.compile(rb'[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}')
POOL = ipaddress.ip_network('198.18.64.0/18')
PORT_FIRST, PORTS = 30000, 2
# Fixed device source ports (outside the kernel's ephemeral range).
DEV_PORT0 = 15800


def backend_sources(d):
    """backend_source ("addr:port") of every live session."""
    r = d.ctl('--json', 'sessions', 'list', '--limit', '100')
    rows = json.loads(r.stdout).get('sessions', []) if r.returncode == 0 else []
    return [x.get('backend_source', '') for x in rows]


def in_pool(src):
    addr, _, port = src.rpartition(':')
    try:
        a = ipaddress.ip_address(addr.strip('[]'))
    except ValueError:
        return False
    if a.version == 6 and a.ipv4_mapped:
        a = a.ipv4_mapped
    return a in POOL and PORT_FIRST <= int(port) < PORT_FIRST + PORTS


def run(stormgate, stormctl):
    with e2e.E2ELab('sge2e7', stormgate, stormctl) as lab:
        check = lab.check
        d = lab.start_daemon(
            sessions={'capacity': 4096},
            backend={'source_port_first': PORT_FIRST, 'source_port_count': PORTS,
                     'source_pool': [str(POOL)]})
        check('the start-up log says the backend capacity: 16384 addresses x 2 ports',
              'udp mode carries 32768 sessions (16384 source address(es) x 2 ports)'
              in d.log(), d.log()[-1500:])
        # The pool is on-link for the server: its kernel resolves each address by ARP.
        r = lab.run(lab.ns_be, ['ip', 'route', 'add', str(POOL), 'dev', lab.veth_b])
        check('the backend namespace routes the pool on-link', r.returncode == 0, r.stderr)
        lab.coap_server()

        observers = []
        for k, (client, host) in enumerate(
                (c, h) for c in CLIENTS for h in (e2e.GW4, e2e.GW6)):
            c = clients.Interactive(lab, lab.ns_dev, clients.coap_client(
                client, host, 'time', e2e.coap_identity(40 + k), e2e.COAP_KEY_TEXT,
                '-p', str(DEV_PORT0 + k), '-s', '20', wait=20))
            ok = c.expect(CLOCK_B, timeout=15)
            check(f'{client} via {host}: Observe /time answers through the pool', ok,
                  c.err()[-800:])
            observers.append(c)
        sources = backend_sources(d)
        check('every session sends from a pool address and port, each its own',
              len(sources) == len(observers) and all(in_pool(s) for s in sources)
              and len(set(sources)) == len(sources), sources)
        neigh = lab.run(lab.ns_be, ['ip', '-4', 'neigh', 'show', 'dev', lab.veth_b]).stdout
        learned = [line for line in neigh.splitlines()
                   if ipaddress.ip_address(line.split()[0]) in POOL and 'lladdr' in line]
        check('the backend learned the pool addresses it answered by ARP from the gateway',
              len(learned) >= 1 and all(s.rpartition(':')[0] in neigh for s in sources), neigh)
        for c in observers:
            c.kill()
        lab.check_stop(d)


if __name__ == '__main__':
    e2e.main_guard(run)
