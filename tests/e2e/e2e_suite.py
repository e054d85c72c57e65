#!/usr/bin/env python3
"""End-to-end tests of plugins/netdebug/suite.sh, the in-pod check suite of `kubectl netdebug
run`: the script itself, under sh, dash and busybox sh, in network namespaces of its own that
play the pod, against the lab's real kube-apiserver (198.18.0.2:6443) with the lab's CA and
token as the service account. Faults are made inside the pod's namespace: its own dnsmasq,
iptables rules, openssl s_server with certificates made here, a black-hole address.

    e2e_suite.py CASE | --list

E2E_SUITE_STANDIN=1 replaces the lab by a stand-in API server (a small Python HTTPS server with
its own CA) in a namespace of this test, for working on the script without the lab.
Namespaces are kpt-h4-*, addresses 198.18.200.0/24; every case deletes what it made.
"""

import importlib.machinery
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import LAB, Failure, case, expect, main, sh  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "plugins" / "netdebug" / "suite.sh"
LAB_DIR = Path(os.environ.get("LAB_DIR", "/tmp/kplugins-lab"))
NET = "198.18.200"  # this test's subnet: /30s for the pods' links, /32s on their loopback
DNS_IP, DNS_DEAD_IP, TLS_IP, FAKE_IP, HOLE_IP = (f"{NET}.{i}" for i in (253, 251, 252, 250, 254))
T = 2  # KP_TIMEOUT of most runs
IDS = ["incluster.resolvconf", "incluster.dns.fqdn", "incluster.dns.search",
       "incluster.service.tcp", "incluster.service.tls", "incluster.service.livez",
       "incluster.service.readyz"]
EP_IDS = ["incluster.endpoint.tcp", "incluster.endpoint.tls", "incluster.endpoint.readyz"]
TAIL_IDS = ["incluster.route.default", "incluster.mtu"]
SEARCH = "default.svc.cluster.local svc.cluster.local cluster.local"
GOOD_RESOLV = f"nameserver {DNS_IP}\nsearch {SEARCH}\noptions ndots:5 timeout:1 attempts:1\n"


def load_lab():
    """The lab script as a module, for its certificate helpers (issue_cert, self_signed_ca)."""
    loader = importlib.machinery.SourceFileLoader("labmod", LAB)
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader("labmod", loader))
    loader.exec_module(mod)
    return mod


LABMOD = load_lab()


def run(argv, netns=None, check=True):
    code, out = sh(argv, netns=netns)
    if check and code != 0:
        raise Failure(f"{' '.join(argv)} exited {code}: {out}")
    return out


def shells():
    """(name, argv) of every shell installed to run the suite under."""
    candidates = (("sh", ["sh"]), ("dash", ["dash"]), ("busybox", ["busybox", "sh"]))
    return [(name, argv) for name, argv in candidates if shutil.which(argv[0])]


def busybox_path(tmp):
    """A directory of busybox applets put first in PATH: the tools of an Alpine image (awk,
    sed, date without %N, timeout, ip, ping without -M), with curl, openssl, dig after them."""
    d = tmp / "busybox-bin"
    d.mkdir()
    for applet in run(["busybox", "--list"]).split():
        (d / applet).symlink_to(shutil.which("busybox"))
    return str(d)


FAKE_API = r'''
import http.server, ssl, sys
addr, port, cert, key, token, mode = sys.argv[1:7]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get("Authorization") != "Bearer " + token:
            code, body = 401, '{"kind":"Status","message":"Unauthorized","code":401}'
        elif self.path.startswith("/livez"):
            code, body = 200, "ok"
        elif mode == "ready":
            code, body = 200, "[+]ping ok\n[+]etcd ok\nreadyz check passed\n"
        else:
            code, body = 500, ("[+]ping ok\n[-]etcd failed: reason withheld\n"
                               "[-]poststarthook/rbac failed: reason withheld\n"
                               "readyz check failed\n")
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer((addr, int(port)), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
'''


