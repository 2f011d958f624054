"""Transport (API.md §5): authentication, GraphiQL, GET and POST, error codes, masking."""

from __future__ import annotations

import logging

import httpx
import pytest

from budgetline.errors import response_media_type
from resolvers import accounts
from tests.helpers import Api


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer bl_not-a-key"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}],
)
async def test_requests_without_a_valid_key_are_unauthenticated(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/graphql", json={"query": "{ viewer { role } }"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphiql_page_is_public(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_queries_over_get_and_mutations_refused_over_get(api: Api, client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {api.team_secret}"}
    response = await client.get("/graphql", params={"query": "{ viewer { role } }"}, headers=auth)
    assert response.json() == {"data": {"viewer": {"role": "ACCOUNT_TEAM"}}}
    mutation = 'mutation { createAccount(input: {name: "X", requiresPurchaseOrder: false}) { __typename } }'
    refused = await client.get("/graphql", params={"query": mutation}, headers=auth)
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"
    assert (await api.gql("{ accounts { name } }"))["accounts"] == []


@pytest.mark.parametrize(
    ("query", "code"),
    [("{ viewer { role ", "GRAPHQL_PARSE_FAILED"), ("{ viewer { nope } }", "GRAPHQL_VALIDATION_FAILED")],
)
async def test_request_errors_carry_a_code(api: Api, client: httpx.AsyncClient, query: str, code: str) -> None:
    response = await api.post(query)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == code
    modern = await client.post(
        "/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {api.team_secret}", "Accept": "application/graphql-response+json"},
    )
    assert modern.status_code == 400
    assert modern.headers["content-type"].startswith("application/graphql-response+json")


async def test_internal_errors_are_masked_and_logged_with_the_request_id(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("SELECT secret_hash FROM api_keys -- password=hunter2")

    monkeypatch.setattr(accounts, "create", broken)
    with caplog.at_level(logging.ERROR):
        response = await api.client.post(
            "/graphql",
            json={
                "query": 'mutation { createAccount(input: {name: "A", requiresPurchaseOrder: false}) { __typename } }'
            },
            headers={"Authorization": f"Bearer {api.team_secret}", "X-Request-Id": "req-42"},
        )
    assert response.headers["x-request-id"] == "req-42"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}
    for leak in ("SELECT", "hunter2", "Traceback", "RuntimeError", api.team_secret):
        assert leak not in response.text
    assert any("req-42" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_a_request_id_is_made_when_none_is_sent(api: Api) -> None:
    response = await api.post("{ viewer { role } }")
    assert len(response.headers["x-request-id"]) == 32


async def test_unsupported_content_type_is_a_client_error(api: Api, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        content="{ viewer { role } }",
        headers={"Authorization": f"Bearer {api.team_secret}", "Content-Type": "text/plain"},
    )
    assert 400 <= response.status_code < 500
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


MODERN = "application/graphql-response+json"


@pytest.mark.parametrize("accept", [MODERN, f"{MODERN}, application/json;q=0.9", "application/json", None])
async def test_server_made_errors_answer_in_the_media_type_the_client_accepts(
    api: Api, client: httpx.AsyncClient, accept: str | None
) -> None:
    """Apollo Client 4 asks for application/graphql-response+json first: every answer, the errors
    made outside GraphQL execution included, comes in the media type it asked for, with its code."""
    key = {"Authorization": f"Bearer {api.team_secret}"}
    apq = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    requests: list[tuple[str, dict[str, object], int, str]] = [
        ("POST", {"json": {"query": "{ viewer { role } }"}}, 401, "UNAUTHENTICATED"),
        ("GET", {"params": {"query": "mutation { __typename }"}, "headers": key}, 405, "BAD_REQUEST"),
        ("POST", {"json": [{"query": "{ viewer { role } }"}], "headers": key}, 400, "BAD_REQUEST"),
        ("POST", {"json": {"extensions": apq}, "headers": key}, 200, "PERSISTED_QUERY_NOT_FOUND"),
        (
            "POST",
            {"content": "{ viewer { role } }", "headers": {**key, "Content-Type": "text/plain"}},
            415,
            "BAD_REQUEST",
        ),
        ("POST", {"content": b"x" * (2 * 1024 * 1024), "headers": key}, 413, "PAYLOAD_TOO_LARGE"),
    ]
    for method, options, status, code in requests:
        headers = {**options.pop("headers", {}), **({"Accept": accept} if accept else {})}  # type: ignore[dict-item]
        response = await client.request(method, "/graphql", headers=headers, **options)  # type: ignore[arg-type]
        assert (response.status_code, response.json()["errors"][0]["extensions"]["code"]) == (status, code), method
        expected = MODERN if accept and MODERN in accept else "application/json"
        assert response.headers["content-type"].startswith(expected), (code, response.headers["content-type"])


async def test_get_answers_are_private_and_vary_by_key_and_media_type(api: Api, client: httpx.AsyncClient) -> None:
    key = {"Authorization": f"Bearer {api.team_secret}"}
    for response in (
        await client.get("/graphql", params={"query": "{ viewer { role } }"}, headers=key),
        await client.get("/graphql", params={"query": "{ viewer { role } }"}),  # 401
    ):
        assert response.headers["cache-control"] == "private, no-cache"
        assert {v.strip() for v in response.headers["vary"].split(",")} >= {"Accept", "Authorization"}
    posted = await client.post("/graphql", json={"query": "{ viewer { role } }"}, headers=key)
    assert "cache-control" not in posted.headers


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("", "application/json"),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        ("application/graphql-response+json", MODERN),
        ("application/graphql-response+json, application/json;q=0.9", MODERN),  # Apollo Client 4
        ("application/json, application/graphql-response+json;q=0.5", "application/json"),
        ("application/graphql-response+json;q=0, application/json", "application/json"),
        ("text/html", MODERN),  # no JSON type named: the spec's default
    ],
)
def test_the_media_type_follows_the_accept_weights(accept: str, media_type: str) -> None:
    assert response_media_type(accept).split(";")[0] == media_type
