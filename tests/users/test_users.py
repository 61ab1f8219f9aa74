"""The /users/me routes."""

import sqlalchemy as sa

from app.auth.passwords import hash_password
from app.memberships.models import OrganizationMembership
from app.organizations.models import Organization
from app.users.models import User
from app.websites.models import Website
from tests.factories import (
    PASSWORD,
    auth_headers,
    create_organization,
    create_user,
    create_website,
    latest_token,
    logged_in_user,
    login,
    row_count,
    token_for,
    unique_email,
)

ME = "/api/v1/users/me"


class TestProfile:
    async def test_me_shows_the_public_fields_only(self, client, session):
        caller = await logged_in_user(session, client)
        body = (await client.get(ME, headers=caller.headers)).json()
        assert set(body) == {"id", "email", "full_name", "email_verified", "created_at"}
        assert body["email"] == caller.user.email

    async def test_patch_sets_full_name_exactly(self, client, session):
        caller = await logged_in_user(session, client)
        response = await client.patch(
            ME, json={"full_name": "Zoë O'Brien-Łukasz"}, headers=caller.headers
        )
        assert response.status_code == 200
        assert response.json()["full_name"] == "Zoë O'Brien-Łukasz"

    async def test_patch_refuses_control_characters_and_unknown_fields(self, client, session):
        caller = await logged_in_user(session, client)
        for body in ({"full_name": "a\nb"}, {"full_name": ""}, {"email": "x@y.z"}):
            assert (await client.patch(ME, json=body, headers=caller.headers)).status_code == 422

    async def test_patch_with_nothing_changes_nothing(self, client, session):
        caller = await logged_in_user(session, client, full_name="Kept")
        response = await client.patch(ME, json={}, headers=caller.headers)
        assert response.status_code == 200
        assert response.json()["full_name"] == "Kept"

    async def test_patch_null_clears_the_name(self, client, session):
        caller = await logged_in_user(session, client, full_name="Gone soon")
        response = await client.patch(ME, json={"full_name": None}, headers=caller.headers)
        assert response.status_code == 200
        assert response.json()["full_name"] is None
        assert (await client.get(ME, headers=caller.headers)).json()["full_name"] is None

    async def test_anonymous_is_401(self, client):
        assert (await client.get(ME)).status_code == 401


class TestChangePassword:
    async def test_changes_and_revokes_other_logins_only(self, client, session):
        user = await create_user(session)
        other = await login(client, user.email)
        current = await login(client, user.email)
        headers = {"Authorization": f"Bearer {current['access_token']}"}
        body = {"current_password": PASSWORD, "new_password": "violet-harbor-2024"}
        assert (await client.post(f"{ME}/password", json=body, headers=headers)).status_code == 204
        assert (await client.get(ME, headers=headers)).status_code == 200
        other_headers = {"Authorization": f"Bearer {other['access_token']}"}
        assert (await client.get(ME, headers=other_headers)).status_code == 401
        assert (
            await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}
            )
        ).status_code == 401
        await login(client, user.email, "violet-harbor-2024")

    async def test_wrong_current_password_is_400(self, client, session):
        caller = await logged_in_user(session, client)
        body = {"current_password": "not-my-password", "new_password": "violet-harbor-2024"}
        response = await client.post(f"{ME}/password", json=body, headers=caller.headers)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_password"

    async def test_weak_new_password_is_422(self, client, session):
        caller = await logged_in_user(session, client)
        body = {"current_password": PASSWORD, "new_password": "seven77"}
        assert (
            await client.post(f"{ME}/password", json=body, headers=caller.headers)
        ).status_code == 422