class Netns:
    """A network namespace of this test, with the processes started in it."""

    def __init__(self, name):
        self.name = name
        self.pids = []
        existing = run(["ip", "netns", "list"])
        if name in existing.split():
            run(["ip", "netns", "delete", name], check=False)
        run(["ip", "netns", "add", name])
        run(["ip", "link", "set", "lo", "up"], netns=name)

    def addr(self, ip):
        run(["ip", "addr", "add", f"{ip}/32", "dev", "lo"], netns=self.name)

    def iptables(self, *args):
        run(["iptables", *args], netns=self.name)

    def spawn(self, argv, ready=None, logfile=None):
        log = open(logfile or os.devnull, "wb")
        p = subprocess.Popen(["ip", "netns", "exec", self.name, *argv], stdin=subprocess.DEVNULL,
                             stdout=log, stderr=log, start_new_session=True)
        self.pids.append(p)
        if ready:
            deadline = time.monotonic() + 20
            while not ready():
                if p.poll() is not None or time.monotonic() > deadline:
                    raise Failure(f"{' '.join(argv)} did not start (exit {p.poll()})")
                time.sleep(0.1)
        return p

    def close(self):
        for p in self.pids:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        run(["ip", "netns", "delete", self.name], check=False)
        shutil.rmtree(Path("/etc/netns") / self.name, ignore_errors=True)


def listening(netns, ip, port, proto="tcp"):
    flag = "-ltnH" if proto == "tcp" else "-lunH"
    return f"{ip}:{port}" in run(["ss", flag], netns=netns, check=False)


def make_ca(d, name):
    return LABMOD.self_signed_ca(d, name, f"e2e-suite {name}")


def issue(d, name, ca, sans, **validity):
    return LABMOD.issue_cert(d, name, sans[0], ca, sans=sans, **validity)


class Api:
    """Where the API server is: the lab's (default) or a stand-in of this test."""

    def __init__(self, tmp):
        self.standin = os.environ.get("E2E_SUITE_STANDIN") == "1"
        if not self.standin:
            self.ip, self.port, self.netns = "198.18.0.2", 6443, "kpl-lab"
            self.ca = (LAB_DIR / "pki" / "ca.crt", LAB_DIR / "pki" / "ca.key")
            expect(self.ca[0].exists() and (LAB_DIR / "tokens" / "admin").exists(),
                   "the lab is up (its CA and token exist)", str(LAB_DIR))
            self.token = (LAB_DIR / "tokens" / "admin").read_text().strip()
            self.ns = None
            return
        self.ip, self.port, self.netns = f"{NET}.2", 6443, "kpt-h4-api"
        self.ca = make_ca(tmp / "api", "ca")
        self.token = "standin-" + secrets.token_hex(16)
        crt, key = issue(tmp / "api", "apiserver", self.ca,
                         [self.ip, "kubernetes.default.svc", "kubernetes"])
        self.ns = Netns(self.netns)
        self.ns.addr(self.ip)
        script = tmp / "api" / "fake_api.py"
        script.write_text(FAKE_API)
        self.ns.spawn([sys.executable, str(script), self.ip, str(self.port), str(crt), str(key),
                       self.token, "ready"], ready=lambda: listening(self.netns, self.ip, 6443))

    def close(self):
        if self.ns:
            self.ns.close()


def check_subnet_free():
    """No namespace but ours holds an address of NET."""
    out = run(["ip", "-all", "netns", "exec", "ip", "-br", "addr"], check=False)
    owner = None
    for line in out.splitlines():
        if line.startswith("netns: "):
            owner = line.split()[1]
        elif f" {NET}." in f" {line}" and owner and not owner.startswith("kpt-h4-") and \
                not line.startswith("kph4"):
            raise Failure(f"{NET}.0/24 is used by network namespace {owner}: {line}")


