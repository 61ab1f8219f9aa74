"""The website reads of the request path, as SQL run on the request's connection.

Lists are keyset pages in (created_at, id) order. Which roles may read a website comes from the
enforcer (`PolicyEngine.granting_roles`) and is passed in, so a list holds exactly the websites
whose detail answers 200; the statement only turns those roles into two indexed semi-joins.
"""

from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from app.auth.repository import ACCOUNT_COLUMNS, Account
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


def _readable_sql(*, in_organization: bool, after: bool, with_caller: bool) -> str:
    # $1 user, $2 organization roles that grant read, $3 website roles that grant read, $4 limit;
    # then, in this order and only when used: the organization, the caller's login, the cursor's
    # (created_at, id).
    position = 5
    conditions = [
        "(w.organization_id IN (SELECT organization_id FROM organization_memberships"
        " WHERE user_id = $1 AND role = ANY($2::text[]))"
        " OR w.id IN (SELECT website_id FROM website_memberships"
        " WHERE user_id = $1 AND role = ANY($3::text[])))"
    ]
    if in_organization:
        conditions.append(f"w.organization_id = ${position}")
        position += 1
    login = position
    if with_caller:
        position += 1
    if after:
        conditions.append(f"(w.created_at, w.id) > (${position}, ${position + 1})")
    where = " AND ".join(conditions)
    # Fixed fragments only; every value is a bound parameter.
    page = f"""
SELECT w.id, w.organization_id, w.name, w.url, w.created_at, om.role, wm.role
FROM websites AS w
LEFT JOIN organization_memberships AS om
  ON om.organization_id = w.organization_id AND om.user_id = $1
LEFT JOIN website_memberships AS wm ON wm.website_id = w.id AND wm.user_id = $1
WHERE {where}
ORDER BY w.created_at, w.id
LIMIT $4
"""  # noqa: S608
    if not with_caller:
        return page
    # The login check and the page in one round trip: one row per website, each carrying the
    # caller's account (or a single row with no website); no row at all if the login is dead.
    # The page is read only for a verified caller.
    return f"""
SELECT {ACCOUNT_COLUMNS}, page.*
FROM users AS u
JOIN login_sessions AS s ON s.id = ${login} AND s.user_id = u.id AND s.revoked_at IS NULL
LEFT JOIN LATERAL ({page}) AS page ON u.email_verified_at IS NOT NULL
WHERE u.id = $1
ORDER BY page.created_at, page.id
"""  # noqa: S608


_READABLE = {
    (in_organization, after, with_caller): _readable_sql(
        in_organization=in_organization, after=after, with_caller=with_caller
    )
    for in_organization in (False, True)
    for after in (False, True)
    for with_caller in (False, True)
}
_ACCOUNT_WIDTH = len(Account._fields)


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
    statement = _READABLE[(organization_id is not None, after is not None, False)]
    return [ReadableWebsite(*row) for row in await db.fetch(statement, *args)]


async def caller_and_readable_websites(
    db: RequestDatabase,
    user_id: UUID,
    session_id: UUID,
    *,
    org_roles: list[str],
    website_roles: list[str],
    limit: int,
    after: tuple[datetime, UUID] | None = None,
) -> tuple[Account | None, list[ReadableWebsite]]:
    """The caller's account if the login is live, and (for a verified caller) up to `limit`
    websites the user reads through one of the given roles, after `after`: one statement."""
    args: list[object] = [user_id, org_roles, website_roles, limit, session_id]
    if after is not None:
        args.extend(after)
    rows = await db.fetch(_READABLE[(False, after is not None, True)], *args)
    if not rows:
        return None, []
    account = Account(*tuple(rows[0])[:_ACCOUNT_WIDTH])
    websites = [
        ReadableWebsite(*tuple(row)[_ACCOUNT_WIDTH:]) for row in rows if row[_ACCOUNT_WIDTH]
    ]
    return account, websites
