"""Harness for the SDK conformance suite: official cloud SDKs against a real `weir serve`.

One `weir serve` per test class (temporary data dir, API on 127.0.0.1:0, killed on
teardown), tenants bootstrapped through the native /v1 API as admin, SDK clients
pointed at it, and a raw-request helper that signs requests itself (ZC2-HMAC-SHA256 and
UCloud SHA1, implemented here from the wire notes, not copied from the SDKs) for the
negative cases an SDK cannot produce.

Safety: every helper that opens a connection checks that the peer is in 127.0.0.0/8.
Private addresses such as 10.x are only data (registered backend addresses); the server
is started with WEIR_EGRESS_ALLOW=127.0.0.0/8 so its data plane never dials them either.
Every wait is bounded in count and time.
"""

import contextlib
import hashlib
import hmac
import http.client
import http.server
import ipaddress
import json
import logging
import os
import re
import secrets
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
import types
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from unittest import mock

# The SDKs use `requests`, which honours proxy variables: a proxy would turn a loopback
# call into a call elsewhere. Drop them before any client is built.
for _var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

import requests  # noqa: E402  (installed with the SDKs)
from ucloud.client import Client as UCloudClient  # noqa: E402
from ucloud.core.exc import RetCodeException  # noqa: E402
from zenlayercloud.bmc.v20221120 import models as bmc2022_models  # noqa: E402
from zenlayercloud.bmc.v20221120.bmc_client import BmcClient as Bmc2022Client  # noqa: E402
from zenlayercloud.bmc.v20260201 import models as bmc_models  # noqa: E402
from zenlayercloud.bmc.v20260201.bmc_client import BmcClient  # noqa: E402
from zenlayercloud.common.config import Config  # noqa: E402
from zenlayercloud.common.credential import Credential, TokenCredential  # noqa: E402
from zenlayercloud.common.excpetion.zenlayer_cloud_sdk_exception import (  # noqa: E402
    ZenlayerCloudSdkException,
)
from zenlayercloud.zlb.v20250401 import models as zlb_models  # noqa: E402
from zenlayercloud.zlb.v20250401.zlb_client import ZlbClient  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
REGION = "local"

ZLB_VERSION = "2025-04-01"
BMC_VERSION = "2026-02-01"
BMC_2022_VERSION = "2022-11-20"

STARTUP_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 10.0

# Backend address ranges for every server we start: the defaults plus loopback, so
# the traffic tests can register 127.x backends and the VIP (127.0.1.x) is an address
# that only the "reserved" rule can refuse.
BACKEND_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8"]

_quiet = logging.getLogger("weir.sdktests.ucloud")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False
_quiet.setLevel(logging.CRITICAL)


# ---------------------------------------------------------------------------
# Loopback guard
# ---------------------------------------------------------------------------

def assert_loopback(host):
    """Refuse to dial anything outside 127.0.0.0/8."""
    ip = ipaddress.ip_address(host)
    if ip not in LOOPBACK:
        raise AssertionError("refusing to connect to %s: tests dial 127.0.0.0/8 only" % host)
    return host


# ---------------------------------------------------------------------------
# Signing (own implementation of the algorithms described in the wire notes)
# ---------------------------------------------------------------------------

