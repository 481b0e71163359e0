"""Alibaba Cloud SLB (API 2014-05-15) through both official SDK generations against a real `weir serve`:
the classic aliyun-python-sdk-core + aliyun-python-sdk-slb (signature v1, AcsClient) and the Tea SDK
alibabacloud-slb20140515 (ACS3-HMAC-SHA256), plus raw requests signed by aliyun_support.py for what
neither SDK can send (skewed clocks, replayed nonces, tampered parameters, oversize bodies).

AddBackendServers follows seed 003: BackendServers is a JSON string; at most 20 per call; an ECS named
twice in one call is added once (the first wins, the rest are ignored); the ECS must be running; the
answer lists the servers added. The default server group is the load balancer's LB-wide pool.

Addresses 10.x are data only: the server's data plane may dial 127.0.0.0/8 only.
"""

import hashlib
import json
import secrets
import time
import unittest
import urllib.parse
import warnings
import xml.etree.ElementTree as ET

from aliyunsdkslb.request.v20140515 import (
    AddBackendServersRequest,
    CreateLoadBalancerHTTPListenerRequest,
    CreateLoadBalancerRequest,
    CreateLoadBalancerTCPListenerRequest,
    CreateLoadBalancerUDPListenerRequest,
    CreateVServerGroupRequest,
    AddVServerGroupBackendServersRequest,
    DeleteVServerGroupRequest,
    DescribeVServerGroupAttributeRequest,
    DescribeVServerGroupsRequest,
    ModifyVServerGroupBackendServersRequest,
    RemoveVServerGroupBackendServersRequest,
    SetVServerGroupAttributeRequest,
    DeleteLoadBalancerListenerRequest,
    DeleteLoadBalancerRequest,
    DescribeHealthStatusRequest,
    DescribeLoadBalancerAttributeRequest,
    DescribeLoadBalancersRequest,
    RemoveBackendServersRequest,
    SetBackendServersRequest,
    SetLoadBalancerStatusRequest,
    StartLoadBalancerListenerRequest,
    StopLoadBalancerListenerRequest,
    UploadServerCertificateRequest,
    DescribeServerCertificatesRequest,
    DeleteServerCertificateRequest,
)

from tests.sdk import aliyun_support as ali
from tests.sdk.aliyun_support import REGION, AliyunTestCase, World, servers_json
from tests.sdk.aliyun_support import tea_models as tm
from tests.sdk.harness import REPO, self_signed_pem
from tests.sdk.lbaas_support import openstack_connection, os_exc

MINUTE = 60
VECTORS = REPO / "crates" / "weir-dialects" / "tests" / "vectors"


# ---------------------------------------------------------------------------
# classic request builders
# ---------------------------------------------------------------------------

def req(module, **params):
    """A classic SDK request filled through its own setters (set_<Name>)."""
    r = getattr(module, module.__name__.rsplit(".", 1)[1])()
    for name, value in params.items():
        getattr(r, "set_" + name)(value)
    return r


def codes_covered(text):
    """"200-299,300-399" or "200-399" -> the set of codes covered."""
    out = set()
    for part in (text or "").split(","):
        lo, _, hi = part.strip().partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


class AliyunSignerSelfTest(unittest.TestCase):
    """Our own signers must reproduce the captured SDK signatures, or the signature tests prove nothing."""

    def test_v1_matches_captured_vector(self):
        method, target, _headers, _body = ali.parse_raw_request((VECTORS / "aliyun-request.raw").read_bytes())
        params = urllib.parse.parse_qsl(urllib.parse.urlsplit(target).query, keep_blank_values=True)
        sent = dict(params)["Signature"]
        self.assertEqual(sent, "dZRXXEbd5zwXRHNd4NKDwyC5wf8=", "the vector file changed")
        self.assertEqual(ali.v1_signature(method, params, "SECRETTEST"), sent)
        self.assertTrue(ali.v1_string_to_sign(method, params).startswith(
            "POST&%2F&AccessKeyId%3DAKIDTEST%26Action%3DAddBackendServers%26BackendServers%3D%255B%257B"))
        self.assertNotEqual(ali.v1_signature(method, params, "SECRETTESTX"), sent)

    def test_acs3_matches_captured_vector(self):
        method, target, headers, body = ali.parse_raw_request((VECTORS / "aliyun-acs3-request.raw").read_bytes())
        scheme, fields = ali.parse_acs3_authorization(headers["authorization"])
        self.assertEqual((scheme, fields["Credential"]), (ali.ACS3, "AKIDTEST"))
        self.assertEqual(fields["Signature"], "57414e8c9e8272742c357467c5bfb8a57948a4ff83d1c4abe81e2c31ad04126b")
        self.assertEqual(headers["x-acs-content-sha256"], hashlib.sha256(body).hexdigest())
        query = urllib.parse.parse_qsl(urllib.parse.urlsplit(target).query, keep_blank_values=True)
        canonical = ali.acs3_canonical_request(method, query, headers, fields["SignedHeaders"].split(";"),
                                               headers["x-acs-content-sha256"])
        self.assertEqual(ali.acs3_string_to_sign(canonical),
                         "ACS3-HMAC-SHA256\n00bfbaf48d583a0ef9061220732823b815fe56c5012876608136e3548213e3a5")
        self.assertEqual(ali.acs3_signature("SECRETTEST", canonical), fields["Signature"])


# ---------------------------------------------------------------------------
# Load balancers
# ---------------------------------------------------------------------------

