"""The request path's machinery: reads outside transactions, the pool, token verification."""

import gc
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from fastapi.dependencies.models import Dependant
from httpx import ASGITransport, AsyncClient

from app.auth import tokens
from app.auth.tokens import TokenError, create_access_token, decode_access_token
from app.db import RequestDatabase, create_engine, libpq_url, session_factory
from app.main import create_app
from tests.conftest import TEST_SECRET, api_routes, make_settings
from tests.factories import auth_headers, create_user
from tests.live import free_port

ISSUER, AUDIENCE = "blokid", "blokid-api"


def token_for(lifetime: timedelta, key: str = TEST_SECRET) -> str:
    return create_access_token(
        user_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        key=key,
        issuer=ISSUER,
        audience=AUDIENCE,
        lifetime=lifetime,
    )


class TestAccessTokenVerification:
    def test_a_remembered_token_is_refused_once_it_expires(self, monkeypatch):
        token = token_for(timedelta(minutes=5))
        decode_access_token(token, key=TEST_SECRET, issuer=ISSUER, audience=AUDIENCE)
        later = time.time() + 301
        monkeypatch.setattr(tokens.time, "time", lambda: later)
        with pytest.raises(TokenError):
            decode_access_token(token, key=TEST_SECRET, issuer=ISSUER, audience=AUDIENCE)

    def test_a_remembered_token_is_not_accepted_under_another_key_or_audience(self):
        token = token_for(timedelta(minutes=5))
        decode_access_token(token, key=TEST_SECRET, issuer=ISSUER, audience=AUDIENCE)
        with pytest.raises(TokenError):
            decode_access_token(
                token,
                key="another-key-that-is-long-enough-0123456789",
                issuer=ISSUER,
                audience=AUDIENCE,
            )
        with pytest.raises(TokenError):
            decode_access_token(token, key=TEST_SECRET, issuer=ISSUER, audience="other-api")

    def test_a_refused_token_is_refused_again(self):
        token = token_for(timedelta(minutes=5))[:-2] + "xx"
        for _ in range(2):
            with pytest.raises(TokenError):
                decode_access_token(token, key=TEST_SECRET, issuer=ISSUER, audience=AUDIENCE)

    async def test_a_revoked_login_ends_a_token_the_service_has_seen(self, client, session):
        user = await create_user(session)
        headers = await auth_headers(client, user)
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
        await session.execute(
            sa.text("UPDATE login_sessions SET revoked_at = now() WHERE user_id = :u"),
            {"u": user.id},
        )
        await session.commit()
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 401


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


