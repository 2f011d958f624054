"""Budget health (API.md section 7): the figures, R15's alerts and settings, R16's expiry warning.

Every alert is asserted through the API (Account.alerts, node, acknowledgeAlert) and, for what
must not happen, against the database: a refused mutation leaves no alert (helpers.snapshot
includes budget_alerts)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from budgetline import sweeper
from tests.helpers import TODAY, Api, World, iso, pk, refused, snapshot

ALERTS = """query($id: ID!, $acknowledged: Boolean) { node(id: $id) { ... on Account {
  alertSettings { thresholds expiryWarningDays }
  alerts(first: 100, acknowledged: $acknowledged) { totalCount edges { node {
    id kind threshold amount message raisedAt acknowledgedAt acknowledgedBy
    budgetSource { __typename id displayName } campaign { id }
  } } }
} } }"""
ALERT_FIELDS = "... on BudgetAlert { id kind acknowledgedAt acknowledgedBy }"
ACCOUNT_FIELDS = "... on Account { id alertSettings { thresholds expiryWarningDays } }"


async def alerts(world: World, key: str | None = None, acknowledged: bool | None = None) -> list[dict[str, Any]]:
    data = await world.api.gql(ALERTS, {"id": world.account, "acknowledged": acknowledged}, key or world.manager)
    return [edge["node"] for edge in data["node"]["alerts"]["edges"]]


def kinds(found: list[dict[str, Any]], source: str | None = None) -> list[tuple[str, int | None]]:
    """(kind, threshold) of the alerts on `source` (all sources when None), oldest first."""
    return [(a["kind"], a["threshold"]) for a in reversed(found) if source is None or a["budgetSource"]["id"] == source]


@pytest.fixture
async def world(api: Api) -> World:
    return await api.world(order_amount="20000.00", po_amount="10000.00")


@pytest.fixture
async def delivery(api: Api) -> str:
    return await api.issue_key("DELIVERY", None, "ad server")


# --- the figures -------------------------------------------------------------------------------


async def test_r15_percents_round_half_up_and_days_left_counts_today(api: Api) -> None:
    world = await api.world(requires_po=False, order_amount="800.00")
    await world.published("1.00", end=TODAY + timedelta(days=3))  # 1/800 = 0.125 %
    query = """query($id: ID!) { node(id: $id) { ... on Account { budgetSources {
        allocatedPercent spentPercent daysLeft endDate } } } }"""
    (source,) = (await api.gql(query, {"id": world.account}, world.manager))["node"]["budgetSources"]
    assert source["allocatedPercent"] == "0.13"  # half up, not banker's 0.12
    assert source["spentPercent"] == "0.00"
    assert source["daysLeft"] == (TODAY + timedelta(days=335) - TODAY).days + 1


async def test_r15_days_left_is_1_on_the_last_day_and_0_once_expired(api: Api) -> None:
    account = await api.create_account("Term", requires_po=False)
    last_day = await api.create_order(account, "Q-LAST", "10.00", start=TODAY - timedelta(5), end=TODAY)
    expired = await api.create_order(account, "Q-GONE", "10.00", start=TODAY - timedelta(5), end=TODAY - timedelta(1))
    query = "query($id: ID!) { node(id: $id) { ... on BudgetSource { daysLeft status } } }"
    assert (await api.gql(query, {"id": last_day}))["node"] == {"daysLeft": 1, "status": "ACTIVE"}
    assert (await api.gql(query, {"id": expired}))["node"] == {"daysLeft": 0, "status": "EXPIRED"}


async def test_r15_the_drop_down_figures_cost_no_statement(api: Api, world: World, sql_counter: Any) -> None:
    await world.published("2500.00")
    plain = """query($id: ID!) { node(id: $id) { ... on Account { budgetSources { id amount allocatedAmount } } } }"""
    health = """query($id: ID!) { node(id: $id) { ... on Account { budgetSources {
        id amount allocatedAmount allocatedPercent spentPercent daysLeft } } } }"""
    counts = []
    for query in (plain, health, plain, health):
        sql_counter.reset()
        data = await api.gql(query, {"id": world.account}, world.manager)
        await sql_counter.settle()
        counts.append(sql_counter.count)
    assert counts[2] == counts[3], counts
    assert data["node"]["budgetSources"][0]["allocatedPercent"] == "25.00"


# --- R15: alerts raised by the change that crosses ------------------------------------------


async def test_r15_a_publish_crossing_several_thresholds_raises_one_alert_each(world: World) -> None:
    campaign = await world.published("9600.00")  # the PO to 96 %, the order to 48 %
    found = await alerts(world)
    assert kinds(found, world.po) == [
        ("ALLOCATION_THRESHOLD", 50),
        ("ALLOCATION_THRESHOLD", 80),
        ("ALLOCATION_THRESHOLD", 95),
    ]
    assert kinds(found, world.order) == []  # 48 % crosses none of the order's thresholds
    first = found[-1]
    assert first["campaign"] == {"id": campaign}
    assert first["budgetSource"]["__typename"] == "PurchaseOrder"
    assert first["message"] == "PO PO-Acme-1 (Order Q-Acme-1) is 50% allocated or more"
    assert first["amount"] is None and first["acknowledgedAt"] is None


async def test_r15_exhausting_a_po_raises_100_and_source_exhausted_and_its_order_crosses_too(world: World) -> None:
    await world.published("10000.00")
    found = await alerts(world)
    assert kinds(found, world.po) == [
        ("ALLOCATION_THRESHOLD", 50),
        ("ALLOCATION_THRESHOLD", 80),
        ("ALLOCATION_THRESHOLD", 95),
        ("ALLOCATION_THRESHOLD", 100),
        ("SOURCE_EXHAUSTED", None),
    ]
    assert kinds(found, world.order) == [("ALLOCATION_THRESHOLD", 50)]  # the order's own ratio: 50 %


async def test_r15_a_budget_increase_of_a_published_campaign_crosses(world: World) -> None:
    campaign = await world.published("4000.00")
    assert kinds(await alerts(world)) == []
    await world.ok("updateCampaign", {"campaignId": campaign, "budget": "8500.00"})
    assert kinds(await alerts(world), world.po) == [("ALLOCATION_THRESHOLD", 50), ("ALLOCATION_THRESHOLD", 80)]


async def test_r15_spend_crossing_raises_spend_threshold(world: World, delivery: str) -> None:
    campaign = await world.published("6000.00", start=TODAY - timedelta(3))
    result = await world.api.mutate(
        "reportSpend", {"campaignId": campaign, "date": iso(TODAY), "amount": "5000.00"}, delivery
    )
    assert result["__typename"] == "Campaign", result
    found = await alerts(world)
    assert kinds(found, world.po) == [("ALLOCATION_THRESHOLD", 50), ("SPEND_THRESHOLD", 50)]
    assert found[0]["campaign"] == {"id": campaign}
    # A restatement that goes down and up again crosses again.
    for amount in ("1000.00", "5500.00"):
        spent = {"campaignId": campaign, "date": iso(TODAY), "amount": amount}
        assert (await world.api.mutate("reportSpend", spent, delivery))["__typename"] == "Campaign"
    assert kinds(await alerts(world), world.po)[-1] == ("SPEND_THRESHOLD", 50)
    assert len([k for k in kinds(await alerts(world), world.po) if k[0] == "SPEND_THRESHOLD"]) == 2


async def test_r15_settlement_returns_budget_and_the_source_crosses_again_after(
    world: World, delivery: str, db: asyncpg.Connection
) -> None:
    first = await world.published("6000.00", start=TODAY - timedelta(3))
    spent = {"campaignId": first, "date": iso(TODAY), "amount": "1500.00"}
    assert (await world.api.mutate("reportSpend", spent, delivery))["__typename"] == "Campaign"
    await world.ok("endCampaign", {"campaignId": first})
    assert (await world.api.mutate("settleCampaign", {"campaignId": first}, delivery))["__typename"] == "Campaign"
    found = await alerts(world)
    returned = [a for a in found if a["kind"] == "BUDGET_RETURNED"]
    assert len(returned) == 1
    assert returned[0]["amount"] == "4500.00" and returned[0]["campaign"] == {"id": first}
    assert returned[0]["budgetSource"]["id"] == world.po
    assert returned[0]["message"] == "settlement returned 4500.00 USD to PO PO-Acme-1 (Order Q-Acme-1)"
    # 15 % allocated now; another 6000 takes it to 75 %: 50 is crossed a second time.
    await world.published("6000.00")
    thresholds = [k for k in kinds(await alerts(world), world.po) if k == ("ALLOCATION_THRESHOLD", 50)]
    assert len(thresholds) == 2
    assert await db.fetchval("SELECT count(*) FROM budget_alerts WHERE kind = 'BUDGET_RETURNED'") == 1


async def test_r15_refused_mutations_raise_nothing(world: World, delivery: str, db: asyncpg.Connection) -> None:
    campaign = await world.published("4000.00", start=TODAY - timedelta(3))
    big = await world.at_review("5000.00", name="Too big")
    await world.published("2000.00")  # 4000 left: the 5000 no longer fits
    await refused(
        world.api,
        db,
        "publishCampaign",
        {"campaignId": big},
        world.manager,
        "InsufficientBudgetError",
        "INSUFFICIENT_BUDGET",
    )
    await refused(
        world.api,
        db,
        "reportSpend",
        {"campaignId": campaign, "date": iso(TODAY), "amount": "4000.01"},
        delivery,
        "SpendLimitError",
        "SPEND_EXCEEDS_BUDGET",
    )
    await refused(
        world.api,
        db,
        "updateCampaign",
        {"campaignId": campaign, "budget": "10000.01"},
        world.manager,
        "InsufficientBudgetError",
        "INSUFFICIENT_BUDGET",
    )
    # Only the 2000 publish's crossing of 50 %: snapshot() compared budget_alerts after each refusal.
    assert await db.fetch("SELECT kind, threshold FROM budget_alerts") == [("ALLOCATION_THRESHOLD", 50)]


async def test_r15_changing_thresholds_raises_nothing_and_applies_to_the_next_change(world: World) -> None:
    await world.published("6000.00")  # 60 %: crossed 50
    assert kinds(await alerts(world)) == [("ALLOCATION_THRESHOLD", 50)]
    result = await world.api.mutate(
        "updateAlertSettings",
        {"accountId": world.account, "thresholds": [70, 10, 65], "expiryWarningDays": 10},
        world.manager,
        select=ACCOUNT_FIELDS,
    )
    assert result["alertSettings"] == {"thresholds": [10, 65, 70], "expiryWarningDays": 10}
    assert kinds(await alerts(world)) == [("ALLOCATION_THRESHOLD", 50)]  # 60 % is above 10 already: nothing
    await world.published("1000.00")  # 70 %: 65 and 70
    assert kinds(await alerts(world), world.po)[1:] == [("ALLOCATION_THRESHOLD", 65), ("ALLOCATION_THRESHOLD", 70)]


async def test_r15_default_settings(world: World) -> None:
    data = await world.api.gql(ALERTS, {"id": world.account}, world.viewer)
    assert data["node"]["alertSettings"] == {"thresholds": [50, 80, 95, 100], "expiryWarningDays": 30}


@pytest.mark.parametrize(
    ("input", "field", "words"),
    [
        ({"thresholds": [0, 50]}, "thresholds", "0 is not"),
        ({"thresholds": [101]}, "thresholds", "101 is not"),
        ({"thresholds": list(range(1, 12))}, "thresholds", "at most 10"),
        ({"thresholds": [50, 80, 50]}, "thresholds", "50 appears more than once"),
        ({"expiryWarningDays": -1}, "expiryWarningDays", "-1 is not"),
        ({"expiryWarningDays": 366}, "expiryWarningDays", "366 is not"),
    ],
)
async def test_r15_settings_validation(
    world: World, db: asyncpg.Connection, input: dict[str, Any], field: str, words: str
) -> None:
    result = await refused(
        world.api,
        db,
        "updateAlertSettings",
        {"accountId": world.account, **input},
        world.manager,
        "ValidationError",
        "INVALID_INPUT",
        select=ACCOUNT_FIELDS,
        field=field,
    )
    assert words in result["message"]


async def test_r15_settings_roles_and_tenancy(api: Api, world: World, db: asyncpg.Connection) -> None:
    other = await api.world(name="Other")
    change = {"accountId": world.account, "thresholds": [10]}
    for key, typename, code in (
        (world.viewer, "PermissionDeniedError", "PERMISSION_DENIED"),
        (other.manager, "NotFoundError", "NOT_FOUND"),
    ):
        await refused(api, db, "updateAlertSettings", change, key, typename, code, select=ACCOUNT_FIELDS)
    done = await api.mutate(
        "updateAlertSettings", {"accountId": world.account, "thresholds": []}, select=ACCOUNT_FIELDS
    )
    assert done["alertSettings"]["thresholds"] == []  # the account team may; [] turns threshold alerts off
    await world.published("9000.00")
    assert kinds(await alerts(world)) == []


# --- acknowledging, listing, tenancy ------------------------------------------------------------


async def test_r15_acknowledge_filters_and_keeps_the_first(world: World, db: asyncpg.Connection) -> None:
    await world.published("8000.00")  # 50 and 80
    newest, oldest = await alerts(world)
    done = await world.api.mutate("acknowledgeAlert", {"alertId": oldest["id"]}, world.manager, select=ALERT_FIELDS)
    assert done["__typename"] == "BudgetAlert" and done["acknowledgedAt"] and "manager" in done["acknowledgedBy"]
    again = await world.api.mutate("acknowledgeAlert", {"alertId": oldest["id"]}, select=ALERT_FIELDS)
    assert again["acknowledgedAt"] == done["acknowledgedAt"] and again["acknowledgedBy"] == done["acknowledgedBy"]
    assert [a["id"] for a in await alerts(world, acknowledged=True)] == [oldest["id"]]
    assert [a["id"] for a in await alerts(world, acknowledged=False)] == [newest["id"]]
    await refused(
        world.api,
        db,
        "acknowledgeAlert",
        {"alertId": newest["id"]},
        world.viewer,
        "PermissionDeniedError",
        "PERMISSION_DENIED",
        select=ALERT_FIELDS,
    )


async def test_r15_alerts_are_tenant_isolated(api: Api, world: World, db: asyncpg.Connection) -> None:
    await world.published("6000.00")
    (alert,) = await alerts(world)
    other = await api.world(name="Other")
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert (await api.gql(node, {"id": alert["id"]}, other.manager))["node"] is None
    assert (await api.gql(node, {"id": alert["id"]}, world.viewer))["node"] == {"id": alert["id"]}
    assert (await api.gql(ALERTS, {"id": world.account}, other.manager))["node"] is None
    await refused(
        api, db, "acknowledgeAlert", {"alertId": alert["id"]}, other.manager, "NotFoundError", "NOT_FOUND", ALERT_FIELDS
    )
    await refused(
        api,
        db,
        "acknowledgeAlert",
        {"alertId": world.account},
        world.manager,
        "ValidationError",
        "INVALID_INPUT",
        ALERT_FIELDS,
    )


async def test_r15_alerts_page_newest_first(world: World) -> None:
    await world.published("10000.00")  # 5 on the PO, 1 on the order
    query = """query($id: ID!, $after: String) { node(id: $id) { ... on Account {
        alerts(first: 4, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } } } }"""
    first = (await world.api.gql(query, {"id": world.account}, world.manager))["node"]["alerts"]
    assert first["totalCount"] == 6 and first["pageInfo"]["hasNextPage"]
    rest = await world.api.gql(query, {"id": world.account, "after": first["pageInfo"]["endCursor"]}, world.manager)
    ids = [e["node"]["id"] for e in first["edges"] + rest["node"]["alerts"]["edges"]]
    assert len(ids) == 6 and [pk(i) for i in ids] == sorted((pk(i) for i in ids), reverse=True)


# --- R16: the sweeper's expiring-budget warning -------------------------------------------------


async def test_r16_expiring_unused_budget_once_per_source_and_term(api: Api, app: Any, db: asyncpg.Connection) -> None:
    world = await api.world(order_amount="20000.00", po_amount="10000.00")
    other_po = await api.create_po(world.order, "PO-Acme-2", "5000.00")
    await world.published("2500.00")
    await world.published("5000.00", source=other_po)  # fully allocated: no warning
    await db.execute("UPDATE orders SET end_date = $1 WHERE id = $2", TODAY + timedelta(days=28), pk(world.order))
    await sweeper.run_once(app.state.engine, 3)
    expiring = [a for a in await alerts(world) if a["kind"] == "EXPIRING_UNUSED_BUDGET"]
    assert [(a["budgetSource"]["id"], a["amount"]) for a in expiring] == [
        (world.po, "7500.00")
    ]  # per PO, not the order
    end = TODAY + timedelta(days=28)
    assert expiring[0]["message"] == f"PO PO-Acme-1 (Order Q-Acme-1) ends on {end} with 7500.00 USD unallocated"
    assert expiring[0]["campaign"] is None
    await sweeper.run_once(app.state.engine, 3)  # the same term: not again
    assert await db.fetchval("SELECT count(*) FROM budget_alerts WHERE kind = 'EXPIRING_UNUSED_BUDGET'") == 1
    # A new end date (an amendment extends the term) arms it again.
    await db.execute("UPDATE orders SET end_date = $1 WHERE id = $2", TODAY + timedelta(days=29), pk(world.order))
    await sweeper.run_once(app.state.engine, 3)
    assert await db.fetchval("SELECT count(*) FROM budget_alerts WHERE kind = 'EXPIRING_UNUSED_BUDGET'") == 2


async def test_r16_respects_expiry_warning_days_and_selectability(api: Api, app: Any, db: asyncpg.Connection) -> None:
    near = await api.world(requires_po=False, order_amount="100.00", name="Near")
    off = await api.world(requires_po=False, order_amount="100.00", name="Off")
    cancelled = await api.world(requires_po=False, order_amount="100.00", name="Cancelled")
    for world in (near, off, cancelled):
        await db.execute("UPDATE orders SET end_date = $1 WHERE id = $2", TODAY + timedelta(days=5), pk(world.order))
    answer = await api.mutate(
        "updateAlertSettings", {"accountId": near.account, "expiryWarningDays": 5}, select=ACCOUNT_FIELDS
    )
    assert answer["alertSettings"]["expiryWarningDays"] == 5
    answer = await api.mutate(
        "updateAlertSettings", {"accountId": off.account, "expiryWarningDays": 0}, select=ACCOUNT_FIELDS
    )
    assert answer["alertSettings"]["expiryWarningDays"] == 0
    cancel = await api.mutate(
        "cancelBudgetSource", {"budgetSourceId": cancelled.order}, select="... on Order { status }"
    )
    assert cancel["status"] == "CANCELLED"
    before = await snapshot(db)
    await db.execute("UPDATE accounts SET expiry_warning_days = 4 WHERE id = $1", pk(near.account))
    await sweeper.run_once(app.state.engine, 3)  # daysLeft 6 > 4: nothing yet
    assert (await snapshot(db))["budget_alerts"] == before["budget_alerts"]
    await db.execute("UPDATE accounts SET expiry_warning_days = 6 WHERE id = $1", pk(near.account))
    await sweeper.run_once(app.state.engine, 3)
    rows = await db.fetch("SELECT account_id, amount FROM budget_alerts WHERE kind = 'EXPIRING_UNUSED_BUDGET'")
    assert [(r["account_id"], r["amount"]) for r in rows] == [(pk(near.account), Decimal("100.00"))]
