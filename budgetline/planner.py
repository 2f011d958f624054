"""Queries answered by PostgreSQL: each document is planned once into one SQL statement whose
single value is the response's `data`, built as JSON by the database; the server writes those
bytes into the response as they are.

How a plan is made (once per document and operation, cached in bytes):

- Fields are collected per concrete type exactly as graphql-core collects them (fragments,
  inline fragments on interfaces and unions, aliases, duplicate keys merged in order).
- Every object is one `row_to_json` over a row of its type's view (db/readmodel.py says which,
  and how a field's objects join their parent); a list is `array_to_json(array_agg(...))` in its
  order; a connection reads `first + 1` rows after its cursor for `edges` and `pageInfo`, and
  counts for `totalCount` only when asked. Every figure is a column of a view (migration 0008):
  nothing is computed here.
- An object whose type is abstract (`node`, `budgetSource`, `budgetSources`) is a CASE over
  the concrete types it can be, each with its own fields.
- Arguments, variables and the key's principal are parameters, bound per request by
  graphql-core's own coercion (`get_variable_values`, `get_argument_values`); R8's visibility is
  part of the statement (`node`, `account`, `accounts`, `viewer`).

What is not planned is answered by graphql-core over the same read model, with the same
answer (tests/test_planner_differential.py holds both to byte-identical responses):
mutations and subscriptions (payloads of mutations come from `payload` below), introspection,
directives, and, per request, whatever makes
graphql-core answer with an error (a variable or argument that does not coerce, `first` out of
range, a cursor from elsewhere, a cost over the limit).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    NameNode,
    OperationType,
    SelectionSetNode,
    get_argument_values,
    get_named_type,
    get_operation_ast,
    get_variable_values,
    is_abstract_type,
)
from graphql.language import Visitor, visit

from budgetline.limits import MAX_ALIAS_LENGTH, BoundedCache, Documents, document_weight
from budgetline.observability import operation_label
from db import readmodel
from db.readmodel import Embedded, Items, Link, Many, One, OneOf, Page
from resolvers import ids
from resolvers.context import Principal
from resolvers.errors import InvalidInput
from resolvers.pagination import MAX_PAGE_SIZE, decode_cursor

log = logging.getLogger("budgetline.planner")


# A plan past either bound is left to graphql-core: they bound what one document can make the
# server and PostgreSQL parse and keep (every field reachable from Query at once plans to 22 KB).
MAX_PLAN_CHARS = 512 * 1024
MAX_PLAN_PARAMETERS = 1000


# Placeholders of given values (GIVEN[name]): random per process, never sent to a client.
GIVEN: dict[str, str] = defaultdict(lambda: f"given-{secrets.token_hex(16)}")


class Unplannable(Exception):
    """Plan time: the document uses what plans do not cover; graphql-core answers it."""


class Handover(Exception):
    """Run time: this request's variables or arguments make graphql-core answer with an error
    (or the cost judged with them is over the limit): it answers."""


@dataclass
class Bind:
    """One request's values: the key, the coerced variables, each field's arguments (by node),
    and for a mutation's payload the object it shows (`values`: its key, a secret shown once)."""

    principal: Principal | None
    variables: Any  # graphql-core's VariableValues
    values: dict[str, Any] = field(default_factory=dict)
    arguments: dict[int, dict[str, Any]] = field(default_factory=dict)

    def args(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        found = self.arguments.get(id(node))
        if found is None:
            try:
                found = get_argument_values(definition, node, self.variables)
            except GraphQLError as error:
                raise Handover(error.message) from None
            self.arguments[id(node)] = found
        return found


Binder = Callable[[Bind], Any]


@dataclass(frozen=True)
class Plan:
    """One statement and how to bind its parameters."""

    sql: str
    binders: tuple[Binder, ...]
    variables: tuple[Any, ...]  # the operation's VariableDefinitionNodes
    label: str  # operation_label(): "query:<root fields>"
    name: str | None
    document: DocumentNode
    deferred_cost: bool  # the cost limit is judged with each request's variables

    def bind(self, schema: GraphQLSchema, principal: Principal, variables: dict[str, Any] | None) -> list[Any]:
        coerced = get_variable_values(schema, self.variables, variables or {})
        if isinstance(coerced, list):
            raise Handover("variables")
        bind = Bind(principal, coerced)
        return [binder(bind) for binder in self.binders]

    async def data(self, conn: Any, values: Sequence[Any], timeout_s: float | None = None) -> bytes:
        """The response's `data`, as JSON bytes written by PostgreSQL (within `timeout_s`: past
        it the statement is cancelled, whatever stands between us and the server)."""
        found: bytes = await conn.fetchval(self.sql, *values, timeout=timeout_s)
        return found


# --- SQL writing helpers ---------------------------------------------------------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _key(node: FieldNode) -> str:
    key = node.alias.value if node.alias else node.name.value
    assert len(key) <= MAX_ALIAS_LENGTH, "validation refuses longer aliases (AliasLengthRule)"
    return '"' + key + '"'


def _json_object(columns: list[str]) -> str:
    """One JSON object of `expr AS "key"` columns (`{}` for none)."""
    return f"(SELECT row_to_json(_o) FROM (SELECT {', '.join(columns)}) _o)"


def _array(items: str, order: str) -> str:
    return f"coalesce(array_to_json(array_agg({items} ORDER BY {order})), '[]')"


def _unwrap(type_: GraphQLOutputType) -> GraphQLOutputType:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _plain(value: Any) -> Any:
    """A coerced argument as a SQL parameter: an enum by its value."""
    return value.value if isinstance(value, Enum) else value


class _Writer:
    """Writes one document's statement: its parameters, aliases and SQL, by walking the fields."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode | None = None) -> None:
        self.schema = schema
        definitions = document.definitions if document is not None else ()
        self.fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
        self.binders: list[Binder] = []
        self.named: dict[str, str] = {}
        self.aliases = 0
        # Fields whose value is not read but given per request (ApiKey.secret in issueApiKey's
        # answer): a placeholder string in the statement, replaced in its answer (GIVEN).
        self.given: dict[tuple[str, str], str] = {}

    # parameters and aliases

    def param(self, binder: Binder, sql_type: str) -> str:
        self.binders.append(binder)
        return f"${len(self.binders)}::{sql_type}"

    def principal(self, name: str) -> str:
        """The key's own values, one parameter each however often used."""
        if name not in self.named:
            binders: dict[str, tuple[Binder, str]] = {
                "viewer": (lambda b: _principal(b).account_id, "bigint"),
                "team": (lambda b: _principal(b).is_account_team, "boolean"),
                "role": (lambda b: _principal(b).role, "text"),
                "key_name": (lambda b: _principal(b).name, "text"),
            }
            self.named[name] = self.param(*binders[name])
        return self.named[name]

    def argument(
        self, definition: GraphQLField, node: FieldNode, name: str, sql_type: str, convert: Any = _plain
    ) -> str:
        key = definition.args[name].out_name or name
        return self.param(lambda b: convert(b.args(definition, node).get(key)), sql_type)

    def alias(self) -> str:
        self.aliases += 1
        return f"t{self.aliases}"

    # fields

    def collect(
        self, type_: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode | None]
    ) -> dict[str, list[FieldNode]]:
        """The fields of `type_` by response key, in order, as graphql-core collects them."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def walk(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if selection.directives:
                    raise Unplannable("directives")
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if self.applies(selection.type_condition.name.value if selection.type_condition else None, type_):
                        walk(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in visited:
                        continue
                    visited.add(name)
                    fragment = self.fragments[name]
                    if fragment.directives:
                        raise Unplannable("directives")
                    if self.applies(fragment.type_condition.name.value, type_):
                        walk(fragment.selection_set)

        for selection_set in selection_sets:
            if selection_set is not None:
                walk(selection_set)
        return fields

    def applies(self, condition: str | None, type_: GraphQLObjectType) -> bool:
        if condition is None or condition == type_.name:
            return True
        conditional = self.schema.get_type(condition)
        return is_abstract_type(conditional) and self.schema.is_sub_type(conditional, type_)

    def concrete(self, type_: GraphQLNamedType) -> Sequence[GraphQLObjectType]:
        if isinstance(type_, GraphQLObjectType):
            return [type_]
        assert isinstance(type_, (GraphQLInterfaceType, GraphQLUnionType))
        return self.schema.get_possible_types(type_)

    def columns(self, type_: GraphQLObjectType, r: str, nodes: Sequence[FieldNode]) -> list[str]:
        """`expr AS "key"` for each field of `type_` the nodes select, over row `r`."""
        return self.selected(type_, r, [n.selection_set for n in nodes])

    def selected(
        self, type_: GraphQLObjectType, r: str, selection_sets: Sequence[SelectionSetNode | None]
    ) -> list[str]:
        fields = self.collect(type_, selection_sets)
        return [f"{self.field(type_, r, group)} AS {_key(group[0])}" for group in fields.values()]

    def field(self, parent: GraphQLObjectType, r: str, nodes: list[FieldNode]) -> str:
        name = nodes[0].name.value
        if name == "__typename":
            return _literal(parent.name)
        if name.startswith("__"):
            raise Unplannable("introspection")
        definition = parent.fields[name]
        if parent.name == "Query":
            return self.root(definition, nodes)
        if parent.name == "Viewer":
            return self.viewer(definition, nodes)
        link = readmodel.LINKS.get((parent.name, name))
        if link is not None:
            return self.link(parent, r, definition, nodes, link)
        return self.scalar(parent, r, name, definition.type)

    def scalar(self, parent: GraphQLObjectType, r: str, name: str, type_: GraphQLOutputType) -> str:
        if (parent.name, name) in self.given:
            return _literal(self.given[parent.name, name])
        if name == "id" and parent.name in readmodel.NODES:
            return f"global_id({_literal(parent.name)}, {r}.id)"
        column = readmodel.column(parent.name, name)
        if column is None:
            return "NULL"
        value = f"{r}.{column}"
        named = get_named_type(type_).name
        if named == "Decimal":
            return f"{value}::text"
        if named == "DateTime":
            return f"iso_datetime({value})"
        return value

    # objects

    def row_object(self, type_: GraphQLObjectType, relation_where: str, r: str, nodes: Sequence[FieldNode]) -> str:
        """The one object of `type_` whose row `r` meets `relation_where`, or null."""
        relation = readmodel.RELATIONS[type_.name]
        conditions = [c for c in (relation.where.format(r=r), relation_where) if c]
        columns = self.columns(type_, r, nodes)
        return (
            f"(SELECT row_to_json(_o) FROM {relation.source} {r} CROSS JOIN LATERAL (SELECT {', '.join(columns)}) _o"
            f" WHERE {' AND '.join(conditions)})"
        )

    def visible(self, kind: readmodel.NodeKind, r: str) -> str:
        """R8 as a condition on row `r`."""
        if kind.visibility == "account_team":
            return self.principal("team")
        column = "id" if kind.visibility == "self" else "account_id"
        viewer = self.principal("viewer")
        return f"({viewer} IS NULL OR {r}.{column} = {viewer})"

    def root(self, definition: GraphQLField, nodes: list[FieldNode]) -> str:
        name = nodes[0].name.value
        if name == "viewer":
            assert isinstance(_unwrap(definition.type), GraphQLObjectType)
            return _json_object(self.columns(_unwrap(definition.type), "", nodes))  # type: ignore[arg-type]
        if name == "accounts":
            account = self.schema.get_type("Account")
            assert isinstance(account, GraphQLObjectType)
            r = self.alias()
            visible = self.visible(readmodel.NODES["Account"], r)
            columns = self.columns(account, r, nodes)
            return (
                f"(SELECT {_array('row_to_json(_o)', f'{r}.id')} FROM accounts {r}"
                f" CROSS JOIN LATERAL (SELECT {', '.join(columns)}) _o WHERE {visible})"
            )
        if name == "account":
            account = self.schema.get_type("Account")
            assert isinstance(account, GraphQLObjectType)
            pk = self.param(lambda b: _pk(b.args(definition, nodes[0])["id"], ("Account",))[1], "bigint")
            r = self.alias()
            return self.row_object(
                account, f"{r}.id = {pk} AND {self.visible(readmodel.NODES['Account'], r)}", r, nodes
            )
        link = readmodel.LINKS.get(("Query", name))
        if link is not None:
            query = self.schema.query_type
            assert query is not None
            return self.link(query, "", definition, nodes, link)
        if name == "node":
            kinds = tuple(readmodel.NODES)
            decoded: Binder = lambda b: _pk(b.args(definition, nodes[0])["id"], kinds)  # noqa: E731
            kind = self.param(lambda b: decoded(b)[0], "text")
            pk = self.param(lambda b: decoded(b)[1], "bigint")
            branches = []
            for type_ in self.concrete(get_named_type(definition.type)):
                node_kind = readmodel.NODES[type_.name]
                r = self.alias()
                found = self.row_object(type_, f"{r}.id = {pk} AND {self.visible(node_kind, r)}", r, nodes)
                branches.append(f"WHEN {_literal(type_.name)} THEN {found}")
            return f"(CASE {kind} {' '.join(branches)} END)"
        raise Unplannable(f"Query.{name}")

    def viewer(self, definition: GraphQLField, nodes: list[FieldNode]) -> str:
        name = nodes[0].name.value
        if name == "role":
            return self.principal("role")
        if name == "apiKeyName":
            return self.principal("key_name")
        if name == "account":
            account = self.schema.get_type("Account")
            assert isinstance(account, GraphQLObjectType)
            r = self.alias()
            return self.row_object(account, f"{r}.id = {self.principal('viewer')}", r, nodes)
        raise Unplannable(f"Viewer.{name}")

    # links

    def link(
        self, parent: GraphQLObjectType, p: str, definition: GraphQLField, nodes: list[FieldNode], link: Link
    ) -> str:
        target = get_named_type(definition.type)
        names = {"p": p, "kind": parent.name}
        if "{team}" in repr(link):  # the key's own values, bound only where a link asks for them
            names["team"] = self.principal("team")
        if isinstance(link, One):
            assert isinstance(target, GraphQLObjectType)
            r = self.alias()
            return self.row_object(target, link.on.format(r=r, **names), r, nodes)
        if isinstance(link, OneOf):
            branches = []
            for type_name, when, on in link.options:
                type_ = self.schema.get_type(type_name)
                assert isinstance(type_, GraphQLObjectType)
                r = self.alias()
                branches.append(
                    f"WHEN {when.format(**names)} THEN {self.row_object(type_, on.format(r=r, **names), r, nodes)}"
                )
            return f"(CASE {' '.join(branches)} END)"
        if isinstance(link, Embedded):
            assert isinstance(target, GraphQLObjectType)
            return _json_object(self.columns(target, p, nodes))
        if isinstance(link, Items):
            return self.items(target, p, nodes, link)
        if isinstance(link, Many):
            return self.many(target, p, definition, nodes, link, names)
        return self.page(target, p, definition, nodes, link, names)

    def filters(self, definition: GraphQLField, node: FieldNode, filters: dict[str, str], r: str) -> list[str]:
        found = []
        for argument, condition in filters.items():
            sql_type = "boolean" if argument == "acknowledged" else "text"
            value = self.argument(definition, node, argument, sql_type)
            found.append(f"({value} IS NULL OR {condition.format(r=r, **{argument: value})})")
        return found

    def item(self, type_: GraphQLNamedType, r: str, nodes: Sequence[FieldNode]) -> str:
        """One list item over row `r`: the object of its concrete type (by `kind` for a source)."""
        types = self.concrete(type_)
        if len(types) == 1:
            return _json_object(self.columns(types[0], r, nodes))
        branches = " ".join(f"WHEN {_literal(t.name)} THEN {_json_object(self.columns(t, r, nodes))}" for t in types)
        return f"(CASE {r}.kind {branches} END)"

    def many(
        self,
        target: GraphQLNamedType,
        p: str,
        definition: GraphQLField,
        nodes: list[FieldNode],
        link: Many,
        names: dict[str, str],
    ) -> str:
        r = self.alias()
        arguments = {
            name: self.argument(definition, nodes[0], name, "boolean", bool)
            for name in definition.args
            if "{" + name + "}" in (link.source or "")
        }
        relation = readmodel.RELATIONS.get(target.name)
        source = (link.source or (relation.source if relation else "")).format(**names, **arguments)
        conditions = [link.on.format(r=r, **names)]
        if relation is not None and relation.where:
            conditions.append(relation.where.format(r=r))
        conditions += self.filters(definition, nodes[0], link.filters, r)
        order = link.order.format(r=r)
        rows = f"{source} {r}"
        if link.limit is not None:
            rows = (
                f"(SELECT * FROM {source} {r} WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT {link.limit}) {r}"
            )
            conditions = ["true"]
        return f"(SELECT {_array(self.item(target, r, nodes), order)} FROM {rows} WHERE {' AND '.join(conditions)})"

    def items(self, target: GraphQLNamedType, p: str, nodes: list[FieldNode], link: Items) -> str:
        assert isinstance(target, GraphQLObjectType)
        i = self.alias()
        fields = self.collect(target, (n.selection_set for n in nodes))
        columns = []
        for group in fields.values():
            name = group[0].name.value
            value = _literal(target.name) if name == "__typename" else link.keys[name].format(i=f"{i}.value")
            columns.append(f"{value} AS {_key(group[0])}")
        return (
            f"(SELECT {_array('row_to_json(_o)', f'{i}.n')} FROM jsonb_array_elements({p}.{link.column})"
            f" WITH ORDINALITY AS {i}(value, n) CROSS JOIN LATERAL (SELECT {', '.join(columns)}) _o)"
        )

    def page(
        self,
        connection: GraphQLNamedType,
        p: str,
        definition: GraphQLField,
        nodes: list[FieldNode],
        link: Page,
        names: dict[str, str],
    ) -> str:
        """A connection: `first + 1` rows after the cursor, newest first; `edges` from the first
        `first`, `hasNextPage` from the one more; `totalCount` counted apart, only if asked."""
        assert isinstance(connection, GraphQLObjectType)
        node = nodes[0]
        default = link.default_first
        first = self.param(lambda b: _first(b.args(definition, node).get("first"), default), "integer")
        key_type = "date" if link.key == "day" else "bigint"
        before = self.param(lambda b: _before(b.args(definition, node).get("after"), link.key), key_type)
        relation = readmodel.RELATIONS[link.target]
        r0, r, g = self.alias(), self.alias(), self.alias()

        def conditions(alias: str) -> list[str]:
            found = [link.on.format(r=alias, **names)]
            if relation.where:
                found.append(relation.where.format(r=alias))
            return found + self.filters(definition, node, link.filters, alias)

        key = f"{r}.{link.key}"
        aggregates = ["count(*) AS n"]
        columns = []
        within = f"FILTER (WHERE {r}._n <= {first})"
        laterals = []
        for group in self.collect(connection, (n.selection_set for n in nodes)).values():
            name = group[0].name.value
            if name == "__typename":
                columns.append(f"{_literal(connection.name)} AS {_key(group[0])}")
            elif name == "totalCount":
                r2 = self.alias()
                counted = " AND ".join(conditions(r2))
                columns.append(f"(SELECT count(*) FROM {relation.source} {r2} WHERE {counted}) AS {_key(group[0])}")
            elif name == "pageInfo":
                info = connection.fields["pageInfo"].type
                columns.append(f"{self.page_info(info, group, g, first, link)} AS {_key(group[0])}")
                bounds = [f"max({key}) {within} AS first_key", f"min({key}) {within} AS last_key"]
                aggregates += [b for b in bounds if b not in aggregates]  # once, however many aliases
            elif name == "edges":
                edge = get_named_type(connection.fields["edges"].type)
                assert isinstance(edge, GraphQLObjectType)
                e = self.alias()
                laterals.append(f"CROSS JOIN LATERAL (SELECT {', '.join(self.edge(edge, r, group, link))}) {e}")
                aggregates.append(f"array_to_json(array_agg(row_to_json({e}) ORDER BY {r}._n) {within}) AS {e}")
                columns.append(f"coalesce({g}.{e}, '[]') AS {_key(group[0])}")
            else:
                raise Unplannable(f"{connection.name}.{name}")
        rows = (
            f"(SELECT {r0}.*, row_number() OVER (ORDER BY {r0}.{link.key} DESC) AS _n FROM {relation.source} {r0}"
            f" WHERE {' AND '.join(conditions(r0))} AND ({before} IS NULL OR {r0}.{link.key} < {before})"
            f" ORDER BY {r0}.{link.key} DESC LIMIT {first} + 1) {r}"
        )
        grouped = f"(SELECT {', '.join(aggregates)} FROM {rows} {' '.join(laterals)}) {g}"
        return f"(SELECT row_to_json(_o) FROM (SELECT {', '.join(columns)} FROM {grouped}) _o)"

    def edge(self, edge: GraphQLObjectType, r: str, nodes: list[FieldNode], link: Page) -> list[str]:
        columns = []
        for group in self.collect(edge, (n.selection_set for n in nodes)).values():
            name = group[0].name.value
            if name == "__typename":
                value = _literal(edge.name)
            elif name == "cursor":
                value = link.cursor_of(f"{r}.{link.key}")
            elif name == "node":
                value = self.item(get_named_type(edge.fields["node"].type), r, group)
            else:
                raise Unplannable(f"{edge.name}.{name}")
            columns.append(f"{value} AS {_key(group[0])}")
        return columns

    def page_info(self, type_: GraphQLOutputType, nodes: list[FieldNode], g: str, first: str, link: Page) -> str:
        info = get_named_type(type_)
        assert isinstance(info, GraphQLObjectType)
        values = {
            "__typename": _literal(info.name),
            "hasNextPage": f"{g}.n > {first}",
            "hasPreviousPage": "false",
            "startCursor": link.cursor_of(f"{g}.first_key"),
            "endCursor": link.cursor_of(f"{g}.last_key"),
        }
        columns = [
            f"{values[group[0].name.value]} AS {_key(group[0])}"
            for group in self.collect(info, (n.selection_set for n in nodes)).values()
        ]
        return _json_object(columns)


# --- binding: Python values of the arguments (the general path's checks, as hand-overs) -----------


def _principal(bind: Bind) -> Principal:
    assert bind.principal is not None, "a query is bound with its key"
    return bind.principal


def _pk(value: Any, kinds: tuple[str, ...]) -> tuple[str | None, int | None]:
    """(type, primary key) of an ID of one of `kinds`; (None, None) for anything else (null)."""
    decoded = ids.decode(value)
    if decoded is None or decoded[0] not in kinds:
        return None, None
    return decoded


def _first(value: Any, default: int) -> int:
    first = default if value is None else int(value)
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise Handover("first")
    return first


def _before(after: Any, key: str) -> int | date | None:
    if after is None:
        return None
    try:
        position = decode_cursor(after)
    except InvalidInput:
        raise Handover("after") from None
    if key == "day":  # a day's ordinal; one from elsewhere clamped into date's range
        return date.fromordinal(min(max(position, 1), date.max.toordinal()))
    return position


# --- plans by document --------------------------------------------------------------------------


class _Directives(Visitor):
    def enter_directive(self, *_: Any) -> None:
        raise Unplannable("directives")


def plan_document(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> Plan:
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation != OperationType.QUERY:
        raise Unplannable("not a query")
    visit(operation, _Directives())
    writer = _Writer(schema, document)
    root = schema.query_type
    assert root is not None
    columns = writer.selected(root, "", [operation.selection_set])
    sql = f"SELECT convert_to(row_to_json(_o)::text, 'UTF8') FROM (SELECT {', '.join(columns)}) _o"
    if len(sql) > MAX_PLAN_CHARS or len(writer.binders) > MAX_PLAN_PARAMETERS:
        raise Unplannable(f"a statement of {len(sql)} characters and {len(writer.binders)} parameters")
    return Plan(
        sql=sql,
        binders=tuple(writer.binders),
        variables=tuple(operation.variable_definitions or ()),
        label=operation_label(document, operation_name) or "query:-",
        name=operation.name.value if operation.name else None,
        document=document,
        deferred_cost=False,
    )


@dataclass(frozen=True)
class ObjectPlan:
    """One object of a type by its key: a mutation's payload, read in its transaction."""

    sql: str | None  # None: nothing to read (only __typename is asked)
    constant: bytes  # the answer when there is nothing to read
    binders: tuple[Binder, ...]
    given: tuple[str, ...] = ()  # fields of `values` put in place of their placeholders

    async def data(self, conn: Any, values: dict[str, Any]) -> bytes:
        if self.sql is None:
            return self.constant
        bind = Bind(principal=None, variables=None, values=values)
        found: bytes = await conn.fetchval(self.sql, *(binder(bind) for binder in self.binders))
        for name in self.given:
            found = found.replace(orjson.dumps(GIVEN[name]), orjson.dumps(values[name]))
        return found


