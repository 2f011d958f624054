"""Compiled read queries: any query answered without graphql-core's field-by-field execution.

The first time a document arrives it is parsed and validated as the general path does it (the
same token limit, the specification's rules and the server's own). If it is a query whose
fields this module can run, it becomes a tree of small functions, cached by document. There is
no second description of the read side here:

- Values are the Strawberry objects of schema/, built from the read model's records
  (db/reads.py) by the types' own `from_record`, exactly as the general path builds them.
- A field that Strawberry stores as an attribute is read by its Python name, taken from the
  type's Strawberry definition (`Schema.get_type_by_name`), and serialized by the schema's own
  scalar and enum serializers. A new such field needs no edit here.
- A field with a resolver runs that same resolver (the function its `StrawberryResolver`
  wraps, with the request's context and coerced arguments). What it returns may be awaitable
  (a read through the loaders): the object waits for its awaitable fields together, and a list
  for its items together, as graphql-core does, so the DataLoaders batch the same reads.
- `PREFETCHING` holds the two fields whose reads are made ahead, with the rules of resolvers/:
  `account(id:)` reads the account with its sources in one statement (or not at all, for only
  the key's own campaigns) and `Account.budgetSources` filters those (the drop-down's filter).

Whatever is off that path goes to the general path, which answers it as it always has: a
mutation or subscription, a document with directives, a variable that does not coerce, a bad
cursor or `first`, a non-null value missing, any failure at all (`Plan.execute`), a field with
extensions (permission classes) or input-object arguments. Reads only, so nothing has to be
undone first; a failure ends the attempt at once (siblings cancelled, fields not begun never
begun), so the hand-over costs little more than graphql-core alone. tests/test_compiled.py and
tests/test_compiled_differential.py hold both paths to byte-identical responses;
tests/test_compiled_coverage.py to covering every field of Query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
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
from strawberry.types.nodes import Selection, convert_selections

from budgetline.limits import BoundedCache, Documents, document_weight
from budgetline.observability import operation_label
from db.reads import Record
from resolvers import accounts, budget_sources, ids
from resolvers.context import Context
from schema.accounts import Account
from schema.budget_sources import source_from_record
from schema.common import FromRecord, Values


class Fallback(Exception):  # a signal, not a failure
    """This request is not answered here: the general path answers it."""


class Unsupported(Exception):
    """Compile time: the document uses something the compiled path does not cover."""


@dataclass
class Run:
    """One request's state: its context, its coerced variables, the sources read ahead."""

    ctx: Context
    variables: VariableValues
    fragments: dict[str, FragmentDefinitionNode]
    sources: dict[int, list[Record]] = field(default_factory=dict)  # account id -> its sources


Field = Callable[[Any, Run], Any]  # (parent object, run) -> the field's JSON value, or an awaitable of it
Convert = Callable[[Any, Run], Any]  # (a field's Python value, run) -> its JSON value, or an awaitable of it
# Each field by response key, and whether it may wait: only a resolver, or what lies below one,
# may return an awaitable; an object with no such field is built without asking.
Fields = list[tuple[str, Field, bool]]


class _Info:
    """What the resolvers of schema/ read from `info`: the request's context and the selection
    (`selected_fields`, by Strawberry's public `convert_selections`). Strawberry has no public way
    to call a field's resolver outside an execution, so the compiled path calls the resolver's
    function with this in place of `strawberry.Info`; a resolver that reads more of `info` fails
    here and the general path answers (the differential test would show it)."""

    __slots__ = ("context", "field_nodes", "fragments", "variable_values")

    def __init__(self, run: Run, nodes: list[FieldNode]) -> None:
        self.context = run.ctx
        self.field_nodes = nodes
        self.fragments = run.fragments  # what convert_selections reads, with variable_values
        self.variable_values = run.variables

    @property
    def selected_fields(self) -> list[Selection]:
        return convert_selections(self, self.field_nodes)  # type: ignore[arg-type]


def _waits(value: Any) -> bool:
    return hasattr(type(value), "__await__")  # what inspect.isawaitable asks, without its ABC checks


