"""HTTPS listeners through the official Alibaba Cloud and UCloud SDKs against a real `weir serve`,
with real TLS: a certificate uploaded through the dialect, an HTTPS listener (Aliyun) or VServer (UCloud)
serving it, and Python's `ssl` reaching a loopback backend through it, verifying the certificate the
listener chose. Aliyun: a domain extension makes SNI pick a second certificate, and an HTTP listener with
ListenerForward answers 301 to the HTTPS one. UCloud: an HTTPS VServer serves nothing until BindSSL, and
again nothing after UnbindSSL.

Every address is in 127.0.0.0/8; every wait is bounded."""

import http.client
import json
import socket
import ssl
import time

from aliyunsdkslb.request.v20140515 import (
    AddBackendServersRequest,
    DeleteCACertificateRequest,
    DescribeCACertificatesRequest,
    SetLoadBalancerHTTPSListenerAttributeRequest,
    UploadCACertificateRequest,
    CreateDomainExtensionRequest,
    CreateLoadBalancerHTTPListenerRequest,
    CreateLoadBalancerHTTPSListenerRequest,
    CreateLoadBalancerRequest,
    DeleteServerCertificateRequest,
    DescribeDomainExtensionsRequest,
    DescribeLoadBalancerHTTPSListenerAttributeRequest,
    UploadServerCertificateRequest,
)

from tests.sdk import aliyun_support as ali
from tests.sdk import harness as h
from tests.sdk.harness import self_signed_pem


def req(module, **params):
    r = getattr(module, module.__name__.rsplit(".", 1)[1])()
    for name, value in params.items():
        getattr(r, "set_" + name)(value)
    return r


def tls_get(host, port, sni, ca_pem, path="/", deadline_s=10.0):
    """GET https://sni/path at host:port, trusting only `ca_pem` and checking the name; retried (bounded)
    while the listener comes up. Returns (status, body, peer certificate DER) or raises the last error."""
    h.assert_loopback(host)
    context = ssl.create_default_context(cadata=ca_pem)
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=2.0) as raw:
                with context.wrap_socket(raw, server_hostname=sni) as tls:
                    der = tls.getpeercert(binary_form=True)
                    tls.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, sni)).encode())
                    chunks = []
                    while True:
                        chunk = tls.recv(65536)
                        if not chunk:
                            break
                        chunks.append(chunk)
            head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
            return int(head.split(b" ", 2)[1]), body, der
        except (OSError, ssl.SSLError, IndexError, ValueError) as e:
            last = e
            time.sleep(0.1)
    raise AssertionError("TLS to %s:%d (SNI %s): %r" % (host, port, sni, last))


def pem_der(pem):
    return ssl.PEM_cert_to_DER_cert(pem)


