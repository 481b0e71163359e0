#!/usr/bin/env python3
"""Crash run (issue 14): kill -9 `weir serve` again and again under a
registration load and prove that every acknowledged write survived whole.

Clients register batches of three backends (one request, one client token
each) on a loopback-only server. Every `--interval` seconds (jittered) the
server gets SIGKILL and is started again on the same data directory (or the
same PostgreSQL schema). With `--restart-postgres`, the database server is
restarted under load instead (weir stays up and must answer 503, then
resume). At the end every batch is checked:

  - acknowledged (2xx) and all three backends present: kept;
  - acknowledged and any backend missing: LOST (must be 0);
  - one or two of a batch's three present: HALF-WRITTEN (must be 0);
  - unacknowledged (connection cut by the kill): either whole or absent.

Every loop is bounded in rounds and time; nothing but loopback is dialled
(backend addresses are data inside the project's own VPC, never dialled:
the data plane is off).

Usage: scripts/crash-kill9.py [--rounds 20] [--interval 2] [--clients 8]
       [--store-url postgres://...] [--restart-postgres]
       WEIR_BIN=path (default target/release/weir, built if missing)
"""
import argparse, http.client, json, os, random, re, shutil, signal, subprocess
import sys, tempfile, threading, time, uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIR = os.environ.get("WEIR_BIN", os.path.join(ROOT, "target/release/weir"))
ADMIN = "crash-admin"


