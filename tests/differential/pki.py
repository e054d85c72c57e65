"""The harness's certificates, made at test time with `cryptography` (EC P-256, quick):

  caA, caB   two server CAs; srvA is signed by caA, srvB by caB (same names)
  caC        the client CA the recording servers verify client certificates with
  client<i>  client certificates signed by caC, CN "client-<i>"
  caAB       caA and caB in one bundle
"""

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_DNS = ["api.diff.test", "other.diff.test", "localhost"]
SERVER_IPS = ["127.0.0.1", "198.18.0.1", "198.18.0.2", "::1"]
CLIENTS = 4


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(cn, key, issuer_name, issuer_key, ca, sans=None, client=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                          False), critical=True)
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _write(path, cert=None, key=None):
    data = b""
    if cert is not None:
        data += cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption())
    path.write_bytes(data)


def make(d):
    d.mkdir(parents=True, exist_ok=True)
    cas = {}
    for name in ("caA", "caB", "caC"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(f"diff {name}", key, _name(f"diff {name}"), key, True)
        cas[name] = (cert, key)
        _write(d / f"{name}.crt", cert)
    (d / "caAB.crt").write_bytes((d / "caA.crt").read_bytes() + (d / "caB.crt").read_bytes())
    sans = [x509.DNSName(n) for n in SERVER_DNS] + [
        x509.IPAddress(ipaddress.ip_address(i)) for i in SERVER_IPS]
    for srv, ca in (("srvA", "caA"), ("srvB", "caB")):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert("kube-apiserver", key, cas[ca][0].subject, cas[ca][1], False, sans)
        _write(d / f"{srv}.crt", cert)
        _write(d / f"{srv}.key", key=key)
    for i in range(CLIENTS):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(f"client-{i}", key, cas["caC"][0].subject, cas["caC"][1], False,
                     client=True)
        _write(d / f"client{i}.crt", cert)
        _write(d / f"client{i}.key", key=key)
