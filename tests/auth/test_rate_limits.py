"""Rate limits: 429 with Retry-After; shared through Redis; in-process when Redis is gone."""

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from contextlib import asynccontextmanager

import pytest
from httpx import ASGITransport, AsyncClient
from redis.asyncio import Redis

from app.auth.ratelimit import RateLimiter, rate_limit_redis
from app.errors import RateLimited
from app.main import create_app
from tests.conftest import make_settings
from tests.factories import unique_email
from tests.live import free_port


@asynccontextmanager
async def client_of(database_url, client_ip, **overrides):
    settings = make_settings(
        database_url,
        **{
            "rate_limit_enabled": True,
            "rate_limit_login_per_account": 3,
            "rate_limit_login_per_ip": 1000,
            "rate_limit_register_per_ip": 2,
            "rate_limit_mail_per_account": 2,
            **overrides,
        },
    )
    application = create_app(settings, run_background_tasks=False)
    async with application.router.lifespan_context(application):
        transport = ASGITransport(app=application, client=(client_ip, 1234))
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def limited_client(database_url):
    async with client_of(database_url, f"10.9.{uuid.uuid4().int % 250}.1") as http:
        yield http


class TestHttpLimits:
    async def test_login_per_account_answers_429_with_retry_after(self, limited_client):
        email = unique_email("limited")
        statuses = [
            (
                await limited_client.post(
                    "/api/v1/auth/login", data={"username": email, "password": "wrong-password"}
                )
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        response = await limited_client.post(
            "/api/v1/auth/login", data={"username": email.upper(), "password": "x"}
        )
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["code"] == "rate_limited"

    async def test_spelling_variants_of_an_address_share_one_counter(self, limited_client):
        local = f"victim{uuid.uuid4().hex[:6]}"
        variants = [
            f"{local}@example.com",
            f"{local.upper()}@example.com",
            f"{local}@ｅxample.com",
            f"{local}@example。com",
        ]
        statuses = [
            (
                await limited_client.post(
                    "/api/v1/auth/login", data={"username": v, "password": "wrong-password"}
                )
            ).status_code
            for v in variants
        ]
        assert statuses == [401, 401, 401, 429]

    async def test_only_failed_logins_count(self, limited_client):
        email = unique_email("often")
        password = "tangerine-obelisk-42"
        await limited_client.post(
            "/api/v1/auth/register", json={"email": email, "password": password}
        )
        good = {"username": email, "password": password}
        bad = {"username": email, "password": "wrong-password"}
        for _ in range(6):  # twice the limit, all successful
            assert (await limited_client.post("/api/v1/auth/login", data=good)).status_code == 200
        for _ in range(3):
            assert (await limited_client.post("/api/v1/auth/login", data=bad)).status_code == 401
        # Past the limit even the right password waits for the window to end.
        assert (await limited_client.post("/api/v1/auth/login", data=good)).status_code == 429

    async def test_concurrent_wrong_passwords_cannot_all_pass(self, limited_client):
        # Each attempt is counted before the password is checked, so a burst is cut at the limit.
        email = unique_email("burst")
        responses = await asyncio.gather(
            *(
                limited_client.post(
                    "/api/v1/auth/login", data={"username": email, "password": "wrong-password"}
                )
                for _ in range(10)
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [401] * 3 + [429] * 7

    async def test_concurrent_right_passwords_never_lock_the_account(self, limited_client):
        email = unique_email("storm")
        password = "tangerine-obelisk-42"
        await limited_client.post(
            "/api/v1/auth/register", json={"email": email, "password": password}
        )
        good = {"username": email, "password": password}
        burst = await asyncio.gather(
            *(limited_client.post("/api/v1/auth/login", data=good) for _ in range(8))
        )
        # A burst over the limit may be refused in part, but what was refused is not counted
        # and what succeeded gave its count back: the next login goes through.
        assert {r.status_code for r in burst} <= {200, 429}
        assert (await limited_client.post("/api/v1/auth/login", data=good)).status_code == 200

    async def test_an_attempt_refused_for_its_account_gives_back_its_ip_count(self, database_url):
        async with client_of(
            database_url,
            f"10.8.{uuid.uuid4().int % 250}.1",
            rate_limit_login_per_ip=3,
            rate_limit_login_per_account=1,
        ) as http:

            async def wrong(email):
                return (
                    await http.post(
                        "/api/v1/auth/login", data={"username": email, "password": "wrong-pw"}
                    )
                ).status_code

            locked = unique_email("locked")
            assert await wrong(locked) == 401
            assert [await wrong(locked) for _ in range(5)] == [429] * 5  # refused by account
            # Those five never ran: the address has used 1 of its 3 failures, not 6.
            assert [await wrong(unique_email("other")) for _ in range(3)] == [401, 401, 429]

    async def test_an_outage_during_login_gives_the_counts_back(self, limited_client, monkeypatch):
        from sqlalchemy.exc import OperationalError

        from app.auth import service

        async def database_down(*args, **kwargs):
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError())

        email = unique_email("outage")
        bad = {"username": email, "password": "wrong-password"}
        with monkeypatch.context() as patch:
            patch.setattr(service, "login", database_down)
            outages = [
                (await limited_client.post("/api/v1/auth/login", data=bad)).status_code
                for _ in range(5)
            ]
        assert outages == [503] * 5
        statuses = [
            (await limited_client.post("/api/v1/auth/login", data=bad)).status_code
            for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]

    async def test_per_ip_limits_skip_exempt_addresses(self, database_url):
        async def registrations(client_ip, **overrides):
            async with client_of(database_url, client_ip, **overrides) as http:
                return [
                    (
                        await http.post(
                            "/api/v1/auth/register",
                            json={"email": unique_email("ip"), "password": "tangerine-obelisk-42"},
                        )
                    ).status_code
                    for _ in range(4)
                ]

        assert await registrations("127.0.0.1") == [202] * 4  # loopback: exempt by default
        assert await registrations("::1") == [202] * 4
        assert await registrations("127.0.0.1", rate_limit_exempt_ips="") == [202, 202, 429, 429]
        assert (
            await registrations("10.1.2.3", rate_limit_exempt_ips="10.1.2.3, 10.1.2.4") == [202] * 4
        )

    async def test_forgot_password_per_account(self, limited_client):
        email = unique_email("forgot")
        statuses = [
            (
                await limited_client.post("/api/v1/auth/forgot-password", json={"email": email})
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [202, 202, 429]


@pytest.fixture
async def shared_redis():
    redis = rate_limit_redis("redis://127.0.0.1:6379/0")
    try:
        await redis.ping()
    except Exception:  # noqa: BLE001 - any failure means no Redis to test against
        await redis.aclose()
        pytest.skip("no Redis on 127.0.0.1:6379")
    yield redis
    await redis.aclose()


class TestRedisCounters:
    async def test_a_refund_undoes_its_own_window_only(self, shared_redis, monkeypatch):
        limiter = RateLimiter(enabled=True, window_seconds=60, redis=shared_redis)
        key = f"test:{uuid.uuid4().hex}"
        clock = [6000.0 * 60 + 59.9]  # the last moment of a window
        monkeypatch.setattr("app.auth.ratelimit.time.time", lambda: clock[0])
        hit = await limiter.hit(key, 1)
        assert hit is not None
        for _ in range(5):
            with pytest.raises(RateLimited):
                await limiter.hit(key, 1)  # refused: not counted
        clock[0] += 0.2  # the next window
        await limiter.refund(hit)  # lands in the window the hit was counted in
        await limiter.hit(key, 1)
        with pytest.raises(RateLimited):
            await limiter.hit(key, 1)  # one per window: no credit carried over
        assert int(await shared_redis.get(hit.window_key)) == 0

    async def test_a_refund_never_goes_below_zero(self, shared_redis):
        limiter = RateLimiter(enabled=True, window_seconds=60, redis=shared_redis)
        key = f"test:{uuid.uuid4().hex}"
        hit = await limiter.hit(key, 1)
        for _ in range(3):
            await limiter.refund(hit)
        assert int(await shared_redis.get(hit.window_key)) == 0
        await limiter.hit(key, 1)
        with pytest.raises(RateLimited):
            await limiter.hit(key, 1)


class TestLimiter:
    async def test_counts_are_shared_between_instances_through_redis(self, shared_redis):
        key = f"test:{uuid.uuid4().hex}"
        one = RateLimiter(
            enabled=True, window_seconds=60, redis=Redis.from_url("redis://127.0.0.1:6379/0")
        )
        two = RateLimiter(
            enabled=True, window_seconds=60, redis=Redis.from_url("redis://127.0.0.1:6379/0")
        )
        try:
            await one.hit(key, 2)
            await two.hit(key, 2)
            with pytest.raises(RateLimited):
                await one.hit(key, 2)
        finally:
            await one.redis.aclose()
            await two.redis.aclose()

    async def test_unreachable_redis_falls_back_to_process_counters(self):
        dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
        limiter = RateLimiter(enabled=True, window_seconds=60, redis=dead)
        await limiter.hit("k", 2)
        await limiter.hit("k", 2)
        with pytest.raises(RateLimited):
            await limiter.hit("k", 2)
        await dead.aclose()

    async def test_a_refused_hit_is_not_counted(self):
        limiter = RateLimiter(enabled=True, window_seconds=60)
        hit = await limiter.hit("k", 1)
        for _ in range(3):
            with pytest.raises(RateLimited):
                await limiter.hit("k", 1)
        await limiter.refund(hit)  # the one let through gives its hit back
        await limiter.hit("k", 1)

    async def test_a_refunded_hit_does_not_count(self):
        limiter = RateLimiter(enabled=True, window_seconds=60)
        for _ in range(5):
            await limiter.refund(await limiter.hit("k", 2))
        await limiter.hit("k", 2)
        await limiter.hit("k", 2)
        with pytest.raises(RateLimited):
            await limiter.hit("k", 2)
        for _ in range(3):
            assert await limiter.hit(None, 1) is None  # an exempt client is never counted

    async def test_disabled_limiter_never_refuses(self):
        limiter = RateLimiter(enabled=False, window_seconds=60)
        for _ in range(10):
            await limiter.hit("k", 1)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
class TestRedisRestart:
    async def test_the_first_hit_after_a_restart_still_counts_in_redis(self, tmp_path):
        port = free_port()
        command = ["redis-server", "--port", str(port), "--save", "", "--dir", str(tmp_path)]

        def start() -> subprocess.Popen[bytes]:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            for _ in range(100):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    return process
                time.sleep(0.05)
            raise RuntimeError("redis-server did not start")

        server = start()
        redis = rate_limit_redis(f"redis://127.0.0.1:{port}/0")
        limiter = RateLimiter(enabled=True, window_seconds=60, redis=redis)
        try:
            await limiter.hit("k", 10)  # opens the pooled connection
            server.terminate()
            server.wait(timeout=10)
            server = start()  # a new, empty Redis: the pooled connection is dead
            await limiter.hit("k", 10)
            keys = [key async for key in redis.scan_iter("ratelimit:k:*")]
            # Counted in the restarted Redis, not in the process after a failed first command.
            assert len(keys) == 1
            assert int(await redis.get(keys[0])) == 1
        finally:
            await redis.aclose()
            server.terminate()
            server.wait(timeout=10)
