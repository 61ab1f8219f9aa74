"""Organizations: the tenants. Their memberships live in `app.memberships`."""

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import created_at_column, uuid_pk


class Organization(SQLModel, table=True):
    """A tenant: owns websites and has members."""

    __tablename__ = "organizations"

    id: UUID = uuid_pk()
    # Names are kept exactly as sent, surrounding whitespace included, so only their trimmed
    # length is bounded (by validation).
    name: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = created_at_column()
    updated_at: datetime = created_at_column()
