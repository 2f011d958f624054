"""Accounts (tenants): reads filtered by the principal, management by the account team."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import reads
from db.models import AccountRow
from db.reads import Record
from resolvers import validation
from resolvers.access import get_account_for_write, require_account_team
from resolvers.context import Context


async def get_visible(ctx: Context, pk: int) -> AccountRow | None:
    row = await ctx.loaders.account.load(pk)
    if row is None or not ctx.principal.can_see(row.id):
        return None
    return row


def is_own(ctx: Context, pk: int) -> bool:
    """The key's own account: visible, and it exists (api_keys.account_id references it and
    accounts are never deleted), so knowing that needs no read."""
    return ctx.principal.account_id == pk


async def visible_record(ctx: Context, pk: int) -> Record | None:
    """get_visible as a plain-SQL record (db/reads.py), for budgetline/compiled.py."""
    async with ctx.driver() as conn:
        row = await reads.account(conn, pk)
    return row if row is not None and ctx.principal.can_see(row["id"]) else None


async def visible_record_with_sources(ctx: Context, pk: int) -> tuple[Record | None, list[Record]]:
    """visible_record and every source of the account (POs and orders), in one statement."""
    async with ctx.driver() as conn:
        rows = await reads.account_with_sources(conn, pk)
    if not rows or not ctx.principal.can_see(rows[0]["a_id"]):
        return None, []
    first = rows[0]
    account = {
        "id": first["a_id"],
        "name": first["a_name"],
        "requires_purchase_order": first["a_requires_purchase_order"],
    }
    return account, [r for r in rows if r["kind"] is not None]


async def viewer_account(ctx: Context) -> AccountRow | None:
    if ctx.principal.account_id is None:
        return None
    return await ctx.loaders.account.load(ctx.principal.account_id)


async def list_all(ctx: Context) -> list[AccountRow]:
    """Accounts the principal can see: its own, or all of them for the account team and DELIVERY."""
    stmt = select(AccountRow).order_by(AccountRow.id)
    if ctx.principal.account_id is not None:
        stmt = stmt.where(AccountRow.id == ctx.principal.account_id)
    async with ctx.use_session() as session:
        rows = list(await session.scalars(stmt))
    for row in rows:
        ctx.loaders.prime(row)
    return rows


async def create(ctx: Context, *, name: str, requires_purchase_order: bool) -> AccountRow:
    require_account_team(ctx.principal)
    clean = validation.name(name, "name")

    async def work(session: AsyncSession) -> AccountRow:
        account = AccountRow(name=clean, requires_purchase_order=requires_purchase_order)
        session.add(account)
        await session.flush()
        return account

    return await ctx.transact(work)


async def update(
    ctx: Context, *, account_id: str, name: str | None, requires_purchase_order: bool | None
) -> AccountRow:
    """Switching requiresPurchaseOrder leaves published campaigns alone; drafts whose source
    is of the wrong kind then fail R3/R5 until they pick one of the right kind."""
    require_account_team(ctx.principal)
    clean = validation.name(name, "name") if name is not None else None

    async def work(session: AsyncSession) -> AccountRow:
        # Locked: it waits for publishes in flight (they hold the account FOR SHARE while they
        # check requiresPurchaseOrder, R5), and later ones wait for it and see the new value.
        account = await get_account_for_write(session, ctx.principal, account_id, lock=True)
        if clean is not None:
            account.name = clean
        if requires_purchase_order is not None:
            account.requires_purchase_order = requires_purchase_order
        account.updated_at = func.clock_timestamp()  # the moment of the write, under its lock
        await session.flush()
        await session.refresh(account, ["updated_at"])
        return account

    return await ctx.transact(work)
