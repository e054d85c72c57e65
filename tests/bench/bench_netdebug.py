#!/usr/bin/env python3
"""Benchmark: `kubectl netdebug run --all-nodes` over 10, 50 and 200 (up to 1,000) kwok nodes in
the lab.

    tests/bench/bench_netdebug.py BUILD_DIR [--nodes 10,50,200] [--concurrency 10]
                                            [--output json,text] [--no-manual]

For each node count and output format: wall time, per node, the median pod's time to start and
to run the suite (-o json only), API requests made (as counted by the plugin's own client, -v 1)
and per node, pods alive at once (from the API's watch events), peak RSS, the report's size, and
the debug pods left once the run ended (0: the run deleted all it made). Then the same per-node
work done the way people do it today, one `kubectl run --rm` per node in a loop, for the
smallest count only (when it is at most 50; --no-manual skips it). The lab must be up; `lab
nodes N` makes the nodes (how long it took is printed: 35-55 s for 1,000), and the lab is left
with 3 nodes, also after an error or Ctrl-C. Numbers, not assertions.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAB = str(HERE.parent / "lab" / "lab")
SELECTOR = "app.kubernetes.io/managed-by=kplugins"


def lab(*args):
    return subprocess.run([LAB, *args], check=True, capture_output=True, text=True).stdout.strip()


def peak_pods(env, stop):
    """Watches the debug pods; returns a dict filled with the peak alive count."""
    result = {"peak": 0}

    def run():
        p = subprocess.Popen(["kubectl", "get", "pods", "-A", "-l", SELECTOR, "--watch",
                              "--output-watch-events", "-o", "json"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, env=env)
        decoder, buf, alive = json.JSONDecoder(), "", set()
        threading.Thread(target=lambda: (stop.wait(), p.terminate()), daemon=True).start()
        for line in p.stdout:
            buf += line
            while buf.strip():
                try:
                    event, end = decoder.raw_decode(buf.lstrip())
                except ValueError:
                    break
                buf = buf.lstrip()[end:]
                key = event["object"]["metadata"]["name"]
                (alive.add if event["type"] == "ADDED" else
                 alive.discard if event["type"] == "DELETED" else (lambda _: None))(key)
                result["peak"] = max(result["peak"], len(alive))
    t = threading.Thread(target=run, daemon=True)
    t.start()
    time.sleep(1.0)
    return result, t


def restore_nodes():
    """Back to the lab's 3 nodes. Deleting 1,000 can outlast the minute `lab nodes 3` waits for
    them to go (measured: 80 s on a busy machine); it deletes what is left, so ask again."""
    for attempt in range(5):
        try:
            lab("nodes", "3")
            return
        except subprocess.CalledProcessError:
            if attempt == 4:
                raise


def leftover_pods(env):
    """Debug pods that exist now, in every namespace."""
    out = subprocess.run(["kubectl", "get", "pods", "-A", "-l", SELECTOR, "-o", "name"],
                         capture_output=True, text=True, env=env).stdout
    return len(out.split())


def bench_run(build, env, count, concurrency, output):
    """One run over `count` nodes with -o `output`; returns its table row."""
    stop = threading.Event()
    watched, thread = peak_pods(env, stop)
    t0 = time.monotonic()
    # The binary itself: through `kubectl netdebug`, GNU time would see kubectl's RSS.
    p = subprocess.run(["/usr/bin/time", "-f", "%M", str(build / "kubectl-netdebug"), "run",
                        "--all-nodes", "--concurrency", concurrency, "-v", "1", "-o", output],
                       capture_output=True, text=True, env=env)
    wall = time.monotonic() - t0
    time.sleep(1.0)
    stop.set()
    thread.join(timeout=10)
    rss = int(p.stderr.strip().splitlines()[-1])
    m = re.search(r"(\d+) API requests for (\d+) node", p.stderr)
    requests = int(m.group(1)) if m else -1
    # The nodes whose pod ran the suite: -v 1 logs each (any format); -o json says so too.
    ran = len(re.findall(r"^netdebug: \S+: done$", p.stderr, re.M))
    pod = "-"
    if output == "json":
        report = json.loads(p.stdout)
        ran = sum(1 for c in report["checks"] if c["id"] == "incluster.pod" and
                  c["status"] == "ok")
        # Each pod's "(N ms to start, M ms to run)": the medians say where a node's time went.
        times = [re.search(r"\((\d+) ms to start, (\d+) ms to run\)", c["message"])
                 for c in report["checks"] if c["id"] == "incluster.pod"]
        times = [(int(m.group(1)), int(m.group(2))) for m in times if m]
        if times:
            pod = (f"{statistics.median(t[0] for t in times):.0f} + "
                   f"{statistics.median(t[1] for t in times):.0f} ms")
    size = len(p.stdout.encode())
    return (f"| {count} ({ran} ran) | {output} | {wall:.1f} s | {wall / count * 1000:.0f} ms | "
            f"{pod} | {requests} | {requests / count:.2f} | {watched['peak']} | "
            f"{rss / 1024:.1f} MiB | {size / 1024:.0f} KiB | {leftover_pods(env)} |")


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    build = Path(argv[0]).resolve()
    counts = [int(n) for n in (argv[argv.index("--nodes") + 1] if "--nodes" in argv
                               else "10,50,200").split(",")]
    concurrency = argv[argv.index("--concurrency") + 1] if "--concurrency" in argv else "10"
    outputs = (argv[argv.index("--output") + 1] if "--output" in argv else "json,text").split(",")
    env = dict(os.environ, PATH=f"{build}:{lab('bin')}:{os.environ['PATH']}",
               KUBECONFIG=lab("kubeconfig", "admin"))
    print(f"kubectl netdebug run --all-nodes --concurrency {concurrency}, lab kwok nodes\n")
    print("| nodes | -o | wall | per node | pod start + run (median) | API requests | per node | "
          "pods alive at once | peak RSS | report | pods left |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    made = []
    try:
        for count in counts:
            t0 = time.monotonic()
            lab("nodes", str(count))
            made.append(f"{count} in {time.monotonic() - t0:.1f} s")
            for output in outputs:
                print(bench_run(build, env, count, concurrency, output), flush=True)
        print(f"\n`lab nodes N` made the nodes Ready: {', '.join(made)}")
        # Today: a loop of kubectl run --rm, one node at a time (the suite replaced by `true`,
        # so this is the floor of the manual way, not its full cost).
        count = min(counts)
        if "--no-manual" in argv or count > 50:
            return 0
        lab("nodes", str(count))
        t0 = time.monotonic()
        for i in range(count):
            overrides = json.dumps({"spec": {"nodeName": f"kwok-node-{i}"}})
            subprocess.run(["kubectl", "run", f"manual-{i}", "--image", "busybox",
                            "--restart=Never", "--overrides", overrides, "--command", "--",
                            "sleep", "60"], check=True, capture_output=True, env=env)
            subprocess.run(["kubectl", "wait", "--for=condition=Ready", f"pod/manual-{i}",
                            "--timeout=60s"], check=True, capture_output=True, env=env)
            subprocess.run(["kubectl", "exec", f"manual-{i}", "--", "true"],
                           capture_output=True, env=env)
            subprocess.run(["kubectl", "delete", "pod", f"manual-{i}", "--grace-period=0",
                            "--force"], capture_output=True, env=env)
        wall = time.monotonic() - t0
        print(f"\nthe manual loop (kubectl run, wait, exec true, delete) over {count} nodes: "
              f"{wall:.1f} s, {wall / count * 1000:.0f} ms per node")
    finally:
        restore_nodes()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
