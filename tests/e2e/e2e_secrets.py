#!/usr/bin/env python3
"""End-to-end secrets audit: every plugin, subcommand, -v level and output format, healthy and
broken, run with recognisable secrets (ServiceAccount tokens from the TokenRequest API, the lab's
static tokens, client keys issued from the lab CA and every key of kubeadm's PKI, exec
credentials, basic-auth, oidc and proxy passwords), and none of them may appear in stdout, stderr
or any file the run writes (HOME and TMPDIR are a fresh directory per run, scanned afterwards;
some runs also under strace, whose list of files opened for writing is scanned too), nor in the
debug pods as the API server holds them. A header-recording TLS server behind each broken
certificate receives no credential at all. Each case ends with the number of runs it audited.

    e2e_secrets.py CASE     run one case (CTest runs each as its own test)
    e2e_secrets.py --list   list the cases

KP_BIN_DIR names the folder with the built plugins. The lab must be up. Each case makes its own
namespace (kps-<id>), ServiceAccounts and ClusterRoleBindings, and deletes them at the end.
"""

import base64
import concurrent.futures
import json
import os
import re
import secrets as pysecrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lab"))
from labtest import case, expect, lab, lab_module, main  # noqa: E402
from servers import Server, free_port  # noqa: E402

WINDOW = 16  # any 16 characters of a secret, in any case, in any output, is a leak
B64_WINDOW = 24  # of its base64 forms (base64 of text repeats itself more): 24, case kept
POOL = 4  # plugins run at once (the machine has two cores; most of a run is waiting)
LEVELS = (0, 1, 6, 7, 8, 9, 10)  # every -v level that changes what is logged (0..10 accepted)
API_FORMATS = ("text", "json", "yaml")  # apicheck, netdebug run and local
CERT_FORMATS = ("text", "json", "yaml", "prometheus")  # every certs subcommand
NODES = ("kwok-node-0", "kwok-node-1", "kwok-node-2")


def bin_path(plugin):
    return str(Path(os.environ["KP_BIN_DIR"]) / f"kubectl-{plugin}")


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def openssl(*args, stdin=None):
    p = subprocess.run(["openssl", *args], capture_output=True, input=stdin, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {p.stderr.decode(errors='replace')}")
    return p.stdout.decode()


# ------------------------------------------------------------------ what a secret looks like

def windows(text, size=WINDOW, fold=True):
    text = text.lower() if fold else text
    return {text[i:i + size] for i in range(len(text) - size + 1)}


def b64_windows(text):
    return windows(text, B64_WINDOW, fold=False)


def b64_forms(text):
    """The base64 of text at each of the three alignments it can take inside a longer value,
    without the characters that depend on its neighbours."""
    raw = text.encode() if isinstance(text, str) else text
    out = []
    for pad in range(3):
        enc = base64.b64encode(b"\0" * pad + raw).decode().rstrip("=")
        out.append(enc[4 if pad else 0:-4])
    return out


def pem_body(pem):
    return "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))


class Secret:
    """A secret and the forms it could leak in: `raw` forms (the token itself, URL-encoded; for a
    key its PEM body and its private numbers in hex) are matched WINDOW characters at a time,
    case-insensitive; `encoded` forms (base64 of the token, of the PEM as in client-key-data)
    B64_WINDOW characters at a time, case kept. Fragments that public or shared material also
    has (a JWT header, PKCS#8 prefixes, a certificate, the PEM armour) are left out: `public`
    lists such material, matched both ways."""

    def __init__(self, name, original, raw=(), encoded=(), public=()):
        self.name = name
        self.original = original  # what base64 would be taken of (a token, a PEM file)
        self.raw = [f for f in raw if f]
        self.encoded = [f for f in encoded if f]
        self.windows = set()
        self.b64_windows = set()
        for form in self.raw:
            self.windows |= windows(form)
        for form in self.encoded:
            self.b64_windows |= b64_windows(form)
        for text in public:
            self.windows -= windows(text)
            for form in [text, *b64_forms(text)]:
                self.b64_windows -= b64_windows(form)
        if len(self.windows) + len(self.b64_windows) < 8:
            raise RuntimeError(f"secret {name}: too little of it is its own to recognise")


def token_secret(name, token, public=()):
    return Secret(name, token, [token, urllib.parse.quote(token, safe="")], b64_forms(token),
                  public)


_decoy_cache = {}


def decoy_key(header, text):
    """A fresh key of the same kind (PEM header, algorithm, size): what every key of that kind
    shares (ASN.1 prefixes, OIDs, the PEM armour) is not secret."""
    algo = "rsa" if "modulus" in text else "ec"
    bits = re.search(r"\((\d+) bit", text)
    key = (header, algo, bits.group(1) if bits else "")
    if key not in _decoy_cache:
        if algo == "rsa":
            pem = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                          f"rsa_keygen_bits:{key[2] or 2048}")
        else:
            pem = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
        if header != "PRIVATE KEY":
            pem = openssl("pkey", "-traditional", stdin=pem.encode())
        _decoy_cache[key] = pem
    return _decoy_cache[key]


