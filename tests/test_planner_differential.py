"""The planner (budgetline/planner.py) against graphql-core, on documents generated from the
schema: every answer byte for byte the same.

Documents come from hypothesis-graphql (every root field of Query, every type reachable from it,
inline fragments on interfaces and unions), then each is reshaped by a seeded `Reshape`: aliases,
named fragments (some spread twice), inline fragments on the type or an interface it implements,
`__typename`s, merged duplicate fields, arguments moved into variables (with and without
defaults, given or not), `first` mostly within its range and cursors mostly ones the API issued.
They run with five kinds of key (the account's manager and viewer, the account team, DELIVERY,
another account's manager) over own, foreign, unknown and malformed IDs of every node kind.

tests/test_planner.py holds hand-picked cases; this one is the net for what nobody thought of.
BUDGETLINE_DIFFERENTIAL_EXAMPLES sets how many documents (default 5,000). The planner runs in
strict mode here (tests/conftest.py): a document it fails on is a 500, and a mismatch."""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    build_schema,
    get_named_type,
    parse,
    print_ast,
    type_from_ast,
    value_from_ast,
)
from graphql.language import parse_type
from graphql.pyutils import Undefined
from graphql.utilities import ast_from_value
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries

from resolvers import ids as global_ids
from schema import schema
from tests.helpers import TODAY, Api

DOCUMENTS = int(os.environ.get("BUDGETLINE_DIFFERENTIAL_EXAMPLES", "5000"))
GRAPHQL = build_schema(schema.as_str())


def documents(count: int, ids: list[str], cache: Any = None) -> list[str]:
    """`count` documents, the same ones on every run (derandomized): generated once per schema
    and IDs (about 70 s for 5,000), then read from pytest's cache by the next pass."""
    key = "planner-differential/" + hashlib.sha256(f"{schema.as_str()}{count}{ids}".encode()).hexdigest()[:24]
    kept = cache.get(key, None) if cache is not None else None
    if kept is not None:
        return list(kept)
    found: list[str] = []
    scalars = {
        "ID": st.sampled_from(ids).map(nodes.String),
        "Decimal": st.just(nodes.String("1.00")),
        "Date": st.just(nodes.String(TODAY.isoformat())),
    }

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(query=queries(schema.as_str(), custom_scalars=scalars))
    def collect(query: str) -> None:
        found.append(query)

    collect()
    if cache is not None:
        cache.set(key, found)
    return found


