"""Per-request DataLoaders over the read model (db/reads.py): one SQL statement per kind of
record, however many fields ask."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from db import reads
from db.reads import Record

# Context.read: a query run on the request's connection.
Reader = Callable[[Callable[[Any], Awaitable[list[Record]]]], Awaitable[list[Record]]]
Read = Callable[[Any, Sequence[int]], Awaitable[list[Record]]]


class Loaders:
    def __init__(self, read: Reader) -> None:
        self._read = read
        self.account = self._by_id(reads.accounts)
        self.order = self._by_id(reads.orders)
        self.purchase_order = self._by_id(reads.purchase_orders)
        self.audience = self._by_id(reads.audiences)
        self.campaign = self._by_id(reads.campaigns)

    def _by_id(self, read: Read) -> DataLoader[int, Record | None]:
        async def load(ids: list[int]) -> Sequence[Record | None]:
            found = {record["id"]: record for record in await self._read(lambda conn: read(conn, ids))}
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=load)

    def source(self, kind: str) -> DataLoader[int, Record | None]:
        """The loader of a budget source's kind ("Order" or "PurchaseOrder")."""
        return self.purchase_order if kind == "PurchaseOrder" else self.order

    def prime(self, loader: DataLoader[int, Record | None], records: Sequence[Record]) -> None:
        """Seed a loader with records already read, so a later field does not read them again."""
        for record in records:
            loader.prime(record["id"], record)


def cached(loader: DataLoader[int, Record | None], key: int) -> tuple[bool, Record | None]:
    """(True, record) when the loader already holds the record of `key`: no await needed for it."""
    future = loader.cache_map.get(key)
    if future is None or not future.done() or future.cancelled() or future.exception() is not None:
        return False, None
    return True, future.result()
