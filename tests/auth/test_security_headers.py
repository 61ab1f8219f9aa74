"""The HTML link pages: their URLs hold tokens, so they cannot be framed, leak no referrer and
load nothing from elsewhere; token answers are never cached."""

import pytest

from tests.factories import create_user

PAGES = [
    ("GET", "/verify-email?token=abc", None),
    ("POST", "/verify-email", {"token": "abc"}),
    ("GET", "/reset-password?token=abc", None),
    ("POST", "/reset-password", {"token": "abc", "password": "a-new-long-password"}),
    ("GET", "/forgot-password", None),
    ("POST", "/forgot-password", {"email": "nobody@example.com"}),
    ("GET", "/invitations/accept?token=abc", None),
]


def csp_directives(header: str) -> dict[str, str]:
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value.strip()
    return directives


class TestLinkPages:
    @pytest.mark.parametrize(("method", "path", "form"), PAGES)
    async def test_every_page_carries_the_protective_headers(self, client, method, path, form):
        response = await client.request(method, path, data=form)
        assert response.headers["content-type"].startswith("text/html")
        csp = csp_directives(response.headers["content-security-policy"])
        assert csp["frame-ancestors"] == "'none'"
        assert csp["default-src"] == "'none'"
        assert "script-src" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"


class TestTokenAnswers:
    async def test_login_and_refresh_are_not_cached(self, client, session):
        user = await create_user(session)
        login = await client.post(
            "/api/v1/auth/login", data={"username": user.email, "password": "tangerine-obelisk-42"}
        )
        assert login.headers["cache-control"] == "no-store"
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
        )
        assert refreshed.status_code == 200
        assert refreshed.headers["cache-control"] == "no-store"