class AliyunLoadBalancers(AliyunTestCase):

    @classmethod
    def bootstrap(cls):
        cls.w = World(cls.native, "alb", 10, 0, vms=1)
        cls.lister = World(cls.native, "alb-list", 10, 10, vms=0)

    def setUp(self):
        self.client = self.classic(self.w.project)

    def create(self, client=None, world=None, **params):
        world = world or self.w
        params.setdefault("VSwitchId", world.subnet["id"])
        params.setdefault("LoadBalancerName", "lb-" + secrets.token_hex(3))
        return self.acs(client or self.client, req(CreateLoadBalancerRequest, **params))

    def attribute(self, lb_id, client=None):
        return self.acs(client or self.client, req(DescribeLoadBalancerAttributeRequest, LoadBalancerId=lb_id))

    def test_create_attribute_status_delete(self):
        token = "ct-" + secrets.token_hex(6)
        made = self.create(VpcId=self.w.vpc["id"], LoadBalancerName="shop", ClientToken=token)
        lb_id = made["LoadBalancerId"]
        native = self.native.loadbalancer(lb_id)
        self.assertEqual((made["Address"], made["VSwitchId"], made["VpcId"], made["LoadBalancerName"]),
                         (native["vip"], self.w.subnet["id"], self.w.vpc["id"], "shop"))
        self.assertEqual((native["subnet_id"], native["vpc_id"], native["status"], native["project_id"]),
                         (self.w.subnet["id"], self.w.vpc["id"], "RUNNING", self.w.project.id))

        # ClientToken: a replay (by either SDK) answers the same load balancer and creates nothing.
        before = self.revision()
        again = self.create(VpcId=self.w.vpc["id"], LoadBalancerName="shop", ClientToken=token)
        self.assertEqual(again["LoadBalancerId"], lb_id, "ClientToken replay")
        tea = self.tea(self.w.project)
        replay = self.tea_step("Tea CreateLoadBalancer replay", lambda: tea.create_load_balancer(
            tm.CreateLoadBalancerRequest(region_id=REGION, v_switch_id=self.w.subnet["id"], vpc_id=self.w.vpc["id"],
                                         load_balancer_name="shop", client_token=token)))
        self.assertEqual(replay.body.load_balancer_id, lb_id, "Tea ClientToken replay")
        self.assertEqual(self.revision(), before, "a ClientToken replay wrote something")
        listed = self.acs(self.client, req(DescribeLoadBalancersRequest, LoadBalancerName="shop"))
        self.assertEqual(listed["TotalCount"], 1, "a replay created a second load balancer: %r" % listed)
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            CreateLoadBalancerRequest, VSwitchId=self.w.subnet["id"], LoadBalancerName="other", ClientToken=token)),
            "IdempotentParameterMismatch", 400, "ClientToken reused with another name")
        self.assertEqual(self.revision(), before, "a refused ClientToken reuse wrote something")

        attr = self.attribute(lb_id)
        self.assertEqual((attr["LoadBalancerId"], attr["LoadBalancerStatus"], attr["Address"], attr["VpcId"],
                          attr["VSwitchId"], attr["LoadBalancerName"], attr["RegionId"]),
                         (lb_id, "active", native["vip"], self.w.vpc["id"], self.w.subnet["id"], "shop", REGION))
        self.assertEqual(attr["ListenerPorts"]["ListenerPort"], [])
        self.assertEqual(attr["BackendServers"]["BackendServer"], [])

        # inactive: the native status follows, and registration is refused without writing.
        self.acs(self.client, req(SetLoadBalancerStatusRequest, LoadBalancerId=lb_id, LoadBalancerStatus="inactive"))
        self.assertEqual(self.native.loadbalancer(lb_id)["status"], "STOPPED")
        self.assertEqual(self.attribute(lb_id)["LoadBalancerStatus"], "inactive")
        before, group = self.revision(), self.native_group(lb_id)
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            AddBackendServersRequest, LoadBalancerId=lb_id, BackendServers=servers_json(
                {"ServerId": self.w.vms[0]["id"]}))), "IncorrectLoadBalancerStatus", 400, "AddBackendServers inactive")
        self.assertNothingWritten(before, lb_id, group, "AddBackendServers on an inactive load balancer")
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            SetLoadBalancerStatusRequest, LoadBalancerId=lb_id, LoadBalancerStatus="paused")),
            "InvalidParameter", 400, "LoadBalancerStatus paused", message_re="LoadBalancerStatus")
        self.tea_step("Tea SetLoadBalancerStatus active", lambda: tea.set_load_balancer_status(
            tm.SetLoadBalancerStatusRequest(region_id=REGION, load_balancer_id=lb_id, load_balancer_status="active")))
        self.assertEqual(self.native.loadbalancer(lb_id)["status"], "RUNNING")

        self.acs(self.client, req(DeleteLoadBalancerRequest, LoadBalancerId=lb_id))
        self.assertEqual(self.native.call("GET", "/v1/loadbalancers/%s" % lb_id)[0], 404)
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            DescribeLoadBalancerAttributeRequest, LoadBalancerId=lb_id)),
            "InvalidLoadBalancerId.NotFound", 404, "attribute of a deleted load balancer")
        self.assertTeaError(lambda: tea.delete_load_balancer(tm.DeleteLoadBalancerRequest(
            region_id=REGION, load_balancer_id=lb_id)), "InvalidLoadBalancerId.NotFound", 404, "delete twice")

    def test_create_refusals_write_nothing(self):
        before = self.revision()
        cases = [
            ("no VSwitchId", dict(LoadBalancerName="x"), "MissingParameter", 400, "VSwitchId"),
            ("unknown VSwitchId", dict(VSwitchId="vsw-nosuch"), "InvalidVSwitchId.NotFound", 404, None),
            ("VSwitch outside VpcId", dict(VSwitchId=self.w.subnet["id"], VpcId=self.w.vpc_nogw["id"]),
             "InvalidVSwitchId.Mismatch", 400, None),
        ]
        for what, params, code, status, message_re in cases:
            with self.subTest(what):
                self.assertAcsError(lambda: self.client.do_action_with_exception(
                    req(CreateLoadBalancerRequest, **params)), code, status, what, message_re=message_re)
        self.assertEqual(self.revision(), before, "a refused CreateLoadBalancer wrote something")

    def test_describe_filters_and_paging(self):
        client = self.classic(self.lister.project)
        tea = self.tea(self.lister.project)
        ids = [self.create(client, self.lister, LoadBalancerName="page-%d" % i)["LoadBalancerId"] for i in range(5)]
        other = self.create(client, self.lister, VSwitchId=self.lister.subnet_nogw["id"],
                            LoadBalancerName="elsewhere")["LoadBalancerId"]

        def tea_list(**kw):
            resp = self.tea_step("Tea DescribeLoadBalancers %r" % kw, lambda: tea.describe_load_balancers(
                tm.DescribeLoadBalancersRequest(region_id=REGION, **kw)))
            return resp.body.total_count, [x.load_balancer_id for x in resp.body.load_balancers.load_balancer or []]

        self.assertEqual(tea_list(), (6, ids + [other]), "everything, oldest first")
        total, got = tea_list(load_balancer_id="%s,%s" % (ids[3], ids[1]))
        self.assertEqual((total, sorted(got)), (2, sorted([ids[1], ids[3]])))
        self.assertEqual(tea_list(vpc_id=self.lister.vpc_nogw["id"]), (1, [other]))
        self.assertEqual(tea_list(v_switch_id=self.lister.subnet["id"]), (5, ids))
        self.assertEqual(tea_list(load_balancer_name="page-2"), (1, [ids[2]]))
        self.assertEqual(tea_list(load_balancer_name="page-2", vpc_id=self.lister.vpc_nogw["id"]), (0, []))

        pages = []
        for number in (1, 2, 3, 4):
            page = self.acs(client, req(DescribeLoadBalancersRequest, VSwitchId=self.lister.subnet["id"],
                                        PageSize=2, PageNumber=number))
            self.assertEqual((page["TotalCount"], page["PageNumber"], page["PageSize"]), (5, number, 2))
            pages.append([x["LoadBalancerId"] for x in page["LoadBalancers"]["LoadBalancer"]])
        self.assertEqual([len(p) for p in pages], [2, 2, 1, 0])
        self.assertEqual(sum(pages, []), ids, "pages must be disjoint and complete")
        summary = self.acs(client, req(DescribeLoadBalancersRequest, LoadBalancerId=ids[0]))
        row = summary["LoadBalancers"]["LoadBalancer"][0]
        self.assertEqual((row["LoadBalancerId"], row["LoadBalancerStatus"], row["VSwitchId"], row["VpcId"],
                          row["Address"]),
                         (ids[0], "active", self.lister.subnet["id"], self.lister.vpc["id"],
                          self.native.vip(ids[0])))
        for what, params in (("PageSize 101", dict(PageSize=101)), ("PageNumber 0", dict(PageNumber=0))):
            with self.subTest(what):
                self.assertAcsError(lambda: client.do_action_with_exception(req(DescribeLoadBalancersRequest,
                                                                                **params)),
                                    "InvalidParameter", 400, what)

    def test_xml_answers(self):
        """Format=XML (the classic SDK's do_action with accept format XML): success and error come back as XML.
        Left alone, aliyun-python-sdk-core 2.16.1's do_action sends `Format=None`, which is answered in JSON."""
        lb_id = self.create()["LoadBalancerId"]

        def xml_request(lb):
            r = req(DescribeLoadBalancerAttributeRequest, LoadBalancerId=lb)
            r.set_accept_format("XML")
            return r

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            plain = self.client.do_action(req(DescribeLoadBalancerAttributeRequest, LoadBalancerId=lb_id))
            body = self.client.do_action(xml_request(lb_id))
            err_body = self.client.do_action(xml_request("lb-nosuch"))
        self.assertEqual(json.loads(plain)["LoadBalancerId"], lb_id, "Format=None is answered in JSON")
        self.assertTrue(body.startswith(b"<?xml"), "do_action answer is not XML: %r" % body[:200])
        root = ET.fromstring(body)
        self.assertEqual(root.tag, "DescribeLoadBalancerAttributeResponse")
        self.assertEqual(root.findtext("LoadBalancerId"), lb_id)
        self.assertEqual(root.findtext("LoadBalancerStatus"), "active")
        self.assertTrue(root.findtext("RequestId"))
        err = ET.fromstring(err_body)
        self.assertEqual((err.tag, err.findtext("Code")), ("Error", "InvalidLoadBalancerId.NotFound"))
        for key in ali.ERROR_KEYS:
            self.assertTrue(err.findtext(key), "XML error lacks %s: %r" % (key, err_body))


# ---------------------------------------------------------------------------
# Listeners
# ---------------------------------------------------------------------------

