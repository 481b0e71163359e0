#!/usr/bin/env python3
"""HTTP/2 termination benchmark (issue 15): h2load against Weir's `https`
listener (ALPN h2), HAProxy and nginx terminating TLS + HTTP/2 with the
same certificate in front of the same HTTP/1.1 backends, side by side in
one run on loopback, plus nginx answering over TLS + HTTP/2 itself (no
proxy) as the direct baseline; then h2c (prior knowledge, no TLS) for
Weir and HAProxy, and a WebSocket echo round-trip comparison (Weir and
nginx tunnelling to one echo server, and the echo server directly).

Certificate: ECDSA P-256, self-signed (bench/https.py's). Each proxy runs
one thread/worker (Weir `dataplane.workers = 1`). Load: h2load -t1
-c{--clients} -m{--streams} (concurrent streams per connection) for
--duration seconds after a 2 s warm-up. Reported: requests/s and the
proxy's CPU per request in µs (user + system of the process, nginx's
worker included), the figure least sensitive to the shared machine.
WebSocket: one client, --ws-messages 64-byte messages sent one at a
time, each waiting for its echo (round trips per second, CPU per round
trip).

Needs the Debian packages nghttp2-client (h2load), haproxy, nginx and
openssl; the WebSocket client and echo server are written here on plain
sockets.
Usage: bench/h2.py [--duration 10] [--rounds 3] [--clients 8] [--streams 64]
       (WEIR_BIN as bench/dataplane.py)
"""
import argparse, base64, hashlib, os, re, socket, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataplane as dp  # noqa: E402
import https  # noqa: E402

PORT_WEIR = dp.BASE + 51
PORT_HAPROXY = dp.BASE + 52
PORT_NGINX = dp.BASE + 53
PORT_DIRECT = dp.BASE + 54
PORT_WEIR_H2C = dp.BASE + 55
PORT_HAPROXY_H2C = dp.BASE + 56
PORT_ECHO = dp.BASE + 57
PORT_WEIR_WS = dp.BASE + 58
PORT_NGINX_WS = dp.BASE + 59


def h2load(url, duration, clients, streams, pid=None):
    args = ["h2load", "-t1", f"-c{clients}", f"-m{streams}"]
    subprocess.run(args + ["-D2", url], capture_output=True, timeout=60)  # warm-up
    cpu0 = dp.cpu_seconds(pid)
    out = subprocess.run(args + [f"-D{duration}", url], capture_output=True, text=True,
                         timeout=duration + 60).stdout
    cpu = dp.cpu_seconds(pid) - cpu0
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
    m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    done, ok = int(m.group(2)), int(m.group(3))
    status = re.search(r"status codes: (\d+) 2xx", out)
    errors = (done - ok) + (done - int(status.group(1)) if status else 0)
    proto = re.search(r"Application protocol: (\S+)", out)
    cpu_us = cpu * 1e6 / done if pid is not None and done else None
    return {"rps": rps, "errors": errors, "cpu_us": cpu_us, "proto": proto.group(1) if proto else "?"}


def start_haproxy(procs, work, both):
    servers = "\n".join(f"    server b{i + 1} 127.0.0.1:{p}" for i, p in enumerate(dp.BACKENDS))
    cfg = f"{work}/haproxy-h2.cfg"
    with open(cfg, "w") as f:
        f.write(f"""global
    nbthread 1
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout tunnel 60s
frontend https
    bind 127.0.0.1:{PORT_HAPROXY} ssl crt {both} alpn h2,http/1.1
    bind 127.0.0.1:{PORT_HAPROXY_H2C} proto h2
    default_backend web
backend web
    balance roundrobin
    http-reuse always
{servers}
""")
    p = procs.start(["haproxy", "-f", cfg, "-db"])
    dp.wait_port(PORT_HAPROXY)
    return p


