"""Route guards: the one place that asks the enforcer.

A guard authenticates the caller, loads the resource named in the path together with the caller's
role assignments for its domains (one query), and then:

- answers 404 when the resource is missing *or* the caller may not read it (existence never
  leaks: a random id and another tenant's real id look the same);
- answers 403 when the caller may read it but not take the route's action;
- otherwise hands the route a frozen context with the resource and the assignments.

Routes declare guards through the Annotated aliases at the bottom, so a signature reads as the
contract: `ctx: WebsiteDelete`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Path, Request

from app.auth.dependencies import (
    BearerToken,
    Caller,
    access_claims,
    authenticated,
    require_verified,
)
from app.authz.engine import Assignments, PolicyEngine
from app.authz.permissions import Permission
from app.authz.repository import organization_access, website_access
from app.authz.sync import PolicyStore
from app.db import Database, RequestDatabase
from app.errors import Forbidden, NotFound, ServiceUnavailable

# Each guard and the permission it authorizes, so that a review (and a test) can check every
# guarded route against the policy.
GUARD_PERMISSIONS: dict[Callable[..., Any], Permission] = {}


def live_policy(request: Request) -> PolicyEngine:
    """The live policy engine (503 while no policy is loaded)."""
    store: PolicyStore = request.app.state.policy
    if store.current is None:
        raise ServiceUnavailable("The authorization policy is not loaded yet.")
    return store.current


async def current_policy(request: Request) -> PolicyEngine:
    """The live policy engine, as a dependency (503 while no policy is loaded)."""
    return live_policy(request)


Policy = Annotated[PolicyEngine, Depends(current_policy)]


@dataclass(frozen=True, slots=True)
class OrganizationContext:
    """An organization the caller may act on, with the caller's assignments in it."""

    caller: Caller
    organization_id: UUID
    name: str
    created_at: datetime
    assignments: Assignments
    policy: PolicyEngine

    @property
    def role(self) -> str | None:
        return self.assignments.org_role

    @property
    def scope_id(self) -> UUID:
        """The id of the resource the context is about (the organization)."""
        return self.organization_id


@dataclass(frozen=True, slots=True)
class WebsiteContext:
    """A website the caller may act on, with the caller's assignments in it and its organization."""

    caller: Caller
    website_id: UUID
    organization_id: UUID
    name: str
    url: str
    created_at: datetime
    assignments: Assignments
    policy: PolicyEngine

    @property
    def role(self) -> str | None:
        """The caller's effective role on the website (see `PolicyEngine.website_role`)."""
        return self.policy.website_role(self.assignments.org_role, self.assignments.website_role)

    @property
    def scope_id(self) -> UUID:
        """The id of the resource the context is about (the website)."""
        return self.website_id


def _check(
    policy: PolicyEngine, assignments: Assignments, read: Permission, wanted: Permission
) -> None:
    if not policy.allows(assignments, read):
        raise NotFound()
    if not policy.allows(assignments, wanted):
        raise Forbidden()


# Each guard is one statement (app/authz/repository.py): the login check, the resource and the
# caller's assignments for its domains, in one round trip on the request's connection. The
# answers keep the contract's order: 401 (no live login), 403 `email_not_verified`, 404 (no such
# resource, or not readable), 403 (readable, action not allowed).


async def authorize_organization(
    request: Request, token: str | None, db: RequestDatabase, org_id: UUID, permission: Permission
) -> OrganizationContext:
    """The caller's context in the organization, once `permission` is granted there."""
    # Read from the app rather than declared as dependencies: each dependency FastAPI resolves
    # costs more than the lookup itself, on every guarded request.
    policy = live_policy(request)
    claims = access_claims(token, request.app.state.settings)
    account, access = await organization_access(db, claims.user_id, claims.session_id, org_id)
    caller = require_verified(authenticated(request, claims, account))
    if access is None:
        raise NotFound()
    assignments = Assignments(caller.user.id, access.organization_id, access.role)
    _check(policy, assignments, Permission.ORGANIZATION_READ, permission)
    return OrganizationContext(
        caller, access.organization_id, access.name, access.created_at, assignments, policy
    )


