"""Reading the policy: from `policies/` (the reviewed source) and from the database (what runs)."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

ROOT = Path(__file__).resolve().parent.parent.parent
MODEL_PATH = ROOT / "casbin_model.conf"
POLICY_PATH = ROOT / "policies" / "policy.csv"

VALUE = re.compile(r"^[a-z0-9_:.-]+$")
PolicyRow = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One reason a policy cannot be loaded, and where: `policies/policy.csv:12`."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class PolicyFileError(ValueError):
    """A policy (a file, or the rows in the database) that cannot be loaded: every problem found,
    each naming its file and line."""

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


LocatedRow = tuple[PolicyRow, str]
"""A policy row and where it is written (`policies/policy.csv:12`, `casbin_rule id 7`)."""


def display_path(path: Path) -> str:
    """A file as refusals name it: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _fields(text: str) -> PolicyRow:
    return tuple(field.strip() for field in text.split(","))


def parse_policy_lines(path: Path) -> list[LocatedRow]:
    """The rows of a policy file with their lines, refusing anything but `p|g, a, b, c` rows of
    identifiers (the database's CHECK alphabet)."""
    where = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError([PolicyProblem(where, f"cannot be read ({exc})")]) from None
    located: list[LocatedRow] = []
    problems: list[PolicyProblem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = _fields(stripped)
        here = f"{where}:{number}"
        if fields[0] not in ("p", "g") or len(fields) != 4:
            problems.append(PolicyProblem(here, f"expected 'p|g, a, b, c', got {stripped!r}"))
            continue
        bad = [value for value in fields[1:] if not VALUE.match(value)]
        if bad:
            problems.append(PolicyProblem(here, f"{bad[0]!r} is not an identifier"))
            continue
        located.append((fields, here))
    if problems:
        raise PolicyFileError(problems)
    return located


def read_located_policy(path: Path = POLICY_PATH) -> list[LocatedRow]:
    """Load a policy file: its rows with their lines, refused (`PolicyFileError`, every problem
    named by line) unless it parses and passes `app.authz.policy_validation`."""
    # Imported here: validation asks the enforcer, whose module imports this one.
    from app.authz.policy_validation import validate_policy

    located = parse_policy_lines(path)
    validate_policy(located)
    return located


def read_policy_file(path: Path = POLICY_PATH) -> list[PolicyRow]:
    """The rows `(ptype, v0, v1, ...)` of a policy file that loads (see `read_located_policy`)."""
    return [row for row, _ in read_located_policy(path)]


def policy_file_lines(path: Path = POLICY_PATH) -> dict[PolicyRow, str]:
    """Where each row of the policy file is written: `policies/policy.csv:12` by row. Empty when
    the file cannot be read (a deployment may hold the policy in the database only)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    where = f"{path.parent.name}/{path.name}"
    found: dict[PolicyRow, str] = {}
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            found.setdefault(_fields(text), f"{where}:{number}")
    return found


CASBIN_RULE = sa.table(
    "casbin_rule",
    sa.column("id", sa.Integer),
    sa.column("ptype", sa.String),
    *(sa.column(f"v{i}", sa.String) for i in range(6)),
)
POLICY_VERSION = sa.table(
    "policy_version", sa.column("id"), sa.column("version"), sa.column("updated_at")
)
POLICY_CHANNEL = "policy_changed"


async def read_policy_rows(connection: AsyncConnection) -> tuple[int, list[LocatedRow]]:
    """The policy version and every policy row with its place (`casbin_rule id 7`), read in
    one snapshot."""
    result = await connection.execute(
        sa.text(
            "SELECT (SELECT version FROM policy_version WHERE id = 1) AS version, "
            "id, ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id"
        )
    )
    rows = result.all()
    if not rows:
        version = (
            await connection.execute(sa.text("SELECT version FROM policy_version WHERE id = 1"))
        ).scalar()
        return int(version or 0), []
    version = int(rows[0].version or 0)
    policy = [
        (
            tuple(v for v in (r.ptype, r.v0, r.v1, r.v2, r.v3, r.v4, r.v5) if v is not None),
            f"casbin_rule id {r.id}",
        )
        for r in rows
    ]
    return version, policy
