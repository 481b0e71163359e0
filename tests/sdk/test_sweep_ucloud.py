"""The "honoured or refused" sweep of UCloud ULB through ucloud-sdk-python3 against a real `weir serve`
(issue 16): every field of every ULB action Weir serves, as the SDK's request schemas list them, is
declared below as HONOURED (sent with a non-default value, the call succeeds and DescribeULB or
DescribeVServer reads it back) or REFUSED (RetCode 230 naming the field, and the store revision does
not move). A field the SDK gains that the table does not declare fails the coverage test. What each
field does on the wire is tested in test_ucloud.py, test_https_dialects.py and test_udp_checks.py.

Every address is in 127.0.0.0/8; every wait is bounded.
"""

from ucloud.services.ulb.schemas import apis

from tests.sdk import harness as h
from tests.sdk.harness import self_signed_pem

INVALID = 230


class ID:
    """Names what the call acts on, or the caller's region and project (checked on every call)."""


class H:
    """Honoured: sent as `value` (with `with_`), the call succeeds and `read` in the Describe view
    equals `expect` (default `value`); `read=None`: no Describe field shows it, tested on the wire
    in the file `where` names."""

    def __init__(self, value, read="same", expect="same", with_=None, where=None):
        self.value, self.read, self.expect, self.with_, self.where = value, read, expect, dict(with_ or {}), where


class R:
    """Refused: sent as `value`, RetCode 230 naming the field; nothing written."""

    def __init__(self, value, with_=None):
        self.value, self.with_ = value, dict(with_ or {})


class ONLY:
    """Accepted only as `served`, which says what Weir does; `other` is refused (230)."""

    def __init__(self, served, other):
        self.served, self.other = served, other


COMMON = {"Region": ID, "ProjectId": ID}


def vserver_fields(creating):
    f = dict(COMMON, ULBId=ID, VServerName=H("sweep-vs"), Method=H("Leastconn"),
             ClientTimeout=H(120), PersistenceType=H("ServerInsert"),
             PersistenceInfo=H("sid", with_={"PersistenceType": "UserDefined"}),
             EnableCompression=ONLY(0, 1), SecurityPolicyId=R("secpolicy-1"),
             # HTTP VServers only; the target is the world's HTTPS VServer.
             ForwardPort=H("{https_port}", read=None, where="test_https_dialects: the 301 to HTTPS"),
             EnableHTTP2=H(1, read=None, where="test_https_dialects: ALPN h2 (an HTTPS VServer's option)"))
    if creating:
        f.update(Protocol=H("HTTP"), FrontendPort=ID, ListenType=H("RequestProxy"),
                 MonitorType=H("Path", with_={"Path": "/sweep"}), Path=H("/sweep", with_={"MonitorType": "Path"}),
                 Domain=H("check.weir.test", read=None, with_={"MonitorType": "Path", "Path": "/"},
                          where="test_ucloud: the Path check's Host"),
                 RequestMsg=H("ping", read=None, where="test_udp_checks (a UDP VServer's check)"),
                 ResponseMsg=H("pong", read=None, where="test_udp_checks (a UDP VServer's check)"))
    else:
        f.update(VServerId=ID, Protocol=ONLY("HTTP", "TCP"), MonitorType=R("Ping"), Path=R("/other"),
                 Domain=R("check.weir.test"), RequestMsg=R("ping"), ResponseMsg=R("pong"))
    return f


