#!/usr/bin/env python3
"""Benchmark: kubectl certs against the tools people use today, on the lab.

    tests/bench/bench_certs.py [BUILD_DIR] [--runs N] [--count N] [--loop-sample N] [--keep]
                               [--namespace-only] [--only secrets|files]

Prints tables (wall time and peak RSS, medians of N alternating runs) for:
  1. `kubectl-certs secrets -A` over COUNT (10,000) TLS secrets in the namespace kpt-h2-bench
     vs `kubectl get secrets -A -o json` alone (which only fetches them);
  2. `kubectl-certs file` over COUNT certificate files vs a shell loop of
     `openssl x509 -noout -enddate -in F` (one process per file: it runs once, over
     LOOP-SAMPLE files (1,000), and its wall time is scaled to COUNT).
The secrets are created once (kubectl create of Lists of 500, four calls at a time) and reused
by later runs; they and the namespace are deleted at the end unless --keep is given. BUILD_DIR
defaults to the newest build*/ directory of the repository whose kubectl-certs has `secrets`.
--namespace-only lists `-n kpt-h2-bench` instead of `-A` (both tools), for iterating while
others use the lab; --only runs one of the two tables.
The lab must be up. Numbers, not assertions: this is not a test.
"""

import base64
import concurrent.futures
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LAB = str(HERE.parent / "lab" / "lab")
NAMESPACE = "kpt-h2-bench"
LABEL = "kpt-h2-bench"
DISTINCT = 50  # distinct certificates, repeated across the secrets and files


def lab(*args):
    return subprocess.run([LAB, *args], check=True, capture_output=True, text=True).stdout.strip()


def measure(argv, shell=False):
    """(wall seconds, peak RSS KiB, exit code) of one run, via GNU time (whose %M is the
    largest process of the run, so a shell loop counts its biggest child)."""
    full = ["/usr/bin/time", "-f", "%M", *(["sh", "-c", argv] if shell else argv)]
    t0 = time.monotonic()
    p = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    lines = p.stderr.strip().splitlines()
    rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    return wall, rss, p.returncode


def alternate(commands, runs):
    results = {name: ([], [], None) for name, _, _ in commands}
    for _ in range(runs):
        for name, argv, shell in commands:
            wall, rss, code = measure(argv, shell)
            walls, rsss, _ = results[name]
            walls.append(wall)
            rsss.append(rss)
            results[name] = (walls, rsss, code)
    return [(name, *results[name]) for name, _, _ in commands]


def table(title, rows):
    print(f"\n{title}\n")
    print("| command | median wall | peak RSS | exit |")
    print("|---|---|---|---|")
    for name, walls, rsss, code in rows:
        print(f"| {name} | {statistics.median(walls) * 1000:.0f} ms | "
              f"{statistics.median(rsss) / 1024:.1f} MiB | {code} |", flush=True)


def find_certs(argv):
    """BUILD_DIR/kubectl-certs, or the newest build*/kubectl-certs that knows `secrets`."""
    if argv and not argv[0].startswith("-"):
        return Path(argv[0]).resolve() / "kubectl-certs"
    candidates = sorted(ROOT.glob("build*/kubectl-certs"), key=lambda p: p.stat().st_mtime,
                        reverse=True)
    for binary in candidates:
        p = subprocess.run([str(binary), "secrets", "--help"], capture_output=True)
        if p.returncode == 0:
            return binary
    sys.exit("bench_certs: no build*/kubectl-certs with `secrets`; build first or give BUILD_DIR")


def make_certs(tmp):
    """A CA and DISTINCT EC leaf certificates made by the openssl CLI: [(crt, key)], ca."""
    ca_crt, ca_key = tmp / "ca.crt", tmp / "ca.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "3650", "-subj",
                    "/CN=kpt-bench-ca", "-keyout", str(ca_key), "-out", str(ca_crt), "-addext",
                    "basicConstraints=critical,CA:TRUE"], check=True, capture_output=True)
    pairs = []
    for i in range(DISTINCT):
        key, csr, crt = tmp / f"{i}.key", tmp / f"{i}.csr", tmp / f"{i}.crt"
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN=bench-{i}.kpt.test",
                        "-keyout", str(key), "-out", str(csr)], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt),
                        "-CAkey", str(ca_key), "-CAcreateserial", "-days", str(30 + i * 7),
                        "-out", str(crt)], check=True, capture_output=True)
        pairs.append((crt.read_bytes(), key.read_bytes()))
    return pairs, ca_crt.read_bytes()


def kubectl_json(kubectl, admin, *args, stdin=None):
    p = subprocess.run([kubectl, "--kubeconfig", admin, *args], capture_output=True, text=True,
                       input=stdin)
    if p.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


