"""Subscriptions (R17): live updates over graphql-transport-ws on /graphql."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

import strawberry

from resolvers import subscriptions
from schema.alerts import BudgetAlert
from schema.budget_sources import BudgetSource, source_from_record
from schema.campaigns import Campaign
from schema.common import Info

T = TypeVar("T")

AccountId = Annotated[
    strawberry.ID,
    strawberry.argument(
        description="The account to watch: your own (any account for ACCOUNT_TEAM and DELIVERY keys); another "
        "one, or an unknown ID, ends the subscription with a NOT_FOUND error."
    ),
]


async def _converted(rows: AsyncIterator[Any], convert: Callable[[Any], T]) -> AsyncGenerator[T, None]:
    async for row in rows:
        yield convert(row)


@strawberry.type(
    description="Live updates, over a WebSocket on /graphql with the graphql-transport-ws protocol; the API key "
    'goes in connection_init\'s payload: {"Authorization": "Bearer <secret>"} (R17).'
)
class Subscription:
    @strawberry.subscription(
        description="A source of the account, after every committed change to its amounts, percents, endDate or "
        "status (a PO's change also sends its order); the passing of time alone sends nothing."
    )
    async def budget_source_updated(self, info: Info, account_id: AccountId) -> AsyncGenerator[BudgetSource, None]:
        rows = await subscriptions.watch(info.context, account_id, subscriptions.SOURCES)
        return _converted(rows, source_from_record)

    @strawberry.subscription(
        description="A campaign of the account, after every committed change to it, spend included."
    )
    async def campaign_updated(self, info: Info, account_id: AccountId) -> AsyncGenerator[Campaign, None]:
        rows = await subscriptions.watch(info.context, account_id, subscriptions.CAMPAIGNS)
        return _converted(rows, Campaign.from_record)

    @strawberry.subscription(description="Each alert raised on the account (R15, R16), once it has committed.")
    async def alert_raised(self, info: Info, account_id: AccountId) -> AsyncGenerator[BudgetAlert, None]:
        rows = await subscriptions.watch(info.context, account_id, subscriptions.ALERTS)
        return _converted(rows, BudgetAlert.from_record)
