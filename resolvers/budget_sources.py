"""Orders and purchase orders: the budget math (docs/concepts.md, "The figures of a budget
source"), R4's selectability, R9.

A budget source is an OrderRow or a PurchaseOrderRow; a PO takes its currency, term
and cancellation from its order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import reads
from db.models import AccountRow, OrderRow, PurchaseOrderRow
from db.reads import Record
from resolvers import ids, validation
from resolvers.access import (
    get_account_for_write,
    get_for_write,
    raise_if_duplicate,
    require_account_team,
    visible,
)
from resolvers.context import Context, Principal
from resolvers.errors import BudgetSourceProblem, InsufficientBudget

SourceRow = OrderRow | PurchaseOrderRow

ZERO = Decimal("0.00")


def today() -> date:
    return datetime.now(UTC).date()


def order_of(source: SourceRow) -> OrderRow:
    return source.order if isinstance(source, PurchaseOrderRow) else source


def status(source: SourceRow, on: date | None = None) -> str:
    order = order_of(source)
    return status_of(source.cancelled_at is not None or order.cancelled_at is not None, order.end_date, on)


def status_of(cancelled: bool, end_date: date, on: date | None = None) -> str:
    """CANCELLED when it or its order is cancelled, EXPIRED once its order's term has ended."""
    if cancelled:
        return "CANCELLED"
    if end_date < (on or today()):
        return "EXPIRED"
    return "ACTIVE"


def unallocated(source: SourceRow) -> Decimal:
    return unallocated_of(source.amount, source.allocated_amount)


def unallocated_of(amount: Decimal, allocated: Decimal) -> Decimal:
    return max(amount - allocated, ZERO)


