"""What the permission routes answer: the caller's permissions, explained on request."""

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from app.authz.engine import Assignments, PolicyEngine
from app.authz.permissions import Permission
from app.memberships.roles import Role

Explain = Annotated[
    bool,
    Query(
        description="Also name, for each permission, the role assignment that holds it and "
        "the policy row that grants it."
    ),
]


class PermissionsPublic(BaseModel):
    """The caller's role and effective permissions (`object:action`), as the enforcer computes them."""

    role: Role | None
    permissions: list[str]


class RoleAssignmentPublic(BaseModel):
    """One of the caller's role assignments."""

    level: Literal["organization", "website"]
    role: Role


class PolicyRulePublic(BaseModel):
    """A row of the policy: `rule` as written (`p, org_admin, website, delete`) and where."""

    rule: str
    source: str | None = Field(
        description="File and line of the row (`policies/policy.csv:39`); null when the "
        "deployed policy file does not hold it."
    )


class PermissionExplanation(BaseModel):
    """Why one permission is granted."""

    permission: str
    role_assignment: RoleAssignmentPublic
    policy: PolicyRulePublic


class PermissionsExplained(PermissionsPublic):
    """The permissions with, for each, the role assignment that holds it and the policy row that
    grants it (`?explain=true`), from Casbin's own explanation of its decision."""

    explanations: list[PermissionExplanation]


def _role(role: str | None) -> Role | None:
    return Role(role) if role is not None else None


def permissions_answer(
    policy: PolicyEngine,
    assignments: Assignments,
    role: str | None,
    candidates: Sequence[Permission],
    *,
    explain: bool,
) -> PermissionsPublic:
    """The answer of a permissions route, explained when asked."""
    granted = policy.permissions(assignments, candidates)
    if not explain:
        return PermissionsPublic(role=_role(role), permissions=granted)
    explanations = []
    for permission in candidates:
        why = policy.explain(assignments, permission)
        if why is not None:
            explanations.append(
                PermissionExplanation(
                    permission=why.permission,
                    role_assignment=RoleAssignmentPublic(level=why.level, role=Role(why.role)),
                    policy=PolicyRulePublic(rule=", ".join(why.rule), source=why.source),
                )
            )
    return PermissionsExplained(role=_role(role), permissions=granted, explanations=explanations)
