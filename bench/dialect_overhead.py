#!/usr/bin/env python3
"""Server CPU of one signed Zenlayer ZLB RegisterBackend against the same
registration through the native API (issue: cloud dialects, part 1).

A release `weir serve` (durable SQLite, data plane on) gets single-backend
registrations from 8 client threads over keep-alive connections, in rounds
that alternate native and ZLB so drift on this noisy machine hits both.
The server's CPU time (utime + stime from /proc/<pid>/stat) is read around
each round; the clients run in this process and are not counted.
Everything is on loopback and every loop is bounded.
Usage: bench/dialect_overhead.py [--per-round 500] [--rounds 3]
"""
import argparse, hashlib, hmac, http.client, json, os, shutil, statistics, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from control_plane import Api, ADMIN, start_server  # noqa: E402

THREADS = 8


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def zc2_headers(ak, sk, host, body):
    ts = str(int(time.time()))
    canonical = "POST\n/\n\ncontent-type:application/json\nhost:%s\n\ncontent-type;host\n%s" % (
        host, hashlib.sha256(body).hexdigest())
    sts = "ZC2-HMAC-SHA256\n%s\n%s" % (ts, hashlib.sha256(canonical.encode()).hexdigest())
    sig = hmac.new(sk.encode(), sts.encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json", "Host": host, "x-zc-action": "RegisterBackend",
        "x-zc-version": "2025-04-01", "x-zc-timestamp": ts,
        "x-zc-signature-method": "ZC2-HMAC-SHA256",
        "Authorization": f"ZC2-HMAC-SHA256 Credential={ak}, SignedHeaders=content-type;host, Signature={sig}",
    }


def run_round(port, jobs, make_request):
    """Sends every job from THREADS keep-alive connections; returns seconds."""
    lock = threading.Lock()
    queue = list(jobs)
    errors = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                job = queue.pop()
            method, path, body, headers = make_request(job)
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            if resp.status not in (200, 201):
                errors.append((resp.status, raw[:200]))
                break
    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    if errors:
        sys.exit(f"request failed: {errors[0]}")
    return time.time() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-round", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.per_round * args.rounds
    data_dir = tempfile.mkdtemp(prefix="weir-dialect-bench-")
    proc, port = start_server(data_dir, "[limits]\nbackends_per_pool = 100000\n")
    try:
        admin = Api(port, ADMIN)
        project = admin.call("POST", "/v1/projects", {"name": "bench"})
        vpc = admin.call("POST", "/v1/vpcs", {"project_id": project["id"], "cidr": "10.0.0.0/8"})
        subnet = admin.call("POST", "/v1/subnets", {"vpc_id": vpc["id"], "cidr": "10.0.0.0/12"})
        addresses = (f"10.{i >> 16 & 15}.{i >> 8 & 255}.{i & 255}"
                     for i in range(1, 1 << 20) if 0 < i & 255 < 255)
        instances = []
        for _, ip in zip(range(2 * n), addresses):
            inst = admin.call("POST", "/v1/instances", {
                "project_id": project["id"], "subnet_id": subnet["id"], "private_ip": ip, "type": "vm"})
            instances.append(inst["id"])
        tenant = Api(port, project["token"])
        lb = tenant.call("POST", "/v1/loadbalancers", {"subnet_id": subnet["id"], "name": "bench"})
        native_l = tenant.call("POST", f"/v1/loadbalancers/{lb['id']}/listeners", {"protocol": "tcp", "port": 7001})
        zlb_l = tenant.call("POST", f"/v1/loadbalancers/{lb['id']}/listeners", {"protocol": "tcp", "port": 7002})
        ak, sk, host = project["access_key_id"], project["access_key_secret"], f"127.0.0.1:{port}"

        def native(inst):
            body = json.dumps({"backends": [{"instance_id": inst, "port": 80, "weight": 10}]}).encode()
            return ("POST", f"/v1/listeners/{native_l['id']}/backends", body,
                    {"Authorization": f"Bearer {project['token']}", "Content-Type": "application/json"})

        def zlb(inst):
            body = json.dumps({"loadBalancerId": lb["id"], "listenerId": zlb_l["id"],
                               "backendServers": [{"instanceId": inst, "weight": 10, "port": 80}]}).encode()
            return ("POST", "/api/v2/zlb", body, zc2_headers(ak, sk, host, body))

        results = {"native": [], "zlb": []}
        natives, zlbs = instances[:n], instances[n:]
        for r in range(args.rounds):
            for name, fn, pool in (("native", native, natives), ("zlb", zlb, zlbs)):
                jobs = pool[r * args.per_round:(r + 1) * args.per_round]
                before = cpu_seconds(proc.pid)
                wall = run_round(port, jobs, fn)
                used = cpu_seconds(proc.pid) - before
                results[name].append((used / len(jobs) * 1e6, len(jobs) / wall))
        print(f"{args.rounds} rounds x {args.per_round} single-backend registrations, {THREADS} clients")
        for name, rows in results.items():
            cpu = [c for c, _ in rows]
            rate = [r for _, r in rows]
            print(f"  {name:6s}: server CPU per registration median {statistics.median(cpu):7.1f} us "
                  f"(rounds: {', '.join(f'{c:.0f}' for c in cpu)}), {statistics.median(rate):6.0f} reg/s")
        ratio = statistics.median([c for c, _ in results["zlb"]]) / statistics.median([c for c, _ in results["native"]])
        print(f"  zlb / native server CPU: {ratio:.3f} (goal <= 1.10)")
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
