"""Logging set-up and the request middleware: request ids, one log line per request, body limit."""

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import ErrorCode, problem_response

access_logger = logging.getLogger("app.access")

MAX_BODY_BYTES = 1024 * 1024
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")

# The running request's state (the ASGI scope's `state` dict), set once per request by the
# middleware. Holding the dict itself, not copies of its values, lets a log line see the user id
# that authentication writes into it later (from any task or thread the request runs in).
_request_state: ContextVar[dict[str, Any] | None] = ContextVar("request_state", default=None)


class RequestContextFilter(logging.Filter):
    """Gives every log record the request id and user id of the request it was logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        state = _request_state.get()
        if state is not None:
            if getattr(record, "request_id", None) is None:
                record.request_id = state.get("request_id")
            if getattr(record, "user_id", None) is None:
                record.user_id = state.get("user_id")
        return True


class TextFormatter(logging.Formatter):
    """Readable lines; a request's lines end with its request id (and user id once known)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        if request_id is None:
            return line
        user_id = getattr(record, "user_id", None)
        return f"{line} request_id={request_id} user_id={user_id or '-'}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the extra fields a request log line carries."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("method", "path", "status", "duration_ms", "request_id", "user_id"):
            if getattr(record, key, None) is not None:
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(json_lines: bool) -> None:
    """JSON lines for machines (production), readable lines for people (development)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # Our access line replaces uvicorn's.
    logging.getLogger("uvicorn.access").disabled = True
    # Casbin logs the whole model at INFO on every enforcer build (each policy reload).
    logging.getLogger("casbin").setLevel(logging.WARNING)
    # Alembic announces each of its built-in plugins at INFO when imported: noise at start-up.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class _BodyTooLarge(Exception):
    pass


class _BadLength(Exception):
    pass


async def _read_body(receive: Receive) -> Receive:
    """Read the whole request body (refusing more than 1 MiB); return a receive replaying it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            pending: list[Message] = [message]
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
            break

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class RequestContextMiddleware:
    """Assigns a request id, refuses bodies over 1 MiB before parsing, and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        offered = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _REQUEST_ID_PATTERN.match(offered) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        context = _request_state.set(state)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            declared = headers.get(b"content-length")
            if declared is not None and not declared.isdigit():
                raise _BadLength
            if declared is not None and int(declared) > MAX_BODY_BYTES:
                raise _BodyTooLarge
            if declared is None and b"transfer-encoding" not in headers:
                # No body (HTTP/1.1: neither a length nor chunks): nothing to buffer.
                await self.app(scope, receive, send_with_id)
            else:
                # The body is read here, before the app sees it, so an over-long chunked body
                # is refused with 413 before any parsing (at most 1 MiB is ever buffered).
                replay = await _read_body(receive)
                await self.app(scope, replay, send_with_id)
        except _BodyTooLarge:
            response = problem_response(
                413, ErrorCode.PAYLOAD_TOO_LARGE, "The request body is larger than 1 MiB."
            )
            await response(scope, receive, send_with_id)
        except _BadLength:
            response = problem_response(
                400, ErrorCode.BAD_REQUEST, "The Content-Length header is not a number."
            )
            await response(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            access_logger.info(
                "%s %s %s %.1fms",
                scope["method"],
                scope["path"],
                status,
                duration_ms,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": duration_ms,
                    "request_id": request_id,
                    "user_id": state.get("user_id"),
                },
            )
            _request_state.reset(context)
