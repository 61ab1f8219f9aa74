"""The guards' statements: the login check, the resource and the caller's role assignments.

One statement per guarded request: the caller's account if the access token's login is live, the
resource named in the path (outer-joined, so a missing one still returns the account), and the
caller's role in the resource's organization and, for a website, in the website itself. The
enforcer decides from those roles (`app/authz/guards.py`); this module only reads.
"""

from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from app.auth.repository import ACCOUNT_COLUMNS, LIVE_LOGIN_JOIN, Account, split_account
from app.db import RequestDatabase


class OrganizationAccess(NamedTuple):
    """An organization and the caller's role in it (None: no role)."""

    organization_id: UUID
    name: str
    created_at: datetime
    role: str | None


class WebsiteAccess(NamedTuple):
    """A website and the caller's roles on it (None where the caller holds none)."""

    website_id: UUID
    organization_id: UUID
    name: str
    url: str
    created_at: datetime
    org_role: str | None
    website_role: str | None


# Built from fixed fragments; every value is a bound parameter.
_ORGANIZATION_SQL = f"""
SELECT {ACCOUNT_COLUMNS}, o.id, o.name, o.created_at, om.role
FROM users AS u
{LIVE_LOGIN_JOIN}
LEFT JOIN organizations AS o ON o.id = $3
LEFT JOIN organization_memberships AS om ON om.organization_id = o.id AND om.user_id = u.id
WHERE u.id = $1
"""  # noqa: S608

WEBSITE_ACCESS_SQL = f"""
SELECT {ACCOUNT_COLUMNS}, w.id, w.organization_id, w.name, w.url, w.created_at, om.role, wm.role
FROM users AS u
{LIVE_LOGIN_JOIN}
LEFT JOIN websites AS w ON w.id = $3
LEFT JOIN organization_memberships AS om
  ON om.organization_id = w.organization_id AND om.user_id = u.id
LEFT JOIN website_memberships AS wm ON wm.website_id = w.id AND wm.user_id = u.id
WHERE u.id = $1
"""  # noqa: S608


async def organization_access(
    db: RequestDatabase, user_id: UUID, session_id: UUID, organization_id: UUID
) -> tuple[Account | None, OrganizationAccess | None]:
    """The caller's account and their access to the organization (None: no such organization);
    (None, None) if the login is dead."""
    row = await db.fetchrow(_ORGANIZATION_SQL, user_id, session_id, organization_id)
    if row is None:
        return None, None
    account, rest = split_account(row)
    # The organization is outer-joined: a missing one leaves its columns null.
    return account, OrganizationAccess(*rest) if rest[0] is not None else None


async def website_access(
    db: RequestDatabase, user_id: UUID, session_id: UUID, website_id: UUID
) -> tuple[Account | None, WebsiteAccess | None]:
    """The caller's account and their access to the website (None: no such website); (None,
    None) if the login is dead."""
    row = await db.fetchrow(WEBSITE_ACCESS_SQL, user_id, session_id, website_id)
    if row is None:
        return None, None
    account, rest = split_account(row)
    # The website is outer-joined: a missing one leaves its columns null.
    return account, WebsiteAccess(*rest) if rest[0] is not None else None
