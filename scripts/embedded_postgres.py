"""An embedded PostgreSQL (pgserver) for running without DATABASE_URL."""

import logging
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from app.config import DATA_DIR


def start_embedded(
    folder: Path = DATA_DIR / "postgres", database: str = "blokid"
) -> tuple[Any, str]:
    """Start (or reuse) the embedded server and make sure `database` exists.

    Returns the server handle (keep it alive: the server stops when the process exits) and a
    `postgresql://` URL of the database.
    """
    import pgserver

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    folder.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]  # untyped
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return server, server.get_uri(database)
