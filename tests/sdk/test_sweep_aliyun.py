"""The "honoured or refused" sweep of Alibaba Cloud SLB through aliyun-python-sdk-slb against a real
`weir serve` (issue 16): every field of every create and update call Weir serves, as the SDK's own
request classes list them, is declared below as HONOURED (sent with a non-default value, the call
succeeds and the matching Describe reads it back) or REFUSED (the call fails with SLB's code and the
store revision does not move). A field the SDK gains that the table does not declare fails the
coverage test, so nothing is accepted and dropped unnoticed. What each field does on the wire is
tested in test_aliyun*.py and test_https_dialects.py; this file is the ledger.

Every address is in 127.0.0.0/8; every wait is bounded.
"""

import importlib
import json

from aliyunsdkslb.request.v20140515 import (
    CreateAccessControlListRequest,
    CreateVServerGroupRequest,
    UploadServerCertificateRequest,
)

from tests.sdk import aliyun_support as ali
from tests.sdk.aliyun_support import AliyunTestCase, servers_json
from tests.sdk.harness import self_signed_pem
from tests.sdk.test_aliyun import req

UNSUPPORTED = "UnsupportedOperation"


class ID:
    """Names what the call acts on (a load balancer, a port, a group): honoured by the call
    finding it, or answering that resource's NotFound."""


class H:
    """Honoured: sent as `value` (with `with_`, the fields it needs), the call succeeds and the
    Describe of `read` shows `expect` (default `value`); `read=None`: the effect has no Describe
    field and is tested on the wire elsewhere (`where`)."""

    def __init__(self, value, read="same", expect="same", with_=None, where=None):
        self.value, self.with_ = value, dict(with_ or {})
        self.read, self.expect, self.where = read, expect, where


class R:
    """Refused: sent as `value`, the call fails with `code` and writes nothing."""

    def __init__(self, value, code=UNSUPPORTED, with_=None):
        self.value, self.code, self.with_ = value, code, dict(with_ or {})


class ONLY:
    """Accepted only as `served`, the value that says what Weir does; `other` is refused."""

    def __init__(self, served, other, code=UNSUPPORTED, read=None):
        self.served, self.other, self.code, self.read = served, other, code, read


# Acting for another Alibaba account: an access key acts for its own project only.
IDENTITY = {"OwnerAccount": R("someone"), "OwnerId": R(1234), "ResourceOwnerAccount": R("someone"),
            "ResourceOwnerId": R(1234)}
TAGS = {"Tags": R([{"Key": "team", "Value": "a"}])}


def health(proto, creating=True):
    """The health-check fields of a listener action, honoured, read back under SLB's names."""
    if proto == "http":
        fields = {
            "HealthCheck": H("on"),
            "HealthCheckInterval": H(7),
            "HealthCheckTimeout": H(4),
            "HealthCheckMethod": H("head"),
        }
    else:
        # The SDK spells the interval healthCheckInterval on creates, HealthCheckInterval on Sets.
        interval = "healthCheckInterval" if creating else "HealthCheckInterval"
        fields = {
            "HealthCheckSwitch": H("on", read="HealthCheck"),
            "HealthCheckConnectTimeout": H(4),
            interval: H(7, read="HealthCheckInterval"),
        }
    fields.update({"HealthCheckConnectPort": H(8082), "HealthyThreshold": H(4), "UnhealthyThreshold": H(5)})
    if proto in ("http", "tcp"):
        http = {"HealthCheckType": "http"} if proto == "tcp" else {}
        fields.update({
            "HealthCheckURI": H("/sweep", with_=http),
            "HealthCheckDomain": H("check.weir.test", with_=http),
            "HealthCheckHttpCode": H("http_3xx", with_=http),
        })
        if proto == "tcp":
            fields["HealthCheckType"] = H("http")
    else:
        fields.update({"healthCheckReq": H("hello", read="HealthCheckReq"),
                       "healthCheckExp": H("world", read="HealthCheckExp", with_={"healthCheckReq": "hello"})})
    return fields


