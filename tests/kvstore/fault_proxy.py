"""A fault-injecting HTTP/1.1 proxy for the object store tests, on 127.0.0.1 only.

Forwards every request unchanged (the Host header included, so SigV4 signatures still verify
upstream) to --upstream, and injects faults into a fraction of them:

  503, 500, 429   answer that status itself (429 with Retry-After: 1)
  reset           read the request, then close the connection with a TCP reset
  truncate        forward, then send the headers and only half of the body, then close
  stall           forward, send the headers and a little of the body, then go silent
  delay           wait --delay-ms, then forward (latency, not an error)

and, for every request when asked, rewrites what servers may legally do with a Range:
  --ignore-range      strip Range (the upstream answers 200 with the whole object)
  --range-as-200      turn a 206 into a 200 that keeps its Content-Range

--delay-first SUFFIX (repeatable) delays the first request whose path ends with SUFFIX by
--delay-ms, and only that one: a deterministic straggler whose re-issue is fast.

--rate is the probability of a fault per request, drawn from a seeded generator; --kinds the
faults to draw from. GET /__proxy_stats answers a JSON count of what was done ("ok" and each
fault kind: requests; "GET": GET requests forwarded; "body_bytes": body bytes the upstream sent
for them). The proxy stops by itself after --lifetime seconds.
"""
import argparse
import http.client
import json
import random
import socket
import socketserver
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _upstream(self):
        conn = getattr(self, "_conn", None)
        if conn is None:
            host, port = self.server.upstream
            conn = http.client.HTTPConnection(host, port, timeout=60)
            self._conn = conn
        return conn

    def _stats(self):
        body = json.dumps(self.server.counts).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _count(self, kind):
        with self.server.lock:
            self.server.counts[kind] = self.server.counts.get(kind, 0) + 1

    def _fault(self):
        with self.server.lock:
            if self.server.rng.random() >= self.server.rate:
                return None
            return self.server.rng.choice(self.server.kinds)

    def _handle(self):
        if self.path == "/__proxy_stats":
            return self._stats()
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else b""
        fault = self._fault()
        path = self.path.split("?", 1)[0]
        with self.server.lock:
            for suffix in self.server.delay_first:
                if path.endswith(suffix) and suffix not in self.server.delayed:
                    self.server.delayed.add(suffix)
                    fault = "delay"
        self._count(fault or "ok")
        if fault in ("503", "500", "429"):
            msg = ("<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>injected by the "
                   "fault proxy</Message></Error>" % ("SlowDown" if fault != "500" else
                                                      "InternalError")).encode()
            self.send_response(int(fault))
            if fault == "429":
                self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if fault == "delay":
            time.sleep(self.server.delay)
        headers = {k: v for k, v in self.headers.items()}
        if self.server.ignore_range:
            headers = {k: v for k, v in headers.items() if k.lower() != "range"}
        conn = self._upstream()
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except Exception:
            self._conn = None
            self.send_error(502)
            return
        status = resp.status
        if self.command == "GET":
            with self.server.lock:
                c = self.server.counts
                c["GET"] = c.get("GET", 0) + 1
                c["body_bytes"] = c.get("body_bytes", 0) + len(data)
        if self.server.range_as_200 and status == 206:
            status = 200
        self.send_response_only(status, resp.reason if status == resp.status else "OK")
        for k, v in resp.getheaders():
            if k.lower() in ("transfer-encoding", "connection", "content-length"):
                continue
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if fault == "truncate" and len(data) > 1:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault == "stall":
            self.wfile.write(data[: min(len(data) // 2, 100)])
            self.wfile.flush()
            time.sleep(self.server.stall)
            self.close_connection = True
            return
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="host:port")
    ap.add_argument("--rate", type=float, default=0.0)
    ap.add_argument("--kinds", default="503,500,reset,truncate,stall,429,delay")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--delay-ms", type=float, default=200)
    ap.add_argument("--stall-s", type=float, default=30)
    ap.add_argument("--delay-first", action="append", default=[])
    ap.add_argument("--ignore-range", action="store_true")
    ap.add_argument("--range-as-200", action="store_true")
    ap.add_argument("--lifetime", type=float, default=900)
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.upstream = (host, int(port))
    srv.rate = a.rate
    srv.kinds = [k for k in a.kinds.split(",") if k]
    srv.rng = random.Random(a.seed)
    srv.lock = threading.Lock()
    srv.counts = {}
    srv.delay = a.delay_ms / 1000.0
    srv.stall = a.stall_s
    srv.ignore_range = a.ignore_range
    srv.delay_first = a.delay_first
    srv.delayed = set()
    srv.range_as_200 = a.range_as_200
    threading.Timer(a.lifetime, srv.shutdown).start()
    print("ready", flush=True)
    srv.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
