"""Limits (each configurable): at the limit it works, one past it is refused with a clear error."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from budgetline import app as app_module
from budgetline.settings import Settings
from db.session import create_engine
from tests.helpers import Api

Make = Any


async def post(client: httpx.AsyncClient, key: str, query: str, **extra: Any) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, **extra}, headers={"Authorization": f"Bearer {key}"})


def nested(depth: int) -> str:
    """A query whose deepest field is `depth` levels down (node > account > ... )."""
    # viewer(1) > account(2) > campaigns(3) > edges(4) > node(5) > account(6) > campaigns(7) > ...
    chain = ["viewer", "account", "campaigns", "edges", "node"]
    while len(chain) < depth:
        chain += ["account", "campaigns", "edges", "node"]
    chain = chain[:depth]
    query = "__typename"
    for field in reversed(chain):
        query = f"{field} {{ {query} }}"
    return "{ " + query + " }"


async def test_query_depth(api: Api, make_client: Make) -> None:
    client = await make_client(max_depth=6)
    assert "errors" not in (await post(client, api.team_secret, nested(6))).json()
    error = (await post(client, api.team_secret, nested(7))).json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" and "depth" in error["message"]


async def test_aliases(api: Api, make_client: Make) -> None:
    client = await make_client(max_aliases=5)
    at_limit = "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(5)) + " }"
    past = "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(6)) + " }"
    assert "errors" not in (await post(client, api.team_secret, at_limit)).json()
    error = (await post(client, api.team_secret, past)).json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" and "aliases" in error["message"]


async def test_alias_length(api: Api, db: Any) -> None:
    """An answer's keys are column names in PostgreSQL: an alias is at most 63 characters, a
    query's and a mutation's alike (the mutation writes nothing)."""
    at_limit, past = "k" * 63, "k" * 64
    answer = await api.gql(f"{{ viewer {{ {at_limit}: role }} }}", {})
    assert answer == {"viewer": {at_limit: "ACCOUNT_TEAM"}}
    create = 'mutation {{ createAccount(input: {{name: "Long", requiresPurchaseOrder: false}}) {{ {0} }} }}'
    made = await api.gql(create.format(f"... on Account {{ {at_limit}: name }}"), {})
    assert made == {"createAccount": {at_limit: "Long"}}
    for document in (f"{{ viewer {{ {past}: role }} }}", create.format(f"... on Account {{ {past}: name }}")):
        body = (await api.post(document, {})).json()
        assert "data" not in body, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert error["message"] == "The alias 'kkkkkkkkkkkkkkkkkkkk...' is 64 characters long; at most 63 are accepted."
    assert await db.fetchval("SELECT count(*) FROM accounts WHERE name = 'Long'") == 1


async def test_tokens(api: Api, make_client: Make) -> None:
    client = await make_client(max_tokens=100)
    # "{ viewer { role } }" is 6 tokens; each extra "role" adds one
    at_limit = "{ viewer { " + "role " * 95 + "} }"
    assert "errors" not in (await post(client, api.team_secret, at_limit)).json()
    error = (await post(client, api.team_secret, at_limit.replace("role", "role role", 1))).json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED" and "tokens" in error["message"]


async def test_request_body_size(api: Api, make_client: Make) -> None:
    client = await make_client(max_body_bytes=2048)
    shell = '{"query":"{ viewer { role } %s}"}'
    body = (shell % (" " * (2048 - len(shell) + 2))).encode()
    assert len(body) == 2048
    headers = {"Authorization": f"Bearer {api.team_secret}", "Content-Type": "application/json"}
    assert (await client.post("/graphql", content=body, headers=headers)).status_code == 200
    too_big = await client.post("/graphql", content=body + b" ", headers=headers)
    assert too_big.status_code == 413
    assert too_big.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> Any:  # no Content-Length: the limit counts what streams in
        yield body
        yield b" "

    streamed = await client.post("/graphql", content=chunks(), headers=headers)
    assert streamed.status_code == 413


async def test_page_size_at_and_past_100(api: Api) -> None:
    account = await api.create_account("Acme", False)
    query = "query($id: ID!, $n: Int) { account(id: $id) { campaigns(first: $n) { totalCount } } }"
    assert "errors" not in (await api.post(query, {"id": account, "n": 100})).json()
    error = (await api.post(query, {"id": account, "n": 101})).json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "100" in error["message"]


async def test_statement_timeout_applies_to_every_connection(database_url: str) -> None:
    engine = create_engine(database_url, statement_timeout_ms=100)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(0.05)"))
            with pytest.raises(DBAPIError, match="statement timeout"):
                await conn.execute(text("SELECT pg_sleep(0.5)"))
    finally:
        await engine.dispose()
    assert Settings().statement_timeout_ms == 5000


async def test_batching_is_off(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json=[{"query": "{ viewer { role } }"}, {"query": "{ viewer { role } }"}],
        headers={"Authorization": f"Bearer {api.team_secret}"},
    )
    assert response.status_code == 400


async def test_introspection_and_graphiql_can_be_turned_off(api: Api, make_client: Make) -> None:
    introspect = "{ __schema { queryType { name } } }"
    assert (await post(api.client, api.team_secret, introspect)).json()["data"]["__schema"]["queryType"]
    closed = await make_client(introspection=False, graphiql=False)
    error = (await post(closed, api.team_secret, introspect)).json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert (await closed.get("/graphql", headers={"Accept": "text/html"})).status_code == 404
    assert "errors" not in (await post(closed, api.team_secret, "{ viewer { role } }")).json()


async def test_cors_allows_listed_origins_only(api: Api, make_client: Make) -> None:
    client = await make_client(cors_origins="https://app.example.com, https://admin.example.com")
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = await client.options("/graphql", headers={"Origin": "https://app.example.com", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-credentials" not in allowed.headers
    refused = await client.options("/graphql", headers={"Origin": "https://evil.example", **preflight})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    simple = await post(client, api.team_secret, "{ viewer { role } }")
    assert "access-control-allow-origin" not in simple.headers


async def test_cors_allows_the_headers_common_clients_send_and_the_list_is_configurable(
    api: Api, make_client: Make
) -> None:
    origin = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    client = await make_client(cors_origins="https://app.example.com")
    for header in (
        "apollographql-client-name,apollographql-client-version",
        "traceparent,tracestate,baggage",
        "sentry-trace",
        "authorization,content-type,idempotency-key,x-request-id",
    ):
        allowed = await client.options("/graphql", headers={**origin, "Access-Control-Request-Headers": header})
        assert allowed.status_code == 200, header
        assert set(header.split(",")) <= set(allowed.headers["access-control-allow-headers"].lower().split(", "))
    unknown = await client.options("/graphql", headers={**origin, "Access-Control-Request-Headers": "x-unheard-of"})
    assert unknown.status_code == 400
    narrow = await make_client(
        cors_origins="https://app.example.com", cors_headers="Authorization, Content-Type, X-Custom"
    )
    custom = await narrow.options("/graphql", headers={**origin, "Access-Control-Request-Headers": "x-custom"})
    assert custom.status_code == 200
    traced = await narrow.options("/graphql", headers={**origin, "Access-Control-Request-Headers": "traceparent"})
    assert traced.status_code == 400


async def test_requests_beyond_the_pool_wait_their_turn(api: Api, make_client: Make) -> None:
    """One connection, 20 requests at once: they queue for it and all get their answer."""
    world = await api.world()
    client = await make_client(db_pool_size=1, db_max_overflow=0)
    query = "query($id: ID!) { account(id: $id) { name budgetSources { displayName } } }"
    responses = await asyncio.gather(
        *(post(client, world.viewer, query, variables={"id": world.account}) for _ in range(20))
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1 and "errors" not in responses[0].json()


async def test_a_request_that_cannot_get_a_connection_in_time_is_told_to_retry(
    api: Api, make_client: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(db_pool_size=1, db_max_overflow=0)
    view = client._transport.app.state.graphql  # type: ignore[attr-defined]
    monkeypatch.setattr(app_module, "ADMISSION_TIMEOUT_S", 0.05)
    await view.admission.acquire()  # every connection is taken
    try:
        response = await post(client, api.team_secret, "{ __typename }")
    finally:
        view.admission.release()
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert (await post(client, api.team_secret, "{ __typename }")).json() == {"data": {"__typename": "Query"}}
