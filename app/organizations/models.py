"""Organizations and organization memberships.

A membership row *is* the role assignment: the enforcer reads it per request as
`g(user:<id>, org_<role>, org:<id>)`, so a membership can never exist without its assignment.
"""

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import created_at_column, uuid_pk

ROLE_CHECK = "role IN ('admin', 'user')"


class Organization(SQLModel, table=True):
    """A tenant: owns websites and has members."""

    __tablename__ = "organizations"

    id: UUID = uuid_pk()
    # Names are kept exactly as sent, surrounding whitespace included, so only their trimmed
    # length is bounded (by validation).
    name: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = created_at_column()
    updated_at: datetime = created_at_column()


class OrganizationMembership(SQLModel, table=True):
    """A user's role in an organization (admin or user)."""

    __tablename__ = "organization_memberships"
    __table_args__ = (
        sa.CheckConstraint(ROLE_CHECK, name="role"),
        sa.Index(
            "ix_organization_memberships_organization_id_created_at_user_id",
            "organization_id",
            "created_at",
            "user_id",
        ),
    )

    organization_id: UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
        )
    )
    user_id: UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )
    role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    created_at: datetime = created_at_column()
