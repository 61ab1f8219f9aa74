"""What a policy must be before it is loaded anywhere (seed script, policy table, the service).

The file parses (`app/authz/policy.py`); then every row must speak the vocabulary of
`app/authz/permissions.py`, the hierarchy rows must stay within one level and go downwards only,
no row may repeat, and no role may hold a permission the role above it lacks. Every problem is
reported with its place (`policies/policy.csv:12` or `casbin_rule id 7`) and its reason.

Beside the policy, `policies/invariants.txt` holds reviewer-readable assertions
(`website_user cannot delete website`) that the seed script checks before applying.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.authz.effect import ROLE_COLUMNS
from app.authz.engine import (
    MEMBERSHIP_ROLES,
    ORG_KIND,
    WEBSITE_KIND,
    PolicyEngine,
    casbin_role,
)
from app.authz.permissions import WEBSITE_PERMISSIONS, Permission
from app.authz.policy import (
    ROOT,
    LocatedRow,
    PolicyFileError,
    PolicyProblem,
    PolicyRow,
    display_path,
)

INVARIANTS_PATH = ROOT / "policies" / "invariants.txt"

# The level of each Casbin role, and the domain kind its hierarchy rows name.
ROLE_LEVEL: dict[str, str] = {
    casbin_role(kind, role): kind for kind in (ORG_KIND, WEBSITE_KIND) for role in MEMBERSHIP_ROLES
}
DOMAIN_KINDS = (ORG_KIND, WEBSITE_KIND)
ACTIONS_OF: dict[str, set[str]] = defaultdict(set)
for _permission in Permission:
    ACTIONS_OF[_permission.object].add(_permission.action)

# At each level the admin role sits above the user role: it must hold at least as much, and only
# the upper role may inherit the lower one.
ABOVE: dict[str, str] = {
    casbin_role(kind, "user"): casbin_role(kind, "admin") for kind in (ORG_KIND, WEBSITE_KIND)
}
WEBSITE_PERMISSION_SET = frozenset(WEBSITE_PERMISSIONS)


def _known_roles() -> str:
    return ", ".join(ROLE_LEVEL)


def _grant_problem(row: PolicyRow) -> str | None:
    _, role, obj, action = row
    if role not in ROLE_LEVEL:
        return f"unknown role {role!r} (roles: {_known_roles()})"
    if obj not in ACTIONS_OF:
        return f"unknown object {obj!r} (objects: {', '.join(sorted(ACTIONS_OF))})"
    if action not in ACTIONS_OF[obj]:
        return (
            f"unknown action {action!r} on {obj!r} "
            f"(actions: {', '.join(sorted(ACTIONS_OF[obj]))})"
        )
    permission = Permission(f"{obj}:{action}")
    if ROLE_LEVEL[role] == WEBSITE_KIND and permission not in WEBSITE_PERMISSION_SET:
        # The enforcer asks organization-level questions with no website domain, so such a
        # grant would never apply: refuse it rather than let a reader believe it does.
        return f"{role} holds in one website only; {permission.value} is not asked about a website"
    return None


def _hierarchy_problem(row: PolicyRow) -> str | None:
    _, role, parent, kind = row
    for name in (role, parent):
        if name not in ROLE_LEVEL:
            return f"unknown role {name!r} (roles: {_known_roles()})"
    if kind not in DOMAIN_KINDS:
        return f"unknown domain kind {kind!r} (kinds: {', '.join(DOMAIN_KINDS)})"
    if ROLE_LEVEL[role] != kind or ROLE_LEVEL[parent] != kind:
        return (
            f"crosses levels: {role} ({ROLE_LEVEL[role]}) inherits {parent} "
            f"({ROLE_LEVEL[parent]}) in a {kind} domain; a role inherits only roles of its own level"
        )
    if ABOVE.get(role) == parent:
        return f"{role} would inherit {parent}, the role above it; only the upper role inherits"
    return None


def _reaches(parents: dict[str, set[str]], start: str, target: str) -> list[str] | None:
    """A path of inheritance from `start` to `target`, if there is one."""
    pending: list[list[str]] = [[start]]
    seen: set[str] = set()
    while pending:
        path = pending.pop()
        if path[-1] == target:
            return path
        if path[-1] in seen:
            continue
        seen.add(path[-1])
        pending.extend(path + [parent] for parent in parents.get(path[-1], ()))
    return None


def _cycle_problems(located: Sequence[LocatedRow]) -> list[PolicyProblem]:
    parents: dict[str, set[str]] = defaultdict(set)
    problems = []
    for row, where in located:
        if row[0] != "g":
            continue
        _, role, parent, _ = row
        back = _reaches(parents, parent, role)
        if back is not None:
            loop = " → ".join([role, *back])
            problems.append(PolicyProblem(where, f"makes a cycle in the role hierarchy: {loop}"))
            continue
        parents[role].add(parent)
    return problems


def _lower_role_problems(located: Sequence[LocatedRow]) -> list[PolicyProblem]:
    """A grant that makes a lower role hold a permission the role above it lacks, as the
    enforcer computes what each role holds."""
    engine = PolicyEngine(row for row, _ in located)
    place = {row: where for row, where in located}
    problems = []
    for lower, upper in ABOVE.items():
        candidates = WEBSITE_PERMISSIONS if ROLE_LEVEL[lower] == WEBSITE_KIND else tuple(Permission)
        for permission in candidates:
            if not engine.allows(ROLE_COLUMNS[lower], permission) or engine.allows(
                ROLE_COLUMNS[upper], permission
            ):
                continue
            why = engine.explain(ROLE_COLUMNS[lower], permission)
            where = place.get(why.rule, "policy") if why is not None else "policy"
            problems.append(
                PolicyProblem(
                    where,
                    f"{lower} would hold {permission.value}, which {upper} (the role above it) "
                    "does not",
                )
            )
    return problems


def validate_policy(located: Sequence[LocatedRow]) -> None:
    """Refuse (`PolicyFileError`, every problem with its place) a policy whose rows leave the
    vocabulary, repeat, cross levels or loop in the hierarchy, or make a lower role hold more than
    the role above it. The rows must already have the `p|g, a, b, c` shape."""
    problems: list[PolicyProblem] = []
    first_seen: dict[PolicyRow, str] = {}
    for row, where in located:
        if row in first_seen:
            problems.append(PolicyProblem(where, f"duplicate of {first_seen[row]}"))
            continue
        first_seen[row] = where
        reason = _grant_problem(row) if row[0] == "p" else _hierarchy_problem(row)
        if reason is not None:
            problems.append(PolicyProblem(where, reason))
    if not problems:
        problems = _cycle_problems(located)
    if not problems:
        problems = _lower_role_problems(located)
    if problems:
        raise PolicyFileError(problems)


@dataclass(frozen=True, slots=True)
class Invariant:
    """`<role> can|cannot <action> <object>`, from the invariants file."""

    role: str
    allowed: bool
    permission: Permission
    where: str

    def __str__(self) -> str:
        verb = "can" if self.allowed else "cannot"
        return f"{self.role} {verb} {self.permission.action} {self.permission.object}"


def read_invariants(path: Path = INVARIANTS_PATH) -> list[Invariant]:
    """Parse the invariants file; refuse a line that names no role or permission of the
    vocabulary."""
    name = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError([PolicyProblem(name, f"cannot be read ({exc})")]) from None
    invariants, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{name}:{number}"
        words = stripped.split()
        if len(words) != 4 or words[1] not in ("can", "cannot"):
            problems.append(
                PolicyProblem(
                    where, f"expected '<role> can|cannot <action> <object>', got {stripped!r}"
                )
            )
            continue
        role, verb, action, obj = words
        if role not in ROLE_COLUMNS:
            problems.append(
                PolicyProblem(where, f"unknown role {role!r} (roles: {_known_roles()})")
            )
            continue
        try:
            permission = Permission(f"{obj}:{action}")
        except ValueError:
            problems.append(PolicyProblem(where, f"unknown permission {obj}:{action}"))
            continue
        invariants.append(Invariant(role, verb == "can", permission, where))
    if problems:
        raise PolicyFileError(problems)
    return invariants


def check_invariants(located: Sequence[LocatedRow], invariants: Sequence[Invariant]) -> None:
    """Refuse (`PolicyFileError`) a policy that breaks an invariant, naming the invariant's line
    and, for a permission it grants, the policy line that grants it."""
    engine = PolicyEngine(row for row, _ in located)
    place = {row: where for row, where in located}
    problems = []
    for invariant in invariants:
        assignments = ROLE_COLUMNS[invariant.role]
        if engine.allows(assignments, invariant.permission) == invariant.allowed:
            continue
        if invariant.allowed:
            reason = f"broken: {invariant} — no policy row grants it"
        else:
            why = engine.explain(assignments, invariant.permission)
            granted_by = (
                f" — granted by {place.get(why.rule, 'the policy')} ({', '.join(why.rule)})"
                if why is not None
                else ""
            )
            reason = f"broken: {invariant}{granted_by}"
        problems.append(PolicyProblem(invariant.where, reason))
    if problems:
        raise PolicyFileError(problems)
