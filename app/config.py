"""Settings, read once from the environment and an optional `.env` file."""

import re
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT_DIR / ".data"


# A browser's Origin header: scheme, host and an optional port, nothing else.
_ORIGIN = re.compile(r"https?://[^/?#@\s]+")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of the service; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str | None = None
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_prepared_statements: bool = True
    database_statement_timeout_seconds: float = Field(default=10, ge=0, le=3600)
    redis_url: str | None = None
    secret_key: str | None = None
    public_url: str | None = None
    frontend_url: str | None = None
    cors_origins: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: bool = False
    smtp_ssl: bool = False
    emails_from: str = "BlokID <no-reply@blokid.local>"
    mail_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    mail_max_attempts: int = Field(default=20, ge=1)
    mail_max_backoff_seconds: float = Field(default=300, gt=0)

    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=14, ge=1)
    verification_token_hours: int = Field(default=24, ge=1)
    reset_token_minutes: int = Field(default=60, ge=1)
    invitation_token_days: int = Field(default=7, ge=1)
    jwt_issuer: str = "blokid"
    jwt_audience: str = "blokid-api"

    rate_limit_enabled: bool = True
    rate_limit_login_per_account: int = Field(default=10, ge=1)
    rate_limit_login_per_ip: int = Field(default=50, ge=1)
    rate_limit_register_per_ip: int = Field(default=20, ge=1)
    rate_limit_mail_per_account: int = Field(default=5, ge=1)
    rate_limit_window_seconds: int = Field(default=900, ge=1)
    rate_limit_exempt_ips: str = "127.0.0.1,::1"

    password_hash_concurrency: int = Field(default=4, ge=1, le=64)
    password_screening: bool = False
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
            problems.append(f"{name}: {error['msg']}")
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
