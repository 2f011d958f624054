"""The compiled read path (budgetline/compiled.py) against graphql-core, on documents generated
from the schema (hypothesis-graphql) over every root field of Query, with every kind of key (the
account's manager and viewer, the account team, DELIVERY, another account's manager) over own,
foreign, unknown and malformed IDs of each type: every answer byte for byte the same.

tests/test_compiled.py holds hand-picked cases; this one is the net for what nobody thought of.
BUDGETLINE_DIFFERENTIAL_EXAMPLES sets how many documents (default 2,000)."""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries

from resolvers import ids as global_ids
from schema import schema
from tests.helpers import TODAY, Api

DOCUMENTS = int(os.environ.get("BUDGETLINE_DIFFERENTIAL_EXAMPLES", "2000"))


def documents(count: int, ids: list[str], keys: int) -> list[tuple[str, int]]:
    """`count` documents and key indexes, the same ones on every run (derandomized)."""
    found: list[tuple[str, int]] = []
    scalars = {
        "ID": st.sampled_from(ids).map(nodes.String),
        "Decimal": st.just(nodes.String("1.00")),
        "Date": st.just(nodes.String(TODAY.isoformat())),
    }

    @settings(
        max_examples=count, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(query=queries(schema.as_str(), custom_scalars=scalars), key=st.integers(0, keys - 1))
    def collect(query: str, key: int) -> None:
        found.append((query, key))

    collect()
    return found


async def paths(client: Any) -> Counter[str]:
    """How the app ran its requests so far, from its own /metrics."""
    metrics = await client.get("/metrics", headers={"Authorization": "Bearer differential"})
    found = re.findall(r'^budgetline_execution_total\{path="(\w+)"\} ([0-9.e+]+)$', metrics.text, re.M)
    return Counter({path: int(float(value)) for path, value in found})


async def test_compiled_plans_answer_exactly_as_graphql_core(api: Api, make_client: Any) -> None:
    world, orders = await api.varied_worlds()
    delivery = await api.issue_key("DELIVERY", None, "ad server")
    found = await api.gql(
        "query($id: ID!) { account(id: $id) { campaigns(first: 2) { edges { node { id } } } } }",
        {"id": world.account},
        api.team_secret,
    )
    campaigns = [e["node"]["id"] for e in found["account"]["campaigns"]["edges"]]
    ids = [world.account, orders.account, "QWNjb3VudDo5OTk5OQ", world.po or "", "not an id"]
    ids += [*campaigns, world.order, orders.order, world.audience]
    # The other node types, by their first ids (some exist, some do not).
    kinds = ("Allocation", "SpendRecord", "BudgetAlert", "BudgetChangeRequest", "ActivityEntry", "ApiKey")
    ids += [global_ids.encode(kind, 1) for kind in kinds]
    keys = [world.manager, world.viewer, api.team_secret, delivery, orders.manager]
    compiled = await make_client(metrics_token="differential")
    general = await make_client(compiled_queries=False)
    before = await paths(compiled)
    mismatches = []
    for query, key in documents(DOCUMENTS, ids, len(keys)):
        body = {"query": query}
        headers = {"Authorization": f"Bearer {keys[key]}"}
        fast = await compiled.post("/graphql", json=body, headers=headers)
        slow = await general.post("/graphql", json=body, headers=headers)
        assert fast.status_code < 500, (query, fast.text)
        if (fast.status_code, fast.content) != (slow.status_code, slow.content):
            mismatches.append((query, key, fast.text[:2000], slow.text[:2000]))
    ran = await paths(compiled) - before
    print(f"differential: {DOCUMENTS} documents, {dict(ran)} (compiled / fell back / general)")
    assert mismatches == []
    assert ran["compiled"] >= DOCUMENTS // 10, ran  # the net catches plans, not only hand-overs
