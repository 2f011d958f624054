"""The database refuses what would break the invariants, even from a manual SQL session."""

from __future__ import annotations

import asyncpg
import pytest

from tests.helpers import Api, World, check_ledger, pk


@pytest.fixture
async def world(api: Api) -> World:
    return await api.world(order_amount="1000.00", po_amount="500.00")


async def test_allocated_amount_cannot_exceed_amount(world: World, db: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("UPDATE purchase_orders SET allocated_amount = amount + 0.01")
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("UPDATE orders SET allocated_amount = -1")


async def test_a_ledger_entry_that_overspends_is_refused(world: World, db: asyncpg.Connection) -> None:
    campaign = pk(await world.published("100.00"))
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            """INSERT INTO allocations (account_id, campaign_id, order_id, purchase_order_id, delta, reason, actor)
               SELECT account_id, id, order_id, purchase_order_id, 400.01, 'manual', 'psql' FROM campaigns
               WHERE id = $1""",
            campaign,
        )
    assert await db.fetchval("SELECT allocated_amount FROM purchase_orders") == 100


async def test_po_amounts_cannot_exceed_the_order(world: World, db: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO purchase_orders (account_id, order_id, po_number, amount) "
            "SELECT account_id, id, 'PO-RAW', 500.01 FROM orders"
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("UPDATE purchase_orders SET amount = 1000.01")


async def test_the_ledger_is_append_only(world: World, db: asyncpg.Connection) -> None:
    await world.published("100.00")
    for statement in ("UPDATE allocations SET delta = 1", "DELETE FROM allocations", "TRUNCATE allocations CASCADE"):
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await db.execute(statement)
    assert await db.fetchval("SELECT count(*) FROM allocations") == 1


async def test_a_published_campaign_keeps_source_audience_and_status(
    api: Api, world: World, db: asyncpg.Connection
) -> None:
    campaign = pk(await world.published("100.00"))
    other_po = pk(await api.create_po(world.order, "PO-2", "100.00"))
    other_audience = pk(await api.create_audience(world.account, "Other", world.manager))
    for statement, arg in (
        ("UPDATE campaigns SET purchase_order_id = $2 WHERE id = $1", other_po),
        ("UPDATE campaigns SET audience_id = $2 WHERE id = $1", other_audience),
        ("UPDATE campaigns SET status = 'DRAFT' WHERE id = $1 AND $2 > 0", 1),
        ("DELETE FROM campaigns WHERE id = $1 AND $2 > 0", 1),
    ):
        with pytest.raises(asyncpg.RestrictViolationError, match="published campaign"):
            await db.execute(statement, campaign, arg)
    await db.execute("UPDATE campaigns SET name = 'renamed by hand' WHERE id = $1", campaign)


async def test_a_campaign_cannot_draw_on_another_accounts_source(
    api: Api, world: World, db: asyncpg.Connection
) -> None:
    other = await api.world(name="Globex")
    draft = pk((await world.draft())["id"])
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(
            "UPDATE campaigns SET order_id = $2, purchase_order_id = $3 WHERE id = $1",
            draft,
            pk(other.order),
            pk(other.po),
        )


async def test_check_ledger_reports_differences_and_exits_non_zero(
    world: World, db: asyncpg.Connection, database_url: str
) -> None:
    await world.published("100.00")
    clean = check_ledger(database_url)
    assert clean.returncode == 0 and "checked 2 budget sources and 1 campaigns: 0 differences" in clean.stdout
    await db.execute("UPDATE orders SET allocated_amount = allocated_amount + 1")  # a bug or a manual edit
    dirty = check_ledger(database_url)
    assert dirty.returncode == 1
    assert "DIFFERENCE Order" in dirty.stdout and "1 differences" in dirty.stdout


async def test_draft_totals_follow_every_change_of_a_draft(
    world: World, db: asyncpg.Connection, database_url: str
) -> None:
    campaign = pk((await world.draft())["id"])
    totals = "SELECT (SELECT draft_amount FROM purchase_orders), (SELECT draft_amount FROM orders)"
    await db.execute(
        "UPDATE campaigns SET budget = 70, order_id = $2, purchase_order_id = $3 WHERE id = $1",
        campaign,
        pk(world.order),
        pk(world.po),
    )
    assert tuple(await db.fetchrow(totals)) == (70, 70)
    await db.execute("UPDATE campaigns SET budget = 30 WHERE id = $1", campaign)
    assert tuple(await db.fetchrow(totals)) == (30, 30)
    await db.execute("UPDATE campaigns SET purchase_order_id = NULL WHERE id = $1", campaign)
    assert tuple(await db.fetchrow(totals)) == (0, 30)
    await db.execute("DELETE FROM campaigns WHERE id = $1", campaign)
    assert tuple(await db.fetchrow(totals)) == (0, 0)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("UPDATE orders SET draft_amount = -1")
    assert check_ledger(database_url).returncode == 0
    await db.execute("UPDATE orders SET draft_amount = 5")
    assert "draft total 5.00" in check_ledger(database_url).stdout
