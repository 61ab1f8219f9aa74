"""Registration: the same answer whatever the address, and what it creates."""

import asyncio

import pytest
import sqlalchemy as sa
from httpx import ASGITransport, AsyncClient

from app.auth.models import LoginSession
from app.memberships.models import OrganizationMembership
from app.organizations.models import Organization
from app.users.models import User
from tests.auth.common import REGISTER, register
from tests.factories import (
    PASSWORD,
    mail_context,
    outbox_for,
    unique_email,
)


class TestRegister:
    async def test_creates_unverified_user_with_own_organization_and_mail(self, client, session):
        email = unique_email("ann")
        response = await register(client, email)
        assert response.status_code == 202
        user = await session.scalar(sa.select(User).where(User.email == email))
        assert user is not None
        assert user.email_verified_at is None
        row = (
            await session.execute(
                sa.select(Organization.name, OrganizationMembership.role)
                .join(OrganizationMembership)
                .where(OrganizationMembership.user_id == user.id)
            )
        ).one()
        assert row.name == f"{email.split('@')[0]}'s organization"
        assert row.role == "admin"
        assert [m.template for m in await outbox_for(session, email)] == ["verify_email"]

    async def test_uses_given_organization_name(self, client, session):
        email = unique_email()
        await register(client, email, organization_name="  Blue Sky  ")
        name = await session.scalar(
            sa.select(Organization.name)
            .join(OrganizationMembership)
            .join(User, User.id == OrganizationMembership.user_id)
            .where(User.email == email)
        )
        assert name == "  Blue Sky  "  # stored exactly as sent

    async def test_taken_address_answers_the_same_and_mails_the_owner(self, client, session):
        email = unique_email()
        first = await register(client, email)
        second = await register(client, email.upper(), password="another-long-secret")
        assert (second.status_code, second.json()) == (first.status_code, first.json())
        count = await session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.email == email)
        )
        assert count == 1
        verify, exists = await outbox_for(session, email)
        assert (verify.template, exists.template) == ("verify_email", "account_exists")
        # No token in it (whoever registered may not own the address): a page that mails one.
        context = await mail_context(session, exists)
        assert context == {"reset_link": "http://testserver/forgot-password"}

    async def test_email_is_stored_lowercase(self, client, session):
        email = unique_email("Mixed.Case")
        await register(client, email)
        assert (
            await session.scalar(sa.select(User.email).where(User.email == email.lower()))
            == email.lower()
        )

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "email"),
            ({"password": PASSWORD}, "email"),
            ({"email": "a@example.com"}, "password"),
            ({"email": "not-an-email", "password": PASSWORD}, "email"),
            ({"email": "a@example.com\r\nBcc: x@y.z", "password": PASSWORD}, "email"),
            ({"email": "a" * 250 + "@example.com", "password": PASSWORD}, "email"),
            ({"email": "a@example.com", "password": "short"}, "password"),
            ({"email": "a@example.com", "password": "x" * 129}, "password"),
            (
                {"email": "a@example.com", "password": PASSWORD, "organization_name": "   "},
                "organization_name",
            ),
            (
                {"email": "a@example.com", "password": PASSWORD, "organization_name": "a\tb"},
                "organization_name",
            ),
            (
                {"email": "a@example.com", "password": PASSWORD, "organization_name": "x" * 101},
                "organization_name",
            ),
        ],
    )
    async def test_invalid_input_is_422_and_creates_nothing(self, client, session, body, field):
        before = await session.scalar(sa.select(sa.func.count()).select_from(User))
        response = await client.post(REGISTER, json=body)
        assert response.status_code == 422
        assert response.json()["code"] == "validation_error"
        assert field in str(response.json()["errors"])
        assert await session.scalar(sa.select(sa.func.count()).select_from(User)) == before

    async def test_megabyte_password_is_refused_before_hashing(self, client):
        response = await register(client, unique_email(), password="p" * 1_000_000)
        assert response.status_code == 422


class TestConcurrentRegistration:
    async def test_same_address_in_two_letter_cases_creates_one_user(self, app):
        """Real commits (no outer transaction): the unique constraint decides."""

        email = unique_email("race")
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            responses = await asyncio.gather(
                *(
                    register(http, variant)
                    for variant in [email, email.upper(), email, email.title()]
                )
            )
        assert {r.status_code for r in responses} == {202}
        async with app.state.sessions() as db:
            users = await db.scalar(
                sa.select(sa.func.count()).select_from(User).where(User.email == email)
            )
            logins = await db.scalar(sa.select(sa.func.count()).select_from(LoginSession))
        assert users == 1
        assert logins is not None
