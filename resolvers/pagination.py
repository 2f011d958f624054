"""Keyset pagination, newest first, for every connection of the API."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.errors import InvalidInput

T = TypeVar("T")
# The request's session, for one user at a time (Context.use_session).
Reader = Callable[[], AbstractAsyncContextManager[AsyncSession]]

MAX_PAGE_SIZE = 100


@dataclass
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    # Counting scans the whole connection: it runs only when totalCount is asked for.
    count: Callable[[], Awaitable[int]]

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None

    @property
    def start_cursor(self) -> str | None:
        return self.cursors[0] if self.cursors else None

    @property
    def has_previous_page(self) -> bool:
        """Pages go forward only (first/after): Relay's PageInfo says false then."""
        return False


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        prefix, _, pk = raw.partition(":")
        if prefix == "cursor" and pk.isdigit() and len(pk) <= 18:
            return int(pk)
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidInput("after is not a cursor returned by this connection", "after")


def check_first(first: int) -> None:
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise InvalidInput(f"first must be between 0 and {MAX_PAGE_SIZE}", "first")


async def paginate(read: Reader, stmt: Select[Any], id_column: Any, first: int, after: str | None) -> Page[Any]:
    """`stmt` selects the rows (ORM entities) of the whole connection; pages go by descending id."""

    async def fetch(before: int | None, limit: int) -> list[Any]:
        page_stmt = stmt.order_by(id_column.desc()).limit(limit)
        if before is not None:
            page_stmt = page_stmt.where(id_column < before)
        async with read() as session:
            return list((await session.scalars(page_stmt)).unique())

    async def count() -> int:
        async with read() as session:
            total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        return int(total or 0)

    return await paginate_with(fetch, count, first, after, pk=lambda row: row.id)


async def paginate_with(
    fetch: Callable[[int | None, int], Awaitable[list[T]]],
    count: Callable[[], Awaitable[int]],
    first: int,
    after: str | None,
    pk: Callable[[T], int],
) -> Page[T]:
    """A page newest first: `fetch(before_id, limit)` reads the rows (ORM entities or plain-SQL
    records) with an id below `before_id`; `pk` gives a row's id for its cursor."""
    check_first(first)
    rows = await fetch(decode_cursor(after) if after is not None else None, first + 1)
    items = rows[:first]
    return Page(
        items=items,
        cursors=[encode_cursor(pk(row)) for row in items],
        has_next_page=len(rows) > first,
        count=count,
    )
