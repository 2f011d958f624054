"""Limits that keep one request from tipping the server over (docs/security.md lists them all).

- `measure`: one walk over a document that visits each fragment once (memoised by name), so a
  document that spreads fragments into each other cannot make the analysis exponential. It
  gives, per operation, the depth, the aliases and the cost with fragments expanded, as numbers.
- `Limits`: those numbers against the limits, as request errors.
- `DocumentGuard`: the parse and validation steps of every request, through caches bounded in
  bytes as well as in entries, plus the checks that need the request itself (`operationName`
  with several operations, a cost that depends on the variables).
- `BodyLimit`: the request body's size.
"""

from __future__ import annotations

import json
import sys
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Token,
    TokenKind,
    VariableNode,
    get_named_type,
    is_composite_type,
    is_list_type,
    is_non_null_type,
    parse,
    specified_rules,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from budgetline.errors import response_media_type
from budgetline.settings import Settings
from resolvers.pagination import MAX_PAGE_SIZE

INTROSPECTION_ROOTS = {"__schema": "__Schema", "__type": "__Type"}
# A number literal longer than this is no Int, Float or amount the schema accepts; refusing it
# at parse time keeps Python's own int() (and its 4,300-digit message) out of the way.
MAX_NUMBER_LITERAL = 40
# Counts stop growing here (2**53 stays exact in JSON): a fan-out of fragments can describe
# numbers with hundreds of digits.
SATURATED = 10**15
# What one parsed token costs in memory (AST node, location, token), measured with tracemalloc.
TOKEN_BYTES = 640
# Selections in one selection set: graphql-core's OverlappingFieldsCanBeMergedRule compares
# fields pairwise, and `{ viewer {role} viewer {role} ... }` a thousand times took over a second.
MAX_SELECTIONS = 200


@dataclass(frozen=True)
class Shape:
    """What a selection set asks for, with every fragment expanded (as plain numbers)."""

    depth: int = 0  # nested selection sets, introspection excluded (as Strawberry's depth limiter)
    aliases: int = 0
    cost: int = 0  # each field once per item its enclosing lists can return
    variable_pages: bool = False  # a `first` given by a variable was counted at its maximum
    schemas: int = 0  # `__schema` fields: each one is the whole schema

    def __add__(self, other: Shape) -> Shape:
        return Shape(
            max(self.depth, other.depth),
            min(self.aliases + other.aliases, SATURATED),
            min(self.cost + other.cost, SATURATED),
            self.variable_pages or other.variable_pages,
            min(self.schemas + other.schemas, SATURATED),
        )


