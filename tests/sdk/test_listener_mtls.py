"""Mutual TLS on a TERMINATED_HTTPS listener made through openstacksdk, with the X-SSL-*
client-certificate headers (`insert_headers`): a real handshake from Python's `ssl` presenting a
client certificate the listener's client CA signed, the headers the member receives, and a
client's own forged X-SSL-* fields never reaching it. openstacksdk's Listener has no
`client_authentication` or `client_ca_tls_container_ref`: those are sent as the wire fields.

Addresses 10.x are data only: the server's data plane may dial 127.0.0.0/8 only.
"""

import base64
import datetime
import http.server
import json
import secrets
import socket
import ssl
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.sdk.harness import TokenTCPBackend, assert_loopback
from tests.sdk.lbaas_support import LbaasTestCase, World, free_port, openstack_connection


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def issue(ca, cn, server_name=None):
    """A certificate for `cn` signed by `ca` (a server one for `server_name`, else a client one)."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30)))
    if server_name:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name)]),
                                        critical=False)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                                        critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class _HeadersHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        seen = {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("x-ssl-")}
        body = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class HeadersBackend(TokenTCPBackend):
    """An HTTP server on 127.x answering each GET with the X-SSL-* fields it received (JSON)."""

    def __init__(self, host):
        assert_loopback(host)
        self.token = secrets.token_hex(4).encode()
        self.server = http.server.ThreadingHTTPServer((host, 0), _HeadersHandler)
        self.server.daemon_threads = True
        self.host, self.port = self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()


def mtls_get(host, port, server_ca, client, extra=b""):
    """GET / over TLS verifying the listener against `server_ca`, presenting `client` (cert,
    key) if given; returns the member's JSON, or raises (ssl.SSLError, OSError)."""
    ctx = ssl.create_default_context(cadata=pem(server_ca[0]))
    if client is not None:
        import tempfile
        with tempfile.NamedTemporaryFile("w") as c, tempfile.NamedTemporaryFile("w") as k:
            c.write(pem(client[0]))
            c.flush()
            k.write(key_pem(client[1]))
            k.flush()
            ctx.load_cert_chain(c.name, k.name)
    with socket.create_connection((host, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="app.example.test") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: app.example.test\r\n" + extra
                        + b"Connection: close\r\n\r\n")
            chunks = []
            while True:
                data = tls.recv(4096)
                if not data:
                    break
                chunks.append(data)
    answer = b"".join(chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError("no 200: %r" % answer[:200])
    return json.loads(body)


FORGED = (b"X-SSL-Client-CN: admin\r\nX-SSL-Client-Verify: 0\r\n"
          b"x-ssl-client-dn: /CN=admin\r\nX-SSL-Anything: 1\r\n")


class ListenerMtlsTest(LbaasTestCase):
    """A TERMINATED_HTTPS listener verifying clients, through openstacksdk."""

    @classmethod
    def bootstrap(cls):
        cls.world = World(cls.native, "mtla", 10, 74, vms=0)
        cls.conn = openstack_connection(cls.server, cls.world.project.ak, cls.world.project.sk)

    def store(self, payload, name, content_type="text/plain"):
        km = self.conn.key_manager
        if isinstance(payload, bytes):
            s = self.os_step("create_secret", lambda: km.create_secret(
                name=name, payload=base64.b64encode(payload).decode(),
                payload_content_type="application/octet-stream", payload_content_encoding="base64"))
        else:
            s = self.os_step("create_secret", lambda: km.create_secret(
                name=name, payload=payload, payload_content_type=content_type))
        return s.secret_ref

    def test_a_verified_client_reaches_the_member_with_its_certificate_headers(self):
        server_ca, client_ca, stranger_ca = make_ca("site-ca"), make_ca("tenant-clients"), make_ca("x")
        site_cert, site_key = issue(server_ca, "app.example.test", server_name="app.example.test")
        served = self.store(pkcs12.serialize_key_and_certificates(
            b"", site_key, site_cert, None, serialization.NoEncryption()), "site")
        ca_ref = self.store(pem(client_ca[0]), "client-ca")
        backend = HeadersBackend("127.0.0.1")
        self.addCleanup(backend.close)
        lbx = self.conn.load_balancer
        lb = self.os_step("create_load_balancer", lambda: lbx.create_load_balancer(
            vip_subnet_id=self.world.subnet["id"], name="mtls"))
        port = free_port(lb.vip_address)
        headers = {"X-SSL-Client-Verify": "true", "X-SSL-Client-Has-Cert": "true",
                   "X-SSL-Client-DN": "true", "X-SSL-Client-CN": "true", "X-SSL-Issuer": "true",
                   "X-SSL-Client-SHA1": "true"}
        listener = self.os_step("create_listener", lambda: lbx.create_listener(
            loadbalancer_id=lb.id, protocol="TERMINATED_HTTPS", protocol_port=port,
            default_tls_container_ref=served, insert_headers=headers))
        for name in headers:
            self.assertEqual(listener.insert_headers.get(name), "true", name)
        resp = self.octavia_raw("PUT", "/listeners/" + listener.id, {"listener": {
            "client_authentication": "MANDATORY", "client_ca_tls_container_ref": ca_ref}},
            token=self.conn.auth_token)
        self.assertEqual(resp.status, 200, resp)
        pool = self.os_step("create_pool", lambda: lbx.create_pool(
            listener_id=listener.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN"))
        self.os_step("create_member", lambda: lbx.create_member(
            pool, address=backend.host, protocol_port=backend.port))
        self.wait_os_active("listener", lambda: lbx.get_listener(listener.id))

        client = issue(client_ca, "alice")
        end = time.monotonic() + 10
        while True:
            try:
                seen = mtls_get(lb.vip_address, port, server_ca, client, extra=FORGED)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)
        fingerprint = client[0].fingerprint(hashes.SHA1()).hex().upper()
        self.assertEqual(seen, {
            "x-ssl-client-verify": "0",
            "x-ssl-client-has-cert": "true",
            "x-ssl-client-dn": '"/CN=alice"',
            "x-ssl-client-cn": '"alice"',
            "x-ssl-issuer": '"/CN=tenant-clients"',
            "x-ssl-client-sha1": '"%s"' % fingerprint,
        })
        # No certificate, or one another CA signed: the handshake is refused (MANDATORY), so
        # nothing reaches the member.
        for what, who in [("no certificate", None), ("a stranger's", issue(stranger_ca, "mallory"))]:
            with self.assertRaises((ssl.SSLError, OSError), msg=what):
                mtls_get(lb.vip_address, port, server_ca, who, extra=FORGED)
        # The headers turned off: a client's own X-SSL-* fields still never reach the member.
        self.os_step("update_listener", lambda: lbx.update_listener(
            listener.id, insert_headers={"X-Forwarded-For": "true"}))
        end = time.monotonic() + 10
        while True:
            seen = mtls_get(lb.vip_address, port, server_ca, client, extra=FORGED)
            if not seen or time.monotonic() > end:
                break
            time.sleep(0.1)
        self.assertEqual(seen, {})
