#!/usr/bin/env python3
"""End-to-end tests of the shell integration and the distribution: completion through the real
kubectl (kubectl_complete-<name>, kubectl >= 1.26), bash-completion, zsh and fish with the
scripts of `completion bash|zsh|fish`, the release archives installed by the real krew, the
manifests checked by krew's own validation, and the archive's binary in a root holding nothing
but glibc (and in a debootstrapped Debian minbase).

    e2e_shell.py CASE | --list

KP_BIN_DIR: the build directory (binaries and kubectl_complete-* beside them); KP_VERSION: the
version; KP_DIST_DIR: the output of scripts/release.sh (cases named release-* and krew-*);
KP_RELEASE_PLATFORMS: the platforms it built, comma-separated (linux/amd64,linux/arm64,...).
"""

import functools
import hashlib
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import yaml  # Debian: python3-yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from labtest import case, expect, lab, main, sh  # noqa: E402

PLUGINS = ("apicheck", "certs", "netdebug")
CACHE = Path(os.environ.get("KP_CACHE_DIR", Path.home() / ".cache" / "kplugins-lab"))


def user_path(*first):
    return ":".join([*first, os.environ["KP_BIN_DIR"], lab("bin"), os.environ["PATH"]])


def kubectl(*args, env=None, path=None):
    return sh(["kubectl", *args], env={"PATH": path or user_path(), **(env or {})})


def kubectl_complete(*args, env=None, path=None):
    """`kubectl __complete ARGS`: (candidates without descriptions, directive, raw output)."""
    p = subprocess.run(["kubectl", "__complete", *args], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, PATH=path or user_path(), **(env or {})))
    lines = [line for line in p.stdout.splitlines() if line]
    directive = None
    if lines and re.fullmatch(r":\d+", lines[-1]):
        directive = int(lines.pop()[1:])
    return [line.split("\t")[0] for line in lines], directive, p.stdout + p.stderr


def plugin_stderr(out):
    """What a plugin printed to stderr during `kubectl __complete`, without kubectl's own lines."""
    return [line for line in out.splitlines()[1:]
            if not line.startswith(("[Debug]", "Completion ended with directive"))]


def write_kubeconfig(path, contexts, server="https://198.18.0.99:6443"):
    """A kubeconfig with one cluster and user per context (`<ctx>-cluster`, `<ctx>-user`)."""
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": contexts[0],
        "clusters": [{"name": f"{c}-cluster", "cluster": {"server": server}} for c in contexts],
        "users": [{"name": f"{c}-user", "user": {"token": "t"}} for c in contexts],
        "contexts": [{"name": c, "context": {"cluster": f"{c}-cluster", "user": f"{c}-user"}}
                     for c in contexts],
    }
    Path(path).write_text(json.dumps(doc))


def completes_like_oracle(complete, kind, kubeconfig):
    """complete() -> (values, directive, out) equals `kubectl get <kind>` taken just before or
    just after (other tests share the lab and may add nodes meanwhile): (ok, evidence)."""
    for _ in range(3):
        before = oracle_names(kind, kubeconfig)
        values, directive, out = complete()
        after = oracle_names(kind, kubeconfig)
        if directive == 4 and sorted(values) in (before, after):
            return True, out
    return False, f"kubectl get {kind}: {after}\n{out}"


def oracle_names(kind, kubeconfig):
    """`kubectl get <kind> -o name` without the `<kind>/` prefix."""
    code, out = kubectl("--kubeconfig", kubeconfig, "get", kind, "-o", "name")
    expect(code == 0, f"kubectl get {kind} works (the oracle)", out)
    return sorted(line.split("/", 1)[1] for line in out.split())


# ------------------------------------------------------------------ kubectl's plugin completion

@case
def kubectl_completes_flag_names():
    """`kubectl __complete apicheck --con` offers --context, through kubectl_complete-apicheck."""
    for plugin in PLUGINS:
        expect(os.access(Path(os.environ["KP_BIN_DIR"]) / f"kubectl_complete-{plugin}", os.X_OK),
               f"kubectl_complete-{plugin} is installed beside kubectl-{plugin}")
    values, directive, out = kubectl_complete("apicheck", "--con")
    expect(values == ["--context"], "kubectl __complete apicheck --con: exactly --context", out)
    expect("The name of the kubeconfig context to use" in out, "with its description", out)
    expect(directive == 4, "and no file completion (:4)", out)
    values, _, out = kubectl_complete("certs", "server", "--")
    for flag in ("--host", "--sni", "--ca", "--output", "--fail-on", "--kubeconfig", "--context"):
        expect(flag in values, f"kubectl __complete certs server -- offers {flag}", out)
    values, _, out = kubectl_complete("apicheck", "--context", "x", "--con")
    expect(values == [], "a flag already given is not offered again", out)


