"""The read model: every read of the API is a plain-SQL record from here (asyncpg records on the
request's own connection, no ORM entity), whichever executor answers the query. The GraphQL
types are built from these records (schema/, `from_record`) and the rules judge them
(resolvers/), once.

A row a mutation has just written is an ORM entity; `record_of` and `source_record` show it as
the same record, so that its payload is built and judged exactly as a read one would be
(tests/test_read_model.py holds the two shapes equal, row by row).

Column lists come from the tables' own metadata (db/models.py): a new column of a table is in
every record without an edit here. Accounts, sources, audiences and campaigns have their own
reads below; the ledger, spend days, alerts, change requests, amendments, the trace and API keys
are read by `row`, `rows` and `count` (a table, and its filter by column).

Every budget source comes back in one shape, whether it is a PO or an order: `kind`, its own
columns, and its order's number, currency, term and cancellation.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from sqlalchemy import inspect

from db.models import (
    AccountRow,
    ActivityRow,
    AllocationRow,
    AmendmentRow,
    ApiKeyRow,
    AudienceRow,
    Base,
    BudgetAlertRow,
    BudgetChangeRequestRow,
    CampaignRow,
    OrderRow,
    PurchaseOrderRow,
    SpendDayRow,
)

# An asyncpg.Record (or, for a row just written, a dict of the same keys): read by column name.
Record: TypeAlias = Mapping[str, Any]


def _columns(model: type[Base]) -> list[str]:
    return [column.name for column in model.__table__.columns]


@functools.cache  # asked for each row a mutation answers with: the mapping never changes
def _attributes(model: type[Base]) -> list[tuple[str, str]]:
    """(column name, ORM attribute name) of each mapped column."""
    return [(attribute.columns[0].name, attribute.key) for attribute in inspect(model).column_attrs]


ACCOUNT_COLUMNS = _columns(AccountRow)
AUDIENCE_COLUMNS = _columns(AudienceRow)
CAMPAIGN_COLUMNS = _columns(CampaignRow)


def _select(model: type[Base], columns: list[str]) -> str:
    return f"SELECT {', '.join(columns)} FROM {model.__tablename__}"


_ACCOUNT = _select(AccountRow, ACCOUNT_COLUMNS)
_AUDIENCE = _select(AudienceRow, AUDIENCE_COLUMNS)
_CAMPAIGN = _select(CampaignRow, CAMPAIGN_COLUMNS)

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


def record_of(row: Base) -> Record:
    """A written row (anything but an order or PO: source_record) as the record a read returns."""
    return {column: getattr(row, attribute) for column, attribute in _attributes(type(row))}


def source_record(row: OrderRow | PurchaseOrderRow) -> Record:
    """A written order or PO as the record _PO_SOURCE / _ORDER_SOURCE return for it."""
    order = row.order if isinstance(row, PurchaseOrderRow) else row
    return {
        "kind": "PurchaseOrder" if isinstance(row, PurchaseOrderRow) else "Order",
        "id": row.id,
        "account_id": row.account_id,
        "order_id": order.id,
        "order_number": order.order_number,
        "po_number": row.po_number if isinstance(row, PurchaseOrderRow) else None,
        "amount": row.amount,
        "allocated_amount": row.allocated_amount,
        "draft_amount": row.draft_amount,
        "spent_amount": row.spent_amount,
        "pending_release_amount": row.pending_release_amount,
        "currency": order.currency,
        "start_date": order.start_date,
        "end_date": order.end_date,
        "cancelled_at": row.cancelled_at,
        "order_cancelled_at": order.cancelled_at,
    }


async def api_key(conn: Any, secret_hash: bytes) -> Record | None:
    row: Record | None = await conn.fetchrow(
        "SELECT id, name, role, account_id, secret_hash FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL",
        secret_hash,
    )
    return row


async def accounts(conn: Any, ids: Sequence[int] | None) -> list[Record]:
    """The accounts of `ids` (every account for None), by id."""
    if ids is None:
        return list(await conn.fetch(_ACCOUNT + " ORDER BY id"))
    return list(await conn.fetch(_ACCOUNT + " WHERE id = any($1::bigint[]) ORDER BY id", list(ids)))


_ACCOUNT_AS = ", ".join(f'a.{name} AS "account.{name}"' for name in ACCOUNT_COLUMNS)


async def account_with_sources(conn: Any, pk: int) -> tuple[Record | None, list[Record]]:
    """The account and each of its sources, POs and orders alike, by id: one round trip for the
    drop-down. (None, []) when there is no such account."""
    rows = await conn.fetch(
        f"""SELECT {_ACCOUNT_AS}, s.*
            FROM accounts a
            LEFT JOIN LATERAL ({_PO_SOURCE} WHERE p.account_id = a.id
                               UNION ALL {_ORDER_SOURCE} WHERE o.account_id = a.id) s ON true
            WHERE a.id = $1 ORDER BY s.id""",
        pk,
    )
    if not rows:
        return None, []
    account = {name: rows[0][f"account.{name}"] for name in ACCOUNT_COLUMNS}
    return account, [r for r in rows if r["kind"] is not None]


async def sources_of_account(conn: Any, account_id: int, kind: str) -> list[Record]:
    """The account's orders or POs (`kind`), by id."""
    if kind == "PurchaseOrder":
        return list(await conn.fetch(_PO_SOURCE + " WHERE p.account_id = $1 ORDER BY p.id", account_id))
    return list(await conn.fetch(_ORDER_SOURCE + " WHERE o.account_id = $1 ORDER BY o.id", account_id))