def _sha256_hex(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def zc2_canonical_request(method, content_type, host, body):
    """Canonical request of ZC2-HMAC-SHA256: URI always "/", empty query, signed
    headers content-type and host, then the hex SHA-256 of the body bytes."""
    return "\n".join([
        method,
        "/",
        "",
        "content-type:%s\nhost:%s\n" % (content_type, host),
        "content-type;host",
        _sha256_hex(body),
    ])


def zc2_signature(secret, timestamp, content_type, host, body, method="POST"):
    canonical = zc2_canonical_request(method, content_type, host, body)
    string_to_sign = "ZC2-HMAC-SHA256\n%s\n%s" % (timestamp, _sha256_hex(canonical))
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def zc2_authorization(access_key_id, signature):
    return "ZC2-HMAC-SHA256 Credential=%s, SignedHeaders=content-type;host, Signature=%s" % (
        access_key_id, signature)


def ucloud_signature(params, private_key):
    """SHA1 over key+value of every parameter except Signature, keys sorted, then the
    private key appended; hex."""
    text = "".join(str(k) + str(params[k]) for k in sorted(params) if k != "Signature")
    return hashlib.sha1((text + private_key).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# A weir server process
# ---------------------------------------------------------------------------

def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError("unsupported TOML value %r" % (value,))


def to_toml(config):
    """Tiny TOML writer: top-level scalars first, then one table per dict value."""
    lines = []
    for key, value in config.items():
        if not isinstance(value, dict):
            lines.append("%s = %s" % (key, _toml_value(value)))
    for key, value in config.items():
        if isinstance(value, dict):
            lines.append("")
            lines.append("[%s]" % key)
            for k, v in value.items():
                lines.append("%s = %s" % (k, _toml_value(v)))
    return "\n".join(lines) + "\n"


def merge_config(base, extra):
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k].update(v)
        else:
            out[k] = v
    return out


BASE_CONFIG = {
    "store": {"durability": "normal"},  # tests do not need fsync per commit
    # Loopback backends are granted outside VPCs, as an operator grants bare metal behind a border gateway.
    "network": {"backend_ranges": BACKEND_RANGES, "external_backend_ranges": ["127.0.0.0/8"]},
}


def weir_binary():
    path = os.environ.get("WEIR_BIN") or str(REPO / "target" / "debug" / "weir")
    if not os.path.isabs(path):
        path = str((Path.cwd() / path).resolve())
    return path



def self_signed_pem(name, curve="P-256", key_format="PKCS8"):
    """A self-signed certificate for DNS name `name` (SAN and CN) and its key, both PEM, valid
    from yesterday for 90 days. `curve`: P-256 or P-384; `key_format`: PKCS8 or
    TraditionalOpenSSL (SEC1)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    ec_curve, digest = {"P-256": (ec.SECP256R1(), hashes.SHA256()), "P-384": (ec.SECP384R1(), hashes.SHA384())}[curve]
    key = ec.generate_private_key(ec_curve)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, digest))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, getattr(serialization.PrivateFormat, key_format),
                              serialization.NoEncryption()).decode())

class WeirServer:
    """`weir serve --listen 127.0.0.1:0` on a temporary data dir."""

    def __init__(self, config=None):
        # Each server takes its VIPs from its own random 127.x.y.0/24, so concurrent runs (or other
        # weir processes on 127.0.1.0/24) do not fight over VIP:port binds.
        vips = {"network": {"vip_ranges": ["127.%d.%d.0/24" % (100 + secrets.randbelow(150), secrets.randbelow(256))]}}
        self.config = merge_config(merge_config(BASE_CONFIG, vips), config)
        self.admin_token = "weir-sdk-admin-" + secrets.token_hex(12)
        self.proc = None
        self.tmp = None
        self.host = None
        self.port = None

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    @property
    def authority(self):
        return "%s:%d" % (self.host, self.port)

    def start(self):
        binary = weir_binary()
        if not os.path.exists(binary):
            raise RuntimeError("weir binary not found at %s (set WEIR_BIN or run `cargo build -p weir`)" % binary)
        self.tmp = tempfile.mkdtemp(prefix="weir-sdk-")
        config_path = os.path.join(self.tmp, "weir.toml")
        with open(config_path, "w") as f:
            f.write(to_toml(self.config))
        env = dict(os.environ)
        for var in ("WEIR_LISTEN", "WEIR_DATA_DIR", "WEIR_CONFIG", "WEIR_TOKEN", "WEIR_URL"):
            env.pop(var, None)
        env["WEIR_ADMIN_TOKEN"] = self.admin_token
        env["WEIR_EGRESS_ALLOW"] = "127.0.0.0/8"
        env.setdefault("WEIR_LOG", "warn")
        self.stdout_path = os.path.join(self.tmp, "stdout.log")
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(self.tmp, "data"),
                 "--config", config_path],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=self.tmp)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        pattern = re.compile(rb"weir listening on http://(127\.[0-9.]+):([0-9]+)")
        while time.monotonic() < deadline:
            with open(self.stdout_path, "rb") as f:
                m = pattern.search(f.read())
            if m:
                self.host = assert_loopback(m.group(1).decode())
                self.port = int(m.group(2))
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        logs = self.logs()
        self.stop()
        raise RuntimeError("weir serve did not report its address within %.0fs (exit=%s)\n%s"
                           % (STARTUP_TIMEOUT_S, self.proc.returncode if self.proc else None, logs))

    def logs(self, limit=4000):
        parts = []
        for p in (getattr(self, "stdout_path", None), getattr(self, "stderr_path", None)):
            if p and os.path.exists(p):
                with open(p, "rb") as f:
                    parts.append(f.read()[-limit:].decode("utf-8", "replace"))
        return "\n".join(parts)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


# ---------------------------------------------------------------------------
# Native /v1 API (urllib, no proxies)
# ---------------------------------------------------------------------------

_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NativeError(AssertionError):
    pass


class Native:
    def __init__(self, server):
        self.server = server

    def call(self, method, path, body=None, token=None):
        """Returns (status, parsed JSON or None)."""
        assert_loopback(self.server.host)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + (token or self.server.admin_token))
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with _NO_PROXY_OPENER.open(req, timeout=HTTP_TIMEOUT_S) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            raw = e.read()
            status = e.code
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return status, parsed

    def ok(self, method, path, body=None, token=None, expect=(200, 201, 204)):
        status, parsed = self.call(method, path, body, token)
        if status not in expect:
            raise NativeError("native %s %s %s -> HTTP %s %s" % (method, path, json.dumps(body), status, parsed))
        return parsed

    # inventory (admin)
    def project(self, name):
        p = self.ok("POST", "/v1/projects", {"name": name})
        return types.SimpleNamespace(id=p["id"], name=name, ak=p["access_key_id"],
                                     sk=p["access_key_secret"], token=p["token"])

    def vpc(self, project, cidr, border_gateway=False, name=""):
        return self.ok("POST", "/v1/vpcs", {"project_id": project.id, "cidr": cidr, "name": name,
                                            "has_border_gateway": border_gateway})

    def subnet(self, vpc, cidr, name=""):
        return self.ok("POST", "/v1/subnets", {"vpc_id": vpc["id"], "cidr": cidr, "name": name})

    def instance(self, project, subnet, ip, kind="vm", state="running", name=None):
        return self.ok("POST", "/v1/instances", {
            "project_id": project.id, "subnet_id": subnet["id"], "private_ip": ip, "type": kind,
            "state": state, "name": name or "%s-%s" % (kind, ip.replace(".", "-"))})

    def set_instance_state(self, instance_id, state):
        return self.ok("PATCH", "/v1/instances/%s" % instance_id, {"state": state})

    # load balancers
    def loadbalancer(self, lb_id):
        return self.ok("GET", "/v1/loadbalancers/%s" % lb_id)

    def vip(self, lb_id):
        return self.loadbalancer(lb_id)["vip"]

    def stop_lb(self, lb_id):
        return self.ok("POST", "/v1/loadbalancers/%s/stop" % lb_id)

    def listener(self, listener_id):
        return self.ok("GET", "/v1/listeners/%s" % listener_id)

    def listener_backends(self, listener_id):
        """Every backend of the listener's default pool (follows next_marker, bounded)."""
        out, marker = [], None
        for _ in range(100):
            q = "?limit=1000" + ("&marker=%s" % urllib.parse.quote(marker) if marker else "")
            page = self.ok("GET", "/v1/listeners/%s/backends%s" % (listener_id, q))
            out.extend(page.get("backends") or [])
            marker = page.get("next_marker")
            if not marker:
                return out
        raise AssertionError("more than 100 pages of backends")

    def pool(self, pool_id):
        return self.ok("GET", "/v1/pools/%s" % pool_id)


# ---------------------------------------------------------------------------
# Tenant inventory
# ---------------------------------------------------------------------------

class World:
    """One project with:
    - `vpc` (`<a>.<b>.0.0/16`, border gateway) / `subnet` (`.1.0/24`): running VMs, a
      bare-metal instance `bm`, a stopped VM `stopped`;
    - `vpc_nogw` (`<a>.<b+1>.0.0/16`, no border gateway) / `subnet_nogw`: `vm_nogw`, `bm_nogw`.
    `new_vm()` adds a running VM with a fresh address in `subnet`."""

    def __init__(self, native, name, a=10, b=0, vms=4):
        self.native = native
        self.name = name
        self.project = native.project(name)
        self.vpc = native.vpc(self.project, "%d.%d.0.0/16" % (a, b), border_gateway=True, name=name + "-gw")
        self.subnet = native.subnet(self.vpc, "%d.%d.1.0/24" % (a, b), name=name + "-sn")
        self._prefix = "%d.%d.1." % (a, b)
        self._next = 11
        self._lock = threading.Lock()
        self.vms = [self.new_vm() for _ in range(vms)]
        self.bm = native.instance(self.project, self.subnet, self._prefix + "200", kind="bm", name=name + "-bm")
        self.stopped = native.instance(self.project, self.subnet, self._prefix + "201", state="stopped",
                                       name=name + "-stopped")
        self.vpc_nogw = native.vpc(self.project, "%d.%d.0.0/16" % (a, b + 1), border_gateway=False,
                                   name=name + "-nogw")
        self.subnet_nogw = native.subnet(self.vpc_nogw, "%d.%d.1.0/24" % (a, b + 1), name=name + "-sn-nogw")
        self.vm_nogw = native.instance(self.project, self.subnet_nogw, "%d.%d.1.11" % (a, b + 1),
                                       name=name + "-vm-nogw")
        self.bm_nogw = native.instance(self.project, self.subnet_nogw, "%d.%d.1.21" % (a, b + 1), kind="bm",
                                       name=name + "-bm-nogw")
        self.unused_ip = self._prefix + "250"  # inside the subnet, no instance has it

    def new_vm(self, name=None):
        with self._lock:
            n = self._next
            self._next += 1
        if n > 199:
            raise AssertionError("World %s ran out of VM addresses" % self.name)
        ip = self._prefix + str(n)
        return self.native.instance(self.project, self.subnet, ip, name=name or "%s-vm%d" % (self.name, n))


# ---------------------------------------------------------------------------
# SDK helpers
# ---------------------------------------------------------------------------

def model(cls, **fields):
    """An SDK request model filled from keyword fields (through the model's own
    from_json_string, so nested models become model objects)."""
    m = cls()
    m.from_json_string(json.dumps(fields))
    return m


@contextlib.contextmanager
def observe_http():
    """Records every `requests` response the Zenlayer SDK receives inside the block,
    so a test can check the HTTP status behind an SDK exception."""
    seen = []
    original = requests.request

    def wrapper(*args, **kwargs):
        resp = original(*args, **kwargs)
        seen.append(resp)
        return resp

    with mock.patch.object(requests, "request", wrapper):
        yield seen


def ports_of(value):
    """Normalise a port field that a dialect may render as int, "80", "80,443",
    "8000-8010" or a list, into a sorted list of ints (ranges expanded)."""
    if value is None:
        return None
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        out = []
        for v in value:
            out.extend(ports_of(v))
        return sorted(out)
    out = []
    for part in str(value).split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            out.extend(range(int(lo), int(hi) + 1))
        elif part:
            out.append(int(part))
    return sorted(out)


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "HTTP %s %s" % (self.status, self.body[:500])


def _until_next_second(_index):
    """Seconds until the clock's next whole second (x-zc-timestamp has one-second resolution)."""
    return 1.0 - (time.time() % 1.0) + 0.02


def _raw_post(host, port, path, body, headers):
    assert_loopback(host)
    conn = http.client.HTTPConnection(host, port, timeout=HTTP_TIMEOUT_S)
    try:
        try:
            conn.request("POST", path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) before it read the whole body
        resp = conn.getresponse()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


class WeirTestCase(unittest.TestCase):
    """Base class: one weir server per test class.

    Subclasses set CONFIG (merged over BASE_CONFIG) and override `bootstrap(cls)` to
    build their tenants."""

    CONFIG = None
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = WeirServer(cls.CONFIG).start()
        cls.addClassCleanup(cls.server.stop)
        cls.native = Native(cls.server)
        cls.bootstrap()

    @classmethod
    def bootstrap(cls):
        pass

    # ---- clients -------------------------------------------------------

    @classmethod
    def zc_config(cls):
        # The SDK's own retry of 429 REQUEST_LIMIT_EXCEEDED is left on, as in its default Config: Weir
        # makes a write's signature single-use, so a second identical write within the same second (one
        # signature) is answered with that code and the SDK signs it again. Waiting only until the next
        # second (the SDK's default waits 1 s, then 2, 4) keeps the suite fast; the behaviour is the same.
        return Config(scheme="http", domain=cls.server.authority, request_timeout=HTTP_TIMEOUT_S,
                      rate_limit_max_retries=3, rate_limit_retry_duration=_until_next_second)

    @classmethod
    def zc_credential(cls, project=None, ak=None, sk=None, token=None):
        if token is not None:
            return TokenCredential(token)
        return Credential(ak or project.ak, sk or project.sk)

    @classmethod
    def zlb(cls, project=None, **kw):
        return ZlbClient(cls.zc_credential(project, **kw), cls.zc_config())

    @classmethod
    def bmc(cls, project=None, **kw):
        return BmcClient(cls.zc_credential(project, **kw), cls.zc_config())

    @classmethod
    def bmc2022(cls, project=None, **kw):
        return Bmc2022Client(cls.zc_credential(project, **kw), cls.zc_config())

    @classmethod
    def ulb(cls, project=None, ak=None, sk=None, region=REGION, project_id=None):
        cfg = {
            "base_url": cls.server.url + "/ucloud",
            "public_key": ak or project.ak,
            "private_key": sk or project.sk,
            "region": region,
            "project_id": project_id or project.id,
            "timeout": int(HTTP_TIMEOUT_S),
            "max_retries": 0,
        }
        return UCloudClient(cfg, logger=_quiet).ulb()

    # ---- raw requests ----------------------------------------------------

    def zc_raw(self, service, action, body, project=None, *, ak=None, sk=None, version=None,
               timestamp=None, authorization=None, omit=(), content_type="application/json",
               sign_body=None, extra_headers=None):
        """POST /api/v2/<service> signed with our own ZC2-HMAC-SHA256.

        body: dict (json.dumps'ed like the SDK) or bytes. sign_body: sign these bytes
        instead of the ones sent (tampering). authorization: replaces the header.
        omit: header names to leave out."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        if timestamp is None and authorization is None:
            # Signed now, like the SDK: an identical request already sent this second shares the
            # signature, which Weir accepts once; sign again in the next second, as the SDK does.
            for _ in range(3):
                r = self.zc_raw(service, action, body, project, ak=ak, sk=sk, version=version,
                                timestamp=int(time.time()), omit=omit, content_type=content_type,
                                sign_body=sign_body, extra_headers=extra_headers)
                if not (r.status == 429 and (r.json or {}).get("code") == "REQUEST_LIMIT_EXCEEDED"):
                    return r
                time.sleep(_until_next_second(0))
            return r
        if version is None:
            version = {"zlb": ZLB_VERSION, "bmc": BMC_VERSION}[service]
        ts = str(int(time.time()) if timestamp is None else int(timestamp))
        host = self.server.authority
        sig = zc2_signature(sk or project.sk, ts, content_type, host,
                            body if sign_body is None else sign_body)
        headers = {
            "x-zc-version": version,
            "x-zc-service": service,
            "x-zc-action": action,
            "x-zc-sdk-version": "weir-sdk-tests",
            "x-zc-sdk-lang": "Python",
            "host": host,
            "Content-Type": content_type,
            "x-zc-signature-method": "ZC2-HMAC-SHA256",
            "x-zc-timestamp": ts,
            "Authorization": authorization or zc2_authorization(ak or project.ak, sig),
        }
        headers.update(extra_headers or {})
        for name in omit:
            for k in list(headers):
                if k.lower() == name.lower():
                    del headers[k]
        return _raw_post(self.server.host, self.server.port, "/api/v2/" + service, body, headers)

    def uc_raw(self, params, project=None, *, ak=None, sk=None, sign=True, signature=None, region=REGION,
               project_id=None):
        """POST /ucloud, form-encoded, signed with our own UCloud SHA1."""
        p = {"Region": region, "ProjectId": project_id or (project.id if project else None)}
        p = {k: v for k, v in p.items() if v is not None}
        p.update(params)
        p["PublicKey"] = ak or project.ak
        p = {k: str(v) for k, v in p.items()}
        if signature is not None:
            p["Signature"] = signature
        elif sign:
            p["Signature"] = ucloud_signature(p, sk or project.sk)
        body = urllib.parse.urlencode(p).encode()
        return _raw_post(self.server.host, self.server.port, "/ucloud", body,
                         {"Content-Type": "application/x-www-form-urlencoded"})

    # ---- success-path steps -------------------------------------------------
    # A failing step names the contract item it exercised, so a broken setup call is not
    # mistaken for the assertion under test.

    def step(self, what, call):
        try:
            return call()
        except ZenlayerCloudSdkException as e:
            self.fail("step failed: %s -> %s: %s (requestId %s)" % (what, e.code, e.message, e.request_id))
        except RetCodeException as e:
            self.fail("step failed: %s -> RetCode %s: %s" % (what, e.code, e.message))
        except Exception as e:  # noqa: BLE001
            self.fail("step failed: %s -> %r" % (what, e))

    # ZLB
    def zlb_lb(self, client, vpc, subnet, name=None):
        req = model(zlb_models.CreateLoadBalancerRequest, regionId=REGION, vpcId=vpc["id"],
                    subnetId=subnet["id"], loadBalancerName=name or "lb-" + secrets.token_hex(3))
        resp = self.step("ZLB CreateLoadBalancer %s" % req, lambda: client.CreateLoadBalancer(req))
        self.assertIsInstance(resp.loadBalancerIds, list, "ZLB CreateLoadBalancer: loadBalancerIds missing")
        self.assertEqual(len(resp.loadBalancerIds), 1, "ZLB CreateLoadBalancer: one id expected")
        return resp.loadBalancerIds[0]

    def zlb_listener(self, client, lb_id, port="18080", protocol="TCP", name=None, **extra):
        req = model(zlb_models.CreateListenerRequest, loadBalancerId=lb_id,
                    listenerName=name or "lsn-" + secrets.token_hex(3), protocol=protocol, port=port, **extra)
        resp = self.step("ZLB CreateListener %s" % req, lambda: client.CreateListener(req))
        self.assertTrue(resp.listenerId, "ZLB CreateListener: no listenerId")
        return resp.listenerId

    def zlb_register(self, client, lb_id, listener_id, servers):
        req = model(zlb_models.RegisterBackendRequest, loadBalancerId=lb_id, listenerId=listener_id,
                    backendServers=servers)
        return self.step("ZLB RegisterBackend %s" % req, lambda: client.RegisterBackend(req))

    def zlb_backends(self, client, lb_id, listener_id=None):
        req = model(zlb_models.DescribeBackendsRequest, loadBalancerId=lb_id, listenerId=listener_id)
        resp = self.step("ZLB DescribeBackends %s" % req, lambda: client.DescribeBackends(req))
        self.assertIsNotNone(resp.backends, "ZLB DescribeBackends: response.backends missing")
        return resp.backends

    def zlb_backend_keys(self, client, lb_id, listener_id):
        """(privateIpAddress, backendPort, weight, instanceId) of every backend, sorted."""
        return sorted((b.privateIpAddress, b.backendPort, b.weight, b.instanceId or "")
                      for b in self.zlb_backends(client, lb_id, listener_id))

    # BMC
    def bmc_lb(self, client, subnet, name=None, models=bmc_models):
        req = model(models.CreateLoadBalancerRequest, zoneId=REGION, subnetId=subnet["id"],
                    loadBalancerName=name or "bmclb-" + secrets.token_hex(3))
        resp = self.step("BMC CreateLoadBalancer %s" % req, lambda: client.CreateLoadBalancer(req))
        self.assertTrue(resp.loadBalancerId, "BMC CreateLoadBalancer: no loadBalancerId")
        return resp.loadBalancerId

    def bmc_listener(self, client, lb_id, ports=(18080,), protocol="TCP", name=None, models=bmc_models, **extra):
        req = model(models.CreateListenerRequest, loadBalancerId=lb_id,
                    listenerName=name or "bmclsn-" + secrets.token_hex(3), portList=list(ports),
                    protocol=protocol, **extra)
        resp = self.step("BMC CreateListener %s" % req, lambda: client.CreateListener(req))
        self.assertTrue(resp.listenerId, "BMC CreateListener: no listenerId")
        return resp.listenerId

    def bmc_register(self, client, listener_id, instance_id, models=bmc_models, **fields):
        fields.setdefault("backendName", "be-" + secrets.token_hex(3))
        fields.setdefault("clientToken", "tok-" + secrets.token_hex(8))
        req = model(models.RegisterBackendRequest, listenerId=listener_id, instanceId=instance_id, **fields)
        resp = self.step("BMC RegisterBackend %s" % req, lambda: client.RegisterBackend(req))
        self.assertTrue(resp.backendId, "BMC RegisterBackend: no backendId")
        return resp.backendId

    def bmc_backends(self, client, listener_id=None, models=bmc_models, **filters):
        req = model(models.DescribeBackendsRequest, listenerId=listener_id, **filters)
        resp = self.step("BMC DescribeBackends %s" % req, lambda: client.DescribeBackends(req))
        self.assertIsNotNone(resp.dataSet, "BMC DescribeBackends: dataSet missing")
        return resp

    # UCloud
    def uc_ulb(self, ulb, vpc, subnet, name=None):
        req = {"ULBName": name or "ulb-" + secrets.token_hex(3), "VPCId": vpc["id"], "SubnetId": subnet["id"],
               "InnerMode": "Yes"}
        resp = self.step("UCloud CreateULB %s" % req, lambda: ulb.create_ulb(req))
        self.assertTrue(resp.get("ULBId"), "UCloud CreateULB: no ULBId in %r" % resp)
        return resp["ULBId"]

    def uc_vserver(self, ulb, ulb_id, port=18080, protocol="TCP", **extra):
        req = {"ULBId": ulb_id, "VServerName": "vs-" + secrets.token_hex(3), "Protocol": protocol,
               "FrontendPort": port}
        req.update(extra)
        resp = self.step("UCloud CreateVServer %s" % req, lambda: ulb.create_vserver(req))
        self.assertTrue(resp.get("VServerId"), "UCloud CreateVServer: no VServerId in %r" % resp)
        return resp["VServerId"]

    def uc_vserver_info(self, ulb, ulb_id, vserver_id):
        resp = self.step("UCloud DescribeVServer", lambda: ulb.describe_vserver(
            {"ULBId": ulb_id, "VServerId": vserver_id}))
        matches = [v for v in resp.get("DataSet") or [] if v.get("VServerId") == vserver_id]
        self.assertEqual(len(matches), 1, "UCloud DescribeVServer: VServer %s not listed once: %r"
                         % (vserver_id, resp))
        return matches[0]

    def uc_backends(self, ulb, ulb_id, vserver_id):
        return self.uc_vserver_info(ulb, ulb_id, vserver_id).get("BackendSet") or []

    def uc_backend_keys(self, ulb, ulb_id, vserver_id):
        return sorted((b.get("PrivateIP"), b.get("Port"), b.get("Weight"), b.get("ResourceId") or "")
                      for b in self.uc_backends(ulb, ulb_id, vserver_id))

    # ---- assertions ------------------------------------------------------

    def assertZcError(self, call, code, status, what="", message_re=None):
        """`call()` must raise ZenlayerCloudSdkException with `code`, after an HTTP
        `status` answer carrying requestId, code and message."""
        with observe_http() as seen:
            try:
                result = call()
            except ZenlayerCloudSdkException as e:
                err = e
            except Exception as e:  # noqa: BLE001  (the SDK failed to parse the answer)
                self.fail("%s: expected %s/%s, the SDK raised %r instead; HTTP answers: %s" % (
                    what, status, code, e, ["%s %s" % (r.status_code, r.text[:300]) for r in seen]))
            else:
                self.fail("%s: expected error %s (HTTP %s), got success %r" % (what, code, status, result))
        answers = ["%s %s" % (r.status_code, r.text[:300]) for r in seen]
        self.assertEqual(err.code, code, "%s: wrong error code (message=%r); HTTP answers: %s" % (
            what, err.message, answers))
        # An identical call earlier in the same second shared this call's signature, which is single-use:
        # Weir asked the SDK to sign again (429 REQUEST_LIMIT_EXCEEDED, docs/dialects/zenlayer.md). Those
        # exchanges are the SDK's retry, not the answer under test.
        seen = [r for r in seen if not (r.status_code == 429 and "already used" in r.text
                                        and code != "REQUEST_LIMIT_EXCEEDED")]
        self.assertEqual(len(seen), 1, "%s: expected exactly one HTTP exchange, saw %s" % (what, answers))
        self.assertEqual(seen[0].status_code, status, "%s: wrong HTTP status for %s; answer: %s" % (
            what, code, answers))
        self.assertTrue(err.request_id, "%s: error without requestId: %s" % (what, answers))
        self.assertTrue(err.message, "%s: error without message: %s" % (what, answers))
        if message_re:
            self.assertRegex(err.message, message_re, "%s: message does not say what failed" % what)
        return err

    def assertZcRawError(self, resp, code, status, what="", message_re=None):
        self.assertIsInstance(resp.json, dict, "%s: error body is not JSON: %r" % (what, resp))
        self.assertEqual((resp.status, resp.json.get("code")), (status, code), "%s: %r" % (what, resp))
        for key in ("requestId", "code", "message"):
            self.assertIn(key, resp.json, "%s: error body lacks %s: %r" % (what, key, resp))
        if message_re:
            self.assertRegex(resp.json["message"], message_re, "%s: message does not say what failed" % what)

    def assertZcRawOk(self, resp, what=""):
        self.assertEqual(resp.status, 200, "%s: %r" % (what, resp))
        self.assertIsInstance(resp.json, dict, "%s: %r" % (what, resp))
        self.assertIn("requestId", resp.json, "%s: %r" % (what, resp))
        self.assertIn("response", resp.json, "%s: %r" % (what, resp))

    def assertUcError(self, call, code, what="", message_re=None):
        try:
            result = call()
        except RetCodeException as e:
            err = e
        except Exception as e:  # noqa: BLE001
            self.fail("%s: expected RetCode %s, the SDK raised %r instead" % (what, code, e))
        else:
            self.fail("%s: expected RetCode %s, got success %r" % (what, code, result))
        self.assertEqual(err.code, code, "%s: wrong RetCode (Message=%r)" % (what, err.message))
        if message_re:
            self.assertRegex(err.message or "", message_re, "%s: Message does not say what failed" % what)
        return err


# ---------------------------------------------------------------------------
# Loopback backends for traffic tests
# ---------------------------------------------------------------------------

class _TokenTCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(2.0)
        try:
            self.request.recv(1024)
        except OSError:
            pass
        try:
            self.request.sendall(self.server.token)
        except OSError:
            pass


class _ThreadingTCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class TokenTCPBackend:
    """A TCP server on 127.x that answers every connection with its token."""

    def __init__(self, host):
        assert_loopback(host)
        self.token = ("weir-backend-" + secrets.token_hex(8)).encode()
        self.server = _ThreadingTCP((host, 0), _TokenTCPHandler)
        self.server.token = self.token
        self.host, self.port = self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _TokenHTTPHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = self.server.token
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class TokenHTTPBackend(TokenTCPBackend):
    """An HTTP server on 127.x whose every GET answers its token."""

    def __init__(self, host):
        assert_loopback(host)
        self.token = ("weir-http-backend-" + secrets.token_hex(8)).encode()
        self.server = http.server.ThreadingHTTPServer((host, 0), _TokenHTTPHandler)
        self.server.daemon_threads = True
        self.server.token = self.token
        self.host, self.port = self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()


def alpn_of(host, port, sni, offer=("h2", "http/1.1"), deadline_s=10.0):
    """The ALPN protocol a TLS listener picks from `offer` (None: none), retried (bounded)
    until the handshake completes (a listener is applied a moment after its answer)."""
    import ssl
    assert_loopback(host)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(list(offer))
    end = time.monotonic() + deadline_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=2) as raw:
                with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                    return tls.selected_alpn_protocol()
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def free_port(host):
    """A port free on `host` right now (the listener binds it a moment later)."""
    assert_loopback(host)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def tcp_exchange(host, port, attempts=40, deadline_s=10.0, pause_s=0.1):
    """Connect to host:port, send a line, return what comes back; retried (bounded)
    until something comes back. Returns (data, last_error)."""
    assert_loopback(host)
    end = time.monotonic() + deadline_s
    last = None
    for _ in range(attempts):
        if time.monotonic() > end:
            break
        try:
            with socket.create_connection((host, port), timeout=1.0) as s:
                s.settimeout(1.0)
                s.sendall(b"ping\n")
                chunks = []
                for _ in range(16):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    chunks.append(chunk)
                data = b"".join(chunks)
                if data:
                    return data, None
                last = "connection closed without data"
        except OSError as e:
            last = repr(e)
        time.sleep(pause_s)
    return None, last


def http_get(host, port, path="/", attempts=40, deadline_s=10.0, pause_s=0.1):
    """GET http://host:port/path with bounded retries; returns (status, body, last_error)."""
    assert_loopback(host)
    end = time.monotonic() + deadline_s
    last = None
    for _ in range(attempts):
        if time.monotonic() > end:
            break
        conn = http.client.HTTPConnection(host, port, timeout=1.0)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status == 200:
                return resp.status, body, None
            last = "HTTP %s %r" % (resp.status, body[:200])
        except (OSError, http.client.HTTPException) as e:
            last = repr(e)
        finally:
            conn.close()
        time.sleep(pause_s)
    return None, None, last
