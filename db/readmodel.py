"""The read model's map: where each type of the API is read from, and how its objects lead to
one another. The figures themselves are SQL (views and functions of migration 0008 onwards;
db/schema.sql shows them all); this module only says which view holds which type and which
condition joins a field's objects to their parent. It is GraphQL-free: types and fields are
named by their API names, as plain strings.

Two readers use it: budgetline/planner.py, which turns a query into one SQL statement, and
db/reads.py (the records the general executor builds its objects from). `NODES` is the one
registry of node kinds: global IDs, `Query.node`, the activity trail and the planner take their
lists from it.

In the SQL building blocks, `{r}` is the row of the type being read and `{p}` its parent's; an
argument of the field is `{name}` (bound when the query runs), and `{kind}` is the parent's
concrete type name (Order or PurchaseOrder, for the BudgetSource fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from db.models import (
    AccountRow,
    ActivityRow,
    AllocationRow,
    ApiKeyRow,
    AudienceRow,
    Base,
    BudgetAlertRow,
    BudgetChangeRequestRow,
    CampaignRow,
    OrderRow,
    PurchaseOrderRow,
    SpendDayRow,
)

# R8: who sees a node. "account": a key of its account (account_id), or one that sees every
# account (the account team, DELIVERY); "self": an account seen that way by its own id;
# "account_team": the account team's keys only.
Visibility = Literal["account", "self", "account_team"]


@dataclass(frozen=True)
class Relation:
    """Where objects of one type are read from: a view or table, and the condition that picks
    this type's rows out of it (both kinds of budget source share one view)."""

    source: str
    where: str = ""


@dataclass(frozen=True)
class NodeKind:
    """One kind of node: its type (and global ID prefix), where it is read from, the table it
    is written to, who sees it, and whether the activity trail (R20) shows a mutation's changes
    to it (ledger entries and the trail itself are records of changes, not subjects)."""

    name: str
    relation: Relation
    model: type[Base]
    visibility: Visibility
    traced: bool = True


_SOURCES = "budget_sources_view"

NODES: dict[str, NodeKind] = {
    kind.name: kind
    for kind in (
        NodeKind("Account", Relation("accounts"), AccountRow, "self"),
        NodeKind("Order", Relation(_SOURCES, "{r}.kind = 'Order'"), OrderRow, "account"),
        NodeKind("PurchaseOrder", Relation(_SOURCES, "{r}.kind = 'PurchaseOrder'"), PurchaseOrderRow, "account"),
        NodeKind("Audience", Relation("audiences"), AudienceRow, "account"),
        NodeKind("Campaign", Relation("campaigns_view"), CampaignRow, "account"),
        NodeKind("ApiKey", Relation("api_keys"), ApiKeyRow, "account_team"),
        NodeKind("Allocation", Relation("allocations"), AllocationRow, "account", traced=False),
        NodeKind("SpendRecord", Relation("spend_days"), SpendDayRow, "account", traced=False),
        NodeKind("BudgetAlert", Relation("budget_alerts_view"), BudgetAlertRow, "account"),
        NodeKind("BudgetChangeRequest", Relation("budget_change_requests"), BudgetChangeRequestRow, "account"),
        NodeKind("ActivityEntry", Relation("activity"), ActivityRow, "account", traced=False),
    )
}

# Types that are no node but still rows of their own.
RELATIONS: dict[str, Relation] = {
    **{name: kind.relation for name, kind in NODES.items()},
    "Amendment": Relation("amendments"),
}

# Fields whose column is not the snake_case of their name (the others' is); None: no column,
# the field is null when read (ApiKey.secret is shown once, by the mutation that made it).
COLUMNS: dict[tuple[str, str], str | None] = {
    ("Order", "purchaseOrderNumber"): "po_number",
    ("PurchaseOrder", "purchaseOrderNumber"): "po_number",
    ("Allocation", "at"): "created_at",
    ("Amendment", "at"): "created_at",
    ("SpendRecord", "date"): "day",
    ("AlertSettings", "thresholds"): "alert_thresholds",
    ("ApiKey", "secret"): None,
}


def column(type_name: str, field_name: str) -> str | None:
    """The column of a field that is stored (or computed by the view) as it is shown."""
    if (type_name, field_name) in COLUMNS:
        return COLUMNS[type_name, field_name]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", field_name).lower()


# --- how objects lead to one another -------------------------------------------------------------


@dataclass(frozen=True)
class One:
    """At most one object of `target`, the row for which `on` holds."""

    target: str
    on: str


@dataclass(frozen=True)
class OneOf:
    """An object of one of several types: the first option whose `when` holds for the parent
    (an alert's or change request's source is its PO when it names one, else its order)."""

    options: tuple[tuple[str, str, str], ...]  # (type, when over {p}, on over {r} and {p})


@dataclass(frozen=True)
class Many:
    """A list of `target` objects, in `order`: the rows of `source` (default: the target's
    relation) for which `on` and the filters of the given arguments hold, at most `limit`."""

    target: str
    on: str
    order: str
    source: str | None = None
    filters: dict[str, str] = field(default_factory=dict)  # argument -> condition (when not null)
    limit: int | None = None


