"""Small plain-HTML pages behind the links in mails, for deployments without a front end.

Mail scanners prefetch links, so GET only shows a form; the POST of that form acts. No
JavaScript is needed. With FRONTEND_URL set, mails link to the front end instead.
"""

from html import escape
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from app.auth import service
from app.auth.ratelimit import Limiter
from app.auth.router import password_failures_key, request_reset_mail
from app.config import AppSettings, Settings
from app.db import Database, Session, TransactionalRoute
from app.errors import AppError, ValidationFailed

router = APIRouter(include_in_schema=False, route_class=TransactionalRoute)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title} · BlokID</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
input,button{{font-size:1rem;padding:.5rem;margin:.25rem 0;width:100%}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


PAGE_HEADERS = {
    # No script, no frame, no resource from elsewhere: the pages need none, and a page that
    # cannot be framed cannot be clickjacked into confirming or resetting for someone else.
    # The inline <style> is the only thing the page loads; forms post back to this origin only.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    # The URLs of these pages hold tokens: never send them on to another site.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # A page showing a token (the invitation one) must not stay in a shared cache.
    "Cache-Control": "no-store",
}
"""Headers of every HTML page."""


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    """An HTML page with `PAGE_HEADERS`; `body` must already be escaped."""
    return HTMLResponse(
        _PAGE.format(title=escape(title), body=body),
        status_code=status_code,
        headers=PAGE_HEADERS,
    )


# Any string is a token here too; one never issued gets the "link not valid" page. An empty field
# is read as absent, hence the defaults.
TokenQuery = Annotated[str, Query()]
TokenForm = Annotated[str, Form()]


@router.get("/verify-email")
async def verify_email_form(token: TokenQuery = "") -> HTMLResponse:
    """A button that confirms the address (GET never acts)."""
    return page(
        "Confirm your email address",
        '<form method="post" action="/verify-email">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<button type="submit" id="confirm">Confirm my email address</button></form>',
    )


@router.post("/verify-email")
async def verify_email_submit(
    session: Session, settings: AppSettings, token: TokenForm = ""
) -> HTMLResponse:
    """Verify the address with the token from the form."""
    try:
        user = await service.verify_email(session, settings, token=token)
    except AppError as exc:
        await session.rollback()  # nothing of a refused request may be committed
        return page("Link not valid", f"<p id='result'>{escape(exc.detail)}</p>", exc.status)
    return page(
        "Email confirmed",
        f"<p id='result'>{escape(user.email)} is confirmed. You can log in now.</p>",
    )


@router.get("/reset-password")
async def reset_password_form(token: TokenQuery = "") -> HTMLResponse:
    """A form for the new password (GET never acts)."""
    return page(
        "Choose a new password",
        '<form method="post" action="/reset-password">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<label>New password <input type="password" name="password" id="password" '
        'minlength="8" maxlength="128" required autocomplete="new-password"></label>'
        '<button type="submit" id="save">Save the new password</button></form>',
    )


@router.post("/reset-password")
async def reset_password_submit(
    db: Database,
    settings: AppSettings,
    limiter: Limiter,
    token: TokenForm = "",
    password: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Reset the password with the token and the new password from the form."""
    if any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in password):
        return page(
            "Password not changed", "<p id='result'>The password has control characters.</p>", 422
        )
    try:
        email = await service.reset_password(db, settings, token=token, password=password)
    except AppError as exc:
        await db.rollback()  # the token stays usable when the password is refused
        detail = exc.detail
        if isinstance(exc, ValidationFailed) and exc.errors:
            detail = str(exc.errors[0]["msg"])
        return page("Password not changed", f"<p id='result'>{escape(detail)}</p>", exc.status)
    await limiter.clear_failures(password_failures_key(email))
    return page(
        "Password changed",
        "<p id='result'>Your password is changed. Every other login has ended.</p>",
    )


@router.get("/forgot-password")
async def forgot_password_form() -> HTMLResponse:
    """Ask for a reset link (where the "you already have an account" mail points)."""
    return page(
        "Reset your password",
        '<form method="post" action="/forgot-password">'
        '<label>Email address <input type="email" name="email" id="email" required '
        'autocomplete="email"></label>'
        '<button type="submit" id="send">Mail me a reset link</button></form>',
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _from_own_page(request: Request, settings: Settings) -> bool:
    # Any site could hold a form posting here and make its visitors' browsers (many addresses, so
    # past the per-IP limit) send reset mails to chosen addresses. Browsers name the page's
    # origin on every form POST; requests without one (scripts) are not cross-site forms.
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = {_origin(str(request.base_url)), _origin(settings.links_base_url)}
    return origin.lower() in own


@router.post("/forgot-password")
async def forgot_password_submit(
    request: Request,
    session: Session,
    settings: AppSettings,
    limiter: Limiter,
    email: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Mail a reset link, with the same answer and limits as `POST /api/v1/auth/forgot-password`."""
    if not _from_own_page(request, settings):
        return page("Not sent", "<p id='result'>Use the form on this site.</p>", 403)
    try:
        await request_reset_mail(email, request, session, settings, limiter)
    except AppError as exc:
        response = page("Not sent", f"<p id='result'>{escape(exc.detail)}</p>", exc.status)
        response.headers.update(exc.headers or {})
        return response
    return page(
        "Check your mail",
        "<p id='result'>If the address has a BlokID account, a reset link is on its way.</p>",
    )


@router.get("/invitations/accept")
async def invitation_landing(token: TokenQuery = "") -> HTMLResponse:
    """Where invitation links land without a front end: how to accept through the API."""
    return page(
        "You are invited",
        "<p>Log in to BlokID with the invited address (register and verify it first if you have no "
        "account), then accept with <code>POST /api/v1/invitations/accept</code> and this token:</p>"
        f"<p><code id='token'>{escape(token)}</code></p>",
    )
