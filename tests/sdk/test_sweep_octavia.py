"""The "honoured or refused" sweep of Octavia (LBaaS v2) through openstacksdk against a real `weir serve`
(issue 16): every body field of load balancers, listeners, pools, members, health monitors, L7 policies
and L7 rules, as openstacksdk's resources list them, is declared below as HONOURED (sent one at a time
with a non-default value on create, and on update where Octavia lets it change; the answer and a fresh
GET read it back), REFUSED (Octavia's status for an option the provider cannot do, 400 or 501, and
nothing is created), or read-only / the call's own identity. A field openstacksdk gains that the table
does not declare fails the coverage test. Fields that need a TLS container or a flavor are honoured in
the files `where` names.

Every address is in 127.0.0.0/8 or a test-only 10.x inventory that is never dialled.
"""

from tests.sdk.lbaas_support import LbaasTestCase, World, assert_loopback, free_port, openstack_connection, os_exc

from openstack.load_balancer.v2 import health_monitor, l7_policy, l7_rule, listener, load_balancer, member, pool

RO = "read-only"   # answered, never taken from a body
ID = "identity"    # what the call creates under or names (required on create)
REF = "https://weir.invalid/key-manager/v1/containers/00000000-0000-0000-0000-000000000000"


class H:
    """Honoured: `value` is read back as `expect` (default `value`; a dict is compared on its own
    keys); `update`: also changed by an update; `where`: not sent here, honoured in that file."""

    def __init__(self, value=None, expect="same", update=True, where=None, attr=None):
        self.value, self.expect, self.update, self.where, self.attr = value, expect, update, where, attr


class R:
    """Refused with `status` (Octavia's 400 for an invalid option, 501 for one the provider lacks)."""

    def __init__(self, value, status=400):
        self.value, self.status = value, status


TLS = "test_https_dialects, test_keymgr (TERMINATED_HTTPS listeners)"
COMMON = {"id": RO, "created_at": RO, "updated_at": RO, "operating_status": RO, "provisioning_status": RO,
          "project_id": H("{project}", update=False), "tags": H(["sweep", "t2"]),
          "admin_state_up": H(False, attr="is_admin_state_up")}
TABLE = {
    "LoadBalancer": dict(
        COMMON, listeners=RO, pools=RO, vip_subnet_id=ID, vip_port_id=R("port-1"),
        name=H("sweep-lb"), description=H("sweep"), vip_address=H("{vip}", update=False),
        vip_network_id=H("{vpc}", update=False), provider=H("weir", update=False),
        flavor_id=H(where="test_openstack: flavors"), availability_zone=R("az1"), vip_qos_policy_id=R("qos-1"),
        vip_sg_ids=R(["sg-1"]), additional_vips=R([{"subnet_id": "{subnet}"}])),
    "Listener": dict(
        COMMON, loadbalancer_id=ID, loadbalancers=RO, l7policies=RO, default_pool=RO, protocol=ID,
        protocol_port=ID, name=H("sweep-l"), description=H("sweep"), connection_limit=H(10),
        allowed_cidrs=H(["127.0.0.0/8"]), default_pool_id=H("{pool}", update=False),
        insert_headers=H({"X-Forwarded-For": "true", "X-Forwarded-Port": "true"}),
        timeout_client_data=H(1000), timeout_member_connect=H(1000), timeout_member_data=H(1000),
        timeout_tcp_inspect=H(100), alpn_protocols=H(where=TLS), tls_ciphers=H(where=TLS), tls_versions=H(where=TLS),
        default_tls_container_ref=H(where=TLS), sni_container_refs=H(where=TLS),
        hsts_max_age=R(100), hsts_include_subdomains=R(True), hsts_preload=R(True)),
    "Pool": dict(
        COMMON, loadbalancer_id=ID, listener_id=ID, protocol=ID, lb_algorithm=H("LEAST_CONNECTIONS"),
        listeners=RO, loadbalancers=RO, members=RO, healthmonitor_id=RO, name=H("sweep-p"), description=H("sweep"),
        session_persistence=H({"type": "APP_COOKIE", "cookie_name": "sid"}), tls_enabled=H(True),
        ca_tls_container_ref=H(where="test_pool_tls"), tls_ciphers=H(where="test_pool_tls"),
        tls_versions=H(where="test_pool_tls"), alpn_protocols=H(where="test_pool_tls"),
        crl_container_ref=H(where="test_pool_tls")),
    "Member": dict(
        COMMON, address=ID, protocol_port=ID, name=H("sweep-m"), weight=H(5), backup=H(True),
        monitor_address=H("127.0.0.50"), monitor_port=H(8081), subnet_id=H("{subnet}", update=False)),
    "HealthMonitor": dict(
        COMMON, pool_id=ID, pools=RO, type=ID, delay=H(7), timeout=H(4), max_retries=H(5), max_retries_down=H(6),
        name=H("sweep-hm"), expected_codes=H("201"), http_method=H("HEAD"), url_path=H("/x")),
    "L7Policy": dict(
        COMMON, listener_id=ID, rules=RO, action=ID, name=H("sweep-7"), description=H("sweep"), position=H(1),
        redirect_url=H("https://weir.invalid/x", update=False), redirect_prefix=H(where="test_openstack: L7"),
        redirect_pool_id=H(where="test_openstack: L7")),
    "L7Rule": dict(
        COMMON, type=ID, compare_type=H("STARTS_WITH"), value=H("/api", attr="rule_value"),
        key=H(where="test_openstack: L7 header rules"), invert=H(True),
        # openstacksdk declares it; Octavia's rules have no name.
        name=R("sweep-rule")),
}
RESOURCES = {"LoadBalancer": load_balancer.LoadBalancer, "Listener": listener.Listener, "Pool": pool.Pool,
             "Member": member.Member, "HealthMonitor": health_monitor.HealthMonitor,
             "L7Policy": l7_policy.L7Policy, "L7Rule": l7_rule.L7Rule}


