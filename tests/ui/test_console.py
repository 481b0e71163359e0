"""The web console in a real browser: headless Chromium (through
chromedriver, tests/ui/webdriver.py) against a real `weir serve` on
loopback, with a loopback HTTP backend.

An operator signs in with a project token, walks load balancer ->
listener -> pool, registers a backend through the form (named like an
HTML injection, which must render as text and run nothing), sees it turn
healthy, sends bounded traffic through the listener and sees its request
rate move, disables it while a slow request is open and sees it drain;
then the admin token's view. Screenshots of each step go to
target/ui-screens/ (WEIR_UI_SCREENS overrides).

Run: WEIR_BIN=target/debug/weir python3 -m unittest tests.ui.test_console -v
Skipped, with a notice, where chromium or chromedriver is missing.
"""

import http.server
import json
import os
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

from tests.ui.webdriver import Browser, find_browser

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADMIN = "ui-test-admin-token"
XSS_NAME = '<img src=x onerror="window.__xss=1">web-1'
SLOW_SECONDS = 3.0


class Backend(http.server.BaseHTTPRequestHandler):
    """`GET /` answers at once; `GET /slow` after SLOW_SECONDS (a request
    still open when the backend is disabled, so the drain has something to
    wait for)."""

    protocol_version = "HTTP/1.1"
    slow_started = threading.Event()

    def do_GET(self):
        if self.path.startswith("/slow"):
            Backend.slow_started.set()
            time.sleep(SLOW_SECONDS)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        # No kept-alive idle connections: the connection count the console
        # shows is then the requests in flight.
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Health checks close once they have the status line; that reset
        # is expected, not worth a traceback.
        pass


