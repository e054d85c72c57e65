#!/usr/bin/env python3
"""End-to-end tests of `kubectl certs pki --root` and `certs node` on the layouts of k3s, RKE2,
MicroK8s and OpenShift 4, each made at test time with the openssl CLI as the distribution makes
it (file names, CNs, organisations, signing CAs, EC or RSA keys; sources in the layout_*.cpp
tables), with expired, expiring, key-mismatch and wrong-CA faults, and openssl as the oracle of
every certificate's status.

    e2e_certs_distro.py CASE | --list
"""

import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from labtest import case, expect, lab, main, sh  # noqa: E402
from pkimaker import (expires_within, first_pem, issue, long_cn_ca, new_key,  # noqa: E402
                      not_after_rfc3339, public_key, verifies, x509_field)

LAB_DIR = Path(os.environ.get("LAB_DIR", "/tmp/kplugins-lab"))
WARN_DAYS = 30
NODE = "node-1"


def kubectl(*args):
    path = f"{os.environ['KP_BIN_DIR']}:{lab('bin')}:{os.environ['PATH']}"
    return sh(["kubectl", *args], env={"PATH": path}, timeout=180)


def certs_json(*args):
    code, out = kubectl("certs", *args, "-o", "json")
    start = out.find("{")
    try:
        return code, json.JSONDecoder().raw_decode(out[start:])[0] if start >= 0 else None, out
    except ValueError:
        return code, None, out


def by_source(report):
    return {c["details"]["source"]: c for c in report["checks"]
            if isinstance(c.get("details"), dict) and "source" in c["details"]}


class Layout:
    """A root filesystem being filled with one distribution's files. `made` holds, by path on
    the node, what the oracle needs: the certificate file, its key, the CA bundle that must
    verify it, and the renewal command the distribution gives."""

    def __init__(self, root, distro):
        self.root, self.distro, self.made = Path(root), distro, {}
        self.subjects = {}  # certificate file -> the -subj it was made with
        self.outside = Path(str(root) + "-signers")  # CAs whose keys are not on the node

    def path(self, rel):
        return self.root / rel

    def ca(self, rel_crt, rel_key, subject, alg, days=(-1, 3650), on_node=True):
        base = self.root if on_node else self.outside
        if len(subject) > 64 + len("/CN="):  # Go writes them; openssl req refuses them
            crt, key = long_cn_ca(base / rel_crt, base / rel_key, subject[len("/CN="):], days)
        else:
            crt, key = issue(base / rel_crt, base / rel_key, subject, ca=True, alg=alg, days=days)
        self.subjects[crt] = subject
        if on_node:
            self.made["/" + rel_crt] = {"crt": crt, "key": key, "ca": crt, "renew": None}
        return crt, key

    def leaf(self, rel_crt, rel_key, subject, signer, alg, renew, ca_file=None, days=(-1, 365),
             chain=False, sans=()):
        crt, key = issue(self.root / rel_crt, self.root / rel_key, subject, signer, days=days,
                         alg=alg, chain=chain, sans=sans)
        self.subjects[crt] = subject
        self.made["/" + rel_crt] = {"crt": crt, "key": key, "ca": ca_file or signer[0],
                                    "renew": renew, "signer": signer, "chain": chain,
                                    "rotated": self.distro == "openshift"}
        return crt, key

    def bundle(self, rel, *cas):
        dest = self.root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text("".join(first_pem(c[0]) for c in cas))
        self.made["/" + rel] = {"crt": dest, "key": None, "ca": None, "renew": None}
        return dest

    def kubeconfig(self, rel, user, crt, key, ca_crt):
        import base64

        def b64(p):
            return base64.b64encode(Path(p).read_bytes()).decode()
        dest = self.root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: default
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: {b64(ca_crt)}
contexts:
- name: default
  context: {{cluster: default, user: {user}}}
current-context: default
users:
- name: {user}
  user:
    client-certificate-data: {b64(crt)}
    client-key-data: {b64(key)}
