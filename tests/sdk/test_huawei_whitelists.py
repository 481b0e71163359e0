"""Huawei ELB v2 whitelists through huaweicloudsdkelb's v2 client against a real `weir serve`:
create_whitelist, list_whitelists, show_whitelist, update_whitelist, delete_whitelist. A whitelist
is the listener's own allow list (an ACL of its project): traffic through a TCP listener serves a
whitelisted loopback client and refuses another (clients bound to 127.0.0.72 and 127.0.0.73); a
change applies to the next connection; enable_whitelist false lets everyone in and keeps the list.
Hostile input (a network with host bits, garbage, an IPv6 entry on an IPv4 VIP, a second whitelist
on one listener, another project's listener or whitelist, an unknown field) is refused in Huawei's
error shape and writes nothing.

Every address is in 127.0.0.0/8; every wait is bounded.
"""

import socket
import time

from tests.sdk import aliyun_support as ali
from tests.sdk.lbaas_support import (
    LbaasTestCase,
    TokenTCPBackend,
    World,
    assert_loopback,
    elb,
    hw_create_member,
    hw_raw,
    tcp_exchange,
)

LISTED = "127.0.0.72"
OTHER = "127.0.0.73"


def exchange_from(source, host, port):
    """One connection from `source` to host:port: the bytes answered, or None when the connection
    is refused, reset or closed without an answer."""
    assert_loopback(source)
    assert_loopback(host)
    try:
        with socket.create_connection((host, port), timeout=2.0, source_address=(source, 0)) as s:
            s.settimeout(2.0)
            s.sendall(b"ping\n")
            return s.recv(4096) or None
    except OSError:
        return None


def served_from(source, host, port, attempts=20):
    """The answer to `source`, retried a bounded number of times (the first accept may race the
    bind)."""
    for _ in range(attempts):
        data = exchange_from(source, host, port)
        if data:
            return data
        time.sleep(0.1)
    return None


def create_req(listener_id, **fields):
    return elb.CreateWhitelistRequest(body=elb.CreateWhitelistRequestBody(
        whitelist=elb.CreateWhitelistReq(listener_id=listener_id, **fields)))


def update_req(whitelist_id, **fields):
    return elb.UpdateWhitelistRequest(whitelist_id=whitelist_id, body=elb.UpdateWhitelistRequestBody(
        whitelist=elb.UpdateWhitelistReq(**fields)))


