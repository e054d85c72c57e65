#!/usr/bin/env python3
"""End-to-end tests of time and tokens against the lab's real kube-apiserver: this machine's
clock 800 days fast (libfaketime on the client process only) must be named as the cause, not a
certificate to renew; a ServiceAccount token that expired in 2023 (signed with the lab's own
service-account key, so only its date is wrong) and one made for another audience (kubectl
create token --audience) must be explained by their claims. kubectl, curl and openssl are the
oracles of what is true; the token never appears in apicheck's output.

    e2e_clock_token.py CASE | --list
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml  # Debian: python3-yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import ca_file, case, expect, lab, main, scenario  # noqa: E402

APICHECK = str(Path(os.environ.get("KP_BIN_DIR", ".")) / "kubectl-apicheck")
LAB_DIR = Path(os.environ.get("LAB_DIR", "/tmp/kplugins-lab"))
NAMESPACE = "default"
ACCOUNT = "kpe2e-clock"


def run(argv, env=None, timeout=120):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def faketime_lib():
    """Debian's libfaketime, the multi-threaded variant (libcurl's resolver and the HA layer use
    threads), wherever this architecture keeps it."""
    code, out, _ = run(["dpkg", "-L", "libfaketime"])
    libs = [line for line in out.splitlines() if line.endswith("/libfaketimeMT.so.1")]
    expect(code == 0 and libs, "libfaketime is installed (scripts/setup.sh: faketime)", out)
    return libs[0]


def asan_runtime(binary):
    """The ASan runtime a sanitized build links, which must come first in LD_PRELOAD; "" for a
    normal build."""
    code, out, _ = run(["ldd", binary])
    for line in out.splitlines():
        if "libasan" in line and "=>" in line:
            return line.split("=>")[1].split()[0]
    return ""


def faketime_env(offset, binary=APICHECK):
    """libfaketime for one process: its wall clock `offset` away, its monotonic clock real (so
    timeouts stay what they are)."""
    env = {"LD_PRELOAD": faketime_lib(), "FAKETIME": offset, "DONT_FAKE_MONOTONIC": "1"}
    asan = asan_runtime(binary)
    if asan:
        # ASan's runtime must be the first library; what libfaketime itself allocates and keeps
        # is not ours to report (errors in our code still are: no_sanitizer_report).
        env["LD_PRELOAD"] = f"{asan}:{env['LD_PRELOAD']}"
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


def no_sanitizer_report(out):
    expect("AddressSanitizer" not in out and "runtime error:" not in out
           and "LeakSanitizer" not in out, "no sanitizer report under libfaketime", out)


def apicheck(args, env=None):
    code, out, err = run([APICHECK, *args, "-o", "json"], env)
    try:
        return code, json.loads(out), out + err
    except ValueError:
        return code, None, out + err


def check(report, check_id):
    found = [c for c in (report or {"checks": []})["checks"] if c["id"] == check_id]
    return found[0] if found else None


def kubectl(*args):
    return run([str(Path(lab("bin")) / "kubectl"), "--kubeconfig", lab("kubeconfig", "admin"),
                *args])


def server_of(kubeconfig):
    return yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]["server"]


def token_kubeconfig(tmp, token):
    """The lab's admin kubeconfig with the user's credential replaced by `token`."""
    doc = yaml.safe_load(Path(lab("kubeconfig", "admin")).read_text())
    doc["users"][0]["user"] = {"token": token}
    path = Path(tmp) / "token.kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    os.chmod(path, 0o600)
    return str(path)


def kubectl_refused(kc):
    """The oracle: the lab's kubectl with this kubeconfig is refused by the server."""
    code, out, err = run([str(Path(lab("bin")) / "kubectl"), "--kubeconfig", kc,
                          "get", "--raw", "/version"])
    expect(code != 0 and "Unauthorized" in out + err,
           "kubectl (the oracle): the server refuses the token (Unauthorized)", out + err)


def no_secret(text, token):
    return token not in text and token.rsplit(".", 1)[1] not in text


