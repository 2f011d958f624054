"""Campaigns: the wizard (R1-R7, R10) and life after publishing (R12-R14: pause, resume, end,
settlement, and the sweeper's two jobs). Every mutation here is one transaction.

Locks, always in this order: the campaign row, then the PO, then its order
(`budget_sources.lock_source`). Publishing and budget changes of published
campaigns re-check everything under those locks, so concurrent requests on any
number of server processes can never allocate more than a source holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from db import reads
from db.models import AllocationRow, AudienceRow, CampaignRow, PurchaseOrderRow
from db.reads import Record
from resolvers import activity, budget_sources, ids, spend, validation
from resolvers.access import (
    get_account_for_write,
    get_for_write,
    not_found,
    require_delivery,
    require_writer,
)
from resolvers.budget_sources import today
from resolvers.context import Context, Principal
from resolvers.errors import (
    BudgetSourceProblem,
    CampaignLocked,
    CampaignState,
    InvalidInput,
    SpendLimit,
    StepIncomplete,
    VersionConflict,
)
from resolvers.pagination import Page, paginate, paginate_with

STEPS = ("SETUP", "BUDGET_AND_SCHEDULE", "REVIEW")
LIVE = ("PUBLISHED", "PAUSED")
# R12: the states each transition starts from.
TRANSITIONS = {"pause": ("PUBLISHED",), "resume": ("PAUSED",), "end": LIVE}
SWEEPER = "budgetline sweeper"
# A page of campaigns when `first` is not given (or null).
PAGE_SIZE = 20


# --- small rules, each raising one typed error ------------------------------------------


def check_version(row: CampaignRow, expected_version: int | None) -> None:
    """R7."""
    if expected_version is not None and expected_version != row.version:
        raise VersionConflict(row.version)


def require_draft(row: CampaignRow, action: str) -> None:
    """R6: a published campaign is not a draft any more."""
    if row.status != "DRAFT":
        raise CampaignLocked(
            f"the campaign is {row.status.lower()}: {action} is for drafts only",
            None,
            row.locked_fields,
            code="NOT_A_DRAFT",
        )


def refuse_locked_change(row: CampaignRow, field: str, what: str) -> None:
    """R6: the audience and the budget source of a published campaign are locked; R12: an ended
    campaign's budget and schedule too."""
    if row.status != "DRAFT":
        raise CampaignLocked(
            f"the {what} is locked: the campaign is {row.status.lower()}",
            field,
            row.locked_fields,
            code="CAMPAIGN_LOCKED",
        )


def missing_fields(row: CampaignRow) -> list[str]:
    missing = []
    if not row.name:
        missing.append("NAME")
    if row.audience_id is None:
        missing.append("AUDIENCE")
    if row.budget is None:
        missing.append("BUDGET")
    if row.start_date is None or row.end_date is None:
        missing.append("SCHEDULE")
    if row.order_id is None:
        missing.append("BUDGET_SOURCE")
    return missing


def check_setup_complete(row: CampaignRow) -> None:
    """R2."""
    missing = [f for f in missing_fields(row) if f in ("NAME", "AUDIENCE")]
    if missing:
        raise StepIncomplete(f"step SETUP needs: {', '.join(missing)}", missing)


def check_setup_still_complete(row: CampaignRow) -> None:
    """R3 and R5: moving on from step 2, or publishing, re-checks step 1 too (a draft may have
    cleared its audience since); `missing` then lists every field still to fill in."""
    missing = [f for f in missing_fields(row) if f in ("NAME", "AUDIENCE")]
    if missing:
        raise StepIncomplete(
            f"step SETUP is no longer complete (needs: {', '.join(missing)}): go back and fill it in",
            missing_fields(row),
        )


def check_budget_and_schedule(row: CampaignRow) -> None:
    """R2 again, then R3 in its order of reporting up to the source: a source chosen, a budget and
    a schedule (the source's own checks follow: `budget_sources.check_source`, or under the locks
    of R5, `publish_campaign`)."""
    check_setup_still_complete(row)
    if row.order_id is None:
        raise StepIncomplete("select a budget source first", ["BUDGET_SOURCE"], code="BUDGET_SOURCE_REQUIRED")
    missing = [f for f in missing_fields(row) if f in ("BUDGET", "SCHEDULE")]
    if missing:
        raise StepIncomplete(f"step BUDGET_AND_SCHEDULE needs: {', '.join(missing)}", missing)