class Measure:
    """One walk per document; each fragment is measured once, however often it is spread."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        list_size: int,
        variables: dict[str, Any] | None,
        operation: OperationDefinitionNode | None = None,
    ) -> None:
        """`variables` None: static, every variable `first` at its maximum. Else the values of
        one request, for `operation`, whose defaults stand in for the variables it leaves out
        (the defaults of that operation only: another operation's `$first: Int = 1` is not
        this one's)."""
        self.schema = schema
        self.list_size = list_size
        self.variables = variables
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.defaults = {
            v.variable.name.value: _page_size(v.default_value.value)
            for v in (operation.variable_definitions or () if operation is not None else ())
            if isinstance(v.default_value, IntValueNode)
        }
        self.memo: dict[str, Shape] = {}
        self.active: set[str] = set()  # fragment cycles are reported by NoFragmentCyclesRule

    def operation(self, operation: OperationDefinitionNode) -> Shape:
        root = self.schema.get_root_type(operation.operation)
        return self.selections(operation.selection_set, root)

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None) -> Shape:
        shape = Shape()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                shape += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                shape += self.selections(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                shape += self.fragment(selection.name.value)
        return shape

    def fragment(self, name: str) -> Shape:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.active:
            return Shape()
        self.active.add(name)
        shape = self.selections(definition.selection_set, self.schema.get_type(definition.type_condition.name.value))
        self.active.discard(name)
        self.memo[name] = shape
        return shape

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Shape:
        alias = 1 if node.alias else 0
        name = node.name.value
        definition: Any = None
        child_type: GraphQLNamedType | None = None
        if name in INTROSPECTION_ROOTS:
            child_type = self.schema.get_type(INTROSPECTION_ROOTS[name])
        elif isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)) and name in parent.fields:
            definition = parent.fields[name]
            child_type = get_named_type(definition.type)
        children = self.selections(node.selection_set, child_type) if node.selection_set else Shape()
        if name.startswith("__") or (parent is not None and parent.name.startswith("__")):
            # Introspection costs nothing and adds no depth: its size is the schema's, and how
            # deeply its lists nest is bounded by graphql-core's MaxIntrospectionDepthRule.
            schemas = children.schemas + (1 if name == "__schema" else 0)
            return Shape(0, alias + children.aliases, 0, children.variable_pages, schemas)
        size, variable = self.items(node, definition, parent)
        return Shape(
            1 + children.depth if node.selection_set else 0,
            alias + children.aliases,
            min(1 + size * children.cost, SATURATED),
            variable or children.variable_pages,
            children.schemas,
        )

    def items(self, node: FieldNode, definition: Any, parent: GraphQLNamedType | None) -> tuple[int, bool]:
        """How many items the field's value can hold: `first` for a connection, `list_size` for
        a list of objects without it, else 1. (Edges are counted by their connection's `first`.)"""
        if definition is None:
            return 1, False
        if "first" in definition.args:
            for argument in node.arguments or ():
                if argument.name.value != "first":
                    continue
                value = argument.value
                if isinstance(value, IntValueNode):
                    return _page_size(value.value), False
                if isinstance(value, VariableNode):
                    given = (self.variables or {}).get(value.name.value, self.defaults.get(value.name.value))
                    if self.variables is not None and type(given) is int:
                        return _clamp(given), False
                    return MAX_PAGE_SIZE, True
                return MAX_PAGE_SIZE, False
            default = definition.args["first"].default_value
            return (_clamp(default) if type(default) is int else MAX_PAGE_SIZE), False
        if parent is not None and parent.name.endswith("Connection") and node.name.value == "edges":
            return 1, False
        type_ = definition.type.of_type if is_non_null_type(definition.type) else definition.type
        if is_list_type(type_) and is_composite_type(get_named_type(type_)):
            bound = BOUNDED_LISTS.get((parent.name, node.name.value)) if parent is not None else None
            return bound or self.list_size, False
        return 1, False


# Lists of objects whose length the data itself bounds, counted at that bound rather than at
# cost_list_size: an activity entry's changes are at most its subject's fields.
BOUNDED_LISTS = {("ActivityEntry", "changes"): 20}


def _page_size(literal: str) -> int:
    if len(literal) > 6:
        return MAX_PAGE_SIZE
    return _clamp(int(literal))


def _clamp(first: int) -> int:
    """`first` as the cost counts it: `first: 0` still reads its connection (and may count it)."""
    return max(1, min(first, MAX_PAGE_SIZE))


def name_of(operation: OperationDefinitionNode) -> str:
    return operation.name.value if operation.name else "anonymous"


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_cost: int
    list_size: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.max_depth, settings.max_aliases, settings.max_cost, settings.cost_list_size)

    def errors(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: dict[str, Any] | None,
        operation_name: str | None = None,
    ) -> tuple[list[GraphQLError], bool]:
        """The limit errors, and whether a cost was left to the variables. Static (`variables`
        None): every operation, a variable `first` counted at its maximum. For a request: the
        operation it runs, with its variables."""
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if variables is not None:
            operations = [
                o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)
            ]
        found: list[GraphQLError] = []
        deferred = False
        # Static: one walk for the whole document (each fragment measured once, however many
        # operations spread it); a request: the one operation it runs, with its own defaults.
        shared = Measure(schema, document, self.list_size, None) if variables is None else None
        for operation in operations:
            measure = shared or Measure(schema, document, self.list_size, variables, operation)
            try:
                shape = measure.operation(operation)
            except RecursionError:  # graphql-core's own rules abort on such documents too
                found.append(GraphQLError("the document nests fragments too deeply", operation))
                continue
            name = name_of(operation)
            if shape.depth > self.max_depth:
                found.append(GraphQLError(f"'{name}' exceeds maximum operation depth of {self.max_depth}", operation))
            if shape.aliases > self.max_aliases:
                found.append(GraphQLError(f"{shape.aliases} aliases found. Allowed: {self.max_aliases}", operation))
            if shape.schemas > 1:
                found.append(
                    GraphQLError(f"'{name}' asks for __schema {shape.schemas} times; once is enough", operation)
                )
            if shape.cost > self.max_cost:
                if shape.variable_pages and variables is None:
                    deferred = True  # judged per request, with the variables' values
                    continue
                cost = str(shape.cost) if shape.cost < SATURATED else f"over {SATURATED}"
                found.append(
                    GraphQLError(
                        f"'{name}' costs {cost}, more than the limit of {self.max_cost}: each field "
                        f"counts once per item its lists can return (`first`, or {self.list_size} for a list "
                        "without it); ask for fewer items or fields",
                        operation,
                        extensions={"cost": shape.cost, "maxCost": self.max_cost},
                    )
                )
        return found, deferred


