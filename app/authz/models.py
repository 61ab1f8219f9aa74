"""The Casbin rule table (policy rows only), the policy version row and the policy history.

Role assignments do not live here: they are the membership tables, read per request. Only the
rows of `policies/` are stored, and a CHECK constraint keeps every value to the identifier
alphabet, because Casbin re-splits rows on commas and chokes on parentheses.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.db import created_at_column

VALUE_PATTERN = "^[a-z0-9_:.-]+$"


class CasbinRule(SQLModel, table=True):
    """One policy line: `p, role, object, action` or `g, role, parent_role, domain_kind`."""

    __tablename__ = "casbin_rule"
    __table_args__ = (
        sa.CheckConstraint("ptype IN ('p', 'g')", name="ptype"),
        *(
            sa.CheckConstraint(f"v{i} IS NULL OR v{i} ~ '{VALUE_PATTERN}'", name=f"v{i}_identifier")
            for i in range(6)
        ),
        sa.UniqueConstraint(
            "ptype", "v0", "v1", "v2", "v3", "v4", "v5", postgresql_nulls_not_distinct=True
        ),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, primary_key=True))
    ptype: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    v0: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))
    v1: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))
    v2: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))
    v3: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))
    v4: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))
    v5: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))


class PolicyVersion(SQLModel, table=True):
    """A single row whose version is bumped by every policy change (the reload backstop)."""

    __tablename__ = "policy_version"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(
        default=1, sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False)
    )
    version: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))
    updated_at: datetime = created_at_column()


class PolicyChange(SQLModel, table=True):
    """One applied policy change: the version it produced, its row diff and the who-may-do-what
    cells it flipped, why it was made, and when (`make policy-history`)."""

    __tablename__ = "policy_changes"

    id: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, primary_key=True))
    version: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, unique=True))
    # {"added": [[ptype, v0, ...]], "removed": [...], "effect": [{role, permission, before, after}]}
    diff: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    created_at: datetime = created_at_column()
