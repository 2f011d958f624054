"""GraphQL shapes: types, inputs, errors and scalars. `build_schema` makes the executable schema;
`schema` is the one without server limits, for tools (`strawberry export-schema schema:schema`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import graphql
import orjson
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.base import BaseSchema
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.scalar import ScalarDefinition

from schema.api_keys import ApiKey
from schema.audiences import Audience
from schema.budget_sources import Order, PurchaseOrder
from schema.campaigns import Campaign
from schema.mutation import Mutation
from schema.query import Query
from schema.scalars import SCALAR_MAP
from schema.subscription import Subscription


class PlannedAnswers(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor (through Strawberry's public `execution_context_class` hook), with
    one addition: a value that is already the JSON of its field's answer (a mutation's payload,
    written by PostgreSQL: budgetline/payloads.py) is the field's value as it is."""

    def complete_value(
        self, return_type: Any, field_details_list: Any, info: Any, path: Any, result: Any, *rest: Any
    ) -> Any:
        if isinstance(result, orjson.Fragment):
            return result
        return super().complete_value(return_type, field_details_list, info, path, result, *rest)


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
        execution_context_class=PlannedAnswers,
    )


def graphql_schema(built: BaseSchema) -> graphql.GraphQLSchema:
    """`built` as graphql-core reads it, from Strawberry's public SDL (`as_str`), with each custom
    scalar's own parsers: what the validation rules and the planner read (budgetline/limits.py,
    budgetline/planner.py), the same types, fields, arguments and defaults Strawberry serves."""
    found = graphql.build_schema(built.as_str())
    for name, type_ in found.type_map.items():
        definition = built.get_type_by_name(name)
        if isinstance(type_, graphql.GraphQLScalarType) and isinstance(definition, ScalarDefinition):
            for part in ("parse_value", "parse_literal", "serialize"):
                if getattr(definition, part) is not None:
                    setattr(type_, part, getattr(definition, part))
    return found


schema = build_schema()

__all__ = ["build_schema", "graphql_schema", "schema"]
