"""Keeping every worker's enforcer on the current policy.

A policy change (the seed script, or any admin edit that bumps `policy_version`) sends
`NOTIFY policy_changed` in its transaction. Each worker LISTENs on a dedicated connection inside its
event loop and also compares the version row every `policy_check_seconds`, because notifications
sent while a listener was disconnected are lost. A reload builds a new enforcer aside and swaps one
reference, so no request ever sees a half-loaded policy.
"""

import asyncio
import logging
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine

from app.authz.engine import PolicyEngine
from app.authz.policy import POLICY_CHANNEL, PolicyFileError, read_policy_rows
from app.authz.policy_validation import validate_policy
from app.db import libpq_url

logger = logging.getLogger("app.authz")


class PolicyStore:
    """Holds the live `PolicyEngine` and replaces it when the policy version moves."""

    def __init__(self, engine: AsyncEngine, database_url: str, check_seconds: float = 1.0) -> None:
        self._db = engine
        self._dsn = libpq_url(database_url)
        self._check_seconds = check_seconds
        self.current: PolicyEngine | None = None
        # The last version refused as invalid: reported once, not on every check.
        self._refused_version: int | None = None

    @property
    def ready(self) -> bool:
        """Whether a policy with at least one row is loaded."""
        return self.current is not None and bool(self.current.rows)

    def get(self) -> PolicyEngine:
        """The live engine; raises if the policy was never loaded."""
        if self.current is None:
            raise RuntimeError("the authorization policy is not loaded")
        return self.current

    async def reload(self) -> PolicyEngine:
        """Read the policy from the database, build a new engine aside, then swap it in.

        Raises `PolicyFileError` (naming each bad row and why) for a policy that fails
        validation, keeping the engine it had.
        """
        async with self._db.connect() as connection:
            version, located = await read_policy_rows(connection)
        validate_policy(located)
        fresh = PolicyEngine((row for row, _ in located), version)
        self.current = fresh
        logger.info("policy version %s loaded (%s rows)", version, len(located))
        return fresh

    async def _reload_if_changed(self, connection: psycopg.AsyncConnection[Any]) -> None:
        cursor = await connection.execute("SELECT version FROM policy_version WHERE id = 1")
        row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        if self.current is not None and version == self.current.version:
            return
        if version == self._refused_version:
            return
        try:
            await self.reload()
        except PolicyFileError as exc:
            # A running worker keeps deciding with the policy it has; only start-up refuses.
            self._refused_version = version
            logger.error(
                "policy version %s refused, keeping version %s:\n%s",
                version,
                self.current.version if self.current else "none",
                exc,
            )

    async def watch(self) -> None:
        """Run forever: LISTEN for changes, re-check the version row, reconnect on failure."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {POLICY_CHANNEL}")
                    # Anything sent while we were not listening is caught by this check.
                    await self._reload_if_changed(conn)
                    while True:
                        async for _ in conn.notifies(timeout=self._check_seconds, stop_after=1):
                            pass
                        await self._reload_if_changed(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive any database outage
                logger.warning(
                    "policy watcher lost its connection (%s); retrying", type(exc).__name__
                )
                await asyncio.sleep(1)
