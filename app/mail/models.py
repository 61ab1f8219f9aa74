"""The mail outbox: mails are rows written in the transaction of the event that causes them."""

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.db import created_at_column, uuid_pk


class OutboxMail(SQLModel, table=True):
    """A mail to send: template name and sealed context; the sender renders it when it sends.

    `skipped`: an account mail whose address had no account (or, for verification, no
    unverified one) when it was due; nothing was sent. Once a mail is sent, skipped or failed its
    context is emptied.
    """

    __tablename__ = "outbox_mails"
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed', 'skipped')", name="status"),
        sa.Index(
            "ix_outbox_mails_due",
            "next_attempt_at",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        # What the purge job walks: mails that are done, oldest first.
        sa.Index(
            "ix_outbox_mails_done",
            "created_at",
            postgresql_where=sa.text("status <> 'pending'"),
        ),
    )

    id: UUID = uuid_pk()
    recipient: str = Field(sa_column=sa.Column(sa.String(254), nullable=False))
    template: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    context: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONB, nullable=False)
    )
    status: str = Field(default="pending", sa_column=sa.Column(sa.String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    next_attempt_at: datetime = created_at_column()
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    sent_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    created_at: datetime = created_at_column()