def record_allocation(session: AsyncSession, row: CampaignRow, delta: Decimal, reason: str, actor: str) -> None:
    """R10: the ledger entry of the campaign's source; its insert trigger moves the PO's and the
    order's allocated totals."""
    assert row.order_id is not None
    session.add(
        AllocationRow(
            account_id=row.account_id,
            campaign_id=row.id,
            order_id=row.order_id,
            purchase_order_id=row.purchase_order_id,
            delta=delta,
            reason=reason,
            actor=actor,
        )
    )


def touch(row: CampaignRow) -> None:
    row.version += 1
    row.updated_at = datetime.now(UTC)


async def lock_campaign(
    session: AsyncSession, principal: Principal, campaign_id: str, expected_version: int | None
) -> CampaignRow:
    row = await get_for_write(session, principal, CampaignRow, "Campaign", campaign_id, "campaignId", lock=True)
    check_version(row, expected_version)
    return row


async def get_audience(session: AsyncSession, principal: Principal, account_id: int, audience_id: str) -> AudienceRow:
    audience = await get_for_write(session, principal, AudienceRow, "Audience", audience_id, "audienceId")
    if audience.account_id != account_id:  # the account team sees every account, but not across campaigns
        raise not_found("audienceId", "audience")
    return audience


# --- mutations ----------------------------------------------------------------------------


async def create_draft(ctx: Context, *, account_id: str, name: str, audience_id: str | None) -> CampaignRow:
    """R1: a DRAFT at step SETUP, version 1."""
    require_writer(ctx.principal)
    clean = validation.name(name, "name")

    async def work(session: AsyncSession) -> CampaignRow:
        account = await get_account_for_write(session, ctx.principal, account_id)
        audience = await get_audience(session, ctx.principal, account.id, audience_id) if audience_id else None
        row = CampaignRow(
            account_id=account.id,
            name=clean,
            status="DRAFT",
            step="SETUP",
            version=1,
            audience_id=audience.id if audience else None,
        )
        session.add(row)
        await session.flush()
        return row

    return await ctx.transact(work)


@dataclass
class CampaignChanges:
    """What updateCampaign was given; a key absent from `given` was not sent at all."""

    given: frozenset[str]
    name: str | None = None
    audience_id: str | None = None
    budget: Decimal | None = None
    start_date: date | None = None
    end_date: date | None = None


async def update(
    ctx: Context, *, campaign_id: str, expected_version: int | None, changes: CampaignChanges
) -> CampaignRow:
    """Drafts change anything; published campaigns change name, budget and schedule only (R6)."""
    require_writer(ctx.principal)
    given = changes.given
    name = validation.name(changes.name or "", "name") if "name" in given else None
    if "budget" in given and changes.budget is not None:
        validation.positive_amount(changes.budget, "budget")
    schedule_field = "startDate" if "startDate" in given else "endDate"

    async def work(session: AsyncSession) -> CampaignRow:
        row = await lock_campaign(session, ctx.principal, campaign_id, expected_version)
        before = (row.name, row.audience_id, row.budget, row.start_date, row.end_date)
        schedule = (row.start_date, row.end_date)
        if "audienceId" in given:
            row.audience_id = await changed_audience(session, ctx.principal, row, changes.audience_id)
        if name is not None:
            row.name = name
        budget = changes.budget if "budget" in given else row.budget
        start = changes.start_date if "startDate" in given else row.start_date
        end = changes.end_date if "endDate" in given else row.end_date
        if row.status == "ENDED":  # R12: only the name changes, whatever else was sent
            for field, changed in (("budget", budget != row.budget), (schedule_field, (start, end) != schedule)):
                if changed:
                    refuse_locked_change(row, field, "budget" if field == "budget" else "schedule")
        if start is not None and end is not None and start > end:
            raise InvalidInput("startDate must be on or before endDate", schedule_field)
        if row.status in LIVE:
            await change_published(session, row, changes, budget, start, end, schedule_field, ctx.principal.actor)
        row.budget, row.start_date, row.end_date = budget, start, end
        if (row.name, row.audience_id, row.budget, row.start_date, row.end_date) != before:
            touch(row)
        await session.flush()
        return row

    return await ctx.transact(work)


async def changed_audience(
    session: AsyncSession, principal: Principal, row: CampaignRow, audience_id: str | None
) -> int | None:
    """The new audience of the campaign's account; refused once published (R6)."""
    audience = await get_audience(session, principal, row.account_id, audience_id) if audience_id else None
    new_id = audience.id if audience else None
    if new_id != row.audience_id:
        refuse_locked_change(row, "audienceId", "audience")
    return new_id


