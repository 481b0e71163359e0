"""Support for the Alibaba Cloud SLB tests (test_aliyun.py).

Builds on harness.py (read-only there): the same `weir serve` per test class, the same
loopback guard, the same `World` inventory. Adds:

- signature v1 (HMAC-SHA1 over the sorted, RFC 3986-encoded parameters, key `secret&`) and
  ACS3-HMAC-SHA256, implemented here from the wire notes (sdk-wire-formats.md §3), for raw
  requests neither SDK can produce (a skewed Timestamp, a replayed nonce, a tampered
  parameter, an oversize body); `parse_raw_request` reads the captured vectors so the
  self-test can prove both signers first;
- `AliyunTestCase`: clients for both SDK generations (classic AcsClient and the Tea client),
  steps that name the call that failed, error assertions for both SDKs and for raw answers,
  and native-API views of the default server group and of the store revision (a refused
  write must leave both unchanged).

Every helper that opens a connection checks that the peer is in 127.0.0.0/8; every wait is
bounded in count and time.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import secrets
import time
import urllib.parse

from tests.sdk.harness import (  # noqa: F401  (re-exported for the test module)
    HTTP_TIMEOUT_S,
    REGION,
    RawResponse,
    TokenTCPBackend,
    WeirTestCase,
    World,
    assert_loopback,
    free_port,
    tcp_exchange,
)

from aliyunsdkcore.acs_exception.exceptions import ClientException as AcsClientException  # noqa: E402
from aliyunsdkcore.acs_exception.exceptions import ServerException as AcsServerException  # noqa: E402
from aliyunsdkcore.client import AcsClient  # noqa: E402
from alibabacloud_slb20140515 import models as tea_models  # noqa: E402,F401
from alibabacloud_slb20140515.client import Client as TeaSlbClient  # noqa: E402
from alibabacloud_tea_openapi import models as open_api_models  # noqa: E402
from Tea.exceptions import TeaException  # noqa: E402

SLB_VERSION = "2014-05-15"
ACS3 = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ERROR_KEYS = ("RequestId", "HostId", "Code", "Message")


# ---------------------------------------------------------------------------
# Signing (own implementation of the algorithms in the wire notes)
# ---------------------------------------------------------------------------

def pct(text):
    """RFC 3986: A-Z a-z 0-9 - _ . ~ kept, everything else %XX (UTF-8, upper-case hex)."""
    return urllib.parse.quote(str(text), safe="~")


def v1_string_to_sign(method, params):
    """`METHOD&%2F&pct(canon)`, canon = the sorted `pct(k)=pct(v)` pairs of every parameter
    except Signature. `params`: a list of (key, value) pairs (query and form together)."""
    pairs = sorted((pct(k), pct(v)) for k, v in params if k != "Signature")
    canon = "&".join("%s=%s" % kv for kv in pairs)
    return "%s&%s&%s" % (method, pct("/"), pct(canon))


def v1_signature(method, params, secret):
    sts = v1_string_to_sign(method, params)
    digest = hmac.new((secret + "&").encode("utf-8"), sts.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def acs3_canonical_request(method, query, headers, signed_names, payload_hash):
    """query: (key, value) pairs, decoded; headers: {lower-case name: value}."""
    canon_query = "&".join("%s=%s" % (k, pct(v)) for k, v in sorted(query))
    canon_headers = "".join("%s:%s\n" % (n, headers.get(n, "").strip()) for n in signed_names)
    return "\n".join([method, "/", canon_query, canon_headers, ";".join(signed_names), payload_hash])


def acs3_string_to_sign(canonical):
    return "%s\n%s" % (ACS3, hashlib.sha256(canonical.encode("utf-8")).hexdigest())


def acs3_signature(secret, canonical):
    return hmac.new(secret.encode("utf-8"), acs3_string_to_sign(canonical).encode("utf-8"),
                    hashlib.sha256).hexdigest()


def parse_acs3_authorization(value):
    scheme, _, rest = value.partition(" ")
    fields = {}
    for part in rest.split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    return scheme, fields


def parse_raw_request(data):
    """The bytes of one HTTP/1.1 request -> (method, target, {lower name: value}, body)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return method, target, headers, body


def iso_utc(unix_seconds):
    return datetime.datetime.fromtimestamp(int(unix_seconds), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def nonce():
    return secrets.token_hex(16)


# ---------------------------------------------------------------------------
# Raw requests (loopback only)
# ---------------------------------------------------------------------------

def send(server, method, target, body=b"", headers=None):
    """One HTTP request to the weir server; returns harness.RawResponse (headers lower-case)."""
    assert_loopback(server.host)
    conn = http.client.HTTPConnection(server.host, server.port, timeout=HTTP_TIMEOUT_S)
    try:
        try:
            conn.request(method, target, body=body, headers=dict(headers or {}))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) before it read the whole body
        resp = conn.getresponse()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def v1_params(action, params, ak, *, timestamp=None, signature_nonce=None, region=REGION, fmt="JSON"):
    """The parameters the classic SDK sends, before signing."""
    out = {
        "Action": action,
        "Version": SLB_VERSION,
        "Format": fmt,
        "Timestamp": iso_utc(time.time() if timestamp is None else timestamp),
        "SignatureMethod": "HMAC-SHA1",
        "SignatureType": "",
        "SignatureVersion": "1.0",
        "SignatureNonce": signature_nonce or nonce(),
        "AccessKeyId": ak,
    }
    if region is not None:
        out["RegionId"] = region
    out.update({k: str(v) for k, v in params.items()})
    return out


