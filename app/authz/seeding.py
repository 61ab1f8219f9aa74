"""Loading `policies/` into the database: diff, drift check, apply.

Applying is one transaction: rows removed and added, the policy version bumped, and
`NOTIFY policy_changed` sent (PostgreSQL delivers it on commit), so running workers reload
within a second. An unchanged policy changes nothing and bumps nothing.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.authz.policy import CASBIN_RULE, POLICY_CHANNEL, PolicyRow

# Serializes concurrent seed runs on one database.
SEED_LOCK_ID = 7_402_118_302


@dataclass
class PolicyDiff:
    """What applying the file would change in the database."""

    to_add: list[PolicyRow] = field(default_factory=list)
    to_remove: list[PolicyRow] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.to_add and not self.to_remove

    def lines(self) -> list[str]:
        """The diff as `+ p, a, b, c` / `- ...` lines."""
        return [f"- {', '.join(r)}" for r in self.to_remove] + [
            f"+ {', '.join(r)}" for r in self.to_add
        ]


def _values(row: PolicyRow) -> dict[str, str | None]:
    padded = list(row[1:]) + [None] * (6 - len(row[1:]))
    return {"ptype": row[0], **{f"v{i}": padded[i] for i in range(6)}}


async def sync_policy(engine: AsyncEngine, wanted: list[PolicyRow], *, apply: bool) -> PolicyDiff:
    """Compare the database's policy rows with `wanted`; with `apply`, make them equal."""
    async with engine.begin() as connection:
        await connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": SEED_LOCK_ID})
        result = await connection.execute(
            sa.text("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id")
        )
        current = [tuple(v for v in r if v is not None) for r in result]
        current_set, wanted_set = set(current), set(wanted)
        diff = PolicyDiff(
            to_add=[r for r in wanted if r not in current_set],
            to_remove=[r for r in current if r not in wanted_set],
        )
        if not apply or diff.empty:
            return diff
        for row in diff.to_remove:
            values = _values(row)
            conditions = [
                CASBIN_RULE.c[name].is_(None) if value is None else CASBIN_RULE.c[name] == value
                for name, value in values.items()
            ]
            await connection.execute(sa.delete(CASBIN_RULE).where(*conditions))
        if diff.to_add:
            await connection.execute(sa.insert(CASBIN_RULE), [_values(r) for r in diff.to_add])
        await connection.execute(
            sa.text(
                "UPDATE policy_version SET version = version + 1, updated_at = now() WHERE id = 1"
            )
        )
        await connection.execute(sa.text(f"NOTIFY {POLICY_CHANNEL}"))
        return diff
