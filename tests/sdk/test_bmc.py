"""Zenlayer BMC load balancing (`POST /api/v2/bmc`) through the official SDK:
x-zc-version 2026-02-01 (bmc.v20260201) and the deprecated 2022-11-20 (bmc.v20221120)."""

import secrets
import unittest

from . import harness as h
from .harness import bmc2022_models as M22
from .harness import bmc_models as M
from .harness import model


class BmcCommon(h.WeirTestCase):
    """The BMC route shares Zenlayer's transport: auth and error envelope."""

    @classmethod
    def bootstrap(cls):
        cls.w = h.World(cls.native, "bcommon", 10, 0, vms=1)

    def test_signed_raw_request_and_auth_failure(self):
        """200 for a correctly signed raw call; 401 AUTH_FAILED for a wrong secret (both versions)."""
        r = self.zc_raw("bmc", "DescribeLoadBalancers", {}, self.w.project)
        self.assertZcRawOk(r, "raw BMC DescribeLoadBalancers")
        self.assertEqual(r.json["response"].get("totalCount"), 0, r)
        for client in (self.bmc(ak=self.w.project.ak, sk="wrong-secret"),
                       self.bmc2022(ak=self.w.project.ak, sk="wrong-secret")):
            with self.subTest(client=type(client).__module__):
                req_cls = M.DescribeLoadBalancersRequest if isinstance(client, h.BmcClient) \
                    else M22.DescribeLoadBalancersRequest
                self.assertZcError(lambda: client.DescribeLoadBalancers(model(req_cls)), "AUTH_FAILED", 401,
                                   "BMC with a wrong secret")

    def test_unknown_action(self):
        """400 INVALID_ACTION on the BMC route."""
        r = self.zc_raw("bmc", "NoSuchBmcAction", {}, self.w.project)
        self.assertZcRawError(r, "INVALID_ACTION", 400, "unknown BMC action")

    def test_zones(self):
        """DescribeLoadBalancerZones lists the `regions` setting (default ["local"])."""
        resp = self.step("BMC DescribeLoadBalancerZones", lambda: self.bmc(self.w.project).DescribeLoadBalancerZones(
            model(M.DescribeLoadBalancerZonesRequest)))
        self.assertEqual(resp.zoneIdSet, [h.REGION])

    def test_unknown_zone(self):
        """Unknown zoneId -> 400 INVALID_REGION_NOT_FOUND (BMC calls the region a zone)."""
        client = self.bmc(self.w.project)
        req = model(M.CreateLoadBalancerRequest, zoneId="mars-north-1a", subnetId=self.w.subnet["id"],
                    loadBalancerName="mars")
        self.assertZcError(lambda: client.CreateLoadBalancer(req), "INVALID_REGION_NOT_FOUND", 400,
                           "BMC CreateLoadBalancer zoneId=mars-north-1a")


