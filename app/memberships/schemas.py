"""Bodies of the member routes, the same at both levels."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from app.memberships.roles import Role
from app.types import EmailOut, StrictModel


class MemberUser(BaseModel):
    id: UUID
    email: EmailOut
    full_name: str | None


class MemberPublic(BaseModel):
    user: MemberUser
    role: Role
    joined_at: datetime


class RoleIn(StrictModel):
    role: Role


def member_public(row: Any) -> MemberPublic:
    """A member row (the user's id, email and full name, the role, when it was given) as the API
    shows it."""
    return MemberPublic(
        user=MemberUser(id=row.id, email=row.email, full_name=row.full_name),
        role=row.role,
        joined_at=row.created_at,
    )
