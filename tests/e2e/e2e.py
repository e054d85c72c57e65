#!/usr/bin/env python3
"""End-to-end tests: the built binaries, run as a user runs them (through kubectl's plugin
dispatch), against the lab's real API server and its fault scenarios.

    e2e.py CASE     run one case (CTest runs each as its own test)
    e2e.py --list   list the cases

KP_BIN_DIR names the folder with kubectl-apicheck, kubectl-certs and kubectl-netdebug;
KP_VERSION the version they must report. The lab must be up.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import case, expect, lab, main, scenario, sh  # noqa: E402

PLUGINS = ("apicheck", "certs", "netdebug")


def user_path():
    """PATH as after an install: our binaries and the lab's kubectl first."""
    return f"{os.environ['KP_BIN_DIR']}:{lab('bin')}:{os.environ['PATH']}"


def kubectl(*args, netns=None, env=None):
    """kubectl, found on PATH like a user's, with our plugins beside it."""
    return sh(["kubectl", *args], netns=netns, env={"PATH": user_path(), **(env or {})})


def apicheck_json(*args, netns=None):
    code, out = kubectl("apicheck", "-o", "json", *args, netns=netns)
    try:
        return code, json.loads(out), out
    except ValueError:
        return code, None, out


@case
def dispatch_every_kubeconfig():
    """`kubectl apicheck` with each lab kubeconfig: verdict ok, exit 0, the server's version."""
    code, out = kubectl("--kubeconfig", lab("kubeconfig", "admin"), "version", "-o", "json")
    server_version = json.loads(out)["serverVersion"]["gitVersion"]
    for kind in ("admin", "limited", "token", "exec", "relative"):
        code, report, out = apicheck_json("--kubeconfig", lab("kubeconfig", kind))
        expect(code == 0 and report and report["verdict"] == "ok",
               f"kubectl apicheck -o json: verdict ok with the {kind} kubeconfig", out)
        version = [c for c in report["checks"] if c["id"] == "health.version"]
        expect(version and version[0]["details"]["gitVersion"] == server_version,
               f"it reports the server version kubectl sees ({server_version})", out)


@case
def dispatch_text_output():
    code, out = kubectl("apicheck", "--kubeconfig", lab("kubeconfig", "admin"))
    lines = out.strip().splitlines()
    expect(code == 0 and lines[-1] == "verdict: ok", "text output ends with the verdict", out)
    expect("\x1b[" not in out, "no colour when stdout is not a terminal", out)


@case
def dispatch_help_and_version():
    for plugin in PLUGINS:
        code, out = kubectl(plugin, "--help")
        expect(code == 0 and f"kubectl {plugin}" in out,
               f"kubectl {plugin} --help names the command as kubectl {plugin}", out)
        code, out = sh([f"{os.environ['KP_BIN_DIR']}/kubectl-{plugin}", "--help"])
        expect(code == 0 and f"kubectl-{plugin}" in out and f"kubectl {plugin}" not in out,
               f"kubectl-{plugin} --help, run directly, says kubectl-{plugin}", out)
        code, out = kubectl(plugin, "--version")
        expect(code == 0 and os.environ["KP_VERSION"] in out,
               f"kubectl {plugin} --version prints {os.environ['KP_VERSION']}", out)


@case
def plugin_list():
    code, out = kubectl("plugin", "list")
    for plugin in PLUGINS:
        expect(f"/kubectl-{plugin}\n" in out + "\n", f"kubectl plugin list shows kubectl-{plugin}",
               out)
    expect("warning" not in out.lower(), "kubectl plugin list gives no warning", out)


@case
def readyz_failing():
    with scenario("health-readyz-failing") as env:
        code, report, out = apicheck_json("--kubeconfig", env["KUBECONFIG"], netns=env["NETNS"])
        expect(code == 1 and report and report["failedLayer"] == env["LAYER"],
               f"exit 1, failedLayer {env['LAYER']}", out)
        readyz = [c for c in report["checks"] if c["id"] == "health.readyz"][0]
        expect("etcd" in readyz["message"] and readyz["hint"], "the failing etcd check is named",
               readyz)


@case
def bad_kubeconfig():
    bad = Path(os.environ.get("TMPDIR", "/tmp")) / f"kp-e2e-bad-{os.getpid()}.yaml"
    bad.write_text("apiVersion: v1\nclusters: [\n")
    try:
        code, out = kubectl("apicheck", "--kubeconfig", str(bad))
        expect(code == 2 and str(bad) in out and "error:" in out,
               "malformed YAML: exit 2 and an error naming the file", out)
    finally:
        bad.unlink()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
