#!/usr/bin/env python3
"""Anycast VIPs through BIRD in network namespaces (issue 17,
`cluster.vip_mode = "anycast"`).

Builds its own world and tears it down, addressed from 198.18.0.0/15
(RFC 2544's benchmarking range), so no packet leaves it: a namespace
holding a bridge with a router, two Weir nodes and a backend on it
(198.18.0.0/24), and a client namespace behind the router on a link of
its own (198.18.2.0/24). The router runs BIRD with an eBGP session to
each node's BIRD and installs the VIP's routes into its kernel with ECMP
(`merge paths`, L4 hashing, so each new connection picks a node). Each
node runs its own BIRD, whose configuration includes the file Weir
writes (`cluster.bird_include`); Weir talks to it on a private control
socket. VIPs go on each node's `lo` (`cluster.vip_interface`).
PostgreSQL is a throwaway cluster on a Unix socket (bench/failover.py's).

The run checks, in order: a load balancer whose listener has no healthy
backend is not announced; once one is, both nodes are (two next hops);
a node cut off from the backend (a blackhole route in its namespace,
a TCP health check on the pool) withdraws while the other keeps the VIP,
and announces again once the backend is back; then, in a client loop of new HTTP connections every 10 ms (bounded in
count and time), each round kills one node's Weir with SIGKILL (its BIRD
keeps running: the node's VIP guard takes the address off and BIRD
withdraws the route at once), counts the failed connections and how long they
went on, restarts the node and waits until it is announced again;
finally a SIGTERM, which withdraws before the listeners close.

Usage (root): bench/anycast.py [--kills N] [--timeout-ms T] [--weir PATH]
Exits 0 with a notice when namespaces or BIRD are missing; with --check,
exits non-zero unless every step above held (the SIGTERM with no failed
connection at all, and each killed node's route gone within 0.5 s: its
VIP guard takes the addresses off at once, where their kernel lifetime
alone would take a second or more).
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from failover import ADMIN, BACKEND, CLIENT, World, api, read_lines, sh  # noqa: E402

NET = "198.18.0"
CLIENT_NET = "198.18.2"
VIP_RANGE = "198.18.1.96/28"
BIRD = shutil.which("bird") or "/usr/sbin/bird"


class AnycastWorld(World):
    def __init__(self, tag):
        super().__init__(tag)
        self.ns = {k: f"wa{tag}{k}" for k in ("br", "r", "c", "n1", "n2", "be")}

    def build(self):
        for name in self.ns.values():
            sh("ip", "netns", "add", name)
        br = self.ns["br"]
        sh("ip", "-n", br, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", br, "link", "set", "br0", "up")
        for i, (key, host) in enumerate([("r", 1), ("n1", 11), ("n2", 12), ("be", 20)]):
            ns = self.ns[key]
            port = f"p{i}"
            sh("ip", "link", "add", port, "netns", br, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", br, "link", "set", port, "master", "br0", "up")
            sh("ip", "-n", ns, "addr", "add", f"{NET}.{host}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        r, c = self.ns["r"], self.ns["c"]
        sh("ip", "link", "add", "eth1", "netns", r, "type", "veth", "peer", "name", "eth0", "netns", c)
        sh("ip", "-n", r, "addr", "add", f"{CLIENT_NET}.1/24", "dev", "eth1")
        sh("ip", "-n", r, "link", "set", "eth1", "up")
        sh("ip", "-n", c, "addr", "add", f"{CLIENT_NET}.2/24", "dev", "eth0")
        sh("ip", "-n", c, "link", "set", "eth0", "up")
        sh("ip", "-n", c, "link", "set", "lo", "up")
        sh("ip", "-n", c, "route", "add", "default", "via", f"{CLIENT_NET}.1")
        for key in ("n1", "n2"):
            sh("ip", "-n", self.ns[key], "route", "add", f"{CLIENT_NET}.0/24", "via", f"{NET}.1")
        sh("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # Hash on ports too, so each new connection of the one client may
        # go to either node.
        sh("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1")

    def teardown(self):
        keep = os.environ.get("ANYCAST_KEEP_LOGS")
        if keep:
            for key in ("n1", "n2", "bird-r", "bird-n1", "bird-n2"):
                src = os.path.join(self.tmp, key)
                if os.path.isdir(src):
                    try:
                        shutil.copytree(src, os.path.join(keep, key), dirs_exist_ok=True,
                                        ignore=shutil.ignore_patterns("*.ctl", "*.sock", "weir.db*"))
                    except shutil.Error:
                        pass
        super().teardown()

    def bird(self, key, config):
        d = os.path.join(self.tmp, f"bird-{key}")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "bird.conf")
        with open(path, "w") as f:
            f.write(config)
        sock = os.path.join(d, "bird.ctl")
        log = os.path.join(d, "log")
        proc = self.spawn(key, [BIRD, "-f", "-c", path, "-s", sock, "-P", os.path.join(d, "pid")],
                          stdout=subprocess.DEVNULL, stderr=open(log, "a"))
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"bird in {key} exited: {open(log).read()}")
            time.sleep(0.05)
        return sock


def router_config():
    peers = "".join(f"""
