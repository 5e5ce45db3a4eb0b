# SPDX-License-Identifier: Apache-2.0
"""A test PKI made at test time with the openssl command line (issue 17), for the
e2e certificate tests (test_certs.py); run by the test script's own thread, it
owns its temporary directory and removes it (keys included) on close().

    root CA "sg-e2e-root" ── intermediate "sg-e2e-int" ─┬─ server (the gateway)
                                                         ├─ client good
                                                         ├─ client expired (2020-2021)
                                                         └─ client revoked (on the CRL)
    other root "sg-e2e-other" ── client other-ca
    raw public key pairs (RFC 7250): "rpk-good", "rpk-unknown", ...

Every key is EC P-256 (prime256v1). Certificates are issued by `openssl ca`
(its index, serials and CRL numbers in the CA's directory), which alone of the
3.0 command line sets a validity in the past (-startdate/-enddate) and revokes
and publishes CRLs. What the gateway reads:

    server_chain  the server's certificate, then the intermediate (tls.cert)
    server_key    its private key (tls.key)
    server_pub    its public key alone (tls.rpk_key: a raw-key gateway)
    ca_bundle     the root and the intermediate (tls.ca)
    crl           both CAs' CRLs, the intermediate's listing the revoked client
                  (tls.crl: X509_V_FLAG_CRL_CHECK needs the leaf's issuer's,
                  CRL_CHECK_ALL every level's)

Clients get Cert(cert, key, chain) rows (chain: leaf then intermediate) and
RawKey(key, pub, both, spki_b64) rows; client_root is what they trust.

    with pki.PKI() as p:
        p.clients['good'].chain, p.rpk('rpk-good').spki_b64
"""
import base64
import collections
import os
import shutil
import subprocess
import tempfile

# A client certificate's files: its certificate, private key, and certificate then
# intermediate (one file, for clients that send the chain); identity: its CN.
Cert = collections.namedtuple('Cert', 'name identity cert key chain')
# A raw public key pair: private key (PKCS#8 PEM), public key (SPKI PEM), both in one
# file (libcoap's -M), the DER SubjectPublicKeyInfo in base64 (the store's CSV column),
# and the identity the store maps it to.
RawKey = collections.namedtuple('RawKey', 'name identity key pub both spki_b64')

GW_NAMES = ('IP:198.18.1.1', 'IP:fd00:5347:1::1', 'DNS:gw.e2e.stormgate.test')

_CA_CONF = """\
[ ca ]
default_ca = this_ca
[ this_ca ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/issued
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 30
default_crl_days = 30
policy = any_name
unique_subject = no
copy_extensions = none
[ any_name ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_int ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_server ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = {server_san}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_client ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = URI:$ENV::SG_PKI_SAN_URI
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def pem_body(path):
    """The base64 body of the first PEM block in path, on one line (None: no such file)."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    body, inside = [], False
    for line in lines:
        if line.startswith('-----BEGIN'):
            inside = True
        elif line.startswith('-----END'):
            break
        elif inside:
            body.append(line.strip())
    return ''.join(body) or None


def identity(name):
    """The certificate identity (CN) and SAN URI of the test client called name."""
    return f'urn:dev:ops:32473-e2e-cert-{name}'


class PKIError(RuntimeError):
    pass


