"""GraphQL shapes: types, inputs, errors and scalars. `build_schema` makes the executable schema;
`schema` is the one without server limits, for tools (`strawberry export-schema schema:schema`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from schema.api_keys import ApiKey
from schema.audiences import Audience
from schema.budget_sources import Order, PurchaseOrder
from schema.campaigns import Campaign
from schema.mutation import Mutation
from schema.query import Query
from schema.scalars import SCALAR_MAP
from schema.subscription import Subscription


def build_schema(
    extensions: Sequence[Callable[[], SchemaExtension]] = (), schema_class: type[strawberry.Schema] = strawberry.Schema
) -> strawberry.Schema:
    return schema_class(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Order, PurchaseOrder, Campaign, Audience, ApiKey],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=list(extensions),
    )


schema = build_schema()

__all__ = ["build_schema", "schema"]