class Pod:
    """A namespace playing the debug pod: a veth link to the API server's namespace with a
    default route, a service account directory, /etc/netns resolv.conf and hosts."""

    def __init__(self, api, tmp, tag, idx):
        self.api, self.tmp, self.idx = api, tmp, idx
        self.netns = f"kpt-h4-{tag}"
        self.gw, self.ip = f"{NET}.{4 * idx + 1}", f"{NET}.{4 * idx + 2}"
        self.dev, peer = f"kph4p{idx}", f"kph4l{idx}"
        run(["ip", "link", "delete", peer], netns=api.netns, check=False)  # a stale one
        self.ns = Netns(self.netns)
        run(["ip", "link", "add", self.dev, "netns", self.netns, "type", "veth", "peer", "name",
             peer, "netns", api.netns])
        run(["ip", "addr", "add", f"{self.gw}/30", "dev", peer], netns=api.netns)
        run(["ip", "link", "set", peer, "up"], netns=api.netns)
        run(["ip", "addr", "add", f"{self.ip}/30", "dev", self.dev], netns=self.netns)
        run(["ip", "link", "set", self.dev, "up"], netns=self.netns)
        run(["ip", "route", "add", "default", "via", self.gw], netns=self.netns)
        self.sa = tmp / f"sa-{tag}"
        self.sa.mkdir()
        shutil.copy(api.ca[0], self.sa / "ca.crt")
        (self.sa / "token").write_text(api.token + "\n")
        (self.sa / "namespace").write_text("default")
        self.etc = Path("/etc/netns") / self.netns
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "hosts").write_text("127.0.0.1\tlocalhost\n")
        self.resolv(GOOD_RESOLV)

    def resolv(self, text):
        (self.etc / "resolv.conf").write_text(text)

    def dnsmasq(self, ip=DNS_IP, records=True, local=True):
        """A cluster DNS: kubernetes.default.svc.cluster.local -> the API server. Without
        records it answers NXDOMAIN for cluster.local; without local, REFUSED for everything."""
        self.ns.addr(ip)
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--bind-interfaces", f"--listen-address={ip}", "--user=root",
                f"--pid-file={self.tmp}/dnsmasq-{self.idx}-{ip}.pid"]
        if local:
            argv.append("--local=/cluster.local/")
        if records:
            argv.append(f"--host-record=kubernetes.default.svc.cluster.local,{self.api.ip}")
        self.ns.spawn(argv, ready=lambda: listening(self.netns, ip, 53, "udp"))

    def tls_server(self, ip, crt, key):
        """openssl s_server with the given certificate at ip:6443."""
        self.ns.addr(ip)
        self.ns.spawn(["openssl", "s_server", "-quiet", "-accept", f"{ip}:6443", "-cert",
                       str(crt), "-key", str(key), "-www"],
                      ready=lambda: listening(self.netns, ip, 6443))

    def fake_api(self, ip, mode):
        """The stand-in API server at ip:6443, with a serving certificate of the cluster CA."""
        self.ns.addr(ip)
        crt, key = issue(self.tmp / f"fake-{self.idx}", "fake", self.api.ca,
                         [ip, "kubernetes.default.svc"])
        script = self.tmp / "fake_api.py"
        script.write_text(FAKE_API)
        self.ns.spawn([sys.executable, str(script), ip, "6443", str(crt), str(key),
                       self.api.token, mode], ready=lambda: listening(self.netns, ip, 6443))

    def run(self, env=None, shell=("sh",), path_prefix=None, endpoints=None, xtrace=False):
        """Runs the suite; returns a Result. Every run is checked for the line contract, the
        order of the ids and the token's absence."""
        eps = f"{self.api.ip}:{self.api.port}" if endpoints is None else endpoints
        full = {"KP_SA_DIR": str(self.sa), "KUBERNETES_SERVICE_HOST": self.api.ip,
                "KUBERNETES_SERVICE_PORT": str(self.api.port), "KP_ENDPOINTS": eps,
                "KP_TIMEOUT": str(T), "PATH": os.environ["PATH"]}
        full.update(env or {})
        if path_prefix:
            full["PATH"] = f"{path_prefix}:{full['PATH']}"
        argv = ["ip", "netns", "exec", self.netns, "env", "-i",
                *(f"{k}={v}" for k, v in full.items()), *shell]
        argv += ["-x", str(SUITE)] if xtrace else [str(SUITE)]
        t0 = time.monotonic()
        p = subprocess.run(argv, capture_output=True, timeout=120)
        result = Result(p, time.monotonic() - t0, full, " ".join(shell))
        result.validate(self.api.token)
        return result

    def close(self):
        # Deleted now: a namespace's links go away asynchronously after `ip netns delete`.
        run(["ip", "link", "delete", self.dev], netns=self.netns, check=False)
        self.ns.close()


