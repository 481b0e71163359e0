"""openstacksdk against a real `weir serve`: Octavia API 2.25's PROMETHEUS listeners and the
quotas API.

- A PROMETHEUS listener made with openstacksdk answers `GET /metrics` on its VIP and port with
  the Prometheus exposition of its own load balancer only (another project's listener on the same
  server is never named), is held to its `allowed_cidrs`, and refuses a default pool.
- Quotas: the operator sets them with `conn.load_balancer.update_quota`, the project reads them
  with `get_quota`, its creates are refused with Octavia's 403 past them (through openstacksdk and
  through the native API alike), a member cannot set them, and `delete_quota` returns to the
  defaults.

Addresses 10.x are data only; the scrape goes to the VIP on 127.0.0.0/8.
"""

import http.client

from tests.sdk.lbaas_support import (
    HTTP_TIMEOUT_S,
    LbaasTestCase,
    World,
    assert_loopback,
    free_port,
    openstack_connection,
    os_exc,
)


def scrape(host, port, path="/metrics"):
    """One GET on a fresh connection: (status, body text), or (None, error) if the connection was
    refused or reset before an answer."""
    assert_loopback(host)
    conn = http.client.HTTPConnection(host, port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    except (ConnectionError, http.client.HTTPException, OSError) as e:
        return None, repr(e)
    finally:
        conn.close()


class OctaviaPrometheusTest(LbaasTestCase):
    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "prom", 10, 60, vms=0)
        cls.other = World(cls.native, "promx", 10, 61, vms=0)
        cls.conn = openstack_connection(cls.server, cls.world.project.ak, cls.world.project.sk)
        cls.conn_b = openstack_connection(cls.server, cls.other.project.ak, cls.other.project.sk)

    def test_a_prometheus_listener_serves_its_own_load_balancers_metrics(self):
        lb, tcp, pool = self.os_stack(self.conn, self.world, protocol="TCP")
        _, their_tcp, _ = self.os_stack(self.conn_b, self.other, protocol="TCP")
        port = free_port(lb.vip_address)
        prom = self.os_step("create_listener PROMETHEUS", lambda: self.conn.load_balancer.create_listener(
            loadbalancer_id=lb.id, protocol="PROMETHEUS", protocol_port=port,
            allowed_cidrs=["127.0.0.1/32"], connection_limit=10))
        self.assertEqual(prom.protocol, "PROMETHEUS")
        self.assertIsNone(prom.default_pool_id)
        self.wait_os_active("listener", lambda: self.conn.load_balancer.get_listener(prom.id))

        status, body = scrape(lb.vip_address, port)
        self.assertEqual(status, 200, body)
        self.assertIn('weir_listener_up{listener="%s"} 1' % tcp.id, body)
        self.assertIn('weir_listener_connections_total{listener="%s"}' % prom.id, body)
        self.assertNotIn(their_tcp.id, body, "another project's listener is in the scrape")
        self.assertNotIn("weir_process_", body, "the process's gauges are the operator's")
        self.assertEqual(scrape(lb.vip_address, port, "/")[0], 404)

        # A pool is refused, now and later.
        self.assertOsError(lambda: self.conn.load_balancer.create_listener(
            loadbalancer_id=lb.id, protocol="PROMETHEUS", protocol_port=free_port(lb.vip_address),
            default_pool_id=pool.id), os_exc.BadRequestException, 400, "PROMETHEUS with a default pool")
        self.assertOsError(lambda: self.conn.load_balancer.update_listener(prom.id, default_pool_id=pool.id),
                           os_exc.BadRequestException, 400, "default pool set on PROMETHEUS")

        # Its allow list holds: this client (127.0.0.1) is outside the new one.
        self.os_step("update_listener allowed_cidrs", lambda: self.conn.load_balancer.update_listener(
            prom.id, allowed_cidrs=["127.0.0.2/32"]))
        status, err = scrape(lb.vip_address, port)
        self.assertIsNone(status, "a client outside allowed_cidrs was answered: %s" % err)
        self.os_step("update_listener allowed_cidrs", lambda: self.conn.load_balancer.update_listener(
            prom.id, allowed_cidrs=None))
        self.assertEqual(scrape(lb.vip_address, port)[0], 200)

        # Another project does not see it.
        self.assertOsError(lambda: self.conn_b.load_balancer.get_listener(prom.id),
                           os_exc.NotFoundException, 404, "another project's PROMETHEUS listener")


class OctaviaQuotaTest(LbaasTestCase):
    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "quota", 10, 62, vms=0)
        cls.other = World(cls.native, "quotax", 10, 63, vms=0)
        admin = cls.native.ok("POST", "/v1/projects/%s/credentials" % cls.other.project.id,
                              {"role": "admin", "name": "operator"})
        cls.admin = openstack_connection(cls.server, admin["access_key_id"], admin["access_key_secret"])
        cls.conn = openstack_connection(cls.server, cls.world.project.ak, cls.world.project.sk)
        cls.conn_b = openstack_connection(cls.server, cls.other.project.ak, cls.other.project.sk)

    def test_quotas_set_by_the_operator_bind_the_project(self):
        project = self.world.project.id
        defaults = self.os_step("get_quota_default", lambda: self.conn.load_balancer.get_quota_default())
        self.assertEqual(defaults.load_balancers, 100)
        self.assertEqual(defaults.members, -1)

        # A member of the project cannot raise its own quota.
        self.assertOsError(lambda: self.conn.load_balancer.update_quota(project, load_balancers=500),
                           os_exc.ForbiddenException, 403, "member sets a quota")

        updated = self.os_step("update_quota", lambda: self.admin.load_balancer.update_quota(
            project, members=1, pools=2, listeners=2))
        self.assertEqual((updated.members, updated.pools, updated.listeners), (1, 2, 2))
        shown = self.os_step("get_quota", lambda: self.conn.load_balancer.get_quota(project))
        self.assertEqual((shown.members, shown.load_balancers), (1, 100))

        lb, listener, pool = self.os_stack(self.conn, self.world, protocol="TCP")
        self.os_step("create_member", lambda: self.conn.load_balancer.create_member(
            pool, address="10.62.1.41", protocol_port=80))
        self.assertOsError(lambda: self.conn.load_balancer.create_member(pool, address="10.62.1.42",
                                                                         protocol_port=80),
                           os_exc.ForbiddenException, 403, "member over quota",
                           message_re="Quota has been met for resources: Member")
        # The native API is held to the same quota.
        status, body = self.native.call("POST", "/v1/pools/%s/backends" % pool.id,
                                        {"backends": [{"address": "10.62.1.43", "port": 80}]},
                                        token=self.world.project.token)
        self.assertEqual((status, body["error"]["code"]), (403, "QuotaExceeded"), body)

        # Another project's quota is not found; a project lists only its own.
        self.assertOsError(lambda: self.conn_b.load_balancer.get_quota(project),
                           os_exc.NotFoundException, 404, "another project's quota")
        listed = [q.project_id for q in self.os_step("quotas", lambda: list(self.conn_b.load_balancer.quotas()))]
        self.assertEqual(listed, [self.other.project.id])

        # Reset: back to the defaults, and the next member goes in.
        self.os_step("delete_quota", lambda: self.admin.load_balancer.delete_quota(project))
        shown = self.os_step("get_quota", lambda: self.conn.load_balancer.get_quota(project))
        self.assertEqual(shown.members, -1)
        self.os_step("create_member after reset", lambda: self.conn.load_balancer.create_member(
            pool, address="10.62.1.42", protocol_port=80))
