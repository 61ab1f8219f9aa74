"""Organization use cases: listing, renaming, deletion and the audit trail.

Founding an organization and everything about its members lives in `app.memberships`.
"""

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit.models import AuditEvent
from app.audit.service import record_event
from app.authz.engine import PolicyEngine
from app.authz.permissions import Permission
from app.errors import NotFound
from app.memberships.models import OrganizationMembership as Membership
from app.organizations.models import Organization
from app.organizations.schemas import AuditEventPublic, OrganizationPublic, organization_public
from app.pagination import Page, PageParams, paginate


async def list_organizations(
    session: AsyncSession, policy: PolicyEngine, user_id: UUID, params: PageParams
) -> Page[OrganizationPublic]:
    """The organizations the user holds a role in that lets them read it, with that role."""
    readable_roles, _ = policy.granting_roles(Permission.ORGANIZATION_READ)
    statement = (
        sa.select(
            col(Organization.id),
            col(Organization.name),
            col(Organization.created_at),
            col(Membership.role),
        )
        .join(Membership, col(Membership.organization_id) == Organization.id)
        .where(col(Membership.user_id) == user_id, col(Membership.role).in_(readable_roles))
    )
    return await paginate(
        session,
        statement,
        params,
        order=(col(Organization.created_at), col(Organization.id)),
        to_item=lambda row: organization_public(row.id, row.name, row.created_at, row.role),
    )


async def rename_organization(session: AsyncSession, organization_id: UUID, name: str) -> None:
    """Set the organization's name (404 when it was deleted since the guard read it)."""
    renamed = await session.scalar(
        sa.update(Organization)
        .where(col(Organization.id) == organization_id)
        .values(name=name, updated_at=sa.func.now())
        .returning(col(Organization.id))
    )
    if renamed is None:
        raise NotFound()


async def delete_organization(session: AsyncSession, organization_id: UUID, actor_id: UUID) -> None:
    """Delete the organization; websites, memberships and invitations go with it (FK cascades)."""
    name = await session.scalar(
        sa.select(col(Organization.name))
        .where(col(Organization.id) == organization_id)
        .with_for_update()
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
    await session.execute(sa.delete(Organization).where(col(Organization.id) == organization_id))


async def list_audit_events(
    session: AsyncSession, organization_id: UUID, params: PageParams
) -> Page[AuditEventPublic]:
    """The organization's audit events, newest first."""
    return await paginate(
        session,
        sa.select(AuditEvent).where(col(AuditEvent.organization_id) == organization_id),
        params,
        order=(col(AuditEvent.created_at), col(AuditEvent.id)),
        to_item=lambda row: AuditEventPublic.model_validate(row.AuditEvent, from_attributes=True),
        newest_first=True,
    )
