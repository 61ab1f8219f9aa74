"""Field types shared by request schemas: strict bodies, names, email addresses, passwords."""

import unicodedata
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

_FORBIDDEN_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}


class StrictModel(BaseModel):
    """A request body: unknown fields are refused (422)."""

    model_config = ConfigDict(extra="forbid")


def _without_null(schema: dict[str, Any]) -> None:
    # The fields are optional in Python (None means "not given"), but null is not a value a
    # client may send: publish each field as its non-null variant.
    for field in schema.get("properties", {}).values():
        variants = field.pop("anyOf", None)
        if variants is not None:
            field.update(*(v for v in variants if v.get("type") != "null"))
        field.pop("default", None)


class PatchModel(StrictModel):
    """A PATCH body: the fields given are changed, the others kept; `null` is refused (422),
    since none of these fields can be emptied."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_null)

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


# Control characters (C0, DEL, C1), line and paragraph separators and lone surrogates are refused
# anywhere in a name; around them, whitespace is allowed and kept, but not counted.
_NAME_FORBIDDEN = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\ud800-\\udfff"
NAME_PATTERN = (
    rf"^[^\S{_NAME_FORBIDDEN}]*"  # leading whitespace
    rf"[^\s{_NAME_FORBIDDEN}](?:[^{_NAME_FORBIDDEN}]{{0,98}}[^\s{_NAME_FORBIDDEN}])?"
    rf"[^\S{_NAME_FORBIDDEN}]*$"  # trailing whitespace
)
"""The name rule as a regular expression, published in the OpenAPI document."""


def _check_name(value: str) -> str:
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in value):
        raise ValueError("must not contain control characters")
    if not 1 <= len(value.strip()) <= 100:
        raise ValueError("must be 1 to 100 characters after trimming")
    return value


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


Name = Annotated[
    str,
    AfterValidator(_check_name),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "pattern": NAME_PATTERN,
            "description": "1 to 100 characters once surrounding whitespace is trimmed, no "
            "control characters; stored and returned exactly as sent.",
        }
    ),
]
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
