"""Organization behaviour beyond the permission matrix."""

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.invitations.models import Invitation
from app.memberships.models import OrganizationMembership, WebsiteMembership
from app.organizations.models import Organization
from app.websites.models import Website
from tests.factories import (
    create_invitation,
    create_organization,
    create_user,
    create_website,
    row_count,
    token_for,
)

API = "/api/v1"


class TestCreateAndList:
    async def test_create_makes_the_caller_admin_with_location(self, client, session):
        user = await create_user(session)
        headers = await token_for(session, user)
        response = await client.post(
            f"{API}/organizations", json={"name": " Tab\u00a0Co "}, headers=headers
        )
        assert response.status_code == 201
        body = response.json()
        assert body["my_role"] == "admin"
        assert body["name"] == " Tab\u00a0Co "  # exactly as sent
        assert response.headers["location"] == f"/api/v1/organizations/{body['id']}"
        assert (await client.get(response.headers["location"], headers=headers)).json() == body

    async def test_list_shows_only_my_organizations_with_my_role(self, client, session):
        user = await create_user(session)
        mine = await create_organization(session, name="Mine", members=[(user, "user")])
        await create_organization(
            session, name="Theirs", members=[(await create_user(session), "admin")]
        )
        headers = await token_for(session, user)
        items = (await client.get(f"{API}/organizations", headers=headers)).json()["items"]
        assert [(i["id"], i["my_role"]) for i in items] == [(str(mine.id), "user")]

    async def test_keyset_pagination_walks_every_row_once(self, client, session):
        user = await create_user(session)
        created = [
            await create_organization(session, name=f"O{i}", members=[(user, "admin")])
            for i in range(7)
        ]
        headers = await token_for(session, user)
        seen, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(f"{API}/organizations", params=params, headers=headers)).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [str(o.id) for o in created]

    async def test_bad_paging_parameters_are_422(self, client, session):
        headers = await token_for(session, await create_user(session))
        for params in ({"limit": 0}, {"limit": 101}, {"cursor": "not-a-cursor"}, {"cursor": "e30"}):
            response = await client.get(f"{API}/organizations", params=params, headers=headers)
            assert response.status_code == 422, params

    async def test_hostile_names_are_stored_exactly_and_change_no_decision(
        self, client, session, app
    ):
        user = await create_user(session)
        headers = await token_for(session, user)
        for name in ("a)b", "x, y", "(", "*#", "名前😀", "p, org_user, organization, delete"):
            created = await client.post(
                f"{API}/organizations", json={"name": name}, headers=headers
            )
            assert created.status_code == 201
            org_id = created.json()["id"]
            assert created.json()["name"] == name
            await app.state.policy.reload()
            permissions = (
                await client.get(f"{API}/organizations/{org_id}/permissions", headers=headers)
            ).json()
            assert permissions["role"] == "admin"
            assert "organization:delete" in permissions["permissions"]


class TestPermissions:
    async def test_org_user_permissions_come_from_the_enforcer(self, client, session):
        user = await create_user(session)
        org = await create_organization(session, members=[(user, "user")])
        body = (
            await client.get(
                f"{API}/organizations/{org.id}/permissions", headers=await token_for(session, user)
            )
        ).json()
        assert body["role"] == "user"
        assert "organization:read" in body["permissions"]
        assert "organization:delete" not in body["permissions"]
        assert "website:update" in body["permissions"]


class TestDelete:
    async def test_deleting_cascades_in_one_transaction(self, client, session):
        admin = await create_user(session)
        site_member = await create_user(session)
        org = await create_organization(session, members=[(admin, "admin")])
        site = await create_website(session, org, members=[(site_member, "user")])
        await create_invitation(session, org)
        await create_invitation(session, org, website=site)
        response = await client.delete(
            f"{API}/organizations/{org.id}", headers=await token_for(session, admin)
        )
        assert response.status_code == 204
        assert await row_count(session, Organization, Organization.id == org.id) == 0
        assert await row_count(session, Website, Website.organization_id == org.id) == 0
        assert (
            await row_count(session, WebsiteMembership, WebsiteMembership.website_id == site.id)
            == 0
        )
        assert (
            await row_count(
                session, OrganizationMembership, OrganizationMembership.organization_id == org.id
            )
            == 0
        )
        assert await row_count(session, Invitation, Invitation.organization_id == org.id) == 0
        assert (
            await row_count(
                session,
                AuditEvent,
                AuditEvent.action == "organization.deleted",
                AuditEvent.organization_id == org.id,
            )
            == 1
        )


