"""Service behaviour the failure scenarios (`make chaos`) found wanting, pinned by tests that
need no cluster of their own."""

import asyncio
import contextlib
import json

import asyncpg
import psycopg
import sqlalchemy as sa
from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from app.db import Database, TransactionalRoute, create_engine
from app.mail.models import OutboxMail
from app.mail.sealing import seal
from app.mail.sender import MailSender
from app.main import create_app
from tests.conftest import make_settings
from tests.factories import unique_email
from tests.smtp import start_smtp


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


class TestStatementTimeout:
    async def test_connections_carry_the_timeout(self, database_url):
        engine = create_engine(database_url, pool_size=1, statement_timeout=0.25)
        try:
            async with engine.connect() as connection:
                shown = await connection.scalar(sa.text("SHOW statement_timeout"))
            assert shown == "250ms"
        finally:
            await engine.dispose()

    async def test_without_prepared_statements_no_start_up_parameter_is_sent(self, database_url):
        engine = create_engine(
            database_url, pool_size=1, prepared_statements=False, statement_timeout=0.25
        )
        try:
            async with engine.connect() as connection:
                shown = await connection.scalar(sa.text("SHOW statement_timeout"))
            assert shown == "0"
        finally:
            await engine.dispose()

    async def test_a_request_waiting_on_a_locked_row_answers_503(self, database_url):
        router = APIRouter(route_class=TransactionalRoute)

        @router.post("/test-locked-write")
        async def locked_write(db: Database) -> dict[str, str]:
            await db.begin()
            await db.execute("UPDATE policy_version SET version = version WHERE id = 1")
            return {"status": "written"}

        app = app_with(database_url, router, database_statement_timeout_seconds=0.3)
        holder = await asyncpg.connect(database_url)
        try:
            async with served(app) as client:
                transaction = holder.transaction()
                await transaction.start()
                await holder.execute("SELECT 1 FROM policy_version WHERE id = 1 FOR UPDATE")
                try:
                    # Without the timeout this waits for as long as the lock is held: forever.
                    answer = await asyncio.wait_for(client.post("/test-locked-write"), 30)
                finally:
                    await transaction.rollback()
                assert answer.status_code == 503
                assert answer.headers["retry-after"]
                assert answer.json()["code"] == "service_unavailable"
                assert "in time" in answer.json()["detail"]
                assert (await client.post("/test-locked-write")).status_code == 200
        finally:
            await holder.close()


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


class TestMailOutcome:
    async def test_an_outcome_recorded_after_an_outage_sends_the_mail_once(
        self, app, database_url, monkeypatch
    ):
        controller, inbox = start_smtp()
        try:
            address = unique_email("recorded-late")
            settings = make_settings(database_url, smtp_host="127.0.0.1", smtp_port=controller.port)
            # A mail that needs no account: sealed as the outbox stores every context.
            context = seal({"reset_link": "http://x/forgot-password"}, settings.signing_key())
            with psycopg.connect(database_url, autocommit=True) as connection:
                connection.execute(
                    "INSERT INTO outbox_mails (id, recipient, template, context, status, attempts)"
                    " VALUES (gen_random_uuid(), %s, 'account_exists', %s, 'pending', 0)",
                    (address, json.dumps(context)),
                )
            sender = MailSender(app.state.sessions, settings)
            record_sent = sender._record_sent
            failures = []

            async def database_back_after_two_tries(claim):
                if len(failures) < 2:
                    failures.append(claim)
                    raise OSError("database unreachable")
                await record_sent(claim)

            monkeypatch.setattr(sender, "_record_sent", database_back_after_two_tries)
            for _ in range(3):
                await sender.send_due()
            assert len(failures) == 2
            assert [str(m["To"]) for m in inbox.messages].count(address) == 1
            async with app.state.sessions() as db:
                row = await db.scalar(sa.select(OutboxMail).where(OutboxMail.recipient == address))
            assert (row.status, row.attempts) == ("sent", 1)
        finally:
            controller.stop()
