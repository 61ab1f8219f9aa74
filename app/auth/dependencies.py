"""Who is calling: the bearer token resolved to a live user and login."""

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.auth.models import LoginSession
from app.auth.tokens import TokenError, decode_access_token
from app.config import Settings
from app.db import Session
from app.errors import Forbidden, Unauthorized
from app.users.models import User

bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user and the login (refresh-token family) the access token belongs to."""

    user: User
    session_id: UUID


def settings_of(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(settings_of)]


async def current_caller(
    request: Request,
    session: Session,
    settings: AppSettings,
    token: Annotated[str | None, Depends(bearer_scheme)],
) -> Caller:
    """Resolve the bearer token; 401 unless it is valid and its user and login still exist.

    Checking the login row on every request is what makes logout, password changes and account
    deletion take effect at once rather than when the access token expires.
    """
    if not token:
        raise Unauthorized("Not authenticated.")
    try:
        claims = decode_access_token(
            token,
            key=settings.signing_key(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    except TokenError:
        raise Unauthorized("The access token is invalid or expired.") from None
    user = (
        await session.scalars(
            sa.select(User)
            .join(LoginSession, LoginSession.user_id == User.id)  # type: ignore[arg-type]
            .where(
                User.id == claims.user_id,  # type: ignore[arg-type]
                LoginSession.id == claims.session_id,  # type: ignore[arg-type]
                LoginSession.revoked_at.is_(None),  # type: ignore[union-attr]
            )
        )
    ).one_or_none()
    if user is None:
        raise Unauthorized("The access token is invalid or expired.")
    request.state.user_id = str(user.id)
    return Caller(user=user, session_id=claims.session_id)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def verified_caller(caller: CurrentCaller) -> Caller:
    """The caller, who must have verified their email (403 `email_not_verified` otherwise)."""
    if caller.user.email_verified_at is None:
        raise Forbidden("Verify your email address first.", code="email_not_verified")
    return caller


VerifiedCaller = Annotated[Caller, Depends(verified_caller)]
