"""Commands for the tests: run to completion with a timeout, set-up steps that
must succeed, waiting for a condition, and killing what a test started."""
import os
import signal
import subprocess
import time


def run(args, timeout=30, **kw):
    """args run to completion, stdout and stderr captured as text (a CompletedProcess)."""
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)


def sh(*args):
    """A set-up step that must succeed; RuntimeError with its stderr when it does not."""
    r = run(args)
    if r.returncode != 0:
        raise RuntimeError(f'{" ".join(args)}: exit {r.returncode}: {r.stderr.strip()}')
    return r


def wait_for(fn, timeout=10, step=0.2):
    """fn()'s first true value within timeout seconds, else its value at the end."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def wait_exit(p, timeout=30):
    """p's exit status; None when it had to be killed after timeout seconds."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=10)
        return None


def kill(p):
    """Kill p and its process group (it was started in a session of its own, so a
    shell pipeline goes with it) and reap it. Never raises: clean-up calls it."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