protocol bgp {key} {{
  local {NET}.1 as 65000;
  neighbor {NET}.{host} as 65010;
  hold time 3;
  ipv4 {{ import all; export none; }};
}}
""" for key, host in (("n1", 11), ("n2", 12)))
    return f"""router id {NET}.1;
protocol device {{ }}
protocol kernel {{
  ipv4 {{ export all; }};
  merge paths on;
}}
{peers}"""


def node_bird_config(host, include):
    return f"""router id {NET}.{host};
protocol device {{ }}
include "{include}";
protocol bgp uplink {{
  local {NET}.{host} as 65010;
  neighbor {NET}.1 as 65000;
  hold time 3;
  ipv4 {{ import none; export where proto = "weir_anycast"; }};
}}
"""


def start_node(world, key, weir, store_url, timeout_ms, sock, include):
    data = os.path.join(world.tmp, key)
    os.makedirs(data, exist_ok=True)
    config = os.path.join(data, "weir.toml")
    with open(config, "w") as f:
        f.write(f"""[store]
url = "{store_url}"
[network]
backend_ranges = ["{NET}.0/24"]
external_backend_ranges = ["{NET}.0/24"]
vip_ranges = ["{VIP_RANGE}"]
[dataplane]
workers = 1
egress_allow = ["{NET}.0/24"]
[cluster]
node_name = "{key}"
node_timeout_ms = {timeout_ms}
vip_mode = "anycast"
vip_interface = "lo"
bird_socket = "{sock}"
bird_include = "{include}"
""")
    env = dict(os.environ, WEIR_ADMIN_TOKEN=ADMIN, WEIR_LISTEN="127.0.0.1:8480", WEIR_LOG="info",
               WEIR_EGRESS_ALLOW=f"{NET}.0/24")
    env.pop("WEIR_SECRETS_KEY", None)
    log = open(os.path.join(data, "log"), "a")
    proc = world.spawn(key, [weir, "serve", "--config", config, "--data-dir", data],
                       env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if api(world, key, "GET", "/healthz").get("status") == "ok":
            return proc
        if proc.poll() is not None:
            raise SystemExit(f"node {key} exited: see {data}/log")
        time.sleep(0.1)
    raise SystemExit(f"node {key} never answered")


def next_hops(world, vip):
    """The router's kernel next hops for the VIP."""
    words = sh("ip", "-n", world.ns["r"], "route", "show", f"{vip}/32", check=False).stdout.split()
    return sorted(words[i + 1] for i, w in enumerate(words[:-1]) if w == "via")


def wait_hops(world, vip, want, limit):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if len(next_hops(world, vip)) == want:
            return True
        time.sleep(0.05)
    return False