class AliyunListeners(AliyunTestCase):

    @classmethod
    def bootstrap(cls):
        cls.w = World(cls.native, "als", 10, 0, vms=1)

    def setUp(self):
        self.client = self.classic(self.w.project)
        self.tea_client = self.tea(self.w.project)
        self.lb = self.acs(self.client, req(CreateLoadBalancerRequest, VSwitchId=self.w.subnet["id"]))["LoadBalancerId"]
        self.vip = self.native.vip(self.lb)

    def port(self):
        return ali.free_port(self.vip)

    def listener_on(self, port, protocol):
        found = [x for x in self.native_listeners(self.lb) if (x["port"], x["protocol"]) == (port, protocol)]
        self.assertEqual(len(found), 1, "native listeners of %s: %r" % (self.lb, self.native_listeners(self.lb)))
        return found[0]

    def health_check_of(self, listener):
        return self.native.pool(listener["default_pool_id"])["health_check"]

    def test_tcp_listener_with_health_check(self):
        """CreateLoadBalancerTCPListener with the parameters the SDKs send (HealthCheckSwitch and the
        lower-case healthCheckInterval are the SDKs' names for TCP)."""
        port = self.port()
        self.acs(self.client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=self.lb, ListenerPort=port,
                                  BackendServerPort=8080, Bandwidth=-1, Scheduler="wlc", Description="tcp-in",
                                  HealthCheckSwitch="on", HealthCheckType="tcp", HealthCheckConnectPort=8081,
                                  HealthCheckConnectTimeout=2, HealthyThreshold=4, UnhealthyThreshold=5,
                                  healthCheckInterval=3))
        listener = self.listener_on(port, "tcp")
        self.assertEqual((listener["scheduler"], listener["name"]), ("lc", "tcp-in"))
        check = self.health_check_of(listener)
        self.assertIsNotNone(check, "HealthCheckSwitch=on: no health check on the listener's pool")
        self.assertEqual((check["type"], check["timeout_ms"], check["rise"], check["fall"], check["port"]),
                         ("tcp", 2000, 4, 5, 8081))
        attr = self.acs(self.client, req(DescribeLoadBalancerAttributeRequest, LoadBalancerId=self.lb))
        self.assertEqual(attr["ListenerPorts"]["ListenerPort"], [port])
        self.assertEqual([(x["ListenerPort"], x["ListenerProtocol"])
                          for x in attr["ListenerPortsAndProtocol"]["ListenerPortAndProtocol"]], [(port, "tcp")])
        self.assertEqual(check["interval_ms"], 3000,
                         "healthCheckInterval=3 (the SDKs' parameter name for TCP listeners) was not applied")

    def test_tcp_health_check_switch(self):
        """HealthCheckSwitch alone turns the TCP check on; HealthCheckSwitch=off leaves none."""
        on, off = self.port(), self.port()
        self.acs(self.client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=self.lb, ListenerPort=on,
                                  BackendServerPort=8080, Bandwidth=-1, HealthCheckSwitch="on"))
        self.tea_step("Tea TCP listener, switch off", lambda: self.tea_client.create_load_balancer_tcplistener(
            tm.CreateLoadBalancerTCPListenerRequest(region_id=REGION, load_balancer_id=self.lb, listener_port=off,
                                                    backend_server_port=8080, bandwidth=-1, health_check_switch="off",
                                                    health_check_type="tcp")))
        with self.subTest("HealthCheckSwitch=off"):
            self.assertIsNone(self.health_check_of(self.listener_on(off, "tcp")),
                              "HealthCheckSwitch=off still created a health check")
        with self.subTest("HealthCheckSwitch=on"):
            check = self.health_check_of(self.listener_on(on, "tcp"))
            self.assertIsNotNone(check, "HealthCheckSwitch=on created no health check")
            self.assertEqual(check["type"], "tcp")

    def test_udp_listener(self):
        port = self.port()
        self.tea_step("Tea UDP listener", lambda: self.tea_client.create_load_balancer_udplistener(
            tm.CreateLoadBalancerUDPListenerRequest(region_id=REGION, load_balancer_id=self.lb, listener_port=port,
                                                    backend_server_port=5353, bandwidth=-1, scheduler="sch",
                                                    health_check_switch="off", description="dns")))
        listener = self.listener_on(port, "udp")
        self.assertEqual((listener["scheduler"], listener["name"]), ("sh", "dns"))
        self.assertIsNone(self.health_check_of(listener))
        attr = self.tea_step("Tea attribute", lambda: self.tea_client.describe_load_balancer_attribute(
            tm.DescribeLoadBalancerAttributeRequest(region_id=REGION, load_balancer_id=self.lb))).body
        self.assertEqual([(x.listener_port, x.listener_protocol)
                          for x in attr.listener_ports_and_protocol.listener_port_and_protocol], [(port, "udp")])

    def test_http_listener_with_health_check(self):
        port = self.port()
        self.tea_step("Tea HTTP listener", lambda: self.tea_client.create_load_balancer_httplistener(
            tm.CreateLoadBalancerHTTPListenerRequest(
                region_id=REGION, load_balancer_id=self.lb, listener_port=port, backend_server_port=8080,
                bandwidth=-1, scheduler="wrr", sticky_session="off", health_check="on", health_check_uri="/healthz",
                health_check_http_code="http_2xx,http_3xx", health_check_interval=5, health_check_timeout=3,
                healthy_threshold=3, unhealthy_threshold=2, health_check_connect_port=8082)))
        listener = self.listener_on(port, "http")
        self.assertEqual(listener["scheduler"], "wrr")
        check = self.health_check_of(listener)
        self.assertIsNotNone(check, "HealthCheck=on: no health check on the listener's pool")
        self.assertEqual((check["type"], check["path"], check["interval_ms"], check["timeout_ms"], check["rise"],
                          check["fall"], check["port"]), ("http", "/healthz", 5000, 3000, 3, 2, 8082))
        self.assertEqual(codes_covered(check["expected_codes"]), set(range(200, 400)))
        # Refused health-check values write nothing.
        before = self.revision()
        for what, extra in (("HealthCheckHttpCode http_6xx", dict(HealthCheck="on", HealthCheckHttpCode="http_6xx")),
                            ("HealthCheckURI without /", dict(HealthCheck="on", HealthCheckURI="healthz")),
                            ("HealthCheck maybe", dict(HealthCheck="maybe")),
                            ("Scheduler fastest", dict(Scheduler="fastest"))):
            with self.subTest(what):
                self.assertAcsError(lambda: self.client.do_action_with_exception(req(
                    CreateLoadBalancerHTTPListenerRequest, LoadBalancerId=self.lb, ListenerPort=self.port(),
                    BackendServerPort=8080, Bandwidth=-1, StickySession="off", **extra)), "InvalidParameter", 400,
                    what)
        self.assertEqual(self.revision(), before, "a refused listener was written")

    def test_duplicate_port_start_stop_delete(self):
        port = self.port()
        self.acs(self.client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=self.lb, ListenerPort=port,
                                  BackendServerPort=8080, Bandwidth=-1))
        before = self.revision()
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            CreateLoadBalancerTCPListenerRequest, LoadBalancerId=self.lb, ListenerPort=port, BackendServerPort=9090,
            Bandwidth=-1)), "ListenerAlreadyExists", 400, "second TCP listener on the port")
        self.assertTeaError(lambda: self.tea_client.create_load_balancer_tcplistener(
            tm.CreateLoadBalancerTCPListenerRequest(region_id=REGION, load_balancer_id=self.lb, listener_port=port,
                                                    backend_server_port=9090, bandwidth=-1)),
            "ListenerAlreadyExists", 400, "Tea: second TCP listener on the port")
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            CreateLoadBalancerTCPListenerRequest, LoadBalancerId=self.lb, ListenerPort=self.port(), Bandwidth=-1,
            VServerGroupId="rsp-1")), "InvalidVServerGroupId.NotFound", 404, "an unknown VServerGroupId")
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            CreateLoadBalancerTCPListenerRequest, LoadBalancerId="lb-nosuch", ListenerPort=self.port(), Bandwidth=-1)),
            "InvalidLoadBalancerId.NotFound", 404, "listener on an unknown load balancer")
        self.assertEqual(self.revision(), before, "a refused listener was written")
        self.assertEqual(len(self.native_listeners(self.lb)), 1)

        self.acs(self.client, req(StartLoadBalancerListenerRequest, LoadBalancerId=self.lb, ListenerPort=port))
        self.tea_step("Tea start", lambda: self.tea_client.start_load_balancer_listener(
            tm.StartLoadBalancerListenerRequest(region_id=REGION, load_balancer_id=self.lb, listener_port=port,
                                                listener_protocol="tcp")))
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            StartLoadBalancerListenerRequest, LoadBalancerId=self.lb, ListenerPort=port + 1 if port < 65535 else 1)),
            "InvalidListener.NotFound", 404, "start a listener that does not exist")
        self.assertEqual(self.revision(), before, "starting a running listener wrote something")

        def status():
            attr = self.acs(self.client, req(DescribeLoadBalancerAttributeRequest, LoadBalancerId=self.lb))
            return {p["ListenerPort"]: p["ListenerStatus"]
                    for p in attr["ListenerPortsAndProtocol"]["ListenerPortAndProtocol"]}[port]
        self.assertEqual(status(), "running")
        self.acs(self.client, req(StopLoadBalancerListenerRequest, LoadBalancerId=self.lb, ListenerPort=port))
        self.assertEqual(status(), "stopped")
        self.assertEqual(self.listener_on(port, "tcp")["port"], port, "a stopped listener stays configured")
        self.acs(self.client, req(StartLoadBalancerListenerRequest, LoadBalancerId=self.lb, ListenerPort=port))
        self.assertEqual(status(), "running")

        self.acs(self.client, req(DeleteLoadBalancerListenerRequest, LoadBalancerId=self.lb, ListenerPort=port,
                                  ListenerProtocol="tcp"))
        self.assertEqual(self.native_listeners(self.lb), [])
        attr = self.acs(self.client, req(DescribeLoadBalancerAttributeRequest, LoadBalancerId=self.lb))
        self.assertEqual(attr["ListenerPorts"]["ListenerPort"], [])
        self.assertTeaError(lambda: self.tea_client.delete_load_balancer_listener(
            tm.DeleteLoadBalancerListenerRequest(region_id=REGION, load_balancer_id=self.lb, listener_port=port)),
            "InvalidListener.NotFound", 404, "delete twice")


