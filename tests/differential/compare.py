"""What kubectl did against what the plugins say and do, for one case.

Views (plain dicts) are read from the observations of diff.observe():
  kubectl_view   the URL it dialed, the namespace in it, its outcome (ok, a network class, or a
                 refusal and its class), the credential, SNI and impersonation the servers saw,
                 the proxies it went through, how the exec plugin was run
  config_view    one plugin's `__config` answer (or its refusal)
  apicheck_view  apicheck's real run: outcome, what the servers and proxies saw, the exec plugin

compare() returns {"outcome", "known", "disagreements"}: each disagreement is a string starting
with its tag (server:, namespace:, credential:, ...). A disagreement that a KNOWN entry explains
is moved to "known" under that entry's name; every KNOWN entry is written up in
KNOWN-DIFFERENCES.md.
"""

import base64
import json
import re

URL_RE = re.compile(r'"Response" verb="\w+" url="([^"]+)" status="([^"]*)"')
LOG_RE = re.compile(r"^[IWEF]\d{4} ")

# Refusal classes: the same wording family on both sides (client-go's words and ours).
CLASSES = [
    ("kubeconfig-missing", r"stat .*no such file|--kubeconfig.*(no such|not exist)"),
    ("base64", r"illegal base64"),
    ("file-read", r"is a directory"),
    ("parse", r"error loading config file|yaml:|json:|unmarshal|couldn't get version/kind|"
              r"mapping values|did not find expected|expected a sequence|not a list|"
              r"expected a list|expected a map|line \d+, column \d+|end of sequence"),
    ("context-missing", r'context "[^"]*" does not exist|context was not found'),
    ("cluster-missing", r'cluster "[^"]*" does not exist|cluster was not found|'
                        r'no cluster named'),
    ("user-missing", r'auth info "[^"]*" does not exist|user was not found|authinfo'),
    ("ca-both", r"certificate-authority-data and certificate-authority are both specified"),
    ("cert-both", r"client-cert-data and client-cert are both specified"),
    ("insecure-with-ca", r"insecure flag is not allowed"),
    ("cert-key-pair", r"client-key-data or client-key must be specified|"
                      r"client-cert-data or client-cert must be specified"),
    ("multiple-auth", r"more than one authentication method"),
    ("exec-and-auth-provider", r"auth-provider.*exec|exec.*auth-provider"),
    ("exec-api-version", r"exec plugin.*apiversion|invalid apiversion|apiversion.*exec"),
    ("exec-interactive", r"interactivemode"),
    ("impersonation", r"impersonat|requested groups|requested uid|as-user-extra|"
                      r"user extra"),
    ("namespace", r"namespace"),
    ("proxy-scheme", r"unsupported scheme"),
    ("no-server", r"no server found|server has no|host must be|server.*empty|"
                  r"no configuration has been provided"),
    ("file-read", r"unable to read|no such file|could not read"),
]

FAKES = {  # self-test fakes: what each breaks, and the tag that must catch it
    "namespace": "namespace:",
    "credential": "credential:",
    "proxy": "proxy:",
    "exec-env": "exec:",
    "accept": "refusal:",
    "plugins-split": "plugins-split:",
}


def classify(message):
    m = message.lower()
    for name, pattern in CLASSES:
        if re.search(pattern, m):
            return name
    return "other"


def net_class(text):
    """The class of a network failure, from kubectl's error lines (not its request log)."""
    lines = [ln for ln in text.splitlines() if not LOG_RE.match(ln) or ln.startswith("E")]
    t = re.sub(r"[?&]timeout=\w+", "", "\n".join(lines).lower())
    if "getting credentials" in t or "exec plugin" in t:
        return "credential:" + credential_class(t)
    if "badrequest" in t or "400 bad request" in t:
        return "bad-request"
    if "proxyconnect" in t or "proxy" in t and ("refused" in t or "502" in t or "bad gateway" in t):
        return "proxy-error"
    if "unknown authority" in t or "signed by unknown" in t:
        return "tls-untrusted"
    if "certificate is valid for" in t or "certificate is not valid for" in t or \
            "doesn't contain any ip sans" in t:
        return "tls-name"
    if "server gave http response to https client" in t:
        return "http-to-https"
    if "connection refused" in t or "was refused" in t:
        return "conn-refused"
    if "timeout" in t or "timed out" in t:
        return "timeout"
    if "no such host" in t or "could not resolve" in t:
        return "dns"
    return "net-other"


