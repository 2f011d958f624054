"""Which fields the compiled path runs (budgetline/compiled.py), decided from the schema: every
field of every type reachable from `account(id:)` is either compiled or listed in EXCLUDED with
why. A field added to one of these types, or a type newly reachable, fails here until it is
one or the other, so nothing leaves the fast path unnoticed. (Whether a compiled field answers
as graphql-core does is tests/test_compiled_differential.py's job.)"""

from __future__ import annotations

from graphql import GraphQLInterfaceType, GraphQLObjectType, get_named_type, parse

from budgetline.compiled import Compiler, Unsupported, root_fields
from schema import schema

# How a document reaches each type from the root: `%s` is the selection on it.
CAMPAIGN = "campaigns { edges { node { %s } } }"
PATHS = {
    "Account": "%s",
    "PurchaseOrder": "budgetSources { ... on PurchaseOrder { %s } }",
    "Order": "budgetSources { ... on Order { %s } }",
    "AlertSettings": "alertSettings { %s }",
    "CampaignConnection": "campaigns { %s }",
    "CampaignEdge": "campaigns { edges { %s } }",
    "PageInfo": "campaigns { pageInfo { %s } }",
    "Campaign": CAMPAIGN,
    "Audience": CAMPAIGN % "audience { %s }",
}

# Fields whose resolvers read the database as they go (async): graphql-core answers documents
# that ask for them.
EXCLUDED = {
    ("Account", "orders"),
    ("Account", "purchaseOrders"),
    ("Account", "audiences"),
    ("Account", "alerts"),
    ("Account", "changeRequests"),
    ("Account", "activity"),
    ("Campaign", "spend"),
    ("Campaign", "account"),
    *(
        (kind, name)
        for kind in ("Order", "PurchaseOrder")
        for name in ("campaigns", "allocations", "amendments", "changeRequests", "account")
    ),
    ("Order", "purchaseOrders"),
}


def compiles(type_name: str, selection: str) -> bool:
    document = parse("query($id: ID!) { account(id: $id) { " + PATHS[type_name] % selection + " } }")
    graphql_schema = schema._schema
    try:
        root_fields(Compiler(schema, graphql_schema, document), document.definitions[0])
    except Unsupported:
        return False
    return True


def test_every_reachable_field_is_compiled_or_excluded() -> None:
    graphql_schema = schema._schema
    compiled: set[tuple[str, str]] = set()
    excluded: set[tuple[str, str]] = set()
    reached: set[str] = set()
    for type_name in PATHS:
        type_ = graphql_schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType), type_name
        for name, field in type_.fields.items():
            target = get_named_type(field.type)
            composite = isinstance(target, (GraphQLObjectType, GraphQLInterfaceType))
            if compiles(type_name, name + (" { __typename }" if composite else "")):
                compiled.add((type_name, name))
                if composite:
                    reached |= {t.name for t in graphql_schema.get_possible_types(target)} | {target.name}
            else:
                excluded.add((type_name, name))
    assert excluded == EXCLUDED
    # Every type a compiled field leads to has a path here, so its own fields are checked too.
    assert reached - {"BudgetSource"} <= PATHS.keys(), reached - PATHS.keys()
    # The two hot reads' shapes are among them, as are the campaign's related objects.
    assert {("Account", "budgetSources"), ("Account", "campaigns"), ("Campaign", "budgetSource")} <= compiled
    assert {("Campaign", "audience"), ("PurchaseOrder", "order"), ("PurchaseOrder", "selectable")} <= compiled


def test_a_field_no_path_covers_is_not_compiled() -> None:
    # The net is real: a root field the compiled path does not run makes the document unsupported.
    document = parse("{ viewer { role } }")
    try:
        root_fields(Compiler(schema, schema._schema, document), document.definitions[0])
    except Unsupported:
        return
    raise AssertionError("Query.viewer compiled")
