"""Compiled read queries: the hot reads answered without graphql-core's field-by-field execution.

The first time a document arrives it is parsed and validated as the general path does it (the
same token limit, the specification's rules and the server's own). If the operation is a query
made only of the fields this module knows (the drop-down `account { budgetSources }` and the
campaign list `account { campaigns }`, with any of their scalar fields, aliases and fragments;
see `Compiler`), it becomes a tree of small functions, cached by document. Each request then
runs that tree: the same reads and rules as the resolvers (resolvers/*: visibility, the
drop-down filter, pagination, status, display name), as plain-SQL records (db/reads.py) on the
request's connection: the account with its sources in one statement, a campaign page and one
statement per kind of related row; the response is built as a dict and encoded as the view does.

Whatever is off that path goes to the general path, which answers it as it always has: a
document with other fields or directives, a variable that does not coerce, a bad cursor or
`first`, a non-null value missing. Reads only, so nothing has to be undone first.
tests/test_compiled.py holds both paths to byte-identical responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationType,
    SelectionNode,
    get_operation_ast,
    is_abstract_type,
    located_error,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.types import ExecutionResult

from budgetline.limits import BoundedCache, Documents, document_weight
from budgetline.observability import operation_label
from db.reads import Record
from resolvers import accounts, audiences, budget_sources, campaigns, ids
from resolvers.context import Context
from resolvers.errors import UserError
from resolvers.pagination import Page
from schema.enums import BudgetSourceStatus, CampaignEndReason, CampaignField, CampaignStatus, CampaignStep


class Fallback(Exception):  # a signal, not a failure
    """This request is not answered here: the general path answers it."""


class Unsupported(Exception):
    """Compile time: the document uses something the compiled path does not cover."""


@dataclass
class Run:
    """One request's state: its context, its coerced variables, the rows prefetched for lists."""

    ctx: Context
    variables: VariableValues
    account: Record | None = None
    sources_of_account: list[Record] = field(default_factory=list)
    sources: dict[tuple[str, int], Record] = field(default_factory=dict)
    audiences: dict[int, Record] = field(default_factory=dict)


Field = Callable[[Any, Run], Any]  # (parent value, run) -> the JSON value of the field
AsyncField = Callable[[Any, Run], Awaitable[Any]]
Fields = list[tuple[str, Field]]


def _build(fields: Fields, value: Any, run: Run) -> dict[str, Any]:
    return {key: resolve(value, run) for key, resolve in fields}


# --- leaves: the value each Strawberry type would hold, from a record --------------------
# (schema/types.py builds the same values from ORM rows; the schema's serializers finish both.)

Getter = Callable[[Any, Run], Any]


class _Column:
    """A leaf read straight from a record's column; with `convert` (an enum: a small domain),
    its serialized value is cached per raw value."""

    __slots__ = ("convert", "name")

    def __init__(self, name: str, convert: Callable[[Any], Any] | None = None) -> None:
        self.name = name
        self.convert = convert

    def __call__(self, record: Any, _run: Run) -> Any:
        value = record[self.name]
        return value if self.convert is None or value is None else self.convert(value)


def _column(name: str, convert: Callable[[Any], Any] | None = None) -> Getter:
    return _Column(name, convert)


def _selectable(source: Record, run: Run) -> bool:
    account = run.account
    if account is None or source["account_id"] != account["id"]:
        raise Fallback  # judged against another account: leave it to the general path
    return budget_sources.record_selectable(source, account["requires_purchase_order"])


