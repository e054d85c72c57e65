#!/usr/bin/env python3
"""Differential tests: the three plugins against the real kubectl (client-go), over seeded random
configurations.

    diff.py AREA [--seed S] [--count N] [--jobs J] [--show-case I] [--keep]
    diff.py --list          the CTest cases (each area at CI size, and the self-test)
    diff.py CASE            one CTest case: ci-<area> or self-test

AREA is resolution, credentials, proxies, exec or refusal. Case I of (AREA, S) is a pure function
of the three (gen.py), so any disagreement is reproduced with `--seed S --index I`.

Each worker runs in its own network and mount namespace (unshare -n -m, as root): loopback plus
198.18.0.0/15 addresses, its own /etc/hosts (api.diff.test, ...), a tmpfs on /run for the
in-cluster service-account files, recording TLS servers and CONNECT proxies (recorder.py). No
packet leaves the namespace. For every case it runs:

  kubectl get configmaps -v=6         (the lab's kubectl: the URL it dials, the namespace, and,
                                       on the recording servers and proxies, the SNI, client
                                       certificate, Authorization and Impersonate-* headers, the
                                       proxy; an exec plugin that records how it was run)
  kubectl-{apicheck,certs,netdebug} __config   (the resolved fields; the three must agree)
  kubectl-apicheck -o json            (its real run: what it sends, where, through which proxy)

and compares (compare.py). Deliberate differences are named in KNOWN-DIFFERENCES.md and in
compare.KNOWN; any other disagreement fails the run and is printed as a reproducible case.
Needs: KP_BIN_DIR (the plugins), the lab's kubectl (KP_KUBECTL, else `tests/lab/lab bin`).
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402
import gen  # noqa: E402

try:
    import yaml
except ImportError:  # JSON is YAML too
    yaml = None

KUBECTL = "kubectl"  # the lab's, set by the worker
CI_COUNT = 300  # per area in CI (ci-<area>); refusal, an extra area, runs fewer
CI_COUNTS = {"refusal": 150}
CI_SEED = 16
EXEC_PLUGIN = r'''#!/usr/bin/env python3
import json, os, sys
info = os.environ.get("KUBERNETES_EXEC_INFO")
record = {"argv": sys.argv[1:], "stdinTTY": sys.stdin.isatty() if sys.stdin else None,
          "env": {k: v for k, v in os.environ.items()
                  if k.startswith("DIFF_") and k != "DIFF_EXEC_LOG"},
          "execInfo": json.loads(info) if info else None}
with open(os.environ["DIFF_EXEC_LOG"], "a") as f:
    f.write(json.dumps(record) + "\n")
api = (record["execInfo"] or {}).get("apiVersion", "client.authentication.k8s.io/v1beta1")
print(json.dumps({"apiVersion": api, "kind": "ExecCredential",
                  "status": {"token": "tok-exec-" + str(len(sys.argv) - 1)}}))
'''


def lab_kubectl():
    if os.environ.get("KP_KUBECTL"):
        return os.environ["KP_KUBECTL"]
    out = subprocess.run([str(HERE.parent / "lab" / "lab"), "bin"], capture_output=True,
                         text=True, check=True).stdout.strip()
    return str(Path(out) / "kubectl")


# ---------------------------------------------------------------------- the worker's sandbox

def setup_namespace(work):
    """Inside unshare -n -m: addresses, /etc/hosts, an empty /run."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for addr in sorted(set(gen.HOSTS.values())) + ["198.18.0.3"]:
        subprocess.run(["ip", "addr", "add", f"{addr}/32", "dev", "lo"], check=True)
    hosts = work / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost\n" + "".join(
        f"{ip} {name}\n" for name, ip in gen.HOSTS.items()))
    subprocess.run(["mount", "--bind", str(hosts), "/etc/hosts"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "diff-run", "/run"], check=True)


