"""The ledger export's read (API.md section 8, `GET /exports/ledger.csv`): a server-side cursor
over a source's allocation and spend entries, oldest first, so a million rows never sit in the
process's memory at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from db.reads import Record

# A source's entries: an order's own and its POs' (purchase_order_id NULL matches them all), a
# PO's own; `at` within [start, end).
LEDGER = """
SELECT 'allocation' AS kind, a.id, a.created_at AS at, a.campaign_id, c.name AS campaign_name,
       a.order_id, a.purchase_order_id, p.po_number, o.order_number, a.reason, a.delta,
       NULL::date AS spend_date, NULL::numeric AS amount, a.actor, o.currency
  FROM allocations a
  JOIN campaigns c ON c.id = a.campaign_id
  JOIN orders o ON o.id = a.order_id
  LEFT JOIN purchase_orders p ON p.id = a.purchase_order_id
 WHERE a.order_id = $1 AND ($2::bigint IS NULL OR a.purchase_order_id = $2)
   AND a.created_at >= $3 AND a.created_at < $4
UNION ALL
SELECT 'spend', s.id, s.created_at, s.campaign_id, c.name,
       c.order_id, c.purchase_order_id, p.po_number, o.order_number, NULL, NULL,
       s.day, s.amount, s.reported_by, o.currency
  FROM spend_reports s
  JOIN campaigns c ON c.id = s.campaign_id
  JOIN orders o ON o.id = c.order_id
  LEFT JOIN purchase_orders p ON p.id = c.purchase_order_id
 WHERE c.order_id = $1 AND ($2::bigint IS NULL OR c.purchase_order_id = $2)
   AND s.created_at >= $3 AND s.created_at < $4
 ORDER BY at, kind, id
"""


async def ledger(
    connection: AsyncConnection,
    order_id: int,
    purchase_order_id: int | None,
    start: datetime,
    end: datetime,
    batch: int,
    statement_timeout_ms: int,
    idle_timeout_s: int,
) -> AsyncIterator[list[Record]]:
    """Batches of entries, through a server-side cursor, in the transaction the caller began on
    `connection` (SQLAlchemy's, so that it ends, rolled back, however the caller stops). Each fetch
    is bounded by the statement timeout (set here: a pooler drops connection settings), and the
    transaction by an idle timeout while the caller waits on its client."""
    await connection.execute(text("SET TRANSACTION READ ONLY"))
    await connection.execute(text(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}"))
    await connection.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {int(idle_timeout_s) * 1000}"))
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    cursor = await driver.cursor(LEDGER, order_id, purchase_order_id, start, end)
    while rows := await cursor.fetch(batch):
        yield rows
