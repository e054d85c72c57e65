#!/usr/bin/env python3
"""End-to-end tests: the built binaries, run as a user runs them (through kubectl's plugin
dispatch), against the lab's real API server and its fault scenarios.

    e2e.py CASE     run one case (CTest runs each as its own test)
    e2e.py --list   list the cases

KP_BIN_DIR names the folder with kubectl-apicheck, kubectl-certs and kubectl-netdebug;
KP_VERSION the version they must report. The lab must be up.
"""

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import CASES, case, expect, lab, lab_module, main, scenario, sh  # noqa: E402
from servers import Server  # noqa: E402

PLUGINS = ("apicheck", "certs", "netdebug")


def user_path():
    """PATH as after an install: our binaries and the lab's kubectl first."""
    return f"{os.environ['KP_BIN_DIR']}:{lab('bin')}:{os.environ['PATH']}"


def kubectl(*args, netns=None, env=None):
    """kubectl, found on PATH like a user's, with our plugins beside it."""
    return sh(["kubectl", *args], netns=netns, env={"PATH": user_path(), **(env or {})})


def kubeconfig_token(path):
    """The token of a kubeconfig's first user, as kubectl reads it."""
    code, out = kubectl("--kubeconfig", path, "config", "view", "--raw", "-o",
                        "jsonpath={.users[0].user.token}")
    return out.strip()


def apicheck_json(*args, netns=None):
    code, out = kubectl("apicheck", "-o", "json", *args, netns=netns)
    try:
        return code, json.loads(out), out
    except ValueError:
        return code, None, out


@case
def dispatch_every_kubeconfig():
    """`kubectl apicheck` with each lab kubeconfig: verdict ok, exit 0, the server's version."""
    code, out = kubectl("--kubeconfig", lab("kubeconfig", "admin"), "version", "-o", "json")
    server_version = json.loads(out)["serverVersion"]["gitVersion"]
    for kind in ("admin", "limited", "token", "exec", "relative"):
        code, report, out = apicheck_json("--kubeconfig", lab("kubeconfig", kind))
        expect(code == 0 and report and report["verdict"] == "ok",
               f"kubectl apicheck -o json: verdict ok with the {kind} kubeconfig", out)
        version = [c for c in report["checks"] if c["id"] == "health.version"]
        expect(version and version[0]["details"]["gitVersion"] == server_version,
               f"it reports the server version kubectl sees ({server_version})", out)


@case
def dispatch_text_output():
    code, out = kubectl("apicheck", "--kubeconfig", lab("kubeconfig", "admin"))
    lines = out.strip().splitlines()
    expect(code == 0 and lines[-1] == "verdict: ok", "text output ends with the verdict", out)
    expect("\x1b[" not in out, "no colour when stdout is not a terminal", out)


@case
def dispatch_help_and_version():
    for plugin in PLUGINS:
        code, out = kubectl(plugin, "--help")
        expect(code == 0 and f"kubectl {plugin}" in out,
               f"kubectl {plugin} --help names the command as kubectl {plugin}", out)
        code, out = sh([f"{os.environ['KP_BIN_DIR']}/kubectl-{plugin}", "--help"])
        expect(code == 0 and f"kubectl-{plugin}" in out and f"kubectl {plugin}" not in out,
               f"kubectl-{plugin} --help, run directly, says kubectl-{plugin}", out)
        code, out = kubectl(plugin, "--version")
        expect(code == 0 and os.environ["KP_VERSION"] in out,
               f"kubectl {plugin} --version prints {os.environ['KP_VERSION']}", out)


@case
def plugin_list():
    code, out = kubectl("plugin", "list")
    for plugin in PLUGINS:
        expect(f"/kubectl-{plugin}\n" in out + "\n", f"kubectl plugin list shows kubectl-{plugin}",
               out)
    expect("warning" not in out.lower(), "kubectl plugin list gives no warning", out)


# ------------------------------------------------------------------ every scenario

def checks_by_id(report):
    out = {}
    for c in report["checks"]:
        out.setdefault(c["id"], []).append(c)
    return out


