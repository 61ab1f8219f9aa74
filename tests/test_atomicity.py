"""A failure after the role assignment is written rolls the whole use case back."""

from app.auth import service as auth_service
from app.invitations import service as invitation_service
from app.memberships.models import OrganizationMembership
from app.organizations.models import Organization
from app.users.models import User
from tests.factories import (
    create_organization,
    create_user,
    latest_token,
    row_count,
    token_for,
    unique_email,
)


class InjectedFailure(Exception):
    pass


async def test_registration_failing_after_the_assignment_leaves_nothing(
    client, session, monkeypatch
):
    async def explode(*args, **kwargs):
        # By now the user, the organization and the admin assignment are flushed.
        raise InjectedFailure

    monkeypatch.setattr(auth_service, "queue_verification_mail", explode)
    email = unique_email("atomic")
    organizations_before = await row_count(session, Organization)
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": "tangerine-obelisk-42"}
    )
    assert response.status_code == 500
    assert "Traceback" not in response.text
    assert response.json()["code"] == "internal_error"
    assert response.json()["request_id"]
    assert await row_count(session, User, User.email == email) == 0
    assert await row_count(session, Organization) == organizations_before


async def test_accept_failing_after_the_membership_is_written_leaves_the_invitation_pending(
    client, session, monkeypatch
):
    admin = await create_user(session)
    org = await create_organization(session, members=[(admin, "admin")])
    invitee = await create_user(session)
    headers = await token_for(session, admin)
    await client.post(
        f"/api/v1/organizations/{org.id}/invitations",
        json={"email": invitee.email, "role": "user"},
        headers=headers,
    )
    token = await latest_token(session, invitee.email, "invitation")

    async def explode(*args, **kwargs):
        raise InjectedFailure

    monkeypatch.setattr(invitation_service, "record_event", explode)
    response = await client.post(
        "/api/v1/invitations/accept",
        json={"token": token},
        headers=await token_for(session, invitee),
    )
    assert response.status_code == 500
    assert (
        await row_count(
            session, OrganizationMembership, OrganizationMembership.user_id == invitee.id
        )
        == 0
    )
    monkeypatch.undo()
    retry = await client.post(
        "/api/v1/invitations/accept",
        json={"token": token},
        headers=await token_for(session, invitee),
    )
    assert retry.status_code == 200
