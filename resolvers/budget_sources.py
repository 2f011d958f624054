"""Orders and purchase orders: the source checks of R3-R6, R9, R18.

The figures of a source (status, unallocated amount, percents, days left, display name,
selectability) are SQL: the read model's functions and `budget_sources_view` (migration 0008).
A campaign's wish (selectable, a schedule within the term, an amount that fits) is judged by the
SQL function `source_refusal` (migration 0009, `check_source`), and the other checks here read the
view (`figures`), both under the caller's locks: a write judges a source by exactly what a reader
sees. A source is written as an OrderRow or a PurchaseOrderRow; a PO takes its currency, term and
cancellation from its order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import reads
from db.models import AmendmentRow, CampaignRow, OrderRow, PurchaseOrderRow
from db.reads import Record
from resolvers import activity, ids, validation
from resolvers.access import (
    get_account_for_write,
    get_for_write,
    raise_if_duplicate,
    require_account_team,
    visible,
)
from resolvers.context import Context, Principal
from resolvers.errors import BudgetSourceProblem, InsufficientBudget, InvalidInput, NotFound

SourceRow = OrderRow | PurchaseOrderRow


def today() -> date:
    return datetime.now(UTC).date()


def order_of(source: SourceRow) -> OrderRow:
    """A written source's order row (a PO's currency, term and cancellation are its order's)."""
    return source.order if isinstance(source, PurchaseOrderRow) else source


def kind_of(source: SourceRow) -> str:
    return "PurchaseOrder" if isinstance(source, PurchaseOrderRow) else "Order"


@dataclass(frozen=True)
class Figures:
    """A source's figures as the read model defines them: its own and its order's (the same
    record for an order)."""

    source: Record
    order: Record


_FIGURES = text(
    "SELECT * FROM budget_sources_view"
    " WHERE (kind = 'Order' AND id = :order_id) OR (kind = 'PurchaseOrder' AND id = :purchase_order_id)"
)


async def figures_of(session: AsyncSession, order_id: int, purchase_order_id: int | None) -> Figures:
    """The figures of the source (order_id, purchase_order_id) names, read now: after the
    caller's locks, in a statement of its own, so they are the committed ones."""
    found = await session.execute(_FIGURES, {"order_id": order_id, "purchase_order_id": purchase_order_id})
    records: dict[str, Record] = {r.kind: dict(r._mapping) for r in found}
    order = records["Order"]
    return Figures(records.get("PurchaseOrder", order) if purchase_order_id is not None else order, order)


async def figures(session: AsyncSession, source: SourceRow) -> Figures:
    return await figures_of(session, order_of(source).id, source.id if isinstance(source, PurchaseOrderRow) else None)


async def name_of(session: AsyncSession, source: SourceRow) -> str:
    """A written source's display name, for a message."""
    return str((await figures(session, source)).source["display_name"])


# --- rules a campaign's source must pass (R3-R6): the SQL function `source_refusal` -----------

_REFUSAL = text(
    "SELECT * FROM source_refusal(:order_id, :purchase_order_id, :start, :end, :amount, :selectable, :field)"
)


def refuse(refusal: Any) -> None:
    """A refusal of `source_refusal` (or of `publish_campaign`, which applies it) as its user error."""
    if refusal.code == "INSUFFICIENT_BUDGET":
        raise InsufficientBudget(refusal.message, refusal.field, refusal.requested, refusal.unallocated)
    raise BudgetSourceProblem(refusal.message, refusal.field, code=refusal.code)


async def check_source(
    session: AsyncSession,
    order_id: int,
    purchase_order_id: int | None,
    *,
    schedule: tuple[date, date] | None = None,
    amount: Decimal | None = None,
    selectable: bool = True,
    amount_field: str = "budget",
) -> None:
    """The source (order_id, purchase_order_id) names, judged by `source_refusal` (migration
    0009) in R3's order: selectable (unless `selectable` is False), the schedule within its term,
    the amount within its and its order's unallocated amounts; the first refusal is raised. Under
    the caller's locks, the figures it reads are the committed ones."""
    start, end = schedule if schedule is not None else (None, None)
    found = await session.execute(
        _REFUSAL,
        {
            "order_id": order_id,
            "purchase_order_id": purchase_order_id,
            "start": start,
            "end": end,
            "amount": amount,
            "selectable": selectable,
            "field": amount_field,
        },
    )
    refusal = found.first()
    if refusal is not None:
        refuse(refusal)


