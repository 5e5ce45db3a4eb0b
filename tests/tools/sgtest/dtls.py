"""DTLS 1.2 bytes for the tools that write raw frames (tests/tools/neigh_probe.py,
tests/e2e/abuse.py): a record header and a ClientHello, from RFC 6347 §4.1 and
§4.2 (not from Stormgate's code)."""
DTLS_PORT = 5684  # the gateway's DTLS port (RFC 7252 §12.7, coaps)


def record(ctype, epoch, seq, body, length=None):
    """A DTLS 1.2 record (RFC 6347 §4.1); length: what the length field says, if not
    len(body)."""
    n = len(body) if length is None else length
    return (bytes([ctype]) + b'\xfe\xfd' + epoch.to_bytes(2, 'big') + seq.to_bytes(6, 'big')
            + n.to_bytes(2, 'big') + body)


def client_hello(random32, suites, cookie=b''):
    """A well-formed DTLS 1.2 ClientHello in an epoch-0 record: no session id, the
    cookie (none: the first hello, RFC 6347 §4.2.1), the suites, no compression,
    extended_master_secret (RFC 7627)."""
    body = (b'\xfe\xfd' + random32 + b'\x00' + bytes([len(cookie)]) + cookie
            + (2 * len(suites)).to_bytes(2, 'big') + b''.join(s.to_bytes(2, 'big') for s in suites)
            + b'\x01\x00'
            + (4).to_bytes(2, 'big') + b'\x00\x17\x00\x00')
    n = len(body).to_bytes(3, 'big')
    hs = b'\x01' + n + b'\x00\x00' + b'\x00\x00\x00' + n + body  # one unfragmented message
    return record(22, 0, 0, hs)
