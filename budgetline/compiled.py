"""Compiled read queries: `account(id:)` answered without graphql-core's field-by-field execution.

The first time a document arrives it is parsed and validated as the general path does it (the
same token limit, the specification's rules and the server's own). If the operation is a query
on `account(id:)` whose fields this module can run, it becomes a tree of small functions,
cached by document. There is no second description of the read side here:

- Values are the Strawberry objects of schema/, built from the read model's records
  (db/reads.py) by the types' own `from_record`, exactly as the general path builds them.
- A field that Strawberry stores as an attribute is read by its Python name, taken from the
  type's Strawberry definition (`Schema.get_type_by_name`), and serialized by the schema's own
  scalar and enum serializers. A new such field needs no edit here.
- A field with a resolver runs that same resolver (its `StrawberryResolver`, with the request's
  context and coerced arguments). It may not wait: a resolver that would read the database
  hands the whole request to the general path (`Fallback`), unless the read was made ahead for
  the whole list, which is what `PREFETCHING` does for three fields with the rules of
  resolvers/ (the drop-down's filter, a campaign page and its prefetch policy).

Whatever is off that path goes to the general path, which answers it as it always has: a
document with other root fields or directives, a variable that does not coerce, a bad cursor or
`first`, a non-null value missing, any failure at all (`Plan.execute`), a field with extensions
(permission classes) or input-object arguments. Reads only, so nothing has to be
undone first. tests/test_compiled.py and tests/test_compiled_differential.py hold both paths to
byte-identical responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from operator import attrgetter
from typing import Any, cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationType,
    SelectionNode,
    get_named_type,
    get_operation_ast,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.schema.base import BaseSchema
from strawberry.types import ExecutionResult
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from budgetline.limits import BoundedCache, Documents, document_weight
from budgetline.observability import operation_label
from db.reads import Record
from resolvers import accounts, budget_sources, campaigns, ids
from resolvers.context import Context
from schema.accounts import Account
from schema.budget_sources import source_from_record
from schema.campaigns import Campaign
from schema.common import Connection, FromRecord, Values


class Fallback(Exception):  # a signal, not a failure
    """This request is not answered here: the general path answers it."""


class Unsupported(Exception):
    """Compile time: the document uses something the compiled path does not cover."""


@dataclass
class Run:
    """One request's state: its context, its coerced variables, what was read ahead."""

    ctx: Context
    variables: VariableValues
    account: Record | None = None  # the account of `account(id:)`, for BudgetSource.selectable
    sources_of_account: list[Record] = field(default_factory=list)
    totals: dict[int, int] = field(default_factory=dict)  # id(connection) -> its totalCount
    info: Any = None  # what the resolvers read of `info` (_Info)

    def __post_init__(self) -> None:
        self.info = _Info(self.ctx)


Field = Callable[[Any, Run], Any]  # (parent object, run) -> the JSON value of the field
Convert = Callable[[Any, Run], Any]  # (a field's Python value, run) -> its JSON value
Fields = list[tuple[str, Field]]


class _Info:
    """What the resolvers of schema/ read from `info`: the request's context. Strawberry
    has no public way to call a field's resolver outside an execution, so the compiled path
    calls `StrawberryResolver` with this in place of `strawberry.Info`; a resolver that reads
    more of `info` fails here and the general path answers (the differential test would show it)."""

    __slots__ = ("context",)

    def __init__(self, context: Context) -> None:
        self.context = context


def _build(fields: Fields, value: Any, run: Run) -> dict[str, Any]:
    return {key: resolve(value, run) for key, resolve in fields}


def _now(result: Any) -> Any:
    """A resolver's value, if it has it now. The resolvers of schema/ return the object
    itself when the loaders hold it (read ahead for the whole list) and an awaitable that would
    read it otherwise: that awaitable is closed unstarted and the general path answers."""
    if not hasattr(type(result), "__await__"):  # what inspect.isawaitable asks, without its ABC checks
        return result
    close = getattr(result, "close", None)
    if close is not None:
        close()
    raise Fallback


