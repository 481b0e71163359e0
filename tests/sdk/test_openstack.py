"""openstacksdk (Keystone v3 + Octavia LBaaS v2) against a real `weir serve` on loopback.

Keystone: version document, application-credential and password tokens, catalog, wrong
secret, token expiry. Octavia under /v2.0/lbaas (and /v2/lbaas): load balancers,
listeners, pools, members, batch member updates, health monitors, list semantics; the
tempest member API tests (controlplane-anchors §8.1) and Octavia's negative functional
checks (§8.3) restated against Weir; no load-balancer-wide lock; a TCP exchange through a
VIP built with openstacksdk.

Addresses 10.x are data only: the server's data plane may dial 127.0.0.0/8 only.
"""

import datetime
import socket
import threading
import time
import uuid

import keystoneauth1.exceptions as ks_exc
import openstack

from tests.sdk.lbaas_support import (
    REGION,
    LbaasTestCase,
    TokenTCPBackend,
    World,
    free_port,
    get_absolute,
    keystone_app_cred_body,
    keystone_password_body,
    keystone_token,
    openstack_connection,
    os_error_text,
    os_exc,
    parse_iso8601,
    raw_request,
    tcp_exchange,
)

class RecordingTCPBackend:
    """A TCP server on 127.x that keeps the first bytes of each connection and answers its token."""

    def __init__(self, host):
        self.token = ("weir-recording-" + uuid.uuid4().hex[:8]).encode()
        self.seen = []
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.host, self.port = self.sock.getsockname()
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2.0)
                try:
                    self.seen.append(conn.recv(1024))
                    conn.sendall(self.token)
                except OSError:
                    pass

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


TOKEN_TTL_S = 2
MEMBER_QUOTA = 4  # [limits] backends_per_pool of OctaviaTest's server

# Weir's native names for what an Octavia pool body selects.
NATIVE_SCHEDULER = {"ROUND_ROBIN": "wrr", "LEAST_CONNECTIONS": "lc", "SOURCE_IP": "sh"}


