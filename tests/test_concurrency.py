"""R5/R6 under real concurrency: budgets are never exceeded, whatever the interleaving."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from resolvers import ids
from tests.helpers import CAMPAIGN, ERRORS, TODAY, Api, World, assert_ledger_reconciles

PUBLISH = f"""mutation($id: ID!) {{ publishCampaign(input: {{campaignId: $id}}) {{
  __typename {CAMPAIGN} {ERRORS} }} }}"""
UPDATE = f"""mutation($id: ID!, $budget: Decimal!) {{ updateCampaign(input: {{campaignId: $id, budget: $budget}}) {{
  __typename {CAMPAIGN} {ERRORS} }} }}"""


async def drafts_at_review(db: asyncpg.Connection, world: World, count: int, budget: str) -> list[str]:
    """Insert drafts that completed the wizard (setup only: the publish path is what is tested)."""
    _, account = ids.decode(world.account) or ("", 0)
    _, order = ids.decode(world.order) or ("", 0)
    _, audience = ids.decode(world.audience) or ("", 0)
    po = ids.decode(world.po)[1] if world.po else None  # type: ignore[index]
    rows = await db.fetch(
        """INSERT INTO campaigns (account_id, name, step, audience_id, budget, start_date, end_date,
                                  order_id, purchase_order_id)
           SELECT $1, 'storm ' || g, 'REVIEW', $2, $3::numeric, $4, $5, $6, $7 FROM generate_series(1, $8) g
           RETURNING id""",
        account,
        audience,
        Decimal(budget),
        TODAY,
        TODAY + timedelta(10),
        order,
        po,
        count,
    )
    return [ids.encode("Campaign", r["id"]) for r in rows]


async def reconcile(db: asyncpg.Connection) -> None:
    """allocated = ledger sum = published budgets, for every PO and order."""
    bad = await db.fetch(
        """SELECT 'po' AS kind, p.id FROM purchase_orders p
           WHERE p.allocated_amount <> (SELECT coalesce(sum(delta), 0) FROM allocations a
                                        WHERE a.purchase_order_id = p.id)
              OR p.allocated_amount <> (SELECT coalesce(sum(budget), 0) FROM campaigns c
                                        WHERE c.purchase_order_id = p.id AND c.status = 'PUBLISHED')
              OR p.allocated_amount > p.amount
           UNION ALL
           SELECT 'order', o.id FROM orders o
           WHERE o.allocated_amount <> (SELECT coalesce(sum(delta), 0) FROM allocations a WHERE a.order_id = o.id)
              OR o.allocated_amount <> (SELECT coalesce(sum(budget), 0) FROM campaigns c
                                        WHERE c.order_id = o.id AND c.status = 'PUBLISHED')
              OR o.allocated_amount > o.amount"""
    )
    assert bad == [], bad


async def post(client: httpx.AsyncClient, url: str, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(
        url + "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {key}"}
    )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return next(iter(body["data"].values()))  # type: ignore[no-any-return]


async def test_200_concurrent_publishes_never_exceed_the_po(
    api: Api, db: asyncpg.Connection, database_url: str
) -> None:
    world = await api.world(order_amount="50000.00", po_amount="10000.00")
    campaigns = await drafts_at_review(db, world, 200, "100.00")
    results = await asyncio.gather(
        *(api.mutate("publishCampaign", {"campaignId": c}, world.manager) for c in campaigns)
    )
    outcome = Counter(r.get("code", r["__typename"]) for r in results)
    assert outcome == {"Campaign": 100, "INSUFFICIENT_BUDGET": 100}
    assert await db.fetchval("SELECT allocated_amount FROM purchase_orders") == Decimal("10000.00")
    assert await db.fetchval("SELECT count(*) FROM campaigns WHERE status = 'PUBLISHED'") == 100
    await reconcile(db)
    assert_ledger_reconciles(database_url)


async def test_publishes_split_across_two_server_processes(
    api: Api, db: asyncpg.Connection, live_servers: Any, database_url: str
) -> None:
    world = await api.world(order_amount="50000.00", po_amount="10000.00")
    campaigns = await drafts_at_review(db, world, 200, "100.00")
    servers = live_servers(2)
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        results = await asyncio.gather(
            *(post(client, servers[i % 2].url, world.manager, PUBLISH, {"id": c}) for i, c in enumerate(campaigns))
        )
    outcome = Counter(r.get("code", r["__typename"]) for r in results)
    assert outcome == {"Campaign": 100, "INSUFFICIENT_BUDGET": 100}
    await reconcile(db)
    assert_ledger_reconciles(database_url)


async def test_concurrent_budget_changes_publishes_reassignments_and_a_cancellation(
    api: Api, db: asyncpg.Connection, database_url: str
) -> None:
    world = await api.world(requires_po=False, order_amount="5000.00")
    spare = await api.create_order(world.account, "Q-SPARE", "5000.00")
    published = await drafts_at_review(db, world, 20, "100.00")
    for campaign in published:
        result = await api.mutate("publishCampaign", {"campaignId": campaign}, world.manager)
        assert result["__typename"] == "Campaign"
    pending = await drafts_at_review(db, world, 40, "100.00")
    calls = [api.mutate("publishCampaign", {"campaignId": c}, world.manager) for c in pending[:30]]
    for i, campaign in enumerate(published):
        budget = "400.00" if i % 2 else "50.00"  # increases and decreases
        calls.append(api.mutate("updateCampaign", {"campaignId": campaign, "budget": budget}, world.manager))
    for i, campaign in enumerate(pending[30:]):  # drafts hopping between the two orders
        source = spare if i % 2 else world.order
        calls.append(
            api.mutate("assignBudgetSource", {"campaignId": campaign, "budgetSourceId": source}, world.manager)
        )
    calls.append(api.mutate("cancelBudgetSource", {"budgetSourceId": spare}, select="... on Order { status }"))
    results = await asyncio.gather(*calls)
    codes = Counter(r.get("code", r["__typename"]) for r in results)
    assert set(codes) <= {"Campaign", "Order", "INSUFFICIENT_BUDGET", "BUDGET_SOURCE_NOT_SELECTABLE"}, codes
    allocated = await db.fetchval("SELECT allocated_amount FROM orders WHERE order_number = 'Q-Acme-1'")
    assert Decimal("0") < allocated <= Decimal("5000.00")
    assert await db.fetchval("SELECT allocated_amount FROM orders WHERE order_number = 'Q-SPARE'") == 0
    await reconcile(db)
    assert_ledger_reconciles(database_url)
