"""Invitation use cases: invite, list, revoke, and the invitee's accept and decline.

Accepting locks the invitation row, so concurrent accepts (or an accept racing a revoke) are
serialized: exactly one wins, the others see a used invitation.
"""

from datetime import timedelta
from uuid import UUID, uuid4

import asyncpg
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.repository import insert_event
from app.audit.service import record_event
from app.auth.repository import Account
from app.auth.tokens import hash_token, new_opaque_token
from app.config import Settings
from app.db import RequestDatabase, utcnow
from app.errors import Conflict, Forbidden, InvalidToken, NotFound
from app.invitations import repository
from app.invitations.models import Invitation
from app.invitations.schemas import InvitationPublic, MembershipPublic
from app.mail.repository import insert_mail
from app.mail.templates import lifetime_text
from app.organizations.models import OrganizationMembership
from app.pagination import Page, PageParams, build_page
from app.users.models import User
from app.websites.models import WebsiteMembership

PENDING = "pending"


def invitation_public(invitation: Invitation) -> InvitationPublic:
    """An invitation as the API shows it; a pending one past its expiry shows as expired."""
    status = invitation.status
    if status == PENDING and invitation.expires_at <= utcnow():
        status = "expired"
    return InvitationPublic(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        expires_at=invitation.expires_at,
        organization_id=invitation.organization_id,
        website_id=invitation.website_id,
        created_at=invitation.created_at,
    )


def _target(organization_id: UUID, website_id: UUID | None) -> sa.ColumnElement[bool]:
    if website_id is None:
        return sa.and_(Invitation.organization_id == organization_id, Invitation.website_id.is_(None))  # type: ignore[arg-type, union-attr]
    return Invitation.website_id == website_id  # type: ignore[arg-type, return-value]


async def _is_member(
    session: AsyncSession, organization_id: UUID, website_id: UUID | None, email: str
) -> bool:
    if website_id is None:
        query = (
            sa.select(OrganizationMembership.user_id)  # type: ignore[call-overload, arg-type]
            .join(User, User.id == OrganizationMembership.user_id)  # type: ignore[arg-type]
            .where(OrganizationMembership.organization_id == organization_id, User.email == email)  # type: ignore[arg-type]
        )
    else:
        query = (
            sa.select(WebsiteMembership.user_id)  # type: ignore[call-overload, arg-type]
            .join(User, User.id == WebsiteMembership.user_id)  # type: ignore[arg-type]
            .where(WebsiteMembership.website_id == website_id, User.email == email)  # type: ignore[arg-type]
        )
    return (await session.scalar(query)) is not None


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
        raise Conflict("This address already belongs to a member.", code="already_member")
    # A pending invitation past its expiry no longer blocks a new one. On a conflict below the
    # request's transaction is rolled back with this, and the next invitation repeats it.
    await repository.expire_stale(db, organization_id, website_id, email)
    token = new_opaque_token()
    lifetime = timedelta(days=settings.invitation_token_days)
    invitation = InvitationPublic(
        id=uuid4(),
        email=email,
        role=role,  # type: ignore[arg-type]
        status=PENDING,
        expires_at=utcnow() + lifetime,
        organization_id=organization_id,
        website_id=website_id,
        created_at=utcnow(),
    )
    try:
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
    except asyncpg.UniqueViolationError:
        raise Conflict(
            "A pending invitation for this address exists.", code="invitation_pending"
        ) from None
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
    rows = (
        await session.execute(
            sa.select(Invitation, Invitation.id.label("cursor_id"), Invitation.created_at.label("created_at"))  # type: ignore[attr-defined]
            .where(
                condition,
                Invitation.status == PENDING,  # type: ignore[arg-type]
                Invitation.expires_at > sa.func.now(),  # type: ignore[arg-type]
                params.keyset(Invitation.created_at, Invitation.id),
            )
            .order_by(Invitation.created_at, Invitation.id)  # type: ignore[arg-type]
            .limit(params.limit + 1)
        )
    ).all()
    return build_page(list(rows), params, lambda r: invitation_public(r.Invitation))


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
        sa.select(Invitation).where(Invitation.id == invitation_id, _target(organization_id, website_id))  # type: ignore[arg-type]
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
        .where(Invitation.id == invitation_id, _target(organization_id, website_id))  # type: ignore[arg-type]
        .with_for_update()
    )
    if invitation is None:
        raise NotFound("No such invitation.")
    if invitation.status != PENDING or invitation.expires_at <= utcnow():
        # An expired invitation already grants nothing; it keeps showing as expired.
        raise Conflict("The invitation is no longer pending.", code="invitation_not_pending")
    invitation.status = "revoked"
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
    return await _pending_page(session, Invitation.email == user.email, params)  # type: ignore[arg-type]


async def _respond(
    session: AsyncSession, invitation: Invitation | None, user: Account, accept: bool
) -> MembershipPublic | None:
    if invitation is None or invitation.status != PENDING or invitation.expires_at <= utcnow():
        raise InvalidToken("The invitation is invalid, used, revoked or expired.")
    if invitation.email != user.email:
        raise Forbidden(
            "The invitation was sent to another address.", code="invitation_email_mismatch"
        )
    invitation.responded_at = utcnow()
    if not accept:
        invitation.status = "declined"
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
    invitation.status = "accepted"
    membership: OrganizationMembership | WebsiteMembership
    if invitation.website_id is None:
        membership = OrganizationMembership(
            organization_id=invitation.organization_id, user_id=user.id, role=invitation.role
        )
    else:
        membership = WebsiteMembership(
            website_id=invitation.website_id, user_id=user.id, role=invitation.role
        )
    try:
        async with session.begin_nested():
            session.add(membership)
            await session.flush()
    except IntegrityError:
        raise Conflict("You are already a member.", code="already_member") from None
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
        role=invitation.role,  # type: ignore[arg-type]
        joined_at=membership.created_at,
    )


async def accept_by_token(
    session: AsyncSession, settings: Settings, user: Account, token: str
) -> MembershipPublic:
    """Accept the invitation the mailed token belongs to."""
    invitation = await session.scalar(
        sa.select(Invitation)
        .where(Invitation.token_hash == hash_token(token, settings.signing_key()))  # type: ignore[arg-type]
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
        .where(Invitation.id == invitation_id, Invitation.email == user.email)  # type: ignore[arg-type]
        .with_for_update()
    )
    if invitation is None:
        raise NotFound("No such invitation.")
    return await _respond(session, invitation, user, accept)
