"""Migrations, configuration, logging, and the answers when the database is down."""

import json
import logging
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from alembic.config import Config
from httpx import ASGITransport, AsyncClient

from app.config import ROOT_DIR, Environment, Settings, load_settings
from app.logging import JsonFormatter
from app.main import create_app
from scripts.databases import create_database, drop_database
from tests.conftest import make_settings, server_url
from tests.live import free_port


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT_DIR / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["skip_logging"] = True
    return config


@pytest.fixture
def empty_database():
    import uuid

    url = create_database(server_url(), f"blokid_empty_{uuid.uuid4().hex[:10]}")
    yield url
    drop_database(url)


class TestMigrations:
    def test_models_and_migrations_agree(self, database_url):
        command.check(alembic_config(database_url))

    def test_upgrade_downgrade_upgrade_on_an_empty_database(self, empty_database):
        config = alembic_config(empty_database)
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        command.check(config)

    def test_two_concurrent_upgrades_do_not_collide(self, empty_database):
        def upgrade() -> int:
            return subprocess.run(
                [sys.executable, "-m", "alembic", "upgrade", "head"],
                env={"DATABASE_URL": empty_database, "PATH": "/usr/bin:/bin"},
                cwd=ROOT_DIR,
                capture_output=True,
                timeout=120,
            ).returncode

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: upgrade(), range(2)))
        assert results == [0, 0]
        command.check(alembic_config(empty_database))

    def test_an_upgrade_commits_before_it_releases_the_lock(self, empty_database):
        # The race it prevents is too narrow to hit reliably: a waiting upgrade would read the
        # version row before the first one's commit. So check the order of events instead.
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        events: list[str] = []

        def on_commit(connection):
            events.append("commit")

        def on_execute(connection, cursor, statement, *args):
            events.append("unlock" if "pg_advisory_unlock" in statement else "statement")

        event.listen(Engine, "commit", on_commit)
        event.listen(Engine, "before_cursor_execute", on_execute)
        try:
            command.upgrade(alembic_config(empty_database), "head")
        finally:
            event.remove(Engine, "commit", on_commit)
            event.remove(Engine, "before_cursor_execute", on_execute)
        unlock = events.index("unlock")
        assert "statement" in events[:unlock]
        assert events[unlock - 1] == "commit", events[unlock - 3 : unlock + 2]


class TestSettings:
    def test_production_requires_a_long_secret_and_names_it(self, monkeypatch):
        monkeypatch.setenv("ENVIRONMENT", "production")
        monkeypatch.setenv("SECRET_KEY", "short")
        with pytest.raises(SystemExit, match="SECRET_KEY"):
            load_settings()

    def test_production_requires_an_address_for_mailed_links(self, monkeypatch):
        monkeypatch.setenv("ENVIRONMENT", "production")
        monkeypatch.setenv("SECRET_KEY", "x" * 32)
        monkeypatch.setenv("SMTP_HOST", "mail.example")
        monkeypatch.delenv("PUBLIC_URL", raising=False)
        monkeypatch.delenv("FRONTEND_URL", raising=False)
        with pytest.raises(SystemExit, match="PUBLIC_URL or FRONTEND_URL"):
            load_settings()
        monkeypatch.setenv("FRONTEND_URL", "https://app.example")
        assert load_settings().links_base_url == "https://app.example"

    def test_bad_value_names_the_variable(self, monkeypatch):
        monkeypatch.setenv("PORT", "not-a-port")
        with pytest.raises(SystemExit, match="PORT"):
            load_settings()

    @pytest.mark.parametrize("value", ["two", "0"])
    def test_workers_is_checked_like_every_setting(self, monkeypatch, value):
        monkeypatch.setenv("WORKERS", value)
        with pytest.raises(SystemExit, match="WORKERS"):
            load_settings()

    def test_development_generates_and_keeps_a_key(self):
        settings = Settings(environment=Environment.DEVELOPMENT, secret_key=None)
        assert settings.signing_key() == settings.signing_key()
        assert len(settings.signing_key()) >= 32


class TestLogging:
    def test_json_lines_carry_the_request_fields(self):
        record = logging.LogRecord("app.access", logging.INFO, __file__, 1, "GET / 200", None, None)
        record.method, record.path, record.status, record.request_id = "GET", "/", 200, "abc"
        line = json.loads(JsonFormatter().format(record))
        assert line["request_id"] == "abc"
        assert line["status"] == 200

    async def test_one_access_line_per_request(self, client, caplog):
        with caplog.at_level(logging.INFO, logger="app.access"):
            await client.get("/health", headers={"X-Request-ID": "req-1"})
        lines = [r for r in caplog.records if r.name == "app.access"]
        assert len(lines) == 1
        assert lines[0].request_id == "req-1"
        assert lines[0].status == 200


