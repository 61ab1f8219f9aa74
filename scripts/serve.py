"""`make run`: database (embedded unless DATABASE_URL is set), migrations, policy, then the server.

Ctrl-C stops the server, then the embedded database.
"""

import asyncio
import logging
import os

import uvicorn
from alembic import command
from alembic.config import Config

from app.authz.policy import read_policy_file
from app.authz.seeding import sync_policy
from app.config import ROOT_DIR, load_settings
from app.db import create_engine
from app.logging import configure_logging

logger = logging.getLogger("app.serve")


def migrate(database_url: str) -> None:
    """Apply every migration (`alembic upgrade head`).

    Alembic's lines go to whatever logging the caller set up (JSON lines in production, the
    test runner's capture in tests), not to the handler alembic.ini would install.
    """
    config = Config(str(ROOT_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["skip_logging"] = True
    command.upgrade(config, "head")


async def seed(database_url: str) -> None:
    """Load policies/policy.csv into the database."""
    engine = create_engine(database_url, pool_size=1)
    try:
        diff = await sync_policy(engine, read_policy_file(), apply=True)
        logger.info("policy: +%s -%s rows", len(diff.to_add), len(diff.to_remove))
    finally:
        await engine.dispose()


def main() -> None:
    settings = load_settings()
    # Before anything logs: in production the start-up lines (migrations, policy seeding) are
    # JSON like every other line.
    configure_logging(settings.json_logs)
    server = None
    database_url = settings.database_url
    if not database_url:
        from scripts.embedded_postgres import start_embedded

        server, database_url = start_embedded()
        os.environ["DATABASE_URL"] = database_url
        logger.info("embedded PostgreSQL ready in .data/postgres")
    migrate(database_url)
    asyncio.run(seed(database_url))
    # Settings refuse RELOAD in production and with several workers.
    reload = settings.reload
    try:
        uvicorn.run(
            "app.main:app",
            host=settings.host,
            port=settings.port,
            workers=settings.workers if settings.workers > 1 else None,
            # Restarts the server when a file under app/ changes (development only).
            reload=reload,
            reload_dirs=[str(ROOT_DIR / "app")] if reload else None,
            proxy_headers=True,
            access_log=False,
            log_config=None,
        )
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
