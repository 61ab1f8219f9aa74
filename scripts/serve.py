"""`make run`: database (embedded unless DATABASE_URL is set), migrations, policy, then the server.

Ctrl-C stops the server, then the embedded database.
"""

import asyncio
import os

import uvicorn
from alembic import command
from alembic.config import Config

from app.authz.policy import read_policy_file
from app.authz.seeding import sync_policy
from app.config import ROOT_DIR, load_settings
from app.db import create_engine

WORKER_HEALTHCHECK_SECONDS = 60
"""How long uvicorn's supervisor waits for a worker to answer its health check before killing it
as hung. A new worker answers only once it has imported the app, which on a busy machine takes
longer than uvicorn's default of 5 s: with that default, every replacement of a worker (and every
worker at start-up) was killed before it could serve, and the next one met the same end."""


def migrate(database_url: str) -> None:
    """Apply every migration (`alembic upgrade head`)."""
    config = Config(str(ROOT_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


async def seed(database_url: str) -> None:
    """Load policies/policy.csv into the database."""
    engine = create_engine(database_url, pool_size=1)
    try:
        diff = await sync_policy(engine, read_policy_file(), apply=True)
        print(f"policy: +{len(diff.to_add)} -{len(diff.to_remove)} rows")
    finally:
        await engine.dispose()


def main() -> None:
    settings = load_settings()
    server = None
    database_url = settings.database_url
    if not database_url:
        from scripts.embedded_postgres import start_embedded

        server, database_url = start_embedded()
        os.environ["DATABASE_URL"] = database_url
        print("embedded PostgreSQL ready in .data/postgres")
    migrate(database_url)
    asyncio.run(seed(database_url))
    try:
        uvicorn.run(
            "app.main:app",
            host=settings.host,
            port=settings.port,
            workers=settings.workers if settings.workers > 1 else None,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            proxy_headers=True,
            access_log=False,
            log_config=None,
        )
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
