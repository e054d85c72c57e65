#!/usr/bin/env python3
"""End-to-end tests of the set-up mistakes behind the most-asked kubectl errors: no kubeconfig
(kubectl: "The connection to the server localhost:8080 was refused"), a kubeconfig the user may
not read (run as `nobody`), KUBECONFIG naming a directory or holding a literal ~, an exec plugin
at client.authentication.k8s.io/v1alpha1, a stopped local cluster, and bad flags named before
any file is read. The lab's kubectl is the oracle of what a user sees today; apicheck must end
in exit 1 with the layer the evidence points to, name the evidence and give the fix.

    e2e_setup_errors.py CASE | --list
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml  # Debian: python3-yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import ca_file, case, expect, lab, main, sh  # noqa: E402


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tools(tmp):
    """kubectl and the plugins copied where any user may run them (the lab's bin dir is
    under root's home)."""
    bin_dir = Path(tmp) / "bin"
    bin_dir.mkdir()
    built = Path(os.environ["KP_BIN_DIR"])
    for src in (Path(lab("bin")) / "kubectl", built / "kubectl-apicheck", built / "kubectl-certs",
                built / "kubectl-netdebug"):
        shutil.copy(src, bin_dir / src.name)
    os.chmod(tmp, 0o755)
    os.chmod(bin_dir, 0o755)
    return bin_dir


def clean_env(home, **extra):
    """An environment with no kubeconfig anywhere: HOME at an empty directory, no KUBECONFIG,
    not in a pod."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KUBECONFIG", "KUBERNETES_MASTER", "KUBERNETES_SERVICE_HOST")}
    env.update(HOME=str(home), **extra)
    return env


def lab_kubeconfig(tmp, name, edit):
    """The lab's admin kubeconfig changed by edit(doc), written to tmp/name; the environment
    that uses it (and nothing else)."""
    doc = yaml.safe_load(Path(lab("kubeconfig", "admin")).read_text())
    edit(doc)
    kc = Path(tmp) / name
    kc.write_text(yaml.safe_dump(doc))
    return clean_env(Path(tmp), KUBECONFIG=str(kc))


def run(argv, env, user=None):
    """Runs argv (as `user` when given) and returns (exit code, stdout, stderr)."""
    if user:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]  # numeric ids
    # stdin closed: kubectl's "Please enter Username" prompt must not wait for a terminal.
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def apicheck_json(bin_dir, args, env, user=None):
    code, out, err = run([str(bin_dir / "kubectl-apicheck"), *args, "-o", "json"], env, user)
    try:
        return code, json.loads(out), out + err
    except ValueError:
        return code, None, out + err


def context_of(env):
    """The current-context of the kubeconfig env's KUBECONFIG names."""
    return yaml.safe_load(Path(env["KUBECONFIG"]).read_text())["current-context"]


def check(report, check_id):
    found = [c for c in report["checks"] if c["id"] == check_id]
    return found[0] if found else None


def kubectl_url(bin_dir, env, user=None):
    """The URL the lab's kubectl dials (-v=6), and what it prints."""
    code, out, err = run([str(bin_dir / "kubectl"), "get", "--raw", "/healthz", "-v=6"], env, user)
    text = out + err
    marker = 'url="'
    at = text.find(marker)
    return code, (text[at + len(marker):text.find('"', at + len(marker))] if at >= 0 else ""), text


@case
def no_kubeconfig():
    """No kubeconfig at all: kubectl dials $KUBERNETES_MASTER (else localhost:8080) and is
    refused; apicheck fails config with where it looked, checks the same server down to TCP."""
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir, home = tools(tmp), Path(tmp) / "home"
        home.mkdir()
        port = free_port()
        env = clean_env(home, KUBERNETES_MASTER=f"http://127.0.0.1:{port}")
        code, url, text = kubectl_url(bin_dir, env)
        expect(code != 0 and url.startswith(f"http://127.0.0.1:{port}/"),
               "kubectl (the oracle) dials KUBERNETES_MASTER with no kubeconfig", text)
        expect("was refused" in text, "kubectl says the connection was refused", text)
        code, report, out = apicheck_json(bin_dir, [], env)
        expect(code == 1 and report is not None, "apicheck exits 1 with a report", out)
        expect(report["failedLayer"] == "config", "the failed layer is config", out)
        kc = check(report, "config.kubeconfig")
        expect(kc["status"] == "fail" and "no kubeconfig" in kc["message"]
               and str(home / ".kube" / "config") in kc["message"],
               "config.kubeconfig names where client-go looked", out)
        expect(kc["details"]["server"] == url.rsplit("/healthz", 1)[0],
               "apicheck goes on with the server kubectl dials", out)
        tcp = check(report, "tcp.connect")
        expect(tcp["status"] == "fail" and "refused" in tcp["message"],
               "the server is still checked down to TCP: refused, as kubectl saw", out)
        # Without KUBERNETES_MASTER both use localhost:8080.
        env = clean_env(home)
        code, url, text = kubectl_url(bin_dir, env)
        code, report, out = apicheck_json(bin_dir, [], env)
        expect(url.startswith("http://localhost:8080/")
               and check(report, "config.kubeconfig")["details"]["server"] == "http://localhost:8080",
               "with nothing set, both dial http://localhost:8080", out + text)


@case
def unreadable_kubeconfig():
    """A kubeconfig mode 600 owned by root, read by `nobody` (k3s.yaml's case): kubectl fails with
    permission denied; apicheck fails config naming owner, mode and user, and a copy as the fix."""
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir = tools(tmp)
        kc = Path(tmp) / "k3s.yaml"
        shutil.copy(lab("kubeconfig", "admin"), kc)
        os.chmod(kc, 0o600)
        home = Path(tmp) / "home"
        home.mkdir(mode=0o777)
        env = clean_env(home, KUBECONFIG=str(kc))
        code, _, text = kubectl_url(bin_dir, env, user="65534")
        expect(code != 0 and "permission denied" in text,
               "kubectl (the oracle) as nobody: permission denied", text)
        code, report, out = apicheck_json(bin_dir, [], env, user="65534")
        expect(code == 1 and report is not None and report["failedLayer"] == "config",
               "apicheck as nobody: exit 1, failed layer config", out)
        c = check(report, "config.kubeconfig")
        expect(c["status"] == "fail" and "permission denied (owner root:root, mode 0600; this is "
               "nobody" in c["message"], "the message names owner, mode and the user running", out)
        expect("sudo cp " + str(kc) in c["hint"] and "chown" in c["hint"]
               and "chmod" not in c["hint"], "the fix is a copy of one's own, not chmod", out)
        expect(all(x["status"] == "skip" for x in report["checks"] if x["layer"] != "config"),
               "the later layers are skipped, as kubectl stops there too", out)
        # The same file as root: the copy works, the run is healthy.
        code, report, out = apicheck_json(bin_dir, ["--kubeconfig", str(kc)], clean_env(home))
        expect(code == 0, "as root (who may read it) the same kubeconfig is healthy", out)


@case
def kubeconfig_directory():
    """KUBECONFIG naming the .kube directory: kubectl fails "is a directory"; apicheck names the
    file inside."""
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir, home = tools(tmp), Path(tmp) / "home"
        (home / ".kube").mkdir(parents=True)
        shutil.copy(lab("kubeconfig", "admin"), home / ".kube" / "config")
        env = clean_env(home, KUBECONFIG=str(home / ".kube"))
        code, _, text = kubectl_url(bin_dir, env)
        expect(code != 0 and "is a directory" in text, "kubectl (the oracle): is a directory", text)
        code, report, out = apicheck_json(bin_dir, [], env)
        c = check(report or {"checks": []}, "config.kubeconfig")
        expect(code == 1 and c and c["status"] == "fail" and "is a directory" in c["message"],
               "apicheck: exit 1, config.kubeconfig fails on the directory", out)
        expect(c["hint"] == f"name the file inside it: {home / '.kube' / 'config'}",
               "the fix names the kubeconfig inside it", out)


@case
def literal_tilde():
    """KUBECONFIG='~/.kube/config' (quoted, so not expanded): kubectl skips it and falls back to
    localhost:8080; apicheck warns on the ~ and fails config for the missing kubeconfig."""
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir, home = tools(tmp), Path(tmp) / "home"
        (home / ".kube").mkdir(parents=True)
        shutil.copy(lab("kubeconfig", "admin"), home / ".kube" / "config")
        port = free_port()
        env = clean_env(home, KUBECONFIG="~/.kube/config",
                        KUBERNETES_MASTER=f"http://127.0.0.1:{port}")
        code, url, text = kubectl_url(bin_dir, env)
        expect(code != 0 and url.startswith(f"http://127.0.0.1:{port}/"),
               "kubectl (the oracle) ignores '~/.kube/config' and dials the fallback", text)
        code, report, out = apicheck_json(bin_dir, [], env)
        warn = check(report, "config.kubeconfig-env")
        expect(code == 1 and warn and warn["status"] == "warn" and "literal ~" in warn["message"],
               "apicheck warns that the ~ was not expanded", out)
        expect(warn["hint"] == "write $HOME instead of ~: export KUBECONFIG=$HOME/.kube/config",
               "the fix spells $HOME", out)
        expect(check(report, "config.kubeconfig")["status"] == "fail", "and no kubeconfig was used",
               out)


@case
def exec_v1alpha1():
    """An exec plugin at client.authentication.k8s.io/v1alpha1: kubectl refuses it; apicheck
    fails config.exec with the fix and still checks TLS and health anonymously."""
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir = tools(tmp)
        env = lab_kubeconfig(tmp, "eks", lambda doc: doc["users"][0].update(user={"exec": {
            "apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", "lab"]}}))
        code, _, text = kubectl_url(bin_dir, env)
        expect(code != 0 and 'invalid apiVersion "client.authentication.k8s.io/v1alpha1"' in text,
               "kubectl (the oracle) refuses the v1alpha1 exec plugin", text)
        code, report, out = apicheck_json(bin_dir, [], env)
        c = check(report or {"checks": []}, "config.exec")
        expect(code == 1 and report["failedLayer"] == "config" and c and c["status"] == "fail",
               "apicheck: exit 1, config.exec fails", out)
        expect("aws eks update-kubeconfig" in c["hint"], "the fix is aws eks update-kubeconfig", out)
        expect(check(report, "tls.verify")["status"] == "ok"
               and check(report, "health.readyz")["status"] == "ok",
               "TLS and health are still checked against the lab's API server", out)
        expect(check(report, "auth.whoami")["status"] == "skip",
               "no credential is sent: auth is skipped with the reason", out)


