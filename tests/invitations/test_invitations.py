"""Invitations, both sides: invite, list, revoke, accept, decline."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.db import utcnow
from app.invitations.models import Invitation
from app.memberships.models import OrganizationMembership, WebsiteMembership
from tests.factories import (
    create_organization,
    create_user,
    create_website,
    latest_token,
    organization_with_admin,
    row_count,
    token_for,
    unique_email,
)

API = "/api/v1"


class TestInvite:
    async def test_invite_answers_201_and_mails_a_token_link(self, client, session):
        _, org, headers = await organization_with_admin(session)
        email = unique_email("Guest")
        response = await client.post(
            f"{API}/organizations/{org.id}/invitations",
            json={"email": email, "role": "user"},
            headers=headers,
        )
        assert response.status_code == 201
        body = response.json()
        assert {k: body[k] for k in ("email", "role", "status", "organization_id")} == {
            "email": email.lower(),
            "role": "user",
            "status": "pending",
            "organization_id": str(org.id),
        }
        assert response.headers["location"].endswith(body["id"])
        located = await client.get(response.headers["location"], headers=headers)
        assert located.status_code == 200
        assert located.json() == body
        assert await latest_token(session, email.lower(), "invitation")
        listed = (
            await client.get(f"{API}/organizations/{org.id}/invitations", headers=headers)
        ).json()["items"]
        assert [i["id"] for i in listed] == [body["id"]]

    async def test_inviting_a_member_is_409_already_member(self, client, session):
        admin, org, headers = await organization_with_admin(session)
        response = await client.post(
            f"{API}/organizations/{org.id}/invitations",
            json={"email": admin.email.upper(), "role": "user"},
            headers=headers,
        )
        assert response.status_code == 409
        assert response.json()["code"] == "already_member"

    async def test_second_pending_invitation_is_409(self, client, session):
        _, org, headers = await organization_with_admin(session)
        body = {"email": unique_email(), "role": "user"}
        assert (
            await client.post(
                f"{API}/organizations/{org.id}/invitations", json=body, headers=headers
            )
        ).status_code == 201
        again = await client.post(
            f"{API}/organizations/{org.id}/invitations", json=body, headers=headers
        )
        assert again.status_code == 409
        assert again.json()["code"] == "invitation_pending"

    async def test_an_expired_invitation_no_longer_blocks(self, client, session):
        _, org, headers = await organization_with_admin(session)
        body = {"email": unique_email(), "role": "user"}
        await client.post(f"{API}/organizations/{org.id}/invitations", json=body, headers=headers)
        await session.execute(
            sa.update(Invitation)
            .where(Invitation.email == body["email"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        assert (
            await client.post(
                f"{API}/organizations/{org.id}/invitations", json=body, headers=headers
            )
        ).status_code == 201

    async def test_revoking_an_expired_invitation_is_409_and_it_stays_expired(
        self, client, session
    ):
        _, org, headers = await organization_with_admin(session)
        created = await client.post(
            f"{API}/organizations/{org.id}/invitations",
            json={"email": unique_email(), "role": "user"},
            headers=headers,
        )
        await session.execute(
            sa.update(Invitation)
            .where(Invitation.id == created.json()["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        # Committed, so the refused request's rollback does not take the change with it.
        await session.commit()
        location = f"{API}/organizations/{org.id}/invitations/{created.json()['id']}"
        revoke = await client.delete(location, headers=headers)
        assert revoke.status_code == 409
        assert revoke.json()["code"] == "invitation_not_pending"
        assert (await client.get(location, headers=headers)).json()["status"] == "expired"

    async def test_bad_bodies_are_422(self, client, session):
        _, org, headers = await organization_with_admin(session)
        for body in (
            {"email": "nope", "role": "user"},
            {"email": unique_email(), "role": "owner"},
            {"email": unique_email()},
        ):
            assert (
                await client.post(
                    f"{API}/organizations/{org.id}/invitations", json=body, headers=headers
                )
            ).status_code == 422

    async def test_website_admin_invites_to_their_website_only(self, client, session):
        site_admin = await create_user(session)
        org = await create_organization(session)
        site = await create_website(session, org, members=[(site_admin, "admin")])
        other_site = await create_website(session, org)
        headers = await token_for(session, site_admin)
        body = {"email": unique_email(), "role": "user"}
        ok = await client.post(f"{API}/websites/{site.id}/invitations", json=body, headers=headers)
        assert ok.status_code == 201
        assert ok.json()["website_id"] == str(site.id)
        assert (
            await client.post(
                f"{API}/websites/{other_site.id}/invitations", json=body, headers=headers
            )
        ).status_code == 404
        assert (
            await client.post(
                f"{API}/organizations/{org.id}/invitations", json=body, headers=headers
            )
        ).status_code == 404

    async def test_revoke_then_token_no_longer_works(self, client, session):
        _, org, headers = await organization_with_admin(session)
        invitee = await create_user(session)
        created = await client.post(
            f"{API}/organizations/{org.id}/invitations",
            json={"email": invitee.email, "role": "user"},
            headers=headers,
        )
        token = await latest_token(session, invitee.email, "invitation")
        revoke = await client.delete(
            f"{API}/organizations/{org.id}/invitations/{created.json()['id']}", headers=headers
        )
        assert revoke.status_code == 204
        again = await client.delete(
            f"{API}/organizations/{org.id}/invitations/{created.json()['id']}", headers=headers
        )
        assert again.status_code == 409
        accept = await client.post(
            f"{API}/invitations/accept",
            json={"token": token},
            headers=await token_for(session, invitee),
        )
        assert accept.status_code == 400
        assert accept.json()["code"] == "invalid_or_expired_token"


class TestAccept:
    @pytest.mark.parametrize("token", ["", "x" * 2000, "héllo", "a\u0000b"])
    async def test_never_issued_token_is_400(self, client, session, token):
        headers = await token_for(session, await create_user(session))
        response = await client.post(
            f"{API}/invitations/accept", json={"token": token}, headers=headers
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_or_expired_token"

    async def _invited(self, client, session, role="user", website=False):
        admin, org, headers = await organization_with_admin(session)
        invitee = await create_user(session)
        if website:
            site = await create_website(session, org)
            path = f"{API}/websites/{site.id}/invitations"
        else:
            path = f"{API}/organizations/{org.id}/invitations"
        created = await client.post(
            path, json={"email": invitee.email, "role": role}, headers=headers
        )
        assert created.status_code == 201
        return (
            org,
            invitee,
            created.json(),
            await latest_token(session, invitee.email, "invitation"),
        )

    async def test_accept_by_token_creates_the_membership_once(self, client, session):
        org, invitee, _, token = await self._invited(client, session, role="admin")
        headers = await token_for(session, invitee)
        response = await client.post(
            f"{API}/invitations/accept", json={"token": token}, headers=headers
        )
        assert response.status_code == 200
        assert response.json()["role"] == "admin"
        assert response.json()["organization_id"] == str(org.id)
        assert (await client.get(f"{API}/organizations/{org.id}", headers=headers)).json()[
            "my_role"
        ] == "admin"
        again = await client.post(
            f"{API}/invitations/accept", json={"token": token}, headers=headers
        )
        assert again.status_code == 400

    async def test_accepting_a_website_invitation_grants_the_website_role(self, client, session):
        org, invitee, created, token = await self._invited(client, session, website=True)
        headers = await token_for(session, invitee)
        assert (
            await client.post(f"{API}/invitations/accept", json={"token": token}, headers=headers)
        ).status_code == 200
        assert (
            await row_count(session, WebsiteMembership, WebsiteMembership.user_id == invitee.id)
            == 1
        )
        assert (
            await client.get(f"{API}/websites/{created['website_id']}", headers=headers)
        ).status_code == 200
        assert (
            await client.get(f"{API}/organizations/{org.id}", headers=headers)
        ).status_code == 404

    async def test_another_address_is_403_mismatch_and_changes_nothing(self, client, session):
        org, _, _, token = await self._invited(client, session)
        someone = await create_user(session)
        response = await client.post(
            f"{API}/invitations/accept",
            json={"token": token},
            headers=await token_for(session, someone),
        )
        assert response.status_code == 403
        assert response.json()["code"] == "invitation_email_mismatch"
        assert (
            await row_count(
                session, OrganizationMembership, OrganizationMembership.user_id == someone.id
            )
            == 0
        )

    async def test_unverified_invitee_must_verify_first(self, client, session):
        admin, org, headers = await organization_with_admin(session)
        invitee = await create_user(session, verified=False)
        await client.post(
            f"{API}/organizations/{org.id}/invitations",
            json={"email": invitee.email, "role": "user"},
            headers=headers,
        )
        token = await latest_token(session, invitee.email, "invitation")
        response = await client.post(
            f"{API}/invitations/accept",
            json={"token": token},
            headers=await token_for(session, invitee),
        )
        assert response.status_code == 403
        assert response.json()["code"] == "email_not_verified"

    async def test_expired_and_unknown_tokens_are_400(self, client, session):
        _, invitee, _, token = await self._invited(client, session)
        headers = await token_for(session, invitee)
        await session.execute(
            sa.update(Invitation)
            .where(Invitation.email == invitee.email)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        assert (
            await client.post(f"{API}/invitations/accept", json={"token": token}, headers=headers)
        ).status_code == 400
        assert (
            await client.post(
                f"{API}/invitations/accept", json={"token": "unknown"}, headers=headers
            )
        ).status_code == 400

    async def test_account_tokens_are_not_invitation_tokens(self, client, session):
        _, invitee, _, _ = await self._invited(client, session)
        headers = await token_for(session, invitee)
        await client.post(f"{API}/auth/forgot-password", json={"email": invitee.email})
        reset = await latest_token(session, invitee.email, "reset_password")
        assert (
            await client.post(f"{API}/invitations/accept", json={"token": reset}, headers=headers)
        ).status_code == 400

    async def test_list_accept_and_decline_by_id(self, client, session):
        _, invitee, created, _ = await self._invited(client, session)
        headers = await token_for(session, invitee)
        listed = (await client.get(f"{API}/invitations", headers=headers)).json()["items"]
        assert [i["id"] for i in listed] == [created["id"]]
        someone = await token_for(session, await create_user(session))
        assert (
            await client.post(f"{API}/invitations/{created['id']}/accept", headers=someone)
        ).status_code == 404
        assert (
            await client.post(f"{API}/invitations/{created['id']}/decline", headers=headers)
        ).status_code == 204
        assert (
            await client.post(f"{API}/invitations/{created['id']}/accept", headers=headers)
        ).status_code == 400
        assert (await client.get(f"{API}/invitations", headers=headers)).json()["items"] == []

    async def test_accept_by_id(self, client, session):
        org, invitee, created, _ = await self._invited(client, session)
        headers = await token_for(session, invitee)
        response = await client.post(f"{API}/invitations/{created['id']}/accept", headers=headers)
        assert response.status_code == 200
        assert response.json()["organization_id"] == str(org.id)
