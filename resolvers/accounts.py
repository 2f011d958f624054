"""Accounts (tenants): reads filtered by the principal, management by the account team."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from db import reads
from db.models import AccountRow
from db.reads import Record
from resolvers import validation
from resolvers.access import get_account_for_write, require_account_team
from resolvers.context import Context


def _visible(ctx: Context, account: Record | None) -> Record | None:
    """R8: a key sees its own account; the account team and DELIVERY see every account."""
    return account if account is not None and ctx.principal.can_see(account["id"]) else None


async def get_visible(ctx: Context, pk: int) -> Record | None:
    return _visible(ctx, await ctx.loaders.account.load(pk))


def is_own(ctx: Context, pk: int) -> bool:
    """The key's own account: visible, and it exists (api_keys.account_id references it and
    accounts are never deleted), so knowing that needs no read."""
    return ctx.principal.account_id == pk


async def viewer_account(ctx: Context) -> Record | None:
    if ctx.principal.account_id is None:
        return None
    return await ctx.loaders.account.load(ctx.principal.account_id)


async def list_all(ctx: Context) -> list[Record]:
    """Accounts the principal can see: its own, or all of them for the account team and DELIVERY."""
    own = ctx.principal.account_id
    found = await ctx.read(lambda conn: reads.accounts(conn, [own] if own is not None else None))
    ctx.loaders.prime(ctx.loaders.account, found)
    return found


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
