"""No usable token at rest: a mailed link's token is in no table, before or after delivery,
and a mail's context is unreadable without SECRET_KEY."""

import asyncio
import json
import uuid

import pytest
import sqlalchemy as sa
from httpx import ASGITransport, AsyncClient

from app.auth.tokens import hash_token
from app.invitations.models import Invitation
from app.mail.models import OutboxMail
from app.mail.sealing import UnreadableContext, seal, unseal
from app.mail.sender import MailSender
from tests.conftest import TEST_SECRET, make_settings
from tests.factories import PASSWORD, token_from_link, unique_email
from tests.smtp import link_in, start_smtp

API = "/api/v1"
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb")


async def columns_holding(app, needle):
    """Every (table, column) of a text or JSON column in which some row contains `needle`."""
    found = []
    async with app.state.sessions() as db:
        columns = (
            await db.execute(
                sa.text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND data_type = ANY(:types)"
                ),
                {"types": list(TEXT_TYPES)},
            )
        ).all()
        assert len(columns) > 20  # the scan sees the whole schema
        for table, column in columns:
            # Names from the catalogue, quoted; the needle is a bound parameter.
            query = f'SELECT count(*) FROM "{table}" WHERE strpos("{column}"::text, :needle) > 0'  # noqa: S608
            if await db.scalar(sa.text(query), {"needle": needle}):
                found.append((table, column))
    return found


@pytest.fixture
async def committed(app):
    """A client whose requests commit for real (the mail sender must see their rows)."""
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def deliver(app, database_url, inbox_port):
    settings = make_settings(database_url, smtp_host="127.0.0.1", smtp_port=inbox_port)
    sender = MailSender(app.state.sessions, settings)
    for _ in range(5):
        await sender.send_due()
        await asyncio.sleep(0.05)


class TestNoTokenAtRest:
    async def test_after_a_reset_mail_is_delivered_no_column_holds_its_token(
        self, app, database_url, committed
    ):
        controller, inbox = start_smtp()
        try:
            email = unique_email("at-rest")
            await committed.post(
                f"{API}/auth/register", json={"email": email, "password": PASSWORD}
            )
            assert (
                await committed.post(f"{API}/auth/forgot-password", json={"email": email})
            ).status_code == 202
            # Waiting in the outbox, the mail's context reads as nothing without the key.
            async with app.state.sessions() as db:
                stored = await db.scalars(
                    sa.select(OutboxMail.context).where(OutboxMail.recipient == email)
                )
                assert all("token" not in json.dumps(context) for context in stored)
            await deliver(app, database_url, controller.port)
            [reset_mail] = [m for m in inbox.to(email) if "Reset" in str(m["Subject"])]
            token = token_from_link(link_in(reset_mail))
            assert await columns_holding(app, token) == []
            # It is the real token: it resets the password.
            reset = await committed.post(
                f"{API}/auth/reset-password", json={"token": token, "password": "brand-new-secret"}
            )
            assert reset.status_code == 204
        finally:
            controller.stop()

    async def test_an_invitation_link_is_sealed_while_it_waits_and_gone_once_sent(
        self, app, database_url, committed
    ):
        controller, inbox = start_smtp()
        try:
            admin_email = unique_email("inviter")
            await committed.post(
                f"{API}/auth/register", json={"email": admin_email, "password": PASSWORD}
            )
            async with app.state.sessions() as db, db.begin():
                await db.execute(
                    sa.text("UPDATE users SET email_verified_at = now() WHERE email = :e"),
                    {"e": admin_email},
                )
            tokens = (
                await committed.post(
                    f"{API}/auth/login", data={"username": admin_email, "password": PASSWORD}
                )
            ).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            org = (await committed.get(f"{API}/organizations", headers=headers)).json()["items"][0]
            invitee = unique_email("invitee")
            created = await committed.post(
                f"{API}/organizations/{org['id']}/invitations",
                json={"email": invitee, "role": "user"},
                headers=headers,
            )
            assert created.status_code == 201
            assert await columns_holding(app, "invitations/accept?token=") == []
            await deliver(app, database_url, controller.port)
            [mail] = inbox.to(invitee)
            token = token_from_link(link_in(mail))
            assert await columns_holding(app, token) == []
            async with app.state.sessions() as db:
                stored_hash = await db.scalar(
                    sa.select(Invitation.token_hash).where(
                        Invitation.id == uuid.UUID(created.json()["id"])
                    )
                )
            assert stored_hash == hash_token(token, TEST_SECRET)  # the real token
        finally:
            controller.stop()


class TestSealing:
    def test_a_sealed_context_opens_only_with_its_key(self):
        context = {"link": "https://x/verify-email?token=abc", "valid_for": "1 hour"}
        sealed = seal(context, TEST_SECRET)
        assert "abc" not in json.dumps(sealed)
        assert unseal(sealed, TEST_SECRET) == context
        with pytest.raises(UnreadableContext):
            unseal(sealed, TEST_SECRET + "-rotated")

    def test_a_context_stored_before_sealing_reads_as_it_is(self):
        legacy = {"link": "https://x/?token=abc"}
        assert unseal(legacy, TEST_SECRET) == legacy
