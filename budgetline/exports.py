"""`GET /exports/ledger.csv?budgetSourceId=<id>[&from=<date>&to=<date>]` (API.md section 8): the
HTTP side of the ledger export. The same key and tenant rules as /graphql: no key is 401, an
unknown or another account's source is 404, a missing source or a malformed date is 400. The
body streams from a server-side cursor (resolvers/exports.py, db/exports.py): memory stays flat
whatever the size.

At most EXPORTS_AT_ONCE exports run per process (each holds a database connection while it
streams); one more is told 503 and when to retry. The export's transaction is SQLAlchemy's, so
however the response ends (finished, client gone, cancelled, a HEAD) it is rolled back and the
connection goes back to the pool clean; a client that stops reading for IDLE_TIMEOUT_S loses its export."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from budgetline import observability
from budgetline.auth import bearer_secret
from budgetline.errors import BUSY_MESSAGE, json_error, unauthenticated
from db.reads import Record
from db.session import database_busy, database_unavailable
from resolvers import ids
from resolvers.api_keys import authenticate
from resolvers.context import Context
from resolvers.errors import UserError
from resolvers.exports import csv_chunks, period, visible_source

log = logging.getLogger("budgetline.exports")
access_log = logging.getLogger("budgetline.request")

EXPORTS_AT_ONCE = 4
IDLE_TIMEOUT_S = 60
PARAMETERS = frozenset({"budgetSourceId", "from", "to"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Released(StreamingResponse):
    """A streaming response that gives its connection and export slot back however it ends (a
    HEAD request, a client gone before or during the body, an error): Starlette may never
    iterate the body at all, so the body cannot be the one to clean up."""

    def __init__(self, cleanup: Callable[[], Awaitable[None]], *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await asyncio.shield(self.cleanup())


class LedgerExport:
    def __init__(
        self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], statement_timeout_ms: int
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.statement_timeout_ms = statement_timeout_ms
        self.running = asyncio.Semaphore(EXPORTS_AT_ONCE)

    async def endpoint(self, request: Request) -> Response:
        started = time.perf_counter()
        request.state.request_id = observability.request_id(request.headers.get("x-request-id", ""))
        request.state.codes = []
        response = await self._respond(request)
        response.headers["X-Request-Id"] = request.state.request_id
        access_log.info(
            "GET ledger.csv %s",
            response.status_code,
            extra={
                "request_id": request.state.request_id,
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "operation": "export:ledger.csv",
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "codes": request.state.codes,
            },
        )
        return response

    async def _respond(self, request: Request) -> Response:
        async with self.sessions() as session:
            secret = bearer_secret(request)
            principal = await authenticate(session, secret) if secret else None
            if principal is None:
                return unauthenticated(request)
            problem = _check_parameters(request)
            if problem is not None:
                return json_error(request, 400, problem, "BAD_REQUEST")
            start, end = _date(request, "from"), _date(request, "to")
            try:
                period(start, end)
            except UserError as exc:
                return json_error(request, 400, exc.message, "BAD_REQUEST")
            ctx = Context(session=session, principal=principal, request_id=request.state.request_id)
            try:
                source = await visible_source(ctx, request.query_params["budgetSourceId"])
            except UserError as exc:
                return json_error(request, 404, exc.message, exc.code)
            finally:
                await ctx.end()
        if self.running.locked():
            return json_error(
                request,
                503,
                f"{EXPORTS_AT_ONCE} exports are running: retry shortly",
                "SERVICE_UNAVAILABLE",
                **{"Retry-After": "5"},
            )
        await self.running.acquire()  # free (checked above): no wait, so no other request in between
        try:
            # Taken now, so that a database that cannot serve is a 503, not a broken 200.
            connection = await self.engine.connect()
            transaction = await connection.begin()
        except Exception as exc:
            self.running.release()
            if not (database_busy(exc) or database_unavailable(exc)):
                raise
            return json_error(request, 503, BUSY_MESSAGE, "SERVICE_UNAVAILABLE", **{"Retry-After": "5"})

        async def cleanup() -> None:
            try:
                if transaction.is_active:
                    await transaction.rollback()
                await connection.close()
            except Exception:
                log.warning("discarding an export's connection left in a broken state")
                await connection.invalidate()
            finally:
                self.running.release()

        headers = {
            "Content-Disposition": f'attachment; filename="ledger-{ids.encode(source["kind"], source["id"])}.csv"',
            "Cache-Control": "private, no-store",
        }
        return Released(
            cleanup,
            self._stream(connection, source, start, end, request.state.request_id),
            media_type="text/csv; charset=utf-8",
            headers=headers,
        )

    async def _stream(
        self, connection: AsyncConnection, source: Record, start: date | None, end: date | None, request_id: str
    ) -> AsyncIterator[bytes]:
        """The body, on the connection and transaction the response's cleanup ends."""
        try:
            async for chunk in csv_chunks(connection, source, start, end, self.statement_timeout_ms, IDLE_TIMEOUT_S):
                yield chunk.encode()
        except Exception:
            log.exception("ledger export failed mid-stream (request %s)", request_id)
            raise


def _check_parameters(request: Request) -> str | None:
    """What is wrong with the query string, if anything (each parameter once, dates YYYY-MM-DD)."""
    names = [name for name, _ in request.query_params.multi_items()]
    unknown = sorted(set(names) - PARAMETERS)
    if unknown:
        return f"unknown query parameter {unknown[0][:40]!r}: use budgetSourceId, from, to"
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        return f"{repeated[0]} is given more than once"
    if not request.query_params.get("budgetSourceId"):
        return "budgetSourceId is required: the Order or PurchaseOrder ID whose ledger to export"
    for name in ("from", "to"):
        value = request.query_params.get(name)
        if value and not (_DATE.match(value) and _valid(value)):
            return f"{name} must be a date like 2026-11-27, not {value[:40]!r}"
    return None


def _valid(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _date(request: Request, name: str) -> date | None:
    value = request.query_params.get(name)
    return date.fromisoformat(value) if value else None
