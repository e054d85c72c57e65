#!/usr/bin/env python3
"""A cross-built platform's binaries, run on this machine through a runner (qemu-user for
linux/arm64, wine for windows/amd64), against the lab and next to the native (linux/amd64)
build: the unit tests, --version, the completion helper, apicheck on the healthy lab and in its
fault scenarios (verdict, failed layer and failing checks equal to the native build's), `certs
file`, `certs pki`, `certs server` (healthy, and an expired serving certificate) and `netdebug run`.

    platform_test.py CASE     run one case (CTest runs each as its own test)
    platform_test.py --list   list the cases

Environment (tests/platform/CMakeLists.txt sets it per platform):
  KP_PLATFORM           os/arch, e.g. linux/arm64 (named in the messages)
  KP_PLATFORM_BIN_DIR   the platform's build: kubectl-<name><suffix>, kp_unit_tests<suffix>
  KP_PLATFORM_RUNNER    the command prefix that runs them here, split as a shell would
                        ("qemu-aarch64-static -L /usr/aarch64-linux-gnu", "wine"); empty: natively
  KP_PLATFORM_SUFFIX    the binaries' suffix (".exe" on Windows); empty elsewhere
  KP_PLATFORM_UNIT_EXCLUDE  unit test cases the runner cannot run faithfully, '|'-separated
  KP_BIN_DIR            the native build (the reference); KP_VERSION the version both report
The lab must be up for every case but unit-tests, version and completion-helper.
"""

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import CASES, case, expect, lab, main, scenario, sh  # noqa: E402

PLUGINS = ("apicheck", "certs", "netdebug")
LAB_DIR = Path(os.environ.get("LAB_DIR", "/tmp/kplugins-lab"))
PLATFORM = os.environ.get("KP_PLATFORM", "?")
SUFFIX = os.environ.get("KP_PLATFORM_SUFFIX", "")
# Emulated, a TLS handshake costs ~10x: generous process timeouts, the plugins' own deadlines
# unchanged (the scenarios' verdicts must not depend on them).
TIMEOUT = 300


def runner():
    return shlex.split(os.environ.get("KP_PLATFORM_RUNNER", ""))


def platform_bin(name):
    return str(Path(os.environ["KP_PLATFORM_BIN_DIR"]) / f"{name}{SUFFIX}")


def native_bin(name):
    return str(Path(os.environ["KP_BIN_DIR"]) / name)


def user_env(env):
    """The environment of a user of the lab: its kubectl first on PATH (the skew check reads it)."""
    return {"PATH": f"{lab('bin')}:{os.environ['PATH']}", **(env or {})}


def wine():
    return bool(runner()) and Path(runner()[0]).name in ("wine", "wine64")


def detached(argv, netns=None, check=True):
    """Runs argv with no pipe of ours: a wineserver and the services a first wine process starts
    (winedevice...) outlive it, and would hold a captured stdout open until they exit."""
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=120).returncode
    if check:
        expect(code == 0, shlex.join(argv))


def start_wineserver(netns=None):
    """The prefix's persistent wineserver, and its services started by one wine process."""
    detached(["wineserver", "-p600"], netns=netns, check=False)  # 1 when one runs already
    detached([*runner(), "cmd", "/c", "exit", "0"], netns=netns)


def stop_wineserver():
    detached(["wineserver", "-k"], check=False)  # 1 when none runs (it timed out)
    detached(["wineserver", "-w"])


@contextlib.contextmanager
def runner_in(netns):
    """Wine creates a program's sockets in its wineserver, not in the program: a binary run in a
    scenario's network namespace needs the prefix's wineserver started there. It replaces the
    persistent one (tests/platform/wine_prefix.sh) for the run, which is started again after."""
    if not (netns and wine()):
        yield
        return
    stop_wineserver()
    start_wineserver(netns)
    try:
        yield
    finally:
        stop_wineserver()
        start_wineserver()


def run_platform(name, *args, netns=None, env=None, argv0=None):
    """kubectl-<name> of the platform, through the runner: (exit code, stdout + stderr)."""
    with runner_in(netns):
        return sh([*runner(), argv0 or platform_bin(f"kubectl-{name}"), *args], netns=netns,
                  env=user_env(env), timeout=TIMEOUT)


def without_kubectl(path):
    """PATH without the directories that hold a kubectl."""
    return ":".join(d for d in path.split(":") if d and not os.access(Path(d) / "kubectl", os.X_OK))


def run_native(name, *args, netns=None, env=None):
    env = user_env(env)
    if wine():
        # Under wine the platform's binary finds no kubectl it can run (a Linux kubectl is no
        # program to Windows, and there is no kubectl.exe here), so it has no version skew to
        # check: the reference runs without a kubectl on PATH too.
        env["PATH"] = without_kubectl(env["PATH"])
    return sh([native_bin(f"kubectl-{name}"), *args], netns=netns, env=env, timeout=TIMEOUT)


def report_of(out):
    start = out.find("{")
    try:  # stdout's JSON, then whatever went to stderr
        return json.JSONDecoder().raw_decode(out[start:])[0] if start >= 0 else None
    except ValueError:
        return None