class BmcLoadBalancersAndListeners(h.WeirTestCase):

    @classmethod
    def bootstrap(cls):
        cls.w = h.World(cls.native, "blbs", 10, 0, vms=1)

    def setUp(self):
        self.client = self.bmc(self.w.project)

    def test_create_and_describe_lb(self):
        """CreateLoadBalancer {zoneId, loadBalancerName, subnetId} -> loadBalancerId; DescribeLoadBalancers
        gives loadBalancerName, zoneId, status, vipList[{ipAddress}] (the native VIP), createTime."""
        name = "bmc-" + secrets.token_hex(3)
        lb = self.bmc_lb(self.client, self.w.subnet, name=name)
        resp = self.step("BMC DescribeLoadBalancers", lambda: self.client.DescribeLoadBalancers(
            model(M.DescribeLoadBalancersRequest, loadBalancerIds=[lb])))
        self.assertEqual(resp.totalCount, 1)
        (d,) = resp.dataSet
        self.assertEqual((d.loadBalancerId, d.loadBalancerName, d.zoneId), (lb, name, h.REGION))
        self.assertTrue(d.status, "status empty")
        self.assertTrue(d.createTime, "createTime empty")
        self.assertEqual([v.ipAddress for v in d.vipList or []], [self.native.vip(lb)])
        native = self.native.loadbalancer(lb)
        self.assertEqual((native["subnet_id"], native["status"]), (self.w.subnet["id"], "RUNNING"))

    def test_create_lb_client_token_replay(self):
        """CreateLoadBalancer with a clientToken replayed -> the same loadBalancerId, one LB (clientToken read as
        Zenlayer's idempotency key, as the contract spells out for RegisterBackend)."""
        token = "lb-" + secrets.token_hex(8)
        subnet = self.native.subnet(self.native.vpc(self.w.project, "10.60.0.0/16"), "10.60.1.0/24")
        req = model(M.CreateLoadBalancerRequest, zoneId=h.REGION, subnetId=subnet["id"], loadBalancerName="idem",
                    clientToken=token)
        first = self.step("BMC CreateLoadBalancer", lambda: self.client.CreateLoadBalancer(req)).loadBalancerId
        second = self.step("BMC CreateLoadBalancer replay", lambda: self.client.CreateLoadBalancer(req)).loadBalancerId
        self.assertEqual(first, second)
        lbs = [lb for lb in self.native.ok("GET", "/v1/loadbalancers")["loadbalancers"]
               if lb["subnet_id"] == subnet["id"]]
        self.assertEqual(len(lbs), 1, "a replayed CreateLoadBalancer created a second LB")

    def test_missing_subnet(self):
        """400 MISSING_PARAMETER: CreateLoadBalancer without subnetId."""
        req = model(M.CreateLoadBalancerRequest, zoneId=h.REGION, loadBalancerName="x")
        self.assertZcError(lambda: self.client.CreateLoadBalancer(req), "MISSING_PARAMETER", 400,
                           "BMC CreateLoadBalancer without subnetId", message_re="subnetId")

    def test_listeners(self):
        """CreateListener {portList, protocol TCP|UDP, scheduler, kind} -> listenerId; DescribeListeners by
        listenerIds / loadBalancerIds; DeleteListener."""
        lb = self.bmc_lb(self.client, self.w.subnet)
        one = self.bmc_listener(self.client, lb, ports=[18080], protocol="TCP", name="one", scheduler="wrr",
                                kind="FNAT")
        many = self.bmc_listener(self.client, lb, ports=[18081, 18082], protocol="UDP", name="many")
        resp = self.step("BMC DescribeListeners", lambda: self.client.DescribeListeners(
            model(M.DescribeListenersRequest, loadBalancerIds=[lb])))
        self.assertEqual(resp.totalCount, 2)
        by_id = {x.listenerId: x for x in resp.dataSet}
        self.assertEqual(set(by_id), {one, many})
        x = by_id[one]
        self.assertEqual((x.loadBalancerId, x.listenerName, x.protocol, x.scheduler, x.kind, h.ports_of(x.port)),
                         (lb, "one", "TCP", "wrr", "FNAT", [18080]))
        self.assertTrue(x.createTime)
        y = by_id[many]
        self.assertEqual((y.protocol, h.ports_of(y.port)), ("UDP", [18081, 18082]))
        resp = self.step("BMC DescribeListeners ids", lambda: self.client.DescribeListeners(
            model(M.DescribeListenersRequest, listenerIds=[many])))
        self.assertEqual([x.listenerId for x in resp.dataSet], [many])
        self.step("BMC DeleteListener", lambda: self.client.DeleteListener(
            model(M.DeleteListenerRequest, listenerId=many)))
        resp = self.step("BMC DescribeListeners", lambda: self.client.DescribeListeners(
            model(M.DescribeListenersRequest, loadBalancerIds=[lb])))
        self.assertEqual([x.listenerId for x in resp.dataSet], [one])

    def test_create_listener_client_token_replay(self):
        """CreateListener with a clientToken replayed -> the same listenerId, one listener; the same token with
        another request -> 409 INVALID_CLIENT_TOKEN_CONFLICT, nothing written (issue 16: the token was accepted
        and not used before)."""
        lb = self.bmc_lb(self.client, self.w.subnet)
        token = "lsn-" + secrets.token_hex(8)
        req = model(M.CreateListenerRequest, loadBalancerId=lb, listenerName="idem", portList=[18094],
                    protocol="TCP", clientToken=token)
        first = self.step("BMC CreateListener", lambda: self.client.CreateListener(req)).listenerId
        second = self.step("BMC CreateListener replay", lambda: self.client.CreateListener(req)).listenerId
        self.assertEqual(first, second, "a replayed clientToken answered another listener")
        other = model(M.CreateListenerRequest, loadBalancerId=lb, listenerName="idem", portList=[18095],
                      protocol="TCP", clientToken=token)
        self.assertZcError(lambda: self.client.CreateListener(other), "INVALID_CLIENT_TOKEN_CONFLICT", 409,
                           "the same token for another port")
        resp = self.step("BMC DescribeListeners", lambda: self.client.DescribeListeners(
            model(M.DescribeListenersRequest, loadBalancerIds=[lb])))
        self.assertEqual([x.listenerId for x in resp.dataSet], [first], "one listener, the first")

    def test_listener_bad_protocol(self):
        """CreateListener protocol outside TCP|UDP -> 400 INVALID_PARAMETER, nothing written."""
        lb = self.bmc_lb(self.client, self.w.subnet)
        req = model(M.CreateListenerRequest, loadBalancerId=lb, listenerName="x", portList=[18091], protocol="SCTP")
        self.assertZcError(lambda: self.client.CreateListener(req), "INVALID_PARAMETER", 400, "protocol SCTP")
        resp = self.step("BMC DescribeListeners", lambda: self.client.DescribeListeners(
            model(M.DescribeListenersRequest, loadBalancerIds=[lb])))
        self.assertEqual(resp.totalCount, 0, "a refused CreateListener wrote a listener")

    def test_listener_port_conflict(self):
        """CreateListener whose portList overlaps a listener of the same protocol -> 409
        INVALID_LISTENER_PORT_CONFLICT, nothing written."""
        lb = self.bmc_lb(self.client, self.w.subnet)
        self.bmc_listener(self.client, lb, ports=[18090])
        req = model(M.CreateListenerRequest, loadBalancerId=lb, listenerName="x", portList=[18092, 18090],
                    protocol="TCP")
        self.assertZcError(lambda: self.client.CreateListener(req), "INVALID_LISTENER_PORT_CONFLICT", 409,
                           "portList overlapping an existing TCP listener")
        resp = self.step("BMC DescribeListeners", lambda: self.client.DescribeListeners(
            model(M.DescribeListenersRequest, loadBalancerIds=[lb])))
        self.assertEqual(resp.totalCount, 1, "a refused CreateListener wrote a listener")

    def test_listener_not_found(self):
        """CreateListener on an unknown LB -> 404 INVALID_LB_NOT_FOUND; DeleteListener of an unknown listener ->
        404 INVALID_LB_LISTENER_NOT_FOUND."""
        req = model(M.CreateListenerRequest, loadBalancerId="lb-" + secrets.token_hex(6), listenerName="x",
                    portList=[18093], protocol="TCP")
        self.assertZcError(lambda: self.client.CreateListener(req), "INVALID_LB_NOT_FOUND", 404, "unknown LB")
        req = model(M.DeleteListenerRequest, listenerId="lsn-" + secrets.token_hex(6))
        self.assertZcError(lambda: self.client.DeleteListener(req), "INVALID_LB_LISTENER_NOT_FOUND", 404,
                           "DeleteListener unknown")


