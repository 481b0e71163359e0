#!/usr/bin/env python3
"""HTTPS termination benchmark (issue 15): Weir's `https` listener against
HAProxy and nginx terminating TLS with the same certificates, side by side
in one run on loopback. Reuses bench/dataplane.py's backends, process
handling, wrk runner and CPU accounting.

Each proxy runs one thread/worker (Weir `dataplane.workers = 1`) and
serves two ports: an ECDSA P-256 and an RSA 2048 certificate (self-signed
for bench.example.test by `openssl req`). With `--base BINARY` a second
Weir (another release build, e.g. main before a change) is measured in
the same rounds as `weir-base`. Modes (`--modes`, default all):

  full        full handshakes: `openssl s_time -new`, one `GET /` over
              HTTP/1.0 per connection, no session offered; per key type
              (ecdsa, rsa) and version (TLS 1.3, 1.2, forced by the
              client). `--clients` s_time processes run in parallel.
  resumed     resumed handshakes: `openssl s_time -reuse` (TLS 1.3: a
              ticket, PSK with (EC)DHE; TLS 1.2: the session id or
              ticket, no key exchange), ECDSA; the share of connections
              the client saw resumed is printed.
  keepalive   wrk -t2 -c64 keep-alive over TLS 1.3 (requests, no
              handshakes). With `--pin`, each proxy runs alone on CPU 0
              and wrk and the backends on CPU 1 (where the machine has
              two), so the rate measures the proxy's capacity rather than
              a client and a proxy sharing two cores.
  idle        memory per idle TLS connection: `--idle` connections
              opened (TLS 1.3 handshake done, no request), RSS of the
              proxy's processes before and with them open, divided by the
              count, from the first round only (fresh processes: HAProxy and
              nginx keep their pools afterwards). 9,500 by default: HAProxy reserves two descriptors per
              `maxconn`, so under a hard limit of 20,000 descriptors (this
              machine's, which root cannot raise in its container) it holds
              at most 9,993 connections; give 10000 where the limit allows.

wrk is not used for handshakes: its OpenSSL keeps the session across
reconnects (SSL_clear), so `Connection: close` with wrk measures resumed
TLS 1.3 handshakes, not full ones.

The figure compared is the proxy's CPU per connection in µs (user +
system of its processes from /proc, handshake plus one request), the one
least sensitive to a shared machine; "capacity" is 10^6 / that, the
handshakes per second one fully busy worker would complete. The measured
rate is printed too but, with the load generator on the same two cores,
it is bounded by the client's own handshake work. Rounds alternate which
proxy goes first; medians over rounds.

Needs the Debian packages wrk, haproxy, nginx, libnginx-mod-stream, openssl.
Usage: bench/https.py [--duration 8] [--rounds 3] [--clients 4]
       [--modes full,resumed,keepalive,idle] [--idle 10000] [--base BINARY] [--pin]
       (WEIR_BIN as dataplane.py)
"""
import argparse, asyncio, os, re, resource, ssl, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataplane as dp  # noqa: E402

PORT_WEIR = dp.BASE + 41
PORT_HAPROXY = dp.BASE + 42
PORT_NGINX = dp.BASE + 43
PORT_DIRECT = dp.BASE + 44
# The RSA certificate's ports (Weir's are on its VIP).
PORT_WEIR_RSA = dp.BASE + 45
PORT_HAPROXY_RSA = dp.BASE + 46
PORT_NGINX_RSA = dp.BASE + 47
NAME = "bench.example.test"
KEYS = ("ecdsa", "rsa")
VERSIONS = ("1.3", "1.2")
# Idle connections are held open past every proxy's default head
# timeout (Weir 10 s, HAProxy `timeout client`, nginx 60 s) while 10,000
# are opened: each is given 5 minutes in this bench only.
IDLE_TIMEOUT_S = 300


def certificate(work, kind="ecdsa"):
    key, crt = f"{work}/{kind}-key.pem", f"{work}/{kind}-crt.pem"
    new = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ecdsa" else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509", *new, "-nodes", "-keyout", key, "-out", crt, "-days", "30",
                    "-subj", f"/CN={NAME}", "-addext", f"subjectAltName=DNS:{NAME}"], check=True, capture_output=True)
    both = f"{work}/{kind}-both.pem"
    with open(both, "w") as f:
        f.write(open(crt).read() + open(key).read())
    return crt, key, both


