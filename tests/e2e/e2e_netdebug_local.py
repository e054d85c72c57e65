#!/usr/bin/env python3
"""End-to-end tests of kubectl netdebug local: the built binary through kubectl's plugin dispatch,
run inside fresh network namespaces (kpt-h5-*, addresses from 198.18.210.0/24) where
/proc/net/tcp, iptables and nft show only that namespace. Real listeners, real iptables and
nftables rules, and a real router namespace with a 1280-byte link for the path-MTU probe.

    e2e_netdebug_local.py CASE | --list
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import Failure, case, expect, lab, main, sh  # noqa: E402

PORT = 6443
SERVER_IP = "198.18.210.2"  # the listener's address in single-namespace cases
# Client, router and server of the MTU cases: c0 198.18.210.9/30 <-> r0 .10, r1 .13/30 <-> s0 .14
CLIENT_IP, ROUTER_IN, ROUTER_OUT, FAR_IP = ("198.18.210.9", "198.18.210.10", "198.18.210.13",
                                            "198.18.210.14")

LISTENER = """
import socket, sys, time
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(8)
print('ready', flush=True)
time.sleep(300)
"""


def run_ok(argv, netns=None):
    code, out = sh(argv, netns=netns)
    if code != 0:
        raise Failure(f"{' '.join(argv)} (netns {netns}) exited {code}: {out}")
    return out


@contextlib.contextmanager
def netns(suffix):
    """A fresh network namespace kpt-h5-<suffix> with lo up; always deleted, its processes
    killed first."""
    name = f"kpt-h5-{suffix}"
    delete_netns(name)
    run_ok(["ip", "netns", "add", name])
    try:
        run_ok(["ip", "link", "set", "lo", "up"], netns=name)
        yield name
    finally:
        delete_netns(name)


def delete_netns(name):
    if not Path(f"/run/netns/{name}").exists():
        return
    _, pids = sh(["ip", "netns", "pids", name])
    for pid in pids.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), 9)
    sh(["ip", "netns", "delete", name])


@contextlib.contextmanager
def listener(ns, address, port=PORT):
    """A Python TCP listener on address:port inside ns; yields its pid."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", LISTENER, address,
                          str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        if line != "ready":
            raise Failure(f"listener on {address}:{port} did not start: {p.stderr.read()}")
        yield p.pid
    finally:
        p.kill()
        p.wait()


@contextlib.contextmanager
def workdir(server):
    """A temporary directory with a kubeconfig whose current context's server is `server`,
    and a root for --root (its sys is the real /sys, so MTUs are read from the namespace)."""
    tmp = Path(tempfile.mkdtemp(prefix="kpt-h5-"))
    try:
        (tmp / "kubeconfig").write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: t
  cluster:
    server: https://{server}:{PORT}
    insecure-skip-tls-verify: true
users:
- name: u
  user: {{}}
contexts:
- name: t
  context: {{cluster: t, user: u}}
