"""`make explain`: one decision explained for an admin, from the database's assignments and
policy, as the API decides it."""

import os
import subprocess
import sys

import psycopg
import pytest

from app.db import libpq_url, utcnow
from scripts.explain import Question, Refused, explain, parse_permission
from tests.authz.test_permissions_explain import line_of
from tests.factories import create_organization, create_user, create_website, unique_email


async def ask(session, email, permission, *, org=None, website=None) -> list[str]:
    question = Question(email, parse_permission(permission), org, website)
    return await explain(await session.connection(), question)


class TestAnswers:
    async def test_allowed_names_the_assignment_and_the_policy_line(self, session):
        admin = await create_user(session)
        organization = await create_organization(session, members=[(admin, "admin")])
        lines = await ask(session, admin.email, "website:delete", org=organization.id)
        assert lines[0].startswith(f"allowed: {admin.email} may website:delete on organization")
        assert "  held through: the organization role admin" in lines
        rule = "p, org_admin, website, delete"
        assert f"  granted by: {rule} ({line_of(rule)})" in lines
        assert "  the API answers: success" in lines

    async def test_a_website_role_is_named_on_a_website(self, session):
        owner, collaborator = await create_user(session), await create_user(session)
        organization = await create_organization(session, members=[(owner, "admin")])
        website = await create_website(session, organization, members=[(collaborator, "user")])
        lines = await ask(session, collaborator.email, "website:update", website=website.id)
        assert lines[0].startswith("allowed:")
        assert "  roles held there: website user (website_user)" in lines
        assert "  held through: the website role user" in lines

    async def test_denied_to_a_reader_says_403_and_which_rows_would_grant_it(self, session):
        admin, member = await create_user(session), await create_user(session)
        organization = await create_organization(
            session, members=[(admin, "admin"), (member, "user")]
        )
        lines = await ask(session, member.email, "organization:delete", org=organization.id)
        assert lines[0].startswith(f"denied: {member.email} may not organization:delete")
        assert "  roles held there: organization user (org_user)" in lines
        rule = "p, org_admin, organization, delete"
        assert f"  rows that grant it: {rule} ({line_of(rule)})" in lines
        assert "  the API answers: 403 forbidden (may read, may not act)" in lines

    async def test_denied_to_a_stranger_says_404(self, session):
        admin, stranger = await create_user(session), await create_user(session)
        organization = await create_organization(session, members=[(admin, "admin")])
        lines = await ask(session, stranger.email, "organization:read", org=organization.id)
        assert "  roles held there: none" in lines
        assert "  the API answers: 404 not_found (may not even read it)" in lines

    async def test_an_unverified_user_is_told_the_policy_is_not_asked(self, session):
        user = await create_user(session, verified=False)
        organization = await create_organization(session, members=[(user, "admin")])
        lines = await ask(session, user.email, "organization:read", org=organization.id)
        assert lines[0].startswith("allowed:")
        assert any("403 email_not_verified" in line for line in lines)

    async def test_a_disabled_account_is_told_it_cannot_log_in(self, session):
        user = await create_user(session, disabled_at=utcnow())
        organization = await create_organization(session, members=[(user, "admin")])
        lines = await ask(session, user.email, "organization:read", org=organization.id)
        assert any("the account is disabled" in line for line in lines)


class TestRefusals:
    async def test_an_unknown_user_is_refused(self, session):
        organization = await create_organization(session)
        with pytest.raises(Refused, match="no account with the email"):
            await ask(session, unique_email(), "organization:read", org=organization.id)

    async def test_an_unknown_website_is_refused(self, session):
        user = await create_user(session)
        with pytest.raises(Refused, match="no website"):
            await ask(session, user.email, "website:read", website=user.id)

    async def test_an_organization_permission_on_a_website_is_refused(self, session):
        user = await create_user(session)
        organization = await create_organization(session, members=[(user, "admin")])
        website = await create_website(session, organization)
        with pytest.raises(Refused, match="use ORG=<id>"):
            await ask(session, user.email, "organization:delete", website=website.id)

    def test_an_unknown_permission_is_refused(self):
        with pytest.raises(Refused, match="unknown permission 'website:destroy'"):
            parse_permission("website:destroy")


def test_the_command_line_answers_and_refuses_without_a_traceback(scratch_database):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scripts.explain", *args],
            env={**os.environ, "DATABASE_URL": scratch_database},
            capture_output=True,
            text=True,
            timeout=60,
        )

    email = unique_email()
    created = subprocess.run(
        [sys.executable, "-m", "scripts.admin", "create-user", email],
        env={**os.environ, "DATABASE_URL": scratch_database},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    with psycopg.connect(libpq_url(scratch_database)) as connection:
        [organization_id] = connection.execute(
            "SELECT m.organization_id FROM organization_memberships m "
            "JOIN users u ON u.id = m.user_id WHERE u.email = %s",
            (email,),
        ).fetchone()
    answered = run("--user", email.upper(), "--org", str(organization_id), "audit_event:read")
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.startswith(f"allowed: {email} may audit_event:read")
    unknown_org = "00000000-0000-0000-0000-000000000001"
    refused = run("--user", email, "--org", unknown_org, "organization:read")
    assert refused.returncode == 2
    assert refused.stderr.strip() == f"no organization {unknown_org}"
    bad = run("--user", email, "--org", unknown_org, "organization:destroy")
    assert bad.returncode == 2
    assert "unknown permission" in bad.stderr
    assert "Traceback" not in refused.stderr + bad.stderr
