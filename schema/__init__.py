"""GraphQL shapes: types, inputs, errors and scalars; `schema` is the executable schema."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from schema.mutation import Mutation
from schema.query import Query
from schema.scalars import SCALAR_MAP
from schema.types import ApiKey, Audience, Campaign, Order, PurchaseOrder

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    types=[Order, PurchaseOrder, Campaign, Audience, ApiKey],
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
)

__all__ = ["schema"]