class PKI:
    """The whole test PKI, made on entering (a few hundred ms of openssl runs)."""

    def __init__(self, base=None):
        self.base = base
        self.dir = None
        self.clients = {}
        self._rpk = {}

    # ---- plumbing ---------------------------------------------------------------

    def _openssl(self, *args, env=None):
        r = subprocess.run(['openssl', *args], capture_output=True, text=True, timeout=30,
                           env={**os.environ, 'SG_PKI_SAN_URI': 'urn:invalid', **(env or {})})
        if r.returncode != 0:
            raise PKIError(f'openssl {" ".join(args)}: exit {r.returncode}\n{r.stderr[-1500:]}')
        return r.stdout

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def _key(self, path):
        self._openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
                      '-pkeyopt', 'ec_param_enc:named_curve', '-out', path)
        os.chmod(path, 0o600)
        return path

    def _ca_dir(self, name):
        d = self.path(name)
        os.makedirs(os.path.join(d, 'issued'))
        open(os.path.join(d, 'index.txt'), 'w').close()
        with open(os.path.join(d, 'serial'), 'w') as f:
            f.write('1000\n')
        with open(os.path.join(d, 'crlnumber'), 'w') as f:
            f.write('01\n')
        conf = os.path.join(d, 'ca.cnf')
        with open(conf, 'w') as f:
            f.write(_CA_CONF.format(dir=d, server_san=', '.join(GW_NAMES)))
        return d, conf

    def _root(self, name, cn):
        """A self-signed root CA in its own directory: (dir, conf, cert, key)."""
        d, conf = self._ca_dir(name)
        key = self._key(os.path.join(d, 'ca.key'))
        cert = os.path.join(d, 'ca.pem')
        self._openssl('req', '-config', conf, '-new', '-x509', '-key', key, '-sha256',
                      '-days', '30', '-subj', f'/O=Stormgate e2e/CN={cn}', '-extensions',
                      'v3_ca', '-out', cert)
        return d, conf, cert, key

    def _issue(self, conf, ca_cert, ca_key, key, cn, ext, out, start=None, end=None,
               san_uri=None):
        """A certificate for key, issued by the CA of conf (openssl ca keeps the index)."""
        csr = out + '.csr'
        self._openssl('req', '-config', conf, '-new', '-key', key, '-subj',
                      f'/O=Stormgate e2e/CN={cn}', '-out', csr)
        args = ['ca', '-config', conf, '-batch', '-notext', '-cert', ca_cert, '-keyfile',
                ca_key, '-extensions', ext, '-in', csr, '-out', out]
        if start:
            args += ['-startdate', start]
        if end:
            args += ['-enddate', end]
        else:
            args += ['-days', '30']
        self._openssl(*args, env={'SG_PKI_SAN_URI': san_uri or f'urn:invalid:{cn}'})
        os.unlink(csr)
        return out

    def _cat(self, out, *files):
        with open(out, 'w') as o:
            for fn in files:
                with open(fn) as f:
                    o.write(f.read())
        return out

    def _client(self, name, conf, ca_cert, ca_key, chain_tail, **kw):
        ident = identity(name)
        key = self._key(self.path(f'client-{name}.key'))
        cert = self._issue(conf, ca_cert, ca_key, key, ident, 'v3_client',
                           self.path(f'client-{name}.pem'), san_uri=ident, **kw)
        chain = self._cat(self.path(f'client-{name}-chain.pem'), cert, *chain_tail)
        self.clients[name] = Cert(name, ident, cert, key, chain)
        return self.clients[name]

    # ---- the PKI ----------------------------------------------------------------

    def make(self):
        self.dir = tempfile.mkdtemp(prefix='sg-e2e-pki-', dir=self.base)
        os.chmod(self.dir, 0o700)
        _, root_conf, self.root, root_key = self._root('root', 'sg-e2e-root')
        # The intermediate: its own CA directory, its certificate issued by the root.
        int_dir, self.int_conf = self._ca_dir('int')
        self.int_key = self._key(os.path.join(int_dir, 'ca.key'))
        self.intermediate = self._issue(root_conf, self.root, root_key, self.int_key,
                                        'sg-e2e-int', 'v3_int', os.path.join(int_dir, 'ca.pem'))
        self.client_root = self.root
        self.ca_bundle = self._cat(self.path('ca-bundle.pem'), self.root, self.intermediate)

        self.server_key = self._key(self.path('server.key'))
        self.server_cert = self._issue(self.int_conf, self.intermediate, self.int_key,
                                       self.server_key, 'sg-e2e-gateway', 'v3_server',
                                       self.path('server.pem'))
        self.server_pub = self.path('server.pub.pem')
        self._openssl('pkey', '-in', self.server_key, '-pubout', '-out', self.server_pub)
        self.server_chain = self._cat(self.path('server-chain.pem'), self.server_cert,
                                      self.intermediate)

        tail = (self.intermediate,)
        self._client('good', self.int_conf, self.intermediate, self.int_key, tail)
        self._client('second', self.int_conf, self.intermediate, self.int_key, tail)
        self._client('expired', self.int_conf, self.intermediate, self.int_key, tail,
                     start='20200101000000Z', end='20210101000000Z')
        revoked = self._client('revoked', self.int_conf, self.intermediate, self.int_key, tail)
        self._openssl('ca', '-config', self.int_conf, '-batch', '-cert', self.intermediate,
                      '-keyfile', self.int_key, '-revoke', revoked.cert, '-crl_reason',
                      'keyCompromise')
        root_crl = self.path('root.crl.pem')
        int_crl = self.path('int.crl.pem')
        self._openssl('ca', '-config', root_conf, '-batch', '-cert', self.root, '-keyfile',
                      root_key, '-gencrl', '-out', root_crl)
        self._openssl('ca', '-config', self.int_conf, '-batch', '-cert', self.intermediate,
                      '-keyfile', self.int_key, '-gencrl', '-out', int_crl)
        self.crl = self._cat(self.path('crl.pem'), int_crl, root_crl)
        self.revoked_serial = self._openssl('x509', '-in', revoked.cert, '-noout',
                                            '-serial').strip().split('=')[1]

        # A CA the gateway does not trust, and a client of it (same name as a good one).
        _, other_conf, other_root, other_key = self._root('other', 'sg-e2e-other')
        self._client('other-ca', other_conf, other_root, other_key, (other_root,))
        return self

    def rpk(self, name):
        """The raw public key pair called name (made on first use)."""
        if name not in self._rpk:
            key = self._key(self.path(f'{name}.key'))
            pub = self.path(f'{name}.pub.pem')
            self._openssl('pkey', '-in', key, '-pubout', '-out', pub)
            der = self.path(f'{name}.pub.der')
            self._openssl('pkey', '-in', key, '-pubout', '-outform', 'DER', '-out', der)
            with open(der, 'rb') as f:
                spki = base64.b64encode(f.read()).decode()
            both = self._cat(self.path(f'{name}.both.pem'), pub, key)
            self._rpk[name] = RawKey(name, identity(name), key, pub, both, spki)
        return self._rpk[name]

    def rpk_csv(self, names):
        """The store's CSV of raw public keys (`stormctl import rpk`): identity,spki_base64."""
        path = self.path('rpk-import.csv')
        with open(path, 'w') as f:
            f.write('identity,spki_base64\n')
            for n in names:
                k = self.rpk(n)
                f.write(f'{k.identity},{k.spki_b64}\n')
        return path

    def spki_b64(self, key):
        """The base64 DER SubjectPublicKeyInfo of key (a private or public key PEM)."""
        der = subprocess.run(['openssl', 'pkey', '-in', key, '-pubout', '-outform', 'DER'],
                             capture_output=True, check=True, timeout=30).stdout
        return base64.b64encode(der).decode()

    def describe(self, cert):
        """openssl x509 -text of a certificate (for a failed check's detail)."""
        return self._openssl('x509', '-in', cert, '-noout', '-subject', '-issuer', '-dates',
                             '-serial')

    def close(self):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        try:
            return self.make()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()
