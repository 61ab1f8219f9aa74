"""Load policies/policy.csv into the database (idempotent).

    python -m scripts.seed_policies --reason "why"  apply; running workers reload within a second
    python -m scripts.seed_policies --dry-run       print the diff and its effect, change nothing
    python -m scripts.seed_policies --check         exit 1 if the database differs from the file

Before anything else the policy file must load (vocabulary, hierarchy, duplicates, no lower role
holding more than the role above it) and keep every assertion of policies/invariants.txt. The
diff lists the rows added and removed and the who-may-do-what cells that change (role ×
permission, before → after). Applying a change to those cells needs --reason; the change, its
effect and its reason go to the policy history (`make policy-history`).

Uses DATABASE_URL (from the environment or .env). Exit status: 0 in step or applied, 1 drift
found by --check, 2 when the policy is refused (file, invariants, missing reason) or the database
cannot be read; nothing is changed unless the status is 0.
"""

import argparse
import asyncio
import sys
from pathlib import Path

from sqlalchemy.exc import ProgrammingError

from app.authz.policy import POLICY_PATH, PolicyFileError, read_located_policy
from app.authz.policy_validation import INVARIANTS_PATH, check_invariants, read_invariants
from app.authz.seeding import PolicyDiff, ReasonRequired, sync_policy
from app.config import required_database_url
from app.db import create_engine

UNDEFINED_TABLE = "42P01"  # SQLSTATE undefined_table


def print_diff(diff: PolicyDiff) -> None:
    """The rows that change, then the who-may-do-what cells that change."""
    for line in diff.lines():
        print(line)
    if diff.empty:
        return
    if diff.effect:
        print("who may do what (role × permission: before → after):")
        for change in diff.effect:
            print(f"  {change}")
    else:
        print("who may do what: unchanged")


async def run(
    database_url: str,
    policy_path: Path,
    *,
    dry_run: bool,
    check: bool,
    reason: str | None = None,
    invariants_path: Path = INVARIANTS_PATH,
) -> int:
    """Seed or compare; returns the process exit code."""
    try:
        located = read_located_policy(policy_path)
        check_invariants(located, read_invariants(invariants_path))
    except PolicyFileError as exc:
        print(f"policy refused:\n{exc}", file=sys.stderr)
        return 2
    rows = [row for row, _ in located]
    engine = create_engine(database_url, pool_size=1)
    try:
        diff = await sync_policy(engine, rows, apply=not (dry_run or check), reason=reason)
    except ReasonRequired as exc:
        print(
            f'nothing applied: {exc}; say why with --reason "..." (--dry-run shows the cells)',
            file=sys.stderr,
        )
        return 2
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) == UNDEFINED_TABLE:
            print("the database has no policy table yet: run `make upgrade` first", file=sys.stderr)
            return 2
        raise
    finally:
        await engine.dispose()
    print_diff(diff)
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
        else f"applied: +{len(diff.to_add)} -{len(diff.to_remove)}, policy version {diff.version}"
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--dry-run", action="store_true", help="print the diff and its effect, change nothing"
    )
    group.add_argument(
        "--check", action="store_true", help="exit 1 when the database differs from the file"
    )
    parser.add_argument(
        "--policy", type=Path, default=POLICY_PATH, help="policy file (default policies/policy.csv)"
    )
    parser.add_argument(
        "--invariants",
        type=Path,
        default=INVARIANTS_PATH,
        help="invariants the policy must keep (default policies/invariants.txt)",
    )
    parser.add_argument(
        "--reason", help="why the policy changes (required when who may do what changes)"
    )
    args = parser.parse_args()
    url = required_database_url()
    raise SystemExit(
        asyncio.run(
            run(
                url,
                args.policy,
                dry_run=args.dry_run,
                check=args.check,
                reason=args.reason,
                invariants_path=args.invariants,
            )
        )
    )


if __name__ == "__main__":
    main()
