"""Account use cases: registration, login, refresh rotation, logout, verification and reset."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.errors import (
    AccountDisabled,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
)
from app.auth.models import AccountToken, LoginSession, RefreshToken
from app.auth.passwords import hash_password, password_problem, verify_password
from app.auth.repository import credentials
from app.auth.schemas import LoginPublic, login_public
from app.auth.tokens import create_access_token, hash_token, new_opaque_token
from app.config import Settings
from app.db import RequestDatabase, utcnow
from app.errors import InvalidToken, NotFound, ValidationFailed, violated_unique_constraint
from app.mail.outbox import queue_mail
from app.mail.templates import lifetime_text
from app.memberships.service import found_organization
from app.pagination import Page, PageParams, paginate
from app.types import normalize_email
from app.users.models import User

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a token purpose


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """A fresh access token and refresh token for one login."""

    access_token: str
    refresh_token: str
    expires_in: int


def check_new_password(
    password: str, email: str, settings: Settings, field: str = "password"
) -> None:
    """422 unless the password meets the rules: its length, and with PASSWORD_SCREENING, not a
    common password and not the email address."""
    problem = password_problem(password, email, screen=settings.password_screening)
    if problem:
        raise ValidationFailed(["body", field], problem, "password_policy")


def _account_token_lifetime(settings: Settings, purpose: str) -> timedelta:
    if purpose == VERIFY_EMAIL:
        return timedelta(hours=settings.verification_token_hours)
    return timedelta(minutes=settings.reset_token_minutes)


async def _issue_account_token(
    session: AsyncSession, settings: Settings, user_id: UUID, purpose: str
) -> str:
    lifetime = _account_token_lifetime(settings, purpose)
    token = new_opaque_token()
    session.add(
        AccountToken(
            user_id=user_id,
            purpose=purpose,
            token_hash=hash_token(token, settings.signing_key()),
            expires_at=utcnow() + lifetime,
        )
    )
    await session.flush()
    return token


def _link_context(settings: Settings, path: str, token: str, purpose: str) -> dict[str, str]:
    """A mailed link and, in words, how long it stays valid."""
    return {
        "link": f"{settings.links_base_url}/{path}?token={token}",
        "valid_for": lifetime_text(_account_token_lifetime(settings, purpose)),
    }


async def queue_verification_mail(session: AsyncSession, settings: Settings, email: str) -> None:
    """Queue a verification mail to the address, in the caller's transaction. Its token is
    made when the mail is sent (see `account_mail_context`), so no raw token is ever stored."""
    await queue_mail(session, settings, email, VERIFY_EMAIL, {})


async def account_mail_context(
    session: AsyncSession,
    settings: Settings,
    recipient: str,
    template: str,
    context: dict[str, Any],
) -> dict[str, Any] | None:
    """What a queued mail is rendered with, decided when it is sent, in the sender's
    transaction: a verification mail gets a new token if the address has an unverified account,
    a reset mail if it has an account; otherwise there is nothing to send (None). Other mails
    keep the context they were queued with.

    The request that queued the mail did the same work whatever the address (one outbox row),
    so neither its answer nor its timing tells whether the address has an account; and the
    token exists only as its hash in the database and, raw, in the sent mail.
    """
    if template not in (VERIFY_EMAIL, RESET_PASSWORD):
        return context
    user = await session.scalar(sa.select(User).where(col(User.email) == recipient))
    if user is None or (template == VERIFY_EMAIL and user.email_verified_at is not None):
        return None
    path = "verify-email" if template == VERIFY_EMAIL else "reset-password"
    token = await _issue_account_token(session, settings, user.id, template)
    return _link_context(settings, path, token, template)


async def register(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    password: str,
    organization_name: str | None,
) -> None:
    """Create the user, their organization, the admin assignment and the verification mail.

    A taken address gets a "you already have an account" mail instead and no other change; the
    caller cannot tell the two apart, by the answer or by its timing: for a taken address the
    same rows (a user under a reserved placeholder address, its organization and membership) are
    written in a savepoint that is then rolled back, so both cases do the same work. The unique
    constraint on the email decides races: a concurrent winner turns this request into the
    "taken" case.
    """
    check_new_password(password, email, settings)
    hashed = await hash_password(password)
    taken = (
        await session.scalar(sa.select(col(User.id)).where(col(User.email) == email))
    ) is not None
    name = organization_name or f"{email.split('@', 1)[0]}'s organization"[:100]
    savepoint = await session.begin_nested()
    try:
        # RFC 2606 reserves .invalid: the placeholder can never be anyone's address.
        user = User(
            email=f"{uuid4().hex}@taken.invalid" if taken else email, hashed_password=hashed
        )
        session.add(user)
        await session.flush()
        await found_organization(session, name=name, owner_id=user.id)
    except IntegrityError as exc:
        # A concurrent registration of the address won; any other failure is not "taken".
        if violated_unique_constraint(exc) != "uq_users_email":
            raise
        taken = True
    if taken:
        await savepoint.rollback()
        # A page that asks for the address and mails a reset link: this mail itself carries no
        # token, since whoever registered may not own the address.
        reset_link = f"{settings.links_base_url}/forgot-password"
        await queue_mail(session, settings, email, "account_exists", {"reset_link": reset_link})
        return
    await savepoint.commit()
    await queue_verification_mail(session, settings, email)


USER_AGENT_LENGTH = 512


async def _start_login(
    session: AsyncSession, settings: Settings, user_id: UUID, user_agent: str | None = None
) -> IssuedTokens:
    login = LoginSession(
        user_id=user_id, user_agent=user_agent[:USER_AGENT_LENGTH] if user_agent else None
    )
    session.add(login)
    await session.flush()
    return await _issue_refresh(session, settings, login.id, user_id, utcnow())


def login_ends_at(settings: Settings, started_at: datetime) -> datetime:
    """When a login ends whatever its refreshes: LOGIN_MAX_DAYS after it started."""
    return started_at + timedelta(days=settings.login_max_days)


async def _issue_refresh(
    session: AsyncSession,
    settings: Settings,
    session_id: UUID,
    user_id: UUID,
    login_started_at: datetime,
) -> IssuedTokens:
    refresh = new_opaque_token()
    session.add(
        RefreshToken(
            session_id=session_id,
            token_hash=hash_token(refresh, settings.signing_key()),
            # Refreshing keeps a login alive, but never past its absolute lifetime.
            expires_at=min(
                utcnow() + timedelta(days=settings.refresh_token_days),
                login_ends_at(settings, login_started_at),
            ),
        )
    )
    await session.flush()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    access = create_access_token(
        user_id=user_id,
        session_id=session_id,
        key=settings.signing_key(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        lifetime=lifetime,
    )
    return IssuedTokens(access, refresh, int(lifetime.total_seconds()))


async def login(
    db: RequestDatabase,
    settings: Settings,
    *,
    username: str,
    password: str,
    user_agent: str | None = None,
) -> IssuedTokens:
    """Check the credentials and start a login. Unknown email and wrong password look the same.

    The password is checked with no database connection held (the account is read with a plain
    read first), so a burst of logins waiting for hashing slots cannot empty the pool.
    """
    try:
        email = normalize_email(username)
    except ValueError:
        email = None
    user = None
    if email is not None and len(password) <= 128:
        user = await credentials(db, email)
    ok, new_hash = await verify_password(password[:1024], user.hashed_password if user else None)
    if user is None or not ok:
        raise InvalidCredentials()
    session = db.session
    # Read under a share lock: a concurrent `disable-user` either is seen here, or waits for this
    # login to commit and then ends it with the account's other logins.
    account = (
        await session.execute(
            sa.select(col(User.disabled_at))
            .where(col(User.id) == user.id)
            .with_for_update(read=True)
        )
    ).first()
    if account is None:
        raise InvalidCredentials()
    if account.disabled_at is not None:
        # Only to the right password: the answer tells nothing to whoever does not know it.
        raise AccountDisabled()
    if new_hash:
        # Compare-and-swap: a parallel login that already upgraded the hash wins.
        await session.execute(
            sa.update(User)
            .where(col(User.id) == user.id, col(User.hashed_password) == user.hashed_password)
            .values(hashed_password=new_hash)
        )
    return await _start_login(session, settings, user.id, user_agent)


async def revoke_logins(session: AsyncSession, user_id: UUID, *, keep: UUID | None = None) -> None:
    """End every login of the user except `keep`."""
    condition = sa.and_(
        col(LoginSession.user_id) == user_id, col(LoginSession.revoked_at).is_(None)
    )
    if keep is not None:
        condition = sa.and_(condition, col(LoginSession.id) != keep)
    await session.execute(sa.update(LoginSession).where(condition).values(revoked_at=utcnow()))


async def refresh(session: AsyncSession, settings: Settings, *, token: str) -> IssuedTokens:
    """Rotate a refresh token. Presenting an already rotated one ends the whole login.

    The row is locked, so two simultaneous uses of one token cannot both rotate it: the second
    sees it used and is treated as reuse.
    """
    row = (
        await session.execute(
            sa.select(RefreshToken, LoginSession)
            .join(LoginSession, col(LoginSession.id) == col(RefreshToken.session_id))
            .where(col(RefreshToken.token_hash) == hash_token(token, settings.signing_key()))
            .with_for_update()
        )
    ).one_or_none()
    if row is None:
        raise InvalidRefreshToken()
    stored, login_session = row.tuple()
    if login_session.revoked_at is not None:
        raise InvalidRefreshToken()
    if stored.used_at is not None:
        # Reuse is checked before expiry: a stolen rotated token ends the login even when old.
        login_session.revoked_at = utcnow()
        # The revocation must stand although the request fails: commit it before answering 401.
        await session.commit()
        raise RefreshTokenReused()
    now = utcnow()
    if stored.expires_at <= now or login_ends_at(settings, login_session.created_at) <= now:
        raise InvalidRefreshToken()
    stored.used_at = now
    login_session.last_used_at = now
    return await _issue_refresh(
        session, settings, login_session.id, login_session.user_id, login_session.created_at
    )


async def logout(session: AsyncSession, settings: Settings, *, token: str) -> None:
    """End the login the refresh token belongs to (unknown tokens change nothing)."""
    session_id = await session.scalar(
        sa.select(col(RefreshToken.session_id)).where(
            col(RefreshToken.token_hash) == hash_token(token, settings.signing_key())
        )
    )
    if session_id is not None:
        await session.execute(
            sa.update(LoginSession)
            .where(col(LoginSession.id) == session_id, col(LoginSession.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        )


async def _use_account_token(
    session: AsyncSession, settings: Settings, token: str, purpose: str
) -> User:
    """Consume a single-use token of this purpose: 400 if unknown, used, expired or another kind."""
    row = (
        await session.execute(
            sa.select(AccountToken, User)
            .join(User, col(User.id) == col(AccountToken.user_id))
            .where(
                col(AccountToken.token_hash) == hash_token(token, settings.signing_key()),
                col(AccountToken.purpose) == purpose,
            )
            .with_for_update(of=col(AccountToken.id))
        )
    ).one_or_none()
    if row is None:
        raise InvalidToken()
    stored, user = row.tuple()
    if stored.used_at is not None or stored.expires_at <= utcnow():
        raise InvalidToken()
    stored.used_at = utcnow()
    return user


async def verify_email(session: AsyncSession, settings: Settings, *, token: str) -> User:
    """Mark the user's email verified."""
    user = await _use_account_token(session, settings, token, VERIFY_EMAIL)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        user.updated_at = utcnow()
    await session.flush()
    return user


