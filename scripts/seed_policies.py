"""Load policies/policy.csv into the database (idempotent).

    python -m scripts.seed_policies            apply; running workers reload within a second
    python -m scripts.seed_policies --dry-run  print the diff, change nothing
    python -m scripts.seed_policies --check    exit 1 if the database differs from the file (drift)

Uses DATABASE_URL (from the environment or .env). Exit status: 0 in step or applied, 1 drift
found by --check, 2 when the policy file or the database cannot be read.
"""

import argparse
import asyncio
import sys
from pathlib import Path

from sqlalchemy.exc import ProgrammingError

from app.authz.policy import POLICY_PATH, PolicyFileError, read_policy_file
from app.authz.seeding import sync_policy
from app.config import required_database_url
from app.db import create_engine

UNDEFINED_TABLE = "42P01"  # SQLSTATE undefined_table


async def run(database_url: str, policy_path: Path, *, dry_run: bool, check: bool) -> int:
    """Seed or compare; returns the process exit code."""
    try:
        rows = read_policy_file(policy_path)
    except PolicyFileError as exc:
        print(f"policy file error: {exc}", file=sys.stderr)
        return 2
    engine = create_engine(database_url, pool_size=1)
    try:
        diff = await sync_policy(engine, rows, apply=not (dry_run or check))
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) == UNDEFINED_TABLE:
            print("the database has no policy table yet: run `make upgrade` first", file=sys.stderr)
            return 2
        raise
    finally:
        await engine.dispose()
    for line in diff.lines():
        print(line)
    if diff.empty:
        print("policy in the database matches the file")
        return 0
    if check:
        print(
            f"drift: {len(diff.to_add)} rows missing, {len(diff.to_remove)} extra", file=sys.stderr
        )
        return 1
    print(
        "dry run: nothing changed"
        if dry_run
        else f"applied: +{len(diff.to_add)} -{len(diff.to_remove)}"
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--dry-run", action="store_true", help="print the diff, change nothing")
    group.add_argument(
        "--check", action="store_true", help="exit 1 when the database differs from the file"
    )
    parser.add_argument(
        "--policy", type=Path, default=POLICY_PATH, help="policy file (default policies/policy.csv)"
    )
    args = parser.parse_args()
    url = required_database_url()
    raise SystemExit(asyncio.run(run(url, args.policy, dry_run=args.dry_run, check=args.check)))


if __name__ == "__main__":
    main()
