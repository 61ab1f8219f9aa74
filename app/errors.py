"""The error tree and the handlers that render every failure as RFC 9457 problem+json."""

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.orm import exc as sa_orm_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

logger = logging.getLogger("app.errors")

PROBLEM_JSON = "application/problem+json"


# Its docstring is the schema's description in the OpenAPI document. tests/test_error_codes.py
# scans the source for codes written outside this enum, and the test client checks every
# problem+json answer the suite receives against it.
class ErrorCode(StrEnum):
    """Every stable `code` an error body can carry: clients branch on these, never on `detail`."""

    BAD_REQUEST = "bad_request"
    VALIDATION_ERROR = "validation_error"
    INVALID_OR_EXPIRED_TOKEN = "invalid_or_expired_token"  # noqa: S105 - a code, not a secret
    INVALID_PASSWORD = "invalid_password"  # noqa: S105 - a code, not a secret
    NOT_AUTHENTICATED = "not_authenticated"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_REFRESH_TOKEN = "invalid_refresh_token"  # noqa: S105 - a code, not a secret
    FORBIDDEN = "forbidden"
    EMAIL_NOT_VERIFIED = "email_not_verified"
    ACCOUNT_DISABLED = "account_disabled"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    ALREADY_MEMBER = "already_member"
    LAST_ADMIN = "last_admin"
    WEBSITE_EXISTS = "website_exists"
    INVITATION_PENDING = "invitation_pending"
    INVITATION_NOT_PENDING = "invitation_not_pending"
    INVITATION_EMAIL_MISMATCH = "invitation_email_mismatch"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    NOT_READY = "not_ready"


class AppError(Exception):
    """Base of every error the API answers on purpose."""

    status: int = 400
    code: str = ErrorCode.BAD_REQUEST
    detail: str = "The request cannot be processed."

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.detail
        self.code = code or self.code
        self.headers = dict(headers or {})
        super().__init__(self.detail)


class BadRequest(AppError):
    status, code = 400, ErrorCode.BAD_REQUEST


class InvalidToken(AppError):
    status, code, detail = (
        400,
        ErrorCode.INVALID_OR_EXPIRED_TOKEN,
        "The token is invalid, used or expired.",
    )


class Unauthorized(AppError):
    status, code, detail = 401, ErrorCode.NOT_AUTHENTICATED, "Missing or invalid credentials."

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, code, detail = 403, ErrorCode.FORBIDDEN, "You are not allowed to do this."


class NotFound(AppError):
    status, code, detail = 404, ErrorCode.NOT_FOUND, "The resource does not exist."


class Conflict(AppError):
    status, code, detail = 409, ErrorCode.CONFLICT, "The request conflicts with the current state."


