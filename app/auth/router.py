"""The /auth routes."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import service
from app.auth.ratelimit import Hit, Limiter, RateLimiter, client_network
from app.auth.schemas import (
    Accepted,
    MailRequestIn,
    RefreshIn,
    RegisterIn,
    ResetPasswordIn,
    TokenIn,
    TokenPair,
)
from app.config import AppSettings, Settings
from app.db import Database, Session, TransactionalRoute
from app.errors import Unauthorized, error_responses
from app.types import normalize_email
from app.users.schemas import UserPublic

router = APIRouter(prefix="/auth", tags=["auth"], route_class=TransactionalRoute)

MAIL_ACCEPTED = Accepted(detail="If the address can receive it, an email is on its way.")


def client_ip(request: Request) -> str:
    """The peer address (behind a proxy, run uvicorn with --proxy-headers so this is the client)."""
    return request.client.host if request.client else "unknown"


def ip_key(request: Request, settings: Settings, scope: str) -> str | None:
    """The per-IP rate-limit key of this request (an IPv6 client counts as its /64), or None
    for an exempt client address."""
    ip = client_ip(request)
    if ip in settings.rate_limit_exempt_ip_set:
        return None
    return f"{scope}:ip:{client_network(ip)}"


def _account_key(username: str) -> str:
    """The address as login will resolve it, so spelling variants share one counter."""
    try:
        return normalize_email(username)
    except ValueError:
        return username.strip().lower()[:320]


def password_failures_key(email: str) -> str:
    """The account whose failed password checks are counted: login, password change and
    account deletion share it, so a stolen access token buys no extra guesses."""
    return f"password-failures:{email}"


async def count_password_check(
    request: Request, settings: Settings, limiter: RateLimiter, email: str
) -> Hit | None:
    """Count a password check of the account from this client's network (429 past
    RATE_LIMIT_LOGIN_PER_ACCOUNT for the network or RATE_LIMIT_LOGIN_ACCOUNT_CEILING for the
    account). Exempt addresses are counted too: the limit protects the account, not the
    service. Refund the hit when the password was right."""
    return await limiter.hit_failure(
        password_failures_key(email),
        client_network(client_ip(request)),
        per_network=settings.rate_limit_login_per_account,
        per_account=settings.rate_limit_login_account_ceiling,
    )


def _tokens(issued: service.IssuedTokens, response: Response) -> TokenPair:
    # Tokens must not stay in a browser's or a proxy's cache (RFC 6749, section 5.1).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenPair(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        token_type="bearer",  # noqa: S106 - the OAuth2 token type, not a secret
        expires_in=issued.expires_in,
    )


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="register",
    responses=error_responses(422, 429),
)
async def register(
    body: RegisterIn, request: Request, session: Session, settings: AppSettings, limiter: Limiter
) -> Accepted:
    """Create an account and its organization, and mail a verification link.

    Answers the same whether or not the address is taken (its owner is mailed instead). Limited
    per IP and, like resend and forgot-password, per address.
    """
    await limiter.hit(ip_key(request, settings, "register"), settings.rate_limit_register_per_ip)
    # Counted per address like resend and forgot-password, for every registration alike (a
    # taken address is mailed "you already have an account"; counting only those would tell).
    await limiter.hit(f"mail:account:{body.email}", settings.rate_limit_mail_per_account)
    await service.register(
        session,
        settings,
        email=body.email,
        password=body.password,
        organization_name=body.organization_name,
    )
    return MAIL_ACCEPTED


@router.post("/login", operation_id="login", responses=error_responses(401, 403, 422, 429))
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    db: Database,
    settings: AppSettings,
    limiter: Limiter,
    response: Response,
) -> TokenPair:
    """Exchange email and password (OAuth2 password flow form) for an access and a refresh token.

    Failed attempts count towards the limits: per client IP (an IPv6 client's /64), per account
    and client network, and per account from every network. Every attempt holds a count while it
    runs, so simultaneous wrong passwords cannot all pass; one that succeeds, or is refused, or
    fails for a reason that is not the caller's, gives it back. Past a limit every attempt from
    that network (or, past the account's ceiling, from anywhere), right or wrong, answers 429
    until the window ends.
    """
    per_ip = ip_key(request, settings, "login")
    hits: list[Hit | None] = []
    wrong_credentials = False
    try:
        hits.append(await limiter.hit(per_ip, settings.rate_limit_login_per_ip))
        hits.append(
            await count_password_check(request, settings, limiter, _account_key(form.username))
        )
        issued = await service.login(
            db,
            settings,
            username=form.username,
            password=form.password,
            user_agent=request.headers.get("user-agent"),
        )
    except Unauthorized:
        wrong_credentials = True
        raise
    finally:
        if not wrong_credentials:
            # Shielded: a cancelled request (client gone, shutdown) still gives its counts back.
            await asyncio.shield(refund_all(limiter, hits))
    return _tokens(issued, response)


async def refund_all(limiter: RateLimiter, hits: list[Hit | None]) -> None:
    """Give back every hit (shield the call: a cancelled request still gives them back)."""
    for hit in hits:
        await limiter.refund(hit)


@router.post("/refresh", operation_id="refresh_tokens", responses=error_responses(401, 422))
async def refresh(
    body: RefreshIn, session: Session, settings: AppSettings, response: Response
) -> TokenPair:
    """Rotate the refresh token: the used one stops working; reusing it ends the login."""
    return _tokens(await service.refresh(session, settings, token=body.refresh_token), response)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="logout",
    responses=error_responses(422),
)
async def logout(body: RefreshIn, session: Session, settings: AppSettings) -> Response:
    """End the login this refresh token belongs to."""
    await service.logout(session, settings, token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/verify-email", operation_id="verify_email", responses=error_responses(400, 422))
async def verify_email(body: TokenIn, session: Session, settings: AppSettings) -> UserPublic:
    """Confirm the email address with the mailed token."""
    user = await service.verify_email(session, settings, token=body.token)
    return UserPublic.of(user)


async def _mail_address_within_limits(
    text: str, request: Request, settings: Settings, limiter: RateLimiter
) -> str | None:
    """Count a request to mail `text` against the per-IP and per-address limits (429 beyond
    them); the normalized address, or None when `text` is not one (no account, nothing to mail,
    still 202)."""
    await limiter.hit(ip_key(request, settings, "mail"), settings.rate_limit_register_per_ip)
    try:
        email = normalize_email(text)
    except ValueError:
        return None
    await limiter.hit(f"mail:account:{email}", settings.rate_limit_mail_per_account)
    return email


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="resend_verification_email",
    responses=error_responses(422, 429),
)
async def resend_verification(
    body: MailRequestIn,
    request: Request,
    session: Session,
    settings: AppSettings,
    limiter: Limiter,
) -> Accepted:
    """Mail a new verification link if the address has an unverified account."""
    email = await _mail_address_within_limits(body.email, request, settings, limiter)
    if email is not None:
        await service.resend_verification(session, settings, email=email)
    return MAIL_ACCEPTED


@router.post(
    "/forgot-password",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="forgot_password",
    responses=error_responses(422, 429),
)
async def forgot_password(
    body: MailRequestIn,
    request: Request,
    session: Session,
    settings: AppSettings,
    limiter: Limiter,
) -> Accepted:
    """Mail a password reset link if the address has an account."""
    await request_reset_mail(body.email, request, session, settings, limiter)
    return MAIL_ACCEPTED


async def request_reset_mail(
    text: str, request: Request, session: Session, settings: AppSettings, limiter: RateLimiter
) -> None:
    """Queue a reset mail if `text` is an address with an account, within the mail limits
    (429 beyond them); the API route and the HTML page both ask through here."""
    email = await _mail_address_within_limits(text, request, settings, limiter)
    if email is not None:
        await service.forgot_password(session, settings, email=email)


@router.post(
    "/reset-password",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="reset_password",
    responses=error_responses(400, 422),
)
async def reset_password(
    body: ResetPasswordIn, db: Database, settings: AppSettings, limiter: Limiter
) -> Response:
    """Set a new password with the mailed token; every login of the user ends, and the failed
    password checks counted against the account are forgotten."""
    email = await service.reset_password(db, settings, token=body.token, password=body.password)
    await limiter.clear_failures(password_failures_key(email))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
