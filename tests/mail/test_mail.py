"""The outbox: mails written with the event, sent over real SMTP, retried through an outage."""

import asyncio
import contextlib
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa

from app.auth.service import account_mail_context, forgot_password, queue_verification_mail
from app.invitations.service import invite
from app.mail.models import OutboxMail
from app.mail.outbox import queue_mail
from app.mail.sealing import unseal
from app.mail.sender import MailSender
from app.mail.templates import lifetime_text, render
from tests.conftest import TEST_SECRET, SessionBoundDatabase, make_settings
from tests.factories import (
    create_organization,
    create_user,
    create_website,
    mail_context,
    outbox_for,
    unique_email,
)
from tests.live import free_port
from tests.smtp import link_in, start_smtp


def invitation_context(token):
    """An invitation mail's context (a mail the sender sends as queued, whoever it is to)."""
    return {
        "inviter": "Ann",
        "target": "the organization “Acme”",
        "role": "user",
        "link": f"http://x/invitations/accept?token={token}",
        "valid_for": "7 days",
    }


async def queue_committed(app, recipients):
    async with app.state.sessions() as db, db.begin():
        for recipient in recipients:
            await queue_mail(
                db,
                app.state.settings,
                recipient,
                "invitation",
                invitation_context(f"tok{recipient[:6]}"),
            )


def sender_for(app, database_url, port):
    settings = make_settings(
        database_url, smtp_host="127.0.0.1", smtp_port=port, mail_max_backoff_seconds=0.01
    )
    return MailSender(app.state.sessions, settings)


async def drain(sender, rounds=5):
    for _ in range(rounds):
        await sender.send_due()
        await asyncio.sleep(0.05)