class Result:
    def __init__(self, p, seconds, env, shell):
        self.code, self.seconds, self.env, self.shell = p.returncode, seconds, env, shell
        self.stderr = p.stderr.decode(errors="replace")
        self.checks = []
        try:  # the contract: UTF-8 JSON, whatever the input held
            self.stdout = p.stdout.decode()
        except UnicodeDecodeError as e:
            raise Failure(f"[{shell}] stdout is not UTF-8 ({e}): {p.stdout!r}")

    def evidence(self):
        return f"[{self.shell}] exit {self.code}\n{self.stdout}\n--- stderr ---\n{self.stderr}"

    def validate(self, token):
        ev = self.evidence()
        expect(self.code == 0, f"[{self.shell}] the suite exits 0", ev)
        for line in self.stdout.splitlines():
            try:
                c = json.loads(line)
            except ValueError:
                raise Failure(f"[{self.shell}] a stdout line is not JSON: {line!r}\n{ev}")
            keys = [k for k in c if k != "endpoint"]
            if keys != ["id", "status", "message", "hint", "durationMs", "details"]:
                raise Failure(f"[{self.shell}] fields out of contract: {list(c)}\n{ev}")
            if c["status"] not in ("ok", "warn", "fail", "skip") or not c["message"] or (
                    c["status"] in ("warn", "fail") and not c["hint"]) or not isinstance(
                    c["durationMs"], int) or not isinstance(c["details"], dict):
                raise Failure(f"[{self.shell}] a check breaks the contract: {line}\n{ev}")
            self.checks.append(c)
        endpoints = self.env["KP_ENDPOINTS"].split()
        want = IDS + (EP_IDS * len(endpoints) if endpoints else EP_IDS[:1]) + TAIL_IDS
        got = [c["id"] for c in self.checks]
        eps = [c.get("endpoint") for c in self.checks if c["id"].startswith("incluster.endp")]
        want_eps = [e for e in endpoints for _ in EP_IDS] if endpoints else [None]
        if got != want or eps != want_eps:
            raise Failure(f"[{self.shell}] ids {got}\n  expected {want}\n{ev}")
        expect(token not in self.stdout and token not in self.stderr,
               f"[{self.shell}] the token appears neither in stdout nor in stderr", "")

    def get(self, check_id, endpoint=None):
        for c in self.checks:
            if c["id"] == check_id and c.get("endpoint") == endpoint:
                return c
        raise Failure(f"no check {check_id} {endpoint or ''}\n{self.evidence()}")

    def expect(self, check_id, status, *fragments, endpoint=None):
        c = self.get(check_id, endpoint)
        expect(c["status"] == status and all(f in c["message"] for f in fragments),
               f"[{self.shell}] {check_id}{' ' + endpoint if endpoint else ''}: {status}"
               + (f", message with {list(fragments)}" if fragments else ""), json.dumps(c))
        return c


class Setup:
    """The context of one case: a temporary directory, the API server, pods."""

    def __enter__(self):
        check_subnet_free()
        self._tmp = tempfile.TemporaryDirectory(prefix="e2e-suite-")
        self.tmp = Path(self._tmp.name)
        self.pods = []
        try:
            self.api = Api(self.tmp)
        except BaseException:
            self._tmp.cleanup()
            raise
        return self

    def pod(self, tag, dns=True):
        p = Pod(self.api, self.tmp, tag, len(self.pods) + 1)
        self.pods.append(p)
        if dns:
            p.dnsmasq()
        return p

    def __exit__(self, *exc):
        for p in self.pods:
            p.close()
        self.api.close()
        self._tmp.cleanup()


def has_ping_df():
    """Whether this machine's ping sends with DF set (iputils): the MTU probe needs it."""
    ping = shutil.which("ping")
    return bool(ping) and "-M" in subprocess.run([ping, "-h"], capture_output=True,
                                                 text=True).stderr


def expect_healthy(r, api, pod, busybox_tools=False):
    r.expect("incluster.resolvconf", "ok", f"nameservers {DNS_IP}", "ndots 5")
    d = r.get("incluster.resolvconf")["details"]
    expect(d["nameservers"] == [DNS_IP] and d["search"] == SEARCH.split() and d["ndots"] == 5
           and d["namespace"] == "default", "resolv.conf details", d)
    c = r.expect("incluster.dns.fqdn", "ok", f"resolves to {api.ip}")
    expect(c["details"]["addresses"] == [api.ip] and c["details"]["tool"] == "dig",
           "dns.fqdn: the address, found by dig", c)
    c = r.expect("incluster.dns.search", "ok", "as kubernetes.default.svc.cluster.local")
    expect(c["details"]["addresses"] == [api.ip], "dns.search: the address", c)
    hp = f"{api.ip}:{api.port}"
    c = r.expect("incluster.service.tcp", "ok", f"connected to {hp}")
    expect(c["details"]["address"] == hp, "service.tcp: the address", c)
    c = r.expect("incluster.service.tls", "ok", "certificate verified", f"for {api.ip}")
    expect(c["details"]["verifyCode"] == 0 and c["details"]["protocol"].startswith("TLSv1."),
           "service.tls: verify code 0 and the protocol", c)
    r.expect("incluster.service.livez", "ok", "GET /livez: 200 ok")
    c = r.expect("incluster.service.readyz", "ok", "GET /readyz?verbose: 200",
                 "readyz check passed")
    expect(c["details"]["auth"] == "token" and c["details"]["failing"] == [],
           "readyz asked with the token, nothing failing", c)
    r.expect("incluster.endpoint.tcp", "ok", endpoint=hp)
    c = r.expect("incluster.endpoint.tls", "ok", "for kubernetes.default.svc", endpoint=hp)
    expect(c["details"]["endpoint"] == hp and c["details"]["verifyName"] ==
           "kubernetes.default.svc", "endpoint.tls: details.endpoint and the name verified", c)
    r.expect("incluster.endpoint.readyz", "ok", "readyz check passed", endpoint=hp)
    c = r.expect("incluster.route.default", "ok", f"default route via {pod.gw} dev {pod.dev}")
    expect(c["details"]["gateway"] == pod.gw and c["details"]["device"] == pod.dev,
           "route: gateway and device", c)
    if busybox_tools or not has_ping_df():
        why = "this ping cannot set DF" if busybox_tools else "ping"
        r.expect("incluster.mtu", "skip", f"MTU 1500 on {pod.dev}; path MTU not probed", why)
    else:
        c = r.expect("incluster.mtu", "ok", f"MTU 1500 on {pod.dev}",
                     f"1500-byte packets with DF set reach {api.ip}")
        expect(c["details"]["mtu"] == 1500 and c["details"]["payload"] == 1472,
               "mtu: 1500, probed with a 1472-byte payload", c)


