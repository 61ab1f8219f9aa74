"""Bodies of the invitation routes."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from app.authz.permissions import MembershipRole
from app.types import EmailAddress, EmailOut, StrictModel, Token

# Named, so the OpenAPI document holds one `InvitationStatus` schema.
InvitationStatus = TypeAliasType(
    "InvitationStatus",
    Annotated[
        Literal["pending", "accepted", "declined", "revoked", "expired"],
        Field(
            description="`expired` is a pending invitation past its expiry; it no longer blocks "
            "a new invitation for the same address."
        ),
    ],
)


class InvitationIn(StrictModel):
    email: EmailAddress
    role: MembershipRole


class InvitationPublic(BaseModel):
    id: UUID
    email: EmailOut
    role: MembershipRole
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
    role: MembershipRole
    joined_at: datetime
