"""Barbican's key-manager API served by Weir (python-barbicanclient and openstacksdk's
key_manager) and TLS-terminating listeners that serve from it: Octavia's TERMINATED_HTTPS
with PKCS#12 secrets and certificate containers, and Huawei ELB v2's TERMINATED_HTTPS with
Weir certificates. Every listener is checked with a real TLS handshake on loopback: the
certificate served for each SNI name, and an HTTP request through to a member.

Addresses 10.x are data only: the server's data plane may dial 127.0.0.0/8 only.
"""

import base64
import datetime
import http.client
import socket
import ssl
import time

from barbicanclient import client as barbican_client
from barbicanclient import exceptions as barbican_exc
from cryptography import x509
from huaweicloudsdkcore.exceptions.exceptions import ServerResponseException
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3 as ks_v3

from tests.sdk.harness import REGION, TokenHTTPBackend, alpn_of, self_signed_pem
from tests.sdk.lbaas_support import (
    LbaasTestCase,
    World,
    elb,
    free_port,
    hw_create_lb,
    hw_create_listener,
    hw_create_pool,
    openstack_connection,
    os_exc,
    raw_request,
)


def make_cert(name):
    """A self-signed ECDSA P-256 certificate for DNS name `name` and its key (objects)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def p12(cert, key, password=None):
    """What octavia-tempest-plugin and most users upload: a PKCS#12 bundle, no password."""
    enc = (serialization.BestAvailableEncryption(password) if password
           else serialization.NoEncryption())
    return pkcs12.serialize_key_and_certificates(b"", key, cert, None, enc)


