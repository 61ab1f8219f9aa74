"""The website reads of the request path, as SQL run on the request's connection.

Lists are keyset pages in (created_at, id) order. Which roles may read a website comes from the
enforcer (`PolicyEngine.granting_roles`) and is passed in, so a list holds exactly the websites
whose detail answers 200; the statement only turns those roles into two indexed semi-joins.
"""

from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from app.db import RequestDatabase


class ReadableWebsite(NamedTuple):
    """A website with the caller's organization role and website role on it."""

    id: UUID
    organization_id: UUID
    name: str
    url: str
    created_at: datetime
    org_role: str | None
    website_role: str | None


def _readable_sql(*, in_organization: bool, after: bool) -> str:
    # $1 user, $2 organization roles that grant read, $3 website roles that grant read, $4 limit,
    # then the organization ($5) and the cursor position (last two).
    conditions = [
        "(w.organization_id IN (SELECT organization_id FROM organization_memberships"
        " WHERE user_id = $1 AND role = ANY($2::text[]))"
        " OR w.id IN (SELECT website_id FROM website_memberships"
        " WHERE user_id = $1 AND role = ANY($3::text[])))"
    ]
    position = 5
    if in_organization:
        conditions.append(f"w.organization_id = ${position}")
        position += 1
    if after:
        conditions.append(f"(w.created_at, w.id) > (${position}, ${position + 1})")
    where = " AND ".join(conditions)
    # Fixed fragments only; every value is a bound parameter.
    return f"""
SELECT w.id, w.organization_id, w.name, w.url, w.created_at, om.role, wm.role
FROM websites AS w
LEFT JOIN organization_memberships AS om
  ON om.organization_id = w.organization_id AND om.user_id = $1
LEFT JOIN website_memberships AS wm ON wm.website_id = w.id AND wm.user_id = $1
WHERE {where}
ORDER BY w.created_at, w.id
LIMIT $4
"""  # noqa: S608


_READABLE = {
    (in_organization, after): _readable_sql(in_organization=in_organization, after=after)
    for in_organization in (False, True)
    for after in (False, True)
}


async def readable_websites(
    db: RequestDatabase,
    user_id: UUID,
    *,
    org_roles: list[str],
    website_roles: list[str],
    limit: int,
    after: tuple[datetime, UUID] | None = None,
    organization_id: UUID | None = None,
) -> list[ReadableWebsite]:
    """Up to `limit` websites the user reads through one of the given roles, after `after`."""
    args: list[object] = [user_id, org_roles, website_roles, limit]
    if organization_id is not None:
        args.append(organization_id)
    if after is not None:
        args.extend(after)
    statement = _READABLE[(organization_id is not None, after is not None)]
    return [ReadableWebsite(*row) for row in await db.fetch(statement, *args)]
