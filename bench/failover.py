#!/usr/bin/env python3
"""VIP failover in network namespaces (issue 17, `cluster.vip_mode = "failover"`).

Builds its own world and tears it down: a namespace holding a bridge,
and on it a client, two Weir nodes and a backend, each in a namespace of
its own behind a veth pair, addressed from 198.18.0.0/24 (RFC 2544's
benchmarking range): no packet leaves them. PostgreSQL is a throwaway
cluster listening on a Unix socket only (a file in a temporary directory,
which every namespace sees), so no database packet exists at all.

Each node reaches PostgreSQL through a forwarding proxy of its own (a
Unix socket per node), which the test can cut: a partition of that node
from the database while its clients still reach it.

A client loop in the client namespace opens a new TCP connection to the
VIP every 10 ms (bounded in count and time) and sends an HTTP request;
an ARP prober there asks who has the VIP every 20 ms and records every
hardware address that answers each question. Each round kills the owning
node with SIGKILL, measures the gap until requests succeed again (through
the other node) and the failed requests, then restarts the killed node
(which must not take the VIP back). Each takeover round restarts the
owner with `weir serve --takeover` and counts failed requests (none may
fail, and the VIP must stay on that node). Then each partition round
cuts the owner's database path while the client loop runs, measures when the
owner takes the VIP off its interface (the fence: within 5T/6 of the
cut) and when the other node puts it on, heals the cut, and checks that
the old owner takes nothing back.

Usage (root): bench/failover.py [--kills N] [--takeovers N] [--partitions N] [--timeout-ms T]
                               [--ipv6] [--kill-guard] [--weir PATH]
--ipv6 makes the VIP an IPv6 address (neighbour discovery instead of ARP);
--kill-guard kills each node's VIP guard with it, so the dead node's
address outlives it and the taker's probe must wait for it to go.
Exits 0 with a notice when it cannot create namespaces (not root, no
`ip netns`); with --check, exits non-zero unless every kill failed over
to the other node, the killed node's address went, the restarted node
took nothing back, no request failed across a takeover, every
partitioned owner took its address off before the other node put it on
and took nothing back once healed, a SIGTERM failed over too, and no ARP
question was answered by two MACs.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

NET = "198.18.0"
# With --ipv6 the VIP is an IPv6 address (documentation range, inside
# the namespaces only): neighbour discovery instead of ARP.
NET6 = "2001:db8:18:"
ADMIN = "failover-admin"


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


class World:
    def __init__(self, tag):
        self.tag = tag
        self.ns = {k: f"wf{tag}{k}" for k in ("br", "c", "n1", "n2", "be")}
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="weir-failover-")
        os.chmod(self.tmp, 0o755)

    def build(self):
        for name in self.ns.values():
            sh("ip", "netns", "add", name)
        br = self.ns["br"]
        sh("ip", "-n", br, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", br, "link", "set", "br0", "up")
        for i, (key, host) in enumerate([("c", 2), ("n1", 11), ("n2", 12), ("be", 20)]):
            ns = self.ns[key]
            port = f"p{i}"
            sh("ip", "link", "add", port, "netns", br, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", br, "link", "set", port, "master", "br0", "up")
            sh("ip", "-n", ns, "addr", "add", f"{NET}.{host}/24", "dev", "eth0")
            sh("ip", "-n", ns, "addr", "add", f"{NET6}:{host}/64", "dev", "eth0", "nodad")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")

    def teardown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for name in self.ns.values():
            sh("ip", "netns", "del", name, check=False)
        pg = os.path.join(self.tmp, "pg")
        if os.path.isdir(pg):
            sh("runuser", "-u", "postgres", "--", self.pg_bin("pg_ctl"), "-D", pg, "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, ns, args, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[ns], *args], **kw)
        self.procs.append(p)
        return p

    @staticmethod
    def pg_bin(name):
        versions = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: int(v) if v.isdigit() else 0)
        return f"/usr/lib/postgresql/{versions[-1]}/bin/{name}"

    def postgres(self):
        pg = os.path.join(self.tmp, "pg")
        os.mkdir(pg)
        shutil.chown(pg, "postgres", "postgres")
        sh("runuser", "-u", "postgres", "--", self.pg_bin("initdb"), "-D", pg, "-U", "weir", "--auth=trust", "-N")
        sh("runuser", "-u", "postgres", "--", self.pg_bin("pg_ctl"), "-D", pg, "-w", "-l", os.path.join(pg, "log"),
           "-o", f"-k {pg} -c listen_addresses='' -c fsync=off", "start")
        return pg

    def proxy(self, key, pg):
        """Starts `key`'s path to PostgreSQL; returns its process and URL."""
        d = os.path.join(self.tmp, f"px-{key}")
        os.mkdir(d)
        sock = os.path.join(d, ".s.PGSQL.5432")
        p = subprocess.Popen([sys.executable, "-c", PROXY, sock, os.path.join(pg, ".s.PGSQL.5432")])
        self.procs.append(p)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock + ".ready"):
            if time.monotonic() > deadline or p.poll() is not None:
                raise SystemExit(f"the database proxy of {key} did not start")
            time.sleep(0.02)
        return p, f"postgres://weir@localhost/postgres?host={d}"


