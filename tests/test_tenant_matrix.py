"""R8, generated from the schema: for every query field and mutation input that takes an ID,
another account's ID behaves exactly like an unknown one (and changes nothing)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLNonNull, GraphQLScalarType, get_named_type

from resolvers import ids
from schema import graphql_schema, schema
from tests.helpers import TODAY, Api, snapshot

GRAPHQL = graphql_schema(schema)  # graphql-core's schema, from Strawberry's public SDL

# What each ID field names. A new ID field fails test_every_id_field_is_known until it is added here.
ID_FIELDS = {
    "accountId": "Account",
    "campaignId": "Campaign",
    "audienceId": "Audience",
    "orderId": "Order",
    "budgetSourceId": "PurchaseOrder",
    "apiKeyId": "ApiKey",
    "alertId": "BudgetAlert",
    "purchaseOrderId": "PurchaseOrder",
    "requestId": "BudgetChangeRequest",
}
UNKNOWN_PK = 987654


def mutation_inputs() -> list[tuple[str, GraphQLInputObjectType]]:
    mutation = GRAPHQL.mutation_type
    assert mutation is not None
    found = []
    for name, field in mutation.fields.items():
        input_type = get_named_type(field.args["input"].type)
        assert isinstance(input_type, GraphQLInputObjectType)
        found.append((name, input_type))
    return found


def id_fields(input_type: GraphQLInputObjectType) -> list[str]:
    return [n for n, f in input_type.fields.items() if get_named_type(f.type).name == "ID"]


def test_every_id_field_is_known() -> None:
    for _, input_type in mutation_inputs():
        for name in id_fields(input_type):
            assert name in ID_FIELDS, f"add {input_type.name}.{name} to ID_FIELDS"


def filler(input_type: GraphQLInputObjectType, own: dict[str, str]) -> dict[str, Any]:
    """A valid-looking input: own IDs, and a plain value for every other required field."""
    values: dict[str, Any] = {}
    for name, field in input_type.fields.items():
        named = get_named_type(field.type)
        if name in ID_FIELDS:
            values[name] = own[ID_FIELDS[name]]
        elif not isinstance(field.type, GraphQLNonNull) and named.name != "Decimal":
            continue  # optional, but an amount: so that "ask for something" rules pass before the lookup
        elif isinstance(named, GraphQLEnumType):
            values[name] = next(iter(named.values))
        elif isinstance(named, GraphQLScalarType):
            values[name] = {
                "String": "Tenant test",
                "Decimal": "10.00",
                "Date": (TODAY + timedelta(1)).isoformat(),
                "Boolean": False,
                "Int": 1,
            }[named.name]
    return values


@pytest.fixture
async def tenants(api: Api) -> tuple[dict[str, str], dict[str, str], str]:
    ours, theirs = await api.world(name="Acme"), await api.world(name="Globex")

    def objects(world: Any, campaign: str) -> dict[str, str]:
        return {
            "Account": world.account,
            "Campaign": campaign,
            "Audience": world.audience,
            "Order": world.order,
            "PurchaseOrder": world.po,
        }

    mine = objects(ours, str((await ours.draft())["id"]))
    other = objects(theirs, str((await theirs.draft())["id"]))
    for world, objs in ((ours, mine), (theirs, other)):
        await world.published("6000.00")  # 60 % of the PO: one alert
        alerts = "query($id: ID!) { node(id: $id) { ... on Account { alerts { edges { node { id } } } } } }"
        edges = (await api.gql(alerts, {"id": world.account}))["node"]["alerts"]["edges"]
        objs["BudgetAlert"] = edges[0]["node"]["id"]
        asked = await api.mutate(
            "requestBudgetChange",
            {"budgetSourceId": world.po, "amount": "11000.00", "note": "tenant test"},
            world.manager,
            select="... on BudgetChangeRequest { id }",
        )
        objs["BudgetChangeRequest"] = asked["id"]
    other_key = await api.mutate(
        "issueApiKey", {"name": "k", "role": "VIEWER", "accountId": theirs.account}, select="... on ApiKey { id }"
    )
    mine["ApiKey"] = other["ApiKey"] = str(other_key["id"])
    return mine, other, ours.manager


async def test_mutation_inputs(api: Api, db: asyncpg.Connection, tenants: Any) -> None:
    mine, other, key = tenants
    checked = 0
    for name, input_type in mutation_inputs():
        for field in id_fields(input_type):
            type_name = ID_FIELDS[field]
            base = filler(input_type, mine)
            before = await snapshot(db)
            theirs = await api.mutate(name, {**base, field: other[type_name]}, key, " ", input_type.name)
            unknown = await api.mutate(
                name, {**base, field: ids.encode(type_name, UNKNOWN_PK)}, key, " ", input_type.name
            )
            assert theirs == unknown, (name, field, theirs, unknown)
            assert theirs["__typename"] in ("NotFoundError", "PermissionDeniedError"), (name, field, theirs)
            assert await snapshot(db) == before, (name, field)
            checked += 1
    assert checked >= 14


async def test_query_fields_taking_an_id(api: Api, tenants: Any) -> None:
    mine, other, key = tenants
    query_type = GRAPHQL.query_type
    assert query_type is not None
    checked = 0
    for name, field in query_type.fields.items():
        if "id" not in field.args:
            continue
        for type_name in ("Account", "Campaign", "Audience", "Order", "PurchaseOrder", "ApiKey"):
            query = f"query($id: ID!) {{ result: {name}(id: $id) {{ __typename }} }}"
            theirs = await api.gql(query, {"id": other[type_name]}, key)
            unknown = await api.gql(query, {"id": ids.encode(type_name, UNKNOWN_PK)}, key)
            assert theirs == unknown == {"result": None}, (name, type_name)
            mine_result = await api.gql(query, {"id": mine[type_name]}, key)
            if name == "node" and type_name != "ApiKey":
                assert mine_result["result"] is not None
            checked += 1
    assert checked == 12
