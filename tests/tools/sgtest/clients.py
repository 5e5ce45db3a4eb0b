"""The devices of the tests: unmodified DTLS clients run in a lab's namespace and
driven line by line (OpenSSL's s_client, GnuTLS's gnutls-cli), and libcoap's
client command lines. Their peer is the gateway's DTLS port; behind it, an echo
server answers each line with "echo:" + the line."""
import os
import select
import subprocess
import time

from .dtls import DTLS_PORT


class Interactive:
    """A client driven line by line: send() writes to its stdin, expect() waits
    for text on its stdout; stderr goes to a file (err())."""

    def __init__(self, lab, ns, args, env=None):
        self.err_path = os.path.join(lab.work, f'client-{len(lab.procs)}.err')
        self._err = open(self.err_path, 'wb')
        self.lab = lab
        self.p = lab.spawn(ns, args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=self._err, text=False, env=env)
        self._err.close()
        self.out = b''

    def send(self, line):
        """line and a newline to its stdin; False when it is gone."""
        try:
            self.p.stdin.write(line.encode() + b'\n')
            self.p.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def expect(self, text, timeout=10):
        """True once text (a string, or a compiled bytes pattern) appeared on stdout
        (since the start), False on timeout or exit."""
        def found():
            if hasattr(text, 'search'):
                return text.search(self.out) is not None
            return text.encode() in self.out

        end = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while not found():
            left = end - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([fd], [], [], min(left, 0.2))
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return found()
                self.out += chunk
        return True

    def take_lines(self, n=None):
        """The complete lines of stdout not taken yet (the first n), as text; expect()
        sees only what is left."""
        *lines, rest = self.out.split(b'\n')
        if n is not None:
            rest = b'\n'.join(lines[n:] + [rest])
            lines = lines[:n]
        self.out = rest
        return [x.decode(errors='replace') for x in lines]

    def exited(self, timeout):
        """True once it exited (e.g. after the gateway's close_notify), within timeout s."""
        try:
            self.p.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def close(self, timeout=10):
        """End of input (the client says goodbye), then its exit status."""
        try:
            self.p.stdin.close()
        except (OSError, ValueError):
            pass
        if not self.exited(timeout):
            self.lab.kill(self.p)
        self.out += self.p.stdout.read() or b''
        return self.p.returncode

    def kill(self):
        """Gone without a goodbye (a device that reboots)."""
        self.lab.kill(self.p)

    def err(self):
        with open(self.err_path, 'rb') as f:
            return f.read().decode(errors='replace')


def _hostport(host, port):
    return f'[{host}]:{port}' if ':' in host else f'{host}:{port}'


def s_client(lab, host, identity, key, cipher, extra=(), ns=None):
    """OpenSSL s_client over DTLS 1.2 with a PSK (hex), to the gateway at host, in ns
    (default: the lab's devices' namespace). -brief, not -quiet: -quiet implies
    -ign_eof, and this client must leave (close_notify) at end of input."""
    return Interactive(lab, ns or lab.ns_dev,
                       ['openssl', 's_client', '-dtls1_2', '-brief', '-connect',
                        _hostport(host, DTLS_PORT), '-psk_identity', identity, '-psk', key,
                        '-cipher', cipher, *extra])


def gnutls_cli(lab, host, identity, key, priority, extra=(), ns=None, env=None, port=DTLS_PORT):
    """GnuTLS gnutls-cli over DTLS 1.2 with a PSK (hex), to the gateway at host (or to
    another server at host:port)."""
    return Interactive(lab, ns or lab.ns_dev,
                       ['gnutls-cli', '--udp', '--pskusername', identity, '--pskkey', key,
                        '--priority', priority, '-p', str(port), *extra, host], env=env)


def echo_roundtrip(client, line, timeout=10):
    """line sent; True once its echo ("echo:" + line) came back."""
    return client.send(line) and client.expect(f'echo:{line}\n', timeout)


def coap_client(prog, host, path, identity, key, *args, wait=8):
    """The command line of libcoap's prog (coap-client-openssl, coap-client-gnutls) for
    coaps://host/path with a PSK given as text (-k), giving up after wait seconds (-B),
    with args (e.g. -p PORT, -s SECONDS to observe, -m put -e VALUE)."""
    h = f'[{host}]' if ':' in host else host
    return [prog, '-u', identity, '-k', key, '-B', str(wait), *args, f'coaps://{h}/{path}']
