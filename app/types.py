"""Field types shared by request schemas: strict bodies, names, email addresses, passwords."""

import unicodedata
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

_FORBIDDEN_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}


class StrictModel(BaseModel):
    """A request body: unknown fields are refused (422)."""

    model_config = ConfigDict(extra="forbid")


def _check_name(value: str) -> str:
    trimmed = value.strip()
    if not 1 <= len(trimmed) <= 100:
        raise ValueError("must be 1 to 100 characters after trimming")
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in trimmed):
        raise ValueError("must not contain control characters")
    return trimmed


def normalize_email(value: str) -> str:
    """Validate syntax (no DNS) and return the address lowercased; raises ValueError."""
    if len(value) > 254 or any(ch in value for ch in "\r\n\x00"):
        raise ValueError("is not a valid email address")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address: {exc}") from None
    normalized = result.normalized.lower()
    if len(normalized) > 254:
        raise ValueError("is not a valid email address")
    return normalized


def _check_password_text(value: str) -> str:
    if any(unicodedata.category(ch) == "Cs" for ch in value) or "\x00" in value:
        raise ValueError("must not contain NUL or unpaired surrogate characters")
    return value


Name = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_check_name)]
EmailAddress = Annotated[str, StringConstraints(max_length=320), AfterValidator(normalize_email)]
# The length bound is checked before anything else, so a megabyte password is never hashed.
PasswordText = Annotated[
    str, StringConstraints(max_length=128), AfterValidator(_check_password_text)
]
NewPassword = Annotated[
    str, StringConstraints(min_length=8, max_length=128), AfterValidator(_check_password_text)
]
# Any string is a well-formed token: one that was never issued (empty, too long, not ASCII) is
# simply unknown, and answers like any other bad token (400 or 401), not 422. It is only ever
# hashed, never stored or logged, and the body-size limit bounds it.
Token = Annotated[str, Field(description="The token exactly as it was received.")]
