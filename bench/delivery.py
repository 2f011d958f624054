"""W5: bulk spend ingestion (`reportSpends`, 1,000 reports per request) at 1 and 2 server
processes, beside pgbench running the same SQL per report; then one sweeper pass over 100,000
due campaigns (docs/benchmarks.md, "W5").

    .venv/bin/python bench/delivery.py                      # embedded PostgreSQL
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/delivery.py

With DATABASE_URL it creates (and drops) a database `bench_delivery` on that server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import httpx

from bench.run import budgetline_server, plain
from budgetline import sweeper
from budgetline.keys import create_api_key
from db import embedded, migrate
from db.queries import ledger_differences
from db.session import create_engine, with_database
from resolvers import ids

ROOT = Path(__file__).resolve().parent.parent
BULK = """mutation($input: ReportSpendsInput!) { reportSpends(input: $input) { accepted refused } }"""
HISTORY = 365  # days of schedule behind today that reports may fall on


async def setup(url: str, campaigns: int, due: int) -> dict[str, int]:
    """An account, one order, one PO; `campaigns` live campaigns over the past year; `due`
    campaigns that ended yesterday and wait for the sweeper; every publish in the ledger."""
    conn = await asyncpg.connect(plain(url))
    try:
        account = await conn.fetchval(
            "INSERT INTO accounts (name, requires_purchase_order) VALUES ('Bench Delivery', true) RETURNING id"
        )
        audience = await conn.fetchval(
            "INSERT INTO audiences (account_id, name) VALUES ($1, 'Everyone') RETURNING id", account
        )
        order = await conn.fetchval(
            """INSERT INTO orders (account_id, order_number, amount, currency, start_date, end_date)
               VALUES ($1, 'Q-W5', 900000000000, 'USD', current_date - 400, current_date + 400) RETURNING id""",
            account,
        )
        po = await conn.fetchval(
            """INSERT INTO purchase_orders (account_id, order_id, po_number, amount)
               VALUES ($1, $2, 'PO-W5', 900000000000) RETURNING id""",
            account,
            order,
        )
        # Loaded without the triggers, whose update of the one PO and order row per ledger entry
        # is quadratic inside one transaction; the totals they keep are set once, below.
        await conn.execute("SET session_replication_role = replica")
        for count, budget, start, end in (
            (campaigns, 1_000_000, -HISTORY, 30),  # live: room for any amount of spend
            (due, 10, -30, -1),  # ended yesterday: the sweeper ends and settles them
        ):
            await conn.execute(
                """WITH c AS (
                     INSERT INTO campaigns (account_id, name, status, step, version, audience_id, budget,
                                            start_date, end_date, order_id, purchase_order_id, published_at)
                     SELECT $1, 'W5 ' || g, 'PUBLISHED', 'REVIEW', 2, $2, $3, current_date + $4::int,
                            current_date + $5::int, $6, $7, now()
                       FROM generate_series(1, $8) g
                     RETURNING id, budget)
                   INSERT INTO allocations (account_id, campaign_id, order_id, purchase_order_id, delta, reason, actor)
                   SELECT $1, id, $6, $7, budget, 'publish', 'bench' FROM c""",
                account,
                audience,
                budget,
                start,
                end,
                order,
                po,
                count,
            )
        await conn.execute("SET session_replication_role = DEFAULT")
        await conn.execute(
            "UPDATE purchase_orders SET allocated_amount = (SELECT sum(delta) FROM allocations) WHERE id = $1", po
        )
        await conn.execute(
            "UPDATE orders SET allocated_amount = (SELECT sum(delta) FROM allocations) WHERE id = $1", order
        )
        await conn.execute("VACUUM ANALYZE")
        live = await conn.fetch("SELECT id FROM campaigns WHERE budget > 10 ORDER BY id")
        return {"account": account, "first": live[0]["id"], "last": live[-1]["id"]}
    finally:
        await conn.close()


def batch(rng: random.Random, first: int, last: int, size: int) -> list[dict[str, str]]:
    today = date.today()
    return [
        {
            "campaignId": ids.encode("Campaign", rng.randint(first, last)),
            "date": (today - timedelta(rng.randrange(HISTORY))).isoformat(),
            "amount": f"{rng.randint(100, 999) / 100:.2f}",
        }
        for _ in range(size)
    ]


async def ingest(url: str, key: str, info: dict[str, int], clients: int, seconds: float) -> tuple[float, int]:
    """Clients sending batches of 1,000 back to back for `seconds`: (reports accepted per second, refused)."""
    accepted = refused = 0
    deadline = time.perf_counter() + seconds

    async def client(seed: int, http: httpx.AsyncClient) -> None:
        nonlocal accepted, refused
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            reports = batch(rng, info["first"], info["last"], 1000)
            response = await http.post(
                url,
                json={"query": BULK, "variables": {"input": {"reports": reports}}},
                headers={"Authorization": f"Bearer {key}"},
            )
            if response.status_code != 200 or not response.content.startswith(b"{"):
                raise RuntimeError(f"reportSpends answered {response.status_code}: {response.text[:300]}")
            payload = response.json()["data"]["reportSpends"]
            accepted += payload["accepted"]
            refused += payload["refused"]

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=300) as http:
        await asyncio.gather(*(client(seed, http) for seed in range(clients)))
    return accepted / (time.perf_counter() - started), refused


PGBENCH = """\\set c random({first}, {last})
\\set d random(0, {days})
BEGIN;
SELECT id, account_id, name, status, step, version, audience_id, budget, start_date, end_date, order_id,
       purchase_order_id, published_at, created_at, updated_at, spent_amount, released_amount, paused_at,
       ended_at, end_reason, settled_at FROM campaigns WHERE id = :c FOR UPDATE;
