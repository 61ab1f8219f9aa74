"""Service behaviour the failure scenarios (`make chaos`) found wanting, pinned by tests that
need no cluster of their own."""

import contextlib

import asyncpg
from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from app.db import TransactionalRoute
from app.main import create_app
from tests.conftest import make_settings


@contextlib.asynccontextmanager
async def served(app):
    """The app with its lifespan entered, and a client talking to it in process."""
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def app_with(database_url, router, **settings):
    """The real app with `router` added, on its own engine (not the tests' session)."""
    app = create_app(make_settings(database_url, **settings), run_background_tasks=False)
    app.include_router(router)
    return app


class TestServerStartingUp:
    async def test_a_connection_refused_while_the_server_starts_answers_503(self, database_url):
        router = APIRouter(route_class=TransactionalRoute)

        @router.get("/test-starting-up")
        async def starting_up() -> None:
            # How the pool hands out asyncpg's refusal while PostgreSQL starts up (57P03).
            refusal = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
            raise AsyncAdapt_asyncpg_dbapi.Error(str(refusal), refusal) from refusal

        async with served(app_with(database_url, router)) as client:
            answer = await client.get("/test-starting-up")
        assert answer.status_code == 503
        assert answer.headers["retry-after"]
        assert answer.json()["code"] == "service_unavailable"
