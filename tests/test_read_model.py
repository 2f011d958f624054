"""The read model (db/reads.py) has one shape per kind of record, whoever made it: the plain-SQL
reads, and `record_of` / `source_record` for a row a mutation has just written (its payload is
built from that). Both are compared here, column by column, for every row of a world with every
status in it, so the two can never drift: a mutation's answer is the answer a read would give."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from db import reads
from db.models import AccountRow, AudienceRow, CampaignRow, OrderRow, PurchaseOrderRow
from db.session import async_url
from tests.helpers import TODAY, Api


async def every_row(database_url: str) -> dict[type, list[Any]]:
    engine = create_async_engine(async_url(database_url))
    try:
        async with AsyncSession(engine) as session:
            return {
                model: list((await session.scalars(select(model).order_by(model.id))).unique())  # type: ignore[attr-defined]
                for model in (AccountRow, AudienceRow, OrderRow, PurchaseOrderRow, *reads.TABLES)
            }
    finally:
        await engine.dispose()


async def test_a_written_row_is_the_record_a_read_returns(api: Api, db: asyncpg.Connection, database_url: str) -> None:
    world, _ = await api.varied_worlds()
    # Spend, an alert, an amendment and a change request: a row in every table.
    delivery = await api.issue_key("DELIVERY", None, "ads")
    campaign = await world.published("18000.00")  # 96 % allocated: an ALLOCATION_THRESHOLD alert
    await api.mutate("reportSpend", {"campaignId": campaign, "date": TODAY.isoformat(), "amount": "5.00"}, delivery)
    amend = {"purchaseOrderId": world.po, "amount": "21000.00", "note": "more"}
    assert (await api.mutate("amendPurchaseOrder", amend, select="... on PurchaseOrder { id }"))["id"]
    change = {"budgetSourceId": world.po, "amount": "25000.00", "note": "please"}
    assert await api.mutate("requestBudgetChange", change, world.manager, select="... on BudgetChangeRequest { id }")

    rows = await every_row(database_url)
    # JSON decoded as SQLAlchemy's asyncpg dialect decodes it on every connection of the app.
    await db.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    plain = {
        AccountRow: await reads.accounts(db, None),
        AudienceRow: await reads.audiences(db, [r.id for r in rows[AudienceRow]]),
        OrderRow: await reads.orders(db, [r.id for r in rows[OrderRow]]),
        PurchaseOrderRow: await reads.purchase_orders(db, [r.id for r in rows[PurchaseOrderRow]]),
        **{model: await reads.rows(db, model, {}) for model in reads.TABLES},
    }
    for model in reads.TABLES:  # one by id reads the same record
        first = rows[model][0]
        assert await reads.row(db, model, first.id) == next(r for r in plain[model] if r["id"] == first.id)
    for model, written in rows.items():
        assert written, model  # the world has rows of every kind
        adapt = reads.source_record if model in (OrderRow, PurchaseOrderRow) else reads.record_of
        read = {r["id"]: dict(r) for r in plain[model]}
        for row in written:
            assert dict(adapt(row)) == read[row.id], (model.__name__, row.id)
    statuses = {r.status for r in rows[CampaignRow]}
    assert statuses == {"DRAFT", "PUBLISHED", "ENDED"}, statuses
    assert any(r.cancelled_at for r in rows[PurchaseOrderRow])


async def test_the_drop_down_read_with_its_account_is_the_same_record(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(order_amount="50000.00", po_amount="20000.00")
    await api.create_po(world.order, "PO-2", "100.00")
    pk = int(await db.fetchval("SELECT id FROM accounts ORDER BY id DESC LIMIT 1"))
    account, sources = await reads.account_with_sources(db, pk)
    assert account is not None
    assert dict(account) == dict((await reads.accounts(db, [pk]))[0])
    by_kind = await reads.sources_of_account(db, pk, "PurchaseOrder") + await reads.sources_of_account(db, pk, "Order")
    columns = list(by_kind[0].keys())

    def kind_and_id(source: dict[str, Any]) -> tuple[str, int]:
        return (source["kind"], source["id"])

    expected = sorted((dict(s) for s in by_kind), key=kind_and_id)
    assert sorted(({c: s[c] for c in columns} for s in sources), key=kind_and_id) == expected
    assert len(expected) >= 3  # two POs and their order
    assert await reads.account_with_sources(db, 10**12) == (None, [])


def test_values_are_the_stored_fields_of_each_type() -> None:
    """FromRecord.VALUES is the one mapping from records to fields: it names every stored field
    of its type and nothing else, and none has a default (a class attribute would be read in its
    place by graphql-core, while the compiled path calls VALUES)."""
    import dataclasses

    from strawberry.types import get_object_definition

    from schema.accounts import Account
    from schema.activity import ActivityEntry
    from schema.alerts import BudgetAlert
    from schema.api_keys import ApiKey
    from schema.audiences import Audience
    from schema.budget_sources import Amendment, Order, PurchaseOrder
    from schema.campaigns import Allocation, Campaign, SpendRecord
    from schema.change_requests import BudgetChangeRequest
    from schema.common import FromRecord

    for type_ in (
        Account,
        Audience,
        Order,
        PurchaseOrder,
        Campaign,
        Allocation,
        SpendRecord,
        BudgetAlert,
        BudgetChangeRequest,
        Amendment,
        ActivityEntry,
        ApiKey,
    ):
        assert issubclass(type_, FromRecord)
        definition = get_object_definition(type_, strict=True)
        stored = {f.python_name for f in definition.fields if f.base_resolver is None} - {"record"}
        assert set(type_.VALUES) == stored, type_.__name__
        for f in definition.fields:
            if f.python_name in stored:
                assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, f.python_name


async def test_a_mutation_answers_as_the_next_read_does(api: Api) -> None:
    """A payload is built from the row the mutation wrote (its record: reads.record_of and
    source_record); the next read builds it from the database. Both show the same fields."""
    world = await api.world()
    source = """id orderNumber purchaseOrderNumber displayName amount currency allocatedAmount unallocatedAmount
      draftAmount spentAmount pendingReleaseAmount startDate endDate status allocatedPercent spentPercent daysLeft"""
    campaign = f"""id name status step budget startDate endDate lockedFields version publishedAt createdAt updatedAt
      spentAmount remainingAmount releasedAmount pausedAt endedAt endReason settledAt
      budgetSource {{ {source} }} audience {{ id name }}"""
    draft = await world.at_review("250.00")
    published = await api.mutate(
        "publishCampaign", {"campaignId": draft}, world.manager, select=f"... on Campaign {{ {campaign} }}"
    )
    read = await api.post(
        f"query($id: ID!) {{ node(id: $id) {{ ... on Campaign {{ {campaign} }} }} }}", {"id": draft}, world.manager
    )
    assert published == {"__typename": "Campaign", **read.json()["data"]["node"]}
    amended = await api.mutate(
        "amendPurchaseOrder",
        {"purchaseOrderId": world.po, "amount": "12000.00", "note": "more"},
        select=f"... on PurchaseOrder {{ {source} }}",
    )
    again = await api.post(
        f"query($id: ID!) {{ node(id: $id) {{ ... on PurchaseOrder {{ {source} }} }} }}", {"id": world.po}
    )
    assert amended == {"__typename": "PurchaseOrder", **again.json()["data"]["node"]}