@case
def kubectl_completes_contexts_clusters_users():
    """`--context ''` offers exactly the contexts of the test's KUBECONFIG (two files merged);
    --cluster and --user likewise; --kubeconfig typed before wins; kubectl agrees."""
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        write_kubeconfig(a, ["alpha", "beta"])
        write_kubeconfig(b, ["gamma", "alpha"])
        env = {"KUBECONFIG": f"{a}:{b}"}
        code, out = kubectl("config", "get-contexts", "-o", "name", env=env)
        oracle = sorted(out.split())
        expect(code == 0 and oracle == ["alpha", "beta", "gamma"],
               "kubectl config get-contexts sees alpha, beta, gamma (the oracle)", out)
        values, directive, out = kubectl_complete("apicheck", "--context", "", env=env)
        expect(sorted(values) == oracle and directive == 4,
               "kubectl __complete apicheck --context '': exactly kubectl's contexts, :4", out)
        values, _, out = kubectl_complete("apicheck", "--context=g", env=env)
        expect(values == ["gamma"], "--context=g: gamma (bare, as cobra answers)", out)
        values, _, out = kubectl_complete("certs", "server", "--cluster", "", env=env)
        expect(sorted(values) == ["alpha-cluster", "beta-cluster", "gamma-cluster"],
               "certs server --cluster '': the merged clusters", out)
        values, _, out = kubectl_complete("apicheck", "--user", "b", env=env)
        expect(values == ["beta-user"], "apicheck --user b: beta-user", out)
        values, _, out = kubectl_complete("apicheck", "--kubeconfig", str(b), "--context", "",
                                          env=env)
        expect(sorted(values) == ["alpha", "gamma"], "--kubeconfig B typed before: B's contexts",
               out)


@case
def kubectl_completes_nodes_and_namespaces():
    """`kubectl __complete netdebug run --node ''` offers the lab's kwok nodes; -n the
    namespaces; an unreachable server answers nothing, quickly and quietly."""
    admin = lab("kubeconfig", "admin")
    env = {"KUBECONFIG": admin}
    nodes = oracle_names("nodes", admin)
    expect(len(nodes) >= 3 and all(n.startswith("kwok-node-") for n in nodes),
           "the lab has its kwok nodes", nodes)
    namespaces = oracle_names("namespaces", admin)
    ok, out = completes_like_oracle(lambda: kubectl_complete("apicheck", "-n", "", env=env),
                                    "namespaces", admin)
    expect(ok, "kubectl __complete apicheck -n '': the namespaces kubectl lists", out)
    values, _, out = kubectl_complete("certs", "server", "--namespace", "kube-", env=env)
    want = [n for n in namespaces if n.startswith("kube-")]
    expect(want and sorted(values) == want, f"--namespace kube-: only {want}", out)
    with tempfile.TemporaryDirectory() as tmp:
        dead = Path(tmp) / "dead"
        write_kubeconfig(dead, ["dead"], server="https://198.18.0.99:6443")
        start = time.monotonic()
        values, directive, out = kubectl_complete("apicheck", "-n", "", env={"KUBECONFIG": str(dead)})
        took = time.monotonic() - start
        expect(values == [] and directive == 4 and out.startswith(":4\n") and
               plugin_stderr(out) == [], "an unreachable API server: no candidate, no message",
               out)
        expect(took < 5, f"within the short deadline ({took:.1f} s)")
    ok, out = completes_like_oracle(lambda: kubectl_complete("certs", "node", "", env=env),
                                    "nodes", admin)
    expect(ok, "kubectl __complete certs node '': the lab's kwok nodes", out)
    ok, out = completes_like_oracle(
        lambda: kubectl_complete("netdebug", "run", "--node", "", env=env), "nodes", admin)
    expect(ok, "kubectl __complete netdebug run --node '': the lab's kwok nodes", out)


@case
def kubectl_completes_commands_and_values():
    """The commands of certs and netdebug (as their --help lists them), -o values from the help
    text, files and directories where a flag takes them."""
    for plugin in ("certs", "netdebug"):
        code, help_text = kubectl(plugin, "--help")
        listed = re.search(r"Commands:\n((?:  \S.*\n)+)", help_text)
        expect(code == 0 and listed, f"kubectl {plugin} --help lists its commands", help_text)
        commands = [line.split()[0] for line in listed.group(1).splitlines()]
        values, directive, out = kubectl_complete(plugin, "")
        expect(values == commands and directive == 4,
               f"kubectl __complete {plugin} '': exactly its commands {commands}", out)
    values, _, out = kubectl_complete("certs", "server", "-o", "")
    expect(values == ["text", "json", "yaml", "prometheus"],
           "certs server -o '': the formats its help names", out)
    values, _, out = kubectl_complete("apicheck", "--output", "")
    expect(values == ["text", "json", "yaml"], "apicheck --output '': text, json, yaml", out)
    _, directive, out = kubectl_complete("apicheck", "--kubeconfig", "")
    expect(directive == 0, "--kubeconfig '': file completion (:0)", out)
    _, directive, out = kubectl_complete("certs", "pki", "--dir", "")
    expect(directive == 16, "certs pki --dir '': directories (:16)", out)
    _, directive, out = kubectl_complete("certs", "file", "")
    expect(directive == 0, "certs file '': files (:0)", out)
    _, directive, out = kubectl_complete("apicheck", "--timeout", "")
    expect(directive == 4, "--timeout '': nothing to offer, no files (:4)", out)


