"""L7 rule count against HTTP keep-alive throughput and CPU per request.

    WEIR_BIN=target/release/weir python3 bench/l7_rules.py [--counts 0,1,100,1000]
                                                           [--rounds 3] [--duration 5]

Uses bench/dataplane.py's helpers (nginx backends, wrk -t2 -c64 after a
2 s warm-up, the proxy's user + system CPU from /proc) on a port block of
its own (19700+). For each rule count a fresh `weir serve` (one
data-plane worker) gets an HTTP listener with the three backends, then
that many rules through the native API: policies of up to ten rules each
(at most 100 policies, Weir's limit), every kind mixed (path prefixes,
regexes and substrings, host equality and suffix, header and cookie
equality) and none matching wrk's `GET /`, so every policy is evaluated
and the request goes to the listener's own pool: the worst case for the
matcher. With --heavy the requests carry a 60-byte path with a query,
a Cookie field of 20 cookies and 20 more header fields, several of them
names the rules read (so every subject is found and compared). Rounds
alternate the order of the counts. Bounded: each wrk run lasts
--duration seconds, each API call 30 s at most."""
import argparse
import importlib.util
import json
import os
import shutil
import tempfile

spec = importlib.util.spec_from_file_location(
    "dataplane", os.path.join(os.path.dirname(os.path.abspath(__file__)), "dataplane.py"))
dp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dp)
dp.BACKENDS = [19701, 19702, 19703]
PORT = 19741


def rule(i):
    """The i-th rule: one of seven kinds, each value distinct."""
    kind = i % 7
    if kind == 0:
        return {"type": "path", "compare_type": "starts-with", "value": f"/p{i}/"}
    if kind == 1:
        return {"type": "path", "compare_type": "regex", "value": f"^/r{i}/[0-9]+/(a|b)$"}
    if kind == 2:
        return {"type": "host-name", "compare_type": "equal-to", "value": f"h{i}.example"}
    if kind == 3:
        return {"type": "header", "compare_type": "equal-to", "key": f"X-H{i % 20}", "value": f"v{i}"}
    if kind == 4:
        return {"type": "cookie", "compare_type": "equal-to", "key": f"c{i % 20}", "value": f"v{i}"}
    if kind == 5:
        return {"type": "path", "compare_type": "contains", "value": f"/seg{i}/"}
    return {"type": "host-name", "compare_type": "ends-with", "value": f".d{i}.example"}


def add_rules(w, listener_id, count):
    """`count` rules in policies of up to ten, none matching `GET /`."""
    per = 10 if count >= 10 else max(count, 1)
    made = 0
    while made < count:
        n = min(per, count - made)
        body = {"action": "reject", "rules": [rule(made + k) for k in range(n)]}
        status, reply = dp.api(w.url, "POST", f"/v1/listeners/{listener_id}/l7policies", w.token, body)
        assert status == 201, reply
        made += n


HEAVY_PATH = "/shop/catalog/items/2026/winter/boots/leather/size-42?color=brown&x=1"


def heavy_wrk(url, duration, pid):
    """dp.wrk with the --heavy request: many fields and cookies."""
    cookies = "; ".join(f"c{i}=value{i}" for i in range(20))
    headers = ["-H", f"Cookie: {cookies}"]
    for i in range(20):
        headers += ["-H", f"X-H{i}: other{i}"]
    args = ["wrk", "-t2", "-c64", "--latency"] + headers
    dp.subprocess.run(args + ["-d2s", url], capture_output=True, timeout=60)
    cpu0 = dp.cpu_seconds(pid)
    out = dp.subprocess.run(args + [f"-d{duration}s", url], capture_output=True, text=True,
                            timeout=duration + 60).stdout
    cpu = dp.cpu_seconds(pid) - cpu0
    requests = int(dp.re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(x) for x in dp.re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    m = dp.re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m.group(1)) if m else 0
    return {"rps": float(dp.re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "errors": errors, "cpu_us": cpu * 1e6 / requests if requests else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", default="0,1,100,1000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--heavy", action="store_true")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    work = tempfile.mkdtemp(prefix="weir-l7-")
    procs = dp.Procs()
    runs = {c: [] for c in counts}
    try:
        procs.start(["nginx", "-c", dp.backends_conf(work)])
        for p in dp.BACKENDS:
            dp.wait_port(p)
        for r in range(args.rounds):
            order = counts if r % 2 == 0 else counts[::-1]
            for count in order:
                w = dp.Weir(procs, work, 1, "127.67.0.0/24")
                listener = w.listener("http", PORT, dp.BACKENDS)
                add_rules(w, listener["id"], count)
                if args.heavy:
                    result = heavy_wrk(f"http://{w.vip}:{PORT}{HEAVY_PATH}", args.duration, w.proc.pid)
                else:
                    result = dp.wrk(f"http://{w.vip}:{PORT}/", args.duration, pid=w.proc.pid)
                runs[count].append(result)
                print(r, count, json.dumps(result), flush=True)
                procs.stop(w.proc)
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    print(f"| rules | µs CPU / request, {args.rounds} rounds, sorted | median | req/s median | errors |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for count, rs in runs.items():
        cpu = sorted(x["cpu_us"] for x in rs)
        rps = sorted(x["rps"] for x in rs)
        print(f"| {count} | {' '.join(f'{c:.1f}' for c in cpu)} | {cpu[len(cpu) // 2]:.1f} | "
              f"{rps[len(rps) // 2]:,.0f} | {sum(x['errors'] for x in rs)} |")


if __name__ == "__main__":
    main()
