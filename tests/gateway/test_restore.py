#!/usr/bin/env python3
"""Sessions across restarts of the real daemon (issue 15; suite 'integration', root),
seen by stormgate-fleet over memif (tests/tools/sgtest/fleet.py, tag sgrst). Each
config has its own session store (sgtest.daemon.config: WORK/NAME.sessions).

    test_restore.py STORMGATE STORMCTL STORMGATE_FLEET

  - crash: DEVICES devices send a CoAP request a second, the workers post sequence
    floors every 2 records and the gateway writes them; the daemon is killed (-9)
    and started again on the same config: it logs "restored N sessions", counts no
    handshake, holds every session; no device handshakes again, every device is
    connected, answers flow again, nothing misdelivered, no nonce reused (the write
    sequences leapt past the floors);
  - clean: the same across SIGTERM: "saved N sessions" at the stop, the exact state
    restored, no handshake, no device handshakes again;
  - damaged: one byte of one stored record flipped in data.mdb while the daemon is
    down: it starts, restores every other session and counts the damaged one, logs
    its slot and deletes it;
  - wrong key: the store key replaced: every record refused (counted) and kept, the
    daemon starts empty; the data file cut to half: moved aside whole, the daemon starts
    with an empty store; a key file readable by others: the start is refused,
    naming it;
  - off: store.enabled false: nothing written (no store directory), a restart holds
    no session.
Bounded: each fleet run at most 45 s; about 70 s in all.
"""
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import proc  # noqa: E402
from sgtest.fleet import FleetLab  # noqa: E402

DEVICES = 60
RESTORED = re.compile(r'restored (\d+) sessions in [0-9.]+ s \((\d+) expired, (\d+) revoked, '
                      r'(\d+) damaged')
SAVED = re.compile(r'saved (\d+) sessions in [0-9.]+ s')


def restored(d, timeout=10):
    """(restored, expired, revoked, damaged) of the daemon's restore line, or None."""
    m = proc.wait_for(lambda: RESTORED.search(d.log()), timeout=timeout, step=0.1)
    return tuple(int(x) for x in m.groups()) if m else None


def stats(d):
    s = d.ctl_json('stats')
    return s['sessions']['live'], s['handshakes']['counters']


def thread_names(pid):
    """The names of a process's threads (/proc/<pid>/task/*/comm)."""
    names = []
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/comm') as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return names


def start(lab, cfg, what):
    d = lab.start(cfg)
    if not lab.check(f'{what}: the daemon is up', d.wait_ready(), d.log()[-2000:]):
        return None
    return d