""")
        return dest

    # ---- faults: each re-made the way the distribution would not

    def reissue(self, source, days, signer=None):
        m = self.made[source]
        issue(m["crt"], m["key"], self.subjects[m["crt"]], signer or m["signer"], days=days,
              chain=m["chain"], reuse_key=True)

    def expire(self, source):
        self.reissue(source, (-400, -3))

    def expiring(self, source):
        self.reissue(source, (-300, 10))

    def mismatch_key(self, source, alg):
        new_key(self.made[source]["key"], alg)

    def wrong_ca(self, source, alg):
        """Re-issued by a stranger CA with the same subject as the real one."""
        real = self.subjects[self.made[source]["signer"][0]]
        stranger = self.ca("stranger.crt", "stranger.key", real, alg, on_node=False)
        self.reissue(source, (-1, 365), stranger)

    # ---- the oracle

    def expected_status(self, source):
        m = self.made[source]
        if expires_within(m["crt"], 0):
            return "fail"
        if m["key"] and public_key(m["crt"], True) != public_key(m["key"], False):
            return "fail"
        if m["ca"] and not verifies(m["crt"], m["ca"]):
            return "fail"
        window = WARN_DAYS * 86400
        if m.get("rotated"):  # operator-rotated: 40% of its lifetime when shorter
            lifetime = (datetime_of(x509_field(m["crt"], "enddate")) -
                        datetime_of(x509_field(m["crt"], "startdate")))
            window = min(window, lifetime * 2 // 5)
        if expires_within(m["crt"], window):
            return "warn"
        return "ok"


def datetime_of(openssl_date):
    return int(datetime.strptime(openssl_date, "%b %d %H:%M:%S %Y GMT")
               .replace(tzinfo=timezone.utc).timestamp())


def subject(**parts):
    """openssl -subj from O then CN (the order Go's pkix.Name writes)."""
    text = "".join(f"/O={o}" for o in parts.get("O", []))
    return text + f"/CN={parts['CN']}"


# ---------------------------------------------------------------- the layouts


def make_k3s(root, program="k3s"):
    """k3s/RKE2 as pkg/daemons/control/deps/deps.go makes it: ECDSA P-256 keys, CAs
    "<prefix>-ca@<time>", leaves holding the leaf then their CA, the agent's copies of the CAs
    and its kubelet/kube-proxy certificates, service.key RSA, <program>.yaml embedded."""
    lay = Layout(root, program)
    tls, agent = f"var/lib/rancher/{program}/server/tls/", f"var/lib/rancher/{program}/agent/"
    t = int(time.time()) - 86400
    cas = {}
    for name, prefix in (("server-ca", f"{program}-server"), ("client-ca", f"{program}-client"),
                         ("request-header-ca", f"{program}-request-header"),
                         ("etcd/server-ca", "etcd-server"), ("etcd/peer-ca", "etcd-peer")):
        cas[name] = lay.ca(tls + name + ".crt", tls + name + ".key", f"/CN={prefix}-ca@{t}", "ec")
    rotate = f"{program} certificate rotate --service "
    for name, ca, subj, service, sans in (
            ("serving-kube-apiserver", "server-ca", subject(CN="kube-apiserver"), "api-server",
             ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
              "kubernetes.default.svc.cluster.local", "127.0.0.1"]),
            ("client-admin", "client-ca", subject(O=["system:masters"], CN="system:admin"),
             "admin", ()),
            ("client-supervisor", "client-ca",
             subject(O=["system:masters"], CN=f"system:{program}-supervisor"), "supervisor", ()),
            ("client-controller", "client-ca", subject(CN="system:kube-controller-manager"),
             "controller-manager", ()),
            ("client-scheduler", "client-ca", subject(CN="system:kube-scheduler"), "scheduler",
             ()),
            ("client-kube-apiserver", "client-ca",
             subject(O=["system:masters"], CN="system:kube-apiserver"), "api-server", ()),
            ("client-kube-proxy", "client-ca", subject(CN="system:kube-proxy"), "kube-proxy", ()),
            (f"client-{program}-controller", "client-ca",
             subject(CN=f"system:{program}-controller"), f"{program}-controller", ()),
            (f"client-{program}-cloud-controller", "client-ca",
             subject(CN=f"{program}-cloud-controller-manager"), "cloud-controller", ()),
            ("client-auth-proxy", "request-header-ca", subject(CN="system:auth-proxy"),
             "auth-proxy", ()),
            ("etcd/client", "etcd/server-ca", subject(CN="etcd-client"), "etcd", ()),
            ("etcd/server-client", "etcd/server-ca", subject(CN="etcd-server"), "etcd",
             ["kine.sock", "127.0.0.1"]),
            ("etcd/peer-server-client", "etcd/peer-ca", subject(CN="etcd-peer"), "etcd",
             ["kine.sock", "127.0.0.1"])):
        lay.leaf(tls + name + ".crt", tls + name + ".key", subj, cas[ca], "ec", rotate + service,
                 chain=True, sans=sans)
    for extra in ("client-kubelet.key", "serving-kubelet.key"):
        new_key(lay.path(tls + extra), "ec")
    for name in ("client-ca", "server-ca"):
        (lay.path(tls + name + ".nochain.crt")).write_text(first_pem(cas[name][0]))
    new_key(lay.path(tls + "service.key"), "rsa")
    (lay.path(tls + "dynamic-cert.json")).write_text('{"not": "checked"}')
    admin = lay.made["/" + tls + "client-admin.crt"]
    lay.kubeconfig(f"etc/rancher/{program}/{program}.yaml", "default", admin["crt"],
                   admin["key"], cas["server-ca"][0])
    lay.bundle(agent + "client-ca.crt", cas["client-ca"])
    lay.bundle(agent + "server-ca.crt", cas["server-ca"])
    for name, ca, subj, service in (
            ("client-kubelet", "client-ca",
             subject(O=["system:nodes"], CN=f"system:node:{NODE}"), "kubelet"),
            ("serving-kubelet", "server-ca", subject(CN=NODE), "kubelet"),
            ("client-kube-proxy", "client-ca", subject(CN="system:kube-proxy"), "kube-proxy"),
            (f"client-{program}-controller", "client-ca",
             subject(CN=f"system:{program}-controller"), f"{program}-controller")):
        lay.leaf(agent + name + ".crt", agent + name + ".key", subj, cas[ca], "ec",
                 rotate + service, ca_file=lay.path(agent + ca + ".crt"), chain=True)
    return lay


