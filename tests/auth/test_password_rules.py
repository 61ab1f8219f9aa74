"""The rules a new password must meet, with and without screening."""

import pytest

from app.users.models import User
from tests.auth.common import register
from tests.factories import (
    PASSWORD,
    auth_headers,
    create_user,
    latest_token,
    row_count,
    unique_email,
)


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
