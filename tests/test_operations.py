"""What an operator relies on: log lines tied to requests, JSON start-up lines in production,
`make run RELOAD=1`, and the compose file's init process."""

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient

from app.auth.dependencies import CurrentCaller
from app.config import ROOT_DIR
from app.db import TransactionalRoute
from app.logging import JsonFormatter, RequestContextFilter, TextFormatter
from app.main import create_app
from scripts.databases import drop_database
from tests.conftest import TEST_SECRET, SessionBoundDatabase, create_database, make_settings
from tests.factories import create_user, token_for
from tests.live import free_port


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every log line, formatted as production writes them (JSON), collected in a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
async def failing_app(database_url: str, session: Any) -> Any:
    """The app with one more route, authenticated, that fails with an unexpected error; its
    requests run in the test's transaction, like the `client` fixture's."""
    application = create_app(make_settings(database_url), run_background_tasks=False)
    log = logging.getLogger("app.test")
    router = APIRouter(route_class=TransactionalRoute)

    @router.get("/broken")
    async def broken(caller: CurrentCaller) -> None:
        log.info("about to fail")
        raise RuntimeError("the bug a user reports")

    application.include_router(router)

    async with application.router.lifespan_context(application):
        application.state.databases = lambda: SessionBoundDatabase(
            application.state.engine, application.state.sessions, session
        )
        yield application


class TestRequestLogLines:
    async def test_a_500_traceback_carries_the_request_and_user_id_of_its_answer(
        self, failing_app, session, log_lines
    ):
        user = await create_user(session)
        headers = await token_for(session, user)
        transport = ASGITransport(app=failing_app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            answer = await http.get("/broken", headers=headers)
        assert answer.status_code == 500
        request_id = answer.json()["request_id"]

        lines = [line for line in _lines(log_lines) if line.get("request_id") == request_id]
        by_logger = {line["logger"]: line for line in lines}
        # The route's own line, the traceback and the access line: all carry both ids.
        assert set(by_logger) == {"app.test", "app.errors", "app.access"}
        assert "the bug a user reports" in by_logger["app.errors"]["exception"]
        for line in lines:
            assert line["user_id"] == str(user.id), line

    async def test_lines_of_an_anonymous_request_carry_its_request_id(self, client, log_lines):
        await client.get("/api/v1/nope", headers={"X-Request-ID": "trace-me-42"})
        lines = [line for line in _lines(log_lines) if line.get("request_id") == "trace-me-42"]
        assert [line["logger"] for line in lines] == ["app.access"]
        assert "user_id" not in lines[0]

    def test_readable_lines_end_with_the_ids(self):
        record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello", None, None)
        record.request_id, record.user_id = "abc", None
        assert TextFormatter().format(record).endswith("hello request_id=abc user_id=-")
        plain = logging.LogRecord("app", logging.INFO, __file__, 1, "start", None, None)
        assert TextFormatter().format(plain).endswith("app: start")


class TestStartUp:
    @pytest.mark.slow
    def test_production_start_up_lines_are_json(self, tmp_path):
        database_url = create_database("blokid_start")
        port = free_port()
        log_path = tmp_path / "serve.log"
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"LOG_JSON", "SMTP_HOST"}},
            "DATABASE_URL": database_url,
            "ENVIRONMENT": "production",
            "SECRET_KEY": TEST_SECRET,
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PORT": str(port),
            "RATE_LIMIT_ENABLED": "false",
            # Production refuses to start without a mail server unless told to write files.
            "MAIL_TO_FILES": "true",
        }
        try:
            with log_path.open("wb") as log:
                server = subprocess.Popen(
                    [sys.executable, "-m", "scripts.serve"],
                    cwd=ROOT_DIR,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                _wait_ready(f"http://127.0.0.1:{port}", server, log_path)
            finally:
                server.terminate()
                server.wait(timeout=30)
        finally:
            drop_database(database_url)
        raw = [line for line in log_path.read_text().splitlines() if line.strip()]
        lines = [json.loads(line) for line in raw]  # fails on any line that is not JSON
        loggers = {line["logger"] for line in lines}
        assert any(name.startswith("alembic") for name in loggers), loggers
        assert any(line["message"].startswith("policy: ") for line in lines)
        assert any(name.startswith("uvicorn") for name in loggers), loggers

    def test_reload_reaches_uvicorn_in_development(self, monkeypatch):
        import scripts.serve as serve

        calls: list[dict[str, Any]] = []

        monkeypatch.setattr(serve, "prepare", lambda url: None)
        monkeypatch.setattr(serve, "configure_logging", lambda json_lines: None)
        monkeypatch.setattr(serve.uvicorn, "run", lambda *a, **kw: calls.append(kw))
        monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1/unused")
        monkeypatch.setenv("ENVIRONMENT", "development")
        monkeypatch.setenv("RELOAD", "1")
        serve.main()
        assert calls[0]["reload"] is True
        assert calls[0]["reload_dirs"] == [str(ROOT_DIR / "app")]
        monkeypatch.setenv("RELOAD", "0")
        serve.main()
        assert calls[1]["reload"] is False

    @pytest.mark.parametrize(
        "environment",
        [{"ENVIRONMENT": "production"}, {"WORKERS": "2"}],
        ids=["production", "workers"],
    )
    def test_reload_is_refused_where_it_cannot_work(self, monkeypatch, environment):
        from app.config import load_settings

        monkeypatch.setenv("RELOAD", "true")
        monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
        monkeypatch.setenv("PUBLIC_URL", "https://api.example.com")
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        with pytest.raises(SystemExit, match="RELOAD"):
            load_settings()


def _wait_ready(base: str, server: subprocess.Popen[bytes], log_path: Any) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"serve exited with {server.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"serve was not ready in 120 s:\n{log_path.read_text()}")


def test_the_compose_file_runs_the_app_under_an_init_process():
    compose = yaml.safe_load((ROOT_DIR / "docker-compose.yml").read_text())
    assert compose["services"]["app"]["init"] is True