def across(lab, name, how, floors=False, **cfg_kw):
    """The fleet under traffic while the daemon is stopped by how (kill or term) and
    started again on the same config; the fleet's report and the new daemon checked."""
    check = lab.check
    cfg = lab.gateway_config(name, **cfg_kw)
    d = start(lab, cfg, name)
    if d is None:
        return None, None
    p = lab.spawn_fleet('--devices', str(DEVICES), '--req-rate', '1', '--duration', '14')
    up = proc.wait_for(lambda: stats(d)[0] == DEVICES, timeout=8, step=0.2)
    check(f'{name}: {DEVICES} sessions up before the stop', up, stats(d))
    check(f'{name}: the store\'s writer thread sg-store runs', 'writer thread sg-store runs'
          in d.log() and 'sg-store' in thread_names(d.proc.pid), d.log()[-1500:])
    time.sleep(1.0)  # past store.commit_interval: every session durable
    st = d.ctl_json('store')
    check(f'{name}: `stormctl store` counts the {DEVICES} sessions stored, none pending'
          + (', and the workers\' floor posts written' if floors else ''),
          st.get('records') == DEVICES and st.get('pending', 1) <= DEVICES
          and (not floors or st.get('floors', 0) > 0), json.dumps(st))
    if how == 'kill':
        d.proc.kill()
        check(f'{name}: killed (-9)', d.wait(10) == -9)
    else:
        d.proc.terminate()
        rc = d.wait(30)
        m = SAVED.search(d.log())
        check(f'{name}: SIGTERM stops it (exit 0), logging "saved {DEVICES} sessions"',
              rc == 0 and m and int(m.group(1)) == DEVICES, d.log()[-1500:])
    d2 = start(lab, cfg, f'{name}: again')
    if d2 is None:
        lab.wait_fleet(p, timeout=40)
        return None, None
    got = restored(d2)
    live, hs = stats(d2)
    check(f'{name}: the new daemon restored {DEVICES} sessions (0 expired, revoked, damaged), '
          'holds them, counted no handshake',
          got == (DEVICES, 0, 0, 0) and live == DEVICES and hs['completed_full'] == 0
          and hs['completed_resumed'] == 0, f'{got} live {live} {json.dumps(hs)}\n'
          f'{d2.log()[-1500:]}')
    r, rep = lab.wait_fleet(p, timeout=40)
    if not check(f'{name}: the fleet ran through it', r.returncode == 0 and rep,
                 f'exit {r.returncode}\n{r.stderr[-1500:]}'):
        return d2, None
    short = json.dumps({k: v for k, v in rep.items() if k != 'series'})
    check(f'{name}: no device handshook again; all {DEVICES} connected',
          rep['rehandshakes'] == 0 and rep['handshakes_completed'] == DEVICES
          and rep['connected'] == DEVICES and rep['handshakes_failed'] == 0, short)
    check(f'{name}: answers again at the end, nothing misdelivered, no nonce reused',
          rep['series'][-1]['answers_per_s'] > 0 and rep['misdelivered'] == 0
          and rep['nonce_reuse'] == 0, short)
    return d2, cfg


