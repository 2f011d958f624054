"""Idempotency-Key: a partner tool's retries are performed at most once."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from resolvers import ids
from tests.helpers import Api, World, held, snapshot


@pytest.fixture
async def world(api: Api) -> World:
    return await api.world()


CREATE = """mutation($input: CreateCampaignDraftInput!) { createCampaignDraft(input: $input) {
  __typename ... on Campaign { id version } ... on UserError { code message field } } }"""


async def send(client: httpx.AsyncClient, key: str, idem: str, variables: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": CREATE, "variables": variables},
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idem},
    )


async def test_a_retry_gets_the_first_response_and_performs_nothing(
    api: Api, world: World, db: asyncpg.Connection
) -> None:
    variables = {"input": {"accountId": world.account, "name": "Retry me"}}
    first = await send(api.client, world.manager, "req-1", variables)
    assert first.json()["data"]["createCampaignDraft"]["__typename"] == "Campaign"
    second = await send(api.client, world.manager, "req-1", variables)
    assert second.content == first.content and second.status_code == first.status_code
    assert second.headers["idempotent-replayed"] == "true"
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 1
    third = await send(api.client, world.manager, "req-2", variables)
    assert third.json()["data"]["createCampaignDraft"]["id"] != first.json()["data"]["createCampaignDraft"]["id"]


async def test_the_same_key_with_another_request_is_refused(api: Api, world: World, db: asyncpg.Connection) -> None:
    await send(api.client, world.manager, "req-1", {"input": {"accountId": world.account, "name": "A"}})
    before = await snapshot(db)
    other = await send(api.client, world.manager, "req-1", {"input": {"accountId": world.account, "name": "B"}})
    assert other.status_code == 422
    assert other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await snapshot(db) == before


async def test_keys_belong_to_one_api_key(api: Api, world: World, db: asyncpg.Connection) -> None:
    other_manager = await api.issue_key("CAMPAIGN_MANAGER", world.account, "second tool")
    variables = {"input": {"accountId": world.account, "name": "Same key"}}
    await send(api.client, world.manager, "shared", variables)
    response = await send(api.client, other_manager, "shared", variables)
    assert "idempotent-replayed" not in response.headers
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 2


async def test_user_errors_are_replayed_too(api: Api, world: World, db: asyncpg.Connection) -> None:
    variables = {"input": {"accountId": world.account, "name": "  "}}
    first = await send(api.client, world.manager, "bad", variables)
    assert first.json()["data"]["createCampaignDraft"]["code"] == "INVALID_INPUT"
    again = await send(api.client, world.manager, "bad", variables)
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"


async def test_a_lost_response_is_never_performed_again(api: Api, world: World, db: asyncpg.Connection) -> None:
    """The first attempt committed its effect and died before storing its response."""
    key_id = await db.fetchval("SELECT id FROM api_keys WHERE name = 'manager'")
    await db.execute("INSERT INTO idempotency_effects (api_key_id, key) VALUES ($1, 'lost')", key_id)
    before = await snapshot(db)
    response = await send(api.client, world.manager, "lost", {"input": {"accountId": world.account, "name": "X"}})
    assert response.status_code == 409
    assert response.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_RESPONSE_LOST"
    assert (await snapshot(db))["campaigns"] == before["campaigns"]


async def test_an_invalid_key_is_a_bad_request(api: Api, world: World) -> None:
    response = await send(api.client, world.manager, "x" * 256, {"input": {"accountId": world.account, "name": "X"}})
    assert response.status_code == 400


async def test_storm_the_same_key_twenty_times_at_once_has_one_effect(
    api: Api, world: World, db: asyncpg.Connection
) -> None:
    campaign = await world.at_review("100.00")
    query = """mutation($id: ID!) { publishCampaign(input: {campaignId: $id}) { __typename
      ... on Campaign { version } ... on UserError { code } } }"""
    headers = {"Authorization": f"Bearer {world.manager}", "Idempotency-Key": "publish-once"}
    responses = await asyncio.gather(
        *(
            api.client.post("/graphql", json={"query": query, "variables": {"id": campaign}}, headers=headers)
            for _ in range(20)
        )
    )
    # One performs; each other either replays its response (it finished first) or is told the
    # key is in use (it was still running), never a second effect.
    busy = [r for r in responses if r.status_code == 409]
    assert all(r.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_USE" for r in busy)
    answered = [r for r in responses if r.status_code == 200]
    assert len({r.content for r in answered}) == 1 and len(answered) + len(busy) == 20
    assert answered[0].json()["data"]["publishCampaign"]["__typename"] == "Campaign"
    assert sum(1 for r in answered if r.headers.get("idempotent-replayed") != "true") == 1
    pk = (ids.decode(campaign) or ("", 0))[1]
    assert await db.fetchval("SELECT count(*) FROM allocations WHERE campaign_id = $1", pk) == 1
    # a retry once the first is done gets its response
    again = await api.client.post("/graphql", json={"query": query, "variables": {"id": campaign}}, headers=headers)
    assert again.content == answered[0].content and again.headers["idempotent-replayed"] == "true"


async def test_a_retry_while_the_first_runs_is_told_at_once_and_holds_nothing(
    api: Api, world: World, db: asyncpg.Connection, database_url: str
) -> None:
    """The key is held (as the first request holds it until its response is stored): the retry
    answers 409 at once instead of waiting with a request slot and a pooled connection."""
    pk = (ids.decode(world.account) or ("", 0))[1]
    key_id = await db.fetchval("SELECT id FROM api_keys WHERE account_id = $1 AND role = 'CAMPAIGN_MANAGER'", pk)
    insert = "INSERT INTO idempotency_keys (api_key_id, key, request_hash) VALUES ($1, 'held', 'x')"
    async with held(database_url, insert, key_id):
        before = await snapshot(db)
        response = await asyncio.wait_for(
            send(api.client, world.manager, "held", {"input": {"accountId": world.account, "name": "Held"}}), 10
        )
        assert response.status_code == 409
        assert response.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_USE"
        assert await snapshot(db) == before


async def test_concurrent_replays_of_a_finished_request_all_get_its_response(api: Api, world: World) -> None:
    """A finished request's row is read without a lock: forty replays at once do not queue on
    each other, so none is told the key is in use."""
    for round in range(3):
        variables = {"input": {"accountId": world.account, "name": f"Replayed {round}"}}
        first = await send(api.client, world.manager, f"replay-{round}", variables)
        replays = await asyncio.gather(
            *(send(api.client, world.manager, f"replay-{round}", variables) for _ in range(40))
        )
        assert {(r.status_code, r.headers.get("idempotent-replayed")) for r in replays} == {(200, "true")}
        assert {r.content for r in replays} == {first.content}
