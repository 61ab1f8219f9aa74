"""What each membership change leaves in the organization's audit trail, and the texts of the
refusals: the trail is how an admin learns who changed a role, removed someone or left."""

from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import (
    PASSWORD,
    create_organization,
    create_user,
    create_website,
    token_for,
)

API = "/api/v1"


def _trail(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (e["action"], e["actor_id"], e["target_type"], e["target_id"], e["before"], e["after"])
        for e in items
    ]


async def _events(client: AsyncClient, org_id: Any, headers: dict[str, str]) -> list[Any]:
    response = await client.get(f"{API}/organizations/{org_id}/audit-events", headers=headers)
    assert response.status_code == 200
    return _trail(response.json()["items"])


async def _team(session: AsyncSession) -> tuple[Any, ...]:
    admin, member = await create_user(session), await create_user(session)
    org = await create_organization(session, members=[(admin, "admin"), (member, "user")])
    site = await create_website(session, org, members=[(member, "user")])
    return org, site, admin, member, await token_for(session, admin)


class TestOrganizationLevel:
    async def test_a_role_change_names_both_roles_and_the_same_role_records_nothing(
        self, client, session
    ):
        org, _, admin, member, headers = await _team(session)
        path = f"{API}/organizations/{org.id}/members/{member.id}"
        assert (await client.patch(path, json={"role": "admin"}, headers=headers)).is_success
        assert (await client.patch(path, json={"role": "admin"}, headers=headers)).is_success
        assert await _events(client, org.id, headers) == [
            (
                "organization_member.role_changed",
                str(admin.id),
                "user",
                str(member.id),
                {"role": "user"},
                {"role": "admin"},
            )
        ]

    async def test_removing_and_leaving_are_told_apart(self, client, session):
        org, _, admin, member, headers = await _team(session)
        removed = await client.delete(
            f"{API}/organizations/{org.id}/members/{member.id}", headers=headers
        )
        assert removed.status_code == 204
        # The admin leaves once another admin exists.
        second = await create_user(session)
        org2 = await create_organization(session, members=[(admin, "admin"), (second, "admin")])
        left = await client.delete(
            f"{API}/organizations/{org2.id}/members/{admin.id}", headers=headers
        )
        assert left.status_code == 204
        assert (await _events(client, org.id, headers))[0] == (
            "organization_member.removed",
            str(admin.id),
            "user",
            str(member.id),
            {"role": "user"},
            None,
        )
        second_headers = await token_for(session, second)
        assert (await _events(client, org2.id, second_headers))[0] == (
            "organization_member.left",
            str(admin.id),
            "user",
            str(admin.id),
            {"role": "admin"},
            None,
        )

    async def test_deleting_an_account_is_recorded_where_the_organization_stays(
        self, client, session
    ):
        org, _, admin, member, headers = await _team(session)
        member_headers = await token_for(session, member)
        deleted = await client.request(
            "DELETE", f"{API}/users/me", json={"password": PASSWORD}, headers=member_headers
        )
        assert deleted.status_code == 204
        assert (await _events(client, org.id, headers))[0] == (
            "organization_member.account_deleted",
            str(member.id),
            "user",
            str(member.id),
            None,
            None,
        )

    async def test_a_new_organization_records_its_founding(self, client, session):
        founder = await create_user(session)
        headers = await token_for(session, founder)
        created = await client.post(
            f"{API}/organizations", json={"name": "Foundry"}, headers=headers
        )
        assert created.status_code == 201
        assert await _events(client, created.json()["id"], headers) == [
            (
                "organization.created",
                str(founder.id),
                "organization",
                created.json()["id"],
                None,
                {"name": "Foundry"},
            )
        ]


class TestWebsiteLevel:
    async def test_a_role_change_names_the_website(self, client, session):
        org, site, admin, member, headers = await _team(session)
        path = f"{API}/websites/{site.id}/members/{member.id}"
        assert (await client.patch(path, json={"role": "admin"}, headers=headers)).is_success
        assert (await _events(client, org.id, headers))[0] == (
            "website_member.role_changed",
            str(admin.id),
            "user",
            str(member.id),
            {"role": "user", "website_id": str(site.id)},
            {"role": "admin", "website_id": str(site.id)},
        )

    async def test_removing_and_leaving_name_the_website(self, client, session):
        org, site, admin, member, headers = await _team(session)
        other_site = await create_website(session, org, members=[(member, "user")])
        removed = await client.delete(
            f"{API}/websites/{site.id}/members/{member.id}", headers=headers
        )
        assert removed.status_code == 204
        left = await client.delete(
            f"{API}/websites/{other_site.id}/members/{member.id}",
            headers=await token_for(session, member),
        )
        assert left.status_code == 204
        assert (await _events(client, org.id, headers))[:2] == [
            (
                "website_member.left",
                str(member.id),
                "user",
                str(member.id),
                {"role": "user", "website_id": str(other_site.id)},
                None,
            ),
            (
                "website_member.removed",
                str(admin.id),
                "user",
                str(member.id),
                {"role": "user", "website_id": str(site.id)},
                None,
            ),
        ]


class TestRefusalTexts:
    async def test_an_unknown_member_and_the_last_admin(self, client, session):
        org, site, admin, _, headers = await _team(session)
        stranger = await create_user(session)
        for path in (
            f"{API}/organizations/{org.id}/members/{stranger.id}",
            f"{API}/websites/{site.id}/members/{stranger.id}",
        ):
            missing = await client.patch(path, json={"role": "user"}, headers=headers)
            assert (missing.status_code, missing.json()["detail"]) == (404, "No such member.")
        last = await client.patch(
            f"{API}/organizations/{org.id}/members/{admin.id}",
            json={"role": "user"},
            headers=headers,
        )
        assert last.status_code == 409
        assert last.json()["detail"] == "The organization must keep at least one admin."