async def resend_verification(session: AsyncSession, settings: Settings, *, email: str) -> None:
    """Queue a verification mail; the sender sends it only if the address has an unverified
    account (see `account_mail_context`), so this request does the same work for any address."""
    await queue_verification_mail(session, settings, email)


async def forgot_password(session: AsyncSession, settings: Settings, *, email: str) -> None:
    """Queue a reset mail; the sender sends it only if the address has an account (see
    `account_mail_context`), so this request does the same work for any address."""
    await queue_mail(session, settings, email, RESET_PASSWORD, {})


_RESET_LINK_OWNER = """
SELECT u.email FROM account_tokens AS t JOIN users AS u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > $3
"""


async def reset_password(
    db: RequestDatabase, settings: Settings, *, token: str, password: str
) -> str:
    """Set a new password from a reset token and end every login of the user; returns the
    account's email.

    Following the mailed link proves the address, so an unverified email becomes verified. The
    token is looked up with a plain read and the new password hashed before the token row is
    locked: no pooled connection (nor row lock) is held while the request waits for a hashing
    slot. Consuming the token re-checks it under the lock.
    """
    token_hash = hash_token(token, settings.signing_key())
    email = await db.fetchrow(_RESET_LINK_OWNER, token_hash, RESET_PASSWORD, utcnow())
    if email is None:
        raise InvalidToken()
    check_new_password(password, email[0], settings)
    hashed = await hash_password(password)
    session = db.session
    user = await _use_account_token(session, settings, token, RESET_PASSWORD)
    user.hashed_password = hashed
    now = utcnow()
    user.updated_at = now
    if user.email_verified_at is None:
        user.email_verified_at = now
    await void_reset_links(session, user.id)
    await revoke_logins(session, user.id)
    return user.email


