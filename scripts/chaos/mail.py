"""A real SMTP server (aiosmtpd) on a fixed loopback port, which a scenario can take down and
bring back, keeping every message it accepted."""

import email
import email.policy
import re
import threading
from collections import Counter
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from scripts.chaos.ports import free_port

_TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_\-]+)")


class MailSink:
    """Accepts every message while up; refuses connections while down."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(  # noqa: N802 - aiosmtpd's name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        """aiosmtpd's hook: keep the parsed message."""
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        # The default policy builds EmailMessage objects; the stub says Message.
        assert isinstance(message, EmailMessage)  # noqa: S101
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    def start(self) -> None:
        """Listen (again) on the sink's port."""
        if self._controller is None:
            self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def message_ids(self) -> Counter[str]:
        """How many copies of each Message-ID arrived."""
        with self._lock:
            return Counter(str(m["Message-ID"]).strip() for m in self.messages)

    def token_for(self, address: str) -> str | None:
        """The token of the newest mail to `address` that carries one."""
        with self._lock:
            messages = [m for m in self.messages if address in str(m["To"])]
        for message in reversed(messages):
            part = message.get_body(preferencelist=("plain",))
            match = _TOKEN.search(str(part.get_content())) if part is not None else None
            if match:
                return match.group(1)
        return None
