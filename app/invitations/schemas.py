"""Bodies of the invitation routes."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from app.db import utcnow
from app.invitations.models import Invitation, InvitationStatus
from app.memberships.roles import Role
from app.types import EmailAddress, EmailOut, StrictModel, Token


class InvitationIn(StrictModel):
    email: EmailAddress
    role: Role


class InvitationPublic(BaseModel):
    id: UUID
    email: EmailOut
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
    status = InvitationStatus(invitation.status)
    if status is InvitationStatus.PENDING and invitation.expires_at <= utcnow():
        status = InvitationStatus.EXPIRED
    return InvitationPublic(
        id=invitation.id,
        email=invitation.email,
        role=Role(invitation.role),
        status=status,
        expires_at=invitation.expires_at,
        organization_id=invitation.organization_id,
        website_id=invitation.website_id,
        created_at=invitation.created_at,
    )
