"""Terra's own Python SDK (terra-python) against the proxy binary in sandbox mode.

The binary runs with fixed TERRA_SANDBOX_DEV_ID / TERRA_SANDBOX_API_KEY, TERRA_WEBHOOK_SECRET
and TERRA_SANDBOX_WEBHOOK_URL pointing at a webhook receiver in this test; the SDK is pointed
at the sandbox's API base (read from the binary's "sandbox API: ..." log line) and at the
proxy's own prefix. Run by tests/sdk/run.sh, which builds the binary and installs the SDK;
TERRA_CONNECT_PROXY_BIN names the binary.
"""

import http.server
import json
import os
import queue
import re
import subprocess
import threading
import time
import unittest
import uuid

import httpx
from terra import Terra
from terra.core.api_error import ApiError
from terra.errors.not_found_error import NotFoundError
from terra.utils.verify_signature import WebhookVerificationError, verify_terra_webhook_signature

DEV_ID = "sdk-test-dev"
API_KEY = "sdk-test-KEY-" + uuid.uuid4().hex
SECRET = "sdk-test-signing-secret"
PROXY_PREFIX = "/api/terra"
TIMEOUT = 10.0  # seconds, for every wait and every SDK call


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook endpoint: keeps (headers, raw body) of every POST."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.deliveries = queue.Queue()
        self.seen = []

    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def wait_for(self, kind):
        """The first delivery whose JSON `type` is `kind` (at most TIMEOUT seconds)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            for headers, body in self.seen:
                if json.loads(body).get("type") == kind:
                    return headers, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} webhook arrived; got {[b for _, b in self.seen]}")
            try:
                self.seen.append(self.deliveries.get(timeout=left))
            except queue.Empty:
                pass


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length).decode("utf-8")
        self.server.deliveries.put(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Binary:
    """The proxy binary in sandbox mode; its stderr lines are collected."""

    def __init__(self, webhook_url):
        binary = os.environ["TERRA_CONNECT_PROXY_BIN"]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TERRA_CONNECT_ADDR": "127.0.0.1:0",
            "TERRA_SANDBOX_DEV_ID": DEV_ID,
            "TERRA_SANDBOX_API_KEY": API_KEY,
            "TERRA_WEBHOOK_SECRET": SECRET,
            "TERRA_SANDBOX_WEBHOOK_URL": webhook_url,
            "RUST_LOG": "info",
        }
        self.process = subprocess.Popen(
            [binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines = queue.Queue()
        self.logs = []
        threading.Thread(target=self._read, args=(self.process.stdout, "out"), daemon=True).start()
        threading.Thread(target=self._read, args=(self.process.stderr, "err"), daemon=True).start()
        self.url = self._wait(lambda s, l: s == "out" and "listening on " in l).rsplit(" ", 1)[1]
        self.sandbox_api = None
        for _, line in self.logs:
            found = re.search(r"sandbox API: (\S+)", line)
            if found:
                self.sandbox_api = found.group(1)
        if self.sandbox_api is None:
            line = self._wait(lambda s, l: "sandbox API: " in l)
            self.sandbox_api = re.search(r"sandbox API: (\S+)", line).group(1)

    def _read(self, stream, name):
        for line in stream:
            self.lines.put((name, line.rstrip("\n")))

    def _wait(self, match):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                stream, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.logs.append((stream, line))
            if match(stream, line):
                return line.strip()
        raise AssertionError(f"the binary did not log what was expected; logs: {self.logs}")

    def drain(self):
        while True:
            try:
                self.logs.append(self.lines.get_nowait())
            except queue.Empty:
                return "\n".join(line for _, line in self.logs)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)


def allow(auth_url):
    """Presses Allow on the sandbox's consent page, over HTTP."""
    response = httpx.post(auth_url, data={"decision": "allow"}, follow_redirects=False, timeout=TIMEOUT)
    assert response.status_code in (200, 303), response.status_code
    return response


