#!/usr/bin/env python3
"""Soak: `kubectl-apicheck --watch` for a long time against an HA endpoint the soak owns, while
faults are injected in a cycle. Each fault must be reported within a few rounds, in the layer
the report contract puts it, and its repair too; the plugin must keep running, and its memory
and open file descriptors must stay flat.

    KP_BIN_DIR=build soak.py [--duration SECONDS] [--interval 200ms] [--max-rounds N] ...
                                                                     (--help lists them all)

What the soak starts, inside the lab's network namespace kpl-lab (the lab's own API server and
etcd are never touched; it needs the lab up for the namespace, the cluster CA and the tokens):

    198.18.0.173:2379   an etcd of its own
    198.18.0.171:6443   kube-apiserver a  } serving certificates issued from the lab's cluster
    198.18.0.172:6443   kube-apiserver b  } CA for their own address and HAProxy's
    198.18.0.170:6443   HAProxy (TCP, a /readyz health check every second): the kubeconfig's
                        server; apicheck checks both backends directly too (--endpoints)

The faults, in a cycle, alternating backends:
    drop     iptables DROP of the backend's port inside kpl-lab, then removed
             -> ha.backend@IP fails with a connection timeout (layer ha)
    cert     the backend's serving certificate swapped for one that expired 3 days ago (the
             files are replaced; kube-apiserver reloads them), then the good one back
             -> HAProxy checks /readyz without verifying (as kubeadm's HA guide does), so
                it keeps sending clients there: tls.verify fails when apicheck's TLS probe
                lands on that backend (layer tls), health.livez when only its HTTP connection
                does (layer health, curl's "certificate has expired"), and ha.backend@IP when
                neither does (layer ha); each says "expired"
    restart  the backend killed (SIGKILL), 3 s down, started again
             -> ha.backend@IP fails with connection refused (layer ha)
A fault counts as reported when a round after it took effect shows it; as recovered when a
round after the repair took effect has that backend ready again and nothing failing.

Also asserted: the watch runs for the whole duration and counts the rounds the soak read; no
round fails while nothing is broken; RSS and open fds (/proc/PID) at the end are within a small
margin of their values after the warm-up. A summary line ends stdout. Every process the soak
starts dies with it (PR_SET_PDEATHSIG), and a signal (INT, TERM, HUP) cleans up before the exit;
after a SIGKILL the next run removes the addresses and rules left behind. The files (watch.out:
every round with the time it was read, the servers' logs) stay in /tmp/kpsoak-* when an
assertion fails, or with --keep-dir.

Exit: 0 every assertion held, 1 one did not, 2 bad usage or the lab is not up, 128+N signal N.
"""

import argparse
import ctypes
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAB_SCRIPT = HERE.parent / "lab" / "lab"


sys.path.insert(0, str(LAB_SCRIPT.parent))
from labtest import lab_module  # noqa: E402

lab = lab_module()
NS = lab.NS
PORT = lab.API_PORT
LB_IP, ETCD_IP = "198.18.0.170", "198.18.0.173"
BACKENDS = {"a": "198.18.0.171", "b": "198.18.0.172"}
ADDRS = [LB_IP, *BACKENDS.values(), ETCD_IP]
RULE_TAG = "kpl:kpsoak"  # the comment on every iptables rule the soak adds
SAMPLE_EVERY = 3.0  # seconds between RSS/fd samples
FAULT_COST = {"drop": 15, "cert": 15, "restart": 30}  # seconds a fault may take, to schedule
CYCLE = [("drop", "b"), ("cert", "a"), ("restart", "b"), ("drop", "a"), ("cert", "b"),
         ("restart", "a")]
# What a round must show to count as reporting the fault: the layer of its first failure and
# words of its message.
EXPECTED = {
    "drop": ({"ha"}, re.compile(r"timeout|timed out")),
    "cert": ({"tls", "health", "ha"}, re.compile(r"expired")),
    "restart": ({"ha"}, re.compile(r"refused")),
}
LINE = re.compile(r"^(\d\d:\d\d:\d\d)  (ok|warn|fail|skip)  (.*)$")
CAUSE = re.compile(r"^([a-z]+): (\S+) ?(.*)$")
CHANGE = re.compile(r"(\S+) (ok|warn|fail|skip)->(ok|warn|fail|skip)")