def plan_object(
    schema: GraphQLSchema, type_name: str, selection_set: SelectionSetNode, given: Sequence[str] = ()
) -> ObjectPlan:
    """The object of `type_name` whose key is bound as `values["pk"]`, with the fields the
    selection set (of its field, whatever that field's type) asks of that type; `given` fields
    are taken from `values` by their name instead of read (a secret is no parameter of a
    statement, where a server's log of it could show it: it is put into the answer's bytes)."""
    type_ = schema.get_type(type_name)
    assert isinstance(type_, GraphQLObjectType)
    writer = _Writer(schema)
    fields = writer.collect(type_, [selection_set])
    if all(group[0].name.value == "__typename" for group in fields.values()):
        constant = "{" + ",".join(f'"{key}":"{type_name}"' for key in fields) + "}"
        return ObjectPlan(None, constant.encode(), ())
    for name in given:
        writer.given[type_name, name] = GIVEN[name]
    pk = writer.param(lambda b: b.values["pk"], "bigint")
    r = writer.alias()
    found = writer.row_object(
        type_, f"{r}.id = {pk}", r, [FieldNode(name=NameNode(value="-"), selection_set=selection_set)]
    )
    return ObjectPlan(f"SELECT convert_to(({found})::text, 'UTF8')", b"", tuple(writer.binders), tuple(given))