async def _all(waiting: list[Any]) -> list[Any]:
    """Await together, as graphql-core does (so the loaders batch). On a failure the others are
    cancelled, as graphql-core cancels a failing field's siblings, and have ended before the
    failure goes on: nothing of the attempt runs once the general path has taken over (a read
    they had sent runs to its end on its own: Context.read)."""
    if len(waiting) == 1:
        return [await waiting[0]]
    tasks = [asyncio.ensure_future(w) for w in waiting]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _drop(awaitable: Any) -> None:
    """An awaitable never awaited, after a failure: closed if it has not started (a coroutine,
    _Then), else cancelled (a loader's future)."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()
    elif isinstance(awaitable, asyncio.Future):
        awaitable.cancel()


def _builder(fields: Fields) -> tuple[Convert, bool]:
    """How an object's fields become its JSON, and whether that may wait."""
    if any(may_wait for _, _, may_wait in fields):
        return (lambda value, run: _build(fields, value, run)), True
    pairs = [(key, resolve) for key, resolve, _ in fields]
    return (lambda value, run: {key: resolve(value, run) for key, resolve in pairs}), False


def _build(fields: Fields, value: Any, run: Run) -> Any:
    """An object's JSON: a dict, or an awaitable of it when any of its fields waits."""
    built: dict[str, Any] = {}
    waiting: list[str] | None = None
    for key, resolve, may_wait in fields:
        try:
            built[key] = result = resolve(value, run)
        except Exception:
            for k in waiting or ():
                _drop(built[k])
            raise
        if may_wait and _waits(result):
            if waiting is None:
                waiting = []
            waiting.append(key)
    if waiting is None:
        return built
    return _Gathered(built, waiting)


class _Gathered:
    """An object's (or a list's) JSON whose waiting fields (items) are awaited together, then
    put in their places. Closed unawaited, it closes them."""

    __slots__ = ("built", "waiting")

    def __init__(self, built: Any, waiting: list[Any]) -> None:
        self.built, self.waiting = built, waiting  # the dict (list), the keys (indexes) that wait

    def __await__(self) -> Any:
        return self._result().__await__()

    async def _result(self) -> Any:
        built = self.built
        for key, result in zip(self.waiting, await _all([built[k] for k in self.waiting]), strict=True):
            built[key] = result
        return built

    def close(self) -> None:
        for key in self.waiting:
            _drop(self.built[key])


class _Then:
    """A resolver's awaitable value, then its completion (which may wait in turn)."""

    __slots__ = ("awaitable", "complete", "run")

    def __init__(self, awaitable: Any, complete: Convert, run: Run) -> None:
        self.awaitable, self.complete, self.run = awaitable, complete, run

    def __await__(self) -> Any:
        return self._result().__await__()

    async def _result(self) -> Any:
        result = self.complete(await self.awaitable, self.run)
        return await result if _waits(result) else result

    def close(self) -> None:  # never awaited: neither is the resolver's awaitable
        _drop(self.awaitable)


# --- compiling a document ------------------------------------------------------------------


@dataclass
class Plan:
    schema: GraphQLSchema
    variable_definitions: Any
    root: Fields
    fragments: dict[str, FragmentDefinitionNode]
    label: str
    name: str | None = None  # the operation's own name, for its trace span
    build: Convert = field(init=False)

    def __post_init__(self) -> None:
        self.build = _builder(self.root)[0]

    async def execute(self, ctx: Context, variables: dict[str, Any] | None) -> ExecutionResult:
        coerced = get_variable_values(self.schema, self.variable_definitions, variables or {})
        if isinstance(coerced, list):
            raise Fallback  # the general path reports the variable errors
        try:
            data = self.build(None, Run(ctx, coerced, self.fragments))
            if _waits(data):
                data = await data
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the request itself is cancelled (its client left, the server stops)
            # A sibling's cancellation reached a field through a loader's future they shared:
            # a failure of the attempt like any other.
            ctx.forget()
            raise Fallback from None
        except Exception:
            # A failure anywhere (a user error, a value that does not serialize, a read that
            # failed) has ended the attempt (_all, _drop): graphql-core answers, with the error
            # at its own path and its nulls, from a cold start as if it had answered alone (what
            # it reports may depend on timing). A transient database fault is thereby retried.
            ctx.forget()
            raise Fallback from None
        return ExecutionResult(data=data, errors=None)


