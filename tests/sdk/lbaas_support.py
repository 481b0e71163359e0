"""Support for the OpenStack (Keystone + Octavia) and Huawei ELB v2 SDK tests.

Builds on harness.py (read-only there): the same `weir serve` per test class, the same
loopback guard, the same `World` inventory. Adds:

- Keystone helpers (raw token requests, openstacksdk connections);
- SDK-HMAC-SHA256, implemented here from the wire notes (sdk-wire-formats.md §4), for raw
  Huawei requests the SDK cannot produce (a skewed X-Sdk-Date, a tampered body);
- `LbaasTestCase`: steps that name the call that failed, error assertions for both SDKs,
  bounded polling for provisioning_status, and builders for a load balancer + listener +
  pool through either SDK.

Every helper that opens a connection checks that the peer is in 127.0.0.0/8, and every
wait is bounded in count and time.
"""

import datetime
import hashlib
import hmac
import http.client
import json
import secrets
import time
import urllib.parse

from tests.sdk.harness import (  # noqa: F401  (re-exported for the test modules)
    HTTP_TIMEOUT_S,
    REGION,
    Native,
    RawResponse,
    TokenTCPBackend,
    WeirServer,
    WeirTestCase,
    World,
    assert_loopback,
    free_port,
    tcp_exchange,
)

import openstack  # noqa: E402
from openstack import exceptions as os_exc  # noqa: E402
from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.exceptions import exceptions as hw_exc  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkelb import v2 as elb  # noqa: E402
from huaweicloudsdkelb.v2 import ElbClient  # noqa: E402

# Polling budget for provisioning_status (the data plane applies a change in milliseconds;
# the budget only absorbs a slow CI machine).
POLL_ATTEMPTS = 100
POLL_DEADLINE_S = 5.0
POLL_PAUSE_S = 0.05


# ---------------------------------------------------------------------------
# Raw HTTP (loopback only)
# ---------------------------------------------------------------------------

def raw_request(server, method, path, body=None, headers=None):
    """One HTTP request to the weir server; returns harness.RawResponse (headers lower-case).
    `body`: dict/list (sent as JSON), str or bytes."""
    assert_loopback(server.host)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    headers = dict(headers or {})
    if body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(server.host, server.port, timeout=HTTP_TIMEOUT_S)
    try:
        try:
            conn.request(method, path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) before it read the whole body
        resp = conn.getresponse()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def get_absolute(server, href, headers=None):
    """GET an absolute href the server handed out (a *_links entry), after checking that it
    points back at this loopback server."""
    parts = urllib.parse.urlsplit(href)
    if parts.scheme != "http" or parts.hostname != server.host or parts.port != server.port:
        raise AssertionError("link %r does not point at the server %s" % (href, server.url))
    path = parts.path + ("?" + parts.query if parts.query else "")
    return raw_request(server, "GET", path, headers=headers)


# ---------------------------------------------------------------------------
# Keystone
# ---------------------------------------------------------------------------

