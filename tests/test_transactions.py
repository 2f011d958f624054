"""Context.transact: all or nothing, and bounded retries of deadlocks and serialization failures."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from db.session import session_factory
from resolvers.context import MAX_ATTEMPTS, Context, Principal
from tests.helpers import Api

TEAM = Principal(api_key_id=0, name="test", role="ACCOUNT_TEAM", account_id=None)


class FakeDriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def failure(sqlstate: str) -> DBAPIError:
    return DBAPIError("UPDATE ...", None, FakeDriverError(sqlstate))


async def test_deadlocks_are_retried_and_the_failed_attempt_leaves_nothing(app: Any) -> None:
    attempts: list[int] = []

    async def work(session: AsyncSession) -> int:
        await session.execute(text("INSERT INTO accounts (name) VALUES ('attempt')"))
        attempts.append(1)
        if len(attempts) < 3:
            raise failure("40P01")
        return int(await session.scalar(text("SELECT count(*) FROM accounts")) or 0)

    async with session_factory(app.state.engine)() as session:
        assert await Context(session=session, principal=TEAM).transact(work) == 1
    assert len(attempts) == 3


async def test_retries_are_bounded(app: Any) -> None:
    attempts: list[int] = []

    async def work(session: AsyncSession) -> None:
        attempts.append(1)
        raise failure("40001")

    async with session_factory(app.state.engine)() as session:
        with pytest.raises(DBAPIError):
            await Context(session=session, principal=TEAM).transact(work)
    assert len(attempts) == MAX_ATTEMPTS


async def test_other_database_errors_are_not_retried(app: Any) -> None:
    attempts: list[int] = []

    async def work(session: AsyncSession) -> None:
        attempts.append(1)
        raise failure("23514")

    async with session_factory(app.state.engine)() as session:
        with pytest.raises(DBAPIError):
            await Context(session=session, principal=TEAM).transact(work)
    assert len(attempts) == 1


async def test_reads_and_loaders_inside_a_transaction_use_it_instead_of_waiting_forever(app: Any) -> None:
    """transact holds the session's lock for its whole unit: a DataLoader, read() or driver()
    used inside it once waited for that lock for ever. They now run in its transaction."""
    async with session_factory(app.state.engine)() as session:
        ctx = Context(session=session, principal=TEAM)

        async def work(session: AsyncSession) -> tuple[Any, ...]:
            pk = await session.scalar(text("INSERT INTO accounts (name) VALUES ('inside') RETURNING id"))
            loaded = await ctx.loaders.account.load(int(pk or 0))  # a batch task of its own
            counted = await ctx.read(lambda conn: conn.fetchval("SELECT count(*) FROM accounts"))
            async with ctx.driver() as driver:
                named = await driver.fetchval("SELECT name FROM accounts WHERE id = $1", pk)
            return loaded["name"] if loaded else None, counted, named

        assert await asyncio.wait_for(ctx.transact(work), 10) == ("inside", 1, "inside")
        async with ctx.driver() as after:  # and the lock is free again afterwards
            assert await after.fetchval("SELECT count(*) FROM accounts") == 1


async def test_a_read_cut_short_by_a_failing_sibling_does_not_lose_the_connection(
    app: Any, api: Api, client: httpx.AsyncClient
) -> None:
    """graphql-core cancels the siblings of a field whose error nulls their parent. A read those
    siblings had sent runs to its end anyway (Context.read), and the request waits for it before
    its connection goes back: cut short, it would leave the connection mid-protocol, and a later
    request would get it closed (503)."""
    world = await api.world()
    for n in range(30):
        await api.create_po(world.order, f"PO-{n}", "1.00")
    failing = """query($id: ID!) { account(id: $id) { purchaseOrders { id displayName } audiences { name }
      campaigns(first: 1000) { totalCount } } }"""
    plain = "query($id: ID!) { account(id: $id) { purchaseOrders { id } } }"
    headers = {"Authorization": f"Bearer {world.viewer}"}
    await client.post("/graphql", json={"query": plain, "variables": {"id": world.account}}, headers=headers)
    connects: list[int] = []
    event.listen(app.state.engine.sync_engine, "connect", lambda *_: connects.append(1))
    for _ in range(20):
        answer = await client.post(
            "/graphql", json={"query": failing, "variables": {"id": world.account}}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"] == {"account": None}
        assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        again = await client.post(
            "/graphql", json={"query": plain, "variables": {"id": world.account}}, headers=headers
        )
        assert again.status_code == 200, again.text
        assert len(again.json()["data"]["account"]["purchaseOrders"]) == 31
    assert connects == []  # every request had the pooled connection back, intact
