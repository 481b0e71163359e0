#!/usr/bin/env python3
"""Octavia conformance (issue 19): run OpenStack's own Octavia API test
suite, octavia-tempest-plugin, against a fresh `weir serve` and print its
totals.

What it does, all on loopback, inside a network namespace of its own:
  1. a virtual environment `.venv-tempest` with tempest and
     octavia-tempest-plugin at the pinned versions (made once, before the
     namespace, which has no route out);
  2. the script runs itself again under `unshare --net`: a fresh network
     namespace whose only interface is its loopback, where the plugin's
     VIP subnets (10.1.1.0/24 and fdde:1a92:7523:70a0::/64, the plugin's
     defaults) are local routes on `lo` (and the namespace's own
     `net.ipv6.ip_nonlocal_bind`), so the data plane binds IPv4 and IPv6
     VIPs there and connections to them arrive; nothing there reaches the
     host's networks, and the namespace ends with the script;
  3. `weir serve` on a temporary data directory: VIPs from those two
     subnets; members are data only (192.0.2.0/24 and 2001:db8::/32,
     documentation ranges granted as `external_backend_ranges`;
     `dataplane.egress_allow` is loopback, so none is dialled);
  4. one Weir project per pre-provisioned tempest account (tempest cannot
     create users here: Weir has no Keystone admin API), each with its
     access key as user name and secret as password;
  5. no test network is given: the plugin makes its own through Weir's
     Neutron API as the test project, each test class one VIP network with
     an IPv4 and an IPv6 subnet and two member networks, and deletes them
     after the class (`test_with_ipv6 = True`);
  6. `tempest run` of the API tests (`octavia_tempest_plugin.tests.api`),
     one worker, and the totals and failing tests at the end.

Not part of .ci/run (it takes several minutes); results go in
docs/dialects/openstack.md.

Usage: scripts/octavia-tempest.py [--regex REGEX] [--workers 1] [--keep]
       WEIR_BIN=path (default target/debug/weir, built if missing)
Needs root (or user namespaces) for `unshare --net`; `--no-netns` runs on
the host's loopback with IPv6 off (the IPv4 VIP subnet is then 127.0.8.0/24).
"""
import argparse, json, os, re, shutil, socket, subprocess, sys, tempfile, time
import urllib.error, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIR = os.environ.get("WEIR_BIN", os.path.join(ROOT, "target/debug/weir"))
VENV = os.path.join(ROOT, ".venv-tempest")
# barbican-tempest-plugin registers `[service_available] barbican`, which
# octavia-tempest-plugin reads (with getattr) before it runs its
# TERMINATED_HTTPS tests against Weir's key manager; its own tests are not
# selected.
PINS = ["tempest==47.0.0", "octavia-tempest-plugin==3.5.0", "barbican-tempest-plugin==4.6.0"]
ADMIN = "tempest-admin"

# Account name -> (tempest roles, tempest types, Weir role). The tempest
# roles are what the plugin's credential lists ask for; tempest picks
# accounts by them. The Weir role is what the account's credential really
# may do: each account is a Weir project, and its access key is a
# credential of that role.
ACCOUNTS = {
    "admin": (["admin"], ["admin"], "admin"),
    "primary": (["member"], [], "member"),
    "lb_admin": (["load-balancer_admin"], [], "admin"),
    "lb_observer": (["load-balancer_observer", "reader"], [], "reader"),
    "lb_global_observer": (["load-balancer_global_observer", "reader"], [], "observer"),
    "lb_member": (["load-balancer_member", "member"], [], "member"),
    "lb_member2": (["load-balancer_member", "member"], [], "member"),
    # Tempest hands any free account to a request whose roles it covers
    # (primary takes whichever is left): spares keep every class served.
    "spare1": (["load-balancer_member", "member"], [], "member"),
    "spare2": (["load-balancer_member", "member"], [], "member"),
    "spare3": (["load-balancer_member", "member"], [], "member"),
}


def venv():
    python = os.path.join(VENV, "bin", "python")
    tempest = os.path.join(VENV, "bin", "tempest")
    if not os.path.exists(tempest):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", *PINS], check=True)
    elif subprocess.run([python, "-c", "import barbican_tempest_plugin"],
                        capture_output=True).returncode != 0:
        # A venv made before the barbican pin.
        subprocess.run([python, "-m", "pip", "install", "-q", *PINS], check=True)
    return tempest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url, method, path, token, body=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


