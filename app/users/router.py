"""The /users/me routes."""

import asyncio
import sys
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from app.auth import service as auth_service
from app.auth.dependencies import Caller, CurrentCaller
from app.auth.ratelimit import Limiter, RateLimiter
from app.auth.router import count_password_check, refund_all
from app.auth.schemas import LoginPublic
from app.authz.guards import Policy
from app.config import AppSettings, Settings
from app.db import Database, RequestDatabase, Session, TransactionalRoute
from app.errors import error_responses
from app.http import json_response
from app.pagination import Page, Paging
from app.users import service
from app.users.errors import WrongPassword
from app.users.schemas import AccountDeletion, PasswordChange, UserPublic, UserUpdate

router = APIRouter(prefix="/users/me", tags=["users"], route_class=TransactionalRoute)


@router.get("", operation_id="get_me", response_model=UserPublic, responses=error_responses(401))
async def get_me(caller: CurrentCaller) -> Response:
    """The caller's profile."""
    # Encoded straight from the row: every client asks for this, often.
    user = caller.user
    return json_response(
        {
            "id": user.id,
            "email": user.email,
            "full_name": user.full_name,
            "email_verified": user.email_verified_at is not None,
            "created_at": user.created_at,
        }
    )


@router.patch("", operation_id="update_me", responses=error_responses(401, 422))
async def update_me(body: UserUpdate, caller: CurrentCaller, session: Session) -> UserPublic:
    """Change the caller's full name (`null` clears it)."""
    if "full_name" not in body.model_fields_set:
        return UserPublic.of(caller.user)
    return UserPublic.of(await service.update_profile(session, caller, full_name=body.full_name))


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="change_my_password",
    responses=error_responses(400, 401, 422, 429),
)
async def change_password(
    body: PasswordChange,
    request: Request,
    caller: CurrentCaller,
    db: Database,
    settings: AppSettings,
    limiter: Limiter,
) -> Response:
    """Change the password; every other login of the user ends. Wrong current passwords count
    towards the account's limits like failed logins (429 past them)."""
    await _check_password(request, caller, db, settings, limiter, body.current_password)
    await service.change_password(db, settings, caller, new_password=body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _check_password(
    request: Request,
    caller: Caller,
    db: RequestDatabase,
    settings: Settings,
    limiter: RateLimiter,
    password: str,
) -> None:
    """400 `invalid_password` unless `password` is the caller's; the check is counted like a
    login attempt (per account and client network, and per account), and a right password
    gives its count back."""
    hit = await count_password_check(request, settings, limiter, caller.user.email)
    matches = False
    try:
        matches = await service.password_matches(db, caller, password)
    finally:
        if matches or sys.exc_info()[0] is not None:
            # Shielded: a cancelled request still gives its count back.
            await asyncio.shield(refund_all(limiter, [hit]))
    if not matches:
        raise WrongPassword()


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_me",
    responses=error_responses(400, 401, 409, 422, 429),
)
async def delete_me(
    body: AccountDeletion,
    request: Request,
    caller: CurrentCaller,
    db: Database,
    settings: AppSettings,
    limiter: Limiter,
    policy: Policy,
) -> Response:
    """Delete the account. Organizations where the caller is the only member are deleted too;
    being the last admin of an organization with other members is refused (409 `last_admin`).
    Wrong passwords count towards the account's limits like failed logins (429 past them)."""
    await _check_password(request, caller, db, settings, limiter, body.password)
    await service.delete_account(db.session, policy, caller)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/sessions",
    operation_id="list_my_sessions",
    responses=error_responses(401, 422),
)
async def list_sessions(
    caller: CurrentCaller, session: Session, paging: Paging
) -> Page[LoginPublic]:
    """The caller's live logins, newest first; `current` marks the one of this access token.

    `last_used_at` moves with every login and refresh (so it is exact to one access-token
    lifetime); `user_agent` is the one the login was made with.
    """
    return await auth_service.list_logins(session, caller.user.id, caller.session_id, paging)


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="end_my_session",
    responses=error_responses(401, 404, 422),
)
async def end_session(session_id: UUID, caller: CurrentCaller, session: Session) -> Response:
    """End one of the caller's logins: its access and refresh tokens stop working on the next
    request. A login that is not the caller's, or already ended, answers 404."""
    await auth_service.end_login(session, caller.user.id, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
