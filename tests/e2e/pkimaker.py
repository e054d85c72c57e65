"""Certificates made with the openssl CLI at test time, for the certs e2e tests: any subject,
EC or RSA keys, signed by a given CA with `openssl ca` (which accepts past dates, so expired
certificates can be made), and the openssl answers the tests use as their oracle."""

import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

KEYS = {
    "ec": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "rsa": ["-newkey", "rsa:2048"],
    "rsa4096": ["-newkey", "rsa:4096"],
}


def run(*argv, stdin=None):
    p = subprocess.run(list(argv), capture_output=True, text=True, input=stdin)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))}: {p.stderr}")
    return p.stdout


def utc(offset_days):
    return datetime.fromtimestamp(time.time() + offset_days * 86400, timezone.utc) \
        .strftime("%Y%m%d%H%M%SZ")


def new_key(path, alg="ec"):
    """A private key at `path` (PKCS#8 PEM)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if alg == "ec":
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", str(path))
    else:
        bits = "4096" if alg == "rsa4096" else "2048"
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}",
            "-out", str(path))
    return path


def issue(crt, key, subject, issuer=None, days=(-1, 365), ca=False, sans=(), alg="ec",
          chain=False, reuse_key=False, usage="serverAuth,clientAuth"):
    """crt and key: a certificate for `subject` ("/O=system:masters/CN=system:admin") signed by
    issuer=(crt, key), or self-signed when issuer is None, valid from days[0] to days[1] (days
    from now, negative for the past). `chain` appends the issuer's certificate (k3s does);
    `reuse_key` signs the key already at `key`. Returns (crt, key)."""
    crt, key = Path(crt), Path(key)
    crt.parent.mkdir(parents=True, exist_ok=True)
    key.parent.mkdir(parents=True, exist_ok=True)
    work = Path(str(crt) + ".ca-work")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    csr = work / "req.csr"
    if reuse_key:
        run("openssl", "req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    else:
        run("openssl", "req", "-new", *KEYS[alg], "-nodes", "-subj", subject, "-keyout", str(key),
            "-out", str(csr))
    ext = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"] if ca \
        else ["basicConstraints=critical,CA:FALSE",
              "keyUsage=critical,digitalSignature,keyEncipherment",
              f"extendedKeyUsage={usage}"]
    ext.append("subjectKeyIdentifier=hash")
    if sans:
        ext.append("subjectAltName=" + ",".join(
            (f"IP:{n}" if n.replace(".", "").isdigit() else f"DNS:{n}") for n in sans))
    (work / "index.txt").touch()
    (work / "serial").write_text("01\n")
    (work / "ext").write_text("[v3]\n" + "\n".join(ext) + "\n")
    (work / "ca.cnf").write_text(f"""[ca]
default_ca = kpt
[kpt]
database = {work}/index.txt
new_certs_dir = {work}
serial = {work}/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
organizationName = optional
organizationalUnitName = optional
countryName = optional
stateOrProvinceName = optional
localityName = optional
""")
    signer = ["-selfsign", "-keyfile", str(key)] if issuer is None else \
        ["-cert", str(issuer[0]), "-keyfile", str(issuer[1])]
    run("openssl", "ca", "-batch", "-config", str(work / "ca.cnf"), *signer, "-in", str(csr),
        "-out", str(crt), "-notext", "-rand_serial", "-preserveDN", "-startdate", utc(days[0]),
        "-enddate", utc(days[1]), "-extfile", str(work / "ext"), "-extensions", "v3")
    shutil.rmtree(work)
    if chain and issuer is not None:
        crt.write_text(crt.read_text() + first_pem(issuer[0]))
    return crt, key


def long_cn_ca(crt, key, cn, days=(-1, 3650)):
    """A self-signed RSA CA whose CN is longer than the 64 characters `openssl req` accepts, as
    Go (OpenShift's operators) writes them: made with the cryptography package, the key by
    openssl."""
    import datetime as dt
    import warnings

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID
    crt, key = Path(crt), new_key(key, "rsa")
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    with warnings.catch_warnings():  # "Attribute's length must be <= 64": that is the point
        warnings.simplefilter("ignore")
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=days[0]))
            .not_valid_after(now + dt.timedelta(days=days[1]))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(private, hashes.SHA256()))
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return crt, key


def first_pem(path):
    """The first certificate of a PEM file."""
    text = Path(path).read_text()
    end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")
    return text[text.index("-----BEGIN CERTIFICATE-----"):end]


# ---------------------------------------------------------------- the oracle


def x509_field(path, field):
    """`openssl x509 -noout -FIELD` of the first certificate, the value after '='."""
    out = run("openssl", "x509", "-noout", f"-{field}", "-nameopt", "RFC2253",
              stdin=first_pem(path))
    return out.split("=", 1)[1].strip()


def not_after_rfc3339(path):
    value = x509_field(path, "enddate")
    return datetime.strptime(value, "%b %d %H:%M:%S %Y GMT").replace(
        tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def expires_within(path, seconds):
    """openssl x509 -checkend: whether it expires within `seconds` from now."""
    p = subprocess.run(["openssl", "x509", "-noout", "-checkend", str(int(seconds))],
                       input=first_pem(path), capture_output=True, text=True)
    return p.returncode != 0


def public_key(path, is_cert):
    """The SubjectPublicKeyInfo PEM of a certificate or of a private key."""
    if is_cert:
        return run("openssl", "x509", "-noout", "-pubkey", stdin=first_pem(path))
    return run("openssl", "pkey", "-pubout", "-in", str(path))


def verifies(path, ca_bundle, untrusted=None):
    """openssl verify of the first certificate of `path` against `ca_bundle` (its CAs trusted
    as they are, as Kubernetes trusts them), ignoring time (the expiry checks report that)."""
    leaf = Path(str(path) + ".leaf")
    leaf.write_text(first_pem(path))
    extra = ["-untrusted", str(untrusted)] if untrusted else []
    p = subprocess.run(["openssl", "verify", "-no_check_time", "-partial_chain", "-CAfile",
                        str(ca_bundle), *extra, str(leaf)], capture_output=True, text=True)
    leaf.unlink()
    return p.returncode == 0