@case
def dispatch_names_the_command():
    """Run by kubectl, help and errors say `kubectl <name>`; run directly, `kubectl-<name>`
    (argv[0] and KUBECTL_PATH)."""
    code, out = kubectl("certs", "bogus")
    expect(code == 2 and 'unknown command "bogus" for "kubectl certs"' in out,
           "kubectl certs bogus: exit 2, names `kubectl certs`", out)
    code, out = sh([f"{os.environ['KP_BIN_DIR']}/kubectl-certs", "bogus"])
    expect(code == 2 and 'for "kubectl-certs"' in out, "kubectl-certs bogus: names kubectl-certs",
           out)
    code, out = kubectl("apicheck", "extra")
    expect(code == 2 and "see kubectl apicheck --help" in out,
           "kubectl apicheck extra: exit 2, points at `kubectl apicheck --help`", out)
    code, out = kubectl("netdebug", "--help")
    expect(code == 0 and "kubectl netdebug <command>" in out, "kubectl netdebug --help", out)
    code, out = kubectl("apicheck", "completion", "tcsh")
    expect(code == 2 and 'unsupported shell "tcsh"' in out,
           "kubectl apicheck completion tcsh: exit 2, a clear error", out)


@case
def kubectl_plugin_list():
    """`kubectl plugin list` shows the three plugins without a warning, helpers on PATH too."""
    code, out = kubectl("plugin", "list")
    for plugin in PLUGINS:
        expect(f"/kubectl-{plugin}\n" in out + "\n", f"kubectl plugin list shows kubectl-{plugin}",
               out)
    expect(code == 0 and "warning" not in out.lower(), "without a warning", out)
    expect("kubectl_complete" not in out, "the completion helpers are not taken for plugins", out)


# ------------------------------------------------------------------ shells