class TestOutbox:
    async def test_mail_is_sent_over_smtp_with_a_token_link(self, app, database_url):
        controller, inbox = start_smtp()
        try:
            address = unique_email("mail")
            await queue_committed(app, [address])
            await drain(sender_for(app, database_url, controller.port))
            [message] = inbox.to(address)
            assert message["Subject"] == "You have been invited to BlokID"
            async with app.state.sessions() as db:
                mail_id = await db.scalar(
                    sa.select(OutboxMail.id).where(OutboxMail.recipient == address)
                )
            # Stable across retries: the outbox row's id, at the sender's domain.
            assert message["Message-ID"] == f"<{mail_id}@blokid.local>"
            assert "token=" in link_in(message)
            assert message.get_body(preferencelist=("html",)) is not None
            async with app.state.sessions() as db:
                status = await db.scalar(
                    sa.select(OutboxMail.status).where(OutboxMail.recipient == address)
                )
            assert status == "sent"
        finally:
            controller.stop()

    async def test_smtp_outage_then_recovery_delivers_everything(self, app, database_url):
        port = free_port()
        addresses = [unique_email("outage") for _ in range(4)]
        await queue_committed(app, addresses)
        sender = sender_for(app, database_url, port)
        await drain(sender, rounds=2)  # SMTP down: every attempt fails and is rescheduled
        async with app.state.sessions() as db:
            rows = (
                await db.scalars(sa.select(OutboxMail).where(OutboxMail.recipient.in_(addresses)))
            ).all()
        assert {r.status for r in rows} == {"pending"}
        assert all(r.attempts >= 1 and r.last_error for r in rows)
        controller, inbox = start_smtp(port)
        try:
            await drain(sender)
            assert sorted(
                str(m["To"]) for m in inbox.messages if str(m["To"]) in addresses
            ) == sorted(addresses)
        finally:
            controller.stop()

    async def test_two_senders_never_send_a_row_twice(self, app, database_url):
        controller, inbox = start_smtp()
        try:
            addresses = [unique_email("pair") for _ in range(30)]
            await queue_committed(app, addresses)
            one = sender_for(app, database_url, controller.port)
            two = sender_for(app, database_url, controller.port)
            for _ in range(4):
                await asyncio.gather(one.send_due(), two.send_due())
            received = [str(m["To"]) for m in inbox.messages if str(m["To"]) in addresses]
            assert sorted(received) == sorted(addresses)
        finally:
            controller.stop()

    async def test_connections_lost_during_a_send_resend_nothing(self, app, database_url):
        controller, inbox = start_smtp()
        try:
            addresses = [unique_email("lost") for _ in range(5)]
            await queue_committed(app, addresses)
            sender = sender_for(app, database_url, controller.port)
            deliver = sender._deliver

            def deliver_and_lose_the_connections(recipient, mail, mail_id):
                deliver(recipient, mail, mail_id)
                if recipient == addresses[2]:
                    # No transaction is open during a send; the pool's connections go.
                    with psycopg.connect(database_url, autocommit=True) as admin:
                        admin.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                            " AND backend_type = 'client backend'"
                        )

            sender._deliver = deliver_and_lose_the_connections  # type: ignore[method-assign]
            for _ in range(3):
                with contextlib.suppress(Exception):  # a lost connection, as `run()` survives it
                    await sender.send_due()
            received = [str(m["To"]) for m in inbox.messages if str(m["To"]) in addresses]
            assert sorted(received) == sorted(addresses)
        finally:
            controller.stop()

    async def test_a_mail_whose_outcome_cannot_be_recorded_is_retried_a_bounded_number_of_times(
        self, app, database_url, monkeypatch
    ):
        controller, inbox = start_smtp()
        try:
            address = unique_email("unrecorded")
            await queue_committed(app, [address])
            sender = MailSender(
                app.state.sessions,
                make_settings(
                    database_url,
                    smtp_host="127.0.0.1",
                    smtp_port=controller.port,
                    mail_max_attempts=3,
                ),
            )

            async def database_gone(claim):
                raise OSError("database unreachable")

            monkeypatch.setattr(sender, "_record_sent", database_gone)
            monkeypatch.setattr("app.mail.sender.SEND_LEASE", timedelta(0))
            for _ in range(6):
                with contextlib.suppress(OSError):
                    await sender.send_due()
            # Sent each time its lease ran out, then given up after the third attempt.
            assert [str(m["To"]) for m in inbox.messages].count(address) == 3
            async with app.state.sessions() as db:
                row = await db.scalar(sa.select(OutboxMail).where(OutboxMail.recipient == address))
            assert (row.status, row.attempts) == ("failed", 3)
        finally:
            controller.stop()

    async def test_a_rolled_back_event_sends_nothing(self, app, database_url):
        address = unique_email("rollback")
        async with app.state.sessions() as db:
            async with db.begin():
                await queue_mail(
                    db, app.state.settings, address, "invitation", invitation_context("a")
                )
                await db.rollback()
        async with app.state.sessions() as db:
            count = await db.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMail)
                .where(OutboxMail.recipient == address)
            )
        assert count == 0

    async def test_registration_mail_text_links_to_the_verify_page(self, client, session):
        address = unique_email("reg")
        await client.post(
            "/api/v1/auth/register", json={"email": address, "password": "tangerine-obelisk-42"}
        )
        mail = await session.scalar(sa.select(OutboxMail).where(OutboxMail.recipient == address))
        context = await mail_context(session, mail)
        assert context["link"].startswith("http://testserver/verify-email?token=")
        rendered = render(mail.template, context)
        assert context["link"] in rendered.text
        assert "\n" not in rendered.subject


