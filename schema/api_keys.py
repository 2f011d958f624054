"""GraphQL types: API keys.

Shapes only: each field delegates to `resolvers`. Types of other aggregates are referred to
lazily (strawberry.lazy), so these modules may refer to each other."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.reads import Record
from schema import accounts as accounts_types
from schema.common import FromRecord, Info, Node, id_of
from schema.enums import Role

if TYPE_CHECKING:
    from schema.accounts import Account


AccountRef = Annotated["Account", strawberry.lazy("schema.accounts")]


@strawberry.type(description="An API key, seen by the account team only; its secret is shown once, on issue.")
class ApiKey(Node, FromRecord):
    record: strawberry.Private[Record]
    name: str = strawberry.field(description="Its name; ledgers name the key by it (actor, reportedBy).")
    role: Role = strawberry.field(description="What it may do.")
    secret: str | None = strawberry.field(description="Shown once, in the issueApiKey result; null afterwards.")
    created_at: datetime = strawberry.field(description="When it was issued (UTC).")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked (UTC); null while it works.")

    VALUES = {
        "id": id_of("ApiKey"),
        "secret": lambda r: None,  # shown once, by issueApiKey's answer (read by the planner)
    }

    @strawberry.field(description="The account it belongs to; null for ACCOUNT_TEAM and DELIVERY keys.")
    async def account(self, info: Info) -> AccountRef | None:
        if self.record["account_id"] is None:
            return None
        found = await info.context.loaders.account.load(self.record["account_id"])
        return accounts_types.Account.from_record(found) if found else None