def flip_one_record(store_dir):
    """Flip one byte inside one live record of the store's main database, in data.mdb
    itself (found by its bytes, which mdb_dump gives). True when done."""
    r = subprocess.run(['mdb_dump', '-s', 'sessions', store_dir], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        return False
    rows = r.stdout.split('HEADER=END\n', 1)[-1].splitlines()
    values = [bytes.fromhex(x.strip()) for x in rows[1::2] if x.startswith(' ')]
    values = [v for v in values if len(v) > 64]
    if not values:
        return False
    path = os.path.join(store_dir, 'data.mdb')
    with open(path, 'r+b') as f:
        data = f.read()
        at = data.find(values[0])
        if at < 0 or data.find(values[0], at + 1) >= 0:
            return False
        f.seek(at + 40)  # in the sealed body
        f.write(bytes([data[at + 40] ^ 0x20]))
    return True


def damaged(lab, d, cfg):
    """The daemon stopped cleanly, one record damaged, started again."""
    check = lab.check
    check('damaged: the daemon stops cleanly', d.stop() == 0, d.log()[-1000:])
    store = cfg.sock[:-len('.sock')] + '.sessions'
    if not check('damaged: one byte of one stored record flipped in data.mdb',
                 flip_one_record(store)):
        return
    d = start(lab, cfg, 'damaged: again')
    if d is None:
        return
    got = restored(d)
    live, _ = stats(d)
    check(f'damaged: the daemon starts, restores the other {DEVICES - 1}, counts 1 damaged',
          got == (DEVICES - 1, 0, 0, 1) and live == DEVICES - 1, f'{got} live {live}\n'
          f'{d.log()[-1500:]}')
    st = d.ctl_json('store')
    check('damaged: the record is logged with its slot and reason and deleted: the store '
          f'holds the {DEVICES - 1} restored',
          re.search(r'slot \d+: record refused \(seal\): deleted', d.log())
          and '1 records not restored deleted' in d.log()
          and st.get('records') == DEVICES - 1, f'{json.dumps(st)}\n{d.log()[-1500:]}')
    check('damaged: the daemon stops cleanly', d.stop() == 0, d.log()[-1000:])
    # Another store key: every record is refused by its key id; the daemon starts empty.
    key = cfg.sock[:-len('.sock')] + '.store.key'
    with open(key, 'wb') as f:
        f.write(hashlib.sha256(b'another key').digest())
    d = start(lab, cfg, 'wrong key')
    if d is not None:
        got = restored(d)
        # The damaged record was deleted; the others, sealed under the old key, are kept.
        check(f'wrong key: every record ({DEVICES - 1}) refused, none restored, the '
              'daemon runs; the records are kept (the old key may come back)',
              got is not None and got[0] == 0 and got[3] == DEVICES - 1
              and stats(d)[0] == 0
              and f'0 records not restored deleted, {DEVICES - 1} kept' in d.log(),
              f'{got}\n{d.log()[-1500:]}')
        check('wrong key: the daemon stops cleanly', d.stop() == 0, d.log()[-1000:])
    # The data file cut short (a disk that lost its tail): moved aside, the daemon starts
    # with an empty store and logs it; it never reads past the end.
    data = os.path.join(store, 'data.mdb')
    os.truncate(data, os.path.getsize(data) // 2)
    d = start(lab, cfg, 'truncated')
    if d is not None:
        got = restored(d)
        aside = glob.glob(store + '.damaged.*')
        check('truncated: the store is moved aside, the daemon starts empty and says so',
              len(aside) == 1 and os.path.isdir(store) and got is not None and got[0] == 0
              and 'is damaged: moved to' in d.log() and stats(d)[0] == 0,
              f'{aside} {got}\n{d.log()[-1500:]}')
        check('truncated: the daemon stops cleanly', d.stop() == 0, d.log()[-1000:])
    os.chmod(key, 0o644)
    d = lab.start(cfg)
    rc = d.wait(30)
    check('a key file readable by others: the start is refused, naming the file',
          rc not in (0, None) and 'store.key' in d.log() and '0600' in d.log(),
          f'exit {rc}\n{d.log()[-1000:]}')


def store_off(lab):
    check = lab.check
    cfg = lab.gateway_config('off', store={'enabled': False})
    d = start(lab, cfg, 'off')
    if d is None:
        return
    r, rep = lab.run_fleet('--devices', '20', '--duration', '3', timeout=45)
    check('off: the fleet connects its 20 devices', r.returncode == 0 and rep
          and rep['connected'] == 20, r.stderr[-1000:])
    d.proc.kill()
    d.wait(10)
    lab.release_fleets()
    d = start(lab, cfg, 'off: again')
    if d is None:
        return
    store = cfg.sock[:-len('.sock')] + '.sessions'
    check('off: no store was made, nothing restored, no session after a restart',
          not os.path.exists(store) and 'restored' not in d.log() and stats(d)[0] == 0
          and 'session store off' in d.log(), d.log()[-1000:])
    check('off: the daemon stops cleanly', d.stop() == 0, d.log()[-1000:])


def main():
    stormgate, stormctl, fleet = sys.argv[1:4]
    if os.geteuid() != 0:
        print('1..0 # SKIP needs root (memif sockets in /run, DPDK)')
        return 0
    with FleetLab('sgrst', stormgate, stormctl, fleet) as lab:
        lab.creds(DEVICES)
        # Floors every 2 records: the workers post them, the gateway writes them.
        d, _ = across(lab, 'crash', 'kill', floors=True, store={'seq_step': 2})
        if d is not None:
            lab.check('crash: the daemon stops cleanly', d.stop() == 0, d.log()[-1000:])
        lab.release_fleets()
        d, cfg = across(lab, 'clean', 'term')
        if d is not None:
            damaged(lab, d, cfg)
        lab.release_fleets()
        store_off(lab)
        for p in glob.glob(os.path.join(lab.work, '*.damaged.*')):
            lab.check('no other store was moved aside as damaged', 'clean.sessions' in p, p)
    return 0


if __name__ == '__main__':
    sys.exit(main())
