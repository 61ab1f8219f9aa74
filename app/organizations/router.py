"""The /organizations routes (the organization's websites and invitations live in their packages)."""

from typing import Any

from fastapi import APIRouter, Request, Response, status

from app.auth.dependencies import VerifiedCaller
from app.authz.guards import (
    OrganizationAuditRead,
    OrganizationDelete,
    OrganizationRead,
    OrganizationUpdate,
    Policy,
)
from app.authz.permissions import ORGANIZATION_PERMISSIONS, WEBSITE_PERMISSIONS
from app.authz.schemas import Explain, PermissionsExplained, PermissionsPublic, permissions_answer
from app.db import Session, TransactionalRoute
from app.errors import GUARDED, error_responses
from app.http import location
from app.memberships.service import found_organization
from app.organizations import service
from app.organizations.schemas import (
    AuditEventPublic,
    OrganizationIn,
    OrganizationPatch,
    OrganizationPublic,
    organization_public,
)
from app.pagination import Page, Paging

router = APIRouter(prefix="/organizations", tags=["organizations"], route_class=TransactionalRoute)


@router.get("", operation_id="list_organizations", responses=error_responses(401, 403, 422))
async def list_organizations(
    caller: VerifiedCaller, session: Session, policy: Policy, paging: Paging
) -> Page[OrganizationPublic]:
    """The organizations the caller holds a role in, each with `my_role`."""
    return await service.list_organizations(session, policy, caller.user.id, paging)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_organization",
    responses=error_responses(401, 403, 422),
)
async def create_organization(
    body: OrganizationIn,
    caller: VerifiedCaller,
    session: Session,
    request: Request,
    response: Response,
) -> OrganizationPublic:
    """Create an organization; the caller becomes its admin."""
    organization, role = await found_organization(session, name=body.name, owner_id=caller.user.id)
    response.headers["Location"] = location(request, "get_organization", org_id=organization.id)
    return organization_public(organization.id, organization.name, organization.created_at, role)


@router.get("/{org_id}", operation_id="get_organization", responses=GUARDED)
async def get_organization(ctx: OrganizationRead) -> OrganizationPublic:
    """One organization, with the caller's role in it."""
    return organization_public(ctx.organization_id, ctx.name, ctx.created_at, ctx.role)


async def _rename(
    ctx: OrganizationUpdate, session: Session, name: str | None
) -> OrganizationPublic:
    if name is not None:
        await service.rename_organization(session, ctx.organization_id, name)
    return organization_public(
        ctx.organization_id, name if name is not None else ctx.name, ctx.created_at, ctx.role
    )


@router.put("/{org_id}", operation_id="replace_organization", responses=GUARDED)
async def replace_organization(
    body: OrganizationIn, ctx: OrganizationUpdate, session: Session
) -> OrganizationPublic:
    """Replace the organization's writable fields (its name)."""
    return await _rename(ctx, session, body.name)


@router.patch("/{org_id}", operation_id="update_organization", responses=GUARDED)
async def update_organization(
    body: OrganizationPatch, ctx: OrganizationUpdate, session: Session
) -> OrganizationPublic:
    """Change the fields given."""
    return await _rename(ctx, session, body.name)


@router.delete(
    "/{org_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_organization",
    responses=GUARDED,
)
async def delete_organization(ctx: OrganizationDelete, session: Session) -> Response:
    """Delete the organization with its websites, memberships and invitations."""
    await service.delete_organization(session, ctx.organization_id, ctx.caller.user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{org_id}/permissions",
    operation_id="get_organization_permissions",
    response_model=PermissionsPublic | PermissionsExplained,
    responses=GUARDED,
)
async def organization_permissions(ctx: OrganizationRead, explain: Explain = False) -> Any:
    """The caller's role and effective permissions in the organization; `website*` entries hold
    on every website of it. With `?explain=true`, each permission also names the role assignment
    that holds it and the policy row that grants it."""
    return permissions_answer(
        ctx.policy,
        ctx.assignments,
        ctx.role,
        ORGANIZATION_PERMISSIONS + WEBSITE_PERMISSIONS,
        explain=explain,
    )


@router.get(
    "/{org_id}/audit-events", operation_id="list_organization_audit_events", responses=GUARDED
)
async def list_audit_events(
    ctx: OrganizationAuditRead, session: Session, paging: Paging
) -> Page[AuditEventPublic]:
    """Membership, role, invitation and deletion events, newest first."""
    return await service.list_audit_events(session, ctx.organization_id, paging)
