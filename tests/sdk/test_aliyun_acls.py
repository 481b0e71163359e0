"""Alibaba Cloud SLB access control lists through aliyun-python-sdk-slb against a real `weir serve`:
CreateAccessControlList, AddAccessControlListEntry, RemoveAccessControlListEntry,
DescribeAccessControlLists, DescribeAccessControlListAttribute, SetAccessControlListAttribute,
DeleteAccessControlList, and a TCP listener's AclStatus/AclType/AclId. Traffic: a TCP listener with a
black list refuses a listed loopback client and serves another (clients bound to 127.0.0.52 and
127.0.0.53); an entry added applies to the next connection; white turns it round. Hostile input (an
AclEntrys that is not JSON, an IPv6 entry on an IPv4 list, another project's AclId) is refused with
SLB's codes and writes nothing.
"""

import json
import socket
import time
import unittest

from aliyunsdkslb.request.v20140515 import (
    AddAccessControlListEntryRequest,
    AddBackendServersRequest,
    CreateAccessControlListRequest,
    CreateLoadBalancerRequest,
    CreateLoadBalancerTCPListenerRequest,
    DeleteAccessControlListRequest,
    DeleteLoadBalancerListenerRequest,
    DescribeAccessControlListAttributeRequest,
    DescribeAccessControlListsRequest,
    RemoveAccessControlListEntryRequest,
    SetAccessControlListAttributeRequest,
)

from tests.sdk import aliyun_support as ali
from tests.sdk.aliyun_support import AliyunTestCase, servers_json
from tests.sdk.test_aliyun import req

LISTED = "127.0.0.52"
OTHER = "127.0.0.53"


def exchange_from(source, host, port):
    """One connection from `source` to host:port: the bytes answered, or None when the connection is
    refused, reset or closed without an answer."""
    ali.assert_loopback(source)
    ali.assert_loopback(host)
    try:
        with socket.create_connection((host, port), timeout=2.0, source_address=(source, 0)) as s:
            s.settimeout(2.0)
            s.sendall(b"ping\n")
            data = s.recv(4096)
            return data or None
    except OSError:
        return None


def served_from(source, host, port, attempts=20):
    """The answer to `source`, retried a bounded number of times (the first accept may race the bind)."""
    for _ in range(attempts):
        data = exchange_from(source, host, port)
        if data:
            return data
        time.sleep(0.1)
    return None


