"""Access tokens (JWT) and opaque single-use tokens.

Access tokens are HS256 JWTs with every claim required at decode and the algorithm pinned; the
key and algorithm never come from the token. Opaque tokens (refresh, verification, reset,
invitation) are 32 random bytes; only their HMAC-SHA256 under the server key is stored, and each
kind lives in its own table or purpose, so none is accepted where another is expected.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
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
    """Verify signature, expiry, issuer, audience and type; any failure is a `TokenError`.

    A client sends one access token with every request for its lifetime, and verifying it
    (PyJWT's checks of the encoding, the HMAC, the claims) costs about as much as the request's
    SQL. So a token verified once is remembered, by its exact text and the key, issuer and
    audience it was verified with, until its expiry, which is checked again on every use. Only
    the verdict on the token's own bytes is kept: whether its login is still live is asked of
    the database on every request, so logout and revocation take effect at once.
    """
    claims, expires = _verified(token, key, issuer, audience)
    if expires <= time.time():
        raise TokenError("ExpiredSignatureError")
    return claims


@lru_cache(maxsize=8192)
def _verified(token: str, key: str, issuer: str, audience: str) -> tuple[AccessClaims, float]:
    # Failures raise, and lru_cache keeps no result for a call that raised.
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
        verified = AccessClaims(
            user_id=UUID(str(claims["sub"])), session_id=UUID(str(claims["sid"]))
        )
        return verified, float(claims["exp"])
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
