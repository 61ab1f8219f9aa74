"""The audit insert of use cases written as statements (see `RequestDatabase.begin`)."""

import json
from typing import Any
from uuid import UUID, uuid4

from app.audit.service import current_actor
from app.db import RequestDatabase, utcnow

_INSERT_EVENT = """
INSERT INTO audit_events
  (id, organization_id, actor_id, action, target_type, target_id, before, after, created_at, actor)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10)
"""


async def insert_event(
    db: RequestDatabase,
    *,
    organization_id: UUID,
    actor_id: UUID | None,
    action: str,
    target_type: str,
    target_id: UUID | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add one audit event in the request's transaction, as `record_event` does in a session's."""
    await db.execute(
        _INSERT_EVENT,
        uuid4(),
        organization_id,
        actor_id,
        action,
        target_type,
        target_id,
        json.dumps(before) if before is not None else None,
        json.dumps(after) if after is not None else None,
        utcnow(),
        current_actor(),
    )