def key_secret(name, pem, public=()):
    """A private key (PEM text); `public` are certificates that may be shown."""
    header = re.search(r"-----BEGIN ([A-Z ]*PRIVATE KEY)-----", pem).group(1)
    text = openssl("pkey", "-noout", "-text", stdin=pem.encode())
    # The private number(s) in hex: EC priv, RSA privateExponent and primes.
    hexes = []
    for label in ("priv:", "privateExponent:", "prime1:", "prime2:"):
        m = re.search(re.escape(label) + r"\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
        if m:
            hexes.append(re.sub(r"[\s:]", "", m.group(1)).lstrip("0"))
    pub = openssl("pkey", "-pubout", stdin=pem.encode())
    decoy = decoy_key(header, text)
    shared = [pub, pem_body(pub), decoy, pem_body(decoy)]
    for p in public:
        shared += [p, pem_body(p)]
    return Secret(name, pem, [pem_body(pem), *hexes], b64_forms(pem), shared)


def haystacks(text):
    """The output as written, with PEM lines and JSON escapes joined up, and URL-decoded."""
    yield text
    yield re.sub(r"\s+|\\[nr]|\\(?=/)", "", text)
    unquoted = urllib.parse.unquote(text)
    if unquoted != text:
        yield unquoted


class Index:
    """Every secret's fragments, for one pass over an output."""

    def __init__(self, secrets):
        self.folded, self.exact = {}, {}
        for s in secrets:
            for w in s.windows:
                self.folded.setdefault(w, s.name)
            for w in s.b64_windows:
                self.exact.setdefault(w, s.name)
        self.folded_keys = set(self.folded)
        self.exact_prefixes = {w[:WINDOW].lower() for w in self.exact}

    def __len__(self):
        return len(self.folded) + len(self.exact)

    def hits(self, text):
        """(haystack, offset, secret name) of each fragment found. One set of the output's
        WINDOW-grams per form of it; only an output sharing one with a secret is walked."""
        for hay in haystacks(text):
            low = hay.lower()
            grams = {low[i:i + WINDOW] for i in range(len(low) - WINDOW + 1)}
            folded = grams & self.folded_keys
            prefixes = grams & self.exact_prefixes
            if not folded and not prefixes:
                continue
            for i in range(len(hay) - WINDOW + 1):
                gram = low[i:i + WINDOW]
                if gram in folded:
                    yield hay, i, self.folded[gram]
                elif gram in prefixes and hay[i:i + B64_WINDOW] in self.exact:
                    yield hay, i, self.exact[hay[i:i + B64_WINDOW]]


def find_leaks(text, index):
    """(secret name, offset) of the first fragment of each secret found in text."""
    found = {}
    for _, offset, name in index.hits(text):
        found.setdefault(name, offset)
    return sorted(found.items())


def masked_context(text, offset, index):
    """Where a leak sits, with every secret fragment blanked out (the report never repeats it)."""
    for hay, at, _ in index.hits(text):
        if at == offset:
            snippet = hay[max(0, offset - 60):offset + 80]
            out = list(snippet)
            for _, i, _ in index.hits(snippet):
                out[i:i + B64_WINDOW] = "#" * B64_WINDOW
            return "".join(out)[:140].replace("\n", "\\n")
    return "?"


# ------------------------------------------------------------------ the lab side

class Kube:
    def __init__(self):
        self.kubectl = str(Path(lab("bin")) / "kubectl")
        self.admin = lab("kubeconfig", "admin")

    def __call__(self, *args, stdin=None, check=True, timeout=60):
        p = subprocess.run([self.kubectl, "--kubeconfig", self.admin, *args], capture_output=True,
                           text=True, input=stdin, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {p.stdout}{p.stderr}")
        return p.stdout


class Fixture:
    """Everything one case needs: a namespace, ServiceAccount tokens, client keys, kubeconfigs
    of every credential kind, and the index of every secret to look for."""

    def __init__(self):
        self.id = pysecrets.token_hex(3)
        self.ns = f"kps-{self.id}"
        self.work = Path(tempfile.mkdtemp(prefix=f"kps-secrets-{self.id}-"))
        self.inputs = self.work / "in"
        self.inputs.mkdir()
        self.lab = lab_module()
        self.state = Path(self.lab.STATE)
        self.ca = self.lab.cluster_ca()
        self.server = f"https://{self.lab.API_IP}:{self.lab.API_PORT}"
        self.kube = Kube()
        self.bindings = []
        self.secrets = []
        self.runs = 0
        self.files_scanned = 0
        self.timings = []
        self.written = set()
        self.lock = threading.Lock()

    # -------------------------------------------------------------- set up and tear down

    def __enter__(self):
        try:
            self.setup()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc):
        self.teardown()

    def setup(self):
        kube, ns = self.kube, self.ns
        kube("create", "namespace", ns)
        for sa in ("admin", "exec", "noperm", "decoy"):
            kube("create", "serviceaccount", f"kps-{sa}", "-n", ns)
        for sa in ("admin", "exec"):
            name = f"kps-{self.id}-{sa}"
            kube("create", "clusterrolebinding", name, "--clusterrole=cluster-admin",
                 f"--serviceaccount={ns}:kps-{sa}")
            self.bindings.append(name)
        self.jwt = {sa: kube("create", "token", f"kps-{sa}", "-n", ns, "--duration=1h").strip()
                    for sa in ("admin", "exec", "noperm", "decoy")}
        self.static = {n: self.lab.token(n) for n in ("admin", "limited", "exec")}
        self.rejected = f"kpsecret-rejected-bearer-{pysecrets.token_hex(20)}"
        self.password = f"kpsecret-basic-password-{pysecrets.token_hex(16)}"
        self.username = "kps-basic-user"
        self.proxy_user = "kps-proxy-user"
        self.proxy_password = f"kpsecret-proxy-password-{pysecrets.token_hex(16)}"
        self.proxy_wrong = f"kpsecret-proxy-wrong-{pysecrets.token_hex(16)}"
        self.exec_tokens = {k: f"kpsecret-exec-{k}-{pysecrets.token_hex(20)}"
                            for k in ("exit1", "badjson", "badversion", "hang", "rejected",
                                      "huge", "oidc", "oidc-refresh", "oidc-secret", "crlf",
                                      "opaque")}
        # Client keys: one for kubeconfigs, one an exec plugin returns, one in a TLS Secret.
        certs = self.inputs / "certs"
        self.client = self.lab.issue_cert(certs, "client", f"kps-{self.id}-client", self.ca,
                                          client=True, org="system:masters")
        self.exec_client = self.lab.issue_cert(certs, "exec-client", f"kps-{self.id}-exec",
                                               self.ca, client=True, org="system:masters")
        self.tls = self.lab.issue_cert(certs, "tls", f"kps-{self.id}.lab.test", self.ca,
                                       sans=[f"kps-{self.id}.lab.test"])
        kube("create", "secret", "tls", "kps-tls", "-n", ns, f"--cert={self.tls[0]}",
             f"--key={self.tls[1]}")
        kube("create", "secret", "generic", "kps-mixed", "-n", ns,
             f"--from-file=tls.crt={self.tls[0]}", f"--from-file=tls.key={self.tls[1]}",
             f"--from-literal=password={self.exec_tokens['opaque']}")
        self.collect_secrets()
        self.write_kubeconfigs()

    def teardown(self):
        kube, ns = self.kube, self.ns
        for name in self.bindings:
            kube("delete", "clusterrolebinding", name, "--ignore-not-found", check=False)
        for kind in ("pods", "secrets", "serviceaccounts"):
            kube("delete", kind, "--all", "-n", ns, "--grace-period=0", "--force",
                 "--wait=false", check=False)
        kube("delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)
        out = kube("get", "namespace", ns, "-o", "json", check=False)
        try:
            spec = json.loads(out) if out.strip() else None
        except ValueError:
            spec = None
        if spec:  # the lab runs no namespace controller: finalize it ourselves
            spec["spec"]["finalizers"] = []
            kube("replace", "--raw", f"/api/v1/namespaces/{ns}/finalize", "-f", "-",
                 stdin=json.dumps(spec), check=False)
        shutil.rmtree(self.work, ignore_errors=True)

    def collect_secrets(self):
        jwt_decoys = [self.jwt["decoy"]]
        for sa in ("admin", "exec", "noperm"):
            self.secrets.append(token_secret(f"token of ServiceAccount kps-{sa}", self.jwt[sa],
                                             jwt_decoys))
        for name, value in self.static.items():
            self.secrets.append(token_secret(f"the lab's static {name} token", value))
        self.secrets.append(token_secret("the rejected bearer token", self.rejected))
        self.secrets.append(token_secret("the basic-auth password", self.password))
        for label, value in (("proxy password", self.proxy_password),
                             ("wrong proxy password", self.proxy_wrong)):
            self.secrets.append(token_secret(f"the {label}", value))
            pair = f"{self.proxy_user}:{value}"
            self.secrets.append(Secret(f"the {label} header value", pair, (), b64_forms(pair)))
        pair = f"{self.username}:{self.password}"
        self.secrets.append(Secret("the basic-auth header value", pair, (), b64_forms(pair)))
        for kind, value in self.exec_tokens.items():
            self.secrets.append(token_secret(f"the {kind} token", value))
        for label, (crt, key) in (("client", self.client), ("exec client", self.exec_client),
                                  ("TLS Secret", self.tls)):
            self.secrets.append(key_secret(f"the {label} key", key.read_text(),
                                           [crt.read_text()]))
        # Every private key of the lab: kubeadm's PKI, its kubeconfigs, kwok's and the relative
        # kubeconfig's. `certs pki`, `certs node` and `certs file` read them.
        pki = self.state / "pki"
        for key in sorted(pki.rglob("*.key")):
            crt = key.with_suffix(".crt")
            public = [crt.read_text()] if crt.exists() else []
            self.secrets.append(key_secret(f"{key.relative_to(self.state)}", key.read_text(),
                                           public))
        for conf in sorted((self.state / "kubeadm").glob("*.conf")):
            text = conf.read_text()
            key = re.search(r"client-key-data: (\S+)", text)
            crt = re.search(r"client-certificate-data: (\S+)", text)
            if key:
                public = [base64.b64decode(crt.group(1)).decode()] if crt else []
                self.secrets.append(key_secret(f"{conf.relative_to(self.state)} client key",
                                               base64.b64decode(key.group(1)).decode(), public))
        for key in (self.state / "kwok" / "kwok.key",
                    self.state / "kubeconfig" / "relative" / "certs" / "admin.key"):
            if key.exists():
                crt = key.with_suffix(".crt")
                self.secrets.append(key_secret(str(key.relative_to(self.state)), key.read_text(),
                                               [crt.read_text()] if crt.exists() else []))
        self.index = Index(self.secrets)
        self.self_test()

    def self_test(self):
        """The scanner must find each secret in the forms it could leak in, and nothing in
        public material (certificates, public keys, a decoy JWT): else the audit proves nothing."""
        missed = []
        for s in self.secrets:
            encoded = b64(s.original)
            mid = len(encoded) // 3
            samples = {"base64 (as in client-key-data)": f"data: {encoded}\n",
                       "a 30-character slice of its base64": "x" + encoded[mid:mid + 30] + "x"}
            for form in s.raw[:1] + s.raw[2:3]:  # the token or PEM body; a key's private number
                mid = len(form) // 2
                samples.update({
                    "as is in JSON": json.dumps({"x": form}),
                    "upper-cased": form.upper(),
                    "a 20-character slice": "x" + form[mid:mid + 20] + "x",
                    "URL-encoded": urllib.parse.quote(form, safe=""),
                    "PEM-wrapped": "\n".join(form[i:i + 64] for i in range(0, len(form), 64)),
                })
            for what, text in samples.items():
                if not find_leaks(text, self.index):  # (another secret may share the fragment)
                    missed.append(f"{s.name}: {what}")
        expect(not missed, f"the scanner recognises each of {len(self.secrets)} secrets in every "
               "form (as is, upper-cased, a slice, URL-encoded, base64, PEM-wrapped, private "
               "number)", "\n".join(missed))
        public = [self.jwt["decoy"]]
        for crt in list((self.state / "pki").rglob("*.crt")) + [self.client[0], self.tls[0]]:
            public.append(crt.read_text())
            public.append(b64(crt.read_text()))
        for key in self.state.glob("pki/*.key"):
            public.append(openssl("pkey", "-pubout", "-in", str(key)))
        false = find_leaks("\n".join(public), self.index)
        expect(not false, "and nothing in certificates, public keys or another JWT", false)

    def write_kubeconfigs(self):
        kc = self.inputs / "kubeconfig"
        write = self.lab.write_kubeconfig
        ca_data = {"certificate-authority-data": b64(self.ca[0].read_bytes())}
        token_file = self.inputs / "static-admin-token"
        token_file.write_text(self.static["admin"] + "\n")
        exec_token_file = self.inputs / "exec-token"
        exec_token_file.write_text(self.jwt["exec"] + "\n")
        exec_cert = self.write_exec_plugin("cert", json.dumps({
            "apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
            "status": {"clientCertificateData": self.exec_client[0].read_text(),
                       "clientKeyData": self.exec_client[1].read_text()}}))
        users = {
            "token": {"token": self.jwt["admin"]},
            "token-file": {"tokenFile": str(token_file)},
            "client-key-data": {"client-certificate-data": b64(self.client[0].read_bytes()),
                                "client-key-data": b64(self.client[1].read_bytes())},
            "client-key-file": {"client-certificate": str(self.client[0]),
                                "client-key": str(self.client[1])},
            "exec": {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": str(HERE.parent / "lab" / "exec-credential-plugin"),
                "env": [{"name": "LAB_EXEC_TOKEN_FILE", "value": str(exec_token_file)}],
                "interactiveMode": "Never", "provideClusterInfo": True}},
            "exec-cert": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                   "command": exec_cert, "interactiveMode": "Never"}},
        }
        self.kubeconfigs = {}
        for name, user in users.items():
            self.kubeconfigs[name] = str(write(kc / name, self.server, user, cluster_extra=ca_data,
                                               namespace=self.ns))
        # kubeadm's own admin.conf (an RSA client key); its context has no namespace.
        self.kubeconfigs["kubeadm-admin"] = self.kube.admin

    def write_exec_plugin(self, name, stdout, code=0, sleep=0):
        path = self.inputs / f"exec-{name}"
        data = self.inputs / f"exec-{name}.out"
        data.write_text(stdout)
        script = f"#!/bin/sh\ncat '{data}'\n"
        if sleep:
            script += f"sleep {sleep}\n"
        path.write_text(script + f"exit {code}\n")
        path.chmod(0o700)
        return str(path)

    def kubeconfig(self, name, user, server=None, ca=None, cluster_extra=None, namespace=True):
        extra = cluster_extra or {"certificate-authority-data": b64(
            (ca or self.ca[0]).read_bytes())}
        return str(self.lab.write_kubeconfig(self.inputs / "kubeconfig" / name,
                                             server or self.server, user, cluster_extra=extra,
                                             namespace=self.ns if namespace else None))

    # -------------------------------------------------------------- running and scanning

    def run(self, label, argv, codes=(0,), timeout=60, check=None, strace=False, env=None,
            interrupt=None):
        """Runs argv with a fresh HOME and TMPDIR (SIGINT after `interrupt` seconds if given);
        returns a list of problems (leaks, wrong exit code, a failed `check`), each naming the
        run."""
        home = Path(tempfile.mkdtemp(prefix="run-", dir=self.work))
        (home / "tmp").mkdir()
        e = {"HOME": str(home), "TMPDIR": str(home / "tmp"), "LANG": "C.UTF-8",
             "PATH": f"{lab_bin()}:/usr/local/bin:/usr/bin:/bin"}
        # A sanitized build's settings pass through; LeakSanitizer cannot run under ptrace, so a
        # traced run skips leak checks (the same commands run untraced too).
        e.update({k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")})
        if strace:
            e["ASAN_OPTIONS"] = ":".join(filter(None, [e.get("ASAN_OPTIONS"), "detect_leaks=0"]))
        e.update(env or {})
        trace = self.work / f"{home.name}.strace"
        full = argv
        if strace:
            full = ["strace", "-f", "-qq", "-e", "signal=none", "-e",
                    "trace=open,openat,creat,rename,renameat,renameat2,link,linkat,truncate",
                    "-s", "4096", "-o", str(trace), *argv]
        t0 = time.monotonic()
        p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e,
                             stdin=subprocess.DEVNULL)
        try:
            if interrupt:
                try:
                    p.wait(timeout=interrupt)
                except subprocess.TimeoutExpired:
                    p.send_signal(signal.SIGINT)
            stdout, stderr = p.communicate(timeout=timeout)
            code = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            stdout, stderr = p.communicate()
            code = "timeout"
        out, err = stdout.decode("latin-1"), stderr.decode("latin-1")
        took = time.monotonic() - t0
        problems = []
        texts = {"stdout": out, "stderr": err}
        written = [f for f in home.rglob("*") if f.is_file()]
        if strace and trace.exists():
            written += [Path(f) for f in written_files(trace.read_text(errors="replace"))]
        for f in written:
            try:
                texts[f"file {f}"] = f.read_bytes()[:64 << 20].decode("latin-1")
            except OSError:
                pass
        for where, text in texts.items():
            for name, offset in find_leaks(text, self.index):
                problems.append(f"LEAK [{label}] {name} in {where}: ..."
                                f"{masked_context(text, offset, self.index)}...")
        if code not in codes:
            problems.append(f"[{label}] exit {code}, expected {'/'.join(map(str, codes))} "
                            f"({took:.1f}s)\n{(out + err)[-1500:]}")
        elif check:
            why = check(out, err)
            if why:
                problems.append(f"[{label}] {why}\n{(out + err)[-1500:]}")
        with self.lock:
            self.timings.append((took, label))
            self.runs += 1
            self.files_scanned += len(written)
            self.written.update(str(f).replace(str(home), "$HOME") for f in written)
        shutil.rmtree(home, ignore_errors=True)
        if trace.exists():
            trace.unlink()
        return problems

    def run_all(self, runs):
        """runs: (label, argv, kwargs) tuples, POOL at a time, those that wait for a deadline
        first; all problems."""
        waits = ("stalls", "never answered", "hangs", "interrupted", "SIGINT")
        runs = sorted(runs, key=lambda r: not any(w in r[0] for w in waits))
        problems = []
        with concurrent.futures.ThreadPoolExecutor(POOL) as pool:
            futures = [pool.submit(self.run, label, argv, **kw) for label, argv, kw in runs]
            for f in futures:
                problems += f.result()
        return problems

    def scan(self, label, text):
        return [f"LEAK [{label}] {name}: ...{masked_context(text, offset, self.index)}..."
                for name, offset in find_leaks(text, self.index)]

    def report(self, problems, what):
        slow = ", ".join(f"{label} {took:.1f}s" for took, label in sorted(self.timings)[-5:])
        print(f"slowest: {slow}; all runs: {sum(t for t, _ in self.timings):.0f}s")
        leaks = [p for p in problems if p.startswith("LEAK")]
        expect(not leaks, f"no secret in any output or file: {what}", summary(leaks))
        expect(not problems, f"every run took the path it was meant to: {what}",
               summary(problems))
        if self.written:
            print(f"files the runs wrote: {', '.join(sorted(self.written))}")
        print(f"{self.runs} runs audited ({self.files_scanned} files written by them scanned, "
              f"{len(self.secrets)} secrets, {len(self.index)} distinct fragments)")


def summary(problems):
    """The first problems in full, then the first line of each of the others."""
    rest = [p.splitlines()[0] for p in problems[8:]]
    more = f"\n\n{len(rest)} more:\n" + "\n".join(rest) if rest else ""
    return "\n\n".join(problems[:8]) + more


_lab_bin = []


def lab_bin():
    if not _lab_bin:
        _lab_bin.append(lab("bin"))
    return _lab_bin[0]


def written_files(trace):
    """Regular files a traced run opened for writing or created, as strace printed them."""
    out = set()
    for line in trace.splitlines():
        m = re.search(r'(?:open|openat|creat)\((?:[^,]*, )?"([^"]+)", ([A-Z_|]+)', line)
        if m and re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", m.group(2)) and "= -1" not in line:
            out.add(m.group(1))
        for m in re.finditer(r'(?:rename|renameat2?|link|linkat)\(.*"([^"]+)"', line):
            out.add(m.group(1))
    return [f for f in out if f.startswith("/") and not f.startswith(("/dev/", "/proc/"))
            and Path(f).is_file()]


# ------------------------------------------------------------------ checks on a run's output

def is_json(out, err):
    try:
        json.loads(out)
    except ValueError:
        return "stdout is not one JSON document"
    return None


def logs_requests(out, err):
    return None if "https://" in err else "-v 6+ logged no request on stderr"


def logs_masked(kind):
    def check(out, err):
        if f"Authorization: {kind} <masked>" not in err:
            return f"-v 7+ did not log the Authorization header as '{kind} <masked>'"
        return None
    return check


def all_of(*checks):
    def check(out, err):
        for c in checks:
            if c:
                why = c(out, err)
                if why:
                    return why
        return None
    return check


def format_check(fmt):
    return is_json if fmt == "json" else None


def auth_kind(cred):
    return "Bearer" if cred in ("token", "token-file", "exec") else None


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that wants basic auth (user:password), tunnels to the
    lab's API server, and counts the tunnels it opened and the requests it refused (407)."""

    def __init__(self, user, password, upstream):
        self.auth = "Basic " + b64(f"{user}:{password}")
        self.upstream = upstream
        self.tunnels = self.refused = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        import select
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:])}
            if not lines[0].startswith("CONNECT ") or headers.get("proxy-authorization") \
                    != self.auth:
                self.refused += 1
                conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b"Proxy-Authenticate: Basic realm=\"kps\"\r\n"
                             b"Content-Length: 0\r\n\r\n")
                return
            try:
                up = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            self.tunnels += 1
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with up:
                socks = [conn, up]
                while True:
                    ready, _, _ = select.select(socks, [], [], 30)
                    if not ready:
                        return
                    for s in ready:
                        data = s.recv(65536)
                        if not data:
                            return
                        (up if s is conn else conn).sendall(data)

    def close(self):
        self.sock.close()


