"""Membership changes stay inside the organization or website named in the path, and lists
follow the policy rather than the shipped policy's particular rows."""

import pytest
import sqlalchemy as sa

from app.authz.engine import PolicyEngine
from app.authz.policy import read_policy_file
from app.memberships.models import OrganizationMembership, WebsiteMembership
from tests.factories import create_organization, create_user, create_website, token_for

API = "/api/v1"


async def org_role(session, organization_id, user_id) -> str | None:
    return await session.scalar(
        sa.select(OrganizationMembership.role).where(
            OrganizationMembership.organization_id == organization_id,
            OrganizationMembership.user_id == user_id,
        )
    )


class TestMemberOfAnotherOrganization:
    """A member id of organization B, sent to organization A's member routes, is not a member."""

    async def _world(self, session):
        admin = await create_user(session)
        stranger = await create_user(session)
        other_admin = await create_user(session)
        org_a = await create_organization(session, members=[(admin, "admin")])
        org_b = await create_organization(
            session, members=[(other_admin, "admin"), (stranger, "admin")]
        )
        return admin, stranger, org_a, org_b

    async def test_changing_their_role_is_404_and_leaves_their_other_role(self, client, session):
        admin, stranger, org_a, org_b = await self._world(session)
        response = await client.patch(
            f"{API}/organizations/{org_a.id}/members/{stranger.id}",
            json={"role": "user"},
            headers=await token_for(session, admin),
        )
        assert response.status_code == 404
        assert await org_role(session, org_b.id, stranger.id) == "admin"
        assert await org_role(session, org_a.id, stranger.id) is None

    async def test_removing_them_is_404_and_leaves_their_other_membership(self, client, session):
        admin, stranger, org_a, org_b = await self._world(session)
        response = await client.delete(
            f"{API}/organizations/{org_a.id}/members/{stranger.id}",
            headers=await token_for(session, admin),
        )
        assert response.status_code == 404
        assert await org_role(session, org_b.id, stranger.id) == "admin"

    async def test_website_member_routes_are_scoped_to_the_website(self, client, session):
        admin = await create_user(session)
        member = await create_user(session)
        org = await create_organization(session, members=[(admin, "admin")])
        site_a = await create_website(session, org)
        site_b = await create_website(session, org, members=[(member, "admin")])
        headers = await token_for(session, admin)
        patch = await client.patch(
            f"{API}/websites/{site_a.id}/members/{member.id}",
            json={"role": "user"},
            headers=headers,
        )
        delete = await client.delete(
            f"{API}/websites/{site_a.id}/members/{member.id}", headers=headers
        )
        assert (patch.status_code, delete.status_code) == (404, 404)
        role = await session.scalar(
            sa.select(WebsiteMembership.role).where(
                WebsiteMembership.website_id == site_b.id, WebsiteMembership.user_id == member.id
            )
        )
        assert role == "admin"


async def test_removal_from_one_organization_keeps_website_roles_in_another(client, session):
    admin = await create_user(session)
    member = await create_user(session)
    org_a = await create_organization(session, members=[(admin, "admin"), (member, "user")])
    org_b = await create_organization(session)
    site_a = await create_website(session, org_a, members=[(member, "user")])
    site_b = await create_website(session, org_b, members=[(member, "admin")])
    response = await client.delete(
        f"{API}/organizations/{org_a.id}/members/{member.id}",
        headers=await token_for(session, admin),
    )
    assert response.status_code == 204
    remaining = dict(
        (
            await session.execute(
                sa.select(WebsiteMembership.website_id, WebsiteMembership.role).where(
                    WebsiteMembership.user_id == member.id
                )
            )
        ).all()
    )
    assert remaining == {site_b.id: "admin"}
    assert site_a.id not in remaining


async def test_removal_keeps_the_other_members_website_roles(client, session):
    admin, leaving, staying = [await create_user(session) for _ in range(3)]
    org = await create_organization(
        session, members=[(admin, "admin"), (leaving, "user"), (staying, "user")]
    )
    site = await create_website(session, org, members=[(leaving, "user"), (staying, "admin")])
    response = await client.delete(
        f"{API}/organizations/{org.id}/members/{leaving.id}",
        headers=await token_for(session, admin),
    )
    assert response.status_code == 204
    remaining = (
        await session.execute(
            sa.select(WebsiteMembership.user_id, WebsiteMembership.role).where(
                WebsiteMembership.website_id == site.id
            )
        )
    ).all()
    assert [tuple(row) for row in remaining] == [(staying.id, "admin")]


async def test_website_list_leaves_out_organizations_the_caller_is_not_in(client, session):
    caller = await create_user(session)
    neighbour = await create_user(session)
    org_a = await create_organization(session, members=[(caller, "user")])
    # B has members of its own, so a filter on "any membership" rather than the caller's would
    # list its websites.
    org_b = await create_organization(session, members=[(neighbour, "admin")])
    mine = [await create_website(session, org_a) for _ in range(2)]
    theirs = await create_website(session, org_b, members=[(neighbour, "user")])
    listed = {
        item["id"]
        for item in (
            await client.get(f"{API}/websites", headers=await token_for(session, caller))
        ).json()["items"]
    }
    assert listed == {str(site.id) for site in mine}
    assert str(theirs.id) not in listed


@pytest.fixture
def policy_without(app):
    """Replace the live policy by the shipped one minus the given rows, for one test."""
    store = app.state.policy
    shipped = store.current

    def install(*removed: tuple[str, ...]) -> None:
        rows = [row for row in read_policy_file() if tuple(row) not in removed]
        assert len(rows) == len(read_policy_file()) - len(removed), "a removed row is not shipped"
        store.current = PolicyEngine(rows, shipped.version)

    yield install
    store.current = shipped


async def test_lists_follow_a_policy_where_website_users_cannot_read(
    client, session, policy_without
):
    caller = await create_user(session)
    org = await create_organization(session)
    site = await create_website(session, org, members=[(caller, "user")])
    headers = await token_for(session, caller)
    listed = (await client.get(f"{API}/websites", headers=headers)).json()["items"]
    assert [item["id"] for item in listed] == [str(site.id)]

    policy_without(("p", "website_user", "website", "read"))
    assert (await client.get(f"{API}/websites/{site.id}", headers=headers)).status_code in (
        403,
        404,
    )
    assert (await client.get(f"{API}/websites", headers=headers)).json()["items"] == []


async def test_organization_list_follows_a_policy_where_org_users_cannot_read_websites(
    client, session, policy_without
):
    admin = await create_user(session)
    user = await create_user(session)
    org = await create_organization(session, members=[(admin, "admin"), (user, "user")])
    site = await create_website(session, org)
    policy_without(("p", "org_user", "website", "read"))
    for caller, expected in ((user, []), (admin, [])):
        headers = await token_for(session, caller)
        listed = (
            await client.get(f"{API}/organizations/{org.id}/websites", headers=headers)
        ).json()
        assert [item["id"] for item in listed["items"]] == expected
        detail = await client.get(f"{API}/websites/{site.id}", headers=headers)
        assert detail.status_code in (403, 404)
