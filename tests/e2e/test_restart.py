#!/usr/bin/env python3
"""End to end (suite 'e2e'): one DTLS session survives restarts of the daemon
(issue 15). A single openssl s_client -dtls1_2 with a PSK, from a fixed address
and port, holds its session open and sends lines (its stdin a pipe) through
stormgate (backend mode udp) to an echo server in the backend namespace that
says whom it heard (peer_echo.py). The daemon is stopped three ways, each
followed by a start on the same config, credentials and session store:

  kill9     a crash (SIGKILL)
  sigterm   a clean stop by signal (systemd's stop)
  shutdown  a clean stop by `stormctl shutdown`, which answers what it saved

After each start, the same s_client process, never told anything, keeps
working: its next lines reach the echo server and the echoes come back; the new
daemon counted no handshake at all (`stormctl stats`); its log says it restored
the session; the echo server sees the same source address and port as before
(udp mode keeps each session's backend port, so the application server's state
for the device survives too). A record the device sent before the stop, sent
again after the start from the same address and port, is refused as a replay
(drops `replayed` or `too_old`) and goes nowhere: after a clean stop the last
one (the floors are exact), after a crash one below the floor the workers
posted (store.seq_step is set to SEQ_STEP when the daemon takes the key, so a
floor is posted within the lines of one phase).

The device is on the gateway's link and its kernel keeps the gateway's MAC
across the restart, so it sends no ARP request: the first line's echo reaches
it only because the restarted daemon solicits its restored sessions' devices
(their neighbour entries are not stored).

    test_restart.py STORMGATE STORMCTL      (root; tag sge2e8)
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import capture, clients, ctl, e2e, proc, restart, tool  # noqa: E402
from sgtest.dtls import DTLS_PORT  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = 41580           # the device's fixed source port
CIPHER = 'PSK-AES128-GCM-SHA256'
SEQ_STEP = 4           # store.seq_step of this test's daemon (when it knows the key)
LINES = 2 * SEQ_STEP + 1  # lines per phase: rx_top crosses a multiple of the step
SETTLE_S = 1.0         # before a stop: past store.commit_interval (100 ms) with room


def store_section(lab, stormgate):
    """{'store': {...}} when the daemon takes store.seq_step (issue 15), else {}: on a
    daemon without a store the test runs unchanged and shows the sessions lost."""
    cfg = lab.e2e_config('probe', store={'seq_step': SEQ_STEP})
    r = proc.run([stormgate, '--check-config', cfg.path])
    return {'store': {'seq_step': SEQ_STEP}} if r.returncode == 0 else {}


def records(pcap):
    """The device's application records in pcap: [(epoch, sequence, hex of the datagram)]
    in the order sent (RFC 6347 §4.1: epoch at bytes 3-4, sequence at 5-10)."""
    _, rows = capture.tshark_fields(
        pcap, f'udp.srcport == {PORT} && udp.dstport == {DTLS_PORT} '
        '&& dtls.record.content_type == 23', ['udp.payload'])
    out = []
    for (h,) in rows:
        b = bytes.fromhex(h.replace(':', ''))
        if len(b) >= 13:
            out.append((int.from_bytes(b[3:5], 'big'), int.from_bytes(b[5:11], 'big'), b.hex()))
    return out


class Restarts:
    def __init__(self, lab, d, echo, cfg_kw):
        self.lab, self.d, self.echo, self.cfg_kw = lab, d, echo, cfg_kw
        self.check = lab.check
        self.ident, self.key = e2e.device_identity(40), e2e.device_key(40)
        self.c = None
        self.cap = None
        self.source = None  # where the echo server heard the device from

    def peers(self):
        """The sources the echo server heard since the last call."""
        self.echo.expect('\n', 0.5)
        return {json.loads(x)['from'] for x in self.echo.take_lines() if x.startswith('{')}

    def exchange(self, tag):
        """LINES lines echoed (stops at the first that is not); how many were."""
        for k in range(LINES):
            if not clients.echo_roundtrip(self.c, f'{tag} line {k}', timeout=5):
                return k
        return LINES

    def first(self):
        self.cap = capture.Capture(self.lab, self.lab.ns_dev, self.lab.veth_d, 'phase-0')
        self.c = clients.s_client(self.lab, e2e.GW4, self.ident, self.key, CIPHER,
                                  extra=('-bind', f'{e2e.DEV4}:{PORT}'))
        n = self.exchange('before')
        seen = self.peers()
        hs = restart.handshakes(self.d)
        self.source = next(iter(seen)) if len(seen) == 1 else None
        self.check(f's_client holds a session from port {PORT}: {n}/{LINES} lines echoed, '
                   'one handshake, the echo server hears it from one source',
                   n == LINES and hs['installed'] == 1 and self.source is not None,
                   f'{hs}\nsources {seen}\n{self.c.err()[-600:]}')
        time.sleep(SETTLE_S)

    def replay(self, recs, how):
        """Records sent before the stop, sent again now; True when each was refused as a
        replay and none went up."""
        if how == 'kill9':
            pick = recs[:1]  # below the floor posted within the phase (SEQ_STEP)
        else:
            pick = [recs[-1], recs[0]] if len(recs) > 1 else recs[:1]
        if not pick:
            return False, 'no record of the device in the capture'
        s0 = ctl.counters(self.d.status())
        r = self.lab.run(self.lab.ns_dev, [sys.executable, tool('udp_replay.py'), e2e.DEV4,
                                           str(PORT), e2e.GW4, str(DTLS_PORT),
                                           *(h for _, _, h in pick)], timeout=10)
        proc.wait_for(lambda: ctl.counters(self.d.status())['rx'] - s0['rx'] >= len(pick),
                      timeout=3, step=0.1)
        time.sleep(0.2)
        dd = ctl.delta(ctl.counters(self.d.status()), s0)
        refused = dd['drops'].get('replayed', 0) + dd['drops'].get('too_old', 0)
        ok = r.returncode == 0 and refused == len(pick) and dd['up'] == 0
        seqs = [(e, s) for e, s, _ in pick]
        return ok, f'replayed (epoch, seq) {seqs}; sender {r.stdout}{r.stderr}\n{dd}'

    def across(self, how, last):
        """Stop the daemon by how, start it again, and check the held session."""
        recs = records(self.cap.stop())
        rc, answer = restart.stop(self.d, how)
        want_rc = -9 if how == 'kill9' else 0
        self.check(f'{how}: the daemon stops (exit {want_rc})', rc == want_rc,
                   f'exit {rc}\n{answer}\n{self.d.log()[-1500:]}')
        if how == 'shutdown':
            n = restart.saved(answer)
            self.check('shutdown: stormctl answers that the session was saved '
                       '("saved N sessions")', n is not None and n >= 1, answer)
        if how != 'kill9':
            self.check(f'{how}: the daemon logs what it saved',
                       'saved' in self.d.log(), self.d.log()[-1000:])
        self.d = self.lab.start_daemon(**self.cfg_kw)
        n = restart.restored(self.d)
        self.check(f'{how}: the new daemon logs "restored N sessions" (N >= 1)',
                   n is not None and n >= 1, self.d.log()[-1500:])
        ok, detail = self.replay(recs, how)
        self.check(f'{how}: a record captured before the stop, sent again after the start, '
                   'is refused as a replay and not forwarded', ok, detail)
        if not last:
            self.cap = capture.Capture(self.lab, self.lab.ns_dev, self.lab.veth_d,
                                       f'phase-{how}')
        self.peers()  # forget the replays' traffic
        n = self.exchange(f'after {how}')
        seen = self.peers()
        hs = restart.handshakes(self.d)
        live = restart.live_sessions(self.d)
        self.check(f'{how}: the same s_client process keeps working: {n}/{LINES} lines '
                   'echoed', n == LINES and self.c.p.poll() is None,
                   f'stdout {self.c.out[-300:]!r}\n{self.c.err()[-600:]}\n'
                   f'{ctl.counters(self.d.status())}\n{self.d.log()[-1000:]}')
        self.check(f'{how}: 0 handshakes counted by the new daemon, the session live',
                   restart.fresh(hs) and live == 1, f'{hs} live {live}')
        self.check(f'{how}: the echo server hears the device from the same source '
                   f'({self.source}) as before', seen == {self.source},
                   f'before {self.source} after {seen}')
        if not last:
            time.sleep(SETTLE_S)


def run(stormgate, stormctl):
    with e2e.E2ELab('sge2e8', stormgate, stormctl) as lab:
        kw = store_section(lab, stormgate)
        if not kw:
            sys.stderr.write('test_restart: the daemon has no store.seq_step: '
                             'no session store, sessions will be lost\n')
        d = lab.start_daemon(**kw)
        echo = clients.Interactive(lab, lab.ns_be, [sys.executable,
                                                    os.path.join(HERE, 'peer_echo.py'),
                                                    e2e.BE4, str(e2e.BACKEND_PORT)])
        if not lab.check('peer_echo.py runs', echo.expect('ready\n', 10), echo.err()):
            return
        echo.take_lines()
        r = Restarts(lab, d, echo, kw)
        r.first()
        for i, how in enumerate(restart.KINDS):
            r.across(how, i == len(restart.KINDS) - 1)
        rc = r.c.close()
        lab.check('s_client ends its session with close_notify and exits 0', rc == 0,
                  f'exit {rc}\n{r.c.err()[-500:]}')
        lab.check_stop(r.d)


if __name__ == '__main__':
    e2e.main_guard(run)
