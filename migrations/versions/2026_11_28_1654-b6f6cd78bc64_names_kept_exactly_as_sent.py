"""Names kept exactly as sent

Organization, website and user names are stored with their surrounding whitespace, and only
their trimmed length is bounded (1 to 100 characters, checked by the API), so the columns become
`text`. From varchar that needs no table rewrite in PostgreSQL. Going back trims the names and
cuts them at 100 characters, which only drops whitespace from names the API accepted.

Revision ID: b6f6cd78bc64
Revises: fd77d9dbb20a
Create Date: 2026-11-28 16:54:26.842456+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b6f6cd78bc64"
down_revision: str | None = "fd77d9dbb20a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_COLUMNS = (
    ("organizations", "name", False),
    ("users", "full_name", True),
    ("websites", "name", False),
)


def upgrade() -> None:
    for table, column, nullable in NAME_COLUMNS:
        op.alter_column(
            table,
            column,
            existing_type=sa.VARCHAR(length=100),
            type_=sa.Text(),
            existing_nullable=nullable,
        )


def downgrade() -> None:
    for table, column, nullable in NAME_COLUMNS:
        op.alter_column(
            table,
            column,
            existing_type=sa.Text(),
            type_=sa.VARCHAR(length=100),
            existing_nullable=nullable,
            postgresql_using=f"left(btrim({column}), 100)",
        )
