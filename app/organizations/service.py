"""Organization use cases: listing, renaming, deletion and the audit trail.

Founding an organization and everything about its members lives in `app.memberships`.
"""

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.service import record_event
from app.authz.engine import PolicyEngine
from app.authz.permissions import Permission
from app.errors import NotFound
from app.memberships.models import OrganizationMembership as Membership
from app.organizations.models import Organization
from app.organizations.schemas import AuditEventPublic, OrganizationPublic
from app.pagination import Page, PageParams, build_page


async def list_organizations(
    session: AsyncSession, policy: PolicyEngine, user_id: UUID, params: PageParams
) -> Page[OrganizationPublic]:
    """The organizations the user holds a role in that lets them read it, with that role."""
    readable_roles, _ = policy.granting_roles(Permission.ORGANIZATION_READ)
    rows = (
        await session.execute(
            sa.select(
                Organization.id,  # type: ignore[call-overload]
                Organization.name,
                Organization.created_at,
                Membership.role,
                Organization.id.label("cursor_id"),  # type: ignore[attr-defined]
            )
            .join(Membership, Membership.organization_id == Organization.id)  # type: ignore[arg-type]
            .where(
                Membership.user_id == user_id,  # type: ignore[arg-type]
                Membership.role.in_(readable_roles),  # type: ignore[attr-defined]
                params.keyset(Organization.created_at, Organization.id),
            )
            .order_by(Organization.created_at, Organization.id)
            .limit(params.limit + 1)
        )
    ).all()
    return build_page(
        list(rows),
        params,
        lambda r: OrganizationPublic(id=r.id, name=r.name, created_at=r.created_at, my_role=r.role),
    )


async def rename_organization(session: AsyncSession, organization_id: UUID, name: str) -> None:
    """Set the organization's name (404 when it was deleted since the guard read it)."""
    renamed = await session.scalar(
        sa.update(Organization)
        .where(Organization.id == organization_id)  # type: ignore[arg-type]
        .values(name=name, updated_at=sa.func.now())
        .returning(Organization.id)  # type: ignore[call-overload]
    )
    if renamed is None:
        raise NotFound()


async def delete_organization(session: AsyncSession, organization_id: UUID, actor_id: UUID) -> None:
    """Delete the organization; websites, memberships and invitations go with it (FK cascades)."""
    name = await session.scalar(
        sa.select(Organization.name).where(Organization.id == organization_id).with_for_update()  # type: ignore[call-overload, arg-type]
    )
    if name is None:
        raise NotFound()
    await record_event(
        session,
        organization_id=organization_id,
        actor_id=actor_id,
        action="organization.deleted",
        target_type="organization",
        target_id=organization_id,
        before={"name": name},
    )
    await session.execute(sa.delete(Organization).where(Organization.id == organization_id))  # type: ignore[arg-type]


async def list_audit_events(
    session: AsyncSession, organization_id: UUID, params: PageParams
) -> Page[AuditEventPublic]:
    """The organization's audit events, newest first."""
    rows = (
        await session.execute(
            sa.select(AuditEvent, AuditEvent.id.label("cursor_id"), AuditEvent.created_at.label("created_at"))  # type: ignore[attr-defined]
            .where(
                AuditEvent.organization_id == organization_id,  # type: ignore[arg-type]
                params.keyset_desc(AuditEvent.created_at, AuditEvent.id),
            )
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())  # type: ignore[attr-defined]
            .limit(params.limit + 1)
        )
    ).all()
    return build_page(
        list(rows),
        params,
        lambda r: AuditEventPublic.model_validate(r.AuditEvent, from_attributes=True),
    )
