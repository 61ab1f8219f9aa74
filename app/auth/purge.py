"""The purge job: deletes what has ended, after a retention period, and nothing still valid.

What goes, each PURGE_RETENTION_DAYS after it stopped mattering:

- refresh tokens past their expiry (a rotated token is kept until then: presenting it again is
  how a stolen token is detected, and that ends its login);
- verification and reset tokens past their expiry (used ones expire within a day anyway);
- logins that ended: revoked, past their absolute lifetime (LOGIN_MAX_DAYS), or whose refresh
  tokens have all expired; their refresh tokens go with them. An access token outlives its
  login's end by at most ACCESS_TOKEN_MINUTES, far less than the retention, so no access token
  that still works loses its login;
- mails that are sent, skipped or given up (their context is already empty).

Every instance runs the job (every PURGE_INTERVAL_SECONDS); several can run it at once: each
batch locks the rows it deletes with `FOR UPDATE SKIP LOCKED`, so instances take disjoint
batches and never wait for one another, and a row deleted twice is simply gone.
"""

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings

logger = logging.getLogger("app.purge")

BATCH_SIZE = 1000

# Each statement deletes one batch of rows that ended more than :retention ago. Plain SQL: the
# conditions are clearer written out than built, and each is served by an index of its own.
_PURGES: dict[str, str] = {
    "refresh_tokens": """
        DELETE FROM refresh_tokens WHERE id IN (
            SELECT id FROM refresh_tokens
            WHERE expires_at < now() - :retention
            LIMIT :batch FOR UPDATE SKIP LOCKED)
    """,
    "account_tokens": """
        DELETE FROM account_tokens WHERE id IN (
            SELECT id FROM account_tokens
            WHERE expires_at < now() - :retention
            LIMIT :batch FOR UPDATE SKIP LOCKED)
    """,
    "login_sessions": """
        DELETE FROM login_sessions WHERE id IN (
            SELECT s.id FROM login_sessions AS s
            WHERE s.revoked_at < now() - :retention
               OR s.created_at < now() - :max_age - :retention
               OR (s.created_at < now() - :retention AND NOT EXISTS (
                    SELECT 1 FROM refresh_tokens AS r
                    WHERE r.session_id = s.id AND r.expires_at >= now() - :retention))
            LIMIT :batch FOR UPDATE SKIP LOCKED)
    """,
    "outbox_mails": """
        DELETE FROM outbox_mails WHERE id IN (
            SELECT id FROM outbox_mails
            WHERE status <> 'pending' AND created_at < now() - :retention
            LIMIT :batch FOR UPDATE SKIP LOCKED)
    """,
}


@dataclass
class Purged:
    """How many rows one run deleted, per table."""

    counts: dict[str, int]


async def purge_once(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> Purged:
    """Delete every row that ended more than PURGE_RETENTION_DAYS ago, batch by batch, each
    batch in a short transaction of its own."""
    values = {
        "retention": timedelta(days=settings.purge_retention_days),
        "max_age": timedelta(days=settings.login_max_days),
        "batch": BATCH_SIZE,
    }
    counts: dict[str, int] = {}
    for table, statement in _PURGES.items():
        counts[table] = 0
        while True:
            async with sessions() as session, session.begin():
                intervals = [
                    sa.bindparam(name, type_=sa.Interval)
                    for name in ("retention", "max_age")
                    if f":{name}" in statement
                ]
                result = await session.execute(sa.text(statement).bindparams(*intervals), values)
            # A DELETE answers a cursor result, which counts the rows it removed.
            deleted = cast(CursorResult[Any], result).rowcount
            counts[table] += deleted
            if deleted < BATCH_SIZE:
                break
    return Purged(counts)


async def run_purges(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Purge forever, every PURGE_INTERVAL_SECONDS (with jitter, so instances started together
    spread out); survive database outages."""
    while True:
        jitter = random.uniform(0.5, 1.0)  # noqa: S311 - spreading instances, not a secret
        await asyncio.sleep(settings.purge_interval_seconds * jitter)
        try:
            purged = await purge_once(sessions, settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the next run tries again
            logger.warning("purge failed: %s", type(exc).__name__)
            continue
        if any(purged.counts.values()):
            logger.info("purged %s", purged.counts)
