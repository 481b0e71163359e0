"""Zenlayer ZLB (`POST /api/v2/zlb`, x-zc-version 2025-04-01) through the official SDK.

Contract items are named in each test's docstring; assertion messages say which call
was made and what came back."""

import json
import secrets
import time
import unittest

from . import harness as h
from .harness import model, zlb_models as M

HEALTH_STATES = {"HEALTHY", "UNHEALTHY", "UNKNOWN", "DRAINING", "DISABLED"}

# What DescribeListeners should report for each scheduler given to CreateListener. Identity is what an SDK
# user (or a Terraform-style drift check) expects; docs/dialects/zenlayer.md currently documents a lossy
# read-back (rr -> wrr, lc -> wlc, sh -> mh). Change it here if that is the decision.
# Weir has three algorithms; each Zenlayer name reads back as the name of the
# one that serves it (docs/dialects/zenlayer.md).
SCHEDULER_READ_BACK = {"rr": "wrr", "wrr": "wrr", "lc": "wlc", "wlc": "wlc", "mh": "mh", "sh": "mh"}


class ZlbSignerSelfTest(unittest.TestCase):
    """The raw-request helper must sign exactly like the SDK, or every negative
    signature test below would pass for the wrong reason. No server needed."""

    # Test vector captured from the SDK by the wire research (AKIDTEST / SECRETTEST).
    VECTOR_BODY = (b'{"loadBalancerId": "lb-zlb-1", "listenerId": "lsn-zlb-1", "backendServers": '
                   b'[{"instanceId": "ins-zlb-1", "privateIpAddress": "10.0.0.11", "weight": 10, "port": 8080}]}')
    VECTOR_SIGNATURE = "5e09c04fb4c295c96a357ccbe4c4a70c9a9a43e7f8c135fbb7a1ed1f50e7e860"

    def test_signer_matches_captured_sdk_vector(self):
        sig = h.zc2_signature("SECRETTEST", "1795356355", "application/json", "127.0.0.1:18080", self.VECTOR_BODY)
        self.assertEqual(sig, self.VECTOR_SIGNATURE)

    def test_signer_matches_sdk_on_fresh_request(self):
        client = h.ZlbClient(h.Credential("AKIDTEST", "SECRETTEST"),
                             h.Config(scheme="http", domain="127.0.0.1:9"))
        from zenlayercloud.common.request import BaseRequest

        body = json.dumps({"loadBalancerId": "x", "n": secrets.token_hex(4)})
        req = BaseRequest(host="127.0.0.1:9", method="POST", uri="/api/v2/zlb")
        req.set_host("127.0.0.1:9")
        req.set_content_type("application/json")
        req.data = body
        req.header["x-zc-timestamp"] = "1700000000"
        expected = client._build_zc2_authorization(req)
        ours = h.zc2_authorization("AKIDTEST", h.zc2_signature(
            "SECRETTEST", "1700000000", "application/json", "127.0.0.1:9", body.encode()))
        self.assertEqual(ours, expected)


