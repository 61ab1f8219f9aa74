"""The outbox insert of use cases written as statements (see `RequestDatabase.begin`)."""

import json
from typing import Any
from uuid import uuid4

from app.config import Settings
from app.db import RequestDatabase
from app.mail.sealing import seal
from app.mail.templates import TEMPLATES

# Due at once by the database's clock (the column defaults), which the sender reads.
_INSERT_MAIL = """
INSERT INTO outbox_mails (id, recipient, template, context, status, attempts)
VALUES ($1, $2, $3, $4::jsonb, 'pending', 0)
"""


async def insert_mail(
    db: RequestDatabase,
    settings: Settings,
    recipient: str,
    template: str,
    context: dict[str, Any],
) -> None:
    """Add a mail to the outbox in the request's transaction, its context sealed, as
    `queue_mail` does in a session's; it is sent only if the transaction commits."""
    if template not in TEMPLATES:
        raise KeyError(f"unknown mail template {template!r}")
    sealed = seal(context, settings.signing_key())
    await db.execute(_INSERT_MAIL, uuid4(), recipient, template, json.dumps(sealed))