def body_fields(cls):
    """The body attributes an openstacksdk resource declares."""
    return {v.name for k in dir(cls) for v in [getattr(cls, k, None)] if type(v).__name__ == "Body"}


class OctaviaSweep(LbaasTestCase):

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "osweep", 10, 90, vms=0)
        cls.conn = openstack_connection(cls.server, cls.world.project.ak, cls.world.project.sk)

    def vip(self, n):
        net = self.server.config["network"]["vip_ranges"][0]
        return assert_loopback(".".join(net.split("/")[0].split(".")[:3] + [str(n)]))

    def setUp(self):
        c = self.conn.load_balancer
        self.lb = c.create_load_balancer(vip_subnet_id=self.world.subnet["id"])
        self.lb = self.wait_os_active("lb", lambda: c.get_load_balancer(self.lb.id))
        self.spare_pool = c.create_pool(loadbalancer_id=self.lb.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN")
        self.w = {"project": self.world.project.id, "subnet": self.world.subnet["id"], "vpc": self.world.vpc["id"],
                  "vip": self.vip(230), "pool": self.spare_pool.id}

    def fill(self, v):
        if isinstance(v, str) and v.startswith("{") and v.endswith("}"):
            return self.w[v[1:-1]]
        if isinstance(v, list):
            return [self.fill(x) for x in v]
        if isinstance(v, dict):
            return {k: self.fill(x) for k, x in v.items()}
        return v

    # ---- one resource of each kind ------------------------------------------------------

    def create(self, kind, **fields):
        c = self.conn.load_balancer
        if kind == "LoadBalancer":
            return c.create_load_balancer(vip_subnet_id=self.world.subnet["id"], **fields)
        if kind == "Listener":
            return c.create_listener(loadbalancer_id=self.lb.id, protocol="HTTP",
                                     protocol_port=free_port(self.lb.vip_address), **fields)
        if kind == "Pool":
            return c.create_pool(loadbalancer_id=self.lb.id, protocol="HTTP",
                                 lb_algorithm=fields.pop("lb_algorithm", "ROUND_ROBIN"), **fields)
        if kind == "Member":
            return c.create_member(self.spare_pool.id, address="127.0.0.51",
                                   protocol_port=8000 + len(list(c.members(self.spare_pool.id))), **fields)
        if kind == "HealthMonitor":
            p = c.create_pool(loadbalancer_id=self.lb.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN")
            base = {"delay": 5, "timeout": 3, "max_retries": 3}
            base.update(fields)
            return c.create_health_monitor(pool_id=p.id, type="HTTP", **base)
        if kind == "L7Policy":
            action = "REDIRECT_TO_URL" if "redirect_url" in fields else "REJECT"
            return c.create_l7_policy(listener_id=self.listener().id, action=action, **fields)
        if kind == "L7Rule":
            policy = self.policy()
            base = {"compare_type": "EQUAL_TO", "value": "/x"}
            base.update(fields)
            return c.create_l7_rule(policy, type="PATH", **base)
        raise AssertionError(kind)

    def policy(self):
        """One REJECT policy the rules go under (made once per test)."""
        if not hasattr(self, "_policy"):
            self._policy = self.conn.load_balancer.create_l7_policy(listener_id=self.listener().id, action="REJECT")
        return self._policy

    def listener(self):
        c = self.conn.load_balancer
        return c.create_listener(loadbalancer_id=self.lb.id, protocol="HTTP", protocol_port=free_port(self.lb.vip_address))

    def fetch(self, kind, r):
        c = self.conn.load_balancer
        return {"LoadBalancer": lambda: c.get_load_balancer(r.id), "Listener": lambda: c.get_listener(r.id),
                "Pool": lambda: c.get_pool(r.id), "Member": lambda: c.get_member(r.id, self.spare_pool.id),
                "HealthMonitor": lambda: c.get_health_monitor(r.id), "L7Policy": lambda: c.get_l7_policy(r.id),
                "L7Rule": lambda: c.get_l7_rule(r.id, r.l7_policy_id)}[kind]()

    def update(self, kind, r, **fields):
        c = self.conn.load_balancer
        return {"LoadBalancer": lambda: c.update_load_balancer(r, **fields),
                "Listener": lambda: c.update_listener(r, **fields), "Pool": lambda: c.update_pool(r, **fields),
                "Member": lambda: c.update_member(r, self.spare_pool.id, **fields),
                "HealthMonitor": lambda: c.update_health_monitor(r, **fields),
                "L7Policy": lambda: c.update_l7_policy(r, **fields),
                "L7Rule": lambda: c.update_l7_rule(r, r.l7_policy_id, **fields)}[kind]()

    def assertRead(self, got, field, o, what):
        want = self.fill(o.value if o.expect == "same" else o.expect)
        have = getattr(got, o.attr or field)
        if isinstance(want, dict):
            have = {k: (have or {}).get(k) for k in want}
        self.assertEqual(have, want, "%s: %s read back as %r" % (what, field, have))

    # ---- the ledger ------------------------------------------------------------------------

    def test_the_table_declares_every_body_field_of_every_resource(self):
        for kind, cls in RESOURCES.items():
            with self.subTest(kind=kind):
                self.assertEqual(set(TABLE[kind]), body_fields(cls), kind)

    def test_honoured_fields_are_read_back_on_create_and_update(self):
        for kind in RESOURCES:
            for field, o in TABLE[kind].items():
                if not isinstance(o, H) or o.where is not None:
                    continue
                with self.subTest(kind=kind, field=field):
                    made = self.os_step("create %s %s" % (kind, field),
                                        lambda: self.create(kind, **{field: self.fill(o.value)}))
                    self.assertRead(made, field, o, "create %s" % kind)
                    self.assertRead(self.fetch(kind, made), field, o, "GET after create %s" % kind)
        for kind in RESOURCES:
            made = self.create(kind)
            for field, o in TABLE[kind].items():
                if not isinstance(o, H) or o.where is not None or not o.update:
                    continue
                with self.subTest(kind=kind, field=field, call="update"):
                    # The proxy's own `value` argument shadows the rule's: the SDK names it rule_value.
                    key = "rule_value" if (kind, field) == ("L7Rule", "value") else field
                    self.os_step("update %s %s" % (kind, field),
                                 lambda: self.update(kind, made, **{key: self.fill(o.value)}))
                    self.assertRead(self.fetch(kind, made), field, o, "GET after update %s" % kind)

    def test_refused_fields_answer_octavias_status_and_create_nothing(self):
        for kind in RESOURCES:
            for field, o in TABLE[kind].items():
                if not isinstance(o, R):
                    continue
                with self.subTest(kind=kind, field=field):
                    if kind == "L7Rule":
                        self.policy()
                    before = self.native.call("GET", "/healthz")[1]["revision"]
                    try:
                        self.create(kind, **{field: self.fill(o.value)})
                    except os_exc.HttpException as e:
                        self.assertEqual(e.status_code, o.status, "%s %s: %s" % (kind, field, e))
                        self.assertIn(field, str(e.details or e.message), "%s: the error names the field" % kind)
                    else:
                        self.fail("%s with %s=%r was accepted" % (kind, field, o.value))
                    self.assertEqual(self.native.call("GET", "/healthz")[1]["revision"], before,
                                     "%s %s: a refusal wrote" % (kind, field))
