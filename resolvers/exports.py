"""The ledger export for finance (API.md section 8): which entries, which columns, how each
value is written. The HTTP side (query string, streaming, status codes) is budgetline/exports.py."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from db import exports
from db.reads import Record
from resolvers import budget_sources, ids
from resolvers.context import Context
from resolvers.errors import InvalidInput, NotFound

HEADER = (
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
    "currency",  # appended after API.md section 8's columns: theirs stay, in order
)
BATCH = 1000


async def visible_source(ctx: Context, budget_source_id: str | None) -> Record:
    """The source of the export: an unknown, malformed or another account's ID is NOT_FOUND."""
    decoded = ids.decode(budget_source_id or "")
    source = None
    if decoded is not None and decoded[0] in ("Order", "PurchaseOrder"):
        source = await budget_sources.get_visible(ctx, decoded[0], decoded[1])
    if source is None:
        raise NotFound("no budget source with this budgetSourceId", "budgetSourceId")
    return source


def period(start: date | None, end: date | None) -> tuple[datetime, datetime]:
    """`from` and `to`, inclusive UTC days, as a half-open range of instants."""
    if start is not None and end is not None and start > end:
        raise InvalidInput("from must be on or before to", "from")
    low = datetime.combine(start, time.min, UTC) if start else datetime(1, 1, 1, tzinfo=UTC)
    high = (
        datetime.combine(end + timedelta(days=1), time.min, UTC)
        if end and end < date.max
        else datetime.max.replace(tzinfo=UTC)
    )
    return low, high


async def csv_chunks(
    connection: Any,
    source: Record,
    start: date | None,
    end: date | None,
    statement_timeout_ms: int,
    idle_timeout_s: int,
) -> AsyncIterator[str]:
    """RFC 4180 text (the csv module, CRLF line ends): the header, then each entry, in chunks."""
    low, high = period(start, end)
    purchase_order_id = source["id"] if source["kind"] == "PurchaseOrder" else None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    yield _drain(buffer)
    order_id = source["order_id"]
    ledger = exports.ledger(
        connection, order_id, purchase_order_id, low, high, BATCH, statement_timeout_ms, idle_timeout_s
    )
    async for rows in ledger:
        writer.writerows(row(r) for r in rows)
        yield _drain(buffer)


def row(entry: Record) -> tuple[str, ...]:
    allocation = entry["kind"] == "allocation"
    source_kind, source_pk = (
        ("PurchaseOrder", entry["purchase_order_id"])
        if entry["purchase_order_id"] is not None
        else ("Order", entry["order_id"])
    )
    return (
        ids.encode("Allocation" if allocation else "SpendReport", entry["id"]),
        entry["at"].astimezone(UTC).isoformat(),
        ids.encode("Campaign", entry["campaign_id"]),
        cell(entry["campaign_name"]),
        ids.encode(source_kind, source_pk),
        cell(entry["po_number"] or ""),
        cell(entry["order_number"]),
        entry["kind"],
        entry["reason"] or "",
        f"{entry['delta']:.2f}" if allocation else "",
        "" if allocation else entry["spend_date"].isoformat(),
        "" if allocation else f"{entry['amount']:.2f}",
        entry["actor"],
        entry["currency"],
    )


def cell(text: str) -> str:
    """A text a person typed, made safe for spreadsheets: a leading = + - @ (or tab, carriage
    return) would make Excel or Sheets run it as a formula, so it gets a leading apostrophe
    (OWASP's CSV-injection advice); amounts, dates and IDs are never text of this kind."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
