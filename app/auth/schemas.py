"""Request and response bodies of the /auth routes."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.types import EXAMPLE_EMAIL, EmailAddress, Name, NewPassword, StrictModel, Token


class RegisterIn(StrictModel):
    email: EmailAddress
    password: NewPassword
    organization_name: Name | None = None


class Accepted(BaseModel):
    """The body of every 202: the same whatever happened behind it."""

    detail: str


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: int


class RefreshIn(StrictModel):
    refresh_token: Token


class TokenIn(StrictModel):
    token: Token


class MailRequestIn(StrictModel):
    """An address to mail a link to. Any string is taken: the answer is `202` whether or not it
    is an address with an account, and a string that is not an address simply has none."""

    email: str = Field(examples=[EXAMPLE_EMAIL])


class ResetPasswordIn(StrictModel):
    token: Token
    password: NewPassword


class LoginPublic(BaseModel):
    """One of the caller's live logins (a refresh-token family)."""

    id: UUID
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    current: bool


def login_public(row: Any, current: UUID) -> LoginPublic:
    """A login row (id, created_at, last_used_at, user_agent) as the API shows it to its user,
    whose own login is `current`."""
    return LoginPublic(
        id=row.id,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        user_agent=row.user_agent,
        current=row.id == current,
    )