@case
def recreated_cluster():
    """A kubeconfig from an earlier cluster at the same address (kubeadm reset + init): its CA
    has the lab CA's name but another key. kubectl: unknown authority; apicheck fails tls with
    "get a fresh kubeconfig", not "update certificate-authority-data" alone."""
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir = tools(tmp)
        code, subject = sh(["openssl", "x509", "-in", ca_file(), "-noout", "-subject",
                            "-nameopt", "compat"])
        expect(code == 0, "the lab CA's subject is read", subject)
        subject = subject.strip().removeprefix("subject=").strip()
        old_ca = Path(tmp) / "old-ca.crt"
        code, out = sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj", subject,
                        "-keyout", str(Path(tmp) / "old-ca.key"), "-out", str(old_ca)])
        expect(code == 0, "an 'earlier' CA with the lab CA's name is made", out)
        def earlier_ca(doc):
            doc["clusters"][0]["cluster"].pop("certificate-authority", None)
            doc["clusters"][0]["cluster"]["certificate-authority-data"] = \
                base64.b64encode(old_ca.read_bytes()).decode()
        env = lab_kubeconfig(tmp, "earlier", earlier_ca)
        code, _, text = kubectl_url(bin_dir, env)
        expect(code != 0 and "unknown authority" in text,
               "kubectl (the oracle): certificate signed by unknown authority", text)
        code, report, out = apicheck_json(bin_dir, [], env)
        verify = check(report or {"checks": []}, "tls.verify")
        expect(code == 1 and report["failedLayer"] == "tls" and verify["status"] == "fail",
               "apicheck: exit 1, tls.verify fails", out)
        expect("earlier cluster at this address" in verify["hint"]
               and "get a fresh kubeconfig" in verify["hint"],
               "the fix is a fresh kubeconfig from the re-created cluster", out)
        expect(check(report, "auth.whoami")["status"] == "skip",
               "no credential went to the unverified server", out)


