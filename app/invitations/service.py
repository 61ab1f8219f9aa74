"""Invitation use cases: invite, list, revoke, and the invitee's accept and decline.

Accepting locks the invitation row, so concurrent accepts (or an accept racing a revoke) are
serialized: exactly one wins, the others see a used invitation.
"""

from datetime import timedelta
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit.repository import insert_event
from app.audit.service import record_event
from app.auth.repository import Account
from app.auth.tokens import hash_token, new_opaque_token
from app.config import Settings
from app.db import RequestDatabase, utcnow
from app.errors import InvalidToken, NotFound, unique_conflicts
from app.invitations import repository
from app.invitations.errors import InvitationEmailMismatch, InvitationNotPending, InvitationPending
from app.invitations.models import Invitation, InvitationStatus
from app.invitations.schemas import InvitationPublic, MembershipPublic, invitation_public
from app.mail.repository import insert_mail
from app.mail.templates import lifetime_text
from app.memberships.errors import AlreadyMember
from app.memberships.roles import Role
from app.memberships.service import ORGANIZATION, WEBSITE, add_member
from app.pagination import Page, PageParams, paginate


def _target(organization_id: UUID, website_id: UUID | None) -> sa.ColumnElement[bool]:
    if website_id is None:
        return sa.and_(
            col(Invitation.organization_id) == organization_id, col(Invitation.website_id).is_(None)
        )
    return col(Invitation.website_id) == website_id


def describe_target(organization_name: str, website_name: str | None) -> str:
    """What an invitation mail says the invitee is invited to, by name."""
    # Names keep their surrounding whitespace; a mail shows them trimmed.
    if website_name is None:
        return f"the organization “{organization_name.strip()}”"
    return (
        f"the website “{website_name.strip()}” of the organization "
        f"“{organization_name.strip()}”"
    )


async def invite(
    db: RequestDatabase,
    settings: Settings,
    *,
    organization_id: UUID,
    website_id: UUID | None,
    email: str,
    role: str,
    inviter: Account,
) -> InvitationPublic:
    """Create a pending invitation and queue its mail, in one transaction.

    409 `already_member` if the address already belongs to a member, 409 `invitation_pending` if a
    pending invitation exists (a partial unique index decides races).
    """
    await db.begin()
    if await repository.is_member(db, organization_id, website_id, email):
        raise AlreadyMember("This address already belongs to a member.")
    # A pending invitation past its expiry no longer blocks a new one. On a conflict below the
    # request's transaction is rolled back with this, and the next invitation repeats it.
    await repository.expire_stale(db, organization_id, website_id, email)
    token = new_opaque_token()
    lifetime = timedelta(days=settings.invitation_token_days)
    invitation = InvitationPublic(
        id=uuid4(),
        email=email,
        role=Role(role),
        status=InvitationStatus.PENDING,
        expires_at=utcnow() + lifetime,
        organization_id=organization_id,
        website_id=website_id,
        created_at=utcnow(),
    )
    pending = {
        "uq_invitations_pending_organization": InvitationPending,
        "uq_invitations_pending_website": InvitationPending,
    }
    with unique_conflicts(**pending):
        await repository.insert_pending(
            db,
            invitation_id=invitation.id,
            organization_id=organization_id,
            website_id=website_id,
            email=email,
            role=role,
            token_hash=hash_token(token, settings.signing_key()),
            inviter_id=inviter.id,
            expires_at=invitation.expires_at,
            created_at=invitation.created_at,
        )
    organization_name, website_name = await repository.target_names(db, organization_id, website_id)
    await insert_mail(
        db,
        settings,
        email,
        "invitation",
        {
            "inviter": inviter.full_name or inviter.email,
            "target": describe_target(organization_name, website_name),
            "role": role,
            "link": f"{settings.links_base_url}/invitations/accept?token={token}",
            "valid_for": lifetime_text(lifetime),
        },
    )
    await insert_event(
        db,
        organization_id=organization_id,
        actor_id=inviter.id,
        action="invitation.created",
        target_type="invitation",
        target_id=invitation.id,
        after={"email": email, "role": role, "website_id": str(website_id) if website_id else None},
    )
    return invitation


async def _pending_page(
    session: AsyncSession, condition: sa.ColumnElement[bool], params: PageParams
) -> Page[InvitationPublic]:
    statement = sa.select(Invitation).where(
        condition,
        col(Invitation.status) == InvitationStatus.PENDING,
        col(Invitation.expires_at) > sa.func.now(),
    )
    return await paginate(
        session,
        statement,
        params,
        order=(col(Invitation.created_at), col(Invitation.id)),
        to_item=lambda row: invitation_public(row.Invitation),
    )


