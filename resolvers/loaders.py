"""Per-request DataLoaders over the general executor's records (db/reads.py): one SQL statement
per kind of record, however many fields ask."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from strawberry.dataloader import DataLoader, DefaultCache

from db import reads
from db.reads import Record

# Context.read: a query run on the request's connection.
Reader = Callable[[Callable[[Any], Awaitable[list[Record]]]], Awaitable[list[Record]]]
Read = Callable[[Any, Sequence[int]], Awaitable[list[Record]]]
Loader = DataLoader[int, Record | None]


class Loaders:
    def __init__(self, read: Reader) -> None:
        self._read = read
        # Each loader's cache, passed in (DataLoader's public `cache_map`): what it holds can be
        # asked without an await (`cached`).
        self._caches: dict[int, DefaultCache[int, Record | None]] = {}
        self.account = self._by_id(reads.accounts)
        self.order = self._by_id(partial(reads.sources, kind="Order"))
        self.purchase_order = self._by_id(partial(reads.sources, kind="PurchaseOrder"))
        self.audience = self._by_id(reads.audiences)
        self.campaign = self._by_id(reads.campaigns)

    def _by_id(self, read: Callable[..., Awaitable[list[Record]]]) -> Loader:
        async def load(ids: list[int]) -> Sequence[Record | None]:
            found = {record["id"]: record for record in await self._read(lambda conn: read(conn, ids=ids))}
            return [found.get(i) for i in ids]

        cache: DefaultCache[int, Record | None] = DefaultCache()
        loader = DataLoader(load_fn=load, cache_map=cache)
        self._caches[id(loader)] = cache
        return loader

    def of(self, type_name: str) -> Loader | None:
        """The loader of a node type, if it has one."""
        return {
            "Account": self.account,
            "Order": self.order,
            "PurchaseOrder": self.purchase_order,
            "Audience": self.audience,
            "Campaign": self.campaign,
        }.get(type_name)

    def source(self, kind: str) -> Loader:
        """The loader of a budget source's kind ("Order" or "PurchaseOrder")."""
        return self.purchase_order if kind == "PurchaseOrder" else self.order

    def prime(self, loader: Loader, records: Sequence[Record]) -> None:
        """Seed a loader with records already read, so a later field does not read them again."""
        for record in records:
            loader.prime(record["id"], record)

    def cached(self, loader: Loader, key: int) -> tuple[bool, Record | None]:
        """(True, record) when the loader already holds the record of `key`: no await needed."""
        future = self._caches[id(loader)].get(key)
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return False, None
        return True, future.result()

    def holds(self, loader: Loader, key: int) -> bool:
        """Whether the loader has the record of `key`, read or being read."""
        return self._caches[id(loader)].get(key) is not None
