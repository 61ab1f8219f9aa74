"""Health endpoints and the error shape of the foundation."""

from uuid import uuid4

import pytest


class TestHealth:
    async def test_health_answers_ok(self, client):
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_ready_reports_database_and_policy(self, client):
        response = await client.get("/health/ready")
        assert response.status_code == 200
        assert response.json()["status"] == "ready"

    async def test_docs_and_openapi_are_served(self, client):
        assert (await client.get("/docs")).status_code == 200
        spec = (await client.get("/openapi.json")).json()
        assert "/api/v1/auth/register" in spec["paths"]


class TestErrorShape:
    async def test_unknown_route_is_problem_json(self, client):
        response = await client.get("/api/v1/nope")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["code"] == "not_found"
        assert set(body) >= {"type", "title", "status", "detail", "code"}

    async def test_wrong_method_is_405_problem(self, client):
        response = await client.delete("/health")
        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"
        assert response.headers["allow"] == "GET"

    async def test_405_allow_lists_every_route_on_the_path(self, client):
        # Detail, replace, change and delete of a website are four routes on one path.
        response = await client.post(f"/api/v1/websites/{uuid4()}")
        assert response.status_code == 405
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["allow"] == "DELETE, GET, PATCH, PUT"

    async def test_malformed_json_is_422(self, client):
        response = await client.post(
            "/api/v1/auth/register",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422
        assert response.json()["code"] == "validation_error"

    async def test_invalid_utf8_is_422(self, client):
        response = await client.post(
            "/api/v1/auth/register",
            content=b'{"email": "\xff\xfe"}',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422

    async def test_body_over_one_mebibyte_is_413(self, client):
        response = await client.post(
            "/api/v1/auth/register",
            content=b'{"email": "' + b"a" * (1024 * 1024 + 10) + b'"}',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"

    async def test_nul_byte_in_a_string_is_422(self, client):
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": "a\u0000b@example.com", "password": "x" * 12},
        )
        assert response.status_code == 422

    async def test_unknown_field_is_422(self, client):
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": "a@example.com", "password": "x" * 12, "admin": True},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "admin"]

    async def test_request_id_is_echoed(self, client):
        response = await client.get("/health", headers={"X-Request-ID": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"

    @pytest.mark.parametrize("header", ["", "Bearer", "Bearer not.a.jwt", "Basic abc"])
    async def test_bad_bearer_is_401_with_challenge(self, client, header):
        response = await client.get(
            "/api/v1/users/me", headers={"Authorization": header} if header else {}
        )
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["code"] == "not_authenticated"


class TestBodyLimits:
    async def test_chunked_body_over_one_mebibyte_is_413(self, client):
        async def chunks():
            for _ in range(20):
                yield b"a" * 65536

        response = await client.post(
            "/api/v1/auth/register", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413

    async def test_chunked_body_under_the_limit_is_read(self, client):
        async def chunks():
            yield b'{"email": "chunked@example.com",'
            yield b' "password": "x"}'

        response = await client.post(
            "/api/v1/auth/register", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "password"]
