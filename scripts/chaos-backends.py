#!/usr/bin/env python3
"""Backend chaos (issue 14): wrk sends GETs through a Weir HTTP listener
whose pool holds one healthy backend and several hostile ones, and counts
every request that failed (non-2xx answers and socket errors).

The hostile backends, all on loopback:
  reset     accepts, reads the request, closes with RST (SO_LINGER 0)
  stall     accepts, reads the request, never answers
  halfopen  accepts, reads the request, sends FIN without an answer
  flap      a healthy server that closes its port every other second
  garbage   answers with bytes that are not HTTP

The pool runs an HTTP health check (interval 500 ms, timeout 300 ms,
rise 2, fall 1) on /health, which every hostile backend answers with 200
(a gray failure: only traffic sees the fault), or with --health-path / on
the traffic path itself. The target is 0 failed idempotent requests: Weir must
route around every failure mode while at least one backend is healthy.
Bounded: --duration seconds of wrk (default 30); every server thread ends
with the run.

A stalled backend can only be told from a slow one by a timeout: the run
sets `dataplane.http_response_timeout_ms` (--response-timeout-ms, 1000)
well under wrk's 5 s, as an operator would for a service that answers in
milliseconds.

Usage: scripts/chaos-backends.py [--duration 30] [--connections 16]
       [--response-timeout-ms 1000] [--health-path /health]
       WEIR_BIN=path (default target/release/weir, built if missing)
"""
import argparse, json, os, re, socket, struct, subprocess, sys, tempfile, threading, time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIR = os.environ.get("WEIR_BIN", os.path.join(ROOT, "target/release/weir"))
ADMIN = "chaos-admin"
STOP = threading.Event()


class Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client (Weir) that hangs up early is part of the test


def serve_ok(port):
    server = QuietServer(("127.0.0.1", port), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def raw_server(port, behaviour):
    """A listening socket whose connections misbehave as `behaviour` says."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    sock.settimeout(0.2)
    held = []

    def handle(conn):
        conn.settimeout(5)
        try:
            request = conn.recv(65536)
            if request.startswith(b"GET /health "):
                # Gray failure: the health check passes, traffic does not.
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                conn.close()
                return
            if behaviour == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            elif behaviour == "halfopen":
                conn.shutdown(socket.SHUT_WR)
                held.append(conn)
            elif behaviour == "garbage":
                conn.sendall(b"\x00\x01garbage that is not HTTP\r\n\r\n")
                conn.close()
            elif behaviour == "stall":
                held.append(conn)
        except OSError:
            conn.close()

    def loop():
        while not STOP.is_set():
            try:
                conn, _ = sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()
        sock.close()
        for c in held:
            c.close()

    threading.Thread(target=loop, daemon=True).start()


def flapper(port):
    """Serves for a second, closes its port for a second, until the end."""
    def loop():
        while not STOP.is_set():
            server = serve_ok(port)
            STOP.wait(1.0)
            server.shutdown()
            server.server_close()
            STOP.wait(1.0)
    threading.Thread(target=loop, daemon=True).start()


def api(url, method, path, token, body=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--response-timeout-ms", type=int, default=1000,
                    help="dataplane.http_response_timeout_ms: how soon a silent (stalled) backend "
                         "counts as failed; wrk's own timeout is 5 s")
    ap.add_argument("--health-path", default="/health",
                    help="/health: hostile backends pass their health checks (gray failure); "
                         "/: they fail them too")
    args = ap.parse_args()
    if not os.path.exists(WEIR):
        subprocess.run(["cargo", "build", "--release", "-p", "weir"], cwd=ROOT, check=True)
    if not shutil_which("wrk"):
        sys.exit("needs wrk (apt-get install wrk)")
    work = tempfile.mkdtemp(prefix="weir-chaos-")
    cfg = os.path.join(work, "weir.toml")
    with open(cfg, "w") as f:
        f.write('[network]\nbackend_ranges = ["127.0.0.0/8"]\nvip_ranges = ["127.0.3.0/24"]\n'
                'external_backend_ranges = ["127.0.0.0/8"]\n'
                '[dataplane]\nworkers = 1\negress_allow = ["127.0.0.0/8"]\n'
                f'http_response_timeout_ms = {args.response_timeout_ms}\n')
    env = dict(os.environ, WEIR_ADMIN_TOKEN=ADMIN, WEIR_LOG="error")
    proc = subprocess.Popen([WEIR, "serve", "--data-dir", work, "--listen", "127.0.0.1:0",
                             "--config", cfg], stdout=subprocess.PIPE, env=env, text=True)
    try:
        line = ""
        deadline = time.time() + 30
        while "listening on" not in line and time.time() < deadline:
            line = proc.stdout.readline()
        url = re.search(r"(http://\S+)", line).group(1)
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        _, project = api(url, "POST", "/v1/projects", ADMIN, {"name": "chaos"})
        token = project["token"]
        _, vpc = api(url, "POST", "/v1/vpcs", ADMIN, {"project_id": project["id"], "cidr": "10.0.0.0/16"})
        _, subnet = api(url, "POST", "/v1/subnets", ADMIN, {"vpc_id": vpc["id"], "cidr": "10.0.1.0/24"})
        _, lb = api(url, "POST", "/v1/loadbalancers", token, {"subnet_id": subnet["id"]})
        listen_port = free_port()
        status, listener = api(url, "POST", f"/v1/loadbalancers/{lb['id']}/listeners", token,
                               {"protocol": "http", "port": listen_port})
        assert status == 201, listener
        status, pool = api(url, "PATCH", f"/v1/pools/{listener['default_pool_id']}", token, {
            "health_check": {"type": "http", "path": args.health_path, "interval_ms": 500, "timeout_ms": 300,
                             "rise": 2, "fall": 1}})
        assert status == 200, pool
        ports = {}
        ports["healthy"] = free_port()
        serve_ok(ports["healthy"])
        for kind in ("reset", "stall", "halfopen", "garbage"):
            ports[kind] = free_port()
            raw_server(ports[kind], kind)
        ports["flap"] = free_port()
        flapper(ports["flap"])
        status, reply = api(url, "POST", f"/v1/listeners/{listener['id']}/backends", token,
                            {"backends": [{"address": "127.0.0.1", "port": p} for p in ports.values()]})
        assert status == 201, reply
        time.sleep(1.5)
        target = f"http://{lb['vip']}:{listen_port}/"
        out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s",
                              "--timeout", "5s", target], capture_output=True, text=True,
                             timeout=args.duration + 60).stdout
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        errors = sum(int(x) for x in socket_errors.groups()) if socket_errors else 0
        non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
        print(out.strip())
        print(json.dumps({"duration_s": args.duration, "connections": args.connections,
                          "backends": list(ports), "requests": requests, "socket_errors": errors,
                          "non_2xx": non2xx, "failed": errors + non2xx}, indent=1))
    finally:
        STOP.set()
        proc.kill()
        proc.wait()


def shutil_which(name):
    import shutil
    return shutil.which(name)


if __name__ == "__main__":
    main()