class AliyunHttps(ali.AliyunTestCase):
    """CreateLoadBalancerHTTPSListener with an uploaded certificate, a domain extension for SNI, and an HTTP
    listener redirecting to it."""

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("ali-https")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")

    def upload(self, client, name):
        cert, key = self_signed_pem(name)
        made = self.acs(client, req(UploadServerCertificateRequest, ServerCertificate=cert, PrivateKey=key,
                                    ServerCertificateName=name))
        return made["ServerCertificateId"], cert

    def test_https_listener_sni_by_domain_extension_and_redirect(self):
        backend = h.TokenHTTPBackend("127.0.0.61")
        self.addCleanup(backend.close)
        inst = self.native.instance(self.p, self.subnet, "127.0.0.61", name="https-backend")
        client = self.classic(self.p)
        default_id, default_pem = self.upload(client, "default.weir.test")
        www_id, www_pem = self.upload(client, "www.weir.test")
        made = self.acs(client, req(CreateLoadBalancerRequest, VSwitchId=self.subnet["id"], VpcId=self.vpc["id"]))
        lb_id, address = made["LoadBalancerId"], ali.assert_loopback(made["Address"])
        port = ali.free_port(address)
        self.acs(client, req(CreateLoadBalancerHTTPSListenerRequest, LoadBalancerId=lb_id, ListenerPort=port,
                             BackendServerPort=backend.port, Bandwidth=-1, ServerCertificateId=default_id,
                             XForwardedFor="on", Gzip="off", EnableHttp2="off", StickySession="off"))
        self.acs(client, req(AddBackendServersRequest, LoadBalancerId=lb_id,
                             BackendServers=json.dumps([{"ServerId": inst["id"], "Weight": "100"}])))
        attr = self.acs(client, req(DescribeLoadBalancerHTTPSListenerAttributeRequest, LoadBalancerId=lb_id,
                                    ListenerPort=port))
        self.assertEqual((attr["ServerCertificateId"], attr["Status"], attr["EnableHttp2"]),
                         (default_id, "running", "off"), attr)
        # EnableHttp2=off: a client offering h2 gets HTTP/1.1.
        self.assertEqual(h.alpn_of(address, port, "default.weir.test"), "http/1.1")

        status, body, der = tls_get(address, port, "default.weir.test", default_pem)
        self.assertEqual((status, body), (200, backend.token))
        self.assertEqual(der, pem_der(default_pem))
        # Without an extension, www.weir.test gets the default (whose name it is not).
        with self.assertRaises(AssertionError):
            tls_get(address, port, "www.weir.test", www_pem, deadline_s=0.5)

        ext = self.acs(client, req(CreateDomainExtensionRequest, LoadBalancerId=lb_id, ListenerPort=port,
                                   Domain="www.weir.test", ServerCertificateId=www_id))
        listed = self.acs(client, req(DescribeDomainExtensionsRequest, LoadBalancerId=lb_id, ListenerPort=port))
        self.assertEqual([(d["DomainExtensionId"], d["Domain"], d["ServerCertificateId"])
                          for d in listed["DomainExtensions"]["DomainExtension"]],
                         [(ext["DomainExtensionId"], "www.weir.test", www_id)])
        status, body, der = tls_get(address, port, "www.weir.test", www_pem)
        self.assertEqual((status, body, der), (200, backend.token, pem_der(www_pem)))
        status, _, der = tls_get(address, port, "default.weir.test", default_pem)
        self.assertEqual((status, der), (200, pem_der(default_pem)))
        # Both certificates are in use now.
        for cert_id in (default_id, www_id):
            self.assertAcsError(lambda: client.do_action_with_exception(req(
                DeleteServerCertificateRequest, ServerCertificateId=cert_id)), "OperationFailed.Conflict", 400,
                "delete a certificate in use")

        # HTTP -> HTTPS: every request is answered with a 301 to the HTTPS listener.
        http_port = ali.free_port(address)
        self.acs(client, req(CreateLoadBalancerHTTPListenerRequest, LoadBalancerId=lb_id, ListenerPort=http_port,
                             BackendServerPort=backend.port, Bandwidth=-1, ListenerForward="on",
                             ForwardPort=port, StickySession="off"))
        location = None
        end = time.monotonic() + 10
        while time.monotonic() < end and location is None:
            conn = http.client.HTTPConnection(address, http_port, timeout=2.0)
            try:
                conn.request("POST", "/a/b?x=1", body=b"data", headers={"Host": "www.weir.test"})
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, 301)
                location = resp.getheader("Location")
            except (OSError, http.client.HTTPException):
                time.sleep(0.1)
            finally:
                conn.close()
        self.assertEqual(location, "https://www.weir.test:%d/a/b?x=1" % port)


