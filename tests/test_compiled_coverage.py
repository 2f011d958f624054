"""Which fields the compiled path runs (budgetline/compiled.py), decided from the schema: every
field of every type reachable from Query is either compiled or listed in EXCLUDED with why. A
field added to one of these types, or a type newly reachable, fails here until it is one or the
other, so nothing leaves the fast path unnoticed. (Whether a compiled field answers as
graphql-core does is tests/test_compiled_differential.py's job.)"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_abstract_type,
    parse,
)
from strawberry.permission import BasePermission

from budgetline.compiled import Compiler, Unsupported, root_fields
from schema import schema

# Fields the compiled path hands to graphql-core, with why. None today: every query runs compiled.
EXCLUDED: set[tuple[str, str]] = set()

LITERALS = {"ID": '"x"', "String": '"x"', "Int": "1", "Boolean": "true", "Date": '"2026-01-01"', "Decimal": '"1"'}


def _arguments(field: Any) -> str:
    """Literals for a field's required arguments (optional ones are left out)."""
    given = []
    for name, argument in field.args.items():
        if isinstance(argument.type, GraphQLNonNull):
            named = get_named_type(argument.type)
            value = next(iter(named.values)) if isinstance(named, GraphQLEnumType) else LITERALS[named.name]
            given.append(f"{name}: {value}")
    return f"({', '.join(given)})" if given else ""


def paths(graphql_schema: GraphQLSchema) -> dict[str, str]:
    """How a query reaches each object type from Query, shortest first: `%s` is the selection."""
    found = {"Query": "%s"}
    queue = ["Query"]
    while queue:
        type_ = graphql_schema.get_type(queue.pop(0))
        assert isinstance(type_, GraphQLObjectType)
        for name, field in type_.fields.items():
            target = get_named_type(field.type)
            if not isinstance(target, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)):
                continue
            selection = f"{name}{_arguments(field)} {{ %s }}"
            for possible in graphql_schema.get_possible_types(target) if is_abstract_type(target) else [target]:
                if possible.name not in found:
                    inner = f"... on {possible.name} {{ %s }}" if is_abstract_type(target) else "%s"
                    found[possible.name] = found[type_.name] % (selection % inner)
                    queue.append(possible.name)
    return found


def compiles(strawberry_schema: Any, document: str) -> bool:
    parsed = parse(document)
    try:
        root_fields(Compiler(strawberry_schema, strawberry_schema._schema, parsed), parsed.definitions[0])
    except Unsupported:
        return False
    return True


def test_every_field_reachable_from_query_is_compiled_or_excluded() -> None:
    graphql_schema = schema._schema
    reached = paths(graphql_schema)
    excluded = set()
    for type_name, path in reached.items():
        type_ = graphql_schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        for name, field in type_.fields.items():
            target = get_named_type(field.type)
            composite = isinstance(target, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType))
            leaf = " { __typename }" if composite else ""
            if not compiles(schema, "query { " + path % (name + _arguments(field) + leaf) + " }"):
                excluded.add((type_name, name))
    assert excluded == EXCLUDED
    # The walk is real: it reaches the hot reads' types and their related objects.
    assert {"Account", "Order", "PurchaseOrder", "Campaign", "Audience", "Allocation", "SpendRecord"} <= reached.keys()
    assert {"BudgetAlert", "BudgetChangeRequest", "ActivityEntry", "ApiKey", "Viewer"} <= reached.keys()


class _Never(BasePermission):
    message = "no"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class _Query:
    open: str = "open"

    @strawberry.field(permission_classes=[_Never])
    def guarded(self) -> str:
        return "guarded"


def test_a_field_with_a_permission_class_is_not_compiled() -> None:
    # The net is real: a field the compiled path cannot run makes the document unsupported.
    guarded = strawberry.Schema(query=_Query)
    assert compiles(guarded, "query { open }")
    assert not compiles(guarded, "query { open guarded }")
