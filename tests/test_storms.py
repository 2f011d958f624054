"""Storms with real server processes: crashes, retries and a database restart (issue 4)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from budgetline.keys import create_api_key
from db import embedded, migrate
from db.session import ensure_database, with_database
from tests.conftest import LiveServer
from tests.helpers import Api, assert_ledger_reconciles
from tests.test_concurrency import PUBLISH, drafts_at_review, post, reconcile
from tests.ws import GqlSocket

pytestmark = pytest.mark.slow
ACCOUNTS = {"query": "{ accounts { id } }"}


async def test_kill_9_a_server_in_the_middle_of_a_storm(
    api: Api, db: asyncpg.Connection, live_servers: Any, database_url: str
) -> None:
    world = await api.world(order_amount="50000.00", po_amount="10000.00")
    campaigns = await drafts_at_review(db, world, 300, "100.00")
    victim, survivor = live_servers(2)
    headers = {"Authorization": f"Bearer {world.manager}"}
    lost: list[str] = []
    answered: list[dict[str, Any]] = []
    gate = asyncio.Semaphore(32)

    async def publish(client: httpx.AsyncClient, server: LiveServer, campaign: str) -> None:
        async with gate:
            try:
                response = await client.post(
                    server.url + "/graphql", json={"query": PUBLISH, "variables": {"id": campaign}}, headers=headers
                )
            except httpx.HTTPError:
                lost.append(campaign)  # the process died under this request
                return
            body = response.json()
            assert "Traceback" not in response.text
            answered.append(body["data"]["publishCampaign"])

    async def kill_soon() -> None:
        await asyncio.sleep(0.4)
        assert victim.process is not None
        victim.process.kill()  # SIGKILL: no shutdown, open transactions cut mid-way

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(
            kill_soon(), *(publish(client, (victim, survivor)[i % 2], c) for i, c in enumerate(campaigns))
        )
        assert lost, "the kill came too late to cut any request"
        victim.stop()
        victim.start()  # the same server again; the clients retry what was lost
        retry, lost[:] = list(lost), []
        await asyncio.gather(*(publish(client, victim, c) for c in retry))
    assert not lost

    await reconcile(db)
    assert_ledger_reconciles(database_url)
    # all or nothing: published campaigns have exactly one publish entry, drafts none
    halves = await db.fetch(
        """SELECT c.id FROM campaigns c
           WHERE (c.status = 'PUBLISHED') <> EXISTS (SELECT 1 FROM allocations a WHERE a.campaign_id = c.id)
              OR (SELECT count(*) FROM allocations a WHERE a.campaign_id = c.id) > 1"""
    )
    assert halves == []
    assert await db.fetchval("SELECT count(*) FROM campaigns WHERE status = 'PUBLISHED'") == 100


@pytest.mark.parametrize("planner", ["false", "true"], ids=["general", "planned"])
async def test_the_database_restarts_in_the_middle_of_load(tmp_path: Path, planner: str) -> None:
    """Clean errors during the outage, 503 from /readyz, and recovery within 5 s without a server restart."""
    pg = embedded.start(tmp_path)
    url = with_database(pg.url, "storm")
    await ensure_database(url)
    await migrate.aupgrade(url)
    secret = await create_api_key(url, name="storm", role="ACCOUNT_TEAM", account_id=None)
    # graphql-core's execution over the loaders, or the planner's one statement
    server = LiveServer(url, tmp_path / "server.log", env={"BUDGETLINE_PLANNER": planner})
    server.start()
    query = '{ accounts { id } account(id: "QWNjb3VudDox") { name budgetSources { displayName } } }'
    headers = {"Authorization": f"Bearer {secret}"}
    statuses: list[tuple[int, str]] = []
    stop = asyncio.Event()

    async def load(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            response = await client.post(server.url + "/graphql", json={"query": query}, headers=headers)
            assert "Traceback" not in response.text and "SELECT" not in response.text
            errors = response.json().get("errors") or [{}]
            statuses.append((response.status_code, errors[0].get("extensions", {}).get("code", "OK")))

    try:
        async with httpx.AsyncClient(timeout=30) as client:
            workers = [asyncio.create_task(load(client)) for _ in range(4)]
            await asyncio.sleep(0.5)
            await asyncio.to_thread(pg.stop)
            await asyncio.sleep(1.0)
            outage = len(statuses)
            ready = await client.get(server.url + "/readyz")
            assert ready.status_code == 503
            pg = await asyncio.to_thread(embedded.start, tmp_path)
            back = time.monotonic()
            while True:
                response = await client.post(server.url + "/graphql", json={"query": query}, headers=headers)
                if response.status_code == 200 and "errors" not in response.json():
                    break
                assert time.monotonic() - back < 5, "requests still fail 5 s after the database came back"
                await asyncio.sleep(0.1)
            recovered_in = time.monotonic() - back
            stop.set()
            await asyncio.gather(*workers)
        assert (await asyncio.to_thread(httpx.get, server.url + "/readyz")).status_code == 200
    finally:
        server.stop()
        pg.stop()
    codes = {code for _, code in statuses}
    assert codes <= {"OK", "SERVICE_UNAVAILABLE"}, codes
    assert "SERVICE_UNAVAILABLE" in codes and outage > 0
    assert {status for status, code in statuses if code == "SERVICE_UNAVAILABLE"} <= {200, 503}
    print(f"recovered {recovered_in:.2f} s after the database came back; {len(statuses)} requests")


async def test_storm_publishes_on_an_order_race_the_account_starting_to_require_pos(
    api: Api, db: asyncpg.Connection, live_servers: Any
) -> None:
    """R4/R5 under a concurrent updateAccount: publishing locks the account (FOR SHARE) before it
    reads requiresPurchaseOrder, so once the update has taken effect no publish on an order can
    still commit on the old answer. Each publish on the order happened before the update
    (published_at, taken under the locks, precedes the update's clock time) or is refused."""
    world = await api.world(requires_po=False, order_amount="100000.00")
    campaigns = await drafts_at_review(db, world, 40, "10.00")
    servers = live_servers(2)
    update = """mutation($id: ID!) { updateAccount(input: {accountId: $id, requiresPurchaseOrder: true}) {
      __typename } }"""

    async with httpx.AsyncClient(timeout=60) as client:
        work = [post(client, servers[i % 2].url, world.manager, PUBLISH, {"id": c}) for i, c in enumerate(campaigns)]
        work.insert(len(work) // 3, post(client, servers[1].url, api.team_secret, update, {"id": world.account}))
        results = await asyncio.gather(*work)
    assert {(r["__typename"], r.get("code")) for r in results} <= {
        ("Campaign", None),
        ("Account", None),
        ("BudgetSourceError", "PURCHASE_ORDER_REQUIRED"),
    }
    updated = await db.fetchval("SELECT updated_at FROM accounts")
    late = await db.fetch(
        """SELECT id, published_at FROM campaigns
           WHERE status = 'PUBLISHED' AND purchase_order_id IS NULL AND published_at >= $1""",
        updated,
    )
    assert late == [], f"published on an order after the account required POs ({updated})"
    await reconcile(db)


async def test_storm_64_publishes_on_one_po_with_50_subscribers_across_two_processes(
    api: Api, db: asyncpg.Connection, live_servers: Any, database_url: str
) -> None:
    """R17 under load: every subscriber sees every committed publish's source update exactly once
    (docs/benchmarks.md W6 measures what the subscribers cost the writers)."""
    world = await api.world(order_amount="50000.00", po_amount="4000.00")
    campaigns = await drafts_at_review(db, world, 64, "100.00")  # 40 fit in the PO
    servers = live_servers(2)
    sockets = [
        await GqlSocket.open(servers[i % 2].url.replace("http://", "ws://") + "/graphql", world.viewer)
        for i in range(50)
    ]
    query = "subscription($a: ID!) { budgetSourceUpdated(accountId: $a) { __typename id allocatedAmount } }"
    for socket in sockets:
        await socket.subscribe("s", query, {"a": world.account})
    # A subscribe has no answer: a probe change (a new PO: itself and its order) reaches every one.
    await asyncio.sleep(1)
    probe = await api.create_po(world.order, "PO-probe", "1.00")
    for socket in sockets:
        seen = {(await socket.receive())["payload"]["data"]["budgetSourceUpdated"]["id"] for _ in range(2)}
        assert seen == {probe, world.order}
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        results = await asyncio.gather(
            *(post(client, servers[i % 2].url, world.manager, PUBLISH, {"id": c}) for i, c in enumerate(campaigns))
        )
    committed = sum(r["__typename"] == "Campaign" for r in results)
    assert committed == 40
    for socket in sockets:
        updates = [(await socket.receive())["payload"]["data"]["budgetSourceUpdated"] for _ in range(2 * committed)]
        po = [u for u in updates if u["id"] == world.po]
        assert len(po) == committed and len(updates) - len(po) == committed  # the PO and its order, each once
        assert po[-1]["allocatedAmount"] == "4000.00"  # read after the last commit
    await asyncio.sleep(0.3)
    for socket in sockets:
        with pytest.raises(TimeoutError):
            await socket.receive(within=0.01)  # and nothing more
        await socket.close()
    for server in servers:
        assert "Traceback" not in server.log_path.read_text()
    await reconcile(db)
    assert_ledger_reconciles(database_url)
