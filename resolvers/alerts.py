"""Budget health (R15, R16): alert settings, the alerts of an account, acknowledging one, and
the sweeper's expiring-budget warning.

Where each alert comes from:
- ALLOCATION_THRESHOLD, SPEND_THRESHOLD, SOURCE_EXHAUSTED (R15): the trigger
  `budget_sources_changed` (db/migrations/versions/0006_budget_health.py), in the statement that
  moves a source's figures, from its values before and after under that statement's row lock;
  so on every path that moves them, and only if that change commits.
- BUDGET_RETURNED (R15): the trigger `allocations_returned`, on a settlement's `release` entry.
- EXPIRING_UNUSED_BUDGET (R16): `raise_expiring` below, run by the sweeper.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Date, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db import reads
from db.models import AccountRow, ActivityRow, BudgetAlertRow, OrderRow, PurchaseOrderRow
from db.reads import Record
from resolvers import activity, budget_sources, ids
from resolvers.access import get_account_for_write, get_for_write, require_writer, visible
from resolvers.budget_sources import SourceRow
from resolvers.context import Context
from resolvers.errors import InvalidInput
from resolvers.pagination import Page, paginate

KINDS = ("ALLOCATION_THRESHOLD", "SPEND_THRESHOLD", "SOURCE_EXHAUSTED", "EXPIRING_UNUSED_BUDGET", "BUDGET_RETURNED")
MAX_THRESHOLDS = 10
MAX_EXPIRY_WARNING_DAYS = 365


# --- settings (R15) ----------------------------------------------------------------------


def check_thresholds(thresholds: list[int]) -> list[int]:
    """1 to 100, at most 10, distinct; kept in ascending order."""
    if len(thresholds) > MAX_THRESHOLDS:
        raise InvalidInput(f"at most {MAX_THRESHOLDS} thresholds; {len(thresholds)} given", "thresholds")
    outside = [t for t in thresholds if not 1 <= t <= 100]
    if outside:
        raise InvalidInput(f"thresholds are percentages from 1 to 100; {outside[0]} is not", "thresholds")
    repeated = sorted({t for t in thresholds if thresholds.count(t) > 1})
    if repeated:
        raise InvalidInput(f"thresholds must be distinct; {repeated[0]} appears more than once", "thresholds")
    return sorted(thresholds)


def check_expiry_warning_days(days: int) -> int:
    if not 0 <= days <= MAX_EXPIRY_WARNING_DAYS:
        raise InvalidInput(
            f"expiryWarningDays must be 0 (off) to {MAX_EXPIRY_WARNING_DAYS}; {days} is not", "expiryWarningDays"
        )
    return days


async def update_settings(
    ctx: Context, *, account_id: str, thresholds: list[int] | None, expiry_warning_days: int | None
) -> AccountRow:
    """updateAlertSettings: a CAMPAIGN_MANAGER of the account or the account team. Raises nothing
    by itself: alerts come from the next change of a source's figures."""
    require_writer(ctx.principal)
    clean = check_thresholds(thresholds) if thresholds is not None else None
    days = check_expiry_warning_days(expiry_warning_days) if expiry_warning_days is not None else None

    async def work(session: AsyncSession) -> AccountRow:
        account = await get_account_for_write(session, ctx.principal, account_id, lock=True)
        if clean is not None:
            account.alert_thresholds = clean
        if days is not None:
            account.expiry_warning_days = days
        if session.is_modified(account):
            account.updated_at = func.clock_timestamp()
            await session.flush()
            await session.refresh(account, ["updated_at"])
        return account

    return await ctx.transact(work)


# --- alerts --------------------------------------------------------------------------------


async def acknowledge(ctx: Context, *, alert_id: str) -> BudgetAlertRow:
    """acknowledgeAlert: not for VIEWER (nor DELIVERY) keys; acknowledging twice keeps the first."""
    require_writer(ctx.principal)

    async def work(session: AsyncSession) -> BudgetAlertRow:
        alert = await get_for_write(
            session, ctx.principal, BudgetAlertRow, "BudgetAlert", alert_id, "alertId", lock=True
        )
        if alert.acknowledged_at is None:
            alert.acknowledged_at = datetime.now(UTC)
            alert.acknowledged_by = ctx.principal.actor
            await session.flush()
        return alert

    return await ctx.transact(work)


