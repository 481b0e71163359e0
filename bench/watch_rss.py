#!/usr/bin/env python3
"""Resident memory of `weir serve` per connected watcher (issue 18 follow-up).

Starts the server (WEIR_BIN, default target/debug/weir, nothing is built),
opens WATCHERS `GET /v1/watch` streams in STEPS batches with one project's
token, and after each batch prints the server's Rss and anonymous memory
(/proc/PID/smaps_rollup), its thread count and its number of mappings, so
the growth per watcher and where it lives (threads, mmap'd blocks, heap)
can be read off. Loopback only; every wait is bounded.
Usage: bench/watch_rss.py [WATCHERS=200] [STEPS=4]
"""
import asyncio, importlib.util, os, shutil, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("WEIR_BIN", os.path.join(ROOT, "target/debug/weir"))
_spec = importlib.util.spec_from_file_location("watch_bench", os.path.join(ROOT, "bench/watch.py"))
wb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wb)


def sample(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            p = line.split()
            if p[0] in ("Rss:", "Anonymous:"):
                out[p[0].rstrip(":").lower() + "_kib"] = int(p[1])
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                out["threads"] = int(line.split()[1])
    with open(f"/proc/{pid}/maps") as f:
        out["mappings"] = sum(1 for _ in f)
    return out


async def main(n, steps):
    d = tempfile.mkdtemp(prefix="weir-rss-")
    proc, port = wb.start_server(d, f"[api]\nwatch_max_watchers = {n + 16}\nwatch_max_per_project = {n + 16}\n")
    tasks = []
    try:
        project = await wb.must(port, wb.ADMIN, "POST", "/v1/projects", {"name": "rss"})
        await asyncio.sleep(0.5)
        print(0, sample(proc.pid), flush=True)
        total = 0
        for _ in range(steps):
            batch = [wb.Watcher() for _ in range(n // steps)]
            tasks += [asyncio.create_task(w.run(port, project["token"])) for w in batch]
            await asyncio.wait_for(asyncio.gather(*(w.ready.wait() for w in batch)), wb.LIMIT * 2)
            total += len(batch)
            await asyncio.sleep(0.5)
            print(total, sample(proc.pid), flush=True)
    finally:
        for t in tasks:
            t.cancel()
        proc.kill(); proc.wait(); shutil.rmtree(d)


if __name__ == "__main__":
    watchers = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    if not 1 <= steps <= watchers <= 2000:
        sys.exit("1 <= STEPS <= WATCHERS <= 2000")
    asyncio.run(main(watchers, steps))
