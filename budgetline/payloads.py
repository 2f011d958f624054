"""Mutation payloads by the planner: the object a mutation wrote, as its answer asks for it, read
in the mutation's own transaction after its work (resolvers/context.py `Payload`), one statement
built by PostgreSQL like every planned query (budgetline/planner.py, `plan_object`).

The answer's selection comes from Strawberry's public `info.selected_fields` (fragments kept as
fragments, arguments with their values, @skip and @include unevaluated), turned back into
graphql-core selection nodes here. What the mutation returned (an ORM row, an issued key) names
the object: its node kind by the registry (db/readmodel.NODES), and its key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from graphql import (
    ArgumentNode,
    FieldNode,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    SelectionNode,
    SelectionSetNode,
    ast_from_value,
    get_named_type,
    print_ast,
)
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from budgetline.limits import BoundedCache
from budgetline.planner import ObjectPlan, plan_object
from db.readmodel import NODES
from resolvers.api_keys import IssuedKey
from resolvers.context import Payload

Reader = Callable[[Any, Any], Awaitable[bytes]]  # (asyncpg connection, what was written) -> JSON
_KIND_OF = {kind.model: kind.name for kind in NODES.values()}


def identify(result: Any) -> tuple[str, dict[str, Any]]:
    """The node kind of what a mutation returned, and the values its plan binds."""
    if isinstance(result, IssuedKey):
        return "ApiKey", {"pk": result.row.id, "secret": result.secret}
    return _KIND_OF[type(result)], {"pk": result.id}


class Payloads:
    """Plans of payloads by (type, selection), kept in an LRU bounded in bytes."""

    def __init__(self, schema: GraphQLSchema, max_bytes: int) -> None:
        self.schema = schema
        self.plans: BoundedCache[tuple[str, str], ObjectPlan] = BoundedCache(1000, max_bytes)

    def reader(self, info: Any, within: str | None = None) -> Payload:
        """The payload of the mutation field `info` resolves: the object it returns, as every
        node of the field's response key asks for it (a field may be selected twice).

        With `within`, the objects a list field of the answer holds (reportSpends' results),
        read once per response key of that field: each alias asks for its own fields, so each
        has its own plan, and the payload's answer maps response key to bytes."""
        selections, parent = self._answer(info)
        if within is None:
            return Payload(self._read(selections, parent))
        assert isinstance(parent, GraphQLObjectType)
        inner = get_named_type(parent.fields[within].type)
        keys: dict[str, list[Selection]] = {}
        for found in _fields(selections):
            if found.name == within:
                keys.setdefault(found.alias or found.name, []).extend(found.selections)
        reads = {key: self._read(chosen, inner) for key, chosen in keys.items()}

        async def read(conn: Any, result: Any) -> dict[str, bytes]:
            return {key: await each(conn, result) for key, each in reads.items()}

        return Payload(read)

    def _answer(self, info: Any) -> tuple[list[Selection], GraphQLNamedType]:
        fields = info.selected_fields  # one per node of the response key, all of one field
        mutation = self.schema.mutation_type
        assert mutation is not None
        selections = [s for field in fields for s in field.selections]
        return selections, get_named_type(mutation.fields[fields[0].name].type)

    def _read(self, selections: Sequence[Selection], parent: GraphQLNamedType) -> Reader:
        selection_set = SelectionSetNode(selections=tuple(_nodes(self.schema, selections, parent)))
        printed = print_ast(selection_set)

        async def read(conn: Any, result: Any) -> bytes:
            kind, values = identify(result)
            plan = self._plan(kind, printed, selection_set, tuple(k for k in values if k != "pk"))
            return await plan.data(conn, values)

        return read

    def _plan(self, kind: str, printed: str, selection_set: SelectionSetNode, given: tuple[str, ...]) -> ObjectPlan:
        key = (kind, printed + repr(given))
        found = self.plans.get(key)
        if found is None:
            found = plan_object(self.schema, kind, selection_set, given)
            self.plans.put(key, found, 2 * len(printed) + 2 * len(found.sql or ""))
        return found


def _fields(selections: Sequence[Selection]) -> list[SelectedField]:
    found: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            found.append(selection)
        else:
            found += _fields(selection.selections)
    return found


def _included(directives: dict[str, dict[str, Any]]) -> bool:
    """@skip and @include, evaluated (their arguments come with the variables' values)."""
    return not directives.get("skip", {}).get("if", False) and directives.get("include", {}).get("if", True)


def _nodes(schema: GraphQLSchema, selections: Sequence[Selection], parent: GraphQLNamedType) -> list[SelectionNode]:
    """Strawberry's selections as graphql-core nodes; a fragment spread becomes the inline
    fragment it stands for (the same fields, in the same place)."""
    nodes: list[SelectionNode] = []
    for selection in selections:
        if not _included(selection.directives):
            continue
        if isinstance(selection, (FragmentSpread, InlineFragment)):
            condition = selection.type_condition
            inner = schema.get_type(condition) if condition else parent
            assert inner is not None
            nodes.append(
                InlineFragmentNode(
                    type_condition=NamedTypeNode(name=NameNode(value=condition)) if condition else None,
                    directives=(),
                    selection_set=SelectionSetNode(selections=tuple(_nodes(schema, selection.selections, inner))),
                )
            )
            continue
        definition = getattr(parent, "fields", {}).get(selection.name)
        arguments = []
        for name, value in selection.arguments.items():
            literal = ast_from_value(value, definition.args[name].type) if definition else None
            if literal is not None:
                arguments.append(ArgumentNode(name=NameNode(value=name), value=literal))
        inner_selections = None
        if selection.selections and definition is not None:
            inner = get_named_type(definition.type)
            inner_selections = SelectionSetNode(selections=tuple(_nodes(schema, selection.selections, inner)))
        nodes.append(
            FieldNode(
                alias=NameNode(value=selection.alias) if selection.alias else None,
                name=NameNode(value=selection.name),
                arguments=tuple(arguments),
                directives=(),
                selection_set=inner_selections,
            )
        )
    return nodes
