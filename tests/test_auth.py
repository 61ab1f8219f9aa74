"""The /auth routes: every success and every negative branch."""

import asyncio
from datetime import timedelta

import bcrypt
import jwt
import pytest
import sqlalchemy as sa
from httpx import ASGITransport, AsyncClient

from app.auth.models import AccountToken, LoginSession
from app.db import utcnow
from app.mail.models import OutboxMail
from app.main import create_app
from app.memberships.models import OrganizationMembership
from app.organizations.models import Organization
from app.users.models import User
from tests.conftest import TEST_SECRET, make_settings
from tests.factories import (
    PASSWORD,
    auth_headers,
    create_user,
    deliverable_for,
    latest_token,
    login,
    mail_context,
    outbox_for,
    row_count,
    unique_email,
)

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
# Strings no token ever looks like: each is a bad token (400 or 401), not a malformed body.
NEVER_ISSUED_TOKENS = ["garbage", "", "x" * 2000, "héllo", "a\u0000b", "tab\tand\nnewline"]


async def register(client, email, password=PASSWORD, **extra):
    return await client.post(REGISTER, json={"email": email, "password": password, **extra})


class TestRegister:
    async def test_creates_unverified_user_with_own_organization_and_mail(self, client, session):
        email = unique_email("ann")
        response = await register(client, email)
        assert response.status_code == 202
        user = await session.scalar(sa.select(User).where(User.email == email))
        assert user is not None
        assert user.email_verified_at is None
        row = (
            await session.execute(
                sa.select(Organization.name, OrganizationMembership.role)
                .join(OrganizationMembership)
                .where(OrganizationMembership.user_id == user.id)
            )
        ).one()
        assert row.name == f"{email.split('@')[0]}'s organization"
        assert row.role == "admin"
        assert [m.template for m in await outbox_for(session, email)] == ["verify_email"]

    async def test_uses_given_organization_name(self, client, session):
        email = unique_email()
        await register(client, email, organization_name="  Blue Sky  ")
        name = await session.scalar(
            sa.select(Organization.name)
            .join(OrganizationMembership)
            .join(User, User.id == OrganizationMembership.user_id)
            .where(User.email == email)
        )
        assert name == "  Blue Sky  "  # stored exactly as sent

    async def test_taken_address_answers_the_same_and_mails_the_owner(self, client, session):
        email = unique_email()
        first = await register(client, email)
        second = await register(client, email.upper(), password="another-long-secret")
        assert (second.status_code, second.json()) == (first.status_code, first.json())
        count = await session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.email == email)
        )
        assert count == 1
        verify, exists = await outbox_for(session, email)
        assert (verify.template, exists.template) == ("verify_email", "account_exists")
        # No token in it (whoever registered may not own the address): a page that mails one.
        context = await mail_context(session, exists)
        assert context == {"reset_link": "http://testserver/forgot-password"}

    async def test_email_is_stored_lowercase(self, client, session):
        email = unique_email("Mixed.Case")
        await register(client, email)
        assert (
            await session.scalar(sa.select(User.email).where(User.email == email.lower()))
            == email.lower()
        )

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "email"),
            ({"password": PASSWORD}, "email"),
            ({"email": "a@example.com"}, "password"),
            ({"email": "not-an-email", "password": PASSWORD}, "email"),
            ({"email": "a@example.com\r\nBcc: x@y.z", "password": PASSWORD}, "email"),
            ({"email": "a" * 250 + "@example.com", "password": PASSWORD}, "email"),
            ({"email": "a@example.com", "password": "short"}, "password"),
            ({"email": "a@example.com", "password": "x" * 129}, "password"),
            (
                {"email": "a@example.com", "password": PASSWORD, "organization_name": "   "},
                "organization_name",
            ),
            (
                {"email": "a@example.com", "password": PASSWORD, "organization_name": "a\tb"},
                "organization_name",
            ),
            (
                {"email": "a@example.com", "password": PASSWORD, "organization_name": "x" * 101},
                "organization_name",
            ),
        ],
    )
    async def test_invalid_input_is_422_and_creates_nothing(self, client, session, body, field):
        before = await session.scalar(sa.select(sa.func.count()).select_from(User))
        response = await client.post(REGISTER, json=body)
        assert response.status_code == 422
        assert response.json()["code"] == "validation_error"
        assert field in str(response.json()["errors"])
        assert await session.scalar(sa.select(sa.func.count()).select_from(User)) == before

    async def test_megabyte_password_is_refused_before_hashing(self, client):
        response = await register(client, unique_email(), password="p" * 1_000_000)
        assert response.status_code == 422


