"""Email verification, and what an unverified account may do."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.auth.models import AccountToken
from app.db import utcnow
from app.mail.models import OutboxMail
from tests.auth.common import NEVER_ISSUED_TOKENS, register
from tests.factories import (
    auth_headers,
    create_user,
    deliverable_for,
    latest_token,
    outbox_for,
    row_count,
    unique_email,
)


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
