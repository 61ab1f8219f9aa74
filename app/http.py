"""Response helpers shared by the routers: JSON bodies encoded straight from rows, and the
`Location` of a created resource."""

from typing import Any
from uuid import UUID

import orjson
from fastapi import Request, Response


def _encode_other(value: Any) -> str:
    # asyncpg's UUID type is a uuid.UUID that orjson does not recognise.
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_response(content: Any, status_code: int = 200) -> Response:
    """JSON as FastAPI's response models write it (UTF-8, compact, UTC times with `Z`), for
    routes that build their body straight from rows: ids and times may be given as they are."""
    body = orjson.dumps(content, default=_encode_other, option=orjson.OPT_UTC_Z)
    return Response(body, status_code=status_code, media_type="application/json")


def location(request: Request, route_name: str, **path_params: object) -> str:
    """The path of the route named `route_name` (its function's name) with these parameters, as
    the router builds it: for the `Location` header of a created resource."""
    params = {name: str(value) for name, value in path_params.items()}
    return str(request.app.url_path_for(route_name, **params))
