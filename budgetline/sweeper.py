"""The sweeper: periodic work, run by every server process and by `budgetline sweep` (cron).

Each run is one transaction that first takes a transaction-scoped advisory lock
(`pg_try_advisory_xact_lock`): one run at a time across all processes and hosts, the lock gone
with the transaction, and nothing held in the session, so it works through a transaction-pooling
PgBouncer too. A process that finds the lock taken skips its turn. Jobs are idempotent: a run
that fails is rolled back and the next run does its work.
"""

from __future__ import annotations

import asyncio
import logging
import random

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db import idempotency

log = logging.getLogger("budgetline.sweeper")

# The advisory lock's key: "BLSWEEP" as an integer, so no other user of advisory locks collides.
LOCK_KEY = int.from_bytes(b"BLSWEEP", "big")


async def run_once(engine: AsyncEngine) -> dict[str, int] | None:
    """One sweep; None when another process is sweeping right now."""
    async with engine.connect() as conn, conn.begin():
        if not await conn.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}):
            return None
        return {"idempotency_rows_purged": await idempotency.purge_expired(conn)}


async def run_forever(engine: AsyncEngine, interval_s: float) -> None:
    """The loop a server process runs beside its requests (cancelled at shutdown)."""
    while True:
        # Jitter, so that processes started together do not all wake at once.
        await asyncio.sleep(interval_s * random.uniform(0.8, 1.2))
        try:
            done = await run_once(engine)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed run is retried at the next turn
            log.warning("sweep failed: %s", type(exc).__name__)
            continue
        if done:
            log.info("sweep: %s", ", ".join(f"{name}={count}" for name, count in done.items()))
