"""Huawei ELB v2 two-way authentication through huaweicloudsdkelb: a `client` (CA) certificate, a
TERMINATED_HTTPS listener naming it as `client_ca_tls_container_ref`, and real handshakes from
Python's `ssl` through the listener: refused without a client certificate or with one another CA
signed, served with one the CA signed. Then what a hostile tenant sends: a server certificate as
the CA, another project's CA, malformed PEM, a CA with a private key, a CA in use deleted, a CA
served as a listener's own certificate.

Addresses 10.x are data only: the server's data plane may dial 127.0.0.0/8 only.
"""

import socket
import ssl
import tempfile

from tests.sdk.harness import TokenHTTPBackend
from tests.sdk.lbaas_support import (LbaasTestCase, World, elb, free_port, hw_create_lb,
                                     hw_create_listener, hw_create_pool)
from tests.sdk.test_listener_mtls import issue, key_pem, make_ca, pem


def mtls_get_raw(host, port, server_ca, client):
    """GET / over TLS verifying the listener against `server_ca`, presenting `client` (cert, key)
    if given; returns the answer's bytes, or raises (ssl.SSLError, OSError) when there is no 200
    (TLS 1.3 refuses a client's certificate after the client's handshake ends: at the read)."""
    ctx = ssl.create_default_context(cadata=pem(server_ca[0]))
    if client is not None:
        with tempfile.NamedTemporaryFile("w") as c, tempfile.NamedTemporaryFile("w") as k:
            c.write(pem(client[0]))
            c.flush()
            k.write(key_pem(client[1]))
            k.flush()
            ctx.load_cert_chain(c.name, k.name)
    with socket.create_connection((host, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="app.example.test") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: app.example.test\r\nConnection: close\r\n\r\n")
            chunks = []
            while True:
                data = tls.recv(4096)
                if not data:
                    break
                chunks.append(data)
    answer = b"".join(chunks)
    if not answer.startswith(b"HTTP/1.1 200"):
        raise OSError("no 200: %r" % answer[:200])
    return answer


class HuaweiTwoWayAuthTest(LbaasTestCase):
    """A Huawei listener verifying clients against a Huawei CA certificate."""

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "hwm", 10, 76, vms=0)
        cls.other = World(cls.native, "hwn", 10, 77, vms=0)
        vpc = cls.native.vpc(cls.world.project, "127.0.0.0/16", name="loopback")
        cls.loopback = cls.native.subnet(vpc, "127.0.0.0/24")
        cls.client = cls.hw(cls.world.project)
        cls.client_b = cls.hw(cls.other.project)

    def upload(self, client, what, **fields):
        return self.hw_step(what, lambda: client.create_certificate(elb.CreateCertificateRequest(
            body=elb.CreateCertificateRequestBody(**fields))))

    def test_a_client_ca_makes_the_listener_refuse_clients_without_a_certificate_it_signed(self):
        server_ca, client_ca, stranger_ca = make_ca("site-ca"), make_ca("hw-clients"), make_ca("x")
        site_cert, site_key = issue(server_ca, "app.example.test", server_name="app.example.test")
        served = self.upload(self.client, "server certificate", certificate=pem(site_cert),
                             private_key=key_pem(site_key), name="site", type="server")
        ca = self.upload(self.client, "client certificate", certificate=pem(client_ca[0]),
                         name="clients", type="client")
        self.assertEqual((ca.type, ca.name), ("client", "clients"))
        self.assertFalse(ca.private_key)
        listed = self.hw_step("list_certificates", lambda: self.client.list_certificates(
            elb.ListCertificatesRequest()))
        self.assertEqual({c.id: c.type for c in listed.certificates}, {served.id: "server", ca.id: "client"})

        backend = TokenHTTPBackend("127.0.0.1")
        self.addCleanup(backend.close)
        lb = self.hw_step("create_loadbalancer", lambda: self.client.create_loadbalancer(
            hw_create_lb(self.loopback["id"], name="hwm"))).loadbalancer
        port = free_port(lb.vip_address)
        listener = self.hw_step("create_listener", lambda: self.client.create_listener(hw_create_listener(
            lb.id, "TERMINATED_HTTPS", port, default_tls_container_ref=served.id,
            client_ca_tls_container_ref=ca.id))).listener
        self.assertEqual(listener.client_ca_tls_container_ref, ca.id)
        pool = self.hw_step("create_pool", lambda: self.client.create_pool(
            hw_create_pool("HTTP", "ROUND_ROBIN", listener_id=listener.id))).pool
        self.hw_step("create_member", lambda: self.client.create_member(elb.CreateMemberRequest(
            pool_id=pool.id, body=elb.CreateMemberRequestBody(member=elb.CreateMemberReq(
                address=backend.host, protocol_port=backend.port, subnet_id=self.loopback["id"])))))

        alice = issue(client_ca, "alice")
        get = lambda who: mtls_get_raw(lb.vip_address, port, server_ca, who)  # noqa: E731
        answer = self.poll("the member serves a verified client", lambda: self._try(get, alice),
                           lambda a: a is not None and backend.token in a)
        self.assertIn(backend.token, answer)
        # Two-way authentication is mandatory: no certificate, or another CA's, is no handshake.
        for what, who in [("no certificate", None), ("a stranger's", issue(stranger_ca, "mallory"))]:
            with self.assertRaises((ssl.SSLError, OSError), msg=what):
                get(who)

        # The CA in use is not deleted; another project neither sees nor names it.
        self.assertHwError(lambda: self.client.delete_certificate(elb.DeleteCertificateRequest(
            certificate_id=ca.id)), 409, "ELB.8903", "a CA in use")
        self.assertHwError(lambda: self.client_b.show_certificate(elb.ShowCertificateRequest(
            certificate_id=ca.id)), 404, "ELB.1002", "another project's CA")

        # Taken off (null): one-way authentication, a client without a certificate is served.
        resp = self.hw_step("update_listener", lambda: self.client.update_listener(elb.UpdateListenerRequest(
            listener_id=listener.id, body=elb.UpdateListenerRequestBody(listener=elb.UpdateListenerReq(
                client_ca_tls_container_ref="")))))
        self.assertFalse(resp.listener.client_ca_tls_container_ref)
        answer = self.poll("a client without a certificate is served", lambda: self._try(get, None),
                           lambda a: a is not None and backend.token in a)
        self.assertIn(backend.token, answer)
        # Set again through an update: refused again without a certificate.
        self.hw_step("update_listener", lambda: self.client.update_listener(elb.UpdateListenerRequest(
            listener_id=listener.id, body=elb.UpdateListenerRequestBody(listener=elb.UpdateListenerReq(
                client_ca_tls_container_ref=ca.id)))))
        self.poll("a client without a certificate is refused again", lambda: self._try(get, None),
                  lambda a: a is None)
        self.assertIn(backend.token, get(alice))
        # Once no listener names it, the CA is deleted.
        self.hw_step("delete_listener", lambda: self.client.delete_listener(elb.DeleteListenerRequest(
            listener_id=listener.id)))
        self.hw_step("delete_certificate", lambda: self.client.delete_certificate(
            elb.DeleteCertificateRequest(certificate_id=ca.id)))

    @staticmethod
    def _try(get, who):
        try:
            return get(who)
        except (ssl.SSLError, OSError):
            return None

    def test_hostile_client_certificates_get_huaweis_errors(self):
        server_ca, client_ca = make_ca("site-ca"), make_ca("clients")
        site_cert, site_key = issue(server_ca, "app.example.test", server_name="app.example.test")
        served = self.upload(self.client, "server certificate", certificate=pem(site_cert),
                             private_key=key_pem(site_key), type="server")
        before = {c.id for c in self.client.list_certificates(elb.ListCertificatesRequest()).certificates}
        body = elb.CreateCertificateRequestBody
        for what, req in [
            ("a CA with a private key", body(certificate=pem(client_ca[0]), private_key=key_pem(client_ca[1]),
                                             type="client")),
            ("a key inside the CA bundle", body(certificate=pem(client_ca[0]) + key_pem(client_ca[1]),
                                                type="client")),
            ("malformed PEM", body(certificate="-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                   type="client")),
            ("not PEM at all", body(certificate="hello", type="client")),
            ("no certificate", body(type="client")),
            ("a domain on a CA", body(certificate=pem(client_ca[0]), domain="a.example.test", type="client")),
            ("an unknown type", body(certificate=pem(client_ca[0]), type="ca")),
        ]:
            with self.subTest(what):
                self.assertHwError(lambda: self.client.create_certificate(elb.CreateCertificateRequest(
                    body=req)), 400, "ELB.1001", what)
        after = {c.id for c in self.client.list_certificates(elb.ListCertificatesRequest()).certificates}
        self.assertEqual(after, before, "a refused upload was stored")

        ca = self.upload(self.client, "client certificate", certificate=pem(client_ca[0]), type="client")
        theirs = self.upload(self.client_b, "their CA", certificate=pem(make_ca("theirs")[0]), type="client")
        lb = self.hw_step("create_loadbalancer", lambda: self.client.create_loadbalancer(
            hw_create_lb(self.loopback["id"], name="hwm-bad"))).loadbalancer
        create = lambda protocol, **f: self.client.create_listener(hw_create_listener(  # noqa: E731
            lb.id, protocol, free_port(lb.vip_address), **f))
        for what, protocol, fields, status, code in [
            ("a server certificate as the CA", "TERMINATED_HTTPS",
             dict(default_tls_container_ref=served.id, client_ca_tls_container_ref=served.id), 400, "ELB.1001"),
            ("another project's CA", "TERMINATED_HTTPS",
             dict(default_tls_container_ref=served.id, client_ca_tls_container_ref=theirs.id), 404, "ELB.1002"),
            ("an unknown CA", "TERMINATED_HTTPS",
             dict(default_tls_container_ref=served.id, client_ca_tls_container_ref="no-such-ca"), 404, "ELB.1002"),
            ("a CA served as the listener's certificate", "TERMINATED_HTTPS",
             dict(default_tls_container_ref=ca.id), 400, "ELB.1001"),
            ("a CA on an HTTP listener", "HTTP", dict(client_ca_tls_container_ref=ca.id), 400, "ELB.1001"),
        ]:
            with self.subTest(what):
                self.assertHwError(lambda: create(protocol, **fields), status, code, what)
        listed = self.client.list_listeners(elb.ListListenersRequest()).listeners or []
        mine = [x for x in listed if any(ref.id == lb.id for ref in (x.loadbalancers or []))]
        self.assertEqual(mine, [], "a refused listener was stored")
        # The same on an update of a listener that serves: nothing changes.
        listener = self.hw_step("create_listener", lambda: create(
            "TERMINATED_HTTPS", default_tls_container_ref=served.id)).listener
        for what, ref, status, code in [("a server certificate as the CA", served.id, 400, "ELB.1001"),
                                        ("another project's CA", theirs.id, 404, "ELB.1002")]:
            with self.subTest(what):
                self.assertHwError(lambda: self.client.update_listener(elb.UpdateListenerRequest(
                    listener_id=listener.id, body=elb.UpdateListenerRequestBody(listener=elb.UpdateListenerReq(
                        client_ca_tls_container_ref=ref)))), status, code, what)
        shown = self.client.show_listener(elb.ShowListenerRequest(listener_id=listener.id)).listener
        self.assertFalse(shown.client_ca_tls_container_ref)
