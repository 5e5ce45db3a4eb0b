#!/usr/bin/env python3
"""/metrics over HTTP (suite 'integration', root): the daemon's endpoint in the e2e
lab (tag sge2e14), docs/control.md "Metrics over HTTP".

    test_metrics_http.py STORMGATE STORMCTL HSLOAD B_SANITIZE

  - GET /metrics answers 200, Content-Type text/plain; version=0.0.4, the families
    `stormctl metrics` prints (one printer, one snapshot), and its handshake and
    traffic counters move after 6 handshakes by stormgate-hsload; HEAD has the headers
    and no body;
  - other paths answer 404, other methods on /metrics 405 with Allow (a body is never
    read), each counted in stats' http.requests and its metric family;
  - a garbage request and an oversized one are refused and closed; 16 slow clients
    holding half a request fill the server, while
    stormctl answers and the gateway handshakes; a 17th waits unserved in the listen
    backlog; the slow ones are closed by the 10 s timeout, then the 17th is served;
  - in the ASan+UBSan build, the daemon's log holds no sanitizer report;
  - an address given in the config that cannot be bound stops the start-up (exit 1,
    the address named); the default address taken by another process is a warning
    and the daemon runs without the endpoint; a non-loopback address is served with a
    warning (a daemon inside the devices' namespace); off serves nothing.
"""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import daemon, e2e, proc, sanitizer  # noqa: E402
from sgtest.dtls import DTLS_PORT  # noqa: E402

TYPE = 'text/plain; version=0.0.4'
CLIENTS, TIMEOUT_S = 16, 10  # control/mgmt/http.c: HTTP_CLIENTS, HTTP_TIMEOUT_S