def summary(report):
    """What must not differ between two builds: verdict, failed layer, each check's status."""
    return {"verdict": report.get("verdict"), "failedLayer": report.get("failedLayer"),
            "checks": sorted((c["id"], c.get("endpoint", ""), c["status"])
                             for c in report["checks"])}


def both_json(name, *args, netns=None, env=None, label):
    """Runs the same command on both builds; returns the platform's (code, report, out) after
    checking that its exit code and summary() equal the native build's."""
    n_code, n_out = run_native(name, *args, "-o", "json", netns=netns, env=env)
    native = report_of(n_out)
    expect(native is not None, f"native {label}: a JSON report", n_out)
    code, out = run_platform(name, *args, "-o", "json", netns=netns, env=env)
    report = report_of(out)
    expect(report is not None, f"{PLATFORM} {label}: a JSON report", out)
    expect(code == n_code, f"{PLATFORM} {label}: exit {n_code} as the native build", out)
    expect(summary(report) == summary(native),
           f"{PLATFORM} {label}: verdict, failed layer and checks as the native build",
           json.dumps({"native": summary(native), PLATFORM: summary(report)}, indent=1))
    return code, report, out


def failing(report):
    return [c for c in report["checks"] if c["status"] == "fail"]


@case
def unit_tests():
    """kp_unit_tests built for the platform: every test case passes under the runner, but the
    ones KP_PLATFORM_UNIT_EXCLUDE names ('|'-separated: what the runner cannot emulate faithfully,
    each of which must exist)."""
    excluded = [n for n in os.environ.get("KP_PLATFORM_UNIT_EXCLUDE", "").split("|") if n]
    if excluded:
        p = subprocess.run([*runner(), platform_bin("kp_unit_tests"), "--list-test-names-only"],
                           capture_output=True, text=True, timeout=300)
        names = p.stdout.splitlines()
        for name in excluded:
            if name.startswith("["):  # a tag: the cases carrying it
                t = subprocess.run([*runner(), platform_bin("kp_unit_tests"),
                                    "--list-test-names-only", name],
                                   capture_output=True, text=True, timeout=300)
                tagged = [n for n in t.stdout.splitlines() if n in names]
                expect(tagged, f"the excluded tag {name} names test cases", t.stdout[-2000:])
                print(f"  excluded: {len(tagged)} of {len(names)} test cases tagged {name}")
            else:
                expect(name in names, f"the excluded test case {name!r} exists", p.stdout[-2000:])
    p = subprocess.run([*runner(), platform_bin("kp_unit_tests"), *(f"~{n}" for n in excluded)],
                       capture_output=True, text=True, timeout=1500)
    tail = (p.stdout + p.stderr)[-4000:]
    expect(p.returncode == 0 and "All tests passed" in p.stdout,
           f"{PLATFORM} kp_unit_tests: all tests passed", tail)
    print("  " + p.stdout.strip().splitlines()[-1])


@case
def version():
    """Each binary runs and reports the version the native build reports."""
    version = os.environ["KP_VERSION"]
    for name in PLUGINS:
        code, out = run_platform(name, "--version")
        expect(code == 0 and out.strip() == f"kubectl-{name} version {version}",
               f"{PLATFORM} kubectl-{name} --version", out)


@case
def completion_helper():
    """A copy of the binary named kubectl_complete-<name> answers as `__complete ARGS`, the
    same candidates as `kubectl-<name> __complete ARGS` (the release ships it so)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, args, want in (("certs", ["server", "-o", ""],
                                  ["text", "json", "yaml", "prometheus", ":4"]),
                                 ("apicheck", ["--ver"], ["--version", ":4"]),
                                 ("netdebug", ["r"], ["run", ":4"])):
            helper = Path(tmp) / f"kubectl_complete-{name}{SUFFIX}"
            shutil.copy(platform_bin(f"kubectl-{name}"), helper)
            code, out = run_platform(name, *args, argv0=str(helper))
            values = [line.split("\t")[0] for line in out.split("\n") if line]
            expect(code == 0 and values == want,
                   f"{PLATFORM} kubectl_complete-{name} {shlex.join(args)}: {want}", out)
            code, direct = run_platform(name, "__complete", *args)
            expect(direct == out, f"the same as kubectl-{name} __complete", direct)


@case
def apicheck_healthy():
    """apicheck with the lab's admin kubeconfig: verdict ok, the credentialed request over
    HTTP/2 (the static nghttp2), every check as the native build's."""
    code, report, out = both_json("apicheck", "--kubeconfig", lab("kubeconfig", "admin"),
                                  label="apicheck (admin kubeconfig)")
    expect(code == 0 and report["verdict"] == "ok", f"{PLATFORM} apicheck: verdict ok", out)
    whoami = [c for c in report["checks"] if c["id"] == "auth.whoami"]
    expect(whoami and whoami[0]["details"].get("httpVersion") == "HTTP/2",
           f"{PLATFORM} apicheck: auth.whoami over HTTP/2", whoami)


