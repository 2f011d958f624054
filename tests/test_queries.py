"""Reads: node, tenancy (R8), pagination, the drop-down, and SQL statements per request."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import pooler
from tests.conftest import StatementCounter
from tests.helpers import TODAY, Api, iso, steady

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Campaign { name } ... on Account { name } ... on Audience { name }
  ... on BudgetSource { displayName } ... on ApiKey { name role } } }"""


async def test_node_resolves_every_type_for_its_own_account(api: Api) -> None:
    world = await api.world()
    campaign = (await world.draft())["id"]
    for node_id, typename in (
        (world.account, "Account"),
        (world.order, "Order"),
        (world.po, "PurchaseOrder"),
        (world.audience, "Audience"),
        (campaign, "Campaign"),
    ):
        node = (await api.gql(NODE, {"id": node_id}, world.manager))["node"]
        assert node is not None and node["__typename"] == typename and node["id"] == node_id


async def test_another_accounts_ids_are_exactly_like_unknown_ids(api: Api) -> None:
    world = await api.world(name="Acme")
    other = await api.world(name="Globex")
    theirs = (await other.draft())["id"]
    for node_id in (other.account, other.order, other.po, other.audience, theirs):
        assert (await api.gql(NODE, {"id": node_id}, world.manager))["node"] is None
        assert (await api.gql(NODE, {"id": node_id}, world.viewer))["node"] is None
        assert (await api.gql(NODE, {"id": node_id}))["node"] is not None  # the account team sees all
    for unknown in ("Q2FtcGFpZ246OTk5OTk", "not-an-id", "", "Q2FtcGFpZ246LTE"):
        assert (await api.gql(NODE, {"id": unknown}, world.manager))["node"] is None
    account = "query($id: ID!) { account(id: $id) { name } }"
    assert (await api.gql(account, {"id": other.account}, world.manager))["account"] is None
    assert (await api.gql(account, {"id": world.account}, world.manager))["account"] == {"name": "Acme"}
    accounts = (await api.gql("{ accounts { name } }", key=world.viewer))["accounts"]
    assert accounts == [{"name": "Acme"}]


async def test_every_type_reached_through_an_edge_is_a_node(api: Api) -> None:
    """Relay refetches any list item by its ID: each `*Edge.node` type implements Node."""
    schema = await api.gql(
        "{ __schema { types { name kind interfaces { name } fields { name type { ofType { name } } } } } }"
    )
    types = {t["name"]: t for t in schema["__schema"]["types"]}
    edges = [t for name, t in types.items() if name.endswith("Edge") and t["kind"] == "OBJECT"]
    assert len(edges) >= 3
    for edge in edges:
        [node] = [f["type"]["ofType"]["name"] for f in edge["fields"] if f["name"] == "node"]
        assert {"name": "Node"} in types[node]["interfaces"], f"{edge['name']}.node: {node} is not a Node"


async def test_ledger_entries_refetch_by_id_for_their_account_only(api: Api) -> None:
    world = await api.world(name="Acme")
    other = await api.world(name="Globex")
    await world.published("120.00")
    ledger = """query($id: ID!) { node(id: $id) { ... on BudgetSource {
      allocations { edges { node { id delta reason actor at campaign { id } } } } } } }"""
    [edge] = (await api.gql(ledger, {"id": world.source}, world.manager))["node"]["allocations"]["edges"]
    entry = edge["node"]
    refetch = """query($id: ID!) { node(id: $id) { __typename
      ... on Allocation { id delta reason actor at campaign { id } } } }"""
    node = (await api.gql(refetch, {"id": entry["id"]}, world.viewer))["node"]
    assert node == {"__typename": "Allocation", **entry} and entry["delta"] == "120.00"
    assert (await api.gql(refetch, {"id": entry["id"]}, other.manager))["node"] is None
    assert (await api.gql(refetch, {"id": entry["id"]}))["node"] is not None  # the account team


async def test_api_keys_are_visible_to_the_account_team_only(api: Api) -> None:
    world = await api.world()
    result = await api.mutate(
        "issueApiKey",
        {"name": "partner", "role": "CAMPAIGN_MANAGER", "accountId": world.account},
        select="... on ApiKey { id secret account { id } }",
    )
    assert result["secret"].startswith("bl_") and result["account"] == {"id": world.account}
    assert (await api.gql(NODE, {"id": result["id"]}, world.manager))["node"] is None
    node = (await api.gql(NODE, {"id": result["id"]}))["node"]
    assert node == {"__typename": "ApiKey", "id": result["id"], "name": "partner", "role": "CAMPAIGN_MANAGER"}
    secret = await api.gql("query($id: ID!) { node(id: $id) { ... on ApiKey { secret } } }", {"id": result["id"]})
    assert secret["node"]["secret"] is None  # shown once


