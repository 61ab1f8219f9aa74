"""`python -m scripts.admin`: the admin commands, their audit events (actor `admin-cli`), the
rules they keep, and what a disabled account meets at the API."""

import argparse
import asyncio
import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from httpx import ASGITransport, AsyncClient

from app.admin import service
from app.admin.service import ADMIN_ACTOR, AdminError
from app.audit.models import AuditEvent
from app.audit.repository import insert_event
from app.audit.service import acting_as, record_event
from app.auth.passwords import verify_password
from app.config import Settings
from app.db import create_engine, session_factory
from app.main import create_app
from scripts import admin as cli
from tests.conftest import SessionBoundDatabase, make_settings
from tests.factories import (
    PASSWORD,
    auth_headers,
    create_organization,
    create_user,
    login,
    unique_email,
)

NEW_PASSWORD = "a-long-enough-password-9"


async def events(session, target_id) -> list[AuditEvent]:
    return list(
        (
            await session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.target_id == target_id)
                .order_by(AuditEvent.created_at)
            )
        ).all()
    )


def settings(app) -> Settings:
    return app.state.settings


class TestCreateUser:
    async def test_a_verified_account_with_its_organization_that_can_log_in(
        self, app, client, session
    ):
        email = unique_email()
        with acting_as(ADMIN_ACTOR):
            user = await service.create_user(session, settings(app), email, NEW_PASSWORD)
        await session.commit()
        assert user.email_verified_at is not None
        tokens = await login(client, email, NEW_PASSWORD)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        organizations = (await client.get("/api/v1/organizations", headers=headers)).json()
        assert [o["my_role"] for o in organizations["items"]] == ["admin"]
        recorded = await events(session, user.id)
        assert [(e.action, e.actor, e.actor_id) for e in recorded] == [
            ("user.created", ADMIN_ACTOR, None)
        ]

    async def test_a_taken_address_is_refused(self, app, session):
        user = await create_user(session)
        with pytest.raises(AdminError, match="exists"):
            await service.create_user(session, settings(app), user.email.upper(), NEW_PASSWORD)

    async def test_a_password_the_api_would_refuse_is_refused(self, app, session):
        with pytest.raises(AdminError, match="password refused: .*8 characters"):
            await service.create_user(session, settings(app), unique_email(), "short")

    async def test_not_an_address_is_refused(self, app, session):
        with pytest.raises(AdminError, match="is not an email address"):
            await service.create_user(session, settings(app), "not-an-address", NEW_PASSWORD)


class TestVerifyUser:
    async def test_marks_the_email_verified_and_records_it(self, client, session):
        user = await create_user(session, verified=False)
        with acting_as(ADMIN_ACTOR):
            assert await service.verify_user(session, user.email)
        await session.commit()
        headers = await auth_headers(client, user)
        assert (await client.get("/api/v1/organizations", headers=headers)).status_code == 200
        [event] = await events(session, user.id)
        assert (event.action, event.actor, event.organization_id) == (
            "user.verified",
            ADMIN_ACTOR,
            None,
        )

    async def test_an_already_verified_account_changes_nothing(self, session):
        user = await create_user(session)
        assert not await service.verify_user(session, user.email)
        assert await events(session, user.id) == []

    async def test_an_unknown_account_is_refused(self, session):
        with pytest.raises(AdminError, match="no account with the email"):
            await service.verify_user(session, unique_email())


