"""UDP payload health checks through the official SDKs against a real `weir serve`: UCloud's
RequestMsg/ResponseMsg (CreateVServer of a UDP VServer, MonitorType Port) and Aliyun's
HealthCheckReq/HealthCheckExp (CreateLoadBalancerUDPListener). Real UDP backends on loopback: one
answers the check's request with the expected text and is reported healthy, one answers something
else and is reported unhealthy. Hostile or misplaced values are refused with each dialect's error and
write nothing.

Every address is in 127.0.0.0/8; every wait is bounded.
"""

import socket
import threading
import time

from aliyunsdkslb.request.v20140515 import (
    AddBackendServersRequest,
    CreateLoadBalancerRequest,
    CreateLoadBalancerTCPListenerRequest,
    CreateLoadBalancerUDPListenerRequest,
    DescribeHealthStatusRequest,
    DescribeLoadBalancerAttributeRequest,
)

from tests.sdk import aliyun_support as ali
from tests.sdk import harness as h
from tests.sdk.aliyun_support import AliyunTestCase, servers_json
from tests.sdk.test_aliyun import req

WAIT_S = 20.0


class UdpAnswerer:
    """A UDP server on host:port answering `request` with `answer` (and anything else with
    nothing)."""

    def __init__(self, host, port, request, answer):
        h.assert_loopback(host)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.request, self.answer = request, answer
        self.stopped = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(2048)
            except OSError:
                continue
            if data == self.request:
                self.sock.sendto(self.answer, peer)

    def close(self):
        self.stopped = True
        self.thread.join(timeout=2)
        self.sock.close()


