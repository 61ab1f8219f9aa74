"""`?explain=true` on the permission routes: Casbin's own explanation of each decision."""

from app.authz.policy import POLICY_PATH
from tests.factories import auth_headers, create_organization, create_user, create_website


def line_of(rule: str) -> str:
    """`policies/policy.csv:N` for a row of the policy file, found by reading the file."""
    for number, line in enumerate(POLICY_PATH.read_text().splitlines(), start=1):
        if ", ".join(f.strip() for f in line.split(",")) == rule:
            return f"policies/policy.csv:{number}"
    raise AssertionError(f"{rule} is not in the policy file")


class TestExplainedPermissions:
    async def test_every_granted_permission_names_its_assignment_and_policy_line(
        self, client, session
    ):
        admin = await create_user(session)
        organization = await create_organization(session, members=[(admin, "admin")])
        headers = await auth_headers(client, admin)
        answer = await client.get(
            f"/api/v1/organizations/{organization.id}/permissions?explain=true", headers=headers
        )
        assert answer.status_code == 200
        body = answer.json()
        assert body["role"] == "admin"
        explained = {e["permission"]: e for e in body["explanations"]}
        assert set(explained) == set(body["permissions"])
        delete = explained["organization:delete"]
        assert delete["role_assignment"] == {"level": "organization", "role": "admin"}
        assert delete["policy"]["rule"] == "p, org_admin, organization, delete"
        assert delete["policy"]["source"] == line_of("p, org_admin, organization, delete")
        # An admin reads through the row that grants org users, held by inheritance.
        read = explained["organization:read"]
        assert read["policy"]["rule"] == "p, org_user, organization, read"
        assert read["role_assignment"] == {"level": "organization", "role": "admin"}

    async def test_a_website_role_is_named_as_such(self, client, session):
        owner = await create_user(session)
        collaborator = await create_user(session)
        organization = await create_organization(session, members=[(owner, "admin")])
        website = await create_website(session, organization, members=[(collaborator, "user")])
        headers = await auth_headers(client, collaborator)
        body = (
            await client.get(
                f"/api/v1/websites/{website.id}/permissions?explain=true", headers=headers
            )
        ).json()
        assert body["role"] == "user"
        explained = {e["permission"]: e for e in body["explanations"]}
        assert "website:delete" not in explained
        update = explained["website:update"]
        assert update["role_assignment"] == {"level": "website", "role": "user"}
        assert update["policy"] == {
            "rule": "p, website_user, website, update",
            "source": line_of("p, website_user, website, update"),
        }

    async def test_the_assignment_that_grants_is_named_when_the_caller_holds_two(
        self, client, session
    ):
        user = await create_user(session)
        organization = await create_organization(session, members=[(user, "admin")])
        website = await create_website(session, organization, members=[(user, "user")])
        headers = await auth_headers(client, user)
        body = (
            await client.get(
                f"/api/v1/websites/{website.id}/permissions?explain=true", headers=headers
            )
        ).json()
        # The effective role on the website is the stronger of the two held.
        assert body["role"] == "admin"
        explained = {e["permission"]: e for e in body["explanations"]}
        assert explained["website:delete"]["role_assignment"] == {
            "level": "organization",
            "role": "admin",
        }

    async def test_without_explain_the_answer_keeps_its_shape(self, client, session):
        admin = await create_user(session)
        organization = await create_organization(session, members=[(admin, "admin")])
        headers = await auth_headers(client, admin)
        for query in ("", "?explain=false"):
            body = (
                await client.get(
                    f"/api/v1/organizations/{organization.id}/permissions{query}", headers=headers
                )
            ).json()
            assert set(body) == {"role", "permissions"}

    async def test_a_malformed_explain_is_422(self, client, session):
        admin = await create_user(session)
        organization = await create_organization(session, members=[(admin, "admin")])
        headers = await auth_headers(client, admin)
        answer = await client.get(
            f"/api/v1/organizations/{organization.id}/permissions?explain=maybe", headers=headers
        )
        assert answer.status_code == 422
