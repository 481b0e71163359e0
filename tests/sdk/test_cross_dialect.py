"""One registry behind every dialect: what one SDK writes, the others (and the native API) read;
tenants stay apart; and a backend registered through an SDK receives traffic."""

import secrets
import time
import unittest

from . import harness as h
from .harness import bmc_models as BM
from .harness import model
from .harness import zlb_models as ZM
from .test_ucloud import CODES as UC


class CrossDialect(h.WeirTestCase):

    @classmethod
    def bootstrap(cls):
        cls.a = h.World(cls.native, "xa", 10, 0, vms=6)
        cls.b = h.World(cls.native, "xb", 172, 16, vms=1)

    def setUp(self):
        self.zlb_a, self.bmc_a, self.ulb_a = self.zlb(self.a.project), self.bmc(self.a.project), self.ulb(self.a.project)
        self.lb = self.zlb_lb(self.zlb_a, self.a.vpc, self.a.subnet)
        self.lsn = self.zlb_listener(self.zlb_a, self.lb, port="18080", protocol="TCP")

    def views(self):
        """{address: (port, weight, instance_id)} as ZLB, BMC, UCloud and native see the listener."""
        zlb = {b.privateIpAddress: (b.backendPort, b.weight, b.instanceId or None)
               for b in self.zlb_backends(self.zlb_a, self.lb, self.lsn)}
        ips = {i["id"]: i["private_ip"] for i in self.a.vms + [self.a.bm]}
        bmc = {}
        for b in self.bmc_backends(self.bmc_a, self.lsn).dataSet:
            ports = h.ports_of(b.port) or [None]
            bmc[ips.get(b.instanceId, b.instanceId)] = (ports[0], b.weight, b.instanceId or None)
        uc = {b.get("PrivateIP"): (b.get("Port"), b.get("Weight"), b.get("ResourceId") or None)
              for b in self.uc_backends(self.ulb_a, self.lb, self.lsn)}
        native = {b["address"]: (b["port"], b["weight"], b.get("instance_id"))
                  for b in self.native.listener_backends(self.lsn)}
        return {"zlb": zlb, "bmc": bmc, "ucloud": uc, "native": native}

    def assertSameEverywhere(self, expected, what):
        views = self.views()
        for name, view in views.items():
            self.assertEqual(view, expected, "%s: the %s view differs (all views: %r)" % (what, name, views))

    def test_ids_are_shared(self):
        """The ZLB loadBalancerId / listenerId are the BMC ids, UCloud's ULBId / VServerId and the native ids."""
        d = self.step("BMC DescribeLoadBalancers", lambda: self.bmc_a.DescribeLoadBalancers(
            model(BM.DescribeLoadBalancersRequest, loadBalancerIds=[self.lb])))
        self.assertEqual([x.loadBalancerId for x in d.dataSet], [self.lb])
        d = self.step("BMC DescribeListeners", lambda: self.bmc_a.DescribeListeners(
            model(BM.DescribeListenersRequest, listenerIds=[self.lsn])))
        self.assertEqual([x.listenerId for x in d.dataSet], [self.lsn])
        self.assertEqual(self.uc_vserver_info(self.ulb_a, self.lb, self.lsn).get("FrontendPort"), 18080)
        self.assertEqual(self.native.listener(self.lsn)["load_balancer_id"], self.lb)
        ulb_id = self.uc_ulb(self.ulb_a, self.a.vpc, self.a.subnet, name="from-ucloud")
        z = self.step("ZLB DescribeLoadBalancers", lambda: self.zlb_a.DescribeLoadBalancers(
            model(ZM.DescribeLoadBalancersRequest, loadBalancerIds=[ulb_id])))
        self.assertEqual([(x.loadBalancerId, x.loadBalancerName) for x in z.dataSet], [(ulb_id, "from-ucloud")])

    def test_zlb_registration_seen_everywhere(self):
        """ZLB RegisterBackend -> BMC DescribeBackends, UCloud DescribeVServer, native list: same address,
        port and weight."""
        vm = self.a.vms[0]
        self.zlb_register(self.zlb_a, self.lb, self.lsn, [{"instanceId": vm["id"], "port": 8080, "weight": 33}])
        self.assertSameEverywhere({vm["private_ip"]: (8080, 33, vm["id"])}, "after ZLB RegisterBackend")

    def test_ucloud_registration_seen_everywhere(self):
        """UCloud AllocateBackend -> ZLB, BMC and native see it."""
        vm = self.a.vms[1]
        resp = self.step("UCloud AllocateBackend", lambda: self.ulb_a.allocate_backend({
            "ULBId": self.lb, "VServerId": self.lsn, "ResourceType": "UHost", "ResourceId": vm["id"],
            "Port": 8081, "Weight": 44}))
        self.assertSameEverywhere({vm["private_ip"]: (8081, 44, vm["id"])}, "after UCloud AllocateBackend")
        self.assertEqual([b["id"] for b in self.native.listener_backends(self.lsn)], [resp["BackendId"]])

    def test_bmc_registration_seen_everywhere(self):
        """BMC RegisterBackend -> ZLB, UCloud and native see it."""
        vm = self.a.vms[2]
        bid = self.bmc_register(self.bmc_a, self.lsn, vm["id"], instanceType="VM", portList=[8082], weight=55)
        self.assertSameEverywhere({vm["private_ip"]: (8082, 55, vm["id"])}, "after BMC RegisterBackend")
        self.assertEqual([b["id"] for b in self.native.listener_backends(self.lsn)], [bid])

    def test_native_registration_seen_everywhere(self):
        """Native POST /v1/listeners/{id}/backends -> every dialect sees it."""
        vm = self.a.vms[3]
        self.native.ok("POST", "/v1/listeners/%s/backends" % self.lsn, {
            "backends": [{"instance_id": vm["id"], "port": 8083, "weight": 66}]}, token=self.a.project.token)
        self.assertSameEverywhere({vm["private_ip"]: (8083, 66, vm["id"])}, "after native register")

    def test_changes_cross_dialects(self):
        """Weight changed by UCloud, then by BMC (2022 ModifyBackendWeight), then by ZLB ModifyBackend; removed by
        BMC DeregisterBackend: every view follows each step."""
        vm = self.a.vms[4]
        self.zlb_register(self.zlb_a, self.lb, self.lsn, [{"instanceId": vm["id"], "port": 8084, "weight": 10}])
        (n,) = self.native.listener_backends(self.lsn)
        bid = n["id"]
        self.step("UCloud UpdateBackendAttribute", lambda: self.ulb_a.update_backend_attribute({
            "ULBId": self.lb, "BackendId": bid, "Weight": 20}))
        self.assertSameEverywhere({vm["private_ip"]: (8084, 20, vm["id"])}, "after UCloud UpdateBackendAttribute")
        self.step("BMC 2022 ModifyBackendWeight", lambda: self.bmc2022(self.a.project).ModifyBackendWeight(
            model(h.bmc2022_models.ModifyBackendWeightRequest, backendId=bid, weight=30)))
        self.assertSameEverywhere({vm["private_ip"]: (8084, 30, vm["id"])}, "after BMC ModifyBackendWeight")
        self.step("ZLB ModifyBackend", lambda: self.zlb_a.ModifyBackend(model(
            ZM.ModifyBackendRequest, loadBalancerId=self.lb, listenerId=self.lsn,
            backendServers=[{"instanceId": vm["id"], "weight": 40}])))
        self.assertSameEverywhere({vm["private_ip"]: (8084, 40, vm["id"])}, "after ZLB ModifyBackend")
        self.step("BMC DeregisterBackend", lambda: self.bmc_a.DeregisterBackend(
            model(BM.DeregisterBackendRequest, backendId=bid)))
        self.assertSameEverywhere({}, "after BMC DeregisterBackend")

    def test_duplicate_across_dialects(self):
        """A backend registered by one dialect is a duplicate for the others."""
        vm = self.a.vms[5]
        self.zlb_register(self.zlb_a, self.lb, self.lsn, [{"instanceId": vm["id"], "port": 8085}])
        self.assertUcError(lambda: self.ulb_a.allocate_backend({
            "ULBId": self.lb, "VServerId": self.lsn, "ResourceType": "UHost", "ResourceId": vm["id"], "Port": 8085}),
            UC["BACKEND_EXISTS"], "UCloud AllocateBackend of a ZLB-registered instance")
        req = model(BM.RegisterBackendRequest, listenerId=self.lsn, backendName="dup", instanceId=vm["id"],
                    instanceType="VM", clientToken="tok-" + secrets.token_hex(6), portList=[8085], weight=5)
        self.assertZcError(lambda: self.bmc_a.RegisterBackend(req), "INVALID_BACKEND_INSTANCE_LISTENER_EXIST", 409,
                           "BMC RegisterBackend of a ZLB-registered instance")
        self.assertEqual(len(self.native.listener_backends(self.lsn)), 1)

    def test_tenancy(self):
        """Project B's SDKs never see project A's LBs, and cannot register on A's listener."""
        zlb_b, bmc_b, ulb_b = self.zlb(self.b.project), self.bmc(self.b.project), self.ulb(self.b.project)
        d = self.step("ZLB DescribeLoadBalancers as B", lambda: zlb_b.DescribeLoadBalancers(
            model(ZM.DescribeLoadBalancersRequest)))
        self.assertEqual((d.totalCount, d.dataSet), (0, []))
        d = self.step("ZLB DescribeLoadBalancers as B, A's id", lambda: zlb_b.DescribeLoadBalancers(
            model(ZM.DescribeLoadBalancersRequest, loadBalancerIds=[self.lb])))
        self.assertEqual((d.totalCount, d.dataSet), (0, []))
        d = self.step("BMC DescribeLoadBalancers as B", lambda: bmc_b.DescribeLoadBalancers(
            model(BM.DescribeLoadBalancersRequest, loadBalancerIds=[self.lb])))
        self.assertEqual((d.totalCount, d.dataSet or []), (0, []))
        d = self.step("BMC DescribeListeners as B", lambda: bmc_b.DescribeListeners(
            model(BM.DescribeListenersRequest, listenerIds=[self.lsn])))
        self.assertEqual(d.dataSet or [], [])
        d = self.step("UCloud DescribeULB as B", lambda: ulb_b.describe_ulb({}))
        self.assertEqual((d.get("TotalCount"), d.get("DataSet")), (0, []))
        try:
            d = ulb_b.describe_ulb({"ULBId": self.lb})
            self.assertEqual(d.get("DataSet"), [], "UCloud DescribeULB as B with A's ULBId listed it")
        except h.RetCodeException as e:
            self.assertEqual(e.code, UC["ULB_NOT_FOUND"], "UCloud DescribeULB as B with A's ULBId")

        vm_b = self.b.vms[0]
        req = model(ZM.RegisterBackendRequest, loadBalancerId=self.lb, listenerId=self.lsn,
                    backendServers=[{"instanceId": vm_b["id"], "port": 80}])
        with h.observe_http() as seen:
            try:
                zlb_b.RegisterBackend(req)
                self.fail("ZLB RegisterBackend as B on A's listener succeeded")
            except h.ZenlayerCloudSdkException as e:
                self.assertIn(e.code, ("INVALID_LB_NOT_FOUND", "INVALID_LB_LISTENER_NOT_FOUND"),
                              "ZLB RegisterBackend as B on A's listener: %s %s" % (e.code, e.message))
        self.assertEqual([r.status_code for r in seen], [404])
        req = model(BM.RegisterBackendRequest, listenerId=self.lsn, backendName="x", instanceId=self.b.bm["id"],
                    clientToken="tok-" + secrets.token_hex(6), portList=[80], weight=5)
        self.assertZcError(lambda: bmc_b.RegisterBackend(req), "INVALID_LB_LISTENER_NOT_FOUND", 404,
                           "BMC RegisterBackend as B on A's listener")
        try:
            ulb_b.allocate_backend({"ULBId": self.lb, "VServerId": self.lsn, "ResourceType": "UHost",
                                    "ResourceId": vm_b["id"]})
            self.fail("UCloud AllocateBackend as B on A's VServer succeeded")
        except h.RetCodeException as e:
            self.assertIn(e.code, (UC["ULB_NOT_FOUND"], UC["VSERVER_NOT_FOUND"]),
                          "UCloud AllocateBackend as B on A's VServer: %s %s" % (e.code, e.message))
        self.assertEqual(self.native.listener_backends(self.lsn), [], "B's refused calls wrote to A's listener")
        # the native API agrees: B's token does not reach A's load balancer
        self.assertEqual(self.native.call("GET", "/v1/loadbalancers/%s" % self.lb, token=self.b.project.token)[0], 404)


