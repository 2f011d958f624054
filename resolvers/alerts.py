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

from datetime import UTC, datetime

from sqlalchemy import func, text
from sqlalchemy.ext.asyncio import AsyncSession

from db import reads
from db.models import AccountRow, ActivityRow, BudgetAlertRow
from db.reads import Record
from resolvers import activity, ids
from resolvers.access import get_account_for_write, get_for_write, require_writer
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


# --- R16, for the sweeper -------------------------------------------------------------------


# R16 over the read model: selectable sources (R4, so per PO when the account requires POs)
# whose daysLeft is at most their account's expiryWarningDays and that have money unallocated,
# at most once per source and term end (a unique index: an amendment that moves the end date
# arms it again).
_EXPIRING = text(
    """INSERT INTO budget_alerts (account_id, kind, order_id, purchase_order_id, amount, term_end)
       SELECT s.account_id, 'EXPIRING_UNUSED_BUDGET', s.order_id,
              CASE WHEN s.kind = 'PurchaseOrder' THEN s.id END, s.unallocated_amount, s.end_date
         FROM budget_sources_view s JOIN accounts a ON a.id = s.account_id
        WHERE s.selectable AND s.days_left <= a.expiry_warning_days AND s.unallocated_amount > 0
        ORDER BY s.order_id, s.kind, s.id
       ON CONFLICT (order_id, coalesce(purchase_order_id, 0), term_end) WHERE kind = 'EXPIRING_UNUSED_BUDGET'
       DO NOTHING
       RETURNING account_id, id, amount"""
)


async def raise_expiring(session: AsyncSession) -> int:
    """EXPIRING_UNUSED_BUDGET where R16 says (`_EXPIRING`), with the sweeper's activity entry
    for each (R20). How many it raised."""
    raised = (await session.execute(_EXPIRING)).all()
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
