"""The "honoured or refused" sweep of Zenlayer ZLB and BMC through zenlayercloud-sdk-python against a real
`weir serve` (issue 16): every field of every write call Weir serves, as the SDK's own request models list
them (nested health checks and backend servers included), is declared below as HONOURED (Weir reads it;
what it does is tested in the file `where` names) or REFUSED (sent with a value, the call fails with
400 INVALID_PARAMETER naming the field and the store revision does not move). A field the SDK gains that
the table does not declare fails the coverage test.

Every address is in 127.0.0.0/8 or a test-only 10.x inventory that is never dialled.
"""

import secrets

from . import harness as h
from .harness import bmc_models as B
from .harness import model
from .harness import zlb_models as Z


class H:
    """Honoured: Weir reads the field; `where` names the test of its effect."""

    def __init__(self, where):
        self.where = where


def R(value):
    """Refused: sent as `value`, 400 INVALID_PARAMETER naming it, nothing written."""
    return ("refused", value)


TAGS = [{"key": "team", "value": "a"}]
ZLB = {
    "CreateLoadBalancer": {
        "regionId": H("test_zlb"), "vpcId": H("test_zlb"), "subnetId": H("test_zlb"),
        "loadBalancerName": H("test_zlb"),
        "bandwidthClusterId": R("bwc-1"), "bandwidthMbps": R(100), "eipIds": R(["eip-1"]),
        "healthCheckPrivateIps": R(["10.0.1.200"]), "internetChargeType": R("ByBandwidth"),
        "ipNetworkType": R("BGPLine"), "ipStackType": R("IPv4"), "marketingOptions": R({"usePocVoucher": True}),
        "networkLineType": R("PremiumLine"), "number": R(2), "resourceGroupId": R("rg-1"),
        "securityGroupId": R("sg-1"), "tags": R({"tags": TAGS}), "trafficPackageSize": R(10),
    },
    "CreateListener": {
        "loadBalancerId": H("test_zlb"), "listenerName": H("test_zlb"), "protocol": H("test_zlb"),
        "port": H("test_zlb: ports and ranges"), "scheduler": H("test_zlb"), "kind": H("test_zlb"),
        "healthCheck": H("test_zlb: test_health_check_round_trip"),
        "proxyProtocol": H("test_zlb: the PROXY v2 header"),
        "algoOpts": R("mh-port"), "idleTimeout": R(60), "persistent": R(60),
    },
    "HealthCheck": {
        "enabled": H("test_zlb"), "checkType": H("test_zlb"), "checkPort": H("test_zlb"),
        "checkDelayLoop": H("test_zlb"), "checkConnTimeout": H("test_zlb"), "checkRetry": H("test_zlb"),
        "checkHttpGetUrl": H("test_zlb"), "checkHttpStatusCode": H("test_zlb"),
        "failOpen": H("test_zlb: test_health_check_fail_open"),
        "checkHttpGetHost": H("test_zlb: test_health_check_round_trip (the check's Host)"),
        "checkDelayTry": R(3),
    },
    "DeleteListener": {"loadBalancerId": H("test_zlb"), "listenerId": H("test_zlb")},
    "RegisterBackend": {"loadBalancerId": H("test_zlb"), "listenerId": H("test_zlb"),
                        "backendServers": H("test_zlb")},
    "ModifyBackend": {"loadBalancerId": H("test_zlb"), "listenerId": H("test_zlb"),
                      "backendServers": H("test_zlb")},
    "DeregisterBackend": {"loadBalancerId": H("test_zlb"), "listenerId": H("test_zlb"),
                          "backendServers": H("test_zlb")},
    "BackendServer": {"instanceId": H("test_zlb"), "privateIpAddress": H("test_zlb"), "weight": H("test_zlb"),
                      "port": H("test_zlb")},
}
BMC = {
    "CreateLoadBalancer": {
        "zoneId": H("test_bmc"), "subnetId": H("test_bmc"), "loadBalancerName": H("test_bmc"),
        "clientToken": H("test_bmc: test_create_lb_client_token_replay"),
        "backupIp": R("10.0.1.201"), "bandwidth": R(100), "chargeType": R("PREPAID"), "cidrBlockId": R("cidr-1"),
        "instanceChargePrepaid": R({"period": 1}), "ipType": R("IPv4"), "marketingOptions": R({"usePocVoucher": True}),
        "masterIp": R("10.0.1.202"), "tags": R({"tags": TAGS}), "vipCount": R(2),
    },
    "CreateListener": {
        "loadBalancerId": H("test_bmc"), "listenerName": H("test_bmc"), "portList": H("test_bmc"),
        "protocol": H("test_bmc"), "scheduler": H("test_bmc"), "kind": H("test_bmc"),
        "healthCheck": H("test_bmc"), "clientToken": H("test_bmc: test_create_listener_client_token_replay"),
        "backendProtocol": R("TCP"),
        # A webhook Weir would never call: refused, not kept.
        "notify": R({"enable": True, "apiAddress": "https://hooks.example.invalid/lb"}),
    },
    "HealthCheck": {
        "checkEnabled": H("test_bmc"), "checkType": H("test_bmc"), "checkConnectTimeout": H("test_bmc"),
        "checkRetry": H("test_bmc"), "checkIntervalTime": H("test_bmc"), "checkPort": H("test_bmc"),
        "httpCheckPath": H("test_bmc"), "httpCode": H("test_bmc"),
        "checkDelayBeforeRetry": R(2), "httpCheckDigest": R("d41d8cd98f00b204e9800998ecf8427e"),
        "httpVersion": R("HTTP/1.1"), "miscCheckPath": R("/usr/bin/true"), "miscTimeout": R(5),
    },
    "DeleteListener": {"listenerId": H("test_bmc")},
    "RegisterBackend": {"listenerId": H("test_bmc"), "backendName": H("test_bmc"), "instanceId": H("test_bmc"),
                        "instanceType": H("test_bmc"), "clientToken": H("test_bmc: test_client_token_replay"),
                        "portList": H("test_bmc"), "weight": H("test_bmc")},
    "DeregisterBackend": {"backendId": H("test_bmc")},
}