class SdkAgainstTheSandbox(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver()
        threading.Thread(target=cls.receiver.serve_forever, daemon=True).start()
        cls.binary = Binary(cls.receiver.url())
        cls.terra = Terra(dev_id=DEV_ID, api_key=API_KEY, base_url=cls.binary.sandbox_api, timeout=TIMEOUT)

    @classmethod
    def tearDownClass(cls):
        cls.binary.stop()
        cls.receiver.shutdown()
        cls.receiver.server_close()

    def test_the_binary_logs_the_sandbox_api_base_but_no_credential(self):
        self.assertRegex(self.binary.sandbox_api, r"^http://127\.0\.0\.1:\d+/api/v2$")
        logs = self.binary.drain()
        self.assertNotIn(API_KEY, logs)
        self.assertNotIn(DEV_ID, logs)

    def test_a_connection_from_session_to_deauth(self):
        reference_id = "sdk-" + uuid.uuid4().hex
        created = self.terra.authentication.authenticateuser(
            resource="OURA",
            reference_id=reference_id,
            auth_success_redirect_url="http://127.0.0.1:9/done",
            auth_failure_redirect_url="http://127.0.0.1:9/failed",
        )
        self.assertEqual(created.status, "success")
        user_id = created.user_id
        self.assertEqual(len(user_id), 36)
        self.assertTrue(created.auth_url.startswith(self.binary.sandbox_api.rsplit("/api/v2", 1)[0] + "/consent/"))

        widget = self.terra.authentication.generatewidgetsession(
            providers="GARMIN,OURA", reference_id=reference_id, language="en"
        )
        self.assertEqual(widget.status, "success")
        self.assertTrue(widget.session_id and widget.url.endswith(widget.session_id))
        self.assertEqual(widget.expires_in, 900)
        self.assertEqual(httpx.get(widget.url, timeout=TIMEOUT).status_code, 200)

        before = self.terra.user.getinfoforuserid(user_id=user_id)
        self.assertEqual(before.status, "success")
        self.assertIs(before.is_authenticated, False)
        self.assertEqual((before.user.user_id, before.user.provider), (user_id, "OURA"))
        self.assertEqual(before.user.reference_id, reference_id)
        self.assertIsNone(before.user.active)

        redirect = allow(created.auth_url)
        self.assertEqual(redirect.status_code, 303)
        self.assertIn(f"user_id={user_id}", redirect.headers["location"])

        after = self.terra.user.getinfoforuserid(user_id=user_id)
        self.assertIs(after.is_authenticated, True)
        self.assertIs(after.user.active, True)

        by_reference = self.terra.user.getinfoforuserid(reference_id=reference_id)
        self.assertIsInstance(by_reference, list)
        self.assertEqual([(u.user_id, u.provider, u.active) for u in by_reference], [(user_id, "OURA", True)])
        self.assertEqual(self.terra.user.getinfoforuserid(reference_id="nobody-" + uuid.uuid4().hex), [])

        # The sandbox's auth webhook, verified by Terra's own function, in both headers.
        headers, body = self.receiver.wait_for("auth")
        self.assertEqual(json.loads(body)["user"]["user_id"], user_id)
        self.assertTrue(verify_terra_webhook_signature(body, headers["terra-signature"], SECRET))
        self.assertTrue(verify_terra_webhook_signature(body, headers["x-terra-signature"], SECRET))
        with self.assertRaises(WebhookVerificationError):
            verify_terra_webhook_signature(body.replace("OURA", "OURB"), headers["terra-signature"], SECRET)
        with self.assertRaises(WebhookVerificationError):
            verify_terra_webhook_signature(body, headers["terra-signature"], "another secret")

        gone = self.terra.authentication.deauthenticateuser(user_id=user_id)
        self.assertEqual(gone.status, "success")
        with self.assertRaises(NotFoundError):
            self.terra.user.getinfoforuserid(user_id=user_id)
        self.assertEqual(self.terra.user.getinfoforuserid(reference_id=reference_id), [])
        with self.assertRaises(NotFoundError):
            self.terra.authentication.deauthenticateuser(user_id=user_id)
        headers, body = self.receiver.wait_for("deauth")
        event = json.loads(body)
        self.assertEqual((event["user"]["user_id"], event["status"]), (user_id, "success"))
        self.assertTrue(event["message"])
        self.assertTrue(verify_terra_webhook_signature(body, headers["terra-signature"], SECRET))

    def test_the_detailed_provider_catalogue(self):
        detailed = self.terra.integrations.detailedfetch()
        self.assertEqual(detailed.status, "success")
        names = {p.provider: p.name for p in detailed.providers}
        self.assertEqual(len(names), 15)
        self.assertEqual(names["EIGHTSLEEP"], "Eight Sleep")
        self.assertEqual(names["FREESTYLELIBRE"], "FreeStyle Libre")
        self.assertEqual(names["GOOGLE"], "Google Fit")
        fitbit = detailed.providers[0]
        self.assertEqual(fitbit.provider, "FITBIT")
        self.assertIs(fitbit.enabled, True)
        self.assertIs(fitbit.types.activity, True)
        icon = httpx.get(fitbit.icon, timeout=TIMEOUT)
        self.assertEqual(icon.status_code, 200)
        self.assertEqual(icon.headers["content-type"], "image/svg+xml")
        self.assertTrue(icon.text.startswith("<svg"))
        with_sdk = self.terra.integrations.detailedfetch(sdk=True)
        self.assertEqual([p.provider for p in with_sdk.providers][15:], ["APPLE", "SAMSUNG", "HEALTH_CONNECT"])
        listed = self.terra.integrations.fetch()
        self.assertIn("GARMIN", listed.providers)

    def test_a_wrong_api_key_is_refused(self):
        wrong = Terra(dev_id=DEV_ID, api_key="wrong-key", base_url=self.binary.sandbox_api, timeout=TIMEOUT)
        for call in (
            lambda: wrong.authentication.authenticateuser(resource="OURA"),
            lambda: wrong.user.getinfoforuserid(user_id=str(uuid.uuid4())),
            lambda: wrong.authentication.deauthenticateuser(user_id=str(uuid.uuid4())),
            lambda: wrong.integrations.detailedfetch(),
        ):
            with self.assertRaises(ApiError) as raised:
                call()
            self.assertEqual(raised.exception.status_code, 401)
        with self.assertRaises(ApiError) as raised:
            wrong.authentication.generatewidgetsession(providers="OURA")
        self.assertIn(raised.exception.status_code, (401, 403))

    def test_the_proxy_takes_the_sdks_session_calls_unchanged(self):
        # The SDK sends its own dev-id / x-api-key: the proxy uses its own credentials instead.
        through_proxy = Terra(
            dev_id="not-used", api_key="not-used", base_url=self.binary.url + PROXY_PREFIX, timeout=TIMEOUT
        )
        reference_id = "proxy-" + uuid.uuid4().hex
        created = through_proxy.authentication.authenticateuser(resource="GARMIN", reference_id=reference_id)
        self.assertEqual(created.status, "success")
        self.assertIn("/consent/", created.auth_url)
        # The session is the sandbox's: the SDK pointed at the sandbox sees the user.
        info = self.terra.user.getinfoforuserid(user_id=created.user_id)
        self.assertEqual((info.user.provider, info.user.reference_id), ("GARMIN", reference_id))
        widget = through_proxy.authentication.generatewidgetsession(providers="OURA,GARMIN", reference_id=reference_id)
        self.assertEqual(widget.status, "success")
        self.assertTrue(widget.session_id and widget.url)
        self.assertGreater(widget.expires_in, 0)
        self.assertEqual(httpx.get(widget.url, timeout=TIMEOUT).status_code, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