def failing(report):
    return [c for c in report["checks"] if c["status"] == "fail"]


# scenario -> (failing check id, words its message must contain, words its hint must contain)
SCENARIO_EVIDENCE = {
    "dns-nxdomain": ("dns.resolve", ["missing.lab.test", "does not exist"], ["dig"]),
    "hosts-override": ("dns.hosts", ["/etc/hosts", "198.18.0.99", "198.18.0.2"], ["/etc/hosts"]),
    "tcp-refused": ("tcp.connect", ["refused"], ["listens"]),
    "tcp-syn-drop": ("tcp.connect", ["timed out"], ["dropped"]),
    "tcp-mtu-blackhole": ("tcp.path-mtu", ["stalled", "536-byte segments", "blackhole"],
                          ["TCPMSS", "mtu", "ICMP type 3 code 4"]),
    "tls-expired": ("tls.verify", ["expired"], ["kubeadm certs renew apiserver"]),
    "tls-not-yet-valid": ("tls.verify", ["not yet valid"], ["clock"]),
    "tls-san-mismatch": ("tls.name", ["198.18.0.32"], ["certSANs", "198.18.0.32"]),
    "tls-unknown-ca": ("tls.verify", ["issuer"], ["certificate-authority-data"]),
    "tls-incomplete-chain": ("tls.verify", ["only its own certificate", "lab intermediate CA",
                                            "the served chain is incomplete"],
                             ["serve the full chain", "Do not replace the CA"]),
    "auth-client-cert-expired": ("auth.whoami", ["401", "expired"], ["kubeadm"]),
    "auth-bad-token": ("auth.whoami", ["401", "bearer token sha256:"], ["token"]),
    "auth-forbidden": ("auth.whoami", ["403", "impersonate"], ["impersonate"]),
    "health-readyz-failing": ("health.readyz", ["etcd"], ["etcd"]),
    "ha-haproxy": ("ha.backend", [], ["backend"]),
    "proxy-dead": ("proxy.connect", ["198.18.0.60:3128", "refused"], ["NO_PROXY"]),
    "exec-missing": ("auth.credential", ["kplab-missing-credential-plugin", "not found"],
                     ["it does not exist in the lab"]),
}


def scenario_case(name):
    def run():
        with scenario(name) as env:
            # An API server without etcd needs seconds to answer /readyz: the default deadline.
            deadline = 5 if env["LAYER"] in ("health", "ha") else 2
            args = ["--kubeconfig", env["KUBECONFIG"], "--timeout", f"{deadline}s"]
            if "ENDPOINTS" in env:
                args += ["--endpoints", env["ENDPOINTS"]]
            extra = {"HTTPS_PROXY": env["HTTPS_PROXY"]} if "HTTPS_PROXY" in env else {}
            t0 = time.monotonic()
            code, out = kubectl("apicheck", "-o", "json", *args, netns=env["NETNS"], env=extra)
            took = time.monotonic() - t0
            report = json.loads(out[out.index("{"):]) if "{" in out else None
            expect(code == 1 and report, f"kubectl apicheck exits 1 ({took:.1f}s)", out)
            expect(report["failedLayer"] == env["LAYER"],
                   f"failedLayer is {env['LAYER']} (got {report['failedLayer']})", out)
            check_id, words, hint_words = SCENARIO_EVIDENCE[name]
            cause = [c for c in failing(report) if c["id"] == check_id]
            expect(cause, f"{check_id} failed", out)
            for w in words:
                expect(w in cause[0]["message"], f"its message names {w!r}", cause[0])
            for w in hint_words:
                expect(w in cause[0].get("hint", ""), f"its hint says {w!r}", cause[0])
            expect(took < deadline * 2 * 1.1 + 1.5, "it answers within its deadlines", took)
            sent = [c for c in report["checks"] if c["id"].startswith(("auth.", "health."))
                    and c["status"] != "skip"]
            if env["LAYER"] in ("dns", "tcp", "tls", "proxy"):
                expect(not sent, "no request reaches a server on a broken path", sent)
            return report
    return run