def api(world, ns, method, path, body=None, token=ADMIN):
    args = ["curl", "-s", "-X", method, "-H", f"Authorization: Bearer {token}",
            f"http://127.0.0.1:8480{path}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    out = sh("ip", "netns", "exec", world.ns[ns], *args, check=False).stdout
    try:
        return json.loads(out)
    except ValueError:
        return {}


def start_node(world, key, weir, store_url, timeout_ms, takeover=False):
    data = os.path.join(world.tmp, key)
    os.makedirs(data, exist_ok=True)
    config = os.path.join(data, "weir.toml")
    with open(config, "w") as f:
        f.write(f"""[store]
url = "{store_url}"
[network]
backend_ranges = ["{NET}.0/24"]
external_backend_ranges = ["{NET}.0/24"]
vip_ranges = ["{NET}.96/28", "{NET6}:100/120"]
[dataplane]
workers = 1
egress_allow = ["{NET}.0/24"]
[cluster]
node_name = "{key}"
node_timeout_ms = {timeout_ms}
vip_mode = "failover"
vip_interface = "eth0"
[takeover]
drain_timeout_ms = 1000
""")
    env = dict(os.environ, WEIR_ADMIN_TOKEN=ADMIN, WEIR_LISTEN="127.0.0.1:8480", WEIR_LOG="warn",
               WEIR_EGRESS_ALLOW=f"{NET}.0/24")
    env.pop("WEIR_SECRETS_KEY", None)
    log = open(os.path.join(data, "log"), "a")
    proc = world.spawn(key, [weir, "serve", "--config", config, "--data-dir", data,
                             *(["--takeover"] if takeover else [])],
                       env=env, stdout=log, stderr=log)
    if takeover:
        # The predecessor answers /healthz until it has handed over.
        return proc
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if api(world, key, "GET", "/healthz").get("status") == "ok":
            return proc
        if proc.poll() is not None:
            raise SystemExit(f"node {key} exited: see {data}/log")
        time.sleep(0.1)
    raise SystemExit(f"node {key} never answered")


BACKEND = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    def handle_error(self, *a): pass  # a client that hung up early
S(("0.0.0.0", 8000), H).serve_forever()
"""

# New connection per request, every 10 ms, for at most `limit` seconds and
# `count` requests; one JSON line per request: time, ok.
CLIENT = r"""
import socket, sys, time, json
vip, limit, count, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
end = time.time() + limit
with open(out, "w", buffering=1) as f:
    for _ in range(count):
        if time.time() > end:
            break
        t = time.time(); ok = False
        try:
            s = socket.create_connection((vip, 80), timeout=0.2)
            s.settimeout(0.5)
            s.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
            ok = s.recv(64).startswith(b"HTTP/1.0 200") or False
            s.close()
        except OSError:
            pass
        f.write(json.dumps([t, ok]) + "\n")
        time.sleep(0.01)
"""

# Who has the VIP? every 20 ms; records each probe's answering MACs.
ARP = r"""
import socket, struct, sys, time, json, fcntl
vip, limit, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("eth0", 0)); s.settimeout(0.005)
mac = s.getsockname()[4]
me = socket.inet_aton(socket.gethostbyname("198.18.0.2")); target = socket.inet_aton(vip)
req = b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + me + b"\0" * 6 + target
end = time.time() + limit
with open(out, "w", buffering=1) as f:
    while time.time() < end:
        t = time.time(); s.send(req); seen = set(); stop = t + 0.015
        while time.time() < stop:
            try:
                frame = s.recv(128)
            except OSError:
                continue
            if len(frame) >= 42 and frame[20:22] == b"\0\2" and frame[28:32] == target:
                seen.add(frame[22:28].hex(":"))
        f.write(json.dumps([t, sorted(seen)]) + "\n")
        time.sleep(0.005)
