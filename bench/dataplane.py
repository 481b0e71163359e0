#!/usr/bin/env python3
"""Data-plane benchmark: Weir against HAProxy, nginx and a direct connection,
side by side in one run on loopback (see docs/BENCHMARKS.md).

Backends: one nginx worker serving three ports with a small static body.
Proxies: HAProxy 2.6 (nbthread 1), nginx 1.22 (worker_processes 1, upstream
keepalive 64), Weir (dataplane.workers 1, then 2), each in HTTP (L7) and
TCP (L4) mode. Load: wrk -t2 -c64 for --duration seconds after a 2 s warm-up
(keep-alive, then `Connection: close` for new connections); bulk: iperf3, one
stream. Also measured for Weir: registration -> first request and
deregistration -> no new requests through the API, client errors while
backends change under load, and resident memory with 1,000 listeners and
10,000 backends. Everything binds 127.x; every loop is bounded.

Needs the Debian packages wrk, haproxy, nginx, libnginx-mod-stream, iperf3.
Usage: bench/dataplane.py [--duration 10] [--rounds 3] [--only weir-w1,haproxy]
       bench/dataplane.py --cross-node postgres://...  (registration on one
       node -> traffic through another, both on that database)
       bench/dataplane.py --https [bench/https.py's options]  (TLS: full and
       resumed handshakes, keep-alive, idle memory; see bench/https.py)
       bench/dataplane.py --h2 [bench/h2.py's options]  (HTTP/2 over 64
       streams with h2load, WebSocket; see bench/h2.py)
"""
import argparse, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# WEIR_BIN: a release binary built elsewhere (another worktree, an older
# commit); without it the script builds this tree's.
WEIR = os.environ.get("WEIR_BIN") or os.path.join(ROOT, "target/release/weir")
BASE = 19200  # port block used by this script
BACKENDS = [BASE + 1, BASE + 2, BASE + 3]
IPERF = BASE + 11
ADMIN = "bench-admin"


def free(port, host="127.0.0.1"):
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


def wait_port(port, host="127.0.0.1", limit=10):
    deadline = time.time() + limit
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"{host}:{port} never opened")


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, args, **kw):
        p = subprocess.Popen(args, stdout=kw.pop("stdout", subprocess.DEVNULL), stderr=subprocess.DEVNULL, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p):
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        p.wait(timeout=10)
        self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)


def nginx_conf(work, body):
    os.makedirs(f"{work}/nginx", exist_ok=True)
    path = f"{work}/nginx/{abs(hash(body))}.conf"
    with open(path, "w") as f:
        f.write(f"""load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
daemon off;
pid {path}.pid;
error_log /dev/null crit;
events {{ worker_connections 4096; }}
{body}
""")
    return path


def backends_conf(work):
    servers = "\n".join(
        f"server {{ listen 127.0.0.1:{p} reuseport backlog=4096; keepalive_requests 1000000; location / {{ return 200 'backend{i + 1}\\n'; }} }}"
        for i, p in enumerate(BACKENDS))
    return nginx_conf(work, f"http {{ access_log off; {servers} }}")


def process_tree(pid):
    """A process and its descendants (nginx's worker, Weir's guard)."""
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for c in f.read().split():
                    out += process_tree(int(c))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def pin(pid, cpus):
    """Every thread of a process and its descendants on `cpus` only."""
    for p in process_tree(pid):
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(p)], capture_output=True)


def cpu_seconds(pid):
    """User + system CPU of a process and its descendants (nginx's worker)."""
    if pid is None:
        return 0.0
    total = 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                total += sum(cpu_seconds(int(c)) for c in f.read().split())
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def wrk(url, duration, close=False, pid=None, cpus=None):
    """One wrk run; with `pid`, also the proxy's CPU per request in µs, a
    figure far less sensitive to the shared machine's noise than req/s.
    `cpus` (e.g. "1") runs wrk on those CPUs only."""
    args = (["taskset", "-c", cpus] if cpus else []) + ["wrk", "-t2", "-c64", "--latency"] + (["-H", "Connection: close"] if close else [])
    subprocess.run(args + ["-d2s", url], capture_output=True, timeout=60)  # warm-up
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(args + [f"-d{duration}s", url], capture_output=True, text=True, timeout=duration + 60).stdout
    cpu = cpu_seconds(pid) - cpu0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {k: v for k, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m.group(1)) if m else 0
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    cpu_us = cpu * 1e6 / requests if pid is not None and requests else None
    return {"rps": rps, "p50": ms(lat.get("50")), "p99": ms(lat.get("99")), "errors": errors, "cpu_us": cpu_us}


