"""Login sessions remember when they were last used and from what client

`last_used_at` starts at the login and moves on every refresh; `user_agent` is the User-Agent
the login came with (at most 512 characters). Existing logins get their creation time as their
last use.

Revision ID: 3c9e1f0a7d42
Revises: b6f6cd78bc64
Create Date: 2026-11-30 01:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c9e1f0a7d42"
down_revision: str | None = "b6f6cd78bc64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "login_sessions", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE login_sessions SET last_used_at = created_at")
    op.alter_column(
        "login_sessions", "last_used_at", nullable=False, server_default=sa.text("now()")
    )
    op.add_column("login_sessions", sa.Column("user_agent", sa.String(length=512), nullable=True))


def downgrade() -> None:
    op.drop_column("login_sessions", "user_agent")
    op.drop_column("login_sessions", "last_used_at")
