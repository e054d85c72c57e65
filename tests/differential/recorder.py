"""Recording TLS servers and HTTP CONNECT proxies for the differential harness, run as threads
of the worker that owns them (inside the worker's own network namespace).

A Server answers just enough of kube-apiserver for `kubectl get configmaps` (discovery, an empty
ConfigMapList), apicheck's health, /version and SelfSubjectReview, and records per request: the
SNI the client sent, the CN of the client certificate it presented (verified against the client
CA: nothing unverified is trusted), the request line and the credential-bearing headers. A Proxy
records each CONNECT target and tunnels it (only to addresses of this namespace).
"""

import json
import re
import socket
import ssl
import threading

API_VERSIONS = {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": "127.0.0.1:6443"}]}
API_GROUPS = {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
API_V1 = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "configmaps", "singularName": "configmap", "namespaced": True, "kind": "ConfigMap",
     "verbs": ["get", "list"], "shortNames": ["cm"]}]}
VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.0-diff", "gitCommit": "0",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go",
           "compiler": "gc", "platform": "linux/amd64"}
KEEP_HEADERS = ("authorization", "impersonate-")


class Log:
    """Records from every server and proxy of a worker, cleared per run."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, item):
        with self.lock:
            self.items.append(item)

    def take(self):
        with self.lock:
            items, self.items = self.items, []
        return items


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 1 << 20:
            return None, b""
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def listener(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((host, port))
    s.listen(64)
    return s


def serve_forever(sock, handle):
    def loop():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()


class Server:
    def __init__(self, name, port, cert, key, client_ca, log):
        self.name, self.port, self.log = name, port, log
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])

        def on_sni(sock, server_name, _ctx):
            sock.sni_name = server_name  # the SSLSocket being accepted

        ctx.sni_callback = on_sni
        self.ctx = ctx
        self.sock = listener("::", port)
        serve_forever(self.sock, self.handle)

    def handle(self, raw):
        raw.settimeout(20)
        try:
            first = raw.recv(1, socket.MSG_PEEK)
        except OSError:
            first = b""
        if first and first != b"\x16":
            # plain HTTP to a TLS port: answered as Go's TLS server does, and recorded (what a
            # client sends in clear text matters)
            self.plain_http(raw)
            return
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.log.add({"kind": "tls-fail", "server": self.name, "error": str(e)[:200]})
            raw.close()
            return
        sni = getattr(conn, "sni_name", None)
        cn = None
        peer = conn.getpeercert()
        if peer:
            for rdn in peer.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
        try:
            while True:
                head, rest = read_head(conn)
                if head is None:
                    break
                lines = head.split("\r\n")
                headers = []
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name, value = name.strip(), value.strip()
                    if name.lower() == "content-length":
                        length = int(value or 0)
                    if name.lower().startswith(KEEP_HEADERS):
                        headers.append([name.lower(), value])
                body = rest
                while len(body) < length:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    body += chunk
                method, path = (lines[0].split() + ["", ""])[:2]
                self.log.add({"kind": "request", "server": self.name, "sni": sni,
                              "clientCert": cn, "method": method, "path": path,
                              "headers": sorted(headers)})
                self.answer(conn, method, path.split("?")[0])
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def plain_http(self, raw):
        try:
            head, _ = read_head(raw)
            if head is not None:
                lines = head.split("\r\n")
                headers = sorted([ln.partition(":")[0].strip().lower(), ln.partition(":")[2].strip()]
                                 for ln in lines[1:]
                                 if ln.partition(":")[0].strip().lower().startswith(KEEP_HEADERS))
                method, path = (lines[0].split() + ["", ""])[:2]
                self.log.add({"kind": "plain-http", "server": self.name, "method": method,
                              "path": path, "headers": headers})
            raw.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n"
                        b"Client sent an HTTP request to an HTTPS server.\n")
        except OSError:
            pass
        finally:
            raw.close()

    @staticmethod
    def answer(conn, method, path):
        status, body, ctype = "200 OK", b"ok", "text/plain; charset=utf-8"
        if path.startswith("/prefix/"):  # gen.py's servers with a path prefix
            path = path[len("/prefix"):]
        if path == "/api":
            body = json.dumps(API_VERSIONS).encode()
        elif path == "/apis":
            body = json.dumps(API_GROUPS).encode()
        elif path == "/api/v1":
            body = json.dumps(API_V1).encode()
        elif path.endswith("/configmaps"):
            body = json.dumps({"kind": "ConfigMapList", "apiVersion": "v1",
                               "metadata": {"resourceVersion": "1"}, "items": []}).encode()
        elif path.startswith("/version"):
            body = json.dumps(VERSION).encode()
        elif "selfsubjectreviews" in path:
            status = "201 Created"
            body = json.dumps({"kind": "SelfSubjectReview",
                               "apiVersion": "authentication.k8s.io/v1",
                               "status": {"userInfo": {"username": "recorded"}}}).encode()
        elif path.startswith("/livez") or path.startswith("/readyz") or path.startswith(
                "/healthz"):
            body = b"ok"
        else:
            status, body = "404 Not Found", b"not found"
        if body[:1] in (b"{", b"["):
            ctype = "application/json"
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Proxy:
    """An HTTP proxy that records each CONNECT and tunnels it; a plain request is recorded and
    refused (nothing here speaks plain HTTP to a server)."""

    def __init__(self, name, host, port, log):
        self.name, self.log = name, log
        self.sock = listener(host, port)
        serve_forever(self.sock, self.handle)

    def handle(self, conn):
        conn.settimeout(20)
        try:
            head, rest = read_head(conn)
            if head is None:
                return
            line = head.split("\r\n")[0]
            method, target = (line.split() + ["", ""])[:2]
            auth = any(h.lower().startswith("proxy-authorization:") for h in head.split("\r\n"))
            self.log.add({"kind": "proxy", "proxy": self.name, "method": method,
                          "target": target, "proxyAuth": auth})
            if method != "CONNECT":
                # an http:// request in absolute form: forwarded as it is, in origin form
                m = re.match(r"^http://([^/]+)(/.*)?$", target)
                if not m:
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    return
                hostport, path = m.group(1), m.group(2) or "/"
                host, _, port = hostport.rpartition(":")
                try:
                    upstream = socket.create_connection((host.strip("[]"), int(port or 80)),
                                                        timeout=5)
                except (OSError, ValueError):
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                    return
                lines = head.split("\r\n")
                lines[0] = f"{method} {path} {line.split()[-1]}"
                upstream.sendall("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + rest)
                pump(upstream, conn)
                upstream.close()
                return
            host, _, port = target.rpartition(":")
            try:
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
            except (OSError, ValueError):
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            t = threading.Thread(target=pump, args=(upstream, conn), daemon=True)
            t.start()
            pump(conn, upstream)
            t.join(20)
            upstream.close()
        except OSError:
            pass
        finally:
            conn.close()
