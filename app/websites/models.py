"""Websites of organizations. Their memberships live in `app.memberships`."""

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import created_at_column, uuid_pk


class Website(SQLModel, table=True):
    """A website of an organization; its normalized host is unique within the organization."""

    __tablename__ = "websites"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "host"),
        # Keyset pages of an organization's websites.
        sa.Index(
            "ix_websites_organization_id_created_at_id", "organization_id", "created_at", "id"
        ),
        # Every website in creation order, for the first pass of `GET /websites`.
        sa.Index(
            "ix_websites_created_at_id",
            "created_at",
            "id",
            postgresql_include=["organization_id"],
        ),
    )

    id: UUID = uuid_pk()
    organization_id: UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
        )
    )
    # Names are kept exactly as sent, surrounding whitespace included, so only their trimmed
    # length is bounded (by validation).
    name: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    url: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    host: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    created_at: datetime = created_at_column()
    updated_at: datetime = created_at_column()