def make_microk8s(root):
    """MicroK8s as microk8s-resources/actions/common/utils.sh makes it: RSA 2048 keys, the CA
    "/CN=10.152.183.1", front-proxy-ca, server.crt from csr.conf (O=Canonical, CN=127.0.0.1),
    the component certificates and the credentials/*.config with embedded certificates, the dqlite
    cluster certificate (RSA 4096, self-signed CN=k8s)."""
    lay = Layout(root, "microk8s")
    snap = "var/snap/microk8s/current/"
    c = snap + "certs/"
    ca = lay.ca(c + "ca.crt", c + "ca.key", "/CN=10.152.183.1", "rsa")
    fp = lay.ca(c + "front-proxy-ca.crt", c + "front-proxy-ca.key", "/CN=front-proxy-ca", "rsa")
    lay.leaf(c + "server.crt", c + "server.key",
             "/C=GB/ST=Canonical/L=Canonical/O=Canonical/OU=Canonical/CN=127.0.0.1", ca, "rsa",
             "microk8s refresh-certs --cert server.crt",
             sans=["kubernetes", "kubernetes.default", "kubernetes.default.svc", "127.0.0.1",
                   "10.152.183.1"])
    lay.leaf(c + "front-proxy-client.crt", c + "front-proxy-client.key", "/CN=front-proxy-client",
             fp, "rsa", "microk8s refresh-certs --cert front-proxy-client.crt")
    users = {"kubelet": (subject(O=["system:nodes"], CN=f"system:node:{NODE}"),
                         f"system:node:{NODE}"),
             "client": (subject(O=["system:masters"], CN="admin"), "admin"),
             "proxy": (subject(CN="system:kube-proxy"), "system:kube-proxy"),
             "scheduler": (subject(CN="system:kube-scheduler"), "system:kube-scheduler"),
             "controller": (subject(CN="system:kube-controller-manager"),
                            "system:kube-controller-manager"),
             "apiserver-kubelet-client": (
                 subject(O=["system:masters"], CN="kube-apiserver-kubelet-client"), None)}
    for name, (subj, user) in users.items():
        crt, key = lay.leaf(c + name + ".crt", c + name + ".key", subj, ca, "rsa",
                            "microk8s refresh-certs --cert ca.crt", days=(-1, 3650))
        if user:
            lay.kubeconfig(f"{snap}credentials/{name}.config", user, crt, key, ca[0])
    new_key(lay.path(c + "serviceaccount.key"), "rsa")
    backend = snap + "var/kubernetes/backend/"
    crt, key = issue(lay.path(backend + "cluster.crt"), lay.path(backend + "cluster.key"),
                     "/C=GB/ST=Canonical/L=Canonical/O=Canonical/OU=Canonical/CN=k8s",
                     alg="rsa4096", days=(-1, 3650))
    lay.made["/" + backend + "cluster.crt"] = {"crt": crt, "key": key, "ca": None,
                                                "renew": None}
    return lay


