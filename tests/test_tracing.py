"""OpenTelemetry (budgetline/tracing.py): the span tree of the drop-down query and of a publish,
the request ID on the root span, and no variable, SQL parameter or secret in any attribute."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from budgetline.app import create_app
from budgetline.tracing import REQUEST_ID
from tests import pooler
from tests.helpers import Api, World, held

DROPDOWN = """query Dropdown($id: ID!) { account(id: $id) { budgetSources {
  id displayName amount unallocatedAmount } } }"""
PUBLISH = """mutation Publish($id: ID!) { publishCampaign(input: {campaignId: $id}) {
  __typename ... on Campaign { status } } }"""


@pytest.fixture
async def world(api: Api) -> World:
    return await api.world()


@asynccontextmanager
async def traced_app(
    database_url: str, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(*pooler.app_settings(database_url, **settings), tracer_provider=provider)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            yield client, exporter
    finally:
        app.state.untrace()
        await app.state.engine.dispose()
        await app.state.guard_engine.dispose()


@pytest.fixture
async def traced(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySpanExporter]]:
    async with traced_app(database_url) as pair:
        yield pair


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
    """Every attribute of every span and of its events (an exception's message among them)."""
    texts = [dict(s.attributes or {}) for s in spans] + [dict(e.attributes or {}) for s in spans for e in s.events]
    return json.dumps(texts, default=str)


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
    assert any("account_budget_sources" in s for s in statements), statements  # the drop-down's one statement
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
    assert any("FOR UPDATE" in s for s in statements), statements  # the campaign's lock
    assert any("publish_campaign(" in s for s in statements), statements  # the locked section, one call
    text = attribute_text(spans)
    for secret in (world.manager, campaign, "250.00", "250"):  # the key, the variable, the amount (a parameter)
        assert secret not in text, secret


@pytest.mark.parametrize("flags", ["00", "01"], ids=["not-sampled", "sampled"])
async def test_a_callers_trace_context_neither_hides_a_request_nor_grafts_it(
    api: Api, world: World, traced: tuple[httpx.AsyncClient, InMemorySpanExporter], flags: str
) -> None:
    """At a public edge a traceparent would let any caller switch tracing off for its requests
    ("not sampled") or put them under its own trace: it is ignored (OTEL_PROPAGATORS opts in)."""
    client, exporter = traced
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    exporter.clear()
    response = await client.post(
        "/graphql",
        json={"query": DROPDOWN, "variables": {"id": world.account}},
        headers={
            "Authorization": f"Bearer {world.manager}",
            "traceparent": f"00-{caller_trace}-00f067aa0ba902b7-{flags}",
        },
    )
    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    root, _ = tree(spans)  # recorded, and its own root
    assert f"{root.context.trace_id:032x}" != caller_trace


async def test_a_failed_statement_leaves_no_parameter_in_the_trace(api: Api, world: World, database_url: str) -> None:
    """A statement that times out raises with its SQL; its parameters (amounts, ids) stay out of
    the exception recorded on the resolver's span."""
    campaign = await world.at_review("345.67")
    async with traced_app(database_url, statement_timeout_ms=300) as (client, exporter):
        async with held(database_url, "SELECT 1 FROM purchase_orders FOR UPDATE"):
            response = await client.post(
                "/graphql",
                json={"query": PUBLISH, "variables": {"id": campaign}},
                headers={"Authorization": f"Bearer {world.manager}"},
            )
        assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        spans = exporter.get_finished_spans()
    events = [e for s in spans for e in s.events if e.name == "exception"]
    assert events, "the failure was not recorded"
    text = attribute_text(spans)
    assert "parameters hidden" in text and "[parameters:" not in text
    assert "345.67" not in text and world.manager not in text


async def test_a_plan_handing_over_is_not_an_error_span(
    api: Api, world: World, traced: tuple[httpx.AsyncClient, InMemorySpanExporter]
) -> None:
    client, exporter = traced
    exporter.clear()
    response = await client.post(
        "/graphql", json={"query": DROPDOWN, "variables": {}}, headers={"Authorization": f"Bearer {world.manager}"}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # the general path's answer
    spans = exporter.get_finished_spans()
    assert all(s.status.status_code != StatusCode.ERROR for s in spans), [
        s.name for s in spans if s.status.status_code == StatusCode.ERROR
    ]
