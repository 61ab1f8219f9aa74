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

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import psycopg
import sqlalchemy as sa
from fastapi import Depends, Path, Request
from psycopg.rows import tuple_row
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as SyncSession

from app.auth.dependencies import Caller, VerifiedCaller
from app.authz.engine import Assignments, PolicyEngine
from app.authz.permissions import Permission
from app.authz.sync import PolicyStore
from app.db import Session
from app.errors import Forbidden, NotFound, ServiceUnavailable
from app.organizations.models import Organization, OrganizationMembership
from app.websites.models import Website, WebsiteMembership


def current_policy(request: Request) -> PolicyEngine:
    """The live policy engine (503 while no policy is loaded)."""
    store: PolicyStore = request.app.state.policy
    if store.current is None:
        raise ServiceUnavailable("The authorization policy is not loaded yet.")
    return store.current


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


def _check(
    policy: PolicyEngine, assignments: Assignments, read: Permission, wanted: Permission
) -> None:
    if not policy.allows(assignments, read):
        raise NotFound()
    if not policy.allows(assignments, wanted):
        raise Forbidden()


# The guard queries are built with SQLAlchemy once, compiled to SQL text at import, and run on
# the request's own connection (same transaction) straight through psycopg: this is the hot path
# of every tenant request, and SQLAlchemy's async execution costs about twice the query itself.
# Each loads the resource and the caller's assignments for its domains in one round trip.
_ORGANIZATION_WITH_ROLE = (
    sa.select(
        Organization.id,  # type: ignore[call-overload]
        Organization.name,
        Organization.created_at,
        OrganizationMembership.role,
    )
    .outerjoin(
        OrganizationMembership,
        sa.and_(
            OrganizationMembership.organization_id == Organization.id,  # type: ignore[arg-type]
            OrganizationMembership.user_id == sa.bindparam("user_id"),  # type: ignore[arg-type]
        ),
    )
    .where(Organization.id == sa.bindparam("organization_id"))  # type: ignore[arg-type]
)


def websites_with_roles(user_id: Any) -> Any:
    """Websites with the caller's organization role and website role on each (outer joins):
    the assignments the enforcer needs, loaded with the rows themselves."""
    return (
        sa.select(
            Website.id,  # type: ignore[call-overload]
            Website.organization_id,
            Website.name,
            Website.url,
            Website.created_at,
            OrganizationMembership.role.label("org_role"),  # type: ignore[attr-defined]
            WebsiteMembership.role.label("website_role"),  # type: ignore[attr-defined]
        )
        .outerjoin(
            OrganizationMembership,
            sa.and_(
                OrganizationMembership.organization_id == Website.organization_id,  # type: ignore[arg-type]
                OrganizationMembership.user_id == user_id,  # type: ignore[arg-type]
            ),
        )
        .outerjoin(
            WebsiteMembership,
            sa.and_(
                WebsiteMembership.website_id == Website.id,  # type: ignore[arg-type]
                WebsiteMembership.user_id == user_id,  # type: ignore[arg-type]
            ),
        )
    )


_WEBSITE_WITH_ROLES = websites_with_roles(sa.bindparam("user_id")).where(
    Website.id == sa.bindparam("website_id")  # type: ignore[arg-type]
)


# The guards unpack rows by position (the fastest row shape): keep the order they expect.
_ORGANIZATION_COLUMNS = ("id", "name", "created_at", "role")
_WEBSITE_COLUMNS = (
    "id",
    "organization_id",
    "name",
    "url",
    "created_at",
    "org_role",
    "website_role",
)
for _query, _expected in (
    (_ORGANIZATION_WITH_ROLE, _ORGANIZATION_COLUMNS),
    (_WEBSITE_WITH_ROLES, _WEBSITE_COLUMNS),
):
    if tuple(_query.selected_columns.keys()) != _expected:
        raise RuntimeError(f"guard query columns changed: {_query.selected_columns.keys()}")

_ORGANIZATION_SQL = str(_ORGANIZATION_WITH_ROLE.compile(dialect=psycopg_dialect()))  # type: ignore[no-untyped-call]
WEBSITE_GUARD_SQL = str(_WEBSITE_WITH_ROLES.compile(dialect=psycopg_dialect()))  # type: ignore[no-untyped-call]


def _driver_connection(session: SyncSession) -> psycopg.AsyncConnection[Any]:
    connection: psycopg.AsyncConnection[Any] = session.connection().connection.driver_connection  # type: ignore[assignment]
    return connection