async def lock_source(session: AsyncSession, order_id: int, purchase_order_id: int | None) -> SourceRow:
    """Lock the source rows in the one fixed order: the PO first, then its order.

    Every path that moves an allocation takes its locks here (after the campaign row),
    so no two transactions can wait on each other in a cycle. The mode is FOR NO KEY UPDATE:
    it queues every writer of the figures behind the holder, and lets the foreign-key checks of
    rows that point at the source (their KEY SHARE locks) pass. FOR UPDATE would make those
    checks wait, and deadlock a draft assignment or settlement with a queued publish.
    """
    if purchase_order_id is not None:
        # One statement locks both: the PO and its order (joined), in that order (the order
        # of the FROM list); one round trip less while other publishes queue on the PO.
        po = (
            await session.scalars(
                select(PurchaseOrderRow)
                .where(PurchaseOrderRow.id == purchase_order_id)
                .with_for_update(key_share=True)
                .execution_options(populate_existing=True)
            )
        ).one()
        assert po.order_id == order_id, "a campaign's order is its PO's order"
        return po
    return (
        await session.scalars(
            select(OrderRow)
            .where(OrderRow.id == order_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
    ).one()


async def resolve_source_id(session: AsyncSession, principal: Principal, global_id: str, field: str) -> SourceRow:
    type_name, _ = ids.expect(global_id, field, "Order", "PurchaseOrder")
    model: type[SourceRow] = PurchaseOrderRow if type_name == "PurchaseOrder" else OrderRow
    return await get_for_write(session, principal, model, type_name, global_id, field)


# --- reads -----------------------------------------------------------------------------


async def list_for_account(ctx: Context, account: Record, *, include_inactive: bool) -> list[Record]:
    """Account.budgetSources: the drop-down, as the SQL function defines it."""
    found = await ctx.read(lambda conn: reads.dropdown(conn, account["id"], include_inactive))
    for record in found:
        ctx.loaders.prime(ctx.loaders.source(record["kind"]), [record])
    return found


def _listed(ctx: Context, kind: str, records: list[Record]) -> list[Record]:
    """Sources of one kind in a list field, primed into their loader so nested fields do not
    read them again."""
    ctx.loaders.prime(ctx.loaders.source(kind), records)
    return records


async def orders_of_account(ctx: Context, account_id: int) -> list[Record]:
    return _listed(ctx, "Order", await ctx.read(lambda conn: reads.sources_of_account(conn, account_id, "Order")))


async def purchase_orders_of_account(ctx: Context, account_id: int) -> list[Record]:
    found = await ctx.read(lambda conn: reads.sources_of_account(conn, account_id, "PurchaseOrder"))
    return _listed(ctx, "PurchaseOrder", found)


async def purchase_orders_of_order(ctx: Context, order_id: int) -> list[Record]:
    found = await ctx.read(lambda conn: reads.purchase_orders_of_order(conn, order_id))
    return _listed(ctx, "PurchaseOrder", found)


async def load(ctx: Context, order_id: int, purchase_order_id: int | None) -> Record | None:
    """The source a row names by (order_id, purchase_order_id): its PO when it has one, else its
    order (campaigns, alerts, change requests), through the request's loaders."""
    if purchase_order_id is not None:
        return await ctx.loaders.purchase_order.load(purchase_order_id)
    return await ctx.loaders.order.load(order_id)


async def get_visible(ctx: Context, type_name: str, pk: int) -> Record | None:
    return visible(ctx.principal, await ctx.loaders.source(type_name).load(pk))


# --- mutations (ACCOUNT_TEAM only) -------------------------------------------------------


async def create_order(
    ctx: Context,
    *,
    account_id: str,
    order_number: str,
    amount: Decimal,
    currency: str,
    start_date: date,
    end_date: date,
) -> OrderRow:
    """R9: any term with startDate <= endDate, past ones included; DUPLICATE order numbers refused."""
    require_account_team(ctx.principal)
    number = validation.reference_number(order_number, "orderNumber")
    validation.positive_amount(amount, "amount")
    code = validation.currency(currency)
    validation.term(start_date, end_date)

    async def work(session: AsyncSession) -> OrderRow:
        account = await get_account_for_write(session, ctx.principal, account_id)
        order = OrderRow(
            account_id=account.id,
            order_number=number,
            amount=amount,
            currency=code,
            start_date=start_date,
            end_date=end_date,
        )
        session.add(order)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise_if_duplicate(
                exc, {"orders_order_number_key": ("orderNumber", f"order number {number} already exists")}
            )
            raise
        return order

    return await ctx.transact(work)


async def create_purchase_order(ctx: Context, *, order_id: str, po_number: str, amount: Decimal) -> PurchaseOrderRow:
    """R9: the PO amounts of one order add up to at most the order's amount; PO numbers unique per account."""
    require_account_team(ctx.principal)
    number = validation.reference_number(po_number, "poNumber")
    validation.positive_amount(amount, "amount")

    async def work(session: AsyncSession) -> PurchaseOrderRow:
        order = await get_for_write(session, ctx.principal, OrderRow, "Order", order_id, "orderId", lock=True)
        if order.cancelled_at is not None:
            raise BudgetSourceProblem(
                f"{await name_of(session, order)} is cancelled", "orderId", code="BUDGET_SOURCE_NOT_SELECTABLE"
            )
        room = order.amount - order.purchase_order_total
        if amount > room:
            raise InsufficientBudget(
                f"{amount} exceeds the {room} of {await name_of(session, order)} not yet covered by purchase orders",
                "amount",
                amount,
                room,
            )
        po = PurchaseOrderRow(account_id=order.account_id, order_id=order.id, po_number=number, amount=amount)
        po.order = order
        session.add(po)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise_if_duplicate(
                exc,
                {
                    "purchase_orders_po_number_key": (
                        "poNumber",
                        f"the account already has a purchase order {number}",
                    )
                },
            )
            raise
        return po

    return await ctx.transact(work)


async def cancel(ctx: Context, *, budget_source_id: str) -> SourceRow:
    """R9: cancelling never touches published campaigns' budgets; it makes the source unselectable."""
    require_account_team(ctx.principal)

    async def work(session: AsyncSession) -> SourceRow:
        source = await resolve_source_id(session, ctx.principal, budget_source_id, "budgetSourceId")
        if source.cancelled_at is None:
            before = (await figures(session, source)).source["status"]
            activity.note_change(session, source, "status", before, "CANCELLED")
            source.cancelled_at = datetime.now(UTC)
            await session.flush()
        return source

    return await ctx.transact(work)


# --- amendments (R18, ACCOUNT_TEAM only; change requests apply them too: resolvers/change_requests.py) ---


@dataclass(frozen=True)
class Amendment:
    """What to change: a new amount (of the order or the PO) and/or a new end date (of the order,
    also when asked on a PO, which follows its order's term)."""

    amount: Decimal | None
    end_date: date | None
    note: str


async def amend_order(
    ctx: Context, *, order_id: str, amount: Decimal | None, end_date: date | None, note: str
) -> OrderRow:
    require_account_team(ctx.principal)
    change = _checked(amount, end_date, note)

    async def work(session: AsyncSession) -> OrderRow:
        order = await lock_order_and_its_pos(session, ctx.principal, order_id, "orderId")
        await apply_amendment(session, order, change, ctx.principal.actor)
        return order

    return await ctx.transact(work)


async def amend_purchase_order(
    ctx: Context, *, purchase_order_id: str, amount: Decimal | None, note: str
) -> PurchaseOrderRow:
    require_account_team(ctx.principal)
    change = _checked(amount, None, note, term=False)

    async def work(session: AsyncSession) -> PurchaseOrderRow:
        _, pk = ids.expect(purchase_order_id, "purchaseOrderId", "PurchaseOrder")
        found = await session.get(PurchaseOrderRow, pk)
        if visible(ctx.principal, found) is None:
            raise NotFound("no purchase order with this purchaseOrderId", "purchaseOrderId")
        assert found is not None
        po = await lock_source(session, found.order_id, found.id)  # the PO, then its order (R5)
        assert isinstance(po, PurchaseOrderRow)
        await apply_amendment(session, po, change, ctx.principal.actor)
        return po

    return await ctx.transact(work)


def _checked(amount: Decimal | None, end_date: date | None, note: str, *, term: bool = True) -> Amendment:
    clean = validation.note(note, "note")
    if amount is None and end_date is None:
        asked = "give the new amount, the new endDate, or both" if term else "give the new amount"
        raise InvalidInput(asked, "amount")
    if amount is not None:
        validation.positive_amount(amount, "amount")
    return Amendment(amount, end_date, clean)


async def lock_order_and_its_pos(session: AsyncSession, principal: Principal, order_id: str, field: str) -> OrderRow:
    """R18's locks for an order: its POs by ID, then the order (R5's order: POs before orders)."""
    _, pk = ids.expect(order_id, field, "Order")
    found = await session.get(OrderRow, pk)
    if visible(principal, found) is None:
        raise NotFound(f"no order with this {field}", field)
    pos = select(PurchaseOrderRow.id).where(PurchaseOrderRow.order_id == pk).order_by(PurchaseOrderRow.id)
    await session.execute(pos.with_for_update(key_share=True))
    stmt = select(OrderRow).where(OrderRow.id == pk).with_for_update(key_share=True)
    return (await session.scalars(stmt.execution_options(populate_existing=True))).one()


async def apply_amendment(
    session: AsyncSession, source: SourceRow, change: Amendment, actor: str, request_id: int | None = None
) -> list[AmendmentRow]:
    """R18 on a source whose rows are locked (lock_order_and_its_pos, or lock_source for a PO's
    amount): every check first, then the change and its record. An end date on a PO amends its
    order's term (the caller then holds the order's POs too)."""
    order = order_of(source)
    where = "orderId" if isinstance(source, OrderRow) else "purchaseOrderId"
    if source.cancelled_at is not None or order.cancelled_at is not None:
        raise BudgetSourceProblem(
            f"{await name_of(session, source)} is cancelled and cannot be amended",
            where,
            code="BUDGET_SOURCE_NOT_SELECTABLE",
        )
    if change.amount is not None:
        await check_amount_change(session, source, change.amount)
    if change.end_date is not None:
        await check_end_date_change(session, order, change.end_date)
    done: list[AmendmentRow] = []
    if isinstance(source, OrderRow):  # one record of both changes
        amount = change.amount if change.amount is not None else source.amount
        end_date = change.end_date if change.end_date is not None else source.end_date
        if (amount, end_date) != (source.amount, source.end_date):
            done.append(_record(source, amount=amount, end_date=end_date, change=change, actor=actor))
            source.amount, source.end_date = amount, end_date
    else:  # the order's term on the order, the PO's amount on the PO
        if change.end_date is not None and change.end_date != order.end_date:
            done.append(_record(order, amount=order.amount, end_date=change.end_date, change=change, actor=actor))
            order.end_date = change.end_date
        if change.amount is not None and change.amount != source.amount:
            done.append(_record(source, amount=change.amount, end_date=order.end_date, change=change, actor=actor))
            source.amount = change.amount
    if not done:
        raise InvalidInput(
            f"{await name_of(session, source)} has this amount and end date already: nothing to amend", "amount"
        )
    for row in done:
        row.request_id = request_id
        session.add(row)
    await session.flush()
    return done


def _record(source: SourceRow, *, amount: Decimal, end_date: date, change: Amendment, actor: str) -> AmendmentRow:
    order = order_of(source)
    return AmendmentRow(
        account_id=source.account_id,
        order_id=order.id,
        purchase_order_id=source.id if isinstance(source, PurchaseOrderRow) else None,
        amount_before=source.amount,
        amount_after=amount,
        end_date_before=order.end_date,
        end_date_after=end_date,
        note=change.note,
        actor=actor,
    )


async def check_amount_change(session: AsyncSession, source: SourceRow, amount: Decimal) -> None:
    """R18: never below what is committed; a PO's increase within what its order has left."""
    if isinstance(source, PurchaseOrderRow):
        floor = source.allocated_amount
        committed = f"its allocated {floor}"
    else:
        floor = max(source.allocated_amount, source.purchase_order_total)
        committed = f"its allocated {source.allocated_amount} and its POs' {source.purchase_order_total}"
    if amount < floor:
        raise InsufficientBudget(
            f"{amount} is below what {await name_of(session, source)} has committed ({committed})",
            "amount",
            amount,
            floor,
            code="AMOUNT_BELOW_COMMITTED",
        )
    if isinstance(source, PurchaseOrderRow) and amount > source.amount:
        order = source.order
        room = order.amount - (order.purchase_order_total - source.amount)
        if amount > room:
            raise InsufficientBudget(
                f"{amount} exceeds the {room} of {await name_of(session, order)} its other POs leave",
                "amount",
                amount,
                room,
            )


async def check_end_date_change(session: AsyncSession, order: OrderRow, end_date: date) -> None:
    """R18: a term still ends on or after it starts, and a shorter one cuts no live or paused
    campaign of the order or its POs (drafts are checked again by R3 and R5)."""
    validation.term(order.start_date, end_date)
    if end_date >= order.end_date:
        return
    stmt = (
        select(CampaignRow.name, CampaignRow.end_date)
        .where(
            CampaignRow.order_id == order.id,
            CampaignRow.status.in_(("PUBLISHED", "PAUSED")),
            CampaignRow.end_date > end_date,
        )
        .order_by(CampaignRow.end_date.desc(), CampaignRow.id)
        .limit(1)
    )
    cut = (await session.execute(stmt)).first()
    if cut is not None:
        raise BudgetSourceProblem(
            f"campaign {cut.name!r} runs until {cut.end_date}: the term of {await name_of(session, order)} cannot "
            "end before it",
            "endDate",
            code="SCHEDULE_OUTSIDE_TERM",
        )


async def amendments_of(ctx: Context, source: Record) -> list[Record]:
    """BudgetSource.amendments, oldest first: its own (source_amended_by)."""
    own = (reads.amended(source["kind"]), source["id"])
    return await ctx.read(lambda conn: reads.rows(conn, AmendmentRow, {}, newest_first=False, condition=own))
