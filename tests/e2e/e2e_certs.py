#!/usr/bin/env python3
"""End-to-end tests of kubectl certs: the built binary through kubectl's plugin dispatch,
against kubeadm's own PKI and certificates made with the openssl CLI, with kubeadm and
openssl as oracles.

    e2e_certs.py CASE | --list
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import case, expect, lab, main, sh  # noqa: E402

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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