current-context: t
""")
        (tmp / "root").mkdir()
        os.symlink("/sys", tmp / "root" / "sys")
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_manifest(tmp, *flags, text=None):
    path = tmp / "root" / "etc" / "kubernetes" / "manifests" / "kube-apiserver.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if text is None:
        text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n"
                "  namespace: kube-system\nspec:\n  containers:\n  - name: kube-apiserver\n"
                "    image: registry.k8s.io/kube-apiserver:v1.31.0\n    command:\n"
                "    - kube-apiserver\n" + "".join(f"    - {f}\n" for f in flags))
    path.write_text(text)
    return path


def netdebug(ns, tmp, *args, output="json"):
    """kubectl netdebug local inside ns; returns (exit code, report or None, raw output)."""
    path = f"{os.environ['KP_BIN_DIR']}:{lab('bin')}:{os.environ['PATH']}"
    argv = ["kubectl", "netdebug", "local", "--kubeconfig", str(tmp / "kubeconfig"), "--root",
            str(tmp / "root"), *args]
    if output:
        argv += ["-o", output]
    code, out = sh(argv, netns=ns, env={"PATH": path, "KUBECONFIG": str(tmp / "kubeconfig")},
                   timeout=60)
    if output != "json":
        return code, None, out
    try:
        return code, json.loads(out), out
    except ValueError:
        return code, None, out


def by_id(report):
    return {c["id"]: c for c in report["checks"]}


IDS = ["node.listen", "node.firewall.iptables", "node.firewall.nftables", "node.firewalld",
       "node.manifest", "node.process", "node.mtu"]


def add_server_address(ns):
    run_ok(["ip", "addr", "add", f"{SERVER_IP}/32", "dev", "lo"], netns=ns)


@case
def listen_ok():
    """A listener on 198.18.210.2:6443: node.listen ok, naming the address and its owner's pid;
    every check in order, layer node; json and yaml output."""
    with netns("listen") as ns, workdir(SERVER_IP) as tmp:
        add_server_address(ns)
        with listener(ns, SERVER_IP) as pid:
            code, report, out = netdebug(ns, tmp)
            expect(report is not None and code == 0, "exit 0 with a JSON report", out)
            expect(report["schemaVersion"] == 1 and report["tool"] == "netdebug",
                   "schemaVersion 1, tool netdebug", out)
            expect(report["target"]["server"] == f"https://{SERVER_IP}:{PORT}",
                   "the target is the kubeconfig's server", report["target"])
            expect([c["id"] for c in report["checks"]] == IDS, f"checks in order: {IDS}", out)
            expect(all(c["layer"] == "node" for c in report["checks"]), "every check is layer node",
                   out)
            listen = by_id(report)["node.listen"]
            expect(listen["status"] == "ok" and f"{SERVER_IP}:{PORT}" in listen["message"]
                   and f"pid {pid} python" in listen["message"],
                   f"node.listen ok: {SERVER_IP}:{PORT} owned by pid {pid}", listen)
            expect(listen["details"]["listeners"][0]["pid"] == pid, "details name the pid", listen)
            for check in ("node.firewall.iptables", "node.firewall.nftables"):
                c = by_id(report)[check]
                expect(c["status"] == "ok" and c["message"].startswith("no rule drops or rejects"),
                       f"{check} ok: no rules in a fresh namespace", c)
            manifest = by_id(report)["node.manifest"]
            expect(manifest["status"] == "skip" and "no static pod manifest" in manifest["message"],
                   "node.manifest skip: no manifest under --root", manifest)
            mtu = by_id(report)["node.mtu"]
            expect(mtu["status"] == "ok" and mtu["message"].startswith("an address of this machine"),
                   "node.mtu ok: the server is local", mtu)
            code, _, text = netdebug(ns, tmp, output="yaml")
            expect(code == 0 and "tool: netdebug" in text and "node.listen" in text,
                   "-o yaml: the same report", text)
            code, _, text = netdebug(ns, tmp, output="")
            expect(code == 0 and "node.listen" in text and "verdict:" in text,
                   "text output: one line per check and the verdict", text)


@case
def listen_nothing():
    """Nothing listening on the port: node.listen fails, exit 1, failed layer node; --port is
    honoured over the kubeconfig's port."""
    with netns("nolisten") as ns, workdir(SERVER_IP) as tmp:
        add_server_address(ns)
        code, report, out = netdebug(ns, tmp)
        expect(report is not None and code == 1, "exit 1", out)
        listen = by_id(report)["node.listen"]
        expect(listen["status"] == "fail" and
               listen["message"] == f"nothing listens on port {PORT} (/proc/net/tcp, "
                                    "/proc/net/tcp6)" and listen["hint"],
               "node.listen fail: nothing listens on 6443, with a hint", listen)
        expect(report["verdict"] == "fail" and report["failedLayer"] == "node",
               "verdict fail, failed layer node", out)
        with listener(ns, SERVER_IP, 7443):
            code, report, out = netdebug(ns, tmp, "--port", "7443")
            listen = by_id(report)["node.listen"]
            expect(code == 0 and listen["status"] == "ok" and ":7443" in listen["message"],
                   "--port 7443 finds the listener on 7443", listen)


def firewall_case(suffix, rule, check_id, expected, setup_cmds):
    with netns(suffix) as ns, workdir(SERVER_IP) as tmp:
        add_server_address(ns)
        with listener(ns, SERVER_IP):
            for argv in setup_cmds:
                run_ok(argv, netns=ns)
            code, report, out = netdebug(ns, tmp)
            expect(report is not None and code == 1, "exit 1", out)
            c = by_id(report)[check_id]
            expect(c["status"] == "fail" and rule in c["message"] and expected in c["message"],
                   f"{check_id} fail naming {rule!r} ({expected})", c)
            expect(by_id(report)["node.listen"]["status"] == "ok",
                   "node.listen still ok: the socket listens", c)
            return c


@case
def iptables_drop():
    """iptables -A INPUT -p tcp --dport 6443 -j DROP inside the namespace: fail naming the rule as
    iptables-save prints it, the hint holding the delete command."""
    c = firewall_case("ipt-drop", '"-A INPUT -p tcp -m tcp --dport 6443 -j DROP"',
                      "node.firewall.iptables", "drops new connections to tcp/6443",
                      [["iptables", "-A", "INPUT", "-p", "tcp", "--dport", "6443", "-j", "DROP"]])
    expect("iptables -D INPUT -p tcp -m tcp --dport 6443 -j DROP" in c["hint"],
           "the hint deletes that rule", c)


