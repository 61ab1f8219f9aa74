"""Logins (refresh-token families), refresh tokens and single-use account tokens."""

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import created_at_column, uuid_pk


class LoginSession(SQLModel, table=True):
    """One login: every refresh token rotated from it belongs to it; revoking it ends the login."""

    __tablename__ = "login_sessions"
    # What the purge job walks: ended logins by revocation, logins past any lifetime by age.
    __table_args__ = (
        sa.Index(
            "ix_login_sessions_revoked_at",
            "revoked_at",
            postgresql_where=sa.text("revoked_at IS NOT NULL"),
        ),
        sa.Index("ix_login_sessions_created_at", "created_at"),
    )

    id: UUID = uuid_pk()
    user_id: UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True))
    )
    created_at: datetime = created_at_column()
    # The login and every refresh move it; an access token's use does not (that would be a
    # write on every request), so it is exact to one access-token lifetime.
    last_used_at: datetime = created_at_column()
    user_agent: str | None = Field(default=None, sa_column=sa.Column(sa.String(512)))


class RefreshToken(SQLModel, table=True):
    """A refresh token, stored as a hash; `used_at` marks it rotated."""

    __tablename__ = "refresh_tokens"

    id: UUID = uuid_pk()
    session_id: UUID = Field(
        sa_column=sa.Column(
            sa.Uuid,
            sa.ForeignKey("login_sessions.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    expires_at: datetime = Field(
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, index=True)
    )
    used_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    created_at: datetime = created_at_column()


class AccountToken(SQLModel, table=True):
    """A single-use token mailed to a user: email verification or password reset."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        sa.CheckConstraint("purpose IN ('verify_email', 'reset_password')", name="purpose"),
    )

    id: UUID = uuid_pk()
    user_id: UUID = Field(
        sa_column=sa.Column(
            sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    purpose: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    expires_at: datetime = Field(
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, index=True)
    )
    used_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    created_at: datetime = created_at_column()
