#!/usr/bin/env python3
"""End-to-end tests of kubectl certs: the built binary through kubectl's plugin dispatch,
against kubeadm's own PKI and certificates made with the openssl CLI, with kubeadm and
openssl as oracles.

    e2e_certs.py CASE | --list
"""

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from labtest import case, expect, lab, main, sh  # noqa: E402
from pkimaker import issue  # noqa: E402

LAB_DIR = Path(os.environ.get("LAB_DIR", "/tmp/kplugins-lab"))


def kubectl(*args):
    path = f"{os.environ['KP_BIN_DIR']}:{lab('bin')}:{os.environ['PATH']}"
    return sh(["kubectl", *args], env={"PATH": path})


def certs_json(*args):
    code, out = kubectl("certs", *args, "-o", "json")
    try:
        return code, json.loads(out), out
    except ValueError:
        return code, None, out


def openssl(*args, stdin=None):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True, input=stdin)
    return p.stdout.strip()


def rfc3339_from_openssl(enddate):
    """'notAfter=Nov 26 07:45:47 2027 GMT' -> '2027-11-26T07:45:47Z'."""
    value = enddate.split("=", 1)[1].strip()
    return datetime.strptime(value, "%b %d %H:%M:%S %Y GMT").replace(
        tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def by_source(report):
    return {c["details"]["source"]: c for c in report["checks"] if c.get("details")}


@case
def file_agrees_with_openssl():
    """RSA, ECDSA and Ed25519 certificates, a bundle and DER, made by the openssl CLI: subject,
    issuer, serial, notAfter and SANs as `openssl x509` prints them."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        made = {}
        for name, alg in (("rsa", ["-newkey", "rsa:2048"]),
                          ("ecdsa", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                          ("ed25519", ["-newkey", "ed25519"])):
            subprocess.run(["openssl", "req", "-x509", *alg, "-nodes", "-days", "40", "-subj",
                            f"/O=lab/CN={name}.lab.test", "-keyout", str(tmp / f"{name}.key"),
                            "-out", str(tmp / f"{name}.crt"), "-addext",
                            f"subjectAltName=DNS:{name}.lab.test,IP:198.18.0.9"],
                           check=True, capture_output=True)
            made[name] = tmp / f"{name}.crt"
        bundle = tmp / "bundle.pem"
        bundle.write_text(made["rsa"].read_text() + made["ecdsa"].read_text())
        der = tmp / "ed25519.der"
        subprocess.run(["openssl", "x509", "-in", str(made["ed25519"]), "-outform", "DER",
                        "-out", str(der)], check=True)
        code, report, out = certs_json("file", str(made["rsa"]), str(made["ecdsa"]),
                                       str(bundle), str(der))
        expect(code == 0 and report, "kubectl certs file -o json: exit 0", out)
        checks = by_source(report)
        expected = {str(made["rsa"]): made["rsa"], str(made["ecdsa"]): made["ecdsa"],
                    f"{bundle}#0": made["rsa"], f"{bundle}#1": made["ecdsa"],
                    str(der): made["ed25519"]}
        for source, pem in expected.items():
            d = checks[source]["details"] if source in checks else None
            expect(d, f"{source} is reported", list(checks))
            oracle = {
                "subject": openssl("x509", "-in", str(pem), "-noout", "-subject", "-nameopt",
                                   "RFC2253").split("=", 1)[1].strip(),
                "issuer": openssl("x509", "-in", str(pem), "-noout", "-issuer", "-nameopt",
                                  "RFC2253").split("=", 1)[1].strip(),
                "serial": openssl("x509", "-in", str(pem), "-noout", "-serial")
                .split("=", 1)[1].strip().lower().lstrip("0"),
                "notAfter": rfc3339_from_openssl(openssl("x509", "-in", str(pem), "-noout",
                                                         "-enddate")),
            }
            for key, value in oracle.items():
                got = d[key].lstrip("0") if key == "serial" else d[key]
                expect(got == value, f"{source}: {key} {value}", d)
            sans = openssl("x509", "-in", str(pem), "-noout", "-ext", "subjectAltName")
            for san in d["sans"]:
                expect(san in sans, f"{source}: SAN {san} as openssl shows it", sans)
            expect(checks[source]["status"] == "ok", f"{source}: ok (40 days left)", d)


@case
def file_faults():
    """Expired, expiring within the window, garbage: fail, warn, fail with what it was."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "10", "-subj",
                        "/CN=soon", "-keyout", str(tmp / "k"), "-out", str(tmp / "soon.crt")],
                       check=True, capture_output=True)
        (tmp / "garbage.crt").write_text("hello, I am not a certificate\n")
        code, report, out = certs_json("file", str(tmp / "soon.crt"), str(tmp / "garbage.crt"))
        expect(code == 1, "a garbage file fails the run (exit 1)", out)
        checks = by_source(report)
        soon = checks[str(tmp / "soon.crt")]
        expect(soon["status"] == "warn" and soon["hint"], "10 days left: warn with a hint", soon)
        garbage = checks[str(tmp / "garbage.crt")]
        expect(garbage["status"] == "fail" and "not PEM or DER" in garbage["message"],
               "garbage: fail, saying what the bytes were", garbage)