def make_openshift(root):
    """OpenShift 4's /etc/kubernetes/static-pod-resources on a control-plane node, as the
    operators copy their Secrets and ConfigMaps there (openshift/origin tls/ ownership docs):
    RSA 2048, serving certificates from the localhost, service-network, load-balancer and
    recovery signers (kept off the node), client certificates from the signers in the client-ca
    and aggregator-client-ca bundles, etcd's per-node certificates."""
    lay = Layout(root, "openshift")
    base = "etc/kubernetes/static-pod-resources/"
    api = base + "kube-apiserver-certs/"
    t = int(time.time()) - 86400
    off = {}
    for name, cn in (("localhost", "kube-apiserver-localhost-signer"),
                     ("service-network", "kube-apiserver-service-network-signer"),
                     ("lb", "kube-apiserver-lb-signer"),
                     ("recovery", f"openshift-kube-apiserver-operator_localhost-recovery-serving-"
                                  f"signer@{t}"),
                     ("aggregator", f"openshift-kube-apiserver-operator_aggregator-client-signer"
                                    f"@{t}"),
                     ("control-plane", f"openshift-kube-apiserver-operator_kube-control-plane-"
                                       f"signer@{t}"),
                     ("admin", "openshift-kube-apiserver-operator_node-system-admin-signer"),
                     ("kubelet", f"openshift-kube-apiserver-operator_kube-apiserver-to-kubelet-"
                                 f"signer@{t}"),
                     ("csr-signer-signer", f"openshift-kube-controller-manager-operator_csr-"
                                           f"signer-signer@{t}"),
                     ("etcd", "etcd-signer"), ("etcd-metrics", "etcd-metric-signer")):
        off[name] = lay.ca(f"{name}.crt", f"{name}.key", f"/CN={cn}", "rsa", on_node=False)
    hint = "oc get clusteroperator kube-apiserver"
    client_ca = lay.bundle(api + "configmaps/client-ca/ca-bundle.crt", off["control-plane"],
                           off["admin"])
    aggregator_ca = lay.bundle(api + "configmaps/aggregator-client-ca/ca-bundle.crt",
                               off["aggregator"])
    etcd_serving = lay.bundle(base + "etcd-certs/configmaps/etcd-serving-ca/ca-bundle.crt",
                              off["etcd"])
    etcd_peer = lay.bundle(base + "etcd-certs/configmaps/etcd-peer-client-ca/ca-bundle.crt",
                           off["etcd"])

    def secret(dir_, name, subj, signer, ca_file, renew, sans=(), usage="serverAuth"):
        path = f"{dir_}secrets/{name}/"
        return lay.leaf(path + "tls.crt", path + "tls.key", subj, signer, "rsa", renew,
                        ca_file=ca_file, days=(-1, 30 if usage == "serverAuth" else 60), sans=sans)

    secret(api, "localhost-serving-cert-certkey", "/CN=127.0.0.1", off["localhost"], None, hint,
           ["localhost", "127.0.0.1"])
    secret(api, "service-network-serving-certkey", "/CN=172.30.0.1", off["service-network"],
           None, hint, ["kubernetes", "openshift", "172.30.0.1"])
    secret(api, "external-loadbalancer-serving-certkey", "/CN=api.lab.example.com", off["lb"],
           None, hint, ["api.lab.example.com"])
    secret(api, "internal-loadbalancer-serving-certkey", "/CN=api-int.lab.example.com",
           off["lb"], None, hint, ["api-int.lab.example.com"])
    secret(api, "localhost-recovery-serving-certkey", "/CN=localhost-recovery", off["recovery"],
           None, hint, ["localhost-recovery"])
    secret(api, "aggregator-client", "/CN=system:openshift-aggregator", off["aggregator"],
           aggregator_ca, hint, usage="clientAuth")
    secret(api, "kubelet-client", "/O=kube-master/CN=system:kube-apiserver", off["kubelet"],
           None, hint, usage="clientAuth")
    secret(api, "control-plane-node-admin-client-cert-key",
           "/CN=system:control-plane-node-admin", off["control-plane"], client_ca, hint,
           usage="clientAuth")
    secret(api, "check-endpoints-client-cert-key",
           "/CN=system:serviceaccount:openshift-kube-apiserver:check-endpoints",
           off["control-plane"], client_ca, hint, usage="clientAuth")
    kcm = base + "kube-controller-manager-certs/"
    secret(kcm, "kube-controller-manager-client-cert-key", "/CN=system:kube-controller-manager",
           off["control-plane"], client_ca, "oc get clusteroperator kube-controller-manager",
           usage="clientAuth")
    signer_dir = kcm + "secrets/csr-signer/"
    crt, key = issue(lay.path(signer_dir + "tls.crt"), lay.path(signer_dir + "tls.key"),
                     f"/CN=kube-csr-signer_@{t}", off["csr-signer-signer"], ca=True, alg="rsa",
                     days=(-1, 60))
    lay.made["/" + signer_dir + "tls.crt"] = {"crt": crt, "key": key, "ca": None, "renew": None}
    secret(base + "kube-scheduler-certs/", "kube-scheduler-client-cert-key",
           "/CN=system:kube-scheduler", off["control-plane"], client_ca,
           "oc get clusteroperator kube-scheduler", usage="clientAuth")
    etcd = base + "etcd-certs/secrets/etcd-all-certs/"
    for prefix, role, signer, ca_file in (
            ("etcd-serving-", "server", "etcd", etcd_serving),
            ("etcd-peer-", "peer", "etcd", etcd_peer),
            ("etcd-serving-metrics-", "metric", "etcd-metrics", None)):
        lay.leaf(f"{etcd}{prefix}master-0.crt", f"{etcd}{prefix}master-0.key",
                 f"/O=system:etcd-{role}s/CN=system:etcd-{role}:master-0", off[signer], "rsa",
                 "oc get clusteroperator etcd", ca_file=ca_file, days=(-1, 1095),
                 sans=["master-0", "10.0.0.5"])
    admin = issue(lay.outside / "admin-client.crt", lay.outside / "admin-client.key",
                  "/O=system:masters/CN=system:admin", off["admin"], alg="rsa", days=(-1, 365))
    lay.kubeconfig(api + "secrets/node-kubeconfigs/localhost.kubeconfig", "system:admin",
                   admin[0], admin[1], off["localhost"][0])
    return lay


