#!/usr/bin/env python3
"""Control-plane benchmark for Weir (issue: foundation).

Measures, against a release build of `weir serve` on durable SQLite:
  1. single-backend registrations/s with 32 concurrent clients (wrk) over 64
     listeners, p50/p99 (the data plane runs and follows every commit);
  2. one request registering 1,000 backends (median and max of 10 runs);
  3. listing one pool of 1,000 among ~100,000 backends over 1,000 listeners,
     p50/p99 of 200 sequential requests, and the server's resident memory.
Everything runs on loopback; every loop is bounded in count and time.
Usage: bench/control_plane.py [--duration 10] [--registrations-only]
       [--compare-dataplane ROUNDS]  (registrations with the data plane on
       and off, alternating, to report what following costs as a ratio)
       [--pool-sizes 0,10000,50000]  (single registrations into one pool
       already holding that many backends: rate and server CPU per
       registration, to show what a change costs as the pool grows)
       WEIR_BIN=path: measure that binary instead of building this tree
       [--store-url postgres://...]  (every server on PostgreSQL instead,
       each in a fresh schema made with psql; scripts/postgres-for-tests
       starts a local one)
       [--nodes N]  (with --store-url: the registrations go to N servers
       sharing one schema, the 32 clients spread over them; the CPU per
       registration is all the nodes' together)
"""
import argparse, http.client, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = "bench-admin"
DEFAULT_WEIR = os.path.join(ROOT, "target/release/weir")
# WEIR_BIN: another build to measure (say, an older commit's) beside this one.
WEIR = os.environ.get("WEIR_BIN", DEFAULT_WEIR)


class Api:
    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = token

    def raw(self, method, path):
        """Time-to-last-byte measurements read the body without parsing it."""
        self.conn.request(method, path, headers={"Authorization": f"Bearer {self.token}"})
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status != 200:
            sys.exit(f"{method} {path}: {resp.status} {raw[:300]!r}")
        return raw

    def call(self, method, path, body=None, expect=(200, 201)):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status not in expect:
            sys.exit(f"{method} {path}: {resp.status} {raw[:300]!r}")
        return json.loads(raw) if raw else None


STORE_URL = None  # --store-url: PostgreSQL instead of SQLite


def store_section():
    """`[store]` for a fresh PostgreSQL schema, or nothing for SQLite."""
    if not STORE_URL:
        return ""
    schema = f"bench_{os.getpid()}_{time.time_ns()}"
    subprocess.run(["psql", "-q", STORE_URL, "-c", f"CREATE SCHEMA {schema}"], check=True)
    sep = "&" if "?" in STORE_URL else "?"
    return f'[store]\nurl = "{STORE_URL}{sep}options=-csearch_path%3D{schema}"\n'


