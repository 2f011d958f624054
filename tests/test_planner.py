"""The planner (budgetline/planner.py) answers byte for byte as graphql-core does.

Every document below goes to two apps on the same database: the default one, where one SQL
statement answers each planned query, and one with BUDGETLINE_PLANNER=false, where graphql-core
executes everything. Status, content type and body bytes must be equal, and the metrics must
show which path answered, so a test cannot pass by both going the general way.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests import pooler
from tests.conftest import StatementCounter, unwatch, watch
from tests.helpers import TODAY, Api

SOURCE_FIELDS = """__typename id orderNumber purchaseOrderNumber displayName amount currency allocatedAmount
  unallocatedAmount draftAmount spentAmount pendingReleaseAmount startDate endDate status selectable"""
CAMPAIGN_FIELDS = f"""__typename id name status step budget startDate endDate lockedFields version publishedAt
  createdAt updatedAt spentAmount remainingAmount releasedAmount pausedAt endedAt endReason settledAt currency
  audience {{ __typename id name }} budgetSource {{ {SOURCE_FIELDS} }}
  order {{ id displayName status }} purchaseOrder {{ id displayName amount }}"""

# Documents the planner answers (with their variables; $account is filled in per world).
PLANNED: list[tuple[str, str, dict[str, Any]]] = [
    (
        "W1 drop-down",
        "query($id: ID!) { account(id: $id) { budgetSources { displayName amount unallocatedAmount draftAmount } } }",
        {},
    ),
    (
        "W2 campaign list",
        """query($id: ID!) { account(id: $id) { campaigns(first: 50) { edges { node {
           name status budget budgetSource { displayName unallocatedAmount } audience { name } } } } } }""",
        {},
    ),
    (
        "every source field, inactive ones too",
        f"query($id: ID!) {{ account(id: $id) {{ __typename id name requiresPurchaseOrder "
        f"budgetSources(includeInactive: true) {{ {SOURCE_FIELDS} }} }} }}",
        {},
    ),
    (
        "every campaign field, pageInfo and totalCount",
        f"""query($id: ID!) {{ __typename account(id: $id) {{ campaigns(first: 100) {{ __typename totalCount
           pageInfo {{ __typename hasNextPage hasPreviousPage startCursor endCursor }}
           edges {{ __typename cursor node {{ {CAMPAIGN_FIELDS} }} }}
           }} }} }}""",
        {},
    ),
    (
        "aliases, fragments on types and interfaces, merged fields",
        """query Dropdown($id: ID!, $inactive: Boolean) { mine: account(id: $id) { ...Who
             options: budgetSources(includeInactive: $inactive) { ...Money ... on PurchaseOrder { purchaseOrderNumber }
               ... on Order { orderNumber } ... on Node { id } name: displayName }
             budgetSources { id } } }
           fragment Who on Account { id name }
           fragment Money on BudgetSource { amount free: unallocatedAmount }
           query Other { __typename }""",
        {"inactive": True},
    ),
    (
        "pages, a status filter and the same field twice with its parts split",
        """query($id: ID!, $status: CampaignStatus) { account(id: $id) {
             p1: campaigns(first: 2) { pageInfo { hasNextPage endCursor } edges { cursor node { name } } }
             drafts: campaigns(first: 3, status: $status) { totalCount edges { node { name step lockedFields
               budgetSource { displayName } budgetSource { status ... on PurchaseOrder { id } } } } }
             none: campaigns(first: 0) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
               edges { cursor } } } }""",
        {"status": "DRAFT"},
    ),
    (
        "after publishing: each new status, with the spend figures",
        """query($id: ID!) { account(id: $id) {
             paused: campaigns(status: PAUSED) { edges { node { status pausedAt spentAmount remainingAmount } } }
             ended: campaigns(status: ENDED) { totalCount edges { node { status endReason endedAt settledAt
               releasedAmount lockedFields budgetSource { spentAmount pendingReleaseAmount unallocatedAmount } } } }
             live: campaigns(status: PUBLISHED) { edges { node { spentAmount remainingAmount } } } } }""",
        {},
    ),
    (
        "two accounts in one document (one unknown, one not a valid ID)",
        """query($id: ID!) { a: account(id: $id) { name } b: account(id: "QWNjb3VudDo5OTk5OQ") { name }
             c: account(id: "not-an-id") { name } d: account(id: "T3JkZXI6MQ") { name }
             e: account(id: "QWNjb3VudDo5OTk5OQ") { id campaigns { edges { cursor } } }
             f: account(id: $id) { id campaigns(first: 1) { edges { cursor } } } }""",
        {},
    ),
]

PLANNED.append(("the shorthand form, no variables", "{ __typename }", {}))
PLANNED.append(
    (
        "one connection's pageInfo and edges under two aliases each",
        """query($id: ID!) { account(id: $id) { campaigns(first: 2) {
             a: pageInfo { hasNextPage endCursor } b: pageInfo { startCursor } pageInfo { endCursor }
             x: edges { cursor } y: edges { node { name } } } } }""",
        {},
    )
)

# Every other root field and the fields whose resolvers read as they go: "@campaign" and "@po"
# stand for the world's published campaign and purchase order.
ELSEWHERE: list[tuple[str, str, dict[str, Any]]] = [
    (
        "W4 campaign detail",
        f"""query($c: ID!) {{ node(id: $c) {{ __typename id ... on Campaign {{ {CAMPAIGN_FIELDS}
             account {{ name }} spend(first: 5) {{ totalCount edges {{ cursor node {{ date amount reportedBy }} }} }}
             budgetSource {{ allocations(first: 10) {{ edges {{ node {{ delta reason actor at
               campaign {{ name }} }} }} }}
               campaigns(first: 3) {{ totalCount edges {{ node {{ name audience {{ name }} }} }} }} }} }} }} }}""",
        {"c": "@campaign"},
    ),
    (
        "a purchase order by node, with its order and the order's lists",
        """query($p: ID!) { node(id: $p) { id ... on PurchaseOrder { purchaseOrderNumber selectable
             order { orderNumber purchaseOrders { purchaseOrderNumber unallocatedAmount }
               amendments { at actor amountBefore amountAfter } changeRequests { id status } }
             account { name } } } }""",
        {"p": "@po"},
    ),
    (
        "the viewer, the accounts and every list of an account",
        """query($id: ID!) { viewer { role apiKeyName account { name } } accounts { id name alertSettings {
             thresholds expiryWarningDays } }
           account(id: $id) { orders { orderNumber status } purchaseOrders { purchaseOrderNumber status }
             audiences { id name } alerts { totalCount edges { node { id } } }
             changeRequests { totalCount edges { node { id } } }
             activity(first: 5) { totalCount pageInfo { hasNextPage } edges { node { id } } }
             campaigns(first: 5) { edges { node { name account { name } order { campaigns { totalCount } } } } } } }""",
        {},
    ),
    ("unknown and foreign ids by node", '{ a: node(id: "QWNjb3VudDo5OTk5OQ") { id } b: node(id: "x") { id } }', {}),
]

# Documents planned, whose values in this request make graphql-core answer (with its error).
HANDED_OVER: list[tuple[str, str, dict[str, Any]]] = [
    ("first over the page limit", "query($id: ID!) { account(id: $id) { campaigns(first: 101) { totalCount } } }", {}),
    (
        "a cursor it never issued",
        'query($id: ID!) { account(id: $id) { campaigns(after: "bm9wZQ") { totalCount } } }',
        {},
    ),
    (
        "a variable of the wrong type",
        "query($id: ID!, $n: Int) { account(id: $id) { campaigns(first: $n) { totalCount } } }",
        {"n": "ten"},
    ),
    ("a missing variable", "query($other: ID!) { account(id: $other) { name } }", {}),
]
GENERAL: list[tuple[str, str, dict[str, Any]]] = [
    ("a directive", "query($id: ID!, $x: Boolean!) { account(id: $id) { name @include(if: $x) } }", {"x": True}),
    ("introspection", '{ __schema { queryType { name } } __type(name: "Account") { name } }', {}),
    ("a validation error", "query($id: ID!) { account(id: $id) { nope } }", {}),
    ("a mutation", 'mutation { createAccount(input: {name: ""}) { __typename } }', {}),
]


async def _world(api: Api) -> dict[str, str]:
    """A PO account with active, expired and cancelled sources, drafts and published campaigns
    (with and without audience or source, one on an order), and a second account of orders."""
    world = await api.world(requires_po=False, order_amount="50000.00", name="Acme")
    await world.published("120.00", world.order)  # an order as source, before the switch to POs
    await api.mutate(
        "updateAccount", {"accountId": world.account, "requiresPurchaseOrder": True}, select="... on Account { id }"
    )
    po = await api.create_po(world.order, "PO-A", "5000.00")
    po2 = await api.create_po(world.order, "PO-B", "700.50")
    old = await api.create_order(world.account, "Q-OLD", "100", start=TODAY - timedelta(100), end=TODAY - timedelta(1))
    await api.create_po(old, "PO-OLD", "50")
    cancelled = await api.create_po(world.order, "PO-CXL", "50")
    await api.mutate("cancelBudgetSource", {"budgetSourceId": cancelled}, select="... on PurchaseOrder { id }")
    delivering = await world.published("300.00", po)
    delivery = await api.issue_key("DELIVERY", None, "ads")
    await api.mutate("reportSpend", {"campaignId": delivering, "date": TODAY.isoformat(), "amount": "12.34"}, delivery)
    for ending, settle in ((await world.published("80.00", po), False), (await world.published("70.00", po2), True)):
        await api.mutate("reportSpend", {"campaignId": ending, "date": TODAY.isoformat(), "amount": "5.00"}, delivery)
        await world.ok("endCampaign", {"campaignId": ending})
        if settle:
            await api.mutate("settleCampaign", {"campaignId": ending}, delivery)
    await world.ok("pauseCampaign", {"campaignId": await world.published("25.00", po)})
    await world.at_review("45.10", po2)
    await world.draft("Bare", with_audience=False)
    other = await api.world(requires_po=False, name="Other")
    await other.published("10.00", other.order)
    return {
        "account": world.account,
        "viewer": world.viewer,
        "other_viewer": other.viewer,
        "team": api.team_secret,
        "@campaign": delivering,
        "@po": po,
    }


@pytest.fixture
async def clients(make_client: Any, api: Api) -> tuple[httpx.AsyncClient, httpx.AsyncClient, dict[str, str]]:
    world = await _world(api)
    return await make_client(), await make_client(planner=False), world


def _paths(client: httpx.AsyncClient) -> dict[str, float]:
    registry = client._transport.app.state.metrics.registry  # type: ignore[attr-defined]
    return {
        path: registry.get_sample_value("budgetline_execution_total", {"path": path}) or 0.0
        for path in ("planned", "handover", "general")
    }


def _headers(response: httpx.Response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.multi_items() if k != "x-request-id")


async def _both(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, dict[str, str]],
    query: str,
    variables: dict[str, Any],
    key: str,
    operation: str | None = None,
) -> tuple[httpx.Response, httpx.Response]:
    planned, general, world = clients
    body: dict[str, Any] = {"query": query, "variables": {"id": world["account"], **variables}}
    if operation:
        body["operationName"] = operation
    headers = {"Authorization": f"Bearer {key}"}
    fast = await planned.post("/graphql", json=body, headers=headers)
    slow = await general.post("/graphql", json=body, headers=headers)
    assert fast.status_code == slow.status_code
    assert _headers(fast) == _headers(slow)
    assert fast.content == slow.content, f"{fast.text}\n!=\n{slow.text}"
    return fast, slow


@pytest.mark.parametrize("case", PLANNED + ELSEWHERE, ids=[c[0] for c in PLANNED + ELSEWHERE])
@pytest.mark.parametrize("who", ["viewer", "team", "other_viewer"])
async def test_plans_answer_as_graphql_core(case: tuple[str, str, dict[str, Any]], who: str, clients: Any) -> None:
    _, query, variables = case
    planned, _, world = clients
    operation = "Dropdown" if "query Other" in query else None
    before = _paths(planned)
    given = {k: world.get(v, v) if isinstance(v, str) else v for k, v in variables.items()}
    fast, _ = await _both(clients, query, given, world[who], operation)
    after = _paths(planned)
    assert after["planned"] == before["planned"] + 1, (fast.text, after)
    assert "errors" not in fast.json()
    data = fast.json()["data"]
    tenant = {key: value for key, value in data.items() if key not in ("__typename", "viewer", "accounts")}
    if who == "other_viewer":  # another account's objects read as null (R8)
        assert all(value is None for value in tenant.values()), "another account reads as null"
    elif "account" in data or "mine" in data or "node" in data:
        assert (data.get("account") or data.get("mine") or data.get("node")) is not None


@pytest.mark.parametrize("case", HANDED_OVER, ids=[c[0] for c in HANDED_OVER])
async def test_off_the_happy_path_graphql_core_answers(case: tuple[str, str, dict[str, Any]], clients: Any) -> None:
    _, query, variables = case
    planned = clients[0]
    before = _paths(planned)
    fast, _ = await _both(clients, query, variables, clients[2]["viewer"])
    after = _paths(planned)
    assert after["handover"] == before["handover"] + 1 and after["planned"] == before["planned"]
    assert fast.json()["errors"], "each of these is an error the general path reports"


@pytest.mark.parametrize("case", GENERAL, ids=[c[0] for c in GENERAL])
async def test_documents_it_does_not_cover_go_to_graphql_core(
    case: tuple[str, str, dict[str, Any]], clients: Any
) -> None:
    _, query, variables = case
    planned = clients[0]
    before = _paths(planned)
    await _both(clients, query, variables, clients[2]["team"])
    after = _paths(planned)
    assert after["planned"] == before["planned"] and after["handover"] == before["handover"]


async def test_a_hand_over_costs_no_statement_of_its_own(clients: Any) -> None:
    """A request whose values make graphql-core answer is handed over before anything is sent:
    it costs exactly what graphql-core alone costs."""
    planned, general, world = clients
    query = """query($id: ID!) { a: account(id: $id) { campaigns(first: 101) { totalCount } }
      b: account(id: $id) { campaigns(first: 20) { edges { node { name audience { name }
        budgetSource { displayName } spend(first: 2) { totalCount } } } } } }"""
    body = {"query": query, "variables": {"id": world["account"]}}
    headers = {"Authorization": f"Bearer {world['team']}"}
    counts = {}
    for label, client in (("planned", planned), ("general", general)):
        counter = StatementCounter()
        app = client._transport.app  # type: ignore[attr-defined]
        watch(app, counter)
        await app.state.hub.ready()  # both know the key from now on: no lookup in either count
        await client.post("/graphql", json=body, headers=headers)  # the driver's one-time type introspection
        await counter.settle()
        counter.reset()
        before = _paths(planned)
        response = await client.post("/graphql", json=body, headers=headers)
        await counter.settle()
        counts[label] = len(pooler.own_statements(counter.statements))
        unwatch(app, counter)
        assert response.json()["errors"][0]["path"] == ["a", "campaigns"]
        if client is planned:
            assert _paths(planned)["handover"] == before["handover"] + 1
    assert counts["general"] >= 5, counts  # the sibling's page and its items' reads
    assert counts["planned"] == counts["general"], counts


async def test_a_later_write_shows_in_the_next_planned_read(clients: Any, api: Api) -> None:
    """Plans hold no data: the amounts come from the database on every request."""
    query = "query($id: ID!) { account(id: $id) { budgetSources { displayName unallocatedAmount draftAmount } } }"
    first, _ = await _both(clients, query, {}, clients[2]["viewer"])
    order = await api.create_order(clients[2]["account"], "Q-NEW", "900.00")
    await api.create_po(order, "PO-NEW", "250.00")
    second, _ = await _both(clients, query, {}, clients[2]["viewer"])
    names = [s["displayName"] for s in second.json()["data"]["account"]["budgetSources"]]
    assert "PO PO-NEW (Order Q-NEW)" in names and first.content != second.content


async def test_a_planned_read_is_one_statement_and_no_transaction(
    api: Api, app: Any, sql_counter: StatementCounter
) -> None:
    world = await api.world()
    await world.published("10.00")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    query = """query($id: ID!) { account(id: $id) { budgetSources { displayName unallocatedAmount }
      campaigns(first: 50) { edges { node { name budgetSource { displayName } audience { name } } } } } }"""
    body = {"query": query, "variables": {"id": world.account}}
    headers = {"Authorization": f"Bearer {world.viewer}"}
    await app.state.hub.ready()  # listening for revocations: keys seen are kept
    await client.post("/graphql", json=body, headers=headers)  # the key, and the driver's type introspection
    await sql_counter.settle()
    sql_counter.reset()
    response = await client.post("/graphql", json=body, headers=headers)
    await sql_counter.settle()
    statements = pooler.own_statements(sql_counter.statements)
    assert len(statements) == 1 and "convert_to(row_to_json" in statements[0], statements
    assert not any(s.strip().upper().startswith(("BEGIN", "ROLLBACK")) for s in statements)
    w2 = """query($id: ID!) { account(id: $id) { __typename campaigns(first: 50) { edges { node {
      name budgetSource { displayName } audience { name } } } } } }"""
    sql_counter.reset()
    response = await client.post("/graphql", json={"query": w2, "variables": {"id": world.account}}, headers=headers)
    await sql_counter.settle()
    assert "errors" not in response.json() and response.json()["data"]["account"]["campaigns"]["edges"]
    assert len(pooler.own_statements(sql_counter.statements)) == 1, sql_counter.statements
    await client.aclose()


W1 = "query($id: ID!) { account(id: $id) { budgetSources { displayName amount unallocatedAmount draftAmount } } }"


@pytest.mark.parametrize("entry", ["get", "persisted", "graphql-response", "charset", "form"])
async def test_every_way_in_gets_the_same_answer(entry: str, clients: Any) -> None:
    """A plain JSON POST skips Strawberry's view; GET, APQ and other media types go through it:
    every one of them answers as graphql-core does."""
    planned, general, world = clients
    variables = {"id": world["account"]}
    headers = {"Authorization": f"Bearer {world['viewer']}", "X-Request-Id": "same-for-both"}
    digest = hashlib.sha256(W1.encode()).hexdigest()

    async def send(client: httpx.AsyncClient) -> httpx.Response:
        if entry == "get":
            params = {"query": W1, "variables": json.dumps(variables)}
            return await client.get("/graphql", params=params, headers=headers)
        if entry == "persisted":
            extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
            body = {"query": W1, "variables": variables, "extensions": extensions}
            return await client.post("/graphql", json=body, headers=headers)
        if entry == "graphql-response":
            accept = {**headers, "Accept": "application/graphql-response+json"}
            return await client.post("/graphql", json={"query": W1, "variables": variables}, headers=accept)
        if entry == "charset":
            typed = {**headers, "Content-Type": "application/json; charset=utf-8"}
            content = json.dumps({"query": W1, "variables": variables})
            return await client.post("/graphql", content=content, headers=typed)
        form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        return await client.post("/graphql", content="query=x", headers=form)

    before = _paths(planned)
    fast, slow = await send(planned), await send(general)
    assert fast.status_code == slow.status_code
    assert _headers(fast) == _headers(slow)
    assert fast.content == slow.content
    expected = 0 if entry == "form" else 1  # a form body is refused before any execution
    assert _paths(planned)["planned"] == before["planned"] + expected


@pytest.mark.parametrize("variables", [[1], "id", 5, True])
async def test_variables_not_an_object_get_the_views_error(variables: Any, clients: Any) -> None:
    planned, general, world = clients
    headers = {"Authorization": f"Bearer {world['viewer']}", "X-Request-Id": "same-for-both"}
    body = {"query": W1, "variables": variables}
    fast, slow = (
        await planned.post("/graphql", json=body, headers=headers),
        await general.post("/graphql", json=body, headers=headers),
    )
    assert fast.status_code == slow.status_code == 400, fast.text
    assert fast.content == slow.content and b"variables" in fast.content.lower()