@case
def healthy():
    """The lab's API server through the pod's own cluster DNS: every check ok, with the
    addresses, names and interface in details; under every shell, and with busybox's tools."""
    with Setup() as s:
        pod = s.pod("healthy")
        for name, argv in shells():
            r = pod.run(shell=argv)
            expect_healthy(r, s.api, pod)
            print(f"  [{name}] healthy run: {r.seconds:.2f}s")
        if shutil.which("busybox"):
            r = pod.run(shell=["busybox", "sh"], path_prefix=busybox_path(s.tmp))
            expect_healthy(r, s.api, pod, busybox_tools=True)
            print(f"  [busybox applets] healthy run: {r.seconds:.2f}s")


@case
def dns_broken():
    """A nameserver that drops, one that refuses, one that says NXDOMAIN, none at all, and a
    search path without the cluster's domains: the DNS checks say which, the rest still runs."""
    with Setup() as s:
        pod = s.pod("dns", dns=False)
        pod.ns.addr(DNS_DEAD_IP)
        pod.ns.iptables("-A", "INPUT", "-d", DNS_DEAD_IP, "-j", "DROP")
        pod.resolv(f"nameserver {DNS_DEAD_IP}\nsearch {SEARCH}\noptions ndots:5\n")
        r = pod.run()
        for check_id in ("incluster.dns.fqdn", "incluster.dns.search"):
            c = r.expect(check_id, "fail", "timed out")
            expect(c["durationMs"] <= T * 1000 + 1000, f"{check_id} ends within KP_TIMEOUT", c)
            expect(DNS_DEAD_IP in c["hint"], f"{check_id}: the hint names the nameserver", c)
        r.expect("incluster.service.readyz", "ok")
        r.expect("incluster.endpoint.readyz", "ok", endpoint=f"{s.api.ip}:{s.api.port}")

        pod.dnsmasq(ip=f"{NET}.249", records=False, local=False)
        pod.resolv(f"nameserver {NET}.249\nsearch {SEARCH}\noptions ndots:5\n")
        r = pod.run()
        r.expect("incluster.dns.fqdn", "fail", "REFUSED")
        r.expect("incluster.dns.search", "fail", "REFUSED")
        r.expect("incluster.service.tls", "ok")

        pod.dnsmasq(ip=f"{NET}.248", records=False)
        pod.resolv(f"nameserver {NET}.248\nsearch {SEARCH}\noptions ndots:5\n")
        r = pod.run()
        c = r.expect("incluster.dns.fqdn", "fail",
                     "kubernetes.default.svc.cluster.local: NXDOMAIN")
        expect(c["details"]["rcode"] == "nxdomain", "dns.fqdn: rcode nxdomain in details", c)
        # The search path ends with the name as it is, which this dnsmasq refuses.
        r.expect("incluster.dns.search", "fail", "kubernetes.default through the search path")
        r.expect("incluster.service.livez", "ok")

        pod.resolv("search cluster.local\n")
        r = pod.run()
        r.expect("incluster.resolvconf", "fail", "no nameserver in /etc/resolv.conf")
        r.expect("incluster.dns.fqdn", "skip", "no nameserver")
        r.expect("incluster.dns.search", "skip", "no nameserver")
        r.expect("incluster.service.readyz", "ok")

        pod.dnsmasq()
        pod.resolv(f"nameserver {DNS_IP}\nsearch example.org\n")
        r = pod.run()
        r.expect("incluster.resolvconf", "warn",
                 "the search path lacks default.svc.cluster.local svc.cluster.local cluster.local")
        r.expect("incluster.dns.fqdn", "ok")
        r.expect("incluster.dns.search", "fail", "through the search path (example.org)")