def call(port, token, method, path, body=None, timeout=10):
    """One request on a fresh connection: (status, parsed body) or (None, err)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else None)
    except (OSError, http.client.HTTPException, ValueError) as e:
        return None, str(e)
    finally:
        conn.close()


class Server:
    def __init__(self, data_dir, store_url):
        self.data_dir, self.store_url = data_dir, store_url
        self.proc, self.port = None, None

    def start(self):
        cfg = os.path.join(self.data_dir, "weir.toml")
        with open(cfg, "w") as f:
            if self.store_url:
                f.write(f'[store]\nurl = "{self.store_url}"\n')
            f.write("[dataplane]\nenabled = false\n")
            # Room for every batch of the run in one pool per client.
            f.write("[limits]\nbackends_per_pool = 1000000\n")
        env = dict(os.environ, WEIR_ADMIN_TOKEN=ADMIN, WEIR_LOG="error")
        # The same port across restarts, so clients simply retry.
        listen = f"127.0.0.1:{self.port}" if self.port else "127.0.0.1:0"
        self.proc = subprocess.Popen(
            [WEIR, "serve", "--data-dir", self.data_dir, "--listen", listen,
             "--config", cfg], stdout=subprocess.PIPE, env=env, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
            if self.proc.poll() is not None:
                break
        sys.exit("weir serve did not start")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def postgres_restart():
    version = sorted(os.listdir("/usr/lib/postgresql"), key=int)[-1]
    subprocess.run(["pg_ctlcluster", version, "main", "restart", "-m", "immediate"],
                   check=True, capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--store-url")
    ap.add_argument("--restart-postgres", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(WEIR):
        subprocess.run(["cargo", "build", "--release", "-p", "weir"], cwd=ROOT, check=True)
    store_url = args.store_url
    if store_url:
        schema = "crash_" + uuid.uuid4().hex[:8]
        base = store_url.split("?")[0]
        subprocess.run(["psql", base, "-qc", f"CREATE SCHEMA {schema}"], check=True)
        store_url = f"{base}?options=-csearch_path%3D{schema}"

    data_dir = tempfile.mkdtemp(prefix="weir-crash-")
    server = Server(data_dir, store_url)
    server.start()
    port = server.port
    _, project = call(port, ADMIN, "POST", "/v1/projects", {"name": "crash"})
    tenant = project["token"]
    _, vpc = call(port, ADMIN, "POST", "/v1/vpcs",
                  {"project_id": project["id"], "cidr": "10.0.0.0/8"})
    _, subnet = call(port, ADMIN, "POST", "/v1/subnets",
                     {"vpc_id": vpc["id"], "cidr": "10.0.0.0/9"})
    _, lb = call(port, tenant, "POST", "/v1/loadbalancers",
                 {"name": "crash", "subnet_id": subnet["id"]})
    listeners = []
    for i in range(args.clients):
        status, li = call(port, tenant, "POST", f"/v1/loadbalancers/{lb['id']}/listeners",
                          {"protocol": "tcp", "port": 20000 + i})
        assert status in (200, 201), (status, li)
        listeners.append(li["id"])

    batches = {}  # token -> {"listener", "addresses", "acked"}
    lock = threading.Lock()
    stop = threading.Event()
    counts = {"acked": 0, "failed": 0, "refused_5xx": 0, "cut": 0, "retried": 0}

    def client(idx):
        listener = listeners[idx]
        n = 0
        # Bounded: at most 100,000 batches per client, and the run's end.
        while not stop.is_set() and n < 100_000:
            token = f"c{idx}-{n}"
            base = idx * 100_000 + n
            addrs = [f"10.{(base * 3 + k) >> 16 & 0x7f}.{(base * 3 + k) >> 8 & 0xff}."
                     f"{(base * 3 + k) & 0xff}" for k in range(3)]
            with lock:
                batches[token] = {"listener": listener, "addresses": addrs, "acked": False}
            body = {"backends": [{"address": a, "port": 8080} for a in addrs],
                    "client_token": token}
            # A cut connection or a 5xx is retried with the same client
            # token, as a careful client does: the retry must return the
            # first answer and register nothing twice.
            for attempt in range(200):
                status, _ = call(port, tenant, "POST", f"/v1/listeners/{listener}/backends", body)
                with lock:
                    if status in (200, 201):
                        batches[token]["acked"] = True
                        counts["acked"] += 1
                        counts["retried"] += attempt > 0
                    elif status is None:
                        counts["cut"] += 1
                    elif status >= 500:
                        counts["refused_5xx"] += 1
                    else:
                        counts["failed"] += 1
                if status is not None and status < 500:
                    break
                if stop.is_set() and attempt > 0:
                    break
                time.sleep(0.05)
            n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    started = time.time()
    for r in range(args.rounds):
        time.sleep(args.interval * random.uniform(0.5, 1.5))
        if args.restart_postgres:
            postgres_restart()
        else:
            server.kill9()
            server.start()
        print(f"round {r + 1}/{args.rounds}: acked so far {counts['acked']}", flush=True)
    time.sleep(args.interval)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    elapsed = time.time() - started

    # Verify against a fresh process, so nothing is served from memory.
    server.kill9()
    server.start()
    present = {}
    for listener in listeners:
        cursor = None
        for _ in range(100_000):
            path = f"/v1/listeners/{listener}/backends?limit=1000"
            if cursor:
                path += f"&marker={cursor}"
            status, page = call(server.port, tenant, "GET", path, timeout=60)
            assert status == 200, (status, page)
            items = page.get("backends", page.get("items", []))
            for b in items:
                present[(listener, b["address"])] = b
            cursor = page.get("next_marker") or page.get("next")
            if not cursor or not items:
                break
    lost = half = whole_unacked = absent_unacked = kept = 0
    for token, b in batches.items():
        have = sum((b["listener"], a) in present for a in b["addresses"])
        if have not in (0, 3):
            half += 1
        if b["acked"]:
            if have == 3:
                kept += 1
            else:
                lost += 1
        elif have == 3:
            whole_unacked += 1
        elif have == 0:
            absent_unacked += 1
    server.kill9()
    shutil.rmtree(data_dir, ignore_errors=True)
    mode = "postgres restarts" if args.restart_postgres else "kill -9 of weir serve"
    store = "PostgreSQL" if store_url else "SQLite"
    print(json.dumps({
        "mode": mode, "store": store, "rounds": args.rounds, "seconds": round(elapsed, 1),
        "batches_sent": len(batches), "acknowledged": counts["acked"], "kept": kept,
        "lost": lost, "half_written": half, "unacked_whole": whole_unacked,
        "unacked_absent": absent_unacked, "acked_after_retry": counts["retried"],
        "connections_cut": counts["cut"], "answered_5xx": counts["refused_5xx"],
        "answered_4xx": counts["failed"]}, indent=1))
    sys.exit(1 if lost or half or counts["failed"] else 0)


if __name__ == "__main__":
    main()
