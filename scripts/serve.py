"""`make run`: database (embedded unless DATABASE_URL is set), migrations, policy, then the server.

Ctrl-C stops the server, then the embedded database.
"""

import logging
import os

import uvicorn

from app.authz.policy import PolicyFileError
from app.authz.seeding import ReasonRequired
from app.config import ROOT_DIR, load_settings
from app.logging import configure_logging
from scripts.databases import prepare

logger = logging.getLogger("app.serve")

WORKER_HEALTHCHECK_SECONDS = 60
"""How long uvicorn's supervisor waits for a worker to answer its health check before killing it
as hung. A new worker answers only once it has imported the app, which on a busy machine takes
longer than uvicorn's default of 5 s: with that default, every replacement of a worker (and every
worker at start-up) was killed before it could serve, and the next one met the same end."""


def prepare_or_exit(database_url: str) -> None:
    """Migrate and seed as `make seed-policies` would; exits with the reason when the policy file
    is refused, or when it changes who may do what in a database that already holds a policy
    (that takes `make seed-policies REASON="..."`, so the change is recorded with its reason)."""
    try:
        prepare(database_url)
    except PolicyFileError as exc:
        raise SystemExit(f"policy refused:\n{exc}") from None
    except ReasonRequired as exc:
        raise SystemExit(
            f"policies/policy.csv was not applied: {exc}; run `make seed-policies "
            'ARGS=--dry-run` to see it and `make seed-policies REASON="..."` to apply it'
        ) from None


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
    prepare_or_exit(database_url)
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
