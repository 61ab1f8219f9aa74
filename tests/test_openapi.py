"""The OpenAPI document as a client generator reads it, and the committed copy in docs/."""

import json
import subprocess
import sys
from typing import Any

import pytest

from app.config import ROOT_DIR
from app.errors import ErrorCode
from app.main import API_PREFIX, create_app
from scripts.openapi import OPENAPI_PATH, render
from tests.conftest import make_settings
from tests.factories import create_user, token_for


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    # The document only: building the app does not connect to the database (the lifespan does).
    return create_app(
        make_settings("postgresql://schema-only@localhost/unused"), run_background_tasks=False
    ).openapi()


def _walk(node: Any, path: str = "") -> Any:
    """Every (json path, dict) pair in the document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


def _operations(spec: dict[str, Any]) -> Any:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


class TestSharedEnums:
    @pytest.mark.parametrize(
        ("name", "values"),
        [
            ("Role", ["admin", "user"]),
            ("InvitationStatus", ["pending", "accepted", "declined", "revoked", "expired"]),
            ("ErrorCode", [member.value for member in ErrorCode]),
        ],
    )
    def test_each_enum_is_one_named_schema_and_never_inlined(self, spec, name, values):
        schemas = spec["components"]["schemas"]
        assert schemas[name]["enum"] == values
        inlined = [
            where
            for where, node in _walk(spec)
            if node.get("enum") == values and where != f"/components/schemas/{name}"
        ]
        assert not inlined, f"{name} is inlined at {inlined}"
        references = [where for where, node in _walk(spec) if node.get("$ref", "").endswith(name)]
        assert references

    def test_every_role_field_refers_to_the_role_schema(self, spec):
        schemas = spec["components"]["schemas"]
        for body in ("RoleIn", "InvitationIn", "InvitationPublic", "MemberPublic"):
            assert "#/components/schemas/Role" in json.dumps(schemas[body]["properties"]["role"])
        for body in ("OrganizationPublic", "WebsitePublic"):
            assert "#/components/schemas/Role" in json.dumps(schemas[body]["properties"]["my_role"])


class TestProblem:
    def test_the_code_is_the_error_code_enum_and_errors_are_typed(self, spec):
        problem = spec["components"]["schemas"]["Problem"]
        assert problem["properties"]["code"]["$ref"] == "#/components/schemas/ErrorCode"
        item = spec["components"]["schemas"]["ValidationErrorItem"]
        assert set(item["required"]) == {"loc", "msg", "type"}
        assert "#/components/schemas/ValidationErrorItem" in json.dumps(
            problem["properties"]["errors"]
        )

    def test_every_database_route_declares_500_and_503_as_problem_json(self, spec):
        api_operations = 0
        for path, method, operation in _operations(spec):
            if not path.startswith(API_PREFIX):
                continue
            api_operations += 1
            for status in ("500", "503"):
                content = operation["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
        assert api_operations > 40

    async def test_a_validation_error_matches_the_published_shape(self, client):
        answer = await client.post("/api/v1/auth/register", json={"email": "ann@example.com"})
        assert answer.status_code == 422
        body = answer.json()
        assert body["code"] in {member.value for member in ErrorCode}
        assert body["errors"] == [
            {"loc": ["body", "password"], "msg": "Field required", "type": "missing"}
        ]


class TestRequestExamples:
    def test_email_fields_have_the_email_format(self, spec):
        schemas = spec["components"]["schemas"]
        for body, field in [
            ("RegisterIn", "email"),
            ("InvitationIn", "email"),
            ("UserPublic", "email"),
            ("InvitationPublic", "email"),
        ]:
            assert schemas[body]["properties"][field]["format"] == "email", body

    async def test_the_examples_are_accepted_as_they_are(self, spec, client, session):
        """What Swagger UI's "Try it out" sends: each body built from the published examples."""
        headers = await token_for(session, await create_user(session))
        schemas = spec["components"]["schemas"]

        def example(name: str) -> dict[str, Any]:
            properties = schemas[name]["properties"]
            return {
                key: value["examples"][0]
                for key, value in properties.items()
                if "examples" in value and key in schemas[name].get("required", [])
            }

        register = example("RegisterIn")
        assert set(register) == {"email", "password"}
        assert (await client.post("/api/v1/auth/register", json=register)).status_code == 202
        organization = await client.post(
            "/api/v1/organizations", json=example("OrganizationIn"), headers=headers
        )
        assert organization.status_code == 201, organization.text
        website = await client.post(
            f"/api/v1/organizations/{organization.json()['id']}/websites",
            json=example("WebsiteIn"),
            headers=headers,
        )
        assert website.status_code == 201, website.text
        login = example("Body_login")
        assert set(login) == {"username", "password"}
        answer = await client.post("/api/v1/auth/login", data=login)
        # Well-formed: refused for its credentials (the example account is not verified), not
        # for its shape.
        assert answer.status_code in (200, 401, 403), answer.text


class TestDocument:
    def test_every_tag_is_described(self, spec):
        described = {tag["name"]: tag.get("description") for tag in spec["tags"]}
        used = {tag for _, _, operation in _operations(spec) for tag in operation.get("tags", [])}
        assert used <= set(described)
        assert all(described[tag] for tag in used)

    def test_readiness_has_a_typed_body(self, spec):
        response = spec["paths"]["/health/ready"]["get"]["responses"]["200"]
        ready = response["content"]["application/json"]["schema"]["$ref"]
        assert ready == "#/components/schemas/Ready"
        assert set(spec["components"]["schemas"]["Ready"]["required"]) == {
            "status",
            "policy_version",
        }

    async def test_readiness_answers_what_it_publishes(self, client):
        body = (await client.get("/health/ready")).json()
        assert body["status"] == "ready"
        assert isinstance(body["policy_version"], int)

    def test_the_committed_document_is_current(self):
        committed = OPENAPI_PATH.read_text()
        assert (
            committed == render()
        ), f"{OPENAPI_PATH.relative_to(ROOT_DIR)} is stale: run `make openapi` and commit it"

    def test_make_openapi_check_fails_on_a_stale_document(self, tmp_path):
        stale = tmp_path / "openapi.json"
        stale.write_text("{}\n")
        command = [sys.executable, "-m", "scripts.openapi", "--check", "--output", str(stale)]
        result = subprocess.run(command, cwd=ROOT_DIR, capture_output=True, text=True)
        assert result.returncode == 1
        assert "stale" in result.stderr
        stale.write_text(render())
        assert subprocess.run(command, cwd=ROOT_DIR, capture_output=True).returncode == 0
