"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

import email
import email.policy
import re
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.live import free_port


class Inbox:
    """aiosmtpd handler: every accepted message, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


def start_smtp(port: int | None = None) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    return controller, inbox


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage) -> str:
    match = re.search(r"https?://\S+token=[A-Za-z0-9_\-]+", text_of(message))
    assert match, text_of(message)
    return match.group(0)