class RateLimited(AppError):
    status, code, detail = 429, ErrorCode.RATE_LIMITED, "Too many requests; retry later."

    def __init__(self, retry_after: int) -> None:
        super().__init__(headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(AppError):
    status, code, detail = (
        503,
        ErrorCode.SERVICE_UNAVAILABLE,
        "The service is unavailable; retry later.",
    )

    def __init__(self, detail: str | None = None, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class ValidationFailed(AppError):
    """A 422 raised by our own checks, in the same shape as request validation errors."""

    status, code, detail = 422, ErrorCode.VALIDATION_ERROR, "The request is invalid."

    def __init__(self, loc: Sequence[str | int], msg: str, type_: str = "value_error") -> None:
        super().__init__(msg)
        self.errors = [{"loc": list(loc), "msg": msg, "type": type_}]


def violated_unique_constraint(exc: BaseException) -> str | None:
    """The name of the unique constraint or index a failed statement violated, whether asyncpg
    raised it or SQLAlchemy wrapped it; None for any other failure."""
    candidates: list[BaseException | None] = [exc]
    if isinstance(exc, sa_exc.DBAPIError):
        # SQLAlchemy's asyncpg adapter raises its own error from asyncpg's.
        candidates += [exc.orig, exc.orig.__cause__ if exc.orig is not None else None]
    for candidate in candidates:
        if isinstance(candidate, asyncpg.UniqueViolationError):
            name: str | None = candidate.constraint_name
            return name
    return None


@contextmanager
def unique_conflicts(**errors: Callable[[], AppError]) -> Iterator[None]:
    """Inside the block, the violation of a unique constraint or index named by a keyword raises
    that keyword's error instead; any other database failure (another constraint, a foreign key,
    a check) passes through unchanged, to be answered as what it is."""
    try:
        yield
    except (asyncpg.UniqueViolationError, sa_exc.IntegrityError) as exc:
        error = errors.get(violated_unique_constraint(exc) or "")
        if error is None:
            raise
        raise error() from None


class ValidationErrorItem(BaseModel):
    """One reason a request was refused with 422."""

    loc: list[str | int] = Field(
        description="Where the value is: `body`, `query`, `path` or `header`, then field names "
        "and list indexes.",
        examples=[["body", "email"]],
    )
    msg: str = Field(description="What is wrong, for people.", examples=["Field required"])
    type: str = Field(
        description="What is wrong, for programs (Pydantic's error type).", examples=["missing"]
    )


class Problem(BaseModel):
    """The error body (RFC 9457) every failing request answers."""

    type: str = Field(description="Always `about:blank`: `code` says what happened.")
    title: str = Field(description="The HTTP status phrase.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What happened, for people; may change between versions.")
    code: ErrorCode = Field(description="What happened, for programs; stable.")
    errors: list[ValidationErrorItem] | None = Field(
        default=None, description="422 only: each reason the request was refused."
    )
    request_id: str | None = Field(
        default=None,
        description="On a 500, and on a 503 of an API route: the request's `X-Request-ID`, "
        "which every log line of the request carries.",
    )


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
    request: Request | None = None,
) -> JSONResponse:
    """Render one problem+json response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    if request is not None and status >= 500:
        body["request_id"] = request.scope.get("state", {}).get("request_id")
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problem+json errors a route can answer.

    FastAPI files a response model under `application/json`; `problem_json_openapi` moves it to
    `application/problem+json`, the type these errors are actually sent with.
    """
    return {
        status: {"model": Problem, "description": HTTPStatus(status).phrase} for status in statuses
    }


def _clean_validation_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    # Pydantic's ctx/input may hold exceptions or the offending secret: keep loc, msg and type only.
    return [
        {
            "loc": list(err.get("loc", ())),
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in raw
    ]


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)  # noqa: S101 - registered for AppError only
    return problem_response(
        exc.status,
        exc.code,
        exc.detail,
        headers=exc.headers,
        errors=getattr(exc, "errors", None),
        request=request,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    return problem_response(
        422,
        ErrorCode.VALIDATION_ERROR,
        "The request is invalid.",
        errors=_clean_validation_errors(exc.errors()),
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    if exc.status_code == 400 and str(exc.detail).startswith("There was an error parsing the body"):
        # FastAPI's answer to a body that is not UTF-8: the same as malformed JSON.
        return problem_response(
            422,
            ErrorCode.VALIDATION_ERROR,
            "The request body is not valid UTF-8 JSON.",
            errors=[
                {
                    "loc": ["body"],
                    "msg": "The body is not valid UTF-8 JSON.",
                    "type": "json_invalid",
                }
            ],
        )
    code = _HTTP_CODES.get(
        exc.status_code,
        ErrorCode.BAD_REQUEST if exc.status_code < 500 else ErrorCode.INTERNAL_ERROR,
    )
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = exc.headers
    if exc.status_code == 404:
        detail = "The resource does not exist."
    elif exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return problem_response(exc.status_code, code, detail, headers=headers)


# The codes of the HTTP errors Starlette and FastAPI raise themselves (unknown path, wrong
# method, missing bearer token, body over the limit), and of the statuses they could raise.
_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}

_HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    # Starlette answers 405 from the first route whose path matches, so its Allow header names
    # that route's methods only; a path served by several routes (GET and DELETE on one id) would
    # advertise one of them. Ask every route whether it would take the request with each method.
    allowed = []
    for method in _HTTP_METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, sa_orm_exc.StaleDataError):
        # A flush found its row gone: another request deleted it after this one read it. The
        # transaction is rolled back; to this client the resource no longer exists. Logged, so
        # a flush that fails for another reason does not pass unseen as a 404.
        logger.warning("row gone at flush, answered 404: %s", exc)
        return problem_response(
            404, ErrorCode.NOT_FOUND, "The resource does not exist.", request=request
        )
    # PostgreSQL refuses NUL characters, over-long or malformed values that validation let
    # through (SQLSTATE class 22, data exception): they are the client's input, not our failure.
    if isinstance(exc, sa_exc.DataError) or _sqlstate(exc).startswith("22"):
        return _unstorable_value()
    if (
        isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)
        or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)
        or _sqlstate(exc)[:2] in _UNAVAILABLE_CLASSES
    ):
        return await _database_unavailable(request, exc)
    return await _unexpected_error(request, exc)


# Connection exception, insufficient resources (too many connections), operator intervention
# (shutdown, starting up): the database is unavailable, not the request wrong.
_UNAVAILABLE_CLASSES = ("08", "53", "57")


def _unstorable_value() -> JSONResponse:
    return problem_response(
        422,
        ErrorCode.VALIDATION_ERROR,
        "The request holds a value the database cannot store.",
        errors=[],
    )