def credential_class(t):
    """Why an exec plugin gave no credential (kubectl's words, and apicheck's auth.credential)."""
    t = t.lower()
    if "interactive mode" in t or "standard input is not a terminal" in t:
        return "exec-interactive"
    if "not found" in t:
        return "exec-not-found"
    if "exit code" in t or "exit status" in t:
        return "exec-failed"
    if "apiversion" in t:
        return "exec-api-version"
    return "other"


def credential_of(req):
    auth = None
    imp = []
    for name, value in req["headers"]:
        if name == "authorization":
            kind, _, rest = value.partition(" ")
            if kind.lower() == "basic":
                try:
                    rest = base64.b64decode(rest).decode().split(":", 1)[0]
                except ValueError:
                    pass
            auth = f"{kind.lower()}:{rest}"
        else:
            imp.append(f"{name}={value}")
    return {"cert": req["clientCert"], "auth": auth, "impersonate": sorted(imp)}


# The config checks of problems kubectl tolerates (core/kube ConfigProblem ids).
TOLERATED = ("config.user", "config.cluster", "config.server", "config.token",
             "config.namespace")


def last_error_line(stderr):
    """The error that stopped the run. kubectl prints several configuration errors as a list
    ("Error in configuration:" then "* ..." lines, in client-go's order): the first is the one
    the plugins, which stop at the first, name."""
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not LOG_RE.match(ln)]
    bullets = [ln for ln in lines if ln.startswith("* ")]
    if bullets:
        return bullets[0]
    return lines[-1] if lines else stderr.strip()[-300:]


def proxies_seen(log):
    """Which proxies were asked for which server: "P1 api.diff.test:6443" (a CONNECT, or an
    http:// request in absolute form)."""
    out = set()
    for e in log:
        if e["kind"] == "proxy":
            target = re.sub(r"^http://([^/]+).*$", r"\1", e["target"])
            out.add(f"{e['proxy']} {target}")
    return sorted(out)


def kubectl_view(o):
    urls = URL_RE.findall(o["stderr"])
    v = {"rc": o["rc"], "proxies": proxies_seen(o["log"]), "exec": o["exec"],
         "raw": "Please enter Username" if "Please enter Username" in o["stderr"] + o["stdout"]
         else ""}
    if not urls and o["rc"] != 0:
        msg = last_error_line(o["stderr"])
        v.update(outcome="refused", error=msg, cls=classify(msg))
        return v
    url = urls[-1][0]
    m = re.match(r"^(?P<base>.*?)/apis?(?:/v1(?:/namespaces/(?P<ns>[^/?]+)/configmaps)?)?"
                 r"(?:\?.*)?$", url)
    v["base"] = m.group("base") if m else url
    v["namespace"] = m.group("ns") if m else None
    if o["rc"] == 0:
        v["outcome"] = "ok"
    else:
        v["outcome"] = net_class(o["stderr"])
        v["error"] = last_error_line(o["stderr"])
    reqs = [e for e in o["log"] if e["kind"] == "request"]
    creds = [credential_of(r) for r in reqs if "configmaps" in r["path"]] or \
        [credential_of(r) for r in reqs]
    v["credential"] = creds[-1] if creds else None
    v["sni"] = sorted({str(r["sni"]) for r in reqs})
    return v


def config_view(o, tool):
    if o["rc"] == 0:
        try:
            return {"outcome": "ok", "config": json.loads(o["stdout"])}
        except ValueError:
            return {"outcome": "garbage", "error": o["stdout"][:300]}
    msg = last_error_line(o["stderr"]).replace(f"kubectl-{tool}: error: ", "", 1)
    return {"outcome": "refused", "rc": o["rc"], "error": msg, "cls": classify(msg)}


