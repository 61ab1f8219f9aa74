"""The two membership tables, one per level, built alike. A membership row *is* the role
assignment: the enforcer reads it per request as `g(user:<id>, org_<role>, org:<id>)` (or
`website_<role>`, `website:<id>`), so a membership can never exist without its assignment."""

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import created_at_column
from app.memberships.roles import ROLE_CHECK


def _table_args(table: str, scope: str) -> tuple[Any, ...]:
    # The role CHECK, and the index that pages a scope's members oldest first.
    return (
        sa.CheckConstraint(ROLE_CHECK, name="role"),
        sa.Index(f"ix_{table}_{scope}_created_at_user_id", scope, "created_at", "user_id"),
    )


def _scope_id(target: str) -> Any:
    return Field(
        sa_column=sa.Column(sa.Uuid, sa.ForeignKey(target, ondelete="CASCADE"), primary_key=True)
    )


def _user_id() -> Any:
    return Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )


def _role() -> Any:
    return Field(sa_column=sa.Column(sa.String(16), nullable=False))


class OrganizationMembership(SQLModel, table=True):
    """A user's role in an organization (admin or user)."""

    __tablename__ = "organization_memberships"
    __table_args__ = _table_args("organization_memberships", "organization_id")

    organization_id: UUID = _scope_id("organizations.id")
    user_id: UUID = _user_id()
    role: str = _role()
    created_at: datetime = created_at_column()


class WebsiteMembership(SQLModel, table=True):
    """A user's role on one website (admin or user)."""

    __tablename__ = "website_memberships"
    __table_args__ = _table_args("website_memberships", "website_id")

    website_id: UUID = _scope_id("websites.id")
    user_id: UUID = _user_id()
    role: str = _role()
    created_at: datetime = created_at_column()


Membership = OrganizationMembership | WebsiteMembership
