"""`make run`: database (embedded unless DATABASE_URL is set), migrations, policy, then the server.

Ctrl-C stops the server, then the embedded database.
"""

import asyncio
import os

import uvicorn
from alembic import command
from alembic.config import Config

from app.authz.policy import PolicyFileError, read_located_policy
from app.authz.policy_validation import check_invariants, read_invariants
from app.authz.seeding import ReasonRequired, sync_policy
from app.config import ROOT_DIR, load_settings
from app.db import create_engine


def migrate(database_url: str) -> None:
    """Apply every migration (`alembic upgrade head`)."""
    config = Config(str(ROOT_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


async def seed(database_url: str) -> None:
    """Load policies/policy.csv into the database, as `make seed-policies` does; exits with the
    reason when the file is refused, or when it changes who may do what in a database that
    already holds a policy (that takes `make seed-policies REASON="..."`)."""
    try:
        located = read_located_policy()
        check_invariants(located, read_invariants())
    except PolicyFileError as exc:
        raise SystemExit(f"policy refused:\n{exc}") from None
    engine = create_engine(database_url, pool_size=1)
    try:
        diff = await sync_policy(engine, [row for row, _ in located], apply=True)
        print(f"policy: +{len(diff.to_add)} -{len(diff.to_remove)} rows")
    except ReasonRequired as exc:
        raise SystemExit(
            f"policies/policy.csv was not applied: {exc}; run `make seed-policies "
            'ARGS=--dry-run` to see it and `make seed-policies REASON="..."` to apply it'
        ) from None
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
            proxy_headers=True,
            access_log=False,
            log_config=None,
        )
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