LAYOUTS = {"k3s": lambda r: make_k3s(r, "k3s"), "rke2": lambda r: make_k3s(r, "rke2"),
           "microk8s": make_microk8s, "openshift": make_openshift}

# One file per fault, and the text its hint must hold (the distribution's renewal command).
FAULTS = {
    "k3s": {"expire": "var/lib/rancher/k3s/server/tls/client-admin.crt",
            "expiring": "var/lib/rancher/k3s/agent/serving-kubelet.crt",
            "mismatch": "var/lib/rancher/k3s/server/tls/client-scheduler.crt",
            "wrong_ca": "var/lib/rancher/k3s/server/tls/etcd/client.crt"},
    "rke2": {"expire": "var/lib/rancher/rke2/server/tls/serving-kube-apiserver.crt",
             "expiring": "var/lib/rancher/rke2/server/tls/client-rke2-controller.crt",
             "mismatch": "var/lib/rancher/rke2/server/tls/client-auth-proxy.crt",
             "wrong_ca": "var/lib/rancher/rke2/agent/client-kubelet.crt"},
    "microk8s": {"expire": "var/snap/microk8s/current/certs/server.crt",
                 "expiring": "var/snap/microk8s/current/certs/front-proxy-client.crt",
                 "mismatch": "var/snap/microk8s/current/certs/proxy.crt",
                 "wrong_ca": "var/snap/microk8s/current/certs/controller.crt"},
    "openshift": {
        "expire": "etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/"
                  "localhost-serving-cert-certkey/tls.crt",
        "expiring": "etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/"
                    "external-loadbalancer-serving-certkey/tls.crt",
        "mismatch": "etc/kubernetes/static-pod-resources/etcd-certs/secrets/etcd-all-certs/"
                    "etcd-peer-master-0.crt",
        "wrong_ca": "etc/kubernetes/static-pod-resources/kube-scheduler-certs/secrets/"
                    "kube-scheduler-client-cert-key/tls.crt"},
}
KEY_ALG = {"k3s": "ec", "rke2": "ec", "microk8s": "rsa", "openshift": "rsa"}


