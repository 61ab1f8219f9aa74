"""Organization use cases: creation, listing, renaming, deletion and memberships.

The last-admin rule: an organization always keeps a member who may administer its members.
Every change that can remove such a member first locks the organization row (`FOR UPDATE`), so two
admins demoting each other at the same moment are serialized and the second sees the first's
result. Which roles count as administering comes from the enforcer, not from role names here.
"""

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.service import record_event
from app.authz.engine import PolicyEngine
from app.authz.permissions import MembershipRole, Permission
from app.errors import Conflict, NotFound
from app.organizations.models import Organization, OrganizationMembership
from app.organizations.schemas import AuditEventPublic, MemberPublic, MemberUser, OrganizationPublic
from app.pagination import Page, PageParams, build_page
from app.users.models import User
from app.websites.models import Website, WebsiteMembership

OWNER_ROLE: MembershipRole = "admin"
Membership = OrganizationMembership


async def create_organization(
    session: AsyncSession, *, name: str, owner_id: UUID
) -> tuple[Organization, str]:
    """Create an organization whose only member is `owner_id`, as its admin. Returns (org, role)."""
    organization = Organization(name=name)
    session.add(organization)
    await session.flush()
    session.add(Membership(organization_id=organization.id, user_id=owner_id, role=OWNER_ROLE))
    await record_event(
        session,
        organization_id=organization.id,
        actor_id=owner_id,
        action="organization.created",
        target_type="organization",
        target_id=organization.id,
        after={"name": name},
    )
    await session.flush()
    return organization, OWNER_ROLE


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


async def list_members(
    session: AsyncSession, organization_id: UUID, params: PageParams
) -> Page[MemberPublic]:
    """The organization's members, oldest first."""
    rows = (
        await session.execute(
            sa.select(
                User.id,  # type: ignore[call-overload]
                User.email,
                User.full_name,
                Membership.role,
                Membership.created_at,
                Membership.user_id.label("cursor_id"),  # type: ignore[attr-defined]
            )
            .join(User, User.id == Membership.user_id)  # type: ignore[arg-type]
            .where(
                Membership.organization_id == organization_id,  # type: ignore[arg-type]
                params.keyset(Membership.created_at, Membership.user_id),
            )
            .order_by(Membership.created_at, Membership.user_id)
            .limit(params.limit + 1)
        )
    ).all()
    return build_page(list(rows), params, member_public)


def member_public(row: Any) -> MemberPublic:
    """A member row (user id, email, full name, role, created_at) as the API shows it."""
    return MemberPublic(
        user=MemberUser(id=row.id, email=row.email, full_name=row.full_name),
        role=row.role,
        joined_at=row.created_at,
    )


async def _lock_organization(session: AsyncSession, organization_id: UUID) -> bool:
    """Lock the organization row (serializing admin-set changes); False if it no longer exists."""
    locked = await session.scalar(
        sa.select(Organization.id).where(Organization.id == organization_id).with_for_update()  # type: ignore[arg-type, call-overload]
    )
    return locked is not None


def _admin_roles(policy: PolicyEngine) -> list[str]:
    org_roles, _ = policy.granting_roles(Permission.ORGANIZATION_MEMBER_UPDATE)
    return org_roles


async def _ensure_another_admin(
    session: AsyncSession,
    policy: PolicyEngine,
    organization_id: UUID,
    leaving_user: UUID,
    new_role: str | None,
) -> None:
    """409 `last_admin` if `leaving_user` is an admin, would stop being one, and no other admin remains.

    The organization row must already be locked by the caller.
    """
    admin_roles = _admin_roles(policy)
    if new_role is not None and new_role in admin_roles:
        return
    others = await session.scalar(
        sa.select(sa.func.count())
        .select_from(Membership)
        .where(
            Membership.organization_id == organization_id,  # type: ignore[arg-type]
            Membership.user_id != leaving_user,  # type: ignore[arg-type]
            Membership.role.in_(admin_roles),  # type: ignore[attr-defined]
        )
    )
    current = await session.scalar(
        sa.select(Membership.role).where(  # type: ignore[call-overload, arg-type]
            Membership.organization_id == organization_id,  # type: ignore[arg-type]
            Membership.user_id == leaving_user,  # type: ignore[arg-type]
        )
    )
    if current in admin_roles and not others:
        raise Conflict("The organization must keep at least one admin.", code="last_admin")


