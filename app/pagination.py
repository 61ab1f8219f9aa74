"""Keyset pagination: `limit`, an opaque `cursor`, and `{items, next_cursor}` pages."""

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

import sqlalchemy as sa
from fastapi import Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ValidationFailed
from app.http import json_response

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list, in a stable order."""

    items: list[ItemT]
    next_cursor: str | None


class PageParams(BaseModel):
    """The page requested: at most `limit` rows after the position in `after`."""

    limit: int
    after: tuple[datetime, UUID] | None

    def keyset(self, created_at: Any, id_: Any) -> sa.ColumnElement[bool]:
        """The WHERE clause that starts the page after the cursor (true when there is none)."""
        if self.after is None:
            return sa.true()
        return sa.tuple_(created_at, id_) > sa.tuple_(
            sa.literal(self.after[0]), sa.literal(self.after[1])
        )

    def keyset_desc(self, created_at: Any, id_: Any) -> sa.ColumnElement[bool]:
        """The same for lists ordered newest first."""
        if self.after is None:
            return sa.true()
        return sa.tuple_(created_at, id_) < sa.tuple_(
            sa.literal(self.after[0]), sa.literal(self.after[1])
        )


def page_response(items: list[dict[str, Any]], next_cursor: str | None) -> Response:
    """A `Page` body from items already in their JSON shape."""
    return json_response({"items": items, "next_cursor": next_cursor})


def encode_cursor(created_at: datetime, id_: UUID) -> str:
    """An opaque cursor pointing just after this row."""
    raw = json.dumps([created_at.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, id_ = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(created, str) or not isinstance(id_, str):
            raise ValueError("cursor fields must be strings")
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment, UUID(id_)
    except (ValueError, TypeError, UnicodeError, json.JSONDecodeError):
        raise ValidationFailed(["query", "cursor"], "The cursor is not valid.") from None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=100, description="Page size, 1 to 100.")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
    ] = None,
) -> PageParams:
    """The `limit` and `cursor` query parameters every list takes."""
    return PageParams(limit=limit, after=_decode_cursor(cursor) if cursor else None)


async def paginate(
    session: AsyncSession,
    statement: sa.Select[*tuple[Any, ...]],
    params: PageParams,
    *,
    order: tuple[Any, Any],
    to_item: Callable[[sa.Row[Any]], ItemT],
    newest_first: bool = False,
) -> Page[ItemT]:
    """One page of `statement`, ordered by `order` (a creation time and a unique key that breaks
    its ties), starting after the cursor: fetches `limit + 1` rows to know whether another page
    follows, and makes the next cursor from the last row's two key columns."""
    created_at, key = order
    if newest_first:
        after = params.keyset_desc(created_at, key)
        ordering = (sa.desc(created_at), sa.desc(key))
    else:
        after = params.keyset(created_at, key)
        ordering = (sa.asc(created_at), sa.asc(key))
    rows = (
        await session.execute(
            statement.add_columns(
                created_at.label(_PAGE_CREATED_AT),
                key.label(_PAGE_KEY),
            )
            .where(after)
            .order_by(*ordering)
            .limit(params.limit + 1)
        )
    ).all()
    page, more = rows[: params.limit], len(rows) > params.limit
    next_cursor = None
    if more and page:
        last = page[-1]._mapping
        next_cursor = encode_cursor(last[_PAGE_CREATED_AT], last[_PAGE_KEY])
    return Page(items=[to_item(row) for row in page], next_cursor=next_cursor)


# Labels of the key columns `paginate` adds to a statement, apart from its own columns.
_PAGE_CREATED_AT = "_page_created_at"
_PAGE_KEY = "_page_key"


Paging = Annotated[PageParams, Depends(page_params)]
