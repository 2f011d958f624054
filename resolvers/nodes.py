"""Query.node: any global ID, or None when unknown or another account's (R8)."""

from __future__ import annotations

from typing import Any

from resolvers import (
    accounts,
    activity,
    alerts,
    api_keys,
    audiences,
    budget_sources,
    campaigns,
    change_requests,
    ids,
    spend,
)
from resolvers.context import Context


async def get_node(ctx: Context, global_id: str) -> tuple[str, Any] | None:
    decoded = ids.decode(global_id)
    if decoded is None:
        return None
    type_name, pk = decoded
    row: Any
    if type_name == "Account":
        row = await accounts.get_visible(ctx, pk)
    elif type_name in ("Order", "PurchaseOrder"):
        row = await budget_sources.get_visible(ctx, type_name, pk)
    elif type_name == "Audience":
        row = await audiences.get_visible(ctx, pk)
    elif type_name == "Campaign":
        row = await campaigns.get_visible(ctx, pk)
    elif type_name == "ApiKey":
        row = await api_keys.get_visible(ctx, pk)
    elif type_name == "Allocation":
        row = await campaigns.get_visible_allocation(ctx, pk)
    elif type_name == "SpendRecord":
        row = await spend.get_visible(ctx, pk)
    elif type_name == "BudgetAlert":
        row = await alerts.get_visible(ctx, pk)
    elif type_name == "BudgetChangeRequest":
        row = await change_requests.get_visible(ctx, pk)
    elif type_name == "ActivityEntry":
        row = await activity.get_visible(ctx, pk)
    else:
        row = None
    return (type_name, row) if row is not None else None
