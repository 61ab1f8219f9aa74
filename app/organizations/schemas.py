"""Bodies of the organization routes."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from app.memberships.roles import Role
from app.types import Name, PatchModel, StrictModel


class OrganizationIn(StrictModel):
    name: Name


class OrganizationPatch(PatchModel):
    name: Name | None = None


class OrganizationPublic(BaseModel):
    id: UUID
    name: str
    created_at: datetime
    my_role: Role | None


class AuditEventPublic(BaseModel):
    id: UUID
    organization_id: UUID
    actor_id: UUID | None
    action: str
    target_type: str
    target_id: UUID | None
    before: dict[str, object] | None
    after: dict[str, object] | None
    created_at: datetime
