"""The website reads of the request path, as SQL run on the request's connection.

Lists are keyset pages in (created_at, id) order. Which roles may read a website comes from the
enforcer (`PolicyEngine.granting_roles`) and is passed in, so a list holds exactly the websites
whose detail answers 200; the statements only turn those roles into filters on the memberships.
"""

from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from app.auth.repository import ACCOUNT_COLUMNS, Account, split_account
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


def _organization_page_sql(*, after: bool) -> str:
    # $1 user, $2 organization roles that grant read, $3 website roles that grant read, $4 limit,
    # $5 organization, then the cursor's (created_at, id). The organization's index
    # (organization_id, created_at, id) gives the page in order, whatever the table's size.
    keyset = "AND (w.created_at, w.id) > ($6, $7)" if after else ""
    return f"""
SELECT w.id, w.organization_id, w.name, w.url, w.created_at, om.role, wm.role
FROM websites AS w
LEFT JOIN organization_memberships AS om
  ON om.organization_id = w.organization_id AND om.user_id = $1
LEFT JOIN website_memberships AS wm ON wm.website_id = w.id AND wm.user_id = $1
WHERE w.organization_id = $5 {keyset}
  AND (om.role = ANY($2::text[]) OR wm.role = ANY($3::text[]))
ORDER BY w.created_at, w.id
LIMIT $4
"""  # noqa: S608 - fixed fragments; every value is a bound parameter


WINDOW = 2000
"""How many websites, in creation order, the first pass of `GET /websites` looks through."""


def _callers_page_sql(*, after: bool) -> str:
    # $1 user, $2 organization roles that grant read, $3 website roles that grant read, $4 limit,
    # $5 the caller's login, $6 the window, then the cursor's (created_at, id).
    #
    # The login check and the page in one round trip: one row per website, each carrying the
    # caller's account (or a single row with no website); no row at all if the login is dead;
    # the page is read only for a verified caller.
    #
    # The page's keys come from one of two passes, so that its cost depends on the caller's
    # memberships and never on how many websites there are:
    # - `walk` follows every website in creation order (an index that holds the organization,
    #   so the table is not read) and keeps the caller's; it stops at `limit` keys, and gives up
    #   after `window` websites. For a caller who reads a good share of all websites it ends after
    #   a few dozen.
    # - When `walk` found fewer than `limit` keys within its window, `lateral` takes up to
    #   `limit` keys from each readable organization (its own index gives them in order) and
    #   the keys of the other websites the caller holds a role on (the two sets do not overlap),
    #   and keeps the first `limit`. Only then does it run.
    # Either way the first `limit` keys are exactly the page: when `walk` fills it, no readable
    # website comes before the last key it kept.
    keyset = "AND (w.created_at, w.id) > ($7, $8)" if after else ""
    return f"""
WITH readable_orgs AS MATERIALIZED (
  SELECT organization_id FROM organization_memberships
  WHERE user_id = $1 AND role = ANY($2::text[])
), readable_sites AS MATERIALIZED (
  SELECT website_id FROM website_memberships WHERE user_id = $1 AND role = ANY($3::text[])
), walk AS MATERIALIZED (
  SELECT w.created_at, w.id
  FROM (
    SELECT w.created_at, w.id, w.organization_id
    FROM websites AS w
    WHERE true {keyset}
    ORDER BY w.created_at, w.id
    LIMIT $6
  ) AS w
  WHERE w.organization_id IN (SELECT organization_id FROM readable_orgs)
     OR w.id IN (SELECT website_id FROM readable_sites)
  ORDER BY w.created_at, w.id
  LIMIT $4
), lateral_keys AS (
  SELECT w.created_at, w.id
  FROM readable_orgs AS m
  CROSS JOIN LATERAL (
    SELECT w.created_at, w.id
    FROM websites AS w
    WHERE w.organization_id = m.organization_id {keyset}
    ORDER BY w.created_at, w.id
    LIMIT $4
  ) AS w
  UNION ALL
  SELECT w.created_at, w.id
  FROM readable_sites AS m
  JOIN websites AS w ON w.id = m.website_id
  WHERE w.organization_id NOT IN (SELECT organization_id FROM readable_orgs) {keyset}
), page_keys AS (
  SELECT created_at, id FROM walk
  WHERE (SELECT count(*) FROM walk) >= $4
  UNION ALL
  SELECT created_at, id FROM lateral_keys
  WHERE (SELECT count(*) FROM walk) < $4
)
SELECT {ACCOUNT_COLUMNS}, page.*
FROM users AS u
JOIN login_sessions AS s ON s.id = $5 AND s.user_id = u.id AND s.revoked_at IS NULL
LEFT JOIN LATERAL (
  SELECT w.id, w.organization_id, w.name, w.url, w.created_at, om.role, wm.role
  FROM (
    SELECT created_at, id FROM page_keys ORDER BY created_at, id LIMIT $4
  ) AS top
  JOIN websites AS w ON w.id = top.id
  LEFT JOIN organization_memberships AS om
    ON om.organization_id = w.organization_id AND om.user_id = $1
  LEFT JOIN website_memberships AS wm ON wm.website_id = w.id AND wm.user_id = $1
) AS page ON u.email_verified_at IS NOT NULL
WHERE u.id = $1
ORDER BY page.created_at, page.id
"""  # noqa: S608 - fixed fragments; every value is a bound parameter