# ------------------------------------------------------------------ the cases

@case
def healthy_runs_leak_nothing():
    """Every plugin and subcommand that reads a credential, with each kind of credential, at
    every -v level and in every output format, against the healthy lab."""
    with Fixture() as fx:
        runs = []
        ns = fx.ns
        for cred, kc in fx.kubeconfigs.items():
            kind = auth_kind(cred)
            for v in LEVELS:
                for fmt in API_FORMATS:
                    checks = [format_check(fmt), logs_requests if v >= 6 else None,
                              logs_masked(kind) if v >= 7 and kind else None]
                    runs.append((f"apicheck {cred} -v {v} -o {fmt}",
                                 [bin_path("apicheck"), "--kubeconfig", kc, "-v", str(v), "-o",
                                  fmt], dict(check=all_of(*checks))))
            # -v 10 logs all of /metrics (3 MB): once, below; -v 9 its first 10 kB.
            runs.append((f"apicheck {cred} --metrics --all-endpoints -v 9",
                         [bin_path("apicheck"), "--kubeconfig", kc, "--metrics",
                          "--all-endpoints", "-v", "9", "-o", "json"],
                         dict(check=is_json, strace=cred in ("exec", "client-key-file"))))
            for fmt in CERT_FORMATS:
                runs.append((f"certs server {cred} -o {fmt}",
                             [bin_path("certs"), "server", "--kubeconfig", kc, "-o", fmt],
                             dict(check=format_check(fmt))))
                for current in ([], ["--current"]):
                    runs.append((" ".join(["certs kubeconfig", cred, *current, "-o", fmt]),
                                 [bin_path("certs"), "kubeconfig", "--kubeconfig", kc, "-o", fmt,
                                  *current], dict(check=format_check(fmt))))
            for v in LEVELS:
                for fmt in CERT_FORMATS:
                    checks = [format_check(fmt), logs_requests if v >= 6 else None]
                    runs.append((f"certs secrets {cred} -v {v} -o {fmt}",
                                 [bin_path("certs"), "secrets", "--kubeconfig", kc, "-n", ns,
                                  "-v", str(v), "-o", fmt], dict(check=all_of(*checks))))
            runs.append((f"certs secrets -A {cred} -v 10",
                         [bin_path("certs"), "secrets", "--kubeconfig", kc, "-A", "-v", "10",
                          "-o", "json"], dict(codes=(0, 1), check=is_json,
                                              strace=cred == "exec-cert")))
            for fmt in API_FORMATS:
                runs.append((f"netdebug local {cred} -o {fmt}",
                             [bin_path("netdebug"), "local", "--kubeconfig", kc, "-o", fmt],
                             dict(codes=(0, 1), check=format_check(fmt))))
            for v in (0, 10):
                runs.append((f"netdebug cleanup --dry-run {cred} -v {v}",
                             [bin_path("netdebug"), "cleanup", "--dry-run", "-n", ns,
                              "--kubeconfig", kc, "-v", str(v)], {}))
            runs += completion_runs(fx, cred, kc)
        for cred in ("token", "exec", "client-key-data"):
            for v in (0, 10):
                runs.append((f"apicheck --watch {cred} -v {v}, interrupted",
                             [bin_path("apicheck"), "--kubeconfig", fx.kubeconfigs[cred],
                              "--watch", "--interval", "200ms", "-v", str(v)],
                             dict(codes=(0, 130), interrupt=1.5,
                                  check=lambda o, e: None if "rounds" in o else
                                  "no summary of the rounds")))
        # A tls-server-name (the name checked differs from the host dialled), client key.
        for plugin, argv in (("apicheck", ["-v", "7"]), ("certs", ["secrets", "-v", "7"]),
                             ("netdebug", ["cleanup", "--dry-run", "-v", "7"])):
            runs.append((f"{plugin} {argv[0]} --tls-server-name (client key)",
                         [bin_path(plugin), *argv, "--kubeconfig",
                          fx.kubeconfigs["client-key-data"], "--tls-server-name",
                          "kubernetes.default.svc.cluster.local"], {}))
        runs.append(("apicheck token --metrics -v 10",
                     [bin_path("apicheck"), "--kubeconfig", fx.kubeconfigs["token"], "--metrics",
                      "-v", "10", "-o", "yaml"], {}))
        # Secrets on the command line, as kubectl's flags.
        flags = ["--kubeconfig", str(fx.inputs / "none"), "--server", fx.server,
                 "--certificate-authority", str(fx.ca[0])]
        token_flags = flags + ["--token", fx.jwt["admin"]]
        key_flags = flags + ["--client-certificate", str(fx.client[0]), "--client-key",
                             str(fx.client[1])]
        (fx.inputs / "none").write_text("")
        for v in LEVELS:
            for fmt in API_FORMATS:
                runs.append((f"apicheck --token -v {v} -o {fmt}",
                             [bin_path("apicheck"), *token_flags, "-v", str(v), "-o", fmt],
                             dict(check=all_of(format_check(fmt),
                                               logs_masked("Bearer") if v >= 7 else None))))
                runs.append((f"apicheck --client-key -v {v} -o {fmt}",
                             [bin_path("apicheck"), *key_flags, "-v", str(v), "-o", fmt],
                             dict(check=format_check(fmt))))
            runs.append((f"certs secrets --token -v {v}",
                         [bin_path("certs"), "secrets", *token_flags, "-n", fx.ns, "-v", str(v)],
                         {}))
        runs.append(("certs server --token", [bin_path("certs"), "server", *token_flags], {}))
        runs.append(("netdebug cleanup --token -v 10",
                     [bin_path("netdebug"), "cleanup", "--dry-run", "-n", fx.ns, *token_flags,
                      "-v", "10"], {}))
        runs.append(("complete -n with --token",
                     [bin_path("apicheck"), "__complete", *token_flags, "-n", ""],
                     dict(check=completes(fx.ns))))
        # Files that hold keys: kubeadm's PKI and kubeconfigs, and certs file on every key.
        pki, kubeadm = str(fx.state / "pki"), str(fx.state / "kubeadm")
        keys = [str(k) for k in sorted((fx.state / "pki").rglob("*.key"))]
        for fmt in CERT_FORMATS:
            runs.append((f"certs pki (lab kubeadm PKI) -o {fmt}",
                         [bin_path("certs"), "pki", "--dir", pki, "--kubeconfig-dir", kubeadm,
                          "-o", fmt], dict(codes=(0, 1), check=format_check(fmt),
                                           strace=fmt == "json")))
            runs.append((f"certs file (every lab key, the client key and cert) -o {fmt}",
                         [bin_path("certs"), "file", *keys, str(fx.client[1]), str(fx.client[0]),
                          str(fx.tls[1]), "-o", fmt],
                         dict(codes=(0, 1), check=format_check(fmt))))
        proxy = ConnectProxy(fx.proxy_user, fx.proxy_password,
                             (fx.lab.API_IP, fx.lab.API_PORT))
        runs += proxy_runs(fx, proxy.port)
        machinery_control(fx)
        try:
            problems = fx.run_all(runs)
        finally:
            proxy.close()
        expect(proxy.tunnels > 0 and proxy.refused == 0, f"the proxy, with its password, carried "
               f"{proxy.tunnels} tunnels and refused none", proxy.refused)
        fx.report(problems, f"{len(runs)} healthy runs")


