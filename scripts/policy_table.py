"""Print the who-may-do-what table, computed by asking the enforcer (model + policy file).

    python -m scripts.policy_table [--policy FILE] [--format markdown|csv] [--write-readme]
    make policy-table ARGS="--format csv"

The policy file is loaded as the seed script loads it: a policy it would refuse is refused here
(exit 2, every problem named by line). `--write-readme` replaces the table in README.md (between
its `policy-table` markers) with the Markdown table of policies/policy.csv; a test keeps the two
equal.
"""

import argparse
import csv
import io
import signal
import sys
from pathlib import Path

from app.authz.effect import ROLE_COLUMNS, cells, column_title
from app.authz.engine import PolicyEngine
from app.authz.permissions import Permission
from app.authz.policy import POLICY_PATH, ROOT, PolicyFileError, read_policy_file

README_PATH = ROOT / "README.md"
BEGIN = "<!-- policy-table: begin (make policy-table ARGS=--write-readme) -->"
END = "<!-- policy-table: end -->"
FORMATS = ("markdown", "csv")


def _rows(engine: PolicyEngine) -> list[list[str]]:
    answers = cells(engine)
    return [
        [permission.value] + ["yes" if answers[role, permission] else "no" for role in ROLE_COLUMNS]
        for permission in Permission
    ]


def table(engine: PolicyEngine, fmt: str = "markdown") -> str:
    """The table as Markdown or CSV: one row per permission, one column per role."""
    header = ["permission", *(column_title(role) for role in ROLE_COLUMNS)]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(_rows(engine))
        return out.getvalue().rstrip("\n")
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---|" * len(ROLE_COLUMNS)]
    for permission, *answers in _rows(engine):
        lines.append(f"| `{permission}` | " + " | ".join(answers) + " |")
    return "\n".join(lines)


def readme_with_table(readme: str, markdown: str) -> str:
    """README text with the block between the markers replaced by the table."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:start] + "\n" + markdown + "\n" + readme[end:]


def readme_table(readme: str) -> str:
    """The table the README holds between its markers."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[start:end].strip("\n")


def main() -> None:
    # Output piped into `head` ends quietly, as other command-line tools do.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--policy", type=Path, default=POLICY_PATH, help="policy file (default policies/policy.csv)"
    )
    parser.add_argument("--format", choices=FORMATS, default="markdown", help="default markdown")
    parser.add_argument(
        "--write-readme",
        action="store_true",
        help="replace README.md's table with this one (Markdown of policies/policy.csv)",
    )
    args = parser.parse_args()
    try:
        engine = PolicyEngine(read_policy_file(args.policy))
    except PolicyFileError as exc:
        print(f"policy refused:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.write_readme:
        if args.policy != POLICY_PATH or args.format != "markdown":
            parser.error("--write-readme writes the Markdown table of policies/policy.csv only")
        README_PATH.write_text(
            readme_with_table(README_PATH.read_text(encoding="utf-8"), table(engine)),
            encoding="utf-8",
        )
        print(f"{README_PATH.name}: table updated")
        return
    print(table(engine, args.format))


if __name__ == "__main__":
    main()
