#!/usr/bin/env python3
"""Self-tests of the lab: each kubeconfig works and each scenario is broken exactly as intended,
proven with the tools people use today (kubectl, curl, openssl, dig, getent) as oracles.

    selftest.py CASE     run one case (CTest runs each as its own test)
    selftest.py --list   list the cases

The lab must be up (`lab up`); a scenario case sets its scenario up and always takes it down.
"""

import base64
import json
import sys
import tempfile
import time
from pathlib import Path

from labtest import (HERE, case, ca_file, expect, kubectl, lab, main, scenario, sh)

# ---------------------------------------------------------------- the healthy lab

@case
def readyz_verbose():
    code, out = kubectl(lab("kubeconfig", "admin"), "get", "--raw", "/readyz?verbose")
    expect(code == 0, "kubectl get --raw /readyz?verbose succeeds", out)
    checks = [l for l in out.splitlines() if l.startswith("[")]
    expect(len(checks) > 10 and all(l.startswith("[+]") for l in checks),
           f"all {len(checks)} readyz checks pass", out)
    expect("readyz check passed" in out, "the last line says readyz check passed", out)


@case
def version_stamped():
    code, out = kubectl(lab("kubeconfig", "admin"), "get", "--raw", "/version")
    version = json.loads(out)["gitVersion"] if code == 0 else ""
    pinned = (HERE / "versions.env").read_text().split("K8S_VERSION=")[1].split()[0]
    expect(version == pinned, f"/version says the pinned {pinned}", out)


@case
def kwok_nodes():
    code, out = kubectl(lab("kubeconfig", "admin"), "get", "nodes", "-o", "json")
    nodes = {n["metadata"]["name"]: n for n in json.loads(out)["items"]} if code == 0 else {}
    expect(sorted(nodes) == ["kwok-node-0", "kwok-node-1", "kwok-node-2"],
           "kubectl get nodes lists the three kwok nodes", out[:2000])
    for name, n in nodes.items():
        ready = [c for c in n["status"]["conditions"] if c["type"] == "Ready"]
        expect(ready and ready[0]["status"] == "True", f"{name} is Ready")


@case
def kubernetes_endpointslice():
    code, out = kubectl(lab("kubeconfig", "admin"), "get", "endpointslices", "-n", "default",
                        "-l", "kubernetes.io/service-name=kubernetes", "-o", "json")
    addrs = [a for s in json.loads(out)["items"] for e in s["endpoints"]
             for a in e["addresses"]] if code == 0 else []
    expect(addrs == ["198.18.0.2"], "the kubernetes EndpointSlice holds the advertise address",
           out[:2000])


@case
def kwok_pod_exec_logs():
    kc = lab("kubeconfig", "admin")
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "lab-selftest", "namespace": "default"},
           "spec": {"nodeName": "kwok-node-1",
                    "containers": [{"name": "c", "image": "registry.invalid/none:1"}]}}
    kubectl(kc, "delete", "pod", "lab-selftest", "--ignore-not-found", "--wait=false")
    code, out = sh([str(Path(lab("bin")) / "kubectl"), "--kubeconfig", kc, "apply", "-f", "-"],
                   stdin=json.dumps(pod))
    expect(code == 0, "a pod pinned to a kwok node is created", out)
    try:
        code, out = kubectl(kc, "wait", "pod/lab-selftest", "--for=jsonpath={.status.phase}=Running",
                            "--timeout=60s")
        expect(code == 0, "kwok marks the pod Running", out)
        code, out = kubectl(kc, "exec", "lab-selftest", "--", "sh", "-c", "echo from-$((6*7))")
        expect(code == 0 and "from-42" in out, "kubectl exec runs the command through kwok", out)
        code, out = kubectl(kc, "logs", "lab-selftest")
        expect(code == 0 and "kwok serves this file" in out, "kubectl logs serves kwok's file",
               out)
    finally:
        kubectl(kc, "delete", "pod", "lab-selftest", "--grace-period=0", "--force")


def whoami(kind):
    code, out = kubectl(lab("kubeconfig", kind), "auth", "whoami", "-o", "json")
    expect(code == 0, f"kubectl auth whoami works with the {kind} kubeconfig", out)
    return json.loads(out)["status"]["userInfo"]


