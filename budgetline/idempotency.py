"""`Idempotency-Key` for partner tools: a POST is performed at most once per API key and key value.

A retry gets the first response; one that arrives while the first request is still running
gets 409 IDEMPOTENCY_KEY_IN_USE at once (it holds no request slot or connection while it
waits: the client retries later); the same key with a different request body is refused. Keys
are kept 24 hours, then the sweeper purges them. A kept response never holds a secret (a new
key's `secret` is replayed as null) and is at most MAX_STORED_BYTES.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from budgetline.errors import json_error
from db import idempotency as store
from resolvers.context import Principal

HEADER = "idempotency-key"
_VALID = re.compile(r"^[\x21-\x7e]{1,255}$")
# How long a retry waits for the key's row lock before it answers 409: long enough for a short
# lock by the sweeper's purge, far shorter than any request that holds the key.
LOCK_WAIT_MS = 50
# A response larger than this is not kept for replays.
MAX_STORED_BYTES = 64 * 1024
SERVER_FAULTS = frozenset({"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"})


async def perform_once(
    engine: AsyncEngine,
    principal: Principal,
    key: str,
    request: Request,
    execute: Callable[[str], Awaitable[Response]],
) -> Response:
    if not _VALID.match(key):
        return json_error(request, 400, "Idempotency-Key must be 1 to 255 printable ASCII characters", "BAD_REQUEST")
    request_hash = hashlib.sha256(request.method.encode() + b" " + await request.body()).digest()
    # A connection of its own (from its own pool), holding the key's row lock until the
    # response is stored: a concurrent retry finds it held and is told so, and a crash releases it.
    async with engine.connect() as conn, conn.begin():
        await conn.execute(text(f"SET LOCAL lock_timeout = {LOCK_WAIT_MS}"))
        try:
            stored = await store.claim(conn, principal.api_key_id, key, request_hash)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock timeout: the key is held
                raise
            return json_error(
                request,
                409,
                "a request with this Idempotency-Key is still running; retry later",
                "IDEMPOTENCY_KEY_IN_USE",
            )
        if stored is not None and stored.request_hash != request_hash:
            return json_error(
                request,
                422,
                "this Idempotency-Key was used with a different request; use a new key",
                "IDEMPOTENCY_KEY_REUSED",
            )
        if stored is not None and stored.status_code is not None:
            replay = Response(stored.response_body or b"", stored.status_code, media_type=stored.content_type)
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        if await store.effect_committed(conn, principal.api_key_id, key):
            # The first attempt committed its effect but died before storing its response.
            response: Response = json_error(
                request,
                409,
                "this request was already performed but its response was lost; read the current state instead",
                "IDEMPOTENCY_RESPONSE_LOST",
            )
        else:
            response = await execute(key)
        stored_body = redacted(bytes(response.body), request)
        # A fault or an outage is not the request's answer: a retry runs it again (nothing was
        # written: the transaction rolled back) instead of replaying "retry" for 24 hours.
        fault = response.status_code >= 500 or not SERVER_FAULTS.isdisjoint(request.state.codes)
        if len(stored_body) <= MAX_STORED_BYTES and not fault:
            await store.store_response(
                conn,
                principal.api_key_id,
                key,
                response.status_code,
                response.headers.get("content-type", ""),
                stored_body,
            )
        # else: nothing is kept; a retry is told the response was lost (or runs again if the
        # first attempt changed nothing).
    return response


def redacted(body: bytes, request: Request) -> bytes:
    """The response as it may be kept: a secret it shows (a new API key's) becomes null, so a
    replay answers `secret: null` and the secret exists nowhere but in the first response."""
    context = getattr(request.state, "context", None)
    for secret in context.secrets_shown if context is not None else ():
        body = body.replace(b'"' + secret.encode() + b'"', b"null")
    return body