class ZlbCommon(h.WeirTestCase):
    """Common behaviour: authentication, error envelope, parameter errors, body limit."""

    @classmethod
    def bootstrap(cls):
        cls.w = h.World(cls.native, "zcommon", 10, 0, vms=1)
        cls.empty = cls.native.project("zcommon-empty")

    def describe_raw(self, **kw):
        return self.zc_raw("zlb", "DescribeLoadBalancers", {}, self.w.project, **kw)

    def test_success_envelope(self):
        """success = HTTP 200 {"requestId","response":{...}}; a project with no LBs sees none."""
        r = self.zc_raw("zlb", "DescribeLoadBalancers", {}, self.empty)
        self.assertZcRawOk(r, "raw DescribeLoadBalancers")
        self.assertEqual(r.json["response"].get("totalCount"), 0, r)
        self.assertEqual(r.json["response"].get("dataSet"), [], r)
        resp = self.step("SDK DescribeLoadBalancers", lambda: self.zlb(self.empty).DescribeLoadBalancers(
            model(M.DescribeLoadBalancersRequest)))
        self.assertEqual((resp.totalCount, resp.dataSet), (0, []))

    def test_raw_signed_request_accepted(self):
        """control for the negative cases: our own signature is accepted."""
        self.assertZcRawOk(self.describe_raw(), "correctly signed raw request")

    def test_unknown_access_key(self):
        """401 AUTH_FAILED: unknown access key."""
        client = self.zlb(ak="NOSUCHKEY" + secrets.token_hex(4).upper(), sk="whatever")
        self.assertZcError(lambda: client.DescribeLoadBalancers(model(M.DescribeLoadBalancersRequest)),
                           "AUTH_FAILED", 401, "unknown access key", message_re=r"(?i)access.?key|credential")

    def test_wrong_secret(self):
        """401 AUTH_FAILED: bad signature (right key id, wrong secret)."""
        client = self.zlb(ak=self.w.project.ak, sk=self.w.project.sk + "x")
        self.assertZcError(lambda: client.DescribeLoadBalancers(model(M.DescribeLoadBalancersRequest)),
                           "AUTH_FAILED", 401, "wrong secret", message_re=r"(?i)signature")

    def test_tampered_body(self):
        """401 AUTH_FAILED: the body sent is not the body signed."""
        r = self.describe_raw(sign_body=b'{"pageSize": 1}')
        self.assertZcRawError(r, "AUTH_FAILED", 401, "tampered body", message_re=r"(?i)signature")

    def test_signature_over_other_host(self):
        """401 AUTH_FAILED: the Host header is signed."""
        good = h.zc2_signature(self.w.project.sk, int(time.time()), "application/json", "example.invalid", b"{}")
        r = self.describe_raw(authorization=h.zc2_authorization(self.w.project.ak, good))
        self.assertZcRawError(r, "AUTH_FAILED", 401, "signature computed over another host")

    def test_missing_authorization(self):
        """401 AUTH_FAILED: no Authorization header."""
        r = self.describe_raw(omit=["Authorization"])
        self.assertZcRawError(r, "AUTH_FAILED", 401, "no Authorization header", message_re=r"(?i)authorization")

    def test_malformed_authorization(self):
        """401 AUTH_FAILED: malformed Authorization."""
        for value in ("ZC2-HMAC-SHA256 garbage", "Basic dXNlcjpwYXNz",
                      "ZC2-HMAC-SHA256 Credential=%s, SignedHeaders=content-type;host" % self.w.project.ak):
            with self.subTest(authorization=value):
                r = self.describe_raw(authorization=value)
                self.assertZcRawError(r, "AUTH_FAILED", 401, "Authorization %r" % value,
                                      message_re=r"(?i)malformed|authorization|scheme|credential|signature")

    def test_missing_timestamp(self):
        """401 AUTH_FAILED: signed request without x-zc-timestamp."""
        r = self.describe_raw(omit=["x-zc-timestamp"])
        self.assertZcRawError(r, "AUTH_FAILED", 401, "no x-zc-timestamp", message_re=r"(?i)timestamp")

    def test_timestamp_window(self):
        """401 AUTH_FAILED outside ±15 min, accepted inside."""
        now = int(time.time())
        for offset in (-16 * 60, 16 * 60, -3600 * 24):
            with self.subTest(offset_s=offset):
                r = self.describe_raw(timestamp=now + offset)
                self.assertZcRawError(r, "AUTH_FAILED", 401, "timestamp offset %ds" % offset,
                                      message_re=r"(?i)time|expired|skew")
        for offset in (-10 * 60, 10 * 60):
            with self.subTest(offset_s=offset):
                self.assertZcRawOk(self.describe_raw(timestamp=now + offset), "timestamp offset %ds" % offset)

    def test_bearer_token(self):
        """401 AUTH_FAILED for a bad bearer token; the project's own token is a valid bearer."""
        bad = self.zlb(token="wt_" + secrets.token_hex(16))
        self.assertZcError(lambda: bad.DescribeLoadBalancers(model(M.DescribeLoadBalancersRequest)),
                           "AUTH_FAILED", 401, "bad bearer token", message_re=r"(?i)token|bearer")
        good = self.zlb(token=self.empty.token)
        resp = self.step("DescribeLoadBalancers with the project token as bearer",
                         lambda: good.DescribeLoadBalancers(model(M.DescribeLoadBalancersRequest)))
        self.assertEqual(resp.totalCount, 0)

    def test_unknown_action(self):
        """400 INVALID_ACTION: unknown x-zc-action."""
        r = self.zc_raw("zlb", "NoSuchAction" + secrets.token_hex(2), {}, self.w.project)
        self.assertZcRawError(r, "INVALID_ACTION", 400, "unknown action")

    def test_malformed_json(self):
        """400 INVALID_PARAMETER: body is not JSON (correctly signed)."""
        for body in (b'{"loadBalancerId": ', b"not json", b"[1, 2]"):
            with self.subTest(body=body):
                r = self.zc_raw("zlb", "DescribeBackends", body, self.w.project)
                self.assertZcRawError(r, "INVALID_PARAMETER", 400, "malformed body %r" % body)

    def test_missing_parameter(self):
        """400 MISSING_PARAMETER, message names the field."""
        client = self.zlb(self.w.project)
        req = model(M.CreateLoadBalancerRequest, regionId=h.REGION, vpcId=self.w.vpc["id"],
                    loadBalancerName="no-subnet")
        self.assertZcError(lambda: client.CreateLoadBalancer(req), "MISSING_PARAMETER", 400,
                           "CreateLoadBalancer without subnetId", message_re="subnetId")
        req = model(M.DescribeBackendsRequest)
        self.assertZcError(lambda: client.DescribeBackends(req), "MISSING_PARAMETER", 400,
                           "DescribeBackends without loadBalancerId", message_re="loadBalancerId")

    def test_wrong_type(self):
        """400 INVALID_PARAMETER: wrong JSON type."""
        client = self.zlb(self.w.project)
        req = model(M.CreateLoadBalancerRequest, regionId=h.REGION, vpcId=self.w.vpc["id"],
                    subnetId=self.w.subnet["id"], loadBalancerName=12345)
        self.assertZcError(lambda: client.CreateLoadBalancer(req), "INVALID_PARAMETER", 400,
                           "loadBalancerName as a number")
        req = model(M.DescribeLoadBalancersRequest, pageSize="ten")
        self.assertZcError(lambda: client.DescribeLoadBalancers(req), "INVALID_PARAMETER", 400,
                           "pageSize as a string")

    def test_unknown_region(self):
        """400 INVALID_REGION_NOT_FOUND: unknown regionId."""
        client = self.zlb(self.w.project)
        req = model(M.CreateLoadBalancerRequest, regionId="mars-north-1", vpcId=self.w.vpc["id"],
                    subnetId=self.w.subnet["id"], loadBalancerName="mars")
        self.assertZcError(lambda: client.CreateLoadBalancer(req), "INVALID_REGION_NOT_FOUND", 400,
                           "CreateLoadBalancer regionId=mars-north-1")
        req = model(M.DescribeLoadBalancersRequest, regionId="mars-north-1")
        self.assertZcError(lambda: client.DescribeLoadBalancers(req), "INVALID_REGION_NOT_FOUND", 400,
                           "DescribeLoadBalancers regionId=mars-north-1")
        r = self.describe_raw()
        self.assertZcRawOk(r)
        self.assertEqual(r.json["response"]["totalCount"], 0, "the refused create wrote an LB: %r" % r)

    def test_subnet_and_vpc_checks(self):
        """CreateLoadBalancer: subnet not in vpcId -> 400 INVALID_SUBNET_VPC_MISMATCH; unknown subnet -> 404
        INVALID_SUBNET_NOT_FOUND (codes chosen in docs/dialects/zenlayer.md)."""
        client = self.zlb(self.w.project)
        req = model(M.CreateLoadBalancerRequest, regionId=h.REGION, vpcId=self.w.vpc["id"],
                    subnetId=self.w.subnet_nogw["id"], loadBalancerName="mismatch")
        self.assertZcError(lambda: client.CreateLoadBalancer(req), "INVALID_SUBNET_VPC_MISMATCH", 400,
                           "CreateLoadBalancer with a subnet of another VPC")
        req = model(M.CreateLoadBalancerRequest, regionId=h.REGION, vpcId=self.w.vpc["id"],
                    subnetId="subnet-" + secrets.token_hex(6), loadBalancerName="nosubnet")
        self.assertZcError(lambda: client.CreateLoadBalancer(req), "INVALID_SUBNET_NOT_FOUND", 404,
                           "CreateLoadBalancer with an unknown subnet")
        r = self.describe_raw()
        self.assertEqual(r.json["response"]["totalCount"], 0, "a refused create wrote an LB: %r" % r)

    def test_regions(self):
        """DescribeLoadBalancerRegions lists the `regions` setting (default ["local"])."""
        resp = self.step("DescribeLoadBalancerRegions", lambda: self.zlb(self.w.project).DescribeLoadBalancerRegions(
            model(M.DescribeLoadBalancerRegionsRequest)))
        self.assertEqual([r.regionId for r in resp.regions or []], [h.REGION])

    def test_body_too_large(self):
        """413 REQUEST_BODY_TOO_LARGE: body over 1 MiB (valid JSON, correctly signed)."""
        body = json.dumps({"loadBalancerName": "x" * (1024 * 1024 + 16)}).encode()
        r = self.zc_raw("zlb", "DescribeLoadBalancers", body, self.w.project)
        self.assertZcRawError(r, "REQUEST_BODY_TOO_LARGE", 413, "1 MiB + body")

    def test_lb_not_found(self):
        """404 INVALID_LB_NOT_FOUND: CreateListener on an unknown load balancer."""
        client = self.zlb(self.w.project)
        req = model(M.CreateListenerRequest, loadBalancerId="lb-" + secrets.token_hex(8), listenerName="x",
                    protocol="TCP", port="18080")
        self.assertZcError(lambda: client.CreateListener(req), "INVALID_LB_NOT_FOUND", 404,
                           "CreateListener on an unknown LB")