class AliyunTwoWayAuth(ali.AliyunTestCase):
    """UploadCACertificate and an HTTPS listener's CACertificateId: real handshakes with Python's `ssl`,
    refused without a client certificate the CA signed, served with one."""

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("ali-mtls")
        cls.other = cls.native.project("ali-mtls-b")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")

    def test_a_ca_certificate_makes_the_https_listener_verify_clients(self):
        from tests.sdk.test_huawei_mtls import mtls_get_raw
        from tests.sdk.test_listener_mtls import issue, key_pem, make_ca, pem
        backend = h.TokenHTTPBackend("127.0.0.62")
        self.addCleanup(backend.close)
        inst = self.native.instance(self.p, self.subnet, "127.0.0.62", name="mtls-backend")
        client = self.classic(self.p)
        server_ca, clients, stranger = make_ca("site"), make_ca("clients"), make_ca("stranger")
        site, site_key = issue(server_ca, "app.example.test", server_name="app.example.test")
        served = self.acs(client, req(UploadServerCertificateRequest, ServerCertificate=pem(site),
                                      PrivateKey=key_pem(site_key)))["ServerCertificateId"]
        made = self.acs(client, req(UploadCACertificateRequest, CACertificate=pem(clients[0]),
                                    CACertificateName="clients"))
        ca_id = made["CACertificateId"]
        self.assertEqual((made["CACertificateName"], made["CommonName"]), ("clients", "clients"))
        listed = self.acs(client, req(DescribeCACertificatesRequest))["CACertificates"]["CACertificate"]
        self.assertEqual([c["CACertificateId"] for c in listed], [ca_id])
        # A key with the CA, a server certificate as the CA, another project's CA: refused.
        self.assertAcsError(lambda: client.do_action_with_exception(req(
            UploadCACertificateRequest, CACertificate=pem(clients[0]) + key_pem(clients[1]))),
            "InvalidParameter", 400, "a key in the CA bundle")
        theirs = self.acs(self.classic(self.other), req(UploadCACertificateRequest,
                                                        CACertificate=pem(stranger[0])))["CACertificateId"]
        made = self.acs(client, req(CreateLoadBalancerRequest, VSwitchId=self.subnet["id"], VpcId=self.vpc["id"]))
        lb_id, address = made["LoadBalancerId"], ali.assert_loopback(made["Address"])
        port = ali.free_port(address)
        create = dict(LoadBalancerId=lb_id, ListenerPort=port, BackendServerPort=backend.port, Bandwidth=-1,
                      ServerCertificateId=served, StickySession="off")
        for what, ca, code, status in [("a server certificate", served, "InvalidParameter", 400),
                                       ("another project's CA", theirs, "CACertificateId.NotFound", 404)]:
            self.assertAcsError(lambda: client.do_action_with_exception(req(
                CreateLoadBalancerHTTPSListenerRequest, CACertificateId=ca, **create)), code, status, what)
        self.acs(client, req(CreateLoadBalancerHTTPSListenerRequest, CACertificateId=ca_id, **create))
        self.acs(client, req(AddBackendServersRequest, LoadBalancerId=lb_id,
                             BackendServers=json.dumps([{"ServerId": inst["id"], "Weight": "100"}])))
        attr = self.acs(client, req(DescribeLoadBalancerHTTPSListenerAttributeRequest, LoadBalancerId=lb_id,
                                    ListenerPort=port))
        self.assertEqual(attr["CACertificateId"], ca_id, attr)

        def attempt(who):
            try:
                return mtls_get_raw(address, port, server_ca, who)
            except (ssl.SSLError, OSError):
                return None

        alice = issue(clients, "alice")
        end = time.monotonic() + 10
        while attempt(alice) is None and time.monotonic() < end:
            time.sleep(0.1)
        self.assertIn(backend.token, attempt(alice))
        self.assertIsNone(attempt(None), "served without a client certificate")
        self.assertIsNone(attempt(issue(stranger, "mallory")), "served a stranger's certificate")
        # In use: not deleted. Then off (an empty CACertificateId): one-way again, and the CA goes.
        self.assertAcsError(lambda: client.do_action_with_exception(req(
            DeleteCACertificateRequest, CACertificateId=ca_id)), "OperationFailed.Conflict", 400, "a CA in use")
        self.acs(client, req(SetLoadBalancerHTTPSListenerAttributeRequest, LoadBalancerId=lb_id, ListenerPort=port,
                             CACertificateId=""))
        self.assertIn(backend.token, attempt(None))
        self.acs(client, req(DeleteCACertificateRequest, CACertificateId=ca_id))
        self.assertEqual(self.acs(client, req(DescribeCACertificatesRequest))["CACertificates"]["CACertificate"], [])