def v1_request(server, action, params, *, ak, sk, timestamp=None, signature_nonce=None, region=REGION,
               fmt="JSON", tamper=None, form_body=None, method="POST"):
    """A v1-signed request as the classic SDK sends it: every parameter in the query of a
    POST with an empty body. tamper: parameters changed after signing. form_body: bytes sent
    as an x-www-form-urlencoded body (not signed unless they are parameters too)."""
    p = v1_params(action, params, ak, timestamp=timestamp, signature_nonce=signature_nonce, region=region,
                  fmt=fmt)
    p["Signature"] = v1_signature(method, list(p.items()), sk)
    for k, v in (tamper or {}).items():
        p[k] = str(v)
    target = "/?" + urllib.parse.urlencode(p, quote_via=urllib.parse.quote)
    headers = {"x-acs-action": action, "x-acs-version": SLB_VERSION}
    body = b""
    if form_body is not None:
        body = form_body
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return send(server, method, target, body, headers)


def acs3_request(server, action, query, *, ak, sk, date=None, signature_nonce=None, body=b"",
                 content_type=None, sign_query=None, payload_hash=None, method="POST"):
    """An ACS3-HMAC-SHA256 request as the Tea SDK sends it: business parameters in the query,
    the action in x-acs-action. sign_query: sign these parameters instead of the ones sent
    (tampering). payload_hash: the x-acs-content-sha256 to send and sign (default: the body's)."""
    query = [(k, str(v)) for k, v in query.items()]
    host = server.authority
    headers = {
        "host": host,
        "x-acs-version": SLB_VERSION,
        "x-acs-action": action,
        "user-agent": "weir-sdk-tests",
        "x-acs-date": iso_utc(time.time() if date is None else date),
        "x-acs-signature-nonce": signature_nonce or nonce(),
        "accept": "application/json",
        "x-acs-content-sha256": payload_hash or hashlib.sha256(body).hexdigest(),
    }
    if content_type:
        headers["content-type"] = content_type
    signed = sorted(headers)
    signed_query = query if sign_query is None else [(k, str(v)) for k, v in sign_query.items()]
    canonical = acs3_canonical_request(method, signed_query, headers, signed, headers["x-acs-content-sha256"])
    headers["Authorization"] = "%s Credential=%s,SignedHeaders=%s,Signature=%s" % (
        ACS3, ak, ";".join(signed), acs3_signature(sk, canonical))
    target = "/" + ("?" + urllib.parse.urlencode(query) if query else "")
    return send(server, method, target, body, headers)


# ---------------------------------------------------------------------------
# Test case base
# ---------------------------------------------------------------------------

def servers_json(*servers):
    return json.dumps(list(servers))


