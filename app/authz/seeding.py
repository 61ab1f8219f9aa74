"""Loading `policies/` into the database: diff, drift check, apply.

Applying is one transaction: rows removed and added, the policy version bumped, the change
recorded in the policy history (diff, effect, reason), and `NOTIFY policy_changed` sent
(PostgreSQL delivers it on commit), so running workers reload within a second. An unchanged
policy changes nothing and bumps nothing.
"""

import json
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.authz.effect import CellChange, effect
from app.authz.policy import CASBIN_RULE, POLICY_CHANNEL, PolicyRow

INITIAL_REASON = "initial policy"


class ReasonRequired(ValueError):
    """Applying a change to who may do what needs a reason, kept in the policy history."""


# Serializes concurrent seed runs on one database.
SEED_LOCK_ID = 7_402_118_302


@dataclass
class PolicyDiff:
    """What applying the file would change in the database."""

    to_add: list[PolicyRow] = field(default_factory=list)
    to_remove: list[PolicyRow] = field(default_factory=list)
    effect: list[CellChange] = field(default_factory=list)
    version: int | None = None  # the version applying produced; None when nothing was applied

    @property
    def empty(self) -> bool:
        return not self.to_add and not self.to_remove

    def lines(self) -> list[str]:
        """The diff as `+ p, a, b, c` / `- ...` lines."""
        return [f"- {', '.join(r)}" for r in self.to_remove] + [
            f"+ {', '.join(r)}" for r in self.to_add
        ]

    def as_json(self) -> dict[str, object]:
        """The diff as the policy history keeps it."""
        return {
            "added": [list(r) for r in self.to_add],
            "removed": [list(r) for r in self.to_remove],
            "effect": [change.as_json() for change in self.effect],
        }


_VALUE_COLUMNS = tuple(f"v{i}" for i in range(6))


def _values(row: PolicyRow) -> dict[str, str | None]:
    # The columns a row does not fill stay NULL.
    filled: dict[str, str | None] = dict(zip(_VALUE_COLUMNS, row[1:], strict=False))
    return {"ptype": row[0], **dict.fromkeys(_VALUE_COLUMNS), **filled}


async def sync_policy(
    engine: AsyncEngine, wanted: list[PolicyRow], *, apply: bool, reason: str | None = None
) -> PolicyDiff:
    """Compare the database's policy rows with `wanted` (rows and who-may-do-what cells); with
    `apply`, make them equal and record the change with its reason.

    A change whose effect is not empty needs a reason (`ReasonRequired`, nothing changed),
    except the first load into an empty database, recorded as the initial policy.
    """
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
        if diff.empty:
            return diff
        diff.effect = effect(current, wanted)
        if not apply:
            return diff
        if not current:
            reason = reason or INITIAL_REASON
        elif diff.effect and not (reason and reason.strip()):
            raise ReasonRequired(
                f"this change alters {len(diff.effect)} who-may-do-what cells and needs a reason"
            )
        for row in diff.to_remove:
            values = _values(row)
            conditions = [
                CASBIN_RULE.c[name].is_(None) if value is None else CASBIN_RULE.c[name] == value
                for name, value in values.items()
            ]
            await connection.execute(sa.delete(CASBIN_RULE).where(*conditions))
        if diff.to_add:
            await connection.execute(sa.insert(CASBIN_RULE), [_values(r) for r in diff.to_add])
        diff.version = (
            await connection.execute(
                sa.text(
                    "UPDATE policy_version SET version = version + 1, updated_at = now() "
                    "WHERE id = 1 RETURNING version"
                )
            )
        ).scalar_one()
        await connection.execute(
            sa.text(
                "INSERT INTO policy_changes (version, diff, reason) "
                "VALUES (:version, CAST(:diff AS jsonb), :reason)"
            ),
            {"version": diff.version, "diff": json.dumps(diff.as_json()), "reason": reason},
        )
        await connection.execute(sa.text(f"NOTIFY {POLICY_CHANNEL}"))
        return diff
