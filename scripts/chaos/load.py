"""Driving the service: actors with verified logins, and a record of every answer."""

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from scripts.chaos.mail import MailSink

PASSWORD = "chaos monkey ladder 7"  # noqa: S105 - the scenarios' own users
CLIENT_TIMEOUT = 60.0
"""Longer than any answer the service should take: a request that reaches it has hung."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request and what came back (`status` None: no HTTP answer, see `error`)."""

    op: str
    started: float
    ended: float
    status: int | None
    retry_after: str | None = None
    code: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def unavailable(self) -> bool:
        """A 503 `service_unavailable` problem with Retry-After: the answer the service owes
        while a dependency is down."""
        return self.status == 503 and bool(self.retry_after) and self.code == "service_unavailable"

    def label(self) -> str:
        """The status, or the transport error's name."""
        return str(self.status) if self.status is not None else f"no answer ({self.error})"


@dataclass
class Recorder:
    """Every outcome of a scenario, with the moments that matter (`mark`)."""

    outcomes: list[Outcome] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str) -> float:
        """Note the time of an event (fault injected, dependency back, ...)."""
        now = time.monotonic()
        self.marks[name] = now
        return now

    def statuses(self) -> Counter[str]:
        """How many requests got each status."""
        return Counter(outcome.label() for outcome in self.outcomes)

    async def send(
        self, client: httpx.AsyncClient, op: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        """Send one request and record its outcome; the response, or None without one (after
        a short pause, as a client would make before trying again)."""
        started = time.monotonic()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.outcomes.append(
                Outcome(op, started, time.monotonic(), None, error=type(exc).__name__)
            )
            await asyncio.sleep(0.2)
            return None
        code = None
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            code = response.json().get("code")
        self.outcomes.append(
            Outcome(
                op,
                started,
                time.monotonic(),
                response.status_code,
                retry_after=response.headers.get("retry-after"),
                code=code,
            )
        )
        return response


def new_client(base: str) -> httpx.AsyncClient:
    """A client that opens a connection per request: a request is never sent on a connection
    that a killed or stopping worker held, so each outcome speaks of that request alone."""
    return httpx.AsyncClient(
        base_url=f"{base}/api/v1",
        timeout=CLIENT_TIMEOUT,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def new_email(prefix: str) -> str:
    """A fresh address."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}@chaos.example"


@dataclass
class Actor:
    """A verified user with a login and the organization registration made for them."""

    email: str
    access_token: str
    organization_id: str

    @property
    def headers(self) -> dict[str, str]:
        """The bearer header."""
        return {"Authorization": f"Bearer {self.access_token}"}


async def _eventually(probe: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


async def _checked(response: httpx.Response, *expected: int) -> httpx.Response:
    if response.status_code not in expected:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return response


async def make_actor(base: str, sink: MailSink, prefix: str = "actor") -> Actor:
    """Register, verify through the mailed link, and log in (setup: failures raise)."""
    email = new_email(prefix)
    async with new_client(base) as client:
        await _checked(
            await client.post("/auth/register", json={"email": email, "password": PASSWORD}), 202
        )
        token = await _eventually(lambda: sink.token_for(email), f"the mail to {email}")
        await _checked(await client.post("/auth/verify-email", json={"token": token}), 200)
        login = await _checked(
            await client.post("/auth/login", data={"username": email, "password": PASSWORD}), 200
        )
        access = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {access}"}
        organizations = await _checked(await client.get("/organizations", headers=headers), 200)
    return Actor(email, access, organizations.json()["items"][0]["id"])


async def make_actors(base: str, sink: MailSink, count: int, prefix: str = "actor") -> list[Actor]:
    """Several actors, made concurrently."""
    return list(await asyncio.gather(*(make_actor(base, sink, prefix) for _ in range(count))))


async def browse(
    base: str, actor: Actor, recorder: Recorder, stop: asyncio.Event, pause: float = 0.02
) -> None:
    """An actor's traffic until `stop`: reads of their account, organizations and websites, and
    a new website now and then (a write with its own transaction)."""
    async with new_client(base) as client:
        round_ = 0
        while not stop.is_set():
            round_ += 1
            await recorder.send(client, "me", "GET", "/users/me", headers=actor.headers)
            await recorder.send(
                client, "organizations", "GET", "/organizations", headers=actor.headers
            )
            await recorder.send(client, "websites", "GET", "/websites", headers=actor.headers)
            if round_ % 3 == 0:
                host = f"{uuid.uuid4().hex[:12]}.chaos.example"
                await recorder.send(
                    client,
                    "create_website",
                    "POST",
                    f"/organizations/{actor.organization_id}/websites",
                    json={"name": "Site", "url": f"https://{host}/"},
                    headers=actor.headers,
                )
            await asyncio.sleep(pause)


async def register_until(
    base: str, recorder: Recorder, stop: asyncio.Event, registered: list[str], pause: float = 0.05
) -> None:
    """New registrations until `stop`; the addresses answered 202 go to `registered`."""
    async with new_client(base) as client:
        while not stop.is_set():
            email = new_email("reg")
            response = await recorder.send(
                client,
                "register",
                "POST",
                "/auth/register",
                json={"email": email, "password": PASSWORD},
            )
            if response is not None and response.status_code == 202:
                registered.append(email)
            await asyncio.sleep(pause)
