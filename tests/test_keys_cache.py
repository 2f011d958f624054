"""Authentication in the steady state costs no statement (budgetline/auth.KeyCache), and is as
safe as one: a key revoked through any process is refused by every other within a second, since
the revocation's NOTIFY reaches each process's listening connection."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from budgetline import events
from budgetline.app import create_app
from budgetline.settings import Settings
from resolvers.api_keys import hash_secret
from tests.conftest import close_app
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


class Partition:
    """A TCP proxy to PostgreSQL that can be cut without a word: after `cut()` its sockets stay
    open and nothing passes either way, as when a network partition drops packets."""

    def __init__(self, database_url: str) -> None:
        self.url = make_url(database_url)
        socket_dir = self.url.query.get("host")  # the embedded server listens on a Unix socket
        self.unix = f"{socket_dir}/.s.PGSQL.{self.url.port or 5432}" if isinstance(socket_dir, str) else None
        self.open = True
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        """The URL of the database through the proxy."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = int(self.server.sockets[0].getsockname()[1])
        through = self.url.difference_update_query(["host"]).set(host="127.0.0.1", port=port)
        return through.render_as_string(hide_password=False)

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.unix is not None:
            return await asyncio.open_unix_connection(self.unix)
        return await asyncio.open_connection(self.url.host or "127.0.0.1", self.url.port or 5432)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await self._upstream()
        self.writers += [writer, upstream_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                if self.open:
                    sink.write(data)
                    await sink.drain()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True)

    def cut(self) -> None:
        self.open = False

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()


async def test_a_listening_connection_cut_without_a_word_stops_the_cache_at_once(
    api: Api, database_url: str, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The revocation's NOTIFY cannot reach a process whose listening connection was cut; its
    heartbeat finds that out within seconds, and from then on every key is looked up."""
    monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setattr(events, "HEARTBEAT_TIMEOUT_SECONDS", 0.3)
    partition = Partition(database_url)
    direct = await partition.start()
    application = create_app(database_url, Settings(database_url=database_url, database_direct_url=direct))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver")
    try:
        world = await api.world()
        key = await api.issue_key("VIEWER", world.account, "cut off")
        headers = {"Authorization": f"Bearer {key}"}
        await application.state.hub.ready()
        assert (await client.post("/graphql", json={"query": VIEWER}, headers=headers)).status_code == 200
        cache = application.state.graphql.keys
        assert cache.get(hash_secret(key)) is not None  # kept: the next request costs no lookup
        partition.cut()
        since = time.monotonic()
        while cache.get(hash_secret(key)) is not None:
            assert time.monotonic() - since < 2.0, "the cache still answers for a cut-off listener"
            await asyncio.sleep(0.05)
        await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'cut off'")  # its NOTIFY is lost
        assert (await client.post("/graphql", json={"query": VIEWER}, headers=headers)).status_code == 401
    finally:
        await client.aclose()
        await close_app(application)
        await partition.close()


async def test_behind_a_transaction_pooler_without_a_direct_url_no_key_is_kept(api: Api, database_url: str) -> None:
    """LISTEN does not pass a transaction pooler: such a process cannot hear revocations, so it
    keeps no key at all."""
    settings = Settings(database_url=database_url, db_pooler="transaction")
    application = create_app(database_url, settings)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver")
    try:
        world = await api.world()
        key = await api.issue_key("VIEWER", world.account, "pooled")
        for _ in range(3):
            response = await client.post("/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200
        assert application.state.graphql.keys.get(hash_secret(key)) is None
        assert not application.state.graphql.keys.entries
    finally:
        await client.aclose()
        await close_app(application)
