"""Re-encryption through openstacksdk: Octavia pools with `tls_enabled` dial their members over
TLS, verifying them against `ca_tls_container_ref` (a key-manager secret holding PEM
certificates) when the pool names one, presenting `tls_container_ref` (a client certificate) to
members that require one, and checking `crl_container_ref`. The members are real TLS servers on loopback with a
certificate a test CA issued; every request goes through a real HTTP listener. Hostile input:
another project's CA ref, a payload that is not PEM, TLS on a UDP pool.

Addresses 10.x are data only: the server's data plane may dial 127.0.0.0/8 only.
"""

import datetime
import http.client
import json
import os
import subprocess
import http.server
import secrets
import ssl
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.sdk.harness import (
    TokenHTTPBackend,
    _TokenHTTPHandler,
    assert_loopback,
    http_get,
    weir_binary,
)
from tests.sdk.lbaas_support import (
    LbaasTestCase,
    World,
    free_port,
    openstack_connection,
    os_exc,
)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn):
    """A CA certificate and its key (objects)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def issue(ca, name):
    """A member certificate for DNS name `name` (not its address) signed by `ca`: PEM cert, key."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def crl_pem(ca, serials):
    """A CRL of `ca` revoking `serials` (PEM text)."""
    ca_cert, ca_key = ca
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now - datetime.timedelta(days=1))
               .next_update(now + datetime.timedelta(days=30))
               .add_extension(x509.CRLNumber(1), critical=False))
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(now - datetime.timedelta(hours=1)).build())
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


class TlsTokenBackend(TokenHTTPBackend):
    """A TokenHTTPBackend that speaks only TLS, with a certificate `ca` issued; it counts the
    handshakes it completed. With `client_ca` it requires a client certificate that CA signed."""

    def __init__(self, host, ca, client_ca=None):
        assert_loopback(host)
        cert, key = issue(ca, "member.test")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if client_ca is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata=pem(client_ca[0]))
        with tempfile.NamedTemporaryFile() as c, tempfile.NamedTemporaryFile() as k:
            c.write(cert)
            c.flush()
            k.write(key)
            k.flush()
            ctx.load_cert_chain(c.name, k.name)
        self.cert_pem = cert
        self.token = ("weir-tls-backend-" + secrets.token_hex(8)).encode()
        self.handshakes = 0
        backend = self

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                # The handshake runs in accept; a refused one raises (an OSError, which the
                # server loop drops) and is not counted.
                conn, addr = super().get_request()
                backend.handshakes += 1
                return conn, addr

        self.server = Server((host, 0), _TokenHTTPHandler, bind_and_activate=True)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.server.token = self.token
        self.host, self.port = self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()