# The plugin's own defaults for the subnets it makes. The VIP subnets are
# Weir's VIP ranges, local routes on the namespace's loopback; the member
# subnets are never used by the API tests (their members are documentation
# addresses), and the members' ranges are granted, never dialled.
VIP_SUBNET = "10.1.1.0/24"
VIP_IPV6_SUBNET = "fdde:1a92:7523:70a0::/64"
MEMBER_RANGES = ["192.0.2.0/24", "2001:db8::/32"]
# Without a namespace: a loopback subnet the host binds as it is, and no
# IPv6 (the host's loopback has ::1 alone).
HOST_VIP_SUBNET = "127.0.8.0/24"


def enter_netns():
    """Runs this script again in a network namespace of its own (the
    caller waits for it); returns only inside it, after making the VIP
    subnets local on its loopback."""
    if os.environ.get("WEIR_TEMPEST_NETNS") != "1":
        env = dict(os.environ, WEIR_TEMPEST_NETNS="1")
        run = subprocess.run(["unshare", "--net", "--", sys.executable, *sys.argv], env=env)
        sys.exit(run.returncode)
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "route", "add", "local", VIP_SUBNET, "dev", "lo"],
                ["ip", "-6", "route", "add", "local", VIP_IPV6_SUBNET, "dev", "lo"],
                # IPv6 binds only assigned addresses; a local route
                # delivers the whole subnet, and this namespace's own
                # setting lets the data plane bind in it.
                ["sysctl", "-q", "-w", "net.ipv6.ip_nonlocal_bind=1"]):
        subprocess.run(cmd, check=True)


