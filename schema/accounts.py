"""GraphQL types: Account (the tenant), its alert settings, and Viewer (who is asking).

Shapes only: each field delegates to `resolvers`. Types of other aggregates are referred to
lazily (strawberry.lazy), so these modules may refer to each other."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from db.reads import Record
from resolvers import accounts, activity, alerts, audiences, budget_sources, campaigns, change_requests
from schema import activity as activity_types
from schema import alerts as alerts_types
from schema import audiences as audiences_types
from schema import budget_sources as budget_sources_types
from schema import campaigns as campaigns_types
from schema import change_requests as change_requests_types
from schema.common import (
    After,
    Connection,
    FromRecord,
    Info,
    Node,
    PageSize,
    StatusFilter,
    id_of,
    must,
    page_size,
)
from schema.enums import BudgetChangeRequestStatus, Role

if TYPE_CHECKING:
    from schema.activity import ActivityEntry
    from schema.alerts import BudgetAlert
    from schema.audiences import Audience
    from schema.budget_sources import BudgetSource, Order, PurchaseOrder
    from schema.campaigns import Campaign
    from schema.change_requests import BudgetChangeRequest


ActivityEntryRef = Annotated["ActivityEntry", strawberry.lazy("schema.activity")]
AudienceRef = Annotated["Audience", strawberry.lazy("schema.audiences")]
BudgetAlertRef = Annotated["BudgetAlert", strawberry.lazy("schema.alerts")]
BudgetChangeRequestRef = Annotated["BudgetChangeRequest", strawberry.lazy("schema.change_requests")]
BudgetSourceRef = Annotated["BudgetSource", strawberry.lazy("schema.budget_sources")]
CampaignRef = Annotated["Campaign", strawberry.lazy("schema.campaigns")]
OrderRef = Annotated["Order", strawberry.lazy("schema.budget_sources")]
PurchaseOrderRef = Annotated["PurchaseOrder", strawberry.lazy("schema.budget_sources")]


@strawberry.type(description="A customer company (the tenant): its budget sources, audiences and campaigns.")
class Account(Node, FromRecord):
    record: strawberry.Private[Record]
    name: str = strawberry.field(description="The company's name.")
    requires_purchase_order: bool = strawberry.field(
        description="True: its campaigns draw on purchase orders; false: on orders (R4)."
    )

    VALUES = {"id": id_of("Account")}

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
    ) -> list[BudgetSourceRef]:
        found = await budget_sources.list_for_account(
            info.context, self.record, include_inactive=bool(include_inactive)
        )
        return [budget_sources_types.source_from_record(r) for r in found]

    @strawberry.field(description="Every order of the account, whatever its status, oldest first.")
    async def orders(self, info: Info) -> list[OrderRef]:
        return [
            budget_sources_types.Order.from_record(r)
            for r in await budget_sources.orders_of_account(info.context, self.record["id"])
        ]

    @strawberry.field(description="Every purchase order of the account, whatever its status, oldest first.")
    async def purchase_orders(self, info: Info) -> list[PurchaseOrderRef]:
        found = await budget_sources.purchase_orders_of_account(info.context, self.record["id"])
        return [budget_sources_types.PurchaseOrder.from_record(r) for r in found]

    @strawberry.field(description="The account's audiences (at most 100), by name.")
    async def audiences(self, info: Info) -> list[AudienceRef]:
        return [
            audiences_types.Audience.from_record(r)
            for r in await audiences.list_for_account(info.context, self.record["id"])
        ]

    @strawberry.field(description="Newest first; first is at most 100.")
    async def campaigns(
        self,
        info: Info,
        first: PageSize = campaigns.PAGE_SIZE,
        after: After = None,
        status: StatusFilter = None,
    ) -> Connection[CampaignRef]:
        page = await campaigns.of_account(
            info.context,
            self.record["id"],
            page_size(first, campaigns.PAGE_SIZE),
            after,
            status.value if status else None,
        )
        return await campaigns_types.campaign_page(info, page)

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
    ) -> Connection[BudgetAlertRef]:
        page = await alerts.of_account(info.context, self.record["id"], page_size(first, 20), after, acknowledged)
        return Connection.of(page, alerts_types.BudgetAlert.from_record)

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
    ) -> Connection[BudgetChangeRequestRef]:
        page = await change_requests.of_account(
            info.context, self.record["id"], page_size(first, 20), after, status.value if status else None
        )
        return Connection.of(page, change_requests_types.BudgetChangeRequest.from_record)

    @strawberry.field(
        description="The trace of every change (R20), newest first; first is at most 100. Every role of the account "
        "reads it."
    )
    async def activity(self, info: Info, first: PageSize = 50, after: After = None) -> Connection[ActivityEntryRef]:
        page = await activity.of_account(info.context, self.record["id"], page_size(first, 50), after)
        return Connection.of(page, activity_types.ActivityEntry.from_record)


async def account_of(info: Info, account_id: int) -> Account:
    """The account a row or record names (through the request's loader): it always exists."""
    return Account.from_record(must(await info.context.loaders.account.load(account_id)))


@strawberry.type(description="When an account's alerts are raised (R15, R16).")
class AlertSettings:
    thresholds: list[int] = strawberry.field(
        description="Percentages (1 to 100, ascending) whose upward crossing raises ALLOCATION_THRESHOLD and "
        "SPEND_THRESHOLD alerts; default [50, 80, 95, 100]."
    )
    expiry_warning_days: int = strawberry.field(
        description="EXPIRING_UNUSED_BUDGET when a source ends within this many days (0: off); default 30."
    )


@strawberry.type(description="Who is asking: the API key of this request.")
class Viewer:
    role: Role = strawberry.field(description="The key's role.")
    api_key_name: str = strawberry.field(description="The key's name.")

    @strawberry.field(description="Null for the account team and DELIVERY keys.")
    async def account(self, info: Info) -> Account | None:
        found = await accounts.viewer_account(info.context)
        return Account.from_record(found) if found else None