# --- compiling a document ------------------------------------------------------------------


@dataclass
class Plan:
    schema: GraphQLSchema
    variable_definitions: Any
    root: list[tuple[str, list[FieldNode], Callable[[Run], Awaitable[Any]]]]
    label: str
    name: str | None = None  # the operation's own name, for its trace span

    async def execute(self, ctx: Context, variables: dict[str, Any] | None) -> ExecutionResult:
        coerced = get_variable_values(self.schema, self.variable_definitions, variables or {})
        if isinstance(coerced, list):
            raise Fallback  # the general path reports the variable errors
        run = Run(ctx, coerced)
        data: dict[str, Any] = {}
        for key, _nodes, resolve in self.root:
            try:
                data[key] = await resolve(run)
            except Exception:
                # A failure anywhere (a user error, a value that does not serialize, a read that
                # failed): graphql-core answers, with the error at its own path and its nulls.
                raise Fallback from None
        return ExecutionResult(data=data, errors=None)


class Compiler:
    """Compiles one operation; raises Unsupported for anything it cannot run."""

    def __init__(self, strawberry_schema: BaseSchema, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.strawberry_schema = strawberry_schema
        self.schema = schema
        self.uses_selectable = False
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        if any(f.variable_definitions or f.directives for f in self.fragments.values()):
            raise Unsupported

    def collect(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> dict[str, list[FieldNode]]:
        """The fields of `type_` the sub-selections of `nodes` ask for, by response key, in order."""
        groups: dict[str, list[FieldNode]] = {}

        def walk(selections: tuple[SelectionNode, ...]) -> None:
            for selection in selections:
                if selection.directives:
                    raise Unsupported  # @skip/@include depend on variables: the general path
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    groups.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if condition is None or self.applies(condition.name.value, type_):
                        walk(selection.selection_set.selections)
                elif isinstance(selection, FragmentSpreadNode):
                    fragment = self.fragments[selection.name.value]
                    if self.applies(fragment.type_condition.name.value, type_):
                        walk(fragment.selection_set.selections)

        for node in nodes:
            if node.selection_set is not None:
                walk(node.selection_set.selections)
        return groups

    def applies(self, condition: str, type_: GraphQLObjectType) -> bool:
        named = self.schema.get_type(condition)
        if named is type_:
            return True
        return is_abstract_type(named) and self.schema.is_sub_type(named, type_)

    def selected(self, type_name: str, nodes: list[FieldNode]) -> set[str]:
        """The names of the fields of `type_name` the sub-selections of `nodes` ask for."""
        return {group[0].name.value for group in self.collect(_object_type(self.schema, type_name), nodes).values()}

    def definition(self, type_name: str) -> StrawberryObjectDefinition:
        """The Strawberry definition of an object type (its fields, its Python class)."""
        found = self.strawberry_schema.get_type_by_name(type_name)
        if not isinstance(found, StrawberryObjectDefinition):
            raise Unsupported
        return found

    # --- values, by their GraphQL type --------------------------------------------------

    def value(self, type_: GraphQLOutputType, nodes: list[FieldNode]) -> Convert:
        """How a Python value of `type_` becomes JSON, as graphql-core's completion does it."""
        non_null = isinstance(type_, GraphQLNonNull)
        inner: Any = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        convert: Convert
        if isinstance(inner, GraphQLList):
            item = self.value(inner.of_type, nodes)

            def convert(value: Any, run: Run) -> Any:
                return [item(v, run) for v in value]
        elif is_leaf_type(inner):
            convert = _leaf(inner)
        elif isinstance(inner, GraphQLObjectType):
            fields = self.object(inner, nodes)

            def convert(value: Any, run: Run) -> Any:
                return _build(fields, value, run)
        else:  # an interface: the concrete type is the class of the Strawberry object
            by_class = {}
            for possible in self.schema.get_possible_types(inner):
                by_class[self.definition(possible.name).origin] = self.object(possible, nodes)

            def convert(value: Any, run: Run) -> Any:
                return _build(by_class[type(value)], value, run)

        def complete(value: Any, run: Run) -> Any:
            if value is None:
                if non_null:
                    raise Fallback  # graphql-core's error (and its nulls) come from the general path
                return None
            return convert(value, run)

        return complete

    def object(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> Fields:
        """The fields of an object type, each from the Strawberry object of its parent."""
        definition_ = self.definition(type_.name)
        converter = self.strawberry_schema.config.name_converter
        strawberry_fields = {converter.get_graphql_name(f): f for f in definition_.fields}
        values = definition_.origin.VALUES if issubclass(definition_.origin, FromRecord) else {}
        fields: Fields = []
        for key, group in self.collect(type_, nodes).items():
            name = group[0].name.value
            if name == "__typename":
                fields.append((key, _constant(type_.name)))
                continue
            definition = type_.fields[name]
            prefetching = PREFETCHING.get((type_.name, name))
            if prefetching is not None:
                fields.append((key, prefetching(self, definition, group)))
                continue
            found = strawberry_fields.get(name)
            if found is None:
                raise Unsupported
            self.uses_selectable |= name == "selectable"  # judged against the account read with it
            fields.append((key, self.field(found, definition, group, values)))
        return fields

    def field(self, found: StrawberryField, definition: GraphQLField, group: list[FieldNode], values: Values) -> Field:
        if found.extensions or found.directives:
            raise Unsupported  # permissions and other field extensions run on graphql-core only
        complete = self.value(definition.type, group)
        resolver = found.base_resolver
        if resolver is None and found.python_name in values:
            # A field of a type built from a record: its value function (FromRecord.VALUES),
            # called as the attribute read would call it, without the attribute machinery.
            value_of = values[found.python_name]
            return _stored(lambda parent: value_of(parent.record), definition.type, complete)
        if resolver is None:
            return _stored(attrgetter(found.python_name), definition.type, complete)
        if resolver.is_async:
            raise Unsupported  # it would read the database as it goes: the general path's way
        if resolver.self_parameter is None or resolver.root_parameter or resolver.parent_parameter:
            raise Unsupported  # called here as a method of its type's object, and only so
        if any(isinstance(get_named_type(a.type), GraphQLInputObjectType) for a in definition.args.values()):
            raise Unsupported  # Strawberry builds input objects from their values; graphql-core's way
        info = resolver.info_parameter.name if resolver.info_parameter else None
        converter = self.strawberry_schema.config.name_converter
        names = {converter.get_graphql_name(a): a.python_name for a in resolver.arguments}
        node = group[0]
        call = cast(Callable[..., Any], resolver.wrapped_func)  # the decorated function (what StrawberryResolver calls)

        def resolve(parent: Any, run: Run) -> Any:
            kwargs = {names[k]: v for k, v in get_argument_values(definition, node, run.variables).items()}
            if info is not None:
                kwargs[info] = run.info
            try:
                value = _now(call(parent, **kwargs))
            except Fallback:
                raise
            except Exception:
                raise Fallback from None  # graphql-core reports it, with its path and nulls
            return complete(value, run)

        if names or info is None:
            return resolve

        def resolve_with_info(parent: Any, run: Run) -> Any:  # the common case: (self, info)
            try:
                value = _now(call(parent, **{info: run.info}))
            except Fallback:
                raise
            except Exception:
                raise Fallback from None
            return complete(value, run)

        return resolve_with_info


# --- the fields whose reads are made ahead, for a whole list -------------------------------


def _budget_sources(compiler: Compiler, definition: GraphQLField, group: list[FieldNode]) -> Field:
    """Account.budgetSources: the sources read with the account in one statement, through the
    drop-down's own filter (budget_sources.dropdown)."""
    complete = compiler.value(definition.type, group)
    node = group[0]

    def resolve(_account: Any, run: Run) -> Any:
        assert run.account is not None
        args = get_argument_values(definition, node, run.variables)
        found = budget_sources.dropdown(
            run.sources_of_account,
            run.account["requires_purchase_order"],
            include_inactive=bool(args.get("includeInactive")),
        )
        return complete([source_from_record(s) for s in found], run)

    return resolve


def _campaigns(compiler: Compiler, definition: GraphQLField, group: list[FieldNode]) -> Field:
    """Account.campaigns: a page (campaigns.of_account) with what its items' fields read
    prefetched (campaigns.prefetch), and its totalCount when asked."""
    complete = compiler.value(definition.type, group)
    edges = compiler.collect(_object_type(compiler.schema, "CampaignConnection"), group)
    asked = {g[0].name.value for g in edges.values()}
    node_names: set[str] = set()
    for edge_group in (g for g in edges.values() if g[0].name.value == "edges"):
        for node_group in compiler.collect(_object_type(compiler.schema, "CampaignEdge"), edge_group).values():
            if node_group[0].name.value == "node":
                node_names |= compiler.selected("Campaign", node_group)
    node = group[0]

    async def resolve(_account: Any, run: Run) -> Any:
        assert run.account is not None
        args = get_argument_values(definition, node, run.variables)
        status = args.get("status")
        page = await campaigns.of_account(
            run.ctx,
            run.account["id"],
            campaigns.PAGE_SIZE if args.get("first") is None else args["first"],
            args.get("after"),
            status.value if isinstance(status, Enum) else status,
        )
        await campaigns.prefetch(run.ctx, page.items, node_names)
        connection = Connection.of(page, Campaign.from_record)
        if "totalCount" in asked:
            run.totals[id(connection)] = await page.count()
        return complete(connection, run)

    return _Deferred(resolve)  # type: ignore[return-value]


def _total_count(compiler: Compiler, definition: GraphQLField, group: list[FieldNode]) -> Field:
    complete = compiler.value(definition.type, group)
    return lambda connection, run: complete(run.totals.get(id(connection)), run)


PREFETCHING: dict[tuple[str, str], Callable[[Compiler, GraphQLField, list[FieldNode]], Field]] = {
    ("Account", "budgetSources"): _budget_sources,
    ("Account", "campaigns"): _campaigns,
    ("CampaignConnection", "totalCount"): _total_count,
}


class _Deferred:
    """An Account field that reads the database: awaited by the account, in field order."""

    __slots__ = ("resolve",)

    def __init__(self, resolve: Callable[[Any, Run], Awaitable[Any]]) -> None:
        self.resolve = resolve


def _account(compiler: Compiler, definition: GraphQLField, nodes: list[FieldNode]) -> Callable[[Run], Awaitable[Any]]:
    """Query.account: the account (visible to the key), with its sources when the drop-down is
    asked, and then its fields in order."""
    fields = compiler.object(_object_type(compiler.schema, "Account"), nodes)
    asked = compiler.selected("Account", nodes)
    with_sources = "budgetSources" in asked
    # Only its campaigns: for the key's own account there is nothing to read first.
    without_row = asked <= {"__typename", "campaigns"} and not compiler.uses_selectable
    node = nodes[0]

    async def resolve(run: Run) -> Any:
        args = get_argument_values(definition, node, run.variables)
        decoded = ids.decode(args["id"])
        if decoded is None or decoded[0] != "Account":
            return None
        account: Record | None
        parent: Account | None = None
        if without_row and accounts.is_own(run.ctx, decoded[1]):
            run.account = {"id": decoded[1]}  # all its campaigns page needs
        else:
            if with_sources:
                account, run.sources_of_account = await accounts.get_visible_with_sources(run.ctx, decoded[1])
            else:
                account = await accounts.get_visible(run.ctx, decoded[1])
            if account is None:
                return None
            run.account = account
            parent = Account.from_record(account)
        result: dict[str, Any] = {}
        for key, resolve_field in fields:
            if isinstance(resolve_field, _Deferred):
                result[key] = await resolve_field.resolve(parent, run)
            else:
                result[key] = resolve_field(parent, run)
        return result

    return resolve


def root_fields(
    compiler: Compiler, operation: Any
) -> list[tuple[str, list[FieldNode], Callable[[Run], Awaitable[Any]]]]:
    """The operation's root fields, compiled; Unsupported if any is not `account` or __typename."""
    query = compiler.schema.query_type
    assert query is not None
    root: list[tuple[str, list[FieldNode], Callable[[Run], Awaitable[Any]]]] = []
    for key, group in compiler.collect(query, [operation]).items():
        name = group[0].name.value
        if name == "account":
            root.append((key, group, _account(compiler, query.fields["account"], group)))
        elif name == "__typename":
            root.append((key, group, _root_typename))
        else:
            raise Unsupported
    return root


async def _root_typename(_run: Run) -> str:
    return "Query"


# --- leaves -----------------------------------------------------------------------------------


def _leaf(type_: Any) -> Convert:
    """Serialize with the schema's own scalar and enum serializers, as graphql-core does; an
    enum's few values are serialized once each."""
    serialize = type_.serialize
    if type_ in (GraphQLString, GraphQLID):
        return lambda value, _run: value if type(value) is str else serialize(value)
    if hasattr(type_, "values"):  # an enum
        serialized: dict[Any, Any] = {}

        def enum(value: Any, _run: Run) -> Any:
            if value not in serialized:
                serialized[value] = serialize(value)
            return serialized[value]

        return enum
    return lambda value, _run: serialize(value)


def _is_text(type_: GraphQLOutputType) -> bool:
    return isinstance(type_, GraphQLNonNull) and type_.of_type in (GraphQLString, GraphQLID)


def _stored(get: Callable[[Any], Any], type_: GraphQLOutputType, complete: Convert) -> Field:
    """A field without a resolver: `get` reads it from the parent, `complete` makes it JSON,
    inlined for the common case (a non-null string, which needs nothing)."""
    if _is_text(type_):

        def text(parent: Any, run: Run) -> Any:
            value = get(parent)
            return value if type(value) is str else complete(value, run)

        return text
    return lambda parent, run: complete(get(parent), run)


def _object_type(schema: GraphQLSchema, name: str) -> GraphQLObjectType:
    type_ = schema.get_type(name)
    assert isinstance(type_, GraphQLObjectType)
    return type_


def _constant(value: Any) -> Field:
    return lambda _parent, _run: value


class CompiledQueries:
    """Plans by (document, operation name), compiled on first sight; None: the general path.
    Documents are parsed and validated by the general path's own `Documents` (the same caches,
    rules and limits), and plans are kept in an LRU bounded in bytes."""

    def __init__(
        self, strawberry_schema: BaseSchema, schema: GraphQLSchema, documents: Documents, max_bytes: int
    ) -> None:
        self.strawberry_schema = strawberry_schema
        self.schema = schema
        self.documents = documents
        self.plans: BoundedCache[tuple[str, str | None], Plan | bool] = BoundedCache(1000, max_bytes)

    def plan(self, query: str, operation_name: str | None) -> Plan | None:
        key = (query, operation_name)
        found = self.plans.get(key)
        if found is None:
            found, weight = self._compile(query, operation_name)
            self.plans.put(key, found, weight)
        return found if isinstance(found, Plan) else None

    def _compile(self, query: str, operation_name: str | None) -> tuple[Plan | bool, int]:
        try:
            document = self.documents.parse(query, operation_name)
        except GraphQLError:
            return False, len(query)
        weight = document_weight(query, document)
        checked = self.documents.check(self.schema, query, document)
        if checked.errors or checked.deferred:  # a cost that waits for the variables: judged per request
            return False, weight
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation != OperationType.QUERY or operation.directives:
            return False, weight
        try:
            root = root_fields(Compiler(self.strawberry_schema, self.schema, document), operation)
        except Unsupported:
            return False, weight
        label = operation_label(document, operation_name) or "query:-"
        name = operation.name.value if operation.name else None
        return Plan(self.schema, operation.variable_definitions or (), root, label, name), weight
