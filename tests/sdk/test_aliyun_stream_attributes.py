"""Alibaba Cloud SLB TCP and UDP listener attributes through aliyun-python-sdk-slb against a real
`weir serve`: DescribeLoadBalancerTCPListenerAttribute, SetLoadBalancerTCPListenerAttribute and the UDP
pair. Every parameter of the Set actions is honoured (read back by Describe and by the native view) or
refused with SLB's code, writing nothing; traffic shows a changed access control list at the next
connection; another project's load balancer is not found.

Every address is in 127.0.0.0/8; every wait is bounded.
"""

import json

from aliyunsdkslb.request.v20140515 import (
    AddAccessControlListEntryRequest,
    AddBackendServersRequest,
    CreateAccessControlListRequest,
    CreateLoadBalancerRequest,
    CreateLoadBalancerTCPListenerRequest,
    CreateLoadBalancerUDPListenerRequest,
    DescribeLoadBalancerTCPListenerAttributeRequest,
    DescribeLoadBalancerUDPListenerAttributeRequest,
    SetLoadBalancerTCPListenerAttributeRequest,
    SetLoadBalancerUDPListenerAttributeRequest,
)

from tests.sdk import aliyun_support as ali
from tests.sdk.aliyun_support import AliyunTestCase, servers_json
from tests.sdk.test_aliyun import req
from tests.sdk.test_aliyun_acls import exchange_from, served_from

LISTED = "127.0.0.92"
OTHER = "127.0.0.93"


