"""The HTML pages behind mailed links."""

import pytest
from httpx import ASGITransport, AsyncClient

from app.main import create_app
from tests.conftest import make_settings
from tests.factories import (
    create_user,
    latest_token,
    outbox_for,
    unique_email,
)


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
