"""GraphQL object types. Each field delegates to `resolvers`; no SQL and no rules here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar, cast

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types.nodes import FragmentSpread, InlineFragment

from db import reads
from db.models import (
    AccountRow,
    ActivityRow,
    AllocationRow,
    AmendmentRow,
    ApiKeyRow,
    AudienceRow,
    BudgetAlertRow,
    BudgetChangeRequestRow,
    CampaignRow,
    OrderRow,
    PurchaseOrderRow,
    SpendDayRow,
)
from db.reads import Record
from resolvers import accounts, activity, alerts, audiences, budget_sources, campaigns, change_requests, ids, spend
from resolvers.context import Context
from resolvers.loaders import cached
from resolvers.pagination import Page
from schema.enums import (
    AlertKind,
    BudgetChangeRequestStatus,
    BudgetSourceStatus,
    CampaignEndReason,
    CampaignField,
    CampaignStatus,
    CampaignStep,
    Role,
)

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
    """A type built from a record of the read model (db/reads.py), by both executors.

    `VALUES` maps each stored field (by its Python name) to its value in a record: the one place
    where columns become GraphQL fields. A field is computed the first time it is read (graphql-
    core and budgetline/compiled.py both read it as an attribute), so a query pays only for the
    fields it asks for."""

    VALUES: ClassVar[Values] = {}

    @classmethod
    def from_record(cls, record: Record) -> Self:
        built = cls.__new__(cls)
        built.__dict__["record"] = record
        return built

    def __getattr__(self, name: str) -> Any:
        value_of = type(self).VALUES.get(name)
        if value_of is None:
            raise AttributeError(name)
        value = self.__dict__[name] = value_of(self.__dict__["record"])
        return value


def _id(type_name: str) -> Callable[[Record], strawberry.ID]:
    return lambda r: strawberry.ID(ids.encode(type_name, r["id"]))


def _first(first: int | None, default: int) -> int:
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


@strawberry.type(description="A customer company (the tenant): its budget sources, audiences and campaigns.")
class Account(Node, FromRecord):
    record: strawberry.Private[Record]
    name: str = strawberry.field(description="The company's name.")
    requires_purchase_order: bool = strawberry.field(
        description="True: its campaigns draw on purchase orders; false: on orders (R4)."
    )

    VALUES = {
        "id": _id("Account"),
        "name": itemgetter("name"),
        "requires_purchase_order": itemgetter("requires_purchase_order"),
    }

    @classmethod
    def from_row(cls, row: AccountRow) -> Account:
        return cls.from_record(reads.record_of(row))

    @strawberry.field(
        description="The step-2 drop-down: selectable sources of the kind the account uses (POs or orders); "
        "includeInactive adds EXPIRED and CANCELLED ones."
    )
    async def budget_sources(
        self,
        info: Info,
        include_inactive: Annotated[
            bool | None,
            strawberry.argument(description="True adds the EXPIRED and CANCELLED sources of the account's kind."),
        ] = False,
    ) -> list[BudgetSource]:
        found = await budget_sources.list_for_account(
            info.context, self.record, include_inactive=bool(include_inactive)
        )
        return [source_from_record(r) for r in found]

    @strawberry.field(description="Every order of the account, whatever its status, oldest first.")
    async def orders(self, info: Info) -> list[Order]:
        return [Order.from_record(r) for r in await budget_sources.orders_of_account(info.context, self.record["id"])]

    @strawberry.field(description="Every purchase order of the account, whatever its status, oldest first.")
    async def purchase_orders(self, info: Info) -> list[PurchaseOrder]:
        found = await budget_sources.purchase_orders_of_account(info.context, self.record["id"])
        return [PurchaseOrder.from_record(r) for r in found]

    @strawberry.field(description="The account's audiences (at most 100), by name.")
    async def audiences(self, info: Info) -> list[Audience]:
        return [Audience.from_record(r) for r in await audiences.list_for_account(info.context, self.record["id"])]

    @strawberry.field(description="Newest first; first is at most 100.")
    async def campaigns(
        self,
        info: Info,
        first: PageSize = campaigns.PAGE_SIZE,
        after: After = None,
        status: StatusFilter = None,
    ) -> Connection[Campaign]:
        page = await campaigns.of_account(
            info.context, self.record["id"], _first(first, campaigns.PAGE_SIZE), after, status.value if status else None
        )
        return await _campaign_page(info, page)

    @strawberry.field(description="When its alerts are raised (R15, R16); updateAlertSettings changes them.")
    def alert_settings(self) -> AlertSettings:
        return AlertSettings(
            thresholds=list(self.record["alert_thresholds"]), expiry_warning_days=self.record["expiry_warning_days"]
        )

    @strawberry.field(description="Its budget alerts, newest first; first is at most 100.")
    async def alerts(
        self,
        info: Info,
        first: PageSize = 20,
        after: After = None,
        acknowledged: Annotated[
            bool | None,
            strawberry.argument(description="True: only acknowledged alerts; false: only open ones; null: all."),
        ] = None,
    ) -> Connection[BudgetAlert]:
        page = await alerts.of_account(info.context, self.record["id"], _first(first, 20), after, acknowledged)
        return Connection.of(page, BudgetAlert.from_row)

    @strawberry.field(description="Its change requests (R19), newest first; first is at most 100.")
    async def change_requests(
        self,
        info: Info,
        first: PageSize = 20,
        after: After = None,
        status: Annotated[
            BudgetChangeRequestStatus | None,
            strawberry.argument(description="Only requests in this status; null: all."),
        ] = None,
    ) -> Connection[BudgetChangeRequest]:
        page = await change_requests.of_account(
            info.context, self.record["id"], _first(first, 20), after, status.value if status else None
        )
        return Connection.of(page, BudgetChangeRequest.from_row)

    @strawberry.field(
        description="The trace of every change (R20), newest first; first is at most 100. Every role of the account "
        "reads it."
    )
    async def activity(self, info: Info, first: PageSize = 50, after: After = None) -> Connection[ActivityEntry]:
        page = await activity.of_account(info.context, self.record["id"], _first(first, 50), after)
        return Connection.of(page, ActivityEntry.from_row)


@strawberry.type(description="When an account's alerts are raised (R15, R16).")
class AlertSettings:
    thresholds: list[int] = strawberry.field(
        description="Percentages (1 to 100, ascending) whose upward crossing raises ALLOCATION_THRESHOLD and "
        "SPEND_THRESHOLD alerts; default [50, 80, 95, 100]."
    )
    expiry_warning_days: int = strawberry.field(
        description="EXPIRING_UNUSED_BUDGET when a source ends within this many days (0: off); default 30."
    )


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

    @strawberry.field(description="status is ACTIVE and it is of the kind its account uses (PO or order).")
    def selectable(self, info: Info) -> bool:
        def judge(account: Record | None) -> bool:
            return budget_sources.selectable(self.record, _must(account)["requires_purchase_order"])

        found = _related(info.context.loaders.account, self.record["account_id"], judge)
        return cast("bool", found)

    @strawberry.field(description="Campaigns drawing on it, newest first; first is at most 100.")
    async def campaigns(
        self,
        info: Info,
        first: PageSize = campaigns.PAGE_SIZE,
        after: After = None,
        status: StatusFilter = None,
    ) -> Connection[Campaign]:
        page = await campaigns.of_source(
            info.context, self.record, _first(first, campaigns.PAGE_SIZE), after, status.value if status else None
        )
        return await _campaign_page(info, page)

    @strawberry.field(description="The allocation ledger, newest first (for an order: with its POs' entries).")
    async def allocations(self, info: Info, first: PageSize = 50, after: After = None) -> Connection[Allocation]:
        page = await campaigns.allocations_of_source(info.context, self.record, _first(first, 50), after)
        return Connection.of(page, Allocation.from_row)

    @strawberry.field(
        description="Every change of its amount or end date by the account team (R18), oldest first: a PO's own; an "
        "order's own, its term included."
    )
    async def amendments(self, info: Info) -> list[Amendment]:
        return [Amendment.from_row(r) for r in await budget_sources.amendments_of(info.context, self.record)]

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
    ) -> list[BudgetChangeRequest]:
        rows = await change_requests.of_source(info.context, self.record, status.value if status else None)
        return [BudgetChangeRequest.from_row(r) for r in rows]


SOURCE_VALUES: Values = {
    "id": lambda s: strawberry.ID(budget_sources.global_id(s)),
    "order_number": itemgetter("order_number"),
    "purchase_order_number": itemgetter("po_number"),
    "display_name": budget_sources.display_name,
    "amount": itemgetter("amount"),
    "currency": itemgetter("currency"),
    "allocated_amount": itemgetter("allocated_amount"),
    "unallocated_amount": budget_sources.unallocated,
    "draft_amount": itemgetter("draft_amount"),
    "spent_amount": itemgetter("spent_amount"),
    "pending_release_amount": itemgetter("pending_release_amount"),
    "start_date": itemgetter("start_date"),
    "end_date": itemgetter("end_date"),
    "status": lambda s: BudgetSourceStatus(budget_sources.status(s)),
    "allocated_percent": lambda s: budget_sources.percent_of(s["allocated_amount"], s["amount"]),
    "spent_percent": lambda s: budget_sources.percent_of(s["spent_amount"], s["amount"]),
    "days_left": budget_sources.days_left,
}


@strawberry.type(
    description="A signed order: total, currency and term of the agreement; the budget source of accounts without POs."
)
class Order(Node, BudgetSource, FromRecord):
    VALUES = SOURCE_VALUES

    @classmethod
    def from_row(cls, row: OrderRow) -> Order:
        """An order a mutation wrote, seen as the record a read would return."""
        return cls.from_record(reads.source_record(row))

    @strawberry.field(description="The purchase orders recorded under this order, oldest first.")
    async def purchase_orders(self, info: Info) -> list[PurchaseOrder]:
        found = await budget_sources.purchase_orders_of_order(info.context, self.record["id"])
        return [PurchaseOrder.from_record(r) for r in found]

    @strawberry.field(description="The account it belongs to.")
    async def account(self, info: Info) -> Account:
        return Account.from_record(_must(await info.context.loaders.account.load(self.record["account_id"])))


@strawberry.type(
    description="A customer's purchase order under one order, with its own amount; the budget source of accounts "
    "that require POs."
)
class PurchaseOrder(Node, BudgetSource, FromRecord):
    VALUES = SOURCE_VALUES

    @classmethod
    def from_row(cls, row: PurchaseOrderRow) -> PurchaseOrder:
        """A PO a mutation wrote, seen as the record a read would return."""
        return cls.from_record(reads.source_record(row))

    @strawberry.field(description="The order it belongs to; its currency and term are the order's.")
    def order(self, info: Info) -> Order:
        found = _related(info.context.loaders.order, self.record["order_id"], Order.from_record)
        return cast("Order", found)

    @strawberry.field(description="The account it belongs to.")
    async def account(self, info: Info) -> Account:
        return Account.from_record(_must(await info.context.loaders.account.load(self.record["account_id"])))


def source_from_record(record: Record) -> Order | PurchaseOrder:
    return PurchaseOrder.from_record(record) if record["kind"] == "PurchaseOrder" else Order.from_record(record)


def source_from_row(row: OrderRow | PurchaseOrderRow) -> Order | PurchaseOrder:
    """A source a mutation wrote, seen as the record a read would return."""
    return PurchaseOrder.from_row(row) if isinstance(row, PurchaseOrderRow) else Order.from_row(row)


def _related(
    loader: DataLoader[int, Any], key: int | None, convert: Callable[[Any], T]
) -> T | Awaitable[T | None] | None:
    """The converted row of `key` now if the loader holds it, else an awaitable of it
    (resolvers return either; graphql-core awaits what is awaitable)."""
    if key is None:
        return None
    hit, row = cached(loader, key)
    if hit:
        return convert(row) if row is not None else None
    return _load_related(loader, key, convert)


async def _load_related(loader: DataLoader[int, Any], key: int, convert: Callable[[Any], T]) -> T | None:
    row = await loader.load(key)
    return convert(row) if row is not None else None


def _node_fields(info: Info) -> set[str]:
    """Field names selected under `edges { node { ... } }` of this connection (fragments flattened)."""
    names: set[str] = set()

    def walk(selections: list[Any], depth: int) -> None:
        for selection in selections:
            if isinstance(selection, (FragmentSpread, InlineFragment)):
                walk(selection.selections, depth)
            elif depth == 2:
                names.add(selection.name)
            elif selection.name == ("edges", "node")[depth]:
                walk(selection.selections, depth + 1)

    for field in info.selected_fields:
        walk(field.selections, 0)
    return names


async def _campaign_page(info: Info, page: Page[Record]) -> Connection[Campaign]:
    await campaigns.prefetch(info.context, page.items, _node_fields(info))
    return Connection.of(page, Campaign.from_record)


def _must(value: Any) -> Any:
    # Foreign keys guarantee the row; a None here is a server fault, not a user error.
    if value is None:
        raise LookupError("referenced row is missing")
    return value


@strawberry.type(description="A target audience of an account's campaigns, chosen in wizard step 1.")
class Audience(Node, FromRecord):
    record: strawberry.Private[Record]
    name: str = strawberry.field(description="Its name, unique in the account.")

    VALUES = {"id": _id("Audience"), "name": itemgetter("name")}

    @classmethod
    def from_row(cls, row: AudienceRow) -> Audience:
        return cls.from_record(reads.record_of(row))


@strawberry.type(
    description="An advertising campaign: a draft built in the wizard, then published, paused, ended and settled."
)
class Campaign(Node, FromRecord):
    record: strawberry.Private[Record]
    name: str = strawberry.field(description="Its name; the one field that stays editable once ENDED (R12).")
    status: CampaignStatus = strawberry.field(description="DRAFT, PUBLISHED (live), PAUSED or ENDED.")
    step: CampaignStep = strawberry.field(description="A published campaign reports REVIEW.")
    budget: Decimal | None = strawberry.field(description="What it may spend, greater than 0; null until set.")
    start_date: date | None = strawberry.field(description="The schedule's first day; null until set.")
    end_date: date | None = strawberry.field(description="The schedule's last day, inclusive; null until set.")
    locked_fields: list[CampaignField] = strawberry.field(
        description="[] on a draft; [AUDIENCE, BUDGET_SOURCE] once published or paused; all but NAME once ENDED."
    )
    version: int = strawberry.field(
        description="1 at creation, +1 on every committed change (spend reports excepted); pass it as expectedVersion "
        "to detect conflicts (R7)."
    )
    published_at: datetime | None = strawberry.field(description="When it was published (UTC); null on a draft.")
    created_at: datetime = strawberry.field(description="When the draft was created (UTC).")
    updated_at: datetime = strawberry.field(description="When its version last changed (UTC).")
    spent_amount: Decimal = strawberry.field(
        description="Sum of the daily spend (the latest report of each day); 0.00 before any report."
    )
    remaining_amount: Decimal | None = strawberry.field(description="budget - spentAmount; null while budget is.")
    released_amount: Decimal = strawberry.field(
        description="What settlement returned to the budget source (R14); 0.00 before."
    )
    paused_at: datetime | None = strawberry.field(description="When it was paused; null unless PAUSED.")
    ended_at: datetime | None = strawberry.field(description="When it ended (UTC); null unless ENDED.")
    end_reason: CampaignEndReason | None = strawberry.field(description="Why it ended; null unless ENDED.")
    settled_at: datetime | None = strawberry.field(description="When its spend became final and the rest returned.")

    VALUES = {
        "id": _id("Campaign"),
        "name": itemgetter("name"),
        "status": lambda c: CampaignStatus(c["status"]),
        "step": lambda c: CampaignStep(c["step"]),
        "budget": itemgetter("budget"),
        "start_date": itemgetter("start_date"),
        "end_date": itemgetter("end_date"),
        "locked_fields": lambda c: [CampaignField(f) for f in campaigns.locked_fields(c["status"])],
        "version": itemgetter("version"),
        "published_at": itemgetter("published_at"),
        "created_at": itemgetter("created_at"),
        "updated_at": itemgetter("updated_at"),
        "spent_amount": itemgetter("spent_amount"),
        "remaining_amount": lambda c: campaigns.remaining(c["budget"], c["spent_amount"]),
        "released_amount": itemgetter("released_amount"),
        "paused_at": itemgetter("paused_at"),
        "ended_at": itemgetter("ended_at"),
        "end_reason": lambda c: CampaignEndReason(c["end_reason"]) if c["end_reason"] else None,
        "settled_at": itemgetter("settled_at"),
    }

    @classmethod
    def from_row(cls, row: CampaignRow) -> Campaign:
        """A campaign a mutation wrote, seen as the record a read would return."""
        return cls.from_record(reads.record_of(row))

    @strawberry.field(description="Daily spend records, newest day first; first is at most 100.")
    async def spend(self, info: Info, first: PageSize = 31, after: After = None) -> SpendConnection:
        page = await spend.days_of_campaign(info.context, self.record["id"], _first(first, 31), after)
        return SpendConnection.of(page, SpendRecord.from_row)

    # These return the object at once when a list field prefetched it (campaigns.prefetch),
    # else an awaitable that loads it: graphql-core awaits whatever is awaitable.
    @strawberry.field(description="The audience chosen in step 1; null until chosen.")
    def audience(self, info: Info) -> Audience | None:
        found = _related(info.context.loaders.audience, self.record["audience_id"], Audience.from_record)
        return cast("Audience | None", found)

    @strawberry.field(description="The budget source's currency, once one is assigned.")
    def currency(self, info: Info) -> str | None:
        found = _related(info.context.loaders.order, self.record["order_id"], lambda o: o["currency"])
        return cast("str | None", found)

    @strawberry.field(description="The Order or PurchaseOrder it draws on (R4); null until assigned.")
    def budget_source(self, info: Info) -> BudgetSource | None:
        key = campaigns.source_key(self.record)
        if key is None:
            return None
        return cast("BudgetSource | None", _related(info.context.loaders.source(key[0]), key[1], source_from_record))

    @strawberry.field(description="The order behind the source: the source itself, or the PO's order.")
    def order(self, info: Info) -> Order | None:
        return cast("Order | None", _related(info.context.loaders.order, self.record["order_id"], Order.from_record))

    @strawberry.field(description="Null when the source is an order.")
    def purchase_order(self, info: Info) -> PurchaseOrder | None:
        loaders = info.context.loaders
        found = _related(loaders.purchase_order, self.record["purchase_order_id"], PurchaseOrder.from_record)
        return cast("PurchaseOrder | None", found)

    @strawberry.field(description="The account it belongs to.")
    async def account(self, info: Info) -> Account:
        return Account.from_record(_must(await info.context.loaders.account.load(self.record["account_id"])))


@strawberry.type(description="One entry of the append-only allocation ledger (R10).")
class Allocation(Node):
    row: strawberry.Private[AllocationRow]
    delta: Decimal = strawberry.field(
        description="The change to allocatedAmount: positive on publish and budget increase, negative on budget "
        "decrease and release."
    )
    reason: str = strawberry.field(
        description='Why: "publish", "budget increase", "budget decrease" or "release" (R14).'
    )
    actor: str = strawberry.field(
        description='Who: "api-key:<id> (<key name>)", or "budgetline sweeper" for the sweeper\'s settlements.'
    )
    at: datetime = strawberry.field(description="When it was recorded (UTC).")

    @classmethod
    def from_row(cls, row: AllocationRow) -> Allocation:
        return cls(
            id=strawberry.ID(ids.encode("Allocation", row.id)),
            row=row,
            delta=row.delta,
            reason=row.reason,
            actor=row.actor,
            at=row.created_at,
        )

    @strawberry.field(description="The campaign whose allocation changed.")
    async def campaign(self, info: Info) -> Campaign:
        return Campaign.from_record(_must(await info.context.loaders.campaign.load(self.row.campaign_id)))


@strawberry.type(description="A budget alert (R15, R16): raised in the transaction that caused it.")
class BudgetAlert(Node):
    row: strawberry.Private[BudgetAlertRow]
    kind: AlertKind = strawberry.field(description="What happened.")
    threshold: int | None = strawberry.field(
        description="The percentage crossed, for ALLOCATION_THRESHOLD and SPEND_THRESHOLD; null otherwise."
    )
    amount: Decimal | None = strawberry.field(
        description="The unallocated amount (EXPIRING_UNUSED_BUDGET) or the released one (BUDGET_RETURNED); null "
        "otherwise."
    )
    raised_at: datetime = strawberry.field(description="When it was raised (UTC).")
    acknowledged_at: datetime | None = strawberry.field(description="When acknowledgeAlert marked it; null until then.")
    acknowledged_by: str | None = strawberry.field(description="The key that acknowledged it; null until then.")

    @classmethod
    def from_row(cls, row: BudgetAlertRow) -> BudgetAlert:
        return cls(
            id=strawberry.ID(ids.encode("BudgetAlert", row.id)),
            row=row,
            kind=AlertKind(row.kind),
            threshold=row.threshold,
            amount=row.amount,
            raised_at=row.raised_at,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
        )

    @strawberry.field(description="The source it is about (for a PO's change that crossed on its order: the order).")
    async def budget_source(self, info: Info) -> BudgetSource:
        return source_from_record(
            _must(await budget_sources.load(info.context, self.row.order_id, self.row.purchase_order_id))
        )

    @strawberry.field(description="The campaign whose change raised it; null for EXPIRING_UNUSED_BUDGET.")
    def campaign(self, info: Info) -> Campaign | None:
        return cast(
            "Campaign | None", _related(info.context.loaders.campaign, self.row.campaign_id, Campaign.from_record)
        )

    @strawberry.field(description="What happened, in a sentence naming the source.")
    async def message(self, info: Info) -> str:
        return alerts.message(
            self.row, _must(await budget_sources.load(info.context, self.row.order_id, self.row.purchase_order_id))
        )


@strawberry.type(description="One change of a source's amount or end date by the account team (R18).")
class Amendment:
    at: datetime = strawberry.field(description="When it was made (UTC).")
    actor: str = strawberry.field(description="The account team's key that made it.")
    amount_before: Decimal = strawberry.field(description="The source's amount before.")
    amount_after: Decimal = strawberry.field(description="The source's amount after.")
    end_date_before: date = strawberry.field(description="The term's end before (a PO's is its order's).")
    end_date_after: date = strawberry.field(description="The term's end after.")
    note: str = strawberry.field(description="Why (a change request's amendment names the request).")

    @classmethod
    def from_row(cls, row: AmendmentRow) -> Amendment:
        return cls(
            at=row.created_at,
            actor=row.actor,
            amount_before=row.amount_before,
            amount_after=row.amount_after,
            end_date_before=row.end_date_before,
            end_date_after=row.end_date_after,
            note=row.note,
        )


@strawberry.type(description="A customer's request to the account team for a new amount and/or end date (R19).")
class BudgetChangeRequest(Node):
    row: strawberry.Private[BudgetChangeRequestRow]
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

    @classmethod
    def from_row(cls, row: BudgetChangeRequestRow) -> BudgetChangeRequest:
        return cls(
            id=strawberry.ID(ids.encode("BudgetChangeRequest", row.id)),
            row=row,
            status=BudgetChangeRequestStatus(row.status),
            amount=row.amount,
            end_date=row.end_date,
            note=row.note,
            requested_by=row.requested_by,
            requested_at=row.requested_at,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            decision_note=row.decision_note,
        )

    @strawberry.field(description="The Order or PurchaseOrder it is about.")
    async def budget_source(self, info: Info) -> BudgetSource:
        return source_from_record(
            _must(await budget_sources.load(info.context, self.row.order_id, self.row.purchase_order_id))
        )


@strawberry.type(description="One field a change changed, with its values as the API writes them (null: none).")
class FieldChange:
    field: str = strawberry.field(description='The GraphQL field name, e.g. "status".')
    before: str | None = strawberry.field(description='The value before, e.g. "DRAFT" or "12.00"; null: none.')
    after: str | None = strawberry.field(description='The value after, e.g. "PUBLISHED"; null: none (deleted).')


@strawberry.type(description="One entry of the trace (R20): a successful mutation, a spend report or a sweeper action.")
class ActivityEntry(Node):
    row: strawberry.Private[ActivityRow]
    at: datetime = strawberry.field(description="When it happened (UTC): the start of its transaction.")
    actor: str = strawberry.field(description='The key that did it, or "budgetline" for the sweeper.')
    request_id: str | None = strawberry.field(
        description="The request's X-Request-Id (as in the server's log line); null for the sweeper."
    )
    operation: str = strawberry.field(
        description="The mutation's field name, e.g. \"publishCampaign\"; the sweeper's: endCampaign, settleCampaign, "
        "raiseAlert."
    )
    subject_id: strawberry.ID = strawberry.field(description="The global ID of what it changed.")
    changes: list[FieldChange] = strawberry.field(
        description="The fields that changed, before and after; never a secret."
    )

    @classmethod
    def from_row(cls, row: ActivityRow) -> ActivityEntry:
        return cls(
            id=strawberry.ID(ids.encode("ActivityEntry", row.id)),
            row=row,
            at=row.at,
            actor=row.actor,
            request_id=row.request_id,
            operation=row.operation,
            subject_id=strawberry.ID(row.subject_id),
            changes=[
                FieldChange(field=c["field"] or "", before=c.get("before"), after=c.get("after")) for c in row.changes
            ],
        )


@strawberry.type(description="A campaign's spend on one UTC day: the figure of the day's latest report (R11).")
class SpendRecord(Node):
    row: strawberry.Private[SpendDayRow]
    day: date = strawberry.field(name="date", description="The UTC day.")
    amount: Decimal = strawberry.field(description="What the campaign spent that day: the figure of the latest report.")
    reported_by: str = strawberry.field(description="The API key whose report set this figure.")
    reported_at: datetime = strawberry.field(description="When the report that set this figure arrived (UTC).")
    restatements: int = strawberry.field(description="How many later reports changed the day's figure.")

    @classmethod
    def from_row(cls, row: SpendDayRow) -> SpendRecord:
        return cls(
            id=strawberry.ID(ids.encode("SpendRecord", row.id)),
            row=row,
            day=row.day,
            amount=row.amount,
            reported_by=row.reported_by,
            reported_at=row.reported_at,
            restatements=row.restatements,
        )

    @strawberry.field(description="The campaign that spent it.")
    async def campaign(self, info: Info) -> Campaign:
        return Campaign.from_record(_must(await info.context.loaders.campaign.load(self.row.campaign_id)))


@strawberry.type(name="SpendEdge", description="One day of a SpendConnection page, with its cursor.")
class SpendEdge(Edge[SpendRecord]):
    pass


@strawberry.type(
    name="SpendConnection",
    description="A page of a campaign's daily spend records, newest day first (a Relay connection).",
)
class SpendConnection(Connection[SpendRecord]):
    # API.md names these two (not SpendRecordConnection / SpendRecordEdge, the generic's names).
    edges: Sequence[SpendEdge] = strawberry.field(description="The days of this page, newest first.")


@strawberry.type(description="An API key, seen by the account team only; its secret is shown once, on issue.")
class ApiKey(Node):
    row: strawberry.Private[ApiKeyRow]
    name: str = strawberry.field(description="Its name; ledgers name the key by it (actor, reportedBy).")
    role: Role = strawberry.field(description="What it may do.")
    secret: str | None = strawberry.field(description="Shown once, in the issueApiKey result; null afterwards.")
    created_at: datetime = strawberry.field(description="When it was issued (UTC).")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked (UTC); null while it works.")

    @classmethod
    def from_row(cls, row: ApiKeyRow, secret: str | None = None) -> ApiKey:
        return cls(
            id=strawberry.ID(ids.encode("ApiKey", row.id)),
            row=row,
            name=row.name,
            role=Role(row.role),
            secret=secret,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )

    @strawberry.field(description="The account it belongs to; null for ACCOUNT_TEAM and DELIVERY keys.")
    async def account(self, info: Info) -> Account | None:
        if self.row.account_id is None:
            return None
        found = await info.context.loaders.account.load(self.row.account_id)
        return Account.from_record(found) if found else None


@strawberry.type(description="Who is asking: the API key of this request.")
class Viewer:
    role: Role = strawberry.field(description="The key's role.")
    api_key_name: str = strawberry.field(description="The key's name.")

    @strawberry.field(description="Null for the account team and DELIVERY keys.")
    async def account(self, info: Info) -> Account | None:
        found = await accounts.viewer_account(info.context)
        return Account.from_record(found) if found else None


@strawberry.type(description="What deleteCampaignDraft deleted.")
class Deleted:
    deleted_id: strawberry.ID = strawberry.field(description="The global ID the deleted draft had.")
