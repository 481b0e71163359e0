#!/usr/bin/env python3
"""Soak (issue 14): constant churn and traffic for --minutes (default 30),
sampling `weir serve`'s resident memory and open file descriptors once a
minute; the verdict is whether they stay flat from start to end.

Churn: every --churn-ms a backend is registered on, or deregistered from,
an HTTP and a TCP listener (the pools hold the 4 fixed backends plus 0 to 16 spares, all serving), and
every 5 minutes the load balancer is stopped and started (every listener
closes and binds again; requests failing in that instant are counted). Traffic: client threads on loopback, half keep-alive
and half a new connection per request, each paced (bounded rate), through
both listeners to small local backends. Errors are counted, not fatal.

Usage: scripts/soak.py [--minutes 30] [--clients 4] [--churn-ms 100]
       WEIR_BIN=path (default target/release/weir, built if missing)
Prints one JSON line per sample and a summary at the end.
"""
import argparse, http.client, json, os, random, re, socket, subprocess, sys, tempfile
import threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIR = os.environ.get("WEIR_BIN", os.path.join(ROOT, "target/release/weir"))
ADMIN = "soak-admin"
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


class Quiet(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port, token, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else None)
    finally:
        conn.close()


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = int(next(l for l in f if l.startswith("VmRSS")).split()[1])
    return {"rss_kib": rss, "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--churn-ms", type=int, default=100)
    ap.add_argument("--new-connections-per-s", type=float, default=40,
                    help="pace of each client that opens a connection per request: "
                         "every closed connection holds a local port in TIME_WAIT for 60 s, and "
                         "too fast a pace runs the host out of ports (EADDRNOTAVAIL), which "
                         "would be counted against Weir")
    args = ap.parse_args()
    if not os.path.exists(WEIR):
        subprocess.run(["cargo", "build", "--release", "-p", "weir"], cwd=ROOT, check=True)
    backends = [free_port() for _ in range(4)]
    spares = [free_port() for _ in range(16)]
    for p in backends + spares:
        server = Quiet(("127.0.0.1", p), Ok)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    work = tempfile.mkdtemp(prefix="weir-soak-")
    cfg = os.path.join(work, "weir.toml")
    with open(cfg, "w") as f:
        f.write('[network]\nbackend_ranges = ["127.0.0.0/8"]\nvip_ranges = ["127.0.4.0/24"]\n'
                'external_backend_ranges = ["127.0.0.0/8"]\n'
                '[dataplane]\nworkers = 1\negress_allow = ["127.0.0.0/8"]\n')
    env = dict(os.environ, WEIR_ADMIN_TOKEN=ADMIN, WEIR_LOG="error")
    proc = subprocess.Popen([WEIR, "serve", "--data-dir", work, "--listen", "127.0.0.1:0",
                             "--config", cfg], stdout=subprocess.PIPE, env=env, text=True)
    line = ""
    deadline = time.time() + 30
    while "listening on" not in line and time.time() < deadline:
        line = proc.stdout.readline()
    port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    _, project = api(port, ADMIN, "POST", "/v1/projects", {"name": "soak"})
    token = project["token"]
    _, vpc = api(port, ADMIN, "POST", "/v1/vpcs", {"project_id": project["id"], "cidr": "10.0.0.0/16"})
    _, subnet = api(port, ADMIN, "POST", "/v1/subnets", {"vpc_id": vpc["id"], "cidr": "10.0.1.0/24"})
    _, lb = api(port, token, "POST", "/v1/loadbalancers", {"subnet_id": subnet["id"]})
    vip = lb["vip"]
    ports = {"http": free_port(), "tcp": free_port()}
    listeners = {}
    for proto, lport in ports.items():
        status, li = api(port, token, "POST", f"/v1/loadbalancers/{lb['id']}/listeners",
                         {"protocol": proto, "port": lport})
        assert status == 201, li
        listeners[proto] = li["id"]
        status, reply = api(port, token, "POST", f"/v1/listeners/{li['id']}/backends",
                            {"backends": [{"address": "127.0.0.1", "port": p} for p in backends]})
        assert status == 201, reply
    counts = {"requests": 0, "errors": 0, "changes": 0, "change_errors": 0}
    # What failed, by kind: the status, or the exception and errno.
    error_kinds = {}
    lock = threading.Lock()

    def client(keepalive, proto):
        conn = None
        while not STOP.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(vip, ports[proto], timeout=10)
                conn.request("GET", "/", headers={} if keepalive else {"Connection": "close"})
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
                kind = None if ok else f"status {resp.status}"
                if not keepalive or resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                ok = False
                kind = f"{type(e).__name__} {getattr(e, 'errno', '') or ''}".strip()
                if conn:
                    conn.close()
                conn = None
            with lock:
                counts["requests"] += 1
                counts["errors"] += not ok
                if kind:
                    error_kinds[kind] = error_kinds.get(kind, 0) + 1
            STOP.wait(0.005 if keepalive else 1 / args.new_connections_per_s)

    def churn():
        # Spare backends (serving too) are registered and removed; the
        # four first ones stay, so a pool is never empty.
        extra = {proto: {} for proto in listeners}
        last_listener = time.time()
        while not STOP.is_set():
            proto = random.choice(list(listeners))
            try:
                free = [p for p in spares if p not in extra[proto]]
                if extra[proto] and (not free or random.random() < 0.5):
                    spare = random.choice(list(extra[proto]))
                    status, _ = api(port, token, "DELETE", f"/v1/backends/{extra[proto].pop(spare)}")
                else:
                    spare = random.choice(free)
                    status, reply = api(port, token, "POST", f"/v1/listeners/{listeners[proto]}/backends",
                                        {"backends": [{"address": "127.0.0.1", "port": spare}]})
                    if status == 201:
                        extra[proto][spare] = reply["backends"][0]["id"]
                ok = status in (200, 201, 202, 204)
                if time.time() - last_listener > 300:
                    # Every five minutes the whole load balancer stops and
                    # starts: every listener closes and binds again.
                    last_listener = time.time()
                    s2, _ = api(port, token, "POST", f"/v1/loadbalancers/{lb['id']}/stop")
                    s3, _ = api(port, token, "POST", f"/v1/loadbalancers/{lb['id']}/start")
                    ok = ok and s2 == 200 and s3 == 200
            except (OSError, http.client.HTTPException):
                ok = False
            with lock:
                counts["changes"] += 1
                counts["change_errors"] += not ok
            STOP.wait(args.churn_ms / 1000)

    threads = [threading.Thread(target=client, args=(i % 2 == 0, "http" if i % 4 < 2 else "tcp"))
               for i in range(args.clients)]
    threads.append(threading.Thread(target=churn))
    for t in threads:
        t.start()
    time.sleep(5)  # warm: pools, idle connections, allocator arenas
    start = sample(proc.pid)
    samples = [start]
    print(json.dumps({"minute": 0, **start, **counts}), flush=True)
    began = time.time()
    end = began + args.minutes * 60
    while time.time() < end:
        time.sleep(min(60, max(0, end - time.time())))
        s = sample(proc.pid)
        samples.append(s)
        with lock:
            print(json.dumps({"minute": round((time.time() - began) / 60, 1), **s, **counts,
                              "error_kinds": dict(error_kinds)}), flush=True)
    STOP.set()
    for t in threads:
        t.join(timeout=15)
    final = samples[-1]
    proc.kill()
    print(json.dumps({"summary": True, "minutes": args.minutes,
                      "rss_kib_start": start["rss_kib"], "rss_kib_end": final["rss_kib"],
                      "rss_kib_max": max(s["rss_kib"] for s in samples),
                      "fds_start": start["fds"], "fds_end": final["fds"],
                      "fds_max": max(s["fds"] for s in samples), **counts,
                      "error_kinds": error_kinds}))


if __name__ == "__main__":
    main()