def free_port(host='127.0.0.1'):
    """A TCP port nobody listens on now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def request(port, method='GET', path='/metrics', body=None, host='127.0.0.1'):
    """(status, headers dict with lower-case names, body bytes) of one request."""
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def families(text):
    """{family: TYPE} of a Prometheus text."""
    return {l.split()[2]: l.split()[3] for l in text.splitlines() if l.startswith('# TYPE ')}


def sample(text, name):
    """The value of the sample `name` (with its labels, as printed), or None."""
    for l in text.splitlines():
        if l.startswith(name + ' '):
            return float(l.split()[-1])
    return None


def raw(port, data, wait=3.0):
    """Send data on a new connection; what comes back until the server closes it or
    wait seconds pass, and whether it closed."""
    s = socket.create_connection(('127.0.0.1', port), timeout=wait)
    got, closed = b'', False
    try:
        s.sendall(data)
        end = time.monotonic() + wait
        while time.monotonic() < end:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            got += chunk
    finally:
        s.close()
    return got, closed


def closed_within(s, seconds):
    """True when the server closes socket s within seconds (it sends nothing else)."""
    s.settimeout(seconds)
    try:
        return s.recv(65536) == b''
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def completed(r):
    """How many handshakes a stormgate-hsload run completed (its JSON summary, last line)."""
    lines = r.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])['completed'] if r.returncode == 0 and lines else None
    except (ValueError, KeyError):
        return None


def hsload(lab, tool, n):
    r = lab.run(lab.ns_dev, [tool, '--connect', f'{e2e.GW4}:{DTLS_PORT}', '--source', e2e.DEV4,
                             '--credentials', os.path.join(lab.work, 'devices.csv'),
                             '--clients', '2', '--max', str(n), '--duration', '30',
                             '--timeout-ms', '10000'], timeout=60)
    return r


def test_get(lab, d, port, tool):
    check = lab.check
    st, h, body = request(port)
    text = body.decode()
    check('GET /metrics: 200, Content-Type text/plain; version=0.0.4',
          st == 200 and h.get('content-type') == TYPE, f'{st} {h}')
    r = d.ctl('metrics')
    check('the families and their types are those of stormctl metrics (one printer)',
          r.returncode == 0 and families(text) == families(r.stdout)
          and len(families(text)) >= 40 and 'stormgate_up 1' in text.splitlines(),
          f'{sorted(set(families(text)) ^ set(families(r.stdout)))}\n{text[:600]}')
    check('every sample line is name{labels} value',
          all(re.match(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[0-9.e+]+$', l)
              for l in text.splitlines() if l and not l.startswith('#')), text[:1500])

    done = 'stormgate_handshake_events_total{event="completed_full"}'
    rx = 'stormgate_rx_packets_total{worker="0",lcore="1"}'
    ins = 'stormgate_session_changes_total{change="insert"}'
    before_done, before_rx, before_ins = sample(text, done), sample(text, rx), sample(text, ins)
    r = hsload(lab, tool, 6)
    check('stormgate-hsload: 6 handshakes', completed(r) == 6,
          r.stdout[-600:] + r.stderr[-600:])

    def moved():
        t = request(port)[2].decode()
        return t if sample(t, done) == (before_done or 0) + 6 else None
    after = proc.wait_for(moved, timeout=5, step=0.1)
    check('after the traffic: 6 more completed handshakes, more packets received (<= 5 s)',
          after is not None and sample(after, rx) > (before_rx or 0),
          f'before {before_done} {before_rx}; now {request(port)[2].decode()[:300]}')
    gone = proc.wait_for(lambda: (lambda t: t if sample(t, 'stormgate_sessions') == 0 else None)(
        request(port)[2].decode()), timeout=5, step=0.1)
    check('6 sessions inserted, and the sessions gauge back to 0 once hsload closed them',
          after is not None and gone is not None
          and sample(gone, ins) == (before_ins or 0) + 6, (gone or '')[:300])

    st, h, body = request(port, 'HEAD')
    check('HEAD /metrics: 200, the type, no body',
          st == 200 and h.get('content-type') == TYPE and body == b''
          and int(h.get('content-length', '0')) > 1000, f'{st} {h} {body[:100]}')


def test_refusals(lab, d, port):
    check = lab.check
    s0 = d.ctl_json('stats')['http']['requests']
    got = [request(port, 'GET', p)[0] for p in ('/', '/metrics/', '/metricsx', '/favicon.ico')]
    check('other paths: 404', got == [404] * 4, got)
    st, h, _ = request(port, 'POST', '/metrics', body=b'x' * 100000)
    check('POST /metrics with a 100 kB body: 405, Allow: GET, HEAD',
          st == 405 and h.get('allow') == 'GET, HEAD', f'{st} {h}')
    got = [request(port, m)[0] for m in ('PUT', 'DELETE', 'OPTIONS')]
    check('PUT, DELETE, OPTIONS /metrics: 405', got == [405] * 3, got)
    s1 = d.ctl_json('stats')['http']['requests']
    check('stats counts them: http.requests not_found +4, method_not_allowed +4',
          s1['not_found'] - s0['not_found'] == 4
          and s1['method_not_allowed'] - s0['method_not_allowed'] == 4
          and s1['ok'] >= 3, json.dumps({'before': s0, 'after': s1}))
    text = proc.wait_for(lambda: (lambda t: t if sample(
        t, 'stormgate_metrics_http_requests_total{result="not_found"}') else None)(
        request(port)[2].decode()), timeout=3, step=0.1)
    check('... and so does stormgate_metrics_http_requests_total{result}', text is not None
          and sample(text, 'stormgate_metrics_http_requests_total{result="not_found"}') >= 4)

    got, closed = raw(port, b'\x16\xfe\xfd\x00\x00' + os.urandom(200) + b'\r\n\r\n')
    check('garbage: 400 or closed, nothing served', closed and b'stormgate_' not in got
          and (got == b'' or got.startswith(b'HTTP/1.1 400')), got[:200])
    got, closed = raw(port, b'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ' + b'a' * 65536
                      + b'\r\n\r\n')
    check('a 64 KiB header: refused (431) and closed', closed and b'stormgate_' not in got
          and (got == b'' or got.split(b' ')[1] in (b'431', b'413', b'400')), got[:200])
    st = request(port)[0]
    check('then GET /metrics still answers', st == 200, st)


def test_slow_clients(lab, d, port, tool):
    check = lab.check
    slow = []
    try:
        for _ in range(CLIENTS):
            s = socket.create_connection(('127.0.0.1', port), timeout=5)
            s.sendall(b'GET /metr')  # half a request line, never finished
            slow.append(s)
        time.sleep(0.3)
        # Full, libmicrohttpd stops accepting: one more waits in the listen backlog.
        extra = socket.create_connection(('127.0.0.1', port), timeout=5)
        slow.append(extra)
        extra.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        extra.settimeout(1)
        try:
            early = extra.recv(100)
        except socket.timeout:
            early = None
        check(f'{CLIENTS} slow clients fill the server: one more is not served meanwhile',
              early is None, early)
        t0 = time.monotonic()
        r = d.ctl('status')
        check('meanwhile stormctl status answers (< 2 s)',
              r.returncode == 0 and time.monotonic() - t0 < 2, r.stderr[-300:])
        r = hsload(lab, tool, 2)
        check('meanwhile the gateway handshakes (2 by stormgate-hsload)',
              completed(r) == 2, r.stdout[-400:])
        t0 = time.monotonic()
        gone = all(closed_within(s, TIMEOUT_S + 5 - (time.monotonic() - t0))
                   for s in slow[:CLIENTS])
        waited = time.monotonic() - t0
        check(f'the slow clients are closed by the {TIMEOUT_S} s timeout',
              gone and waited < TIMEOUT_S + 5, f'{waited:.1f} s')
        extra.settimeout(5)
        try:
            late = extra.recv(65536)
        except socket.timeout:
            late = b''
        check('then the one that waited is served (200)', late.startswith(b'HTTP/1.1 200'),
              late[:200])
    finally:
        for s in slow:
            s.close()
    st = request(port)[0]
    check('then GET /metrics answers again', st == 200, st)


def test_addresses(lab, stormgate):
    """Daemons with one net_null port: a given address taken, the default taken, off,
    a non-loopback address (in the devices' namespace)."""
    check = lab.check
    ports = [daemon.port('dev0', 'device', 'net_null0', ['198.18.1.1/24'])]
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(('127.0.0.1', 0))
    holder.listen(1)
    taken = holder.getsockname()[1]
    try:
        d = lab.start(lab.config('taken', ports, metrics={'listen': f'127.0.0.1:{taken}'}))
        rc = d.wait(30)
        check('metrics.listen on a taken address: exit 1, the address named',
              rc == 1 and f'metrics.listen 127.0.0.1:{taken}: cannot listen: Address already '
              'in use' in d.log(), d.log()[-800:])
    finally:
        holder.close()
    d = lab.start(lab.config('absent', ports, metrics={'listen': '[fd00:5347:9::1]:9464'}))
    rc = d.wait(30)
    check('an address not on this host: exit 1, the address named',
          rc == 1 and 'metrics.listen [fd00:5347:9::1]:9464: cannot listen' in d.log(),
          d.log()[-800:])

    # The default address: taken by us unless another process holds it already.
    default = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        try:
            default.bind(('127.0.0.1', 9464))
            default.listen(1)
        except OSError:
            pass  # someone else's: taken all the same
        d = lab.start(lab.config('dflt', ports))
        check('the default address taken: the daemon runs, with a warning naming it',
              d.wait_ready(30) and 'the default address 127.0.0.1:9464 is in use' in d.log()
              and d.ctl_json('stats')['http']['listen'] == '', d.log()[-800:])
        check('... and stops cleanly', d.stop() == 0, d.log()[-500:])
    finally:
        default.close()

    d = lab.start(lab.config('off', ports, metrics={'listen': 'off'}))
    check('metrics.listen: off: runs, says so, nothing listed in stats',
          d.wait_ready(30) and 'metrics over HTTP: off' in d.log()
          and d.ctl_json('stats')['http']['listen'] == '', d.log()[-500:])
    check('... and stops cleanly', d.stop() == 0, d.log()[-500:])

    # A daemon in the devices' namespace, on that namespace's own address.
    cfg = lab.config('ns', ports, metrics={'listen': f'{e2e.DEV4}:9464'})
    log = os.path.join(lab.work, 'ns.log')
    with open(log, 'w') as f:
        p = lab.spawn(lab.ns_dev, [stormgate, '--config', cfg.path, '--no-status'], stdout=f,
                      stderr=subprocess.STDOUT)
    ok = proc.wait_for(lambda: p.poll() is not None or os.path.exists(cfg.sock) and lab.run(
        lab.ns_dev, ['ss', '-Hltn', 'sport = :9464']).stdout.strip(), timeout=30)
    r = lab.run(lab.ns_dev, [sys.executable, '-c',
                             'import http.client as h; c = h.HTTPConnection('
                             f'"{e2e.DEV4}", 9464, timeout=5); c.request("GET", "/metrics"); '
                             'r = c.getresponse(); print(r.status, r.read().count(b"# TYPE"))'])
    with open(log, encoding='utf-8', errors='replace') as f:
        text = f.read()
    check('a non-loopback address: served there, with a warning',
          ok and r.stdout.split()[:1] == ['200'] and int(r.stdout.split()[1]) >= 40
          and f'metrics over HTTP on {e2e.DEV4}:9464, not a loopback address' in text,
          r.stdout + r.stderr + text[-800:])
    lab.kill(p)


def run(stormgate, stormctl, tool, b_sanitize):
    with e2e.E2ELab('sge2e14', stormgate, stormctl) as lab:
        port = free_port()
        d = lab.start_daemon(metrics={'listen': f'127.0.0.1:{port}'})
        lab.udp_echo(lab.ns_be, e2e.BE4, e2e.BACKEND_PORT)
        lab.check('the daemon says where /metrics is',
                  f'metrics over HTTP: http://127.0.0.1:{port}/metrics' in d.log()
                  and d.ctl_json('stats')['http']['listen'] == f'127.0.0.1:{port}',
                  d.log()[-800:])
        test_get(lab, d, port, tool)
        test_refusals(lab, d, port)
        test_slow_clients(lab, d, port, tool)
        lab.check_stop(d)
        # ASan+UBSan build: the garbage, oversized and slow clients above, the exit.
        sanitizer.check_logs(lab.tap, b_sanitize, stormgate, d.log(), "the daemon's log")
        test_addresses(lab, stormgate)


if __name__ == '__main__':
    e2e.main_guard(run, ('STORMGATE', 'STORMCTL', 'HSLOAD', 'B_SANITIZE'))