@case
def service_unreachable():
    """The service address dropped (connect times out within KP_TIMEOUT) or rejected
    (refused): TCP fails saying which, TLS and health are skipped, DNS still runs."""
    with Setup() as s:
        pod = s.pod("svc")
        hp = f"{s.api.ip}:{s.api.port}"
        pod.ns.iptables("-A", "INPUT", "-s", s.api.ip, "-p", "tcp", "--sport", str(s.api.port),
                        "-j", "DROP")
        r = pod.run(endpoints="")
        c = r.expect("incluster.service.tcp", "fail", f"{hp}: connection timed out after {T}s")
        expect(T * 1000 - 100 <= c["durationMs"] <= T * 1000 + 1500,
               f"service.tcp gives up after KP_TIMEOUT={T}s", c)
        expect("dropped" in c["hint"], "the hint says packets are dropped", c)
        for check_id in ("incluster.service.tls", "incluster.service.livez",
                         "incluster.service.readyz"):
            r.expect(check_id, "skip", "service TCP failed")
        r.expect("incluster.endpoint.tcp", "skip", "KP_ENDPOINTS is empty")
        r.expect("incluster.dns.fqdn", "ok")
        r.expect("incluster.route.default", "ok")

        pod.ns.iptables("-F", "INPUT")
        pod.ns.iptables("-A", "OUTPUT", "-d", s.api.ip, "-p", "tcp", "--dport",
                        str(s.api.port), "-j", "REJECT", "--reject-with", "tcp-reset")
        r = pod.run()
        c = r.expect("incluster.service.tcp", "fail", f"{hp}: connection refused")
        expect("nothing accepts connections" in c["hint"], "the hint for refused", c)
        r.expect("incluster.service.tls", "skip", "service TCP failed")
        r.expect("incluster.endpoint.tcp", "fail", "connection refused", endpoint=hp)
        r.expect("incluster.endpoint.tls", "skip", "endpoint TCP failed", endpoint=hp)
        r.expect("incluster.endpoint.readyz", "skip", "endpoint TCP failed", endpoint=hp)


@case
def bad_certificate():
    """An expired serving certificate at the service address and one from an unknown CA at an
    endpoint (openssl s_server with certificates made here): TLS fails with openssl's reason,
    and no HTTP request (no token) follows."""
    with Setup() as s:
        pod = s.pod("tls")
        crt, key = issue(s.tmp / "expired", "expired", s.api.ca,
                         [TLS_IP, "kubernetes.default.svc"], not_before_days=-400,
                         not_after_days=-3)
        pod.tls_server(TLS_IP, crt, key)
        r = pod.run(env={"KUBERNETES_SERVICE_HOST": TLS_IP, "KUBERNETES_SERVICE_PORT": "6443"},
                    endpoints="")
        r.expect("incluster.service.tcp", "ok")
        c = r.expect("incluster.service.tls", "fail",
                     "certificate verify error 10: certificate has expired")
        expect(c["details"]["verifyCode"] == 10 and "kubeadm certs renew" in c["hint"],
               "service.tls: code 10 in details, the renewal in the hint", c)
        r.expect("incluster.service.livez", "skip", "service TLS failed")
        r.expect("incluster.service.readyz", "skip", "service TLS failed")
        c = r.expect("incluster.dns.fqdn", "warn",
                     f"resolves to {s.api.ip}, not KUBERNETES_SERVICE_HOST {TLS_IP}")

        unknown = make_ca(s.tmp / "unknown", "unknown-ca")
        crt, key = issue(s.tmp / "unknown", "serving", unknown, [FAKE_IP, "kubernetes.default.svc"])
        pod.tls_server(FAKE_IP, crt, key)
        ep = f"{FAKE_IP}:6443"
        r = pod.run(endpoints=f"{s.api.ip}:{s.api.port} {ep}")
        r.expect("incluster.service.readyz", "ok")
        r.expect("incluster.endpoint.tls", "ok", endpoint=f"{s.api.ip}:{s.api.port}")
        r.expect("incluster.endpoint.tcp", "ok", endpoint=ep)
        c = r.expect("incluster.endpoint.tls", "fail",
                     "certificate verify error 21: unable to verify the first certificate",
                     endpoint=ep)
        expect(c["details"]["issuer"] == "CN=e2e-suite unknown-ca", "the issuer in details", c)
        r.expect("incluster.endpoint.readyz", "skip", "endpoint TLS failed", endpoint=ep)