async def test_revoked_keys_stop_working_at_once(api: Api) -> None:
    world = await api.world()
    issued = await api.mutate(
        "issueApiKey",
        {"name": "temp", "role": "VIEWER", "accountId": world.account},
        select="... on ApiKey { id secret }",
    )
    assert (await api.gql("{ viewer { role } }", key=issued["secret"]))["viewer"] == {"role": "VIEWER"}
    revoked = await api.mutate("revokeApiKey", {"apiKeyId": issued["id"]}, select="... on ApiKey { revokedAt }")
    assert revoked["revokedAt"] is not None
    response = await api.post("{ viewer { role } }", key=issued["secret"])
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_viewer_of_the_account_team_has_no_account(api: Api) -> None:
    assert (await api.gql("{ viewer { role account { id } } }"))["viewer"] == {"role": "ACCOUNT_TEAM", "account": None}


CAMPAIGNS = """query($id: ID!, $first: Int, $after: String, $status: CampaignStatus) { account(id: $id) {
  campaigns(first: $first, after: $after, status: $status) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name status } } } } }"""


async def test_campaigns_paginate_newest_first(api: Api) -> None:
    world = await api.world()
    for i in range(5):
        await world.draft(f"C{i}")
    await world.published()
    page1 = (await api.gql(CAMPAIGNS, {"id": world.account, "first": 2}, world.viewer))["account"]["campaigns"]
    assert page1["totalCount"] == 6
    assert [e["node"]["name"] for e in page1["edges"]] == ["Launch", "C4"]
    assert page1["pageInfo"] == {"hasNextPage": True, "endCursor": page1["edges"][-1]["cursor"]}
    after = page1["pageInfo"]["endCursor"]
    page2 = await api.gql(CAMPAIGNS, {"id": world.account, "first": 10, "after": after}, world.viewer)
    assert [e["node"]["name"] for e in page2["account"]["campaigns"]["edges"]] == ["C3", "C2", "C1", "C0"]
    assert page2["account"]["campaigns"]["pageInfo"]["hasNextPage"] is False
    published = await api.gql(CAMPAIGNS, {"id": world.account, "status": "PUBLISHED"}, world.viewer)
    assert published["account"]["campaigns"]["totalCount"] == 1
    default = await api.gql(CAMPAIGNS, {"id": world.account, "first": None}, world.viewer)
    assert len(default["account"]["campaigns"]["edges"]) == 6


@pytest.mark.parametrize(
    ("variables", "field"), [({"first": 101}, "first"), ({"first": -1}, "first"), ({"after": "bogus!"}, "after")]
)
async def test_bad_page_arguments_are_bad_user_input(api: Api, variables: dict[str, object], field: str) -> None:
    world = await api.world()
    response = await api.post(CAMPAIGNS, {"id": world.account, **variables}, world.viewer)
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert field in error["message"]


DROPDOWN = """query($id: ID!) { account(id: $id) { budgetSources(includeInactive: true) {
  displayName amount unallocatedAmount draftAmount status selectable } } }"""


async def test_dropdown_statuses_and_include_inactive(api: Api) -> None:
    world = await api.world()
    old = await api.create_order(world.account, "Q-OLD", "100", start=TODAY - timedelta(100), end=TODAY - timedelta(1))
    await api.create_po(old, "PO-OLD", "50")
    cancelled = await api.create_po(world.order, "PO-CXL", "50")
    await api.mutate("cancelBudgetSource", {"budgetSourceId": cancelled}, select="... on PurchaseOrder { id }")
    short = "query($id: ID!) { account(id: $id) { budgetSources { displayName } } }"
    active = (await api.gql(short, {"id": world.account}, world.viewer))["account"]["budgetSources"]
    assert [s["displayName"] for s in active] == ["PO PO-Acme-1 (Order Q-Acme-1)"]
    everything = (await api.gql(DROPDOWN, {"id": world.account}, world.viewer))["account"]["budgetSources"]
    assert [(s["displayName"], s["status"], s["selectable"]) for s in everything] == [
        ("PO PO-Acme-1 (Order Q-Acme-1)", "ACTIVE", True),
        ("PO PO-OLD (Order Q-OLD)", "EXPIRED", False),
        ("PO PO-CXL (Order Q-Acme-1)", "CANCELLED", False),
    ]


async def _statements(api: Api, counter: StatementCounter, query: str, variables: dict[str, object], key: str) -> int:
    """The statements of a request in the steady state: its key known, its plan made."""
    await api.gql(query, variables, key)  # once first: the driver introspects new types once per connection
    await steady(api)
    await api.gql(query, variables, key)  # the key, read once the process listens for revocations
    await counter.settle()
    counter.reset()
    await api.gql(query, variables, key)
    await counter.settle()
    return len(pooler.own_statements(counter.statements))