class TestSetRole:
    async def test_promotes_a_member_and_the_audit_list_names_the_admin_cli(
        self, app, client, session
    ):
        admin, member = await create_user(session), await create_user(session)
        organization = await create_organization(
            session, members=[(admin, "admin"), (member, "user")]
        )
        with acting_as(ADMIN_ACTOR):
            change = await service.set_role(
                session, app.state.policy.get(), organization.id, member.email, "admin"
            )
        await session.commit()
        assert (change.before, change.after) == ("user", "admin")
        headers = await auth_headers(client, admin)
        listed = (
            await client.get(
                f"/api/v1/organizations/{organization.id}/audit-events", headers=headers
            )
        ).json()["items"]
        assert listed[0]["action"] == "organization_member.role_changed"
        assert (listed[0]["actor"], listed[0]["actor_id"]) == (ADMIN_ACTOR, None)
        assert (listed[0]["before"], listed[0]["after"]) == ({"role": "user"}, {"role": "admin"})

    async def test_the_last_admin_cannot_be_demoted(self, app, session):
        admin, member = await create_user(session), await create_user(session)
        organization = await create_organization(
            session, members=[(admin, "admin"), (member, "user")]
        )
        with pytest.raises(AdminError, match="last_admin"):
            await service.set_role(
                session, app.state.policy.get(), organization.id, admin.email, "user"
            )
        assert await events(session, admin.id) == []

    async def test_someone_outside_the_organization_is_refused(self, app, session):
        admin, stranger = await create_user(session), await create_user(session)
        organization = await create_organization(session, members=[(admin, "admin")])
        with pytest.raises(AdminError, match="is not a member"):
            await service.set_role(
                session, app.state.policy.get(), organization.id, stranger.email, "admin"
            )


class TestRevokeSessions:
    async def test_every_login_ends_at_once(self, client, session):
        user = await create_user(session)
        first, second = await auth_headers(client, user), await auth_headers(client, user)
        with acting_as(ADMIN_ACTOR):
            assert await service.revoke_sessions(session, user.email) == 2
        await session.commit()
        for headers in (first, second):
            assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 401
        [event] = await events(session, user.id)
        assert (event.action, event.actor, event.after) == (
            "user.sessions_revoked",
            ADMIN_ACTOR,
            {"sessions_ended": 2},
        )
        # Revoking is not disabling: the owner logs in again.
        await login(client, user.email)


class TestDisableUser:
    async def test_every_login_ends_and_logging_in_is_refused_until_enabled(self, client, session):
        user = await create_user(session)
        tokens = await login(client, user.email)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        with acting_as(ADMIN_ACTOR):
            assert await service.disable_user(session, user.email) == 1
        await session.commit()

        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 401
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 401
        refused = await client.post(
            "/api/v1/auth/login", data={"username": user.email, "password": PASSWORD}
        )
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "account_disabled"
        wrong = await client.post(
            "/api/v1/auth/login", data={"username": user.email, "password": "wrong-password"}
        )
        # A wrong password learns nothing about the account: the usual 401.
        assert wrong.status_code == 401

        with acting_as(ADMIN_ACTOR):
            assert await service.enable_user(session, user.email)
        await session.commit()
        await login(client, user.email)
        assert [(e.action, e.actor) for e in await events(session, user.id)] == [
            ("user.disabled", ADMIN_ACTOR),
            ("user.enabled", ADMIN_ACTOR),
        ]

    async def test_disabling_twice_or_enabling_an_enabled_account_changes_nothing(self, session):
        user = await create_user(session)
        assert await service.disable_user(session, user.email) == 0
        assert await service.disable_user(session, user.email) is None
        assert await service.enable_user(session, user.email)
        assert not await service.enable_user(session, user.email)
        assert len(await events(session, user.id)) == 2


