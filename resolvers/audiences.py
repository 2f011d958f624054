"""Audiences: created by campaign managers, chosen in wizard step 1."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import reads
from db.models import AudienceRow
from db.reads import Record
from resolvers import validation
from resolvers.access import get_account_for_write, raise_if_duplicate, require_writer, visible
from resolvers.context import Context


async def list_for_account(ctx: Context, account_id: int) -> list[AudienceRow]:
    async with ctx.read() as session:
        rows = list(
            await session.scalars(
                select(AudienceRow).where(AudienceRow.account_id == account_id).order_by(AudienceRow.name)
            )
        )
    for row in rows:
        ctx.loaders.prime(row)
    return rows


async def get_visible(ctx: Context, pk: int) -> AudienceRow | None:
    return visible(ctx.principal, await ctx.loaders.audience.load(pk))


async def records_by_ids(ctx: Context, pks: set[int]) -> dict[int, Record]:
    """Audiences as plain-SQL records (db/reads.py), for budgetline/compiled.py."""
    async with ctx.driver() as conn:
        return {r["id"]: r for r in await reads.audiences(conn, sorted(pks))}


async def create(ctx: Context, *, account_id: str, name: str) -> AudienceRow:
    require_writer(ctx.principal)
    clean = validation.name(name, "name")

    async def work(session: AsyncSession) -> AudienceRow:
        account = await get_account_for_write(session, ctx.principal, account_id)
        audience = AudienceRow(account_id=account.id, name=clean)
        session.add(audience)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise_if_duplicate(exc, {"audiences_name_key": ("name", f"the account already has an audience {clean!r}")})
            raise
        return audience

    return await ctx.transact(work)