APICHECK_NET = [  # (check id, class) in layer order: the first that failed names the outcome
    ("proxy.connect", "proxy-error"), ("proxy.tunnel", "proxy-error"), ("dns.resolve", "dns"),
    ("tcp.connect", None), ("tls.handshake", None), ("tls.verify", "tls-untrusted"),
    ("tls.name", "tls-name")]


def apicheck_view(o):
    v = {"rc": o["rc"], "proxies": proxies_seen(o["log"]), "exec": o["exec"]}
    try:
        report = json.loads(o["stdout"]) if o["stdout"].strip() else None
    except ValueError:
        report = None
    if report is None:
        msg = last_error_line(o["stderr"])
        v.update(outcome="refused", error=msg, cls=classify(msg.split("error: ", 1)[-1]))
        return v
    checks = {c["id"]: c for c in report["checks"]}
    v["checks"] = {c["id"]: c["status"] for c in report["checks"]}
    v["outcome"] = "ok"
    # every failing step's class: kubectl names one (Go checks the name before the chain,
    # apicheck reports both)
    v["failed"] = [cls or net_class(checks[cid]["message"]) for cid, cls in APICHECK_NET
                   if cid in checks and checks[cid]["status"] == "fail"]
    for cid, cls in APICHECK_NET:
        c = checks.get(cid)
        if c and c["status"] == "fail":
            v["outcome"] = cls or net_class(c["message"])
            v["error"] = c["message"]
            break
    else:
        # a problem kubectl goes on despite (ClientConfig::problems) fails the config layer while
        # the run goes on as kubectl's does: the outcome is what the rest of the run met
        cfg = [c for c in report["checks"] if c["layer"] == "config" and c["status"] == "fail"
               and c["id"] not in TOLERATED]
        if cfg:
            v["outcome"] = "config-fail"
            v["error"] = cfg[0]["message"]
        cred = checks.get("auth.credential")
        auth = checks.get("auth.whoami")
        if cred and cred["status"] == "fail" and v["outcome"] == "ok":
            v["outcome"] = "credential:" + credential_class(cred["message"])
            v["error"] = cred["message"]
        elif auth and auth["status"] == "fail" and v["outcome"] == "ok":
            v["outcome"] = "auth-fail"
            if "HTTP 400" in auth["message"] and "HTTPS server" in auth["message"]:
                v["outcome"] = "bad-request"
            elif "HTTP 404" in auth["message"]:
                v["outcome"] = "not-found"
            v["error"] = auth["message"]
        # no credentialed request (a user defined nowhere): the health requests met what
        # kubectl's request met, e.g. a TLS port answering plain http with 400
        health = [checks[cid] for cid in ("health.livez", "health.readyz", "health.healthz",
                                          "health.version")
                  if cid in checks and checks[cid]["status"] == "fail"]
        if v["outcome"] == "ok" and health and "400" in health[0]["message"]:
            v["outcome"] = "bad-request"
            v["error"] = health[0]["message"]
    reqs = [e for e in o["log"] if e["kind"] == "request"]
    creds = [credential_of(r) for r in reqs if "selfsubjectreviews" in r["path"]]
    v["credential"] = creds[-1] if creds else None
    v["sni"] = sorted({str(r["sni"]) for r in reqs})
    v["server"] = report.get("target", {}).get("server")
    return v


# ---------------------------------------------------------------------- known differences
# Each entry: name -> predicate(disagreement, case, views). Written up, with its reason, in
# KNOWN-DIFFERENCES.md; a disagreement none of them explains fails the run.

def _refusal_is(cls_names, *phrases):
    """The plugins refuse with one of `cls_names` (or a message holding one of `phrases`)."""
    def pred(d, case, v):
        c = v["apicheck.config"]
        return d.startswith("refusal:") and c["outcome"] == "refused" and (
            c["cls"] in cls_names or any(p in c["error"] for p in phrases))
    return pred


