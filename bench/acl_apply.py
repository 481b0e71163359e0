"""How fast a listener's allow-list change reaches the data plane.

    python3 bench/acl_apply.py [--weir target/release/weir] [--rounds 40] [--resource acl]

Issue 16's bench: an HTTP listener on a loopback VIP with one nginx
backend; each round `PATCH /v1/listeners/{id}` sets `allowed_cidrs` to a
network without the client (127.0.0.1), and a loop of fresh connections
measures the time from the API's 200 to the first refused connection;
then the list is widened again and the loop measures until the first
admitted request. Times run from the moment the PATCH is sent: the API
answers once the change is committed and the data plane has applied it
(listener commands wait for that), so this is request -> commit ->
applied -> enforced, as a tenant sees it.
With `--resource acl` the listener names an access control list in deny
mode (`/v1/acls`) and each round adds the client to the list
(`POST /v1/acls/{id}/entries`) and removes it again
(`.../entries/remove`): the path an Aliyun `AddAccessControlListEntry`
takes (an ACL change reloads every listener naming the list).
Every loop is bounded (5 s per round). Loopback only."""
import argparse
import http.client
import importlib.util
import os
import shutil
import statistics
import tempfile
import time

spec = importlib.util.spec_from_file_location(
    "dataplane", os.path.join(os.path.dirname(os.path.abspath(__file__)), "dataplane.py"))
dp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dp)
dp.BACKENDS = [19701]
PORT = 19741


def admitted(vip):
    """Whether a fresh connection gets an HTTP answer (False: reset/closed)."""
    c = http.client.HTTPConnection(vip, PORT, timeout=2)
    try:
        c.request("GET", "/", headers={"Connection": "close"})
        return c.getresponse().status == 200
    except (ConnectionError, http.client.HTTPException, OSError):
        return False
    finally:
        c.close()


def until(vip, want, t0):
    """Milliseconds from `t0` until a fresh connection is admitted == `want`
    (bounded)."""
    while time.perf_counter() < t0 + 5:
        if admitted(vip) == want:
            return (time.perf_counter() - t0) * 1000
    raise SystemExit(f"not {'admitted' if want else 'refused'} within 5 s")


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", default=dp.WEIR)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--resource", choices=["allowed_cidrs", "acl"], default="allowed_cidrs")
    args = ap.parse_args()
    dp.WEIR = os.path.abspath(args.weir)
    work = tempfile.mkdtemp(prefix="weir-acl-")
    procs = dp.Procs()
    try:
        procs.start(["nginx", "-c", dp.backends_conf(work)])
        dp.wait_port(dp.BACKENDS[0])
        w = dp.Weir(procs, work, 1, "127.67.0.0/24")
        listener = w.listener("http", PORT, dp.BACKENDS)
        path = f"/v1/listeners/{listener['id']}"
        if args.resource == "acl":
            status, acl = dp.api(w.url, "POST", "/v1/acls", w.token, {"name": "bench"})
            assert status == 201, acl
            status, body = dp.api(w.url, "PATCH", path, w.token, {"acl_id": acl["id"], "acl_mode": "deny"})
            assert status == 200, body
            refuse = ("POST", f"/v1/acls/{acl['id']}/entries", {"entries": [{"cidr": "127.0.0.1"}]})
            admit = ("POST", f"/v1/acls/{acl['id']}/entries/remove", {"cidrs": ["127.0.0.1"]})
            verb = "entry change"
        else:
            refuse = ("PATCH", path, {"allowed_cidrs": ["127.0.0.2/32"]})
            admit = ("PATCH", path, {"allowed_cidrs": []})
            verb = "PATCH"
        until(w.vip, True, time.perf_counter())  # the registration has reached it
        deny, allow = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            status, body = dp.api(w.url, refuse[0], refuse[1], w.token, refuse[2])
            assert status == 200, body
            deny.append(until(w.vip, False, t0))
            t0 = time.perf_counter()
            status, body = dp.api(w.url, admit[0], admit[1], w.token, admit[2])
            assert status == 200, body
            allow.append(until(w.vip, True, t0))
        for name, values in ((f"{verb} sent -> first refused connection", deny),
                             (f"{verb} sent -> first admitted request", allow)):
            print(f"{name}: median {statistics.median(values):.2f} ms, "
                  f"p90 {pct(values, 0.9):.2f} ms, max {max(values):.2f} ms ({len(values)} rounds)")
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