# ---------------------------------------------------------------------------
# The default server group (seed 003)
# ---------------------------------------------------------------------------

class AliyunBackendServers(AliyunTestCase):

    @classmethod
    def bootstrap(cls):
        cls.w = World(cls.native, "abs", 10, 0, vms=24)
        cls.other = World(cls.native, "abs-other", 10, 20, vms=1)

    def setUp(self):
        self.client = self.classic(self.w.project)
        self.tea_client = self.tea(self.w.project)
        self.lb = self.acs(self.client, req(CreateLoadBalancerRequest, VSwitchId=self.w.subnet["id"]))["LoadBalancerId"]

    def vm(self, i):
        return self.w.vms[i]

    def add(self, *servers, client=None):
        return self.acs(client or self.client, req(AddBackendServersRequest, LoadBalancerId=self.lb,
                                                   BackendServers=servers_json(*servers)))

    def add_raw_param(self, raw):
        return lambda: self.client.do_action_with_exception(req(AddBackendServersRequest, LoadBalancerId=self.lb,
                                                                BackendServers=raw))

    def answered(self, body):
        """{ServerId: (int Weight, Type, Description)} of an answer's BackendServers."""
        self.assertEqual(body.get("LoadBalancerId"), self.lb)
        return {s["ServerId"]: (int(s["Weight"]), s.get("Type"), s.get("Description", ""))
                for s in body["BackendServers"]["BackendServer"]}

    def test_add_as_seed_003(self):
        """String and number weights, default 100, Type ecs, Description; the answer lists the servers added;
        a Port in the list is ignored (the group uses the listener's BackendServerPort)."""
        v = [self.vm(i) for i in range(4)]
        body = self.add({"ServerId": v[0]["id"], "Weight": "100"},
                        {"ServerId": v[1]["id"], "Weight": 50, "Type": "ecs", "Description": "web-1"},
                        {"ServerId": v[2]["id"]},
                        {"ServerId": v[3]["id"], "Weight": " 0 ", "Port": "80"})
        self.assertEqual(self.answered(body), {v[0]["id"]: (100, "ecs", ""), v[1]["id"]: (50, "ecs", "web-1"),
                                               v[2]["id"]: (100, "ecs", ""), v[3]["id"]: (0, "ecs", "")})
        self.assertEqual(self.native_group(self.lb), {
            v[0]["id"]: (v[0]["private_ip"], None, 100, ""), v[1]["id"]: (v[1]["private_ip"], None, 50, "web-1"),
            v[2]["id"]: (v[2]["private_ip"], None, 100, ""), v[3]["id"]: (v[3]["private_ip"], None, 0, "")})
        attr = self.acs(self.client, req(DescribeLoadBalancerAttributeRequest, LoadBalancerId=self.lb))
        listed = {s["ServerId"]: (int(s["Weight"]), s["ServerIp"], s["VpcId"])
                  for s in attr["BackendServers"]["BackendServer"]}
        self.assertEqual(listed, {x["id"]: (w, x["private_ip"], self.w.vpc["id"])
                                  for x, w in zip(v, (100, 50, 100, 0))})
        # A later call answers only what it added.
        body = self.add({"ServerId": self.vm(4)["id"], "Weight": "7"})
        self.assertEqual(self.answered(body), {self.vm(4)["id"]: (7, "ecs", "")})

    def test_add_with_tea_and_types(self):
        """The Tea SDK (ACS3) with Type ecs, eni (with its ServerIp) and eci; the answer repeats each Type."""
        v = [self.vm(i) for i in range(5, 8)]
        resp = self.tea_step("Tea AddBackendServers", lambda: self.tea_client.add_backend_servers(
            tm.AddBackendServersRequest(region_id=REGION, load_balancer_id=self.lb, backend_servers=servers_json(
                {"ServerId": v[0]["id"], "Weight": "10", "Type": "ecs"},
                {"ServerId": v[1]["id"], "Weight": "20", "Type": "eni", "ServerIp": v[1]["private_ip"]},
                {"ServerId": v[2]["id"], "Weight": 30, "Type": "eci"}))))
        added = resp.body.backend_servers.backend_server
        self.assertEqual(resp.body.load_balancer_id, self.lb)
        self.assertEqual(sorted((s.server_id, int(s.weight)) for s in added),
                         sorted([(v[0]["id"], 10), (v[1]["id"], 20), (v[2]["id"], 30)]))
        self.assertEqual({k: (a, w) for k, (a, _, w, _) in self.native_group(self.lb).items()},
                         {x["id"]: (x["private_ip"], w) for x, w in zip(v, (10, 20, 30))})
        self.assertEqual({s.server_id: s.type for s in added},
                         {v[0]["id"]: "ecs", v[1]["id"]: "eni", v[2]["id"]: "eci"},
                         "the answer must list each server with the Type it was added as")

    def test_duplicate_ecs_in_one_request_first_wins(self):
        vm = self.vm(8)
        body = self.add({"ServerId": vm["id"], "Weight": "30", "Description": "first"},
                        {"ServerId": vm["id"], "Weight": "50", "Description": "second"})
        self.assertEqual(self.answered(body), {vm["id"]: (30, "ecs", "first")})
        self.assertEqual(self.native_group(self.lb), {vm["id"]: (vm["private_ip"], None, 30, "first")})
        # The ignored copy is not judged: its weight 101 refuses nothing.
        other = self.vm(9)
        body = self.add({"ServerId": other["id"], "Weight": 40}, {"ServerId": other["id"], "Weight": 101})
        self.assertEqual(self.answered(body), {other["id"]: (40, "ecs", "")})
        self.assertEqual(self.native_group(self.lb)[other["id"]][2], 40)

    def test_refusals_write_nothing(self):
        attached = self.vm(10)
        self.add({"ServerId": attached["id"], "Weight": 5})
        fresh = self.vm(11)
        many = [{"ServerId": self.vm(i)["id"], "Weight": "1"} for i in range(21)]
        cases = [
            ("21 servers", servers_json(*many), "InvalidParameter.BackendServersTooMany", 400, None),
            ("already attached", servers_json({"ServerId": attached["id"]}), "BackendServer.AlreadyExists", 400, None),
            ("a new one and an attached one", servers_json({"ServerId": fresh["id"]}, {"ServerId": attached["id"]}),
             "BackendServer.AlreadyExists", 400, None),
            ("stopped ECS", servers_json({"ServerId": self.w.stopped["id"]}), "IncorrectBackendServerStatus", 400,
             None),
            ("unknown ECS", servers_json({"ServerId": "i-nosuch"}), "InvalidServerId.NotFound", 404, None),
            ("another project's ECS", servers_json({"ServerId": self.other.vms[0]["id"]}),
             "InvalidServerId.NotFound", 404, None),
            ("ECS in another VPC", servers_json({"ServerId": self.w.vm_nogw["id"]}), "InvalidServerId.VpcMismatch",
             400, None),
            ("weight 101", servers_json({"ServerId": fresh["id"], "Weight": 101}), "InvalidParameter", 400, "Weight"),
            ("weight \"101\"", servers_json({"ServerId": fresh["id"], "Weight": "101"}), "InvalidParameter", 400,
             "Weight"),
            ("weight -1", servers_json({"ServerId": fresh["id"], "Weight": -1}), "InvalidParameter", 400, "Weight"),
            ("weight heavy", servers_json({"ServerId": fresh["id"], "Weight": "heavy"}), "InvalidParameter", 400,
             "Weight"),
            ("Type vm", servers_json({"ServerId": fresh["id"], "Type": "vm"}), "InvalidParameter", 400, "Type"),
            ("eni ServerIp not the instance's", servers_json(
                {"ServerId": fresh["id"], "Type": "eni", "ServerIp": self.vm(12)["private_ip"]}),
             "InvalidParameter", 400, None),
            ("malformed JSON", '[{"ServerId": "%s", "Weight": "100"' % fresh["id"], "InvalidParameter", 400,
             "BackendServers"),
            ("a JSON object, not a list", json.dumps({"ServerId": fresh["id"]}), "InvalidParameter", 400,
             "BackendServers"),
            ("an empty list", "[]", "InvalidParameter", 400, None),
        ]
        before, group = self.revision(), self.native_group(self.lb)
        for what, raw, code, status, message_re in cases:
            with self.subTest(what):
                self.assertAcsError(self.add_raw_param(raw), code, status, what, message_re=message_re)
                self.assertNothingWritten(before, self.lb, group, what)
        with self.subTest("no BackendServers"):
            self.assertAcsError(lambda: self.client.do_action_with_exception(req(
                AddBackendServersRequest, LoadBalancerId=self.lb)), "MissingParameter", 400, "no BackendServers",
                message_re="BackendServers")
        with self.subTest("unknown load balancer"):
            self.assertTeaError(lambda: self.tea_client.add_backend_servers(tm.AddBackendServersRequest(
                region_id=REGION, load_balancer_id="lb-nosuch", backend_servers=servers_json(
                    {"ServerId": fresh["id"]}))), "InvalidLoadBalancerId.NotFound", 404, "unknown load balancer")
        with self.subTest("Tea: already attached"):
            self.assertTeaError(lambda: self.tea_client.add_backend_servers(tm.AddBackendServersRequest(
                region_id=REGION, load_balancer_id=self.lb, backend_servers=servers_json(
                    {"ServerId": attached["id"], "Weight": "100"}))), "BackendServer.AlreadyExists", 400,
                "Tea duplicate")
        self.assertNothingWritten(before, self.lb, group, "after every refusal")
        # Twenty is the limit, not a refusal.
        body = self.add(*[{"ServerId": self.vm(i)["id"], "Weight": "1"} for i in range(20) if i != 10])
        self.assertEqual(len(self.answered(body)), 19)
        self.assertEqual(len(self.native_group(self.lb)), 20)

    def test_remove_and_set(self):
        v = [self.vm(i) for i in range(13, 17)]
        self.add(*[{"ServerId": x["id"], "Weight": 10} for x in v[:3]])
        # Removing a server that is not attached (v[3]) is not an error.
        body = self.acs(self.client, req(RemoveBackendServersRequest, LoadBalancerId=self.lb, BackendServers=servers_json(
            {"ServerId": v[0]["id"], "Type": "ecs", "Weight": 10}, {"ServerId": v[3]["id"]})))
        self.assertEqual(sorted(self.answered(body)), sorted([v[1]["id"], v[2]["id"]]))
        self.assertEqual(sorted(self.native_group(self.lb)), sorted([v[1]["id"], v[2]["id"]]))
        resp = self.tea_step("Tea RemoveBackendServers", lambda: self.tea_client.remove_backend_servers(
            tm.RemoveBackendServersRequest(region_id=REGION, load_balancer_id=self.lb,
                                           backend_servers=servers_json({"ServerId": v[2]["id"]}))))
        self.assertEqual([s.server_id for s in resp.body.backend_servers.backend_server], [v[1]["id"]])
        self.assertEqual(sorted(self.native_group(self.lb)), [v[1]["id"]])

        body = self.acs(self.client, req(SetBackendServersRequest, LoadBalancerId=self.lb, BackendServers=servers_json(
            {"ServerId": v[1]["id"], "Weight": "70", "Description": "renamed"})))
        self.assertEqual(self.answered(body), {v[1]["id"]: (70, "ecs", "renamed")})
        self.assertEqual(self.native_group(self.lb), {v[1]["id"]: (v[1]["private_ip"], None, 70, "renamed")})
        self.tea_step("Tea SetBackendServers", lambda: self.tea_client.set_backend_servers(tm.SetBackendServersRequest(
            region_id=REGION, load_balancer_id=self.lb, backend_servers=servers_json(
                {"ServerId": v[1]["id"], "Weight": 0}))))
        self.assertEqual(self.native_group(self.lb)[v[1]["id"]][2], 0)
        before, group = self.revision(), self.native_group(self.lb)
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            SetBackendServersRequest, LoadBalancerId=self.lb, BackendServers=servers_json(
                {"ServerId": v[1]["id"], "Weight": 101}))), "InvalidParameter", 400, "SetBackendServers weight 101")
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            SetBackendServersRequest, LoadBalancerId=self.lb, BackendServers="not json")), "InvalidParameter", 400,
            "SetBackendServers malformed")
        self.assertNothingWritten(before, self.lb, group, "refused SetBackendServers")

    def test_describe_health_status(self):
        vm = self.vm(17)
        client = self.client
        tcp_port = ali.free_port(self.native.vip(self.lb))
        udp_port = ali.free_port(self.native.vip(self.lb))
        self.acs(client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=self.lb, ListenerPort=tcp_port,
                             BackendServerPort=8080, Bandwidth=-1))
        self.acs(client, req(CreateLoadBalancerUDPListenerRequest, LoadBalancerId=self.lb, ListenerPort=udp_port,
                             Bandwidth=-1))
        self.add({"ServerId": vm["id"]})
        rows = self.acs(client, req(DescribeHealthStatusRequest, LoadBalancerId=self.lb))["BackendServers"][
            "BackendServer"]
        got = sorted((r["ServerId"], r["ServerIp"], r["Port"], r["ListenerPort"], r["Protocol"]) for r in rows)
        self.assertEqual(got, sorted([(vm["id"], vm["private_ip"], 8080, tcp_port, "tcp"),
                                      (vm["id"], vm["private_ip"], udp_port, udp_port, "udp")]),
                         "the TCP listener dials BackendServerPort, the UDP one its own port")
        for r in rows:
            self.assertIn(r["ServerHealthStatus"], ("normal", "abnormal", "unavailable"))
        resp = self.tea_step("Tea DescribeHealthStatus", lambda: self.tea_client.describe_health_status(
            tm.DescribeHealthStatusRequest(region_id=REGION, load_balancer_id=self.lb, listener_port=tcp_port)))
        self.assertEqual([(s.server_id, s.port, s.listener_port) for s in resp.body.backend_servers.backend_server],
                         [(vm["id"], 8080, tcp_port)])