def get_once(host, port):
    """One GET, no retry: (status, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class PoolTlsTest(LbaasTestCase):
    """Octavia pools that re-encrypt, end to end."""

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "ptla", 10, 72, vms=0)
        cls.other = World(cls.native, "ptlb", 10, 73, vms=0)
        cls.conn = openstack_connection(cls.server, cls.world.project.ak, cls.world.project.sk)
        cls.conn_b = openstack_connection(cls.server, cls.other.project.ak, cls.other.project.sk)

    def store_pem(self, conn, text, name="ca"):
        s = self.os_step("create_secret", lambda: conn.key_manager.create_secret(
            name=name, payload=text, payload_content_type="text/plain"))
        return s.secret_ref

    def stack(self, **pool_fields):
        """LB + HTTP listener + HTTP pool with `pool_fields`; returns (lb, port, pool)."""
        lbx = self.conn.load_balancer
        lb = self.os_step("create_load_balancer", lambda: lbx.create_load_balancer(
            vip_subnet_id=self.world.subnet["id"], name="reencrypt"))
        port = free_port(lb.vip_address)
        listener = self.os_step("create_listener", lambda: lbx.create_listener(
            loadbalancer_id=lb.id, protocol="HTTP", protocol_port=port))
        pool = self.os_step("create_pool", lambda: lbx.create_pool(
            listener_id=listener.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN", **pool_fields))
        self.wait_os_active("listener", lambda: lbx.get_listener(listener.id))
        return lb, port, pool

    def member(self, pool, backend):
        lbx = self.conn.load_balancer
        return self.os_step("create_member", lambda: lbx.create_member(
            pool, address=backend.host, protocol_port=backend.port))

    def test_tls_enabled_reaches_a_tls_member_without_a_ca(self):
        ca = make_ca("unverified-ca")
        backend = TlsTokenBackend("127.0.0.1", ca)
        self.addCleanup(backend.close)
        lb, port, pool = self.stack(tls_enabled=True)
        self.assertTrue(pool.tls_enabled)
        self.assertIsNone(pool.ca_tls_container_ref)
        self.member(pool, backend)
        status, body, err = http_get(lb.vip_address, port)
        self.assertEqual(status, 200, err)
        self.assertEqual(body, backend.token)
        self.assertGreaterEqual(backend.handshakes, 1)

    def test_a_ca_ref_verifies_the_member_and_a_stranger_ca_refuses_it(self):
        issuer, stranger = make_ca("issuer"), make_ca("stranger")
        backend = TlsTokenBackend("127.0.0.1", issuer)
        self.addCleanup(backend.close)
        right = self.store_pem(self.conn, pem(issuer[0]), "issuer")
        wrong = self.store_pem(self.conn, pem(stranger[0]), "stranger")
        lbx = self.conn.load_balancer
        lb, port, pool = self.stack(tls_enabled=True, ca_tls_container_ref=right,
                                    tls_versions=["TLSv1.2", "TLSv1.3"])
        self.assertEqual(pool.ca_tls_container_ref, right)
        self.member(pool, backend)
        status, body, err = http_get(lb.vip_address, port)
        self.assertEqual((status, body), (200, backend.token), err)

        # A CA that did not sign the member: the handshake is refused, the request is 502.
        pool = self.os_step("update_pool", lambda: lbx.update_pool(pool, ca_tls_container_ref=wrong))
        self.assertEqual(pool.ca_tls_container_ref, wrong)
        end = time.monotonic() + 10
        while True:
            status, _ = get_once(lb.vip_address, port)
            if status == 502 or time.monotonic() > end:
                break
            time.sleep(0.1)
        self.assertEqual(status, 502)

        # An HTTP monitor checks over the pool's TLS: the member goes down.
        self.os_step("create_health_monitor", lambda: lbx.create_health_monitor(
            pool_id=pool.id, type="HTTP", delay=1, timeout=1, max_retries=1, url_path="/"))
        members = list(lbx.members(pool))
        end = time.monotonic() + 15
        while time.monotonic() < end:
            state = lbx.get_member(members[0], pool).operating_status
            if state == "ERROR":
                break
            time.sleep(0.2)
        self.assertEqual(state, "ERROR")

        # The right CA again: the member comes back and serves.
        self.os_step("update_pool", lambda: lbx.update_pool(pool, ca_tls_container_ref=right))
        end = time.monotonic() + 15
        while time.monotonic() < end:
            state = lbx.get_member(members[0], pool).operating_status
            if state == "ONLINE":
                break
            time.sleep(0.2)
        self.assertEqual(state, "ONLINE")
        status, body, err = http_get(lb.vip_address, port)
        self.assertEqual((status, body), (200, backend.token), err)

    def test_hostile_ca_refs_and_protocols_are_refused(self):
        lbx = self.conn.load_balancer
        theirs = self.store_pem(self.conn_b, pem(make_ca("theirs")[0]), "theirs")
        junk = self.store_pem(self.conn, "not a certificate at all", "junk")
        lb = self.os_step("create_load_balancer", lambda: lbx.create_load_balancer(
            vip_subnet_id=self.world.subnet["id"], name="hostile"))
        self.wait_os_active("load balancer", lambda: lbx.get_load_balancer(lb.id))
        for what, ref in [("another project's secret", theirs), ("a payload that is not PEM", junk)]:
            self.assertOsError(lambda: lbx.create_pool(
                loadbalancer_id=lb.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                tls_enabled=True, ca_tls_container_ref=ref), os_exc.BadRequestException, 400, what,
                message_re="Could not retrieve certificate")
        self.assertOsError(lambda: lbx.create_pool(
            loadbalancer_id=lb.id, protocol="UDP", lb_algorithm="ROUND_ROBIN", tls_enabled=True),
            os_exc.BadRequestException, 400, "TLS on a UDP pool", message_re="UDP")
        self.assertEqual(list(lbx.pools(loadbalancer_id=lb.id)), [], "nothing refused was stored")

    def test_a_member_that_requires_a_client_certificate_gets_the_pools(self):
        issuer, clients = make_ca("members-ca"), make_ca("clients-ca")
        backend = TlsTokenBackend("127.0.0.1", issuer, client_ca=clients)
        self.addCleanup(backend.close)
        cert, key = issue(clients, "weir-pool.test")
        bundle = self.store_pem(self.conn, (cert + key).decode(), "client-bundle")
        right = self.store_pem(self.conn, pem(issuer[0]), "issuer")
        lbx = self.conn.load_balancer
        # Without the certificate the member refuses the handshake: 502.
        lb, port, pool = self.stack(tls_enabled=True, ca_tls_container_ref=right)
        self.member(pool, backend)
        status, _ = get_once(lb.vip_address, port)
        self.assertEqual(status, 502)
        self.assertEqual(backend.handshakes, 0)
        # openstacksdk's Pool has no tls_container_ref: the wire field, raw.
        resp = self.octavia_raw("PUT", "/pools/" + pool.id, {"pool": {"tls_container_ref": bundle}},
                                token=self.conn.auth_token)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["pool"]["tls_container_ref"], bundle)
        end = time.monotonic() + 10
        while True:
            status, body = get_once(lb.vip_address, port)
            if status == 200 or time.monotonic() > end:
                break
            time.sleep(0.1)
        self.assertEqual((status, body), (200, backend.token))
        self.assertGreaterEqual(backend.handshakes, 1)
        # The key manager keeps the secret while the pool presents it.
        self.assertOsError(lambda: self.conn.key_manager.delete_secret(bundle.rsplit("/", 1)[1]),
                           os_exc.ConflictException, 409, "deleting a client certificate in use")
        # A CRL of the members' CA revoking this member: the handshake fails again.
        member_cert = x509.load_pem_x509_certificate(backend.cert_pem)
        crl_ref = self.store_pem(self.conn, crl_pem(issuer, [member_cert.serial_number]), "crl")
        pool = self.os_step("update_pool", lambda: lbx.update_pool(pool, crl_container_ref=crl_ref))
        self.assertEqual(pool.crl_container_ref, crl_ref)
        end = time.monotonic() + 10
        while True:
            status, _ = get_once(lb.vip_address, port)
            if status == 502 or time.monotonic() > end:
                break
            time.sleep(0.1)
        self.assertEqual(status, 502)
        # Another project's certificate is not there (400), and nothing changes.
        cert_b, key_b = issue(clients, "theirs.test")
        theirs = self.store_pem(self.conn_b, (cert_b + key_b).decode(), "theirs")
        resp = self.octavia_raw("PUT", "/pools/" + pool.id, {"pool": {"tls_container_ref": theirs}},
                                token=self.conn.auth_token)
        self.assertEqual(resp.status, 400, resp)
        self.assertNotIn(self.other.project.id, str(resp))

    def test_the_native_api_sets_the_same_backend_tls(self):
        """`PATCH /v1/pools/{id}` `backend_tls` with refs to secrets made through openstacksdk:
        a client certificate, the members' CA and their name (SNI, checked)."""
        issuer, clients = make_ca("native-members-ca"), make_ca("native-clients-ca")
        backend = TlsTokenBackend("127.0.0.1", issuer, client_ca=clients)
        self.addCleanup(backend.close)
        cert, key = issue(clients, "weir-pool.test")
        bundle = self.store_pem(self.conn, (cert + key).decode(), "native-client").rsplit("/", 1)[1]
        ca = self.store_pem(self.conn, pem(issuer[0]), "native-ca").rsplit("/", 1)[1]
        lb, port, pool = self.stack()
        self.member(pool, backend)
        token = self.world.project.token
        path = "/v1/pools/" + pool.id
        status, body = self.native.call("PATCH", path, {"backend_tls": {
            "ca_ref": "secrets/" + ca, "client_certificate_ref": "secrets/" + bundle,
            "server_name": "member.test"}}, token=token)
        self.assertEqual(status, 200, body)
        self.assertEqual((body["backend_tls"]["verify"], body["backend_tls"]["server_name"]),
                         (True, "member.test"))
        # Octavia sees the same setting.
        shown = self.conn.load_balancer.get_pool(pool.id)
        self.assertTrue(shown.tls_enabled)
        # (The ref as the native caller gave it: Weir's key-manager path, not a URL.)
        self.assertEqual(shown.ca_tls_container_ref, "secrets/" + ca)
        end = time.monotonic() + 10
        while True:
            status, got = get_once(lb.vip_address, port)
            if status == 200 or time.monotonic() > end:
                break
            time.sleep(0.1)
        self.assertEqual((status, got), (200, backend.token))
        # A name the member's certificate does not carry: refused though the CA signed it.
        status, body = self.native.call("PATCH", path, {"backend_tls": {
            "ca_ref": "secrets/" + ca, "client_certificate_ref": "secrets/" + bundle,
            "server_name": "other.test"}}, token=token)
        self.assertEqual(status, 200, body)
        end = time.monotonic() + 10
        while True:
            status, _ = get_once(lb.vip_address, port)
            if status == 502 or time.monotonic() > end:
                break
            time.sleep(0.1)
        self.assertEqual(status, 502)
        # Another project's token does not see the pool.
        status, _ = self.native.call("PATCH", path, {"backend_tls": None}, token=self.other.project.token)
        self.assertEqual(status, 404)
        # The CLI says the same: back to the right name, then --no-verify beside a CA is refused
        # (never one of the two ignored), then --off.
        env = dict(os.environ, WEIR_URL=self.server.url, WEIR_TOKEN=token)

        def weir(*args):
            return subprocess.run([weir_binary(), "--json", "pool", "tls", pool.id, *args], env=env,
                                  capture_output=True, text=True, timeout=30)
        done = weir("--ca-ref", "secrets/" + ca, "--client-cert-ref", "secrets/" + bundle,
                    "--server-name", "member.test")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)["backend_tls"]["server_name"], "member.test")
        refused = weir("--ca-ref", "secrets/" + ca, "--no-verify")
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("verify", refused.stderr + refused.stdout)
        off = weir("--off")
        self.assertEqual(off.returncode, 0, off.stderr)
        self.assertNotIn("backend_tls", json.loads(off.stdout))
        self.assertFalse(self.conn.load_balancer.get_pool(pool.id).tls_enabled)