def ms(text):
    if not text:
        return None
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


def iperf(port, host="127.0.0.1", duration=10, pid=None):
    """Gbit/s of one iperf3 stream, and the share of a core the proxy used."""
    cpu0, t0 = cpu_seconds(pid), time.time()
    out = subprocess.run(["iperf3", "-c", host, "-p", str(port), "-t", str(duration), "-O", "1", "-J"],
                         capture_output=True, text=True, timeout=duration + 30).stdout
    core = (cpu_seconds(pid) - cpu0) / (time.time() - t0) if pid is not None else None
    return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9, core


def api(url, method, path, token, body=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Weir:
    """A `weir serve` with a tenant, a load balancer and helpers."""

    def __init__(self, procs, work, workers, vip_net, store_url=None, dataplane=True, setup=True,
                 binary=None, extra=""):
        """`store_url`: a PostgreSQL registry instead of SQLite; `setup`:
        create a tenant and a load balancer (a second node of a shared
        registry needs none); `binary`: another weir than WEIR; `extra`:
        more `[dataplane]` settings."""
        self.dir = tempfile.mkdtemp(prefix="weir-dp-", dir=work)
        cfg = f"{self.dir}/weir.toml"
        store = f'url = "{store_url}"' if store_url else 'durability = "normal"'
        with open(cfg, "w") as f:
            f.write(f"""[network]
backend_ranges = ["127.0.0.0/8"]
external_backend_ranges = ["127.0.0.0/8"]
vip_ranges = ["{vip_net}"]
[store]
{store}
[limits]
backends_per_pool = 100000
listeners_per_load_balancer = 1000
[dataplane]
enabled = {"true" if dataplane else "false"}
workers = {workers}
egress_allow = ["127.0.0.0/8"]
{extra}""")
        env = dict(os.environ, WEIR_ADMIN_TOKEN=ADMIN, WEIR_LOG="warn", WEIR_EGRESS_ALLOW="127.0.0.0/8")
        self.proc = procs.start([binary or WEIR, "serve", "--data-dir", self.dir, "--listen", "127.0.0.1:0", "--config", cfg],
                                env=env, stdout=subprocess.PIPE, text=True)
        line = ""
        deadline = time.time() + 30
        while "listening on" not in line and time.time() < deadline:
            line = self.proc.stdout.readline()
        self.url = re.search(r"(http://\S+)", line).group(1)
        if not setup:
            return
        _, project = api(self.url, "POST", "/v1/projects", ADMIN, {"name": "bench"})
        self.token = project["token"]
        _, vpc = api(self.url, "POST", "/v1/vpcs", ADMIN, {"project_id": project["id"], "cidr": "10.0.0.0/16"})
        _, subnet = api(self.url, "POST", "/v1/subnets", ADMIN, {"vpc_id": vpc["id"], "cidr": "10.0.1.0/24"})
        _, self.lb = api(self.url, "POST", "/v1/loadbalancers", self.token, {"subnet_id": subnet["id"]})
        self.vip = self.lb["vip"]

    def listener(self, protocol, port, backends=()):
        status, l = api(self.url, "POST", f"/v1/loadbalancers/{self.lb['id']}/listeners", self.token, {"protocol": protocol, "port": port})
        assert status == 201, l
        if backends:
            self.register(l["id"], backends)
        wait_port(port, self.vip)
        return l

    def register(self, listener_id, ports):
        status, reply = api(self.url, "POST", f"/v1/listeners/{listener_id}/backends", self.token,
                            {"backends": [{"address": "127.0.0.1", "port": p} for p in ports]})
        assert status == 201, reply
        return [b["id"] for b in reply["backends"]]

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(next(l for l in f if l.startswith("VmRSS")).split()[1]) / 1024


def start_haproxy(procs, work):
    """HAProxy in front of the backends, one thread (HTTP, TCP, bulk)."""
    servers = "\n".join(f"    server b{i + 1} 127.0.0.1:{p}" for i, p in enumerate(BACKENDS))
    hcfg = f"{work}/haproxy.cfg"
    with open(hcfg, "w") as f:
        f.write(f"""global
    nbthread 1
    maxconn 8000
defaults
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend http
    mode http
    bind 127.0.0.1:{BASE + 21}
    default_backend web
backend web
    mode http
    balance roundrobin
{servers}
frontend tcp
    mode tcp
    bind 127.0.0.1:{BASE + 22}
    default_backend tcpweb
backend tcpweb
    mode tcp
    balance roundrobin
{servers}
frontend bulk
    mode tcp
    bind 127.0.0.1:{BASE + 23}
    default_backend iperf
backend iperf
    mode tcp
    server i 127.0.0.1:{IPERF}
""")
    p = procs.start(["haproxy", "-f", hcfg, "-db"])
    for port in (BASE + 21, BASE + 22, BASE + 23):
        wait_port(port)
    return p


def start_nginx(procs, work):
    """nginx in front of the backends, one worker (http and stream)."""
    ups = "\n".join(f"server 127.0.0.1:{p};" for p in BACKENDS)
    ncfg = nginx_conf(work, f"""
http {{ access_log off;
  upstream web {{ {ups} keepalive 64; }}
  server {{ listen 127.0.0.1:{BASE + 31} backlog=4096; keepalive_requests 1000000;
    location / {{ proxy_pass http://web; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}
}}
stream {{
  upstream tcpweb {{ {ups} }}
  upstream iperf {{ server 127.0.0.1:{IPERF}; }}
  server {{ listen 127.0.0.1:{BASE + 32} backlog=4096; proxy_pass tcpweb; }}
  server {{ listen 127.0.0.1:{BASE + 33}; proxy_pass iperf; }}
}}""")
    p = procs.start(["nginx", "-c", ncfg])
    for port in (BASE + 31, BASE + 32, BASE + 33):
        wait_port(port)
    return p


def change_latency(w, rounds=20):
    """API 2xx -> first request on a new backend; deregistration -> no new requests."""
    import http.client
    port = BASE + 60
    l = w.listener("http", port)
    adds, removes = [], []

    def probe():
        c = http.client.HTTPConnection(w.vip, port, timeout=5)
        c.request("GET", "/", headers={"Connection": "close"})
        r = c.getresponse()
        body = r.read().decode().strip()
        c.close()
        return r.status, body

    def until(status_wanted):
        """Milliseconds until a fresh probe answers `status_wanted` (bounded)."""
        t0 = time.perf_counter()
        while time.perf_counter() < t0 + 5:
            if probe()[0] == status_wanted:
                break
        return (time.perf_counter() - t0) * 1000

    for i in range(rounds):
        (bid,) = w.register(l["id"], [BACKENDS[i % 3]])
        adds.append(until(200))
        status, _ = api(w.url, "DELETE", f"/v1/backends/{bid}", w.token)
        assert status == 204
        removes.append(until(503))
    return statistics.median(adds), statistics.median(removes)


def churn_errors(w, duration):
    """wrk on an HTTP listener while backends are added and removed."""
    port = BASE + 61
    l = w.listener("http", port, BACKENDS[:1])
    load = subprocess.Popen(["wrk", "-t1", "-c16", f"-d{duration}s", f"http://{w.vip}:{port}/"], stdout=subprocess.PIPE, text=True)
    changes = 0
    deadline = time.time() + duration - 1
    while time.time() < deadline and changes < 400:
        (bid,) = w.register(l["id"], [BACKENDS[1 + changes % 2]])
        time.sleep(0.05)
        api(w.url, "DELETE", f"/v1/backends/{bid}", w.token)
        time.sleep(0.05)
        changes += 2
    out = load.communicate(timeout=duration + 30)[0]
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m.group(1)) if m else 0
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return changes, errors, requests


