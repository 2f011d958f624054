"""GraphQL types: Orders and purchase orders (the BudgetSource interface), and their amendments (R18).

Shapes only: each field delegates to `resolvers`. Types of other aggregates are referred to
lazily (strawberry.lazy), so these modules may refer to each other."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Annotated, cast

import strawberry

from db.reads import Record
from resolvers import budget_sources, campaigns, change_requests, ids
from schema import accounts as accounts_types
from schema import campaigns as campaigns_types
from schema import change_requests as change_requests_types
from schema.common import (
    NODE_ID,
    After,
    Connection,
    FromRecord,
    Info,
    Node,
    PageSize,
    StatusFilter,
    Values,
    must,
    page_size,
    related,
)
from schema.enums import BudgetChangeRequestStatus, BudgetSourceStatus

if TYPE_CHECKING:
    from schema.accounts import Account
    from schema.campaigns import Allocation, Campaign
    from schema.change_requests import BudgetChangeRequest


AccountRef = Annotated["Account", strawberry.lazy("schema.accounts")]
AllocationRef = Annotated["Allocation", strawberry.lazy("schema.campaigns")]
BudgetChangeRequestRef = Annotated["BudgetChangeRequest", strawberry.lazy("schema.change_requests")]
CampaignRef = Annotated["Campaign", strawberry.lazy("schema.campaigns")]


@strawberry.interface(description="What a campaign draws its budget from: a PurchaseOrder or an Order.")
class BudgetSource:
    record: strawberry.Private[Record]
    id: strawberry.ID = strawberry.field(description=NODE_ID)
    order_number: str = strawberry.field(description="The order number printed on the contract; a PO's is its order's.")
    purchase_order_number: str | None = strawberry.field(description="The customer's PO number; null on an Order.")
    display_name: str = strawberry.field(
        description='How to show it: "PO 4500012345 (Order Q-000123)" or "Order Q-000123".'
    )
    amount: Decimal = strawberry.field(description="Its total: the order's amount, or the PO's own amount.")
    currency: str = strawberry.field(description='ISO 4217 code, e.g. "USD"; a PO has its order\'s currency.')
    allocated_amount: Decimal = strawberry.field(
        description="The sum of its allocation ledger (R10): the budgets of published, paused and ended campaigns "
        "drawing on it (for an order: through its POs too), and their spend once settled (R14)."
    )
    unallocated_amount: Decimal = strawberry.field(description="amount - allocatedAmount; never negative.")
    draft_amount: Decimal = strawberry.field(
        description="Sum of the budgets of draft campaigns that selected it; allocates nothing."
    )
    spent_amount: Decimal = strawberry.field(
        description="Sum of spentAmount of the campaigns drawing on it (for an order: through its POs too)."
    )
    pending_release_amount: Decimal = strawberry.field(
        description="Sum of budget - spentAmount over its ENDED campaigns not yet settled: what settlement will return."
    )
    start_date: date = strawberry.field(description="The first day of the term (a PO's is its order's).")
    end_date: date = strawberry.field(description="The last day of the term, inclusive (a PO's is its order's).")
    status: BudgetSourceStatus = strawberry.field(
        description="CANCELLED if cancelled (a PO also with its order), else EXPIRED once endDate is before today "
        "(UTC), else ACTIVE."
    )
    allocated_percent: Decimal = strawberry.field(
        description="allocatedAmount / amount * 100, two fraction digits, rounded half up."
    )
    spent_percent: Decimal = strawberry.field(
        description="spentAmount / amount * 100, two fraction digits, rounded half up."
    )
    days_left: int = strawberry.field(
        description="Days from today (UTC) to endDate, both counted (1 on the last day); 0 once expired."
    )
    selectable: bool = strawberry.field(
        description="status is ACTIVE and it is of the kind its account uses (PO or order)."
    )

    @strawberry.field(description="Campaigns drawing on it, newest first; first is at most 100.")
    async def campaigns(
        self,
        info: Info,
        first: PageSize = campaigns.PAGE_SIZE,
        after: After = None,
        status: StatusFilter = None,
    ) -> Connection[CampaignRef]:
        page = await campaigns.of_source(
            info.context, self.record, page_size(first, campaigns.PAGE_SIZE), after, status.value if status else None
        )
        return await campaigns_types.campaign_page(info, page)

    @strawberry.field(description="The allocation ledger, newest first (for an order: with its POs' entries).")
    async def allocations(self, info: Info, first: PageSize = 50, after: After = None) -> Connection[AllocationRef]:
        page = await campaigns.allocations_of_source(info.context, self.record, page_size(first, 50), after)
        return Connection.of(page, campaigns_types.Allocation.from_record)

    @strawberry.field(
        description="Every change of its amount or end date by the account team (R18), oldest first: a PO's own; an "
        "order's own, its term included."
    )
    async def amendments(self, info: Info) -> list[Amendment]:
        return [Amendment.from_record(r) for r in await budget_sources.amendments_of(info.context, self.record)]

    @strawberry.field(
        description="Change requests about it (R19), newest first, at most 100 (an order's include its POs')."
    )
    async def change_requests(
        self,
        info: Info,
        status: Annotated[
            BudgetChangeRequestStatus | None,
            strawberry.argument(description="Only requests in this status; null: all."),
        ] = None,
    ) -> list[BudgetChangeRequestRef]:
        rows = await change_requests.of_source(info.context, self.record, status.value if status else None)
        return [change_requests_types.BudgetChangeRequest.from_record(r) for r in rows]


SOURCE_VALUES: Values = {
    "id": lambda s: strawberry.ID(ids.encode(s["kind"], s["id"])),
    "purchase_order_number": itemgetter("po_number"),
}


class FromSourceRecord(FromRecord):
    """Order and PurchaseOrder: built from a source record (one shape for both)."""

    VALUES = SOURCE_VALUES


@strawberry.type(
    description="A signed order: total, currency and term of the agreement; the budget source of accounts without POs."
)
class Order(Node, BudgetSource, FromSourceRecord):
    @strawberry.field(description="The purchase orders recorded under this order, oldest first.")
    async def purchase_orders(self, info: Info) -> list[PurchaseOrder]:
        found = await budget_sources.purchase_orders_of_order(info.context, self.record["id"])
        return [PurchaseOrder.from_record(r) for r in found]

    @strawberry.field(description="The account it belongs to.")
    async def account(self, info: Info) -> AccountRef:
        return await accounts_types.account_of(info, self.record["account_id"])


@strawberry.type(
    description="A customer's purchase order under one order, with its own amount; the budget source of accounts "
    "that require POs."
)
class PurchaseOrder(Node, BudgetSource, FromSourceRecord):
    @strawberry.field(description="The order it belongs to; its currency and term are the order's.")
    def order(self, info: Info) -> Order:
        found = related(info.context.loaders, info.context.loaders.order, self.record["order_id"], Order.from_record)
        return cast("Order", found)

    @strawberry.field(description="The account it belongs to.")
    async def account(self, info: Info) -> AccountRef:
        return await accounts_types.account_of(info, self.record["account_id"])


def source_from_record(record: Record) -> Order | PurchaseOrder:
    return PurchaseOrder.from_record(record) if record["kind"] == "PurchaseOrder" else Order.from_record(record)


async def source_named(info: Info, order_id: int, purchase_order_id: int | None) -> Order | PurchaseOrder:
    """The source a row names by (order_id, purchase_order_id): it always exists."""
    return source_from_record(must(await budget_sources.load(info.context, order_id, purchase_order_id)))


@strawberry.type(description="One change of a source's amount or end date by the account team (R18).")
class Amendment(FromRecord):
    record: strawberry.Private[Record]
    at: datetime = strawberry.field(description="When it was made (UTC).")
    actor: str = strawberry.field(description="The account team's key that made it.")
    amount_before: Decimal = strawberry.field(description="The source's amount before.")
    amount_after: Decimal = strawberry.field(description="The source's amount after.")
    end_date_before: date = strawberry.field(description="The term's end before (a PO's is its order's).")
    end_date_after: date = strawberry.field(description="The term's end after.")
    note: str = strawberry.field(description="Why (a change request's amendment names the request).")

    VALUES = {"at": itemgetter("created_at")}
