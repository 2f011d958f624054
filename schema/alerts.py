"""GraphQL types: Budget alerts (R15, R16).

Shapes only: each field delegates to `resolvers`. Types of other aggregates are referred to
lazily (strawberry.lazy), so these modules may refer to each other."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, cast

import strawberry

from db.reads import Record
from schema import budget_sources as budget_sources_types
from schema import campaigns as campaigns_types
from schema.common import FromRecord, Info, Node, id_of, related
from schema.enums import AlertKind

if TYPE_CHECKING:
    from schema.budget_sources import BudgetSource
    from schema.campaigns import Campaign


BudgetSourceRef = Annotated["BudgetSource", strawberry.lazy("schema.budget_sources")]
CampaignRef = Annotated["Campaign", strawberry.lazy("schema.campaigns")]


@strawberry.type(description="A budget alert (R15, R16): raised in the transaction that caused it.")
class BudgetAlert(Node, FromRecord):
    record: strawberry.Private[Record]
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
    message: str = strawberry.field(description="What happened, in a sentence naming the source.")

    VALUES = {"id": id_of("BudgetAlert")}

    @strawberry.field(description="The source it is about (for a PO's change that crossed on its order: the order).")
    async def budget_source(self, info: Info) -> BudgetSourceRef:
        return await budget_sources_types.source_named(info, self.record["order_id"], self.record["purchase_order_id"])

    @strawberry.field(description="The campaign whose change raised it; null for EXPIRING_UNUSED_BUDGET.")
    def campaign(self, info: Info) -> CampaignRef | None:
        return cast(
            "Campaign | None",
            related(
                info.context.loaders,
                info.context.loaders.campaign,
                self.record["campaign_id"],
                campaigns_types.Campaign.from_record,
            ),
        )