SOURCE_LEAVES: dict[str, Getter] = {
    "id": lambda s, _: ids.encode(s["kind"], s["id"]),
    "orderNumber": _column("order_number"),
    "purchaseOrderNumber": _column("po_number"),
    "displayName": lambda s, _: budget_sources.display_name_of(s["order_number"], s["po_number"]),
    "amount": _column("amount"),
    "currency": _column("currency"),
    "allocatedAmount": _column("allocated_amount"),
    "unallocatedAmount": lambda s, _: budget_sources.unallocated_of(s["amount"], s["allocated_amount"]),
    "draftAmount": _column("draft_amount"),
    "spentAmount": _column("spent_amount"),
    "pendingReleaseAmount": _column("pending_release_amount"),
    "startDate": _column("start_date"),
    "endDate": _column("end_date"),
    "status": lambda s, _: BudgetSourceStatus(budget_sources.record_status(s)),
    "selectable": _selectable,
    "allocatedPercent": lambda s, _: budget_sources.percent_of(s["allocated_amount"], s["amount"]),
    "spentPercent": lambda s, _: budget_sources.percent_of(s["spent_amount"], s["amount"]),
    "daysLeft": lambda s, _: budget_sources.days_left_of(s["end_date"]),
}

LEAVES: dict[str, dict[str, Getter]] = {
    "Account": {
        "id": lambda a, _: ids.encode("Account", a["id"]),
        "name": _column("name"),
        "requiresPurchaseOrder": _column("requires_purchase_order"),
    },
    "PurchaseOrder": SOURCE_LEAVES,
    "Order": SOURCE_LEAVES,
    "Campaign": {
        "id": lambda c, _: ids.encode("Campaign", c["id"]),
        "name": _column("name"),
        "status": _column("status", CampaignStatus),
        "step": _column("step", CampaignStep),
        "budget": _column("budget"),
        "startDate": _column("start_date"),
        "endDate": _column("end_date"),
        "lockedFields": lambda c, _: [CampaignField(f) for f in campaigns.locked_fields_of(c["status"])],
        "version": _column("version"),
        "publishedAt": _column("published_at"),
        "createdAt": _column("created_at"),
        "updatedAt": _column("updated_at"),
        "spentAmount": _column("spent_amount"),
        "remainingAmount": lambda c, _: campaigns.remaining_of(c["budget"], c["spent_amount"]),
        "releasedAmount": _column("released_amount"),
        "pausedAt": _column("paused_at"),
        "endedAt": _column("ended_at"),
        "endReason": _column("end_reason", CampaignEndReason),
        "settledAt": _column("settled_at"),
    },
    "Audience": {"id": lambda a, _: ids.encode("Audience", a["id"]), "name": _column("name")},
    # A connection's parts, over the Page and its (cursor, record) pairs.
    "PageInfo": {
        "hasNextPage": lambda p, _: p.has_next_page,
        "hasPreviousPage": lambda p, _: p.has_previous_page,
        "startCursor": lambda p, _: p.start_cursor,
        "endCursor": lambda p, _: p.end_cursor,
    },
    "CampaignEdge": {"cursor": lambda e, _: e[0]},
}


def _leaf(getter: Getter, type_: GraphQLOutputType) -> Field:
    """Serialize with the schema's own scalar and enum serializers, as graphql-core does."""
    non_null = isinstance(type_, GraphQLNonNull)
    inner: Any = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    serialize: Callable[[Any], Any]
    if isinstance(inner, GraphQLList):
        item: Any = inner.of_type.of_type if isinstance(inner.of_type, GraphQLNonNull) else inner.of_type
        serialize_item = item.serialize

        def serialize(value: Any) -> Any:
            return [serialize_item(v) for v in value]
    else:
        serialize = inner.serialize

    if isinstance(getter, _Column) and getter.convert is not None:
        return _memoized(getter, serialize, non_null)
    if isinstance(getter, _Column):
        column = getter.name
        text = inner in (GraphQLString, GraphQLID)

        def read(value: Any, _run: Run) -> Any:
            result = value[column]
            if result is None:
                if non_null:
                    raise Fallback
                return None
            if text and type(result) is str:
                return result  # what serialize_string/serialize_id return for a str
            return serialize(result)

        return read

    def resolve(value: Any, run: Run) -> Any:
        result = getter(value, run)
        if result is None:
            if non_null:
                raise Fallback
            return None
        return serialize(result)

    return resolve


