#!/usr/bin/env python3
"""End to end (suite 'e2e'): abuse from the devices' side while real devices
keep talking. Two live sessions (OpenSSL s_client over IPv4 from a known
port, GnuTLS gnutls-cli over IPv6) exchange a line with the UDP echo server
every 100 ms through stormgate for the whole test, while abuse.py (scapy, raw
frames on the devices' veth) sends, one kind at a time:

  random bytes (from a spoofed on-link address)   -> dtls_malformed / dtls_oversized
                                                     as framing decides, the rest punted
  truncated records on the live device's tuple    -> dtls_malformed
  records with a length over 2^14 + 2048          -> dtls_oversized
  forged records for the live session            -> auth_failed
  the live session's own records, captured, again -> replayed
  IPv4 and IPv6 fragments                         -> ip_fragment
  a ClientHello flood (bounded count and time)    -> punted and answered statelessly with
                                                     HelloVerifyRequests (no handshake state),
                                                     or punt_ring_full; a new real device
                                                     handshakes during the flood

Each kind must land in exactly its counter, and no echo of the live devices
may fail or be late. Then storm admission (issue 12 item 3), handshake_rate
5/s, one source being an address (handshake_source_prefix4 32), 8 devices
from their own addresses handshaking one after another all along:

  ClientHellos with made-up cookies at 10x the rate   -> drop_cookie_bad, never charged
  from one host                                          to admission: the devices still
                                                         complete >= 90 % of the rate
  a real client looping from one address (valid       -> held to its share (25 %) of the
  cookies, 4 at once)                                    rate, refused as source_share; the
                                                         devices get >= 90 % of the rest

    test_abuse.py STORMGATE STORMCTL      (root; tag sge2e5)
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import clients, ctl, e2e, proc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

SPORT_A = 42684  # the live OpenSSL device's source port
CID_LEN = 8
FLOOD_N, FLOOD_S = 20000, 10
RATE, SHARE, WINDOW = 5, 25, 12  # admission phases: handshakes/s, %, seconds measured
DEVICE_ADDRS = [f'198.18.1.{10 + i}' for i in range(6)]  # on the devices' link


class Looper(threading.Thread):
    """Full handshakes one after another from one address (s_client -bind ADDR:0), each
    echoing a line and leaving with a close_notify, until stopped; the times of the ones
    that completed."""

    def __init__(self, lab, addr, dev):
        super().__init__(daemon=True)
        self.lab, self.addr, self.dev = lab, addr, dev
        self.stop_ev = threading.Event()
        self.done = []  # end times of the handshakes that completed
        self.tried = []  # end times of every attempt (completed or given up after 8 s)

    def run(self):
        ident, key = e2e.device_identity(self.dev), e2e.device_key(self.dev)
        for i in range(10000):  # bounded; stop_ev ends it within seconds
            if self.stop_ev.is_set():
                break
            c = clients.s_client(self.lab, e2e.GW4, ident, key, 'PSK-AES128-CCM8',
                             extra=('-bind', f'{self.addr}:0'))
            # 8 s: a hello refused by admission is retransmitted after 1, 2 and 4 s
            # (RFC 6347 §4.2.4.1), so a device refused twice still gets in.
            ok = clients.echo_roundtrip(c, f'loop {i}', timeout=8)
            now = time.monotonic()
            self.tried.append(now)
            if ok:
                self.done.append(now)
                c.close(timeout=3)
            else:
                c.kill()
            self.stop_ev.wait(0.1)  # the machine's other users: a breath between processes

    def count(self, t0, t1):
        return sum(1 for t in self.done if t0 <= t < t1)

    def attempts(self, t0, t1):
        return sum(1 for t in self.tried if t0 <= t < t1)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=15)



def reinjected(d):
    """Records the control plane handed back to the data plane (stats, control_plane)."""
    return d.ctl_json('stats')['control_plane']['punts_reinjected']


def quiet_counters(d, tries=15):
    """
    ctl.counters() once two reads 0.2 s apart agree. rx comes from the port's
    statistics and the outcomes from the workers' counters, read one after
    the other: a packet that arrives in between (a kernel ARP or ND frame, a
    device's retransmission) is in one and not yet in the other, so the
    balance holds only over snapshots of a quiet data plane.
    """
    last = ctl.counters(d.status())
    for _ in range(tries):
        time.sleep(0.2)
        now = ctl.counters(d.status())
        if now == last:
            break
        last = now
    return last

def admission(lab, d, tool):
    """Issue 12 item 3, end to end (see the module's head)."""
    check = lab.check
    for a in DEVICE_ADDRS:
        proc.sh('ip', '-n', lab.ns_dev, 'addr', 'add', f'{a}/24', 'dev', lab.veth_d)
    r = d.ctl('policy', 'set', f'handshake_rate={RATE}', f'handshake_source_share={SHARE}',
              'handshake_source_prefix4=32')
    check(f'policy set handshake_rate={RATE}, share {SHARE} %, a source per address',
          r.returncode == 0, r.stdout + r.stderr)
    # One handshake from each address first: the gateway learns their MACs (ARP).
    warm = []
    for i, a in enumerate(DEVICE_ADDRS):
        c = clients.s_client(lab, e2e.GW4, e2e.device_identity(30 + i), e2e.device_key(30 + i),
                         'PSK-AES128-CCM8', extra=('-bind', f'{a}:0'))
        warm.append(clients.echo_roundtrip(c, 'warm', timeout=8))
        c.close()
        time.sleep(1.0 / RATE)
    check('each device address handshakes once', all(warm), warm)

    def adm():
        return d.ctl_json('stats')['admission']

    # -- bogus cookies at 10x the rate from one host ---------------------------------
    devices = [Looper(lab, a, 30 + i) for i, a in enumerate(DEVICE_ADDRS)]
    for x in devices:
        x.start()
    time.sleep(2)  # the loops running, the burst spent
    before, a0 = ctl.counters(d.status()), adm()
    r = tool('bogus_cookie', pps=10 * RATE, seconds=WINDOW, timeout=WINDOW + 30)
    t1 = time.monotonic()
    t0 = t1 - r['seconds']  # while the hellos were going out
    got = sum(x.count(t0, t1) for x in devices)
    dd, a1 = ctl.delta(ctl.counters(d.status()), before), adm()
    bogus = dd['hs'].get('drop_cookie_bad', 0) + dd['hs'].get('drop_cookie_expired', 0)
    check(f'{r["sent"]} ClientHellos with made-up cookies in {r["seconds"]} s ({10 * RATE}/s, '
          f'10x the rate) from one host: each dropped as a bad or expired cookie ({bogus}) and '
          'answered with a new HelloVerifyRequest, none admitted (only the devices\' '
          'handshakes were)',
          r['sent'] >= 10 * RATE * WINDOW * 0.9 and bogus <= r['sent'] + 5
          and a1['admitted'] - a0['admitted'] <= got + 2 * len(devices) + 2,
          (r, dd, a0, a1, got))
    asked = sum(x.attempts(t0, t1) for x in devices)
    want = 0.9 * min(RATE * (t1 - t0), asked)
    check(f'... meanwhile the devices completed {got} of {asked} handshakes in {t1 - t0:.1f} s: '
          f'at least 90 % of the rate or of what they asked ({want:.0f})',
          asked > 0 and got >= want, ([x.count(t0, t1) for x in devices], dd, a0, a1))

    # -- a real client looping from one address: valid cookies, held to its share ----
    flood = [Looper(lab, e2e.DEV4, 40 + i) for i in range(4)]
    for x in flood:
        x.start()
    time.sleep(2)
    a0 = adm()
    t0 = time.monotonic()
    time.sleep(WINDOW)
    t1 = time.monotonic()
    a1 = adm()
    mine = sum(x.count(t0, t1) for x in flood)
    theirs = sum(x.count(t0, t1) for x in devices)
    for x in flood + devices:
        x.stop_ev.set()
    for x in flood + devices:
        x.stop()
    share = RATE * SHARE / 100
    check(f'a client looping from one address (4 at once, valid cookies) completed {mine} '
          f'handshakes in {t1 - t0:.1f} s: within its share ({share:g}/s and a burst)',
          0 < mine <= share * (t1 - t0) + share + 2
          and a1['refused_by']['source_share'] > a0['refused_by']['source_share'], (a0, a1))
    asked = sum(x.attempts(t0, t1) for x in devices)
    want = 0.9 * min((RATE - share) * (t1 - t0), asked)
    check(f'... the devices meanwhile {theirs} of {asked}: at least 90 % of the rest of the '
          f'rate or of what they asked ({want:.0f})',
          asked > 0 and theirs >= want, ([x.count(t0, t1) for x in devices], a0, a1))
    r = d.ctl('policy', 'set', 'handshake_rate=0', 'handshake_source_prefix4=24')
    check('admission back to unlimited', r.returncode == 0, r.stderr)


class Pinger(threading.Thread):
    """Echo round trips on the live sessions every 100 ms until stopped."""

    def __init__(self, clients):
        super().__init__(daemon=True)
        self.clients = clients
        self.stop_ev = threading.Event()
        self.ok = {name: 0 for name, _ in clients}
        self.failed = []
        self.worst = 0.0

    def run(self):
        i = 0
        while not self.stop_ev.is_set():
            for name, c in self.clients:
                t0 = time.monotonic()
                if clients.echo_roundtrip(c, f'{name} ping {i}', timeout=3):
                    self.ok[name] += 1
                    self.worst = max(self.worst, time.monotonic() - t0)
                else:
                    self.failed.append((name, i))
            i += 1
            self.stop_ev.wait(0.1)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=10)


class Tool:
    def __init__(self, lab, gw_mac):
        self.c = clients.Interactive(lab, lab.ns_dev, [sys.executable,
                                                   os.path.join(HERE, 'abuse.py'),
                                                   lab.veth_d, gw_mac])
        self.ready = self._line(30)

    def _line(self, timeout):
        if not self.c.expect('\n', timeout):
            raise RuntimeError(f'abuse.py did not answer: {self.c.err()[-1500:]}')
        return json.loads(self.c.take_lines(1)[0])

    def __call__(self, cmd, timeout=60, **kw):
        self.c.send(json.dumps(dict(cmd=cmd, **kw)))
        r = self._line(timeout)
        if 'error' in r:
            raise RuntimeError(f'abuse.py {cmd}: {r["error"]}')
        return r


def run(stormgate, stormctl):
    with e2e.E2ELab('sge2e5', stormgate, stormctl) as lab:
        check = lab.check
        # net_pcap, not net_af_packet, for the devices' port: the af_packet PMD joins a
        # PACKET_FANOUT group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel would reassemble
        # IP fragments before the gateway saw them. CIDs on (8 bytes): records of type
        # tls12_cid are framed with one.
        d = lab.start_daemon(dev_devargs=f'net_pcap0,iface={lab.veth_gd},phy_mac=1',
                             sessions={'capacity': 4096, 'cid_length': CID_LEN})
        lab.udp_echo(lab.ns_be, e2e.BE4, e2e.BACKEND_PORT)
        tool = Tool(lab, lab.mac(lab.veth_gd))

        ida, keya = e2e.device_identity(20), e2e.device_key(20)
        idb, keyb = e2e.device_identity(21), e2e.device_key(21)
        a = clients.s_client(lab, e2e.GW4, ida, keya, 'PSK-AES128-GCM-SHA256',
                         extra=('-bind', f'{e2e.DEV4}:{SPORT_A}'))
        b = clients.gnutls_cli(lab, e2e.GW6, idb, keyb,
                           'NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CCM')
        if not check('two live devices: s_client (IPv4) and gnutls-cli (IPv6) echo a line',
                     clients.echo_roundtrip(a, 'hello A') and clients.echo_roundtrip(b, 'hello B'),
                     f'A {a.out[-300:]!r} {a.err()[-300:]}\nB {b.out[-300:]!r}'):
            return
        base = quiet_counters(d)
        base_reinjected = reinjected(d)
        pinger = Pinger([('A', a), ('B', b)])
        pinger.start()

        def phase(name, settle=0.7):
            """Counters before, then a function giving the delta after settling."""
            before = ctl.counters(d.status())

            def after():
                time.sleep(settle)
                return ctl.delta(ctl.counters(d.status()), before)
            return after

        # 1. random bytes
        done = phase('random')
        r = tool('random', n=300, seed=77, cid_len=CID_LEN)
        dd = done()
        exp = r['expect']
        other = (dd['punts'].get('handshake', 0) + dd['punts'].get('unknown_session', 0)
                 + sum(v for k, v in dd['drops'].items()
                       if k not in ('dtls_malformed', 'dtls_oversized', 'l3_not_for_us')))
        check(f'300 datagrams of random bytes: framing refuses {exp.get("dtls_malformed", 0)} '
              f'as dtls_malformed and {exp.get("dtls_oversized", 0)} as dtls_oversized, '
              f'the {exp.get("other", 0)} that frame are punted or dropped by reason',
              r['sent'] == 300
              and dd['drops'].get('dtls_malformed', 0) == exp.get('dtls_malformed', 0)
              and dd['drops'].get('dtls_oversized', 0) == exp.get('dtls_oversized', 0)
              and other == exp.get('other', 0), f'expected {exp}\ngot {dd}')

        # 2. truncated records on the live device's 4-tuple
        done = phase('truncated')
        r = tool('truncated', n=50, sport=SPORT_A)
        dd = done()
        check('50 truncated records on the live device\'s 4-tuple: 50 dtls_malformed',
              r['sent'] == 50 and dd['drops'].get('dtls_malformed', 0) == 50, dd)

        # 3. oversized records
        done = phase('oversized')
        r = tool('oversized', n=50, sport=SPORT_A)
        dd = done()
        check('50 records with a length over 2^14 + 2048: 50 dtls_oversized',
              r['sent'] == 50 and dd['drops'].get('dtls_oversized', 0) == 50, dd)

        # 4. forged records for the live session (fewer than policy.auth_failure_limit)
        done = phase('forge')
        r = tool('forge', n=10, sport=SPORT_A)
        dd = done()
        check('10 forged records for the live session: 10 auth_failed, nothing forwarded '
              'from them', r['sent'] == 10 and dd['drops'].get('auth_failed', 0) == 10, dd)

        # 5. replays of the live session's own records
        tool('sniff_start', sport=SPORT_A)
        time.sleep(1.0)  # the pinger sends about 10 records meanwhile
        frames = tool('sniff_stop')['frames']
        done = phase('replay')
        r = tool('replay', frames=frames, rounds=2)
        dd = done()
        k = len(frames)
        check(f'{k} captured records of the live session sent twice more: {2 * k} replayed',
              k >= 3 and r['sent'] == 2 * k and dd['drops'].get('replayed', 0) == 2 * k
              and dd['drops'].get('too_old', 0) == 0, f'{k} frames\n{dd}')

        # 6. fragments
        done = phase('fragments')
        r = tool('fragments', n=20)
        dd = done()
        check(f'20 IPv4 and 20 IPv6 datagrams in fragments ({r["sent"]} frames): every '
              'fragment ip_fragment', r['sent'] >= 80
              and dd['drops'].get('ip_fragment', 0) == r['sent'], dd)

        # 7. a ClientHello flood, and a new real device during it
        newcomer = {}

        def new_device():
            time.sleep(0.05)
            t0 = time.monotonic()
            idc, keyc = e2e.device_identity(22), e2e.device_key(22)
            c = clients.s_client(lab, e2e.GW4, idc, keyc, 'PSK-AES128-CCM8')
            newcomer['ok'] = clients.echo_roundtrip(c, 'newcomer', timeout=15)
            newcomer['rc'] = c.close()
            newcomer['s'] = time.monotonic() - t0

        done = phase('flood', settle=1.5)
        th = threading.Thread(target=new_device, daemon=True)
        th.start()
        r = tool('flood', n=FLOOD_N, seconds=FLOOD_S, timeout=FLOOD_S + 30)
        th.join(timeout=30)
        dd = done()
        st = d.status()
        dev0 = next(p for p in st['ports'] if p['name'] == 'dev0')
        hs = dd['hs']
        punted = dd['punts'].get('handshake', 0)
        ring_full = dd['drops'].get('punt_ring_full', 0)
        check(f'flood: {r["sent"]} ClientHellos from a spoofed address in {r["seconds"]} s '
              f'(at most {FLOOD_N} in {FLOOD_S} s)',
              0 < r['sent'] <= FLOOD_N and r['seconds'] <= FLOOD_S + 1, r)
        # A flood frame the port took is a handshake punt or a punt_ring_full drop (the
        # newcomer adds a few punts); under load the kernel may drop some before the port.
        check('... reaching the gateway, each one is punted as a handshake or dropped as '
              f'punt_ring_full (punted {punted}, ring full {ring_full}, port imissed '
              f'{dev0["device"]["imissed"]})',
              0.95 * r['sent'] <= punted + ring_full <= r['sent'] + 20, dd)
        check('... answered statelessly: a HelloVerifyRequest each, no handshake state for '
              'the flood (only the newcomer\'s)',
              hs.get('hello_verify_sent', 0) >= punted - 10 and hs.get('started', 0) <= 2
              and hs.get('drop_pool_full', 0) == 0, hs)
        check('... a new device handshakes and echoes during the flood',
              newcomer.get('ok') and newcomer.get('rc') == 0, newcomer)

        # 8. storm admission: bogus cookies, then a valid-cookie flood, devices all along
        before_adm = ctl.counters(d.status())
        admission(lab, d, tool)
        adm_dd = ctl.delta(ctl.counters(d.status()), before_adm)

        pinger.stop()
        total = ctl.delta(quiet_counters(d), base)
        # A record punted as of no session and handed back once its session is
        # installed is counted twice: punted, then its new outcome (dataplane.h).
        total['reinjected'] = reinjected(d) - base_reinjected
        check('over the whole run every packet the data plane received ended in exactly one '
              'counter: rx + reinjected == forwarded up + down + punted + dropped',
              total['rx'] + total['reinjected'] == total['up'] + total['down'] + total['punted']
              + sum(total['drops'].values()), total)
        check(f'the live devices kept working all along: {pinger.ok} echoes, none lost or '
              f'later than 3 s (slowest {pinger.worst * 1000:.0f} ms)',
              not pinger.failed and min(pinger.ok.values()) >= 20,
              f'failed {pinger.failed[:10]}')
        # The admission phase's devices come and go (a close_notify each): not counted here.
        check('their sessions were never replaced or ended by the abuse',
              total['replaced'] - adm_dd['replaced'] == 0
              and total['punts'].get('alert', 0) - adm_dd['punts'].get('alert', 0) <= 1,
              (total, adm_dd))
        ra, rb = a.close(), b.close()
        check('both live devices leave cleanly', ra == 0 and rb == 0,
              f'A {ra} {a.err()[-300:]}\nB {rb} {b.err()[-300:]}')
        check('the daemon is alive and answers', d.alive() and d.ctl('version').returncode == 0,
              d.log()[-1000:])
        lab.check_stop(d)


if __name__ == '__main__':
    e2e.main_guard(run)
