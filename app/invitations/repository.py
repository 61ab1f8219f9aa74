"""The invitation writes of the request path, as statements in the request's transaction."""

from datetime import datetime
from uuid import UUID

from app.db import RequestDatabase

_MEMBER_OF_ORGANIZATION = """
SELECT 1 FROM organization_memberships AS m JOIN users AS u ON u.id = m.user_id
WHERE m.organization_id = $1 AND u.email = $2
"""
_MEMBER_OF_WEBSITE = """
SELECT 1 FROM website_memberships AS m JOIN users AS u ON u.id = m.user_id
WHERE m.website_id = $1 AND u.email = $2
"""
_EXPIRE_FOR_ORGANIZATION = """
UPDATE invitations SET status = 'expired'
WHERE organization_id = $1 AND website_id IS NULL AND email = $2
  AND status = 'pending' AND expires_at <= now()
"""
_EXPIRE_FOR_WEBSITE = """
UPDATE invitations SET status = 'expired'
WHERE website_id = $1 AND email = $2 AND status = 'pending' AND expires_at <= now()
"""
_INSERT = """
INSERT INTO invitations
  (id, organization_id, website_id, email, role, status, token_hash, inviter_id, expires_at,
   created_at)
VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9)
"""
_NAMES = """
SELECT o.name, w.name FROM organizations AS o LEFT JOIN websites AS w ON w.id = $2
WHERE o.id = $1
"""


async def is_member(
    db: RequestDatabase, organization_id: UUID, website_id: UUID | None, email: str
) -> bool:
    """Whether the address belongs to a member of the target (the website when given)."""
    if website_id is None:
        return await db.fetchrow(_MEMBER_OF_ORGANIZATION, organization_id, email) is not None
    return await db.fetchrow(_MEMBER_OF_WEBSITE, website_id, email) is not None


async def expire_stale(
    db: RequestDatabase, organization_id: UUID, website_id: UUID | None, email: str
) -> None:
    """Mark the address's pending invitation to the target expired if its time has passed."""
    if website_id is None:
        await db.execute(_EXPIRE_FOR_ORGANIZATION, organization_id, email)
    else:
        await db.execute(_EXPIRE_FOR_WEBSITE, website_id, email)


async def insert_pending(
    db: RequestDatabase,
    *,
    invitation_id: UUID,
    organization_id: UUID,
    website_id: UUID | None,
    email: str,
    role: str,
    token_hash: str,
    inviter_id: UUID,
    expires_at: datetime,
    created_at: datetime,
) -> None:
    """Add a pending invitation. A pending one for the same address and target raises
    asyncpg's UniqueViolationError (partial unique indexes decide races)."""
    await db.execute(
        _INSERT,
        invitation_id,
        organization_id,
        website_id,
        email,
        role,
        token_hash,
        inviter_id,
        expires_at,
        created_at,
    )


async def target_names(
    db: RequestDatabase, organization_id: UUID, website_id: UUID | None
) -> tuple[str, str | None]:
    """The organization's name and the website's (None for an organization invitation)."""
    row = await db.fetchrow(_NAMES, organization_id, website_id)
    if row is None:
        return "", None
    return row[0], row[1]
