"""Policy history: every applied policy change with its diff, its effect and its reason

Revision ID: 5e1a7c3b9d20
Revises: 8d2b6c4e9f15
Create Date: 2026-11-30 03:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5e1a7c3b9d20"
down_revision: str | None = "8d2b6c4e9f15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("diff", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_changes")),
        sa.UniqueConstraint("version", name=op.f("uq_policy_changes_version")),
    )


def downgrade() -> None:
    op.drop_table("policy_changes")
