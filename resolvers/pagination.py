"""Keyset pagination, newest first, for every connection of the API."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Generic, Protocol, TypeVar

from db import reads
from db.models import Base
from db.reads import Record
from resolvers.errors import InvalidInput

T = TypeVar("T")


class Read(Protocol):
    """The request's reads (Context.read): `read(query)` runs `query(asyncpg connection)`."""

    async def __call__(self, query: Callable[[Any], Awaitable[T]]) -> T: ...


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


async def paginate(
    read: Read,
    model: type[Base],
    where: reads.Where,
    first: int,
    after: str | None,
    condition: tuple[reads.Condition, Any] | None = None,
) -> Page[Record]:
    """A page of the rows of `model` that `where` (and `condition`) selects (db/reads.py), newest
    (highest id) first."""

    async def fetch(before: int | None, limit: int) -> list[Record]:
        return await read(lambda conn: reads.rows(conn, model, where, before=before, limit=limit, condition=condition))

    async def count() -> int:
        return await read(lambda conn: reads.count(conn, model, where, condition))

    return await paginate_with(fetch, count, first, after, pk=itemgetter("id"))


async def paginate_with(
    fetch: Callable[[int | None, int], Awaitable[list[T]]],
    count: Callable[[], Awaitable[int]],
    first: int,
    after: str | None,
    pk: Callable[[T], int],
) -> Page[T]:
    """A page newest first: `fetch(before_id, limit)` reads the records with an id below
    `before_id`; `pk` gives a record's id for its cursor."""
    check_first(first)
    rows = await fetch(decode_cursor(after) if after is not None else None, first + 1)
    items = rows[:first]
    return Page(
        items=items,
        cursors=[encode_cursor(pk(row)) for row in items],
        has_next_page=len(rows) > first,
        count=count,
    )
