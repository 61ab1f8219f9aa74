"""End to end in a real browser: the real service in a subprocess, a real SMTP server, Chromium.

Registration and password reset go all the way: the API queues a mail, the outbox sender delivers
it over SMTP to an in-process `aiosmtpd` server, the test reads the link out of the mail, and
headless Chromium (Debian's `chromium`, driven by Playwright) opens it and submits the plain-HTML
page the service serves when there is no FRONTEND_URL.

A front end on its own origin (a page served by a second local HTTP server, listed in
CORS_ORIGINS) calls the API with `fetch`; a page from a third, unlisted origin is refused by the
browser. `/docs` is used with every request to another origin blocked.
"""

import asyncio
import email
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from scripts.databases import drop_database
from tests.conftest import TEST_SECRET, create_database
from tests.factories import PASSWORD, unique_email
from tests.live import free_port, running_service

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAIL_TIMEOUT = 15.0
NEW_PASSWORD = "quartz-harbor-lantern-77"


@dataclass
class Inbox:
    """What the SMTP server received: (envelope recipients, raw message) pairs."""

    mails: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content = envelope.content
        if isinstance(content, str):
            content = content.encode()
        self.mails.append((list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"

    async def wait_for_link(self, recipient: str, path: str) -> str:
        """The first `<base>/<path>?token=...` link mailed to `recipient`, waiting up to 15 s."""
        deadline = time.monotonic() + MAIL_TIMEOUT
        pattern = re.compile(rf"https?://\S+/{re.escape(path)}\?token=[A-Za-z0-9_\-]+")
        while True:
            for recipients, raw in list(self.mails):
                if recipient not in recipients:
                    continue
                message = email.message_from_bytes(raw, policy=default_policy)
                assert isinstance(message, EmailMessage)
                body = message.get_body(preferencelist=("plain",))
                assert body is not None, f"no text part in the mail to {recipient}"
                match = pattern.search(body.get_content())
                if match:
                    return match.group(0)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no mail with a /{path} link reached {recipient} within {MAIL_TIMEOUT} s; "
                    f"received {len(self.mails)} mail(s) in all"
                )
            await asyncio.sleep(0.1)


@dataclass
class LiveService:
    base: str
    inbox: Inbox


# A front end reduced to what matters here: `call` sends one request with fetch, the way a
# single-page app does (bearer token in the Authorization header, JSON or form bodies), and
# returns what the page may read of the answer, or the error fetch raised.
FRONT_END_PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>front end</title></head><body>
<script>
window.call = async (base, method, path, options) => {
  const headers = {};
  let body;
  if (options.token) headers["Authorization"] = "Bearer " + options.token;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  if (options.form !== undefined) body = new URLSearchParams(options.form);
  try {
    const response = await fetch(base + path, {method, headers, body});
    const text = await response.text();
    return {
      status: response.status,
      body: text ? JSON.parse(text) : null,
      location: response.headers.get("Location"),
      requestId: response.headers.get("X-Request-ID"),
    };
  } catch (error) {
    return {error: String(error)};
  }
};
</script>
</body></html>
"""


class _FrontEndHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(FRONT_END_PAGE)))
        self.end_headers()
        self.wfile.write(FRONT_END_PAGE)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: the test reports what matters."""


@dataclass
class FrontEnds:
    """The same page on two origins: `listed` is in the service's CORS_ORIGINS, `unlisted` not."""

    listed: str
    unlisted: str


@pytest.fixture(scope="module")
def front_ends() -> Iterator[FrontEnds]:
    servers = [ThreadingHTTPServer(("127.0.0.1", free_port()), _FrontEndHandler) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield FrontEnds(*(f"http://127.0.0.1:{server.server_port}" for server in servers))
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    """Checked before anything is started, so a missing browser skips at once."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests")
    return CHROMIUM


@pytest.fixture(scope="module")
def live_service(
    chromium_path: Path, tmp_path_factory: pytest.TempPathFactory, front_ends: FrontEnds
) -> Iterator[LiveService]:
    """The SMTP server, a fresh database and the service in a subprocess, all torn down after."""
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        database_url = create_database("blokid_e2e")
    except BaseException:
        smtp.stop()
        raise
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"FRONTEND_URL", "SMTP_USER", "SMTP_PASSWORD", "SMTP_TLS", "SMTP_SSL"}
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": TEST_SECRET,
            "ENVIRONMENT": "test",
            "RATE_LIMIT_ENABLED": "false",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "MAIL_POLL_SECONDS": "0.1",
            "PUBLIC_URL": base,
            "CORS_ORIGINS": front_ends.listed,
        }
    )
    log_path = tmp_path_factory.mktemp("e2e") / "server.log"
    try:
        with running_service(env, port, log_path):
            yield LiveService(base, inbox)
    finally:
        smtp.stop()
        drop_database(database_url)


@pytest.fixture
async def browser(chromium_path: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def http(live_service: LiveService) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_service.base, timeout=15) as client:
        yield client


async def login(http: httpx.AsyncClient, email_address: str, password: str) -> httpx.Response:
    return await http.post(
        "/api/v1/auth/login", data={"username": email_address, "password": password}
    )


async def me(http: httpx.AsyncClient, email_address: str, password: str) -> dict[str, Any]:
    """GET /users/me after a fresh login with these credentials."""
    response = await login(http, email_address, password)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    answer = await http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def register(http: httpx.AsyncClient, email_address: str) -> None:
    response = await http.post(
        "/api/v1/auth/register", json={"email": email_address, "password": PASSWORD}
    )
    assert response.status_code == 202, response.text


async def test_registration_mail_link_verifies_in_the_browser(
    browser: Any, live_service: LiveService, http: httpx.AsyncClient
) -> None:
    address = unique_email("e2e-verify")
    await register(http, address)
    link = await live_service.inbox.wait_for_link(address, "verify-email")
    assert link.startswith(f"{live_service.base}/verify-email?token="), link

    # A mail scanner prefetching the link (a plain GET) must not verify the address.
    scanned = await http.get(link)
    assert scanned.status_code == 200, scanned.text
    assert (await me(http, address, PASSWORD))["email_verified"] is False

    page = await browser.new_page()
    try:
        await page.goto(link)
        # Opening the page is a GET as well: still unverified until the button is pressed.
        assert (await me(http, address, PASSWORD))["email_verified"] is False
        await page.click("#confirm")
        result = await page.locator("#result").text_content(timeout=10_000)
    finally:
        await page.close()
    assert result is not None
    assert address in result
    assert "confirmed" in result

    assert (await me(http, address, PASSWORD))["email_verified"] is True


async def test_reset_mail_link_sets_a_new_password_in_the_browser(
    browser: Any, live_service: LiveService, http: httpx.AsyncClient
) -> None:
    address = unique_email("e2e-reset")
    await register(http, address)
    response = await http.post("/api/v1/auth/forgot-password", json={"email": address})
    assert response.status_code == 202, response.text
    link = await live_service.inbox.wait_for_link(address, "reset-password")
    assert link.startswith(f"{live_service.base}/reset-password?token="), link

    # A prefetch of the link changes nothing: the old password still works.
    assert (await http.get(link)).status_code == 200
    assert (await login(http, address, PASSWORD)).status_code == 200

    page = await browser.new_page()
    try:
        await page.goto(link)
        await page.fill("#password", NEW_PASSWORD)
        await page.click("#save")
        result = await page.locator("#result").text_content(timeout=10_000)
    finally:
        await page.close()
    assert result is not None
    assert "password is changed" in result

    assert (await login(http, address, PASSWORD)).status_code == 401
    profile = await me(http, address, NEW_PASSWORD)
    assert profile["email"] == address
    # Following the mailed reset link proves the address.
    assert profile["email_verified"] is True


class FrontEndPage:
    """A page of a front end, calling the live API through the page's `fetch`."""

    def __init__(self, page: Any, api: str) -> None:
        self.page = page
        self.api = api
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(message.text))

    async def call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        result = await self.page.evaluate(
            "([base, method, path, options]) => window.call(base, method, path, options)",
            [self.api, method, path, options],
        )
        return dict(result)


async def open_front_end(browser: Any, origin: str, live_service: LiveService) -> FrontEndPage:
    page = await browser.new_page()
    await page.goto(f"{origin}/")
    return FrontEndPage(page, f"{live_service.base}/api/v1")


async def test_a_front_end_on_a_listed_origin_registers_logs_in_and_manages_websites(
    browser: Any, live_service: LiveService, front_ends: FrontEnds
) -> None:
    front = await open_front_end(browser, front_ends.listed, live_service)
    try:
        address = unique_email("e2e-cors")
        registered = await front.call(
            "POST", "/auth/register", json={"email": address, "password": PASSWORD}
        )
        assert registered.get("status") == 202, registered
        link = await live_service.inbox.wait_for_link(address, "verify-email")
        verified = await front.call(
            "POST", "/auth/verify-email", json={"token": link.split("token=", 1)[1]}
        )
        assert verified.get("status") == 200, verified

        login = await front.call(
            "POST", "/auth/login", form={"username": address, "password": PASSWORD}
        )
        assert login.get("status") == 200, login
        token = login["body"]["access_token"]

        # Bearer requests: each is preceded by a preflight the service must answer.
        organizations = await front.call("GET", "/organizations", token=token)
        assert organizations.get("status") == 200, organizations
        organization_id = organizations["body"]["items"][0]["id"]
        created = await front.call(
            "POST",
            f"/organizations/{organization_id}/websites",
            token=token,
            json={"name": "Shop", "url": "https://shop.example.com"},
        )
        assert created.get("status") == 201, created
        website_id = created["body"]["id"]
        # Exposed headers: the page may read them.
        assert created["location"].endswith(f"/websites/{website_id}")
        assert created["requestId"]

        listed = await front.call("GET", "/websites", token=token)
        assert listed.get("status") == 200, listed
        assert [item["id"] for item in listed["body"]["items"]] == [website_id]
        assert listed["body"]["items"][0]["url"] == "https://shop.example.com"
    finally:
        await front.page.close()


async def test_a_page_from_an_unlisted_origin_is_refused_by_the_browser(
    browser: Any, live_service: LiveService, front_ends: FrontEnds, http: httpx.AsyncClient
) -> None:
    front = await open_front_end(browser, front_ends.unlisted, live_service)
    try:
        # A simple request reaches the service, but the browser keeps the answer from the page.
        health = await front.call("GET", "/health")
        # A JSON body needs a preflight, which the service does not grant this origin: the
        # request itself is never sent.
        address = unique_email("e2e-cors-refused")
        register = await front.call(
            "POST", "/auth/register", json={"email": address, "password": PASSWORD}
        )
    finally:
        await front.page.close()
    assert "Failed to fetch" in health.get("error", ""), health
    assert "Failed to fetch" in register.get("error", ""), register
    blocked = [line for line in front.console if "blocked by CORS policy" in line]
    assert len(blocked) == 2, front.console
    # The service itself answers: it is the origin that is refused.
    assert (await http.get("/health")).status_code == 200
    assert (await login(http, address, PASSWORD)).status_code == 401


async def test_docs_work_with_every_other_origin_blocked(
    browser: Any, live_service: LiveService, http: httpx.AsyncClient
) -> None:
    address = unique_email("e2e-docs")
    await register(http, address)
    link = await live_service.inbox.wait_for_link(address, "verify-email")
    verified = await http.post(
        "/api/v1/auth/verify-email", json={"token": link.split("token=", 1)[1]}
    )
    assert verified.status_code == 200, verified.text

    context = await browser.new_context()
    elsewhere: list[str] = []

    async def only_the_service(route: Any) -> None:
        url = route.request.url
        if url.startswith(f"{live_service.base}/") or url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            elsewhere.append(url)
            await route.abort()

    await context.route("**/*", only_the_service)
    page = await context.new_page()
    try:
        await page.goto(f"{live_service.base}/docs")
        title = await page.locator(".swagger-ui .info .title").text_content(timeout=30_000)
        assert title is not None
        assert "BlokID API" in title

        # Authorize: the OAuth2 password flow against the login route.
        await page.locator(".scheme-container button.authorize").click()
        await page.fill("#oauth_username", address)
        await page.fill("#oauth_password", PASSWORD)
        await page.locator(".auth-btn-wrapper button.authorize").click()
        # Swagger UI offers "Logout" once the login answered a token.
        dialog = page.locator(".dialog-ux")
        await dialog.locator("button", has_text="Logout").wait_for(timeout=15_000)
        await dialog.get_by_text("Authorized", exact=True).wait_for()
        await dialog.locator("button", has_text="Close").click()

        me = await _try_it_out(page, "#operations-users-get_me")
        assert me == ("200", address)
        # The published examples are sent as they are, and accepted.
        registered = await _try_it_out(page, "#operations-auth-register")
        assert registered[0] == "202"
    finally:
        await context.close()
    assert elsewhere == []


async def _try_it_out(page: Any, operation_id: str) -> tuple[str | None, str | None]:
    """Open an operation, press "Try it out" then "Execute"; the status and body shown."""
    operation = page.locator(operation_id)
    await operation.locator(".opblock-summary").first.click()
    await operation.locator("button.try-out__btn").click()
    await operation.locator("button.execute").click()
    response = operation.locator(".live-responses-table tbody .response").first
    status = await response.locator(".response-col_status").text_content(timeout=15_000)
    body = await response.locator(".response-col_description pre").first.text_content()
    found = re.search(r'"email":\s*"([^"]+)"', body or "")
    return (status.strip() if status else None), (found.group(1) if found else body)
