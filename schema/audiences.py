"""GraphQL types: Audiences, chosen in wizard step 1.

Shapes only: each field delegates to `resolvers`. Types of other aggregates are referred to
lazily (strawberry.lazy), so these modules may refer to each other."""

from __future__ import annotations

import strawberry

from db.reads import Record
from schema.common import FromRecord, Node, id_of


@strawberry.type(description="A target audience of an account's campaigns, chosen in wizard step 1.")
class Audience(Node, FromRecord):
    record: strawberry.Private[Record]
    name: str = strawberry.field(description="Its name, unique in the account.")

    VALUES = {"id": id_of("Audience")}
