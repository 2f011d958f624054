"""Plain-SQL reads for the compiled query path (budgetline/compiled.py): asyncpg records on
the request's own connection, no ORM entities. They return the rows the general path reads
through the ORM (the drop-down's together with its account), in the same order;
tests/test_compiled.py holds the two paths to the same responses.

Every budget source comes back in one shape, whether it is a PO or an order: `kind`, its
own columns, and its order's number, currency, term and cancellation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

# An asyncpg.Record: read by column name.
Record: TypeAlias = Mapping[str, Any]

_PO_SOURCE = """
SELECT 'PurchaseOrder' AS kind, p.id, p.account_id, o.id AS order_id, o.order_number, p.po_number,
       p.amount, p.allocated_amount, p.draft_amount, p.spent_amount, p.pending_release_amount,
       o.currency, o.start_date, o.end_date,
       p.cancelled_at, o.cancelled_at AS order_cancelled_at
FROM purchase_orders p JOIN orders o ON o.id = p.order_id
"""
_ORDER_SOURCE = """
SELECT 'Order' AS kind, o.id, o.account_id, o.id AS order_id, o.order_number, NULL::text AS po_number,
       o.amount, o.allocated_amount, o.draft_amount, o.spent_amount, o.pending_release_amount,
       o.currency, o.start_date, o.end_date,
       o.cancelled_at, o.cancelled_at AS order_cancelled_at
FROM orders o
"""

_CAMPAIGN = """
SELECT id, account_id, name, status, step, version, audience_id, budget, start_date, end_date, order_id,
       purchase_order_id, published_at, created_at, updated_at, spent_amount, released_amount, paused_at,
       ended_at, end_reason, settled_at
FROM campaigns WHERE account_id = $1
"""


async def api_key(conn: Any, secret_hash: bytes) -> Record | None:
    row: Record | None = await conn.fetchrow(
        "SELECT id, name, role, account_id, secret_hash FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL",
        secret_hash,
    )
    return row


async def account(conn: Any, pk: int) -> Record | None:
    row: Record | None = await conn.fetchrow("SELECT id, name, requires_purchase_order FROM accounts WHERE id = $1", pk)
    return row


async def account_with_sources(conn: Any, pk: int) -> list[Record]:
    """The account (as a_id, a_name, a_requires_purchase_order) beside each of its sources, POs
    and orders alike, by id; one row with no source (kind NULL) when it has none; none when
    there is no such account. One round trip for the drop-down."""
    return list(
        await conn.fetch(
            f"""SELECT a.id AS a_id, a.name AS a_name, a.requires_purchase_order AS a_requires_purchase_order, s.*
                FROM accounts a
                LEFT JOIN LATERAL ({_PO_SOURCE} WHERE p.account_id = a.id
                                   UNION ALL {_ORDER_SOURCE} WHERE o.account_id = a.id) s ON true
                WHERE a.id = $1 ORDER BY s.id""",
            pk,
        )
    )


async def purchase_orders(conn: Any, ids: Sequence[int]) -> list[Record]:
    return list(await conn.fetch(_PO_SOURCE + " WHERE p.id = any($1::bigint[])", list(ids)))


async def orders(conn: Any, ids: Sequence[int]) -> list[Record]:
    return list(await conn.fetch(_ORDER_SOURCE + " WHERE o.id = any($1::bigint[])", list(ids)))


async def audiences(conn: Any, ids: Sequence[int]) -> list[Record]:
    return list(await conn.fetch("SELECT id, name FROM audiences WHERE id = any($1::bigint[])", list(ids)))


async def campaign_page(conn: Any, account_id: int, status: str | None, before: int | None, limit: int) -> list[Record]:
    """Newest first: `limit` campaigns of the account with an id below `before`, of `status`."""
    sql = _CAMPAIGN
    args: list[Any] = [account_id]
    if status is not None:
        args.append(status)
        sql += f" AND status = ${len(args)}"
    if before is not None:
        args.append(before)
        sql += f" AND id < ${len(args)}"
    args.append(limit)
    return list(await conn.fetch(sql + f" ORDER BY id DESC LIMIT ${len(args)}", *args))


async def campaign_count(conn: Any, account_id: int, status: str | None) -> int:
    if status is None:
        return int(await conn.fetchval("SELECT count(*) FROM campaigns WHERE account_id = $1", account_id))
    return int(
        await conn.fetchval("SELECT count(*) FROM campaigns WHERE account_id = $1 AND status = $2", account_id, status)
    )
