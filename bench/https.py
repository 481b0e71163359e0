#!/usr/bin/env python3
"""HTTPS termination benchmark (issue 15): Weir's `https` listener against
HAProxy and nginx terminating TLS with the same certificate, side by side
in one run on loopback, plus nginx serving TLS itself (no proxy) as the
direct baseline. Reuses bench/dataplane.py's backends, process handling,
wrk runner and CPU accounting.

Certificate: ECDSA P-256, self-signed for bench.example.test (openssl);
TLS 1.3 as wrk's OpenSSL and all three servers negotiate it. Each proxy
runs one thread/worker (Weir `dataplane.workers = 1`). Load: wrk -t2 -c64
for --duration seconds after a 2 s warm-up, keep-alive, then `Connection:
close` (a full handshake per request: wrk resumes no sessions). Reported:
requests/s, p50/p99, and the proxy's CPU per request in µs (user + system
of the process), the figure least sensitive to the shared machine.

Needs the Debian packages wrk, haproxy, nginx, libnginx-mod-stream, openssl.
Usage: bench/https.py [--duration 10] [--rounds 3]   (WEIR_BIN as dataplane.py)
"""
import argparse, os, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataplane as dp  # noqa: E402

PORT_WEIR = dp.BASE + 41
PORT_HAPROXY = dp.BASE + 42
PORT_NGINX = dp.BASE + 43
PORT_DIRECT = dp.BASE + 44
NAME = "bench.example.test"


def certificate(work):
    key, crt = f"{work}/key.pem", f"{work}/crt.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "30", "-subj", f"/CN={NAME}",
                    "-addext", f"subjectAltName=DNS:{NAME}"], check=True, capture_output=True)
    both = f"{work}/both.pem"
    with open(both, "w") as f:
        f.write(open(crt).read() + open(key).read())
    return crt, key, both


def start_haproxy(procs, work, both):
    servers = "\n".join(f"    server b{i + 1} 127.0.0.1:{p}" for i, p in enumerate(dp.BACKENDS))
    cfg = f"{work}/haproxy-tls.cfg"
    with open(cfg, "w") as f:
        f.write(f"""global
    nbthread 1
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend https
    bind 127.0.0.1:{PORT_HAPROXY} ssl crt {both} alpn http/1.1
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
  server {{ listen 127.0.0.1:{PORT_NGINX} ssl backlog=4096; keepalive_requests 1000000;
    ssl_certificate {crt}; ssl_certificate_key {key};
    location / {{ proxy_pass http://web; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}
  server {{ listen 127.0.0.1:{PORT_DIRECT} ssl backlog=4096; keepalive_requests 1000000;
    ssl_certificate {crt}; ssl_certificate_key {key};
    location / {{ return 200 'direct\\n'; }} }}
}}""")
    p = procs.start(["nginx", "-c", cfg])
    dp.wait_port(PORT_NGINX)
    dp.wait_port(PORT_DIRECT)
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
    return w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not os.path.exists(dp.WEIR):
        subprocess.run(["cargo", "build", "--release", "-p", "weir"], cwd=dp.ROOT, check=True)
    work = tempfile.mkdtemp(prefix="weir-https-")
    procs = dp.Procs()
    try:
        procs.start(["nginx", "-c", dp.backends_conf(work)])
        for p in dp.BACKENDS:
            dp.wait_port(p)
        crt, key, both = certificate(work)
        w = start_weir(procs, work, crt, key)
        haproxy = start_haproxy(procs, work, both)
        nginx = start_nginx(procs, work, crt, key)
        targets = [
            ("weir", f"https://{w.vip}:{PORT_WEIR}/", w.proc.pid),
            ("haproxy", f"https://127.0.0.1:{PORT_HAPROXY}/", haproxy.pid),
            ("nginx", f"https://127.0.0.1:{PORT_NGINX}/", nginx.pid),
            ("direct", f"https://127.0.0.1:{PORT_DIRECT}/", None),
        ]
        results = {}
        for r in range(args.rounds):
            for mode, close in (("keep-alive", False), ("new-connection", True)):
                for name, url, pid in targets:
                    # nginx's pid is its master; dp.cpu_seconds adds its worker.
                    res = dp.wrk(url, args.duration, close=close, pid=pid)
                    results.setdefault((mode, name), []).append(res)
                    print(f"round {r + 1} {mode:14} {name:8} {res['rps']:>9.0f} req/s "
                          f"p50 {res['p50']} p99 {res['p99']} errors {res['errors']} "
                          f"cpu/req {res['cpu_us'] and round(res['cpu_us'], 1)} µs", flush=True)
        print("\nmedians over rounds")
        for mode in ("keep-alive", "new-connection"):
            med = {}
            for name, _, pid in targets:
                runs = results[(mode, name)]
                med[name] = {
                    "rps": statistics.median(x["rps"] for x in runs),
                    "cpu": statistics.median(x["cpu_us"] for x in runs) if pid else None,
                    "errors": sum(x["errors"] for x in runs),
                }
            for name in med:
                m = med[name]
                ratios = ""
                if m["cpu"] and name == "weir":
                    ratios = "  CPU/req vs haproxy {:.2f}x, vs nginx {:.2f}x".format(
                        m["cpu"] / med["haproxy"]["cpu"], m["cpu"] / med["nginx"]["cpu"])
                cpu = f"{m['cpu']:.1f} µs" if m["cpu"] else "-"
                print(f"{mode:14} {name:8} {m['rps']:>9.0f} req/s  cpu/req {cpu:>9}  errors {m['errors']}{ratios}")
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
