#!/usr/bin/env python3
"""End-to-end tests of core::exec_in_pod (through the kp-podexec-probe test binary) against the
lab's real kube-apiserver and kwok's local exec, with `kubectl exec` on the same pod as the
oracle. Every case makes its own namespace kpt-h1-<random> with one pod on kwok-node-0 and
deletes the namespace afterwards.

    e2e_podexec.py CASE | --list

KP_PODEXEC_PROBE names the probe binary. The lab must be up.
"""

import contextlib
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import Failure, case, expect, kubectl, lab, main  # noqa: E402

POD = "probe"


def admin():
    return lab("kubeconfig", "admin")


@contextlib.contextmanager
def pod_namespace():
    """A fresh namespace with one Running pod on kwok-node-0; yields the namespace."""
    kc = admin()
    ns = f"kpt-h1-{secrets.token_hex(4)}"
    try:
        code, out = kubectl(kc, "create", "namespace", ns)
        expect(code == 0, f"namespace {ns} is created", out)
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": POD, "namespace": ns,
                            "labels": {"app.kubernetes.io/managed-by": "kplugins-e2e"}},
               "spec": {"nodeName": "kwok-node-0",
                        "containers": [{"name": "main", "image": "registry.invalid/none:1"}]}}
        p = subprocess.run([str(Path(lab("bin")) / "kubectl"), "--kubeconfig", kc, "apply",
                            "-f", "-"], input=json.dumps(pod), capture_output=True, text=True,
                           timeout=60)
        expect(p.returncode == 0, "a pod pinned to kwok-node-0 is created", p.stdout + p.stderr)
        code, out = kubectl(kc, "wait", "-n", ns, f"pod/{POD}",
                            "--for=jsonpath={.status.phase}=Running", "--timeout=60s")
        expect(code == 0, "kwok marks the pod Running", out)
        yield ns
    finally:
        delete_namespace(kc, ns)


def delete_namespace(kc, ns):
    """Deletes the pods and the namespace, then finalizes it: the lab runs no
    kube-controller-manager, whose namespace controller would otherwise do that part."""
    kubectl(kc, "delete", "pods", "--all", "-n", ns, "--grace-period=0", "--force",
            "--wait=false")
    kubectl(kc, "delete", "namespace", ns, "--ignore-not-found", "--wait=false")
    code, out = kubectl(kc, "get", "namespace", ns, "-o", "json")
    if code == 0:
        doc = json.loads(out)
        doc.setdefault("spec", {})["finalizers"] = []
        subprocess.run([str(Path(lab("bin")) / "kubectl"), "--kubeconfig", kc, "replace",
                        "--raw", f"/api/v1/namespaces/{ns}/finalize", "-f", "-"],
                       input=json.dumps(doc), capture_output=True, text=True, timeout=60)


def probe(ns, *command, kubeconfig=None, stdin=None, flags=(), pod=POD):
    """Runs the probe; returns (exit code, parsed JSON or None, raw output, wall ms)."""
    argv = [os.environ["KP_PODEXEC_PROBE"], "--kubeconfig", kubeconfig or admin(), "-n", ns,
            *flags]
    if stdin is not None:
        argv.append("--stdin")
    argv += [pod, "--", *command]
    start = time.monotonic()
    p = subprocess.run(argv, input=stdin if stdin is not None else "", capture_output=True,
                       text=True, timeout=120)
    wall = (time.monotonic() - start) * 1000
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    return p.returncode, doc, (p.stdout + p.stderr)[:4000], wall


