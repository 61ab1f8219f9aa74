"""Reading the policy: from `policies/` (the reviewed source) and from the database (what runs)."""

import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

ROOT = Path(__file__).resolve().parent.parent.parent
MODEL_PATH = ROOT / "casbin_model.conf"
POLICY_PATH = ROOT / "policies" / "policy.csv"

VALUE = re.compile(r"^[a-z0-9_:.-]+$")
PolicyRow = tuple[str, ...]


class PolicyFileError(ValueError):
    """A line of the policy file that cannot be loaded."""


def read_policy_file(path: Path = POLICY_PATH) -> list[PolicyRow]:
    """Parse the policy file into rows `(ptype, v0, v1, ...)`, refusing anything but identifiers."""
    rows: list[PolicyRow] = []
    seen: set[PolicyRow] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = tuple(field.strip() for field in text.split(","))
        ptype, values = fields[0], fields[1:]
        if ptype not in ("p", "g") or len(values) != 3:
            raise PolicyFileError(f"{path.name}:{number}: expected 'p|g, a, b, c', got {text!r}")
        for value in values:
            if not VALUE.match(value):
                raise PolicyFileError(f"{path.name}:{number}: {value!r} is not an identifier")
        if fields in seen:
            raise PolicyFileError(f"{path.name}:{number}: duplicate line {text!r}")
        seen.add(fields)
        rows.append(fields)
    return rows


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
            found.setdefault(tuple(f.strip() for f in text.split(",")), f"{where}:{number}")
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


async def read_policy_rows(connection: AsyncConnection) -> tuple[int, list[PolicyRow]]:
    """The policy version and every policy row, read in one snapshot."""
    result = await connection.execute(
        sa.text(
            "SELECT (SELECT version FROM policy_version WHERE id = 1) AS version, "
            "ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id"
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
        tuple(v for v in (r.ptype, r.v0, r.v1, r.v2, r.v3, r.v4, r.v5) if v is not None)
        for r in rows
    ]
    return version, policy


async def read_policy_version(connection: AsyncConnection) -> int:
    """The current policy version (bumped by every change)."""
    value = (
        await connection.execute(sa.text("SELECT version FROM policy_version WHERE id = 1"))
    ).scalar()
    return int(value or 0)