for _name in SCENARIO_EVIDENCE:
    CASES[f"scenario-{_name}"] = scenario_case(_name)


@case
def scenario_incomplete_chain_certs_server():
    """`kubectl certs server` gives the served chain apicheck's diagnosis: the intermediate is
    missing, the kubeconfig's CA is the right one."""
    with scenario("tls-incomplete-chain") as env:
        code, out = kubectl("certs", "server", "-o", "json", "--kubeconfig", env["KUBECONFIG"],
                            netns=env["NETNS"])
        report = json.loads(out[out.index("{"):]) if "{" in out else None
        expect(code == 1 and report, "kubectl certs server exits 1", out)
        leaf = checks_by_id(report)["cert.server"][0]
        expect(leaf["status"] == "fail" and "the served chain is incomplete" in leaf["message"]
               and "CN=lab intermediate CA" in leaf["message"],
               "the leaf's check names the missing intermediate", leaf)
        expect(leaf["hint"].startswith("serve the full chain"), "its fix serves the chain", leaf)
        expect(len(checks_by_id(report)["cert.server"]) == 1, "one certificate was served", out)


@case
def scenario_ha_backends_named():
    report = None
    with scenario("ha-haproxy") as env:
        code, out = kubectl("apicheck", "-o", "json", "--kubeconfig", env["KUBECONFIG"],
                            "--endpoints", env["ENDPOINTS"], netns=env["NETNS"])
        report = json.loads(out)
        backends = {c["endpoint"]: c for c in report["checks"] if c["id"] == "ha.backend"}
        dead, ready, unready = env["ENDPOINTS"].split(",")[1], env["ENDPOINTS"].split(",")[0], \
            env["ENDPOINTS"].split(",")[2]
        expect(backends[ready]["status"] == "ok", "the live backend is ok", backends)
        expect(backends[dead]["status"] == "fail" and "refused" in backends[dead]["message"],
               "the dead backend: connection refused", backends)
        expect(backends[unready]["status"] == "fail" and "etcd" in backends[unready]["message"],
               "the unready backend: etcd failed", backends)
        summary = checks_by_id(report)["ha.summary"][0]
        expect("load balancer hides 2" in summary["message"],
               "the summary says the load balancer hides two failing backends", summary)
        readyz = checks_by_id(report)["health.readyz"][0]
        expect(readyz["status"] == "ok", "through the load balancer the API is ready", readyz)


@case
def scenario_ha_tcp_check():
    """HAProxy's TCP-only check keeps a stuck API server UP (the lab's selftest proves it with
    show stat and curl). With --haproxy-stats, from the socket or the stats page, apicheck reads
    HAProxy's view, checks each of its servers directly and names the disagreement and the fix;
    without it the stuck backend is only a failing backend."""
    with scenario("ha-tcp-check") as env:
        stuck = env["ENDPOINTS"].split(",")[1]
        for source in (env["HAPROXY_STATS"], env["HAPROXY_STATS_URL"]):
            t0 = time.monotonic()
            code, out = kubectl("apicheck", "-o", "json", "--kubeconfig", env["KUBECONFIG"],
                                "--timeout", "2s", "--haproxy-stats", source, netns=env["NETNS"])
            took = time.monotonic() - t0
            report = json.loads(out[out.index("{"):]) if "{" in out else None
            expect(code == 1 and report and report["failedLayer"] == "ha",
                   f"--haproxy-stats {source}: exit 1, failedLayer ha ({took:.1f}s)", out)
            views = {c["endpoint"]: c for c in report["checks"] if c["id"] == "ha.haproxy"}
            expect(set(views) == set(env["ENDPOINTS"].split(",")),
                   "HAProxy's two servers are found and both checked directly", views)
            bad = views[stuck]
            expect(bad["status"] == "fail" and "be/stuck is UP by a TCP-connect-only check (L4OK)"
                   in bad["message"] and "checked directly: TLS:" in bad["message"],
                   "the stuck server: UP by a TCP-only check, not ready directly", bad)
            expect("option httpchk GET /readyz" in bad["hint"], "the fix checks /readyz", bad)
            expect(views[env["ENDPOINTS"].split(",")[0]]["status"] == "ok",
                   "the real API server: HAProxy and /readyz agree", views)
            summary = checks_by_id(report)["ha.summary"][0]
            expect("HAProxy still sends requests to 1" in summary["message"],
                   "the summary does not say the balancer hides it", summary)
            expect(took < 2 * 2 + 3, "bounded by the stuck backend's deadline", took)


