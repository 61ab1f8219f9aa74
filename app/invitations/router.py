"""Invitation routes: the inviter's side (under organizations and websites) and the invitee's."""

from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from app.auth.dependencies import VerifiedCaller
from app.auth.ratelimit import Limiter
from app.authz.guards import (
    OrganizationInvitationsCreate,
    OrganizationInvitationsDelete,
    OrganizationInvitationsRead,
    WebsiteInvitationsCreate,
    WebsiteInvitationsDelete,
    WebsiteInvitationsRead,
)
from app.config import AppSettings
from app.db import Database, Session, TransactionalRoute
from app.errors import GUARDED, error_responses
from app.http import location
from app.invitations import service
from app.invitations.limits import invite_within_limits
from app.invitations.schemas import AcceptIn, InvitationIn, InvitationPublic, MembershipPublic
from app.pagination import Page, Paging

router = APIRouter(tags=["invitations"], route_class=TransactionalRoute)

INVITE_ERRORS = error_responses(401, 403, 404, 409, 422, 429)


@router.post(
    "/organizations/{org_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_organization_invitation",
    responses=INVITE_ERRORS,
)
async def invite_to_organization(
    body: InvitationIn,
    ctx: OrganizationInvitationsCreate,
    db: Database,
    settings: AppSettings,
    request: Request,
    limiter: Limiter,
    response: Response,
) -> InvitationPublic:
    """Invite an address into the organization with a role; the invitation is mailed."""
    invitation = await invite_within_limits(
        db,
        settings,
        limiter,
        organization_id=ctx.organization_id,
        website_id=None,
        email=body.email,
        role=body.role,
        inviter=ctx.caller.user,
    )
    response.headers["Location"] = location(
        request,
        "get_organization_invitation",
        org_id=ctx.organization_id,
        invitation_id=invitation.id,
    )
    return invitation


@router.get(
    "/organizations/{org_id}/invitations",
    operation_id="list_organization_invitations",
    responses=GUARDED,
)
async def list_organization_invitations(
    ctx: OrganizationInvitationsRead, session: Session, paging: Paging
) -> Page[InvitationPublic]:
    """Pending invitations into the organization."""
    return await service.list_pending(session, ctx.organization_id, None, paging)


@router.get(
    "/organizations/{org_id}/invitations/{invitation_id}",
    operation_id="get_organization_invitation",
    responses=GUARDED,
)
async def get_organization_invitation(
    invitation_id: UUID, ctx: OrganizationInvitationsRead, session: Session
) -> InvitationPublic:
    """One invitation into the organization (the `Location` of a created one)."""
    return await service.get_invitation(
        session, organization_id=ctx.organization_id, website_id=None, invitation_id=invitation_id
    )


@router.delete(
    "/organizations/{org_id}/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="revoke_organization_invitation",
    responses=INVITE_ERRORS,
)
async def revoke_organization_invitation(
    invitation_id: UUID, ctx: OrganizationInvitationsDelete, session: Session
) -> Response:
    """Revoke a pending invitation."""
    await service.revoke(
        session,
        organization_id=ctx.organization_id,
        website_id=None,
        invitation_id=invitation_id,
        actor_id=ctx.caller.user.id,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/websites/{website_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_website_invitation",
    responses=INVITE_ERRORS,
)
async def invite_to_website(
    body: InvitationIn,
    ctx: WebsiteInvitationsCreate,
    db: Database,
    settings: AppSettings,
    request: Request,
    limiter: Limiter,
    response: Response,
) -> InvitationPublic:
    """Invite an address onto the website with a website role; the invitation is mailed."""
    invitation = await invite_within_limits(
        db,
        settings,
        limiter,
        organization_id=ctx.organization_id,
        website_id=ctx.website_id,
        email=body.email,
        role=body.role,
        inviter=ctx.caller.user,
    )
    response.headers["Location"] = location(
        request, "get_website_invitation", website_id=ctx.website_id, invitation_id=invitation.id
    )
    return invitation


@router.get(
    "/websites/{website_id}/invitations", operation_id="list_website_invitations", responses=GUARDED
)
async def list_website_invitations(
    ctx: WebsiteInvitationsRead, session: Session, paging: Paging
) -> Page[InvitationPublic]:
    """Pending invitations onto the website."""
    return await service.list_pending(session, ctx.organization_id, ctx.website_id, paging)


@router.get(
    "/websites/{website_id}/invitations/{invitation_id}",
    operation_id="get_website_invitation",
    responses=GUARDED,
)
async def get_website_invitation(
    invitation_id: UUID, ctx: WebsiteInvitationsRead, session: Session
) -> InvitationPublic:
    """One invitation onto the website (the `Location` of a created one)."""
    return await service.get_invitation(
        session,
        organization_id=ctx.organization_id,
        website_id=ctx.website_id,
        invitation_id=invitation_id,
    )


@router.delete(
    "/websites/{website_id}/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="revoke_website_invitation",
    responses=INVITE_ERRORS,
)
async def revoke_website_invitation(
    invitation_id: UUID, ctx: WebsiteInvitationsDelete, session: Session
) -> Response:
    """Revoke a pending invitation."""
    await service.revoke(
        session,
        organization_id=ctx.organization_id,
        website_id=ctx.website_id,
        invitation_id=invitation_id,
        actor_id=ctx.caller.user.id,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/invitations", operation_id="list_my_invitations", responses=error_responses(401, 403, 422)
)
async def list_my_invitations(
    caller: VerifiedCaller, session: Session, paging: Paging
) -> Page[InvitationPublic]:
    """Pending invitations addressed to the caller's verified email."""
    return await service.list_for_invitee(session, caller.user, paging)


@router.post(
    "/invitations/accept",
    operation_id="accept_invitation",
    responses=error_responses(400, 401, 403, 409, 422),
)
async def accept_invitation(
    body: AcceptIn, caller: VerifiedCaller, session: Session, settings: AppSettings
) -> MembershipPublic:
    """Accept an invitation with the mailed token; the caller's email must be the invited one."""
    return await service.accept_by_token(session, settings, caller.user, body.token)


@router.post(
    "/invitations/{invitation_id}/accept",
    operation_id="accept_invitation_by_id",
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def accept_invitation_by_id(
    invitation_id: UUID, caller: VerifiedCaller, session: Session
) -> MembershipPublic:
    """Accept an invitation listed by `GET /invitations`."""
    result = await service.respond_by_id(session, caller.user, invitation_id, accept=True)
    assert result is not None  # noqa: S101 - accepting returns the membership
    return result


@router.post(
    "/invitations/{invitation_id}/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="decline_invitation",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def decline_invitation(
    invitation_id: UUID, caller: VerifiedCaller, session: Session
) -> Response:
    """Decline an invitation listed by `GET /invitations`."""
    await service.respond_by_id(session, caller.user, invitation_id, accept=False)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
