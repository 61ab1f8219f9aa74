"""Mail templates: fixed subjects (never user text, so no header injection) and Jinja bodies."""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)

TEMPLATES: dict[str, str] = {
    "verify_email": "Confirm your email address",
    "account_exists": "You already have a BlokID account",
    "reset_password": "Reset your BlokID password",
    "invitation": "You have been invited to BlokID",
}


@dataclass(frozen=True, slots=True)
class RenderedMail:
    """A mail ready for SMTP."""

    subject: str
    text: str
    html: str


def render(template: str, context: dict[str, Any]) -> RenderedMail:
    """Render the text and HTML bodies of a template."""
    return RenderedMail(
        subject=TEMPLATES[template],
        text=_env.get_template(f"{template}.txt").render(**context),
        html=_env.get_template(f"{template}.html").render(**context),
    )


def lifetime_text(lifetime: timedelta) -> str:
    """How long a mailed link stays valid, in words: "7 days", "1 hour", "15 minutes"."""
    minutes = int(lifetime.total_seconds() // 60)
    for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1)):
        if minutes >= size and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}" + ("" if count == 1 else "s")
    return "less than a minute"