class AliyunTestCase(WeirTestCase):
    """WeirTestCase plus both Alibaba SDK generations, steps and assertions."""

    # ---- clients ---------------------------------------------------------

    @classmethod
    def classic(cls, project=None, ak=None, sk=None, region=REGION):
        client = AcsClient(ak or project.ak, sk or project.sk, region, timeout=int(HTTP_TIMEOUT_S),
                           max_retry_time=0, auto_retry=False)
        client.add_endpoint(region, "Slb", cls.server.authority)
        return client

    @classmethod
    def tea(cls, project=None, ak=None, sk=None, region=REGION):
        return TeaSlbClient(open_api_models.Config(
            access_key_id=ak or project.ak, access_key_secret=sk or project.sk, endpoint=cls.server.authority,
            protocol="http", region_id=region, read_timeout=int(HTTP_TIMEOUT_S * 1000),
            connect_timeout=int(HTTP_TIMEOUT_S * 1000)))

    # ---- steps -----------------------------------------------------------

    def acs(self, client, request, what=None):
        """A classic-SDK call that must succeed: the decoded JSON answer."""
        what = what or "classic %s" % request.get_action_name()
        try:
            raw = client.do_action_with_exception(request)
        except AcsServerException as e:
            self.fail("step failed: %s -> HTTP %s %s: %s (RequestId %s)" % (
                what, e.get_http_status(), e.get_error_code(), e.get_error_msg(), e.get_request_id()))
        except AcsClientException as e:
            self.fail("step failed: %s -> client error %s: %s" % (what, e.get_error_code(), e.get_error_msg()))
        try:
            body = json.loads(raw)
        except ValueError:
            self.fail("%s: the answer is not JSON: %r" % (what, raw[:300]))
        self.assertIsInstance(body, dict, what)
        self.assertTrue(body.get("RequestId"), "%s: no RequestId in %r" % (what, body))
        return body

    def tea_step(self, what, call):
        """A Tea-SDK call that must succeed: the response (status 200, a RequestId)."""
        try:
            resp = call()
        except TeaException as e:
            self.fail("step failed: %s -> %s: %s (data %r)" % (what, e.code, e.message, getattr(e, "data", None)))
        self.assertEqual(resp.status_code, 200, what)
        self.assertTrue(resp.body.request_id, "%s: no RequestId" % what)
        return resp

    # ---- assertions --------------------------------------------------------

    def assertAcsError(self, call, code, status, what, message_re=None):
        """`call()` (classic SDK) must raise ServerException with `code` and HTTP `status`,
        carrying a RequestId and a message."""
        try:
            result = call()
        except AcsServerException as e:
            err = e
        except Exception as e:  # noqa: BLE001
            self.fail("%s: expected %s/%s, the classic SDK raised %r instead" % (what, status, code, e))
        else:
            self.fail("%s: expected %s (HTTP %s), got success %r" % (what, code, status, result))
        self.assertEqual((err.get_http_status(), err.get_error_code()), (status, code),
                         "%s: wrong status/code (message %r)" % (what, err.get_error_msg()))
        self.assertTrue(err.get_request_id(), "%s: error without RequestId" % what)
        self.assertTrue(err.get_error_msg(), "%s: error without Message" % what)
        if message_re:
            self.assertRegex(err.get_error_msg(), message_re, "%s: the message does not say what failed" % what)
        return err

    def assertTeaError(self, call, code, status, what, message_re=None):
        """`call()` (Tea SDK) must raise a TeaException with `code` and HTTP `status`; the
        error body (e.data) carries RequestId, HostId, Code and Message."""
        try:
            result = call()
        except TeaException as e:
            err = e
        except Exception as e:  # noqa: BLE001
            self.fail("%s: expected %s/%s, the Tea SDK raised %r instead" % (what, status, code, e))
        else:
            self.fail("%s: expected %s (HTTP %s), got success %r" % (what, code, status, result))
        data = getattr(err, "data", None) or {}
        self.assertEqual((data.get("statusCode"), err.code), (status, code),
                         "%s: wrong status/code (message %r, data %r)" % (what, err.message, data))
        for key in ERROR_KEYS:
            self.assertTrue(data.get(key), "%s: the error body lacks %s: %r" % (what, key, data))
        self.assertEqual(data["Code"], code, what)
        if message_re:
            self.assertRegex(data["Message"], message_re, "%s: the message does not say what failed" % what)
        return err

    def assertAliRawError(self, resp, code, status, what, message_re=None):
        """A raw answer must be HTTP `status` with a JSON error body: RequestId, HostId, Code,
        Message."""
        self.assertIsInstance(resp.json, dict, "%s: the error body is not JSON: %r" % (what, resp))
        self.assertEqual((resp.status, resp.json.get("Code")), (status, code), "%s: %r" % (what, resp))
        for key in ERROR_KEYS:
            self.assertTrue(resp.json.get(key), "%s: the error body lacks %s: %r" % (what, key, resp))
        if message_re:
            self.assertRegex(resp.json["Message"], message_re, "%s: the message does not say what failed" % what)
        return resp.json

    def assertAliRawOk(self, resp, what):
        self.assertEqual(resp.status, 200, "%s: %r" % (what, resp))
        self.assertIsInstance(resp.json, dict, "%s: %r" % (what, resp))
        self.assertTrue(resp.json.get("RequestId"), "%s: no RequestId: %r" % (what, resp))
        return resp.json

    # ---- native views ----------------------------------------------------------

    def revision(self):
        """The store's change-log revision (native /healthz): a refused write must not move it."""
        status, body = self.native.call("GET", "/healthz")
        self.assertEqual(status, 200, "/healthz: %r" % (body,))
        return body["revision"]

    def group_pool(self, lb_id, project=None):
        """The load balancer's default server group (its LB-wide pool) as the native API names it."""
        token = project.token if project is not None else None
        return self.native.ok("GET", "/v1/loadbalancers/%s" % lb_id, token=token)["default_pool_id"]

    def native_group(self, lb_id, project=None):
        """{instance_id: (address, port, weight, name)} of the default server group (native)."""
        token = project.token if project is not None else None
        pool = self.group_pool(lb_id, project)
        body = self.native.ok("GET", "/v1/pools/%s/backends?limit=1000" % pool, token=token)
        self.assertFalse(body.get("next_marker"), "more than 1000 backends in one group")
        return {b.get("instance_id"): (b["address"], b.get("port"), b["weight"], b["name"])
                for b in body.get("backends") or []}

    def native_listeners(self, lb_id, project=None):
        token = project.token if project is not None else None
        return self.native.ok("GET", "/v1/loadbalancers/%s/listeners" % lb_id, token=token)["listeners"]

    def assertNothingWritten(self, before, lb_id, group_before, what, project=None):
        self.assertEqual(self.revision(), before, "%s: the refused request moved the store revision" % what)
        self.assertEqual(self.native_group(lb_id, project), group_before,
                         "%s: the refused request changed the default server group" % what)
