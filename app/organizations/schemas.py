"""Bodies of the organization routes."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from app.authz.permissions import MembershipRole
from app.types import Name, PatchModel, StrictModel


class OrganizationIn(StrictModel):
    name: Name


class OrganizationPatch(PatchModel):
    name: Name | None = None


class OrganizationPublic(BaseModel):
    id: UUID
    name: str
    created_at: datetime
    my_role: MembershipRole | None


class MemberUser(BaseModel):
    id: UUID
    email: str
    full_name: str | None


class MemberPublic(BaseModel):
    user: MemberUser
    role: MembershipRole
    joined_at: datetime


class RoleIn(StrictModel):
    role: MembershipRole


class PermissionsPublic(BaseModel):
    """The caller's role and effective permissions (`object:action`), as the enforcer computes them."""

    role: MembershipRole | None
    permissions: list[str]


class AuditEventPublic(BaseModel):
    id: UUID
    organization_id: UUID
    actor_id: UUID | None
    actor: str | None = Field(
        default=None,
        description="Who acted when it was not a user of the API: `admin-cli` for the admin "
        "commands; null when `actor_id` names the user who acted.",
    )
    action: str
    target_type: str
    target_id: UUID | None
    before: dict[str, object] | None
    after: dict[str, object] | None
    created_at: datetime