async def purchase_orders_of_order(conn: Any, order_id: int) -> list[Record]:
    return list(await conn.fetch(_PO_SOURCE + " WHERE p.order_id = $1 ORDER BY p.id", order_id))


async def purchase_orders(conn: Any, ids: Sequence[int]) -> list[Record]:
    return list(await conn.fetch(_PO_SOURCE + " WHERE p.id = any($1::bigint[])", list(ids)))


async def orders(conn: Any, ids: Sequence[int]) -> list[Record]:
    return list(await conn.fetch(_ORDER_SOURCE + " WHERE o.id = any($1::bigint[])", list(ids)))


async def audiences(conn: Any, ids: Sequence[int]) -> list[Record]:
    return list(await conn.fetch(_AUDIENCE + " WHERE id = any($1::bigint[])", list(ids)))


async def audiences_of_account(conn: Any, account_id: int, limit: int) -> list[Record]:
    return list(await conn.fetch(_AUDIENCE + " WHERE account_id = $1 ORDER BY name LIMIT $2", account_id, limit))


async def campaigns(conn: Any, ids: Sequence[int]) -> list[Record]:
    return list(await conn.fetch(_CAMPAIGN + " WHERE id = any($1::bigint[])", list(ids)))


# The columns a campaign page may be filtered by: its account, or the source it draws on.
CAMPAIGN_OWNERS = ("account_id", "order_id", "purchase_order_id")


def _campaign_filter(owner: str, status: str | None, args: list[Any]) -> str:
    if owner not in CAMPAIGN_OWNERS:
        raise ValueError(f"campaigns are not listed by {owner}")
    where = f" WHERE {owner} = $1"
    if status is not None:
        args.append(status)
        where += f" AND status = ${len(args)}"
    return where


async def campaign_page(
    conn: Any, owner: str, owner_id: int, status: str | None, before: int | None, limit: int
) -> list[Record]:
    """Newest first: `limit` campaigns whose `owner` column is `owner_id`, with an id below
    `before`, of `status`."""
    args: list[Any] = [owner_id]
    sql = _CAMPAIGN + _campaign_filter(owner, status, args)
    if before is not None:
        args.append(before)
        sql += f" AND id < ${len(args)}"
    args.append(limit)
    return list(await conn.fetch(sql + f" ORDER BY id DESC LIMIT ${len(args)}", *args))


async def campaign_count(conn: Any, owner: str, owner_id: int, status: str | None) -> int:
    args: list[Any] = [owner_id]
    sql = "SELECT count(*) FROM campaigns" + _campaign_filter(owner, status, args)
    return int(await conn.fetchval(sql, *args))


# --- the tables read whole, by a filter on their columns ---------------------------------------

TABLES: tuple[type[Base], ...] = (
    CampaignRow,
    AllocationRow,
    SpendDayRow,
    BudgetAlertRow,
    BudgetChangeRequestRow,
    AmendmentRow,
    ActivityRow,
    ApiKeyRow,
)
_TABLE_SELECT = {model: _select(model, _columns(model)) for model in TABLES}


class _NotNull:
    def __repr__(self) -> str:
        return "NOT_NULL"


NOT_NULL: Any = _NotNull()  # a filter's value: the column IS NOT NULL (None: IS NULL)
Where = Mapping[str, Any]  # column -> the value it must have


def _terms(model: type[Base], where: Where, args: list[Any]) -> list[str]:
    """The conditions of the filter: column names come from code, never from a request (checked)."""
    terms = []
    columns = model.__table__.columns
    for column, value in where.items():
        if column not in columns:
            raise ValueError(f"{model.__tablename__} has no column {column}")
        if value is None:
            terms.append(f"{column} IS NULL")
        elif value is NOT_NULL:
            terms.append(f"{column} IS NOT NULL")
        else:
            args.append(value)
            terms.append(f"{column} = ${len(args)}")
    return terms


def _where(terms: list[str]) -> str:
    return " WHERE " + " AND ".join(terms) if terms else ""


async def row(conn: Any, model: type[Base], pk: int) -> Record | None:
    found: Record | None = await conn.fetchrow(_TABLE_SELECT[model] + " WHERE id = $1", pk)
    return found


async def rows(
    conn: Any,
    model: type[Base],
    where: Where,
    *,
    key: str = "id",
    newest_first: bool = True,
    before: Any = None,
    after: Any = None,
    limit: int | None = None,
) -> list[Record]:
    """The rows of `model` that `where` selects, by `key` (descending: newest first), only those
    whose key is below `before` (a page's cursor) or above `after`, at most `limit`."""
    if key not in model.__table__.columns:
        raise ValueError(f"{model.__tablename__} has no column {key}")
    args: list[Any] = []
    terms = _terms(model, where, args)
    for bound, operator in ((before, "<"), (after, ">")):
        if bound is not None:
            args.append(bound)
            terms.append(f"{key} {operator} ${len(args)}")
    sql = _TABLE_SELECT[model] + _where(terms) + f" ORDER BY {key} {'DESC' if newest_first else 'ASC'}"
    if limit is not None:
        args.append(limit)
        sql += f" LIMIT ${len(args)}"
    return list(await conn.fetch(sql, *args))


async def count(conn: Any, model: type[Base], where: Where) -> int:
    args: list[Any] = []
    terms = _terms(model, where, args)
    return int(await conn.fetchval(f"SELECT count(*) FROM {model.__tablename__}" + _where(terms), *args))