def start_haproxy(procs, work, both, both_rsa=None):
    servers = "\n".join(f"    server b{i + 1} 127.0.0.1:{p}" for i, p in enumerate(dp.BACKENDS))
    rsa = f"    bind 127.0.0.1:{PORT_HAPROXY_RSA} ssl crt {both_rsa} alpn http/1.1\n" if both_rsa else ""
    cfg = f"{work}/haproxy-tls.cfg"
    with open(cfg, "w") as f:
        f.write(f"""global
    nbthread 1
    maxconn 9990
defaults
    mode http
    timeout connect 5s
    timeout client {IDLE_TIMEOUT_S}s
    timeout server 30s
frontend https
    bind 127.0.0.1:{PORT_HAPROXY} ssl crt {both} alpn http/1.1
{rsa}    default_backend web
backend web
    balance roundrobin
    http-reuse always
{servers}
""")
    p = procs.start(["haproxy", "-f", cfg, "-db"])
    dp.wait_port(PORT_HAPROXY)
    return p


def start_nginx(procs, work, crt, key, rsa=None):
    ups = "\n".join(f"server 127.0.0.1:{p};" for p in dp.BACKENDS)
    # nginx 1.22 leaves TLS 1.3 out of its default ssl_protocols.
    proxy = f"""keepalive_requests 1000000; client_header_timeout {IDLE_TIMEOUT_S}s; ssl_protocols TLSv1.2 TLSv1.3;
    location / {{ proxy_pass http://web; proxy_http_version 1.1; proxy_set_header Connection ""; }}"""
    rsa_server = ""
    if rsa:
        rsa_server = f"""server {{ listen 127.0.0.1:{PORT_NGINX_RSA} ssl backlog=4096;
    ssl_certificate {rsa[0]}; ssl_certificate_key {rsa[1]}; {proxy} }}"""
    cfg = dp.nginx_conf(work, f"""
worker_rlimit_nofile 65536;
http {{ access_log off;
  upstream web {{ {ups} keepalive 64; }}
  server {{ listen 127.0.0.1:{PORT_NGINX} ssl backlog=4096;
    ssl_certificate {crt}; ssl_certificate_key {key}; {proxy} }}
  {rsa_server}
  server {{ listen 127.0.0.1:{PORT_DIRECT} ssl backlog=4096; keepalive_requests 1000000; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate {crt}; ssl_certificate_key {key};
    location / {{ return 200 'direct\\n'; }} }}
}}""")
    # 10,000 idle connections: more than dataplane.py's 4096 per worker.
    with open(cfg) as f:
        text = f.read().replace("worker_connections 4096", "worker_connections 30000")
    with open(cfg, "w") as f:
        f.write(text)
    p = procs.start(["nginx", "-c", cfg])
    dp.wait_port(PORT_NGINX)
    dp.wait_port(PORT_DIRECT)
    return p


def start_weir(procs, work, crt, key, rsa=None, binary=None, vip_net="127.0.2.0/24"):
    w = dp.Weir(procs, work, 1, vip_net, binary=binary,
                extra=f"http_head_timeout_ms = {IDLE_TIMEOUT_S * 1000}\n")
    for port, (c, k) in ((PORT_WEIR, (crt, key)), (PORT_WEIR_RSA, rsa)):
        if c is None:
            continue
        status, cert = dp.api(w.url, "POST", "/v1/certificates", w.token,
                              {"name": f"bench-{port}", "certificate": open(c).read(), "private_key": open(k).read()})
        assert status == 201, cert
        status, l = dp.api(w.url, "POST", f"/v1/loadbalancers/{w.lb['id']}/listeners", w.token,
                           {"protocol": "https", "port": port, "certificate_ids": [cert["id"]]})
        assert status == 201, l
        w.register(l["id"], dp.BACKENDS)
        dp.wait_port(port, w.vip)
    return w


