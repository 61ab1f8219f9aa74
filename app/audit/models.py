"""The audit events table.

`organization_id` is deliberately not a foreign key: the event that records an organization's
deletion must outlive the organization. It is null for an event about an account alone (an
account disabled by an admin). `actor` names who acted when it is not a user of the API
(`admin-cli`); `actor_id` names the user who acted through the API.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.db import created_at_column, uuid_pk


class AuditEvent(SQLModel, table=True):
    """One change: actor, action, target, organization, before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index(
            "ix_audit_events_organization_id_created_at_id", "organization_id", "created_at", "id"
        ),
    )

    id: UUID = uuid_pk()
    organization_id: UUID | None = Field(default=None, sa_column=sa.Column(sa.Uuid))
    actor_id: UUID | None = Field(default=None, sa_column=sa.Column(sa.Uuid))
    actor: str | None = Field(default=None, sa_column=sa.Column(sa.String(32)))
    action: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    target_type: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    target_id: UUID | None = Field(default=None, sa_column=sa.Column(sa.Uuid))
    before: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB))
    after: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB))
    created_at: datetime = created_at_column()
