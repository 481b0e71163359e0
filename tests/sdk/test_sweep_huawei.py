"""The "honoured or refused" sweep of Huawei ELB v2 (shared load balancers) through huaweicloudsdkelb against
a real `weir serve` (issue 16): every field of the create and update request models of load balancers,
listeners, pools, members, health monitors, L7 policies and L7 rules is declared below as HONOURED (sent
one at a time with a non-default value; the answer reads it back) or REFUSED (the ELB error status and
code, and nothing written), or as the call's identity. A field the SDK gains that the table does not
declare fails the coverage test. Whitelists and certificates have their own files (test_huawei_whitelists,
test_https_dialects).

Every address is in 127.0.0.0/8 or a test-only 10.x inventory that is never dialled.
"""

import secrets

from tests.sdk.lbaas_support import (LbaasTestCase, World, assert_loopback, elb, free_port, hw_create_lb,
                                     hw_create_listener, hw_create_member, hw_create_pool, hw_exc)

ID = "identity"
TLS = "test_https_dialects (TERMINATED_HTTPS listeners)"
MTLS = "test_huawei_mtls (two-way authentication)"


class H:
    """Honoured: `value` is read back as `expect` (default `value`); `where`: not sent here."""

    def __init__(self, value=None, expect="same", where=None):
        self.value, self.expect, self.where = value, expect, where


class R:
    """Refused with HTTP `status` and ELB `code`."""

    def __init__(self, value, status=400, code="ELB.1001", names=None):
        self.value, self.status, self.code, self.names = value, status, code, names


UNSUPPORTED = 501, "ELB.1005"
# The SDK's InsertHeader model has two headers, and Weir adds neither (X-Forwarded-For, -Proto and -Port
# it does add, through the raw API: docs/dialects/huawei.md).
INSERT_HEADERS = R(elb.InsertHeader(x_forwarded_host=True), *UNSUPPORTED, names="X-Forwarded-Host")
PROTECTION = {"protection_status": R("consoleProtection"), "protection_reason": R("change window")}
COMMON = {"admin_state_up": H(False), "tenant_id": H("{project}")}
CREATE = {
    "Loadbalancer": dict(COMMON, **PROTECTION, vip_subnet_id=ID, name=H("sweep-lb"), description=H("sweep"),
                         vip_address=H("{vip}"), provider=H("weir"), enterprise_project_id=R("0"),
                         prepaid_options=R({"period_type": "month", "period_num": 1})),
    "Listener": dict(COMMON, **PROTECTION, loadbalancer_id=ID, protocol=ID, protocol_port=ID, name=H("sweep-l"),
                     description=H("sweep"), connection_limit=H(10), default_pool_id=H("{pool}"),
                     insert_headers=INSERT_HEADERS,
                     default_tls_container_ref=H(where=TLS), sni_container_refs=H(where=TLS),
                     http2_enable=H(where=TLS), client_ca_tls_container_ref=H(where=MTLS),
                     tls_ciphers_policy=R("tls-1-2", *UNSUPPORTED)),
    "Pool": dict(COMMON, **PROTECTION, protocol=ID, lb_algorithm=ID, loadbalancer_id=ID, listener_id=ID,
                 name=H("sweep-p"), description=H("sweep"), session_persistence=H({"type": "HTTP_COOKIE"})),
    # Seed 004: a member is registered enabled.
    "Member": dict(COMMON, admin_state_up=R(False), address=ID, protocol_port=ID, subnet_id=ID, name=H("sweep-m"),
                   weight=H(5)),
    "Healthmonitor": dict(COMMON, pool_id=ID, type=ID, delay=H(7), timeout=H(4), max_retries=H(5),
                          name=H("sweep-hm"), domain_name=H("check.weir.test"), expected_codes=H("201"),
                          http_method=H("HEAD"), monitor_port=H(8081), url_path=H("/x")),
    "L7policy": dict(COMMON, listener_id=ID, action=ID, name=H("sweep-7"), description=H("sweep"), position=H(1),
                     redirect_pool_id=H("{pool}"), redirect_url=H(where="test_huawei: L7"),
                     rules=H(where="test_huawei: rules made with their policy"),
                     redirect_listener_id=R("{listener}")),
    "L7rule": dict(COMMON, type=ID, compare_type=H("STARTS_WITH"), value=H("/api"), key=H(where="test_huawei"),
                   invert=H(True)),
}