@case
def endpoints():
    """KP_ENDPOINTS with the real API server, a black hole, an unready server and garbage:
    each endpoint's checks carry its address; the black hole times out within KP_TIMEOUT."""
    with Setup() as s:
        pod = s.pod("eps")
        pod.ns.addr(HOLE_IP)
        pod.ns.iptables("-A", "INPUT", "-d", HOLE_IP, "-j", "DROP")
        pod.fake_api(FAKE_IP, "unready")
        good, hole, unready = f"{s.api.ip}:{s.api.port}", f"{HOLE_IP}:6443", f"{FAKE_IP}:6443"
        r = pod.run(endpoints=f"{good} {hole} {unready} nonsense")
        for check_id in EP_IDS:
            r.expect(check_id, "ok", endpoint=good)
        c = r.expect("incluster.endpoint.tcp", "fail", f"{hole}: connection timed out after {T}s",
                     endpoint=hole)
        expect(c["durationMs"] <= T * 1000 + 1500 and c["details"]["endpoint"] == hole,
               "the black hole costs KP_TIMEOUT, details.endpoint is set", c)
        r.expect("incluster.endpoint.tls", "skip", "endpoint TCP failed", endpoint=hole)
        r.expect("incluster.endpoint.readyz", "skip", "endpoint TCP failed", endpoint=hole)
        r.expect("incluster.endpoint.tls", "ok", endpoint=unready)
        c = r.expect("incluster.endpoint.readyz", "fail", "HTTP 500",
                     "failing checks: etcd poststarthook/rbac", endpoint=unready)
        expect(c["details"]["failing"] == ["etcd", "poststarthook/rbac"],
               "the failing readyz checks in details", c)
        r.expect("incluster.endpoint.tcp", "fail", "malformed endpoint 'nonsense'",
                 endpoint="nonsense")
        expect(r.seconds < 3 * T + 10, f"the whole run is bounded ({r.seconds:.1f}s)", "")


@case
def all_black_holes():
    """Every address a black hole (DNS, service, endpoints): the script still ends, in a
    bounded time, with every failure a timeout."""
    with Setup() as s:
        pod = s.pod("holes", dns=False)
        for ip in (DNS_DEAD_IP, HOLE_IP, FAKE_IP):
            pod.ns.addr(ip)
            pod.ns.iptables("-A", "INPUT", "-d", ip, "-j", "DROP")
        pod.ns.iptables("-A", "INPUT", "-s", s.api.ip, "-j", "DROP")
        pod.resolv(f"nameserver {DNS_DEAD_IP}\nsearch {SEARCH}\noptions ndots:5\n")
        r = pod.run(endpoints=f"{HOLE_IP}:6443 {FAKE_IP}:6443")
        r.expect("incluster.dns.fqdn", "fail", "timed out")
        r.expect("incluster.dns.search", "fail", "timed out")
        r.expect("incluster.service.tcp", "fail", "timed out")
        for ep in (f"{HOLE_IP}:6443", f"{FAKE_IP}:6443"):
            r.expect("incluster.endpoint.tcp", "fail", "timed out", endpoint=ep)
        r.expect("incluster.mtu", "skip")
        bound = 7 * T + 6
        expect(r.seconds < bound, f"the run ends within {bound}s ({r.seconds:.1f}s)", "")
        print(f"  black-hole run: {r.seconds:.2f}s with KP_TIMEOUT={T}")


@case
def mtu_probe():
    """Restricted profile: the probe is skipped for want of raw sockets. Large ICMP replies
    dropped while small ones pass: the probe fails with a hint."""
    with Setup() as s:
        pod = s.pod("mtu")
        r = pod.run(env={"KP_PROFILE": "restricted"})
        c = r.expect("incluster.mtu", "skip", "MTU 1500", "restricted profile: no raw sockets")
        expect(c["details"]["mtu"] == 1500, "the MTU is still reported", c)
        pod.ns.iptables("-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-reply", "-m",
                        "length", "--length", "1000:65535", "-j", "DROP")
        r = pod.run()
        if not has_ping_df():
            r.expect("incluster.mtu", "skip", "ping")
            return
        c = r.expect("incluster.mtu", "fail",
                     f"1500-byte packets with DF set to {s.api.ip} are lost while small ones pass")
        expect("MTU" in c["hint"] and c["details"]["probe"] == "dropped", "the MTU hint", c)