TABLE = {
    "CreateULB": dict(COMMON, ULBName=H("sweep-ulb"), VPCId=ID, SubnetId=ID, PrivateIp=H("{vip}", read="PrivateIP"),
                      Remark=H("sweep remark"), IPVersion=H("IPv4"), InnerMode=ONLY("Yes", "No"),
                      OuterMode=ONLY("No", "Yes"), ListenType=ONLY("RequestProxy", "PacketsTransmit"),
                      ChargeType=ONLY("Dynamic", "Month"), Tag=ONLY("Default", "team-a"),
                      BusinessId=R("business-1"), FirewallId=R("firewall-1")),
    # No EIPs exist, so none is released either way.
    "DeleteULB": dict(COMMON, ULBId=ID, ReleaseEip=H(True, read=None, where="no EIPs: nothing to release")),
    "CreateVServer": vserver_fields(True),
    "UpdateVServerAttribute": vserver_fields(False),
    "DeleteVServer": dict(COMMON, ULBId=ID, VServerId=ID),
    "AllocateBackend": dict(COMMON, ULBId=ID, VServerId=ID, ResourceType=ID, ResourceId=ID, ResourceIP=ID,
                            VPCId=ID, SubnetId=ID,
                            Port=H(8081, read=None, where="test_ucloud: the backend's port"),
                            Weight=H(7, read=None, where="test_ucloud"), Enabled=H(0, read=None, where="test_ucloud"),
                            IsBackup=H(1, read=None, where="test_ucloud")),
    "AllocateBackendBatch": dict(COMMON, ULBId=ID, VServerId=ID, Backends=ID,
                                 ApiVersion=H(1, read=None, where="test_ucloud: the address form")),
    "UpdateBackendAttribute": dict(COMMON, ULBId=ID, BackendId=ID,
                                   Port=H(8082, read=None, where="test_ucloud: Port moves the backend"),
                                   Weight=H(9, read=None, where="test_ucloud"), Enabled=H(0, read=None, where="test_ucloud"),
                                   IsBackup=H(1, read=None, where="test_ucloud")),
    "ReleaseBackend": dict(COMMON, ULBId=ID, BackendId=ID),
    "CreateSSL": dict(COMMON, SSLName=H("sweep-ssl", read=None), SSLType=H("Pem", read=None), SSLContent=ID,
                      UserCert=ID, PrivateKey=ID, CaCert=ID, USSLId=R("ussl-1")),
    "DeleteSSL": dict(COMMON, SSLId=ID),
    "BindSSL": dict(COMMON, ULBId=ID, VServerId=ID, SSLId=ID),
    "UnbindSSL": dict(COMMON, ULBId=ID, VServerId=ID, SSLId=ID),
}
READS = ("DescribeULB", "DescribeULBSimple", "DescribeVServer", "DescribeSSL")


def sdk_fields(action):
    return set(getattr(apis, action + "RequestSchema").fields)


