"""Per-request DataLoaders: one SQL statement per kind of row, however many fields ask."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from db.models import AccountRow, AudienceRow, CampaignRow, OrderRow, PurchaseOrderRow

Reader = Callable[[], AbstractAsyncContextManager[AsyncSession]]
R = TypeVar("R")


class Loaders:
    def __init__(self, read: Reader) -> None:
        self._read = read
        self.account: DataLoader[int, AccountRow | None] = self._by_id(AccountRow)
        self.order: DataLoader[int, OrderRow | None] = self._by_id(OrderRow)
        self.purchase_order: DataLoader[int, PurchaseOrderRow | None] = self._by_id(PurchaseOrderRow)
        self.audience: DataLoader[int, AudienceRow | None] = self._by_id(AudienceRow)
        self.campaign: DataLoader[int, CampaignRow | None] = self._by_id(CampaignRow)

    def _by_id(self, model: type[R]) -> DataLoader[int, R | None]:
        async def load(ids: list[int]) -> Sequence[R | None]:
            async with self._read() as session:
                rows = (await session.scalars(select(model).where(model.id.in_(ids)))).unique()  # type: ignore[attr-defined]
                found = {row.id: row for row in rows}  # type: ignore[attr-defined]
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=load)

    def prime(self, row: Any) -> None:
        """Seed a loader with a row already read, so a later field does not read it again."""
        loaders: dict[type, DataLoader[int, Any]] = {
            AccountRow: self.account,
            OrderRow: self.order,
            PurchaseOrderRow: self.purchase_order,
            AudienceRow: self.audience,
            CampaignRow: self.campaign,
        }
        loader = loaders.get(type(row))
        if loader is not None:
            loader.prime(row.id, row)
            if isinstance(row, PurchaseOrderRow):
                self.order.prime(row.order_id, row.order)


def cached(loader: DataLoader[int, R | None], key: int) -> tuple[bool, R | None]:
    """(True, row) when the loader already holds the row of `key`: no await needed for it."""
    future = loader.cache_map.get(key)
    if future is None or not future.done() or future.cancelled() or future.exception() is not None:
        return False, None
    return True, future.result()