async def test_dropdown_sql_statements_do_not_grow_with_sources(api: Api, sql_counter: StatementCounter) -> None:
    world = await api.world(order_amount="1000000.00", po_amount="10.00")
    await world.at_review("1.00")
    one = await _statements(api, sql_counter, DROPDOWN, {"id": world.account}, world.viewer)
    for i in range(49):
        po = await api.create_po(world.order, f"PO-{i}", "10.00")
        await world.at_review("1.00", po)
    fifty = await _statements(api, sql_counter, DROPDOWN, {"id": world.account}, world.viewer)
    assert fifty == one
    assert one == 1  # the planner's one statement (the key is known: no lookup)


NESTED = """query($id: ID!, $first: Int) { account(id: $id) { campaigns(first: $first) { edges { node {
  name budgetSource { displayName unallocatedAmount draftAmount selectable } order { displayName }
  purchaseOrder { displayName } audience { name } currency } } } } }"""


async def test_campaign_list_sql_statements_do_not_grow_with_page_size(api: Api, sql_counter: StatementCounter) -> None:
    world = await api.world(order_amount="1000000.00", po_amount="100000.00")
    for i in range(10):
        po = await api.create_po(world.order, f"PO-{i}", "100.00")
        await world.published("1.00", po)
        audience = await api.create_audience(world.account, f"A{i}", world.manager)
        draft = (await world.draft(f"D{i}"))["id"]
        await world.ok("updateCampaign", {"campaignId": draft, "audienceId": audience})
        await world.ok("assignBudgetSource", {"campaignId": draft, "budgetSourceId": po})
    one = await _statements(api, sql_counter, NESTED, {"id": world.account, "first": 1}, world.viewer)
    fifty = await _statements(api, sql_counter, NESTED, {"id": world.account, "first": 50}, world.viewer)
    assert fifty == one
    assert one == 1  # the planner's one statement: no key lookup, no BEGIN/ROLLBACK
    assert not any("count(*) FROM" in s for s in sql_counter.statements), "totalCount was not asked for"


DETAIL = """query($id: ID!) { node(id: $id) { ... on Campaign { name status budget spentAmount remainingAmount
  audience { name } order { orderNumber amount } purchaseOrder { purchaseOrderNumber amount }
  budgetSource { displayName allocatedAmount unallocatedAmount selectable
    allocations(first: 10) { edges { node { delta reason actor at } } } } } } }"""


async def test_campaign_detail_sql_statements_do_not_grow_with_the_ledger(
    api: Api, sql_counter: StatementCounter
) -> None:
    world = await api.world(order_amount="1000000.00", po_amount="100000.00")
    campaign = await world.published("1.00")
    one = await _statements(api, sql_counter, DETAIL, {"id": campaign}, world.viewer)
    for _ in range(12):
        await world.published("1.00")
    twelve = await _statements(api, sql_counter, DETAIL, {"id": campaign}, world.viewer)
    assert twelve == one
    assert one == 1, sql_counter.statements  # the planner's one statement


async def test_partner_tool_update_and_schedule_round_trip(api: Api) -> None:
    world = await api.world()
    campaign = (await world.draft())["id"]
    result = await world.ok(
        "updateCampaign",
        {"campaignId": campaign, "startDate": iso(TODAY), "endDate": iso(TODAY + timedelta(3)), "budget": 250},
    )
    assert (result["startDate"], result["endDate"], result["budget"]) == (
        iso(TODAY),
        iso(TODAY + timedelta(3)),
        "250.00",
    )
    cleared = await world.ok("updateCampaign", {"campaignId": campaign, "budget": None, "audienceId": None})
    assert cleared["budget"] is None and cleared["audience"] is None


async def test_prefetched_list_items_match_the_same_campaigns_read_one_by_one(api: Api) -> None:
    """The list prefetches related rows for its items; node(id) loads them on demand: same answers."""
    world = await api.world(requires_po=False, order_amount="10000.00")
    await world.published("100.00", world.order)  # an order as source
    await api.mutate(
        "updateAccount", {"accountId": world.account, "requiresPurchaseOrder": True}, select="... on Account { id }"
    )
    po = await api.create_po(world.order, "PO-MIX", "500.00")
    await world.at_review("50.00", po)  # a PO as source
    await world.draft("No source yet", with_audience=False)
    fields = """id name currency audience { name } budgetSource { __typename displayName unallocatedAmount }
      order { displayName } purchaseOrder { displayName }"""
    listed = await api.gql(
        f"query($id: ID!) {{ account(id: $id) {{ campaigns(first: 10) {{ edges {{ node {{ {fields} }} }} }} }} }}",
        {"id": world.account},
        world.viewer,
    )
    nodes = [e["node"] for e in listed["account"]["campaigns"]["edges"]]
    assert len(nodes) == 3
    for node in nodes:
        one = await api.gql(
            f"query($id: ID!) {{ node(id: $id) {{ ... on Campaign {{ {fields} }} }} }}",
            {"id": node["id"]},
            world.viewer,
        )
        assert one["node"] == node
    kinds = sorted(str((n["budgetSource"] or {}).get("__typename")) for n in nodes)
    assert kinds == ["None", "Order", "PurchaseOrder"]