SELECT amount FROM spend_days WHERE campaign_id = :c AND day = current_date - (:d)::int;
INSERT INTO spend_reports (account_id, campaign_id, day, amount, reported_by)
  VALUES ({account}, :c, current_date - (:d)::int, 1.23, 'pgbench');
COMMIT;
"""


def pgbench(url: str, info: dict[str, int], clients: int, seconds: int) -> float | None:
    """The statements of one spend report, as a transaction per report."""
    if shutil.which("pgbench") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH.format(days=HISTORY - 1, **info))
    done = subprocess.run(
        [
            "pgbench",
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            "1",
            "-T",
            str(seconds),
            "-f",
            script.name,
            plain(url),
        ],
        capture_output=True,
        text=True,
    )
    found = re.search(r"tps = ([\d.]+)", done.stdout)
    if not found:
        print(done.stdout + done.stderr)
        return None
    return float(found[1])


async def sweep_pass(url: str) -> tuple[float, dict[str, int] | None]:
    engine = create_engine(url, pool_size=2, max_overflow=0)
    try:
        started = time.perf_counter()
        done = await sweeper.run_once(engine, 0, wait=True)
        return time.perf_counter() - started, done
    finally:
        await engine.dispose()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4, help="concurrent reportSpends clients, and pgbench clients")
    parser.add_argument("--campaigns", type=int, default=2000, help="live campaigns the reports fall on")
    parser.add_argument("--due", type=int, default=100_000, help="due campaigns for the sweeper pass (0: skip)")
    args = parser.parse_args()

    pg = None
    admin = os.environ.get("DATABASE_URL")
    if admin is None:
        pg = embedded.start(ROOT / ".budgetline-bench")
        admin = pg.url
    conn = await asyncpg.connect(plain(admin))
    await conn.execute("DROP DATABASE IF EXISTS bench_delivery WITH (FORCE)")
    await conn.execute("CREATE DATABASE bench_delivery")
    await conn.close()
    url = with_database(admin, "bench_delivery")
    try:
        await migrate.aupgrade(url)
        info = await setup(url, args.campaigns, args.due)
        key = await create_api_key(url, name="bench ad server", role="DELIVERY", account_id=None)
        figures: dict[str, list[float]] = {}
        for run in range(args.runs):
            for processes in (1, 2):
                server = budgetline_server(url, processes)
                server.env["BUDGETLINE_SWEEP_SECONDS"] = "0"  # the pass below is measured on its own
                server.start()
                try:
                    await ingest(server.url, key, info, args.clients, 2)  # warm-up
                    rate, refused = await ingest(server.url, key, info, args.clients, args.seconds)
                finally:
                    server.stop()
                figures.setdefault(f"x{processes}", []).append(rate)
                print(f"run {run} reportSpends x{processes}: {rate:8.0f} reports/s ({refused} refused)", flush=True)
            tps = pgbench(url, info, args.clients, args.seconds)
            if tps is not None:
                figures.setdefault("pgbench", []).append(tps)
                print(f"run {run} pgbench, same SQL: {tps:8.0f} reports/s", flush=True)
        print("\n| what | reports/s (median) | spread | ratio to pgbench |")
        print("| --- | --- | --- | --- |")
        base = median(figures["pgbench"]) if "pgbench" in figures else None
        for name in ("x1", "x2", "pgbench"):
            if name in figures:
                value = median(figures[name])
                ratio = f"{value / base:.2f}x" if base else "-"
                print(f"| {name} | {value:.0f} | {min(figures[name]):.0f}-{max(figures[name]):.0f} | {ratio} |")
        if args.due:
            seconds, done = await sweep_pass(url)
            print(f"\nsweeper pass over {args.due:,} due campaigns: {seconds:.1f} s; {done}")
            print(f"  {args.due / seconds:.0f} campaigns/s, ended and settled by groups of one source per transaction")
            engine = create_engine(url, pool_size=1, max_overflow=0)
            async with engine.connect() as check:
                sources, campaigns, differences = await ledger_differences(check)
            await engine.dispose()
            print(f"  check-ledger: {sources} sources, {campaigns} campaigns, {len(differences)} differences")
    finally:
        conn = await asyncpg.connect(plain(admin))
        await conn.execute("DROP DATABASE IF EXISTS bench_delivery WITH (FORCE)")
        await conn.close()
        if pg is not None:
            pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
