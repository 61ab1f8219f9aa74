"""The authentication queries of the request path, as SQL run on the request's connection.

Every authenticated request proves that its login is live: the access token names a user and a
login (`sid`), and the row must exist and not be revoked. These statements are the hot path of
the service (one per request that has no guard, folded into the guard's statement otherwise), so
they are plain SQL for asyncpg, prepared once per connection, returning typed rows.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from app.db import RequestDatabase


class Account(NamedTuple):
    """The caller's account as the request path reads it."""

    id: UUID
    email: str
    full_name: str | None
    email_verified_at: datetime | None
    created_at: datetime


ACCOUNT_COLUMNS = "u.id, u.email, u.full_name, u.email_verified_at, u.created_at"
"""The `Account` columns of `users AS u`, in order: statements that fold the login check into
a larger query select these first (and read them back with `split_account`)."""

_ACCOUNT_WIDTH = len(Account._fields)


def split_account(row: Sequence[Any]) -> tuple[Account, tuple[Any, ...]]:
    """A row that starts with ACCOUNT_COLUMNS: the account, and the columns after it."""
    values = tuple(row)
    return Account(*values[:_ACCOUNT_WIDTH]), values[_ACCOUNT_WIDTH:]


LIVE_LOGIN_JOIN = (
    "JOIN login_sessions AS s ON s.id = $2 AND s.user_id = u.id AND s.revoked_at IS NULL"
)
"""Joined to `users AS u` (with `u.id = $1`): no row unless the login is live."""

# Built from the fixed fragments above; every value is a bound parameter.
_ACCOUNT_SQL = (
    f"SELECT {ACCOUNT_COLUMNS} FROM users AS u {LIVE_LOGIN_JOIN} WHERE u.id = $1"  # noqa: S608
)


async def live_account(db: RequestDatabase, user_id: UUID, session_id: UUID) -> Account | None:
    """The user's account if the login is live (not revoked, user not deleted), else None."""
    row = await db.fetchrow(_ACCOUNT_SQL, user_id, session_id)
    return Account(*row) if row is not None else None


class Credentials(NamedTuple):
    """What a login checks: the account's id and password hash."""

    id: UUID
    hashed_password: str


_CREDENTIALS_SQL = "SELECT id, hashed_password FROM users WHERE email = $1"


async def credentials(db: RequestDatabase, email: str) -> Credentials | None:
    """The account registered with this (normalized) address, if any.

    A plain read that gives its connection back at once, so a login waiting for a hashing slot
    holds no pooled connection.
    """
    row = await db.fetchrow(_CREDENTIALS_SQL, email)
    return Credentials(*row) if row is not None else None