class Compiler:
    """Compiles one operation; raises Unsupported for anything it cannot run."""

    def __init__(self, strawberry_schema: BaseSchema, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.strawberry_schema = strawberry_schema
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        if any(f.variable_definitions or f.directives for f in self.fragments.values()):
            raise Unsupported

    def collect(self, type_: GraphQLObjectType, nodes: list[Any]) -> dict[str, list[FieldNode]]:
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

    def value(self, type_: GraphQLOutputType, nodes: list[FieldNode]) -> tuple[Convert, bool]:
        """How a Python value of `type_` becomes JSON, as graphql-core's completion does it,
        and whether that may wait."""
        non_null = isinstance(type_, GraphQLNonNull)
        inner: Any = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        convert: Convert
        may_wait = False
        if isinstance(inner, GraphQLList):
            item, may_wait = self.value(inner.of_type, nodes)
            convert = _list_waiting(item) if may_wait else (lambda value, run: [item(v, run) for v in value])
        elif is_leaf_type(inner):
            convert = _leaf(inner)
        elif isinstance(inner, GraphQLObjectType):
            convert, may_wait = _builder(self.object(inner, nodes))
        else:  # an interface: the concrete type is the class of the Strawberry object
            by_class = {}
            for possible in self.schema.get_possible_types(inner):
                by_class[self.definition(possible.name).origin], waits = _builder(self.object(possible, nodes))
                may_wait |= waits

            def convert(value: Any, run: Run) -> Any:
                return by_class[type(value)](value, run)

        def complete(value: Any, run: Run) -> Any:
            if value is None:
                if non_null:
                    raise Fallback  # graphql-core's error (and its nulls) come from the general path
                return None
            return convert(value, run)

        return complete, may_wait

    def object(self, type_: GraphQLObjectType, nodes: list[Any]) -> Fields:
        """The fields of an object type, each from the Strawberry object of its parent."""
        definition_ = self.definition(type_.name)
        converter = self.strawberry_schema.config.name_converter
        strawberry_fields = {converter.get_graphql_name(f): f for f in definition_.fields}
        values = definition_.origin.VALUES if issubclass(definition_.origin, FromRecord) else {}
        fields: Fields = []
        for key, group in self.collect(type_, nodes).items():
            name = group[0].name.value
            if name == "__typename":
                fields.append((key, _constant(type_.name), False))
                continue
            definition = type_.fields.get(name)
            found = strawberry_fields.get(name)
            if definition is None or found is None:
                raise Unsupported  # introspection (__schema, __type): graphql-core's own
            prefetching = PREFETCHING.get((type_.name, name))
            general, may_wait = self.field(found, definition, group, values)
            if prefetching is not None:
                general, may_wait = prefetching(self, definition, group, general), True
            fields.append((key, general, may_wait))
        return fields

    def field(
        self, found: StrawberryField, definition: GraphQLField, group: list[FieldNode], values: Values
    ) -> tuple[Field, bool]:
        """The field, and whether it may wait (a resolver may; a stored field only through
        what it holds: a connection's edges hold the nodes)."""
        if found.extensions or found.directives:
            raise Unsupported  # permissions and other field extensions run on graphql-core only
        complete, complete_waits = self.value(definition.type, group)
        resolver = found.base_resolver
        if resolver is None and found.python_name in values:
            # A field of a type built from a record: its value function (FromRecord.VALUES),
            # called as the attribute read would call it, without the attribute machinery.
            value_of = values[found.python_name]
            return _stored(lambda parent: value_of(parent.record), definition.type, complete), complete_waits
        if resolver is None:
            return _stored(attrgetter(found.python_name), definition.type, complete), complete_waits
        if resolver.root_parameter or resolver.parent_parameter:
            raise Unsupported  # called here as a method of its type's object, and only so
        if any(isinstance(get_named_type(a.type), GraphQLInputObjectType) for a in definition.args.values()):
            raise Unsupported  # Strawberry builds input objects from their values; graphql-core's way
        info = resolver.info_parameter.name if resolver.info_parameter else None
        converter = self.strawberry_schema.config.name_converter
        names = {converter.get_graphql_name(a): a.python_name for a in resolver.arguments}
        call = cast(Callable[..., Any], resolver.wrapped_func)  # the decorated function (what StrawberryResolver calls)
        if resolver.self_parameter is None:  # a static resolver (none in schema/ today): called without its parent
            method = call
            call = lambda _parent, **kwargs: method(**kwargs)  # noqa: E731
        node = group[0]

        def resolve(parent: Any, run: Run) -> Any:
            kwargs = {names[k]: v for k, v in get_argument_values(definition, node, run.variables).items()}
            if info is not None:
                kwargs[info] = _Info(run, group)
            value = call(parent, **kwargs)
            if _waits(value):
                return _Then(value, complete, run)
            return complete(value, run)

        if definition.args or info is None:
            return resolve, True

        def resolve_with_info(parent: Any, run: Run) -> Any:  # the common case: (self, info), no arguments
            value = call(parent, **{info: _Info(run, group)})
            if _waits(value):
                return _Then(value, complete, run)
            return complete(value, run)

        return resolve_with_info, True


def _list_waiting(item: Convert) -> Convert:
    """A list whose items may wait: they wait together."""

    def convert(value: Any, run: Run) -> Any:
        items = []
        for v in value:
            try:
                items.append(item(v, run))
            except Exception:
                for i in items:
                    if _waits(i):
                        _drop(i)
                raise
        if any(_waits(i) for i in items):
            return _Gathered(items, [i for i, item in enumerate(items) if _waits(item)])
        return items

    return convert


# --- the fields whose reads are made ahead ---------------------------------------------------


def _account(compiler: Compiler, definition: GraphQLField, group: list[FieldNode], _general: Field) -> Field:
    """Query.account: the account (visible to the key) with its sources in one statement when
    the drop-down is asked; not read at all when only the key's own campaigns are."""
    complete, _ = compiler.value(definition.type, group)
    asked = compiler.selected("Account", group)
    with_sources = "budgetSources" in asked
    without_row = asked <= {"__typename", "campaigns"}
    node = group[0]

    async def resolve(_root: Any, run: Run) -> Any:
        decoded = ids.decode(get_argument_values(definition, node, run.variables)["id"])
        if decoded is None or decoded[0] != "Account":
            return None
        account: Record | None
        if without_row and accounts.is_own(run.ctx, decoded[1]):
            account = {"id": decoded[1]}  # all its campaigns need
        elif with_sources:
            account, run.sources[decoded[1]] = await accounts.get_visible_with_sources(run.ctx, decoded[1])
        else:
            account = await accounts.get_visible(run.ctx, decoded[1])
        result = complete(Account.from_record(account) if account is not None else None, run)
        return await result if _waits(result) else result

    return resolve


def _budget_sources(compiler: Compiler, definition: GraphQLField, group: list[FieldNode], general: Field) -> Field:
    """Account.budgetSources: the sources read with the account (above), through the drop-down's
    own filter (budget_sources.dropdown); its resolver when they were not."""
    complete, _ = compiler.value(definition.type, group)
    node = group[0]

    def resolve(account: Account, run: Run) -> Any:
        read = run.sources.get(account.record["id"])
        if read is None:
            return general(account, run)
        args = get_argument_values(definition, node, run.variables)
        found = budget_sources.dropdown(
            read, account.record["requires_purchase_order"], include_inactive=bool(args.get("includeInactive"))
        )
        return complete([source_from_record(s) for s in found], run)

    return resolve


PREFETCHING: dict[tuple[str, str], Callable[[Compiler, GraphQLField, list[FieldNode], Field], Field]] = {
    ("Query", "account"): _account,
    ("Account", "budgetSources"): _budget_sources,
}


def root_fields(compiler: Compiler, operation: Any) -> Fields:
    """The operation's root fields, compiled; Unsupported if any of them cannot be."""
    query = compiler.schema.query_type
    assert query is not None
    return compiler.object(query, [operation])


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
            compiler = Compiler(self.strawberry_schema, self.schema, document)
            root = root_fields(compiler, operation)
        except Unsupported:
            return False, weight
        label = operation_label(document, operation_name) or "query:-"
        name = operation.name.value if operation.name else None
        variables = operation.variable_definitions or ()
        return Plan(self.schema, variables, root, compiler.fragments, label, name), weight
