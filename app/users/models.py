"""The users table."""

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import created_at_column, uuid_pk


class User(SQLModel, table=True):
    """A person who can log in. Emails are stored lowercased, so uniqueness is case-insensitive."""

    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint("email = lower(email)", name="email_lowercase"),)

    id: UUID = uuid_pk()
    email: str = Field(sa_column=sa.Column(sa.String(254), nullable=False, unique=True))
    hashed_password: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    # Kept exactly as sent; validation bounds its trimmed length.
    full_name: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    email_verified_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True))
    )
    # Set by `python -m scripts.admin disable-user`: logging in is refused until it is cleared.
    disabled_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True))
    )
    created_at: datetime = created_at_column()
    updated_at: datetime = created_at_column()
