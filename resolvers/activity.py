"""R20: the trace of every change. One `activity` row per successful mutation, written by
`Context.transact` in the mutation's own transaction (so a refused or rolled-back one leaves
none), and one per sweeper action (written by the sweeper's jobs).

What changed is read off the ORM, not written by hand in each mutation: a `before_flush` hook
collects every mapped column's history (value before, value after) of the rows the transaction
flushes, and the entry keeps those of its subject (the mutation's result), named and written as
the API serialises them. Writes the ORM does not see (a spend report's insert, whose trigger
moves spentAmount; a cancellation's derived status) add theirs with `note_change`. Columns that
are no API field, or a secret (`secret_hash`), are never written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement

from db.models import (
    AccountRow,
    ActivityRow,
)
from db.readmodel import NODES
from db.reads import Record
from resolvers import ids
from resolvers.pagination import Page, paginate

# The mutation being resolved (set by schema/mutation.py around each mutation's resolver).
OPERATION: ContextVar[str | None] = ContextVar("budgetline_operation", default=None)
SWEEPER = "budgetline"
_CHANGES = "budgetline_changes"  # session.info key: {row: {field: [before, after]}}

# The node types whose changes a trace shows, by table (the registry's: db/readmodel.NODES).
NODE_TYPE = {kind.model: kind.name for kind in NODES.values() if kind.traced}
# Columns that are no field of the API (or a secret): never in a trace.
HIDDEN = frozenset(
    {
        "id",
        "account_id",
        "created_at",
        "updated_at",
        "secret_hash",
        "cancelled_at",  # shown as status, by note_change
        "allocated_amount",
        "draft_amount",
        "spent_amount",
        "pending_release_amount",
        "purchase_order_total",
    }
)
# Columns whose API field has another name, and the node type of an ID they hold.
FIELD = {
    "requires_purchase_order": "requiresPurchaseOrder",
    "alert_thresholds": "alertSettings.thresholds",
    "expiry_warning_days": "alertSettings.expiryWarningDays",
    "audience_id": "audience",
    "order_id": "order",
    "purchase_order_id": "purchaseOrder",
    "po_number": "purchaseOrderNumber",
}
ID_OF = {"audience_id": "Audience", "order_id": "Order", "purchase_order_id": "PurchaseOrder"}


def field_name(column: str) -> str:
    if column in FIELD:
        return FIELD[column]
    head, *rest = column.split("_")
    return head + "".join(part.capitalize() for part in rest)


def serialise(column: str, value: Any) -> str | None:
    """A value as the API writes it: money with two fraction digits, ISO dates, IDs global."""
    if value is None:
        return None
    if column in ID_OF:
        return ids.encode(ID_OF[column], int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value), separators=(",", ":"))
    return str(value)


@event.listens_for(Session, "before_flush")
def _collect(session: Session, _flush_context: Any, _instances: Any) -> None:
    """Every column change the flush is about to write, before and after (first before, last after)."""
    collected: dict[Any, dict[str, list[Any]]] = session.info.setdefault(_CHANGES, {})
    for row in (*session.new, *session.dirty, *session.deleted):
        if type(row) not in NODE_TYPE:
            continue
        state = inspect(row)
        gone = row in session.deleted
        fields = collected.setdefault(row, {})
        for attr in state.mapper.column_attrs:
            column = attr.key
            if column in HIDDEN:
                continue
            attribute = state.attrs[column]
            if gone:
                before, after = attribute.loaded_value, None
            else:
                history = attribute.history
                if not history.has_changes():
                    continue
                before = history.deleted[0] if history.deleted else None
                after = history.added[0] if history.added else None
            if isinstance(after, ClauseElement) or isinstance(before, ClauseElement):
                continue  # a value the database computes: not known here
            if column in fields:
                fields[column][1] = after
            else:
                fields[column] = [before, after]


def note_change(session: AsyncSession, row: Any, field: str, before: Any, after: Any) -> None:
    """A change the ORM does not see, for the trace of `row` (field: the API's name)."""
    fields = session.info.setdefault(_CHANGES, {}).setdefault(row, {})
    fields[field] = [before, after] if field not in fields else [fields[field][0], after]


def forget(session: AsyncSession) -> None:
    """A transaction starts (again): nothing collected so far belongs to it."""
    session.info.pop(_CHANGES, None)


async def record(
    session: AsyncSession, *, actor: str, request_id: str | None, operation: str, result: Any
) -> ActivityRow | None:
    """The entry of a mutation whose work returned `result` (a row, an issued key, or the global ID
    of what it deleted): its subject and the subject's changes. Called inside its transaction."""
    await session.flush()  # the last changes reach the collector
    collected: dict[Any, dict[str, list[Any]]] = session.info.pop(_CHANGES, {})
    subject = getattr(result, "row", result)  # IssuedKey -> its row
    if isinstance(subject, str):  # a deleted row: its global ID
        decoded = ids.decode(subject)
        gone = next((r for r in collected if decoded and ids.encode(NODE_TYPE[type(r)], r.id) == subject), None)
        account_id = gone.account_id if gone is not None else None
        fields = collected.get(gone, {}) if gone is not None else {}
        subject_id, subject = subject, gone
    elif type(subject) in NODE_TYPE:
        account_id = subject.id if isinstance(subject, AccountRow) else subject.account_id
        fields = collected.get(subject, {})
        subject_id = ids.encode(NODE_TYPE[type(subject)], subject.id)
    else:
        return None
    changes = changes_of(fields)
    for row, other in collected.items():  # what it changed besides its subject (an approval: the source)
        if row is not subject and other:
            prefix = NODE_TYPE[type(row)][0].lower() + NODE_TYPE[type(row)][1:]
            changes += [{**c, "field": f"{prefix}.{c['field']}"} for c in changes_of(other)]
    entry = ActivityRow(
        account_id=account_id,
        actor=actor,
        request_id=request_id or None,
        operation=operation,
        subject_id=subject_id,
        changes=changes,
    )
    session.add(entry)
    await session.flush()
    session.info.pop(_CHANGES, None)
    return entry


def changes_of(fields: dict[str, list[Any]]) -> list[dict[str, str | None]]:
    out = []
    for column, (before, after) in fields.items():
        old, new = serialise(column, before), serialise(column, after)
        if old != new:
            out.append({"field": field_name(column), "before": old, "after": new})
    return out


async def record_sweep(session: AsyncSession, operation: str, rows: Sequence[Any]) -> None:
    """The sweeper's entries (R20: actor budgetline, no request ID), one per row it acted on,
    with the changes the ORM collected, in the sweeper's own transaction."""
    await session.flush()
    collected: dict[Any, dict[str, list[Any]]] = session.info.pop(_CHANGES, {})
    for row in rows:
        session.add(
            ActivityRow(
                account_id=row.account_id,
                actor=SWEEPER,
                request_id=None,
                operation=operation,
                subject_id=ids.encode(NODE_TYPE[type(row)], row.id),
                changes=changes_of(collected.get(row, {})),
            )
        )
    await session.flush()
    session.info.pop(_CHANGES, None)


async def of_account(ctx: Any, account_id: int, first: int, after: str | None) -> Page[Record]:
    """Account.activity: newest first."""
    return await paginate(ctx.read, ActivityRow, {"account_id": account_id}, first, after)
