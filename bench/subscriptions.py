"""W6: what live updates cost (docs/benchmarks.md, "W6").

1. Writers with and without subscribers: 64 clients publish drafts on one PO through 2 server
   processes, with no subscriber, then with 50 `budgetSourceUpdated` subscribers connected (and
   reading every event). Publishes per second, three runs each way, median.
2. Commit-to-delivery latency: 1,000 subscribers on one account (over 2 processes); one writer
   publishes a campaign every 100 ms; for each publish, the time from the writer receiving its
   response (the commit happened just before) to each subscriber receiving the PO's update. p50,
   p99 and max over every (publish, subscriber) pair.

    .venv/bin/python bench/subscriptions.py                  # embedded PostgreSQL
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/subscriptions.py

With DATABASE_URL it creates (and drops) a database `bench_subscriptions` on that server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from statistics import median, quantiles
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.run import budgetline_server, plain
from budgetline.keys import create_api_key
from db import embedded, migrate
from db.session import with_database
from resolvers import ids

PUBLISH = "mutation($id: ID!) { publishCampaign(input: {campaignId: $id}) { __typename } }"
WATCH = "subscription($a: ID!) { budgetSourceUpdated(accountId: $a) { id allocatedAmount } }"


async def setup(url: str, drafts: int) -> dict[str, Any]:
    """One account, an order and a PO large enough for every draft, `drafts` drafts at REVIEW."""
    conn = await asyncpg.connect(plain(url))
    try:
        account = await conn.fetchval(
            "INSERT INTO accounts (name, requires_purchase_order) VALUES ('Bench W6', true) RETURNING id"
        )
        audience = await conn.fetchval(
            "INSERT INTO audiences (account_id, name) VALUES ($1, 'All') RETURNING id", account
        )
        order = await conn.fetchval(
            """INSERT INTO orders (account_id, order_number, amount, currency, start_date, end_date)
               VALUES ($1, 'Q-W6', 900000000, 'USD', current_date - 10, current_date + 300) RETURNING id""",
            account,
        )
        po = await conn.fetchval(
            """INSERT INTO purchase_orders (account_id, order_id, po_number, amount)
               VALUES ($1, $2, 'PO-W6', 900000000) RETURNING id""",
            account,
            order,
        )
        rows = await conn.fetch(
            """INSERT INTO campaigns (account_id, name, step, audience_id, budget, start_date, end_date,
                                      order_id, purchase_order_id)
               SELECT $1, 'W6 ' || g, 'REVIEW', $2, 100, current_date, current_date + 10, $3, $4
                 FROM generate_series(1, $5) g RETURNING id""",
            account,
            audience,
            order,
            po,
            drafts,
        )
        return {
            "account": ids.encode("Account", account),
            "po": ids.encode("PurchaseOrder", po),
            "drafts": [ids.encode("Campaign", r["id"]) for r in rows],
        }
    finally:
        await conn.close()


class Subscriber:
    """One socket, one budgetSourceUpdated subscription; the arrival time of each PO update."""

    def __init__(self, ws: ClientConnection, po: str) -> None:
        self.ws = ws
        self.po = po
        self.arrivals: list[tuple[float, Decimal]] = []
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, key: str, account: str, po: str) -> Subscriber:
        ws = await connect(url, subprotocols=["graphql-transport-ws"], open_timeout=60)  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}))
        ack = json.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        query = {"query": WATCH, "variables": {"a": account}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": query}))
        subscriber = cls(ws, po)
        subscriber.task = asyncio.create_task(subscriber.read())
        return subscriber

    async def read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if message["type"] != "next":
                raise RuntimeError(f"subscription ended: {message}")
            source = message["payload"]["data"]["budgetSourceUpdated"]
            if source["id"] == self.po:
                self.arrivals.append((time.perf_counter(), Decimal(source["allocatedAmount"])))

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        await self.ws.close()


async def subscribers(ws_url: str, key: str, info: dict[str, Any], count: int) -> list[Subscriber]:
    opened: list[Subscriber] = []
    for start in range(0, count, 50):  # 50 handshakes at a time
        opened += await asyncio.gather(
            *(Subscriber.open(ws_url, key, info["account"], info["po"]) for _ in range(start, min(count, start + 50)))
        )
    await asyncio.sleep(1.0)  # every subscribe has reached its server
    return opened


async def storm(url: str, key: str, drafts: list[str], clients: int = 64) -> float:
    """Publishes per second: `clients` concurrent writers over `drafts`."""
    queue = list(drafts)

    async def writer(http: httpx.AsyncClient) -> None:
        while queue:
            campaign = queue.pop()
            response = await http.post(
                url, json={"query": PUBLISH, "variables": {"id": campaign}}, headers={"Authorization": f"Bearer {key}"}
            )
            assert response.json()["data"]["publishCampaign"]["__typename"] == "Campaign", response.text

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients)) as http:
        await asyncio.gather(*(writer(http) for _ in range(clients)))
    return len(drafts) / (time.perf_counter() - started)


async def latency(
    url: str, key: str, po: str, drafts: list[str], subs: list[Subscriber], every_s: float
) -> list[float]:
    """Milliseconds from each publish's response to each subscriber's receipt of its PO update."""
    committed: list[tuple[float, Decimal]] = []
    async with httpx.AsyncClient(timeout=60) as http:
        figures = "query($id: ID!) { node(id: $id) { ... on BudgetSource { allocatedAmount } } }"
        response = await http.post(
            url, json={"query": figures, "variables": {"id": po}}, headers={"Authorization": f"Bearer {key}"}
        )
        base = Decimal(response.json()["data"]["node"]["allocatedAmount"])
        for campaign in drafts:
            response = await http.post(
                url, json={"query": PUBLISH, "variables": {"id": campaign}}, headers={"Authorization": f"Bearer {key}"}
            )
            assert response.json()["data"]["publishCampaign"]["__typename"] == "Campaign", response.text
            committed.append((time.perf_counter(), base + Decimal(len(committed) + 1) * 100))
            await asyncio.sleep(every_s)
    await asyncio.sleep(3.0)
    samples = []
    for subscriber in subs:
        for at, allocated in committed:
            # The first update that shows this publish (a slow reader may see a later state).
            arrival = next((t for t, seen in subscriber.arrivals if seen >= allocated), None)
            if arrival is None:
                raise RuntimeError("an update never arrived")
            samples.append((arrival - at) * 1000)
    return samples


async def main_async(args: argparse.Namespace) -> None:
    stop = None
    if os.environ.get("DATABASE_URL"):
        server_url = with_database(os.environ["DATABASE_URL"], "postgres")
    else:
        pg = embedded.start(Path(tempfile.mkdtemp(prefix="bench-w6-")))
        server_url, stop = pg.url, pg.stop
    admin = await asyncpg.connect(plain(server_url))
    await admin.execute("DROP DATABASE IF EXISTS bench_subscriptions WITH (FORCE)")
    await admin.execute("CREATE DATABASE bench_subscriptions")
    url = with_database(server_url, "bench_subscriptions")
    try:
        await migrate.aupgrade(url)
        runs = args.runs
        info = await setup(url, args.drafts * runs * 2 + args.publishes)
        key = await create_api_key(url, name="bench", role="ACCOUNT_TEAM", account_id=None)
        server = budgetline_server(url, 2)
        server.env["BUDGETLINE_WS_MAX_SOCKETS_PER_KEY"] = str(args.subscribers + 100)
        server.env["BUDGETLINE_SWEEP_SECONDS"] = "0"
        server.start()
        ws_url = server.url.replace("http://", "ws://")
        drafts = list(info["drafts"])
        try:
            rates: dict[int, list[float]] = {0: [], 50: []}
            for _ in range(runs):
                for count in (0, 50):
                    subs = await subscribers(ws_url, key, info, count)
                    batch, drafts = drafts[: args.drafts], drafts[args.drafts :]
                    rates[count].append(await storm(server.url, key, batch))
                    await asyncio.sleep(1.0)
                    for sub in subs:
                        await sub.close()
            without, with_subs = median(rates[0]), median(rates[50])
            print(
                f"writers: {without:.0f} publishes/s without subscribers, {with_subs:.0f} with 50 "
                f"({(1 - with_subs / without) * 100:+.0f} % drop); runs {rates}"
            )
            subs = await subscribers(ws_url, key, info, args.subscribers)
            batch, drafts = drafts[: args.publishes], drafts[args.publishes :]
            samples = await latency(server.url, key, info["po"], batch, subs, args.every)
            cuts = quantiles(samples, n=100)
            print(
                f"latency, {args.subscribers} subscribers, {args.publishes} publishes: p50 {cuts[49]:.1f} ms, "
                f"p99 {cuts[98]:.1f} ms, max {max(samples):.1f} ms over {len(samples)} deliveries"
            )
            for sub in subs:
                await sub.close()
        finally:
            server.stop()
    finally:
        await admin.execute("DROP DATABASE IF EXISTS bench_subscriptions WITH (FORCE)")
        await admin.close()
        if stop:
            stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drafts", type=int, default=640, help="publishes per throughput run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subscribers", type=int, default=1000, help="for the latency run")
    parser.add_argument("--publishes", type=int, default=30, help="for the latency run")
    parser.add_argument("--every", type=float, default=0.1, help="seconds between the latency run's publishes")
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
