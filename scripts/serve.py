"""`make run`: database (embedded unless DATABASE_URL is set), migrations, policy, then the server.

Ctrl-C stops the server, then the embedded database.
"""

import logging
import os

import uvicorn

from app.config import ROOT_DIR, load_settings
from app.logging import configure_logging
from scripts.databases import prepare

logger = logging.getLogger("app.serve")


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
    prepare(database_url)
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
