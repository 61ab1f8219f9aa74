"""The Casbin enforcer, fed per request with the caller's role assignments.

Why not load every assignment into Casbin: at a million memberships the stock wiring takes minutes
to start, gigabytes per worker, seconds to remove one membership, and is stale on other workers.
Here the long-lived enforcer holds only the policy file's rows; the caller's assignments for the
request's two domains are read with one indexed query and handed to a role manager that answers
Casbin's `g()` from them. Start-up and memory do not grow with the number of users, and membership
changes need no propagation.

Decisions depend only on (roles held in the organization, role held in the website, object,
action), so they are memoized on that key; the memo belongs to one enforcer and is replaced with
it when the policy changes. Casbin still computes every distinct decision.

`enforce()` must run on the event loop thread (never in a worker thread): it is synchronous and
the context variable below is what ties it to the request.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import casbin
from casbin.rbac import RoleManager

from app.authz.permissions import WEBSITE_PERMISSIONS, Permission
from app.authz.policy import MODEL_PATH, PolicyRow, policy_file_lines
from app.memberships.roles import ROLES

ORG_KIND = "org"
WEBSITE_KIND = "website"
NO_WEBSITE = "website:none"
MEMBERSHIP_ROLES = ROLES


def casbin_role(kind: str, role: str) -> str:
    """The Casbin role name of a stored membership role: ('org', 'admin') -> 'org_admin'."""
    return f"{kind}_{role}"


@dataclass(frozen=True, slots=True)
class Assignments:
    """The caller's roles in the domains of one request (None where the caller holds none)."""

    user_id: UUID
    organization_id: UUID
    org_role: str | None = None
    website_id: UUID | None = None
    website_role: str | None = None

    @property
    def principal(self) -> str:
        return f"user:{self.user_id}"

    @property
    def org_domain(self) -> str:
        return f"org:{self.organization_id}"

    @property
    def site_domain(self) -> str:
        return f"website:{self.website_id}" if self.website_id else NO_WEBSITE

    def roles_by_domain(self) -> dict[str, str]:
        held: dict[str, str] = {}
        if self.org_role is not None:
            held[self.org_domain] = casbin_role(ORG_KIND, self.org_role)
        if self.website_id is not None and self.website_role is not None:
            held[self.site_domain] = casbin_role(WEBSITE_KIND, self.website_role)
        return held


# The ids of a probe: any ids do, since decisions depend on the roles held and never on ids.
_PROBE_USER, _PROBE_ORG, _PROBE_SITE = UUID(int=1), UUID(int=2), UUID(int=3)


def probe(org_role: str | None, website_role: str | None) -> Assignments:
    """Assignments that hold just these roles, in an organization and one of its websites: how
    the policy is asked about roles rather than about a caller."""
    return Assignments(_PROBE_USER, _PROBE_ORG, org_role, _PROBE_SITE, website_role)


_current: ContextVar[Assignments | None] = ContextVar("authz_assignments", default=None)


class RequestRoleManager(RoleManager):  # type: ignore[misc]  # casbin ships no type hints
    """Answers `has_link(user, role, domain)` from the current request's assignments.

    The policy's own `g` rows (role hierarchy) are kept as a transitive closure. Only the principal
    of the current assignments has links; a bare role name passed as a subject has none (Casbin's
    default manager would say `has_link(x, x)` is true).
    """

    def __init__(self) -> None:
        self._parents: dict[str, set[str]] = defaultdict(set)

    def clear(self) -> None:
        self._parents.clear()

    def add_link(self, name1: str, name2: str, *domain: str) -> None:
        self._parents[name1].add(name2)

    def delete_link(self, name1: str, name2: str, *domain: str) -> None:
        self._parents[name1].discard(name2)

    def inherits(self, role: str, target: str) -> bool:
        """Whether `role` is `target` or holds it through the policy's hierarchy rows."""
        return self._inherits(role, target)

    def _inherits(self, role: str, target: str) -> bool:
        pending, seen = [role], set()
        while pending:
            current = pending.pop()
            if current == target:
                return True
            if current in seen:
                continue
            seen.add(current)
            pending.extend(self._parents.get(current, ()))
        return False

    def has_link(self, name1: str, name2: str, *domain: str) -> bool:
        assignments = _current.get()
        if assignments is None or name1 != assignments.principal or not domain:
            return False
        role = assignments.roles_by_domain().get(domain[0])
        return role is not None and self._inherits(role, name2)

    def get_roles(self, name: str, *domain: str) -> list[str]:
        assignments = _current.get()
        if assignments is None or name != assignments.principal or not domain:
            return []
        role = assignments.roles_by_domain().get(domain[0])
        return [role] if role else []

    def get_users(self, name: str, *domain: str) -> list[str]:
        return []

    def print_roles(self) -> None:
        return None


def build_enforcer(rows: Iterable[PolicyRow], model_path: Path = MODEL_PATH) -> casbin.Enforcer:
    """A Casbin enforcer with the request role manager and the given policy rows.

    The role manager is set before the rows are loaded: set afterwards, Casbin silently keeps
    using the one it built at load time.
    """
    enforcer = casbin.Enforcer(str(model_path))
    enforcer.set_role_manager(RequestRoleManager())
    for row in rows:
        ptype, values = row[0], list(row[1:])
        enforcer.model.add_policy(ptype, ptype, values)
    enforcer.build_role_links()
    return enforcer