def bash_complete(line, env=None, setup=""):
    """COMPREPLY of the bash completion function registered for the first word of `line`."""
    words = line.split(" ")
    script = f"""
source /usr/share/bash-completion/bash_completion
{setup}
for tool in kubectl-apicheck kubectl-certs kubectl-netdebug; do source <("$tool" completion bash); done
COMP_LINE={json.dumps(line)}
COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({" ".join(json.dumps(w) for w in words)})
COMP_CWORD={len(words) - 1}
fn=$(complete -p {words[0]} | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p')
"$fn" {words[0]} {json.dumps(words[-1])} {json.dumps(words[-2] if len(words) > 1 else "")}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PATH=user_path(), **(env or {})))
    return [x for x in p.stdout.splitlines() if x], p.stdout + p.stderr


@case
def bash_completion():
    """bash with bash-completion and `source <(kubectl-<name> completion bash)`: COMPREPLY for
    commands, flags, --flag=value, enum values, contexts; and kubectl's own bash completion
    reaching the plugin through kubectl_complete-apicheck."""
    with tempfile.TemporaryDirectory() as tmp:
        kc = Path(tmp) / "kc"
        write_kubeconfig(kc, ["lab-a", "lab-b", "other"])
        env = {"KUBECONFIG": str(kc)}
        for line, want in (("kubectl-certs se", ["secrets", "server"]),
                           ("kubectl-netdebug ", ["cleanup", "local", "run", "shell"]),
                           ("kubectl-apicheck --con", ["--context"]),
                           ("kubectl-apicheck --context lab", ["lab-a", "lab-b"]),
                           ("kubectl-apicheck --context=o", ["other"]),
                           ("kubectl-certs server --fail-on ", ["fail", "warn"]),
                           ("kubectl-certs server -o pro", ["prometheus"]),
                           ("kubectl-apicheck --timeout ", [])):
            got, out = bash_complete(line, env)
            expect(sorted(got) == want, f"bash: `{line}<TAB>` -> {want}", out)
        got, out = bash_complete("kubectl-certs file " + tmp + "/k", env)
        expect(got == [str(kc)], "bash: certs file completes file names", out)
        got, out = bash_complete("kubectl apicheck --con", env, setup="source <(kubectl completion bash)")
        expect("--context" in got, "bash: kubectl's own completion reaches kubectl_complete-apicheck",
               out)


ZSHRC = r"""
PS1='' PROMPT='' RPROMPT=''
autoload -Uz compinit && compinit -u -d "$ZDOTDIR/.zcompdump"
for tool in kubectl-apicheck kubectl-certs kubectl-netdebug; do source <("$tool" completion zsh); done
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
# Print every match the completion adds instead of showing a menu, then leave.
compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
    builtin compadd "$@"
    return
  fi
  local -a __kp_hits
  builtin compadd -A __kp_hits "$@"
  local hit
  for hit in "${__kp_hits[@]}"; do print -r -- "<hit>$hit</hit>"; done
}
__kp_done() { print -r -- '<done>'; exit }
comppostfuncs=(__kp_done)
bindkey '^I' complete-word
"""


def zsh_complete(line, env=None):
    """The matches zsh's completion system adds for `line`<TAB>, in a real interactive zsh on a
    pseudo-terminal."""
    with tempfile.TemporaryDirectory() as zdotdir:
        Path(zdotdir, ".zshrc").write_text(ZSHRC)
        pid, fd = pty.fork()
        if pid == 0:
            os.environ.update({"ZDOTDIR": zdotdir, "PATH": user_path(), "TERM": "dumb",
                               **(env or {})})
            os.execvp("zsh", ["zsh", "-i"])
        os.write(fd, (line + "\t").encode())
        data = b""
        deadline = time.monotonic() + 30
        while b"<done>" not in data and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        text = data.decode(errors="replace")
        return sorted(set(re.findall(r"<hit>(.*?)</hit>", text))), text


@case
def zsh_completion():
    """zsh, `source <(kubectl-<name> completion zsh)` after compinit: the matches for commands,
    flags, --flag=value and contexts."""
    if not shutil.which("zsh"):
        expect(False, "zsh is installed (scripts/setup.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        kc = Path(tmp) / "kc"
        write_kubeconfig(kc, ["lab-a", "lab-b", "other"])
        env = {"KUBECONFIG": str(kc)}
        for line, want in (("kubectl-certs se", ["secrets", "server"]),
                           ("kubectl-apicheck --con", ["--context"]),
                           ("kubectl-apicheck --context lab", ["lab-a", "lab-b"]),
                           ("kubectl-apicheck --context=o", ["other"]),
                           ("kubectl-netdebug run --profile ", ["default", "netadmin",
                                                                "restricted"]),
                           ("kubectl-certs server -o y", ["yaml"])):
            got, out = zsh_complete(line, env)
            expect(got == want, f"zsh: `{line}<TAB>` -> {want}", out[-2000:])


def fish_complete(line, env=None):
    with tempfile.TemporaryDirectory() as home:
        script = ("for tool in kubectl-apicheck kubectl-certs kubectl-netdebug; "
                  "$tool completion fish | source; end; complete -C " + json.dumps(line))
        p = subprocess.run(["fish", "--no-config", "-c", script], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, PATH=user_path(), HOME=home,
                                                XDG_CONFIG_HOME=home, XDG_DATA_HOME=home,
                                                **(env or {})))
        return sorted(x.split("\t")[0] for x in p.stdout.splitlines() if x), p.stdout + p.stderr


@case
def fish_completion():
    """fish, `kubectl-<name> completion fish | source`: `complete -C` for commands, flags with
    descriptions, --flag=value and contexts."""
    if not shutil.which("fish"):
        expect(False, "fish is installed (scripts/setup.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        kc = Path(tmp) / "kc"
        write_kubeconfig(kc, ["lab-a", "lab-b", "other"])
        env = {"KUBECONFIG": str(kc)}
        for line, want in (("kubectl-certs se", ["secrets", "server"]),
                           ("kubectl-apicheck --con", ["--context"]),
                           ("kubectl-apicheck --context lab", ["lab-a", "lab-b"]),
                           ("kubectl-apicheck --context=o", ["--context=other"]),
                           ("kubectl-certs server --fail-on ", ["fail", "warn"])):
            got, out = fish_complete(line, env)
            expect(got == want, f"fish: `{line}<TAB>` -> {want}", out)
        got, out = fish_complete("kubectl-certs file " + tmp + "/k", env)
        expect(got == [str(kc)], "fish: certs file completes file names", out)


# ------------------------------------------------------------------ release archives and krew

@functools.lru_cache(maxsize=None)
def dist():
    path = Path(os.environ.get("KP_DIST_DIR", ""))
    expect(path.is_dir() and (path / "krew").is_dir(),
           f"KP_DIST_DIR ({path}) holds the release (scripts/release.sh)")
    return path


def platforms():
    return os.environ.get("KP_RELEASE_PLATFORMS", "linux/amd64").split(",")


def archive_of(name, platform="linux/amd64"):
    os_, arch = platform.split("/")
    ext = "zip" if os_ == "windows" else "tar.gz"
    return dist() / f"kubectl-{name}_{os.environ['KP_VERSION']}_{os_}_{arch}.{ext}"


def archive_members(archive):
    """{name: (mode, bytes)} of a .tar.gz or .zip archive's regular files."""
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            return {i.filename: (i.external_attr >> 16, z.read(i)) for i in z.infolist()}
    with tarfile.open(archive) as tar:
        return {m.name: (m.mode, tar.extractfile(m).read()) for m in tar.getmembers() if m.isreg()}