@case
def dangling_context_names():
    """A context naming a user or a cluster no kubeconfig defines: kubectl goes on (asking for a
    username; dialling --server); apicheck does too, with a config failure naming the entry,
    instead of stopping with exit 2. Names given by --user/--cluster stay refused by both."""
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir = tools(tmp)
        env = lab_kubeconfig(tmp, "dangling-user",  # u1 is defined nowhere
                             lambda doc: doc["contexts"][0]["context"].update(user="u1"))
        code, _, text = kubectl_url(bin_dir, env)
        expect("Please enter Username" in text,
               "kubectl (the oracle) goes on without credentials and asks for a username", text)
        code, report, out = apicheck_json(bin_dir, [], env)
        user = check(report or {"checks": []}, "config.user")
        expect(code == 1 and report["failedLayer"] == "config" and user["status"] == "fail"
               and '"u1"' in user["message"], "apicheck: exit 1, config.user names u1", out)
        expect(check(report, "tls.verify")["status"] == "ok"
               and check(report, "health.readyz")["status"] == "ok",
               "the lab's API server is still checked", out)
        expect(check(report, "auth.whoami")["status"] == "skip"
               and "config.user" in check(report, "auth.whoami")["message"],
               "no credential: auth is not judged, it points at config.user", out)
        # certs and netdebug resolve through the same core: they go on too, and say why on stderr
        warning = 'warning: context "kpt" names user "u1", which no kubeconfig defines'
        code, out, err = run([str(bin_dir / "kubectl-certs"), "server"], env)
        expect(code == 0 and warning.replace('"kpt"', f'"{context_of(env)}"') in err
               and "does not exist" not in err,
               "certs server goes on to the lab's serving certificate, warning about u1", out + err)
        code, out, err = run([str(bin_dir / "kubectl-netdebug"), "cleanup"], env)
        expect(warning.replace('"kpt"', f'"{context_of(env)}"') in err
               and "does not exist" not in err,
               "netdebug goes on (anonymous, as kubectl), warning about u1", out + err)

        env = lab_kubeconfig(tmp, "dangling-cluster",  # c1 is defined nowhere
                             lambda doc: doc["contexts"][0]["context"].update(cluster="c1"))
        server = f"https://127.0.0.1:{free_port()}"
        code, out, err = run([str(bin_dir / "kubectl"), "-s", server, "get", "--raw", "/healthz",
                              "-v=6"], env)
        expect(f'url="{server}/healthz"' in out + err, "kubectl (the oracle) dials --server",
               out + err)
        code, report, out = apicheck_json(bin_dir, ["-s", server], env)
        cluster = check(report or {"checks": []}, "config.cluster")
        expect(code == 1 and cluster["status"] == "warn" and cluster["details"]["server"] == server
               and report["target"]["server"] == server,
               "apicheck: config.cluster warns (--server says where to go, as for kubectl) and "
               "the run goes on to --server", out)
        expect(check(report, "tcp.connect")["status"] == "fail",
               "the --server address is checked (nothing listens there)", out)
        lab_cluster = yaml.safe_load(Path(lab("kubeconfig", "admin")).read_text())[
            "clusters"][0]["cluster"]
        lab_server = lab_cluster["server"]
        ca = Path(tmp) / "lab-ca.crt"
        ca.write_bytes(base64.b64decode(lab_cluster["certificate-authority-data"]))
        code, out, err = run([str(bin_dir / "kubectl-certs"), "server", "-s", lab_server,
                              "--ca", str(ca)], env)
        expect(code == 0 and f'names cluster "c1", which no kubeconfig defines: kubectl dials '
               f'{lab_server} (--server) instead' in err,
               "certs server checks --server's certificate, warning about c1", out + err)

        for flag in (["--user", "nope"], ["--cluster", "nope"]):
            code, out, err = run([str(bin_dir / "kubectl"), *flag, "get", "--raw", "/healthz"],
                                 env)
            expect(code != 0 and "does not exist" in out + err,
                   f"kubectl (the oracle) refuses {' '.join(flag)}", out + err)
            code, out, err = run([str(bin_dir / "kubectl-apicheck"), *flag], env)
            expect(code == 2 and "does not exist" in err, f"apicheck refuses {' '.join(flag)}: exit 2",
                   out + err)