async def change_published(
    session: AsyncSession,
    row: CampaignRow,
    changes: CampaignChanges,
    budget: Decimal | None,
    start: date | None,
    end: date | None,
    schedule_field: str,
    actor: str,
) -> None:
    """R6: budget and schedule of a published campaign, checked under the source locks.

    An increase must fit the source's (and its order's) unallocated amount, a decrease frees
    budget at once, and the schedule stays within the term; each change is a ledger entry.
    """
    for field, value in (("budget", changes.budget), ("startDate", changes.start_date), ("endDate", changes.end_date)):
        if field in changes.given and value is None:
            raise InvalidInput(f"{field} of a {row.status.lower()} campaign cannot be cleared", field)
    assert row.order_id is not None and row.budget is not None
    assert budget is not None and start is not None and end is not None
    schedule_changed = (start, end) != (row.start_date, row.end_date)
    if budget == row.budget and not schedule_changed:
        return
    if budget < row.spent_amount:
        raise SpendLimit(
            f"the budget cannot go below what the campaign has already spent ({row.spent_amount})",
            "budget",
            row.budget,
            row.spent_amount,
            code="BUDGET_BELOW_SPENT",
        )
    await budget_sources.lock_source(session, row.order_id, row.purchase_order_id)
    if schedule_changed:
        term = (start, end)
        await budget_sources.check_source(session, row.order_id, row.purchase_order_id, schedule=term, selectable=False)
        await spend.check_schedule_keeps_spend(session, row.id, start, end, schedule_field)
    delta = budget - row.budget
    if delta > 0:
        # An increase allocates more: the source must still be usable and have room.
        found = await budget_sources.figures_of(session, row.order_id, row.purchase_order_id)
        current = found.source["status"]
        if current != "ACTIVE":
            raise BudgetSourceProblem(
                f"{found.source['display_name']} is {current.lower()}: the budget cannot grow",
                "budget",
                code="BUDGET_SOURCE_NOT_SELECTABLE",
            )
        await budget_sources.check_source(session, row.order_id, row.purchase_order_id, amount=delta, selectable=False)
    if delta != 0:
        reason = "budget increase" if delta > 0 else "budget decrease"
        record_allocation(session, row, delta, reason, actor)


async def assign_budget_source(
    ctx: Context, *, campaign_id: str, budget_source_id: str, expected_version: int | None
) -> CampaignRow:
    """R4 (and R6: locked once published). Drafts allocate nothing, so nothing moves."""
    require_writer(ctx.principal)

    async def work(session: AsyncSession) -> CampaignRow:
        row = await lock_campaign(session, ctx.principal, campaign_id, expected_version)
        refuse_locked_change(row, "budgetSourceId", "budget source")
        source = await budget_sources.resolve_source_id(session, ctx.principal, budget_source_id, "budgetSourceId")
        if source.account_id != row.account_id:
            raise not_found("budgetSourceId", "budget source")
        order_id = budget_sources.order_of(source).id
        purchase_order_id = source.id if isinstance(source, PurchaseOrderRow) else None
        await budget_sources.check_source(session, order_id, purchase_order_id)
        new = (
            budget_sources.order_of(source).id,
            source.id if isinstance(source, PurchaseOrderRow) else None,
        )
        if new != (row.order_id, row.purchase_order_id):
            row.order_id, row.purchase_order_id = new
            touch(row)
        await session.flush()
        return row

    return await ctx.transact(work)


async def advance(ctx: Context, *, campaign_id: str, expected_version: int | None) -> CampaignRow:
    """SETUP -> BUDGET_AND_SCHEDULE (R2) -> REVIEW (R3); from REVIEW the next move is publishing."""
    require_writer(ctx.principal)

    async def work(session: AsyncSession) -> CampaignRow:
        row = await lock_campaign(session, ctx.principal, campaign_id, expected_version)
        require_draft(row, "advanceCampaign")
        if row.step == "SETUP":
            check_setup_complete(row)
            row.step = "BUDGET_AND_SCHEDULE"
        elif row.step == "BUDGET_AND_SCHEDULE":
            check_budget_and_schedule(row)
            assert row.order_id is not None and row.start_date is not None and row.end_date is not None
            await budget_sources.check_source(
                session,
                row.order_id,
                row.purchase_order_id,
                schedule=(row.start_date, row.end_date),
                amount=row.budget,
            )
            row.step = "REVIEW"
        else:
            raise StepIncomplete("the campaign is at REVIEW: the next move is publishCampaign", [])
        touch(row)
        await session.flush()
        return row

    return await ctx.transact(work)


