"""`/health` (the process runs) and `/health/ready` (database reachable and policy loaded)."""

from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from app.authz.sync import PolicyStore
from app.db import TransactionalRoute
from app.errors import ErrorCode, error_responses, problem_response

router = APIRouter(tags=["operations"], route_class=TransactionalRoute)


class Alive(BaseModel):
    """The process runs."""

    status: Literal["ok"]


class Ready(BaseModel):
    """The database answers and the authorization policy is loaded."""

    status: Literal["ready"]
    policy_version: int = Field(
        description="The version of the loaded policy (it moves each time the policy is seeded)."
    )


@router.get("/health", operation_id="health")
async def health() -> Alive:
    """200 while the process runs."""
    return Alive(status="ok")


@router.get(
    "/health/ready",
    operation_id="health_ready",
    response_model=Ready,
    responses=error_responses(503),
)
async def ready(request: Request) -> JSONResponse:
    """200 when the database answers and the authorization policy is loaded, else 503."""
    engine: AsyncEngine = request.app.state.engine
    store: PolicyStore = request.app.state.policy
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        return problem_response(
            503, ErrorCode.NOT_READY, "The database is unreachable.", headers={"Retry-After": "5"}
        )
    if not store.ready:
        return problem_response(
            503,
            ErrorCode.NOT_READY,
            "The authorization policy is not loaded.",
            headers={"Retry-After": "1"},
        )
    return JSONResponse({"status": "ready", "policy_version": store.get().version})
