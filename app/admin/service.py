"""The admin commands' use cases: create and verify accounts, change an organization role, end
logins, disable and enable accounts.

Each runs in the caller's transaction (the command commits once, at the end) and records its
audit events with `admin-cli` as the actor (`app.audit.service.acting_as`). They call the same
service functions as the API, so its rules hold: the last-admin rule, the password rules, an
account owning an organization from its creation.
"""

from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit.service import record_event
from app.auth.models import LoginSession
from app.auth.passwords import hash_password
from app.auth.service import check_new_password, revoke_logins
from app.authz.engine import PolicyEngine
from app.config import Settings
from app.db import utcnow
from app.errors import AppError
from app.memberships.roles import Role
from app.memberships.service import ORGANIZATION, change_role, found_organization
from app.types import normalize_email
from app.users.models import User

ADMIN_ACTOR = "admin-cli"


class AdminError(Exception):
    """A command that cannot be carried out, with the reason to show the admin."""


def _email(value: str) -> str:
    try:
        return normalize_email(value)
    except ValueError:
        raise AdminError(f"{value!r} is not an email address") from None


async def _user(session: AsyncSession, email: str, *, lock: bool = False) -> User:
    statement = sa.select(User).where(col(User.email) == _email(email))
    if lock:
        statement = statement.with_for_update()
    user = await session.scalar(statement)
    if user is None:
        raise AdminError(f"no account with the email {_email(email)}")
    return user


async def _account_event(
    session: AsyncSession,
    user: User,
    action: str,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> None:
    # An event about the account alone: it belongs to no organization.
    await record_event(
        session,
        organization_id=None,
        actor_id=None,
        action=action,
        target_type="user",
        target_id=user.id,
        before=before,
        after=after,
    )


async def create_user(session: AsyncSession, settings: Settings, email: str, password: str) -> User:
    """A verified account with its own organization (as registration makes it, without mail).

    Refuses a taken address and a password the API would refuse.
    """
    address = _email(email)
    try:
        check_new_password(password, address, settings)
    except AppError as exc:
        raise AdminError(f"password refused: {exc.detail}") from None
    if await session.scalar(sa.select(col(User.id)).where(col(User.email) == address)):
        raise AdminError(f"an account with the email {address} exists")
    now = utcnow()
    user = User(email=address, hashed_password=await hash_password(password), email_verified_at=now)
    session.add(user)
    await session.flush()
    name = f"{address.split('@', 1)[0]}'s organization"[:100]
    organization, _ = await found_organization(session, name=name, owner_id=user.id)
    await record_event(
        session,
        organization_id=organization.id,
        actor_id=None,
        action="user.created",
        target_type="user",
        target_id=user.id,
        after={"email": address, "email_verified": True},
    )
    return user


async def verify_user(session: AsyncSession, email: str) -> bool:
    """Mark the email verified; False when it already was (nothing recorded)."""
    user = await _user(session, email, lock=True)
    if user.email_verified_at is not None:
        return False
    user.email_verified_at = user.updated_at = utcnow()
    await _account_event(
        session,
        user,
        "user.verified",
        before={"email_verified": False},
        after={"email_verified": True},
    )
    return True


@dataclass(frozen=True, slots=True)
class RoleChange:
    """An organization role before and after `set_role`."""

    user_id: UUID
    before: str
    after: str


async def set_role(
    session: AsyncSession,
    policy: PolicyEngine,
    organization_id: UUID,
    email: str,
    role: Role,
) -> RoleChange:
    """Give a member of the organization another role; the last-admin rule holds."""
    user = await _user(session, email)
    before = await session.scalar(
        sa.text(
            "SELECT role FROM organization_memberships "
            "WHERE organization_id = :organization AND user_id = :user"
        ),
        {"organization": organization_id, "user": user.id},
    )
    if before is None:
        raise AdminError(f"{user.email} is not a member of organization {organization_id}")
    try:
        member = await change_role(
            session,
            policy,
            ORGANIZATION,
            scope_id=organization_id,
            organization_id=organization_id,
            user_id=user.id,
            role=role,
            actor_id=None,
        )
    except AppError as exc:
        raise AdminError(f"{exc.code}: {exc.detail}") from None
    return RoleChange(user.id, str(before), member.role)


async def _live_logins(session: AsyncSession, user_id: UUID) -> int:
    return int(
        await session.scalar(
            sa.select(sa.func.count())
            .select_from(LoginSession)
            .where(col(LoginSession.user_id) == user_id, col(LoginSession.revoked_at).is_(None))
        )
        or 0
    )


async def revoke_sessions(session: AsyncSession, email: str) -> int:
    """End every login of the account (its access and refresh tokens stop working at once);
    returns how many were live."""
    user = await _user(session, email, lock=True)
    ended = await _live_logins(session, user.id)
    await revoke_logins(session, user.id)
    await _account_event(session, user, "user.sessions_revoked", after={"sessions_ended": ended})
    return ended


async def disable_user(session: AsyncSession, email: str) -> int | None:
    """Disable the account: every login ends and logging in is refused until `enable_user`.
    Returns the number of logins ended, None when it was already disabled.

    The account row is locked first, so a login racing with this either sees the account
    disabled or commits before and is ended here with the others.
    """
    user = await _user(session, email, lock=True)
    if user.disabled_at is not None:
        return None
    user.disabled_at = user.updated_at = utcnow()
    ended = await _live_logins(session, user.id)
    await revoke_logins(session, user.id)
    await _account_event(
        session,
        user,
        "user.disabled",
        before={"disabled": False},
        after={"disabled": True, "sessions_ended": ended},
    )
    return ended


async def enable_user(session: AsyncSession, email: str) -> bool:
    """Let a disabled account log in again; False when it was not disabled."""
    user = await _user(session, email, lock=True)
    if user.disabled_at is None:
        return False
    user.disabled_at = None
    user.updated_at = utcnow()
    await _account_event(
        session, user, "user.enabled", before={"disabled": True}, after={"disabled": False}
    )
    return True
