"""Per-request DataLoaders: one SQL statement per kind of row, however many fields ask."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from db.models import AccountRow, AudienceRow, CampaignRow, OrderRow, PurchaseOrderRow

Reader = Callable[[], AbstractAsyncContextManager[AsyncSession]]
R = TypeVar("R")

ZERO = Decimal("0.00")


class Loaders:
    def __init__(self, read: Reader) -> None:
        self._read = read
        self.account: DataLoader[int, AccountRow | None] = self._by_id(AccountRow)
        self.order: DataLoader[int, OrderRow | None] = self._by_id(OrderRow)
        self.purchase_order: DataLoader[int, PurchaseOrderRow | None] = self._by_id(PurchaseOrderRow)
        self.audience: DataLoader[int, AudienceRow | None] = self._by_id(AudienceRow)
        self.campaign: DataLoader[int, CampaignRow | None] = self._by_id(CampaignRow)
        self.order_draft_amount: DataLoader[int, Decimal] = self._draft_amount(CampaignRow.order_id)
        self.purchase_order_draft_amount: DataLoader[int, Decimal] = self._draft_amount(CampaignRow.purchase_order_id)

    def _by_id(self, model: type[R]) -> DataLoader[int, R | None]:
        async def load(ids: list[int]) -> Sequence[R | None]:
            async with self._read() as session:
                rows = (await session.scalars(select(model).where(model.id.in_(ids)))).unique()  # type: ignore[attr-defined]
                found = {row.id: row for row in rows}  # type: ignore[attr-defined]
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=load)

    def _draft_amount(self, column: Any) -> DataLoader[int, Decimal]:
        """draftAmount (API.md §2): budgets of drafts that selected the source."""

        async def load(ids: list[int]) -> Sequence[Decimal]:
            stmt = (
                select(column, func.coalesce(func.sum(CampaignRow.budget), 0))
                .where(column.in_(ids), CampaignRow.status == "DRAFT")
                .group_by(column)
            )
            async with self._read() as session:
                sums = {key: Decimal(total) for key, total in (await session.execute(stmt)).all()}
            return [sums.get(i, ZERO) for i in ids]

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