def shared_udp_port(hosts):
    """A UDP port free on every one of `hosts` (the default server group dials every server on one
    port)."""
    for _ in range(50):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((hosts[0], 0))
        port = probe.getsockname()[1]
        probe.close()
        ok = True
        for host in hosts:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((host, port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port
    raise AssertionError("no UDP port free on %r" % (hosts,))


def wait_for(what, fetch, done):
    """Polls `fetch` until `done(value)`, bounded; returns the last value."""
    end = time.monotonic() + WAIT_S
    value = fetch()
    while not done(value) and time.monotonic() < end:
        time.sleep(0.2)
        value = fetch()
    if not done(value):
        raise AssertionError("%s: still %r after %.0f s" % (what, value, WAIT_S))
    return value


class UCloudUdpChecks(h.WeirTestCase):

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("uc-udpcheck")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")

    def test_request_and_response_messages_decide_health(self):
        right = UdpAnswerer("127.0.0.83", 0, b"ping", b"pong\n")
        wrong = UdpAnswerer("127.0.0.84", 0, b"ping", b"pang")
        self.addCleanup(right.close)
        self.addCleanup(wrong.close)
        ulb = self.ulb(self.p)
        ulb_id = self.uc_ulb(ulb, self.vpc, self.subnet)
        vs = self.uc_vserver(ulb, ulb_id, port=h.free_port("127.0.0.1"), protocol="UDP", MonitorType="Port",
                             RequestMsg="ping", ResponseMsg="pong")
        info = self.uc_vserver_info(ulb, ulb_id, vs)
        self.assertEqual((info["MonitorType"], info["RequestMsg"], info["ResponseMsg"]), ("Port", "ping", "pong"))
        for host, srv in (("127.0.0.83", right), ("127.0.0.84", wrong)):
            self.step("AllocateBackend", lambda host=host, srv=srv: ulb.allocate_backend(
                {"ULBId": ulb_id, "VServerId": vs, "ResourceType": "IP", "ResourceIP": host,
                 "VPCId": self.vpc["id"], "SubnetId": self.subnet["id"], "Port": srv.port}))
        statuses = lambda: {b["PrivateIP"]: b["Status"] for b in self.uc_backends(ulb, ulb_id, vs)}  # noqa: E731
        seen = wait_for("backend statuses", statuses,
                        lambda s: s.get("127.0.0.83") == 0 and s.get("127.0.0.84") == 1)
        self.assertEqual(seen, {"127.0.0.83": 0, "127.0.0.84": 1})
        self.assertEqual(self.native.pool(self.native.listener(vs)["default_pool_id"])["health_check"]["send"],
                         "ping")

    def test_misplaced_or_hostile_messages_are_refused(self):
        ulb = self.ulb(self.p)
        ulb_id = self.uc_ulb(ulb, self.vpc, self.subnet)
        count = lambda: self.step("DescribeVServer", lambda: ulb.describe_vserver(  # noqa: E731
            {"ULBId": ulb_id})).get("TotalCount")
        before = count()
        base = {"ULBId": ulb_id, "Protocol": "UDP", "FrontendPort": 18777, "MonitorType": "Port"}
        for bad in ({"Protocol": "TCP", "RequestMsg": "ping"},
                    {"MonitorType": "Ping", "RequestMsg": "ping"},
                    {"ResponseMsg": "pong"},
                    {"RequestMsg": "x" * 513},
                    {"RequestMsg": "line\nbreak"}):
            with self.subTest(**{k: v[:20] for k, v in bad.items()}):
                request = dict(base)
                request.update(bad)
                self.assertUcError(lambda: ulb.create_vserver(request), 230, "CreateVServer %r" % sorted(bad))
        self.assertEqual(count(), before, "a refused CreateVServer wrote a VServer")
        vs = self.uc_vserver(ulb, ulb_id, port=18778, protocol="UDP", MonitorType="Port", RequestMsg="ping")
        self.assertUcError(lambda: ulb.update_vserver_attribute(
            {"ULBId": ulb_id, "VServerId": vs, "RequestMsg": "other"}), 230, "UpdateVServerAttribute RequestMsg")
        self.assertEqual(self.uc_vserver_info(ulb, ulb_id, vs)["RequestMsg"], "ping")


class AliyunUdpChecks(AliyunTestCase):

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("ali-udpcheck")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")

    def setUp(self):
        self.client = self.classic(self.p)

    def lb(self):
        made = self.acs(self.client, req(CreateLoadBalancerRequest, VSwitchId=self.subnet["id"],
                                         VpcId=self.vpc["id"]))
        return made["LoadBalancerId"], ali.assert_loopback(made["Address"])

    def test_request_and_expected_strings_decide_health(self):
        port = shared_udp_port(["127.0.0.85", "127.0.0.86"])
        right = UdpAnswerer("127.0.0.85", port, b"ping", b"pong")
        wrong = UdpAnswerer("127.0.0.86", port, b"ping", b"pongpong")
        self.addCleanup(right.close)
        self.addCleanup(wrong.close)
        good = self.native.instance(self.p, self.subnet, "127.0.0.85", name="udp-right")
        bad = self.native.instance(self.p, self.subnet, "127.0.0.86", name="udp-wrong")
        lb_id, address = self.lb()
        self.acs(self.client, req(AddBackendServersRequest, LoadBalancerId=lb_id, BackendServers=servers_json(
            {"ServerId": good["id"], "Weight": "100"}, {"ServerId": bad["id"], "Weight": "100"})))
        listen = h.free_port(address)
        self.acs(self.client, req(CreateLoadBalancerUDPListenerRequest, LoadBalancerId=lb_id, ListenerPort=listen,
                                  BackendServerPort=port, Bandwidth=-1, HealthCheckSwitch="on",
                                  healthCheckReq="ping", healthCheckExp="pong", healthCheckInterval=1,
                                  HealthyThreshold=2, UnhealthyThreshold=2, HealthCheckConnectTimeout=1))

        def statuses():
            got = self.acs(self.client, req(DescribeHealthStatusRequest, LoadBalancerId=lb_id, ListenerPort=listen))
            return {s["ServerId"]: s["ServerHealthStatus"] for s in got["BackendServers"]["BackendServer"]}

        seen = wait_for("server health", statuses,
                        lambda s: s.get(good["id"]) == "normal" and s.get(bad["id"]) == "abnormal")
        self.assertEqual(seen, {good["id"]: "normal", bad["id"]: "abnormal"})

    def test_misplaced_or_hostile_strings_are_refused(self):
        lb_id, address = self.lb()
        listen = h.free_port(address)
        for request_class, extra, what in (
                (CreateLoadBalancerTCPListenerRequest, {"HealthCheckReq": "ping"}, "on a TCP listener"),
                (CreateLoadBalancerUDPListenerRequest, {"healthCheckReq": "pi ng"}, "not letters and digits"),
                (CreateLoadBalancerUDPListenerRequest, {"healthCheckReq": "p" * 65}, "longer than 64"),
                (CreateLoadBalancerUDPListenerRequest, {"healthCheckExp": "pong"}, "an answer without a request")):
            with self.subTest(what=what):
                request = req(request_class, LoadBalancerId=lb_id, ListenerPort=listen, BackendServerPort=9,
                              Bandwidth=-1, HealthCheckSwitch="on")
                # The TCP request has no setter for it: sent as a hostile client would.
                for name, value in extra.items():
                    request.add_query_param(name, value)
                self.assertAcsError(lambda: self.client.do_action_with_exception(request),
                                    "InvalidParameter", 400, what)
        attribute = self.acs(self.client, req(DescribeLoadBalancerAttributeRequest, LoadBalancerId=lb_id))
        self.assertEqual(attribute["ListenerPorts"]["ListenerPort"], [], "a refused listener was written")
