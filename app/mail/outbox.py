"""Queueing mail: a row in the outbox, in the caller's transaction."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.mail.models import OutboxMail
from app.mail.templates import TEMPLATES


async def queue_mail(
    session: AsyncSession, recipient: str, template: str, context: dict[str, Any]
) -> None:
    """Add a mail to the outbox; it is sent only if the surrounding transaction commits."""
    if template not in TEMPLATES:
        raise KeyError(f"unknown mail template {template!r}")
    session.add(OutboxMail(recipient=recipient, template=template, context=context))
    await session.flush()
