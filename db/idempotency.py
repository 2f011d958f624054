"""Storage of idempotency keys (the HTTP side is budgetline/idempotency.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

RETENTION = "24 hours"


@dataclass(frozen=True)
class StoredRequest:
    request_hash: bytes
    status_code: int | None
    content_type: str | None
    response_body: bytes | None


async def claim(conn: AsyncConnection, api_key_id: int, key: str, request_hash: bytes) -> StoredRequest | None:
    """Insert the key (None: this request owns it) or return the row of the request that did.

    Both wait (up to the caller's lock_timeout) while another transaction holds the same key:
    the first request keeps its transaction open until its response is stored.
    """
    # An expired row of this key is gone for good (the sweeper purges the others).
    await conn.execute(
        text(
            "DELETE FROM idempotency_keys WHERE api_key_id = :k AND key = :key "
            f"AND created_at < now() - interval '{RETENTION}'"
        ),
        {"k": api_key_id, "key": key},
    )
    inserted = await conn.scalar(
        text(
            "INSERT INTO idempotency_keys (api_key_id, key, request_hash) VALUES (:k, :key, :h) "
            "ON CONFLICT DO NOTHING RETURNING 1"
        ),
        {"k": api_key_id, "key": key, "h": request_hash},
    )
    if inserted:
        return None
    # A finished request's row is read without a lock: concurrent replays of it must not queue
    # on each other (with the caller's short lock_timeout, they would be told "in use").
    stored = await _stored(conn, api_key_id, key, lock=False)
    if stored.status_code is not None:
        return stored
    return await _stored(conn, api_key_id, key, lock=True)


async def _stored(conn: AsyncConnection, api_key_id: int, key: str, *, lock: bool) -> StoredRequest:
    row = (
        await conn.execute(
            text(
                "SELECT request_hash, status_code, content_type, response_body FROM idempotency_keys "
                "WHERE api_key_id = :k AND key = :key" + (" FOR UPDATE" if lock else "")
            ),
            {"k": api_key_id, "key": key},
        )
    ).one()
    return StoredRequest(*row)


async def effect_committed(conn: AsyncConnection, api_key_id: int, key: str) -> bool:
    found = await conn.scalar(
        text(
            "SELECT 1 FROM idempotency_effects WHERE api_key_id = :k AND key = :key "
            f"AND created_at >= now() - interval '{RETENTION}'"
        ),
        {"k": api_key_id, "key": key},
    )
    return found is not None


async def store_response(
    conn: AsyncConnection, api_key_id: int, key: str, status_code: int, content_type: str, body: bytes
) -> None:
    await conn.execute(
        text(
            "UPDATE idempotency_keys SET status_code = :s, content_type = :c, response_body = :b, "
            "completed_at = now() WHERE api_key_id = :k AND key = :key"
        ),
        {"s": status_code, "c": content_type, "b": body, "k": api_key_id, "key": key},
    )


async def mark_effect(session: AsyncSession, api_key_id: int, key: str) -> None:
    """Called inside a mutation's transaction: the effect and this mark commit together."""
    await session.execute(
        text(
            "INSERT INTO idempotency_effects (api_key_id, key) VALUES (:k, :key) "
            "ON CONFLICT (api_key_id, key) DO UPDATE SET created_at = now()"
        ),
        {"k": api_key_id, "key": key},
    )


async def purge_expired(conn: AsyncConnection) -> int:
    """The sweeper's job: every key and effect past its retention, whoever sent it."""
    purged = 0
    for table in ("idempotency_keys", "idempotency_effects"):
        result = await conn.execute(text(f"DELETE FROM {table} WHERE created_at < now() - interval '{RETENTION}'"))
        purged += result.rowcount
    return purged