def _icmp_available():
    """Whether this user may open an ICMP echo socket (unprivileged ping socket or raw)."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
        try:
            socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
            return True
        except OSError:
            continue
    return False


def _now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


class KeystoneTest(LbaasTestCase):
    """Keystone v3 as openstacksdk/keystoneauth use it; tokens live TOKEN_TTL_S seconds."""

    CONFIG = {"dialects": {"keystone_token_ttl_secs": TOKEN_TTL_S}}

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "ks", 10, 30, vms=0)
        cls.project = cls.world.project

    def test_version_document(self):
        resp = raw_request(self.server, "GET", "/v3")
        self.assertEqual(resp.status, 200, resp)
        version = (resp.json or {}).get("version")
        self.assertIsInstance(version, dict, resp)
        self.assertTrue(str(version.get("id", "")).startswith("v3"), resp)
        self.assertEqual(version.get("status"), "stable", resp)
        hrefs = [link.get("href") for link in version.get("links") or [] if link.get("rel") == "self"]
        self.assertEqual(hrefs, [self.server.url + "/v3/"], resp)

    def _check_token_response(self, resp, method):
        self.assertEqual(resp.status, 201, "token request: %r" % resp)
        self.assertTrue(resp.headers.get("x-subject-token"), "no X-Subject-Token: %r" % resp.headers)
        token = (resp.json or {}).get("token")
        self.assertIsInstance(token, dict, resp)
        self.assertEqual(token.get("methods"), [method], resp)
        self.assertEqual(token["project"]["id"], self.project.id, resp)
        expires = parse_iso8601(token["expires_at"])
        issued = parse_iso8601(token["issued_at"])
        self.assertEqual((expires - issued).total_seconds(), TOKEN_TTL_S, "expires_at - issued_at != ttl")
        self.assertLess(abs((issued - _now_utc()).total_seconds()), 60, "issued_at is not now: %s" % issued)
        # Catalog: load-balancer, network and identity, each with endpoints for region "local".
        catalog = {entry["type"]: entry for entry in token.get("catalog") or []}
        for service in ("load-balancer", "network", "identity"):
            self.assertIn(service, catalog, "catalog lacks %s: %r" % (service, resp))
            endpoints = catalog[service]["endpoints"]
            self.assertTrue(endpoints, "%s has no endpoints" % service)
            self.assertEqual({e["region_id"] for e in endpoints}, {REGION}, endpoints)
            self.assertIn("public", {e["interface"] for e in endpoints}, endpoints)
            for e in endpoints:
                self.assertTrue(e["url"].startswith(self.server.url), "%s endpoint %r" % (service, e))
        return resp.headers["x-subject-token"], expires

    def test_application_credential_token_and_catalog(self):
        resp = keystone_token(self.server, keystone_app_cred_body(self.project.ak, self.project.sk))
        token, _ = self._check_token_response(resp, "application_credential")
        listing = self.octavia_raw("GET", "/loadbalancers", token=token)
        self.assertEqual(listing.status, 200, listing)
        self.assertEqual(listing.json.get("loadbalancers"), [], listing)

    def test_password_token_scoped_by_project_id_and_name(self):
        for scope in ({"project_id": self.project.id}, {"project_name": self.project.name}):
            with self.subTest(scope=scope):
                resp = keystone_token(self.server, keystone_password_body(self.project.ak, self.project.sk, **scope))
                self._check_token_response(resp, "password")
        other = keystone_token(self.server, keystone_password_body(
            self.project.ak, self.project.sk, project_id=str(uuid.uuid4())))
        self.assertEqual(other.status, 401, "a scope naming another project: %r" % other)

    def test_openstacksdk_password_plugin(self):
        conn = openstack.connect(
            load_yaml_config=False, load_envvars=False, auth_type="password", region_name=REGION,
            auth={"auth_url": self.server.url + "/v3", "username": self.project.ak,
                  "password": self.project.sk, "project_id": self.project.id, "user_domain_id": "default"},
            api_timeout=10)
        lbs = self.os_step("password auth: load_balancers()", lambda: list(conn.load_balancer.load_balancers()))
        self.assertEqual(lbs, [])
        self.assertTrue(conn.auth_token)

    def test_a_reader_credential_reads_and_is_refused_writes_then_revoked(self):
        made = self.native.ok("POST", "/v1/projects/%s/credentials" % self.project.id,
                              {"role": "reader", "name": "dashboard"})
        self.assertEqual(made["role"], "reader", made)
        reader = self.os_conn(self.project, ak=made["access_key_id"], sk=made["access_key_secret"])
        member = self.os_conn(self.project)
        lb = self.os_step("member creates a load balancer", lambda: member.load_balancer.create_load_balancer(
            vip_subnet_id=self.world.subnet["id"], name="read-me"))
        self.addCleanup(member.load_balancer.delete_load_balancer, lb)
        seen = self.os_step("reader lists", lambda: [x.id for x in reader.load_balancer.load_balancers()])
        self.assertIn(lb.id, seen)
        self.assertOsError(lambda: reader.load_balancer.update_load_balancer(lb, name="renamed"),
                           os_exc.ForbiddenException, 403, "reader renames",
                           message_re="Policy does not allow this request to be performed")
        self.assertOsError(lambda: reader.load_balancer.delete_load_balancer(lb),
                           os_exc.ForbiddenException, 403, "reader deletes")
        self.assertEqual(member.load_balancer.get_load_balancer(lb.id).name, "read-me")
        # Revoked: the reader's session stops at once (its cached token is refused, and so is a
        # new sign-in); the member's does not.
        self.native.ok("DELETE", "/v1/projects/%s/credentials/%s" % (self.project.id, made["access_key_id"]))
        # keystoneauth signs in again on the 401, and that is refused too.
        with self.assertRaises(ks_exc.Unauthorized):
            list(reader.load_balancer.load_balancers())
        self.os_step("member still lists", lambda: list(member.load_balancer.load_balancers()))

    def test_wrong_secret_is_401(self):
        for body in (keystone_app_cred_body(self.project.ak, self.project.sk + "x"),
                     keystone_password_body(self.project.ak, "wrong", project_id=self.project.id),
                     keystone_app_cred_body("AKNOSUCHKEY", self.project.sk)):
            with self.subTest(body=body["auth"]["identity"]["methods"]):
                resp = keystone_token(self.server, body)
                self.assertEqual(resp.status, 401, resp)
                self.assertNotIn("x-subject-token", resp.headers, resp)
                self.assertEqual((resp.json or {}).get("error", {}).get("code"), 401, resp)
        conn = openstack_connection(self.server, self.project.ak, "not-the-secret")
        with self.assertRaises(ks_exc.Unauthorized) as ctx:
            list(conn.load_balancer.load_balancers())
        self.assertEqual(ctx.exception.http_status, 401)

    def test_missing_or_forged_token_is_401(self):
        good = self.token_for(self.project)
        parts = good.split(".")
        forged = ".".join(parts[:-1] + [("0" if parts[-1][0] != "0" else "1") + parts[-1][1:]])
        for what, token in (("no token", None), ("garbage", "not-a-token"), ("forged mac", forged)):
            with self.subTest(what):
                resp = self.octavia_raw("GET", "/loadbalancers", token=token)
                self.assertLbaasErrorBody(resp, 401, what)

    def test_token_expires_and_openstacksdk_reauthenticates(self):
        conn = self.os_conn(self.project)
        self.assertEqual(self.os_step("load_balancers() before expiry",
                                      lambda: list(conn.load_balancer.load_balancers())), [])
        resp = keystone_token(self.server, keystone_app_cred_body(self.project.ak, self.project.sk))
        token, expires = self._check_token_response(resp, "application_credential")
        fresh = self.octavia_raw("GET", "/loadbalancers", token=token)
        self.assertEqual(fresh.status, 200, "token used at once: %r" % fresh)
        # Wait (bounded) until the token's expires_at has passed.
        wait_s = (expires - _now_utc()).total_seconds() + 0.2
        self.assertLessEqual(wait_s, TOKEN_TTL_S + 1, "expires_at too far ahead: %s" % expires)
        time.sleep(max(0.0, wait_s))
        stale = self.octavia_raw("GET", "/loadbalancers", token=token)
        self.assertLbaasErrorBody(stale, 401, "a token after expires_at")
        # Same token on the /v2 alias and on a write.
        self.assertEqual(self.octavia_raw("GET", "/loadbalancers", token=token, prefix="/v2/lbaas").status, 401)
        write = self.octavia_raw("POST", "/loadbalancers", {"loadbalancer": {"vip_subnet_id": self.world.subnet["id"]}},
                                 token=token)
        self.assertEqual(write.status, 401, write)
        self.assertEqual(self.native.ok("GET", "/v1/loadbalancers", token=self.project.token).get("loadbalancers"),
                         [], "a write with an expired token created something")
        # keystoneauth notices the expiry and authenticates again: the SDK keeps working.
        self.assertEqual(self.os_step("load_balancers() after expiry",
                                      lambda: list(conn.load_balancer.load_balancers())), [])


class OctaviaTest(LbaasTestCase):
    """Octavia's LBaaS v2 through openstacksdk (and the same session for raw list queries)."""

    CONFIG = {"limits": {"backends_per_pool": MEMBER_QUOTA}}

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "oca", 10, 0, vms=0)
        cls.other = World(cls.native, "ocb", 10, 20, vms=0)
        cls.conn = openstack_connection(cls.server, cls.world.project.ak, cls.world.project.sk)
        cls.conn2 = openstack_connection(cls.server, cls.world.project.ak, cls.world.project.sk)
        cls.conn_b = openstack_connection(cls.server, cls.other.project.ak, cls.other.project.sk)

    # ---- helpers -------------------------------------------------------

    def stack(self, **kw):
        return self.os_stack(self.conn, self.world, **kw)

    def member(self, pool, what=None, conn=None, **attrs):
        conn = conn or self.conn
        return self.os_step(what or "create_member %r" % attrs, lambda: conn.load_balancer.create_member(pool, **attrs))

    def lb_get(self, path):
        """GET through the SDK's own authenticated load-balancer session (endpoint + /v2.0)."""
        resp = self.conn.load_balancer.get(path)
        self.assertEqual(resp.status_code, 200, "GET %s: %s %s" % (path, resp.status_code, resp.text[:300]))
        return resp.json()

    def member_keys(self, pool):
        return sorted((m.address, m.protocol_port) for m in self.os_step(
            "members()", lambda: list(self.conn.load_balancer.members(pool))))

    def addr(self, n):
        return "10.0.1.%d" % n

    # ---- load balancers, listeners, pools ---------------------------------

    def test_load_balancer_lifecycle(self):
        lb = self.os_step("create_load_balancer", lambda: self.conn.load_balancer.create_load_balancer(
            vip_subnet_id=self.world.subnet["id"], name="life"))
        self.assertEqual(lb.vip_subnet_id, self.world.subnet["id"])
        self.assertEqual(lb.vip_network_id, self.world.vpc["id"])
        self.assertEqual(lb.project_id, self.world.project.id)
        self.assertIn(lb.provisioning_status, ("PENDING_CREATE", "ACTIVE"))
        self.assertEqual(lb.vip_address, self.native.vip(lb.id))
        lb = self.os_step("wait_for_load_balancer", lambda: self.conn.load_balancer.wait_for_load_balancer(
            lb.id, interval=1, wait=10))
        self.assertEqual((lb.provisioning_status, lb.is_admin_state_up), ("ACTIVE", True))

        listeners = []
        for protocol in ("TCP", "UDP", "HTTP"):
            port = free_port(lb.vip_address)
            listener = self.os_step("create_listener %s" % protocol, lambda: self.conn.load_balancer.create_listener(
                loadbalancer_id=lb.id, protocol=protocol, protocol_port=port, name="l-" + protocol.lower()))
            self.assertEqual((listener.protocol, listener.protocol_port), (protocol, port))
            self.assertIsNone(listener.default_pool_id, "a new listener has no pool yet: %r" % listener)
            listeners.append(listener)
        for listener in listeners:
            self.wait_os_active("listener %s" % listener.protocol,
                                lambda: self.conn.load_balancer.get_listener(listener.id))
        lb = self.wait_os_active("load balancer", lambda: self.conn.load_balancer.get_load_balancer(lb.id))
        self.assertEqual(sorted(x["id"] for x in lb.listeners), sorted(x.id for x in listeners))
        listed = self.os_step("load_balancers(name=)",
                              lambda: list(self.conn.load_balancer.load_balancers(name="life")))
        self.assertEqual([x.id for x in listed], [lb.id])

        # admin_state_up false stops it (the native view agrees), true starts it again.
        stopped = self.os_step("update_load_balancer admin_state_up=False",
                               lambda: self.conn.load_balancer.update_load_balancer(lb, admin_state_up=False))
        self.assertFalse(stopped.is_admin_state_up)
        self.assertEqual(stopped.operating_status, "OFFLINE")
        self.assertEqual(self.native.loadbalancer(lb.id)["status"].lower(), "stopped")
        started = self.os_step("update_load_balancer admin_state_up=True",
                               lambda: self.conn.load_balancer.update_load_balancer(lb, admin_state_up=True))
        self.assertTrue(started.is_admin_state_up)
        self.assertEqual(self.native.loadbalancer(lb.id)["status"].lower(), "running")

        # A load balancer with listeners is not deleted without cascade (Octavia: 400 "it has
        # children"; a 409 says the same), with it, it is.
        with self.assertRaises(os_exc.HttpException) as refused:
            self.conn.load_balancer.delete_load_balancer(lb, ignore_missing=False)
        self.assertIn(refused.exception.status_code, (400, 409), os_error_text(refused.exception))
        self.assertTrue(refused.exception.details and refused.exception.request_id, os_error_text(refused.exception))
        self.os_step("get_load_balancer after refused delete", lambda: self.conn.load_balancer.get_load_balancer(lb.id))
        resp = self.conn.load_balancer.delete("/lbaas/loadbalancers/%s?cascade=true" % lb.id)
        self.assertEqual(resp.status_code, 204, "DELETE ?cascade=true: %s %s" % (resp.status_code, resp.text))
        self.assertOsError(lambda: self.conn.load_balancer.get_load_balancer(lb.id), os_exc.NotFoundException, 404,
                           "get a deleted load balancer")
        for listener in listeners:
            self.assertOsError(lambda: self.conn.load_balancer.get_listener(listener.id), os_exc.NotFoundException,
                               404, "get a listener of a cascade-deleted load balancer")
        self.assertEqual(self.native.call("GET", "/v1/loadbalancers/%s" % lb.id)[0], 404)

    def test_load_balancer_and_listener_validation(self):
        lbx = self.conn.load_balancer
        for what, attrs in (("no vip_subnet_id", {"name": "x"}),
                            ("unknown vip_subnet_id", {"vip_subnet_id": str(uuid.uuid4())}),
                            ("another project's subnet", {"vip_subnet_id": self.other.subnet["id"]})):
            with self.subTest(what):
                self.assertOsError(lambda: lbx.create_load_balancer(**attrs), os_exc.BadRequestException, 400, what)
        self.assertEqual(self.os_step("load_balancers(name=x)", lambda: list(lbx.load_balancers(name="x"))), [])
        lb = self.os_step("create_load_balancer", lambda: lbx.create_load_balancer(
            vip_subnet_id=self.world.subnet["id"]))
        port = free_port(lb.vip_address)
        for what, attrs in (("protocol BOGUS", dict(protocol="BOGUS", protocol_port=port)),
                            ("port 0", dict(protocol="TCP", protocol_port=0)),
                            ("port 65536", dict(protocol="TCP", protocol_port=65536))):
            with self.subTest(what):
                self.assertOsError(lambda: lbx.create_listener(loadbalancer_id=lb.id, **attrs),
                                   os_exc.BadRequestException, 400, what)
        self.os_step("create_listener", lambda: lbx.create_listener(loadbalancer_id=lb.id, protocol="TCP",
                                                                    protocol_port=port))
        self.assertOsError(lambda: lbx.create_listener(loadbalancer_id=lb.id, protocol="TCP", protocol_port=port),
                           os_exc.ConflictException, 409, "a second TCP listener on the same port")
        self.assertOsError(lambda: lbx.create_listener(loadbalancer_id=str(uuid.uuid4()), protocol="TCP",
                                                       protocol_port=port), os_exc.NotFoundException, 404,
                           "a listener on an unknown load balancer")
        self.assertEqual(len(self.os_step("get_load_balancer", lambda: lbx.get_load_balancer(lb.id)).listeners), 1)
        # An HTTP listener would need the same TCP socket: 409 too. TLS termination needs its
        # certificate (tests/sdk/test_keymgr.py serves it).
        self.assertOsError(lambda: lbx.create_listener(loadbalancer_id=lb.id, protocol="HTTP", protocol_port=port),
                           os_exc.ConflictException, 409, "an HTTP listener on a TCP listener's port")
        self.assertOsError(lambda: lbx.create_listener(loadbalancer_id=lb.id, protocol="TERMINATED_HTTPS",
                                                       protocol_port=free_port(lb.vip_address)),
                           os_exc.BadRequestException, 400, "TERMINATED_HTTPS without a certificate",
                           message_re="default certificate container reference")

    def test_listener_connection_limit_is_kept_and_bounded(self):
        """connection_limit (issue 14, hole 7): -1 is the default (Weir's dataplane.max_connections),
        a positive value is the listener's cap, 0, -2 and values past 1,000,000 are 400s; an update
        changes it and -1 sets it back."""
        lbx = self.conn.load_balancer
        lb = self.os_step("create_load_balancer", lambda: lbx.create_load_balancer(
            vip_subnet_id=self.world.subnet["id"]))
        port = free_port(lb.vip_address)
        for what, limit in (("zero", 0), ("below -1", -2), ("past the ceiling", 1000001)):
            with self.subTest(what):
                self.assertOsError(lambda: lbx.create_listener(loadbalancer_id=lb.id, protocol="TCP",
                                                               protocol_port=port, connection_limit=limit),
                                   os_exc.BadRequestException, 400, what)
        default = self.os_step("create_listener", lambda: lbx.create_listener(
            loadbalancer_id=lb.id, protocol="UDP", protocol_port=port))
        self.assertEqual(default.connection_limit, -1)
        capped = self.os_step("create_listener", lambda: lbx.create_listener(
            loadbalancer_id=lb.id, protocol="TCP", protocol_port=port, connection_limit=100))
        self.assertEqual(capped.connection_limit, 100)
        self.assertEqual(self.os_step("get_listener", lambda: lbx.get_listener(capped.id)).connection_limit, 100)
        self.assertEqual(self.os_step("update_listener", lambda: lbx.update_listener(
            capped.id, connection_limit=7)).connection_limit, 7)
        self.assertOsError(lambda: lbx.update_listener(capped.id, connection_limit=0),
                           os_exc.BadRequestException, 400, "update to 0")
        self.assertEqual(self.os_step("get_listener", lambda: lbx.get_listener(capped.id)).connection_limit, 7,
                         "a refused update changes nothing")
        self.assertEqual(self.os_step("update_listener", lambda: lbx.update_listener(
            capped.id, connection_limit=-1)).connection_limit, -1)

    def test_unknown_lbaas_path_is_404_in_lbaas_shape(self):
        """Errors on the Octavia routes carry the LBaaS error body and x-openstack-request-id,
        including a path the API does not serve."""
        lb = self.os_step("create_load_balancer", lambda: self.conn.load_balancer.create_load_balancer(
            vip_subnet_id=self.world.subnet["id"]))
        resp = self.octavia_raw("GET", "/loadbalancers/%s/no-such-thing" % lb.id, token=self.conn.auth_token)
        self.assertLbaasErrorBody(resp, 404, "unknown LBaaS path")

    def test_stopped_load_balancer_settles_active(self):
        """Stopping is a change the data plane applies: provisioning_status returns to ACTIVE
        (openstacksdk's wait_for_load_balancer must not hang on a stopped LB)."""
        lb, listener, _ = self.stack()
        self.os_step("update_load_balancer admin_state_up=False",
                     lambda: self.conn.load_balancer.update_load_balancer(lb, admin_state_up=False))
        lb = self.wait_os_active("stopped load balancer", lambda: self.conn.load_balancer.get_load_balancer(lb.id))
        self.assertFalse(lb.is_admin_state_up)

    def test_delete_cascade_through_openstacksdk(self):
        """openstacksdk's own cascade delete (it sends `?cascade=True`)."""
        lb, listener, pool = self.stack()
        self.member(pool, address=self.addr(90), protocol_port=80)
        self.os_step("delete_load_balancer(cascade=True)",
                     lambda: self.conn.load_balancer.delete_load_balancer(lb, cascade=True))
        self.assertOsError(lambda: self.conn.load_balancer.get_load_balancer(lb.id), os_exc.NotFoundException, 404,
                           "get a cascade-deleted load balancer")

    def test_pools_are_server_groups_with_their_own_algorithm_and_protocol(self):
        lb = self.os_step("create_load_balancer", lambda: self.conn.load_balancer.create_load_balancer(
            vip_subnet_id=self.world.subnet["id"], name="pools"))
        cases = [("TCP", "TCP", "ROUND_ROBIN"), ("TCP", "PROXY", "LEAST_CONNECTIONS"),
                 ("TCP", "PROXYV2", "SOURCE_IP"), ("UDP", "UDP", "SOURCE_IP"), ("HTTP", "HTTP", "LEAST_CONNECTIONS"),
                 ("TCP", "HTTPS", "ROUND_ROBIN")]
        for listener_protocol, pool_protocol, algorithm in cases:
            with self.subTest(listener=listener_protocol, pool=pool_protocol, algorithm=algorithm):
                port = free_port(lb.vip_address)
                listener = self.os_step("create_listener", lambda: self.conn.load_balancer.create_listener(
                    loadbalancer_id=lb.id, protocol=listener_protocol, protocol_port=port))
                pool = self.os_step("create_pool", lambda: self.conn.load_balancer.create_pool(
                    listener_id=listener.id, protocol=pool_protocol, lb_algorithm=algorithm, name="p-" + pool_protocol,
                    description="a %s pool" % pool_protocol))
                listener = self.os_step("get_listener", lambda: self.conn.load_balancer.get_listener(listener.id))
                self.assertEqual(pool.id, listener.default_pool_id, "the pool is the listener's default pool")
                self.assertEqual((pool.protocol, pool.lb_algorithm, pool.name, pool.description),
                                 (pool_protocol, algorithm, "p-" + pool_protocol, "a %s pool" % pool_protocol))
                self.assertEqual([x["id"] for x in pool.listeners], [listener.id])
                self.assertEqual([x["id"] for x in pool.loadbalancers], [lb.id])
                shown = self.os_step("get_pool", lambda: self.conn.load_balancer.get_pool(pool.id))
                self.assertEqual((shown.protocol, shown.lb_algorithm), (pool_protocol, algorithm))
                # The pool, not the listener, carries them (Weir's server group).
                native = self.native.pool(pool.id)
                self.assertEqual((native["scheduler"], native["protocol"]),
                                 (NATIVE_SCHEDULER[algorithm], pool_protocol.lower()))
                self.assertEqual(self.native.listener(listener.id)["group_pool_id"], pool.id)
        # A pool protocol that does not fit the listener, an unknown algorithm: 400.
        port = free_port(lb.vip_address)
        tcp = self.os_step("create_listener", lambda: self.conn.load_balancer.create_listener(
            loadbalancer_id=lb.id, protocol="TCP", protocol_port=port))
        self.assertOsError(lambda: self.conn.load_balancer.create_pool(
            listener_id=tcp.id, protocol="UDP", lb_algorithm="ROUND_ROBIN"), os_exc.BadRequestException, 400,
            "UDP pool on a TCP listener")
        self.assertOsError(lambda: self.conn.load_balancer.create_pool(
            listener_id=tcp.id, protocol="TCP", lb_algorithm="RANDOM"), os_exc.BadRequestException, 400,
            "unknown lb_algorithm", message_re="lb_algorithm")
        # With only loadbalancer_id: a pool of its own, in use by no listener, as many as wanted.
        standalone = [self.os_step("create_pool loadbalancer_id", lambda: self.conn.load_balancer.create_pool(
            loadbalancer_id=lb.id, protocol="TCP", lb_algorithm=algorithm, name="alone-" + algorithm))
            for algorithm in ("ROUND_ROBIN", "SOURCE_IP")]
        for alone in standalone:
            self.assertNotEqual(alone.id, self.native.loadbalancer(lb.id)["default_pool_id"])
            self.assertEqual((alone.listeners, alone.operating_status), ([], "OFFLINE"))
            self.assertEqual([x["id"] for x in alone.loadbalancers], [lb.id])
        pools = self.os_step("pools(loadbalancer_id=)",
                             lambda: list(self.conn.load_balancer.pools(loadbalancer_id=lb.id)))
        self.assertEqual(len(pools), len(cases) + len(standalone), "the pools made as pools, no other")
        # The TCP listener takes one as its default pool, then another.
        for alone in standalone:
            moved = self.os_step("update_listener default_pool_id", lambda: self.conn.load_balancer.update_listener(
                tcp, default_pool_id=alone.id))
            self.assertEqual(moved.default_pool_id, alone.id)

    # ---- members: tempest API tests (§8.1) ----------------------------------

    def test_member_create_show_update(self):
        """M-CREATE, M-SHOW, M-UPDATE."""
        lb, listener, pool = self.stack()
        address = "10.0.9.7"  # in the LB's VPC, outside the given subnet: fine for Octavia
        before = _now_utc()
        m = self.member(pool, name="m-full", admin_state_up=True, address=address, protocol_port=8080, weight=50,
                        backup=True, subnet_id=self.world.subnet["id"])
        uuid.UUID(m.id)
        self.assertEqual((m.name, m.is_admin_state_up, m.address, m.protocol_port, m.weight, m.backup, m.subnet_id),
                         ("m-full", True, address, 8080, 50, True, self.world.subnet["id"]))
        self.assertEqual(m.project_id, self.world.project.id)
        self.assertIn(m.provisioning_status, ("PENDING_CREATE", "ACTIVE"))
        self.assertGreaterEqual(parse_iso8601(m.created_at), before - datetime.timedelta(seconds=60))
        parse_iso8601(m.updated_at)
        shown = self.wait_os_active("member", lambda: self.conn.load_balancer.get_member(m.id, pool))
        self.assertEqual((shown.name, shown.is_admin_state_up, shown.address, shown.protocol_port, shown.weight,
                          shown.backup, shown.subnet_id),
                         ("m-full", True, address, 8080, 50, True, self.world.subnet["id"]))
        lb = self.wait_os_active("load balancer", lambda: self.conn.load_balancer.get_load_balancer(lb.id))

        # No subnet: stored as null; weight defaults to 1.
        bare = self.member(pool, address="10.0.1.8", protocol_port=8080)
        self.assertIsNone(bare.subnet_id)
        self.assertEqual((bare.weight, bare.backup, bare.is_admin_state_up), (1, False, True))

        # M-UPDATE: name, admin_state_up, weight+1, backup flip; address/port/subnet unchanged.
        updated = self.os_step("update_member", lambda: self.conn.load_balancer.update_member(
            m, pool, name="m-renamed", admin_state_up=False, weight=51, backup=False))
        self.assertEqual((updated.name, updated.is_admin_state_up, updated.weight, updated.backup),
                         ("m-renamed", False, 51, False))
        shown = self.wait_os_active("updated member", lambda: self.conn.load_balancer.get_member(m.id, pool))
        self.assertEqual((shown.name, shown.is_admin_state_up, shown.weight, shown.backup),
                         ("m-renamed", False, 51, False))
        self.assertEqual((shown.address, shown.protocol_port, shown.subnet_id),
                         (address, 8080, self.world.subnet["id"]))
        self.assertEqual(shown.operating_status, "OFFLINE", "an admin-disabled member is OFFLINE")
        native = self.native.ok("GET", "/v1/backends/%s" % m.id)
        self.assertEqual((native["weight"], native["enabled"], native["name"]), (51, False, "m-renamed"))
        # address, protocol_port and subnet_id are immutable.
        for field, value in (("address", "10.0.9.8"), ("protocol_port", 8081), ("subnet_id", self.world.subnet["id"])):
            with self.subTest(immutable=field):
                resp = self.conn.load_balancer.put("/lbaas/pools/%s/members/%s" % (pool.id, m.id),
                                                   json={"member": {field: value}})
                self.assertEqual(resp.status_code, 400, "update %s: %s" % (field, resp.text))
        # Setting a field to null returns it to its default (§8.3 test_update_unset_defaults).
        resp = self.conn.load_balancer.put("/lbaas/pools/%s/members/%s" % (pool.id, m.id),
                                           json={"member": {"name": None, "weight": None, "backup": None}})
        self.assertEqual(resp.status_code, 200, resp.text)
        shown = self.os_step("get_member", lambda: self.conn.load_balancer.get_member(m.id, pool))
        self.assertEqual((shown.name, shown.weight, shown.backup), ("", 1, False))
        # Weight bounds: 0 and 256 are valid, 257 is not.
        for weight in (0, 256):
            self.assertEqual(self.os_step("update weight %d" % weight, lambda: self.conn.load_balancer.update_member(
                m, pool, weight=weight)).weight, weight)
        self.assertOsError(lambda: self.conn.load_balancer.update_member(m, pool, weight=257),
                           os_exc.BadRequestException, 400, "weight 257")
        self.assertOsError(lambda: self.conn.load_balancer.create_member(pool, address="10.0.1.9", protocol_port=1,
                                                                         weight=257),
                           os_exc.BadRequestException, 400, "create with weight 257")

    def test_member_operating_status_without_monitor(self):
        """M-CREATE / M-SHOW: members of a pool without a health monitor are NO_MONITOR
        (OFFLINE when admin-disabled)."""
        lb, listener, pool = self.stack()
        members = [self.member(pool, address=self.addr(40), protocol_port=80),
                   self.member(pool, address="127.0.0.1", protocol_port=free_port("127.0.0.1")),
                   self.member(pool, address=self.addr(41), protocol_port=80, admin_state_up=False)]
        expected = ["NO_MONITOR", "NO_MONITOR", "OFFLINE"]
        for m in members:
            self.wait_os_active("member %s" % m.address, lambda: self.conn.load_balancer.get_member(m.id, pool))
        time.sleep(0.3)  # give the data plane time to form a view of the members
        got = [self.os_step("get_member", lambda: self.conn.load_balancer.get_member(m.id, pool)).operating_status
               for m in members]
        self.assertEqual(got, expected, "operating_status of %s" % [m.address for m in members])

    def test_member_list_default_order_filters_fields_sort(self):
        """M-LIST: three members (ports 101, 100, 102; the third disabled, the first a backup)."""
        lb, listener, pool = self.stack()
        self.assertEqual(self.lb_get("/lbaas/pools/%s/members" % pool.id),
                         {"members": [], "members_links": []}, "empty pool")
        created = [self.member(pool, address=self.addr(21), protocol_port=101, backup=True, name="m101"),
                   self.member(pool, address=self.addr(22), protocol_port=100, name="m100"),
                   self.member(pool, address=self.addr(23), protocol_port=102, admin_state_up=False, name="m102")]
        ids = [m.id for m in created]
        listed = self.os_step("members()", lambda: list(self.conn.load_balancer.members(pool)))
        self.assertEqual([m.id for m in listed], ids, "default order is creation")
        one = self.os_step("members(protocol_port=100)",
                           lambda: list(self.conn.load_balancer.members(pool, protocol_port=100)))
        self.assertEqual([m.id for m in one], [ids[1]])
        base = "/lbaas/pools/%s/members" % pool.id
        ports = lambda body: [m["protocol_port"] for m in body["members"]]  # noqa: E731
        self.assertEqual(ports(self.lb_get(base + "?sort=protocol_port:desc")), [102, 101, 100])
        self.assertEqual(ports(self.lb_get(base + "?sort=protocol_port:asc")), [100, 101, 102])
        self.assertEqual(ports(self.lb_get(base + "?sort_key=protocol_port&sort_dir=desc")), [102, 101, 100])
        asc = [m["id"] for m in self.lb_get(base + "?sort=name:asc")["members"]]
        desc = [m["id"] for m in self.lb_get(base + "?sort=name:desc")["members"]]
        self.assertEqual(asc, list(reversed(desc)))
        self.assertEqual(self.lb_get(base + "?backup=true")["members"][0]["id"], ids[0])
        self.assertEqual(len(self.lb_get(base + "?backup=true")["members"]), 1)
        sample = self.lb_get(base)["members"][0]
        for field in sorted(sample):
            with self.subTest(fields=field):
                body = self.lb_get(base + "?fields=" + field)
                self.assertEqual([sorted(m) for m in body["members"]], [[field]] * 3)
        two = self.lb_get(base + "?fields=admin_state_up&fields=created_at")["members"]
        self.assertEqual([sorted(m) for m in two], [["admin_state_up", "created_at"]] * 3)
        combo = self.lb_get(base + "?admin_state_up=true&fields=protocol_port&fields=id&sort=protocol_port:desc")
        self.assertEqual(combo["members"], [{"id": ids[0], "protocol_port": 101}, {"id": ids[1], "protocol_port": 100}])
        bad = self.conn.load_balancer.get(base + "?sort=protocol_port:sideways")
        self.assertEqual(bad.status_code, 400, bad.text)

    def test_member_boolean_filters_through_openstacksdk(self):
        """openstacksdk sends Python booleans as `True`/`False`: filters must still match."""
        lb, listener, pool = self.stack()
        backup = self.member(pool, address=self.addr(31), protocol_port=101, backup=True)
        plain = self.member(pool, address=self.addr(32), protocol_port=100)
        self.member(pool, address=self.addr(33), protocol_port=102, admin_state_up=False)
        enabled = self.os_step("members(is_admin_state_up=True)",
                               lambda: list(self.conn.load_balancer.members(pool, is_admin_state_up=True)))
        self.assertEqual(sorted(m.id for m in enabled), sorted([backup.id, plain.id]))
        backups = self.os_step("members(backup=True)", lambda: list(self.conn.load_balancer.members(pool, backup=True)))
        self.assertEqual([m.id for m in backups], [backup.id])

    def test_member_paging_links(self):
        """§8.3 test_get_all_limited: limit=1 pages carry absolute next/previous links;
        openstacksdk follows them."""
        lb, listener, pool = self.stack()
        ids = [self.member(pool, address=self.addr(50 + i), protocol_port=80 + i).id for i in range(3)]
        paged = self.os_step("members(limit=1)", lambda: list(self.conn.load_balancer.members(pool, limit=1)))
        self.assertEqual([m.id for m in paged], ids, "openstacksdk following members_links")
        token = self.conn.auth_token
        headers = {"X-Auth-Token": token}
        first = self.lb_get("/lbaas/pools/%s/members?limit=1" % pool.id)
        pages = [first]
        for _ in range(5):  # bounded walk along the next links
            nxt = [link["href"] for link in pages[-1]["members_links"] if link["rel"] == "next"]
            if not nxt:
                break
            resp = get_absolute(self.server, nxt[0], headers)
            self.assertEqual(resp.status, 200, resp)
            pages.append(resp.json)
        self.assertEqual([p["members"][0]["id"] for p in pages], ids)
        rels = [sorted(link["rel"] for link in p["members_links"]) for p in pages]
        self.assertEqual(rels, [["next"], ["next", "previous"], ["previous"]])
        prev = [link["href"] for link in pages[-1]["members_links"] if link["rel"] == "previous"][0]
        back = get_absolute(self.server, prev, headers)
        self.assertEqual([m["id"] for m in back.json["members"]], [ids[1]], "previous of the last page")
        reverse = self.lb_get("/lbaas/pools/%s/members?page_reverse=true" % pool.id)
        self.assertEqual([m["id"] for m in reverse["members"]], list(reversed(ids)), "page_reverse=true")
        unknown = self.conn.load_balancer.get("/lbaas/pools/%s/members?marker=%s" % (pool.id, uuid.uuid4()))
        self.assertGreaterEqual(unknown.status_code, 400, "an unknown marker: %s" % unknown.text)

    def walk_next_links(self, first_path, headers, max_pages=6):
        """The items of a listing and every page reached through its next links (bounded)."""
        page = self.lb_get(first_path)
        seen = list(page["members"])
        for _ in range(max_pages):
            nxt = [link["href"] for link in page["members_links"] if link["rel"] == "next"]
            if not nxt:
                return seen
            resp = get_absolute(self.server, nxt[0], headers)
            self.assertEqual(resp.status, 200, resp)
            page = resp.json
            seen.extend(page["members"])
        self.fail("more than %d pages following %s" % (max_pages, first_path))

    def test_member_paging_links_keep_sort_and_filters(self):
        """A client that follows members_links as given (python-octaviaclient, curl) must get
        the rest of the same sorted, filtered listing (Octavia puts `sort` into its links)."""
        lb, listener, pool = self.stack()
        for port in (101, 100, 102):
            self.member(pool, address=self.addr(60), protocol_port=port)
        self.member(pool, address=self.addr(60), protocol_port=103, admin_state_up=False)
        headers = {"X-Auth-Token": self.conn.auth_token}
        base = "/lbaas/pools/%s/members?limit=1" % pool.id
        seen = self.walk_next_links(base + "&sort=protocol_port:desc", headers)
        self.assertEqual([m["protocol_port"] for m in seen], [103, 102, 101, 100],
                         "ports seen walking the next links of sort=protocol_port:desc")
        seen = self.walk_next_links(base + "&admin_state_up=true&sort=protocol_port:asc&fields=protocol_port",
                                    headers)
        self.assertEqual(seen, [{"protocol_port": p} for p in (100, 101, 102)],
                         "walking the next links of a filtered, sorted, projected listing")

    # ---- members: negative checks (§8.3) -----------------------------------

    def test_member_validation_errors(self):
        lb, listener, pool = self.stack()
        create = self.conn.load_balancer.create_member
        cases = [
            ("no address", dict(protocol_port=80), "address"),
            ("no protocol_port", dict(address=self.addr(70)), "protocol_port"),
            ("port 0", dict(address=self.addr(70), protocol_port=0), "protocol_port"),
            ("port 65536", dict(address=self.addr(70), protocol_port=65536), "protocol_port"),
            ("metadata address", dict(address="169.254.169.254", protocol_port=80),
             "not a valid option for member address"),
            ("public address", dict(address="8.8.8.8", protocol_port=80), "8.8.8.8"),
            ("not an address", dict(address="web-1", protocol_port=80), None),
            ("the VIP itself", dict(address=lb.vip_address, protocol_port=80), None),
            ("subnet in another VPC", dict(address=self.addr(70), protocol_port=80,
                                           subnet_id=self.world.subnet_nogw["id"]), None),
        ]
        for what, attrs, message_re in cases:
            with self.subTest(what):
                self.assertOsError(lambda: create(pool, **attrs), os_exc.BadRequestException, 400, what,
                                   message_re=message_re)
        # Bodies that are not {"member": {...}} JSON: 400 in the LBaaS shape.
        token = self.conn.auth_token
        for what, body in (("not JSON", b"{not json"), ("unwrapped", {"address": self.addr(70), "protocol_port": 80}),
                           ("port not a number", {"member": {"address": self.addr(70), "protocol_port": "eighty"}})):
            with self.subTest(what):
                resp = self.octavia_raw("POST", "/pools/%s/members" % pool.id, body, token=token)
                self.assertLbaasErrorBody(resp, 400, what, code="ELB.1001")
        # Port bounds that are valid.
        for port in (1, 65535):
            self.member(pool, address=self.addr(71), protocol_port=port)
        self.assertEqual(self.member_keys(pool), [(self.addr(71), 1), (self.addr(71), 65535)],
                         "rejected members were written")

    def test_member_with_unknown_subnet_is_400(self):
        """§8.3 test_create_with_bad_subnet: 400 "Subnet X not found" (a subnet the caller
        cannot see, unknown or another project's, is a bad request body, not a missing
        resource of the URL)."""
        lb, listener, pool = self.stack()
        for what, subnet_id in (("unknown subnet_id", str(uuid.uuid4())),
                                ("another project's subnet", self.other.subnet["id"])):
            with self.subTest(what):
                self.assertOsError(lambda: self.conn.load_balancer.create_member(
                    pool, address=self.addr(72), protocol_port=80, subnet_id=subnet_id), os_exc.BadRequestException,
                    400, what, message_re=subnet_id)
        self.assertEqual(self.member_keys(pool), [])

    def test_duplicate_member_is_409(self):
        lb, listener, pool = self.stack()
        first = self.member(pool, address=self.addr(80), protocol_port=8080)
        err = self.assertOsError(lambda: self.conn.load_balancer.create_member(
            pool, address=self.addr(80), protocol_port=8080, name="again"), os_exc.ConflictException, 409,
            "duplicate member")
        self.assertEqual(err.details, "Another member on this pool is already using ip address %s on protocol_port "
                                      "8080." % self.addr(80))
        # Same address on another port, and the same address:port in another pool, are fine.
        self.member(pool, address=self.addr(80), protocol_port=8081)
        other_pool = self.stack()[2]
        self.member(other_pool, address=self.addr(80), protocol_port=8080)
        self.assertEqual([m.id for m in self.conn.load_balancer.members(pool, protocol_port=8080)], [first.id])
        # The raw error body: Octavia's and Huawei's fields, the request id in header and body.
        token = self.conn.auth_token
        resp = self.octavia_raw("POST", "/pools/%s/members" % pool.id,
                                {"member": {"address": self.addr(80), "protocol_port": 8080}}, token=token)
        self.assertLbaasErrorBody(resp, 409, "raw duplicate", code="ELB.8902",
                                  message_re="already using ip address")
        self.assertEqual(resp.json["faultcode"], "Client")

    def test_unknown_and_foreign_resources_are_404(self):
        lb, listener, pool = self.stack()
        other_pool = self.stack()[2]
        m = self.member(pool, address=self.addr(85), protocol_port=80)
        lbx = self.conn.load_balancer
        cases = [
            ("create in an unknown pool", lambda: lbx.create_member(str(uuid.uuid4()), address=self.addr(86),
                                                                   protocol_port=80)),
            ("list an unknown pool", lambda: list(lbx.members(str(uuid.uuid4())))),
            ("unknown member", lambda: lbx.get_member(str(uuid.uuid4()), pool)),
            ("show a member under another pool", lambda: lbx.get_member(m.id, other_pool)),
            ("update a member under another pool", lambda: lbx.update_member(m.id, other_pool, weight=3)),
            ("delete a member under another pool", lambda: lbx.delete_member(m.id, other_pool, ignore_missing=False)),
        ]
        for what, call in cases:
            with self.subTest(what):
                self.assertOsError(call, os_exc.NotFoundException, 404, what)
        self.assertEqual(self.os_step("get_member", lambda: lbx.get_member(m.id, pool)).weight, 1,
                         "the member changed through another pool's path")
        self.os_step("delete_member", lambda: lbx.delete_member(m, pool, ignore_missing=False))
        self.assertOsError(lambda: lbx.get_member(m.id, pool), os_exc.NotFoundException, 404, "get a deleted member")
        self.assertOsError(lambda: lbx.update_member(m.id, pool, weight=2), os_exc.NotFoundException, 404,
                           "update a deleted member")
        self.assertOsError(lambda: lbx.delete_member(m.id, pool, ignore_missing=False), os_exc.NotFoundException,
                           404, "delete a deleted member")

    def test_body_project_id_is_ignored(self):
        """§8.3 test_create_with_project_id_is_ignored."""
        lb, listener, pool = self.stack()
        resp = self.conn.load_balancer.post("/lbaas/pools/%s/members" % pool.id, json={"member": {
            "address": self.addr(87), "protocol_port": 80, "project_id": self.other.project.id}})
        self.assertEqual(resp.status_code, 201, resp.text)
        self.assertEqual(resp.json()["member"]["project_id"], self.world.project.id)

    def test_member_quota_is_403(self):
        lb, listener, pool = self.stack()
        for i in range(MEMBER_QUOTA):
            self.member(pool, address=self.addr(100 + i), protocol_port=80)
        self.assertOsError(lambda: self.conn.load_balancer.create_member(pool, address=self.addr(120),
                                                                         protocol_port=80),
                           os_exc.ForbiddenException, 403, "member over quota", message_re="Quota has been met")
        resp = self.conn.load_balancer.put("/lbaas/pools/%s/members?additive_only=true" % pool.id,
                                           json={"members": [{"address": self.addr(121), "protocol_port": 80}]})
        self.assertEqual(resp.status_code, 403, "additive batch over quota: %s" % resp.text)
        self.assertEqual(len(self.member_keys(pool)), MEMBER_QUOTA)

    def test_no_or_bad_token_is_401(self):
        lb, listener, pool = self.stack()
        for what, token in (("no token", None), ("bad token", "wks2.x.1.y")):
            with self.subTest(what):
                resp = self.octavia_raw("POST", "/pools/%s/members" % pool.id,
                                        {"member": {"address": self.addr(88), "protocol_port": 80}}, token=token)
                self.assertLbaasErrorBody(resp, 401, what, code="ELB.1000")
        self.assertEqual(self.member_keys(pool), [])

    def test_oversized_body_is_413(self):
        lb, listener, pool = self.stack()
        body = {"member": {"address": self.addr(89), "protocol_port": 80, "name": "x" * (1 << 20)}}
        resp = self.octavia_raw("POST", "/pools/%s/members" % pool.id, body, token=self.conn.auth_token)
        self.assertLbaasErrorBody(resp, 413, "1 MiB body")
        self.assertEqual(self.member_keys(pool), [])

    # ---- batch member update (§8.1 M-BATCH, §8.3) --------------------------------

    def test_batch_member_update(self):
        lb, listener, pool = self.stack()
        m1 = self.member(pool, address="10.0.2.1", protocol_port=80, weight=50, backup=False, name="member1")
        m2 = self.member(pool, address="10.0.2.3", protocol_port=81, weight=51, backup=True, name="member2")
        path = "/lbaas/pools/%s/members" % pool.id
        resp = self.conn.load_balancer.put(path, json={"members": [
            {"address": "10.0.2.3", "protocol_port": 81, "weight": 51, "backup": True, "name": "member2-new"},
            {"address": "10.0.2.5", "protocol_port": 82, "weight": 52, "backup": True, "name": "member3"}]})
        self.assertEqual(resp.status_code, 202, resp.text)
        listed = self.lb_get(path + "?sort=protocol_port:asc")["members"]
        self.assertEqual([(m["address"], m["protocol_port"], m["name"], m["weight"], m["backup"]) for m in listed],
                         [("10.0.2.3", 81, "member2-new", 51, True), ("10.0.2.5", 82, "member3", 52, True)])
        self.assertEqual(listed[0]["id"], m2.id, "the matched member keeps its id")
        self.assertNotIn(listed[1]["id"], (m1.id, m2.id), "the new member has a new id")
        self.assertOsError(lambda: self.conn.load_balancer.get_member(m1.id, pool), os_exc.NotFoundException, 404,
                           "member1 after the batch")
        m3_id = listed[1]["id"]
        # additive_only: nothing is deleted; matched members are updated, new ones created.
        resp = self.conn.load_balancer.put(path + "?additive_only=true", json={"members": [
            {"address": "10.0.2.7", "protocol_port": 83, "name": "member4"},
            {"address": "10.0.2.5", "protocol_port": 82, "weight": 7}]})
        self.assertEqual(resp.status_code, 202, resp.text)
        listed = self.lb_get(path + "?sort=protocol_port:asc")["members"]
        self.assertEqual([(m["id"] if m["protocol_port"] < 83 else "new", m["protocol_port"], m["weight"])
                          for m in listed], [(m2.id, 81, 51), (m3_id, 82, 7), ("new", 83, 1)])
        # additive_only as openstacksdk/python spell booleans (True) means the same.
        resp = self.conn.load_balancer.put(path + "?additive_only=True", json={"members": [
            {"address": "10.0.2.5", "protocol_port": 82, "weight": 8}]})
        self.assertEqual(resp.status_code, 202, resp.text)
        listed = self.lb_get(path + "?sort=protocol_port:asc")["members"]
        self.assertEqual([(m["protocol_port"], m["weight"]) for m in listed], [(81, 51), (82, 8), (83, 1)])
        # The same existing member twice: 400 and nothing changes.
        resp = self.conn.load_balancer.put(path, json={"members": [
            {"address": "10.0.2.3", "protocol_port": 81, "weight": 9},
            {"address": "10.0.2.3", "protocol_port": 81, "weight": 10}]})
        self.assertEqual(resp.status_code, 400, resp.text)
        self.assertTrue(resp.headers.get("x-openstack-request-id"))
        self.assertIn("faultstring", resp.json())
        # The same new member twice is refused as well (Octavia: DB unique constraint, 409).
        resp = self.conn.load_balancer.put(path, json={"members": [
            {"address": "10.0.2.9", "protocol_port": 84}, {"address": "10.0.2.9", "protocol_port": 84}]})
        self.assertIn(resp.status_code, (400, 409), resp.text)
        self.assertEqual(self.lb_get(path + "?sort=protocol_port:asc")["members"], listed,
                         "a refused batch changed the pool")
        # An invalid member refuses the whole batch.
        resp = self.conn.load_balancer.put(path, json={"members": [
            {"address": "10.0.2.11", "protocol_port": 85}, {"address": "10.0.2.12", "protocol_port": 0}]})
        self.assertEqual(resp.status_code, 400, resp.text)
        self.assertEqual(len(self.lb_get(path)["members"]), 3)
        # An empty list empties the pool; on an empty pool it is a no-op 202.
        for _ in range(2):
            resp = self.conn.load_balancer.put(path, json={"members": []})
            self.assertEqual(resp.status_code, 202, resp.text)
            self.assertEqual(self.lb_get(path)["members"], [])

    # ---- no load-balancer-wide lock ------------------------------------------

    def test_concurrent_member_creates_on_one_lb_all_succeed(self):
        lb, listener, pool = self.stack()
        second = self.os_step("second listener", lambda: self.conn.load_balancer.create_listener(
            loadbalancer_id=lb.id, protocol="TCP", protocol_port=free_port(lb.vip_address)))
        second_pool = self.os_step("second pool", lambda: self.conn.load_balancer.create_pool(
            listener_id=second.id, protocol="TCP", lb_algorithm="ROUND_ROBIN"))
        barrier = threading.Barrier(3, timeout=10)
        results, errors = {}, {}

        def create(key, conn, pool_id, address):
            try:
                barrier.wait()
                results[key] = conn.load_balancer.create_member(pool_id, address=address, protocol_port=80)
            except Exception as e:  # noqa: BLE001  (reported below)
                errors[key] = e

        threads = [threading.Thread(target=create, args=("a", self.conn, pool.id, self.addr(150))),
                   threading.Thread(target=create, args=("b", self.conn2, pool.id, self.addr(151))),
                   threading.Thread(target=create, args=("c", self.os_conn(self.world.project), second_pool.id,
                                                         self.addr(152)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)
        self.assertFalse(any(t.is_alive() for t in threads), "a create did not return within 15 s")
        self.assertEqual(errors, {}, "concurrent creates on one load balancer failed")
        self.assertEqual(self.member_keys(pool), [(self.addr(150), 80), (self.addr(151), 80)])
        # Right after a write (no wait for ACTIVE), another write on the same LB proceeds.
        m = self.member(pool, address=self.addr(153), protocol_port=80)
        self.os_step("update right after create", lambda: self.conn.load_balancer.update_member(
            results["a"], pool, weight=5))
        self.os_step("delete right after create", lambda: self.conn.load_balancer.delete_member(m, pool))
        for key in ("a", "b"):
            self.wait_os_active("member " + key, lambda: self.conn.load_balancer.get_member(results[key].id, pool))

    # ---- health monitors -----------------------------------------------------

    def test_health_monitor_lifecycle(self):
        lb, listener, pool = self.stack(protocol="HTTP")
        hm = self.os_step("create_health_monitor", lambda: self.conn.load_balancer.create_health_monitor(
            pool_id=pool.id, type="HTTP", delay=5, timeout=3, max_retries=2, max_retries_down=3,
            url_path="/healthz", expected_codes="200"))
        self.assertEqual(hm.id, pool.id, "a pool's monitor has the pool's id")
        self.assertEqual((hm.type, hm.delay, hm.timeout, hm.max_retries, hm.max_retries_down, hm.url_path,
                          hm.expected_codes), ("HTTP", 5, 3, 2, 3, "/healthz", "200"))
        self.assertEqual([p["id"] for p in hm.pools], [pool.id])
        self.assertEqual(self.os_step("get_pool", lambda: self.conn.load_balancer.get_pool(pool.id)).health_monitor_id,
                         hm.id)
        self.assertOsError(lambda: self.conn.load_balancer.create_health_monitor(
            pool_id=pool.id, type="TCP", delay=5, timeout=3, max_retries=2), os_exc.ConflictException, 409,
            "a second monitor on one pool")
        listed = self.os_step("health_monitors(type=HTTP)",
                              lambda: list(self.conn.load_balancer.health_monitors(type="HTTP")))
        self.assertIn(hm.id, [x.id for x in listed])
        updated = self.os_step("update_health_monitor", lambda: self.conn.load_balancer.update_health_monitor(
            hm, delay=7, timeout=4, max_retries=4))
        self.assertEqual((updated.delay, updated.timeout, updated.max_retries, updated.type), (7, 4, 4, "HTTP"))
        shown = self.os_step("get_health_monitor", lambda: self.conn.load_balancer.get_health_monitor(hm.id))
        self.assertEqual((shown.delay, shown.timeout, shown.max_retries, shown.max_retries_down), (7, 4, 4, 3))
        self.os_step("delete_health_monitor", lambda: self.conn.load_balancer.delete_health_monitor(hm))
        self.assertOsError(lambda: self.conn.load_balancer.get_health_monitor(hm.id), os_exc.NotFoundException, 404,
                           "a deleted monitor")
        self.assertIsNone(self.os_step("get_pool", lambda: self.conn.load_balancer.get_pool(pool.id)).health_monitor_id)
        # A TCP monitor, named and admin-down, is kept as given; a timeout past the delay is accepted
        # (checks never overlap). PING and the TLS monitors are options Weir lacks: Octavia's 501.
        tcp_pool = self.stack()[2]
        hm = self.os_step("create TCP monitor", lambda: self.conn.load_balancer.create_health_monitor(
            pool_id=tcp_pool.id, type="TCP", delay=2, timeout=3, max_retries=1, name="tcp-hm",
            admin_state_up=False))
        self.assertEqual((hm.id, hm.name, hm.is_admin_state_up, hm.timeout, hm.operating_status),
                         (tcp_pool.id, "tcp-hm", False, 3, "OFFLINE"))
        self.os_step("delete monitor", lambda: self.conn.load_balancer.delete_health_monitor(hm))
        for kind in ("HTTPS", "TLS-HELLO"):
            hm = self.os_step("create %s monitor" % kind, lambda: self.conn.load_balancer.create_health_monitor(
                pool_id=tcp_pool.id, type=kind, delay=2, timeout=1, max_retries=1))
            self.assertEqual(hm.type, kind)
            self.os_step("delete monitor", lambda: self.conn.load_balancer.delete_health_monitor(hm))
        # PING is honoured where the server can send ICMP echo (it finds out at start, as this
        # test does, with the same user's rights: a ping socket, else a raw one), else 501.
        if _icmp_available():
            hm = self.os_step("create PING monitor", lambda: self.conn.load_balancer.create_health_monitor(
                pool_id=tcp_pool.id, type="PING", delay=2, timeout=1, max_retries=1))
            self.assertEqual((hm.type, hm.url_path, hm.expected_codes), ("PING", None, None))
            self.os_step("delete monitor", lambda: self.conn.load_balancer.delete_health_monitor(hm))
        else:
            self.assertOsError(lambda: self.conn.load_balancer.create_health_monitor(
                pool_id=tcp_pool.id, type="PING", delay=2, timeout=1, max_retries=1), os_exc.HttpException,
                501, "PING monitor", message_re="does not support")
        self.assertOsError(lambda: self.conn.load_balancer.create_health_monitor(
            pool_id=tcp_pool.id, type="SCTP-BOGUS", delay=2, timeout=1, max_retries=1), os_exc.BadRequestException,
            400, "unknown monitor type")

    def test_monitored_member_operating_status(self):
        """§8.2 health-monitor traffic: healthy ONLINE, failing ERROR, disabled OFFLINE."""
        lb, listener, pool = self.stack()
        backend = TokenTCPBackend("127.0.0.1")
        self.addCleanup(backend.close)
        self.os_step("create_health_monitor", lambda: self.conn.load_balancer.create_health_monitor(
            pool_id=pool.id, type="TCP", delay=1, timeout=1, max_retries=1, max_retries_down=1))
        healthy = self.member(pool, address=backend.host, protocol_port=backend.port)
        failing = self.member(pool, address="127.0.0.1", protocol_port=free_port("127.0.0.1"))
        disabled = self.member(pool, address="127.0.0.2", protocol_port=backend.port, admin_state_up=False)
        want = {healthy.id: "ONLINE", failing.id: "ERROR", disabled.id: "OFFLINE"}

        def statuses():
            return {m.id: m.operating_status for m in self.conn.load_balancer.members(pool)}

        self.poll("monitored members reach ONLINE/ERROR/OFFLINE", statuses, lambda s: s == want,
                  attempts=60, deadline_s=6.0, pause_s=0.1)

    # ---- neutron-lbaas flavour, /v2 alias, isolation -----------------------------------

    def test_neutron_lbaas_pool_member_calls(self):
        lb, listener, pool = self.stack()
        net = self.conn.network
        m = self.os_step("network.create_pool_member", lambda: net.create_pool_member(
            pool.id, address=self.addr(160), protocol_port=8080, subnet_id=self.world.subnet["id"], weight=3))
        self.assertEqual((m.address, m.protocol_port, m.subnet_id, m.weight), (self.addr(160), 8080,
                                                                              self.world.subnet["id"], 3))
        same = self.os_step("load_balancer.get_member", lambda: self.conn.load_balancer.get_member(m.id, pool))
        self.assertEqual((same.address, same.protocol_port, same.weight), (self.addr(160), 8080, 3))
        self.assertEqual([x.id for x in self.os_step("network.pool_members", lambda: list(net.pool_members(pool.id)))],
                         [m.id])
        updated = self.os_step("network.update_pool_member", lambda: net.update_pool_member(m, pool.id, weight=9))
        self.assertEqual(updated.weight, 9)
        self.assertEqual(self.os_step("network.get_pool_member", lambda: net.get_pool_member(m.id, pool.id)).weight, 9)
        self.assertOsError(lambda: net.create_pool_member(pool.id, address=self.addr(160), protocol_port=8080),
                           os_exc.ConflictException, 409, "neutron-style duplicate")
        self.os_step("network.delete_pool_member", lambda: net.delete_pool_member(m, pool.id, ignore_missing=False))
        self.assertEqual(self.member_keys(pool), [])

    def test_deleting_a_pool_takes_its_members_and_monitor(self):
        """An Octavia pool is deleted for real, with its members and monitor; its listener is left
        without a default pool."""
        lb, listener, pool = self.stack()
        members = [self.member(pool, address=self.addr(n), protocol_port=80) for n in (190, 191)]
        self.os_step("create_health_monitor", lambda: self.conn.load_balancer.create_health_monitor(
            pool_id=pool.id, type="TCP", delay=5, timeout=3, max_retries=2))
        self.os_step("delete_pool", lambda: self.conn.load_balancer.delete_pool(pool))
        self.assertOsError(lambda: self.conn.load_balancer.get_pool(pool.id), os_exc.NotFoundException, 404,
                           "the deleted pool")
        self.assertOsError(lambda: self.conn.load_balancer.get_health_monitor(pool.id), os_exc.NotFoundException,
                           404, "the pool's monitor after the delete")
        for m in members:
            self.assertEqual(self.native.call("GET", "/v1/backends/%s" % m.id)[0], 404)
        shown = self.os_step("get_listener", lambda: self.conn.load_balancer.get_listener(listener.id))
        self.assertIsNone(shown.default_pool_id)

    def test_v2_alias_serves_the_same_resources(self):
        lb, listener, pool = self.stack()
        token = self.conn.auth_token
        created = self.octavia_raw("POST", "/pools/%s/members" % pool.id,
                                   {"member": {"address": self.addr(170), "protocol_port": 80}}, token=token,
                                   prefix="/v2/lbaas")
        self.assertEqual(created.status, 201, created)
        listed = self.octavia_raw("GET", "/pools/%s/members" % pool.id, token=token, prefix="/v2.0/lbaas")
        self.assertEqual([m["id"] for m in listed.json["members"]], [created.json["member"]["id"]])
        alias = self.octavia_raw("GET", "/pools/%s/members" % pool.id, token=token, prefix="/v2/lbaas")
        # The statuses may move on (PENDING_CREATE -> ACTIVE) between the two reads; the members may not.
        stable = lambda ms: [{k: v for k, v in m.items() if not k.endswith("_status")} for m in ms]  # noqa: E731
        self.assertEqual(stable(alias.json["members"]), stable(listed.json["members"]))

    def test_other_project_sees_nothing(self):
        lb, listener, pool = self.stack()
        m = self.member(pool, address=self.addr(180), protocol_port=80)
        other = self.conn_b.load_balancer
        self.assertEqual(self.os_step("B load_balancers()", lambda: list(other.load_balancers())), [])
        self.assertEqual(self.os_step("B pools()", lambda: list(other.pools())), [])
        for what, call in (("B get_load_balancer", lambda: other.get_load_balancer(lb.id)),
                           ("B get_pool", lambda: other.get_pool(pool.id)),
                           ("B members", lambda: list(other.members(pool.id))),
                           ("B get_member", lambda: other.get_member(m.id, pool.id)),
                           ("B create_member", lambda: other.create_member(pool.id, address="10.20.1.5",
                                                                            protocol_port=80)),
                           ("B delete_member", lambda: other.delete_member(m.id, pool.id, ignore_missing=False))):
            with self.subTest(what):
                self.assertOsError(call, os_exc.NotFoundException, 404, what)
        self.assertEqual(self.member_keys(pool), [(self.addr(180), 80)])


class OctaviaTrafficTest(LbaasTestCase):
    """Traffic through a VIP built with openstacksdk (backend_ranges include 127.0.0.0/8)."""

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "otr", 10, 40, vms=0)
        cls.other = World(cls.native, "otx", 10, 41, vms=0)
        cls.conn = openstack_connection(cls.server, cls.world.project.ak, cls.world.project.sk)

    def lb_get(self, path):
        resp = self.conn.load_balancer.get(path)
        self.assertEqual(resp.status_code, 200, "GET %s: %s %s" % (path, resp.status_code, resp.text[:300]))
        return resp.json()

    def test_a_pools_protocol_and_persistence_shape_its_traffic(self):
        """Octavia pools are Weir's server groups: a PROXY pool sends the PROXY header first, a pool with
        SOURCE_IP persistence keeps one client on one member, and a listener moved to another pool
        forwards there at once."""
        recorder = RecordingTCPBackend("127.0.0.1")
        self.addCleanup(recorder.close)
        tokens = [TokenTCPBackend("127.0.0.1") for _ in range(2)]
        for b in tokens:
            self.addCleanup(b.close)
        lb, listener, pool = self.os_stack(self.conn, self.world, protocol="TCP", pool_protocol="PROXY",
                                           algorithm="LEAST_CONNECTIONS")
        member = lambda p, **kw: self.os_step("create_member", lambda: self.conn.load_balancer.create_member(p, **kw))  # noqa: E731
        member(pool, address=recorder.host, protocol_port=recorder.port)
        data, err = tcp_exchange(lb.vip_address, listener.protocol_port)
        self.assertEqual(data, recorder.token, err)
        self.assertTrue(recorder.seen and recorder.seen[-1].startswith(b"PROXY TCP4 127."), recorder.seen)

        # Two more pools on the same load balancer: round robin with and without source-IP persistence.
        sticky = self.os_step("create_pool sticky", lambda: self.conn.load_balancer.create_pool(
            loadbalancer_id=lb.id, protocol="TCP", lb_algorithm="ROUND_ROBIN",
            session_persistence={"type": "SOURCE_IP"}))
        plain = self.os_step("create_pool plain", lambda: self.conn.load_balancer.create_pool(
            loadbalancer_id=lb.id, protocol="TCP", lb_algorithm="ROUND_ROBIN"))
        self.assertEqual(sticky.session_persistence["type"], "SOURCE_IP")
        self.assertEqual(sticky.lb_algorithm, "ROUND_ROBIN")
        for p in (sticky, plain):
            for b in tokens:
                member(p, address=b.host, protocol_port=b.port)

        def answers(target, n=8):
            self.os_step("update_listener default_pool_id", lambda: self.conn.load_balancer.update_listener(
                listener, default_pool_id=target.id))
            got = []
            for _ in range(n):
                data, err = tcp_exchange(lb.vip_address, listener.protocol_port)
                self.assertIsNotNone(data, err)
                got.append(data)
            return got

        plain_answers = answers(plain)
        self.assertEqual(set(plain_answers), {b.token for b in tokens}, "round robin reaches both members")
        sticky_answers = answers(sticky)
        self.assertEqual(len(set(sticky_answers)), 1, "source-IP persistence keeps one member: %r" % sticky_answers)
        self.assertIn(sticky_answers[0], {b.token for b in tokens})
        # The PROXY pool's header is the pool's: the plain pool's members got none.
        self.assertFalse(any(seen.startswith(b"PROXY") for seen in recorder.seen[1:]))

    def test_stats_and_status_tree_follow_traffic(self):
        """GET …/listeners/{id}/stats and …/loadbalancers/{id}/stats count what flowed; the status tree
        names the load balancer, its listener, pool, monitor and member."""
        backend = TokenTCPBackend("127.0.0.1")
        self.addCleanup(backend.close)
        lb, listener, pool = self.os_stack(self.conn, self.world, protocol="TCP")
        m = self.os_step("create_member", lambda: self.conn.load_balancer.create_member(
            pool, address=backend.host, protocol_port=backend.port))
        self.os_step("create_health_monitor", lambda: self.conn.load_balancer.create_health_monitor(
            pool_id=pool.id, type="TCP", delay=1, timeout=1, max_retries=1, name="hm"))
        before = self.lb_get("/lbaas/listeners/%s/stats" % listener.id)["stats"]
        self.assertEqual(sorted(before), ["active_connections", "bytes_in", "bytes_out", "request_errors",
                                          "total_connections"])
        self.assertEqual(before["active_connections"], 0, "an idle listener serves no one: %r" % before)
        for _ in range(3):
            data, err = tcp_exchange(lb.vip_address, listener.protocol_port)
            self.assertEqual(data, backend.token, err)
        after = self.poll("stats", lambda: self.lb_get("/lbaas/listeners/%s/stats" % listener.id)["stats"],
                          lambda s: s["total_connections"] >= before["total_connections"] + 3)
        self.assertGreaterEqual(after["bytes_in"], before["bytes_in"] + 3 * len(b"ping\n"))
        self.assertGreaterEqual(after["bytes_out"], before["bytes_out"] + 3 * len(backend.token))
        lb_stats = self.lb_get("/lbaas/loadbalancers/%s/stats" % lb.id)["stats"]
        self.assertGreaterEqual(lb_stats["total_connections"], after["total_connections"])
        tree = self.lb_get("/lbaas/loadbalancers/%s/status" % lb.id)["statuses"]["loadbalancer"]
        self.assertEqual(tree["id"], lb.id)
        (ltree,) = tree["listeners"]
        (ptree,) = ltree["pools"]
        self.assertEqual((ltree["id"], ptree["id"], ptree["health_monitor"]["name"]), (listener.id, pool.id, "hm"))
        self.assertEqual([x["id"] for x in ptree["members"]], [m.id])
        self.assertEqual(self.octavia_raw("GET", "/loadbalancers/%s/stats" % lb.id,
                                          token=self.os_conn(self.other.project).auth_token).status, 404,
                         "another project's stats")

    def test_https_listener_passes_bytes_through(self):
        """Octavia's HTTPS listener is TLS passthrough: Weir relays the bytes untouched to members that
        terminate TLS (here a plain TCP backend proves nothing is added or taken away)."""
        backend = TokenTCPBackend("127.0.0.1")
        self.addCleanup(backend.close)
        lb, listener, pool = self.os_stack(self.conn, self.world, protocol="HTTPS")
        self.assertEqual((listener.protocol, pool.protocol), ("HTTPS", "HTTPS"))
        self.os_step("create_member", lambda: self.conn.load_balancer.create_member(
            pool, address=backend.host, protocol_port=backend.port))
        data, err = tcp_exchange(lb.vip_address, listener.protocol_port)
        self.assertEqual(data, backend.token, err)
        self.assertEqual(self.native.listener(listener.id)["protocol"], "tls-passthrough")

    def test_tcp_exchange_reaches_member(self):
        backend = TokenTCPBackend("127.0.0.1")
        self.addCleanup(backend.close)
        lb, listener, pool = self.os_stack(self.conn, self.world, protocol="TCP")
        m = self.os_step("create_member", lambda: self.conn.load_balancer.create_member(
            pool, address=backend.host, protocol_port=backend.port))
        self.wait_os_active("member", lambda: self.conn.load_balancer.get_member(m.id, pool))
        self.wait_os_active("listener", lambda: self.conn.load_balancer.get_listener(listener.id))
        data, err = tcp_exchange(lb.vip_address, listener.protocol_port)
        self.assertEqual(data, backend.token, "TCP via %s:%s: %s\n%s" % (lb.vip_address, listener.protocol_port, err,
                                                                          self.server.logs()))
        # admin_state_up false stops the load balancer: the VIP stops answering; true restores it.
        self.os_step("stop", lambda: self.conn.load_balancer.update_load_balancer(lb, admin_state_up=False))
        answered = True
        for _ in range(30):
            data, _ = tcp_exchange(lb.vip_address, listener.protocol_port, attempts=1, deadline_s=1.0)
            if data is None:
                answered = False
                break
            time.sleep(0.1)
        self.assertFalse(answered, "a stopped load balancer still answers")
        self.os_step("start", lambda: self.conn.load_balancer.update_load_balancer(lb, admin_state_up=True))
        data, err = tcp_exchange(lb.vip_address, listener.protocol_port)
        self.assertEqual(data, backend.token, "after restart: %s" % err)