class TestReadsOutsideTransactions:
    async def test_a_read_gives_its_connection_back_at_once(self, engine):
        database = RequestDatabase(engine, session_factory(engine))
        assert await database.fetchrow("SELECT 1") is not None
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        # ... and runs in autocommit: nothing is left open on the server for it.
        states = await database.fetch(
            "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%'"
        )
        assert states == []

    async def test_reads_after_the_session_began_see_its_writes(self, engine):
        database = RequestDatabase(engine, session_factory(engine))
        try:
            await database.session.execute(sa.text("CREATE TEMP TABLE seen (x int)"))
            await database.session.execute(sa.text("INSERT INTO seen VALUES (7)"))
            row = await database.fetchrow("SELECT x FROM seen")
            assert row is not None
            assert row[0] == 7
        finally:
            await database.rollback()
            await database.close()

    async def test_a_read_on_a_dead_connection_is_retried_on_a_new_one(self, engine, database_url):
        database = RequestDatabase(engine, session_factory(engine))
        before = (await database.fetchrow("SELECT pg_backend_pid()"))[0]  # type: ignore[index]
        # The server ends the pooled connection, as a restart or a network cut would.
        admin = await asyncpg.connect(libpq_url(database_url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", before)
        finally:
            await admin.close()
        after = (await database.fetchrow("SELECT pg_backend_pid()"))[0]  # type: ignore[index]
        assert after != before


class TestDatabaseDownOnTheReadPath:
    async def test_a_guarded_read_answers_503_with_retry_after(self):
        dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
        application = create_app(make_settings(dead), run_background_tasks=False)
        token = token_for(timedelta(minutes=5))
        async with application.router.lifespan_context(application):
            # The policy cannot load without a database; this request must reach the database.
            application.state.policy.current = _any_policy()
            transport = ASGITransport(app=application, raise_app_exceptions=False)
            async with AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.get(
                    f"/api/v1/websites/{uuid.uuid4()}",
                    headers={"Authorization": f"Bearer {token}"},
                )
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert response.json()["code"] == "service_unavailable"


def _any_policy():
    from app.authz.engine import PolicyEngine
    from app.authz.policy import read_policy_file

    return PolicyEngine(read_policy_file())


class TestStartUp:
    async def test_the_start_up_heap_is_kept_out_of_garbage_collections(self, app):
        assert gc.get_freeze_count() > 0


class TestLoginHoldsNoConnectionWhileHashing:
    async def test_the_password_is_checked_with_no_pooled_connection_out(
        self, engine, database_url, monkeypatch
    ):
        from app.auth import service
        from app.errors import Unauthorized

        held: list[int] = []

        async def verify(password, stored_hash):
            held.append(engine.sync_engine.pool.checkedout())
            return False, None

        monkeypatch.setattr(service, "verify_password", verify)
        database = RequestDatabase(engine, session_factory(engine))
        with pytest.raises(Unauthorized):
            await service.login(
                database,
                make_settings(database_url),
                username="nobody@example.com",
                password="whatever-password",
            )
        await database.close()
        assert held == [0]


class TestSessionSettings:
    @pytest.mark.parametrize(
        ("prepared", "plan_mode"), [(True, "force_generic_plan"), (False, "auto")]
    )
    async def test_connections_open_with_the_services_settings(
        self, database_url, prepared, plan_mode
    ):
        engine = create_engine(database_url, pool_size=1, prepared_statements=prepared)
        try:
            database = RequestDatabase(engine, session_factory(engine))
            row = await database.fetchrow(
                "SELECT current_setting('plan_cache_mode'), current_setting('TimeZone')"
            )
        finally:
            await engine.dispose()
        assert row is not None
        assert (row[0], row[1]) == (plan_mode, "UTC")


# Dependencies and endpoints FastAPI runs in its thread pool, each with why that is acceptable.
# Every other one is async: a plain function costs a hand-off to a worker thread and back on every
# request, more than most of them do.
THREAD_POOL_CALLS = {
    # FastAPI's own login form class; a login spends its time hashing the password, not here.
    "OAuth2PasswordRequestForm",
}


def runs_in_thread_pool(call: Any) -> bool:
    """Whether FastAPI runs `call` in its thread pool: a class, a plain function, a plain
    generator, or an instance whose `__call__` is one of those."""
    if inspect.isclass(call):
        return True
    target = call if inspect.isroutine(call) else type(call).__call__
    return not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target))


def thread_pool_calls(dependant: Dependant) -> set[str]:
    """The names of the calls under `dependant` (itself included) that run in the thread pool."""
    found = set()
    if dependant.call is not None and runs_in_thread_pool(dependant.call):
        found.add(getattr(dependant.call, "__name__", type(dependant.call).__name__))
    for dependency in dependant.dependencies:
        found |= thread_pool_calls(dependency)
    return found


class TestNothingWaitsForAThread:
    def test_the_check_tells_a_plain_function_from_an_async_one(self):
        class AsyncGuard:
            async def __call__(self) -> None: ...

        class PlainGuard:
            def __call__(self) -> None: ...

        async def coroutine() -> None: ...

        async def async_generator() -> AsyncIterator[None]:
            yield

        def plain() -> None: ...

        def generator() -> Iterator[None]:
            yield

        assert not any(map(runs_in_thread_pool, [AsyncGuard(), coroutine, async_generator]))
        assert all(map(runs_in_thread_pool, [PlainGuard(), plain, generator, PlainGuard]))

    async def test_every_route_and_dependency_is_async_but_the_listed_ones(self, app):
        found: set[str] = set()
        for route in api_routes(app.routes):
            found |= thread_pool_calls(route.dependant)
        assert found == THREAD_POOL_CALLS
