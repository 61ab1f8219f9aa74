"""The outbox: mails written with the event, sent over real SMTP, retried through an outage."""

import asyncio

import sqlalchemy as sa

from app.mail.models import OutboxMail
from app.mail.outbox import queue_mail
from app.mail.sender import MailSender
from tests.conftest import make_settings
from tests.factories import unique_email
from tests.live import free_port
from tests.smtp import link_in, start_smtp


async def queue_committed(app, recipients):
    async with app.state.sessions() as db, db.begin():
        for recipient in recipients:
            await queue_mail(
                db,
                recipient,
                "verify_email",
                {"link": f"http://x/verify-email?token=tok{recipient[:6]}"},
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
            assert message["Subject"] == "Confirm your email address"
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

    async def test_a_rolled_back_event_sends_nothing(self, app, database_url):
        address = unique_email("rollback")
        async with app.state.sessions() as db:
            async with db.begin():
                await queue_mail(db, address, "verify_email", {"link": "http://x/?token=a"})
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
        assert mail.context["link"].startswith("http://testserver/verify-email?token=")
        from app.mail.templates import render

        rendered = render(mail.template, mail.context)
        assert mail.context["link"] in rendered.text
        assert "\n" not in rendered.subject
