"""Behind a transaction pooler (BUDGETLINE_DB_POOLER=transaction): nothing outlives its
transaction on a server connection, and the statement timeout still applies.

`.ci/run` runs the whole suite a third time with PgBouncer in transaction mode in front of the
test server (tests/pooler.py); these tests hold in every pass and check the pooler pass really
goes through PgBouncer."""

from __future__ import annotations

import os
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from db.session import create_engine
from tests import pooler
from tests.conftest import plain_url
from tests.helpers import Api, World

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


async def test_a_slow_statement_is_cut_through_whatever_stands_in_between(
    api: Api, make_client: Any, database_url: str
) -> None:
    world: World = await api.world()
    campaign = (await world.draft())["id"]
    client = await make_client(statement_timeout_ms=300)
    engine = client._transport.app.state.engine  # type: ignore[attr-defined]
    if pooler.ACTIVE is not None:  # the pooler pass: the app really talks to PgBouncer
        assert engine.url.port == pooler.ACTIVE.port
    holder = await asyncpg.connect(plain_url(database_url))
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM campaigns FOR UPDATE")
            response = await client.post(
                "/graphql",
                json={
                    "query": "mutation($i: UpdateCampaignInput!) { updateCampaign(input: $i) { __typename } }",
                    "variables": {"i": {"campaignId": campaign, "name": "Renamed"}},
                },
                headers={"Authorization": f"Bearer {world.manager}"},
            )
    finally:
        await holder.close()
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE" and "retry" in error["message"]


@pytest.mark.skipif(os.environ.get("BUDGETLINE_TEST_POOLER") != "pgbouncer", reason="the PgBouncer pass only")
def test_the_pooler_pass_has_its_pooler() -> None:
    assert pooler.ACTIVE is not None and pooler.ACTIVE.process.poll() is None
