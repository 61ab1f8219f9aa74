"""Membership use cases at both levels: found an organization with its first admin, add a member,
list members, change a member's role, remove a member (or leave), and leave every organization
before an account is deleted.

The last-admin rule (organizations only): an organization always keeps a member who may administer
its members. Every change that can remove such a member first locks the organization row
(`FOR UPDATE`), so two admins demoting each other at the same moment are serialized and the second
sees the first's result. Which roles count as administering comes from the enforcer, not from
role names here. Websites have no such rule: their organization's admins administer them.
"""

from dataclasses import dataclass
from typing import Any, Literal, cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit.service import record_event
from app.authz.engine import PolicyEngine
from app.authz.permissions import Permission
from app.errors import NotFound, unique_conflicts
from app.memberships.errors import AlreadyMember, LastAdmin
from app.memberships.models import Membership, OrganizationMembership, WebsiteMembership
from app.memberships.roles import Role
from app.memberships.schemas import MemberPublic, MemberUser, member_public
from app.organizations.models import Organization
from app.organizations.service import delete_organization
from app.pagination import Page, PageParams, paginate
from app.users.models import User
from app.websites.models import Website


@dataclass(frozen=True, slots=True)
class Level:
    """Where a membership holds: its table, and the column naming the organization or website."""

    name: Literal["organization", "website"]
    model: type[OrganizationMembership] | type[WebsiteMembership]
    scope: Any


ORGANIZATION = Level("organization", OrganizationMembership, OrganizationMembership.organization_id)
WEBSITE = Level("website", WebsiteMembership, WebsiteMembership.website_id)


def _event_details(level: Level, scope_id: UUID) -> dict[str, Any]:
    # Audit events belong to an organization; a website member's event names its website.
    return {"website_id": str(scope_id)} if level is WEBSITE else {}


async def found_organization(
    session: AsyncSession, *, name: str, owner_id: UUID
) -> tuple[Organization, Role]:
    """Create an organization whose only member is `owner_id`, as its admin."""
    organization = Organization(name=name)
    session.add(organization)
    await session.flush()
    session.add(
        OrganizationMembership(organization_id=organization.id, user_id=owner_id, role=Role.ADMIN)
    )
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
    return organization, Role.ADMIN


async def add_member(
    session: AsyncSession, level: Level, scope_id: UUID, user_id: UUID, role: str
) -> Membership:
    """Give the user a role at this level (409 `already_member` if they hold one already)."""
    membership: Membership
    if level is ORGANIZATION:
        membership = OrganizationMembership(organization_id=scope_id, user_id=user_id, role=role)
    else:
        membership = WebsiteMembership(website_id=scope_id, user_id=user_id, role=role)
    unique = f"pk_{membership.__tablename__}"
    with unique_conflicts(**{unique: AlreadyMember}):
        async with session.begin_nested():
            session.add(membership)
            await session.flush()
    return membership


async def list_members(
    session: AsyncSession, level: Level, scope_id: UUID, params: PageParams
) -> Page[MemberPublic]:
    """The members holding a role at this level, oldest first (an organization's members only
    at the organization level, a website's only at the website level)."""
    model = level.model
    statement = (
        sa.select(
            col(User.id),
            col(User.email),
            col(User.full_name),
            col(model.role),
            col(model.created_at),
        )
        .join(User, col(User.id) == model.user_id)
        .where(level.scope == scope_id)
    )
    return await paginate(
        session,
        statement,
        params,
        order=(col(model.created_at), col(model.user_id)),
        to_item=member_public,
    )


async def lock_organization(session: AsyncSession, organization_id: UUID) -> bool:
    """Lock the organization row (serializing admin-set changes); False if it no longer exists."""
    locked = await session.scalar(
        sa.select(col(Organization.id))
        .where(col(Organization.id) == organization_id)
        .with_for_update()
    )
    return locked is not None


async def ensure_another_admin(
    session: AsyncSession,
    policy: PolicyEngine,
    organization_id: UUID,
    leaving_user: UUID,
    new_role: str | None,
) -> None:
    """409 `last_admin` if `leaving_user` is an admin, would stop being one, and no other admin
    remains. The organization row must already be locked by the caller."""
    admin_roles, _ = policy.granting_roles(Permission.ORGANIZATION_MEMBER_UPDATE)
    if new_role is not None and new_role in admin_roles:
        return
    others = await session.scalar(
        sa.select(sa.func.count())
        .select_from(OrganizationMembership)
        .where(
            col(OrganizationMembership.organization_id) == organization_id,
            col(OrganizationMembership.user_id) != leaving_user,
            col(OrganizationMembership.role).in_(admin_roles),
        )
    )
    current = await session.scalar(
        sa.select(col(OrganizationMembership.role)).where(
            col(OrganizationMembership.organization_id) == organization_id,
            col(OrganizationMembership.user_id) == leaving_user,
        )
    )
    if current in admin_roles and not others:
        raise LastAdmin()


