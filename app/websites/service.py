"""Website use cases: listing what the caller may read, creation, changes, deletion (members are
`app.memberships`')."""

from uuid import UUID, uuid4

from fastapi import Response

from app.audit.repository import insert_event
from app.auth.repository import Account
from app.auth.tokens import AccessClaims
from app.authz.engine import PolicyEngine
from app.authz.permissions import Permission
from app.db import RequestDatabase, utcnow
from app.errors import NotFound, unique_conflicts
from app.pagination import PageParams, encode_cursor, page_response
from app.websites import repository
from app.websites.errors import WebsiteExists
from app.websites.schemas import website_host, website_item


async def organization_websites_page(
    db: RequestDatabase,
    policy: PolicyEngine,
    user_id: UUID,
    params: PageParams,
    organization_id: UUID,
) -> Response:
    """A page of the organization's websites the user may read, through an organization role or
    a website role.

    The roles that grant `website:read` come from the enforcer and become the SQL filter, so the
    list is one query and holds exactly the websites whose detail answers 200. The page is
    encoded straight from the rows (the same JSON `WebsitePublic` gives), since this is the
    service's busiest list.
    """
    org_roles, site_roles = policy.granting_roles(Permission.WEBSITE_READ)
    rows = await repository.organization_websites(
        db,
        user_id,
        organization_id,
        org_roles=org_roles,
        website_roles=site_roles,
        limit=params.limit + 1,
        after=params.after,
    )
    return _page(policy, rows, params)


async def callers_websites_page(
    db: RequestDatabase, policy: PolicyEngine, claims: AccessClaims, params: PageParams
) -> tuple[Account | None, Response]:
    """The caller's account (None if the token's login is dead) and a page of every website
    they may read, in one statement; the page is empty for an unverified caller, who the route
    refuses anyway."""
    org_roles, site_roles = policy.granting_roles(Permission.WEBSITE_READ)
    account, rows = await repository.caller_and_readable_websites(
        db,
        claims.user_id,
        claims.session_id,
        org_roles=org_roles,
        website_roles=site_roles,
        limit=params.limit + 1,
        after=params.after,
    )
    return account, _page(policy, rows, params)


def _page(
    policy: PolicyEngine, rows: list[repository.ReadableWebsite], params: PageParams
) -> Response:
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    items = [website_item(row, policy.website_role(row.org_role, row.website_role)) for row in rows]
    last = rows[-1] if has_more and rows else None
    return page_response(items, encode_cursor(last.created_at, last.id) if last else None)


async def create_website(
    db: RequestDatabase, *, organization_id: UUID, name: str, url: str, actor_id: UUID
) -> repository.ChangedWebsite:
    """Add a website to the organization (409 `website_exists` for a host it already has)."""
    website = repository.ChangedWebsite(uuid4(), organization_id, name, url, utcnow())
    await db.begin()
    created = await repository.insert_website(
        db,
        website_id=website.id,
        organization_id=organization_id,
        name=name,
        url=url,
        host=website_host(url),
        created_at=website.created_at,
    )
    if not created:
        raise WebsiteExists()
    await insert_event(
        db,
        organization_id=organization_id,
        actor_id=actor_id,
        action="website.created",
        target_type="website",
        target_id=website.id,
        after={"name": name, "url": url},
    )
    return website


async def update_website(
    db: RequestDatabase, website_id: UUID, *, name: str | None, url: str | None
) -> repository.ChangedWebsite:
    """Change the fields given (409 `website_exists` when the new host is taken in the org).

    One UPDATE: it locks the row, so a delete running at the same time either waits for this
    change or has already removed the row, which then answers 404. A duplicate host fails the
    statement, and the request's transaction is rolled back with nothing written.
    """
    await db.begin()
    with unique_conflicts(uq_websites_organization_id_host=WebsiteExists):
        changed = await repository.update_website(
            db,
            website_id,
            name=name,
            url=url,
            host=website_host(url) if url is not None else None,
        )
    if changed is None:
        raise NotFound()
    return changed


async def delete_website(
    db: RequestDatabase, website_id: UUID, organization_id: UUID, actor_id: UUID
) -> None:
    """Delete the website with its memberships and invitations (foreign keys cascade)."""
    await db.begin()
    deleted = await repository.delete_website(db, website_id)
    if deleted is None:
        raise NotFound()
    name, url = deleted
    await insert_event(
        db,
        organization_id=organization_id,
        actor_id=actor_id,
        action="website.deleted",
        target_type="website",
        target_id=website_id,
        before={"name": name, "url": url},
    )
