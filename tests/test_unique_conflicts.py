"""A unique-constraint violation becomes the conflict its constraint names; any other database
failure passes through as what it is."""

import uuid

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.errors import unique_conflicts, violated_unique_constraint
from app.memberships.errors import AlreadyMember
from app.memberships.models import OrganizationMembership
from tests.factories import create_organization, create_user

INSERT_MEMBER = (
    "INSERT INTO organization_memberships (organization_id, user_id, role, created_at) "
    "VALUES ($1, $2, 'user', now())"
)


async def test_the_named_unique_violation_raises_its_conflict(session):
    user = await create_user(session)
    organization = await create_organization(session, members=[(user, "admin")])
    with pytest.raises(AlreadyMember):
        with unique_conflicts(pk_organization_memberships=AlreadyMember):
            async with session.begin_nested():
                session.add(
                    OrganizationMembership(
                        organization_id=organization.id, user_id=user.id, role="user"
                    )
                )
                await session.flush()


async def test_a_foreign_key_violation_is_not_a_conflict(session):
    user = await create_user(session)
    with pytest.raises(IntegrityError) as raised:
        with unique_conflicts(pk_organization_memberships=AlreadyMember):
            async with session.begin_nested():
                await session.execute(
                    sa.insert(OrganizationMembership).values(
                        organization_id=uuid.uuid4(), user_id=user.id, role="user"
                    )
                )
    assert violated_unique_constraint(raised.value) is None


async def test_another_unique_constraint_passes_through(session):
    user = await create_user(session)
    organization = await create_organization(session, members=[(user, "admin")])
    with pytest.raises(IntegrityError):
        with unique_conflicts(uq_websites_organization_id_host=AlreadyMember):
            async with session.begin_nested():
                session.add(
                    OrganizationMembership(
                        organization_id=organization.id, user_id=user.id, role="user"
                    )
                )
                await session.flush()


async def test_asyncpg_errors_are_read_the_same_way(session):
    user = await create_user(session)
    organization = await create_organization(session, members=[(user, "admin")])
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    # Each statement in a savepoint of its own, rolled back by its failure.
    with pytest.raises(asyncpg.UniqueViolationError) as duplicate:
        async with driver.transaction():
            await driver.execute(INSERT_MEMBER, organization.id, user.id)
    assert violated_unique_constraint(duplicate.value) == "pk_organization_memberships"
    with pytest.raises(AlreadyMember):
        with unique_conflicts(pk_organization_memberships=AlreadyMember):
            async with driver.transaction():
                await driver.execute(INSERT_MEMBER, organization.id, user.id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        with unique_conflicts(pk_organization_memberships=AlreadyMember):
            async with driver.transaction():
                await driver.execute(INSERT_MEMBER, uuid.uuid4(), user.id)
