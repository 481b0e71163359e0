#!/usr/bin/env python3
"""Watch benchmark for Weir (issue 18): registration -> event latency with
1,000 connected watchers.

Against a release build of `weir serve` on durable SQLite (the data plane
on), opens WATCHERS streams of `GET /v1/watch` with the project's token
(HTTP/1.0, so each arrives unchunked), then registers one backend at a
time, ROUNDS times. For each round it records when the registration was
sent, when its answer came, and when each watcher read the event naming
the new backend. It reports the median and p99 of registration -> event
over every (watcher, round), the registration's own latency, the server's
resident memory with every watcher connected, and checks that no watcher
missed or repeated a position.

Everything runs on loopback; every loop is bounded in count and time.
Usage: bench/watch.py [--watchers 1000] [--rounds 200]
       WEIR_BIN=path: measure that binary instead of building this tree
"""
import argparse, asyncio, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = "bench-admin"
WEIR = os.environ.get("WEIR_BIN", os.path.join(ROOT, "target/release/weir"))
# A bound on every wait: a broken stream fails the bench, it never hangs.
LIMIT = 30.0


def start_server(data_dir, config):
    cfg = os.path.join(data_dir, "weir.toml")
    with open(cfg, "w") as f:
        f.write(config)
    env = dict(os.environ, WEIR_ADMIN_TOKEN=ADMIN, WEIR_LOG="warn")
    proc = subprocess.Popen(
        [WEIR, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0", "--config", cfg],
        stdout=subprocess.PIPE, env=env, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", proc.stdout.readline())
        if m:
            return proc, int(m.group(1))
    proc.kill()
    sys.exit("server did not start")


async def call(port, token, method, path, body=None):
    """One HTTP/1.0 request: (status, JSON body)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), LIMIT)
    data = json.dumps(body).encode() if body is not None else b""
    writer.write(f"{method} {path} HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), LIMIT)
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, (json.loads(payload) if payload else None)


async def must(port, token, method, path, body=None):
    status, reply = await call(port, token, method, path, body)
    if status not in (200, 201):
        sys.exit(f"{method} {path}: {status} {reply}")
    return reply


class Watcher:
    """One stream: reads events, records when each backend id arrived."""

    def __init__(self):
        self.seen = {}        # backend id -> perf_counter when read
        self.positions = []   # ids of change events, in order
        self.ready = asyncio.Event()
        self.wanted = None    # (backend id, asyncio.Event) of the round

    async def run(self, port, token):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /v1/watch HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            sys.exit(f"watch refused: {head[:200]!r}")
        event, data, ident = "", "", None
        while True:
            line = await reader.readline()
            if not line:
                return
            line = line.rstrip(b"\r\n").decode()
            if line.startswith("id:"):
                ident = line[3:].strip()
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
            elif line == "":
                if event == "ready":
                    self.ready.set()
                elif event == "backend.created":
                    now = time.perf_counter()
                    self.positions.append(int(ident))
                    backend = json.loads(data)["id"]
                    self.seen[backend] = now
                    if self.wanted and self.wanted[0] == backend:
                        self.wanted[1].set()
                elif event == "end":
                    sys.exit(f"a watcher was cut: {data}")
                event, data, ident = "", "", None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def bench(watchers, rounds):
    data_dir = tempfile.mkdtemp(prefix="weir-bench-")
    proc, port = start_server(
        data_dir, f"[api]\nwatch_max_watchers = {watchers + 16}\nwatch_max_per_project = {watchers + 16}\n")
    try:
        project = await must(port, ADMIN, "POST", "/v1/projects", {"name": "bench"})
        token = project["token"]
        vpc = await must(port, ADMIN, "POST", "/v1/vpcs", {"project_id": project["id"], "cidr": "10.0.0.0/8"})
        subnet = await must(port, ADMIN, "POST", "/v1/subnets", {"vpc_id": vpc["id"], "cidr": "10.0.0.0/16"})
        lb = await must(port, token, "POST", "/v1/loadbalancers", {"name": "bench", "subnet_id": subnet["id"]})
        listener = await must(port, token, "POST", f"/v1/loadbalancers/{lb['id']}/listeners",
                              {"protocol": "tcp", "port": 10000})
        rss_before = rss_kib(proc.pid)
        streams = [Watcher() for _ in range(watchers)]
        tasks = [asyncio.create_task(w.run(port, token)) for w in streams]
        await asyncio.wait_for(asyncio.gather(*(w.ready.wait() for w in streams)), LIMIT * 4)
        rss_connected = rss_kib(proc.pid)
        latencies, answers = [], []
        path = f"/v1/listeners/{listener['id']}/backends"
        for n in range(rounds):
            address = f"10.0.{1 + n // 250}.{1 + n % 250}"
            # The round's backend id is known only from the answer, so each
            # watcher is matched by the event it reads for it afterwards.
            t0 = time.perf_counter()
            reply = await must(port, token, "POST", path, {"backends": [{"address": address, "port": 8080}]})
            answers.append((time.perf_counter() - t0) * 1000)
            backend = reply["backends"][0]["id"]
            waits = []
            for w in streams:
                if backend not in w.seen:
                    done = asyncio.Event()
                    w.wanted = (backend, done)
                    waits.append(done.wait())
            if waits:
                await asyncio.wait_for(asyncio.gather(*waits), LIMIT)
            latencies.extend((w.seen[backend] - t0) * 1000 for w in streams)
        for w in streams:
            if w.positions != list(range(w.positions[0], w.positions[0] + rounds)):
                sys.exit("a watcher missed or repeated a position")
        for t in tasks:
            t.cancel()
        return {
            "watchers": watchers,
            "rounds": rounds,
            "event_p50_ms": statistics.median(latencies),
            "event_p99_ms": pct(latencies, 99),
            "event_max_ms": max(latencies),
            "register_p50_ms": statistics.median(answers),
            "register_p99_ms": pct(answers, 99),
            "rss_kib_before": rss_before,
            "rss_kib_connected": rss_connected,
        }
    finally:
        proc.kill(); proc.wait(); shutil.rmtree(data_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    if not 1 <= args.rounds <= 10_000 or not 1 <= args.watchers <= 10_000:
        sys.exit("--rounds and --watchers: 1 to 10,000")
    if WEIR == os.path.join(ROOT, "target/release/weir"):
        subprocess.run(["cargo", "build", "--release", "-p", "weir"], cwd=ROOT, check=True)
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.watchers + 256)), hard))
    out = asyncio.run(bench(args.watchers, args.rounds))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
