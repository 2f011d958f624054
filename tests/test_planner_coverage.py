"""Which fields the planner answers, decided from the schema: every field of every type reachable
from Query is planned (no type or field is left to graphql-core unnoticed), and the statement a
document selecting all of them makes runs on PostgreSQL. (Whether a planned field answers as
graphql-core does is tests/test_planner_differential.py's job.)"""

from __future__ import annotations

import asyncpg
import pytest
from graphql import (
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
    parse,
)

from budgetline.planner import Unplannable, plan_document
from resolvers.context import Principal
from schema import graphql_schema, schema

GRAPHQL = graphql_schema(schema)


def selection(type_: GraphQLNamedType, seen: set[str]) -> str:
    """Every field of `type_`, with every concrete type of an abstract one; each object type's
    fields are selected where it is first reached (`seen`), `__typename` elsewhere."""
    if isinstance(type_, (GraphQLInterfaceType, GraphQLUnionType)):
        parts = [f"... on {t.name} {{ {selection(t, seen)} }}" for t in GRAPHQL.get_possible_types(type_)]
        return "__typename " + " ".join(parts)
    assert isinstance(type_, GraphQLObjectType)
    if type_.name in seen:
        return "__typename"
    seen.add(type_.name)
    fields = ["__typename"]
    for name, definition in type_.fields.items():
        inner = get_named_type(definition.type)
        if isinstance(inner, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)):
            fields.append(f"{name} {{ {selection(inner, seen)} }}")
        else:
            fields.append(name)
    return " ".join(fields)


def every_field(query: str) -> str:
    """A document of every field reachable from Query, `node` and `account` asking for `query`."""
    root = GRAPHQL.query_type
    assert root is not None
    document = f"{query} {{ {selection(root, set())} }}"
    return document.replace("node {", "node(id: $id) {").replace("account {", "account(id: $id) {")


def reachable() -> set[str]:
    """The object types reachable from Query."""
    found: set[str] = set()
    pending: list[GraphQLNamedType] = [GRAPHQL.query_type]  # type: ignore[list-item]
    while pending:
        type_ = pending.pop()
        if isinstance(type_, (GraphQLInterfaceType, GraphQLUnionType)):
            pending += GRAPHQL.get_possible_types(type_)
        elif isinstance(type_, GraphQLObjectType) and type_.name not in found:
            found.add(type_.name)
            pending += [get_named_type(f.type) for f in type_.fields.values()]
    return found


def test_every_field_reachable_from_query_is_planned() -> None:
    document = every_field("query($id: ID!)")
    plan = plan_document(GRAPHQL, parse(document), None)  # a field it cannot plan raises Unplannable
    types = reachable()
    assert {"Campaign", "SpendRecord", "FieldChange", "AlertSettings", "Amendment", "PageInfo"} <= types
    for type_name in types:  # each one's fields are in the statement, under its __typename
        assert f"'{type_name}' AS \"__typename\"" in plan.sql, type_name


@pytest.mark.parametrize("role", ["ACCOUNT_TEAM", "VIEWER"])
async def test_the_statement_of_every_field_runs(db: asyncpg.Connection, role: str) -> None:
    plan = plan_document(GRAPHQL, parse(every_field("query($id: ID!)")), None)
    principal = Principal(1, "key", role, None if role == "ACCOUNT_TEAM" else 1)
    data = await plan.data(db, plan.bind(GRAPHQL, principal, {"id": "QWNjb3VudDox"}))
    assert data.startswith(b'{"__typename":"Query"')


def test_introspection_and_directives_are_left_to_graphql_core() -> None:
    for document in ("{ __schema { queryType { name } } }", "{ viewer @include(if: true) { role } }"):
        with pytest.raises(Unplannable):
            plan_document(GRAPHQL, parse(document), None)


def test_a_statement_past_the_bounds_is_left_to_graphql_core(monkeypatch: pytest.MonkeyPatch) -> None:
    from budgetline import planner

    document = parse(every_field("query($id: ID!)"))
    size = len(plan_document(GRAPHQL, document, None).sql)
    monkeypatch.setattr(planner, "MAX_PLAN_CHARS", size - 1)
    with pytest.raises(Unplannable, match=f"{size} characters"):
        plan_document(GRAPHQL, document, None)
    monkeypatch.setattr(planner, "MAX_PLAN_CHARS", size)
    monkeypatch.setattr(planner, "MAX_PLAN_PARAMETERS", 2)
    with pytest.raises(Unplannable, match="parameters"):
        plan_document(GRAPHQL, document, None)