"""


# A node's own path to PostgreSQL: accepts on `listen` (a Unix socket)
# and forwards to `upstream`. SIGUSR1 cuts it: nothing more flows either
# way and new connections wait, as behind a dropped link; SIGUSR2 heals
# it: the frozen connections are closed (as a partition longer than the
# peers' patience would end them) and new ones flow again.
PROXY = r"""
import asyncio, os, signal, sys
listen, upstream = sys.argv[1], sys.argv[2]
async def main():
    flowing = asyncio.Event(); flowing.set()
    pairs = set()
    async def pump(r, w):
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                await flowing.wait()
                w.write(data); await w.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            w.close()
    async def serve(cr, cw):
        await flowing.wait()
        try:
            ur, uw = await asyncio.open_unix_connection(upstream)
        except OSError:
            cw.close(); return
        tasks = [asyncio.ensure_future(pump(cr, uw)), asyncio.ensure_future(pump(ur, cw))]
        pair = (tasks[0], tasks[1], cw, uw); pairs.add(pair)
        await asyncio.gather(*tasks, return_exceptions=True)
        pairs.discard(pair)
    def cut():
        flowing.clear()
    def heal():
        for a, b, cw, uw in list(pairs):
            a.cancel(); b.cancel(); cw.close(); uw.close()
        flowing.set()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, cut)
    loop.add_signal_handler(signal.SIGUSR2, heal)
    server = await asyncio.start_unix_server(serve, listen)
    open(listen + ".ready", "w").close()
    await server.serve_forever()
asyncio.run(main())
"""


# Who has the VIP (IPv6)? A neighbour solicitation every 20 ms; records
# each one's advertising MACs.
NDP = r"""
import socket, struct, sys, time, json
vip, limit, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd))
s.bind(("eth0", 0)); s.settimeout(0.005)
mac = s.getsockname()[4]
target = socket.inet_pton(socket.AF_INET6, vip)
me = socket.inet_pton(socket.AF_INET6, "2001:db8:18::2")
group = bytes.fromhex("ff0200000000000000000001ff") + target[13:]
def csum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff
icmp = bytes([135, 0, 0, 0, 0, 0, 0, 0]) + target + bytes([1, 1]) + mac
c = csum(me + group + struct.pack("!I", len(icmp)) + b"\0\0\0\x3a" + icmp)
icmp = icmp[:2] + struct.pack("!H", c) + icmp[4:]
req = (b"\x33\x33\xff" + target[13:] + mac + b"\x86\xdd"
       + struct.pack("!IHBB", 0x60000000, len(icmp), 58, 255) + me + group + icmp)
end = time.time() + limit
with open(out, "w", buffering=1) as f:
    while time.time() < end:
        t = time.time(); s.send(req); seen = set(); stop = t + 0.015
        while time.time() < stop:
            try:
                frame = s.recv(256)
            except OSError:
                continue
            if (len(frame) >= 78 and frame[12:14] == b"\x86\xdd" and frame[20] == 58
                    and frame[54] == 136 and frame[62:78] == target):
                seen.add(frame[6:12].hex(":"))
        f.write(json.dumps([t, sorted(seen)]) + "\n")
        time.sleep(0.005)
