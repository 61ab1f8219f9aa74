"""The member routes, one set per level: `/organizations/{org_id}/members` and
`/websites/{website_id}/members` — list, change a role, remove (or leave)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status

from app.authz.guards import (
    MemberId,
    OrganizationContext,
    WebsiteContext,
    organization_guard,
    organization_member_removal,
    website_guard,
    website_member_removal,
)
from app.authz.permissions import Permission
from app.db import Session, TransactionalRoute
from app.errors import GUARDED, error_responses
from app.memberships import service
from app.memberships.schemas import MemberPublic, RoleIn
from app.memberships.service import ORGANIZATION, WEBSITE, Level
from app.pagination import Page, Paging

router = APIRouter(route_class=TransactionalRoute)

Context = OrganizationContext | WebsiteContext


def _member_routes(
    level: Level,
    collection: str,
    *,
    read: Any,
    update: Any,
    remove: Any,
    conflicts: tuple[int, ...],
    removal: str,
) -> None:
    """Register the three member routes of one level. `read`, `update` and `remove` are the
    guards (dependencies) that authorize them; `conflicts` the extra statuses the level answers."""
    # The guard comes first in each signature: FastAPI resolves dependencies in that order, so a
    # caller who may not see the resource hears so before any complaint about paging.
    tag = f"{level.name}s"

    @router.get(
        collection,
        tags=[tag],
        operation_id=f"list_{level.name}_members",
        summary=f"List {level.name} members",
        description=f"The members holding a {level.name} role, with it, oldest first.",
        responses=GUARDED,
    )
    async def list_members(
        ctx: Annotated[Context, read], session: Session, paging: Paging
    ) -> Page[MemberPublic]:
        return await service.list_members(session, level, ctx.scope_id, paging)

    @router.patch(
        collection + "/{user_id}",
        tags=[tag],
        operation_id=f"update_{level.name}_member",
        summary=f"Change a {level.name} member's role",
        description="Change a member's role"
        + (" (409 `last_admin` when it would leave no admin)." if conflicts else "."),
        responses=error_responses(401, 403, 404, *conflicts, 422),
    )
    async def change_member_role(
        ctx: Annotated[Context, update], user_id: MemberId, body: RoleIn, session: Session
    ) -> MemberPublic:
        return await service.change_role(
            session,
            ctx.policy,
            level,
            scope_id=ctx.scope_id,
            organization_id=ctx.organization_id,
            user_id=user_id,
            role=body.role,
            actor_id=ctx.caller.user.id,
        )

    @router.delete(
        collection + "/{user_id}",
        tags=[tag],
        status_code=status.HTTP_204_NO_CONTENT,
        operation_id=f"remove_{level.name}_member",
        summary=f"Remove a {level.name} member",
        description=removal,
        responses=error_responses(401, 403, 404, *conflicts, 422),
    )
    async def remove_member(
        ctx: Annotated[Context, remove], user_id: MemberId, session: Session
    ) -> Response:
        await service.remove_member(
            session,
            ctx.policy,
            level,
            scope_id=ctx.scope_id,
            organization_id=ctx.organization_id,
            user_id=user_id,
            actor_id=ctx.caller.user.id,
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)


_member_routes(
    ORGANIZATION,
    "/organizations/{org_id}/members",
    read=organization_guard(Permission.ORGANIZATION_MEMBER_READ),
    update=organization_guard(Permission.ORGANIZATION_MEMBER_UPDATE),
    remove=Depends(organization_member_removal),
    conflicts=(409,),
    removal="Remove a member with their roles on the organization's websites; any member may "
    "remove themself (leave). Keeps an admin (409 `last_admin`).",
)
_member_routes(
    WEBSITE,
    "/websites/{website_id}/members",
    read=website_guard(Permission.WEBSITE_MEMBER_READ),
    update=website_guard(Permission.WEBSITE_MEMBER_UPDATE),
    remove=Depends(website_member_removal),
    conflicts=(),
    removal="Remove a website member; any website member may remove themself (leave).",
)