def start_server(data_dir, config, section=None):
    """`section`: a `[store]` section to share (nodes of one registry);
    by default a fresh one."""
    cfg = os.path.join(data_dir, "weir.toml")
    with open(cfg, "w") as f:
        f.write((store_section() if section is None else section) + config)
    env = dict(os.environ, WEIR_ADMIN_TOKEN=ADMIN, WEIR_LOG="warn")
    proc = subprocess.Popen(
        [WEIR, "serve", "--data-dir", data_dir,
         "--listen", "127.0.0.1:0", "--config", cfg],
        stdout=subprocess.PIPE, env=env, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    sys.exit("server did not start")


def setup(admin, listeners=1):
    project = admin.call("POST", "/v1/projects", {"name": "bench"})
    tenant = Api(admin.conn.port, project["token"])
    vpc = admin.call("POST", "/v1/vpcs", {"project_id": project["id"], "cidr": "10.0.0.0/8"})
    subnet = admin.call("POST", "/v1/subnets", {"vpc_id": vpc["id"], "cidr": "10.0.0.0/16"})
    lb = tenant.call("POST", "/v1/loadbalancers", {"name": "bench", "subnet_id": subnet["id"]})
    made = [tenant.call("POST", f"/v1/loadbalancers/{lb['id']}/listeners",
                        {"protocol": "tcp", "port": 10000 + i}) for i in range(listeners)]
    return tenant, made


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_registrations(duration, dataplane=True, nodes=1):
    """Single-backend registrations from 32 clients; with `nodes` > 1,
    that many servers on one PostgreSQL schema, the clients spread over
    them. Returns the rate, p50, p99 and the servers' CPU per
    registration (user + sys from /proc, all nodes together)."""
    data_dirs = [tempfile.mkdtemp(prefix="weir-bench-") for _ in range(nodes)]
    procs = []
    try:
        section = store_section()
        # 64 listeners on one load balancer: above the default limit of 50.
        config = "[limits]\nlisteners_per_load_balancer = 64\n"
        if not dataplane:
            config += "[dataplane]\nenabled = false\n"
        ports = []
        for data_dir in data_dirs:
            proc, port = start_server(data_dir, config, section)
            procs.append(proc)
            ports.append(port)
        # 64 listeners with the default quota of 1,000 backends each: the
        # load spreads as a real fleet's would, and no pool outgrows it.
        tenant, listeners = setup(Api(ports[0], ADMIN), listeners=64)
        paths = ",".join(f"/v1/listeners/{l['id']}/backends" for l in listeners)
        time.sleep(0.5)  # let every node's data plane apply the setup
        cpu0 = sum(cpu_seconds(p.pid) for p in procs)
        pg0 = postgres_cpu()
        # One wrk per node, each with its share of the 32 connections and
        # its own address block (the Lua script's thread ids are offset).
        runs = []
        for n, port in enumerate(ports):
            conns = 32 // nodes + (1 if n < 32 % nodes else 0)
            runs.append(subprocess.Popen(
                ["wrk", "-t2", f"-c{conns}", f"-d{duration}s", "--latency", "-s",
                 os.path.join(ROOT, "bench/register.lua"), f"http://127.0.0.1:{port}", "--",
                 paths, tenant.token, str(n * 2)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs = []
        for run in runs:
            stdout, stderr = run.communicate(timeout=duration + 60)
            if run.returncode != 0 or "unexpected status" in stderr:
                sys.exit(stdout + stderr)
            outs.append(stdout)
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
        pg1 = postgres_cpu()
        pg_cpu = sum(t - pg0.get(pid, 0.0) for pid, t in pg1.items())
        rate = sum(float(re.search(r"Requests/sec:\s+([\d.]+)", o).group(1)) for o in outs)
        done = sum(int(re.search(r"(\d+) requests in", o).group(1)) for o in outs)
        lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", outs[0], re.M))
        count = len(tenant.call("GET", f"/v1/pools/{listeners[0]['default_pool_id']}/backends?limit=1000")["backends"])
        assert count > 0
        return rate, lat.get("50"), lat.get("99"), cpu * 1e6 / done, pg_cpu * 1e6 / done
    finally:
        for proc in procs:
            proc.kill(); proc.wait()
        for data_dir in data_dirs:
            shutil.rmtree(data_dir)


def postgres_cpu():
    """User + sys seconds of every live process named `postgres` (the
    server's backends, the writer's among them, and its helpers), by pid:
    what PostgreSQL spends for the registrations, read the same way as
    the servers' own. A process that ends inside the window is missed."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            out[int(pid)] = cpu_seconds(int(pid))
        except OSError:
            continue
    return out


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_large_pool(duration, size):
    """Registrations into one listener whose pool already holds `size`."""
    data_dir = tempfile.mkdtemp(prefix="weir-bench-")
    proc, port = start_server(data_dir, "[limits]\nbackends_per_pool = 1000000\n")
    try:
        tenant, (listener,) = setup(Api(port, ADMIN), listeners=1)
        path = f"/v1/listeners/{listener['id']}/backends"
        for n in range(0, size, 1000):
            body = {"backends": [{"address": f"10.{100 + n // 64000}.{(n // 250 + i // 250) % 250}.{i % 250 + 1}",
                                  "port": 1 + n // 1000 % 60000} for i in range(min(1000, size - n))]}
            tenant.call("POST", path, body)
        time.sleep(1)  # let the data plane settle the fill before timing
        cpu0 = cpu_seconds(proc.pid)
        out = subprocess.run(
            ["wrk", "-t2", "-c32", f"-d{duration}s", "--latency", "-s", os.path.join(ROOT, "bench/register.lua"),
             f"http://127.0.0.1:{port}", "--", path, tenant.token],
            capture_output=True, text=True, timeout=duration + 60)
        cpu = cpu_seconds(proc.pid) - cpu0
        if out.returncode != 0 or "unexpected status" in out.stderr:
            sys.exit(out.stdout + out.stderr)
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout).group(1))
        done = int(re.search(r"(\d+) requests in", out.stdout).group(1))
        lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out.stdout, re.M))
        return rate, cpu * 1e6 / done, lat.get("50"), lat.get("99")
    finally:
        proc.kill(); proc.wait(); shutil.rmtree(data_dir)


def bench_batch_and_list():
    data_dir = tempfile.mkdtemp(prefix="weir-bench-")
    proc, port = start_server(data_dir, "")
    try:
        tenant, listeners = setup(Api(port, ADMIN), listeners=1000)
        # 1. One request with 1,000 backends, ten times into fresh listeners.
        batch_ms = []
        for n in range(10):
            body = {"backends": [{"address": f"10.{n + 1}.{i // 250}.{i % 250 + 1}"} for i in range(1000)]}
            t0 = time.perf_counter()
            reply = tenant.call("POST", f"/v1/listeners/{listeners[n]['id']}/backends", body)
            batch_ms.append((time.perf_counter() - t0) * 1000)
            assert len(reply["backends"]) == 1000
        # 2. Fill the other 990 listeners with 91 each: ~100k backends in all.
        for n in range(10, 1000):
            body = {"backends": [{"address": f"10.{100 + n // 250}.{n % 250}.{i + 1}"} for i in range(91)]}
            tenant.call("POST", f"/v1/listeners/{listeners[n]['id']}/backends", body)
        total = 10 * 1000 + 990 * 91
        # 3. List one pool of 1,000, 200 times.
        path = f"/v1/pools/{listeners[0]['default_pool_id']}/backends?limit=1000"
        assert len(tenant.call("GET", path)["backends"]) == 1000
        list_ms = []
        for _ in range(200):
            t0 = time.perf_counter()
            tenant.raw("GET", path)
            list_ms.append((time.perf_counter() - t0) * 1000)
        return batch_ms, list_ms, total, rss_kib(proc.pid)
    finally:
        proc.kill(); proc.wait(); shutil.rmtree(data_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--registrations-only", action="store_true")
    ap.add_argument("--compare-dataplane", type=int, default=0, metavar="ROUNDS")
    ap.add_argument("--pool-sizes", default="", metavar="N,N,...")
    ap.add_argument("--store-url", default="", metavar="postgres://...")
    ap.add_argument("--nodes", type=int, default=1, metavar="N")
    args = ap.parse_args()
    global STORE_URL
    STORE_URL = args.store_url or None
    if WEIR == DEFAULT_WEIR:
        subprocess.run(["cargo", "build", "--release", "-p", "weir"], cwd=ROOT, check=True)
    if args.pool_sizes:
        print("| backends already in the pool | registrations/s | server µs CPU / registration | p50 | p99 |")
        print("|---:|---:|---:|---:|---:|")
        for size in (int(x) for x in args.pool_sizes.split(",")):
            rate, cpu_us, p50, p99 = bench_large_pool(args.duration, size)
            print(f"| {size:,} | {rate:.0f} | {cpu_us:.0f} | {p50} | {p99} |", flush=True)
        return
    if args.compare_dataplane:
        on, off = [], []
        for _ in range(args.compare_dataplane):
            on.append(bench_registrations(args.duration, True)[0])
            off.append(bench_registrations(args.duration, False)[0])
        m_on, m_off = statistics.median(on), statistics.median(off)
        print(f"registrations/s, data plane following: {[round(r) for r in on]}, median {m_on:.0f}")
        print(f"registrations/s, data plane off:       {[round(r) for r in off]}, median {m_off:.0f}")
        print(f"ratio on/off: {m_on / m_off:.2f}")
        return
    if args.nodes > 1 and not STORE_URL:
        sys.exit("--nodes needs --store-url: nodes share a PostgreSQL registry")
    rate, p50, p99, cpu_us, pg_us = bench_registrations(args.duration, nodes=args.nodes)
    if args.registrations_only:
        nodes = f", {args.nodes} nodes" if args.nodes > 1 else ""
        pg = f", PostgreSQL {pg_us:.0f} µs" if STORE_URL else ""
        print(f"single registrations, 32 clients{nodes}, {args.duration}s: {rate:.0f}/s, "
              f"p50 {p50}, p99 {p99}, server {cpu_us:.0f} µs CPU / registration{pg}")
        return
    batch_ms, list_ms, total, rss = bench_batch_and_list()
    print(f"cpu: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}")
    print(f"single registrations, 32 clients, {args.duration}s: {rate:.0f}/s, p50 {p50}, p99 {p99}")
    print(f"1,000 backends in one request: median {statistics.median(batch_ms):.1f} ms, max {max(batch_ms):.1f} ms")
    print(f"list 1,000 of {total} backends: p50 {pct(list_ms, 50):.1f} ms, p99 {pct(list_ms, 99):.1f} ms")
    print(f"server RSS with {total} backends: {rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