async def authorize_website(
    request: Request,
    token: str | None,
    db: RequestDatabase,
    website_id: UUID,
    permission: Permission,
) -> WebsiteContext:
    """The caller's context on the website, once `permission` is granted there."""
    policy = live_policy(request)
    claims = access_claims(token, request.app.state.settings)
    account, access = await website_access(db, claims.user_id, claims.session_id, website_id)
    caller = require_verified(authenticated(request, claims, account))
    if access is None:
        raise NotFound()
    assignments = Assignments(
        caller.user.id,
        access.organization_id,
        access.org_role,
        access.website_id,
        access.website_role,
    )
    _check(policy, assignments, Permission.WEBSITE_READ, permission)
    return WebsiteContext(
        caller,
        access.website_id,
        access.organization_id,
        access.name,
        access.url,
        access.created_at,
        assignments,
        policy,
    )


# The guards themselves only bind a permission: the checks live in the functions above, so that
# they are one piece of code for every permission. A guard is an instance whose `__call__` FastAPI
# resolves, rather than a closure made at import time, so that a test tool that swaps functions
# at call time reaches its body too.


@dataclass(frozen=True, eq=False, slots=True)
class OrganizationGuard:
    """A dependency that authorizes `permission` on the organization in the path."""

    permission: Permission

    async def __call__(
        self,
        request: Request,
        db: Database,
        token: BearerToken,
        org_id: Annotated[UUID, Path(description="Organization id.")],
    ) -> OrganizationContext:
        return await authorize_organization(request, token, db, org_id, self.permission)


@dataclass(frozen=True, eq=False, slots=True)
class WebsiteGuard:
    """A dependency that authorizes `permission` on the website in the path."""

    permission: Permission

    async def __call__(
        self,
        request: Request,
        db: Database,
        token: BearerToken,
        website_id: Annotated[UUID, Path(description="Website id.")],
    ) -> WebsiteContext:
        return await authorize_website(request, token, db, website_id, self.permission)


def organization_guard(permission: Permission) -> Any:
    """`Depends` on a guard of `permission` on the organization in the path."""
    guard = OrganizationGuard(permission)
    GUARD_PERMISSIONS[guard] = permission
    return Depends(guard)


def website_guard(permission: Permission) -> Any:
    """`Depends` on a guard of `permission` on the website in the path."""
    guard = WebsiteGuard(permission)
    GUARD_PERMISSIONS[guard] = permission
    return Depends(guard)


OrganizationRead = Annotated[OrganizationContext, organization_guard(Permission.ORGANIZATION_READ)]
OrganizationUpdate = Annotated[
    OrganizationContext, organization_guard(Permission.ORGANIZATION_UPDATE)
]
OrganizationDelete = Annotated[
    OrganizationContext, organization_guard(Permission.ORGANIZATION_DELETE)
]
OrganizationWebsitesCreate = Annotated[
    OrganizationContext, organization_guard(Permission.WEBSITE_CREATE)
]
OrganizationAuditRead = Annotated[
    OrganizationContext, organization_guard(Permission.AUDIT_EVENT_READ)
]

WebsiteRead = Annotated[WebsiteContext, website_guard(Permission.WEBSITE_READ)]
WebsiteUpdate = Annotated[WebsiteContext, website_guard(Permission.WEBSITE_UPDATE)]
WebsiteDelete = Annotated[WebsiteContext, website_guard(Permission.WEBSITE_DELETE)]


def require(context: OrganizationContext | WebsiteContext, *permissions: Permission) -> None:
    """403 unless the caller, in the context's domains, holds one of `permissions`."""
    if not any(context.policy.allows(context.assignments, p) for p in permissions):
        raise Forbidden()


MemberId = Annotated[UUID, Path(description="The member's user id.")]


async def organization_member_removal(
    context: OrganizationRead, user_id: MemberId
) -> OrganizationContext:
    """Authorizes removing the member in the path: `organization_member:delete`, or, for the
    caller themself, `organization:leave`."""
    leaving = (Permission.ORGANIZATION_LEAVE,) if user_id == context.caller.user.id else ()
    require(context, Permission.ORGANIZATION_MEMBER_DELETE, *leaving)
    return context


async def website_member_removal(context: WebsiteRead, user_id: MemberId) -> WebsiteContext:
    """Authorizes removing the member in the path: `website_member:delete`, or, for the caller
    themself, `website:leave`."""
    leaving = (Permission.WEBSITE_LEAVE,) if user_id == context.caller.user.id else ()
    require(context, Permission.WEBSITE_MEMBER_DELETE, *leaving)
    return context


GUARD_PERMISSIONS[organization_member_removal] = Permission.ORGANIZATION_MEMBER_DELETE
GUARD_PERMISSIONS[website_member_removal] = Permission.WEBSITE_MEMBER_DELETE
