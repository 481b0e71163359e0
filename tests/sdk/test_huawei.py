"""Huawei Cloud ELB v2 SDK (huaweicloudsdkelb, SDK-HMAC-SHA256) against a real `weir serve`,
and the cross-dialect view: members written through openstacksdk, the Huawei SDK and the
native /v1 API are one registry, and one project never sees another's.

Member rules on the Huawei path are seed 004's: address, protocol_port and subnet_id
mandatory; the address inside that subnet and the subnet in the LB's VPC; IP+port unique
per pool (409 ELB.8902); weight 0-100; admin_state_up must be true.

Addresses 10.x are data only: the server's data plane may dial 127.0.0.0/8 only.
"""

import uuid

from tests.sdk.harness import self_signed_pem
from tests.sdk.lbaas_support import (
    LbaasTestCase,
    World,
    elb,
    hw_create_member,
    hw_raw,
    hw_update_member,
    openstack_connection,
    os_exc,
)

MINUTE = 60


class HuaweiElbTest(LbaasTestCase):

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "hwa", 10, 50, vms=0)
        cls.other = World(cls.native, "hwb", 10, 60, vms=0)
        cls.client = cls.hw(cls.world.project)
        cls.client_b = cls.hw(cls.other.project)

    # ---- helpers -------------------------------------------------------

    def stack(self, **kw):
        return self.hw_stack(self.client, self.world, **kw)

    def addr(self, n):
        return "10.50.1.%d" % n

    def hw_member(self, pool_id, what=None, client=None, **fields):
        fields.setdefault("subnet_id", self.world.subnet["id"])
        client = client or self.client
        resp = self.hw_step(what or "create_member %r" % fields,
                            lambda: client.create_member(hw_create_member(pool_id, **fields)))
        self.assertEqual(resp.status_code, 201, "create_member status")
        return resp.member

    def hw_members(self, pool_id, client=None, **filters):
        client = client or self.client
        resp = self.hw_step("list_members %r" % filters,
                            lambda: client.list_members(elb.ListMembersRequest(pool_id=pool_id, **filters)))
        return resp.members or []

    def member_keys(self, pool_id):
        return sorted((m.address, m.protocol_port) for m in self.hw_members(pool_id))

    # ---- resources -------------------------------------------------------

    def test_load_balancer_listener_pool_member_lifecycle(self):
        lb, listener, pool = self.stack(algorithm="LEAST_CONNECTIONS")
        self.assertEqual(lb.vip_subnet_id, self.world.subnet["id"])
        self.assertEqual(lb.vip_address, self.native.vip(lb.id))
        self.assertEqual((listener.protocol, listener.loadbalancers[0].id), ("TCP", lb.id))
        self.assertEqual([x.id for x in pool.listeners], [listener.id], "the pool is the listener's default pool")
        self.assertEqual((pool.protocol, pool.lb_algorithm), ("TCP", "LEAST_CONNECTIONS"))
        self.assertEqual(self.native.pool(pool.id)["scheduler"], "lc")
        self.assertEqual(self.native.listener(listener.id)["group_pool_id"], pool.id)

        shown = self.hw_step("show_loadbalancer", lambda: self.client.show_loadbalancer(
            elb.ShowLoadbalancerRequest(loadbalancer_id=lb.id))).loadbalancer
        self.assertEqual((shown.id, shown.vip_address), (lb.id, lb.vip_address))
        self.assertEqual([x.id for x in shown.listeners], [listener.id])
        lbs = self.hw_step("list_loadbalancers", lambda: self.client.list_loadbalancers(
            elb.ListLoadbalancersRequest())).loadbalancers
        self.assertIn(lb.id, [x.id for x in lbs])
        pools = self.hw_step("list_pools", lambda: self.client.list_pools(
            elb.ListPoolsRequest(loadbalancer_id=lb.id))).pools
        self.assertIn(pool.id, [p.id for p in pools])

        m = self.hw_member(pool.id, address=self.addr(11), protocol_port=8080, name="web-11", weight=100,
                           admin_state_up=True)
        uuid.UUID(m.id)
        self.assertEqual((m.address, m.protocol_port, m.subnet_id, m.name, m.weight, m.admin_state_up),
                         (self.addr(11), 8080, self.world.subnet["id"], "web-11", 100, True))
        self.assertEqual((m.project_id, m.tenant_id), (self.world.project.id, self.world.project.id))
        self.assertEqual(m.operating_status, "NO_MONITOR")
        shown = self.hw_step("show_member", lambda: self.client.show_member(
            elb.ShowMemberRequest(pool_id=pool.id, member_id=m.id))).member
        self.assertEqual((shown.id, shown.address, shown.weight), (m.id, self.addr(11), 100))
        # The default weight is 1.
        m2 = self.hw_member(pool.id, address=self.addr(12), protocol_port=8080)
        self.assertEqual((m2.weight, m2.admin_state_up), (1, True))
        self.assertEqual([x.id for x in self.hw_members(pool.id, address=self.addr(12))], [m2.id])
        self.assertEqual(sorted(x.id for x in self.hw_members(pool.id, protocol_port=8080)), sorted([m.id, m2.id]))
        self.assertEqual([x.id for x in self.hw_members(pool.id, weight=100)], [m.id])
        self.assertEqual(len(self.hw_members(pool.id, limit=1)), 1)

        updated = self.hw_step("update_member", lambda: self.client.update_member(
            hw_update_member(pool.id, m.id, name="web-11b", weight=0))).member
        self.assertEqual((updated.name, updated.weight), ("web-11b", 0))
        self.assertEqual(self.native.ok("GET", "/v1/backends/%s" % m.id)["weight"], 0)
        self.assertHwError(lambda: self.client.update_member(hw_update_member(pool.id, m.id, weight=101)),
                           400, "ELB.1001", "update to weight 101")

        deleted = self.hw_step("delete_member", lambda: self.client.delete_member(
            elb.DeleteMemberRequest(pool_id=pool.id, member_id=m.id)))
        self.assertEqual(deleted.status_code, 204)
        self.assertHwError(lambda: self.client.show_member(elb.ShowMemberRequest(pool_id=pool.id, member_id=m.id)),
                           404, "ELB.1002", "show a deleted member")
        self.assertEqual(self.member_keys(pool.id), [(self.addr(12), 8080)])

        # Tear down the Huawei way: listener, then load balancer.
        self.hw_step("delete_listener", lambda: self.client.delete_listener(
            elb.DeleteListenerRequest(listener_id=listener.id)))
        self.hw_step("delete_loadbalancer", lambda: self.client.delete_loadbalancer(
            elb.DeleteLoadbalancerRequest(loadbalancer_id=lb.id)))
        self.assertHwError(lambda: self.client.show_loadbalancer(elb.ShowLoadbalancerRequest(loadbalancer_id=lb.id)),
                           404, "ELB.1002", "show a deleted load balancer")

    def test_health_monitor(self):
        lb, listener, pool = self.stack()
        hm = self.hw_step("create_healthmonitor", lambda: self.client.create_healthmonitor(
            elb.CreateHealthmonitorRequest(body=elb.CreateHealthmonitorRequestBody(
                healthmonitor=elb.CreateHealthmonitorReq(pool_id=pool.id, type="TCP", delay=5, timeout=3,
                                                         max_retries=3))))).healthmonitor
        self.assertEqual(hm.id, pool.id)
        self.assertEqual((hm.type, hm.delay, hm.timeout, hm.max_retries), ("TCP", 5, 3, 3))
        shown = self.hw_step("show_healthmonitors", lambda: self.client.show_healthmonitors(
            elb.ShowHealthmonitorsRequest(healthmonitor_id=hm.id))).healthmonitor
        self.assertEqual((shown.id, shown.delay), (hm.id, 5))
        updated = self.hw_step("update_healthmonitor", lambda: self.client.update_healthmonitor(
            elb.UpdateHealthmonitorRequest(healthmonitor_id=hm.id, body=elb.UpdateHealthmonitorRequestBody(
                healthmonitor=elb.UpdateHealthmonitorReq(delay=9))))).healthmonitor
        self.assertEqual((updated.delay, updated.timeout, updated.type), (9, 3, "TCP"))
        self.assertEqual(self.hw_step("show_pool", lambda: self.client.show_pool(
            elb.ShowPoolRequest(pool_id=pool.id))).pool.healthmonitor_id, hm.id)
        self.hw_step("delete_healthmonitor", lambda: self.client.delete_healthmonitor(
            elb.DeleteHealthmonitorRequest(healthmonitor_id=hm.id)))
        self.assertHwError(lambda: self.client.show_healthmonitors(elb.ShowHealthmonitorsRequest(
            healthmonitor_id=hm.id)), 404, "ELB.1002", "a deleted monitor")

    # ---- certificates (issue 15) ----------------------------------------------


    def test_certificates_are_uploaded_listed_and_deleted_without_their_key(self):
        cert, key = self_signed_pem("shop.example.test")
        made = self.hw_step("create_certificate", lambda: self.client.create_certificate(
            elb.CreateCertificateRequest(body=elb.CreateCertificateRequestBody(
                certificate=cert, private_key=key, name="shop", domain="shop.example.test", type="server"))))
        self.assertEqual((made.name, made.type, made.domain), ("shop", "server", "shop.example.test"))
        self.assertFalse(made.private_key, "a key was returned")
        self.assertRegex(made.expire_time, r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        listed = self.hw_step("list_certificates", lambda: self.client.list_certificates(
            elb.ListCertificatesRequest()))
        self.assertIn(made.id, [c.id for c in listed.certificates])
        self.assertEqual(listed.instance_num, len(listed.certificates))
        self.assertTrue(all(not c.private_key for c in listed.certificates))
        shown = self.hw_step("show_certificate", lambda: self.client.show_certificate(
            elb.ShowCertificateRequest(certificate_id=made.id)))
        self.assertEqual(shown.id, made.id)
        # Another project neither sees nor deletes it.
        self.assertHwError(lambda: self.client_b.show_certificate(elb.ShowCertificateRequest(
            certificate_id=made.id)), 404, "ELB.1002", "another project's certificate")
        self.assertHwError(lambda: self.client_b.delete_certificate(elb.DeleteCertificateRequest(
            certificate_id=made.id)), 404, "ELB.1002", "another project's delete")
        self.hw_step("delete_certificate", lambda: self.client.delete_certificate(
            elb.DeleteCertificateRequest(certificate_id=made.id)))
        self.assertHwError(lambda: self.client.show_certificate(elb.ShowCertificateRequest(
            certificate_id=made.id)), 404, "ELB.1002", "a deleted certificate")

    def test_bad_certificates_get_huaweis_errors(self):
        cert, key = self_signed_pem("a.example.test")
        _, other_key = self_signed_pem("b.example.test")
        body = elb.CreateCertificateRequestBody
        for what, req, status, code in (
            ("a key of another certificate", body(certificate=cert, private_key=other_key), 400, "ELB.1001"),
            ("not PEM", body(certificate="hello", private_key=key), 400, "ELB.1001"),
            ("a domain the certificate lacks", body(certificate=cert, private_key=key, domain="evil.test"),
             400, "ELB.1001"),
        ):
            self.assertHwError(lambda: self.client.create_certificate(elb.CreateCertificateRequest(body=req)),
                               status, code, what)
        # A client (CA) certificate carries no key (test_huawei_mtls has the rest).
        self.assertHwError(lambda: self.client.create_certificate(elb.CreateCertificateRequest(
            body=body(certificate=cert, private_key=key, type="client"))), 400, "ELB.1001", "a CA with a key")
        listed = self.client.list_certificates(elb.ListCertificatesRequest())
        self.assertEqual(listed.certificates, [], "a refused upload was stored")

    # ---- seed 004 member rules ----------------------------------------------

    def test_member_rules(self):
        lb, listener, pool = self.stack()
        sn = self.world.subnet["id"]
        create = lambda **f: self.client.create_member(hw_create_member(pool.id, **f))  # noqa: E731
        cases = [
            ("missing subnet_id", dict(address=self.addr(20), protocol_port=80), "subnet_id"),
            ("address outside the subnet", dict(address="10.50.2.20", protocol_port=80, subnet_id=sn), "10.50.2.20"),
            ("subnet in another VPC", dict(address="10.51.1.20", protocol_port=80,
                                           subnet_id=self.world.subnet_nogw["id"]), None),
            ("weight 101", dict(address=self.addr(20), protocol_port=80, subnet_id=sn, weight=101), "weight"),
            ("admin_state_up false", dict(address=self.addr(20), protocol_port=80, subnet_id=sn,
                                          admin_state_up=False), "admin_state_up"),
            ("port 0", dict(address=self.addr(20), protocol_port=0, subnet_id=sn), "protocol_port"),
            ("port 65536", dict(address=self.addr(20), protocol_port=65536, subnet_id=sn), "protocol_port"),
            ("metadata address", dict(address="169.254.169.254", protocol_port=80, subnet_id=sn), "169.254.169.254"),
            ("missing address", dict(protocol_port=80, subnet_id=sn), "address"),
        ]
        for what, fields, message_re in cases:
            with self.subTest(what):
                self.assertHwError(lambda: create(**fields), 400, "ELB.1001", what, message_re=message_re)
        self.assertEqual(self.member_keys(pool.id), [], "a refused member was written")
        # Boundaries that are valid: weight 0 and 100.
        self.hw_member(pool.id, address=self.addr(21), protocol_port=80, weight=0)
        self.hw_member(pool.id, address=self.addr(22), protocol_port=80, weight=100)
        # IP+port unique per pool.
        err = self.assertHwError(lambda: create(address=self.addr(21), protocol_port=80, subnet_id=sn), 409,
                                 "ELB.8902", "duplicate member", message_re=self.addr(21))
        self.assertRegex(err.request_id, r"\S")
        self.hw_member(pool.id, address=self.addr(21), protocol_port=81)
        self.assertEqual(self.member_keys(pool.id), [(self.addr(21), 80), (self.addr(21), 81), (self.addr(22), 80)])
        # Unknown pool and member.
        self.assertHwError(lambda: self.client.create_member(hw_create_member(
            str(uuid.uuid4()), address=self.addr(23), protocol_port=80, subnet_id=sn)), 404, "ELB.1002", "unknown pool")
        self.assertHwError(lambda: self.client.show_member(elb.ShowMemberRequest(
            pool_id=pool.id, member_id=str(uuid.uuid4()))), 404, "ELB.1002", "unknown member")

    def test_member_port_as_numeric_string(self):
        """Seed 004's own example sends "protocol_port": "88"."""
        lb, listener, pool = self.stack()
        resp = hw_raw(self.server, self.world.project, "POST", "/pools/%s/members" % pool.id, {"member": {
            "subnet_id": self.world.subnet["id"], "protocol_port": "88", "name": "member-jy-tt-1",
            "address": self.addr(44)}})
        self.assertEqual(resp.status, 201, resp)
        member = resp.json["member"]
        self.assertEqual((member["protocol_port"], member["address"], member["weight"], member["admin_state_up"]),
                         (88, self.addr(44), 1, True))
        self.assertEqual(member["tenant_id"], self.world.project.id)

    # ---- authentication --------------------------------------------------------

    def test_batch_actions(self):
        """`PUT …/members?action=add|delete|replace` (signed raw; the v2 SDK has no batch call): add keeps
        the rest, delete removes exactly the named members (all or none), replace makes the set; more than
        200 members is 400 and writes nothing."""
        lb, listener, pool = self.stack()
        sn = self.world.subnet["id"]
        item = lambda n, **kw: dict({"address": self.addr(n), "protocol_port": 80, "subnet_id": sn}, **kw)  # noqa: E731
        path = "/pools/%s/members" % pool.id
        put = lambda body, action: hw_raw(self.server, self.world.project, "PUT", path, body,  # noqa: E731
                                          query=[("action", action)])
        self.assertEqual(put({"members": [item(101), item(102, weight=7)]}, "add").status, 202)
        self.assertEqual(put({"members": [item(103)]}, "add").status, 202)
        self.assertEqual(self.member_keys(pool.id), sorted([(self.addr(n), 80) for n in (101, 102, 103)]))
        missing = put({"members": [item(101), item(199)]}, "delete")
        self.assertLbaasErrorBody(missing, 404, "delete naming an absent member")
        self.assertEqual(len(self.member_keys(pool.id)), 3, "a refused delete removed something")
        self.assertEqual(put({"members": [item(101)]}, "delete").status, 202)
        self.assertEqual(self.member_keys(pool.id), sorted([(self.addr(n), 80) for n in (102, 103)]))
        self.assertEqual(put({"members": [item(104)]}, "replace").status, 202)
        self.assertEqual(self.member_keys(pool.id), [(self.addr(104), 80)])
        too_many = put({"members": [item(1, protocol_port=1000 + i) for i in range(201)]}, "add")
        self.assertLbaasErrorBody(too_many, 400, "201 members in one batch", message_re="200")
        self.assertEqual(self.member_keys(pool.id), [(self.addr(104), 80)])
        bad = put({"members": [item(105)]}, "merge")
        self.assertLbaasErrorBody(bad, 400, "unknown action")

    def test_wrong_secret_is_401(self):
        bad = self.hw(self.world.project, sk=self.world.project.sk + "x")
        self.assertHwError(lambda: bad.list_loadbalancers(elb.ListLoadbalancersRequest()), 401, "ELB.1000",
                           "wrong secret")
        unknown = self.hw(self.world.project, ak="AKNOSUCHKEY")
        self.assertHwError(lambda: unknown.list_loadbalancers(elb.ListLoadbalancersRequest()), 401, "ELB.1000",
                           "unknown access key")

    def test_another_projects_id_in_the_path_is_403(self):
        lb, listener, pool = self.stack()
        cross = self.hw(self.other.project, project_id=self.world.project.id)
        self.assertHwError(lambda: cross.list_loadbalancers(elb.ListLoadbalancersRequest()), 403, "ELB.1003",
                           "B's key on A's project path")
        self.assertHwError(lambda: cross.create_member(hw_create_member(
            pool.id, address=self.addr(30), protocol_port=80, subnet_id=self.world.subnet["id"])), 403, "ELB.1003",
            "B's key creating in A's project")
        self.assertEqual(self.member_keys(pool.id), [])

    def test_oversized_body_is_413(self):
        lb, listener, pool = self.stack()
        name = "x" * (1 << 20)
        self.assertHwError(lambda: self.client.create_member(hw_create_member(
            pool.id, address=self.addr(31), protocol_port=80, subnet_id=self.world.subnet["id"], name=name)),
            413, "ELB.1006", "1 MiB member name")
        resp = hw_raw(self.server, self.world.project, "POST", "/pools/%s/members" % pool.id, {"member": {
            "address": self.addr(31), "protocol_port": 80, "subnet_id": self.world.subnet["id"], "name": name}})
        self.assertLbaasErrorBody(resp, 413, "raw 1 MiB body", code="ELB.1006")
        self.assertEqual(self.member_keys(pool.id), [])

    def test_raw_signed_requests(self):
        """Our own SDK-HMAC-SHA256: a correct signature is accepted (GET with a query, POST with a
        body, a date inside the ±15 min window); a date 20 minutes off either way, a tampered body
        or path, or no signature are 401 ELB.1000."""
        lb, listener, pool = self.stack()
        project = self.world.project
        members = "/pools/%s/members" % pool.id
        body = {"member": {"address": self.addr(40), "protocol_port": 80, "subnet_id": self.world.subnet["id"]}}

        listed = hw_raw(self.server, project, "GET", "/loadbalancers", query=[("limit", "10"), ("name", lb.name)])
        self.assertEqual(listed.status, 200, listed)
        self.assertEqual([x["id"] for x in listed.json["loadbalancers"]], [lb.id])

        for what, kw in (("date 20 min ahead", dict(date_offset_s=20 * MINUTE)),
                         ("date 20 min behind", dict(date_offset_s=-20 * MINUTE)),
                         ("tampered body", dict(sign_body=b'{"member": {}}')),
                         ("tampered path", dict(sign_path="/v2/%s/elb/pools/%s/members" % (project.id, uuid.uuid4()))),
                         ("wrong secret", dict(sk=project.sk + "x"))):
            with self.subTest(what):
                resp = hw_raw(self.server, project, "POST", members, body, **kw)
                self.assertLbaasErrorBody(resp, 401, what, code="ELB.1000")
                self.assertTrue(resp.headers.get("x-request-id"), "%s: no X-Request-Id" % what)
        self.assertEqual(self.member_keys(pool.id), [], "a refused request wrote a member")

        unsigned = self.octavia_raw("GET", "", prefix="/v2/%s/elb/loadbalancers" % project.id)
        self.assertLbaasErrorBody(unsigned, 401, "no Authorization header", code="ELB.1000")

        created = hw_raw(self.server, project, "POST", members, body, date_offset_s=10 * MINUTE)
        self.assertEqual(created.status, 201, "a date 10 min ahead is inside the window: %r" % created)
        self.assertEqual(self.member_keys(pool.id), [(self.addr(40), 80)])

    # ---- isolation ---------------------------------------------------------------

    def test_other_project_sees_nothing(self):
        lb, listener, pool = self.stack()
        m = self.hw_member(pool.id, address=self.addr(50), protocol_port=80)
        lbs = self.hw_step("B list_loadbalancers", lambda: self.client_b.list_loadbalancers(
            elb.ListLoadbalancersRequest())).loadbalancers
        self.assertEqual(lbs, [])
        for what, call in (
                ("B show_loadbalancer", lambda: self.client_b.show_loadbalancer(
                    elb.ShowLoadbalancerRequest(loadbalancer_id=lb.id))),
                ("B show_pool", lambda: self.client_b.show_pool(elb.ShowPoolRequest(pool_id=pool.id))),
                ("B list_members", lambda: self.client_b.list_members(elb.ListMembersRequest(pool_id=pool.id))),
                ("B show_member", lambda: self.client_b.show_member(
                    elb.ShowMemberRequest(pool_id=pool.id, member_id=m.id))),
                ("B create_member", lambda: self.client_b.create_member(hw_create_member(
                    pool.id, address="10.60.1.5", protocol_port=80, subnet_id=self.other.subnet["id"]))),
                ("B delete_member", lambda: self.client_b.delete_member(
                    elb.DeleteMemberRequest(pool_id=pool.id, member_id=m.id)))):
            with self.subTest(what):
                self.assertHwError(call, 404, "ELB.1002", what)
        self.assertEqual([x.id for x in self.hw_members(pool.id)], [m.id])


class CrossDialectLbaasTest(LbaasTestCase):
    """One registry behind openstacksdk, the Huawei SDK and the native API."""

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "xda", 10, 70, vms=0)
        cls.other = World(cls.native, "xdb", 10, 80, vms=0)
        cls.conn = openstack_connection(cls.server, cls.world.project.ak, cls.world.project.sk)
        cls.conn_b = openstack_connection(cls.server, cls.other.project.ak, cls.other.project.sk)
        cls.client = cls.hw(cls.world.project)
        cls.client_b = cls.hw(cls.other.project)

    def native_backends(self, pool_id, project=None):
        body = self.native.ok("GET", "/v1/pools/%s/backends" % pool_id, token=(project or self.world.project).token)
        return {b["id"]: b for b in body["backends"]}

    def hw_members(self, pool_id):
        resp = self.hw_step("list_members", lambda: self.client.list_members(elb.ListMembersRequest(pool_id=pool_id)))
        return {m.id: m for m in resp.members or []}

    def os_members(self, pool_id):
        return {m.id: m for m in self.os_step("members()", lambda: list(self.conn.load_balancer.members(pool_id)))}

    def test_members_are_one_registry(self):
        lb, listener, pool = self.os_stack(self.conn, self.world)
        sn = self.world.subnet["id"]
        # openstacksdk -> Huawei SDK + native
        om = self.os_step("create_member", lambda: self.conn.load_balancer.create_member(
            pool, address="10.70.1.11", protocol_port=8080, weight=40, name="from-openstack", subnet_id=sn))
        hm = self.hw_step("show_member", lambda: self.client.show_member(
            elb.ShowMemberRequest(pool_id=pool.id, member_id=om.id))).member
        self.assertEqual((hm.address, hm.protocol_port, hm.weight, hm.name, hm.subnet_id),
                         ("10.70.1.11", 8080, 40, "from-openstack", sn))
        nb = self.native_backends(pool.id)[om.id]
        # An Octavia pool is a server group: its backends belong to no one listener.
        self.assertEqual((nb["address"], nb["port"], nb["weight"], nb["name"], nb["listener_id"], nb["pool_id"]),
                         ("10.70.1.11", 8080, 40, "from-openstack", None, pool.id))
        # Huawei SDK -> openstacksdk + native
        hwm = self.hw_step("create_member", lambda: self.client.create_member(hw_create_member(
            pool.id, address="10.70.1.12", protocol_port=8080, weight=60, name="from-huawei", subnet_id=sn))).member
        osm = self.os_step("get_member", lambda: self.conn.load_balancer.get_member(hwm.id, pool))
        self.assertEqual((osm.address, osm.protocol_port, osm.weight, osm.name, osm.subnet_id),
                         ("10.70.1.12", 8080, 60, "from-huawei", sn))
        self.assertEqual(self.native_backends(pool.id)[hwm.id]["weight"], 60)
        # native -> both SDKs
        reg = self.native.ok("POST", "/v1/pools/%s/backends" % pool.id, {"backends": [
            {"address": "10.70.1.13", "port": 8080, "weight": 7, "name": "from-native"}]},
            token=self.world.project.token)
        native_id = reg["backends"][0]["id"]
        self.assertEqual(self.hw_members(pool.id)[native_id].weight, 7)
        self.assertEqual(self.os_members(pool.id)[native_id].name, "from-native")
        self.assertEqual(set(self.hw_members(pool.id)), {om.id, hwm.id, native_id})
        self.assertEqual(set(self.os_members(pool.id)), {om.id, hwm.id, native_id})
        # A duplicate across dialects is still a duplicate.
        self.assertHwError(lambda: self.client.create_member(hw_create_member(
            pool.id, address="10.70.1.11", protocol_port=8080, subnet_id=sn)), 409, "ELB.8902",
            "Huawei duplicate of an openstacksdk member")
        self.assertOsError(lambda: self.conn.load_balancer.create_member(pool, address="10.70.1.12",
                                                                         protocol_port=8080),
                           os_exc.ConflictException, 409, "openstacksdk duplicate of a Huawei member")
        # Updates and deletes in one dialect show in the others.
        self.hw_step("update_member", lambda: self.client.update_member(hw_update_member(pool.id, om.id, weight=3)))
        self.assertEqual(self.os_step("get_member", lambda: self.conn.load_balancer.get_member(om.id, pool)).weight, 3)
        self.os_step("update_member", lambda: self.conn.load_balancer.update_member(hwm.id, pool, admin_state_up=False))
        disabled = self.hw_step("list_members admin_state_up=False", lambda: self.client.list_members(
            elb.ListMembersRequest(pool_id=pool.id, admin_state_up=False))).members
        self.assertEqual([m.id for m in disabled or []], [hwm.id])
        self.assertFalse(self.native_backends(pool.id)[hwm.id]["enabled"])
        self.hw_step("delete_member", lambda: self.client.delete_member(
            elb.DeleteMemberRequest(pool_id=pool.id, member_id=om.id)))
        self.os_step("delete_member", lambda: self.conn.load_balancer.delete_member(native_id, pool,
                                                                                   ignore_missing=False))
        self.assertEqual(set(self.os_members(pool.id)), {hwm.id})
        self.assertEqual(set(self.hw_members(pool.id)), {hwm.id})
        self.assertEqual(set(self.native_backends(pool.id)), {hwm.id})

    def test_load_balancers_and_pools_are_shared(self):
        lb, listener, pool = self.hw_stack(self.client, self.world, algorithm="SOURCE_IP")
        os_lb = self.os_step("get_load_balancer", lambda: self.conn.load_balancer.get_load_balancer(lb.id))
        self.assertEqual((os_lb.vip_address, os_lb.vip_subnet_id), (lb.vip_address, self.world.subnet["id"]))
        os_pool = self.os_step("get_pool", lambda: self.conn.load_balancer.get_pool(pool.id))
        self.assertEqual((os_pool.lb_algorithm, [x["id"] for x in os_pool.listeners]), ("SOURCE_IP", [listener.id]))
        native = self.native.pool(pool.id)
        self.assertEqual(native["id"], pool.id)
        # The OpenStack rules still apply on the OpenStack path for this pool: weight 256, no subnet.
        m = self.os_step("create_member", lambda: self.conn.load_balancer.create_member(
            pool.id, address="10.70.9.9", protocol_port=80, weight=256))
        self.assertEqual(m.weight, 256)
        self.assertEqual(self.hw_members(pool.id)[m.id].weight, 256)
        # ... and the Huawei rules on the Huawei path.
        self.assertHwError(lambda: self.client.create_member(hw_create_member(
            pool.id, address="10.70.9.10", protocol_port=80, subnet_id=self.world.subnet["id"])), 400, "ELB.1001",
            "Huawei member outside its subnet")

    def test_projects_are_isolated_across_dialects(self):
        lb, listener, pool = self.os_stack(self.conn, self.world)
        m = self.os_step("create_member", lambda: self.conn.load_balancer.create_member(
            pool, address="10.70.1.21", protocol_port=80))
        self.assertEqual(self.os_step("B load_balancers()", lambda: list(self.conn_b.load_balancer.load_balancers())),
                         [])
        self.assertEqual(self.hw_step("B list_loadbalancers", lambda: self.client_b.list_loadbalancers(
            elb.ListLoadbalancersRequest())).loadbalancers, [])
        status, body = self.native.call("GET", "/v1/loadbalancers", token=self.other.project.token)
        self.assertEqual((status, body.get("loadbalancers")), (200, []))
        self.assertOsError(lambda: self.conn_b.load_balancer.get_pool(pool.id), os_exc.NotFoundException, 404,
                           "B openstacksdk get_pool")
        self.assertHwError(lambda: self.client_b.show_pool(elb.ShowPoolRequest(pool_id=pool.id)), 404, "ELB.1002",
                           "B Huawei show_pool")
        self.assertEqual(self.native.call("GET", "/v1/pools/%s" % pool.id, token=self.other.project.token)[0], 404)
        self.assertHwError(lambda: self.client_b.show_member(elb.ShowMemberRequest(pool_id=pool.id, member_id=m.id)),
                           404, "ELB.1002", "B Huawei show_member")
        self.assertEqual(list(self.native_backends(pool.id)), [m.id])