@case
def scenario_ha_split_cert():
    """A load balancer alternating a valid and an expired certificate (the lab's selftest proves
    the alternation with openssl): apicheck's diagnostic handshake meets the valid one, libcurl's
    own connection the expired one. The failure is named tls, with the load balancer in the
    hint, and auth is still asked on the connection that works."""
    with scenario("ha-split-cert") as env:
        code, out = kubectl("apicheck", "-o", "json", "--kubeconfig", env["KUBECONFIG"],
                            netns=env["NETNS"])
        report = json.loads(out[out.index("{"):]) if "{" in out else None
        expect(code == 1 and report, "kubectl apicheck exits 1", out)
        expect(report["failedLayer"] == "tls", f"failedLayer is tls (got {report['failedLayer']})",
               out)
        by = checks_by_id(report)
        expect(by["tls.verify"][0]["status"] == "ok", "the first handshake verifies", out)
        livez = by["health.livez"][0]
        expect(livez["status"] == "fail" and livez["layer"] == "tls"
               and "certificate has expired" in livez["message"],
               "/livez's own connection failed TLS: expired", livez)
        expect("a backend serves another certificate" in livez.get("hint", ""),
               "the hint names the load balancer's backends", livez)
        expect(by["auth.whoami"][0]["status"] == "ok",
               "auth is still checked, on a connection that verified", by["auth.whoami"])


@case
def all_endpoints_from_endpointslice():
    code, report, out = apicheck_json("--kubeconfig", lab("kubeconfig", "admin"),
                                      "--all-endpoints")
    by = checks_by_id(report or {"checks": []})
    expect(code == 0 and "198.18.0.2" in by.get("ha.endpoints", [{}])[0].get("message", ""),
           "--all-endpoints lists the kubernetes EndpointSlice", out)
    expect(by["ha.backend"][0]["status"] == "ok" and by["ha.backend"][0]["endpoint"] ==
           "198.18.0.2:6443", "and checks that backend directly", out)


@case
def whoami_per_kubeconfig():
    expected = {"admin": "kubernetes-admin", "limited": "limited", "token": "lab-token",
                "exec": "lab-exec", "relative": "lab-relative-admin"}
    for kind, user in expected.items():
        code, oracle = kubectl("--kubeconfig", lab("kubeconfig", kind), "auth", "whoami", "-o",
                               "json")
        expect(json.loads(oracle)["status"]["userInfo"]["username"] == user,
               f"kubectl auth whoami says {user}", oracle)
        code, report, out = apicheck_json("--kubeconfig", lab("kubeconfig", kind))
        whoami = checks_by_id(report)["auth.whoami"][0]
        expect(whoami["details"]["username"] == user, f"apicheck agrees for {kind}", whoami)


@case
def metrics_layer():
    code, report, out = apicheck_json("--kubeconfig", lab("kubeconfig", "admin"), "--metrics")
    by = checks_by_id(report)
    expect(all(k in by for k in ("metrics.errors", "metrics.latency", "metrics.apf")),
           "--metrics adds the errors, latency and APF checks", out)
    expect("requests" in by["metrics.errors"][0]["message"], "with numbers", by)


