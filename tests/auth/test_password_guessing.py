"""Failed password checks are counted per account and client network, with a ceiling per
account: strangers cannot lock an owner out, a stolen access token buys no unlimited guesses,
and no request holds a pooled connection while it waits for a hashing slot."""

import asyncio
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from httpx import ASGITransport, AsyncClient

from app.auth import passwords
from app.auth.models import AccountToken
from app.auth.ratelimit import client_network
from app.auth.tokens import hash_token, new_opaque_token
from app.db import utcnow
from app.main import create_app
from app.users.models import User
from tests.conftest import TEST_SECRET, make_settings
from tests.factories import unique_email

API = "/api/v1"
PASSWORD = "tangerine-obelisk-42"


class Service:
    """One app (so one set of in-process counters) reached from chosen client addresses."""

    def __init__(self, application):
        self.app = application

    @asynccontextmanager
    async def client(self, ip):
        transport = ASGITransport(app=self.app, client=(ip, 4321))
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http

    async def call(self, ip, method, path, **kwargs):
        async with self.client(ip) as http:
            return await http.request(method, f"{API}{path}", **kwargs)

    async def login(self, ip, email, password):
        return await self.call(
            ip, "POST", "/auth/login", data={"username": email, "password": password}
        )

    async def account(self, ip="10.250.0.1"):
        email = unique_email("owner")
        registered = await self.call(
            ip, "POST", "/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 202
        return email


@asynccontextmanager
async def service_of(database_url, **overrides):
    settings = make_settings(
        database_url,
        **{
            "rate_limit_enabled": True,
            "rate_limit_login_per_account": 3,
            "rate_limit_login_account_ceiling": 5,
            "rate_limit_login_per_ip": 1000,
            "rate_limit_register_per_ip": 1000,
            **overrides,
        },
    )
    application = create_app(settings, run_background_tasks=False)
    async with application.router.lifespan_context(application):
        yield Service(application)


@pytest.fixture(scope="module")
async def service(database_url):
    # One app for the module: its counters are keyed by addresses and networks each test makes
    # up afresh, so tests cannot see one another's counts.
    async with service_of(database_url) as running:
        yield running


def net(n):
    """An IPv4 client address of its own network."""
    return f"10.{uuid.uuid4().int % 200 + 20}.{n}.7"


class TestClientNetwork:
    @pytest.mark.parametrize(
        ("address", "network"),
        [
            ("203.0.113.9", "203.0.113.9"),
            ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
            ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
            ("2001:DB8:1:3::1", "2001:db8:1:3::/64"),
            ("::ffff:198.51.100.4", "198.51.100.4"),
            ("testclient", "testclient"),
        ],
    )
    def test_ipv4_is_the_address_and_ipv6_its_64(self, address, network):
        assert client_network(address) == network


class TestLoginPerNetwork:
    async def test_strangers_cannot_lock_the_owner_out(self, service):
        email = await service.account()
        stranger = net(1)
        statuses = [
            (await service.login(stranger, email, "wrong-password")).status_code for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        # The owner, from a network that has not failed, gets in.
        assert (await service.login(net(2), email, PASSWORD)).status_code == 200

    async def test_a_network_past_its_limit_waits_even_with_the_right_password(self, service):
        email = await service.account()
        here = net(3)
        for _ in range(3):
            assert (await service.login(here, email, "wrong-password")).status_code == 401
        refused = await service.login(here, email, PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1

    async def test_the_account_ceiling_holds_across_networks(self, service):
        email = await service.account()
        first, second = net(4), net(5)
        assert [(await service.login(first, email, "wrong")).status_code for _ in range(3)] == [
            401
        ] * 3
        assert [(await service.login(second, email, "wrong")).status_code for _ in range(3)] == [
            401,
            401,
            429,
        ]
        # Five failures in all: the account's ceiling; every network now waits.
        assert (await service.login(net(6), email, PASSWORD)).status_code == 429

    async def test_an_ipv6_client_counts_as_its_64(self, service):
        email = await service.account()
        prefix = f"2001:db8:{uuid.uuid4().int % 60000:x}:1"
        statuses = [
            (await service.login(f"{prefix}::{i + 1:x}", email, "wrong-password")).status_code
            for i in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        other = f"2001:db8:{uuid.uuid4().int % 60000:x}:2::1"
        assert (await service.login(other, email, PASSWORD)).status_code == 200

    async def test_a_password_reset_clears_the_counts(self, service):
        email = await service.account()
        for n in (7, 8):
            for _ in range(3):
                await service.login(net(n), email, "wrong-password")
        assert (await service.login(net(9), email, PASSWORD)).status_code == 429
        token = await reset_token_for(service.app, email)
        reset = await service.call(
            net(9),
            "POST",
            "/auth/reset-password",
            json={"token": token, "password": "a-whole-new-one"},
        )
        assert reset.status_code == 204
        assert (await service.login(net(7), email, "a-whole-new-one")).status_code == 200


async def reset_token_for(application, email):
    """A live reset token of the account, written straight into the database."""
    token = new_opaque_token()
    async with application.state.sessions() as db, db.begin():
        user_id = await db.scalar(sa.select(User.id).where(User.email == email))
        db.add(
            AccountToken(
                user_id=user_id,
                purpose="reset_password",
                token_hash=hash_token(token, TEST_SECRET),
                expires_at=utcnow() + timedelta(minutes=30),
            )
        )
    return token


async def bearer(service, email, ip="10.251.0.1"):
    tokens = (await service.login(ip, email, PASSWORD)).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


class TestPasswordChecksBehindAToken:
    async def test_password_change_is_limited_like_login(self, service):
        email = await service.account()
        headers = await bearer(service, email)
        here = net(10)
        wrong = {"current_password": "wrong-password", "new_password": "another-long-one"}
        statuses = [
            (
                await service.call(here, "POST", "/users/me/password", json=wrong, headers=headers)
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [400, 400, 400, 429]
        right = {"current_password": PASSWORD, "new_password": "another-long-one"}
        limited = await service.call(
            here, "POST", "/users/me/password", json=right, headers=headers
        )
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["code"] == "rate_limited"

    async def test_account_deletion_is_limited_like_login(self, service):
        email = await service.account()
        headers = await bearer(service, email)
        here = net(11)
        statuses = [
            (
                await service.call(
                    here,
                    "DELETE",
                    "/users/me",
                    json={"password": "wrong-password"},
                    headers=headers,
                )
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [400, 400, 400, 429]
        # The account is still there: its login still works from elsewhere.
        assert (await service.login(net(12), email, PASSWORD)).status_code == 200

    async def test_guesses_behind_a_token_and_at_login_share_one_count(self, service):
        email = await service.account()
        headers = await bearer(service, email)
        here = net(13)
        wrong = {"current_password": "wrong-password", "new_password": "another-long-one"}
        for _ in range(3):
            await service.call(here, "POST", "/users/me/password", json=wrong, headers=headers)
        assert (await service.login(here, email, "wrong-password")).status_code == 429

    async def test_a_right_password_gives_its_count_back(self, service):
        email = await service.account()
        headers = await bearer(service, email)
        here = net(14)
        body = {"current_password": PASSWORD, "new_password": PASSWORD + "-x"}
        assert (
            await service.call(here, "POST", "/users/me/password", json=body, headers=headers)
        ).status_code == 204
        for _ in range(3):
            assert (await service.login(here, email, "wrong-password")).status_code == 401


class TestNoConnectionHeldWhileWaitingToHash:
    async def test_requests_waiting_for_a_hashing_slot_hold_no_pooled_connection(
        self, database_url
    ):
        async with service_of(
            database_url, password_hash_concurrency=1, database_pool_size=3
        ) as service:
            email = await service.account()
            headers = await bearer(service, email)
            token = await reset_token_for(service.app, email)
            pool = service.app.state.engine.pool
            slots = passwords._semaphore()
            await slots.acquire()
            try:
                waiting = [
                    asyncio.create_task(service.call(net(20), method, path, **kwargs))
                    for method, path, kwargs in (
                        (
                            "POST",
                            "/auth/login",
                            {"data": {"username": email, "password": "wrong-pw"}},
                        ),
                        (
                            "POST",
                            "/auth/register",
                            {"json": {"email": email, "password": PASSWORD}},
                        ),
                        (
                            "POST",
                            "/users/me/password",
                            {
                                "json": {"current_password": "wrong-pw", "new_password": "x" * 12},
                                "headers": headers,
                            },
                        ),
                        (
                            "DELETE",
                            "/users/me",
                            {"json": {"password": "wrong-pw"}, "headers": headers},
                        ),
                        (
                            "POST",
                            "/auth/reset-password",
                            {"json": {"token": token, "password": "y" * 12}},
                        ),
                    )
                ]
                await asyncio.sleep(0.5)
                assert not any(task.done() for task in waiting)
                assert pool.checkedout() == 0
            finally:
                slots.release()
            statuses = [r.status_code for r in await asyncio.gather(*waiting)]
            assert statuses == [401, 202, 400, 400, 204]


class TestPerIpLimitsOnIpv6:
    async def test_addresses_of_one_64_share_the_per_ip_limits(self, database_url):
        async with service_of(database_url, rate_limit_register_per_ip=2) as service:
            prefix = f"2001:db8:{uuid.uuid4().int % 60000:x}:7"

            async def register(ip):
                body = {"email": unique_email("v6"), "password": PASSWORD}
                return (await service.call(ip, "POST", "/auth/register", json=body)).status_code

            assert [await register(f"{prefix}::{i + 1:x}") for i in range(3)] == [202, 202, 429]
            assert await register(f"2001:db8:{uuid.uuid4().int % 60000:x}:8::1") == 202


class TestFailureCountsInRedis:
    async def test_counts_per_network_with_a_ceiling_and_clear(self):
        from redis.asyncio import Redis

        from app.auth.ratelimit import RateLimiter, rate_limit_redis
        from app.errors import RateLimited

        redis: Redis = rate_limit_redis("redis://127.0.0.1:6379/0")
        try:
            await redis.ping()
        except Exception:  # noqa: BLE001 - any failure means no Redis to test against
            await redis.aclose()
            pytest.skip("no Redis on 127.0.0.1:6379")
        try:
            one = RateLimiter(enabled=True, window_seconds=60, redis=redis)
            two = RateLimiter(enabled=True, window_seconds=60, redis=redis)
            account = f"test-failures:{uuid.uuid4().hex}"
            limits = {"per_network": 2, "per_account": 3}
            first = await one.hit_failure(account, "a", **limits)
            assert first is not None
            assert first.in_redis
            await two.hit_failure(account, "a", **limits)
            with pytest.raises(RateLimited):
                await one.hit_failure(account, "a", **limits)  # network a: 2 of 2
            await two.refund(first)
            await one.hit_failure(account, "a", **limits)  # the refund made room
            await one.hit_failure(account, "b", **limits)  # 3 in all: the ceiling
            with pytest.raises(RateLimited):
                await two.hit_failure(account, "c", **limits)
            await two.clear_failures(account)
            await one.hit_failure(account, "a", **limits)
        finally:
            await redis.aclose()
