"""Who may do what: each role alone × each permission, as the enforcer answers it.

The table of `make policy-table`, and the cells a policy change flips (`--dry-run`, the policy
history). A role is asked alone in a website of its organization, so an organization role is
asked about its organization and that website, and a website role about the website.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from app.authz.engine import (
    ORG_KIND,
    WEBSITE_KIND,
    Assignments,
    PolicyEngine,
    casbin_role,
    probe,
)
from app.authz.permissions import Permission
from app.authz.policy import PolicyRow

ROLE_COLUMNS: dict[str, Assignments] = {
    casbin_role(ORG_KIND, "admin"): probe("admin", None),
    casbin_role(ORG_KIND, "user"): probe("user", None),
    casbin_role(WEBSITE_KIND, "admin"): probe(None, "admin"),
    casbin_role(WEBSITE_KIND, "user"): probe(None, "user"),
}
"""The Casbin role of each column (`org_admin`, ...) and the assignments that hold it alone."""


def column_title(role: str) -> str:
    """How tables title a role: `org_admin` -> `org admin`."""
    return role.replace("_", " ")


Cells = dict[tuple[str, Permission], bool]


def cells(engine: PolicyEngine) -> Cells:
    """Every (role, permission) cell: whether the role alone holds the permission."""
    return {
        (role, permission): engine.allows(assignments, permission)
        for permission in Permission
        for role, assignments in ROLE_COLUMNS.items()
    }


@dataclass(frozen=True, slots=True)
class CellChange:
    """One who-may-do-what cell that a policy change flips."""

    role: str
    permission: Permission
    before: bool
    after: bool

    def __str__(self) -> str:
        return (
            f"{column_title(self.role)} × {self.permission.value}: "
            f"{_word(self.before)} → {_word(self.after)}"
        )

    def as_json(self) -> dict[str, object]:
        """The change as stored in the policy history."""
        return {
            "role": self.role,
            "permission": self.permission.value,
            "before": self.before,
            "after": self.after,
        }


def _word(allowed: bool) -> str:
    return "yes" if allowed else "no"


def effect(before: Iterable[PolicyRow], after: Iterable[PolicyRow]) -> list[CellChange]:
    """The cells that differ between two policies, in table order."""
    old, new = cells(PolicyEngine(before)), cells(PolicyEngine(after))
    return [
        CellChange(role, permission, old[role, permission], new[role, permission])
        for (role, permission) in new
        if old[role, permission] != new[role, permission]
    ]