UPDATE = {
    "Loadbalancer": dict(PROTECTION, admin_state_up=H(False), name=H("renamed"), description=H("changed")),
    "Listener": dict(PROTECTION, admin_state_up=H(False), name=H("renamed"), description=H("changed"),
                     connection_limit=H(20), default_pool_id=H("{pool}"), insert_headers=INSERT_HEADERS,
                     default_tls_container_ref=H(where=TLS), sni_container_refs=H(where=TLS), http2_enable=H(where=TLS),
                     client_ca_tls_container_ref=H(where=MTLS),
                     tls_ciphers_policy=R("tls-1-2", *UNSUPPORTED)),
    "Pool": dict(PROTECTION, admin_state_up=H(False), name=H("renamed"), description=H("changed"),
                 lb_algorithm=H("LEAST_CONNECTIONS"), session_persistence=H({"type": "SOURCE_IP"})),
    # Registered enabled, then disabled like any member.
    "Member": dict(admin_state_up=H(False), name=H("renamed"), weight=H(9)),
    "Healthmonitor": dict(admin_state_up=H(False), delay=H(9), timeout=H(6), max_retries=H(7), name=H("renamed"),
                          domain_name=H("other.weir.test"), expected_codes=H("202"), http_method=H("GET"),
                          monitor_port=H(8082), url_path=H("/y"), type=R("TCP")),
    "L7policy": dict(admin_state_up=H(False), name=H("renamed"), description=H("changed"),
                     redirect_pool_id=H("{pool}"), redirect_listener_id=R("{listener}")),
    "L7rule": dict(admin_state_up=H(False), compare_type=H("STARTS_WITH"), invert=H(True),
                   key=H(where="test_huawei"), value=H("/other")),
}


def sdk_fields(name):
    return set(getattr(elb, name).openapi_types)


