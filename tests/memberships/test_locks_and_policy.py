"""Two things the membership code promises beyond its answers: a change holds its rows locked
until it commits (so concurrent changes serialize), and who counts as an administrator of an
organization's members comes from the policy, not from role names."""

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.engine import PolicyEngine
from app.authz.policy import read_policy_file
from app.db import create_engine, session_factory
from app.memberships.service import ORGANIZATION, WEBSITE, change_role
from tests.factories import create_organization, create_user, create_website, token_for

API = "/api/v1"


@pytest.fixture
async def sessions(scratch_database: str) -> AsyncIterator[tuple[AsyncSession, AsyncSession]]:
    """Two sessions on a database of the test's own, as two concurrent requests would have."""
    engine = create_engine(scratch_database, pool_size=2)
    make = session_factory(engine)
    try:
        async with make() as first, make() as second:
            yield first, second
    finally:
        await engine.dispose()


async def _locked(session: AsyncSession, table: str, where: str, **params: object) -> bool:
    """Whether another transaction holds a row lock on the rows `where` selects."""
    try:
        async with session.begin():
            await session.execute(
                sa.text(f"SELECT 1 FROM {table} WHERE {where} FOR UPDATE NOWAIT"),  # noqa: S608
                params,
            )
    except DBAPIError as error:
        if "could not obtain lock" not in str(error):
            raise
        return True
    return False


async def test_a_role_change_reads_the_organization_and_the_membership_under_lock(
    sessions,
):
    first, second = sessions
    admin, member = await create_user(first), await create_user(first)
    org = await create_organization(first, members=[(admin, "admin"), (member, "user")])
    policy = PolicyEngine(read_policy_file())
    membership = "organization_id = :org AND user_id = :user"

    await change_role(
        first,
        policy,
        ORGANIZATION,
        scope_id=org.id,
        organization_id=org.id,
        user_id=member.id,
        # The same role: nothing is written, so any lock held comes from reading under lock.
        role="user",
        actor_id=admin.id,
    )
    assert await _locked(second, "organizations", "id = :org", org=org.id)
    assert await _locked(second, "organization_memberships", membership, org=org.id, user=member.id)
    await first.commit()
    assert not await _locked(
        second, "organization_memberships", membership, org=org.id, user=member.id
    )


async def test_a_website_role_change_reads_the_membership_under_lock(sessions):
    first, second = sessions
    admin, member = await create_user(first), await create_user(first)
    org = await create_organization(first, members=[(admin, "admin")])
    site = await create_website(first, org, members=[(member, "user")])
    where = "website_id = :site AND user_id = :user"

    await change_role(
        first,
        PolicyEngine(read_policy_file()),
        WEBSITE,
        scope_id=site.id,
        organization_id=org.id,
        user_id=member.id,
        role="user",
        actor_id=admin.id,
    )
    assert await _locked(second, "website_memberships", where, site=site.id, user=member.id)
    await first.rollback()
    assert not await _locked(second, "website_memberships", where, site=site.id, user=member.id)


@pytest.fixture
def policy_with(app):
    """Replace the live policy by the shipped one plus the given rows, for one test."""
    store = app.state.policy
    shipped = store.current

    def install(*added: tuple[str, ...]) -> None:
        store.current = PolicyEngine([*read_policy_file(), *added], shipped.version)

    yield install
    store.current = shipped


async def test_a_role_the_policy_lets_administer_members_keeps_the_organization_administered(
    client, session, policy_with
):
    admin = await create_user(session, full_name="Ada Lovelace")
    org = await create_organization(session, members=[(admin, "admin")])
    headers = await token_for(session, admin)
    path = f"{API}/organizations/{org.id}/members/{admin.id}"
    # With the shipped policy only admins administer members: the sole admin must stay one.
    refused = await client.patch(path, json={"role": "user"}, headers=headers)
    assert refused.status_code == 409

    policy_with(("p", "org_user", "organization_member", "update"))
    demoted = await client.patch(path, json={"role": "user"}, headers=headers)
    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["role"] == "user"
    assert demoted.json()["user"] == {
        "id": str(admin.id),
        "email": admin.email,
        "full_name": admin.full_name,
    }


async def test_the_last_admin_rule_counts_this_organizations_admins_and_this_members_role(
    client, session
):
    admin, member, elsewhere = [await create_user(session) for _ in range(3)]
    # The admin is a plain user in an organization created first, and another organization
    # has an admin of its own: neither may count for this one.
    await create_organization(session, members=[(admin, "user"), (elsewhere, "admin")])
    org = await create_organization(session, members=[(member, "user"), (admin, "admin")])
    demoted = await client.patch(
        f"{API}/organizations/{org.id}/members/{admin.id}",
        json={"role": "user"},
        headers=await token_for(session, admin),
    )
    assert demoted.status_code == 409
    assert demoted.json()["code"] == "last_admin"
