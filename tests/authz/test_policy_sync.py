"""`sync_policy`, the seed script's engine, run in-process against a database of the test's own:
what a change removes and adds (rows with empty columns included), the version it produces, the
history it records, the notification it sends, and what it refuses."""

import asyncio
import json
from collections.abc import AsyncIterator

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.authz.policy import POLICY_CHANNEL, read_policy_file
from app.authz.seeding import INITIAL_REASON, ReasonRequired, sync_policy
from app.db import create_engine, libpq_url

SHIPPED = read_policy_file()
HIERARCHY_ROW = ("g", "website_admin", "website_user", "website")
GRANT_ROW = ("p", "org_user", "website", "update")
NEW_ROW = ("p", "org_user", "audit_event", "read")


@pytest.fixture
async def engine(scratch_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(scratch_database, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _rows(engine: AsyncEngine) -> list[tuple[str, ...]]:
    async with engine.connect() as connection:
        result = await connection.execute(
            sa.text("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id")
        )
        return [tuple(v for v in row if v is not None) for row in result]


async def _version(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(sa.text("SELECT version FROM policy_version")))


async def test_the_shipped_policy_is_already_in_place(engine):
    before = await _version(engine)
    diff = await sync_policy(engine, SHIPPED, apply=True)
    assert diff.empty
    assert diff.version is None
    assert await _version(engine) == before


async def test_a_change_removes_and_adds_exactly_its_rows_and_records_itself(
    engine, scratch_database
):
    assert HIERARCHY_ROW in SHIPPED
    assert GRANT_ROW in SHIPPED
    assert NEW_ROW not in SHIPPED
    wanted = [row for row in SHIPPED if row not in (HIERARCHY_ROW, GRANT_ROW)] + [NEW_ROW]
    before = await _version(engine)

    dry = await sync_policy(engine, wanted, apply=False)
    assert (dry.to_remove, dry.to_add, dry.version) == ([HIERARCHY_ROW, GRANT_ROW], [NEW_ROW], None)
    assert dry.effect
    assert await _rows(engine) == list(SHIPPED)

    async with await psycopg.AsyncConnection.connect(
        libpq_url(scratch_database), autocommit=True
    ) as listener:
        await listener.execute(f"LISTEN {POLICY_CHANNEL}")
        applied = await sync_policy(engine, wanted, apply=True, reason="audit for every member")
        notified = [n async for n in listener.notifies(timeout=5, stop_after=1)]
    assert [n.channel for n in notified] == [POLICY_CHANNEL]

    assert applied.version == before + 1
    assert await _version(engine) == before + 1
    assert sorted(await _rows(engine)) == sorted(wanted)
    async with engine.connect() as connection:
        history = (
            await connection.execute(
                sa.text("SELECT version, diff, reason FROM policy_changes ORDER BY id DESC LIMIT 1")
            )
        ).one()
    assert history.version == before + 1
    assert history.reason == "audit for every member"
    assert history.diff == json.loads(json.dumps(applied.as_json()))
    assert history.diff["removed"] == [list(HIERARCHY_ROW), list(GRANT_ROW)]
    assert history.diff["added"] == [list(NEW_ROW)]


async def test_a_change_of_who_may_do_what_without_a_reason_changes_nothing(engine):
    wanted = [row for row in SHIPPED if row != GRANT_ROW]
    before = await _version(engine)
    for reason in (None, "", "   "):
        with pytest.raises(
            ReasonRequired, match=r"^this change alters 2 who-may-do-what cells and needs a reason$"
        ):
            await sync_policy(engine, wanted, apply=True, reason=reason)
    assert await _rows(engine) == list(SHIPPED)
    assert await _version(engine) == before


async def test_the_first_load_needs_no_reason_and_is_recorded_as_the_initial_policy(engine):
    async with engine.begin() as connection:
        await connection.execute(sa.text("DELETE FROM casbin_rule"))
    diff = await sync_policy(engine, SHIPPED, apply=True)
    assert diff.to_add == list(SHIPPED)
    assert await _rows(engine) == list(SHIPPED)
    async with engine.connect() as connection:
        reason = await connection.scalar(
            sa.text("SELECT reason FROM policy_changes ORDER BY id DESC LIMIT 1")
        )
    assert reason == INITIAL_REASON


async def test_two_runs_at_once_apply_the_change_once(engine):
    wanted = [*SHIPPED, NEW_ROW]
    before = await _version(engine)
    first, second = await asyncio.gather(
        sync_policy(engine, wanted, apply=True, reason="r"),
        sync_policy(engine, wanted, apply=True, reason="r"),
    )
    assert sorted([first.empty, second.empty]) == [False, True]
    assert await _version(engine) == before + 1
    assert (await _rows(engine)).count(NEW_ROW) == 1