class HuaweiSweep(LbaasTestCase):

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "hsweep", 10, 95, vms=0)

    def setUp(self):
        self.client = self.hw(self.world.project)
        self.lb = self.client.create_loadbalancer(hw_create_lb(self.world.subnet["id"])).loadbalancer
        self.listener = self.client.create_listener(hw_create_listener(
            self.lb.id, "HTTP", free_port(self.lb.vip_address))).listener
        self.pool = self.client.create_pool(hw_create_pool("HTTP", "ROUND_ROBIN", loadbalancer_id=self.lb.id)).pool
        net = self.server.config["network"]["vip_ranges"][0]
        self.w = {"project": self.world.project.id, "pool": self.pool.id, "listener": self.listener.id,
                  "vip": assert_loopback(".".join(net.split("/")[0].split(".")[:3] + ["232"]))}
        subnet = self.world.subnet["cidr"].split("/")[0].rsplit(".", 1)[0]
        self.member_address = subnet + ".61"

    def fill(self, v):
        if isinstance(v, str) and v.startswith("{") and v.endswith("}"):
            return self.w[v[1:-1]]
        return v

    def create(self, kind, **f):
        c = self.client
        if kind == "Loadbalancer":
            return c.create_loadbalancer(hw_create_lb(self.world.subnet["id"], **f)).loadbalancer
        if kind == "Listener":
            return c.create_listener(hw_create_listener(self.lb.id, "HTTP", free_port(self.lb.vip_address), **f)).listener
        if kind == "Pool":
            return c.create_pool(hw_create_pool("HTTP", "ROUND_ROBIN", loadbalancer_id=self.lb.id, **f)).pool
        if kind == "Member":
            return c.create_member(hw_create_member(self.pool.id, address=self.member_address, subnet_id=self.world.subnet["id"],
                                                    protocol_port=9000 + secrets.randbelow(900), **f)).member
        if kind == "Healthmonitor":
            p = c.create_pool(hw_create_pool("HTTP", "ROUND_ROBIN", loadbalancer_id=self.lb.id)).pool
            base = dict(pool_id=p.id, type="HTTP", delay=5, timeout=3, max_retries=3)
            base.update(f)
            return c.create_healthmonitor(elb.CreateHealthmonitorRequest(body=elb.CreateHealthmonitorRequestBody(
                healthmonitor=elb.CreateHealthmonitorReq(**base)))).healthmonitor
        if kind == "L7policy":
            base = dict(listener_id=self.listener.id, action="REDIRECT_TO_POOL", redirect_pool_id=self.pool.id)
            base.update(f)
            return c.create_l7policy(elb.CreateL7policyRequest(body=elb.CreateL7policyRequestBody(
                l7policy=elb.CreateL7policyReq(**base)))).l7policy
        if kind == "L7rule":
            policy = self.create("L7policy")
            self._rule_policy = policy.id
            base = dict(type="PATH", compare_type="EQUAL_TO", value="/a")
            base.update(f)
            return c.create_l7rule(elb.CreateL7ruleRequest(l7policy_id=policy.id, body=elb.CreateL7ruleRequestBody(
                rule=elb.CreateL7ruleReq(**base)))).rule
        raise AssertionError(kind)

    def test_the_table_declares_every_field_of_every_create_model(self):
        for kind, fields in CREATE.items():
            with self.subTest(kind=kind):
                self.assertEqual(set(fields), sdk_fields("Create%sReq" % kind), kind)

    def update(self, kind, made, **f):
        c = self.client
        if kind == "Loadbalancer":
            return c.update_loadbalancer(elb.UpdateLoadbalancerRequest(loadbalancer_id=made.id, body=elb.UpdateLoadbalancerRequestBody(
                loadbalancer=elb.UpdateLoadbalancerReq(**f)))).loadbalancer
        if kind == "Listener":
            return c.update_listener(elb.UpdateListenerRequest(listener_id=made.id, body=elb.UpdateListenerRequestBody(
                listener=elb.UpdateListenerReq(**f)))).listener
        if kind == "Pool":
            return c.update_pool(elb.UpdatePoolRequest(pool_id=made.id, body=elb.UpdatePoolRequestBody(
                pool=elb.UpdatePoolReq(**f)))).pool
        if kind == "Member":
            return c.update_member(elb.UpdateMemberRequest(pool_id=self.pool.id, member_id=made.id,
                                                           body=elb.UpdateMemberRequestBody(member=elb.UpdateMemberReq(**f)))).member
        if kind == "Healthmonitor":
            return c.update_healthmonitor(elb.UpdateHealthmonitorRequest(
                healthmonitor_id=made.id, body=elb.UpdateHealthmonitorRequestBody(
                    healthmonitor=elb.UpdateHealthmonitorReq(**f)))).healthmonitor
        if kind == "L7policy":
            return c.update_l7policies(elb.UpdateL7policiesRequest(l7policy_id=made.id, body=elb.UpdateL7policiesRequestBody(
                l7policy=elb.UpdateL7policyReq(**f)))).l7policy
        if kind == "L7rule":
            return c.update_l7rule(elb.UpdateL7ruleRequest(l7policy_id=made.l7policy_id if hasattr(made, "l7policy_id")
                                                           else self._rule_policy, l7rule_id=made.id,
                                                           body=elb.UpdateL7ruleRequestBody(rule=elb.UpdateL7ruleReq(**f)))).rule
        raise AssertionError(kind)

    def test_the_table_declares_every_field_of_every_update_model(self):
        for kind, fields in UPDATE.items():
            with self.subTest(kind=kind):
                self.assertEqual(set(fields), sdk_fields("Update%sReq" % kind), kind)

    def test_updates_honour_or_refuse_each_field(self):
        for kind, fields in UPDATE.items():
            made = self.create(kind)
            for field, o in fields.items():
                if isinstance(o, H) and o.where is None:
                    with self.subTest(kind=kind, field=field, outcome="honoured"):
                        try:
                            got = self.update(kind, made, **{field: self.fill(o.value)})
                        except hw_exc.SdkException as e:
                            self.fail("update %s %s: %s" % (kind, field, e))
                        want = self.fill(o.value)
                        have = getattr(got, field)
                        if isinstance(want, dict):
                            have = {k: (have or {}).get(k) for k in want} if isinstance(have, dict) else \
                                {k: getattr(have, k) for k in want}
                        self.assertEqual(have, want, "update %s: %s read back as %r" % (kind, field, have))
                elif isinstance(o, R):
                    with self.subTest(kind=kind, field=field, outcome="refused"):
                        before = self.native.call("GET", "/healthz")[1]["revision"]
                        try:
                            self.update(kind, made, **{field: self.fill(o.value)})
                        except (hw_exc.ClientRequestException, hw_exc.ServerResponseException) as e:
                            self.assertEqual((e.status_code, e.error_code), (o.status, o.code), "%s %s: %s" % (
                                kind, field, e.error_msg))
                        else:
                            self.fail("update %s with %s=%r was accepted" % (kind, field, o.value))
                        self.assertEqual(self.native.call("GET", "/healthz")[1]["revision"], before,
                                         "update %s %s: a refusal wrote" % (kind, field))

    def test_honoured_fields_are_read_back(self):
        for kind, fields in CREATE.items():
            for field, o in fields.items():
                if not isinstance(o, H) or o.where is not None:
                    continue
                with self.subTest(kind=kind, field=field):
                    try:
                        made = self.create(kind, **{field: self.fill(o.value)})
                    except hw_exc.SdkException as e:
                        self.fail("%s %s: %s" % (kind, field, e))
                    want = self.fill(o.value if o.expect == "same" else o.expect)
                    have = getattr(made, field)
                    if isinstance(want, dict):
                        have = {k: (have or {}).get(k) for k in want} if isinstance(have, dict) else \
                            {k: getattr(have, k) for k in want}
                    self.assertEqual(have, want, "%s: %s read back as %r" % (kind, field, have))

    def test_refused_fields_answer_elb_errors_and_write_nothing(self):
        for kind, fields in CREATE.items():
            for field, o in fields.items():
                if not isinstance(o, R):
                    continue
                with self.subTest(kind=kind, field=field):
                    before = self.native.call("GET", "/healthz")[1]["revision"]
                    try:
                        self.create(kind, **{field: self.fill(o.value)})
                    except (hw_exc.ClientRequestException, hw_exc.ServerResponseException) as e:
                        self.assertEqual((e.status_code, e.error_code), (o.status, o.code), "%s %s: %s" % (
                            kind, field, e.error_msg))
                        self.assertIn(o.names or field, e.error_msg,
                                      "%s: the message names %s" % (kind, field))
                    else:
                        self.fail("%s with %s=%r was accepted" % (kind, field, o.value))
                    self.assertEqual(self.native.call("GET", "/healthz")[1]["revision"], before,
                                     "%s %s: a refusal wrote" % (kind, field))