def start_world(pkidir, log):
    import recorder
    servers = [recorder.Server(name, port, str(pkidir / f"{cert}.crt"),
                               str(pkidir / f"{cert}.key"), str(pkidir / "caC.crt"), log)
               for port, (name, cert) in gen.SERVERS.items()]
    proxies = [recorder.Proxy(name, host, port, log)
               for name, (host, port) in gen.PROXIES.items()]
    return servers, proxies


def substitute(text, root, pki, bindir):
    text = text.replace("{root}", str(root)).replace("{pki}", str(pki)).replace(
        "{bin}", str(bindir))
    while "@@b64:" in text:
        start = text.index("@@b64:")
        end = text.index("@@", start + 6)
        data = Path(text[start + 6:end]).read_bytes()
        text = text[:start] + base64.b64encode(data).decode() + text[end + 2:]
    return text


def materialize(case, root, pki, bindir):
    if root.exists():
        shutil.rmtree(root)
    (root / "home").mkdir(parents=True)
    for rel, content in case["files"].items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            text = yaml.safe_dump(content, sort_keys=False) if yaml else json.dumps(content)
        else:
            text = content
        if text == "@@exec-plugin@@":
            path.write_text(EXEC_PLUGIN)
            path.chmod(0o755)
            continue
        if text.startswith("@@copy:"):
            path.write_bytes(Path(substitute(text[7:-2], root, pki, bindir)).read_bytes())
            continue
        path.write_text(substitute(text, root, pki, bindir))
    sa = Path(gen.SA_DIR)
    if sa.exists():
        shutil.rmtree(sa)
    if case["incluster"] is not None:
        sa.mkdir(parents=True)
        for name, content in case["incluster"].items():
            if content.startswith("@@copy:"):
                (sa / name).write_bytes(Path(substitute(content[7:-2], root, pki,
                                                        bindir)).read_bytes())
            else:
                (sa / name).write_text(content)
    # PATH: the exec plugin, then the lab's kubectl (the one apicheck finds beside it)
    env = {"PATH": f"{bindir}:{Path(KUBECTL).parent}:/usr/bin:/bin", "HOME": str(root / "home"),
           "XDG_CACHE_HOME": str(root.parent / "xdg-cache"), "LANG": "C.UTF-8",
           "DIFF_PARENT": "1", "DIFF_EXEC_LOG": str(root / "exec.log")}
    env.update({k: substitute(v, root, pki, bindir) for k, v in case["env"].items()})
    flags = [substitute(f, root, pki, bindir) for f in case["flags"]]
    return env, flags


TIMES = {}


def run(argv, env, cwd, timeout=30):
    start = time.monotonic()
    try:
        p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return -1, "", "timeout"
    finally:
        key = Path(argv[0]).name + (" " + argv[1] if argv[1:2] == ["__config"] else "")
        TIMES[key] = TIMES.get(key, 0) + time.monotonic() - start


def read_exec_log(root):
    path = root / "exec.log"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line]
    path.unlink()
    return records


def observe(case, tools, world_log, work, pki, bindir):
    """Runs kubectl and the plugins on one case; the raw observations."""
    root = work / "case"
    env, flags = materialize(case, root, pki, bindir)
    cwd = str(root / "home")
    obs = {}
    world_log.take()
    # no --request-timeout: any flag that changes the REST config keeps kubectl from its
    # in-cluster fallback (diff-findings F10); the servers are local, the process is bounded
    rc, out, err = run([tools["kubectl"], *flags, "get", "configmaps", "-o", "name", "-v=6"],
                       env, cwd, timeout=20)
    obs["kubectl"] = {"rc": rc, "stdout": out, "stderr": err, "log": world_log.take(),
                      "exec": read_exec_log(root)}
    for tool in ("apicheck", "certs", "netdebug"):
        rc, out, err = run([tools[tool], "__config", *flags], env, cwd)
        obs[f"{tool}.config"] = {"rc": rc, "stdout": out, "stderr": err}
        read_exec_log(root)
    world_log.take()
    rc, out, err = run([tools["apicheck"], "-o", "json", "--timeout", "5s", *flags], env, cwd)
    obs["apicheck"] = {"rc": rc, "stdout": out, "stderr": err, "log": world_log.take(),
                       "exec": read_exec_log(root)}
    obs["env"], obs["flags"], obs["root"] = env, flags, str(root)
    return obs