async def of_account(
    ctx: Context, account_id: int, first: int, after: str | None, acknowledged: bool | None
) -> Page[Record]:
    """Account.alerts: newest first, optionally only (un)acknowledged ones."""
    where: reads.Where = {"account_id": account_id}
    if acknowledged is not None:
        where = {**where, "acknowledged_at": reads.NOT_NULL if acknowledged else None}
    return await paginate(ctx.read, BudgetAlertRow, where, first, after)


async def get_visible(ctx: Context, pk: int) -> Record | None:
    return visible(ctx.principal, await ctx.read(lambda conn: reads.row(conn, BudgetAlertRow, pk)))


def message(alert: Record, source: Record) -> str:
    """What an alert says, for people: the source by its display name and what happened."""
    name = budget_sources.display_name(source)
    currency = source["currency"]
    kind, threshold, amount = alert["kind"], alert["threshold"], alert["amount"]
    if kind == "ALLOCATION_THRESHOLD":
        return f"{name} is {threshold}% allocated or more"
    if kind == "SPEND_THRESHOLD":
        return f"{name} has spent {threshold}% of its amount or more"
    if kind == "SOURCE_EXHAUSTED":
        return f"{name} has nothing left to allocate"
    if kind == "EXPIRING_UNUSED_BUDGET":
        return f"{name} ends on {alert['term_end']} with {amount} {currency} unallocated"
    return f"settlement returned {amount} {currency} to {name}"


# --- R16, for the sweeper -------------------------------------------------------------------


async def raise_expiring(session: AsyncSession, on: date | None = None) -> int:
    """EXPIRING_UNUSED_BUDGET for every selectable source (R4's rule, so per PO when the account
    requires POs) whose daysLeft is at most its account's expiryWarningDays and that has money
    unallocated: at most once per source and term end (a unique index; an amendment that moves
    the end date arms it again). How many it raised."""
    day = on or budget_sources.today()
    # Narrowed in SQL to live, uncancelled terms ending within the account's warning (a day of
    # slack); R4 and R16 decide below, in Python, with the rules every other path uses.
    ends_soon = (
        OrderRow.cancelled_at.is_(None),
        OrderRow.end_date >= day,
        OrderRow.end_date <= literal(day, Date) + AccountRow.expiry_warning_days,
    )
    orders = select(OrderRow, AccountRow).join(AccountRow, AccountRow.id == OrderRow.account_id).where(*ends_soon)
    pos = (
        select(PurchaseOrderRow, AccountRow)
        .join(PurchaseOrderRow.order)
        .join(AccountRow, AccountRow.id == PurchaseOrderRow.account_id)
        .where(PurchaseOrderRow.cancelled_at.is_(None), AccountRow.requires_purchase_order, *ends_soon)
    )
    candidates: list[tuple[SourceRow, AccountRow]] = []
    for stmt in (orders.where(AccountRow.requires_purchase_order.is_(False)), pos):
        candidates += [(source, account) for source, account in (await session.execute(stmt)).unique()]
    values = [
        {
            "account_id": source.account_id,
            "kind": "EXPIRING_UNUSED_BUDGET",
            "order_id": budget_sources.order_of(source).id,
            "purchase_order_id": source.id if isinstance(source, PurchaseOrderRow) else None,
            "amount": budget_sources.unallocated(source),
            "term_end": budget_sources.order_of(source).end_date,
        }
        for source, account in candidates
        if budget_sources.selectable(source, account.requires_purchase_order)
        and budget_sources.days_left(source, day) <= account.expiry_warning_days
        and budget_sources.unallocated(source) > Decimal("0.00")
    ]
    if not values:
        return 0
    statement = (
        insert(BudgetAlertRow)
        .values(values)
        .on_conflict_do_nothing(
            index_elements=[
                BudgetAlertRow.order_id,
                func.coalesce(BudgetAlertRow.purchase_order_id, 0),
                BudgetAlertRow.term_end,
            ],
            index_where=BudgetAlertRow.kind == "EXPIRING_UNUSED_BUDGET",
        )
        .returning(BudgetAlertRow.account_id, BudgetAlertRow.id, BudgetAlertRow.amount)
    )
    raised = (await session.execute(statement)).all()
    for account_id, pk, amount in raised:  # R20: the sweeper's raiseAlert
        session.add(
            ActivityRow(
                account_id=account_id,
                actor=activity.SWEEPER,
                request_id=None,
                operation="raiseAlert",
                subject_id=ids.encode("BudgetAlert", pk),
                changes=[
                    {"field": "kind", "before": None, "after": "EXPIRING_UNUSED_BUDGET"},
                    {"field": "amount", "before": None, "after": activity.serialise("amount", amount)},
                ],
            )
        )
    await session.flush()
    return len(raised)