MemoKey = tuple[str | None, str | None, str, str]


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a permission is granted: the caller's role assignment that holds it and the policy
    row that grants it, as Casbin's own `enforce_ex` reports the decision."""

    permission: str
    level: Literal["organization", "website"]
    role: str  # the stored role of that assignment: "admin" or "user"
    rule: tuple[str, ...]  # the policy row: ("p", "org_user", "website", "read")
    source: str | None  # "policies/policy.csv:26", or None when the file lacks the row


class PolicyEngine:
    """One policy version: its enforcer and the memo of its decisions."""

    def __init__(self, rows: Iterable[PolicyRow], version: int = 0) -> None:
        self.rows = list(rows)
        self.version = version
        self._enforcer = build_enforcer(self.rows)
        self._sources = policy_file_lines()
        self._memo: dict[MemoKey, bool] = {}
        # Derived answers, memoized like decisions and replaced with them (one engine per policy).
        self._website_roles: dict[tuple[str | None, str | None], str | None] = {}
        self._granting: dict[Permission, tuple[list[str], list[str]]] = {}

    def clear_memo(self) -> None:
        """Forget every memoized decision and derived answer, so the next ones are computed by
        Casbin again (for measuring the enforcer itself; a policy change builds a new engine)."""
        self._memo.clear()
        self._website_roles.clear()
        self._granting.clear()

    def allows(self, assignments: Assignments, permission: Permission) -> bool:
        """Whether the caller, holding these assignments, has the permission."""
        key: MemoKey = (
            assignments.org_role,
            assignments.website_role if assignments.website_id else None,
            permission.object,
            permission.action,
        )
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        decision = bool(self._ask(self._enforcer.enforce, assignments, permission))
        self._memo[key] = decision
        return decision

    @staticmethod
    def _ask(method: Callable[..., Any], assignments: Assignments, permission: Permission) -> Any:
        # Casbin's g() is answered from the assignments of this call (RequestRoleManager).
        token = _current.set(assignments)
        try:
            return method(
                assignments.principal,
                assignments.org_domain,
                assignments.site_domain,
                permission.object,
                permission.action,
            )
        finally:
            _current.reset(token)

    def explain(self, assignments: Assignments, permission: Permission) -> Explanation | None:
        """Why the caller holds the permission (None when they do not), from Casbin's
        `enforce_ex`: not memoized, since it is asked for on request only."""
        allowed, matched = self._ask(self._enforcer.enforce_ex, assignments, permission)
        if not allowed or not matched:
            return None
        granting_role = str(matched[0])
        roles: RequestRoleManager = self._enforcer.get_role_manager()
        held: list[tuple[str, Literal["organization", "website"], str | None]] = [
            (ORG_KIND, "organization", assignments.org_role)
        ]
        if assignments.website_id is not None:
            held.append((WEBSITE_KIND, "website", assignments.website_role))
        for kind, level, role in held:
            if role is not None and roles.inherits(casbin_role(kind, role), granting_role):
                rule = ("p", *(str(value) for value in matched))
                return Explanation(permission.value, level, role, rule, self._sources.get(rule))
        return None

    def permissions(self, assignments: Assignments, candidates: Iterable[Permission]) -> list[str]:
        """The candidates the caller holds, as `object:action` strings."""
        return [p.value for p in candidates if self.allows(assignments, p)]

    def website_role(self, org_role: str | None, website_role: str | None) -> str | None:
        """The caller's effective role on a website: of the roles held (website role, organization
        role), the one granting more on the website; the website role on a tie."""
        key = (org_role, website_role)
        if key not in self._website_roles:
            self._website_roles[key] = self._stronger_role(org_role, website_role)
        return self._website_roles[key]

    def _stronger_role(self, org_role: str | None, website_role: str | None) -> str | None:
        def strength(org: str | None, site: str | None) -> int:
            return len(self.permissions(probe(org, site), WEBSITE_PERMISSIONS))

        if website_role is None or org_role is None:
            # One role held: it is the effective one, even if it grants nothing on websites.
            return website_role or org_role
        return (
            website_role if strength(None, website_role) >= strength(org_role, None) else org_role
        )

    def granting_roles(self, permission: Permission) -> tuple[list[str], list[str]]:
        """Which stored roles grant the permission: (organization roles, website roles).

        Used to turn a permission into a SQL filter for lists, so a list is one query and holds
        exactly the rows whose detail the enforcer would allow.
        """
        if permission not in self._granting:
            self._granting[permission] = self._granting_roles(permission)
        org_roles, site_roles = self._granting[permission]
        return list(org_roles), list(site_roles)

    def _granting_roles(self, permission: Permission) -> tuple[list[str], list[str]]:
        org_roles = [
            role for role in MEMBERSHIP_ROLES if self.allows(probe(role, None), permission)
        ]
        site_roles = [
            role for role in MEMBERSHIP_ROLES if self.allows(probe(None, role), permission)
        ]
        return org_roles, site_roles
