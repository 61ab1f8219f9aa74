"""The policy watcher, run in the test's own event loop: it follows a version bump, keeps its
policy when a bumped one fails validation (reporting that once), takes the next good one, and
comes back after losing its connection."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from app.authz.engine import probe
from app.authz.permissions import Permission
from app.authz.policy import POLICY_CHANNEL
from app.authz.sync import PolicyStore
from app.db import create_engine, libpq_url

CHECK_SECONDS = 0.05


async def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait until `condition()` holds; fail after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the watcher did not catch up"
        await asyncio.sleep(CHECK_SECONDS)


@pytest.fixture
async def store(scratch_database: str) -> AsyncIterator[PolicyStore]:
    engine = create_engine(scratch_database, pool_size=2)
    store = PolicyStore(engine, scratch_database, check_seconds=CHECK_SECONDS)
    await store.reload()
    try:
        yield store
    finally:
        await engine.dispose()


@pytest.fixture
async def run(scratch_database: str) -> Callable[[str], Awaitable[None]]:
    async def execute(statement: str) -> None:
        async with await psycopg.AsyncConnection.connect(
            libpq_url(scratch_database), autocommit=True
        ) as connection:
            await connection.execute(statement)

    return execute


async def watching(store: PolicyStore) -> asyncio.Task[Any]:
    task = asyncio.create_task(store.watch())
    await asyncio.sleep(CHECK_SECONDS * 4)
    return task


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


BUMP = "UPDATE policy_version SET version = version + 1 WHERE id = 1"


async def test_a_bump_is_followed_with_or_without_a_notification(store, run):
    first = store.get()
    task = await watching(store)
    try:
        await run(f"{BUMP}; NOTIFY {POLICY_CHANNEL}")
        await eventually(lambda: store.get().version == first.version + 1)
        # A notification sent while nobody listened is lost; the periodic check catches it.
        await run(BUMP)
        await eventually(lambda: store.get().version == first.version + 2)
        assert store.get() is not first
        assert store.get().rows == first.rows
    finally:
        await stop(task)


async def test_an_invalid_policy_is_refused_once_and_the_next_good_one_taken(store, run, caplog):
    caplog.set_level(logging.INFO, logger="app.authz")
    good = store.get()
    task = await watching(store)
    try:
        # Granting a permission no route knows is refused by validation.
        await run(
            "INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('p', 'org_user', 'nothing', 'x')"
        )
        await run(BUMP)
        await eventually(lambda: any("refused" in r.getMessage() for r in caplog.records))
        await asyncio.sleep(CHECK_SECONDS * 6)  # several more checks of the same version
        refusals = [r for r in caplog.records if "refused" in r.getMessage()]
        assert len(refusals) == 1
        assert refusals[0].levelno == logging.ERROR
        message = refusals[0].getMessage()
        assert message.startswith(
            f"policy version {good.version + 1} refused, keeping version {good.version}:\n"
        )
        assert "nothing" in message
        assert store.get() is good
        assert store.ready

        await run("DELETE FROM casbin_rule WHERE v1 = 'nothing'")
        await run(BUMP)
        await eventually(lambda: store.get().version == good.version + 2)
        assert store.get().rows == good.rows
    finally:
        await stop(task)


async def test_the_watcher_reconnects_after_losing_its_connection(store, run, caplog):
    caplog.set_level(logging.WARNING, logger="app.authz")
    first = store.get()
    task = await watching(store)
    try:
        # Every other connection to the database goes, the watcher's LISTEN among them.
        await run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await eventually(
            lambda: any("lost its connection" in r.getMessage() for r in caplog.records)
        )
        await run(BUMP)
        await eventually(lambda: store.get().version == first.version + 1, seconds=15)
    finally:
        await stop(task)


async def test_without_a_policy_nothing_is_ready(scratch_database, caplog):
    caplog.set_level(logging.INFO, logger="app.authz")
    engine = create_engine(scratch_database, pool_size=1)
    try:
        store = PolicyStore(engine, scratch_database)
        assert not store.ready
        with pytest.raises(RuntimeError, match="^the authorization policy is not loaded$"):
            store.get()
        seeded = await store.reload()
        assert store.ready
        loaded = f"policy version {seeded.version} loaded ({len(seeded.rows)} rows)"
        assert loaded in [record.getMessage() for record in caplog.records]
        async with engine.begin() as connection:
            await connection.execute(sa.text("DELETE FROM casbin_rule"))
        empty = await store.reload()
        assert not empty.rows
        assert empty.version == seeded.version  # an empty policy still has its version
        assert not store.ready
        async with engine.begin() as connection:
            await connection.execute(sa.text("UPDATE policy_version SET version = 0"))
        assert (await store.reload()).version == 0
        assert not empty.allows(probe("admin", None), Permission.ORGANIZATION_READ)
    finally:
        await engine.dispose()


async def test_a_watcher_started_without_a_policy_reports_an_invalid_one(
    scratch_database, run, caplog
):
    """Start-up without a database leaves no policy; the watcher then finds an invalid one and
    says it keeps none."""
    caplog.set_level(logging.INFO, logger="app.authz")
    engine = create_engine(scratch_database, pool_size=2)
    store = PolicyStore(engine, scratch_database, check_seconds=CHECK_SECONDS)
    await run(
        "INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('p', 'org_user', 'nothing', 'x')"
    )
    task = asyncio.create_task(store.watch())
    try:
        await eventually(lambda: any("refused" in r.getMessage() for r in caplog.records))
        [refusal] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert ", keeping version none:\n" in refusal
        assert store.current is None
    finally:
        await stop(task)
        await engine.dispose()
