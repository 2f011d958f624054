"""The sweeper: periodic work, run by every server process and by `budgetline sweep` (cron).

A pass holds a transaction-scoped advisory lock (`pg_try_advisory_xact_lock`) on one connection,
its guard, from start to end: one pass at a time across all processes and hosts, the lock gone
with the guard's transaction (or with its connection, when a process dies mid-pass), and nothing
held in the session, so it works through a transaction-pooling PgBouncer too (the guard pins one
server connection for the pass). A server process that finds the lock taken skips its turn;
`budgetline sweep` waits for it.

The work runs on another connection, in short transactions of at most GROUP campaigns of one
budget source, each re-checking under the campaigns' row locks that they are still due
(resolvers/campaigns.py). A group that fails is rolled back and redone one campaign per
transaction, so a failure stays with its campaign, the pass goes on, and the next pass retries
it. A pass can be killed at any point and never does anything twice. The jobs, in order:

1. purge idempotency keys past 24 hours;
2. R13: end live campaigns whose end date is before today (UTC), endReason SCHEDULE;
3. R14: settle ended campaigns `BUDGETLINE_SETTLEMENT_DAYS` after their end (so with 0 days, a
   campaign ended in step 2 is settled in the same pass);
4. R16: raise EXPIRING_UNUSED_BUDGET on selectable sources that end soon with money unallocated
   (once per source and term: a unique index makes a second pass, or a concurrent one, a no-op).
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
from resolvers import alerts, campaigns

log = logging.getLogger("budgetline.sweeper")

# The advisory lock's key: "BLSWEEP" as an integer, so no other user of advisory locks collides.
LOCK_KEY = int.from_bytes(b"BLSWEEP", "big")
BATCH = 500  # due campaigns read per query
GROUP = 50  # campaigns of one source per transaction


async def run_once(engine: AsyncEngine, settlement_days: int, *, wait: bool = False) -> dict[str, int] | None:
    """One pass; None when another process is sweeping right now (with `wait`, wait for it)."""
    async with engine.connect() as guard, guard.begin():
        while not await guard.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}):
            if not wait:
                return None
            await asyncio.sleep(0.5)
        # The lock's result came back through an extended-protocol portal, whose snapshot stays
        # registered until the next statement: a pass-long xmin that kept every row version the
        # pass created from being pruned (a pass slowed down with its own length). A statement
        # in the simple protocol releases it; the guard then holds a lock and no snapshot.
        driver = (await guard.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.execute("SELECT 1")
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            done = {"idempotency_rows_purged": await idempotency.purge_expired(await session.connection())}

        async def due_to_end(session: AsyncSession, after: int) -> list[campaigns.Due]:
            return await campaigns.due_to_end(session, after, BATCH)

        async def due_to_settle(session: AsyncSession, after: int) -> list[campaigns.Due]:
            return await campaigns.due_to_settle(session, settlement_days, after, BATCH)

        async def settle(session: AsyncSession, ids: list[int]) -> int:
            return await campaigns.settle_due(session, ids, settlement_days)

        done["campaigns_ended"], done["end_failures"] = await _each(sessions, due_to_end, campaigns.end_due)
        done["campaigns_settled"], done["settle_failures"] = await _each(sessions, due_to_settle, settle)
        async with sessions() as session, session.begin():
            done["expiry_alerts_raised"] = await alerts.raise_expiring(session)
        return done


async def _each(
    sessions: Callable[[], AsyncSession],
    due: Callable[[AsyncSession, int], Awaitable[list[campaigns.Due]]],
    work: Callable[[AsyncSession, list[int]], Awaitable[int]],
) -> tuple[int, int]:
    """Run `work` over every due campaign: up to GROUP campaigns of one source per transaction;
    a group that fails is redone one campaign per transaction, so a failure stays with its
    campaign (which the next pass retries). (campaigns done, campaigns failed)."""
    done = failed = 0
    after = 0
    async with sessions() as session:  # one session (and connection) for the whole job
        while batch := await _read(session, due, after):
            for group in _groups(batch):
                try:
                    done += await _run(session, work, group)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    for pk in group:
                        try:
                            done += await _run(session, work, [pk])
                        except asyncio.CancelledError:
                            raise
                        except Exception as exc:
                            failed += 1
                            log.warning("sweep: campaign %d failed: %s", pk, type(exc).__name__)
            after = batch[-1].id
    return done, failed


async def _read(
    session: AsyncSession, due: Callable[[AsyncSession, int], Awaitable[list[campaigns.Due]]], after: int
) -> list[campaigns.Due]:
    async with session.begin():
        return await due(session, after)


async def _run(session: AsyncSession, work: Callable[[AsyncSession, list[int]], Awaitable[int]], ids: list[int]) -> int:
    try:
        async with session.begin():
            # Not waiting for the WAL flush: a commit lost to a crash is redone by the next pass
            # (every job re-checks under the row locks), and no client waits on it.
            await session.execute(text("SET LOCAL synchronous_commit = off"))
            return await work(session, ids)
    finally:
        session.expunge_all()


def _groups(batch: list[campaigns.Due]) -> list[list[int]]:
    """The batch's campaigns by source, GROUP at most per group."""
    by_source: dict[tuple[int | None, int | None], list[int]] = {}
    for item in batch:
        by_source.setdefault(item.source, []).append(item.id)
    return [ids[i : i + GROUP] for ids in by_source.values() for i in range(0, len(ids), GROUP)]


async def run_forever(engine: AsyncEngine, interval_s: float, settlement_days: int) -> None:
    """The loop a server process runs beside its requests (cancelled at shutdown)."""
    while True:
        # Jitter, so that processes started together do not all wake at once; never longer than
        # the interval, so that a campaign due at 00:00 UTC ends within it (R13), pass time aside.
        await asyncio.sleep(interval_s * random.uniform(0.5, 1.0))
        try:
            done = await run_once(engine, settlement_days)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed run is retried at the next turn
            log.warning("sweep failed: %s", type(exc).__name__)
            continue
        if done and any(done.values()):
            log.info("sweep: %s", ", ".join(f"{name}={count}" for name, count in done.items()))