class ZlbLoadBalancers(h.WeirTestCase):
    """CreateLoadBalancer / DescribeLoadBalancers."""

    @classmethod
    def bootstrap(cls):
        cls.w = h.World(cls.native, "zlbs", 10, 0, vms=1)

    def test_create_and_describe(self):
        """CreateLoadBalancer -> loadBalancerIds=[id], RUNNING at once; DescribeLoadBalancers fields."""
        client = self.zlb(self.w.project)
        name = "shop-" + secrets.token_hex(3)
        lb = self.zlb_lb(client, self.w.vpc, self.w.subnet, name=name)
        resp = self.step("DescribeLoadBalancers ids", lambda: client.DescribeLoadBalancers(
            model(M.DescribeLoadBalancersRequest, loadBalancerIds=[lb])))
        self.assertEqual(resp.totalCount, 1)
        self.assertEqual(len(resp.dataSet), 1)
        d = resp.dataSet[0]
        vip = self.native.vip(lb)
        self.assertEqual(
            (d.loadBalancerId, d.loadBalancerName, d.regionId, d.vpcId, d.subnetId, d.status, d.privateIpAddress),
            (lb, name, h.REGION, self.w.vpc["id"], self.w.subnet["id"], "RUNNING", [vip]))
        self.assertTrue(d.createTime, "createTime empty")
        self.assertEqual(self.native.loadbalancer(lb)["status"], "RUNNING")
        self.assertEqual((d.listenerCount, d.backendServerCount), (0, 0))

    def test_counts_follow_listeners_and_backends(self):
        """listenerCount and backendServerCount count what the LB holds."""
        client = self.zlb(self.w.project)
        lb = self.zlb_lb(client, self.w.vpc, self.w.subnet)
        l1 = self.zlb_listener(client, lb, port="18081")
        self.zlb_listener(client, lb, port="18082")
        vm = self.w.new_vm()
        self.zlb_register(client, lb, l1, [{"instanceId": vm["id"], "port": 8080}])
        d = self.step("DescribeLoadBalancers", lambda: client.DescribeLoadBalancers(
            model(M.DescribeLoadBalancersRequest, loadBalancerIds=[lb]))).dataSet[0]
        self.assertEqual((d.listenerCount, d.backendServerCount), (2, 1))

    def test_filters_and_paging(self):
        """DescribeLoadBalancers: vpcId filter, pageNum/pageSize, unknown ids -> empty."""
        client = self.zlb(self.w.project)
        vpc = self.native.vpc(self.w.project, "10.50.0.0/16", name="paging")
        subnet = self.native.subnet(vpc, "10.50.1.0/24")
        ids = {self.zlb_lb(client, vpc, subnet) for _ in range(3)}
        seen, total = [], set()
        for page in (1, 2):
            resp = self.step("DescribeLoadBalancers vpcId page %d" % page, lambda: client.DescribeLoadBalancers(
                model(M.DescribeLoadBalancersRequest, vpcId=vpc["id"], pageSize=2, pageNum=page)))
            total.add(resp.totalCount)
            seen.append([d.loadBalancerId for d in resp.dataSet])
        self.assertEqual(total, {3}, "totalCount with vpcId filter")
        self.assertEqual([len(p) for p in seen], [2, 1], "page sizes")
        self.assertEqual(set(seen[0] + seen[1]), ids, "pages together list every LB of the VPC once")
        resp = self.step("DescribeLoadBalancers regionId", lambda: client.DescribeLoadBalancers(
            model(M.DescribeLoadBalancersRequest, regionId=h.REGION, vpcId=vpc["id"])))
        self.assertEqual({d.loadBalancerId for d in resp.dataSet}, ids)
        resp = self.step("DescribeLoadBalancers unknown id", lambda: client.DescribeLoadBalancers(
            model(M.DescribeLoadBalancersRequest, loadBalancerIds=["lb-" + secrets.token_hex(8)])))
        self.assertEqual((resp.totalCount, resp.dataSet), (0, []))


