"""API.md section 8: amendments (R18), change requests (R19), the trace (R20), the ledger CSV.

Every refusal is checked for its exact type and code and for an unchanged database
(helpers.refused compares every table, amendments, requests and the trace included)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from budgetline import sweeper
from tests.helpers import (
    TERM_END,
    TODAY,
    Api,
    World,
    assert_ledger_reconciles,
    iso,
    pk,
    refused,
)
from tests.test_concurrency import drafts_at_review, reconcile

AMENDMENTS = "amendments { actor amountBefore amountAfter endDateBefore endDateAfter note }"
ORDER = f"... on Order {{ id amount endDate status {AMENDMENTS} }}"
PO = f"... on PurchaseOrder {{ id amount endDate status allocatedPercent {AMENDMENTS} }}"
REQUEST = """... on BudgetChangeRequest { id status amount endDate note requestedBy decidedBy decidedAt decisionNote
  budgetSource { id } }
  ... on RequestStateError { requestStatus: status }"""


@pytest.fixture
async def world(api: Api) -> World:
    return await api.world(order_amount="20000.00", po_amount="10000.00")


# --- R18: amendments ------------------------------------------------------------------------------


async def test_r18_amend_order_amount_and_term_is_recorded(api: Api, world: World) -> None:
    later = TERM_END + timedelta(days=30)
    result = await api.mutate(
        "amendOrder",
        {"orderId": world.order, "amount": "25000.00", "endDate": iso(later), "note": "Q3 top-up"},
        select=ORDER,
    )
    assert result["__typename"] == "Order" and result["amount"] == "25000.00" and result["endDate"] == iso(later)
    (amendment,) = result["amendments"]
    assert amendment == {
        "actor": amendment["actor"],
        "amountBefore": "20000.00",
        "amountAfter": "25000.00",
        "endDateBefore": iso(TERM_END),
        "endDateAfter": iso(later),
        "note": "Q3 top-up",
    }
    assert "test team" in amendment["actor"]
    # A PO follows its order's term.
    po = await api.gql("query($id: ID!) { node(id: $id) { ... on PurchaseOrder { endDate } } }", {"id": world.po})
    assert po["node"]["endDate"] == iso(later)


async def test_r18_a_shorter_term_makes_an_expired_po_and_extending_it_revives_it(api: Api, world: World) -> None:
    past = TODAY - timedelta(days=1)
    query = "query($id: ID!) { node(id: $id) { ... on BudgetSource { status selectable endDate } } }"
    done = await api.mutate(
        "amendOrder", {"orderId": world.order, "endDate": iso(past), "note": "ended early"}, select=ORDER
    )
    assert done["status"] == "EXPIRED"
    assert (await api.gql(query, {"id": world.po}, world.manager))["node"] == {
        "status": "EXPIRED",
        "selectable": False,
        "endDate": iso(past),
    }
    await api.mutate("amendOrder", {"orderId": world.order, "endDate": iso(TERM_END), "note": "renewed"}, select=ORDER)
    assert (await api.gql(query, {"id": world.po}, world.manager))["node"]["status"] == "ACTIVE"


async def test_r18_amounts_never_below_what_is_committed(api: Api, world: World, db: asyncpg.Connection) -> None:
    await world.published("4000.00")
    await api.create_po(world.order, "PO-2", "6000.00")  # the order's POs: 16000
    await refused(
        api,
        db,
        "amendPurchaseOrder",
        {"purchaseOrderId": world.po, "amount": "3999.99", "note": "cut"},
        None,
        "InsufficientBudgetError",
        "AMOUNT_BELOW_COMMITTED",
        select=PO,
        requested="3999.99",
        unallocated="4000.00",
        field="amount",
    )
    await refused(
        api,
        db,
        "amendOrder",
        {"orderId": world.order, "amount": "15999.99", "note": "cut"},
        None,
        "InsufficientBudgetError",
        "AMOUNT_BELOW_COMMITTED",
        select=ORDER,
        requested="15999.99",
        unallocated="16000.00",
    )
    # Down to exactly the floor is fine, and the PO's ratio crossing raises its alerts (R15).
    done = await api.mutate(
        "amendPurchaseOrder", {"purchaseOrderId": world.po, "amount": "4000.00", "note": "cut"}, select=PO
    )
    assert done["amount"] == "4000.00" and done["allocatedPercent"] == "100.00"
    kinds = await db.fetch(
        "SELECT kind, threshold FROM budget_alerts WHERE purchase_order_id = $1 ORDER BY id", pk(world.po)
    )
    assert [tuple(k) for k in kinds] == [
        ("ALLOCATION_THRESHOLD", 50),
        ("ALLOCATION_THRESHOLD", 80),
        ("ALLOCATION_THRESHOLD", 95),
        ("ALLOCATION_THRESHOLD", 100),
        ("SOURCE_EXHAUSTED", None),
    ]


async def test_r18_a_po_increase_must_fit_its_order(api: Api, world: World, db: asyncpg.Connection) -> None:
    await api.create_po(world.order, "PO-2", "6000.00")  # leaves 4000 of the order for the first PO to grow
    await refused(
        api,
        db,
        "amendPurchaseOrder",
        {"purchaseOrderId": world.po, "amount": "14000.01", "note": "grow"},
        None,
        "InsufficientBudgetError",
        "INSUFFICIENT_BUDGET",
        select=PO,
        requested="14000.01",
        unallocated="14000.00",
    )
    done = await api.mutate(
        "amendPurchaseOrder", {"purchaseOrderId": world.po, "amount": "14000.00", "note": "grow"}, select=PO
    )
    assert done["amount"] == "14000.00"


async def test_r18_a_shorter_term_never_cuts_a_live_or_paused_campaign(
    api: Api, world: World, db: asyncpg.Connection
) -> None:
    live = await world.published("100.00", end=TODAY + timedelta(days=40))
    short = {"orderId": world.order, "endDate": iso(TODAY + timedelta(days=39)), "note": "shorter"}
    result = await refused(
        api, db, "amendOrder", short, None, "BudgetSourceError", "SCHEDULE_OUTSIDE_TERM", select=ORDER
    )
    assert result["field"] == "endDate" and "Launch" in result["message"]
    await world.ok("pauseCampaign", {"campaignId": live})
    await refused(api, db, "amendOrder", short, None, "BudgetSourceError", "SCHEDULE_OUTSIDE_TERM", select=ORDER)
    await world.ok("endCampaign", {"campaignId": live})  # an ended campaign is no obstacle
    draft = await world.at_review("100.00", name="Draft", end=TODAY + timedelta(days=40))
    done = await api.mutate("amendOrder", short, select=ORDER)
    assert done["endDate"] == short["endDate"]
    # The draft is judged again when it publishes (R5).
    refusal = await api.mutate("publishCampaign", {"campaignId": draft}, world.manager)
    assert refusal["code"] == "SCHEDULE_OUTSIDE_TERM", refusal


@pytest.mark.parametrize(
    ("input", "field"),
    [
        ({"amount": "100.00", "note": "  "}, "note"),
        ({"note": "nothing asked"}, "amount"),
        ({"amount": "0.00", "note": "zero"}, "amount"),
        ({"amount": "20000.00", "note": "the same"}, "amount"),
        ({"endDate": "2000-01-01", "note": "before the start"}, "endDate"),
    ],
)
async def test_r18_invalid_amendments(
    api: Api, world: World, db: asyncpg.Connection, input: dict[str, Any], field: str
) -> None:
    await refused(
        api,
        db,
        "amendOrder",
        {"orderId": world.order, **input},
        None,
        "ValidationError",
        "INVALID_INPUT",
        select=ORDER,
        field=field,
    )


async def test_r18_cancelled_sources_and_roles(api: Api, world: World, db: asyncpg.Connection) -> None:
    change = {"purchaseOrderId": world.po, "amount": "100.00", "note": "x"}
    await refused(
        api, db, "amendPurchaseOrder", change, world.manager, "PermissionDeniedError", "PERMISSION_DENIED", select=PO
    )
    await api.mutate("cancelBudgetSource", {"budgetSourceId": world.order}, select=ORDER)
    await refused(
        api, db, "amendPurchaseOrder", change, None, "BudgetSourceError", "BUDGET_SOURCE_NOT_SELECTABLE", select=PO
    )
    await refused(
        api,
        db,
        "amendOrder",
        {"orderId": world.order, "amount": "30000.00", "note": "x"},
        None,
        "BudgetSourceError",
        "BUDGET_SOURCE_NOT_SELECTABLE",
        select=ORDER,
    )


# --- R19: change requests ---------------------------------------------------------------------


async def ask(world: World, key: str | None = None, **input: Any) -> dict[str, Any]:
    return await world.api.mutate(
        "requestBudgetChange",
        {"budgetSourceId": world.po, "note": "more reach", **input},
        key or world.manager,
        select=REQUEST,
    )


async def test_r19_request_then_approve_applies_exactly_the_amendment(
    api: Api, world: World, db: asyncpg.Connection
) -> None:
    asked = await ask(world, amount="12000.00")
    assert asked["__typename"] == "BudgetChangeRequest" and asked["status"] == "PENDING"
    assert asked["budgetSource"] == {"id": world.po} and "manager" in asked["requestedBy"]
    lists = """query($a: ID!, $po: ID!) {
      account: node(id: $a) { ... on Account { changeRequests(status: PENDING) { totalCount edges { node { id } } } } }
      po: node(id: $po) { ... on BudgetSource { changeRequests { id status } } } }"""
    seen = await api.gql(lists, {"a": world.account, "po": world.po}, world.viewer)
    assert seen["account"]["changeRequests"]["edges"] == [{"node": {"id": asked["id"]}}]
    assert seen["po"]["changeRequests"] == [{"id": asked["id"], "status": "PENDING"}]
    approved = await api.mutate("approveBudgetChangeRequest", {"requestId": asked["id"], "note": "ok"}, select=REQUEST)
    assert approved["status"] == "APPROVED" and approved["decisionNote"] == "ok" and approved["decidedAt"]
    po = await api.gql(f"query($id: ID!) {{ node(id: $id) {{ {PO} }} }}", {"id": world.po})
    (amendment,) = po["node"]["amendments"]
    assert (amendment["amountBefore"], amendment["amountAfter"]) == ("10000.00", "12000.00")
    assert asked["id"] in amendment["note"] and "more reach" in amendment["note"]
    assert await db.fetchval("SELECT request_id FROM amendments") == pk(asked["id"])
    # R20: the approval's entry shows the request's decision and the amendment it applied.
    entry = await db.fetchval("SELECT changes FROM activity WHERE operation = 'approveBudgetChangeRequest'")
    assert {"field": "status", "before": "PENDING", "after": "APPROVED"} in json.loads(entry)
    assert {"field": "purchaseOrder.amount", "before": "10000.00", "after": "12000.00"} in json.loads(entry)
    for mutation in ("approveBudgetChangeRequest", "declineBudgetChangeRequest"):
        again = await refused(
            api,
            db,
            mutation,
            {"requestId": asked["id"]},
            None,
            "RequestStateError",
            "REQUEST_NOT_PENDING",
            select=REQUEST,
        )
        assert again["requestStatus"] == "APPROVED"
    await refused(
        api,
        db,
        "withdrawBudgetChangeRequest",
        {"requestId": asked["id"]},
        world.manager,
        "RequestStateError",
        "REQUEST_NOT_PENDING",
        select=REQUEST,
    )


async def test_r19_an_approval_r18_refuses_fails_and_the_request_stays_pending(
    api: Api, world: World, db: asyncpg.Connection
) -> None:
    await world.published("4000.00")
    asked = await ask(world, amount="3000.00")  # not judged now: only when approved
    assert asked["status"] == "PENDING"
    await refused(
        api,
        db,
        "approveBudgetChangeRequest",
        {"requestId": asked["id"]},
        None,
        "InsufficientBudgetError",
        "AMOUNT_BELOW_COMMITTED",
        select=REQUEST,
        unallocated="4000.00",
        field="requestId",  # the approval's input names no amount
    )
    assert await db.fetchval("SELECT status FROM budget_change_requests") == "PENDING"
    declined = await api.mutate("declineBudgetChangeRequest", {"requestId": asked["id"], "note": "no"}, select=REQUEST)
    assert declined["status"] == "DECLINED" and declined["decisionNote"] == "no"
    assert await db.fetchval("SELECT count(*) FROM amendments") == 0


async def test_r19_a_po_s_end_date_asks_for_its_order_s_term(api: Api, world: World) -> None:
    later = TERM_END + timedelta(days=10)
    asked = await ask(world, endDate=iso(later))
    await api.mutate("approveBudgetChangeRequest", {"requestId": asked["id"]}, select=REQUEST)
    order = await api.gql(f"query($id: ID!) {{ node(id: $id) {{ {ORDER} }} }}", {"id": world.order})
    assert order["node"]["endDate"] == iso(later)
    assert [(a["endDateBefore"], a["endDateAfter"]) for a in order["node"]["amendments"]] == [
        (iso(TERM_END), iso(later))
    ]


async def test_r19_roles_withdrawal_and_validation(api: Api, world: World, db: asyncpg.Connection) -> None:
    other = await api.world(name="Other")
    second_manager = await api.issue_key("CAMPAIGN_MANAGER", world.account, "second manager")
    for input, field in (({}, "amount"), ({"amount": "5.00", "note": " "}, "note"), ({"amount": "-1.00"}, "amount")):
        await refused(
            api,
            db,
            "requestBudgetChange",
            {"budgetSourceId": world.po, "note": "n", **input},
            world.manager,
            "ValidationError",
            "INVALID_INPUT",
            select=REQUEST,
            field=field,
        )
    change = {"budgetSourceId": world.po, "amount": "1.00", "note": "n"}
    await refused(
        api,
        db,
        "requestBudgetChange",
        change,
        world.viewer,
        "PermissionDeniedError",
        "PERMISSION_DENIED",
        select=REQUEST,
    )
    await refused(api, db, "requestBudgetChange", change, other.manager, "NotFoundError", "NOT_FOUND", select=REQUEST)
    asked = await ask(world, amount="11000.00")
    decide = {"requestId": asked["id"]}
    await refused(
        api,
        db,
        "approveBudgetChangeRequest",
        decide,
        world.manager,
        "PermissionDeniedError",
        "PERMISSION_DENIED",
        select=REQUEST,
    )
    await refused(
        api, db, "withdrawBudgetChangeRequest", decide, other.manager, "NotFoundError", "NOT_FOUND", select=REQUEST
    )
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert (await api.gql(node, {"id": asked["id"]}, other.manager))["node"] is None
    withdrawn = await api.mutate("withdrawBudgetChangeRequest", decide, second_manager, select=REQUEST)
    assert withdrawn["status"] == "WITHDRAWN" and "second manager" in withdrawn["decidedBy"]


async def test_r19_approving_a_top_up_while_publishes_race_on_the_po(
    api: Api, world: World, db: asyncpg.Connection, database_url: str
) -> None:
    campaigns = await drafts_at_review(db, world, 60, "200.00")  # 12000 asked of a 10000 PO
    asked = await ask(world, amount="11000.00")
    results = await asyncio.gather(
        *(api.mutate("publishCampaign", {"campaignId": c}, world.manager) for c in campaigns[:30]),
        api.mutate("approveBudgetChangeRequest", {"requestId": asked["id"]}, select=REQUEST),
        *(api.mutate("publishCampaign", {"campaignId": c}, world.manager) for c in campaigns[30:]),
    )
    assert results[30]["status"] == "APPROVED", results[30]
    outcome = Counter(r.get("code", r["__typename"]) for i, r in enumerate(results) if i != 30)
    assert set(outcome) <= {"Campaign", "INSUFFICIENT_BUDGET"} and outcome["Campaign"] >= 50, outcome
    allocated = await db.fetchval("SELECT allocated_amount FROM purchase_orders WHERE id = $1", pk(world.po))
    assert allocated == 200 * outcome["Campaign"] <= 11000  # the new amount, never more
    await reconcile(db)
    assert_ledger_reconciles(database_url)


# --- R20: the trace -------------------------------------------------------------------------------

ACTIVITY = """query($id: ID!, $first: Int) { node(id: $id) { ... on Account { activity(first: $first) {
  totalCount edges { node { id at actor requestId operation subjectId changes { field before after } } } } } } }"""


async def trace(api: Api, account: str, key: str | None = None, first: int = 100) -> list[dict[str, Any]]:
    data = await api.gql(ACTIVITY, {"id": account, "first": first}, key)
    return [e["node"] for e in data["node"]["activity"]["edges"]]


async def test_r20_every_successful_mutation_writes_one_entry_with_its_changes(api: Api, world: World) -> None:
    response = await api.post(
        'mutation($a: ID!, $u: ID!) { createCampaignDraft(input: {accountId: $a, name: "Traced", audienceId: $u}) '
        "{ ... on Campaign { id } } }",
        {"a": world.account, "u": world.audience},
        world.manager,
    )
    campaign = response.json()["data"]["createCampaignDraft"]["id"]
    request_id = response.headers["x-request-id"]
    await world.ok("advanceCampaign", {"campaignId": campaign})
    await world.ok(
        "updateCampaign",
        {"campaignId": campaign, "budget": "12", "startDate": iso(TODAY), "endDate": iso(TODAY + timedelta(5))},
    )
    await world.ok("assignBudgetSource", {"campaignId": campaign, "budgetSourceId": world.po})
    await world.ok("advanceCampaign", {"campaignId": campaign})
    await world.ok("publishCampaign", {"campaignId": campaign})
    entries = await trace(api, world.account, world.viewer)  # every role of the account reads it
    mine = [e for e in entries if e["subjectId"] == campaign]
    assert [e["operation"] for e in mine] == [
        "publishCampaign",
        "advanceCampaign",
        "assignBudgetSource",
        "updateCampaign",
        "advanceCampaign",
        "createCampaignDraft",
    ]
    created = mine[-1]
    assert created["requestId"] == request_id and "manager" in created["actor"]
    assert {"field": "name", "before": None, "after": "Traced"} in created["changes"]
    update = {c["field"]: (c["before"], c["after"]) for c in mine[3]["changes"]}
    assert update["budget"] == (None, "12.00") and update["startDate"] == (None, iso(TODAY))
    publish = {c["field"]: (c["before"], c["after"]) for c in mine[0]["changes"]}
    assert publish["status"] == ("DRAFT", "PUBLISHED") and publish["version"] == ("5", "6")
    assign = {c["field"]: c["after"] for c in mine[2]["changes"]}
    assert assign["purchaseOrder"] == world.po and assign["order"] == world.order


async def test_r20_refused_mutations_leave_no_entry_and_spend_reports_one_each(
    api: Api, world: World, db: asyncpg.Connection
) -> None:
    delivery = await api.issue_key("DELIVERY", None, "ad server")
    campaign = await world.published("100.00", start=TODAY - timedelta(3))
    before = await db.fetchval("SELECT count(*) FROM activity")
    await refused(
        api,
        db,
        "updateCampaign",
        {"campaignId": campaign, "budget": "99999.00"},
        world.manager,
        "InsufficientBudgetError",
        "INSUFFICIENT_BUDGET",
    )
    spends = "mutation($r: [ReportSpendInput!]!) { reportSpends(input: {reports: $r}) { accepted refused } }"
    reports = [
        {"campaignId": campaign, "date": iso(TODAY - timedelta(d)), "amount": amount}
        for d, amount in ((0, "10.00"), (1, "20.00"), (2, "500.00"))  # the third exceeds the budget
    ]
    assert (await api.gql(spends, {"r": reports}, delivery))["reportSpends"] == {"accepted": 2, "refused": 1}
    assert await db.fetchval("SELECT count(*) FROM activity") == before + 2
    newest = await trace(api, world.account, world.manager, first=2)
    assert [e["operation"] for e in newest] == ["reportSpends", "reportSpends"]
    assert newest[0]["changes"] == [{"field": "spentAmount", "before": "10.00", "after": "30.00"}]


async def test_r20_the_sweeper_is_traced_and_secrets_never(
    api: Api, app: Any, world: World, db: asyncpg.Connection
) -> None:
    key = await api.mutate(
        "issueApiKey",
        {"name": "traced", "role": "VIEWER", "accountId": world.account},
        select="... on ApiKey { id secret }",
    )
    await world.published("100.00", start=TODAY - timedelta(10), end=TODAY - timedelta(1))
    await db.execute("UPDATE orders SET end_date = $1 WHERE id = $2", TODAY + timedelta(days=5), pk(world.order))
    await db.execute("UPDATE campaigns SET end_date = $1 WHERE status = 'PUBLISHED'", TODAY - timedelta(1))
    await sweeper.run_once(app.state.engine, 0)
    entries = await trace(api, world.account, world.manager)
    swept = [e for e in entries if e["actor"] == "budgetline"]
    assert sorted(e["operation"] for e in swept) == ["endCampaign", "raiseAlert", "settleCampaign"]
    assert all(e["requestId"] is None for e in swept)
    ended = next(e for e in swept if e["operation"] == "endCampaign")
    assert {"field": "status", "before": "PUBLISHED", "after": "ENDED"} in ended["changes"]
    issued = next(e for e in entries if e["operation"] == "issueApiKey")
    assert issued["subjectId"] == key["id"]
    assert key["secret"] not in str(await db.fetch("SELECT changes FROM activity"))
    assert "secret" not in str([c["field"] for c in issued["changes"]]).lower()


async def test_r20_the_trace_is_append_only_and_tenant_isolated(api: Api, world: World, db: asyncpg.Connection) -> None:
    await world.draft()
    other = await api.world(name="Other")
    assert (await api.gql(ACTIVITY, {"id": world.account, "first": 5}, other.manager))["node"] is None
    (entry,) = await trace(api, world.account, world.manager, first=1)
    assert (await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": entry["id"]}, other.manager))[
        "node"
    ] is None
    assert (await trace(api, world.account, None, first=1))[0]["id"] == entry["id"]  # the account team sees all
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("UPDATE activity SET actor = 'someone else'")
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("DELETE FROM activity")


async def test_r18_r19_notes_are_bounded_at_1000_characters(api: Api, world: World, db: asyncpg.Connection) -> None:
    await refused(
        api,
        db,
        "amendOrder",
        {"orderId": world.order, "amount": "20001.00", "note": "n" * 1001},
        None,
        "ValidationError",
        "INVALID_INPUT",
        select=ORDER,
        field="note",
    )
    await refused(
        api,
        db,
        "requestBudgetChange",
        {"budgetSourceId": world.po, "amount": "1.00", "note": "n" * 1001},
        world.manager,
        "ValidationError",
        "INVALID_INPUT",
        select=REQUEST,
        field="note",
    )
    done = await api.mutate(
        "amendOrder", {"orderId": world.order, "amount": "20001.00", "note": "n" * 1000}, select=ORDER
    )
    assert done["amendments"][0]["note"] == "n" * 1000