class TestLogin:
    async def test_returns_bearer_pair(self, client, session):
        user = await create_user(session)
        body = await login(client, user.email)
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 15 * 60
        assert body["access_token"]
        assert body["refresh_token"]

    async def test_email_letter_case_does_not_matter(self, client, session):
        user = await create_user(session)
        await login(client, user.email.upper())

    async def test_unverified_user_can_log_in_and_read_me(self, client, session):
        user = await create_user(session, verified=False)
        headers = await auth_headers(client, user)
        me = await client.get("/api/v1/users/me", headers=headers)
        assert me.status_code == 200
        assert me.json()["email_verified"] is False

    async def test_wrong_password_and_unknown_email_look_the_same(self, client, session):
        user = await create_user(session)
        wrong = await client.post(
            LOGIN, data={"username": user.email, "password": "wrong-password-1"}
        )
        unknown = await client.post(
            LOGIN, data={"username": unique_email(), "password": "wrong-password-1"}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        assert wrong.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("data", [{}, {"username": "a@example.com"}, {"password": "x"}])
    async def test_missing_form_fields_are_422(self, client, data):
        assert (await client.post(LOGIN, data=data)).status_code == 422

    async def test_malformed_username_is_401(self, client):
        response = await client.post(LOGIN, data={"username": "no-at-sign", "password": PASSWORD})
        assert response.status_code == 401

    async def test_legacy_bcrypt_hash_verifies_and_is_upgraded(self, client, session):
        legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        user = await create_user(session, hashed_password=legacy)
        await login(client, user.email)
        stored = await session.scalar(sa.select(User.hashed_password).where(User.id == user.id))
        assert stored.startswith("$argon2id$")
        await login(client, user.email)

    async def test_bcrypt_account_with_password_over_72_bytes_is_401(self, client, session):
        legacy = bcrypt.hashpw(b"x" * 72, bcrypt.gensalt(rounds=4)).decode()
        user = await create_user(session, hashed_password=legacy)
        response = await client.post(LOGIN, data={"username": user.email, "password": "x" * 100})
        assert response.status_code == 401


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


class TestRefresh:
    async def test_rotates_and_old_token_reuse_revokes_the_login(self, client, session):
        user = await create_user(session)
        first = await login(client, user.email)
        second = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert second.status_code == 200
        pair = second.json()
        assert pair["refresh_token"] != first["refresh_token"]
        reuse = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert reuse.status_code == 401
        # The whole login is gone: the newest refresh token and its access token too.
        assert (
            await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        ).status_code == 401
        me = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
        )
        assert me.status_code == 401

    @pytest.mark.parametrize("token", NEVER_ISSUED_TOKENS)
    async def test_unknown_token_is_401(self, client, token):
        response = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_an_access_token_is_not_a_refresh_token(self, client, session):
        user = await create_user(session)
        pair = await login(client, user.email)
        response = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": pair["access_token"]}
        )
        assert response.status_code == 401

    async def test_empty_body_is_422(self, client):
        assert (await client.post("/api/v1/auth/refresh", json={})).status_code == 422

    async def test_other_logins_are_unaffected_by_reuse(self, client, session):
        user = await create_user(session)
        one = await login(client, user.email)
        other = await login(client, user.email)
        await client.post("/api/v1/auth/refresh", json={"refresh_token": one["refresh_token"]})
        await client.post("/api/v1/auth/refresh", json={"refresh_token": one["refresh_token"]})
        response = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}
        )
        assert response.status_code == 200

    async def test_expired_refresh_token_is_401(self, client, session):
        from app.auth.models import RefreshToken

        user = await create_user(session)
        pair = await login(client, user.email)
        await session.execute(
            sa.update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        response = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert response.status_code == 401


class TestLogout:
    async def test_logout_ends_refresh_and_access(self, client, session):
        user = await create_user(session)
        pair = await login(client, user.email)
        response = await client.post(
            "/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}
        )
        assert response.status_code == 204
        assert (
            await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        ).status_code == 401
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 401

    async def test_unknown_token_is_204_and_changes_nothing(self, client, session):
        user = await create_user(session)
        pair = await login(client, user.email)
        for token in NEVER_ISSUED_TOKENS:
            assert (
                await client.post("/api/v1/auth/logout", json={"refresh_token": token})
            ).status_code == 204
        assert (
            await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        ).status_code == 200


class TestVerifyEmail:
    async def _registered(self, client, session):
        email = unique_email()
        await register(client, email)
        return email, await latest_token(session, email, "verify_email")

    async def test_token_verifies_once(self, client, session):
        email, token = await self._registered(client, session)
        response = await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert response.status_code == 200
        assert response.json()["email_verified"] is True
        assert response.json()["email"] == email
        again = await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert again.status_code == 400
        assert again.json()["code"] == "invalid_or_expired_token"

    async def test_expired_token_is_400(self, client, session):
        _, token = await self._registered(client, session)
        await session.execute(
            sa.update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        response = await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert response.status_code == 400

    async def test_reset_token_is_not_a_verification_token(self, client, session):
        email, _ = await self._registered(client, session)
        await client.post("/api/v1/auth/forgot-password", json={"email": email})
        reset = await latest_token(session, email, "reset_password")
        response = await client.post("/api/v1/auth/verify-email", json={"token": reset})
        assert response.status_code == 400

    @pytest.mark.parametrize("token", NEVER_ISSUED_TOKENS)
    async def test_unknown_token_is_400(self, client, token):
        response = await client.post("/api/v1/auth/verify-email", json={"token": token})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_or_expired_token"

    @pytest.mark.parametrize("body", [{}, {"token": 5}, {"token": None}, {"token": ["x"]}])
    async def test_malformed_body_is_422(self, client, body):
        assert (await client.post("/api/v1/auth/verify-email", json=body)).status_code == 422

    async def test_resend_is_202_for_anyone_and_mails_only_the_unverified(self, client, session):
        email, _ = await self._registered(client, session)
        unknown = await client.post(
            "/api/v1/auth/verify-email/resend", json={"email": unique_email()}
        )
        known = await client.post("/api/v1/auth/verify-email/resend", json={"email": email.upper()})
        assert unknown.status_code == known.status_code == 202
        assert unknown.json() == known.json()
        assert [m.template for m in await outbox_for(session, email)] == [
            "verify_email",
            "verify_email",
        ]
        verified = await create_user(session)
        await client.post("/api/v1/auth/verify-email/resend", json={"email": verified.email})
        # Queued like any other (the request does the same work for every address), but the
        # sender finds the address verified and sends nothing.
        assert await deliverable_for(session, verified.email) == []

    @pytest.mark.parametrize("path", ["verify-email/resend", "forgot-password"])
    @pytest.mark.parametrize("text", ["not-an-email", "", "a@", "x" * 400 + "@example.com"])
    async def test_a_string_that_is_no_address_is_202_too_and_mails_nothing(
        self, client, session, path, text
    ):
        before = await row_count(session, OutboxMail)
        response = await client.post(f"/api/v1/auth/{path}", json={"email": text})
        assert response.status_code == 202
        assert await row_count(session, OutboxMail) == before
        assert (
            response.json()
            == (await client.post(f"/api/v1/auth/{path}", json={"email": unique_email()})).json()
        )

    @pytest.mark.parametrize("path", ["verify-email/resend", "forgot-password"])
    @pytest.mark.parametrize(
        "body", [{}, {"email": 5}, {"email": None}, {"email": "a@b.c", "x": 1}]
    )
    async def test_a_malformed_body_is_422(self, client, path, body):
        assert (await client.post(f"/api/v1/auth/{path}", json=body)).status_code == 422


class TestPasswordReset:
    async def test_reset_sets_password_and_ends_every_login(self, client, session):
        user = await create_user(session)
        pair = await login(client, user.email)
        assert (
            await client.post("/api/v1/auth/forgot-password", json={"email": user.email})
        ).status_code == 202
        token = await latest_token(session, user.email, "reset_password")
        new_password = "marmalade-sunrise-77"
        response = await client.post(
            "/api/v1/auth/reset-password", json={"token": token, "password": new_password}
        )
        assert response.status_code == 204
        assert (
            await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        ).status_code == 401
        assert (
            await client.post(LOGIN, data={"username": user.email, "password": PASSWORD})
        ).status_code == 401
        await login(client, user.email, new_password)
        again = await client.post(
            "/api/v1/auth/reset-password", json={"token": token, "password": "another-one-99x"}
        )
        assert again.status_code == 400

    async def test_forgot_password_for_unknown_address_is_202_and_mails_nobody(
        self, client, session
    ):
        email = unique_email()
        response = await client.post("/api/v1/auth/forgot-password", json={"email": email})
        assert response.status_code == 202
        assert await deliverable_for(session, email) == []

    async def test_weak_new_password_is_422_and_token_stays_usable(self, client, session):
        user = await create_user(session)
        await client.post("/api/v1/auth/forgot-password", json={"email": user.email})
        token = await latest_token(session, user.email, "reset_password")
        weak = await client.post(
            "/api/v1/auth/reset-password", json={"token": token, "password": "seven77"}
        )
        assert weak.status_code == 422
        ok = await client.post(
            "/api/v1/auth/reset-password", json={"token": token, "password": "quiet-lantern-31"}
        )
        assert ok.status_code == 204

    async def test_verification_token_cannot_reset(self, client, session):
        email = unique_email()
        await register(client, email)
        token = await latest_token(session, email, "verify_email")
        response = await client.post(
            "/api/v1/auth/reset-password", json={"token": token, "password": "quiet-lantern-31"}
        )
        assert response.status_code == 400

    @pytest.mark.parametrize("token", NEVER_ISSUED_TOKENS)
    async def test_never_issued_token_is_400(self, client, token):
        response = await client.post(
            "/api/v1/auth/reset-password", json={"token": token, "password": "quiet-lantern-31"}
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_or_expired_token"

    async def test_expired_reset_token_is_400(self, client, session):
        user = await create_user(session)
        await client.post("/api/v1/auth/forgot-password", json={"email": user.email})
        token = await latest_token(session, user.email, "reset_password")
        await session.execute(
            sa.update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        response = await client.post(
            "/api/v1/auth/reset-password", json={"token": token, "password": "quiet-lantern-31"}
        )
        assert response.status_code == 400


class TestUnverifiedUsers:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/api/v1/organizations"),
            ("POST", "/api/v1/organizations"),
            ("GET", "/api/v1/websites"),
            ("GET", "/api/v1/invitations"),
            ("GET", "/api/v1/organizations/00000000-0000-0000-0000-000000000000"),
        ],
    )
    async def test_tenant_routes_answer_email_not_verified(self, client, session, method, path):
        user = await create_user(session, verified=False)
        headers = await auth_headers(client, user)
        response = await client.request(
            method, path, headers=headers, json={"name": "x"} if method == "POST" else None
        )
        assert response.status_code == 403
        assert response.json()["code"] == "email_not_verified"


class TestConcurrentRegistration:
    async def test_same_address_in_two_letter_cases_creates_one_user(self, app):
        """Real commits (no outer transaction): the unique constraint decides."""
        from httpx import ASGITransport, AsyncClient

        email = unique_email("race")
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            responses = await asyncio.gather(
                *(
                    register(http, variant)
                    for variant in [email, email.upper(), email, email.title()]
                )
            )
        assert {r.status_code for r in responses} == {202}
        async with app.state.sessions() as db:
            users = await db.scalar(
                sa.select(sa.func.count()).select_from(User).where(User.email == email)
            )
            logins = await db.scalar(sa.select(sa.func.count()).select_from(LoginSession))
        assert users == 1
        assert logins is not None


class TestReviewedEdges:
    async def test_reset_page_refusing_a_password_keeps_the_token(self, client, session):
        user = await create_user(session)
        await client.post("/api/v1/auth/forgot-password", json={"email": user.email})
        token = await latest_token(session, user.email, "reset_password")
        page = await client.post("/reset-password", data={"token": token, "password": "seven77"})
        assert page.status_code == 422
        ok = await client.post(
            "/api/v1/auth/reset-password", json={"token": token, "password": "quiet-lantern-31"}
        )
        assert ok.status_code == 204

    async def test_reusing_an_expired_rotated_token_still_revokes_the_login(self, client, session):
        from app.auth.models import RefreshToken

        user = await create_user(session)
        first = await login(client, user.email)
        second = (
            await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
            )
        ).json()
        await session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.used_at.is_not(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        assert (
            await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
            )
        ).status_code == 401
        assert (
            await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
            )
        ).status_code == 401