def _sqlstate(exc: BaseException) -> str:
    # SQLAlchemy's asyncpg adapter keeps the server's SQLSTATE on the wrapped error.
    orig = getattr(exc, "orig", exc)
    return str(getattr(orig, "sqlstate", None) or "")


async def _driver_error(request: Request, exc: Exception) -> JSONResponse:
    # Errors of the statements the request path runs on asyncpg directly.
    if isinstance(exc, AsyncAdapt_asyncpg_dbapi.Error) and isinstance(exc.__cause__, Exception):
        # A connection the pool could not open (the server is starting up or shutting down,
        # 57P03) reaches the request as asyncpg's error in SQLAlchemy's adapter class.
        exc = exc.__cause__
    state = _sqlstate(exc)
    if state.startswith("22"):
        return _unstorable_value()
    if isinstance(
        exc, asyncpg.InterfaceError | asyncpg.InternalClientError | asyncpg.PostgresConnectionError
    ) or (state[:2] in _UNAVAILABLE_CLASSES):
        return await _database_unavailable(request, exc)
    return await _unexpected_error(request, exc)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # This handler may run outside the request middleware (Starlette calls it from its
    # outermost layer), so the request's ids are passed, not left to the log filter.
    state = request.scope.get("state") or {}
    logger.exception(
        "unhandled error",
        exc_info=exc,
        extra={"request_id": state.get("request_id"), "user_id": state.get("user_id")},
    )
    return problem_response(
        500, ErrorCode.INTERNAL_ERROR, "An unexpected error occurred.", request=request
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into problem+json."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database_error)
    app.add_exception_handler(OSError, _database_error_or_unexpected)
    # The request path talks to asyncpg directly (app/db.py): its failures are mapped the same way.
    app.add_exception_handler(asyncpg.PostgresError, _driver_error)
    app.add_exception_handler(asyncpg.InterfaceError, _driver_error)
    app.add_exception_handler(asyncpg.InternalClientError, _driver_error)
    app.add_exception_handler(AsyncAdapt_asyncpg_dbapi.Error, _driver_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _database_error_or_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A refused or reset connection while the pool opens one surfaces as a plain OSError: a
    # socket failed, most often the database's.
    if isinstance(exc, ConnectionError):
        return problem_response(
            503,
            ErrorCode.SERVICE_UNAVAILABLE,
            "A dependency is unavailable; retry later.",
            headers={"Retry-After": "5"},
            request=request,
        )
    return await _unexpected_error(request, exc)


_STRING = {"schema": {"type": "string"}}
# Headers the service always sends with these statuses.
_RESPONSE_HEADERS: dict[str, dict[str, dict[str, Any]]] = {
    "201": {"Location": {**_STRING, "required": True, "description": "The new resource's path."}},
    "401": {
        "WWW-Authenticate": {**_STRING, "required": True, "description": "`Bearer`."},
    },
    "429": {
        "Retry-After": {**_STRING, "required": True, "description": "Seconds to wait."},
    },
    "503": {
        "Retry-After": {**_STRING, "required": True, "description": "Seconds to wait."},
    },
}


# What every route with an authorization guard can answer besides success.
GUARDED = error_responses(401, 403, 404, 422)


def problem_json_openapi(schema: dict[str, Any], *, database_prefix: str) -> dict[str, Any]:
    """Complete FastAPI's OpenAPI document with what the service does for every route: 4xx/5xx
    bodies are problem+json, some statuses always carry a header (`Location` on 201,
    `WWW-Authenticate` on 401, `Retry-After` on 429 and 503), a route that takes a body
    answers 413 to one over the size limit, and every route under `database_prefix` (each runs
    in a database transaction) can answer 500 and, while the database is unreachable, 503."""
    for path, operation_map in schema.get("paths", {}).items():
        for operation in operation_map.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation and "413" not in responses:
                responses["413"] = _problem("Content Too Large")
            if path.startswith(database_prefix):
                responses.setdefault("500", _problem("Internal Server Error"))
                responses.setdefault("503", _problem("Service Unavailable"))
            for code, response in responses.items():
                content = response.get("content")
                if code[:1] in ("4", "5") and content and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
                if code in _RESPONSE_HEADERS:
                    response.setdefault("headers", {}).update(_RESPONSE_HEADERS[code])
    return schema


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


# The server cancelled a statement: it ran or waited for a lock past the statement timeout.
_QUERY_CANCELED = "57014"


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    if _sqlstate(exc) == _QUERY_CANCELED:
        logger.warning("database statement timed out: %s", type(exc).__name__)
        detail = "The database did not answer in time; retry later."
    else:
        logger.warning("database unavailable: %s", type(exc).__name__)
        detail = "The database is unavailable; retry later."
    return problem_response(
        503,
        ErrorCode.SERVICE_UNAVAILABLE,
        detail,
        headers={"Retry-After": "5"},
        request=request,
    )