class ZlbListeners(h.WeirTestCase):
    """CreateListener / DescribeListeners / DeleteListener."""

    @classmethod
    def bootstrap(cls):
        cls.w = h.World(cls.native, "zlsn", 10, 0, vms=1)

    def setUp(self):
        self.client = self.zlb(self.w.project)
        self.lb = self.zlb_lb(self.client, self.w.vpc, self.w.subnet)

    def describe(self, **filters):
        resp = self.step("DescribeListeners %r" % filters, lambda: self.client.DescribeListeners(
            model(M.DescribeListenersRequest, loadBalancerId=self.lb, **filters)))
        self.assertIsNotNone(resp.listeners, "DescribeListeners: listeners missing")
        return resp.listeners

    def test_defaults(self):
        """CreateListener defaults: scheduler wrr, kind FNAT; DescribeListeners echoes name/protocol/port."""
        lid = self.zlb_listener(self.client, self.lb, port="18080", protocol="TCP", name="web")
        (l,) = self.describe(listenerIds=[lid])
        self.assertEqual((l.listenerId, l.listenerName, l.protocol, l.port, l.scheduler, l.kind),
                         (lid, "web", "TCP", "18080", "wrr", "FNAT"))
        self.assertTrue(l.createTime)
        native = self.native.listener(lid)
        self.assertEqual((native["protocol"], native["port"], native["load_balancer_id"]), ("tcp", 18080, self.lb))

    def test_port_forms(self):
        """port is a string: "80", "8000-8010", "80,443", "ALL"."""
        for port in ("18100", "18200-18210", "18301,18302", "ALL"):
            with self.subTest(port=port):
                lid = self.zlb_listener(self.client, self.lb, port=port, protocol="UDP" if port == "ALL" else "TCP")
                (l,) = self.describe(listenerIds=[lid])
                self.assertEqual(l.port, port)

    def test_protocols_schedulers_kinds(self):
        """protocol TCP|UDP|HTTP, scheduler rr|wrr|lc|wlc|mh|sh, kind FNAT|DNAT|DR are accepted and echoed."""
        port = 18400
        for protocol in ("TCP", "UDP", "HTTP"):
            port += 1
            with self.subTest(protocol=protocol):
                lid = self.zlb_listener(self.client, self.lb, port=str(port), protocol=protocol)
                (l,) = self.describe(listenerIds=[lid])
                self.assertEqual(l.protocol, protocol)
                self.assertEqual(self.native.listener(lid)["protocol"], protocol.lower())
        for scheduler, read_back in SCHEDULER_READ_BACK.items():
            port += 1
            with self.subTest(scheduler=scheduler):
                lid = self.zlb_listener(self.client, self.lb, port=str(port), scheduler=scheduler)
                (l,) = self.describe(listenerIds=[lid])
                self.assertEqual(l.scheduler, read_back, "DescribeListeners scheduler after CreateListener "
                                 "scheduler=%s" % scheduler)
        for kind in ("FNAT", "DNAT", "DR"):
            port += 1
            with self.subTest(kind=kind):
                lid = self.zlb_listener(self.client, self.lb, port=str(port), kind=kind)
                (l,) = self.describe(listenerIds=[lid])
                self.assertEqual(l.kind, kind)

    def test_invalid_values(self):
        """400 INVALID_PARAMETER for a bad protocol, scheduler, kind or port."""
        cases = [
            {"protocol": "SCTP", "port": "18500"},
            {"protocol": "TCP", "port": "18501", "scheduler": "random"},
            {"protocol": "TCP", "port": "18502", "kind": "NAT64"},
            {"protocol": "TCP", "port": "70000"},
            {"protocol": "TCP", "port": "0"},
            {"protocol": "TCP", "port": "abc"},
            {"protocol": "TCP", "port": "18520-18510"},
        ]
        for case in cases:
            with self.subTest(**case):
                req = model(M.CreateListenerRequest, loadBalancerId=self.lb, listenerName="bad", **case)
                self.assertZcError(lambda: self.client.CreateListener(req), "INVALID_PARAMETER", 400,
                                   "CreateListener %r" % case)
        self.assertEqual(self.describe(), [], "a refused CreateListener wrote a listener")

    def test_port_conflict(self):
        """409 INVALID_LISTENER_PORT_CONFLICT: same protocol and an overlapping port on one LB."""
        self.zlb_listener(self.client, self.lb, port="18600")
        self.zlb_listener(self.client, self.lb, port="18610-18620")
        for port in ("18600", "18615", "18605-18612", "18599,18600"):
            with self.subTest(port=port):
                req = model(M.CreateListenerRequest, loadBalancerId=self.lb, listenerName="dup", protocol="TCP",
                            port=port)
                self.assertZcError(lambda: self.client.CreateListener(req), "INVALID_LISTENER_PORT_CONFLICT", 409,
                                   "CreateListener port %s over existing 18600 / 18610-18620" % port)
        self.assertEqual(len(self.describe()), 2)

    def test_health_check_round_trip(self):
        """healthCheck {enabled, checkType, checkPort, checkDelayLoop, checkConnTimeout, checkRetry,
        checkHttpGetUrl} is kept and drives the pool's native health check."""
        hc = {"enabled": True, "checkType": "HTTP", "checkPort": 8081, "checkDelayLoop": 3, "checkConnTimeout": 2,
              "checkRetry": 2, "checkHttpGetUrl": "/healthz", "checkHttpGetHost": "check.weir.test"}
        lid = self.zlb_listener(self.client, self.lb, port="18700", protocol="HTTP", healthCheck=hc)
        (l,) = self.describe(listenerIds=[lid])
        self.assertIsNotNone(l.healthCheck, "DescribeListeners: healthCheck missing")
        got = {k: getattr(l.healthCheck, k) for k in hc}
        self.assertEqual(got, hc)
        pool = self.native.pool(self.native.listener(lid)["default_pool_id"])
        check = pool.get("health_check") or {}
        self.assertEqual((check.get("type"), check.get("port"), check.get("interval_ms"), check.get("timeout_ms"),
                          check.get("path"), check.get("host")), ("http", 8081, 3000, 2000, "/healthz",
                                                                   "check.weir.test"), "native pool %r" % pool)

    def test_health_check_fail_open(self):
        """healthCheck.failOpen (issue 16) is the pool's fail-open: kept, read back, shown natively; off when
        not sent."""
        hc = {"enabled": True, "checkType": "TCP", "checkDelayLoop": 3, "failOpen": True}
        lid = self.zlb_listener(self.client, self.lb, port="18710", protocol="TCP", healthCheck=hc)
        (l,) = self.describe(listenerIds=[lid])
        self.assertIs(l.healthCheck.failOpen, True)
        self.assertIs(self.native.pool(self.native.listener(lid)["default_pool_id"])["fail_open"], True)
        plain = self.zlb_listener(self.client, self.lb, port="18711", protocol="TCP",
                                  healthCheck={"enabled": True, "checkType": "TCP"})
        (l,) = self.describe(listenerIds=[plain])
        self.assertIs(l.healthCheck.failOpen, False)
        self.assertIs(self.native.pool(self.native.listener(plain)["default_pool_id"])["fail_open"], False)

    def test_describe_filters(self):
        """DescribeListeners filters: listenerIds, protocol."""
        t = self.zlb_listener(self.client, self.lb, port="18800", protocol="TCP")
        u = self.zlb_listener(self.client, self.lb, port="18801", protocol="UDP")
        self.assertEqual({l.listenerId for l in self.describe()}, {t, u})
        self.assertEqual([l.listenerId for l in self.describe(protocol="UDP")], [u])
        self.assertEqual([l.listenerId for l in self.describe(listenerIds=[t])], [t])

    def test_delete(self):
        """DeleteListener removes it; deleting it again -> 404 INVALID_LB_LISTENER_NOT_FOUND."""
        lid = self.zlb_listener(self.client, self.lb, port="18900")
        keep = self.zlb_listener(self.client, self.lb, port="18901")
        req = model(M.DeleteListenerRequest, loadBalancerId=self.lb, listenerId=lid)
        self.step("DeleteListener", lambda: self.client.DeleteListener(req))
        self.assertEqual([l.listenerId for l in self.describe()], [keep])
        self.assertZcError(lambda: self.client.DeleteListener(req), "INVALID_LB_LISTENER_NOT_FOUND", 404,
                           "DeleteListener of a deleted listener")
        self.assertEqual(self.native.call("GET", "/v1/listeners/%s" % lid)[0], 404)

    def test_captured_sdk_request_never_replays_as_another_action_or_service(self):
        """Issue 14: the SDK signs neither x-zc-action nor the path, so a captured DescribeBackends
        (body {loadBalancerId, listenerId}, the same as DeleteListener's) replayed within its window as
        DeleteListener, or on /api/v2/bmc, -> 429 REQUEST_LIMIT_EXCEEDED and nothing changes; the same
        Describe repeated is served (identical polls within one second share a signature)."""
        lid = self.zlb_listener(self.client, self.lb, port="18960")
        with h.observe_http() as seen:
            self.step("DescribeBackends", lambda: self.client.DescribeBackends(
                model(M.DescribeBackendsRequest, loadBalancerId=self.lb, listenerId=lid)))
        (sent,) = [r.request for r in seen]
        headers = {k: v for k, v in sent.headers.items()}
        replay = lambda path, action: h._raw_post(  # noqa: E731
            self.server.host, self.server.port, path, sent.body, dict(headers, **{"x-zc-action": action}))
        self.assertZcRawError(replay("/api/v2/zlb", "DeleteListener"), "REQUEST_LIMIT_EXCEEDED", 429,
                              "captured DescribeBackends replayed as DeleteListener", message_re="already used")
        self.assertZcRawError(replay("/api/v2/bmc", "DescribeBackends"), "REQUEST_LIMIT_EXCEEDED", 429,
                              "captured ZLB DescribeBackends replayed on /api/v2/bmc")
        self.assertZcRawOk(replay("/api/v2/zlb", "DescribeBackends"), "the same Describe again")
        self.assertEqual([l.listenerId for l in self.describe()], [lid], "the listener must survive")

    def test_delete_with_backends(self):
        """DeleteListener of a listener with backends removes them with it."""
        lid = self.zlb_listener(self.client, self.lb, port="18950")
        vm = self.w.vms[0]
        self.zlb_register(self.client, self.lb, lid, [{"instanceId": vm["id"], "port": 80}])
        self.step("DeleteListener", lambda: self.client.DeleteListener(
            model(M.DeleteListenerRequest, loadBalancerId=self.lb, listenerId=lid)))
        self.assertEqual(self.zlb_backends(self.client, self.lb), [])
        self.assertEqual(self.describe(), [])


