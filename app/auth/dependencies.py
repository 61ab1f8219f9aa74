"""Who is calling: the bearer token resolved to a live user and login."""

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.auth.errors import EmailNotVerified, InvalidAccessToken
from app.auth.repository import Account, live_account
from app.auth.tokens import AccessClaims, TokenError, decode_access_token
from app.config import Settings
from app.db import Database
from app.errors import Unauthorized

bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user and the login (refresh-token family) the access token belongs to."""

    user: Account
    session_id: UUID


BearerToken = Annotated[str | None, Depends(bearer_scheme)]


def access_claims(token: str | None, settings: Settings) -> AccessClaims:
    """The claims of a valid access token; 401 for a missing or invalid one."""
    if not token:
        raise Unauthorized("Not authenticated.")
    try:
        return decode_access_token(
            token,
            key=settings.signing_key(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    except TokenError:
        raise InvalidAccessToken() from None


def authenticated(request: Request, claims: AccessClaims, account: Account | None) -> Caller:
    """The caller, once the database said whether the token's login is live (401 if not).

    Checking the login row on every request is what makes logout, password changes and account
    deletion take effect at once rather than when the access token expires.
    """
    if account is None:
        raise InvalidAccessToken()
    request.state.user_id = str(account.id)
    return Caller(user=account, session_id=claims.session_id)


def require_verified(caller: Caller) -> Caller:
    """The caller, who must have verified their email (403 `email_not_verified` otherwise)."""
    if caller.user.email_verified_at is None:
        raise EmailNotVerified()
    return caller


async def token_claims(request: Request, token: BearerToken) -> AccessClaims:
    """The access token's claims (401 for a missing or invalid token), before any database
    work: for routes that check the login in a statement of their own."""
    settings: Settings = request.app.state.settings
    return access_claims(token, settings)


Claims = Annotated[AccessClaims, Depends(token_claims)]


async def current_caller(request: Request, db: Database, claims: Claims) -> Caller:
    """Resolve the bearer token; 401 unless it is valid and its user and login still exist."""
    account = await live_account(db, claims.user_id, claims.session_id)
    return authenticated(request, claims, account)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def verified_caller(caller: CurrentCaller) -> Caller:
    """The caller, who must have verified their email (403 `email_not_verified` otherwise)."""
    return require_verified(caller)


VerifiedCaller = Annotated[Caller, Depends(verified_caller)]