def log(msg):
    print(f"soak: {msg}", flush=True)


class SetupError(Exception):
    pass


def die_with_parent():
    """Runs in each child before exec: SIGKILL it when the soak dies, even by SIGKILL (no
    kube-apiserver or HAProxy outlives a killed soak)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# ---------------------------------------------------------------- the watch and its rounds

class Round:
    def __init__(self, n, t, verdict, layer, cid, message, changes, backends):
        self.n, self.t, self.verdict = n, t, verdict
        self.layer, self.id, self.message = layer, cid, message
        self.changes, self.backends = changes, backends

    def cause(self):
        return f"{self.layer}: {self.id} {self.message}" if self.layer else self.verdict


class Watch:
    """kubectl-apicheck --watch, its rounds parsed as they come (one line each)."""

    def __init__(self, argv, errlog, outlog):
        self.errlog, self.outlog = open(errlog, "wb"), open(outlog, "w")
        # kubectl's version is compared with the server's: the lab's kubectl first on PATH.
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        env["PATH"] = f"{lab.bin_dir()}:{env.get('PATH', '/usr/bin:/bin')}"
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.errlog, text=True, start_new_session=True,
                                     preexec_fn=die_with_parent, env=env)
        self.rounds, self.tail, self.unparsed = [], [], []
        self.state = {}  # check key -> status, as the plugin's own "changed" tracking has it
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        for raw in self.proc.stdout:
            self.outlog.write(f"{time.monotonic():.2f} {raw}")
            self.outlog.flush()
            line = raw.rstrip("\n")
            m = LINE.match(line)
            if not m or self.tail:
                if line.startswith("--- ") or self.tail:
                    self.tail.append(line)
                elif line:
                    self.unparsed.append(line)
                continue
            rest, changes = m.group(3), []
            at = rest.rfind("  [changed: ")
            if at >= 0 and rest.endswith("]"):
                changes = CHANGE.findall(rest[at + 12:-1])
                rest = rest[:at]
            layer = cid = message = ""
            cause = CAUSE.match(rest)  # else the round's latency ("    3.1 ms")
            if cause:
                layer, cid, message = cause.groups()
            with self.cond:
                for key, _old, new in changes:
                    self.state[key] = new
                backends = {ip: self.state.get(f"ha.backend@{ip}:{PORT}", "ok")
                            for ip in BACKENDS.values()}
                self.rounds.append(Round(len(self.rounds) + 1, time.monotonic(), m.group(2),
                                         layer, cid, message, changes, backends))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def count(self):
        with self.cond:
            return len(self.rounds)

    def wait_for(self, pred, start, timeout):
        """The first round numbered above `start` for which pred(round) holds, or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for r in self.rounds[start:]:
                    if pred(r):
                        return r
                    start = r.n
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return None
                self.cond.wait(min(left, 0.5))

    def sample(self):
        """(RSS KiB, open fds): fds as the least of ten reads 50 ms apart, so a round's
        sockets in flight do not count as a leak."""
        pid = self.proc.pid
        rss = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        fds = []
        for _ in range(10):  # half a second: two rounds at the default interval
            fds.append(len(os.listdir(f"/proc/{pid}/fd")))
            time.sleep(0.05)
        return rss, min(fds)

    def stop(self, grace=10):
        """SIGINT (the plugin prints its summary), then SIGKILL if it does not end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(timeout=5)
        self.errlog.close()
        self.outlog.close()
        return self.proc.returncode


# ---------------------------------------------------------------- the soak's own servers

class Setup:
    def __init__(self, workdir):
        self.dir = workdir
        self.procs = {}  # name -> Popen
        self.addrs_added = []
        self.kubeconfig = self.dir / "kubeconfig"

    def spawn(self, name, argv):
        logf = open(self.dir / f"{name}.log", "ab")
        p = subprocess.Popen(["ip", "netns", "exec", NS, *argv], stdin=subprocess.DEVNULL,
                             stdout=logf, stderr=logf, start_new_session=True,
                             preexec_fn=die_with_parent)
        logf.close()
        self.procs[name] = p
        return p

    def kill(self, name, sig=signal.SIGTERM, grace=5.0):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    # -- stale state of a soak that was killed (SIGKILL leaves no time to clean up)
    def claim(self):
        lo = lab.quiet(["ip", "-4", "addr", "show", "dev", "lo"], ns=NS).stdout
        present = [a for a in ADDRS if f"inet {a}/" in lo]
        if present:
            listening = lab.quiet(["ss", "-Htln"], ns=NS).stdout
            busy = [a for a in present if f"{a}:" in listening]
            if busy:
                raise SetupError(f"{', '.join(busy)} already serve in {NS}: another soak runs?")
            log(f"removing what a killed soak left: {', '.join(present)}")
            for a in present:
                lab.quiet(["ip", "addr", "del", f"{a}/32", "dev", "lo"], ns=NS)
        remove_rules()
        for a in ADDRS:
            lab.run(["ip", "addr", "add", f"{a}/32", "dev", "lo"], ns=NS)
            self.addrs_added.append(a)

    def certs(self):
        ca = lab.cluster_ca()
        for name, ip in BACKENDS.items():
            sans = [ip, LB_IP, "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
            lab.issue_cert(self.dir, f"{name}-good", ip, ca, sans=sans)
            lab.issue_cert(self.dir, f"{name}-expired", ip, ca, sans=sans, not_before_days=-400,
                           not_after_days=-3)
            self.use_cert(name, "good")

    def use_cert(self, name, which):
        """Replaces the backend's serving files (key first, then the certificate) by rename,
        as a certificate rotation does; kube-apiserver watches both files."""
        for ext in ("key", "crt"):
            tmp = self.dir / f".{name}-serving.{ext}.tmp"
            shutil.copyfile(self.dir / f"{name}-{which}.{ext}", tmp)
            os.replace(tmp, self.dir / f"{name}-serving.{ext}")

    def start_etcd(self):
        url = f"http://{ETCD_IP}:2379"
        self.spawn("etcd", [lab.tool("etcd"), "--name", "kpsoak", "--data-dir",
                            str(self.dir / "etcd"), "--listen-client-urls", url,
                            "--advertise-client-urls", url,
                            "--listen-peer-urls", f"http://{ETCD_IP}:2380",
                            "--initial-advertise-peer-urls", f"http://{ETCD_IP}:2380",
                            "--initial-cluster", f"kpsoak=http://{ETCD_IP}:2380",
                            "--unsafe-no-fsync", "--log-level", "warn"])
        lab.wait_for("the soak's etcd", lambda: '"health":"true"' in lab.quiet(
            ["curl", "-s", "--max-time", "1", f"{url}/health"]).stdout, timeout=60)

    def start_apiserver(self, name):
        """The lab's kube-apiserver flags (tests/lab/lab start_apiserver), on the soak's etcd,
        address and serving files."""
        ip, pki, state = BACKENDS[name], lab.STATE / "pki", lab.STATE
        self.spawn(f"apiserver-{name}", [
            lab.tool("kube-apiserver"),
            f"--etcd-servers=http://{ETCD_IP}:2379",
            f"--bind-address={ip}", f"--advertise-address={ip}", f"--secure-port={PORT}",
            f"--tls-cert-file={self.dir}/{name}-serving.crt",
            f"--tls-private-key-file={self.dir}/{name}-serving.key",
            f"--client-ca-file={pki}/ca.crt",
            f"--kubelet-client-certificate={pki}/apiserver-kubelet-client.crt",
            f"--kubelet-client-key={pki}/apiserver-kubelet-client.key",
            "--kubelet-preferred-address-types=InternalIP",
            f"--token-auth-file={state}/tokens.csv",
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki}/sa.pub",
            f"--service-account-signing-key-file={pki}/sa.key",
            f"--service-cluster-ip-range={lab.SERVICE_CIDR}",
            "--disable-admission-plugins=ServiceAccount",
            "--profiling=false",
            "--v=1",
        ])

    def wait_ready(self, name, timeout=180):
        lab.wait_for(f"kube-apiserver {name} /readyz", lambda: lab.http_code(
            f"https://{BACKENDS[name]}:{PORT}/readyz") == "200", timeout=timeout, interval=0.3)

    def start_haproxy(self):
        servers = "\n".join(f"  server {n} {ip}:{PORT}" for n, ip in BACKENDS.items())
        cfg = self.dir / "haproxy.cfg"
        self.sock = self.dir / "haproxy.sock"
        # `source`: HAProxy's connections (checks too) come from the LB address, so a DROP of
        # clients can spare the backend's own loopback connections (source = its address).
        cfg.write_text(f"""global
  stats socket {self.sock} mode 600 level admin