@case
def kubeconfig_admin():
    user = whoami("admin")
    expect(user["username"] == "kubernetes-admin", "admin is the kubeadm client certificate",
           user)
    code, out = kubectl(lab("kubeconfig", "admin"), "auth", "can-i", "*", "*")
    expect(out.strip() == "yes", "admin may do anything", out)


@case
def kubeconfig_limited():
    kc = lab("kubeconfig", "limited")
    expect(whoami("limited")["username"] == "limited", "limited is the limited token user")
    code, out = kubectl(kc, "get", "pods")
    expect(code == 0, "limited can list pods", out)
    for resource in ("secrets", "nodes"):
        code, out = kubectl(kc, "get", resource)
        expect(code != 0 and "Forbidden" in out, f"limited cannot list {resource}", out)


@case
def kubeconfig_token():
    expect(whoami("token")["username"] == "lab-token", "token is the static token user")


@case
def kubeconfig_exec():
    kc = lab("kubeconfig", "exec")
    expect("client.authentication.k8s.io/v1" in Path(kc).read_text(),
           "the exec kubeconfig uses apiVersion client.authentication.k8s.io/v1")
    expect(whoami("exec")["username"] == "lab-exec", "the exec plugin's token is lab-exec")


@case
def kubeconfig_relative():
    kc = lab("kubeconfig", "relative")
    text = Path(kc).read_text()
    expect('"certs/ca.crt"' in text and '"certs/admin.key"' in text,
           "the relative kubeconfig names its files by relative paths", text)
    code, out = sh([str(Path(lab("bin")) / "kubectl"), "--kubeconfig", kc, "auth", "whoami"],
                   env={"HOME": "/nonexistent"})
    expect(code == 0 and "lab-relative-admin" in out,
           "kubectl resolves them against the kubeconfig's directory", out)


# ---------------------------------------------------------------- scenarios

