"""Invitations are limited per inviter, per organization and per invited address; the "you
already have an account" mail of a repeated registration is counted per address."""

import pytest
import sqlalchemy as sa

from tests.auth.test_password_guessing import PASSWORD, bearer, service_of
from tests.factories import unique_email

API = "/api/v1"
HERE = "10.77.0.1"


async def verified_admin(service):
    """A verified user with their own organization: (headers, organization id)."""
    email = await service.account()
    async with service.app.state.sessions() as db, db.begin():
        await db.execute(
            sa.text("UPDATE users SET email_verified_at = now() WHERE email = :e"), {"e": email}
        )
    headers = await bearer(service, email)
    organizations = await service.call(HERE, "GET", "/organizations", headers=headers)
    return headers, organizations.json()["items"][0]["id"]


async def new_organization(service, headers):
    created = await service.call(
        HERE, "POST", "/organizations", json={"name": "Another"}, headers=headers
    )
    assert created.status_code == 201
    return created.json()["id"]


async def invite(service, headers, organization_id, email):
    return await service.call(
        HERE,
        "POST",
        f"/organizations/{organization_id}/invitations",
        json={"email": email, "role": "user"},
        headers=headers,
    )


def limits(**overrides):
    return {
        "rate_limit_invitations_per_inviter": 100,
        "rate_limit_invitations_per_organization": 100,
        "rate_limit_invitations_per_address": 100,
        **overrides,
    }


class TestInvitationLimits:
    async def test_per_inviter(self, database_url):
        async with service_of(database_url, **limits(rate_limit_invitations_per_inviter=2)) as svc:
            headers, org = await verified_admin(svc)
            other_org = await new_organization(svc, headers)
            statuses = [
                (await invite(svc, headers, target, unique_email("inv"))).status_code
                for target in (org, other_org, org)
            ]
            assert statuses == [201, 201, 429]

    async def test_per_organization(self, database_url):
        async with service_of(
            database_url, **limits(rate_limit_invitations_per_organization=2)
        ) as svc:
            headers, org = await verified_admin(svc)
            statuses = [
                (await invite(svc, headers, org, unique_email("inv"))).status_code for _ in range(3)
            ]
            assert statuses == [201, 201, 429]
            refused = await invite(svc, headers, org, unique_email("inv"))
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["code"] == "rate_limited"
            # Another organization has its own count.
            other_org = await new_organization(svc, headers)
            assert (await invite(svc, headers, other_org, unique_email("inv"))).status_code == 201

    async def test_per_invited_address(self, database_url):
        async with service_of(database_url, **limits(rate_limit_invitations_per_address=2)) as svc:
            target = unique_email("popular")
            statuses = []
            for _ in range(3):
                headers, org = await verified_admin(svc)
                statuses.append((await invite(svc, headers, org, target.upper())).status_code)
            assert statuses == [201, 201, 429]

    async def test_an_invitation_not_created_gives_its_counts_back(self, database_url):
        async with service_of(database_url, **limits(rate_limit_invitations_per_inviter=2)) as svc:
            headers, org = await verified_admin(svc)
            email = unique_email("twice")
            assert (await invite(svc, headers, org, email)).status_code == 201
            assert (await invite(svc, headers, org, email)).status_code == 409
            assert (await invite(svc, headers, org, unique_email("inv"))).status_code == 201


class TestRepeatedRegistration:
    @pytest.mark.parametrize("taken", [True, False])
    async def test_registrations_of_one_address_are_counted_per_address(self, database_url, taken):
        async with service_of(database_url, rate_limit_mail_per_account=2) as svc:
            email = await svc.account() if taken else unique_email("fresh")
            body = {"email": email, "password": PASSWORD}
            statuses = [
                (await svc.call(HERE, "POST", "/auth/register", json=body)).status_code
                for _ in range(3)
            ]
            # Every registration of the address counts, the one that created the account
            # included: the third is refused whether or not the address was taken before.
            assert statuses == ([202, 429, 429] if taken else [202, 202, 429])
