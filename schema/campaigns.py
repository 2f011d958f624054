"""GraphQL types: Campaigns, the allocation ledger (R10) and daily spend (R11).

Shapes only: each field delegates to `resolvers`. Types of other aggregates are referred to
lazily (strawberry.lazy), so these modules may refer to each other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment

from db.reads import Record
from resolvers import campaigns, spend
from resolvers.pagination import Page
from schema import accounts as accounts_types
from schema import audiences as audiences_types
from schema import budget_sources as budget_sources_types
from schema.common import (
    After,
    Connection,
    Edge,
    FromRecord,
    Info,
    Node,
    PageSize,
    id_of,
    must,
    page_size,
    related,
)
from schema.enums import CampaignEndReason, CampaignField, CampaignStatus, CampaignStep

if TYPE_CHECKING:
    from schema.accounts import Account
    from schema.audiences import Audience
    from schema.budget_sources import BudgetSource, Order, PurchaseOrder


AccountRef = Annotated["Account", strawberry.lazy("schema.accounts")]
AudienceRef = Annotated["Audience", strawberry.lazy("schema.audiences")]
BudgetSourceRef = Annotated["BudgetSource", strawberry.lazy("schema.budget_sources")]
OrderRef = Annotated["Order", strawberry.lazy("schema.budget_sources")]
PurchaseOrderRef = Annotated["PurchaseOrder", strawberry.lazy("schema.budget_sources")]


def node_fields(info: Info) -> set[str]:
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


async def campaign_page(info: Info, page: Page[Record]) -> Connection[Campaign]:
    await campaigns.prefetch(info.context, page.items, node_fields(info))
    return Connection.of(page, Campaign.from_record)


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
    currency: str | None = strawberry.field(description="The budget source's currency, once one is assigned.")
    released_amount: Decimal = strawberry.field(
        description="What settlement returned to the budget source (R14); 0.00 before."
    )
    paused_at: datetime | None = strawberry.field(description="When it was paused; null unless PAUSED.")
    ended_at: datetime | None = strawberry.field(description="When it ended (UTC); null unless ENDED.")
    end_reason: CampaignEndReason | None = strawberry.field(description="Why it ended; null unless ENDED.")
    settled_at: datetime | None = strawberry.field(description="When its spend became final and the rest returned.")

    VALUES = {"id": id_of("Campaign")}

    @strawberry.field(description="Daily spend records, newest day first; first is at most 100.")
    async def spend(self, info: Info, first: PageSize = 31, after: After = None) -> SpendConnection:
        page = await spend.days_of_campaign(info.context, self.record["id"], page_size(first, 31), after)
        return SpendConnection.of(page, SpendRecord.from_record)

    # These return the object at once when a list field prefetched it (campaigns.prefetch),
    # else an awaitable that loads it: graphql-core awaits whatever is awaitable.
    @strawberry.field(description="The audience chosen in step 1; null until chosen.")
    def audience(self, info: Info) -> AudienceRef | None:
        found = related(
            info.context.loaders,
            info.context.loaders.audience,
            self.record["audience_id"],
            audiences_types.Audience.from_record,
        )
        return cast("Audience | None", found)

    @strawberry.field(description="The Order or PurchaseOrder it draws on (R4); null until assigned.")
    def budget_source(self, info: Info) -> BudgetSourceRef | None:
        key = campaigns.source_key(self.record)
        if key is None:
            return None
        return cast(
            "BudgetSource | None",
            related(
                info.context.loaders,
                info.context.loaders.source(key[0]),
                key[1],
                budget_sources_types.source_from_record,
            ),
        )

    @strawberry.field(description="The order behind the source: the source itself, or the PO's order.")
    def order(self, info: Info) -> OrderRef | None:
        return cast(
            "Order | None",
            related(
                info.context.loaders,
                info.context.loaders.order,
                self.record["order_id"],
                budget_sources_types.Order.from_record,
            ),
        )

    @strawberry.field(description="Null when the source is an order.")
    def purchase_order(self, info: Info) -> PurchaseOrderRef | None:
        loaders = info.context.loaders
        found = related(
            loaders,
            loaders.purchase_order,
            self.record["purchase_order_id"],
            budget_sources_types.PurchaseOrder.from_record,
        )
        return cast("PurchaseOrder | None", found)

    @strawberry.field(description="The account it belongs to.")
    async def account(self, info: Info) -> AccountRef:
        return await accounts_types.account_of(info, self.record["account_id"])


@strawberry.type(description="One entry of the append-only allocation ledger (R10).")
class Allocation(Node, FromRecord):
    record: strawberry.Private[Record]
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

    VALUES = {"id": id_of("Allocation"), "at": itemgetter("created_at")}

    @strawberry.field(description="The campaign whose allocation changed.")
    async def campaign(self, info: Info) -> Campaign:
        return Campaign.from_record(must(await info.context.loaders.campaign.load(self.record["campaign_id"])))


@strawberry.type(description="A campaign's spend on one UTC day: the figure of the day's latest report (R11).")
class SpendRecord(Node, FromRecord):
    record: strawberry.Private[Record]
    day: date = strawberry.field(name="date", description="The UTC day.")
    amount: Decimal = strawberry.field(description="What the campaign spent that day: the figure of the latest report.")
    reported_by: str = strawberry.field(description="The API key whose report set this figure.")
    reported_at: datetime = strawberry.field(description="When the report that set this figure arrived (UTC).")
    restatements: int = strawberry.field(description="How many later reports changed the day's figure.")

    VALUES = {"id": id_of("SpendRecord")}

    @strawberry.field(description="The campaign that spent it.")
    async def campaign(self, info: Info) -> Campaign:
        return Campaign.from_record(must(await info.context.loaders.campaign.load(self.record["campaign_id"])))


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


@strawberry.type(description="What deleteCampaignDraft deleted.")
class Deleted:
    deleted_id: strawberry.ID = strawberry.field(description="The global ID the deleted draft had.")
