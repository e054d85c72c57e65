"""Shared helpers of the Python tests that drive the lab: running commands (in a network
namespace), the lab command, scenarios as context managers, expectations with evidence, and a
case registry whose `main` CTest calls with one case name."""

import contextlib
import functools
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAB = str(HERE / "lab")
CASES = {}


def case(fn):
    """Registers fn as a test case named after it (underscores become dashes)."""
    CASES[fn.__name__.replace("_", "-")] = fn
    return fn


class Failure(Exception):
    pass


def sh(argv, netns=None, env=None, timeout=60, stdin=None):
    """Runs argv (in netns if given) and returns (exit code, stdout + stderr)."""
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=stdin,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout + p.stderr


def lab(*args):
    code, out = sh([LAB, *args], timeout=300)
    if code != 0:
        raise Failure(f"lab {' '.join(args)} exited {code}: {out}")
    return out.strip()


def expect(cond, what, evidence=""):
    if not cond:
        raise Failure(f"expected {what}\n--- evidence ---\n{evidence}")
    print(f"  ok: {what}")


def kubectl(kubeconfig, *args, netns=None, env=None, timeout=60):
    return sh([str(Path(lab("bin")) / "kubectl"), "--kubeconfig", kubeconfig, *args],
              netns=netns, env=env, timeout=timeout)


@contextlib.contextmanager
def scenario(name):
    out = lab("scenario", name)
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    try:
        yield env
    finally:
        lab("scenario", name, "--down")


@functools.lru_cache(maxsize=None)
def lab_module():
    """The lab script as a module, for its certificate, kubeconfig and process helpers."""
    from importlib.machinery import SourceFileLoader
    loader = SourceFileLoader("kplab", LAB)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("kplab", loader))
    loader.exec_module(module)
    return module


def ca_file():
    return str(Path(os.environ.get("LAB_DIR", "/tmp/kplugins-lab")) / "pki" / "ca.crt")


def main(argv):
    """Runs the one case named in argv; --list lists them."""
    if argv[:1] == ["--list"]:
        print("\n".join(CASES))
        return 0
    if len(argv) != 1 or argv[0] not in CASES:
        print(f"usage: {Path(sys.argv[0]).name} --list | CASE ({', '.join(CASES)})",
              file=sys.stderr)
        return 2
    print(f"{Path(sys.argv[0]).name} {argv[0]}")
    try:
        CASES[argv[0]]()
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 0