@dataclass
class Reshape:
    """Rewrites one generated document into the shapes a real client sends."""

    rng: random.Random
    cursors: list[str]
    schema: GraphQLSchema = GRAPHQL
    fragments: list[FragmentDefinitionNode] = field(default_factory=list)
    definitions: list[VariableDefinitionNode] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)

    def document(self, query: str) -> tuple[str, dict[str, Any]]:
        document = parse(query)
        operation = document.definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        root = self.schema.query_type
        assert root is not None
        selection_set = self.selections(operation.selection_set, root)
        operation = OperationDefinitionNode(
            operation=operation.operation,
            name=NameNode(value="Q") if self.rng.random() < 0.5 else None,
            variable_definitions=tuple(self.definitions),
            directives=(),
            selection_set=selection_set,
        )
        reshaped = DocumentNode(definitions=(operation, *self.fragments))
        return print_ast(reshaped), self.variables

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType) -> SelectionSetNode:
        reshaped: list[Any] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                reshaped.append(self.field(selection, parent))
                if self.rng.random() < 0.05:  # the same field again: merged into one key
                    reshaped.append(reshaped[-1])
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                assert inner is not None
                reshaped.append(
                    InlineFragmentNode(
                        type_condition=condition,
                        directives=(),
                        selection_set=self.selections(selection.selection_set, inner),
                    )
                )
            else:
                reshaped.append(selection)
        if self.rng.random() < 0.1:
            reshaped.insert(self.rng.randrange(len(reshaped) + 1), FieldNode(name=NameNode(value="__typename")))
        result = SelectionSetNode(selections=tuple(reshaped))
        if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)) and parent.name != "Query":
            roll = self.rng.random()
            if roll < 0.12:
                return self.named_fragment(result, parent)
            if roll < 0.2:
                return self.inline_fragment(result, parent)
        return result

    def named_fragment(self, selection_set: SelectionSetNode, parent: GraphQLNamedType) -> SelectionSetNode:
        name = f"F{len(self.fragments)}"
        self.fragments.append(
            FragmentDefinitionNode(
                name=NameNode(value=name),
                type_condition=NamedTypeNode(name=NameNode(value=parent.name)),
                directives=(),
                selection_set=selection_set,
            )
        )
        spread = FragmentSpreadNode(name=NameNode(value=name), directives=())
        twice = (spread, spread) if self.rng.random() < 0.2 else (spread,)
        return SelectionSetNode(selections=twice)

    def inline_fragment(self, selection_set: SelectionSetNode, parent: GraphQLNamedType) -> SelectionSetNode:
        condition = parent.name
        interfaces = getattr(parent, "interfaces", ())
        if interfaces and self.rng.random() < 0.5:
            # On an interface the type implements: only the interface's fields may be selected.
            interface = self.rng.choice(interfaces)
            if all(self.on(s, interface) for s in selection_set.selections):
                condition = interface.name
        fragment = InlineFragmentNode(
            type_condition=NamedTypeNode(name=NameNode(value=condition)), directives=(), selection_set=selection_set
        )
        return SelectionSetNode(selections=(fragment,))

    @staticmethod
    def on(selection: Any, interface: GraphQLInterfaceType) -> bool:
        return isinstance(selection, FieldNode) and (
            selection.name.value == "__typename" or selection.name.value in interface.fields
        )

    def field(self, node: FieldNode, parent: GraphQLNamedType) -> FieldNode:
        definition = getattr(parent, "fields", {}).get(node.name.value)
        arguments = tuple(self.argument(a, definition) for a in node.arguments or ())
        alias = node.alias
        if alias is None and self.rng.random() < 0.15:
            alias = NameNode(value=f"a{self.rng.randrange(1000)}")
        selection_set = node.selection_set
        if selection_set is not None and definition is not None:
            selection_set = self.selections(selection_set, get_named_type(definition.type))
        return FieldNode(alias=alias, name=node.name, arguments=arguments, directives=(), selection_set=selection_set)

    def argument(self, argument: ArgumentNode, definition: Any) -> ArgumentNode:
        name = argument.name.value
        value: ValueNode = argument.value
        if name == "first":
            roll = self.rng.random()
            first = self.rng.randint(0, 4) if roll < 0.97 else self.rng.choice([-1, 101, 1000])
            value = IntValueNode(value=str(first))
        elif name == "after" and not isinstance(value, VariableNode):
            roll = self.rng.random()
            if roll < 0.45:
                value = StringValueNode(value=self.rng.choice(self.cursors))
            elif roll < 0.97:
                value = ast_from_value(None, definition.args[name].type) if definition else value  # type: ignore[assignment]
        if definition is not None and name in definition.args and self.rng.random() < 0.3:
            return self.variable(name, value, definition.args[name].type)
        return ArgumentNode(name=argument.name, value=value)

    def variable(self, name: str, value: ValueNode, type_: Any) -> ArgumentNode:
        """The argument as a variable: with its literal as default, as a given value, or both."""
        literal = value_from_ast(value, type_)
        if literal is Undefined:  # not a value of the type: it stays, and validation reports it
            return ArgumentNode(name=NameNode(value=name), value=value)
        variable = f"v{len(self.definitions)}"
        type_node = parse_type(str(type_))
        roll = self.rng.random()
        default = value if roll < 0.5 else None
        if roll >= 0.3:
            self.variables[variable] = literal
        self.definitions.append(
            VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=variable)),
                type=type_node,
                default_value=default,
                directives=(),
            )
        )
        assert type_from_ast(self.schema, type_node) is not None
        return ArgumentNode(name=NameNode(value=name), value=VariableNode(name=NameNode(value=variable)))


async def paths(client: Any) -> Counter[str]:
    """How the app ran its requests so far, from its own /metrics."""
    metrics = await client.get("/metrics", headers={"Authorization": "Bearer differential"})
    found = re.findall(r'^budgetline_execution_total\{path="(\w+)"\} ([0-9.e+]+)$', metrics.text, re.M)
    return Counter({path: int(float(value)) for path, value in found})


