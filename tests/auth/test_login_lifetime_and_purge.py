"""Logins end: an absolute lifetime whatever the refreshes, and a purge job that deletes what
has ended after a retention period, and nothing still valid, even with several running."""

import asyncio
import uuid
from datetime import timedelta

import sqlalchemy as sa
from httpx import ASGITransport, AsyncClient

from app.auth.models import AccountToken, LoginSession, RefreshToken
from app.auth.purge import purge_once
from app.auth.tokens import hash_token, new_opaque_token
from app.db import utcnow
from app.mail.models import OutboxMail
from tests.conftest import TEST_SECRET, make_settings
from tests.factories import create_user, login, unique_email

API = "/api/v1"


async def age_login(session, refresh_token, days):
    """Move the login of this refresh token `days` into the past."""
    session_id = await session.scalar(
        sa.select(RefreshToken.session_id).where(
            RefreshToken.token_hash == hash_token(refresh_token, TEST_SECRET)
        )
    )
    await session.execute(
        sa.update(LoginSession)
        .where(LoginSession.id == session_id)
        .values(created_at=utcnow() - timedelta(days=days))
    )
    await session.commit()
    return session_id


class TestAbsoluteLifetime:
    async def test_a_login_older_than_its_lifetime_cannot_refresh(self, client, session):
        user = await create_user(session)
        tokens = await login(client, user.email)
        await age_login(session, tokens["refresh_token"], 30)
        refreshed = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 401

    async def test_refreshing_never_extends_a_login_past_its_lifetime(self, client, session):
        user = await create_user(session)
        tokens = await login(client, user.email)
        session_id = await age_login(session, tokens["refresh_token"], 29)
        refreshed = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200
        started = await session.scalar(
            sa.select(LoginSession.created_at).where(LoginSession.id == session_id)
        )
        newest = await session.scalar(
            sa.select(RefreshToken.expires_at).where(
                RefreshToken.session_id == session_id, RefreshToken.used_at.is_(None)
            )
        )
        assert newest <= started + timedelta(days=30)
        assert newest < utcnow() + timedelta(days=2)  # not the 14 days of a fresh refresh


def ago(**delta):
    return utcnow() - timedelta(**delta)


def ahead(**delta):
    return utcnow() + timedelta(**delta)


class World:
    """Rows in every state, committed, each named by whether the purge may delete it."""

    def __init__(self):
        self.keep: dict[str, tuple[type, uuid.UUID]] = {}
        self.purge: dict[str, tuple[type, uuid.UUID]] = {}
        self.live_refresh_token = new_opaque_token()

    async def build(self, sessions):
        async with sessions() as db, db.begin():
            user_id = await db.scalar(
                sa.text(
                    "INSERT INTO users (id, email, hashed_password, created_at, updated_at) "
                    "VALUES (gen_random_uuid(), :e, 'x', now(), now()) RETURNING id"
                ),
                {"e": unique_email("purge")},
            )

            def login_row(name, keep, **values):
                row = LoginSession(id=uuid.uuid4(), user_id=user_id, **values)
                db.add(row)
                (self.keep if keep else self.purge)[name] = (LoginSession, row.id)
                return row

            def refresh_row(name, keep, login_id, **values):
                values.setdefault("token_hash", uuid.uuid4().hex + uuid.uuid4().hex)
                row = RefreshToken(id=uuid.uuid4(), session_id=login_id, **values)
                db.add(row)
                (self.keep if keep else self.purge)[name] = (RefreshToken, row.id)

            live = login_row("live login", True)
            await db.flush()
            refresh_row(
                "live refresh token",
                True,
                live.id,
                token_hash=hash_token(self.live_refresh_token, TEST_SECRET),
                expires_at=ahead(days=14),
            )
            # Rotated but not expired: kept so that presenting it again is still detected.
            refresh_row(
                "rotated, unexpired", True, live.id, expires_at=ahead(days=1), used_at=ago(days=20)
            )
            refresh_row("expired long ago", False, live.id, expires_at=ago(days=8))
            refresh_row("expired recently", True, live.id, expires_at=ago(days=1))

            login_row("revoked long ago", False, revoked_at=ago(days=8))
            login_row("revoked recently", True, revoked_at=ago(days=1))
            old = login_row("past its lifetime", False, created_at=ago(days=40))
            idle = login_row("idle, every token expired long ago", False, created_at=ago(days=30))
            idle_recent = login_row("idle, token expired recently", True, created_at=ago(days=15))
            await db.flush()
            refresh_row(
                "token of a login past its lifetime", False, old.id, expires_at=ahead(days=1)
            )
            refresh_row("token of the idle login", False, idle.id, expires_at=ago(days=8))
            refresh_row(
                "token of the recently idle login", True, idle_recent.id, expires_at=ago(days=1)
            )

            for name, keep, expires in (
                ("account token expired long ago", False, ago(days=8)),
                ("account token still valid", True, ahead(hours=1)),
            ):
                row = AccountToken(
                    id=uuid.uuid4(),
                    user_id=user_id,
                    purpose="reset_password",
                    token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
                    expires_at=expires,
                )
                db.add(row)
                (self.keep if keep else self.purge)[name] = (AccountToken, row.id)

            for name, keep, status, created in (
                ("mail sent long ago", False, "sent", ago(days=8)),
                ("mail skipped long ago", False, "skipped", ago(days=8)),
                ("mail sent recently", True, "sent", ago(days=1)),
                ("mail still pending", True, "pending", ago(days=30)),
            ):
                row = OutboxMail(
                    id=uuid.uuid4(),
                    recipient=unique_email("mail"),
                    template="account_exists",
                    context={},
                    status=status,
                    created_at=created,
                )
                db.add(row)
                (self.keep if keep else self.purge)[name] = (OutboxMail, row.id)

    async def remaining(self, sessions, rows):
        async with sessions() as db:
            return {
                name
                for name, (model, row_id) in rows.items()
                if await db.scalar(sa.select(model.id).where(model.id == row_id)) is not None
            }


class TestPurge:
    async def test_ended_rows_go_and_valid_ones_stay_with_two_purges_at_once(self, app):
        world = World()
        await world.build(app.state.sessions)
        settings = make_settings(app.state.settings.database_url)
        await asyncio.gather(
            purge_once(app.state.sessions, settings), purge_once(app.state.sessions, settings)
        )
        assert await world.remaining(app.state.sessions, world.purge) == set()
        assert await world.remaining(app.state.sessions, world.keep) == set(world.keep)
        # What is kept still works: the live login refreshes.
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            refreshed = await http.post(
                f"{API}/auth/refresh", json={"refresh_token": world.live_refresh_token}
            )
        assert refreshed.status_code == 200
