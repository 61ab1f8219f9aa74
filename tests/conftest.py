"""Test fixtures: a real PostgreSQL database per test worker, migrated by the real migrations.

`TEST_DATABASE_URL` names a server (any database on it; we create our own); unset, an embedded
PostgreSQL (pgserver) in `.data/test-postgres` is started. Each xdist worker creates its own
database, migrates it with Alembic, seeds the policy, and drops it at the end. Each test runs in
an outer transaction that is rolled back at teardown; every request in it gets a savepoint, so
commit and rollback behave as in production.
"""

import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

import app.main as app_main
from app.config import DATA_DIR, Environment, Settings
from app.db import RequestDatabase
from app.errors import ErrorCode
from app.logging import JsonFormatter, TextFormatter
from app.main import create_app
from scripts import databases

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def pytest_configure(config: pytest.Config) -> None:
    """Leave logging to pytest: the apps the tests build do not install their stderr handler.

    With it, lines logged outside a test (migrations while a worker's database is made) sit in
    an xdist worker's captured output and are printed when the worker exits, after pytest's
    summary. pytest's own capture still shows each failing test's log lines.
    """
    app_main.configure_logging = lambda json_lines: None  # type: ignore[assignment]
    # Importing app.main built the default app, which installed the handler already.
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler.formatter, TextFormatter | JsonFormatter):
            root.removeHandler(handler)


_embedded: Any = None


def server_url() -> str:
    """A `postgresql://` URL of the server the tests use."""
    global _embedded
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    from scripts.embedded_postgres import start_embedded

    _embedded, url = start_embedded(DATA_DIR / "test-postgres", "postgres")
    return url


def create_database(prefix: str) -> str:
    """Create a fresh, migrated, policy-seeded database on the test server; returns its URL."""
    url = databases.create_database(server_url(), f"{prefix}_{uuid.uuid4().hex[:10]}")
    databases.prepare(url, quiet=True)
    return url


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A database of the test's own, built like the worker's, whose commits nobody rolls back:
    for code that runs outside the test's transaction (a script, a second connection)."""
    url = create_database("blokid_scratch")
    yield url
    databases.drop_database(url)


@pytest.fixture(scope="session")
def database_url(worker_id: str) -> Iterator[str]:
    """This worker's database, migrated and seeded."""
    url = create_database(f"blokid_test_{worker_id}")
    yield url
    databases.drop_database(url)


class SessionBoundDatabase(RequestDatabase):
    """A request's database that runs everything in the test's session (a savepoint of the
    test's outer transaction): reads included, so they see what the test wrote."""

    def __init__(self, engine: Any, sessions: Any, session: AsyncSession) -> None:
        super().__init__(engine, sessions)
        self._session = session

    def _reads_in_session(self) -> bool:
        return True

    async def begin(self) -> None:
        # The test's savepoint is the request's transaction.
        await self._session.connection()

    async def _write_connection(self) -> Any:
        connection = await self._session.connection()
        return (await connection.get_raw_connection()).driver_connection

    async def close(self) -> None:
        """The test's fixture closes the session at the end of the test."""


def api_routes(routes: Any) -> Iterator[Any]:
    """Every APIRoute of an app's `routes`, descending into included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)
        elif hasattr(route, "dependant"):
            yield route


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for the app under test."""
    values: dict[str, Any] = {
        "environment": Environment.TEST,
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "rate_limit_enabled": False,
        "smtp_host": None,
        "public_url": "http://testserver",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[Any]:
    """The app with its lifespan entered (no background tasks: the tests drive them)."""
    application = create_app(make_settings(database_url), run_background_tasks=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def session(app: Any) -> AsyncIterator[AsyncSession]:
    """The test's outer transaction; every request in the test runs in a savepoint of it."""
    async with app.state.engine.connect() as connection:
        transaction = await connection.begin()
        db = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

        production = app.state.databases
        app.state.databases = lambda: SessionBoundDatabase(app.state.engine, app.state.sessions, db)
        try:
            yield db
        finally:
            app.state.databases = production
            await db.close()
            await transaction.rollback()


async def check_error_code(response: Response) -> None:
    """Fail the test that receives a problem+json answer whose `code` is not an `ErrorCode`."""
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        await response.aread()
        code = response.json().get("code")
        assert code in ErrorCode.__members__.values(), (
            f"{response.request.method} {response.request.url} answered code {code!r}, "
            "which is not in ErrorCode"
        )


@pytest.fixture
async def client(app: Any, session: AsyncSession) -> AsyncIterator[AsyncClient]:
    """An HTTP client talking to the app in process; every error code it receives is checked."""
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(
        transport=transport,
        base_url="http://testserver",
        event_hooks={"response": [check_error_code]},
    ) as http:
        yield http
