"""The outbox sender: claims due mails, renders and sends them, retries with backoff.

A mail is claimed (`FOR UPDATE SKIP LOCKED`, one row) and leased in a short transaction, sent with
no transaction open, and its outcome recorded in another. Several instances never send the same
row at once; a sender that dies or cannot record the outcome leaves the row to be tried again
when its lease ends (at-least-once delivery: such a mail may arrive twice, with the same
Message-ID), and the attempt count bounds how often. Runs inside the app's lifespan, or
alone as `python -m scripts.send_mail`.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from uuid import UUID

import emails
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.auth.service import account_mail_context
from app.config import DATA_DIR, Settings
from app.mail.models import OutboxMail
from app.mail.sealing import UnreadableContext, unseal
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


# How long a claimed mail is left to its sender before another may try it. Longer than an SMTP
# exchange takes (each socket operation times out after 10 s).
SEND_LEASE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class _Claim:
    id: UUID
    recipient: str
    template: str
    context: dict[str, Any]
    attempts: int


class _GaveUp:
    """A claimed row with nothing to send: no attempts left, a context that cannot be opened,
    or an account mail whose address has no account (marked failed or skipped)."""


EMPTY_CONTEXT: dict[str, Any] = {}
"""What a row keeps once it is sent, skipped or given up: its link and token are not needed
any more, so the database does not hold them."""


class MailSender:
    """Sends what the outbox holds, through SMTP or, without SMTP_HOST, into `.data/mail/`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    def _deliver(self, recipient: str, mail: RenderedMail, mail_id: str) -> None:
        settings = self._settings
        message = emails.html(  # type: ignore[attr-defined]  # emails ships no type hints
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
        """Send up to a batch of due mails; returns how many rows were handled."""
        handled = 0
        while handled < BATCH_SIZE and await self._send_one():
            handled += 1
        return handled

    async def _send_one(self) -> bool:
        claim = await self._claim()
        if claim is None:
            return False
        if isinstance(claim, _GaveUp):
            return True
        try:
            rendered = render(claim.template, claim.context)
            await asyncio.to_thread(self._deliver, claim.recipient, rendered, str(claim.id))
        except Exception as exc:  # noqa: BLE001 - any failure is retried later
            failure = exc
            await self._record_patiently(lambda: self._record_failure(claim, failure))
        else:
            await self._record_patiently(lambda: self._record_sent(claim))
        return True

    async def _record_patiently(self, record: Callable[[], Awaitable[None]]) -> None:
        """Record a send's outcome, trying again while the database cannot be reached.

        The mail has gone (or failed) already: a row left leased would be sent again when its
        lease ends, so a database restart during a send would deliver that mail twice. Tries
        for half the lease at most, so a record that still fails leaves the other half before
        another sender may take the row.
        """
        deadline = time.monotonic() + SEND_LEASE.total_seconds() / 2
        delay = 0.2
        while True:
            try:
                await record()
                return
            except Exception:
                if time.monotonic() + delay >= deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _claim(self) -> "_Claim | _GaveUp | None":
        """Take the oldest due mail for one send: count the attempt and lease the row for
        SEND_LEASE, committed before sending, so no transaction stays open during SMTP and a
        mail whose result cannot be recorded is tried again once the lease ends (at most
        MAIL_MAX_ATTEMPTS times in all)."""
        async with self._sessions() as session, session.begin():
            row = (
                await session.scalars(
                    sa.select(OutboxMail)
                    .where(
                        col(OutboxMail.status) == "pending",
                        col(OutboxMail.next_attempt_at) <= sa.func.now(),
                    )
                    .order_by(col(OutboxMail.next_attempt_at))
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).one_or_none()
            if row is None:
                return None
            if row.attempts >= self._settings.mail_max_attempts:
                # Sent or tried that often without a recorded outcome: stop.
                row.status = "failed"
                row.context = EMPTY_CONTEXT
                row.last_error = row.last_error or "no outcome recorded after every attempt"
                logger.warning("mail %s given up after %s attempts", row.id, row.attempts)
                return _GaveUp()
            try:
                context = unseal(row.context, self._settings.signing_key())
            except UnreadableContext as exc:
                # Queued under another SECRET_KEY: no attempt will ever open it.
                row.status = "failed"
                row.context = EMPTY_CONTEXT
                row.last_error = str(exc)
                logger.warning("mail %s given up: %s", row.id, exc)
                return _GaveUp()
            # An account mail's token is made now, in this transaction: committed with the
            # lease, before the mail leaves.
            prepared = await account_mail_context(
                session, self._settings, row.recipient, row.template, context
            )
            if prepared is None:
                row.status = "skipped"
                row.context = EMPTY_CONTEXT
                return _GaveUp()
            row.attempts += 1
            # Database time throughout: an application clock behind the database's would make a
            # mail due again at once.
            row.next_attempt_at = sa.func.now() + SEND_LEASE  # type: ignore[assignment]  # SQL, run by the database
            return _Claim(row.id, row.recipient, row.template, prepared, row.attempts)

    async def _record_sent(self, claim: "_Claim") -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                sa.update(OutboxMail)
                .where(col(OutboxMail.id) == claim.id)
                .values(status="sent", sent_at=sa.func.now(), context=EMPTY_CONTEXT)
            )

    async def _record_failure(self, claim: "_Claim", exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        gave_up = claim.attempts >= self._settings.mail_max_attempts
        async with self._sessions() as session, session.begin():
            await session.execute(
                sa.update(OutboxMail)
                .where(col(OutboxMail.id) == claim.id)
                .values(
                    status="failed" if gave_up else "pending",
                    # A retry unseals the stored context again (and makes a new token for an
                    # account mail); a mail given up needs it no more.
                    **({"context": EMPTY_CONTEXT} if gave_up else {}),
                    last_error=error,
                    next_attempt_at=sa.func.now()
                    + backoff(claim.attempts, self._settings.mail_max_backoff_seconds),
                )
            )
        logger.warning("mail %s attempt %s failed: %s", claim.id, claim.attempts, error)

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