def rootfs_with_lab_pki(tmp):
    """A root filesystem holding the lab's kubeadm PKI and kubeconfigs at /etc/kubernetes,
    plus controller-manager.conf and scheduler.conf made by kubeadm itself."""
    etc = tmp / "etc" / "kubernetes"
    shutil.copytree(LAB_DIR / "pki", etc / "pki")
    for conf in ("admin.conf", "super-admin.conf"):
        shutil.copy(LAB_DIR / "kubeadm" / conf, etc / conf)
    cfg = (LAB_DIR / "kubeadm.yaml").read_text().replace(str(LAB_DIR / "pki"), str(etc / "pki"))
    (tmp / "kubeadm.yaml").write_text(cfg)
    for conf in ("controller-manager", "scheduler"):
        subprocess.run([str(Path(lab("bin")) / "kubeadm"), "init", "phase", "kubeconfig", conf,
                        "--config", str(tmp / "kubeadm.yaml"), "--kubeconfig-dir", str(etc)],
                       check=True, capture_output=True)
    (tmp / "kubeadm-chroot.yaml").write_text(cfg.replace(str(etc / "pki"), "/etc/kubernetes/pki"))
    return etc


@case
def pki_agrees_with_kubeadm():
    """On kubeadm's own PKI: every certificate kubeadm checks, with the same expiry and CA."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        etc = rootfs_with_lab_pki(tmp)
        p = subprocess.run([str(Path(lab("bin")) / "kubeadm"), "certs", "check-expiration",
                            "-o", "json", "--rootfs", str(tmp), "--config",
                            "/kubeadm-chroot.yaml"], capture_output=True, text=True)
        expect(p.returncode == 0, "kubeadm certs check-expiration -o json runs", p.stderr)
        oracle = [c for c in json.loads(p.stdout)["certificates"] + json.loads(p.stdout)[
            "certificateAuthorities"] if not c.get("missing")]
        expect(len(oracle) >= 12, f"kubeadm reports {len(oracle)} certificates", p.stdout)
        code, report, out = certs_json("pki", "--dir", str(etc / "pki"), "--kubeconfig-dir",
                                       str(etc))
        expect(report is not None, "kubectl certs pki -o json answers", out)
        ours = {c["details"].get("name"): c for c in report["checks"] if c.get("details")}
        for cert in oracle:
            mine = ours.get(cert["name"])
            expect(mine, f"{cert['name']} is reported", sorted(k for k in ours if k))
            expect(mine["details"]["notAfter"] == cert["expirationDate"],
                   f"{cert['name']}: expires {cert['expirationDate']} as kubeadm says",
                   mine["details"])
            if cert.get("caName"):
                expect(mine["details"].get("ca") == cert["caName"],
                       f"{cert['name']}: CA {cert['caName']} as kubeadm says", mine["details"])


# ---------------------------------------------------------------- secrets


def openssl_issue(tmp, name, cn, issuer=None, days=(-1, 365), ca=False, sans=(), rsa=False):
    """tmp/NAME.crt and tmp/NAME.key: self-signed when issuer is None, else signed by
    issuer=(crt, key) with `openssl ca`, which accepts past dates (`x509 -days` cannot)."""
    return issue(tmp / f"{name}.crt", tmp / f"{name}.key", f"/CN={cn}", issuer, days=days, ca=ca,
                 sans=sans, alg="rsa" if rsa else "ec", usage="serverAuth")


def secret_manifest(ns, name, data, type_="kubernetes.io/tls", labels=None, annotations=None):
    meta = {"namespace": ns, "name": name, "labels": labels or {},
            "annotations": annotations or {}}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": type_,
            "data": {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode()
                     for k, v in data.items()}}


def labkubectl(kubeconfig, *args, stdin=None):
    """The lab's own kubectl (no plugins involved) as `kubeconfig`'s user."""
    return sh([str(Path(lab("bin")) / "kubectl"), "--kubeconfig", kubeconfig, *args],
              stdin=stdin)


@contextlib.contextmanager
def lab_namespace(suffix, manifests=()):
    """A kpt-h2-* namespace holding `manifests` (applied in one kubectl call as a List),
    deleted on the way out."""
    admin = lab("kubeconfig", "admin")
    ns = f"kpt-h2-{suffix}-{os.getpid()}"
    code, out = labkubectl(admin, "create", "namespace", ns)
    expect(code == 0, f"namespace {ns} created", out)
    try:
        if manifests:
            items = [dict(m, metadata=dict(m["metadata"], namespace=ns)) for m in manifests]
            code, out = labkubectl(admin, "apply", "-f", "-", stdin=json.dumps(
                {"apiVersion": "v1", "kind": "List", "items": items}))
            expect(code == 0, f"{len(items)} secrets created with kubectl apply", out)
        yield ns, admin
    finally:
        drop_namespace(admin, ns)


def drop_namespace(admin, ns):
    """Deletes the namespace's secrets and the namespace, then finalizes it: the lab runs no
    kube-controller-manager, so nothing else would empty it and it would stay Terminating."""
    labkubectl(admin, "delete", "secrets", "--all", "-n", ns, "--wait=false")
    labkubectl(admin, "delete", "namespace", ns, "--wait=false")
    code, out = labkubectl(admin, "get", "namespace", ns, "-o", "json")
    try:
        spec = json.loads(out) if code == 0 else None
    except ValueError:
        spec = None
    if spec:
        spec["spec"]["finalizers"] = []
        labkubectl(admin, "replace", "--raw", f"/api/v1/namespaces/{ns}/finalize", "-f", "-",
                   stdin=json.dumps(spec))


def certs_secrets(*args):
    """kubectl certs secrets ARGS -o json through kubectl's plugin dispatch: (code, report,
    stdout + stderr)."""
    return certs_json("secrets", *args)


@case
def secrets_check_every_kind():
    """Healthy (made by openssl now), expired chain, garbage, Opaque bundle, mismatched key and
    cert-manager secrets in one namespace: each source's status, message and hint; openssl
    agrees on the healthy one; -A finds it, -l selects it alone, the context's namespace is the
    default, and no output ever holds the private key."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = openssl_issue(tmp, "root", "kpt-root", days=(0, 3650), ca=True)
        other = openssl_issue(tmp, "other", "kpt-other-root", days=(0, 3650), ca=True)
        healthy = openssl_issue(tmp, "healthy", "healthy.kpt.test", root, days=(-1, 200),
                                sans=["healthy.kpt.test"], rsa=True)
        inter = openssl_issue(tmp, "inter", "kpt-old-intermediate", root, days=(-400, -2),
                              ca=True)
        old = openssl_issue(tmp, "old", "old.kpt.test", inter, days=(-300, -5))
        stranger = openssl_issue(tmp, "stranger", "stranger", days=(0, 30))
        read = lambda p: Path(p).read_bytes()  # noqa: E731
        key_pem = read(healthy[1]).decode()
        secret_bytes = [key_pem.splitlines()[5],
                        base64.b64encode(read(healthy[1])).decode()[80:140],
                        read(stranger[1]).decode().splitlines()[1]]
        manifests = [
            secret_manifest("", "healthy", {"tls.crt": read(healthy[0]),
                                            "tls.key": read(healthy[1]),
                                            "ca.crt": read(root[0])},
                            labels={"kpt-h2": "selected"}),
            secret_manifest("", "expired", {"tls.crt": read(old[0]) + read(inter[0]),
                                            "tls.key": read(old[1]), "ca.crt": read(root[0])}),
            secret_manifest("", "garbage", {"tls.crt": "hello, I am not a certificate",
                                            "tls.key": "hunter2-not-a-key"}),
            secret_manifest("", "bundle", {"ca-bundle.pem": read(root[0]) + read(other[0]),
                                           "password": "hunter2-password"}, type_="Opaque"),
            secret_manifest("", "mismatch", {"tls.crt": read(healthy[0]),
                                             "tls.key": read(stranger[1])}),
            secret_manifest("", "managed", {"tls.crt": read(old[0]), "tls.key": read(old[1])},
                            annotations={"cert-manager.io/certificate-name": "web"}),
        ]
        with lab_namespace("secrets", manifests) as (ns, admin):
            before = int(time.time())
            code, report, out = certs_secrets("--kubeconfig", admin, "-n", ns)
            after = int(time.time())
            expect(code == 1 and report, "kubectl certs secrets -n NS -o json: exit 1 (fails)",
                   out)
            checks = by_source(report)
            mine = sorted(s for s in checks if s.startswith(f"secret/{ns}/"))
            base = f"secret/{ns}"
            expected = sorted([f"{base}/healthy#tls.crt", f"{base}/healthy#ca.crt",
                               f"{base}/expired#tls.crt[0]", f"{base}/expired#tls.crt[1]",
                               f"{base}/expired#ca.crt", f"{base}/garbage#tls.crt",
                               f"{base}/bundle#ca-bundle.pem[0]", f"{base}/bundle#ca-bundle.pem[1]",
                               f"{base}/mismatch#tls.crt", f"{base}/managed#tls.crt"])
            expect(mine == expected, "one check per certificate, none for keys or passwords",
                   mine)

            h = checks[f"{base}/healthy#tls.crt"]
            expect(h["status"] == "ok" and h["layer"] == "cert" and not h.get("hint"),
                   "healthy: ok", h)
            subject = openssl("x509", "-in", str(healthy[0]), "-noout", "-subject", "-nameopt",
                              "RFC2253").split("=", 1)[1].strip()
            not_after = rfc3339_from_openssl(openssl("x509", "-in", str(healthy[0]), "-noout",
                                                     "-enddate"))
            d = h["details"]
            # whole days left at the moment the tool read the clock, somewhere in [before, after]
            days_left = {(d["notAfterUnix"] - t) // 86400 for t in (before, after)}
            expect(d["subject"] == subject and d["notAfter"] == not_after,
                   f"healthy: subject {subject} and notAfter {not_after} as openssl says", d)
            expect(d["keyType"] == "RSA" and d["keyBits"] == 2048 and d["sans"] == [
                "healthy.kpt.test"] and d["privateKey"] == "tls.key" and
                d["verifiedAgainstCaCrt"] is True and d["daysLeft"] in days_left and
                d["notAfterUnix"] == int(datetime.strptime(not_after, "%Y-%m-%dT%H:%M:%SZ")
                                         .replace(tzinfo=timezone.utc).timestamp()),
                "healthy: key, SANs, paired with tls.key, verified against ca.crt", d)
            for field in ("issuer", "serial", "notBefore", "isCA", "signatureAlgorithm"):
                expect(field in d, f"healthy: details.{field}", d)

            e0, e1 = checks[f"{base}/expired#tls.crt[0]"], checks[f"{base}/expired#tls.crt[1]"]
            expect(e0["status"] == "fail" and e0["message"].startswith("expired 5 days ago")
                   and f"kubectl create secret tls expired --cert=tls.crt --key=tls.key -n {ns}"
                   in e0["hint"], "expired leaf: fail, with the kubectl create secret hint", e0)
            expect(e1["status"] == "fail" and e1["message"].startswith("expired 2 days ago")
                   and e1["details"]["isCA"], "expired intermediate: fail", e1)
            expect(checks[f"{base}/expired#ca.crt"]["status"] == "ok", "its root: ok")

            g = checks[f"{base}/garbage#tls.crt"]
            expect(g["status"] == "fail" and g["message"] ==
                   "tls.crt: not PEM or DER: 29 bytes of text" and g["hint"],
                   "garbage: fail, saying what the bytes were without quoting them", g)

            for i in (0, 1):
                b = checks[f"{base}/bundle#ca-bundle.pem[{i}]"]
                expect(b["status"] == "ok" and b["details"]["isCA"],
                       f"Opaque bundle member {i}: ok", b)

            m = checks[f"{base}/mismatch#tls.crt"]
            expect(m["status"] == "fail" and m["message"].startswith(
                "tls.key does not match tls.crt") and "put the key that belongs to tls.crt"
                in m["hint"], "mismatched key: fail", m)

            c = checks[f"{base}/managed#tls.crt"]
            expect(c["status"] == "fail" and c["hint"] ==
                   f"managed by cert-manager (Certificate web): cmctl renew web -n {ns}",
                   "cert-manager secret: the cmctl renew hint", c)

            code, report, out = certs_secrets("--kubeconfig", admin, "-n", ns, "-l",
                                              "kpt-h2=selected")
            expect(code == 0 and report and sorted(
                s for s in by_source(report) if "#" in s) == sorted(
                [f"{base}/healthy#tls.crt", f"{base}/healthy#ca.crt"]),
                "-l kpt-h2=selected: only the labelled secret, exit 0", out)

            code, report, out = certs_secrets("--kubeconfig", admin, "-A")
            found = by_source(report or {"checks": []})
            expect(code == 1 and found.get(f"{base}/healthy#tls.crt", {}).get("status") == "ok"
                   and f"{base}/garbage#tls.crt" in found, "-A finds them too", out[-2000:])

            kc = tmp / "kubeconfig"
            shutil.copy(admin, kc)
            code, out = labkubectl(str(kc), "config", "set-context", "--current",
                                   f"--namespace={ns}")
            expect(code == 0, "a kubeconfig whose context namespace is NS", out)
            code, report, out = certs_secrets("--kubeconfig", str(kc))
            expect(code == 1 and f"{base}/healthy#tls.crt" in by_source(report or {"checks": []}),
                   "without -n: the context's namespace, as kubectl", out)

            for fmt in ("text", "json", "yaml", "prometheus"):
                for verbosity in ("0", "10"):
                    code, out = kubectl("certs", "secrets", "--kubeconfig", admin, "-n", ns,
                                        "-o", fmt, "-v", verbosity)
                    expect(code == 1 and len(out) > 200, f"-o {fmt} -v {verbosity}: exit 1",
                           out)
                    leaked = [b for b in secret_bytes + ["hunter2", "PRIVATE KEY"] if b in out]
                    expect(not leaked, f"-o {fmt} -v {verbosity}: no key or secret bytes in "
                           "stdout or stderr", leaked)


@case
def secrets_forbidden_explains_rbac():
    """The limited user (a pod reader) may not list secrets: exit 1, and a check that says so
    and names `kubectl auth can-i list secrets`."""
    limited = lab("kubeconfig", "limited")
    code, report, out = certs_secrets("--kubeconfig", limited)
    expect(code == 1 and report, "kubectl certs secrets as the limited user: exit 1", out)
    check = report["checks"][-1]
    expect(check["status"] == "fail" and check["layer"] == "auth" and report["failedLayer"] ==
           "auth", "a failed auth check", check)
    expect("cannot list secrets in namespace \"default\"" in check["message"] and "forbidden"
           in check["message"], "the message says the list was forbidden", check)
    expect("kubectl auth can-i list secrets -n default" in check["hint"],
           "the hint names kubectl auth can-i", check)
    code, out = kubectl("certs", "secrets", "--kubeconfig", limited, "-A")
    expect(code == 1 and "kubectl auth can-i list secrets --all-namespaces" in out,
           "-A: the same, cluster-wide, in text", out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