def sdk_fields(models, name):
    cls = getattr(models, name + "Request", None) or getattr(models, name)
    return {k for k in vars(cls()) if not k.startswith("_")}


class ZenlayerSweep(h.WeirTestCase):

    @classmethod
    def bootstrap(cls):
        cls.w = h.World(cls.native, "zsweep", 10, 70, vms=1)

    def revision(self):
        status, body = self.native.call("GET", "/healthz")
        self.assertEqual(status, 200, body)
        return body["revision"]

    def test_the_tables_declare_every_sdk_field_of_every_write_call(self):
        for product, models, table in (("ZLB", Z, ZLB), ("BMC", B, BMC)):
            for name, fields in table.items():
                with self.subTest(product=product, model=name):
                    self.assertEqual(set(fields), sdk_fields(models, name), "%s %s" % (product, name))

    def refuse(self, call, field, what):
        before = self.revision()
        self.assertZcError(call, "INVALID_PARAMETER", 400, what, message_re=field)
        self.assertEqual(self.revision(), before, "%s: a refusal wrote" % what)

    def refused(self, table, name):
        return [(f, o[1]) for f, o in table[name].items() if isinstance(o, tuple)]

    def test_zlb_refused_fields(self):
        client = self.zlb(self.w.project)
        lb = self.zlb_lb(client, self.w.vpc, self.w.subnet)
        base_lb = {"regionId": h.REGION, "vpcId": self.w.vpc["id"], "subnetId": self.w.subnet["id"],
                   "loadBalancerName": "refused"}
        for field, value in self.refused(ZLB, "CreateLoadBalancer"):
            with self.subTest(field=field):
                req = model(Z.CreateLoadBalancerRequest, **dict(base_lb, **{field: value}))
                self.refuse(lambda: client.CreateLoadBalancer(req), field, "ZLB CreateLoadBalancer %s" % field)
        base = {"loadBalancerId": lb, "listenerName": "refused", "protocol": "TCP", "port": "18950"}
        for field, value in self.refused(ZLB, "CreateListener"):
            with self.subTest(field=field):
                req = model(Z.CreateListenerRequest, **dict(base, **{field: value}))
                self.refuse(lambda: client.CreateListener(req), field, "ZLB CreateListener %s" % field)
        for field, value in self.refused(ZLB, "HealthCheck"):
            with self.subTest(field="healthCheck." + field):
                req = model(Z.CreateListenerRequest, **dict(base, healthCheck={"enabled": True, field: value}))
                self.refuse(lambda: client.CreateListener(req), field, "ZLB healthCheck.%s" % field)

    def test_bmc_refused_fields(self):
        client = self.bmc(self.w.project)
        lb = self.bmc_lb(client, self.w.subnet)
        base_lb = {"zoneId": h.REGION, "subnetId": self.w.subnet["id"], "loadBalancerName": "refused"}
        for field, value in self.refused(BMC, "CreateLoadBalancer"):
            with self.subTest(field=field):
                req = model(B.CreateLoadBalancerRequest, **dict(base_lb, **{field: value}))
                self.refuse(lambda: client.CreateLoadBalancer(req), field, "BMC CreateLoadBalancer %s" % field)
        base = {"loadBalancerId": lb, "listenerName": "refused", "protocol": "TCP", "portList": [18951],
                "clientToken": "t-" + secrets.token_hex(6)}
        for field, value in self.refused(BMC, "CreateListener"):
            with self.subTest(field=field):
                req = model(B.CreateListenerRequest, **dict(base, **{field: value}))
                self.refuse(lambda: client.CreateListener(req), field, "BMC CreateListener %s" % field)
        for field, value in self.refused(BMC, "HealthCheck"):
            with self.subTest(field="healthCheck." + field):
                req = model(B.CreateListenerRequest, **dict(base, healthCheck={"checkEnabled": True, field: value}))
                self.refuse(lambda: client.CreateListener(req), field, "BMC healthCheck.%s" % field)