def run(args):
    world = AnycastWorld(os.getpid() % 10000)
    try:
        world.build()
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print(f"anycast test skipped: cannot create network namespaces ({e})")
        shutil.rmtree(world.tmp, ignore_errors=True)
        return 0
    checks = {}
    results = []
    try:
        # World.postgres() gives the database's directory (its socket's
        # too); the nodes dial it directly, no proxy needed here.
        store_url = f"postgres://weir@localhost/postgres?host={world.postgres()}"
        world.spawn("be", [sys.executable, "-c", BACKEND])
        world.bird("r", router_config())
        socks = {}
        for key, host in (("n1", 11), ("n2", 12)):
            include = os.path.join(world.tmp, key, "weir-anycast.conf")
            os.makedirs(os.path.dirname(include), exist_ok=True)
            open(include, "w").close()
            socks[key] = (world.bird(key, node_bird_config(host, include)), include)
        nodes = {k: start_node(world, k, args.weir, store_url, args.timeout_ms, *socks[k]) for k in ("n1", "n2")}
        project = api(world, "n1", "POST", "/v1/projects", {"name": "anycast"})
        vpc = api(world, "n1", "POST", "/v1/vpcs", {"project_id": project["id"], "cidr": "10.0.0.0/16"})
        subnet = api(world, "n1", "POST", "/v1/subnets", {"vpc_id": vpc["id"], "cidr": "10.0.1.0/24"})
        token = project["token"]
        lb = api(world, "n1", "POST", "/v1/loadbalancers", {"subnet_id": subnet["id"]}, token)
        listener = api(world, "n1", "POST", f"/v1/loadbalancers/{lb['id']}/listeners",
                       {"protocol": "tcp", "port": 80}, token)
        vip = lb["vip"]
        # No backend: nothing to serve, nothing announced.
        time.sleep(6 * args.timeout_ms / 1000 + 1)
        checks["no_backend_not_announced"] = next_hops(world, vip) == []
        reg = api(world, "n1", "POST", f"/v1/listeners/{listener['id']}/backends",
                  {"backends": [{"address": f"{NET}.20", "port": 8000}]}, token)
        assert reg.get("backends"), reg
        checks["both_announced"] = wait_hops(world, vip, 2, 30)
        print(json.dumps({"vip": vip, "next_hops": next_hops(world, vip)}), flush=True)
        # Health is each node's own: with a TCP check on the pool, a node
        # cut off from the backend (a blackhole route in its namespace)
        # withdraws the VIP while the other keeps it, and announces it
        # again once the backend is back.
        pool = api(world, "n1", "PATCH", f"/v1/pools/{listener['default_pool_id']}",
                   {"health_check": {"type": "tcp", "interval_ms": 200, "timeout_ms": 150,
                                     "rise": 2, "fall": 2}}, token)
        assert pool.get("health_check"), pool
        n1 = world.ns["n1"]
        sh("ip", "-n", n1, "route", "add", "blackhole", f"{NET}.20/32")
        cut_off = wait_hops(world, vip, 1, 15) and next_hops(world, vip) == [f"{NET}.12"]
        sh("ip", "-n", n1, "route", "del", "blackhole", f"{NET}.20/32")
        checks["a_node_cut_off_from_its_backends_withdraws"] = cut_off
        checks["and_announces_again_when_they_are_back"] = wait_hops(world, vip, 2, 15)
        limit = 25.0 * args.kills + 30
        client_out = os.path.join(world.tmp, "client.jsonl")
        client = world.spawn("c", [sys.executable, "-c", CLIENT, vip, str(limit), str(int(limit * 100)), client_out])
        for i in range(args.kills):
            name = ("n1", "n2")[i % 2]
            wait_hops(world, vip, 2, 20)
            time.sleep(1)
            killed_at = time.time()
            nodes[name].send_signal(signal.SIGKILL)
            nodes[name].wait()
            withdrawn = None
            if wait_hops(world, vip, 1, 15):
                withdrawn = time.time() - killed_at
            # Connections the router still sent to the dead node after
            # the route went would fail too: look a second past it.
            time.sleep(1)
            window = [l for l in read_lines(client_out) if l[0] > killed_at]
            failed = [l for l in window if not l[1]]
            last_failure = max((l[0] for l in failed), default=killed_at) - killed_at
            results.append({"kill": i + 1, "node": name, "withdrawn_after_s": withdrawn,
                            "failed": len(failed), "failing_for_s": round(last_failure, 3),
                            "requests_in_window": len(window)})
            nodes[name] = start_node(world, name, args.weir, store_url, args.timeout_ms, *socks[name])
            back_at = time.time()
            if wait_hops(world, vip, 2, 30):
                results[-1]["announced_again_after_s"] = round(time.time() - back_at, 3)
            print(json.dumps(results[-1]), flush=True)
        # A planned stop withdraws first: no connection should fail.
        wait_hops(world, vip, 2, 20)
        time.sleep(1)
        stopped_at = time.time()
        nodes["n1"].send_signal(signal.SIGTERM)
        nodes["n1"].wait()
        time.sleep(2)
        window = [l for l in read_lines(client_out) if l[0] > stopped_at]
        term = {"failed": sum(1 for l in window if not l[1]), "requests": len(window),
                "next_hops_after": len(next_hops(world, vip))}
        print(json.dumps({"sigterm": term}), flush=True)
        client.terminate()
        client.wait()
        served = [l for l in read_lines(client_out)]
        summary = {
            "kills": len(results),
            "timeout_ms": args.timeout_ms,
            "failed_median": statistics.median([r["failed"] for r in results] or [0]),
            "failing_for_median_s": statistics.median([r["failing_for_s"] for r in results] or [0]),
            "withdrawn_after_median_s": statistics.median(
                [r["withdrawn_after_s"] for r in results if r["withdrawn_after_s"] is not None] or [float("nan")]),
            "requests": len(served),
            "sigterm": term,
            "checks": checks,
        }
        print(json.dumps(summary), flush=True)
        if args.check:
            ok = (all(checks.values()) and term["failed"] == 0 and term["next_hops_after"] == 1
                  and all(r["withdrawn_after_s"] is not None and r["withdrawn_after_s"] < 0.5
                          and "announced_again_after_s" in r for r in results))
            if not ok:
                print("anycast check FAILED", flush=True)
                return 1
            print("anycast check passed", flush=True)
        return 0
    finally:
        world.teardown()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--timeout-ms", type=int, default=600)
    ap.add_argument("--weir", default="target/debug/weir")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("ip"):
        print("anycast test skipped: needs root and iproute2 to create network namespaces")
        return 0
    if not os.path.exists(BIRD):
        print("anycast test skipped: no bird (BIRD 2; .ci/run installs bird2)")
        return 0
    if not os.path.isdir("/usr/lib/postgresql"):
        print("anycast test skipped: no PostgreSQL server binaries (scripts/postgres-for-tests installs them)")
        return 0
    args.weir = os.path.abspath(args.weir)
    # A SIGTERM (a timeout) still tears the world down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
