"""Profile, password change and account deletion."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import Caller, invalid_token
from app.auth.passwords import hash_password, verify_password
from app.auth.service import check_new_password, revoke_logins, void_reset_links
from app.authz.engine import PolicyEngine
from app.config import Settings
from app.db import utcnow
from app.errors import BadRequest
from app.memberships.service import leave_all_organizations
from app.users.models import User


async def _account(session: AsyncSession, caller: Caller) -> User:
    # The row may have gone since the request authenticated.
    user = await session.get(User, caller.user.id)
    if user is None:
        raise invalid_token()
    return user


async def update_profile(session: AsyncSession, caller: Caller, *, full_name: str | None) -> User:
    """Set the user's full name (None clears it)."""
    user = await _account(session, caller)
    user.full_name = full_name
    user.updated_at = utcnow()
    await session.flush()
    return user


async def _require_password(user: User, password: str) -> None:
    ok, _ = await verify_password(password, user.hashed_password)
    if not ok:
        raise BadRequest("The password is incorrect.", code="invalid_password")


async def change_password(
    session: AsyncSession,
    settings: Settings,
    caller: Caller,
    *,
    current_password: str,
    new_password: str,
) -> None:
    """Replace the password after checking the current one; other logins end, this one stays."""
    user = await _account(session, caller)
    await _require_password(user, current_password)
    check_new_password(new_password, user.email, settings, field="new_password")
    user.hashed_password = await hash_password(new_password)
    user.updated_at = utcnow()
    await revoke_logins(session, user.id, keep=caller.session_id)
    await void_reset_links(session, user.id)
    await session.flush()


async def delete_account(
    session: AsyncSession, policy: PolicyEngine, caller: Caller, *, password: str
) -> None:
    """Delete the user after checking the password, leaving or deleting their organizations first."""
    user = await _account(session, caller)
    await _require_password(user, password)
    await leave_all_organizations(session, policy, user.id)
    await session.delete(user)
    await session.flush()
