"""Recording audit events in the transaction of the change they describe."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.db import utcnow

# Built once on the table (not the ORM entity): executing it costs a statement, not the ORM's
# bulk machinery and a fresh cache key on every call.
_INSERT_EVENT = sa.insert(cast(sa.Table, sa.inspect(AuditEvent).local_table))

# Who acts when it is not a user of the API: every event recorded meanwhile names it, those of
# the service functions an admin command calls included.
_acting: ContextVar[str | None] = ContextVar("audit_actor", default=None)


def current_actor() -> str | None:
    """Who acts when it is not a user of the API (set by `acting_as`), else None."""
    return _acting.get()


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Record the events of the block with `actor` (`admin-cli`) as who acted."""
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)


async def record_event(
    session: AsyncSession,
    *,
    organization_id: UUID | None,
    actor_id: UUID | None,
    action: str,
    target_type: str,
    target_id: UUID | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add one audit event; it commits or rolls back with the change itself.

    Inserted at once with a plain INSERT (after the session flushes what it holds, so the rows
    the event refers to exist): the unit of work would cost more than the statement.
    """
    if session.new or session.dirty or session.deleted:
        await session.flush()
    await session.execute(
        _INSERT_EVENT,
        {
            "id": uuid4(),
            "organization_id": organization_id,
            "actor_id": actor_id,
            "actor": _acting.get(),
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "before": before,
            "after": after,
            # The application's clock, as for every other row: events of one transaction keep
            # the order they were recorded in.
            "created_at": utcnow(),
        },
    )