def run_admin(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.admin", *args],
        env={**os.environ, "DATABASE_URL": url},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def scalar(url: str, statement: str, **params):
    async def go():
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                return await connection.scalar(sa.text(statement), params)
        finally:
            await engine.dispose()

    return asyncio.run(go())


class TestTheCommandLine:
    def test_create_user_prints_a_password_that_is_the_accounts(self, scratch_database):
        email = unique_email()
        created = run_admin(scratch_database, "create-user", email)
        assert created.returncode == 0, created.stderr
        password = created.stdout.strip().rsplit(" ", 1)[-1]
        assert len(password) >= 20
        stored = scalar(
            scratch_database, "SELECT hashed_password FROM users WHERE email = :e", e=email
        )
        ok, _ = asyncio.run(verify_password(password, stored))
        assert ok

    def test_create_user_reads_the_password_from_stdin(self, scratch_database):
        email = unique_email()
        created = run_admin(
            scratch_database, "create-user", email, "--password-stdin", stdin=NEW_PASSWORD + "\n"
        )
        assert created.returncode == 0, created.stderr
        assert NEW_PASSWORD not in created.stdout
        stored = scalar(
            scratch_database, "SELECT hashed_password FROM users WHERE email = :e", e=email
        )
        assert asyncio.run(verify_password(NEW_PASSWORD, stored))[0]

    def test_a_refusal_exits_2_with_its_reason_and_no_traceback(self, scratch_database):
        for args in (
            ("disable-user", unique_email()),
            ("set-role", "--org", "00000000-0000-0000-0000-000000000001", unique_email(), "user"),
        ):
            refused = run_admin(scratch_database, *args)
            assert refused.returncode == 2
            assert refused.stderr.startswith("refused: no account with the email")
            assert "Traceback" not in refused.stderr
        assert scalar(scratch_database, "SELECT count(*) FROM audit_events") == 0

    def test_a_bad_role_or_organization_id_is_a_usage_error(self, scratch_database):
        email = unique_email()
        for args in (
            ("set-role", "--org", "not-a-uuid", email, "user"),
            ("set-role", "--org", "00000000-0000-0000-0000-000000000001", email, "owner"),
        ):
            refused = run_admin(scratch_database, *args)
            assert refused.returncode == 2
            assert "Traceback" not in refused.stderr

    def test_a_command_is_one_transaction(self, scratch_database):
        """A command that fails after writing leaves nothing behind: the runner's transaction
        holds every write of the command."""
        email = unique_email()

        async def writes_then_fails(session, settings, args) -> str:
            await service.create_user(session, settings, email, NEW_PASSWORD)
            raise AdminError("stopped after writing")

        status = asyncio.run(
            cli.run(
                scratch_database,
                make_settings(scratch_database),
                writes_then_fails,
                argparse.Namespace(),
            )
        )
        assert status == 2
        assert scalar(scratch_database, "SELECT count(*) FROM users") == 0
        assert scalar(scratch_database, "SELECT count(*) FROM audit_events") == 0

    async def test_a_login_racing_a_disable_is_refused(self, scratch_database):
        """disable-user holds the account's row while a login checks the password: the login
        waits for it and then sees the account disabled, rather than starting a login the
        disable would not end."""
        email = unique_email()
        created = await asyncio.to_thread(
            run_admin,
            scratch_database,
            "create-user",
            email,
            "--password-stdin",
            stdin=NEW_PASSWORD,
        )
        assert created.returncode == 0, created.stderr
        app = create_app(make_settings(scratch_database), run_background_tasks=False)
        engine = create_engine(scratch_database, pool_size=1)
        try:
            async with (
                app.router.lifespan_context(app),
                AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as http,
            ):
                async with session_factory(engine)() as disabling:
                    async with disabling.begin():
                        await service.disable_user(disabling, email)
                        attempt = asyncio.create_task(
                            http.post(
                                "/api/v1/auth/login",
                                data={"username": email, "password": NEW_PASSWORD},
                            )
                        )
                        # Long enough for the password check to finish and the login to wait
                        # on the account's row.
                        await asyncio.sleep(1.0)
                        assert not attempt.done()
                answer = await attempt
        finally:
            await engine.dispose()
        assert answer.status_code == 403
        assert answer.json()["code"] == "account_disabled"


class TestActingAs:
    async def test_both_audit_writers_name_the_actor_only_inside_the_block(self, app, session):
        db = SessionBoundDatabase(app.state.engine, app.state.sessions, session)
        targets = [uuid.uuid4() for _ in range(4)]

        async def record(target, *, raw: bool) -> None:
            fields = {
                "organization_id": uuid.uuid4(),
                "actor_id": None,
                "action": "test.event",
                "target_type": "user",
                "target_id": target,
            }
            if raw:
                await insert_event(db, **fields)
            else:
                await record_event(session, **fields)

        with acting_as(ADMIN_ACTOR):
            await record(targets[0], raw=False)
            await record(targets[1], raw=True)
        await record(targets[2], raw=False)
        await record(targets[3], raw=True)
        actors = [[e.actor for e in await events(session, target)] for target in targets]
        assert actors == [[ADMIN_ACTOR], [ADMIN_ACTOR], [None], [None]]
