"""Browser front ends on their own origin: CORS_ORIGINS."""

import pytest
from httpx import ASGITransport, AsyncClient

from app.config import Environment, Settings
from app.main import create_app
from tests.conftest import make_settings

FRONT = "https://app.example.com"
PREFLIGHT = {
    "Origin": FRONT,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.fixture
async def cors_client(database_url):
    application = create_app(
        make_settings(database_url, cors_origins=f"{FRONT}, http://localhost:5173"),
        run_background_tasks=False,
    )
    async with application.router.lifespan_context(application):
        transport = ASGITransport(app=application, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


class TestCors:
    async def test_a_listed_origin_passes_the_preflight(self, cors_client):
        answer = await cors_client.options("/api/v1/organizations", headers=PREFLIGHT)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == FRONT
        allowed = answer.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed
        assert "content-type" in allowed
        assert "access-control-allow-credentials" not in answer.headers

    async def test_an_unlisted_origin_is_refused(self, cors_client):
        answer = await cors_client.options(
            "/api/v1/organizations", headers={**PREFLIGHT, "Origin": "https://evil.example"}
        )
        assert answer.status_code == 400
        assert "access-control-allow-origin" not in answer.headers

    async def test_answers_expose_location_retry_after_and_the_request_id(self, cors_client):
        answer = await cors_client.get("/api/v1/users/me", headers={"Origin": FRONT})
        assert answer.status_code == 401
        assert answer.headers["access-control-allow-origin"] == FRONT
        exposed = {
            h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")
        }
        assert {"location", "retry-after", "x-request-id"} <= exposed

    async def test_an_oversized_body_is_readable_by_the_page(self, cors_client):
        answer = await cors_client.post(
            "/api/v1/auth/register",
            content=b"x" * (1024 * 1024 + 1),
            headers={"Origin": FRONT, "Content-Type": "application/json"},
        )
        assert answer.status_code == 413
        assert answer.headers["access-control-allow-origin"] == FRONT


class TestCorsSettings:
    def test_the_front_ends_origin_is_the_default(self):
        settings = Settings(frontend_url="https://app.example.com/some/path")
        assert settings.cors_origin_list == ["https://app.example.com"]

    def test_no_front_end_means_no_origin(self):
        assert Settings(frontend_url=None, cors_origins=None).cors_origin_list == []

    def test_a_wildcard_is_refused_in_production(self):
        with pytest.raises(ValueError, match="CORS_ORIGINS"):
            Settings(
                environment=Environment.PRODUCTION,
                secret_key="x" * 32,
                public_url="https://api.example.com",
                cors_origins="*",
            )

    @pytest.mark.parametrize("value", ["https://app.example.com/", "app.example.com", "ftp://a.b"])
    def test_something_that_is_not_an_origin_is_refused(self, value):
        with pytest.raises(ValueError, match="CORS_ORIGINS"):
            Settings(cors_origins=value)

    async def test_without_origins_no_cors_headers_are_sent(self, client):
        answer = await client.get("/api/v1/users/me", headers={"Origin": FRONT})
        assert "access-control-allow-origin" not in answer.headers
