"""The application: `create_app()` builds it; `app` is what uvicorn serves."""

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.auth.pages import router as pages_router
from app.auth.passwords import configure_hash_concurrency
from app.auth.purge import run_purges
from app.auth.ratelimit import RateLimiter, rate_limit_redis
from app.auth.router import router as auth_router
from app.authz.policy import PolicyFileError
from app.authz.sync import PolicyStore
from app.config import Settings, get_settings
from app.db import RequestDatabase, create_engine, session_factory
from app.docs import install_docs
from app.errors import install_error_handlers, problem_json_openapi
from app.health.router import router as health_router
from app.invitations.router import router as invitations_router
from app.logging import RequestContextMiddleware, configure_logging
from app.mail.sender import MailSender
from app.memberships.router import router as memberships_router
from app.organizations.router import router as organizations_router
from app.types import EXAMPLE_EMAIL, EXAMPLE_PASSWORD
from app.users.router import router as users_router
from app.websites.router import router as websites_router

logger = logging.getLogger("app")

API_PREFIX = "/api/v1"

TAGS = [
    {
        "name": "auth",
        "description": "Registration, email verification, login (OAuth2 password flow: use "
        "**Authorize** with your email as the username), token refresh, logout and password "
        "reset. Mailed links carry the tokens these routes take.",
    },
    {
        "name": "users",
        "description": "The caller's own account: profile, password, live logins, deletion.",
    },
    {
        "name": "organizations",
        "description": "Organizations, their members and roles, the caller's permissions and "
        "the audit events. Every account gets an organization when it registers.",
    },
    {
        "name": "websites",
        "description": "Websites of an organization, their own members, and the caller's "
        "permissions on them. Organization roles reach every website of the organization.",
    },
    {
        "name": "invitations",
        "description": "Invitations to an organization or a website: sent by an admin, "
        "accepted or declined by the invited address (with the mailed token or by id).",
    },
    {
        "name": "operations",
        "description": "Liveness and readiness probes for load balancers and orchestrators.",
    },
]


def create_app(settings: Settings | None = None, *, run_background_tasks: bool = True) -> FastAPI:
    """Build the app. Long-lived objects (engine, policy, limiter, mail sender) live in the lifespan."""
    settings = settings or get_settings()
    configure_logging(settings.json_logs)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.database_url:
            raise RuntimeError("DATABASE_URL is not set (make run starts an embedded PostgreSQL)")
        engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            prepared_statements=settings.database_prepared_statements,
            statement_timeout=settings.database_statement_timeout_seconds,
        )
        redis = rate_limit_redis(settings.redis_url) if settings.redis_url else None
        store = PolicyStore(engine, settings.database_url, settings.policy_check_seconds)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.databases = partial(RequestDatabase, engine, app.state.sessions)
        app.state.policy = store
        app.state.limiter = RateLimiter(
            enabled=settings.rate_limit_enabled,
            window_seconds=settings.rate_limit_window_seconds,
            redis=redis,
        )
        configure_hash_concurrency(settings.password_hash_concurrency)
        tasks: list[asyncio.Task[None]] = []
        try:
            try:
                await store.reload()
            except PolicyFileError as exc:
                # A policy that would decide wrongly is worse than no service: refuse to start.
                logger.error("invalid authorization policy in the database:\n%s", exc)
                raise RuntimeError(
                    f"invalid authorization policy in the database:\n{exc}"
                ) from None
            except (
                Exception
            ) as exc:  # noqa: BLE001 - the watcher keeps trying; /health/ready says 503
                logger.warning("policy not loaded at start-up: %s", exc)
            # Everything built so far lives as long as the process: move it out of the garbage
            # collector's sight, so a full collection under load scans only what requests made
            # (without this, full collections of the start-up heap stall the event loop for tens
            # of milliseconds).
            gc.collect()
            gc.freeze()
            if run_background_tasks:
                tasks.append(asyncio.create_task(store.watch(), name="policy-watcher"))
                tasks.append(
                    asyncio.create_task(
                        MailSender(app.state.sessions, settings).run(), name="mail-sender"
                    )
                )
                tasks.append(
                    asyncio.create_task(run_purges(app.state.sessions, settings), name="purge")
                )
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if redis is not None:
                await redis.aclose()
            await engine.dispose()

    app = FastAPI(
        title="BlokID API",
        version="1.0.0",
        description="Accounts, organizations and websites; every permission decided by a Casbin enforcer.",
        lifespan=lifespan,
        openapi_tags=TAGS,
        # Served by install_docs from packaged assets: FastAPI's own pages load them from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    if settings.cors_origin_list:
        # Outermost, so every answer a page can get (a 413 included) carries the CORS headers.
        # Bearer tokens, not cookies: no credentials mode.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["Location", "Retry-After", "X-Request-ID"],
            allow_credentials=False,
            max_age=600,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_login_examples(
                problem_json_openapi(FastAPI.openapi(app), database_prefix=API_PREFIX)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI documents replacing it

    # Routes are tried in order, so the busiest come first (no two routers share a path), each
    # router included straight into the app (a router of routers costs a level of matching).
    for router in (
        websites_router,
        users_router,
        organizations_router,
        memberships_router,
        invitations_router,
        auth_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health_router)
    app.include_router(pages_router)
    install_docs(app)
    return app


def _with_login_examples(schema: dict[str, Any]) -> dict[str, Any]:
    """The login form is FastAPI's OAuth2 form: give its fields the examples the JSON bodies
    carry, so "Try it out" sends a well-formed form."""
    form = schema.get("components", {}).get("schemas", {}).get("Body_login")
    if form is not None:
        properties = form["properties"]
        properties["username"].update(examples=[EXAMPLE_EMAIL])
        properties["password"].update(examples=[EXAMPLE_PASSWORD])
    return schema


def _build_default_app() -> FastAPI:
    return create_app()


app = _build_default_app()