def check_against_openssl(lay, report, faults):
    """Every certificate made is reported, named as the distribution, with openssl's subject,
    notAfter and status; the faulty ones fail or warn with the distribution's renewal command,
    and nothing else does."""
    checks = by_source(report)
    for source, m in lay.made.items():
        got = checks.get(source) or checks.get(source + "#0")
        expect(got, f"{source} is reported", sorted(checks))
        d = got["details"]
        expect(d.get("distro") == lay.distro, f"{source}: details.distro {lay.distro}", d)
        expect(d.get("subject") == x509_field(m["crt"], "subject") and
               d.get("notAfter") == not_after_rfc3339(m["crt"]),
               f"{source}: subject and notAfter as openssl says", d)
        want = lay.expected_status(source)
        expect(got["status"] == want, f"{source}: {want} as openssl's checks say", got)
    for fault, rel in faults.items():
        got, m = checks["/" + rel], lay.made["/" + rel]
        expect(m["renew"] in got["hint"], f"{fault} {rel}: the hint names {m['renew']!r}", got)
        wanted = {"expire": "expired 3 days ago", "expiring": "expires in",
                  "mismatch": "does not match its key", "wrong_ca": "not signed by"}[fault]
        if lay.distro == "openshift" and fault == "wrong_ca":
            wanted = "not signed by client-ca"
        expect(wanted in got["message"], f"{fault} {rel}: {wanted!r}", got)
    bad = sorted(s for s, c in checks.items() if c["status"] in ("fail", "warn"))
    expect(bad == sorted("/" + r for r in faults.values()), "only the faulty files fail or warn",
           bad)


def run_layout_case(distro):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        lay = LAYOUTS[distro](root)
        code, report, out = certs_json("pki", "--root", str(root))
        expect(code == 0 and report, f"healthy {distro}: exit 0", out[-3000:])
        check_against_openssl(lay, report, {})
        code, text = kubectl("certs", "pki", "--root", str(root))
        expect(text.startswith(f"distribution: {distro}\n"), "the text header names it",
               text[:300])
        faults = FAULTS[distro]
        lay.expire("/" + faults["expire"])
        lay.expiring("/" + faults["expiring"])
        lay.mismatch_key("/" + faults["mismatch"], KEY_ALG[distro])
        lay.wrong_ca("/" + faults["wrong_ca"], KEY_ALG[distro])
        code, report, out = certs_json("pki", "--root", str(root))
        expect(code == 1 and report, f"faulty {distro}: exit 1", out[-3000:])
        check_against_openssl(lay, report, faults)
        code, report, out = certs_json("pki", "--root", str(root), "--distro", distro)
        expect(code == 1 and report and {c["details"]["distro"] for c in report["checks"]} ==
               {distro}, f"--distro {distro}: the same files", out[-2000:])


@case
def k3s_layout():
    """k3s: every server and agent certificate and k3s.yaml found, faults as openssl sees them,
    hints `k3s certificate rotate --service NAME`."""
    run_layout_case("k3s")


@case
def rke2_layout():
    """RKE2: k3s's layout under /var/lib/rancher/rke2, `rke2 certificate rotate` hints."""
    run_layout_case("rke2")