def machinery_control(fx):
    """The audit must catch a run that writes a secret to stdout, stderr, a file under HOME, or a
    file elsewhere (strace): a fake plugin does all four; each must be reported."""
    outside = fx.work / "outside-home.txt"
    fragment = fx.jwt["admin"][-40:]
    script = (f"printf '%s' '{fragment}'; printf '%s' '{fragment.upper()}' >&2; "
              f"mkdir -p \"$HOME/.kube/cache\"; printf 'token: %s' '{fragment}' "
              f"> \"$HOME/.kube/cache/x\"; printf '%s' '{b64(fx.password)}' > '{outside}'")
    before = (fx.runs, fx.files_scanned, set(fx.written), list(fx.timings))
    problems = fx.run("control: a fake plugin that leaks four ways", ["sh", "-c", script],
                      strace=True)
    fx.runs, fx.files_scanned, fx.written, fx.timings = before  # not a plugin run
    wheres = ["in stdout", "in stderr", "/.kube/cache/x", str(outside)]
    seen = [w for w in wheres if any(w in p for p in problems if p.startswith("LEAK"))]
    expect(seen == wheres, "control: the audit reports a leak to stdout, stderr, a file in HOME "
           "and (through strace) a file outside it", "\n".join(problems))


def proxy_runs(fx, port, password=None, codes=(0,), label="proxy"):
    """Through a CONNECT proxy whose URL carries a password, from HTTPS_PROXY or the
    kubeconfig's proxy-url."""
    url = (f"http://{fx.proxy_user}:{urllib.parse.quote(password or fx.proxy_password)}"
           f"@127.0.0.1:{port}")
    kc_proxy = fx.kubeconfig(f"{label}-url", {"token": fx.jwt["admin"]},
                             cluster_extra={"certificate-authority-data":
                                            b64(fx.ca[0].read_bytes()), "proxy-url": url})
    runs = []
    for how, kc, env in (("HTTPS_PROXY", fx.kubeconfigs["token"], {"HTTPS_PROXY": url}),
                         ("proxy-url", kc_proxy, {})):
        for v in (0, 7, 10):
            runs.append((f"apicheck through a {label} ({how}) -v {v}",
                         [bin_path("apicheck"), "--kubeconfig", kc, "-v", str(v), "-o", "json"],
                         dict(codes=codes, env=env)))
        for argv in (["certs", "secrets", "-v", "7"], ["certs", "server"],
                     ["netdebug", "cleanup", "--dry-run", "-v", "10"]):
            runs.append((f"{' '.join(argv[:2])} through a {label} ({how})",
                         [bin_path(argv[0]), *argv[1:], "--kubeconfig", kc, "-n", fx.ns],
                         dict(codes=(0, 1, 2) if codes != (0,) else (0,), env=env)))
        runs.append((f"complete -n through a {label} ({how})",
                     [bin_path("apicheck"), "__complete", "--kubeconfig", kc, "-n", ""],
                     dict(env=env, check=completes(fx.ns) if codes == (0,) else None)))
    return runs


