"""Register, resend and forgot-password run the same statements whether or not the address has
an account, so neither their answers nor their timing tell (`make timing` measures the latter)."""

import contextlib
import re

import pytest
from sqlalchemy import event

from tests.factories import PASSWORD, create_user, unique_email

API = "/api/v1"


@contextlib.contextmanager
def statements_of(app):
    """The SQL statements the app's engine runs inside the block, in order."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        # Savepoint names are numbered per session: the same statement either way.
        seen.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", " ".join(statement.split())))

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


class TestSameStatements:
    @pytest.mark.parametrize("path", ["/auth/verify-email/resend", "/auth/forgot-password"])
    async def test_mail_requests(self, app, client, session, path):
        user = await create_user(session, verified=False)
        with statements_of(app) as known:
            assert (
                await client.post(f"{API}{path}", json={"email": user.email})
            ).status_code == 202
        with statements_of(app) as unknown:
            response = await client.post(f"{API}{path}", json={"email": unique_email("none")})
            assert response.status_code == 202
        assert known
        assert known == unknown

    async def test_register(self, app, client, session):
        taken = await create_user(session)
        with statements_of(app) as for_taken:
            body = {"email": taken.email, "password": PASSWORD}
            assert (await client.post(f"{API}/auth/register", json=body)).status_code == 202
        with statements_of(app) as for_new:
            body = {"email": unique_email("new"), "password": PASSWORD}
            assert (await client.post(f"{API}/auth/register", json=body)).status_code == 202
        assert len(for_taken) > 3
        # The same statements, but for how the savepoint ends (rolled back for a taken address).
        differences = [(a, b) for a, b in zip(for_taken, for_new, strict=True) if a != b]
        assert [(a.split()[0], b.split()[0]) for a, b in differences] == [("ROLLBACK", "RELEASE")]
