"""Field types shared by request schemas: strict bodies, names, email addresses, passwords."""

import unicodedata
from functools import lru_cache
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    field_validator,
)

_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"}


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
# Format characters (Unicode Cf) are invisible: zero-width spaces and joiners, the byte-order
# mark, tag characters, and the bidirectional embeddings, overrides and isolates that reorder the
# text around them (a name could show "gpj.exe" for "exe.jpg"). Two names that look identical,
# or a name that looks like another's, are a phishing tool in mails and member lists, so they are
# refused with the control characters. One exception: the zero-width joiner between two emoji,
# which composes them into one (👩‍💻, 🏳️‍🌈).
_ZWJ = "\u200d"
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
"""Letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern)."""
_SKIN_TONES = frozenset(chr(c) for c in range(0x1F3FB, 0x1F400))
_EMOJI_PRESENTATION = "\ufe0f"


def _forbidden_in_name(ch: str) -> bool:
    return unicodedata.category(ch) in _FORBIDDEN_CATEGORIES


def _joins_emoji_after(ch: str) -> bool:
    """Whether a zero-width joiner may follow `ch` in an emoji sequence: an emoji (a symbol),
    its skin tone or its emoji presentation selector."""
    return unicodedata.category(ch) == "So" or ch in _SKIN_TONES or ch == _EMOJI_PRESENTATION


def _joins_emoji_before(ch: str) -> bool:
    """Whether a zero-width joiner may precede `ch` in an emoji sequence: an emoji."""
    return unicodedata.category(ch) == "So"


def _invisible(ch: str) -> bool:
    """Characters that draw nothing on their own: spaces, controls and format characters,
    combining marks and a few blank letters. (An unassigned code point draws a box.)"""
    return ch.isspace() or unicodedata.category(ch) in _INVISIBLE_CATEGORIES or ch in _FILLERS


def _class_item(code: int) -> str:
    # Astral characters are written as themselves: Python and ECMAScript (Unicode mode) read one
    # as one code point, while their escapes differ (\U0001F600 against \u{1F600}). Those
    # of the Basic Multilingual Plane are escaped, so no character means something to the class.
    return chr(code) if code > 0xFFFF else f"\\u{code:04x}"


def _char_class(chars: list[str]) -> str:
    """The inside of a regex character class matching exactly `chars`, as ranges."""
    codes = sorted(ord(ch) for ch in chars)
    runs: list[list[int]] = []
    for code in codes:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(
        _class_item(low) if low == high else f"{_class_item(low)}-{_class_item(high)}"
        for low, high in runs
    )


# Spelled out rather than \s, whose meaning differs between Python and the ECMAScript regular
# expressions of JSON Schema. Surrogates are left out of the published classes; the validator
# refuses lone ones. Only the planes that hold assigned characters other than private use are
# scanned (0 to 3, and 14: tags and variation selectors), which keeps start-up fast: planes 4 to
# 13 are unassigned and 15 and 16 private use, none of which is forbidden, a space, invisible or
# an emoji (a test keeps this true for the Unicode version of the running Python).
SCANNED_PLANES = (*range(0, 0xD800), *range(0xE000, 0x40000), *range(0xE0000, 0xF0000))


@lru_cache(maxsize=1)
def name_pattern() -> str:
    """The name rule as a regular expression (ECMAScript in Unicode mode, and Python's `re`),
    published in the OpenAPI document. Built on first use, not at import: it scans a third of a
    million characters (a property test compares it with the validator)."""
    classes: dict[str, list[str]] = {key: [] for key in ("forbid", "space", "blank", "pre", "post")}
    category = unicodedata.category
    for code in SCANNED_PLANES:
        # The predicates above, inlined for speed.
        ch = chr(code)
        kind = category(ch)
        space = ch.isspace()
        if kind in _FORBIDDEN_CATEGORIES:
            if ch != _ZWJ:  # the joiner's own rule is stated apart, below
                classes["forbid"].append(ch)
        elif space:
            classes["space"].append(ch)
        if space or kind in _INVISIBLE_CATEGORIES or ch in _FILLERS:
            classes["blank"].append(ch)
        if kind == "So":
            classes["pre"].append(ch)
            classes["post"].append(ch)
        elif ch in _SKIN_TONES or ch == _EMOJI_PRESENTATION:
            classes["pre"].append(ch)
    forbidden, spaces, blank = (_char_class(classes[k]) for k in ("forbid", "space", "blank"))
    pre, post = _char_class(classes["pre"]), _char_class(classes["post"])
    # The joiner rule and the visible character are lookaheads over the whole name rather than
    # alternatives inside it: a generator that draws text from the pattern (the OpenAPI fuzzers)
    # then only rarely meets them, instead of drawing a joiner at every other position and
    # throwing the text away. [\s\S] is any character in both regex dialects.
    return (
        f"^(?![\\s\\S]*(?<![{pre}])\\u200d)"
        f"(?![\\s\\S]*\\u200d(?![{post}]))"
        f"(?=[{blank}]*[^{blank}])"
        f"[{spaces}]*"
        f"[^{spaces}{forbidden}]"
        f"(?:[^{forbidden}]{{0,{NAME_MAX_LENGTH - 2}}}[^{spaces}{forbidden}])?"
        f"[{spaces}]*$"
    )


def _check_name(value: str) -> str:
    # Surrounding whitespace is kept but bounded: it is stored, listed and mailed with the name.
    if len(value) > NAME_MAX_RAW_LENGTH:
        raise ValueError(
            f"must be at most {NAME_MAX_RAW_LENGTH} characters, surrounding whitespace included"
        )
    for index, ch in enumerate(value):
        if ch == _ZWJ and 0 < index < len(value) - 1:
            if _joins_emoji_after(value[index - 1]) and _joins_emoji_before(value[index + 1]):
                continue
        if _forbidden_in_name(ch):
            raise ValueError(
                "must not contain control or invisible format characters "
                "(a zero-width joiner only between emoji)"
            )
    if not 1 <= len(value.strip()) <= NAME_MAX_LENGTH:
        raise ValueError(f"must be 1 to {NAME_MAX_LENGTH} characters after trimming")
    if all(_invisible(ch) for ch in value):
        raise ValueError("must contain at least one visible character")
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


class _NameJsonSchema:
    """The published name rule, built when the OpenAPI document is (see `name_pattern`)."""

    def __get_pydantic_json_schema__(
        self, core_schema: Any, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": NAME_MAX_RAW_LENGTH,
            "pattern": name_pattern(),
            "description": "1 to 100 characters once surrounding whitespace is trimmed, at most "
            "1000 with it, at least one of them visible; no control characters and no invisible "
            "format characters (zero-width, bidirectional and tag characters; a zero-width "
            "joiner only between emoji); stored and returned exactly as sent.",
            "examples": ["Acme"],
        }


Name = Annotated[str, AfterValidator(_check_name), _NameJsonSchema()]
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
