"""Access tokens: every claim checked, the algorithm pinned, answers never cached."""

import base64
import uuid
from datetime import timedelta
from types import SimpleNamespace

import jwt
import pytest

from app.auth import tokens
from app.auth.tokens import (
    AccessClaims,
    TokenError,
    create_access_token,
    decode_access_token,
    new_opaque_token,
)
from app.db import utcnow
from tests.conftest import TEST_SECRET
from tests.factories import (
    PASSWORD,
    create_user,
    login,
)


def _token(**overrides):
    now = utcnow()
    claims = {
        "sub": "00000000-0000-0000-0000-000000000001",
        "sid": "00000000-0000-0000-0000-000000000002",
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": "x",
        "iss": "blokid",
        "aud": "blokid-api",
    }
    claims.update(overrides)
    return claims


class TestAccessTokens:
    async def _claims_of_real_login(self, client, session):
        user = await create_user(session)
        access = (await login(client, user.email))["access_token"]
        return jwt.decode(access, TEST_SECRET, algorithms=["HS256"], audience="blokid-api")

    @pytest.mark.parametrize(
        "change",
        [
            {"exp": utcnow() - timedelta(seconds=5)},
            {"iss": "blokid-evil"},
            {"iss": "blok"},
            {"aud": "another-api"},
            {"typ": "refresh"},
        ],
    )
    async def test_tampered_claims_are_401(self, client, session, change):
        claims = await self._claims_of_real_login(client, session)
        claims.update(change)
        token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
        response = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401

    async def test_missing_claim_is_401(self, client, session):
        claims = await self._claims_of_real_login(client, session)
        del claims["jti"]
        token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
        assert (
            await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 401

    @pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
    async def test_other_key_other_alg_and_alg_none_are_401(self, client, session):
        claims = await self._claims_of_real_login(client, session)
        for token in (
            jwt.encode(claims, "another-secret-key-of-sufficient-length!!", algorithm="HS256"),
            jwt.encode(claims, None, algorithm="none"),
            # The right key under another HMAC algorithm: only HS256 is accepted.
            jwt.encode(claims, TEST_SECRET, algorithm="HS512"),
            jwt.encode(claims, TEST_SECRET, algorithm="HS384"),
        ):
            response = await client.get(
                "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401


class TestTokenAnswersAreNotCached:
    async def test_login_and_refresh_answers_carry_no_store(self, client, session):
        user = await create_user(session)
        answer = await client.post(
            "/api/v1/auth/login", data={"username": user.email, "password": PASSWORD}
        )
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["pragma"] == "no-cache"
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": answer.json()["refresh_token"]}
        )
        assert refreshed.status_code == 200
        assert refreshed.headers["cache-control"] == "no-store"


class TestLoneSurrogateTokens:
    """A JSON escape can carry a lone surrogate (`"\\ud800"`), which UTF-8 cannot encode: such a
    token is a token nobody was issued, answered like any other, never a 500."""

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/api/v1/auth/verify-email", '{"token": "\\ud800"}'),
            ("/api/v1/auth/reset-password", '{"token": "\\ud800", "password": "quiet-lantern-31"}'),
            ("/api/v1/auth/refresh", '{"refresh_token": "\\ud800"}'),
        ],
    )
    async def test_is_refused_like_any_unknown_token(self, client, path, body):
        response = await client.post(
            path, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (400, 401), response.text
        assert response.json()["code"] in ("invalid_or_expired_token", "invalid_refresh_token")


class TestTokenFunctions:
    """The token module on its own: the reason each refusal gives, the expiry boundary, and the
    size of opaque tokens."""

    KEY, ISSUER, AUDIENCE = "k" * 32, "blokid", "blokid-api"

    def _token(self, lifetime: timedelta = timedelta(minutes=5), **overrides: object) -> str:
        now = utcnow()
        claims: dict[str, object] = {
            "sub": str(uuid.uuid4()),
            "sid": str(uuid.uuid4()),
            "typ": "access",
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "iss": self.ISSUER,
            "aud": self.AUDIENCE,
        } | overrides
        return jwt.encode(claims, self.KEY, algorithm="HS256")

    def _decode(self, token: str) -> AccessClaims:
        return decode_access_token(token, key=self.KEY, issuer=self.ISSUER, audience=self.AUDIENCE)

    def test_a_token_made_here_reads_back_its_user_and_login(self):
        user_id, session_id = uuid.uuid4(), uuid.uuid4()
        token = create_access_token(
            user_id=user_id,
            session_id=session_id,
            key=self.KEY,
            issuer=self.ISSUER,
            audience=self.AUDIENCE,
            lifetime=timedelta(minutes=5),
        )
        assert jwt.get_unverified_header(token)["alg"] == "HS256"
        assert self._decode(token) == AccessClaims(user_id=user_id, session_id=session_id)

    def test_each_refusal_names_its_reason(self):
        refusals = {
            "ExpiredSignatureError": self._token(lifetime=timedelta(seconds=-1)),
            "not an access token": self._token(typ="refresh"),
            "InvalidAudienceError": self._token(aud="someone-else"),
            "InvalidIssuerError": self._token(iss="someone-else"),
            "ValueError": self._token(sub="not-a-uuid"),
            "InvalidSignatureError": self._token()[:-4] + "AAAA",
        }
        for reason, token in refusals.items():
            with pytest.raises(TokenError) as refused:
                self._decode(token)
            assert str(refused.value) == reason

    def test_a_remembered_token_is_refused_from_the_second_it_expires(self, monkeypatch):
        token = self._token(lifetime=timedelta(seconds=60))
        expires = float(jwt.decode(token, options={"verify_signature": False})["exp"])
        self._decode(token)  # verified once, and remembered
        monkeypatch.setattr(tokens, "time", SimpleNamespace(time=lambda: expires - 0.5))
        self._decode(token)
        monkeypatch.setattr(tokens, "time", SimpleNamespace(time=lambda: expires))
        with pytest.raises(TokenError, match="^ExpiredSignatureError$"):
            self._decode(token)

    def test_opaque_tokens_carry_256_random_bits(self):
        token = new_opaque_token()
        assert len(base64.urlsafe_b64decode(token + "=")) == 32
        assert len(token) == 43
        assert new_opaque_token() != token