def _kubectl_prompted(d, case, v):
    # client-go's interactive basic-auth prompt: an https user with no credential reads a
    # username from stdin; ours is closed, so kubectl ends with "error: EOF".
    k, c = v["kubectl"], v["apicheck.config"]
    # What client-go checks after the prompt (the transport: a CA beside the insecure flag, the
    # TLS files read) it would then refuse as the plugins do.
    return "Please enter Username" in k.get("error", "") + k.get("raw", "") and \
        d.startswith("refusal:") and (c["outcome"] == "ok" or c["cls"] in (
            "user-missing", "cluster-missing", "insecure-with-ca", "file-read"))


KNOWN = {
    # deliberate (KNOWN-DIFFERENCES.md)
    "kubectl-prompts-for-credentials": _kubectl_prompted,
    "as-user-extra-malformed": lambda d, case, v: d.startswith("refusal:") and
    "--as-user-extra" in v["apicheck.config"].get("error", ""),
    "no-configuration-certs-netdebug": _refusal_is((), "no configuration has been provided"),
    "client-key-mismatch": lambda d, case, v: (d.startswith("refusal: kubectl refuses") or
                                               d.startswith("outcome:")) and
    "private key does not match public key" in v["kubectl"].get("error", "") and
    v["apicheck"].get("checks", {}).get("config.client-cert") == "fail",
    "blank-token-file": lambda d, case, v: d.startswith("outcome:") and
    'invalid header field value for "Authorization"' in v["kubectl"].get("error", "") and
    v["apicheck"].get("checks", {}).get("config.token") == "fail",
}


def known_name(d, case, views):
    for name, pred in KNOWN.items():
        if pred(d, case, views):
            return name
    return None


# ---------------------------------------------------------------------- comparison

def normalize_url(u):
    u = (u or "").rstrip("/")
    return u.lower()


def expected_impersonation(c):
    imp = c["impersonate"]
    out = []
    if imp["user"]:
        out.append(f"impersonate-user={imp['user']}")
    if imp["uid"]:
        out.append(f"impersonate-uid={imp['uid']}")
    for g in imp["groups"]:
        out.append(f"impersonate-group={g}")
    for key, values in imp["extra"].items():
        for value in values:
            out.append(f"impersonate-extra-{key.lower()}={value}")
    return sorted(out)


def exec_record(records):
    """How the exec plugin was run, the first time (later runs repeat it)."""
    if not records:
        return None
    r = dict(records[0])
    return r


def apply_fake(fake, case, views):
    """Self-test: make one plugin answer wrongly, the way a bug would."""
    c = views["apicheck.config"]
    a = views["apicheck"]
    if fake == "namespace" and c["outcome"] == "ok":
        for t in ("apicheck.config", "certs.config", "netdebug.config"):
            if views[t]["outcome"] == "ok":
                views[t]["config"]["namespace"] += "-x"
    elif fake == "credential" and a.get("credential"):
        a["credential"] = dict(a["credential"], auth="bearer:forged")
    elif fake == "proxy":
        a["proxies"] = a["proxies"][:-1] if a["proxies"] else ["P1 CONNECT forged:1"]
    elif fake == "exec-env" and a["exec"]:
        a["exec"] = [dict(a["exec"][0], env={"DIFF_FORGED": "1"})]
    elif fake == "accept" and views["kubectl"]["outcome"] == "refused":
        for t in ("apicheck.config", "certs.config", "netdebug.config"):
            if views[t]["outcome"] == "refused":
                views[t] = {"outcome": "ok", "config": {"forged": True}}
    elif fake == "plugins-split" and views["certs.config"]["outcome"] == "ok":
        views["certs.config"]["config"]["server"] += "/forged"