defaults
  mode tcp
  timeout connect 1s
  timeout check 1s
  timeout client 60s
  timeout server 60s
  retries 1
  option redispatch
frontend fe
  bind {LB_IP}:{PORT}
  default_backend be
backend be
  balance roundrobin
  source {LB_IP}
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 1s fall 1 rise 1 check check-ssl verify none
{servers}
""")
        self.spawn("haproxy", ["haproxy", "-db", "-f", str(cfg)])
        lab.wait_for("HAProxy sees both backends UP", lambda: self.sock.exists() and
                     lab.haproxy_states(self.sock) == {n: "UP" for n in BACKENDS}, timeout=60)

    def up(self):
        self.claim()
        self.certs()
        self.start_etcd()
        for name in BACKENDS:
            self.start_apiserver(name)
        for name in BACKENDS:
            self.wait_ready(name)
        self.start_haproxy()
        lab.write_kubeconfig(self.kubeconfig, f"https://{LB_IP}:{PORT}",
                             {"token": lab.token("admin")}, name="kpsoak")

    def down(self):
        for name in list(self.procs):
            self.kill(name)
        remove_rules()
        for a in self.addrs_added:
            lab.quiet(["ip", "addr", "del", f"{a}/32", "dev", "lo"], ns=NS)
        self.addrs_added = []


def drop_rule(ip):
    # Clients (HAProxy from LB_IP, apicheck from the root namespace) lose the backend; the
    # backend's own loopback client (source = its address) does not.
    return ["INPUT", "-d", ip, "!", "-s", ip, "-p", "tcp", "--dport", str(PORT),
            "-m", "comment", "--comment", RULE_TAG, "-j", "DROP"]


def remove_rules():
    if not lab.netns_exists(NS):
        return
    for rule in lab.quiet(["iptables", "-S"], ns=NS).stdout.splitlines():
        if f"--comment {RULE_TAG} " in rule + " " or f'"{RULE_TAG}"' in rule:
            lab.quiet(["iptables"] + shlex.split(rule.replace("-A", "-D", 1)), ns=NS)


def served_cert(ip):
    """The DER certificate ip:PORT serves (no SNI, unverified), or None."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((ip, PORT), timeout=2) as s:
            with ctx.wrap_socket(s) as t:
                return t.getpeercert(binary_form=True)
    except OSError:
        return None


