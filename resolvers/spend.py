"""Spend (R11): what a published campaign spent per UTC day, reported by the ad-serving system.

Every report goes into the append-only spend ledger (`spend_reports`); its insert trigger keeps
the day's current figure (`spend_days`, the SpendRecord nodes) and `campaigns.spent_amount`, and
the campaigns trigger moves the source totals. Each report is one transaction holding the
campaign row (then the trigger takes the PO and the order: R5's order), so concurrent reports on
one campaign are judged one after the other against its budget, which the database's
`campaigns_spend_within_budget` CHECK guards again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from db import reads
from db.models import CampaignRow, SpendDayRow, SpendReportRow
from db.reads import Record
from resolvers import activity, validation
from resolvers.access import get_for_write, require_delivery
from resolvers.budget_sources import today
from resolvers.context import Context, Principal
from resolvers.errors import BudgetSourceProblem, CampaignState, InvalidInput, SpendLimit, UserError
from resolvers.pagination import Page, paginate_with

MAX_REPORTS = 1000


@dataclass(frozen=True)
class SpendReport:
    campaign_id: str
    date: date
    amount: Decimal


async def report(ctx: Context, spend: SpendReport) -> CampaignRow:
    """reportSpend: one report, one transaction."""
    require_delivery(ctx.principal)
    validation.non_negative_amount(spend.amount, "amount")
    return await ctx.transact(lambda session: record(session, ctx.principal, spend))


async def report_many(ctx: Context, reports: list[SpendReport]) -> list[CampaignRow | UserError]:
    """reportSpends: each report judged and written on its own, in input order; `[i]` answers
    `reports[i]`. An empty or oversized list is a malformed request: nothing is written."""
    if not 1 <= len(reports) <= MAX_REPORTS:
        raise InvalidInput(f"reports must hold 1 to {MAX_REPORTS:,} reports; it holds {len(reports):,}", "reports")
    results: list[CampaignRow | UserError] = []
    for spend in reports:
        try:
            results.append(await report(ctx, spend))
        except UserError as refused:
            results.append(refused)
    return results


async def record(session: AsyncSession, principal: Principal, spend: SpendReport) -> CampaignRow:
    row = await get_for_write(session, principal, CampaignRow, "Campaign", spend.campaign_id, "campaignId", lock=True)
    check_reportable(row, spend.date)
    # Read once the campaign is held, in a statement of its own: a statement that waited for the
    # lock sees the other tables as they were before it waited (READ COMMITTED), and the report
    # that held the lock may just have changed this very day.
    day = select(SpendDayRow.amount).where(SpendDayRow.campaign_id == row.id, SpendDayRow.day == spend.date)
    previous: Decimal | None = await session.scalar(day)
    if previous == spend.amount:
        return row  # the day's figure already: nothing to record
    assert row.budget is not None
    row_spent_before = row.spent_amount
    spent = row.spent_amount - (previous or 0) + spend.amount
    if spent > row.budget:
        raise SpendLimit(
            f"this report would take the campaign's spend to {spent}, above its budget of {row.budget}",
            "amount",
            row.budget,
            row.spent_amount,
            code="SPEND_EXCEEDS_BUDGET",
        )
    await session.execute(
        insert(SpendReportRow).values(
            account_id=row.account_id,
            campaign_id=row.id,
            day=spend.date,
            amount=spend.amount,
            reported_by=principal.actor,
        )
    )
    set_committed_value(row, "spent_amount", spent)  # what the ledger's trigger wrote
    activity.note_change(session, row, "spentAmount", row_spent_before, spent)
    return row


def check_reportable(row: CampaignRow, day: date) -> None:
    """R11: a live or ended, unsettled campaign; a day within its schedule, not after today
    (UTC), and for an ended campaign not after the day it ended."""
    if row.status == "DRAFT":
        raise CampaignState("a draft spends nothing: publish the campaign first", row.status)
    if row.settled_at is not None:
        raise CampaignState(
            f"the campaign was settled at {row.settled_at.isoformat()}: its spend is final",
            row.status,
            code="CAMPAIGN_SETTLED",
        )
    assert row.start_date is not None and row.end_date is not None
    last = min(row.end_date, today(), row.ended_at.date() if row.ended_at else row.end_date)
    if not row.start_date <= day <= last:
        why = "its schedule" if day < row.start_date or day > row.end_date else "today (UTC) or the day it ended"
        if last < row.start_date:  # nothing is reportable yet: say when it will be
            when = f"no spend can be reported before {row.start_date}, the campaign's first day"
        else:
            when = f"spend can be reported for {row.start_date}..{last}"
        raise BudgetSourceProblem(f"date {day} is outside {why}: {when}", "date", code="SCHEDULE_OUTSIDE_TERM")


async def check_schedule_keeps_spend(
    session: AsyncSession, campaign_id: int, start: date, end: date, field: str = "startDate"
) -> None:
    """R6: a new schedule keeps every day that has reported spend inside it."""
    stmt = select(func.min(SpendDayRow.day), func.max(SpendDayRow.day)).where(SpendDayRow.campaign_id == campaign_id)
    first, last = (await session.execute(stmt)).one()
    if first is not None and (first < start or last > end):
        raise BudgetSourceProblem(
            f"spend was reported for {first}..{last}: the schedule {start}..{end} must keep those days",
            field,
            code="SCHEDULE_OUTSIDE_TERM",
        )


# --- reads ---------------------------------------------------------------------------------


async def days_of_campaign(ctx: Context, campaign_id: int, first: int, after: str | None) -> Page[Record]:
    """Campaign.spend: the daily records, newest day first (the cursor is the day)."""
    where = {"campaign_id": campaign_id}

    async def fetch(before: int | None, limit: int) -> list[Record]:
        # A cursor holds a day's ordinal; clamp one from elsewhere into date's range.
        day = None if before is None else date.fromordinal(min(max(before, 1), date.max.toordinal()))
        return await ctx.read(lambda conn: reads.rows(conn, SpendDayRow, where, key="day", before=day, limit=limit))

    async def count() -> int:
        return await ctx.read(lambda conn: reads.count(conn, SpendDayRow, where))

    return await paginate_with(fetch, count, first, after, pk=lambda row: row["day"].toordinal())