def introspection_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """With BUDGETLINE_INTROSPECTION=false, introspection is refused at validation."""
    return [] if settings.introspection else list(DisableIntrospection().validation_rules)


# An answer's keys are column names of the statement that writes it (budgetline/planner.py), and
# PostgreSQL's names are at most 63 bytes: so is an alias (GraphQL names are ASCII).
MAX_ALIAS_LENGTH = 63


class AliasLengthRule(ASTValidationRule):
    """An alias longer than MAX_ALIAS_LENGTH, refused at validation (every field name of the
    schema is shorter)."""

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        alias = node.alias.value if node.alias else ""
        if len(alias) > MAX_ALIAS_LENGTH:
            self.report_error(
                GraphQLError(
                    f"The alias '{alias[:20]}...' is {len(alias)} characters long; at most {MAX_ALIAS_LENGTH} "
                    "are accepted.",
                    node.alias,
                )
            )


# --- caches bounded in bytes ----------------------------------------------------------------

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """An LRU bounded by entries and by the bytes its entries hold (their `weight`); an entry
    heavier than an eighth of the budget is not kept at all, so one document cannot flush it."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V, weight: int) -> None:
        if weight > self.max_bytes // 8:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self.bytes -= previous[1]
        self._entries[key] = (value, weight)
        self.bytes += weight
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped


def document_weight(query: str, document: DocumentNode | None) -> int:
    """The memory a cached document keeps: its text (locations hold it), the values its tokens
    copy out of it (at most the text again), and each parsed token. In bytes, as Python keeps
    them: a text with one emoji takes four bytes per character."""
    tokens = 0
    token: Token | None = document.loc.start_token if document is not None and document.loc else None
    while token is not None:
        tokens += 1
        token = token.next
    return 2 * sys.getsizeof(query) + TOKEN_BYTES * tokens


def check_widths(document: DocumentNode) -> None:
    """No selection set holds more than MAX_SELECTIONS selections (checked before validation)."""
    pending = [d.selection_set for d in document.definitions if hasattr(d, "selection_set")]
    while pending:
        selection_set = pending.pop()
        if selection_set is None:
            continue
        if len(selection_set.selections) > MAX_SELECTIONS:
            raise GraphQLError(
                f"a selection set holds {len(selection_set.selections)} selections; at most {MAX_SELECTIONS} "
                "are accepted",
                selection_set,
            )
        pending.extend(getattr(s, "selection_set", None) for s in selection_set.selections)


def check_literals(document: DocumentNode) -> None:
    """A number literal longer than any value the schema accepts is refused at parse time."""
    token: Token | None = document.loc.start_token if document.loc else None
    while token is not None:
        if token.kind in (TokenKind.INT, TokenKind.FLOAT) and len(token.value or "") > MAX_NUMBER_LITERAL:
            raise GraphQLError(
                f"Syntax Error: a number literal of {len(token.value or '')} characters; "
                f"at most {MAX_NUMBER_LITERAL} are accepted",
                source=document.loc.source if document.loc else None,
                positions=[token.start],
            )
        token = token.next


@dataclass(frozen=True)
class Checked:
    """A validated document: its errors, and whether its cost waits for the variables."""

    errors: list[GraphQLError]
    deferred: bool


class Documents:
    """Parsing and validation shared by every request of an app (and by its compiled plans)."""

    def __init__(self, settings: Settings) -> None:
        self.max_tokens = settings.max_tokens
        self.max_chars = settings.max_document_chars
        self.limits = Limits.of(settings)
        self.rules: tuple[type[ASTValidationRule], ...] = (AliasLengthRule, *introspection_rules(settings))
        self.parsed: BoundedCache[str, DocumentNode] = BoundedCache(1000, settings.cache_max_bytes)
        # The schema documents are validated against (schema.graphql_schema), set once the app
        # has built it: validation results are cached by document alone.
        self.schema: GraphQLSchema | None = None
        self.checked: BoundedCache[str, Checked] = BoundedCache(1000, settings.cache_max_bytes)

    def parse(self, query: str, operation: str | None) -> DocumentNode:
        document = self.parsed.get(query)
        if document is None:
            if len(query) > self.max_chars:
                raise GraphQLError(
                    f"Syntax Error: the document is {len(query)} characters long; at most {self.max_chars} "
                    "are accepted (send large values as variables)"
                )
            document = parse(query, max_tokens=self.max_tokens)
            check_literals(document)
            self.parsed.put(query, document, document_weight(query, document))
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation is None and len(operations) > 1:
            raise GraphQLError(
                f"the document has {len(operations)} operations: send operationName to choose the one to run"
            )
        return document

    def check(self, schema: GraphQLSchema, query: str, document: DocumentNode) -> Checked:
        """The specification's rules (as Strawberry runs them), the server's and the static
        limits, once per document (cached): one walk for depth, aliases and cost."""
        checked = self.checked.get(query)
        if checked is None:
            try:
                check_widths(document)
            except GraphQLError as error:
                return Checked([error], False)
            errors = validate_document(schema, document, (*specified_rules, *self.rules))
            limit_errors, deferred = self.limits.errors(schema, document, None)
            errors = [*limit_errors, *errors]
            checked = Checked(errors, deferred and not errors)
            self.checked.put(query, checked, document_weight(query, document))
        return checked

    def validate(
        self,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> list[GraphQLError]:
        """`check`'s errors; a cost that depends on the variables is judged with this request's."""
        checked = self.check(schema, query, document)
        if checked.deferred:
            given = variables if isinstance(variables, dict) else {}
            return self.limits.errors(schema, document, given, operation_name)[0]
        return checked.errors


class DocumentGuard(SchemaExtension):
    """Strawberry's parse and validation steps through `Documents` (in place of its own
    ParserCache, ValidationCache, MaxTokensLimiter and limiters, whose caches count entries
    only and whose limiters expand every fragment spread)."""

    def __init__(self, documents: Documents) -> None:
        super().__init__()
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            context.graphql_document = self.documents.parse(context.query, context.operation_name)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is not None:
            assert self.documents.schema is not None, "the app sets the schema it validates against"
            context.pre_execution_errors = self.documents.validate(
                self.documents.schema,
                context.query,
                context.graphql_document,
                context.variables,
                context.operation_name,
            )
            if not context.pre_execution_errors:
                wrong = _wrong_transport(context)
                if wrong is not None:
                    context.pre_execution_errors = [GraphQLError(wrong)]
        yield


SUBSCRIPTIONS_OVER_HTTP = (
    "subscriptions run over a WebSocket on /graphql with the graphql-transport-ws protocol (README: Live updates)"
)
OPERATIONS_OVER_WEBSOCKET = "queries and mutations go over HTTP (POST /graphql); the WebSocket carries subscriptions"


def _wrong_transport(context: ExecutionContext) -> str | None:
    """Subscriptions only over a WebSocket (whose Context carries its events), and nothing else
    there: a query or mutation over HTTP gets the request limits, idempotency and the request log."""
    try:
        is_subscription = context.operation_type is OperationType.SUBSCRIPTION
    except Exception:  # no such operation: graphql-core says so when it executes
        return None
    over_websocket = getattr(context.context, "events", None) is not None
    if is_subscription and not over_websocket:
        return SUBSCRIPTIONS_OVER_HTTP
    if over_websocket and not is_subscription:
        return OPERATIONS_OVER_WEBSOCKET
    return None


def schema_extensions(documents: Documents) -> list[Callable[[], SchemaExtension]]:
    return [lambda: DocumentGuard(documents)]


# --- the request body -------------------------------------------------------------------------


class BodyLimit:
    """413 for a request body over `max_bytes`, whether it announces its length or streams."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except PayloadTooLarge:
            await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": f"the request body is larger than {self.max_bytes} bytes",
                        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                    }
                ]
            }
        ).encode()
        accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
        media_type = response_media_type(accept)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class PayloadTooLarge(Exception):
    """Raised from `receive` when a streamed body passes the limit; the app must let it through."""