def acl_fields():
    return {"AclStatus": H("on", with_={"AclType": "black", "AclId": "{acl}"}),
            "AclType": H("black", with_={"AclStatus": "on", "AclId": "{acl}"}),
            "AclId": H("{acl}", with_={"AclStatus": "on", "AclType": "black"})}


def stream_fields(proto, creating):
    f = {"LoadBalancerId": ID, "ListenerPort": ID, "Description": H("sweep"), "Scheduler": H("wlc"),
         "Bandwidth": ONLY(-1, 10, read="Bandwidth"), "VServerGroupId": H("{group}", with_=(
             {} if creating else {"VServerGroup": "on"})),
         # The PROXY v2 header precedes a TCP stream; UDP datagrams carry none.
         "ProxyProtocolV2Enabled": H("true", expect=True) if proto == "tcp" else ONLY("false", "true"),
         "MasterSlaveServerGroupId": R("rsp-sweep")}
    f.update(acl_fields())
    f.update(health(proto, creating))
    f.update(IDENTITY)
    if creating:
        f["BackendServerPort"] = H(8081)
        f.update(TAGS)
    else:
        f["VServerGroup"] = H("on", read=None, with_={"VServerGroupId": "{group}"}, where="VServerGroupId")
        f["MasterSlaveServerGroup"] = ONLY("off", "on")
    if proto == "tcp":
        f.update({"EstablishedTimeout": H(120), "PersistenceTimeout": ONLY(0, 30, read="PersistenceTimeout"),
                  "ConnectionDrain": H("on", with_={"ConnectionDrainTimeout": 30}),
                  "ConnectionDrainTimeout": H(30, with_={"ConnectionDrain": "on"})})
        if not creating:
            f["SynProxy"] = ONLY("disable", "enable", read="SynProxy")
    return f


def http_fields(https, creating):
    f = {"LoadBalancerId": ID, "ListenerPort": ID, "Description": H("sweep"), "Scheduler": H("wlc"),
         "Bandwidth": ONLY(-1, 10, read="Bandwidth"), "Gzip": ONLY("off", "on", read="Gzip"),
         "IdleTimeout": H(30), "RequestTimeout": H(90),
         "XForwardedFor": H("off"), "XForwardedFor_proto": H("on"), "XForwardedFor_SLBPORT": H("on"),
         "XForwardedFor_SLBIP": ONLY("off", "on", read="XForwardedFor_SLBIP"),
         "XForwardedFor_SLBID": ONLY("off", "on", read="XForwardedFor_SLBID"),
         "XForwardedFor_ClientSrcPort": ONLY("off", "on", read="XForwardedFor_ClientSrcPort"),
         "StickySession": H("on", with_={"StickySessionType": "insert"}),
         "StickySessionType": H("server", with_={"StickySession": "on", "Cookie": "sid"}),
         "Cookie": H("sid", with_={"StickySession": "on", "StickySessionType": "server"}),
         "CookieTimeout": R(600, with_={"StickySession": "on", "StickySessionType": "insert"}),
         "VServerGroupId": H("{group}", with_=({} if creating else {"VServerGroup": "on"}))}
    f.update(acl_fields())
    f.update(health("http"))
    f.update(IDENTITY)
    if creating:
        f["BackendServerPort"] = H(8081)
        f.update(TAGS)
    else:
        f["VServerGroup"] = H("on", read=None, with_={"VServerGroupId": "{group}"}, where="VServerGroupId")
    if https:
        f.update({"ServerCertificateId": H("{cert2}") if not creating else ID,
                  "EnableHttp2": H("off"),
                  "TLSCipherPolicy": ONLY("tls_cipher_policy_1_2_strict_with_1_3", "tls_cipher_policy_1_0",
                                          read="TLSCipherPolicy"),
                  # Two-way authentication with a CA certificate (test_https_dialects: the handshakes).
                  "CACertificateId": H("{ca}")})
    else:
        f.update({"ListenerForward": H("on", read=None, with_={"ForwardPort": "{https_port}"},
                                       where="test_https_dialects: the 301 to HTTPS"),
                  "ForwardPort": H("{https_port}", read=None, with_={"ListenerForward": "on"},
                                   where="test_https_dialects: the 301 to HTTPS")})
    return f