@case
def stopped_local_cluster():
    """A kind or minikube context whose address refuses: kubectl says refused; apicheck fails tcp
    with that tool's start command."""
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir = tools(tmp)
        for context, start in (("kind-dev", "docker start dev-control-plane"),
                               ("minikube", "minikube start")):
            def local(doc, context=context):
                doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
                doc["contexts"][0]["name"] = doc["current-context"] = context
            env = lab_kubeconfig(tmp, context, local)
            code, _, text = kubectl_url(bin_dir, env)
            expect(code != 0 and "refused" in text, f"kubectl (the oracle) on {context}: refused",
                   text)
            code, report, out = apicheck_json(bin_dir, [], env)
            tcp = check(report or {"checks": []}, "tcp.connect")
            expect(code == 1 and report["failedLayer"] == "tcp" and start in tcp["hint"],
                   f"apicheck on {context}: tcp fails with '{start}'", out)


@case
def flags_before_files():
    """A bad -o or --timeout is exit 2 naming the flag, whatever the kubeconfig: here a malformed
    one, whose own error would show if it were read first."""
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir, home = tools(tmp), Path(tmp) / "home"
        home.mkdir()
        broken = Path(tmp) / "broken.yaml"
        broken.write_text("apiVersion: v1\nclusters: [\n")
        env = clean_env(home, KUBECONFIG=str(broken))
        code, out, err = run([str(bin_dir / "kubectl-apicheck")], env)
        expect(code == 2 and str(broken) in err, "the malformed kubeconfig alone is named", err)
        for args, flag in ((["-o", "xml"], "--output"), (["--timeout", "abc"], "--timeout"),
                           (["--fail-on", "sometimes"], "fail-on")):
            code, out, err = run([str(bin_dir / "kubectl-apicheck"), *args], env)
            expect(code == 2 and flag in err and str(broken) not in err,
                   f"{' '.join(args)}: exit 2 naming {flag}", out + err)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
