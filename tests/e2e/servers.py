#!/usr/bin/env python3
"""Small TLS servers for end-to-end tests, each behaving one way, on 127.0.0.1:

    servers.py MODE --cert C --key K --port P [--client-ca CA] [--log FILE]

MODE:
  record   answers like a minimal kube-apiserver (`ok`, /version, SelfSubjectReview) and
           appends to --log one JSON line per TLS connection: whether the client presented a
           certificate, and each request's line and headers (how tests prove that no
           credential reached a server)
  garbage  answers every request 200 with bytes that are not what an API server says
  huge     answers with a 64 MiB body
  stall    sends the status line and headers, then never the body
Hostile modes (each connection handled on its own thread; --port 0 is not accepted, pick one):
  silent            accepts the TCP connection and never sends a byte
  tls-garbage       sends bytes that are not TLS as soon as the connection opens
  close-after-hello reads the ClientHello, then closes
  close-mid-hello   reads the ClientHello, sends the first half of a real ServerHello flight,
                    then closes
  dribble-hello     reads the ClientHello and sends a real server flight one byte per second
  dribble-body      completes the handshake, then sends a valid response one byte per second
  gigabyte          answers with a 1 GiB body (Content-Length), streamed
  gigabyte-chunked  answers with a 1 GiB chunked body (no length announced), streamed
  endless-headers   sends a status line, then header lines forever
  bad-status        answers with an invalid HTTP/1.1 status line
  h2-garbage        negotiates h2 with ALPN, then answers the client's preface with an invalid
                    frame (GOAWAY on a stream) and random bytes instead of its SETTINGS
  h2-bad-preface    negotiates h2 with ALPN, then sends an HTTP/1.1 response instead of the
                    SETTINGS frame that must open the server's side
It prints `ready` on stdout once listening and runs until killed.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
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


# ------------------------------------------------------------------ hostile modes

HOSTILE = ("silent", "tls-garbage", "close-after-hello", "close-mid-hello", "dribble-hello",
           "dribble-body", "gigabyte", "gigabyte-chunked", "endless-headers", "bad-status",
           "h2-garbage", "h2-bad-preface")
GIB = 1 << 30


def read_client_hello(raw):
    """The first TLS record (the ClientHello) as sent, or None when the client gave up."""
    data = b""
    while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
        chunk = raw.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data


def server_flight(ctx, client_hello):
    """What a real TLS server answers to this ClientHello (ServerHello and the rest of its
    flight), computed in memory so it can be sent slowly or in part."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_side=True)
    incoming.write(client_hello)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def wait_closed(sock):
    """Holds the connection open, sending nothing, until the client closes it."""
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def dribble(sock, data):
    for i in range(len(data)):
        sock.sendall(data[i:i + 1])
        time.sleep(1)


def stream_gigabyte(conn, chunked):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    head += b"Transfer-Encoding: chunked\r\n\r\n" if chunked else \
        f"Content-Length: {GIB}\r\n\r\n".encode()
    conn.sendall(head)
    block = b"[" * 65536
    frame = f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block
    for _ in range(GIB // len(block)):
        conn.sendall(frame)
    if chunked:
        conn.sendall(b"0\r\n\r\n")


def hostile(mode, ctx, raw):
    """One connection of a hostile mode; every error (the client leaving) just ends it."""
    try:
        if mode == "silent":
            wait_closed(raw)
            return
        if mode == "tls-garbage":
            raw.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" + os.urandom(512))
            wait_closed(raw)
            return
        if mode in ("close-after-hello", "close-mid-hello", "dribble-hello"):
            hello = read_client_hello(raw)
            if hello is None:
                return
            if mode == "close-mid-hello":
                flight = server_flight(ctx, hello)
                raw.sendall(flight[:len(flight) // 2])
            elif mode == "dribble-hello":
                dribble(raw, server_flight(ctx, hello))
                wait_closed(raw)
            return
        conn = ctx.wrap_socket(raw, server_side=True)
        if mode == "h2-garbage":
            conn.recv(65536)  # the client's preface and SETTINGS
            conn.sendall(b"\x00\x00\x12\x07\x05\x00\x00\x00\x03" + os.urandom(4096))
            wait_closed(conn)
            return
        if mode == "h2-bad-preface":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            wait_closed(conn)
            return
        if read_request(conn) is None:
            return
        if mode == "dribble-body":
            body = b'{"kind":"Status","status":"Success"}'
            dribble(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        elif mode in ("gigabyte", "gigabyte-chunked"):
            stream_gigabyte(conn, mode == "gigabyte-chunked")
        elif mode == "endless-headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            line = 0
            while True:
                conn.sendall(b"".join(f"X-Hostile-{line + i}: {'a' * 64}\r\n".encode()
                                      for i in range(512)))
                line += 512
        elif mode == "bad-status":
            conn.sendall(b"HTTP/1.1 2OO NOT A STATUS\r\nContent-Length: 2\r\n\r\nok")
        wait_closed(conn)
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            raw.close()
        except OSError:
            pass


def serve_hostile(mode, ctx, srv):
    while True:
        raw, _ = srv.accept()
        threading.Thread(target=hostile, args=(mode, ctx, raw), daemon=True).start()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """For the tests: `servers.py MODE` on a free loopback port, killed on exit."""

    def __init__(self, mode, cert, key, log=None, client_ca=None):
        self.mode = mode
        self.port = free_port()
        argv = [sys.executable, os.path.abspath(__file__), mode, "--cert", str(cert), "--key",
                str(key), "--port", str(self.port)]
        if log:
            argv += ["--log", str(log)]
        if client_ca:
            argv += ["--client-ca", str(client_ca)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"servers.py {mode} did not start")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # SIGTERM lets a recording server finish writing the connections its clients just
        # closed (a kill could beat the thread that logs them); SIGKILL if it does not stop.
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["record", "garbage", "huge", "stall", *HOSTILE])
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--client-ca")
    p.add_argument("--log")
    a = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.set_alpn_protocols(["h2"] if a.mode.startswith("h2-") else ["http/1.1"])
    if a.client_ca:  # ask for a client certificate, as kube-apiserver does, and record it
        ctx.load_verify_locations(a.client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(16)
    print("ready", flush=True)
    if a.mode in HOSTILE:
        return serve_hostile(a.mode, ctx, srv)
    threads = []

    def stop(*_):
        # Connections whose clients have gone are logged before the process ends; one still
        # open (a stalled mode) is given up after 5 s.
        deadline = time.monotonic() + 5
        for t in threads:
            t.join(max(0, deadline - time.monotonic()))
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
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
        t = threading.Thread(target=serve, args=(a.mode, conn, a.log), daemon=True)
        threads[:] = [x for x in threads if x.is_alive()] + [t]
        t.start()


if __name__ == "__main__":
    sys.exit(main())