@case
def clock_ahead():
    """This machine 800 days fast: openssl and curl under the same fake clock call the server's
    certificate expired, and it is valid by the real clock; apicheck fails tls with the clock as
    the cause, 800 days, and no renewal anywhere in the report."""
    with scenario("clock-ahead") as env:
        offset = dict(kv.split("=", 1) for kv in env["CLIENT_ENV"].split())["FAKETIME"]
        clock_ahead_in(env["KUBECONFIG"], offset)


def clock_ahead_in(kc, offset):
    server = server_of(kc)
    code, out, err = run(["openssl", "x509", "-noout", "-checkend", "0",
                          "-in", str(LAB_DIR / "pki" / "apiserver.crt")])
    expect(code == 0, "openssl (oracle): the serving certificate is valid by the real clock",
           out + err)
    code, out, err = run(["curl", "-sS", "--cacert", ca_file(), server + "/version"],
                         faketime_env(offset, shutil.which("curl")))
    expect(code == 60 and "expired" in err,
           "curl (oracle) under a clock 800 days fast: certificate has expired", err)
    code, report, out = apicheck(["--kubeconfig", kc], faketime_env(offset))
    no_sanitizer_report(out)
    expect(code == 1 and report and report["failedLayer"] == "tls", "apicheck: exit 1, tls", out)
    verify = check(report, "tls.verify")
    expect(verify["status"] == "fail" and verify["details"].get("validByServerClock") is True,
           "tls.verify fails and says the chain is valid by the server's clock", out)
    expect(verify["hint"].startswith("this machine's clock is 800 days ahead of the server's"),
           "the hint blames this machine's clock by 800 days", out)
    clock = check(report, "tls.clock")
    expect(clock and clock["status"] == "fail"
           and abs(clock["details"]["skewSeconds"] - 800 * 86400) < 600,
           "tls.clock fails with the skew the server's Date shows", out)
    expect(not any(fix in out for fix in ("certs renew", "issue a new", "re-issue")),
           "no renewal or re-issue is proposed anywhere", out)
    expect(check(report, "auth.whoami")["status"] == "skip",
           "nothing authenticated was sent to a server that failed verification", out)
    code, report, out = apicheck(["--kubeconfig", kc])
    expect(code == 0 and check(report, "tls.clock")["status"] == "ok",
           "with the real clock the same run is healthy", out)


