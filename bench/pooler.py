"""W1, W2 and W3 with Budgetline connected directly and through PgBouncer in transaction mode,
side by side on the same PostgreSQL server and data (docs/benchmarks.md, "Through PgBouncer").

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/pooler.py

Needs `wrk` and Debian's `pgbouncer`; the server in DATABASE_URL must be reachable over TCP.
It creates (and drops) a database `bench_pooler` there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import httpx

from bench import data
from bench.run import BUDGETLINE_W1, BUDGETLINE_W2, budgetline_server, plain, wrk
from budgetline.keys import create_api_key
from db import migrate
from db.session import with_database
from resolvers import ids
from tests.pooler import PgBouncer

PUBLISH = "mutation($id: ID!) { publishCampaign(input: {campaignId: $id}) { __typename } }"


def pooled(server: object, bouncer: PgBouncer, direct: str) -> None:
    server.env.update(  # type: ignore[attr-defined]
        {
            "DATABASE_URL": bouncer.url(direct),
            "BUDGETLINE_DB_POOLER": "transaction",
            "BUDGETLINE_DATABASE_DIRECT_URL": direct,
        }
    )
    server.kind = "Budgetline via PgBouncer"  # type: ignore[attr-defined]


async def storm(url: str, manager: str, drafts: list[int]) -> tuple[float, int]:
    """W3: publish every draft, 64 at a time; (publishes per second, how many succeeded)."""
    sem = asyncio.Semaphore(64)
    published = 0

    async def one(client: httpx.AsyncClient, pk: int) -> None:
        nonlocal published
        async with sem:
            response = await client.post(
                url,
                json={"query": PUBLISH, "variables": {"id": ids.encode("Campaign", pk)}},
                headers={"Authorization": f"Bearer {manager}"},
            )
            if response.json()["data"]["publishCampaign"]["__typename"] == "Campaign":
                published += 1

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
        started = time.perf_counter()
        await asyncio.gather(*(one(client, pk) for pk in drafts))
        return len(drafts) / (time.perf_counter() - started), published


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--campaigns", type=int, default=2000)
    parser.add_argument("--storm", type=int, default=300)
    args = parser.parse_args()
    admin = os.environ["DATABASE_URL"]
    conn = await asyncpg.connect(plain(admin))
    await conn.execute("DROP DATABASE IF EXISTS bench_pooler WITH (FORCE)")
    await conn.execute("CREATE DATABASE bench_pooler")
    await conn.close()
    url = with_database(admin, "bench_pooler")
    await migrate.aupgrade(url)
    conn = await asyncpg.connect(plain(url))
    info = await data.generate(conn, args.campaigns)
    await conn.close()
    account = ids.encode("Account", info["account"])
    viewer = await create_api_key(url, name="bench viewer", role="VIEWER", account_id=account)
    manager = await create_api_key(url, name="bench manager", role="CAMPAIGN_MANAGER", account_id=account)
    bouncer = PgBouncer(with_database(admin, "postgres"))
    bodies = {
        "W1": json.dumps({"query": BUDGETLINE_W1, "variables": {"id": account}}),
        "W2": json.dumps({"query": BUDGETLINE_W2, "variables": {"id": account}}),
    }
    figures: dict[tuple[str, int, str], list[float]] = {}
    try:
        for run in range(args.runs):
            for processes in (1, 2):
                # Alternate which goes first: this machine drifts between runs.
                order = ["direct", "pooled"] if run % 2 == 0 else ["pooled", "direct"]
                for way in order:
                    server = budgetline_server(url, processes)
                    if way == "pooled":
                        pooled(server, bouncer, url)
                    server.start()
                    try:
                        for workload, body in bodies.items():
                            wrk(server.url, viewer, body, args.concurrency, 2, server)  # warm-up
                            rps, *_ = wrk(server.url, viewer, body, args.concurrency, args.seconds, server)
                            figures.setdefault((way, processes, workload), []).append(rps)
                            print(f"run {run} {way:6} x{processes} {workload} {rps:8.0f} req/s", flush=True)
                        if processes == 2:
                            conn = await asyncpg.connect(plain(url))
                            drafts = await data.drafts_at_review(
                                conn, info["account"], info["order"], info["first_po"], args.storm
                            )
                            await conn.close()
                            rate, published = await storm(server.url, manager, drafts)
                            figures.setdefault((way, processes, "W3"), []).append(rate)
                            print(f"run {run} {way:6} x2 W3 {rate:8.0f} publishes/s ({published} published)")
                    finally:
                        server.stop()
    finally:
        bouncer.stop()
        conn = await asyncpg.connect(plain(admin))
        await conn.execute("DROP DATABASE IF EXISTS bench_pooler WITH (FORCE)")
        await conn.close()
    print("\n| workload | processes | direct req/s | via PgBouncer req/s | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for workload in ("W1", "W2", "W3"):
        for processes in (1, 2):
            direct = figures.get(("direct", processes, workload))
            through = figures.get(("pooled", processes, workload))
            if direct and through:
                d, p = median(direct), median(through)
                spread = f"{min(through):.0f}-{max(through):.0f} vs {min(direct):.0f}-{max(direct):.0f}"
                print(f"| {workload} | {processes} | {d:.0f} | {p:.0f} | {p / d:.2f}x ({spread}) |")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
