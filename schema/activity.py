"""GraphQL types: The trace of every change (R20).

Shapes only: each field delegates to `resolvers`. Types of other aggregates are referred to
lazily (strawberry.lazy), so these modules may refer to each other."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.reads import Record
from schema.common import FromRecord, Node, id_of


@strawberry.type(description="One field a change changed, with its values as the API writes them (null: none).")
class FieldChange:
    field: str = strawberry.field(description='The GraphQL field name, e.g. "status".')
    before: str | None = strawberry.field(description='The value before, e.g. "DRAFT" or "12.00"; null: none.')
    after: str | None = strawberry.field(description='The value after, e.g. "PUBLISHED"; null: none (deleted).')


@strawberry.type(description="One entry of the trace (R20): a successful mutation, a spend report or a sweeper action.")
class ActivityEntry(Node, FromRecord):
    record: strawberry.Private[Record]
    at: datetime = strawberry.field(description="When it happened (UTC): the start of its transaction.")
    actor: str = strawberry.field(description='The key that did it, or "budgetline" for the sweeper.')
    request_id: str | None = strawberry.field(
        description="The request's X-Request-Id (as in the server's log line); null for the sweeper."
    )
    operation: str = strawberry.field(
        description="The mutation's field name, e.g. \"publishCampaign\"; the sweeper's: endCampaign, settleCampaign, "
        "raiseAlert."
    )
    subject_id: strawberry.ID = strawberry.field(description="The global ID of what it changed.")
    changes: list[FieldChange] = strawberry.field(
        description="The fields that changed, before and after; never a secret."
    )

    VALUES = {
        "id": id_of("ActivityEntry"),
        "changes": lambda r: [
            FieldChange(field=c["field"] or "", before=c.get("before"), after=c.get("after")) for c in r["changes"]
        ],
    }