@case
def clock_behind_client_cert():
    """This machine 2 years behind: the admin client certificate and the serving certificate
    are not valid yet by this clock (openssl under the same clock agrees), while kubectl with
    the real clock is accepted with that very certificate; apicheck fails tls, fails tls.clock
    and blames the clock on both certificates, never a re-issue."""
    kc = lab("kubeconfig", "admin")
    offset = "-730d"
    doc = yaml.safe_load(Path(kc).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        crt = Path(tmp) / "client.crt"
        crt.write_bytes(base64.b64decode(doc["users"][0]["user"]["client-certificate-data"]))
        code, out, err = run(["openssl", "verify", "-CAfile", ca_file(), str(crt)],
                             faketime_env(offset, shutil.which("openssl")))
        expect(code != 0 and "not yet valid" in out + err,
               "openssl (oracle) under the same clock: the client certificate is not yet valid",
               out + err)
    code, out, err = run([str(Path(lab("bin")) / "kubectl"), "--kubeconfig", kc,
                          "get", "--raw", "/version"])
    expect(code == 0, "kubectl (oracle) with the real clock: the same certificates work", out + err)
    code, report, out = apicheck(["--kubeconfig", kc], faketime_env(offset))
    no_sanitizer_report(out)
    expect(code == 1 and report and report["failedLayer"] == "tls", "apicheck: exit 1, tls", out)
    clock = check(report, "tls.clock")
    expect(clock and clock["status"] == "fail"
           and abs(clock["details"]["skewSeconds"] + 730 * 86400) < 600,
           "tls.clock fails with the skew the server's Date shows", out)
    cert = check(report, "config.client-cert")
    expect(cert and cert["status"] == "warn" and "not valid before" in cert["message"],
           "config.client-cert: not valid yet by this clock", out)
    expect("this machine's clock is 730 days behind the server's" in cert["hint"],
           "its hint blames the clock (the server's Date came over the anonymous request)", out)
    verify = check(report, "tls.verify")
    expect(verify["status"] == "fail" and "730 days behind" in verify["hint"],
           "tls.verify blames the same clock", out)
    expect(not any(fix in out for fix in ("certs renew", "re-issue", "issue it again")),
           "no renewal or re-issue is proposed", out)


@case
def expired_serviceaccount_token():
    """The lab's auth-expired-sa-token: a ServiceAccount token signed by the lab's own key that
    expired in 2023 (its selftest proves the claims and the signature with openssl): kubectl
    (the oracle) gets Unauthorized; apicheck fails config.token before any request, naming the
    subject and the expiry, and explains the 401 with it."""
    with scenario("auth-expired-sa-token") as env:
        kc = env["KUBECONFIG"]
        token = yaml.safe_load(Path(kc).read_text())["users"][0]["user"]["token"]
        namespace, account = env["SERVICEACCOUNT"].split("/")
        kubectl_refused(kc)
        code, report, out = apicheck(["--kubeconfig", kc])
        expect(code == 1 and report and report["failedLayer"] == "config",
               "apicheck: exit 1, config fails first", out)
        tok = check(report, "config.token")
        expect(tok["status"] == "fail"
               and f"ServiceAccount token for system:serviceaccount:{namespace}:{account}"
               in tok["message"] and "expired 2023-11-14T22:13:20Z" in tok["message"],
               "config.token names the subject and the expiry", out)
        expect(tok["hint"].startswith(f"get a new token: kubectl create token {account} -n "
                                      f"{namespace}"), "the fix is a new token for it", out)
        whoami = check(report, "auth.whoami")
        expect(whoami["status"] == "fail" and "401" in whoami["message"]
               and "expired 2023-11-14T22:13:20Z" in whoami["message"],
               "auth.whoami: the 401 explained by the expiry", out)
        expect("unknown, expired or revoked" not in out, "not the vague hint", out)
        expect(no_secret(out, token), "the token is not printed", out)


@case
def token_for_another_audience():
    """kubectl create token --audience vault: a real, current token the API server refuses
    (kubectl, the oracle: Unauthorized); apicheck's config.token is ok and the 401 names the
    audience as the cause."""
    kubectl("create", "serviceaccount", ACCOUNT, "-n", NAMESPACE)
    try:
        code, token, err = kubectl("create", "token", ACCOUNT, "-n", NAMESPACE,
                                   "--audience", "vault", "--duration", "10m")
        token = token.strip()
        expect(code == 0 and token.count(".") == 2, "kubectl create token --audience vault", err)
        with tempfile.TemporaryDirectory() as tmp:
            kc = token_kubeconfig(tmp, token)
            kubectl_refused(kc)
            code, report, out = apicheck(["--kubeconfig", kc])
            tok = check(report, "config.token")
            expect(tok["status"] == "ok" and "expires" in tok["message"],
                   "config.token: a current token", out)
            whoami = check(report, "auth.whoami")
            expect(code == 1 and whoami["status"] == "fail"
                   and "the token is for audience vault" in whoami["hint"],
                   "auth.whoami: the 401 is the audience", out)
            expect(no_secret(out, token), "the token is not printed", out)
        # The same account's token for the API server is accepted: the audience was the cause.
        code, good, err = kubectl("create", "token", ACCOUNT, "-n", NAMESPACE, "--duration", "10m")
        with tempfile.TemporaryDirectory() as tmp:
            code, report, out = apicheck(["--kubeconfig", token_kubeconfig(tmp, good.strip())])
            expect(code == 0 and check(report, "auth.whoami")["status"] == "ok"
                   and f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
                   in check(report, "auth.whoami")["message"],
                   "without --audience the same account authenticates", out)
    finally:
        kubectl("delete", "serviceaccount", ACCOUNT, "-n", NAMESPACE, "--ignore-not-found")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
