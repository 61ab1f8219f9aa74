"""The guards' statements read on their own: a live login with the resource and the caller's
roles, a missing resource as None next to the account, and a dead login as nothing at all."""

from uuid import uuid4

import sqlalchemy as sa

from app.auth.models import LoginSession
from app.authz.repository import organization_access, website_access
from app.db import utcnow
from tests.conftest import SessionBoundDatabase
from tests.factories import create_organization, create_user, create_website


async def _login(session, user):
    login = LoginSession(user_id=user.id)
    session.add(login)
    await session.commit()
    return login.id


async def test_an_organization_with_the_callers_role_or_none(app, session):
    db = SessionBoundDatabase(app.state.engine, app.state.sessions, session)
    member, outsider = await create_user(session), await create_user(session)
    org = await create_organization(session, name="Mine", members=[(member, "user")])
    login = await _login(session, member)

    account, access = await organization_access(db, member.id, login, org.id)
    assert account is not None
    assert account.id == member.id
    assert access is not None
    assert (access.organization_id, access.name, access.role) == (org.id, "Mine", "user")

    outsider_login = await _login(session, outsider)
    _, foreign = await organization_access(db, outsider.id, outsider_login, org.id)
    assert foreign is not None
    assert foreign.role is None

    account, missing = await organization_access(db, member.id, login, uuid4())
    assert account is not None
    assert missing is None


async def test_a_website_with_both_roles_or_none(app, session):
    db = SessionBoundDatabase(app.state.engine, app.state.sessions, session)
    member = await create_user(session)
    org = await create_organization(session, members=[(member, "user")])
    site = await create_website(session, org, name="Shop", members=[(member, "admin")])
    login = await _login(session, member)

    account, access = await website_access(db, member.id, login, site.id)
    assert account is not None
    assert account.id == member.id
    assert access is not None
    assert (access.website_id, access.organization_id, access.name) == (site.id, org.id, "Shop")
    assert (access.org_role, access.website_role) == ("user", "admin")

    account, missing = await website_access(db, member.id, login, uuid4())
    assert account is not None
    assert missing is None


async def test_a_dead_login_reads_as_nothing(app, session):
    db = SessionBoundDatabase(app.state.engine, app.state.sessions, session)
    member = await create_user(session)
    org = await create_organization(session, members=[(member, "admin")])
    site = await create_website(session, org)
    login = await _login(session, member)
    await session.execute(
        sa.update(LoginSession).where(LoginSession.id == login).values(revoked_at=utcnow())
    )
    assert await organization_access(db, member.id, login, org.id) == (None, None)
    assert await website_access(db, member.id, login, site.id) == (None, None)
    assert await organization_access(db, member.id, uuid4(), org.id) == (None, None)
