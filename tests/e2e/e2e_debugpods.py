#!/usr/bin/env python3
"""End-to-end tests of the debug-pod commands, `kubectl netdebug run|cleanup` and `kubectl certs
node`, through kubectl's plugin dispatch against the lab's real kube-apiserver and kwok nodes.
kwok serves each pod's exec by running the command on this machine, so the real in-pod scripts
run (with the lab's service-account directory and node root, see `pod_view` in tests/lab/lab).

    e2e_debugpods.py CASE | --list
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import case, expect, lab, main, sh  # noqa: E402

LAB_DIR = Path(os.environ.get("LAB_DIR", "/tmp/kplugins-lab"))
SELECTOR = "app.kubernetes.io/managed-by=kplugins"


def env():
    path = f"{os.environ['KP_BIN_DIR']}:{lab('bin')}:{os.environ['PATH']}"
    return {"PATH": path, "KUBECONFIG": lab("kubeconfig", "admin")}


def kubectl(*args, timeout=120):
    return sh(["kubectl", *args], env=env(), timeout=timeout)


def kubectl_json(*args, timeout=180):
    code, out = kubectl(*args, "-o", "json", timeout=timeout)
    start = out.find("{")
    try:  # stdout's JSON, then whatever went to stderr
        return code, json.JSONDecoder().raw_decode(out[start:])[0] if start >= 0 else None, out
    except ValueError:
        return code, None, out


def debug_pods(namespace=None):
    where = ["-n", namespace] if namespace else ["-A"]
    code, out = kubectl("get", "pods", *where, "-l", SELECTOR, "-o", "name")
    expect(code == 0, "kubectl get pods answers", out)
    return out.split()


def expect_no_pods(what):
    deadline = time.monotonic() + 10
    while debug_pods() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = debug_pods()
    expect(not left, f"no debug pod is left after {what}", left)


def by_id(report, node=None):
    return {c["id"] + ("@" + c["details"]["endpoint"] if c.get("details") and
                       isinstance(c["details"], dict) and "endpoint" in c["details"] else ""): c
            for c in report["checks"] if node is None or c.get("endpoint") == node}


class PodWatcher:
    """Counts the debug pods alive at once from the API's own watch events."""

    def __init__(self, namespace=None):
        where = ["-n", namespace] if namespace else ["-A"]
        self.proc = subprocess.Popen(
            ["kubectl", "get", "pods", *where, "-l", SELECTOR, "--watch", "--output-watch-events",
             "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=dict(os.environ, **env()))
        self.alive, self.peak, self.added = set(), 0, 0
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()
        time.sleep(1.0)  # the watch is established before the run starts

    def read(self):
        decoder, buf = json.JSONDecoder(), ""
        for line in self.proc.stdout:
            buf += line
            while buf.strip():
                try:
                    event, end = decoder.raw_decode(buf.lstrip())
                except ValueError:
                    break
                buf = buf.lstrip()[end:]
                meta = event["object"]["metadata"]
                key = (meta["namespace"], meta["name"])
                if event["type"] == "ADDED":
                    self.added += 1
                    self.alive.add(key)
                elif event["type"] == "DELETED":
                    self.alive.discard(key)
                self.peak = max(self.peak, len(self.alive))

    def stop(self):
        time.sleep(1.0)
        self.proc.terminate()
        self.proc.wait(timeout=10)


@case
def run_one_node():
    """One node: the suite's checks come back as layer incluster with endpoint = the node,
    cluster DNS, the service and the EndpointSlice's endpoint all ok; the pod is gone."""
    code, report, out = kubectl_json("netdebug", "run", "--node", "kwok-node-1")
    expect(report is not None and code == 0, "kubectl netdebug run -o json exits 0", out)
    checks = by_id(report, "kwok-node-1")
    expect(all(c["layer"] == "incluster" and c["endpoint"] == "kwok-node-1"
               for c in report["checks"] if c["id"] != "incluster.endpoints"),
           "every check is layer incluster on kwok-node-1", out)
    for cid in ("incluster.pod", "incluster.resolvconf", "incluster.dns.fqdn",
                "incluster.dns.search", "incluster.service.tcp", "incluster.service.tls",
                "incluster.service.livez", "incluster.service.readyz",
                "incluster.endpoint.tcp@198.18.0.2:6443", "incluster.endpoint.tls@198.18.0.2:6443",
                "incluster.endpoint.readyz@198.18.0.2:6443"):
        expect(checks.get(cid, {}).get("status") == "ok", f"{cid} is ok", checks.get(cid, out))
    expect("198.18.0.2" in checks["incluster.dns.fqdn"]["message"],
           "the service name resolves to the lab's API server", checks["incluster.dns.fqdn"])
    expect(checks["incluster.route.default"]["status"] == "warn",
           "the lab's namespace has no default route, and the suite says so",
           checks["incluster.route.default"])
    expect_no_pods("a run")


@case
def pod_spec_per_profile():
    """--keep leaves the pods to inspect: node, host network, labels, tolerations and the
    security context of each profile; `cleanup` then deletes exactly them."""
    runs = {"default": [], "restricted": ["--host-network"], "netadmin": []}
    try:
        for profile, extra in runs.items():
            code, report, out = kubectl_json("netdebug", "run", "--node", "kwok-node-2",
                                             "--profile", profile, "--keep", *extra)
            expect(report is not None and code == 0, f"run --profile {profile} exits 0", out)
            mtu = by_id(report)["incluster.mtu"]
            if profile == "restricted":
                expect(mtu["status"] == "skip" and "restricted profile" in mtu["message"],
                       "restricted: the raw-socket probe is skipped with the reason", mtu)
        code, pods, out = kubectl_json("get", "pods", "-n", "default", "-l", SELECTOR)
        expect(code == 0 and len(pods["items"]) == 3, "--keep left the three pods", out)
        seen = []
        for pod in pods["items"]:
            spec, labels = pod["spec"], pod["metadata"]["labels"]
            sc = spec["containers"][0].get("securityContext", {})
            profile = ("restricted" if sc.get("runAsNonRoot") else
                       "netadmin" if "add" in sc.get("capabilities", {}) else "default")
            seen.append(profile)
            expect(spec["nodeName"] == "kwok-node-2", "pinned to the node", spec)
            expect(spec.get("hostNetwork", False) == (profile == "restricted"),
                   "host network only where asked", spec)
            expect(labels.get("kplugins.io/tool") == "netdebug" and "kplugins.io/run" in labels,
                   "labelled with the tool and the run", labels)
            expect(spec["tolerations"] == [{"operator": "Exists"}], "tolerates every taint", spec)
            expect(spec["restartPolicy"] == "Never" and spec["activeDeadlineSeconds"] > 0,
                   "never restarted, and ends by itself", spec)
            if profile == "restricted":
                expect(sc.get("allowPrivilegeEscalation") is False and
                       sc.get("capabilities", {}).get("drop") == ["ALL"] and
                       sc.get("seccompProfile", {}).get("type") == "RuntimeDefault" and
                       sc.get("runAsNonRoot") is True, "restricted security context", sc)
            if profile == "netadmin":
                expect(sorted(sc["capabilities"]["add"]) == ["NET_ADMIN", "NET_RAW"],
                       "netadmin adds NET_ADMIN and NET_RAW", sc)
        expect(sorted(seen) == sorted(runs), "one pod per profile", seen)
        code, out = kubectl("netdebug", "cleanup", "--older-than", "1h")
        expect(code == 0 and "deleted 0 debug pod(s)" in out, "--older-than 1h spares them", out)
        expect(len(debug_pods()) == 3, "the pods are still there", debug_pods())
        code, out = kubectl("netdebug", "cleanup", "--dry-run")
        expect(code == 0 and out.count("would delete pod/") == 3, "--dry-run lists them", out)
        code, out = kubectl("netdebug", "cleanup")
        expect(code == 0 and "deleted 3 debug pod(s)" in out, "cleanup deletes the three", out)
        expect_no_pods("cleanup")
    finally:
        kubectl("delete", "pods", "-A", "-l", SELECTOR, "--grace-period=0", "--force")


@case
def all_nodes_fifty():
    """--all-nodes over 50 kwok nodes gives 50 results, with at most --concurrency pods alive
    at once (counted from the API's watch events, not from the plugin's word)."""
    lab("nodes", "50")
    try:
        watcher = PodWatcher()
        t0 = time.monotonic()
        code, report, out = kubectl_json("netdebug", "run", "--all-nodes", "--concurrency", "5",
                                         "-v", "1", timeout=300)
        took = time.monotonic() - t0
        watcher.stop()
        expect(report is not None and code == 0, "run --all-nodes exits 0", out[-2000:])
        pods = [c for c in report["checks"] if c["id"] == "incluster.pod"]
        expect(len(pods) == 50 and all(c["status"] == "ok" for c in pods),
               "50 nodes, each with its pod ok", [c["message"] for c in pods][:5])
        expect(len({c["endpoint"] for c in report["checks"] if c["endpoint"]}) == 50,
               "checks from 50 distinct nodes", len(report["checks"]))
        expect(watcher.added == 50, "50 pods were created", watcher.added)
        expect(2 <= watcher.peak <= 5, "between 2 and 5 pods alive at once", watcher.peak)
        print(f"50 nodes in {took:.1f}s, peak {watcher.peak} pods alive")
        expect_no_pods("--all-nodes")
    finally:
        lab("nodes", "3")


@case
def matrix_text():
    """Text output for many nodes is a node x check matrix, failing cells explained below."""
    code, out = kubectl("netdebug", "run", "--all-nodes")
    lines = out.splitlines()
    expect(code == 0 and lines[0].startswith("NODE") and "dns.fqdn" in lines[0],
           "a header row with the check columns", out)
    rows = [line for line in lines if line.startswith("kwok-node-")]
    expect(len(rows) == 3 and all(" ok " in r or r.endswith(" ok") for r in rows),
           "one row per node", out)
    expect("WARN kwok-node-0 route.default:" in out, "the warning cells are explained", out)
    expect(lines[-1].startswith("verdict: warn (3 nodes"), "a verdict line", out)
    expect_no_pods("a text run")


def interrupted(sig):
    lab("nodes", "12")
    try:
        p = subprocess.Popen(["kubectl", "netdebug", "run", "--all-nodes", "--concurrency", "3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, **env()))
        deadline = time.monotonic() + 30
        while not debug_pods() and time.monotonic() < deadline:
            time.sleep(0.1)
        expect(debug_pods(), "a debug pod exists before the signal", "")
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
        expect(p.returncode == 128 + sig, f"exit code {128 + sig} after signal {sig}",
               (p.returncode, err))
        expect("the debug pods were deleted" in err, "it says so", err)
        left = debug_pods()  # at once: the plugin deleted them before exiting
        expect(not left, "no debug pod is left, right after it exits", left)
    finally:
        kubectl("delete", "pods", "-A", "-l", SELECTOR, "--grace-period=0", "--force")
        lab("nodes", "3")


@case
def sigint_leaves_no_pod():
    """Ctrl-C in the middle of --all-nodes: every pod is deleted before the exit."""
    interrupted(signal.SIGINT)


@case
def sigterm_leaves_no_pod():
    """SIGTERM likewise."""
    interrupted(signal.SIGTERM)


def alive_now(watcher):
    """The pods the watcher has seen added and not yet deleted (its thread may be adding)."""
    while True:
        try:
            return sorted(name for _, name in watcher.alive)
        except RuntimeError:  # the set changed while it was copied
            continue


@case
def interrupted_twenty_times():
    """--all-nodes over 8 nodes interrupted twenty times at random moments (between 0 and the
    time an uninterrupted run takes), 15 times by SIGINT and 5 by SIGTERM: after each, no pod
    with the managed-by label is left (listed through the API at once), and the exit code says
    which signal, or 0/1 when the run finished first. KP_SEED=N replays the same delays. The
    pods go to a namespace of the case's own, so nobody else's debug pods are counted."""
    seed = int(os.environ.get("KP_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    print(f"seed {seed} (KP_SEED={seed} replays these delays)")
    ns = f"kpt-intr-{os.getpid()}"
    argv = ["kubectl", "netdebug", "run", "-n", ns, "--all-nodes", "--concurrency", "3"]
    lab("nodes", "8")
    code, out = kubectl("create", "namespace", ns)
    expect(code == 0, f"namespace {ns} created", out)
    watcher = None
    try:
        t0 = time.monotonic()
        code, out = kubectl(*argv[1:])
        typical = time.monotonic() - t0
        expect(code in (0, 1), f"an uninterrupted run ends by itself ({typical:.1f} s)",
               out[-2000:])
        expect(not debug_pods(ns), "no pod is left after an uninterrupted run", debug_pods(ns))
        watcher = PodWatcher(ns)
        outcomes = {}
        for i in range(20):
            sig = signal.SIGTERM if i % 4 == 3 else signal.SIGINT
            delay = rng.uniform(0, typical)
            added = watcher.added
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=dict(os.environ, **env()))
            try:
                time.sleep(delay)
                alive = alive_now(watcher)
                p.send_signal(sig)  # nothing happens if it has already ended
                _, err = p.communicate(timeout=60)
            finally:
                p.kill()
            left = debug_pods(ns)  # at once: the plugin deleted its pods before exiting
            code = p.returncode
            created = watcher.added - added
            # Before the plugin installs its handler (kubectl is still exec'ing it, or the
            # plugin is reading its kubeconfig) the signal's default action ends the process:
            # the shell's 128 + signal too, and allowed only if no pod had been created yet.
            # A run the signal cut short must say so, not fail a request with "cancelled".
            finished = code in (0, 1) and "cancel" not in err.lower()
            how = ("finished first" if finished else "handled" if code == 128 + sig
                   else "killed before its handler" if code == -sig else "unexpected")
            outcomes[how] = outcomes.get(how, 0) + 1
            print(f"  run {i + 1:2}: {sig.name} after {delay:5.2f} s, {len(alive)} pod(s) alive "
                  f"at the signal {alive}, {created} created; exit {code} ({how}); "
                  f"left {left}")
            expect(not left, f"run {i + 1}: no debug pod is left after {sig.name}", left)
            expect(how in ("finished first", "handled") or
                   (how == "killed before its handler" and created == 0),
                   f"run {i + 1}: exit {128 + sig} after {sig.name} (or 0/1 if it finished)",
                   (code, created, err[-2000:]))
            if how == "handled":
                expect(f"interrupted (signal {int(sig)})" in err and
                       "the debug pods were deleted" in err, f"run {i + 1}: it says so", err)
        print(f"seed {seed}, uninterrupted run {typical:.1f} s, outcomes {outcomes}")
        expect(outcomes.get("handled", 0) >= 1, "at least one run was interrupted mid-way",
               outcomes)
    finally:
        if watcher is not None:
            watcher.stop()
        kubectl("delete", "pods", "-n", ns, "--all", "--grace-period=0", "--force")
        kubectl("delete", "namespace", ns, "--wait=false")
        # The lab runs no controller-manager, whose namespace controller ends the deletion once
        # the namespace is empty: its last step (the finalizer removed) by hand, if it is empty
        # (finalizing it with pods inside would leave them in etcd, out of sight).
        code, out = kubectl("get", "pods", "-n", ns, "-o", "name")
        if code == 0 and not out.split():
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                    "spec": {"finalizers": []}}
            sh(["kubectl", "replace", "--raw", f"/api/v1/namespaces/{ns}/finalize", "-f", "-"],
               env=env(), stdin=json.dumps(body))
        lab("nodes", "3")


@case
def image_never_pulls():
    """A pod whose image cannot be pulled: ImagePullBackOff quoted, --image in the hint."""
    code, report, out = kubectl_json("netdebug", "run", "--image", "lab.invalid/never-pulls:v1",
                                     "--timeout", "4s")
    expect(report is not None and code == 1, "exit code 1", out)
    pod = by_id(report)["incluster.pod"]
    expect(pod["status"] == "fail" and "did not start within 4 s: ImagePullBackOff" in
           pod["message"] and "never-pulls" in pod["message"], "the reason is quoted", pod)
    expect("--image" in pod["hint"], "the hint names --image", pod)
    expect_no_pods("a pod that never started")


@case
def node_without_kubelet():
    """A node nobody runs (no kubelet answers for it): the pod never starts, the timeout says
    so and points at the node; the pod is deleted."""
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "lab-no-kubelet"}}
    code, out = sh(["kubectl", "apply", "-f", "-"], env=env(), stdin=json.dumps(node))
    expect(code == 0, "node created", out)
    try:
        code, report, out = kubectl_json("netdebug", "run", "--node", "lab-no-kubelet",
                                         "--timeout", "3s")
        expect(report is not None and code == 1, "exit code 1", out)
        pod = by_id(report)["incluster.pod"]
        expect("did not start within 3 s" in pod["message"] and pod["hint"],
               "the timeout is explained", pod)
        expect_no_pods("a timeout")
    finally:
        kubectl("delete", "node", "lab-no-kubelet", "--wait=false")


@case
def restricted_namespace():
    """A namespace enforcing the restricted Pod Security level rejects the default pod (the
    rejection is quoted, the hint names --profile restricted); --profile restricted passes."""
    ns = f"kpt-psa-{os.getpid()}"
    kubectl("create", "namespace", ns)
    try:
        kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
        code, report, out = kubectl_json("netdebug", "run", "-n", ns, "--profile", "netadmin")
        expect(report is not None and code == 1, "exit code 1", out)
        pod = by_id(report)["incluster.pod"]
        expect("violates PodSecurity" in pod["message"] and "--profile restricted" in
               pod["hint"], "the Pod Security rejection is quoted", pod)
        code, report, out = kubectl_json("netdebug", "run", "-n", ns, "--profile", "restricted")
        expect(report is not None and code == 0 and
               by_id(report)["incluster.pod"]["status"] == "ok", "restricted passes", out)
        expect_no_pods("a restricted run")
    finally:
        kubectl("delete", "namespace", ns, "--wait=false")


@case
def bad_flags_exit_2():
    """Bad input: exit 2 naming the flag or the node, and no pod created."""
    for args, needle in ((["--profile", "root"], "--profile"),
                         (["--concurrency", "0"], "--concurrency"),
                         (["--node", "a", "--all-nodes"], "exclude"),
                         (["--node", "no-such-node"], "no-such-node"),
                         (["--timeout", "soon"], "soon")):
        code, out = kubectl("netdebug", "run", *args)
        expect(code == 2 and needle in out, f"{args}: exit 2 naming {needle}", out)
    expect_no_pods("bad flags")


@case
def shell_round_trip():
    """`shell` on a pseudo-terminal: kubectl exec -it into the pod, a command typed and its
    answer seen, and the pod deleted when the shell exits."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(env())
        os.execvp("kubectl", ["kubectl", "netdebug", "shell", "--node", "kwok-node-1"])
    # The command is typed again every 2 s until its answer shows (a shell still starting can
    # drop what was typed ahead), then the shell is left with exit 7.
    out, typed, left, t0 = b"", None, False, time.monotonic()
    while time.monotonic() - t0 < 60:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
        now = time.monotonic()
        if b"kp-42" in out:
            if not left:
                os.write(fd, b"exit 7\n")
                left = True
        elif now - t0 > 2 and (typed is None or now - typed > 2) and debug_pods():
            os.write(fd, b"echo kp-$((40+2))\n")
            typed = now
    if not left:
        os.kill(pid, signal.SIGTERM)  # no answer in 60 s: end it (and its pod) rather than hang
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    expect("kp-42" in text, "the typed command ran in the pod's shell", text[-2000:])
    # A real kubelet passes the shell's exit code 7 on; kwok reports it as an internal error.
    code = os.waitstatus_to_exitcode(status)
    expect(code in (7, 1), "the shell's exit ends the command", (code, text[-500:]))
    expect("deleted" in text, "it says the pod was deleted", text[-500:])
    expect_no_pods("the shell")


def certs_report(*args):
    code, report, out = kubectl_json("certs", *args)
    expect(report is not None, f"kubectl certs {' '.join(args)} -o json answers", out)
    return code, report, out


def by_source(report):
    return {c["details"]["source"].split(":", 1)[-1]: c for c in report["checks"]
            if c.get("details") and "source" in c["details"]}


@case
def certs_node_agrees_with_pki():
    """`certs node` reads the node's PKI through a debug pod and reaches the same verdict, per
    certificate, as `certs pki` on the same files; no private key leaves the node."""
    root = LAB_DIR / "kwok" / "node-root" / "etc" / "kubernetes"
    _, local, _ = certs_report("pki", "--dir", str(LAB_DIR / "pki"), "--kubeconfig-dir",
                               str(root))
    code, node, out = certs_report("node", "kwok-node-1")
    expect(code == 0, "exit 0", out)
    expected = {s.replace(str(LAB_DIR / "pki"), "/etc/kubernetes/pki"): c
                for s, c in by_source(local).items()}
    got = by_source(node)
    expect(set(got) == set(expected), "the same certificates", (sorted(got), sorted(expected)))
    for source, c in got.items():
        want = expected[source]
        expect((c["status"], c["details"].get("notAfter")) ==
               (want["status"], want["details"].get("notAfter")),
               f"{source}: same status and expiry", (c, want))
    expect(all(c["endpoint"] == "kwok-node-1" for c in node["checks"]), "endpoint = node", out)
    expect("PRIVATE KEY" not in out, "no private key in the output", out)
    expect_no_pods("certs node")


@case
def certs_node_finds_a_mismatched_key():
    """A node whose apiserver.key belongs to another pair: `certs node` fails that certificate
    with the key named (the pairing works on public halves only)."""
    root = LAB_DIR / "kwok" / "node-root" / "etc" / "kubernetes"
    with tempfile.TemporaryDirectory() as tmp:
        pki = Path(tmp) / "pki"
        shutil.copytree(LAB_DIR / "pki", pki)
        shutil.copy(pki / "front-proxy-client.key", pki / "apiserver.key")
        (root / "pki").unlink()
        (root / "pki").symlink_to(pki)
        try:
            code, report, out = certs_report("node", "kwok-node-0")
        finally:
            (root / "pki").unlink()
            (root / "pki").symlink_to(LAB_DIR / "pki")
    expect(code == 1, "exit 1", out)
    c = by_source(report)["/etc/kubernetes/pki/apiserver.crt"]
    expect(c["status"] == "fail" and "does not match its key" in c["message"],
           "the mismatch is found", c)
    others = [s for s, x in by_source(report).items() if x["status"] == "fail"]
    expect(others == ["/etc/kubernetes/pki/apiserver.crt"], "only that one fails", others)
    expect_no_pods("certs node")


@case
def certs_node_interrupted():
    """Ctrl-C while the node's pod is starting (its image never pulls): the pod is deleted
    before the exit, and the exit code says which signal."""
    p = subprocess.Popen(["kubectl", "certs", "node", "kwok-node-0", "--image",
                          "lab.invalid/never-pulls:v1", "--timeout", "60s"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, **env()))
    try:
        deadline = time.monotonic() + 30
        while not debug_pods() and time.monotonic() < deadline:
            time.sleep(0.1)
        expect(debug_pods(), "the debug pod exists before the signal", "")
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        expect(p.returncode == 130, "exit code 130", (p.returncode, err))
        expect(not debug_pods(), "no debug pod is left, right after it exits", debug_pods())
    finally:
        p.kill()
        kubectl("delete", "pods", "-A", "-l", SELECTOR, "--grace-period=0", "--force")


@case
def certs_node_unknown_node():
    """An unknown node is bad input: exit 2, no pod."""
    code, out = kubectl("certs", "node", "no-such-node")
    expect(code == 2 and "no-such-node" in out and "not found" in out, "exit 2 naming it", out)
    expect_no_pods("an unknown node")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
