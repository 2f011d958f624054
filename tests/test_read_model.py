"""The read model is SQL, and each figure exists once: a function created by the migrations,
applied by the views both executors read (budget_sources_view, campaigns_view,
budget_alerts_view), called by the write checks through those views and by the triggers that
keep the totals. `FIGURES` is the inventory: each figure of the API, the one SQL function that
defines it and the view column that applies it. No Python of the server computes any of them
(checked on the source itself), and the general executor's records carry them as columns."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import asyncpg

from db import reads
from db.readmodel import RELATIONS
from tests.helpers import Api

ROOT = Path(__file__).resolve().parent.parent

# figure -> (its one definition, the views' columns that apply it)
FIGURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "BudgetSource.status": ("source_status", ("budget_sources_view.status",)),
    "BudgetSource.unallocatedAmount": ("unallocated_amount", ("budget_sources_view.unallocated_amount",)),
    "BudgetSource.allocatedPercent": ("percent_of", ("budget_sources_view.allocated_percent",)),
    "BudgetSource.spentPercent": ("percent_of", ("budget_sources_view.spent_percent",)),
    "BudgetSource.daysLeft": ("days_left", ("budget_sources_view.days_left",)),
    "BudgetSource.displayName": ("source_display_name", ("budget_sources_view.display_name",)),
    "BudgetSource.selectable": ("source_selectable", ("budget_sources_view.selectable",)),
    "R4's right kind": ("source_is_right_kind", ("budget_sources_view.right_kind",)),
    "Account.budgetSources (the drop-down)": ("account_budget_sources", ()),
    "what draws on a source": ("source_includes", ()),
    "BudgetSource.amendments (its own)": ("source_amended_by", ()),
    "Campaign.remainingAmount": ("campaign_remaining_amount", ("campaigns_view.remaining_amount",)),
    "Campaign.lockedFields": ("campaign_locked_fields", ("campaigns_view.locked_fields",)),
    "BudgetSource.pendingReleaseAmount (kept by campaigns_totals)": ("campaign_pending_release", ()),
    "BudgetAlert.message": ("alert_message", ("budget_alerts_view.message",)),
    "R3-R6: a source judged against a campaign's wish": ("source_refusal", ()),
    "R5: publishing's locked section": ("publish_campaign", ()),
}
# Python names a re-implementation of a figure would have (the ones removed in migration 0008's
# session), and arithmetic that would recompute one.
FORBIDDEN_FUNCTIONS = {
    "status",
    "unallocated",
    "percent_of",
    "days_left",
    "display_name",
    "selectable",
    "is_right_kind",
    "locked_fields",
    "remaining",
    "message",
}
FORBIDDEN_ARITHMETIC = (
    re.compile(r"budget\"?\]?\s*-\s*\w*\[?\"?spent"),
    re.compile(r"amount\"?\]?\s*-\s*\w*\[?\"?allocated"),
)


async def test_every_figure_has_one_sql_definition_that_the_views_apply(db: asyncpg.Connection) -> None:
    functions = {
        r["proname"] for r in await db.fetch("SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace")
    }
    for figure, (function, columns) in FIGURES.items():
        assert function in functions, figure
        defined = await db.fetchval("SELECT count(*) FROM pg_proc WHERE proname = $1", function)
        assert defined == 1, f"{function} is defined {defined} times"
        for column in columns:
            view, name = column.split(".")
            definition = await db.fetchval("SELECT pg_get_viewdef($1::regclass)", view)
            assert re.search(rf"{function}\(.*\) AS {name}\b", definition), (figure, column)


def test_no_server_python_computes_a_figure() -> None:
    """The figures live in SQL only: no function named after one, and none of their arithmetic,
    in the server's Python (migrations excepted: they hold the SQL)."""
    for package in ("budgetline", "schema", "resolvers", "db"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            source = path.read_text()
            tree = ast.parse(source)
            defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
            assert not defined & FORBIDDEN_FUNCTIONS, (path, defined & FORBIDDEN_FUNCTIONS)
            for node in ast.walk(tree):  # code, not docstrings: a subtraction of the figures' columns
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
                    code = ast.get_source_segment(source, node) or ""
                    assert not any(p.search(code) for p in FORBIDDEN_ARITHMETIC), (path, code)


async def test_records_carry_the_figures_as_columns(api: Api, db: asyncpg.Connection) -> None:
    """The general executor's records are the views' rows: the drop-down is the SQL function's,
    and a source's figures are columns of it."""
    world = await api.world(order_amount="50000.00", po_amount="20000.00")
    await api.create_po(world.order, "PO-2", "100.00")
    await world.published("5000.00")
    account = int(await db.fetchval("SELECT id FROM accounts ORDER BY id DESC LIMIT 1"))
    dropdown = await reads.dropdown(db, account, False)
    assert [r["display_name"] for r in dropdown] == [
        f"PO {r['po_number']} (Order {r['order_number']})" for r in dropdown
    ] and [r["po_number"] for r in dropdown][1:] == ["PO-2"]
    first = dropdown[0]
    assert (first["unallocated_amount"], first["allocated_percent"], first["selectable"]) == (15000, 25, True)
    today = await db.fetchval("SELECT utc_today()")  # the database's day (a run may cross midnight)
    assert first["days_left"] == (first["end_date"] - today).days + 1
    assert await reads.dropdown(db, 10**12, True) == []


async def test_every_stored_field_is_a_column_of_its_view(db: asyncpg.Connection) -> None:
    """A stored field of a type built from records is the column of its name in the type's
    view (db/readmodel.RELATIONS), or an entry of VALUES, which names nothing else; none has a
    default (a class attribute would be read in its place by graphql-core)."""
    import dataclasses

    from strawberry.types import get_object_definition

    from schema.accounts import Account
    from schema.activity import ActivityEntry
    from schema.alerts import BudgetAlert
    from schema.api_keys import ApiKey
    from schema.audiences import Audience
    from schema.budget_sources import Amendment, Order, PurchaseOrder
    from schema.campaigns import Allocation, Campaign, SpendRecord
    from schema.change_requests import BudgetChangeRequest
    from schema.common import FromRecord

    for type_ in (
        Account,
        Audience,
        Order,
        PurchaseOrder,
        Campaign,
        Allocation,
        SpendRecord,
        BudgetAlert,
        BudgetChangeRequest,
        Amendment,
        ActivityEntry,
        ApiKey,
    ):
        assert issubclass(type_, FromRecord)
        definition = get_object_definition(type_, strict=True)
        stored = {f.python_name for f in definition.fields if f.base_resolver is None} - {"record"}
        relation = RELATIONS[type_.__name__]
        columns = {a.name for a in (await db.prepare(f"SELECT * FROM {relation.source}")).get_attributes()}
        assert set(type_.VALUES) <= stored, type_.__name__
        assert stored - set(type_.VALUES) <= columns, (type_.__name__, stored - set(type_.VALUES) - columns)
        for f in definition.fields:
            if f.python_name in stored:
                assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, f.python_name


async def test_a_mutation_answers_as_the_next_read_does(api: Api) -> None:
    """A payload is read by the planner in the mutation's own transaction; the next read by the
    planner too, after it: both show the same fields."""
    world = await api.world()
    source = """id orderNumber purchaseOrderNumber displayName amount currency allocatedAmount unallocatedAmount
      draftAmount spentAmount pendingReleaseAmount startDate endDate status allocatedPercent spentPercent daysLeft"""
    campaign = f"""id name status step budget startDate endDate lockedFields version publishedAt createdAt updatedAt
      spentAmount remainingAmount releasedAmount pausedAt endedAt endReason settledAt
      budgetSource {{ {source} }} audience {{ id name }}"""
    draft = await world.at_review("250.00")
    published = await api.mutate(
        "publishCampaign", {"campaignId": draft}, world.manager, select=f"... on Campaign {{ {campaign} }}"
    )
    read = await api.post(
        f"query($id: ID!) {{ node(id: $id) {{ ... on Campaign {{ {campaign} }} }} }}", {"id": draft}, world.manager
    )
    assert published == {"__typename": "Campaign", **read.json()["data"]["node"]}
    amended = await api.mutate(
        "amendPurchaseOrder",
        {"purchaseOrderId": world.po, "amount": "12000.00", "note": "more"},
        select=f"... on PurchaseOrder {{ {source} }}",
    )
    again = await api.post(
        f"query($id: ID!) {{ node(id: $id) {{ ... on PurchaseOrder {{ {source} }} }} }}", {"id": world.po}
    )
    assert amended == {"__typename": "PurchaseOrder", **again.json()["data"]["node"]}
