"""Bodies of the organization routes."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

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


def organization_public(
    organization_id: UUID, name: str, created_at: datetime, role: str | None
) -> OrganizationPublic:
    """An organization, with the caller's role in it, as the API shows it."""
    return OrganizationPublic.model_validate(
        {"id": organization_id, "name": name, "created_at": created_at, "my_role": role}
    )


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