def worker(args):
    work = Path(args.work)
    setup_namespace(work)
    import recorder
    log = recorder.Log()
    pkidir = work / "pki"
    start_world(pkidir, log)
    bindir = work / "bin"
    tools = json.loads(args.tools)
    global KUBECTL
    KUBECTL = tools["kubectl"]
    results = []
    for index in json.loads(args.indices):
        case = gen.gen_case(args.area, args.seed, index)
        started = time.monotonic()
        try:
            obs = observe(case, tools, log, work, pkidir, bindir)
        except Exception:
            print(f"diff.py: worker: case {args.area} seed {args.seed} index {index} broke",
                  file=sys.stderr)
            raise
        verdict = compare.compare(case, obs, fake=args.fake)
        verdict.pop("views", None) if not verdict["disagreements"] else None
        results.append({"index": index, "verdict": verdict,
                        "seconds": round(time.monotonic() - started, 2),
                        "case": case if verdict["disagreements"] else None,
                        "obs": obs if verdict["disagreements"] or args.keep else None})
    Path(args.out).write_text(json.dumps(results))
    if os.environ.get("KP_DIFF_TIMES"):
        print(f"worker times: {json.dumps({k: round(v, 1) for k, v in TIMES.items()})}",
              file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- the driver

def prepare(work):
    import pki
    pki.make(work / "pki")
    bindir = work / "bin"
    bindir.mkdir()
    (bindir / "diff-cred").write_text(EXEC_PLUGIN)
    (bindir / "diff-cred").chmod(0o755)


def tools_from_env():
    bindir = os.environ.get("KP_BIN_DIR")
    if not bindir:
        sys.exit("diff.py: KP_BIN_DIR must name the folder with the built plugins")
    tools = {t: str(Path(bindir) / f"kubectl-{t}") for t in ("apicheck", "certs", "netdebug")}
    tools["kubectl"] = lab_kubectl()
    for t, path in tools.items():
        if not os.access(path, os.X_OK):
            sys.exit(f"diff.py: {t}: {path} is not an executable")
    return tools


def run_area(area, seed, indices, jobs, tools, fake=None, keep=False, quiet=False):
    """Runs the cases over `jobs` sandboxed workers; returns (results, seconds)."""
    start = time.monotonic()
    top = Path(tempfile.mkdtemp(prefix="kp-diff-"))
    try:
        prepare(top)
        shares = [indices[i::jobs] for i in range(jobs)]
        procs = []
        for n, share in enumerate(shares):
            if not share:
                continue
            work = top / f"w{n}"
            work.mkdir()
            (work / "pki").symlink_to(top / "pki")
            (work / "bin").symlink_to(top / "bin")
            out = work / "results.json"
            argv = ["unshare", "-n", "-m", "--propagation", "private", sys.executable,
                    str(Path(__file__).resolve()), "--worker", "--area", area, "--seed",
                    str(seed), "--indices", json.dumps(share), "--work", str(work),
                    "--out", str(out), "--tools", json.dumps(tools)]
            if fake:
                argv += ["--fake", fake]
            if keep:
                argv += ["--keep"]
            procs.append((subprocess.Popen(argv), out))
        results = []
        for proc, out in procs:
            if proc.wait() != 0:
                raise SystemExit(f"diff.py: a worker failed (exit {proc.returncode})")
            results += json.loads(out.read_text())
        results.sort(key=lambda r: r["index"])
        return results, time.monotonic() - start
    finally:
        shutil.rmtree(top, ignore_errors=True)


def report(area, seed, results, seconds, out=sys.stdout):
    """Prints the figures and each disagreement; returns the number of unexplained ones."""
    counts = {"cases": len(results), "agree": 0, "known": {}, "disagree": 0}
    outcomes = {}
    for r in results:
        v = r["verdict"]
        outcomes[v["outcome"]] = outcomes.get(v["outcome"], 0) + 1
        for k in v["known"]:
            counts["known"][k] = counts["known"].get(k, 0) + 1
        if v["disagreements"]:
            counts["disagree"] += 1
        else:
            counts["agree"] += 1
    print(f"differential {area}: seed {seed}, {counts['cases']} cases, {seconds:.1f} s: "
          f"{counts['agree']} agree, {counts['disagree']} disagree", file=out)
    print(f"  kubectl outcomes: {json.dumps(dict(sorted(outcomes.items())))}", file=out)
    if counts["known"]:
        print(f"  known differences: {json.dumps(dict(sorted(counts['known'].items())))}",
              file=out)
    slow = sorted(results, key=lambda r: -r.get("seconds", 0))[:3]
    slowest = ", ".join(f"{r['index']}: {r['seconds']} s" for r in slow)
    print(f"  slowest cases: {slowest}", file=out)
    for r in results:
        if not r["verdict"]["disagreements"]:
            continue
        print(f"\n--- DISAGREEMENT {area} seed {seed} index {r['index']} "
              f"(reproduce: diff.py {area} --seed {seed} --index {r['index']})", file=out)
        for d in r["verdict"]["disagreements"]:
            print(f"  {d}", file=out)
        print(compare.describe(r["case"], r["obs"]), file=out)
    return counts["disagree"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("what", nargs="?", help="an area, or a CTest case (ci-<area>, self-test)")
    p.add_argument("--seed", type=int, default=CI_SEED)
    p.add_argument("--count", type=int, default=CI_COUNT)
    p.add_argument("--index", type=int, action="append", help="only this case (repeatable)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--list", action="store_true")
    p.add_argument("--show-case", action="store_true", help="print the generated case(s) only")
    p.add_argument("--keep", action="store_true", help="print every case's observations")
    p.add_argument("--fake", help=argparse.SUPPRESS)
    p.add_argument("--json", help="also write the results to this file")
    # the worker's own arguments
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--area", help=argparse.SUPPRESS)
    p.add_argument("--indices", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--tools", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if args.list:
        print("\n".join([f"ci-{a}" for a in gen.AREAS] + ["self-test"]))
        return 0
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        print("diff.py: skipped: the workers need root, unshare and ip (a network namespace "
              "each)")
        return 77
    if args.what == "self-test":
        return self_test()
    area = args.what[3:] if args.what and args.what.startswith("ci-") else args.what
    if area not in gen.AREAS:
        p.error(f"AREA must be one of {', '.join(gen.AREAS)}")
    count = args.count
    if args.what.startswith("ci-"):
        count = CI_COUNTS.get(area, CI_COUNT)
    indices = args.index or list(range(count))
    if args.show_case:
        for i in indices:
            print(json.dumps(gen.gen_case(area, args.seed, i), indent=1))
        return 0
    results, seconds = run_area(area, args.seed, indices, args.jobs, tools_from_env(),
                                fake=args.fake, keep=args.keep)
    if args.keep:
        for r in results:
            print(json.dumps(r, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(results))
    return 1 if report(area, args.seed, results, seconds) else 0


def self_test():
    """The harness must catch a plugin that resolves differently from kubectl: a fake plugin
    (compare.FAKES) that, e.g., reports another namespace, must give disagreements; and the
    real plugins over the same cases must give none that the fakes' ones are not."""
    tools = tools_from_env()
    failures = 0
    for fake, area in (("namespace", "resolution"), ("credential", "credentials"),
                       ("proxy", "proxies"), ("exec-env", "exec"), ("accept", "refusal"),
                       ("plugins-split", "resolution")):
        results, _ = run_area(area, CI_SEED, list(range(16)), 2, tools, fake=fake)
        caught = sum(1 for r in results if any(
            d.startswith(compare.FAKES[fake]) for d in r["verdict"]["disagreements"]))
        print(f"self-test: fake {fake!r} over 16 {area} cases: caught in {caught}")
        if caught == 0:
            failures += 1
            print(f"self-test: FAIL: the harness did not notice fake {fake!r}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
