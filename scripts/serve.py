"""`make run`: database (embedded unless DATABASE_URL is set), migrations, policy, then the server.

Ctrl-C stops the server, then the embedded database.
"""

import os

import uvicorn

from app.config import load_settings
from scripts.databases import prepare


def main() -> None:
    settings = load_settings()
    server = None
    database_url = settings.database_url
    if not database_url:
        from scripts.embedded_postgres import start_embedded

        server, database_url = start_embedded()
        os.environ["DATABASE_URL"] = database_url
        print("embedded PostgreSQL ready in .data/postgres")
    prepare(database_url)
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