async def go_to_step(ctx: Context, *, campaign_id: str, step: str, expected_version: int | None) -> CampaignRow:
    """A draft may go back to an earlier step; forward moves go through advanceCampaign."""
    require_writer(ctx.principal)

    async def work(session: AsyncSession) -> CampaignRow:
        row = await lock_campaign(session, ctx.principal, campaign_id, expected_version)
        require_draft(row, "goToCampaignStep")
        if STEPS.index(step) > STEPS.index(row.step):
            raise StepIncomplete(
                f"goToCampaignStep only goes back; use advanceCampaign to move from {row.step} to {step}",
                missing_fields(row),
            )
        if step != row.step:
            row.step = step
            touch(row)
            await session.flush()
        return row

    return await ctx.transact(work)


async def publish(ctx: Context, *, campaign_id: str, expected_version: int | None) -> CampaignRow:
    """R5: a draft at REVIEW, R2 and R3 re-checked; then, in one round trip under the source's
    locks (`publish_campaign`, migration 0009), the source's checks, the ledger entry and the new
    status, so the locks are held for the database's own work only."""
    require_writer(ctx.principal)

    async def work(session: AsyncSession) -> CampaignRow:
        row = await lock_campaign(session, ctx.principal, campaign_id, expected_version)
        require_draft(row, "publishCampaign")
        if row.step != "REVIEW":
            raise StepIncomplete(
                f"the campaign is at step {row.step}: advance it to REVIEW before publishing",
                missing_fields(row),
            )
        check_budget_and_schedule(row)
        found = await session.execute(_PUBLISH, {"campaign": row.id, "actor": ctx.principal.actor})
        outcome = found.one()
        if outcome.code is not None:
            budget_sources.refuse(outcome)
        # Written by the function: the trace's changes, and the row as it now is.
        for column, after in (("status", "PUBLISHED"), ("version", row.version + 1)):
            activity.note_change(session, row, column, getattr(row, column), after)
            set_committed_value(row, column, after)
        activity.note_change(session, row, "published_at", None, outcome.published_at)
        set_committed_value(row, "published_at", outcome.published_at)
        return row

    return await ctx.transact(work)


_PUBLISH = text("SELECT * FROM publish_campaign(:campaign, :actor)")


async def delete_draft(ctx: Context, *, campaign_id: str) -> str:
    require_writer(ctx.principal)

    async def work(session: AsyncSession) -> str:
        row = await lock_campaign(session, ctx.principal, campaign_id, None)
        require_draft(row, "deleteCampaignDraft")
        await session.delete(row)
        await session.flush()
        return ids.encode("Campaign", row.id)

    return await ctx.transact(work)


# --- life after publishing (R12-R14) ------------------------------------------------------


async def transition(ctx: Context, *, action: str, campaign_id: str, expected_version: int | None) -> CampaignRow:
    """R12: pauseCampaign, resumeCampaign, endCampaign; each bumps version and honours R7."""
    require_writer(ctx.principal)

    async def work(session: AsyncSession) -> CampaignRow:
        row = await lock_campaign(session, ctx.principal, campaign_id, expected_version)
        allowed = TRANSITIONS[action]
        if row.status not in allowed:
            raise CampaignState(
                f"{action}Campaign needs a {' or '.join(allowed)} campaign; this one is {row.status}", row.status
            )
        now = datetime.now(UTC)
        if action == "pause":
            row.status, row.paused_at = "PAUSED", now
        elif action == "resume":
            assert row.end_date is not None
            if row.end_date < today():
                raise CampaignState(
                    f"the schedule ended on {row.end_date}: extend endDate to resume, or end the campaign", row.status
                )
            row.status, row.paused_at = "PUBLISHED", None
        else:
            end(row, "MANUAL", now)
        touch(row)
        await session.flush()
        return row

    return await ctx.transact(work)


def end(row: CampaignRow, reason: str, at: datetime) -> None:
    row.status, row.paused_at, row.ended_at, row.end_reason = "ENDED", None, at, reason


