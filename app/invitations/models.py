"""Invitations: a hashed single-use token, the invited address and the role it grants."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import created_at_column, uuid_pk
from app.memberships.roles import ROLE_CHECK


class InvitationStatus(StrEnum):
    """Where an invitation stands. `expired` is also what a pending one past its expiry shows."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"
    EXPIRED = "expired"


STATUS_CHECK = "status IN ({})".format(", ".join(f"'{status}'" for status in InvitationStatus))


class Invitation(SQLModel, table=True):
    """An invitation to an organization (website_id null) or to one of its websites."""

    __tablename__ = "invitations"
    __table_args__ = (
        sa.CheckConstraint(ROLE_CHECK, name="role"),
        sa.CheckConstraint(STATUS_CHECK, name="status"),
        sa.CheckConstraint("email = lower(email)", name="email_lowercase"),
        # One pending invitation per address and target; the partial indexes make the rule atomic.
        sa.Index(
            "uq_invitations_pending_organization",
            "organization_id",
            "email",
            unique=True,
            postgresql_where=sa.text("status = 'pending' AND website_id IS NULL"),
        ),
        sa.Index(
            "uq_invitations_pending_website",
            "website_id",
            "email",
            unique=True,
            postgresql_where=sa.text("status = 'pending' AND website_id IS NOT NULL"),
        ),
        sa.Index("ix_invitations_email_status", "email", "status"),
        sa.Index(
            "ix_invitations_organization_id_created_at_id", "organization_id", "created_at", "id"
        ),
        sa.Index("ix_invitations_website_id_created_at_id", "website_id", "created_at", "id"),
    )

    id: UUID = uuid_pk()
    organization_id: UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
        )
    )
    website_id: UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid, sa.ForeignKey("websites.id", ondelete="CASCADE")),
    )
    email: str = Field(sa_column=sa.Column(sa.String(254), nullable=False))
    role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    status: str = Field(
        default=InvitationStatus.PENDING, sa_column=sa.Column(sa.String(16), nullable=False)
    )
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    inviter_id: UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid, sa.ForeignKey("users.id", ondelete="SET NULL")),
    )
    expires_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    responded_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True))
    )
    created_at: datetime = created_at_column()
