"""Password reset by mailed token."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.auth.models import AccountToken
from app.db import utcnow
from tests.auth.common import LOGIN, NEVER_ISSUED_TOKENS, register
from tests.factories import (
    PASSWORD,
    create_user,
    deliverable_for,
    latest_token,
    login,
    unique_email,
)


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
