"""Seeded case generation: gen_case(area, seed, index) is a pure function of its arguments.

A case is plain data (JSON-printable) with placeholders resolved when it is written out:
  {root}  the case's directory (its files live under it)
  {pki}   the worker's certificates (pki.py)
  {bin}   the directory holding the exec credential plugin (also on PATH)
"""

import base64
import random

# The world inside a worker's network namespace (diff.py sets it up): names in /etc/hosts,
# recording servers on every address, recording proxies.
HOSTS = {"api.diff.test": "198.18.0.1", "other.diff.test": "198.18.0.2",
         "bad.diff.test": "198.18.0.4", "proxy1.diff.test": "198.18.0.10",
         "proxy2.diff.test": "198.18.0.11"}
SERVERS = {6443: ("S1", "srvA"), 7443: ("S2", "srvA"), 8443: ("S3", "srvB")}
REFUSED_PORT = 9443
PROXIES = {"P1": ("198.18.0.10", 3128), "P2": ("198.18.0.11", 3128), "P3": ("127.0.0.1", 3129)}
SERVER_HOSTS = ["api.diff.test", "127.0.0.1", "localhost", "other.diff.test", "198.18.0.1",
                "bad.diff.test", "[::1]"]
SA_DIR = "/run/secrets/kubernetes.io/serviceaccount"

AREAS = ("resolution", "credentials", "proxies", "exec", "refusal")