@case
def iptables_reject():
    """A REJECT in a chain jumped to from INPUT, after a rule for another port: fail naming it."""
    firewall_case("ipt-reject", '"-A KPT-H5 -p tcp -m tcp --dport 6443 -j REJECT',
                  "node.firewall.iptables", "rejects new connections to tcp/6443",
                  [["iptables", "-N", "KPT-H5"],
                   ["iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"],
                   ["iptables", "-A", "INPUT", "-j", "KPT-H5"],
                   ["iptables", "-A", "KPT-H5", "-p", "tcp", "--dport", "6443", "-j", "REJECT"]])


@case
def iptables_accept_first():
    """An ACCEPT before the DROP: ok, naming the accepting rule."""
    with netns("ipt-accept") as ns, workdir(SERVER_IP) as tmp:
        add_server_address(ns)
        with listener(ns, SERVER_IP):
            for rule in (["-A", "INPUT", "-p", "tcp", "--dport", "6443", "-j", "ACCEPT"],
                         ["-A", "INPUT", "-p", "tcp", "--dport", "6443", "-j", "DROP"]):
                run_ok(["iptables", *rule], netns=ns)
            code, report, out = netdebug(ns, tmp)
            c = by_id(report)["node.firewall.iptables"]
            expect(code == 0 and c["status"] == "ok" and "accepted by iptables: -A INPUT -p tcp "
                   "-m tcp --dport 6443 -j ACCEPT" in c["message"],
                   "node.firewall.iptables ok: accepted first", c)


@case
def nft_drop():
    """An nftables input chain with tcp dport 6443 drop: fail naming the rule and its handle."""
    if not shutil.which("nft"):
        raise Failure("nft is not installed (scripts/setup.sh installs nftables)")
    c = firewall_case("nft-drop", "table inet kpth5 chain input: tcp dport 6443 drop",
                      "node.firewall.nftables", "drops new connections to tcp/6443",
                      [["nft", "add", "table", "inet", "kpth5"],
                       ["nft", "add", "chain", "inet", "kpth5", "input",
                        "{ type filter hook input priority 0; policy accept; }"],
                       ["nft", "add", "rule", "inet", "kpth5", "input", "tcp", "dport", "6443",
                        "drop"]])
    expect("nft delete rule inet kpth5 input handle" in c["hint"], "the hint deletes it", c)


@case
def manifest_bind_mismatch():
    """The manifest says --bind-address=127.0.0.1 while the listener is on 198.18.210.2: node.listen
    warns (exit 0, exit 1 with --fail-on=warn); a broken manifest fails node.manifest, no crash."""
    with netns("manifest") as ns, workdir(SERVER_IP) as tmp:
        add_server_address(ns)
        path = write_manifest(tmp, "--bind-address=127.0.0.1", "--secure-port=6443",
                              f"--advertise-address={SERVER_IP}")
        with listener(ns, SERVER_IP):
            code, report, out = netdebug(ns, tmp)
            expect(report is not None and code == 0, "exit 0: warnings only", out)
            listen = by_id(report)["node.listen"]
            expect(listen["status"] == "warn" and listen["message"].startswith(
                "the manifest says --bind-address=127.0.0.1, but port 6443 listens on "
                f"{SERVER_IP}:6443") and listen["hint"], "node.listen warn: bind-address mismatch",
                listen)
            manifest = by_id(report)["node.manifest"]
            expect(manifest["status"] == "ok" and manifest["message"] ==
                   f"{path}: --bind-address=127.0.0.1, --secure-port=6443, "
                   f"--advertise-address={SERVER_IP}", "node.manifest ok with its flags", manifest)
            code, _, out = netdebug(ns, tmp, "--fail-on", "warn")
            expect(code == 1, "--fail-on=warn: exit 1", out)
            write_manifest(tmp, text="spec:\n  containers: [unclosed\n")
            code, report, out = netdebug(ns, tmp)
            manifest = by_id(report)["node.manifest"] if report else {}
            expect(code == 1 and manifest.get("status") == "fail" and
                   "invalid YAML" in manifest.get("message", ""),
                   "a broken manifest: node.manifest fail, exit 1", out)
            code, report, out = netdebug(ns, tmp, "--manifest", str(tmp / "missing.yaml"))
            manifest = by_id(report)["node.manifest"]
            expect(code == 1 and manifest["status"] == "fail" and
                   manifest["message"] == f"{tmp / 'missing.yaml'}: no such file",
                   "--manifest naming a missing file: fail", manifest)