async def _every_kind(api: Api) -> tuple[list[str], list[str], list[str]]:
    """A world with a row of every kind and status: the IDs to ask for, cursors, and keys."""
    world, orders = await api.varied_worlds()
    delivery = await api.issue_key("DELIVERY", None, "ad server")
    spending = await world.published("900.00")
    day = {"campaignId": spending, "date": TODAY.isoformat(), "amount": "450.00"}
    await api.mutate("reportSpend", day, delivery)
    await api.mutate("endCampaign", {"campaignId": spending}, world.manager, select="... on Campaign { id }")
    await api.mutate("settleCampaign", {"campaignId": spending}, delivery)
    request = await api.mutate(
        "requestBudgetChange",
        {"budgetSourceId": world.source, "amount": "30000.00", "note": "more,\nplease"},
        world.manager,
        select="... on BudgetChangeRequest { id }",
    )
    await api.mutate(
        "amendOrder", {"orderId": world.order, "amount": "60000.00", "note": "top-up"}, select="... on Order { id }"
    )
    found = await api.gql(
        """query($id: ID!) { account(id: $id) {
             campaigns(first: 20) { edges { cursor node { id spend(first: 5) { edges { cursor node { id } } } } } }
             alerts { edges { cursor node { id } } } activity(first: 3) { edges { cursor node { id } } }
             budgetSources(includeInactive: true) { id allocations(first: 3) { edges { cursor node { id } } } } } }""",
        {"id": world.account},
    )
    account = found["account"]
    ids = [world.account, orders.account, world.order, orders.order, world.audience, orders.audience]
    ids += [request["id"], global_ids.encode("ApiKey", 1), "QWNjb3VudDo5OTk5OQ", "not an id", ""]
    cursors = ["bm9wZQ", "Y3Vyc29yOjA", "Y3Vyc29yOjk5OTk5OTk5OTk5OTk5OTk5"]
    for edge in account["campaigns"]["edges"]:
        ids.append(edge["node"]["id"])
        cursors.append(edge["cursor"])
        for day_edge in edge["node"]["spend"]["edges"]:
            ids.append(day_edge["node"]["id"])
            cursors.append(day_edge["cursor"])
    for listed in ("alerts", "activity"):
        for edge in account[listed]["edges"]:
            ids.append(edge["node"]["id"])
            cursors.append(edge["cursor"])
    for source in account["budgetSources"]:
        ids.append(source["id"])
        for edge in source["allocations"]["edges"]:
            ids.append(edge["node"]["id"])
    keys = [world.manager, world.viewer, api.team_secret, delivery, orders.manager]
    return ids, cursors, keys


async def test_planned_queries_answer_exactly_as_graphql_core(
    api: Api, make_client: Any, pytestconfig: pytest.Config
) -> None:
    ids, cursors, keys = await _every_kind(api)
    planned = await make_client(metrics_token="differential")
    general = await make_client(planner=False)
    before = await paths(planned)
    mismatches = []
    for number, query in enumerate(documents(DOCUMENTS, ids, pytestconfig.cache)):
        rng = random.Random(number)
        document, variables = Reshape(rng, cursors).document(query)
        body = {"query": document, "variables": variables}
        headers = {"Authorization": f"Bearer {rng.choice(keys)}"}
        fast = await planned.post("/graphql", json=body, headers=headers)
        slow = await general.post("/graphql", json=body, headers=headers)
        assert fast.status_code < 500, (document, variables, fast.text)
        if (fast.status_code, fast.content) != (slow.status_code, slow.content):
            mismatches.append((document, variables, fast.text[:2000], slow.text[:2000]))
    ran = await paths(planned) - before
    print(f"differential: {DOCUMENTS} documents, {dict(ran)} (planned / handed over / general)")
    assert mismatches == []
    # The net catches plans, not only hand-overs: of the documents that pass validation and the
    # limits (planned or handed over), at least 80 % are planned.
    assert ran["planned"] >= 0.8 * (ran["planned"] + ran["handover"]), ran
    assert ran["planned"] >= DOCUMENTS // 4, ran