@dataclass(frozen=True)
class Page:
    """A connection of `target` objects, newest (highest `key`) first, `first` at a time
    (`default_first` when not given) after the cursor `after`."""

    target: str
    on: str
    default_first: int
    key: str = "id"
    filters: dict[str, str] = field(default_factory=dict)

    def cursor_of(self, key: str) -> str:
        """The cursor of a row whose key is `key` (a spend day's: its ordinal), an opaque string."""
        return f"global_id('cursor', {'day_ordinal(' + key + ')' if self.key == 'day' else key})"


@dataclass(frozen=True)
class Embedded:
    """An object made of its parent row's own columns."""

    target: str


@dataclass(frozen=True)
class Items:
    """A list of objects held in a JSON array column of the parent (an activity entry's changes)."""

    target: str
    column: str
    keys: dict[str, str]  # field -> the item's key


Link = One | OneOf | Many | Page | Embedded | Items

_SOURCE_OF = OneOf(
    (
        ("PurchaseOrder", "{p}.purchase_order_id IS NOT NULL", "{r}.id = {p}.purchase_order_id"),
        ("Order", "{p}.order_id IS NOT NULL", "{r}.id = {p}.order_id"),
    )
)
_ACCOUNT = One("Account", "{r}.id = {p}.account_id")
_OF_ACCOUNT = "{r}.account_id = {p}.id"
_DRAWING_ON_SOURCE = "source_includes('{kind}', {p}.id, {r}.order_id, {r}.purchase_order_id)"
_STATUS = {"status": "{r}.status = {status}"}


def _source_links(kind: str) -> dict[tuple[str, str], Link]:
    return {
        (kind, "campaigns"): Page("Campaign", _DRAWING_ON_SOURCE, 20, filters=_STATUS),
        (kind, "allocations"): Page("Allocation", _DRAWING_ON_SOURCE, 50),
        (kind, "amendments"): Many(
            "Amendment", "source_amended_by('{kind}', {p}.id, {r}.order_id, {r}.purchase_order_id)", "{r}.id"
        ),
        (kind, "changeRequests"): Many(
            "BudgetChangeRequest", _DRAWING_ON_SOURCE, "{r}.id DESC", filters=_STATUS, limit=100
        ),
        (kind, "account"): _ACCOUNT,
    }


LINKS: dict[tuple[str, str], Link] = {
    # R8 for keys: the account team's ({team}: whether the request's key is), nobody else's.
    ("Query", "apiKeys"): Page("ApiKey", "{team}", 50),
    ("Account", "budgetSources"): Many(
        "BudgetSource", "true", "{r}.id", source="account_budget_sources({p}.id, {includeInactive})"
    ),
    ("Account", "orders"): Many("Order", _OF_ACCOUNT, "{r}.id"),
    ("Account", "purchaseOrders"): Many("PurchaseOrder", _OF_ACCOUNT, "{r}.id"),
    ("Account", "audiences"): Many("Audience", _OF_ACCOUNT, "{r}.name", limit=100),
    ("Account", "campaigns"): Page("Campaign", _OF_ACCOUNT, 20, filters=_STATUS),
    ("Account", "alertSettings"): Embedded("AlertSettings"),
    ("Account", "alerts"): Page(
        "BudgetAlert", _OF_ACCOUNT, 20, filters={"acknowledged": "({r}.acknowledged_at IS NOT NULL) = {acknowledged}"}
    ),
    ("Account", "changeRequests"): Page("BudgetChangeRequest", _OF_ACCOUNT, 20, filters=_STATUS),
    ("Account", "activity"): Page("ActivityEntry", _OF_ACCOUNT, 50),
    **_source_links("Order"),
    **_source_links("PurchaseOrder"),
    ("Order", "purchaseOrders"): Many("PurchaseOrder", "{r}.order_id = {p}.id", "{r}.id"),
    ("PurchaseOrder", "order"): One("Order", "{r}.id = {p}.order_id"),
    ("Campaign", "spend"): Page("SpendRecord", "{r}.campaign_id = {p}.id", 31, key="day"),
    ("Campaign", "audience"): One("Audience", "{r}.id = {p}.audience_id"),
    ("Campaign", "budgetSource"): _SOURCE_OF,
    ("Campaign", "order"): One("Order", "{r}.id = {p}.order_id"),
    ("Campaign", "purchaseOrder"): One("PurchaseOrder", "{r}.id = {p}.purchase_order_id"),
    ("Campaign", "account"): _ACCOUNT,
    ("Allocation", "campaign"): One("Campaign", "{r}.id = {p}.campaign_id"),
    ("SpendRecord", "campaign"): One("Campaign", "{r}.id = {p}.campaign_id"),
    ("BudgetAlert", "budgetSource"): _SOURCE_OF,
    ("BudgetAlert", "campaign"): One("Campaign", "{r}.id = {p}.campaign_id"),
    ("BudgetChangeRequest", "budgetSource"): _SOURCE_OF,
    ("ActivityEntry", "changes"): Items(
        "FieldChange",
        "changes",
        {"field": "coalesce({i}->>'field', '')", "before": "{i}->>'before'", "after": "{i}->>'after'"},
    ),
    ("ApiKey", "account"): _ACCOUNT,
}
