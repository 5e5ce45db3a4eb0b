"""sgtest: the one package behind every Python test script of Stormgate
(tests/control, tests/e2e, tests/bench, tests/meta, and the programs in
tests/tools). Standard library only (Debian 12's python3).

Every script reaches it the same way, from where it stands in the tree:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
    from sgtest import ...  # noqa: E402

(the programs in tests/tools need no line: their own folder is on the path).

  tap        TAP output, which meson reads
  proc       running commands, waiting for a condition, killing a process group
  lab        network namespaces on veths to the gateway's ports, processes in
             them, daemons, a work directory; all removed on every exit
  daemon     the daemon's config file, start, readiness, log, stop
  ctl        control-socket calls: stormctl, the JSON-lines protocol by hand,
             the counters of a status reply
  clients    DTLS clients driven line by line: openssl s_client, gnutls-cli;
             libcoap's command lines
  capture    dumpcap captures, read by tshark
  e2e        the end-to-end topology (devices' and backend namespaces) and its
             test devices
  fleet      the storm topology: a daemon and stormgate-fleet joined by memif
  sanitizer  sanitizer reports in the daemons' output
  dtls       DTLS bytes for the raw-frame tools (record header, ClientHello)
  udpserver  the loop of the UDP servers the tests run (echo, PROXY v2)

docs/e2e.md, "Test tools", says the same for readers of the docs.
"""
import os

# tests/tools, where the helper programs run inside namespaces live.
TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The source tree (meson sets SG_SOURCE_ROOT; by hand, the checkout holding this file).
ROOT = os.environ.get('SG_SOURCE_ROOT') or os.path.dirname(os.path.dirname(TOOLS))


def tool(name):
    """The path of a helper program in tests/tools (e.g. 'udp_echo.py')."""
    return os.path.join(TOOLS, name)
