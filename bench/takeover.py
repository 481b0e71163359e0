"""Restarts under load: `weir serve --takeover` replaces the running
process while wrk drives an HTTP listener, on kept-alive connections and on
a new connection per request; every request must succeed.

    python3 bench/takeover.py [--rounds 5] [--duration 6]

Uses bench/dataplane.py's helpers (nginx backends, one data-plane worker)
on a port block of its own (19700+). Each round runs wrk -t2 -c64 for
`--duration` seconds, starts `weir serve --takeover` a third of the way
in, and reports wrk's errors (connect, read, write, timeout, non-2xx),
the requests answered in the wall-clock seconds spanning the handover
(bench/takeover.lua counts answers per second), and how long the
handover took: from starting the successor to its announcing the API, and
to the old process's exit (its drain: its kept-alive connections end at
their next answer). Build first with `cargo build --release -p weir`."""
import argparse
import importlib.util
import math
import os
import re
import shutil
import subprocess
import tempfile
import time

spec = importlib.util.spec_from_file_location(
    "dataplane", os.path.join(os.path.dirname(os.path.abspath(__file__)), "dataplane.py"))
dp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dp)
dp.BACKENDS = [19701, 19702, 19703]
PORT = 19741
LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "takeover.lua")


def successor(w):
    """`weir serve --takeover` with the running one's arguments; returns
    the process and when it announced the API."""
    cfg = f"{w.dir}/weir.toml"
    env = dict(os.environ, WEIR_ADMIN_TOKEN=dp.ADMIN, WEIR_LOG="warn", WEIR_EGRESS_ALLOW="127.0.0.0/8")
    started = time.time()
    proc = subprocess.Popen([dp.WEIR, "serve", "--data-dir", w.dir, "--listen", "127.0.0.1:0", "--config", cfg,
                             "--takeover"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    line = ""
    deadline = time.time() + 60
    while "listening on" not in line and time.time() < deadline:
        line = proc.stdout.readline()
    assert "listening on" in line, "the successor never announced its API"
    assert line.split()[-1] == w.url, f"the API socket moved: {line.strip()} vs {w.url}"
    return proc, started, time.time()


def round_(w, duration, close):
    args = ["wrk", "-t2", "-c64", f"-d{duration}s", "-s", LUA]
    if close:
        args += ["-H", "Connection: close"]
    load = subprocess.Popen(args + [f"http://{w.vip}:{PORT}/"], stdout=subprocess.PIPE, text=True)
    time.sleep(duration / 3)
    old = w.proc
    new, started, announced = successor(w)
    old.wait(timeout=60)
    exited = time.time()
    assert old.returncode == 0, f"the old process exited with {old.returncode}"
    out, _ = load.communicate(timeout=duration + 60)
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m.group(1)) if m else 0
    total = int(re.search(r"(\d+) requests in", out).group(1))
    ok = {int(s): int(n) for s, n in re.findall(r"second (\d+) ok (\d+)", out)}
    bad = sum(int(n) for n in re.findall(r"second \d+ bad (\d+)", out))
    window = range(math.floor(started), math.ceil(exited) + 1)
    during = sum(n for s, n in ok.items() if s in window)
    w.proc = new
    return {"requests": total, "errors": errors + bad, "during": during, "seconds": len(window),
            "serving_ms": round((announced - started) * 1000), "old_exit_ms": round((exited - started) * 1000)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=6)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="weir-takeover-")
    procs = dp.Procs()
    results = []
    w = None
    try:
        procs.start(["nginx", "-c", dp.backends_conf(work)])
        for p in dp.BACKENDS:
            dp.wait_port(p)
        w = dp.Weir(procs, work, 1, "127.67.0.0/24")
        w.listener("http", PORT, dp.BACKENDS)
        # The first process is Procs'; successors are this script's.
        procs.procs.remove(w.proc)
        for r in range(args.rounds):
            for close in (False, True):
                res = round_(w, args.duration, close)
                res["mode"] = "new connection per request" if close else "keep-alive"
                results.append(res)
                print(r, res, flush=True)
    finally:
        if w is not None:
            try:
                os.killpg(w.proc.pid, 15)
                w.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    for mode in ("keep-alive", "new connection per request"):
        rs = [x for x in results if x["mode"] == mode]
        if not rs:
            continue
        serving = sorted(x["serving_ms"] for x in rs)
        exits = sorted(x["old_exit_ms"] for x in rs)
        print(f"{mode}: {len(rs)} takeovers, {sum(x['requests'] for x in rs)} requests, "
              f"errors {sum(x['errors'] for x in rs)}; answered in the seconds spanning each handover "
              f"{[x['during'] for x in rs]}; successor serving after (ms) median {serving[len(serving) // 2]}, "
              f"old process gone after (ms) median {exits[len(exits) // 2]}")


if __name__ == "__main__":
    main()