def completes(word):
    def check(out, err):
        return None if word in out.split() or f"{word}\t" in out else \
            f"completion did not offer {word}"
    return check


def current_context(kubeconfig):
    m = re.search(r'^current-context: "?([^"\n]+)"?', Path(kubeconfig).read_text(), re.M)
    return m.group(1)


def completion_runs(fx, cred, kc):
    """Shell completion of every value it asks the API server for, and of kubeconfig names."""
    calls = {
        "apicheck -n": ([bin_path("apicheck"), "__complete", "--kubeconfig", kc, "-n", ""],
                        completes(fx.ns)),
        "apicheck --context": ([bin_path("apicheck"), "__complete", "--kubeconfig", kc,
                                "--context", ""], completes(current_context(kc))),
        "apicheck --user": ([bin_path("apicheck"), "__completeNoDesc", "--kubeconfig", kc,
                             "--user", ""], None),
        "apicheck --token": ([bin_path("apicheck"), "__complete", "--kubeconfig", kc, "--token",
                              ""], None),
        "certs secrets -n": ([bin_path("certs"), "__complete", "secrets", "--kubeconfig", kc,
                              "-n", "kps-"], completes(fx.ns)),
        "certs node": ([bin_path("certs"), "__complete", "node", "--kubeconfig", kc, ""],
                       completes(NODES[0])),
        "netdebug run --node": ([bin_path("netdebug"), "__complete", "run", "--kubeconfig", kc,
                                 "--node", ""], completes(NODES[1])),
        "netdebug cleanup -n": ([bin_path("netdebug"), "__complete", "cleanup", "--kubeconfig",
                                 kc, "-n", ""], completes(fx.ns)),
    }
    return [(f"complete {what} ({cred})", argv, dict(check=check))
            for what, (argv, check) in calls.items()]


# ------------------------------------------------------------------ debug pods

