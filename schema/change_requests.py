"""GraphQL types: Change requests to the account team (R19).

Shapes only: each field delegates to `resolvers`. Types of other aggregates are referred to
lazily (strawberry.lazy), so these modules may refer to each other."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.reads import Record
from schema import budget_sources as budget_sources_types
from schema.common import FromRecord, Info, Node, id_of
from schema.enums import BudgetChangeRequestStatus

if TYPE_CHECKING:
    from schema.budget_sources import BudgetSource, Order, PurchaseOrder


BudgetSourceRef = Annotated["BudgetSource", strawberry.lazy("schema.budget_sources")]
OrderRef = Annotated["Order", strawberry.lazy("schema.budget_sources")]
PurchaseOrderRef = Annotated["PurchaseOrder", strawberry.lazy("schema.budget_sources")]


@strawberry.type(description="A customer's request to the account team for a new amount and/or end date (R19).")
class BudgetChangeRequest(Node, FromRecord):
    record: strawberry.Private[Record]
    status: BudgetChangeRequestStatus = strawberry.field(description="PENDING until decided or withdrawn, once.")
    amount: Decimal | None = strawberry.field(description="The requested new total amount; null: unchanged.")
    end_date: date | None = strawberry.field(
        description="The requested new end date (on a PO: of its order's term); null: unchanged."
    )
    note: str = strawberry.field(description="Why, from the requester.")
    requested_by: str = strawberry.field(description="The key that asked.")
    requested_at: datetime = strawberry.field(description="When (UTC).")
    decided_by: str | None = strawberry.field(description="The key that approved, declined or withdrew it.")
    decided_at: datetime | None = strawberry.field(description="When it was decided or withdrawn (UTC).")
    decision_note: str | None = strawberry.field(description="The account team's note on its decision, if any.")

    VALUES = {"id": id_of("BudgetChangeRequest")}

    @strawberry.field(description="The Order or PurchaseOrder it is about.")
    async def budget_source(self, info: Info) -> BudgetSourceRef:
        return await budget_sources_types.source_named(info, self.record["order_id"], self.record["purchase_order_id"])