"""


def owner(world, alive):
    for key in alive:
        nodes = api(world, key, "GET", "/v1/nodes").get("nodes", [])
        for n in nodes:
            if n.get("vips") and n.get("state") == "up":
                return n["name"], n["vips"][0]
    return None, None


def read_lines(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def has_vip(world, key, vip):
    addrs = sh("ip", "-n", world.ns[key], "-o", "addr", "show", "dev", "eth0").stdout
    return f" {vip}/" in addrs


def takeover(world, nodes, urls, vip, client_out, args, n):
    """Restarts the owner with `weir serve --takeover` under the client
    loop: the successor (same node id) adopts the leases and the address;
    nothing may fail and the VIP must stay on that node."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lines = read_lines(client_out)
        name = owner(world, nodes)[0]
        if lines and lines[-1][1] and name and has_vip(world, name, vip):
            break
        time.sleep(0.05)
    else:
        raise SystemExit("no node serves the VIP before the takeover")
    old = nodes[name]
    started = time.time()
    new = start_node(world, name, args.weir, urls[name], args.timeout_ms, takeover=True)
    try:
        old.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"the predecessor of {name} never handed over")
    nodes[name] = new
    handed = time.time() - started
    # Three lease times after the predecessor left: the successor renews.
    time.sleep(3 * args.timeout_ms / 1000)
    kept = owner(world, nodes)[0] == name and has_vip(world, name, vip) and new.poll() is None
    window = [l for l in read_lines(client_out) if l[0] > started]
    result = {"takeover": n, "node": name, "handed_over_after_s": handed, "requests": len(window),
              "failed": sum(1 for l in window if not l[1]), "kept": kept}
    print(json.dumps(result), flush=True)
    return result