def document_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]


class Planner:
    """Plans by (document, operation name), made on first sight; None: graphql-core answers.
    Documents are parsed and validated by the general path's own `Documents` (the same caches,
    rules and limits), and plans are kept in an LRU bounded in bytes."""

    def __init__(self, schema: GraphQLSchema, documents: Documents, max_bytes: int, *, strict: bool = False) -> None:
        self.schema = schema
        self.documents = documents
        self.plans: BoundedCache[tuple[str, str | None], Plan | bool] = BoundedCache(1000, max_bytes)
        # Tests: an unexpected failure to plan raises instead of being logged and handed over.
        self.strict = strict

    def plan(self, query: str, operation_name: str | None) -> Plan | None:
        key = (query, operation_name)
        found = self.plans.get(key)
        if found is None:
            found, weight = self._make(query, operation_name)
            self.plans.put(key, found, weight)
        return found if isinstance(found, Plan) else None

    def _make(self, query: str, operation_name: str | None) -> tuple[Plan | bool, int]:
        try:
            document = self.documents.parse(query, operation_name)
        except GraphQLError:
            return False, len(query)
        weight = document_weight(query, document)
        checked = self.documents.check(self.schema, query, document)
        if checked.errors:
            return False, weight
        try:
            plan = plan_document(self.schema, document, operation_name)
        except Unplannable:
            return False, weight
        except Exception:
            if self.strict:
                raise
            log.error("could not plan document %s; graphql-core answers it", document_hash(query), exc_info=True)
            return False, weight
        if checked.deferred:
            plan = Plan(**{**plan.__dict__, "deferred_cost": True})
        return plan, weight + 2 * len(plan.sql)

    def bind(self, plan: Plan, principal: Principal, variables: dict[str, Any] | None) -> list[Any]:
        """The plan's parameters for this request; Handover when graphql-core must answer."""
        if plan.deferred_cost:
            errors = self.documents.limits.errors(self.schema, plan.document, variables or {}, plan.name)[0]
            if errors:
                raise Handover("cost")
        return plan.bind(self.schema, principal, variables)