async def _locked_membership(
    session: AsyncSession, level: Level, scope_id: UUID, user_id: UUID
) -> Membership:
    """The membership at this level, locked; 404 when the user holds no role there.

    An organization's changes lock the organization row first (the last-admin rule), so its
    membership is locked after it, in the same order everywhere.
    """
    if level is ORGANIZATION and not await lock_organization(session, scope_id):
        raise NotFound()
    membership = cast(
        Membership | None,
        await session.get(level.model, (scope_id, user_id), with_for_update=True),
    )
    if membership is None:
        raise NotFound("No such member.")
    return membership


async def _member_answer(session: AsyncSession, membership: Membership) -> MemberPublic:
    user = await session.get(User, membership.user_id)
    assert user is not None  # noqa: S101 - the membership's foreign key guarantees it
    return MemberPublic(
        user=MemberUser(id=user.id, email=user.email, full_name=user.full_name),
        role=Role(membership.role),
        joined_at=membership.created_at,
    )


async def change_role(
    session: AsyncSession,
    policy: PolicyEngine,
    level: Level,
    *,
    scope_id: UUID,
    organization_id: UUID,
    user_id: UUID,
    role: str,
    actor_id: UUID | None,
) -> MemberPublic:
    """Give a member another role at this level; an organization keeps an admin. `actor_id` is
    None when no user of the API acts (an admin command, see `app.audit.service.acting_as`)."""
    membership = await _locked_membership(session, level, scope_id, user_id)
    previous = membership.role
    if previous != role:
        if level is ORGANIZATION:
            await ensure_another_admin(session, policy, organization_id, user_id, role)
        details = _event_details(level, scope_id)
        membership.role = role
        await record_event(
            session,
            organization_id=organization_id,
            actor_id=actor_id,
            action=f"{level.name}_member.role_changed",
            target_type="user",
            target_id=user_id,
            before={"role": previous, **details},
            after={"role": role, **details},
        )
        await session.flush()
    return await _member_answer(session, membership)


async def remove_member(
    session: AsyncSession,
    policy: PolicyEngine,
    level: Level,
    *,
    scope_id: UUID,
    organization_id: UUID,
    user_id: UUID,
    actor_id: UUID,
) -> None:
    """Remove a member at this level, or let them leave (`actor_id == user_id`). Leaving an
    organization also ends the user's roles on its websites; an organization keeps an admin."""
    membership = await _locked_membership(session, level, scope_id, user_id)
    if level is ORGANIZATION:
        await ensure_another_admin(session, policy, organization_id, user_id, None)
    await record_event(
        session,
        organization_id=organization_id,
        actor_id=actor_id,
        action=f"{level.name}_member.{'left' if actor_id == user_id else 'removed'}",
        target_type="user",
        target_id=user_id,
        before={"role": membership.role, **_event_details(level, scope_id)},
    )
    await session.delete(membership)
    if level is ORGANIZATION:
        await session.execute(
            sa.delete(WebsiteMembership).where(
                col(WebsiteMembership.user_id) == user_id,
                col(WebsiteMembership.website_id).in_(
                    sa.select(col(Website.id)).where(
                        col(Website.organization_id) == organization_id
                    )
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
            sa.select(col(OrganizationMembership.organization_id))
            .where(col(OrganizationMembership.user_id) == user_id)
            .order_by(col(OrganizationMembership.organization_id))
        )
    ).all()
    for organization_id in organization_ids:
        if not await lock_organization(session, organization_id):
            continue  # deleted meanwhile
        member_ids = set(
            (
                await session.scalars(
                    sa.select(col(OrganizationMembership.user_id)).where(
                        col(OrganizationMembership.organization_id) == organization_id
                    )
                )
            ).all()
        )
        if user_id not in member_ids:
            continue  # removed meanwhile
        if member_ids == {user_id}:
            await delete_organization(session, organization_id, user_id)
        else:
            await ensure_another_admin(session, policy, organization_id, user_id, None)
            await record_event(
                session,
                organization_id=organization_id,
                actor_id=user_id,
                action="organization_member.account_deleted",
                target_type="user",
                target_id=user_id,
            )