def partition(world, nodes, proxies, vip, client_out, timeout_ms, n):
    """Cuts the owner from the database (not from its clients), measures
    the fence and the move, heals the cut and checks nothing moves back."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lines = read_lines(client_out)
        name = owner(world, nodes)[0]
        if lines and lines[-1][1] and name and has_vip(world, name, vip):
            break
        time.sleep(0.05)
    else:
        raise SystemExit("no node serves the VIP before the partition")
    other = "n2" if name == "n1" else "n1"
    cut_at = time.time()
    proxies[name].send_signal(signal.SIGUSR1)
    # Watch both interfaces: when the owner's address goes and when the
    # other node's comes (polled every few ms; bounded in time).
    # The order is proven only when the owner's address was seen gone in
    # an earlier poll than the other's was seen present.
    off = on = None
    off_poll = on_poll = None
    polls = 0
    deadline = time.monotonic() + 10 * timeout_ms / 1000 + 5
    while time.monotonic() < deadline and (off is None or on is None):
        polls += 1
        if off is None and not has_vip(world, name, vip):
            off, off_poll = time.time() - cut_at, polls
        if on is None and has_vip(world, other, vip):
            on, on_poll = time.time() - cut_at, polls
    # The clients' view: the first request to fail after the cut and the
    # first to succeed after that.
    deadline = time.monotonic() + 10
    gap = failed = None
    while time.monotonic() < deadline and gap is None:
        time.sleep(0.05)
        after = [l for l in read_lines(client_out) if l[0] > cut_at]
        first_bad = next((i for i, l in enumerate(after) if not l[1]), None)
        if first_bad is None:
            continue
        back = next((l for l in after[first_bad:] if l[1]), None)
        if back:
            gap = back[0] - after[first_bad][0]
            failed = sum(1 for l in after if l[0] <= back[0] and not l[1])
    new_owner = owner(world, [other])[0]
    # Heal, give the old owner three lease times, and look again.
    proxies[name].send_signal(signal.SIGUSR2)
    time.sleep(3 * timeout_ms / 1000)
    taken_back = owner(world, nodes)[0] != other or has_vip(world, name, vip)
    result = {"partition": n, "owner": name, "new_owner": new_owner,
              "owner_off_s": off, "other_on_s": on, "gap_s": gap, "failed": failed or 0,
              "fenced_first": off_poll is not None and on_poll is not None and off_poll < on_poll,
              "taken_back": taken_back}
    print(json.dumps(result), flush=True)
    return result


def run(args):
    world = World(os.getpid() % 10000)
    try:
        world.build()
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print(f"failover test skipped: cannot create network namespaces ({e})")
        shutil.rmtree(world.tmp, ignore_errors=True)
        return 0
    results = []
    try:
        pg = world.postgres()
        proxies, urls = {}, {}
        for k in ("n1", "n2"):
            proxies[k], urls[k] = world.proxy(k, pg)
        world.spawn("be", [sys.executable, "-c", BACKEND])
        nodes = {k: start_node(world, k, args.weir, urls[k], args.timeout_ms) for k in ("n1", "n2")}
        project = api(world, "n1", "POST", "/v1/projects", {"name": "failover"})
        cidrs = ("fd00:10::/48", "fd00:10:0:1::/64") if args.ipv6 else ("10.0.0.0/16", "10.0.1.0/24")
        vpc = api(world, "n1", "POST", "/v1/vpcs", {"project_id": project["id"], "cidr": cidrs[0]})
        subnet = api(world, "n1", "POST", "/v1/subnets", {"vpc_id": vpc["id"], "cidr": cidrs[1]})
        assert "id" in subnet, (vpc, subnet)
        token = project["token"]
        lb_body = {"subnet_id": subnet["id"]}
        if args.ipv6:
            lb_body["vip"] = f"{NET6}:164"
        lb = api(world, "n1", "POST", "/v1/loadbalancers", lb_body, token)
        assert "id" in lb, lb
        listener = api(world, "n1", "POST", f"/v1/loadbalancers/{lb['id']}/listeners",
                       {"protocol": "tcp", "port": 80}, token)
        reg = api(world, "n1", "POST", f"/v1/listeners/{listener['id']}/backends",
                  {"backends": [{"address": f"{NET}.20", "port": 8000}]}, token)
        assert reg.get("backends"), reg
        vip = lb["vip"]
        deadline = time.monotonic() + 20
        while owner(world, nodes)[0] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        limit = 25.0 * args.kills + 15.0 * args.partitions + 15.0 * args.takeovers + 30
        client_out = os.path.join(world.tmp, "client.jsonl")
        arp_out = os.path.join(world.tmp, "arp.jsonl")
        client = world.spawn("c", [sys.executable, "-c", CLIENT, vip, str(limit), str(int(limit * 100)), client_out])
        arp = world.spawn("c", [sys.executable, "-c", NDP if args.ipv6 else ARP, vip, str(limit), arp_out])
        for i in range(args.kills):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                lines = read_lines(client_out)
                if lines and lines[-1][1] and owner(world, nodes)[0]:
                    break
                time.sleep(0.05)
            name, _ = owner(world, nodes)
            if name is None:
                raise SystemExit("no node holds the VIP")
            survivor = "n2" if name == "n1" else "n1"
            if args.kill_guard:
                # The guard too (as a kill of the whole control group
                # would): the address then lingers for its kernel
                # lifetime, and the taker's probe must see it.
                pid = nodes[name].pid
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    for child in f.read().split():
                        os.kill(int(child), signal.SIGKILL)
            killed_at = time.time()
            nodes[name].send_signal(signal.SIGKILL)
            nodes[name].wait()
            # The dead node's address goes: taken off by its guard, or else
            # with its kernel lifetime (polled every few ms from the kill).
            # And when the survivor puts the VIP on: the gap on the wire,
            # which the clients see rounded up to their next attempt.
            gone = on = None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (gone is None or on is None):
                if gone is None and not has_vip(world, name, vip):
                    gone = time.time() - killed_at
                if on is None and has_vip(world, survivor, vip):
                    on = time.time() - killed_at
            deadline = time.monotonic() + 20
            recovered = None
            while time.monotonic() < deadline and recovered is None:
                time.sleep(0.05)
                after = [l for l in read_lines(client_out) if l[0] > killed_at]
                oks = [l for l in after if l[1]]
                if oks:
                    recovered = oks[0][0]
            after = [l for l in read_lines(client_out) if killed_at < l[0] <= (recovered or time.time())]
            failed = sum(1 for l in after if not l[1])
            new_owner = owner(world, [survivor])[0]
            gap = None if recovered is None else recovered - killed_at
            results.append({"kill": i + 1, "owner": name, "new_owner": new_owner, "gap_s": gap,
                            "failed": failed, "old_address_gone_after_s": gone, "new_owner_on_s": on})
            print(json.dumps(results[-1]), flush=True)
            nodes[name] = start_node(world, name, args.weir, urls[name], args.timeout_ms)
            time.sleep(3 * args.timeout_ms / 1000)
            back = owner(world, nodes)[0]
            if back != new_owner:
                results[-1]["stolen_back"] = True
                print(f"the restarted node took the VIP: {back}", flush=True)
        handovers = [takeover(world, nodes, urls, vip, client_out, args, i + 1)
                     for i in range(args.takeovers)]
        cuts = [partition(world, nodes, proxies, vip, client_out, args.timeout_ms, i + 1)
                for i in range(args.partitions)]
        # A planned stop (SIGTERM): the owner lets go and releases its
        # lease, so the other node takes the VIP at its next round.
        time.sleep(1)
        name, _ = owner(world, nodes)
        term = None
        if name:
            stopped_at = time.time()
            nodes[name].send_signal(signal.SIGTERM)
            nodes[name].wait()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and term is None:
                time.sleep(0.05)
                oks = [l for l in read_lines(client_out) if l[0] > stopped_at and l[1]]
                if oks:
                    failed = sum(1 for l in read_lines(client_out) if stopped_at < l[0] <= oks[0][0] and not l[1])
                    term = {"gap_s": oks[0][0] - stopped_at, "failed": failed}
            print(json.dumps({"sigterm": term}), flush=True)
        for p in (client, arp):
            p.terminate()
            p.wait()
        probes = read_lines(arp_out)
        double = [p for p in probes if len(p[1]) > 1]
        macs = sorted({m for p in probes for m in p[1]})
        summary = {
            "kills": len(results),
            "timeout_ms": args.timeout_ms,
            "gap_median_s": statistics.median([r["gap_s"] for r in results if r["gap_s"] is not None] or [float("nan")]),
            "failed_median": statistics.median([r["failed"] for r in results] or [0]),
            "new_owner_on_median_s": statistics.median(
                [r["new_owner_on_s"] for r in results if r["new_owner_on_s"] is not None] or [float("nan")]),
            "recovered": sum(1 for r in results if r["gap_s"] is not None and r["new_owner"]),
            "arp_probes": len(probes),
            "arp_probes_answered_by_two_macs": len(double),
            "macs_seen": macs,
            "requests": len(read_lines(client_out)),
            "sigterm": term,
            "partitions": len(cuts),
            "partition_owner_off_median_s": statistics.median(
                [c["owner_off_s"] for c in cuts if c["owner_off_s"] is not None] or [float("nan")]),
            "partition_gap_median_s": statistics.median(
                [c["gap_s"] for c in cuts if c["gap_s"] is not None] or [float("nan")]),
            "partition_failed_median": statistics.median([c["failed"] for c in cuts] or [0]),
            "fence_s": 5 * args.timeout_ms / 6000,
            "takeovers": len(handovers),
            "takeover_failed": sum(h["failed"] for h in handovers),
        }
        print(json.dumps(summary), flush=True)
        if args.check:
            ok = summary["recovered"] == args.kills and term is not None and not double and all(
                r["old_address_gone_after_s"] is not None and not r.get("stolen_back") for r in results) and all(
                c["fenced_first"] and not c["taken_back"] and c["new_owner"] for c in cuts) and all(
                h["failed"] == 0 and h["kept"] for h in handovers)
            if not ok:
                print("failover check FAILED", flush=True)
                return 1
            print("failover check passed", flush=True)
        return 0
    finally:
        world.teardown()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--partitions", type=int, default=10)
    ap.add_argument("--takeovers", type=int, default=3)
    ap.add_argument("--ipv6", action="store_true", help="an IPv6 VIP (neighbour discovery)")
    ap.add_argument("--kill-guard", action="store_true",
                    help="kill each node's VIP guard with it, so the taker's probe has an address to find")
    ap.add_argument("--timeout-ms", type=int, default=600)
    ap.add_argument("--weir", default="target/debug/weir")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("ip"):
        print("failover test skipped: needs root and iproute2 to create network namespaces")
        return 0
    if not os.path.isdir("/usr/lib/postgresql"):
        print("failover test skipped: no PostgreSQL server binaries (scripts/postgres-for-tests installs them)")
        return 0
    args.weir = os.path.abspath(args.weir)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
