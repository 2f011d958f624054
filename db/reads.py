"""The records of the general executor: every read of graphql-core's path is a plain-SQL record
from here (asyncpg records on the request's own connection, no ORM entity), read from the read
model's views (migration 0008; db/readmodel.py says which type is read from which), so every
figure of a record is its SQL definition's: nothing is computed in Python. The GraphQL types are
built from these records (schema/, `from_record`). Queries the planner answers
(budgetline/planner.py) read the same views, in one statement.

`row`, `rows` and `count` read a type by a filter on its columns; sources and campaigns have
reads of their own for the lists the API shows (the step-2 drop-down, what draws on a source).
Every budget source comes back in one shape (`budget_sources_view`), PO or order alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from db.models import AmendmentRow, Base
from db.readmodel import NODES, RELATIONS, Relation

# An asyncpg.Record: read by column name.
Record: TypeAlias = Mapping[str, Any]

SOURCE_KINDS = ("Order", "PurchaseOrder")

# Where each table's rows are read from, as the API shows them (the registry's relations).
_RELATION: dict[type[Base], Relation] = {kind.model: kind.relation for kind in NODES.values()}
_RELATION[AmendmentRow] = RELATIONS["Amendment"]


def _from(model: type[Base]) -> tuple[str, list[str]]:
    """The FROM clause of a table's rows as the API shows them (as `r`), and its condition."""
    relation = _RELATION[model]
    return f"{relation.source} r", [relation.where.format(r="r")] if relation.where else []


def _kind(kind: str) -> str:
    """A source kind written into SQL: it comes from code or a record, and is checked."""
    if kind not in SOURCE_KINDS:
        raise ValueError(f"no budget source kind {kind!r}")
    return kind


async def api_key(conn: Any, secret_hash: bytes) -> Record | None:
    row: Record | None = await conn.fetchrow(
        "SELECT id, name, role, account_id, secret_hash FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL",
        secret_hash,
    )
    return row


async def accounts(conn: Any, ids: Sequence[int] | None) -> list[Record]:
    """The accounts of `ids` (every account for None), by id."""
    if ids is None:
        return list(await conn.fetch("SELECT * FROM accounts ORDER BY id"))
    return list(await conn.fetch("SELECT * FROM accounts WHERE id = any($1::bigint[]) ORDER BY id", list(ids)))


# --- budget sources -----------------------------------------------------------------------------


async def dropdown(conn: Any, account_id: int, include_inactive: bool) -> list[Record]:
    """The step-2 drop-down (R4), by the SQL function that defines it, by id."""
    sql = "SELECT * FROM account_budget_sources($1, $2) ORDER BY id"
    return list(await conn.fetch(sql, account_id, include_inactive))


async def sources_of_account(conn: Any, account_id: int, kind: str) -> list[Record]:
    """The account's orders or POs (`kind`), by id."""
    sql = "SELECT * FROM budget_sources_view WHERE kind = $1 AND account_id = $2 ORDER BY id"
    return list(await conn.fetch(sql, _kind(kind), account_id))


async def purchase_orders_of_order(conn: Any, order_id: int) -> list[Record]:
    sql = "SELECT * FROM budget_sources_view WHERE kind = 'PurchaseOrder' AND order_id = $1 ORDER BY id"
    return list(await conn.fetch(sql, order_id))


async def sources(conn: Any, ids: Sequence[int], *, kind: str) -> list[Record]:
    """Sources of one kind by id."""
    sql = f"SELECT * FROM budget_sources_view WHERE kind = '{_kind(kind)}' AND id = any($1::bigint[])"
    return list(await conn.fetch(sql, list(ids)))


def drawing_on(kind: str, column_of: str = "") -> str:
    """The condition of rows that draw on a source ($1) of `kind`: a PO's own, an order's own and
    its POs' (campaigns, the ledger, change requests), by the SQL function that defines it."""
    prefix = f"{column_of}." if column_of else ""
    return f"source_includes('{_kind(kind)}', $1, {prefix}order_id, {prefix}purchase_order_id)"