@case
def debug_pods_leak_nothing():
    """netdebug run (each -v level, output format and credential; half with --keep) and certs
    node (each output format and credential) in the case's namespace; every debug pod's spec,
    as the API server holds it, is scanned too (a watch sees those deleted on exit), then
    netdebug cleanup deletes the kept ones (-v 10, dry run first)."""
    import itertools
    with Fixture() as fx:
        kube = fx.kube
        watch = subprocess.Popen([kube.kubectl, "--kubeconfig", kube.admin, "get", "pods", "-n",
                                  fx.ns, "-w", "-o", "json", "--output-watch-events"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        watched = []
        reader = threading.Thread(target=lambda: watched.extend(watch.stdout), daemon=True)
        reader.start()
        try:
            creds = list(fx.kubeconfigs)
            runs, kept = [], 0
            for i, (v, fmt) in enumerate(itertools.product(LEVELS, API_FORMATS)):
                cred = creds[i % len(creds)]
                keep = ["--keep"] if i % 2 else []
                kept += bool(keep)
                checks = [format_check(fmt), logs_requests if v >= 6 else None,
                          (lambda o, e: None if "netdebug:" in e else "-v 1 printed no progress")
                          if v == 1 else None]
                runs.append((" ".join(["netdebug run", cred, "-v", str(v), "-o", fmt, *keep]),
                             [bin_path("netdebug"), "run", "--kubeconfig", fx.kubeconfigs[cred],
                              "-n", fx.ns, "--node", NODES[i % len(NODES)], "--check-timeout",
                              "2s", "-v", str(v), "-o", fmt, *keep],
                             dict(check=all_of(*checks), strace=i == 0)))
            for i, cred in enumerate(creds + creds[:1]):
                fmt = CERT_FORMATS[i % len(CERT_FORMATS)]
                runs.append((f"certs node {cred} -o {fmt}",
                             [bin_path("certs"), "node", NODES[i % len(NODES)], "--kubeconfig",
                              fx.kubeconfigs[cred], "-n", fx.ns, "-o", fmt],
                             dict(check=format_check(fmt))))
            # A SIGINT before the handlers are installed (after the kubeconfig is read and the
            # client made: a slow ASan start) ends the process by the default action (-2), when
            # nothing exists yet to delete; the pod count below proves nothing leaked either way.
            interrupted = []
            for i, cred in enumerate(("token", "exec")):
                interrupted.append((f"netdebug run {cred} -v 10, SIGINT after {0.5 + i}s",
                                    [bin_path("netdebug"), "run", "--kubeconfig",
                                     fx.kubeconfigs[cred], "-n", fx.ns, "--node", NODES[i],
                                     "-v", "10"], dict(codes=(0, 130, -2), interrupt=0.5 + i)))
            problems = fx.run_all(runs + interrupted)
            pods = json.loads(kube("get", "pods", "-n", fx.ns, "-o", "json"))["items"]
            problems += fx.scan("the kept pods, from the API server", json.dumps(pods))
            expect(len(pods) == kept, f"the {kept} pods run with --keep are there to scan "
                   f"({len(pods)})", [p["metadata"]["name"] for p in pods])
            admin = fx.kubeconfigs["token"]
            problems += fx.run_all([
                ("netdebug cleanup --dry-run -v 10",
                 [bin_path("netdebug"), "cleanup", "--dry-run", "--kubeconfig", admin, "-n",
                  fx.ns, "-v", "10"],
                 dict(check=lambda o, e: None if f"found {kept} debug pod(s)" in o else
                      f"the dry run did not find the {kept} kept pods"))])
            problems += fx.run_all([
                ("netdebug cleanup -v 8",
                 [bin_path("netdebug"), "cleanup", "--kubeconfig", fx.kubeconfigs["exec"], "-n",
                  fx.ns, "-v", "8"],
                 dict(check=lambda o, e: None if f"deleted {kept} debug pod(s)" in o else
                      f"cleanup did not delete the {kept} kept pods"))])
            deadline = time.monotonic() + 20
            while kube("get", "pods", "-n", fx.ns, "-o", "name").strip():
                expect(time.monotonic() < deadline, "cleanup leaves no pod behind",
                       kube("get", "pods", "-n", fx.ns))
                time.sleep(0.5)
            events = kube("get", "events", "-n", fx.ns, "-o", "json")
            problems += fx.scan("the namespace's events", events)
        finally:
            watch.terminate()
            watch.wait(timeout=10)
            reader.join(timeout=10)
        text = "".join(watched)
        names = set(re.findall(r'"name":\s*"(kubectl-(?:netdebug|certs)-[a-z0-9]+)"', text))
        expect(len(names) >= len(runs), f"the watch saw every debug pod ({len(names)} for "
               f"{len(runs)} runs)", sorted(names))
        problems += fx.scan("every debug pod, as the watch saw it", text)
        fx.report(problems, f"{len(runs) + len(interrupted)} debug-pod runs, {len(names)} pods")


# ------------------------------------------------------------------ error paths

def exec_user(command, api="client.authentication.k8s.io/v1"):
    return {"exec": {"apiVersion": api, "command": command, "interactiveMode": "Never"}}


def credential_json(status, api="client.authentication.k8s.io/v1"):
    return json.dumps({"apiVersion": api, "kind": "ExecCredential", "status": status})


def error_kubeconfigs(fx, ports):
    """name -> (kubeconfig, the layer apicheck must fail at), for every runtime failure."""
    t = fx.exec_tokens
    plugin = fx.write_exec_plugin
    oidc = {"auth-provider": {"name": "oidc", "config": {
        "idp-issuer-url": "https://127.0.0.1:1/issuer", "client-id": "kps",
        "client-secret": t["oidc-secret"], "id-token": t["oidc"],
        "refresh-token": t["oidc-refresh"]}}}
    table = {
        "401 rejected token": ({"token": fx.rejected}, None, "auth"),
        "401 basic auth": ({"username": fx.username, "password": fx.password}, None, "auth"),
        "401 oidc id-token": (oidc, None, "auth"),
        "401 exec token": (exec_user(plugin("rejected", credential_json(
            {"token": t["rejected"]}))), None, "auth"),
        "403 impersonation": ({"token": fx.jwt["noperm"], "as": "system:admin"}, None, "auth"),
        "exec exits 1": (exec_user(plugin("exit1", credential_json({"token": t["exit1"]}),
                                          code=1)), None, "auth"),
        "exec prints broken JSON": (exec_user(plugin("badjson", credential_json(
            {"token": t["badjson"]})[:-3])), None, "auth"),
        "exec answers another apiVersion": (exec_user(plugin("badversion", credential_json(
            {"token": t["badversion"]}, "client.authentication.k8s.io/v1beta1"))), None, "auth"),
        "exec hangs": (exec_user(plugin("hang", credential_json({"token": t["hang"]})[:-2],
                                        sleep=30)), None, "auth"),
        "exec floods stdout": (exec_user(plugin("huge", credential_json(
            {"token": t["huge"] * 40000}))), None, "auth"),
        "exec returns a key without a certificate": (exec_user(plugin("keyonly", credential_json(
            {"clientKeyData": fx.exec_client[1].read_text()}))), None, "auth"),
        "exec not installed": (exec_user(f"kps-missing-plugin-{fx.id}"), None, "auth"),
        "unreachable server": ({"token": fx.jwt["admin"]}, f"https://127.0.0.1:{ports['closed']}",
                               "tcp"),
        "TLS handshake never answered": ({"token": fx.jwt["admin"]},
                                         f"https://127.0.0.1:{ports['hang']}", "tls"),
        "server stalls mid-answer": ({"token": fx.jwt["admin"]},
                                     f"https://127.0.0.1:{ports['stall']}", "health"),
        "wrong tls-server-name": ({"token": fx.jwt["admin"]}, None, "tls"),
    }
    out = {}
    for name, (user, server, layer) in table.items():
        extra = {"certificate-authority-data": b64(fx.ca[0].read_bytes())}
        if name == "wrong tls-server-name":
            extra["tls-server-name"] = "elsewhere.lab.test"
        path = fx.kubeconfig("err-" + re.sub(r"\W+", "-", name), user, server=server,
                             cluster_extra=extra)
        out[name] = (path, layer)
    return out


def bad_kubeconfigs(fx):
    """name -> kubeconfig text: broken in a field that holds, or sits next to, a secret."""
    jwt, key_pem, crt = fx.jwt["admin"], fx.client[1].read_text(), fx.client[0].read_text()
    key_b64 = b64(key_pem)
    lines = key_pem.splitlines()
    body = lines[1]
    corrupt = "\n".join([lines[0], body[:10] + ("A" if body[10] != "A" else "B") + body[11:],
                         *lines[2:]]) + "\n"
    der = base64.b64decode(pem_body(key_pem))

    def doc(user):
        return (f"apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n"
                f"  cluster:\n    server: {fx.server}\n"
                f"    certificate-authority-data: {b64(fx.ca[0].read_bytes())}\n"
                f"users:\n- name: u\n  user:\n{user}"
                f"contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n"
                f"    namespace: {fx.ns}\n")

    cert = f"    client-certificate-data: {b64(crt)}\n"
    return {
        "unterminated quote in token": doc(f'    token: "{jwt}\n'),
        "token at a bad indent": doc(f"    token: {jwt}\n   bad: [\n"),
        "token is a list": doc(f"    token: [{jwt}]\n"),
        "token is a map": doc(f"    token:\n      value: {jwt}\n"),
        "token and basic auth": doc(f"    token: {jwt}\n    username: {fx.username}\n"
                                    f"    password: {fx.password}\n"),
        "password is a map": doc(f"    username: {fx.username}\n    password:\n"
                                 f"      p: {fx.password}\n"),
        "client-key-data not base64": doc(cert + "    client-key-data: " + key_b64[:60] + "!*"
                                          + key_b64[60:] + "\n"),
        "client-key-data a corrupt PEM": doc(cert + f"    client-key-data: {b64(corrupt)}\n"),
        "client-key-data DER, not PEM": doc(cert + f"    client-key-data: {b64(der)}\n"),
        "client-key-data without certificate": doc(f"    client-key-data: {key_b64}\n"),
        "client key of another certificate": doc(
            f"    client-certificate-data: {b64(fx.exec_client[0].read_bytes())}\n"
            f"    client-key-data: {key_b64}\n"),
        "exec apiVersion unknown, secrets in args and env": doc(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v9\n"
            f"      command: /bin/true\n      args: [--token={jwt}]\n"
            f"      env:\n      - name: TOKEN\n        value: {fx.password}\n"
            "      interactiveMode: Never\n"),
        "exec and token-file at once": doc(
            f"    tokenFile: {fx.inputs / 'static-admin-token'}\n    token: {jwt}\n"
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
            f"      command: /bin/true\n      args: [{fx.password}]\n"
            "      interactiveMode: Never\n    auth-provider:\n      name: oidc\n"),
        "auth-provider gcp with a token": doc(
            f"    auth-provider:\n      name: gcp\n      config:\n"
            f"        access-token: {fx.exec_tokens['oidc']}\n"),
        "oidc without an issuer": doc(
            f"    auth-provider:\n      name: oidc\n      config:\n"
            f"        id-token: {fx.exec_tokens['oidc']}\n"
            f"        client-secret: {fx.exec_tokens['oidc-secret']}\n"),
        "YAML tab inside the client key": doc(f"    client-key-data: \t{key_b64}\t:\n"),
    }


@case
def error_paths_leak_nothing():
    """401 (bad token, basic auth, oidc, exec), 403, exec plugins that fail every way (exit 1,
    broken JSON, wrong apiVersion, hang, flood, half a key pair, not installed), unreachable,
    silent and stalling servers, a wrong TLS name, and kubeconfigs broken next to a secret:
    every plugin, -v 0/7/10, each output format; no secret in any output or file."""
    with Fixture() as fx:
        tmp = fx.inputs
        hang = socket.socket()
        hang.bind(("127.0.0.1", 0))
        hang.listen(64)  # accepts (the kernel does) and never says a word
        crt, key = fx.lab.issue_cert(tmp / "certs", "stall", "127.0.0.1", fx.ca,
                                     sans=["127.0.0.1"])
        with Server("stall", crt, key) as stall:
            ports = {"closed": free_port(), "hang": hang.getsockname()[1], "stall": stall.port}
            runs = []
            for name, (kc, layer) in error_kubeconfigs(fx, ports).items():
                runs += error_runs(fx, name, kc, layer)
            for name, text in bad_kubeconfigs(fx).items():
                path = tmp / "kubeconfig" / ("bad-" + re.sub(r"\W+", "-", name))
                path.write_text(text)
                # accepted as kubectl accepts them, then refused by the server
                kind = {"client key of another certificate": "late",
                        "client-key-data without certificate": "late"}.get(name, "input")
                runs += bad_input_runs(fx, name, str(path), kind)
            # Secrets given as flags that then fail.
            flags = ["--kubeconfig", str(fx.kubeconfigs["token"])]
            for label, extra in {
                    "--token rejected": ["--token", fx.rejected],
                    "--username/--password": ["--token", "", "--username", fx.username,
                                              "--password", fx.password],
                    "--token with CR LF": ["--token", fx.exec_tokens["crlf"] + "\r\nX-Kps: 1"],
                    "--client-key of another certificate": [
                        "--client-certificate", str(fx.exec_client[0]), "--client-key",
                        str(fx.client[1])]}.items():
                for v in (0, 10):
                    runs.append((f"apicheck {label} -v {v}",
                                 [bin_path("apicheck"), *flags, *extra, "-v", str(v)],
                                 dict(codes=(1, 2))))
                runs.append((f"certs secrets {label} -v 7",
                             [bin_path("certs"), "secrets", *flags, *extra, "-v", "7"],
                             dict(codes=(1, 2))))
                runs.append((f"netdebug cleanup {label} -v 10",
                             [bin_path("netdebug"), "cleanup", "--dry-run", *flags, *extra, "-v",
                              "10"], dict(codes=(1, 2))))
            proxy = ConnectProxy(fx.proxy_user, fx.proxy_password,
                                 (fx.lab.API_IP, fx.lab.API_PORT))
            runs += proxy_runs(fx, proxy.port, password=fx.proxy_wrong, codes=(1,),
                               label="proxy that refuses the password")
            try:
                problems = fx.run_all(runs)
            finally:
                proxy.close()
            expect(proxy.refused > 0 and proxy.tunnels == 0, f"the proxy refused the wrong "
                   f"password {proxy.refused} times and opened no tunnel", proxy.tunnels)
        hang.close()
        fx.report(problems, f"{len(runs)} error-path runs")


def failed_layer(layer):
    def check(out, err):
        try:
            report = json.loads(out)
        except ValueError:
            return "stdout is not one JSON document"
        got = report.get("failedLayer")
        return None if got == layer else f"failedLayer is {got}, expected {layer}"
    return check


def error_runs(fx, name, kc, layer):
    """Every plugin against one runtime failure, with 1 s deadlines (servers that never answer)."""
    runs = []
    short = ["--request-timeout", "1s"]
    for v in (0, 7, 10):
        for fmt in API_FORMATS:
            runs.append((f"apicheck [{name}] -v {v} -o {fmt}",
                         [bin_path("apicheck"), "--kubeconfig", kc, "--timeout", "1s", "-v",
                          str(v), "-o", fmt],
                         dict(codes=(1,), check=failed_layer(layer) if fmt == "json" else None)))
        runs.append((f"certs secrets [{name}] -v {v}",
                     [bin_path("certs"), "secrets", "--kubeconfig", kc, "--timeout", "1s", "-v",
                      str(v), "-o", "json"], dict(codes=(1, 2))))
    for fmt in CERT_FORMATS:
        runs.append((f"certs server [{name}] -o {fmt}",
                     [bin_path("certs"), "server", "--kubeconfig", kc, "--timeout", "1s", "-o",
                      fmt], dict(codes=(0, 1))))
    runs.append((f"certs kubeconfig [{name}]",
                 [bin_path("certs"), "kubeconfig", "--kubeconfig", kc, "-o", "yaml"],
                 dict(codes=(0, 1))))
    runs.append((f"certs node [{name}]",
                 [bin_path("certs"), "node", NODES[0], "--kubeconfig", kc, *short, "--timeout",
                  "1s"], dict(codes=(1, 2))))
    runs.append((f"netdebug run [{name}] -v 10",
                 [bin_path("netdebug"), "run", "--kubeconfig", kc, "--node", NODES[1], *short,
                  "--timeout", "1s", "--check-timeout", "1s", "-v", "10", "-o", "json"],
                 dict(codes=(1, 2))))
    runs.append((f"netdebug cleanup [{name}] -v 10",
                 [bin_path("netdebug"), "cleanup", "--dry-run", "--kubeconfig", kc, *short, "-v",
                  "10"], dict(codes=(1, 2))))
    runs.append((f"netdebug local [{name}]",
                 [bin_path("netdebug"), "local", "--kubeconfig", kc, "-o", "json"],
                 dict(codes=(0, 1))))
    runs.append((f"complete -n [{name}]",
                 [bin_path("netdebug"), "__complete", "cleanup", "--kubeconfig", kc, "-n", ""],
                 dict(codes=(0,))))
    return runs


def names_file(path):
    def check(out, err):
        return None if path in err else "the error does not name the kubeconfig file"
    return check


def bad_input_runs(fx, name, kc, kind):
    """Every plugin on one kubeconfig broken next to a secret. kind "input": refused up front,
    exit 2 naming the file (a quote left open and a DER key included, as kubectl refuses them);
    "late": accepted, then the server refuses: the TLS client authentication fails, or a key
    without its certificate is left out as kubectl leaves it out and the anonymous requests are
    forbidden (exit 1; certs server needs no client key: 0)."""
    runs = []
    codes, check = {"input": ((2,), names_file(kc)), "late": ((1,), None)}[kind]
    for v in (0, 10):
        for fmt in API_FORMATS:
            runs.append((f"apicheck [{name}] -v {v} -o {fmt}",
                         [bin_path("apicheck"), "--kubeconfig", kc, "-v", str(v), "-o", fmt],
                         dict(codes=codes, check=check)))
    for label, argv in {
            "certs secrets -v 7": ["certs", "secrets", "-v", "7"],
            "certs node": ["certs", "node", NODES[0]],
            "netdebug run -v 10": ["netdebug", "run", "-v", "10", "--node", NODES[0]],
            "netdebug cleanup -v 10": ["netdebug", "cleanup", "--dry-run", "-v", "10"]}.items():
        runs.append((f"{label} [{name}]", [bin_path(argv[0]), *argv[1:], "--kubeconfig", kc],
                     dict(codes=codes, check=check)))
    runs.append((f"certs server [{name}]", [bin_path("certs"), "server", "--kubeconfig", kc],
                 dict(codes=(0,) if kind == "late" else codes, check=check)))
    for fmt in CERT_FORMATS:  # it checks certificates; a broken user is not its concern
        runs.append((f"certs kubeconfig [{name}] -o {fmt}",
                     [bin_path("certs"), "kubeconfig", "--kubeconfig", kc, "-o", fmt],
                     dict(codes=(0, 1, 2))))
    runs.append((f"netdebug local [{name}] -o yaml",  # the kubeconfig only gives it a port
                 [bin_path("netdebug"), "local", "--kubeconfig", kc, "-o", "yaml"],
                 dict(codes=(0, 1))))
    for what, argv in {
            "-n": [bin_path("apicheck"), "__complete", "--kubeconfig", kc, "-n", ""],
            "--context": [bin_path("certs"), "__complete", "secrets", "--kubeconfig", kc,
                          "--context", ""],
            "node": [bin_path("certs"), "__complete", "node", "--kubeconfig", kc, ""]}.items():
        runs.append((f"complete {what} [{name}]", argv, dict(codes=(0,))))
    return runs


# ------------------------------------------------------------------ unverified servers

FAULTS = {  # name -> issue_cert keywords (sans; validity in days; "ca": "unknown" for a stranger)
    "expired": dict(sans=["127.0.0.1"], not_before_days=-30, not_after_days=-1),
    "not yet valid": dict(sans=["127.0.0.1"], not_before_days=10, not_after_days=400),
    "unknown CA": dict(sans=["127.0.0.1"], ca="unknown"),
    "SAN mismatch": dict(sans=["elsewhere.lab.test"]),
}


def clock_question(fault, label, record):
    """apicheck asks a server whose certificate fails on a date for its clock: one anonymous
    GET /version (no Authorization header; the connection's client certificate and every byte
    logged are checked apart). Nothing else may reach an unverified server."""
    return (fault in ("expired", "not yet valid") and label.startswith("apicheck")
            and all(q["line"].startswith("GET /version ")
                    and not any(h.lower() == "authorization" for h in q["headers"])
                    for q in record["requests"]))


def recorder_commands(kc):
    """Every command that connects to the API server, as (label, argv, exit codes)."""
    return [
        ("apicheck -o json", [bin_path("apicheck"), "--kubeconfig", kc, "-o", "json"], (1,)),
        ("apicheck -v 10", [bin_path("apicheck"), "--kubeconfig", kc, "-v", "10"], (1,)),
        ("certs server", [bin_path("certs"), "server", "--kubeconfig", kc], (1,)),
        ("certs secrets -A -v 7", [bin_path("certs"), "secrets", "-A", "--kubeconfig", kc, "-v",
                                   "7"], (1, 2)),
        ("certs node", [bin_path("certs"), "node", NODES[0], "--kubeconfig", kc], (1, 2)),
        ("netdebug run -v 10", [bin_path("netdebug"), "run", "--kubeconfig", kc, "--node",
                                NODES[0], "-v", "10"], (1, 2)),
        ("netdebug cleanup -v 10", [bin_path("netdebug"), "cleanup", "--kubeconfig", kc, "-v",
                                    "10"], (1, 2)),
        ("complete -n", [bin_path("apicheck"), "__complete", "--kubeconfig", kc, "-n", ""], (0,)),
        ("complete certs node", [bin_path("certs"), "__complete", "node", "--kubeconfig", kc,
                                 ""], (0,)),
        ("complete --node", [bin_path("netdebug"), "__complete", "run", "--kubeconfig", kc,
                             "--node", ""], (0,)),
    ]


def log_records(log, seen):
    """The records a recorder logged since `seen` of them, once it has stopped writing."""
    last, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        lines = Path(log).read_text().splitlines() if Path(log).exists() else []
        if len(lines) != last:
            last, stable_since = len(lines), time.monotonic()
        elif len(lines) > seen and time.monotonic() - stable_since > 0.15:
            break
        time.sleep(0.05)
    return [json.loads(line) for line in lines[seen:]], len(lines)


def recorder_users(fx):
    """Each kind of credential, as a kubeconfig user."""
    users = {}
    for cred in ("token", "token-file", "client-key-data", "client-key-file", "exec",
                 "exec-cert"):
        text = Path(fx.kubeconfigs[cred]).read_text()
        users[cred] = text[text.index("users:"):text.index("contexts:")]
    return users


def with_server(fx, cred, server):
    """The cred kubeconfig, pointed at another server (the lab CA stays the trusted one)."""
    text = Path(fx.kubeconfigs[cred]).read_text().replace(fx.server, server)
    path = fx.inputs / "kubeconfig" / f"rec-{cred}-{server.rsplit(':', 1)[1]}"
    path.write_text(text)
    return str(path)


@case
def no_credential_to_unverified_server():
    """A header-recording TLS server (servers.py record, asking for a client certificate)
    behind each broken certificate (expired, not yet valid, unknown CA, SAN mismatch; made now)
    receives no credential from any command that connects to the API server, with any kind of
    credential: no client certificate, no request, none of the secrets in anything it logged.
    The outputs are audited too. Control: with --insecure-skip-tls-verify it does see them."""
    with Fixture() as fx:
        certs = fx.inputs / "certs"
        creds = ["token", "token-file", "client-key-data", "client-key-file", "exec", "exec-cert"]
        basic = fx.kubeconfig("basic", {"username": fx.username, "password": fx.password})
        fx.kubeconfigs["basic"] = basic
        creds.append("basic")
        servers, problems = {}, []
        try:
            for fault, kw in FAULTS.items():
                kw = dict(kw)
                issuer = fx.ca
                if kw.pop("ca", None) == "unknown":
                    issuer = fx.lab.self_signed_ca(certs, "stranger", "kps stranger CA")
                slug = re.sub(r"\W+", "-", fault)
                crt, key = fx.lab.issue_cert(certs, slug, "127.0.0.1", issuer, **kw)
                log = fx.inputs / f"{slug}.log"
                servers[fault] = (Server("record", crt, key, log=log, client_ca=fx.ca[0]), log)

            def one_fault(fault):
                srv, log = servers[fault]
                found, seen, count = [], 0, 0
                for cred in creds:
                    kc = with_server(fx, cred, f"https://127.0.0.1:{srv.port}")
                    for label, argv, codes in recorder_commands(kc):
                        what = f"{fault}: {label} ({cred})"
                        found += fx.run(what, argv, codes=codes, timeout=30)
                        records, seen = log_records(log, seen)
                        count += 1
                        if not records:
                            found.append(f"[{what}] the recorder saw no connection")
                        for r in records:
                            if r.get("clientCert"):
                                found.append(f"LEAK [{what}] a client certificate reached the "
                                             "recorder")
                            if r.get("requests") and not clock_question(fault, label, r):
                                found.append(f"LEAK [{what}] {len(r['requests'])} request(s) "
                                             f"reached the recorder: "
                                             f"{[q['line'] for q in r['requests']]}")
                            found += fx.scan(f"{what}: what the recorder logged", json.dumps(r))
                return found, count

            with concurrent.futures.ThreadPoolExecutor(len(FAULTS)) as pool:
                results = list(pool.map(one_fault, FAULTS))
            problems = [p for found, _ in results for p in found]
            commands = sum(count for _, count in results)
            fx.report(problems, f"{commands} connections to {len(FAULTS)} unverified servers")
            # Control: chosen insecurity sends each credential to whoever answers, so the
            # recorder and the scan can tell.
            srv, log = servers["SAN mismatch"]
            for cred, expect_seen in (("token", "token of ServiceAccount kps-admin"),
                                      ("exec", "token of ServiceAccount kps-exec"),
                                      ("basic", "the basic-auth password"),
                                      ("client-key-data", "client certificate")):
                seen = len(Path(log).read_text().splitlines())
                kc = with_server(fx, cred, f"https://127.0.0.1:{srv.port}")
                code = subprocess.run([bin_path("apicheck"), "--kubeconfig", kc,
                                       "--insecure-skip-tls-verify"], capture_output=True,
                                      timeout=30).returncode
                records, _ = log_records(log, seen)
                if expect_seen == "client certificate":
                    got = any(r.get("clientCert") for r in records)
                else:
                    text = json.dumps(records)
                    got = expect_seen in [n for n, _ in find_leaks(text, fx.index)]
                    if cred == "basic":  # the header is base64 of user:password
                        got = "the basic-auth header value" in dict(find_leaks(text, fx.index))
                expect(got, f"control: with --insecure-skip-tls-verify the recorder sees the "
                       f"{cred} credential (apicheck exit {code})", len(records))
        finally:
            for srv, _ in servers.values():
                srv.__exit__()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
