"""Fuzzing the live server with operations generated from the schema (hypothesis-graphql).

Whatever arrives, valid or not: never a 5xx, never a stack trace, SQL or secret in the body.
`make fuzz` runs a larger campaign (BUDGETLINE_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from schema import schema
from tests.helpers import Api

EXAMPLES = int(os.environ.get("BUDGETLINE_FUZZ_EXAMPLES", "350"))  # per strategy; 3 strategies
LEAKS = re.compile(r"Traceback|File \"/|SELECT |INSERT INTO|UPDATE \w+ SET|sqlalchemy|asyncpg")

pytestmark = pytest.mark.slow


def scalar_strategies(known_ids: list[str]) -> dict[str, st.SearchStrategy[Any]]:
    text = st.text(max_size=24)
    return {
        "Decimal": st.one_of(
            st.integers(min_value=-(10**14), max_value=10**14).map(nodes.Int),
            st.decimals(places=2, allow_nan=False, allow_infinity=False, min_value=-(10**13), max_value=10**13)
            .map(str)
            .map(nodes.String),
            st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
            text.map(nodes.String),
        ),
        "Date": st.one_of(st.dates().map(nodes.String), text.map(nodes.String)),
        "DateTime": st.datetimes().map(nodes.String),
        "ID": st.one_of(st.sampled_from(known_ids), text).map(nodes.String),
    }


async def test_fuzz_the_live_server(api: Api, live_servers: Any) -> None:
    world = await api.world(po_amount="5000.00")
    campaign = await world.at_review("10.00")
    known = [world.account, world.order, world.po or "", world.audience, campaign]
    [server] = live_servers(1)
    custom = scalar_strategies(known)
    sdl = schema.as_str()
    statuses: Counter[int] = Counter()
    keys = [world.manager, world.viewer, api.team_secret]
    secrets = set(keys)

    def send(client: httpx.Client, query: str, key: str) -> None:
        response = client.post(
            server.url + "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"}
        )
        statuses[response.status_code] += 1
        assert response.status_code < 500, (query, response.text)
        assert not LEAKS.search(response.text), (query, response.text)
        # issueApiKey shows a new key's secret once, by design; the keys in use never appear.
        assert not any(secret in response.text for secret in secrets)

    strategies = (
        queries(sdl, custom_scalars=custom),
        mutations(sdl, custom_scalars=custom),
        st.one_of(
            queries(sdl, custom_scalars=custom, mode=Mode.NEGATIVE),
            mutations(sdl, custom_scalars=custom, mode=Mode.NEGATIVE),
        ),
    )
    with httpx.Client(timeout=30) as client:
        for strategy in strategies:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(query=strategy, key=st.sampled_from(keys))
            def run(query: str, key: str) -> None:
                send(client, query, key)

            run()
    total = sum(statuses.values())
    print(f"fuzz: {total} operations, statuses {dict(statuses)}")
    assert total >= 3 * EXAMPLES * 0.9


def hostile_requests(account: str, campaign: str) -> list[tuple[str, bytes]]:
    """Shapes the schema-driven fuzzer never generates: each a class of attack (docs/security.md)."""

    def body(query: str, variables: dict[str, Any] | None = None) -> bytes:
        return json.dumps({"query": query, "variables": variables or {}}).encode()

    def fan_out(n: int, extra: str = "") -> str:
        fragments = ["fragment F0 on Account { id }"] + [
            f"fragment F{i} on Account {{ {extra.format(i=i)}...F{i - 1} ...F{i - 1} }}" for i in range(1, n + 1)
        ]
        return f'{{ account(id: "{account}") {{ ...F{n} }} }} ' + " ".join(fragments)

    nested = "campaigns(first: 100) { edges { node { budgetSource { %s } } } }"
    deep = "id"
    for _ in range(3):
        deep = nested % deep
    update = "mutation($i: UpdateCampaignInput!) { updateCampaign(input: $i) { __typename } }"
    shapes = [
        ("fan-out", body(fan_out(39))),
        ("fan-out with aliases", body(fan_out(39, "a{i}: id "))),
        ("fan-out of 300", body(fan_out(300))),
        (
            "repeated spreads",
            body(f'{{ account(id: "{account}") {{ {"...F " * 1500} }} }} fragment F on Account {{ id }}'),
        ),
        ("nested connections", body(f'{{ account(id: "{account}") {{ {deep.replace("budgetSource { ", "", 1)} }} }}')),
        (
            "aliased connections",
            body(
                "{ "
                + " ".join(
                    f'a{i}: account(id: "{account}") {{ campaigns(first: 100) {{ totalCount }} }}' for i in range(30)
                )
                + " }"
            ),
        ),
        ("huge integer", body(f'{{ account(id: "{account}") {{ campaigns(first: {"9" * 5000}) {{ totalCount }} }} }}')),
        (
            "several operations",
            body(
                "query A { viewer { role } } "
                'mutation B { deleteCampaignDraft(input: {campaignId: "x"}) { __typename } }'
            ),
        ),
        ("unicode money", body(update, {"i": {"campaignId": campaign, "budget": "\u0661\u0662\u0663"}})),
        ("full-width money", body(update, {"i": {"campaignId": campaign, "budget": "\uff11\uff12\uff13"}})),
        ("week date", body(update, {"i": {"campaignId": campaign, "startDate": "2026-W49-1"}})),
        ("bidi name", body(update, {"i": {"campaignId": campaign, "name": "a\u202eb"}})),
    ]
    shapes += [
        (f"non-object {raw!r}", raw) for raw in (b"null", b"123", b"true", b'"x"', b"[]", b'{"operationName": ["a"]}')
    ]
    return shapes


async def test_hostile_shapes_are_answered_fast_and_never_5xx(api: Api, live_servers: Any) -> None:
    world = await api.world()
    campaign = (await world.draft())["id"]
    [server] = live_servers(1)
    headers = {"Authorization": f"Bearer {world.manager}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=30) as client:
        for name, content in hostile_requests(world.account, campaign):
            started = time.perf_counter()
            response = await client.post(server.url + "/graphql", content=content, headers=headers)
            elapsed = time.perf_counter() - started
            assert response.status_code < 500, (name, response.text)
            assert not LEAKS.search(response.text) and "set_int_max_str_digits" not in response.text, name
            assert elapsed < 1.0, (name, elapsed)
        # The server is still there for everyone else.
        assert (await client.get(server.url + "/readyz")).status_code == 200
