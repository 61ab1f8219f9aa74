"""Bodies of the invitation routes."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from app.db import utcnow
from app.invitations.models import Invitation
from app.memberships.roles import Role
from app.types import EmailAddress, StrictModel, Token

InvitationStatus = Literal["pending", "accepted", "declined", "revoked", "expired"]
PENDING = "pending"


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


def invitation_public(invitation: Invitation) -> InvitationPublic:
    """An invitation as the API shows it; a pending one past its expiry shows as expired."""
    status = invitation.status
    if status == PENDING and invitation.expires_at <= utcnow():
        status = "expired"
    return InvitationPublic(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        expires_at=invitation.expires_at,
        organization_id=invitation.organization_id,
        website_id=invitation.website_id,
        created_at=invitation.created_at,
    )
