"""Access tokens (JWT) and opaque single-use tokens.

Access tokens are HS256 JWTs with every claim required at decode and the algorithm pinned; the
key and algorithm never come from the token. Opaque tokens (refresh, verification, reset,
invitation) are 32 random bytes; only their HMAC-SHA256 under the server key is stored, and each
kind lives in its own table or purpose, so none is accepted where another is expected.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

import jwt

from app.db import utcnow

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value
REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti", "iss", "aud", "typ", "sid"]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a valid access token says: the user and the login it belongs to."""

    user_id: UUID
    session_id: UUID


class TokenError(Exception):
    """The token is missing, malformed, tampered with, expired or of another kind."""


def create_access_token(
    *, user_id: UUID, session_id: UUID, key: str, issuer: str, audience: str, lifetime: timedelta
) -> str:
    """A signed access token for one login."""
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "typ": ACCESS_TOKEN_TYPE,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid4().hex,
        "iss": issuer,
        "aud": audience,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def decode_access_token(token: str, *, key: str, issuer: str, audience: str) -> AccessClaims:
    """Verify signature, expiry, issuer, audience and type; any failure is a `TokenError`."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS},
        )
        if claims.get("typ") != ACCESS_TOKEN_TYPE:
            raise TokenError("not an access token")
        return AccessClaims(user_id=UUID(str(claims["sub"])), session_id=UUID(str(claims["sid"])))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise TokenError(str(type(exc).__name__)) from None


def new_opaque_token() -> str:
    """A random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str, key: str) -> str:
    """The stored form of an opaque token: HMAC-SHA256 under the server key, hex."""
    return hmac.new(
        key.encode(), token.encode("utf-8", "surrogatepass"), hashlib.sha256
    ).hexdigest()