def cross_node(procs, work, store_url):
    """Two nodes on one PostgreSQL registry: registrations and removals
    through the node without a data plane, traffic through the other.
    Also one node alone on the same database, for comparison."""
    def fresh():
        schema = f"bench_dp_{os.getpid()}_{time.time_ns()}"
        subprocess.run(["psql", "-q", store_url, "-c", f"CREATE SCHEMA {schema}"], check=True)
        return f"{store_url}{'&' if '?' in store_url else '?'}options=-csearch_path%3D{schema}"
    alone = Weir(procs, work, 1, "127.73.0.0/24", store_url=fresh())
    single = change_latency(alone)
    procs.stop(alone.proc)
    shared = fresh()
    api_node = Weir(procs, work, 1, "127.74.0.0/24", store_url=shared, dataplane=False)
    serving = Weir(procs, work, 1, "127.74.0.0/24", store_url=shared, setup=False)
    across = change_latency(api_node)
    procs.stop(api_node.proc)
    procs.stop(serving.proc)
    return single, across


def memory(procs, work):
    w = Weir(procs, work, 1, "127.77.0.0/16")
    lb_listeners = []
    for i in range(1000):
        status, l = api(w.url, "POST", f"/v1/loadbalancers/{w.lb['id']}/listeners", w.token, {"protocol": "tcp", "port": 30000 + i})
        assert status == 201, l
        lb_listeners.append(l)
    for i, l in enumerate(lb_listeners):
        api(w.url, "POST", f"/v1/listeners/{l['id']}/backends", w.token,
            {"backends": [{"address": f"127.0.{i % 250}.{j + 1}", "port": 40000 + i} for j in range(10)]})
    time.sleep(2)
    rss = w.rss_mib()
    procs.stop(w.proc)
    return rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="", help="measure only these groups: direct, haproxy, nginx, weir-w1, weir-w2 (comma-separated)")
    ap.add_argument("--cross-node", default="", metavar="postgres://...",
                    help="only measure registration -> traffic across two nodes sharing this PostgreSQL database")
    args = ap.parse_args()
    d = args.duration
    if not os.environ.get("WEIR_BIN"):
        subprocess.run(["cargo", "build", "--release", "-p", "weir"], cwd=ROOT, check=True)
    if args.cross_node:
        work = tempfile.mkdtemp(prefix="weir-bench-")
        procs = Procs()
        try:
            procs.start(["nginx", "-c", backends_conf(work)])
            for p in BACKENDS:
                wait_port(p)
            (s_add, s_remove), (x_add, x_remove) = cross_node(procs, work, args.cross_node)
        finally:
            procs.stop_all()
            shutil.rmtree(work, ignore_errors=True)
        print(f"one node on PostgreSQL: registration -> first request {s_add:.1f} ms, deregistration -> no new requests {s_remove:.1f} ms (medians of 20)")
        print(f"registered on node B, served by node A: {x_add:.1f} ms; deregistered on B, gone from A: {x_remove:.1f} ms (medians of 20)")
        return
    work = tempfile.mkdtemp(prefix="weir-bench-")
    procs = Procs()
    results = {}
    try:
        procs.start(["nginx", "-c", backends_conf(work)])
        procs.start(["iperf3", "-s", "-p", str(IPERF)])
        for p in BACKENDS + [IPERF]:
            wait_port(p)
        # Each proxy runs only while it is measured: an idle HAProxy beside
        # the others was seen to cost them (noise that is not theirs).
        def weir_group(workers):
            def start():
                w = Weir(procs, work, workers, f"127.{60 + workers}.0.0/24")
                w.listener("http", BASE + 41, BACKENDS)
                w.listener("tcp", BASE + 42, BACKENDS)
                w.listener("tcp", BASE + 43, [IPERF])
                return w.proc, {
                    f"weir-http-w{workers}": (f"http://{w.vip}:{BASE + 41}/", None, None),
                    f"weir-tcp-w{workers}": (f"http://{w.vip}:{BASE + 42}/", BASE + 43, w.vip),
                }
            return start

        groups = [
            ("direct", lambda: (None, {"direct": (f"http://127.0.0.1:{BACKENDS[0]}/", IPERF, "127.0.0.1")})),
            ("haproxy", lambda: (start_haproxy(procs, work), {
                "haproxy-http": (f"http://127.0.0.1:{BASE + 21}/", None, None),
                "haproxy-tcp": (f"http://127.0.0.1:{BASE + 22}/", BASE + 23, "127.0.0.1"),
            })),
            ("nginx", lambda: (start_nginx(procs, work), {
                "nginx-http": (f"http://127.0.0.1:{BASE + 31}/", None, None),
                "nginx-stream": (f"http://127.0.0.1:{BASE + 32}/", BASE + 33, "127.0.0.1"),
            })),
            ("weir-w1", weir_group(1)),
            ("weir-w2", weir_group(2)),
        ]
        if args.only:
            wanted = args.only.split(",")
            groups = [g for g in groups if g[0] in wanted]
        # Rounds interleave the targets so that noise from the shared
        # machine spreads over all of them; the median round is reported.
        runs = {}
        for r in range(args.rounds):
            for _, group in groups:
                proc, targets = group()
                pid = proc.pid if proc is not None else None
                for name, (url, bulk_port, bulk_host) in targets.items():
                    ka = wrk(url, d, pid=pid)
                    nc = wrk(url, d, close=True, pid=pid)
                    bulk, bulk_core = iperf(bulk_port, bulk_host, d, pid) if bulk_port else (None, None)
                    runs.setdefault(name, []).append({"keepalive": ka, "newconn": nc, "bulk_gbps": bulk, "bulk_core": bulk_core})
                    print(r, name, json.dumps(runs[name][-1]), flush=True)
                if proc is not None:
                    procs.stop(proc)
        for name, rs in runs.items():
            pick = lambda key: sorted(rs, key=lambda x: x[key]["rps"])[len(rs) // 2][key]
            median = lambda values: sorted(values)[len(values) // 2]
            bulk = rs[0]["bulk_gbps"] is not None
            results[name] = {"keepalive": pick("keepalive"), "newconn": pick("newconn"),
                             "bulk_gbps": median([x["bulk_gbps"] for x in rs]) if bulk else None,
                             "bulk_core": median([x["bulk_core"] for x in rs]) if bulk and rs[0]["bulk_core"] is not None else None,
                             # CPU per request: the median of each round's figure.
                             "ka_cpu_us": median([x["keepalive"]["cpu_us"] for x in rs]) if rs[0]["keepalive"]["cpu_us"] else None,
                             "nc_cpu_us": median([x["newconn"]["cpu_us"] for x in rs]) if rs[0]["newconn"]["cpu_us"] else None}
        weirs = {1: Weir(procs, work, 1, "127.71.0.0/24")}
        add_ms, remove_ms = change_latency(weirs[1])
        changes, errors, served = churn_errors(weirs[1], d)
        procs.stop(weirs[1].proc)
        rss = memory(procs, work)
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    direct = results.get("direct")
    if direct is None:
        for name, r in results.items():
            print(name, json.dumps(r))
        return
    print()
    print(f"run {time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, wrk -t2 -c64 -d{d}s, iperf3 -t{d}, median of {args.rounds} rounds")
    print("| target | keep-alive req/s | x direct | p50 ms | p99 ms | new conn/s | x direct | p99 ms | bulk Gbit/s | x direct | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        ka, nc, bulk = r["keepalive"], r["newconn"], r["bulk_gbps"]
        bulk_cols = f"{bulk:.1f} | {bulk / direct['bulk_gbps']:.2f}" if bulk else "n/a | n/a"
        print(f"| {name} | {ka['rps']:.0f} | {ka['rps'] / direct['keepalive']['rps']:.2f} | {ka['p50']:.2f} | {ka['p99']:.2f} | "
              f"{nc['rps']:.0f} | {nc['rps'] / direct['newconn']['rps']:.2f} | {nc['p99']:.2f} | {bulk_cols} | {ka['errors'] + nc['errors']} |")
    print()
    print("proxy CPU (user + system, the proxy's processes only) per unit of work:")
    print("| target | µs CPU / keep-alive request | µs CPU / new connection | bulk: share of a core | bulk: CPU s per 10 GB |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        if r["ka_cpu_us"] is None:
            continue
        core = r["bulk_core"]
        bulk_cols = f"{core:.2f} | {core * 80 / r['bulk_gbps']:.2f}" if core is not None else "n/a | n/a"
        print(f"| {name} | {r['ka_cpu_us']:.1f} | {r['nc_cpu_us']:.1f} | {bulk_cols} |")
    print()
    print(f"registration -> first request (median of 20): {add_ms:.1f} ms; deregistration -> no new requests: {remove_ms:.1f} ms")
    print(f"{changes} backend changes under wrk -c16 load: {errors} client errors in {served} requests")
    print(f"RSS of weir serve with 1,000 listeners and 10,000 backends: {rss:.1f} MiB")
    with open(os.path.join(work + "-results.json"), "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    # The HTTPS and HTTP/2 runs share this file's backends and process
    # handling but have their own modes: `--https`/`--h2` hands the rest of
    # the command line to them.
    if len(sys.argv) > 1 and sys.argv[1] in ("--https", "--h2"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        mode = sys.argv.pop(1)
        __import__("https" if mode == "--https" else "h2").main()
    else:
        main()