def s_time(host, port, seconds, version, reuse, clients, pid):
    """`clients` parallel `openssl s_time` runs for `seconds`: connections
    completed, the share the client saw resumed, wall-clock rate and the
    proxy's CPU per connection in µs."""
    args = ["openssl", "s_time", "-connect", f"{host}:{port}", "-www", "/", "-time", str(seconds),
            "-reuse" if reuse else "-new", "-tls1_3" if version == "1.3" else "-tls1_2"]
    cpu0, t0 = dp.cpu_seconds(pid), time.time()
    runs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for _ in range(clients)]
    outs = [p.communicate(timeout=seconds + 60)[0] for p in runs]
    wall, cpu = time.time() - t0, dp.cpu_seconds(pid) - cpu0
    total, resumed, failed = 0, 0, 0
    for out in outs:
        m = re.search(r"(\d+) connections in [\d.]+ real seconds", out)
        total += int(m.group(1)) if m else 0
        failed += 0 if m else 1
        # s_time prints one character per connection: `r` when resumed.
        progress = "".join(line for line in out.splitlines() if re.fullmatch(r"[*r123t]+", line))
        resumed += progress.count("r")
    return {"hs": total / wall, "cpu_us": cpu * 1e6 / total if total else None,
            "resumed": resumed / total if total else 0.0, "errors": failed}


def rss_kib(pid):
    """Resident memory of a process and its descendants (nginx's worker)."""
    total = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            total = int(next(l for l in f if l.startswith("VmRSS")).split()[1])
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                total += sum(rss_kib(int(c)) for c in f.read().split())
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        pass
    return total