class ZlbRegisterBackend(h.WeirTestCase):
    """RegisterBackend: success paths and all twelve documented error codes (+ INVALID_INSTANCE_STATUS).
    Every refusal is followed by a check that nothing was written."""

    @classmethod
    def bootstrap(cls):
        cls.w = h.World(cls.native, "zreg", 10, 0, vms=6)
        cls.other = h.World(cls.native, "zreg-other", 172, 16, vms=1)

    def setUp(self):
        self.client = self.zlb(self.w.project)
        self.lb = self.zlb_lb(self.client, self.w.vpc, self.w.subnet)
        self.lsn = self.zlb_listener(self.client, self.lb, port="18080")

    def register_req(self, servers, lb=None, lsn=None):
        return model(M.RegisterBackendRequest, loadBalancerId=lb or self.lb, listenerId=lsn or self.lsn,
                     backendServers=servers)

    def refuse(self, servers, code, status, what, lb=None, lsn=None):
        """RegisterBackend(servers) must fail with code/status and write nothing."""
        lb, lsn = lb or self.lb, lsn or self.lsn
        before = self.zlb_backend_keys(self.client, lb, lsn)
        native_before = len(self.native.listener_backends(lsn))
        req = self.register_req(servers, lb, lsn)
        self.assertZcError(lambda: self.client.RegisterBackend(req), code, status,
                           "RegisterBackend %s (%s)" % (what, json.dumps(servers)))
        self.assertEqual(self.zlb_backend_keys(self.client, lb, lsn), before,
                         "refused RegisterBackend (%s) changed DescribeBackends" % what)
        self.assertEqual(len(self.native.listener_backends(lsn)), native_before,
                         "refused RegisterBackend (%s) changed the native backend list" % what)

    # ---- success ----------------------------------------------------------

    def test_register_by_instance_id(self):
        """By instanceId: DescribeBackends shows instanceId, its IP, weight (default 100), port and listener."""
        vm = self.w.vms[0]
        resp = self.zlb_register(self.client, self.lb, self.lsn, [{"instanceId": vm["id"], "port": 8080}])
        self.assertTrue(resp.requestId, "RegisterBackend response.requestId empty")
        (b,) = self.zlb_backends(self.client, self.lb, self.lsn)
        self.assertEqual((b.instanceId, b.privateIpAddress, b.weight, b.backendPort, b.listenerId, b.protocol),
                         (vm["id"], vm["private_ip"], 100, 8080, self.lsn, "TCP"))
        self.assertTrue(b.listenerName)
        self.assertEqual(h.ports_of(b.listenerPort), [18080])
        (n,) = self.native.listener_backends(self.lsn)
        self.assertEqual((n["address"], n["port"], n["weight"], n["instance_id"]),
                         (vm["private_ip"], 8080, 100, vm["id"]))

    def test_register_by_private_ip_and_batch(self):
        """By privateIpAddress (an instance has it) and several servers with weights 0..100 in one call."""
        a, b, c = self.w.vms[0], self.w.vms[1], self.w.vms[2]
        self.zlb_register(self.client, self.lb, self.lsn, [
            {"privateIpAddress": a["private_ip"], "port": 8080, "weight": 0},
            {"instanceId": b["id"], "port": 8080, "weight": 37},
            {"instanceId": c["id"], "privateIpAddress": c["private_ip"], "port": 8081, "weight": 100},
        ])
        got = {(x.privateIpAddress, x.backendPort): x.weight for x in self.zlb_backends(self.client, self.lb, self.lsn)}
        self.assertEqual(got, {(a["private_ip"], 8080): 0, (b["private_ip"], 8080): 37, (c["private_ip"], 8081): 100})

    def test_bare_metal_by_ip_with_border_gateway(self):
        """A bare-metal instance is added by its private IP when the LB's VPC has a border gateway."""
        self.zlb_register(self.client, self.lb, self.lsn, [{"privateIpAddress": self.w.bm["private_ip"], "port": 80}])
        keys = [(b.privateIpAddress, b.backendPort) for b in self.zlb_backends(self.client, self.lb, self.lsn)]
        self.assertEqual(keys, [(self.w.bm["private_ip"], 80)])

    def test_weight_range(self):
        """weight 0-100: 101 and -1 -> 400 INVALID_PARAMETER, nothing written."""
        for weight in (101, -1, 1000):
            with self.subTest(weight=weight):
                self.refuse([{"instanceId": self.w.vms[0]["id"], "port": 80, "weight": weight}],
                            "INVALID_PARAMETER", 400, "weight %d" % weight)

    def test_missing_backend_servers(self):
        """400 MISSING_PARAMETER without backendServers."""
        req = model(M.RegisterBackendRequest, loadBalancerId=self.lb, listenerId=self.lsn)
        self.assertZcError(lambda: self.client.RegisterBackend(req), "MISSING_PARAMETER", 400,
                           "RegisterBackend without backendServers", message_re="backendServers")

    # ---- the twelve documented codes ---------------------------------------

    def test_instance_listener_exist(self):
        """409 INVALID_BACKEND_INSTANCE_LISTENER_EXIST: instance already on the listener, or same IP+port."""
        vm, other = self.w.vms[0], self.w.vms[1]
        self.zlb_register(self.client, self.lb, self.lsn, [{"instanceId": vm["id"], "port": 80}])
        self.refuse([{"instanceId": vm["id"], "port": 80}], "INVALID_BACKEND_INSTANCE_LISTENER_EXIST", 409,
                    "same instance again")
        self.refuse([{"instanceId": vm["id"], "port": 81}], "INVALID_BACKEND_INSTANCE_LISTENER_EXIST", 409,
                    "same instance, another port")
        self.zlb_register(self.client, self.lb, self.lsn, [{"privateIpAddress": other["private_ip"], "port": 90}])
        self.refuse([{"privateIpAddress": other["private_ip"], "port": 90}],
                    "INVALID_BACKEND_INSTANCE_LISTENER_EXIST", 409, "same IP+port again")
        self.refuse([{"instanceId": self.w.vms[2]["id"], "port": 80}, {"instanceId": vm["id"], "port": 80}],
                    "INVALID_BACKEND_INSTANCE_LISTENER_EXIST", 409, "batch whose second item exists")

    def test_instance_multiple(self):
        """409 INVALID_BACKEND_INSTANCE_MULTIPLE: the same instance twice in one request."""
        vm = self.w.vms[0]
        self.refuse([{"instanceId": vm["id"], "port": 80}, {"instanceId": vm["id"], "port": 81}],
                    "INVALID_BACKEND_INSTANCE_MULTIPLE", 409, "same instanceId twice")

    def test_backend_ip_address(self):
        """400 INVALID_BACKEND_IP_ADDRESS: privateIpAddress alone and no instance has it."""
        self.refuse([{"privateIpAddress": self.w.unused_ip, "port": 80}], "INVALID_BACKEND_IP_ADDRESS", 400,
                    "private IP without instance")

    def test_zbg_required(self):
        """409 INVALID_BACKEND_IP_ZBG_REQUIRED: bare-metal IP while the LB's VPC has no border gateway."""
        lb = self.zlb_lb(self.client, self.w.vpc_nogw, self.w.subnet_nogw)
        lsn = self.zlb_listener(self.client, lb, port="18080")
        self.refuse([{"privateIpAddress": self.w.bm_nogw["private_ip"], "port": 80}],
                    "INVALID_BACKEND_IP_ZBG_REQUIRED", 409, "bare metal, VPC without border gateway", lb=lb, lsn=lsn)
        self.zlb_register(self.client, lb, lsn, [{"instanceId": self.w.vm_nogw["id"], "port": 80}])  # VMs are fine

    def test_server_ip_invalid(self):
        """400 INVALID_BACKEND_SERVER_IP_INVALID: public address, metadata address, the LB's VIP."""
        vip = self.native.vip(self.lb)
        for ip in ("8.8.8.8", "169.254.169.254", vip):
            with self.subTest(ip=ip):
                self.refuse([{"privateIpAddress": ip, "port": 80}], "INVALID_BACKEND_SERVER_IP_INVALID", 400,
                            "privateIpAddress %s" % ip)

    def test_server_ip_repeat(self):
        """409 INVALID_BACKEND_SERVER_IP_REPEAT: the same IP+port twice in one request (by address)."""
        ip = self.w.vms[0]["private_ip"]
        self.refuse([{"privateIpAddress": ip, "port": 80}, {"privateIpAddress": ip, "port": 80}],
                    "INVALID_BACKEND_SERVER_IP_REPEAT", 409, "same IP+port twice")

    def test_server_port(self):
        """400 INVALID_BACKEND_SERVER_PORT: a port on a DR, ALL or multi-port listener (and none is fine)."""
        vm = self.w.vms[0]
        for label, kw in (("DR", {"port": "18181", "kind": "DR"}), ("ALL", {"port": "ALL", "protocol": "UDP"}),
                          ("range", {"port": "18200-18205"}), ("list", {"port": "18301,18302"})):
            with self.subTest(listener=label):
                lsn = self.zlb_listener(self.client, self.lb, **kw)
                self.refuse([{"instanceId": vm["id"], "port": 8080}], "INVALID_BACKEND_SERVER_PORT", 400,
                            "port on a %s listener" % label, lsn=lsn)
                self.zlb_register(self.client, self.lb, lsn, [{"instanceId": vm["id"]}])
                (b,) = self.zlb_backends(self.client, self.lb, lsn)
                self.assertEqual(b.instanceId, vm["id"])

    def test_instance_ip_address(self):
        """400 INVALID_INSTANCE_IP_ADDRESS: instanceId and privateIpAddress disagree, or bare metal by instanceId."""
        a, b = self.w.vms[0], self.w.vms[1]
        self.refuse([{"instanceId": a["id"], "privateIpAddress": b["private_ip"], "port": 80}],
                    "INVALID_INSTANCE_IP_ADDRESS", 400, "instanceId of one VM, IP of another")
        self.refuse([{"instanceId": self.w.bm["id"], "port": 80}], "INVALID_INSTANCE_IP_ADDRESS", 400,
                    "bare metal by instanceId")

    def test_instance_not_found(self):
        """404 INVALID_INSTANCE_NOT_FOUND: unknown instanceId, or another project's instance."""
        self.refuse([{"instanceId": "ins-" + secrets.token_hex(8), "port": 80}], "INVALID_INSTANCE_NOT_FOUND", 404,
                    "unknown instanceId")
        self.refuse([{"instanceId": self.other.vms[0]["id"], "port": 80}], "INVALID_INSTANCE_NOT_FOUND", 404,
                    "another project's instance")

    def test_listener_not_found(self):
        """404 INVALID_LB_LISTENER_NOT_FOUND: unknown listener, or a listener of another LB."""
        vm = self.w.vms[0]
        req = self.register_req([{"instanceId": vm["id"], "port": 80}], lsn="lsn-" + secrets.token_hex(8))
        self.assertZcError(lambda: self.client.RegisterBackend(req), "INVALID_LB_LISTENER_NOT_FOUND", 404,
                           "unknown listenerId")
        lb2 = self.zlb_lb(self.client, self.w.vpc, self.w.subnet)
        lsn2 = self.zlb_listener(self.client, lb2, port="18080")
        req = self.register_req([{"instanceId": vm["id"], "port": 80}], lb=self.lb, lsn=lsn2)
        self.assertZcError(lambda: self.client.RegisterBackend(req), "INVALID_LB_LISTENER_NOT_FOUND", 404,
                           "listenerId of another LB")
        self.assertEqual(self.zlb_backends(self.client, lb2, lsn2), [], "written to the other LB's listener")
        self.assertEqual(self.zlb_backends(self.client, self.lb, self.lsn), [], "written to this LB's listener")

    def test_instance_outside_vpc(self):
        """400 INVALID_INSTANCE_VPC_MISMATCH: a VM of another VPC of the project (code chosen in
        docs/dialects/zenlayer.md)."""
        self.refuse([{"instanceId": self.w.vm_nogw["id"], "port": 80}], "INVALID_INSTANCE_VPC_MISMATCH", 400,
                    "VM of another VPC")

    def test_lb_status(self):
        """400 INVALID_LB_STATUS: the LB is stopped (native POST /v1/loadbalancers/{id}/stop)."""
        self.native.stop_lb(self.lb)
        self.refuse([{"instanceId": self.w.vms[0]["id"], "port": 80}], "INVALID_LB_STATUS", 400, "stopped LB")

    def test_instance_status(self):
        """400 INVALID_INSTANCE_STATUS: the instance is stopped (also after being stopped via PATCH)."""
        self.refuse([{"instanceId": self.w.stopped["id"], "port": 80}], "INVALID_INSTANCE_STATUS", 400,
                    "instance created stopped")
        vm = self.w.new_vm()
        self.native.set_instance_state(vm["id"], "stopped")
        self.refuse([{"instanceId": vm["id"], "port": 80}], "INVALID_INSTANCE_STATUS", 400,
                    "instance stopped via PATCH")

    def test_rejected_batch_writes_nothing(self):
        """One bad server refuses the whole request: the good ones are not registered either."""
        good = self.w.vms[3]
        self.refuse([{"instanceId": good["id"], "port": 80}, {"instanceId": "ins-" + secrets.token_hex(6), "port": 80}],
                    "INVALID_INSTANCE_NOT_FOUND", 404, "good server + unknown instance")
        self.assertEqual(self.zlb_backends(self.client, self.lb, self.lsn), [])

    # ---- ModifyBackend / DeregisterBackend / Describe* -----------------------

    def test_modify_backend(self):
        """ModifyBackend changes the weight of the matching backends only (by instanceId, or IP+port)."""
        a, b, c = self.w.vms[0], self.w.vms[1], self.w.vms[2]
        self.zlb_register(self.client, self.lb, self.lsn, [
            {"instanceId": a["id"], "port": 80, "weight": 10},
            {"privateIpAddress": b["private_ip"], "port": 81, "weight": 20},
            {"instanceId": c["id"], "port": 82, "weight": 30}])
        req = model(M.ModifyBackendRequest, loadBalancerId=self.lb, listenerId=self.lsn, backendServers=[
            {"instanceId": a["id"], "weight": 55},
            {"privateIpAddress": b["private_ip"], "port": 81, "weight": 0}])
        self.step("ModifyBackend", lambda: self.client.ModifyBackend(req))
        got = {x.privateIpAddress: x.weight for x in self.zlb_backends(self.client, self.lb, self.lsn)}
        self.assertEqual(got, {a["private_ip"]: 55, b["private_ip"]: 0, c["private_ip"]: 30})
        native = {x["address"]: x["weight"] for x in self.native.listener_backends(self.lsn)}
        self.assertEqual(native, got)
        bad = model(M.ModifyBackendRequest, loadBalancerId=self.lb, listenerId=self.lsn, backendServers=[
            {"instanceId": c["id"], "weight": 101}])
        self.assertZcError(lambda: self.client.ModifyBackend(bad), "INVALID_PARAMETER", 400, "ModifyBackend weight 101")
        self.assertEqual({x.privateIpAddress: x.weight for x in self.zlb_backends(self.client, self.lb, self.lsn)}, got)

    def test_deregister_backend(self):
        """DeregisterBackend removes the named servers; one not registered -> 404 INVALID_INSTANCE_NOT_FOUND
        and nothing removed."""
        a, b, c = self.w.vms[0], self.w.vms[1], self.w.vms[2]
        self.zlb_register(self.client, self.lb, self.lsn, [
            {"instanceId": a["id"], "port": 80}, {"instanceId": b["id"], "port": 80}])
        before = self.zlb_backend_keys(self.client, self.lb, self.lsn)
        bad = model(M.DeregisterBackendRequest, loadBalancerId=self.lb, listenerId=self.lsn, backendServers=[
            {"instanceId": a["id"]}, {"instanceId": c["id"]}])
        self.assertZcError(lambda: self.client.DeregisterBackend(bad), "INVALID_INSTANCE_NOT_FOUND", 404,
                           "DeregisterBackend of a registered and an unregistered instance")
        self.assertEqual(self.zlb_backend_keys(self.client, self.lb, self.lsn), before, "a refused deregister removed")
        ok = model(M.DeregisterBackendRequest, loadBalancerId=self.lb, listenerId=self.lsn, backendServers=[
            {"instanceId": a["id"]}])
        self.step("DeregisterBackend", lambda: self.client.DeregisterBackend(ok))
        self.assertEqual([x.instanceId for x in self.zlb_backends(self.client, self.lb, self.lsn)], [b["id"]])
        by_ip = model(M.DeregisterBackendRequest, loadBalancerId=self.lb, listenerId=self.lsn, backendServers=[
            {"privateIpAddress": b["private_ip"], "port": 80}])
        self.step("DeregisterBackend by IP+port", lambda: self.client.DeregisterBackend(by_ip))
        self.assertEqual(self.zlb_backends(self.client, self.lb, self.lsn), [])
        self.assertEqual(self.native.listener_backends(self.lsn), [])

    def test_describe_backends_across_listeners(self):
        """DescribeBackends without listenerId lists every listener's backends with its listenerId."""
        lsn2 = self.zlb_listener(self.client, self.lb, port="18081", protocol="UDP")
        a, b = self.w.vms[0], self.w.vms[1]
        self.zlb_register(self.client, self.lb, self.lsn, [{"instanceId": a["id"], "port": 80}])
        self.zlb_register(self.client, self.lb, lsn2, [{"instanceId": b["id"], "port": 53}])
        got = sorted((x.listenerId, x.instanceId, x.protocol) for x in self.zlb_backends(self.client, self.lb))
        self.assertEqual(got, sorted([(self.lsn, a["id"], "TCP"), (lsn2, b["id"], "UDP")]))

    def test_describe_backend_health(self):
        """DescribeBackendHealth lists each backend with a healthStatus from the documented set."""
        a, b = self.w.vms[0], self.w.vms[1]
        self.zlb_register(self.client, self.lb, self.lsn, [
            {"instanceId": a["id"], "port": 80, "weight": 5}, {"instanceId": b["id"], "port": 81, "weight": 6}])
        for listener in (self.lsn, None):
            with self.subTest(listenerId=listener):
                req = model(M.DescribeBackendHealthRequest, loadBalancerId=self.lb, listenerId=listener)
                resp = self.step("DescribeBackendHealth", lambda: self.client.DescribeBackendHealth(req))
                self.assertIsNotNone(resp.backends)
                got = sorted((x.instanceId, x.privateIpAddress, x.weight, x.backendPort, x.listenerId)
                             for x in resp.backends)
                self.assertEqual(got, sorted([(a["id"], a["private_ip"], 5, 80, self.lsn),
                                              (b["id"], b["private_ip"], 6, 81, self.lsn)]))
                for x in resp.backends:
                    self.assertIn(x.healthStatus, HEALTH_STATES)


