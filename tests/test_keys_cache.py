"""Authentication in the steady state costs no statement (budgetline/auth.KeyCache), and is as
safe as one: a key revoked through any process is refused by every other within a second, since
the revocation's NOTIFY reaches each process's listening connection."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.helpers import Api, steady

VIEWER = "{ viewer { role } }"


async def test_a_key_revoked_through_one_process_is_refused_by_another_within_a_second(
    api: Api, live_servers: Any
) -> None:
    first, second = live_servers(2)
    world = await api.world()
    key = await api.issue_key("VIEWER", world.account, "revoked soon")
    found = await api.gql("{ accounts { id } }")
    assert found["accounts"]
    async with httpx.AsyncClient(timeout=10) as client:

        async def ask(server: Any, secret: str, query: str = VIEWER, variables: Any = None) -> httpx.Response:
            body = {"query": query, "variables": variables or {}}
            return await client.post(server.url + "/graphql", json=body, headers={"Authorization": f"Bearer {secret}"})

        for _ in range(20):  # the second process listens (started by its first request) and knows the key
            assert (await ask(second, key)).json()["data"] == {"viewer": {"role": "VIEWER"}}
            await asyncio.sleep(0.05)
        ids = await ask(first, api.team_secret, "{ accounts { id } }")
        assert ids.status_code == 200
        listed = await api.gql("""query($id: ID!) { node(id: $id) { ... on Account { id } } }""", {"id": world.account})
        assert listed["node"]
        key_id = await _key_id(api, "revoked soon")
        revoked = await ask(
            first,
            api.team_secret,
            "mutation($id: ID!) { revokeApiKey(input: {apiKeyId: $id}) { __typename } }",
            {"id": key_id},
        )
        assert revoked.json()["data"]["revokeApiKey"]["__typename"] == "ApiKey"
        since = time.monotonic()
        while (await ask(second, key)).status_code != 401:
            assert time.monotonic() - since < 1.0, "the other process still accepts the revoked key"
            await asyncio.sleep(0.02)


async def test_a_revoked_key_is_refused_at_once_by_the_process_that_revoked_it(api: Api) -> None:
    world = await api.world()
    key = await api.issue_key("VIEWER", world.account, "revoked soon")
    await steady(api)
    for _ in range(3):  # known: answered without a statement
        assert (await api.post(VIEWER, key=key)).status_code == 200
    key_id = await _key_id(api, "revoked soon")
    result = await api.mutate("revokeApiKey", {"apiKeyId": key_id}, select="... on ApiKey { revokedAt }")
    assert result["revokedAt"]
    assert (await api.post(VIEWER, key=key)).status_code == 401


async def _key_id(api: Api, name: str) -> str:
    """The ID of the key of this name (the account team reads keys by node)."""
    for number in range(1, 50):
        from resolvers import ids

        node = (
            await api.gql(
                "query($id: ID!) { node(id: $id) { ... on ApiKey { id name } } }", {"id": ids.encode("ApiKey", number)}
            )
        )["node"]
        if node and node["name"] == name:
            return str(node["id"])
    raise AssertionError(f"no key named {name}")
