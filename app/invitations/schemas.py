"""Bodies of the invitation routes."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from app.memberships.roles import Role
from app.types import EmailAddress, StrictModel, Token

InvitationStatus = Literal["pending", "accepted", "declined", "revoked", "expired"]


class InvitationIn(StrictModel):
    email: EmailAddress
    role: Role


class InvitationPublic(BaseModel):
    id: UUID
    email: str
    role: Role
    status: InvitationStatus
    expires_at: datetime
    organization_id: UUID
    website_id: UUID | None
    created_at: datetime


class AcceptIn(StrictModel):
    token: Token


class MembershipPublic(BaseModel):
    """The membership an accepted invitation created."""

    organization_id: UUID
    website_id: UUID | None
    user_id: UUID
    role: Role
    joined_at: datetime
