"""Benchmark data: one account that requires POs, one order, 50 POs, 20 audiences and N
campaigns (half published, with their ledger entries), written with set-based SQL."""

from __future__ import annotations

import asyncpg

SOURCES = 50
AUDIENCES = 20


async def generate(conn: asyncpg.Connection, campaigns: int) -> dict[str, int]:
    """Load the data set into a freshly migrated database; returns the ids the workloads need."""
    account = await conn.fetchval(
        "INSERT INTO accounts (name, requires_purchase_order) VALUES ('Bench Outdoor', true) RETURNING id"
    )
    # Large enough that half the campaigns at up to 100.00 each fit on 50 POs.
    po_amount = max(100_000, campaigns * 100 // SOURCES + 10_000)
    order = await conn.fetchval(
        """INSERT INTO orders (account_id, order_number, amount, currency, start_date, end_date)
           VALUES ($1, 'Q-BENCH', $2, 'USD', current_date - 30, current_date + 365) RETURNING id""",
        account,
        po_amount * (SOURCES + 1),
    )
    await conn.execute(
        """INSERT INTO purchase_orders (account_id, order_id, po_number, amount)
           SELECT $1, $2, 'PO-' || lpad(g::text, 4, '0'), $3 FROM generate_series(1, $4) g""",
        account,
        order,
        po_amount,
        SOURCES,
    )
    await conn.execute(
        "INSERT INTO audiences (account_id, name) SELECT $1, 'Audience ' || g FROM generate_series(1, $2) g",
        account,
        AUDIENCES,
    )
    await conn.execute(
        """INSERT INTO campaigns (account_id, name, status, step, audience_id, budget, start_date, end_date,
                                  order_id, purchase_order_id, published_at)
           SELECT $1, 'Campaign ' || g,
                  CASE WHEN g % 2 = 0 THEN 'PUBLISHED' ELSE 'DRAFT' END,
                  CASE WHEN g % 2 = 0 THEN 'REVIEW' ELSE 'BUDGET_AND_SCHEDULE' END,
                  (SELECT min(id) FROM audiences) + g % $3,
                  10 + g % 90, current_date, current_date + 30, $2,
                  (SELECT min(id) FROM purchase_orders) + g % $4,
                  CASE WHEN g % 2 = 0 THEN now() END
           FROM generate_series(1, $5) g""",
        account,
        order,
        AUDIENCES,
        SOURCES,
        campaigns,
    )
    await conn.execute(
        """INSERT INTO allocations (account_id, campaign_id, order_id, purchase_order_id, delta, reason, actor)
           SELECT account_id, id, order_id, purchase_order_id, budget, 'publish', 'bench'
           FROM campaigns WHERE status = 'PUBLISHED' ORDER BY id"""
    )
    # Settle the table as autovacuum would: the ledger trigger updated the 50 PO rows once per entry.
    await conn.execute("VACUUM ANALYZE")
    first_po = await conn.fetchval("SELECT min(id) FROM purchase_orders")
    return {"account": account, "order": order, "first_po": first_po}


async def drafts_at_review(conn: asyncpg.Connection, account: int, order: int, po: int, count: int) -> list[int]:
    """W3: drafts ready to publish on one PO."""
    audience = await conn.fetchval("SELECT min(id) FROM audiences WHERE account_id = $1", account)
    rows = await conn.fetch(
        """INSERT INTO campaigns (account_id, name, step, audience_id, budget, start_date, end_date,
                                  order_id, purchase_order_id)
           SELECT $1, 'Storm ' || g, 'REVIEW', $2, 10, current_date, current_date + 30, $3, $4
           FROM generate_series(1, $5) g RETURNING id""",
        account,
        audience,
        order,
        po,
        count,
    )
    return [r["id"] for r in rows]