def der_of(path):
    return ssl.PEM_cert_to_DER_cert(Path(path).read_text())


# ---------------------------------------------------------------- faults

class Fault:
    def __init__(self, kind, backend):
        self.kind, self.backend, self.ip = kind, backend, BACKENDS[backend]
        self.injected = self.effective = self.reported = None  # round numbers
        self.restored = self.restore_effective = self.recovered = None
        self.report_line = self.reload_s = None
        self.layers = {}  # layer -> rounds that reported the fault there

    def name(self):
        return f"{self.kind}({self.backend} {self.ip})"

    def matches(self, r):
        layers, words = EXPECTED[self.kind]
        if r.layer not in layers or not words.search(r.message):
            return False
        # An ha failure must be this backend's; tls and health (cert) are the client's
        # connections through HAProxy landing on it.
        return r.layer != "ha" or r.backends[self.ip] == "fail"

    def recovered_in(self, r):
        return r.backends[self.ip] == "ok" and r.verdict != "fail"

    def window(self):
        """The rounds the fault may explain: from its injection to its recovery."""
        return self.injected, (self.recovered or self.restore_effective or 10**9) + 1


def inject(f, setup):
    if f.kind == "drop":
        lab.run(["iptables", "-I", *drop_rule(f.ip)], ns=NS)
    elif f.kind == "cert":
        t0, expired = time.monotonic(), der_of(setup.dir / f"{f.backend}-expired.crt")
        setup.use_cert(f.backend, "expired")
        lab.wait_for(f"{f.ip} to serve the expired certificate",
                     lambda: served_cert(f.ip) == expired, timeout=90, interval=0.1)
        f.reload_s = time.monotonic() - t0
    else:
        setup.kill(f"apiserver-{f.backend}", sig=signal.SIGKILL)


