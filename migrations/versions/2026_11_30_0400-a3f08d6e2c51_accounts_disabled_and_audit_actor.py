"""Accounts can be disabled; audit events name a non-user actor and may concern no organization

`users.disabled_at` marks an account an admin disabled (logging in is refused until it is
enabled again). `audit_events.actor` names who acted when it is not a user of the API
(`admin-cli`), and `organization_id` becomes optional for events about an account alone
(disabled, enabled, verified, logins revoked).

Revision ID: a3f08d6e2c51
Revises: 5e1a7c3b9d20
Create Date: 2026-11-30 04:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3f08d6e2c51"
down_revision: str | None = "5e1a7c3b9d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("audit_events", sa.Column("actor", sa.String(length=32), nullable=True))
    op.alter_column("audit_events", "organization_id", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    # Events about an account alone have no organization to keep them under.
    op.execute("DELETE FROM audit_events WHERE organization_id IS NULL")
    op.alter_column("audit_events", "organization_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_column("audit_events", "actor")
    op.drop_column("users", "disabled_at")
