#!/usr/bin/env python3
"""End to end (suite 'e2e'): CoAP observations survive restarts of the daemon
(issue 15). libcoap's coap-client, on OpenSSL and on GnuTLS at once, each from
a fixed port, observes /time (RFC 7641) over DTLS 1.2 with a PSK through
stormgate (backend mode udp) on libcoap's plaintext coap-server-notls in the
backend namespace, which notifies every second. The daemon is killed (-9) and
started again on the same config, credentials and session store; later it is
stopped cleanly (`stormctl shutdown`) and started again. Each time:

  - the same coap-client processes, told nothing, keep receiving
    notifications: the server's observation, keyed by the gateway's backend
    source address and port, still reaches the device (udp mode restores each
    session's backend port), and the device's session is the one it had;
  - the new daemon counted no handshake (`stormctl stats`) and logs that it
    restored both sessions.

The devices are on the gateway's link and an observing client sends nothing
after the start, so nothing teaches the new daemon their MACs but its own
solicitation of the restored sessions' devices.

    test_restart_coap.py STORMGATE STORMCTL      (root; tag sge2e10)
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import clients, ctl, e2e, proc, restart  # noqa: E402

# coap-server's /time: "Dec 06 07:07:38" (strftime "%b %d %H:%M:%S")
CLOCK_B = re.compile(rb'[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}')
NEVER = re.compile(rb'(?!)')  # a pattern that matches nothing: expect() only reads
CLIENTS = (('coap-client-openssl', 15780), ('coap-client-gnutls', 15781))
OBSERVE_S = 300      # -s: longer than the whole test; the clients are killed at its end
NOTIFY_WAIT_S = 30   # for the notifications after a start (one a second, CON ones resent)
AFTER = 2            # notifications each client must get after a start
SETTLE_S = 1.0       # before a stop: past store.commit_interval (100 ms) with room


class Observer:
    def __init__(self, lab, n, prog, port):
        self.prog, self.port = prog, port
        self.c = clients.Interactive(lab, lab.ns_dev, clients.coap_client(
            prog, e2e.GW4, 'time', e2e.coap_identity(40 + n), e2e.COAP_KEY_TEXT,
            '-p', str(port), '-s', str(OBSERVE_S), wait=OBSERVE_S + 5))

    def stamps(self):
        self.c.expect(NEVER, 0.05)  # read what came
        return len(CLOCK_B.findall(self.c.out))

    def wait_stamps(self, n, timeout):
        """True once it printed at least n notifications (the clock prints without a
        newline: its timestamps are counted)."""
        return bool(proc.wait_for(lambda: self.stamps() >= n, timeout=timeout, step=0.2))

    def alive(self):
        return self.c.p.poll() is None


def run(stormgate, stormctl):
    with e2e.E2ELab('sge2e10', stormgate, stormctl) as lab:
        check = lab.check
        d = lab.start_daemon()
        lab.coap_server()
        obs = [Observer(lab, i, prog, port) for i, (prog, port) in enumerate(CLIENTS)]
        for o in obs:
            check(f'{o.prog} from port {o.port}: Observe /time, the answer and a '
                  'notification', o.wait_stamps(2, 20), f'{o.c.out[-300:]!r}\n{o.c.err()[-600:]}')
        hs = restart.handshakes(d)
        check('two handshakes, two sessions', hs['installed'] == len(obs)
              and restart.live_sessions(d) == len(obs), hs)
        time.sleep(SETTLE_S)
        for how in ('kill9', 'shutdown'):
            rc, answer = restart.stop(d, how)
            check(f'{how}: the daemon stops (exit {-9 if how == "kill9" else 0})',
                  rc == (-9 if how == 'kill9' else 0), f'exit {rc} {answer}\n{d.log()[-1000:]}')
            d = lab.start_daemon()
            n = restart.restored(d)
            check(f'{how}: the new daemon logs "restored N sessions" (N = {len(obs)})',
                  n == len(obs), d.log()[-1500:])
            base = [o.stamps() for o in obs]
            for o, b in zip(obs, base):
                got = o.wait_stamps(b + AFTER, NOTIFY_WAIT_S)
                check(f'{how}: {o.prog} (the same process) keeps getting notifications: '
                      f'{AFTER} more within {NOTIFY_WAIT_S} s of the start',
                      got and o.alive(), f'{o.stamps() - b} more; exit {o.c.p.poll()}\n'
                      f'{o.c.out[-300:]!r}\n{o.c.err()[-800:]}\n{ctl.counters(d.status())}')
            hs = restart.handshakes(d)
            live = restart.live_sessions(d)
            check(f'{how}: no handshake counted by the new daemon, both sessions live',
                  restart.fresh(hs) and live == len(obs), f'{hs} live {live}')
            time.sleep(SETTLE_S)
        for o in obs:
            o.c.kill()
        lab.check_stop(d)


if __name__ == '__main__':
    e2e.main_guard(run)
