"""API.md §2: amounts are exact two-digit decimals; anything else is refused and changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from schema.scalars import parse_money, serialize_money
from tests.helpers import TODAY, Api, iso, snapshot


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12500", "12500.00"),
        ("12500.5", "12500.50"),
        ("0.01", "0.01"),
        (42, "42.00"),
        ("999999999999.99", "999999999999.99"),
    ],
)
def test_accepted_amounts(value: Any, expected: str) -> None:
    assert serialize_money(parse_money(value)) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0.1, "floats are refused"),
        (12.5, "floats are refused"),
        ("1e3", "not an amount"),
        ("NaN", "not an amount"),
        ("Infinity", "not an amount"),
        ("1.234", "not an amount"),
        ("1,5", "not an amount"),
        ("", "not an amount"),
        ("1000000000000", "12 integer digits"),
        (True, "floats are refused"),
        (None, "floats are refused"),
    ],
)
def test_refused_amounts(value: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_money(value)


def test_serialised_with_exactly_two_digits() -> None:
    assert serialize_money(Decimal("7")) == "7.00"
    assert serialize_money(Decimal("-650.5")) == "-650.50"


CREATE_ORDER = """mutation($input: CreateOrderInput!) { createOrder(input: $input) {
  __typename ... on Order { amount } ... on UserError { code message field } } }"""


def order_input(account: str, amount: Any) -> dict[str, Any]:
    return {
        "accountId": account,
        "orderNumber": "Q-1",
        "amount": amount,
        "currency": "USD",
        "startDate": iso(TODAY),
        "endDate": iso(TODAY),
    }


@pytest.mark.parametrize("amount", [0.1, 100.5, "1e3", "NaN", "1.005", "-", "1000000000000.00", [1], {"a": 1}])
async def test_unparseable_amount_variable_is_bad_user_input(api: Api, db: asyncpg.Connection, amount: Any) -> None:
    account = await api.create_account("Acme", False)
    before = await snapshot(db)
    response = await api.post(CREATE_ORDER, {"input": order_input(account, amount)})
    body = response.json()
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at .amount" in error["message"]  # names the field
    assert "Traceback" not in response.text
    assert await snapshot(db) == before


@pytest.mark.parametrize("literal", ["0.1", '"1e3"', '"12.345"', "true"])
async def test_unparseable_amount_literal_is_bad_user_input(api: Api, db: asyncpg.Connection, literal: str) -> None:
    account = await api.create_account("Acme", False)
    before = await snapshot(db)
    query = f"""mutation {{ createOrder(input: {{accountId: "{account}", orderNumber: "Q-1", amount: {literal},
      currency: "USD", startDate: "{iso(TODAY)}", endDate: "{iso(TODAY)}"}}) {{ __typename }} }}"""
    body = (await api.post(query)).json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["message"].startswith("input.amount: "), error
    assert await snapshot(db) == before


@pytest.mark.parametrize("amount", ["0", "-5.00", 0, -1])
async def test_zero_and_negative_amounts_are_invalid_input(api: Api, db: asyncpg.Connection, amount: Any) -> None:
    account = await api.create_account("Acme", False)
    before = await snapshot(db)
    result = (await api.gql(CREATE_ORDER, {"input": order_input(account, amount)}))["createOrder"]
    assert result == {
        "__typename": "ValidationError",
        "code": "INVALID_INPUT",
        "field": "amount",
        "message": "amount must be greater than 0",
    }
    assert await snapshot(db) == before


async def test_campaign_budget_must_be_positive(api: Api, db: asyncpg.Connection) -> None:
    world = await api.world()
    campaign = (await world.draft())["id"]
    before = await snapshot(db)
    result = await api.mutate("updateCampaign", {"campaignId": campaign, "budget": "0.00"}, world.manager)
    assert (result["__typename"], result["code"], result["field"]) == ("ValidationError", "INVALID_INPUT", "budget")
    assert await snapshot(db) == before


async def test_amounts_are_stored_as_numeric(api: Api, db: asyncpg.Connection) -> None:
    account = await api.create_account("Acme", False)
    result = (await api.gql(CREATE_ORDER, {"input": order_input(account, "1234567.8")}))["createOrder"]
    assert result == {"__typename": "Order", "amount": "1234567.80"}
    assert await db.fetchval("SELECT amount FROM orders") == Decimal("1234567.80")
    assert (
        await db.fetchval(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'amount'"
        )
        == "numeric"
    )


async def test_currency_must_be_iso_4217(api: Api, db: asyncpg.Connection) -> None:
    account = await api.create_account("Acme", False)
    before = await snapshot(db)
    body = await api.gql(CREATE_ORDER, {"input": {**order_input(account, "10"), "currency": "XYZ"}})
    assert body["createOrder"]["code"] == "INVALID_INPUT" and body["createOrder"]["field"] == "currency"
    assert await snapshot(db) == before