# ---------------------------------------------------------------------------
# Signatures and request checks
# ---------------------------------------------------------------------------

class AliyunSignatures(AliyunTestCase):

    @classmethod
    def bootstrap(cls):
        cls.w = World(cls.native, "asig", 10, 0, vms=6)
        cls.b = World(cls.native, "asig-b", 10, 30, vms=0)
        client = cls.classic(cls.w.project)
        cls.lb = json.loads(client.do_action_with_exception(req(
            CreateLoadBalancerRequest, VSwitchId=cls.w.subnet["id"])))["LoadBalancerId"]

    def v1(self, action, params, **kw):
        kw.setdefault("ak", self.w.project.ak)
        kw.setdefault("sk", self.w.project.sk)
        return ali.v1_request(self.server, action, params, **kw)

    def acs3(self, action, query, **kw):
        kw.setdefault("ak", self.w.project.ak)
        kw.setdefault("sk", self.w.project.sk)
        return ali.acs3_request(self.server, action, query, **kw)

    def add_params(self, vm):
        return {"LoadBalancerId": self.lb, "BackendServers": servers_json({"ServerId": vm["id"], "Weight": "9"})}

    def test_sdk_wrong_secret_and_unknown_key(self):
        d = req(DescribeLoadBalancersRequest)
        self.assertAcsError(lambda: self.classic(self.w.project, sk=self.w.project.sk + "x")
                            .do_action_with_exception(d), "InvalidAccessKeySecret", 400,
                            "classic, wrong secret (the SDK recognises its own string to sign in our message)")
        self.assertTeaError(lambda: self.tea(self.w.project, sk=self.w.project.sk + "x").describe_load_balancers(
            tm.DescribeLoadBalancersRequest(region_id=REGION)), "SignatureDoesNotMatch", 400, "Tea, wrong secret",
            message_re=r"server string to sign is:ACS3-HMAC-SHA256\n[0-9a-f]{64}")
        self.assertAcsError(lambda: self.classic(ak="AKNOSUCH" + secrets.token_hex(4), sk="x")
                            .do_action_with_exception(req(DescribeLoadBalancersRequest)),
                            "InvalidAccessKeyId.NotFound", 404, "classic, unknown key")
        self.assertTeaError(lambda: self.tea(ak="AKNOSUCH" + secrets.token_hex(4), sk="x").describe_load_balancers(
            tm.DescribeLoadBalancersRequest(region_id=REGION)), "InvalidAccessKeyId.NotFound", 404, "Tea, unknown key")

    def test_raw_signers_are_accepted(self):
        """Controls for the negative cases: our own v1 and ACS3 requests succeed."""
        body = self.assertAliRawOk(self.v1("DescribeLoadBalancers", {"LoadBalancerId": self.lb}), "raw v1")
        self.assertEqual([x["LoadBalancerId"] for x in body["LoadBalancers"]["LoadBalancer"]], [self.lb])
        body = self.assertAliRawOk(self.acs3("DescribeLoadBalancers", {"RegionId": REGION, "LoadBalancerId": self.lb}),
                                   "raw ACS3")
        self.assertEqual([x["LoadBalancerId"] for x in body["LoadBalancers"]["LoadBalancer"]], [self.lb])
        form = urllib.parse.urlencode({"LoadBalancerName": "from form"}).encode()
        body = self.assertAliRawOk(self.acs3("DescribeLoadBalancers", {"RegionId": REGION}, body=form,
                                             content_type="application/x-www-form-urlencoded"), "ACS3 with a form body")
        self.assertEqual(body["TotalCount"], 0, "the form body's LoadBalancerName filter was not applied")
        resp = self.v1("DescribeLoadBalancers", {}, fmt="XML")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(ET.fromstring(resp.body).tag, "DescribeLoadBalancersResponse")

    def test_timestamp_window(self):
        before, group = self.revision(), self.native_group(self.lb)
        for what, offset in (("20 min ahead", 20 * MINUTE), ("20 min behind", -20 * MINUTE)):
            with self.subTest("v1 " + what):
                resp = self.v1("AddBackendServers", self.add_params(self.w.vms[0]),
                               timestamp=time.time() + offset)
                self.assertAliRawError(resp, "InvalidTimeStamp.Expired", 400, "v1 Timestamp " + what)
            with self.subTest("ACS3 " + what):
                resp = self.acs3("AddBackendServers", dict(self.add_params(self.w.vms[0]), RegionId=REGION),
                                 date=time.time() + offset)
                self.assertAliRawError(resp, "InvalidTimeStamp.Expired", 400, "x-acs-date " + what)
        self.assertNothingWritten(before, self.lb, group, "expired requests")
        self.assertAliRawOk(self.v1("AddBackendServers", self.add_params(self.w.vms[0]),
                                    timestamp=time.time() - 10 * MINUTE), "v1 Timestamp 10 min behind")
        self.assertAliRawOk(self.acs3("AddBackendServers", dict(self.add_params(self.w.vms[1]), RegionId=REGION),
                                      date=time.time() + 10 * MINUTE), "x-acs-date 10 min ahead")
        self.assertEqual(set(self.native_group(self.lb)) - set(group), {self.w.vms[0]["id"], self.w.vms[1]["id"]})

    def test_nonce_is_single_use(self):
        n1, n2 = ali.nonce(), ali.nonce()
        self.assertAliRawOk(self.v1("AddBackendServers", self.add_params(self.w.vms[2]), signature_nonce=n1),
                            "v1 first use")
        self.assertAliRawOk(self.acs3("AddBackendServers", dict(self.add_params(self.w.vms[3]), RegionId=REGION),
                                      signature_nonce=n2), "ACS3 first use")
        before, group = self.revision(), self.native_group(self.lb)
        for what, resp in (
                ("v1 replay, another server", self.v1("AddBackendServers", self.add_params(self.w.vms[4]),
                                                      signature_nonce=n1)),
                ("ACS3 replay, another server", self.acs3("AddBackendServers", dict(
                    self.add_params(self.w.vms[4]), RegionId=REGION), signature_nonce=n2)),
                ("ACS3 header nonce reused as a v1 SignatureNonce", self.v1(
                    "AddBackendServers", self.add_params(self.w.vms[4]), signature_nonce=n2)),
                ("v1 exact replay", self.v1("AddBackendServers", self.add_params(self.w.vms[2]), signature_nonce=n1))):
            with self.subTest(what):
                self.assertAliRawError(resp, "SignatureNonceUsed", 400, what)
        self.assertNothingWritten(before, self.lb, group, "replayed nonces")
        # Nonces are per project: B may use A's.
        other = ali.v1_request(self.server, "DescribeLoadBalancers", {}, ak=self.b.project.ak, sk=self.b.project.sk,
                               signature_nonce=n1)
        self.assertEqual(self.assertAliRawOk(other, "project B with A's nonce")["TotalCount"], 0)

    def test_tampered_requests(self):
        before, group = self.revision(), self.native_group(self.lb)
        params = self.add_params(self.w.vms[5])
        tampered = dict(params, BackendServers=servers_json({"ServerId": self.w.vms[5]["id"], "Weight": "99"}))
        resp = self.v1("AddBackendServers", params, tamper={"BackendServers": tampered["BackendServers"]})
        err = self.assertAliRawError(resp, "SignatureDoesNotMatch", 400, "v1 tampered BackendServers")
        self.assertRegex(err["Message"], r"^Specified signature is not matched with our calculation\. "
                                         r"server string to sign is:POST&%2F&AccessKeyId%3D")
        self.assertIn(ali.pct(ali.pct("\"Weight\": \"99\"")), err["Message"],
                      "the server's string to sign must be over the parameters it received")
        resp = self.acs3("AddBackendServers", dict(tampered, RegionId=REGION), sign_query=dict(params, RegionId=REGION))
        self.assertAliRawError(resp, "SignatureDoesNotMatch", 400, "ACS3 tampered query")
        resp = self.acs3("AddBackendServers", dict(params, RegionId=REGION), body=b"LoadBalancerName=x",
                         content_type="application/x-www-form-urlencoded", payload_hash=ali.EMPTY_SHA256)
        self.assertAliRawError(resp, "IncompleteSignature", 400, "ACS3 body that does not match x-acs-content-sha256")
        resp = self.v1("AddBackendServers", params, sk=self.w.project.sk + "x")
        self.assertAliRawError(resp, "SignatureDoesNotMatch", 400, "v1 wrong secret")
        resp = ali.send(self.server, "POST", "/?" + urllib.parse.urlencode(dict(
            params, Action="AddBackendServers", RegionId=REGION)), b"", {})
        self.assertAliRawError(resp, "IncompleteSignature", 400, "neither Signature nor Authorization")
        resp = self.v1("AddBackendServers", params, sk="wrong", fmt="XML")
        self.assertEqual(resp.status, 400, resp)
        root = ET.fromstring(resp.body)
        self.assertEqual((root.tag, root.findtext("Code")), ("Error", "SignatureDoesNotMatch"))
        self.assertNothingWritten(before, self.lb, group, "tampered requests")

    def test_unknown_action_and_region(self):
        for what, resp in (("v1", self.v1("NoSuchAction", {})),
                           ("ACS3", self.acs3("NoSuchAction", {"RegionId": REGION}))):
            with self.subTest(what):
                self.assertAliRawError(resp, "InvalidAction.NotFound", 404, "%s unknown action" % what,
                                       message_re="NoSuchAction")
        before = self.revision()
        for what, resp in (("v1", self.v1("CreateLoadBalancer", {"VSwitchId": self.w.subnet["id"]},
                                          region="cn-nowhere")),
                           ("ACS3", self.acs3("CreateLoadBalancer", {"RegionId": "cn-nowhere",
                                                                     "VSwitchId": self.w.subnet["id"]}))):
            with self.subTest(what):
                self.assertAliRawError(resp, "InvalidRegionId", 400, "%s RegionId cn-nowhere" % what,
                                       message_re="cn-nowhere")
        self.assertAcsError(lambda: self.classic(self.w.project, region="cn-nowhere").do_action_with_exception(
            req(DescribeLoadBalancersRequest)), "InvalidRegionId", 400, "classic client in region cn-nowhere")
        self.assertTeaError(lambda: self.tea(self.w.project).create_load_balancer(tm.CreateLoadBalancerRequest(
            region_id="cn-nowhere", v_switch_id=self.w.subnet["id"])), "InvalidRegionId", 400,
            "Tea RegionId cn-nowhere")
        self.assertEqual(self.revision(), before, "a refused region wrote something")

    def test_body_over_1_mib(self):
        big = b"LoadBalancerName=" + b"x" * (1 << 20)
        resp = self.v1("DescribeLoadBalancers", {}, form_body=big)
        self.assertAliRawError(resp, "RequestEntityTooLarge", 413, "v1 with a 1 MiB form body")
        resp = self.acs3("DescribeLoadBalancers", {"RegionId": REGION}, body=big,
                         content_type="application/x-www-form-urlencoded")
        self.assertAliRawError(resp, "RequestEntityTooLarge", 413, "ACS3 with a 1 MiB body")


