"""Restarting a daemon in place (issue 15, docs/restart.md "Tests across restarts"):
stop it by kill -9, SIGTERM or `stormctl shutdown`, start it again on the same
config, credentials and session store, and read what the new process says about
the restart: the handshakes it counted since it started, the restore line of its
log, the save that `shutdown` answered.

    rc, answer = restart.stop(d, 'kill9')         # -9, ''
    d = lab.start_daemon(...)                     # same name: same config and store
    restart.handshakes(d)  # {'installed': 0, 'completed_full': 0, ...}
    restart.restored(d)    # sessions the new daemon says it restored, or None
"""
import re

from . import proc

# The ways a daemon stops: a crash, and the two clean stops (docs/restart.md).
KINDS = ('kill9', 'sigterm', 'shutdown')

# The handshake counters of `stormctl --json stats` that a restored session must
# leave at zero in the new process (docs/control.md, "Statistics").
HS_KEYS = ('installed', 'replaced', 'completed_full', 'completed_resumed', 'failed',
           'hello_verify_sent', 'in_flight')

# The daemon's last start-up line of a restore (docs/restart.md):
# "restored N sessions in X s (E expired, R revoked, D damaged)".
RESTORED = re.compile(r'restored (\d+) sessions? in ([0-9.]+) ?(m?s)')
# `stormctl shutdown`'s answer once the gateway saved: "stopping: saved N sessions in X ms",
# or "stopping; saving N sessions" when the save outlasted its wait.
SAVED = re.compile(r'sav(?:ed|ing) (\d+) sessions?')


def stop(d, how, timeout=30):
    """Stop daemon d by how (one of KINDS); (exit status, what stormctl answered). The
    status is -9 after kill9, None when a clean stop had to be killed after timeout s."""
    answer = ''
    if how == 'kill9':
        d.proc.kill()
        return d.wait(10), answer
    if how == 'sigterm':
        d.proc.terminate()
    elif how == 'shutdown':
        r = d.ctl('shutdown', timeout=timeout)
        answer = (r.stdout + r.stderr).strip()
    else:
        raise ValueError(f'stop: {how!r} is none of {KINDS}')
    return d.wait(timeout), answer


def saved(answer):
    """The sessions a `shutdown` answer says were saved (or are being saved); None."""
    m = SAVED.search(answer or '')
    return int(m.group(1)) if m else None


def handshakes(d):
    """The handshake counters of HS_KEYS the daemon counted since it started."""
    hs = d.ctl_json('stats')['handshakes']
    return {k: hs.get(k, 0) for k in HS_KEYS}


def fresh(hs):
    """True when a restarted daemon's handshakes() show no handshake at all."""
    return all(v == 0 for v in hs.values())


def restored(d, timeout=5):
    """The N of the daemon's "restored N sessions" log line (it is written before the
    ports come up, so before the daemon answers); None when there is none."""
    m = proc.wait_for(lambda: RESTORED.search(d.log()), timeout=timeout, step=0.1)
    return int(m.group(1)) if m else None


def live_sessions(d):
    return d.ctl_json('stats')['sessions']['live']