async def settle(ctx: Context, *, campaign_id: str) -> CampaignRow:
    """R14 on request (DELIVERY or ACCOUNT_TEAM)."""
    require_delivery(ctx.principal)

    async def work(session: AsyncSession) -> CampaignRow:
        row = await lock_campaign(session, ctx.principal, campaign_id, None)
        await settle_locked(session, row, ctx.principal.actor)
        return row

    return await ctx.transact(work)


async def settle_locked(session: AsyncSession, row: CampaignRow, actor: str) -> None:
    """R14 on a campaign row held FOR UPDATE: ENDED and not yet settled, then `release`."""
    if row.status != "ENDED":
        raise CampaignState(f"only an ENDED campaign can be settled; this one is {row.status}", row.status)
    if row.settled_at is not None:
        raise CampaignState(
            f"the campaign was settled at {row.settled_at.isoformat()}", row.status, code="CAMPAIGN_SETTLED"
        )
    await release(session, [row], actor)


async def release(session: AsyncSession, rows: list[CampaignRow], actor: str) -> None:
    """R14's writes, for ended campaigns of one budget source held FOR UPDATE: what each did not
    spend goes back through a `release` ledger entry, and its figures become final.

    The source rows are locked first, as on every path that moves an allocation (R5). Without
    that, the ledger row's foreign-key checks take KEY SHARE locks on the order, then the PO, and
    deadlock with a publish that holds the PO and waits FOR UPDATE on the order."""
    if not rows:
        return
    sources = {(row.order_id, row.purchase_order_id) for row in rows}
    assert len(sources) == 1, "release() takes the campaigns of one budget source"
    ((order_id, purchase_order_id),) = sources
    assert order_id is not None, "a published campaign has an order"
    await budget_sources.lock_source(session, order_id, purchase_order_id)
    now = datetime.now(UTC)
    for row in rows:
        unspent = row.remaining_amount  # as locked: the read model's budget - spent
        assert unspent is not None
        if unspent > 0:
            record_allocation(session, row, -unspent, "release", actor)
        row.released_amount, row.settled_at = unspent, now
        touch(row)
    await session.flush()


# The sweeper's jobs (budgetline/sweeper.py): which campaigns are due, and the work on a group of
# them (all of one budget source, so that a group locks its campaigns, then their PO, then the
# order: R5's order), re-checked under their row locks; the caller runs each group in its own
# short transaction, and each campaign of a failed group alone.


@dataclass(frozen=True)
class Due:
    id: int
    source: tuple[int | None, int | None]  # (order_id, purchase_order_id); due ones have an order


async def due_to_end(session: AsyncSession, after_id: int, limit: int) -> list[Due]:
    """R13: live campaigns whose end date is before today (UTC), by id."""
    return await _due(session, (CampaignRow.status.in_(LIVE), CampaignRow.end_date < today()), after_id, limit)


async def end_due(session: AsyncSession, campaign_ids: list[int]) -> int:
    """R13: end those still due with endReason SCHEDULE; how many it ended."""
    rows = await _lock_due(session, campaign_ids, CampaignRow.status.in_(LIVE), CampaignRow.end_date < today())
    now = datetime.now(UTC)
    for row in rows:
        end(row, "SCHEDULE", now)
        touch(row)
    await activity.record_sweep(session, "endCampaign", rows)  # R20
    return len(rows)


async def due_to_settle(session: AsyncSession, settlement_days: int, after_id: int, limit: int) -> list[Due]:
    """R14: ended, unsettled campaigns that ended at least `settlement_days` days ago, by id."""
    return await _due(session, _settlement_due(settlement_days), after_id, limit)


async def settle_due(session: AsyncSession, campaign_ids: list[int], settlement_days: int) -> int:
    rows = await _lock_due(session, campaign_ids, *_settlement_due(settlement_days))
    await release(session, rows, SWEEPER)
    await activity.record_sweep(session, "settleCampaign", rows)  # R20
    return len(rows)


def _settlement_due(settlement_days: int) -> tuple[Any, ...]:
    cutoff = datetime.now(UTC) - timedelta(days=settlement_days)
    return (CampaignRow.status == "ENDED", CampaignRow.settled_at.is_(None), CampaignRow.ended_at <= cutoff)


async def _due(session: AsyncSession, conditions: tuple[Any, ...], after_id: int, limit: int) -> list[Due]:
    stmt = select(CampaignRow.id, CampaignRow.order_id, CampaignRow.purchase_order_id).where(
        *conditions, CampaignRow.id > after_id
    )
    rows = await session.execute(stmt.order_by(CampaignRow.id).limit(limit))
    return [Due(pk, (order_id, po_id)) for pk, order_id, po_id in rows]