# Faults the refusal area injects (and the other areas, rarely); each names what it breaks.
FAULTS = ("missing-context-flag", "missing-cluster-flag", "missing-user-flag",
          "context-missing-cluster", "context-missing-user", "yaml-syntax", "yaml-type",
          "bad-ca-base64", "ca-file-and-data", "ca-file-missing", "insecure-with-ca",
          "cert-without-key", "key-without-cert", "cert-file-missing", "token-and-basic",
          "token-file-missing", "token-file-empty", "groups-without-as", "bad-namespace-flag",
          "bad-namespace-context", "proxy-url-scheme", "exec-bad-api-version",
          "exec-v1-no-interactive", "exec-and-auth-provider", "kubeconfig-flag-missing",
          "no-server", "bad-as-user-extra", "unknown-current-context")


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Gen:
    def __init__(self, area, seed, index):
        self.area = area
        self.rng = random.Random(f"{seed}/{area}/{index}")
        self.files = {}  # relative path -> text (kubeconfigs, token files, CA copies)
        self.env = {}
        self.flags = []
        self.incluster = None
        self.fault = None
        self.tokens = 0
        self.defined = {"k": set(), "u": set(), "c": set()}

    def name(self, kind):
        """Mostly a name defined so far (kind k, u or c), sometimes any of the four."""
        if self.defined[kind] and self.chance(0.85):
            return self.pick(sorted(self.defined[kind]))
        return f"{kind}{self.rng.randrange(4)}"

    def chance(self, p):
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(list(seq))

    # ------------------------------------------------------------------ pieces

    def server(self, host=None, port=None):
        r = self.rng
        host = host or self.pick(SERVER_HOSTS)
        port = port or r.choices([6443, 7443, 8443, REFUSED_PORT], [5, 3, 3, 1])[0]
        url = f"https://{host}:{port}"
        if self.chance(0.08):
            url += "/prefix"
        if self.chance(0.05):
            url += "?q=1#frag"
        if self.chance(0.05):
            url = url.replace("https://", "", 1)  # no scheme
        return url

    def ca_ref(self, which, base):
        """A cluster's CA fields for CA `which` (A, B or AB) in kubeconfig file `base`."""
        form = self.pick(["abs", "rel", "data", "data"])
        if form == "data":
            return {"certificate-authority-data": f"@@b64:{{pki}}/ca{which}.crt@@"}
        if form == "rel":
            rel = f"cas/ca{which}.crt"
            self.files[f"{base}/{rel}"] = f"@@copy:{{pki}}/ca{which}.crt@@"
            return {"certificate-authority": rel}
        return {"certificate-authority": f"{{pki}}/ca{which}.crt"}

    def cluster(self, base, proxy=False):
        c = {"server": self.server()}
        roll = self.rng.random()
        if roll < 0.55:
            c.update(self.ca_ref(self.pick(["A", "A", "B", "AB"]), base))
        elif roll < 0.7:
            c["insecure-skip-tls-verify"] = True
        if self.chance(0.2):
            c["tls-server-name"] = self.pick(["api.diff.test", "other.diff.test",
                                              "bad.diff.test"])
        if proxy and self.chance(0.3):
            c["proxy-url"] = self.proxy_url()
        return c

    def token(self, where):
        self.tokens += 1
        return f"tok-{where}-{self.tokens}"

    def token_file(self, base, user):
        rel = f"tokens/{user}-{self.tokens + 1}"
        value = self.token(f"file-{user}")
        self.files[f"{base}/{rel}"] = self.pick(["", "\n", "  \n"]) + value + "\n"
        return rel if self.chance(0.5) else "{root}/" + f"{base}/{rel}"

    def client_cert(self, base):
        i = self.rng.randrange(4)
        if self.chance(0.5):
            return {"client-certificate-data": f"@@b64:{{pki}}/client{i}.crt@@",
                    "client-key-data": f"@@b64:{{pki}}/client{i}.key@@"}
        return {"client-certificate": f"{{pki}}/client{i}.crt",
                "client-key": f"{{pki}}/client{i}.key"}

    def impersonation(self):
        u = {}
        if self.chance(0.7):
            u["as"] = self.pick(["alice", "bob", "system:serviceaccount:ns:sa"])
        if self.chance(0.4):
            u["as-groups"] = self.rng.sample(["dev", "ops", "system:masters"],
                                             self.rng.randint(1, 2))
        if self.chance(0.3):
            u["as-uid"] = self.pick(["1000", "uid-x"])
        if self.chance(0.2):
            u["as-user-extra"] = {"scopes": self.rng.sample(["a", "b", "c d"], 2)}
        if "as" not in u and u:
            u["as"] = "alice"  # uid/groups/extra without a user is a fault of its own
        return u

    def user(self, base, name):
        u = {}
        r = self.rng.random()
        if r < 0.5:
            u["token"] = self.token(f"{base.replace('/', '-')}-{name}")
        elif r < 0.65:
            u["tokenFile"] = self.token_file(base, name)
        elif r < 0.8:
            u.update(self.client_cert(base))
        elif r < 0.85:
            u.update({"username": f"basic-{name}", "password": "pw"})
        if self.chance(0.15):
            u.update(self.impersonation())
        return u

    def proxy_url(self):
        return self.pick(["http://proxy1.diff.test:3128", "http://198.18.0.11:3128",
                          "http://user:secret@proxy1.diff.test:3128", "http://127.0.0.1:3129",
                          "http://proxy2.diff.test:3128"])

    # ------------------------------------------------------------------ kubeconfigs

    @staticmethod
    def kubeconfig(clusters, users, contexts, current=None, extra=None):
        doc = {"apiVersion": "v1", "kind": "Config",
               "clusters": [{"name": n, "cluster": c} for n, c in clusters.items()],
               "users": [{"name": n, "user": u} for n, u in users.items()],
               "contexts": [{"name": n, "context": c} for n, c in contexts.items()]}
        if current is not None:
            doc["current-context"] = current
        if extra:
            doc.update(extra)
        return doc

    def kubeconfigs(self, nfiles, first=0):
        """nfiles files d<i>/config whose names overlap (first file to define a name wins)."""
        paths = []
        for i in range(first, first + nfiles):
            base = f"d{i}"
            clusters = {f"k{j}": self.cluster(base, proxy=self.area == "proxies")
                        for j in self.rng.sample(range(4), self.rng.randint(0, 3))}
            users = {f"u{j}": self.user(base, f"u{j}")
                     for j in self.rng.sample(range(4), self.rng.randint(0, 3))}
            self.defined["k"] |= set(clusters)
            self.defined["u"] |= set(users)
            contexts = {}
            for j in self.rng.sample(range(4), self.rng.randint(1, 3)):
                ctx = {"cluster": self.name("k"), "user": self.name("u")}
                if self.chance(0.6):
                    ctx["namespace"] = self.pick(["ns-a", "ns-b", "kube-system", f"ns-{base}-{j}"])
                contexts[f"c{j}"] = ctx
            self.defined["c"] |= set(contexts)
            current = self.name("c") if self.chance(0.7) else None
            self.files[f"{base}/config"] = self.kubeconfig(clusters, users, contexts, current)
            paths.append(f"{base}/config")
        return paths

    def locate(self, paths):
        """How the files are found: KUBECONFIG (with missing, empty and repeated entries),
        --kubeconfig, or ~/.kube/config."""
        how = self.rng.choices(["env", "flag", "home"], [6, 2, 2])[0]
        if how == "flag" or not paths:
            if paths:
                self.flags += ["--kubeconfig", "{root}/" + self.pick(paths)]
            return
        if how == "home":
            self.files["home/.kube/config"] = self.files[paths[0]]
            if len(paths) > 1 and self.chance(0.5):
                self.env["KUBECONFIG"] = ""  # empty: the default file
            return
        entries = ["{root}/" + p for p in paths]
        if self.chance(0.2):
            entries.insert(self.rng.randrange(len(entries) + 1), "{root}/missing/config")
        if self.chance(0.2):
            entries.insert(self.rng.randrange(len(entries) + 1), "")
        if self.chance(0.2):
            entries.append(self.pick(entries) or entries[0])
        if self.chance(0.1):
            entries[0] = entries[0] + "/"  # a trailing slash: not the same file name
            if self.chance(0.9):
                entries[0] = entries[0][:-1]
        self.env["KUBECONFIG"] = ":".join(entries)

    def override_flags(self, paths):
        f = self.flags
        if self.chance(0.25):
            f += ["--context", self.name("c")]
        if self.chance(0.12):
            f += ["--cluster", self.name("k")]
        if self.chance(0.12):
            f += ["--user", self.name("u")]
        if self.chance(0.2):
            f += ["-n" if self.chance(0.5) else "--namespace", self.pick(["flag-ns", "default"])]
        if self.chance(0.15):
            f += [self.pick(["-s", "--server"]), self.server()]
        if self.chance(0.1):
            f += ["--tls-server-name", self.pick(["api.diff.test", "bad.diff.test"])]
        if self.chance(0.08):
            f += ["--insecure-skip-tls-verify"]
        if self.chance(0.1):
            f += ["--certificate-authority", "{pki}/ca" + self.pick(["A", "B"]) + ".crt"]
        if self.chance(0.06):
            f += ["--token", self.token("flag")]
        if self.chance(0.08):
            f += ["--as", "flag-user"]
            if self.chance(0.5):
                f += ["--as-group", "g1", "--as-group", "g2"]
            if self.chance(0.3):
                f += ["--as-uid", "42"]

    def in_cluster(self):
        """No kubeconfig at all; the pod's service variables and files."""
        self.env["KUBECONFIG"] = "{root}/none/config"
        host = self.pick(["198.18.0.1", "api.diff.test", "::1", "127.0.0.1"])
        if self.chance(0.9):
            self.env["KUBERNETES_SERVICE_HOST"] = host
        if self.chance(0.9):
            self.env["KUBERNETES_SERVICE_PORT"] = str(self.pick([6443, 8443, 7443]))
        files = {}
        if self.chance(0.9):
            files["token"] = self.pick(["", " "]) + self.token("sa") + self.pick(["", "\n"])
        if self.chance(0.8):
            files["ca.crt"] = "@@copy:{pki}/ca" + self.pick(["A", "A", "B"]) + ".crt@@"
        if self.chance(0.5):
            files["namespace"] = self.pick(["pod-ns", "other-ns\n"])
        if self.chance(0.3):
            self.env["POD_NAMESPACE"] = self.pick(["env-ns", ""])
        self.incluster = files
        if self.chance(0.2):
            self.flags += ["-n", "flag-ns"]
        if self.chance(0.15):
            self.flags += ["--token", self.token("flag")]
        if self.chance(0.15):
            self.flags += ["--certificate-authority", "{pki}/caA.crt"]
        if self.chance(0.1):
            self.flags += ["-s", self.server()]

    # ------------------------------------------------------------------ faults

    def inject(self, fault, paths):
        """Breaks the configuration one way; `paths` are the kubeconfigs (first one is used)."""
        self.fault = fault
        doc = self.files[paths[0]]
        ctx = doc["contexts"][0]["context"]
        cl = doc["clusters"][0]["cluster"]
        us = doc["users"][0]["user"]
        if fault == "missing-context-flag":
            self.flags += ["--context", "nope"]
        elif fault == "missing-cluster-flag":
            self.flags += ["--cluster", "nope"]
        elif fault == "missing-user-flag":
            self.flags += ["--user", "nope"]
        elif fault == "context-missing-cluster":
            ctx["cluster"] = "nope"
        elif fault == "context-missing-user":
            ctx["user"] = "nope"
        elif fault == "yaml-syntax":
            self.files[paths[-1]] = "apiVersion: v1\nkind: Config\nclusters: [\n"
        elif fault == "yaml-type":
            doc["clusters"] = "not-a-list"
        elif fault == "bad-ca-base64":
            cl.pop("certificate-authority", None)
            cl.pop("insecure-skip-tls-verify", None)
            cl["certificate-authority-data"] = "not*base64"
        elif fault == "ca-file-and-data":
            cl.pop("insecure-skip-tls-verify", None)
            cl["certificate-authority"] = "{pki}/caA.crt"
            cl["certificate-authority-data"] = "@@b64:{pki}/caA.crt@@"
        elif fault == "ca-file-missing":
            cl.pop("certificate-authority-data", None)
            cl.pop("insecure-skip-tls-verify", None)
            cl["certificate-authority"] = "missing-ca.crt"
        elif fault == "insecure-with-ca":
            cl.pop("certificate-authority-data", None)
            cl["certificate-authority"] = "{pki}/caA.crt"
            cl["insecure-skip-tls-verify"] = True
        elif fault == "cert-without-key":
            us.clear()
            us["client-certificate"] = "{pki}/client0.crt"
        elif fault == "key-without-cert":
            us.clear()
            us["client-key-data"] = "@@b64:{pki}/client0.key@@"
        elif fault == "cert-file-missing":
            us.clear()
            us.update({"client-certificate": "nope.crt", "client-key": "{pki}/client0.key"})
        elif fault == "token-and-basic":
            us.clear()
            us.update({"token": self.token("tb"), "username": "u", "password": "p"})
        elif fault == "token-file-missing":
            us.clear()
            us["tokenFile"] = "no-such-token"
        elif fault == "token-file-empty":
            us.clear()
            self.files[paths[0].rsplit("/", 1)[0] + "/empty-token"] = self.pick(["", "\n  \n"])
            us["tokenFile"] = "empty-token"
        elif fault == "groups-without-as":
            us.pop("as", None)
            us["as-groups"] = ["g"]
        elif fault == "bad-namespace-flag":
            self.flags += ["-n", self.pick(["Bad_NS", "a.b", "-x", "x" * 64])]
        elif fault == "bad-namespace-context":
            ctx["namespace"] = self.pick(["Bad_NS", "a.b"])
        elif fault == "proxy-url-scheme":
            cl["proxy-url"] = self.pick(["ftp://proxy1.diff.test:21", "socks4://x:1"])
        elif fault == "exec-bad-api-version":
            us.clear()
            us["exec"] = {"command": "diff-cred", "apiVersion": self.pick(
                ["client.authentication.k8s.io/v2", "v1", ""]), "interactiveMode": "Never"}
        elif fault == "exec-v1-no-interactive":
            us.clear()
            us["exec"] = {"command": "diff-cred", "apiVersion": "client.authentication.k8s.io/v1"}
        elif fault == "exec-and-auth-provider":
            us.clear()
            us["exec"] = {"command": "diff-cred",
                          "apiVersion": "client.authentication.k8s.io/v1beta1"}
            us["auth-provider"] = {"name": "oidc", "config": {"id-token": "x"}}
        elif fault == "kubeconfig-flag-missing":
            self.flags = self.without(self.flags, "--kubeconfig")
            self.flags += ["--kubeconfig", "{root}/missing-kubeconfig"]
        elif fault == "no-server":
            cl.pop("server", None)
        elif fault == "bad-as-user-extra":
            self.flags += ["--as", "x", "--as-user-extra", "novalue"]
        elif fault == "unknown-current-context":
            doc["current-context"] = "nope"
        # a fault in the first file must be the one in effect: pin its context and remove
        # the flags that would route around it
        pinned = doc["contexts"][0]["name"]
        if fault not in ("missing-context-flag", "missing-cluster-flag", "missing-user-flag"):
            self.flags = self.without(self.flags, "--context", "--cluster", "--user")
        if fault != "unknown-current-context":
            doc["current-context"] = pinned

    @staticmethod
    def without(flags, *names):
        """`flags` without the named flags and their values."""
        out, skip = [], False
        for x in flags:
            if skip:
                skip = False
            elif x in names:
                skip = True
            else:
                out.append(x)
        return out

    def fault_config(self):
        """One file with one cluster, user and context, made to carry a fault."""
        base = "d0"
        cluster = {"server": self.server(port=6443)}
        cluster.update(self.ca_ref("A", base))
        user = {"token": self.token("f")}
        doc = self.kubeconfig({"k0": cluster}, {"u0": user},
                              {"c0": {"cluster": "k0", "user": "u0"}}, "c0")
        self.files["d0/config"] = doc
        return ["d0/config"]

    # ------------------------------------------------------------------ areas

    def resolution(self):
        if self.chance(0.12):
            self.in_cluster()
            return
        paths = self.kubeconfigs(self.rng.randint(1, 3))
        self.locate(paths)
        self.override_flags(paths)

    def refusal(self):
        paths = self.fault_config()
        if self.chance(0.3):
            paths += self.kubeconfigs(self.rng.randint(1, 2), first=1)
        self.flags += ["--kubeconfig", "{root}/d0/config"] if len(paths) == 1 else []
        if len(paths) > 1:
            self.env["KUBECONFIG"] = ":".join("{root}/" + p for p in paths)
        self.inject(self.pick(FAULTS), paths)

    def credentials(self):
        base = "d0"
        cluster = {"server": self.server(host=self.pick(["api.diff.test", "127.0.0.1"]),
                                         port=self.pick([6443, 7443]))}
        cluster.update(self.ca_ref("A", base))
        u = {}
        if self.chance(0.5):
            u["token"] = self.token("inline")
        if self.chance(0.35):
            u["tokenFile"] = self.token_file(base, "u0")
            if self.chance(0.1):
                u["tokenFile"] = "no-such-file"
        if self.chance(0.35):
            u.update(self.client_cert(base))
        if self.chance(0.15):
            u.update({"username": "basic-u0", "password": "pw"})
        if self.chance(0.25):
            u["exec"] = self.exec_config(base, simple=True)
        if self.chance(0.15):
            u.update(self.impersonation())
        doc = self.kubeconfig({"k0": cluster}, {"u0": u}, {"c0": {"cluster": "k0", "user": "u0"}},
                              "c0")
        self.files["d0/config"] = doc
        self.env["KUBECONFIG"] = "{root}/d0/config"
        if self.chance(0.15):
            self.flags += ["--token", self.token("flag")]
        if self.chance(0.12):
            i = self.rng.randrange(4)
            self.flags += ["--client-certificate", f"{{pki}}/client{i}.crt"]
            if self.chance(0.85):
                self.flags += ["--client-key", f"{{pki}}/client{i}.key"]
        if self.chance(0.1):
            self.flags += ["--username", "flag-basic"]
            if self.chance(0.8):
                self.flags += ["--password", "pw"]
        if self.chance(0.08):
            self.flags += ["--as", "flag-user"]

    def proxies(self):
        base = "d0"
        host = self.pick(["api.diff.test", "other.diff.test", "198.18.0.1", "198.18.0.2",
                          "localhost", "127.0.0.1"])
        port = self.pick([6443, 7443])
        scheme = "https" if self.chance(0.92) else "http"
        cluster = {"server": f"{scheme}://{host}:{port}"}
        cluster.update(self.ca_ref("A", base))
        if self.chance(0.3):
            cluster["proxy-url"] = self.proxy_url()
        doc = self.kubeconfig({"k0": cluster}, {"u0": {"token": self.token("p")}},
                              {"c0": {"cluster": "k0", "user": "u0"}}, "c0")
        self.files["d0/config"] = doc
        self.env["KUBECONFIG"] = "{root}/d0/config"
        proxies = ["http://proxy1.diff.test:3128", "proxy2.diff.test:3128",
                   "http://127.0.0.1:3129", "http://198.18.0.10:3128", ""]
        for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            if self.chance(0.45):
                self.env[var] = self.pick(proxies)
        entries = ["api.diff.test", ".diff.test", "diff.test", "*", "198.18.0.0/16",
                   "198.18.0.1", "198.18.0.0/24", "api.diff.test:6443", "api.diff.test:7443",
                   "other.diff.test", "*.diff.test", "198.18.0.2/32", " api.diff.test ",
                   "localhost", "127.0.0.1", ".test", "198.18.0.1:6443", "[198.18.0.1]:7443",
                   "OTHER.diff.test", "10.0.0.0/8", "api", ""]
        for var in ("NO_PROXY", "no_proxy"):
            if self.chance(0.5):
                self.env[var] = ",".join(self.rng.sample(entries, self.rng.randint(1, 3)))

    def exec_config(self, base, simple=False):
        r = self.rng
        cmd = r.choice(["diff-cred", "{bin}/diff-cred", "./bin/diff-cred", "bin/diff-cred"])
        if cmd in ("./bin/diff-cred", "bin/diff-cred"):
            self.files[f"{base}/bin/diff-cred"] = "@@exec-plugin@@"
        e = {"command": cmd,
             "apiVersion": r.choice(["client.authentication.k8s.io/v1",
                                     "client.authentication.k8s.io/v1beta1"])}
        if e["apiVersion"].endswith("/v1") or self.chance(0.5):
            e["interactiveMode"] = r.choice(["Never", "IfAvailable", "Never", "IfAvailable",
                                             "Always"])
        if simple:
            return e
        if self.chance(0.7):
            e["args"] = r.sample(["--flag", "a b", "x=y", "", "--cluster=$(X)", "é"],
                                 r.randint(1, 3))
        if self.chance(0.6):
            e["env"] = [{"name": n, "value": v} for n, v in r.sample(
                [("DIFF_A", "1"), ("DIFF_B", "two words"), ("DIFF_PARENT", "overridden"),
                 ("DIFF_EMPTY", "")], r.randint(1, 3))]
        if self.chance(0.5):
            e["provideClusterInfo"] = True
        if self.chance(0.2):
            e["installHint"] = "install diff-cred"
        return e

    def exec(self):
        base = "d0"
        cluster = {"server": self.server(host=self.pick(["api.diff.test", "127.0.0.1"]),
                                         port=6443)}
        roll = self.rng.random()
        if roll < 0.7:
            cluster.update(self.ca_ref("A", base))
        else:
            cluster["insecure-skip-tls-verify"] = True
        if self.chance(0.3):
            cluster["tls-server-name"] = "api.diff.test"
        if self.chance(0.2):
            cluster["disable-compression"] = True
        if self.chance(0.4):
            cluster["extensions"] = [{"name": "client.authentication.k8s.io/exec",
                                      "extension": self.pick([{"audience": "diff"},
                                                              {"n": 1, "l": [1, "x"]}, "str"])}]
        user = {"exec": self.exec_config(base)}
        doc = self.kubeconfig({"k0": cluster}, {"u0": user}, {"c0": {"cluster": "k0", "user": "u0"}},
                              "c0")
        self.files["d0/config"] = doc
        self.env["KUBECONFIG"] = "{root}/d0/config"
        if self.chance(0.1):
            self.flags += ["--token", self.token("flag")]


def gen_case(area, seed, index):
    g = Gen(area, seed, index)
    getattr(g, area)()
    return {"area": area, "seed": seed, "index": index, "files": g.files, "env": g.env,
            "flags": g.flags, "incluster": g.incluster, "fault": g.fault}
