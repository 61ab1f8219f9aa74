"""Races against a real server with two worker processes, repeated.

Data is committed (no outer transaction) in the worker's database, with fresh rows per round.
"""

import asyncio
import os
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from app.auth.passwords import hash_password
from app.auth.tokens import hash_token
from app.db import create_engine, session_factory, utcnow
from app.invitations.models import Invitation
from app.memberships.models import OrganizationMembership
from app.organizations.models import Organization
from app.users.models import User
from app.websites.models import Website
from tests.conftest import TEST_SECRET
from tests.factories import token_for, unique_email
from tests.live import free_port, wait_ready

pytestmark = pytest.mark.slow
ROUNDS = 8


@pytest.fixture(scope="module")
def server(database_url):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "ENVIRONMENT": "test",
        "RATE_LIMIT_ENABLED": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
async def db(database_url):
    engine = create_engine(database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


async def committed_user(sessions) -> tuple[User, dict[str, str]]:
    async with sessions() as s:
        user = User(email=unique_email("race"), hashed_password="x", email_verified_at=utcnow())
        s.add(user)
        await s.commit()
        return user, await token_for(s, user)


async def committed_org(sessions, members) -> Organization:
    async with sessions() as s, s.begin():
        org = Organization(name="Race")
        s.add(org)
        await s.flush()
        for user, role in members:
            s.add(OrganizationMembership(organization_id=org.id, user_id=user.id, role=role))
    return org


async def test_two_admins_demoting_each_other_leave_one_admin(server, db):
    async with httpx.AsyncClient(base_url=server, timeout=20) as http:
        for _ in range(ROUNDS):
            (a, a_headers), (b, b_headers) = await committed_user(db), await committed_user(db)
            org = await committed_org(db, [(a, "admin"), (b, "admin")])
            responses = await asyncio.gather(
                http.patch(
                    f"/api/v1/organizations/{org.id}/members/{b.id}",
                    json={"role": "user"},
                    headers=a_headers,
                ),
                http.patch(
                    f"/api/v1/organizations/{org.id}/members/{a.id}",
                    json={"role": "user"},
                    headers=b_headers,
                ),
            )
            # The loser either passed the guard first (409 last_admin) or was already demoted (403).
            assert sorted(r.status_code for r in responses) in ([200, 409], [200, 403])
            async with db() as s:
                admins = await s.scalar(
                    sa.select(sa.func.count())
                    .select_from(OrganizationMembership)
                    .where(
                        OrganizationMembership.organization_id == org.id,
                        OrganizationMembership.role == "admin",
                    )
                )
            assert admins == 1


async def test_two_admins_leaving_at_once_leave_one_admin(server, db):
    async with httpx.AsyncClient(base_url=server, timeout=20) as http:
        for _ in range(ROUNDS):
            (a, a_headers), (b, b_headers) = await committed_user(db), await committed_user(db)
            c, _ = await committed_user(db)
            org = await committed_org(db, [(a, "admin"), (b, "admin"), (c, "user")])
            responses = await asyncio.gather(
                http.delete(f"/api/v1/organizations/{org.id}/members/{a.id}", headers=a_headers),
                http.delete(f"/api/v1/organizations/{org.id}/members/{b.id}", headers=b_headers),
            )
            assert sorted(r.status_code for r in responses) == [204, 409]


async def invitation_for(db, org, invitee) -> str:
    token = f"race-{invitee.id.hex}"
    async with db() as s, s.begin():
        s.add(
            Invitation(
                organization_id=org.id,
                email=invitee.email,
                role="user",
                token_hash=hash_token(token, TEST_SECRET),
                expires_at=utcnow() + timedelta(days=1),
            )
        )
    return token


async def test_concurrent_accepts_create_exactly_one_membership(server, db):
    async with httpx.AsyncClient(base_url=server, timeout=20) as http:
        for _ in range(ROUNDS):
            admin, _ = await committed_user(db)
            invitee, headers = await committed_user(db)
            org = await committed_org(db, [(admin, "admin")])
            token = await invitation_for(db, org, invitee)
            responses = await asyncio.gather(
                *(
                    http.post("/api/v1/invitations/accept", json={"token": token}, headers=headers)
                    for _ in range(4)
                )
            )
            assert sorted(r.status_code for r in responses) == [200, 400, 400, 400]
            async with db() as s:
                memberships = await s.scalar(
                    sa.select(sa.func.count())
                    .select_from(OrganizationMembership)
                    .where(
                        OrganizationMembership.organization_id == org.id,
                        OrganizationMembership.user_id == invitee.id,
                    )
                )
            assert memberships == 1


async def test_revoke_racing_accept_is_consistent(server, db):
    async with httpx.AsyncClient(base_url=server, timeout=20) as http:
        for _ in range(ROUNDS):
            admin, admin_headers = await committed_user(db)
            invitee, headers = await committed_user(db)
            org = await committed_org(db, [(admin, "admin")])
            token = await invitation_for(db, org, invitee)
            async with db() as s:
                invitation_id = await s.scalar(
                    sa.select(Invitation.id).where(Invitation.email == invitee.email)
                )
            accept, revoke = await asyncio.gather(
                http.post("/api/v1/invitations/accept", json={"token": token}, headers=headers),
                http.delete(
                    f"/api/v1/organizations/{org.id}/invitations/{invitation_id}",
                    headers=admin_headers,
                ),
            )
            assert (accept.status_code, revoke.status_code) in ((200, 409), (400, 204))
            async with db() as s:
                member = await s.scalar(
                    sa.select(sa.func.count())
                    .select_from(OrganizationMembership)
                    .where(OrganizationMembership.user_id == invitee.id)
                )
                status = await s.scalar(
                    sa.select(Invitation.status).where(Invitation.id == invitation_id)
                )
            assert (member, status) in ((1, "accepted"), (0, "revoked"))


async def committed_website(sessions, org: Organization) -> Website:
    async with sessions() as s, s.begin():
        website = Website(organization_id=org.id, name="Race", url="https://race.example")
        website.host = "race.example"
        s.add(website)
    return website


async def answer_while_row_is_being_deleted(db, delete_statement, request) -> httpx.Response:
    """Send `request` while another transaction holds an uncommitted delete of the row it
    changes; commit the delete once the request is waiting for the row, and return its answer."""
    async with db() as s:
        await s.execute(delete_statement)
        pending = asyncio.ensure_future(request)
        # The request's guard or caller check reads the row (the delete is not visible yet), then
        # its write waits for the row lock held here.
        await asyncio.sleep(0.5)
        assert not pending.done()
        await s.commit()
    return await pending


class TestWriteRacingDelete:
    """A change whose row is deleted by another request between reading and writing it answers
    404 (the resource is gone), never 500."""

    async def test_website_update(self, server, db):
        admin, headers = await committed_user(db)
        org = await committed_org(db, [(admin, "admin")])
        website = await committed_website(db, org)
        async with httpx.AsyncClient(base_url=server, timeout=20) as http:
            response = await answer_while_row_is_being_deleted(
                db,
                sa.delete(Website).where(Website.id == website.id),
                http.patch(f"/api/v1/websites/{website.id}", json={"name": "x"}, headers=headers),
            )
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"

    async def test_organization_rename(self, server, db):
        admin, headers = await committed_user(db)
        org = await committed_org(db, [(admin, "admin")])
        async with httpx.AsyncClient(base_url=server, timeout=20) as http:
            response = await answer_while_row_is_being_deleted(
                db,
                sa.delete(Organization).where(Organization.id == org.id),
                http.put(f"/api/v1/organizations/{org.id}", json={"name": "x"}, headers=headers),
            )
        assert response.status_code == 404, response.text

    async def test_profile_update_of_a_deleted_account(self, server, db):
        # The caller check reads the user before the delete commits; the flush then finds no row.
        user, headers = await committed_user(db)
        async with httpx.AsyncClient(base_url=server, timeout=20) as http:
            response = await answer_while_row_is_being_deleted(
                db,
                sa.delete(User).where(User.id == user.id),
                http.patch("/api/v1/users/me", json={"full_name": "x"}, headers=headers),
            )
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_one_refresh_token_sent_four_times_at_once_refreshes_once(server, db):
    """The refresh token's row is locked while it is rotated, so only one of several
    simultaneous uses of it can win."""
    password = "race-refresh-password-7"
    hashed = await hash_password(password)
    async with httpx.AsyncClient(base_url=server, timeout=20) as http:
        for _ in range(ROUNDS):
            async with db() as s:
                user = User(email=unique_email("refresh"), hashed_password=hashed)
                user.email_verified_at = utcnow()
                s.add(user)
                await s.commit()
            login = await http.post(
                "/api/v1/auth/login", data={"username": user.email, "password": password}
            )
            assert login.status_code == 200, login.text
            refresh_token = login.json()["refresh_token"]
            responses = await asyncio.gather(
                *(
                    http.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
                    for _ in range(4)
                )
            )
            assert sorted(r.status_code for r in responses) == [200, 401, 401, 401]