def repair(f, setup):
    if f.kind == "drop":
        remove_rules()
    elif f.kind == "cert":
        good = der_of(setup.dir / f"{f.backend}-good.crt")
        setup.use_cert(f.backend, "good")
        lab.wait_for(f"{f.ip} to serve its good certificate again",
                     lambda: served_cert(f.ip) == good, timeout=90, interval=0.1)
    else:
        setup.start_apiserver(f.backend)
        setup.wait_ready(f.backend)


def run_fault(f, setup, watch):
    """Injects f, waits until a round reports it (and two more rounds, at least 3 s in all),
    repairs it, waits until a round shows the recovery. Round numbers are recorded on f: a
    fault is in effect once the soak has seen it (the expired certificate served, the server
    dead, the rule in place), and so is its repair (the good certificate served, /readyz 200)."""
    f.injected = watch.count()
    t0 = time.monotonic()
    inject(f, setup)
    f.effective = watch.count()
    hit = watch.wait_for(f.matches, f.effective, timeout=30)
    if hit:
        f.reported, f.report_line = hit.n, hit.cause()
        watch.wait_for(lambda r: r.n >= hit.n + 2, hit.n, timeout=15)
    time.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))
    f.restored = watch.count()
    repair(f, setup)
    f.restore_effective = watch.count()
    back = watch.wait_for(f.recovered_in, f.restore_effective, timeout=60)
    if back:
        f.recovered = back.n
    for r in watch.rounds[f.effective:f.restore_effective]:
        if f.matches(r):
            f.layers[r.layer] = f.layers.get(r.layer, 0) + 1
    seen = ", ".join(f"{layer} in {n}" for layer, n in sorted(f.layers.items()))
    log(f"{f.name()}: injected at round {f.injected}, in effect at {f.effective}"
        + (f" (reloaded in {f.reload_s:.1f} s)" if f.reload_s is not None else "")
        + (f", reported at {f.reported} ({f.reported - f.effective} later: {f.report_line})"
           if f.reported else ", NOT REPORTED")
        + f"; repaired at {f.restored}, in effect at {f.restore_effective}"
        + (f", recovered at {f.recovered} ({f.recovered - f.restore_effective} later)"
           if f.recovered else ", NO RECOVERY SEEN")
        + (f"; rounds reporting it: {seen}" if seen else ""))


# ---------------------------------------------------------------- main

class Sampler(threading.Thread):
    """RSS and open fds of the watch process every few seconds; notes when it died."""

    def __init__(self, watch, t0):
        super().__init__(daemon=True)
        self.watch, self.t0, self.samples, self.died_at = watch, t0, [], None
        self.halt = threading.Event()

    def take(self):
        rss, fds = self.watch.sample()
        return (time.monotonic() - self.t0, self.watch.count(), rss, fds)

    def run(self):
        while not self.halt.wait(SAMPLE_EVERY):
            if self.watch.proc.poll() is not None:
                self.died_at = time.monotonic() - self.t0
                return
            try:
                self.samples.append(self.take())
            except OSError:  # it ended between poll() and /proc
                continue


