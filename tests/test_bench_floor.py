"""The benchmark's floor (bench/floor.py: the planner's statement without GraphQL) answers W1 and
W2 exactly as the API does, so a figure measured against it compares like with like."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import orjson

from bench import floor
from bench.run import BUDGETLINE_W1, BUDGETLINE_W2
from resolvers.context import Principal
from tests.helpers import TODAY, Api, pk


async def test_the_floor_answers_w1_and_w2_as_the_api_does(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world(po_amount="5000.00")
    await api.create_po(world.order, "PO-Acme-2", "700.00")
    cancelled = await api.create_po(world.order, "PO-Acme-3", "300.00")
    await api.mutate("cancelBudgetSource", {"budgetSourceId": cancelled}, select="... on PurchaseOrder { id }")
    old = await api.create_order(
        world.account, "Q-Acme-old", "900.00", start=TODAY - timedelta(90), end=TODAY - timedelta(1)
    )
    await api.create_po(old, "PO-Acme-expired", "100.00")  # EXPIRED: not in the drop-down
    for budget in ("120.00", "80.50", "42.00"):
        await world.published(budget)
    account = pk(world.account)
    manager = Principal(0, "manager", "CAMPAIGN_MANAGER", account)
    for query in (BUDGETLINE_W1, BUDGETLINE_W2):
        expected = await api.gql(query, {"id": world.account}, world.manager)
        assert orjson.loads(await floor.answer(db, query, manager, {"id": world.account})) == expected, query
    assert len(expected["account"]["campaigns"]["edges"]) == 3
