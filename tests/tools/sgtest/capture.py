"""Captures of the end-to-end tests: dumpcap on an interface inside a namespace,
read back by tshark with the DTLS port decoded as DTLS (and decrypted with a
key log where one is given)."""
import os
import select
import signal
import subprocess
import time

from .dtls import DTLS_PORT


class Capture:
    """dumpcap on iface inside namespace ns, into WORK/NAME.pcapng; listening once made."""

    def __init__(self, lab, ns, iface, name):
        self.path = os.path.join(lab.work, f'{name}.pcapng')
        self.lab = lab
        self.p = lab.spawn(ns, ['dumpcap', '-q', '-i', iface, '-w', self.path],
                           stderr=subprocess.PIPE)
        # dumpcap says "Capturing on ..." once it listens.
        end = time.monotonic() + 10
        buf = b''
        fd = self.p.stderr.fileno()
        while b'Capturing on' not in buf and time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
        if b'Capturing on' not in buf:
            raise RuntimeError(f'dumpcap did not start: {buf.decode(errors="replace")}')

    def stop(self):
        """The capture file, complete (dumpcap finishes it on SIGINT)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.lab.kill(self.p)
        return self.path


def tshark(pcap, *args, keylog=None):
    """tshark over a capture, the DTLS port decoded as DTLS (with a key log: decrypted)."""
    cmd = ['tshark', '-n', '-r', pcap, '-d', f'udp.port=={DTLS_PORT},dtls']
    if keylog:
        cmd += ['-o', f'tls.keylog_file:{keylog}']
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)


def tshark_fields(pcap, display_filter, names, *extra, keylog=None):
    """(result, rows): one row per matching packet, the fields' values ('a,b' if repeated)."""
    args = ['-Y', display_filter, '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=a',
            *extra]
    for n in names:
        args += ['-e', n]
    r = tshark(pcap, *args, keylog=keylog)
    return r, [l.split('|') for l in r.stdout.splitlines() if l.strip()]
