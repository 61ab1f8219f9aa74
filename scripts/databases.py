"""Databases the tools make and remove: create, drop, migrate and seed one.

`make run`, the tests and the benchmarks all prepare their databases here, so a database is
always built the same way: by the real migrations, then the policy file.
"""

import asyncio
import logging

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql
from sqlalchemy.engine import make_url

from app.authz.policy import read_located_policy
from app.authz.policy_validation import check_invariants, read_invariants
from app.authz.seeding import sync_policy
from app.config import ROOT_DIR
from app.db import create_engine, libpq_url

logger = logging.getLogger("app.databases")


def database_url(server_url: str, name: str) -> str:
    """The server URL pointing at database `name` instead."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def create_database(server_url: str, name: str) -> str:
    """Create database `name` afresh on the server (dropping a leftover of that name); returns
    its URL."""
    with psycopg.connect(libpq_url(database_url(server_url, "postgres")), autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(server_url, name)


def drop_database(url: str) -> None:
    """Drop the database `url` names, disconnecting anything still attached."""
    name = make_url(url).database
    if not name:
        raise ValueError(f"the URL names no database: {make_url(url)!r}")
    with psycopg.connect(libpq_url(database_url(url, "postgres")), autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def migrate(url: str, *, log: bool = True) -> None:
    """Apply every migration (`alembic upgrade head`); `log=False` leaves the process's logging
    as it is instead of applying alembic.ini's."""
    config = Config(str(ROOT_DIR / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["skip_logging"] = not log
    command.upgrade(config, "head")


async def seed(url: str) -> str:
    """Load policies/policy.csv into the database as the seed script does: the file must pass the
    loader's checks and the invariants (`PolicyFileError`), and a change to who may do what in a
    database that already holds a policy needs the seed script's reason (`ReasonRequired`).
    Returns what changed, as one line."""
    located = read_located_policy()
    check_invariants(located, read_invariants())
    engine = create_engine(url, pool_size=1)
    try:
        diff = await sync_policy(engine, [row for row, _ in located], apply=True)
    finally:
        await engine.dispose()
    return f"policy: +{len(diff.to_add)} -{len(diff.to_remove)} rows"


def prepare(url: str, *, quiet: bool = False) -> None:
    """Migrate and seed the database. Their lines go to the process's logging, which the caller
    sets up (`make run`: JSON lines in production, like every line after them); `quiet` leaves
    out the seeding summary (the tests' and benchmarks' own output is what matters there)."""
    migrate(url, log=False)
    summary = asyncio.run(seed(url))
    if not quiet:
        logger.info(summary)