# scenario -> the check that must fail in it (the layer is the scenario's own LAYER)
SCENARIOS = {
    "dns-nxdomain": "dns.resolve",
    "tcp-refused": "tcp.connect",
    "tls-expired": "tls.verify",
    "tls-unknown-ca": "tls.verify",
    "auth-bad-token": "auth.whoami",
    "auth-expired-sa-token": None,
    "proxy-dead": "proxy.connect",
}


def scenario_case(name):
    def run():
        with scenario(name) as env:
            args = ["--kubeconfig", env["KUBECONFIG"], "--timeout", "5s"]
            extra = {"HTTPS_PROXY": env["HTTPS_PROXY"]} if "HTTPS_PROXY" in env else {}
            code, report, out = both_json("apicheck", *args, netns=env["NETNS"], env=extra,
                                          label=f"apicheck in {name}")
            expect(code == 1 and report["verdict"] == "fail" and
                   report["failedLayer"] == env["LAYER"],
                   f"{PLATFORM} apicheck in {name}: exit 1, verdict fail, failed layer "
                   f"{env['LAYER']}", out)
            if SCENARIOS[name]:
                expect(SCENARIOS[name] in [c["id"] for c in failing(report)],
                       f"{SCENARIOS[name]} fails", out)
    run.__doc__ = f"apicheck in the lab's {name} scenario: as the native build, failing there."
    return run


for _name in SCENARIOS:
    CASES[f"apicheck-{_name}"] = scenario_case(_name)


@case
def certs_file():
    """`certs file` on the lab's CA (ok), a certificate expired by its validity dates (fail)
    and bytes that are no certificate (fail): the same checks as the native build."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        expired = tmp / "expired.crt"
        # faketime: a certificate made 30 days ago, valid for one day.
        subprocess.run(["faketime", "-f", "-30d", "openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                        "/CN=expired.lab.test", "-keyout", str(tmp / "k"), "-out", str(expired)],
                       check=True, capture_output=True)
        (tmp / "garbage.crt").write_text("hello, I am not a certificate\n")
        ca = str(LAB_DIR / "pki" / "ca.crt")
        code, report, out = both_json("certs", "file", ca, str(expired), str(tmp / "garbage.crt"),
                                      label="certs file")
        by_source = {c["details"].get("source", c.get("endpoint")): c for c in report["checks"]
                     if c.get("details")}
        statuses = sorted(c["status"] for c in report["checks"])
        expect(code == 1 and statuses.count("fail") == 2 and "ok" in statuses,
               f"{PLATFORM} certs file: the CA ok, the expired and the garbage fail", out)
        expect(any("expired" in c["message"] for c in failing(report)),
               "the expired certificate is called expired", by_source)


@case
def certs_pki():
    """`certs pki --dir` on the lab's kubeadm PKI: the same certificates and statuses as the
    native build, none failing."""
    code, report, out = both_json("certs", "pki", "--dir", str(LAB_DIR / "pki"),
                                  "--kubeconfig-dir", str(LAB_DIR / "kubeadm"), label="certs pki")
    names = [c["details"].get("name") for c in report["checks"] if c.get("details")]
    expect(len([n for n in names if n]) >= 10 and not failing(report),
           f"{PLATFORM} certs pki: at least ten certificates, none failing", out)


@case
def certs_server():
    """`certs server` on the healthy lab (exit 0) and on a server whose certificate expired
    (exit 1, expired named): as the native build."""
    code, report, out = both_json("certs", "server", "--kubeconfig", lab("kubeconfig", "admin"),
                                  label="certs server (healthy)")
    expect(code == 0 and not failing(report), f"{PLATFORM} certs server: healthy, exit 0", out)
    with scenario("tls-expired") as env:
        code, report, out = both_json("certs", "server", "--kubeconfig", env["KUBECONFIG"],
                                      netns=env["NETNS"], label="certs server (tls-expired)")
        expect(code == 1 and any("expired" in c["message"] for c in failing(report)),
               f"{PLATFORM} certs server: the expired serving certificate fails", out)


@case
def netdebug_run():
    """`netdebug run --node kwok-node-1`: a debug pod's suite, every in-cluster check ok as
    with the native build (pod created, exec'd over WebSocket, deleted)."""
    kubeconfig = lab("kubeconfig", "admin")
    code, out = run_platform("netdebug", "run", "--node", "kwok-node-1", "-o", "json",
                             "--kubeconfig", kubeconfig)
    report = report_of(out)
    expect(code == 0 and report and report["verdict"] != "fail",
           f"{PLATFORM} netdebug run: exit 0", out)
    checks = {c["id"]: c for c in report["checks"]}
    for cid in ("incluster.pod", "incluster.dns.fqdn", "incluster.service.tcp",
                "incluster.service.tls", "incluster.service.readyz"):
        expect(checks.get(cid, {}).get("status") == "ok", f"{cid} is ok", checks.get(cid, out))
    n_code, n_out = run_native("netdebug", "run", "--node", "kwok-node-1", "-o", "json",
                               "--kubeconfig", kubeconfig)
    native = report_of(n_out)
    expect(native and summary(native) == summary(report),
           f"{PLATFORM} netdebug run: the checks and statuses of the native build",
           json.dumps({"native": native and summary(native), PLATFORM: summary(report)}, indent=1))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