def plain(*names, **more):
    f = {n: ID for n in names}
    f.update(more)
    f.update(IDENTITY)
    return f


SERVERS = H("{servers}", read=None, where="test_aliyun: the group's servers")
TABLE = {
    "CreateLoadBalancer": dict(
        IDENTITY, VSwitchId=ID, VpcId=ID, LoadBalancerName=H("sweep-lb"), Address=H("{vip}"),
        ClientToken=H("sweep-token", read=None, where="test_aliyun: ClientToken replays"),
        AddressIPVersion=H("ipv4"), AddressType=ONLY("intranet", "internet", read="AddressType"),
        PayType=ONLY("PayOnDemand", "PrePay"), InstanceChargeType=ONLY("PayByCLCU", "PayBySpec"),
        InternetChargeType=ONLY("paybytraffic", "paybybandwidth"), DeleteProtection=ONLY("off", "on"),
        ModificationProtectionStatus=ONLY("NonProtection", "ConsoleProtection"),
        ModificationProtectionReason=R("change window"), AutoPay=R(True), Bandwidth=R(10), Duration=R(1),
        PricingCycle=R("month"), LoadBalancerSpec=R("slb.s2.small"), MasterZoneId=R("local-a"),
        SlaveZoneId=R("local-b"), ResourceGroupId=R("rg-sweep"), Tags=R([{"Key": "team", "Value": "a"}])),
    "SetLoadBalancerStatus": plain("LoadBalancerId", LoadBalancerStatus=H("inactive", read="LoadBalancerStatus")),
    "DeleteLoadBalancer": plain("LoadBalancerId"),
    "CreateLoadBalancerTCPListener": stream_fields("tcp", True),
    "CreateLoadBalancerUDPListener": stream_fields("udp", True),
    "CreateLoadBalancerHTTPListener": http_fields(False, True),
    "CreateLoadBalancerHTTPSListener": http_fields(True, True),
    "SetLoadBalancerTCPListenerAttribute": stream_fields("tcp", False),
    "SetLoadBalancerUDPListenerAttribute": stream_fields("udp", False),
    "SetLoadBalancerHTTPSListenerAttribute": http_fields(True, False),
    "CreateDomainExtension": plain("LoadBalancerId", "ListenerPort", "ServerCertificateId",
                                   Domain=H("sweep.weir.test", read=None, where="DescribeDomainExtensions")),
    "SetDomainExtensionAttribute": plain("DomainExtensionId", ServerCertificateId=H("{cert}", read=None)),
    "DeleteDomainExtension": plain("DomainExtensionId"),
    "StartLoadBalancerListener": plain("LoadBalancerId", "ListenerPort", ListenerProtocol=H("tcp", read=None)),
    "StopLoadBalancerListener": plain("LoadBalancerId", "ListenerPort", ListenerProtocol=H("tcp", read=None)),
    "DeleteLoadBalancerListener": plain("LoadBalancerId", "ListenerPort", ListenerProtocol=H("tcp", read=None)),
    "AddBackendServers": plain("LoadBalancerId", BackendServers=SERVERS),
    "RemoveBackendServers": plain("LoadBalancerId", BackendServers=SERVERS),
    "SetBackendServers": plain("LoadBalancerId", BackendServers=SERVERS),
    "CreateVServerGroup": plain("LoadBalancerId", VServerGroupName=H("sweep-group"), BackendServers=SERVERS,
                                Tags=R([{"Key": "team", "Value": "a"}])),
    "AddVServerGroupBackendServers": plain("VServerGroupId", BackendServers=SERVERS),
    "RemoveVServerGroupBackendServers": plain("VServerGroupId", BackendServers=SERVERS),
    "SetVServerGroupAttribute": plain("VServerGroupId", VServerGroupName=H("renamed"), BackendServers=SERVERS),
    "ModifyVServerGroupBackendServers": plain("VServerGroupId", OldBackendServers=SERVERS,
                                              NewBackendServers=SERVERS),
    "DeleteVServerGroup": plain("VServerGroupId"),
    "UploadServerCertificate": plain(
        "ServerCertificate", "PrivateKey", ServerCertificateName=H("sweep-cert", read=None),
        AliCloudCertificateId=R("ali-1"), AliCloudCertificateName=R("ali"), AliCloudCertificateRegionId=R("local"),
        ResourceGroupId=R("rg-sweep"), Tags=R([{"Key": "team", "Value": "a"}])),
    "DeleteServerCertificate": plain("ServerCertificateId"),
    "UploadCACertificate": plain("CACertificate", CACertificateName=H("sweep-ca", read=None),
                                 ResourceGroupId=R("rg-sweep"), Tags=R([{"Key": "team", "Value": "a"}])),
    "DeleteCACertificate": plain("CACertificateId"),
    "CreateAccessControlList": plain(AclName=H("sweep-acl"), AddressIPVersion=H("ipv6"),
                                     ResourceGroupId=R("rg-sweep"), Tags=R([{"Key": "team", "Value": "a"}])),
    "AddAccessControlListEntry": plain("AclId", AclEntrys=H("{entries}", read=None)),
    "RemoveAccessControlListEntry": plain("AclId", AclEntrys=H("{entries}", read=None)),
    "SetAccessControlListAttribute": plain("AclId", AclName=H("renamed-acl")),
    "DeleteAccessControlList": plain("AclId"),
}