class Soak:
    def __init__(self, args, setup):
        self.args, self.setup = args, setup
        self.failures, self.faults = [], []
        self.watch = self.sampler = self.first = self.last = None
        self.elapsed = 0.0

    def run(self):
        args = self.args
        binary = Path(os.environ["KP_BIN_DIR"]) / "kubectl-apicheck"
        endpoints = ",".join(f"{ip}:{PORT}" for ip in BACKENDS.values())
        argv = [str(binary), "--kubeconfig", str(self.setup.kubeconfig), "--watch",
                "--interval", args.interval, "--timeout", "2s", "--endpoints", endpoints]
        log("running " + " ".join(argv))
        t0 = time.monotonic()
        end = t0 + args.duration
        self.watch = watch = Watch(argv, self.setup.dir / "watch.stderr",
                                   self.setup.dir / "watch.out")
        self.sampler = Sampler(watch, t0)
        self.sampler.start()
        try:
            first = watch.wait_for(lambda r: True, 0, timeout=30)
            if first is None or first.verdict != "ok":
                self.failures.append("the first round is not ok: " + (
                    first.cause() if first else "no round within 30 s"))
                return
            time.sleep(max(0.0, min(args.warmup, end - time.monotonic())))
            self.first = self.sampler.take()  # steady, before any fault
            i = 0
            while time.monotonic() + FAULT_COST[CYCLE[i % len(CYCLE)][0]] + args.tail < end:
                if not watch.wait_for(lambda r: r.verdict == "ok", watch.count(), 60):
                    self.failures.append(f"no round with every check ok before fault {i + 1}")
                    break
                f = Fault(*CYCLE[i % len(CYCLE)])
                self.faults.append(f)
                run_fault(f, self.setup, watch)
                i += 1
                time.sleep(1.0)
            while time.monotonic() < end and watch.proc.poll() is None:
                time.sleep(0.2)
            if watch.proc.poll() is None:
                self.last = self.sampler.take()
        finally:
            self.sampler.halt.set()
            self.sampler.join(timeout=5)
            self.elapsed = time.monotonic() - t0

    def judge(self):
        args, watch, failures, faults = self.args, self.watch, self.failures, self.faults
        if watch.proc.poll() is not None or self.sampler.died_at is not None:
            failures.append(f"the watch process ended early (exit {watch.proc.returncode}, "
                            f"seen dead {self.sampler.died_at} s after it started)")
        code = watch.stop()
        summary = next((line for line in watch.tail if line.startswith("--- ")), "")
        m = re.match(r"--- (\d+) rounds, (\d+) failed ---", summary)
        log(f"the plugin's own summary: {' | '.join(x for x in watch.tail if x)} (exit {code})")
        if not m or int(m.group(1)) != watch.count():
            failures.append(f"the plugin counted {summary!r}, the soak read {watch.count()}")
        if watch.unparsed:
            failures.append(f"{len(watch.unparsed)} lines are not rounds: {watch.unparsed[:3]}")
        for kind in FAULT_COST:
            if not any(f.kind == kind for f in faults):
                failures.append(f"no {kind} fault was injected: --duration {args.duration:g} "
                                "is too short")
        for f in faults:
            if f.reported is None:
                failures.append(f"{f.name()} was not reported (want layer "
                                f"{'/'.join(sorted(EXPECTED[f.kind][0]))})")
            elif f.reported - f.effective > args.max_rounds:
                failures.append(f"{f.name()} reported {f.reported - f.effective} rounds after it "
                                f"took effect (at most {args.max_rounds})")
            if f.recovered is None:
                failures.append(f"{f.name()}: no recovery reported")
            elif f.recovered - f.restore_effective > args.max_rounds:
                failures.append(f"{f.name()}: recovery reported "
                                f"{f.recovered - f.restore_effective} rounds after the repair "
                                f"took effect (at most {args.max_rounds})")
        # Failing rounds that no fault explains: false alarms.
        stray = [r for r in watch.rounds if r.verdict == "fail" and
                 not any(lo < r.n <= hi for lo, hi in (f.window() for f in faults))]
        for r in stray[:5]:
            log(f"round {r.n} failed while nothing was broken: {r.cause()}")
        if len(stray) > args.max_stray:
            failures.append(f"{len(stray)} rounds failed while nothing was broken (at most "
                            f"{args.max_stray})")

        start, finish = self.first, self.last
        if start is None or finish is None:
            failures.append("no RSS/fd sample at the start or the end")
            start = finish = (0, 0, 0, 0)
        else:
            mid = [x for x in self.sampler.samples if x[0] >= (start[0] + finish[0]) / 2]
            middle = mid[0] if mid else finish
            for label, x in (("start", start), ("middle", middle), ("end", finish)):
                log(f"sample {label:6} t={x[0]:6.1f} s round {x[1]:5}: RSS {x[2]} KiB, "
                    f"{x[3]} fds")
            s = [x for x in self.sampler.samples if x[0] >= start[0]]
            if s:
                log(f"{len(s)} samples from the start on: RSS {min(x[2] for x in s)} to "
                    f"{max(x[2] for x in s)} KiB, fds {min(x[3] for x in s)} to "
                    f"{max(x[3] for x in s)}")
            if finish[2] > start[2] + args.rss_margin:
                failures.append(f"RSS grew from {start[2]} to {finish[2]} KiB (margin "
                                f"{args.rss_margin} KiB)")
            if finish[3] > start[3] + args.fd_margin:
                failures.append(f"open fds grew from {start[3]} to {finish[3]} (margin "
                                f"{args.fd_margin})")
        fails = sum(1 for r in watch.rounds if r.verdict == "fail")
        reported = sum(1 for f in faults if f.reported is not None)
        recovered = sum(1 for f in faults if f.recovered is not None)
        kinds = ", ".join(f"{k} {sum(f.kind == k for f in faults)}" for k in FAULT_COST)
        layers = sorted({layer for f in faults for layer in f.layers})
        print(f"soak summary: duration {self.elapsed:.0f} s, rounds {watch.count()} ({fails} "
              f"failing, {len(stray)} unexplained), faults injected {len(faults)} ({kinds}), "
              f"faults reported {reported} (layers {'/'.join(layers) or '-'}), recoveries "
              f"reported {recovered}, RSS start/end {start[2]}/{finish[2]} KiB, fds start/end "
              f"{start[3]}/{finish[3]}", flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=600, help="seconds of watching (600)")
    p.add_argument("--interval", default="200ms", help="apicheck --interval (200ms)")
    p.add_argument("--warmup", type=float, default=15,
                   help="seconds before the first fault and the first RSS/fd sample (15)")
    p.add_argument("--tail", type=float, default=10,
                   help="seconds left without faults at the end (10)")
    p.add_argument("--max-rounds", type=int, default=5,
                   help="rounds within which a fault and its repair must be reported (5)")
    p.add_argument("--rss-margin", type=int, default=512,
                   help="KiB the RSS may grow between the first and the last sample (512)")
    p.add_argument("--fd-margin", type=int, default=2,
                   help="open fds the plugin may gain (2)")
    p.add_argument("--max-stray", type=int, default=0,
                   help="failing rounds allowed while nothing is broken (0)")
    p.add_argument("--keep-dir", action="store_true", help="keep the logs and certificates")
    return p.parse_args(argv)


