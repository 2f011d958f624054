"""`GET /exports/ledger.csv` (API.md section 8): finance's ledger of a source, checked against the
GraphQL ledger with the csv module; its errors; and a million rows streamed in flat memory."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from tests.helpers import TODAY, Api, World, iso, pk

HEADER = [
    "entry",
    "at",
    "campaign_id",
    "campaign_name",
    "source_id",
    "purchase_order_number",
    "order_number",
    "kind",
    "reason",
    "delta",
    "spend_date",
    "amount",
    "actor",
    "currency",
]
LEDGER = """query($id: ID!) { node(id: $id) { ... on BudgetSource {
  allocations(first: 100) { edges { node { id delta reason actor at campaign { id name } } } } } } }"""


async def export(client: httpx.AsyncClient, key: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await client.get("/exports/ledger.csv", params=params, headers=headers)


def parse(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text.endswith("\r\n")  # RFC 4180 line ends
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert rows[0] == HEADER
    return [dict(zip(HEADER, r, strict=True)) for r in rows[1:]]


@pytest.fixture
async def ledger_world(api: Api) -> tuple[World, str, str]:
    """Two POs of one order: on the first, a settled campaign with spend and a budget change; on the second, one."""
    world = await api.world(order_amount="20000.00", po_amount="10000.00")
    second = await api.create_po(world.order, "PO-Acme-2", "5000.00")
    delivery = await api.issue_key("DELIVERY", None, "ad server")
    first = await world.published("1000.00", start=TODAY - timedelta(3))
    await world.ok("updateCampaign", {"campaignId": first, "budget": "1500.00"})
    for days, amount in ((2, "100.00"), (1, "250.50"), (2, "120.00")):  # the third restates a day
        report = {"campaignId": first, "date": iso(TODAY - timedelta(days)), "amount": amount}
        assert (await api.mutate("reportSpend", report, delivery))["__typename"] == "Campaign"
    await world.ok("endCampaign", {"campaignId": first})
    assert (await api.mutate("settleCampaign", {"campaignId": first}, delivery))["__typename"] == "Campaign"
    await world.published("700.00", source=second)
    return world, second, first


async def test_the_csv_matches_the_graphql_ledger(
    api: Api, ledger_world: tuple[World, str, str], db: asyncpg.Connection
) -> None:
    world, second, first = ledger_world
    rows = parse(await export(api.client, world.manager, budgetSourceId=world.po))
    assert {r["campaign_id"] for r in rows} == {first}
    graphql = (await api.gql(LEDGER, {"id": world.po}, world.manager))["node"]["allocations"]["edges"]
    allocations = [r for r in rows if r["kind"] == "allocation"]
    assert sorted((r["entry"], r["delta"], r["reason"], r["actor"], r["campaign_id"]) for r in allocations) == sorted(
        (e["node"]["id"], e["node"]["delta"], e["node"]["reason"], e["node"]["actor"], e["node"]["campaign"]["id"])
        for e in graphql
    )
    assert [r["reason"] for r in allocations] == ["publish", "budget increase", "release"]  # oldest first
    assert [r["delta"] for r in allocations] == ["1000.00", "500.00", "-1129.50"]  # 1500 - (120.00 + 250.50)
    spend = [r for r in rows if r["kind"] == "spend"]
    reports = await db.fetch("SELECT day, amount, reported_by FROM spend_reports ORDER BY id")
    assert [(r["spend_date"], r["amount"], r["actor"]) for r in spend] == [
        (d["day"].isoformat(), f"{d['amount']:.2f}", d["reported_by"]) for d in reports
    ]
    for row in rows:
        assert row["source_id"] == world.po and row["order_number"] == "Q-Acme-1"
        assert row["purchase_order_number"] == "PO-Acme-1" and row["campaign_name"] == "Launch"
        at = datetime.fromisoformat(row["at"])
        assert at.tzinfo is not None and at.utcoffset() == timedelta(0)
        assert (row["delta"] == "") == (row["kind"] == "spend") and (row["amount"] == "") == (
            row["kind"] == "allocation"
        )
    # An order's export holds its POs' entries; each PO's only its own.
    everything = parse(await export(api.client, api.team_secret, budgetSourceId=world.order))
    assert len(everything) == len(rows) + 1
    assert {r["source_id"] for r in everything} == {world.po, second}
    assert parse(await export(api.client, world.viewer, budgetSourceId=second))[0]["delta"] == "700.00"


async def test_from_and_to_are_inclusive_utc_days(api: Api, ledger_world: tuple[World, str, str]) -> None:
    world, _, _ = ledger_world
    whole = parse(await export(api.client, world.manager, budgetSourceId=world.po))
    today = datetime.now(UTC).date()
    same = parse(
        await export(api.client, world.manager, budgetSourceId=world.po, **{"from": iso(today), "to": iso(today)})
    )
    assert same == whole
    later = parse(
        await export(api.client, world.manager, budgetSourceId=world.po, **{"from": iso(today + timedelta(1))})
    )
    earlier = parse(await export(api.client, world.manager, budgetSourceId=world.po, to=iso(today - timedelta(1))))
    assert later == earlier == []


async def test_export_errors(api: Api, ledger_world: tuple[World, str, str]) -> None:
    world, _, _ = ledger_world
    other = await api.world(name="Other")
    cases = [
        (None, {"budgetSourceId": world.po}, 401, "UNAUTHENTICATED"),
        (None, {"budgetSourceId": world.po, "from": "bad"}, 401, "UNAUTHENTICATED"),  # who asks, first
        (other.manager, {"budgetSourceId": world.po}, 404, "NOT_FOUND"),
        (world.manager, {"budgetSourceId": "UHVyY2hhc2VPcmRlcjo5OTk5OQ"}, 404, "NOT_FOUND"),
        (world.manager, {"budgetSourceId": world.account}, 404, "NOT_FOUND"),
        (world.manager, {}, 400, "BAD_REQUEST"),
        (world.manager, {"budgetSourceId": [world.po, world.order]}, 400, "BAD_REQUEST"),
        (world.manager, {"budgetSourceId": world.po, "from": "yesterday"}, 400, "BAD_REQUEST"),
        (world.manager, {"budgetSourceId": world.po, "from": "20261127"}, 400, "BAD_REQUEST"),
        (
            world.manager,
            {"budgetSourceId": world.po, "from": iso(TODAY), "to": iso(TODAY - timedelta(1))},
            400,
            "BAD_REQUEST",
        ),
        (world.manager, {"budgetSourceId": world.po, "limit": "5"}, 400, "BAD_REQUEST"),
    ]
    for key, params, status, code in cases:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = await api.client.get("/exports/ledger.csv", params=params, headers=headers)
        assert response.status_code == status, (params, response.text)
        assert response.json()["errors"][0]["extensions"]["code"] == code, (params, response.text)
    foreign = await api.client.get(
        "/exports/ledger.csv", params={"budgetSourceId": world.po}, headers={"Authorization": f"Bearer {other.manager}"}
    )
    unknown = await api.client.get(
        "/exports/ledger.csv",
        params={"budgetSourceId": "UHVyY2hhc2VPcmRlcjo5OTk5OQ"},
        headers={"Authorization": f"Bearer {other.manager}"},
    )
    assert foreign.json()["errors"][0]["message"] == unknown.json()["errors"][0]["message"]  # says nothing more
    traced = await api.client.get(
        "/exports/ledger.csv",
        params={"budgetSourceId": world.po},
        headers={"Authorization": f"Bearer {world.manager}", "X-Request-Id": "finance-run-7"},
    )
    assert traced.status_code == 200 and traced.headers["x-request-id"] == "finance-run-7"  # as /graphql does


@pytest.mark.slow
async def test_a_million_rows_stream_in_flat_memory(api: Api, db: asyncpg.Connection, live_servers: Any) -> None:
    world = await api.world(order_amount="1000000000.00", po_amount="1000000000.00")
    campaign = await world.published("1000000.00", start=TODAY - timedelta(20))
    args = (pk(world.account), pk(campaign), pk(world.order), pk(world.po))
    await db.execute("SET session_replication_role = replica")  # rows only: no totals to move
    await db.execute(
        """INSERT INTO allocations (account_id, campaign_id, order_id, purchase_order_id, delta, reason, actor)
           SELECT $1, $2, $3, $4, 0.01, 'publish', 'generated' FROM generate_series(1, 500000)""",
        *args,
    )
    await db.execute(
        """INSERT INTO spend_reports (account_id, campaign_id, day, amount, reported_by)
           SELECT $1, $2, current_date - (g % 20), 1.23, 'generated' FROM generate_series(1, 499999) g""",
        *args[:2],
    )
    await db.execute("SET session_replication_role = DEFAULT")
    [server] = live_servers(1)
    process = psutil.Process(server.process.pid)
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    lines = size = 0
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            request = client.build_request(
                "GET",
                "/exports/ledger.csv",
                params={"budgetSourceId": world.po},
                headers={"Authorization": f"Bearer {world.manager}"},
            )
            response = await client.send(request, stream=True)
            assert response.status_code == 200
            async for chunk in response.aiter_bytes():
                lines += chunk.count(b"\r\n")
                size += len(chunk)
            await response.aclose()
    finally:
        done.set()
        await asyncio.to_thread(sampler.join)
    assert lines == 1 + 1 + 500000 + 499999  # the header, the publish, the generated rows
    grown = (peak - baseline) / 2**20
    print(f"exported {lines:,} lines, {size / 2**20:.0f} MiB; server RSS grew {grown:.1f} MiB")
    assert grown < 64, f"the export grew the server by {grown:.0f} MiB for {size / 2**20:.0f} MiB of CSV"


async def test_names_and_cells_are_safe(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = await world.published("10.00")
    await world.ok("updateCampaign", {"campaignId": campaign, "name": '=HYPERLINK("http://x"), "a"'})
    junk = await export(api.client, world.manager, budgetSourceId=world.po + '"\n')
    assert junk.status_code == 404  # an ID with junk around it is no ID
    response = await export(api.client, world.manager, budgetSourceId=world.po)
    assert response.headers["content-disposition"] == f'attachment; filename="ledger-{world.po}.csv"'
    (row,) = parse(response)
    assert row["campaign_name"] == '\'=HYPERLINK("http://x"), "a"'  # no formula for a spreadsheet


@pytest.mark.slow
async def test_an_export_cut_short_or_a_head_leaves_every_connection_clean(
    api: Api, db: asyncpg.Connection, live_servers: Any
) -> None:
    world = await api.world()
    campaign = await world.published("1000.00")
    await db.execute("SET session_replication_role = replica")
    await db.execute(
        """INSERT INTO allocations (account_id, campaign_id, order_id, purchase_order_id, delta, reason, actor)
           SELECT $1, $2, $3, $4, 0.01, 'publish', 'generated' FROM generate_series(1, 100000)""",
        pk(world.account),
        pk(campaign),
        pk(world.order),
        pk(world.po),
    )
    await db.execute("SET session_replication_role = DEFAULT")
    # Five connections in all: a connection left mid-transaction would soon be a request's.
    [server] = live_servers(1, BUDGETLINE_DB_POOL_SIZE="5", BUDGETLINE_DB_MAX_OVERFLOW="0")
    headers = {"Authorization": f"Bearer {world.manager}"}
    params = {"budgetSourceId": world.po}
    node = {"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": world.po}}
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        for _ in range(3):
            async with client.stream("GET", "/exports/ledger.csv", params=params, headers=headers) as response:
                assert response.status_code == 200
                async for _chunk in response.aiter_bytes():
                    break  # the client goes away mid-body
            head = await client.head("/exports/ledger.csv", params=params, headers=headers)
            assert head.status_code == 200
        await asyncio.sleep(0.5)
        answers = await asyncio.gather(*(client.post("/graphql", json=node, headers=headers) for _ in range(20)))
        assert [a.status_code for a in answers] == [200] * 20
        assert all("errors" not in a.json() for a in answers), [a.text for a in answers if "errors" in a.json()]
        # Four exports at once at most; their slots come back when they end, however they end.
        streams = [client.stream("GET", "/exports/ledger.csv", params=params, headers=headers) for _ in range(4)]
        opened = [await s.__aenter__() for s in streams]
        assert [r.status_code for r in opened] == [200] * 4
        fifth = await client.get("/exports/ledger.csv", params=params, headers=headers)
        assert fifth.status_code == 503 and fifth.headers["retry-after"] == "5"
        for s in streams:
            await s.__aexit__(None, None, None)
        await asyncio.sleep(0.5)
        again = await client.get("/exports/ledger.csv", params={**params, "from": "2000-01-01"}, headers=headers)
        assert again.status_code == 200 and again.text.count("\r\n") == 100002
    assert "Traceback" not in server.log_path.read_text().replace("ledger export failed mid-stream", "")