def amended(kind: str) -> str:
    """The condition of a source's ($1) own amendments (R18), by the SQL function that defines it."""
    return f"source_amended_by('{_kind(kind)}', $1, order_id, purchase_order_id)"


# --- campaigns ----------------------------------------------------------------------------------


async def audiences(conn: Any, ids: Sequence[int]) -> list[Record]:
    return list(await conn.fetch("SELECT * FROM audiences WHERE id = any($1::bigint[])", list(ids)))


async def audiences_of_account(conn: Any, account_id: int, limit: int) -> list[Record]:
    sql = "SELECT * FROM audiences WHERE account_id = $1 ORDER BY name LIMIT $2"
    return list(await conn.fetch(sql, account_id, limit))


async def campaigns(conn: Any, ids: Sequence[int]) -> list[Record]:
    return list(await conn.fetch("SELECT * FROM campaigns_view WHERE id = any($1::bigint[])", list(ids)))


def _campaign_filter(owner: str, status: str | None, args: list[Any]) -> str:
    """Campaigns of an account ("account_id"), or drawing on a source ("Order", "PurchaseOrder")."""
    where = " WHERE " + ("account_id = $1" if owner == "account_id" else drawing_on(owner))
    if status is not None:
        args.append(status)
        where += f" AND status = ${len(args)}"
    return where


async def campaign_page(
    conn: Any, owner: str, owner_id: int, status: str | None, before: int | None, limit: int
) -> list[Record]:
    """Newest first: `limit` campaigns of `owner` (`_campaign_filter`) `owner_id`, with an id
    below `before`, of `status`."""
    args: list[Any] = [owner_id]
    sql = "SELECT * FROM campaigns_view" + _campaign_filter(owner, status, args)
    if before is not None:
        args.append(before)
        sql += f" AND id < ${len(args)}"
    args.append(limit)
    return list(await conn.fetch(sql + f" ORDER BY id DESC LIMIT ${len(args)}", *args))


async def campaign_count(conn: Any, owner: str, owner_id: int, status: str | None) -> int:
    args: list[Any] = [owner_id]
    sql = "SELECT count(*) FROM campaigns_view" + _campaign_filter(owner, status, args)
    return int(await conn.fetchval(sql, *args))


# --- any type, by a filter on its columns --------------------------------------------------------


class _NotNull:
    def __repr__(self) -> str:
        return "NOT_NULL"


NOT_NULL: Any = _NotNull()  # a filter's value: the column IS NOT NULL (None: IS NULL)
Where = Mapping[str, Any]  # column -> the value it must have
# A condition written by code (never from a request) over $1: a source's rows (`drawing_on`).
Condition = str


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
    source, terms = _from(model)
    found: Record | None = await conn.fetchrow(f"SELECT r.* FROM {source}" + _where([*terms, "r.id = $1"]), pk)
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
    condition: tuple[Condition, Any] | None = None,
) -> list[Record]:
    """The rows of `model` that `where` (and `condition`, with its value as $1) selects, by `key`
    (descending: newest first), only those whose key is below `before` (a page's cursor) or above
    `after`, at most `limit`."""
    if key not in model.__table__.columns:
        raise ValueError(f"{model.__tablename__} has no column {key}")
    args: list[Any] = []
    source, terms = _from(model)
    if condition is not None:
        args.append(condition[1])
        terms.append(condition[0])
    terms += _terms(model, where, args)
    for bound, operator in ((before, "<"), (after, ">")):
        if bound is not None:
            args.append(bound)
            terms.append(f"{key} {operator} ${len(args)}")
    sql = f"SELECT r.* FROM {source}" + _where(terms) + f" ORDER BY {key} {'DESC' if newest_first else 'ASC'}"
    if limit is not None:
        args.append(limit)
        sql += f" LIMIT ${len(args)}"
    return list(await conn.fetch(sql, *args))


async def count(conn: Any, model: type[Base], where: Where, condition: tuple[Condition, Any] | None = None) -> int:
    args: list[Any] = []
    source, terms = _from(model)
    if condition is not None:
        args.append(condition[1])
        terms.append(condition[0])
    terms += _terms(model, where, args)
    return int(await conn.fetchval(f"SELECT count(*) FROM {source}" + _where(terms), *args))
