#!/usr/bin/env python3
"""Benchmark: kubectl apicheck against the tools people use today, on the lab.

    tests/bench/bench_apicheck.py BUILD_DIR [--runs N]

Prints tables (wall time and peak RSS, medians of N alternating runs) for:
  1. a full diagnosis (`kubectl-apicheck -o json`) vs `kubectl get --raw /healthz` vs one curl,
     the diagnosis once with each kind of kubectl first on PATH (the lab's, whose build info
     says its version; a wrapper script that says nothing, run once and then cached; the
     Google Cloud SDK's version dispatcher where this machine has one; none), each with its
     ratio to kubectl's wall and peak RSS (targets: <= 0.5x and <= 1/3);
  2. time to a verdict on a dropped SYN (the tcp-syn-drop scenario) vs kubectl's default;
  3. `--endpoints` with 1, 10 and 50 backends (the ha-haproxy scenario's backends repeated).
The lab must be up. Numbers, not assertions: this is not a test.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAB = str(HERE.parent / "lab" / "lab")


def lab(*args):
    return subprocess.run([LAB, *args], check=True, capture_output=True, text=True).stdout.strip()


def measure(argv, netns=None, env=None):
    """(wall seconds, peak RSS KiB, exit code) of one run, via GNU time."""
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    full = ["/usr/bin/time", "-f", "%M", *argv]
    t0 = time.monotonic()
    p = subprocess.run(full, capture_output=True, text=True, env=dict(os.environ, **(env or {})))
    wall = time.monotonic() - t0
    rss = int(p.stderr.strip().splitlines()[-1]) if p.stderr.strip() else 0
    return wall, rss, p.returncode


def table(title, rows, anchor=None):
    """Medians; with an anchor row, each row's wall and peak RSS as a ratio of the anchor's."""
    print(f"\n{title}\n")
    extra = f" | wall / {anchor[0]} | RSS / {anchor[0]}" if anchor else ""
    print(f"| command | median wall | peak RSS | exit{extra} |")
    print("|---|---|---|---|" + ("---|---|" if anchor else ""))
    for name, walls, rsss, code in rows:
        ratios = ""
        if anchor:
            ratios = (f" | {statistics.median(walls) / statistics.median(anchor[1]):.2f}x"
                      f" | {statistics.median(rsss) / statistics.median(anchor[2]):.2f}x")
        print(f"| {name} | {statistics.median(walls) * 1000:.0f} ms | "
              f"{statistics.median(rsss) / 1024:.1f} MiB | {code}{ratios} |")


def alternate(commands, runs, netns=None, env=None):
    """commands: (name, argv) or (name, argv, extra env for that command)."""
    results = {c[0]: ([], [], None) for c in commands}
    for _ in range(runs):
        for name, argv, *own in commands:
            wall, rss, code = measure(argv, netns, {**(env or {}), **((own and own[0]) or {})})
            walls, rsss, _ = results[name]
            walls.append(wall)
            rsss.append(rss)
            results[name] = (walls, rsss, code)
    return [(c[0], *results[c[0]]) for c in commands]


def kubectl_on_path(tmp, bins):
    """(description, env) for each kind of kubectl a user may have first on PATH. apicheck runs
    directly (no KUBECTL_PATH), with its own version cache, warmed by one run: the first run
    after a kubectl upgrade aside."""
    wrapper = tmp / "wrapper"
    wrapper.mkdir()
    (wrapper / "kubectl").write_text(f'#!/bin/sh\nPATH={bins}:$PATH exec kubectl "$@"\n')
    (wrapper / "kubectl").chmod(0o755)
    kinds = [("the lab's kubectl (version from its build info)", str(bins)),
             ("a wrapper script that says nothing (run once, then cached)", str(wrapper))]
    sdk = Path("/usr/lib/google-cloud-sdk/bin/kubectl")
    if sdk.exists():
        kinds.append(("the Cloud SDK's version dispatcher", str(sdk.parent)))
    (tmp / "empty").mkdir()
    kinds.append(("no kubectl on PATH", str(tmp / "empty")))
    out = []
    for what, first in kinds:
        env = {"PATH": f"{first}:/usr/sbin:/sbin" if first == str(tmp / "empty")
               else f"{first}:{os.environ['PATH']}",
               "KUBECTL_PATH": "", "XDG_CACHE_HOME": str(tmp / "cache")}
        out.append((what, env))
    return out


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    build = Path(argv[0]).resolve()
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 10
    bins = Path(lab("bin"))
    # Everyone finds the lab's kubectl first, as a user of this cluster would (apicheck reads
    # its version for the skew check).
    os.environ["PATH"] = f"{bins}:{os.environ['PATH']}"
    kubectl = str(bins / "kubectl")
    apicheck = str(build / "kubectl-apicheck")
    admin = lab("kubeconfig", "admin")
    ca = str(Path(os.environ.get("LAB_DIR", "/tmp/kplugins-lab")) / "pki" / "ca.crt")
    print(f"kubectl-apicheck benchmark, {runs} alternating runs each, lab kube-apiserver "
          f"{json.loads(subprocess.run([kubectl, '--kubeconfig', admin, 'version', '-o', 'json'], capture_output=True, text=True).stdout)['serverVersion']['gitVersion']}")

    with tempfile.TemporaryDirectory() as tmp:
        kinds = kubectl_on_path(Path(tmp), bins)
        for _, env in kinds:  # warms each one's version cache
            measure([apicheck, "--kubeconfig", admin, "-o", "json"], env=env)
        rows = alternate([
            ("kubectl get --raw /healthz", [kubectl, "--kubeconfig", admin, "get", "--raw",
                                            "/healthz"], None),
            ("curl /healthz (one request)", ["curl", "-s", "--cacert", ca,
                                             "https://198.18.0.2:6443/healthz"], None),
        ] + [(f"kubectl apicheck -o json, {what}", [apicheck, "--kubeconfig", admin, "-o", "json"],
              env) for what, env in kinds], runs)
        anchor = rows[0]
        table("1. A full diagnosis (every layer: config, DNS, TCP, TLS probe, 4 health "
              "endpoints, whoami, skew) against one request", rows, anchor)

    env = dict(line.split("=", 1) for line in lab("scenario", "tcp-syn-drop").splitlines())
    try:
        rows = alternate([
            ("kubectl apicheck (default --timeout 5s)", [apicheck, "--kubeconfig",
                                                         env["KUBECONFIG"]]),
            ("kubectl get --raw /healthz (defaults)", [kubectl, "--kubeconfig",
                                                       env["KUBECONFIG"], "get", "--raw",
                                                       "/healthz"]),
        ], 1, netns=env["NETNS"])
        table("2. Time to a verdict on a dropped SYN (one run each)", rows)
    finally:
        lab("scenario", "tcp-syn-drop", "--down")

    env = dict(line.split("=", 1) for line in lab("scenario", "ha-haproxy").splitlines())
    try:
        backends = env["ENDPOINTS"].split(",")
        rows = []
        for n in (1, 10, 50):
            listed = ",".join((backends * 50)[:n])
            rows += alternate([(f"--endpoints with {n} backends",
                                [apicheck, "--kubeconfig", env["KUBECONFIG"], "-o", "json",
                                 "--endpoints", listed])], max(3, runs // 3), netns=env["NETNS"])
        table("3. HA backends checked directly: 1 is the ready backend; 10 and 50 repeat the "
              "ready, the dead and the unready one (all probed concurrently)", rows)
    finally:
        lab("scenario", "ha-haproxy", "--down")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