# ---------------------------------------------------------------------------
# Cross-dialect
# ---------------------------------------------------------------------------

class AliyunCrossDialect(AliyunTestCase):

    @classmethod
    def bootstrap(cls):
        cls.a = World(cls.native, "axa", 10, 0, vms=3)
        cls.b = World(cls.native, "axb", 10, 40, vms=1)

    def setUp(self):
        self.client = self.classic(self.a.project)
        self.lb = self.acs(self.client, req(CreateLoadBalancerRequest, VSwitchId=self.a.subnet["id"]))["LoadBalancerId"]

    def test_aliyun_servers_seen_by_native_and_openstack(self):
        vm, vm2 = self.a.vms[0], self.a.vms[1]
        self.acs(self.client, req(AddBackendServersRequest, LoadBalancerId=self.lb, BackendServers=servers_json(
            {"ServerId": vm["id"], "Weight": "30", "Description": "from-aliyun"})))
        pool = self.native.loadbalancer(self.lb)["default_pool_id"]
        (nb,) = self.native.ok("GET", "/v1/pools/%s/backends" % pool, token=self.a.project.token)["backends"]
        self.assertEqual((nb["instance_id"], nb["address"], nb["weight"], nb["name"], nb["load_balancer_id"]),
                         (vm["id"], vm["private_ip"], 30, "from-aliyun", self.lb))
        conn = openstack_connection(self.server, self.a.project.ak, self.a.project.sk)
        members = list(conn.load_balancer.members(pool))
        self.assertEqual([(m.id, m.address, m.weight) for m in members], [(nb["id"], vm["private_ip"], 30)])
        # native -> Aliyun
        self.native.ok("POST", "/v1/loadbalancers/%s/backends" % self.lb, {"backends": [
            {"instance_id": vm2["id"], "weight": 60}]}, token=self.a.project.token)
        attr = self.acs(self.client, req(DescribeLoadBalancerAttributeRequest, LoadBalancerId=self.lb))
        self.assertEqual(sorted((s["ServerId"], int(s["Weight"])) for s in attr["BackendServers"]["BackendServer"]),
                         sorted([(vm["id"], 30), (vm2["id"], 60)]))
        # The same server through another door is a duplicate.
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            AddBackendServersRequest, LoadBalancerId=self.lb, BackendServers=servers_json({"ServerId": vm2["id"]}))),
            "BackendServer.AlreadyExists", 400, "Aliyun add of a natively registered server")
        # openstacksdk delete -> gone for Aliyun.
        conn.load_balancer.delete_member(nb["id"], pool, ignore_missing=False)
        attr = self.acs(self.client, req(DescribeLoadBalancerAttributeRequest, LoadBalancerId=self.lb))
        self.assertEqual([s["ServerId"] for s in attr["BackendServers"]["BackendServer"]], [vm2["id"]])

    def test_projects_are_isolated(self):
        vm = self.a.vms[2]
        self.acs(self.client, req(AddBackendServersRequest, LoadBalancerId=self.lb, BackendServers=servers_json(
            {"ServerId": vm["id"]})))
        b_classic, b_tea = self.classic(self.b.project), self.tea(self.b.project)
        self.assertEqual(self.acs(b_classic, req(DescribeLoadBalancersRequest))["TotalCount"], 0)
        listed = self.tea_step("B Tea DescribeLoadBalancers with A's id", lambda: b_tea.describe_load_balancers(
            tm.DescribeLoadBalancersRequest(region_id=REGION, load_balancer_id=self.lb))).body
        self.assertEqual((listed.total_count, listed.load_balancers.load_balancer or []), (0, []))
        before, group = self.revision(), self.native_group(self.lb)
        for what, call in (
                ("B attribute of A's LB", lambda: b_classic.do_action_with_exception(req(
                    DescribeLoadBalancerAttributeRequest, LoadBalancerId=self.lb))),
                ("B adds its ECS to A's LB", lambda: b_classic.do_action_with_exception(req(
                    AddBackendServersRequest, LoadBalancerId=self.lb, BackendServers=servers_json(
                        {"ServerId": self.b.vms[0]["id"]})))),
                ("B removes from A's LB", lambda: b_classic.do_action_with_exception(req(
                    RemoveBackendServersRequest, LoadBalancerId=self.lb, BackendServers=servers_json(
                        {"ServerId": vm["id"]})))),
                ("B deletes A's LB", lambda: b_classic.do_action_with_exception(req(
                    DeleteLoadBalancerRequest, LoadBalancerId=self.lb))),
                ("B health status of A's LB", lambda: b_classic.do_action_with_exception(req(
                    DescribeHealthStatusRequest, LoadBalancerId=self.lb)))):
            with self.subTest(what):
                self.assertAcsError(call, "InvalidLoadBalancerId.NotFound", 404, what)
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            AddBackendServersRequest, LoadBalancerId=self.lb, BackendServers=servers_json(
                {"ServerId": self.b.vms[0]["id"]}))), "InvalidServerId.NotFound", 404, "A adds B's ECS")
        self.assertNothingWritten(before, self.lb, group, "cross-project requests")
        pool = self.group_pool(self.lb)
        conn_b = openstack_connection(self.server, self.b.project.ak, self.b.project.sk)
        with self.assertRaises(os_exc.NotFoundException, msg="B openstacksdk members of A's group"):
            list(conn_b.load_balancer.members(pool))
        self.assertEqual(self.native.call("GET", "/v1/pools/%s/backends" % pool, token=self.b.project.token)[0], 404)
        self.assertEqual(self.native.call("GET", "/v1/loadbalancers/%s" % self.lb, token=self.b.project.token)[0], 404)