@case
def verbose_masks_secrets():
    kc = lab("kubeconfig", "token")
    secret = kubeconfig_token(kc)
    expect(len(secret) > 20, "the token kubeconfig holds a token", kc)
    for level in ("6", "7", "8", "9", "10"):
        code, out = kubectl("apicheck", "--kubeconfig", kc, "-v", level)
        expect(code == 0 and secret not in out, f"-v {level}: the token appears nowhere", "")
    expect("Bearer <masked>" in out, "-v 10 shows the header, masked", out[-3000:])
    expect("/readyz" in out and "milliseconds" in out, "and logs the requests", out[-3000:])


@case
def request_timeout_sets_the_deadline():
    """kubectl's --request-timeout bounds apicheck's steps like --timeout (dropped SYN)."""
    with scenario("tcp-syn-drop") as env:
        t0 = time.monotonic()
        code, out = kubectl("apicheck", "--kubeconfig", env["KUBECONFIG"], "--request-timeout",
                            "1s", netns=env["NETNS"])
        took = time.monotonic() - t0
        import re
        expect(code == 1 and re.search(r"timed out after 10\d\d ms", out),
               "the connect gives up at 1s", out)
        expect(took < 1.1 + 0.5, f"and the whole run at about 1s ({took:.2f}s)", out)


@case
def watch_reports_rounds_and_summary():
    """--watch: one line per round; SIGINT ends it with rounds, latency percentiles, flaps."""
    import signal
    import subprocess
    env = dict(os.environ, PATH=user_path())
    p = subprocess.Popen(["kubectl", "apicheck", "--kubeconfig", lab("kubeconfig", "admin"),
                          "--watch", "--interval", "200ms"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env)
    time.sleep(2.5)
    # kubectl execs the plugin (same process), so the signal reaches apicheck itself.
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=10)
    rounds = [l for l in out.splitlines() if l[:2].isdigit() and "  ok" in l]
    expect(len(rounds) >= 5, f"at least 5 ok rounds in 2.5s at 200ms ({len(rounds)})", out)
    expect(f"--- {len(rounds)} rounds, 0 failed ---" in out, "a summary counts them", out)
    expect("latency ms: min" in out and "p99" in out, "with latency percentiles", out)
    expect("flaps: none" in out, "and no flaps on a healthy lab", out)


# ------------------------------------------------------------------ credential safety

def kubeconfig_for(path, server, user, ca_file):
    labmod = lab_module()
    labmod.write_kubeconfig(Path(path), server, user,
                            cluster_extra={"certificate-authority": str(ca_file)})
    return str(path)


def recorded(log):
    if not Path(log).exists():
        return []
    return [json.loads(line) for line in Path(log).read_text().splitlines()]


