"""OpenTelemetry (budgetline/tracing.py): the span tree of the drop-down query and of a publish,
the request ID on the root span, and no variable, SQL parameter or secret in any attribute."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from budgetline.app import create_app
from budgetline.tracing import REQUEST_ID
from tests import pooler
from tests.helpers import Api, World

DROPDOWN = """query Dropdown($id: ID!) { account(id: $id) { budgetSources {
  id displayName amount unallocatedAmount } } }"""
PUBLISH = """mutation Publish($id: ID!) { publishCampaign(input: {campaignId: $id}) {
  __typename ... on Campaign { status } } }"""


@pytest.fixture
async def world(api: Api) -> World:
    return await api.world()


@pytest.fixture
async def traced(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(*pooler.app_settings(database_url), tracer_provider=provider)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            yield client, exporter
    finally:
        app.state.untrace()
        await app.state.engine.dispose()
        await app.state.guard_engine.dispose()


def tree(spans: tuple[ReadableSpan, ...]) -> tuple[ReadableSpan, dict[int, list[ReadableSpan]]]:
    """The one root span of a request, and each span's children by span id."""
    children: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        if span.parent is not None:
            children.setdefault(span.parent.span_id, []).append(span)
    roots = [s for s in spans if s.parent is None]
    assert len(roots) == 1, [s.name for s in roots]
    assert len({s.context.trace_id for s in spans}) == 1  # one trace per request
    return roots[0], children


def below(span: ReadableSpan, children: dict[int, list[ReadableSpan]]) -> list[ReadableSpan]:
    found = []
    for child in children.get(span.context.span_id, []):
        found += [child, *below(child, children)]
    return found


def attribute_text(spans: tuple[ReadableSpan, ...]) -> str:
    return json.dumps([dict(s.attributes or {}) for s in spans], default=str)


async def request(
    client: httpx.AsyncClient,
    exporter: InMemorySpanExporter,
    key: str,
    query: str,
    variables: dict[str, Any],
    get: bool,
) -> tuple[dict[str, Any], str, tuple[ReadableSpan, ...]]:
    exporter.clear()
    headers = {"Authorization": f"Bearer {key}"}
    if get:
        params = {"query": query, "variables": json.dumps(variables)}
        response = await client.get("/graphql", params=params, headers=headers)
    else:
        response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    return response.json()["data"], response.headers["x-request-id"], exporter.get_finished_spans()


@pytest.mark.parametrize("get", [False, True], ids=["post", "get"])
async def test_the_drop_down_query_is_one_trace(
    api: Api, world: World, traced: tuple[httpx.AsyncClient, InMemorySpanExporter], get: bool
) -> None:
    client, exporter = traced
    data, request_id, spans = await request(client, exporter, world.manager, DROPDOWN, {"id": world.account}, get)
    assert data["account"]["budgetSources"]
    root, children = tree(spans)
    assert root.attributes is not None and root.attributes[REQUEST_ID] == request_id
    [operation] = [s for s in below(root, children) if s.name == "GraphQL Query: Dropdown"]
    statements = [str((s.attributes or {}).get("db.statement", "")) for s in below(operation, children)]
    assert any("FROM purchase_orders" in s for s in statements), statements  # the drop-down's read
    text = attribute_text(spans)
    for secret in (world.manager, world.account):  # the key, and the variable's value
        assert secret not in text


async def test_a_publish_is_one_trace_with_its_resolver_and_its_statements(
    api: Api, world: World, traced: tuple[httpx.AsyncClient, InMemorySpanExporter]
) -> None:
    client, exporter = traced
    campaign = await world.at_review("250.00")
    data, request_id, spans = await request(client, exporter, world.manager, PUBLISH, {"id": campaign}, get=False)
    assert data["publishCampaign"] == {"__typename": "Campaign", "status": "PUBLISHED"}
    root, children = tree(spans)
    assert root.attributes is not None and root.attributes[REQUEST_ID] == request_id
    [operation] = [s for s in below(root, children) if s.name == "GraphQL Query: Publish"]
    [resolver] = [s for s in below(operation, children) if s.name == "GraphQL Resolving: publishCampaign"]
    statements = [str((s.attributes or {}).get("db.statement", "")) for s in below(resolver, children)]
    assert any(s.startswith("INSERT INTO allocations") for s in statements), statements
    assert any("FOR NO KEY UPDATE" in s for s in statements), statements
    text = attribute_text(spans)
    for secret in (world.manager, campaign, "250.00", "250"):  # the key, the variable, the amount (a parameter)
        assert secret not in text, secret
