"""Settings, read once from the environment and an optional `.env` file."""

import re
import secrets
from email.utils import parseaddr
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from pydantic import AfterValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ROOT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT_DIR / ".data"


# A browser's Origin header: scheme, host and an optional port, nothing else.
_ORIGIN = re.compile(r"https?://[^/?#@\s]+")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL (https://host[:port][/path])")
    return value


def _database_url(value: str) -> str:
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("is not a database URL (postgresql://user:pass@host:5432/db)") from None
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(
            f"{url.get_backend_name()!r} is not PostgreSQL: use postgresql://user:pass@host/db"
        )
    return value


def _redis_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError("is not a Redis URL (redis://host:6379/0, rediss://… or unix://…)")
    return value


# local@host.domain: what a mail server takes in MAIL FROM. The default's domain (blokid.local)
# is a special-use name that an address checker for user input refuses, so the check is ours.
_SENDER_ADDRESS = re.compile(
    r"[^@\s<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def _sender(value: str) -> str:
    _, address = parseaddr(value)
    if any(ch in value for ch in "\r\n") or not _SENDER_ADDRESS.fullmatch(address):
        raise ValueError(
            f'{value!r} is not a sender address: use "Name <sender@example.com>" or '
            "sender@example.com"
        )
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
RedisUrl = Annotated[str, AfterValidator(_redis_url)]
Sender = Annotated[str, AfterValidator(_sender)]


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of the service; the README's configuration table mirrors this class."""

    # An empty variable (`REDIS_URL=`) means unset, as it does to most tools that read them.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    environment: Environment = Environment.DEVELOPMENT
    database_url: DatabaseUrl | None = None
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_prepared_statements: bool = True
    database_statement_timeout_seconds: float = Field(default=10, ge=0, le=3600)
    redis_url: RedisUrl | None = None
    secret_key: str | None = None
    public_url: HttpUrl | None = None
    frontend_url: HttpUrl | None = None
    cors_origins: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    reload: bool = False

    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: bool = False
    smtp_ssl: bool = False
    mail_to_files: bool = False
    emails_from: Sender = "BlokID <no-reply@blokid.local>"
    mail_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    mail_max_attempts: int = Field(default=20, ge=1)
    mail_max_backoff_seconds: float = Field(default=300, gt=0)

    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=14, ge=1)
    login_max_days: int = Field(default=30, ge=1)
    purge_retention_days: int = Field(default=7, ge=1)
    purge_interval_seconds: float = Field(default=3600, gt=0)
    verification_token_hours: int = Field(default=24, ge=1)
    reset_token_minutes: int = Field(default=60, ge=1)
    invitation_token_days: int = Field(default=7, ge=1)
    jwt_issuer: str = "blokid"
    jwt_audience: str = "blokid-api"

    rate_limit_enabled: bool = True
    rate_limit_login_per_account: int = Field(default=10, ge=1)
    rate_limit_login_per_ip: int = Field(default=50, ge=1)
    rate_limit_login_account_ceiling: int = Field(default=100, ge=1)
    rate_limit_register_per_ip: int = Field(default=20, ge=1)
    rate_limit_mail_per_account: int = Field(default=5, ge=1)
    rate_limit_invitations_per_inviter: int = Field(default=50, ge=1)
    rate_limit_invitations_per_organization: int = Field(default=200, ge=1)
    rate_limit_invitations_per_address: int = Field(default=5, ge=1)
    rate_limit_window_seconds: int = Field(default=900, ge=1)
    rate_limit_exempt_ips: str = "127.0.0.1,::1"

    password_hash_concurrency: int = Field(default=4, ge=1, le=64)
    password_screening: bool = True
    policy_check_seconds: float = Field(default=1.0, gt=0, le=60)
    log_json: bool | None = None

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> "Settings":
        if self.environment is Environment.PRODUCTION:
            if not self.secret_key or len(self.secret_key.encode()) < 32:
                raise ValueError("SECRET_KEY must be set to at least 32 bytes in production")
            if not (self.public_url or self.frontend_url):
                # Mailed links would otherwise point at this machine's own address.
                raise ValueError("PUBLIC_URL or FRONTEND_URL must be set in production")
        if self.reload and (self.environment is Environment.PRODUCTION or self.workers > 1):
            # uvicorn reloads one process: it cannot watch several workers.
            raise ValueError("RELOAD=true is for development with one worker (WORKERS=1)")
        if self.smtp_tls and self.smtp_ssl:
            raise ValueError("SMTP_TLS and SMTP_SSL are exclusive: choose one")
        origins = self.cors_origin_list
        if "*" in origins and self.environment is Environment.PRODUCTION:
            # Any site could then read what a user's browser fetches with a token it holds.
            raise ValueError("CORS_ORIGINS must list exact origins in production, not *")
        for origin in origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port], no path)"
                )
        if (
            self.environment is Environment.PRODUCTION
            and not self.smtp_host
            and not self.mail_to_files
        ):
            # Without SMTP every mail (verification, reset, invitation) would only be written to
            # the container's disk: users would wait for mails that never come.
            raise ValueError(
                "SMTP_HOST must be set in production "
                "(or MAIL_TO_FILES=true to write mails to .data/mail/ on purpose)"
            )
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        """Origins whose pages may call the API from a browser: CORS_ORIGINS (comma-separated),
        else the origin of FRONTEND_URL, else none."""
        if self.cors_origins is not None:
            return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
        if self.frontend_url:
            parts = urlsplit(self.frontend_url)
            if parts.scheme and parts.netloc:
                return [f"{parts.scheme}://{parts.netloc}"]
        return []

    @property
    def rate_limit_exempt_ip_set(self) -> frozenset[str]:
        """Client addresses the per-IP limits skip (RATE_LIMIT_EXEMPT_IPS, comma-separated)."""
        return frozenset(ip.strip() for ip in self.rate_limit_exempt_ips.split(",") if ip.strip())

    @property
    def json_logs(self) -> bool:
        """JSON lines in production unless LOG_JSON says otherwise."""
        if self.log_json is not None:
            return self.log_json
        return self.environment is Environment.PRODUCTION

    @property
    def links_base_url(self) -> str:
        """Where links in mails point: the front end when there is one, else our own pages."""
        return (self.frontend_url or self.public_url or self.listening_url).rstrip("/")

    @property
    def listening_url(self) -> str:
        """This process's own address from HOST and PORT (a wildcard host reads as loopback)."""
        wildcards = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104
        host = wildcards.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def signing_key(self) -> str:
        """The JWT/HMAC key; in development a random one is generated once and kept in `.data/`."""
        if self.secret_key:
            return self.secret_key
        key_file = DATA_DIR / "secret_key"
        if not key_file.exists():
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


def load_settings() -> Settings:
    """Read settings, turning a validation failure into one message naming the variables."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "configuration"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message}")
        raise SystemExit("Invalid configuration: " + "; ".join(problems)) from None


def required_database_url() -> str:
    """DATABASE_URL from the environment or `.env`, for the commands that need an existing
    database (migrations, policy seeding, the mail sender); exits with a message when unset."""
    url = load_settings().database_url
    if not url:
        raise SystemExit("DATABASE_URL is not set (in the environment or .env)")
    return url


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings."""
    return load_settings()


async def settings_of(request: Request) -> Settings:
    """The app's settings, as a dependency."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(settings_of)]