class ZlbQuota(h.WeirTestCase):
    """400 INVALID_RS_QUOTA_EXCEED_PER_LISTENER with [limits] backends_per_pool = 3."""

    CONFIG = {"limits": {"backends_per_pool": 3}}

    @classmethod
    def bootstrap(cls):
        cls.w = h.World(cls.native, "zquota", 10, 0, vms=5)

    def test_quota_per_listener(self):
        client = self.zlb(self.w.project)
        lb = self.zlb_lb(client, self.w.vpc, self.w.subnet)
        lsn = self.zlb_listener(client, lb, port="18080")
        vms = self.w.vms
        req = model(M.RegisterBackendRequest, loadBalancerId=lb, listenerId=lsn,
                    backendServers=[{"instanceId": v["id"], "port": 80} for v in vms[:4]])
        self.assertZcError(lambda: client.RegisterBackend(req), "INVALID_RS_QUOTA_EXCEED_PER_LISTENER", 400,
                           "4 servers in one call, quota 3")
        self.assertEqual(self.zlb_backends(client, lb, lsn), [], "a refused over-quota batch wrote backends")
        self.zlb_register(client, lb, lsn, [{"instanceId": v["id"], "port": 80} for v in vms[:2]])
        self.zlb_register(client, lb, lsn, [{"instanceId": vms[2]["id"], "port": 80}])
        req = model(M.RegisterBackendRequest, loadBalancerId=lb, listenerId=lsn,
                    backendServers=[{"instanceId": vms[3]["id"], "port": 80}])
        self.assertZcError(lambda: client.RegisterBackend(req), "INVALID_RS_QUOTA_EXCEED_PER_LISTENER", 400,
                           "4th server, quota 3")
        self.assertEqual(len(self.zlb_backends(client, lb, lsn)), 3)
        # the quota is per listener: another listener of the same LB still takes backends
        lsn2 = self.zlb_listener(client, lb, port="18081")
        self.zlb_register(client, lb, lsn2, [{"instanceId": vms[3]["id"], "port": 80}])
        self.assertEqual(len(self.zlb_backends(client, lb, lsn2)), 1)


if __name__ == "__main__":
    unittest.main()