_ORGANIZATION_PAGE = {after: _organization_page_sql(after=after) for after in (False, True)}
_CALLERS_PAGE = {after: _callers_page_sql(after=after) for after in (False, True)}


async def organization_websites(
    db: RequestDatabase,
    user_id: UUID,
    organization_id: UUID,
    *,
    org_roles: list[str],
    website_roles: list[str],
    limit: int,
    after: tuple[datetime, UUID] | None = None,
) -> list[ReadableWebsite]:
    """Up to `limit` websites of the organization that the user reads through one of the given
    roles, after `after`."""
    args: list[object] = [user_id, org_roles, website_roles, limit, organization_id]
    if after is not None:
        args.extend(after)
    rows = await db.fetch(_ORGANIZATION_PAGE[after is not None], *args)
    return [ReadableWebsite(*row) for row in rows]


async def caller_and_readable_websites(
    db: RequestDatabase,
    user_id: UUID,
    session_id: UUID,
    *,
    org_roles: list[str],
    website_roles: list[str],
    limit: int,
    after: tuple[datetime, UUID] | None = None,
    window: int = WINDOW,
) -> tuple[Account | None, list[ReadableWebsite]]:
    """The caller's account if the login is live, and (for a verified caller) up to `limit`
    websites the user reads through one of the given roles, after `after`: one statement."""
    args: list[object] = [user_id, org_roles, website_roles, limit, session_id, window]
    if after is not None:
        args.extend(after)
    rows = await db.fetch(_CALLERS_PAGE[after is not None], *args)
    if not rows:
        return None, []
    account, _ = split_account(rows[0])
    # A caller with nothing to read (or not verified) still gets one row, with no website in it.
    pages = (split_account(row)[1] for row in rows)
    websites = [ReadableWebsite(*page) for page in pages if page[0] is not None]
    return account, websites


class ChangedWebsite(NamedTuple):
    """A website as a write left it."""

    id: UUID
    organization_id: UUID
    name: str
    url: str
    created_at: datetime


_INSERT = """
INSERT INTO websites (id, organization_id, name, url, host, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (organization_id, host) DO NOTHING
RETURNING id
"""

# A field left out (None) keeps its value: name, url and host are never NULL.
_UPDATE = """
UPDATE websites
SET name = coalesce($2, name), url = coalesce($3, url), host = coalesce($4, host),
    updated_at = now()
WHERE id = $1
RETURNING id, organization_id, name, url, created_at
"""

_DELETE = "DELETE FROM websites WHERE id = $1 RETURNING name, url"


async def insert_website(
    db: RequestDatabase,
    *,
    website_id: UUID,
    organization_id: UUID,
    name: str,
    url: str,
    host: str,
    created_at: datetime,
) -> bool:
    """Add the website; False when the organization already has one with this host (decided
    by the unique constraint, so racing creations included)."""
    row = await db.fetchrow(_INSERT, website_id, organization_id, name, url, host, created_at)
    return row is not None


async def update_website(
    db: RequestDatabase, website_id: UUID, *, name: str | None, url: str | None, host: str | None
) -> ChangedWebsite | None:
    """Change the fields given; None if the website is gone. The UPDATE locks the row; a host
    taken in the organization raises asyncpg's UniqueViolationError."""
    row = await db.fetchrow(_UPDATE, website_id, name, url, host)
    return ChangedWebsite(*row) if row is not None else None


async def delete_website(db: RequestDatabase, website_id: UUID) -> tuple[str, str] | None:
    """Delete the website (memberships and invitations go with it, by foreign key); its name
    and url, or None if it was already gone."""
    row = await db.fetchrow(_DELETE, website_id)
    return (row[0], row[1]) if row is not None else None