@case
def microk8s_layout():
    """MicroK8s: certs/, credentials/ and the dqlite certificate, `microk8s refresh-certs --cert`
    hints."""
    run_layout_case("microk8s")


@case
def openshift_layout():
    """OpenShift 4: static-pod-resources, signers off the node, operator hints."""
    run_layout_case("openshift")


@case
def partial_layouts():
    """A k3s agent (no server directory): k3s with one skip for the server part; a k3s server
    missing one file: that file fails as k3s's, nothing is called kubeadm; garbage files fail
    naming the file; nothing at all: exit 2 saying what was looked for."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        lay = make_k3s(root)
        shutil.rmtree(root / "var/lib/rancher/k3s/server")
        (root / "etc/rancher/k3s/k3s.yaml").unlink()
        code, report, out = certs_json("pki", "--root", str(root))
        expect(code == 0 and report, "an agent node: exit 0", out[-2000:])
        skips = [c for c in report["checks"] if c["status"] == "skip"]
        expect(any(c["details"]["source"] == "/var/lib/rancher/k3s/server" and
                   "agent node" in c["message"] for c in skips), "one skip for the server", skips)
        expect({c["details"]["distro"] for c in report["checks"]} == {"k3s"}, "all k3s", out)
        expect(len([c for c in report["checks"] if "/server/" in c["details"]["source"]]) == 0,
               "no check per missing server file", out[-2000:])
        ok = [s for s, c in by_source(report).items() if c["status"] == "ok"]
        expect(len(ok) == len([s for s in lay.made if "/agent/" in s]),
               "every agent certificate ok", ok)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        make_k3s(root)
        tls = root / "var/lib/rancher/k3s/server/tls"
        (tls / "client-controller.crt").unlink()
        (tls / "client-scheduler.crt").write_text("hello, I am not a certificate\n")
        (tls / "client-admin.key").write_text("garbage key\n")
        code, report, out = certs_json("pki", "--root", str(root))
        expect(code == 1 and report, "exit 1", out[-2000:])
        checks = by_source(report)
        missing = checks["/var/lib/rancher/k3s/server/tls/client-controller.crt"]
        expect(missing["status"] == "fail" and "missing (k3s creates it)" in missing["message"]
               and "k3s certificate rotate --service controller-manager" in missing["hint"],
               "the missing file fails as k3s's", missing)
        garbage = checks["/var/lib/rancher/k3s/server/tls/client-scheduler.crt"]
        expect(garbage["status"] == "fail" and "client-scheduler.crt: not PEM or DER" in
               garbage["message"], "a garbage certificate fails naming the file", garbage)
        key = checks["/var/lib/rancher/k3s/server/tls/client-admin.crt"]
        expect(key["status"] == "fail" and str(tls / "client-admin.key") in key["message"],
               "a garbage key fails naming the file", key)
        bad = sorted(s for s, c in checks.items() if c["status"] != "ok")
        expect(len(bad) == 3, "nothing else fails", bad)

    with tempfile.TemporaryDirectory() as tmp:
        code, out = kubectl("certs", "pki", "--root", tmp)
        expect(code == 2 and "no Kubernetes certificate layout under " + tmp in out and
               "var/lib/rancher/k3s/server/tls" in out, "nothing found: exit 2, what was looked "
               "for", out)
        code, out = kubectl("certs", "pki", "--root", tmp, "--distro", "microk8s")
        expect(code == 2 and "no microk8s files under" in out, "--distro on nothing: exit 2", out)


@case
def kubeadm_root_unchanged():
    """kubeadm under --root (as a kind node holds it): found as kubeadm, and every check is the
    one --dir/--kubeconfig-dir gives on the same files, plus details.distro."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        etc = root / "etc" / "kubernetes"
        shutil.copytree(LAB_DIR / "pki", etc / "pki")
        for conf in (LAB_DIR / "kubeadm").glob("*.conf"):
            shutil.copy(conf, etc / conf.name)
        (root / "kind").mkdir()
        code, auto, out = certs_json("pki", "--root", str(root))
        expect(auto, "pki --root answers", out)
        code2, dirs, out2 = certs_json("pki", "--dir", str(etc / "pki"), "--kubeconfig-dir",
                                       str(etc))
        expect(code == code2, "the same exit code", (out, out2))
        expect(len(auto["checks"]) == len(dirs["checks"]), "the same checks", (out, out2))
        for a, b in zip(auto["checks"], dirs["checks"]):
            expect(a["details"].pop("distro") == "kubeadm", "details.distro kubeadm", a)
            b["details"].pop("distro", None)
            a.pop("durationMs", None)
            b.pop("durationMs", None)
            expect(a == b, f"{b['details'].get('source')}: unchanged", (a, b))


