#!/usr/bin/env python3
"""Small TLS servers for end-to-end tests, each behaving one way, on 127.0.0.1:

    servers.py MODE --cert C --key K --port P [--client-ca CA] [--log FILE]

MODE:
  record   answers like a minimal kube-apiserver (`ok`, /version, SelfSubjectReview) and appends to --log one JSON line per TLS
           connection: whether the client presented a certificate, and each request's line
           and headers (how tests prove that no credential reached a server)
  garbage  answers every request 200 with bytes that are not what an API server says
  huge     answers with a 64 MiB body
  stall    sends the status line and headers, then never the body
It prints `ready` on stdout once listening and runs until killed.
"""

import argparse
import json
import socket
import ssl
import sys
import threading
import time


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    length = int(headers.get("Content-Length", headers.get("content-length", "0")) or 0)
    body = data.split(b"\r\n\r\n", 1)[1]
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    return {"line": lines[0], "headers": headers}


def respond(conn, status, body, content_type="text/plain"):
    conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def serve(mode, tls_conn, log):
    record = {"clientCert": bool(tls_conn.getpeercert(binary_form=True)), "requests": []}
    try:
        while True:
            req = read_request(tls_conn)
            if req is None:
                break
            record["requests"].append(req)
            if mode == "record":  # just enough of kube-apiserver to get asked for credentials
                path = req["line"].split()[1]
                if path.startswith("/version"):
                    respond(tls_conn, "200 OK", b'{"major":"1","minor":"37","gitVersion":'
                            b'"v1.37.0-recorder","goVersion":"go","platform":"linux/amd64"}',
                            "application/json")
                elif "selfsubjectreviews" in path:
                    respond(tls_conn, "201 Created", b'{"kind":"SelfSubjectReview","status":'
                            b'{"userInfo":{"username":"recorded"}}}', "application/json")
                else:
                    respond(tls_conn, "200 OK", b"ok")
            elif mode == "garbage":
                respond(tls_conn, "200 OK", b"\x00\xffnot json{{{ [+]x", "application/json")
            elif mode == "huge":
                tls_conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: 67108864\r\n\r\n")
                chunk = b"x" * 65536
                for _ in range(1024):
                    tls_conn.sendall(chunk)
            elif mode == "stall":
                tls_conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: 100\r\n\r\npartial")
                time.sleep(3600)
    except (OSError, ssl.SSLError):
        pass
    finally:
        if log:
            with open(log, "a") as f:
                f.write(json.dumps(record) + "\n")
        try:
            tls_conn.close()
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["record", "garbage", "huge", "stall"])
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--client-ca")
    p.add_argument("--log")
    a = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.set_alpn_protocols(["http/1.1"])
    if a.client_ca:  # ask for a client certificate, as kube-apiserver does, and record it
        ctx.load_verify_locations(a.client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(16)
    print("ready", flush=True)
    while True:
        raw, _ = srv.accept()
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as e:
            if a.log:
                with open(a.log, "a") as f:
                    f.write(json.dumps({"handshakeError": str(e)}) + "\n")
            raw.close()
            continue
        threading.Thread(target=serve, args=(a.mode, conn, a.log), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
