"""Behind a transaction pooler (BUDGETLINE_DB_POOLER=transaction): nothing outlives its
transaction on a server connection, and the statement timeout still applies.

`.ci/run` runs the whole suite a third time with PgBouncer in transaction mode in front of the
test server (tests/pooler.py); these tests hold in every pass. That the statement timeout still
cuts a slow statement through the pooler is tests/test_hardening.py's statement-timeout test."""

from __future__ import annotations

import os

from sqlalchemy import text

from db.session import create_engine
from tests import pooler

SESSION_TIMEOUT = "SELECT reset_val FROM pg_settings WHERE name = 'statement_timeout'"


async def test_pooler_mode_keeps_nothing_past_a_transaction(database_url: str) -> None:
    """On a direct connection, what the pooler mode leaves on a server connection: no prepared
    statement, and a statement timeout set for the transaction only."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0, statement_timeout_ms=1234, pooler=True)
    try:
        async with engine.connect() as conn:
            for _ in range(3):
                async with conn.begin():
                    assert await conn.scalar(text("SHOW statement_timeout")) == "1234ms"
                    await conn.execute(text("SELECT id FROM accounts WHERE id = :i"), {"i": 1})
            # The connection's own value (what the next client of the pooler would inherit) is untouched.
            assert await conn.scalar(text(SESSION_TIMEOUT)) == "0"
            assert await conn.scalar(text("SELECT count(*) FROM pg_prepared_statements")) == 0  # none named
    finally:
        await engine.dispose()
    direct = create_engine(database_url, pool_size=1, max_overflow=0, statement_timeout_ms=1234)
    try:
        async with direct.connect() as conn:
            assert await conn.scalar(text(SESSION_TIMEOUT)) == "1234"  # set once, for the connection
    finally:
        await direct.dispose()


def test_the_pooler_pass_and_only_it_has_its_pooler(database_url: str) -> None:
    if os.environ.get("BUDGETLINE_TEST_POOLER") == "pgbouncer":
        assert pooler.ACTIVE is not None and pooler.ACTIVE.process.poll() is None
    else:
        assert pooler.ACTIVE is None