class HuaweiWhitelists(LbaasTestCase):

    @classmethod
    def bootstrap(cls):
        # A loopback subnet: Huawei members must be inside it, and are dialled.
        cls.world = World(cls.native, "hwwl", 127, 20, vms=0)
        cls.other = World(cls.native, "hwwl-b", 10, 70, vms=0)
        cls.client = cls.hw(cls.world.project)
        cls.client_b = cls.hw(cls.other.project)

    def create(self, listener_id, client=None, **fields):
        client = client or self.client
        resp = self.hw_step("create_whitelist %r" % fields,
                            lambda: client.create_whitelist(create_req(listener_id, **fields)))
        self.assertEqual(resp.status_code, 201, "create_whitelist status")
        return resp.whitelist

    def show(self, whitelist_id):
        return self.hw_step("show_whitelist", lambda: self.client.show_whitelist(
            elb.ShowWhitelistRequest(whitelist_id=whitelist_id))).whitelist

    def serving_stack(self):
        backend = TokenTCPBackend("127.20.1.31")
        self.addCleanup(backend.close)
        lb, listener, pool = self.hw_stack(self.client, self.world)
        self.hw_step("create_member", lambda: self.client.create_member(hw_create_member(
            pool.id, address=backend.host, protocol_port=backend.port, subnet_id=self.world.subnet["id"])))
        address = assert_loopback(lb.vip_address)
        data, err = tcp_exchange(address, listener.protocol_port)
        self.assertEqual(data, backend.token, "served before any whitelist: %s" % err)
        return backend, lb, listener, address

    def test_a_whitelist_admits_only_its_networks_at_accept(self):
        backend, lb, listener, address = self.serving_stack()
        port = listener.protocol_port
        made = self.create(listener.id, enable_whitelist=True, whitelist=LISTED + ",198.51.100.0/24")
        self.assertEqual((made.id, made.listener_id, made.enable_whitelist), (listener.id, listener.id, True))
        self.assertEqual(made.whitelist, LISTED + ",198.51.100.0/24")
        self.assertEqual(made.tenant_id, self.world.project.id)
        # The call answers once the data plane applies the list: the next connection sees it.
        self.assertEqual(served_from(LISTED, address, port), backend.token, "a whitelisted client")
        self.assertIsNone(exchange_from(OTHER, address, port), "a client outside the whitelist was served")

        # Switched off: everyone connects, the list is kept.
        off = self.hw_step("update_whitelist off", lambda: self.client.update_whitelist(
            update_req(made.id, enable_whitelist=False))).whitelist
        self.assertEqual((off.enable_whitelist, off.whitelist), (False, made.whitelist))
        self.assertEqual(served_from(OTHER, address, port), backend.token, "whitelist off: any client")
        # Seen from Alibaba's SLB: the listener's list reads off with its type and id kept, and the
        # list's related listener says it is off.
        acl_id = self.native.listener(listener.id)["acl_id"]
        aliyun = lambda action, params: ali.v1_request(  # noqa: E731
            self.server, action, params, ak=self.world.project.ak, sk=self.world.project.sk).json
        attr = aliyun("DescribeLoadBalancerTCPListenerAttribute", {"LoadBalancerId": lb.id, "ListenerPort": port})
        self.assertEqual((attr.get("AclStatus"), attr.get("AclType"), attr.get("AclId")), ("off", "white", acl_id),
                         attr)
        related = aliyun("DescribeAccessControlListAttribute", {"AclId": acl_id})["RelatedListeners"]
        self.assertEqual([(r["ListenerPort"], r["AclType"], r["AclStatus"]) for r in related["RelatedListener"]],
                         [(port, "white", "off")])
        # On again with the other client's network instead: turned round at the next connection.
        on = self.hw_step("update_whitelist on", lambda: self.client.update_whitelist(
            update_req(made.id, enable_whitelist=True, whitelist=OTHER))).whitelist
        self.assertEqual((on.enable_whitelist, on.whitelist), (True, OTHER))
        self.assertEqual(served_from(OTHER, address, port), backend.token, "the client now whitelisted")
        self.assertIsNone(exchange_from(LISTED, address, port), "a client taken off the whitelist was served")
        # On with nothing listed: no client connects.
        self.hw_step("update_whitelist empty", lambda: self.client.update_whitelist(
            update_req(made.id, whitelist="")))
        self.assertIsNone(exchange_from(OTHER, address, port), "an empty whitelist admitted a client")

        # Deleted: everyone again, and the list made for it is gone from the project's ACLs.
        self.hw_step("delete_whitelist", lambda: self.client.delete_whitelist(
            elb.DeleteWhitelistRequest(whitelist_id=made.id)))
        self.assertEqual(served_from(LISTED, address, port), backend.token, "whitelist deleted: any client")
        self.assertHwError(lambda: self.client.show_whitelist(elb.ShowWhitelistRequest(whitelist_id=made.id)),
                           404, "ELB.1002", "a deleted whitelist")
        self.assertNotIn(listener.id, [w.listener_id for w in self.client.list_whitelists(
            elb.ListWhitelistsRequest()).whitelists or []])

    def test_list_show_and_filters(self):
        _, _, listener, _ = self.serving_stack()
        _, listener2, _ = self.hw_stack(self.client, self.world)
        self.create(listener.id, whitelist="192.0.2.0/24")
        self.create(listener2.id, enable_whitelist=False, whitelist="203.0.113.9")
        # enable_whitelist defaults to true.
        self.assertTrue(self.show(listener.id).enable_whitelist)
        listed = self.hw_step("list_whitelists", lambda: self.client.list_whitelists(
            elb.ListWhitelistsRequest())).whitelists
        self.assertLessEqual({listener.id, listener2.id}, {w.id for w in listed})
        only = self.client.list_whitelists(elb.ListWhitelistsRequest(listener_id=listener2.id)).whitelists
        self.assertEqual([(w.id, w.enable_whitelist, w.whitelist) for w in only],
                         [(listener2.id, False, "203.0.113.9")])
        off = self.client.list_whitelists(elb.ListWhitelistsRequest(enable_whitelist=False)).whitelists
        self.assertIn(listener2.id, [w.id for w in off])
        self.assertNotIn(listener.id, [w.id for w in off])
        # Another project sees none of them, and cannot read, change or delete them.
        theirs = self.client_b.list_whitelists(elb.ListWhitelistsRequest()).whitelists or []
        self.assertFalse({listener.id, listener2.id} & {w.id for w in theirs})
        self.assertHwError(lambda: self.client_b.show_whitelist(
            elb.ShowWhitelistRequest(whitelist_id=listener.id)), 404, "ELB.1002", "another project's whitelist")
        self.assertHwError(lambda: self.client_b.update_whitelist(update_req(listener.id, whitelist="")),
                           404, "ELB.1002", "changing another project's whitelist")
        self.assertHwError(lambda: self.client_b.delete_whitelist(
            elb.DeleteWhitelistRequest(whitelist_id=listener.id)), 404, "ELB.1002",
            "deleting another project's whitelist")
        self.assertEqual(self.show(listener.id).whitelist, "192.0.2.0/24", "another project changed nothing")

    def test_hostile_input_is_refused_and_writes_nothing(self):
        _, _, listener, _ = self.serving_stack()
        bad = [
            ("192.0.2.1/24", 400, "ELB.1001", r"host bits.*192\.0\.2\.0/24"),
            ("not-an-address", 400, "ELB.1001", r"whitelist"),
            ("192.0.2.0/33", 400, "ELB.1001", r"whitelist"),
            ("2001:db8::/32", 400, "ELB.1001", r"ipv4"),
            ("192.0.2.0/24,192.0.2.0/24", 400, "ELB.1001", r"already an entry"),
        ]
        for text, status, code, message in bad:
            self.assertHwError(lambda: self.client.create_whitelist(create_req(listener.id, whitelist=text)),
                               status, code, "whitelist %r" % text, message)
        self.assertHwError(lambda: self.client.show_whitelist(elb.ShowWhitelistRequest(whitelist_id=listener.id)),
                           404, "ELB.1002", "a refused create wrote nothing")
        # Another project's listener (and one that does not exist) is not found.
        self.assertHwError(lambda: self.client_b.create_whitelist(create_req(listener.id, whitelist="")),
                           404, "ELB.1002", "a whitelist on another project's listener", r"Listener")
        self.assertHwError(lambda: self.client.create_whitelist(create_req("no-such-listener")),
                           404, "ELB.1002", "a whitelist on a missing listener")
        # One whitelist per listener.
        self.create(listener.id, whitelist="192.0.2.0/24")
        self.assertHwError(lambda: self.client.create_whitelist(create_req(listener.id, whitelist="198.51.100.1")),
                           409, "ELB.8903", "a second whitelist on one listener")
        # A bad update leaves the list as it was.
        self.assertHwError(lambda: self.client.update_whitelist(update_req(listener.id, whitelist="10.0.0.1/8")),
                           400, "ELB.1001", "an update with host bits")
        self.assertEqual(self.show(listener.id).whitelist, "192.0.2.0/24")
        # Fields Huawei does not document, and another tenant_id, are refused (raw: the SDK only
        # sends its own fields).
        resp = hw_raw(self.server, self.world.project, "PUT", "/whitelists/" + listener.id,
                      {"whitelist": {"whitelist": "192.0.2.0/24", "mode": "black"}})
        self.assertLbaasErrorBody(resp, 400, "an unknown field", code="ELB.1001")
        _, listener2, _ = self.hw_stack(self.client, self.world)
        resp = hw_raw(self.server, self.world.project, "POST", "/whitelists",
                      {"whitelist": {"listener_id": listener2.id, "tenant_id": self.other.project.id}})
        self.assertLbaasErrorBody(resp, 400, "another tenant_id", code="ELB.1001")
        self.assertHwError(lambda: self.client.show_whitelist(elb.ShowWhitelistRequest(whitelist_id=listener2.id)),
                           404, "ELB.1002", "a refused create wrote nothing")
