"""What every GraphQL object type shares: Node, connections (Connection[T], Edge[T], PageInfo),
the read model's FromRecord, the arguments of a page, and the loader helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Self, TypeVar

import strawberry
from strawberry.dataloader import DataLoader

from db.reads import Record
from resolvers import ids
from resolvers.context import Context
from resolvers.loaders import Loader, Loaders
from resolvers.pagination import Page
from schema.enums import CampaignStatus

Info = strawberry.Info[Context, None]
T = TypeVar("T")
R = TypeVar("R")

# The arguments every connection takes (resolvers/pagination.py): pages go forward, newest first.
PageSize = Annotated[
    int | None,
    strawberry.argument(
        description="How many items to return, 0 to 100 (null: the default); outside that range is a BAD_USER_INPUT "
        "error."
    ),
]
After = Annotated[
    str | None,
    strawberry.argument(
        description="Start after this cursor (the previous page's pageInfo.endCursor); null starts at the newest."
    ),
]
StatusFilter = Annotated[
    CampaignStatus | None, strawberry.argument(description="Only campaigns in this status; null: all of them.")
]
NODE_ID = "Opaque global ID; Query.node(id:) returns this object for it."
CURSOR = "Opaque cursor of this edge; pass it as after to continue after it."
PAGE_INFO = "Where this page ends and whether more follow."


@strawberry.interface(description="An object with an opaque global ID; Query.node(id:) resolves any of them.")
class Node:
    id: strawberry.ID = strawberry.field(description=NODE_ID)


Values = Mapping[str, Callable[[Record], Any]]


class FromRecord:
    """A type built from a record of the general executor (db/reads.py: a row of a read-model
    view). A stored field is the record's column of its Python name (the snake_case of its
    GraphQL name, as the planner reads it: db/readmodel.column); `VALUES` maps the few that are
    not (a global ID, a column of another name) to their value in a record. graphql-core reads a
    field as an attribute, computed the first time it is read. tests/test_read_model.py holds
    every stored field to a column of its type's view or an entry of VALUES (none may have a
    default: a class attribute would be read instead)."""

    VALUES: ClassVar[Values] = {}

    @classmethod
    def from_record(cls, record: Record) -> Self:
        built = cls.__new__(cls)
        built.__dict__["record"] = record
        return built

    if not TYPE_CHECKING:  # mypy still checks every attribute these types are asked for

        def __getattr__(self, name: str) -> Any:
            record = self.__dict__.get("record")
            if record is None:
                raise AttributeError(name)
            value_of = type(self).VALUES.get(name)
            if value_of is not None:
                value = value_of(record)
            elif name in record:
                value = record[name]
            else:
                raise AttributeError(name)
            self.__dict__[name] = value
            return value


def id_of(type_name: str) -> Callable[[Record], strawberry.ID]:
    return lambda r: strawberry.ID(ids.encode(type_name, r["id"]))


def page_size(first: int | None, default: int) -> int:
    return default if first is None else first


@strawberry.type(description="Relay's PageInfo. Pages go forward (first/after): hasPreviousPage is false.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when more items follow endCursor.")
    has_previous_page: bool = strawberry.field(description="Always false: pages go forward only.")
    start_cursor: str | None = strawberry.field(
        description="The cursor of the page's first edge; null on an empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last edge, to pass as after for the next page; null on an empty page."
    )

    @classmethod
    def from_page(cls, page: Page[Any]) -> PageInfo:
        return cls(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.start_cursor,
            end_cursor=page.end_cursor,
        )


NodeT = TypeVar("NodeT")


@strawberry.type(description="One item of a page, with its cursor (the *Connection it belongs to says of what).")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description=CURSOR)
    node: NodeT = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list, newest first (a Relay connection); its name says of what.")
class Connection(Generic[NodeT]):
    """Every list of the API that pages: Connection[Campaign] is CampaignConnection (with
    CampaignEdge), and so on. totalCount is counted only when asked for."""

    page: strawberry.Private[Page[Any]]
    edges: Sequence[Edge[NodeT]] = strawberry.field(description="The items of this page, newest first.")
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)

    @classmethod
    def of(cls, page: Page[R], convert: Callable[[R], NodeT]) -> Self:
        edges = [Edge(cursor=c, node=convert(r)) for r, c in zip(page.items, page.cursors, strict=True)]
        return cls(page=page, edges=edges, page_info=PageInfo.from_page(page))

    @strawberry.field(description="How many items the whole list holds (its filters applied), not only this page.")
    async def total_count(self) -> int:
        return await self.page.count()


def related(
    loaders: Loaders, loader: Loader, key: int | None, convert: Callable[[Any], T]
) -> T | Awaitable[T | None] | None:
    """The converted row of `key` now if the loader holds it, else an awaitable of it
    (resolvers return either; graphql-core awaits what is awaitable)."""
    if key is None:
        return None
    hit, row = loaders.cached(loader, key)
    if hit:
        return convert(row) if row is not None else None
    return load_related(loader, key, convert)


async def load_related(loader: DataLoader[int, Any], key: int, convert: Callable[[Any], T]) -> T | None:
    row = await loader.load(key)
    return convert(row) if row is not None else None


def must(value: Any) -> Any:
    # Foreign keys guarantee the row; a None here is a server fault, not a user error.
    if value is None:
        raise LookupError("referenced row is missing")
    return value
