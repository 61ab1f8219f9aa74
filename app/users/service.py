"""Profile, password change and account deletion."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import Caller
from app.auth.errors import InvalidAccessToken
from app.auth.passwords import hash_password, verify_password
from app.auth.service import check_new_password, revoke_logins, void_reset_links
from app.authz.engine import PolicyEngine
from app.config import Settings
from app.db import RequestDatabase, utcnow
from app.memberships.service import leave_all_organizations
from app.users.models import User


async def _account(session: AsyncSession, caller: Caller) -> User:
    # The row may have gone since the request authenticated.
    user = await session.get(User, caller.user.id)
    if user is None:
        raise InvalidAccessToken()
    return user


async def update_profile(session: AsyncSession, caller: Caller, *, full_name: str | None) -> User:
    """Set the user's full name (None clears it)."""
    user = await _account(session, caller)
    user.full_name = full_name
    user.updated_at = utcnow()
    await session.flush()
    return user


_STORED_HASH_SQL = "SELECT hashed_password FROM users WHERE id = $1"


async def password_matches(db: RequestDatabase, caller: Caller, password: str) -> bool:
    """Whether `password` is the caller's. The hash is read with a plain read that gives its
    connection back at once, so a request waiting for a hashing slot holds no pooled
    connection; call this before the request's session starts."""
    row = await db.fetchrow(_STORED_HASH_SQL, caller.user.id)
    if row is None:
        raise InvalidAccessToken()  # the account went since the request authenticated
    ok, _ = await verify_password(password, row[0])
    return ok


async def change_password(
    db: RequestDatabase, settings: Settings, caller: Caller, *, new_password: str
) -> None:
    """Replace the password (the current one already checked, see `password_matches`); other
    logins end, this one stays. The new hash is computed before the session takes a
    connection."""
    check_new_password(new_password, caller.user.email, settings, field="new_password")
    hashed = await hash_password(new_password)
    session = db.session
    user = await _account(session, caller)
    user.hashed_password = hashed
    user.updated_at = utcnow()
    await revoke_logins(session, user.id, keep=caller.session_id)
    await void_reset_links(session, user.id)
    await session.flush()


async def delete_account(session: AsyncSession, policy: PolicyEngine, caller: Caller) -> None:
    """Delete the user (the password already checked, see `password_matches`), leaving or
    deleting their organizations first."""
    user = await _account(session, caller)
    await leave_all_organizations(session, policy, user.id)
    await session.delete(user)
    await session.flush()