def api(base, method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def through(front, path="/", timeout=10):
    """One request through the listener; True on a 200."""
    try:
        with socket.create_connection(front, timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: ui\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
            return answer.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@unittest.skipUnless(find_browser(), "chromium and chromedriver not installed: console browser test skipped")
class ConsoleInBrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        weir = os.environ.get("WEIR_BIN", os.path.join(ROOT, "target/debug/weir"))
        cls.screens = os.environ.get("WEIR_UI_SCREENS", os.path.join(ROOT, "target/ui-screens"))
        os.makedirs(cls.screens, exist_ok=True)
        cls.dir = tempfile.TemporaryDirectory()
        octet = 20 + (os.getpid() % 200)
        config = os.path.join(cls.dir.name, "weir.toml")
        with open(config, "w") as f:
            f.write(
                "[network]\n"
                'backend_ranges = ["127.0.0.0/8", "10.0.0.0/8"]\n'
                'external_backend_ranges = ["127.0.0.0/8"]\n'
                f'vip_ranges = ["127.{octet}.31.0/24"]\n\n'
                '[dataplane]\negress_allow = ["127.0.0.0/8"]\nworkers = 1\n'
            )
        env = dict(os.environ, WEIR_LISTEN="127.0.0.1:0", WEIR_ADMIN_TOKEN=ADMIN,
                   WEIR_EGRESS_ALLOW="127.0.0.0/8", WEIR_LOG="warn")
        for k in ("WEIR_DATA_DIR", "WEIR_CONFIG", "WEIR_SECRETS_KEY"):
            env.pop(k, None)
        cls.weir = subprocess.Popen([weir, "serve", "--config", config], cwd=cls.dir.name, env=env,
                                    stdout=subprocess.PIPE, text=True)
        line = cls.weir.stdout.readline()
        assert line.startswith("weir listening on "), line
        cls.url = line.removeprefix("weir listening on ").strip()
        threading.Thread(target=cls.weir.stdout.read, daemon=True).start()

        cls.backend = ThreadingServer(("127.0.0.1", 0), Backend)
        threading.Thread(target=cls.backend.serve_forever, daemon=True).start()

        # The tenant and its load balancer, through the API (the console's
        # subject is what follows).
        status, project = api(cls.url, "POST", "/v1/projects", ADMIN, {"name": "console-demo"})
        assert status == 201, project
        cls.project_token = project["token"]
        _, vpc = api(cls.url, "POST", "/v1/vpcs", ADMIN, {"project_id": project["id"], "cidr": "10.0.0.0/16"})
        _, subnet = api(cls.url, "POST", "/v1/subnets", ADMIN, {"vpc_id": vpc["id"], "cidr": "10.0.1.0/24"})
        status, lb = api(cls.url, "POST", "/v1/loadbalancers", cls.project_token,
                         {"subnet_id": subnet["id"], "name": "shop"})
        assert status == 201, lb
        with socket.socket() as s:
            s.bind((lb["vip"], 0))
            port = s.getsockname()[1]
        status, listener = api(cls.url, "POST", f"/v1/loadbalancers/{lb['id']}/listeners", cls.project_token,
                               {"protocol": "http", "port": port, "name": "www"})
        assert status == 201, listener
        cls.listener = listener
        cls.front = (lb["vip"], port)
        status, pool = api(cls.url, "PATCH", f"/v1/pools/{listener['default_pool_id']}", cls.project_token, {
            "health_check": {"type": "http", "interval_ms": 300, "timeout_ms": 500, "rise": 2, "fall": 2, "path": "/"},
            "drain_timeout_ms": 20000,
        })
        assert status == 200, pool
        cls.browser = Browser(*find_browser())

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.backend.shutdown()
        cls.weir.terminate()
        try:
            cls.weir.wait(10)
        except subprocess.TimeoutExpired:
            cls.weir.kill()
        cls.dir.cleanup()

    def shot(self, name):
        self.browser.screenshot(os.path.join(self.screens, f"{name}.png"))

    def text(self, css):
        return self.browser.run("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css)

    def sign_in(self, token):
        b = self.browser
        b.get(f"{self.url}/ui/")
        b.wait("the sign-in form", lambda: b.run("return document.activeElement && document.activeElement.id") == "token")
        # Typed where the focus is, and submitted with Enter: the keyboard path.
        b.keys(token + "\ue007")
        b.wait("signed in", lambda: b.run("return document.getElementById('signin').hidden"))

    def backend_row(self, name=XSS_NAME):
        return self.browser.run("""
            const row = [...document.querySelectorAll('#backends tbody tr[data-id]')]
              .find(r => r.querySelector('th .name').textContent === arguments[0]);
            if (!row) return null;
            const rate = (k) => Number(row.querySelector(`[data-rate="${k}"]`)?.textContent ?? 'NaN');
            return {id: row.dataset.id, state: row.querySelector('.badge')?.textContent,
                    text: row.textContent, progress: !!row.querySelector('progress'),
                    reason: row.querySelector('td.state .reason')?.textContent ?? null,
                    req: rate('req'), conn: rate('conn'), toggle: row.querySelector('.toggle').textContent};
        """, name)

    def test_operator_flow(self):
        b = self.browser
        b.get(f"{self.url}/ui/")
        b.wait("the page", lambda: b.run("return document.readyState") == "complete")
        self.shot("01-sign-in")
        # A wrong token is refused in words, and not kept.
        b.keys("not-a-token\ue007")
        b.wait("the refusal", lambda: "not accepted" in (self.text("#signin-error") or ""))
        self.assertIsNone(b.run("return sessionStorage.getItem('weir.token')"))

        self.sign_in(self.project_token)
        # Every CSP violation from here on is recorded: injected markup
        # would show up here even though the policy stops it.
        b.run("window.__csp = []; document.addEventListener('securitypolicyviolation',"
              " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
        b.wait("the load balancer list", lambda: self.text("#view tbody a") == "shop")
        # A project token gets no admin view.
        self.assertFalse(b.run("return !!document.querySelector('#crumbs a[href=\"#/admin\"]')"))
        self.shot("02-load-balancers")
        b.click("#view tbody a")
        b.wait("the listener", lambda: "www" in (self.text("#view table") or ""))
        self.shot("03-load-balancer")
        b.click("#view tbody a")
        b.wait("the pool view", lambda: b.run("return !!document.getElementById('register-form')"))

        # Register through the form, with a hostile name.
        host, port = self.backend.server_address
        b.type("#reg-address", host)
        b.type("#reg-port", str(port))
        b.type("#reg-weight", "100")
        b.type("#reg-name", XSS_NAME)
        b.click("#register-form button[type=submit]")
        b.wait("the confirmation", lambda: b.run("return document.getElementById('confirm').open"))
        self.assertIn(XSS_NAME, self.text("#confirm-text"))
        self.shot("04-confirm-register")
        b.click("#confirm-ok")
        row = b.wait("the backend healthy", lambda: (r := self.backend_row()) and r["state"] == "healthy" and r)
        # The name is text: no element was made from it, nothing ran.
        self.assertEqual(b.run("return document.querySelectorAll('#view img, #changes img').length"), 0)
        self.assertIsNone(b.run("return window.__xss ?? null"))
        self.assertIn(XSS_NAME, row["text"])
        self.shot("05-backend-healthy")

        # A backend that refuses its checks: unhealthy, with the reason.
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            dead_port = closed.getsockname()[1]
        status, _ = api(self.url, "POST", f"/v1/pools/{self.listener['default_pool_id']}/backends", self.project_token,
                        {"backends": [{"address": "127.0.0.1", "port": dead_port, "name": "web-2"}]})
        self.assertEqual(status, 201)
        down = b.wait("web-2 unhealthy", lambda: (r := self.backend_row("web-2")) and r["state"] == "unhealthy" and r)
        self.assertTrue(down["reason"], down)

        # Bounded traffic through the listener: at most 1000 requests or 15 s.
        stop = threading.Event()
        sent = {"ok": 0}

        def load():
            deadline = time.monotonic() + 15
            for _ in range(1000):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                sent["ok"] += through(self.front, timeout=5)
                time.sleep(0.01)

        loader = threading.Thread(target=load)
        loader.start()
        try:
            row = b.wait("the request rate to move", lambda: (r := self.backend_row()) and r["req"] > 0 and r["conn"] > 0 and r)
            # A few seconds of the series, for the screenshot to show a line.
            b.wait("a few points of the chart", lambda: b.run(
                "const p = document.querySelector('#backends tr[data-id] td.chart polyline');"
                " return p ? p.getAttribute('points').split(' ').length : 0;") >= 5, timeout=14)
            self.shot("06-traffic")
        finally:
            stop.set()
            loader.join()
        self.assertGreater(sent["ok"], 0)

        # A slow request open through the backend, then disable: draining
        # while it runs (with progress), drained once it is done.
        slow = threading.Thread(target=through, args=(self.front, "/slow", 15))
        slow.start()
        try:
            self.assertTrue(Backend.slow_started.wait(10), "the slow request never reached the backend")
            b.wait("the open request", lambda: self.text(f'#backends tr[data-id="{row["id"]}"] td.num') == "1")
            b.click(f'#backends tr[data-id="{row["id"]}"] .toggle')
            b.wait("the confirmation", lambda: b.run("return document.getElementById('confirm').open"))
            self.assertIn("drain", self.text("#confirm-text"))
            b.click("#confirm-ok")
            r = b.wait("draining", lambda: (r := self.backend_row()) and r["state"] == "draining" and r)
            self.assertTrue(r["progress"], r)
            self.shot("07-draining")
        finally:
            slow.join()
        r = b.wait("drained", lambda: (r := self.backend_row()) and r["state"] == "drained" and r)
        self.assertEqual(r["toggle"], "Enable")
        # The watch stream told the changes panel, in words.
        changes = b.wait("the recent changes", lambda: (t := self.text("#changes")) and "drained" in t and t)
        self.assertIn("healthy", changes)
        self.shot("08-drained")

        # Readable on a phone: nothing wider than the screen but the
        # scrollable table itself.
        b.resize(390, 844)
        overflow = b.run("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        self.assertLessEqual(overflow, 0)
        self.shot("09-phone")
        b.resize(1280, 900)

        # Nothing the policy refused, no token anywhere but sessionStorage.
        self.assertEqual(b.run("return window.__csp"), [])
        self.assertEqual(b.run("return document.cookie"), "")
        self.assertEqual(b.run("return localStorage.length"), 0)
        self.assertNotIn(self.project_token, b.run("return location.href"))

        # Weight, by keyboard-typed value and confirmation; an empty field
        # is refused in words, never sent as 0.
        sel = f'#backends tr[data-id="{row["id"]}"]'
        b.clear(f"{sel} input.weight")
        b.click(f"{sel} .set-weight")
        b.wait("the refusal", lambda: "whole number" in (self.text("#view .flash.error") or ""))
        self.assertFalse(b.run("return document.getElementById('confirm').open"))
        b.type(f"{sel} input.weight", "50")
        b.click(f"{sel} .set-weight")
        b.wait("the confirmation", lambda: b.run("return document.getElementById('confirm').open"))
        b.click("#confirm-ok")
        path = f"/v1/backends/{row['id']}"
        b.wait("the new weight", lambda: api(self.url, "GET", path, self.project_token)[1]["weight"] == 50)

        # Escape backs out of a deregistration; Confirm does it.
        b.click(f"{sel} .deregister")
        b.wait("the confirmation", lambda: b.run("return document.getElementById('confirm').open"))
        b.keys("\ue00c")
        b.wait("the dialog closed", lambda: not b.run("return document.getElementById('confirm').open"))
        self.assertEqual(api(self.url, "GET", path, self.project_token)[0], 200)
        b.click(f"{sel} .deregister")
        b.wait("the confirmation", lambda: b.run("return document.getElementById('confirm').open"))
        b.click("#confirm-ok")
        b.wait("the row gone", lambda: self.backend_row() is None)
        self.assertEqual(api(self.url, "GET", path, self.project_token)[0], 404)
        # The changes panel names the backend once the console knows it.
        self.assertIn(XSS_NAME, self.text("#changes"))

        # Signing out forgets the token.
        b.click("#signout")
        b.wait("signed out", lambda: not b.run("return document.getElementById('signin').hidden"))
        self.assertIsNone(b.run("return sessionStorage.getItem('weir.token')"))

    def test_sse_parser_across_chunk_boundaries(self):
        """The console's reader of /v1/watch (watch.js), in the browser: the
        same events whatever the network's chunking, CRLF cut in two
        included, and a line that never ends is refused, not buffered."""
        b = self.browser
        b.get(f"{self.url}/ui/")
        stream = ('id: 1\r\nevent: backend.created\r\ndata: {"a":1}\r\n\r\n'
                  ': keep-alive\n\nevent: x\ndata: line1\ndata: line2\n\n'
                  'id: 7\rdata: z\r\r')
        got = b.run_async("""
            const [stream, done] = arguments;
            import('/ui/watch.js').then(({SseParser}) => {
              const runs = [];
              for (let size = 1; size <= stream.length; size++) {
                const events = [];
                const p = new SseParser((e) => events.push(e));
                for (let i = 0; i < stream.length; i += size) p.push(stream.slice(i, i + size));
                p.finish();
                runs.push(JSON.stringify(events));
              }
              let refused = false;
              try { new SseParser(() => {}).push('x'.repeat(70000)); } catch { refused = true; }
              done({runs, refused});
            }, (e) => done({error: String(e)}));
        """, stream)
        self.assertNotIn("error", got)
        expected = [
            {"event": "backend.created", "data": '{"a":1}', "id": "1"},
            {"event": "x", "data": "line1\nline2", "id": None},
            {"event": "message", "data": "z", "id": "7"},
        ]
        for size, run in enumerate(got["runs"], start=1):
            self.assertEqual(json.loads(run), expected, f"chunks of {size}")
        self.assertTrue(got["refused"])

    def test_zz_admin_view(self):
        b = self.browser
        b.run("sessionStorage.clear()")
        self.sign_in(ADMIN)
        b.wait("the admin link", lambda: b.run("return !!document.querySelector('#crumbs a[href=\"#/admin\"]')"))
        b.click('#crumbs a[href="#/admin"]')
        b.wait("the admin view", lambda: "console-demo" in (self.text("#view") or ""))
        self.assertIn("Nodes", self.text("#view"))
        self.shot("10-admin")
        b.click("#signout")


if __name__ == "__main__":
    unittest.main()
