"""Logging in: credentials, answers and what a login records."""

import bcrypt
import pytest
import sqlalchemy as sa

from app.users.models import User
from tests.auth.common import LOGIN
from tests.factories import (
    PASSWORD,
    auth_headers,
    create_user,
    login,
    unique_email,
)


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
