#!/usr/bin/env python3
"""End-to-end tests against hostile servers (tests/e2e/servers.py's hostile modes on
127.0.0.1): every plugin that talks to a server (apicheck, apicheck --watch, certs server with
the context and with --host, certs secrets, netdebug run and cleanup, and shell completion of
namespaces and nodes) ends within its deadline, with its documented exit code, names the layer
that broke, keeps its memory bounded, never crashes and never prints the token.

    e2e_hostile.py CASE | --list

KP_BIN_DIR names the folder with the binaries. Each case is one server mode; all the plugins
run against it side by side and one line per plugin is printed (the matrix):
    MODE  PLUGIN  exit=N  wall=S.Ss  rss=MiB  layer=L  message
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import Failure, case, expect, lab_module, main  # noqa: E402
from servers import Server  # noqa: E402

T = 2.0  # the per-step deadline every run is given (--timeout / --request-timeout 2s)
MARGIN = 2.0  # process start, report rendering, a loaded machine
RSS_LIMIT_MIB = 200
ASAN_EXTRA_MIB = 256  # a sanitizer build maps shadow memory and keeps freed blocks quarantined
TOKEN = "hostile-e2e-secret-token-0123456789"
SANITIZER = ("AddressSanitizer", "UndefinedBehaviorSanitizer", "LeakSanitizer", "runtime error:",
             "Segmentation fault", "terminate called", "Assertion")


class Pki:
    """A CA made for this run and a serving certificate for 127.0.0.1 that it signed."""

    def __init__(self, tmp):
        labmod = lab_module()
        self.ca = labmod.self_signed_ca(tmp, "hostile-ca", "hostile e2e CA")
        self.crt, self.key = labmod.issue_cert(tmp, "hostile-srv", "127.0.0.1", self.ca,
                                               sans=["127.0.0.1"])
        self.labmod = labmod
        self.tmp = tmp

    def kubeconfig(self, port, name="kc"):
        path = self.tmp / f"{name}-{port}"
        return str(self.labmod.write_kubeconfig(
            path, f"https://127.0.0.1:{port}", {"token": TOKEN},
            cluster_extra={"certificate-authority": str(self.ca[0])}, namespace="default"))


def bin_path(plugin):
    return f"{os.environ['KP_BIN_DIR']}/kubectl-{plugin}"


def rss_limit():
    """200 MiB, plus room for the sanitizer's own memory when the binaries are built with
    -DKP_SANITIZE=ON (their RSS starts near 200 MiB before any work)."""
    import mmap
    with open(bin_path("apicheck"), "rb") as f, \
            mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        sanitized = m.find(b"__asan_init") >= 0
    return RSS_LIMIT_MIB + (ASAN_EXTRA_MIB if sanitized else 0)


def run_measured(argv, timeout, interrupt_after=None, env=None):
    """Runs argv; returns (exit code or "hung", output, wall seconds, VmHWM MiB, ru_maxrss MiB,
    seconds from SIGINT to exit). VmHWM is the plugin's own peak RSS, polled; ru_maxrss, from
    the kernel's accounting of the child (wait4), misses no spike but keeps the forking
    Python's RSS across exec, so it is an upper bound.
    interrupt_after: send SIGINT that many seconds after the first line of output."""
    t0 = time.monotonic()
    interrupted = None
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=dict(os.environ, **(env or {})))
    chunks = []

    def reader():
        for line in iter(proc.stdout.readline, b""):
            chunks.append(line)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    if interrupt_after is not None:
        while not chunks and proc.poll() is None and time.monotonic() - t0 < timeout:
            time.sleep(0.02)
        time.sleep(interrupt_after)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            interrupted = time.monotonic()
    status = None
    hwm = 0  # VmHWM: the peak RSS of the plugin itself (ru_maxrss keeps the forking Python's)
    while time.monotonic() - t0 < timeout:
        hwm = max(hwm, vm_hwm_kib(proc.pid))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.01)
    else:
        proc.kill()
        pid, status, usage = os.wait4(proc.pid, 0)
        status = None
    took = time.monotonic() - t0
    proc.returncode = 0  # reaped by wait4; keep Popen from waiting again
    thread.join(5)
    out = b"".join(chunks).decode("utf-8", "replace")
    if status is None:
        code = "hung"
    elif os.WIFSIGNALED(status):
        code = -os.WTERMSIG(status)
    else:
        code = os.WEXITSTATUS(status)
    after_interrupt = time.monotonic() - interrupted if interrupted else None
    return code, out, took, hwm / 1024, usage.ru_maxrss / 1024, after_interrupt


def vm_hwm_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def report_of(out):
    """The JSON report in the output (stdout and stderr are merged; the report is one object
    starting on its own line), or None."""
    start = out.find("{\n")
    if start < 0:
        start = out.find("{")
    if start < 0:
        return None
    try:
        return json.JSONDecoder().raw_decode(out[start:])[0]
    except ValueError:
        return None


def failing(report):
    if not report:
        return None, ""
    for c in report.get("checks", []):
        if c.get("status") == "fail" and c.get("layer") == report.get("failedLayer"):
            return report.get("failedLayer"), c.get("message", "")
    return report.get("failedLayer"), ""


# What each plugin invocation is and how long it may take, from its flags (each given the
# per-step deadline T) and what it does before it meets the server.
def invocations(kc, port, ca, mode):
    host = f"127.0.0.1:{port}"
    ts = f"{int(T)}s"
    # A body over 16 MiB makes certs secrets ask again in smaller pages (500, 50, 5, 1).
    pages = 4 if mode.startswith("gigabyte") else 1
    return {
        # tcp and tls (one deadline each), then /livez: a server that lets it time out costs
        # one deadline, the other health requests are skipped (three in all). A stalled TLS
        # handshake is tried once more with small segments (path MTU), within one more T.
        "apicheck": ([bin_path("apicheck"), "--kubeconfig", kc, "-o", "json", "--timeout", ts],
                     3 * T),
        # one round, then Ctrl-C: the request in flight is cancelled (a TCP connect or TLS
        # handshake in flight finishes first, within T); checked separately below.
        "apicheck --watch": ([bin_path("apicheck"), "--kubeconfig", kc, "--watch", "--timeout",
                              ts, "--interval", "1s"], 4 * T),
        # tcp + tls
        "certs server": ([bin_path("certs"), "server", "--kubeconfig", kc, "-o", "json",
                          "--timeout", ts], 2 * T),
        "certs server --host": ([bin_path("certs"), "server", "--kubeconfig", kc, "--host", host,
                                 "--ca", ca, "-o", "json", "--timeout", ts], 2 * T),
        # one list request per page size tried
        "certs secrets": ([bin_path("certs"), "secrets", "--kubeconfig", kc, "-o", "json",
                           "--timeout", ts], pages * T),
        # the node is read first: no answer, nothing is created
        "netdebug run": ([bin_path("netdebug"), "run", "--kubeconfig", kc, "--node", "kwok-0",
                          "-o", "json", "--request-timeout", ts], T),
        "netdebug cleanup": ([bin_path("netdebug"), "cleanup", "--kubeconfig", kc,
                              "--request-timeout", ts], T),
        # like netdebug run: the node is read first
        "certs node": ([bin_path("certs"), "node", "kwok-0", "--kubeconfig", kc, "-o", "json",
                        "--request-timeout", ts], T),
        # completion: its own 2 s API deadline, quiet on failure
        "complete -n": ([bin_path("certs"), "__complete", "secrets", "-n", ""], 2.0),
        "complete --node": ([bin_path("netdebug"), "__complete", "run", "--node", ""], 2.0),
        "complete apicheck -n": ([bin_path("apicheck"), "__complete", "-n", ""], 2.0),
    }


def run_all(kc, port, ca, mode):
    """Every invocation against the server, side by side; {name: result dict}."""
    results = {}

    def one(name, argv, deadline):
        env = {"KUBECONFIG": kc} if "__complete" in argv else None
        interrupt = 0.5 if "--watch" in argv else None
        code, out, took, rss, maxrss, stopped = run_measured(
            argv, timeout=deadline + 30, interrupt_after=interrupt, env=env)
        results[name] = {"argv": argv, "deadline": deadline, "code": code, "out": out,
                         "took": took, "rss": rss, "maxrss": maxrss, "stopped": stopped}

    threads = [threading.Thread(target=one, args=(name, argv, deadline))
               for name, (argv, deadline) in invocations(kc, port, ca, mode).items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def named_layer(message):
    """The layer an error line names: the TLS handshake (libcurl's OpenSSL messages, our note
    "the TLS handshake did not finish"), or the HTTP answer ("the HTTP response did not
    complete", "response body/headers exceed")."""
    if "TLS" in message or "SSL" in message:
        return "tls"
    if "response" in message:
        return "http"
    return None


def row(mode, name, r, layer, message):
    stopped = f" (SIGINT->exit {r['stopped']:.1f}s)" if r.get("stopped") is not None else ""
    print(f"  MATRIX {mode:18} {name:22} exit={r['code']!s:5} wall={r['took']:5.1f}s "
          f"rss={r['rss']:5.1f}MiB layer={layer or '-':8} {message[:110]}{stopped}")


def check_mode(mode, layers, message_words=(), certs_server_ok=False):
    """Runs every plugin against a server in MODE and checks each result.
    layers: the layer apicheck must name as failed; certs_server_ok: the handshake completes
    and the chain verifies, so certs server passes (exit 0) while HTTP-level breakage is
    apicheck's to find."""
    with tempfile.TemporaryDirectory(prefix="kp-hostile-") as tmp:
        pki = Pki(Path(tmp))
        with Server(mode, pki.crt, pki.key) as srv:
            kc = pki.kubeconfig(srv.port)
            results = run_all(kc, srv.port, str(pki.ca[0]), mode)
    problems = []
    limit = rss_limit()

    def want(cond, what, r):
        if not cond:
            problems.append(f"{what}\n    argv: {' '.join(r['argv'])}\n    output: "
                            f"{r['out'][:1500]}")

    for name, r in results.items():
        out = r["out"]
        report = report_of(out) if "-o" in r["argv"] else None
        layer, message = failing(report)
        if name == "apicheck --watch":
            line = next((x for x in out.splitlines() if x[:2].isdigit()), "")
            layer = line.split()[2].rstrip(":") if len(line.split()) > 2 else None
            message = line
        elif report is None and not name.startswith("complete"):
            # An error line instead of a report: the layer is in its words.
            message = out.strip().splitlines()[-1] if out.strip() else ""
            layer = named_layer(message)
        row(mode, name, r, layer, message)
        want(r["code"] != "hung", f"{name}: ends (killed after {r['took']:.0f}s)", r)
        want(not any(s in out for s in SANITIZER), f"{name}: no crash or sanitizer report", r)
        want(not (isinstance(r["code"], int) and r["code"] < 0),
             f"{name}: not killed by a signal ({r['code']})", r)
        want(TOKEN not in out, f"{name}: the token is never printed", r)
        want(max(r["rss"], r["maxrss"]) < limit, f"{name}: peak RSS {r['rss']:.0f} "
             f"MiB (ru_maxrss {r['maxrss']:.0f} MiB) < {limit} MiB", r)
        want(r["took"] <= r["deadline"] + MARGIN,
             f"{name}: within its deadline ({r['took']:.1f}s <= {r['deadline']:.0f}s + "
             f"{MARGIN:.0f}s)", r)
        if name.startswith("complete"):
            lines = out.strip().splitlines()
            want(r["code"] == 0 and lines and lines[-1].startswith(":")
                 and all(x.startswith(":") or "\x1b" not in x for x in lines),
                 f"{name}: exit 0 and a cobra directive, nothing else harmful", r)
            want(not any(x and not x.startswith(":") and not x.startswith("Completion")
                         for x in lines),
                 f"{name}: no candidates from a hostile server (quiet on failure)", r)
        elif name == "apicheck":
            want(r["code"] == 1 and report and report.get("failedLayer") == layers,
                 f"{name}: exit 1, failedLayer {layers} (got {r['code']}, {layer})", r)
            for w in message_words:
                want(w in message, f"{name}: the failing check says {w!r} ({message!r})", r)
        elif name == "apicheck --watch":
            want(r["code"] == 1 and "rounds" in out and layer == layers,
                 f"{name}: a failed round naming {layers}, then the summary on Ctrl-C, exit 1",
                 r)
        elif name.startswith("certs server"):
            if certs_server_ok:
                want(r["code"] == 0 and report and report.get("verdict") != "fail",
                     f"{name}: the chain verifies: exit 0", r)
            else:
                want(r["code"] == 1 and report and report.get("failedLayer") == layers,
                     f"{name}: exit 1, failedLayer {layers} (got {r['code']}, {layer})", r)
        elif name == "certs secrets":
            want(r["code"] == 1 and report and report.get("failedLayer") == layers,
                 f"{name}: exit 1, failedLayer {layers} (got {r['code']}, {layer})", r)
        else:  # netdebug run and cleanup, certs node: one error line naming the layer
            want(r["code"] == 1 and layer == ("tls" if layers == "tls" else "http"),
                 f"{name}: exit 1 and an error naming the {layers} layer (got {r['code']}, "
                 f"{layer})", r)
        if name == "apicheck --watch":
            want(r["stopped"] is not None and r["stopped"] <= T + MARGIN,
                 f"{name}: Ctrl-C ends it within T + margin ({r['stopped'] or 0:.1f}s)", r)
    if problems:
        raise Failure(f"{mode}: {len(problems)} problem(s):\n" + "\n".join(problems))
    expect(True, f"{mode}: {len(results)} plugin runs ended in time, named the layer, "
           f"bounded memory, no crash, no token")


@case
def silent():
    """Accepts the connection and never sends a byte: a TLS timeout."""
    check_mode("silent", "tls", ["sent nothing within 2000ms"])


@case
def silent_defaults():
    """The silent server against each plugin's default deadlines, as documented in --help:
    apicheck and certs server --timeout 5s per step (apicheck then tries the stalled handshake
    once more with small TCP segments, within 3 s, as README says), netdebug 10 s per request
    (without
    --request-timeout); certs secrets has 30 s per request (big lists), of which connecting
    (TCP and TLS) may take 10 s at most, as client-go's TLS handshake timeout."""
    defaults = {
        "apicheck": (["-o", "json"], 5.0 + 3.0),
        "certs server": (["server", "-o", "json"], 5.0),
        "certs secrets": (["secrets", "-o", "json"], 10.0),
        "netdebug cleanup": (["cleanup"], 10.0),
        "netdebug run": (["run", "--node", "kwok-0"], 10.0),
        "certs node": (["node", "kwok-0"], 10.0),
    }
    with tempfile.TemporaryDirectory(prefix="kp-hostile-") as tmp:
        pki = Pki(Path(tmp))
        with Server("silent", pki.crt, pki.key) as srv:
            kc = pki.kubeconfig(srv.port)
            results = {}

            def one(name, args, deadline):
                argv = [bin_path(name.split()[0]), *args, "--kubeconfig", kc]
                code, out, took, rss, maxrss, _ = run_measured(argv, timeout=deadline + 30)
                results[name] = (code, out, took, deadline)

            threads = [threading.Thread(target=one, args=(name, args, deadline))
                       for name, (args, deadline) in defaults.items()]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    for name, (code, out, took, deadline) in results.items():
        print(f"  MATRIX {'silent (defaults)':18} {name:22} exit={code!s:5} wall={took:5.1f}s")
        expect(code == 1, f"{name}: exit 1", out[-1500:])
        expect(deadline - 0.5 <= took <= deadline + MARGIN,
               f"{name}: gives up at its default deadline ({took:.1f}s, default {deadline:.0f}s)",
               out[-1500:])


@case
def tls_garbage():
    check_mode("tls-garbage", "tls")


@case
def close_after_hello():
    check_mode("close-after-hello", "tls")


@case
def close_mid_hello():
    check_mode("close-mid-hello", "tls")


@case
def dribble_hello():
    """The ServerHello at one byte per second: the handshake's deadline is the whole
    handshake's, not each read's."""
    check_mode("dribble-hello", "tls", ["within 2000ms"])


@case
def dribble_body():
    check_mode("dribble-body", "health", certs_server_ok=True)


@case
def gigabyte():
    check_mode("gigabyte", "health", certs_server_ok=True)


@case
def gigabyte_chunked():
    check_mode("gigabyte-chunked", "health", certs_server_ok=True)


@case
def endless_headers():
    check_mode("endless-headers", "health", certs_server_ok=True)


@case
def bad_status():
    check_mode("bad-status", "health", certs_server_ok=True)


@case
def h2_garbage():
    check_mode("h2-garbage", "health", certs_server_ok=True)


@case
def h2_bad_preface():
    check_mode("h2-bad-preface", "health", certs_server_ok=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