async def list_pending(
    session: AsyncSession, organization_id: UUID, website_id: UUID | None, params: PageParams
) -> Page[InvitationPublic]:
    """Pending, unexpired invitations to the organization itself or to one website."""
    return await _pending_page(session, _target(organization_id, website_id), params)


async def get_invitation(
    session: AsyncSession, *, organization_id: UUID, website_id: UUID | None, invitation_id: UUID
) -> InvitationPublic:
    """One invitation of this target, whatever its status (404 if there is none by that id)."""
    invitation = await session.scalar(
        sa.select(Invitation).where(
            col(Invitation.id) == invitation_id, _target(organization_id, website_id)
        )
    )
    if invitation is None:
        raise NotFound("No such invitation.")
    return invitation_public(invitation)


async def revoke(
    session: AsyncSession,
    *,
    organization_id: UUID,
    website_id: UUID | None,
    invitation_id: UUID,
    actor_id: UUID,
) -> None:
    """Revoke a pending invitation of this target (404 if there is none by that id)."""
    invitation = await session.scalar(
        sa.select(Invitation)
        .where(col(Invitation.id) == invitation_id, _target(organization_id, website_id))
        .with_for_update()
    )
    if invitation is None:
        raise NotFound("No such invitation.")
    if invitation.status != InvitationStatus.PENDING or invitation.expires_at <= utcnow():
        # An expired invitation already grants nothing; it keeps showing as expired.
        raise InvitationNotPending()
    invitation.status = InvitationStatus.REVOKED
    invitation.responded_at = utcnow()
    await record_event(
        session,
        organization_id=organization_id,
        actor_id=actor_id,
        action="invitation.revoked",
        target_type="invitation",
        target_id=invitation.id,
        before={"email": invitation.email, "role": invitation.role},
    )
    await session.flush()


async def list_for_invitee(
    session: AsyncSession, user: Account, params: PageParams
) -> Page[InvitationPublic]:
    """Pending, unexpired invitations addressed to the user's (verified) email."""
    return await _pending_page(session, col(Invitation.email) == user.email, params)


async def _respond(
    session: AsyncSession, invitation: Invitation | None, user: Account, accept: bool
) -> MembershipPublic | None:
    if (
        invitation is None
        or invitation.status != InvitationStatus.PENDING
        or invitation.expires_at <= utcnow()
    ):
        raise InvalidToken("The invitation is invalid, used, revoked or expired.")
    if invitation.email != user.email:
        raise InvitationEmailMismatch()
    invitation.responded_at = utcnow()
    if not accept:
        invitation.status = InvitationStatus.DECLINED
        await record_event(
            session,
            organization_id=invitation.organization_id,
            actor_id=user.id,
            action="invitation.declined",
            target_type="invitation",
            target_id=invitation.id,
        )
        await session.flush()
        return None
    invitation.status = InvitationStatus.ACCEPTED
    if invitation.website_id is None:
        level, scope_id = ORGANIZATION, invitation.organization_id
    else:
        level, scope_id = WEBSITE, invitation.website_id
    membership = await add_member(session, level, scope_id, user.id, invitation.role)
    await record_event(
        session,
        organization_id=invitation.organization_id,
        actor_id=user.id,
        action="invitation.accepted",
        target_type="invitation",
        target_id=invitation.id,
        after={
            "role": invitation.role,
            "website_id": str(invitation.website_id) if invitation.website_id else None,
        },
    )
    await session.flush()
    return MembershipPublic(
        organization_id=invitation.organization_id,
        website_id=invitation.website_id,
        user_id=user.id,
        role=Role(invitation.role),
        joined_at=membership.created_at,
    )


async def accept_by_token(
    session: AsyncSession, settings: Settings, user: Account, token: str
) -> MembershipPublic:
    """Accept the invitation the mailed token belongs to."""
    invitation = await session.scalar(
        sa.select(Invitation)
        .where(col(Invitation.token_hash) == hash_token(token, settings.signing_key()))
        .with_for_update()
    )
    result = await _respond(session, invitation, user, accept=True)
    assert result is not None  # noqa: S101 - accept always returns the membership
    return result


async def respond_by_id(
    session: AsyncSession, user: Account, invitation_id: UUID, accept: bool
) -> MembershipPublic | None:
    """Accept or decline an invitation addressed to the user, by id (404 if not theirs)."""
    invitation = await session.scalar(
        sa.select(Invitation)
        .where(col(Invitation.id) == invitation_id, col(Invitation.email) == user.email)
        .with_for_update()
    )
    if invitation is None:
        raise NotFound("No such invitation.")
    return await _respond(session, invitation, user, accept)