def compare(case, obs, fake=None):
    k = kubectl_view(obs["kubectl"])
    # kubectl asks for the namespace first (unless -n is given), which validates the merged
    # config: a --cluster naming nothing there is an empty cluster, "no server found for
    # cluster X". The plugins say `cluster "X" does not exist` (quoting kubectl's words): one
    # cause, one class.
    flags = case["flags"]
    named = flags[flags.index("--cluster") + 1] if "--cluster" in flags[:-1] else None
    if k.get("cls") == "no-server" and named is not None and \
            f'no server found for cluster "{named}"' in k.get("error", ""):
        k["cls"] = "cluster-missing"
    views = {"kubectl": k, "apicheck": apicheck_view(obs["apicheck"])}
    for tool in ("apicheck", "certs", "netdebug"):
        views[f"{tool}.config"] = config_view(obs[f"{tool}.config"], tool)
    if fake:
        apply_fake(fake, case, views)
    a = views["apicheck"]
    c = views["apicheck.config"]
    out = []

    # the three plugins resolve alike
    for tool in ("certs", "netdebug"):
        if views[f"{tool}.config"] != c:
            out.append(f"plugins-split: apicheck __config {summary(c)} but {tool} "
                       f"{summary(views[tool + '.config'])}")

    # refusal: kubectl refuses exactly what the plugins refuse, for the same reason
    if k["outcome"] == "refused" or c["outcome"] == "refused":
        if k["outcome"] != "refused":
            out.append(f"refusal: kubectl accepted (dialed {k.get('base')}, {k['outcome']}) "
                       f"but the plugins refuse: {c.get('error')}")
        elif c["outcome"] != "refused":
            out.append(f"refusal: kubectl refuses ({k['error']}) but the plugins accept")
        else:
            if k["cls"] != c["cls"]:
                out.append(f"refusal: classes differ: kubectl {k['cls']} ({k['error']}) vs "
                           f"plugins {c['cls']} ({c['error']})")
            if c["rc"] != 2:
                out.append(f"refusal: plugin exit {c['rc']}, not 2")
            if not re.search(r"/|--[a-z]|\bflag\b|KUBECONFIG|\$", c["error"]) and \
                    c["cls"] not in ("context-missing", "cluster-missing", "user-missing"):
                out.append(f"refusal: the plugins' error names no file or flag: {c['error']}")
        # apicheck's run may report a configuration kubectl refuses as a failing config check
        # (exit 1) instead of exit 2: config_load.cpp's files looked at first (a directory)
        if a["outcome"] not in ("refused", "config-fail") and k["outcome"] == "refused":
            out.append(f"refusal: apicheck's run does not refuse ({a['outcome']}) while "
                       f"kubectl refuses: {k['error']}")
        outcome = "refused:" + k.get("cls", "-") if k["outcome"] == "refused" else k["outcome"]
        return finish(outcome, out, case, views)

    cfg = c["config"]
    # what kubectl dialed and what the plugins resolved
    if normalize_url(k["base"]) != normalize_url(cfg.get("server")):
        out.append(f"server: kubectl dialed {k['base']} but the plugins resolve "
                   f"{cfg.get('server')}")
    if k.get("namespace") and k["namespace"] != cfg.get("namespace"):
        out.append(f"namespace: kubectl lists in {k['namespace']} but the plugins resolve "
                   f"{cfg.get('namespace')}")
    # the proxy: the plugins' choice, kubectl's and apicheck's actual CONNECTs
    kproxy = sorted({p.split()[0] for p in k["proxies"]})
    want = []
    if cfg.get("proxy"):
        url = cfg["proxy"]["url"]
        host = re.sub(r"^[a-z0-9]+://([^@/]*@)?", "", url).rstrip("/")
        for name, (ip, port) in PROXY_ADDRS.items():
            if host in (f"{ip}:{port}", f"{PROXY_NAMES.get(name)}:{port}"):
                want.append(name)
        if not want:
            want.append(host)
    if kproxy != want and k["outcome"] != "refused":
        out.append(f"proxy: kubectl went through {kproxy or 'no proxy'} but the plugins choose "
                   f"{want or 'no proxy'}")
    if k["proxies"] != a["proxies"]:
        out.append(f"proxy: kubectl's proxy traffic {k['proxies']} but apicheck's "
                   f"{a['proxies']}")
    # impersonation as configured
    if k.get("credential") and k["credential"]["impersonate"] != expected_impersonation(cfg):
        out.append(f"impersonation: kubectl sent {k['credential']['impersonate']} but the "
                   f"plugins resolve {expected_impersonation(cfg)}")
    # apicheck's real run: same outcome, same credential, same SNI
    if a["outcome"] == "refused":
        out.append(f"outcome: kubectl accepted the configuration ({k['outcome']}) but apicheck "
                   f"refused: {a.get('error')}")
    elif k["outcome"] != a["outcome"] and k["outcome"] not in a.get("failed", []):
        out.append(f"outcome: kubectl {k['outcome']} but apicheck {a['outcome']} "
                   f"({a.get('error', '')})")
    elif k["outcome"] == "ok":
        if k["credential"] != a["credential"]:
            out.append(f"credential: kubectl sent {k['credential']} but apicheck "
                       f"{a['credential']}")
        if k["sni"] != a["sni"]:
            out.append(f"sni: kubectl sent {k['sni']} but apicheck {a['sni']}")
    # exec plugins: run the same way
    ke, ae = exec_record(k["exec"]), exec_record(a["exec"])
    if (ke is None) != (ae is None) and k["outcome"] == "ok":
        out.append(f"exec: kubectl ran the exec plugin: {ke is not None}, apicheck: "
                   f"{ae is not None}")
    elif ke and ae and ke != ae:
        for key in ("argv", "env", "stdinTTY", "execInfo"):
            if ke.get(key) != ae.get(key):
                out.append(f"exec: {key}: kubectl {json.dumps(ke.get(key))} but apicheck "
                           f"{json.dumps(ae.get(key))}")
    return finish(k["outcome"], out, case, views)


