"""Alembic environment: async engine, and an advisory lock so concurrent upgrades queue up."""

import asyncio

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection

from app.config import required_database_url
from app.db import create_engine
from app.models import metadata

# Any fixed 64-bit number: every `alembic upgrade` on this database takes the same lock.
MIGRATION_LOCK_ID = 7_402_118_301

config = context.config
if config.config_file_name is not None and not config.attributes.get("skip_logging"):
    from logging.config import fileConfig

    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    return str(config.attributes.get("database_url") or required_database_url())


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    connection.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    try:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        # The connection's transaction began with the lock, so Alembic leaves committing to us.
        # Commit before unlocking: a waiting upgrade must see the new version row, or it would
        # run the same migrations again.
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        # The lock is held by the session, not the transaction: it outlives the commit.
        connection.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()


async def run_migrations_online() -> None:
    engine = create_engine(database_url(), pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