class TestDatabaseDown:
    async def test_requests_answer_503_with_retry_after(self):
        dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
        application = create_app(make_settings(dead), run_background_tasks=False)
        async with application.router.lifespan_context(application):
            transport = ASGITransport(app=application, raise_app_exceptions=False)
            async with AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.post(
                    "/api/v1/auth/forgot-password", json={"email": "a@example.com"}
                )
                ready = await http.get("/health/ready")
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert response.json()["code"] == "service_unavailable"
        assert ready.status_code == 503


class TestOpenApi:
    async def test_every_operation_has_an_id_and_declares_problem_errors(self, client):
        spec = (await client.get("/openapi.json")).json()
        operation_ids = []
        for path, methods in spec["paths"].items():
            for method, operation in methods.items():
                operation_ids.append(operation["operationId"])
                if path.startswith("/api/v1"):
                    errors = [
                        code for code in operation["responses"] if code.startswith(("4", "5"))
                    ]
                    assert errors, f"{method} {path} declares no error response"
                    for code in errors:
                        assert "application/problem+json" in operation["responses"][code]["content"]
        assert len(operation_ids) == len(set(operation_ids))
        assert all("__" not in op for op in operation_ids)

    async def test_headers_and_limits_the_service_always_applies_are_declared(self, client):
        spec = (await client.get("/openapi.json")).json()
        expected = {"201": "Location", "401": "WWW-Authenticate", "429": "Retry-After"}
        seen = set()
        for path, methods in spec["paths"].items():
            for method, operation in methods.items():
                responses = operation["responses"]
                for code, header in expected.items():
                    if code in responses:
                        seen.add(code)
                        assert responses[code]["headers"][header]["required"], (method, path)
                if "requestBody" in operation:
                    assert "application/problem+json" in responses["413"]["content"], (method, path)
        assert seen == set(expected)

    async def test_bodies_publish_the_rules_they_are_checked_with(self, client):
        schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
        password = schemas["RegisterIn"]["properties"]["password"]
        assert (password["minLength"], password["maxLength"]) == (8, 128)
        assert set(schemas["TokenPair"]["required"]) == {
            "access_token",
            "refresh_token",
            "token_type",
            "expires_in",
        }


class TestTimeZone:
    async def test_timestamps_are_read_in_utc_whatever_the_database_default(self, empty_database):
        import psycopg
        from psycopg import sql
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from app.db import create_engine

        name = make_url(empty_database).database
        with psycopg.connect(empty_database, autocommit=True) as connection:
            connection.execute(
                sql.SQL("ALTER DATABASE {} SET timezone = 'Asia/Kolkata'").format(
                    sql.Identifier(name)
                )
            )
            # Without the engine's setting a new connection reads +05:30 offsets.
        with psycopg.connect(empty_database) as connection:
            local = connection.execute("SELECT now()").fetchone()
        assert local is not None
        assert local[0].utcoffset().total_seconds() == 19800

        engine = create_engine(empty_database, pool_size=1)
        try:
            async with engine.connect() as connection:
                now = await connection.scalar(text("SELECT now()"))
                raw = await connection.get_raw_connection()
                driver_now = await raw.driver_connection.fetchval("SELECT now()")  # type: ignore[union-attr]
                driver_zone = await raw.driver_connection.fetchval("SHOW TimeZone")  # type: ignore[union-attr]
        finally:
            await engine.dispose()
        assert now.utcoffset().total_seconds() == 0
        assert driver_now.utcoffset().total_seconds() == 0
        assert driver_zone == "UTC"

    async def test_the_operators_own_connection_options_are_kept(self, database_url):
        from sqlalchemy import text

        from app.db import create_engine

        separator = "&" if "?" in database_url else "?"
        engine = create_engine(
            f"{database_url}{separator}options=-c%20statement_timeout%3D1234", pool_size=1
        )
        try:
            async with engine.connect() as connection:
                timeout = await connection.scalar(text("SHOW statement_timeout"))
                zone = await connection.scalar(text("SHOW TimeZone"))
                await connection.rollback()
            # A rolled-back first transaction does not undo the session's time zone.
            async with engine.connect() as connection:
                zone_after_rollback = await connection.scalar(text("SHOW TimeZone"))
        finally:
            await engine.dispose()
        assert timeout == "1234ms"
        assert zone == zone_after_rollback == "UTC"
