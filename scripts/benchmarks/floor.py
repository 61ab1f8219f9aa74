"""The floor app: the least an authorized read can cost in this stack.

FastAPI, an HS256 bearer-token check with PyJWT, and one `SELECT id, name, url FROM websites WHERE
id = $1` through an asyncpg pool, served by uvicorn with uvloop and httptools. `make bench` runs it
beside the service, with the same worker count, against the same database, and reports the
service's throughput as a ratio of this app's: a figure that means the same on any machine.

    FLOOR_DATABASE_URL=postgresql://... FLOOR_SECRET_KEY=... uvicorn scripts.benchmarks.floor:app
"""

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import jwt
from fastapi import FastAPI, Header, HTTPException

DATABASE_URL = os.environ.get("FLOOR_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET_KEY = os.environ.get("FLOOR_SECRET_KEY", "")
POOL_SIZE = int(os.environ.get("FLOOR_POOL_SIZE", "10"))
ISSUER = os.environ.get("FLOOR_JWT_ISSUER", "blokid")
AUDIENCE = os.environ.get("FLOOR_JWT_AUDIENCE", "blokid-api")

_pool: Any = None


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global _pool
    _pool = await asyncpg.create_pool(DATABASE_URL, min_size=POOL_SIZE, max_size=POOL_SIZE)
    try:
        yield
    finally:
        await _pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/api/v1/websites/{website_id}")
async def get_website(
    website_id: UUID, authorization: Annotated[str, Header()] = ""
) -> dict[str, Any]:
    """The website's id, name and url to a holder of any valid access token."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401)
    try:
        jwt.decode(token, SECRET_KEY, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    except jwt.PyJWTError:
        raise HTTPException(401) from None
    async with _pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT id, name, url FROM websites WHERE id = $1", website_id
        )
    if row is None:
        raise HTTPException(404)
    return {"id": row[0], "name": row[1], "url": row[2]}
