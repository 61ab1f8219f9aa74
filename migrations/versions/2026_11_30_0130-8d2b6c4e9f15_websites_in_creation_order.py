"""Websites in creation order, with their organization

`GET /websites` first walks every website in (created_at, id) order and keeps those of the
caller's organizations: with the organization in the index, that walk never reads the table.

Revision ID: 8d2b6c4e9f15
Revises: 3c9e1f0a7d42
Create Date: 2026-11-30 01:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8d2b6c4e9f15"
down_revision: str | None = "3c9e1f0a7d42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_websites_created_at_id",
        "websites",
        ["created_at", "id"],
        postgresql_include=["organization_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_websites_created_at_id", table_name="websites")