async def _membership(session: AsyncSession, organization_id: UUID, user_id: UUID) -> Membership:
    membership = await session.get(Membership, (organization_id, user_id))
    if membership is None:
        raise NotFound("No such member.")
    return membership


async def change_member_role(
    session: AsyncSession,
    policy: PolicyEngine,
    organization_id: UUID,
    user_id: UUID,
    role: str,
    actor_id: UUID | None,
) -> MemberPublic:
    """Give a member another role, keeping an admin. `actor_id` is None when no user of the
    API acts (an admin command, see `app.audit.service.acting_as`)."""
    if not await _lock_organization(session, organization_id):
        raise NotFound()
    membership = await _membership(session, organization_id, user_id)
    previous = membership.role
    if previous != role:
        await _ensure_another_admin(session, policy, organization_id, user_id, role)
        membership.role = role
        await record_event(
            session,
            organization_id=organization_id,
            actor_id=actor_id,
            action="organization_member.role_changed",
            target_type="user",
            target_id=user_id,
            before={"role": previous},
            after={"role": role},
        )
        await session.flush()
    user = await session.get(User, user_id)
    assert user is not None  # noqa: S101 - the membership's foreign key guarantees it
    return MemberPublic(
        user=MemberUser(id=user.id, email=user.email, full_name=user.full_name),
        role=membership.role,  # type: ignore[arg-type]
        joined_at=membership.created_at,
    )


async def remove_member(
    session: AsyncSession,
    policy: PolicyEngine,
    organization_id: UUID,
    user_id: UUID,
    actor_id: UUID,
) -> None:
    """Remove a member (or let them leave), with their roles on the organization's websites."""
    if not await _lock_organization(session, organization_id):
        raise NotFound()
    membership = await _membership(session, organization_id, user_id)
    await _ensure_another_admin(session, policy, organization_id, user_id, None)
    await record_event(
        session,
        organization_id=organization_id,
        actor_id=actor_id,
        action="organization_member.left" if actor_id == user_id else "organization_member.removed",
        target_type="user",
        target_id=user_id,
        before={"role": membership.role},
    )
    await session.delete(membership)
    await session.execute(
        sa.delete(WebsiteMembership).where(
            WebsiteMembership.user_id == user_id,  # type: ignore[arg-type]
            WebsiteMembership.website_id.in_(  # type: ignore[attr-defined]
                sa.select(Website.id).where(Website.organization_id == organization_id)  # type: ignore[arg-type, call-overload]
            ),
        )
    )
    await session.flush()


async def leave_all_organizations(
    session: AsyncSession, policy: PolicyEngine, user_id: UUID
) -> None:
    """Before an account is deleted: delete organizations where the user is the only member, and
    refuse (409 `last_admin`) where they are the only admin of an organization with other members.

    Organizations are locked in id order so concurrent deletions cannot deadlock. Membership is
    read again under each lock: a concurrent removal or organization deletion may have changed it
    since the list was read, and only an organization whose sole member is this user may go.
    """
    organization_ids = (
        await session.scalars(
            sa.select(Membership.organization_id)  # type: ignore[call-overload, arg-type]
            .where(Membership.user_id == user_id)  # type: ignore[arg-type]
            .order_by(Membership.organization_id)
        )
    ).all()
    for organization_id in organization_ids:
        if not await _lock_organization(session, organization_id):
            continue  # deleted meanwhile
        member_ids = set(
            (
                await session.scalars(
                    sa.select(Membership.user_id).where(Membership.organization_id == organization_id)  # type: ignore[arg-type, call-overload]
                )
            ).all()
        )
        if user_id not in member_ids:
            continue  # removed meanwhile
        if member_ids == {user_id}:
            await delete_organization(session, organization_id, user_id)
        else:
            await _ensure_another_admin(session, policy, organization_id, user_id, None)
            await record_event(
                session,
                organization_id=organization_id,
                actor_id=user_id,
                action="organization_member.account_deleted",
                target_type="user",
                target_id=user_id,
            )


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