async def hold_idle(host, port, count, pid):
    """Opens `count` TLS connections (handshake done, nothing sent), reads
    the proxy's RSS with all of them open, then closes them. Bounded: 64
    handshakes in flight, 10 s each, 120 s in all."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    gate = asyncio.Semaphore(64)
    writers = []

    async def one():
        async with gate:
            _, w = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=ctx, server_hostname=NAME), 10)
            writers.append(w)

    before = rss_kib(pid)
    results = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(count)), return_exceptions=True), 120)
    await asyncio.sleep(1)
    # Still open: a connection the proxy closed would read EOF.
    alive = sum(1 for w in writers if not w.transport.is_closing())
    after = rss_kib(pid)
    for w in writers:
        w.close()
    await asyncio.sleep(1)
    return {"open": alive, "errors": sum(1 for r in results if isinstance(r, Exception)),
            "kib_per_conn": (after - before) / alive if alive else None, "before_mib": before / 1024,
            "after_mib": after / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--modes", default="full,resumed,keepalive,idle")
    ap.add_argument("--idle", type=int, default=9500)
    ap.add_argument("--base", help="another weir binary, measured as weir-base")
    ap.add_argument("--pin", action="store_true",
                    help="keepalive: the proxy on CPU 0, wrk and the backends on CPU 1")
    args = ap.parse_args()
    modes = args.modes.split(",")
    if not os.path.exists(dp.WEIR):
        subprocess.run(["cargo", "build", "--release", "-p", "weir"], cwd=dp.ROOT, check=True)
    # 10,000 idle connections need descriptors in the client and in each
    # proxy (started below, they inherit the limit).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 2 * args.idle + 100:
        sys.exit(f"the descriptor limit {hard} is too low for --idle {args.idle}")
    work = tempfile.mkdtemp(prefix="weir-https-")
    procs = dp.Procs()
    try:
        backends = procs.start(["nginx", "-c", dp.backends_conf(work)])
        for p in dp.BACKENDS:
            dp.wait_port(p)
        crt, key, both = certificate(work)
        rcrt, rkey, rboth = certificate(work, "rsa")
        proxies = []
        w = start_weir(procs, work, crt, key, (rcrt, rkey))
        proxies.append(("weir", w.vip, {"ecdsa": PORT_WEIR, "rsa": PORT_WEIR_RSA}, w.proc.pid))
        if args.base:
            b = start_weir(procs, work, crt, key, (rcrt, rkey), binary=args.base, vip_net="127.0.3.0/24")
            proxies.append(("weir-base", b.vip, {"ecdsa": PORT_WEIR, "rsa": PORT_WEIR_RSA}, b.proc.pid))
        haproxy = start_haproxy(procs, work, both, rboth)
        proxies.append(("haproxy", "127.0.0.1", {"ecdsa": PORT_HAPROXY, "rsa": PORT_HAPROXY_RSA}, haproxy.pid))
        nginx = start_nginx(procs, work, crt, key, (rcrt, rkey))
        # nginx's pid is its master; dp.cpu_seconds and rss_kib add its worker.
        proxies.append(("nginx", "127.0.0.1", {"ecdsa": PORT_NGINX, "rsa": PORT_NGINX_RSA}, nginx.pid))
        names = [p[0] for p in proxies]
        cases = []
        if "full" in modes:
            cases += [("full", k, v) for k in KEYS for v in VERSIONS]
        if "resumed" in modes:
            cases += [("resumed", "ecdsa", v) for v in VERSIONS]
        if "keepalive" in modes:
            cases.append(("keepalive", "ecdsa", "1.3"))
        if "idle" in modes:
            cases.append(("idle", "ecdsa", "1.3"))
        results = {}
        for r in range(args.rounds):
            # Alternate which proxy goes first.
            order = proxies[r % len(proxies):] + proxies[:r % len(proxies)]
            for case in cases:
                mode, k, v = case
                for name, host, ports, pid in order:
                    port = ports[k]
                    if mode in ("full", "resumed"):
                        res = s_time(host, port, args.duration, v, mode == "resumed", args.clients, pid)
                        line = (f"{res['hs']:>8.0f} hs/s  cpu/conn {res['cpu_us'] or 0:7.1f} µs  "
                                f"resumed {res['resumed']:.0%}  errors {res['errors']}")
                    elif mode == "keepalive":
                        if args.pin:
                            # The proxy alone on CPU 0; the load and the
                            # backends on CPU 1; everything back after.
                            dp.pin(pid, "0")
                            dp.pin(backends.pid, "1")
                        res = dp.wrk(f"https://{host}:{port}/", args.duration, pid=pid,
                                     cpus="1" if args.pin else None)
                        if args.pin:
                            dp.pin(pid, "0-1")
                            dp.pin(backends.pid, "0-1")
                        line = f"{res['rps']:>8.0f} req/s  cpu/req {res['cpu_us']:7.1f} µs  p99 {res['p99']} ms  errors {res['errors']}"
                    else:
                        res = asyncio.run(hold_idle(host, port, args.idle, pid))
                        line = (f"{res['open']} open, {res['kib_per_conn'] or 0:.1f} KiB/conn "
                                f"({res['before_mib']:.1f} → {res['after_mib']:.1f} MiB)  errors {res['errors']}")
                    results.setdefault((case, name), []).append(res)
                    print(f"round {r + 1} {mode:9} {k:5} TLS {v} {name:9} {line}", flush=True)
        report(results, cases, names, args.rounds)
    finally:
        procs.stop_all()


def report(results, cases, names, rounds):
    load = os.getloadavg()
    print(f"\nmedians over {rounds} rounds (load average now {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    for case in cases:
        mode, k, v = case
        key = {"full": "cpu_us", "resumed": "cpu_us", "keepalive": "cpu_us", "idle": "kib_per_conn"}[mode]
        med = {}
        for name in names:
            runs = results[(case, name)]
            if mode == "idle":
                # Only a fresh process's growth counts: HAProxy and nginx
                # keep their pools after the first round's connections
                # close, and grow by nothing in the next.
                runs = runs[:1]
            vals = sorted(x[key] for x in runs if x[key] is not None)
            med[name] = statistics.median(vals) if vals else None
            rate = ""
            if mode in ("full", "resumed") and med[name]:
                rate = (f"  capacity {1e6 / med[name]:7.0f} hs/s  measured "
                        f"{statistics.median(x['hs'] for x in runs):6.0f} hs/s  "
                        f"resumed {statistics.median(x['resumed'] for x in runs):.0%}")
            elif mode == "keepalive":
                rate = f"  {statistics.median(x['rps'] for x in runs):8.0f} req/s"
            unit = "KiB/conn" if mode == "idle" else "µs/conn" if mode != "keepalive" else "µs/req"
            spread = " ".join(f"{x:.1f}" for x in vals)
            errors = sum(x["errors"] for x in runs)
            print(f"{mode:9} {k:5} TLS {v} {name:9} {med[name] or 0:7.1f} {unit} [{spread}]{rate}  errors {errors}")
        if med.get("weir"):
            ratios = ", ".join(f"{other} {med[other] / med['weir']:.2f}x" for other in names
                               if other != "weir" and med.get(other))
            print(f"{'':9} {'':5}     {'':3} weir's advantage (other's cost / weir's): {ratios}")


if __name__ == "__main__":
    main()