class TestDeleteAccount:
    async def test_sole_member_organizations_go_with_the_account(self, client, session):
        caller = await logged_in_user(session, client)
        organization = await create_organization(session, members=[(caller.user, "admin")])
        website = await create_website(session, organization)
        response = await client.request(
            "DELETE", ME, json={"password": PASSWORD}, headers=caller.headers
        )
        assert response.status_code == 204
        assert await row_count(session, User, User.id == caller.user.id) == 0
        assert await row_count(session, Organization, Organization.id == organization.id) == 0
        assert await row_count(session, Website, Website.id == website.id) == 0
        assert (await client.get(ME, headers=caller.headers)).status_code == 401

    async def test_last_admin_of_shared_organization_is_409_and_nothing_changes(
        self, client, session
    ):
        caller = await logged_in_user(session, client)
        colleague = await create_user(session)
        organization = await create_organization(
            session, members=[(caller.user, "admin"), (colleague, "user")]
        )
        response = await client.request(
            "DELETE", ME, json={"password": PASSWORD}, headers=caller.headers
        )
        assert response.status_code == 409
        assert response.json()["code"] == "last_admin"
        assert await row_count(session, User, User.id == caller.user.id) == 1
        assert (
            await row_count(
                session,
                OrganizationMembership,
                OrganizationMembership.organization_id == organization.id,
            )
            == 2
        )

    async def test_a_shared_organization_with_another_admin_keeps_going(self, client, session):
        caller = await logged_in_user(session, client)
        colleague = await create_user(session)
        organization = await create_organization(
            session, members=[(caller.user, "admin"), (colleague, "admin")]
        )
        response = await client.request(
            "DELETE", ME, json={"password": PASSWORD}, headers=caller.headers
        )
        assert response.status_code == 204
        members = await session.scalars(
            sa.select(OrganizationMembership.user_id).where(
                OrganizationMembership.organization_id == organization.id
            )
        )
        assert list(members) == [colleague.id]

    async def test_wrong_password_is_400(self, client, session):
        caller = await logged_in_user(session, client)
        response = await client.request(
            "DELETE", ME, json={"password": "nope-nope-nope"}, headers=caller.headers
        )
        assert response.status_code == 400
        assert await row_count(session, User, User.id == caller.user.id) == 1

    async def test_missing_body_is_422(self, client, session):
        caller = await logged_in_user(session, client)
        assert (await client.delete(ME, headers=caller.headers)).status_code == 422

    async def test_deleted_users_other_tokens_stop_at_once(self, client, session):
        user = await create_user(session)
        headers = await auth_headers(client, user)
        other = await auth_headers(client, user)
        await client.request("DELETE", ME, json={"password": PASSWORD}, headers=headers)
        assert (await client.get(ME, headers=other)).status_code == 401


class TestPasswordChangeVoidsResetLinks:
    async def test_reset_link_mailed_before_a_change_no_longer_works(self, client, session):
        caller = await logged_in_user(session, client)
        await client.post("/api/v1/auth/forgot-password", json={"email": caller.user.email})
        token = await latest_token(session, caller.user.email, "reset_password")
        body = {"current_password": PASSWORD, "new_password": "violet-harbor-2024"}
        assert (
            await client.post(f"{ME}/password", json=body, headers=caller.headers)
        ).status_code == 204
        reset = await client.post(
            "/api/v1/auth/reset-password", json={"token": token, "password": "x-new-pass-123"}
        )
        assert reset.status_code == 400


class TestDeletionRacingRemoval:
    async def test_an_organization_left_meanwhile_is_not_deleted(self, app, database_url):
        """B deletes their account while an admin removes B from the organization (the row lock
        held, B's membership deleted, committed): B's deletion must not take the organization."""
        import asyncio

        import psycopg
        from httpx import ASGITransport, AsyncClient

        from app.authz.sync import libpq_url
        from app.db import utcnow

        async with app.state.sessions() as db:
            admin = User(email=unique_email("a"), hashed_password="x", email_verified_at=utcnow())
            leaver = User(
                email=unique_email("b"),
                hashed_password=await hash_password(PASSWORD),
                email_verified_at=utcnow(),
            )
            db.add_all([admin, leaver])
            await db.flush()
            org = Organization(name="Stays")
            db.add(org)
            await db.flush()
            db.add_all(
                [
                    OrganizationMembership(organization_id=org.id, user_id=admin.id, role="admin"),
                    OrganizationMembership(organization_id=org.id, user_id=leaver.id, role="user"),
                ]
            )
            await db.commit()
            org_id, leaver_id = org.id, leaver.id
            headers = await token_for(db, leaver)
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            async with await psycopg.AsyncConnection.connect(
                libpq_url(app.state.settings.database_url)
            ) as conn:
                await conn.execute(
                    "SELECT id FROM organizations WHERE id = %s FOR UPDATE", (org_id,)
                )
                deletion = asyncio.create_task(
                    http.request("DELETE", ME, json={"password": PASSWORD}, headers=headers)
                )
                await asyncio.sleep(0.5)
                await conn.execute(
                    "DELETE FROM organization_memberships WHERE organization_id = %s AND user_id = %s",
                    (org_id, leaver_id),
                )
                await conn.commit()
                response = await deletion
        assert response.status_code == 204
        async with app.state.sessions() as db:
            assert await row_count(db, Organization, Organization.id == org_id) == 1