def ensure_secrets(kubectl, admin, count, pairs, ca):
    """COUNT secrets bench-00000... in NAMESPACE; only the missing ones are created."""
    subprocess.run([kubectl, "--kubeconfig", admin, "create", "namespace", NAMESPACE],
                   capture_output=True)
    present = set(kubectl_json(kubectl, admin, "get", "secrets", "-n", NAMESPACE, "-l", LABEL,
                               "-o", "name", "--chunk-size=500").split())
    missing = [i for i in range(count) if f"secret/bench-{i:05d}" not in present]
    print(f"{len(present)} bench secrets present, creating {len(missing)}", flush=True)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    ca64 = b64(ca)

    def create(chunk):
        items = [{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                  "metadata": {"name": f"bench-{i:05d}", "namespace": NAMESPACE,
                               "labels": {LABEL: "1"}},
                  "data": {"tls.crt": b64(pairs[i % len(pairs)][0]),
                           "tls.key": b64(pairs[i % len(pairs)][1]), "ca.crt": ca64}}
                 for i in chunk]
        kubectl_json(kubectl, admin, "create", "-f", "-", "-o", "name",
                     stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    t0 = time.monotonic()
    chunks = [missing[i:i + 500] for i in range(0, len(missing), 500)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(create, chunks))
    if missing:
        print(f"created {len(missing)} secrets in {time.monotonic() - t0:.1f} s", flush=True)


def drop_namespace(kubectl, admin):
    """Deletes the secrets and the namespace, then finalizes it (the lab runs no
    kube-controller-manager, so nothing else would empty it)."""
    subprocess.run([kubectl, "--kubeconfig", admin, "delete", "secrets", "--all", "-n",
                    NAMESPACE, "--wait=false"], capture_output=True)
    subprocess.run([kubectl, "--kubeconfig", admin, "delete", "namespace", NAMESPACE,
                    "--wait=false"], capture_output=True)
    p = subprocess.run([kubectl, "--kubeconfig", admin, "get", "namespace", NAMESPACE, "-o",
                        "json"], capture_output=True, text=True)
    if p.returncode == 0:
        spec = json.loads(p.stdout)
        spec["spec"]["finalizers"] = []
        subprocess.run([kubectl, "--kubeconfig", admin, "replace", "--raw",
                        f"/api/v1/namespaces/{NAMESPACE}/finalize", "-f", "-"],
                       input=json.dumps(spec), capture_output=True, text=True)


def main(argv):
    if "-h" in argv or "--help" in argv:
        print(__doc__)
        return 0
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    count = int(argv[argv.index("--count") + 1]) if "--count" in argv else 10000
    keep = "--keep" in argv
    only = argv[argv.index("--only") + 1] if "--only" in argv else ""
    scope = ["-n", NAMESPACE] if "--namespace-only" in argv else ["-A"]
    where = " ".join(scope)
    certs = str(find_certs(argv))
    bins = Path(lab("bin"))
    kubectl = str(bins / "kubectl")
    admin = lab("kubeconfig", "admin")
    version = json.loads(kubectl_json(kubectl, admin, "version", "-o", "json"))
    print(f"kubectl-certs benchmark ({certs}), {runs} alternating runs each, lab kube-apiserver "
          f"{version['serverVersion']['gitVersion']}, {count} secrets and files")
    with tempfile.TemporaryDirectory(prefix="kpt-h2-bench-") as tmp:
        tmp = Path(tmp)
        pairs, ca = make_certs(tmp)
        try:
            if only != "files":
                ensure_secrets(kubectl, admin, count, pairs, ca)
                total = len(kubectl_json(kubectl, admin, "get", "secrets", *scope, "-o", "name",
                                         "--chunk-size=500").split())
                table(f"1. Every secret {'of the cluster' if scope == ['-A'] else 'of ' + where} "
                      f"({total}, {count} of them TLS secrets with tls.crt, tls.key and ca.crt)",
                      alternate([
                          (f"kubectl-certs secrets {where} -o json (list in pages of 500, check "
                           "every certificate and key pair)",
                           [certs, "secrets", *scope, "-o", "json", "--kubeconfig", admin], False),
                          (f"kubectl-certs secrets {where} (text table)",
                           [certs, "secrets", *scope, "--kubeconfig", admin], False),
                          (f"kubectl get secrets {where} -o json (fetch only, chunks of 500)",
                           [kubectl, "--kubeconfig", admin, "get", "secrets", *scope, "-o",
                            "json"], False),
                      ], runs))
        finally:
            if keep:
                print(f"\n--keep: the secrets stay in namespace {NAMESPACE}")
            else:
                drop_namespace(kubectl, admin)
        if only == "secrets":
            return 0

        files = tmp / "files"
        files.mkdir()
        for i in range(count):
            (files / f"cert-{i:05d}.crt").write_bytes(pairs[i % len(pairs)][0])
        paths = sorted(str(p) for p in files.iterdir())
        sample = min(count, int(argv[argv.index("--loop-sample") + 1])
                     if "--loop-sample" in argv else 1000)
        loop = (f'for f in $(ls {files}/*.crt | head -n {sample}); do '
                'openssl x509 -noout -enddate -in "$f"; done')
        rows = alternate([
            ("kubectl-certs file DIR/*.crt -o json", [certs, "file", *paths, "-o", "json"],
             False),
            ("kubectl-certs file DIR/*.crt (text table)", [certs, "file", *paths], False),
        ], runs)
        (name, walls, rsss, code), = alternate([(
            "for f in DIR/*.crt; do openssl x509 -noout -enddate -in $f; done", loop, True)], 1)
        rows.append((f"{name} ({sample} files measured once, wall scaled to {count})",
                     [w * count / sample for w in walls], rsss, code))
        table(f"2. {count} certificate files", rows)
        shutil.rmtree(files)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