class BmcRegisterBackend(h.WeirTestCase):
    """RegisterBackend (2026-02-01): idempotency, name/weight rules, instance types; DescribeBackends;
    DeregisterBackend."""

    @classmethod
    def bootstrap(cls):
        cls.w = h.World(cls.native, "breg", 10, 0, vms=3)
        cls.bm2 = cls.native.instance(cls.w.project, cls.w.subnet, "10.0.1.202", kind="bm", name="breg-bm2")

    def setUp(self):
        self.client = self.bmc(self.w.project)
        self.lb = self.bmc_lb(self.client, self.w.subnet)
        self.lsn = self.bmc_listener(self.client, self.lb, ports=[18080])

    def req(self, **fields):
        fields.setdefault("listenerId", self.lsn)
        fields.setdefault("backendName", "be-" + secrets.token_hex(3))
        fields.setdefault("clientToken", "tok-" + secrets.token_hex(8))
        return model(M.RegisterBackendRequest, **fields)

    def listed(self, listener=None):
        return self.bmc_backends(self.client, listener or self.lsn)

    def refuse(self, req, code, status, what):
        before = sorted((b.backendId, b.weight) for b in self.listed().dataSet)
        self.assertZcError(lambda: self.client.RegisterBackend(req), code, status, "BMC RegisterBackend %s: %s"
                           % (what, req))
        self.assertEqual(sorted((b.backendId, b.weight) for b in self.listed().dataSet), before,
                         "refused BMC RegisterBackend (%s) changed DescribeBackends" % what)

    def test_register_bare_metal_default_type(self):
        """instanceType defaults to BM; DescribeBackends shows every field."""
        bid = self.bmc_register(self.client, self.lsn, self.w.bm["id"], backendName="web-1", portList=[8080],
                                weight=50)
        resp = self.listed()
        self.assertEqual(resp.totalCount, 1)
        (b,) = resp.dataSet
        self.assertEqual((b.backendId, b.listenerId, b.backendName, h.ports_of(b.port), b.weight, b.instanceId,
                          b.instanceType, b.instanceName),
                         (bid, self.lsn, "web-1", [8080], 50, self.w.bm["id"], "BM", self.w.bm["name"]))
        self.assertTrue(b.status, "status empty")
        self.assertTrue(b.createTime, "createTime empty")
        (n,) = self.native.listener_backends(self.lsn)
        self.assertEqual((n["id"], n["address"], n["weight"], n["instance_id"]),
                         (bid, self.w.bm["private_ip"], 50, self.w.bm["id"]))

    def test_register_vm(self):
        """instanceType VM registers a VM."""
        vm = self.w.vms[0]
        bid = self.bmc_register(self.client, self.lsn, vm["id"], instanceType="VM", portList=[8080], weight=1)
        (b,) = self.listed().dataSet
        self.assertEqual((b.backendId, b.instanceId, b.instanceType, b.weight), (bid, vm["id"], "VM", 1))

    def test_instance_type_mismatch(self):
        """400 INVALID_INSTANCE_TYPE: instanceType disagrees with the instance."""
        self.refuse(self.req(instanceId=self.w.vms[0]["id"], instanceType="BM", portList=[80], weight=10),
                    "INVALID_INSTANCE_TYPE", 400, "VM declared BM")
        self.refuse(self.req(instanceId=self.w.vms[0]["id"], portList=[80], weight=10),
                    "INVALID_INSTANCE_TYPE", 400, "VM with the default type (BM)")
        self.refuse(self.req(instanceId=self.w.bm["id"], instanceType="VM", portList=[80], weight=10),
                    "INVALID_INSTANCE_TYPE", 400, "BM declared VM")

    def test_client_token_replay(self):
        """Same clientToken + same body -> 200, same backendId, one backend; same token + other body ->
        409 INVALID_CLIENT_TOKEN_CONFLICT."""
        req = self.req(instanceId=self.w.bm["id"], portList=[8080], weight=10, backendName="idem")
        first = self.step("BMC RegisterBackend", lambda: self.client.RegisterBackend(req)).backendId
        second = self.step("BMC RegisterBackend replay", lambda: self.client.RegisterBackend(req)).backendId
        self.assertEqual(first, second, "a replayed clientToken returned another backendId")
        self.assertEqual(self.listed().totalCount, 1)
        changed = self.req(instanceId=self.w.bm["id"], portList=[8080], weight=11, backendName="idem",
                           clientToken=req.clientToken)
        self.refuse(changed, "INVALID_CLIENT_TOKEN_CONFLICT", 409, "same token, other weight")
        other_instance = self.req(instanceId=self.bm2["id"], portList=[8080], weight=10, backendName="idem",
                                  clientToken=req.clientToken)
        self.refuse(other_instance, "INVALID_CLIENT_TOKEN_CONFLICT", 409, "same token, other instance")

    def test_duplicate_instance_new_token(self):
        """409 INVALID_BACKEND_INSTANCE_LISTENER_EXIST: the instance again with a new token."""
        self.bmc_register(self.client, self.lsn, self.w.bm["id"], portList=[8080], weight=10)
        self.refuse(self.req(instanceId=self.w.bm["id"], portList=[8080], weight=10),
                    "INVALID_BACKEND_INSTANCE_LISTENER_EXIST", 409, "same instance, new token")
        self.refuse(self.req(instanceId=self.w.bm["id"], portList=[9090], weight=10),
                    "INVALID_BACKEND_INSTANCE_LISTENER_EXIST", 409, "same instance, other port, new token")

    def test_backend_name_rule(self):
        """backendName 1-64 of letters, digits, '-', '.': others -> 400 INVALID_PARAMETER."""
        for name in ("", "has space", "under_score", "semi;colon", "ü-name", "x" * 65):
            with self.subTest(name=name):
                self.refuse(self.req(instanceId=self.w.bm["id"], portList=[80], weight=10, backendName=name),
                            "INVALID_PARAMETER", 400, "backendName %r" % name)
        ok = ["A.b-9", "y" * 64]
        for name, inst in zip(ok, (self.w.bm, self.bm2)):
            with self.subTest(name=name):
                self.bmc_register(self.client, self.lsn, inst["id"], backendName=name, portList=[80], weight=10)
        self.assertEqual(sorted(b.backendName for b in self.listed().dataSet), sorted(ok))

    def test_weight_range(self):
        """weight 1-100: 0 and 101 -> 400 INVALID_PARAMETER; 1 and 100 accepted."""
        for weight in (0, 101, -5):
            with self.subTest(weight=weight):
                self.refuse(self.req(instanceId=self.w.bm["id"], portList=[80], weight=weight),
                            "INVALID_PARAMETER", 400, "weight %d" % weight)
        self.bmc_register(self.client, self.lsn, self.w.bm["id"], portList=[80], weight=1)
        self.bmc_register(self.client, self.lsn, self.bm2["id"], portList=[80], weight=100)
        self.assertEqual(sorted(b.weight for b in self.listed().dataSet), [1, 100])

    def test_missing_parameters(self):
        """400 MISSING_PARAMETER without clientToken / instanceId / listenerId; the message names it."""
        for field in ("clientToken", "instanceId", "listenerId"):
            with self.subTest(missing=field):
                fields = {"listenerId": self.lsn, "backendName": "m", "instanceId": self.w.bm["id"],
                          "clientToken": "tok-" + secrets.token_hex(6), "portList": [80], "weight": 10}
                del fields[field]
                req = model(M.RegisterBackendRequest, **fields)
                self.assertZcError(lambda: self.client.RegisterBackend(req), "MISSING_PARAMETER", 400,
                                   "RegisterBackend without %s" % field, message_re=field)
        self.assertEqual(self.listed().totalCount, 0)

    def test_not_found(self):
        """Unknown listener -> 404 INVALID_LB_LISTENER_NOT_FOUND; unknown instance -> 404
        INVALID_INSTANCE_NOT_FOUND."""
        req = self.req(listenerId="lsn-" + secrets.token_hex(6), instanceId=self.w.bm["id"], portList=[80], weight=1)
        self.assertZcError(lambda: self.client.RegisterBackend(req), "INVALID_LB_LISTENER_NOT_FOUND", 404,
                           "BMC RegisterBackend unknown listener")
        self.refuse(self.req(instanceId="ins-" + secrets.token_hex(6), portList=[80], weight=1),
                    "INVALID_INSTANCE_NOT_FOUND", 404, "unknown instance")

    def test_describe_filters_and_paging(self):
        """DescribeBackends filters backendIds / backendName and pages with pageNum/pageSize."""
        ids = [self.bmc_register(self.client, self.lsn, inst["id"], backendName="pg-%d" % i, portList=[80], weight=5)
               for i, inst in enumerate((self.w.bm, self.bm2))]
        ids.append(self.bmc_register(self.client, self.lsn, self.w.vms[0]["id"], instanceType="VM",
                                     backendName="pg-2", portList=[80], weight=5))
        resp = self.bmc_backends(self.client, self.lsn, backendIds=[ids[1]])
        self.assertEqual([b.backendId for b in resp.dataSet], [ids[1]])
        resp = self.bmc_backends(self.client, None, backendIds=[ids[0], ids[2]])
        self.assertEqual(sorted(b.backendId for b in resp.dataSet), sorted([ids[0], ids[2]]),
                         "DescribeBackends by backendIds without listenerId")
        resp = self.bmc_backends(self.client, self.lsn, backendName="pg-2")
        self.assertEqual([b.backendId for b in resp.dataSet], [ids[2]])
        pages = [self.bmc_backends(self.client, self.lsn, pageSize=2, pageNum=n) for n in (1, 2)]
        self.assertEqual([p.totalCount for p in pages], [3, 3])
        self.assertEqual([len(p.dataSet) for p in pages], [2, 1])
        self.assertEqual(sorted(b.backendId for p in pages for b in p.dataSet), sorted(ids))

    def test_deregister(self):
        """DeregisterBackend {backendId} removes it; unknown id -> 404 INVALID_BACKEND_NOT_FOUND."""
        keep = self.bmc_register(self.client, self.lsn, self.w.bm["id"], portList=[80], weight=5)
        gone = self.bmc_register(self.client, self.lsn, self.bm2["id"], portList=[80], weight=5)
        self.step("BMC DeregisterBackend", lambda: self.client.DeregisterBackend(
            model(M.DeregisterBackendRequest, backendId=gone)))
        self.assertEqual([b.backendId for b in self.listed().dataSet], [keep])
        self.assertEqual([b["id"] for b in self.native.listener_backends(self.lsn)], [keep])
        for bid in (gone, "be-" + secrets.token_hex(6)):
            with self.subTest(backendId=bid):
                req = model(M.DeregisterBackendRequest, backendId=bid)
                self.assertZcError(lambda: self.client.DeregisterBackend(req), "INVALID_BACKEND_NOT_FOUND", 404,
                                   "DeregisterBackend %s" % bid)
        self.assertEqual([b.backendId for b in self.listed().dataSet], [keep])