PROXY_ADDRS = {"P1": ("198.18.0.10", 3128), "P2": ("198.18.0.11", 3128),
               "P3": ("127.0.0.1", 3129)}
PROXY_NAMES = {"P1": "proxy1.diff.test", "P2": "proxy2.diff.test", "P3": "localhost"}


def finish(outcome, disagreements, case, views):
    known, left = [], []
    for d in disagreements:
        name = known_name(d, case, views)
        if name:
            known.append(name)
        else:
            left.append(d)
    return {"outcome": outcome, "known": sorted(set(known)), "disagreements": left,
            "views": views if left else None}


def summary(v):
    if v["outcome"] == "ok":
        return json.dumps(v["config"], sort_keys=True)
    return f"{v['outcome']}: {v.get('error')}"


def describe(case, obs):
    """A disagreement's case, to reproduce by hand: files, env, flags, and both answers."""
    lines = [f"  env: {json.dumps(case['env'])}", f"  flags: {json.dumps(case['flags'])}"]
    if case["incluster"] is not None:
        lines.append(f"  in-cluster files ({'/run/secrets/kubernetes.io/serviceaccount'}): "
                     f"{json.dumps(case['incluster'])}")
    if case.get("fault"):
        lines.append(f"  fault: {case['fault']}")
    for rel, content in case["files"].items():
        text = json.dumps(content) if isinstance(content, dict) else repr(content)
        lines.append(f"  file {{root}}/{rel}: {text}")
    if obs:
        k = obs["kubectl"]
        lines.append(f"  kubectl: exit {k['rc']}: {last_error_line(k['stderr'])}")
        lines.append(f"  kubectl saw: {json.dumps(k['log'])[:1500]}")
        if k["exec"]:
            lines.append(f"  kubectl exec: {json.dumps(k['exec'][:1])}")
        for t in ("apicheck", "certs", "netdebug"):
            o = obs[f"{t}.config"]
            lines.append(f"  {t} __config: exit {o['rc']}: "
                         f"{(o['stdout'] or o['stderr']).strip()[:1500]}")
        a = obs["apicheck"]
        lines.append(f"  apicheck run: exit {a['rc']}: {a['stderr'].strip()[:300]}")
        lines.append(f"  apicheck saw: {json.dumps(a['log'])[:1500]}")
        if a["exec"]:
            lines.append(f"  apicheck exec: {json.dumps(a['exec'][:1])}")
    return "\n".join(lines)
