"""The /websites routes and the organization's /websites collection."""

from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, Request, Response, status

from app.auth.dependencies import Claims, authenticated, require_verified
from app.authz.guards import (
    OrganizationRead,
    OrganizationWebsitesCreate,
    WebsiteContext,
    WebsiteDelete,
    WebsiteRead,
    WebsiteUpdate,
    live_policy,
)
from app.authz.permissions import WEBSITE_PERMISSIONS
from app.authz.schemas import Explain, PermissionsExplained, PermissionsPublic, permissions_answer
from app.db import Database, TransactionalRoute
from app.errors import GUARDED, error_responses
from app.http import json_response, location
from app.pagination import Page, Paging
from app.websites import service
from app.websites.schemas import WebsiteIn, WebsitePatch, WebsitePublic, website_item

router = APIRouter(tags=["websites"], route_class=TransactionalRoute)


@router.get(
    "/websites",
    operation_id="list_websites",
    response_model=Page[WebsitePublic],
    responses=error_responses(401, 403, 422),
)
async def list_websites(request: Request, claims: Claims, db: Database, paging: Paging) -> Response:
    """Every website the caller can read, through an organization role or a website role."""
    policy = live_policy(request)
    account, page = await service.callers_websites_page(db, policy, claims, paging)
    require_verified(authenticated(request, claims, account))
    return page


@router.get(
    "/organizations/{org_id}/websites",
    operation_id="list_organization_websites",
    response_model=Page[WebsitePublic],
    responses=GUARDED,
)
async def list_organization_websites(
    ctx: OrganizationRead, db: Database, paging: Paging
) -> Response:
    """The organization's websites the caller can read."""
    return await service.organization_websites_page(
        db, ctx.policy, ctx.caller.user.id, paging, organization_id=ctx.organization_id
    )


@router.post(
    "/organizations/{org_id}/websites",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_website",
    response_model=WebsitePublic,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_website(
    body: WebsiteIn, ctx: OrganizationWebsitesCreate, db: Database, request: Request
) -> Response:
    """Add a website to the organization (409 `website_exists` when its host is already there)."""
    website = await service.create_website(
        db,
        organization_id=ctx.organization_id,
        name=body.name,
        url=body.url,
        actor_id=ctx.caller.user.id,
    )
    response = json_response(
        website_item(website, ctx.policy.website_role(ctx.role, None)),
        status_code=status.HTTP_201_CREATED,
    )
    response.headers["Location"] = location(request, "get_website", website_id=website.id)
    return response


@router.get(
    "/websites/{website_id}",
    operation_id="get_website",
    response_model=WebsitePublic,
    responses=GUARDED,
)
async def get_website(ctx: WebsiteRead) -> Response:
    """One website, with the caller's role on it."""
    website = SimpleNamespace(
        id=ctx.website_id,
        organization_id=ctx.organization_id,
        name=ctx.name,
        url=ctx.url,
        created_at=ctx.created_at,
    )
    return json_response(website_item(website, ctx.role))


async def _update(ctx: WebsiteContext, db: Database, name: str | None, url: str | None) -> Response:
    website = await service.update_website(db, ctx.website_id, name=name, url=url)
    return json_response(website_item(website, ctx.role))


@router.put(
    "/websites/{website_id}",
    operation_id="replace_website",
    response_model=WebsitePublic,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def replace_website(body: WebsiteIn, ctx: WebsiteUpdate, db: Database) -> Response:
    """Replace every writable field (name and url)."""
    return await _update(ctx, db, body.name, body.url)


@router.patch(
    "/websites/{website_id}",
    operation_id="update_website",
    response_model=WebsitePublic,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def update_website(body: WebsitePatch, ctx: WebsiteUpdate, db: Database) -> Response:
    """Change the fields given."""
    return await _update(ctx, db, body.name, body.url)


@router.delete(
    "/websites/{website_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_website",
    responses=GUARDED,
)
async def delete_website(ctx: WebsiteDelete, db: Database) -> Response:
    """Delete the website with its memberships and invitations."""
    await service.delete_website(db, ctx.website_id, ctx.organization_id, ctx.caller.user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/websites/{website_id}/permissions",
    operation_id="get_website_permissions",
    response_model=PermissionsPublic | PermissionsExplained,
    responses=GUARDED,
)
async def website_permissions(ctx: WebsiteRead, explain: Explain = False) -> Any:
    """The caller's effective role and permissions on the website. With `?explain=true`, each
    permission also names the role assignment that holds it and the policy row that grants it."""
    return permissions_answer(
        ctx.policy, ctx.assignments, ctx.role, WEBSITE_PERMISSIONS, explain=explain
    )