class Traffic(h.WeirTestCase):
    """With 127.0.0.0/8 in network.backend_ranges, a backend registered through an SDK receives traffic
    sent to the listener's VIP:port (VIP from native GET /v1/loadbalancers/{id})."""

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("traffic")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")

    def backend(self, cls_, ip):
        srv = cls_(ip)
        self.addCleanup(srv.close)
        return srv

    def test_zlb_tcp_backend_receives_traffic(self):
        """ZLB CreateLoadBalancer + TCP CreateListener + RegisterBackend(instanceId, port) -> bytes flow."""
        srv = self.backend(h.TokenTCPBackend, "127.0.0.21")
        inst = self.native.instance(self.p, self.subnet, "127.0.0.21", name="tcp-backend")
        client = self.zlb(self.p)
        lb = self.zlb_lb(client, self.vpc, self.subnet)
        vip = self.native.vip(lb)
        port = h.free_port(vip)
        lsn = self.zlb_listener(client, lb, port=str(port), protocol="TCP")
        self.zlb_register(client, lb, lsn, [{"instanceId": inst["id"], "port": srv.port}])
        data, err = h.tcp_exchange(vip, port)
        self.assertEqual(data, srv.token, "TCP via %s:%d to backend 127.0.0.21:%d: last error %s"
                         % (vip, port, srv.port, err))

    def test_zlb_health_status_follows_backends(self):
        """A TCP health check (healthCheck on CreateListener): DescribeBackendHealth reports the live backend
        HEALTHY and the one with nothing listening UNHEALTHY (polled, bounded)."""
        srv = self.backend(h.TokenTCPBackend, "127.0.0.24")
        live = self.native.instance(self.p, self.subnet, "127.0.0.24", name="hc-live")
        dead = self.native.instance(self.p, self.subnet, "127.0.0.25", name="hc-dead")
        dead_port = h.free_port("127.0.0.25")
        client = self.zlb(self.p)
        lb = self.zlb_lb(client, self.vpc, self.subnet)
        port = h.free_port(self.native.vip(lb))
        lsn = self.zlb_listener(client, lb, port=str(port), protocol="TCP", healthCheck={
            "enabled": True, "checkType": "TCP", "checkDelayLoop": 1, "checkConnTimeout": 1, "checkRetry": 1})
        self.zlb_register(client, lb, lsn, [{"instanceId": live["id"], "port": srv.port},
                                            {"instanceId": dead["id"], "port": dead_port}])
        want = {live["private_ip"]: "HEALTHY", dead["private_ip"]: "UNHEALTHY"}
        got = None
        deadline = time.monotonic() + 12
        for _ in range(60):
            resp = self.step("DescribeBackendHealth", lambda: client.DescribeBackendHealth(
                model(ZM.DescribeBackendHealthRequest, loadBalancerId=lb, listenerId=lsn)))
            got = {b.privateIpAddress: b.healthStatus for b in resp.backends or []}
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(got, want, "DescribeBackendHealth after up to 12 s")

    def test_ucloud_http_ip_backend_receives_traffic(self):
        """UCloud CreateULB + HTTP CreateVServer + AllocateBackend(ResourceType IP) -> HTTP answered by it."""
        srv = self.backend(h.TokenHTTPBackend, "127.0.0.22")
        ulb = self.ulb(self.p)
        ulb_id = self.uc_ulb(ulb, self.vpc, self.subnet)
        vip = self.native.vip(ulb_id)
        port = h.free_port(vip)
        vs = self.uc_vserver(ulb, ulb_id, port=port, protocol="HTTP")
        self.step("UCloud AllocateBackend IP", lambda: ulb.allocate_backend({
            "ULBId": ulb_id, "VServerId": vs, "ResourceType": "IP", "ResourceIP": "127.0.0.22",
            "VPCId": self.vpc["id"], "SubnetId": self.subnet["id"], "Port": srv.port, "Weight": 1}))
        status, body, err = h.http_get(vip, port, "/hello")
        self.assertEqual((status, body), (200, srv.token), "HTTP via %s:%d to 127.0.0.22:%d: last error %s"
                         % (vip, port, srv.port, err))