@contextlib.contextmanager
def routed_path(suffix, far_mtu):
    """client -- router -- server namespaces; the router's link to the server has `far_mtu`.
    Yields the client namespace."""
    with contextlib.ExitStack() as stack:
        c = stack.enter_context(netns(f"{suffix}-c"))
        r = stack.enter_context(netns(f"{suffix}-r"))
        s = stack.enter_context(netns(f"{suffix}-s"))
        tag = suffix[:5]
        c0, r0, r1, s0 = (f"kh5{tag}c0", f"kh5{tag}r0", f"kh5{tag}r1", f"kh5{tag}s0")
        for a, b, na, nb in ((c0, r0, c, r), (r1, s0, r, s)):
            run_ok(["ip", "link", "add", a, "netns", na, "type", "veth", "peer", "name", b,
                    "netns", nb])
        run_ok(["ip", "link", "set", r1, "mtu", str(far_mtu)], netns=r)
        run_ok(["ip", "link", "set", s0, "mtu", str(far_mtu)], netns=s)
        for dev, addr, ns in ((c0, CLIENT_IP, c), (r0, ROUTER_IN, r), (r1, ROUTER_OUT, r),
                              (s0, FAR_IP, s)):
            run_ok(["ip", "addr", "add", f"{addr}/30", "dev", dev], netns=ns)
            run_ok(["ip", "link", "set", dev, "up"], netns=ns)
        run_ok(["sysctl", "-qw", "net.ipv4.ip_forward=1"], netns=r)
        run_ok(["ip", "route", "add", "198.18.210.12/30", "via", ROUTER_IN], netns=c)
        run_ok(["ip", "route", "add", "198.18.210.8/30", "via", ROUTER_OUT], netns=s)
        yield c, r, s


@case
def mtu_lower_path():
    """A 1280-byte link behind a router, 1500 on this side: small pings pass, the DF ping of 1472
    gets 'Frag needed': node.mtu fails with the hint and the path MTU."""
    with routed_path("mtulow", 1280) as (c, _, _), workdir(FAR_IP) as tmp:
        code, report, out = netdebug(c, tmp)
        expect(report is not None, "a JSON report", out)
        mtu = by_id(report)["node.mtu"]
        expect(mtu["status"] == "fail" and mtu["message"].startswith(
            "path MTU below interface MTU: ") and "the path MTU is 1280" in mtu["message"]
            and "ping of 1472 bytes" in mtu["message"], "node.mtu fail: path MTU 1280", mtu)
        expect("to 1280 or less" in mtu["hint"], "the hint gives the MTU to set", mtu)
        expect(mtu["endpoint"] == FAR_IP and mtu["details"]["interfaceMtu"] == 1500,
               "endpoint and interface MTU in the report", mtu)
        expect(code == 1 and report["failedLayer"] == "node", "exit 1, failed layer node", out)


@case
def mtu_black_hole():
    """The same path, but the router drops its ICMP 'fragmentation needed': fail as a black hole."""
    with routed_path("mtuhole", 1280) as (c, r, _), workdir(FAR_IP) as tmp:
        run_ok(["iptables", "-A", "OUTPUT", "-p", "icmp", "--icmp-type", "fragmentation-needed",
                "-j", "DROP"], netns=r)
        code, report, out = netdebug(c, tmp)
        mtu = by_id(report)["node.mtu"] if report else {}
        expect(code == 1 and mtu.get("status") == "fail" and
               "no 'fragmentation needed'" in mtu.get("message", "") and
               "black hole" in mtu.get("hint", ""), "node.mtu fail: PMTU black hole", out)


@case
def mtu_healthy():
    """1500 bytes end to end through the router: node.mtu ok."""
    with routed_path("mtuok", 1500) as (c, _, _), workdir(FAR_IP) as tmp:
        code, report, out = netdebug(c, tmp)
        mtu = by_id(report)["node.mtu"] if report else {}
        expect(mtu.get("status") == "ok" and mtu.get("message", "").startswith(
            "path MTU is at least 1500") and mtu.get("endpoint") == FAR_IP,
               "node.mtu ok: at least 1500", out)


@case
def bad_flags():
    """Bad flags: exit 2 naming the flag; --help lists the flags."""
    with netns("flags") as ns, workdir(SERVER_IP) as tmp:
        code, _, out = netdebug(ns, tmp, "--port", "https", output="")
        expect(code == 2 and 'error: --port: "https" is not a port number' in out,
               "--port https: exit 2 naming --port", out)
        code, _, out = netdebug(ns, tmp, "-o", "xml", output="")
        expect(code == 2 and "xml" in out, "-o xml: exit 2", out)
        code, _, out = netdebug(ns, tmp, "--no-such-flag", output="")
        expect(code == 2 and "no-such-flag" in out, "an unknown flag: exit 2 naming it", out)
        code, _, out = netdebug(ns, tmp, "--help", output="")
        expect(code == 0 and "--manifest" in out and "--port" in out and "--proc" in out,
               "--help lists --port, --manifest, --proc", out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
