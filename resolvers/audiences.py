"""Audiences: created by campaign managers, chosen in wizard step 1."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import reads
from db.models import AccountRow, AudienceRow
from db.reads import Record
from resolvers import validation
from resolvers.access import get_account_for_write, raise_if_duplicate, require_writer
from resolvers.context import Context
from resolvers.errors import InvalidInput


async def list_for_account(ctx: Context, account_id: int) -> list[Record]:
    found = await ctx.read(lambda conn: reads.audiences_of_account(conn, account_id, MAX_PER_ACCOUNT))
    ctx.loaders.prime(ctx.loaders.audience, found)
    return found


# `Account.audiences` is a plain list: its length is bounded here, so that a query's cost
# (budgetline/limits.py, BUDGETLINE_COST_LIST_SIZE) can count it.
MAX_PER_ACCOUNT = 100


async def create(ctx: Context, *, account_id: str, name: str) -> AudienceRow:
    require_writer(ctx.principal)
    clean = validation.name(name, "name")

    async def work(session: AsyncSession) -> AudienceRow:
        account = await get_account_for_write(session, ctx.principal, account_id)
        # Under the account's row lock, so that concurrent creates cannot pass the bound together.
        await session.execute(select(AccountRow.id).where(AccountRow.id == account.id).with_for_update())
        count = await session.scalar(select(func.count()).where(AudienceRow.account_id == account.id))
        if (count or 0) >= MAX_PER_ACCOUNT:
            raise InvalidInput(f"an account has at most {MAX_PER_ACCOUNT} audiences", "accountId")
        audience = AudienceRow(account_id=account.id, name=clean)
        session.add(audience)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise_if_duplicate(exc, {"audiences_name_key": ("name", f"the account already has an audience {clean!r}")})
            raise
        return audience

    return await ctx.transact(work)