async def void_reset_links(session: AsyncSession, user_id: UUID) -> None:
    """Password-reset links mailed earlier stop working (the password just changed)."""
    await session.execute(
        sa.update(AccountToken)
        .where(
            col(AccountToken.user_id) == user_id,
            col(AccountToken.purpose) == RESET_PASSWORD,
            col(AccountToken.used_at).is_(None),
        )
        .values(used_at=utcnow())
    )


def _live(user_id: UUID) -> sa.ColumnElement[bool]:
    # A login is live while it is not revoked and one of its refresh tokens can still be used.
    return sa.and_(
        col(LoginSession.user_id) == user_id,
        col(LoginSession.revoked_at).is_(None),
        sa.exists().where(
            col(RefreshToken.session_id) == col(LoginSession.id),
            col(RefreshToken.used_at).is_(None),
            col(RefreshToken.expires_at) > sa.func.now(),
        ),
    )


async def list_logins(
    session: AsyncSession, user_id: UUID, current: UUID, params: PageParams
) -> Page[LoginPublic]:
    """The user's live logins, newest first; `current` marks the caller's own."""
    statement = sa.select(
        col(LoginSession.id),
        col(LoginSession.created_at),
        col(LoginSession.last_used_at),
        col(LoginSession.user_agent),
    ).where(_live(user_id))
    return await paginate(
        session,
        statement,
        params,
        order=(col(LoginSession.created_at), col(LoginSession.id)),
        to_item=lambda row: login_public(row, current),
        newest_first=True,
    )


async def end_login(session: AsyncSession, user_id: UUID, login_id: UUID) -> None:
    """Revoke one of the user's logins: its access and refresh tokens stop working at once.

    404 for a login that is not the user's, or is already ended.
    """
    ended = await session.scalar(
        sa.update(LoginSession)
        .where(
            col(LoginSession.id) == login_id,
            col(LoginSession.user_id) == user_id,
            col(LoginSession.revoked_at).is_(None),
        )
        .values(revoked_at=utcnow())
        .returning(col(LoginSession.id))
    )
    if ended is None:
        raise NotFound("No such login.")
