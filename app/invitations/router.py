"""Invitation routes: the inviter's side, one set per level (`/organizations/{org_id}/invitations`
and `/websites/{website_id}/invitations`: create, list, get, revoke), and the invitee's."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from app.auth.dependencies import VerifiedCaller
from app.auth.ratelimit import Limiter
from app.authz.guards import OrganizationContext, WebsiteContext, organization_guard, website_guard
from app.authz.permissions import Permission
from app.config import AppSettings
from app.db import Database, Session, TransactionalRoute
from app.errors import GUARDED, error_responses
from app.http import location
from app.invitations import service
from app.invitations.limits import invite_within_limits
from app.invitations.schemas import AcceptIn, InvitationIn, InvitationPublic, MembershipPublic
from app.memberships.service import ORGANIZATION, WEBSITE, Level
from app.pagination import Page, Paging

router = APIRouter(tags=["invitations"], route_class=TransactionalRoute)

INVITE_ERRORS = error_responses(401, 403, 404, 409, 422, 429)

Context = OrganizationContext | WebsiteContext


def _website_id(level: Level, ctx: Context) -> UUID | None:
    # An organization's invitations name no website: the service tells the levels apart by it.
    return ctx.scope_id if level is WEBSITE else None


def _invitation_routes(
    level: Level,
    collection: str,
    scope_param: str,
    *,
    read: Any,
    create: Any,
    delete: Any,
    where: str,
    role: str,
) -> None:
    """Register the four inviter routes of one level under `collection`, whose path names the
    organization or website as `scope_param`. `read`, `create` and `delete` are the guards
    (dependencies) that authorize them; `where` ("into the organization") and `role` ("a role")
    word their descriptions."""
    # Names are explicit because the inner functions' names are the same at both levels: a route's
    # name gives its summary in the OpenAPI document, and `location` finds a created invitation's
    # path by it. The guard comes first in each signature: FastAPI resolves dependencies in that
    # order, so a caller who may not see the resource hears so before any complaint about paging.
    get_name = f"get_{level.name}_invitation"

    @router.post(
        collection,
        status_code=status.HTTP_201_CREATED,
        operation_id=f"create_{level.name}_invitation",
        name=f"invite_to_{level.name}",
        description=f"Invite an address {where} with {role}; the invitation is mailed.",
        responses=INVITE_ERRORS,
    )
    async def invite(
        body: InvitationIn,
        ctx: Annotated[Context, create],
        db: Database,
        settings: AppSettings,
        request: Request,
        limiter: Limiter,
        response: Response,
    ) -> InvitationPublic:
        invitation = await invite_within_limits(
            db,
            settings,
            limiter,
            organization_id=ctx.organization_id,
            website_id=_website_id(level, ctx),
            email=body.email,
            role=body.role,
            inviter=ctx.caller.user,
        )
        response.headers["Location"] = location(
            request, get_name, **{scope_param: ctx.scope_id, "invitation_id": invitation.id}
        )
        return invitation

    @router.get(
        collection,
        operation_id=f"list_{level.name}_invitations",
        name=f"list_{level.name}_invitations",
        description=f"Pending invitations {where}.",
        responses=GUARDED,
    )
    async def list_invitations(
        ctx: Annotated[Context, read], session: Session, paging: Paging
    ) -> Page[InvitationPublic]:
        return await service.list_pending(
            session, ctx.organization_id, _website_id(level, ctx), paging
        )

    @router.get(
        collection + "/{invitation_id}",
        operation_id=get_name,
        name=get_name,
        description=f"One invitation {where} (the `Location` of a created one).",
        responses=GUARDED,
    )
    async def get_invitation(
        invitation_id: UUID, ctx: Annotated[Context, read], session: Session
    ) -> InvitationPublic:
        return await service.get_invitation(
            session,
            organization_id=ctx.organization_id,
            website_id=_website_id(level, ctx),
            invitation_id=invitation_id,
        )

    @router.delete(
        collection + "/{invitation_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        operation_id=f"revoke_{level.name}_invitation",
        name=f"revoke_{level.name}_invitation",
        description="Revoke a pending invitation.",
        responses=INVITE_ERRORS,
    )
    async def revoke_invitation(
        invitation_id: UUID, ctx: Annotated[Context, delete], session: Session
    ) -> Response:
        await service.revoke(
            session,
            organization_id=ctx.organization_id,
            website_id=_website_id(level, ctx),
            invitation_id=invitation_id,
            actor_id=ctx.caller.user.id,
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)


# Registered before the invitee's routes, in this order, which is the order of the OpenAPI paths.
_invitation_routes(
    ORGANIZATION,
    "/organizations/{org_id}/invitations",
    "org_id",
    read=organization_guard(Permission.ORGANIZATION_INVITATION_READ),
    create=organization_guard(Permission.ORGANIZATION_INVITATION_CREATE),
    delete=organization_guard(Permission.ORGANIZATION_INVITATION_DELETE),
    where="into the organization",
    role="a role",
)
_invitation_routes(
    WEBSITE,
    "/websites/{website_id}/invitations",
    "website_id",
    read=website_guard(Permission.WEBSITE_INVITATION_READ),
    create=website_guard(Permission.WEBSITE_INVITATION_CREATE),
    delete=website_guard(Permission.WEBSITE_INVITATION_DELETE),
    where="onto the website",
    role="a website role",
)


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