def _memoized(getter: _Column, serialize: Callable[[Any], Any], non_null: bool) -> Field:
    serialized: dict[Any, Any] = {}
    column = getter.name

    def resolve(value: Any, run: Run) -> Any:
        raw = value[column]
        if raw in serialized:
            return serialized[raw]
        result = getter(value, run)
        if result is None:
            if non_null:
                raise Fallback
            return None
        serialized[raw] = serialize(result)
        return serialized[raw]

    return resolve


# --- compiling a document ------------------------------------------------------------------


@dataclass
class Plan:
    schema: GraphQLSchema
    variable_definitions: Any
    root: list[tuple[str, list[FieldNode], AsyncField]]
    label: str
    name: str | None = None  # the operation's own name, for its trace span

    async def execute(self, ctx: Context, variables: dict[str, Any] | None) -> ExecutionResult:
        coerced = get_variable_values(self.schema, self.variable_definitions, variables or {})
        if isinstance(coerced, list):
            raise Fallback  # the general path reports the variable errors
        run = Run(ctx, coerced)
        data: dict[str, Any] = {}
        errors: list[GraphQLError] = []
        for key, nodes, resolve in self.root:
            try:
                data[key] = await resolve(None, run)
            except (Fallback, UserError):
                raise Fallback from None
            except Exception as exc:
                # As graphql-core reports a resolver's failure: the nullable root field is null.
                data[key] = None
                errors.append(located_error(exc, nodes, [key]))
        return ExecutionResult(data=data, errors=errors or None)