def start_nginx(procs, work, crt, key):
    ups = "\n".join(f"server 127.0.0.1:{p};" for p in dp.BACKENDS)
    cfg = dp.nginx_conf(work, f"""
http {{ access_log off;
  upstream web {{ {ups} keepalive 64; }}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{ listen 127.0.0.1:{PORT_NGINX} ssl http2 backlog=4096; keepalive_requests 1000000;
    http2_max_concurrent_streams 128;
    ssl_certificate {crt}; ssl_certificate_key {key};
    location / {{ proxy_pass http://web; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}
  server {{ listen 127.0.0.1:{PORT_DIRECT} ssl http2 backlog=4096; keepalive_requests 1000000;
    http2_max_concurrent_streams 128;
    ssl_certificate {crt}; ssl_certificate_key {key};
    location / {{ return 200 'direct\\n'; }} }}
  server {{ listen 127.0.0.1:{PORT_NGINX_WS};
    location / {{ proxy_pass http://127.0.0.1:{PORT_ECHO}; proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 60s; }} }}
}}""")
    p = procs.start(["nginx", "-c", cfg])
    for port in (PORT_NGINX, PORT_DIRECT, PORT_NGINX_WS):
        dp.wait_port(port)
    return p


def start_weir(procs, work, crt, key):
    w = dp.Weir(procs, work, 1, "127.0.2.0/24")
    status, cert = dp.api(w.url, "POST", "/v1/certificates", w.token,
                          {"name": "bench", "certificate": open(crt).read(), "private_key": open(key).read()})
    assert status == 201, cert
    status, l = dp.api(w.url, "POST", f"/v1/loadbalancers/{w.lb['id']}/listeners", w.token,
                       {"protocol": "https", "port": PORT_WEIR, "certificate_ids": [cert["id"]]})
    assert status == 201, l
    w.register(l["id"], dp.BACKENDS)
    dp.wait_port(PORT_WEIR, w.vip)
    w.listener("http", PORT_WEIR_H2C, dp.BACKENDS)
    w.listener("http", PORT_WEIR_WS, [PORT_ECHO])
    return w


# --- WebSocket: a minimal RFC 6455 echo server and client on sockets ----

def ws_echo_server(stop):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", PORT_ECHO))
    srv.listen(64)
    srv.settimeout(0.5)

    def serve(conn):
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            key = re.search(rb"(?i)sec-websocket-key:\s*(\S+)", head).group(1)
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            f = conn.makefile("rb")
            while True:
                hdr = f.read(2)
                if len(hdr) < 2:
                    return
                n = hdr[1] & 0x7F
                if n == 126:
                    n = int.from_bytes(f.read(2), "big")
                mask = f.read(4)
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(f.read(n)))
                if hdr[0] & 0x0F == 8:
                    return
                conn.sendall(bytes([hdr[0], len(data)]) + data)

    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    srv.close()