@case
def missing_tools():
    """Only some tools on PATH: nslookup or getent stand in for dig; without any DNS tool,
    curl/nc or ping, the checks are skipped naming the tool."""
    with Setup() as s:
        pod = s.pod("tools")
        base = ["awk", "sed", "grep", "tr", "cut", "head", "tail", "date", "cat", "mktemp", "rm",
                "wc", "sleep", "ip", "env", "sh", "dash"]
        pod.ns.addr(HOLE_IP)
        pod.ns.iptables("-A", "INPUT", "-d", HOLE_IP, "-j", "DROP")

        def bin_with(name, tools):
            d = s.tmp / f"bin-{name}"
            d.mkdir()
            for t in base + tools:
                if shutil.which(t):
                    (d / t).symlink_to(shutil.which(t))
            return str(d)

        # getent without `timeout`: the script's own watchdog bounds every step then.
        for tool, extra in (("nslookup", ["timeout"]), ("getent", [])):
            r = pod.run(env={"PATH": bin_with(tool, [tool, "curl", "openssl", *extra])},
                        endpoints=f"{s.api.ip}:{s.api.port} {HOLE_IP}:6443")
            c = r.expect("incluster.dns.fqdn", "ok", f"resolves to {s.api.ip}")
            expect(c["details"]["tool"] == tool, f"{tool} resolves when dig is missing", c)
            r.expect("incluster.dns.search", "ok")
            r.expect("incluster.service.readyz", "ok")
            r.expect("incluster.endpoint.readyz", "ok", endpoint=f"{s.api.ip}:{s.api.port}")
            c = r.expect("incluster.endpoint.tcp", "fail", "timed out", endpoint=f"{HOLE_IP}:6443")
            expect(c["durationMs"] <= T * 1000 + 1500, "the black hole still costs KP_TIMEOUT", c)
            r.expect("incluster.mtu", "skip", "ping is missing")
        r = pod.run(env={"PATH": bin_with("none", [])})
        r.expect("incluster.dns.fqdn", "skip", "dig, nslookup and getent are all missing")
        r.expect("incluster.service.tcp", "skip", "curl and nc are both missing")
        r.expect("incluster.service.tls", "skip", "service TCP not checked")
        r.expect("incluster.route.default", "ok")


@case
def hostile_input():
    """A search entry with quotes, backslashes and control characters, invalid UTF-8 and a
    quoted endpoint: every line is still one JSON object, the entry kept as it was."""
    with Setup() as s:
        pod = s.pod("hostile")
        evil = 'x"y\\z\\"\x01\x1b[31m\t%s$(id)`id`'
        (pod.etc / "resolv.conf").write_bytes(
            f"nameserver {DNS_IP}\nsearch {SEARCH} {evil}\n".encode()
            + b"options ndots:5 \xff\xfe\n")
        for name, argv in shells():
            r = pod.run(shell=argv, endpoints=f"{s.api.ip}:{s.api.port} a\"b\\c")
            d = r.expect("incluster.resolvconf", "ok")["details"]
            expect(d["search"] == SEARCH.split() + [evil.split("\t")[0], evil.split("\t")[1]],
                   f"[{name}] the hostile search entry survives, escaped", d)
            expect("\ufffd\ufffd" in d["options"][-1], f"[{name}] invalid UTF-8 becomes U+FFFD", d)
            r.expect("incluster.endpoint.tcp", "fail", "malformed endpoint", endpoint='a"b\\c')
            r.expect("incluster.service.readyz", "ok")


@case
def token_never_printed():
    """Traced with sh -x, the script still never shows the token (it goes from the file to
    curl's stdin); a 401 says the token was rejected without showing it."""
    with Setup() as s:
        pod = s.pod("token")
        r = pod.run(xtrace=True)  # validate() asserts the token is absent from both streams
        expect("Authorization" in r.stderr, "the trace shows the header being sent", "")
        r.expect("incluster.service.readyz", "ok")
        (pod.sa / "token").write_text("e2e-suite-wrong-token-0123456789\n")
        r = pod.run()
        r.expect("incluster.service.livez", "fail", "401", "token was rejected")
        expect("e2e-suite-wrong-token" not in r.stdout + r.stderr, "the wrong token is not shown",
               r.evidence())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