class Bmc20221120(h.WeirTestCase):
    """The deprecated 2022-11-20 client: RegisterBackend without instanceType, ModifyBackendWeight."""

    @classmethod
    def bootstrap(cls):
        cls.w = h.World(cls.native, "b2022", 10, 0, vms=1)

    def test_lifecycle(self):
        old = self.bmc2022(self.w.project)
        new = self.bmc(self.w.project)
        lb = self.bmc_lb(old, self.w.subnet, models=M22)
        lsn = self.bmc_listener(old, lb, ports=[18080], models=M22)
        bid = self.bmc_register(old, lsn, self.w.bm["id"], models=M22, backendName="old-api", portList=[8080],
                                weight=20)
        (b,) = self.bmc_backends(old, lsn, models=M22).dataSet
        self.assertEqual((b.backendId, b.instanceId, b.weight, h.ports_of(b.port)), (bid, self.w.bm["id"], 20,
                                                                                     [8080]))
        (b,) = self.bmc_backends(new, lsn).dataSet
        self.assertEqual((b.backendId, b.instanceType), (bid, "BM"), "2022 registration seen by the 2026 client")
        self.step("BMC 2022 ModifyBackendWeight", lambda: old.ModifyBackendWeight(
            model(M22.ModifyBackendWeightRequest, backendId=bid, weight=77)))
        self.assertEqual([b.weight for b in self.bmc_backends(new, lsn).dataSet], [77])
        self.assertEqual([b["weight"] for b in self.native.listener_backends(lsn)], [77])
        for weight in (0, 101):
            with self.subTest(weight=weight):
                req = model(M22.ModifyBackendWeightRequest, backendId=bid, weight=weight)
                self.assertZcError(lambda: old.ModifyBackendWeight(req), "INVALID_PARAMETER", 400,
                                   "ModifyBackendWeight %d" % weight)
        req = model(M22.ModifyBackendWeightRequest, backendId="be-" + secrets.token_hex(6), weight=5)
        self.assertZcError(lambda: old.ModifyBackendWeight(req), "INVALID_BACKEND_NOT_FOUND", 404,
                           "ModifyBackendWeight unknown backend")
        self.assertEqual([b.weight for b in self.bmc_backends(new, lsn).dataSet], [77])
        self.step("BMC 2022 DeregisterBackend", lambda: old.DeregisterBackend(
            model(M22.DeregisterBackendRequest, backendId=bid)))
        self.assertEqual(self.bmc_backends(old, lsn, models=M22).totalCount, 0)

    def test_replay_and_duplicate(self):
        """2022 client: clientToken replay -> same backendId; new token -> 409
        INVALID_BACKEND_INSTANCE_LISTENER_EXIST."""
        old = self.bmc2022(self.w.project)
        lb = self.bmc_lb(old, self.w.subnet, models=M22)
        lsn = self.bmc_listener(old, lb, ports=[18081], models=M22)
        req = model(M22.RegisterBackendRequest, listenerId=lsn, backendName="r", instanceId=self.w.bm["id"],
                    clientToken="tok-" + secrets.token_hex(6), portList=[80], weight=3)
        a = self.step("RegisterBackend", lambda: old.RegisterBackend(req)).backendId
        b = self.step("RegisterBackend replay", lambda: old.RegisterBackend(req)).backendId
        self.assertEqual(a, b)
        dup = model(M22.RegisterBackendRequest, listenerId=lsn, backendName="r", instanceId=self.w.bm["id"],
                    clientToken="tok-" + secrets.token_hex(6), portList=[80], weight=3)
        self.assertZcError(lambda: old.RegisterBackend(dup), "INVALID_BACKEND_INSTANCE_LISTENER_EXIST", 409,
                           "2022 RegisterBackend duplicate instance")
        self.assertEqual(self.bmc_backends(old, lsn, models=M22).totalCount, 1)


if __name__ == "__main__":
    unittest.main()