def ws_round_trips(host, port, messages, pid=None):
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
              b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    payload = b"x" * 64
    mask = b"\x01\x02\x03\x04"
    frame = bytes([0x82, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    cpu0 = dp.cpu_seconds(pid)
    t0 = time.time()
    for _ in range(messages):
        s.sendall(frame)
        got = b""
        while len(got) < 2 + len(payload):
            chunk = s.recv(4096)
            assert chunk, "closed mid-echo"
            got += chunk
    elapsed = time.time() - t0
    cpu = dp.cpu_seconds(pid) - cpu0
    s.close()
    return {"rps": messages / elapsed, "cpu_us": cpu * 1e6 / messages if pid else None}


def report(title, results, targets, baseline=("haproxy", "nginx")):
    print(f"\n{title}: medians over rounds")
    med = {}
    for name, _, pid in targets:
        runs = results[name]
        med[name] = {
            "rps": statistics.median(x["rps"] for x in runs),
            "cpu": statistics.median(x["cpu_us"] for x in runs) if pid else None,
            "errors": sum(x.get("errors", 0) for x in runs),
        }
    for name, m in med.items():
        ratios = ""
        if name == "weir":
            parts = [f"req/s vs {b} {m['rps'] / med[b]['rps']:.2f}x" for b in baseline if b in med]
            parts += [f"CPU/req vs {b} {m['cpu'] / med[b]['cpu']:.2f}x" for b in baseline
                      if b in med and med[b]["cpu"] and m["cpu"]]
            ratios = "  " + ", ".join(parts)
        cpu = f"{m['cpu']:.1f} µs" if m["cpu"] else "-"
        print(f"{name:8} {m['rps']:>9.0f}/s  cpu {cpu:>9}  errors {m['errors']}{ratios}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--streams", type=int, default=64)
    ap.add_argument("--ws-messages", type=int, default=20000)
    args = ap.parse_args()
    if not os.path.exists(dp.WEIR):
        subprocess.run(["cargo", "build", "--release", "-p", "weir"], cwd=dp.ROOT, check=True)
    work = tempfile.mkdtemp(prefix="weir-h2-")
    procs = dp.Procs()
    stop = threading.Event()
    threading.Thread(target=ws_echo_server, args=(stop,), daemon=True).start()
    try:
        procs.start(["nginx", "-c", dp.backends_conf(work)])
        for p in dp.BACKENDS:
            dp.wait_port(p)
        dp.wait_port(PORT_ECHO)
        crt, key, both = https.certificate(work)
        w = start_weir(procs, work, crt, key)
        haproxy = start_haproxy(procs, work, both)
        nginx = start_nginx(procs, work, crt, key)
        tls = [
            ("weir", f"https://{w.vip}:{PORT_WEIR}/", w.proc.pid),
            ("haproxy", f"https://127.0.0.1:{PORT_HAPROXY}/", haproxy.pid),
            ("nginx", f"https://127.0.0.1:{PORT_NGINX}/", nginx.pid),
            ("direct", f"https://127.0.0.1:{PORT_DIRECT}/", None),
        ]
        h2c = [
            ("weir", f"http://{w.vip}:{PORT_WEIR_H2C}/", w.proc.pid),
            ("haproxy", f"http://127.0.0.1:{PORT_HAPROXY_H2C}/", haproxy.pid),
        ]
        ws = [
            ("weir", (w.vip, PORT_WEIR_WS), w.proc.pid),
            ("nginx", ("127.0.0.1", PORT_NGINX_WS), nginx.pid),
            ("direct", ("127.0.0.1", PORT_ECHO), None),
        ]
        results = {"tls": {}, "h2c": {}, "ws": {}}
        for r in range(args.rounds):
            for kind, targets in (("tls", tls), ("h2c", h2c)):
                for name, url, pid in targets:
                    res = h2load(url, args.duration, args.clients, args.streams, pid=pid)
                    results[kind].setdefault(name, []).append(res)
                    cpu = res["cpu_us"] and round(res["cpu_us"], 1)
                    print(f"round {r + 1} {kind:4} {name:8} {res['rps']:>9.0f} req/s {res['proto']:3} "
                          f"errors {res['errors']} cpu/req {cpu} µs", flush=True)
            for name, (host, port), pid in ws:
                res = ws_round_trips(host, port, args.ws_messages, pid=pid)
                results["ws"].setdefault(name, []).append(res)
                cpu = res["cpu_us"] and round(res["cpu_us"], 1)
                print(f"round {r + 1} ws   {name:8} {res['rps']:>9.0f} round trips/s cpu/rt {cpu} µs", flush=True)
        report(f"TLS + HTTP/2 (h2load -t1 -c{args.clients} -m{args.streams})", results["tls"], tls)
        report("h2c prior knowledge", results["h2c"], h2c, baseline=("haproxy",))
        report("WebSocket echo, one client, 64-byte messages", results["ws"], ws, baseline=("nginx",))
    finally:
        stop.set()
        procs.stop_all()


if __name__ == "__main__":
    main()