class Regions(h.WeirTestCase):
    """Top-level `regions` setting: the region names Weir answers to (default ["local"])."""

    CONFIG = {"regions": ["local", "eu-west"]}

    @classmethod
    def bootstrap(cls):
        cls.w = h.World(cls.native, "regions", 10, 0, vms=1)

    def test_configured_regions_answer(self):
        d = self.step("ZLB DescribeLoadBalancers regionId=eu-west", lambda: self.zlb(self.w.project)
                      .DescribeLoadBalancers(model(ZM.DescribeLoadBalancersRequest, regionId="eu-west")))
        self.assertEqual(d.totalCount, 0)
        req = model(ZM.CreateLoadBalancerRequest, regionId="eu-west", vpcId=self.w.vpc["id"],
                    subnetId=self.w.subnet["id"], loadBalancerName="eu")
        ids = self.step("ZLB CreateLoadBalancer regionId=eu-west",
                        lambda: self.zlb(self.w.project).CreateLoadBalancer(req)).loadBalancerIds
        self.assertEqual(len(ids or []), 1)
        self.assertEqual(self.native.loadbalancer(ids[0])["status"], "RUNNING")
        self.step("UCloud DescribeULB Region eu-west", lambda: self.ulb(self.w.project, region="eu-west")
                  .describe_ulb({}))
        self.step("UCloud DescribeULB Region local", lambda: self.ulb(self.w.project).describe_ulb({}))
        self.assertUcError(lambda: self.ulb(self.w.project, region="us-east").describe_ulb({}), UC["INVALID_REGION"],
                           "Region us-east not configured")
        req = model(ZM.CreateLoadBalancerRequest, regionId="us-east", vpcId=self.w.vpc["id"],
                    subnetId=self.w.subnet["id"], loadBalancerName="us")
        self.assertZcError(lambda: self.zlb(self.w.project).CreateLoadBalancer(req), "INVALID_REGION_NOT_FOUND", 400,
                           "ZLB regionId us-east not configured")


if __name__ == "__main__":
    unittest.main()