async def _lock_due(session: AsyncSession, campaign_ids: list[int], *conditions: Any) -> list[CampaignRow]:
    """The campaigns that still meet `conditions`, locked FOR UPDATE by id; those another
    transaction holds right now are skipped (SKIP LOCKED: the next pass gets them)."""
    stmt = select(CampaignRow).where(CampaignRow.id.in_(campaign_ids), *conditions).order_by(CampaignRow.id)
    stmt = stmt.with_for_update(skip_locked=True).execution_options(populate_existing=True)
    return list(await session.scalars(stmt))


# --- reads ----------------------------------------------------------------------------------


# A campaign's related records, each named once: the kind and id of the source it draws on (its
# PO when it has one, else its order), its order, its audience.


def source_key(campaign: Record) -> tuple[str, int] | None:
    if campaign["purchase_order_id"] is not None:
        return ("PurchaseOrder", campaign["purchase_order_id"])
    if campaign["order_id"] is not None:
        return ("Order", campaign["order_id"])
    return None


# Campaign fields and the records they read: what a page prefetches for the fields asked.
RELATED = {
    "budgetSource": ("source",),
    "order": ("order",),
    "currency": ("order",),
    "purchaseOrder": ("purchase_order",),
    "audience": ("audience",),
}


async def prefetch(ctx: Context, records: list[Record], fields: set[str]) -> None:
    """Read what the page's items will ask for (`fields`: the Campaign fields selected) in one
    statement per kind of record, before they ask, into the request's loaders.

    The items then find their records in the loaders' caches and resolve without awaiting,
    which is most of the cost of a nested object in a list (see docs/benchmarks.md).
    """
    wanted = {kind for name in fields for kind in RELATED.get(name, ())}
    purchase_order_ids: set[int] = set()
    order_ids: set[int] = set()
    audience_ids: set[int] = set()
    for c in records:
        source = source_key(c) if "source" in wanted else None
        if source is not None:
            (purchase_order_ids if source[0] == "PurchaseOrder" else order_ids).add(source[1])
        if "purchase_order" in wanted and c["purchase_order_id"] is not None:
            purchase_order_ids.add(c["purchase_order_id"])
        if "order" in wanted and c["order_id"] is not None:
            order_ids.add(c["order_id"])
        if "audience" in wanted and c["audience_id"] is not None:
            audience_ids.add(c["audience_id"])
    loaders = ctx.loaders
    for loader, read, keys in (
        (loaders.audience, reads.audiences, audience_ids),
        (loaders.purchase_order, partial(reads.sources, kind="PurchaseOrder"), purchase_order_ids),
        (loaders.order, partial(reads.sources, kind="Order"), order_ids),
    ):
        missing = sorted(k for k in keys if not loaders.holds(loader, k))
        if missing:
            loaders.prime(loader, await ctx.read(partial(read, ids=missing)))


async def page(
    ctx: Context, owner: str, owner_id: int, first: int, after: str | None, status: str | None
) -> Page[Record]:
    """A page of campaigns, newest first, whose `owner` (db/reads.CAMPAIGN_OWNERS) is `owner_id`."""

    async def fetch(before: int | None, limit: int) -> list[Record]:
        return await ctx.read(lambda conn: reads.campaign_page(conn, owner, owner_id, status, before, limit))

    async def count() -> int:
        return await ctx.read(lambda conn: reads.campaign_count(conn, owner, owner_id, status))

    return await paginate_with(fetch, count, first, after, pk=lambda row: int(row["id"]))


async def of_account(ctx: Context, account_id: int, first: int, after: str | None, status: str | None) -> Page[Record]:
    return await page(ctx, "account_id", account_id, first, after, status)


async def of_source(ctx: Context, source: Record, first: int, after: str | None, status: str | None) -> Page[Record]:
    """The campaigns drawing on a source (an order's include its POs')."""
    return await page(ctx, source["kind"], source["id"], first, after, status)


async def allocations_of_source(ctx: Context, source: Record, first: int, after: str | None) -> Page[Record]:
    """R10: the ledger, newest first; an order's includes its POs' entries."""
    on = (reads.drawing_on(source["kind"]), source["id"])
    return await paginate(ctx.read, AllocationRow, {}, first, after, condition=on)
