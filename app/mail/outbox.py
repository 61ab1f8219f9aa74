"""Queueing mail: a row in the outbox, in the caller's transaction."""

from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.mail.models import OutboxMail
from app.mail.sealing import seal
from app.mail.templates import TEMPLATES


async def queue_mail(
    session: AsyncSession,
    settings: Settings,
    recipient: str,
    template: str,
    context: dict[str, Any],
) -> None:
    """Add a mail to the outbox, its context sealed (see `app.mail.sealing`); it is sent only
    if the surrounding transaction commits."""
    if template not in TEMPLATES:
        raise KeyError(f"unknown mail template {template!r}")
    await session.execute(
        # Due at once by the database's clock (the column defaults), which the sender reads.
        sa.insert(OutboxMail).values(
            id=uuid4(),
            recipient=recipient,
            template=template,
            context=seal(context, settings.signing_key()),
            status="pending",
            attempts=0,
        )
    )