# The calls whose HONOURED fields the sweep sends one by one and reads back here, with the
# Describe that shows them; the rest are exercised on the wire by the files named in `where`.
LISTENERS = {
    "CreateLoadBalancerTCPListener": "tcp", "CreateLoadBalancerUDPListener": "udp",
    "CreateLoadBalancerHTTPListener": "http", "CreateLoadBalancerHTTPSListener": "https",
    "SetLoadBalancerTCPListenerAttribute": "tcp", "SetLoadBalancerUDPListenerAttribute": "udp",
    "SetLoadBalancerHTTPSListenerAttribute": "https",
}
SERVED_ACTIONS = sorted(TABLE)

SDK_PLUMBING = {"accept_format", "action_name", "body_params", "content", "content_type", "endpoint", "headers",
                "location_service_code", "method", "product", "protocol_type", "query_params", "uri_params",
                "uri_pattern", "user_agent", "version", "read_timeout", "connect_timeout", "endpoint_type",
                "path_params", "signer", "style", "request_network", "product_suffix",
                "location_endpoint_type"}


def sdk_fields(action):
    """The fields the SDK's request class for `action` can set."""
    module = importlib.import_module("aliyunsdkslb.request.v20140515.%sRequest" % action)
    request = getattr(module, action + "Request")()
    return {n[4:] for n in dir(request) if n.startswith("set_") and n[4:].lower() not in SDK_PLUMBING}


def sdk_request(action, params):
    module = importlib.import_module("aliyunsdkslb.request.v20140515.%sRequest" % action)
    return req(module, **params)


