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


async def insert_member(session, organization_id, user_id, **conflicts) -> None:
    """Insert a membership through SQLAlchemy in a savepoint, inside `unique_conflicts`."""
    with unique_conflicts(**conflicts):
        async with session.begin_nested():
            await session.execute(
                sa.insert(OrganizationMembership).values(
                    organization_id=organization_id, user_id=user_id, role="user"
                )
            )


async def insert_member_raw(driver, organization_id, user_id, **conflicts) -> None:
    """The same insert straight on asyncpg, in a savepoint, inside `unique_conflicts`."""
    with unique_conflicts(**conflicts):
        async with driver.transaction():
            await driver.execute(INSERT_MEMBER, organization_id, user_id)


async def test_the_named_unique_violation_raises_its_conflict(session):
    user = await create_user(session)
    organization = await create_organization(session, members=[(user, "admin")])
    with pytest.raises(AlreadyMember):
        await insert_member(
            session, organization.id, user.id, pk_organization_memberships=AlreadyMember
        )


async def test_a_foreign_key_violation_is_not_a_conflict(session):
    user = await create_user(session)
    with pytest.raises(IntegrityError) as raised:
        await insert_member(
            session, uuid.uuid4(), user.id, pk_organization_memberships=AlreadyMember
        )
    assert violated_unique_constraint(raised.value) is None


async def test_another_unique_constraint_passes_through(session):
    user = await create_user(session)
    organization = await create_organization(session, members=[(user, "admin")])
    with pytest.raises(IntegrityError) as raised:
        await insert_member(
            session, organization.id, user.id, uq_websites_organization_id_host=AlreadyMember
        )
    assert violated_unique_constraint(raised.value) == "pk_organization_memberships"


async def test_asyncpg_errors_are_read_the_same_way(session):
    user = await create_user(session)
    organization = await create_organization(session, members=[(user, "admin")])
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    with pytest.raises(asyncpg.UniqueViolationError) as duplicate:
        await insert_member_raw(driver, organization.id, user.id)
    assert violated_unique_constraint(duplicate.value) == "pk_organization_memberships"
    with pytest.raises(AlreadyMember):
        await insert_member_raw(
            driver, organization.id, user.id, pk_organization_memberships=AlreadyMember
        )
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await insert_member_raw(
            driver, uuid.uuid4(), user.id, pk_organization_memberships=AlreadyMember
        )