def percent_of(part: Decimal, amount: Decimal) -> Decimal:
    """allocatedPercent and spentPercent (R15's figures): part / amount * 100, two fraction digits,
    rounded half up (an amount of 0 has used 0.00 %)."""
    if amount <= 0:
        return ZERO
    return (part * 100 / amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def days_left(source: SourceRow, on: date | None = None) -> int:
    return days_left_of(order_of(source).end_date, on)


def days_left_of(end_date: date, on: date | None = None) -> int:
    """Days from today (UTC) to the end date, both counted: 1 on the last day, 0 once expired."""
    return max((end_date - (on or today())).days + 1, 0)


def is_right_kind(source: SourceRow, account: AccountRow) -> bool:
    return isinstance(source, PurchaseOrderRow) == account.requires_purchase_order


def selectable(source: SourceRow, account: AccountRow) -> bool:
    return status(source) == "ACTIVE" and is_right_kind(source, account)


def display_name(source: SourceRow) -> str:
    if isinstance(source, PurchaseOrderRow):
        return display_name_of(source.order.order_number, source.po_number)
    return display_name_of(source.order_number, None)


def display_name_of(order_number: str, po_number: str | None) -> str:
    return f"PO {po_number} (Order {order_number})" if po_number is not None else f"Order {order_number}"


def global_id(source: SourceRow) -> str:
    return ids.encode("PurchaseOrder" if isinstance(source, PurchaseOrderRow) else "Order", source.id)


# --- rules a campaign's source must pass (R3, R4, R5) ---------------------------------


def check_selectable(source: SourceRow, account: AccountRow, field: str = "budgetSourceId") -> None:
    """R4: ACTIVE, and a PO when the account requires POs, an order when it does not."""
    current = status(source)
    if current != "ACTIVE":
        raise BudgetSourceProblem(
            f"{display_name(source)} is {current.lower()} and cannot be selected",
            field,
            code="BUDGET_SOURCE_NOT_SELECTABLE",
        )
    if account.requires_purchase_order and not isinstance(source, PurchaseOrderRow):
        raise BudgetSourceProblem(
            "this account requires a purchase order as budget source", field, code="PURCHASE_ORDER_REQUIRED"
        )
    if not account.requires_purchase_order and isinstance(source, PurchaseOrderRow):
        raise BudgetSourceProblem(
            "this account does not use purchase orders: select an order",
            field,
            code="BUDGET_SOURCE_NOT_SELECTABLE",
        )


def check_within_term(source: SourceRow, start: date, end: date) -> None:
    """R3: the schedule lies within the term; the error names the date that is outside it."""
    order = order_of(source)
    if start < order.start_date or end > order.end_date:
        raise BudgetSourceProblem(
            f"the schedule {start}..{end} must lie within the term of {display_name(source)}: "
            f"{order.start_date}..{order.end_date}",
            "startDate" if start < order.start_date else "endDate",
            code="SCHEDULE_OUTSIDE_TERM",
        )


def check_fits(amount: Decimal, source: SourceRow, field: str = "budget") -> None:
    """The amount fits the source's unallocated amount, and its order's when the source is a PO."""
    for holder in (source, order_of(source)) if isinstance(source, PurchaseOrderRow) else (source,):
        free = unallocated(holder)
        if amount > free:
            raise InsufficientBudget(
                f"{amount} exceeds the unallocated {free} of {display_name(holder)}", field, amount, free
            )


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


async def list_for_account(ctx: Context, account: AccountRow, *, include_inactive: bool) -> list[SourceRow]:
    """The step-2 drop-down: sources of the kind the account uses, selectable ones unless asked."""
    sources: list[SourceRow]
    if account.requires_purchase_order:
        sources = list(await purchase_orders_of_account(ctx, account.id))
    else:
        sources = list(await orders_of_account(ctx, account.id))
    if include_inactive:
        return sources
    return [s for s in sources if status(s) == "ACTIVE"]


async def _listed(ctx: Context, stmt: Select[Any]) -> list[Any]:
    """Rows of a list field, primed into the loaders so nested fields do not read them again."""
    async with ctx.use_session() as session:
        rows = list((await session.scalars(stmt)).unique())
    for row in rows:
        ctx.loaders.prime(row)
    return rows


async def orders_of_account(ctx: Context, account_id: int) -> list[OrderRow]:
    return await _listed(ctx, select(OrderRow).where(OrderRow.account_id == account_id).order_by(OrderRow.id))


async def purchase_orders_of_account(ctx: Context, account_id: int) -> list[PurchaseOrderRow]:
    stmt = select(PurchaseOrderRow).where(PurchaseOrderRow.account_id == account_id)
    return await _listed(ctx, stmt.order_by(PurchaseOrderRow.id))


async def purchase_orders_of_order(ctx: Context, order_id: int) -> list[PurchaseOrderRow]:
    stmt = select(PurchaseOrderRow).where(PurchaseOrderRow.order_id == order_id)
    return await _listed(ctx, stmt.order_by(PurchaseOrderRow.id))


async def get_visible(ctx: Context, type_name: str, pk: int) -> SourceRow | None:
    if type_name == "PurchaseOrder":
        return visible(ctx.principal, await ctx.loaders.purchase_order.load(pk))
    return visible(ctx.principal, await ctx.loaders.order.load(pk))


# --- the same reads as plain-SQL records (db/reads.py), for budgetline/compiled.py -------


def record_status(source: Record) -> str:
    cancelled = source["cancelled_at"] is not None or source["order_cancelled_at"] is not None
    return status_of(cancelled, source["end_date"])


def record_is_right_kind(source: Record, requires_purchase_order: bool) -> bool:
    kind: str = source["kind"]
    return (kind == "PurchaseOrder") == requires_purchase_order


def record_selectable(source: Record, requires_purchase_order: bool) -> bool:
    return record_status(source) == "ACTIVE" and record_is_right_kind(source, requires_purchase_order)


def dropdown(sources: list[Record], requires_purchase_order: bool, *, include_inactive: bool) -> list[Record]:
    """list_for_account over records: the kind the account uses, selectable ones unless asked."""
    return [
        s
        for s in sources
        if record_is_right_kind(s, requires_purchase_order) and (include_inactive or record_status(s) == "ACTIVE")
    ]


async def records_by_ids(
    ctx: Context, purchase_order_ids: set[int], order_ids: set[int]
) -> dict[tuple[str, int], Record]:
    """Sources by (kind, id): one statement per kind asked for."""
    found: list[Record] = []
    async with ctx.driver() as conn:
        if purchase_order_ids:
            found += await reads.purchase_orders(conn, sorted(purchase_order_ids))
        if order_ids:
            found += await reads.orders(conn, sorted(order_ids))
    return {(r["kind"], r["id"]): r for r in found}


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
                f"{display_name(order)} is cancelled", "orderId", code="BUDGET_SOURCE_NOT_SELECTABLE"
            )
        room = order.amount - order.purchase_order_total
        if amount > room:
            raise InsufficientBudget(
                f"{amount} exceeds the {room} of {display_name(order)} not yet covered by purchase orders",
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
            source.cancelled_at = datetime.now(UTC)
            await session.flush()
        return source

    return await ctx.transact(work)