@case
def no_credential_to_unverified_server():
    """A TLS server that records headers and client certificates, behind each broken
    certificate, receives no credential (and no request at all, but the anonymous GET /version
    that asks an expired server for its clock); with --insecure-skip-tls-verify it does (so the
    recorder can tell)."""
    import tempfile
    labmod = lab_module()
    ca = labmod.cluster_ca()
    admin = Path(lab("kubeconfig", "admin")).read_text()
    token = kubeconfig_token(lab("kubeconfig", "token"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        faults = {
            "expired": dict(sans=["127.0.0.1"], not_before_days=-30, not_after_days=-1),
            "wrong-name": dict(sans=["elsewhere.lab.test"]),
            "unknown-ca": dict(sans=["127.0.0.1"], ca=labmod.self_signed_ca(tmp, "other", "other")),
        }
        cert_user = {"client-certificate-data": admin.split("client-certificate-data: ")[1]
                     .split()[0].strip('"'),
                     "client-key-data": admin.split("client-key-data: ")[1].split()[0]
                     .strip('"')}
        for fault, kw in faults.items():
            issuer = kw.pop("ca", ca)
            crt, key = labmod.issue_cert(tmp, fault, "127.0.0.1", issuer, **kw)
            for cred_name, user in (("token", {"token": token}), ("client cert", cert_user)):
                log = tmp / f"{fault}-{cred_name.replace(' ', '')}.log"
                with Server("record", crt, key, log=log, client_ca=ca[0]) as srv:
                    kc = kubeconfig_for(tmp / "kc", f"https://127.0.0.1:{srv.port}", user, ca[0])
                    code, report, out = apicheck_json("--kubeconfig", kc)
                    expect(code == 1 and report["failedLayer"] == "tls",
                           f"{fault} + {cred_name}: tls fails", out)
                    code, out = kubectl("apicheck", "--kubeconfig", kc, "-v", "9")
                time.sleep(0.2)
                seen = recorded(log)
                expect(seen, f"{fault} + {cred_name}: the server saw the TLS handshakes", seen)
                leaked = [r for r in seen if r.get("clientCert") or any(
                    "authorization" in h.lower() for q in r.get("requests", [])
                    for h in q["headers"])]
                expect(not leaked, f"{fault} + {cred_name}: no credential reached it", leaked)
                requests = [q for r in seen for q in r.get("requests", [])]
                if fault == "expired":
                    # The one request a date failure allows: the server's clock (its Date
                    # header), asked anonymously on a connection with no client certificate.
                    expect(requests and all(q["line"].startswith("GET /version ")
                                            for q in requests),
                           f"{fault} + {cred_name}: only anonymous GET /version requests", requests)
                else:
                    expect(not requests, f"{fault} + {cred_name}: not even a request", requests)
        # Positive control: chosen insecurity sends the token, loudly.
        crt, key = labmod.issue_cert(tmp, "control", "127.0.0.1", ca, sans=["elsewhere"])
        log = tmp / "control.log"
        with Server("record", crt, key, log=log) as srv:
            kc = kubeconfig_for(tmp / "kc", f"https://127.0.0.1:{srv.port}", {"token": token},
                                ca[0])
            code, out = kubectl("apicheck", "--kubeconfig", kc, "--insecure-skip-tls-verify")
            expect("WARNING: insecure-skip-tls-verify" in out, "insecure mode warns loudly", out)
        time.sleep(0.2)
        auths = [h for r in recorded(log) for q in r.get("requests", []) for h in q["headers"]
                 if h.lower() == "authorization"]
        expect(auths, "with --insecure-skip-tls-verify the recorder does see the token", log)


# ------------------------------------------------------------------ bad input

def run_apicheck(*args, timeout=30):
    t0 = time.monotonic()
    code, out = sh([f"{os.environ['KP_BIN_DIR']}/kubectl-apicheck", *args], timeout=timeout)
    return code, out, time.monotonic() - t0


def skew_check(tmp, kubectl_dir, cache, *extra):
    """apicheck run directly with `kubectl_dir` first on PATH (not dispatched, so no
    KUBECTL_PATH): (its health.skew check, the whole output)."""
    code, out = sh([f"{os.environ['KP_BIN_DIR']}/kubectl-apicheck", "--kubeconfig",
                    lab("kubeconfig", "admin"), "-o", "json", *extra],
                   env={"PATH": f"{kubectl_dir}:{os.environ['PATH']}", "KUBECTL_PATH": "",
                        "XDG_CACHE_HOME": cache, "HOME": str(tmp)})
    try:
        checks = checks_by_id(json.loads(out))
    except ValueError:
        return None, out
    return checks.get("health.skew", [None])[0], out


@case
def kubectl_version_without_running_it():
    """health.skew learns the version of the kubectl on PATH from the binary, through wrappers
    and dispatchers, and runs a kubectl that says nothing only once per binary (cached)."""
    real = str(Path(lab("bin")) / "kubectl")
    _, out = sh([real, "version", "--client", "-o", "json"])
    client = json.loads(out)["clientVersion"]["gitVersion"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = str(tmp / "cache")
        log = tmp / "runs.log"
        # A wrapper that execs the lab's kubectl by path: followed to it, never run.
        (tmp / "wrapper").mkdir()
        wrapper = tmp / "wrapper" / "kubectl"
        wrapper.write_text(f'#!/bin/sh\necho run >> {log}\nexec "{real}" "$@"\n')
        wrapper.chmod(0o755)
        skew, out = skew_check(tmp, tmp / "wrapper", cache)
        expect(skew and skew["status"] == "ok" and skew["message"].startswith(
            f"kubectl {client} (wrapper script), server v"),
            f"a wrapper script is followed to the lab's kubectl ({client})", out)
        expect(not log.exists(), "and the wrapper was not run", out)

        # A wrapper that finds kubectl through PATH: run once, then answered from the cache.
        (tmp / "opaque").mkdir()
        opaque = tmp / "opaque" / "kubectl"
        opaque.write_text(f'#!/bin/sh\necho run >> {log}\n'
                          f'PATH={Path(real).parent}:$PATH exec kubectl "$@"\n')
        opaque.chmod(0o755)
        for attempt in (1, 2, 3):
            skew, out = skew_check(tmp, tmp / "opaque", cache)
            expect(skew and skew["message"].startswith(f"kubectl {client}, server v"),
                   f"run {attempt}: the version a wrapper that says nothing reports", out)
        runs = log.read_text().count("run") if log.exists() else 0
        expect(runs == 1, f"it was run once in three diagnoses (runs: {runs})", out)
        cached = json.loads((tmp / "cache" / "kplugins" / "kubectl-version.json").read_text())
        expect([e["gitVersion"] for e in cached["kubectl"] if e["path"] == str(opaque)] ==
               [client], "the cache under XDG_CACHE_HOME holds its version", json.dumps(cached))
        os.utime(opaque, (time.time() + 5, time.time() + 5))  # an upgrade: a new mtime
        skew, out = skew_check(tmp, tmp / "opaque", cache)
        runs = log.read_text().count("run")
        expect(runs == 2, f"a changed binary is run again (runs: {runs})", out)

        # A dispatcher (the Cloud SDK's kubectl, where this machine has it).
        sdk = Path("/usr/lib/google-cloud-sdk/bin/kubectl")
        if not sdk.exists():
            print("  note: no Cloud SDK kubectl on this machine; the dispatcher part is skipped")
            return
        server = checks_by_id(json.loads(out))["health.version"][0]["details"]
        minor = f"{server['major']}.{server['minor'].rstrip('+')}"
        (tmp / "sdk").mkdir()
        os.symlink(sdk, tmp / "sdk" / "kubectl")
        skew, out = skew_check(tmp, tmp / "sdk", cache)
        _, sdk_out = sh([str(sdk), "version", "--client", "-o", "json"])
        own = json.loads(sdk_out)["clientVersion"]["gitVersion"]
        expect(skew and f"version dispatcher without kubectl.{minor}" in skew["message"]
               and skew["message"].startswith(f"kubectl {own} "),
               f"the Cloud SDK dispatcher without kubectl.{minor} runs its own kubectl {own}", out)
        # Its answer is cached: an edited entry (same binary identity) is what the next run uses.
        cached = json.loads((tmp / "cache" / "kplugins" / "kubectl-version.json").read_text())
        for entry in cached["kubectl"]:
            if entry["path"] == str(sdk.resolve()):
                entry["gitVersion"] = f"v{minor}.0-cached"
        (tmp / "cache" / "kplugins" / "kubectl-version.json").write_text(json.dumps(cached))
        skew, out = skew_check(tmp, tmp / "sdk", cache)
        expect(skew and skew["message"].startswith(f"kubectl v{minor}.0-cached ")
               and skew["status"] == "ok", "the dispatcher is not run again: the cache answers",
               out)
        # A copy of the dispatcher with kubectl.<server minor> beside it runs that one.
        (tmp / "sdk2").mkdir()
        shutil.copy(sdk, tmp / "sdk2" / "kubectl")
        os.symlink(real, tmp / "sdk2" / f"kubectl.{minor}")
        skew, out = skew_check(tmp, tmp / "sdk2", cache)
        expect(skew and skew["status"] == "ok" and skew["message"] ==
               f"kubectl on PATH is a version dispatcher: for server {server['gitVersion']} it "
               f"runs {tmp / 'sdk2' / ('kubectl.' + minor)}, so there is no skew",
               "with kubectl.<server minor> beside it, there is no skew to warn about", out)


@case
def bad_kubeconfig_table():
    """Each broken kubeconfig: exit 2, one clear line naming the file and field, no crash."""
    import base64
    import tempfile
    server = "https://198.18.0.2:6443"
    good_ca = base64.b64encode(Path(lab_module().cluster_ca()[0]).read_bytes()).decode()

    def doc(cluster="", user="", context="ctx", current="ctx", cluster_name="c", user_name="u"):
        user = user or "    token: abc\n"
        return (f"apiVersion: v1\nkind: Config\ncurrent-context: {current}\n"
                f"clusters:\n- name: c\n  cluster:\n    server: {server}\n{cluster}"
                f"users:\n- name: u\n  user:\n{user}"
                f"contexts:\n- name: {context}\n  context:\n    cluster: {cluster_name}\n"
                f"    user: {user_name}\n")

    pem_garbage = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot base64!\n"
                                   b"-----END CERTIFICATE-----\n").decode()
    table = {
        "malformed YAML": ("apiVersion: v1\nclusters: [\n", ["line"]),
        "missing context": (doc(current="nope"), ['context "nope" does not exist']),
        # A context naming a missing cluster or user is not refused: kubectl goes on
        # (e2e_setup_errors.py dangling-context-names).
        "bad base64": (doc(cluster="    certificate-authority-data: '@@@'\n"),
                       ["certificate-authority-data", "base64"]),
        "garbage PEM CA": (doc(cluster=f"    certificate-authority-data: {pem_garbage}\n"),
                           ["certificate-authority-data"]),
        "cert without key": (doc(user=f"    client-certificate-data: {good_ca}\n"),
                             ["client-key"]),
        "unknown exec apiVersion": (
            doc(user="    exec:\n      apiVersion: client.authentication.k8s.io/v9\n"
                     "      command: x\n      interactiveMode: Never\n"), ['invalid apiVersion "client.authentication.k8s.io/v9"']),
        "token and basic auth": (doc(user="    token: a\n    username: b\n    password: c\n"),
                                 ["more than one authentication method"]),
        "unsupported proxy-url": (doc(cluster="    proxy-url: ftp://p:1\n"),
                                  ['unsupported scheme "ftp"']),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (text, words) in table.items():
            path = Path(tmp) / name.replace(" ", "-")
            path.write_text(text)
            code, out, took = run_apicheck("--kubeconfig", str(path))
            expect(code == 2, f"{name}: exit 2 (got {code})", out)
            expect(str(path) in out or "does not exist" in out, f"{name}: names the file", out)
            for w in words:
                expect(w in out, f"{name}: says {w!r}", out)
            expect(out.count("\n") <= 3 and "kubectl-apicheck: error:" in out,
                   f"{name}: one clear error line", out)
            expect(took < 5, f"{name}: answers at once ({took:.1f}s)")


@case
def hostile_servers():
    """Servers that send garbage, a huge body, or stall mid-response: exit 1, the layer
    named, within the deadline."""
    import tempfile
    labmod = lab_module()
    ca = labmod.cluster_ca()
    with tempfile.TemporaryDirectory() as tmp:
        crt, key = labmod.issue_cert(Path(tmp), "srv", "127.0.0.1", ca, sans=["127.0.0.1"])
        expected = {"garbage": "health", "huge": "health", "stall": "health"}
        for mode, layer in expected.items():
            with Server(mode, crt, key) as srv:
                kc = kubeconfig_for(Path(tmp) / "kc", f"https://127.0.0.1:{srv.port}",
                                    {"token": "t"}, ca[0])
                code, out, took = run_apicheck("--kubeconfig", kc, "-o", "json", "--timeout",
                                               "2s")
                report = json.loads(out) if out.startswith("{") else None
                expect(code == 1 and report and report["failedLayer"] == layer,
                       f"{mode}: exit 1, failedLayer {layer}", out[:3000])
                expect(took < 4 * 2 + 2, f"{mode}: within its deadlines ({took:.1f}s)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