@case
def dns_nxdomain():
    with scenario("dns-nxdomain") as env:
        ns = env["NETNS"]
        code, out = sh(["dig", "+time=1", "+tries=1", "missing.lab.test"], netns=ns)
        expect("status: NXDOMAIN" in out, "dig (the namespace's resolver) answers NXDOMAIN", out)
        code, out = sh(["getent", "hosts", "missing.lab.test"], netns=ns)
        expect(code != 0, "getent cannot resolve missing.lab.test", out)
        code, out = sh(["dig", "+short", "api.lab.test"], netns=ns)
        expect(out.strip() == "198.18.0.2", "the same resolver knows api.lab.test", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version", netns=ns)
        expect(code != 0 and "no such host" in out, "kubectl fails with no such host", out)


@case
def hosts_override():
    with scenario("hosts-override") as env:
        ns = env["NETNS"]
        code, out = sh(["getent", "hosts", "api.lab.test"], netns=ns)
        expect(out.split()[:1] == ["198.18.0.99"], "getent (hosts file) gives 198.18.0.99", out)
        code, out = sh(["dig", "+short", "api.lab.test"], netns=ns)
        expect(out.strip() == "198.18.0.2", "DNS itself says 198.18.0.2", out)
        code, out = sh(["curl", "-v", "--cacert", ca_file(), "https://api.lab.test:6443/version"],
                       netns=ns)
        expect(code == 7 and "198.18.0.99" in out, "curl dials 198.18.0.99 and is refused", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version", netns=ns)
        expect(code != 0 and "api.lab.test:6443 was refused" in out, "kubectl is refused", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version",
                            "--server", "https://198.18.0.2:6443", netns=ns)
        expect(code == 0, "the address DNS gives serves the API", out)


@case
def tcp_refused():
    with scenario("tcp-refused") as env:
        ns = env["NETNS"]
        code, out = sh(["curl", "-sS", "--max-time", "3", "https://198.18.0.21:6443/"], netns=ns)
        expect(code == 7 and "Couldn't connect" in out, "curl: could not connect (exit 7)", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version", netns=ns)
        expect(code != 0 and "198.18.0.21:6443 was refused" in out, "kubectl: refused", out)


@case
def tcp_syn_drop():
    with scenario("tcp-syn-drop") as env:
        ns = env["NETNS"]
        t0 = time.monotonic()
        code, out = sh(["curl", "-sS", "--connect-timeout", "2", "https://198.18.0.22:6443/"],
                       netns=ns)
        took = time.monotonic() - t0
        expect(code == 28 and took >= 1.9, f"curl times out connecting (exit 28, {took:.1f}s)",
               out)
        code, out = sh(["iptables", "-L", "INPUT", "-v", "-n", "-x"], netns="kpl-lab")
        drops = [l for l in out.splitlines() if "198.18.0.22" in l and "DROP" in l]
        expect(drops and int(drops[0].split()[0]) > 0, "the DROP rule counted the SYNs", out)
        t0 = time.monotonic()
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version",
                            "--request-timeout=3s", netns=ns)
        took = time.monotonic() - t0
        # client-go words it "context deadline exceeded" or "Client.Timeout exceeded".
        expect(code != 0 and "exceeded" in out and 2.9 < took < 10,
               f"kubectl gives up at its 3s deadline ({took:.1f}s)", out)


# A TLS handshake with the API server from the scenario's namespace, its TCP segments clamped
# to MSS bytes when given: prints "ok", or the exception.
TLS_WITH_MSS = """
import socket, ssl, sys
s = socket.socket()
if int(sys.argv[3]):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, int(sys.argv[3]))
s.settimeout(3)
s.connect((sys.argv[1], 6443))
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
try:
    ctx.wrap_socket(s).close()
    print("ok")
except Exception as e:
    print(type(e).__name__, e)
"""


@case
def tcp_mtu_blackhole():
    with scenario("tcp-mtu-blackhole") as env:
        ns = env["NETNS"]
        code, out = sh(["python3", "-c", TLS_WITH_MSS, "198.18.0.2", ca_file(), "0"], netns=ns)
        expect("timed out" in out, "a full-size TLS handshake stalls (python ssl)", out)
        code, out = sh(["python3", "-c", TLS_WITH_MSS, "198.18.0.2", ca_file(), "536"], netns=ns)
        expect(out.strip() == "ok", "with 536-byte segments it completes (python ssl)", out)
        code, out = sh(["curl", "-sS", "-m", "3", "--cacert", ca_file(),
                        "https://198.18.0.2:6443/version"], netns=ns)
        expect(code == 28, "curl times out in the handshake", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version",
                            "--request-timeout", "3s", netns=ns)
        expect(code != 0 and ("TLS handshake timeout" in out or "exceeded" in out),
               "kubectl: TLS handshake timeout", out)


def tls_oracle(name, addr, openssl_error, kubectl_error, verify_ip=False):
    with scenario(name) as env:
        ns = env["NETNS"]
        argv = ["openssl", "s_client", "-connect", f"{addr}:6443", "-CAfile", ca_file(),
                "-verify_return_error", "-brief"]
        if verify_ip:
            argv += ["-verify_ip", addr]
        code, out = sh(argv, netns=ns, stdin="")
        expect(code != 0 and openssl_error in out, f"openssl s_client: {openssl_error}", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version", netns=ns)
        expect(code != 0 and kubectl_error in out, f"kubectl: {kubectl_error}", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version",
                            "--insecure-skip-tls-verify", netns=ns)
        expect(code == 0 and '"gitVersion"' in out,
               "with verification off the real API server answers behind it", out)


@case
def tls_expired():
    tls_oracle("tls-expired", "198.18.0.30", "certificate has expired",
               "x509: certificate has expired or is not yet valid")


@case
def tls_not_yet_valid():
    tls_oracle("tls-not-yet-valid", "198.18.0.31", "certificate is not yet valid",
               "x509: certificate has expired or is not yet valid")


@case
def tls_san_mismatch():
    tls_oracle("tls-san-mismatch", "198.18.0.32", "IP address mismatch",
               "x509: cannot validate certificate for 198.18.0.32 because it doesn't contain any "
               "IP SANs", verify_ip=True)


@case
def tls_unknown_ca():
    tls_oracle("tls-unknown-ca", "198.18.0.33", "unable to get local issuer certificate",
               "x509: certificate signed by unknown authority")


@case
def tls_incomplete_chain():
    tls_oracle("tls-incomplete-chain", "198.18.0.34", "unable to get local issuer certificate",
               "x509: certificate signed by unknown authority")
    with scenario("tls-incomplete-chain") as env:
        # With the intermediate added to the trusted bundle, curl and openssl verify: the
        # chain was incomplete, the CA right.
        bundle = Path(env["INTERMEDIATE"]).parent / "bundle.crt"
        bundle.write_text(Path(ca_file()).read_text() + Path(env["INTERMEDIATE"]).read_text())
        code, out = sh(["curl", "-sS", "--cacert", str(bundle), "-o", "/dev/null", "-w",
                        "%{http_code}", "https://198.18.0.34:6443/version"], netns=env["NETNS"])
        expect(code == 0 and out.strip() in ("200", "401", "403"),
               "curl verifies with the intermediate added to the bundle", out)
        # The server sends one certificate and names the cluster CA for client certificates.
        code, out = sh(["openssl", "s_client", "-connect", "198.18.0.34:6443", "-showcerts"],
                       netns=env["NETNS"], stdin="")
        expect(out.count("-----BEGIN CERTIFICATE-----") == 1,
               "openssl s_client -showcerts: the server sends its certificate alone", out)
        code, subject = sh(["openssl", "x509", "-noout", "-subject", "-in", ca_file()])
        ca_name = subject.strip().removeprefix("subject=")
        names = out.split("Acceptable client certificate CA names", 1)[-1]
        expect("Acceptable client certificate CA names" in out and ca_name in names,
               f"openssl: the server accepts client certificates from {ca_name}", out)


@case
def auth_client_cert_expired():
    with scenario("auth-client-cert-expired") as env:
        ns = env["NETNS"]
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/api", netns=ns)
        expect(code != 0 and "Unauthorized" in out, "kubectl: Unauthorized", out)
        code, out = kubectl(env["KUBECONFIG"], "config", "view", "--raw", "-o",
                            "jsonpath={.users[0].user.client-certificate-data}")
        pem = base64.b64decode(out)
        code, out = sh(["openssl", "x509", "-noout", "-checkend", "0"], stdin=pem.decode())
        expect(code != 0 and "will expire" in out, "openssl: the client certificate expired", out)
        code, out = sh(["curl", "-sS", "--cacert", ca_file(), "https://198.18.0.2:6443/readyz"],
                       netns=ns)
        expect(out.strip() == "ok", "the server itself is healthy", out)


@case
def auth_bad_token():
    with scenario("auth-bad-token") as env:
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/api", netns=env["NETNS"])
        expect(code != 0 and "Unauthorized" in out, "kubectl: Unauthorized", out)
        code, out = sh(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                        ca_file(), "-H", "Authorization: Bearer lab-wrong-token-0123456789abcdef",
                        "https://198.18.0.2:6443/api"], netns=env["NETNS"])
        expect(out == "401", "curl with the same token gets 401", out)


@case
def auth_forbidden():
    with scenario("auth-forbidden") as env:
        code, out = kubectl(env["KUBECONFIG"], "get", "pods", netns=env["NETNS"])
        expect(code != 0 and "Forbidden" in out and "cannot impersonate" in out,
               "kubectl: Forbidden, cannot impersonate", out)
        code, tok = kubectl(env["KUBECONFIG"], "config", "view", "--raw", "-o",
                            "jsonpath={.users[0].user.token}")
        code, out = sh(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                        ca_file(), "-H", f"Authorization: Bearer {tok}",
                        "https://198.18.0.2:6443/api/v1/namespaces/default/pods"],
                       netns=env["NETNS"])
        expect(out == "200", "the same token without impersonation may list pods", out)


@case
def auth_expired_sa_token():
    with scenario("auth-expired-sa-token") as env:
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version", netns=env["NETNS"])
        expect(code != 0 and "Unauthorized" in out, "kubectl: Unauthorized", out)
        code, tok = kubectl(env["KUBECONFIG"], "config", "view", "--raw", "-o",
                            "jsonpath={.users[0].user.token}")
        payload = tok.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        ns, name = env["SERVICEACCOUNT"].split("/")
        expect(claims["exp"] == int(env["EXPIRED_AT"]) < time.time()
               and claims["sub"] == f"system:serviceaccount:{ns}:{name}",
               "the token's own claims: that account's, expired 2023-11-14", claims)
        code, pub = sh(["openssl", "pkey", "-in", str(Path(ca_file()).parent / "sa.key"),
                        "-pubout"])
        head_body, signature = tok.rsplit(".", 1)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "pub").write_text(pub)
            (Path(tmp) / "sig").write_bytes(
                base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
            code, out = sh(["openssl", "dgst", "-sha256", "-verify", f"{tmp}/pub", "-signature",
                            f"{tmp}/sig"], stdin=head_body)
        expect(code == 0 and "Verified OK" in out,
               "openssl: the lab's service-account key signed it (only the date is wrong)", out)


@case
def clock_ahead():
    with scenario("clock-ahead") as env:
        ns, fake = env["NETNS"], dict(kv.split("=", 1) for kv in env["CLIENT_ENV"].split())
        code, out = sh(["openssl", "x509", "-noout", "-checkend", "0", "-in",
                        str(Path(ca_file()).parent / "apiserver.crt")])
        expect(code == 0, "openssl: the serving certificate is valid by the real clock", out)
        code, out = sh(["curl", "-sS", "--cacert", ca_file(), "https://198.18.0.2:6443/version"],
                       netns=ns, env=fake)
        expect(code == 60 and "expired" in out,
               "curl with CLIENT_ENV: certificate has expired", out)
        code, out = sh(["openssl", "s_client", "-connect", "198.18.0.2:6443", "-CAfile",
                        ca_file(), "-verify_return_error", "-brief"], netns=ns, env=fake, stdin="")
        expect(code != 0 and "certificate has expired" in out,
               "openssl s_client with CLIENT_ENV: certificate has expired", out)
        # kubectl is Go, which reads the clock without libc, so libfaketime cannot move it:
        # what it would say at that time is what Go's verifier says, as openssl -attime does.
        code, out = sh(["openssl", "verify", "-attime", str(int(time.time()) + 800 * 86400),
                        "-CAfile", ca_file(), str(Path(ca_file()).parent / "apiserver.crt")])
        expect(code != 0 and "certificate has expired" in out,
               "openssl verify -attime (800 days on): the chain has expired then", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version", netns=ns)
        expect(code == 0 and '"gitVersion"' in out, "kubectl with the real clock: fine", out)


@case
def health_readyz_failing():
    with scenario("health-readyz-failing") as env:
        ns = env["NETNS"]
        code, out = sh(["curl", "-sS", "--cacert", ca_file(), "-w", "\n%{http_code}",
                        "https://198.18.0.40:6443/readyz?verbose"], netns=ns)
        expect(out.strip().endswith("500") and "[-]etcd failed" in out,
               "curl /readyz?verbose: 500 naming [-]etcd", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/livez/ping", netns=ns)
        expect(out.strip() == "ok", "the server is alive (/livez/ping ok)", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/readyz", netns=ns)
        expect(code != 0, "kubectl get --raw /readyz fails", out)


def show_stat(sock):
    """HAProxy's `show stat` through its socket with socat: (backend server -> its row by
    column name, the raw CSV)."""
    code, out = sh(["socat", "-T", "2", "stdio", f"unix-connect:{sock}"], stdin="show stat\n")
    lines = out.splitlines()
    head = lines[0][2:].split(",") if lines and lines[0].startswith("# ") else []
    rows = [dict(zip(head, line.split(","))) for line in lines[1:] if line.startswith("be,")]
    return {r["svname"]: r for r in rows}, out


@case
def ha_haproxy():
    with scenario("ha-haproxy") as env:
        ns = env["NETNS"]
        rows, out = show_stat(env["HAPROXY_STATS"])
        status = {name: r["status"] for name, r in rows.items()}
        expect(status.get("api1") == "UP" and status.get("api2", "").startswith("DOWN")
               and status.get("api3", "").startswith("DOWN"),
               "HAProxy show stat: api1 UP, api2 DOWN, api3 DOWN", out)
        backends = env["ENDPOINTS"].split(",")
        expect(len(backends) == 3, "three backends listed", env)
        results = []
        for b in backends:
            # An API server without etcd takes seconds to answer /readyz: a generous deadline.
            code, out = sh(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                            "20", "--cacert", ca_file(), f"https://{b}/readyz"], netns=ns)
            results.append(out)
        expect(results == ["200", "000", "500"], "backends: ready, dead, unready", results)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/readyz", netns=ns)
        expect(code == 0 and out.strip() == "ok", "through the load balancer the API answers",
               out)


@case
def ha_tcp_check():
    with scenario("ha-tcp-check") as env:
        ns = env["NETNS"]
        rows, out = show_stat(env["HAPROXY_STATS"])
        stuck = rows.get("stuck", {})
        expect(stuck.get("status") == "UP" and stuck.get("check_status") == "L4OK",
               "HAProxy's show stat: the stuck server is UP by a layer-4 check (L4OK)", out)
        code, out = sh(["curl", "-sS", "-m", "10", env["HAPROXY_STATS_URL"] + ";csv"], netns=ns)
        expect(code == 0 and "\nbe,stuck," in out, "curl reads the same CSV from the stats page",
               out)
        code, out = sh(["curl", "-sS", "-k", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}",
                        "https://198.18.0.56:6443/readyz"], netns=ns)
        expect(out.startswith("000") and code == 28,
               "curl to the stuck backend: connected, then nothing within 2 s (exit 28)", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/readyz", netns=ns)
        expect(code == 0 and out.strip() == "ok",
               "kubectl get --raw /readyz through HAProxy: ok (balance first)", out)


@case
def ha_split_cert():
    with scenario("ha-split-cert") as env:
        ns = env["NETNS"]
        seen = []
        for _ in range(4):
            code, out = sh(["openssl", "s_client", "-connect", "198.18.0.52:6443", "-CAfile",
                            ca_file(), "-verify_return_error", "-brief"], netns=ns, stdin="")
            seen.append("ok" if code == 0 and "Verification: OK" in out
                        else "expired" if "certificate has expired" in out else out)
        expect(seen == ["ok", "expired", "ok", "expired"],
               "openssl s_client through the balancer: valid, expired, valid, expired", seen)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/readyz", netns=ns)
        expect(code == 0 and out.strip() == "ok",
               "kubectl's one connection (the valid backend) answers", out)


@case
def proxy_dead():
    with scenario("proxy-dead") as env:
        ns = env["NETNS"]
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version", "-v=6", netns=ns,
                            env={"HTTPS_PROXY": env["HTTPS_PROXY"]})
        expect(code != 0 and "proxyconnect tcp: dial tcp 198.18.0.60:3128: connect: connection"
               " refused" in out, "kubectl with HTTPS_PROXY: proxyconnect ... refused", out)
        code, out = sh(["curl", "-sS", "--cacert", ca_file(), "https://198.18.0.2:6443/version"],
                       netns=ns, env={"HTTPS_PROXY": env["HTTPS_PROXY"]})
        expect(code == 7 and "198.18.0.60 port 3128" in out, "curl: the proxy refuses", out)
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/version", netns=ns)
        expect(code == 0, "without the proxy the API answers", out)


@case
def exec_missing():
    with scenario("exec-missing") as env:
        code, out = kubectl(env["KUBECONFIG"], "get", "--raw", "/api", netns=env["NETNS"])
        expect(code != 0 and "executable kplab-missing-credential-plugin not found" in out,
               "kubectl: exec: executable ... not found", out)
        expect("it does not exist in the lab" in out, "kubectl shows the installHint", out)


@case
def up_down_idempotent():
    """`up` on a running lab keeps it; a scenario set up twice works; `--down` twice works."""
    lab("up")
    lab("scenario", "tcp-refused")
    lab("scenario", "tcp-refused")
    lab("scenario", "tcp-refused", "--down")
    lab("scenario", "tcp-refused", "--down")
    code, out = sh(["ip", "netns", "list"])
    expect("kpl-tcp-refused" not in out, "the scenario's namespace is gone", out)
    expect(not Path("/etc/netns/kpl-tcp-refused").exists(), "its /etc/netns folder is gone")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