class AliyunStreamAttributes(AliyunTestCase):

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("ali-stream")
        cls.other = cls.native.project("ali-stream-other")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")

    def setUp(self):
        self.client = self.classic(self.p)

    def lb(self):
        made = self.acs(self.client, req(CreateLoadBalancerRequest, VSwitchId=self.subnet["id"],
                                         VpcId=self.vpc["id"]))
        return made["LoadBalancerId"], ali.assert_loopback(made["Address"])

    def tcp_attribute(self, lb_id, port):
        return self.acs(self.client, req(DescribeLoadBalancerTCPListenerAttributeRequest, LoadBalancerId=lb_id,
                                         ListenerPort=port))

    def test_tcp_attributes_are_honoured_and_read_back(self):
        srv = ali.TokenTCPBackend("127.0.0.91")
        self.addCleanup(srv.close)
        inst = self.native.instance(self.p, self.subnet, "127.0.0.91", name="stream-backend")
        lb_id, address = self.lb()
        self.acs(self.client, req(AddBackendServersRequest, LoadBalancerId=lb_id, BackendServers=servers_json(
            {"ServerId": inst["id"], "Weight": "100"})))
        port = ali.free_port(address)
        self.acs(self.client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=lb_id, ListenerPort=port,
                                  BackendServerPort=srv.port, Bandwidth=-1, Description="before"))
        before = self.tcp_attribute(lb_id, port)
        self.assertEqual((before["ListenerPort"], before["BackendServerPort"], before["Description"],
                          before["Scheduler"], before["AclStatus"], before["Status"], before["Bandwidth"]),
                         (port, srv.port, "before", "wrr", "off", "running", -1))
        self.assertEqual(served_from(OTHER, address, port), srv.token)

        acl_id = self.acs(self.client, req(CreateAccessControlListRequest, AclName="stream"))["AclId"]
        self.acs(self.client, req(AddAccessControlListEntryRequest, AclId=acl_id,
                                  AclEntrys=json.dumps([{"entry": LISTED + "/32", "comment": ""}])))
        self.acs(self.client, req(SetLoadBalancerTCPListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port,
                                  Description="after", Scheduler="wlc", EstablishedTimeout=60,
                                  ConnectionDrain="on", ConnectionDrainTimeout=30, HealthCheckSwitch="on",
                                  HealthCheckInterval=3, HealthyThreshold=3, UnhealthyThreshold=4,
                                  AclStatus="on", AclType="white", AclId=acl_id, Bandwidth=-1,
                                  PersistenceTimeout=0, SynProxy="disable"))
        after = self.tcp_attribute(lb_id, port)
        self.assertEqual((after["Description"], after["Scheduler"], after["EstablishedTimeout"],
                          after["ConnectionDrain"], after["ConnectionDrainTimeout"], after["HealthCheck"],
                          after["HealthCheckInterval"], after["HealthyThreshold"], after["UnhealthyThreshold"],
                          after["AclStatus"], after["AclType"], after["AclId"]),
                         ("after", "wlc", 60, "on", 30, "on", 3, 3, 4, "on", "white", acl_id))
        native = self.native.listener(self.listener_id(lb_id, port))
        self.assertEqual((native["scheduler"], native["idle_timeout_ms"]), ("lc", 60000))
        # The list applies to the next connection.
        self.assertEqual(served_from(LISTED, address, port), srv.token, "a listed client")
        self.assertIsNone(exchange_from(OTHER, address, port), "a client outside the white list was served")
        self.acs(self.client, req(SetLoadBalancerTCPListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port,
                                  AclStatus="off"))
        self.assertEqual(served_from(OTHER, address, port), srv.token, "the list removed")

    def listener_id(self, lb_id, port):
        listed = self.native.ok("GET", "/v1/loadbalancers/%s/listeners" % lb_id)
        items = listed["listeners"] if isinstance(listed, dict) else listed
        return next(x["id"] for x in items if x.get("port") == port)

    def test_refused_parameters_write_nothing(self):
        lb_id, address = self.lb()
        port = ali.free_port(address)
        self.acs(self.client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=lb_id, ListenerPort=port,
                                  BackendServerPort=9, Bandwidth=-1, Description="kept"))
        before = self.tcp_attribute(lb_id, port)
        for extra, code in (({"Bandwidth": 10}, "UnsupportedOperation"),
                            ({"PersistenceTimeout": 30}, "UnsupportedOperation"),
                            ({"SynProxy": "enable"}, "UnsupportedOperation"),
                            ({"MasterSlaveServerGroup": "on"}, "UnsupportedOperation"),
                            ({"EstablishedTimeout": 5}, "InvalidParameter"),
                            ({"ConnectionDrain": "on"}, "MissingParameter"),
                            ({"ConnectionDrainTimeout": 9999, "ConnectionDrain": "on"}, "InvalidParameter"),
                            ({"Scheduler": "random"}, "InvalidParameter"),
                            ({"AclStatus": "on", "AclType": "white", "AclId": "acl-missing"}, "AclNotExist")):
            with self.subTest(**{k: str(v) for k, v in extra.items()}):
                status = 404 if code == "AclNotExist" else 400
                self.assertAcsError(lambda: self.client.do_action_with_exception(req(
                    SetLoadBalancerTCPListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port,
                    Description="changed", **extra)), code, status, "Set %r" % extra)
        without_id = lambda d: {k: v for k, v in d.items() if k != "RequestId"}  # noqa: E731
        self.assertEqual(without_id(self.tcp_attribute(lb_id, port)), without_id(before),
                         "a refused Set changed the listener")
        # The other protocol's action on this port, and another project's load balancer, are not found.
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            DescribeLoadBalancerUDPListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port)),
            "InvalidListener.NotFound", 404, "the UDP attribute of a TCP listener")
        self.assertAcsError(lambda: self.classic(self.other).do_action_with_exception(req(
            DescribeLoadBalancerTCPListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port)),
            "InvalidLoadBalancerId.NotFound", 404, "another project's load balancer")
        self.assertAcsError(lambda: self.classic(self.other).do_action_with_exception(req(
            SetLoadBalancerTCPListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port,
            Description="theirs")), "InvalidLoadBalancerId.NotFound", 404, "changing another project's listener")
        self.assertEqual(self.tcp_attribute(lb_id, port)["Description"], "kept")

    def test_udp_attributes_with_a_payload_check(self):
        lb_id, address = self.lb()
        port = ali.free_port(address)
        self.acs(self.client, req(CreateLoadBalancerUDPListenerRequest, LoadBalancerId=lb_id, ListenerPort=port,
                                  BackendServerPort=5353, Bandwidth=-1))
        describe = lambda: self.acs(self.client, req(  # noqa: E731
            DescribeLoadBalancerUDPListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port))
        self.assertEqual(describe()["HealthCheck"], "off")
        self.acs(self.client, req(SetLoadBalancerUDPListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port,
                                  HealthCheckSwitch="on", healthCheckReq="hello", healthCheckExp="world",
                                  HealthCheckInterval=2, Description="udp"))
        got = describe()
        self.assertEqual((got["HealthCheck"], got["HealthCheckReq"], got["HealthCheckExp"], got["Description"]),
                         ("on", "hello", "world", "udp"))
        self.assertNotIn("EstablishedTimeout", got)
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            SetLoadBalancerUDPListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port,
            healthCheckReq="no spaces")), "InvalidParameter", 400, "a request string with a space")
        request = req(SetLoadBalancerUDPListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port)
        request.add_query_param("EstablishedTimeout", "60")
        self.assertAcsError(lambda: self.client.do_action_with_exception(request), "InvalidParameter", 400,
                            "EstablishedTimeout on a UDP listener")
        self.assertEqual(describe()["HealthCheckReq"], "hello")
        self.acs(self.client, req(SetLoadBalancerUDPListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port,
                                  HealthCheckSwitch="off"))
        self.assertEqual(describe()["HealthCheck"], "off")

    def test_create_takes_the_same_parameters(self):
        lb_id, address = self.lb()
        port = ali.free_port(address)
        for extra, code in (({"Bandwidth": 10}, "UnsupportedOperation"),
                            ({"PersistenceTimeout": 30}, "UnsupportedOperation"),
                            ({"MasterSlaveServerGroupId": "rsp-1"}, "UnsupportedOperation"),
                            ({"EstablishedTimeout": 1000}, "InvalidParameter")):
            with self.subTest(**{k: str(v) for k, v in extra.items()}):
                self.assertAcsError(lambda: self.client.do_action_with_exception(req(
                    CreateLoadBalancerTCPListenerRequest, LoadBalancerId=lb_id, ListenerPort=port,
                    BackendServerPort=9, **extra)), code, 400, "Create %r" % extra)
        self.acs(self.client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=lb_id, ListenerPort=port,
                                  BackendServerPort=9, Bandwidth=-1, EstablishedTimeout=120,
                                  ProxyProtocolV2Enabled="true", ConnectionDrain="on", ConnectionDrainTimeout=20))
        got = self.tcp_attribute(lb_id, port)
        self.assertEqual((got["EstablishedTimeout"], got["ProxyProtocolV2Enabled"], got["ConnectionDrain"],
                          got["ConnectionDrainTimeout"]), (120, True, "on", 20))
        self.assertEqual(self.native.listener(self.listener_id(lb_id, port))["proxy_protocol"], "v2")