def main(argv):
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if args.duration <= 0:
        print("soak: error: --duration: must be greater than 0", file=sys.stderr)
        return 2
    binary = Path(os.environ.get("KP_BIN_DIR", "")) / "kubectl-apicheck"
    if not os.access(binary, os.X_OK):
        print(f"soak: error: KP_BIN_DIR: no kubectl-apicheck in {binary.parent}", file=sys.stderr)
        return 2
    if os.geteuid() != 0 or not lab.is_up():
        print("soak: error: needs root and the lab up (tests/lab/lab up)", file=sys.stderr)
        return 2

    def on_signal(sig, _frame):
        raise SystemExit(128 + sig)
    # SIGINT too: a shell without job control starts background commands with it ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    workdir = Path(tempfile.mkdtemp(prefix="kpsoak-"))
    setup, run, code = Setup(workdir), None, 1
    try:
        t0 = time.monotonic()
        setup.up()
        log(f"etcd, two kube-apiservers and HAProxy up in {time.monotonic() - t0:.1f} s "
            f"(files in {workdir})")
        run = Soak(args, setup)
        run.run()
        run.judge()
        for f in run.failures:
            print(f"FAIL: {f}", file=sys.stderr)
        code = 1 if run.failures else 0
    except SetupError as e:
        print(f"soak: error: {e}", file=sys.stderr)
        code = 2
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        code = 1
    except SystemExit as e:
        print(f"soak: stopped by signal {e.code - 128}", file=sys.stderr)
        code = e.code
    finally:
        # No signal may cut the cleanup short.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if run is not None and run.watch is not None and run.watch.proc.poll() is None:
            run.watch.stop(grace=5)
        setup.down()
        shutil.rmtree(workdir / "etcd", ignore_errors=True)
        if args.keep_dir or code == 1:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