class TestMembers:
    async def _org(self, session, *roles):
        users = [await create_user(session) for _ in roles]
        org = await create_organization(session, members=list(zip(users, roles, strict=True)))
        return org, users

    async def test_members_list_shows_users_and_roles(self, client, session):
        org, (admin, user) = await self._org(session, "admin", "user")
        body = (
            await client.get(
                f"{API}/organizations/{org.id}/members", headers=await token_for(session, user)
            )
        ).json()
        assert {(m["user"]["id"], m["role"]) for m in body["items"]} == {
            (str(admin.id), "admin"),
            (str(user.id), "user"),
        }
        assert set(body["items"][0]) == {"user", "role", "joined_at"}
        assert set(body["items"][0]["user"]) == {"id", "email", "full_name"}

    async def test_admin_promotes_and_demotes(self, client, session):
        org, (admin, user) = await self._org(session, "admin", "user")
        headers = await token_for(session, admin)
        url = f"{API}/organizations/{org.id}/members/{user.id}"
        assert (await client.patch(url, json={"role": "admin"}, headers=headers)).json()[
            "role"
        ] == "admin"
        demote_self = await client.patch(
            f"{API}/organizations/{org.id}/members/{admin.id}",
            json={"role": "user"},
            headers=headers,
        )
        assert demote_self.status_code == 200
        events = await row_count(
            session,
            AuditEvent,
            AuditEvent.organization_id == org.id,
            AuditEvent.action == "organization_member.role_changed",
        )
        assert events == 2

    async def test_last_admin_cannot_be_demoted_or_leave(self, client, session):
        org, (admin, user) = await self._org(session, "admin", "user")
        headers = await token_for(session, admin)
        demote = await client.patch(
            f"{API}/organizations/{org.id}/members/{admin.id}",
            json={"role": "user"},
            headers=headers,
        )
        assert demote.status_code == 409
        assert demote.json()["code"] == "last_admin"
        leave = await client.delete(
            f"{API}/organizations/{org.id}/members/{admin.id}", headers=headers
        )
        assert leave.status_code == 409

    async def test_member_can_leave(self, client, session):
        org, (_, user) = await self._org(session, "admin", "user")
        headers = await token_for(session, user)
        assert (
            await client.delete(f"{API}/organizations/{org.id}/members/{user.id}", headers=headers)
        ).status_code == 204
        assert (
            await client.get(f"{API}/organizations/{org.id}", headers=headers)
        ).status_code == 404

    async def test_removing_a_member_removes_their_website_roles_in_the_org(self, client, session):
        org, (admin, user) = await self._org(session, "admin", "user")
        site = await create_website(session, org, members=[(user, "admin")])
        await client.delete(
            f"{API}/organizations/{org.id}/members/{user.id}",
            headers=await token_for(session, admin),
        )
        assert (
            await row_count(session, WebsiteMembership, WebsiteMembership.website_id == site.id)
            == 0
        )

    async def test_unknown_member_is_404_and_bad_role_is_422(self, client, session):
        org, (admin,) = await self._org(session, "admin")
        headers = await token_for(session, admin)
        stranger = await create_user(session)
        assert (
            await client.patch(
                f"{API}/organizations/{org.id}/members/{stranger.id}",
                json={"role": "user"},
                headers=headers,
            )
        ).status_code == 404
        assert (
            await client.patch(
                f"{API}/organizations/{org.id}/members/{admin.id}",
                json={"role": "owner"},
                headers=headers,
            )
        ).status_code == 422
        assert (
            await client.patch(
                f"{API}/organizations/{org.id}/members/not-a-uuid",
                json={"role": "user"},
                headers=headers,
            )
        ).status_code == 422

    async def test_audit_events_are_listed_newest_first_for_admins(self, client, session):
        org, (admin, user) = await self._org(session, "admin", "user")
        headers = await token_for(session, admin)
        await client.patch(
            f"{API}/organizations/{org.id}/members/{user.id}",
            json={"role": "admin"},
            headers=headers,
        )
        await client.patch(
            f"{API}/organizations/{org.id}/members/{user.id}",
            json={"role": "user"},
            headers=headers,
        )
        items = (
            await client.get(f"{API}/organizations/{org.id}/audit-events", headers=headers)
        ).json()["items"]
        assert [i["after"] for i in items[:2]] == [{"role": "user"}, {"role": "admin"}]
        assert items[0]["actor_id"] == str(admin.id)
        assert items[0]["target_id"] == str(user.id)


class TestRename:
    async def test_put_requires_name_and_patch_accepts_empty(self, client, session):
        user = await create_user(session)
        org = await create_organization(session, members=[(user, "user")])
        headers = await token_for(session, user)
        assert (
            await client.put(f"{API}/organizations/{org.id}", json={}, headers=headers)
        ).status_code == 422
        same = await client.patch(f"{API}/organizations/{org.id}", json={}, headers=headers)
        assert same.status_code == 200
        assert same.json()["name"] == org.name
        renamed = await client.put(
            f"{API}/organizations/{org.id}", json={"name": "New"}, headers=headers
        )
        assert renamed.json()["name"] == "New"
        stored = await session.scalar(sa.select(Organization.name).where(Organization.id == org.id))
        assert stored == "New"


class TestCursors:
    async def test_cursor_with_non_string_fields_is_422(self, client, session):
        import base64
        import json

        headers = await token_for(session, await create_user(session))
        for fields in (
            ["2024-01-01T00:00:00+00:00", 1],
            [1, "x"],
            ["2024-01-01T00:00:00", str(org_id := "0" * 32)],
        ):
            cursor = base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")
            response = await client.get(
                f"{API}/organizations", params={"cursor": cursor}, headers=headers
            )
            assert response.status_code == 422, (fields, org_id)


class TestOrganizationListMatchesDetail:
    @pytest.mark.parametrize("persona", ["org_admin", "org_user", "website_admin", "outsider"])
    async def test_an_organization_is_listed_exactly_when_its_detail_answers_200(
        self, client, session, persona
    ):
        from tests.factories import create_website

        caller = await create_user(session)
        roles = {"org_admin": "admin", "org_user": "user"}
        orgs = [await create_organization(session) for _ in range(2)]
        if persona in roles:
            orgs.append(await create_organization(session, members=[(caller, roles[persona])]))
        if persona == "website_admin":
            await create_website(session, orgs[0], members=[(caller, "admin")])
        headers = await token_for(session, caller)
        listed = {
            i["id"]
            for i in (await client.get(f"{API}/organizations", headers=headers)).json()["items"]
        }
        readable = {
            str(o.id)
            for o in orgs
            if (await client.get(f"{API}/organizations/{o.id}", headers=headers)).status_code == 200
        }
        assert listed == readable