class Compiler:
    """Compiles one operation; raises Unsupported for anything outside the fields below."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
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

    def object(self, type_name: str, nodes: list[FieldNode], special: dict[str, Callable[..., Field]]) -> Fields:
        """The fields of an object held as a record: leaves from LEAVES, others from `special`."""
        type_ = _object_type(self.schema, type_name)
        fields: Fields = []
        for key, group in self.collect(type_, nodes).items():
            name = group[0].name.value
            if name == "__typename":
                fields.append((key, _typename(type_name)))
            elif name in LEAVES.get(type_name, {}):
                self.uses_selectable |= name == "selectable"  # judged against the account's row
                fields.append((key, _leaf(LEAVES[type_name][name], type_.fields[name].type)))
            elif name in special:
                fields.append((key, special[name](type_.fields[name], group)))
            else:
                raise Unsupported
        return fields

    # Object-valued fields, each compiled into a Field over its parent's value.

    def source(self, nodes: list[FieldNode]) -> Field:
        """A BudgetSource (interface): one field list per concrete type."""
        by_kind = {kind: self.object(kind, nodes, {}) for kind in ("PurchaseOrder", "Order")}
        return lambda source, run: _build(by_kind[source["kind"]], source, run)

    def campaign(self, nodes: list[FieldNode]) -> tuple[Fields, set[str]]:
        """A Campaign's fields, and which related rows they need prefetched for the page."""
        wanted: set[str] = set()

        def related(name: str, key: Callable[[Record], tuple[str, int] | None], build: Field) -> Field:
            wanted.add(name)

            def resolve(campaign: Record, run: Run) -> Any:
                found = key(campaign)
                if found is None:
                    return None
                if found not in run.sources:
                    raise Fallback
                return build(run.sources[found], run)

            return resolve

        def budget_source(_f: GraphQLField, group: list[FieldNode]) -> Field:
            return related("budgetSource", _source_key, self.source(group))

        def order(_f: GraphQLField, group: list[FieldNode]) -> Field:
            fields = self.object("Order", group, {})
            return related("order", _order_key, lambda o, run: _build(fields, o, run))

        def purchase_order(_f: GraphQLField, group: list[FieldNode]) -> Field:
            fields = self.object("PurchaseOrder", group, {})
            return related("purchaseOrder", _purchase_order_key, lambda p, run: _build(fields, p, run))

        def currency(f: GraphQLField, _group: list[FieldNode]) -> Field:
            return related("order", _order_key, _leaf(_column("currency"), f.type))

        def audience(_f: GraphQLField, group: list[FieldNode]) -> Field:
            wanted.add("audience")
            fields = self.object("Audience", group, {})

            def resolve(campaign: Record, run: Run) -> Any:
                if campaign["audience_id"] is None:
                    return None
                if campaign["audience_id"] not in run.audiences:
                    raise Fallback
                return _build(fields, run.audiences[campaign["audience_id"]], run)

            return resolve

        special = {
            "budgetSource": budget_source,
            "order": order,
            "purchaseOrder": purchase_order,
            "currency": currency,
            "audience": audience,
        }
        return self.object("Campaign", nodes, special), wanted

    def campaign_connection(self, definition: GraphQLField, nodes: list[FieldNode]) -> AsyncField:
        wanted: set[str] = set()
        total = False

        def edges(_f: GraphQLField, group: list[FieldNode]) -> Field:
            def node(_f: GraphQLField, node_group: list[FieldNode]) -> Field:
                fields, asked = self.campaign(node_group)
                wanted.update(asked)
                return lambda edge, run: _build(fields, edge[1], run)

            fields = self.object("CampaignEdge", group, {"node": node})
            return lambda c, run: [_build(fields, edge, run) for edge in zip(c.page.cursors, c.page.items, strict=True)]

        def page_info(_f: GraphQLField, group: list[FieldNode]) -> Field:
            fields = self.object("PageInfo", group, {})
            return lambda c, run: _build(fields, c.page, run)

        def total_count(_f: GraphQLField, _group: list[FieldNode]) -> Field:
            nonlocal total
            total = True
            return lambda c, _run: c.total

        fields = self.object(
            "CampaignConnection", nodes, {"edges": edges, "pageInfo": page_info, "totalCount": total_count}
        )
        node = nodes[0]

        async def resolve(account: Record, run: Run) -> Any:
            args = get_argument_values(definition, node, run.variables)
            first = 20 if args.get("first") is None else args["first"]
            status = args.get("status")
            page: Page[Record] = await campaigns.page_records_of_account(
                run.ctx, account["id"], first, args.get("after"), status.value if isinstance(status, Enum) else status
            )
            items = page.items
            # One statement per kind of row the selected fields need (as campaigns.prefetch).
            purchase_order_ids = {
                c["purchase_order_id"]
                for c in items
                if c["purchase_order_id"] is not None and wanted & {"budgetSource", "purchaseOrder"}
            }
            order_ids = {
                c["order_id"]
                for c in items
                if c["order_id"] is not None
                and ("order" in wanted or ("budgetSource" in wanted and c["purchase_order_id"] is None))
            }
            if purchase_order_ids or order_ids:
                run.sources.update(await budget_sources.records_by_ids(run.ctx, purchase_order_ids, order_ids))
            if "audience" in wanted:
                ids_ = {c["audience_id"] for c in items if c["audience_id"] is not None}
                run.audiences.update(await audiences.records_by_ids(run.ctx, ids_))
            return _build(fields, _Connection(page, await page.count() if total else None), run)

        return resolve

    def account(self, definition: GraphQLField, nodes: list[FieldNode]) -> AsyncField:
        with_sources = False

        def budget_sources_field(f: GraphQLField, group: list[FieldNode]) -> Field:
            nonlocal with_sources
            with_sources = True  # read with the account, in one statement
            build = self.source(group)
            node = group[0]

            def resolve(account: Record, run: Run) -> Any:
                args = get_argument_values(f, node, run.variables)
                rows = budget_sources.dropdown(
                    run.sources_of_account,
                    account["requires_purchase_order"],
                    include_inactive=bool(args.get("includeInactive")),
                )
                return [build(r, run) for r in rows]

            return resolve

        def campaigns_field(f: GraphQLField, group: list[FieldNode]) -> Field:
            return _deferred(self.campaign_connection(f, group))

        fields = self.object("Account", nodes, {"budgetSources": budget_sources_field, "campaigns": campaigns_field})
        # Only its id and its campaigns: for the key's own account there is nothing to read.
        asked = {group[0].name.value for group in self.collect(_object_type(self.schema, "Account"), nodes).values()}
        without_row = asked <= {"__typename", "id", "campaigns"} and not self.uses_selectable
        node = nodes[0]

        async def resolve(_root: Any, run: Run) -> Any:
            args = get_argument_values(definition, node, run.variables)
            decoded = ids.decode(args["id"])
            if decoded is None or decoded[0] != "Account":
                return None
            if with_sources:
                account, run.sources_of_account = await accounts.visible_record_with_sources(run.ctx, decoded[1])
            elif without_row and accounts.is_own(run.ctx, decoded[1]):
                account = {"id": decoded[1]}
            else:
                account = await accounts.visible_record(run.ctx, decoded[1])
            if account is None:
                return None
            run.account = account
            result: dict[str, Any] = {}
            for key, resolve_field in fields:
                value = resolve_field(account, run)
                if isinstance(value, _Deferred):
                    value = await value.resolve(account, run)
                result[key] = value
            return result

        return resolve

    def root(self, operation: Any) -> list[tuple[str, list[FieldNode], AsyncField]]:
        query = self.schema.query_type
        assert query is not None
        root: list[tuple[str, list[FieldNode], AsyncField]] = []
        for key, group in self.collect(query, [operation]).items():
            name = group[0].name.value
            if name == "account":
                root.append((key, group, self.account(query.fields["account"], group)))
            elif name == "__typename":
                root.append((key, group, _constant("Query")))
            else:
                raise Unsupported
        return root


