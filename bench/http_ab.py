"""Side by side: two `weir` binaries' CPU per HTTP keep-alive request.

    python3 bench/http_ab.py OLD_BINARY NEW_BINARY [--rounds 4] [--duration 5]
                             [--body-bytes N]

Uses bench/dataplane.py's helpers (nginx backends, wrk -t2 -c64, the proxy's
user + system CPU from /proc) on a port block of its own (19600+), so it
can run beside the full bench. With --body-bytes the backends serve a
static file of that size (a response body the proxy relays on its own,
past the head it reads) instead of their 9-byte answer. Rounds alternate
which binary goes first;
Weir runs with one data-plane worker. Build each binary with
`cargo build --release -p weir` from the commit to compare."""
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
dp.BACKENDS = [19601, 19602, 19603]
PORT = 19641


def file_backends_conf(work, size):
    """nginx backends that each serve one static file of `size` bytes."""
    root = os.path.join(work, "www")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "index.html"), "wb") as f:
        f.write(b"x" * size)
    # nginx's workers drop root: they must be able to read the file.
    for path, mode in ((work, 0o755), (root, 0o755), (os.path.join(root, "index.html"), 0o644)):
        os.chmod(path, mode)
    servers = "\n".join(
        f"server {{ listen 127.0.0.1:{p} reuseport backlog=4096; keepalive_requests 1000000; "
        f"location / {{ root {root}; }} }}"
        for p in dp.BACKENDS)
    return dp.nginx_conf(work, f"http {{ access_log off; {servers} }}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--body-bytes", type=int, default=0)
    args = ap.parse_args()
    binaries = {"old": args.old, "new": args.new}
    work = tempfile.mkdtemp(prefix="weir-ab-")
    procs = dp.Procs()
    runs = {name: [] for name in binaries}
    try:
        procs.start(["nginx", "-c", file_backends_conf(work, args.body_bytes)
                     if args.body_bytes else dp.backends_conf(work)])
        for p in dp.BACKENDS:
            dp.wait_port(p)
        for r in range(args.rounds):
            order = list(binaries) if r % 2 == 0 else list(binaries)[::-1]
            for name in order:
                dp.WEIR = binaries[name]
                w = dp.Weir(procs, work, 1, "127.66.0.0/24")
                w.listener("http", PORT, dp.BACKENDS)
                ka = dp.wrk(f"http://{w.vip}:{PORT}/", args.duration, pid=w.proc.pid)
                runs[name].append(ka)
                print(r, name, json.dumps(ka), flush=True)
                procs.stop(w.proc)
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    for name, rs in runs.items():
        cpu = sorted(x["cpu_us"] for x in rs)
        rps = sorted(x["rps"] for x in rs)
        print(f"{name}: µs CPU / request {[round(c, 1) for c in cpu]}, median {cpu[len(cpu) // 2]:.1f}; "
              f"req/s median {rps[len(rps) // 2]:.0f}; errors {sum(x['errors'] for x in rs)}")


if __name__ == "__main__":
    main()
