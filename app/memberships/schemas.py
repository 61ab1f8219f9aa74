"""Bodies of the member routes, the same at both levels."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from app.memberships.roles import Role
from app.types import StrictModel


class MemberUser(BaseModel):
    id: UUID
    email: str
    full_name: str | None


class MemberPublic(BaseModel):
    user: MemberUser
    role: Role
    joined_at: datetime


class RoleIn(StrictModel):
    role: Role
