"""Mail contexts sealed and emptied once done; what the purge job walks is indexed

Mails are now queued with their context sealed (encrypted with a key derived from SECRET_KEY)
and emptied once sent, skipped or given up. Rows already done still hold their links in clear,
raw tokens included: they are emptied here (a migration has no SECRET_KEY to seal them with, and
nothing needs them). Pending rows are left as they are: the sender reads an unsealed context and
sends it. `skipped` is the status of an account mail whose address had no account when due.

The purge job deletes what has ended, in batches by these columns: ended mails by creation
time, expired refresh and account tokens by expiry, revoked logins by revocation time.

Revision ID: 5e7a1c3b9d20
Revises: a3f08d6e2c51
Create Date: 2026-11-30 03:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e7a1c3b9d20"
down_revision: str | None = "a3f08d6e2c51"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_outbox_mails_status"), "outbox_mails", type_="check")
    op.create_check_constraint(
        "status", "outbox_mails", "status IN ('pending', 'sent', 'failed', 'skipped')"
    )
    op.execute("UPDATE outbox_mails SET context = '{}'::jsonb WHERE status <> 'pending'")
    op.create_index(
        "ix_outbox_mails_done",
        "outbox_mails",
        ["created_at"],
        postgresql_where=sa.text("status <> 'pending'"),
    )
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"])
    op.create_index("ix_account_tokens_expires_at", "account_tokens", ["expires_at"])
    op.create_index(
        "ix_login_sessions_revoked_at",
        "login_sessions",
        ["revoked_at"],
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
    )
    op.create_index("ix_login_sessions_created_at", "login_sessions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_login_sessions_created_at", table_name="login_sessions")
    op.drop_index("ix_login_sessions_revoked_at", table_name="login_sessions")
    op.drop_index("ix_account_tokens_expires_at", table_name="account_tokens")
    op.drop_index("ix_refresh_tokens_expires_at", table_name="refresh_tokens")
    op.drop_index("ix_outbox_mails_done", table_name="outbox_mails")
    # Nothing was sent for a skipped mail; the older schema has no word for that.
    op.execute("UPDATE outbox_mails SET status = 'failed' WHERE status = 'skipped'")
    op.drop_constraint(op.f("ck_outbox_mails_status"), "outbox_mails", type_="check")
    op.create_check_constraint("status", "outbox_mails", "status IN ('pending', 'sent', 'failed')")