@case
def node_detects_k3s():
    """`certs node` on a node holding k3s beside kubeadm (the lab's kwok node root): both found
    through the debug pod, the k3s checks as `pki --root` gives them on the same files, and no
    private key leaves the node."""
    node_root = LAB_DIR / "kwok" / "node-root"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        make_k3s(root)
        added = [node_root / "var", node_root / "etc" / "rancher"]
        expect(not any(p.exists() for p in added), "the node root has no k3s yet", added)
        shutil.copytree(root / "var", node_root / "var", symlinks=True)
        shutil.copytree(root / "etc" / "rancher", node_root / "etc" / "rancher")
        try:
            code, report, out = certs_json("node", "kwok-node-0", "--kubeconfig",
                                           lab("kubeconfig", "admin"))
        finally:
            for p in added:
                shutil.rmtree(p, ignore_errors=True)
        expect(report is not None, "certs node -o json answers", out[-2000:])
        expect("PRIVATE KEY" not in out, "no private key in the output", out[-2000:])
        distros = {c["details"].get("distro") for c in report["checks"] if c.get("details")}
        expect(distros == {"kubeadm", "k3s"}, "kubeadm and k3s detected", distros)
        _, local, out = certs_json("pki", "--root", str(root), "--distro", "k3s")
        want = {s: c["status"] for s, c in by_source(local).items()}
        got = {s.split(":", 1)[1]: c["status"] for s, c in by_source(report).items()
               if c["details"].get("distro") == "k3s"}
        expect(got == want, "the same k3s checks and statuses as pki --root", (got, want))


@case
def secrets_name_distribution_secrets():
    """k3s-serving and rke2-serving in kube-system (made as dynamiclistener makes them: EC, signed
    by <program>-server-ca, expiring) are named as the distribution's, with its rotate command;
    the same Secret elsewhere is an ordinary one."""
    admin = lab("kubeconfig", "admin")
    labkubectl = [str(Path(lab("bin")) / "kubectl"), "--kubeconfig", admin]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        made = []
        for program in ("k3s", "rke2"):
            ca = issue(tmp / f"{program}-ca.crt", tmp / f"{program}-ca.key",
                       f"/CN={program}-server-ca@1700000000", ca=True)
            crt, key = issue(tmp / f"{program}.crt", tmp / f"{program}.key",
                             f"/O={program}/CN={program}", ca, days=(-80, 10), chain=True,
                             sans=["kubernetes", "localhost", "127.0.0.1"])
            name = f"{program}-serving"
            code, out = sh([*labkubectl, "create", "secret", "tls", name, "-n", "kube-system",
                            f"--cert={crt}", f"--key={key}"])
            expect(code == 0, f"kube-system/{name} created", out)
            made.append((program, name, crt))
        try:
            code, report, out = certs_json("secrets", "--kubeconfig", admin, "-n", "kube-system")
        finally:
            for _, name, _ in made:
                sh([*labkubectl, "delete", "secret", name, "-n", "kube-system"])
        expect(report is not None, "certs secrets -n kube-system answers", out[-2000:])
        checks = by_source(report)
        for program, name, crt in made:
            c = checks.get(f"secret/kube-system/{name}#tls.crt[0]")
            expect(c, f"{name} is reported", sorted(checks))
            expect(c["details"].get("distro") == program and "listener certificate" in
                   c["details"].get("role", ""), f"{name}: named as {program}'s", c)
            expect(c["status"] == "warn" and
                   f"{program} certificate rotate --service {program}-server" in c["hint"],
                   f"{name}: expiring, with {program}'s rotate command", c)
            expect(c["details"]["notAfter"] == not_after_rfc3339(crt),
                   f"{name}: notAfter as openssl says", c)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