class AliyunSweep(AliyunTestCase):

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("ali-sweep")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")
        cls.inst = cls.native.instance(cls.p, cls.subnet, "127.0.0.233", name="sweep-backend")

    def setUp(self):
        self.client = self.classic(self.p)

    # ---- fixtures ------------------------------------------------------------------

    def call(self, action, params):
        return self.acs(self.client, sdk_request(action, params), "%s %r" % (action, params))

    def lb(self):
        made = self.call("CreateLoadBalancer", {"VSwitchId": self.subnet["id"], "VpcId": self.vpc["id"]})
        return made["LoadBalancerId"], ali.assert_loopback(made["Address"])

    def cert(self, name):
        cert, key = self_signed_pem(name)
        return self.acs(self.client, req(UploadServerCertificateRequest, ServerCertificate=cert, PrivateKey=key,
                                         ServerCertificateName=name))["ServerCertificateId"]

    def world(self):
        """One load balancer with a VServer group, an ACL, two certificates and an HTTPS listener;
        the placeholders the table's values name."""
        lb_id, address = self.lb()
        group = self.acs(self.client, req(CreateVServerGroupRequest, LoadBalancerId=lb_id,
                                          VServerGroupName="sweep"))["VServerGroupId"]
        acl = self.acs(self.client, req(CreateAccessControlListRequest, AclName="sweep"))["AclId"]
        https_port = ali.free_port(address)
        cert = self.cert("sweep.weir.test")
        self.call("CreateLoadBalancerHTTPSListener", {"LoadBalancerId": lb_id, "ListenerPort": https_port,
                                                      "BackendServerPort": 443, "Bandwidth": -1,
                                                      "ServerCertificateId": cert})
        return {"lb": lb_id, "address": address, "vip": self.vip(231), "group": group, "acl": acl, "cert": cert,
                "cert2": self.cert("sweep.weir.test"), "https_port": https_port,
                "ca": self.call("UploadCACertificate", {
                    "CACertificate": self_signed_pem("ca.sweep.weir.test")[0]})["CACertificateId"],
                "servers": servers_json({"ServerId": self.inst["id"], "Weight": "50"}),
                "entries": json.dumps([{"entry": "127.0.0.250/32", "comment": "sweep"}])}

    def vip(self, n):
        """Address `n` of this server's VIP range (a loopback /24 of its own)."""
        net = self.server.config["network"]["vip_ranges"][0]
        return ali.assert_loopback(".".join(net.split("/")[0].split(".")[:3] + [str(n)]))

    def fill(self, value, w):
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            return w[value[1:-1]]
        return value

    def describe(self, proto, lb_id, port):
        action = "DescribeLoadBalancer%sListenerAttribute" % proto.upper()
        return self.call(action, {"LoadBalancerId": lb_id, "ListenerPort": port})

    # ---- the ledger is complete ------------------------------------------------------

    def test_the_table_declares_every_sdk_field_of_every_write_call(self):
        for action in SERVED_ACTIONS:
            with self.subTest(action=action):
                self.assertEqual(set(TABLE[action]), sdk_fields(action),
                                 "%s: the table and the SDK's request fields differ" % action)
                for field, outcome in TABLE[action].items():
                    self.assertTrue(outcome is ID or isinstance(outcome, (H, R, ONLY)), (action, field))

    # ---- refusals: the code, and nothing written -----------------------------------------

    def base(self, action, w, port):
        """The smallest valid request of `action` in world `w` (port: a free listener port)."""
        lb, group, acl = w["lb"], w["group"], w["acl"]
        if action == "CreateLoadBalancer":
            return {"VSwitchId": self.subnet["id"]}
        if action.startswith("CreateLoadBalancer"):
            extra = {"ServerCertificateId": w["cert"]} if "HTTPS" in action else {}
            return dict(extra, LoadBalancerId=lb, ListenerPort=port, BackendServerPort=80, Bandwidth=-1)
        if action.startswith("SetLoadBalancer") and action != "SetLoadBalancerStatus":
            return {"LoadBalancerId": lb, "ListenerPort": w["ports"][LISTENERS[action]]}
        ids = {"LoadBalancerId": lb, "VServerGroupId": group, "AclId": acl}
        fields = TABLE[action]
        return {k: v for k, v in ids.items() if k in fields and fields[k] is ID}

    def with_listeners(self, w):
        """A listener of each protocol for the Set actions."""
        w["ports"] = {"https": w["https_port"]}
        for proto in ("tcp", "udp"):
            port = ali.free_port(w["address"])
            self.call("CreateLoadBalancer%sListener" % proto.upper(), {
                "LoadBalancerId": w["lb"], "ListenerPort": port, "BackendServerPort": 80, "Bandwidth": -1})
            w["ports"][proto] = port
        return w

    def test_refused_fields_are_refused_with_slb_codes_and_write_nothing(self):
        w = self.with_listeners(self.world())
        port = ali.free_port(w["address"])
        for action in SERVED_ACTIONS:
            for field, outcome in TABLE[action].items():
                if isinstance(outcome, R):
                    value, code, with_ = outcome.value, outcome.code, outcome.with_
                elif isinstance(outcome, ONLY):
                    value, code, with_ = outcome.other, outcome.code, {}
                else:
                    continue
                params = self.base(action, w, port)
                params.update({k: self.fill(v, w) for k, v in with_.items()})
                params[field] = self.fill(value, w)
                with self.subTest(action=action, field=field):
                    before = self.revision()
                    err = self.assertAcsError(lambda: self.client.do_action_with_exception(
                        sdk_request(action, params)), code, 400, "%s with %s=%r" % (action, field, value))
                    # Tags go out as Tag.N.Key: the message names what was sent.
                    self.assertIn(field.lower().replace("tags", "tag"), err.get_error_msg().lower(),
                                  "%s: the message does not name %s" % (action, field))
                    self.assertEqual(self.revision(), before, "%s %s: a refusal wrote" % (action, field))

    def test_values_that_say_what_weir_does_are_accepted(self):
        w = self.with_listeners(self.world())
        for action in ("CreateLoadBalancer", "SetLoadBalancerTCPListenerAttribute",
                       "SetLoadBalancerHTTPSListenerAttribute", "CreateLoadBalancerTCPListener",
                       "CreateLoadBalancerHTTPListener"):
            served = {f: o for f, o in TABLE[action].items() if isinstance(o, ONLY)}
            params = self.base(action, w, ali.free_port(w["address"]))
            params.update({f: o.served for f, o in served.items()})
            with self.subTest(action=action):
                made = self.call(action, params)
                if action == "CreateLoadBalancer":
                    got = self.call("DescribeLoadBalancerAttribute", {"LoadBalancerId": made["LoadBalancerId"]})
                else:
                    proto = "tcp" if "TCP" in action else "https" if "HTTPS" in action else "http"
                    got = self.describe(proto, w["lb"], params["ListenerPort"])
                for field, o in served.items():
                    if o.read:
                        self.assertEqual(str(got.get(o.read)), str(o.served), "%s %s" % (action, field))

    # ---- honoured: sent one by one, read back ----------------------------------------------

    def honoured(self, action):
        return {f: o for f, o in TABLE[action].items() if isinstance(o, H) and o.read is not None}

    def expected(self, field, o, w):
        value = o.value if o.expect == "same" else o.expect
        return self.fill(value, w)

    def assertRead(self, got, field, o, w, what):
        key = field if o.read == "same" else o.read
        want = self.expected(field, o, w)
        self.assertEqual(str(got.get(key)).lower(), str(want).lower(),
                         "%s: %s=%r read back as %s=%r" % (what, field, o.value, key, got.get(key)))

    def test_listener_creates_honour_each_field(self):
        w = self.world()
        for action in sorted(a for a in LISTENERS if a.startswith("Create")):
            proto = LISTENERS[action]
            for field, o in self.honoured(action).items():
                port = ali.free_port(w["address"])
                params = self.base(action, w, port)
                params.update({k: self.fill(v, w) for k, v in o.with_.items()})
                params[field] = self.fill(o.value, w)
                if field == "VServerGroupId":
                    params.pop("BackendServerPort")
                with self.subTest(action=action, field=field):
                    self.call(action, params)
                    self.assertRead(self.describe(proto, w["lb"], port), field, o, w, action)
                    self.call("DeleteLoadBalancerListener", {"LoadBalancerId": w["lb"], "ListenerPort": port})

    def test_listener_sets_honour_each_field(self):
        w = self.with_listeners(self.world())
        for action in sorted(a for a in LISTENERS if a.startswith("Set")):
            proto = LISTENERS[action]
            for field, o in self.honoured(action).items():
                params = self.base(action, w, None)
                params.update({k: self.fill(v, w) for k, v in o.with_.items()})
                params[field] = self.fill(o.value, w)
                with self.subTest(action=action, field=field):
                    self.call(action, params)
                    self.assertRead(self.describe(proto, w["lb"], params["ListenerPort"]), field, o, w, action)

    def test_other_writes_honour_each_field(self):
        w = self.world()
        made = self.call("CreateLoadBalancer", {"VSwitchId": self.subnet["id"], "LoadBalancerName": "sweep-lb",
                                                "Address": w["vip"], "AddressIPVersion": "ipv4"})
        got = self.call("DescribeLoadBalancerAttribute", {"LoadBalancerId": made["LoadBalancerId"]})
        self.assertEqual((got["LoadBalancerName"], got["Address"], got["AddressIPVersion"]),
                         ("sweep-lb", w["vip"], "ipv4"))
        self.assertAcsError(lambda: self.client.do_action_with_exception(sdk_request("CreateLoadBalancer", {
            "VSwitchId": self.subnet["id"], "AddressIPVersion": "ipv6"})), "InvalidParameter", 400,
            "an IPv6 load balancer on an IPv4 VSwitch")
        self.call("SetLoadBalancerStatus", {"LoadBalancerId": made["LoadBalancerId"],
                                            "LoadBalancerStatus": "inactive"})
        got = self.call("DescribeLoadBalancerAttribute", {"LoadBalancerId": made["LoadBalancerId"]})
        self.assertEqual(got["LoadBalancerStatus"], "inactive")
        self.call("SetVServerGroupAttribute", {"VServerGroupId": w["group"], "VServerGroupName": "renamed"})
        got = self.call("DescribeVServerGroupAttribute", {"VServerGroupId": w["group"]})
        self.assertEqual(got["VServerGroupName"], "renamed")
        made = self.call("CreateAccessControlList", {"AclName": "sweep-acl", "AddressIPVersion": "ipv6"})
        got = self.call("DescribeAccessControlListAttribute", {"AclId": made["AclId"]})
        self.assertEqual((got["AclName"], got["AddressIPVersion"]), ("sweep-acl", "ipv6"))
        self.call("SetAccessControlListAttribute", {"AclId": made["AclId"], "AclName": "renamed-acl"})
        got = self.call("DescribeAccessControlListAttribute", {"AclId": made["AclId"]})
        self.assertEqual(got["AclName"], "renamed-acl")
        self.call("CreateDomainExtension", {"LoadBalancerId": w["lb"], "ListenerPort": w["https_port"],
                                            "Domain": "sweep.weir.test", "ServerCertificateId": w["cert"]})
        got = self.call("DescribeDomainExtensions", {"LoadBalancerId": w["lb"], "ListenerPort": w["https_port"]})
        self.assertEqual([d["Domain"] for d in got["DomainExtensions"]["DomainExtension"]], ["sweep.weir.test"])


    # ---- reads: a filter Weir would not apply is refused --------------------------------------

    def test_describe_filters_are_applied_or_refused(self):
        w = self.world()
        listed = lambda **f: {lb["LoadBalancerId"] for lb in self.call(  # noqa: E731
            "DescribeLoadBalancers", f)["LoadBalancers"]["LoadBalancer"]}
        self.assertIn(w["lb"], listed(Address=w["address"], AddressIPVersion="ipv4", AddressType="intranet",
                                      NetworkType="vpc", LoadBalancerStatus="active"))
        self.assertEqual(listed(LoadBalancerId=w["lb"], AddressType="internet"), set())
        self.assertEqual(listed(LoadBalancerId=w["lb"], AddressIPVersion="ipv6"), set())
        self.assertEqual(listed(LoadBalancerId=w["lb"], LoadBalancerStatus="inactive"), set())
        self.assertEqual(listed(Address="127.0.0.254"), set())
        for field, value in (("ServerId", "i-1"), ("MasterZoneId", "local-a"), ("PayType", "PayOnDemand"),
                             ("Tags", [{"Key": "team", "Value": "a"}]), ("ResourceGroupId", "rg-1")):
            with self.subTest(field=field):
                self.assertAcsError(lambda: self.client.do_action_with_exception(sdk_request(
                    "DescribeLoadBalancers", {field: value})), UNSUPPORTED, 400, "DescribeLoadBalancers %s" % field)
        groups = lambda **f: [g["VServerGroupName"] for g in self.call(  # noqa: E731
            "DescribeVServerGroups", dict(LoadBalancerId=w["lb"], **f))["VServerGroups"]["VServerGroup"]]
        self.assertEqual(groups(Description="sweep"), ["sweep"])
        self.assertEqual(groups(Description="nothing-by-this-name"), [])