def keystone_app_cred_body(ak, sk):
    return {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": {"id": ak, "secret": sk}}}}


def keystone_password_body(ak, sk, project_id=None, project_name=None):
    body = {"auth": {"identity": {"methods": ["password"],
                                  "password": {"user": {"name": ak, "password": sk,
                                                        "domain": {"id": "default"}}}}}}
    project = {}
    if project_id is not None:
        project["id"] = project_id
    if project_name is not None:
        project["name"] = project_name
        project["domain"] = {"id": "default"}
    if project:
        body["auth"]["scope"] = {"project": project}
    return body


def keystone_token(server, body):
    """POST /v3/auth/tokens; returns the RawResponse (token in headers['x-subject-token'])."""
    return raw_request(server, "POST", "/v3/auth/tokens", body)


def parse_iso8601(text):
    """Keystone's `expires_at` ("2026-11-24T18:00:00.000000Z" or without fraction) as an
    aware datetime."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(t)


def openstack_connection(server, ak, sk, region=REGION):
    """openstacksdk against weir's Keystone, application-credential auth, no clouds.yaml and
    no OS_* environment."""
    assert_loopback(server.host)
    return openstack.connect(
        load_yaml_config=False, load_envvars=False,
        auth_type="v3applicationcredential", region_name=region,
        auth={"auth_url": server.url + "/v3", "application_credential_id": ak,
              "application_credential_secret": sk},
        api_timeout=HTTP_TIMEOUT_S)


# ---------------------------------------------------------------------------
# Huawei SDK-HMAC-SHA256 (own implementation of the algorithm in the wire notes)
# ---------------------------------------------------------------------------

HW_ALGORITHM = "SDK-HMAC-SHA256"


def _pct(text):
    """RFC 3986: unreserved characters kept, everything else %XX (upper-case hex)."""
    return urllib.parse.quote(str(text), safe="-_.~")


def hw_canonical_request(method, path, query_pairs, headers, signed_names, body):
    """method, path (each segment decoded then re-encoded, trailing '/'), the sorted encoded
    query, `name:trimmed value` for each signed header, the signed names, hex SHA-256 of
    the body."""
    uri = "/".join(_pct(seg) for seg in urllib.parse.unquote(path).split("/"))
    if not uri.endswith("/"):
        uri += "/"
    encoded = sorted((_pct(k), _pct(v)) for k, v in query_pairs)
    query = "&".join("%s=%s" % kv for kv in encoded)
    lower = {k.lower(): v for k, v in headers.items()}
    canon_headers = "".join("%s:%s\n" % (name, lower.get(name, "").strip()) for name in signed_names)
    payload = lower.get("x-sdk-content-sha256") or hashlib.sha256(body or b"").hexdigest()
    return "\n".join([method, uri, query, canon_headers, ";".join(signed_names), payload])


def hw_string_to_sign(sdk_date, canonical):
    return "%s\n%s\n%s" % (HW_ALGORITHM, sdk_date, hashlib.sha256(canonical.encode()).hexdigest())


def hw_signature(secret, sdk_date, canonical):
    return hmac.new(secret.encode(), hw_string_to_sign(sdk_date, canonical).encode(),
                    hashlib.sha256).hexdigest()


def sdk_date(unix_seconds):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(unix_seconds))


def hw_raw(server, project, method, resource, body=None, query=(), *, ak=None, sk=None,
           path_project_id=None, date_offset_s=0, sign_body=None, sign_path=None):
    """A raw Huawei ELB v2 request `METHOD /v2/{project_id}/elb{resource}?query`, signed with
    our own SDK-HMAC-SHA256 over content-type;host;x-project-id;x-sdk-date.

    date_offset_s: shift X-Sdk-Date from now. sign_body / sign_path: sign these instead of
    what is sent (tampering)."""
    project_id = path_project_id or project.id
    path = "/v2/%s/elb%s" % (project_id, resource)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    query = list(query)
    date = sdk_date(int(time.time()) + int(date_offset_s))
    headers = {
        "Content-Type": "application/json",
        "Host": server.authority,
        "X-Project-Id": project_id,
        "X-Sdk-Date": date,
    }
    signed = sorted(k.lower() for k in headers)
    canonical = hw_canonical_request(method, sign_path or path, query, headers, signed,
                                     body if sign_body is None else sign_body)
    sig = hw_signature(sk or project.sk, date, canonical)
    headers["Authorization"] = "%s Access=%s, SignedHeaders=%s, Signature=%s" % (
        HW_ALGORITHM, ak or project.ak, ";".join(signed), sig)
    full = path + ("?" + urllib.parse.urlencode(query) if query else "")
    return raw_request(server, method, full, body, headers)


def huawei_client(server, ak, sk, project_id):
    assert_loopback(server.host)
    config = HttpConfig.get_default_config()
    config.timeout = (HTTP_TIMEOUT_S, HTTP_TIMEOUT_S)
    config.retry_times = 0
    return (ElbClient.new_builder()
            .with_credentials(BasicCredentials(ak, sk, project_id))
            .with_endpoint(server.url)
            .with_http_config(config)
            .build())


# Huawei request builders (keyword fields -> SDK models)

def hw_create_lb(subnet_id, **fields):
    return elb.CreateLoadbalancerRequest(body=elb.CreateLoadbalancerRequestBody(
        loadbalancer=elb.CreateLoadbalancerReq(vip_subnet_id=subnet_id, **fields)))


def hw_create_listener(lb_id, protocol, port, **fields):
    return elb.CreateListenerRequest(body=elb.CreateListenerRequestBody(
        listener=elb.CreateListenerReq(loadbalancer_id=lb_id, protocol=protocol, protocol_port=port, **fields)))


def hw_create_pool(protocol, algorithm, **fields):
    return elb.CreatePoolRequest(body=elb.CreatePoolRequestBody(
        pool=elb.CreatePoolReq(protocol=protocol, lb_algorithm=algorithm, **fields)))


def hw_create_member(pool_id, **fields):
    return elb.CreateMemberRequest(pool_id=pool_id, body=elb.CreateMemberRequestBody(
        member=elb.CreateMemberReq(**fields)))


def hw_update_member(pool_id, member_id, **fields):
    return elb.UpdateMemberRequest(pool_id=pool_id, member_id=member_id, body=elb.UpdateMemberRequestBody(
        member=elb.UpdateMemberReq(**fields)))


# ---------------------------------------------------------------------------
# Test base
# ---------------------------------------------------------------------------

def os_error_text(e):
    return "%s(status=%s, details=%r, request_id=%r)" % (
        type(e).__name__, getattr(e, "status_code", None), getattr(e, "details", None),
        getattr(e, "request_id", None))


def hw_error_text(e):
    return "%s(status=%s, error_code=%r, error_msg=%r, request_id=%r)" % (
        type(e).__name__, getattr(e, "status_code", None), getattr(e, "error_code", None),
        getattr(e, "error_msg", None), getattr(e, "request_id", None))


class LbaasTestCase(WeirTestCase):
    """WeirTestCase plus OpenStack / Huawei clients, steps and assertions."""

    # ---- clients ---------------------------------------------------------

    @classmethod
    def os_conn(cls, project, ak=None, sk=None):
        return openstack_connection(cls.server, ak or project.ak, sk or project.sk)

    @classmethod
    def hw(cls, project, ak=None, sk=None, project_id=None):
        return huawei_client(cls.server, ak or project.ak, sk or project.sk, project_id or project.id)

    @classmethod
    def token_for(cls, project):
        resp = keystone_token(cls.server, keystone_app_cred_body(project.ak, project.sk))
        if resp.status != 201 or not resp.headers.get("x-subject-token"):
            raise AssertionError("Keystone token for %s: %r" % (project.name, resp))
        return resp.headers["x-subject-token"]

    def octavia_raw(self, method, path, body=None, token=None, prefix="/v2.0/lbaas"):
        headers = {"X-Auth-Token": token} if token is not None else {}
        return raw_request(self.server, method, prefix + path, body, headers)

    # ---- steps -----------------------------------------------------------

    def os_step(self, what, call):
        """Run an openstacksdk call that must succeed; a failure names the call."""
        try:
            return call()
        except os_exc.SDKException as e:
            self.fail("step failed: %s -> %s" % (what, os_error_text(e)))

    def hw_step(self, what, call):
        try:
            return call()
        except hw_exc.SdkException as e:
            self.fail("step failed: %s -> %s" % (what, hw_error_text(e)))

    # ---- assertions --------------------------------------------------------

    def assertOsError(self, call, exc_class, status, what, message_re=None):
        """`call()` must raise `exc_class` (openstacksdk) for HTTP `status`, with details and a
        request id taken from the server's answer."""
        try:
            result = call()
        except os_exc.SDKException as e:
            err = e
        else:
            self.fail("%s: expected %s (HTTP %s), got success %r" % (what, exc_class.__name__, status, result))
        self.assertIsInstance(err, exc_class, "%s: wrong exception %s" % (what, os_error_text(err)))
        self.assertEqual(getattr(err, "status_code", None), status, "%s: %s" % (what, os_error_text(err)))
        self.assertTrue(err.details, "%s: no details: %s" % (what, os_error_text(err)))
        self.assertTrue(err.request_id, "%s: no request id: %s" % (what, os_error_text(err)))
        if message_re:
            self.assertRegex(err.details, message_re, "%s: details do not say what failed" % what)
        return err

    def assertHwError(self, call, status, code, what, message_re=None):
        """`call()` must raise ClientRequestException (Huawei SDK) with `status`, `code`, a
        message and a request id."""
        try:
            result = call()
        except hw_exc.ClientRequestException as e:
            err = e
        except hw_exc.SdkException as e:
            self.fail("%s: expected ClientRequestException %s/%s, got %s" % (what, status, code, hw_error_text(e)))
        else:
            self.fail("%s: expected %s/%s, got success %r" % (what, status, code, result))
        got = (err.status_code, err.error_code)
        self.assertEqual(got, (status, code), "%s: %s" % (what, hw_error_text(err)))
        self.assertTrue(err.error_msg, "%s: no error_msg: %s" % (what, hw_error_text(err)))
        self.assertTrue(err.request_id, "%s: no request id: %s" % (what, hw_error_text(err)))
        if message_re:
            self.assertRegex(err.error_msg, message_re, "%s: error_msg does not say what failed" % what)
        return err

    def assertLbaasErrorBody(self, resp, status, what, message_re=None, code=None):
        """A raw LBaaS error: status, the Octavia + Huawei JSON fields and the request-id
        headers, all naming the same request."""
        self.assertEqual(resp.status, status, "%s: %r" % (what, resp))
        self.assertIsInstance(resp.json, dict, "%s: error body is not JSON: %r" % (what, resp))
        for key in ("faultcode", "faultstring", "debuginfo", "error_code", "error_msg", "request_id"):
            self.assertIn(key, resp.json, "%s: error body lacks %s: %r" % (what, key, resp))
        self.assertTrue(resp.json["faultstring"], "%s: empty faultstring: %r" % (what, resp))
        self.assertEqual(resp.json["faultstring"], resp.json["error_msg"], "%s: %r" % (what, resp))
        self.assertTrue(resp.headers.get("x-openstack-request-id"), "%s: no x-openstack-request-id" % what)
        self.assertEqual(resp.headers.get("x-openstack-request-id"), resp.json["request_id"],
                         "%s: header and body request ids differ: %r %r" % (what, resp.headers, resp))
        if code is not None:
            self.assertEqual(resp.json["error_code"], code, "%s: %r" % (what, resp))
        if message_re:
            self.assertRegex(resp.json["faultstring"], message_re, "%s: faultstring does not say what failed" % what)

    # ---- polling -------------------------------------------------------------

    def poll(self, what, fetch, done, attempts=POLL_ATTEMPTS, deadline_s=POLL_DEADLINE_S, pause_s=POLL_PAUSE_S):
        """fetch() until done(value) (bounded); returns the last value or fails with it."""
        end = time.monotonic() + deadline_s
        value = None
        for _ in range(attempts):
            value = fetch()
            if done(value):
                return value
            if time.monotonic() > end:
                break
            time.sleep(pause_s)
        self.fail("%s: condition not met within %d polls / %.1fs; last value %r" % (what, attempts, deadline_s, value))

    def wait_os_active(self, what, fetch):
        """Poll an openstacksdk resource getter until provisioning_status is ACTIVE (ERROR
        fails at once)."""
        def done(r):
            if r.provisioning_status == "ERROR":
                self.fail("%s: provisioning_status ERROR: %r" % (what, r))
            return r.provisioning_status == "ACTIVE"
        return self.poll(what + " ACTIVE", lambda: self.os_step(what, fetch), done)

    # ---- builders ------------------------------------------------------------

    def os_stack(self, conn, world, protocol="TCP", algorithm="ROUND_ROBIN", pool_protocol=None, name=None):
        """LB (VIP subnet = world.subnet) + listener on a free VIP port + its pool, through
        openstacksdk; waits for the LB to be ACTIVE. Returns (lb, listener, pool)."""
        name = name or "os-" + secrets.token_hex(3)
        lb = self.os_step("create_load_balancer", lambda: conn.load_balancer.create_load_balancer(
            vip_subnet_id=world.subnet["id"], name=name))
        self.assertTrue(lb.vip_address, "create_load_balancer: no vip_address in %r" % lb)
        port = free_port(lb.vip_address) if protocol != "UDP" else 20000 + secrets.randbelow(20000)
        listener = self.os_step("create_listener", lambda: conn.load_balancer.create_listener(
            loadbalancer_id=lb.id, protocol=protocol, protocol_port=port, name=name + "-l"))
        pool = self.os_step("create_pool", lambda: conn.load_balancer.create_pool(
            listener_id=listener.id, protocol=pool_protocol or protocol, lb_algorithm=algorithm,
            name=name + "-p"))
        lb = self.wait_os_active("load balancer %s" % lb.id, lambda: conn.load_balancer.get_load_balancer(lb.id))
        return lb, listener, pool

    def hw_stack(self, client, world, protocol="TCP", algorithm="ROUND_ROBIN", name=None):
        """LB + listener + pool through the Huawei SDK. Returns (lb, listener, pool) SDK
        response models."""
        name = name or "hw-" + secrets.token_hex(3)
        lb = self.hw_step("create_loadbalancer", lambda: client.create_loadbalancer(
            hw_create_lb(world.subnet["id"], name=name))).loadbalancer
        self.assertTrue(lb.id and lb.vip_address, "create_loadbalancer: %r" % lb)
        port = free_port(lb.vip_address)
        listener = self.hw_step("create_listener", lambda: client.create_listener(
            hw_create_listener(lb.id, protocol, port, name=name + "-l"))).listener
        pool = self.hw_step("create_pool", lambda: client.create_pool(
            hw_create_pool(protocol, algorithm, listener_id=listener.id, name=name + "-p"))).pool
        return lb, listener, pool
