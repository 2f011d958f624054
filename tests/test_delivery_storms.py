"""Section 6 under real concurrency, on real server processes: spend against budget cuts,
settlements against publishes, sweepers against each other and against kill -9. Each storm ends
with `budgetline check-ledger` at 0 differences."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import LiveServer
from tests.helpers import CAMPAIGN, ERRORS, TODAY, Api, assert_ledger_reconciles, due_campaigns, iso
from tests.test_concurrency import PUBLISH, drafts_at_review, post
from tests.test_delivery import live, sweep

pytestmark = pytest.mark.slow

REPORT = (
    f"""mutation($input: ReportSpendInput!) {{ reportSpend(input: $input) {{ __typename {CAMPAIGN} {ERRORS} }} }}"""
)
CUT = f"""mutation($id: ID!, $budget: Decimal!) {{ updateCampaign(input: {{campaignId: $id, budget: $budget}}) {{
  __typename {CAMPAIGN} {ERRORS} }} }}"""
SETTLE = f"""mutation($id: ID!) {{ settleCampaign(input: {{campaignId: $id}}) {{ __typename {CAMPAIGN} {ERRORS} }} }}"""


def assert_no_deadlock(servers: list[LiveServer]) -> None:
    """One lock order on every path: PostgreSQL never had to break a deadlock (a retry would
    hide it here, and under more load its retries run out and the client gets a 503)."""
    retried = [line for s in servers for line in s.log_path.read_text().splitlines() if "retrying transaction" in line]
    assert retried == [], retried


async def test_storm_spend_reports_race_budget_cuts_and_never_pass_the_budget(
    api: Api, db: asyncpg.Connection, live_servers: Any, database_url: str
) -> None:
    world = await api.world(po_amount="5000.00")
    delivery = await api.issue_key("DELIVERY", None, "ad server")
    campaign = await live(world, "1000.00", days_ago=25)
    servers = live_servers(2)
    rng = random.Random(11)
    # 200 reports over 20 days (so most days are restated several times) that add up to far more
    # than the budget, and 20 budget cuts, from 990 down to 420, all at once
    reports = [(rng.randrange(20), Decimal(rng.randrange(0, 10_000)) / 100) for _ in range(200)]
    cuts = [Decimal(990 - 30 * i) for i in range(20)]
    gate = asyncio.Semaphore(32)

    async def one(client: httpx.AsyncClient, i: int, job: Any) -> dict[str, Any]:
        async with gate:
            if isinstance(job, Decimal):
                return await post(client, servers[i % 2].url, world.manager, CUT, {"id": campaign, "budget": str(job)})
            day, amount = job
            input = {"campaignId": campaign, "date": iso(TODAY - timedelta(day)), "amount": str(amount)}
            return await post(client, servers[i % 2].url, delivery, REPORT, {"input": input})

    jobs: list[Any] = [*reports, *cuts]
    rng.shuffle(jobs)
    async with httpx.AsyncClient(timeout=60) as client:
        results = await asyncio.gather(*(one(client, i, job) for i, job in enumerate(jobs)))

    kinds = Counter((r["__typename"], r.get("code")) for r in results)
    assert set(kinds) <= {
        ("Campaign", None),
        ("SpendLimitError", "SPEND_EXCEEDS_BUDGET"),
        ("SpendLimitError", "BUDGET_BELOW_SPENT"),
    }, kinds
    assert kinds[("SpendLimitError", "SPEND_EXCEEDS_BUDGET")] > 0, "the budget was never reached: a weak storm"
    for refusal in results:
        if refusal.get("code") == "BUDGET_BELOW_SPENT":
            # refused only below the spend of that moment; spentAmount is as before the refusal
            assert Decimal(refusal["spentAmount"]) <= Decimal(refusal["campaignBudget"])
    row = await db.fetchrow("SELECT budget, spent_amount FROM campaigns")
    assert 0 <= row["spent_amount"] <= row["budget"]
    assert row["spent_amount"] == await db.fetchval("SELECT sum(amount) FROM spend_days")
    assert_no_deadlock(servers)
    assert_ledger_reconciles(database_url)


async def test_storm_settlements_race_publishes_on_one_po(
    api: Api, db: asyncpg.Connection, live_servers: Any, database_url: str
) -> None:
    world = await api.world(po_amount="1000.00")
    delivery = await api.issue_key("DELIVERY", None, "ad server")
    ended = [await live(world, "100.00") for _ in range(10)]
    for i, campaign in enumerate(ended):
        await api.mutate("reportSpend", {"campaignId": campaign, "date": iso(TODAY), "amount": f"{i * 5}.00"}, delivery)
        await world.ok("endCampaign", {"campaignId": campaign})
    assert (await world.source_amounts())["unallocatedAmount"] == "0.00"
    drafts = await drafts_at_review(db, world, 20, "50.00")
    servers = live_servers(2)

    async def settle(client: httpx.AsyncClient, i: int, campaign: str) -> dict[str, Any]:
        return await post(client, servers[i % 2].url, delivery, SETTLE, {"id": campaign})

    async def publish(client: httpx.AsyncClient, i: int, campaign: str) -> dict[str, Any]:
        return await post(client, servers[i % 2].url, world.manager, PUBLISH, {"id": campaign})

    async with httpx.AsyncClient(timeout=60) as client:
        # every settlement twice (from both processes): exactly one of each pair wins
        work = [settle(client, i, c) for i, c in enumerate(ended * 2)]
        work += [publish(client, i, c) for i, c in enumerate(drafts)]
        random.Random(5).shuffle(work)
        results = await asyncio.gather(*work)

    kinds = Counter((r["__typename"], r.get("code")) for r in results)
    assert kinds[("CampaignStateError", "CAMPAIGN_SETTLED")] == 10, kinds
    assert set(kinds) <= {
        ("Campaign", None),
        ("CampaignStateError", "CAMPAIGN_SETTLED"),
        ("InsufficientBudgetError", "INSUFFICIENT_BUDGET"),
    }
    releases = await db.fetch("SELECT campaign_id, count(*) AS n FROM allocations WHERE reason = 'release' GROUP BY 1")
    assert len(releases) == 10 and all(r["n"] == 1 for r in releases)
    released = await db.fetchval("SELECT -sum(delta) FROM allocations WHERE reason = 'release'")
    assert released == sum(Decimal(100 - i * 5) for i in range(10))
    published = await db.fetchval("SELECT count(*) FROM campaigns WHERE status = 'PUBLISHED'")
    assert published * 50 <= released and published > 0
    po = await db.fetchrow("SELECT amount, allocated_amount FROM purchase_orders")
    assert po["allocated_amount"] <= po["amount"]
    assert_no_deadlock(servers)
    assert_ledger_reconciles(database_url)


async def assert_ended_and_settled_once(db: asyncpg.Connection, count: int, database_url: str) -> None:
    rows = await db.fetch(
        """SELECT c.status, c.end_reason, c.settled_at IS NOT NULL AS settled, c.version,
                  (SELECT count(*) FROM allocations a WHERE a.campaign_id = c.id AND a.reason = 'release') AS releases
             FROM campaigns c"""
    )
    assert len(rows) == count
    # version 2 + one end + one settlement: a second end or settlement would have bumped it again
    assert Counter((r["status"], r["end_reason"], r["settled"], r["version"], r["releases"]) for r in rows) == {
        ("ENDED", "SCHEDULE", True, 4, 1): count
    }
    assert_ledger_reconciles(database_url)


async def wait_until(db: asyncpg.Connection, sql: str, done: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while (await db.fetchval(sql)) < done:
        assert time.monotonic() < deadline, f"{sql} did not reach {done} within {within_s} s"
        await asyncio.sleep(0.05)


SETTLED = "SELECT count(*) FROM campaigns WHERE settled_at IS NOT NULL"
ENDED = "SELECT count(*) FROM campaigns WHERE status = 'ENDED'"


async def test_storm_two_server_sweepers_and_cron_end_and_settle_each_campaign_once(
    api: Api, db: asyncpg.Connection, live_servers: Any, database_url: str
) -> None:
    world = await api.world(po_amount="5000.00")
    await due_campaigns(db, world, 1000)
    live_servers(2, BUDGETLINE_SWEEP_SECONDS="1", BUDGETLINE_SETTLEMENT_DAYS="0")
    cron = await asyncio.to_thread(sweep, database_url, BUDGETLINE_SETTLEMENT_DAYS="0")
    assert cron.startswith("swept: ")
    await wait_until(db, SETTLED, 1000, within_s=120)
    await assert_ended_and_settled_once(db, 1000, database_url)


async def test_storm_kill_9_in_the_middle_of_a_sweep_then_the_next_pass_finishes(
    api: Api, db: asyncpg.Connection, live_servers: Any, database_url: str
) -> None:
    world = await api.world(po_amount="5000.00")
    await due_campaigns(db, world, 1500)
    (server,) = live_servers(1, BUDGETLINE_SWEEP_SECONDS="1", BUDGETLINE_SETTLEMENT_DAYS="0")
    await wait_until(db, ENDED, 50, within_s=60)
    assert server.process is not None
    server.process.kill()  # SIGKILL mid-pass: its guard's lock goes with its connection
    server.process.wait(10)
    cut_at = await db.fetchval(SETTLED)
    assert cut_at < 1500, "the pass finished before the kill: a weak storm"
    out = await asyncio.to_thread(sweep, database_url, BUDGETLINE_SETTLEMENT_DAYS="0")
    assert out.startswith("swept: ")
    await assert_ended_and_settled_once(db, 1500, database_url)