@case
def release_archives_and_manifests():
    """Each archive, one per plugin and built platform: named
    kubectl-<name>_<version>_<os>_<arch>.tar.gz (.zip for windows), holding the binary, its
    completion helper (a copy of the binary, which answers completion by that name), LICENSE and
    README.md; its .sha256 right; the manifest filled per section 10 (name = file name, v-semver,
    an entry per platform: os/arch selector, lowercase sha256 of the archive, bin), caveats."""
    version = os.environ["KP_VERSION"]
    for name in PLUGINS:
        manifest = dist() / "krew" / f"{name}.yaml"
        text = manifest.read_text()
        doc = yaml.safe_load(text)
        spec = doc["spec"]
        expect(doc["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2" and
               doc["kind"] == "Plugin", f"{manifest.name}: krew's apiVersion and kind", doc)
        expect(doc["metadata"]["name"] == name, f"{manifest.name}: metadata.name is the file name",
               doc["metadata"])
        expect(spec["version"] == f"v{version}" and
               re.fullmatch(r"v\d+\.\d+\.\d+", spec["version"]),
               f"{manifest.name}: version v{version}", spec["version"])
        expect(spec["shortDescription"] and "\n" not in spec["shortDescription"].strip(),
               f"{manifest.name}: a one-line shortDescription", spec["shortDescription"])
        expect(len(spec.get("caveats", "")) > 100 and "@" not in text,
               f"{manifest.name}: caveats, and no placeholder left", spec.get("caveats"))
        expect(len(spec["platforms"]) == len(platforms()),
               f"{manifest.name}: one entry per built platform {platforms()}", spec["platforms"])
        for platform in platforms():
            check_archive(name, platform, spec["platforms"], manifest.name)


def check_archive(name, platform, entries, manifest):
    """One archive of the release and its entry among the manifest's platforms."""
    version = os.environ["KP_VERSION"]
    os_, arch = platform.split("/")
    exe = ".exe" if os_ == "windows" else ""
    archive = archive_of(name, platform)
    expect(archive.is_file(), f"{archive.name} exists")
    members = archive_members(archive)
    binary, helper = f"kubectl-{name}{exe}", f"kubectl_complete-{name}{exe}"
    expect(sorted(members) == sorted([binary, helper, "LICENSE", "README.md"]),
           f"{archive.name}: binary, completion helper, LICENSE, README.md", list(members))
    expect(members[binary][0] & 0o111 and members[helper][0] & 0o111, "both executable")
    expect(members[helper][1] == members[binary][1],
           f"{archive.name}: {helper} is a copy of {binary}")
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    recorded = (dist() / f"{archive.name}.sha256").read_text().split()
    expect(recorded == [sha, archive.name], f"{archive.name}.sha256 is right", recorded)
    expect(f"{sha}  {archive.name}\n" in (dist() / "checksums.txt").read_text(),
           f"checksums.txt lists {archive.name}")
    mine = [e for e in entries if e["selector"] == {"matchLabels": {"os": os_, "arch": arch}}]
    expect(len(mine) == 1, f"{manifest}: one {os_}/{arch} entry", entries)
    entry = mine[0]
    expect(entry["sha256"] == sha and re.fullmatch(r"[a-f0-9]{64}", entry["sha256"]),
           f"{manifest}: the archive's lowercase sha256", entry)
    expect(entry["uri"].startswith("https://") and
           entry["uri"].endswith(f"/v{version}/{archive.name}"),
           f"{manifest}: the uri names the archive", entry["uri"])
    expect(entry["bin"] == binary, f"{manifest}: {os_}/{arch} bin {binary}", entry)
    expect({f["from"] for f in entry["files"]} == set(members),
           f"{manifest}: files are the archive's", entry["files"])


@case
def krew_validates_manifests():
    """krew's own validation (validate-krew-manifest) accepts each manifest; it also rejects a
    broken one (so it really validates)."""
    tool = str(Path(lab("bin")) / "validate-krew-manifest")
    for name in PLUGINS:
        code, out = sh([tool, "-manifest", str(dist() / "krew" / f"{name}.yaml"),
                        "-skip-install"])
        expect(code == 0, f"validate-krew-manifest accepts krew/{name}.yaml", out)
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "apicheck.yaml"
        bad.write_text((dist() / "krew" / "apicheck.yaml").read_text()
                       .replace("version: \"v", "version: \""))
        code, out = sh([tool, "-manifest", str(bad), "-skip-install"])
        expect(code != 0, "and rejects a version without its v", out)


@case
def krew_install_uninstall():
    """`kubectl krew install --manifest --archive` into a temporary KREW_ROOT, then `kubectl
    <name> --version` through krew's bin directory (not the build's), completion through the
    installed helper, and `kubectl krew uninstall` leaving nothing behind."""
    version = os.environ["KP_VERSION"]
    with tempfile.TemporaryDirectory() as root:
        krew_root = Path(root) / "krew"
        helpers = Path(root) / "helpers"
        helpers.mkdir()
        # The lab builds krew as `krew`; kubectl finds plugins as kubectl-<name>.
        (helpers / "kubectl-krew").symlink_to(Path(lab("bin")) / "krew")
        # No KP_BIN_DIR: only what krew installed can answer.
        path = ":".join([str(krew_root / "bin"), str(helpers), lab("bin"), os.environ["PATH"]])
        env = {"KREW_ROOT": str(krew_root)}
        for name in PLUGINS:
            code, out = kubectl("krew", "install", f"--manifest={dist() / 'krew' / f'{name}.yaml'}",
                                f"--archive={archive_of(name)}", env=env, path=path)
            expect(code == 0, f"kubectl krew install {name} from the archive", out)
            link = krew_root / "bin" / f"kubectl-{name}"
            expect(link.is_symlink() and
                   Path(os.readlink(link)).resolve() ==
                   (krew_root / "store" / name / f"v{version}" / f"kubectl-{name}").resolve(),
                   f"krew links bin/kubectl-{name} to its store", os.readlink(link))
            code, out = kubectl(name, "--version", env=env, path=path)
            expect(code == 0 and out.strip() == f"kubectl-{name} version {version}",
                   f"kubectl {name} --version through krew's bin directory", out)
            # As the caveats say: link the helper from the store.
            (helpers / f"kubectl_complete-{name}").symlink_to(
                krew_root / "store" / name / f"v{version}" / f"kubectl_complete-{name}")
            values, _, out = kubectl_complete(name, "--ver", path=path, env=env)
            expect("--version" in values, f"kubectl __complete {name} --ver via the store's helper",
                   out)
        receipts = sorted(p.name for p in (krew_root / "receipts").iterdir())
        expect(receipts == sorted(f"{n}.yaml" for n in PLUGINS), "krew has the three receipts",
               receipts)
        # uninstall wants a local index (a git clone of krew-index; offline here): an empty one
        # is enough, krew only checks that index/default/.git exists.
        (krew_root / "index" / "default" / ".git").mkdir(parents=True, exist_ok=True)
        for name in PLUGINS:
            code, out = kubectl("krew", "uninstall", name, env=env, path=path)
            expect(code == 0, f"kubectl krew uninstall {name}", out)
            (helpers / f"kubectl_complete-{name}").unlink()
        left = [str(p.relative_to(krew_root)) for p in krew_root.rglob("*")
                if any(n in p.name for n in PLUGINS)]
        expect(left == [], "nothing of the plugins is left in KREW_ROOT", left)
        code, out = kubectl("plugin", "list", env=env, path=path)
        expect(not any(f"kubectl-{n}" in out for n in PLUGINS), "kubectl sees none of them", out)


def needed(binary):
    code, out = sh(["readelf", "-d", str(binary)])
    expect(code == 0, f"readelf -d {binary.name}", out)
    return sorted(re.findall(r"\(NEEDED\)\s+Shared library: \[(.*?)\]", out))


def extract(name, into):
    with tarfile.open(archive_of(name)) as tar:
        tar.extractall(into, filter="data") if sys.version_info >= (3, 11, 4) else tar.extractall(into)


def chroot_checks(root, label):
    """Runs the three archive binaries in `root` (--version, a completion) and apicheck against
    the lab's API server with the admin kubeconfig (static OpenSSL, libcurl, HTTP/2)."""
    version = os.environ["KP_VERSION"]
    for name in PLUGINS:
        code, out = sh(["chroot", str(root), f"/opt/kubectl-{name}", "--version"])
        expect(code == 0 and out.strip() == f"kubectl-{name} version {version}",
               f"{label}: kubectl-{name} --version runs", out)
    code, out = sh(["chroot", str(root), "/opt/kubectl-certs", "__complete", "server", "-o", ""])
    expect(code == 0 and out.split() == ["text", "json", "yaml", "prometheus", ":4"],
           f"{label}: completion answers", out)
    shutil.copy(lab("kubeconfig", "admin"), root / "kubeconfig")
    code, out = sh(["chroot", str(root), "/opt/kubectl-apicheck", "--kubeconfig", "/kubeconfig",
                    "-o", "json"], env={"HOME": "/"})
    try:
        report = json.loads(out)
    except ValueError:
        report = None
    expect(code == 0 and report and report["verdict"] == "ok",
           f"{label}: kubectl-apicheck checks the lab's API server, verdict ok", out)
    # The anonymous health requests use HTTP/1.1 (kube-apiserver closes an anonymous HTTP/2
    # connection after each request); the credentialed one negotiates HTTP/2 (static nghttp2).
    whoami = [c for c in report["checks"] if c["id"] == "auth.whoami"]
    expect(whoami and whoami[0]["details"].get("httpVersion") == "HTTP/2",
           f"{label}: the credentialed request over HTTP/2", whoami)


@case
def release_binary_needs_only_glibc():
    """The NEEDED list of each archive binary is libc, libm and the loader only; they run in a
    root holding nothing else (no libstdc++, no libcurl, no OpenSSL, no yaml-cpp)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "opt").mkdir()
        for name in PLUGINS:
            extract(name, root / "opt")
            libs = needed(root / "opt" / f"kubectl-{name}")
            expect(set(libs) <= {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2"} and
                   "libc.so.6" in libs, f"kubectl-{name} NEEDED: {libs}", libs)
        lib = root / "lib" / "x86_64-linux-gnu"
        lib.mkdir(parents=True)
        (root / "lib64").mkdir()
        for so in ("libc.so.6", "libm.so.6"):
            shutil.copy(f"/lib/x86_64-linux-gnu/{so}", lib / so)
        shutil.copy("/lib64/ld-linux-x86-64.so.2", root / "lib64" / "ld-linux-x86-64.so.2")
        (root / "etc").mkdir()
        (root / "tmp").mkdir()
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        expect(not any(re.search(r"libstdc\+\+|libcurl|libssl|libcrypto|yaml", f) for f in files),
               "the root holds glibc and our files only", files)
        chroot_checks(root, "glibc-only root")


@case
def release_arm64_binary_needs_only_glibc():
    """The linux/arm64 archive binaries: NEEDED is the arm64 glibc only; under qemu-user with a
    root holding nothing but the arm64 libc, libm and loader (qemu -L ROOT), they answer
    --version and completion, and apicheck checks the lab's API server over HTTP/2."""
    expect("linux/arm64" in platforms(), "the release built linux/arm64", platforms())
    version = os.environ["KP_VERSION"]
    qemu = shutil.which("qemu-aarch64-static")
    expect(qemu, "qemu-aarch64-static is installed (scripts/setup.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "opt").mkdir()
        for name in PLUGINS:
            with tarfile.open(archive_of(name, "linux/arm64")) as tar:
                tar.extractall(root / "opt", filter="data") if sys.version_info >= (3, 11, 4) \
                    else tar.extractall(root / "opt")
            libs = needed(root / "opt" / f"kubectl-{name}")
            expect(set(libs) <= {"libc.so.6", "libm.so.6", "ld-linux-aarch64.so.1"} and
                   "libc.so.6" in libs, f"arm64 kubectl-{name} NEEDED: {libs}", libs)
        lib = root / "lib" / "aarch64-linux-gnu"
        lib.mkdir(parents=True)
        for so in ("libc.so.6", "libm.so.6"):
            shutil.copy(f"/usr/aarch64-linux-gnu/lib/{so}", lib / so)
        shutil.copy("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1",
                    root / "lib" / "ld-linux-aarch64.so.1")
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        expect(not any(re.search(r"libstdc\+\+|libcurl|libssl|libcrypto|yaml|nghttp2", f)
                       for f in files), "the root holds the arm64 glibc and our files only",
               files)
        run = [qemu, "-L", str(root)]
        for name in PLUGINS:
            code, out = sh([*run, str(root / "opt" / f"kubectl-{name}"), "--version"])
            expect(code == 0 and out.strip() == f"kubectl-{name} version {version}",
                   f"arm64 kubectl-{name} --version runs", out)
        code, out = sh([*run, str(root / "opt" / "kubectl_complete-certs"), "server", "-o", ""])
        expect(code == 0 and out.split() == ["text", "json", "yaml", "prometheus", ":4"],
               "arm64 kubectl_complete-certs answers completion", out)
        # The lab's kubectl first on PATH, as a user of the lab has it: the skew check runs it
        # (a native child of the emulated binary), and any other kubectl here may be years off.
        code, out = sh([*run, str(root / "opt" / "kubectl-apicheck"), "--kubeconfig",
                        lab("kubeconfig", "admin"), "-o", "json"], timeout=180,
                       env={"PATH": f"{lab('bin')}:{os.environ['PATH']}"})
        try:
            report = json.loads(out)
        except ValueError:
            report = None
        expect(code == 0 and report and report["verdict"] == "ok",
               "arm64 kubectl-apicheck checks the lab's API server, verdict ok", out)
        whoami = [c for c in report["checks"] if c["id"] == "auth.whoami"]
        expect(whoami and whoami[0]["details"].get("httpVersion") == "HTTP/2",
               "arm64: the credentialed request over HTTP/2", whoami)


# What a windows/amd64 binary may import: DLLs every Windows ships (no libstdc++, libgcc,
# winpthread, OpenSSL, libcurl, nghttp2, zlib or yaml-cpp DLL); the same list as release.sh's.
WINDOWS_SYSTEM_DLLS = {
    "advapi32.dll", "bcrypt.dll", "crypt32.dll", "dnsapi.dll", "gdi32.dll", "iphlpapi.dll",
    "kernel32.dll", "msvcrt.dll", "ncrypt.dll", "normaliz.dll", "ntdll.dll", "ole32.dll",
    "oleaut32.dll", "rpcrt4.dll", "secur32.dll", "shell32.dll", "shlwapi.dll", "ucrtbase.dll",
    "user32.dll", "userenv.dll", "version.dll", "winmm.dll", "wldap32.dll", "ws2_32.dll"}


@case
def release_windows_binary_imports_only_system_dlls():
    """The windows/amd64 archive binaries: PE32+ x86-64 importing only Windows system DLLs
    (objdump -p); unpacked alone in a directory, they run under wine (WINEPREFIX: the tests'
    prefix): --version, the completion helper kubectl_complete-<name>.exe, `netdebug local`'s
    exit 2 with its hint, and apicheck checking the lab's API server over HTTP/2."""
    expect("windows/amd64" in platforms(), "the release built windows/amd64", platforms())
    version = os.environ["KP_VERSION"]
    wine = shutil.which("wine")
    expect(wine and os.environ.get("WINEPREFIX"), "wine is installed (scripts/setup.sh) and "
           "WINEPREFIX set (the wine fixture, tests/platform/wine_prefix.sh)")
    objdump = shutil.which("x86_64-w64-mingw32-objdump") or "objdump"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in PLUGINS:
            with zipfile.ZipFile(archive_of(name, "windows/amd64")) as z:
                z.extractall(root)
            exe = root / f"kubectl-{name}.exe"
            code, out = sh([objdump, "-p", str(exe)])
            expect(code == 0 and "file format pei-x86-64" in out,
                   f"kubectl-{name}.exe is PE32+ x86-64", out[:500])
            dlls = sorted({d.lower() for d in re.findall(r"DLL Name: (\S+)", out)})
            expect(dlls and set(dlls) <= WINDOWS_SYSTEM_DLLS and "kernel32.dll" in dlls and
                   "ws2_32.dll" in dlls, f"kubectl-{name}.exe imports system DLLs only: {dlls}",
                   sorted(set(dlls) - WINDOWS_SYSTEM_DLLS))
            # OpenSSL reads OPENSSLDIR/openssl.cnf at start-up: a directory only administrators
            # can write, never the build's temporary prefix (a drive-relative \tmp\... there).
            dirs = set(re.findall(rb'OPENSSLDIR: "([^"]*)"', exe.read_bytes()))
            expect(dirs == {b"C:/Program Files/Common Files/SSL"},
                   f"kubectl-{name}.exe's OpenSSL reads its configuration from an admin-only "
                   "directory", dirs)
        files = sorted(p.name for p in root.iterdir())
        expect(not any(f.lower().endswith(".dll") for f in files),
               "the directory holds the archives' files only, no DLL", files)
        for name in PLUGINS:
            code, out = sh([wine, str(root / f"kubectl-{name}.exe"), "--version"], timeout=120)
            expect(code == 0 and out.strip() == f"kubectl-{name} version {version}",
                   f"windows kubectl-{name}.exe --version runs under wine", out)
        code, out = sh([wine, str(root / "kubectl_complete-certs.exe"), "server", "-o", ""],
                       timeout=120)
        expect(code == 0 and out.split() == ["text", "json", "yaml", "prometheus", ":4"],
               "windows kubectl_complete-certs.exe answers completion", out)
        code, out = sh([wine, str(root / "kubectl-netdebug.exe"), "local"], timeout=120)
        expect(code == 2 and "cannot run on Windows" in out and "hint: " in out,
               "windows `netdebug local`: exit 2, why and a hint", out)
        code, out = sh([wine, str(root / "kubectl-apicheck.exe"), "--kubeconfig",
                        lab("kubeconfig", "admin"), "-o", "json"], timeout=180,
                       env={"PATH": f"{lab('bin')}:{os.environ['PATH']}"})
        try:
            report = json.loads(out[out.find("{"):])
        except ValueError:
            report = None
        expect(code == 0 and report and report["verdict"] == "ok",
               "windows kubectl-apicheck.exe checks the lab's API server, verdict ok", out)
        whoami = [c for c in report["checks"] if c["id"] == "auth.whoami"]
        expect(whoami and whoami[0]["details"].get("httpVersion") == "HTTP/2",
               "windows: the credentialed request over HTTP/2", whoami)


def minbase():
    """A Debian minbase root (debootstrap from the configured mirror), cached as a tarball."""
    suite = "bookworm"
    tarball = CACHE / f"debootstrap-{suite}-minbase.tar"
    if tarball.is_file():
        return tarball
    expect(shutil.which("debootstrap"), "debootstrap is installed (scripts/setup.sh)")
    code, mirror = sh(["sh", "-c", "apt-get indextargets --no-release-info --format '$(URI)' "
                       "'Created-By: Packages' | sed -n 's|/dists/" + suite +
                       "/main/binary-amd64/Packages$||p' | head -1"])
    mirror = mirror.strip() or "http://deb.debian.org/debian"
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        code, out = sh(["debootstrap", "--variant=minbase", suite, f"{tmp}/root", mirror],
                       timeout=900)
        expect(code == 0, f"debootstrap --variant=minbase {suite} from {mirror}", out[-3000:])
        code, out = sh(["tar", "-C", f"{tmp}/root", "-cf", f"{tmp}/root.tar", "."], timeout=300)
        expect(code == 0, "minbase root archived", out)
        os.replace(f"{tmp}/root.tar", tarball)
    return tarball


@case
def release_binary_runs_on_debian_minbase():
    """The archive binaries run in a freshly debootstrapped Debian minbase (no libcurl, no
    OpenSSL library, no yaml-cpp installed there), against the lab's API server."""
    tarball = minbase()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        code, out = sh(["tar", "-C", str(root), "-xf", str(tarball)], timeout=300)
        expect(code == 0, "minbase root unpacked", out)
        for lib in ("libcurl.so.4", "libyaml-cpp.so.0.7", "libssl.so.3", "libnghttp2.so.14"):
            expect(not (root / "usr/lib/x86_64-linux-gnu" / lib).exists(),
                   f"minbase has no {lib} (so the test proves something)")
        (root / "opt").mkdir(exist_ok=True)
        for name in PLUGINS:
            extract(name, root / "opt")
        chroot_checks(root, "Debian minbase")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