# ---------------------------------------------------------------------------
# Traffic
# ---------------------------------------------------------------------------

class AliyunTraffic(AliyunTestCase):
    """With 127.0.0.0/8 in network.backend_ranges, a server added through AddBackendServers receives the
    traffic sent to the load balancer's Address:ListenerPort, on the listener's BackendServerPort."""

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("ali-traffic")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")

    def backend(self, ip):
        srv = ali.TokenTCPBackend(ip)
        self.addCleanup(srv.close)
        return srv

    def lb(self, client):
        made = self.acs(client, req(CreateLoadBalancerRequest, VSwitchId=self.subnet["id"], VpcId=self.vpc["id"]))
        self.assertEqual(made["Address"], self.native.vip(made["LoadBalancerId"]))
        return made["LoadBalancerId"], ali.assert_loopback(made["Address"])

    def test_tcp_backend_receives_traffic(self):
        srv = self.backend("127.0.0.31")
        inst = self.native.instance(self.p, self.subnet, "127.0.0.31", name="ali-tcp-backend")
        client = self.classic(self.p)
        lb_id, address = self.lb(client)
        port = ali.free_port(address)
        self.acs(client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=lb_id, ListenerPort=port,
                             BackendServerPort=srv.port, Bandwidth=-1))
        self.acs(client, req(AddBackendServersRequest, LoadBalancerId=lb_id, BackendServers=servers_json(
            {"ServerId": inst["id"], "Weight": "100", "Type": "ecs"})))
        data, err = ali.tcp_exchange(address, port)
        self.assertEqual(data, srv.token, "TCP via %s:%d to 127.0.0.31:%d: last error %s"
                         % (address, port, srv.port, err))

    def test_health_status_follows_backends(self):
        """A TCP listener with a health check: DescribeHealthStatus reports the live server normal and the one
        with nothing listening on BackendServerPort abnormal (polled, bounded)."""
        srv = self.backend("127.0.0.34")
        live = self.native.instance(self.p, self.subnet, "127.0.0.34", name="ali-hc-live")
        dead = self.native.instance(self.p, self.subnet, "127.0.0.35", name="ali-hc-dead")
        client = self.classic(self.p)
        lb_id, address = self.lb(client)
        port = ali.free_port(address)
        self.acs(client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=lb_id, ListenerPort=port,
                             BackendServerPort=srv.port, Bandwidth=-1, HealthCheckSwitch="on", HealthCheckType="tcp",
                             HealthCheckConnectTimeout=1, HealthyThreshold=2, UnhealthyThreshold=2,
                             healthCheckInterval=1))
        self.acs(client, req(AddBackendServersRequest, LoadBalancerId=lb_id, BackendServers=servers_json(
            {"ServerId": live["id"]}, {"ServerId": dead["id"]})))
        want = {live["id"]: "normal", dead["id"]: "abnormal"}
        got = None
        deadline = time.monotonic() + 8
        for _ in range(40):
            rows = self.acs(client, req(DescribeHealthStatusRequest, LoadBalancerId=lb_id, ListenerPort=port))[
                "BackendServers"]["BackendServer"]
            got = {r["ServerId"]: r["ServerHealthStatus"] for r in rows}
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(got, want, "DescribeHealthStatus after up to 8 s (native group: %r)"
                         % self.native.ok("GET", "/v1/pools/%s/backends" % self.group_pool(lb_id))["backends"])


