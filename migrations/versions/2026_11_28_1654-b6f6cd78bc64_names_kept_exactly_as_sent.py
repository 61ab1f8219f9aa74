"""Names kept exactly as sent

Organization, website and user names are stored with their surrounding whitespace, and only
their trimmed length is bounded (1 to 100 characters, checked by the API), so the columns become
`text`. From varchar that needs no table rewrite in PostgreSQL. Going back trims the names (the
whitespace the API trims, Unicode spaces included) and cuts them at 100 characters, which only
drops surrounding whitespace from names the API accepted.

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


# Whitespace the API trims (Python's str.strip()), as a PostgreSQL regular expression.
_SPACE = r"[[:space:]\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]"
_SURROUNDING_SPACE = f"^{_SPACE}+|{_SPACE}+$"


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
            postgresql_using=f"left(regexp_replace({column}, '{_SURROUNDING_SPACE}', '', 'g'), 100)",
        )