class AliyunAcls(AliyunTestCase):

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("ali-acl")
        cls.other = cls.native.project("ali-acl-other")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")

    def setUp(self):
        self.client = self.classic(self.p)

    def acl(self, name="office", version="ipv4", client=None):
        return self.acs(client or self.client, req(CreateAccessControlListRequest, AclName=name,
                                                   AddressIPVersion=version))["AclId"]

    def add(self, acl_id, *entries):
        return self.acs(self.client, req(AddAccessControlListEntryRequest, AclId=acl_id,
                                         AclEntrys=json.dumps(list(entries))))

    def attribute(self, acl_id):
        return self.acs(self.client, req(DescribeAccessControlListAttributeRequest, AclId=acl_id))

    def test_black_and_white_lists_through_a_tcp_listener(self):
        srv = ali.TokenTCPBackend("127.0.0.51")
        self.addCleanup(srv.close)
        inst = self.native.instance(self.p, self.subnet, "127.0.0.51", name="acl-backend")
        made = self.acs(self.client, req(CreateLoadBalancerRequest, VSwitchId=self.subnet["id"], VpcId=self.vpc["id"]))
        lb_id, address = made["LoadBalancerId"], ali.assert_loopback(made["Address"])
        self.acs(self.client, req(AddBackendServersRequest, LoadBalancerId=lb_id, BackendServers=servers_json(
            {"ServerId": inst["id"], "Weight": "100"})))
        acl_id = self.acl()
        self.add(acl_id, {"entry": LISTED + "/32", "comment": "listed"})
        port = ali.free_port(address)
        self.acs(self.client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=lb_id, ListenerPort=port,
                                  BackendServerPort=srv.port, Bandwidth=-1, AclStatus="on", AclType="black",
                                  AclId=acl_id))
        self.assertEqual(served_from(OTHER, address, port), srv.token, "a client not in the black list")
        self.assertIsNone(exchange_from(LISTED, address, port), "a client in the black list was served")
        # An entry added applies to the next connection (the call answers once the data plane has it).
        self.add(acl_id, {"entry": OTHER, "comment": "added"})
        self.assertIsNone(exchange_from(OTHER, address, port), "a client added to the black list was served")
        related = self.attribute(acl_id)["RelatedListeners"]["RelatedListener"]
        self.assertEqual([(r["LoadBalancerId"], r["ListenerPort"], r["AclType"]) for r in related],
                         [(lb_id, port, "black")])
        # Removed again: served again.
        self.acs(self.client, req(RemoveAccessControlListEntryRequest, AclId=acl_id,
                                  AclEntrys=json.dumps([{"entry": OTHER + "/32"}])))
        self.assertEqual(served_from(OTHER, address, port), srv.token, "a client removed from the black list")

        # In use: not deleted.
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            DeleteAccessControlListRequest, AclId=acl_id)), "OperationFailed.AclBindedWithVip", 400,
            "deleting an ACL a listener uses")

        # A white list: only the listed client.
        self.acs(self.client, req(DeleteLoadBalancerListenerRequest, LoadBalancerId=lb_id, ListenerPort=port))
        port = ali.free_port(address)
        self.acs(self.client, req(CreateLoadBalancerTCPListenerRequest, LoadBalancerId=lb_id, ListenerPort=port,
                                  BackendServerPort=srv.port, Bandwidth=-1, AclStatus="on", AclType="white",
                                  AclId=acl_id))
        self.assertEqual(served_from(LISTED, address, port), srv.token, "a client in the white list")
        self.assertIsNone(exchange_from(OTHER, address, port), "a client outside the white list was served")
        self.acs(self.client, req(DeleteLoadBalancerListenerRequest, LoadBalancerId=lb_id, ListenerPort=port))
        self.acs(self.client, req(DeleteAccessControlListRequest, AclId=acl_id))
        self.assertAcsError(lambda: self.client.do_action_with_exception(req(
            DescribeAccessControlListAttributeRequest, AclId=acl_id)), "AclNotExist", 404, "a deleted ACL")

    def test_lists_rename_and_hostile_input_write_nothing(self):
        acl_id = self.acl(name="hostile")
        self.add(acl_id, {"entry": "192.0.2.0/24", "comment": "office"})
        self.acs(self.client, req(SetAccessControlListAttributeRequest, AclId=acl_id, AclName="renamed"))
        listed = self.acs(self.client, req(DescribeAccessControlListsRequest, AclName="renamed"))
        self.assertEqual([a["AclId"] for a in listed["Acls"]["Acl"]], [acl_id])
        other = self.classic(self.other)
        theirs = self.acl(name="theirs", client=other)
        before = self.revision()
        for entries, code, what in [
            ("not json", "InvalidParameter", "AclEntrys that is not JSON"),
            (json.dumps([{"entry": "2001:db8::/32"}]), "IllegalEntry", "an IPv6 entry on an IPv4 list"),
            (json.dumps([{"entry": "10.0.0.0/33"}]), "InvalidParameter", "a malformed network"),
            (json.dumps([{"entry": "192.0.2.0/24"}]), "InvalidParam.AclEntryExists", "an entry already there"),
        ]:
            self.assertAcsError(lambda: self.client.do_action_with_exception(req(
                AddAccessControlListEntryRequest, AclId=acl_id, AclEntrys=entries)), code, 400, what)
        # Another project's ACL is not found, whatever the call.
        for request in [
            req(DescribeAccessControlListAttributeRequest, AclId=theirs),
            req(AddAccessControlListEntryRequest, AclId=theirs, AclEntrys=json.dumps([{"entry": "10.0.0.0/8"}])),
            req(DeleteAccessControlListRequest, AclId=theirs),
        ]:
            self.assertAcsError(lambda: self.client.do_action_with_exception(request), "AclNotExist", 404,
                                "another project's ACL")
        self.assertEqual(self.revision(), before, "a refused ACL call was written")
        self.assertEqual(len(self.attribute(acl_id)["AclEntrys"]["AclEntry"]), 1)


if __name__ == "__main__":
    unittest.main()
