"""Invitations within limits: a mailed invitation carries text the inviter chose (their name,
the organization's), so an unbounded invitation route would be a spam channel.

Each created invitation counts once per inviter, once per organization and once per invited
address in the window (RATE_LIMIT_INVITATIONS_PER_INVITER, _PER_ORGANIZATION, _PER_ADDRESS);
past any of them the answer is 429 with Retry-After. An invitation that is not created (409, or
any other failure) gives its counts back.
"""

import asyncio
from uuid import UUID

from app.auth.ratelimit import Hit, RateLimiter
from app.auth.repository import Account
from app.auth.router import refund_all
from app.config import Settings
from app.db import RequestDatabase
from app.invitations import service
from app.invitations.schemas import InvitationPublic


async def invite_within_limits(
    db: RequestDatabase,
    settings: Settings,
    limiter: RateLimiter,
    *,
    organization_id: UUID,
    website_id: UUID | None,
    email: str,
    role: str,
    inviter: Account,
) -> InvitationPublic:
    """`service.invite`, counted against the invitation limits (429 past them)."""
    hits: list[Hit | None] = []
    try:
        for key, limit in (
            (f"invite:inviter:{inviter.id}", settings.rate_limit_invitations_per_inviter),
            (
                f"invite:organization:{organization_id}",
                settings.rate_limit_invitations_per_organization,
            ),
            (f"invite:address:{email}", settings.rate_limit_invitations_per_address),
        ):
            hits.append(await limiter.hit(key, limit))
        return await service.invite(
            db,
            settings,
            organization_id=organization_id,
            website_id=website_id,
            email=email,
            role=role,
            inviter=inviter,
        )
    except BaseException:
        # Shielded: a cancelled request still gives its counts back.
        await asyncio.shield(refund_all(limiter, hits))
        raise