class TestPages:
    """The HTML pages behind mailed links answer HTML, whatever the form holds."""

    async def test_forgot_password_page_mails_a_reset_link_to_an_account_only(
        self, client, session
    ):
        form = await client.get("/forgot-password")
        assert form.status_code == 200
        assert 'action="/forgot-password"' in form.text
        user = await create_user(session)
        for email in (user.email.upper(), unique_email(), "not an address", ""):
            sent = await client.post("/forgot-password", data={"email": email})
            assert sent.status_code == 200
            assert sent.headers["content-type"].startswith("text/html")
            assert "If the address has a BlokID account" in sent.text
        assert [m.template for m in await outbox_for(session, user.email)] == ["reset_password"]

    async def test_forgot_password_form_posted_from_another_site_sends_nothing(
        self, client, session
    ):
        user = await create_user(session)
        foreign = await client.post(
            "/forgot-password",
            data={"email": user.email},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        assert await outbox_for(session, user.email) == []
        own = await client.post(
            "/forgot-password", data={"email": user.email}, headers={"Origin": "http://testserver"}
        )
        assert own.status_code == 200
        assert [m.template for m in await outbox_for(session, user.email)] == ["reset_password"]

    async def test_forgot_password_page_is_rate_limited_like_the_api(self, app, session):
        limited = create_app(
            make_settings(app.state.settings.database_url, rate_limit_enabled=True),
            run_background_tasks=False,
        )
        async with limited.router.lifespan_context(limited):
            transport = ASGITransport(app=limited)
            async with AsyncClient(transport=transport, base_url="http://testserver") as http:
                email = unique_email()
                answers = [
                    await http.post("/forgot-password", data={"email": email})
                    for _ in range(limited.state.settings.rate_limit_mail_per_account + 1)
                ]
        assert [a.status_code for a in answers[:-1]] == [200] * (len(answers) - 1)
        assert answers[-1].status_code == 429
        assert answers[-1].headers["retry-after"]
        assert answers[-1].headers["content-type"].startswith("text/html")

    @pytest.mark.parametrize(
        ("path", "data"),
        [
            ("/verify-email", {}),
            ("/verify-email", {"token": ""}),
            ("/verify-email", {"token": "x" * 2000}),
            ("/reset-password", {}),
            ("/reset-password", {"token": "", "password": "quiet-lantern-31"}),
            ("/reset-password", {"token": "x" * 2000, "password": "quiet-lantern-31"}),
        ],
    )
    async def test_a_bad_or_missing_token_gets_the_link_not_valid_page(self, client, path, data):
        response = await client.post(path, data=data)
        assert response.headers["content-type"].startswith("text/html")
        assert response.status_code in (400, 422)


@pytest.fixture
def screening(app):
    """PASSWORD_SCREENING on for one test (the default)."""
    original = app.state.settings
    app.state.settings = original.model_copy(update={"password_screening": True})
    yield
    app.state.settings = original


@pytest.fixture
def no_screening(app):
    """PASSWORD_SCREENING off for one test."""
    original = app.state.settings
    app.state.settings = original.model_copy(update={"password_screening": False})
    yield
    app.state.settings = original


class TestPasswordRules:
    """The contract's rule is 8 to 128 characters; PASSWORD_SCREENING (on by default) adds a
    common-password list and refuses the email address."""

    SCREENED = ("password123", "iloveyou2", "QWERTYUIOP")

    @pytest.mark.parametrize("password", [*SCREENED, "x" * 8, "x" * 128])
    async def test_without_screening_any_password_of_8_to_128_characters_is_taken(
        self, client, session, no_screening, password
    ):
        email = unique_email()
        assert (await register(client, email, password=password)).status_code == 202
        assert await row_count(session, User, User.email == email) == 1

    @pytest.mark.parametrize("password", SCREENED)
    async def test_screening_refuses_common_passwords_everywhere(
        self, client, session, screening, password
    ):
        assert (await register(client, unique_email(), password=password)).status_code == 422
        user = await create_user(session)
        await client.post("/api/v1/auth/forgot-password", json={"email": user.email})
        token = await latest_token(session, user.email, "reset_password")
        reset = await client.post(
            "/api/v1/auth/reset-password", json={"token": token, "password": password}
        )
        assert reset.status_code == 422
        assert reset.json()["errors"][0]["type"] == "password_policy"
        changed = await client.post(
            "/api/v1/users/me/password",
            json={"current_password": PASSWORD, "new_password": password},
            headers=await auth_headers(client, user),
        )
        assert changed.status_code == 422

    async def test_screening_refuses_the_address_as_password(self, client, screening):
        response = await register(client, "longlocalpart@example.com", password="LongLocalPart")
        assert response.status_code == 422


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
