"""The outbox sender: claims due mails, renders and sends them, retries with backoff.

Each row is claimed with `FOR UPDATE SKIP LOCKED` inside a transaction that lasts until it is
marked sent, so several instances never send the same row at once and a crash mid-send leaves the
row pending for the next attempt (at-least-once delivery: a connection lost between sending and
committing re-sends that one mail, with the same Message-ID). Runs inside the app's lifespan, or
alone as `python -m scripts.send_mail`.
"""

import asyncio
import logging
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import emails
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import DATA_DIR, Settings
from app.db import utcnow
from app.mail.models import OutboxMail
from app.mail.templates import RenderedMail, render

logger = logging.getLogger("app.mail")

BATCH_SIZE = 20


def _sender_domain(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "blokid.local"


class DeliveryError(Exception):
    """The SMTP server did not accept the mail."""


def backoff(attempts: int, cap_seconds: float) -> timedelta:
    """Delay before the next attempt: 2, 4, 8, ... seconds, at most `cap_seconds`."""
    return timedelta(seconds=min(cap_seconds, 2 ** min(attempts, 30)))


class MailSender:
    """Sends what the outbox holds, through SMTP or, without SMTP_HOST, into `.data/mail/`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    def _deliver(self, recipient: str, mail: RenderedMail, mail_id: str) -> None:
        settings = self._settings
        message = emails.html(  # type: ignore[attr-defined]
            html=mail.html,
            text=mail.text,
            subject=mail.subject,
            mail_from=settings.emails_from,
            # The outbox row's id: a retried mail keeps its Message-ID, so receivers can
            # recognise a copy they already have.
            message_id=f"<{mail_id}@{_sender_domain(settings.emails_from)}>",
        )
        if not settings.smtp_host:
            folder = DATA_DIR / "mail"
            folder.mkdir(parents=True, exist_ok=True)
            message.set_mail_to(recipient)
            Path(folder / f"{mail_id}.eml").write_text(message.as_string())
            # The .eml body is base64; the .txt beside it is the plain text, for grep and eyes.
            Path(folder / f"{mail_id}.txt").write_text(
                f"To: {recipient}\nSubject: {mail.subject}\n\n{mail.text}"
            )
            logger.info(
                "mail to %s written to %s (no SMTP_HOST)", recipient, folder / f"{mail_id}.txt"
            )
            return
        smtp: dict[str, Any] = {
            "host": settings.smtp_host,
            "port": settings.smtp_port,
            "tls": settings.smtp_tls,
            "ssl": settings.smtp_ssl,
            "timeout": 10,
        }
        if settings.smtp_user:
            smtp["user"] = settings.smtp_user
            smtp["password"] = settings.smtp_password or ""
        response = message.send(to=recipient, smtp=smtp)
        if not response.success:
            raise DeliveryError(f"SMTP status {response.status_code}: {response.error!r}")

    async def send_due(self) -> int:
        """Send up to a batch of due mails; returns how many rows were handled.

        Each mail is claimed, sent and marked in a transaction of its own, so losing the database
        connection mid-batch re-sends at most the one mail that was in flight, not every mail
        sent earlier in the batch.
        """
        handled = 0
        while handled < BATCH_SIZE and await self._send_one():
            handled += 1
        return handled

    async def _send_one(self) -> bool:
        async with self._sessions() as session, session.begin():
            row = (
                await session.scalars(
                    sa.select(OutboxMail)
                    .where(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= sa.func.now())  # type: ignore[arg-type]
                    .order_by(OutboxMail.next_attempt_at)  # type: ignore[arg-type]
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).one_or_none()
            if row is None:
                return False
            try:
                rendered = render(row.template, row.context)
                await asyncio.to_thread(self._deliver, row.recipient, rendered, str(row.id))
            except Exception as exc:  # noqa: BLE001 - any failure is retried later
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                row.next_attempt_at = utcnow() + backoff(
                    row.attempts, self._settings.mail_max_backoff_seconds
                )
                if row.attempts >= self._settings.mail_max_attempts:
                    row.status = "failed"
                logger.warning(
                    "mail %s attempt %s failed: %s", row.id, row.attempts, row.last_error
                )
            else:
                row.status = "sent"
                row.sent_at = utcnow()
                row.attempts += 1
        return True

    async def run(self) -> None:
        """Send forever; sleep briefly when nothing is due; survive database outages."""
        while True:
            try:
                handled = await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep the sender alive through outages
                logger.warning("mail sender error: %s", type(exc).__name__)
                handled = 0
                await asyncio.sleep(1)
            if handled < BATCH_SIZE:
                await asyncio.sleep(self._settings.mail_poll_seconds)