class TestContent:
    """What the mails say: the configured lifetimes, and what an invitation is to."""

    @pytest.mark.parametrize(
        ("lifetime", "text"),
        [
            (timedelta(days=7), "7 days"),
            (timedelta(days=1), "1 day"),
            (timedelta(hours=24 * 8 + 1), "193 hours"),
            (timedelta(hours=1), "1 hour"),
            (timedelta(minutes=90), "90 minutes"),
            (timedelta(minutes=1), "1 minute"),
            (timedelta(seconds=30), "less than a minute"),
        ],
    )
    def test_lifetime_text(self, lifetime, text):
        assert lifetime_text(lifetime) == text

    async def test_account_mails_state_the_configured_lifetimes(self, session, database_url):
        settings = make_settings(database_url, verification_token_hours=2, reset_token_minutes=15)
        user = await create_user(session, verified=False)
        await queue_verification_mail(session, settings, user.email)
        await forgot_password(session, settings, email=user.email)
        verify, reset = await outbox_for(session, user.email)
        for mail, words in ((verify, "valid for 2 hours"), (reset, "valid for 15 minutes")):
            context = unseal(mail.context, TEST_SECRET)
            prepared = await account_mail_context(
                session, settings, mail.recipient, mail.template, context
            )
            assert words in render(mail.template, prepared).text

    async def test_invitation_mail_names_what_it_invites_to(self, session, database_url):
        settings = make_settings(database_url, invitation_token_days=3)
        admin = await create_user(session, full_name="Ann Admin")
        org = await create_organization(session, name="Acme <b>", members=[(admin, "admin")])
        website = await create_website(session, org)
        for website_id in (None, website.id):
            await invite(
                SessionBoundDatabase(None, None, session),
                settings,
                organization_id=org.id,
                website_id=website_id,
                email=(address := unique_email("invited")),
                role="user",
                inviter=admin,
            )
            [mail] = await outbox_for(session, address)
            rendered = render(mail.template, await mail_context(session, mail))
            assert "Ann Admin invited you to" in rendered.text
            assert "“Acme <b>”" in rendered.text
            assert "“Acme &lt;b&gt;”" in rendered.html  # user text is escaped in HTML
            assert "valid for 3 days" in rendered.text
            if website_id is not None:
                assert f"the website “{website.name}”" in rendered.text

    def test_a_mail_queued_before_lifetimes_were_mailed_still_renders(self):
        rendered = render("reset_password", {"link": "http://x/reset-password?token=t"})
        assert "valid for" not in rendered.text
        assert "http://x/reset-password?token=t" in rendered.text


class TestLinkBase:
    @pytest.mark.parametrize(
        ("overrides", "base"),
        [
            ({"port": 8601}, "http://127.0.0.1:8601"),
            ({"host": "0.0.0.0", "port": 9000}, "http://127.0.0.1:9000"),  # noqa: S104
            ({"host": "::", "port": 9000}, "http://[::1]:9000"),
            ({"host": "api.internal"}, "http://api.internal:8000"),
            ({"port": 8601, "public_url": "https://api.example.com/"}, "https://api.example.com"),
            (
                {"public_url": "https://api.example.com", "frontend_url": "https://app.example"},
                "https://app.example",
            ),
        ],
    )
    def test_links_point_where_the_service_listens_unless_told_otherwise(
        self, database_url, overrides, base
    ):
        settings = make_settings(database_url, **{"public_url": None, **overrides})
        assert settings.links_base_url == base


class TestWithoutSmtp:
    def test_mail_is_written_as_eml_and_as_readable_text(
        self, app, database_url, tmp_path, monkeypatch
    ):
        import app.mail.sender as sender_module
        from app.mail.templates import render as render_mail

        monkeypatch.setattr(sender_module, "DATA_DIR", tmp_path)
        sender = MailSender(app.state.sessions, make_settings(database_url, smtp_host=None))
        link = "http://x/verify-email?token=readable-token"
        sender._deliver("ann@example.com", render_mail("verify_email", {"link": link}), "m1")
        assert (tmp_path / "mail" / "m1.eml").exists()
        text = (tmp_path / "mail" / "m1.txt").read_text()
        assert text.startswith("To: ann@example.com\nSubject: Confirm your email address\n")
        assert link in text
