"""Print the policy history, newest first: each applied change's version, time, reason, the rows
it added and removed and the who-may-do-what cells it changed.

    python -m scripts.policy_history [--limit N]   (make policy-history)

Uses DATABASE_URL (from the environment or .env). Exit status 0, or 2 when the database cannot be
read.
"""

import argparse
import asyncio
import signal
import sys
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError

from app.authz.effect import column_title
from app.config import required_database_url
from app.db import create_engine

UNDEFINED_TABLE = "42P01"  # SQLSTATE undefined_table


def render(change: Any) -> list[str]:
    """One history entry as lines of text."""
    when = change.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"version {change.version}  {when}  reason: {change.reason or '(none)'}"]
    lines += [f"  - {', '.join(row)}" for row in change.diff.get("removed", [])]
    lines += [f"  + {', '.join(row)}" for row in change.diff.get("added", [])]
    for cell in change.diff.get("effect", []):
        before, after = ("yes" if cell[k] else "no" for k in ("before", "after"))
        lines.append(f"    {column_title(cell['role'])} × {cell['permission']}: {before} → {after}")
    return lines


async def history(database_url: str, limit: int) -> list[str]:
    """The last `limit` changes, rendered."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            changes = (
                await connection.execute(
                    sa.text(
                        "SELECT version, diff, reason, created_at FROM policy_changes "
                        "ORDER BY version DESC LIMIT :limit"
                    ),
                    {"limit": limit},
                )
            ).all()
    finally:
        await engine.dispose()
    lines: list[str] = []
    for change in changes:
        lines += render(change)
    return lines or ["no policy change has been applied yet"]


def main() -> None:
    # Output piped into `head` ends quietly, as other command-line tools do.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=20, help="how many changes (default 20)")
    args = parser.parse_args()
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    url = required_database_url()
    try:
        lines = asyncio.run(history(url, args.limit))
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) == UNDEFINED_TABLE:
            print(
                "the database has no policy history yet: run `make upgrade` first", file=sys.stderr
            )
            raise SystemExit(2) from None
        raise
    print("\n".join(lines))


if __name__ == "__main__":
    main()