async def _fetch_one(
    session: AsyncSession, sql: str, params: dict[str, UUID]
) -> tuple[Any, ...] | None:
    """Run a precompiled query on the session's connection and transaction; one row or None.

    psycopg prepares the statement on a connection after a few executions and keeps it until
    that connection's next rollback, so a guard on a warm connection skips parsing and planning.
    """
    # One trip through SQLAlchemy's greenlet bridge (run_sync) rather than the two that
    # `connection()` then `get_raw_connection()` take.
    driver = await session.run_sync(_driver_connection)
    async with driver.cursor(row_factory=tuple_row) as cursor:
        await cursor.execute(sql, params)  # type: ignore[arg-type]
        return await cursor.fetchone()


def organization_guard(permission: Permission) -> Any:
    """A dependency that authorizes `permission` on the organization in the path."""

    async def guard(
        caller: VerifiedCaller,
        session: Session,
        policy: Policy,
        org_id: Annotated[UUID, Path(description="Organization id.")],
    ) -> OrganizationContext:
        row = await _fetch_one(
            session, _ORGANIZATION_SQL, {"user_id": caller.user.id, "organization_id": org_id}
        )
        if row is None:
            raise NotFound()
        organization_id, name, created_at, role = row
        assignments = Assignments(caller.user.id, organization_id, role)
        _check(policy, assignments, Permission.ORGANIZATION_READ, permission)
        return OrganizationContext(caller, organization_id, name, created_at, assignments, policy)

    guard.permission = permission  # type: ignore[attr-defined]  # read by the route-walk test
    return Depends(guard)


def website_guard(permission: Permission) -> Any:
    """A dependency that authorizes `permission` on the website in the path."""

    async def guard(
        caller: VerifiedCaller,
        session: Session,
        policy: Policy,
        website_id: Annotated[UUID, Path(description="Website id.")],
    ) -> WebsiteContext:
        row = await _fetch_one(
            session, WEBSITE_GUARD_SQL, {"user_id": caller.user.id, "website_id": website_id}
        )
        if row is None:
            raise NotFound()
        website_id, organization_id, name, url, created_at, org_role, website_role = row
        assignments = Assignments(
            caller.user.id, organization_id, org_role, website_id, website_role
        )
        _check(policy, assignments, Permission.WEBSITE_READ, permission)
        return WebsiteContext(
            caller, website_id, organization_id, name, url, created_at, assignments, policy
        )

    guard.permission = permission  # type: ignore[attr-defined]  # read by the route-walk test
    return Depends(guard)


OrganizationRead = Annotated[OrganizationContext, organization_guard(Permission.ORGANIZATION_READ)]
OrganizationUpdate = Annotated[
    OrganizationContext, organization_guard(Permission.ORGANIZATION_UPDATE)
]
OrganizationDelete = Annotated[
    OrganizationContext, organization_guard(Permission.ORGANIZATION_DELETE)
]
OrganizationMembersRead = Annotated[
    OrganizationContext, organization_guard(Permission.ORGANIZATION_MEMBER_READ)
]
OrganizationMembersUpdate = Annotated[
    OrganizationContext, organization_guard(Permission.ORGANIZATION_MEMBER_UPDATE)
]
OrganizationInvitationsRead = Annotated[
    OrganizationContext, organization_guard(Permission.ORGANIZATION_INVITATION_READ)
]
OrganizationInvitationsCreate = Annotated[
    OrganizationContext, organization_guard(Permission.ORGANIZATION_INVITATION_CREATE)
]
OrganizationInvitationsDelete = Annotated[
    OrganizationContext, organization_guard(Permission.ORGANIZATION_INVITATION_DELETE)
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
WebsiteMembersRead = Annotated[WebsiteContext, website_guard(Permission.WEBSITE_MEMBER_READ)]
WebsiteMembersUpdate = Annotated[WebsiteContext, website_guard(Permission.WEBSITE_MEMBER_UPDATE)]
WebsiteInvitationsRead = Annotated[
    WebsiteContext, website_guard(Permission.WEBSITE_INVITATION_READ)
]
WebsiteInvitationsCreate = Annotated[
    WebsiteContext, website_guard(Permission.WEBSITE_INVITATION_CREATE)
]
WebsiteInvitationsDelete = Annotated[
    WebsiteContext, website_guard(Permission.WEBSITE_INVITATION_DELETE)
]


def require(context: OrganizationContext | WebsiteContext, *permissions: Permission) -> None:
    """403 unless the caller, in the context's domains, holds one of `permissions` (for routes
    whose action depends on the target, such as removing yourself versus someone else)."""
    if not any(context.policy.allows(context.assignments, p) for p in permissions):
        raise Forbidden()
