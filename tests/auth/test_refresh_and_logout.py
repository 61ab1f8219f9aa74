"""Refreshing rotates the token and detects reuse; logging out ends the login."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.db import utcnow
from tests.auth.common import NEVER_ISSUED_TOKENS
from tests.factories import (
    create_user,
    login,
)


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
