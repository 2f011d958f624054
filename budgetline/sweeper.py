"""The sweeper: periodic work, run by every server process and by `budgetline sweep` (cron).

A pass holds a transaction-scoped advisory lock (`pg_try_advisory_xact_lock`) on one connection,
its guard, from start to end: one pass at a time across all processes and hosts, the lock gone
with the guard's transaction (or with its connection, when a process dies mid-pass), and nothing
held in the session, so it works through a transaction-pooling PgBouncer too (the guard pins one
server connection for the pass). A server process that finds the lock taken skips its turn;
`budgetline sweep` waits for it.

The work runs on other connections, each campaign in its own short transaction that re-checks,
under the campaign's row lock, that it is still due (resolvers/campaigns.py): a failure rolls
back that campaign only, the pass goes on, and the next pass retries it. So a pass can be killed
at any point and never does anything twice. The jobs, in order:

1. purge idempotency keys past 24 hours;
2. R13: end live campaigns whose end date is before today (UTC), endReason SCHEDULE;
3. R14: settle ended campaigns `BUDGETLINE_SETTLEMENT_DAYS` after their end (so with 0 days, a
   campaign ended in step 2 is settled in the same pass).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db import idempotency
from db.session import session_factory
from resolvers import campaigns

log = logging.getLogger("budgetline.sweeper")

# The advisory lock's key: "BLSWEEP" as an integer, so no other user of advisory locks collides.
LOCK_KEY = int.from_bytes(b"BLSWEEP", "big")
BATCH = 500  # due campaigns read per query; each is then handled in its own transaction


async def run_once(engine: AsyncEngine, settlement_days: int, *, wait: bool = False) -> dict[str, int] | None:
    """One pass; None when another process is sweeping right now (with `wait`, wait for it)."""
    async with engine.connect() as guard, guard.begin():
        while not await guard.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}):
            if not wait:
                return None
            await asyncio.sleep(0.5)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            done = {"idempotency_rows_purged": await idempotency.purge_expired(await session.connection())}

        async def due_to_end(session: AsyncSession, after: int) -> list[int]:
            return await campaigns.due_to_end(session, after, BATCH)

        async def due_to_settle(session: AsyncSession, after: int) -> list[int]:
            return await campaigns.due_to_settle(session, settlement_days, after, BATCH)

        async def settle(session: AsyncSession, pk: int) -> bool:
            return await campaigns.settle_if_due(session, pk, settlement_days)

        done["campaigns_ended"], done["end_failures"] = await _each(sessions, due_to_end, campaigns.end_if_due)
        done["campaigns_settled"], done["settle_failures"] = await _each(sessions, due_to_settle, settle)
        return done


async def _each(
    sessions: Callable[[], AsyncSession],
    due: Callable[[AsyncSession, int], Awaitable[list[int]]],
    work: Callable[[AsyncSession, int], Awaitable[bool]],
) -> tuple[int, int]:
    """Run `work` on every due campaign, each in its own transaction: (done, failed)."""
    done = failed = 0
    after = 0
    while True:
        async with sessions() as session:
            batch = await due(session, after)
            await session.rollback()
        if not batch:
            return done, failed
        for pk in batch:
            try:
                async with sessions() as session, session.begin():
                    done += await work(session, pk)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # this campaign is retried by the next pass; the rest go on
                failed += 1
                log.warning("sweep: campaign %d failed: %s", pk, type(exc).__name__)
        after = batch[-1]


async def run_forever(engine: AsyncEngine, interval_s: float, settlement_days: int) -> None:
    """The loop a server process runs beside its requests (cancelled at shutdown)."""
    while True:
        # Jitter, so that processes started together do not all wake at once.
        await asyncio.sleep(interval_s * random.uniform(0.8, 1.2))
        try:
            done = await run_once(engine, settlement_days)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed run is retried at the next turn
            log.warning("sweep failed: %s", type(exc).__name__)
            continue
        if done and any(done.values()):
            log.info("sweep: %s", ", ".join(f"{name}={count}" for name, count in done.items()))