@dataclass
class _Connection:
    page: Page[Record]
    total: int | None


class _Deferred:
    """An Account field that reads the database: awaited by the account, in field order."""

    __slots__ = ("resolve",)

    def __init__(self, resolve: AsyncField) -> None:
        self.resolve = resolve


def _deferred(resolve: AsyncField) -> Field:
    deferred = _Deferred(resolve)
    return lambda _account, _run: deferred


def _object_type(schema: GraphQLSchema, name: str) -> GraphQLObjectType:
    type_ = schema.get_type(name)
    assert isinstance(type_, GraphQLObjectType)
    return type_


def _typename(name: str) -> Field:
    return lambda _value, _run: name


def _constant(value: Any) -> AsyncField:
    async def resolve(_parent: Any, _run: Run) -> Any:
        return value

    return resolve


def _order_key(campaign: Record) -> tuple[str, int] | None:
    return ("Order", campaign["order_id"]) if campaign["order_id"] is not None else None


def _purchase_order_key(campaign: Record) -> tuple[str, int] | None:
    if campaign["purchase_order_id"] is not None:
        return ("PurchaseOrder", campaign["purchase_order_id"])
    return None


def _source_key(campaign: Record) -> tuple[str, int] | None:
    if campaign["purchase_order_id"] is not None:
        return ("PurchaseOrder", campaign["purchase_order_id"])
    if campaign["order_id"] is not None:
        return ("Order", campaign["order_id"])
    return None


class CompiledQueries:
    """Plans by (document, operation name), compiled on first sight; None: the general path.
    Documents are parsed and validated by the general path's own `Documents` (the same caches,
    rules and limits), and plans are kept in an LRU bounded in bytes."""

    def __init__(self, schema: GraphQLSchema, documents: Documents, max_bytes: int) -> None:
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
            root = Compiler(self.schema, document).root(operation)
        except Unsupported:
            return False, weight
        label = operation_label(document, operation_name) or "query:-"
        name = operation.name.value if operation.name else None
        return Plan(self.schema, operation.variable_definitions or (), root, label, name), weight