class UCloudSweep(h.WeirTestCase):

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("uc-sweep")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")
        cls.inst = cls.native.instance(cls.p, cls.subnet, "127.0.0.222", name="sweep-backend")

    def setUp(self):
        self.client = self.ulb(self.p)

    def revision(self):
        status, body = self.native.call("GET", "/healthz")
        self.assertEqual(status, 200, body)
        return body["revision"]

    def call(self, action, params):
        return self.step("%s %r" % (action, params), lambda: self.client.invoke(action, params))

    def world(self):
        ulb_id = self.uc_ulb(self.client, self.vpc, self.subnet)
        address = next(u for u in self.call("DescribeULB", {"ULBId": ulb_id})["DataSet"])["PrivateIP"]
        h.assert_loopback(address)
        https_port = h.free_port(address)
        https = self.uc_vserver(self.client, ulb_id, port=https_port, protocol="HTTPS")
        http_port = h.free_port(address)
        http = self.uc_vserver(self.client, ulb_id, port=http_port, protocol="HTTP")
        backend = self.call("AllocateBackend", {"ULBId": ulb_id, "VServerId": http, "ResourceType": "UHost",
                                                "ResourceId": self.inst["id"], "Port": 8080})["BackendId"]
        return {"ulb": ulb_id, "address": address, "https": https, "https_port": https_port, "http": http,
                "backend": backend, "backend_port": 8080}

    def vip(self, n):
        """Address `n` of this server's VIP range (a loopback /24 of its own)."""
        net = self.server.config["network"]["vip_ranges"][0]
        return h.assert_loopback(".".join(net.split("/")[0].split(".")[:3] + [str(n)]))

    def fill(self, value, w):
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            return w[value[1:-1]]
        return value

    def base(self, action, w):
        if action == "CreateULB":
            return {"SubnetId": self.subnet["id"], "VPCId": self.vpc["id"]}
        if action == "CreateVServer":
            return {"ULBId": w["ulb"], "Protocol": "HTTP", "FrontendPort": h.free_port(w["address"])}
        if action == "UpdateVServerAttribute":
            return {"ULBId": w["ulb"], "VServerId": w["http"]}
        if action == "UpdateBackendAttribute":
            return {"ULBId": w["ulb"], "BackendId": w["backend"]}
        if action == "CreateSSL":
            cert, key = self_signed_pem("sweep.weir.test")
            return {"SSLName": "sweep", "UserCert": cert, "PrivateKey": key}
        return {"ULBId": w["ulb"]}

    def vserver(self, w, vserver_id):
        got = self.call("DescribeVServer", {"ULBId": w["ulb"], "VServerId": vserver_id})["DataSet"]
        self.assertEqual(len(got), 1, got)
        return got[0]

    # ---- the ledger is complete ------------------------------------------------------

    def test_the_table_declares_every_sdk_field_of_every_write_call(self):
        for action, fields in TABLE.items():
            with self.subTest(action=action):
                self.assertEqual(set(fields), sdk_fields(action), action)
                self.assertTrue(all(o is ID or isinstance(o, (H, R, ONLY)) for o in fields.values()), action)

    def test_unknown_and_unread_parameters_are_refused_on_every_action(self):
        w = self.world()
        for action in list(TABLE) + list(READS):
            with self.subTest(action=action):
                before = self.revision()
                self.assertUcError(lambda: self.client.invoke(action, dict(self.base(action, w), NoSuchField="1")),
                                   INVALID, "%s with an unknown field" % action, message_re="NoSuchField")
                self.assertEqual(self.revision(), before)
        self.assertUcError(lambda: self.client.invoke("DescribeULB", {"BusinessId": "b-1"}), INVALID,
                           "a DescribeULB filter Weir does not apply", message_re="BusinessId")

    # ---- refusals ------------------------------------------------------------------------

    def test_refused_fields_answer_230_and_write_nothing(self):
        w = self.world()
        for action, fields in TABLE.items():
            for field, o in fields.items():
                if isinstance(o, R):
                    value, with_ = o.value, o.with_
                elif isinstance(o, ONLY):
                    value, with_ = o.other, {}
                else:
                    continue
                params = self.base(action, w)
                params.update({k: self.fill(v, w) for k, v in with_.items()})
                params[field] = self.fill(value, w)
                with self.subTest(action=action, field=field):
                    before = self.revision()
                    self.assertUcError(lambda: self.client.invoke(action, params), INVALID,
                                       "%s %s=%r" % (action, field, value), message_re=field)
                    self.assertEqual(self.revision(), before, "%s %s: a refusal wrote" % (action, field))

    def test_values_that_say_what_weir_does_are_accepted(self):
        w = self.world()
        for action in ("CreateULB", "CreateVServer", "UpdateVServerAttribute", "UpdateBackendAttribute"):
            params = self.base(action, w)
            params.update({f: self.fill(o.served, w) for f, o in TABLE[action].items() if isinstance(o, ONLY)})
            with self.subTest(action=action):
                self.call(action, params)

    # ---- honoured, read back ---------------------------------------------------------------

    def assertRead(self, got, field, o, w, what):
        key = field if o.read == "same" else o.read
        want = self.fill(o.value if o.expect == "same" else o.expect, w)
        self.assertEqual(str(got.get(key)), str(want), "%s: %s=%r read back as %s=%r" % (
            what, field, o.value, key, got.get(key)))

    def test_create_ulb_honours_each_field(self):
        w = {"vip": self.vip(221)}
        for field, o in TABLE["CreateULB"].items():
            if not isinstance(o, H):
                continue
            params = dict(self.base("CreateULB", w), **o.with_)
            params[field] = self.fill(o.value, w)
            with self.subTest(field=field):
                ulb_id = self.call("CreateULB", params)["ULBId"]
                got = self.call("DescribeULB", {"ULBId": ulb_id})["DataSet"][0]
                self.assertRead(got, field, o, w, "CreateULB")
                self.call("DeleteULB", {"ULBId": ulb_id})
        self.assertUcError(lambda: self.client.invoke("CreateULB", dict(self.base("CreateULB", None),
                                                                        IPVersion="IPv6")),
                           INVALID, "an IPv6 ULB in an IPv4 subnet", message_re="IPVersion")

    def test_vservers_honour_each_field(self):
        w = self.world()
        for action in ("CreateVServer", "UpdateVServerAttribute"):
            for field, o in TABLE[action].items():
                if not isinstance(o, H) or o.read is None:
                    continue
                params = self.base(action, w)
                params.update({k: self.fill(v, w) for k, v in o.with_.items()})
                params[field] = self.fill(o.value, w)
                with self.subTest(action=action, field=field):
                    made = self.call(action, params)
                    vserver_id = made.get("VServerId") or w["http"]
                    self.assertRead(self.vserver(w, vserver_id), field, o, w, action)
                    if action == "CreateVServer":
                        self.call("DeleteVServer", {"ULBId": w["ulb"], "VServerId": vserver_id})
