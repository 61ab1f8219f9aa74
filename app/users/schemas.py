"""Bodies of the /users/me routes."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from app.auth.repository import Account
from app.types import EmailOut, Name, NewPassword, PasswordText, StrictModel
from app.users.models import User


class UserPublic(BaseModel):
    """A user as the user sees themself."""

    id: UUID
    email: EmailOut
    full_name: str | None
    email_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User | Account) -> "UserPublic":
        return cls(
            id=user.id,
            email=user.email,
            full_name=user.full_name,
            email_verified=user.email_verified_at is not None,
            created_at=user.created_at,
        )


class UserUpdate(StrictModel):
    """`full_name` given changes it; `null` clears it; left out keeps it."""

    full_name: Name | None = None


class PasswordChange(StrictModel):
    current_password: PasswordText
    new_password: NewPassword


class AccountDeletion(StrictModel):
    password: PasswordText