def kubectl_exec(ns, *command, kubeconfig=None, stdin=None, pod=POD):
    """`kubectl exec` with stdout and stderr apart: (exit code, stdout, stderr, wall ms)."""
    argv = [str(Path(lab("bin")) / "kubectl"), "--kubeconfig", kubeconfig or admin(), "exec",
            "-n", ns]
    if stdin is not None:
        argv.append("-i")
    argv += [pod, "--", *command]
    start = time.monotonic()
    p = subprocess.run(argv, input=stdin if stdin is not None else "", capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr, (time.monotonic() - start) * 1000


@case
def streams_and_exit_code():
    """stdout, stderr and a non-zero exit code, as kubectl exec sees them; then exit 0.

    A real kubelet reports a non-zero exit as Status NonZeroExitCode with cause ExitCode "3"
    (exitCode 3); kwok's local exec reports it as InternalError "... exit status 3", which
    kubectl shows as an error with exit code 1, and exec_in_pod as exitCode -1 with the Status
    message. Either way the probe and kubectl must agree."""
    with pod_namespace() as ns:
        script = "echo out; echo err >&2; exit 3"
        code, doc, raw, _ = probe(ns, "sh", "-c", script)
        expect(code == 0 and doc and "error" not in doc, "the probe execs", raw)
        expect(doc["out"] == "out\n" and doc["err"] == "err\n",
               "stdout and stderr come back apart", raw)
        real = doc["exitCode"] == 3 and "exit code 3" in doc["statusMessage"]
        kwok = doc["exitCode"] == -1 and "exit status 3" in doc["statusMessage"]
        expect(real or kwok, "exit code 3, or kwok's InternalError naming exit status 3", raw)
        expect(doc["requests"] == 1, "one request counted for the exec", raw)
        kcode, kout, kerr, _ = kubectl_exec(ns, "sh", "-c", script)
        expect(kout == doc["out"] and kerr.startswith(doc["err"]),
               "kubectl exec gives the same stdout and stderr", f"{kout!r} {kerr!r}")
        expect(kcode == (3 if real else 1) and (real or doc["statusMessage"] in kerr),
               "kubectl exec fails the same way", f"{kcode} {kerr!r} vs {raw}")
        code, doc, raw, _ = probe(ns, "sh", "-c", "printf 'a b\\n'; true")
        expect(code == 0 and doc and doc.get("out") == "a b\n" and doc.get("exitCode") == 0
               and doc.get("statusMessage") == "", "a successful command: exit 0, no message",
               raw)


@case
def stdin_round_trip():
    """Stdin is sent in 32 KiB messages and closed (v5 close-stream); the command reads it back.
    kwok's local exec does not pass the close on to the command (`kubectl exec -i cat` never
    ends either), so the command reads exactly the bytes sent (head -c N) instead of cat."""
    with pod_namespace() as ns:
        data = "".join(f"line {i} of the stdin round trip\n" for i in range(6000))  # ~200 KB
        command = ("head", "-c", str(len(data)))
        code, doc, raw, _ = probe(ns, *command, stdin=data)
        expect(code == 0 and doc and "error" not in doc, "the probe execs head with stdin", raw)
        expect(doc["out"] == data and doc["exitCode"] == 0,
               f"head returns the {len(data)} bytes of stdin, exit 0",
               f"got {len(doc.get('out', ''))} bytes: {raw[:300]}")
        kcode, kout, _, _ = kubectl_exec(ns, *command, stdin=data)
        expect(kcode == 0 and kout == data, "kubectl exec -i agrees", f"{kcode} {len(kout)}")
        code, doc, raw, _ = probe(ns, "head", "-n", "1", stdin="first\nsecond\n")
        expect(code == 0 and doc and doc.get("out") == "first\n", "head -n 1 reads one line",
               raw)


@case
def mebibyte_output():
    """1 MiB of stdout arrives whole, like kubectl exec's; over --max-output it is an error."""
    with pod_namespace() as ns:
        script = "head -c 1048576 /dev/zero | tr '\\0' x"
        code, doc, raw, _ = probe(ns, "sh", "-c", script)
        expect(code == 0 and doc and "error" not in doc, "the probe execs", raw)
        expect(doc["out"] == "x" * 1048576 and doc["exitCode"] == 0, "1048576 bytes of 'x'",
               f"got {len(doc.get('out', ''))} bytes")
        kcode, kout, _, _ = kubectl_exec(ns, "sh", "-c", script)
        expect(kcode == 0 and kout == doc["out"], "kubectl exec gives the same 1 MiB",
               f"{kcode} {len(kout)}")
        code, doc, raw, _ = probe(ns, "sh", "-c", script, flags=("--max-output", "65536"))
        expect(code == 1 and doc and doc["error"]["transport"] == "tooLarge"
               and "65536" in doc["error"]["message"], "over --max-output: a tooLarge error",
               raw)


@case
def missing_pod_and_container():
    """404 NotFound for a missing pod, 400 for a missing container, with the server's words."""
    with pod_namespace() as ns:
        code, doc, raw, _ = probe(ns, "true", pod="nope")
        expect(code == 1 and doc and doc["error"]["status"] == 404
               and doc["error"]["reason"] == "NotFound"
               and 'pods "nope" not found' in doc["error"]["message"],
               '404 NotFound: pods "nope" not found', raw)
        _, _, kerr, _ = kubectl_exec(ns, "true", pod="nope")
        expect('pods "nope" not found' in kerr, "kubectl exec says the same", kerr)
        code, doc, raw, _ = probe(ns, "true", flags=("-c", "nope"))
        expect(code == 1 and doc and doc["error"]["status"] == 400
               and "nope" in doc["error"]["message"],
               "400 for a container the pod does not have", raw)


@case
def forbidden():
    """The limited user may read pods but not exec: 403 Forbidden, as kubectl is told. (The
    WebSocket upgrade is a GET, so the server names the verb get, where SPDY's POST is create.)"""
    with pod_namespace() as ns:
        limited = lab("kubeconfig", "limited")
        code, out = kubectl(limited, "get", "pod", "-n", ns, POD)
        expect(code == 0, "the limited user can read the pod", out)
        code, doc, raw, _ = probe(ns, "true", kubeconfig=limited)
        expect(code == 1 and doc and doc["error"]["status"] == 403
               and doc["error"]["reason"] == "Forbidden"
               and re.search(r'User "limited" cannot (get|create) resource "pods/exec"',
                             doc["error"]["message"]),
               '403 Forbidden: User "limited" cannot get resource "pods/exec"', raw)
        # kubectl falls back to SPDY (a POST: verb create) after the WebSocket 403.
        kcode, _, kerr, _ = kubectl_exec(ns, "true", kubeconfig=limited)
        words = doc["error"]["message"].split(": ", 1)[1].rsplit(" (HTTP", 1)[0]
        verbless = re.compile(r"cannot (get|create) resource")
        expect(kcode != 0 and verbless.sub("cannot VERB resource", words)
               in verbless.sub("cannot VERB resource", kerr),
               "kubectl exec is refused with the same message (but for the verb)",
               f"{kerr!r} vs {words!r}")


@case
def timing_against_kubectl():
    """Median wall time of one exec (the whole probe process) against `kubectl exec`; both
    must succeed, and the probe must not be slower than kubectl (printed, for the record)."""
    with pod_namespace() as ns:
        ours, theirs, inside = [], [], []
        for _ in range(7):
            code, doc, raw, wall = probe(ns, "echo", "hi")
            expect(code == 0 and doc and doc.get("out") == "hi\n", "probe echo hi", raw)
            ours.append(wall)
            inside.append(doc["elapsedMs"])
            kcode, kout, kerr, kwall = kubectl_exec(ns, "echo", "hi")
            if kcode != 0 or kout != "hi\n":
                raise Failure(f"kubectl exec echo hi: {kcode} {kout!r} {kerr!r}")
            theirs.append(kwall)
        mine, kube = statistics.median(ours), statistics.median(theirs)
        print(f"  median wall: kp-podexec-probe {mine:.0f} ms (exec_in_pod itself "
              f"{statistics.median(inside):.0f} ms), kubectl exec {kube:.0f} ms")
        expect(mine <= kube * 1.2, "the probe is not slower than kubectl exec",
               f"{ours} vs {theirs}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
