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


NAME_MAX_LENGTH = 100
NAME_MAX_RAW_LENGTH = 1000
# Bidirectional embeddings, overrides and isolates reorder the text around them (a name could
# show "gpj.exe" for "exe.jpg"): refused with the control characters.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _forbidden_in_name(ch: str) -> bool:
    return unicodedata.category(ch) in _FORBIDDEN_CATEGORIES or ch in _BIDI_CONTROLS


def _char_class(chars: list[str]) -> str:
    """The inside of a regex character class matching exactly `chars`, as ranges of \\u escapes."""
    codes = sorted(ord(ch) for ch in chars)
    runs: list[list[int]] = []
    for code in codes:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(
        f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}" for low, high in runs
    )


# Spelled out rather than \s, whose meaning differs between Python and the ECMAScript regular
# expressions of JSON Schema. Surrogates are left out of the published classes (ECMAScript
# without the u flag would split every emoji); the validator refuses lone ones.
_FORBIDDEN_CLASS = _char_class(
    [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF and _forbidden_in_name(chr(c))]
)
_SPACE_CLASS = _char_class(
    [chr(c) for c in range(0x10000) if chr(c).isspace() and not _forbidden_in_name(chr(c))]
)
NAME_PATTERN = (
    f"^[{_SPACE_CLASS}]*"
    f"[^{_SPACE_CLASS}{_FORBIDDEN_CLASS}]"
    f"(?:[^{_FORBIDDEN_CLASS}]{{0,{NAME_MAX_LENGTH - 2}}}[^{_SPACE_CLASS}{_FORBIDDEN_CLASS}])?"
    f"[{_SPACE_CLASS}]*$"
)
"""The name rule as a regular expression, published in the OpenAPI document."""


def _check_name(value: str) -> str:
    # Surrounding whitespace is kept but bounded: it is stored, listed and mailed with the name.
    if len(value) > NAME_MAX_RAW_LENGTH:
        raise ValueError(
            f"must be at most {NAME_MAX_RAW_LENGTH} characters, surrounding whitespace included"
        )
    if any(_forbidden_in_name(ch) for ch in value):
        raise ValueError("must not contain control characters")
    if not 1 <= len(value.strip()) <= NAME_MAX_LENGTH:
        raise ValueError(f"must be 1 to {NAME_MAX_LENGTH} characters after trimming")
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
            "maxLength": NAME_MAX_RAW_LENGTH,
            "pattern": NAME_PATTERN,
            "description": "1 to 100 characters once surrounding whitespace is trimmed, at most "
            "1000 with it; no control characters (bidirectional controls included); stored and "
            "returned exactly as sent.",
            "examples": ["Acme"],
        }
    ),
]
# Examples are what Swagger UI's "Try it out" fills in: each must be a value the API accepts.
EXAMPLE_EMAIL = "ann@example.com"
EXAMPLE_PASSWORD = "correct horse battery"  # noqa: S105 - the documentation's example
EmailAddress = Annotated[
    str,
    StringConstraints(max_length=320),
    AfterValidator(normalize_email),
    Field(examples=[EXAMPLE_EMAIL], json_schema_extra={"format": "email"}),
]
EmailOut = Annotated[str, Field(json_schema_extra={"format": "email"})]
"""An address as the service stored it (validated and lowercased when it was received)."""
# The length bound is checked before anything else, so a megabyte password is never hashed.
PasswordText = Annotated[
    str,
    StringConstraints(max_length=128),
    AfterValidator(_check_password_text),
    Field(examples=[EXAMPLE_PASSWORD]),
]
NewPassword = Annotated[
    str,
    StringConstraints(min_length=8, max_length=128),
    AfterValidator(_check_password_text),
    Field(examples=[EXAMPLE_PASSWORD]),
]
# Any string is a well-formed token: one that was never issued (empty, too long, not ASCII) is
# simply unknown, and answers like any other bad token (400 or 401), not 422. It is only ever
# hashed, never stored or logged, and the body-size limit bounds it.
Token = Annotated[str, Field(description="The token exactly as it was received.")]