def start_weir(work, netns):
    if not os.path.exists(WEIR):
        subprocess.run(["cargo", "build", "-p", "weir"], cwd=ROOT, check=True)
    port = free_port()
    cfg = os.path.join(work, "weir.toml")
    vips = [VIP_SUBNET, VIP_IPV6_SUBNET] if netns else [HOST_VIP_SUBNET]
    members = json.dumps(MEMBER_RANGES)
    with open(cfg, "w") as f:
        f.write(f'[network]\nbackend_ranges = ["10.0.0.0/8", "127.0.0.0/8", "fc00::/7", '
                f'{members[1:-1]}]\n'
                f'external_backend_ranges = {members}\n'
                f'vip_ranges = {json.dumps(vips)}\n'
                '[dataplane]\nworkers = 1\negress_allow = ["127.0.0.0/8"]\n')
    env = dict(os.environ, WEIR_ADMIN_TOKEN=ADMIN, WEIR_LOG=os.environ.get("WEIR_LOG", "warn"))
    log = open(os.path.join(work, "weir.log"), "w")
    proc = subprocess.Popen([WEIR, "serve", "--data-dir", work, "--listen", f"127.0.0.1:{port}",
                             "--config", cfg], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit(f"weir did not start; see {work}/weir.log")


def bootstrap(url):
    """One project per account. Returns the accounts (for accounts.yaml)."""
    accounts, projects = [], {}
    for name, (roles, types, weir_role) in ACCOUNTS.items():
        status, project = api(url, "POST", "/v1/projects", ADMIN, {"name": f"tempest-{name}"})
        assert status == 201, project
        projects[name] = project
        key = project
        if weir_role != "member":
            status, key = api(url, "POST", f"/v1/projects/{project['id']}/credentials", ADMIN,
                              {"role": weir_role, "name": f"tempest {name}"})
            assert status == 201, key
        entry = {"username": key["access_key_id"], "password": key["access_key_secret"],
                 "project_name": project["name"], "domain_name": "Default", "roles": roles}
        if types:
            entry["types"] = types
        accounts.append(entry)
    return accounts


def write_accounts(path, accounts):
    # YAML by hand: tempest reads it with yaml.safe_load, JSON is YAML.
    with open(path, "w") as f:
        json.dump(accounts, f, indent=1)


def write_conf(path, url, accounts_file, log_file, netns):
    ipv6 = "True" if netns else "False"
    vip_subnet = VIP_SUBNET if netns else HOST_VIP_SUBNET
    conf = f"""[DEFAULT]
log_file = {log_file}
debug = True

[auth]
use_dynamic_credentials = False
test_accounts_file = {accounts_file}
default_credentials_domain_name = Default
create_isolated_networks = False

[identity]
uri_v3 = {url}/v3
auth_version = v3
region = local
v3_endpoint_type = public

[identity-feature-enabled]
api_v2 = False

# The plugin's live mode (test_with_noop = False, so the tests use the
# real test network) asks for compute and image to be present; only its
# scenario tests call them, and this run selects the API tests alone.
[service_available]
load_balancer = True
neutron = True
nova = True
glance = True
cinder = False
swift = False
barbican = True

[network]
project_networks_reachable = True

[validation]
run_validation = False

[load_balancer]
provider = weir
# The plugin's RBAC checks are off. Run with `owner_or_admin` (2026-12-07)
# they fail only where another project's resource is named: Octavia
# answers 403 there, Weir 404 in every dialect, so that an id of another
# tenant cannot be told from an id that exists nowhere (the isolation
# sweep's invariant). `advanced` also expects a Keystone `member` without a
# load-balancer_* role to be refused everything, while Weir's roles follow
# Keystone's defaults; `keystone_default_roles` needs Keystone's admin API.
# Roles themselves are real: the accounts' credentials carry them (an
# admin fails over another project's load balancer, see ACCOUNTS).
RBAC_test_type = none
# Logging them needs Keystone's admin API (role assignments), which Weir has not.
log_user_roles = False
# No test network is given: the plugin makes its own through Weir's
# Neutron API (a VIP network with an IPv4 and an IPv6 subnet, two member
# networks), as the test project. With one given, octavia-tempest-plugin
# 3.5.0 reads its IPv6 subnet from `test_IPv6_subnet_override`, an option
# it never registers, and fails every class.
test_with_ipv6 = {ipv6}
vip_subnet_cidr = {vip_subnet}
vip_ipv6_subnet_cidr = {VIP_IPV6_SUBNET}
# No subnet pools: the IPv6 VIP subnet is made with its CIDR.
default_ipv6_subnetpool =
build_interval = 1
build_timeout = 30
lb_build_interval = 1
lb_build_timeout = 60
check_interval = 1
check_timeout = 30
enabled_provider_drivers = weir:Weir's own data plane
loadbalancer_topology = SINGLE
# Weir's one flavor capability, in its own words (not the amphora's).
expected_flavor_capability = loadbalancer_topology:The load balancer topology. One of: SINGLE - One data plane per node and no standby.

[loadbalancer-feature-enabled]
not_implemented_is_error = False
terminated_tls_enabled = True
l7_protocol_enabled = True
session_persistence_enabled = True
log_offload_enabled = False
spare_pool_enabled = False
prometheus_listener_enabled = True
health_monitor_enabled = True
pool_algorithms_enabled = True
l4_protocol = TCP
"""
    with open(path, "w") as f:
        f.write(conf)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--regex", default="^octavia_tempest_plugin.tests.api")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--list", action="store_true", help="only list the selected tests")
    ap.add_argument("--no-netns", action="store_true",
                    help="run on the host's loopback, without IPv6 (no namespace)")
    args = ap.parse_args()
    tempest = venv()
    if not args.no_netns:
        enter_netns()
    work = tempfile.mkdtemp(prefix="weir-tempest-")
    proc, url = start_weir(work, not args.no_netns)
    try:
        accounts = bootstrap(url)
        ws = os.path.join(work, "ws")
        # Workspace names are global to the user (~/.tempest): one per run.
        name = os.path.basename(work)
        subprocess.run([tempest, "init", "--name", name, ws], check=True, capture_output=True)
        accounts_file = os.path.join(ws, "etc", "accounts.yaml")
        write_accounts(accounts_file, accounts)
        write_conf(os.path.join(ws, "etc", "tempest.conf"), url, accounts_file,
                   os.path.join(ws, "tempest.log"), not args.no_netns)
        cmd = [tempest, "run", "--regex", args.regex, "--concurrency", str(args.workers)]
        if args.list:
            cmd = [tempest, "run", "--list-tests", "--regex", args.regex]
        run = subprocess.run(cmd, cwd=ws, capture_output=True, text=True)
        out = run.stdout + run.stderr
        with open(os.path.join(work, "tempest-run.txt"), "w") as f:
            f.write(out)
        if args.list:
            print(out)
            return
        failing = subprocess.run([os.path.join(VENV, "bin", "stestr"), "failing", "--list"],
                                 cwd=ws, capture_output=True, text=True).stdout
        print("\n".join(sorted(set(l for l in failing.splitlines() if l.strip()))))
        totals = out[out.rfind("Totals"):] if "Totals" in out else out[-3000:]
        print(totals)
        print(f"work directory: {work}")
    finally:
        proc.kill()
        proc.wait()
        subprocess.run([tempest, "workspace", "remove", "--name", os.path.basename(work)],
                       capture_output=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