class UCloudHttps(h.WeirTestCase):
    """CreateSSL, an HTTPS VServer (serving nothing, Status 1, until BindSSL), BindSSL, traffic, UnbindSSL."""

    @classmethod
    def bootstrap(cls):
        cls.p = cls.native.project("uc-https")
        cls.vpc = cls.native.vpc(cls.p, "127.0.0.0/16", name="loopback")
        cls.subnet = cls.native.subnet(cls.vpc, "127.0.0.0/24")

    def test_https_vserver_serves_once_bound(self):
        backend = h.TokenHTTPBackend("127.0.0.62")
        self.addCleanup(backend.close)
        ulb = self.ulb(self.p)
        cert, key = self_signed_pem("uc.weir.test")
        ssl_id = self.step("CreateSSL", lambda: ulb.create_ssl(
            {"SSLName": "web", "SSLContent": cert + key}))["SSLId"]
        ulb_id = self.uc_ulb(ulb, self.vpc, self.subnet)
        info = self.step("DescribeULB", lambda: ulb.describe_ulb({"ULBId": ulb_id}))["DataSet"][0]
        address = h.assert_loopback(info["PrivateIP"])
        port = h.free_port(address)
        vs = self.uc_vserver(ulb, ulb_id, port=port, protocol="HTTPS", Method="Roundrobin", ClientTimeout=30)
        before = self.uc_vserver_info(ulb, ulb_id, vs)
        self.assertEqual((before["Protocol"], before["Status"], before["SSLSet"]), ("HTTPS", 1, []), before)
        self.step("AllocateBackend", lambda: ulb.allocate_backend(
            {"ULBId": ulb_id, "VServerId": vs, "ResourceType": "IP", "ResourceIP": "127.0.0.62",
             "VPCId": self.vpc["id"], "SubnetId": self.subnet["id"], "Port": backend.port}))
        # A refused option changes nothing.
        self.assertUcError(lambda: ulb.update_vserver_attribute(
            {"ULBId": ulb_id, "VServerId": vs, "EnableHTTP2": 2}), 230, "EnableHTTP2=2")
        self.assertEqual(self.uc_vserver_info(ulb, ulb_id, vs)["EnableHTTP2"], 0)
        self.step("BindSSL", lambda: ulb.bind_ssl({"ULBId": ulb_id, "VServerId": vs, "SSLId": ssl_id}))
        # HTTP/2 is off by default (UCloud's default), and on once asked for.
        self.assertEqual(h.alpn_of(address, port, "uc.weir.test"), "http/1.1")
        self.step("UpdateVServerAttribute", lambda: ulb.update_vserver_attribute(
            {"ULBId": ulb_id, "VServerId": vs, "EnableHTTP2": 1}))
        self.assertEqual(self.uc_vserver_info(ulb, ulb_id, vs)["EnableHTTP2"], 1)
        end = time.monotonic() + 10
        while h.alpn_of(address, port, "uc.weir.test") != "h2" and time.monotonic() < end:
            time.sleep(0.1)
        self.assertEqual(h.alpn_of(address, port, "uc.weir.test"), "h2")
        bound = self.uc_vserver_info(ulb, ulb_id, vs)
        self.assertEqual((bound["Status"], [s["SSLId"] for s in bound["SSLSet"]], bound["ClientTimeout"]),
                         (0, [ssl_id], 30), bound)
        status, body, der = tls_get(address, port, "uc.weir.test", cert)
        self.assertEqual((status, body, der), (200, backend.token, pem_der(cert)))
        # In use: not deleted.
        self.assertUcError(lambda: ulb.delete_ssl({"SSLId": ssl_id}), 4036, "DeleteSSL in use")
        self.step("UnbindSSL", lambda: ulb.unbind_ssl({"ULBId": ulb_id, "VServerId": vs, "SSLId": ssl_id}))
        unbound = self.uc_vserver_info(ulb, ulb_id, vs)
        self.assertEqual((unbound["Status"], unbound["SSLSet"]), (1, []), unbound)
        # Unbound, the VServer's port is closed: no TLS, no plain HTTP.
        closed = False
        end = time.monotonic() + 10
        while time.monotonic() < end and not closed:
            try:
                socket.create_connection((address, port), timeout=1.0).close()
                time.sleep(0.1)
            except OSError:
                closed = True
        self.assertTrue(closed, "an HTTPS VServer without a certificate still accepts connections")
        self.step("DeleteSSL", lambda: ulb.delete_ssl({"SSLId": ssl_id}))
