"""What an invitation says and leaves behind: the mail's words, the conflicts at website level,
the audit trail of each step, and the texts of the refusals."""

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.invitations.models import Invitation
from app.users.models import User
from tests.factories import (
    create_organization,
    create_user,
    create_website,
    mail_context,
    organization_with_admin,
    outbox_for,
    token_for,
    unique_email,
)

API = "/api/v1"


async def _invite(client: AsyncClient, path: str, headers: dict[str, str], **body: Any) -> Any:
    response = await client.post(f"{API}{path}/invitations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _invitation_mail(session: AsyncSession, email: str) -> dict[str, Any]:
    mails = [mail for mail in await outbox_for(session, email) if mail.template == "invitation"]
    assert len(mails) == 1
    context = await mail_context(session, mails[0])
    assert context is not None
    return context


async def _events(client: AsyncClient, org_id: UUID, headers: dict[str, str]) -> list[Any]:
    response = await client.get(f"{API}/organizations/{org_id}/audit-events", headers=headers)
    assert response.status_code == 200
    return list(response.json()["items"])


async def _mailed(session: AsyncSession, client: AsyncClient, inviter: User, path: str, role: str):
    """Invite a new address to `path` as `inviter`; the context the invitation mail is sent with."""
    email = unique_email("guest")
    await _invite(client, path, await token_for(session, inviter), email=email, role=role)
    return await _invitation_mail(session, email)


async def _statuses(session: AsyncSession, *ids: str) -> dict[str, tuple[str, bool]]:
    """Each named invitation's status, and whether an answer time is recorded."""
    rows = await session.execute(
        sa.select(Invitation.id, Invitation.status, Invitation.responded_at).where(
            col(Invitation.id).in_([UUID(i) for i in ids])
        )
    )
    return {str(row.id): (row.status, row.responded_at is not None) for row in rows}


class TestTheMail:
    async def test_names_the_inviter_the_organization_the_role_and_the_lifetime(
        self, app, client, session
    ):
        inviter = await create_user(session, full_name="Ada Lovelace")
        org = await create_organization(
            session, name="  Analytical  ", members=[(inviter, "admin")]
        )
        context = await _mailed(session, client, inviter, f"/organizations/{org.id}", "admin")
        assert context["inviter"] == "Ada Lovelace"
        assert context["target"] == "the organization “Analytical”"
        assert context["role"] == "admin"
        assert context["valid_for"] == "7 days"
        base = app.state.settings.links_base_url
        assert context["link"].startswith(f"{base}/invitations/accept?token=")

    async def test_names_the_website_and_its_organization(self, client, session):
        inviter = await create_user(session, full_name="Ada Lovelace")
        org = await create_organization(session, name="Analytical", members=[(inviter, "admin")])
        site = await create_website(session, org, name=" Engine ")
        context = await _mailed(session, client, inviter, f"/websites/{site.id}", "user")
        assert context["target"] == "the website “Engine” of the organization “Analytical”"
        assert context["role"] == "user"

    async def test_an_inviter_without_a_name_is_named_by_address(self, client, session):
        inviter = await create_user(session)
        org = await create_organization(session, members=[(inviter, "admin")])
        context = await _mailed(session, client, inviter, f"/organizations/{org.id}", "user")
        assert context["inviter"] == inviter.email


class TestWebsiteConflicts:
    async def _site(self, session: AsyncSession) -> tuple[User, Any, Any, dict[str, str]]:
        admin = await create_user(session)
        org = await create_organization(session, members=[(admin, "admin")])
        site = await create_website(session, org)
        return admin, org, site, await token_for(session, admin)

    async def test_a_second_pending_invitation_to_the_website_is_409(self, client, session):
        _, org, site, headers = await self._site(session)
        other_site = await create_website(session, org)
        email = unique_email()
        await _invite(client, f"/websites/{site.id}", headers, email=email, role="user")
        again = await client.post(
            f"{API}/websites/{site.id}/invitations",
            json={"email": email, "role": "admin"},
            headers=headers,
        )
        assert again.status_code == 409
        assert again.json()["code"] == "invitation_pending"
        assert again.json()["detail"] == "A pending invitation for this address exists."
        # Other targets are other invitations: another website, and the organization itself.
        await _invite(client, f"/websites/{other_site.id}", headers, email=email, role="user")
        await _invite(client, f"/organizations/{org.id}", headers, email=email, role="admin")
        pending = await client.get(f"{API}/websites/{site.id}/invitations", headers=headers)
        assert [(i["email"], i["role"]) for i in pending.json()["items"]] == [(email, "user")]

    async def test_an_expired_invitation_to_the_website_no_longer_blocks(self, client, session):
        _, _, site, headers = await self._site(session)
        email = unique_email()
        first = await _invite(client, f"/websites/{site.id}", headers, email=email, role="user")
        await session.execute(
            sa.update(Invitation)
            .where(Invitation.id == first["id"])
            .values(expires_at=sa.func.now() - sa.text("interval '1 second'"))
        )
        again = await _invite(client, f"/websites/{site.id}", headers, email=email, role="admin")
        assert again["id"] != first["id"]
        old = await client.get(
            f"{API}/websites/{site.id}/invitations/{first['id']}", headers=headers
        )
        assert old.json()["status"] == "expired"

    async def test_inviting_a_member_of_the_website_is_409(self, client, session):
        _, org, site, headers = await self._site(session)
        member = await create_user(session)
        site = await create_website(session, org, members=[(member, "user")])
        refused = await client.post(
            f"{API}/websites/{site.id}/invitations",
            json={"email": member.email, "role": "admin"},
            headers=headers,
        )
        assert refused.status_code == 409
        assert refused.json()["code"] == "already_member"
        assert refused.json()["detail"] == "This address already belongs to a member."
        assert await outbox_for(session, member.email) == []

    async def test_a_member_of_another_website_or_of_the_organization_can_be_invited(
        self, client, session
    ):
        admin, org, site, headers = await self._site(session)
        elsewhere = await create_user(session)
        await create_website(session, org, members=[(elsewhere, "admin")])
        await _invite(client, f"/websites/{site.id}", headers, email=elsewhere.email, role="user")
        # The organization's admin holds no role on the website itself.
        await _invite(client, f"/websites/{site.id}", headers, email=admin.email, role="user")


class TestTheAuditTrail:
    async def test_invite_revoke_accept_and_decline_are_recorded(self, client, session):
        admin, org, headers = await organization_with_admin(session)
        site = await create_website(session, org)
        revoked = await _invite(
            client, f"/organizations/{org.id}", headers, email=unique_email(), role="admin"
        )
        deleted = await client.delete(
            f"{API}/organizations/{org.id}/invitations/{revoked['id']}", headers=headers
        )
        assert deleted.status_code == 204
        invitee = await create_user(session)
        invitee_headers = await token_for(session, invitee)
        accepted = await _invite(
            client, f"/websites/{site.id}", headers, email=invitee.email, role="admin"
        )
        declined = await _invite(
            client, f"/organizations/{org.id}", headers, email=invitee.email, role="user"
        )
        for invitation, verb in ((accepted, "accept"), (declined, "decline")):
            answer = await client.post(
                f"{API}/invitations/{invitation['id']}/{verb}", headers=invitee_headers
            )
            assert answer.status_code in (200, 204), answer.text

        events = [
            (e["action"], e["actor_id"], e["target_type"], e["target_id"], e["before"], e["after"])
            for e in await _events(client, org.id, headers)
        ]
        assert events == [
            ("invitation.declined", str(invitee.id), "invitation", declined["id"], None, None),
            (
                "invitation.accepted",
                str(invitee.id),
                "invitation",
                accepted["id"],
                None,
                {"role": "admin", "website_id": str(site.id)},
            ),
            (
                "invitation.created",
                str(admin.id),
                "invitation",
                declined["id"],
                None,
                {"email": invitee.email, "role": "user", "website_id": None},
            ),
            (
                "invitation.created",
                str(admin.id),
                "invitation",
                accepted["id"],
                None,
                {"email": invitee.email, "role": "admin", "website_id": str(site.id)},
            ),
            (
                "invitation.revoked",
                str(admin.id),
                "invitation",
                revoked["id"],
                {"email": revoked["email"], "role": "admin"},
                None,
            ),
            (
                "invitation.created",
                str(admin.id),
                "invitation",
                revoked["id"],
                None,
                {"email": revoked["email"], "role": "admin", "website_id": None},
            ),
        ]


class TestById:
    async def test_each_invitation_answers_only_under_its_own_target(self, client, session):
        admin, org, headers = await organization_with_admin(session)
        site = await create_website(session, org)
        first = await _invite(
            client, f"/organizations/{org.id}", headers, email=unique_email(), role="user"
        )
        second = await _invite(
            client, f"/organizations/{org.id}", headers, email=unique_email(), role="admin"
        )
        on_site = await _invite(
            client, f"/websites/{site.id}", headers, email=unique_email(), role="user"
        )
        for path, invitation in (
            (f"/organizations/{org.id}", first),
            (f"/organizations/{org.id}", second),
            (f"/websites/{site.id}", on_site),
        ):
            found = await client.get(f"{API}{path}/invitations/{invitation['id']}", headers=headers)
            assert found.json() == invitation
        for path, invitation in (
            (f"/organizations/{org.id}", on_site),
            (f"/websites/{site.id}", first),
        ):
            for method in ("GET", "DELETE"):
                missing = await client.request(
                    method, f"{API}{path}/invitations/{invitation['id']}", headers=headers
                )
                assert (missing.status_code, missing.json()["detail"]) == (
                    404,
                    "No such invitation.",
                )
        statuses = [
            (await client.get(f"{API}{path}/invitations/{i['id']}", headers=headers)).json()[
                "status"
            ]
            for path, i in ((f"/organizations/{org.id}", first), (f"/websites/{site.id}", on_site))
        ]
        assert statuses == ["pending", "pending"]

    async def test_the_invitee_answers_the_invitation_named_and_no_other(self, client, session):
        admin, org, headers = await organization_with_admin(session)
        site = await create_website(session, org)
        invitee = await create_user(session)
        to_org = await _invite(
            client, f"/organizations/{org.id}", headers, email=invitee.email, role="user"
        )
        to_site = await _invite(
            client, f"/websites/{site.id}", headers, email=invitee.email, role="admin"
        )
        invitee_headers = await token_for(session, invitee)
        accepted = await client.post(
            f"{API}/invitations/{to_site['id']}/accept", headers=invitee_headers
        )
        assert accepted.json()["website_id"] == str(site.id)
        pending = await client.get(f"{API}/invitations", headers=invitee_headers)
        assert [i["id"] for i in pending.json()["items"]] == [to_org["id"]]
        # Someone else's invitation reads as no invitation at all.
        stranger_headers = await token_for(session, await create_user(session))
        for verb in ("accept", "decline"):
            missing = await client.post(
                f"{API}/invitations/{to_org['id']}/{verb}", headers=stranger_headers
            )
            assert (missing.status_code, missing.json()["detail"]) == (404, "No such invitation.")


class TestTargetsAndTime:
    async def test_an_organization_sees_only_its_own_invitations(self, client, session):
        admin = await create_user(session)
        mine = await create_organization(session, members=[(admin, "admin")])
        theirs = await create_organization(session, members=[(admin, "admin")])
        headers = await token_for(session, admin)
        own = await _invite(
            client, f"/organizations/{mine.id}", headers, email=unique_email(), role="user"
        )
        other = await _invite(
            client, f"/organizations/{theirs.id}", headers, email=unique_email(), role="user"
        )
        listed = await client.get(f"{API}/organizations/{mine.id}/invitations", headers=headers)
        assert [i["id"] for i in listed.json()["items"]] == [own["id"]]
        for method in ("GET", "DELETE"):
            crossed = await client.request(
                method, f"{API}/organizations/{mine.id}/invitations/{other['id']}", headers=headers
            )
            assert crossed.status_code == 404

    async def test_revoking_one_invitation_leaves_the_others_and_records_when(
        self, client, session
    ):
        admin, org, headers = await organization_with_admin(session)
        kept = await _invite(
            client, f"/organizations/{org.id}", headers, email=unique_email(), role="user"
        )
        gone = await _invite(
            client, f"/organizations/{org.id}", headers, email=unique_email(), role="user"
        )
        revoked = await client.delete(
            f"{API}/organizations/{org.id}/invitations/{gone['id']}", headers=headers
        )
        assert revoked.status_code == 204
        assert await _statuses(session, kept["id"], gone["id"]) == {
            kept["id"]: ("pending", False),
            gone["id"]: ("revoked", True),
        }

    async def test_an_invitation_expiring_now_is_no_longer_listed_or_answerable(
        self, client, session
    ):
        admin, org, headers = await organization_with_admin(session)
        invitee = await create_user(session)
        invitation = await _invite(
            client, f"/organizations/{org.id}", headers, email=invitee.email, role="user"
        )
        # The test and its requests share one transaction, so now() is the same instant for
        # both: an invitation expiring at it has expired.
        await session.execute(
            sa.update(Invitation)
            .where(Invitation.id == invitation["id"])
            .values(expires_at=sa.func.now())
        )
        listed = await client.get(f"{API}/organizations/{org.id}/invitations", headers=headers)
        assert listed.json()["items"] == []
        invitee_headers = await token_for(session, invitee)
        assert (await client.get(f"{API}/invitations", headers=invitee_headers)).json()[
            "items"
        ] == []
        late = await client.post(
            f"{API}/invitations/{invitation['id']}/accept", headers=invitee_headers
        )
        assert late.status_code == 400
        assert late.json()["detail"] == "The invitation is invalid, used, revoked or expired."

    async def test_answering_records_when(self, client, session):
        admin, org, headers = await organization_with_admin(session)
        site = await create_website(session, org)
        invitee = await create_user(session)
        invitee_headers = await token_for(session, invitee)
        accepted = await _invite(
            client, f"/organizations/{org.id}", headers, email=invitee.email, role="user"
        )
        declined = await _invite(
            client, f"/websites/{site.id}", headers, email=invitee.email, role="user"
        )
        for invitation, verb in ((accepted, "accept"), (declined, "decline")):
            answer = await client.post(
                f"{API}/invitations/{invitation['id']}/{verb}", headers=invitee_headers
            )
            assert answer.is_success
        assert await _statuses(session, accepted["id"], declined["id"]) == {
            accepted["id"]: ("accepted", True),
            declined["id"]: ("declined", True),
        }


async def test_accepting_an_invitation_to_the_organization_names_no_website(client, session):
    _, org, headers = await organization_with_admin(session)
    invitee = await create_user(session)
    invitation = await _invite(
        client, f"/organizations/{org.id}", headers, email=invitee.email, role="user"
    )
    accepted = await client.post(
        f"{API}/invitations/{invitation['id']}/accept", headers=await token_for(session, invitee)
    )
    assert accepted.status_code == 200
    assert accepted.json()["website_id"] is None
    events = await _events(client, org.id, headers)
    [event] = [e for e in events if e["action"] == "invitation.accepted"]
    assert event["after"] == {"role": "user", "website_id": None}
