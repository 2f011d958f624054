"""Change requests (R19): a customer asks the account team for a new amount and/or end date of
one of the account's sources; the account team approves (applying exactly that amendment under
R18, budget_sources.apply_amendment) or declines; the customer may withdraw. Only a PENDING
request moves, once (the database holds that too: migration 0007)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import reads
from db.models import BudgetChangeRequestRow, PurchaseOrderRow
from db.reads import Record
from resolvers import budget_sources, ids, validation
from resolvers.access import require_account_team, require_writer, visible
from resolvers.budget_sources import Amendment, SourceRow
from resolvers.context import Context, Principal
from resolvers.errors import InvalidInput, NotFound, RequestState, UserError
from resolvers.pagination import Page, paginate


async def request(
    ctx: Context, *, budget_source_id: str, amount: Decimal | None, end_date: date | None, note: str
) -> BudgetChangeRequestRow:
    """requestBudgetChange: a CAMPAIGN_MANAGER of the account (or the account team). Not judged
    against R18 now: only when approved."""
    require_writer(ctx.principal)
    clean = validation.note(note, "note")
    if amount is None and end_date is None:
        raise InvalidInput("ask for a new amount, a new endDate, or both", "amount")
    if amount is not None:
        validation.positive_amount(amount, "amount")

    async def work(session: AsyncSession) -> BudgetChangeRequestRow:
        source = await budget_sources.resolve_source_id(session, ctx.principal, budget_source_id, "budgetSourceId")
        row = BudgetChangeRequestRow(
            account_id=source.account_id,
            order_id=budget_sources.order_of(source).id,
            purchase_order_id=source.id if isinstance(source, PurchaseOrderRow) else None,
            amount=amount,
            end_date=end_date,
            note=clean,
            requested_by=ctx.principal.actor,
        )
        session.add(row)
        await session.flush()
        return row

    return await ctx.transact(work)


async def withdraw(ctx: Context, *, request_id: str) -> BudgetChangeRequestRow:
    """Any CAMPAIGN_MANAGER of the requester's account (or the account team)."""
    require_writer(ctx.principal)

    async def work(session: AsyncSession) -> BudgetChangeRequestRow:
        row = await _pending(session, ctx.principal, request_id)
        _decide(row, "WITHDRAWN", ctx.principal, None)
        await session.flush()
        return row

    return await ctx.transact(work)


async def approve(ctx: Context, *, request_id: str, note: str | None) -> BudgetChangeRequestRow:
    """The account team applies exactly the requested amendment (R18) in this transaction; if R18
    refuses, so does the approval, and the request stays PENDING."""
    require_account_team(ctx.principal)
    decision = validation.note(note, "note") if note is not None else None

    async def work(session: AsyncSession) -> BudgetChangeRequestRow:
        row = await _pending(session, ctx.principal, request_id)
        source = await _lock_source(session, ctx.principal, row)
        change = Amendment(
            row.amount, row.end_date, f"change request {ids.encode('BudgetChangeRequest', row.id)}: {row.note}"
        )
        try:
            await budget_sources.apply_amendment(session, source, change, ctx.principal.actor, request_id=row.id)
        except UserError as refused:
            refused.field = "requestId"  # R18's error, about the request: its input has no amount
            raise
        _decide(row, "APPROVED", ctx.principal, decision)
        await session.flush()
        return row

    return await ctx.transact(work)


async def decline(ctx: Context, *, request_id: str, note: str | None) -> BudgetChangeRequestRow:
    require_account_team(ctx.principal)
    decision = validation.note(note, "note") if note is not None else None

    async def work(session: AsyncSession) -> BudgetChangeRequestRow:
        row = await _pending(session, ctx.principal, request_id)
        _decide(row, "DECLINED", ctx.principal, decision)
        await session.flush()
        return row

    return await ctx.transact(work)


async def _pending(session: AsyncSession, principal: Principal, request_id: str) -> BudgetChangeRequestRow:
    """The request, locked (before any source: nothing locks a request after a source)."""
    _, pk = ids.expect(request_id, "requestId", "BudgetChangeRequest")
    stmt = select(BudgetChangeRequestRow).where(BudgetChangeRequestRow.id == pk).with_for_update()
    row = visible(principal, (await session.scalars(stmt.execution_options(populate_existing=True))).first())
    if row is None:
        raise NotFound("no change request with this requestId", "requestId")
    if row.status != "PENDING":
        raise RequestState(f"the request is {row.status.lower()} already: only a pending one can change", row.status)
    return row


async def _lock_source(session: AsyncSession, principal: Principal, row: BudgetChangeRequestRow) -> SourceRow:
    """R18's locks: for an end date, the order's POs and the order (a PO's request asks for its
    order's term); for a PO's amount alone, the PO and its order."""
    order_id = ids.encode("Order", row.order_id)
    if row.purchase_order_id is None:
        return await budget_sources.lock_order_and_its_pos(session, principal, order_id, "requestId")
    if row.end_date is not None:
        await budget_sources.lock_order_and_its_pos(session, principal, order_id, "requestId")
    return await budget_sources.lock_source(session, row.order_id, row.purchase_order_id)


def _decide(row: BudgetChangeRequestRow, status: str, principal: Principal, note: str | None) -> None:
    row.status = status
    row.decided_by = principal.actor
    row.decided_at = datetime.now(UTC)
    row.decision_note = note


# --- reads -------------------------------------------------------------------------------------


def _with_status(where: reads.Where, status: str | None) -> reads.Where:
    return where if status is None else {**where, "status": status}


async def of_account(ctx: Context, account_id: int, first: int, after: str | None, status: str | None) -> Page[Record]:
    """Account.changeRequests: newest first."""
    return await paginate(
        ctx.read, BudgetChangeRequestRow, _with_status({"account_id": account_id}, status), first, after
    )


async def of_source(ctx: Context, source: Record, status: str | None) -> list[Record]:
    """BudgetSource.changeRequests, newest first: those about it (source_includes: an order's
    include its POs')."""
    about = (reads.drawing_on(source["kind"]), source["id"])
    where = _with_status({}, status)
    return await ctx.read(lambda conn: reads.rows(conn, BudgetChangeRequestRow, where, limit=100, condition=about))