def served_cert(host, port, sni):
    """The leaf certificate (DER) the listener serves for `sni`, from a real handshake."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as tls:
            return tls.getpeercert(binary_form=True), tls.version()


def https_get(host, port, sni, ca_pem):
    """GET / over TLS, the certificate verified against `ca_pem` for `sni`."""
    ctx = ssl.create_default_context(cadata=ca_pem)
    with socket.create_connection((host, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: " + sni.encode() + b"\r\nConnection: close\r\n\r\n")
            chunks = []
            while True:
                data = tls.recv(4096)
                if not data:
                    break
                chunks.append(data)
    return b"".join(chunks)


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class KeyManagerTest(LbaasTestCase):
    """Barbican's API through its own client and openstacksdk, and Octavia listeners on it."""

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "kma", 10, 70, vms=0)
        cls.other = World(cls.native, "kmb", 10, 71, vms=0)
        cls.conn = openstack_connection(cls.server, cls.world.project.ak, cls.world.project.sk)
        cls.conn_b = openstack_connection(cls.server, cls.other.project.ak, cls.other.project.sk)

    def barbican(self, project):
        auth = ks_v3.ApplicationCredential(auth_url=self.server.url + "/v3",
                                           application_credential_id=project.ak,
                                           application_credential_secret=project.sk)
        return barbican_client.Client(session=ks_session.Session(auth=auth), region_name=REGION)

    def store(self, conn, payload, name="s"):
        """A binary secret through openstacksdk; returns its ref."""
        s = self.os_step("create_secret", lambda: conn.key_manager.create_secret(
            name=name, payload=base64.b64encode(payload).decode(),
            payload_content_type="application/octet-stream", payload_content_encoding="base64"))
        return s.secret_ref

    def https_stack(self, default_ref, sni_refs=(), **listener_fields):
        """LB + TERMINATED_HTTPS listener + HTTP pool with one member answering a token."""
        backend = TokenHTTPBackend("127.0.0.1")
        self.addCleanup(backend.close)
        lbx = self.conn.load_balancer
        lb = self.os_step("create_load_balancer", lambda: lbx.create_load_balancer(
            vip_subnet_id=self.world.subnet["id"], name="tls"))
        port = free_port(lb.vip_address)
        listener = self.os_step("create_listener", lambda: lbx.create_listener(
            loadbalancer_id=lb.id, protocol="TERMINATED_HTTPS", protocol_port=port,
            default_tls_container_ref=default_ref, sni_container_refs=list(sni_refs), **listener_fields))
        pool = self.os_step("create_pool", lambda: lbx.create_pool(
            listener_id=listener.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN"))
        self.os_step("create_member", lambda: lbx.create_member(
            pool, address=backend.host, protocol_port=backend.port))
        self.wait_os_active("listener", lambda: lbx.get_listener(listener.id))
        return lb, listener, backend

    # ---- the key manager ----------------------------------------------------

    def test_barbicanclient_stores_reads_lists_and_deletes_a_secret(self):
        bc = self.barbican(self.world.project)
        secret = bc.secrets.create(name="bc", payload=b"\x00\x01binary\xff")
        ref = secret.store()
        self.assertTrue(ref.startswith(self.server.url + "/key-manager/v1/secrets/"), ref)
        got = bc.secrets.get(ref)
        self.assertEqual(got.name, "bc")
        self.assertEqual(got.payload, b"\x00\x01binary\xff")
        text_ref = bc.secrets.create(name="txt", payload="hello").store()
        self.assertEqual(bc.secrets.get(text_ref).payload, "hello")
        names = [s.name for s in bc.secrets.list(name="bc")]
        self.assertEqual(names, ["bc"])
        # Another project's secret is not found, by its own client or by ref.
        other = self.barbican(self.other.project)
        with self.assertRaises(barbican_exc.HTTPClientError) as e:
            other.secrets.get(ref).payload
        self.assertEqual(e.exception.status_code, 404)
        self.assertEqual([s.name for s in other.secrets.list()], [])
        bc.secrets.delete(ref)
        bc.secrets.delete(text_ref)
        with self.assertRaises(barbican_exc.HTTPClientError) as e:
            bc.secrets.get(ref).name
        self.assertEqual(e.exception.status_code, 404)

    def test_openstacksdk_secrets_and_containers(self):
        km = self.conn.key_manager
        cert, key = self_signed_pem("c.example.test")
        cert_ref = self.os_step("cert secret", lambda: km.create_secret(
            name="c", payload=cert, payload_content_type="text/plain", secret_type="certificate")).secret_ref
        key_ref = self.os_step("key secret", lambda: km.create_secret(
            name="k", payload=key, payload_content_type="text/plain", secret_type="private")).secret_ref
        got = self.os_step("get_secret", lambda: km.get_secret(cert_ref.rsplit("/", 1)[1]))
        self.assertEqual(got.payload, cert)
        container = self.os_step("create_container", lambda: km.create_container(
            name="bundle", type="certificate",
            secret_refs=[{"name": "certificate", "secret_ref": cert_ref},
                         {"name": "private_key", "secret_ref": key_ref}]))
        # openstacksdk keeps the whole container_ref as the id; Barbican's id is its last segment.
        container_id = container.container_ref.rsplit("/", 1)[1]
        shown = self.os_step("get_container", lambda: km.get_container(container_id))
        self.assertEqual(sorted(r["name"] for r in shown.secret_refs), ["certificate", "private_key"])
        self.assertIn(container.container_ref, [c.container_ref for c in km.containers()])
        # A certificate container needs its certificate; names are Barbican's.
        self.assertOsError(lambda: km.create_container(
            name="bad", type="certificate", secret_refs=[{"name": "cert", "secret_ref": cert_ref}]),
            os_exc.BadRequestException, 400, "a certificate container with a wrong name")
        # Another project cannot name these secrets in its containers.
        self.assertOsError(lambda: self.conn_b.key_manager.create_container(
            name="theirs", type="generic", secret_refs=[{"name": "x", "secret_ref": cert_ref}]),
            os_exc.NotFoundException, 404, "another project's secret in a container")
        self.os_step("delete_container", lambda: km.delete_container(container_id))
        for ref in (cert_ref, key_ref):
            self.os_step("delete_secret", lambda: km.delete_secret(ref.rsplit("/", 1)[1]))

    def test_hostile_secret_bodies_are_refused(self):
        base = "/key-manager/v1/secrets"
        token = self.conn.auth_token
        hdr = {"X-Auth-Token": token}
        big = base64.b64encode(b"x" * 10_001).decode()
        for what, body, status in [
            ("a payload over 10,000 bytes", {"payload": big, "payload_content_type": "application/octet-stream",
                                             "payload_content_encoding": "base64"}, 400),
            ("binary without an encoding", {"payload": "abc", "payload_content_type": "application/octet-stream"},
             400),
            ("not base64", {"payload": "!!!", "payload_content_type": "application/octet-stream",
                            "payload_content_encoding": "base64"}, 400),
            ("an unknown content type", {"payload": "x", "payload_content_type": "image/png"}, 400),
            ("an unknown field", {"payload": "x", "payload_content_type": "text/plain", "owner": "me"}, 400),
            ("an expiration in the past", {"payload": "x", "payload_content_type": "text/plain",
                                           "expiration": "2001-01-01T00:00:00"}, 400),
        ]:
            resp = raw_request(self.server, "POST", base, body, hdr)
            self.assertEqual(resp.status, status, "%s: %r" % (what, resp))
            self.assertIn("description", resp.json, what)
        resp = raw_request(self.server, "GET", base, None, {})
        self.assertEqual(resp.status, 401, "no token")
        resp = raw_request(self.server, "GET", base + "?sort=created:asc", None, hdr)
        self.assertEqual(resp.status, 400, "a list filter Weir does not apply")

    # ---- Octavia TERMINATED_HTTPS -------------------------------------------

    def test_pkcs12_secrets_serve_a_terminated_https_listener_by_sni(self):
        main_cert, main_key = make_cert("www.example.test")
        sni_cert, sni_key = make_cert("api.example.test")
        main_ref = self.store(self.conn, p12(main_cert, main_key), "main")
        sni_ref = self.store(self.conn, p12(sni_cert, sni_key), "sni")
        lb, listener, backend = self.https_stack(main_ref, [sni_ref])
        self.assertEqual(listener.default_tls_container_ref, main_ref)
        self.assertEqual(listener.sni_container_refs, [sni_ref])
        self.assertEqual(listener.tls_versions, ["TLSv1.2", "TLSv1.3"])
        # HTTP/2 first by default: a client offering both speaks h2.
        self.assertEqual(listener.alpn_protocols, ["h2", "http/1.1"])
        port = listener.protocol_port
        self.assertEqual(alpn_of(lb.vip_address, port, "www.example.test"), "h2")
        self.assertEqual(alpn_of(lb.vip_address, port, "www.example.test", offer=["http/1.1"]), "http/1.1")
        self.assertEqual(served_cert(lb.vip_address, port, "www.example.test")[0], der(main_cert))
        self.assertEqual(served_cert(lb.vip_address, port, "api.example.test")[0], der(sni_cert))
        self.assertEqual(served_cert(lb.vip_address, port, "other.example.test")[0], der(main_cert))
        answer = https_get(lb.vip_address, port, "api.example.test", pem(sni_cert))
        self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer[:200])
        self.assertIn(backend.token, answer)
        # A secret a listener serves is not deleted (409); the listener still serves.
        self.assertOsError(lambda: self.conn.key_manager.delete_secret(sni_ref.rsplit("/", 1)[1]),
                           os_exc.ConflictException, 409, "deleting a secret in use")
        # Rotation: the update swaps default and SNI; the next handshake sees it.
        lbx = self.conn.load_balancer
        self.os_step("update_listener", lambda: lbx.update_listener(
            listener.id, default_tls_container_ref=sni_ref, sni_container_refs=[main_ref],
            tls_versions=["TLSv1.3"]))
        self.assertEqual(served_cert(lb.vip_address, port, "other.example.test"), (der(sni_cert), "TLSv1.3"))
        shown = lbx.get_listener(listener.id)
        self.assertEqual((shown.default_tls_container_ref, shown.sni_container_refs, shown.tls_versions),
                         (sni_ref, [main_ref], ["TLSv1.3"]))
        # Once the listener is gone, the secrets go.
        self.os_step("delete_listener", lambda: lbx.delete_listener(listener.id))
        for ref in (main_ref, sni_ref):
            self.os_step("delete_secret", lambda: self.conn.key_manager.delete_secret(ref.rsplit("/", 1)[1]))

    def test_a_certificate_container_serves_a_listener(self):
        km = self.conn.key_manager
        cert, key = make_cert("box.example.test")
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        c_ref = self.os_step("cert", lambda: km.create_secret(
            name="c", payload=pem(cert), payload_content_type="text/plain")).secret_ref
        k_ref = self.os_step("key", lambda: km.create_secret(
            name="k", payload=key_pem, payload_content_type="text/plain")).secret_ref
        container = self.os_step("container", lambda: km.create_container(
            name="box", type="certificate", secret_refs=[{"name": "certificate", "secret_ref": c_ref},
                                                          {"name": "private_key", "secret_ref": k_ref}]))
        lb, listener, backend = self.https_stack(container.container_ref)
        answer = https_get(lb.vip_address, listener.protocol_port, "box.example.test", pem(cert))
        self.assertIn(backend.token, answer)
        container_id = container.container_ref.rsplit("/", 1)[1]
        self.assertOsError(lambda: km.delete_container(container_id), os_exc.ConflictException, 409,
                           "deleting a container in use")
        self.assertOsError(lambda: km.delete_secret(k_ref.rsplit("/", 1)[1]), os_exc.ConflictException, 409,
                           "deleting a secret of a container in use")

    def test_refs_that_cannot_be_served_are_refused(self):
        lbx = self.conn.load_balancer
        lb = self.os_step("create_load_balancer", lambda: lbx.create_load_balancer(
            vip_subnet_id=self.world.subnet["id"], name="bad-tls"))
        self.wait_os_active("lb", lambda: lbx.get_load_balancer(lb.id))
        cert, key = make_cert("x.example.test")
        good = self.store(self.conn, p12(cert, key))
        theirs = self.store(self.conn_b, p12(cert, key))
        garbage = self.store(self.conn, b"\x30\x82\x01\x00not a pkcs12 bundle")
        locked = self.store(self.conn, p12(cert, key, password=b"s3cret"))
        only_cert = self.store(self.conn, pem(cert).encode())
        secret_id = good.rsplit("/", 1)[1]
        port = free_port(lb.vip_address)
        for what, ref in [
            ("another project's secret", theirs),
            ("garbage", garbage),
            ("a password-protected PKCS#12 bundle", locked),
            ("a certificate without its key", only_cert),
            ("a ref to another host", "http://192.0.2.1:9311/key-manager/v1/secrets/" + secret_id),
            ("a ref to another path", self.server.url + "/v1/secrets/" + secret_id),
            ("a ref to a missing secret", self.server.url + "/key-manager/v1/secrets/0000"),
        ]:
            self.assertOsError(lambda: lbx.create_listener(
                loadbalancer_id=lb.id, protocol="TERMINATED_HTTPS", protocol_port=port,
                default_tls_container_ref=ref), os_exc.BadRequestException, 400, what,
                message_re="Could not retrieve certificate")
        self.assertOsError(lambda: lbx.create_listener(
            loadbalancer_id=lb.id, protocol="TERMINATED_HTTPS", protocol_port=port),
            os_exc.BadRequestException, 400, "no default ref")
        for what, fields, status in [
            ("TLSv1.1", {"tls_versions": ["TLSv1.1", "TLSv1.2"]}, 501),
            ("an unknown version", {"tls_versions": ["TLSv9"]}, 400),
            ("an unknown ALPN id", {"alpn_protocols": ["spdy/3"]}, 400),
            ("a cipher Weir's TLS lacks", {"tls_ciphers": "DHE-RSA-AES128-GCM-SHA256"}, 501),
            ("an unknown cipher", {"tls_ciphers": "NOPE-CIPHER"}, 400),
        ]:
            self.assertOsError(lambda: lbx.create_listener(
                loadbalancer_id=lb.id, protocol="TERMINATED_HTTPS", protocol_port=port,
                default_tls_container_ref=good, **fields), os_exc.HttpException, status, what)
        self.assertOsError(lambda: lbx.create_listener(
            loadbalancer_id=lb.id, protocol="HTTP", protocol_port=port, default_tls_container_ref=good),
            os_exc.BadRequestException, 400, "a ref on an HTTP listener")
        # openstacksdk has no client_authentication: the wire field, raw.
        resp = self.octavia_raw("POST", "/listeners", {"listener": {
            "loadbalancer_id": lb.id, "protocol": "TERMINATED_HTTPS", "protocol_port": port,
            "default_tls_container_ref": good, "client_authentication": "MANDATORY"}},
            token=self.conn.auth_token)
        self.assertEqual(resp.status, 400, "MANDATORY without a client CA: %r" % resp)
        # Nothing was made by the refusals.
        self.assertEqual(lbx.get_load_balancer(lb.id).listeners, [])

    def test_tls_options_are_honoured(self):
        cert, key = make_cert("opt.example.test")
        ref = self.store(self.conn, p12(cert, key))
        lb, listener, _ = self.https_stack(ref, tls_versions=["TLSv1.2"],
                                           tls_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256",
                                           alpn_protocols=["http/1.1"])
        self.assertEqual((listener.tls_versions, listener.tls_ciphers, listener.alpn_protocols),
                         (["TLSv1.2"], "ECDHE-ECDSA-AES128-GCM-SHA256", ["http/1.1"]))
        # A listener without h2 in its list never speaks it, whatever the client offers.
        self.assertEqual(alpn_of(lb.vip_address, listener.protocol_port, "opt.example.test"), "http/1.1")
        # And the list changes with an update: h2 is offered from the next handshake.
        self.os_step("update_listener", lambda: self.conn.load_balancer.update_listener(
            listener.id, alpn_protocols=["h2", "http/1.1"]))
        end = time.monotonic() + 10
        while alpn_of(lb.vip_address, listener.protocol_port, "opt.example.test") != "h2" \
                and time.monotonic() < end:
            time.sleep(0.1)
        self.assertEqual(alpn_of(lb.vip_address, listener.protocol_port, "opt.example.test"), "h2")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection((lb.vip_address, listener.protocol_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="opt.example.test") as tls:
                self.assertEqual(tls.version(), "TLSv1.2")
                self.assertEqual(tls.cipher()[0], "ECDHE-ECDSA-AES128-GCM-SHA256")
        # A client offering only TLS 1.3 is refused by a TLS 1.2 listener.
        only13 = ssl.create_default_context()
        only13.check_hostname = False
        only13.verify_mode = ssl.CERT_NONE
        only13.minimum_version = ssl.TLSVersion.TLSv1_3
        with socket.create_connection((lb.vip_address, listener.protocol_port), timeout=5) as raw:
            with self.assertRaises(ssl.SSLError):
                only13.wrap_socket(raw, server_hostname="opt.example.test")


class HuaweiTerminatedHttpsTest(LbaasTestCase):
    """Huawei ELB v2: TERMINATED_HTTPS listeners name Huawei certificates (Weir's)."""

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "hwt", 10, 72, vms=0)
        cls.other = World(cls.native, "hwu", 10, 73, vms=0)
        # Members on loopback: a subnet of the project holding 127.0.0.1.
        vpc = cls.native.vpc(cls.world.project, "127.0.0.0/16", name="loopback")
        cls.loopback = cls.native.subnet(vpc, "127.0.0.0/24")
        cls.client = cls.hw(cls.world.project)
        cls.client_b = cls.hw(cls.other.project)

    def certificate(self, client, name):
        cert, key = self_signed_pem(name)
        made = self.hw_step("create_certificate", lambda: client.create_certificate(
            elb.CreateCertificateRequest(body=elb.CreateCertificateRequestBody(
                certificate=cert, private_key=key, name=name[:20], type="server"))))
        return made.id, cert

    def test_terminated_https_serves_huawei_certificates_by_sni(self):
        backend = TokenHTTPBackend("127.0.0.1")
        self.addCleanup(backend.close)
        main_id, main_pem = self.certificate(self.client, "shop.example.test")
        sni_id, sni_pem = self.certificate(self.client, "pay.example.test")
        lb = self.hw_step("create_loadbalancer", lambda: self.client.create_loadbalancer(
            hw_create_lb(self.loopback["id"], name="hwt"))).loadbalancer
        port = free_port(lb.vip_address)
        listener = self.hw_step("create_listener", lambda: self.client.create_listener(hw_create_listener(
            lb.id, "TERMINATED_HTTPS", port, default_tls_container_ref=main_id,
            sni_container_refs=[sni_id]))).listener
        self.assertEqual((listener.default_tls_container_ref, listener.sni_container_refs), (main_id, [sni_id]))
        pool = self.hw_step("create_pool", lambda: self.client.create_pool(
            hw_create_pool("HTTP", "ROUND_ROBIN", listener_id=listener.id))).pool
        self.hw_step("create_member", lambda: self.client.create_member(elb.CreateMemberRequest(
            pool_id=pool.id, body=elb.CreateMemberRequestBody(member=elb.CreateMemberReq(
                address=backend.host, protocol_port=backend.port, subnet_id=self.loopback["id"])))))
        # The member is applied by the data plane after the answer: poll (bounded) until it serves.
        answer = self.poll("the member serves", lambda: https_get(lb.vip_address, port, "pay.example.test", sni_pem),
                           lambda a: backend.token in a)
        self.assertIn(backend.token, answer)
        self.assertIn(backend.token, https_get(lb.vip_address, port, "shop.example.test", main_pem))
        # Huawei's HTTP/2 is off unless asked for: this listener speaks HTTP/1.1 to an h2 client,
        # and one made with http2_enable speaks h2.
        self.assertEqual(alpn_of(lb.vip_address, port, "shop.example.test"), "http/1.1")
        h2_port = free_port(lb.vip_address)
        h2 = self.hw_step("create_listener", lambda: self.client.create_listener(hw_create_listener(
            lb.id, "TERMINATED_HTTPS", h2_port, default_tls_container_ref=main_id, http2_enable=True))).listener
        self.assertTrue(h2.http2_enable)
        self.assertEqual(alpn_of(lb.vip_address, h2_port, "shop.example.test"), "h2")
        self.assertHwError(lambda: self.client.create_listener(hw_create_listener(
            lb.id, "HTTP", free_port(lb.vip_address), http2_enable=True)),
            400, "ELB.1001", "http2_enable on an HTTP listener")
        # Another project's certificate is not found; Huawei's TLS policy is refused (two-way authentication
        # is test_huawei_mtls's).
        theirs, _ = self.certificate(self.client_b, "b.example.test")
        self.assertHwError(lambda: self.client.create_listener(hw_create_listener(
            lb.id, "TERMINATED_HTTPS", free_port(lb.vip_address), default_tls_container_ref=theirs)),
            404, "ELB.1002", "another project's certificate")
        for what, fields in [
            ("tls_ciphers_policy", {"tls_ciphers_policy": "tls-1-2"}),
        ]:
            # The provider's 501 (the SDK raises it as a server exception).
            with self.assertRaises(ServerResponseException, msg=what) as raised:
                self.client.create_listener(hw_create_listener(
                    lb.id, "TERMINATED_HTTPS", free_port(lb.vip_address), default_tls_container_ref=main_id,
                    **fields))
            self.assertEqual((raised.exception.status_code, raised.exception.error_code), (501, "ELB.1005"), what)
