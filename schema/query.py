from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import strawberry

from db.readmodel import NODES
from db.reads import Record
from resolvers import accounts, api_keys, ids, nodes
from schema.accounts import Account, Viewer
from schema.activity import ActivityEntry
from schema.alerts import BudgetAlert
from schema.api_keys import ApiKey
from schema.audiences import Audience
from schema.budget_sources import Order, PurchaseOrder
from schema.campaigns import Allocation, Campaign, SpendRecord
from schema.change_requests import BudgetChangeRequest
from schema.common import After, Connection, Info, Node, PageSize, page_size
from schema.enums import Role

# Each kind of node of the registry (db/readmodel.NODES), as its type: named alike.
_NODE_TYPES: dict[str, Callable[[Record], Node]] = {
    t.__name__: t.from_record
    for t in (
        Account,
        Order,
        PurchaseOrder,
        Audience,
        Campaign,
        ApiKey,
        SpendRecord,
        Allocation,
        BudgetAlert,
        BudgetChangeRequest,
        ActivityEntry,
    )
}
if set(_NODE_TYPES) != set(NODES):
    raise RuntimeError(f"node types and the registry differ: {set(_NODE_TYPES) ^ set(NODES)}")


@strawberry.type(description="Reads. Another account's objects are null, exactly as if they did not exist (R8).")
class Query:
    @strawberry.field(description="Any object by its global ID; null when unknown or not yours.")
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Any object's id.")]
    ) -> Node | None:
        found = await nodes.get_node(info.context, id)
        if found is None:
            return None
        type_name, row = found
        return _NODE_TYPES[type_name](row)

    @strawberry.field(description="The API key making this request: its name, role and account.")
    def viewer(self, info: Info) -> Viewer:
        principal = info.context.principal
        return Viewer(role=Role(principal.role), api_key_name=principal.name)

    @strawberry.field(
        description="Your own account, or any account for ACCOUNT_TEAM and DELIVERY keys; null otherwise (R8)."
    )
    async def account(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The account's id.")]
    ) -> Account | None:
        decoded = ids.decode(id)
        if decoded is None or decoded[0] != "Account":
            return None
        found = await accounts.get_visible(info.context, decoded[1])
        return Account.from_record(found) if found else None

    @strawberry.field(description="Accounts you can see: your own, or all of them for ACCOUNT_TEAM and DELIVERY keys.")
    async def accounts(self, info: Info) -> list[Account]:
        return [Account.from_record(r) for r in await accounts.list_all(info.context)]

    @strawberry.field(
        description="Every API key (never a secret), newest first, for the account team; other keys see an empty "
        "list. revokeApiKey revokes one; budgetline list-api-keys lists them on the server."
    )
    async def api_keys(self, info: Info, first: PageSize = 50, after: After = None) -> Connection[ApiKey]:
        page = await api_keys.page(info.context, page_size(first, 50), after)
        return Connection.of(page, ApiKey.from_record)