class AliyunVServerGroups(AliyunTestCase):
    """VServer groups: a port per server, the same ECS on several ports, a listener that forwards to the
    group only, all-or-nothing replacement, and no deletion while a listener uses the group."""

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("ali-vsg")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")

    def group(self, client, gid):
        body = self.acs(client, req(DescribeVServerGroupAttributeRequest, VServerGroupId=gid))
        return {(s["ServerId"], s["Port"]): s["Weight"] for s in body["BackendServers"]["BackendServer"]}

    def test_group_lifecycle_and_traffic(self):
        srv = ali.TokenTCPBackend("127.0.0.41")
        self.addCleanup(srv.close)
        inst = self.native.instance(self.p, self.subnet, "127.0.0.41", name="vsg-backend")
        other = self.native.instance(self.p, self.subnet, "127.0.0.42", name="vsg-other")
        client = self.classic(self.p)
        made = self.acs(client, req(CreateLoadBalancerRequest, VSwitchId=self.subnet["id"], VpcId=self.vpc["id"]))
        lb_id, address = made["LoadBalancerId"], ali.assert_loopback(made["Address"])
        created = self.acs(client, req(CreateVServerGroupRequest, LoadBalancerId=lb_id, VServerGroupName="web",
                                       BackendServers=servers_json({"ServerId": inst["id"], "Port": srv.port,
                                                                    "Weight": "40"})))
        gid = created["VServerGroupId"]
        # The same ECS on a second port of the group.
        self.acs(client, req(AddVServerGroupBackendServersRequest, VServerGroupId=gid,
                             BackendServers=servers_json({"ServerId": inst["id"], "Port": srv.port + 1, "Weight": 5})))
        self.assertEqual(self.group(client, gid), {(inst["id"], srv.port): 40, (inst["id"], srv.port + 1): 5})
        # A server without its Port is refused and writes nothing.
        before = self.revision()
        self.assertAcsError(lambda: client.do_action_with_exception(req(
            AddVServerGroupBackendServersRequest, VServerGroupId=gid,
            BackendServers=servers_json({"ServerId": other["id"]}))), "MissingParameter", 400, "group server without Port")
        self.assertEqual(self.revision(), before, "a refused group change was written")

        # A listener bound to the group carries traffic to the group's ports only.
        port = ali.free_port(address)
        self.acs(client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=lb_id, ListenerPort=port,
                             VServerGroupId=gid, Bandwidth=-1))
        self.acs(client, req(RemoveVServerGroupBackendServersRequest, VServerGroupId=gid,
                             BackendServers=servers_json({"ServerId": inst["id"], "Port": srv.port + 1},
                                                         {"ServerId": other["id"], "Port": 1})))
        data, err = ali.tcp_exchange(address, port)
        self.assertEqual(data, srv.token, "TCP via the VServer group listener: last error %s" % err)
        listed = self.acs(client, req(DescribeVServerGroupsRequest, LoadBalancerId=lb_id))["VServerGroups"]["VServerGroup"]
        self.assertEqual([(g["VServerGroupId"], g["AssociatedObjects"]["Listeners"]["Listener"][0]["Port"])
                          for g in listed], [(gid, port)])

        # Weights and name; then an all-or-nothing replacement.
        self.acs(client, req(SetVServerGroupAttributeRequest, VServerGroupId=gid, VServerGroupName="web2",
                             BackendServers=servers_json({"ServerId": inst["id"], "Port": srv.port, "Weight": 70})))
        self.assertEqual(self.group(client, gid), {(inst["id"], srv.port): 70})
        before = self.revision()
        self.assertAcsError(lambda: client.do_action_with_exception(req(
            ModifyVServerGroupBackendServersRequest, VServerGroupId=gid,
            OldBackendServers=servers_json({"ServerId": inst["id"], "Port": srv.port},
                                           {"ServerId": other["id"], "Port": 9}),
            NewBackendServers=servers_json({"ServerId": other["id"], "Port": 9000},
                                           {"ServerId": other["id"], "Port": 9001}))),
            "BackendServer.NotExist", 404, "replacing a server the group lacks")
        self.assertEqual(self.revision(), before, "a refused replacement was half-written")
        self.acs(client, req(ModifyVServerGroupBackendServersRequest, VServerGroupId=gid,
                             OldBackendServers=servers_json({"ServerId": inst["id"], "Port": srv.port}),
                             NewBackendServers=servers_json({"ServerId": other["id"], "Port": 9000, "Weight": 3})))
        self.assertEqual(self.group(client, gid), {(other["id"], 9000): 3})

        # In use: refused; after the listener goes, deleted.
        self.assertAcsError(lambda: client.do_action_with_exception(req(DeleteVServerGroupRequest, VServerGroupId=gid)),
                            "OperationFailed.Conflict", 400, "deleting a group a listener uses", message_re="in use")
        self.acs(client, req(DeleteLoadBalancerListenerRequest, LoadBalancerId=lb_id, ListenerPort=port))
        self.acs(client, req(DeleteVServerGroupRequest, VServerGroupId=gid))
        self.assertAcsError(lambda: client.do_action_with_exception(req(
            DescribeVServerGroupAttributeRequest, VServerGroupId=gid)), "InvalidVServerGroupId.NotFound", 404,
            "a deleted group")


if __name__ == "__main__":
    unittest.main()


class AliyunServerCertificates(AliyunTestCase):
    """UploadServerCertificate, DescribeServerCertificates, DeleteServerCertificate (issue 15)
    over Weir's certificates: the key is checked against the certificate, sealed at rest and
    never answered."""

    @classmethod
    def bootstrap(cls):
        cls.w = World(cls.native, "alc", 10, 20, vms=0)
        cls.other = World(cls.native, "alc-b", 10, 30, vms=0)


    def test_upload_describe_delete(self):
        client = self.classic(self.w.project)
        cert, key = self_signed_pem("shop.example.test", "P-384", "TraditionalOpenSSL")
        made = self.acs(client, req(UploadServerCertificateRequest, ServerCertificate=cert, PrivateKey=key,
                                    ServerCertificateName="shop"))
        cid = made["ServerCertificateId"]
        self.assertEqual((made["ServerCertificateName"], made["CommonName"]), ("shop", "shop.example.test"))
        self.assertEqual(made["SubjectAlternativeNames"]["SubjectAlternativeName"], ["shop.example.test"])
        self.assertNotIn("PrivateKey", json.dumps(made))
        listed = self.acs(client, req(DescribeServerCertificatesRequest))
        ids = [c["ServerCertificateId"] for c in listed["ServerCertificates"]["ServerCertificate"]]
        self.assertEqual(ids, [cid])
        one = self.acs(client, req(DescribeServerCertificatesRequest, ServerCertificateId=cid))
        self.assertEqual(len(one["ServerCertificates"]["ServerCertificate"]), 1)
        # Another project's client sees nothing of it and cannot delete it.
        other = self.classic(self.other.project)
        none = self.acs(other, req(DescribeServerCertificatesRequest, ServerCertificateId=cid))
        self.assertEqual(none["ServerCertificates"]["ServerCertificate"], [])
        self.assertAcsError(lambda: other.do_action_with_exception(req(DeleteServerCertificateRequest,
                                                                       ServerCertificateId=cid)),
                            "ServerCertificateId.NotFound", 404, "another project's delete")
        self.acs(client, req(DeleteServerCertificateRequest, ServerCertificateId=cid))
        listed = self.acs(client, req(DescribeServerCertificatesRequest))
        self.assertEqual(listed["ServerCertificates"]["ServerCertificate"], [])

    def test_refusals_store_nothing(self):
        client = self.classic(self.w.project)
        cert, key = self_signed_pem("a.example.test", "P-384", "TraditionalOpenSSL")
        _, other_key = self_signed_pem("b.example.test", "P-384", "TraditionalOpenSSL")
        for what, params, code, message in (
            ("another certificate's key", dict(ServerCertificate=cert, PrivateKey=other_key),
             "InvalidParameter", "private_key"),
            ("not PEM", dict(ServerCertificate="hello", PrivateKey=key), "InvalidParameter", "certificate"),
            ("a certificate of Alibaba's certificate service",
             dict(AliCloudCertificateId="123", AliCloudCertificateName="x"), "UnsupportedOperation",
             "AliCloudCertificate"),
            ("tags, which are not kept", dict(ServerCertificate=cert, PrivateKey=key,
                                              Tags=[{"Key": "env", "Value": "prod"}]),
             "UnsupportedOperation", "Tag"),
        ):
            self.assertAcsError(lambda: client.do_action_with_exception(req(UploadServerCertificateRequest,
                                                                            **params)),
                                code, 400, what, message_re=message)
        self.assertAcsError(lambda: client.do_action_with_exception(req(UploadServerCertificateRequest,
                                                                        PrivateKey=key)),
                            "MissingParameter", 400, "no certificate")
        listed = self.acs(client, req(DescribeServerCertificatesRequest))
        self.assertEqual(listed["ServerCertificates"]["ServerCertificate"], [])

