"""`GET /exports/ledger.csv?budgetSourceId=<id>[&from=<date>&to=<date>]` (API.md section 8): the
HTTP side of the ledger export. The same key and tenant rules as /graphql: no key is 401, an
unknown or another account's source is 404, a malformed date is 400. The body streams from a
server-side cursor (resolvers/exports.py, db/exports.py): memory stays flat whatever the size.
At most EXPORTS_AT_ONCE exports run per process (each holds a database connection while it
streams); one more is told 503 and when to retry."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from budgetline.auth import bearer_secret
from budgetline.errors import json_error
from resolvers.api_keys import authenticate
from resolvers.context import Context
from resolvers.errors import UserError
from resolvers.exports import csv_chunks, period, visible_source

log = logging.getLogger("budgetline.exports")

EXPORTS_AT_ONCE = 4
PARAMETERS = frozenset({"budgetSourceId", "from", "to"})


class LedgerExport:
    def __init__(
        self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], statement_timeout_ms: int
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.statement_timeout_ms = statement_timeout_ms
        self.running = asyncio.Semaphore(EXPORTS_AT_ONCE)

    async def endpoint(self, request: Request) -> Response:
        request.state.request_id = uuid.uuid4().hex
        request.state.codes = []
        response = await self._respond(request)
        response.headers["X-Request-Id"] = request.state.request_id
        return response

    async def _respond(self, request: Request) -> Response:
        unknown = sorted(set(request.query_params) - PARAMETERS)
        if unknown:
            return json_error(
                request, 400, f"unknown query parameter {unknown[0]!r}: use budgetSourceId, from, to", "BAD_REQUEST"
            )
        try:
            start, end = (_date(request, name) for name in ("from", "to"))
            period(start, end)
        except ValueError as exc:
            return json_error(request, 400, str(exc), "BAD_REQUEST")
        except UserError as exc:
            return json_error(request, 400, exc.message, "BAD_REQUEST")
        async with self.sessions() as session:
            secret = bearer_secret(request)
            principal = await authenticate(session, secret) if secret else None
            if principal is None:
                return json_error(
                    request,
                    401,
                    "a valid API key is required: send Authorization: Bearer <secret>",
                    "UNAUTHENTICATED",
                    **{"WWW-Authenticate": "Bearer"},
                )
            ctx = Context(session=session, principal=principal, request_id=request.state.request_id)
            try:
                source = await visible_source(ctx, request.query_params.get("budgetSourceId"))
            except UserError as exc:
                return json_error(request, 404, exc.message, exc.code)
        if self.running.locked():
            return json_error(
                request,
                503,
                f"{EXPORTS_AT_ONCE} exports are running: retry shortly",
                "SERVICE_UNAVAILABLE",
                **{"Retry-After": "5"},
            )
        filename = f"ledger-{request.query_params['budgetSourceId']}.csv"
        return StreamingResponse(
            self._stream(source, start, end, request.state.request_id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"},
        )

    async def _stream(
        self, source: object, start: date | None, end: date | None, request_id: str
    ) -> AsyncIterator[bytes]:
        try:
            async with self.running, self.engine.connect() as connection:
                driver = (await connection.get_raw_connection()).driver_connection
                async for chunk in csv_chunks(driver, source, start, end, self.statement_timeout_ms):  # type: ignore[arg-type]
                    yield chunk.encode()
        except Exception:
            log.exception("ledger export failed mid-stream (request %s)", request_id)
            raise


def _date(request: Request, name: str) -> date | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date like 2026-11-27, not {value[:40]!r}") from None
