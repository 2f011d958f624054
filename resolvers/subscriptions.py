"""R17: who may watch an account, and what each event shows them.

Events carry IDs only (budgetline/events.py delivers them). The row an event names is read once
per process, after the commit, by whichever subscriber gets to it first (`EventSource.read_once`),
and each subscriber then judges it through its own key (`visible`) and resolves its own fields
with its own loaders. Between events a subscription holds no database connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from db import reads
from db.models import BudgetAlertRow, CampaignRow
from db.session import driver_of, guarded
from resolvers import accounts, budget_sources, ids
from resolvers.access import visible
from resolvers.context import Context
from resolvers.errors import InvalidInput, NotFound

SOURCES = frozenset({"Order", "PurchaseOrder"})
CAMPAIGNS = frozenset({"Campaign"})
ALERTS = frozenset({"BudgetAlert"})
RESYNC_BATCH = 500


@dataclass(eq=False)
class Event:
    """A committed change: the node type, its account and its primary key. One object per
    notification, handed to every subscription of the process that wants it."""

    type_name: str
    account_id: int
    pk: int
    # The row's read, shared by the process's subscribers (EventSource.read_once).
    read: Any = field(default=None, repr=False)


class Resync:
    """Queued after the listening connection came back: events may have been missed."""


RESYNC = Resync()
Item = Event | Resync


class Queue(Protocol):
    async def get(self) -> Item: ...


class EventSource(Protocol):
    """A socket's view of the process's events (budgetline/events.py)."""

    def listen(self, account_id: int, type_names: frozenset[str]) -> AbstractAsyncContextManager[Queue]: ...

    async def read_once(self, event: Event, read: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        """`read` run once per event in the process, on a session of its own; its result shared."""
        ...


async def watch(ctx: Context, account_id: str, type_names: frozenset[str]) -> AsyncIterator[Any]:
    """The rows to send for `account_id`'s events of these types. An unknown ID, another
    account's, or not an account ID at all: NOT_FOUND, the same words for each, before any event."""
    events: EventSource | None = ctx.events
    if events is None:
        raise InvalidInput("subscriptions run over a WebSocket (graphql-transport-ws) on /graphql", "accountId")
    decoded = ids.decode(account_id)
    account = await accounts.get_visible(ctx, decoded[1]) if decoded and decoded[0] == "Account" else None
    await ctx.release()
    if account is None:
        raise NotFound("no account with this accountId", "accountId")
    return _rows(ctx, events, account["id"], type_names)


async def _rows(ctx: Context, events: EventSource, account_id: int, type_names: frozenset[str]) -> AsyncIterator[Any]:
    async with events.listen(account_id, type_names) as queue:
        seen_alert = await _last_alert(ctx, account_id) if type_names == ALERTS else 0
        await ctx.release()
        while True:
            item = await queue.get()
            if isinstance(item, Resync):
                rows = [row async for row in _current(ctx, account_id, type_names, seen_alert)]
            else:
                row = visible(ctx.principal, await events.read_once(item, partial(_read, item)))
                rows = [row] if row is not None else []
            await ctx.release()
            for row in rows:
                if isinstance(row, BudgetAlertRow):
                    seen_alert = max(seen_alert, row.id)
                yield row
                # Its fields were resolved and sent: give the connection back before waiting.
                await ctx.release()


_BY_IDS: dict[str, Callable[[Any, list[int]], Awaitable[list[Any]]]] = {
    "Order": partial(reads.sources, kind="Order"),
    "PurchaseOrder": partial(reads.sources, kind="PurchaseOrder"),
    "Campaign": reads.campaigns,
}


async def _read(event: Event, session: AsyncSession) -> Any:
    """What an event names, as it is now (None if it is gone): its record (db/reads.py)."""
    if event.type_name not in _BY_IDS and event.type_name != "BudgetAlert":
        return None
    connection, driver = await driver_of(session)
    async with guarded(connection):
        if event.type_name == "BudgetAlert":
            return await reads.row(driver, BudgetAlertRow, event.pk)
        found = await _BY_IDS[event.type_name](driver, [event.pk])
    return found[0] if found else None


async def _current(ctx: Context, account_id: int, type_names: frozenset[str], seen_alert: int) -> AsyncIterator[Any]:
    """After a reconnect: every source or campaign of the account, or the alerts not yet sent."""
    if type_names == SOURCES:
        for order in await budget_sources.orders_of_account(ctx, account_id):
            yield order
        for po in await budget_sources.purchase_orders_of_account(ctx, account_id):
            yield po
        return
    model = CampaignRow if type_names == CAMPAIGNS else BudgetAlertRow
    after = seen_alert if type_names == ALERTS else 0
    while True:
        batch = await ctx.read(
            partial(
                reads.rows,
                model=model,
                where={"account_id": account_id},
                newest_first=False,
                after=after,
                limit=RESYNC_BATCH,
            )
        )
        after = batch[-1]["id"] if batch else after
        for row in batch:
            yield row
        if len(batch) < RESYNC_BATCH:
            return


async def _last_alert(ctx: Context, account_id: int) -> int:
    newest = await ctx.read(lambda conn: reads.rows(conn, BudgetAlertRow, {"account_id": account_id}, limit=1))
    return int(newest[0]["id"]) if newest else 0
